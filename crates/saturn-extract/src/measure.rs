//! Timing an extractor the way the benchmark and `saturn report` do.
//!
//! At each thread count, the extractor runs `runs` times on a pool of that
//! size ([`with_threads`]: the pool is built outside the timed region) and
//! the median time is kept. With more than one run, one untimed run comes
//! first (a warm-up: the first run on a fresh pool pays for cold caches,
//! the allocator's first pages and the threads' first wake-up, and with 3
//! runs one slow run moves the median); a single run is taken as a check,
//! as `extract-bench --check-only` uses it, and is not repeated. Every result is checked ([`Extraction::check`])
//! and compared with the first thread count's: extraction is deterministic,
//! so a difference is a bug, reported as an error like a failed check.
//! A panicking extractor is caught and reported too, so one bad file or
//! extractor does not end a whole benchmark run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::{with_threads, CheckError, DenseEGraph, ExtractError, Extraction, Extractor};

/// What [`measure`] found: the checked costs (equal at every thread count)
/// and the median time per thread count.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Tree cost of the extraction.
    pub tree: f64,
    /// DAG cost of the extraction (shared classes counted once).
    pub dag: f64,
    /// Median time per thread count, in the order given.
    pub times: Vec<Duration>,
}

/// Why a measurement failed; `threads` is the thread count at which.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MeasureError {
    /// The extractor panicked.
    #[error("{extractor} ({threads} threads) panicked: {message}")]
    Panicked {
        /// The extractor's name.
        extractor: &'static str,
        /// The thread count.
        threads: usize,
        /// The panic's message.
        message: String,
    },
    /// The extractor (or the thread pool) returned an error.
    #[error("{extractor} ({threads} threads): {error}")]
    Failed {
        /// The extractor's name.
        extractor: &'static str,
        /// The thread count.
        threads: usize,
        /// What went wrong.
        error: ExtractError,
    },
    /// The extraction does not check.
    #[error("{extractor} ({threads} threads): extraction does not check: {error}")]
    Check {
        /// The extractor's name.
        extractor: &'static str,
        /// The thread count.
        threads: usize,
        /// The violated invariant.
        error: CheckError,
    },
    /// The extraction differs from the one at the first thread count.
    #[error(
        "{extractor}: the result at {threads} threads differs from the one at {reference} threads"
    )]
    Differs {
        /// The extractor's name.
        extractor: &'static str,
        /// The thread count.
        threads: usize,
        /// The first thread count.
        reference: usize,
    },
}

/// Runs `ex` on `g` (extracting `g`'s roots) `runs` times at each of
/// `threads` thread counts; see the [module docs](self).
///
/// ```
/// use saturn_extract::measure::measure;
/// use saturn_extract::{BottomUp, DenseEGraph};
/// let g = DenseEGraph::from_json_str(
///     r#"{"nodes": {"a": {"op": "a", "children": [], "eclass": "c", "cost": 2.0},
///                   "b": {"op": "b", "children": [], "eclass": "c", "cost": 1.0}},
///         "root_eclasses": ["c"]}"#,
/// )
/// .unwrap();
/// let m = measure(&g, &BottomUp::default(), &[1, 2], 3).unwrap();
/// assert_eq!((m.tree, m.dag, m.times.len()), (1.0, 1.0, 2));
/// ```
pub fn measure(
    g: &DenseEGraph,
    ex: &dyn Extractor,
    threads: &[usize],
    runs: usize,
) -> Result<Measurement, MeasureError> {
    let roots = g.roots().to_vec();
    let extractor = ex.name();
    let mut reference: Option<Extraction> = None;
    let mut m = Measurement {
        tree: 0.0,
        dag: 0.0,
        times: Vec::with_capacity(threads.len()),
    };
    for &t in threads {
        let timed = catch_unwind(AssertUnwindSafe(|| {
            with_threads(t, || {
                let mut times = Vec::with_capacity(runs.max(1));
                let mut last = None;
                let warm_up = runs > 1;
                for k in 0..runs.max(1) + warm_up as usize {
                    let start = Instant::now();
                    let r = ex.extract(g, &roots);
                    if k > 0 || !warm_up {
                        times.push(start.elapsed());
                    }
                    last = Some(r);
                }
                times.sort_unstable();
                (times[times.len() / 2], last.expect("at least one run"))
            })
        }));
        let failed = |error| MeasureError::Failed {
            extractor,
            threads: t,
            error,
        };
        let (median, result) = match timed {
            Err(p) => {
                return Err(MeasureError::Panicked {
                    extractor,
                    threads: t,
                    message: panic_message(&*p),
                })
            }
            Ok(pooled) => pooled.map_err(failed)?,
        };
        let extraction = result.map_err(failed)?;
        let cost = extraction
            .check(g, &roots)
            .map_err(|error| MeasureError::Check {
                extractor,
                threads: t,
                error,
            })?;
        match &reference {
            None => {
                m.tree = cost.tree.get();
                m.dag = cost.dag.get();
                reference = Some(extraction);
            }
            Some(r) if *r != extraction => {
                return Err(MeasureError::Differs {
                    extractor,
                    threads: t,
                    reference: threads[0],
                })
            }
            Some(_) => {}
        }
        m.times.push(median);
    }
    Ok(m)
}

/// The text of a caught panic.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BottomUp, ClassIdx};

    fn graph() -> DenseEGraph {
        DenseEGraph::from_json_str(
            r#"{"nodes": {"x": {"op": "x", "children": [], "eclass": "c", "cost": 1.0},
                          "f": {"op": "f", "children": ["x", "x"], "eclass": "r", "cost": 1.0}},
                "root_eclasses": ["r"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn costs_and_one_time_per_thread_count() {
        let m = measure(&graph(), &BottomUp::default(), &[1, 2, 3], 2).unwrap();
        assert_eq!((m.tree, m.dag), (3.0, 2.0));
        assert_eq!(m.times.len(), 3);
    }

    /// Gives a different (valid) extraction on every call.
    struct Flaky(std::sync::atomic::AtomicUsize);

    impl Extractor for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError> {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                BottomUp::default().extract(g, roots)
            } else {
                panic!("second call")
            }
        }
    }

    /// Counts its calls.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl Extractor for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn extract(&self, g: &DenseEGraph, roots: &[ClassIdx]) -> Result<Extraction, ExtractError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            BottomUp::default().extract(g, roots)
        }
    }

    #[test]
    fn timed_runs_follow_one_warm_up_and_a_single_run_is_not_repeated() {
        let calls = |runs: usize| {
            let ex = Counting(Default::default());
            let m = measure(&graph(), &ex, &[1, 2], runs).unwrap();
            assert_eq!(m.times.len(), 2);
            ex.0.into_inner()
        };
        assert_eq!(calls(1), 2, "one run per thread count, no warm-up");
        assert_eq!(calls(3), 8, "a warm-up and 3 runs per thread count");
    }

    #[test]
    fn a_panic_is_an_error_that_names_the_thread_count() {
        let e = measure(&graph(), &Flaky(Default::default()), &[1, 2], 1).unwrap_err();
        assert_eq!(
            e,
            MeasureError::Panicked {
                extractor: "flaky",
                threads: 2,
                message: "second call".into()
            }
        );
    }
}
