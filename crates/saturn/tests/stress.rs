//! Oversubscription stress: 8, 16, 32 and 64 threads (on any number of
//! cores) hammering the union-find, the hashcons and the runner, compared
//! with the sequential result.
//!
//! Sizes are scaled down in debug builds, where everything is many times
//! slower. Every test prints how many stress iterations it ran
//! (`cargo test --test stress -- --nocapture`).
#![cfg(not(loom))]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::Lcg;
use saturn::rules::{parse_rules, Predicates};
use saturn::{Hashcons, Id, RecExpr, Rewrite, Runner, StopReason, SymbolLang, UnionFind};

const THREADS: [usize; 4] = [8, 16, 32, 64];

/// `release` in release builds, less in debug builds.
fn scaled(release: usize, debug: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

fn uf_with(n: usize) -> UnionFind {
    let mut uf = UnionFind::default();
    uf.reserve(n);
    for _ in 0..n {
        uf.make_set().unwrap();
    }
    uf
}

/// Every thread performs every union, each starting at its own offset,
/// while also calling `find` on random ids; the result must be the
/// sequential partition with least-id roots.
#[test]
fn union_find_under_oversubscription() {
    let n = scaled(50_000, 2_000);
    let rounds = scaled(8, 1);
    let mut iterations = 0;
    for round in 0..rounds {
        let mut rng = Lcg(0x5eed + round as u64);
        // Sparse enough to leave many sets; some long chains.
        let pairs: Vec<(Id, Id)> = (0..n * 3 / 4)
            .map(|i| {
                if i % 4 == 0 {
                    (Id::from(i % n), Id::from((i + 1) % n))
                } else {
                    (Id::from(rng.below(n)), Id::from(rng.below(n)))
                }
            })
            .collect();
        let seq = uf_with(n);
        let mut seq_merged = 0;
        for &(a, b) in &pairs {
            seq_merged += usize::from(seq.union(a, b));
        }
        for &threads in &THREADS {
            let par = uf_with(n);
            let barrier = Barrier::new(threads);
            let merged: usize = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|t| {
                        let (par, pairs, barrier) = (&par, &pairs, &barrier);
                        s.spawn(move || {
                            let mut rng = Lcg(t as u64);
                            let start = t * pairs.len() / threads;
                            let mut merged = 0;
                            barrier.wait();
                            for k in 0..pairs.len() {
                                let (a, b) = pairs[(start + k) % pairs.len()];
                                merged += usize::from(par.union(a, b));
                                let x = Id::from(rng.below(n));
                                let r = par.find(x);
                                assert!(r <= x, "find({x}) = {r}");
                                // r was a root; other threads may have
                                // linked it under a smaller id since.
                                assert!(par.find_readonly(r) <= r);
                            }
                            merged
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(merged, seq_merged, "{threads} threads: successful unions");
            for i in 0..n {
                let id = Id::from(i);
                assert_eq!(par.find(id), seq.find(id), "{threads} threads: root of {i}");
                assert!(par.parent(id) <= id);
            }
            iterations += 1;
        }
    }
    println!("union-find stress: {iterations} runs of {n} ids x {{8,16,32,64}} threads");
}

/// Every thread inserts every node (with its own id), in its own order;
/// all threads must agree on each node's class, the winner must be one of
/// the offered ids, and the key set must equal the sequential one.
#[test]
fn hashcons_under_oversubscription() {
    let m = scaled(30_000, 2_000);
    let rounds = scaled(6, 1);
    let nodes: Vec<SymbolLang> = (0..m)
        .map(|i| match i % 3 {
            0 => SymbolLang::leaf(format!("v{i}").as_str()),
            1 => SymbolLang::new("f", vec![Id::from(i)]),
            _ => SymbolLang::new("+", vec![Id::from(i / 2), Id::from(i)]),
        })
        .collect();
    let seq: Hashcons<SymbolLang> = Hashcons::default();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(seq.insert_or_get(n.clone(), Id::from(i)), None);
    }
    let mut seq_keys = BTreeSet::new();
    seq.for_each(|n, id| {
        seq_keys.insert((format!("{n:?}"), id));
    });
    let mut iterations = 0;
    for _ in 0..rounds {
        for &threads in &THREADS {
            let h: Hashcons<SymbolLang> = Hashcons::default();
            let barrier = Barrier::new(threads);
            let seen: Vec<Vec<Id>> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|t| {
                        let (h, nodes, barrier) = (&h, &nodes, &barrier);
                        s.spawn(move || {
                            let mut got = vec![Id::from(0usize); m];
                            let start = t * m / threads;
                            barrier.wait();
                            for k in 0..m {
                                let i = (start + k) % m;
                                // Ids encode (thread, node): node i of thread t
                                // offers t * m + i.
                                let mine = Id::from(t * m + i);
                                got[i] = h.insert_or_get(nodes[i].clone(), mine).unwrap_or(mine);
                                if k % 7 == 0 {
                                    let j = (i + m / 2) % m;
                                    if let Some(w) = h.get(&nodes[j]) {
                                        assert_eq!(w.index() % m, j, "get gave a foreign id");
                                    }
                                }
                            }
                            got
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(h.len(), m, "{threads} threads: entries");
            for (i, n) in nodes.iter().enumerate() {
                let w = h.get(n).expect("inserted");
                assert_eq!(w.index() % m, i, "winner of node {i} is not an offered id");
                for s in &seen {
                    assert_eq!(s[i], w, "{threads} threads: threads disagree on node {i}");
                }
            }
            // The same keys as the sequential table (ids mapped back).
            let mut keys = BTreeSet::new();
            h.for_each(|n, id| {
                keys.insert((format!("{n:?}"), Id::from(id.index() % m)));
            });
            assert_eq!(keys, seq_keys, "{threads} threads: key set");
            iterations += 1;
        }
    }
    println!("hashcons stress: {iterations} runs of {m} nodes x {{8,16,32,64}} threads");
}

const RULES: &str = "
[algebra]
comm-add:  (+ ?a ?b) => (+ ?b ?a)
comm-mul:  (* ?a ?b) => (* ?b ?a)
assoc-add: (+ ?a (+ ?b ?c)) <=> (+ (+ ?a ?b) ?c)
assoc-mul: (* ?a (* ?b ?c)) <=> (* (* ?a ?b) ?c)
distribute: (* ?a (+ ?b ?c)) => (+ (* ?a ?b) (* ?a ?c))
[identities]
zero-add:  (+ ?a 0) => ?a
zero-mul:  (* ?a 0) => 0
one-mul:   (* ?a 1) => ?a
cancel:    (- ?a ?b) => 0 if (= ?a ?b)
sub-canon: (- ?a ?b) => (+ ?a (* -1 ?b))
double:    (+ ?a ?a) => (* 2 ?a)
";

const TERMS: &[&str] = &[
    "(+ x (+ y (+ z (+ w 0))))",
    "(* (+ a 0) (- b b))",
    "(+ (* y 3) (* y (+ 1 (* z 1))))",
    "(- (+ p (* q 0)) (* 1 p))",
    "(* a (* b (* c (+ d (+ e f)))))",
    "(+ (* g (+ h (+ i 1))) (* j (+ k (+ l 0))))",
];

fn run(
    rules: &[Rewrite<SymbolLang, ()>],
    terms: &[RecExpr<SymbolLang>],
    pool: Option<Arc<rayon::ThreadPool>>,
    node_limit: usize,
) -> (String, Option<StopReason>, usize) {
    let mut r = Runner::default()
        .with_iter_limit(scaled(10, 5))
        .with_node_limit(node_limit)
        .with_time_limit(Duration::from_secs(600));
    for t in terms {
        r = r.with_expr(t);
    }
    if let Some(p) = pool {
        r = r.with_pool(p);
    }
    let r = r.run(rules);
    assert_eq!(r.egraph.check_invariants(), Ok(()));
    let dump = r.egraph.dump().to_string();
    (dump, r.stop_reason.clone(), r.iterations.len())
}

/// The runner at 8..64 threads gives the same e-graph dump, stop reason
/// and iteration count as on one thread, several times over.
#[test]
fn runner_is_deterministic_under_oversubscription() {
    let set = parse_rules::<SymbolLang, ()>(RULES, &Predicates::default()).unwrap();
    let terms: Vec<RecExpr<SymbolLang>> = TERMS.iter().map(|t| t.parse().unwrap()).collect();
    let reps = scaled(5, 1);
    let mut iterations = 0;
    let start = Instant::now();
    // In release builds: a small limit (stops mid-iteration on the
    // caller's thread), one that stops mid-iteration after the run moved
    // onto the pool (at 8,192 hashcons entries), and one it never reaches.
    for node_limit in [
        scaled(1_500, 400),
        scaled(9_000, 1_500),
        scaled(40_000, 1_500),
    ] {
        let (want, why, iters) = run(&set.rules, &terms, None, node_limit);
        println!("  node limit {node_limit}: {why:?} after {iters} iterations");
        for &threads in &THREADS {
            let pool = Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap(),
            );
            for rep in 0..reps {
                let (got, w, i) = run(&set.rules, &terms, Some(pool.clone()), node_limit);
                assert_eq!(
                    (&w, i),
                    (&why, iters),
                    "{threads} threads, rep {rep}, node limit {node_limit}"
                );
                assert!(
                    got == want,
                    "{threads} threads, rep {rep}, node limit {node_limit}: dumps differ"
                );
                iterations += 1;
            }
        }
    }
    println!(
        "runner stress: {iterations} parallel runs compared with 1 thread in {:.1?}",
        start.elapsed()
    );
}
