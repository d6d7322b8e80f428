//! Candidate roots for incremental matching: the classes near a change.
//!
//! After its first search, a rule only needs to search the classes within
//! its pattern's depth (in parent steps) of a class that changed since it
//! last ran: any new match touches a changed class. This module finds
//! those classes.
//!
//! # The change log
//! Before each iteration the runner drains the e-graph's record of changed
//! ids into a [`ChangeLog`]: one list per iteration, and for every id a
//! *stamp*, the last list that holds it. The ids changed since iteration
//! `s` are then available two ways:
//! - by *walking* the lists from `s` on (each id once per list, repeats
//!   across lists): cheap when few ids changed, and the work is the
//!   number of entries;
//! - by *scanning* the stamps of all ids for those at or past `s`: every
//!   id once, read in id order (a sequential pass, which also finds each
//!   id's class in order), shared between threads by ranges of ids.
//!
//! [`Neighborhood::compute`] walks when the lists since `s` hold fewer
//! than an eighth as many entries as there are ids, and scans otherwise.
//! On egg's largest lambda benchmark the lists a neighbourhood starts from
//! hold 640,000 entries over a run (8,300 per search) for about 160,000
//! ids: walking them claimed a bit per entry on the calling thread, and
//! was a fifth of all planning.
//!
//! Both give the same classes: the changed ids' classes are exactly the
//! changed ids that are still canonical, because whenever a recorded id
//! stops being canonical (a merge), the class it joins is recorded in the
//! same iteration's list. So a scan need not look anything up to
//! deduplicate, and knows before marking anything whether the changes
//! already reach most classes (then every rule is searched in full).
//!
//! # The search
//! From those classes, a breadth-first search up the parent lists, each
//! level in parallel, marks classes in a bitset over ids with their
//! distance; the bitset read back in id order gives the neighbourhood
//! sorted, whatever order threads marked it in. Root lists per (depth,
//! root operator) are cut from it on demand.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::par::par_map;
use crate::{Analysis, EGraph, Id, Language};

/// Neighbourhood levels with fewer classes than this run on the calling
/// thread. A level's work is its classes' parent lists, which in egg's
/// lambda benchmarks hold 10 to 100 parents per class (up to 17,000 for
/// one class), so a few hundred classes are worth sharing; levels are cut
/// into chunks of 32 to 256 classes, about eight per thread.
const PAR_MIN_FRONTIER: usize = 256;

/// The change log scans the stamps instead of walking the lists once the
/// lists hold at least one entry per this many ids (see the module docs).
const SCAN_IDS_PER_ENTRY: usize = 8;

/// Ids per piece of a parallel scan of the stamps.
const SCAN_PIECE: usize = 8192;

/// The ids recorded as changed before each iteration (see the module
/// docs).
pub(crate) struct ChangeLog {
    /// `lists[i]`: the ids drained before iteration `i`, each once.
    lists: Vec<Vec<Id>>,
    /// Per id, one more than the index of the last list that holds it (0:
    /// none); ids past the end are in none.
    stamp: Vec<u32>,
    /// `ends[i]`: the entries of `lists[..=i]`.
    ends: Vec<usize>,
    /// [`SCAN_IDS_PER_ENTRY`], or another ratio in tests (0: always walk;
    /// `usize::MAX`: always scan).
    scan_ratio: usize,
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog {
            lists: vec![],
            stamp: vec![],
            ends: vec![],
            scan_ratio: SCAN_IDS_PER_ENTRY,
        }
    }
}

impl ChangeLog {
    /// Appends the next iteration's list (distinct ids).
    pub(crate) fn push(&mut self, ids: Vec<Id>) {
        let mark = self.lists.len() as u32 + 1;
        if let Some(max) = ids.iter().map(|id| id.index()).max() {
            if self.stamp.len() <= max {
                self.stamp.resize(max + 1 + max / 2, 0);
            }
        }
        for id in &ids {
            self.stamp[id.index()] = mark;
        }
        self.ends
            .push(self.ends.last().copied().unwrap_or(0) + ids.len());
        self.lists.push(ids);
    }

    /// Entries in the lists from `since` on.
    fn entries_since(&self, since: usize) -> usize {
        let before = since.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.ends.last().copied().unwrap_or(0) - before
    }
}

/// Reused buffers for [`Neighborhood::compute`]: a bitset over ids (all
/// zero between uses) and a distance per id.
#[derive(Default)]
pub(crate) struct Scratch {
    seen: Vec<AtomicU64>,
    dist: Vec<AtomicU8>,
}

impl Scratch {
    fn grow(&mut self, n_ids: usize) {
        let words = n_ids / 64 + 1;
        if self.seen.len() < words {
            self.seen.resize_with(words, || AtomicU64::new(0));
        }
        if self.dist.len() < words * 64 {
            self.dist.resize_with(words * 64, || AtomicU8::new(0));
        }
    }
}

/// A root list for (depth, root operator bit); `None` means "search in full".
type RootList = (usize, u64, Option<Arc<[Id]>>);

/// Classes near changed classes, by distance in parent steps.
pub(crate) struct Neighborhood {
    /// (class, distance), each class once, at its least distance, sorted
    /// by class.
    pub(crate) near: Vec<(Id, u8)>,
    /// Raw ids recorded as changed that are no longer canonical, each
    /// once, in no particular order.
    pub(crate) dead: Vec<Id>,
    /// Root lists already made, by depth and root operator bit.
    by_depth: Vec<RootList>,
    /// True when the search reached almost every class and stopped: every
    /// rule is then searched in full (see [`NEAR_ALL`]).
    pub(crate) everything: bool,
}

/// Claims a piece of a neighbourhood level makes between two additions to
/// the level's shared count (see [`Neighborhood::compute`]): one atomic
/// add per this many, not per claim.
const TALLY_EVERY: usize = 64;

/// A neighbourhood search stops once it has reached this share (in
/// per mille) of all classes: the candidates would be nearly the whole
/// e-graph, which a full search through the operator index covers for
/// less than finishing the search and filtering its result per rule.
const NEAR_ALL: usize = 900;

impl Neighborhood {
    /// The neighbourhood that says "search every rule in full".
    pub(crate) fn everything() -> Self {
        Neighborhood {
            near: vec![],
            dead: vec![],
            by_depth: vec![],
            everything: true,
        }
    }

    /// The classes within `max_depth` parent steps of a class changed
    /// since iteration `since` of `log` (see the module docs), using the
    /// reusable `scratch` buffers; at `max_depth`, only parents with an
    /// operator in `last_ops` (when given).
    pub(crate) fn compute<L: Language, N: Analysis<L>>(
        egraph: &EGraph<L, N>,
        log: &ChangeLog,
        since: usize,
        max_depth: usize,
        last_ops: Option<&[L::Discriminant]>,
        scratch: &mut Scratch,
    ) -> Self {
        let n_ids = egraph.number_of_ids();
        scratch.grow(n_ids);
        let seen: &[AtomicU64] = &scratch.seen;
        let dist: &[AtomicU8] = &scratch.dist;
        // Test-and-set of a class's bit; the one caller that sets it also
        // records its distance.
        let claim = |c: Id, d: u8| {
            let bit = 1u64 << (c.index() % 64);
            let word = &seen[c.index() / 64];
            // A plain load first: most visits find the bit set, and a
            // read-modify-write on a shared word costs far more.
            if word.load(Ordering::Relaxed) & bit != 0 {
                return false;
            }
            let fresh = word.fetch_or(bit, Ordering::Relaxed) & bit == 0;
            if fresh {
                dist[c.index()].store(d, Ordering::Relaxed);
            }
            fresh
        };
        let uf = egraph.union_find();
        let mut dead = vec![];
        let mut frontier: Vec<Id> = vec![];
        let enough = egraph.number_of_classes() * NEAR_ALL / 1000;
        let mut reached = 0;
        // Clears the bits set so far (the scratch is all zero between
        // uses) and says "search everything". The words were mostly set by
        // other threads, so each cache line cleared is a transfer from
        // another core: a large bitset is cleared by all threads.
        let everything = |seen: &[AtomicU64]| {
            let words = &seen[..n_ids / 64 + 1];
            let per = (words.len() / (2 * crate::par::threads())).max(256);
            par_map(&words.chunks(per).collect::<Vec<_>>(), |part| {
                for word in *part {
                    word.store(0, Ordering::Relaxed);
                }
            });
            Neighborhood::everything()
        };
        if log.entries_since(since).saturating_mul(log.scan_ratio) < n_ids {
            for list in &log.lists[since.min(log.lists.len())..] {
                for &raw in list {
                    let c = uf.find(raw);
                    // A dead id's bit dedups it (lists repeat ids); the
                    // sweep below skips such bits, as only canonical ids
                    // are near.
                    if c != raw && claim(raw, 0) {
                        dead.push(raw);
                    }
                    if claim(c, 0) {
                        frontier.push(c);
                        if frontier.len() >= enough {
                            return everything(seen);
                        }
                    }
                }
            }
        } else {
            // Ids stamped `since` or later, in id order, by pieces: the
            // canonical ones are the changed classes (each once), the
            // others dead. Nothing is marked until their number is known.
            let mark = since as u32 + 1;
            let stamps = &log.stamp[..log.stamp.len().min(n_ids)];
            let pieces: Vec<(usize, &[u32])> = stamps
                .chunks(SCAN_PIECE)
                .enumerate()
                .map(|(k, s)| (k * SCAN_PIECE, s))
                .collect();
            let found: Vec<(Vec<Id>, Vec<Id>)> = par_map(&pieces, |&(first, stamps)| {
                let (mut live, mut gone) = (vec![], vec![]);
                for (k, _) in stamps.iter().enumerate().filter(|(_, &s)| s >= mark) {
                    let raw = Id::from(first + k);
                    if uf.find_readonly(raw) == raw {
                        live.push(raw);
                    } else {
                        gone.push(raw);
                    }
                }
                (live, gone)
            });
            if found.iter().map(|(live, _)| live.len()).sum::<usize>() >= enough {
                return Neighborhood::everything();
            }
            for (live, gone) in found {
                frontier.extend(live);
                dead.extend(gone);
            }
            let chunk = (frontier.len() / (8 * crate::par::threads())).max(PAR_MIN_FRONTIER);
            par_map(&frontier.chunks(chunk).collect::<Vec<_>>(), |part| {
                for &c in *part {
                    claim(c, 0);
                }
            });
        }
        reached += frontier.len();
        for d in 1..=max_depth.min(250) as u8 {
            // At the last level only roots matter, and only rules of the
            // greatest depth reach it: skip parents with other operators.
            let filter = last_ops.filter(|_| d as usize == max_depth);
            // Parents' classes of this level, claimed in parallel; a class
            // gets the first level that reaches it, whichever thread wins.
            let chunk = if frontier.len() < PAR_MIN_FRONTIER {
                frontier.len().max(1)
            } else {
                (frontier.len() / (8 * crate::par::threads())).clamp(32, 256)
            };
            // Before the last level, reaching `enough` classes means
            // "everything", so the level stops as soon as its claims get
            // there: they only add up, so the answer is the one the whole
            // level would give. (Such levels are the costly ones: on egg's
            // lambda_function_repeat, 33 of 77 searches reached almost
            // every class, and took 8.2 of their 11.5 ms, half of it in
            // the level that got there.)
            let early = (d as usize) < max_depth;
            let claimed = AtomicUsize::new(0);
            let full = AtomicBool::new(false);
            // Adds `n` claims to the level's count; true once it is enough.
            let tally = |n: usize| {
                let total = reached + claimed.fetch_add(n, Ordering::Relaxed) + n;
                if total >= enough {
                    full.store(true, Ordering::Relaxed);
                }
                total >= enough
            };
            let level: Vec<Vec<Id>> =
                par_map(&frontier.chunks(chunk).collect::<Vec<_>>(), |chunk| {
                    let mut out = vec![];
                    let mut untallied = 0;
                    for &c in *chunk {
                        if early && full.load(Ordering::Relaxed) {
                            return out;
                        }
                        let Some(class) = egraph.class(c) else {
                            continue;
                        };
                        for &p in class.parents() {
                            if filter.is_some_and(|ops| {
                                !ops.contains(&egraph.id_to_node(p).discriminant())
                            }) {
                                continue;
                            }
                            let pc = uf.find_readonly(p);
                            if claim(pc, d) {
                                out.push(pc);
                                untallied += 1;
                            }
                        }
                        if early
                            && untallied >= TALLY_EVERY
                            && tally(std::mem::take(&mut untallied))
                        {
                            return out;
                        }
                    }
                    if early && untallied > 0 {
                        tally(untallied);
                    }
                    out
                });
            if full.load(Ordering::Relaxed) {
                return everything(seen);
            }
            frontier = level.into_iter().flatten().collect();
            reached += frontier.len();
            if reached >= enough && early {
                return everything(seen);
            }
            if frontier.is_empty() {
                break;
            }
        }
        // The bitset in id order gives the classes sorted, whatever order
        // the threads claimed them in; clear it on the way. A large
        // neighbourhood is swept in parallel, by ranges of words
        // (finding each class's root is a cache miss or two).
        let sweep = |first: usize, words: &[AtomicU64]| {
            let mut near = vec![];
            for (w, word) in words.iter().enumerate() {
                let mut bits = word.swap(0, Ordering::Relaxed);
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let i = (first + w) * 64 + b;
                    // Dead ids' bits (set to deduplicate them) are cleared
                    // here too, but are not near.
                    if uf.find_readonly(Id::from(i)).index() == i {
                        near.push((Id::from(i), dist[i].load(Ordering::Relaxed)));
                    }
                }
            }
            near
        };
        let near = if reached < PAR_MIN_FRONTIER || crate::par::is_sequential() {
            sweep(0, seen)
        } else {
            let per = (seen.len() / (8 * crate::par::threads())).max(16);
            let ranges: Vec<(usize, &[AtomicU64])> = seen
                .chunks(per)
                .enumerate()
                .map(|(k, words)| (k * per, words))
                .collect();
            par_map(&ranges, |&(first, words)| sweep(first, words)).concat()
        };
        Neighborhood {
            near,
            dead,
            by_depth: vec![],
            everything: false,
        }
    }
    /// Sorted roots within `depth`, or `None` when that is most classes
    /// (then a full search through the operator index is cheaper).
    pub(crate) fn roots<L: Language, N: Analysis<L>>(
        &mut self,
        egraph: &EGraph<L, N>,
        depth: usize,
        root: Option<&L>,
        n_classes: usize,
    ) -> Option<Arc<[Id]>> {
        if self.everything {
            return None;
        }
        // Only classes whose operator summary has the root's operator can
        // match (a variable root matches any class).
        let bit = root.map_or(u64::MAX, crate::egraph::op_bit);
        if let Some((_, _, r)) = self
            .by_depth
            .iter()
            .find(|(d, b, _)| *d == depth && *b == bit)
        {
            return r.clone();
        }
        let v: Vec<Id> = self
            .near
            .iter()
            .filter(|(c, d)| {
                (*d as usize) <= depth && egraph.class(*c).is_some_and(|cl| cl.ops & bit != 0)
            })
            .map(|(c, _)| *c)
            .collect();
        let r = (v.len() * 2 <= n_classes).then(|| Arc::from(v));
        self.by_depth.push((depth, bit, r.clone()));
        r
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::SymbolLang;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The neighbourhood by a plain breadth-first search over a hash map:
    /// the changed ids' classes at distance 0, then their parents' classes.
    fn reference(eg: &EGraph<SymbolLang, ()>, ids: &[Id], depth: u8) -> Vec<(Id, u8)> {
        let mut dist: HashMap<Id, u8> = HashMap::new();
        let mut frontier: Vec<Id> = vec![];
        for &raw in ids {
            let c = eg.find(raw);
            if dist.insert(c, 0).is_none() {
                frontier.push(c);
            }
        }
        for d in 1..=depth {
            let mut next = vec![];
            for c in frontier {
                for &p in eg[c].parents() {
                    let pc = eg.find(p);
                    if let std::collections::hash_map::Entry::Vacant(e) = dist.entry(pc) {
                        e.insert(d);
                        next.push(pc);
                    }
                }
            }
            frontier = next;
        }
        let mut near: Vec<(Id, u8)> = dist.into_iter().collect();
        near.sort_unstable();
        near
    }

    /// 6,000 leaves `x`, each under a `(g x)` and an `(f (g x) x)`: 18,000
    /// ids. The first list holds them all; the second, the leaves `touch`
    /// picks (a node list edited through `egraph[id]`) and what merging
    /// the first 600 leaves in pairs changes (300 leaves, and by
    /// congruence their `g` and `f`, are merged away).
    fn two_lists(touch: impl Fn(usize) -> bool) -> (EGraph<SymbolLang, ()>, ChangeLog) {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let mut leaves = vec![];
        for k in 0..6000 {
            let x = eg.add(SymbolLang::leaf(format!("x{k}")));
            let g = eg.add(SymbolLang::new("g", vec![x]));
            eg.add(SymbolLang::new("f", vec![g, x]));
            leaves.push(x);
        }
        let mut log = ChangeLog::default();
        log.push(eg.take_changes());
        for (k, &x) in leaves.iter().enumerate() {
            if touch(k) {
                let _ = &mut eg[x];
            }
        }
        for k in (0..600).step_by(2) {
            eg.union(leaves[k], leaves[k + 1]);
        }
        eg.rebuild();
        log.push(eg.take_changes());
        assert!(eg.number_of_ids() > 16_384);
        (eg, log)
    }

    /// Walking the lists and scanning the stamps, on one thread and on
    /// two, give the classes a plain breadth-first search gives, the same
    /// dead ids, and leave the bitset all zero for the next search; past
    /// most classes, all four say "everything".
    #[test]
    fn walk_and_scan_agree_with_a_plain_search() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        // Since list 1 (a third of the leaves touched: not most classes),
        // and since list 0 (every id: most classes).
        let (eg, mut log) = two_lists(|k| k % 3 == 0);
        for (since, everything) in [(1, false), (0, true)] {
            let ids: Vec<Id> = log.lists[since..].concat();
            let want = reference(&eg, &ids, 2);
            let mut got = vec![];
            for ratio in [0, usize::MAX] {
                log.scan_ratio = ratio;
                let log = &log;
                let compute = |scratch: &mut Scratch| {
                    let nb = Neighborhood::compute(&eg, log, since, 2, None, scratch);
                    assert!(scratch.seen.iter().all(|w| w.load(Ordering::Relaxed) == 0));
                    nb
                };
                got.push(crate::par::sequentially(
                    || compute(&mut Scratch::default()),
                ));
                got.push(pool.install(|| compute(&mut Scratch::default())));
            }
            for nb in &mut got {
                assert_eq!(nb.everything, everything, "since {since}");
                nb.dead.sort_unstable();
            }
            if !everything {
                assert_eq!(got[0].near, want, "since {since}");
                assert!(got[0].dead.len() >= 300, "the merged leaves are dead");
            }
            for nb in &got[1..] {
                assert_eq!(nb.near, got[0].near, "since {since}");
                assert_eq!(nb.dead, got[0].dead, "since {since}");
            }
        }
        // Every leaf touched: most classes at distance 2 since list 1.
        let (eg, mut log) = two_lists(|_| true);
        for ratio in [0, usize::MAX] {
            log.scan_ratio = ratio;
            for threads in [1, 2] {
                let mut scratch = Scratch::default();
                let nb = if threads == 1 {
                    crate::par::sequentially(|| {
                        Neighborhood::compute(&eg, &log, 1, 2, None, &mut scratch)
                    })
                } else {
                    pool.install(|| Neighborhood::compute(&eg, &log, 1, 2, None, &mut scratch))
                };
                assert!(nb.everything);
                assert!(scratch.seen.iter().all(|w| w.load(Ordering::Relaxed) == 0));
            }
        }
    }

    /// One step of a history (ids picked modulo the ids made so far).
    #[derive(Debug, Clone)]
    enum Step {
        Leaf(usize),
        Node(bool, usize, usize),
        Union(usize, usize),
        /// Edit a class through `egraph[id]` (which records it changed).
        Touch(usize),
        /// Rebuild and drain the changes into the log.
        Drain,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            2 => (0usize..30).prop_map(Step::Leaf),
            6 => (any::<bool>(), 0usize..1000, 0usize..1000).prop_map(|(f, a, b)| Step::Node(f, a, b)),
            4 => (0usize..1000, 0usize..1000).prop_map(|(a, b)| Step::Union(a, b)),
            1 => (0usize..1000).prop_map(Step::Touch),
            2 => Just(Step::Drain),
        ]
    }

    proptest! {
        /// On any history of adds, unions, touches and rebuilds drained
        /// into the log, walking and scanning give the same neighbourhood
        /// (the plain search's, when not "everything") from every list, at
        /// depths 0, 1 and 3, on one thread and on three.
        #[test]
        fn walk_and_scan_agree_on_any_history(steps in prop::collection::vec(step(), 1..120)) {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
            let mut ids: Vec<Id> = (0..4)
                .map(|k| eg.add(SymbolLang::leaf(format!("x{k}"))))
                .collect();
            let mut log = ChangeLog::default();
            for s in steps.iter().chain([&Step::Drain]) {
                let pick = |k: usize| ids[k % ids.len()];
                match *s {
                    Step::Leaf(k) => ids.push(eg.add(SymbolLang::leaf(format!("x{k}")))),
                    Step::Node(f, a, b) => {
                        let n = SymbolLang::new(if f { "f" } else { "g" }, vec![pick(a), pick(b)]);
                        ids.push(eg.add(n));
                    }
                    Step::Union(a, b) => {
                        eg.union(pick(a), pick(b));
                    }
                    Step::Touch(a) => {
                        let _ = &mut eg[pick(a)];
                    }
                    Step::Drain => {
                        eg.rebuild();
                        log.push(eg.take_changes());
                    }
                }
            }
            for since in 0..=log.lists.len() {
                let changed: Vec<Id> = log.lists[since..].concat();
                for depth in [0u8, 1, 3] {
                    let mut got = vec![];
                    for ratio in [0, usize::MAX] {
                        log.scan_ratio = ratio;
                        let (eg, log) = (&eg, &log);
                        let compute = || {
                            let mut scratch = Scratch::default();
                            Neighborhood::compute(eg, log, since, depth as usize, None, &mut scratch)
                        };
                        got.push(crate::par::sequentially(compute));
                        got.push(pool.install(compute));
                    }
                    for nb in &mut got {
                        nb.dead.sort_unstable();
                    }
                    for nb in &got[1..] {
                        prop_assert_eq!(nb.everything, got[0].everything);
                        prop_assert_eq!(&nb.near, &got[0].near);
                        prop_assert_eq!(&nb.dead, &got[0].dead);
                    }
                    if !got[0].everything {
                        prop_assert_eq!(&got[0].near, &reference(&eg, &changed, depth));
                    }
                    // "Everything" exactly when some level before the last
                    // reaches the share (levels only grow, so the one
                    // before the last says), however early a level stopped.
                    let enough = eg.number_of_classes() * NEAR_ALL / 1000;
                    if enough > 0 {
                        let before_last = reference(&eg, &changed, depth.saturating_sub(1));
                        prop_assert_eq!(got[0].everything, before_last.len() >= enough);
                    }
                }
            }
        }
    }

    /// The stamps say which list last held each id, and the entry counts
    /// which lists are walked.
    #[test]
    fn stamps_record_the_last_list() {
        let ids = |v: &[usize]| v.iter().map(|&i| Id::from(i)).collect::<Vec<_>>();
        let mut log = ChangeLog::default();
        log.push(ids(&[3, 1]));
        log.push(vec![]);
        log.push(ids(&[1, 7]));
        assert_eq!(&log.stamp[..8], &[0, 3, 0, 1, 0, 0, 0, 3]);
        assert_eq!(log.entries_since(0), 4);
        assert_eq!(log.entries_since(1), 2);
        assert_eq!(log.entries_since(3), 0);
    }
}
