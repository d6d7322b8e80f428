//! E-class analyses: facts attached to each class, kept up to date.
//!
//! An analysis gives every class a `Data` value: [`Analysis::make`] computes
//! it for a new node from its children's data, [`Analysis::merge`] joins two
//! classes' data when they are unioned (and when a node's recomputed data
//! arrives during rebuild), and [`Analysis::modify`] may then change the
//! class, for example by adding the constant a class was folded to.
//!
//! `make` and `merge` take shared references so the engine can call them
//! from parallel phases; `modify` takes the e-graph mutably and runs at the
//! sequential points.

use std::fmt::Debug;

use crate::{EGraph, Id, Language};

/// What a merge changed: `.0` is true when the first (kept) value changed,
/// `.1` when the result differs from the second value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DidMerge(pub bool, pub bool);

impl std::ops::BitOr for DidMerge {
    type Output = DidMerge;
    fn bitor(self, o: DidMerge) -> DidMerge {
        DidMerge(self.0 || o.0, self.1 || o.1)
    }
}

/// An e-class analysis.
///
/// A constant-folding analysis for a tiny arithmetic language:
/// ```
/// use saturn::*;
/// define_language! {
///     enum Arith { "+" = Add([Id; 2]), "*" = Mul([Id; 2]), Num(i64), Var(Symbol), }
/// }
/// #[derive(Default)]
/// struct Fold;
/// impl Analysis<Arith> for Fold {
///     type Data = Option<i64>;
///     fn make(eg: &EGraph<Arith, Self>, n: &Arith) -> Option<i64> {
///         let c = |i: &Id| eg[*i].data;
///         match n {
///             Arith::Num(k) => Some(*k),
///             Arith::Add([a, b]) => c(a)?.checked_add(c(b)?),
///             Arith::Mul([a, b]) => c(a)?.checked_mul(c(b)?),
///             Arith::Var(_) => None,
///         }
///     }
///     fn merge(&self, to: &mut Option<i64>, from: Option<i64>) -> DidMerge {
///         merge_option(to, from, |a, b| { assert_eq!(*a, b); DidMerge(false, false) })
///     }
///     fn modify(eg: &mut EGraph<Arith, Self>, id: Id) {
///         if let Some(k) = eg[id].data {
///             let c = eg.add(Arith::Num(k));
///             eg.union(id, c);
///         }
///     }
/// }
/// let mut eg = EGraph::<Arith, Fold>::default();
/// let e = eg.add_expr(&"(+ 2 (* 3 4))".parse().unwrap());
/// eg.rebuild();
/// assert_eq!(eg[e].data, Some(14));
/// assert_eq!(eg.lookup(Arith::Num(14)).map(|c| eg.find(c)), Some(eg.find(e)));
/// ```
pub trait Analysis<L: Language>: Sized + Send + Sync + 'static {
    /// The per-class fact.
    type Data: Debug + Clone + Send + Sync;

    /// The data of a new node, from its children's classes.
    fn make(egraph: &EGraph<L, Self>, enode: &L) -> Self::Data;

    /// Joins `b` into `a`.
    fn merge(&self, a: &mut Self::Data, b: Self::Data) -> DidMerge;

    /// Called after a class is created or its data changed.
    fn modify(_egraph: &mut EGraph<L, Self>, _id: Id) {}
}

impl<L: Language> Analysis<L> for () {
    type Data = ();
    fn make(_: &EGraph<L, Self>, _: &L) {}
    fn merge(&self, _: &mut (), _: ()) -> DidMerge {
        DidMerge(false, false)
    }
}

/// Merges two `Option`s: `None` is "unknown", `Some` wins; two `Some`s are
/// merged by `merge_fn`.
pub fn merge_option<T>(
    to: &mut Option<T>,
    from: Option<T>,
    merge_fn: impl FnOnce(&mut T, T) -> DidMerge,
) -> DidMerge {
    match (to.as_mut(), from) {
        (None, None) => DidMerge(false, false),
        (None, from @ Some(_)) => {
            *to = from;
            DidMerge(true, false)
        }
        (Some(_), None) => DidMerge(false, true),
        (Some(a), Some(b)) => merge_fn(a, b),
    }
}

/// Merges by taking the maximum.
pub fn merge_max<T: Ord>(to: &mut T, from: T) -> DidMerge {
    let cmp = (*to).cmp(&from);
    match cmp {
        std::cmp::Ordering::Less => {
            *to = from;
            DidMerge(true, false)
        }
        std::cmp::Ordering::Equal => DidMerge(false, false),
        std::cmp::Ordering::Greater => DidMerge(false, true),
    }
}

/// Merges by taking the minimum.
pub fn merge_min<T: Ord>(to: &mut T, from: T) -> DidMerge {
    let cmp = (*to).cmp(&from);
    match cmp {
        std::cmp::Ordering::Less => DidMerge(false, true),
        std::cmp::Ordering::Equal => DidMerge(false, false),
        std::cmp::Ordering::Greater => {
            *to = from;
            DidMerge(true, false)
        }
    }
}
