//! The limits every strategy stops at: time, size in nodes, size in
//! bytes, and a cancel flag.
//!
//! One [`Limits`] value answers for the [`Runner`](crate::Runner) (between
//! iterations, between rules' commits and inside a commit), for a
//! [`Schedule`](crate::schedule::Schedule) between pass runs, and for the
//! workers of an `async` phase and the phase's end (`src/fixpoint.rs`), so
//! all of them name the same limit when several are reached at once: time
//! first, then nodes, then bytes, then the cancel flag. The iteration
//! limit is not here: what counts as an iteration (a round, a pass run's
//! rounds, a phase) belongs to each strategy.
//!
//! Sizes are measured on the e-graph as it is, by counters that cost a
//! load each: nodes are hashcons entries ([`EGraph::total_size`]), bytes
//! the estimate [`EGraph::approx_bytes`]. Both only grow until a rebuild
//! or a roll-back, so a check that passes now passed at every earlier
//! point. A commit's checks ([`Limits::check_holding`]) add what it holds
//! besides, the tables' spare room (and a reallocation the commit may make
//! before its next check) and the round's staged actions; that
//! sum can fall within one commit (`modify` merging classes it made), so
//! the commit keeps the first limit it sees. Between `async` phases, where
//! those counters hold a number of congruent copies that depends on
//! timing, the scheduler measures the canonical nodes instead (see
//! `src/fixpoint.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Analysis, EGraph, Language, StopReason};

/// The limits a run stops at, besides its iteration limit.
#[derive(Clone)]
pub(crate) struct Limits {
    /// When the run started (the time limit counts from here).
    pub start: Instant,
    pub time: Duration,
    /// Hashcons entries.
    pub nodes: usize,
    /// Estimated bytes ([`EGraph::approx_bytes`]; see
    /// [`Limits::check_holding`] for commits).
    pub bytes: usize,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Limits {
    /// The first limit reached, in this order: time (read only when
    /// `clock`: the clock costs more than a small commit), the size of
    /// `egraph` in nodes, then in bytes, then the cancel flag.
    pub fn check<L: Language, N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        clock: bool,
    ) -> Result<(), StopReason> {
        self.check_growth(egraph, clock)?;
        self.check_cancel()
    }

    /// [`Limits::check`] without the cancel flag.
    pub fn check_growth<L: Language, N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        clock: bool,
    ) -> Result<(), StopReason> {
        self.check_growth_of(egraph, clock, egraph.approx_bytes())
    }

    /// The bytes a commit counts against the memory limit while it holds
    /// `held` bytes besides the e-graph (the round's staged actions) and
    /// may add up to `horizon` nodes before its next check: the e-graph's
    /// estimate, its tables' spare room and their reallocations within
    /// the horizon (`EGraph::spare_bytes`), and `held`.
    pub fn bytes_holding<L: Language, N: Analysis<L>>(
        egraph: &EGraph<L, N>,
        held: usize,
        horizon: usize,
    ) -> usize {
        egraph
            .approx_bytes()
            .saturating_add(egraph.spare_bytes(horizon))
            .saturating_add(held)
    }

    /// [`Limits::check`] for a commit, which holds `held` bytes besides
    /// the e-graph and may add up to `horizon` nodes before its next
    /// check: the memory limit is checked against
    /// [`Limits::bytes_holding`]. The runner checks its commits so;
    /// between rounds it checks [`Limits::check`], which counts less.
    pub fn check_holding<L: Language, N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        clock: bool,
        held: usize,
        horizon: usize,
    ) -> Result<(), StopReason> {
        self.check_growth_of(egraph, clock, Self::bytes_holding(egraph, held, horizon))?;
        self.check_cancel()
    }

    /// The time limit (when `clock`), then the e-graph's nodes and `bytes`.
    fn check_growth_of<L: Language, N: Analysis<L>>(
        &self,
        egraph: &EGraph<L, N>,
        clock: bool,
        bytes: usize,
    ) -> Result<(), StopReason> {
        if clock {
            let elapsed = self.start.elapsed();
            if elapsed > self.time {
                return Err(StopReason::TimeLimit(elapsed.as_secs_f64()));
            }
        }
        self.check_sizes(egraph.total_size(), bytes)
    }

    /// The node limit against `nodes`, then the memory limit against
    /// `bytes`: [`Limits::check_growth`]'s size checks, for measures other
    /// than the e-graph's counters (`async` between phases counts
    /// canonical nodes).
    pub fn check_sizes(&self, nodes: usize, bytes: usize) -> Result<(), StopReason> {
        if nodes > self.nodes {
            return Err(StopReason::NodeLimit(nodes));
        }
        if bytes > self.bytes {
            return Err(StopReason::MemoryLimit(bytes));
        }
        Ok(())
    }

    /// [`Limits::check`]'s cancel flag.
    pub fn check_cancel(&self) -> Result<(), StopReason> {
        if self.cancelled() {
            return Err(StopReason::Other("cancelled".into()));
        }
        Ok(())
    }

    /// Whether the cancel flag is set.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_deref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// When the time limit runs out (`None`: too far to represent).
    pub fn deadline(&self) -> Option<Instant> {
        self.start.checked_add(self.time)
    }

    /// The most nodes the limits allow: the node limit, and the nodes the
    /// memory limit holds at the least a node takes (one id and one
    /// hashcons entry; see [`EGraph::approx_bytes`]).
    pub fn most_nodes<L: Language, N: Analysis<L>>(&self) -> usize {
        self.nodes.min(self.bytes / per_node::<L, N>())
    }

    /// The nodes the limits leave `egraph` room for, measured as
    /// [`Limits::most_nodes`] measures them.
    pub fn room<L: Language, N: Analysis<L>>(&self, egraph: &EGraph<L, N>) -> usize {
        let nodes = self.nodes.saturating_sub(egraph.total_size());
        let bytes = self.bytes.saturating_sub(egraph.approx_bytes()) / per_node::<L, N>();
        nodes.min(bytes)
    }
}

/// The least bytes a node takes: one id and one hashcons entry (see
/// [`EGraph::approx_bytes`]).
fn per_node<L: Language, N: Analysis<L>>() -> usize {
    EGraph::<L, N>::bytes_for(1, 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::SymbolLang;

    fn limits(nodes: usize, bytes: usize) -> Limits {
        Limits {
            start: Instant::now(),
            time: Duration::from_secs(3600),
            nodes,
            bytes,
            cancel: None,
        }
    }

    fn egraph() -> EGraph<SymbolLang, ()> {
        let mut eg = EGraph::default();
        eg.add_expr(&"(+ a (* b c))".parse().unwrap());
        eg
    }

    /// The room is the smaller of what the node limit and the memory limit
    /// leave, and none once either is passed.
    #[test]
    fn room_obeys_both_limits() {
        let eg = egraph();
        let per_node = EGraph::<SymbolLang, ()>::bytes_for(1, 1);
        let (size, bytes) = (eg.total_size(), eg.approx_bytes());
        assert_eq!(size, 5);
        let none = limits(usize::MAX, usize::MAX);
        assert!(none.room(&eg) > usize::MAX / (2 * per_node));
        let ten = bytes + 10 * per_node + per_node / 2;
        assert_eq!(limits(usize::MAX, ten).room(&eg), 10);
        assert_eq!(limits(size + 3, ten).room(&eg), 3);
        assert_eq!(limits(usize::MAX, bytes / 2).room(&eg), 0);
        assert_eq!(limits(size - 1, usize::MAX).room(&eg), 0);
        assert_eq!(
            limits(100, 50 * per_node).most_nodes::<SymbolLang, ()>(),
            50
        );
        assert_eq!(limits(20, 50 * per_node).most_nodes::<SymbolLang, ()>(), 20);
    }

    /// Limits are named in one order: time, nodes, bytes, cancel.
    #[test]
    fn the_first_limit_in_order_is_named() {
        let eg = egraph();
        let flag = Arc::new(AtomicBool::new(true));
        let mut all = Limits {
            start: Instant::now() - Duration::from_secs(2),
            time: Duration::from_secs(1),
            nodes: 1,
            bytes: 1,
            cancel: Some(flag.clone()),
        };
        assert!(matches!(all.check(&eg, true), Err(StopReason::TimeLimit(t)) if t >= 2.0));
        assert_eq!(all.check(&eg, false), Err(StopReason::NodeLimit(5)));
        all.nodes = usize::MAX;
        assert_eq!(
            all.check(&eg, false),
            Err(StopReason::MemoryLimit(eg.approx_bytes()))
        );
        all.bytes = usize::MAX;
        assert_eq!(all.check_growth(&eg, false), Ok(()));
        assert_eq!(
            all.check(&eg, false),
            Err(StopReason::Other("cancelled".into()))
        );
        flag.store(false, Ordering::Relaxed);
        assert_eq!(all.check(&eg, false), Ok(()));
        assert_eq!(all.deadline(), all.start.checked_add(all.time));
    }
}
