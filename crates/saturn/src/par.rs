//! When to run parallel phases on the calling thread.
//!
//! A one-thread run should not pay for handing work to a pool thread and
//! waiting for it (on small e-graphs that costs more than the work). The
//! runner marks the calling thread sequential for the run; parallel phases
//! check [`is_sequential`] and use plain iterators then.
//!
//! A run with a pool stays on the calling thread too while its e-graph is
//! small ([`with_pool`]); only the phases large enough to go parallel enter
//! the pool ([`in_pool`]), so a run whose phases are all small never hands
//! anything to another thread. Once the e-graph is large the runner moves
//! onto a pool thread, which then takes part in every parallel phase.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use rayon::prelude::*;

thread_local! {
    static SEQUENTIAL: Cell<bool> = const { Cell::new(false) };
    /// The pool parallel phases of this thread's run go to, while the run
    /// itself stays on this thread.
    static POOL: RefCell<Option<Arc<rayon::ThreadPool>>> = const { RefCell::new(None) };
}

/// Threads available to parallel phases here: the run's pool, or the
/// current rayon pool.
#[inline]
pub(crate) fn threads() -> usize {
    POOL.with(|p| p.borrow().as_ref().map(|p| p.current_num_threads()))
        .unwrap_or_else(rayon::current_num_threads)
}

/// True when parallel phases should run on this thread.
#[inline]
pub(crate) fn is_sequential() -> bool {
    SEQUENTIAL.with(|s| s.get()) || threads() == 1
}

/// Runs `f` on this thread with `pool` as the pool its parallel phases
/// enter (restored even if `f` panics).
pub(crate) fn with_pool<R>(pool: Arc<rayon::ThreadPool>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<rayon::ThreadPool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            POOL.with(|p| *p.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(POOL.with(|p| p.borrow_mut().replace(pool)));
    f()
}

/// Runs the parallel phase `f` in the run's pool (see [`with_pool`]), or
/// here when there is none (already in a pool, or no run pool).
pub(crate) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match POOL.with(|p| p.borrow().clone()) {
        Some(pool) => pool.install(f),
        None => f(),
    }
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

    #[test]
    fn with_pool_stays_here_and_is_restored() {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap(),
        );
        let here = std::thread::current().id();
        let (t, same, n) = with_pool(pool.clone(), || {
            let n = in_pool(rayon::current_num_threads);
            (threads(), std::thread::current().id() == here, n)
        });
        assert_eq!((t, same, n), (3, true, 3));
        assert!(POOL.with(|p| p.borrow().is_none()));
        let p2 = pool.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            with_pool(p2, || panic!("boom"))
        }));
        assert!(r.is_err());
        assert!(POOL.with(|p| p.borrow().is_none()), "pool not restored");
        let v = with_pool(pool, || par_map(&[1, 2, 3, 4], |x| x * 2));
        assert_eq!(v, vec![2, 4, 6, 8]);
    }
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
        in_pool(|| items.par_iter().map(f).collect())
    }
}
