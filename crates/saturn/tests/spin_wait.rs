//! The pool's helper loops (see `saturn::set_spin_wait`) end once a run's
//! parallel phases are over. This file holds one test, so no other test
//! of this process starts helpers while it waits.

use std::time::{Duration, Instant};

mod common;

use common::{comm_assoc, long_sum};
use saturn::*;

#[test]
fn helpers_stop_after_a_pooled_run() {
    let rules = comm_assoc();
    let e = long_sum(9);
    let runner = Runner::default()
        .with_expr(&e)
        .with_threads(2)
        .with_iter_limit(30)
        .with_node_limit(20_000)
        .with_scheduler(Scheduler::Simple)
        .run(&rules);
    assert!(
        runner.egraph.total_size() > 8192,
        "the run stayed below the size at which it moves onto the pool"
    );
    let t = Instant::now();
    while helpers_running() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} helper loop(s) still running a minute after the run",
            helpers_running()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
