//! A pool larger than the machine keeps no more helper loops (see
//! `saturn::set_spin_wait`) spinning than the machine has other cores:
//! more would only take turns from the threads doing the work. This file
//! holds one test, so no other test of this process starts helpers.

use std::time::{Duration, Instant};

mod common;

use common::{comm_assoc, long_sum};
use saturn::*;

#[test]
fn an_oversized_pool_spins_at_most_one_helper_per_other_core() {
    let rules = comm_assoc();
    let e = long_sum(9);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = 4 * cores + 8;
    // Helpers outlive the run by this long: counted right after it, every
    // helper its phases started is still there.
    set_spin_wait(Duration::from_secs(2));
    let runner = Runner::default()
        .with_expr(&e)
        .with_threads(threads)
        .with_iter_limit(30)
        .with_node_limit(20_000)
        .with_time_limit(Duration::from_secs(3600))
        .with_scheduler(Scheduler::Simple)
        .run(&rules);
    let helpers = helpers_running();
    assert!(
        runner.iterations.iter().any(|it| it.threads == threads),
        "the run never moved onto its pool"
    );
    assert!(
        helpers < cores,
        "{helpers} helper loops on a {threads}-thread pool, {cores} cores"
    );
    if cores > 1 {
        assert!(helpers > 0, "no helper loops at all");
    }
    set_spin_wait(Duration::from_millis(1));
    let t = Instant::now();
    while helpers_running() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "helpers never stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
