//! The rewrite rules: data files in `rules/`, compiled in with
//! `include_str!`, plus the predicates their `if` conditions use.
//!
//! Predicates are plain functions of the matched classes' [`Fact`]s, so the
//! soundness tests can run the very same conditions on concrete values.

use saturn::rules::{parse_rules, Predicates, RuleSet};
use std::str::FromStr;

use saturn::{Actions, Applier, EGraph, Id, Pattern, Ref, Rewrite, Subst, Var};

use cranelift_codegen::ir::condcodes::IntCC;

use crate::analysis::{ClifAnalysis, Fact};
use crate::eval::{int_bits, mask};
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
    // ?k is all ones in type ?t.
    ("all-ones", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k == mask(b),
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
    // shift amount ?k on type ?t is in range (and not zero).
    ("shift-ok", 2, |f| match (ty_bits(f[0]), f[1].as_imm()) {
        (Some(b), Some(k)) => k > 0 && k < b as u128,
        _ => false,
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
        v.push((format!("icmp-{name}-icmp"), lhs, Kind::Combine(op)));
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
    /// `band` (0), `bor` (1), `bxor` (2) of comparisons `?a`, `?b`.
    Combine(u8),
    /// Spaceship, signed or not, with the subtraction's type variable.
    Spaceship(bool, &'static str),
}

struct Computed {
    kind: Kind,
    icmp: Pattern<Node>,
    zero: Pattern<Node>,
    one: Pattern<Node>,
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
            Kind::Combine(op) => match (fact("?a"), fact("?b")) {
                (Fact::Cc(a), Fact::Cc(b)) => cc_combine(op, a, b),
                _ => None,
            },
            Kind::Spaceship(signed, tv) => match (fact("?c"), fact("?k"), ty_bits(fact(tv))) {
                (Fact::Cc(c), Fact::Imm(k), Some(bits)) => Some(spaceship_code(c, k, bits, signed)),
                _ => None,
            },
        };
        let Some(code) = code else {
            return;
        };
        let is_int = ty_bits(fact("?r")).is_some();
        let r = match code {
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
        ["?r", "?x", "?y"].iter().map(|v| var(v)).collect()
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

/// Parses every rule file; errors name the file, line and column.
pub fn load_rule_sets() -> Result<Vec<NamedRuleSet>, String> {
    let preds = predicates();
    RULE_FILES
        .iter()
        .map(|&(name, text)| {
            parse_rules(text, &preds)
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
    Ok(rules)
}
