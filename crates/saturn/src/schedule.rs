//! Schedules: running groups of rules (*passes*) under a chosen strategy.
//!
//! A [`Pipeline`] is an ordered list of passes; each pass is a named group
//! of rewrites. Build one from a rule file's [`RuleSet`] (its `[pass]`
//! sections, in file order) or in Rust with [`Pipeline::pass`]. A
//! [`Schedule`] runs a pipeline over an e-graph with one [`Strategy`],
//! chosen by value or by name (`"passes"`, `"bsp"`, `"async"`), under limits that hold
//! for the whole schedule, and returns a [`ScheduleReport`].
//!
//! # Strategies
//!
//! * **`passes`** (LLVM-style fixed order): each pass runs to its own fixed
//!   point (a [`Runner`] with only that pass's rules and
//!   [`Scheduler::Simple`], on the shared e-graph), then the next pass; the
//!   whole pipeline is swept again until one full sweep changes nothing (no
//!   new id, no union) or a limit is hit. A pass that is at its fixed point
//!   and whose e-graph has not changed since is skipped, because running it
//!   again provably changes nothing (the fixed point is a property of the
//!   e-graph alone); skipped passes count as unchanged in the sweep.
//! * **`bsp`** (bulk-synchronous parallel): the rules of all passes run
//!   together in one [`Runner`] ([`Scheduler::Simple`]); every round is a
//!   parallel search and apply followed by one global join (the rebuild).
//!   The pass structure only fixes the rule order.
//! * **`async`** (asynchronous fixed point): workers take dirty classes
//!   from work-stealing queues and run every pass's rules there; adds and
//!   unions are visible to all workers at once and congruence is repaired
//!   by the worker that merged. A global join happens only when the queues
//!   run dry (to confirm the fixed point, or to give new classes their
//!   analysis data) or a limit is reached. The design notes are in the
//!   source, `src/fixpoint.rs`; [`ScheduleReport::tasks`] counts the
//!   dirty classes processed.
//!
//! `passes` and `bsp` are deterministic: the e-graph and the report's
//! counts do not depend on the thread count. `async` interleaves workers, so
//! its match and task counts vary between runs. Its e-graph and stop reason do
//! not, as a rule: phases that run dry end at a fixed point that depends only
//! on their start, the result is renumbered canonically, and a phase that
//! passes the node or memory limit (part-way or at its end), outgrows its id
//! room or passes a match budget is rolled back and the run finished in `bsp`
//! rounds ([`ScheduleReport::rolled_back`]; details in `src/fixpoint.rs`). A
//! run so finished that saturates is renumbered canonically too, so it is
//! written out as a run of phases that ran dry would be. That matters for the
//! one caveat: whether a phase on several threads runs dry can depend on timing
//! (it makes congruent copies before the unions that merge them, and on an
//! overloaded machine it can make enough to fill its room). Then the rounds and
//! joins depend on timing (a run that undoes a phase counts it and the `bsp`
//! rounds after it), and so do the e-graph and stop reason of a run that a
//! round, node or memory limit stops rather than saturation. Under every
//! strategy a time limit or cancellation leaves a valid e-graph whose contents
//! depend on timing. On a rule set whose runs terminate (and whose conditions
//! only become true as the e-graph grows, such as `(= ?a ?b)`), all three reach
//! the same saturated e-graph, the least one closed under all rules: it has the
//! same classes and nodes (up to the naming of ids), the same equivalences and
//! the same best terms.
//!
//! # Trade-offs
//!
//! * A `passes` round searches only one pass's rules, so rounds are cheaper
//!   and a pass sees the fixed point of the passes before it (useful when
//!   later passes clean up after earlier ones, as in a compiler). But every
//!   pass run is a barrier too: a fresh [`Runner`] rebuilds first and its
//!   first round searches the whole e-graph (incremental matching state is
//!   per run), and a sweep that changes anything forces the other passes to
//!   run again. The report counts these in [`ScheduleReport::joins`].
//! * A pass that never reaches a fixed point (commutativity plus
//!   associativity on large terms, or a rule like `?a => (+ ?a 0)`) spends
//!   the whole shared budget and starves the passes after it. Use
//!   [`Schedule::with_pass_iter_limit`] to bound each pass run; the sweep
//!   then moves on and comes back later.
//! * `bsp` has one join per round and keeps incremental matching across
//!   the whole run, so it usually needs fewer rounds and joins; but every
//!   round searches every rule, and growth from all passes compounds, so on
//!   explosive rule sets it reaches the node limit in fewer rounds.
//! * `async` needs the fewest joins (a chain of rewrites, each enabled by
//!   the last, completes inside one phase), but a class may be matched
//!   again each time a class near it changes, it has no backoff, and rules
//!   that read analysis data wait for a join to see new classes' data.
//!   Its rounds are its phases: one join each.
//!
//! # Limits and threads
//!
//! The iteration (round), node, memory and time limits hold for the whole
//! schedule: under `passes`, each pass run gets the remaining round and time
//! budget and the same node and memory limits (they bound the shared e-graph),
//! and no pass starts once a limit is reached. The parallel phases of every run
//! use one thread pool, made once per [`Schedule::run`] from
//! [`Schedule::with_threads`] or given with [`Schedule::with_pool`].
//!
//! # Adding a strategy
//!
//! [`Strategy`] is `#[non_exhaustive]`. A name can be reserved in
//! [`Strategy::RESERVED`] before its strategy exists: parsing it is then
//! an error ([`StrategyError::NotImplemented`]) rather than a silent
//! fallback. Adding one means a new variant, a match arm in
//! [`Schedule::run`] filling the same [`ScheduleReport`], and listing the
//! name in [`Strategy::ALL`].
//!
//! ```
//! use saturn::rules::{parse_rules, Predicates};
//! use saturn::schedule::{Pipeline, Schedule, Strategy};
//! use saturn::*;
//!
//! let text = "
//!     [identities]
//!     zero-add: (+ ?a 0) => ?a
//!     one-mul:  (* ?a 1) => ?a
//!     [strength]
//!     mul2:     (* ?a 2) => (<< ?a 1)
//! ";
//! let set = parse_rules::<SymbolLang, ()>(text, &Predicates::default()).unwrap();
//! let pipeline = Pipeline::from_rule_set(&set);
//! let strategy: Strategy = "passes".parse().unwrap();
//!
//! let mut egraph = EGraph::<SymbolLang, ()>::default();
//! let root = egraph.add_expr(&"(* (+ x 0) (* 2 1))".parse().unwrap());
//! let out = Schedule::new(pipeline, strategy).with_threads(2).run(egraph);
//!
//! assert_eq!(out.report.stop_reason, StopReason::Saturated);
//! let shl = out.egraph.lookup_expr(&"(<< x 1)".parse().unwrap());
//! assert_eq!(shl, Some(out.egraph.find(root)));
//! let (cost, _) = Extractor::new(&out.egraph, AstSize).find_best(root);
//! assert_eq!(cost, 3); // (* x 2) or (<< x 1)
//! ```

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limits::Limits;
use crate::rules::RuleSet;
use crate::{Analysis, EGraph, FromOp, Iteration, Language, Rewrite, Runner, Scheduler};
use crate::{StopReason, Symbol};

/// An ordered list of passes, each a named group of rewrites.
///
/// Pass names need not be unique: a pipeline may run the same group twice,
/// as compiler pipelines do.
///
/// ```
/// use saturn::schedule::Pipeline;
/// use saturn::*;
///
/// let p: Pipeline<SymbolLang, ()> = Pipeline::new()
///     .pass("fold", vec![rewrite!("zero-add"; "(+ ?a 0)" => "?a")])
///     .pass("algebra", vec![
///         rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
///         rewrite!("comm-mul"; "(* ?a ?b)" => "(* ?b ?a)"),
///     ]);
/// assert_eq!(p.len(), 2);
/// assert_eq!(p.pass_name(1).as_str(), "algebra");
/// assert_eq!(p.pass_rules(1).len(), 2);
/// assert_eq!(p.rules().len(), 3); // all rules, in pass order
/// ```
pub struct Pipeline<L: Language, N: Analysis<L>> {
    /// All rules, pass after pass.
    rules: Vec<Rewrite<L, N>>,
    /// Each pass's name and its range in `rules`.
    passes: Vec<(Symbol, Range<usize>)>,
}

/// A copy of `r` sharing its applier and conditions. (`Rewrite`'s derived
/// `Clone` asks for `N: Clone`, which analyses need not be.)
fn copy_rewrite<L: Language, N: Analysis<L>>(r: &Rewrite<L, N>) -> Rewrite<L, N> {
    Rewrite {
        name: r.name,
        searcher: r.searcher.clone(),
        applier: r.applier.clone(),
        conditions: r.conditions.clone(),
    }
}

impl<L: Language, N: Analysis<L>> Clone for Pipeline<L, N> {
    fn clone(&self) -> Self {
        Pipeline {
            rules: self.rules.iter().map(copy_rewrite).collect(),
            passes: self.passes.clone(),
        }
    }
}

impl<L: Language, N: Analysis<L>> Default for Pipeline<L, N> {
    fn default() -> Self {
        Pipeline {
            rules: vec![],
            passes: vec![],
        }
    }
}

impl<L: Language, N: Analysis<L>> Pipeline<L, N> {
    /// An empty pipeline.
    ///
    /// ```
    /// let p = saturn::schedule::Pipeline::<saturn::SymbolLang, ()>::new();
    /// assert!(p.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pass named `name` running `rules`.
    ///
    /// ```
    /// use saturn::{rewrite, schedule::Pipeline, SymbolLang};
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("dce", vec![rewrite!("sel-t"; "(select true ?a ?b)" => "?a")]);
    /// assert_eq!(p.pass_name(0).as_str(), "dce");
    /// ```
    pub fn pass(
        mut self,
        name: impl Into<Symbol>,
        rules: impl IntoIterator<Item = Rewrite<L, N>>,
    ) -> Self {
        let start = self.rules.len();
        self.rules.extend(rules);
        self.passes.push((name.into(), start..self.rules.len()));
        self
    }

    /// The passes of a rule set, in its order, with copies of their rules.
    /// A rule listed in no pass is left out; one listed in two passes runs
    /// in both.
    ///
    /// ```
    /// use saturn::rules::{parse_rules, Predicates};
    /// use saturn::{schedule::Pipeline, SymbolLang};
    /// let text = "[a]\nr1: (f ?x) => ?x\n[b]\nr2: (g ?x) => ?x\nr3: (h ?x) => ?x\n";
    /// let set = parse_rules::<SymbolLang, ()>(text, &Predicates::default()).unwrap();
    /// let p = Pipeline::from_rule_set(&set);
    /// assert_eq!((p.len(), p.pass_rules(1).len()), (2, 2));
    /// ```
    pub fn from_rule_set(set: &RuleSet<L, N>) -> Self
    where
        L: FromOp,
    {
        let mut p = Pipeline::new();
        for pass in &set.passes {
            p = p.pass(
                pass.name,
                pass.rules.iter().map(|&r| copy_rewrite(&set.rules[r])),
            );
        }
        p
    }

    /// Number of passes.
    ///
    /// ```
    /// # use saturn::{rewrite, schedule::Pipeline, SymbolLang};
    /// let p = Pipeline::<SymbolLang, ()>::new().pass("a", vec![]).pass("a", vec![]);
    /// assert_eq!(p.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.passes.len()
    }

    /// True when there is no pass.
    ///
    /// ```
    /// assert!(saturn::schedule::Pipeline::<saturn::SymbolLang, ()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }

    /// The name of pass `k` (panics if `k >= self.len()`).
    ///
    /// ```
    /// # use saturn::{schedule::Pipeline, SymbolLang};
    /// let p = Pipeline::<SymbolLang, ()>::new().pass("cse", vec![]);
    /// assert_eq!(p.pass_name(0).as_str(), "cse");
    /// ```
    pub fn pass_name(&self, k: usize) -> Symbol {
        self.passes[k].0
    }

    /// The rules of pass `k` (panics if `k >= self.len()`).
    ///
    /// ```
    /// # use saturn::{rewrite, schedule::Pipeline, SymbolLang};
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("x", vec![rewrite!("r"; "(f ?a)" => "?a")]);
    /// assert_eq!(p.pass_rules(0)[0].name.as_str(), "r");
    /// ```
    pub fn pass_rules(&self, k: usize) -> &[Rewrite<L, N>] {
        &self.rules[self.passes[k].1.clone()]
    }

    /// All rules, pass after pass (what `bsp` runs).
    ///
    /// ```
    /// # use saturn::{rewrite, schedule::Pipeline, SymbolLang};
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("x", vec![rewrite!("r"; "(f ?a)" => "?a")])
    ///     .pass("y", vec![rewrite!("s"; "(g ?a)" => "?a")]);
    /// let names: Vec<_> = p.rules().iter().map(|r| r.name.as_str()).collect();
    /// assert_eq!(names, ["r", "s"]);
    /// ```
    pub fn rules(&self) -> &[Rewrite<L, N>] {
        &self.rules
    }
}

impl<L: FromOp, N: Analysis<L>> From<&RuleSet<L, N>> for Pipeline<L, N> {
    fn from(set: &RuleSet<L, N>) -> Self {
        Pipeline::from_rule_set(set)
    }
}

/// How a [`Schedule`] runs its passes. See the [module docs](self) for
/// what each does and their trade-offs.
///
/// Parse one from its name; unknown names are an error that lists the
/// valid ones:
///
/// ```
/// use saturn::schedule::{Strategy, StrategyError};
/// assert_eq!("bsp".parse::<Strategy>(), Ok(Strategy::Bsp));
/// assert_eq!("async".parse::<Strategy>(), Ok(Strategy::Async));
/// assert_eq!(Strategy::Passes.to_string(), "passes");
///
/// let err = "llvm".parse::<Strategy>().unwrap_err();
/// assert!(matches!(err, StrategyError::Unknown { .. }));
/// assert_eq!(err.to_string(), "unknown strategy `llvm` (valid: passes, bsp, async)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// Each pass to its own fixed point, in order; sweeps repeated until
    /// one changes nothing.
    Passes,
    /// All rules together, one global join (rebuild) per round.
    Bsp,
    /// All rules together on dirty classes from work-stealing queues;
    /// global joins only when the queues run dry or at a limit.
    Async,
}

impl Strategy {
    /// The implemented strategies, in the order their names are listed.
    ///
    /// ```
    /// use saturn::schedule::Strategy;
    /// let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
    /// assert_eq!(names, ["passes", "bsp", "async"]);
    /// ```
    pub const ALL: &'static [Strategy] = &[Strategy::Passes, Strategy::Bsp, Strategy::Async];

    /// Names kept for strategies that are planned but not implemented;
    /// parsing one gives [`StrategyError::NotImplemented`].
    ///
    /// ```
    /// assert!(saturn::schedule::Strategy::RESERVED.is_empty());
    /// ```
    pub const RESERVED: &'static [&'static str] = &[];

    /// The name it parses from.
    ///
    /// ```
    /// assert_eq!(saturn::schedule::Strategy::Bsp.name(), "bsp");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Passes => "passes",
            Strategy::Bsp => "bsp",
            Strategy::Async => "async",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn valid_names() -> String {
    Strategy::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a strategy name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrategyError {
    /// No strategy has this name.
    Unknown {
        /// The name given.
        name: String,
    },
    /// The name is reserved for a strategy not implemented yet.
    NotImplemented {
        /// The reserved name.
        name: &'static str,
    },
}

impl fmt::Display for StrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyError::Unknown { name } => {
                write!(f, "unknown strategy `{name}` (valid: {})", valid_names())
            }
            StrategyError::NotImplemented { name } => write!(
                f,
                "strategy `{name}` is reserved but not implemented yet (valid: {})",
                valid_names()
            ),
        }
    }
}

impl std::error::Error for StrategyError {}

impl FromStr for Strategy {
    type Err = StrategyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(&s) = Strategy::ALL.iter().find(|x| x.name() == s) {
            return Ok(s);
        }
        match Strategy::RESERVED.iter().find(|&&r| r == s) {
            Some(&name) => Err(StrategyError::NotImplemented { name }),
            None => Err(StrategyError::Unknown { name: s.to_owned() }),
        }
    }
}

/// What one pass did over a `passes` run.
#[derive(Debug, Clone, PartialEq)]
pub struct PassReport {
    /// The pass's name.
    pub name: Symbol,
    /// Runs of the pass (each a [`Runner`] run).
    pub runs: usize,
    /// Runs skipped because the pass was at its fixed point and the
    /// e-graph had not changed since.
    pub skipped: usize,
    /// Rounds (iterations) over all its runs.
    pub rounds: usize,
    /// Matches found over all its runs.
    pub matches: usize,
    /// Unions made by its rules over all its runs.
    pub unions: usize,
    /// Seconds in its runs.
    pub seconds: f64,
}

/// What a [`Schedule::run`] did.
///
/// ```
/// use saturn::schedule::{Pipeline, Schedule, Strategy};
/// use saturn::*;
/// let p = Pipeline::<SymbolLang, ()>::new()
///     .pass("a", vec![rewrite!("zero-add"; "(+ ?a 0)" => "?a")])
///     .pass("b", vec![rewrite!("one-mul"; "(* ?a 1)" => "?a")]);
/// let egraph = || {
///     let mut eg = EGraph::default();
///     eg.add_expr(&"(* (+ x 0) 1)".parse().unwrap());
///     eg
/// };
/// let r = Schedule::new(p.clone(), Strategy::Bsp).run(egraph()).report;
/// assert_eq!(r.joins, r.rounds); // one rebuild per round
///
/// let r = Schedule::new(p, Strategy::Passes).run(egraph()).report;
/// assert_eq!(r.joins, r.rounds + r.pass_runs); // plus one per pass run
/// assert_eq!(r.stop_reason, StopReason::Saturated);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleReport {
    /// The strategy that ran.
    pub strategy: Strategy,
    /// Rounds (runner iterations), summed over all runs.
    pub rounds: usize,
    /// Global joins (barriers that rebuild the e-graph): one per round,
    /// and under `passes` one more per pass run (its opening rebuild).
    pub joins: usize,
    /// Runner runs: one per pass run under `passes`, 1 under `bsp`.
    pub pass_runs: usize,
    /// Pass runs skipped as provably unchanged (`passes` only).
    pub passes_skipped: usize,
    /// Sweeps over the pipeline (`passes`; 1 under `bsp`).
    pub sweeps: usize,
    /// Matches found, summed over all rounds.
    pub matches: usize,
    /// Unions made by rules, summed over all rounds.
    pub unions: usize,
    /// Nodes at the end ([`EGraph::total_number_of_nodes`]).
    pub nodes: usize,
    /// Classes at the end.
    pub classes: usize,
    /// Seconds in search, summed over all rounds (`async`: in phases,
    /// where search and apply interleave).
    pub search_time: f64,
    /// Seconds in apply, summed over all rounds (0 under `async`).
    pub apply_time: f64,
    /// Seconds in rebuild, summed over all rounds: the time in global
    /// joins, which every worker waits for.
    pub rebuild_time: f64,
    /// Wall-clock seconds of the whole run.
    pub total_time: f64,
    /// Why it stopped: [`StopReason::Saturated`] when no rule changes
    /// anything (under `passes`, a full sweep changed nothing).
    pub stop_reason: StopReason,
    /// Per pass, in pipeline order (`passes` only; empty under `bsp` and
    /// `async`, where the passes run merged).
    pub passes: Vec<PassReport>,
    /// Dirty classes processed (`async` only: each is every rule run at
    /// one class; 0 under the others).
    pub tasks: usize,
    /// `async` phases undone because they did not run dry (the node or
    /// memory limit, part-way or at the phase's end, the phase's id
    /// capacity or a match budget cut them; 0 or 1): the
    /// run went on from the last join in `bsp` rounds, which `rounds`
    /// and `joins` include, as they include the undone phase.
    pub rolled_back: usize,
}

impl ScheduleReport {
    fn new(strategy: Strategy) -> Self {
        ScheduleReport {
            strategy,
            rounds: 0,
            joins: 0,
            pass_runs: 0,
            passes_skipped: 0,
            sweeps: 0,
            matches: 0,
            unions: 0,
            nodes: 0,
            classes: 0,
            search_time: 0.0,
            apply_time: 0.0,
            rebuild_time: 0.0,
            total_time: 0.0,
            stop_reason: StopReason::Saturated,
            passes: vec![],
            tasks: 0,
            rolled_back: 0,
        }
    }

    /// Adds a run's iterations; returns (rounds, matches, unions).
    fn add_iterations(&mut self, its: &[Iteration]) -> (usize, usize, usize) {
        let (mut matches, mut unions) = (0, 0);
        for it in its {
            matches += it.n_matches;
            unions += it.applied.iter().map(|(_, n)| n).sum::<usize>();
            self.search_time += it.search_time;
            self.apply_time += it.apply_time;
            self.rebuild_time += it.rebuild_time;
        }
        self.rounds += its.len();
        self.joins += its.len();
        self.matches += matches;
        self.unions += unions;
        (its.len(), matches, unions)
    }
}

impl fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {:?} after {} rounds, {} joins, {} pass runs ({} skipped), {} sweeps",
            self.strategy,
            self.stop_reason,
            self.rounds,
            self.joins,
            self.pass_runs,
            self.passes_skipped,
            self.sweeps
        )?;
        writeln!(
            f,
            "  {} classes, {} nodes; {} matches, {} unions{}",
            self.classes,
            self.nodes,
            self.matches,
            self.unions,
            if self.tasks > 0 {
                format!("; {} dirty classes processed", self.tasks)
            } else {
                String::new()
            } + if self.rolled_back > 0 {
                "; a phase rolled back, then rounds"
            } else {
                ""
            }
        )?;
        write!(
            f,
            "  {:.2} ms (search {:.2}, apply {:.2}, rebuild {:.2})",
            self.total_time * 1e3,
            self.search_time * 1e3,
            self.apply_time * 1e3,
            self.rebuild_time * 1e3
        )?;
        for p in &self.passes {
            write!(
                f,
                "\n  [{}] {} runs ({} skipped), {} rounds, {} matches, {} unions, {:.2} ms",
                p.name,
                p.runs,
                p.skipped,
                p.rounds,
                p.matches,
                p.unions,
                p.seconds * 1e3
            )?;
        }
        Ok(())
    }
}

/// The e-graph after a [`Schedule::run`], and what happened.
pub struct Scheduled<L: Language, N: Analysis<L>> {
    /// The e-graph (rebuilt: canonical and clean).
    pub egraph: EGraph<L, N>,
    /// The report.
    pub report: ScheduleReport,
}

/// A pipeline, a strategy, limits for the whole run, and threads.
///
/// Defaults are the [`Runner`]'s: 30 rounds, 10,000 nodes, no memory limit, 5
/// seconds, one thread, incremental matching on. Run it with [`Schedule::run`]
/// as many times as needed. The analysis must be `Default`: every run makes a
/// [`Runner`] and hands it the e-graph.
///
/// ```
/// use saturn::schedule::{Pipeline, Schedule, Strategy};
/// use saturn::*;
/// use std::time::Duration;
///
/// let p = Pipeline::<SymbolLang, ()>::new()
///     .pass("grow", vec![rewrite!("grow"; "(f ?a)" => "(f (s ?a))")]);
/// let mut eg = EGraph::default();
/// eg.add_expr(&"(f x)".parse().unwrap());
/// let out = Schedule::new(p, Strategy::Passes)
///     .with_iter_limit(4)
///     .with_node_limit(1_000)
///     .with_time_limit(Duration::from_secs(10))
///     .run(eg);
/// assert_eq!(out.report.stop_reason, StopReason::IterationLimit(4));
/// assert_eq!(out.report.rounds, 4);
/// ```
pub struct Schedule<L: Language, N: Analysis<L>> {
    pipeline: Pipeline<L, N>,
    strategy: Strategy,
    iter_limit: usize,
    pass_iter_limit: usize,
    node_limit: usize,
    memory_limit: usize,
    time_limit: Duration,
    threads: usize,
    incremental: bool,
    pool: Option<Arc<rayon::ThreadPool>>,
    cancel: Option<Arc<AtomicBool>>,
    /// `async` phases on e-graphs of fewer nodes run on one thread.
    sequential_below: usize,
}

impl<L: Language, N: Analysis<L> + Default> Schedule<L, N> {
    /// Runs `pipeline` with `strategy` under the default limits.
    ///
    /// ```
    /// use saturn::schedule::{Pipeline, Schedule};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), "bsp".parse().unwrap());
    /// assert_eq!(s.strategy().name(), "bsp");
    /// ```
    pub fn new(pipeline: Pipeline<L, N>, strategy: Strategy) -> Self {
        Schedule {
            pipeline,
            strategy,
            iter_limit: 30,
            pass_iter_limit: usize::MAX,
            node_limit: 10_000,
            memory_limit: usize::MAX,
            time_limit: Duration::from_secs(5),
            threads: 1,
            incremental: true,
            pool: None,
            cancel: None,
            sequential_below: crate::fixpoint::SEQUENTIAL_PHASE_NODES,
        }
    }

    /// The strategy.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Passes);
    /// assert_eq!(s.strategy(), Strategy::Passes);
    /// ```
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The pipeline.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Passes);
    /// assert!(s.pipeline().is_empty());
    /// ```
    pub fn pipeline(&self) -> &Pipeline<L, N> {
        &self.pipeline
    }

    /// Uses `strategy` instead.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Passes)
    ///     .with_strategy(Strategy::Bsp);
    /// assert_eq!(s.strategy(), Strategy::Bsp);
    /// ```
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Stops after this many rounds in all (summed over pass runs).
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_iter_limit(100);
    /// ```
    pub fn with_iter_limit(mut self, n: usize) -> Self {
        self.iter_limit = n;
        self
    }

    /// Under `passes`, ends a pass run after this many rounds even if the
    /// pass is not at its fixed point; the sweep goes on with the next
    /// pass and counts as a change. Unlimited by default (each pass runs
    /// to its fixed point). Ignored by `bsp` and `async`.
    ///
    /// ```
    /// use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// use saturn::*;
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("grow", vec![rewrite!("grow"; "(f ?a)" => "(f (s ?a))")])
    ///     .pass("other", vec![rewrite!("g"; "(g ?a)" => "?a")]);
    /// let mut eg = EGraph::default();
    /// eg.add_expr(&"(f x)".parse().unwrap());
    /// let r = Schedule::new(p, Strategy::Passes)
    ///     .with_pass_iter_limit(2)
    ///     .with_iter_limit(7)
    ///     .run(eg)
    ///     .report;
    /// assert_eq!(r.stop_reason, StopReason::IterationLimit(7));
    /// assert!(r.passes[1].runs > 1); // `other` is not starved
    /// ```
    pub fn with_pass_iter_limit(mut self, n: usize) -> Self {
        self.pass_iter_limit = n.max(1);
        self
    }

    /// Stops once the e-graph's hashcons holds more than this many nodes.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_node_limit(50_000);
    /// ```
    pub fn with_node_limit(mut self, n: usize) -> Self {
        self.node_limit = n;
        self
    }

    /// Stops once the e-graph's estimated heap size
    /// ([`EGraph::approx_bytes`]) passes this many bytes, like
    /// [`Runner::with_memory_limit`] ([`StopReason::MemoryLimit`]), whose
    /// commits also count their tables' spare room (with a doubling due
    /// before their next check) and staged actions. No
    /// limit by default. Like the node limit, it bounds the shared e-graph:
    /// every pass run gets the whole of it. Under `async`, a phase that
    /// passes it is undone like one that passes the node limit, and the run
    /// goes on in `bsp` rounds. Between phases it is checked against the
    /// canonical nodes only, at one id and one hashcons entry each (the
    /// number [`StopReason::MemoryLimit`] then reports), which does not
    /// depend on timing; the caveat of the node limit remains (see the
    /// [module docs](self)).
    ///
    /// ```
    /// use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// use saturn::*;
    ///
    /// // Commutativity and associativity over a long sum: an explosion.
    /// let p = Pipeline::<SymbolLang, ()>::new().pass("ac", vec![
    ///     rewrite!("comm"; "(+ ?a ?b)" => "(+ ?b ?a)"),
    ///     rewrite!("assoc"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
    /// ]);
    /// let mut eg = EGraph::default();
    /// eg.add_expr(&"(+ a (+ b (+ c (+ d (+ e (+ f (+ g h)))))))".parse().unwrap());
    /// let out = Schedule::new(p, Strategy::Bsp)
    ///     .with_node_limit(usize::MAX)
    ///     .with_memory_limit(1 << 20)
    ///     .run(eg);
    /// assert!(matches!(out.report.stop_reason, StopReason::MemoryLimit(b) if b > 1 << 20));
    /// ```
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Stops after this long in all.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_time_limit(std::time::Duration::from_millis(500));
    /// ```
    pub fn with_time_limit(mut self, d: Duration) -> Self {
        self.time_limit = d;
        self
    }

    /// Worker threads for the parallel phases; one pool of this size is
    /// made per [`Schedule::run`] and shared by all its runs. A pool given
    /// with [`Schedule::with_pool`] wins.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_threads(8);
    /// ```
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Runs the parallel phases of every run on this pool.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// use std::sync::Arc;
    /// let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap());
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_pool(pool);
    /// ```
    pub fn with_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Turns incremental matching on (default) or off in every run.
    ///
    /// ```
    /// # use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// let s = Schedule::<saturn::SymbolLang, ()>::new(Pipeline::new(), Strategy::Bsp)
    ///     .with_incremental(false);
    /// ```
    pub fn with_incremental(mut self, on: bool) -> Self {
        self.incremental = on;
        self
    }

    /// A flag that stops the run once set ([`StopReason::Other`]).
    ///
    /// ```
    /// use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// use saturn::*;
    /// use std::sync::{atomic::AtomicBool, Arc};
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("a", vec![rewrite!("zero-add"; "(+ ?a 0)" => "?a")]);
    /// let flag = Arc::new(AtomicBool::new(true));
    /// let r = Schedule::new(p, Strategy::Passes).with_cancel_flag(flag).run(EGraph::default());
    /// assert_eq!(r.report.stop_reason, StopReason::Other("cancelled".into()));
    /// ```
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Runs every `async` phase on the threads, however small the e-graph
    /// (by default a phase on an e-graph of fewer than 256 nodes runs on
    /// one thread; see [`crate::fixpoint`]'s docs). For tests that stress
    /// concurrent phases on small inputs.
    #[doc(hidden)]
    pub fn with_parallel_async_phases(mut self) -> Self {
        self.sequential_below = 0;
        self
    }

    /// Runs the pipeline over `egraph` until the strategy's fixed point or
    /// a limit; returns the e-graph and the report.
    ///
    /// ```
    /// use saturn::schedule::{Pipeline, Schedule, Strategy};
    /// use saturn::*;
    /// let p = Pipeline::<SymbolLang, ()>::new()
    ///     .pass("a", vec![rewrite!("zero-add"; "(+ ?a 0)" => "?a")]);
    /// let mut eg = EGraph::default();
    /// let root = eg.add_expr(&"(+ (+ y 0) 0)".parse().unwrap());
    /// let out = Schedule::new(p, Strategy::Bsp).run(eg);
    /// let y = out.egraph.lookup_expr(&"y".parse().unwrap()).unwrap();
    /// assert_eq!(out.egraph.find(root), y);
    /// ```
    pub fn run(&self, mut egraph: EGraph<L, N>) -> Scheduled<L, N> {
        let start = Instant::now();
        let pool = match &self.pool {
            Some(p) => Some(p.clone()),
            None if self.threads == 1 => None,
            None => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .build()
                    .expect("thread pool"),
            )),
        };
        egraph.rebuild();
        let (mut egraph, mut report) = match self.strategy {
            Strategy::Passes => self.run_passes(egraph, &pool, start),
            Strategy::Bsp => self.run_bsp(egraph, &pool),
            Strategy::Async => self.run_async(egraph, &pool, start),
        };
        if !egraph.is_clean() {
            egraph.rebuild();
        }
        report.nodes = egraph.total_number_of_nodes();
        report.classes = egraph.number_of_classes();
        report.total_time = start.elapsed().as_secs_f64();
        Scheduled { egraph, report }
    }

    /// A runner on `egraph` with the shared settings.
    fn runner(
        &self,
        egraph: EGraph<L, N>,
        pool: &Option<Arc<rayon::ThreadPool>>,
        iter_limit: usize,
        time_limit: Duration,
    ) -> Runner<L, N> {
        let mut r = Runner::new(N::default())
            .with_egraph(egraph)
            .with_scheduler(Scheduler::Simple)
            .with_incremental(self.incremental)
            .with_iter_limit(iter_limit)
            .with_node_limit(self.node_limit)
            .with_memory_limit(self.memory_limit)
            .with_time_limit(time_limit);
        if let Some(p) = pool {
            r = r.with_pool(p.clone());
        }
        if let Some(c) = &self.cancel {
            r = r.with_cancel_flag(c.clone());
        }
        r
    }

    fn run_bsp(
        &self,
        egraph: EGraph<L, N>,
        pool: &Option<Arc<rayon::ThreadPool>>,
    ) -> (EGraph<L, N>, ScheduleReport) {
        let mut report = ScheduleReport::new(Strategy::Bsp);
        let runner = self
            .runner(egraph, pool, self.iter_limit, self.time_limit)
            .run(self.pipeline.rules());
        report.add_iterations(&runner.iterations);
        report.pass_runs = 1;
        report.sweeps = 1;
        report.stop_reason = runner.stop_reason.clone().expect("stopped");
        (runner.egraph, report)
    }

    fn run_async(
        &self,
        egraph: EGraph<L, N>,
        pool: &Option<Arc<rayon::ThreadPool>>,
        start: Instant,
    ) -> (EGraph<L, N>, ScheduleReport) {
        let mut report = ScheduleReport::new(Strategy::Async);
        let cfg = crate::fixpoint::AsyncConfig {
            iter_limit: self.iter_limit,
            limits: self.limits(start),
            pool: pool.clone(),
            sequential_below: self.sequential_below,
        };
        let (egraph, stats) = crate::fixpoint::run(egraph, self.pipeline.rules(), &cfg);
        report.rounds = stats.phases;
        report.joins = stats.phases;
        report.pass_runs = 1;
        report.sweeps = 1;
        report.tasks = stats.tasks;
        report.matches = stats.matches;
        report.unions = stats.unions;
        report.search_time = stats.phase_time;
        report.rebuild_time = stats.join_time;
        report.rolled_back = stats.rolled_back as usize;
        if !stats.rolled_back {
            report.stop_reason = stats.stop_reason.unwrap_or(StopReason::Saturated);
            return (egraph, report);
        }
        // A phase that did not run dry was undone: go on from the last
        // join in `bsp` rounds (deterministic), within what is left of
        // the limits (the undone phase counts as a round).
        let iters = self.iter_limit.saturating_sub(stats.phases);
        if iters == 0 {
            report.stop_reason = StopReason::IterationLimit(stats.phases);
            return (egraph, report);
        }
        let time = self.time_limit.saturating_sub(start.elapsed());
        let runner = self
            .runner(egraph, pool, iters, time)
            .run(self.pipeline.rules());
        report.add_iterations(&runner.iterations);
        report.stop_reason = match runner.stop_reason.clone().expect("stopped") {
            StopReason::IterationLimit(n) => StopReason::IterationLimit(n + stats.phases),
            other => other,
        };
        let mut egraph = runner.egraph;
        if report.stop_reason == StopReason::Saturated {
            // Whether a phase on several threads runs dry can depend on
            // timing (see `src/fixpoint.rs`), and the rounds number ids
            // otherwise than a run of phases. Both saturate to the same
            // e-graph: named canonically, as a run of phases names it,
            // it is written out the same either way.
            let t = Instant::now();
            egraph = crate::fixpoint::renumbered_on(egraph, stats.keep, pool.as_deref());
            report.rebuild_time += t.elapsed().as_secs_f64();
        }
        (egraph, report)
    }

    /// The first limit reached before starting a pass run, if any: the
    /// runner's limits, in their order (see `src/limits.rs`), then the
    /// rounds.
    fn check_budget(
        &self,
        egraph: &EGraph<L, N>,
        rounds: usize,
        start: Instant,
    ) -> Result<(), StopReason> {
        self.limits(start).check(egraph, true)?;
        if rounds >= self.iter_limit {
            return Err(StopReason::IterationLimit(rounds));
        }
        Ok(())
    }

    /// The time, node, memory and cancel limits of a run started at
    /// `start`.
    fn limits(&self, start: Instant) -> Limits {
        Limits {
            start,
            time: self.time_limit,
            nodes: self.node_limit,
            bytes: self.memory_limit,
            cancel: self.cancel.clone(),
        }
    }

    fn run_passes(
        &self,
        mut egraph: EGraph<L, N>,
        pool: &Option<Arc<rayon::ThreadPool>>,
        start: Instant,
    ) -> (EGraph<L, N>, ScheduleReport) {
        let mut report = ScheduleReport::new(Strategy::Passes);
        let p = &self.pipeline;
        report.passes = (0..p.len())
            .map(|k| PassReport {
                name: p.pass_name(k),
                runs: 0,
                skipped: 0,
                rounds: 0,
                matches: 0,
                unions: 0,
                seconds: 0.0,
            })
            .collect();
        // The e-graph's version: ids only grow (adds) and, with ids fixed,
        // classes only shrink (unions), so equal stamps mean no change.
        let stamp = |eg: &EGraph<L, N>| (eg.number_of_ids(), eg.number_of_classes());
        // Per pass, the stamp when it last reached its fixed point.
        let mut fixed_at: Vec<Option<(usize, usize)>> = vec![None; p.len()];
        'sweeps: loop {
            report.sweeps += 1;
            let before = stamp(&egraph);
            for (k, fixed) in fixed_at.iter_mut().enumerate() {
                let rules = p.pass_rules(k);
                if rules.is_empty() || *fixed == Some(stamp(&egraph)) {
                    report.passes_skipped += 1;
                    report.passes[k].skipped += 1;
                    continue;
                }
                if let Err(stop) = self.check_budget(&egraph, report.rounds, start) {
                    report.stop_reason = stop;
                    break 'sweeps;
                }
                let rounds_left = self.iter_limit - report.rounds;
                let time_left = self.time_limit.saturating_sub(start.elapsed());
                let t = Instant::now();
                let runner = self
                    .runner(
                        egraph,
                        pool,
                        rounds_left.min(self.pass_iter_limit),
                        time_left,
                    )
                    .run(rules);
                let (rounds, matches, unions) = report.add_iterations(&runner.iterations);
                report.pass_runs += 1;
                report.joins += 1;
                let pr = &mut report.passes[k];
                pr.runs += 1;
                pr.rounds += rounds;
                pr.matches += matches;
                pr.unions += unions;
                pr.seconds += t.elapsed().as_secs_f64();
                let stop = runner.stop_reason.clone().expect("stopped");
                egraph = runner.egraph;
                match stop {
                    StopReason::Saturated => *fixed = Some(stamp(&egraph)),
                    StopReason::IterationLimit(_) if report.rounds < self.iter_limit => {
                        // The per-pass cap: not at its fixed point; go on.
                    }
                    StopReason::IterationLimit(_) => {
                        report.stop_reason = StopReason::IterationLimit(report.rounds);
                        break 'sweeps;
                    }
                    StopReason::TimeLimit(_) => {
                        report.stop_reason = StopReason::TimeLimit(start.elapsed().as_secs_f64());
                        break 'sweeps;
                    }
                    other => {
                        report.stop_reason = other;
                        break 'sweeps;
                    }
                }
            }
            if stamp(&egraph) == before {
                report.stop_reason = StopReason::Saturated;
                break;
            }
        }
        (egraph, report)
    }
}
