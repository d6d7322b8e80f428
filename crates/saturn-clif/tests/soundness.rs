//! Every rule of every rule file is checked on random values: both sides
//! are evaluated (with the exact per-type evaluator) under the same random
//! binding of types, immediates and values, after the rule's conditions
//! were checked on an e-graph holding that binding.

use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use cranelift_codegen::ir::{types, Opcode, Type};
use saturn::{Actions, EGraph, ENodeOrVar, Id, Language, Subst, Var};
use saturn_clif::analysis::ClifAnalysis;
use saturn_clif::eval::{const_bits, const_opcode, eval, int_bits, is_const_opcode, mask};
use saturn_clif::lang::{Node, Op};
use saturn_clif::rules::load_rule_sets;

const TYPES: [Type; 9] = [
    types::I8,
    types::I16,
    types::I32,
    types::I64,
    types::I128,
    types::F32,
    types::F64,
    types::I32X4,
    types::I8X16,
];

/// A tiny deterministic PRNG (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn ty(&mut self) -> Type {
        TYPES[self.below(TYPES.len())]
    }
    /// A scalar integer type.
    fn int_ty(&mut self) -> Type {
        TYPES[self.below(5)]
    }
    /// An interesting value of `bits` bits.
    fn val(&mut self, bits: u32) -> u128 {
        let m = mask(bits);
        let r = ((self.next() as u128) << 64) | self.next() as u128;
        match self.below(9) {
            8 => mask(8 << self.below(4)) & m,
            0 => 0,
            1 => 1,
            2 => m,
            3 => m >> 1,
            4 => 1u128 << (bits - 1),
            5 => self.below(bits as usize + 2) as u128,
            _ => r & m,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum B {
    Ty(Type),
    Imm(u128),
    Cc(IntCC),
    Val(Type, u128),
}

struct Ctx<'a> {
    ast: &'a [ENodeOrVar<Node>],
    binds: &'a mut Vec<(Var, B)>,
    rng: &'a mut Rng,
}

/// The types bound so far (type variables and values' types).
fn bound_types(binds: &[(Var, B)]) -> Vec<Type> {
    binds
        .iter()
        .filter_map(|(_, b)| match *b {
            B::Ty(t) | B::Val(t, _) => Some(t),
            _ => None,
        })
        .collect()
}

fn get(binds: &[(Var, B)], v: Var) -> Option<B> {
    binds.iter().find(|(x, _)| *x == v).map(|(_, b)| *b)
}

impl Ctx<'_> {
    fn ty(&mut self, i: usize) -> Option<Type> {
        match &self.ast[i] {
            ENodeOrVar::Var(v) => match get(self.binds, *v) {
                Some(B::Ty(t)) => Some(t),
                Some(_) => None,
                None => {
                    let t = self.rng.ty();
                    self.binds.push((*v, B::Ty(t)));
                    Some(t)
                }
            },
            ENodeOrVar::ENode(n) => match n.op {
                Op::Ty(t) => Some(t),
                _ => None,
            },
        }
    }

    fn imm(&mut self, i: usize, ty: Type) -> Option<u128> {
        match &self.ast[i] {
            ENodeOrVar::Var(v) => match get(self.binds, *v) {
                Some(B::Imm(k)) => Some(k),
                Some(_) => None,
                None => {
                    let bits = int_bits(ty)?;
                    // Sometimes the width (or width minus one) of a type
                    // already in play: shift amounts and widths.
                    let widths: Vec<u128> = bound_types(self.binds)
                        .into_iter()
                        .filter_map(int_bits)
                        .map(|b| b as u128)
                        .collect();
                    let k = if !widths.is_empty() && self.rng.below(4) == 0 {
                        let w = widths[self.rng.below(widths.len())];
                        (w - self.rng.below(2) as u128) & mask(bits)
                    } else {
                        self.rng.val(bits)
                    };
                    self.binds.push((*v, B::Imm(k)));
                    Some(k)
                }
            },
            ENodeOrVar::ENode(n) => match n.op {
                Op::Imm(k) => Some(k),
                _ => None,
            },
        }
    }

    fn cc(&mut self, i: usize) -> Option<IntCC> {
        const CCS: [IntCC; 10] = [
            IntCC::Equal,
            IntCC::NotEqual,
            IntCC::SignedLessThan,
            IntCC::SignedGreaterThanOrEqual,
            IntCC::SignedGreaterThan,
            IntCC::SignedLessThanOrEqual,
            IntCC::UnsignedLessThan,
            IntCC::UnsignedGreaterThanOrEqual,
            IntCC::UnsignedGreaterThan,
            IntCC::UnsignedLessThanOrEqual,
        ];
        match &self.ast[i] {
            ENodeOrVar::Var(v) => match get(self.binds, *v) {
                Some(B::Cc(c)) => Some(c),
                Some(_) => None,
                None => {
                    let c = CCS[self.rng.below(10)];
                    self.binds.push((*v, B::Cc(c)));
                    Some(c)
                }
            },
            ENodeOrVar::ENode(n) => match n.op {
                Op::Cc(c) => Some(c),
                _ => None,
            },
        }
    }

    /// Evaluates value term `i`, whose type should be `want` when known.
    fn val(&mut self, i: usize, want: Option<Type>) -> Option<(Type, u128)> {
        let r = match &self.ast[i] {
            ENodeOrVar::Var(v) => match get(self.binds, *v) {
                Some(B::Val(t, k)) => (t, k),
                Some(_) => return None,
                None => {
                    // Without a wanted type, sometimes one already in play.
                    let bound = bound_types(self.binds);
                    let t = want.unwrap_or_else(|| {
                        if !bound.is_empty() && self.rng.below(2) == 0 {
                            bound[self.rng.below(bound.len())]
                        } else {
                            self.rng.ty()
                        }
                    });
                    let k = self.rng.val(const_bits(t)?);
                    self.binds.push((*v, B::Val(t, k)));
                    (t, k)
                }
            },
            ENodeOrVar::ENode(n) => {
                let Op::Inst(op) = n.op else { return None };
                let c: Vec<usize> = n.children().iter().map(|c| c.index()).collect();
                let ty = self.ty(c[0])?;
                let (imm, cc, args) = match op {
                    _ if is_const_opcode(op) => (Some(self.imm(c[1], ty)?), None, vec![]),
                    Opcode::Icmp => {
                        let cc = self.cc(c[1])?;
                        let a = self.val(c[2], None)?;
                        let b = self.val(c[3], Some(a.0))?;
                        (None, Some(cc), vec![a, b])
                    }
                    Opcode::Uextend
                    | Opcode::Sextend
                    | Opcode::Ireduce
                    | Opcode::Bmask
                    | Opcode::FcvtFromUint
                    | Opcode::FcvtFromSint => (None, None, vec![self.val(c[1], None)?]),
                    Opcode::Iconcat => {
                        let a = self.val(c[1], Some(types::I64))?;
                        (None, None, vec![a, self.val(c[2], Some(types::I64))?])
                    }
                    Opcode::Ishl | Opcode::Ushr | Opcode::Sshr | Opcode::Rotl | Opcode::Rotr => {
                        let a = self.val(c[1], Some(ty))?;
                        (None, None, vec![a, self.val(c[2], None)?])
                    }
                    Opcode::Select => {
                        let k = self.val(c[1], None)?;
                        let x = self.val(c[2], Some(ty))?;
                        (None, None, vec![k, x, self.val(c[3], Some(ty))?])
                    }
                    _ => {
                        let mut a = vec![];
                        for &k in &c[1..] {
                            a.push(self.val(k, Some(ty))?);
                        }
                        (None, None, a)
                    }
                };
                if let Some(k) = imm {
                    // Immediates of constants are stored masked.
                    if k & mask(const_bits(ty)?) != k {
                        return None;
                    }
                }
                (ty, eval(op, ty, imm, cc, &args)?)
            }
        };
        match want {
            Some(w) if w != r.0 => None,
            _ => Some(r),
        }
    }
}

/// Adds the binding's terms to an e-graph and returns the substitution.
fn subst_for(eg: &mut EGraph<Node, ClifAnalysis>, binds: &[(Var, B)]) -> Subst {
    let mut s = Subst::default();
    for &(v, b) in binds {
        let id: Id = match b {
            B::Ty(t) => eg.add(Node::leaf(Op::Ty(t))),
            B::Imm(k) => eg.add(Node::leaf(Op::Imm(k))),
            B::Cc(c) => eg.add(Node::leaf(Op::Cc(c))),
            B::Val(t, k) => {
                let tl = eg.add(Node::leaf(Op::Ty(t)));
                let kl = eg.add(Node::leaf(Op::Imm(k)));
                let op = const_opcode(t).expect("values have constant types");
                eg.add(Node::new(Op::Inst(op), &[tl, kl]))
            }
        };
        s.insert(v, id);
    }
    eg.rebuild();
    s
}

#[test]
fn every_rule_is_sound_on_random_values() {
    let mut sets = load_rule_sets().expect("rule files parse");
    // The condition-code families, expanded into one rule per condition.
    let cc = saturn::rules::parse_rules(
        &saturn_clif::rules::cc_rules_text(),
        &saturn_clif::rules::predicates(),
    )
    .expect("cc rules expand to valid rules");
    assert!(cc.rules.len() > 60, "only {} cc rules", cc.rules.len());
    sets.push(("cc_rules", cc));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut total = 0;
    for (file, set) in &sets {
        for rule in &set.rules {
            total += 1;
            let lhs = rule.searcher.ast();
            let rhs = rule
                .applier
                .pattern()
                .expect("file rules have pattern right-hand sides")
                .ast();
            let mut checked = 0;
            let mut tries = 0;
            while checked < 300 && tries < 200_000 {
                tries += 1;
                let mut binds = vec![];
                let l = Ctx {
                    ast: lhs,
                    binds: &mut binds,
                    rng: &mut rng,
                }
                .val(lhs.len() - 1, None);
                let Some(l) = l else { continue };
                let mut eg = EGraph::<Node, ClifAnalysis>::new(ClifAnalysis);
                let subst = subst_for(&mut eg, &binds);
                let root = eg.add(Node::leaf(Op::Imm(0)));
                let mut acts = Actions::default();
                if !rule
                    .conditions
                    .iter()
                    .all(|c| c.check(&eg, root, &subst, &mut acts))
                {
                    continue;
                }
                let n = binds.len();
                let r = Ctx {
                    ast: rhs,
                    binds: &mut binds,
                    rng: &mut rng,
                }
                .val(rhs.len() - 1, Some(l.0));
                assert_eq!(
                    binds.len(),
                    n,
                    "{file}: {}: right side binds new variables",
                    rule.name
                );
                let r = r.unwrap_or_else(|| {
                    panic!("{file}: {}: right side ill-typed for {binds:?}", rule.name)
                });
                assert_eq!(l, r, "{file}: rule {} is unsound for {binds:?}", rule.name);
                checked += 1;
            }
            assert!(
                checked >= 20,
                "{file}: rule {} was checked on only {checked} random bindings",
                rule.name
            );
        }
    }
    assert!(total > 100, "only {total} rules");
}

/// The computed rules (`rules::computed_rules`): `band`/`bor`/`bxor` of two
/// comparisons of the same operands, combined by `cc_combine`, checked on
/// every pair of conditions, every type and random values.
#[test]
fn computed_icmp_combination_is_sound() {
    use saturn_clif::eval::eval_cc;
    use saturn_clif::rules::{cc_combine, cc_of_code, computed_rules};
    const CCS: [IntCC; 10] = [
        IntCC::Equal,
        IntCC::NotEqual,
        IntCC::SignedLessThan,
        IntCC::SignedGreaterThanOrEqual,
        IntCC::SignedGreaterThan,
        IntCC::SignedLessThanOrEqual,
        IntCC::UnsignedLessThan,
        IntCC::UnsignedGreaterThanOrEqual,
        IntCC::UnsignedGreaterThan,
        IntCC::UnsignedLessThanOrEqual,
    ];
    assert_eq!(computed_rules().len(), 12);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut combined = 0;
    for op in 0..3u8 {
        for a in CCS {
            for b in CCS {
                let Some(code) = cc_combine(op, a, b) else {
                    continue;
                };
                combined += 1;
                for _ in 0..200 {
                    let ty = rng.int_ty();
                    let bits = int_bits(ty).unwrap();
                    let x = rng.val(bits);
                    let y = if rng.below(4) == 0 { x } else { rng.val(bits) };
                    let (ca, cb) = (eval_cc(a, x, y, bits), eval_cc(b, x, y, bits));
                    let want = match op {
                        0 => ca & cb,
                        1 => ca | cb,
                        _ => ca ^ cb,
                    };
                    let got = match code {
                        0 => false,
                        7 => true,
                        c => eval_cc(cc_of_code(c), x, y, bits),
                    };
                    assert_eq!(want, got, "op {op} {a} {b} on {x} {y} ({ty})");
                    // The swapped form `op (x a y) (y b x)` is decided as
                    // `op (x a y) (x b' y)` with `b'` the swapped condition.
                    let cb_swapped = eval_cc(b, y, x, bits);
                    let want_sw = match op {
                        0 => ca & cb_swapped,
                        1 => ca | cb_swapped,
                        _ => ca ^ cb_swapped,
                    };
                    if let Some(code_sw) = cc_combine(op, a, b.swap_args()) {
                        let got_sw = match code_sw {
                            0 => false,
                            7 => true,
                            c => eval_cc(cc_of_code(c), x, y, bits),
                        };
                        assert_eq!(want_sw, got_sw, "swapped op {op} {a} {b} on {x} {y}");
                    }
                }
            }
        }
    }
    assert!(combined > 100, "only {combined} combinations");
}

/// The computed spaceship rules: `(x > y) - (x < y)` (signed or unsigned)
/// compared with a constant, on every condition, every type and random
/// values and constants.
#[test]
fn computed_spaceship_is_sound() {
    use saturn_clif::eval::{eval_cc, sext};
    use saturn_clif::rules::{cc_of_code, spaceship_code};
    const CCS: [IntCC; 10] = [
        IntCC::Equal,
        IntCC::NotEqual,
        IntCC::SignedLessThan,
        IntCC::SignedGreaterThanOrEqual,
        IntCC::SignedGreaterThan,
        IntCC::SignedLessThanOrEqual,
        IntCC::UnsignedLessThan,
        IntCC::UnsignedGreaterThanOrEqual,
        IntCC::UnsignedGreaterThan,
        IntCC::UnsignedLessThanOrEqual,
    ];
    let mut rng = Rng(0x6a09_e667_f3bc_c908);
    for signed in [false, true] {
        for cc in CCS {
            for _ in 0..2000 {
                // The spaceship's type (the operands' may differ; only the
                // ordering of x and y matters).
                let ty = rng.int_ty();
                let bits = int_bits(ty).unwrap();
                let xb = int_bits(rng.int_ty()).unwrap();
                let x = rng.val(xb);
                let y = if rng.below(3) == 0 { x } else { rng.val(xb) };
                let k = match rng.below(4) {
                    0 => mask(bits),
                    1 => 0,
                    2 => 1,
                    _ => rng.val(bits),
                };
                let (gt, lt) = if signed {
                    (sext(x, xb) > sext(y, xb), sext(x, xb) < sext(y, xb))
                } else {
                    (x > y, x < y)
                };
                let s = (gt as u128).wrapping_sub(lt as u128) & mask(bits);
                let want = eval_cc(cc, s, k, bits);
                let got = match spaceship_code(cc, k, bits, signed) {
                    0 => false,
                    7 => true,
                    c => eval_cc(cc_of_code(c), x, y, xb),
                };
                assert_eq!(want, got, "{cc} {k} signed {signed} on {x} {y}");
            }
        }
    }
}

const ALL_CCS: [IntCC; 10] = [
    IntCC::Equal,
    IntCC::NotEqual,
    IntCC::SignedLessThan,
    IntCC::SignedGreaterThanOrEqual,
    IntCC::SignedGreaterThan,
    IntCC::SignedLessThanOrEqual,
    IntCC::UnsignedLessThan,
    IntCC::UnsignedGreaterThanOrEqual,
    IntCC::UnsignedGreaterThan,
    IntCC::UnsignedLessThanOrEqual,
];

/// `band`/`bor` of two comparisons of one value with constants
/// (`rules::range_combine`): every outcome it decides is checked on every
/// i8 value, and on random and boundary values of the wider types.
#[test]
fn computed_range_combination_is_sound() {
    use saturn_clif::eval::eval_cc;
    use saturn_clif::rules::{range_combine, RangeOutcome};
    let mut rng = Rng(0x3c6e_f372_fe94_f82b);
    let mut decided = 0;
    for op in 0..2u8 {
        for a in ALL_CCS {
            for b in ALL_CCS {
                for _ in 0..40 {
                    let ty = rng.int_ty();
                    let bits = int_bits(ty).unwrap();
                    let k = rng.val(bits);
                    let m = match rng.below(3) {
                        0 => k,
                        1 => k.wrapping_add(1) & mask(bits),
                        _ => rng.val(bits),
                    };
                    let Some(outcome) = range_combine(op, a, k, b, m, bits) else {
                        continue;
                    };
                    decided += 1;
                    let xs: Vec<u128> = if bits == 8 {
                        (0..256).collect()
                    } else {
                        let mut xs: Vec<u128> = (0..300).map(|_| rng.val(bits)).collect();
                        for bp in [k, m, 0, 1u128 << (bits - 1)] {
                            for d in [mask(bits), 0, 1, 2, mask(bits) - 1] {
                                xs.push(bp.wrapping_add(d) & mask(bits));
                            }
                        }
                        xs
                    };
                    for x in xs {
                        let (p, q) = (eval_cc(a, x, k, bits), eval_cc(b, x, m, bits));
                        let want = if op == 0 { p && q } else { p || q };
                        let got = match outcome {
                            RangeOutcome::Const(c) => c,
                            RangeOutcome::First => p,
                            RangeOutcome::Second => q,
                        };
                        assert_eq!(want, got, "op {op}: x {a} {k} / x {b} {m} at {x} ({ty})");
                    }
                }
            }
        }
    }
    assert!(decided > 1000, "only {decided} decided combinations");
}

/// The rules whose right-hand side names a matched value's type
/// (`rules::TYPED_RULES`), checked like the file rules: both sides
/// evaluated under random bindings that satisfy the conditions, with the
/// type variable bound to the value's type.
#[test]
fn typed_rules_are_sound() {
    use saturn_clif::analysis::Fact;
    use saturn_clif::rules::{predicate, TYPED_RULES};
    let mut rng = Rng(0xa54f_f53a_5f1d_36f1);
    let fact = |b: B| match b {
        B::Ty(t) => Fact::Ty(t),
        B::Imm(k) => Fact::Imm(k),
        B::Cc(c) => Fact::Cc(c),
        B::Val(t, k) => Fact::Value {
            ty: t,
            konst: Some(k),
        },
    };
    // The typed rules, and the typed outcomes of the condition-code rules
    // (one per condition).
    /// (name, lhs, rhs, type variable, value variable, conditions).
    type Spec = (String, String, String, String, String, Vec<Cond>);
    type Cond = (&'static str, &'static [&'static str]);
    let mut specs: Vec<Spec> = TYPED_RULES
        .iter()
        .map(|&(n, l, r, t, v, c)| (n.into(), l.into(), r.into(), t.into(), v.into(), c.to_vec()))
        .collect();
    let cc = saturn_clif::rules::cc_typed_expansions();
    assert!(cc.len() >= 10, "only {} typed cc expansions", cc.len());
    for (n, l, r, t, v) in cc {
        specs.push((n, l, r, t, v, vec![]));
    }
    for (name, lhs, rhs, tv, vv, conds) in &specs {
        let name = name.as_str();
        let lhs: saturn::Pattern<Node> = lhs.parse().expect("lhs parses");
        let rhs: saturn::Pattern<Node> = rhs.parse().expect("rhs parses");
        let (tv, vv): (Var, Var) = (tv.parse().unwrap(), vv.parse().unwrap());
        let (lhs, rhs) = (lhs.ast(), rhs.ast());
        let mut checked = 0;
        let mut tries = 0;
        while checked < 300 && tries < 200_000 {
            tries += 1;
            let mut binds = vec![];
            let l = Ctx {
                ast: lhs,
                binds: &mut binds,
                rng: &mut rng,
            }
            .val(lhs.len() - 1, None);
            let Some(l) = l else { continue };
            let ok = conds.iter().all(|&(p, vs)| {
                let f: Vec<Fact> = vs
                    .iter()
                    .map(|v| fact(get(&binds, v.parse().unwrap()).expect("bound")))
                    .collect();
                predicate(p).expect("predicate exists")(&f)
            });
            if !ok {
                continue;
            }
            let Some(B::Val(vt, _)) = get(&binds, vv) else {
                continue;
            };
            if int_bits(vt).is_none() {
                continue;
            }
            binds.push((tv, B::Ty(vt)));
            let n = binds.len();
            let r = Ctx {
                ast: rhs,
                binds: &mut binds,
                rng: &mut rng,
            }
            .val(rhs.len() - 1, Some(l.0));
            assert_eq!(binds.len(), n, "{name}: right side binds new variables");
            let r = r.unwrap_or_else(|| panic!("{name}: right side ill-typed for {binds:?}"));
            assert_eq!(l, r, "typed rule {name} is unsound for {binds:?}");
            checked += 1;
        }
        assert!(
            checked >= 20,
            "typed rule {name} was checked on only {checked} bindings"
        );
    }
}
