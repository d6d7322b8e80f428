//! Patterns and e-matching.
//!
//! A [`Pattern`] is a term with variables. It is compiled once into a small
//! program for a backtracking matcher (as in egg and de Moura–Bjørner's
//! e-matching machine): `Bind` walks the nodes of a class that have the
//! wanted operator and loads their children into registers, `Compare`
//! checks that a repeated (non-linear) variable is bound to the same class
//! both times. Matching only reads the e-graph, so any number of threads can
//! match at once.
//!
//! Each pattern also knows its depth: how far below the root a matched class
//! can be. The runner uses it for incremental matching: a match that is new
//! since the last search must touch a changed class, so its root lies within
//! `depth` parent steps of one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::sexp::{self, Sexp};
use crate::{Analysis, Pos};
use crate::{EGraph, FromOp, Id, Language, ParseError, Subst, Var};

/// A pattern node: an operator node (children index earlier pattern nodes)
/// or a variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ENodeOrVar<L> {
    /// An operator node.
    ENode(L),
    /// A variable.
    Var(Var),
}

/// Where the matcher reads a class's nodes: the e-graph's class table, or
/// the asynchronous scheduler's live view. Lists of 16 nodes or more must
/// be sorted (the matcher binary-searches them); children may be stale ids
/// if [`NodeSource::same_class`] canonicalizes.
pub(crate) trait NodeSource<L>: Sync {
    /// The nodes of class `id`, if it is one.
    fn class_nodes(&self, id: Id) -> Option<NodeList<'_, L>>;

    /// The nodes of class `id` when it may have a node whose
    /// [`op_bit`](crate::egraph::op_bit) is `bit` (`None` when it surely
    /// has none, or is no class).
    #[inline(always)]
    fn class_nodes_with(&self, id: Id, bit: u64) -> Option<NodeList<'_, L>> {
        let _ = bit;
        self.class_nodes(id)
    }

    /// Whether two bound ids are the same class.
    #[inline(always)]
    fn same_class(&self, a: Id, b: Id) -> bool {
        a == b
    }

    /// At most this many matches per search: the matcher stops there (and
    /// then does not split node ranges across threads, so the bound is
    /// exact). Unbounded by default.
    #[inline(always)]
    fn match_budget(&self) -> usize {
        usize::MAX
    }
}

/// A class's nodes as a [`NodeSource`] hands them out: borrowed, or
/// shared with a cache.
pub(crate) enum NodeList<'a, L> {
    Borrowed(&'a [L]),
    Shared(std::sync::Arc<[L]>),
}

impl<L> std::ops::Deref for NodeList<'_, L> {
    type Target = [L];
    #[inline(always)]
    fn deref(&self) -> &[L] {
        match self {
            NodeList::Borrowed(s) => s,
            NodeList::Shared(a) => a,
        }
    }
}

impl<L: Language, N: Analysis<L>> NodeSource<L> for EGraph<L, N> {
    #[inline(always)]
    fn class_nodes(&self, id: Id) -> Option<NodeList<'_, L>> {
        self.class(id)
            .map(|c| NodeList::Borrowed(c.nodes.as_slice()))
    }

    /// Checks the class's operator summary first, so a class without the
    /// operator costs no scan or binary search.
    #[inline(always)]
    fn class_nodes_with(&self, id: Id, bit: u64) -> Option<NodeList<'_, L>> {
        self.class(id)
            .filter(|c| c.ops & bit != 0)
            .map(|c| NodeList::Borrowed(c.nodes.as_slice()))
    }
}

/// Where the matcher puts what it finds: the substitutions, or only
/// their number.
pub(crate) trait Sink: Send + Sized {
    /// Records a match whose bindings are in `regs`.
    fn found<L>(&mut self, p: &Pattern<L>, regs: &[Id]);
    /// Matches recorded so far.
    fn len(&self) -> usize;
    /// An empty sink of the same kind (for a parallel half).
    fn fresh(&mut self) -> Self;
    /// Appends what `other` recorded.
    fn append(&mut self, other: Self);
    /// Keeps the first `n` matches recorded.
    fn truncate(&mut self, n: usize);
    /// Whether the search must stop now (a limit passed, or nothing more
    /// is wanted). The matcher asks before each node it binds, so a sink
    /// that says yes ends even a single root's search within a few nodes;
    /// the matches it holds are then a prefix of the root's (what they are
    /// worth is the sink's business). Never, by default: the check then
    /// compiles to nothing.
    #[inline(always)]
    fn halted(&mut self) -> bool {
        false
    }
}

/// Nodes the matcher binds between two reads of a [`Polled`] sink's stop
/// condition: a read (the clock, an atomic) costs tens of nanoseconds, a
/// node a few, so polls cost well under 1% and a search passes a limit by
/// at most a few tens of microseconds.
const POLL_NODES: u32 = 4096;

/// A sink that asks `stop` every [`POLL_NODES`] nodes bound whether the
/// search must end (a deadline, a cancel flag, another worker's abort), and
/// once it says so, says so for good ([`Sink::halted`]); and that keeps at
/// most `cap` matches, only counting the rest, or, with `over_stops`,
/// ending the search at the first match past `cap`.
///
/// Item-level checks alone leave one root's search unbounded: in an
/// associative-commutative blow-up one root can have hundreds of millions
/// of matches, found for seconds past the time limit and stored in
/// gigabytes, although a round stages at most its match budget.
///
/// What it keeps is always the first matches in the sequential order,
/// also across the halves of a split search: once a left half dropped
/// some, everything of its right half is only counted. With `over_stops`,
/// a half that passes the cap also tells the halves to its right (split
/// off it or an earlier left half, still running on other threads) that
/// nothing of theirs is wanted, and they stop at the next node they bind
/// instead of running to their own caps. (A half passes the cap when it
/// drops a match, or when a half appended to it brings it past the cap.)
pub(crate) struct Polled<'a, K> {
    pub(crate) inner: K,
    stop: &'a (dyn Fn() -> bool + Sync),
    until_poll: u32,
    stopped: bool,
    /// The most matches `inner` keeps.
    pub(crate) cap: usize,
    /// Matches found past `cap`, counted only.
    over: usize,
    /// Whether a match past `cap` ends the search ([`Sink::halted`], but
    /// not [`Polled::stopped`]): when nothing past the cap is wanted, not
    /// even its count.
    pub(crate) over_stops: bool,
    /// With `over_stops`: the flags of the halves to this one's right that
    /// are still running, set when this one passes its cap (the last is
    /// the latest split's).
    tell: Vec<Arc<AtomicBool>>,
    /// With `over_stops`: flags set by halves to this one's left when
    /// they pass their caps, read at each node bound.
    heed: Vec<Arc<AtomicBool>>,
    /// A half to the left passed its cap: nothing here is wanted.
    moot: bool,
}

impl<'a, K> Polled<'a, K> {
    /// `inner`, polling `stop`, keeping every match.
    pub(crate) fn new(inner: K, stop: &'a (dyn Fn() -> bool + Sync)) -> Self {
        Polled {
            inner,
            stop,
            until_poll: POLL_NODES,
            stopped: false,
            cap: usize::MAX,
            over: 0,
            over_stops: false,
            tell: vec![],
            heed: vec![],
            moot: false,
        }
    }

    /// Whether the stop condition ended the search.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    /// Whether some match was only counted (the cap was reached).
    pub(crate) fn dropped_some(&self) -> bool {
        self.over > 0
    }
}

impl<K: Sink> Sink for Polled<'_, K> {
    #[inline(always)]
    fn found<L>(&mut self, p: &Pattern<L>, regs: &[Id]) {
        if self.over == 0 && self.inner.len() < self.cap {
            self.inner.found(p, regs)
        } else {
            if self.over == 0 {
                self.passed_cap();
            }
            self.over += 1;
        }
    }
    #[inline(always)]
    fn len(&self) -> usize {
        self.inner.len() + self.over
    }
    fn fresh(&mut self) -> Self {
        let mut half = Polled::new(self.inner.fresh(), self.stop);
        // The half's matches come after this one's: it can keep no more
        // than the cap leaves.
        half.cap = self.cap.saturating_sub(self.inner.len());
        half.over_stops = self.over_stops;
        if self.over_stops {
            // The half comes after this one and before the halves split
            // off this one earlier.
            half.moot = self.over > 0 || self.moot;
            let flag = Arc::new(AtomicBool::new(half.moot));
            half.tell = self.tell.clone();
            half.heed = self.heed.clone();
            half.heed.push(flag.clone());
            self.tell.push(flag);
        }
        half
    }
    /// `other` must be the last half made by [`Sink::fresh`] on this sink
    /// and not appended yet (as `Pattern::bind_range` pairs them).
    fn append(&mut self, other: Self) {
        // The half is done: the latest split's flag has no reader left.
        if self.over_stops {
            let flag = self.tell.pop();
            debug_assert!(
                flag.zip(other.heed.last())
                    .is_some_and(|(a, b)| Arc::ptr_eq(&a, b)),
                "a half appended to the sink it was split from, last split first"
            );
        }
        self.stopped |= other.stopped;
        if self.over > 0 {
            // This half dropped some: the other's come after them.
            self.over += other.len();
            return;
        }
        self.over = other.over;
        self.inner.append(other.inner);
        self.truncate_to_cap();
        if self.over > 0 {
            // Past the cap by the two together (if the half passed its own
            // cap, it has told the halves to the right already).
            self.passed_cap();
        }
    }
    fn truncate(&mut self, n: usize) {
        let kept = self.inner.len();
        if n <= kept {
            self.inner.truncate(n);
            self.over = 0;
        } else {
            self.over = self.over.min(n - kept);
        }
    }
    #[inline(always)]
    fn halted(&mut self) -> bool {
        self.until_poll -= 1;
        if self.until_poll == 0 {
            self.until_poll = POLL_NODES;
            self.stopped = self.stopped || (self.stop)();
        }
        // At every node, not at polls: a split search's halves are often
        // shorter than a poll interval. (A flag that nobody writes until
        // the end stays in this core's cache.)
        if !self.moot && !self.heed.is_empty() {
            self.moot = self.heed.iter().any(|f| f.load(Ordering::Relaxed));
        }
        self.stopped || self.over_stops && (self.over > 0 || self.moot)
    }
}

impl<K: Sink> Polled<'_, K> {
    /// Tells the halves to the right that nothing of theirs is wanted
    /// (with `over_stops`; see the type's docs).
    fn passed_cap(&self) {
        if self.over_stops {
            for f in &self.tell {
                f.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Counts the kept matches past `cap` as dropped.
    fn truncate_to_cap(&mut self) {
        let kept = self.inner.len();
        if kept > self.cap {
            self.inner.truncate(self.cap);
            self.over += kept - self.cap;
        }
    }
}

impl Sink for Vec<Subst> {
    #[inline]
    fn found<L>(&mut self, p: &Pattern<L>, regs: &[Id]) {
        let mut s = Subst::with_capacity(p.vars.len());
        for (v, &r) in p.vars.iter().zip(&p.var_regs) {
            s.push_unchecked(*v, regs[r as usize]);
        }
        self.push(s);
    }
    #[inline(always)]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn fresh(&mut self) -> Self {
        vec![]
    }
    fn append(&mut self, mut other: Self) {
        Vec::append(self, &mut other)
    }
    fn truncate(&mut self, n: usize) {
        Vec::truncate(self, n)
    }
}

/// Matches of one pattern stored flat: each match's bindings, in the
/// pattern's variable order ([`Pattern::vars`]), one match after another.
///
/// A `Vec<Subst>` allocates once per match for patterns with many
/// variables, and the runner's parallel search appends the halves of split
/// searches many times; here a match costs a few ids and appending is one
/// copy of plain ids. The runner turns a match back into a [`Subst`] only
/// when it stages it ([`FlatMatches::subst`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FlatMatches {
    ids: Vec<Id>,
    /// Bindings per match (the pattern's variable count).
    stride: usize,
    /// Number of matches (kept apart: with no variables, `ids` stays
    /// empty).
    n: usize,
}

impl FlatMatches {
    /// An empty store for the matches of `p`.
    pub(crate) fn new<L>(p: &Pattern<L>) -> Self {
        FlatMatches {
            ids: vec![],
            stride: p.vars.len(),
            n: 0,
        }
    }

    /// The bindings of match `m`, in the pattern's variable order.
    #[inline]
    pub(crate) fn get(&self, m: usize) -> &[Id] {
        &self.ids[m * self.stride..(m + 1) * self.stride]
    }

    /// Match `m` as a substitution of `p`'s variables (`p` must be the
    /// pattern that found it).
    #[inline]
    pub(crate) fn subst<L>(&self, p: &Pattern<L>, m: usize) -> Subst {
        debug_assert_eq!(p.vars.len(), self.stride);
        let mut s = Subst::with_capacity(self.stride);
        for (v, &id) in p.vars.iter().zip(self.get(m)) {
            s.push_unchecked(*v, id);
        }
        s
    }
}

impl Sink for FlatMatches {
    #[inline]
    fn found<L>(&mut self, p: &Pattern<L>, regs: &[Id]) {
        debug_assert_eq!(p.vars.len(), self.stride);
        if self.ids.capacity() == 0 {
            // Room for a few matches at once: growing from one match's
            // worth would reallocate at every doubling.
            self.ids.reserve(self.stride * 8);
        }
        self.ids
            .extend(p.var_regs.iter().map(|&r| regs[r as usize]));
        self.n += 1;
    }
    #[inline(always)]
    fn len(&self) -> usize {
        self.n
    }
    fn fresh(&mut self) -> Self {
        FlatMatches {
            ids: vec![],
            stride: self.stride,
            n: 0,
        }
    }
    fn append(&mut self, mut other: Self) {
        debug_assert_eq!(self.stride, other.stride);
        if self.ids.is_empty() {
            // The left half found nothing: take the right's buffer whole.
            std::mem::swap(&mut self.ids, &mut other.ids);
        } else {
            self.ids.append(&mut other.ids);
        }
        self.n += other.n;
    }
    fn truncate(&mut self, n: usize) {
        if n < self.n {
            self.ids.truncate(n * self.stride);
            self.n = n;
        }
    }
}

/// Counts matches without keeping them.
#[derive(Default)]
pub(crate) struct Count(pub(crate) usize);

impl Sink for Count {
    #[inline(always)]
    fn found<L>(&mut self, _: &Pattern<L>, _: &[Id]) {
        self.0 += 1;
    }
    #[inline(always)]
    fn len(&self) -> usize {
        self.0
    }
    fn fresh(&mut self) -> Self {
        Count(0)
    }
    fn append(&mut self, other: Self) {
        self.0 += other.0;
    }
    fn truncate(&mut self, n: usize) {
        self.0 = self.0.min(n);
    }
}

/// Node ranges at least this long are matched in two halves in parallel.
const PAR_SPLIT: usize = 32;

/// Node lists shorter than this are scanned whole by the matcher, so they
/// need not be sorted (the asynchronous scheduler's class views skip the
/// sort); longer ones are binary-searched for the operator's range.
pub(crate) const SCAN_MAX: usize = 16;

#[derive(Debug, Clone)]
enum Instr<L> {
    /// For each node in class `regs[i]` that matches `node`, load its
    /// children into `regs[out..]`. `bit` is the node's
    /// [`op_bit`](crate::egraph::op_bit).
    Bind { i: u16, out: u16, node: L, bit: u64 },
    /// Require `regs[i] == regs[j]`.
    Compare { i: u16, j: u16 },
}

/// A compiled pattern.
///
/// ```
/// use saturn::{EGraph, Pattern, SymbolLang};
/// let mut eg = EGraph::<SymbolLang, ()>::default();
/// let root = eg.add_expr(&"(+ (* a 2) (* a 3))".parse().unwrap());
/// eg.rebuild();
/// let p: Pattern<SymbolLang> = "(+ (* ?x ?y) (* ?x ?z))".parse().unwrap();
/// let m = p.search_eclass(&eg, root);
/// assert_eq!(m.len(), 1);
/// assert_eq!(p.depth(), 2);
/// let q: Pattern<SymbolLang> = "(+ ?x ?x)".parse().unwrap();
/// assert!(q.search_eclass(&eg, root).is_empty()); // non-linear
/// ```
#[derive(Clone)]
pub struct Pattern<L> {
    ast: Vec<ENodeOrVar<L>>,
    vars: Vec<Var>,
    program: Vec<Instr<L>>,
    /// Register of each variable, in `vars` order.
    var_regs: Vec<u16>,
    n_regs: usize,
    depth: usize,
}

/// The deepest pattern accepted: nodes nested at most this many levels
/// below the root. Matching recurses once per level, and a pool thread's
/// stack (2 MiB by default) overflowed at depth 10,000 on two threads;
/// real rules are a handful of levels deep. Parsing a deeper pattern is
/// an error (see [`Pattern::from_sexp`]).
pub const MAX_PATTERN_DEPTH: usize = 1000;

/// The most child positions (summed over a pattern's nodes) a pattern may
/// have: its compiled program names each by a 16-bit register.
pub const MAX_PATTERN_CHILDREN: usize = u16::MAX as usize - 1;

impl<L: Language> Pattern<L> {
    /// Builds a pattern from nodes in post-order (the last is the root).
    ///
    /// # Panics
    /// If a child index does not point to an earlier node, `ast` is empty,
    /// or the pattern is deeper than [`MAX_PATTERN_DEPTH`] or has more than
    /// [`MAX_PATTERN_CHILDREN`] child positions; parse patterns from text
    /// to get errors instead.
    pub fn from_ast(ast: Vec<ENodeOrVar<L>>) -> Self {
        assert!(!ast.is_empty(), "empty pattern");
        // In order of first occurrence (a set for the lookups: a pattern
        // may have tens of thousands of variables).
        let mut vars = vec![];
        let mut seen = rustc_hash::FxHashSet::default();
        for n in &ast {
            if let ENodeOrVar::Var(v) = n {
                if seen.insert(*v) {
                    vars.push(*v);
                }
            }
        }
        let mut p = Pattern {
            ast,
            vars,
            program: vec![],
            var_regs: vec![],
            n_regs: 1,
            depth: 0,
        };
        p.compile();
        p
    }

    fn compile(&mut self) {
        let mut var_reg: Vec<Option<u16>> = vec![None; self.vars.len()];
        let var_index: rustc_hash::FxHashMap<Var, usize> =
            self.vars.iter().enumerate().map(|(k, &v)| (v, k)).collect();
        // (pattern index, register, depth)
        let mut todo = vec![(self.ast.len() - 1, 0u16, 0usize)];
        let mut next_reg = 1u16;
        let mut depth = 0;
        while let Some((idx, reg, d)) = todo.pop() {
            depth = depth.max(d);
            match &self.ast[idx] {
                ENodeOrVar::Var(v) => {
                    let k = var_index[v];
                    match var_reg[k] {
                        Some(r) => self.program.push(Instr::Compare { i: r, j: reg }),
                        None => var_reg[k] = Some(reg),
                    }
                }
                ENodeOrVar::ENode(n) => {
                    assert!(
                        d <= MAX_PATTERN_DEPTH,
                        "a pattern may nest at most {MAX_PATTERN_DEPTH} levels"
                    );
                    let out = next_reg;
                    next_reg = u16::try_from(n.children().len())
                        .ok()
                        .and_then(|k| next_reg.checked_add(k))
                        .unwrap_or_else(|| {
                            panic!(
                                "a pattern may have at most {MAX_PATTERN_CHILDREN} child positions"
                            )
                        });
                    // Children zeroed: the template then sorts first among
                    // the nodes it matches, for the binary search in `run`.
                    self.program.push(Instr::Bind {
                        i: reg,
                        out,
                        node: n.clone().map_children(|_| Id(0)),
                        bit: crate::egraph::op_bit(n),
                    });
                    // Push in reverse so children are matched left to right.
                    for (k, &c) in n.children().iter().enumerate().rev() {
                        todo.push((c.index(), out + k as u16, d + 1));
                    }
                }
            }
        }
        self.var_regs = var_reg.into_iter().map(|r| r.expect("bound")).collect();
        self.n_regs = next_reg as usize;
        self.depth = depth;
    }

    /// The nodes, in post-order.
    pub fn ast(&self) -> &[ENodeOrVar<L>] {
        &self.ast
    }

    /// The variables, in order of first appearance.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// How many parent steps below the root a matched class can be.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The root node (children are pattern indices), or `None` when the
    /// root is a variable.
    pub fn root_node(&self) -> Option<&L> {
        match self.ast.last()? {
            ENodeOrVar::ENode(n) => Some(n),
            ENodeOrVar::Var(_) => None,
        }
    }

    /// The root's operator key, or `None` when the root is a variable.
    pub fn root_discriminant(&self) -> Option<L::Discriminant> {
        match self.ast.last()? {
            ENodeOrVar::ENode(n) => Some(n.discriminant()),
            ENodeOrVar::Var(_) => None,
        }
    }

    /// All matches in a rebuilt e-graph, per root class (in id order,
    /// classes without a match left out), like egg's `Searcher::search`.
    ///
    /// ```
    /// use saturn::*;
    /// let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
    /// eg.add_expr(&"(+ (* a 2) (* b 2))".parse().unwrap());
    /// eg.rebuild();
    /// let p: Pattern<SymbolLang> = "(* ?x 2)".parse().unwrap();
    /// let found = p.search(&eg);
    /// assert_eq!(found.len(), 2);
    /// assert!(found.iter().all(|(_, substs)| substs.len() == 1));
    /// ```
    pub fn search<N: Analysis<L>>(&self, egraph: &EGraph<L, N>) -> Vec<(Id, Vec<Subst>)> {
        egraph
            .classes()
            .filter_map(|c| {
                let found = self.search_eclass(egraph, c.id);
                (!found.is_empty()).then_some((c.id, found))
            })
            .collect()
    }

    /// All matches rooted at class `eclass` (which must be canonical in a
    /// rebuilt e-graph).
    pub fn search_eclass<N: Analysis<L>>(&self, egraph: &EGraph<L, N>, eclass: Id) -> Vec<Subst> {
        let mut out = vec![];
        self.search_eclass_into(egraph, eclass, &mut out);
        out
    }

    /// Appends the matches rooted at `eclass` to `out`; returns how many.
    pub fn search_eclass_into<N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        eclass: Id,
        out: &mut Vec<Subst>,
    ) -> usize {
        self.search_eclass_range_into(egraph, eclass, None, out)
    }

    /// The positions in `eclass`'s node list of the nodes the root can
    /// match, when the root is an operator node (for splitting the matches
    /// of one large class across threads).
    pub fn root_nodes<N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        eclass: Id,
    ) -> Option<std::ops::Range<usize>> {
        let Some(Instr::Bind { i: 0, node, .. }) = self.program.first() else {
            return None;
        };
        let nodes = &egraph.class(eclass)?.nodes;
        let start = nodes.partition_point(|n| n < node);
        let d = node.discriminant();
        let len = nodes[start..]
            .iter()
            .take_while(|n| n.discriminant() == d)
            .count();
        Some(start..start + len)
    }

    /// Like [`Pattern::search_eclass_into`], but when `root_range` is given
    /// the root only binds the nodes at those positions of its class (see
    /// [`Pattern::root_nodes`]). The matches of consecutive ranges, in order,
    /// are the matches of the whole class, in order.
    pub fn search_eclass_range_into<N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        eclass: Id,
        root_range: Option<std::ops::Range<usize>>,
        out: &mut Vec<Subst>,
    ) -> usize {
        let mut regs = self.registers();
        self.search_with_regs(egraph, eclass, root_range, &mut regs, out)
    }

    /// A register file for [`Pattern::search_with_regs`].
    pub(crate) fn registers(&self) -> smallvec::SmallVec<[Id; 16]> {
        if self.n_regs <= 16 {
            // A fixed-size buffer is zeroed inline; `from_elem` calls
            // `memset`, which costs more than the zeroing (see
            // `copy_children`).
            let mut regs = smallvec::SmallVec::from_buf([Id(0); 16]);
            regs.truncate(self.n_regs);
            regs
        } else {
            smallvec::SmallVec::from_elem(Id(0), self.n_regs)
        }
    }

    /// Searches `eclass` with the register file `regs` (at least
    /// `n_regs` long) into any sink; returns how many matches it added.
    pub(crate) fn search_with_regs<N: Analysis<L>, K: Sink>(
        &self,
        egraph: &EGraph<L, N>,
        eclass: Id,
        root_range: Option<std::ops::Range<usize>>,
        regs: &mut [Id],
        out: &mut K,
    ) -> usize {
        let before = out.len();
        regs[0] = eclass;
        match (root_range, self.program.first()) {
            (
                Some(r),
                Some(Instr::Bind {
                    i: 0, out: o, node, ..
                }),
            ) => {
                if let Some(class) = egraph.class(eclass) {
                    let o = *o as usize;
                    for n in &class.nodes[r] {
                        if out.halted() {
                            break;
                        }
                        if node.matches(n) {
                            copy_children(&mut regs[o..], n.children());
                            self.run(egraph, 1, regs, out);
                        }
                    }
                }
            }
            _ => self.run(egraph, 0, regs, out),
        }
        out.len() - before
    }

    /// Matches rooted at `eclass` in any class source (for the
    /// asynchronous scheduler's live view); appends to `out`.
    pub(crate) fn search_source_into<S: NodeSource<L>, K: Sink>(
        &self,
        src: &S,
        eclass: Id,
        out: &mut K,
    ) -> usize {
        let before = out.len();
        let mut regs = self.registers();
        regs[0] = eclass;
        self.run(src, 0, &mut regs, out);
        out.len() - before
    }

    fn run<S: NodeSource<L>, K: Sink>(&self, egraph: &S, pc: usize, regs: &mut [Id], out: &mut K) {
        let Some(instr) = self.program.get(pc) else {
            out.found(self, regs);
            return;
        };
        match instr {
            Instr::Compare { i, j } => {
                if egraph.same_class(regs[*i as usize], regs[*j as usize]) {
                    self.run(egraph, pc + 1, regs, out)
                }
            }
            Instr::Bind {
                i,
                out: o,
                node,
                bit,
            } => {
                let Some(nodes) = egraph.class_nodes_with(regs[*i as usize], *bit) else {
                    return;
                };
                let nodes: &[L] = &nodes;
                let range = if nodes.len() < SCAN_MAX {
                    nodes
                } else {
                    // Nodes are sorted and nodes with one discriminant are
                    // contiguous (a `Language` requirement); the template,
                    // children zeroed, sorts first among those it matches.
                    let start = nodes.partition_point(|n| n < node);
                    let d = node.discriminant();
                    let len = nodes[start..]
                        .iter()
                        .take_while(|n| n.discriminant() == d)
                        .count();
                    &nodes[start..start + len]
                };
                self.bind_range(egraph, pc, *o as usize, node, range, regs, out);
            }
        }
    }

    /// Binds each node of `nodes` that matches `node` and runs the rest of
    /// the program. A large range is split in two and matched with
    /// `rayon::join` (when running in parallel) if this thread has no
    /// pending work of its own that an idle thread could take instead
    /// (*lazy* binary splitting); the right half's matches are appended
    /// after the left's, so the order is the sequential one.
    ///
    /// Splitting every large range, at every level of the pattern, cost
    /// more than it gave: on the final e-graph of egg's
    /// lambda_function_repeat, matching every rule at every class on two
    /// threads took 27 ms against 14 ms on one, most of it in the kernel
    /// (a thread whose half was stolen sleeps until the thief finishes,
    /// and the wake-up is an inter-processor interrupt), against 8 ms
    /// without splitting. Splitting only when the thread's own queue is
    /// empty keeps one stealable half at a time per thread, which is all
    /// an idle thread needs, so a single huge class still spreads.
    #[allow(clippy::too_many_arguments)]
    fn bind_range<S: NodeSource<L>, K: Sink>(
        &self,
        egraph: &S,
        pc: usize,
        o: usize,
        node: &L,
        nodes: &[L],
        regs: &mut [Id],
        out: &mut K,
    ) {
        let budget = egraph.match_budget();
        // Split only on a pool thread (elsewhere, as in a hook on the
        // run's thread, there is no queue and the answer is `None`: a
        // split would be a hand-off to the pool).
        if nodes.len() >= PAR_SPLIT
            && budget == usize::MAX
            && !crate::par::is_sequential()
            && rayon_core::current_thread_has_pending_tasks() == Some(false)
        {
            #[cfg(test)]
            tests::SPLITS.with(|n| n.set(n.get() + 1));
            let (left, right) = nodes.split_at(nodes.len() / 2);
            let mut regs_r = smallvec::SmallVec::<[Id; 16]>::from_slice(regs);
            let mut out_r = out.fresh();
            rayon::join(
                || self.bind_range(egraph, pc, o, node, left, regs, out),
                || self.bind_range(egraph, pc, o, node, right, &mut regs_r, &mut out_r),
            );
            out.append(out_r);
            return;
        }
        for n in nodes {
            if out.len() >= budget || out.halted() {
                return;
            }
            if node.matches(n) {
                copy_children(&mut regs[o..], n.children());
                self.run(egraph, pc + 1, regs, out);
            }
        }
    }
}

/// Copies a node's children into the front of `regs`. Nodes have a few
/// children: a `copy_from_slice` of a length known only at run time is a
/// call to `memcpy`, which cost more than the copy (4% of a large lambda
/// run's instructions), so the usual arities are spelled out.
#[inline(always)]
fn copy_children(regs: &mut [Id], cs: &[Id]) {
    match *cs {
        [] => {}
        [a] => regs[0] = a,
        [a, b] => {
            regs[0] = a;
            regs[1] = b;
        }
        [a, b, c] => {
            regs[0] = a;
            regs[1] = b;
            regs[2] = c;
        }
        _ => regs[..cs.len()].copy_from_slice(cs),
    }
}

impl<L: FromOp> Pattern<L> {
    /// Parses a pattern from an s-expression (for rule files). A pattern
    /// nested deeper than [`MAX_PATTERN_DEPTH`] levels, or with more than
    /// [`MAX_PATTERN_CHILDREN`] child positions, is an error at the node
    /// that passes the limit.
    ///
    /// ```
    /// use saturn::{Pattern, SymbolLang, MAX_PATTERN_DEPTH};
    /// // Nodes at depths 0 to MAX_PATTERN_DEPTH + 1: one level too many.
    /// let n = MAX_PATTERN_DEPTH + 2;
    /// let deep = "(f ".repeat(n) + "?x" + &")".repeat(n);
    /// let err = deep.parse::<Pattern<SymbolLang>>().unwrap_err();
    /// assert!(err.to_string().contains("deeper than"), "{err}");
    /// ```
    pub fn from_sexp(s: &Sexp) -> Result<Self, ParseError> {
        let mut ast = vec![];
        let mut children = 0;
        build_pattern(s, &mut ast, 0, &mut children)?;
        Ok(Pattern::from_ast(ast))
    }
}

/// Appends the pattern `s`, `depth` levels below the root, to `ast` in
/// post-order; `children` counts the child positions so far.
fn build_pattern<L: FromOp>(
    s: &Sexp,
    ast: &mut Vec<ENodeOrVar<L>>,
    depth: usize,
    children: &mut usize,
) -> Result<Id, ParseError> {
    let (op, args, pos): (&str, &[Sexp], Pos) = match s {
        Sexp::Atom(a, p) => (a, &[], *p),
        Sexp::List(items, p) => match items.split_first() {
            None => return Err(ParseError::new(*p, "empty list `()` is not a pattern")),
            Some((Sexp::Atom(op, _), rest)) => (op, rest, *p),
            Some((first, _)) => {
                return Err(ParseError::new(
                    first.pos(),
                    "an operator must be a word, not a list",
                ))
            }
        },
    };
    if op.starts_with('?') {
        if !args.is_empty() {
            return Err(ParseError::new(
                pos,
                format!("variable `{op}` cannot have children"),
            ));
        }
        let v = Var::new(op).map_err(|e| ParseError::new(pos, e))?;
        ast.push(ENodeOrVar::Var(v));
        return Ok(Id::from(ast.len() - 1));
    }
    if depth > MAX_PATTERN_DEPTH {
        return Err(ParseError::new(
            pos,
            format!("pattern nested deeper than {MAX_PATTERN_DEPTH} levels"),
        ));
    }
    *children += args.len();
    if *children > MAX_PATTERN_CHILDREN {
        return Err(ParseError::new(
            pos,
            format!("pattern with more than {MAX_PATTERN_CHILDREN} child positions"),
        ));
    }
    let mut kids = Vec::with_capacity(args.len());
    for a in args {
        kids.push(build_pattern(a, ast, depth + 1, children)?);
    }
    let node = L::from_op(op, kids).map_err(|e| ParseError::new(pos, e.to_string()))?;
    ast.push(ENodeOrVar::ENode(node));
    Ok(Id::from(ast.len() - 1))
}

impl<L: FromOp> std::str::FromStr for Pattern<L> {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::from_sexp(&sexp::parse_one(s)?)
    }
}

impl<L: Language + fmt::Display> Pattern<L> {
    fn write(&self, f: &mut fmt::Formatter<'_>, i: usize) -> fmt::Result {
        match &self.ast[i] {
            ENodeOrVar::Var(v) => write!(f, "{v}"),
            ENodeOrVar::ENode(n) if n.is_leaf() => write!(f, "{n}"),
            ENodeOrVar::ENode(n) => {
                write!(f, "({n}")?;
                for c in n.children() {
                    f.write_str(" ")?;
                    self.write(f, c.index())?;
                }
                f.write_str(")")
            }
        }
    }
}

impl<L: Language + fmt::Display> fmt::Display for Pattern<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, self.ast.len() - 1)
    }
}

impl<L: Language + fmt::Display> fmt::Debug for Pattern<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecExpr, SymbolLang};

    thread_local! {
        /// Node ranges this thread split so far (see `bind_range`): per
        /// thread, so tests running beside one another on other pools do
        /// not count.
        pub(super) static SPLITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A class of 3,000 nodes under the root: on a two-thread pool its
    /// range is split (lazily: only while the thread's own queue is
    /// empty), and the matches are those of a sequential search, in the
    /// same order.
    #[test]
    fn split_searches_find_the_sequential_matches_in_order() {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let x = eg.add(SymbolLang::leaf("x"));
        let mut big = vec![];
        for k in 0..3000 {
            let leaf = eg.add(SymbolLang::leaf(format!("y{k}")));
            big.push(eg.add(SymbolLang::new("g", vec![leaf, x])));
        }
        for &g in &big[1..] {
            eg.union(big[0], g);
        }
        let root = eg.add(SymbolLang::new("f", vec![big[0]]));
        eg.rebuild();
        let p: Pattern<SymbolLang> = "(f (g ?y x))".parse().unwrap();
        let seq = crate::par::sequentially(|| p.search_eclass(&eg, root));
        assert_eq!(seq.len(), 3000);
        let pool = two_threads();
        let splits = || splits_on(&pool);
        let before = splits();
        let par = pool.install(|| p.search_eclass(&eg, root));
        assert!(splits() > before, "never split");
        assert_eq!(par, seq);
    }

    /// A pool of two threads.
    fn two_threads() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
    }

    /// The ranges split so far by `pool`'s threads (their own counts).
    fn splits_on(pool: &rayon::ThreadPool) -> usize {
        pool.broadcast(|_| SPLITS.with(|n| n.get())).iter().sum()
    }

    /// A root `(f G G)` whose class `G` holds `n` nodes `(g y_k)`: the
    /// pattern `(f (g ?a) (g ?b))` has `n^2` matches there.
    fn square(n: usize) -> (EGraph<SymbolLang, ()>, Id) {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let mut big = vec![];
        for k in 0..n {
            let leaf = eg.add(SymbolLang::leaf(format!("y{k}")));
            big.push(eg.add(SymbolLang::new("g", vec![leaf])));
        }
        for &g in &big[1..] {
            eg.union(big[0], g);
        }
        let root = eg.add(SymbolLang::new("f", vec![big[0], big[0]]));
        eg.rebuild();
        (eg, root)
    }

    /// A capped [`Polled`] sink keeps the first `cap` matches of the
    /// sequential order and counts them all, also when the search is split
    /// on a pool and the halves appended (a half that dropped some makes
    /// everything after it counted only).
    #[test]
    fn a_capped_sink_keeps_the_first_matches_and_counts_all() {
        let (eg, root) = square(500);
        // 250,000 matches at one root.
        let p: Pattern<SymbolLang> = "(f (g ?a) (g ?b))".parse().unwrap();
        let mut all = FlatMatches::new(&p);
        let mut regs = p.registers();
        crate::par::sequentially(|| p.search_with_regs(&eg, root, None, &mut regs, &mut all));
        assert_eq!(all.len(), 250_000);
        let pool = two_threads();
        let never = || false;
        let splits = || splits_on(&pool);
        let before = splits();
        for cap in [0, 1, 499, 500, 77_777, 249_999, 250_000, usize::MAX] {
            for on_pool in [false, true] {
                let mut sink = Polled::new(FlatMatches::new(&p), &never);
                sink.cap = cap;
                let mut regs = p.registers();
                let search = || p.search_with_regs(&eg, root, None, &mut regs, &mut sink);
                let n = if on_pool {
                    pool.install(search)
                } else {
                    crate::par::sequentially(search)
                };
                assert_eq!(n, 250_000, "cap {cap}: all counted");
                assert_eq!(sink.dropped_some(), cap < 250_000);
                let mut want = all.clone();
                want.truncate(cap);
                assert_eq!(sink.inner, want, "cap {cap}, on a pool: {on_pool}");
            }
        }
        assert!(splits() > before, "never split");
    }

    /// With `over_stops`, once the left half of a split search passes its
    /// cap, the halves to its right stop too (their matches would only be
    /// dropped) instead of scanning to their own caps. Here every node of
    /// the right half fails one level down, so without the signal the
    /// right halves would look at the failing child's class once per
    /// node: 20,000 times.
    #[test]
    fn halves_right_of_a_half_past_its_cap_stop() {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let hit = eg.add_expr(&"(h z)".parse().unwrap());
        let miss = eg.add(SymbolLang::leaf("c"));
        let n = 40_000;
        let leaves: Vec<Id> = (0..n)
            .map(|k| eg.add(SymbolLang::leaf(format!("a{k}"))))
            .collect();
        // The first half match `(g ?x (h ?y))`; the second half, whose
        // first children have the greater ids (so they come second in the
        // class's sorted nodes), fail at `(h ?y)`.
        let gs: Vec<Id> = leaves
            .iter()
            .enumerate()
            .map(|(k, &a)| {
                let second = if k < n / 2 { hit } else { miss };
                eg.add(SymbolLang::new("g", vec![a, second]))
            })
            .collect();
        for &g in &gs[1..] {
            eg.union(gs[0], g);
        }
        let root = eg.add(SymbolLang::new("f", vec![gs[0]]));
        eg.rebuild();
        let (hit, miss) = (eg.find(hit), eg.find(miss));
        /// The e-graph, counting the look-ups of the failing class
        /// (`watched`). A look-up of it first waits (up to 10 s) until
        /// the matching class has been looked up 11 times, so that a left
        /// half has passed the cap of 10 whatever the machine's load:
        /// otherwise a left half preempted for a while lets a right half
        /// scan on before any flag is set, and the count says nothing.
        struct Counting<'a> {
            eg: &'a EGraph<SymbolLang, ()>,
            watched: Id,
            hit: Id,
            looks: std::sync::atomic::AtomicUsize,
            hits: std::sync::atomic::AtomicUsize,
        }
        impl Counting<'_> {
            fn look(&self, id: Id) {
                use std::sync::atomic::Ordering::Relaxed;
                if id == self.hit {
                    self.hits.fetch_add(1, Relaxed);
                }
                if id == self.watched {
                    let t = std::time::Instant::now();
                    while self.hits.load(Relaxed) < 11 && t.elapsed().as_secs() < 10 {
                        std::thread::yield_now();
                    }
                    self.looks.fetch_add(1, Relaxed);
                }
            }
        }
        impl NodeSource<SymbolLang> for Counting<'_> {
            fn class_nodes(&self, id: Id) -> Option<NodeList<'_, SymbolLang>> {
                self.look(id);
                self.eg.class_nodes(id)
            }
            fn class_nodes_with(&self, id: Id, bit: u64) -> Option<NodeList<'_, SymbolLang>> {
                self.look(id);
                self.eg.class_nodes_with(id, bit)
            }
        }
        let p: Pattern<SymbolLang> = "(f (g ?x (h ?y)))".parse().unwrap();
        let pool = two_threads();
        let never = || false;
        let splits = || splits_on(&pool);
        let mut first = FlatMatches::new(&p);
        crate::par::sequentially(|| p.search_source_into(&eg, root, &mut first));
        first.truncate(10);
        for over_stops in [false, true] {
            let src = Counting {
                eg: &eg,
                watched: miss,
                hit,
                looks: Default::default(),
                hits: Default::default(),
            };
            let mut sink = Polled::new(FlatMatches::new(&p), &never);
            sink.cap = 10;
            sink.over_stops = over_stops;
            let before = splits();
            let found = pool.install(|| p.search_source_into(&src, root, &mut sink));
            assert!(splits() > before, "never split");
            let looks = src.looks.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(sink.inner, first, "the first 10 in sequential order");
            if over_stops {
                assert!(sink.dropped_some() && found <= n / 2);
                assert!(looks < n / 20, "the right halves went on: {looks} look-ups");
            } else {
                // Counting every match needs the whole class.
                assert_eq!((found, looks), (n / 2, n / 2));
            }
        }
    }

    /// A capped sink that stops past its cap, split by hand as
    /// `Pattern::bind_range` splits one.
    fn budgeted(cap: usize, never: &(dyn Fn() -> bool + Sync)) -> Polled<'_, Count> {
        let mut s = Polled::new(Count(0), never);
        s.cap = cap;
        s.over_stops = true;
        s
    }

    /// Records `k` matches in `sink`.
    fn feed(sink: &mut impl Sink, k: usize) {
        let p: Pattern<SymbolLang> = "a".parse().unwrap();
        for _ in 0..k {
            sink.found(&p, &[]);
        }
    }

    /// A half that passes the cap stops exactly the halves to its right,
    /// across nested splits, also when it passes the cap only with a half
    /// appended to it; and never one to its left.
    #[test]
    fn a_half_past_the_cap_stops_exactly_the_halves_to_its_right() {
        let never = || false;
        // [A | B], B split again into [B1 | B2], then A into [A1 | A2]:
        // in order A1 (s), A2 (a2), B1 (b), B2 (b2).
        let mut s = budgeted(3, &never);
        let mut b = s.fresh();
        let mut b2 = b.fresh();
        let mut a2 = s.fresh();
        assert!(!s.halted() && !a2.halted() && !b.halted() && !b2.halted());
        feed(&mut a2, 4);
        assert!(
            a2.halted() && b.halted() && b2.halted(),
            "B1, B2 come after A2"
        );
        assert!(!s.halted(), "A1 comes before A2");
        s.append(a2);
        assert!(s.dropped_some() && s.halted());
        // B1 passes: B2 stops; A does not.
        let mut s = budgeted(3, &never);
        let mut b = s.fresh();
        let mut b2 = b.fresh();
        feed(&mut b, 4);
        assert!(b2.halted() && !s.halted());
        // B2 passes: neither B1 nor A stops.
        let mut s = budgeted(3, &never);
        let mut b = s.fresh();
        let mut b2 = b.fresh();
        feed(&mut b2, 4);
        assert!(b2.halted() && !b.halted() && !s.halted());
        // A1 and A2 each within the cap, past it together: B stops once
        // A2 is appended.
        let mut s = budgeted(10, &never);
        let mut b = s.fresh();
        let mut a2 = s.fresh();
        feed(&mut s, 6);
        feed(&mut a2, 6);
        assert!(!s.halted() && !b.halted());
        s.append(a2);
        assert!(s.dropped_some() && b.halted());
        s.append(b);
        assert_eq!((s.inner.0, s.tell.len()), (10, 0));
    }

    /// With `over_stops`, a search split on a pool keeps the first `cap`
    /// matches of the sequential order, whatever the cap, and reports
    /// whether it left some out.
    #[test]
    fn a_budgeted_split_search_keeps_the_sequential_prefix() {
        let (eg, root) = square(300);
        let p: Pattern<SymbolLang> = "(f (g ?a) (g ?b))".parse().unwrap();
        let mut all = FlatMatches::new(&p);
        crate::par::sequentially(|| p.search_source_into(&eg, root, &mut all));
        let total = all.len();
        assert_eq!(total, 90_000);
        let pool = two_threads();
        let never = || false;
        let before = splits_on(&pool);
        for _ in 0..5 {
            for cap in [
                0,
                1,
                299,
                300,
                301,
                44_999,
                45_000,
                89_999,
                90_000,
                usize::MAX,
            ] {
                let mut sink = Polled::new(FlatMatches::new(&p), &never);
                sink.cap = cap;
                sink.over_stops = true;
                pool.install(|| p.search_source_into(&eg, root, &mut sink));
                let mut want = all.clone();
                want.truncate(cap);
                assert_eq!(sink.inner, want, "cap {cap}");
                assert_eq!(sink.dropped_some(), cap < total, "cap {cap}");
                assert!(!sink.stopped() && sink.tell.is_empty());
            }
        }
        assert!(splits_on(&pool) > before, "never split");
    }

    /// A [`Polled`] sink whose stop condition holds ends the search within
    /// [`POLL_NODES`] nodes bound, and says so.
    #[test]
    fn a_polled_sink_ends_the_search_when_told() {
        let (eg, root) = square(1000);
        let p: Pattern<SymbolLang> = "(f (g ?a) (g ?b))".parse().unwrap();
        let polls = std::sync::atomic::AtomicUsize::new(0);
        // Yes from the second poll on.
        let stop = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 1;
        let mut sink = Polled::new(Count(0), &stop);
        let mut regs = p.registers();
        let n =
            crate::par::sequentially(|| p.search_with_regs(&eg, root, None, &mut regs, &mut sink));
        assert!(sink.stopped());
        assert_eq!(polls.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Each binding of the first `(g ?a)` node visits 1,000 nodes.
        assert!(
            n >= POLL_NODES as usize && n <= 2 * POLL_NODES as usize,
            "{n}"
        );
    }

    /// The flat store gives the same matches, in the same order, as a
    /// `Vec<Subst>`, also when a search is split and the halves appended;
    /// for patterns with no variable, one, non-linear ones and more
    /// variables than a `Subst` keeps inline.
    #[test]
    fn flat_matches_are_the_substitutions_in_order() {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        for t in [
            "(f a b c d e g)",
            "(f a a a a a a)",
            "(f (h x) b (h y) d e g)",
            "(k a)",
            "(k (h x))",
        ] {
            eg.add_expr(&t.parse::<RecExpr<SymbolLang>>().unwrap());
        }
        let a = eg.add_expr(&"a".parse().unwrap());
        let b = eg.add_expr(&"b".parse().unwrap());
        eg.union(a, b);
        eg.rebuild();
        let roots: Vec<Id> = eg.classes().map(|c| c.id).collect();
        let mut total = 0;
        for p in [
            "(k a)",
            "(k ?x)",
            "(f ?a ?a ?c ?d ?e ?g)",
            "(f ?a ?b ?c ?d ?e ?g)",
            "(f (h ?x) ?b (h ?y) ?d ?e ?g)",
        ] {
            let p: Pattern<SymbolLang> = p.parse().unwrap();
            for &root in &roots {
                let want = p.search_eclass(&eg, root);
                let mut regs = p.registers();
                let mut flat = FlatMatches::new(&p);
                p.search_with_regs(&eg, root, None, &mut regs, &mut flat);
                let got: Vec<Subst> = (0..flat.len()).map(|m| flat.subst(&p, m)).collect();
                assert_eq!(got, want, "{p} at {root}");
                // Split by root node and appended: the same.
                let mut left = FlatMatches::new(&p);
                if let Some(r) = p.root_nodes(&eg, root) {
                    let mid = r.start + r.len() / 2;
                    p.search_with_regs(&eg, root, Some(r.start..mid), &mut regs, &mut left);
                    let mut right = left.fresh();
                    p.search_with_regs(&eg, root, Some(mid..r.end), &mut regs, &mut right);
                    left.append(right);
                    assert_eq!(left, flat, "{p} at {root}, split");
                }
                total += want.len();
            }
        }
        assert!(total >= 6, "the patterns must match: {total}");
    }

    /// Each child lands in its variable's register, for every arity the
    /// copy spells out and past them, at the root and below it (where the
    /// children go to registers after the first).
    #[test]
    fn children_bind_their_variables_at_every_arity() {
        for k in 0..=6 {
            let xs: Vec<String> = (1..=k).map(|i| format!("x{i}")).collect();
            let vars: Vec<String> = (1..=k).map(|i| format!("?a{i}")).collect();
            let f = |args: &[String]| {
                if args.is_empty() {
                    "f".to_string()
                } else {
                    format!("(f {})", args.join(" "))
                }
            };
            let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
            let root = eg.add_expr(&format!("(g {} y)", f(&xs)).parse().unwrap());
            eg.rebuild();
            for (pat, at) in [
                (f(&vars), eg.lookup_expr(&f(&xs).parse().unwrap()).unwrap()),
                (format!("(g {} ?e)", f(&vars)), root),
            ] {
                let p: Pattern<SymbolLang> = pat.parse().unwrap();
                let found = p.search_eclass(&eg, at);
                assert_eq!(found.len(), 1, "{pat}");
                for (x, v) in xs.iter().zip(&vars) {
                    let want = eg.lookup_expr(&x.parse().unwrap()).unwrap();
                    assert_eq!(found[0][v.parse().unwrap()], want, "{pat}: {v}");
                }
            }
        }
    }
}
