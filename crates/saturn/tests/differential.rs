//! Differential tests of the runner.
//!
//! 1. Parallel vs sequential: the same run at 1, 2 and 8 threads (and on a
//!    shared pool) must give identical results — the same e-graph dump (ids
//!    included), counts, per-iteration statistics, stop reason and
//!    extracted terms — for several rule sets: associativity-commutativity
//!    with limits, a terminating simplification set, constant folding with
//!    an analysis, and backoff scheduling that bans rules.
//! 2. Incremental vs full search: the same equalities over the input's
//!    subterms, and the same counts (per iteration, too).
//!
//! Exact (id-level) agreement across thread counts currently holds only
//! while every rule searches fewer than ~136 roots per iteration: the
//! runner's work-item size depends on the thread count, and a staged buffer
//! commits all its nodes before all its unions, so ids depend on how
//! matches were chunked (see `bug_commit_order_depends_on_chunking`). The
//! exact proptests therefore keep e-graphs under `EXACT_NODE_LIMIT`; the
//! stress test runs far bigger e-graphs and checks repeatability and
//! equivalence-level agreement.

mod common;

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use common::arith::{Arith, Fold};
use common::{cases, plus_term, term, Term};
use proptest::prelude::*;
use saturn::*;

// ---------------------------------------------------------------------
// Rule sets.

fn ac_rules() -> Vec<Rewrite<SymbolLang, ()>> {
    vec![
        rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        rewrite!("assoc-add-rev"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))"),
        rewrite!("zero-add"; "(+ ?a 0)" => "?a"),
    ]
}

fn simplify_rules() -> Vec<Rewrite<SymbolLang, ()>> {
    vec![
        rewrite!("zero-add-r"; "(+ ?a 0)" => "?a"),
        rewrite!("zero-add-l"; "(+ 0 ?a)" => "?a"),
        rewrite!("gg"; "(g (g ?x))" => "?x"),
        rewrite!("f-idem"; "(f ?x ?x)" => "?x"),
        rewrite!("add-neg"; "(+ ?x (g ?x))" => "0"),
        rewrite!("g-zero"; "(g 0)" => "0"),
        rewrite!("f-one"; "(f ?x 1)" => "(g ?x)"),
        rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("g-add"; "(g (+ ?a ?b))" => "(+ (g ?a) (g ?b))"),
    ]
}

fn fold_rules() -> Vec<Rewrite<Arith, Fold>> {
    vec![
        rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("comm-mul"; "(* ?a ?b)" => "(* ?b ?a)"),
        rewrite!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        rewrite!("zero-add"; "(+ ?a 0)" => "?a"),
        rewrite!("one-mul"; "(* ?a 1)" => "?a"),
        rewrite!("zero-mul"; "(* ?a 0)" => "0"),
        rewrite!("distrib"; "(* ?a (+ ?b ?c))" => "(+ (* ?a ?b) (* ?a ?c))"),
        rewrite!("neg-neg"; "(neg (neg ?a))" => "?a"),
        rewrite!("sub-self"; "(+ ?a (neg ?a))" => "0"),
    ]
}

/// Random Arith terms over x, y, z and small constants.
fn arith_term() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["x", "y", "z"]).prop_map(str::to_owned),
        (-2i64..4).prop_map(|k| k.to_string()),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(+ {a} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(* {a} {b})")),
            inner.prop_map(|a| format!("(neg {a})")),
        ]
    })
}

// ---------------------------------------------------------------------
// Running and summarizing.

#[derive(Clone)]
struct Cfg {
    threads: usize,
    incremental: bool,
    scheduler: Scheduler,
    iter_limit: usize,
    node_limit: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Cfg {
    fn new(iter_limit: usize, node_limit: usize, scheduler: Scheduler) -> Self {
        Cfg {
            threads: 1,
            incremental: true,
            scheduler,
            iter_limit,
            node_limit,
            pool: None,
        }
    }
    fn threads(&self, n: usize) -> Self {
        Cfg {
            threads: n,
            ..self.clone()
        }
    }
    fn incremental(&self, on: bool) -> Self {
        Cfg {
            incremental: on,
            ..self.clone()
        }
    }
}

fn run<L: FromOp, N: Analysis<L> + Default>(
    terms: &[String],
    rules: &[Rewrite<L, N>],
    cfg: &Cfg,
) -> Runner<L, N> {
    let mut r = Runner::default()
        .with_threads(cfg.threads)
        .with_incremental(cfg.incremental)
        .with_scheduler(cfg.scheduler.clone())
        .with_iter_limit(cfg.iter_limit)
        .with_node_limit(cfg.node_limit)
        .with_time_limit(Duration::from_secs(120));
    if let Some(p) = &cfg.pool {
        r = r.with_pool(p.clone());
    }
    for t in terms {
        r = r.with_expr(&t.parse().unwrap());
    }
    r.run(rules)
}

/// Per-iteration statistics that must not depend on the thread count.
#[derive(Debug, PartialEq)]
struct IterStats {
    egraph_nodes: usize,
    egraph_classes: usize,
    applied: Vec<(Symbol, usize)>,
    n_matches: usize,
    roots_searched: usize,
    n_rebuilds: usize,
    stop_reason: Option<StopReason>,
}

#[derive(Debug, PartialEq)]
struct Summary {
    classes: usize,
    nodes: usize,
    ids: usize,
    size: usize,
    stop: Option<StopReason>,
    iterations: Vec<IterStats>,
    best: Vec<(usize, String)>,
    roots: Vec<Id>,
    dump: String,
}

fn summarize<L: Language + Display, N: Analysis<L>>(r: &Runner<L, N>) -> Summary {
    assert_eq!(r.egraph.check_invariants(), Ok(()));
    let ex = Extractor::new(&r.egraph, AstSize);
    Summary {
        classes: r.egraph.number_of_classes(),
        nodes: r.egraph.total_number_of_nodes(),
        ids: r.egraph.number_of_ids(),
        size: r.egraph.total_size(),
        stop: r.stop_reason.clone(),
        iterations: r
            .iterations
            .iter()
            .map(|it| IterStats {
                egraph_nodes: it.egraph_nodes,
                egraph_classes: it.egraph_classes,
                applied: it.applied.clone(),
                n_matches: it.n_matches,
                roots_searched: it.roots_searched,
                n_rebuilds: it.n_rebuilds,
                stop_reason: it.stop_reason.clone(),
            })
            .collect(),
        best: r
            .roots
            .iter()
            .map(|&id| {
                let (c, e) = ex.find_best(id);
                (c, e.to_string())
            })
            .collect(),
        roots: r.roots.iter().map(|&id| r.egraph.find(id)).collect(),
        dump: r.egraph.dump().to_string(),
    }
}

/// Runs at 1, 2 and 8 threads and on a shared 3-thread pool; all must
/// agree. Returns the 1-thread summary.
fn check_thread_counts<L: FromOp, N: Analysis<L> + Default>(
    terms: &[String],
    rules: &[Rewrite<L, N>],
    cfg: &Cfg,
) -> Result<Summary, TestCaseError> {
    let one = summarize(&run(terms, rules, &cfg.threads(1)));
    prop_assert!(!one.iterations.is_empty());
    prop_assert!(
        !matches!(one.stop, Some(StopReason::TimeLimit(_)) | None),
        "unexpected stop {:?}",
        one.stop
    );
    for threads in [2, 8] {
        let many = summarize(&run(terms, rules, &cfg.threads(threads)));
        prop_assert_eq!(&many, &one, "{} threads differ from 1", threads);
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap(),
    );
    let pooled = Cfg {
        pool: Some(pool),
        ..cfg.clone()
    };
    prop_assert_eq!(
        &summarize(&run(terms, rules, &pooled)),
        &one,
        "shared pool differs"
    );
    Ok(one)
}

fn strings(ts: &[Term]) -> Vec<String> {
    ts.iter().map(Term::to_string).collect()
}

fn backoff(match_limit: usize, ban_length: usize) -> Scheduler {
    Scheduler::Backoff {
        match_limit,
        ban_length,
    }
}

// ---------------------------------------------------------------------
// Parallel vs sequential.

/// Keeps every search under 136 roots (roots <= classes <= hashcons
/// entries <= node limit at the start of an iteration), where the runner's
/// chunking is the same at every thread count on any machine.
const EXACT_NODE_LIMIT: usize = 120;

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn threads_agree_on_ac(
        terms in prop::collection::vec(plus_term(3, 8), 1..4),
        limit in 2usize..6,
        small_nodes in any::<bool>(),
    ) {
        // A small node limit stops some runs mid-iteration (between rules).
        let node_limit = if small_nodes { 60 } else { EXACT_NODE_LIMIT };
        check_thread_counts(&strings(&terms), &ac_rules(), &Cfg::new(limit, node_limit, Scheduler::Simple))?;
    }

    #[test]
    fn threads_agree_on_ac_with_backoff(
        terms in prop::collection::vec(plus_term(3, 8), 1..4),
        match_limit in 2usize..20,
    ) {
        check_thread_counts(&strings(&terms), &ac_rules(), &Cfg::new(8, EXACT_NODE_LIMIT, backoff(match_limit, 2)))?;
    }

    #[test]
    fn threads_agree_on_simplification(terms in prop::collection::vec(term(3, 10), 1..4)) {
        check_thread_counts(&strings(&terms), &simplify_rules(), &Cfg::new(60, EXACT_NODE_LIMIT, Scheduler::Simple))?;
    }

    #[test]
    fn threads_agree_on_constant_folding(terms in prop::collection::vec(arith_term(), 1..4)) {
        check_thread_counts(&terms, &fold_rules(), &Cfg::new(4, EXACT_NODE_LIMIT, Scheduler::default()))?;
    }
}

/// A hand-picked case where backoff does ban a rule; the ban and its
/// effect are the same at every thread count.
#[test]
fn backoff_bans_deterministically() {
    let terms = vec!["(+ a (+ b (+ c (+ d (+ a b)))))".to_string()];
    let cfg = Cfg::new(12, EXACT_NODE_LIMIT, backoff(4, 1));
    let one = check_thread_counts(&terms, &ac_rules(), &cfg).unwrap();
    // The first iteration applied every matching rule; later some was
    // banned (fewer rules applied than match), which backoff must cause
    // with a match limit this small.
    let simple = summarize(&run(
        &terms,
        &ac_rules(),
        &Cfg::new(12, EXACT_NODE_LIMIT, Scheduler::Simple),
    ));
    assert_ne!(one.iterations, simple.iterations, "backoff had no effect");
}

/// (classes, canonical nodes, stop reason, extracted terms, root partition)
type EquivLevel = (
    usize,
    usize,
    Option<StopReason>,
    Vec<(usize, String)>,
    Vec<usize>,
);

/// What must agree between runs whatever the chunking: the partition of
/// the roots, counts of classes and canonical nodes, stop reason and the
/// extracted terms.
fn equivalence_level(s: &Summary) -> EquivLevel {
    let roots = s
        .roots
        .iter()
        .map(|r| s.roots.iter().position(|x| x == r).unwrap())
        .collect();
    (s.classes, s.nodes, s.stop.clone(), s.best.clone(), roots)
}

/// Repeated 8-thread runs on e-graphs of thousands of classes (on 2
/// cores, so threads are preempted at random points): every run is
/// identical to the first, and agrees with the 1-thread run on everything
/// the chunking bug leaves alone.
#[test]
fn stress_eight_threads_match_one() {
    let terms: Vec<String> = vec![
        "(+ a (+ b (+ c (+ d (+ e (+ f (+ 0 g)))))))".into(),
        "(+ (+ (+ g f) e) (+ (+ d c) (+ (+ b a) (+ a 0))))".into(),
    ];
    let fterms: Vec<String> = vec![
        "(* (+ x (+ 2 y)) (+ (* 3 z) (+ x 1)))".into(),
        "(+ (* x 0) (neg (neg (+ 4 5))))".into(),
        "(+ (+ (* 2 x) (* y 3)) (+ (neg z) (* (+ 1 1) x)))".into(),
    ];
    let reps = if cfg!(debug_assertions) { 3 } else { 20 };
    let cfg = Cfg::new(4, 200_000, Scheduler::Simple);
    let one = summarize(&run(&terms, &ac_rules(), &cfg));
    assert!(
        one.classes > 200,
        "workload too small to exercise the parallel paths: {}",
        one.classes
    );
    let first = summarize(&run(&terms, &ac_rules(), &cfg.threads(8)));
    assert_eq!(equivalence_level(&first), equivalence_level(&one));
    let fcfg = Cfg::new(5, 200_000, Scheduler::default());
    let fone = summarize(&run(&fterms, &fold_rules(), &fcfg));
    assert!(
        fone.classes > 200,
        "fold workload too small: {}",
        fone.classes
    );
    let ffirst = summarize(&run(&fterms, &fold_rules(), &fcfg.threads(8)));
    assert_eq!(equivalence_level(&ffirst), equivalence_level(&fone));
    for rep in 0..reps {
        let many = summarize(&run(&terms, &ac_rules(), &cfg.threads(8)));
        assert!(
            many == first,
            "8-thread AC run {rep} differs from the first 8-thread run"
        );
        if rep % 2 == 0 {
            let many = summarize(&run(&fterms, &fold_rules(), &fcfg.threads(8)));
            assert!(
                many == ffirst,
                "8-thread fold run {rep} differs from the first 8-thread run"
            );
        }
    }
}

/// BUG: the runner splits each rule's roots into work items whose size
/// depends on the thread count (`roots / (threads * 8)`, clamped to
/// 16..=1024), and `Actions::commit` adds *all* pending nodes of an item
/// before performing *any* of its unions. When match A (a union of two
/// existing classes) and a later match B (adding a node whose child A's
/// union makes non-canonical) share an item, B's node gets a fresh id that
/// rebuild later merges by congruence; in separate items, B's node
/// canonicalizes to an existing one. So ids, `n_rebuilds` and the hashcons
/// size depend on the thread count (and, for `with_threads(1)`, on the
/// global rayon pool, i.e. on the machine's core count).
///
/// Here: roots 0..15 are dummy `(p yi)`, then `(p x)` (root 15; `(k x)`
/// exists, so its match unions two existing classes) and `(p (p x))`
/// (root 16; stages `(k (p x))`, which is `(k (k x))` once `(p x) = (k x)`).
/// With 320 roots, 2 threads use items of 20 (both matches in one item),
/// 8 threads items of 16 (separate items).
#[test]
fn bug_commit_order_depends_on_chunking() {
    let build = |threads: usize| {
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![rewrite!("pk"; "(p ?x)" => "(k ?x)")];
        let mut r = Runner::default()
            .with_threads(threads)
            .with_iter_limit(1)
            .with_scheduler(Scheduler::Simple);
        for i in 0..15 {
            r = r.with_expr(&format!("(p y{i})").parse().unwrap());
        }
        for t in ["(k (k x))", "(p x)", "(p (p x))"] {
            r = r.with_expr(&t.parse().unwrap());
        }
        for i in 15..320 {
            r = r.with_expr(&format!("(p y{i})").parse().unwrap());
        }
        r.run(&rules)
    };
    let (two, eight) = (build(2), build(8));
    assert_eq!(
        two.egraph.number_of_classes(),
        eight.egraph.number_of_classes()
    );
    assert_eq!(
        (
            two.egraph.number_of_ids(),
            two.iterations[0].n_rebuilds,
            two.egraph.total_size()
        ),
        (
            eight.egraph.number_of_ids(),
            eight.iterations[0].n_rebuilds,
            eight.egraph.total_size()
        ),
        "(ids, unions found by rebuild, hashcons size) differ between 2 and 8 threads"
    );
}

// ---------------------------------------------------------------------
// Incremental vs full search.

/// For every pair of input subterms: same class in one run iff in the other.
fn same_equivalence<L: FromOp, N: Analysis<L>>(
    a: &Runner<L, N>,
    b: &Runner<L, N>,
    subterms: &[String],
) -> Result<(), TestCaseError> {
    let look = |r: &Runner<L, N>| -> Vec<Id> {
        subterms
            .iter()
            .map(|t| {
                r.egraph
                    .lookup_expr(&t.parse().unwrap())
                    .expect("input subterm present")
            })
            .collect()
    };
    let (ia, ib) = (look(a), look(b));
    for i in 0..subterms.len() {
        for j in 0..i {
            prop_assert_eq!(
                ia[i] == ia[j],
                ib[i] == ib[j],
                "{} vs {}: incremental says {}, full says {}",
                &subterms[i],
                &subterms[j],
                ia[i] == ia[j],
                ib[i] == ib[j]
            );
        }
    }
    Ok(())
}

fn subterms_of(terms: &[Term]) -> Vec<String> {
    let mut v: Vec<String> = terms
        .iter()
        .flat_map(|t| t.subterms())
        .map(|t| t.to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Subterms of Arith terms given as text (via SymbolLang, which prints the
/// same text).
fn arith_subterms(terms: &[String]) -> Vec<String> {
    let mut v = vec![];
    for t in terms {
        let e: RecExpr<SymbolLang> = t.parse().unwrap();
        fn go(e: &RecExpr<SymbolLang>, i: Id, out: &mut Vec<String>) -> String {
            let n = &e[i];
            let s = if n.is_leaf() {
                n.to_string()
            } else {
                let kids: Vec<String> = n.children().iter().map(|&c| go(e, c, out)).collect();
                format!("({} {})", n, kids.join(" "))
            };
            out.push(s.clone());
            s
        }
        go(&e, e.root(), &mut v);
    }
    v.sort();
    v.dedup();
    v
}

/// Compares an incremental and a full run: the same equivalence over the
/// input's subterms, the same per-iteration class counts and the same
/// final class and canonical node counts.
/// An incremental run and a full-search run.
type RunPair<L, N> = (Runner<L, N>, Runner<L, N>);

fn check_incremental<L: FromOp, N: Analysis<L> + Default>(
    terms: &[String],
    subterms: &[String],
    rules: &[Rewrite<L, N>],
    cfg: &Cfg,
) -> Result<RunPair<L, N>, TestCaseError> {
    let inc = run(terms, rules, &cfg.incremental(true));
    let full = run(terms, rules, &cfg.incremental(false));
    prop_assert_eq!(inc.egraph.check_invariants(), Ok(()));
    prop_assert_eq!(full.egraph.check_invariants(), Ok(()));
    same_equivalence(&inc, &full, subterms)?;
    prop_assert_eq!(&inc.stop_reason, &full.stop_reason);
    prop_assert_eq!(inc.iterations.len(), full.iterations.len());
    for (k, (a, b)) in inc.iterations.iter().zip(&full.iterations).enumerate() {
        prop_assert_eq!(
            a.egraph_classes,
            b.egraph_classes,
            "classes at iteration {}",
            k
        );
        // (Hashcons size and per-rule union counts are not compared: the
        // chunking bug makes them depend on how many roots were searched.)
        let rules_a: Vec<Symbol> = a.applied.iter().map(|x| x.0).collect();
        let rules_b: Vec<Symbol> = b.applied.iter().map(|x| x.0).collect();
        prop_assert_eq!(
            rules_a,
            rules_b,
            "rules that changed the e-graph at iteration {}",
            k
        );
    }
    prop_assert_eq!(
        inc.egraph.number_of_classes(),
        full.egraph.number_of_classes()
    );
    prop_assert_eq!(
        inc.egraph.total_number_of_nodes(),
        full.egraph.total_number_of_nodes()
    );
    Ok((inc, full))
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn incremental_equals_full_when_saturating(terms in prop::collection::vec(term(4, 16), 1..5)) {
        let (inc, _) = check_incremental(
            &strings(&terms), &subterms_of(&terms), &simplify_rules(),
            &Cfg::new(100, 50_000, Scheduler::Simple))?;
        prop_assert_eq!(inc.stop_reason, Some(StopReason::Saturated));
    }

    #[test]
    fn incremental_equals_full_on_ac(
        terms in prop::collection::vec(plus_term(3, 8), 1..4),
        limit in 1usize..6,
    ) {
        check_incremental(&strings(&terms), &subterms_of(&terms), &ac_rules(),
            &Cfg::new(limit, 100_000, Scheduler::Simple))?;
    }

    #[test]
    fn incremental_equals_full_with_backoff(
        terms in prop::collection::vec(plus_term(3, 8), 1..4),
        match_limit in 2usize..20,
    ) {
        check_incremental(&strings(&terms), &subterms_of(&terms), &ac_rules(),
            &Cfg::new(10, 100_000, backoff(match_limit, 2)))?;
    }

    #[test]
    fn incremental_equals_full_with_folding(terms in prop::collection::vec(arith_term(), 1..4)) {
        check_incremental(&terms, &arith_subterms(&terms), &fold_rules(),
            &Cfg::new(4, 100_000, Scheduler::Simple))?;
    }

    /// Rules with a non-local condition (`ConditionEqual`, which looks at
    /// parents of the matched classes) must still find matches whose
    /// condition becomes true later, far from the match.
    #[test]
    fn incremental_equals_full_with_nonlocal_conditions(
        terms in prop::collection::vec(term(3, 10), 1..5),
        wrap in prop::collection::vec((term(2, 4), term(2, 4)), 0..4),
    ) {
        let mut all = terms.clone();
        for (x, y) in wrap {
            all.push(Term::node("h", vec![x.clone(), y.clone()]));
        }
        let rules = nonlocal_rules();
        let (inc, _) = check_incremental(&strings(&all), &subterms_of(&all), &rules,
            &Cfg::new(100, 100_000, Scheduler::Simple))?;
        prop_assert_eq!(inc.stop_reason, Some(StopReason::Saturated));
    }
}

fn nonlocal_rules() -> Vec<Rewrite<SymbolLang, ()>> {
    let mut rules = simplify_rules();
    // g is injective: (h x y) = x when (g x) = (g y).
    rules.push(
        rewrite!("h-inj"; "(h ?x ?y)" => "?x").with_condition(ConditionEqual(
            "(g ?x)".parse().unwrap(),
            "(g ?y)".parse().unwrap(),
        )),
    );
    rules
}

/// The deterministic core of the non-local case: the condition of `h-inj`
/// on (h a b) only becomes true after (g a) and (g b) are merged, two
/// iterations in, and nothing near (h a b) changes.
#[test]
fn nonlocal_condition_found_later() {
    let mut rules = nonlocal_rules();
    rules.push(rewrite!("ga"; "(g a)" => "(k c)"));
    rules.push(rewrite!("kc"; "(k c)" => "(k d)"));
    rules.push(rewrite!("gb"; "(g b)" => "(k d)"));
    let terms: Vec<String> = vec!["(h a b)".into(), "(g a)".into(), "(g b)".into()];
    for incremental in [false, true] {
        let r = run(
            &terms,
            &rules,
            &Cfg::new(100, 10_000, Scheduler::Simple).incremental(incremental),
        );
        assert_eq!(r.stop_reason, Some(StopReason::Saturated));
        let a = r.egraph.lookup_expr(&"a".parse().unwrap()).unwrap();
        assert_eq!(
            r.egraph.find(r.roots[0]),
            a,
            "incremental={incremental}: (h a b) = a missed"
        );
        let b = r.egraph.lookup_expr(&"b".parse().unwrap()).unwrap();
        assert_ne!(a, b);
    }
}

/// A hook that adds terms in the middle of a run: the additions are seen
/// by incremental matching (they are changes like any other), and the run
/// is the same at every thread count.
#[test]
fn hook_additions_are_matched() {
    let go = |threads: usize, incremental: bool| {
        Runner::<SymbolLang, ()>::default()
            .with_expr(&"(+ a (g (g b)))".parse().unwrap())
            .with_threads(threads)
            .with_incremental(incremental)
            .with_scheduler(Scheduler::Simple)
            .with_iter_limit(50)
            .with_hook(|r| {
                if r.iterations.len() == 1 {
                    let id = r
                        .egraph
                        .add_expr(&"(f (+ (g (g c)) 0) (+ 0 (g (g c))))".parse().unwrap());
                    r.roots.push(id);
                }
                Ok(())
            })
            .run(&simplify_rules())
    };
    let reference = go(1, false);
    assert_eq!(reference.stop_reason, Some(StopReason::Saturated));
    assert_eq!(reference.roots.len(), 2);
    let c = reference.egraph.lookup_expr(&"c".parse().unwrap()).unwrap();
    // gg, zero-add and f-idem all fired on the added term.
    assert_eq!(reference.egraph.find(reference.roots[1]), c);
    let want = summarize(&reference);
    for (threads, incremental) in [(1, true), (2, true), (8, true), (8, false)] {
        let r = go(threads, incremental);
        let got = summarize(&r);
        assert_eq!(
            equivalence_level(&got),
            equivalence_level(&want),
            "threads={threads} incremental={incremental}"
        );
        assert_eq!(
            r.egraph.find(r.roots[1]),
            r.egraph.lookup_expr(&"c".parse().unwrap()).unwrap()
        );
    }
}

/// Workloads large enough for the runner's parallel paths at two threads
/// or more: an associative-commutative blow-up to 24,000 ids, where
/// large classes are split into node ranges, the neighbourhood search
/// gives up past most classes and clears its bitset in parallel; and a
/// 9-term sum that keeps changing beside 1,500 small sums that saturate at
/// once, so hundreds of classes near the changes are swept from the
/// bitset in parallel. Every thread count must agree, statistics
/// included. (The blow-up found that roots split into pieces were
/// counted once per piece in `roots_searched`.)
#[test]
fn large_workloads_agree_across_thread_counts() {
    let blowup = vec!["(+ a (+ b (+ c (+ d (+ e (+ f (+ g (+ h 0))))))))".to_string()];
    let cfg = Cfg::new(8, 40_000, Scheduler::Simple);
    let one = check_thread_counts(&blowup, &ac_rules(), &cfg).unwrap();
    assert!(one.ids > 16_384, "too few ids: {}", one.ids);
    let mut mixed: Vec<String> = (0..1500).map(|k| format!("(+ x{k} y{k})")).collect();
    mixed.push("(+ a (+ b (+ c (+ d (+ e (+ f (+ g (+ h i))))))))".into());
    let cfg = Cfg::new(6, 60_000, Scheduler::Simple);
    let one = check_thread_counts(&mixed, &ac_rules(), &cfg).unwrap();
    // Runs move to the pool from 8,192 hashcons entries.
    assert!(one.iterations.iter().any(|it| it.egraph_nodes > 8192));
}
