//! `saturn-bench`: Saturn against egg 0.11.0 on egg's math and lambda
//! suites, both engines in one process, same start terms and limits.
//!
//! ```text
//! cargo run --release -p saturn-bench -- [--runs N] [--threads 1,2] [--filter SUBSTR] [--only saturn] [--cold]
//! ```
//!
//! Runs are interleaved: each round runs egg once and Saturn once at each
//! thread count, so drift in the machine's load hits every column. Each
//! timed run comes right after an untimed run of the same engine, case
//! and thread count (a warm-up; `--cold` leaves it out). Without it, a
//! 2-thread run followed a 1-thread run during which the second core had
//! idled for 100-200 ms, and on this project's 2-core virtual machine
//! that made the whole 2-thread run slower: egg's `lambda_function_repeat`
//! took 141-156 ms at 2 threads interleaved with 1-thread runs, against
//! 128-138 ms in a process that ran 2-thread runs only (the host seems to
//! hand an idle virtual core's time to other work, and to take a while to
//! give it back). Spinning the threads for 20 ms instead of the warm-up
//! run woke the core but made the tiny cases 3x slower on both engines
//! (cold caches after a migration, it seems), which a run of the case
//! itself does not. `--only saturn` runs egg once per case, for the size
//! columns only.
//!
//! For each case: median wall time of N runs of egg, and of Saturn at each
//! thread count; ratios (Saturn at N threads against 1 both as the ratio
//! of medians and as the median of run-by-run ratios, which a drifting
//! machine disturbs less); iterations, nodes and classes of both engines, and
//! whether they are comparable (both saturated, or stopped at the same
//! iteration for the same reason), in which case the sizes must be equal.
//! The last lines count the comparable cases whose sizes differ and the
//! cases that stopped unlike egg; CI requires both to be 0.
//!
//! Before them, one line per largest case (by nodes) gives its speedup at
//! the second thread count and how much of the run spreads over threads:
//! the share of the one-thread time spent matching and staging in the
//! iterations the wider run ran on its pool (the phases built to spread;
//! see `Iteration::threads`), and Amdahl's law for that share alone.
//! Commits, rebuilds and planning spread only in parts (large batches),
//! and the iterations of a small e-graph not at all, so the speedup stays
//! near that figure: a little above when those parts help, below when
//! the parallel phases scale less than perfectly.

mod lambda;
mod math;
mod suite;

use std::sync::Arc;

use suite::{geomean, run_egg, run_saturn, Case, Outcome};

struct Row {
    suite: &'static str,
    case: Case,
    egg: Outcome,
    egg_times: Vec<f64>,
    sat: Vec<(usize, Outcome, Vec<f64>)>,
    /// Median over runs of [`suite::parallel_share`] of the first thread
    /// count's run against the second's (none with one thread count, or
    /// when no pair of runs did the same iterations).
    share: Option<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median over runs of `base[i] / times[i]`. Run `i` of every thread
/// count comes right after the one before it (the runs are interleaved),
/// so a slow spell of the machine that lasts a run or two slows both
/// sides of a pair: on a shared VM the ratio of two medians swung from
/// 1.09x to 1.59x between two runs of the bench a minute apart, where
/// the paired ratio moves far less.
fn paired_speedup(base: &[f64], times: &[f64]) -> f64 {
    let mut r: Vec<f64> = base.iter().zip(times).map(|(b, t)| b / t).collect();
    median(&mut r)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut runs = 5usize;
    let mut threads = vec![1usize, 2];
    let mut filter = String::new();
    let mut only = String::new();
    let mut cold = false;
    let mut i = 1;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--runs" => runs = suite::count_arg("--runs", &val, 1),
            "--threads" => threads = suite::threads_arg(&val),
            "--filter" => filter = val,
            "--only" if val == "saturn" => only = val,
            "--only" => suite::bad_arg(&format!("--only takes `saturn`, not `{val}`")),
            "--cold" => {
                cold = true;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!(
                    "saturn-bench [--runs N] [--threads 1,2] [--filter SUBSTR] [--only saturn] [--cold]"
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
    let pools: Vec<(usize, Arc<rayon::ThreadPool>)> = threads
        .iter()
        .map(|&t| {
            let p = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            (t, Arc::new(p))
        })
        .collect();

    let egg_math = math::egg_side::rules();
    let sat_math = math::saturn_side::rules();
    let egg_assoc = math::egg_side::assoc_rules();
    let sat_assoc = math::saturn_side::assoc_rules();
    let egg_lambda = lambda::egg_side::rules();
    let sat_lambda = lambda::saturn_side::rules();

    let mut rows: Vec<Row> = vec![];
    let cases: Vec<_> = math::cases_tagged()
        .into_iter()
        .chain(suite::lambda_cases().into_iter().map(|c| ("lambda", c)))
        .filter(|(_, case)| case.name.contains(&filter))
        .collect();
    if cases.is_empty() {
        suite::bad_arg(&format!("no benchmark's name contains `{filter}`"));
    }
    for (suite_name, case) in cases {
        eprint!("{:<28}", case.name);
        // Interleave engines run by run, so drift in machine load hits all.
        let mut egg_runs = vec![];
        let mut sat_runs: Vec<Vec<Outcome>> = vec![vec![]; pools.len()];
        let egg_run = || match (suite_name, case.name) {
            ("math", "math_associate_adds") => run_egg(&case, &egg_assoc),
            ("math", _) => run_egg(&case, &egg_math),
            _ => run_egg(&case, &egg_lambda),
        };
        let sat_run = |pool: &Arc<rayon::ThreadPool>| match (suite_name, case.name) {
            ("math", "math_associate_adds") => run_saturn(&case, &sat_assoc, pool),
            ("math", _) => run_saturn(&case, &sat_math, pool),
            _ => run_saturn(&case, &sat_lambda, pool),
        };
        for _ in 0..runs {
            // Each timed run right after an untimed one of its own (see
            // the module docs), unless `--cold`.
            if only == "saturn" && !egg_runs.is_empty() {
                // Profiling Saturn: egg runs once, for the size columns.
            } else {
                if !cold {
                    egg_run();
                }
                egg_runs.push(egg_run());
            }
            for (k, (_, pool)) in pools.iter().enumerate() {
                if !cold {
                    sat_run(pool);
                }
                sat_runs[k].push(sat_run(pool));
            }
            eprint!(".");
        }
        eprintln!();
        let egg_times: Vec<f64> = egg_runs.iter().map(|o| o.seconds).collect();
        let share = if sat_runs.len() > 1 {
            let mut shares: Vec<f64> = sat_runs[0]
                .iter()
                .zip(&sat_runs[1])
                .filter_map(|(one, wide)| suite::parallel_share(one, wide))
                .collect();
            (!shares.is_empty()).then(|| median(&mut shares))
        } else {
            None
        };
        let sat = pools
            .iter()
            .zip(sat_runs)
            .map(|((t, _), outs)| {
                let times = outs.iter().map(|o| o.seconds).collect();
                (*t, outs[0].clone(), times)
            })
            .collect();
        rows.push(Row {
            suite: suite_name,
            case,
            egg: egg_runs[0].clone(),
            egg_times,
            sat,
            share,
        });
    }
    print_table(&rows, &threads);
    calibrate(&pools);
}

/// The machine's own parallel speedup on embarrassingly parallel integer
/// work, to read the engine's speedups against (shared or throttled
/// virtual cores often give far less than N), on three kernels:
/// - *latency*: one chain of dependent multiply-adds per task. Two
///   hyperthreads of one core run two such chains about as fast as two
///   cores do, so this line says whether the threads get CPU time at all;
/// - *throughput*: eight independent chains per task, which keep a core's
///   multiplier busy on their own. Two hyperthreads of one core share it,
///   so this line shows about 1x where the virtual CPUs are siblings of
///   one physical core, and about N where they are separate cores;
/// - *memory*: eight independent chains of dependent reads at random over
///   a 32 MiB table (past most caches), the kind of access that
///   e-matching and hashcons lookups make: this line falls below the
///   first two where the threads contend for the memory system.
fn calibrate(pools: &[(usize, Arc<rayon::ThreadPool>)]) {
    use rayon::prelude::*;
    const A: u64 = 6364136223846793005;
    const C: u64 = 1442695040888963407;
    let latency = |seed: u64| {
        let mut x = seed;
        for _ in 0..2_000_000 {
            x = x.wrapping_mul(A).wrapping_add(C);
        }
        x
    };
    let throughput = |seed: u64| {
        let mut x = [seed; 8];
        for (k, v) in x.iter_mut().enumerate() {
            *v = v.wrapping_add(k as u64);
        }
        for _ in 0..250_000 {
            for v in x.iter_mut() {
                *v = v.wrapping_mul(A).wrapping_add(C);
            }
        }
        x.iter().fold(0, |a, b| a ^ b)
    };
    const WORDS: usize = 1 << 23;
    let table: Vec<u32> = (0..WORDS as u64)
        .map(|i| (i.wrapping_mul(A).wrapping_add(C) >> 41) as u32 % WORDS as u32)
        .collect();
    let memory = |seed: u64| {
        let mut x: [u32; 8] = std::array::from_fn(|k| ((seed * 8 + k as u64) * 977) as u32);
        for _ in 0..10_000 {
            for v in x.iter_mut() {
                *v = table[*v as usize % WORDS] ^ (*v >> 3);
            }
        }
        x.iter().fold(0u64, |a, &b| a ^ b as u64)
    };
    let kernels: [(&str, &(dyn Fn(u64) -> u64 + Sync)); 3] = [
        ("latency", &latency),
        ("throughput", &throughput),
        ("memory", &memory),
    ];
    for (name, work) in kernels {
        let mut base = None;
        for (t, pool) in pools {
            let mut times = vec![];
            for _ in 0..5 {
                let start = std::time::Instant::now();
                let s: u64 = pool.install(|| (0..64u64).into_par_iter().map(work).sum());
                std::hint::black_box(s);
                times.push(start.elapsed().as_secs_f64());
            }
            let m = median(&mut times);
            let b = *base.get_or_insert(m);
            println!(
                "machine calibration ({name}): {t} thread(s): {:.1} ms, speedup {:.2}x",
                m * 1e3,
                b / m
            );
        }
    }
}

fn print_table(rows: &[Row], threads: &[usize]) {
    print!("| suite | benchmark | egg ms |");
    for t in threads {
        print!(" saturn {t}T ms |");
    }
    print!(" saturn 1T / egg |");
    for t in threads.iter().skip(1) {
        print!(" {t}T speedup | {t}T paired |");
    }
    println!(" egg iters/nodes/classes | saturn iters/nodes/classes | egg stop | saturn stop | proved egg/saturn | sizes |");
    let cols = 3 * threads.len() + 8;
    println!("{}", "|---".repeat(cols) + "|");
    let mut ratios = vec![];
    let mut by_size: Vec<(usize, String, f64, f64, Option<f64>)> = vec![];
    let mut mismatches = 0;
    // Cases where Saturn stopped at another iteration or for another kind
    // of reason than egg, neither at a time limit: with the same rules,
    // limits and backoff each engine is deterministic, so it should not
    // happen, and CI requires none. Stops at a time limit depend on the
    // machine and are listed apart.
    let mut unlike: Vec<&str> = vec![];
    let mut timed_out: Vec<&str> = vec![];
    for r in rows {
        let egg_ms = median(&mut r.egg_times.clone()) * 1e3;
        let sat_ms: Vec<f64> = r
            .sat
            .iter()
            .map(|(_, _, t)| median(&mut t.clone()) * 1e3)
            .collect();
        let s1 = &r.sat[0].1;
        let ratio = sat_ms[0] / egg_ms;
        ratios.push(ratio);
        print!("| {} | {} | {:.2} |", r.suite, r.case.name, egg_ms);
        for ms in &sat_ms {
            print!(" {ms:.2} |");
        }
        print!(" {ratio:.2} |");
        let paired: Vec<f64> = r.sat[1..]
            .iter()
            .map(|(_, _, t)| paired_speedup(&r.sat[0].2, t))
            .collect();
        for (ms, p) in sat_ms.iter().skip(1).zip(&paired) {
            print!(" {:.2}x | {p:.2}x |", sat_ms[0] / ms);
        }
        let sizes = if r.egg.comparable(s1) {
            if r.egg.nodes == s1.nodes && r.egg.classes == s1.classes {
                "equal".to_string()
            } else {
                mismatches += 1;
                "DIFFER".to_string()
            }
        } else if r.egg.stop.starts_with("TimeLimit") || s1.stop.starts_with("TimeLimit") {
            // Where a run stops under a time limit depends on the machine.
            timed_out.push(r.case.name);
            "n/c".to_string()
        } else {
            unlike.push(r.case.name);
            "n/c".to_string()
        };
        // Saturn's own determinism across thread counts.
        for (t, o, _) in &r.sat[1..] {
            if o.nodes != s1.nodes
                || o.classes != s1.classes
                || o.iterations != s1.iterations
                || o.stop != s1.stop
            {
                println!(
                    "\nNONDETERMINISM: {} at {t} threads: {:?} vs 1 thread {:?}",
                    r.case.name, o, s1
                );
                std::process::exit(1);
            }
        }
        println!(
            " {}/{}/{} | {}/{}/{} | {} | {} | {}/{} | {} |",
            r.egg.iterations,
            r.egg.nodes,
            r.egg.classes,
            s1.iterations,
            s1.nodes,
            s1.classes,
            r.egg.stop,
            s1.stop,
            r.egg.proved,
            s1.proved,
            sizes
        );
        if sat_ms.len() > 1 {
            by_size.push((
                r.egg.nodes.max(s1.nodes),
                r.case.name.to_string(),
                sat_ms[0] / sat_ms[1],
                paired[0],
                r.share,
            ));
        }
    }
    println!();
    println!(
        "geomean saturn(1 thread)/egg over {} benchmarks: {:.3}",
        ratios.len(),
        geomean(&ratios)
    );
    by_size.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (nodes, name, sp, paired, share) in by_size.iter().take(3) {
        print!(
            "largest: {name} ({nodes} nodes): {}-thread speedup {sp:.2}x (paired {paired:.2}x)",
            threads[1]
        );
        // How much of the run spreads over threads (see
        // `suite::parallel_share`).
        match share {
            Some(p) if threads[0] == 1 && threads[1] > 1 && *p > 0.0 => println!(
                "; matching and staging on the pool: {:.0}% of the 1-thread time, Amdahl for them alone {:.2}x",
                p * 100.0,
                suite::amdahl(*p, threads[1])
            ),
            Some(_) if threads[0] == 1 && threads[1] > 1 => println!(
                "; every iteration ran on the calling thread (small e-graph): it does not spread, the speedup is noise"
            ),
            _ => println!(),
        }
    }
    let proved_mismatch = rows
        .iter()
        .filter(|r| r.sat[0].1.proved != r.case.expect_proved)
        .map(|r| r.case.name)
        .collect::<Vec<_>>();
    if !proved_mismatch.is_empty() {
        println!("saturn proof outcome differs from egg's test expectation: {proved_mismatch:?}");
    }
    println!("comparable runs with different sizes: {mismatches}");
    println!(
        "runs that stopped unlike egg's: {} {unlike:?}",
        unlike.len()
    );
    if !timed_out.is_empty() {
        println!("runs stopped by a time limit (not compared): {timed_out:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paired_speedup_is_the_median_of_run_by_run_ratios() {
        // Runs 2 and 3 were slowed on both sides: the ratio of medians
        // (4 / 1 = 4) and the paired median (of the ratios 2, 1.5, 1.5, 4
        // and 2) differ.
        let one = [2.0, 6.0, 9.0, 4.0, 2.0];
        let two = [1.0, 4.0, 6.0, 1.0, 1.0];
        assert_eq!(median(&mut one.clone()) / median(&mut two.clone()), 4.0);
        assert_eq!(paired_speedup(&one, &two), 2.0);
        assert_eq!(paired_speedup(&[3.0, 8.0], &[1.0, 2.0]), 3.5);
    }

    fn outcome(stop: &str, seconds: f64, steps: Vec<(usize, f64)>) -> Outcome {
        Outcome {
            seconds,
            iterations: steps.len(),
            nodes: 0,
            classes: 0,
            stop: stop.into(),
            proved: false,
            steps,
        }
    }

    #[test]
    fn the_parallel_share_counts_the_iterations_the_wider_run_ran_on_its_pool() {
        // Iterations 1 and 2 ran on the pool: their 1-thread matching and
        // staging (3 + 1 of 10 seconds) is the share.
        let one = outcome("Saturated", 10.0, vec![(1, 2.0), (1, 3.0), (1, 1.0)]);
        let wide = outcome("Saturated", 8.0, vec![(1, 2.5), (2, 2.0), (2, 0.5)]);
        let p = suite::parallel_share(&one, &wide).unwrap();
        assert!((p - 0.4).abs() < 1e-12);
        // 60% serial, 40% halved: 1 / 0.8.
        assert!((suite::amdahl(p, 2) - 1.25).abs() < 1e-12);
        assert_eq!(suite::amdahl(0.0, 2), 1.0);
        assert_eq!(suite::amdahl(1.0, 4), 4.0);
        // All on the calling thread: nothing spreads.
        let seq = outcome("Saturated", 8.0, vec![(1, 2.5), (1, 2.0), (1, 0.5)]);
        assert_eq!(suite::parallel_share(&one, &seq), Some(0.0));
    }

    #[test]
    fn runs_that_did_not_do_the_same_iterations_have_no_parallel_share() {
        let one = outcome("Saturated", 10.0, vec![(1, 2.0), (1, 3.0)]);
        let shorter = outcome("Saturated", 5.0, vec![(2, 2.0)]);
        assert_eq!(suite::parallel_share(&one, &shorter), None);
        let t = outcome("TimeLimit(5.0)", 10.0, vec![(1, 2.0), (1, 3.0)]);
        let t2 = outcome("TimeLimit(5.0)", 5.0, vec![(2, 2.0), (2, 3.0)]);
        assert_eq!(suite::parallel_share(&t, &t2), None);
    }

    #[test]
    fn the_geomean_of_ratios_is_the_nth_root_of_their_product() {
        assert!((geomean(&[2.0, 8.0]) - 4.0).abs() < 1e-12);
        assert!((geomean(&[0.5, 2.0]) - 1.0).abs() < 1e-12);
        assert_eq!(geomean(&[]), 1.0);
    }
}
