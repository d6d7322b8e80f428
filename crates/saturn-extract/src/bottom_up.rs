//! Parallel bottom-up (tree-cost) extraction.
//!
//! # Algorithm
//!
//! The optimal tree cost `v(c)` of a class is the least fixpoint of
//! `v(c) = min_{n ∈ c} cost(n) + Σ_{d ∈ children(n)} v(d)` (starting from `+inf`). It is
//! computed Bellman-Ford style in synchronous (Jacobi) *rounds*:
//!
//! * round 1 evaluates every class reachable from the roots; a class is re-evaluated in
//!   round `k+1` only if one of its children improved in round `k` (the *dirty* set,
//!   obtained from the parent lists of [`DenseEGraph`]);
//! * evaluating a class reads only the values of the previous round, so all dirty
//!   classes are evaluated **in parallel** (rayon) and the updates are applied
//!   afterwards; small rounds are evaluated sequentially to avoid scheduling overhead;
//! * a class adopts a new node only if its cost is *strictly* smaller; among equal
//!   candidates the smallest [`NodeIdx`] wins (canonical tie-break, see
//!   [`crate::dense`]).
//!
//! Because each round is a pure function of the previous one, the result is identical
//! for any number of threads. Each round costs `O(Σ node arity)` over the dirty classes.
//!
//! # Correctness notes
//!
//! * After `k` rounds every value is at most the best tree of height `≤ k`, and always
//!   the cost of an actual tree, so with bounded costs the fixpoint is reached after at
//!   most `#classes` rounds. A change in round `#classes + 1` proves a negative-cost
//!   cycle (possible with negative node costs) and yields [`ExtractError::Unbounded`].
//! * Strict improvement keeps the chosen nodes acyclic: an update that closed a cycle
//!   would need a value no larger than the cycle's own (non-increasing) values, i.e. a
//!   non-improving update (with non-negative costs; with negative costs a closed cycle
//!   means an unbounded value, caught by the round limit). [`Extraction::check`]
//!   verifies this on every result in the tests and the benchmark.
//! * Tree costs of large shared DAGs can overflow `f64` to `+inf`; such classes are
//!   treated as unextractable: a root affected is an
//!   [`ExtractError::TreeCostOverflow`] (it has terms, all too costly to sum) or an
//!   [`ExtractError::NoTerm`] (it has none).

use rayon::prelude::*;

use crate::cost::Cost;
use crate::dense::{ClassIdx, DenseEGraph, NodeIdx};
use crate::error::ExtractError;
use crate::extraction::{canonical_roots, Extraction, Extractor};

/// Bottom-up tree-cost extractor (optimal for tree cost).
///
/// ```
/// use saturn_extract::{BottomUp, DenseEGraph, Extractor, with_threads};
/// let g = DenseEGraph::from_json_str(r#"{"nodes": {
///     "big":   {"op": "big", "children": [], "eclass": "r", "cost": 10},
///     "small": {"op": "g", "children": ["leaf"], "eclass": "r", "cost": 1},
///     "leaf":  {"op": "l", "children": [], "eclass": "x", "cost": 1}},
///   "root_eclasses": ["r"]}"#).unwrap();
/// let ex = with_threads(2, || BottomUp::default().extract(&g, g.roots())).unwrap().unwrap();
/// assert_eq!(ex.reported_tree.unwrap().get(), 2.0);
/// assert_eq!(g.op(ex.choice(g.roots()[0]).unwrap()), "g");
/// ```
#[derive(Debug, Clone)]
pub struct BottomUp {
    /// Rounds with fewer dirty classes than this are evaluated sequentially
    /// (same result, less overhead).
    pub parallel_threshold: usize,
}

impl Default for BottomUp {
    fn default() -> Self {
        BottomUp {
            parallel_threshold: 1024,
        }
    }
}

/// Optimal tree costs and the corresponding choices for the classes reachable from
/// some roots, as computed by [`BottomUp::solve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCosts {
    /// Optimal tree cost per class (`+inf`: unextractable or not reachable).
    pub cost: Vec<Cost>,
    /// Node achieving [`TreeCosts::cost`] per class.
    pub choice: Vec<Option<NodeIdx>>,
    /// Number of rounds until the fixpoint.
    pub rounds: usize,
}

#[inline]
fn best_node(g: &DenseEGraph, c: ClassIdx, value: &[Cost]) -> Option<(Cost, NodeIdx)> {
    let mut best: Option<(Cost, NodeIdx)> = None;
    'nodes: for n in g.nodes(c) {
        let mut s = g.cost(n);
        if s == Cost::INFINITY {
            continue;
        }
        for &d in g.children(n) {
            s += value[d.index()];
            if s == Cost::INFINITY {
                continue 'nodes;
            }
        }
        if best.is_none_or(|(b, _)| s < b) {
            best = Some((s, n));
        }
    }
    best
}

impl BottomUp {
    /// Runs the fixpoint on the classes reachable from `roots` (through any node).
    pub fn solve(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<TreeCosts, ExtractError> {
        let roots = canonical_roots(g, roots)?;
        let nc = g.num_classes();
        let reachable = g.reachable_mask(&roots);
        let mut value = vec![Cost::INFINITY; nc];
        let mut choice: Vec<Option<NodeIdx>> = vec![None; nc];
        let mut dirty: Vec<ClassIdx> = g.classes().filter(|c| reachable[c.index()]).collect();
        let limit = dirty.len() + 1;
        let mut stamp = vec![0usize; nc];
        let mut rounds = 0usize;

        while !dirty.is_empty() {
            rounds += 1;
            if rounds > limit {
                return Err(ExtractError::Unbounded { rounds: rounds - 1 });
            }
            let eval = |&c: &ClassIdx| -> Option<(ClassIdx, Cost, NodeIdx)> {
                let (cost, n) = best_node(g, c, &value)?;
                (cost < value[c.index()]).then_some((c, cost, n))
            };
            let updates: Vec<(ClassIdx, Cost, NodeIdx)> = if dirty.len() >= self.parallel_threshold
            {
                dirty.par_iter().filter_map(eval).collect()
            } else {
                dirty.iter().filter_map(eval).collect()
            };
            dirty.clear();
            for &(c, cost, n) in &updates {
                value[c.index()] = cost;
                choice[c.index()] = Some(n);
            }
            for &(c, _, _) in &updates {
                for &p in g.parents(c) {
                    let pc = g.class_of(p);
                    if reachable[pc.index()] && stamp[pc.index()] != rounds {
                        stamp[pc.index()] = rounds;
                        dirty.push(pc);
                    }
                }
            }
        }
        Ok(TreeCosts {
            cost: value,
            choice,
            rounds,
        })
    }
}

/// Whether `root` has an acyclic term whose nodes all have finite costs
/// (whatever their sum): the least fixpoint of "some node of finite cost
/// has all its children's classes so", by a worklist (each node waits for
/// its distinct child classes; each class is marked once). Run only when
/// the tree costs found none, to tell an overflowed sum from no term at all.
fn has_finite_term(g: &DenseEGraph, root: ClassIdx) -> bool {
    let mut ok = vec![false; g.num_classes()];
    let mut waiting = vec![u32::MAX; g.num_nodes()];
    let mut ready: Vec<ClassIdx> = vec![];
    let mut kids: Vec<ClassIdx> = vec![];
    for c in g.classes() {
        for n in g.nodes(c) {
            if g.cost(n) == Cost::INFINITY {
                continue; // never: `u32::MAX` is never counted down to 0
            }
            kids.clear();
            kids.extend_from_slice(g.children(n));
            kids.sort_unstable();
            kids.dedup();
            waiting[n.index()] = kids.len() as u32;
            if kids.is_empty() && !ok[c.index()] {
                ok[c.index()] = true;
                ready.push(c);
            }
        }
    }
    while let Some(c) = ready.pop() {
        for &p in g.parents(c) {
            let w = &mut waiting[p.index()];
            if *w == u32::MAX {
                continue;
            }
            *w -= 1;
            let pc = g.class_of(p);
            if *w == 0 && !ok[pc.index()] {
                ok[pc.index()] = true;
                ready.push(pc);
            }
        }
    }
    ok[root.index()]
}

impl Extractor for BottomUp {
    fn name(&self) -> &'static str {
        "bottom-up"
    }

    fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError> {
        let roots = canonical_roots(g, roots)?;
        let tc = self.solve(g, &roots)?;
        let mut total = Cost::ZERO;
        for &r in &roots {
            if tc.choice[r.index()].is_none() {
                let class = g.class_id(r).to_string();
                return Err(if has_finite_term(g, r) {
                    ExtractError::TreeCostOverflow { class }
                } else {
                    ExtractError::NoTerm { class }
                });
            }
            total += tc.cost[r.index()];
        }
        let mut ex = Extraction::from_choices(tc.choice).pruned(g, &roots);
        ex.reported_tree = Some(total);
        Ok(ex)
    }
}
