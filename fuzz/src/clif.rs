//! The CLIF optimization target: text in, every function that parses and
//! verifies is optimized by Saturn; the output must verify (`optimize`
//! checks it) and compute what the input computes on a few argument
//! vectors, in cranelift-interpreter. Inputs that do not parse or verify
//! are rejected, never a panic.

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

/// True when the interpreter can run `f`: no memory, calls, global values
/// or stack slots (cranelift-interpreter panics on some of those, and
/// libFuzzer turns any panic into a crash, so they are not run).
fn interpretable(f: &Function) -> bool {
    f.layout.blocks().all(|b| {
        f.layout.block_insts(b).all(|i| {
            let op = f.dfg.insts[i].opcode();
            !(op.can_load()
                || op.can_store()
                || op.is_call()
                || op.can_trap()
                || matches!(
                    op,
                    cranelift_codegen::ir::Opcode::SymbolValue
                        | cranelift_codegen::ir::Opcode::TlsValue
                        | cranelift_codegen::ir::Opcode::DynamicStackAddr
                        | cranelift_codegen::ir::Opcode::GetPinnedReg
                        | cranelift_codegen::ir::Opcode::StackAddr
                        | cranelift_codegen::ir::Opcode::GetFramePointer
                        | cranelift_codegen::ir::Opcode::GetStackPointer
                        | cranelift_codegen::ir::Opcode::GetReturnAddress
                        | cranelift_codegen::ir::Opcode::FuncAddr
                ))
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
    let Ok(funcs) = cranelift_reader::parse_functions(text) else {
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
