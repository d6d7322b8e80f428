//! Dense e-class / e-node identifiers.

use std::fmt;

/// An identifier of an e-node and of the e-class it created.
///
/// Ids are dense `u32`s handed out in insertion order: every distinct node
/// ever added gets the next id, and that id also names the class the node
/// created (the class may later be merged into another; [`EGraph::find`]
/// gives its canonical id).
///
/// [`EGraph::find`]: crate::EGraph::find
///
/// ```
/// use saturn::Id;
/// let a = Id::from(3usize);
/// assert_eq!(usize::from(a), 3);
/// assert_eq!(a.to_string(), "3");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Id(pub(crate) u32);

/// The union of the ascending ids of `a` and `b`, ascending, each once.
pub(crate) fn merge_sorted(a: &[Id], b: impl Iterator<Item = Id>) -> Vec<Id> {
    let mut out = Vec::with_capacity(a.len());
    let mut a = a.iter().copied().peekable();
    for y in b {
        while let Some(x) = a.next_if(|&x| x < y) {
            out.push(x);
        }
        a.next_if_eq(&y);
        out.push(y);
    }
    out.extend(a);
    out
}

/// Sorts `ids` (all below `bound`) ascending and drops repeats. Long lists
/// go through a bitset over `0..bound`, linear in both, where a sort of a
/// few thousand ids (the rebuild's queues, which repeat ids many times)
/// cost a visible share of a large rebuild's sequential part.
pub(crate) fn sort_unique(ids: &mut Vec<Id>, bound: usize) {
    if ids.len() < SORT_UNIQUE_BITSET_MIN || ids.len() * 16 < bound / 64 {
        ids.sort_unstable();
        ids.dedup();
        return;
    }
    let mut bits = vec![0u64; bound / 64 + 1];
    for &x in ids.iter() {
        bits[x.index() / 64] |= 1 << (x.index() % 64);
    }
    ids.clear();
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            ids.push(Id::from(w * 64 + word.trailing_zeros() as usize));
            word &= word - 1;
        }
    }
}

/// [`sort_unique`] sorts lists shorter than this.
const SORT_UNIQUE_BITSET_MIN: usize = 256;

/// Sorts `pairs` by their first id (all below `bound`), keeping the order
/// of pairs with the same first id: the same result as a stable sort by
/// the first id. Long lists go through a least-significant-digit radix
/// sort, 11 bits a pass and as many passes as `bound` needs (2 up to 4
/// million ids), linear in the length; `spare` is its second buffer, kept
/// by the caller.
///
/// A commit's new nodes list themselves in their children's parent lists
/// with one `extend` per child, so their (child, parent) pairs are put in
/// child order first: a comparison sort of the 100,000-200,000 pairs of a
/// large commit on egg's `lambda_function_repeat` took 7 ms of a 130 ms
/// run on two threads.
pub(crate) fn sort_by_first(pairs: &mut Vec<(Id, Id)>, bound: usize, spare: &mut Vec<(Id, Id)>) {
    const BITS: u32 = 11;
    if pairs.len() < RADIX_MIN {
        pairs.sort_by_key(|p| p.0);
        return;
    }
    let width = usize::BITS - bound.saturating_sub(1).leading_zeros();
    let mut shift = 0;
    while shift < width.max(1) {
        let digit = |p: &(Id, Id)| (p.0.index() >> shift) & ((1 << BITS) - 1);
        let mut start = [0usize; 1 << BITS];
        for p in pairs.iter() {
            start[digit(p)] += 1;
        }
        let mut sum = 0;
        for s in start.iter_mut() {
            (*s, sum) = (sum, sum + *s);
        }
        spare.clear();
        spare.resize(pairs.len(), (Id(0), Id(0)));
        for &p in pairs.iter() {
            let d = digit(&p);
            spare[start[d]] = p;
            start[d] += 1;
        }
        std::mem::swap(pairs, spare);
        shift += BITS;
    }
}

/// [`sort_by_first`] sorts lists shorter than this by comparison.
const RADIX_MIN: usize = 1024;

/// A set of ids, as a bitset that grows to the largest id inserted.
#[derive(Default, Clone)]
pub(crate) struct IdSet {
    words: Vec<u64>,
    /// Whether an id was ever inserted (so `is_empty` reads no words).
    any: bool,
}

impl IdSet {
    /// Adds `id`.
    #[inline]
    pub(crate) fn insert(&mut self, id: Id) {
        let w = id.index() / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1 + w / 2, 0);
        }
        self.words[w] |= 1 << (id.index() % 64);
        self.any = true;
    }

    /// Whether `id` was added.
    #[inline(always)]
    pub(crate) fn contains(&self, id: Id) -> bool {
        self.words
            .get(id.index() / 64)
            .is_some_and(|w| w & (1 << (id.index() % 64)) != 0)
    }

    /// True when no id was added.
    pub(crate) fn is_empty(&self) -> bool {
        !self.any
    }
}

impl Id {
    /// The id as an index into dense tables.
    #[inline(always)]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<usize> for Id {
    #[inline(always)]
    fn from(n: usize) -> Id {
        debug_assert!(n <= u32::MAX as usize, "Id overflow");
        Id(n as u32)
    }
}

impl From<u32> for Id {
    #[inline(always)]
    fn from(n: u32) -> Id {
        Id(n)
    }
}

impl From<Id> for usize {
    #[inline(always)]
    fn from(id: Id) -> usize {
        id.0 as usize
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_id_set_holds_what_was_inserted() {
        let mut s = IdSet::default();
        assert!(s.is_empty());
        for i in [0usize, 63, 64, 1000, 70_000] {
            s.insert(Id::from(i));
        }
        for i in 0..80_000usize {
            assert_eq!(
                s.contains(Id::from(i)),
                [0, 63, 64, 1000, 70_000].contains(&i)
            );
        }
        assert!(!s.is_empty());
    }

    proptest! {
        /// Both ways (sort, bitset) give the ascending ids without repeats.
        #[test]
        fn sort_unique_sorts_and_drops_repeats(
            raw in prop::collection::vec(0usize..3000, 0..2000),
            sparse in any::<bool>(),
        ) {
            // A large bound makes long lists sparse enough to be sorted.
            let bound = if sparse { 10_000_000 } else { 3000 };
            let mut ids: Vec<Id> = raw.iter().map(|&i| Id::from(i)).collect();
            let mut want = ids.clone();
            want.sort_unstable();
            want.dedup();
            sort_unique(&mut ids, bound);
            prop_assert_eq!(ids, want);
        }

        /// The radix sort (long lists) and the comparison sort (short
        /// ones) both give a stable sort by the first id, for bounds of
        /// one to three passes.
        #[test]
        fn sort_by_first_is_a_stable_sort_by_the_first_id(
            raw in prop::collection::vec((0usize..1 << 26, 0u32..100), 0..3000),
            bits in prop::sample::select(vec![3u32, 11, 12, 22, 26]),
        ) {
            let bound = 1usize << bits;
            let mut pairs: Vec<(Id, Id)> =
                raw.iter().map(|&(a, b)| (Id::from(a % bound), Id(b))).collect();
            let mut want = pairs.clone();
            want.sort_by_key(|p| p.0);
            let mut spare = vec![];
            sort_by_first(&mut pairs, bound, &mut spare);
            prop_assert_eq!(pairs, want);
        }
    }
}
