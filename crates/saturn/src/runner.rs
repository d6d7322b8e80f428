//! The runner: equality saturation in bulk-synchronous parallel rounds.
//!
//! Each iteration:
//! 1. **search** (parallel): work items are (rule, chunk of root classes),
//!    so one expensive rule spreads over all threads. After the first
//!    search of a rule, only *candidate roots* are searched: classes within
//!    the rule's pattern depth (in parent steps) of a class that changed
//!    since the rule was last searched. Any match that is new must touch a
//!    changed class, so nothing new is missed; old matches would only
//!    re-apply what is already there. Rules with non-local conditions or
//!    appliers are searched in full. When the candidates are most of the
//!    graph, the full index is used instead.
//! 2. **schedule**: the scheduler may ban rules that match too often
//!    (egg's backoff). To decide as egg would, the runner keeps, per rule,
//!    the match count of every root, so the rule's total over the whole
//!    e-graph is known exactly even though only candidates were searched.
//!    Once a rule's matches so far make its ban certain, the rest of its
//!    search only counts (the counts stay exact; the matches would be
//!    dropped anyway).
//! 3. **apply**: staging in parallel (conditions, instantiation, lookups)
//!    over units of at most 256 matches in match order, then a commit in
//!    match order (see [`crate::rewrite`](mod@crate::rewrite)). The node,
//!    memory and cancellation limits are checked after each rule's commit;
//!    the time limit at the end of search and of staging, inside a large
//!    commit, and between commits once they may have taken a while
//!    (reading the clock costs more than a small commit). A commit cut
//!    short by any limit ends the iteration with that limit as its stop
//!    reason.
//! 4. **rebuild** (parallel node canonicalization).
//!
//! Phases with little work (few roots, matches or classes) run on the
//! calling thread even in a pool: handing them out costs more than they
//! do. So does a whole run while its hashcons holds fewer than 8,192
//! entries: it stays on the caller's thread, marked sequential, and moves
//! onto a pool thread once it is larger. Every phase computes the same result
//! either way.
//!
//! The order of everything observable (new ids, unions) depends only on
//! the rule order and class ids, never on the thread count or timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::id::merge_sorted;
use crate::limits::Limits;
use crate::neighborhood::{ChangeLog, Neighborhood, Scratch};
use crate::par::{par_map, sequentially_if};
use crate::pattern::{FlatMatches, Polled, Sink};
use crate::root_counts::RootCounts;
use crate::{Actions, Analysis, EGraph, Id, Language, RecExpr, Rewrite, Symbol};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// Nothing changed in an iteration.
    Saturated,
    /// The iteration limit was reached.
    IterationLimit(usize),
    /// The node limit was exceeded (the size when it was noticed).
    NodeLimit(usize),
    /// The time limit was exceeded (seconds elapsed).
    TimeLimit(f64),
    /// The memory limit was exceeded (estimated bytes, see
    /// [`EGraph::approx_bytes`]; a commit also counts its tables' spare
    /// room, a table's reallocation it may make before its next check
    /// (so this can name more than was ever held) and the round's staged
    /// actions, see
    /// [`Runner::with_memory_limit`]; an `async` schedule stopped between
    /// phases counts canonical nodes only, see
    /// [`Schedule::with_memory_limit`](crate::schedule::Schedule::with_memory_limit)).
    MemoryLimit(usize),
    /// A hook or the caller stopped it.
    Other(String),
}

/// Statistics of one iteration.
#[derive(Debug, Clone, Default)]
pub struct Iteration {
    /// Nodes (hashcons entries) at the start.
    pub egraph_nodes: usize,
    /// Classes at the start.
    pub egraph_classes: usize,
    /// Rules that changed the e-graph, with how many unions each made.
    pub applied: Vec<(Symbol, usize)>,
    /// Matches found (over searched roots, banned rules excluded). Without
    /// backoff, a round that finds more matches than its match budget is
    /// cut (it stages the first ones, and the run stops after it), and its
    /// search stops at the first match past the budget: this is then the
    /// budget plus one, at any thread count.
    pub n_matches: usize,
    /// Matches the search kept for applying. Without backoff, a search
    /// keeps matches only while the matches before them (in commit order,
    /// as far as it knows yet) leave room in the round's match budget,
    /// and stops at the first one past it. So this is at most the budget plus
    /// what other threads' work items found before they knew the budget
    /// was full (on one thread: at most the budget). With backoff, a
    /// rule's search keeps at most one match more than would get it
    /// banned.
    pub n_stored: usize,
    /// Root classes searched, summed over rules.
    pub roots_searched: usize,
    /// Seconds in search (and scheduling).
    pub search_time: f64,
    /// Of which: choosing the roots to search (incremental planning) and
    /// cutting them into work items.
    pub plan_time: f64,
    /// Of which: matching (the parallel part).
    pub match_time: f64,
    /// Seconds in staging and commit.
    pub apply_time: f64,
    /// Of which: staging (the parallel part).
    pub stage_time: f64,
    /// Seconds in rebuild.
    pub rebuild_time: f64,
    /// Seconds for the iteration.
    pub total_time: f64,
    /// Unions found by rebuild.
    pub n_rebuilds: usize,
    /// Threads its parallel phases could spread over: the pool's, or 1
    /// when it ran on the calling thread (a one-thread run, or a run with
    /// a pool while its e-graph is small; see [`Runner::run`]). Phases
    /// with little work run on one thread either way.
    pub threads: usize,
    /// Why the run stopped here, if it did.
    pub stop_reason: Option<StopReason>,
}

/// Which rules run when.
#[derive(Debug, Clone)]
pub enum Scheduler {
    /// Every rule, every iteration.
    Simple,
    /// egg's backoff: a rule matching more than `match_limit << times_banned`
    /// times in an iteration is banned for `ban_length << times_banned`
    /// iterations. As in egg, after an iteration in which no rule changed
    /// the e-graph (even if conditions or hooks added nodes), every ban
    /// is shortened so that the earliest one ends now; the run saturates
    /// only when nothing changed and no rule is banned.
    Backoff {
        /// Initial match limit.
        match_limit: usize,
        /// Initial ban length.
        ban_length: usize,
    },
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::Backoff {
            match_limit: 1000,
            ban_length: 5,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct RuleState {
    times_banned: usize,
    banned_until: usize,
    /// Iteration of the last search (the log index it covered).
    last_search: Option<usize>,
    /// `last_search` before this iteration's search, restored when the
    /// rule is banned (its matches were not applied, so they must be found
    /// again when the ban ends).
    prev_search: Option<usize>,
    /// Matches per root class at the last search of that root.
    counts: RootCounts,
    /// Nanoseconds per root class its searches took (smoothed over the
    /// last ones), for cutting its next search into pieces of about
    /// [`ITEM_NS`] (see [`make_items`]). Measured only by searches on
    /// several threads: 0 before the first, so a run's first iteration on
    /// a pool cuts by root count alone.
    ns_per_root: f64,
    /// The rule's [`Rewrite::binding_slots`], computed at its first
    /// staging in a run (most rules of a small run never stage): with
    /// them its matches are staged without building a `Subst` each.
    slots: std::sync::OnceLock<Option<Vec<u32>>>,
    /// The rule's [`Rewrite::is_local`] and
    /// [`Rewrite::conditions_are_local`], read once per run: planning asks
    /// every iteration, and on saturn-clif's few-hundred-node e-graphs
    /// (hundreds of rules, two or three iterations) asking each rule each
    /// time was a third of planning.
    local: bool,
    conditions_local: bool,
}

/// A hook, run at the start of every iteration.
pub type Hook<L, N> = Box<dyn FnMut(&mut Runner<L, N>) -> Result<(), String> + Send>;

/// Runs rewrites to saturation or a limit.
///
/// ```
/// use saturn::*;
/// let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
///     rewrite!("comm"; "(+ ?a ?b)" => "(+ ?b ?a)"),
///     rewrite!("zero"; "(+ ?a 0)" => "?a"),
/// ];
/// let runner = Runner::default()
///     .with_expr(&"(+ 0 (+ x 0))".parse().unwrap())
///     .with_threads(2)
///     .run(&rules);
/// assert_eq!(runner.stop_reason, Some(StopReason::Saturated));
/// let (cost, best) = Extractor::new(&runner.egraph, AstSize).find_best(runner.roots[0]);
/// assert_eq!((cost, best.to_string()), (1, "x".to_string()));
/// ```
pub struct Runner<L: Language, N: Analysis<L>> {
    /// The e-graph.
    pub egraph: EGraph<L, N>,
    /// Classes of the terms added with [`Runner::with_expr`].
    pub roots: Vec<Id>,
    /// One entry per iteration run.
    pub iterations: Vec<Iteration>,
    /// Why it stopped.
    pub stop_reason: Option<StopReason>,
    iter_limit: usize,
    node_limit: usize,
    memory_limit: usize,
    time_limit: Duration,
    threads: usize,
    incremental: bool,
    scheduler: Scheduler,
    hooks: Vec<Hook<L, N>>,
    start: Option<Instant>,
    /// Changes drained before each search (list `i` is before iteration
    /// `i`).
    log: ChangeLog,
    states: Vec<RuleState>,
    /// Each rule's root operator (`None`: a variable), read once per run
    /// (see `RuleState::local`).
    rule_roots: Vec<Option<L::Discriminant>>,
    cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Scratch for [`Neighborhood::compute`].
    seen: Scratch,
    /// The latest `since` whose neighbourhood reached almost every class
    /// (see `plan_search`).
    near_all_since: Option<usize>,
    /// Reused by every commit (see [`crate::rewrite::commit_all`]).
    commit_scratch: crate::rewrite::CommitScratch,
}

impl<L: Language, N: Analysis<L> + Default> Default for Runner<L, N> {
    fn default() -> Self {
        Runner::new(N::default())
    }
}

/// Search results of one work item: (root, number of matches) for each
/// root with some, the matches kept (in root order), and whether it left
/// a match out: for the round's match budget (then the round is cut), for
/// a ban, or past 32 bits; or whether it was skipped or stopped because an
/// earlier item left one out for the budget (see `first_cut`: then its
/// counts are partial, nothing of it is staged, and it keeps no matches).
type Found = (Vec<(Id, u32)>, FlatMatches, bool);

/// One unit of parallel work: a rule and a slice of its roots, or one
/// root and a range of its class's nodes for the pattern's root.
struct Item {
    rule: usize,
    start: usize,
    end: usize,
    nodes: Option<std::ops::Range<usize>>,
    /// Whether this item reads the clock for the deadline (every
    /// [`POLL_EVERY`]th item, not the first: most items are too small to
    /// pay for it).
    poll: bool,
    /// Whether this item's search is timed, for its rule's cost per root
    /// (with several threads: a rule's first item and every
    /// [`POLL_EVERY`]th; never a piece of a split root).
    timed: bool,
}

/// The time one item of a search should take once its rule's cost per
/// root is known: long enough that handing it to another thread is cheap
/// by comparison, short enough that the last item of a phase leaves the
/// other threads idle only briefly.
const ITEM_NS: f64 = 20_000.0;

/// Items per deadline check.
const POLL_EVERY: usize = 8;

/// Between two rules' commits, the time limit is checked once the commits
/// since the last check staged this many matches, or were this many
/// rules' (with matches). Smaller commits take microseconds, so a time
/// limit is overshot by at most a few of them. (A commit that a limit cut
/// short is always followed by a full check: see [`Runner::run_one`].)
const CLOCK_MATCHES: usize = 64;
/// See [`CLOCK_MATCHES`].
const CLOCK_RULES: usize = 4;

/// Whether commits that staged `matches` matches over `rules` rules since
/// the clock was last read call for reading it (see [`CLOCK_MATCHES`]).
fn clock_due(matches: usize, rules: usize) -> bool {
    matches >= CLOCK_MATCHES || rules >= CLOCK_RULES
}

/// A run with a pool moves onto a pool thread once the hashcons holds this
/// many nodes (see [`Runner::run`]). The hashcons also keeps the stale
/// forms of merged nodes: egg's math_associate_adds (1,939 canonical
/// nodes) passed 4,096 entries in its last iterations and ran them on the
/// pool 10-20% slower than on one thread.
const INSTALL_NODES: usize = 8192;

/// Searches over fewer roots than this (summed over rules) run on the
/// calling thread.
const PAR_MIN_ROOTS: usize = 512;
/// Staging of fewer matches than this runs on the calling thread.
const PAR_MIN_MATCHES: usize = 512;
/// Matches per staging unit.
const STAGE_UNIT: usize = 256;

/// Matches a round without backoff stages per node of room (see
/// [`match_budget`]; an `async` phase has a smaller bound of its own,
/// `fixpoint::phase_matches`).
const MATCHES_PER_ROOM: usize = 16;

/// The fewest matches a round stages, however little room the limits
/// leave (and the smallest staging wave).
const LEAST_MATCH_BUDGET: usize = 1 << 16;

/// The most matches a round stages without backoff: 16 per node the
/// limits leave `room` for (see [`Limits::room`]), no more than `held`
/// (the matches that half the bytes the memory limit leaves hold, found
/// and staged: see [`match_bytes`]), at least 2^16, and below 2^32.
/// Applying that many almost always passes the node or memory limit; a
/// round that finds more stages the first ones in commit order (rule
/// order, then match order: the same at every thread count) and the run
/// stops after it, with [`StopReason::NodeLimit`] or
/// [`StopReason::MemoryLimit`] when the commit reached that limit, else
/// [`StopReason::Other`]. (It cannot go on: the matches left out would be
/// lost to incremental matching, and the next round would find the same
/// first ones again.)
fn match_budget(room: usize, held: usize) -> usize {
    // At most 2^32 - 1, the most one item keeps (a root's count is kept in
    // 32 bits), so a match left out in a bounded round is always one past
    // the budget.
    room.saturating_mul(MATCHES_PER_ROOM)
        .min(held)
        .max(LEAST_MATCH_BUDGET)
        .min(u32::MAX as usize)
}

/// The bytes one match of `rules` takes while a round holds it, counted
/// high: its bindings as the search keeps them, its root's entry, and what
/// staging makes of it (a union, and a pending node for each node of a
/// pattern right-hand side, or 4 for an applier in Rust, a guess). Vectors'
/// spare capacity is not counted.
///
/// Without it, a round under a memory limit could keep 16 matches per
/// node of room, counted at the bytes of a node: on
/// `examples/arith.rules` with a 500 MiB limit, 200 million matches, and
/// a 5.4 GB peak.
fn match_bytes<L: Language, N: Analysis<L>>(rules: &[Rewrite<L, N>]) -> usize {
    use std::mem::size_of;
    // A root's entry in `Found` and a staged union.
    let fixed = size_of::<(Id, u32)>() + size_of::<(crate::rewrite::Ref, crate::rewrite::Ref)>();
    rules
        .iter()
        .map(|r| {
            let rhs = r.applier.pattern().map_or(4, |p| p.ast().len());
            r.searcher.vars().len() * size_of::<Id>() + fixed + rhs * size_of::<L>()
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// A piece of staging work: the matches `matches` (indices into an item's
/// substitutions) of item `item`; the first of them belongs to its
/// `root`th root, whose matches start at index `pos`.
struct StageUnit {
    item: usize,
    root: usize,
    pos: usize,
    matches: std::ops::Range<usize>,
    /// Whether this unit reads the clock for the deadline.
    poll: bool,
}

/// Root classes with more root-matching nodes than this are split.
const SPLIT_NODES: usize = crate::egraph::LARGE_CLASS;
/// Nodes per piece of a split root. Each piece is an item of its own, with
/// the per-item cost of one (its match buffers, its result slot, its share
/// of the counting after the search), so pieces must be large enough for
/// that cost to vanish next to their matching, and small enough that one
/// huge class still spreads over the threads. At 16 nodes,
/// lambda_function_repeat's searches at two threads made 27,347 pieces per
/// run (of 34,035 items); at 256, 2,736 (of 9,387). Medians of matching
/// per run, in four rounds alternating the two: 37.7 / 34.9 / 33.9 / 34.7
/// ms at 16 nodes, 33.9 / 33.6 / 31.8 / 32.6 ms at 256.
const PIECE_NODES: usize = 256;

/// Cuts the planned searches into work items: chunks of roots, and large
/// roots cut into node ranges, so one expensive rule or class spreads over
/// all threads. A chunk has at most an eighth of a thread's share of the
/// rule's roots (16 to 1,024), and, with several threads, at most the
/// roots that rule searches in about [`ITEM_NS`] by its state's
/// `ns_per_root` (its cost at its last searches, 0 when unknown): a rule
/// whose roots are expensive (a few hundred nodes of matching each) gets
/// chunks of a few roots, so no thread is left waiting long for the last
/// one. The items, in order, cover the matches in the same order whatever
/// the thread count and the chunk sizes. `large` lists the classes that
/// may have that many nodes ([`EGraph::large_classes`]), in id order.
fn make_items<L: Language, N: Analysis<L>>(
    egraph: &EGraph<L, N>,
    large: &[Id],
    rules: &[Rewrite<L, N>],
    plans: &[Option<Arc<[Id]>>],
    states: &[RuleState],
    threads: usize,
) -> Vec<Item> {
    let mut items = Vec::with_capacity(plans.len());
    for (r, roots) in plans.iter().enumerate() {
        let Some(roots) = roots else { continue };
        let mut chunk = (roots.len() / (threads * 8)).clamp(16, 1024);
        let cost = states[r].ns_per_root;
        if threads > 1 && cost > 0.0 {
            chunk = chunk.min(((ITEM_NS / cost) as usize).max(1));
        }
        let pat = &rules[r].searcher;
        debug_assert!(roots.windows(2).all(|w| w[0] < w[1]), "roots ascend");
        // Roots `from..to` as items of `chunk` roots, the last shorter.
        let chunks = |items: &mut Vec<Item>, from: usize, to: usize| {
            let mut a = from;
            while a < to {
                let b = (a + chunk).min(to);
                items.push(Item {
                    rule: r,
                    start: a,
                    end: b,
                    nodes: None,
                    poll: false,
                    timed: false,
                });
                a = b;
            }
        };
        // The large classes among the roots, each split into pieces when
        // its nodes for the pattern's root are many; the roots between
        // them are chunked. Both lists ascend, so the shorter one's
        // entries are searched in the other, and no step is taken per
        // root: on lambda_fib, a walk over every root made this function
        // cost 0.47 ms per run at one thread and 1.58 ms at two (now 0.08
        // and 0.72 ms, most of it finding the large roots' node ranges).
        let mut s = 0;
        if threads > 1 {
            let hits: Vec<usize> = if large.len() <= roots.len() {
                let mut from = 0;
                large
                    .iter()
                    .filter_map(|c| match roots[from..].binary_search(c) {
                        Ok(i) => {
                            from += i + 1;
                            Some(from - 1)
                        }
                        Err(i) => {
                            from += i;
                            None
                        }
                    })
                    .collect()
            } else {
                (0..roots.len())
                    .filter(|&k| large.binary_search(&roots[k]).is_ok())
                    .collect()
            };
            for k in hits {
                let c = roots[k];
                let Some(range) = pat
                    .root_nodes(egraph, c)
                    .filter(|range| range.len() > SPLIT_NODES)
                else {
                    continue;
                };
                chunks(&mut items, s, k);
                let mut a = range.start;
                while a < range.end {
                    let b = (a + PIECE_NODES).min(range.end);
                    items.push(Item {
                        rule: r,
                        start: k,
                        end: k + 1,
                        nodes: Some(a..b),
                        poll: false,
                        timed: false,
                    });
                    a = b;
                }
                s = k + 1;
            }
        }
        chunks(&mut items, s, roots.len());
    }
    for k in 0..items.len() {
        let first_of_rule = k == 0 || items[k - 1].rule != items[k].rule;
        let item = &mut items[k];
        // Not the first: the search's start is checked against the deadline
        // (see `Runner::run_one`).
        item.poll = k % POLL_EVERY == POLL_EVERY - 1;
        // The cost per root only sizes chunks for several threads; on one,
        // reading the clock twice per rule would be a measurable part of a
        // tiny run.
        item.timed = threads > 1 && item.nodes.is_none() && (first_of_rule || item.poll);
    }
    items
}

impl<L: Language, N: Analysis<L>> Runner<L, N> {
    /// A runner over an empty e-graph with egg's default limits (30
    /// iterations, 10,000 nodes, 5 seconds) and scheduler (backoff).
    pub fn new(analysis: N) -> Self {
        Runner {
            egraph: EGraph::new(analysis),
            roots: vec![],
            iterations: vec![],
            stop_reason: None,
            iter_limit: 30,
            node_limit: 10_000,
            memory_limit: usize::MAX,
            time_limit: Duration::from_secs(5),
            threads: 1,
            incremental: true,
            scheduler: Scheduler::default(),
            hooks: vec![],
            start: None,
            log: ChangeLog::default(),
            states: vec![],
            rule_roots: vec![],
            cancel: None,
            pool: None,
            seen: Scratch::default(),
            near_all_since: None,
            commit_scratch: Default::default(),
        }
    }

    /// Adds a term; its class is pushed to `roots`.
    pub fn with_expr(mut self, expr: &RecExpr<L>) -> Self {
        let id = self.egraph.add_expr(expr);
        self.roots.push(id);
        self
    }

    /// Runs on this e-graph instead.
    pub fn with_egraph(mut self, egraph: EGraph<L, N>) -> Self {
        self.egraph = egraph;
        self
    }

    /// Stops after this many iterations.
    pub fn with_iter_limit(mut self, n: usize) -> Self {
        self.iter_limit = n;
        self
    }

    /// Stops once the hashcons holds more than this many nodes.
    pub fn with_node_limit(mut self, n: usize) -> Self {
        self.node_limit = n;
        self
    }

    /// Stops once the e-graph's estimated size ([`EGraph::approx_bytes`])
    /// exceeds this many bytes. Inside a commit the check also counts
    /// what the commit holds besides: the tables' spare room, and the new
    /// table of one that would reallocate before the commit's next check
    /// (a doubling holds the old and new tables at once), both modelled
    /// from the counts, so the stop is the same at every thread count;
    /// and the round's staged actions, which stay in memory until every
    /// rule's commit has run. Without backoff the match budget bounds
    /// what a round's search keeps and stages; under backoff the bans
    /// bound the search, and a round's staging is cut once its staged
    /// actions pass half the bytes left (staged in waves, in commit
    /// order), so the peak can pass the limit by what the search kept
    /// (see `tests/memory_peak.rs`); a round cut so stops the run.
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Stops after this long.
    pub fn with_time_limit(mut self, d: Duration) -> Self {
        self.time_limit = d;
        self
    }

    /// Worker threads for the parallel phases (1 runs everything on the
    /// calling thread's pool of one).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Turns incremental matching on (default) or off (search every root
    /// every iteration, as egg does).
    pub fn with_incremental(mut self, on: bool) -> Self {
        self.incremental = on;
        self
    }

    /// The rule scheduler.
    pub fn with_scheduler(mut self, s: Scheduler) -> Self {
        self.scheduler = s;
        self
    }

    /// A hook run at the start of every iteration; an `Err` stops the run
    /// with [`StopReason::Other`].
    pub fn with_hook(
        mut self,
        hook: impl FnMut(&mut Runner<L, N>) -> Result<(), String> + Send + 'static,
    ) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Runs the parallel phases on this pool (its size wins over
    /// [`Runner::with_threads`]); useful to share one pool across runs.
    pub fn with_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// A flag that stops the run (between phases) once set.
    pub fn with_cancel_flag(mut self, flag: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Runs `rules` until saturation or a limit.
    ///
    /// With more than one thread, iterations run on the calling thread
    /// while the hashcons holds fewer than 8,192 nodes (handing phases of
    /// a small e-graph to the pool costs more than they take), then on a
    /// pool thread; [`Iteration::threads`] says which. The result is the
    /// same either way.
    ///
    /// Calling `run` again on a runner that stopped goes on from where it
    /// stopped (egg's runner panics instead): the stop reason is cleared,
    /// and the iterations, which keep counting towards the iteration
    /// limit, and the clock of the time limit, which started at the first
    /// iteration, are the whole run's. The rules' scheduling state starts
    /// over (the rules may differ): the first iteration searches every
    /// class, and backoff's counts and bans begin anew, so under backoff
    /// the result can differ from one longer run's (under
    /// [`Scheduler::Simple`] it is the same). Raise a limit before going on
    /// past it:
    ///
    /// ```
    /// use saturn::*;
    /// let rules: Vec<Rewrite<SymbolLang, ()>> = vec![rewrite!("wrap"; "(f ?a)" => "(f (g ?a))")];
    /// let start: RecExpr<SymbolLang> = "(f x)".parse().unwrap();
    /// let runner = Runner::default().with_expr(&start).with_iter_limit(2).run(&rules);
    /// assert_eq!(runner.stop_reason, Some(StopReason::IterationLimit(2)));
    /// let runner = runner.with_iter_limit(5).run(&rules);
    /// assert_eq!(runner.stop_reason, Some(StopReason::IterationLimit(5)));
    /// assert_eq!(runner.iterations.len(), 5);
    /// ```
    pub fn run(mut self, rules: &[Rewrite<L, N>]) -> Self {
        self.stop_reason = None;
        // Lock-free hashcons lookups in the rounds, even on an e-graph an
        // asynchronous run left layered.
        self.egraph.settle_hashcons();
        self.egraph.rebuild();
        self.states = rules
            .iter()
            .map(|r| RuleState {
                local: r.is_local(),
                conditions_local: r.conditions_are_local(),
                ..RuleState::default()
            })
            .collect();
        self.rule_roots = rules
            .iter()
            .map(|r| r.searcher.root_discriminant())
            .collect();
        let pool = match self.pool.take() {
            Some(p) => Some(p),
            None if self.threads == 1 => None,
            None => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .build()
                    .expect("thread pool"),
            )),
        };
        match &pool {
            Some(p) if p.current_num_threads() > 1 => {
                // While the e-graph is small, run on this thread, marked
                // sequential (handing a small phase to the pool costs more
                // than it saves; see `crate::par`); once it is large, run
                // on a pool thread, which then takes part in every
                // parallel phase without a hand-off.
                crate::par::sequentially(|| self.iterate(rules, Some(INSTALL_NODES)));
                if self.stop_reason.is_none() {
                    p.install(|| self.iterate(rules, None));
                }
            }
            // One thread: stay on the caller's thread.
            _ => crate::par::sequentially(|| self.iterate(rules, None)),
        }
        self.pool = pool;
        self
    }

    /// Runs iterations until a stop reason, or (with `until`) until the
    /// hashcons holds at least that many nodes.
    fn iterate(&mut self, rules: &[Rewrite<L, N>], until: Option<usize>) {
        while self.stop_reason.is_none() && until.is_none_or(|n| self.egraph.total_size() < n) {
            let it = self.run_one(rules);
            self.stop_reason = it.stop_reason.clone();
            self.iterations.push(it);
            // As egg: limits are checked after each iteration too, so an
            // iteration limit of n runs exactly n iterations.
            if self.stop_reason.is_none() {
                self.stop_reason = self.check_limits(&self.limits()).err();
            }
        }
    }

    /// The limits checked between iterations: [`Limits::check`]'s, with
    /// the iteration limit before the cancel flag.
    fn check_limits(&self, limits: &Limits) -> Result<(), StopReason> {
        limits.check_growth(&self.egraph, true)?;
        if self.iterations.len() >= self.iter_limit {
            return Err(StopReason::IterationLimit(self.iterations.len()));
        }
        limits.check_cancel()
    }

    /// The limits as of now (the run must have started), owned, so that
    /// a commit, which holds the e-graph mutably, checks them too.
    fn limits(&self) -> Limits {
        Limits {
            start: self.start.expect("started"),
            time: self.time_limit,
            nodes: self.node_limit,
            bytes: self.memory_limit,
            cancel: self.cancel.clone(),
        }
    }

    fn run_one(&mut self, rules: &[Rewrite<L, N>]) -> Iteration {
        let i = self.iterations.len();
        self.start.get_or_insert_with(Instant::now);
        let mut it = Iteration {
            egraph_nodes: self.egraph.total_size(),
            egraph_classes: self.egraph.number_of_classes(),
            threads: crate::par::threads(),
            ..Default::default()
        };
        let ids_before = self.egraph.number_of_ids();
        let limits = self.limits();
        let mut result = self.check_limits(&limits);
        if result.is_ok() {
            let mut hooks = std::mem::take(&mut self.hooks);
            result = hooks
                .iter_mut()
                .try_for_each(|h| h(self).map_err(StopReason::Other));
            self.hooks = hooks;
            if !self.egraph.is_clean() {
                self.egraph.rebuild();
            }
        }
        if let Err(r) = result {
            it.stop_reason = Some(r);
            return it;
        }
        let t0 = Instant::now();
        self.log.push(self.egraph.take_changes());

        // ---- search ----
        let plans = self.plan_search(rules, i);
        let threads = crate::par::threads();
        let large: &[Id] = if threads > 1 {
            self.egraph.refresh_large_classes();
            self.egraph.large_classes()
        } else {
            &[]
        };
        let items = make_items(&self.egraph, large, rules, &plans, &self.states, threads);
        // Each phase's end is the next one's start: one clock read per
        // boundary (a tiny run reads the clock a few dozen times), and each
        // boundary is also a deadline check.
        let tm = Instant::now();
        it.plan_time = (tm - t0).as_secs_f64();
        let egraph = &self.egraph;
        // Workers poll the deadline and the cancel flag between items, so a
        // long search stops promptly; the e-graph is untouched by search.
        let deadline = limits.deadline();
        let past = |t: Instant| deadline.is_some_and(|d| t > d);
        let abort = std::sync::atomic::AtomicBool::new(false);
        // Whether work must stop: another worker stopped, the run was
        // cancelled, or (when `poll`: reading the clock costs) the
        // deadline passed.
        let should_abort = |poll: bool| {
            abort.load(std::sync::atomic::Ordering::Relaxed)
                || (poll && past(Instant::now()))
                || limits.cancelled()
        };
        // With backoff, a rule is banned when its matches over all roots
        // exceed its limit. Once the matches found so far make that
        // certain, the rest of its search only counts: the matches would
        // be dropped, but the per-root counts must stay exact. `floor` is
        // what the rule's total keeps whatever this search finds (the
        // counts of roots not searched now).
        let (limit, floor) = self.ban_bounds(&plans);
        // Without backoff nothing bounds a round's matches: one rule over
        // an associative-commutative blow-up can find tens of millions in
        // an e-graph of thousands of nodes, and staging them would take
        // seconds and gigabytes, although the node limit stops the commit
        // long before their end. So a round stages at most `budget`
        // matches, the first ones in commit order, and the run stops
        // after it (see `match_budget`). The search keeps only matches
        // that can be among them: `before` is the matches of the leading
        // items that have finished (items `0..next`), a lower bound of
        // the matches before any item still running; an item's cap is what
        // it leaves of the budget, and the first match past the cap ends
        // the item's search, and the round's (see `first_cut`). (The
        // e-graph does not change during search, so the budget is known
        // now.)
        let budget = match self.scheduler {
            Scheduler::Simple => match_budget(
                limits.room(&self.egraph),
                limits.bytes.saturating_sub(self.egraph.approx_bytes()) / 2 / match_bytes(rules),
            ),
            Scheduler::Backoff { .. } => usize::MAX,
        };
        let bounded = budget != usize::MAX;
        let before = std::sync::atomic::AtomicUsize::new(0);
        let frontier = std::sync::Mutex::new(0usize);
        // Per item: its match count plus one once it has finished.
        let finished: Vec<std::sync::atomic::AtomicUsize> = if bounded {
            (0..items.len()).map(|_| Default::default()).collect()
        } else {
            vec![]
        };
        let item_ids: Vec<usize> = (0..items.len()).collect();
        let so_far: Vec<std::sync::atomic::AtomicUsize> =
            (0..rules.len()).map(|_| Default::default()).collect();
        // Per rule: nanoseconds and roots of its timed items (none on
        // one thread).
        let timed: Vec<(AtomicU64, AtomicU64)> = if threads > 1 {
            (0..rules.len()).map(|_| Default::default()).collect()
        } else {
            vec![]
        };
        // Per item: (root, number of substs) and the substs. Few roots
        // are searched on this thread.
        let n_roots: usize = items.iter().map(|x| x.end - x.start).sum();
        // The first item (in commit order) that left out a match for the
        // budget: the round is then cut (it found more matches than the
        // budget), and every match after that one is past the budget, so
        // later items stop searching (see `Iteration::n_matches`).
        let first_cut = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let cut_before = |k: usize| first_cut.load(std::sync::atomic::Ordering::Relaxed) < k;
        let found: Vec<Found> = sequentially_if(n_roots < PAR_MIN_ROOTS, || {
            par_map(&item_ids, |&k| {
                let item = &items[k];
                if should_abort(item.poll) {
                    abort.store(true, std::sync::atomic::Ordering::Relaxed);
                    return (vec![], FlatMatches::default(), false);
                }
                if cut_before(k) {
                    return (vec![], FlatMatches::default(), true);
                }
                // Polled inside each root's search too (see `Polled`): one
                // root can take seconds.
                let halt = || should_abort(true) || cut_before(k);
                let r = item.rule;
                let started = item.timed.then(Instant::now);
                let pat = &rules[r].searcher;
                let roots = plans[r].as_ref().expect("planned");
                // Only roots with matches: most roots have none.
                let mut per_root = vec![];
                let mut substs = Polled::new(FlatMatches::new(pat), &halt);
                let mut regs = pat.registers();
                let certain = |mine: usize| {
                    floor[r] + so_far[r].load(std::sync::atomic::Ordering::Relaxed) + mine
                        > limit[r]
                };
                let mut mine = 0;
                // Whether this item left out a match: for the budget (the
                // round is then cut), or for a ban, or past 32 bits.
                let mut truncated = false;
                let mut counting = limit[r] != usize::MAX && certain(0);
                let mut halted = false;
                // With a budget, the first match left out ends the item's
                // search (see `first_cut`).
                substs.over_stops = bounded;
                for &root in &roots[item.start..item.end] {
                    let range = item.nodes.clone();
                    let n = if counting {
                        let mut c = Polled::new(crate::pattern::Count(0), &halt);
                        let n = pat.search_with_regs(egraph, root, range, &mut regs, &mut c);
                        halted = c.stopped();
                        n
                    } else {
                        // Keep no more than could be staged (a round's
                        // budget: what the leading finished items left of
                        // it) or than could leave the rule unbanned; past
                        // that, stop (budget) or only count (ban; see
                        // `Polled`).
                        substs.cap = if bounded {
                            budget.saturating_sub(before.load(std::sync::atomic::Ordering::Acquire))
                        } else {
                            usize::MAX
                        };
                        if limit[r] != usize::MAX {
                            let left = limit[r].saturating_sub(
                                floor[r] + so_far[r].load(std::sync::atomic::Ordering::Relaxed),
                            );
                            substs.cap = substs.cap.min(left.saturating_add(1));
                        }
                        // A root's count is kept in 32 bits (saturated):
                        // what it keeps must fit.
                        substs.cap = substs.cap.min(u32::MAX as usize);
                        pat.search_with_regs(egraph, root, range, &mut regs, &mut substs)
                    };
                    if halted || substs.stopped() {
                        if !should_abort(false) && cut_before(k) {
                            // Past an earlier item's cut: nothing here
                            // can be staged, and the count is not needed.
                            truncated = true;
                            substs.inner = FlatMatches::default();
                            break;
                        }
                        // A limit passed inside the search: the round is
                        // abandoned (below), so what was found is moot.
                        abort.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    if n > 0 {
                        if per_root.capacity() == 0 {
                            per_root.reserve(item.end - item.start);
                        }
                        // Saturated: a root counted for seconds can pass
                        // 2^32 matches, but keeps at most its cap (the
                        // staging below reads only kept ones).
                        per_root.push((root, u32::try_from(n).unwrap_or(u32::MAX)));
                    }
                    mine += n;
                    if !counting && substs.dropped_some() {
                        // Its cap left a match out. With a budget, the
                        // round is cut: this item's later matches and the
                        // later items are past the budget. With backoff,
                        // the rule is banned (its budget and ban parts
                        // imply one of the two), and it only counts from
                        // here on, for exact per-root counts; the 32-bit
                        // part (a ban limit past 2^32; a budget is below
                        // it) implies neither, so the round is cut too, as
                        // at the budget, and no match found is lost to
                        // incremental matching.
                        truncated = true;
                        if bounded {
                            first_cut.fetch_min(k, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                        counting = true;
                    }
                    counting = counting || (limit[r] != usize::MAX && certain(mine));
                }
                if bounded {
                    // Done: move the frontier past the leading finished
                    // items. (Stored before locking, so whoever locks last
                    // sees it.)
                    finished[k].store(mine + 1, std::sync::atomic::Ordering::Release);
                    let mut next = frontier.lock().unwrap_or_else(|e| e.into_inner());
                    let mut sum = 0;
                    while *next < finished.len() {
                        let f = finished[*next].load(std::sync::atomic::Ordering::Acquire);
                        if f == 0 {
                            break;
                        }
                        sum += f - 1;
                        *next += 1;
                    }
                    before.fetch_add(sum, std::sync::atomic::Ordering::Release);
                }
                if limit[r] != usize::MAX {
                    so_far[r].fetch_add(mine, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(t) = started {
                    let (ns, n) = &timed[r];
                    ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    n.fetch_add((item.end - item.start) as u64, Ordering::Relaxed);
                }
                (per_root, substs.inner, truncated)
            })
        });
        drop(item_ids);
        let t_found = Instant::now();
        it.match_time = (t_found - tm).as_secs_f64();
        if abort.load(std::sync::atomic::Ordering::Relaxed) || past(tm) || past(t_found) {
            // Nothing was changed this iteration; the e-graph is as the
            // last rebuild left it.
            it.search_time = (t_found - t0).as_secs_f64();
            it.total_time = it.search_time;
            it.stop_reason = Some(
                limits
                    .check(&self.egraph, true)
                    .err()
                    .unwrap_or_else(|| StopReason::Other("cancelled".into())),
            );
            return it;
        }
        // From the plans, not the items: a root split into pieces (with
        // several threads only) is in several items but searched once.
        it.roots_searched = plans.iter().flatten().map(|p| p.len()).sum();
        for (st, (ns, n)) in self.states.iter_mut().zip(&timed) {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let cost = ns.load(Ordering::Relaxed) as f64 / n as f64;
                st.ns_per_root = if st.ns_per_root > 0.0 {
                    (st.ns_per_root + cost) / 2.0
                } else {
                    cost
                };
            }
        }
        // Update exact per-rule totals, then let the scheduler decide:
        // clear the counts of every root searched (the items cover each
        // rule's planned roots), then add what was found (a split root
        // appears in several items).
        for (st, plan) in self.states.iter_mut().zip(&plans) {
            for &root in plan.as_deref().unwrap_or_default() {
                st.counts.forget(root);
            }
        }
        for (item, (per_root, substs, _)) in items.iter().zip(&found) {
            it.n_stored += substs.len();
            let st = &mut self.states[item.rule];
            for &(root, n) in per_root {
                st.counts.add(root, n);
            }
            it.n_matches += per_root.iter().map(|&(_, n)| n as usize).sum::<usize>();
        }
        let mut accept = vec![false; rules.len()];
        for (r, plan) in plans.iter().enumerate() {
            if plan.is_none() {
                continue;
            }
            accept[r] = match self.scheduler {
                Scheduler::Simple => true,
                Scheduler::Backoff {
                    match_limit,
                    ban_length,
                } => {
                    let st = &mut self.states[r];
                    let threshold = match_limit << st.times_banned;
                    if st.counts.total() > threshold {
                        st.banned_until = i + (ban_length << st.times_banned);
                        st.times_banned += 1;
                        st.last_search = st.prev_search;
                        false
                    } else {
                        true
                    }
                }
            };
        }
        // A rule whose search switched to counting is banned: its stored
        // matches are incomplete and must not be applied.
        debug_assert!((0..rules.len()).all(|r| !accept[r]
            || limit[r] == usize::MAX
            || floor[r] + so_far[r].load(std::sync::atomic::Ordering::Relaxed) <= limit[r]));
        let t1 = Instant::now();
        it.search_time = (t1 - t0).as_secs_f64();

        // ---- apply: stage in parallel, commit in order ----
        // Staging work: the accepted matches cut into units of at most
        // STAGE_UNIT, in match order, so one root or item with many
        // matches spreads over all threads. A unit's buffer is the same
        // as that part of a whole item's would be (a match's staging does
        // not read what earlier ones staged), so the commit is unchanged.
        let mut units: Vec<StageUnit> = Vec::with_capacity(items.len());
        let mut unit_of: Vec<usize> = Vec::with_capacity(items.len() + 1);
        let mut n_staged = 0;
        // Under backoff the search keeps what the bans allow, which a
        // memory limit does not bound: three rules of an
        // associative-commutative blow-up at high ban limits staged 300 MB
        // of actions under a 100 MiB limit, and the commit's first check
        // stopped the run before it committed anything. So under a memory
        // limit backoff stages in waves, in commit order, each of the
        // matches that half the bytes left would hold by a high estimate
        // of a match's bytes (`match_bytes`, as the budget without backoff
        // counts them; at least 2^16), and stops after the wave whose
        // staged actions (counted as the commits count them,
        // `Actions::held_bytes`) pass the limit: the round is cut there,
        // and its commits' checks stop the run at the memory limit. The
        // cut depends only on lengths, so on no thread count; a round
        // whose actions fit is staged whole, however many matches it has
        // (matches that find their right-hand side present stage little).
        // Without a memory limit it is one wave: egg bounds nothing there
        // either.
        let wave = match self.scheduler {
            Scheduler::Backoff { .. } if limits.bytes != usize::MAX => {
                (limits.bytes.saturating_sub(self.egraph.approx_bytes()) / 2 / match_bytes(rules))
                    .max(LEAST_MATCH_BUDGET)
            }
            _ => usize::MAX,
        };
        // The first `budget` matches in commit order (see above); the first
        // item that left a match out holds the budget's end. Units end at
        // multiples of `wave` (in commit order, over the matches staged),
        // so waves do not depend on how the search cut its work into items,
        // which depends on the thread count.
        let mut cut = false;
        for (k, (item, (per_root, substs, truncated))) in items.iter().zip(&found).enumerate() {
            unit_of.push(units.len());
            if !accept[item.rule] || cut {
                continue;
            }
            let take = substs.len().min(budget - n_staged);
            cut = take < substs.len() || *truncated;
            let base = n_staged;
            n_staged += take;
            let (mut j, mut pos, mut a) = (0, 0, 0);
            while a < take {
                while pos + per_root[j].1 as usize <= a {
                    pos += per_root[j].1 as usize;
                    j += 1;
                }
                let mut b = (a + STAGE_UNIT).min(take);
                if wave != usize::MAX {
                    b = b.min(a + (wave - (base + a) % wave));
                }
                units.push(StageUnit {
                    item: k,
                    root: j,
                    pos,
                    matches: a..b,
                    poll: units.len() % POLL_EVERY == POLL_EVERY - 1,
                });
                a = b;
            }
        }
        unit_of.push(units.len());
        if cut && bounded {
            // The search stopped at the first match past the budget (see
            // `first_cut`): what it counted depends on timing, so the
            // round reports that one match.
            it.n_matches = budget.saturating_add(1);
        }
        let mut memory_cut = None;
        let states = &self.states;
        let stage_units = |units: &[StageUnit]| -> Vec<Actions<L>> {
            let n: usize = units.iter().map(|u| u.matches.len()).sum();
            sequentially_if(n < PAR_MIN_MATCHES, || {
                par_map(units, |u| {
                    let item = &items[u.item];
                    if should_abort(u.poll) {
                        // Past the deadline or cancelled: stage nothing more.
                        abort.store(true, std::sync::atomic::Ordering::Relaxed);
                        return Actions::default();
                    }
                    let (per_root, substs, _) = &found[u.item];
                    let rule = &rules[item.rule];
                    // A pattern rule without conditions is staged from the
                    // bindings: its slots and right-hand side, once per unit.
                    let direct = states[item.rule]
                        .slots
                        .get_or_init(|| rule.binding_slots())
                        .as_deref()
                        .zip(rule.applier.pattern());
                    // A pattern rule stages one union per match, and at most
                    // its right-hand side's nodes (most exist already: a
                    // quarter of that is room enough to rarely regrow).
                    let unit = u.matches.len();
                    let mut out = match direct {
                        Some((_, rhs)) => Actions::with_capacity(unit * rhs.ast().len() / 4, unit),
                        None => Actions::default(),
                    };
                    let (mut j, mut p) = (u.root, u.pos);
                    while p < u.matches.end {
                        let (root, n) = per_root[j];
                        let end = p + n as usize;
                        let from = p.max(u.matches.start);
                        let ms = from..end.min(u.matches.end);
                        match direct {
                            Some((slots, rhs)) => {
                                for m in ms {
                                    let bindings = substs.get(m);
                                    rule.stage_bindings(
                                        egraph, root, rhs, slots, bindings, &mut out,
                                    );
                                }
                            }
                            None => {
                                for m in ms {
                                    let subst = substs.subst(&rule.searcher, m);
                                    rule.stage(egraph, root, &subst, &mut out);
                                }
                            }
                        }
                        p = end;
                        j += 1;
                    }
                    out
                })
            })
        };
        let staged: Vec<Actions<L>> = if wave == usize::MAX {
            stage_units(&units)
        } else {
            let mut staged: Vec<Actions<L>> = Vec::with_capacity(units.len());
            let (mut from, mut held) = (0, 0usize);
            while from < units.len() {
                // One wave: units up to the next multiple of `wave`.
                let mut to = from;
                let mut n = 0;
                while to < units.len() && (to == from || n + units[to].matches.len() <= wave) {
                    n += units[to].matches.len();
                    to += 1;
                }
                let more = stage_units(&units[from..to]);
                held += more.iter().map(|a| a.held_bytes()).sum::<usize>();
                staged.extend(more);
                from = to;
                // Half the bytes left for the actions, half for what
                // committing them adds.
                let bytes = Limits::bytes_holding(&self.egraph, 2 * held, 0);
                if from < units.len() && bytes > limits.bytes {
                    memory_cut = Some(bytes);
                    break;
                }
            }
            // Items past the cut have nothing staged.
            for u in unit_of.iter_mut() {
                *u = (*u).min(staged.len());
            }
            staged
        };
        drop(units);
        drop(found);
        let t_staged = Instant::now();
        it.stage_time = (t_staged - t1).as_secs_f64();
        if abort.load(std::sync::atomic::Ordering::Relaxed) || past(t_staged) {
            // Stopped while staging: nothing was committed, the e-graph is
            // as the last rebuild left it.
            it.apply_time = it.stage_time;
            it.total_time = (t_staged - t0).as_secs_f64();
            it.stop_reason = Some(
                limits
                    .check(&self.egraph, true)
                    .err()
                    .unwrap_or_else(|| StopReason::Other("cancelled".into())),
            );
            return it;
        }
        // The staged actions stay in memory until every rule's commit has
        // run: the commits' memory checks count them (see
        // `Actions::held_bytes`), with the e-graph's spare room.
        let held: usize = staged.iter().map(|a| a.held_bytes()).sum();
        let mut applied: Vec<usize> = vec![0; rules.len()];
        let mut result = Ok(());
        let mut prev_rule = None;
        // Commit rule by rule (limits are checked between rules, as egg
        // does); each rule's buffers are committed as one batch. The
        // clock is read only once the commits since the last read may
        // have taken a while (see `CLOCK_MATCHES`): a tiny run commits
        // dozens of rules of a few matches each.
        let (mut unclocked_matches, mut unclocked_rules) = (0, 0);
        // One rule's non-empty buffers at a time.
        let mut buffers: Vec<&Actions<L>> = Vec::with_capacity(staged.len());
        let mut k = 0;
        while k < items.len() {
            let rule = items[k].rule;
            let mut e = k;
            while e < items.len() && items[e].rule == rule {
                e += 1;
            }
            // A rule's commit checks the limits at least every `ADD_CHUNK`
            // nodes it adds, and adds at most the nodes it staged (plus
            // what an analysis's `modify` adds, one node per new class for
            // constant folding, which this leaves out): a table that would
            // grow past the limit before the next check is counted at this
            // one.
            let horizon = staged[unit_of[k]..unit_of[e]]
                .iter()
                .map(|a| a.nodes.len())
                .sum::<usize>()
                .min(crate::egraph::ADD_CHUNK);
            if prev_rule.is_some() {
                let clock = clock_due(unclocked_matches, unclocked_rules);
                result = limits.check_holding(&self.egraph, clock, held, horizon);
                if result.is_err() {
                    break;
                }
                if clock {
                    (unclocked_matches, unclocked_rules) = (0, 0);
                }
            }
            prev_rule = Some(rule);
            buffers.clear();
            buffers.extend(
                staged[unit_of[k]..unit_of[e]]
                    .iter()
                    .filter(|a| !a.is_empty()),
            );
            if !buffers.is_empty() {
                // The limit that cut this commit short, if one did (then
                // some of its matches were dropped, and the iteration must
                // stop with that limit, never look saturated). The first
                // one seen is kept: a check after the cut could pass again
                // (`modify` may merge the classes the commit made, and
                // fewer classes count fewer list headers as spare room).
                let stopped: std::cell::RefCell<Option<StopReason>> = Default::default();
                let over = |eg: &EGraph<L, N>| match limits.check_holding(eg, true, held, horizon) {
                    Ok(()) => false,
                    Err(reason) => {
                        stopped.borrow_mut().get_or_insert(reason);
                        true
                    }
                };
                applied[rule] += crate::rewrite::commit_all(
                    &mut self.egraph,
                    &buffers,
                    &over,
                    limits.nodes,
                    &mut self.commit_scratch,
                );
                unclocked_matches += buffers.iter().map(|a| a.len()).sum::<usize>();
                unclocked_rules += 1;
                if let Some(reason) = stopped.into_inner() {
                    result = Err(reason);
                    break;
                }
            }
            k = e;
        }
        if result.is_ok() && prev_rule.is_some() {
            // Every commit ran to its end; past the deadline or not, what
            // this iteration did is complete. A run that goes on reads the
            // clock first thing in the next iteration.
            let clock = clock_due(unclocked_matches, unclocked_rules);
            result = limits.check(&self.egraph, clock);
        }
        if result.is_ok() {
            // A staging cut at the memory limit (which the commits' own
            // checks, counting the staged actions, normally report first):
            // the matches left out would be lost to incremental matching.
            if let Some(bytes) = memory_cut {
                result = Err(StopReason::MemoryLimit(bytes));
            } else if cut {
                result = Err(StopReason::Other(format!(
                    "match budget: a round found more than {budget} matches"
                )));
            }
        }
        drop(staged);
        it.applied = rules
            .iter()
            .zip(&applied)
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name, n))
            .collect();
        let t2 = Instant::now();
        it.apply_time = (t2 - t1).as_secs_f64();

        // ---- rebuild ----
        it.n_rebuilds = self.egraph.rebuild();
        let t3 = Instant::now();
        it.rebuild_time = (t3 - t2).as_secs_f64();
        it.total_time = (t3 - t0).as_secs_f64();

        // In egg's order: bans are fast-forwarded whenever no rule
        // changed anything and no limit stopped the run, even if nodes
        // were added (conditions and hooks may add some without a union);
        // only then is the e-graph compared.
        let saturated = result.is_ok()
            && it.applied.is_empty()
            && self.can_stop(i)
            && self.egraph.number_of_ids() == ids_before
            && self.egraph.number_of_classes() == it.egraph_classes;
        if saturated {
            result = Err(StopReason::Saturated);
        }
        it.stop_reason = result.err();
        it
    }

    /// Per rule, the match count above which backoff bans it this
    /// iteration (`usize::MAX`: never, or not searched), and its total
    /// over the roots not searched now.
    fn ban_bounds(&self, plans: &[Option<Arc<[Id]>>]) -> (Vec<usize>, Vec<usize>) {
        let mut limit = vec![usize::MAX; plans.len()];
        let mut floor = vec![0; plans.len()];
        let Scheduler::Backoff { match_limit, .. } = self.scheduler else {
            return (limit, floor);
        };
        for (r, plan) in plans.iter().enumerate() {
            let Some(roots) = plan else { continue };
            let st = &self.states[r];
            limit[r] = match_limit << st.times_banned;
            let searched: usize = roots.iter().map(|&root| st.counts.get(root) as usize).sum();
            floor[r] = st.counts.total() - searched;
        }
        (limit, floor)
    }

    /// With backoff, an apparent fixed point only counts when no rule is
    /// banned; otherwise bans are fast-forwarded (as egg does). Called
    /// after every iteration in which no rule changed the e-graph and no
    /// limit stopped the run.
    fn can_stop(&mut self, i: usize) -> bool {
        let banned: Vec<usize> = (0..self.states.len())
            .filter(|&r| self.states[r].banned_until > i)
            .collect();
        if banned.is_empty() {
            return true;
        }
        let min_ban = banned
            .iter()
            .map(|&r| self.states[r].banned_until)
            .min()
            .expect("non-empty");
        let delta = min_ban - i;
        for &r in &banned {
            self.states[r].banned_until -= delta;
        }
        false
    }

    /// For each rule, the sorted roots to search this iteration, or `None`
    /// when the rule is banned. Rules with the same depth and last search
    /// share one list.
    fn plan_search(&mut self, rules: &[Rewrite<L, N>], i: usize) -> Vec<Option<Arc<[Id]>>> {
        let mut plans = Vec::with_capacity(rules.len());
        // Candidate sets are shared by rules last searched at the same time.
        let mut neighborhoods: Vec<(usize, Neighborhood)> = vec![];
        // Full-search root lists, by root operator (`None`: a variable).
        type FullLists<D> = Vec<(Option<D>, Arc<[Id]>)>;
        let mut full_lists: FullLists<L::Discriminant> = vec![];
        let max_depth = rules.iter().map(|r| r.searcher.depth()).max().unwrap_or(0);
        // Root operators of the deepest rules (None if one has a variable
        // root, which any class can match).
        let last_ops: Option<Vec<L::Discriminant>> = rules
            .iter()
            .zip(&self.rule_roots)
            .filter(|(r, _)| r.searcher.depth() == max_depth)
            .map(|(_, root)| root.clone())
            .collect();
        // The neighbourhoods this iteration needs, one per distinct `since`,
        // computed from the latest (fewest changes) back: an earlier
        // `since` starts from a superset of changed classes, so once one
        // reaches almost everything (see [`NEAR_ALL`]) so do all earlier
        // ones, and they are not computed.
        let mut sinces: Vec<usize> = rules
            .iter()
            .zip(&self.states)
            .filter(|(_, st)| {
                i >= st.banned_until && self.incremental && st.local && st.last_search.is_some()
            })
            .map(|(_, st)| st.last_search.map_or(0, |s| s + 1))
            .collect();
        sinces.sort_unstable_by(|a, b| b.cmp(a));
        sinces.dedup();
        // Nor, in a later iteration, one that starts no later than a
        // `since` that reached almost everything before: its changes hold
        // those. (Merges since may bring the count under the share; then
        // its rules are searched in full. That is always sound, and
        // planning already chooses it by size: a full search also re-finds
        // old matches, whose application changes nothing, and the per-root
        // counts give the backoff scheduler the same totals either way.
        // On egg's lambda_function_repeat it skips 18 of the 33
        // neighbourhood searches that reach almost everything: planning
        // went from 12.7 to 9.7 ms.)
        let mut saturated = false;
        for since in sinces {
            saturated = saturated || self.near_all_since.is_some_and(|s| since <= s);
            let nb = if saturated {
                Neighborhood::everything()
            } else {
                Neighborhood::compute(
                    &self.egraph,
                    &self.log,
                    since,
                    max_depth,
                    last_ops.as_deref(),
                    &mut self.seen,
                )
            };
            saturated = nb.everything;
            if saturated && self.near_all_since.is_none_or(|s| since > s) {
                self.near_all_since = Some(since);
            }
            neighborhoods.push((since, nb));
        }
        for (r, rule) in rules.iter().enumerate() {
            let st = &mut self.states[r];
            if i < st.banned_until {
                plans.push(None);
                continue;
            }
            let full = !self.incremental || !st.local || st.last_search.is_none();
            let since = st.last_search.map_or(0, |s| s + 1);
            st.prev_search = st.last_search;
            st.last_search = Some(i);
            let roots = if full {
                None
            } else {
                let k = neighborhoods
                    .iter()
                    .position(|(s, _)| *s == since)
                    .expect("every incremental rule's neighbourhood is planned");
                let nb = &mut neighborhoods[k].1;
                // Roots that were merged away lose their counts.
                let st = &mut self.states[r];
                for &d in &nb.dead {
                    st.counts.forget(d);
                }
                let mut roots = nb.roots(
                    &self.egraph,
                    rule.searcher.depth(),
                    rule.searcher.root_node(),
                    self.egraph.number_of_classes(),
                );
                if let Some(r) = roots.as_mut() {
                    if !st.conditions_local {
                        // Old matches may pass their condition now: add
                        // the canonical classes that matched before (in
                        // id order, as the roots are: merged, not sorted).
                        let uf = self.egraph.union_find();
                        let old = st.counts.roots_where(|k| uf.find(k) == k);
                        *r = merge_sorted(r, old).into();
                    }
                }
                roots
            };
            let roots = match roots {
                Some(r) => r,
                None => {
                    let st = &mut self.states[r];
                    st.counts.clear();
                    let d = self.rule_roots[r].clone();
                    match full_lists.iter().find(|(k, _)| *k == d) {
                        Some((_, list)) => list.clone(),
                        None => {
                            let list: Arc<[Id]> = match &d {
                                Some(d) => self.egraph.classes_with_op(d).into(),
                                None => self.egraph.classes().map(|c| c.id).collect(),
                            };
                            full_lists.push((d, list.clone()));
                            list
                        }
                    }
                }
            };
            plans.push(Some(roots));
        }
        plans
    }

    /// One line per iteration and totals, for humans.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let (mut se, mut ap, mut rb) = (0.0, 0.0, 0.0);
        for it in &self.iterations {
            se += it.search_time;
            ap += it.apply_time;
            rb += it.rebuild_time;
        }
        s += &format!(
            "Runner report\n  stop reason: {:?}\n  iterations: {}\n  classes: {}\n  nodes: {}\n  search {:.4}s, apply {:.4}s, rebuild {:.4}s\n",
            self.stop_reason,
            self.iterations.len(),
            self.egraph.number_of_classes(),
            self.egraph.total_number_of_nodes(),
            se,
            ap,
            rb
        );
        s
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{rewrite, SymbolLang};

    #[test]
    fn the_match_budget_is_16_per_node_of_room_and_at_least_2_16() {
        let m = usize::MAX;
        assert_eq!(match_budget(0, m), 1 << 16);
        assert_eq!(match_budget(3, m), 1 << 16);
        assert_eq!(match_budget(10_000, m), 160_000);
        assert_eq!(match_budget(usize::MAX, m), u32::MAX as usize);
        // No more than the memory limit's room holds, still 2^16 at least.
        assert_eq!(match_budget(10_000, 100_000), 100_000);
        assert_eq!(match_budget(10_000, 1_000), 1 << 16);
    }

    #[test]
    fn a_match_s_bytes_count_its_bindings_and_its_right_hand_side() {
        use crate::{rewrite, SymbolLang};
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("a"; "(f ?x ?y)" => "(g (h ?x) ?y)"),
            rewrite!("b"; "(f ?x)" => "?x"),
        ];
        let (id, node) = (4, std::mem::size_of::<SymbolLang>());
        // (g (h ?x) ?y): four positions, two of them nodes; all counted.
        assert_eq!(match_bytes(&rules), 2 * id + 4 * id + 4 * node);
    }

    #[test]
    fn merge_sorted_is_the_sorted_union() {
        let ids = |v: &[usize]| v.iter().map(|&i| Id::from(i)).collect::<Vec<_>>();
        let got = merge_sorted(&ids(&[1, 3, 5, 9]), ids(&[0, 3, 4, 9, 12]).into_iter());
        assert_eq!(got, ids(&[0, 1, 3, 4, 5, 9, 12]));
        assert_eq!(merge_sorted(&[], ids(&[2]).into_iter()), ids(&[2]));
        assert_eq!(merge_sorted(&ids(&[2]), std::iter::empty()), ids(&[2]));
    }

    /// A runner run again after a stop goes on: under the simple scheduler,
    /// the same e-graph as one run to the higher limit at once. (Under
    /// backoff the bans start over: on these 8 leaves, 5 then 10
    /// iterations gave 2,013 nodes where one run of 10 gives 2,686.)
    #[test]
    fn a_second_run_goes_on_where_the_first_stopped() {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("comm"; "(+ ?a ?b)" => "(+ ?b ?a)"),
            rewrite!("assoc"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        ];
        let start: RecExpr<SymbolLang> = "(+ a (+ b (+ c (+ d (+ e (+ f (+ g h)))))))"
            .parse()
            .unwrap();
        let runner = || {
            Runner::default()
                .with_expr(&start)
                .with_scheduler(Scheduler::Simple)
                .with_node_limit(10_000_000)
        };
        let once = runner().with_iter_limit(6).run(&rules);
        let first = runner().with_iter_limit(3).run(&rules);
        assert_eq!(first.stop_reason, Some(StopReason::IterationLimit(3)));
        let twice = first.with_iter_limit(6).run(&rules);
        assert_eq!(twice.stop_reason, once.stop_reason);
        assert_eq!(twice.iterations.len(), once.iterations.len());
        assert_eq!(
            twice.egraph.dump().to_string(),
            once.egraph.dump().to_string()
        );
    }
}
