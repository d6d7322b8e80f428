//! Random CLIF differential testing: generated functions (integer ops,
//! shifts, comparisons, selects, branches, block parameters) are optimized
//! by Saturn, and the original and optimized functions must compute the
//! same results in cranelift-interpreter on random inputs.

use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::Function;
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState};
use cranelift_interpreter::step::ControlFlow;
use cranelift_reader::parse_functions;
use saturn_clif::{optimize, Options};

/// xorshift64*: small, deterministic, good enough for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    /// Interesting integers: small, extreme, or anything.
    fn value(&mut self, bits: u32) -> i64 {
        let v: i64 = match self.below(4) {
            0 => self.below(7) as i64 - 3,
            1 => *self.pick(&[
                i64::MIN,
                i64::MAX,
                -1,
                1 << (bits - 1),
                (1i64 << (bits - 1)).wrapping_sub(1),
            ]),
            _ => self.next() as i64,
        };
        // Sign-truncate to the type.
        let shift = 64 - bits;
        (v << shift) >> shift
    }
}

const TYPES: [(&str, u32); 4] = [("i8", 8), ("i16", 16), ("i32", 32), ("i64", 64)];
const BINARY: [&str; 10] = [
    "iadd", "isub", "imul", "band", "bor", "bxor", "umin", "umax", "smin", "smax",
];
const SHIFTS: [&str; 5] = ["ishl", "ushr", "sshr", "rotl", "rotr"];
const CCS: [&str; 10] = [
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];

struct Gen<'a> {
    rng: &'a mut Rng,
    ty: &'static str,
    bits: u32,
    text: String,
    next: usize,
}

impl Gen<'_> {
    fn fresh(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }

    /// Appends one pure instruction over `avail` (values of the function's
    /// type) and returns the new value; `conds` holds i8 comparison results.
    fn inst(&mut self, avail: &[usize], conds: &mut Vec<usize>) -> usize {
        let a = *self.rng.pick(avail);
        let b = *self.rng.pick(avail);
        let v = self.fresh();
        let line = match self.rng.below(9) {
            0..=3 => format!("v{v} = {} v{a}, v{b}", self.rng.pick(&BINARY)),
            4 => {
                // Shift by a constant amount (maybe past the width: CLIF
                // takes it modulo the width).
                let k = self.fresh();
                let amount = self.rng.below(self.bits as usize + 2);
                self.text += &format!("    v{k} = iconst.{} {amount}\n", self.ty);
                format!("v{v} = {} v{a}, v{k}", self.rng.pick(&SHIFTS))
            }
            5 => format!("v{v} = {} v{a}", self.rng.pick(&["bnot", "ineg"])),
            6 => format!("v{v} = iconst.{} {}", self.ty, self.rng.value(self.bits)),
            7 => {
                let k = self.fresh();
                let c = self.rng.value(self.bits);
                self.text += &format!("    v{k} = iconst.{} {c}\n", self.ty);
                format!("v{v} = iadd v{a}, v{k}")
            }
            _ => {
                // A comparison, then a select on it.
                let c = v;
                let cc = self.rng.pick(&CCS);
                self.text += &format!("    v{c} = icmp {cc} v{a}, v{b}\n");
                conds.push(c);
                let s = self.fresh();
                let x = *self.rng.pick(avail);
                let y = *self.rng.pick(avail);
                self.text += &format!("    v{s} = select v{c}, v{x}, v{y}\n");
                return s;
            }
        };
        self.text += &format!("    {line}\n");
        v
    }
}

/// A function with three parameters, a diamond of blocks joined by a block
/// parameter, and `n` random instructions per block.
fn generate(rng: &mut Rng, index: usize, n: usize) -> (String, u32) {
    let &(ty, bits) = rng.pick(&TYPES);
    let mut g = Gen {
        rng,
        ty,
        bits,
        text: String::new(),
        next: 3,
    };
    g.text += &format!(
        "function %f{index}({ty}, {ty}, {ty}) -> {ty} {{\nblock0(v0: {ty}, v1: {ty}, v2: {ty}):\n"
    );
    let mut avail = vec![0, 1, 2];
    let mut conds = vec![];
    for _ in 0..n {
        let v = g.inst(&avail, &mut conds);
        avail.push(v);
    }
    let a = *g.rng.pick(&avail);
    let b = *g.rng.pick(&avail);
    let c = g.fresh();
    let cc = g.rng.pick(&CCS);
    g.text += &format!("    v{c} = icmp {cc} v{a}, v{b}\n    brif v{c}, block1, block2\n");
    let top = avail.clone();
    let mut ends = vec![];
    for block in 1..=2 {
        g.text += &format!("block{block}:\n");
        let mut local = top.clone();
        let mut local_conds = conds.clone();
        for _ in 0..n / 2 + 1 {
            let v = g.inst(&local, &mut local_conds);
            local.push(v);
        }
        let out = *g.rng.pick(&local);
        g.text += &format!("    jump block3(v{out})\n");
        ends.push(out);
    }
    let p = g.fresh();
    g.text += &format!("block3(v{p}: {ty}):\n");
    let mut last = top.clone();
    last.push(p);
    let mut last_conds = conds.clone();
    for _ in 0..2 {
        let v = g.inst(&last, &mut last_conds);
        last.push(v);
    }
    let r = g.fresh();
    let x = *last.last().unwrap();
    g.text += &format!("    v{r} = bxor v{x}, v{p}\n    return v{r}\n}}\n");
    (g.text, bits)
}

fn flags() -> Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").unwrap();
    Flags::new(b)
}

fn call(f: &Function, args: &[DataValue]) -> Vec<DataValue> {
    let mut store = FunctionStore::default();
    store.add(f.name.to_string(), f);
    let mut it = Interpreter::new(InterpreterState::default().with_function_store(store));
    match it.call_by_name(&f.name.to_string(), args) {
        Ok(ControlFlow::Return(v)) => v.to_vec(),
        other => panic!("interpreter failed on {}: {other:?}", f.name),
    }
}

fn data(bits: u32, v: i64) -> DataValue {
    match bits {
        8 => DataValue::I8(v as i8),
        16 => DataValue::I16(v as i16),
        32 => DataValue::I32(v as i32),
        _ => DataValue::I64(v),
    }
}

#[test]
fn random_functions_compute_the_same_after_optimization() {
    let functions = if cfg!(debug_assertions) { 100 } else { 2000 };
    let inputs = 8;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut checked = 0;
    let mut shrunk = 0;
    for i in 0..functions {
        let n = 2 + rng.below(8);
        let (text, bits) = generate(&mut rng, i, n);
        let f = parse_functions(&text)
            .unwrap_or_else(|e| panic!("generated CLIF does not parse: {e}\n{text}"))
            .remove(0);
        let mut g = f.clone();
        optimize(&mut g, &flags(), &Options::default())
            .unwrap_or_else(|e| panic!("optimize failed: {e}\n{text}"));
        if saturn_clif::count_insts(&g) < saturn_clif::count_insts(&f) {
            shrunk += 1;
        }
        for _ in 0..inputs {
            let args: Vec<DataValue> = (0..3).map(|_| data(bits, rng.value(bits))).collect();
            let want = call(&f, &args);
            let got = call(&g, &args);
            assert_eq!(
                got, want,
                "different result for {args:?}\noriginal:\n{text}\noptimized:\n{g}"
            );
            checked += 1;
        }
    }
    eprintln!(
        "random CLIF differential: {functions} functions ({shrunk} made smaller), {checked} input vectors, all equal"
    );
    // The test means something only if the optimizer actually rewrote code.
    assert!(
        shrunk * 2 > functions,
        "only {shrunk} of {functions} functions changed"
    );
}
