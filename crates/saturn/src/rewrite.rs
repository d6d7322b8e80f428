//! Rewrites: a pattern to search, conditions, and an applier.
//!
//! Applying is split in two, so that the expensive part runs in parallel
//! and the result does not depend on thread timing:
//! 1. *staging* (parallel, read-only): for each match, conditions are
//!    checked and the applier describes what to add and union in an
//!    [`Actions`] buffer. Nodes that already exist resolve to their class;
//!    missing ones become pending nodes local to the buffer;
//! 2. *commit* (in match order): pending nodes are added and unions
//!    performed. Ids of new nodes thus depend only on the match order,
//!    which is fixed (rule, then root class, then matcher order).
//!
//! Appliers and conditions written in Rust implement [`Applier`] and
//! [`Condition`] (closures are conditions); rule files build them from
//! text (see [`crate::rules`]).

use std::fmt;
use std::sync::Arc;

use crate::pattern::ENodeOrVar;
use crate::{Analysis, EGraph, Id, Language, Pattern, Subst, Symbol, Var};

/// A reference to a class that exists, or to a node pending in an
/// [`Actions`] buffer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref(u32);

const PENDING: u32 = 1 << 31;

impl Ref {
    /// An existing class.
    pub fn class(id: Id) -> Ref {
        debug_assert!(id.0 < PENDING);
        Ref(id.0)
    }

    /// The class, if this refers to an existing one.
    pub fn as_class(self) -> Option<Id> {
        (self.0 < PENDING).then_some(Id(self.0))
    }

    fn pending(i: usize) -> Ref {
        Ref(PENDING | i as u32)
    }

    /// The ref stored in a pending node's child slot.
    pub(crate) fn from_raw(raw: u32) -> Ref {
        Ref(raw)
    }

    pub(crate) fn pending_index(self) -> Option<usize> {
        (self.0 >= PENDING).then_some((self.0 & !PENDING) as usize)
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pending_index() {
            Some(i) => write!(f, "pending#{i}"),
            None => write!(f, "{}", self.0),
        }
    }
}

/// What applying some matches will do: nodes to add and classes to union.
///
/// Children of pending nodes are [`Ref`]s encoded in the node's `Id` slots.
pub struct Actions<L> {
    pub(crate) nodes: Vec<L>,
    pub(crate) unions: Vec<(Ref, Ref)>,
    /// Number of matches staged.
    pub(crate) matches: usize,
}

impl<L> Default for Actions<L> {
    fn default() -> Self {
        Actions {
            nodes: vec![],
            unions: vec![],
            matches: 0,
        }
    }
}

impl<L: Language> Actions<L> {
    /// The bytes this buffer stands for while it is committed: three
    /// times what its vectors hold (a vector grown by doubling may have as
    /// much again spare, and the commit copies each level's nodes before
    /// adding them), counted from lengths, so the figure does not depend
    /// on how staging was cut into buffers. On `examples/arith.rules`
    /// under a 500 MiB limit the `passes` strategy peaked at 603 MB with
    /// twice, at 524 MB with three times.
    pub(crate) fn held_bytes(&self) -> usize {
        3 * (self.nodes.len() * std::mem::size_of::<L>()
            + self.unions.len() * std::mem::size_of::<(Ref, Ref)>())
    }

    /// An empty buffer with room for `nodes` pending nodes and `unions`
    /// unions.
    pub(crate) fn with_capacity(nodes: usize, unions: usize) -> Self {
        Actions {
            nodes: Vec::with_capacity(nodes),
            unions: Vec::with_capacity(unions),
            matches: 0,
        }
    }

    /// Adds `node` whose children are refs; returns its ref. If every child
    /// is an existing class and the node exists, no node is queued.
    pub fn add<N: Analysis<L>>(&mut self, egraph: &EGraph<L, N>, mut node: L) -> Ref {
        let mut all_existing = true;
        for c in node.children_mut() {
            match Ref(c.0).as_class() {
                Some(id) => *c = egraph.union_find().find_readonly(id),
                None => all_existing = false,
            }
        }
        if all_existing {
            if let Some(id) = egraph.lookup_canonical(&node) {
                return Ref::class(id);
            }
        }
        self.nodes.push(node);
        Ref::pending(self.nodes.len() - 1)
    }

    /// Instantiates `pattern` under `subst` (variables in `extra` take
    /// precedence); returns the root's ref.
    pub fn instantiate<N: Analysis<L>>(
        &mut self,
        egraph: &EGraph<L, N>,
        pattern: &Pattern<L>,
        subst: &Subst,
        extra: &[(Var, Ref)],
    ) -> Ref {
        self.instantiate_by(egraph, pattern, |_, v| {
            match extra.iter().find(|(x, _)| *x == v) {
                Some((_, r)) => *r,
                None => Ref::class(subst[v]),
            }
        })
    }

    /// Instantiates `pattern`, taking the ref of the variable at position
    /// `k` of its [`Pattern::ast`] from `var(k, variable)`.
    #[inline(always)]
    fn instantiate_by<N: Analysis<L>>(
        &mut self,
        egraph: &EGraph<L, N>,
        pattern: &Pattern<L>,
        var: impl Fn(usize, Var) -> Ref,
    ) -> Ref {
        let mut refs: smallvec::SmallVec<[Ref; 16]> = smallvec::SmallVec::new();
        for (k, n) in pattern.ast().iter().enumerate() {
            let r = match n {
                ENodeOrVar::Var(v) => var(k, *v),
                ENodeOrVar::ENode(n) => {
                    let node = n.clone().map_children(|c| Id(refs[c.index()].0));
                    self.add(egraph, node)
                }
            };
            refs.push(r);
        }
        *refs.last().expect("non-empty pattern")
    }

    /// Records that `a` and `b` are equal.
    pub fn union(&mut self, a: Ref, b: Ref) {
        if a != b {
            self.unions.push((a, b));
        }
    }

    /// True when `a` and `b` denote the same term: the same class, or
    /// pending nodes that are structurally equal.
    pub fn same<N: Analysis<L>>(&self, egraph: &EGraph<L, N>, a: Ref, b: Ref) -> bool {
        match (a.pending_index(), b.pending_index()) {
            (None, None) => {
                let uf = egraph.union_find();
                uf.find_readonly(Id(a.0)) == uf.find_readonly(Id(b.0))
            }
            (Some(i), Some(j)) => {
                let (x, y) = (&self.nodes[i], &self.nodes[j]);
                i == j
                    || (x.matches(y)
                        && x.children()
                            .iter()
                            .zip(y.children())
                            .all(|(p, q)| self.same(egraph, Ref(p.0), Ref(q.0))))
            }
            _ => false,
        }
    }

    /// Number of matches staged.
    pub fn len(&self) -> usize {
        self.matches
    }

    /// True when no match was staged.
    pub fn is_empty(&self) -> bool {
        self.matches == 0
    }

    /// Empties the buffer, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.nodes.clear();
        self.unions.clear();
        self.matches = 0;
    }

    pub(crate) fn mark(&mut self) {
        self.matches += 1;
    }
}

/// Commits staged buffers, in order: adds their pending nodes, then performs
/// their unions; returns how many unions changed the e-graph.
///
/// The nodes are added in *segments*: runs of matches (in buffer order)
/// of at most [`ADD_CHUNK`](crate::egraph::ADD_CHUNK) pending nodes and at
/// most the nodes `node_limit` leaves room for, ending where no later node
/// refers to an earlier one (between matches, or between unconnected
/// parts of one; a bigger match is a segment of its own). A segment's
/// nodes are added level by level (a node's level is one more than its
/// pending children's), each level as one batch ([`EGraph::add_batch`]),
/// so lookups and analysis data are computed in parallel while new ids are
/// still handed out in buffer order. Where segments end depends only on
/// the matches' nodes, not on how staging cut the matches into buffers
/// (which depends on the thread count). A commit of at most `ADD_CHUNK`
/// nodes away from the node limit (almost all of them) is one segment.
///
/// The unions between existing classes come first, before any node is
/// added, so the adds see them: egg, which adds and unions match by
/// match, has each add see the unions of the matches before it. (With the
/// adds first, `math_associate_adds` made a quarter more nodes than egg
/// in its last two iterations, congruent copies that the rebuild merged,
/// and took 1.27x egg's time; now 1.05x.)
///
/// `stop` is polled every 1024 unions between existing classes (the
/// runner checks the limits before each rule's commit), before the first
/// segment, after each (and between the levels of one of more than
/// `ADD_CHUNK` nodes, with [`EGraph::add_batch_until`] polling between its
/// chunks); when it says so, no more such unions are made and no more
/// nodes added. What was committed is sound (each add and union is), so
/// the e-graph stays valid. The unions that join an added node to its
/// match are all performed, so a match whose nodes were all added is
/// applied whole. (Commits used to stop between levels of the
/// whole commit and every 1024 unions, and left added nodes in classes of
/// their own, unreachable from the terms: 5,471 of 5,915 classes on a
/// 12-leaf associative blow-up stopped at 5,000 nodes, where egg, which
/// applies a rule whole and stops after it, has a few hundred; now 1,578
/// classes, all reachable.) Only a match of more than `ADD_CHUNK` nodes can
/// be cut inside; its unions that need a node left out are dropped.
///
/// Its index vectors live in `scratch`, kept by the caller from commit to
/// commit: a run commits once per rule per iteration, mostly a few nodes,
/// and allocating them anew each time cost small runs a few percent.
pub(crate) fn commit_all<L: Language, N: Analysis<L>>(
    egraph: &mut EGraph<L, N>,
    buffers: &[&Actions<L>],
    stop: &dyn Fn(&EGraph<L, N>) -> bool,
    node_limit: usize,
    scratch: &mut CommitScratch,
) -> usize {
    let CommitScratch {
        offsets,
        resolved,
        level,
        origin,
        start,
        order,
        low,
        fill,
    } = scratch;
    // Global index of each buffer's first pending node.
    offsets.clear();
    let mut total = 0;
    for b in buffers {
        offsets.push(total);
        total += b.nodes.len();
    }
    let global = |b: usize, r: Ref| r.pending_index().map(|i| offsets[b] + i);
    resolved.clear();
    resolved.resize(total, UNRESOLVED);
    // The unions between existing classes first (whose merges the rebuild
    // must repair; they stop at a stop, polled every 1024 of them: the
    // runner checks the limits before each rule's commit): the adds then
    // see them, their children canonical under them, so pending nodes
    // that differ only by classes these unions join are added once, not
    // once per class and merged by the rebuild.
    let mut n = 0;
    let (mut stopping, mut since_check) = (false, 0);
    for (b, buf) in buffers.iter().enumerate() {
        for &(x, y) in &buf.unions {
            if global(b, x).is_some() || global(b, y).is_some() || stopping {
                continue;
            }
            since_check += 1;
            if since_check == 1024 {
                since_check = 0;
                if stop(egraph) {
                    stopping = true;
                    continue;
                }
            }
            n += egraph.union(Id(x.0), Id(y.0)) as usize;
        }
    }
    if total > 0 && !stopping {
        // Level of each pending node, (buffer, node) by global index, and
        // the lowest pending node each refers to (itself if none).
        level.clear();
        origin.clear();
        low.clear();
        for (b, buf) in buffers.iter().enumerate() {
            for (i, n) in buf.nodes.iter().enumerate() {
                let (mut l, mut lowest) = (0u32, offsets[b] + i);
                for g in n.children().iter().filter_map(|c| global(b, Ref(c.0))) {
                    l = l.max(level[g] + 1);
                    lowest = lowest.min(g);
                }
                level.push(l);
                origin.push((b as u32, i as u32));
                low.push(lowest);
            }
        }
        // A segment may end at `g` when no node from `g` on refers to one
        // before it: then no match has nodes on both sides (a match's
        // nodes are consecutive and refer to none of another's), wherever
        // staging cut the matches into buffers.
        for g in (0..total.saturating_sub(1)).rev() {
            low[g] = low[g].min(low[g + 1]);
        }
        let can_end = |g: usize, low: &[usize]| g == total || low[g] >= g;
        let mut gs = 0;
        'segments: while gs < total {
            // The segment: nodes `gs..ge`, at most the nodes the node
            // limit leaves room for (so the commit stops within a match
            // of it), at most `ADD_CHUNK`, and at least one match.
            let most = node_limit
                .saturating_sub(egraph.total_size())
                .min(crate::egraph::ADD_CHUNK);
            let mut ge = gs + 1;
            while !can_end(ge, low) {
                ge += 1;
            }
            let mut g = ge + 1;
            while g <= total && g - gs <= most {
                if can_end(g, low) {
                    ge = g;
                }
                g += 1;
            }
            if gs == 0 && stop(egraph) {
                break;
            }
            // Its global indices grouped by level, in order within each
            // level (a counting sort).
            let max_level = level[gs..ge].iter().copied().max().unwrap_or(0) as usize;
            start.clear();
            start.resize(max_level + 2, 0);
            for &l in &level[gs..ge] {
                start[l as usize + 1] += 1;
            }
            for l in 1..start.len() {
                start[l] += start[l - 1];
            }
            order.clear();
            order.resize(ge - gs, 0);
            fill.clear();
            fill.extend_from_slice(start);
            for (g, &l) in (gs..ge).zip(&level[gs..ge]) {
                order[fill[l as usize]] = g as u32;
                fill[l as usize] += 1;
            }
            for l in 0..=max_level {
                // A segment of more than `ADD_CHUNK` nodes (one match that
                // big) is checked between its levels too, so a commit
                // still checks at least every `ADD_CHUNK` nodes (the
                // runner's memory horizon counts on it); inside a level,
                // `add_batch_until` checks between chunks.
                if l > 0 && ge - gs > crate::egraph::ADD_CHUNK && stop(egraph) {
                    break 'segments;
                }
                let which = &order[start[l]..start[l + 1]];
                let nodes: Vec<L> = which
                    .iter()
                    .map(|&g| {
                        let (b, i) = origin[g as usize];
                        let b = b as usize;
                        buffers[b].nodes[i as usize].clone().map_children(|c| {
                            match global(b, Ref(c.0)) {
                                Some(g) => resolved[g],
                                None => c,
                            }
                        })
                    })
                    .collect();
                let n_nodes = nodes.len();
                let ids = egraph.add_batch_until(nodes, stop);
                let stopped = ids.len() < n_nodes;
                for (&g, id) in which.iter().zip(ids) {
                    resolved[g as usize] = id;
                }
                if stopped {
                    // A limit inside a match of more than `ADD_CHUNK`
                    // nodes (a segment of at most that many is one chunk
                    // per level): what was added stays; the rest is
                    // dropped.
                    break 'segments;
                }
            }
            gs = ge;
            // After each segment too.
            if stop(egraph) {
                break;
            }
        }
    }
    // The unions that involve an added node, in order, all performed:
    // they mostly merge a class made here, which no node has for a child
    // yet, so they queue few repairs, and a stop among them would leave
    // added nodes unjoined. Those that need a node left out are dropped.
    for (b, buf) in buffers.iter().enumerate() {
        for &(x, y) in &buf.unions {
            let (gx, gy) = (global(b, x), global(b, y));
            if gx.is_none() && gy.is_none() {
                continue; // made above
            }
            let rx = gx.map_or(Id(x.0), |g| resolved[g]);
            let ry = gy.map_or(Id(y.0), |g| resolved[g]);
            if rx == UNRESOLVED || ry == UNRESOLVED {
                continue;
            }
            n += egraph.union(rx, ry) as usize;
        }
    }
    n
}

/// A pending node [`commit_all`] did not add (no id is this large: ids
/// are `u32`s below the union-find's capacity).
const UNRESOLVED: Id = Id(u32::MAX);

/// The index vectors [`commit_all`] reuses from commit to commit.
#[derive(Default)]
pub(crate) struct CommitScratch {
    offsets: Vec<usize>,
    resolved: Vec<Id>,
    level: Vec<u32>,
    origin: Vec<(u32, u32)>,
    start: Vec<usize>,
    order: Vec<u32>,
    /// Per pending node, the lowest one it or a later one refers to.
    low: Vec<usize>,
    fill: Vec<usize>,
}

/// The right-hand side of a rewrite: stages actions for one match.
pub trait Applier<L: Language, N: Analysis<L>>: Send + Sync {
    /// Stages what to do for the match `subst` rooted at `eclass`.
    fn apply(&self, egraph: &EGraph<L, N>, eclass: Id, subst: &Subst, out: &mut Actions<L>);

    /// The variables it reads (checked against the searcher's).
    fn vars(&self) -> Vec<Var> {
        vec![]
    }

    /// True when its effect depends only on the matched classes (their
    /// nodes and data), so incremental matching may skip old matches.
    fn is_local(&self) -> bool {
        true
    }

    /// The pattern, when the applier is one (for printing and porting).
    ///
    /// `Some(p)` promises that [`Applier::apply`] does exactly what a
    /// [`Pattern`] applier does: instantiate `p` and union it with the
    /// matched class. The runner then stages matches of a rule with no
    /// conditions straight from their bindings, without calling `apply`.
    fn pattern(&self) -> Option<&Pattern<L>> {
        None
    }
}

impl<L: Language, N: Analysis<L>> Applier<L, N> for Pattern<L> {
    fn apply(&self, egraph: &EGraph<L, N>, eclass: Id, subst: &Subst, out: &mut Actions<L>) {
        let r = out.instantiate(egraph, self, subst, &[]);
        out.union(Ref::class(eclass), r);
    }
    fn vars(&self) -> Vec<Var> {
        self.vars().to_vec()
    }
    fn pattern(&self) -> Option<&Pattern<L>> {
        Some(self)
    }
}

/// A side condition of a rewrite.
pub trait Condition<L: Language, N: Analysis<L>>: Send + Sync {
    /// True when the rewrite may fire for this match. May stage nodes in
    /// `out` (as [`ConditionEqual`] does).
    fn check(&self, egraph: &EGraph<L, N>, eclass: Id, subst: &Subst, out: &mut Actions<L>)
        -> bool;

    /// The variables it reads.
    fn vars(&self) -> Vec<Var> {
        vec![]
    }

    /// True when the answer depends only on the matched classes (their
    /// nodes, data and identity). For a rule with a non-local condition the
    /// runner also searches again every root that matched last time.
    fn is_local(&self) -> bool {
        true
    }

    /// True when the answer may depend on what the matched classes hold
    /// (their nodes or analysis data), not only on which classes they
    /// are. The `async` scheduler checks conditions during a phase
    /// against the e-graph as of its last join, which lacks what the
    /// phase merged into a class; after each join it checks such a
    /// condition again around the classes the phase merged. Return false
    /// only when the answer reads nothing but the union-find, as the rule
    /// files' `=` and `!=` do.
    fn reads_classes(&self) -> bool {
        true
    }
}

impl<L, N, F> Condition<L, N> for F
where
    L: Language,
    N: Analysis<L>,
    F: Fn(&EGraph<L, N>, Id, &Subst) -> bool + Send + Sync,
{
    fn check(&self, egraph: &EGraph<L, N>, eclass: Id, subst: &Subst, _: &mut Actions<L>) -> bool {
        self(egraph, eclass, subst)
    }
}

/// Holds when two patterns, instantiated under the match, are equal. Like
/// egg's `ConditionEqual`, it adds both instantiations to the e-graph, so
/// that later rewrites can prove them equal; it is not local.
pub struct ConditionEqual<L>(pub Pattern<L>, pub Pattern<L>);

impl<L: Language, N: Analysis<L>> Condition<L, N> for ConditionEqual<L> {
    fn check(&self, egraph: &EGraph<L, N>, _: Id, subst: &Subst, out: &mut Actions<L>) -> bool {
        let a = out.instantiate(egraph, &self.0, subst, &[]);
        let b = out.instantiate(egraph, &self.1, subst, &[]);
        out.same(egraph, a, b)
    }
    fn vars(&self) -> Vec<Var> {
        let mut v = self.0.vars().to_vec();
        v.extend_from_slice(self.1.vars());
        v
    }
    fn is_local(&self) -> bool {
        false
    }
}

/// A rewrite rule.
///
/// ```
/// use saturn::*;
/// let r: Rewrite<SymbolLang, ()> = Rewrite::new(
///     "comm-add",
///     "(+ ?a ?b)".parse().unwrap(),
///     "(+ ?b ?a)".parse::<Pattern<SymbolLang>>().unwrap(),
/// ).unwrap();
/// assert_eq!(r.name.as_str(), "comm-add");
/// assert!(Rewrite::<SymbolLang, ()>::new(
///     "bad", "(f ?a)".parse().unwrap(), "(g ?b)".parse::<Pattern<SymbolLang>>().unwrap(),
/// ).is_err());
/// ```
pub struct Rewrite<L: Language, N: Analysis<L>> {
    /// Its name.
    pub name: Symbol,
    /// The left-hand side.
    pub searcher: Pattern<L>,
    /// The right-hand side.
    pub applier: Arc<dyn Applier<L, N>>,
    /// Side conditions, all of which must hold.
    pub conditions: Vec<Arc<dyn Condition<L, N>>>,
}

/// Cloning shares the applier and conditions (they are `Arc`s), so it
/// needs no `Clone` on the analysis.
impl<L: Language, N: Analysis<L>> Clone for Rewrite<L, N> {
    fn clone(&self) -> Self {
        Rewrite {
            name: self.name,
            searcher: self.searcher.clone(),
            applier: self.applier.clone(),
            conditions: self.conditions.clone(),
        }
    }
}

impl<L: Language, N: Analysis<L>> Rewrite<L, N> {
    /// A rewrite; fails when the applier reads a variable the searcher does
    /// not bind.
    pub fn new(
        name: impl Into<Symbol>,
        searcher: Pattern<L>,
        applier: impl Applier<L, N> + 'static,
    ) -> Result<Self, String> {
        let name = name.into();
        for v in applier.vars() {
            if !searcher.vars().contains(&v) {
                return Err(format!(
                    "rewrite {name}: right-hand side uses {v}, which the left-hand side does not bind"
                ));
            }
        }
        Ok(Rewrite {
            name,
            searcher,
            applier: Arc::new(applier),
            conditions: vec![],
        })
    }

    /// Adds a side condition; fails when the condition reads a variable
    /// (by its [`Condition::vars`]) the searcher does not bind.
    ///
    /// ```
    /// use saturn::*;
    /// let r: Rewrite<SymbolLang, ()> = rewrite!("r"; "(f ?a)" => "(g ?a)");
    /// let eq = ConditionEqual("?a".parse().unwrap(), "?q".parse().unwrap());
    /// let err = r.try_with_condition(eq).err().unwrap();
    /// assert_eq!(err, "rewrite r: a condition reads ?q, which the left-hand side does not bind");
    /// ```
    pub fn try_with_condition(mut self, c: impl Condition<L, N> + 'static) -> Result<Self, String> {
        for v in c.vars() {
            if !self.searcher.vars().contains(&v) {
                return Err(format!(
                    "rewrite {}: a condition reads {v}, which the left-hand side does not bind",
                    self.name
                ));
            }
        }
        self.conditions.push(Arc::new(c));
        Ok(self)
    }

    /// Adds a side condition.
    ///
    /// # Panics
    ///
    /// When the condition reads a variable the searcher does not bind
    /// (see [`Rewrite::try_with_condition`]), here rather than in the
    /// middle of a run. (A closure condition names no variables: one that
    /// reads an unbound variable panics when it runs.)
    pub fn with_condition(self, c: impl Condition<L, N> + 'static) -> Self {
        self.try_with_condition(c).unwrap_or_else(|e| panic!("{e}"))
    }

    /// True when incremental matching applies to this rule at all: its
    /// applier's effect depends only on the matched classes.
    pub fn is_local(&self) -> bool {
        self.applier.is_local()
    }

    /// True when its conditions or applier may read what the matched
    /// classes hold (see [`Condition::reads_classes`]): a Rust applier, or
    /// a condition that says so.
    pub fn reads_classes(&self) -> bool {
        self.applier.pattern().is_none() || self.conditions.iter().any(|c| c.reads_classes())
    }

    /// True when its conditions depend only on the matched classes. If not,
    /// a match whose condition failed may succeed later without any change
    /// near it, so the runner searches its old match roots again.
    pub fn conditions_are_local(&self) -> bool {
        self.conditions.iter().all(|c| c.is_local())
    }

    /// For a rule with no conditions whose applier is a pattern: for each
    /// position of the right-hand side's [`Pattern::ast`], the index of
    /// its variable among the searcher's [`Pattern::vars`] (`u32::MAX` at
    /// a node). With it, [`Rewrite::stage_bindings`] stages a match from
    /// its bindings alone. `None` for any other rule.
    pub(crate) fn binding_slots(&self) -> Option<Vec<u32>> {
        if !self.conditions.is_empty() {
            return None;
        }
        let rhs = self.applier.pattern()?;
        let vars = self.searcher.vars();
        rhs.ast()
            .iter()
            .map(|n| match n {
                ENodeOrVar::Var(v) => vars.iter().position(|x| x == v).map(|i| i as u32),
                ENodeOrVar::ENode(_) => Some(u32::MAX),
            })
            .collect()
    }

    /// [`Rewrite::stage`] for a rule with [`Rewrite::binding_slots`]
    /// `slots` and right-hand side `rhs` (its applier's pattern), of the
    /// match whose bindings (in the searcher's variable order) are
    /// `bindings`: the same actions, without building a [`Subst`].
    #[inline]
    pub(crate) fn stage_bindings(
        &self,
        egraph: &EGraph<L, N>,
        eclass: Id,
        rhs: &Pattern<L>,
        slots: &[u32],
        bindings: &[Id],
        out: &mut Actions<L>,
    ) {
        debug_assert!(self.applier.pattern().is_some_and(|p| std::ptr::eq(p, rhs)));
        let r = out.instantiate_by(egraph, rhs, |k, _| Ref::class(bindings[slots[k] as usize]));
        out.union(Ref::class(eclass), r);
        out.mark();
    }

    /// Stages the match `subst` at `eclass` into `out` (conditions first).
    pub fn stage(&self, egraph: &EGraph<L, N>, eclass: Id, subst: &Subst, out: &mut Actions<L>) {
        if self
            .conditions
            .iter()
            .all(|c| c.check(egraph, eclass, subst, out))
        {
            self.applier.apply(egraph, eclass, subst, out);
        }
        out.mark();
    }
}

impl<L: Language + fmt::Display, N: Analysis<L>> fmt::Debug for Rewrite<L, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.searcher)?;
        if let Some(p) = self.applier.pattern() {
            write!(f, " => {p}")?;
        }
        Ok(())
    }
}

/// Builds a [`Rewrite`] from text, panicking on bad patterns (for rules
/// written in Rust source; read rule files with [`crate::rules`] for
/// errors instead). The panic names the rule and the side. As in egg,
/// `lhs <=> rhs` builds both directions, as a `Vec` of the rule and
/// `name-rev` (both sides must bind the same variables; as in egg, it
/// takes no conditions: add them to each rule with
/// [`Rewrite::with_condition`]).
///
/// ```
/// use saturn::*;
/// let r: Rewrite<SymbolLang, ()> = rewrite!("zero-add"; "(+ ?a 0)" => "?a");
/// let c: Rewrite<SymbolLang, ()> = rewrite!("div"; "(/ ?a ?a)" => "1"
///     if |eg: &EGraph<SymbolLang, ()>, _, s: &Subst| s["?a".parse().unwrap()] != Id::from(0usize));
/// assert_eq!(c.conditions.len(), 1);
/// let both: Vec<Rewrite<SymbolLang, ()>> = rewrite!("comm"; "(+ ?a ?b)" <=> "(+ ?b ?a)");
/// assert_eq!(both[1].name.as_str(), "comm-rev");
/// ```
#[macro_export]
macro_rules! rewrite {
    ($name:expr; $lhs:tt <=> $rhs:tt) => {{
        let name = $crate::Symbol::from($name);
        let rev = $crate::Symbol::from(format!("{}-rev", name));
        vec![
            $crate::rewrite!(name; $lhs => $rhs),
            $crate::rewrite!(rev; $rhs => $lhs),
        ]
    }};
    ($name:expr; $lhs:tt => { $applier:expr } $(if $cond:expr)*) => {{
        let name = $crate::Symbol::from($name);
        let lhs: $crate::Pattern<_> = $lhs
            .parse()
            .unwrap_or_else(|e| panic!("rewrite {}: left-hand side: {}", name, e));
        #[allow(unused_mut)]
        let mut r = $crate::Rewrite::new(name, lhs, $applier).unwrap_or_else(|e| panic!("{}", e));
        $( r = r.with_condition($cond); )*
        r
    }};
    ($name:expr; $lhs:tt => $rhs:tt $(if $cond:expr)*) => {{
        let name = $crate::Symbol::from($name);
        let lhs: $crate::Pattern<_> = $lhs
            .parse()
            .unwrap_or_else(|e| panic!("rewrite {}: left-hand side: {}", name, e));
        let rhs: $crate::Pattern<_> = $rhs
            .parse()
            .unwrap_or_else(|e| panic!("rewrite {}: right-hand side: {}", name, e));
        #[allow(unused_mut)]
        let mut r = $crate::Rewrite::new(name, lhs, rhs).unwrap_or_else(|e| panic!("{}", e));
        $( r = r.with_condition($cond); )*
        r
    }};
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::SymbolLang;

    /// Staging a match from its bindings gives the actions staging it
    /// through a `Subst` gives, for right-hand sides that reorder, repeat
    /// and drop the left-hand side's variables; a rule with a condition
    /// has no binding slots (its condition must run).
    #[test]
    fn staging_from_bindings_equals_staging_from_a_subst() {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let root = eg.add_expr(&"(f (g a b) c)".parse().unwrap());
        eg.add_expr(&"(h c a)".parse().unwrap());
        eg.rebuild();
        let lhs = "(f (g ?x ?y) ?z)";
        for rhs in [
            "(h ?z ?x)",
            "(k ?y (k ?y ?z) ?x)",
            "?z",
            "(g ?x ?y)",
            "(m 1 2)",
        ] {
            let rule: Rewrite<SymbolLang, ()> = Rewrite::new(
                "r",
                lhs.parse().unwrap(),
                rhs.parse::<Pattern<SymbolLang>>().unwrap(),
            )
            .unwrap();
            let slots = rule
                .binding_slots()
                .expect("a pattern rule without conditions");
            let matches = rule.searcher.search_eclass(&eg, root);
            assert_eq!(matches.len(), 1);
            let subst = &matches[0];
            let bindings: Vec<Id> = rule.searcher.vars().iter().map(|&v| subst[v]).collect();
            let (mut a, mut b) = (Actions::default(), Actions::default());
            rule.stage(&eg, root, subst, &mut a);
            let rhs = rule.applier.pattern().expect("a pattern");
            rule.stage_bindings(&eg, root, rhs, &slots, &bindings, &mut b);
            assert_eq!(a.nodes, b.nodes, "{rhs}");
            assert!(a.unions == b.unions && a.matches == b.matches, "{rhs}");
        }
        let gated: Rewrite<SymbolLang, ()> = Rewrite::new(
            "gated",
            lhs.parse().unwrap(),
            "?z".parse::<Pattern<SymbolLang>>().unwrap(),
        )
        .unwrap()
        .with_condition(|_: &EGraph<SymbolLang, ()>, _, _: &Subst| false);
        assert!(gated.binding_slots().is_none());
    }

    /// A rule's unions between existing classes are made before its new
    /// nodes are added: `(f p)` and `(f q)`, staged by two matches while
    /// `p` and `q` were apart, are one node once a third match's union of
    /// `p` and `q` is made, so the commit makes one class, not two for
    /// the rebuild to merge (as egg, which unions as it goes, makes one).
    #[test]
    fn a_commit_makes_its_unions_of_existing_classes_before_its_nodes() {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let [p, q, r1, r2] = ["p", "q", "r1", "r2"].map(|s| eg.add(SymbolLang::leaf(s)));
        eg.rebuild();
        let mut a = Actions::default();
        let f = |c: Id| SymbolLang::new("f", vec![Id(Ref::class(c).0)]);
        let fp = a.add(&eg, f(p));
        a.union(Ref::class(r1), fp);
        let fq = a.add(&eg, f(q));
        a.union(Ref::class(r2), fq);
        a.union(Ref::class(p), Ref::class(q));
        assert_eq!(a.nodes.len(), 2, "staged apart");
        let ids = eg.number_of_ids();
        let unions = commit_all(
            &mut eg,
            &[&a],
            &|_| false,
            usize::MAX,
            &mut Default::default(),
        );
        assert_eq!(eg.number_of_ids(), ids + 1, "one node made");
        assert_eq!(unions, 3);
        eg.rebuild();
        assert_eq!(eg.find(r1), eg.find(r2));
        assert_eq!(eg.check_invariants(), Ok(()));
    }

    #[test]
    #[should_panic(expected = "rewrite bad: right-hand side: ")]
    fn a_bad_pattern_in_the_macro_names_the_rule_and_the_side() {
        let _: Rewrite<SymbolLang, ()> = rewrite!("bad"; "(f ?a)" => "(g ?a");
    }

    #[test]
    #[should_panic(
        expected = "rewrite ce: a condition reads ?q, which the left-hand side does not bind"
    )]
    fn a_condition_on_an_unbound_variable_panics_when_the_rule_is_built() {
        let eq = ConditionEqual("?a".parse().unwrap(), "?q".parse().unwrap());
        let _: Rewrite<SymbolLang, ()> = rewrite!("ce"; "(f ?a)" => "(g ?a)" if eq);
    }

    #[test]
    fn both_directions() {
        let rules: Vec<Rewrite<SymbolLang, ()>> =
            rewrite!("c"; "(+ ?a (* ?b 2))" <=> "(+ (* ?b 2) ?a)");
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "c-rev"]);
        assert_eq!(
            format!("{:?}", rules[1]),
            "c-rev: (+ (* ?b 2) ?a) => (+ ?a (* ?b 2))"
        );
    }

    #[test]
    #[should_panic(expected = "rewrite bad: left-hand side: ")]
    fn a_bad_left_hand_side_in_the_macro_is_named() {
        let _: Rewrite<SymbolLang, ()> = rewrite!("bad"; "(f ?a" => "(g ?a)");
    }

    #[test]
    #[should_panic(expected = "rewrite bad: left-hand side: ")]
    fn a_bad_left_hand_side_of_a_rust_applier_is_named() {
        let rhs: Pattern<SymbolLang> = "(g ?a)".parse().unwrap();
        let _: Rewrite<SymbolLang, ()> = rewrite!("bad"; "(f ?a))" => { rhs });
    }
}
