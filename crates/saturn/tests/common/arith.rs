//! Arithmetic with constant folding, shared by the tests of analyses
//! (`analysis.rs`), of parallel against sequential runs (`differential.rs`)
//! and of limits (`limits.rs`): `modify` adds the folded constant to its
//! class and unions it in, as egg's constant folding does, so rebuilds
//! and commits add nodes and unions.

use saturn::{define_language, merge_option, Analysis, DidMerge, EGraph, Id, Symbol};

define_language! {
    /// Arithmetic for constant folding.
    pub enum Arith {
        "+" = Add([Id; 2]),
        "*" = Mul([Id; 2]),
        "neg" = Neg(Id),
        Num(i64),
        Var(Symbol),
    }
}

/// The constant `n` folds to, from its children's constants (`data`).
pub fn fold(n: &Arith, data: impl Fn(Id) -> Option<i64>) -> Option<i64> {
    match n {
        Arith::Num(k) => Some(*k),
        Arith::Add([a, b]) => data(*a)?.checked_add(data(*b)?),
        Arith::Mul([a, b]) => data(*a)?.checked_mul(data(*b)?),
        Arith::Neg(a) => data(*a)?.checked_neg(),
        Arith::Var(_) => None,
    }
}

/// Constant folding: a class's data is its constant, if any; merged
/// classes must agree on it.
#[derive(Default)]
pub struct Fold;

impl Analysis<Arith> for Fold {
    type Data = Option<i64>;
    fn make(eg: &EGraph<Arith, Self>, n: &Arith) -> Option<i64> {
        fold(n, |i| eg[i].data)
    }
    fn merge(&self, to: &mut Option<i64>, from: Option<i64>) -> DidMerge {
        merge_option(to, from, |a, b| {
            assert_eq!(*a, b, "merged classes with different constants");
            DidMerge(false, false)
        })
    }
    fn modify(eg: &mut EGraph<Arith, Self>, id: Id) {
        if let Some(k) = eg[id].data {
            let c = eg.add(Arith::Num(k));
            eg.union(id, c);
        }
    }
}
