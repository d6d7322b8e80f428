//! When to run parallel phases on the calling thread.
//!
//! A one-thread run should not pay for handing work to a pool thread and
//! waiting for it (on small e-graphs that costs more than the work). The
//! runner marks the calling thread sequential for the run; parallel phases
//! check [`is_sequential`] and use plain iterators then.
//!
//! A run with a pool is marked sequential too while its e-graph is small
//! (see `Runner::run`): handing a phase to the pool costs a wake-up of its
//! threads each time, which on a small e-graph outweighs the phase (with
//! phases handed over from the calling thread, `integ_part2`, 2,000 nodes,
//! ran at 0.6-0.9x at 2 threads). Once the e-graph is large the runner
//! moves onto a pool thread, which then takes part in every parallel phase.
//!
//! # Keeping the pool warm
//! Between two parallel phases of a run comes sequential work (the
//! in-order commit, the union loop of a rebuild, planning), often under a
//! millisecond. Rayon's idle threads go to sleep within microseconds, and
//! waking one costs a futex wake and, in a virtual machine, an
//! inter-processor interrupt: 20-60 us measured here (p50), up to 2 ms,
//! during which the phase runs on the calling thread alone. A phase of a
//! few hundred microseconds then gets little or no help. So after each
//! parallel phase, [`keep_warm`] puts the pool's other threads into a
//! *helper* loop: each polls the pool for work ([`rayon::yield_now`]) and
//! runs what it finds (the next phase's pieces, or anyone else's jobs), and
//! returns to rayon's own idle loop after [`spin_wait`] without finding
//! any. This is the spin-then-sleep policy of OpenMP runtimes
//! (`GOMP_SPINCOUNT`, `KMP_BLOCKTIME`). A helper never holds work back (it
//! runs whatever it finds), it only burns its core while it waits; set
//! the wait to zero with [`set_spin_wait`] to share cores more politely.
//! A pool with more threads than the machine has cores keeps only one
//! helper per other core: more would only take turns from the threads
//! that have work.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

thread_local! {
    static SEQUENTIAL: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread runs a helper loop (see [`keep_warm`]).
    static HELPING: Cell<bool> = const { Cell::new(false) };
}

/// Microseconds a helper keeps polling without finding work.
static SPIN_WAIT_US: AtomicU64 = AtomicU64::new(DEFAULT_SPIN_WAIT_US);

/// The default of [`spin_wait`]: 1 ms, longer than most sequential steps
/// between two parallel phases, short enough that an idle pool sleeps
/// soon after a run.
const DEFAULT_SPIN_WAIT_US: u64 = 1000;

/// Helper loops running now, in all pools.
static HELPERS: AtomicUsize = AtomicUsize::new(0);

/// How long a pool thread that finished its part of a parallel phase keeps
/// polling for the next one before it sleeps. Default: 1 ms.
///
/// Between two parallel phases of a run comes sequential work (the
/// in-order commit, the union loop of a rebuild, planning), often under a
/// millisecond, while rayon's idle threads sleep within microseconds and
/// take a futex wake-up to resume (20-60 us in a virtual machine, up to
/// milliseconds). So after each parallel phase the pool's other threads
/// poll for work ([`rayon::yield_now`]), running whatever they find, for
/// up to this long. They never hold work back; they only keep their cores
/// busy while they wait.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(saturn::spin_wait(), Duration::from_millis(1));
/// ```
pub fn spin_wait() -> Duration {
    Duration::from_micros(SPIN_WAIT_US.load(Ordering::Relaxed))
}

/// Sets [`spin_wait`] for the whole process; `Duration::ZERO` turns the
/// helper loops off (each phase then wakes sleeping threads, as plain
/// rayon does). Results never depend on it, only the time to reach them.
///
/// ```
/// use std::time::Duration;
/// saturn::set_spin_wait(Duration::from_micros(200));
/// assert_eq!(saturn::spin_wait(), Duration::from_micros(200));
/// saturn::set_spin_wait(Duration::from_millis(1));
/// ```
pub fn set_spin_wait(d: Duration) {
    SPIN_WAIT_US.store(
        d.as_micros().min(u64::MAX as u128) as u64,
        Ordering::Relaxed,
    );
}

/// After a parallel phase on a pool thread: makes sure the pool's other
/// threads are in helper loops (see the [module docs](self)), so the next
/// phase finds them awake; at most one per other core of the machine.
/// Cheap when they already are.
pub(crate) fn keep_warm() {
    let wait = spin_wait();
    if wait.is_zero() || HELPING.with(|h| h.get()) {
        return;
    }
    let Some(me) = rayon::current_thread_index() else {
        return; // not on a pool thread: phases here hand work over anyway
    };
    // No more helpers than the machine has other cores: on a pool larger
    // than the machine, spinning threads only take turns from working ones
    // (a 512-thread pool on 2 cores ran a 2 s time limit to 4.9 s).
    let others = rayon::current_num_threads().min(cores()).saturating_sub(1);
    let running = HELPERS.load(Ordering::Relaxed);
    for _ in running..others {
        HELPERS.fetch_add(1, Ordering::Relaxed);
        rayon::spawn(move || {
            // A helper popped by the thread that spawned it (or nested in
            // another helper) would only delay that thread.
            if rayon::current_thread_index() != Some(me) && !HELPING.with(|h| h.get()) {
                HELPING.with(|h| h.set(true));
                help(wait);
                HELPING.with(|h| h.set(false));
            }
            HELPERS.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// The machine's cores (as [`std::thread::available_parallelism`] sees
/// them, 1 when unknown), read once.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Helper loops running now, in all of this process's pools (for tests:
/// they must all end within [`spin_wait`] of the last parallel phase).
#[doc(hidden)]
pub fn helpers_running() -> usize {
    HELPERS.load(Ordering::Relaxed)
}

/// The helper loop: runs the pool's pending jobs as they appear, until
/// `wait` passes without any.
fn help(wait: Duration) {
    let mut idle_since = Instant::now();
    let mut polls = 0u32;
    loop {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {
                idle_since = Instant::now();
                polls = 0;
            }
            _ => {
                polls += 1;
                // Reading the clock costs more than a poll: every 16th.
                if polls.is_multiple_of(16) && idle_since.elapsed() >= wait {
                    return;
                }
                // A poll reads the other threads' queues, which their
                // owners write at every push and pop: a microsecond or so
                // apart, polls barely slow them, and still find new work
                // far sooner than a wake-up would.
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
            }
        }
    }
}

/// Threads parallel phases here spread over: 1 when marked sequential,
/// else the current rayon pool's.
#[inline]
pub(crate) fn threads() -> usize {
    if SEQUENTIAL.with(|s| s.get()) {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// True when parallel phases should run on this thread.
#[inline]
pub(crate) fn is_sequential() -> bool {
    threads() == 1
}

/// Runs `f` with this thread marked sequential; the mark is restored even
/// if `f` panics (the thread may be a pool thread that lives on).
pub(crate) fn sequentially<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SEQUENTIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SEQUENTIAL.with(|s| s.replace(true)));
    f()
}

/// Runs `f` marked sequential when `small` (work too small to pay for
/// handing it to other threads), else as is. Results never depend on it:
/// every parallel phase computes the same thing either way.
pub(crate) fn sequentially_if<R>(small: bool, f: impl FnOnce() -> R) -> R {
    if small && !is_sequential() {
        sequentially(f)
    } else {
        f()
    }
}

/// Pieces per thread a parallel phase over `n` items is cut into at least
/// (see [`piece_len`]).
const PIECES_PER_THREAD: usize = 16;

/// The most items one piece of a parallel phase over `n` items takes:
/// enough pieces that every thread gets [`PIECES_PER_THREAD`].
///
/// Rayon cuts a phase into about two pieces per thread up front and cuts
/// further only what another thread steals; a piece that a thread has
/// started runs to its end on that thread. That balances items of equal
/// cost, but the engine's items seldom are: lists of classes run in id
/// order, and the oldest classes (lowest ids) are the largest. Rebuilding
/// the node lists of 2,500 classes of egg's `lambda_function_repeat`
/// (89,000 nodes, the heaviest classes first) took 3.0 ms on 2 threads
/// with one thread busy 3.0 ms and the other 0.35 ms, against 3.1 ms on
/// one; cut into 32 pieces, 1.9-2.0 ms, both threads busy 1.7-1.9 ms.
/// A piece costs a `join`, a fraction of a microsecond.
#[inline]
pub(crate) fn piece_len(n: usize) -> usize {
    n.div_ceil(threads() * PIECES_PER_THREAD).max(1)
}

/// Maps `f` over `items`, in parallel unless [`is_sequential`], in pieces
/// of at most [`piece_len`] items.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if is_sequential() || items.len() <= 1 {
        items.iter().map(f).collect()
    } else {
        let out = items
            .par_iter()
            .with_max_len(piece_len(items.len()))
            .map(f)
            .collect();
        keep_warm();
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_helper_runs_pending_jobs_and_then_stops() {
        // One thread: the job can only run in the helper loop.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wait = Duration::from_millis(20);
        let t = Instant::now();
        pool.install(|| {
            let ran = ran.clone();
            rayon::spawn(move || ran.store(true, Ordering::SeqCst));
            help(wait);
        });
        assert!(ran.load(Ordering::SeqCst), "the pending job did not run");
        assert!(t.elapsed() >= wait, "stopped before the wait was over");
    }

    #[test]
    fn par_map_keeps_order_and_cuts_small_pieces() {
        for threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                for n in [0, 1, 2, 31, 32, 33, 1000, 4099] {
                    let len = piece_len(n);
                    assert!(len >= 1);
                    assert!(
                        len * threads * PIECES_PER_THREAD >= n,
                        "{n} items cut too coarsely"
                    );
                    assert!(n == 0 || (len - 1) * threads * PIECES_PER_THREAD < n);
                    // The heaviest items first, as class lists in id order.
                    let items: Vec<usize> = (0..n).collect();
                    let cost = |&i: &usize| (0..(n - i) * 8).fold(i, |a, k| a ^ k.rotate_left(3));
                    let want: Vec<usize> = items.iter().map(cost).collect();
                    assert_eq!(
                        par_map(&items, cost),
                        want,
                        "{n} items on {threads} threads"
                    );
                }
            });
        }
        // Marked sequential, it counts one thread.
        assert_eq!(
            sequentially(|| piece_len(100)),
            100usize.div_ceil(PIECES_PER_THREAD)
        );
    }

    #[test]
    fn the_mark_is_restored_after_a_panic() {
        assert!(!SEQUENTIAL.with(|s| s.get()));
        let r = std::panic::catch_unwind(|| sequentially(|| panic!("boom")));
        assert!(r.is_err());
        assert!(!SEQUENTIAL.with(|s| s.get()), "still marked sequential");
        assert!(sequentially(|| SEQUENTIAL.with(|s| s.get())));
    }
}
