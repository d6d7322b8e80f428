//! A concurrent append-only vector: the e-graph's node store.
//!
//! Elements live in chunks whose sizes double (32, 64, 128, …), so an
//! element never moves once written and readers never take a lock. Slots are
//! `OnceLock`s: a slot is written exactly once, and a read of a slot that is
//! not written yet returns `None` instead of racing. There is no `unsafe`
//! here; the price is one `Once` state word per slot.
//!
//! Two ways to append:
//! - [`AppendOnlyVec::push`]: any thread, any time; the index is whatever
//!   the atomic counter hands out (used where order does not matter);
//! - [`AppendOnlyVec::reserve`] then [`AppendOnlyVec::init_at`]: a
//!   coordinator reserves a range, workers fill it in parallel at
//!   pre-computed positions, so indices are deterministic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

const BASE: usize = 32;
const CHUNKS: usize = 40;

/// A vector that can be appended to through a shared reference.
///
/// ```
/// use saturn::AppendOnlyVec;
/// let v = AppendOnlyVec::new();
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         let v = &v;
///         s.spawn(move || for i in 0..100 { v.push(t * 1000 + i); });
///     }
/// });
/// assert_eq!(v.len(), 400);
/// let mut all: Vec<i32> = (0..v.len()).map(|i| *v.get(i).unwrap()).collect();
/// all.sort();
/// assert_eq!(all[0], 0);
/// ```
pub struct AppendOnlyVec<T> {
    len: AtomicUsize,
    chunks: [OnceLock<Box<[OnceLock<T>]>>; CHUNKS],
}

#[inline(always)]
fn locate(i: usize) -> (usize, usize) {
    let j = i / BASE + 1;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize;
    let start = BASE * ((1usize << k) - 1);
    (k, i - start)
}

impl<T> Default for AppendOnlyVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> AppendOnlyVec<T> {
    /// An empty vector.
    pub fn new() -> Self {
        AppendOnlyVec {
            len: AtomicUsize::new(0),
            chunks: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Number of reserved slots (written or about to be written).
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// True when nothing was ever pushed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn chunk(&self, k: usize) -> &[OnceLock<T>] {
        self.chunks[k].get_or_init(|| (0..BASE << k).map(|_| OnceLock::new()).collect())
    }

    /// The slots allocated once the first `n` are: whole chunks, each
    /// twice the one before, so at most about twice `n`.
    ///
    /// ```
    /// use saturn::AppendOnlyVec;
    /// assert_eq!(AppendOnlyVec::<u8>::capacity_for(0), 0);
    /// assert_eq!(AppendOnlyVec::<u8>::capacity_for(1), 32);
    /// assert_eq!(AppendOnlyVec::<u8>::capacity_for(33), 32 + 64);
    /// ```
    pub fn capacity_for(n: usize) -> usize {
        match n.checked_sub(1) {
            None => 0,
            Some(last) => BASE * ((1usize << (locate(last).0 + 1)) - 1),
        }
    }

    /// Appends `value` and returns its index.
    pub fn push(&self, value: T) -> usize {
        let i = self.len.fetch_add(1, Ordering::AcqRel);
        self.init_at(i, value);
        i
    }

    /// Reserves `n` consecutive slots and returns the first index.
    pub fn reserve(&self, n: usize) -> usize {
        self.len.fetch_add(n, Ordering::AcqRel)
    }

    /// Writes a reserved slot.
    ///
    /// # Panics
    /// If the slot was already written or was never reserved: both are bugs
    /// in the caller, never a consequence of input.
    pub fn init_at(&self, i: usize, value: T) {
        assert!(i < self.len(), "slot {i} was not reserved");
        let (k, off) = locate(i);
        if self.chunk(k)[off].set(value).is_err() {
            panic!("slot {i} written twice");
        }
    }

    /// The element at `i`, if it is written.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        let (k, off) = locate(i);
        self.chunks.get(k)?.get()?.get(off)?.get()
    }
}

impl<T> std::ops::Index<usize> for AppendOnlyVec<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index of an unwritten slot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_is_a_bijection_over_chunk_boundaries() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let (k, off) = locate(i);
            assert!(off < BASE << k, "offset {off} out of chunk {k}");
            assert!(seen.insert((k, off)));
        }
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(BASE), (1, 0));
        assert_eq!(locate(3 * BASE), (2, 0));
    }

    #[test]
    fn capacity_for_counts_the_chunks_that_n_slots_reach() {
        let v = AppendOnlyVec::new();
        let mut allocated = 0;
        for n in 1..5_000 {
            v.push(n);
            let (k, off) = locate(n - 1);
            if off == 0 {
                allocated += BASE << k;
            }
            assert_eq!(AppendOnlyVec::<usize>::capacity_for(n), allocated, "{n}");
            assert!(allocated < 2 * n + 2 * BASE);
        }
    }

    #[test]
    fn reserve_then_fill_in_parallel() {
        let v = AppendOnlyVec::new();
        let start = v.reserve(1000);
        std::thread::scope(|s| {
            for t in 0..4 {
                let v = &v;
                s.spawn(move || {
                    for i in (t..1000).step_by(4) {
                        v.init_at(start + i, i * 2);
                    }
                });
            }
        });
        for i in 0..1000 {
            assert_eq!(v[i], i * 2);
        }
        assert!(v.get(1000).is_none());
    }

    #[test]
    #[should_panic(expected = "written twice")]
    fn double_write_is_caught() {
        let v = AppendOnlyVec::new();
        v.push(1);
        v.init_at(0, 2);
    }
}
