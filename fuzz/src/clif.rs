//! The CLIF optimization target: text in, every function that parses and
//! verifies is optimized by Saturn; the output must verify (`optimize`
//! checks it) and compute what the input computes on a few argument
//! vectors, in cranelift-interpreter. Inputs that do not parse or verify
//! are rejected, never a panic (a panic inside Cranelift's reader counts
//! as not parsing).

use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::{types, Function};
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState};
use cranelift_interpreter::step::ControlFlow;

/// What happened to one input.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not UTF-8, did not parse, or no function verified.
    Rejected,
    /// This many functions were optimized and compared.
    Checked(usize),
}

fn flags() -> Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").expect("known setting");
    b.set("preserve_frame_pointers", "true")
        .expect("known setting");
    Flags::new(b)
}

/// Runs `f` on `args`; `None` when the interpreter cannot (traps, calls,
/// memory, fuel).
fn run(f: &Function, args: &[DataValue]) -> Option<Vec<DataValue>> {
    let mut store = FunctionStore::default();
    store.add(f.name.to_string(), f);
    let state = InterpreterState::default().with_function_store(store);
    let mut it = Interpreter::new(state).with_fuel(Some(10_000));
    match it.call_by_name(&f.name.to_string(), args) {
        Ok(ControlFlow::Return(v)) => Some(v.to_vec()),
        _ => None,
    }
}

/// True when the interpreter can run `f`: only scalar integer types up to
/// 64 bits and a whitelist of integer, comparison, select and control-flow
/// opcodes. cranelift-interpreter panics on some unimplemented paths
/// (memory, `i128` halves), and libFuzzer turns any panic into a crash, so
/// other functions are optimized and verified but not run.
fn interpretable(f: &Function) -> bool {
    use cranelift_codegen::ir::Opcode::*;
    let int = |t: cranelift_codegen::ir::Type| {
        matches!(t, types::I8 | types::I16 | types::I32 | types::I64)
    };
    f.layout.entry_block().is_some()
        && f.layout.blocks().all(|b| {
            f.dfg
                .block_params(b)
                .iter()
                .all(|&v| int(f.dfg.value_type(v)))
                && f.layout.block_insts(b).all(|i| {
                    let op = f.dfg.insts[i].opcode();
                    matches!(
                        op,
                        Iconst
                            | Iadd
                            | Isub
                            | Imul
                            | Band
                            | Bor
                            | Bxor
                            | Bnot
                            | Ineg
                            | Ishl
                            | Ushr
                            | Sshr
                            | Rotl
                            | Rotr
                            | Icmp
                            | Select
                            | Uextend
                            | Sextend
                            | Ireduce
                            | Umin
                            | Umax
                            | Smin
                            | Smax
                            | Jump
                            | Brif
                            | Return
                    ) && f
                        .dfg
                        .inst_results(i)
                        .iter()
                        .all(|&v| int(f.dfg.value_type(v)))
                })
        })
}

/// Integer arguments for `f`'s signature, or `None` for other types.
fn args(f: &Function, seed: i64) -> Option<Vec<DataValue>> {
    f.signature
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = seed
                .wrapping_mul(0x9E37_79B9)
                .wrapping_add(i as i64 * 7 - 3);
            match p.value_type {
                types::I8 => Some(DataValue::I8(v as i8)),
                types::I16 => Some(DataValue::I16(v as i16)),
                types::I32 => Some(DataValue::I32(v as i32)),
                types::I64 => Some(DataValue::I64(v)),
                _ => None,
            }
        })
        .collect()
}

/// The fuzz target.
pub fn clif_opt(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    if saturn_clif::text::check_reader_input(text).is_err() {
        return Outcome::Rejected;
    }
    // Cranelift's reader panics on some inputs no check foresees (a
    // `vconst` wider than its type): those are its bugs, not Saturn's,
    // so they count as rejected and the fuzzer goes on past them.
    // libFuzzer's hook aborts on any panic: `read_guarded` swaps it out
    // meanwhile.
    let parsed = saturn_clif::text::read_guarded(|| cranelift_reader::parse_functions(text));
    let Ok(Ok(funcs)) = parsed else {
        return Outcome::Rejected;
    };
    let flags = flags();
    let mut checked = 0;
    for f in funcs {
        if cranelift_codegen::verifier::verify_function(&f, &flags).is_err() {
            continue;
        }
        let mut g = f.clone();
        if let Err(e) = saturn_clif::optimize(&mut g, &flags, &saturn_clif::Options::default()) {
            panic!("optimize failed on a verified function: {e}\n{f}");
        }
        if let Some(args0) = args(&f, 1).filter(|_| interpretable(&f)) {
            for seed in 0..4 {
                let a = args(&f, seed).unwrap_or_else(|| args0.clone());
                if let (Some(x), Some(y)) = (run(&f, &a), run(&g, &a)) {
                    assert_eq!(
                        x, y,
                        "different results for {a:?}\ninput:\n{f}\noutput:\n{g}"
                    );
                }
            }
        }
        checked += 1;
    }
    if checked == 0 {
        Outcome::Rejected
    } else {
        Outcome::Checked(checked)
    }
}
