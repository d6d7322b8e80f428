//! Independent validation of extractions.
//!
//! [`Extraction::check`] is deliberately written without sharing code with the
//! extractors: it walks the chosen nodes from the roots with an explicit-stack DFS and
//! verifies that
//!
//! 1. the choice vector has one slot per class and every root has a choice,
//! 2. every chosen node belongs to the class it was chosen for and has finite cost,
//! 3. every child class of a chosen node is chosen (closure),
//! 4. no cycle is reachable from the roots,
//!
//! then recomputes the tree cost (in DFS post-order, so every child is finished before
//! its parent) and the DAG cost (sum over the reached classes in index order), and
//! compares them with the costs the extractor reported, within a relative tolerance of
//! [`COST_TOLERANCE`] (summation order may legitimately differ; the ILP objective is
//! computed by a floating-point simplex).

use crate::cost::Cost;
use crate::dense::{ClassIdx, DenseEGraph};
use crate::error::CheckError;
use crate::extraction::Extraction;

/// Relative tolerance used to compare reported and recomputed costs.
pub const COST_TOLERANCE: f64 = 1e-6;

/// Costs of a valid extraction, recomputed by [`Extraction::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedCost {
    /// Sum over the (distinct) roots of the cost of the extracted term written as a tree.
    pub tree: Cost,
    /// Sum of the costs of the distinct chosen nodes reachable from the roots.
    pub dag: Cost,
    /// Number of classes reachable from the roots through chosen nodes.
    pub classes: usize,
}

impl Extraction {
    /// Verifies the extraction for `roots` and recomputes its costs; see the
    /// [module docs](crate::check) for what is checked.
    ///
    /// ```
    /// use saturn_extract::{BottomUp, DenseEGraph, Extractor};
    /// let g = DenseEGraph::from_json_str(r#"{"nodes": {
    ///     "f": {"op": "f", "children": ["a", "a"], "eclass": "r", "cost": 1},
    ///     "a": {"op": "a", "children": [], "eclass": "x", "cost": 10}},
    ///   "root_eclasses": ["r"]}"#).unwrap();
    /// let ex = BottomUp::default().extract(&g, g.roots()).unwrap();
    /// let cost = ex.check(&g, g.roots()).unwrap();
    /// assert_eq!((cost.tree.get(), cost.dag.get()), (21.0, 11.0));
    /// ```
    pub fn check(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<CheckedCost, CheckError> {
        let nc = g.num_classes();
        if self.choices().len() != nc {
            return Err(CheckError::WrongSize {
                expected: nc,
                got: self.choices().len(),
            });
        }
        const WHITE: u8 = 0;
        const GRAY: u8 = 1;
        const BLACK: u8 = 2;
        let mut color = vec![WHITE; nc];
        let mut tree = vec![Cost::ZERO; nc];
        let mut distinct_roots: Vec<ClassIdx> = Vec::new();
        let mut root_seen = vec![false; nc];
        // DFS frames: (class, index of next child to visit).
        let mut stack: Vec<(ClassIdx, usize)> = Vec::new();
        let mut reached: Vec<ClassIdx> = Vec::new();

        for &r in roots {
            if r.index() >= nc {
                return Err(CheckError::RootOutOfRange { index: r.0 });
            }
            if self.choice(r).is_none() {
                return Err(CheckError::MissingRoot {
                    class: g.class_id(r).to_string(),
                });
            }
            if !std::mem::replace(&mut root_seen[r.index()], true) {
                distinct_roots.push(r);
            }
            if color[r.index()] == WHITE {
                self.enter(g, r, &mut color, &mut stack)?;
            }
            while let Some(&mut (c, ref mut next)) = stack.last_mut() {
                let n = self.choice(c).expect("entered classes are chosen");
                let kids = g.children(n);
                if *next < kids.len() {
                    let d = kids[*next];
                    *next += 1;
                    match color[d.index()] {
                        WHITE => {
                            if self.choice(d).is_none() {
                                return Err(CheckError::MissingChild {
                                    class: g.class_id(c).to_string(),
                                    node: g.node_id(n).to_string(),
                                    child: g.class_id(d).to_string(),
                                });
                            }
                            self.enter(g, d, &mut color, &mut stack)?;
                        }
                        GRAY => {
                            let start = stack
                                .iter()
                                .position(|&(x, _)| x == d)
                                .expect("gray classes are on the stack");
                            let mut cycle: Vec<String> = stack[start..]
                                .iter()
                                .map(|&(x, _)| g.class_id(x).to_string())
                                .collect();
                            cycle.push(g.class_id(d).to_string());
                            return Err(CheckError::Cycle { cycle });
                        }
                        _ => {}
                    }
                } else {
                    // Post-order: all children are finished.
                    let mut t = g.cost(n);
                    for &d in kids {
                        t += tree[d.index()];
                    }
                    tree[c.index()] = t;
                    color[c.index()] = BLACK;
                    reached.push(c);
                    stack.pop();
                }
            }
        }

        let tree_cost: Cost = distinct_roots.iter().map(|r| tree[r.index()]).sum();
        reached.sort_unstable();
        let dag_cost: Cost = reached
            .iter()
            .map(|&c| g.cost(self.choice(c).expect("reached classes are chosen")))
            .sum();

        if let Some(rep) = self.reported_tree {
            if !rep.approx_eq(tree_cost, COST_TOLERANCE) {
                return Err(CheckError::CostMismatch {
                    kind: "tree",
                    reported: rep,
                    actual: tree_cost,
                });
            }
        }
        if let Some(rep) = self.reported_dag {
            if !rep.approx_eq(dag_cost, COST_TOLERANCE) {
                return Err(CheckError::CostMismatch {
                    kind: "DAG",
                    reported: rep,
                    actual: dag_cost,
                });
            }
        }
        Ok(CheckedCost {
            tree: tree_cost,
            dag: dag_cost,
            classes: reached.len(),
        })
    }

    fn enter(
        &self,
        g: &DenseEGraph,
        c: ClassIdx,
        color: &mut [u8],
        stack: &mut Vec<(ClassIdx, usize)>,
    ) -> Result<(), CheckError> {
        let n = self.choice(c).expect("caller checked the choice");
        if n.index() >= g.num_nodes() || g.class_of(n) != c {
            return Err(CheckError::WrongClass {
                class: g.class_id(c).to_string(),
                node: if n.index() < g.num_nodes() {
                    g.node_id(n).to_string()
                } else {
                    format!("#{}", n.0)
                },
                actual: if n.index() < g.num_nodes() {
                    g.class_id(g.class_of(n)).to_string()
                } else {
                    "<out of range>".to_string()
                },
            });
        }
        if !g.cost(n).is_finite() {
            return Err(CheckError::InfiniteCost {
                node: g.node_id(n).to_string(),
            });
        }
        color[c.index()] = 1;
        stack.push((c, 0));
        Ok(())
    }
}
