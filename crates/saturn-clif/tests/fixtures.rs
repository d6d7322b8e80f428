//! End-to-end tests on small inline CLIF functions (no corpus needed).

use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::Function;
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState};
use cranelift_interpreter::step::ControlFlow;
use cranelift_reader::parse_functions;
use saturn_clif::{count_insts, optimize, Options};

fn flags() -> Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").unwrap();
    Flags::new(b)
}

fn opt(src: &str) -> (Function, Function) {
    let f = parse_functions(src).expect("fixture parses").remove(0);
    let mut g = f.clone();
    optimize(&mut g, &flags(), &Options::default()).expect("optimizes and verifies");
    (f, g)
}

fn call(f: &Function, args: &[DataValue]) -> Vec<DataValue> {
    let mut store = FunctionStore::default();
    store.add(f.name.to_string(), f);
    let mut it = Interpreter::new(InterpreterState::default().with_function_store(store));
    match it.call_by_name(&f.name.to_string(), args) {
        Ok(ControlFlow::Return(v)) => v.to_vec(),
        _ => panic!("interpreter failed"),
    }
}

#[test]
fn folds_constants_with_wraparound() {
    let (f, g) = opt("function %f() -> i8 {
block0:
    v0 = iconst.i8 200
    v1 = iconst.i8 100
    v2 = iadd v0, v1
    return v2
}");
    assert_eq!(count_insts(&g), 2, "{g}");
    assert_eq!(call(&f, &[]), call(&g, &[]));
    assert_eq!(call(&g, &[]), vec![DataValue::I8(44)]);
}

#[test]
fn folds_i128_constants() {
    let (f, g) = opt("function %f() -> i128 {
block0:
    v0 = iconst.i64 -1
    v1 = sextend.i128 v0
    v2 = iconst.i64 3
    v3 = uextend.i128 v2
    v4 = imul v1, v3
    return v4
}");
    assert_eq!(call(&f, &[]), call(&g, &[]));
    assert!(count_insts(&g) <= 3, "{g}");
}

/// Identities and a common subexpression: all of it folds to one `return`.
const IDENTITIES: &str = "function %f(i32, i32) -> i32 {
block0(v0: i32, v1: i32):
    v2 = iadd v0, v1
    v3 = isub v2, v1
    v4 = iadd v1, v0
    v5 = bxor v2, v4
    v6 = bor v3, v5
    return v6
}";

#[test]
fn simplifies_identities_and_gvn() {
    let (f, g) = opt(IDENTITIES);
    assert_eq!(count_insts(&g), 1, "{g}");
    let a = [DataValue::I32(7), DataValue::I32(-3)];
    assert_eq!(call(&f, &a), call(&g, &a));
}

#[test]
fn folds_known_branches() {
    let (f, g) = opt("function %f(i32) -> i32 {
block0(v0: i32):
    v1 = iconst.i32 1
    v8 = iconst.i32 1
    v2 = icmp eq v1, v8
    brif v2, block1, block2
block1:
    return v0
block2:
    v3 = iconst.i32 0
    return v3
}");
    assert_eq!(g.layout.blocks().count(), 2, "{g}");
    assert_eq!(
        call(&f, &[DataValue::I32(5)]),
        call(&g, &[DataValue::I32(5)])
    );
}

#[test]
fn hoists_loop_invariants() {
    let (f, g) = opt("function %f(i32, i32) -> i32 {
block0(v0: i32, v1: i32):
    v9 = iconst.i32 0
    jump block1(v9, v9)
block1(v2: i32, v3: i32):
    v4 = imul v0, v1
    v5 = iadd v3, v4
    v8 = iconst.i32 1
    v6 = iadd v2, v8
    v7 = icmp ult v6, v1
    brif v7, block1(v6, v5), block2
block2:
    return v5
}");
    let b0 = g.layout.entry_block().unwrap();
    let text = g.to_string();
    let b0_insts: Vec<String> = g
        .layout
        .block_insts(b0)
        .map(|i| g.dfg.display_inst(i).to_string())
        .collect();
    assert!(b0_insts.iter().any(|s| s.contains("imul")), "{text}");
    let a = [DataValue::I32(3), DataValue::I32(4)];
    assert_eq!(call(&f, &a), call(&g, &a));
}

#[test]
fn bad_clif_is_an_error_with_a_line() {
    let e = parse_functions("function %f() {\nblock0:\n    v0 = bogus\n}").unwrap_err();
    assert_eq!(e.location.line_number, 3);
}

#[test]
fn rule_files_parse() {
    let n = saturn_clif::rules::all_rules().unwrap().len();
    assert!(n > 100);
}

#[test]
fn a_memory_limit_stops_saturation_and_the_output_stays_valid() {
    use saturn::schedule::Strategy;
    let f = parse_functions(IDENTITIES).unwrap().remove(0);
    let a = [DataValue::I32(7), DataValue::I32(-3)];
    for strategy in [
        None,
        Some(Strategy::Passes),
        Some(Strategy::Bsp),
        Some(Strategy::Async),
    ] {
        let run = |memory_limit| {
            let mut g = f.clone();
            let opts = Options {
                memory_limit,
                strategy,
                ..Options::default()
            };
            let stats = optimize(&mut g, &flags(), &opts).expect("optimizes and verifies");
            (g, stats)
        };
        let (free, free_stats) = run(usize::MAX);
        // Any e-graph is over zero bytes: saturation stops before its first
        // round, and the function is still lowered back, valid and equal.
        let (g, stats) = run(0);
        assert!(stats.nodes < free_stats.nodes, "{strategy:?}");
        assert!(count_insts(&g) <= count_insts(&f), "{strategy:?}: {g}");
        assert!(
            count_insts(&free) < count_insts(&g),
            "{strategy:?}: {free} vs {g}"
        );
        assert_eq!(call(&f, &a), call(&g, &a), "{strategy:?}");
    }
}

/// On 128-bit vectors, identities whose result is a constant give a
/// `vconst` (all zeros or all ones, whatever the lanes), as Cranelift's
/// mid-end does: `x & !x`, `x | !x`, `x ^ !x`, and `band`/`bor` of two
/// comparisons of the same operands that are never (or always) both true.
/// Each optimized function returns what the original does in Cranelift's
/// interpreter.
#[test]
fn vector_identities_fold_to_vconst() {
    use cranelift_codegen::ir::Opcode;
    let cases = [
        ("v2 = bnot v0\n    v3 = band v0, v2", 0u128),
        ("v2 = bnot v0\n    v3 = bor v2, v0", u128::MAX),
        ("v2 = bnot v0\n    v3 = bxor v0, v2", u128::MAX),
        (
            "v2 = icmp sgt v0, v1\n    v4 = icmp slt v0, v1\n    v3 = band v2, v4",
            0,
        ),
        (
            "v2 = icmp ugt v0, v1\n    v4 = icmp ule v0, v1\n    v3 = bor v2, v4",
            u128::MAX,
        ),
    ];
    for (body, want) in cases {
        let src = format!(
            "function %f(i32x4, i32x4) -> i32x4 {{\nblock0(v0: i32x4, v1: i32x4):\n    {body}\n    return v3\n}}"
        );
        let (f, g) = opt(&src);
        let insts: Vec<Opcode> = g
            .layout
            .blocks()
            .flat_map(|b| g.layout.block_insts(b))
            .map(|i| g.dfg.insts[i].opcode())
            .collect();
        assert_eq!(insts, [Opcode::Vconst, Opcode::Return], "{body}:\n{g}");
        let args = [
            DataValue::V128(0x0000_0005_ffff_fff0_8000_0000_0000_0001u128.to_le_bytes()),
            DataValue::V128(0x0000_0005_0000_0010_7fff_ffff_ffff_ffffu128.to_le_bytes()),
        ];
        let out = call(&g, &args);
        assert_eq!(out, call(&f, &args), "{body}");
        assert_eq!(out, [DataValue::V128(want.to_le_bytes())], "{body}");
    }
}

/// `Options::verify` off skips Cranelift's verifier on both ends and
/// nothing else: a function that verifies comes out the same, and one that
/// does not is no longer refused up front (with the verifier on, it is
/// refused and left unchanged).
#[test]
fn without_the_verifier_the_output_is_the_same() {
    let quiet = Options {
        verify: false,
        ..Options::default()
    };
    let f = parse_functions(IDENTITIES).unwrap().remove(0);
    let (mut a, mut b) = (f.clone(), f.clone());
    let sa = optimize(&mut a, &flags(), &Options::default()).expect("optimizes");
    let sb = optimize(&mut b, &flags(), &quiet).expect("optimizes");
    assert_eq!(a.display().to_string(), b.display().to_string());
    assert_eq!((sa.insts_after, sa.nodes), (sb.insts_after, sb.nodes));
    // Returns an i64 where an i32 is declared: the verifier's error, but
    // nothing in the optimizer depends on it.
    let bad =
        "function %f(i32) -> i32 {\nblock0(v0: i32):\n    v1 = iconst.i64 1\n    return v1\n}";
    let f = parse_functions(bad).unwrap().remove(0);
    let mut g = f.clone();
    let e = optimize(&mut g, &flags(), &Options::default()).unwrap_err();
    assert!(e.starts_with(saturn_clif::INPUT_DOES_NOT_VERIFY), "{e}");
    let mut g = f.clone();
    optimize(&mut g, &flags(), &quiet).expect("not verified, so not refused");
}
