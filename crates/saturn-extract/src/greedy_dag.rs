//! DAG-aware greedy extraction with persistent cost sets.
//!
//! # Algorithm
//!
//! Like extraction-gym's `faster-greedy-dag`, every class `c` keeps a *cost set*: the
//! classes of the term DAG it currently extracts to, each with the cost of the node
//! chosen for it, and the set's total. The cost of a candidate node `n` of `c` is
//! `cost(n) + Σ` over the **union** of its children's sets, so shared subterms are paid
//! once. A node whose union contains `c` itself is rejected (it would close a cycle).
//! A class adopts the cheapest candidate when it is strictly cheaper than its current
//! total, and then its parents are re-evaluated; the iteration stops at a fixpoint.
//!
//! * **Rounds, in parallel.** As in [`crate::bottom_up`], evaluation proceeds in
//!   synchronous rounds over the dirty classes; a round only reads the previous round's
//!   sets, so classes are evaluated (and new sets built) in parallel with rayon and the
//!   result is identical for any thread count. Ties go to the smallest node index.
//! * **No quadratic blow-up.** Sets are persistent hash maps (`imbl`, a HAMT with
//!   structural sharing): a class with a single child *shares* the child's set and adds
//!   one entry in `O(log n)` time and memory, instead of copying it. Unions are built
//!   small-into-large: the largest child set is the base and only the other children's
//!   entries are looked up / inserted. Evaluating a candidate never materialises the
//!   union; only the winner's set is built. Sets are only recomputed for classes whose
//!   children's sets changed.
//! * **Deterministic sums.** The hasher is a fixed bijective mixer on `u32` class
//!   indices, so iteration order (and therefore floating-point summation order) is a
//!   function of the set content only.
//!
//! # From cost sets to a valid extraction
//!
//! Cost sets are snapshots: after a child improves, a parent's stored set may describe
//! older choices, and the final per-class choices can in rare cases contain a cycle (a
//! child may later adopt a node that reaches the parent). The final extraction is
//! therefore *materialised* from the roots with a DFS over the chosen nodes. When a
//! chosen node closes a cycle, that class and everything reachable from it switch to
//! the [`BottomUp`] choices (which are acyclic and closed under their own children),
//! and the DFS restarts; every restart moves at least one class to the fallback, so
//! this terminates. The reported DAG and tree costs are computed from the materialised
//! extraction, not from the (possibly stale) sets. The number of rounds is capped
//! ([`GreedyDag::max_rounds_factor`]); reaching the cap only loses quality, never
//! validity.
//!
//! Greedy DAG extraction is a heuristic: it is usually better than tree extraction on
//! DAG cost, but not on every graph (stale sets can mislead it; on extraction-gym's
//! `herbie/5799.json` plain greedy is ~6% worse than bottom-up). With
//! [`GreedyDag::compare_with_bottom_up`] (default) the bottom-up extraction is computed
//! as well and returned when its DAG cost is strictly lower, so the result is never
//! worse than [`BottomUp`]'s in DAG cost.

use std::hash::{BuildHasher, Hasher};

use rayon::prelude::*;

use crate::bottom_up::{BottomUp, TreeCosts};
use crate::cost::Cost;
use crate::dense::{ClassIdx, DenseEGraph, NodeIdx};
use crate::error::ExtractError;
use crate::extraction::{canonical_roots, Extraction, Extractor};

/// Deterministic hasher for `u32` class indices (a bijective 32-bit mixer, so distinct
/// keys never collide in imbl's 32-bit hash space).
#[derive(Debug, Clone, Copy, Default)]
struct ClassHasher(u64);

impl Hasher for ClassHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        // lowbias32 (bijective on u32).
        let mut x = i;
        x ^= x >> 16;
        x = x.wrapping_mul(0x7feb_352d);
        x ^= x >> 15;
        x = x.wrapping_mul(0x846c_a68b);
        x ^= x >> 16;
        self.0 = u64::from(x);
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct BuildClassHasher;

impl BuildHasher for BuildClassHasher {
    type Hasher = ClassHasher;
    fn build_hasher(&self) -> ClassHasher {
        ClassHasher(0)
    }
}

type CostSet =
    imbl::GenericHashMap<u32, Cost, BuildClassHasher, imbl::shared_ptr::DefaultSharedPtr>;

#[derive(Debug, Clone)]
struct Entry {
    total: Cost,
    set: CostSet,
}

/// DAG-aware greedy extractor (see the [module docs](crate::greedy_dag)).
///
/// ```
/// use saturn_extract::{DenseEGraph, Extractor, GreedyDag};
/// // r = f(a, b) with a = p(z), b = q(z)  (z shared)  or  r = h  (cost 5).
/// let g = DenseEGraph::from_json_str(r#"{"nodes": {
///     "f": {"op": "f", "children": ["a", "b"], "eclass": "r", "cost": 1},
///     "h": {"op": "h", "children": [], "eclass": "r", "cost": 5},
///     "a": {"op": "p", "children": ["z"], "eclass": "a", "cost": 1},
///     "b": {"op": "q", "children": ["z"], "eclass": "b", "cost": 1},
///     "z": {"op": "z", "children": [], "eclass": "z", "cost": 1.5}},
///   "root_eclasses": ["r"]}"#).unwrap();
/// let ex = GreedyDag::default().extract(&g, g.roots()).unwrap();
/// assert_eq!(ex.reported_dag.unwrap().get(), 4.5); // tree cost would be 6
/// ```
#[derive(Debug, Clone)]
pub struct GreedyDag {
    /// Rounds with fewer dirty classes than this run sequentially (same result).
    pub parallel_threshold: usize,
    /// Stop iterating after `max_rounds_factor * #reachable classes + 16` rounds
    /// (quality may suffer, validity does not).
    pub max_rounds_factor: usize,
    /// Also compute the [`BottomUp`] extraction and return it instead when its DAG cost
    /// is strictly lower (default `true`; costs one extra, cheap, bottom-up run).
    pub compare_with_bottom_up: bool,
}

impl Default for GreedyDag {
    fn default() -> Self {
        GreedyDag {
            parallel_threshold: 64,
            max_rounds_factor: 4,
            compare_with_bottom_up: true,
        }
    }
}

/// Scratch buffers reused across evaluations on one thread.
#[derive(Default)]
struct Scratch {
    kids: Vec<ClassIdx>,
    extra: Vec<(u32, Cost)>,
}

/// Distinct children of `n` (sorted), or `None` if `n` can't be used by class `c`
/// (infinite cost, a child without a set, or a child whose set contains `c`).
fn usable_kids<'a>(
    g: &DenseEGraph,
    c: ClassIdx,
    n: NodeIdx,
    sets: &'a [Option<Entry>],
    s: &mut Scratch,
) -> Option<()> {
    if g.cost(n) == Cost::INFINITY {
        return None;
    }
    s.kids.clear();
    s.kids.extend_from_slice(g.children(n));
    s.kids.sort_unstable();
    s.kids.dedup();
    for &d in &s.kids {
        if d == c {
            return None;
        }
        let e: &'a Entry = sets[d.index()].as_ref()?;
        if e.set.contains_key(&c.0) {
            return None;
        }
    }
    Some(())
}

/// Index into `s.kids` of the child with the largest set (first on ties).
fn base_kid(sets: &[Option<Entry>], s: &Scratch) -> usize {
    let mut best = 0;
    let mut best_len = 0;
    for (i, d) in s.kids.iter().enumerate() {
        let len = sets[d.index()].as_ref().map_or(0, |e| e.set.len());
        if i == 0 || len > best_len {
            best = i;
            best_len = len;
        }
    }
    best
}

/// Entries of the non-base children that are not in the base set, deduplicated by
/// class (first occurrence wins), in a deterministic order; stored in `s.extra`.
fn collect_extra(sets: &[Option<Entry>], s: &mut Scratch, base: usize) {
    s.extra.clear();
    let base_set = &sets[s.kids[base].index()].as_ref().expect("usable").set;
    for (i, d) in s.kids.iter().enumerate() {
        if i == base {
            continue;
        }
        let e = sets[d.index()].as_ref().expect("usable");
        if e.set.ptr_eq(base_set) {
            continue;
        }
        for (&k, &v) in e.set.iter() {
            if !base_set.contains_key(&k) {
                s.extra.push((k, v));
            }
        }
    }
    if s.kids.len() > 2 {
        // Stable sort keeps the first occurrence first; then drop duplicates.
        s.extra.sort_by_key(|&(k, _)| k);
        s.extra.dedup_by_key(|&mut (k, _)| k);
    }
}

/// Cost of node `n` for class `c` under the current sets, or `None` if unusable.
fn eval_node(
    g: &DenseEGraph,
    c: ClassIdx,
    n: NodeIdx,
    sets: &[Option<Entry>],
    s: &mut Scratch,
) -> Option<Cost> {
    usable_kids(g, c, n, sets, s)?;
    let own = g.cost(n);
    if s.kids.is_empty() {
        return Some(own);
    }
    let base = base_kid(sets, s);
    let mut total = own + sets[s.kids[base].index()].as_ref().expect("usable").total;
    if s.kids.len() > 1 {
        collect_extra(sets, s, base);
        for &(_, v) in &s.extra {
            total += v;
        }
    }
    Some(total)
}

/// Builds the set of class `c` choosing node `n` (which must be usable).
fn build_entry(
    g: &DenseEGraph,
    c: ClassIdx,
    n: NodeIdx,
    total: Cost,
    sets: &[Option<Entry>],
    s: &mut Scratch,
) -> Entry {
    usable_kids(g, c, n, sets, s).expect("winner is usable");
    let mut set = if s.kids.is_empty() {
        CostSet::with_hasher(BuildClassHasher)
    } else {
        let base = base_kid(sets, s);
        let mut set = sets[s.kids[base].index()]
            .as_ref()
            .expect("usable")
            .set
            .clone();
        if s.kids.len() > 1 {
            collect_extra(sets, s, base);
            for &(k, v) in &s.extra {
                set.insert(k, v);
            }
        }
        set
    };
    set.insert(c.0, g.cost(n));
    Entry { total, set }
}

impl GreedyDag {
    /// Runs the cost-set fixpoint on the classes reachable from `roots`; returns the
    /// per-class choices (before materialisation) and the number of rounds.
    fn fixpoint(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> (Vec<Option<NodeIdx>>, usize) {
        let nc = g.num_classes();
        let reachable = g.reachable_mask(roots);
        let mut sets: Vec<Option<Entry>> = vec![None; nc];
        let mut choice: Vec<Option<NodeIdx>> = vec![None; nc];
        let mut dirty: Vec<ClassIdx> = g.classes().filter(|c| reachable[c.index()]).collect();
        let max_rounds = self
            .max_rounds_factor
            .saturating_mul(dirty.len())
            .saturating_add(16);
        let mut stamp = vec![0usize; nc];
        let mut rounds = 0;

        while !dirty.is_empty() && rounds < max_rounds {
            rounds += 1;
            let sets_ref = &sets;
            let eval = |s: &mut Scratch, &c: &ClassIdx| -> Option<(ClassIdx, NodeIdx, Entry)> {
                let mut best: Option<(Cost, NodeIdx)> = None;
                for n in g.nodes(c) {
                    if let Some(cost) = eval_node(g, c, n, sets_ref, s) {
                        if best.is_none_or(|(b, _)| cost < b) {
                            best = Some((cost, n));
                        }
                    }
                }
                let (cost, n) = best?;
                if let Some(cur) = &sets_ref[c.index()] {
                    if cost >= cur.total {
                        return None;
                    }
                }
                Some((c, n, build_entry(g, c, n, cost, sets_ref, s)))
            };
            let updates: Vec<(ClassIdx, NodeIdx, Entry)> = if dirty.len() >= self.parallel_threshold
            {
                dirty
                    .par_iter()
                    .map_init(Scratch::default, eval)
                    .flatten_iter()
                    .collect()
            } else {
                let mut s = Scratch::default();
                dirty.iter().filter_map(|c| eval(&mut s, c)).collect()
            };
            dirty.clear();
            for (c, _, _) in &updates {
                for &p in g.parents(*c) {
                    let pc = g.class_of(p);
                    if reachable[pc.index()] && stamp[pc.index()] != rounds {
                        stamp[pc.index()] = rounds;
                        dirty.push(pc);
                    }
                }
            }
            for (c, n, e) in updates {
                choice[c.index()] = Some(n);
                sets[c.index()] = Some(e);
            }
        }
        (choice, rounds)
    }
}

/// Follows `choice` (or the bottom-up choice for classes in `fallback`) from the roots;
/// returns the post-order of reached classes, or the class whose chosen node closes a
/// cycle.
fn materialize(
    g: &DenseEGraph,
    roots: &[ClassIdx],
    choice: &[Option<NodeIdx>],
    fallback: &[bool],
    bu: Option<&TreeCosts>,
) -> Result<Result<Vec<ClassIdx>, ClassIdx>, ExtractError> {
    let eff = |c: ClassIdx| -> Option<NodeIdx> {
        if fallback[c.index()] {
            bu.and_then(|b| b.choice[c.index()])
        } else {
            choice[c.index()]
        }
    };
    let mut color = vec![0u8; g.num_classes()];
    let mut post = Vec::new();
    let mut stack: Vec<(ClassIdx, NodeIdx, usize)> = Vec::new();
    for &r in roots {
        if color[r.index()] != 0 {
            continue;
        }
        let n = eff(r).ok_or_else(|| ExtractError::NoTerm {
            class: g.class_id(r).to_string(),
        })?;
        color[r.index()] = 1;
        stack.push((r, n, 0));
        while let Some(top) = stack.last_mut() {
            let (c, n, i) = *top;
            let kids = g.children(n);
            if i < kids.len() {
                top.2 += 1;
                let d = kids[i];
                match color[d.index()] {
                    0 => {
                        // A chosen node's children always have a choice (they had sets
                        // when it was chosen; fallback classes are closed under bottom-up
                        // choices), but stay defensive.
                        let m = eff(d).ok_or_else(|| ExtractError::NoTerm {
                            class: g.class_id(d).to_string(),
                        })?;
                        color[d.index()] = 1;
                        stack.push((d, m, 0));
                    }
                    1 => return Ok(Err(c)),
                    _ => {}
                }
            } else {
                color[c.index()] = 2;
                post.push(c);
                stack.pop();
            }
        }
    }
    Ok(Ok(post))
}

impl Extractor for GreedyDag {
    fn name(&self) -> &'static str {
        "greedy-dag"
    }

    fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError> {
        let roots = canonical_roots(g, roots)?;
        let (choice, _rounds) = self.fixpoint(g, &roots);
        let mut fallback = vec![false; g.num_classes()];
        let mut bu: Option<TreeCosts> = None;
        let post = loop {
            match materialize(g, &roots, &choice, &fallback, bu.as_ref())? {
                Ok(post) => break post,
                Err(culprit) => {
                    if bu.is_none() {
                        bu = Some(BottomUp::default().solve(g, &roots)?);
                    }
                    let b = bu.as_ref().expect("just computed");
                    let mut stack = vec![culprit];
                    while let Some(x) = stack.pop() {
                        if std::mem::replace(&mut fallback[x.index()], true) {
                            continue;
                        }
                        let n = b.choice[x.index()].ok_or_else(|| ExtractError::NoTerm {
                            class: g.class_id(x).to_string(),
                        })?;
                        stack.extend(g.children(n).iter().copied());
                    }
                }
            }
        };

        let eff_greedy = |c: ClassIdx| {
            if fallback[c.index()] {
                bu.as_ref().and_then(|b| b.choice[c.index()])
            } else {
                choice[c.index()]
            }
        };
        let ex = assemble(g, &roots, &post, eff_greedy);
        if !self.compare_with_bottom_up {
            return Ok(ex);
        }
        // Portfolio: the bottom-up extraction is occasionally the better DAG.
        let bu = match bu {
            Some(b) => b,
            // E.g. unbounded tree cost (negative cycle): keep the greedy result.
            None => match BottomUp::default().solve(g, &roots) {
                Ok(b) => b,
                Err(_) => return Ok(ex),
            },
        };
        if roots.iter().any(|r| bu.choice[r.index()].is_none()) {
            return Ok(ex);
        }
        let all = vec![true; g.num_classes()];
        let bu_post = match materialize(g, &roots, &choice, &all, Some(&bu))? {
            Ok(p) => p,
            Err(_) => return Ok(ex), // cannot happen (bottom-up is acyclic); keep greedy
        };
        let bu_ex = assemble(g, &roots, &bu_post, |c| bu.choice[c.index()]);
        if bu_ex.reported_dag < ex.reported_dag {
            Ok(bu_ex)
        } else {
            Ok(ex)
        }
    }
}

/// Builds the extraction of the classes in `post` (a post-order) with node `eff(c)`,
/// and computes its tree and DAG costs.
fn assemble(
    g: &DenseEGraph,
    roots: &[ClassIdx],
    post: &[ClassIdx],
    eff: impl Fn(ClassIdx) -> Option<NodeIdx>,
) -> Extraction {
    let mut ex = Extraction::new(g.num_classes());
    let mut tree = vec![Cost::ZERO; g.num_classes()];
    for &c in post {
        let n = eff(c).expect("materialised classes are chosen");
        ex.set(c, n);
        let mut t = g.cost(n);
        for &d in g.children(n) {
            t += tree[d.index()];
        }
        tree[c.index()] = t;
    }
    let mut reached = post.to_vec();
    reached.sort_unstable();
    ex.reported_dag = Some(
        reached
            .iter()
            .map(|&c| g.cost(ex.choice(c).expect("chosen")))
            .sum(),
    );
    ex.reported_tree = Some(roots.iter().map(|r| tree[r.index()]).sum());
    ex
}
