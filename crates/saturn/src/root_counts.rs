//! Per-root match counts of one rule, for the backoff scheduler and
//! incremental search.
//!
//! The runner keeps, for each rule, how many matches its last search of
//! each root class found, and their total. Incremental search re-searches
//! only some roots: it takes their old counts out of the total and adds
//! the new ones, so the total stays exact without searching everything,
//! and backoff bans the rule on it as egg would on a full search.
//!
//! # Why pages and not one table by id
//!
//! A table indexed by id must span every id ever made, and ids outnumber
//! classes many times over: on egg's `lambda_function_repeat` the run ends
//! with 127,542 ids for 6,825 classes. Its twenty rules then held twenty
//! tables of half a megabyte each, regrown (copied, and their fresh pages
//! faulted in) as the ids grew, on the thread that runs between two
//! parallel phases. A hash map of the roots that matched avoided that but
//! made every lookup a hash: 5-10% slower on egg's small benchmarks, where
//! the table fits in cache. So the table is cut into pages of
//! [`PAGE`] ids, made when a root in them first gets a count: a lookup is
//! two loads, nothing is ever copied, and ids that never root a match (a
//! rule's operator is rare, and merged-away ids stop being roots) cost a
//! null pointer per page at most.

use crate::Id;

/// Ids per page (a power of two): 4 KiB of counts.
const PAGE: usize = 1024;

/// Matches per root class at the last search of that root (roots not
/// listed have none), and their total.
#[derive(Debug, Clone, Default)]
pub(crate) struct RootCounts {
    pages: Vec<Option<Box<[u32; PAGE]>>>,
    total: usize,
}

impl RootCounts {
    /// The sum of all roots' counts.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Forgets every count.
    pub(crate) fn clear(&mut self) {
        // Pages are kept and zeroed: the next search fills the same ones.
        for page in self.pages.iter_mut().flatten() {
            page.fill(0);
        }
        self.total = 0;
    }

    /// The count of `root` (0 if none).
    #[inline]
    pub(crate) fn get(&self, root: Id) -> u32 {
        let i = root.index();
        match self.pages.get(i / PAGE) {
            Some(Some(page)) => page[i % PAGE],
            _ => 0,
        }
    }

    /// Forgets the count of `root`, and takes it out of the total.
    #[inline]
    pub(crate) fn forget(&mut self, root: Id) {
        let i = root.index();
        if let Some(Some(page)) = self.pages.get_mut(i / PAGE) {
            self.total -= std::mem::take(&mut page[i % PAGE]) as usize;
        }
    }

    /// Adds `n` matches at `root` (saturating at `u32::MAX` per root; the
    /// total counts all `n`, as it is never compared beyond that).
    pub(crate) fn add(&mut self, root: Id, n: u32) {
        if n == 0 {
            return;
        }
        let i = root.index();
        if self.pages.len() <= i / PAGE {
            self.pages.resize(i / PAGE + 1, None);
        }
        let page = self.pages[i / PAGE].get_or_insert_with(|| Box::new([0; PAGE]));
        page[i % PAGE] = page[i % PAGE].saturating_add(n);
        self.total += n as usize;
    }

    /// The roots with a count that `keep` accepts, in id order.
    pub(crate) fn roots_where<'a>(
        &'a self,
        keep: impl Fn(Id) -> bool + 'a,
    ) -> impl Iterator<Item = Id> + 'a {
        self.pages
            .iter()
            .enumerate()
            .filter_map(|(p, page)| page.as_ref().map(|page| (p, page)))
            .flat_map(|(p, page)| {
                page.iter()
                    .enumerate()
                    .filter(|&(_, &c)| c > 0)
                    .map(move |(k, _)| Id::from(p * PAGE + k))
            })
            .filter(move |&root| keep(root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_follows_adds_and_forgets() {
        let mut c = RootCounts::default();
        c.add(Id::from(7usize), 3);
        c.add(Id::from(2usize), 4);
        c.add(Id::from(7usize), 1);
        c.add(Id::from(9usize), 0);
        assert_eq!(
            (c.total(), c.get(Id::from(7usize)), c.get(Id::from(9usize))),
            (8, 4, 0)
        );
        c.forget(Id::from(7usize));
        c.forget(Id::from(5usize));
        assert_eq!((c.total(), c.get(Id::from(7usize))), (4, 0));
        c.clear();
        assert_eq!((c.total(), c.get(Id::from(2usize))), (0, 0));
    }

    #[test]
    fn roots_come_in_id_order_without_zeros() {
        let mut c = RootCounts::default();
        // Across pages, the later ones made first.
        for r in [3 * PAGE + 1, 40, 3, PAGE, 17, 8, 25] {
            c.add(Id::from(r), 1);
        }
        c.add(Id::from(11usize), 0);
        c.forget(Id::from(8usize));
        let got: Vec<Id> = c.roots_where(|r| r != Id::from(25usize)).collect();
        assert_eq!(got, [3, 17, 40, PAGE, 3 * PAGE + 1].map(Id::from));
        assert_eq!(c.get(Id::from(2 * PAGE)), 0, "a page never made");
        c.clear();
        assert_eq!(c.roots_where(|_| true).count(), 0);
        c.add(Id::from(PAGE + 5), 2);
        let all: Vec<Id> = c.roots_where(|_| true).collect();
        assert_eq!((c.total(), all), (2, vec![Id::from(PAGE + 5)]));
    }
}
