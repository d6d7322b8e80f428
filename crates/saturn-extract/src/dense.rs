//! The dense, index-based e-graph that all extractors work on.
//!
//! # Design
//!
//! [`egraph_serialize::EGraph`] is a map of string ids to nodes, convenient for I/O and
//! terrible for extraction loops. [`DenseEGraph`] is built from it *once* (extraction
//! timings in the benchmark exclude this step) and stores:
//!
//! * `u32` indices for classes ([`ClassIdx`]) and nodes ([`NodeIdx`]);
//! * the nodes of a class as a contiguous index range (no per-class vectors);
//! * children in CSR form, both as child *classes* (what extraction needs: a child
//!   node id stands for its e-class) and as the original child *node* ids (for lossless
//!   export);
//! * parents in CSR form: for every class the nodes that have it as a child (each node
//!   listed once even if it uses the class several times), used by worklist algorithms;
//! * costs as a flat `Vec<Cost>` produced by a [`CostModel`].
//!
//! # Canonical order (determinism)
//!
//! Indices are a function of the *ids and content* of the input, never of JSON key
//! order or hashing:
//!
//! * classes are numbered in [`natural_cmp`] order of their ids (`"2" < "10"`);
//! * nodes are grouped by class and, inside a class, sorted by
//!   `(op, children's class indices, node id)`.
//!
//! Every extractor breaks cost ties by the smaller [`NodeIdx`], so ties are broken by
//! comparing op strings, then children's classes, then node ids — the result never
//! depends on hash order, on the order of keys in the file, or on thread timing.
//!
//! # Roots
//!
//! `root_eclasses` are resolved as follows (see [`BuildOptions`]):
//!
//! 1. an id that is a class id is that class;
//! 2. otherwise, if [`BuildOptions::roots_may_name_nodes`] (default), an id that is a
//!    *node* id stands for that node's class — some producers write node ids;
//! 3. otherwise the root is unknown: an error ([`UnknownRoots::Error`], default),
//!    dropped and recorded in the [`RootReport`] ([`UnknownRoots::Drop`]), or replaced
//!    by the inferred *top-level* classes ([`UnknownRoots::InferTopLevel`]).
//!
//! The `lean-egg` family of extraction-gym needs rule 3: 307 of its 324 files list at
//! least one root id (e.g. `"7"`) that is not the class of any node and not a node id.
//! Those files were written with *non-canonical* class ids: the root class was merged
//! into another class after the id was recorded, and the file holds no union-find
//! information, so the canonical class cannot be recovered. Guessing (e.g. "the class
//! with the nearest id") would silently extract the wrong term, so the crate refuses by
//! default. The benchmark ([`BuildOptions::lenient`]) instead uses
//! [`UnknownRoots::InferTopLevel`]: the unknown roots are replaced by the top-level
//! classes (one per source strongly connected component of the class graph), from which
//! *every* class — and so in particular the merged-away root's canonical class — is
//! reachable; the replacement is recorded in [`RootReport::inferred`]. (With the old
//! `Drop` policy, 55 lean-egg files had no usable root at all.)
//!
//! Duplicate roots are removed (first occurrence kept); a graph without any usable
//! root is an error, as is a graph without nodes.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use egraph_serialize::{ClassData, EGraph};

use crate::cost::{Cost, CostModel, JsonCost};
use crate::error::BuildError;

/// Dense index of an e-class in a [`DenseEGraph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassIdx(pub u32);

/// Dense index of an e-node in a [`DenseEGraph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIdx(pub u32);

impl ClassIdx {
    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl NodeIdx {
    /// The index as `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What to do with a root id that names neither a class nor (when allowed) a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownRoots {
    /// Fail with [`BuildError::UnknownRoot`].
    #[default]
    Error,
    /// Drop the root and record it in [`RootReport::dropped`]; still fail with
    /// [`BuildError::NoRoots`] if no root is left.
    Drop,
    /// Record the root in [`RootReport::dropped`] and, if at least one listed root was
    /// unresolvable, add the *top-level classes* as roots (after the resolved roots,
    /// without duplicates, recorded in [`RootReport::inferred`]).
    ///
    /// The top-level classes are defined on the class graph (an edge `c -> d` for every
    /// node of `c` with a child in `d`): one representative of every *source* strongly
    /// connected component (a component that no node of a class outside it references),
    /// namely its smallest [`ClassIdx`], in ascending [`ClassIdx`] order. Thus
    ///
    /// * every *parentless* class (no node of another class has it as a child; a
    ///   self-reference does not count) is a top-level class — on acyclic top levels
    ///   these are exactly the top-level classes;
    /// * a top component that is a cycle (`a -> b -> a`, nobody else referencing it) is
    ///   represented by its smallest class, so even a graph where every class is on a
    ///   cycle gets a root;
    /// * the set is the unique minimal set of component representatives from which
    ///   every class is reachable, so the unknown root's canonical class (whatever it
    ///   was merged into) is reachable from the inferred roots.
    ///
    /// The choice depends only on ids and structure (canonical order), never on key
    /// order or hashing. Inferred roots are a best effort: they are not the original
    /// root, and the extraction covers all top-level terms, not only the intended one.
    /// A graph that lists no roots at all still fails with [`BuildError::NoRoots`].
    InferTopLevel,
}

/// Options for [`DenseEGraph::from_serialized_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// Accept a root id that is a node id, standing for that node's class (default `true`).
    pub roots_may_name_nodes: bool,
    /// Policy for unresolvable roots (default [`UnknownRoots::Error`]).
    pub unknown_roots: UnknownRoots,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            roots_may_name_nodes: true,
            unknown_roots: UnknownRoots::Error,
        }
    }
}

impl BuildOptions {
    /// Options for bulk processing of imperfect corpora: node-id roots are resolved and
    /// unknown roots are replaced by the inferred top-level classes
    /// ([`UnknownRoots::InferTopLevel`]; both are reported in the [`RootReport`]).
    pub fn lenient() -> Self {
        BuildOptions {
            roots_may_name_nodes: true,
            unknown_roots: UnknownRoots::InferTopLevel,
        }
    }
}

/// How the `root_eclasses` of the input were resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootReport {
    /// Number of root ids listed in the input.
    pub listed: usize,
    /// Roots given as node ids: `(root id, class id it resolved to)`.
    pub via_node: Vec<(String, String)>,
    /// Unresolvable root ids that were not used ([`UnknownRoots::Drop`] and
    /// [`UnknownRoots::InferTopLevel`]).
    pub dropped: Vec<String>,
    /// Ids of the top-level classes added as roots because some root was unresolvable
    /// ([`UnknownRoots::InferTopLevel`]), in canonical order; classes that were already
    /// roots are not repeated here.
    pub inferred: Vec<String>,
    /// Number of duplicate roots removed.
    pub duplicates: usize,
    /// Number of `class_data` entries whose class has no node (ignored).
    pub orphan_class_data: usize,
}

/// An e-graph with dense indices, CSR adjacency and a flat cost vector.
///
/// ```
/// use saturn_extract::DenseEGraph;
/// let json = r#"{
///   "nodes": {
///     "n1": {"op": "+", "children": ["x1", "x1"], "eclass": "root"},
///     "x1": {"op": "x", "children": [], "eclass": "x", "cost": 2.0}
///   },
///   "root_eclasses": ["root"]
/// }"#;
/// let g = DenseEGraph::from_json_str(json).unwrap();
/// assert_eq!((g.num_classes(), g.num_nodes()), (2, 2));
/// let root = g.roots()[0];
/// assert_eq!(g.class_id(root), "root");
/// let plus = g.nodes(root).next().unwrap();
/// assert_eq!(g.op(plus), "+");
/// assert_eq!(g.cost(plus).get(), 1.0); // missing cost defaults to 1
/// assert_eq!(g.children(plus).len(), 2);
/// assert_eq!(g.parents(g.class_of(g.child_nodes(plus)[0])), &[plus]); // listed once
/// ```
#[derive(Debug, Clone)]
pub struct DenseEGraph {
    class_ids: Vec<Arc<str>>,
    node_ids: Vec<Arc<str>>,
    class_index: HashMap<Arc<str>, ClassIdx>,
    node_index: HashMap<Arc<str>, NodeIdx>,
    op_names: Vec<Arc<str>>,
    node_op: Vec<u32>,
    node_class: Vec<ClassIdx>,
    input_cost: Vec<Cost>,
    cost: Vec<Cost>,
    subsumed: Vec<bool>,
    class_start: Vec<u32>,
    child_start: Vec<u32>,
    child_class: Vec<ClassIdx>,
    child_node: Vec<NodeIdx>,
    parent_start: Vec<u32>,
    parents: Vec<NodeIdx>,
    roots: Vec<ClassIdx>,
    root_report: RootReport,
    class_data: Vec<Option<ClassData>>,
    has_negative_costs: bool,
}

/// "Natural" total order on ids: runs of ASCII digits compare numerically, everything
/// else bytewise; ties (e.g. `"01"` vs `"1"`) fall back to plain byte order, so the
/// order is total and only equal strings compare equal.
///
/// ```
/// use saturn_extract::natural_cmp;
/// use std::cmp::Ordering;
/// assert_eq!(natural_cmp("9.1", "10.0"), Ordering::Less);
/// assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
/// assert_eq!(natural_cmp("01", "1"), Ordering::Less);
/// ```
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let da = trim_zeros(&ab[si..i]);
            let db = trim_zeros(&bb[sj..j]);
            let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            let ord = ab[i].cmp(&bb[j]);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| ab.cmp(bb))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().take_while(|&&c| c == b'0').count();
    &d[k..]
}

fn to_u32(n: usize, what: &'static str) -> Result<u32, BuildError> {
    u32::try_from(n).map_err(|_| BuildError::TooLarge { what })
}

/// One representative (the smallest index) of every source strongly connected component
/// of the class graph `edges`, ascending. Iterative Tarjan; `O(classes + edges)`.
/// See [`UnknownRoots::InferTopLevel`].
fn top_level_classes<'a>(n: usize, edges: impl Fn(usize) -> &'a [ClassIdx]) -> Vec<ClassIdx> {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    // DFS frames: (class, position in its edge list).
    let mut frames: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut n_comps = 0u32;
    for start in 0..n {
        if index[start] != UNSEEN {
            continue;
        }
        index[start] = next_index;
        low[start] = next_index;
        next_index += 1;
        stack.push(start as u32);
        on_stack[start] = true;
        frames.push((start as u32, 0));
        while let Some(&mut (v, ref mut pos)) = frames.last_mut() {
            let v = v as usize;
            let out = edges(v);
            if let Some(&w) = out.get(*pos) {
                *pos += 1;
                let w = w.index();
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    frames.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(p, _)) = frames.last() {
                let p = p as usize;
                low[p] = low[p].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = n_comps;
                    if w as usize == v {
                        break;
                    }
                }
                n_comps += 1;
            }
        }
    }
    let mut has_parent = vec![false; n_comps as usize];
    for (v, &cv) in comp.iter().enumerate() {
        for &w in edges(v) {
            let cw = comp[w.index()];
            if cw != cv {
                has_parent[cw as usize] = true;
            }
        }
    }
    // Classes are scanned in ascending order, so the first class seen of a component is
    // its smallest.
    let mut taken = vec![false; n_comps as usize];
    let mut out = Vec::new();
    for (v, &cv) in comp.iter().enumerate() {
        if !has_parent[cv as usize] && !std::mem::replace(&mut taken[cv as usize], true) {
            out.push(ClassIdx(v as u32));
        }
    }
    out
}

impl DenseEGraph {
    /// Builds a dense graph with [`BuildOptions::default`] (strict roots).
    pub fn from_serialized(eg: &EGraph) -> Result<DenseEGraph, BuildError> {
        Self::from_serialized_with(eg, &BuildOptions::default())
    }

    /// Parses egraph-serialize JSON from a string and builds a dense graph with default
    /// options. For files use [`crate::io::load_dense`], which reports paths and positions.
    pub fn from_json_str(json: &str) -> Result<DenseEGraph, crate::LoadError> {
        crate::io::parse_dense_str(json, "<string>", &BuildOptions::default())
    }

    /// Builds a dense graph. Never panics on malformed input: dangling children, unknown
    /// roots, empty graphs and invalid costs are reported as [`BuildError`]s.
    pub fn from_serialized_with(
        eg: &EGraph,
        opts: &BuildOptions,
    ) -> Result<DenseEGraph, BuildError> {
        if eg.nodes.is_empty() {
            return Err(BuildError::Empty);
        }
        let n_nodes = eg.nodes.len();
        to_u32(n_nodes, "nodes")?;

        // 1. Classes in natural id order.
        let mut class_names: Vec<&str> = eg.nodes.values().map(|n| n.eclass.as_ref()).collect();
        class_names.sort_unstable_by(|a, b| natural_cmp(a, b));
        class_names.dedup();
        let n_classes = class_names.len();
        let mut class_lookup: HashMap<&str, u32> = HashMap::with_capacity(n_classes);
        for (i, name) in class_names.iter().enumerate() {
            class_lookup.insert(name, i as u32);
        }

        // 2. Children as classes (original node order), detecting dangling ids.
        let mut orig_child_start = Vec::with_capacity(n_nodes + 1);
        let mut orig_child_class: Vec<u32> = Vec::new();
        let mut orig_child_node: Vec<u32> = Vec::new();
        let mut orig_class: Vec<u32> = Vec::with_capacity(n_nodes);
        orig_child_start.push(0usize);
        for (id, node) in &eg.nodes {
            orig_class.push(class_lookup[node.eclass.as_ref()]);
            for child in &node.children {
                match eg.nodes.get_full(child) {
                    Some((ci, _, cn)) => {
                        orig_child_class.push(class_lookup[cn.eclass.as_ref()]);
                        orig_child_node.push(ci as u32);
                    }
                    None => {
                        return Err(BuildError::DanglingChild {
                            node: id.to_string(),
                            child: child.to_string(),
                        })
                    }
                }
            }
            orig_child_start.push(orig_child_class.len());
        }
        let n_children = to_u32(orig_child_class.len(), "children")?;
        let _ = n_children;

        // 3. Canonical node order: (class, op, children's classes, node id).
        let entries: Vec<(&egraph_serialize::NodeId, &egraph_serialize::Node)> =
            eg.nodes.iter().collect();
        let kids = |i: usize| &orig_child_class[orig_child_start[i]..orig_child_start[i + 1]];
        let mut order: Vec<usize> = (0..n_nodes).collect();
        order.sort_unstable_by(|&a, &b| {
            orig_class[a]
                .cmp(&orig_class[b])
                .then_with(|| entries[a].1.op.cmp(&entries[b].1.op))
                .then_with(|| kids(a).cmp(kids(b)))
                .then_with(|| natural_cmp(entries[a].0.as_ref(), entries[b].0.as_ref()))
        });
        let mut dense_of_orig = vec![0u32; n_nodes];
        for (d, &o) in order.iter().enumerate() {
            dense_of_orig[o] = d as u32;
        }

        // 4. Fill node arrays in dense order.
        let class_ids: Vec<Arc<str>> = class_names.iter().map(|s| Arc::from(*s)).collect();
        let mut op_lookup: HashMap<&str, u32> = HashMap::new();
        let mut op_names: Vec<Arc<str>> = Vec::new();
        let mut node_ids = Vec::with_capacity(n_nodes);
        let mut node_op = Vec::with_capacity(n_nodes);
        let mut node_class = Vec::with_capacity(n_nodes);
        let mut input_cost = Vec::with_capacity(n_nodes);
        let mut subsumed = Vec::with_capacity(n_nodes);
        let mut child_start = Vec::with_capacity(n_nodes + 1);
        let mut child_class = Vec::with_capacity(orig_child_class.len());
        let mut child_node = Vec::with_capacity(orig_child_class.len());
        child_start.push(0u32);
        let mut class_start = vec![0u32; n_classes + 1];
        for &o in &order {
            let (id, node) = entries[o];
            node_ids.push(Arc::<str>::from(id.as_ref()));
            let op = *op_lookup.entry(node.op.as_str()).or_insert_with(|| {
                op_names.push(Arc::from(node.op.as_str()));
                (op_names.len() - 1) as u32
            });
            node_op.push(op);
            node_class.push(ClassIdx(orig_class[o]));
            class_start[orig_class[o] as usize + 1] += 1;
            let c = node.cost.into_inner();
            if c.is_nan() || c == f64::NEG_INFINITY {
                return Err(BuildError::InvalidCost {
                    node: id.to_string(),
                    cost: c,
                });
            }
            input_cost.push(Cost::new(c).unwrap_or(Cost::INFINITY));
            subsumed.push(node.subsumed);
            for k in orig_child_start[o]..orig_child_start[o + 1] {
                child_class.push(ClassIdx(orig_child_class[k]));
                child_node.push(NodeIdx(dense_of_orig[orig_child_node[k] as usize]));
            }
            child_start.push(child_class.len() as u32);
        }
        for c in 0..n_classes {
            class_start[c + 1] += class_start[c];
        }

        // 5. Parents (each node once per distinct child class), in node order.
        let mut parent_count = vec![0u32; n_classes + 1];
        let mut buf: Vec<u32> = Vec::new();
        let distinct = |n: usize, buf: &mut Vec<u32>| {
            buf.clear();
            buf.extend(
                child_class[child_start[n] as usize..child_start[n + 1] as usize]
                    .iter()
                    .map(|c| c.0),
            );
            buf.sort_unstable();
            buf.dedup();
        };
        for n in 0..n_nodes {
            distinct(n, &mut buf);
            for &c in &buf {
                parent_count[c as usize + 1] += 1;
            }
        }
        for c in 0..n_classes {
            parent_count[c + 1] += parent_count[c];
        }
        let parent_start = parent_count.clone();
        let mut fill = parent_count;
        let mut parents = vec![NodeIdx(0); parent_start[n_classes] as usize];
        for n in 0..n_nodes {
            distinct(n, &mut buf);
            for &c in &buf {
                parents[fill[c as usize] as usize] = NodeIdx(n as u32);
                fill[c as usize] += 1;
            }
        }

        // 6. Lookup tables.
        let class_index: HashMap<Arc<str>, ClassIdx> = class_ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), ClassIdx(i as u32)))
            .collect();
        let node_index: HashMap<Arc<str>, NodeIdx> = node_ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), NodeIdx(i as u32)))
            .collect();

        // 7. Roots.
        let mut report = RootReport {
            listed: eg.root_eclasses.len(),
            ..RootReport::default()
        };
        let mut roots: Vec<ClassIdx> = Vec::new();
        let mut root_seen = vec![false; n_classes];
        for r in &eg.root_eclasses {
            let rs: &str = r.as_ref();
            let class = if let Some(&c) = class_index.get(rs) {
                Some(c)
            } else if let (true, Some(&n)) = (opts.roots_may_name_nodes, node_index.get(rs)) {
                let c = node_class[n.index()];
                report
                    .via_node
                    .push((rs.to_string(), class_ids[c.index()].to_string()));
                Some(c)
            } else {
                match opts.unknown_roots {
                    UnknownRoots::Error => {
                        return Err(BuildError::UnknownRoot {
                            root: rs.to_string(),
                        })
                    }
                    UnknownRoots::Drop | UnknownRoots::InferTopLevel => {
                        report.dropped.push(rs.to_string());
                        None
                    }
                }
            };
            if let Some(c) = class {
                if std::mem::replace(&mut root_seen[c.index()], true) {
                    report.duplicates += 1;
                } else {
                    roots.push(c);
                }
            }
        }
        if opts.unknown_roots == UnknownRoots::InferTopLevel && !report.dropped.is_empty() {
            let class_edges = |c: usize| {
                let n0 = class_start[c] as usize;
                let n1 = class_start[c + 1] as usize;
                &child_class[child_start[n0] as usize..child_start[n1] as usize]
            };
            for c in top_level_classes(n_classes, class_edges) {
                if !std::mem::replace(&mut root_seen[c.index()], true) {
                    report.inferred.push(class_ids[c.index()].to_string());
                    roots.push(c);
                }
            }
        }
        if roots.is_empty() {
            return Err(BuildError::NoRoots {
                listed: report.listed,
                dropped: report.dropped.len(),
            });
        }

        // 8. Class data.
        let mut class_data = vec![None; n_classes];
        for (cid, data) in &eg.class_data {
            match class_index.get(cid.as_ref()) {
                Some(c) => class_data[c.index()] = Some(data.clone()),
                None => report.orphan_class_data += 1,
            }
        }

        let mut g = DenseEGraph {
            class_ids,
            node_ids,
            class_index,
            node_index,
            op_names,
            node_op,
            node_class,
            cost: input_cost.clone(),
            input_cost,
            subsumed,
            class_start,
            child_start,
            child_class,
            child_node,
            parent_start,
            parents,
            roots,
            root_report: report,
            class_data,
            has_negative_costs: false,
        };
        g.apply_cost_model(&JsonCost)?;
        Ok(g)
    }

    /// Replaces the node costs with those of `model`. Fails (leaving the costs
    /// unchanged) if the model returns NaN or `-inf` for some node.
    pub fn apply_cost_model(&mut self, model: &dyn CostModel) -> Result<(), BuildError> {
        let mut costs = Vec::with_capacity(self.num_nodes());
        for n in 0..self.num_nodes() {
            let c = model.node_cost(self, NodeIdx(n as u32));
            if c.get() == f64::NEG_INFINITY {
                return Err(BuildError::InvalidCost {
                    node: self.node_ids[n].to_string(),
                    cost: c.get(),
                });
            }
            costs.push(c);
        }
        self.has_negative_costs = costs.iter().any(|c| c.get() < 0.0);
        self.cost = costs;
        Ok(())
    }

    /// Number of e-classes.
    #[inline]
    pub fn num_classes(&self) -> usize {
        self.class_ids.len()
    }

    /// Number of e-nodes.
    #[inline]
    pub fn num_nodes(&self) -> usize {
        self.node_ids.len()
    }

    /// Total number of (node, child) edges.
    #[inline]
    pub fn num_edges(&self) -> usize {
        self.child_class.len()
    }

    /// All class indices.
    pub fn classes(&self) -> impl ExactSizeIterator<Item = ClassIdx> + Clone {
        (0..self.num_classes() as u32).map(ClassIdx)
    }

    /// The nodes of class `c`, in tie-breaking order.
    #[inline]
    pub fn nodes(&self, c: ClassIdx) -> impl ExactSizeIterator<Item = NodeIdx> + Clone {
        self.node_range(c).map(|n| NodeIdx(n as u32))
    }

    /// The nodes of class `c` as an index range.
    #[inline]
    pub fn node_range(&self, c: ClassIdx) -> Range<usize> {
        self.class_start[c.index()] as usize..self.class_start[c.index() + 1] as usize
    }

    /// The class of node `n`.
    #[inline]
    pub fn class_of(&self, n: NodeIdx) -> ClassIdx {
        self.node_class[n.index()]
    }

    /// The child classes of node `n`, in argument order (may repeat).
    #[inline]
    pub fn children(&self, n: NodeIdx) -> &[ClassIdx] {
        &self.child_class
            [self.child_start[n.index()] as usize..self.child_start[n.index() + 1] as usize]
    }

    /// The child node ids of node `n` as written in the input, in argument order.
    #[inline]
    pub fn child_nodes(&self, n: NodeIdx) -> &[NodeIdx] {
        &self.child_node
            [self.child_start[n.index()] as usize..self.child_start[n.index() + 1] as usize]
    }

    /// The nodes that have class `c` as a child (each once, ascending).
    #[inline]
    pub fn parents(&self, c: ClassIdx) -> &[NodeIdx] {
        &self.parents
            [self.parent_start[c.index()] as usize..self.parent_start[c.index() + 1] as usize]
    }

    /// The cost of node `n` under the current cost model.
    #[inline]
    pub fn cost(&self, n: NodeIdx) -> Cost {
        self.cost[n.index()]
    }

    /// The cost written in the input for node `n` (1.0 if it had none).
    #[inline]
    pub fn input_cost(&self, n: NodeIdx) -> Cost {
        self.input_cost[n.index()]
    }

    /// Whether node `n` is marked `subsumed` in the input.
    #[inline]
    pub fn is_subsumed(&self, n: NodeIdx) -> bool {
        self.subsumed[n.index()]
    }

    /// Whether some node has a negative cost under the current cost model.
    #[inline]
    pub fn has_negative_costs(&self) -> bool {
        self.has_negative_costs
    }

    /// The operator of node `n`.
    #[inline]
    pub fn op(&self, n: NodeIdx) -> &str {
        &self.op_names[self.node_op[n.index()] as usize]
    }

    /// The original id of class `c`.
    #[inline]
    pub fn class_id(&self, c: ClassIdx) -> &str {
        &self.class_ids[c.index()]
    }

    /// The original id of node `n`.
    #[inline]
    pub fn node_id(&self, n: NodeIdx) -> &str {
        &self.node_ids[n.index()]
    }

    /// Looks up a class by its original id.
    pub fn class_by_id(&self, id: &str) -> Option<ClassIdx> {
        self.class_index.get(id).copied()
    }

    /// Looks up a node by its original id.
    pub fn node_by_id(&self, id: &str) -> Option<NodeIdx> {
        self.node_index.get(id).copied()
    }

    /// The resolved, de-duplicated root classes.
    pub fn roots(&self) -> &[ClassIdx] {
        &self.roots
    }

    /// How the input's roots were resolved.
    pub fn root_report(&self) -> &RootReport {
        &self.root_report
    }

    /// The `class_data` entry of class `c`, if the input had one.
    pub fn class_data(&self, c: ClassIdx) -> Option<&ClassData> {
        self.class_data[c.index()].as_ref()
    }

    /// Classes reachable from `roots` through *any* node (the part of the graph an
    /// extraction can possibly use), as a membership mask.
    pub fn reachable_mask(&self, roots: &[ClassIdx]) -> Vec<bool> {
        let mut seen = vec![false; self.num_classes()];
        let mut stack: Vec<ClassIdx> = Vec::new();
        for &r in roots {
            if r.index() < seen.len() && !seen[r.index()] {
                seen[r.index()] = true;
                stack.push(r);
            }
        }
        while let Some(c) = stack.pop() {
            for n in self.nodes(c) {
                for &d in self.children(n) {
                    if !seen[d.index()] {
                        seen[d.index()] = true;
                        stack.push(d);
                    }
                }
            }
        }
        seen
    }
}
