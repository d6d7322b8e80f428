//! Model checking of the concurrent union-find and hashcons with loom.
//!
//! Built only with `--cfg loom`, where `UnionFind` and `Hashcons` use loom's
//! atomics and locks:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=/tmp/target-loom \
//!     cargo test -p saturn --release --test loom -- --nocapture --test-threads=1
//! ```
//!
//! Each model prints how many executions (interleavings, including the
//! different values loads may see) loom explored. 2-thread models are
//! explored exhaustively; 3-thread models use a preemption bound (set
//! `LOOM_MAX_PREEMPTIONS` to change it), as the loom docs recommend.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

use loom::sync::Arc;
use loom::thread;
use saturn::{Hashcons, Id, SymbolLang, UnionFind};

/// Runs `f` under loom and returns how many executions were explored.
fn check(name: &str, preemption_bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    static RUNS: StdAtomicUsize = StdAtomicUsize::new(0);
    RUNS.store(0, StdOrdering::SeqCst);
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = preemption_bound;
    }
    let bound = b.preemption_bound;
    b.check(move || {
        RUNS.fetch_add(1, StdOrdering::Relaxed);
        f()
    });
    println!(
        "loom model {name}: {} executions (preemption bound {bound:?})",
        RUNS.load(StdOrdering::SeqCst)
    );
}

/// A fresh union-find with `n` singletons (call inside a model).
fn uf_with(n: usize) -> UnionFind {
    let mut uf = UnionFind::default();
    uf.reserve(n);
    for i in 0..n {
        assert_eq!(uf.make_set(), Some(Id::from(i)));
    }
    uf
}

/// The sequential answer: the root (least id) of each element after
/// `pairs`, computed without the engine.
fn reference_roots(n: usize, pairs: &[(usize, usize)]) -> Vec<usize> {
    let mut label: Vec<usize> = (0..n).collect();
    for &(a, b) in pairs {
        let (la, lb) = (label[a], label[b]);
        let lo = la.min(lb);
        for l in label.iter_mut() {
            if *l == la || *l == lb {
                *l = lo;
            }
        }
    }
    label
}

/// Unions `per_thread[t]` on thread t (all concurrently), then checks the
/// partition, the roots, the parent invariant and the `true` count.
fn concurrent_unions(n: usize, per_thread: &'static [&'static [(usize, usize)]]) {
    let all: Vec<(usize, usize)> = per_thread.iter().flat_map(|p| p.iter().copied()).collect();
    let want = reference_roots(n, &all);
    let sets = (0..n).filter(|&i| want[i] == i).count();

    let uf = Arc::new(uf_with(n));
    let handles: Vec<_> = per_thread
        .iter()
        .map(|pairs| {
            let uf = uf.clone();
            thread::spawn(move || {
                pairs
                    .iter()
                    .filter(|&&(a, b)| uf.union(Id::from(a), Id::from(b)))
                    .count()
            })
        })
        .collect();
    let merged: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();

    assert_eq!(merged, n - sets, "each successful union joins two sets");
    for (i, &w) in want.iter().enumerate() {
        assert_eq!(uf.find(Id::from(i)), Id::from(w), "root of {i}");
        let p = uf.parent(Id::from(i)).index();
        assert!(p <= i, "parent of {i} is {p}, larger");
        assert_eq!(want[p], w, "parent of {i} is in another set");
    }
}

#[test]
fn two_threads_union_overlapping_pairs() {
    static P: &[&[(usize, usize)]] = &[&[(3, 1), (2, 0)], &[(3, 2), (1, 0)]];
    check("union 2 threads, 4 ids, overlapping", None, || {
        concurrent_unions(4, P)
    });
}

#[test]
fn two_threads_union_same_pair_both_directions() {
    static P: &[&[(usize, usize)]] = &[&[(2, 1)], &[(1, 2)]];
    check("union 2 threads, same pair", None, || {
        concurrent_unions(3, P)
    });
}

#[test]
fn two_threads_union_chain_against_star() {
    // A chain that builds a long path against unions that shortcut it.
    static P: &[&[(usize, usize)]] = &[&[(4, 3), (3, 2), (2, 1)], &[(4, 1), (3, 0)]];
    check("union 2 threads, chain vs star", None, || {
        concurrent_unions(5, P)
    });
}

#[test]
fn three_threads_union_overlapping_pairs() {
    static P: &[&[(usize, usize)]] = &[&[(3, 2)], &[(2, 1)], &[(3, 0)]];
    check("union 3 threads, 4 ids", Some(3), || {
        concurrent_unions(4, P)
    });
}

#[test]
fn three_threads_union_two_each() {
    static P: &[&[(usize, usize)]] = &[&[(4, 2), (1, 0)], &[(3, 1), (4, 3)], &[(2, 0)]];
    check("union 3 threads, 5 ids, two unions each", Some(2), || {
        concurrent_unions(5, P)
    });
}

/// `find(x)` during unions: every answer is an id of x's final set that is
/// at most x (parents only point down), answers of one thread never
/// increase, and the final pointers are still ancestors.
fn find_during_unions(finders: usize) {
    let n = 5;
    let pairs: &[(usize, usize)] = &[(4, 3), (3, 2), (2, 1), (1, 0)];
    let uf = Arc::new(uf_with(n));
    // A long chain first, so that finds have a path to halve.
    uf.union(Id::from(4usize), Id::from(3usize));
    uf.union(Id::from(3usize), Id::from(2usize));
    let unioner = {
        let uf = uf.clone();
        thread::spawn(move || {
            uf.union(Id::from(2usize), Id::from(1usize));
            uf.union(Id::from(1usize), Id::from(0usize));
        })
    };
    let finders: Vec<_> = (0..finders)
        .map(|_| {
            let uf = uf.clone();
            thread::spawn(move || {
                let a = uf.find(Id::from(4usize)).index();
                let b = uf.find(Id::from(4usize)).index();
                (a, b)
            })
        })
        .collect();
    unioner.join().unwrap();
    let want = reference_roots(n, pairs);
    for f in finders {
        let (a, b) = f.join().unwrap();
        for r in [a, b] {
            assert!(r <= 2, "find(4) = {r}: 4 was already under 2");
            assert_eq!(want[r], want[4], "find(4) = {r} is not in 4's set");
        }
        assert!(b <= a, "find(4) went from {a} up to {b}");
    }
    for i in 0..n {
        assert_eq!(uf.find(Id::from(i)), Id::from(0usize));
        let p = uf.parent(Id::from(i)).index();
        assert!(p <= i, "parent of {i} is {p}");
    }
}

#[test]
fn find_with_path_halving_during_unions() {
    check("find (1 finder) during unions", None, || {
        find_during_unions(1)
    });
}

#[test]
fn two_finders_halve_the_same_path_during_unions() {
    check("find (2 finders) during unions", Some(3), || {
        find_during_unions(2)
    });
}

#[test]
fn concurrent_make_set_hands_out_distinct_ids() {
    check("make_set 2 threads", None, || {
        let mut uf = UnionFind::default();
        uf.reserve(3);
        let cap = uf.spare();
        let uf = Arc::new(uf);
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let uf = uf.clone();
                thread::spawn(move || uf.make_set().unwrap())
            })
            .collect();
        let mut ids: Vec<Id> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        ids.sort();
        assert_eq!(ids, vec![Id::from(0usize), Id::from(1usize)]);
        assert_eq!(uf.len(), 2);
        assert_eq!(uf.spare(), cap - 2);
        for id in ids {
            assert_eq!(uf.find(id), id);
        }
    });
}

/// `threads` threads insert the same node with their own ids; all get the
/// same winner, which is one of the offered ids, and the table holds one
/// entry. A reader running at the same time sees nothing or the winner.
fn insert_same_node(threads: usize, with_reader: bool) {
    let node = SymbolLang::leaf("x");
    let h: Arc<Hashcons<SymbolLang>> = Arc::new(Hashcons::default());
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (h, node) = (h.clone(), node.clone());
            thread::spawn(move || {
                let mine = Id::from(10 + t);
                h.insert_or_get(node, mine).unwrap_or(mine)
            })
        })
        .collect();
    let reader = with_reader.then(|| {
        let (h, node) = (h.clone(), node.clone());
        thread::spawn(move || h.get(&node))
    });
    let got: Vec<Id> = hs.into_iter().map(|j| j.join().unwrap()).collect();
    let winner = got[0];
    assert!(got.iter().all(|&g| g == winner), "winners differ: {got:?}");
    assert!((10..10 + threads).contains(&winner.index()));
    assert_eq!(h.len(), 1);
    assert_eq!(h.get(&node), Some(winner));
    if let Some(r) = reader {
        let seen = r.join().unwrap();
        assert!(
            seen.is_none() || seen == Some(winner),
            "reader saw {seen:?}"
        );
    }
}

#[test]
fn two_threads_insert_or_get_the_same_node() {
    check("hashcons insert_or_get 2 threads", None, || {
        insert_same_node(2, false)
    });
}

#[test]
fn two_inserters_and_a_reader() {
    check("hashcons insert_or_get 2 threads + get", None, || {
        insert_same_node(2, true)
    });
}

#[test]
fn three_threads_insert_or_get_the_same_node() {
    check("hashcons insert_or_get 3 threads", Some(3), || {
        insert_same_node(3, false)
    });
}

#[test]
fn different_nodes_are_all_kept() {
    check("hashcons 2 threads, different nodes", None, || {
        let h: Arc<Hashcons<SymbolLang>> = Arc::new(Hashcons::default());
        let nodes = [SymbolLang::leaf("a"), SymbolLang::leaf("b")];
        let hs: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(t, n)| {
                let (h, n) = (h.clone(), n.clone());
                thread::spawn(move || h.insert_or_get(n, Id::from(t)))
            })
            .collect();
        for j in hs {
            assert_eq!(j.join().unwrap(), None);
        }
        assert_eq!(h.len(), 2);
        for (t, n) in nodes.iter().enumerate() {
            assert_eq!(h.get(n), Some(Id::from(t)));
        }
    });
}
