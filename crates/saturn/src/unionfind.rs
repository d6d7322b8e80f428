//! A concurrent union-find over dense [`Id`]s.
//!
//! Parents are an array of `AtomicU32`. `find` halves paths with
//! compare-and-swap: a parent pointer only ever moves towards its root, so
//! any value a thread reads is a valid ancestor and a lost race only loses
//! some compression. `union` links the larger root under the smaller one
//! with one CAS on the larger root, retrying if another thread linked it
//! first.
//!
//! "Smaller id wins" makes the result independent of thread timing: the
//! final partition is the reflexive-transitive closure of the unions, and
//! every set's root is its least id, whatever order the unions ran in. That
//! is what lets parallel rounds be deterministic without ordering unions.
//!
//! The array has a fixed capacity so that `make_set` can hand out ids
//! through `&self` with one atomic increment; growing it needs `&mut self`
//! ([`UnionFind::reserve`]), which the e-graph does at its sequential
//! points.
//!
//! Under `--cfg loom` the atomics are loom's (see `tests/loom.rs`), so the
//! model checker explores every interleaving and every value the memory
//! model allows each load to see.

use self::sync::{AtomicU32, AtomicUsize, Ordering};

use crate::Id;

/// The atomics used here: std's, or loom's under `--cfg loom`.
#[cfg(not(loom))]
mod sync {
    pub(super) use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

    /// The value of an atomic reached through `&mut` (no synchronisation).
    #[inline(always)]
    pub(super) fn get_mut(a: &mut AtomicUsize) -> usize {
        *a.get_mut()
    }
}

/// The atomics used here: std's, or loom's under `--cfg loom`.
#[cfg(loom)]
mod sync {
    pub(super) use loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

    /// The value of an atomic reached through `&mut` (no synchronisation).
    pub(super) fn get_mut(a: &mut AtomicUsize) -> usize {
        a.with_mut(|v| *v)
    }
}

/// A union-find whose `find`, `union` and `make_set` work through `&self`.
///
/// ```
/// use saturn::{UnionFind, Id};
/// let mut uf = UnionFind::default();
/// uf.reserve(4);
/// let ids: Vec<Id> = (0..4).map(|_| uf.make_set().unwrap()).collect();
/// assert!(uf.union(ids[3], ids[1]));
/// assert!(uf.union(ids[1], ids[2]));
/// assert_eq!(uf.find(ids[3]), ids[1]); // the least id is the root
/// assert!(!uf.union(ids[2], ids[3]));
/// ```
#[derive(Default)]
pub struct UnionFind {
    parents: Vec<AtomicU32>,
    len: AtomicUsize,
}

impl UnionFind {
    /// Number of ids handed out.
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// True when no id was handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids that can still be made without [`UnionFind::reserve`].
    pub fn spare(&self) -> usize {
        self.parents.len() - self.len()
    }

    /// Makes room for at least `additional` more ids.
    pub fn reserve(&mut self, additional: usize) {
        let need = sync::get_mut(&mut self.len) + additional;
        if need > self.parents.len() {
            let cap = need.max(self.parents.len() * 2).max(64);
            let old = self.parents.len();
            self.parents
                .extend((old..cap).map(|i| AtomicU32::new(i as u32)));
        }
    }

    /// A new singleton set, or `None` when the capacity is used up.
    #[inline]
    pub fn make_set(&self) -> Option<Id> {
        let i = self.len.fetch_add(1, Ordering::AcqRel);
        if i >= self.parents.len() {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        // The slot was initialised to `i` by `reserve` and never touched.
        Some(Id(i as u32))
    }

    /// The parent pointer of `id` (itself for a root).
    #[inline(always)]
    pub fn parent(&self, id: Id) -> Id {
        Id(self.parents[id.index()].load(Ordering::Acquire))
    }

    /// The root of `id`'s set, halving the path on the way.
    #[inline]
    pub fn find(&self, mut x: Id) -> Id {
        loop {
            let p = self.parents[x.index()].load(Ordering::Acquire);
            if p == x.0 {
                return x;
            }
            let gp = self.parents[p as usize].load(Ordering::Acquire);
            if gp != p {
                // Path halving; failure means someone else moved it up.
                let _ = self.parents[x.index()].compare_exchange_weak(
                    p,
                    gp,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            x = Id(gp);
        }
    }

    /// The root of `id`'s set without writing (for read-only phases where
    /// many threads read the same hot ids).
    #[inline]
    pub fn find_readonly(&self, mut x: Id) -> Id {
        loop {
            let p = self.parents[x.index()].load(Ordering::Acquire);
            if p == x.0 {
                return x;
            }
            x = Id(p);
        }
    }

    /// The parent pointer of every id made so far, for
    /// [`UnionFind::restore`].
    pub(crate) fn snapshot(&self) -> Vec<u32> {
        (0..self.len())
            .map(|i| self.parents[i].load(Ordering::Acquire))
            .collect()
    }

    /// Puts the union-find back as it was when `snapshot` was taken: ids
    /// made since are forgotten (their slots free again) and unions made
    /// since are undone. Unions may only have linked ids, never unlinked
    /// them, so the snapshot's pointers describe the old sets exactly.
    pub(crate) fn restore(&mut self, snapshot: &[u32]) {
        let len = sync::get_mut(&mut self.len);
        debug_assert!(snapshot.len() <= len);
        for (i, a) in self.parents.iter().enumerate().take(len) {
            let p = snapshot.get(i).copied().unwrap_or(i as u32);
            a.store(p, Ordering::Relaxed);
        }
        self.len.store(snapshot.len(), Ordering::Release);
    }

    /// Merges the sets of `a` and `b`; the least root becomes the root.
    /// Returns false when they were already one set.
    #[inline]
    pub fn union(&self, a: Id, b: Id) -> bool {
        loop {
            let ra = self.find(a);
            let rb = self.find(b);
            if ra == rb {
                return false;
            }
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if self.parents[hi.index()]
                .compare_exchange(hi.0, lo.0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return true;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn concurrent_unions_give_the_sequential_partition() {
        let n = 2000;
        let pairs: Vec<(u32, u32)> = (0..n as u32)
            .map(|i| (i, (i * 7 + 3) % n as u32))
            .filter(|(a, b)| a % 3 != 0 || b % 5 != 0)
            .collect();
        let mut seq = UnionFind::default();
        seq.reserve(n);
        let mut par = UnionFind::default();
        par.reserve(n);
        for _ in 0..n {
            seq.make_set().unwrap();
            par.make_set().unwrap();
        }
        for &(a, b) in &pairs {
            seq.union(Id(a), Id(b));
        }
        std::thread::scope(|s| {
            for t in 0..8 {
                let (par, pairs) = (&par, &pairs);
                s.spawn(move || {
                    for &(a, b) in pairs.iter().skip(t).step_by(8) {
                        par.union(Id(a), Id(b));
                    }
                });
            }
        });
        for i in 0..n as u32 {
            assert_eq!(seq.find(Id(i)), par.find(Id(i)));
        }
    }

    #[test]
    fn restore_forgets_later_ids_and_unions() {
        let mut uf = UnionFind::default();
        uf.reserve(8);
        let ids: Vec<Id> = (0..4).map(|_| uf.make_set().unwrap()).collect();
        uf.union(ids[0], ids[1]);
        let snap = uf.snapshot();
        let late = uf.make_set().unwrap();
        uf.union(ids[2], ids[1]);
        uf.union(late, ids[3]);
        uf.union(ids[3], ids[0]);
        uf.restore(&snap);
        assert_eq!(uf.len(), 4);
        assert_eq!(uf.find(ids[1]), ids[0]);
        assert_eq!(uf.find(ids[2]), ids[2]);
        assert_eq!(uf.find(ids[3]), ids[3]);
        // The forgotten id's slot is free again, as a fresh singleton.
        assert_eq!(uf.make_set(), Some(late));
        assert_eq!(uf.find(late), late);
    }

    #[test]
    fn make_set_stops_at_capacity() {
        let mut uf = UnionFind::default();
        uf.reserve(1);
        let cap = uf.spare();
        for _ in 0..cap {
            assert!(uf.make_set().is_some());
        }
        assert!(uf.make_set().is_none());
        assert_eq!(uf.len(), cap);
    }
}
