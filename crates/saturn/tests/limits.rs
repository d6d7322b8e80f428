//! Every limit stops the run gracefully and leaves a valid e-graph whose
//! extracted term is no worse than the input.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{comm_assoc, long_sum};
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
    r
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
    assert_graceful(
        &r,
        &input,
        |s| matches!(s, StopReason::MemoryLimit(b) if *b > 2 << 20),
    );
    assert!(r.egraph.approx_bytes() > 2 << 20);
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

    let flag = Arc::new(AtomicBool::new(false));
    let setter = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            flag.store(true, Ordering::Relaxed);
        })
    };
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
/// within its match budget (16 per node of room under the node limit);
/// the rest are counted. The result is the same at every thread count.
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
        // The round found far more than it may apply, and kept all it
        // applies.
        assert!(last.n_matches > 3 * budget / 2, "{}", last.n_matches);
        assert!(last.n_stored >= budget && last.n_stored <= last.n_matches);
        if threads == 1 {
            // In order on one thread, it knows where the budget ends: past
            // it by at most the matches of the root that reached it (at
            // most a few thousand on this input). On several threads,
            // items that finish ahead of the earlier ones cannot know yet
            // and keep theirs (at worst all of them, when the first item
            // finishes last).
            assert!(last.n_stored <= budget + 16_384, "{}", last.n_stored);
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
