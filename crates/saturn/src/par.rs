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

use std::cell::Cell;

use rayon::prelude::*;

thread_local! {
    static SEQUENTIAL: Cell<bool> = const { Cell::new(false) };
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

/// Maps `f` over `items`, in parallel unless [`is_sequential`].
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if is_sequential() || items.len() <= 1 {
        items.iter().map(f).collect()
    } else {
        items.par_iter().map(f).collect()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_restored_after_a_panic() {
        assert!(!SEQUENTIAL.with(|s| s.get()));
        let r = std::panic::catch_unwind(|| sequentially(|| panic!("boom")));
        assert!(r.is_err());
        assert!(!SEQUENTIAL.with(|s| s.get()), "still marked sequential");
        assert!(sequentially(|| SEQUENTIAL.with(|s| s.get())));
    }
}
