//! `saturn`: equality saturation from the command line.
//!
//! * `saturn run RULES TERMS` saturates every term of TERMS with the rules
//!   of RULES and prints the cheapest equivalent term of each.
//! * `saturn opt FILES|FOLDERS...` optimizes CLIF with `saturn_clif` (see
//!   [`opt`]; scheduling policies and the make jobserver in [`sched`]).
//! * `saturn extract FILE.json` extracts from a serialized e-graph (see
//!   [`extract`]).
//! * `saturn report` runs the seed experiments and writes a Markdown report
//!   with SVG plots (see [`report`]).
//!
//! With no arguments it runs the bundled demo (`examples/arith.rules` and
//! `examples/arith.terms`).

mod extract;
mod opt;
mod report;
mod sched;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use saturn::rules::{parse_rules, Predicates, RuleSet};
use saturn::schedule::{Pipeline, Schedule, Strategy};
use saturn::{AstSize, EGraph, Extractor, Id, Language, RecExpr, Runner, Scheduler, SymbolLang};

#[derive(Parser)]
#[command(name = "saturn", version, about = "A parallel e-graph optimizer")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sched {
    /// Every rule every iteration.
    Simple,
    /// egg's backoff: rules that match too often are banned for a while.
    Backoff,
}

/// A `saturn::schedule` strategy for `saturn run --strategy`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RunStrategy {
    /// Each pass to its fixed point in order, the pipeline repeated until
    /// nothing changes (LLVM-style).
    Passes,
    /// All passes together in parallel rounds, one global join per round.
    Bsp,
    /// Dirty classes from work-stealing queues; global joins only to
    /// confirm the fixed point or enforce a limit.
    Async,
}

impl RunStrategy {
    fn strategy(self) -> Strategy {
        match self {
            RunStrategy::Passes => Strategy::Passes,
            RunStrategy::Bsp => Strategy::Bsp,
            RunStrategy::Async => Strategy::Async,
        }
    }
}

/// How `saturn opt` schedules each function's saturation.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptScheduler {
    /// saturn-clif's runner (all rules, round by round).
    Runner,
    /// Each pass to its fixed point in order (the rules are one pass).
    Passes,
    /// All rules in parallel rounds, one join per round.
    Bsp,
    /// Dirty classes from work-stealing queues; joins only when needed.
    Async,
}

impl OptScheduler {
    fn strategy(self) -> Option<Strategy> {
        match self {
            OptScheduler::Runner => None,
            OptScheduler::Passes => Some(Strategy::Passes),
            OptScheduler::Bsp => Some(Strategy::Bsp),
            OptScheduler::Async => Some(Strategy::Async),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Saturate terms with a rule file and print the cheapest forms.
    Run {
        /// The rule file.
        rules: PathBuf,
        /// A file of terms, one s-expression each.
        terms: PathBuf,
        /// Worker threads (at most 8 per core: more only slow the work
        /// stealing down).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Iteration limit.
        #[arg(long, default_value_t = 30)]
        iter_limit: usize,
        /// Node limit.
        #[arg(long, default_value_t = 100_000)]
        node_limit: usize,
        /// Time limit in seconds.
        #[arg(long, default_value_t = 10.0)]
        time_limit: f64,
        /// Memory limit in MiB of the e-graph's estimated size (see
        /// `saturn::EGraph::approx_bytes`; a commit also counts its staged
        /// actions, the tables' spare room and a doubling it may make
        /// before its next check); none by default. Under `--scheduler
        /// backoff` the matches a round's search keeps are bounded by the
        /// bans, not by it, so the peak can pass it by those (`--scheduler
        /// simple` bounds them too).
        #[arg(long, value_name = "MIB")]
        memory_limit: Option<u64>,
        /// Rule scheduler of the runner (not with --strategy, whose
        /// strategies schedule the rules themselves).
        #[arg(long, value_enum, default_value_t = Sched::Backoff, conflicts_with = "strategy")]
        scheduler: Sched,
        /// Search every class every iteration (egg's way) instead of only
        /// near changed classes.
        #[arg(long)]
        no_incremental: bool,
        /// Run the rule file's passes under a schedule strategy (see
        /// `saturn::schedule`) instead of one runner over all rules. A file
        /// without `[pass]` headers is one pass.
        #[arg(long, value_enum)]
        strategy: Option<RunStrategy>,
    },
    /// Optimize CLIF files (one function per `function`) with saturn-clif.
    Opt {
        /// CLIF files, or folders searched recursively for `*.clif`.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write one file per input under this folder (atomically) instead
        /// of printing to stdout.
        #[arg(short = 'o', long = "out-dir")]
        out_dir: Option<PathBuf>,
        /// Worker threads (all on one pool, at most 8 per core; under a make
        /// jobserver, a token is taken for every thread beyond the first).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// How functions and threads are combined.
        #[arg(long, value_enum, default_value_t = sched::Policy::Nested)]
        policy: sched::Policy,
        /// Print statistics (per function and totals) in this format to
        /// stderr, or to --stats-file.
        #[arg(long, value_enum)]
        stats: Option<StatsFormat>,
        /// Write the statistics to this file instead of stderr (implies
        /// --stats json).
        #[arg(long)]
        stats_file: Option<PathBuf>,
        /// DAG-aware extraction instead of tree extraction.
        #[arg(long)]
        dag: bool,
        /// How each function's saturation is scheduled: saturn-clif's
        /// runner, or a `saturn::schedule` strategy (`passes`, `bsp`,
        /// `async`) over the same rules and limits. `async` output is
        /// thread-independent only where a function saturates.
        #[arg(long, value_enum, default_value_t = OptScheduler::Runner)]
        scheduler: OptScheduler,
        /// Memory limit in MiB of each function's e-graph (its estimated
        /// size); none by default. Saturation stops there and the function
        /// is optimized from what it reached.
        #[arg(long, value_name = "MIB")]
        memory_limit: Option<u64>,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Measure instead of writing output: total time and worst function
        /// latency of each policy at each of --measure-threads, as Markdown
        /// (so not with the options of a run that writes output).
        #[arg(long, conflicts_with_all = ["out_dir", "threads", "policy", "stats", "stats_file", "no_progress"])]
        measure: bool,
        /// Thread counts for --measure.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        measure_threads: Vec<usize>,
        /// Runs per configuration for --measure (the median is reported).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// Extract the cheapest terms from an egraph-serialize JSON file.
    Extract {
        /// The JSON file.
        file: PathBuf,
        /// The extraction algorithm.
        #[arg(long, value_enum, default_value_t = extract::Which::BottomUp)]
        extractor: extract::Which,
        /// What to do with a root id that names neither a class nor a node
        /// (a file written after the root's class was merged away, or a
        /// typo).
        #[arg(long, value_enum, default_value_t = extract::RootsPolicy::Error)]
        unknown_roots: extract::RootsPolicy,
        /// Worker threads (at most 8 per core: more only slow the work
        /// stealing down).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Print a JSON object instead of text (a tree cost that
        /// overflows f64, as a DAG shared enough can, is `null`).
        #[arg(long)]
        json: bool,
    },
    /// Run the seed experiments (schedulers, extraction speedup,
    /// parallelism policies) and write a Markdown report with SVG plots.
    Report(report::ReportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum StatsFormat {
    /// JSON.
    Json,
}

/// Predicates rule files may use over symbolic terms.
fn predicates() -> Predicates<SymbolLang, ()> {
    fn number(eg: &EGraph<SymbolLang, ()>, id: Id) -> Option<f64> {
        eg[id].nodes.iter().find_map(|n| {
            n.is_leaf()
                .then(|| n.op.as_str().parse::<f64>().ok())
                .flatten()
        })
    }
    Predicates::default()
        .with("is-const", 1, |eg, a| number(eg, a[0]).is_some())
        // Only a finite non-zero literal: a class without one may still
        // turn out to be zero (`(* x 0)`), and a rule that fired on it
        // (`(/ ?a ?a) => 1`) would have made an unsound union that no
        // later merge undoes.
        .with("is-not-zero", 1, |eg, a| {
            number(eg, a[0]).is_some_and(|n| n.is_finite() && n != 0.0)
        })
        .with("is-sym", 1, |eg, a| {
            eg[a[0]]
                .nodes
                .iter()
                .any(|n| n.is_leaf() && n.op.as_str().parse::<f64>().is_err())
        })
}

/// Threads per core past which `--threads` is lowered (see
/// [`usable_threads`]).
pub(crate) const MAX_THREADS_PER_CORE: usize = 8;

/// `--threads` of `run`, `opt` and `extract`, lowered to
/// [`MAX_THREADS_PER_CORE`] per core (with a note on stderr). rayon's idle
/// workers look for work in every other worker's queue, and far more
/// workers than cores spend their time doing that instead of the work:
/// `saturn run examples/arith.rules examples/arith.terms` on 2 cores took
/// 0.28 s at 8 threads, 0.36 s at 32, 0.59 s at 64, 1.30 s at 128 and
/// 3.36 s at 256, and at 512 a 2-second time limit stopped it at 3.14 s
/// (85% of the time in crossbeam's epoch bookkeeping). The output does not
/// depend on the thread count, so only the time changes.
pub(crate) fn usable_threads(requested: u16) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = cores.saturating_mul(MAX_THREADS_PER_CORE);
    let requested = usize::from(requested);
    if requested > cap {
        eprintln!(
            "note: --threads {requested} is more than {MAX_THREADS_PER_CORE} per core on {cores} \
             core(s): using {cap} (the output is the same)"
        );
        cap
    } else {
        requested
    }
}

/// The most threads any subcommand takes (`--threads` of `run`, `opt` and
/// `extract` parse as a 16-bit count; lists of counts are checked
/// against this by [`check_thread_counts`]).
pub(crate) const MAX_THREADS: usize = u16::MAX as usize;

/// A list of thread counts given with `flag`: each from 1 to
/// [`MAX_THREADS`].
pub(crate) fn check_thread_counts(flag: &str, counts: &[usize]) -> Result<(), String> {
    if counts.iter().any(|&t| t == 0 || t > MAX_THREADS) {
        return Err(format!("{flag} takes counts from 1 to {MAX_THREADS}"));
    }
    Ok(())
}

/// The error of a failed write to stdout (a closed pipe, a full disk).
pub(crate) fn stdout_error(e: std::io::Error) -> String {
    format!("stdout: {e}")
}

/// A text input file, without its byte-order mark; one that is not UTF-8
/// is an error at the first byte that is not (line and column).
pub(crate) fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Without a byte-order mark: Cranelift's reader would reject one.
    saturn_extract::io::decode_text(bytes)
        .map_err(|(line, col)| format!("{}:{line}:{col}: not valid UTF-8", path.display()))
}

/// The limits of `saturn run`.
struct RunLimits {
    iter: usize,
    nodes: usize,
    /// Seconds.
    time: f64,
    /// Estimated bytes.
    memory: usize,
}

impl RunLimits {
    fn time(&self) -> Result<Duration, String> {
        Duration::try_from_secs_f64(self.time).map_err(|_| {
            let t = if self.time.abs() >= 1e9 {
                format!("{:e}", self.time)
            } else {
                self.time.to_string()
            };
            format!(
                "--time-limit takes seconds from 0 to {:e}, not {t}",
                Duration::MAX.as_secs_f64()
            )
        })
    }
}

/// `--memory-limit` in MiB as bytes (none: no limit).
fn memory_bytes(mib: Option<u64>) -> usize {
    mib.map_or(usize::MAX, |m| {
        usize::try_from(m.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    })
}

fn run(
    (set, terms): RulesAndTerms,
    threads: usize,
    limits: &RunLimits,
    scheduler: Sched,
    incremental: bool,
) -> Result<(), String> {
    let mut runner = Runner::default()
        .with_threads(threads)
        .with_iter_limit(limits.iter)
        .with_node_limit(limits.nodes)
        .with_memory_limit(limits.memory)
        .with_time_limit(limits.time()?)
        .with_incremental(incremental)
        .with_scheduler(match scheduler {
            Sched::Simple => Scheduler::Simple,
            Sched::Backoff => Scheduler::default(),
        });
    for t in &terms {
        runner = runner.with_expr(t);
    }
    let t0 = Instant::now();
    let runner = runner.run(&set.rules);
    let secs = t0.elapsed().as_secs_f64();
    print_best(&runner.egraph, &terms, &runner.roots)?;
    let (mut se, mut ap, mut rb) = (0.0, 0.0, 0.0);
    for it in &runner.iterations {
        se += it.search_time;
        ap += it.apply_time;
        rb += it.rebuild_time;
    }
    eprintln!(
        "{} rules in {} passes; stop: {:?} after {} iterations; {} classes, {} nodes; {:.2} ms (search {:.2}, apply {:.2}, rebuild {:.2}) on {} thread(s)",
        set.rules.len(),
        set.passes.len(),
        runner.stop_reason.as_ref().expect("stopped"),
        runner.iterations.len(),
        runner.egraph.number_of_classes(),
        runner.egraph.total_number_of_nodes(),
        secs * 1e3,
        se * 1e3,
        ap * 1e3,
        rb * 1e3,
        threads
    );
    Ok(())
}

/// A parsed rule file and the terms to run it on.
pub(crate) type RulesAndTerms = (RuleSet<SymbolLang, ()>, Vec<RecExpr<SymbolLang>>);

/// A rule file and a term file, read and parsed; errors name the file and
/// position.
fn load_rules_and_terms(rules_path: &Path, terms_path: &Path) -> Result<RulesAndTerms, String> {
    parse_rules_and_terms(
        &read(rules_path)?,
        &rules_path.display().to_string(),
        &read(terms_path)?,
        &terms_path.display().to_string(),
    )
}

/// Rule-file text and term-file text, parsed with the CLI's predicates;
/// errors start with the given labels (file names).
pub(crate) fn parse_rules_and_terms(
    rules_text: &str,
    rules_label: &str,
    terms_text: &str,
    terms_label: &str,
) -> Result<RulesAndTerms, String> {
    let set = parse_rules::<SymbolLang, ()>(rules_text, &predicates())
        .map_err(|e| format!("{rules_label}:{e}"))?;
    let sexps = saturn::sexp::parse_all(terms_text).map_err(|e| format!("{terms_label}:{e}"))?;
    let mut terms: Vec<RecExpr<SymbolLang>> = vec![];
    for s in &sexps {
        // An error names where the term starts in the file.
        terms.push(
            RecExpr::from_sexp(s)
                .map_err(|e| format!("{terms_label}:{}: {}", s.pos(), e.message))?,
        );
    }
    Ok((set, terms))
}

/// `saturn run --strategy NAME`: the rule file's passes under a schedule.
fn run_schedule(
    (set, terms): RulesAndTerms,
    strategy: Strategy,
    threads: usize,
    limits: &RunLimits,
    incremental: bool,
) -> Result<(), String> {
    let pipeline = if set.passes.is_empty() {
        Pipeline::new().pass("rules", set.rules.iter().cloned())
    } else {
        Pipeline::from_rule_set(&set)
    };
    let mut egraph = EGraph::<SymbolLang, ()>::default();
    let roots: Vec<Id> = terms.iter().map(|t| egraph.add_expr(t)).collect();
    let out = Schedule::new(pipeline, strategy)
        .with_threads(threads)
        .with_iter_limit(limits.iter)
        .with_node_limit(limits.nodes)
        .with_memory_limit(limits.memory)
        .with_time_limit(limits.time()?)
        .with_incremental(incremental)
        .run(egraph);
    print_best(&out.egraph, &terms, &roots)?;
    eprintln!("{}\n  on {threads} thread(s)", out.report);
    Ok(())
}

/// The make jobserver this process was started with, if any.
///
/// # Safety
///
/// `jobserver::Client::from_env_ext` takes ownership of the file descriptors
/// named in `CARGO_MAKEFLAGS` / `MAKEFLAGS` / `MFLAGS`; that is only sound if
/// no other part of the process owns or closes them. Call this once, first
/// thing in `main`, before any thread is spawned and before any file is
/// opened.
unsafe fn jobserver_from_env() -> Option<jobserver::Client> {
    // SAFETY: forwarded to the caller (see above).
    let env = unsafe { jobserver::Client::from_env_ext(true) };
    env.client.ok()
}

fn main() -> ExitCode {
    // SAFETY: this is the first statement of `main`: the process is still
    // single-threaded (no thread of ours exists yet, the Rust runtime starts
    // none) and nothing has opened a file, so the descriptors named by a
    // jobserver variable are either the ones our parent (make) passed down
    // (which nobody else in this process owns) or not open at all. With
    // `check_pipe = true`, descriptors that are not pipes/fifos (e.g. a
    // stale variable naming stdin or a closed descriptor) are rejected and
    // no client is made. It is called exactly once, so no descriptor gets
    // two owners. `tests/cli.rs` (`jobserver_*`) runs it under `make -j2`
    // and under a private jobserver.
    let jobserver = unsafe { jobserver_from_env() };
    let cli = Cli::parse();
    // The work runs on a thread with a big stack (CLIF functions can make
    // deep recursion), as `clif-bench` does.
    let h = std::thread::Builder::new()
        .name("saturn-main".into())
        .stack_size(sched::STACK_SIZE)
        .spawn(move || dispatch(cli, jobserver));
    let result = match h {
        Ok(h) => h.join().unwrap_or_else(|e| Err(sched::panic_message(&*e))),
        Err(e) => Err(format!("cannot spawn the main thread: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints each term's smallest form to stdout; a write that fails (a
/// closed pipe, a full disk) is an error, not a panic.
fn print_best(
    egraph: &EGraph<SymbolLang, ()>,
    terms: &[RecExpr<SymbolLang>],
    roots: &[Id],
) -> Result<(), String> {
    use std::io::Write;
    let ex = Extractor::new(egraph, AstSize);
    let mut out = std::io::stdout().lock();
    let write = |r: std::io::Result<()>| r.map_err(stdout_error);
    for (t, &root) in terms.iter().zip(roots) {
        let (cost, best) = ex.find_best(root);
        write(writeln!(
            out,
            "{t}  =>  {best}   (size {} -> {cost})",
            t.len()
        ))?;
    }
    write(out.flush())
}

fn dispatch(cli: Cli, jobserver: Option<jobserver::Client>) -> Result<(), String> {
    match cli.command {
        None => {
            eprintln!("saturn demo: examples/arith.rules on examples/arith.terms (see --help)");
            // Built in, so an installed binary runs it without the sources.
            let demo = parse_rules_and_terms(
                include_str!("../../../examples/arith.rules"),
                "examples/arith.rules",
                include_str!("../../../examples/arith.terms"),
                "examples/arith.terms",
            )?;
            run(
                demo,
                1,
                &RunLimits {
                    iter: 30,
                    nodes: 20_000,
                    time: 10.0,
                    memory: usize::MAX,
                },
                Sched::Backoff,
                true,
            )
        }
        Some(Command::Run {
            rules,
            terms,
            threads,
            iter_limit,
            node_limit,
            time_limit,
            memory_limit,
            scheduler,
            no_incremental,
            strategy,
        }) => {
            let threads = usable_threads(threads);
            let limits = RunLimits {
                iter: iter_limit,
                nodes: node_limit,
                time: time_limit,
                memory: memory_bytes(memory_limit),
            };
            let loaded = load_rules_and_terms(&rules, &terms)?;
            match strategy {
                Some(strategy) => run_schedule(
                    loaded,
                    strategy.strategy(),
                    threads,
                    &limits,
                    !no_incremental,
                ),
                None => run(loaded, threads, &limits, scheduler, !no_incremental),
            }
        }
        Some(Command::Opt {
            inputs,
            out_dir,
            threads,
            policy,
            stats,
            stats_file,
            dag,
            scheduler,
            memory_limit,
            no_progress,
            measure,
            measure_threads,
            runs,
        }) => {
            let strategy = scheduler.strategy();
            let memory_limit = memory_bytes(memory_limit);
            if measure {
                if measure_threads.is_empty() {
                    return Err(format!(
                        "--measure-threads takes counts from 1 to {MAX_THREADS}"
                    ));
                }
                check_thread_counts("--measure-threads", &measure_threads)?;
                let template = saturn_clif::Options {
                    dag,
                    strategy,
                    memory_limit,
                    ..saturn_clif::Options::default()
                };
                return opt::measure(&inputs, &measure_threads, runs as usize, &template);
            }
            let args = opt::OptArgs {
                inputs,
                out_dir,
                threads: usable_threads(threads),
                policy,
                stats_json: stats.is_some() || stats_file.is_some(),
                stats_file,
                dag,
                strategy,
                memory_limit,
                progress: !no_progress,
            };
            opt::run(&args, jobserver)
        }
        Some(Command::Extract {
            file,
            extractor,
            unknown_roots,
            threads,
            json,
        }) => extract::run(
            &file,
            extractor,
            unknown_roots,
            usable_threads(threads),
            json,
            jobserver.as_ref(),
        ),
        Some(Command::Report(args)) => report::run(&args),
    }
}
