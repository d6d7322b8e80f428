//! The rewrite rules: data files in `rules/`, compiled in with
//! `include_str!`, plus the predicates their `if` conditions use.
//!
//! Predicates are plain functions of the matched classes' [`Fact`]s, so the
//! soundness tests can run the very same conditions on concrete values.

use saturn::rules::{parse_rules, Predicates, RuleSet};
use saturn::{EGraph, Id, Rewrite};

use crate::analysis::{ClifAnalysis, Fact};
use crate::eval::{int_bits, mask};
use crate::lang::Node;

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
    ("spaceship.rules", include_str!("../rules/spaceship.rules")),
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
];

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

/// All rules of all files, in file order.
pub fn all_rules() -> Result<Vec<Rewrite<Node, ClifAnalysis>>, String> {
    Ok(load_rule_sets()?
        .into_iter()
        .flat_map(|(_, s)| s.rules)
        .collect())
}
