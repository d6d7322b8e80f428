//! When to run parallel phases on the calling thread.
//!
//! A one-thread run should not pay for handing work to a pool thread and
//! waiting for it (on small e-graphs that costs more than the work). The
//! runner marks the calling thread sequential for the run; parallel phases
//! check [`is_sequential`] and use plain iterators then.

use std::cell::Cell;

use rayon::prelude::*;

thread_local! {
    static SEQUENTIAL: Cell<bool> = const { Cell::new(false) };
}

/// True when parallel phases should run on this thread.
#[inline]
pub(crate) fn is_sequential() -> bool {
    SEQUENTIAL.with(|s| s.get()) || rayon::current_num_threads() == 1
}

/// Runs `f` with this thread marked sequential.
pub(crate) fn sequentially<R>(f: impl FnOnce() -> R) -> R {
    let old = SEQUENTIAL.with(|s| s.replace(true));
    let r = f();
    SEQUENTIAL.with(|s| s.set(old));
    r
}

/// Maps `f` over `items`, in parallel unless [`is_sequential`].
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if is_sequential() || items.len() <= 1 {
        items.iter().map(f).collect()
    } else {
        items.par_iter().map(f).collect()
    }
}
