//! Every limit stops the run gracefully and leaves a valid e-graph whose
//! extracted term is no worse than the input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::arith::{Arith, Fold};
use common::{comm_assoc, long_sum, run_to_memory_limit};
use saturn::*;

/// Associativity (both ways) and commutativity: the classic blow-up.
fn ac_rules() -> Vec<Rewrite<SymbolLang, ()>> {
    let mut rules = comm_assoc();
    rules.push(rewrite!("assoc-rev"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))"));
    rules
}

/// The run stopped for `expected`, the e-graph is rebuilt and consistent,
/// the input is still in the root class, and the best term is no bigger.
fn assert_graceful(
    runner: &Runner<SymbolLang, ()>,
    input: &RecExpr<SymbolLang>,
    expected: fn(&StopReason) -> bool,
) {
    let reason = runner.stop_reason.as_ref().expect("stopped");
    assert!(expected(reason), "unexpected stop reason {reason:?}");
    assert_eq!(runner.egraph.check_invariants(), Ok(()));
    let root = runner.egraph.find(runner.roots[0]);
    assert_eq!(
        runner
            .egraph
            .lookup_expr(input)
            .map(|c| runner.egraph.find(c)),
        Some(root)
    );
    let (cost, best) = Extractor::new(&runner.egraph, AstSize).find_best(root);
    assert!(
        cost <= input.len(),
        "extracted {best} ({cost}) is worse than the input ({})",
        input.len()
    );
}

/// The AC rules on `input` without backoff until the node limit `limit`,
/// checked to stop there gracefully.
fn ac_to_node_limit(input: &RecExpr<SymbolLang>, limit: usize) -> Runner<SymbolLang, ()> {
    let r = Runner::default()
        .with_expr(input)
        .with_node_limit(limit)
        .with_iter_limit(1_000)
        .with_time_limit(Duration::from_secs(600))
        .with_scheduler(Scheduler::Simple)
        .run(&ac_rules());
    let reason = r.stop_reason.clone();
    assert!(
        matches!(reason, Some(StopReason::NodeLimit(n)) if n > limit),
        "{reason:?}"
    );
    assert_graceful(&r, input, |s| matches!(s, StopReason::NodeLimit(_)));
    assert_reachable(&r.egraph, r.roots[0]);
    r
}

/// Every class is reachable from `root` through children: a commit cut by
/// a limit joins the nodes it added to their matches (each rule here has
/// a connected right-hand side), and leaves none in a class of its own.
/// (Before, a stop between the levels of a commit or among its unions
/// dropped the rest of them: on `long_sum(12)` at 5,000 nodes, 5,471 of
/// 5,915 classes were unreachable.)
fn assert_reachable(eg: &EGraph<SymbolLang, ()>, root: Id) {
    let mut seen = std::collections::HashSet::new();
    let mut todo = vec![eg.find(root)];
    while let Some(c) = todo.pop() {
        if seen.insert(c) {
            for n in &eg[c].nodes {
                todo.extend(n.children().iter().map(|&k| eg.find(k)));
            }
        }
    }
    assert_eq!(
        seen.len(),
        eg.number_of_classes(),
        "classes unreachable from the root"
    );
}

#[test]
fn node_limit_on_ac_blowup() {
    let input = long_sum(12);
    let r = ac_to_node_limit(&input, 5_000);
    // Commits stop as soon as the limit is seen, so the overshoot is
    // bounded by one batch, not by a whole iteration.
    eprintln!("node limit 5000, stopped at {}", r.egraph.total_size());
    assert!(
        r.egraph.total_size() < 2 * 5_000,
        "overshoot: {}",
        r.egraph.total_size()
    );
}

/// One round over a long sum finds far more matches than the node limit
/// leaves room for: the commit stops inside a rule's batch (not at its
/// end), and without backoff the round stages only a budget of them.
#[test]
fn node_limit_inside_one_huge_round() {
    let input = long_sum(16);
    let r = ac_to_node_limit(&input, 100_000);
    let last = r.iterations.last().unwrap();
    eprintln!(
        "stopped at {} nodes; last round {} matches",
        r.egraph.total_size(),
        last.n_matches
    );
    // One chunk of a batch (16,384 nodes) past the limit at most.
    assert!(
        r.egraph.total_size() <= 100_000 + 16_384,
        "{}",
        r.egraph.total_size()
    );
}

#[test]
fn time_limit_on_ac_blowup() {
    let input = long_sum(14);
    let r = Runner::default()
        .with_expr(&input)
        .with_node_limit(usize::MAX)
        .with_iter_limit(1_000)
        .with_time_limit(Duration::from_millis(200))
        .with_scheduler(Scheduler::Simple)
        .with_threads(2)
        .run(&ac_rules());
    assert_graceful(
        &r,
        &input,
        |s| matches!(s, StopReason::TimeLimit(t) if *t >= 0.2),
    );
}

/// A deadline that passes before an iteration's commit (here in a hook)
/// stops the run with `TimeLimit`; the iteration, whose matches were not
/// applied, is never taken for a fixed point.
#[test]
fn a_deadline_passed_before_the_commit_is_not_a_fixed_point() {
    let input: RecExpr<SymbolLang> = "(f a)".parse().unwrap();
    let rules: Vec<Rewrite<SymbolLang, ()>> = vec![rewrite!("fg"; "(f ?x)" => "(g ?x)")];
    for threads in [1, 2] {
        let r = Runner::default()
            .with_expr(&input)
            .with_time_limit(Duration::from_millis(20))
            .with_threads(threads)
            .with_hook(|_| {
                std::thread::sleep(Duration::from_millis(60));
                Ok(())
            })
            .run(&rules);
        assert!(
            matches!(r.stop_reason, Some(StopReason::TimeLimit(t)) if t >= 0.02),
            "{threads} thread(s): {:?}",
            r.stop_reason
        );
        r.egraph.check_invariants().unwrap();
    }
}

#[test]
fn memory_limit_on_ac_blowup() {
    let input = long_sum(12);
    let r = Runner::default()
        .with_expr(&input)
        .with_node_limit(usize::MAX)
        .with_memory_limit(2 << 20)
        .with_iter_limit(1_000)
        .with_time_limit(Duration::from_secs(600))
        .with_scheduler(Scheduler::Simple)
        .run(&ac_rules());
    // The stop names what the commit's check counted, past the limit: the
    // e-graph's estimate, its tables' spare room and the round's staged
    // actions.
    assert_graceful(
        &r,
        &input,
        |s| matches!(s, StopReason::MemoryLimit(b) if *b > 2 << 20),
    );
}

/// A commit counts, besides the e-graph's estimate, its tables' spare
/// room and the round's staged actions (held until every rule's commit
/// has run), so the stop names more bytes than the e-graph's own
/// estimate (without them, it fails); and the stop is the same at every
/// thread count.
#[test]
fn a_commit_counts_what_it_holds_and_stops_alike_at_every_thread_count() {
    let input = long_sum(12);
    let limit = 4 << 20;
    let run = |threads: usize| run_to_memory_limit(&input, &ac_rules(), limit, threads);
    let one = run(1);
    let Some(StopReason::MemoryLimit(bytes)) = one.stop_reason else {
        panic!("{:?}", one.stop_reason)
    };
    assert!(bytes > limit && bytes > one.egraph.approx_bytes());
    let shape = |r: &Runner<SymbolLang, ()>| {
        (
            r.stop_reason.clone(),
            r.iterations.len(),
            r.egraph.number_of_classes(),
            r.egraph.total_size(),
        )
    };
    for threads in [2, 4] {
        assert_eq!(shape(&run(threads)), shape(&one), "{threads} threads");
    }
}

/// A commit cut at the memory limit names that limit, even when `modify`
/// then merges the classes the commit made and a check after the cut
/// would pass again (fewer classes, less spare room counted): it used to
/// be reported as a cancellation, with no cancel flag, at 12 of these
/// limits (found by an independent review).
#[test]
fn a_commit_cut_at_the_memory_limit_names_it_after_modify_merges() {
    let input = || {
        let mut eg: EGraph<Arith, Fold> = EGraph::default();
        for i in 0..300i64 {
            for j in (i + 1)..300 {
                let (a, b) = (eg.add(Arith::Num(i)), eg.add(Arith::Num(j)));
                eg.add(Arith::Add([a, b]));
            }
        }
        eg.rebuild();
        eg
    };
    let rules: Vec<Rewrite<Arith, Fold>> = vec![rewrite!("comm"; "(+ ?a ?b)" => "(+ ?b ?a)")];
    let start = input().approx_bytes();
    let mut memory_stops = 0;
    for step in 0..200 {
        let limit = start + step * (128 << 10);
        let r = Runner::default()
            .with_egraph(input())
            .with_node_limit(usize::MAX)
            .with_memory_limit(limit)
            .with_iter_limit(1)
            .with_time_limit(Duration::from_secs(600))
            .with_scheduler(Scheduler::Simple)
            .run(&rules);
        match r.stop_reason {
            Some(StopReason::MemoryLimit(b)) if b > limit => memory_stops += 1,
            Some(StopReason::IterationLimit(1)) => break,
            ref other => panic!("limit {limit}: {other:?}"),
        }
        r.egraph.check_invariants().unwrap();
    }
    assert!(
        memory_stops > 100,
        "{memory_stops} limits stopped the commit"
    );
}

#[test]
fn iteration_limit_runs_exactly_n_iterations() {
    let input = long_sum(8);
    let r = Runner::default()
        .with_expr(&input)
        .with_node_limit(usize::MAX)
        .with_iter_limit(3)
        .with_scheduler(Scheduler::Simple)
        .run(&ac_rules());
    assert_eq!(r.iterations.len(), 3);
    assert_graceful(&r, &input, |s| matches!(s, StopReason::IterationLimit(3)));
}

#[test]
fn cancel_before_and_during_a_run() {
    let input = long_sum(14);
    let flag = Arc::new(AtomicBool::new(true));
    let r = Runner::default()
        .with_expr(&input)
        .with_cancel_flag(flag)
        .run(&ac_rules());
    assert_eq!(r.iterations.len(), 1, "stops at the first check");
    assert_graceful(
        &r,
        &input,
        |s| matches!(s, StopReason::Other(m) if m == "cancelled"),
    );

    let (flag, setter) = cancel_after(Duration::from_millis(100));
    let r = Runner::default()
        .with_expr(&input)
        .with_node_limit(usize::MAX)
        .with_iter_limit(1_000)
        .with_time_limit(Duration::from_secs(600))
        .with_scheduler(Scheduler::Simple)
        .with_threads(2)
        .with_cancel_flag(flag)
        .run(&ac_rules());
    setter.join().unwrap();
    assert_graceful(
        &r,
        &input,
        |s| matches!(s, StopReason::Other(m) if m == "cancelled"),
    );
}

/// A hook that adds a term and unions it mid-run: the runner rebuilds and
/// incremental matching sees the change.
#[test]
fn hooks_may_change_the_egraph() {
    // `k-m` fires in the first iteration, so a second one runs.
    let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
        rewrite!("f-g"; "(f ?x)" => "(g ?x)"),
        rewrite!("k-m"; "(k ?x)" => "(m ?x)"),
    ];
    let r = Runner::default()
        .with_expr(&"(h (k a))".parse().unwrap())
        .with_scheduler(Scheduler::Simple)
        .with_hook(|r| {
            if r.iterations.len() == 1 {
                let f = r.egraph.add_expr(&"(f a)".parse().unwrap());
                let root = r.roots[0];
                r.egraph.union(f, root);
            }
            Ok(())
        })
        .run(&rules);
    let g = r
        .egraph
        .lookup_expr(&"(g a)".parse().unwrap())
        .expect("rule fired after the hook");
    assert_eq!(r.egraph.find(g), r.egraph.find(r.roots[0]));
}

/// Without backoff, a round's search keeps only the matches that can be
/// within its match budget (16 per node of room under the node limit),
/// and stops at the first match past it. The result is the same at every
/// thread count.
#[test]
fn a_huge_round_keeps_only_the_matches_it_can_apply() {
    let input = long_sum(16);
    let mut dumps = vec![];
    for threads in [1, 2] {
        let r = Runner::default()
            .with_expr(&input)
            .with_node_limit(100_000)
            .with_iter_limit(1_000)
            .with_time_limit(Duration::from_secs(600))
            .with_scheduler(Scheduler::Simple)
            .with_threads(threads)
            .run(&ac_rules());
        let last = r.iterations.last().unwrap();
        let budget = 16 * (100_000 - last.egraph_nodes);
        eprintln!(
            "{threads} thread(s): {} matches, {} kept, budget {budget}",
            last.n_matches, last.n_stored
        );
        // The round found more than it may apply (its search stopped at
        // the first match past the budget), and kept all it applies.
        assert_eq!(last.n_matches, budget + 1);
        assert!(last.n_stored >= budget);
        if threads == 1 {
            // In order on one thread, it knows where the budget ends, also
            // inside the root that reaches it. On several threads, items
            // that finish ahead of the earlier ones cannot know yet and
            // keep theirs (at worst all of them, when the first item
            // finishes last).
            assert!(last.n_stored <= budget, "{}", last.n_stored);
        }
        // Earlier rounds, under the budget, keep everything.
        for it in &r.iterations[..r.iterations.len() - 1] {
            assert_eq!(it.n_stored, it.n_matches);
        }
        assert!(matches!(r.stop_reason, Some(StopReason::NodeLimit(_))));
        r.egraph.check_invariants().unwrap();
        dumps.push(r.egraph.dump().to_string());
    }
    assert_eq!(dumps[0], dumps[1]);
}

/// A cancel flag, and the thread that sets it after `delay`.
fn cancel_after(delay: Duration) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            flag.store(true, Ordering::Relaxed);
        })
    };
    (flag, setter)
}

/// An e-graph whose root `(f G G G)` has one child class `G` of `n` nodes
/// `(g a_i)`: a pattern `(f (g ?a) (g ?b) (g ...))` visits `n^3` node
/// combinations at that one root.
fn one_huge_root(n: usize) -> (EGraph<SymbolLang, ()>, Id) {
    let mut eg = EGraph::<SymbolLang, ()>::default();
    let g = g_class(&mut eg, "a", n);
    let root = eg.add(SymbolLang::new("f", vec![g, g, g]));
    eg.rebuild();
    (eg, root)
}

/// A runner without backoff on `eg`, at `threads` threads, with room
/// for `room` nodes more under its node limit (a match budget of 16 per
/// node of room, at least 2^16).
fn without_backoff(
    eg: EGraph<SymbolLang, ()>,
    room: usize,
    threads: usize,
) -> Runner<SymbolLang, ()> {
    let limit = eg.total_size() + room;
    Runner::default()
        .with_egraph(eg)
        .with_node_limit(limit)
        .with_time_limit(Duration::from_secs(600))
        .with_scheduler(Scheduler::Simple)
        .with_threads(threads)
}

/// A class of `n` nodes `(g <prefix>i)`, `i < n` (not rebuilt yet).
fn g_class(eg: &mut EGraph<SymbolLang, ()>, prefix: &str, n: usize) -> Id {
    let gs: Vec<Id> = (0..n)
        .map(|i| {
            let a = eg.add(SymbolLang::leaf(format!("{prefix}{i}")));
            eg.add(SymbolLang::new("g", vec![a]))
        })
        .collect();
    for &g in &gs[1..] {
        eg.union(gs[0], g);
    }
    gs[0]
}

/// A search that never matches (the leaves have no `k`) but visits
/// 27 billion combinations at one root: minutes of work inside one work
/// item, which the search polls for the time limit and the cancel flag.
fn endless_rule() -> Rewrite<SymbolLang, ()> {
    rewrite!("endless"; "(f (g ?a) (g ?b) (g (k ?c)))" => "(f ?a ?b ?c)")
}

#[test]
fn a_search_inside_one_root_stops_at_the_time_limit() {
    for scheduler in [Scheduler::Simple, Scheduler::default()] {
        for threads in [1, 2] {
            let (eg, _) = one_huge_root(3_000);
            let t = Instant::now();
            let r = Runner::default()
                .with_egraph(eg)
                .with_node_limit(usize::MAX)
                .with_time_limit(Duration::from_millis(200))
                .with_scheduler(scheduler.clone())
                .with_threads(threads)
                .run(&[endless_rule()]);
            assert!(
                matches!(r.stop_reason, Some(StopReason::TimeLimit(s)) if s >= 0.2),
                "{scheduler:?}, {threads} thread(s): {:?}",
                r.stop_reason
            );
            assert!(t.elapsed() < Duration::from_secs(5), "stopped promptly");
            assert_eq!(r.egraph.check_invariants(), Ok(()));
        }
    }
}

#[test]
fn a_search_inside_one_root_stops_when_cancelled() {
    for threads in [1, 2] {
        let (eg, _) = one_huge_root(3_000);
        let (flag, setter) = cancel_after(Duration::from_millis(100));
        let t = Instant::now();
        let r = Runner::default()
            .with_egraph(eg)
            .with_time_limit(Duration::from_secs(600))
            .with_cancel_flag(flag)
            .with_threads(threads)
            .run(&[endless_rule()]);
        setter.join().unwrap();
        assert_eq!(
            r.stop_reason,
            Some(StopReason::Other("cancelled".into())),
            "{threads} thread(s)"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "stopped promptly");
        assert_eq!(r.egraph.check_invariants(), Ok(()));
    }
}

#[test]
fn every_strategy_stops_inside_one_root_at_the_time_limit() {
    for strategy in schedule::Strategy::ALL.iter().copied() {
        let (eg, _) = one_huge_root(3_000);
        let pipeline = schedule::Pipeline::new().pass("endless", vec![endless_rule()]);
        let t = Instant::now();
        let out = schedule::Schedule::new(pipeline, strategy)
            .with_node_limit(usize::MAX)
            .with_time_limit(Duration::from_millis(200))
            .with_threads(2)
            .run(eg);
        let r = &out.report;
        assert!(
            matches!(r.stop_reason, StopReason::TimeLimit(s) if s >= 0.2),
            "{strategy:?}: {r}"
        );
        assert!(t.elapsed() < Duration::from_secs(5), "stopped promptly");
        assert_eq!(out.egraph.check_invariants(), Ok(()));
    }
}

/// 27 million matches at one root. With backoff the rule is banned past
/// 1,000, so the search keeps at most one more than that and only counts
/// the rest (it used to keep them all: hundreds of megabytes). Without
/// backoff it keeps at most the round's match budget, at every thread
/// count, and applies the same ones; it stops at the first match past the
/// budget.
#[test]
fn one_root_s_matches_are_kept_only_while_they_can_be_applied() {
    let rule: Rewrite<SymbolLang, ()> =
        rewrite!("many"; "(f (g ?a) (g ?b) (g ?c))" => "(h ?a ?b ?c)");
    for threads in [1, 2] {
        let (eg, _) = one_huge_root(300);
        let r = Runner::default()
            .with_egraph(eg)
            .with_iter_limit(1)
            // Not the default 5 s: a debug build on a loaded machine
            // took longer to count the matches, and the time limit cut
            // the count.
            .with_time_limit(Duration::from_secs(600))
            .with_threads(threads)
            .run(std::slice::from_ref(&rule));
        let first = &r.iterations[0];
        assert_eq!(first.n_matches, 27_000_000, "{threads} thread(s)");
        assert!(first.n_stored <= 1_001, "{}", first.n_stored);
        assert!(first.applied.is_empty(), "banned, so not applied");
    }
    let mut dumps = vec![];
    for threads in [1, 2] {
        let (eg, _) = one_huge_root(300);
        let r = without_backoff(eg, 1_000, threads).run(std::slice::from_ref(&rule));
        let first = &r.iterations[0];
        // 16 per node of room (1,000), at least 2^16.
        let budget = 1 << 16;
        // Cut at the budget: the search stopped at the first match past it.
        assert_eq!(first.n_matches, budget + 1, "{threads} thread(s)");
        assert!(first.n_stored <= budget, "{}", first.n_stored);
        assert!(first.n_stored >= budget.min(first.n_matches));
        assert!(
            matches!(r.stop_reason, Some(StopReason::NodeLimit(_))),
            "{:?}",
            r.stop_reason
        );
        assert_eq!(r.egraph.check_invariants(), Ok(()));
        dumps.push(r.egraph.dump().to_string());
    }
    assert_eq!(dumps[0], dumps[1]);
}

/// Classes `(f2 G_i G_i)` for `roots` classes `G_i` of `per` nodes
/// `(g a)` each: `per * per` matches of `(f2 (g ?a) (g ?b))` at each of
/// the `roots` roots. Over 512 roots and 8,192 nodes, so that at 2 threads
/// the runner works on the pool and the search runs in parallel items.
fn many_roots(roots: usize, per: usize) -> EGraph<SymbolLang, ()> {
    let mut eg = EGraph::<SymbolLang, ()>::default();
    for r in 0..roots {
        let g = g_class(&mut eg, &format!("a{r}_"), per);
        eg.add(SymbolLang::new("f2", vec![g, g]));
    }
    eg.rebuild();
    eg
}

/// Billions of matches, without backoff: the round is cut at its match
/// budget, and its search stops at the first match past it (counting them
/// all took minutes, so a run went on to its time limit). Two cases: one
/// root with 27 billion matches (its own search stops), and 1,100 small
/// roots before such a root (their parallel items pass the budget, and
/// the huge root's item is skipped or stopped). The same matches are
/// applied at 1 and 2 threads.
#[test]
fn a_round_past_its_match_budget_stops_searching() {
    let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
        rewrite!("many"; "(f (g ?a) (g ?b) (g ?c))" => "(h ?a ?b ?c)"),
        rewrite!("pairs"; "(f2 (g ?a) (g ?b))" => "(h ?a ?b)"),
    ];
    for small_roots in [0, 1_100] {
        let mut dumps = vec![];
        for threads in [1, 2] {
            // The small roots' classes have the lower ids, so their items
            // come first in commit order: 1,100 * 64 matches pass 2^16.
            let mut eg = many_roots(small_roots, 8);
            let g = g_class(&mut eg, "b", 3000);
            eg.add(SymbolLang::new("f", vec![g, g, g]));
            eg.rebuild();
            let t = Instant::now();
            let r = without_backoff(eg, 1_000, threads)
                .with_time_limit(Duration::from_secs(600))
                .run(&rules);
            let what = format!("{small_roots} small roots, {threads} thread(s)");
            let first = &r.iterations[0];
            if small_roots > 0 {
                assert_eq!(first.threads, threads, "{what}: on the pool");
            }
            let budget = 1 << 16;
            assert_eq!(first.n_matches, budget + 1, "{what}");
            assert!(first.n_stored >= budget, "{what}: {}", first.n_stored);
            assert!(
                matches!(r.stop_reason, Some(StopReason::NodeLimit(_))),
                "{what}: {:?}",
                r.stop_reason
            );
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{what}: stopped promptly"
            );
            assert_eq!(r.egraph.check_invariants(), Ok(()));
            dumps.push(r.egraph.dump().to_string());
        }
        assert_eq!(dumps[0], dumps[1], "{small_roots} small roots");
    }
}

/// A round with exactly as many matches as its budget is not cut (it
/// stages them all and goes on), and one with more is, at 1 and 2 threads
/// alike, over 1,024 roots searched in parallel items. A round's cut used
/// to be decided when the matches seen so far reached the budget: on one
/// thread, which sees them in order, a round of exactly the budget was
/// cut; on two, whether it was depended on which items finished first.
#[test]
fn a_round_is_cut_only_past_its_budget() {
    // The right-hand side is the root itself: the round's only effect is
    // unions that change nothing, so a round that is not cut saturates.
    let rule: Rewrite<SymbolLang, ()> =
        rewrite!("swap"; "(f2 (g ?a) (g ?b))" => "(f2 (g ?b) (g ?a))");
    let budget = 1usize << 16;
    // 1,024 roots of 64 matches each: exactly 2^16; one root more: past it.
    for (roots, cut) in [(1024, false), (1025, true)] {
        for threads in [1, 2] {
            let eg = many_roots(roots, 8);
            // Room for 4,000 nodes: a budget of 2^16 (16 per node, at
            // least 2^16).
            let r = without_backoff(eg, 4_000, threads).run(std::slice::from_ref(&rule));
            let first = &r.iterations[0];
            let what = format!("{roots} roots, {threads} thread(s): {:?}", r.stop_reason);
            assert_eq!(first.threads, threads, "{what}: on the pool");
            if cut {
                assert_eq!(first.n_matches, budget + 1, "{what}");
                assert!(
                    matches!(&r.stop_reason, Some(StopReason::Other(s)) if s.contains("match budget")),
                    "{what}"
                );
            } else {
                assert_eq!(first.n_matches, budget, "{what}");
                assert_eq!(r.stop_reason, Some(StopReason::Saturated), "{what}");
            }
        }
    }
}

/// Stages, for each match of `(f ?x)`, one chain of `self.0` new nodes
/// `(g (q (g ... ?x)))` (a node per level), unioned with the match.
struct Chain(usize);

impl Applier<SymbolLang, ()> for Chain {
    fn apply(
        &self,
        egraph: &EGraph<SymbolLang, ()>,
        eclass: Id,
        subst: &Subst,
        out: &mut Actions<SymbolLang>,
    ) {
        let x: Var = "?x".parse().unwrap();
        let below: Var = "?below".parse().unwrap();
        let g: Pattern<SymbolLang> = "(g ?below)".parse().unwrap();
        let q: Pattern<SymbolLang> = "(q ?below)".parse().unwrap();
        let mut r = Ref::class(subst[x]);
        for i in 0..self.0 {
            let p = if i % 2 == 0 { &g } else { &q };
            r = out.instantiate(egraph, p, subst, &[(below, r)]);
        }
        out.union(Ref::class(eclass), r);
    }
}

/// One match of more than 16,384 nodes is cut between its levels at the
/// node and the memory limit, at 1 and 2 threads. (When commits checked
/// only between groups of whole matches, 40,000 nodes went in under a
/// node limit of 1,000, and a 24 MiB limit stopped at 47.8 MB.)
#[test]
fn one_huge_match_stops_at_the_limits() {
    let chain = |n: usize| {
        vec![Rewrite::new(
            "chain",
            "(f ?x)".parse::<Pattern<SymbolLang>>().unwrap(),
            Chain(n),
        )
        .unwrap()]
    };
    let input: RecExpr<SymbolLang> = "(f a)".parse().unwrap();
    for threads in [1, 2] {
        let r = Runner::default()
            .with_expr(&input)
            .with_node_limit(1_000)
            .with_iter_limit(5)
            .with_threads(threads)
            .with_time_limit(Duration::from_secs(600))
            .run(&chain(40_000));
        assert!(
            matches!(r.stop_reason, Some(StopReason::NodeLimit(n)) if n <= 1_010),
            "{threads} thread(s): {:?}",
            r.stop_reason
        );
        assert_graceful(&r, &input, |s| matches!(s, StopReason::NodeLimit(_)));
        let limit = 24 << 20;
        let r = Runner::default()
            .with_expr(&input)
            .with_node_limit(usize::MAX)
            .with_memory_limit(limit)
            .with_iter_limit(5)
            .with_threads(threads)
            .with_time_limit(Duration::from_secs(600))
            .run(&chain(100_000));
        assert!(
            matches!(r.stop_reason, Some(StopReason::MemoryLimit(b)) if b <= limit + limit / 10),
            "{threads} thread(s): {:?}",
            r.stop_reason
        );
        assert_graceful(&r, &input, |s| matches!(s, StopReason::MemoryLimit(_)));
    }
}
