//! The result of an extraction and the [`Extractor`] trait.
//!
//! An [`Extraction`] maps every *needed* e-class (those reachable from the roots through
//! the chosen nodes) to one chosen e-node. Choosing one node per class is what makes the
//! result a DAG: a class used several times is shared. The *tree cost* counts a shared
//! class once per use (the cost of the term written as a tree), the *DAG cost* once.
//!
//! Extractors also *report* the cost they believe they achieved (`reported_tree` /
//! `reported_dag`); [`Extraction::check`](crate::Extraction::check) recomputes both
//! independently and fails if a report disagrees, which catches bookkeeping bugs in
//! extractors, not just invalid choices.

use crate::cost::Cost;
use crate::dense::{ClassIdx, DenseEGraph, NodeIdx};
use crate::error::ExtractError;

/// A choice of one e-node per needed e-class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    choices: Vec<Option<NodeIdx>>,
    /// Tree cost of the roots as computed by the extractor, if it computes one.
    pub reported_tree: Option<Cost>,
    /// DAG cost of the roots as computed by the extractor, if it computes one.
    pub reported_dag: Option<Cost>,
    /// `true` only if the extractor *proved* that no extraction has a smaller DAG cost
    /// (the ILP extractor when the solver finished within its time limit).
    pub dag_optimal: bool,
}

impl Extraction {
    /// An empty extraction for a graph with `num_classes` classes.
    pub fn new(num_classes: usize) -> Extraction {
        Extraction {
            choices: vec![None; num_classes],
            reported_tree: None,
            reported_dag: None,
            dag_optimal: false,
        }
    }

    /// Builds an extraction from a per-class choice vector.
    pub fn from_choices(choices: Vec<Option<NodeIdx>>) -> Extraction {
        Extraction {
            choices,
            ..Extraction::new(0)
        }
    }

    /// The node chosen for class `c`, if any.
    #[inline]
    pub fn choice(&self, c: ClassIdx) -> Option<NodeIdx> {
        self.choices.get(c.index()).copied().flatten()
    }

    /// Chooses `n` for class `c`.
    ///
    /// # Panics
    ///
    /// If `c` is out of range for the extraction.
    pub fn set(&mut self, c: ClassIdx, n: NodeIdx) {
        self.choices[c.index()] = Some(n);
    }

    /// The per-class choice vector (indexed by [`ClassIdx`]).
    pub fn choices(&self) -> &[Option<NodeIdx>] {
        &self.choices
    }

    /// `(class, node)` pairs of all choices, in class order.
    pub fn iter(&self) -> impl Iterator<Item = (ClassIdx, NodeIdx)> + '_ {
        self.choices
            .iter()
            .enumerate()
            .filter_map(|(c, n)| n.map(|n| (ClassIdx(c as u32), n)))
    }

    /// Number of classes with a choice.
    pub fn len(&self) -> usize {
        self.choices.iter().filter(|c| c.is_some()).count()
    }

    /// Whether no class has a choice.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the choices reachable from `roots` through chosen nodes (reports and
    /// flags are kept). Tolerates cycles and missing choices (they are [`check`]ed later).
    ///
    /// [`check`]: Extraction::check
    pub fn pruned(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Extraction {
        let mut out = Extraction {
            choices: vec![None; self.choices.len()],
            ..self.clone()
        };
        let mut stack: Vec<ClassIdx> = Vec::new();
        for &r in roots {
            if let (Some(n), None) = (self.choice(r), out.choice(r)) {
                out.choices[r.index()] = Some(n);
                stack.push(r);
            }
        }
        while let Some(c) = stack.pop() {
            let n = out.choices[c.index()].expect("pushed classes are chosen");
            if n.index() >= g.num_nodes() {
                continue;
            }
            for &d in g.children(n) {
                if let (Some(m), None) = (self.choice(d), out.choice(d)) {
                    out.choices[d.index()] = Some(m);
                    stack.push(d);
                }
            }
        }
        out
    }
}

/// An extraction algorithm.
///
/// `extract` must be deterministic: the same graph and roots give the same
/// [`Extraction`] no matter how many threads the current rayon pool has (use
/// [`crate::with_threads`] to choose). The returned extraction only contains classes
/// reachable from `roots`.
pub trait Extractor: Sync {
    /// A short, stable name (used in benchmark tables).
    fn name(&self) -> &'static str;

    /// Extracts a term DAG for `roots` (duplicates are ignored).
    fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError>;
}

/// Validates root indices and removes duplicates (first occurrence kept).
pub(crate) fn canonical_roots(
    g: &DenseEGraph,
    roots: &[ClassIdx],
) -> Result<Vec<ClassIdx>, ExtractError> {
    let mut out: Vec<ClassIdx> = Vec::with_capacity(roots.len());
    let mut seen = vec![false; g.num_classes()];
    for &r in roots {
        if r.index() >= g.num_classes() {
            return Err(ExtractError::RootOutOfRange {
                index: r.0,
                classes: g.num_classes(),
            });
        }
        if !std::mem::replace(&mut seen[r.index()], true) {
            out.push(r);
        }
    }
    Ok(out)
}
