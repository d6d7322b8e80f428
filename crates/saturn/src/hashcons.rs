//! The hashcons: canonical e-node to e-class, sharded for concurrent use.
//!
//! A hashcons is in one of three modes:
//! - *concurrent* (the default): the table is split into a fixed number of
//!   shards by the node's hash, each behind a reader-writer lock; through
//!   `&self`, each operation locks one shard, and
//!   [`Hashcons::insert_or_get`] is atomic: two threads inserting the same
//!   node get the same answer. A node always lands in the same shard,
//!   whatever the thread count;
//! - *plain* (the e-graph's mode, except in and after asynchronous
//!   runs; see below): one bare
//!   table; lookups through `&self` take no lock and write no shared
//!   memory (a read lock writes its lock word, which parallel readers on
//!   different cores then pass back and forth), and inserts need
//!   `&mut self`;
//! - *layered* (the e-graph's mode from an asynchronous run's first
//!   phase, when [`Hashcons::set_concurrent`] turns the plain table
//!   concurrent, until the run's renumbering replaces it or the next run
//!   makes it plain again): the plain table stays as it is and is read
//!   without locks, and the nodes inserted go to locked shards over it.
//!   An insert looks in the table first, so a node is in one layer only,
//!   and inserts stay atomic. Only what phases add is behind locks; through `&mut self`,
//!   lookups read both layers and inserts go to the top one, so the
//!   table is never re-hashed to take them in (only when the hashcons is
//!   made plain again).
//!
//! Through `&mut self` (the e-graph's sequential commit and rebuild), the
//! tables are reached without locking in any mode. Switching between the
//! sharded and the plain layout moves every entry (one pass, no copies);
//! a plain table becomes layered, and a layered one plain, by moving only
//! the entries over the table.
//!
//! Under `--cfg loom` the lock and the counter are loom's (see
//! `tests/loom.rs`), so the model checker explores their interleavings.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use self::sync::{AtomicUsize, Ordering, RwLock};
use crate::Id;

/// The lock and atomics used here: std's, or loom's under `--cfg loom`.
#[cfg(not(loom))]
mod sync {
    pub(super) use std::sync::atomic::{AtomicUsize, Ordering};
    pub(super) use std::sync::RwLock;

    /// Adds `delta` (wrapping) to an atomic reached through `&mut`.
    #[inline(always)]
    pub(super) fn add_mut(a: &mut AtomicUsize, delta: isize) {
        let v = a.get_mut();
        *v = v.wrapping_add_signed(delta);
    }
}

/// The lock and atomics used here: std's, or loom's under `--cfg loom`.
#[cfg(loom)]
mod sync {
    pub(super) use loom::sync::atomic::{AtomicUsize, Ordering};
    pub(super) use loom::sync::RwLock;

    /// Adds `delta` (wrapping) to an atomic reached through `&mut`.
    pub(super) fn add_mut(a: &mut AtomicUsize, delta: isize) {
        a.with_mut(|v| *v = v.wrapping_add_signed(delta));
    }
}

/// Number of shards; a power of two, fixed so results never depend on the
/// thread count.
pub const SHARDS: usize = 64;

/// One shard: a plain hash table of (node, class) pairs.
pub type Shard<L> = HashTable<(L, Id)>;

/// A map from canonical nodes to class ids. A standalone one is in
/// concurrent mode (sharded, each shard behind a lock, inserts through
/// `&self` are atomic); an e-graph keeps its own as one plain table with
/// lock-free lookups, layered (locked shards over that table, which
/// stays lock-free) while the asynchronous scheduler adds nodes.
///
/// ```
/// use saturn::{Hashcons, SymbolLang, Id};
/// let h = Hashcons::default();
/// let x = SymbolLang::leaf("x");
/// assert_eq!(h.insert_or_get(x.clone(), Id::from(0usize)), None);
/// assert_eq!(h.insert_or_get(x.clone(), Id::from(1usize)), Some(Id::from(0usize)));
/// assert_eq!(h.get(&x), Some(Id::from(0usize)));
/// assert_eq!(h.len(), 1);
/// ```
pub struct Hashcons<L> {
    shards: Shards<L>,
    /// Number of entries, kept so `len` is O(1) (checked against the node
    /// limit many times per iteration).
    len: AtomicUsize,
}

/// The shards, locked, plain or layered (see the module docs).
enum Shards<L> {
    Locked(Box<[RwLock<Shard<L>>]>),
    /// One table: with no locks, sharding would only add an indirection
    /// and many small tables.
    Plain(Shard<L>),
    /// A plain table that stays as it is while the hashcons is shared,
    /// read without locks, over locked shards that take every insert made
    /// through `&self`. A node is in at most one of the two, since an
    /// insert looks in `base` first and `base` does not change while
    /// inserts through `&self` are possible.
    Layered {
        base: Shard<L>,
        top: Box<[RwLock<Shard<L>>]>,
    },
}

impl<L> Shards<L> {
    /// The table inserts into shard `i` go to, through `&mut` (no locking
    /// in any mode; the top layer's shard when layered).
    #[inline(always)]
    fn get_mut(&mut self, i: usize) -> &mut Shard<L> {
        match self {
            Shards::Plain(t) => {
                let _ = i;
                t
            }
            Shards::Locked(v) | Shards::Layered { top: v, .. } => {
                v[i].get_mut().unwrap_or_else(|e| e.into_inner())
            }
        }
    }

    /// The base table of a layered hashcons.
    #[inline(always)]
    fn base_mut(&mut self) -> Option<&mut Shard<L>> {
        match self {
            Shards::Layered { base, .. } => Some(base),
            _ => None,
        }
    }
}

impl<L> Default for Hashcons<L> {
    /// An empty hashcons in concurrent mode.
    fn default() -> Self {
        Hashcons {
            shards: Shards::Locked((0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect()),
            len: AtomicUsize::new(0),
        }
    }
}

impl<L> Hashcons<L> {
    /// An empty hashcons in plain mode: lock-free lookups through `&self`,
    /// inserts only through `&mut self` until
    /// [`Hashcons::set_concurrent`] turns concurrent mode on.
    pub(crate) fn plain() -> Self {
        Hashcons {
            shards: Shards::Plain(HashTable::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// The write lock of shard `i` (of the top layer when layered), for
    /// inserts through `&self`.
    fn shard_write(&self, i: usize) -> impl std::ops::DerefMut<Target = Shard<L>> + '_ {
        match &self.shards {
            Shards::Locked(v) | Shards::Layered { top: v, .. } => {
                v[i].write().unwrap_or_else(|e| e.into_inner())
            }
            Shards::Plain(_) => {
                panic!("Hashcons: inserting through a shared reference needs concurrent mode")
            }
        }
    }

    /// The class of a node with hash `h` in the base layer of a layered
    /// hashcons (no lock: the base does not change while it is shared).
    #[inline]
    fn in_base(&self, h: u64, node: &L) -> Option<Id>
    where
        L: Eq,
    {
        match &self.shards {
            Shards::Layered { base, .. } => base.find(h, |(n, _)| n == node).map(|(_, id)| *id),
            _ => None,
        }
    }
}

/// The hash used for nodes everywhere in the engine.
#[inline(always)]
pub fn hash_node<L: Hash>(node: &L) -> u64 {
    FxBuildHasher.hash_one(node)
}

/// The shard a node with hash `h` lives in.
#[inline(always)]
pub fn shard_of(h: u64) -> usize {
    // High bits: hashbrown uses the low and top-7 bits inside a table.
    ((h >> 40) as usize) & (SHARDS - 1)
}

impl<L: Eq + Hash> Hashcons<L> {
    /// Switches between concurrent mode (inserts through `&self` work) and
    /// plain mode (lookups through `&self` take no lock). The entries stay.
    /// A plain hashcons made concurrent becomes *layered*: its table stays
    /// as it is, read without locks, and inserts go to locked shards over
    /// it (with room for about `extra` entries, spread over the shards, so
    /// they do not grow under their locks); made plain again, it moves
    /// those entries into its table. (Locking every lookup instead made
    /// each lookup write its shard's lock word, which two cores then
    /// passed back and forth: at 2 threads the asynchronous scheduler's
    /// lookups and inserts took about twice as long as at 1.)
    pub(crate) fn set_concurrent(&mut self, on: bool, extra: usize)
    where
        L: Sync,
    {
        let shards = std::mem::replace(&mut self.shards, Shards::Plain(HashTable::new()));
        self.shards = match (shards, on) {
            (Shards::Plain(base), true) => {
                let per = extra / SHARDS;
                Shards::Layered {
                    base,
                    top: (0..SHARDS)
                        .map(|_| RwLock::new(HashTable::with_capacity(per)))
                        .collect(),
                }
            }
            (Shards::Layered { mut base, top }, false) => {
                move_into(&mut base, top);
                Shards::Plain(base)
            }
            (Shards::Locked(v), true) => Shards::Locked(v),
            (Shards::Plain(t), false) => Shards::Plain(t),
            (Shards::Layered { base, mut top }, true) => {
                reserve_each(&mut top, extra / SHARDS);
                Shards::Layered { base, top }
            }
            (Shards::Locked(v), false) => {
                let mut t = HashTable::new();
                move_into(&mut t, v);
                Shards::Plain(t)
            }
        };
    }

    /// A layered hashcons drops what was inserted over its table, and is
    /// its table again (plain): true. Any other: false, nothing changes.
    pub(crate) fn discard_layer(&mut self) -> bool {
        match std::mem::replace(&mut self.shards, Shards::Plain(HashTable::new())) {
            Shards::Layered { base, .. } => {
                self.len = AtomicUsize::new(base.len());
                self.shards = Shards::Plain(base);
                true
            }
            other => {
                self.shards = other;
                false
            }
        }
    }

    /// The class of `node`, if present.
    #[inline]
    pub fn get(&self, node: &L) -> Option<Id> {
        self.get_hashed(hash_node(node), node)
    }

    /// [`Hashcons::get`] for a node whose [`hash_node`] is `h`.
    #[inline]
    pub(crate) fn get_hashed(&self, h: u64, node: &L) -> Option<Id> {
        match &self.shards {
            Shards::Plain(t) => t.find(h, |(n, _)| n == node).map(|(_, id)| *id),
            // Layered: the table first, without a lock (`in_base` is
            // `None` when sharded).
            Shards::Locked(v) | Shards::Layered { top: v, .. } => {
                self.in_base(h, node).or_else(|| {
                    let shard = v[shard_of(h)].read().unwrap_or_else(|e| e.into_inner());
                    shard.find(h, |(n, _)| n == node).map(|(_, id)| *id)
                })
            }
        }
    }

    /// Inserts `node -> id` unless the node is present; returns the id that
    /// was there. Atomic with respect to other callers.
    pub fn insert_or_get(&self, node: L, id: Id) -> Option<Id> {
        let h = hash_node(&node);
        if let Some(old) = self.in_base(h, &node) {
            return Some(old);
        }
        let mut shard = self.shard_write(shard_of(h));
        let r = insert_in(&mut shard, h, node, id);
        if r.is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// The class of `node`, inserting it with the id `make` returns when
    /// absent: `Some((id, true))` for a new entry, `Some((id, false))` for
    /// an existing one, `None` when absent and `make` gave no id. `make`
    /// runs under the shard's write lock, so two callers adding the same
    /// node never both make an id (the asynchronous scheduler relies on
    /// this: an id is made only for a node that is really new).
    pub fn get_or_insert_with(
        &self,
        node: L,
        make: impl FnOnce(&L) -> Option<Id>,
    ) -> Option<(Id, bool)> {
        let h = hash_node(&node);
        if let Some(old) = self.in_base(h, &node) {
            return Some((old, false));
        }
        let mut shard = self.shard_write(shard_of(h));
        match shard.entry(h, |(n, _)| *n == node, |(n, _)| hash_node(n)) {
            hashbrown::hash_table::Entry::Occupied(e) => Some((e.get().1, false)),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let id = make(&node)?;
                e.insert((node, id));
                self.len.fetch_add(1, Ordering::Relaxed);
                Some((id, true))
            }
        }
    }

    /// The class of `node` without locking.
    #[inline]
    pub fn get_mut(&mut self, node: &L) -> Option<Id> {
        self.get_hashed_mut(hash_node(node), node)
    }

    /// [`Hashcons::get_mut`] for a node whose [`hash_node`] is `h`.
    #[inline]
    pub(crate) fn get_hashed_mut(&mut self, h: u64, node: &L) -> Option<Id> {
        if let Some(id) = self.in_base(h, node) {
            return Some(id);
        }
        let shard = self.shards.get_mut(shard_of(h));
        shard.find(h, |(n, _)| n == node).map(|(_, id)| *id)
    }

    /// Inserts `node -> id` for a node absent from the hashcons whose
    /// [`hash_node`] is `h`: no hashing, no locking, no equality checks.
    #[inline]
    pub(crate) fn insert_new_hashed_mut(&mut self, h: u64, node: L, id: Id) {
        debug_assert!(self.in_base(h, &node).is_none(), "absent");
        let shard = self.shards.get_mut(shard_of(h));
        debug_assert!(shard.find(h, |(n, _)| *n == node).is_none(), "absent");
        shard.insert_unique(h, (node, id), |(n, _)| hash_node(n));
        sync::add_mut(&mut self.len, 1);
    }

    /// [`Hashcons::insert_or_get`] without locking.
    #[inline]
    pub fn insert_mut(&mut self, node: L, id: Id) -> Option<Id> {
        let h = hash_node(&node);
        if let Some(old) = self.in_base(h, &node) {
            return Some(old);
        }
        let shard = self.shards.get_mut(shard_of(h));
        let r = insert_in(shard, h, node, id);
        if r.is_none() {
            sync::add_mut(&mut self.len, 1);
        }
        r
    }

    /// Inserts `nodes[k] -> ids[k]` for every `k`, through `&mut self`:
    /// the nodes must be distinct and absent. For building a hashcons at
    /// once: the nodes are hashed ahead (in parallel unless the caller is
    /// marked sequential) and inserted without equality checks. (Inserting
    /// in the order of the slots they hash to, so the table is written
    /// front to back, measured no faster: the sort costs what it saves.)
    pub(crate) fn insert_new_mut(&mut self, nodes: &[&L], ids: &[Id])
    where
        L: Clone + Sync,
    {
        debug_assert_eq!(nodes.len(), ids.len());
        let hashes: Vec<u64> = crate::par::par_map(nodes, |n| hash_node(*n));
        self.insert_new_hashed_all(
            nodes
                .iter()
                .zip(hashes)
                .zip(ids)
                .map(|((n, h), &id)| (*n, h, id)),
        );
    }

    /// Inserts each `(node, hash, id)`, as [`Hashcons::insert_new_hashed_mut`]
    /// does, after making room for all of them at once.
    pub(crate) fn insert_new_hashed_all<'a>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'a L, u64, Id)>,
    ) where
        L: Clone + 'a,
    {
        self.reserve_mut(entries.len());
        for (n, h, id) in entries {
            self.insert_new_hashed_mut(h, n.clone(), id);
        }
    }

    /// Makes room for `n` more entries without locking (so that many
    /// inserts do not grow the tables step by step).
    pub fn reserve_mut(&mut self, n: usize) {
        match &mut self.shards {
            Shards::Plain(t) => t.reserve(n, |(n, _)| hash_node(n)),
            Shards::Locked(v) | Shards::Layered { top: v, .. } => reserve_each(v, n / SHARDS + 1),
        }
    }

    /// Removes `node`, returning its class.
    pub fn remove_mut(&mut self, node: &L) -> Option<Id> {
        let h = hash_node(node);
        if let Some(base) = self.shards.base_mut() {
            if let Ok(e) = base.find_entry(h, |(n, _)| n == node) {
                sync::add_mut(&mut self.len, -1);
                return Some(e.remove().0 .1);
            }
        }
        let shard = self.shards.get_mut(shard_of(h));
        match shard.find_entry(h, |(n, _)| n == node) {
            Ok(e) => {
                sync::add_mut(&mut self.len, -1);
                Some(e.remove().0 .1)
            }
            Err(_) => None,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visits every entry (in shard order, then table order).
    pub fn for_each(&self, mut f: impl FnMut(&L, Id)) {
        match &self.shards {
            Shards::Plain(t) => {
                for (n, id) in t.iter() {
                    f(n, *id)
                }
            }
            Shards::Locked(v) => {
                for s in v.iter() {
                    for (n, id) in s.read().unwrap_or_else(|e| e.into_inner()).iter() {
                        f(n, *id)
                    }
                }
            }
            Shards::Layered { base, top } => {
                for (n, id) in base.iter() {
                    f(n, *id)
                }
                for s in top.iter() {
                    for (n, id) in s.read().unwrap_or_else(|e| e.into_inner()).iter() {
                        f(n, *id)
                    }
                }
            }
        }
    }
}

/// Moves the entries of locked `shards` into `table` (the keys are
/// distinct from each other and from the table's).
fn move_into<L: Hash>(table: &mut Shard<L>, shards: Box<[RwLock<Shard<L>>]>) {
    let shards: Vec<Shard<L>> = shards
        .into_vec()
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    table.reserve(shards.iter().map(|s| s.len()).sum(), |(n, _)| hash_node(n));
    for shard in shards {
        for (n, id) in shard {
            table.insert_unique(hash_node(&n), (n, id), |(n, _)| hash_node(n));
        }
    }
}

/// Makes room for `n` more entries in each of `shards`.
fn reserve_each<L: Hash>(shards: &mut [RwLock<Shard<L>>], n: usize) {
    for s in shards {
        s.get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .reserve(n, |(n, _)| hash_node(n));
    }
}

/// Inserts into one shard with a precomputed hash.
#[inline]
pub fn insert_in<L: Eq + Hash>(shard: &mut Shard<L>, h: u64, node: L, id: Id) -> Option<Id> {
    match shard.entry(h, |(n, _)| *n == node, |(n, _)| hash_node(n)) {
        hashbrown::hash_table::Entry::Occupied(e) => Some(e.get().1),
        hashbrown::hash_table::Entry::Vacant(e) => {
            e.insert((node, id));
            None
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::SymbolLang;

    #[test]
    fn get_or_insert_with_makes_one_id_per_node() {
        for layered in [false, true] {
            get_or_insert_with_makes_one_id_per_node_in(layered);
        }
    }

    /// The `i`th of the tests' nodes: the leaf `n{i}`.
    fn node(i: u32) -> SymbolLang {
        SymbolLang::leaf(format!("n{i}").as_str())
    }

    /// A hashcons in concurrent mode: sharded (`Hashcons::default`), or
    /// layered over a plain table holding `base` (nodes `n0`, `n1`, ...
    /// with ids 10,000 and up).
    fn concurrent(layered: bool, base: u32) -> Hashcons<SymbolLang> {
        if !layered {
            assert_eq!(base, 0);
            return Hashcons::default();
        }
        let mut h = Hashcons::plain();
        for i in 0..base {
            let n = node(i);
            h.insert_mut(n, Id::from(10_000 + i));
        }
        h.set_concurrent(true, 64);
        assert!(matches!(h.shards, Shards::Layered { .. }));
        h
    }

    fn get_or_insert_with_makes_one_id_per_node_in(layered: bool) {
        let base = if layered { 100 } else { 0 };
        let h = concurrent(layered, base);
        let made = AtomicUsize::new(0);
        let got: Vec<Vec<Id>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (h, made) = (&h, &made);
                    s.spawn(move || {
                        (0..300u32)
                            .map(|i| {
                                let n = node(i);
                                let r = h.get_or_insert_with(n, |_| {
                                    Some(Id::from(made.fetch_add(1, Ordering::Relaxed)))
                                });
                                r.unwrap().0
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(
            made.load(Ordering::Relaxed),
            300 - base as usize,
            "one id per distinct node, none for the base's"
        );
        assert_eq!(h.len(), 300);
        for g in &got[1..] {
            assert_eq!(g, &got[0]);
        }
        for (i, &id) in got[0].iter().enumerate().take(base as usize) {
            assert_eq!(id, Id::from(10_000 + i), "the base's id");
        }
        let full = h.get_or_insert_with(SymbolLang::leaf("fresh"), |_| None);
        assert_eq!(full, None);
        assert_eq!(h.len(), 300);
    }

    #[test]
    fn modes_keep_their_entries() {
        let mut h: Hashcons<SymbolLang> = Hashcons::plain();
        for i in 0..100u32 {
            let n = node(i);
            assert_eq!(h.insert_mut(n, Id::from(i)), None);
        }
        let x = SymbolLang::leaf("n7");
        assert_eq!(h.get(&x), Some(Id::from(7u32)));
        h.set_concurrent(true, 0);
        assert_eq!(h.get(&x), Some(Id::from(7u32)));
        let y = SymbolLang::leaf("fresh");
        assert_eq!(h.insert_or_get(y.clone(), Id::from(500u32)), None);
        h.set_concurrent(false, 0);
        assert_eq!(h.get(&y), Some(Id::from(500u32)));
        assert_eq!(h.remove_mut(&x), Some(Id::from(7u32)));
        assert_size(&h, 100);
    }

    /// `h` holds `n` entries, by its count and by visiting them.
    fn assert_size(h: &Hashcons<SymbolLang>, n: usize) {
        assert_eq!(h.len(), n);
        let mut seen = 0;
        h.for_each(|_, _| seen += 1);
        assert_eq!(seen, n);
    }

    #[test]
    fn insert_new_mut_is_a_sequence_of_inserts() {
        let nodes: Vec<SymbolLang> = (0..5000u32)
            .map(|i| SymbolLang::new("f", vec![Id::from(i), Id::from(i / 2)]))
            .collect();
        let refs: Vec<&SymbolLang> = nodes.iter().collect();
        let ids: Vec<Id> = (0..5000u32).map(|i| Id::from(i * 3)).collect();
        // On a two-thread pool (hashes computed there) and on this thread.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut a: Hashcons<SymbolLang> = Hashcons::plain();
        pool.install(|| a.insert_new_mut(&refs, &ids));
        let mut b: Hashcons<SymbolLang> = Hashcons::plain();
        crate::par::sequentially(|| b.insert_new_mut(&refs, &ids));
        for h in [&a, &b] {
            assert_eq!(h.len(), 5000);
            for (n, &id) in nodes.iter().zip(&ids) {
                assert_eq!(h.get(n), Some(id));
            }
            assert_eq!(h.get(&SymbolLang::leaf("g")), None);
        }
    }

    #[test]
    #[should_panic(expected = "concurrent mode")]
    fn plain_mode_refuses_shared_inserts() {
        let h: Hashcons<SymbolLang> = Hashcons::plain();
        h.insert_or_get(SymbolLang::leaf("x"), Id::from(0u32));
    }

    #[test]
    fn concurrent_insert_or_get_agrees_on_one_winner() {
        for layered in [false, true] {
            let base = if layered { 200 } else { 0 };
            let mut h = concurrent(layered, base);
            insert_or_get_agrees_on_one_winner(&h);
            for i in 0..base {
                let n = node(i);
                assert_eq!(h.get(&n), Some(Id::from(10_000 + i)), "the base's id");
            }
            // Through `&mut`, both layers are read.
            for i in [0u32, 199, 200, 499] {
                let n = node(i);
                assert_eq!(h.get_mut(&n), h.get(&n));
                assert!(h.get(&n).is_some());
            }
            assert_size(&h, 500);
        }
    }

    /// Through `&mut`, a layered hashcons stays layered: lookups, inserts
    /// and removals see both layers, and a node is in one layer only.
    #[test]
    fn layered_mode_through_mut() {
        let mut h = concurrent(true, 4);
        let (n1, y) = (SymbolLang::leaf("n1"), SymbolLang::leaf("y"));
        assert_eq!(
            h.insert_mut(n1.clone(), Id::from(3u32)),
            Some(Id::from(10_001u32))
        );
        assert_eq!(h.insert_mut(y.clone(), Id::from(3u32)), None);
        assert_eq!(
            h.insert_or_get(y.clone(), Id::from(4u32)),
            Some(Id::from(3u32))
        );
        assert_eq!(
            (h.get_mut(&n1), h.get_mut(&y), h.len()),
            (Some(Id::from(10_001u32)), Some(Id::from(3u32)), 5)
        );
        assert!(matches!(h.shards, Shards::Layered { .. }));
        // Removed from the base, a node can be inserted again (on top).
        assert_eq!(h.remove_mut(&n1), Some(Id::from(10_001u32)));
        assert_eq!((h.get(&n1), h.len()), (None, 4));
        assert_eq!(h.insert_or_get(n1.clone(), Id::from(5u32)), None);
        assert_eq!(h.remove_mut(&y), Some(Id::from(3u32)));
        assert_eq!(
            (h.get(&n1), h.get(&y), h.len()),
            (Some(Id::from(5u32)), None, 4)
        );
        h.reserve_mut(100);
        h.set_concurrent(false, 0);
        assert!(matches!(h.shards, Shards::Plain(_)));
        assert_eq!(
            (h.get(&n1), h.get(&y), h.len()),
            (Some(Id::from(5u32)), None, 4)
        );
    }

    fn insert_or_get_agrees_on_one_winner(h: &Hashcons<SymbolLang>) {
        let winners: Vec<Vec<Id>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8u32)
                .map(|t| {
                    let h = &h;
                    s.spawn(move || {
                        (0..500u32)
                            .map(|i| {
                                let n = node(i);
                                let mine = Id::from(t * 1000 + i);
                                h.insert_or_get(n, mine).unwrap_or(mine)
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(h.len(), 500);
        for w in &winners[1..] {
            assert_eq!(w, &winners[0], "every thread sees the same class per node");
        }
    }

    /// A layered hashcons: lookups see both layers, inserts of a base
    /// node return the base's id and add nothing, the layers settle into
    /// one table.
    #[test]
    fn layered_mode_keeps_one_entry_per_node() {
        let mut h = concurrent(true, 10);
        let n3 = SymbolLang::leaf("n3");
        assert_eq!(
            h.insert_or_get(n3.clone(), Id::from(1u32)),
            Some(Id::from(10_003u32))
        );
        assert_eq!(
            h.get_or_insert_with(n3.clone(), |_| panic!("no id for a base node")),
            Some((Id::from(10_003u32), false))
        );
        let y = SymbolLang::leaf("y");
        assert_eq!(h.insert_or_get(y.clone(), Id::from(7u32)), None);
        assert_eq!(
            h.insert_or_get(y.clone(), Id::from(8u32)),
            Some(Id::from(7u32))
        );
        assert_eq!(
            (h.get(&y), h.get(&n3), h.len()),
            (Some(Id::from(7u32)), Some(Id::from(10_003u32)), 11)
        );
        assert_size(&h, 11);
        h.set_concurrent(false, 0);
        assert!(matches!(h.shards, Shards::Plain(_)));
        assert_eq!(
            (h.get(&y), h.get(&n3), h.len()),
            (Some(Id::from(7u32)), Some(Id::from(10_003u32)), 11)
        );
        // Made concurrent again, the table becomes the new base.
        h.set_concurrent(true, 0);
        assert_eq!(
            h.insert_or_get(y.clone(), Id::from(9u32)),
            Some(Id::from(7u32))
        );
        let z = SymbolLang::leaf("z");
        assert_eq!(h.insert_or_get(z.clone(), Id::from(9u32)), None);
        assert_eq!(h.len(), 12);
        // Discarded, the layer's inserts are gone and the table is plain.
        assert!(h.discard_layer());
        assert!(matches!(h.shards, Shards::Plain(_)));
        assert_eq!(
            (h.get(&z), h.get(&y), h.len()),
            (None, Some(Id::from(7u32)), 11)
        );
        assert!(!h.discard_layer(), "a plain hashcons has no layer");
        assert_eq!(h.len(), 11);
    }
}
