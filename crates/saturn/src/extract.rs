//! Tree-cost extraction: the cheapest term of each class.
//!
//! Costs are computed by a fixpoint over the classes (a class's cost is the
//! least cost of its nodes, a node's cost its own plus its children's), so
//! cycles are handled: a class whose every node needs itself never gets a
//! finite cost. Ties are broken by the nodes' order (operator first, then
//! children ids), so the result never depends on hashing or thread timing.

use std::collections::VecDeque;
use std::fmt::Debug;

use crate::{Analysis, EClass, EGraph, Id, Language, RecExpr};

/// A cost for nodes; `Ord` picks the best.
pub trait CostFunction<L: Language> {
    /// The cost type.
    type Cost: PartialOrd + Debug + Clone;

    /// The cost of `enode` given its children's best costs.
    fn cost<C: FnMut(Id) -> Self::Cost>(&mut self, enode: &L, costs: C) -> Self::Cost;
}

/// Number of nodes in the term.
#[derive(Debug, Clone, Copy, Default)]
pub struct AstSize;

impl<L: Language> CostFunction<L> for AstSize {
    type Cost = usize;
    fn cost<C: FnMut(Id) -> usize>(&mut self, enode: &L, mut costs: C) -> usize {
        enode.fold(1usize, |s, c| s.saturating_add(costs(c)))
    }
}

/// Depth of the term.
#[derive(Debug, Clone, Copy, Default)]
pub struct AstDepth;

impl<L: Language> CostFunction<L> for AstDepth {
    type Cost = usize;
    fn cost<C: FnMut(Id) -> usize>(&mut self, enode: &L, mut costs: C) -> usize {
        1 + enode.fold(0usize, |s, c| s.max(costs(c)))
    }
}

/// The best node and cost of every class.
///
/// ```
/// use saturn::*;
/// let mut eg = EGraph::<SymbolLang, ()>::default();
/// let a = eg.add_expr(&"(* x 1)".parse().unwrap());
/// let b = eg.add_expr(&"x".parse().unwrap());
/// eg.union(a, b);
/// eg.rebuild();
/// let ex = Extractor::new(&eg, AstSize);
/// assert_eq!(ex.find_best(a), (1, "x".parse().unwrap()));
/// ```
pub struct Extractor<'a, CF: CostFunction<L>, L: Language, N: Analysis<L>> {
    cost_function: CF,
    costs: Vec<Option<(CF::Cost, L)>>,
    egraph: &'a EGraph<L, N>,
}

impl<'a, CF, L, N> Extractor<'a, CF, L, N>
where
    CF: CostFunction<L>,
    L: Language,
    N: Analysis<L>,
{
    /// Computes the best node of every class.
    pub fn new(egraph: &'a EGraph<L, N>, cost_function: CF) -> Self {
        let mut ex = Extractor {
            cost_function,
            costs: vec![None; egraph.number_of_ids()],
            egraph,
        };
        ex.fixpoint();
        ex
    }

    /// Every class once in id order, then again each time a child's
    /// cost improves (its parents are queued): a class whose children come
    /// before it, the usual case, is done on its first visit. (Sweeping
    /// every class until a sweep changes nothing took two or three
    /// sweeps, the last one only to confirm.) With a cost function where a
    /// node costs more than each of its children, as [`AstSize`] and
    /// [`AstDepth`] do, the result is the least fixed point, as sweeps
    /// reach it; in any case the order is fixed, so the result does not
    /// depend on timing.
    fn fixpoint(&mut self) {
        let eg = self.egraph;
        let mut queue: VecDeque<Id> = eg.classes().map(|c| c.id).collect();
        let mut queued = vec![false; self.costs.len()];
        for id in &queue {
            queued[id.index()] = true;
        }
        while let Some(id) = queue.pop_front() {
            queued[id.index()] = false;
            let class = &eg[id];
            let new = self.best_node(class);
            let old = &self.costs[id.index()];
            let better = match (old, &new) {
                (None, Some(_)) => true,
                (Some((oc, on)), Some((nc, nn))) => {
                    nc < oc || (nc.partial_cmp(oc) == Some(std::cmp::Ordering::Equal) && nn < on)
                }
                _ => false,
            };
            if better {
                self.costs[id.index()] = new;
                for &p in class.parents() {
                    let r = eg.find(p);
                    if !queued[r.index()] {
                        queued[r.index()] = true;
                        queue.push_back(r);
                    }
                }
            }
        }
    }

    fn best_node(&mut self, class: &EClass<L, N::Data>) -> Option<(CF::Cost, L)> {
        let mut best: Option<(CF::Cost, L)> = None;
        for n in &class.nodes {
            if !n.all(|c| self.costs[self.egraph.find(c).index()].is_some()) {
                continue;
            }
            let costs = &self.costs;
            let eg = self.egraph;
            let c = self.cost_function.cost(n, |id| {
                costs[eg.find(id).index()]
                    .as_ref()
                    .expect("child has a cost")
                    .0
                    .clone()
            });
            let take = match &best {
                None => true,
                Some((bc, bn)) => {
                    c < *bc || (c.partial_cmp(bc) == Some(std::cmp::Ordering::Equal) && n < bn)
                }
            };
            if take {
                best = Some((c, n.clone()));
            }
        }
        best
    }

    /// The best cost of `id`'s class (`None` if it has no finite term).
    pub fn find_best_cost(&self, id: Id) -> Option<CF::Cost> {
        self.costs[self.egraph.find(id).index()]
            .as_ref()
            .map(|(c, _)| c.clone())
    }

    /// The best node of `id`'s class.
    pub fn find_best_node(&self, id: Id) -> Option<&L> {
        self.costs[self.egraph.find(id).index()]
            .as_ref()
            .map(|(_, n)| n)
    }

    /// The best term of `id`'s class and its cost.
    ///
    /// # Panics
    /// If the class has no finite term (every node is on a cycle); use
    /// [`Extractor::try_find_best`] to get `None` instead.
    pub fn find_best(&self, id: Id) -> (CF::Cost, RecExpr<L>) {
        self.try_find_best(id)
            .expect("class has no finite term (every node is on a cycle)")
    }

    /// The best term of `id`'s class and its cost, if it has one.
    pub fn try_find_best(&self, id: Id) -> Option<(CF::Cost, RecExpr<L>)> {
        let cost = self.find_best_cost(id)?;
        let mut expr = RecExpr::default();
        let mut memo: rustc_hash::FxHashMap<Id, Id> = Default::default();
        self.build(self.egraph.find(id), &mut expr, &mut memo);
        Some((cost, expr))
    }

    fn build(&self, id: Id, expr: &mut RecExpr<L>, memo: &mut rustc_hash::FxHashMap<Id, Id>) -> Id {
        if let Some(&e) = memo.get(&id) {
            return e;
        }
        let node = self.find_best_node(id).expect("has a cost").clone();
        let node = node.map_children(|c| self.build(self.egraph.find(c), expr, memo));
        let e = expr.add(node);
        memo.insert(id, e);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SymbolLang;
    use proptest::prelude::*;

    /// The fixed point by sweeps over every class until one changes
    /// nothing (the algorithm before the work list), as the oracle.
    fn by_sweeps<CF: CostFunction<SymbolLang>>(
        eg: &EGraph<SymbolLang, ()>,
        cf: CF,
    ) -> Vec<Option<(CF::Cost, SymbolLang)>> {
        let mut ex = Extractor {
            cost_function: cf,
            costs: vec![None; eg.number_of_ids()],
            egraph: eg,
        };
        let mut changed = true;
        while changed {
            changed = false;
            for class in eg.classes() {
                let new = ex.best_node(class);
                let old = &ex.costs[class.id.index()];
                let better = match (old, &new) {
                    (None, Some(_)) => true,
                    (Some((oc, on)), Some((nc, nn))) => {
                        nc < oc
                            || (nc.partial_cmp(oc) == Some(std::cmp::Ordering::Equal) && nn < on)
                    }
                    _ => false,
                };
                if better {
                    ex.costs[class.id.index()] = new;
                    changed = true;
                }
            }
        }
        ex.costs
    }

    fn term() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec!["a", "b", "c", "0", "1"]).prop_map(String::from);
        leaf.prop_recursive(4, 24, 2, |inner| {
            (
                prop::sample::select(vec!["+", "*", "f"]),
                prop::collection::vec(inner, 1..3),
            )
                .prop_map(|(op, kids)| format!("({op} {})", kids.join(" ")))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 32 } else { 128 }))]

        /// The work list ends where sweeps end: the same cost and node for
        /// every class, by size and by depth, on random terms merged at
        /// random (unions make cycles, and classes whose children come
        /// after them).
        #[test]
        fn the_work_list_agrees_with_sweeps(
            terms in prop::collection::vec(term(), 1..10),
            unions in prop::collection::vec((0usize..64, 0usize..64), 0..8),
        ) {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            for t in &terms {
                eg.add_expr(&t.parse().unwrap());
            }
            let n = eg.number_of_ids();
            for (a, b) in unions {
                eg.union(Id::from(a % n), Id::from(b % n));
            }
            eg.rebuild();
            let size = Extractor::new(&eg, AstSize);
            prop_assert_eq!(&size.costs, &by_sweeps(&eg, AstSize));
            let depth = Extractor::new(&eg, AstDepth);
            prop_assert_eq!(&depth.costs, &by_sweeps(&eg, AstDepth));
        }
    }
}
