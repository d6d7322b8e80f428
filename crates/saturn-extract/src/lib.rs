//! Extraction over serialized e-graphs (the egraph-serialize 0.3 JSON format used by
//! [extraction-gym](https://github.com/egraphs-good/extraction-gym)).
//!
//! # Overview
//!
//! 1. **Load** a JSON file into an [`egraph_serialize::EGraph`] and convert it once into
//!    a [`DenseEGraph`] ([`io::load_dense`], [`DenseEGraph::from_serialized_with`]):
//!    dense `u32` indices, CSR children and parents, a flat cost vector, canonical
//!    (id-derived) ordering of classes and nodes. All malformed input is an `Err`.
//! 2. Optionally replace the costs with a [`CostModel`].
//! 3. **Extract** with one of the [`Extractor`]s:
//!    * [`BottomUp`] — optimal *tree* cost, parallel Bellman-Ford rounds;
//!    * [`GreedyDag`] — DAG-aware greedy (cost *sets*), parallel rounds;
//!    * `Ilp` (cargo feature `ilp`) — exact DAG cost with the pure-Rust `microlp`
//!      solver, a time limit and the greedy result as incumbent.
//!
//!    All extractors are deterministic: results do not depend on hash order, on the
//!    order of keys in the input, or on the number of threads ([`with_threads`]).
//! 4. **Check** the result with [`Extraction::check`] (closure, membership, acyclicity,
//!    independent recomputation of tree and DAG cost, comparison with the extractor's
//!    reported cost).
//! 5. **Export** it: [`io::extraction_to_serialized`] (egraph-serialize JSON),
//!    [`dot::to_dot`] (Graphviz, one cluster per class).
//!
//! # Example
//!
//! ```
//! use saturn_extract::{BottomUp, DenseEGraph, Extractor, GreedyDag};
//!
//! // r = f(s, s) or r = g(t, u); s, t, u are leaves or share x.
//! let json = r#"{
//!   "nodes": {
//!     "f": {"op": "f", "children": ["s"], "eclass": "r", "cost": 1},
//!     "g": {"op": "g", "children": ["x1", "y1"], "eclass": "r", "cost": 1},
//!     "s": {"op": "s", "children": [], "eclass": "s", "cost": 5},
//!     "x1": {"op": "x", "children": ["z"], "eclass": "x", "cost": 1},
//!     "y1": {"op": "y", "children": ["z"], "eclass": "y", "cost": 1},
//!     "z": {"op": "z", "children": [], "eclass": "z", "cost": 2.5}
//!   },
//!   "root_eclasses": ["r"]
//! }"#;
//! let g = DenseEGraph::from_json_str(json).unwrap();
//! let roots = g.roots().to_vec();
//!
//! // Tree cost prefers f(s) = 6 over g(x(z), y(z)) = 8 ...
//! let bu = BottomUp::default().extract(&g, &roots).unwrap();
//! let bu_cost = bu.check(&g, &roots).unwrap();
//! assert_eq!((bu_cost.tree.get(), bu_cost.dag.get()), (6.0, 6.0));
//!
//! // ... but as a DAG, g(x(z), y(z)) shares z and costs 1 + 1 + 1 + 2.5 = 5.5.
//! let gd = GreedyDag::default().extract(&g, &roots).unwrap();
//! let gd_cost = gd.check(&g, &roots).unwrap();
//! assert_eq!((gd_cost.tree.get(), gd_cost.dag.get()), (8.0, 5.5));
//! ```
//!
//! # Modules
//!
//! One concept per module, each documenting its design and trade-offs:
//! [`cost`], [`dense`], [`extraction`], [`bottom_up`], [`greedy_dag`], `ilp`,
//! [`check`], [`io`], [`dot`], [`error`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bottom_up;
pub mod check;
pub mod cost;
pub mod dense;
pub mod dot;
pub mod error;
pub mod extraction;
pub mod greedy_dag;
#[cfg(feature = "ilp")]
pub mod ilp;
pub mod io;
pub mod measure;

pub use bottom_up::{BottomUp, TreeCosts};
pub use check::{CheckedCost, COST_TOLERANCE};
pub use cost::{Cost, CostModel, JsonCost, OpCost, UnitCost};
pub use dense::{
    natural_cmp, BuildOptions, ClassIdx, DenseEGraph, NodeIdx, RootReport, UnknownRoots,
};
pub use error::{BuildError, CheckError, ExtractError, LoadError};
pub use extraction::{Extraction, Extractor};
pub use greedy_dag::GreedyDag;
#[cfg(feature = "ilp")]
pub use ilp::{Ilp, IlpStatus};

/// Runs `f` inside a dedicated rayon thread pool with `threads` threads, so that every
/// parallel extractor called by `f` uses exactly that many threads.
///
/// Building a pool takes a few tens of microseconds; benchmarks build it outside the
/// timed region by calling the extractor several times inside one `with_threads`.
///
/// ```
/// let n = saturn_extract::with_threads(3, rayon::current_num_threads).unwrap();
/// assert_eq!(n, 3);
/// ```
pub fn with_threads<R: Send>(
    threads: usize,
    f: impl FnOnce() -> R + Send,
) -> Result<R, ExtractError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| ExtractError::ThreadPool {
            threads,
            message: e.to_string(),
        })?;
    Ok(pool.install(f))
}
