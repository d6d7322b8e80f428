//! `schedulers`: Saturn's schedule strategies ([`saturn::schedule`]) side by
//! side, on egg's math suite and on the compiler-like rule set in
//! `examples/compiler.rules`.
//!
//! ```text
//! cargo run --release -p saturn-bench --bin schedulers -- [--runs N] [--threads 1,2] [--pass-cap K] [--filter SUBSTR] [--only STRATEGY] [--cold]
//! ```
//!
//! Each timed run comes right after an untimed run of the same workload,
//! strategy and thread count (a warm-up, as in `saturn-bench`, whose docs
//! say why); `--cold` leaves it out.
//!
//! Prints one Markdown table. Each row is one (workload, strategy): the
//! median wall time of N runs at each thread count, then rounds, global
//! joins, pass runs, final nodes and classes, the stop reason and, for math
//! cases, whether the case's goals ended up in the start term's class.
//! Counts come from the first thread count; they are deterministic, and a
//! `!` marks a row where another thread count disagreed: possible when a
//! time limit cut a run, or when whether an `async` phase on several
//! threads ran dry depended on timing (an undone phase counts, with the
//! `bsp` rounds after it; see `saturn::schedule`). An `async` phase that
//! a node limit stops part-way is undone and finished in `bsp` rounds, so
//! those rows agree. The joins cell of a row with an undone phase says so
//! (`8 (1 undone)`: the undone phase's join plus 7 `bsp` rounds).
//!
//! After the table: the sums of the medians and of the joins per
//! strategy; `async`'s suite total over `bsp`'s run by run at each
//! thread count (median, least and most: each run's strategies ran one
//! after the other, so the pair shares the machine's load of the
//! moment); then `async` against `bsp` workload by workload (how many
//! workloads it needs fewer, as many or more joins on, and is no slower
//! on at the last thread count), over all workloads and split into those
//! whose `async` phases all ran dry and those with an undone phase.
//!
//! Strategies: `bsp` (all rules, one join per round), `passes` (each pass to
//! its fixed point, sweeps until nothing changes), `async` (dirty classes
//! from work-stealing queues, joins only when the queues run dry or at a
//! limit; its rounds and joins are its phases, plus the `bsp` rounds after
//! a rolled-back phase), and `passes/capK`:
//! `passes` with each pass run capped at K rounds
//! ([`saturn::schedule::Schedule::with_pass_iter_limit`]; `--pass-cap 0`
//! drops this row). All strategies of a workload get the same round, node
//! and time limits: a math case's own limits (egg's `test_fn!` values), and
//! 30 rounds, 10,000 nodes, 5 s for the compiler set.
//!
//! Math passes: Saturn's port of egg's 36 math rules, split by rule name
//! into `diff` (`d-*`: derivatives), `integ` (`i-*`: integrals) and
//! `algebra` (everything else: commutativity, associativity,
//! canonicalization, identities, distribution, powers), run in that order:
//! calculus rules expand first, algebra cleans up. `math_associate_adds`
//! uses its own two rules (egg runs it with those) as one pass `algebra`.
//! `algebra` never saturates (`?a => (+ ?a 0)` alone grows forever), so
//! uncapped `passes` spends the remaining budget in it.
//!
//! Two generated workloads reach the fixed point under every strategy:
//! `peephole` (`examples/compiler.rules` without `algebra`, 3,000 random
//! terms) and `cancel` (`(s (p x)) = x` cascades, where `bsp` needs one
//! round per level).
//!
//! No goal hooks stop the runs early (unlike the main `saturn-bench`
//! binary): every run goes to saturation or a limit, so times compare the
//! schedules' work, not how soon a goal appears.

#[allow(dead_code)]
#[path = "../math.rs"]
mod math;
#[allow(dead_code)]
#[path = "../suite.rs"]
mod suite;

use std::sync::Arc;
use std::time::Duration;

use math::saturn_side::Math;
use saturn::rules::{parse_rules, Predicates};
use saturn::schedule::{Pipeline, Schedule, ScheduleReport, Strategy};
use saturn::{Analysis, EGraph, Id, Language, Pattern, RecExpr, Rewrite, SymbolLang};

const COMPILER_RULES: &str = include_str!("../../../examples/compiler.rules");
const COMPILER_TERMS: &str = include_str!("../../../examples/compiler.terms");

/// Limits shared by every strategy of one workload.
#[derive(Clone, Copy)]
struct Limits {
    iters: usize,
    nodes: usize,
    time: Duration,
}

/// A strategy row: the strategy and its per-pass cap (`None`: uncapped).
#[derive(Clone, Copy)]
struct Variant {
    strategy: Strategy,
    cap: Option<usize>,
}

impl Variant {
    fn label(&self) -> String {
        match self.cap {
            None => self.strategy.name().to_string(),
            Some(k) => format!("{}/cap{k}", self.strategy.name()),
        }
    }
}

/// One run's report and whether its goals were found.
struct Outcome {
    report: ScheduleReport,
    proved: Option<bool>,
}

/// Runs `pipeline` over `terms` (the last is the root for the goals).
fn run_one<L, N>(
    pipeline: &Pipeline<L, N>,
    v: Variant,
    limits: Limits,
    pool: &Arc<rayon::ThreadPool>,
    terms: &[RecExpr<L>],
    goals: &[Pattern<L>],
) -> Outcome
where
    L: Language,
    N: Analysis<L> + Default,
{
    let mut egraph = EGraph::<L, N>::default();
    let roots: Vec<Id> = terms.iter().map(|t| egraph.add_expr(t)).collect();
    let mut schedule = Schedule::new(pipeline.clone(), v.strategy)
        .with_pool(pool.clone())
        .with_iter_limit(limits.iters)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time);
    if let Some(k) = v.cap {
        schedule = schedule.with_pass_iter_limit(k);
    }
    let out = schedule.run(egraph);
    let proved = (!goals.is_empty()).then(|| {
        let root = out.egraph.find(*roots.last().expect("a term"));
        goals
            .iter()
            .all(|g| !g.search_eclass(&out.egraph, root).is_empty())
    });
    Outcome {
        report: out.report,
        proved,
    }
}

/// The math rules split into passes by name (see the module docs).
fn math_pipeline<N: Analysis<Math>>(rules: Vec<Rewrite<Math, N>>) -> Pipeline<Math, N> {
    let (mut diff, mut integ, mut algebra) = (vec![], vec![], vec![]);
    for r in rules {
        let name = r.name.as_str();
        if name.starts_with("d-") {
            diff.push(r);
        } else if name.starts_with("i-") {
            integ.push(r);
        } else {
            algebra.push(r);
        }
    }
    Pipeline::new()
        .pass("diff", diff)
        .pass("integ", integ)
        .pass("algebra", algebra)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One table row: per thread count, the outcomes of all runs.
struct Row {
    workload: String,
    variant: Variant,
    per_threads: Vec<Vec<Outcome>>,
}

fn counts(r: &ScheduleReport) -> [usize; 5] {
    [r.rounds, r.joins, r.pass_runs, r.nodes, r.classes]
}

fn stop_kind(r: &ScheduleReport) -> String {
    let s = format!("{:?}", r.stop_reason);
    s.split('(').next().unwrap_or("").to_string()
}

/// What every workload runs with.
struct Ctx {
    variants: Vec<Variant>,
    pools: Vec<(usize, Arc<rayon::ThreadPool>)>,
    runs: usize,
    /// Whether timed runs go without an untimed run of their own just
    /// before (see `saturn-bench`'s docs).
    cold: bool,
}

/// Runs every variant on one workload, interleaving variants and thread
/// counts run by run so drift in machine load hits all alike.
fn bench<L, N>(
    ctx: &Ctx,
    workload: &str,
    pipeline: &Pipeline<L, N>,
    limits: Limits,
    terms: &[RecExpr<L>],
    goals: &[Pattern<L>],
) -> Vec<Row>
where
    L: Language,
    N: Analysis<L> + Default,
{
    let Ctx {
        variants,
        pools,
        runs,
        cold,
    } = ctx;
    eprint!("{workload:<28}");
    let mut rows: Vec<Row> = variants
        .iter()
        .map(|&v| Row {
            workload: workload.to_string(),
            variant: v,
            per_threads: pools.iter().map(|_| vec![]).collect(),
        })
        .collect();
    for _ in 0..*runs {
        for row in rows.iter_mut() {
            for (k, (_, pool)) in pools.iter().enumerate() {
                if !cold {
                    run_one(pipeline, row.variant, limits, pool, terms, goals);
                }
                let o = run_one(pipeline, row.variant, limits, pool, terms, goals);
                row.per_threads[k].push(o);
            }
        }
        eprint!(".");
    }
    eprintln!();
    rows
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut runs = 5usize;
    let mut threads = vec![1usize, 2];
    let mut cap = 3usize;
    let mut filter = String::new();
    let mut only = String::new();
    let mut cold = false;
    let mut i = 1;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => runs = suite::count_arg("--runs", &val, 1),
            "--threads" => threads = suite::threads_arg(&val),
            "--pass-cap" => cap = suite::count_arg("--pass-cap", &val, 0),
            "--filter" => filter = val,
            "--only" => only = val,
            "--cold" => {
                cold = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!(
                    "schedulers [--runs N] [--threads 1,2] [--pass-cap K (0: no capped row)] [--filter SUBSTR] [--only STRATEGY] [--cold]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}; see --help");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let runs = runs.max(1);
    let pools: Vec<(usize, Arc<rayon::ThreadPool>)> = threads
        .iter()
        .map(|&t| {
            let p = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("thread pool");
            (t, Arc::new(p))
        })
        .collect();
    let mut variants = vec![
        Variant {
            strategy: Strategy::Bsp,
            cap: None,
        },
        Variant {
            strategy: Strategy::Passes,
            cap: None,
        },
        Variant {
            strategy: Strategy::Async,
            cap: None,
        },
    ];
    if cap > 0 {
        variants.push(Variant {
            strategy: Strategy::Passes,
            cap: Some(cap),
        });
    }

    if !only.is_empty() {
        variants.retain(|v| v.label() == only);
        if variants.is_empty() {
            eprintln!("--only {only}: no such strategy row");
            std::process::exit(2);
        }
    }
    let ctx = Ctx {
        variants,
        pools,
        runs,
        cold,
    };
    let mut rows: Vec<Row> = vec![];
    // (a) egg's math suite.
    let math_pipe = math_pipeline(math::saturn_side::rules());
    let assoc_pipe = Pipeline::new().pass("algebra", math::saturn_side::assoc_rules());
    for case in suite::math_cases() {
        if !case.name.contains(&filter) {
            continue;
        }
        let limits = Limits {
            iters: case.iter_limit,
            nodes: case.node_limit,
            time: case.time_limit,
        };
        let terms: Vec<RecExpr<Math>> = case
            .extra
            .iter()
            .chain(std::iter::once(&case.start))
            .map(|t| t.parse().expect("term"))
            .collect();
        let goals: Vec<Pattern<Math>> = case
            .goals
            .iter()
            .map(|g| g.parse().expect("goal"))
            .collect();
        let name = format!("math/{}", case.name);
        rows.extend(if case.name == "math_associate_adds" {
            bench(&ctx, &name, &assoc_pipe, limits, &terms, &goals)
        } else {
            bench(&ctx, &name, &math_pipe, limits, &terms, &goals)
        });
    }
    // (b) the compiler rule set, all its terms in one e-graph.
    if "compiler".contains(&filter) || filter.is_empty() {
        let set = parse_rules::<SymbolLang, ()>(COMPILER_RULES, &Predicates::default())
            .expect("examples/compiler.rules");
        let terms: Vec<RecExpr<SymbolLang>> = saturn::sexp::parse_all(COMPILER_TERMS)
            .expect("examples/compiler.terms")
            .iter()
            .map(|s| RecExpr::from_sexp(s).expect("term"))
            .collect();
        let limits = Limits {
            iters: 30,
            nodes: 10_000,
            time: Duration::from_secs(5),
        };
        let name = format!(
            "compiler ({} rules, {} passes, {} terms)",
            set.rules.len(),
            set.passes.len(),
            terms.len()
        );
        let pipeline = Pipeline::from_rule_set(&set);
        rows.extend(bench(&ctx, &name, &pipeline, limits, &terms, &[]));
    }

    // (c) the same rule set without `algebra` (every other pass
    // terminates), on many generated terms: runs reach the fixed point.
    if "peephole".contains(&filter) || filter.is_empty() {
        let set = parse_rules::<SymbolLang, ()>(COMPILER_RULES, &Predicates::default())
            .expect("examples/compiler.rules");
        let mut pipeline: Pipeline<SymbolLang, ()> = Pipeline::new();
        let full = Pipeline::from_rule_set(&set);
        for k in 0..full.len() {
            if full.pass_name(k).as_str() != "algebra" {
                pipeline = pipeline.pass(full.pass_name(k), full.pass_rules(k).to_vec());
            }
        }
        let terms = peephole_terms(PEEPHOLE_TERMS, 5);
        let limits = Limits {
            iters: 1_000,
            nodes: 2_000_000,
            time: Duration::from_secs(60),
        };
        let name = format!(
            "peephole ({} rules, {} passes, {} terms)",
            pipeline.rules().len(),
            pipeline.len(),
            terms.len()
        );
        rows.extend(bench(&ctx, &name, &pipeline, limits, &terms, &[]));
    }

    // (d) cancellation cascades: `(s (p x)) = x` and `(p (s x)) = x` on
    // words of s and p around a variable. Only the innermost pair matches
    // at first; each cancellation exposes the next one, so `bsp` needs one
    // round per level while `async` follows the cascade inside one phase.
    if "cancel".contains(&filter) || filter.is_empty() {
        let set = parse_rules::<SymbolLang, ()>(CANCEL_RULES, &Predicates::default())
            .expect("cancel rules");
        let pipeline = Pipeline::from_rule_set(&set);
        let terms = cancel_terms(CANCEL_TERMS, CANCEL_DEPTH);
        let limits = Limits {
            iters: 1_000,
            nodes: 2_000_000,
            time: Duration::from_secs(60),
        };
        let name = format!("cancel ({} terms, depth {CANCEL_DEPTH})", terms.len());
        rows.extend(bench(&ctx, &name, &pipeline, limits, &terms, &[]));
    }

    print_table(&rows, &ctx.pools);
}

const CANCEL_RULES: &str = "
[cancel]
s-p: (s (p ?x)) => ?x
p-s: (p (s ?x)) => ?x
";
const CANCEL_TERMS: usize = 2_000;
const CANCEL_DEPTH: usize = 40;

/// `n` terms `(s (s .. (p (p .. v))))`-like: `depth` operators, a prefix
/// of one letter followed by as many of the other (so the whole word
/// cancels), mixed with a few pseudo-random letters, over one of 4
/// variables.
fn cancel_terms(n: usize, depth: usize) -> Vec<RecExpr<SymbolLang>> {
    let mut next = lcg(0x2545_f491_4f6c_dd1d);
    (0..n)
        .map(|_| {
            let half = depth / 2;
            let (a, b) = if next(2) == 0 { ("s", "p") } else { ("p", "s") };
            let mut word: Vec<&str> = vec![a; half];
            word.extend(std::iter::repeat_n(b, half));
            // A few random letters at the ends keep terms distinct.
            for _ in 0..next(3) {
                word.insert(0, if next(2) == 0 { "s" } else { "p" });
            }
            let mut t = format!("v{}", next(1_000_000));
            for op in word.iter().rev() {
                t = format!("({op} {t})");
            }
            t.parse().expect("generated term")
        })
        .collect()
}

/// A fixed-seed pseudo-random source (a 64-bit LCG): `next(m)` is in
/// `0..m`, the same sequence on every machine, so generated workloads are
/// identical from run to run.
fn lcg(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |m: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % m
    }
}

/// Terms in the generated peephole workload.
const PEEPHOLE_TERMS: usize = 3_000;

/// `n` pseudo-random terms (fixed seed) of depth at most `depth` over the
/// operators of `examples/compiler.rules`, with leaves that make its
/// identities fire (0, 1, 2, repeated variables).
fn peephole_terms(n: usize, depth: usize) -> Vec<RecExpr<SymbolLang>> {
    let mut next = lcg(0x9e37_79b9_7f4a_7c15);
    const BIN: &[&str] = &[
        "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "==", "<", ">", ">=", "&&", "||",
    ];
    const LEAVES: &[&str] = &["x", "y", "z", "a", "0", "1", "2", "4", "8", "true", "false"];
    fn gen(next: &mut dyn FnMut(usize) -> usize, d: usize, out: &mut String) {
        if d == 0 || next(4) == 0 {
            out.push_str(LEAVES[next(LEAVES.len())]);
            return;
        }
        match next(10) {
            0 => {
                out.push_str("(select ");
                gen(next, d - 1, out);
                out.push(' ');
                gen(next, d - 1, out);
                out.push(' ');
                gen(next, d - 1, out);
                out.push(')');
            }
            1 => {
                out.push_str("(! ");
                gen(next, d - 1, out);
                out.push(')');
            }
            _ => {
                out.push('(');
                out.push_str(BIN[next(BIN.len())]);
                out.push(' ');
                gen(next, d - 1, out);
                out.push(' ');
                gen(next, d - 1, out);
                out.push(')');
            }
        }
    }
    (0..n)
        .map(|_| {
            let mut s = String::new();
            gen(&mut next, depth, &mut s);
            s.parse().expect("generated term")
        })
        .collect()
}

fn print_table(rows: &[Row], pools: &[(usize, Arc<rayon::ThreadPool>)]) {
    let tcols: Vec<String> = pools.iter().map(|(t, _)| format!("{t}t ms")).collect();
    println!(
        "| workload | strategy | {} | rounds | joins | pass runs | nodes | classes | stop | goal |",
        tcols.join(" | ")
    );
    println!(
        "|---|---|{}---:|---:|---:|---:|---:|---|---|",
        "---:|".repeat(pools.len())
    );
    // Sums of medians per (variant label, thread count), and of joins.
    let mut totals: Vec<(String, Vec<f64>, usize)> = vec![];
    // Per workload and variant: the median at the last thread count, and
    // the joins (for the async-vs-bsp summary).
    let mut cells: Vec<(&str, String, f64, usize, bool)> = vec![];
    for row in rows {
        let first = &row.per_threads[0][0].report;
        let times: Vec<f64> = row
            .per_threads
            .iter()
            .map(|outs| median(outs.iter().map(|o| o.report.total_time).collect()) * 1e3)
            .collect();
        // Every count, `async`'s rounds and joins included, and the stop
        // reason are reproducible, unless a time limit cut a run or an
        // `async` phase's running dry depended on timing (see
        // `saturn::schedule`): such a row gets a `!`.
        let key = |r: &ScheduleReport| (counts(r), stop_kind(r));
        let same = row
            .per_threads
            .iter()
            .flatten()
            .all(|o| key(&o.report) == key(first));
        let goal = match row.per_threads[0][0].proved {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let c = counts(first);
        // An undone `async` phase is one of the joins: say so in the cell.
        let joins = if first.rolled_back > 0 {
            format!("{} ({} undone)", c[1], first.rolled_back)
        } else {
            c[1].to_string()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} |",
            row.workload,
            row.variant.label(),
            times
                .iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(" | "),
            c[0],
            joins,
            c[2],
            c[3],
            c[4],
            stop_kind(first),
            if same { "" } else { " !" },
            goal
        );
        let label = row.variant.label();
        let last = times.last().copied().unwrap_or(0.0);
        cells.push((
            &row.workload,
            label.clone(),
            last,
            first.joins,
            first.rolled_back > 0,
        ));
        match totals.iter_mut().find(|(l, _, _)| *l == label) {
            Some((_, v, j)) => {
                v.iter_mut().zip(&times).for_each(|(a, b)| *a += b);
                *j += first.joins;
            }
            None => totals.push((label, times, first.joins)),
        }
    }
    println!();
    println!("Sum of medians (ms), and of joins:");
    println!();
    println!("| strategy | {} | joins |", tcols.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(pools.len()));
    for (label, v, joins) in &totals {
        println!(
            "| {label} | {} | {joins} |",
            v.iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    // Paired: a workload's strategies run one after the other in each
    // run (see `bench`), so run r's suite total of each strategy meets the
    // same machine load; their ratio, run by run, is steadier on a noisy
    // machine than the ratio of the sums of medians.
    let suite_total = |label: &str, k: usize, r: usize| -> Option<f64> {
        let mut sum = 0.0;
        let mut any = false;
        for row in rows.iter().filter(|row| row.variant.label() == label) {
            sum += row.per_threads[k].get(r)?.report.total_time;
            any = true;
        }
        any.then_some(sum)
    };
    let n_runs = rows.first().map_or(0, |row| row.per_threads[0].len());
    for (k, (t, _)) in pools.iter().enumerate() {
        let ratios: Vec<f64> = (0..n_runs)
            .filter_map(|r| Some(suite_total("async", k, r)? / suite_total("bsp", k, r)?))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        println!();
        println!(
            "async / bsp, the suite's total run by run at {t} thread(s): median {:.3} (min {lo:.3}, max {hi:.3}) over {} runs",
            median(ratios.clone()),
            ratios.len()
        );
    }
    // The seed's claim, workload by workload: `async` against `bsp`.
    let of = |w: &str, l: &str| cells.iter().find(|c| c.0 == w && c.1 == l);
    // Tallies over the workloads where `async`'s phases all ran dry, and
    // over those where one was undone (then `async` is that phase's join
    // plus `bsp`'s rounds; see `saturn::schedule`).
    #[derive(Default)]
    struct Tally {
        n: usize,
        fewer: usize,
        same: usize,
        faster: usize,
        ratios: Vec<f64>,
    }
    impl Tally {
        fn add(&mut self, joins: usize, bsp_joins: usize, ms: f64, bsp_ms: f64) {
            self.n += 1;
            self.fewer += usize::from(joins < bsp_joins);
            self.same += usize::from(joins == bsp_joins);
            self.faster += usize::from(ms <= bsp_ms);
            if bsp_ms > 0.0 {
                self.ratios.push(ms / bsp_ms);
            }
        }
    }
    // All workloads; those whose phases all ran dry; those with an undone
    // phase.
    let mut tallies: [Tally; 3] = Default::default();
    for (w, l, t, j, undone) in &cells {
        if l != "async" {
            continue;
        }
        let Some((_, _, bt, bj, _)) = of(w, "bsp") else {
            continue;
        };
        tallies[0].add(*j, *bj, *t, *bt);
        tallies[1 + usize::from(*undone)].add(*j, *bj, *t, *bt);
    }
    let threads = pools.last().map_or(1, |(t, _)| *t);
    let line = |what: &str, k: &Tally| {
        if k.n > 0 {
            println!(
                "async vs bsp over {} {what}: fewer joins on {}, as many on {}, more on {}; \
                 at {threads} thread(s) no slower on {}, time ratio geomean {:.2}",
                k.n,
                k.fewer,
                k.same,
                k.n - k.fewer - k.same,
                k.faster,
                suite::geomean(&k.ratios)
            );
        }
    };
    if tallies[0].n > 0 {
        println!();
        line("workloads", &tallies[0]);
        line("workloads whose async phases all ran dry", &tallies[1]);
        line("workloads with an undone async phase", &tallies[2]);
    }
}
