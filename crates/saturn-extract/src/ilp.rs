//! Exact DAG-cost extraction as an integer linear program (cargo feature `ilp`).
//!
//! # Model
//!
//! The model is restricted to the part of the graph that can matter: classes reachable
//! from the roots through *usable* nodes, where a node is usable if its cost is finite,
//! it is not a self-loop, and all its children have a finite acyclic term (finite
//! [`BottomUp`] value). With a binary `x_n` per usable node:
//!
//! * minimise `Σ cost(n)·x_n`;
//! * every root class picks exactly one node, every other class at most one;
//! * a picked node needs each of its child classes: `x_n ≤ Σ_{m ∈ d} x_m`;
//! * **acyclicity** (as extraction-gym's `ilp-cbc`, with levels): for every non-trivial
//!   strongly connected component of the class graph (size `k`) each class gets a
//!   continuous level `t_c ∈ [0, k-1]`, and an edge `n ∈ c → d` inside the component
//!   forces `t_c ≥ t_d + 1` when `x_n = 1` (`t_c - t_d - k·x_n ≥ 1 - k`). Edges between
//!   components cannot close a cycle and get no constraint;
//! * with negative costs the solver could profit from picking unneeded nodes, so then
//!   every non-root class must also be *used*: `Σ_{m ∈ d} x_m ≤ Σ_{p ∈ parents(d)} x_p`
//!   (with acyclicity this makes every picked node reachable from a root).
//!
//! # Solver, time limit, incumbent
//!
//! The solver is [`microlp`] (pure Rust, builds on stable without system libraries).
//! It enforces wall-clock limits itself (its simplex checks a deadline), so no helper
//! thread is needed; the limit covers the solver only (model building and the greedy
//! run are fast and not counted). The [`GreedyDag`] extraction is always computed
//! first; it is passed to the solver as a warm start and is the answer whenever the
//! solver stops without a better solution (time limit before an incumbent, numerical
//! trouble, or a solution that fails [`Extraction::check`]). [`IlpStatus`] says what
//! happened and [`Extraction::dag_optimal`] is `true` only when the solver *proved*
//! optimality. The big-M level formulation has a weak LP relaxation, so large cyclic
//! graphs typically hit the limit; small or acyclic ones are usually proven optimal.

use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolveOptions, Variable};

use crate::bottom_up::BottomUp;
use crate::cost::Cost;
use crate::dense::{ClassIdx, DenseEGraph, NodeIdx};
use crate::error::ExtractError;
use crate::extraction::{canonical_roots, Extraction, Extractor};
use crate::greedy_dag::GreedyDag;

/// What the ILP solver achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum IlpStatus {
    /// The solver proved optimality; the extraction is DAG-optimal.
    Optimal,
    /// The time limit hit after an incumbent was found; the best solution (solver's or
    /// greedy's, whichever is cheaper) is returned.
    TimeLimit,
    /// The time limit hit before the solver had any solution; the greedy extraction is
    /// returned.
    NoSolution,
    /// The solver failed (or returned an invalid solution); the greedy extraction is
    /// returned. The string explains why.
    Failed(String),
}

/// Exact ILP extractor (see the [module docs](crate::ilp)).
///
/// ```
/// use std::time::Duration;
/// use saturn_extract::{DenseEGraph, Extractor, Ilp};
/// let g = DenseEGraph::from_json_str(r#"{"nodes": {
///     "f": {"op": "f", "children": ["a", "b"], "eclass": "r", "cost": 1},
///     "h": {"op": "h", "children": [], "eclass": "r", "cost": 5},
///     "a": {"op": "p", "children": ["z"], "eclass": "a", "cost": 1},
///     "b": {"op": "q", "children": ["z"], "eclass": "b", "cost": 1},
///     "z": {"op": "z", "children": [], "eclass": "z", "cost": 1.5}},
///   "root_eclasses": ["r"]}"#).unwrap();
/// let ex = Ilp::new(Duration::from_secs(10)).extract(&g, g.roots()).unwrap();
/// assert!(ex.dag_optimal);
/// assert_eq!(ex.check(&g, g.roots()).unwrap().dag.get(), 4.5);
/// ```
#[derive(Debug, Clone)]
pub struct Ilp {
    /// Wall-clock budget for the solver.
    pub time_limit: Duration,
    /// Pass the greedy solution to the solver as a warm start (default `true`).
    pub warm_start: bool,
}

impl Ilp {
    /// An ILP extractor with the given solver time limit.
    pub fn new(time_limit: Duration) -> Ilp {
        Ilp {
            time_limit,
            warm_start: true,
        }
    }
}

impl Default for Ilp {
    fn default() -> Self {
        Ilp::new(Duration::from_secs(10))
    }
}

/// Strongly connected components (iterative Tarjan) of the class graph restricted to
/// `included` classes and `usable` nodes. Returns the component id of every class.
fn class_sccs(g: &DenseEGraph, included: &[bool], usable: &[bool]) -> (Vec<u32>, Vec<u32>) {
    const UNSEEN: u32 = u32::MAX;
    let nc = g.num_classes();
    let mut index = vec![UNSEEN; nc];
    let mut low = vec![0u32; nc];
    let mut on_stack = vec![false; nc];
    let mut comp = vec![UNSEEN; nc];
    let mut comp_size: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    let mut next = 0u32;
    // Successors of a class: child classes of its usable nodes.
    let succ = |c: usize| -> Vec<u32> {
        let mut v: Vec<u32> = g
            .nodes(ClassIdx(c as u32))
            .filter(|n| usable[n.index()])
            .flat_map(|n| g.children(n).iter().map(|d| d.0))
            .filter(|&d| included[d as usize])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    for start in 0..nc {
        if !included[start] || index[start] != UNSEEN {
            continue;
        }
        let mut call: Vec<(u32, Vec<u32>, usize)> = vec![(start as u32, succ(start), 0)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start as u32);
        on_stack[start] = true;
        while let Some(frame) = call.last_mut() {
            let v = frame.0 as usize;
            if frame.2 < frame.1.len() {
                let w = frame.1[frame.2] as usize;
                frame.2 += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    call.push((w as u32, succ(w), 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(parent) = call.last() {
                    let p = parent.0 as usize;
                    low[p] = low[p].min(low[v]);
                }
                if low[v] == index[v] {
                    let id = comp_size.len() as u32;
                    let mut size = 0;
                    loop {
                        let w = stack.pop().expect("v is on the stack") as usize;
                        on_stack[w] = false;
                        comp[w] = id;
                        size += 1;
                        if w == v {
                            break;
                        }
                    }
                    comp_size.push(size);
                }
            }
        }
    }
    (comp, comp_size)
}

impl Ilp {
    /// Extracts and reports how the solver fared.
    pub fn solve(
        &self,
        g: &DenseEGraph,
        roots: &[ClassIdx],
    ) -> Result<(Extraction, IlpStatus), ExtractError> {
        let roots = canonical_roots(g, roots)?;
        let greedy = GreedyDag::default().extract(g, &roots)?;
        let greedy_dag = greedy.reported_dag.unwrap_or(Cost::INFINITY);

        // Usable nodes and the classes they can reach from the roots.
        let bu = BottomUp::default().solve(g, &roots)?;
        let nc = g.num_classes();
        let usable: Vec<bool> = (0..g.num_nodes())
            .map(|n| {
                let n = NodeIdx(n as u32);
                let c = g.class_of(n);
                g.cost(n).is_finite()
                    && g.children(n)
                        .iter()
                        .all(|&d| d != c && bu.cost[d.index()].is_finite())
            })
            .collect();
        let mut included = vec![false; nc];
        let mut stack: Vec<ClassIdx> = roots.clone();
        for &r in &roots {
            included[r.index()] = true;
        }
        while let Some(c) = stack.pop() {
            for n in g.nodes(c).filter(|n| usable[n.index()]) {
                for &d in g.children(n) {
                    if !std::mem::replace(&mut included[d.index()], true) {
                        stack.push(d);
                    }
                }
            }
        }
        let (comp, comp_size) = class_sccs(g, &included, &usable);
        let is_root = {
            let mut m = vec![false; nc];
            for &r in &roots {
                m[r.index()] = true;
            }
            m
        };

        // Variables.
        let mut p = Problem::new(OptimizationDirection::Minimize);
        let mut x: Vec<Option<Variable>> = vec![None; g.num_nodes()];
        let mut negative = false;
        for c in g.classes().filter(|c| included[c.index()]) {
            for n in g.nodes(c).filter(|n| usable[n.index()]) {
                negative |= g.cost(n).get() < 0.0;
                x[n.index()] = Some(p.add_binary_var(g.cost(n).get()));
            }
        }
        let mut level: Vec<Option<Variable>> = vec![None; nc];
        for c in g.classes().filter(|c| included[c.index()]) {
            let k = comp_size[comp[c.index()] as usize];
            if k > 1 {
                level[c.index()] = Some(p.add_var(0.0, (0.0, f64::from(k - 1))));
            }
        }
        let class_vars = |c: ClassIdx| -> Vec<(Variable, f64)> {
            g.nodes(c)
                .filter_map(|n| x[n.index()])
                .map(|v| (v, 1.0))
                .collect()
        };

        // Constraints.
        let mut kids: Vec<ClassIdx> = Vec::new();
        for c in g.classes().filter(|c| included[c.index()]) {
            let cv = class_vars(c);
            if is_root[c.index()] {
                p.add_constraint(cv.as_slice(), ComparisonOp::Eq, 1.0);
            } else if cv.len() > 1 {
                p.add_constraint(cv.as_slice(), ComparisonOp::Le, 1.0);
            }
            for n in g.nodes(c) {
                let Some(xn) = x[n.index()] else { continue };
                kids.clear();
                kids.extend_from_slice(g.children(n));
                kids.sort_unstable();
                kids.dedup();
                for &d in &kids {
                    let mut e = class_vars(d);
                    e.push((xn, -1.0));
                    p.add_constraint(e.as_slice(), ComparisonOp::Ge, 0.0);
                    if comp[d.index()] == comp[c.index()] {
                        let k = f64::from(comp_size[comp[c.index()] as usize]);
                        let (tc, td) = (level[c.index()], level[d.index()]);
                        if let (Some(tc), Some(td)) = (tc, td) {
                            p.add_constraint(
                                [(tc, 1.0), (td, -1.0), (xn, -k)].as_slice(),
                                ComparisonOp::Ge,
                                1.0 - k,
                            );
                        }
                    }
                }
            }
            if negative && !is_root[c.index()] {
                let mut e = class_vars(c);
                for &par in g.parents(c) {
                    if let Some(xp) = x[par.index()] {
                        e.push((xp, -1.0));
                    }
                }
                p.add_constraint(e.as_slice(), ComparisonOp::Le, 0.0);
            }
        }

        // Warm start from the greedy extraction.
        let warm = if self.warm_start {
            let mut hint: Vec<(Variable, f64)> = Vec::new();
            for (n, v) in x.iter().enumerate() {
                if let Some(v) = v {
                    let n = NodeIdx(n as u32);
                    let on = greedy.choice(g.class_of(n)) == Some(n);
                    hint.push((*v, if on { 1.0 } else { 0.0 }));
                }
            }
            // Levels: height along chosen edges inside the same component.
            let mut height = vec![0u32; nc];
            let order: Vec<(ClassIdx, NodeIdx)> = greedy.iter().collect();
            // Post-order of the (acyclic) greedy DAG via DFS.
            let mut state = vec![0u8; nc];
            let mut post: Vec<ClassIdx> = Vec::new();
            for &(c, _) in &order {
                if state[c.index()] != 0 {
                    continue;
                }
                let mut st: Vec<(ClassIdx, usize)> = vec![(c, 0)];
                state[c.index()] = 1;
                while let Some(top) = st.last_mut() {
                    let (cc, i) = *top;
                    let n = greedy.choice(cc).expect("iterated choices exist");
                    let ks = g.children(n);
                    if i < ks.len() {
                        top.1 += 1;
                        let d = ks[i];
                        if state[d.index()] == 0 && greedy.choice(d).is_some() {
                            state[d.index()] = 1;
                            st.push((d, 0));
                        }
                    } else {
                        state[cc.index()] = 2;
                        post.push(cc);
                        st.pop();
                    }
                }
            }
            for &c in &post {
                let n = greedy.choice(c).expect("post-order holds chosen classes");
                let mut h = 0;
                for &d in g.children(n) {
                    if comp[d.index()] == comp[c.index()] && comp[c.index()] != u32::MAX {
                        h = h.max(height[d.index()] + 1);
                    }
                }
                height[c.index()] = h;
            }
            for (c, t) in level.iter().enumerate() {
                if let Some(t) = t {
                    hint.push((*t, f64::from(height[c])));
                }
            }
            Some(hint)
        } else {
            None
        };

        let mut opts = SolveOptions::default();
        opts.time_limit = Some(self.time_limit);
        opts.warm_start = warm;
        let outcome = match p.solve_with(opts) {
            Ok(o) => o,
            Err(e) => {
                return Ok((greedy, IlpStatus::Failed(format!("microlp: {e:?}"))));
            }
        };
        let Some(sol) = outcome.solution() else {
            return Ok((greedy, IlpStatus::NoSolution));
        };
        let optimal = outcome.is_optimal();
        let mut ex = Extraction::new(nc);
        for (n, v) in x.iter().enumerate() {
            if let Some(v) = v {
                if sol.var_value(*v) > 0.5 {
                    let n = NodeIdx(n as u32);
                    ex.set(g.class_of(n), n);
                }
            }
        }
        let mut ex = ex.pruned(g, &roots);
        let checked = match ex.check(g, &roots) {
            Ok(c) => c,
            Err(e) => {
                return Ok((
                    greedy,
                    IlpStatus::Failed(format!("solver solution is invalid: {e}")),
                ))
            }
        };
        ex.reported_dag = Some(checked.dag);
        if optimal {
            let objective = Cost::new(sol.objective()).unwrap_or(Cost::INFINITY);
            if greedy_dag < checked.dag && !greedy_dag.approx_eq(checked.dag, 1e-9) {
                return Ok((
                    greedy,
                    IlpStatus::Failed(format!(
                        "'optimal' ILP solution {} is worse than greedy {greedy_dag}",
                        checked.dag
                    )),
                ));
            }
            if !objective.approx_eq(checked.dag, crate::check::COST_TOLERANCE) {
                return Ok((
                    greedy,
                    IlpStatus::Failed(format!(
                        "solver objective {objective} differs from the extraction's DAG cost {}",
                        checked.dag
                    )),
                ));
            }
            ex.reported_dag = Some(objective);
            ex.dag_optimal = true;
            Ok((ex, IlpStatus::Optimal))
        } else if checked.dag < greedy_dag {
            Ok((ex, IlpStatus::TimeLimit))
        } else {
            Ok((greedy, IlpStatus::TimeLimit))
        }
    }
}

impl Extractor for Ilp {
    fn name(&self) -> &'static str {
        "ilp"
    }

    fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError> {
        self.solve(g, roots).map(|(ex, _)| ex)
    }
}
