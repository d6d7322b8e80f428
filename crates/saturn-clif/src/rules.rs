//! The rewrite rules: data files in `rules/`, compiled in with
//! `include_str!`, plus the predicates their `if` conditions use.
//!
//! Predicates are plain functions of the matched classes' [`Fact`]s, so the
//! soundness tests can run the very same conditions on concrete values.

use saturn::rules::{parse_rules, Predicates, RuleSet};
use std::str::FromStr;

use saturn::{Actions, Applier, EGraph, Id, Pattern, Ref, Rewrite, Subst, Var};

use cranelift_codegen::ir::condcodes::{CondCode, IntCC};

use crate::analysis::{ClifAnalysis, Fact};
use crate::eval::{int_bits, is_vec128, mask};
use crate::lang::{Node, Op};

/// The rule files: (file name, text).
pub const RULE_FILES: &[(&str, &str)] = &[
    (
        "arithmetic.rules",
        include_str!("../rules/arithmetic.rules"),
    ),
    ("bitops.rules", include_str!("../rules/bitops.rules")),
    ("cprop.rules", include_str!("../rules/cprop.rules")),
    ("extends.rules", include_str!("../rules/extends.rules")),
    ("icmp.rules", include_str!("../rules/icmp.rules")),
    ("selects.rules", include_str!("../rules/selects.rules")),
    ("shifts.rules", include_str!("../rules/shifts.rules")),
];

/// A predicate over facts.
pub type FactPred = fn(&[Fact]) -> bool;

fn ty_bits(f: Fact) -> Option<u32> {
    int_bits(f.as_ty()?)
}

fn val_bits(f: Fact) -> Option<u32> {
    int_bits(f.value_ty()?)
}

/// The predicates rule files may use: (name, arity, function).
pub const PREDICATES: &[(&str, usize, FactPred)] = &[
    // ?t is a scalar integer type.
    ("int", 1, |f| ty_bits(f[0]).is_some()),
    // ?t is a 128-bit vector type (whose constants are `vconst`s).
    ("vec128", 1, |f| f[0].as_ty().is_some_and(is_vec128)),
    // ?k is all ones in type ?t.
    ("all-ones", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == mask(b),
        _ => false,
    }),
    // ?k is the index of the top bit of type ?t (its width minus one).
    ("msb", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == b as u128 - 1,
        _ => false,
    }),
    // type ?w is twice as wide as type ?t, and ?k is the width of ?t.
    ("double-width", 3, |f| {
        match (ty_bits(f[0]), ty_bits(f[1]), f[2].as_imm()) {
            (Some(w), Some(t), Some(k)) => w == 2 * t && k == t as u128,
            _ => false,
        }
    }),
    // ?m is the negation of ?k in type ?t.
    ("neg-of", 3, |f| {
        match (ty_bits(f[0]), f[1].as_imm(), f[2].as_imm()) {
            (Some(b), Some(k), Some(m)) => 0u128.wrapping_sub(k) & mask(b) == m,
            _ => false,
        }
    }),
    // ?k is odd and divides ?c (as unsigned): `x * k == c` exactly when
    // `x == c / k`, as multiplying by an odd number is invertible.
    ("odd-divides", 2, |f| match (f[0].as_imm(), f[1].as_imm()) {
        (Some(k), Some(c)) => k & 1 == 1 && c % k == 0,
        _ => false,
    }),
    // ?k is zero.
    ("zero", 1, |f| f[0].as_imm() == Some(0)),
    // immediates ?a and ?b differ.
    ("distinct", 2, |f| match (f[0].as_imm(), f[1].as_imm()) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }),
    // ?k is not zero.
    ("nonzero", 1, |f| f[0].as_imm().is_some_and(|k| k != 0)),
    // ?k is the smallest signed value of type ?t.
    ("signed-min", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == 1u128 << (b - 1),
        _ => false,
    }),
    // ?k is the largest signed value of type ?t.
    ("signed-max", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == mask(b) >> 1,
        _ => false,
    }),
    // value ?x has type ?t.
    ("has-type", 2, |f| {
        f[0].value_ty().is_some() && f[0].value_ty() == f[1].as_ty()
    }),
    // values ?x and ?y have the same type.
    ("same-type", 2, |f| {
        f[0].value_ty().is_some() && f[0].value_ty() == f[1].value_ty()
    }),
    // value ?x is a narrower integer than type ?t.
    ("narrower", 2, |f| match (val_bits(f[0]), ty_bits(f[1])) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }),
    // value ?x is a wider integer than type ?t.
    ("wider", 2, |f| match (val_bits(f[0]), ty_bits(f[1])) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }),
    // type ?a is a wider integer than type ?b.
    ("ty-wider", 2, |f| match (ty_bits(f[0]), ty_bits(f[1])) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }),
    // shift amounts ?a and ?b on type ?t are in range and so is their sum.
    ("shift-sum-ok", 3, |f| {
        match (ty_bits(f[0]), f[1].as_imm(), f[2].as_imm()) {
            (Some(b), Some(x), Some(y)) => x < b as u128 && y < b as u128 && x + y < b as u128,
            _ => false,
        }
    }),
    // shift amount ?k on type ?t is not zero modulo the width.
    ("shift-ok", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k & (b as u128 - 1) != 0,
        _ => false,
    }),
    // shift amount ?k on type ?t is zero modulo the width.
    ("shift-zero", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k & (b as u128 - 1) == 0,
        _ => false,
    }),
    // shifting by ?a then by ?b (each modulo the width of ?t) shifts out
    // every bit.
    ("shift-sum-over", 3, |f| {
        match (ty_bits(f[0]), f[1].as_imm(), f[2].as_imm()) {
            (Some(b), Some(x), Some(y)) => {
                let m = b as u128 - 1;
                (x & m) + (y & m) >= b as u128
            }
            _ => false,
        }
    }),
    // shift amounts ?a and ?b (modulo the width of ?t) are non-zero and
    // add up to the width: `(x << a) | (x >> b)` is a rotation.
    ("rot-pair", 3, |f| {
        match (ty_bits(f[0]), f[1].as_imm(), f[2].as_imm()) {
            (Some(b), Some(x), Some(y)) => {
                let m = b as u128 - 1;
                x & m != 0 && (x & m) + (y & m) == b as u128
            }
            _ => false,
        }
    }),
    // immediate ?k is exactly the all-ones value of value ?x's width.
    ("low-mask", 2, |f| match (val_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == mask(b),
        _ => false,
    }),
    // ?k is the width of type ?t minus that of value ?x (which is
    // narrower).
    ("ext-shift-eq", 3, |f| {
        match (ty_bits(f[0]), val_bits(f[1]), f[2].as_imm()) {
            (Some(t), Some(x), Some(k)) => x < t && k == (t - x) as u128,
            _ => false,
        }
    }),
    // ?k is less than the width of type ?t minus that of value ?x (which
    // is narrower).
    ("ext-shift-lt", 3, |f| {
        match (ty_bits(f[0]), val_bits(f[1]), f[2].as_imm()) {
            (Some(t), Some(x), Some(k)) => x < t && k < (t - x) as u128,
            _ => false,
        }
    }),
    // masking a shift amount by ?m does not change a shift on type ?t.
    ("shift-mask", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(m)) => m & (b as u128 - 1) == b as u128 - 1,
        _ => false,
    }),
    // immediate ?k has every bit of value ?x's width set.
    ("covers-width", 2, |f| {
        match (val_bits(f[0]), f[1].as_imm()) {
            (Some(b), Some(k)) => k & mask(b) == mask(b),
            _ => false,
        }
    }),
    // shifting a `sextend.?t` of value ?x left then right by ?k (in range)
    // keeps its sign bits.
    ("ext-shift-le", 3, |f| {
        match (ty_bits(f[0]), val_bits(f[1]), f[2].as_imm()) {
            (Some(t), Some(x), Some(k)) => x < t && k < t as u128 && k <= (t - x) as u128,
            _ => false,
        }
    }),
];

/// Cranelift's decomposition of a condition code into the outcomes it
/// accepts (bit 0: equal, bit 1: less, bit 2: greater) and its class
/// (1: unsigned, 2: signed, 3: either, i.e. `eq`/`ne`).
fn cc_parts(c: IntCC) -> (u8, u8) {
    use IntCC::*;
    match c {
        Equal => (1, 3),
        NotEqual => (6, 3),
        UnsignedLessThan => (2, 1),
        UnsignedLessThanOrEqual => (3, 1),
        UnsignedGreaterThan => (4, 1),
        UnsignedGreaterThanOrEqual => (5, 1),
        SignedLessThan => (2, 2),
        SignedLessThanOrEqual => (3, 2),
        SignedGreaterThan => (4, 2),
        SignedGreaterThanOrEqual => (5, 2),
    }
}

/// Combines two comparisons of the same operands with `band` (`OP` 0),
/// `bor` (1) or `bxor` (2): the outcome code of the result (0: always
/// false, 7: always true, 1..=6: the unsigned condition of that
/// decomposition, +8 when signed), or `None` when the conditions mix
/// signed and unsigned orders.
pub fn cc_combine(op: u8, a: IntCC, b: IntCC) -> Option<u8> {
    let ((ma, ca), (mb, cb)) = (cc_parts(a), cc_parts(b));
    let class = ca & cb;
    if class == 0 {
        return None;
    }
    let m = match op {
        0 => ma & mb,
        1 => ma | mb,
        _ => ma ^ mb,
    };
    Some(if class == 2 && (2..=5).contains(&m) {
        m + 8
    } else {
        m
    })
}

/// The rules whose right-hand side is computed, so cannot be written as
/// data, all ending in one comparison of `?x` and `?y` (or a constant)
/// chosen by an outcome code (see [`cc_combine`]):
///
/// - `band`/`bor`/`bxor` of two comparisons of the same operands
///   ([`cc_combine`]);
/// - the spaceship idiom `(x > y) - (x < y)` (as `i8`, or each side
///   `uextend`ed) compared with a constant ([`spaceship_code`]), signed or
///   unsigned (Cranelift's spaceship.isle family).
///
/// Checked exhaustively against the evaluator by `tests/soundness.rs`.
pub fn computed_rules() -> Vec<Rewrite<Node, ClifAnalysis>> {
    let mut v = vec![];
    for (op, name) in [(0u8, "band"), (1, "bor"), (2, "bxor")] {
        let lhs = format!("({name} ?r (icmp ?r ?a ?x ?y) (icmp ?r ?b ?x ?y))");
        v.push((format!("icmp-{name}-icmp"), lhs, Kind::Combine(op, false)));
        let lhs = format!("({name} ?r (icmp ?r ?a ?x ?y) (icmp ?r ?b ?y ?x))");
        v.push((
            format!("icmp-{name}-icmp-swap"),
            lhs,
            Kind::Combine(op, true),
        ));
    }
    for (op, name) in [(0u8, "band"), (1, "bor")] {
        let lhs =
            format!("({name} ?r (icmp ?r ?a ?x (iconst ?t ?k)) (icmp ?r ?b ?x (iconst ?t ?m)))");
        v.push((format!("icmp-{name}-icmp-k"), lhs, Kind::Range(op)));
    }
    for (signed, gt, lt) in [(false, "ugt", "ult"), (true, "sgt", "slt")] {
        let s = if signed { "s" } else { "u" };
        let narrow = format!(
            "(icmp ?r ?c (isub ?r (icmp ?r {gt} ?x ?y) (icmp ?r {lt} ?x ?y)) (iconst ?r ?k))"
        );
        v.push((
            format!("spaceship-{s}"),
            narrow,
            Kind::Spaceship(signed, "?r"),
        ));
        let wide = format!(
            "(icmp ?r ?c (isub ?t (uextend ?t (icmp ?r {gt} ?x ?y)) (uextend ?t (icmp ?r {lt} ?x ?y))) (iconst ?t ?k))"
        );
        v.push((
            format!("spaceship-{s}-uext"),
            wide,
            Kind::Spaceship(signed, "?t"),
        ));
    }
    v.into_iter()
        .map(|(name, lhs, kind)| {
            let app = Computed {
                kind,
                icmp: pat("(icmp ?r ?c ?x ?y)"),
                zero: pat("(iconst ?r 0)"),
                one: pat("(iconst ?r 1)"),
                vzero: pat("(vconst ?r 0)"),
                vones: pat(&format!("(vconst ?r {})", u128::MAX)),
                first: pat("(icmp ?r ?a ?x (iconst ?t ?k))"),
                second: pat("(icmp ?r ?b ?x (iconst ?t ?m))"),
            };
            Rewrite::new(name, pat(&lhs), app).expect("rule is well formed")
        })
        .collect()
}

fn pat(s: &str) -> Pattern<Node> {
    s.parse().expect("pattern parses")
}

fn var(n: &str) -> Var {
    Var::from_str(n).expect("variable name")
}

#[derive(Clone, Copy)]
enum Kind {
    /// `band` (0), `bor` (1), `bxor` (2) of comparisons `?a`, `?b` (the
    /// second with swapped operands when `true`).
    Combine(u8, bool),
    /// `band` (0) or `bor` (1) of comparisons `?a` of `?x` with `?k` and
    /// `?b` of `?x` with `?m` ([`range_combine`]).
    Range(u8),
    /// Spaceship, signed or not, with the subtraction's type variable.
    Spaceship(bool, &'static str),
}

struct Computed {
    kind: Kind,
    icmp: Pattern<Node>,
    zero: Pattern<Node>,
    one: Pattern<Node>,
    /// The constant outcomes on 128-bit vectors, whose comparisons give
    /// each lane all ones (true) or zero.
    vzero: Pattern<Node>,
    vones: Pattern<Node>,
    first: Pattern<Node>,
    second: Pattern<Node>,
}

/// The outcome code of comparing the spaceship value of `x`, `y` (-1, 0 or
/// 1 in a `bits`-bit type) with `k` by `cc`: which of less, equal, greater
/// make it true (as in [`cc_combine`]; +8 when the spaceship is signed).
pub fn spaceship_code(cc: IntCC, k: u128, bits: u32, signed: bool) -> u8 {
    let mut m = 0;
    for (bit, s) in [(2u8, mask(bits)), (1, 0), (4, 1)] {
        if crate::eval::eval_cc(cc, s, k, bits) {
            m |= bit;
        }
    }
    if signed && (2..=5).contains(&m) {
        m + 8
    } else {
        m
    }
}

impl Applier<Node, ClifAnalysis> for Computed {
    fn apply(
        &self,
        egraph: &EGraph<Node, ClifAnalysis>,
        eclass: Id,
        subst: &Subst,
        out: &mut Actions<Node>,
    ) {
        let fact = |n: &str| egraph[subst[var(n)]].data;
        let code = match self.kind {
            Kind::Combine(op, swap) => match (fact("?a"), fact("?b")) {
                (Fact::Cc(a), Fact::Cc(b)) => {
                    cc_combine(op, a, if swap { b.swap_args() } else { b })
                }
                _ => None,
            },
            Kind::Range(op) => {
                let (Fact::Cc(a), Fact::Cc(b), Some(k), Some(m), Some(bits)) = (
                    fact("?a"),
                    fact("?b"),
                    fact("?k").as_imm(),
                    fact("?m").as_imm(),
                    ty_bits(fact("?t")),
                ) else {
                    return;
                };
                if ty_bits(fact("?r")).is_none() {
                    return;
                }
                let r = match range_combine(op, a, k, b, m, bits) {
                    Some(RangeOutcome::Const(false)) => {
                        out.instantiate(egraph, &self.zero, subst, &[])
                    }
                    Some(RangeOutcome::Const(true)) => {
                        out.instantiate(egraph, &self.one, subst, &[])
                    }
                    Some(RangeOutcome::First) => out.instantiate(egraph, &self.first, subst, &[]),
                    Some(RangeOutcome::Second) => out.instantiate(egraph, &self.second, subst, &[]),
                    None => return,
                };
                out.union(Ref::class(eclass), r);
                return;
            }
            Kind::Spaceship(signed, tv) => match (fact("?c"), fact("?k"), ty_bits(fact(tv))) {
                (Fact::Cc(c), Fact::Imm(k), Some(bits)) => Some(spaceship_code(c, k, bits, signed)),
                _ => None,
            },
        };
        let Some(code) = code else {
            return;
        };
        let is_int = ty_bits(fact("?r")).is_some();
        // Lane by lane, a vector's comparisons combine as scalars do, so a
        // constant outcome is that constant in every lane.
        let is_vec = fact("?r").as_ty().is_some_and(is_vec128);
        let r = match code {
            0 if is_vec => out.instantiate(egraph, &self.vzero, subst, &[]),
            7 if is_vec => out.instantiate(egraph, &self.vones, subst, &[]),
            0 | 7 if !is_int => return,
            0 => out.instantiate(egraph, &self.zero, subst, &[]),
            7 => out.instantiate(egraph, &self.one, subst, &[]),
            _ => {
                let leaf = out.add(egraph, Node::leaf(Op::Cc(cc_of_code(code))));
                out.instantiate(egraph, &self.icmp, subst, &[(var("?c"), leaf)])
            }
        };
        out.union(Ref::class(eclass), r);
    }

    fn vars(&self) -> Vec<Var> {
        let vs: &[&str] = match self.kind {
            Kind::Range(_) => &["?r", "?x", "?t", "?k", "?m", "?a", "?b"],
            _ => &["?r", "?x", "?y"],
        };
        vs.iter().map(|v| var(v)).collect()
    }
}

/// What `band` (`op` 0) or `bor` (1) of `x a k` and `x b m` is, for every
/// `x` of `bits` bits ([`range_combine`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Always this value.
    Const(bool),
    /// Always the first comparison.
    First,
    /// Always the second comparison.
    Second,
}

/// Decides `band`/`bor` of two comparisons of one value with constants.
/// Each comparison is constant on every arc of values (in unsigned order)
/// between the breakpoints `k`, `m`, 0 and the smallest signed value (the
/// signed order wraps there), so checking each breakpoint and its two
/// neighbours checks every arc; returns `None` when the combination is
/// none of the simple outcomes.
pub fn range_combine(
    op: u8,
    a: IntCC,
    k: u128,
    b: IntCC,
    m: u128,
    bits: u32,
) -> Option<RangeOutcome> {
    use crate::eval::eval_cc;
    let mk = mask(bits);
    let (k, m) = (k & mk, m & mk);
    let mut all = [true; 4]; // false, true, first, second
    for bp in [k, m, 0, 1u128 << (bits - 1)] {
        for d in [mk, 0, 1] {
            let x = bp.wrapping_add(d) & mk;
            let (p, q) = (eval_cc(a, x, k, bits), eval_cc(b, x, m, bits));
            let r = if op == 0 { p && q } else { p || q };
            all[0] &= !r;
            all[1] &= r;
            all[2] &= r == p;
            all[3] &= r == q;
        }
    }
    if all[0] {
        Some(RangeOutcome::Const(false))
    } else if all[1] {
        Some(RangeOutcome::Const(true))
    } else if all[2] {
        Some(RangeOutcome::First)
    } else if all[3] {
        Some(RangeOutcome::Second)
    } else {
        None
    }
}

/// The condition of an outcome code of [`cc_combine`] (1..=6, +8 signed).
pub fn cc_of_code(code: u8) -> IntCC {
    use IntCC::*;
    match code {
        1 => Equal,
        2 => UnsignedLessThan,
        3 => UnsignedLessThanOrEqual,
        4 => UnsignedGreaterThan,
        5 => UnsignedGreaterThanOrEqual,
        6 => NotEqual,
        10 => SignedLessThan,
        11 => SignedLessThanOrEqual,
        12 => SignedGreaterThan,
        _ => SignedGreaterThanOrEqual,
    }
}

/// A rule whose right-hand side needs the type of a matched value, which
/// patterns cannot name: `(name, lhs, rhs, type variable, value
/// variable, conditions)`. The type variable, bound to the scalar integer
/// type of the value variable, may appear only on the right; conditions
/// are [`PREDICATES`] applied to variables. Checked by
/// `tests/soundness.rs` like the file rules.
pub type TypedRule = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
);

/// The [`TypedRule`]s.
pub const TYPED_RULES: &[TypedRule] = &[
    // A select of two different constants compared with one of them
    // tests its condition.
    (
        "icmp-eq-select-else",
        "(icmp ?r eq (select ?t ?c (iconst ?t ?a) (iconst ?t ?b)) (iconst ?t ?b))",
        "(icmp ?r eq ?c (iconst ?tc 0))",
        "?tc",
        "?c",
        &[("distinct", &["?a", "?b"])],
    ),
    (
        "icmp-eq-select-then",
        "(icmp ?r eq (select ?t ?c (iconst ?t ?a) (iconst ?t ?b)) (iconst ?t ?a))",
        "(icmp ?r ne ?c (iconst ?tc 0))",
        "?tc",
        "?c",
        &[("distinct", &["?a", "?b"])],
    ),
    (
        "icmp-ne-select-else",
        "(icmp ?r ne (select ?t ?c (iconst ?t ?a) (iconst ?t ?b)) (iconst ?t ?b))",
        "(icmp ?r ne ?c (iconst ?tc 0))",
        "?tc",
        "?c",
        &[("distinct", &["?a", "?b"])],
    ),
    (
        "icmp-ne-select-then",
        "(icmp ?r ne (select ?t ?c (iconst ?t ?a) (iconst ?t ?b)) (iconst ?t ?a))",
        "(icmp ?r eq ?c (iconst ?tc 0))",
        "?tc",
        "?c",
        &[("distinct", &["?a", "?b"])],
    ),
    // A select of two comparisons of one value is a comparison with a
    // select (`x == a` or `x == b` as `c` says is `x == (c ? a : b)`), in
    // every operand order; the select takes the compared values' type.
    (
        "select-icmp-eq-xa-xb",
        "(select ?t ?c (icmp ?t eq ?x ?a) (icmp ?t eq ?x ?b))",
        "(icmp ?t eq ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-eq-xa-bx",
        "(select ?t ?c (icmp ?t eq ?x ?a) (icmp ?t eq ?b ?x))",
        "(icmp ?t eq ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-eq-ax-xb",
        "(select ?t ?c (icmp ?t eq ?a ?x) (icmp ?t eq ?x ?b))",
        "(icmp ?t eq ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-eq-ax-bx",
        "(select ?t ?c (icmp ?t eq ?a ?x) (icmp ?t eq ?b ?x))",
        "(icmp ?t eq ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-ne-xa-xb",
        "(select ?t ?c (icmp ?t ne ?x ?a) (icmp ?t ne ?x ?b))",
        "(icmp ?t ne ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-ne-xa-bx",
        "(select ?t ?c (icmp ?t ne ?x ?a) (icmp ?t ne ?b ?x))",
        "(icmp ?t ne ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-ne-ax-xb",
        "(select ?t ?c (icmp ?t ne ?a ?x) (icmp ?t ne ?x ?b))",
        "(icmp ?t ne ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    (
        "select-icmp-ne-ax-bx",
        "(select ?t ?c (icmp ?t ne ?a ?x) (icmp ?t ne ?b ?x))",
        "(icmp ?t ne ?x (select ?tx ?c ?a ?b))",
        "?tx",
        "?x",
        &[],
    ),
    // Extensions move out of a select.
    (
        "select-uext-uext",
        "(select ?t ?c (uextend ?t ?x) (uextend ?t ?y))",
        "(uextend ?t (select ?tx ?c ?x ?y))",
        "?tx",
        "?x",
        &[("same-type", &["?x", "?y"])],
    ),
    (
        "select-sext-sext",
        "(select ?t ?c (sextend ?t ?x) (sextend ?t ?y))",
        "(sextend ?t (select ?tx ?c ?x ?y))",
        "?tx",
        "?x",
        &[("same-type", &["?x", "?y"])],
    ),
];

struct Typed {
    rhs: Pattern<Node>,
    tyvar: Var,
    valvar: Var,
    conds: Vec<(FactPred, Vec<Var>)>,
}

impl Applier<Node, ClifAnalysis> for Typed {
    fn apply(
        &self,
        egraph: &EGraph<Node, ClifAnalysis>,
        eclass: Id,
        subst: &Subst,
        out: &mut Actions<Node>,
    ) {
        for (p, vs) in &self.conds {
            let facts: smallvec::SmallVec<[Fact; 4]> =
                vs.iter().map(|&v| egraph[subst[v]].data).collect();
            if !p(&facts) {
                return;
            }
        }
        let Some(ty) = egraph[subst[self.valvar]]
            .data
            .value_ty()
            .filter(|&t| int_bits(t).is_some())
        else {
            return;
        };
        let leaf = out.add(egraph, Node::leaf(Op::Ty(ty)));
        let r = out.instantiate(egraph, &self.rhs, subst, &[(self.tyvar, leaf)]);
        out.union(Ref::class(eclass), r);
    }

    fn vars(&self) -> Vec<Var> {
        let mut v: Vec<Var> = self
            .rhs
            .vars()
            .iter()
            .copied()
            .filter(|&x| x != self.tyvar)
            .collect();
        v.push(self.valvar);
        for (_, vs) in &self.conds {
            v.extend(vs.iter().copied());
        }
        v
    }
}

/// The predicate of [`PREDICATES`] named `name`.
pub fn predicate(name: &str) -> Option<FactPred> {
    PREDICATES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, _, f)| f)
}

/// The [`TYPED_RULES`] as rewrites.
pub fn typed_rules() -> Vec<Rewrite<Node, ClifAnalysis>> {
    TYPED_RULES
        .iter()
        .map(|&(name, lhs, rhs, tv, vv, conds)| {
            let app = Typed {
                rhs: pat(rhs),
                tyvar: var(tv),
                valvar: var(vv),
                conds: conds
                    .iter()
                    .map(|&(p, vs)| {
                        (
                            predicate(p).expect("typed rule predicate exists"),
                            vs.iter().map(|v| var(v)).collect(),
                        )
                    })
                    .collect(),
            };
            Rewrite::new(name, pat(lhs), app).expect("typed rule is well formed")
        })
        .collect()
}

/// The opcodes the right-hand side of the rule named `name`, one without
/// a pattern ([`computed_rules`], [`typed_rules`]), may create.
pub fn computed_rhs_opcodes(name: &str) -> Vec<cranelift_codegen::ir::Opcode> {
    let mut ops = vec![
        cranelift_codegen::ir::Opcode::Icmp,
        cranelift_codegen::ir::Opcode::Iconst,
    ];
    let typed = TYPED_RULES
        .iter()
        .map(|&(n, _, rhs, ..)| (n, rhs))
        .chain(CC_RULES.iter().map(|r| (r.name, r.rhs)));
    for (n, rhs) in typed {
        if n != name {
            continue;
        }
        for n in pat(rhs).ast() {
            if let saturn::ENodeOrVar::ENode(Node {
                op: Op::Inst(o), ..
            }) = n
            {
                if !ops.contains(o) {
                    ops.push(*o);
                }
            }
        }
    }
    ops
}

/// The outcome of a [`CcRule`] for one condition code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcOut {
    /// The right-hand side with `?d` bound to this condition.
    Cc(IntCC),
    /// Always this value (the result type must be an integer).
    Const(bool),
}

/// Which of the boundary values of its type an immediate `?k` is, for
/// the [`CcRule`]s that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KClass {
    /// Zero.
    Zero,
    /// All ones (the largest unsigned value).
    Ones,
    /// The smallest signed value.
    SMin,
    /// The largest signed value.
    SMax,
    /// Any other value, or a rule that does not look at one.
    Other,
}

impl KClass {
    fn of(k: u128, bits: u32) -> KClass {
        let m = mask(bits);
        if k == 0 {
            KClass::Zero
        } else if k == m {
            KClass::Ones
        } else if k == 1u128 << (bits - 1) {
            KClass::SMin
        } else if k == m >> 1 {
            KClass::SMax
        } else {
            KClass::Other
        }
    }

    /// The rule-file condition selecting this class of `?k` in type `?t`.
    fn condition(self) -> Option<&'static str> {
        match self {
            KClass::Zero => Some("(zero ?k)"),
            KClass::Ones => Some("(all-ones ?t ?k)"),
            KClass::SMin => Some("(signed-min ?t ?k)"),
            KClass::SMax => Some("(signed-max ?t ?k)"),
            KClass::Other => None,
        }
    }
}

/// A family of rules over every condition code `?c` of its left-hand
/// side, one search instead of up to ten. `map` gives, per condition (and
/// per [`KClass`] of the immediate `?k` of type `?t` when `konst`), the
/// condition `?d` of the right-hand side, a constant result, or nothing.
/// When `typed` is `(tv, vv)`, `tv` on the right is the type of value
/// `vv` (a scalar integer), as in [`TYPED_RULES`]. Expanded into plain
/// rules for the soundness tests by [`cc_rules_text`] and
/// [`cc_typed_expansions`].
pub struct CcRule {
    /// The rule's name.
    pub name: &'static str,
    /// The left-hand side (with `?c`).
    pub lhs: &'static str,
    /// The right-hand side (with `?d`).
    pub rhs: &'static str,
    /// The outcome per condition code and class of `?k`.
    pub map: fn(IntCC, KClass) -> Option<CcOut>,
    /// Whether the outcome depends on the class of `?k` (of type `?t`).
    pub konst: bool,
    /// A type variable of the right-hand side and the value it is the
    /// type of.
    pub typed: Option<(&'static str, &'static str)>,
}

fn cc_code(c: IntCC) -> u8 {
    cc_parts(c).0
}

/// The comparison of a min (or max, `max`) with its first operand,
/// signed or not, as a comparison of the operands: `min(x, y) ?c x`.
fn minmax_cc(c: IntCC, signed: bool, max: bool) -> Option<CcOut> {
    use IntCC::*;
    let (s, class) = cc_parts(c);
    if class != 3 && class != if signed { 2 } else { 1 } {
        return None;
    }
    // `min(x, y)` equals x when `x <= y`, else it is less (a max: greater).
    let (le, gt) = match (signed, max) {
        (true, false) => (SignedLessThanOrEqual, SignedGreaterThan),
        (false, false) => (UnsignedLessThanOrEqual, UnsignedGreaterThan),
        (true, true) => (SignedGreaterThanOrEqual, SignedLessThan),
        (false, true) => (UnsignedGreaterThanOrEqual, UnsignedLessThan),
    };
    let other = if max { 4 } else { 2 };
    Some(match (s & 1 != 0, s & other != 0) {
        (true, true) => CcOut::Const(true),
        (false, false) => CcOut::Const(false),
        (true, false) => CcOut::Cc(le),
        (false, true) => CcOut::Cc(gt),
    })
}

/// Comparisons with a boundary value of the type.
fn bounds_cc(c: IntCC, k: KClass) -> Option<CcOut> {
    use CcOut::{Cc, Const};
    use IntCC::*;
    Some(match (k, c) {
        (KClass::Zero, UnsignedLessThan) => Const(false),
        (KClass::Zero, UnsignedGreaterThanOrEqual) => Const(true),
        (KClass::Zero, UnsignedLessThanOrEqual) => Cc(Equal),
        (KClass::Zero, UnsignedGreaterThan) => Cc(NotEqual),
        (KClass::Ones, UnsignedGreaterThan) => Const(false),
        (KClass::Ones, UnsignedLessThanOrEqual) => Const(true),
        (KClass::Ones, UnsignedGreaterThanOrEqual) => Cc(Equal),
        (KClass::Ones, UnsignedLessThan) => Cc(NotEqual),
        (KClass::SMin, SignedLessThan) => Const(false),
        (KClass::SMin, SignedGreaterThanOrEqual) => Const(true),
        (KClass::SMin, SignedLessThanOrEqual) => Cc(Equal),
        (KClass::SMin, SignedGreaterThan) => Cc(NotEqual),
        (KClass::SMax, SignedGreaterThan) => Const(false),
        (KClass::SMax, SignedLessThanOrEqual) => Const(true),
        (KClass::SMax, SignedGreaterThanOrEqual) => Cc(Equal),
        (KClass::SMax, SignedLessThan) => Cc(NotEqual),
        _ => return None,
    })
}

/// `eq` and `ne` only, unchanged.
fn eq_ne(c: IntCC, _: KClass) -> Option<CcOut> {
    matches!(c, IntCC::Equal | IntCC::NotEqual).then_some(CcOut::Cc(c))
}

/// A [`CcRule`] without an immediate class or typed variable.
const fn cc_rule(
    name: &'static str,
    lhs: &'static str,
    rhs: &'static str,
    map: fn(IntCC, KClass) -> Option<CcOut>,
) -> CcRule {
    CcRule {
        name,
        lhs,
        rhs,
        map,
        konst: false,
        typed: None,
    }
}

/// The [`CcRule`]s.
pub const CC_RULES: &[CcRule] = &[
    // x ?c x.
    cc_rule(
        "icmp-self",
        "(icmp ?r ?c ?x ?x)",
        "(iconst ?r 0)",
        |c, _| Some(CcOut::Const(cc_code(c) & 1 != 0)),
    ),
    // Comparisons with the smallest or largest value of the type.
    CcRule {
        name: "icmp-bounds",
        lhs: "(icmp ?r ?c ?x (iconst ?t ?k))",
        rhs: "(icmp ?r ?d ?x (iconst ?t ?k))",
        map: bounds_cc,
        konst: true,
        typed: None,
    },
    // Negations of a comparison (0 or 1).
    cc_rule(
        "icmp-eq0-icmp",
        "(icmp ?r eq (icmp ?r ?c ?x ?y) (iconst ?r 0))",
        "(icmp ?r ?d ?x ?y)",
        |c, _| Some(CcOut::Cc(c.complement())),
    ),
    cc_rule(
        "icmp-ne1-icmp",
        "(icmp ?r ne (icmp ?r ?c ?x ?y) (iconst ?r 1))",
        "(icmp ?r ?d ?x ?y)",
        |c, _| Some(CcOut::Cc(c.complement())),
    ),
    cc_rule(
        "bxor1-icmp",
        "(bxor ?r (icmp ?r ?c ?x ?y) (iconst ?r 1))",
        "(icmp ?r ?d ?x ?y)",
        |c, _| Some(CcOut::Cc(c.complement())),
    ),
    // `bnot` reverses both orders.
    cc_rule(
        "icmp-bnot-bnot",
        "(icmp ?r ?c (bnot ?t ?x) (bnot ?t ?y))",
        "(icmp ?r ?d ?x ?y)",
        |c, _| Some(CcOut::Cc(c.swap_args())),
    ),
    // A min or max compared with one of its operands.
    cc_rule(
        "icmp-smin-x",
        "(icmp ?r ?c (smin ?t ?x ?y) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, true, false),
    ),
    cc_rule(
        "icmp-smin-y",
        "(icmp ?r ?c (smin ?t ?y ?x) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, true, false),
    ),
    cc_rule(
        "icmp-umin-x",
        "(icmp ?r ?c (umin ?t ?x ?y) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, false, false),
    ),
    cc_rule(
        "icmp-umin-y",
        "(icmp ?r ?c (umin ?t ?y ?x) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, false, false),
    ),
    cc_rule(
        "icmp-smax-x",
        "(icmp ?r ?c (smax ?t ?x ?y) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, true, true),
    ),
    cc_rule(
        "icmp-smax-y",
        "(icmp ?r ?c (smax ?t ?y ?x) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, true, true),
    ),
    cc_rule(
        "icmp-umax-x",
        "(icmp ?r ?c (umax ?t ?x ?y) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, false, true),
    ),
    cc_rule(
        "icmp-umax-y",
        "(icmp ?r ?c (umax ?t ?y ?x) ?x)",
        "(icmp ?r ?d ?x ?y)",
        |c, _| minmax_cc(c, false, true),
    ),
    // Equality is unchanged by subtracting, adding or xoring the same
    // value (icmp.isle, cprop.isle).
    cc_rule(
        "icmp-isub-0",
        "(icmp ?r ?c (isub ?t ?x ?y) (iconst ?t 0))",
        "(icmp ?r ?d ?x ?y)",
        eq_ne,
    ),
    cc_rule(
        "icmp-bxor-0",
        "(icmp ?r ?c (bxor ?t ?x ?y) (iconst ?t 0))",
        "(icmp ?r ?d ?x ?y)",
        eq_ne,
    ),
    cc_rule(
        "icmp-iadd-k",
        "(icmp ?r ?c (iadd ?t ?x (iconst ?t ?a)) (iconst ?t ?b))",
        "(icmp ?r ?d ?x (isub ?t (iconst ?t ?b) (iconst ?t ?a)))",
        eq_ne,
    ),
    cc_rule(
        "icmp-iadd-same",
        "(icmp ?r ?c (iadd ?t ?x ?z) (iadd ?t ?y ?z))",
        "(icmp ?r ?d ?x ?y)",
        eq_ne,
    ),
    cc_rule(
        "icmp-isub-same",
        "(icmp ?r ?c (isub ?t ?x ?y) (isub ?t ?x ?z))",
        "(icmp ?r ?d ?y ?z)",
        eq_ne,
    ),
    cc_rule(
        "icmp-iadd-iadd-k",
        "(icmp ?r ?c (iadd ?t ?x (iconst ?t ?a)) (iadd ?t ?y (iconst ?t ?b)))",
        "(icmp ?r ?d ?x (iadd ?t ?y (isub ?t (iconst ?t ?b) (iconst ?t ?a))))",
        eq_ne,
    ),
    cc_rule(
        "icmp-isub-isub-k",
        "(icmp ?r ?c (isub ?t (iconst ?t ?a) ?x) (isub ?t (iconst ?t ?b) ?y))",
        "(icmp ?r ?d ?y (iadd ?t ?x (isub ?t (iconst ?t ?b) (iconst ?t ?a))))",
        eq_ne,
    ),
    // An extension compared with zero: the value itself (a zero
    // extension is never negative).
    CcRule {
        name: "icmp-uext-0",
        lhs: "(icmp ?r ?c (uextend ?t ?x) (iconst ?t 0))",
        rhs: "(icmp ?r ?d ?x (iconst ?tx 0))",
        map: |c, _| {
            use IntCC::*;
            Some(match c {
                Equal | NotEqual => CcOut::Cc(c),
                SignedGreaterThan => CcOut::Cc(NotEqual),
                SignedLessThanOrEqual => CcOut::Cc(Equal),
                SignedLessThan => CcOut::Const(false),
                SignedGreaterThanOrEqual => CcOut::Const(true),
                _ => return None,
            })
        },
        konst: false,
        typed: Some(("?tx", "?x")),
    },
    CcRule {
        name: "icmp-sext-0",
        lhs: "(icmp ?r ?c (sextend ?t ?x) (iconst ?t 0))",
        rhs: "(icmp ?r ?d ?x (iconst ?tx 0))",
        map: |c, _| (cc_parts(c).1 != 1).then_some(CcOut::Cc(c)),
        konst: false,
        typed: Some(("?tx", "?x")),
    },
];

/// Every condition code.
pub const ALL_CCS: [IntCC; 10] = [
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

const KCLASSES: [KClass; 4] = [KClass::Zero, KClass::Ones, KClass::SMin, KClass::SMax];

/// The plain rules a [`CcRule`] stands for: `(name, lhs, rhs, conditions)`
/// per condition code (and class of `?k`) with an outcome.
fn cc_expansions(r: &CcRule) -> Vec<(String, String, String, Vec<String>)> {
    let mut v = vec![];
    let classes: &[KClass] = if r.konst { &KCLASSES } else { &[KClass::Other] };
    for c in ALL_CCS {
        for &k in classes {
            let Some(out) = (r.map)(c, k) else { continue };
            let mut conds: Vec<String> = k.condition().map(str::to_owned).into_iter().collect();
            let rhs = match out {
                CcOut::Cc(d) => r.rhs.replace("?d", &d.to_string()),
                CcOut::Const(b) => {
                    conds.push("(int ?r)".into());
                    format!("(iconst ?r {})", b as u8)
                }
            };
            let name = match k {
                KClass::Other => format!("{}-{c}", r.name),
                _ => format!("{}-{c}-{k:?}", r.name),
            };
            v.push((name, r.lhs.replace("?c", &c.to_string()), rhs, conds));
        }
    }
    v
}

/// The untyped [`CC_RULES`] (and the constant outcomes of typed ones) as
/// plain rule-file text, for the soundness tests.
pub fn cc_rules_text() -> String {
    let mut s = String::from("[cc]\n");
    for r in CC_RULES {
        for (name, lhs, rhs, conds) in cc_expansions(r) {
            if r.typed.is_some() && rhs.contains(r.typed.map_or("", |t| t.0)) {
                continue;
            }
            let conds: String = conds.iter().map(|c| format!(" if {c}")).collect();
            s.push_str(&format!("{name}: {lhs} => {rhs}{conds}\n"));
        }
    }
    s
}

/// The typed outcomes of the [`CC_RULES`], as `(name, lhs, rhs, type
/// variable, value variable)`, for the soundness tests.
pub fn cc_typed_expansions() -> Vec<(String, String, String, String, String)> {
    let mut v = vec![];
    for r in CC_RULES {
        let Some((tv, vv)) = r.typed else { continue };
        for (name, lhs, rhs, conds) in cc_expansions(r) {
            if rhs.contains(tv) {
                assert!(conds.is_empty(), "typed cc rules have no conditions");
                v.push((name, lhs, rhs, tv.to_owned(), vv.to_owned()));
            }
        }
    }
    v
}

struct CcMapped {
    rhs: Pattern<Node>,
    map: fn(IntCC, KClass) -> Option<CcOut>,
    konst: bool,
    typed: Option<(Var, Var)>,
    zero: Pattern<Node>,
    one: Pattern<Node>,
}

impl Applier<Node, ClifAnalysis> for CcMapped {
    fn apply(
        &self,
        egraph: &EGraph<Node, ClifAnalysis>,
        eclass: Id,
        subst: &Subst,
        out: &mut Actions<Node>,
    ) {
        let Fact::Cc(c) = egraph[subst[var("?c")]].data else {
            return;
        };
        let k = if self.konst {
            match (
                egraph[subst[var("?k")]].data.as_imm(),
                ty_bits(egraph[subst[var("?t")]].data),
            ) {
                (Some(k), Some(bits)) => KClass::of(k, bits),
                _ => return,
            }
        } else {
            KClass::Other
        };
        let r = match (self.map)(c, k) {
            None => return,
            Some(CcOut::Cc(d)) => {
                let leaf = out.add(egraph, Node::leaf(Op::Cc(d)));
                let mut extra = vec![(var("?d"), leaf)];
                if let Some((tv, vv)) = self.typed {
                    let Some(ty) = egraph[subst[vv]]
                        .data
                        .value_ty()
                        .filter(|&t| int_bits(t).is_some())
                    else {
                        return;
                    };
                    extra.push((tv, out.add(egraph, Node::leaf(Op::Ty(ty)))));
                }
                out.instantiate(egraph, &self.rhs, subst, &extra)
            }
            Some(CcOut::Const(b)) => {
                if ty_bits(egraph[subst[var("?r")]].data).is_none() {
                    return;
                }
                let p = if b { &self.one } else { &self.zero };
                out.instantiate(egraph, p, subst, &[])
            }
        };
        out.union(Ref::class(eclass), r);
    }

    fn vars(&self) -> Vec<Var> {
        let skip = |x: Var| x == var("?d") || self.typed.is_some_and(|(tv, _)| tv == x);
        let mut v: Vec<Var> = self
            .rhs
            .vars()
            .iter()
            .copied()
            .filter(|&x| !skip(x))
            .collect();
        v.push(var("?c"));
        v.push(var("?r"));
        if self.konst {
            v.push(var("?k"));
            v.push(var("?t"));
        }
        if let Some((_, vv)) = self.typed {
            v.push(vv);
        }
        v
    }
}

/// The [`CC_RULES`] as rewrites.
pub fn cc_rules() -> Vec<Rewrite<Node, ClifAnalysis>> {
    CC_RULES
        .iter()
        .map(|r| {
            let app = CcMapped {
                rhs: pat(r.rhs),
                map: r.map,
                konst: r.konst,
                typed: r.typed.map(|(t, v)| (var(t), var(v))),
                zero: pat("(iconst ?r 0)"),
                one: pat("(iconst ?r 1)"),
            };
            Rewrite::new(r.name, pat(r.lhs), app).expect("cc rule is well formed")
        })
        .collect()
}

/// The predicate table for [`parse_rules`].
pub fn predicates() -> Predicates<Node, ClifAnalysis> {
    let mut p = Predicates::default();
    for &(name, arity, f) in PREDICATES {
        p = p.with(
            name,
            arity,
            move |eg: &EGraph<Node, ClifAnalysis>, ids: &[Id]| {
                let facts: smallvec::SmallVec<[Fact; 4]> =
                    ids.iter().map(|&i| eg[i].data).collect();
                f(&facts)
            },
        );
    }
    p
}

/// A rule file's name and its parsed rules.
pub type NamedRuleSet = (&'static str, RuleSet<Node, ClifAnalysis>);

/// Operators whose two value operands commute.
const COMMUTATIVE: &[&str] = &[
    "iadd", "imul", "band", "bor", "bxor", "umin", "umax", "smin", "smax",
];

/// A parsed s-expression of a rule's left-hand side.
#[derive(Clone, PartialEq)]
enum Sx {
    Atom(String),
    List(Vec<Sx>),
}

impl std::fmt::Display for Sx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sx::Atom(a) => write!(f, "{a}"),
            Sx::List(xs) => {
                write!(f, "(")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, ")")
            }
        }
    }
}

fn parse_sx(toks: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> Option<Sx> {
    let t = toks.next()?;
    if t == "(" {
        let mut xs = vec![];
        while toks.peek()? != ")" {
            xs.push(parse_sx(toks)?);
        }
        toks.next();
        Some(Sx::List(xs))
    } else if t == ")" {
        None
    } else {
        Some(Sx::Atom(t))
    }
}

fn sx_of(s: &str) -> Option<Sx> {
    let toks: Vec<String> = s
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut it = toks.into_iter().peekable();
    let r = parse_sx(&mut it)?;
    it.next().is_none().then_some(r)
}

fn is_iconst(x: &Sx) -> bool {
    matches!(x, Sx::List(xs) if matches!(xs.first(), Some(Sx::Atom(a)) if a == "iconst"))
}

/// Every operand order of `x`'s commutative operators (constants stay on
/// the right, where lowering puts them), without repeats.
fn commutations(x: &Sx) -> Vec<Sx> {
    let Sx::List(xs) = x else {
        return vec![x.clone()];
    };
    let mut out: Vec<Vec<Sx>> = vec![vec![]];
    for c in xs {
        let alts = commutations(c);
        out = out
            .into_iter()
            .flat_map(|p| {
                alts.iter().map(move |a| {
                    let mut q = p.clone();
                    q.push(a.clone());
                    q
                })
            })
            .collect();
    }
    let commutes = matches!(xs.first(), Some(Sx::Atom(a)) if COMMUTATIVE.contains(&a.as_str()))
        && xs.len() == 4
        && !is_iconst(&xs[2])
        && !is_iconst(&xs[3]);
    let mut res: Vec<Sx> = vec![];
    for p in out {
        let mut variants = vec![p.clone()];
        if commutes {
            let mut q = p;
            q.swap(2, 3);
            variants.push(q);
        }
        for v in variants {
            let v = Sx::List(v);
            if !res.contains(&v) {
                res.push(v);
            }
        }
    }
    res
}

/// Expands rules whose name ends in `*` into one rule per operand order of
/// the commutative operators of their left-hand side (`name`, `name-c1`,
/// ...). Other lines are kept as they are.
pub fn expand_commutative(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let expanded = (|| {
            let (name, rest) = line.split_once(':')?;
            let name = name.trim().strip_suffix('*')?;
            if name.starts_with(';') {
                return None;
            }
            let (lhs, rhs) = rest.split_once("=>")?;
            let variants = commutations(&sx_of(lhs.trim())?);
            let mut s = String::new();
            for (i, v) in variants.iter().enumerate() {
                let n = if i == 0 {
                    name.to_owned()
                } else {
                    format!("{name}-c{i}")
                };
                s.push_str(&format!("{n}: {v} =>{rhs}\n"));
            }
            Some(s)
        })();
        match expanded {
            Some(s) => out.push_str(&s),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Parses every rule file; errors name the file, line and column.
pub fn load_rule_sets() -> Result<Vec<NamedRuleSet>, String> {
    let preds = predicates();
    RULE_FILES
        .iter()
        .map(|&(name, text)| {
            parse_rules(&expand_commutative(text), &preds)
                .map(|s| (name, s))
                .map_err(|e| format!("rules/{name}:{}:{}: {}", e.pos.line, e.pos.col, e.message))
        })
        .collect()
}

/// All rules of all files, in file order, then the [`computed_rules`].
pub fn all_rules() -> Result<Vec<Rewrite<Node, ClifAnalysis>>, String> {
    let mut rules: Vec<_> = load_rule_sets()?
        .into_iter()
        .flat_map(|(_, s)| s.rules)
        .collect();
    rules.extend(computed_rules());
    rules.extend(typed_rules());
    rules.extend(cc_rules());
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_commutative_operand_orders() {
        let text = "[p]\nr*: (band ?t ?x (bor ?t ?y (iconst ?t 1))) => ?x\nq: (bnot ?t ?x) => ?x\n";
        let out = expand_commutative(text);
        let lines: Vec<&str> = out.lines().collect();
        // `band` commutes; `bor` keeps its constant on the right.
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(lines[1], "r: (band ?t ?x (bor ?t ?y (iconst ?t 1))) => ?x");
        assert_eq!(
            lines[2],
            "r-c1: (band ?t (bor ?t ?y (iconst ?t 1)) ?x) => ?x"
        );
        assert_eq!(lines[3], "q: (bnot ?t ?x) => ?x");
    }

    #[test]
    fn every_rule_file_parses_after_expansion() {
        assert!(all_rules().expect("rules parse").len() > 300);
    }
}
