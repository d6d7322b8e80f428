//! The benchmark cases (egg's `test_fn!` tests) and how each engine runs one.

use std::fmt::Display;

/// Exits with status 2 after `message`: a bad command-line argument.
pub fn bad_arg(message: &str) -> ! {
    eprintln!("error: {message}; see --help");
    std::process::exit(2)
}

/// The value `val` of the count flag `flag`: an integer of at least `min`.
pub fn count_arg(flag: &str, val: &str, min: usize) -> usize {
    match val.parse::<usize>() {
        Ok(n) if n >= min => n,
        _ => bad_arg(&format!(
            "{flag} takes an integer of at least {min}, not `{val}`"
        )),
    }
}

/// The value of `--threads`: counts from 1 to 65,535, comma-separated.
pub fn threads_arg(val: &str) -> Vec<usize> {
    let counts: Option<Vec<usize>> = val
        .split(',')
        .map(|t| t.parse().ok().filter(|n| (1..=65_535).contains(n)))
        .collect();
    counts.unwrap_or_else(|| {
        bad_arg(&format!(
            "--threads takes counts from 1 to 65535, comma-separated, not `{val}`"
        ))
    })
}

use egg::Searcher as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One `test_fn!` test of egg's suites.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    pub start: &'static str,
    pub goals: Vec<&'static str>,
    pub iter_limit: usize,
    pub node_limit: usize,
    pub time_limit: Duration,
    /// egg's `SimpleScheduler` instead of the default backoff.
    pub simple: bool,
    /// Terms added before the start term (egg's `with_expr` hack).
    pub extra: Vec<&'static str>,
    /// egg's test expects the goals to be proven.
    pub expect_proved: bool,
    /// The test has a check function instead of a goal hook: run to limits.
    pub no_goal_hook: bool,
}

impl Case {
    fn new(name: &'static str, start: &'static str, goals: &[&'static str]) -> Case {
        Case {
            name,
            start,
            goals: goals.to_vec(),
            iter_limit: 30,
            node_limit: 10_000,
            time_limit: Duration::from_secs(5),
            simple: false,
            extra: vec![],
            expect_proved: true,
            no_goal_hook: false,
        }
    }
    fn limits(mut self, iter: usize, node: usize, secs: u64) -> Case {
        self.iter_limit = iter;
        self.node_limit = node;
        self.time_limit = Duration::from_secs(secs);
        self
    }
    fn failing(mut self) -> Case {
        self.expect_proved = false;
        self
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seconds: f64,
    pub iterations: usize,
    pub nodes: usize,
    pub classes: usize,
    pub stop: String,
    pub proved: bool,
    /// Per iteration (Saturn only; empty for egg): the threads it could
    /// use (`Iteration::threads`) and its seconds in the phases that
    /// spread over them (matching and staging).
    pub steps: Vec<(usize, f64)>,
}

/// The share of a one-thread run's time that matching and staging took
/// in the iterations that the same case run on `wide` (on more threads)
/// ran on its pool: the phases built to spread over threads. (Commits,
/// rebuilds and planning spread only in parts, on large batches; the
/// iterations run on the calling thread not at all.) Runs are
/// deterministic, so iteration `k` of both is the same work; `None` when
/// the two runs did not do the same iterations (a time limit can stop
/// each at another point).
pub fn parallel_share(one: &Outcome, wide: &Outcome) -> Option<f64> {
    let same = one.iterations == wide.iterations
        && one.steps.len() == wide.steps.len()
        && one.stop == wide.stop
        && !one.stop.starts_with("TimeLimit");
    if !same || one.seconds <= 0.0 {
        return None;
    }
    let par: f64 = one
        .steps
        .iter()
        .zip(&wide.steps)
        .filter(|(_, (threads, _))| *threads > 1)
        .map(|((_, secs), _)| secs)
        .fold(0.0, |a, b| a + b);
    Some((par / one.seconds).min(1.0))
}

/// Amdahl's law: the speedup on `threads` threads of a run of which
/// `share` spreads perfectly over them and the rest not at all.
pub fn amdahl(share: f64, threads: usize) -> f64 {
    1.0 / ((1.0 - share) + share / threads as f64)
}

impl Outcome {
    /// True when both stopped by saturating, or at the same iteration for
    /// the same kind of reason, so their e-graphs should have the same size.
    pub fn comparable(&self, other: &Outcome) -> bool {
        let kind = |s: &str| s.split('(').next().unwrap_or("").to_string();
        self.iterations == other.iterations && kind(&self.stop) == kind(&other.stop)
    }
}

/// The geometric mean of positive ratios (1 for none).
pub fn geomean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 1.0;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

pub fn math_cases() -> Vec<Case> {
    let mut assoc = Case::new(
        "math_associate_adds",
        "(+ 1 (+ 2 (+ 3 (+ 4 (+ 5 (+ 6 7))))))",
        &["(+ 7 (+ 6 (+ 5 (+ 4 (+ 3 (+ 2 1))))))"],
    )
    .limits(7, 10_000, 5);
    assoc.simple = true;
    assoc.no_goal_hook = true;
    let mut harder = Case::new(
        "diff_power_harder",
        "(d x (- (pow x 3) (* 7 (pow x 2))))",
        &["(* x (- (* 3 x) 14))"],
    )
    .limits(60, 100_000, 10);
    harder.extra = vec!["(* x (- (* 3 x) 14))"];
    vec![
        assoc,
        Case::new("math_fail", "(+ x y)", &["(/ x y)"]).failing(),
        Case::new("math_simplify_add", "(+ x (+ x (+ x x)))", &["(* 4 x)"]),
        Case::new(
            "math_powers",
            "(* (pow 2 x) (pow 2 y))",
            &["(pow 2 (+ x y))"],
        ),
        Case::new("math_simplify_const", "(+ 1 (- a (* (- 2 1) a)))", &["1"]),
        Case::new(
            "math_simplify_root",
            "(/ 1 (- (/ (+ 1 (sqrt five)) 2) (/ (- 1 (sqrt five)) 2)))",
            &["(/ 1 (sqrt five))"],
        )
        .limits(30, 75_000, 5),
        Case::new(
            "math_simplify_factor",
            "(* (+ x 3) (+ x 1))",
            &["(+ (+ (* x x) (* 4 x)) 3)"],
        ),
        Case::new("math_diff_same", "(d x x)", &["1"]),
        Case::new("math_diff_different", "(d x y)", &["0"]),
        Case::new("math_diff_simple1", "(d x (+ 1 (* 2 x)))", &["2"]),
        Case::new("math_diff_simple2", "(d x (+ 1 (* y x)))", &["y"]),
        Case::new("math_diff_ln", "(d x (ln x))", &["(/ 1 x)"]),
        Case::new("diff_power_simple", "(d x (pow x 3))", &["(* 3 (pow x 2))"]),
        harder,
        Case::new("integ_one", "(i 1 x)", &["x"]),
        Case::new("integ_sin", "(i (cos x) x)", &["(sin x)"]),
        Case::new("integ_x", "(i (pow x 1) x)", &["(/ (pow x 2) 2)"]),
        Case::new(
            "integ_part1",
            "(i (* x (cos x)) x)",
            &["(+ (* x (sin x)) (cos x))"],
        ),
        Case::new(
            "integ_part2",
            "(i (* (cos x) x) x)",
            &["(+ (* x (sin x)) (cos x))"],
        ),
        Case::new("integ_part3", "(i (ln x) x)", &["(- (* x (ln x)) x)"]),
    ]
}

const COMPOSE: &str = "(let compose (lam f (lam g (lam x (app (var f) (app (var g) (var x))))))";

pub fn lambda_cases() -> Vec<Case> {
    let compose_many: &'static str = Box::leak(
        format!(
            "{COMPOSE} (let add1 (lam y (+ (var y) 1)) (app (app (var compose) (var add1)) (app (app (var compose) (var add1)) (app (app (var compose) (var add1)) (app (app (var compose) (var add1)) (app (app (var compose) (var add1)) (app (app (var compose) (var add1)) (var add1)))))))))"
        )
        .into_boxed_str(),
    );
    let compose: &'static str = Box::leak(
        format!("{COMPOSE} (let add1 (lam y (+ (var y) 1)) (app (app (var compose) (var add1)) (var add1))))")
            .into_boxed_str(),
    );
    let repeat: &'static str = Box::leak(
        format!(
            "{COMPOSE} (let repeat (fix repeat (lam fun (lam n (if (= (var n) 0) (lam i (var i)) (app (app (var compose) (var fun)) (app (app (var repeat) (var fun)) (+ (var n) -1))))))) (let add1 (lam y (+ (var y) 1)) (app (app (var repeat) (var add1)) 2))))"
        )
        .into_boxed_str(),
    );
    vec![
        Case::new("lambda_under", "(lam x (+ 4 (app (lam y (var y)) 4)))", &["(lam x 8)"]),
        Case::new(
            "lambda_if_elim",
            "(if (= (var a) (var b)) (+ (var a) (var a)) (+ (var a) (var b)))",
            &["(+ (var a) (var b))"],
        ),
        Case::new("lambda_let_simple", "(let x 0 (let y 1 (+ (var x) (var y))))", &["1"]),
        Case::new("lambda_capture", "(let x 1 (lam x (var x)))", &["(lam x 1)"]).failing(),
        Case::new(
            "lambda_capture_free",
            "(let y (+ (var x) (var x)) (lam x (var y)))",
            &["(lam x (+ (var x) (var x)))"],
        )
        .failing(),
        Case::new(
            "lambda_closure_not_seven",
            "(let five 5 (let add-five (lam x (+ (var x) (var five))) (let five 6 (app (var add-five) 1))))",
            &["7"],
        )
        .failing(),
        Case::new(
            "lambda_compose",
            compose,
            &["(lam ?x (+ 1 (app (lam ?y (+ 1 (var ?y))) (var ?x))))", "(lam ?x (+ (var ?x) 2))"],
        ),
        Case::new("lambda_if_simple", "(if (= 1 1) 7 9)", &["7"]),
        Case::new("lambda_compose_many", compose_many, &["(lam ?x (+ (var ?x) 7))"]),
        Case::new("lambda_function_repeat", repeat, &["(lam ?x (+ (var ?x) 2))"])
            .limits(60, 150_000, 20),
        Case::new(
            "lambda_if",
            "(let zeroone (lam x (if (= (var x) 0) 0 1)) (+ (app (var zeroone) 0) (app (var zeroone) 10)))",
            &["1"],
        ),
        Case::new(
            "lambda_fib",
            "(let fib (fix fib (lam n (if (= (var n) 0) 0 (if (= (var n) 1) 1 (+ (app (var fib) (+ (var n) -1)) (app (var fib) (+ (var n) -2))))))) (app (var fib) 4))",
            &["3"],
        )
        .limits(60, 500_000, 5),
    ]
}

/// Runs a case on egg, as egg's `test_fn!` does (minus explanations).
pub fn run_egg<L, N>(case: &Case, rules: &[egg::Rewrite<L, N>]) -> Outcome
where
    L: egg::Language + egg::FromOp + Display + 'static,
    N: egg::Analysis<L> + Default + 'static,
{
    let t = Instant::now();
    let mut runner: egg::Runner<L, N> = egg::Runner::default()
        .with_iter_limit(case.iter_limit)
        .with_node_limit(case.node_limit)
        .with_time_limit(case.time_limit);
    if case.simple {
        runner = runner.with_scheduler(egg::SimpleScheduler);
    }
    for e in &case.extra {
        runner = runner.with_expr(&e.parse().unwrap());
    }
    runner = runner.with_expr(&case.start.parse().unwrap());
    let root = *runner.roots.last().unwrap();
    let goals: Vec<egg::Pattern<L>> = case.goals.iter().map(|g| g.parse().unwrap()).collect();
    if !case.no_goal_hook {
        let goals = goals.clone();
        runner = runner.with_hook(move |r| {
            let id = r.egraph.find(root);
            if goals
                .iter()
                .all(|g| g.search_eclass(&r.egraph, id).is_some())
            {
                Err("Proved all goals".into())
            } else {
                Ok(())
            }
        });
    }
    let runner = runner.run(rules);
    let seconds = t.elapsed().as_secs_f64();
    if std::env::var_os("SATURN_BENCH_PHASES").is_some() {
        let (mut se, mut ap, mut rb) = (0.0, 0.0, 0.0);
        for it in &runner.iterations {
            se += it.search_time;
            ap += it.apply_time;
            rb += it.rebuild_time;
        }
        eprintln!(
            "  phases {} egg: total {:.3}ms search {:.3} apply {:.3} rebuild {:.3}",
            case.name,
            seconds * 1e3,
            se * 1e3,
            ap * 1e3,
            rb * 1e3
        );
    }
    if std::env::var_os("SATURN_BENCH_TRACE").is_some() {
        for (k, it) in runner.iterations.iter().enumerate() {
            eprintln!(
                "  egg it {k}: nodes {} classes {} search {:.2}ms apply {:.2}ms rebuild {:.2}ms",
                it.egraph_nodes,
                it.egraph_classes,
                it.search_time * 1e3,
                it.apply_time * 1e3,
                it.rebuild_time * 1e3
            );
        }
    }
    let id = runner.egraph.find(root);
    Outcome {
        seconds,
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        stop: format!("{:?}", runner.stop_reason.unwrap()),
        proved: goals
            .iter()
            .all(|g| g.search_eclass(&runner.egraph, id).is_some()),
        steps: vec![],
    }
}

/// Runs a case on Saturn with the same limits, scheduler and goal hook.
pub fn run_saturn<L, N>(
    case: &Case,
    rules: &[saturn::Rewrite<L, N>],
    pool: &Arc<rayon::ThreadPool>,
) -> Outcome
where
    L: saturn::Language + saturn::FromOp,
    N: saturn::Analysis<L> + Default,
{
    let t = Instant::now();
    let mut runner: saturn::Runner<L, N> = saturn::Runner::default()
        .with_iter_limit(case.iter_limit)
        .with_node_limit(case.node_limit)
        .with_time_limit(case.time_limit)
        .with_pool(pool.clone());
    if case.simple {
        runner = runner.with_scheduler(saturn::Scheduler::Simple);
    }
    for e in &case.extra {
        runner = runner.with_expr(&e.parse().unwrap());
    }
    runner = runner.with_expr(&case.start.parse().unwrap());
    let root = *runner.roots.last().unwrap();
    let goals: Vec<saturn::Pattern<L>> = case.goals.iter().map(|g| g.parse().unwrap()).collect();
    if !case.no_goal_hook {
        let goals = goals.clone();
        runner = runner.with_hook(move |r| {
            let id = r.egraph.find(root);
            if goals
                .iter()
                .all(|g| !g.search_eclass(&r.egraph, id).is_empty())
            {
                Err("Proved all goals".into())
            } else {
                Ok(())
            }
        });
    }
    let runner = runner.run(rules);
    let seconds = t.elapsed().as_secs_f64();
    if std::env::var_os("SATURN_BENCH_PHASES").is_some() {
        let (mut se, mut ap, mut rb, mut pl, mut ma, mut st) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for it in &runner.iterations {
            se += it.search_time;
            ap += it.apply_time;
            rb += it.rebuild_time;
            pl += it.plan_time;
            ma += it.match_time;
            st += it.stage_time;
        }
        eprintln!(
            "  phases {} threads {}: total {:.3}ms search {:.3} (plan {:.3} match {:.3}) apply {:.3} (stage {:.3}) rebuild {:.3}",
            case.name,
            pool.current_num_threads(),
            seconds * 1e3,
            se * 1e3,
            pl * 1e3,
            ma * 1e3,
            ap * 1e3,
            st * 1e3,
            rb * 1e3
        );
    }
    if std::env::var_os("SATURN_BENCH_TRACE").is_some() {
        for (k, it) in runner.iterations.iter().enumerate() {
            eprintln!(
                "  t{} it {k}: nodes {} classes {} roots {} matches {} search {:.2}ms plan {:.2}ms match {:.2}ms apply {:.2}ms (stage {:.2}) rebuild {:.2}ms spread {}",
                pool.current_num_threads(),
                it.egraph_nodes,
                it.egraph_classes,
                it.roots_searched,
                it.n_matches,
                it.search_time * 1e3,
                it.plan_time * 1e3,
                it.match_time * 1e3,
                it.apply_time * 1e3,
                it.stage_time * 1e3,
                it.rebuild_time * 1e3,
                it.threads
            );
        }
    }
    let id = runner.egraph.find(root);
    Outcome {
        seconds,
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_number_of_nodes(),
        classes: runner.egraph.number_of_classes(),
        stop: format!("{:?}", runner.stop_reason.clone().unwrap()),
        proved: goals
            .iter()
            .all(|g| !g.search_eclass(&runner.egraph, id).is_empty()),
        steps: runner
            .iterations
            .iter()
            .map(|it| (it.threads, it.match_time + it.stage_time))
            .collect(),
    }
}
