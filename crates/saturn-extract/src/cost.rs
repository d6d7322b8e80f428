//! Totally ordered costs and cost models.
//!
//! # Design
//!
//! Extraction compares costs constantly and must be *deterministic*, so costs are
//! `f64` wrapped in [`Cost`], which excludes NaN and orders by value (`-0.0` is
//! normalised to `0.0`, so equal values are interchangeable). `+inf` is a legal cost
//! meaning "never extract this node" (used for subsumed nodes); node costs may be
//! negative (the `maxsat` family of extraction-gym uses `-1`), which is why the
//! extractors guard against unbounded tree costs instead of assuming positivity.
//!
//! Addition is *saturating towards `+inf`*: `+inf` absorbs everything (an infeasible
//! part makes the whole infeasible), so `inf + -inf` is `+inf` and never NaN.
//!
//! Ties between equal-cost nodes are not broken here but by the dense node order of
//! [`DenseEGraph`], which sorts the nodes of each class by
//! `(op, children's classes, node id)`; see [`crate::dense`].
//!
//! A [`CostModel`] assigns a cost to every node of a [`DenseEGraph`];
//! the default, [`JsonCost`], uses the `cost` field of the input (1.0 when missing) and
//! makes subsumed nodes unextractable. Models are applied once, with
//! [`DenseEGraph::apply_cost_model`](crate::DenseEGraph::apply_cost_model), so the
//! extractors only ever read a flat `Vec<Cost>`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::Sum;
use std::ops::Add;

use crate::dense::{DenseEGraph, NodeIdx};

/// A non-NaN `f64` with a total order.
///
/// ```
/// use saturn_extract::Cost;
/// let a = Cost::new(1.5).unwrap();
/// let b = Cost::new(2.0).unwrap();
/// assert!(a < b);
/// assert_eq!((a + b).get(), 3.5);
/// assert!(Cost::new(f64::NAN).is_none());
/// assert_eq!(Cost::INFINITY + Cost::new(-1e300).unwrap(), Cost::INFINITY);
/// ```
#[derive(Clone, Copy, Default)]
pub struct Cost(f64);

impl Cost {
    /// Zero.
    pub const ZERO: Cost = Cost(0.0);
    /// One (the default cost of a node without a `cost` field).
    pub const ONE: Cost = Cost(1.0);
    /// Positive infinity: "not extractable".
    pub const INFINITY: Cost = Cost(f64::INFINITY);

    /// Wraps `value`, or returns `None` if it is NaN.
    pub fn new(value: f64) -> Option<Cost> {
        if value.is_nan() {
            None
        } else if value == 0.0 {
            Some(Cost(0.0))
        } else {
            Some(Cost(value))
        }
    }

    /// The wrapped value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// Whether the cost is finite.
    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Relative comparison used to compare a cost reported by an extractor with an
    /// independently recomputed one (summation order may differ): equal, or both
    /// finite and within `rel * max(1, |a|, |b|)`.
    pub fn approx_eq(self, other: Cost, rel: f64) -> bool {
        if self == other {
            return true;
        }
        if !self.is_finite() || !other.is_finite() {
            return false;
        }
        let scale = 1f64.max(self.0.abs()).max(other.0.abs());
        (self.0 - other.0).abs() <= rel * scale
    }
}

impl PartialEq for Cost {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cost {}

impl PartialOrd for Cost {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cost {
    fn cmp(&self, other: &Self) -> Ordering {
        // Never NaN and never -0.0, so total_cmp agrees with numeric order.
        self.0.total_cmp(&other.0)
    }
}

impl Hash for Cost {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl Add for Cost {
    type Output = Cost;

    fn add(self, rhs: Cost) -> Cost {
        if self.0 == f64::INFINITY || rhs.0 == f64::INFINITY {
            return Cost::INFINITY;
        }
        // Finite + finite may overflow to ±inf but never gives NaN; -inf + finite is -inf.
        let s = self.0 + rhs.0;
        if s.is_nan() {
            Cost::INFINITY
        } else if s == 0.0 {
            Cost(0.0)
        } else {
            Cost(s)
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, rhs: Cost) {
        *self = *self + rhs;
    }
}

impl Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, |a, b| a + b)
    }
}

impl fmt::Debug for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Cost> for f64 {
    fn from(c: Cost) -> f64 {
        c.0
    }
}

/// Assigns a cost to each e-node.
///
/// Implementations must be pure (the same node always gets the same cost) and must not
/// return NaN or `-inf`; [`DenseEGraph::apply_cost_model`](crate::DenseEGraph::apply_cost_model)
/// rejects such values with an error. Return [`Cost::INFINITY`] to forbid a node.
///
/// Closures `Fn(&DenseEGraph, NodeIdx) -> Cost` are cost models too:
///
/// ```
/// use saturn_extract::{Cost, DenseEGraph, NodeIdx};
/// let json = r#"{"nodes": {"a": {"op": "x", "children": [], "eclass": "c", "cost": 5.0}},
///                "root_eclasses": ["c"]}"#;
/// let mut g = DenseEGraph::from_json_str(json).unwrap();
/// let by_op_len = |g: &DenseEGraph, n: NodeIdx| Cost::new(g.op(n).len() as f64).unwrap();
/// g.apply_cost_model(&by_op_len).unwrap();
/// assert_eq!(g.cost(NodeIdx(0)).get(), 1.0);
/// ```
pub trait CostModel: Sync {
    /// The cost of `node` in `g`.
    fn node_cost(&self, g: &DenseEGraph, node: NodeIdx) -> Cost;
}

/// The cost stored in the input (`cost` field, 1.0 when missing); subsumed nodes get
/// [`Cost::INFINITY`] so that they are never extracted. This is the model a freshly
/// built [`DenseEGraph`] uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCost;

impl CostModel for JsonCost {
    fn node_cost(&self, g: &DenseEGraph, node: NodeIdx) -> Cost {
        if g.is_subsumed(node) {
            Cost::INFINITY
        } else {
            g.input_cost(node)
        }
    }
}

/// Every node costs 1 (tree cost = term size, DAG cost = number of distinct nodes);
/// subsumed nodes still get [`Cost::INFINITY`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitCost;

impl CostModel for UnitCost {
    fn node_cost(&self, g: &DenseEGraph, node: NodeIdx) -> Cost {
        if g.is_subsumed(node) {
            Cost::INFINITY
        } else {
            Cost::ONE
        }
    }
}

impl<F> CostModel for F
where
    F: Fn(&DenseEGraph, NodeIdx) -> Cost + Sync,
{
    fn node_cost(&self, g: &DenseEGraph, node: NodeIdx) -> Cost {
        self(g, node)
    }
}

/// Costs per operator: a table from op name to cost, and a default for
/// ops not in it (like a compiler's cost model: constants cheap, multiplies
/// dear). Subsumed nodes still get [`Cost::INFINITY`].
///
/// ```
/// use saturn_extract::{Cost, DenseEGraph, NodeIdx, OpCost};
/// let json = r#"{"nodes": {
///     "m": {"op": "*", "children": ["x"], "eclass": "c", "cost": 1.0},
///     "s": {"op": "<<", "children": ["x"], "eclass": "c", "cost": 1.0},
///     "x": {"op": "x", "children": [], "eclass": "v", "cost": 1.0}},
///   "root_eclasses": ["c"]}"#;
/// let mut g = DenseEGraph::from_json_str(json).unwrap();
/// let model = OpCost::new(4.0).with("*", 10.0).with("<<", 3.0).with("x", 1.0);
/// g.apply_cost_model(&model).unwrap();
/// let costs: Vec<f64> = (0..3).map(|i| g.cost(NodeIdx(i)).get()).collect();
/// assert!(costs.contains(&10.0) && costs.contains(&3.0) && costs.contains(&1.0));
/// ```
#[derive(Debug, Clone)]
pub struct OpCost {
    table: std::collections::HashMap<String, Cost>,
    default: Cost,
}

impl OpCost {
    /// A model where every op costs `default` until given its own cost.
    ///
    /// # Panics
    /// If `default` is NaN.
    pub fn new(default: f64) -> Self {
        OpCost {
            table: Default::default(),
            default: Cost::new(default).expect("default cost is not NaN"),
        }
    }

    /// Sets the cost of `op`.
    ///
    /// # Panics
    /// If `cost` is NaN.
    pub fn with(mut self, op: &str, cost: f64) -> Self {
        self.table
            .insert(op.to_owned(), Cost::new(cost).expect("cost is not NaN"));
        self
    }
}

impl CostModel for OpCost {
    fn node_cost(&self, g: &DenseEGraph, node: NodeIdx) -> Cost {
        if g.is_subsumed(node) {
            Cost::INFINITY
        } else {
            *self.table.get(g.op(node)).unwrap_or(&self.default)
        }
    }
}
