//! Error types.
//!
//! Every fallible operation of the crate returns one of the enums below instead of
//! panicking: malformed input (JSON syntax errors, dangling child ids, unknown roots,
//! empty graphs, NaN costs) is an ordinary [`LoadError`] / [`BuildError`], failure to
//! extract is an [`ExtractError`], and a violated extraction invariant is a
//! [`CheckError`]. Errors carry the *original* string ids of the e-graph (not the dense
//! indices) so that messages can be matched against the input file.

use std::path::PathBuf;

use thiserror::Error;

use crate::cost::Cost;

/// Why a serialized e-graph could not be turned into a [`DenseEGraph`](crate::DenseEGraph).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BuildError {
    /// The e-graph has no e-nodes at all.
    #[error("the e-graph is empty (it has no e-nodes)")]
    Empty,
    /// A node lists a child node id that is not a node of the e-graph.
    #[error("node `{node}` has child `{child}`, which is not a node id of the e-graph")]
    DanglingChild {
        /// The node whose child list is broken.
        node: String,
        /// The unknown child id.
        child: String,
    },
    /// A root names neither an e-class nor (when allowed) an e-node.
    #[error(
        "root `{root}` is neither an e-class id nor an e-node id of the e-graph \
         (the file probably stores a root id that was merged away before serialization)"
    )]
    UnknownRoot {
        /// The offending root id.
        root: String,
    },
    /// No usable root e-class is left (none listed, or all of them were dropped).
    #[error(
        "the e-graph has no usable root e-class ({listed} listed, {dropped} unknown and dropped)"
    )]
    NoRoots {
        /// Number of roots listed in the input.
        listed: usize,
        /// Number of those that could not be resolved and were dropped.
        dropped: usize,
    },
    /// A node cost is not a finite, non-NaN number (or a cost model returned NaN / -inf).
    #[error(
        "node `{node}` has invalid cost {cost} (costs must be finite, or +inf for 'never extract')"
    )]
    InvalidCost {
        /// The node id.
        node: String,
        /// The rejected value.
        cost: f64,
    },
    /// More classes, nodes or children than fit the dense `u32` indices.
    #[error("the e-graph is too large for 32-bit dense indices ({what})")]
    TooLarge {
        /// What overflowed.
        what: &'static str,
    },
}

/// Why a file could not be loaded.
///
/// All variants carry the path of the file. JSON syntax and shape errors also carry the
/// 1-based line and column (in characters) of the problem, and structural errors about
/// one id the line and column of that id.
#[derive(Debug, Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("{}: cannot read file: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid egraph-serialize JSON.
    #[error("{}:{line}:{column}: invalid egraph-serialize JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error (0 if unknown).
        line: usize,
        /// 1-based column of the error (0 if unknown).
        column: usize,
        /// `serde_json`'s description of the problem.
        message: String,
    },
    /// The JSON is well-formed but does not describe a usable e-graph.
    #[error("{}{}: invalid e-graph: {source}", path.display(), at(*line, *column))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of what the error names (a child id, a root id, a
        /// node), 0 if it names nothing in particular (an empty e-graph).
        line: usize,
        /// 1-based column (in characters) of the same, 0 if unknown.
        column: usize,
        /// What is wrong with it.
        source: BuildError,
    },
}

/// `:line:column`, or nothing when the line is unknown (0).
fn at(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}:{column}")
    }
}

impl LoadError {
    /// The path of the file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::Json { path, .. }
            | LoadError::Invalid { path, .. } => path,
        }
    }
}

/// Why an extractor could not produce an extraction.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExtractError {
    /// A root index is out of range for the graph.
    #[error("root index {index} is out of range (the graph has {classes} classes)")]
    RootOutOfRange {
        /// The bad index.
        index: u32,
        /// Number of classes in the graph.
        classes: usize,
    },
    /// A root e-class has no finite, acyclic term (every term is infinite or has infinite cost).
    #[error("root e-class `{class}` has no finite-cost acyclic term")]
    NoTerm {
        /// The root class id.
        class: String,
    },
    /// A root e-class has acyclic terms whose nodes all have finite costs, but
    /// the tree cost of every one of them overflows `f64` (a large shared DAG
    /// counted as a tree, or costs near `f64::MAX`).
    #[error(
        "root e-class `{class}` has terms, but the tree cost of every one overflows \
         (past {max:e}); a DAG-cost extractor may still extract it",
        max = f64::MAX
    )]
    TreeCostOverflow {
        /// The root class id.
        class: String,
    },
    /// With negative node costs the tree cost can decrease forever around a cycle.
    #[error(
        "tree cost is unbounded below: a cycle with negative total cost is reachable \
         (did not converge after {rounds} rounds)"
    )]
    Unbounded {
        /// Number of rounds run before giving up.
        rounds: usize,
    },
    /// The rayon thread pool could not be built.
    #[error("cannot build a thread pool with {threads} threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// The error message.
        message: String,
    },
    /// The ILP solver failed in an unexpected way.
    #[error("ILP solver error: {0}")]
    Solver(String),
}

/// A violated extraction invariant, found by [`Extraction::check`](crate::Extraction::check).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CheckError {
    /// The extraction's choice vector does not match the graph.
    #[error("extraction has {got} class slots but the graph has {expected} classes")]
    WrongSize {
        /// Classes in the graph.
        expected: usize,
        /// Slots in the extraction.
        got: usize,
    },
    /// A root index is out of range.
    #[error("root index {index} is out of range")]
    RootOutOfRange {
        /// The index.
        index: u32,
    },
    /// A root class has no chosen node.
    #[error("root e-class `{class}` has no chosen node")]
    MissingRoot {
        /// The class id.
        class: String,
    },
    /// A chosen node is not a member of the class it was chosen for.
    #[error("node `{node}` was chosen for e-class `{class}` but belongs to `{actual}`")]
    WrongClass {
        /// The class the node was chosen for.
        class: String,
        /// The node id.
        node: String,
        /// The class the node actually belongs to.
        actual: String,
    },
    /// A chosen node's child class has no chosen node (the extraction is not closed).
    #[error(
        "node `{node}` (chosen for `{class}`) needs e-class `{child}`, which has no chosen node"
    )]
    MissingChild {
        /// The parent class.
        class: String,
        /// The chosen node.
        node: String,
        /// The child class without a choice.
        child: String,
    },
    /// The chosen nodes form a cycle reachable from the roots.
    #[error("the chosen nodes form a cycle through e-classes {}", cycle.join(" -> "))]
    Cycle {
        /// The class ids on the cycle, in order.
        cycle: Vec<String>,
    },
    /// A chosen node has infinite cost (e.g. a subsumed node).
    #[error("node `{node}` is chosen but has infinite cost")]
    InfiniteCost {
        /// The node id.
        node: String,
    },
    /// The cost reported by the extractor differs from the recomputed one.
    #[error(
        "extractor reported {kind} cost {reported} but the recomputed {kind} cost is {actual}"
    )]
    CostMismatch {
        /// `"tree"` or `"DAG"`.
        kind: &'static str,
        /// What the extractor claimed.
        reported: Cost,
        /// What the checker computed.
        actual: Cost,
    },
}
