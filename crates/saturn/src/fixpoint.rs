//! The asynchronous fixed point: the `async` [schedule strategy](crate::schedule).
//!
//! # What it does
//! All rules of all passes run together, but not in rounds. Workers take
//! *dirty* classes from rayon's work-stealing queues; at each one they run
//! every rule rooted there and apply the matches at once. Adds and unions
//! go straight into the shared concurrent structures, so every worker sees
//! every other worker's new nodes and equalities as soon as they are made:
//!
//! * a new node gets its id inside the hashcons shard's lock
//!   ([`Hashcons::get_or_insert_with`](crate::Hashcons::get_or_insert_with)),
//!   so two workers adding the same node get one id;
//! * a union goes to the atomic union-find under the locks of the two roots'
//!   *deltas* (what the class gained since the last join: classes merged
//!   into it, new nodes, new parents), and congruence is repaired on the
//!   spot by the worker that merged: it re-inserts the merged class's
//!   parents in canonical form and unions any collision;
//! * the class that changed and its ancestors up to the deepest pattern's
//!   depth become dirty again, so a match made possible by another worker's
//!   node is found without waiting for a round to end. Each dirty class
//!   carries the rules that may match anew there (by the operators its
//!   neighbourhood gained at each depth, repeated variables and
//!   conditions, and what a class merged into it had not searched yet; see
//!   `RuleIndex`), kept only if rooted at one of the class's operators;
//!   only those run when it is processed again. The last level of an
//!   ancestor search visits only parents rooted at an operator of the
//!   rules it marks, through a per-phase index by operator of the parents
//!   of old classes that have many (constants, shared variables).
//!
//! Matching reads a live view of each class: its nodes at the last join
//! plus its delta, canonicalized. A *global join* happens only when the
//! queues run dry (to confirm the fixed point) or a limit or the id
//! capacity is reached: the new classes are materialized in the e-graph,
//! analysis data is computed, [`Analysis::modify`] runs, and the e-graph is
//! rebuilt. If the join changed anything (new data, modify's nodes), the
//! affected classes seed the next phase; otherwise the fixed point is
//! confirmed.
//!
//! # What waits for a join
//! Analysis data of classes made in a phase exists only after the join. So
//! a rule with conditions or with a Rust applier (which may read data)
//! fires during a phase only on matches that bind classes older than the
//! phase; a match that binds a new class is deferred to the next phase.
//! Purely syntactic rules fire on anything. Conditions read the data as of
//! the last join; data only grows more precise, so this is sound, and the
//! classes whose data changed at a join are dirty in the next phase.
//! They read the nodes as of the last join too, which lack those a
//! phase merged into a class: so after each join, the rules whose
//! conditions or applier may read what classes hold
//! ([`Condition::reads_classes`](crate::Condition::reads_classes); every
//! Rust applier) run again at the classes the phase merged and their
//! ancestors. (Before, a condition that needed a leaf merged into its
//! class in the same phase never fired, and `async` saturated short of
//! `bsp`.) The rule files' `=` and `!=` read the union-find, which is
//! live, and need no second look: a run without such rules needs no
//! extra phase.
//!
//! # Determinism
//! Within a phase, which worker makes which id depends on timing, and so
//! does how far a phase has got when something stops it. A phase that
//! runs *dry* (its queues empty) ends at the least e-graph closed under the
//! rules it may fire, which depends only on where it started; so the run's
//! result, renumbered canonically at the end ([`EGraph::canonical_copy`]:
//! the input's ids keep their meaning, every other id depends only on the
//! e-graph's structure), is the same for any thread count. That covers
//! runs that saturate and runs stopped *between* phases by the iteration,
//! node or memory limit (measured in canonical nodes, not hashcons entries
//! or ids; a join's `modify` can grow the e-graph past them).
//!
//! A phase that does not run dry, because it passed the node or memory limit
//! (seen by a worker, which checks every few tasks, or at the phase's end),
//! used up its ids (4x the e-graph: an explosion, which rounds handle better,
//! since an analysis's `modify` runs at every join), cut a search at the
//! match budget or found more matches than its room allows (see
//! [`phase_matches`]), holds what the workers happened to reach. It is
//! *rolled back*:
//! the union-find is restored from a snapshot taken before the phase, and the
//! hashcons loses what the phase inserted (the layer over its table is dropped
//! after a run's first phase, whose table is the input's; after later ones,
//! which may have left stale entries whose number depends on timing, it is
//! rebuilt from the classes); the phase wrote nothing else. The e-graph is
//! renumbered canonically, and the caller goes on from there in `bsp` rounds,
//! which are deterministic. Only a time limit or a cancellation leaves a
//! phase's partial work in place (valid and sound, but timing-dependent, as
//! under every strategy). One caveat remains: whether a phase runs dry is
//! decided by ids made (and hashcons entries), which exceed the closure's nodes
//! by the congruent copies made before the union that merges them and by stale
//! hashcons entries, accumulated over the run's phases (their number depends on
//! timing); a closure within that slack of the node or memory limit or of the
//! id room may run dry in one run and not in another. A run that saturates
//! either way ends with the same e-graph, and the caller renumbers one finished
//! in rounds canonically, so its output is the same too; its rounds and joins
//! are not (the undone phase plus the rounds after it, against the phases). A
//! phase on an e-graph of fewer than [`SEQUENTIAL_PHASE_NODES`] nodes runs on
//! one thread, where the ids it makes depend only on its input, so its room can
//! be small without that risk.
//!
//! # Trade-offs
//! * Joins are rare (usually a handful per run), but a class may be
//!   matched several times in a phase, each time a nearby class changes
//!   (by the rules that change can concern); `bsp` matches each changed
//!   neighbourhood once per round.
//! * Congruence repair re-inserts every parent of the merged class at each
//!   union (as egg's rebuild does, but once per union rather than batched).
//! * There is no backoff: rules run until the fixed point or a limit. A
//!   search at one class is cut at a match budget (see [`match_budget`]).
//! * Work is spread for locality, not evenly: a worker takes a contiguous
//!   range of the seeds and then drains, itself, what its classes made
//!   dirty (their neighbours, whose lines are in its cache), offering
//!   half of its queue to the others only when nothing of its own is left
//!   for them to steal (see `drain`).
//!   Per-class state shared by all workers (deltas, views) is sharded by
//!   runs of ids, so workers on different ranges lock different shards.
//!   What still crosses cores is the hashcons (a node's shard depends on
//!   its hash, not on who adds it) and the classes shared by many terms;
//!   on this project's 2-core machine a phase on 2 threads is 1.0-1.2x
//!   faster than on 1.
//!
//! Set `SATURN_ASYNC_TRACE=1` to print one line per phase to stderr
//! (tasks, matches, ids made, classes merged, deferred work), and one for
//! a phase rolled back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::egraph::op_bit;
use crate::limits::Limits;
use crate::pattern::{ENodeOrVar, NodeList, NodeSource, Polled};
use crate::rewrite::Ref;
use crate::{Actions, Analysis, AppendOnlyVec, EGraph, Id, Language, Rewrite, StopReason};

/// Shards of the delta table (a power of two).
const SHARDS: usize = 64;

/// Ids per run of consecutive ids that share a shard (a power of two).
const SHARD_RUN: usize = 64;

/// The shard of `id`'s delta, view and parent index: runs of
/// [`SHARD_RUN`] consecutive ids share one. A term's classes have nearby
/// ids, and each worker works on a contiguous range of classes (see
/// `drain`), so two workers mostly lock different shards: with shards by
/// `id % 64`, both locked all 64 all the time, and nearly every lock moved
/// its cache line from the other core.
#[inline]
fn shard_of(id: Id) -> usize {
    (id.index() / SHARD_RUN) & (SHARDS - 1)
}

/// [`EGraph::approx_bytes`] counted over `nodes` canonical nodes (see
/// [`EGraph::total_number_of_nodes`]): one id and one hashcons entry each.
/// After a rebuild every canonical node has an id of its own and a
/// hashcons entry, so this is at most `approx_bytes`; the difference is
/// the ids that merged (among them the congruent copies a phase made, how
/// many depending on timing) and stale entries. It depends only on the
/// e-graph's structure, so the memory limit is checked against it between
/// phases, where a run that ran dry must stop whatever the timing.
fn canonical_bytes<L: Language, N: Analysis<L>>(nodes: usize) -> usize {
    EGraph::<L, N>::bytes_for(nodes, nodes)
}

/// Limits and threads for an asynchronous run.
pub(crate) struct AsyncConfig {
    pub iter_limit: usize,
    /// Time, nodes, bytes and cancel flag, checked by workers and at the
    /// end of each phase; between phases, the nodes and bytes of canonical
    /// nodes are checked against them (see [`canonical_bytes`]). The run
    /// started at `limits.start`.
    pub limits: Limits,
    pub pool: Option<Arc<rayon::ThreadPool>>,
    /// Phases on e-graphs of fewer nodes run on one thread (see
    /// [`SEQUENTIAL_PHASE_NODES`]).
    pub sequential_below: usize,
}

/// Phases on e-graphs of fewer nodes than this run on the calling thread,
/// whatever the thread count, with room for [`sequential_room`] ids (4x
/// the e-graph past 64 nodes) instead of at least [`PARALLEL_ROOM`] (1,024).
///
/// Such a phase is a fraction of a millisecond of work, too little to
/// share. Above all, on one thread the ids a phase makes depend only on
/// its input, so whether it runs out of room does too, and the room can be
/// small; a phase on several threads makes a number that depends on timing
/// (congruent copies made before the union that merges them), so its room
/// needs a wide margin over what a closure can use, or runs near the
/// boundary would undo the phase in one run and not in another. Egg's
/// math suite needs the small room: its constant folding prunes classes
/// only at joins, so every first phase explodes and is undone, and at
/// 1,024 ids that cost 0.5-1.5 ms on e-graphs of 5-40 nodes that `bsp`
/// saturates in 0.1 ms (0.2 ms at 256 ids).
pub(crate) const SEQUENTIAL_PHASE_NODES: usize = 256;

/// The room of a phase on one thread is at least this, or
/// [`sequential_room`] below it.
const SEQUENTIAL_ROOM: usize = 256;

/// The fewest ids a phase has room for, both under the node limit (so a
/// phase near the limit is not tiny) and under 4x the e-graph, unless it
/// runs on one thread (see [`sequential_room`]). A phase on several threads
/// makes a number of ids that depends on timing (congruent copies made
/// before the union that merges them), so its room needs a wide margin over
/// what a closure can use (see [`SEQUENTIAL_PHASE_NODES`]).
const PARALLEL_ROOM: usize = 1024;

/// The fewest ids a phase on one thread on an e-graph of `size` nodes has
/// room for: 64 more than 4x the e-graph, up to [`SEQUENTIAL_ROOM`]. On a
/// handful of nodes a closure needs a few dozen ids, and an explosion is
/// undone after about as many (egg's math suite: 0.1 ms sooner than at
/// 256 ids, on each of its 10 smallest cases).
fn sequential_room(size: usize) -> usize {
    size.saturating_mul(4)
        .saturating_add(64)
        .min(SEQUENTIAL_ROOM)
}

/// What an asynchronous run did.
#[derive(Debug, Default, Clone)]
pub(crate) struct AsyncStats {
    /// Phases (each ends with one global join).
    pub phases: usize,
    /// Dirty classes processed, over all phases.
    pub tasks: usize,
    pub matches: usize,
    pub unions: usize,
    /// Seconds in phases (matching and applying, interleaved).
    pub phase_time: f64,
    /// Seconds in joins.
    pub join_time: f64,
    /// Set when a phase was rolled back (see the module docs): the run
    /// stopped there, `stop_reason` is `None`, and the e-graph is as the
    /// last join left it, renumbered canonically; the caller goes on in
    /// rounds.
    pub rolled_back: bool,
    pub stop_reason: Option<StopReason>,
    /// The input's ids: a renumbering keeps their meaning (see
    /// [`renumbered`]).
    pub keep: usize,
}

/// What a class gained since the last join.
#[derive(Default)]
struct Delta {
    /// Classes of the last join merged into this one.
    olds: Vec<Id>,
    /// Ids made in this phase merged into this one.
    news: Vec<Id>,
    /// Ids made in this phase that have this class as a child.
    parents: Vec<Id>,
}

/// Why a phase ended early: a limit, its ids used up, a search past the
/// match budget.
const STOP_LIMIT: usize = 1;
const STOP_FULL: usize = 2;
const STOP_CUT: usize = 4;

/// One phase: the e-graph as of the last join (read-only) plus the
/// concurrent write side.
struct Phase<'g, L: Language, N: Analysis<L>> {
    eg: &'g EGraph<L, N>,
    /// The rules, and what the run derived from them.
    index: &'g RuleIndex<'g, L, N>,
    base: usize,
    new_nodes: AppendOnlyVec<L>,
    deltas: Vec<Mutex<FxHashMap<Id, Delta>>>,
    /// Per id: whether its delta may list merged classes.
    has_members: Vec<AtomicBool>,
    /// Per id: whether its delta may list new parents.
    has_parents: Vec<AtomicBool>,
    /// Per id: how many classes were merged into it (invalidates `views`).
    versions: Vec<std::sync::atomic::AtomicU32>,
    /// Parents of old classes with many of them, by operator (built when
    /// first needed; see `for_each_parent_class_with`).
    #[allow(clippy::type_complexity)]
    parent_index: Vec<Mutex<FxHashMap<Id, Arc<ParentIndex>>>>,
    /// Assembled views of classes that gained members, by root.
    #[allow(clippy::type_complexity)]
    views: Vec<Mutex<FxHashMap<Id, (u32, Arc<[L]>)>>>,
    /// Per id: queued and not yet started.
    dirty: Vec<AtomicBool>,
    /// Per root: the rules (as [`rule_bit`]s) that may have matches there
    /// not yet found; taken by the root's next task.
    pending: Vec<AtomicU64>,
    /// Per root: the operator summary of its nodes (old and new).
    ops: Vec<AtomicU64>,
    merged: Mutex<Vec<Id>>,
    deferred: Mutex<Vec<Id>>,
    nonlocal: Mutex<Vec<Id>>,
    /// 0 while running; else `STOP_LIMIT` or `STOP_FULL` bits.
    stop: AtomicUsize,
    limit: Mutex<Option<StopReason>>,
    limits: Limits,
    tasks: AtomicUsize,
    matches: AtomicUsize,
    /// Ids this phase may make, and how many it tried to.
    room: usize,
    /// Matches one search may return; reaching it is a limit (see
    /// [`match_budget`]).
    match_budget: usize,
    /// Matches the whole phase may find (see [`phase_matches`]).
    /// Past them a worker stops the phase as an explosion.
    phase_matches: usize,
    made: AtomicUsize,
    /// Per pool thread (by `rayon::current_thread_index`), its buffers.
    scratch: Vec<Mutex<Scratch<L>>>,
    /// Per pool thread, the classes its seeds made dirty, drained by that
    /// thread once every seed is processed (see `Phase::run`). Apart from
    /// `scratch`, and locked only to append or take: a thread may take
    /// its own while a job of its holds its buffers.
    later: Vec<Mutex<Vec<Id>>>,
}

/// The id capacity of a phase was used up.
struct Full;

/// An old class's parents grouped by their operator bit: those with bit
/// `b` are `ids[offsets[b]..offsets[b + 1]]`.
struct ParentIndex {
    offsets: [u32; 65],
    ids: Vec<Id>,
}

/// Old classes with at least this many parents have their parents indexed
/// by operator when an ancestor search needs only some operators (a
/// constant's class has thousands of parents, and each union into it
/// would walk them all).
const INDEXED_PARENTS: usize = 64;

/// What a task changed, for [`Phase::mark_changed`], and what it hands
/// to the join (gathered per task so workers meet at a lock once per task,
/// not once per union or match).
#[derive(Default)]
struct Changed {
    /// Classes merged away (for the join).
    merged: Vec<Id>,
    /// Roots whose rules wait for the join.
    deferred: Vec<Id>,
    /// Roots where a rule with a non-local condition matched.
    nonlocal: Vec<Id>,
    /// Matches found.
    matches: usize,
    /// Roots that gained nodes, with the gained operators' summary.
    grown: Vec<(Id, u64)>,
    /// Nodes whose canonical form changed (a child was merged).
    recanonicalized: Vec<Id>,
    /// The operators their merged children gained (the roots' nodes).
    recanonicalized_ops: u64,
}

impl Changed {
    /// Hands root `r` (whose task is running) to the next phase, once.
    fn defer(&mut self, r: Id) {
        if self.deferred.last() != Some(&r) {
            self.deferred.push(r);
        }
    }
}

/// A worker's reusable buffers: one per pool thread, so a task allocates
/// nothing that the previous task on that thread already had.
struct Scratch<L: Language> {
    changed: Changed,
    /// Tasks and matches not yet added to the phase's counters.
    tasks: usize,
    matches: usize,
    /// Matches of the current task, per rule; `spare` keeps the emptied
    /// vectors for the next task.
    found: Vec<(usize, Vec<crate::Subst>)>,
    spare: Vec<Vec<crate::Subst>>,
    /// The rules to run at the current root.
    rule_ids: Vec<usize>,
    actions: Actions<L>,
    resolved: Vec<Id>,
    pairs: Vec<(Id, Id)>,
    seen: Seen,
    frontier: Vec<Id>,
    next: Vec<Id>,
    classes: Vec<Id>,
}

impl<L: Language> Default for Scratch<L> {
    fn default() -> Self {
        Scratch {
            changed: Changed::default(),
            tasks: 0,
            matches: 0,
            found: vec![],
            spare: vec![],
            rule_ids: vec![],
            actions: Actions::default(),
            resolved: vec![],
            pairs: vec![],
            seen: Seen::default(),
            frontier: vec![],
            next: vec![],
            classes: vec![],
        }
    }
}

/// The classes one breadth-first search has visited: a stamp per id (the
/// search's number), so clearing is one increment and a visit one load;
/// searches up the parent lists of shared leaves visit thousands.
#[derive(Default)]
struct Seen {
    stamp: Vec<u32>,
    now: u32,
}

impl Seen {
    fn clear(&mut self) {
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamp.fill(0);
            self.now = 1;
        }
    }

    /// True when `id` was not visited yet in this search.
    #[inline]
    fn insert(&mut self, id: Id) -> bool {
        let i = id.index();
        if i >= self.stamp.len() {
            self.stamp.resize((i + 1).next_power_of_two(), 0);
        }
        let fresh = self.stamp[i] != self.now;
        self.stamp[i] = self.now;
        fresh
    }
}

/// The buffers of one breadth-first search up the parent lists.
struct Bfs<'a> {
    seen: &'a mut Seen,
    frontier: &'a mut Vec<Id>,
    next: &'a mut Vec<Id>,
}

impl<L: Language> Scratch<L> {
    fn bfs(&mut self) -> (Bfs<'_>, &mut Changed, &mut Vec<Id>) {
        (
            Bfs {
                seen: &mut self.seen,
                frontier: &mut self.frontier,
                next: &mut self.next,
            },
            &mut self.changed,
            &mut self.classes,
        )
    }
}

/// Seeds per piece a worker takes (amortizes the piece's scratch lookup;
/// the last piece may be smaller).
const BATCH: usize = 8;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'g, L: Language, N: Analysis<L>> Phase<'g, L, N> {
    fn new(
        eg: &'g EGraph<L, N>,
        index: &'g RuleIndex<'g, L, N>,
        cfg: &AsyncConfig,
        room: usize,
        threads: usize,
    ) -> Self {
        let base = eg.number_of_ids();
        let capacity = base + eg.union_find().spare();
        let new_nodes = AppendOnlyVec::new();
        new_nodes.reserve(capacity - base);
        Phase {
            eg,
            index,
            base,
            new_nodes,
            deltas: (0..SHARDS).map(|_| Mutex::default()).collect(),
            has_members: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            has_parents: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            versions: (0..capacity)
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            views: (0..SHARDS).map(|_| Mutex::default()).collect(),
            parent_index: (0..SHARDS).map(|_| Mutex::default()).collect(),
            dirty: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            pending: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            ops: (0..capacity)
                .map(|i| AtomicU64::new(eg.class(Id::from(i)).map_or(0, |c| c.ops)))
                .collect(),
            merged: Mutex::default(),
            deferred: Mutex::default(),
            nonlocal: Mutex::default(),
            stop: AtomicUsize::new(0),
            limit: Mutex::new(None),
            limits: cfg.limits.clone(),
            tasks: AtomicUsize::new(0),
            matches: AtomicUsize::new(0),
            room,
            made: AtomicUsize::new(0),
            match_budget: match_budget(cfg.limits.most_nodes::<L, N>()),
            phase_matches: phase_matches(room),
            scratch: (0..threads.max(1)).map(|_| Mutex::default()).collect(),
            later: (0..threads.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    /// Ends the phase: returns its new nodes and frees the rest [on the
    /// pool](free_on) when there is one.
    fn dispose(self, pool: Option<&rayon::ThreadPool>) -> AppendOnlyVec<L> {
        let Phase {
            new_nodes,
            deltas,
            views,
            parent_index,
            scratch,
            later,
            has_members,
            has_parents,
            versions,
            dirty,
            pending,
            ops,
            ..
        } = self;
        let rest = (deltas, views, parent_index, scratch, later);
        let tables = (has_members, has_parents, versions, dirty, pending, ops);
        free_on(pool, (rest, tables));
        new_nodes
    }

    #[inline]
    fn find(&self, id: Id) -> Id {
        self.eg.union_find().find(id)
    }

    #[inline]
    fn is_root(&self, id: Id) -> bool {
        self.eg.union_find().parent(id) == id
    }

    fn shard(&self, id: Id) -> &Mutex<FxHashMap<Id, Delta>> {
        &self.deltas[shard_of(id)]
    }

    /// The node id `id` was made for.
    fn node(&self, id: Id) -> &L {
        if id.index() < self.base {
            self.eg.id_to_node(id)
        } else {
            &self.new_nodes[id.index() - self.base]
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) != 0
    }

    /// Records a limit and stops the phase.
    fn hit(&self, reason: StopReason) {
        let mut l = lock(&self.limit);
        if l.is_none() {
            *l = Some(reason);
        }
        self.stop.fetch_or(STOP_LIMIT, Ordering::Relaxed);
    }

    /// Checks the limits (see [`Limits::check`]), recording the first one
    /// reached; true once the phase is stopped, by this or anything else.
    fn check_limits(&self) -> bool {
        if let Err(reason) = self.limits.check(self.eg, true) {
            self.hit(reason);
        }
        self.stopped()
    }

    /// Queues `id` unless it is queued already.
    #[inline]
    fn mark(&self, id: Id, out: &mut Vec<Id>) {
        if !self.dirty[id.index()].swap(true, Ordering::AcqRel) {
            out.push(id);
        }
    }

    /// The root of `id` (found again if a union makes the class found
    /// first a member while this runs), the old classes merged into it
    /// (with the root itself if old), the new ids merged into it (with the
    /// root if new), and its new parents.
    ///
    /// The delta is read under its shard's lock, and a union links the
    /// merged class and moves its delta under the same lock
    /// ([`Phase::union_roots`]): so a class still a root under the lock has
    /// its whole delta there. A class found a root before the lock but
    /// merged before it was taken has had its delta moved to its new root;
    /// reading it without the check would see only the class's own nodes
    /// and lose its members' (whose pending rules the caller may already
    /// have taken).
    #[allow(clippy::type_complexity)]
    fn members(&self, id: Id, with_parents: bool) -> (Id, Vec<Id>, Vec<Id>, Vec<Id>) {
        loop {
            let r = self.find(id);
            let (mut olds, mut news, mut parents) = (vec![], vec![], vec![]);
            if r.index() < self.base {
                olds.push(r);
            } else {
                news.push(r);
            }
            if self.has_members[r.index()].load(Ordering::Acquire) || with_parents {
                let shard = lock(self.shard(r));
                if !self.is_root(r) {
                    continue;
                }
                if let Some(d) = shard.get(&r) {
                    olds.extend_from_slice(&d.olds);
                    news.extend_from_slice(&d.news);
                    if with_parents {
                        parents.extend_from_slice(&d.parents);
                    }
                }
            }
            return (r, olds, news, parents);
        }
    }

    /// Adds `rules` (a [`rule_bit`] set) to the pending rules of `id`'s
    /// root and queues the root. Only the rules rooted at an operator of
    /// the root's summary are added (the others have no match there; a
    /// class merged in later brings its own pending rules, and a union
    /// widens the root's summary before linking the merged class, so a
    /// root found through the link is filtered by the widened summary);
    /// nothing when none is left.
    #[inline]
    fn mark_rules(&self, id: Id, rules: u64, out: &mut Vec<Id>) {
        if rules == 0 {
            return;
        }
        let mut r = self.find(id);
        loop {
            let ops = self.ops[r.index()].load(Ordering::Acquire);
            let bits = rules & self.index.rooted_in(ops);
            if bits != 0 {
                // Set, then check the class is still a root: a union that
                // made it a member moves its pending rules to the root
                // after linking it (`union_roots`), so either that move
                // sees these bits or this check sees the link and sets
                // them again there.
                self.pending[r.index()].fetch_or(bits, Ordering::AcqRel);
            }
            let now = self.find(r);
            if now == r {
                if bits == 0 {
                    return;
                }
                break;
            }
            r = now;
        }
        self.mark(r, out);
    }

    /// Breadth-first search up the parent lists from `starts`: a class
    /// first reached `k` parent steps up gets `rules(k)` pending (a class
    /// is visited once, at its shortest distance, so `rules(k)` must cover
    /// every longer one too). Starts are at distance 0 when `with_starts`;
    /// otherwise they are not marked, and a start reached again through
    /// a cycle counts at that distance. Stops past `levels`.
    fn mark_ancestors(
        &self,
        starts: &[Id],
        with_starts: bool,
        levels: usize,
        rules: impl Fn(usize) -> u64,
        out: &mut Vec<Id>,
        sc: &mut Bfs,
    ) {
        // Not past the last level with rules to mark.
        let Some(levels) = (0..=levels).rev().find(|&k| rules(k) != 0) else {
            return;
        };
        let Bfs {
            seen,
            frontier,
            next,
        } = sc;
        seen.clear();
        frontier.clear();
        let r0 = if with_starts { rules(0) } else { 0 };
        for &s in starts {
            let r = self.find(s);
            if !with_starts {
                frontier.push(r);
            } else if seen.insert(r) {
                self.mark_rules(r, r0, out);
                frontier.push(r);
            }
        }
        for k in 1..=levels {
            let bits = rules(k);
            next.clear();
            // On the last level only parents rooted at a root operator of
            // these rules can match anew through the class below.
            let roots = if k == levels {
                self.index.roots_of(bits)
            } else {
                u64::MAX
            };
            for &c in frontier.iter() {
                self.for_each_parent_class_with(c, roots, |pc| {
                    if seen.insert(pc) {
                        self.mark_rules(pc, bits, out);
                        next.push(pc);
                    }
                });
            }
            if next.is_empty() {
                break;
            }
            std::mem::swap(frontier, next);
        }
    }

    /// Adds a node (children are existing ids); returns its class.
    fn add(
        &self,
        node: L,
        out: &mut Vec<Id>,
        changed: &mut Changed,
        stack: &mut Vec<(Id, Id)>,
    ) -> Result<Id, Full> {
        let node = node.map_children(|c| self.find(c));
        let uf = self.eg.union_find();
        let made = self.eg.memo().get_or_insert_with(node, |n| {
            if self.made.fetch_add(1, Ordering::Relaxed) >= self.room {
                return None;
            }
            let id = uf.make_set()?;
            self.new_nodes.init_at(id.index() - self.base, n.clone());
            self.ops[id.index()].store(op_bit(n), Ordering::Relaxed);
            Some(id)
        });
        match made {
            None => Err(Full),
            Some((id, false)) => Ok(self.find(id)),
            Some((id, true)) => {
                let node = &self.new_nodes[id.index() - self.base];
                let mut stale = false;
                for (k, &c) in node.children().iter().enumerate() {
                    if node.children()[..k].contains(&c) {
                        continue;
                    }
                    stale |= self.register_parent(c, id);
                }
                if stale {
                    // A child was merged before this node was listed as
                    // its parent; that union's repair missed it.
                    stack.clear();
                    stack.extend(self.repair(id));
                    self.union_all(stack, changed);
                }
                // Every match rooted at the new node is new.
                let bits = self.index.root_rules[op_bit(node).trailing_zeros() as usize];
                self.mark_rules(id, bits, out);
                Ok(self.find(id))
            }
        }
    }

    /// Lists `x` as a parent of `c`'s class; true when `c` is no longer
    /// canonical.
    fn register_parent(&self, c: Id, x: Id) -> bool {
        loop {
            let r = self.find(c);
            let mut shard = lock(self.shard(r));
            if !self.is_root(r) {
                continue;
            }
            shard.entry(r).or_default().parents.push(x);
            // Set under the shard lock: a reader that sees it false and then
            // takes no lock missed only a parent listed after it looked,
            // whose own add queues the ancestors it may affect.
            self.has_parents[r.index()].store(true, Ordering::Release);
            return r != c;
        }
    }

    /// Re-inserts node `p` in canonical form; returns a union that
    /// congruence asks for, if any.
    fn repair(&self, p: Id) -> Option<(Id, Id)> {
        let canon = self.node(p).clone().map_children(|c| self.find(c));
        match self.eg.memo().insert_or_get(canon, p) {
            Some(q) if self.find(q) != self.find(p) => Some((p, q)),
            _ => None,
        }
    }

    /// Unions each pair and everything congruence then asks for; records
    /// what changed in `changed`.
    fn union_all(&self, stack: &mut Vec<(Id, Id)>, changed: &mut Changed) {
        while let Some((a, b)) = stack.pop() {
            if let Some((root, other, parents, gained, kept)) = self.union_roots(a, b) {
                changed.merged.push(other);
                changed.grown.push((root, gained));
                // The merged class's parents now see the root's nodes.
                changed.recanonicalized_ops |= kept;
                for p in parents {
                    changed.recanonicalized.push(p);
                    if let Some(pair) = self.repair(p) {
                        stack.push(pair);
                    }
                }
            }
        }
    }

    /// Queues what a task's unions may have made matchable, with the rules
    /// that may match anew (see [`RuleIndex`]): each root that gained
    /// nodes has the merged class's pending rules (moved by the union);
    /// its ancestors `k` steps up, the rules with one of the gained
    /// operators `k` or more deep. The classes of the nodes whose canonical
    /// form changed (their child was merged: it gained the root's nodes,
    /// and a repeated variable or an equality condition may hold now), and
    /// their ancestors, get the rules with such an operator one level
    /// deeper and the rules that compare classes.
    fn mark_changed(&self, sc: &mut Scratch<L>, out: &mut Vec<Id>) {
        let (mut bfs, changed, classes) = sc.bfs();
        if changed.recanonicalized.is_empty() && changed.grown.is_empty() {
            return;
        }
        let index = self.index;
        changed.recanonicalized.sort_unstable();
        changed.recanonicalized.dedup();
        classes.clear();
        classes.extend(changed.recanonicalized.iter().map(|&p| self.find(p)));
        let ops = std::mem::take(&mut changed.recanonicalized_ops);
        self.mark_ancestors(
            classes,
            true,
            index.depth,
            |k| index.comparing_at(k) | index.deep_rules(k + 1, ops),
            out,
            &mut bfs,
        );
        // One entry per root, operators merged.
        for g in changed.grown.iter_mut() {
            g.0 = self.find(g.0);
        }
        changed.grown.sort_unstable();
        let mut by_root: Vec<(Id, u64)> = Vec::with_capacity(changed.grown.len());
        for &(r, ops) in &changed.grown {
            match by_root.last_mut() {
                Some(last) if last.0 == r => last.1 |= ops,
                _ => by_root.push((r, ops)),
            }
        }
        for (r, ops) in by_root {
            // The merged class's pending rules moved to the root (its
            // nodes were searched where they were, or are pending there).
            let r = self.find(r);
            if self.pending[r.index()].load(Ordering::Acquire) != 0 {
                self.mark(r, out);
            }
            let depth_ops = &index.depth_ops;
            let Some(levels) = (1..depth_ops.len())
                .rev()
                .find(|&k| depth_ops[k] & ops != 0)
            else {
                continue;
            };
            // The root itself only if a cycle leads back to it: its own
            // nodes were searched where they were (or are pending).
            self.mark_ancestors(
                &[r],
                false,
                levels,
                |k| index.deep_rules(k, ops),
                out,
                &mut bfs,
            );
        }
        changed.grown.clear();
        changed.recanonicalized.clear();
    }

    /// Calls `f` with the class of every parent of root `c` whose
    /// operator bit is in `ops` (and maybe others; repeats possible;
    /// `u64::MAX`: every parent).
    fn for_each_parent_class_with(&self, c: Id, ops: u64, mut f: impl FnMut(Id)) {
        let r = self.find(c);
        let mut visit_old = |o: Id| {
            let Some(cl) = self.eg.class(o) else { return };
            // Every operator wanted, or too few parents to pay for an
            // index: walk them all.
            if ops == u64::MAX || cl.parents().len() < INDEXED_PARENTS {
                for p in cl.parents() {
                    f(self.find(*p));
                }
                return;
            }
            let index = self.parent_index_of(o, cl.parents());
            let mut bits = ops;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (from, to) = (index.offsets[b] as usize, index.offsets[b + 1] as usize);
                for p in &index.ids[from..to] {
                    f(self.find(*p));
                }
            }
        };
        if !self.has_members[r.index()].load(Ordering::Acquire)
            && !self.has_parents[r.index()].load(Ordering::Acquire)
        {
            // Nothing merged into it and no new parent: its parents as of
            // the last join (no lock, no copy).
            if r.index() < self.base {
                visit_old(r);
            }
            return;
        }
        let (_, olds, _, news_parents) = self.members(r, true);
        for &o in &olds {
            visit_old(o);
        }
        for p in &news_parents {
            f(self.find(*p));
        }
    }

    /// The parents of old class `o` (`parents`) grouped by operator bit.
    fn parent_index_of(&self, o: Id, parents: &[Id]) -> Arc<ParentIndex> {
        let shard = &self.parent_index[shard_of(o)];
        if let Some(index) = lock(shard).get(&o) {
            return index.clone();
        }
        let mut keyed: Vec<(u32, Id)> = parents
            .iter()
            .map(|&p| (op_bit(self.eg.id_to_node(p)).trailing_zeros(), p))
            .collect();
        keyed.sort_unstable();
        let mut offsets = [0u32; 65];
        for &(b, _) in &keyed {
            offsets[b as usize + 1] += 1;
        }
        for b in 0..64 {
            offsets[b + 1] += offsets[b];
        }
        let index = Arc::new(ParentIndex {
            offsets,
            ids: keyed.into_iter().map(|(_, p)| p).collect(),
        });
        lock(shard).insert(o, index.clone());
        index
    }

    /// Merges the classes of `a` and `b` in the union-find and the delta
    /// table; returns the root, the merged class, the parents to repair
    /// (the merged class's: their canonical form changed), the operator
    /// summary of the nodes the root gained and that of the nodes it had,
    /// or `None` when they were one class. The merged class's pending rules
    /// move to the root.
    #[allow(clippy::type_complexity)]
    fn union_roots(&self, a: Id, b: Id) -> Option<(Id, Id, Vec<Id>, u64, u64)> {
        loop {
            let (ra, rb) = (self.find(a), self.find(b));
            if ra == rb {
                return None;
            }
            let (root, other) = if ra < rb { (ra, rb) } else { (rb, ra) };
            let (i, j) = (shard_of(root), shard_of(other));
            // Two shard locks, always in index order.
            let (mut gi, mut gj) = if i == j {
                (lock(&self.deltas[i]), None)
            } else if i < j {
                let gi = lock(&self.deltas[i]);
                (gi, Some(lock(&self.deltas[j])))
            } else {
                let gj = lock(&self.deltas[j]);
                (lock(&self.deltas[i]), Some(gj))
            };
            if !self.is_root(root) || !self.is_root(other) {
                continue;
            }
            // The root's summary grows before the link (see `mark_rules`).
            let gained = self.ops[other.index()].load(Ordering::Acquire);
            let kept = self.ops[root.index()].fetch_or(gained, Ordering::AcqRel);
            let d_other = match gj.as_mut() {
                Some(g) => g.remove(&other),
                None => gi.remove(&other),
            }
            .unwrap_or_default();
            let mut parents: Vec<Id> = d_other.parents.clone();
            let old_members = d_other
                .olds
                .iter()
                .copied()
                .chain((other.index() < self.base).then_some(other));
            for o in old_members {
                if let Some(c) = self.eg.class(o) {
                    parents.extend_from_slice(c.parents());
                }
            }
            let d_root = gi.entry(root).or_default();
            if other.index() < self.base {
                d_root.olds.push(other);
            } else {
                d_root.news.push(other);
            }
            d_root.olds.extend(d_other.olds);
            d_root.news.extend(d_other.news);
            d_root.parents.extend(d_other.parents);
            self.versions[root.index()].fetch_add(1, Ordering::AcqRel);
            self.has_members[root.index()].store(true, Ordering::Release);
            self.has_parents[root.index()].store(true, Ordering::Release);
            // Readers that reach the root through the link read its view
            // without the shard lock when `has_members` is false, or from
            // the cache when the version is current: both are set, and the
            // merged class's delta moved, before the link, so whoever sees
            // the link (its `find` acquires it) sees the root's members.
            let merged = self.eg.union_find().union(root, other);
            debug_assert!(merged, "both were roots under their locks");
            // The repairs after this read the union-find. Two workers that
            // merge the two children of one node and then both repair it
            // form a store-buffering pattern: without a full fence each
            // could read the other's child as not merged yet, and neither
            // would insert the node's final canonical form.
            std::sync::atomic::fence(Ordering::SeqCst);
            // What `other` had not searched yet is the root's to search,
            // moved after the link (see `mark_rules` for the other side of
            // this hand-over).
            let moved = self.pending[other.index()].swap(0, Ordering::AcqRel);
            if moved != 0 {
                self.pending[root.index()].fetch_or(moved, Ordering::AcqRel);
            }
            drop(gj);
            drop(gi);
            return Some((root, other, parents, gained, kept));
        }
    }

    /// Runs every rule at dirty class `r`; queues what changes: the
    /// classes it merged and their ancestors within the pattern depth, in
    /// one search at the end (a class typically merges many times in one
    /// task: each match unions into it).
    fn process(&self, r: Id, out: &mut Vec<Id>, sc: &mut Scratch<L>) {
        if self.stopped() {
            return; // the phase is rolled back, or the run ends
        }
        // A read-modify-write, like the marker's `swap`: whichever comes
        // second in the flag's order reads the first and synchronizes with
        // it, so a change made before a mark that saw `true` is visible here.
        self.dirty[r.index()].swap(false, Ordering::AcqRel);
        if !self.is_root(r) {
            return; // merged: its pending rules moved to its root
        }
        // Taken after the flag is cleared: rules added after this are
        // queued again.
        let rules = self.pending[r.index()].swap(0, Ordering::AcqRel);
        if rules == 0 {
            return; // already searched by a task that took them
        }
        // Limits are checked every few tasks (and every 256 matches while
        // applying): a clock read per task would cost more than most tasks.
        if sc.tasks.is_multiple_of(8) && self.check_limits() {
            return;
        }
        sc.tasks += 1;
        self.apply_rules(r, rules, out, sc);
        self.mark_changed(sc, out);
        // Merged, deferred and non-local lists stay in the worker's
        // buffers until the phase ends (see `Phase::hand_over`).
        sc.matches += std::mem::take(&mut sc.changed.matches);
        if sc.matches >= MATCHES_FLUSH {
            let n = std::mem::take(&mut sc.matches);
            if self.matches.fetch_add(n, Ordering::Relaxed) + n > self.phase_matches {
                // An explosion: stopped and rolled back, like one that
                // passes its search budget (see `run_on`).
                self.stop.fetch_or(STOP_CUT, Ordering::Relaxed);
            }
        }
    }

    /// Moves a worker's merged, deferred and non-local lists to the
    /// phase's (for buffers that do not outlive their task).
    fn hand_over(&self, changed: &mut Changed) {
        if !changed.merged.is_empty() {
            lock(&self.merged).append(&mut changed.merged);
        }
        if !changed.deferred.is_empty() {
            lock(&self.deferred).append(&mut changed.deferred);
        }
        if !changed.nonlocal.is_empty() {
            lock(&self.nonlocal).append(&mut changed.nonlocal);
        }
    }

    /// After the phase: every worker's lists, gathered.
    fn gather(&self) -> (Vec<Id>, Vec<Id>, Vec<Id>) {
        for sc in &self.scratch {
            self.hand_over(&mut lock(sc).changed);
        }
        (
            std::mem::take(&mut *lock(&self.merged)),
            std::mem::take(&mut *lock(&self.deferred)),
            std::mem::take(&mut *lock(&self.nonlocal)),
        )
    }

    /// Matches the rules of `rules` (a [`rule_bit`] set) rooted at `r`'s
    /// operators at `r`, then applies the matches (so one task is one step
    /// at `r`: what its own unions add is matched when `r` is processed
    /// again, not by the rules after them in the same task). Returns early
    /// when the phase stops.
    fn apply_rules(&self, r: Id, rules: u64, out: &mut Vec<Id>, sc: &mut Scratch<L>) {
        // Emptied match vectors of the last task, for reuse.
        for (_, mut v) in sc.found.drain(..) {
            v.clear();
            sc.spare.push(v);
        }
        // The pending rules rooted at an operator of the root's summary
        // (a superset of its operators' rules: bits are shared), in rule
        // order. The nodes are not read unless some rule runs.
        let ops = self.ops[r.index()].load(Ordering::Acquire);
        let selected = rules & self.index.rooted_in(ops);
        if selected == 0 {
            return;
        }
        let n_rules = self.index.rules.len();
        let ks = &mut sc.rule_ids;
        ks.clear();
        let mut bits = selected;
        while bits != 0 {
            let mut k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            while k < n_rules {
                ks.push(k);
                k += 64;
            }
        }
        if n_rules > 64 {
            ks.sort_unstable();
        }
        let Some(root_nodes) = self.class_nodes(r) else {
            return;
        };
        let view = TaskView {
            phase: self,
            root: r,
            root_nodes,
        };
        // Polled inside the search too: one class's search can take
        // seconds (see `Polled`).
        let halt = || self.check_limits();
        for &k in sc.rule_ids.iter() {
            let rule = &self.index.rules[k];
            let mut polled = Polled::new(sc.spare.pop().unwrap_or_default(), &halt);
            rule.searcher.search_source_into(&view, r, &mut polled);
            let stopped = polled.stopped();
            let substs = polled.inner;
            if stopped {
                // The limit is recorded; the phase stops.
                return;
            }
            if substs.len() > self.match_budget {
                // An explosion: the phase stops here and is rolled back
                // (see `run_on`).
                self.stop.fetch_or(STOP_CUT, Ordering::Relaxed);
                return;
            }
            if !substs.is_empty() {
                sc.changed.matches += substs.len();
                sc.found.push((k, substs));
            } else {
                sc.spare.push(substs);
            }
            if self.stopped() {
                return;
            }
        }
        let base = self.base;
        let mut since_check = 0u32;
        let Scratch {
            changed,
            found,
            actions,
            resolved,
            pairs,
            ..
        } = sc;
        for (k, substs) in found.iter() {
            let k = *k;
            let rule = &self.index.rules[k];
            let syntactic = rule.conditions.is_empty() && rule.applier.pattern().is_some();
            if !rule.conditions_are_local() || !rule.is_local() {
                changed.nonlocal.push(r);
            }
            for s in substs {
                since_check += 1;
                if since_check >= 256 {
                    since_check = 0;
                    if self.check_limits() {
                        return;
                    }
                } else if self.stopped() {
                    return;
                }
                if !syntactic
                    && (r.index() >= base || s.iter().any(|(_, id)| self.find(id).index() >= base))
                {
                    // Needs analysis data of a class made in this phase.
                    changed.defer(r);
                    continue;
                }
                actions.clear();
                rule.stage(self.eg, r, s, actions);
                if self.commit(actions, out, changed, resolved, pairs).is_err() {
                    self.stop.fetch_or(STOP_FULL, Ordering::Relaxed);
                    return;
                }
            }
        }
    }

    /// Adds the staged nodes and performs the staged unions.
    fn commit(
        &self,
        actions: &Actions<L>,
        out: &mut Vec<Id>,
        changed: &mut Changed,
        resolved: &mut Vec<Id>,
        pairs: &mut Vec<(Id, Id)>,
    ) -> Result<(), Full> {
        resolved.clear();
        let resolve = |resolved: &[Id], r: Ref| match r.pending_index() {
            Some(i) => resolved[i],
            None => Id(r.as_class().expect("a class ref").0),
        };
        for n in &actions.nodes {
            let n = n
                .clone()
                .map_children(|c| resolve(resolved, Ref::from_raw(c.0)));
            let id = self.add(n, out, changed, pairs)?;
            resolved.push(id);
        }
        pairs.clear();
        pairs.extend(
            actions
                .unions
                .iter()
                .map(|&(a, b)| (resolve(resolved, a), resolve(resolved, b))),
        );
        self.union_all(pairs, changed);
        Ok(())
    }

    /// Adds a worker's task and match counts to the phase's.
    fn flush_counts(&self, sc: &mut Scratch<L>) {
        self.tasks
            .fetch_add(std::mem::take(&mut sc.tasks), Ordering::Relaxed);
        self.matches
            .fetch_add(std::mem::take(&mut sc.matches), Ordering::Relaxed);
    }

    /// Runs the phase from `seeds` and the ancestors (within the pattern
    /// depth) of `around`, until no class is dirty or it stops.
    fn run(&self, seeds: &[Id], around: &[Id], reread: &[Id], pool: Option<&rayon::ThreadPool>) {
        let mut initial = vec![];
        for &s in seeds {
            self.mark_rules(s, u64::MAX, &mut initial);
        }
        let mut scratch = lock(&self.scratch[0]);
        self.mark_ancestors(
            around,
            true,
            self.index.depth,
            |_| u64::MAX,
            &mut initial,
            &mut scratch.bfs().0,
        );
        let reads = self.index.reads_classes;
        self.mark_ancestors(
            reread,
            true,
            self.index.depth,
            |_| reads,
            &mut initial,
            &mut scratch.bfs().0,
        );
        drop(scratch);
        match pool {
            None => {
                let mut queue: VecDeque<Id> = initial.into();
                let mut out = vec![];
                let mut sc = lock(&self.scratch[0]);
                while let Some(x) = queue.pop_front() {
                    self.process(x, &mut out, &mut sc);
                    queue.extend(out.drain(..));
                }
                self.flush_counts(&mut sc);
            }
            // Breadth-first as on one thread, but each worker keeps what
            // it makes dirty: the seeds are split into contiguous ranges
            // (rayon's adaptive splitting); what a worker's seeds make
            // dirty waits in its buffers until every seed is processed (so
            // a class is not searched before the seeds below it have
            // changed it), and is then drained by that worker (see
            // `drain`).
            Some(pool) => pool.in_place_scope_fifo(|s| {
                use rayon::prelude::*;
                initial.par_chunks(BATCH).for_each(|xs| {
                    let mut out = vec![];
                    with_scratch(self, |sc| {
                        for &x in xs {
                            self.process(x, &mut out, sc);
                        }
                    });
                    if !out.is_empty() {
                        let k = rayon::current_thread_index().unwrap_or(0) % self.later.len();
                        lock(&self.later[k]).append(&mut out);
                    }
                });
                s.spawn_broadcast(move |s, ctx| {
                    let k = ctx.index() % self.later.len();
                    let later = std::mem::take(&mut *lock(&self.later[k]));
                    if !later.is_empty() {
                        drain(self, s, later.into());
                    }
                });
            }),
        }
    }
}

/// The matches a phase with room for `room` ids may find: past them it is
/// taken for an explosion, stopped and rolled back like one that fills its
/// room (see the module docs): 4 per id of room, at least
/// [`LEAST_PHASE_MATCHES`].
///
/// Measured with `SATURN_ASYNC_TRACE=1` (each phase's matches and room),
/// phases that run dry stay far below it: over the 2,885 phases of
/// `saturn opt --scheduler async` on `clif-wasm` (2,022 functions), the
/// most matches were 8,728 (in a room of 6,228: 1.4 per id), and the
/// highest ratio 8.2 per id (4,716 matches in a room of 572, under the
/// floor: small rooms see the largest ratios, hence the floor); on the
/// scheduler benchmark, 0.25-0.34 per id (`cancel`, `peephole`).
/// Explosions, rules like associativity re-deriving what is there, go on
/// to 40-90 per id of room. The runner's bound for one round (16 per id,
/// at least 2^16) was the bound here too: each of the 12 functions of the
/// corpus whose second phase exploded then spent 60-150 ms on
/// 85,000-150,000 matches before its phase was undone, 1 s of the
/// corpus's 2.9 s, against 6-25 ms for the same function in `bsp` rounds.
/// Whether a phase passes the budget, like whether it fills its room, can
/// depend on timing when it runs on several threads; a phase that would
/// run dry near the budget is the caveat the module docs describe.
fn phase_matches(room: usize) -> usize {
    room.saturating_mul(PHASE_MATCHES_PER_ROOM)
        .max(LEAST_PHASE_MATCHES)
}

/// Matches per id of room a phase may find (see [`phase_matches`]).
const PHASE_MATCHES_PER_ROOM: usize = 4;

/// The fewest matches any phase may find (see [`phase_matches`]): 1.7x
/// the most that a dry phase in a small room found on `clif-wasm`.
const LEAST_PHASE_MATCHES: usize = 1 << 13;

/// A worker adds its match count to the phase's, and checks the phase's
/// bound, once it has this many.
const MATCHES_FLUSH: usize = 1024;

/// How many matches one search at one class may return (twice the node
/// limit, at least 16,384; the memory limit counts as a node limit of one
/// id and one hashcons entry per node): a search that big (commutativity and
/// associativity over a class of hundreds of nodes) would take more memory
/// than the e-graph it is bounded by, and applying it could pass the node
/// limit twice over (most of its matches re-derive what is there: a larger
/// budget mostly re-finds them, phase after phase). `bsp` rounds meet the
/// node limit before classes grow that big; an `async` phase can grow a
/// class further between two checks. A search that passes the budget
/// stops its phase, which is rolled back like one that passes the node
/// limit (see the module docs).
fn match_budget(node_limit: usize) -> usize {
    node_limit.saturating_mul(2).max(1 << 14)
}

/// Rule `k`'s bit in a set of rules: rules share a bit when there are
/// more than 64 (a set then stands for a superset of its rules).
#[inline]
fn rule_bit(k: usize) -> u64 {
    1 << (k % 64)
}

/// What a run needs to know about its rules, computed once.
///
/// # Which rules may match anew
/// A root is queued with the rules that may have a match there that no
/// search found yet; the others are not searched again. A match that is
/// new binds a node that is new to its class (made or merged in) at some
/// depth of its pattern, or holds a comparison (a repeated variable, a
/// condition) that two classes merging made true. So when class `c`
/// gains nodes with operators `G`, an ancestor `k` parent steps above `c`
/// may match anew only under rules with an operator of `G` at depth `k`
/// ([`RuleIndex::deep_rules`]), or, for a merge, under rules that compare
/// classes ([`RuleIndex::comparing_at`]); a new node's class under the
/// rules rooted at its operator ([`RuleIndex::root_rules`]); and a class
/// merged into a root passes on the rules it had not searched yet. Rules
/// with a variable root, and rules whose applier is Rust code (it may read
/// anything), count as rooted at every operator and as comparing.
struct RuleIndex<'r, L: Language, N: Analysis<L>> {
    rules: &'r [Rewrite<L, N>],
    /// The deepest pattern's depth.
    depth: usize,
    /// See [`depth_ops`].
    depth_ops: Vec<u64>,
    /// Whether some rule has a variable root.
    var_rooted: bool,
    /// Per operator bit: the rules rooted at such an operator.
    root_rules: [u64; 64],
    /// The rules with a variable root (or a Rust applier).
    var_rules: u64,
    /// Per depth `k`, per operator bit: the rules with such an operator at
    /// depth `k` or deeper.
    deep: Vec<[u64; 64]>,
    /// Per depth `k`: the rules that compare classes and are deeper than
    /// `k`.
    comparing: Vec<u64>,
    /// Per rule bit: the root operators of its rules (all for a variable
    /// root or a Rust applier that is not local).
    rule_roots: [u64; 64],
    /// The rules whose conditions or applier may read what the matched
    /// classes hold ([`Rewrite::reads_classes`](crate::Rewrite)): during a
    /// phase they read the e-graph as of the last join, so after each
    /// join they run again around the classes the phase merged.
    reads_classes: u64,
}

impl<'r, L: Language, N: Analysis<L>> RuleIndex<'r, L, N> {
    fn new(rules: &'r [Rewrite<L, N>]) -> Self {
        let depth = rules.iter().map(|r| r.searcher.depth()).max().unwrap_or(0);
        let var_rooted = rules
            .iter()
            .any(|r| r.searcher.root_discriminant().is_none());
        let mut root_rules = [0u64; 64];
        let mut var_rules = 0u64;
        let mut deep = vec![[0u64; 64]; depth + 2];
        let mut comparing = vec![0u64; depth + 1];
        let mut rule_roots = [0u64; 64];
        let mut reads_classes = 0u64;
        for (k, r) in rules.iter().enumerate() {
            let bit = rule_bit(k);
            let ast = r.searcher.ast();
            let rust_applier = r.applier.pattern().is_none();
            // A Rust applier that is not local may read anything, so it
            // counts as rooted everywhere; a local one reads only the
            // matched classes, so it runs where its pattern is rooted.
            let anywhere = rust_applier && !r.applier.is_local();
            if r.reads_classes() {
                reads_classes |= bit;
            }
            if ast.last().is_some_and(|n| matches!(n, ENodeOrVar::Var(_))) || anywhere {
                root_rules.iter_mut().for_each(|m| *m |= bit);
                var_rules |= bit;
            }
            rule_roots[k % 64] |= match ast.last() {
                Some(ENodeOrVar::ENode(n)) if !anywhere => op_bit(n),
                _ => u64::MAX,
            };
            // Operators by depth (a pattern is a tree: each node once).
            let mut todo = vec![(ast.len() - 1, 0usize)];
            let mut vars = vec![];
            let mut repeated = false;
            while let Some((i, d)) = todo.pop() {
                match &ast[i] {
                    ENodeOrVar::ENode(n) => {
                        let b = op_bit(n).trailing_zeros() as usize;
                        if d == 0 {
                            root_rules[b] |= bit;
                        }
                        for level in deep.iter_mut().take(d + 1) {
                            level[b] |= bit;
                        }
                        todo.extend(n.children().iter().map(|c| (c.index(), d + 1)));
                    }
                    ENodeOrVar::Var(v) => {
                        repeated |= vars.contains(v);
                        vars.push(*v);
                    }
                }
            }
            if repeated || !r.conditions.is_empty() || rust_applier {
                let d = r.searcher.depth();
                for (k, c) in comparing.iter_mut().enumerate() {
                    if d > k || rust_applier {
                        *c |= bit;
                    }
                }
            }
        }
        RuleIndex {
            rules,
            depth,
            depth_ops: depth_ops(rules, depth),
            var_rooted,
            root_rules,
            var_rules,
            deep,
            comparing,
            rule_roots,
            reads_classes,
        }
    }

    /// The root operators of the rules of `rules` (a [`rule_bit`] set).
    #[inline]
    fn roots_of(&self, mut rules: u64) -> u64 {
        let mut out = 0;
        while rules != 0 {
            out |= self.rule_roots[rules.trailing_zeros() as usize];
            rules &= rules - 1;
        }
        out
    }

    /// The rules with an operator of `ops` at depth `k` or deeper.
    #[inline]
    fn deep_rules(&self, k: usize, mut ops: u64) -> u64 {
        let Some(level) = self.deep.get(k) else {
            return 0;
        };
        let mut out = 0;
        while ops != 0 {
            out |= level[ops.trailing_zeros() as usize];
            ops &= ops - 1;
        }
        out
    }

    /// The rules rooted at an operator of `ops` (and those with a variable
    /// root).
    #[inline]
    fn rooted_in(&self, mut ops: u64) -> u64 {
        let mut out = self.var_rules;
        while ops != 0 {
            out |= self.root_rules[ops.trailing_zeros() as usize];
            ops &= ops - 1;
        }
        out
    }

    /// The rules that compare classes and are deeper than `k`.
    #[inline]
    fn comparing_at(&self, k: usize) -> u64 {
        self.comparing.get(k).copied().unwrap_or(0)
    }
}

/// Per depth, the summary of the operators of all patterns' nodes there.
fn depth_ops<L: Language, N: Analysis<L>>(rules: &[Rewrite<L, N>], depth: usize) -> Vec<u64> {
    let mut out = vec![0u64; depth + 1];
    for r in rules {
        let ast = r.searcher.ast();
        let mut todo = vec![(ast.len() - 1, 0usize)];
        while let Some((i, d)) = todo.pop() {
            if let ENodeOrVar::ENode(n) = &ast[i] {
                if d < out.len() {
                    out[d] |= op_bit(n);
                }
                todo.extend(n.children().iter().map(|c| (c.index(), d + 1)));
            }
        }
    }
    out
}

/// Classes a worker queues for itself before it offers the newer half to
/// the others (see `drain`).
const OFFER_FROM: usize = 2 * BATCH;

/// Runs `f` with this pool thread's buffers, or with fresh ones whose
/// lists are then handed over to the phase; then adds the counts.
fn with_scratch<L: Language, N: Analysis<L>>(
    ph: &Phase<'_, L, N>,
    f: impl FnOnce(&mut Scratch<L>),
) {
    // Uncontended: only this pool thread takes this slot. (Should a
    // rule's code ever wait on rayon inside a task, this thread could
    // start another job while holding it: that one gets fresh buffers
    // instead of waiting for itself.)
    let k = rayon::current_thread_index().unwrap_or(0) % ph.scratch.len();
    let run = |sc: &mut Scratch<L>| {
        f(sc);
        ph.flush_counts(sc);
    };
    match ph.scratch[k].try_lock() {
        Ok(mut g) => run(&mut g),
        Err(std::sync::TryLockError::Poisoned(e)) => run(&mut e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => {
            let mut sc = Scratch::default();
            run(&mut sc);
            ph.hand_over(&mut sc.changed);
        }
    }
}

/// One worker's job: processes `queue` and everything its classes make
/// dirty, breadth-first, on this thread.
///
/// Classes made dirty by a class are its neighbours, whose nodes the
/// worker has just read and written: keeping them on the worker keeps
/// those cache lines on its core. (Spawning every batch instead, as this
/// did before, had each idle worker steal the batch the busy one would
/// have run next: two cores on the same terms, each re-reading what the
/// other had just written. On the `cancel` workload, 2,000 disjoint
/// terms, a phase then took as long on 2 threads as on 1.) A worker gives
/// work away only when it can: when its queue holds at least
/// [`OFFER_FROM`] classes and nothing of its own is waiting to be stolen,
/// it spawns the newer half of its queue as one job, which an idle worker
/// can take and split again the same way (lazy binary splitting).
fn drain<'s, L: Language, N: Analysis<L>>(
    ph: &'s Phase<'s, L, N>,
    s: &rayon::ScopeFifo<'s>,
    mut queue: VecDeque<Id>,
) {
    with_scratch(ph, |sc| {
        let mut out = vec![];
        while let Some(x) = queue.pop_front() {
            ph.process(x, &mut out, sc);
            queue.extend(out.drain(..));
            if queue.len() >= OFFER_FROM
                && rayon_core::current_thread_has_pending_tasks() == Some(false)
            {
                let newer = queue.split_off(queue.len() / 2);
                s.spawn_fifo(move |s| drain(ph, s, newer));
            }
        }
    });
}

/// A phase's view for one task: the root's nodes computed once.
struct TaskView<'p, 'g, L: Language, N: Analysis<L>> {
    phase: &'p Phase<'g, L, N>,
    root: Id,
    root_nodes: NodeList<'p, L>,
}

impl<L: Language, N: Analysis<L>> NodeSource<L> for TaskView<'_, '_, L, N> {
    fn class_nodes(&self, id: Id) -> Option<NodeList<'_, L>> {
        if id == self.root {
            Some(match &self.root_nodes {
                NodeList::Borrowed(s) => NodeList::Borrowed(s),
                NodeList::Shared(a) => NodeList::Shared(a.clone()),
            })
        } else {
            self.phase.class_nodes(id)
        }
    }

    #[inline]
    fn class_nodes_with(&self, id: Id, bit: u64) -> Option<NodeList<'_, L>> {
        if id == self.root {
            self.class_nodes(id)
        } else {
            self.phase.class_nodes_with(id, bit)
        }
    }

    #[inline]
    fn same_class(&self, a: Id, b: Id) -> bool {
        self.phase.same_class(a, b)
    }

    #[inline]
    fn match_budget(&self) -> usize {
        self.phase.match_budget()
    }
}

/// The live view of a class: as of the last join plus its delta. A class
/// that gained nothing is read in place (children may be stale ids: the
/// matcher compares classes with `find`); one that gained members is
/// assembled once per version (its union count) and cached.
impl<L: Language, N: Analysis<L>> NodeSource<L> for Phase<'_, L, N> {
    fn class_nodes(&self, id: Id) -> Option<NodeList<'_, L>> {
        let r = self.find(id);
        let has_members = self.has_members[r.index()].load(Ordering::Acquire);
        if !has_members {
            return if r.index() < self.base {
                self.eg
                    .class(r)
                    .map(|c| NodeList::Borrowed(c.nodes.as_slice()))
            } else {
                Some(NodeList::Borrowed(std::slice::from_ref(
                    &self.new_nodes[r.index() - self.base],
                )))
            };
        }
        let version = self.versions[r.index()].load(Ordering::Acquire);
        let shard = &self.views[shard_of(r)];
        if let Some((v, nodes)) = lock(shard).get(&r) {
            if *v == version {
                return Some(NodeList::Shared(nodes.clone()));
            }
        }
        let (root, olds, news, _) = self.members(r, false);
        if root != r {
            // Merged since `find` above: view the root it joined.
            return self.class_nodes(root);
        }
        let mut nodes: Vec<L> = vec![];
        for o in olds {
            if let Some(c) = self.eg.class(o) {
                nodes.extend(c.nodes.iter().cloned());
            }
        }
        for n in news {
            nodes.push(self.new_nodes[n.index() - self.base].clone());
        }
        for n in nodes.iter_mut() {
            n.update_children(|c| self.find(c));
        }
        if nodes.len() < crate::pattern::SCAN_MAX {
            // The matcher scans short lists whole, in any order: drop the
            // duplicates without sorting (comparing operators by name is
            // what a sort would spend its time on).
            let mut k = 0;
            for j in 0..nodes.len() {
                if !nodes[..k].contains(&nodes[j]) {
                    nodes.swap(k, j);
                    k += 1;
                }
            }
            nodes.truncate(k);
        } else {
            nodes.sort_unstable();
            nodes.dedup();
        }
        let nodes: Arc<[L]> = nodes.into();
        lock(shard).insert(r, (version, nodes.clone()));
        Some(NodeList::Shared(nodes))
    }

    /// A class that gained nothing this phase is skipped at once when its
    /// operator summary lacks `bit`; one that gained members is assembled.
    #[inline]
    fn class_nodes_with(&self, id: Id, bit: u64) -> Option<NodeList<'_, L>> {
        let r = self.find(id);
        if !self.has_members[r.index()].load(Ordering::Acquire) {
            return if r.index() < self.base {
                self.eg
                    .class(r)
                    .filter(|c| c.ops & bit != 0)
                    .map(|c| NodeList::Borrowed(c.nodes.as_slice()))
            } else {
                let n = &self.new_nodes[r.index() - self.base];
                (op_bit(n) & bit != 0).then(|| NodeList::Borrowed(std::slice::from_ref(n)))
            };
        }
        self.class_nodes(id)
    }

    #[inline]
    fn same_class(&self, a: Id, b: Id) -> bool {
        a == b || self.find(a) == self.find(b)
    }

    #[inline]
    fn match_budget(&self) -> usize {
        // One more than allowed, so a search that reaches the budget
        // without passing it is not taken for a cut one.
        self.match_budget.saturating_add(1)
    }
}

/// Runs `rules` on `egraph` (rebuilt) to the asynchronous fixed point or a
/// limit. See the [module docs](self).
pub(crate) fn run<L: Language, N: Analysis<L> + Default>(
    egraph: EGraph<L, N>,
    rules: &[Rewrite<L, N>],
    cfg: &AsyncConfig,
) -> (EGraph<L, N>, AsyncStats) {
    // Everything, joins and the renumbering included, runs on the
    // configured threads: on the pool, or on this thread alone. A run
    // starts on this thread and moves onto the pool before its first
    // phase on an e-graph large enough for parallel phases (see
    // `run_phases`): handing a run whose phases all run on one thread to a
    // pool thread and back would cost two wake-ups, 0.07 ms on this
    // project's VM, as much as a whole run on egg's smallest cases.
    let pool = cfg.pool.as_deref().filter(|p| p.current_num_threads() > 1);
    crate::par::sequentially(|| run_on(egraph, rules, cfg, pool))
}

/// E-graphs of fewer ids are renumbered and freed on the calling thread
/// alone (see [`renumbered`], [`renumbered_on`]): waking pool threads
/// costs more (0.05-0.1 ms on this project's VM, about a whole `async`
/// run on egg's smallest math cases).
const SMALL_RENUMBERING: usize = 4096;

/// [`renumbered`], for a caller outside `pool`: on the pool when it has
/// several threads and the e-graph is large enough to share, else on this
/// thread. (Unless the e-graph has no canonical copy, which only an
/// analysis that prunes nodes can cause: then it is returned as it is.)
pub(crate) fn renumbered_on<L: Language, N: Analysis<L> + Default>(
    egraph: EGraph<L, N>,
    keep: usize,
    pool: Option<&rayon::ThreadPool>,
) -> EGraph<L, N> {
    match pool.filter(|p| p.current_num_threads() > 1) {
        Some(p) if egraph.number_of_ids() >= SMALL_RENUMBERING => {
            p.install(|| renumbered(egraph, keep, Some(p)))
        }
        _ => crate::par::sequentially(|| renumbered(egraph, keep, None)),
    }
}

/// Frees `value` as a job on `pool` when there is one (an idle pool
/// thread takes it, or the caller's when it next waits for work), else
/// here: freeing a large phase's tables or a replaced e-graph takes
/// milliseconds that the caller need not wait for.
fn free_on<T: Send + 'static>(pool: Option<&rayon::ThreadPool>, value: T) {
    match pool {
        Some(pool) => pool.spawn(move || drop(value)),
        None => drop(value),
    }
}

/// `egraph` renumbered canonically from id `keep` on
/// ([`EGraph::canonical_copy`]); as it is when it made no id past `keep`
/// (the renumbering would be the identity) or when some class has no
/// finite term. The original is freed [on `pool`](free_on) (0.25-0.45
/// ms on `peephole`).
pub(crate) fn renumbered<L: Language, N: Analysis<L> + Default>(
    mut egraph: EGraph<L, N>,
    keep: usize,
    pool: Option<&rayon::ThreadPool>,
) -> EGraph<L, N> {
    if egraph.number_of_ids() > keep {
        if let Some(copy) = egraph.canonical_copy(keep) {
            // A small e-graph is freed sooner than a pool thread wakes up.
            let pool = pool.filter(|_| egraph.number_of_ids() >= SMALL_RENUMBERING);
            free_on(pool, egraph);
            return copy;
        }
    }
    egraph
}

/// [`run`] on this thread, marked sequential, with `pool` (`None`: one
/// thread throughout) for the phases on e-graphs large enough to share.
fn run_on<L: Language, N: Analysis<L> + Default>(
    mut egraph: EGraph<L, N>,
    rules: &[Rewrite<L, N>],
    cfg: &AsyncConfig,
    pool: Option<&rayon::ThreadPool>,
) -> (EGraph<L, N>, AsyncStats) {
    let index = RuleIndex::new(rules);
    // A run leaves the hashcons layered when it does not renumber (see
    // `EGraph::reserve_ids`): the first phase's table must be the input's
    // whole table, so a layer left by an earlier run is merged in here.
    egraph.settle_hashcons();
    if !egraph.is_clean() {
        egraph.rebuild();
    }
    egraph.take_changes();
    let keep = egraph.number_of_ids();
    // First phase: every class; later ones: what the join changed.
    // (Only classes with an operator some rule's root has: the others
    // cannot be a match's root until they change, and then they are queued.)
    let root_ops = index.depth_ops[0];
    let var_root = index.var_rooted;
    let seeds: Vec<Id> = egraph
        .classes()
        .filter(|c| var_root || c.ops & root_ops != 0)
        .map(|c| c.id)
        .collect();
    let run = Run {
        egraph,
        stats: AsyncStats::default(),
        seeds,
        ancestors_of: vec![],
        reread: vec![],
        nonlocal: FxHashSet::default(),
        keep,
    };
    run_phases(run, &index, cfg, pool, false)
}

/// Where an asynchronous run stands between two phases.
struct Run<L: Language, N: Analysis<L>> {
    egraph: EGraph<L, N>,
    stats: AsyncStats,
    /// The next phase's seeds, and the classes whose ancestors it also
    /// starts from.
    seeds: Vec<Id>,
    ancestors_of: Vec<Id>,
    /// Classes the last phase merged others into: they and their
    /// ancestors run the rules that read what classes hold (see
    /// [`RuleIndex::reads_classes`]).
    reread: Vec<Id>,
    nonlocal: FxHashSet<Id>,
    /// The input's ids (kept by the renumbering).
    keep: usize,
}

/// The phases of [`run_on`], from `run`, and the renumbering at the end.
/// Not `installed` (on the calling thread, marked sequential), it goes on
/// on a pool thread as soon as the next phase would be parallel.
fn run_phases<L: Language, N: Analysis<L> + Default>(
    run: Run<L, N>,
    index: &RuleIndex<'_, L, N>,
    cfg: &AsyncConfig,
    pool: Option<&rayon::ThreadPool>,
    installed: bool,
) -> (EGraph<L, N>, AsyncStats) {
    let trace = std::env::var_os("SATURN_ASYNC_TRACE").is_some();
    let Run {
        mut egraph,
        mut stats,
        mut seeds,
        mut ancestors_of,
        mut reread,
        mut nonlocal,
        keep,
    } = run;
    stats.keep = keep;
    loop {
        if stats.phases >= cfg.iter_limit {
            stats.stop_reason = Some(StopReason::IterationLimit(stats.phases));
            break;
        }
        // Canonical nodes, not hashcons entries: after a phase the hashcons
        // also holds entries for ids that later merged (how many depends
        // on timing), while the nodes of a phase that ran dry depend only
        // on its input.
        let size = egraph.total_number_of_nodes();
        if let Err(reason) = cfg.limits.check_sizes(size, canonical_bytes::<L, N>(size)) {
            stats.stop_reason = Some(reason);
            break;
        }
        if let (false, Some(pool)) = (installed, pool) {
            if size >= cfg.sequential_below {
                // Large enough for parallel phases: on to the pool.
                let run = Run {
                    egraph,
                    stats,
                    seeds,
                    ancestors_of,
                    reread,
                    nonlocal,
                    keep,
                };
                return pool.install(|| run_phases(run, index, cfg, Some(pool), true));
            }
        }
        let t = Instant::now();
        // Ids for this phase: up to one past the node limit, or the nodes
        // the memory limit holds (see `Limits::most_nodes`; a phase that
        // needs more would pass it; at least `PARALLEL_ROOM`), and at most
        // 4x the e-graph (at least `PARALLEL_ROOM`, or `sequential_room`
        // for a phase on one thread): a phase that
        // needs more is taken for an explosion, which rounds handle better
        // (an analysis's `modify`, e.g. egg's pruning of constant classes,
        // runs at every join), and is undone (see below). This also keeps
        // the per-id tables proportionate.
        let sequential = size < cfg.sequential_below;
        let least = if sequential {
            sequential_room(size)
        } else {
            PARALLEL_ROOM
        };
        let phase_pool = if sequential { None } else { pool };
        let room = cfg
            .limits
            .most_nodes::<L, N>()
            .saturating_sub(size)
            .saturating_add(1)
            .max(PARALLEL_ROOM)
            .min(size.saturating_mul(4).max(least));
        let uf_before = egraph.union_find().snapshot();
        egraph.reserve_ids(room);
        let ids_before = egraph.number_of_ids();
        let matches_before = stats.matches;
        let stop;
        let (new_nodes, merged, deferred, limit, ph_nonlocal) = {
            let threads = phase_pool.map_or(1, |p| p.current_num_threads());
            let ph = Phase::new(&egraph, index, cfg, room, threads);
            ph.run(&seeds, &ancestors_of, &reread, phase_pool);
            stats.tasks += ph.tasks.load(Ordering::Relaxed);
            stats.matches += ph.matches.load(Ordering::Relaxed);
            let limit = lock(&ph.limit).take();
            let (merged, deferred, nonlocal) = ph.gather();
            stop = ph.stop.load(Ordering::Relaxed);
            let new_nodes = ph.dispose(phase_pool);
            (new_nodes, merged, deferred, limit, nonlocal)
        };
        // Workers check the limits every few tasks, so a phase can end past
        // the node or memory limit without any of them seeing it; sizes
        // only grow within a phase, so one check at its end sees it.
        let limit = limit.or_else(|| cfg.limits.check_growth(&egraph, false).err());
        stats.phases += 1;
        let t_join = Instant::now();
        stats.phase_time += (t_join - t).as_secs_f64();
        let (full, cut) = (stop & STOP_FULL != 0, stop & STOP_CUT != 0);
        if full
            || cut
            || matches!(
                limit,
                Some(StopReason::NodeLimit(_) | StopReason::MemoryLimit(_))
            )
        {
            // The phase did not run dry: what it holds depends on timing.
            // Undo it and hand the last join's e-graph, renumbered
            // canonically (so its ids depend only on its structure), to
            // the caller, which goes on in rounds.
            drop(new_nodes);
            // The first phase's table is the input's.
            egraph.roll_back_phase(&uf_before, stats.phases == 1);
            egraph = renumbered(egraph, keep, pool);
            stats.rolled_back = true;
            stats.join_time += t_join.elapsed().as_secs_f64();
            if trace {
                eprintln!(
                    "phase {} ({} tasks, {} matches so far, {} in the phase, room {room}, {:.1} ms) rolled back (ids full: {full}, cut: {cut}, limit: {limit:?}) in {:.1} ms",
                    stats.phases,
                    stats.tasks,
                    stats.matches,
                    stats.matches - matches_before,
                    (t_join - t).as_secs_f64() * 1e3,
                    t_join.elapsed().as_secs_f64() * 1e3
                );
            }
            break;
        }
        stats.unions += merged.len();
        // The join.
        let made = egraph.number_of_ids() - ids_before;
        let phase_changed = made > 0 || !merged.is_empty();
        egraph.log_data_changes(true);
        egraph.absorb(ids_before, &new_nodes, &merged);
        drop(new_nodes);
        let congruences = egraph.rebuild();
        debug_assert_eq!(
            egraph.check_invariants(),
            Ok(()),
            "the phase closed congruence"
        );
        let data_changed = egraph.log_data_changes(false);
        // The phase's own changes were matched in the phase; drop them,
        // unless this rebuild found congruences the phase did not repair
        // (then what changed around them is matched again).
        let phase_changes = egraph.take_changes();
        let mut modified: FxHashSet<Id> = FxHashSet::default();
        for i in ids_before..ids_before + made {
            let r = egraph.find(Id::from(i));
            if modified.insert(r) {
                N::modify(&mut egraph, r);
            }
        }
        for &d in &data_changed {
            let r = egraph.find(d);
            if modified.insert(r) {
                N::modify(&mut egraph, r);
            }
        }
        egraph.rebuild();
        let mut join_changes = egraph.take_changes();
        if congruences > 0 {
            join_changes.extend(phase_changes);
        }
        stats.join_time += t_join.elapsed().as_secs_f64();
        if trace {
            eprintln!(
                "phase {} ({} tasks, {} matches so far, {} in the phase, room {room}, {:.1} ms, join {:.1} ms): made {made}, merged {}, deferred {}, join changes {}, data changes {}, limit {limit:?}, size {}, classes {}",
                stats.phases,
                stats.tasks,
                stats.matches,
                stats.matches - matches_before,
                (t_join - t).as_secs_f64() * 1e3,
                t_join.elapsed().as_secs_f64() * 1e3,
                merged.len(),
                deferred.len(),
                join_changes.len(),
                data_changed.len(),
                egraph.total_size(),
                egraph.number_of_classes()
            );
        }
        nonlocal.extend(ph_nonlocal);
        if let Some(reason) = limit {
            stats.stop_reason = Some(reason);
            break;
        }
        // Conditions and Rust appliers that read what classes hold read,
        // in the phase, the e-graph as of the last join: the classes the
        // phase merged lacked the nodes merged in, which they may hold
        // now. They run again there.
        reread.clear();
        if index.reads_classes != 0 {
            reread.extend(merged.iter().map(|&m| egraph.find(m)));
            reread.sort_unstable();
            reread.dedup();
        }
        let join_changed = !join_changes.is_empty() || !data_changed.is_empty();
        if !phase_changed && !join_changed {
            // Nothing changed: a fixed point.
            stats.stop_reason = Some(StopReason::Saturated);
            break;
        }
        if deferred.is_empty()
            && reread.is_empty()
            && !join_changed
            && (nonlocal.is_empty() || !phase_changed)
        {
            // The phase ran to its own fixed point and the join added
            // nothing to match: the next phase would find nothing.
            stats.stop_reason = Some(StopReason::Saturated);
            break;
        }
        // Seeds: deferred roots themselves; around what the join changed,
        // the ancestors too (their matches may be new).
        seeds = deferred;
        if phase_changed || join_changed {
            seeds.extend(nonlocal.iter().copied());
        }
        ancestors_of = join_changes;
        ancestors_of.extend(data_changed);
        for s in seeds.iter_mut().chain(ancestors_of.iter_mut()) {
            *s = egraph.find(*s);
        }
        seeds.sort_unstable();
        seeds.dedup();
        ancestors_of.sort_unstable();
        ancestors_of.dedup();
    }
    // Every phase ran dry (a rolled-back one was renumbered already), so
    // the e-graph depends only on the input up to the naming of ids; name
    // them canonically, unless a time limit or cancellation cut a phase.
    // With no id made after the input's, ids already depend on nothing but
    // the input (classes are named by their least id, node lists sorted):
    // the renumbering would be the identity.
    let cut_by_time = matches!(
        stats.stop_reason,
        Some(StopReason::TimeLimit(_)) | Some(StopReason::Other(_))
    );
    if !stats.rolled_back && !cut_by_time && egraph.number_of_ids() > keep {
        let t = Instant::now();
        egraph = renumbered(egraph, keep, pool);
        stats.join_time += t.elapsed().as_secs_f64();
        if trace {
            eprintln!(
                "canonical renumbering: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    (egraph, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{rewrite, SymbolLang};
    use std::time::Duration;

    fn cfg(pool: Option<usize>) -> AsyncConfig {
        AsyncConfig {
            iter_limit: 100,
            limits: Limits {
                start: Instant::now(),
                time: Duration::from_secs(30),
                nodes: 100_000,
                bytes: usize::MAX,
                cancel: None,
            },
            pool: pool.map(|n| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .build()
                        .unwrap(),
                )
            }),
            // The phases of these small tests run on the pool.
            sequential_below: 0,
        }
    }

    /// One run to saturation: the thread setting, the e-graph, the
    /// terms' ids and the stats.
    type Saturated<N> = (Option<usize>, EGraph<SymbolLang, N>, Vec<Id>, AsyncStats);

    /// `rules` on `terms` (added in order, then rebuilt) at each thread
    /// setting (`None`: this thread), each run checked to saturate with a
    /// valid e-graph.
    fn saturate<N: Analysis<SymbolLang> + Default>(
        terms: &[&str],
        rules: &[Rewrite<SymbolLang, N>],
        threads: &[Option<usize>],
    ) -> Vec<Saturated<N>> {
        threads
            .iter()
            .map(|&t| {
                let mut eg = EGraph::<SymbolLang, N>::default();
                let ids = terms
                    .iter()
                    .map(|x| eg.add_expr(&x.parse().unwrap()))
                    .collect();
                eg.rebuild();
                let (eg, stats) = run(eg, rules, &cfg(t));
                assert_eq!(stats.stop_reason, Some(StopReason::Saturated), "{t:?}");
                eg.check_invariants().unwrap();
                (t, eg, ids, stats)
            })
            .collect()
    }

    #[test]
    fn a_chain_of_rewrites_needs_one_phase() {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("a-b"; "(a ?x)" => "(b ?x)"),
            rewrite!("b-c"; "(b ?x)" => "(c ?x)"),
            rewrite!("c-d"; "(c ?x)" => "(d ?x)"),
        ];
        for (threads, eg, ids, stats) in saturate(&["(a x)"], &rules, &[None, Some(2), Some(4)]) {
            // b, c and d all appear within the first phase: each worker
            // sees the others' nodes without a join.
            assert_eq!(stats.phases, 1, "{threads:?}");
            let d = eg.lookup_expr(&"(d x)".parse().unwrap());
            assert_eq!(d, Some(eg.find(ids[0])));
        }
    }

    /// A phase too short for its workers to check the limits (they do every
    /// 8 tasks) that ends past the memory or node limit is undone all the
    /// same: the phase's end checks them.
    #[test]
    fn a_phase_that_ends_past_a_limit_is_undone() {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![rewrite!("grow"; "(f ?x)" => "(g (h ?x))")];
        for threads in [None, Some(2)] {
            for by_bytes in [false, true] {
                let mut eg = EGraph::<SymbolLang, ()>::default();
                eg.add_expr(&"(f x)".parse().unwrap());
                eg.rebuild();
                let before = eg.dump().to_string();
                // Exactly the input's size: phase 1 starts, and ends past it.
                let mut cfg = AsyncConfig {
                    sequential_below: SEQUENTIAL_PHASE_NODES,
                    ..cfg(threads)
                };
                if by_bytes {
                    cfg.limits.bytes = eg.approx_bytes();
                } else {
                    cfg.limits.nodes = eg.total_size();
                }
                let (eg, stats) = run(eg, &rules, &cfg);
                assert!(stats.rolled_back, "{threads:?} {by_bytes}");
                assert_eq!(stats.phases, 1, "{threads:?} {by_bytes}");
                assert!(stats.tasks < 8, "{}: short enough", stats.tasks);
                assert_eq!(eg.dump().to_string(), before);
            }
        }
    }

    /// Tags classes holding a node `(mark _)`; `modify` adds the leaf `tag`
    /// to them, so a join can grow the e-graph.
    #[derive(Default)]
    struct Tag;

    impl Analysis<SymbolLang> for Tag {
        type Data = bool;
        fn make(_: &EGraph<SymbolLang, Self>, n: &SymbolLang) -> bool {
            n.op.as_str() == "mark"
        }
        fn merge(&self, a: &mut bool, b: bool) -> crate::DidMerge {
            crate::merge_max(a, b)
        }
        fn modify(eg: &mut EGraph<SymbolLang, Self>, id: Id) {
            if eg[id].data {
                let tag = eg.add(SymbolLang::leaf("tag"));
                eg.union(id, tag);
            }
        }
    }

    /// Between phases the memory limit is checked over canonical nodes: a
    /// phase that ends within it is kept, its join's `modify` grows the
    /// e-graph past it, and the run stops before the next phase.
    #[test]
    fn a_join_that_passes_the_memory_limit_stops_the_run() {
        let rules: Vec<Rewrite<SymbolLang, Tag>> = vec![rewrite!("mark"; "(f ?x)" => "(mark ?x)")];
        let canonical = |eg: &EGraph<SymbolLang, Tag>| {
            canonical_bytes::<SymbolLang, Tag>(eg.total_number_of_nodes())
        };
        for threads in [None, Some(2)] {
            let mut eg = EGraph::<SymbolLang, Tag>::default();
            eg.add_expr(&"(f a)".parse().unwrap());
            eg.rebuild();
            assert_eq!(canonical(&eg), eg.approx_bytes());
            // The phase makes one id, (mark a), and one hashcons entry.
            let limit = canonical_bytes::<SymbolLang, Tag>(eg.total_size() + 1);
            let mut cfg = AsyncConfig {
                sequential_below: SEQUENTIAL_PHASE_NODES,
                ..cfg(threads)
            };
            cfg.limits.bytes = limit;
            let (eg, stats) = run(eg, &rules, &cfg);
            assert!(!stats.rolled_back, "{threads:?}");
            assert_eq!(stats.phases, 1, "{threads:?}");
            assert_eq!(
                stats.stop_reason,
                Some(StopReason::MemoryLimit(canonical(&eg))),
                "{threads:?}"
            );
            assert!(canonical(&eg) > limit && canonical(&eg) <= eg.approx_bytes());
            eg.check_invariants().unwrap();
            let tag = eg.lookup_expr(&"tag".parse().unwrap());
            assert_eq!(tag, eg.lookup_expr(&"(f a)".parse().unwrap()));
        }
    }

    /// A run that starts below `sequential_below` runs on the calling
    /// thread, and moves onto the pool when a later phase would be
    /// parallel: the first phase's conditions are checked off the pool,
    /// the second phase's (on an e-graph past the threshold) on it; the
    /// result is the same at every thread setting.
    #[test]
    fn a_small_run_starts_on_the_calling_thread_and_moves_to_the_pool() {
        type Seen = Arc<Mutex<Vec<(usize, Option<usize>)>>>;
        // Per check: the rule, and the size of the pool it ran on (`None`:
        // not on a pool thread).
        let seen: Seen = Arc::default();
        // Phase 1 (80 nodes): `grow` adds 5 nodes per term (280 in all);
        // `mark` fires on the input's classes, so its condition is
        // checked in phase 1. `done` binds classes made in phase 1, so it
        // is deferred to phase 2, which runs on about 300 nodes. Each
        // check records its rule (1: `mark`, 2: `done`) and thread.
        // (It reads nothing, so it says so: a condition that reads what
        // classes hold runs again after each join around the classes
        // merged, which would add a third phase here.)
        struct Checker(usize, Seen);
        impl crate::Condition<SymbolLang, ()> for Checker {
            fn check(
                &self,
                _: &EGraph<SymbolLang, ()>,
                _: Id,
                _: &crate::Subst,
                _: &mut Actions<SymbolLang>,
            ) -> bool {
                let pool = rayon::current_thread_index().map(|_| rayon::current_num_threads());
                lock(&self.1).push((self.0, pool));
                true
            }
            fn reads_classes(&self) -> bool {
                false
            }
        }
        let checker = |rule: usize, seen: &Seen| Checker(rule, seen.clone());
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("grow"; "(f ?x)" => "(g (h (k (m (n ?x)))))"),
            rewrite!("mark"; "(f ?x)" => "(seen ?x)").with_condition(checker(1, &seen)),
            rewrite!("done"; "(g ?y)" => "(done ?y)").with_condition(checker(2, &seen)),
        ];
        let terms: Vec<String> = (0..40).map(|i| format!("(f x{i})")).collect();
        let mut dumps = vec![];
        for threads in [None, Some(2), Some(4)] {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            for t in &terms {
                eg.add_expr(&t.parse().unwrap());
            }
            eg.rebuild();
            assert!(eg.total_number_of_nodes() < SEQUENTIAL_PHASE_NODES);
            lock(&seen).clear();
            let cfg = AsyncConfig {
                sequential_below: SEQUENTIAL_PHASE_NODES,
                ..cfg(threads)
            };
            let (eg, stats) = run(eg, &rules, &cfg);
            assert_eq!(stats.stop_reason, Some(StopReason::Saturated));
            assert!(!stats.rolled_back);
            assert_eq!(stats.phases, 2, "{threads:?}");
            eg.check_invariants().unwrap();
            assert!(eg.total_number_of_nodes() >= SEQUENTIAL_PHASE_NODES);
            // Phase 1 checks `mark` at the 40 input terms, on the calling
            // thread (not a pool thread). Phase 2 searches those classes
            // again (they gained nodes) and checks `mark` and `done`
            // there, on the pool when there is one. That is 120 checks,
            // or more when the operator summary's bits of `f` and of an
            // operator a class gained (`g`, `seen`) coincide: the bits are
            // a hash of the interned symbols' numbers, which depend on the
            // order the tests running in this process interned symbols in,
            // and a class whose summary gained `f`'s bit is queued again
            // for the rules rooted at `f` (one in three runs of this
            // module's tests: `mark` checked 120 times, phase 1 checking
            // each input term twice).
            let checks = std::mem::take(&mut *lock(&seen));
            let of = |rule: usize| checks.iter().filter(|c| c.0 == rule).count();
            assert!(of(1) >= 80 && of(2) >= 40, "{threads:?}: {checks:?}");
            assert_eq!(of(1) + of(2), checks.len());
            let off_pool: Vec<usize> = checks
                .iter()
                .filter(|c| c.1.is_none())
                .map(|c| c.0)
                .collect();
            match threads {
                None => assert_eq!(off_pool.len(), checks.len()),
                Some(n) => {
                    // Phase 1's checks, `mark`'s only, at least one per
                    // input term, and no more than the run's first
                    // phase can make: every later one is on the pool.
                    assert!(
                        off_pool.iter().all(|&r| r == 1),
                        "{threads:?}: {off_pool:?}"
                    );
                    assert!(off_pool.len() >= 40, "{threads:?}: {off_pool:?}");
                    assert!(off_pool.len() <= of(1) - 40, "{threads:?}: {checks:?}");
                    // On the run's pool, not some other.
                    assert!(checks.iter().all(|c| c.1.is_none_or(|m| m == n)));
                }
            }
            dumps.push(eg.dump().to_string());
        }
        assert!(dumps.iter().all(|d| *d == dumps[0]));
    }

    /// With the default setting, a phase on a tiny e-graph runs on one
    /// thread and is taken for an explosion after `sequential_room` ids
    /// (72 for 2 nodes), not 1,024: unbounded growth from one node is
    /// undone after 36 productive tasks (two ids each) and one that finds
    /// the room full, at every thread setting, and hands the input back
    /// untouched. (Each step costs one task more when `f` and `s` share a
    /// bit of the operator summary, which is a hash of the interned
    /// symbols' numbers: whether they do depends on the order this process
    /// interned symbols in, so on the other tests run before this one. A
    /// CI run got 73 tasks. The summary may over-approximate; a class
    /// queued for a rule it cannot match costs a task and nothing else.)
    #[test]
    fn a_tiny_e_graph_s_explosion_is_undone_early() {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![rewrite!("grow"; "(f ?a)" => "(f (s ?a))")];
        for threads in [None, Some(2), Some(4)] {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            eg.add_expr(&"(f x)".parse().unwrap());
            eg.rebuild();
            let before = eg.dump().to_string();
            let cfg = AsyncConfig {
                sequential_below: SEQUENTIAL_PHASE_NODES,
                ..cfg(threads)
            };
            let (eg, stats) = run(eg, &rules, &cfg);
            assert!(stats.rolled_back, "{threads:?}");
            assert_eq!(stats.phases, 1);
            assert_eq!(sequential_room(2), 72);
            assert!(
                (72 / 2 + 1..=72 + 1).contains(&stats.tasks),
                "{threads:?}: {} tasks",
                stats.tasks
            );
            assert_eq!(eg.dump().to_string(), before);
        }
    }

    /// A phase that finds more than 4 matches per id of its room (at
    /// least 8,192) is taken for an explosion and rolled back, even when
    /// its matches make nothing new: 12 roots `(f G G c_k)` over a class
    /// `G` of 100 nodes `(g a_i)` give 10,000 matches each of a rule that
    /// re-derives its left-hand side, 120,000 in all, past the 8,192 its
    /// room allows. It stops after the task that passes the budget (each
    /// worker adds its count every 1,024 matches), long before the 65,536
    /// that the runner's bound for a round would allow. The run then goes
    /// on in rounds and saturates with the same e-graph.
    #[test]
    fn a_phase_past_its_match_budget_is_rolled_back() {
        let rules: Vec<Rewrite<SymbolLang, ()>> =
            vec![rewrite!("same"; "(f (g ?a) (g ?b) ?c)" => "(f (g ?b) (g ?a) ?c)")];
        for threads in [None, Some(2)] {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            let gs: Vec<Id> = (0..100)
                .map(|i| eg.add_expr(&format!("(g a{i})").parse().unwrap()))
                .collect();
            for &g in &gs[1..] {
                eg.union(gs[0], g);
            }
            for k in 0..12 {
                let c = eg.add(SymbolLang::leaf(format!("c{k}")));
                eg.add(SymbolLang::new("f", vec![gs[0], gs[0], c]));
            }
            eg.rebuild();
            let before = eg.dump().to_string();
            let (eg, stats) = run(eg, &rules, &cfg(threads));
            assert!(stats.rolled_back, "{threads:?}: {stats:?}");
            assert!(
                stats.matches > LEAST_PHASE_MATCHES,
                "{threads:?}: {stats:?}"
            );
            assert!(stats.matches < 1 << 16, "{threads:?}: {stats:?}");
            assert_eq!(eg.dump().to_string(), before, "{threads:?}");
        }
    }

    /// An e-graph seen through a match budget.
    struct Budgeted<'a>(&'a EGraph<SymbolLang, ()>, usize);

    impl NodeSource<SymbolLang> for Budgeted<'_> {
        fn class_nodes(&self, id: Id) -> Option<NodeList<'_, SymbolLang>> {
            self.0.class_nodes(id)
        }
        fn match_budget(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn a_search_stops_at_the_match_budget() {
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let mut root = eg.add_expr(&"(f a a)".parse().unwrap());
        for leaf in ["b", "c", "d", "e", "g", "h"] {
            let other = eg.add_expr(&format!("(f {leaf} a)").parse().unwrap());
            eg.union(root, other);
            root = eg.find(root);
        }
        eg.rebuild();
        let p: crate::Pattern<SymbolLang> = "(f ?x ?y)".parse().unwrap();
        let mut all = vec![];
        p.search_source_into(&eg, root, &mut all);
        assert_eq!(all.len(), 7);
        for budget in [1, 3, 7, 100] {
            let mut some = vec![];
            p.search_source_into(&Budgeted(&eg, budget), root, &mut some);
            assert_eq!(some.len(), budget.min(7));
            assert_eq!(some[..], all[..some.len()], "a prefix of the full search");
        }
    }

    #[test]
    fn a_class_two_paths_above_a_change_is_queued() {
        // (f b (g b)): the f class is a parent of b and, through (g b), a
        // grandparent. `c => x` gives b an x, which only the pattern's
        // depth-2 position sees: f must be matched again.
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("b-c"; "b" => "c"),
            rewrite!("c-x"; "c" => "x"),
            rewrite!("done"; "(f ?y (g x))" => "done"),
        ];
        for (threads, eg, ids, _) in saturate(&["(f b (g b))"], &rules, &[None, Some(2)]) {
            let done = eg.lookup_expr(&"done".parse().unwrap());
            assert_eq!(done, Some(eg.find(ids[0])), "{threads:?}");
        }
    }

    #[test]
    fn a_merged_class_s_parents_see_the_root_s_nodes() {
        // f is searched (no match) before (q c) becomes (g c) and then x.
        // x is older than (q c), so that union keeps x's id and merges the
        // q class into it: (f (q c)) then has a child with an x, which only
        // the merged class's side sees (the root gained q and g, which no
        // pattern looks for under f). `f-x` must run at f again.
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("q-g"; "(q ?a)" => "(g ?a)"),
            rewrite!("g-x"; "(g ?a)" => "x"),
            rewrite!("f-x"; "(f x)" => "done"),
        ];
        for (threads, eg, ids, _) in saturate(&["x", "(f (q c))"], &rules, &[None, Some(2)]) {
            let done = eg.lookup_expr(&"done".parse().unwrap());
            assert_eq!(done, Some(eg.find(ids[1])), "{threads:?}");
        }
    }

    #[test]
    fn a_merged_class_hands_its_unsearched_rules_to_the_root() {
        // Both (h a) and (k a) are input classes, seeded with every rule.
        // Whichever is processed first merges the two; the other's rules
        // (h-y or k-z) have not run and must run at the root.
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("h-k"; "(h ?a)" => "(k ?a)"),
            rewrite!("k-z"; "(k ?a)" => "(z ?a)"),
            rewrite!("h-y"; "(h ?a)" => "(y ?a)"),
        ];
        for (threads, eg, ids, _) in saturate(&["(k a)", "(h a)"], &rules, &[None, Some(2)]) {
            let (k, h) = (ids[0], ids[1]);
            assert_eq!(eg.find(k), eg.find(h));
            for t in ["(z a)", "(y a)"] {
                let id = eg.lookup_expr(&t.parse().unwrap());
                assert_eq!(id, Some(eg.find(k)), "{t} {threads:?}");
            }
        }
    }

    #[test]
    fn canonical_copies_do_not_depend_on_the_order_ids_were_made() {
        // The same additions and unions after the same input, in two
        // orders: different ids, one canonical copy.
        let build = |reverse: bool| {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            let root = eg.add_expr(&"(f a b)".parse().unwrap());
            eg.add_expr(&"(f b a)".parse().unwrap());
            eg.rebuild();
            let keep = eg.number_of_ids();
            let mut steps: Vec<&str> = vec!["(g a)", "(h (g a))", "(g b)", "(k (h (g b)) a)"];
            if reverse {
                steps.reverse();
            }
            let ids: Vec<(&str, Id)> = steps
                .iter()
                .map(|t| (*t, eg.add_expr(&t.parse().unwrap())))
                .collect();
            let id = |t: &str| ids.iter().find(|(s, _)| *s == t).unwrap().1;
            let mut pairs = vec![(id("(h (g a))"), root), (id("(g a)"), id("(g b)"))];
            if reverse {
                pairs.reverse();
            }
            for (a, b) in pairs {
                eg.union(a, b);
            }
            eg.rebuild();
            eg.check_invariants().unwrap();
            let classes = eg.number_of_classes();
            let nodes = eg.total_number_of_nodes();
            let copy = eg.canonical_copy(keep).expect("finite terms");
            copy.check_invariants().unwrap();
            assert_eq!(copy.number_of_classes(), classes);
            assert_eq!(copy.total_number_of_nodes(), nodes);
            // The input's ids keep their meaning.
            assert_eq!(
                copy.lookup_expr(&"(f a b)".parse().unwrap()),
                Some(copy.find(root))
            );
            assert_eq!(copy.find(root), root, "kept ids keep their classes");
            assert_eq!(
                copy.lookup_expr(&"(h (g b))".parse().unwrap()),
                Some(copy.find(root))
            );
            let dump = copy.dump().to_string();
            dump
        };
        assert_eq!(build(false), build(true));
    }

    #[test]
    fn canonical_copies_where_every_class_keeps_its_id() {
        // Every id made after the input merges into an input class (the
        // renumbering's fast path: no class is renumbered, only the made
        // nodes get ids). Two orders of the same additions and unions: one
        // copy, with valid parent lists and hashcons.
        let build = |reverse: bool| {
            let mut eg = EGraph::<SymbolLang, ()>::default();
            let f = eg.add_expr(&"(f a b)".parse().unwrap());
            let g = eg.add_expr(&"(g b)".parse().unwrap());
            eg.rebuild();
            let keep = eg.number_of_ids();
            let mut steps = vec![("(h a)", f), ("(k b)", g), ("(h (k b))", f), ("(f b a)", g)];
            if reverse {
                steps.reverse();
            }
            for (t, into) in steps {
                let id = eg.add_expr(&t.parse().unwrap());
                eg.union(id, into);
                eg.rebuild();
            }
            eg.check_invariants().unwrap();
            let (classes, nodes) = (eg.number_of_classes(), eg.total_number_of_nodes());
            let copy = eg.canonical_copy(keep).expect("finite terms");
            copy.check_invariants().unwrap();
            assert_eq!(copy.number_of_classes(), classes);
            assert_eq!(copy.total_number_of_nodes(), nodes);
            assert_eq!(copy.total_size(), nodes, "one hashcons entry per node");
            assert_eq!(copy.find(f), f);
            assert_eq!(
                copy.lookup_expr(&"(h (k b))".parse().unwrap()),
                Some(copy.find(f))
            );
            for c in copy.classes() {
                assert!(c.parents().windows(2).all(|w| w[0] <= w[1]));
                for &p in c.parents() {
                    let n = copy.id_to_node(p);
                    assert!(n.children().iter().any(|&ch| copy.find(ch) == c.id));
                }
            }
            let ids: Vec<String> = (0..copy.number_of_ids())
                .map(|i| format!("{}", copy.find(Id::from(i))))
                .collect();
            format!("{}{ids:?}", copy.dump())
        };
        assert_eq!(build(false), build(true));
    }

    /// Marks classes holding the leaf `z`; `modify` then prunes every
    /// other node of such a class (as egg's constant folding does).
    #[derive(Default)]
    struct PruneToZ;

    impl Analysis<SymbolLang> for PruneToZ {
        type Data = bool;
        fn make(_: &EGraph<SymbolLang, Self>, n: &SymbolLang) -> bool {
            n.op.as_str() == "z"
        }
        fn merge(&self, a: &mut bool, b: bool) -> crate::DidMerge {
            crate::merge_max(a, b)
        }
        fn modify(eg: &mut EGraph<SymbolLang, Self>, id: Id) {
            if eg[id].data {
                eg[id].nodes.retain(|n| n.op.as_str() == "z");
            }
        }
    }

    #[test]
    fn a_saturated_run_whose_analysis_pruned_an_input_node_is_renumbered() {
        // (f a) is an input node; `f-z` puts z in its class and `modify`
        // prunes (f a) from it, so the input id no longer names a node of
        // its class. `g-h` makes ids, so the renumbering runs.
        let rules: Vec<Rewrite<SymbolLang, PruneToZ>> = vec![
            rewrite!("f-z"; "(f ?x)" => "z"),
            rewrite!("g-h"; "(g ?x)" => "(h ?x)"),
        ];
        let mut dumps = vec![];
        for (_, eg, ids, _) in saturate(&["(g (f a))"], &rules, &[None, Some(2)]) {
            assert_eq!(
                eg.lookup_expr(&"(h z)".parse().unwrap()),
                Some(eg.find(ids[0]))
            );
            assert_eq!(eg.lookup_expr(&"(f a)".parse().unwrap()), None, "pruned");
            dumps.push(eg.dump().to_string());
        }
        assert_eq!(dumps[0], dumps[1]);
    }

    #[test]
    fn congruence_is_repaired_inside_a_phase() {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("x-y"; "x" => "y"),
            rewrite!("fyy"; "(f y y)" => "done"),
        ];
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let root = eg.add_expr(&"(f x y)".parse().unwrap());
        eg.rebuild();
        let (eg, stats) = run(eg, &rules, &cfg(Some(2)));
        assert_eq!(stats.stop_reason, Some(StopReason::Saturated));
        assert_eq!(stats.phases, 1);
        let done = eg.lookup_expr(&"done".parse().unwrap());
        assert_eq!(done, Some(eg.find(root)));
        eg.check_invariants().unwrap();
    }
}
