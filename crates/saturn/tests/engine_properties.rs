//! Engine properties: invariants after rebuild (proptest), determinism
//! across thread counts, incremental vs full search.

mod common;

use proptest::prelude::*;
use saturn::*;

fn term_strategy() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("0".to_string()),
        Just("1".to_string())
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("(+ {x} {y})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("(* {x} {y})")),
            inner.prop_map(|x| format!("(g {x})")),
        ]
    })
}

fn rules() -> Vec<Rewrite<SymbolLang, ()>> {
    vec![
        rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("zero-add"; "(+ ?a 0)" => "?a"),
        rewrite!("one-mul"; "(* ?a 1)" => "?a"),
        rewrite!("zero-mul"; "(* ?a 0)" => "0"),
        rewrite!("gg"; "(g (g ?x))" => "?x"),
        rewrite!("same"; "(+ ?x ?x)" => "(* 2 ?x)"),
    ]
}

fn run(terms: &[String], threads: usize, incremental: bool) -> Runner<SymbolLang, ()> {
    let mut r = Runner::default()
        .with_threads(threads)
        .with_incremental(incremental)
        .with_scheduler(Scheduler::Simple)
        .with_iter_limit(12)
        .with_node_limit(50_000);
    for t in terms {
        r = r.with_expr(&t.parse().unwrap());
    }
    r.run(&rules())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 24 } else { 96 }))]

    /// Random unions then rebuild: invariants hold, and the e-graph merges
    /// exactly the congruence closure of the unions (checked against the
    /// terms: two added terms are equal iff a naive closure says so).
    #[test]
    fn rebuild_restores_invariants(terms in prop::collection::vec(term_strategy(), 1..8),
                                   unions in prop::collection::vec((0usize..8, 0usize..8), 0..6)) {
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let ids: Vec<Id> = terms.iter().map(|t| eg.add_expr(&t.parse().unwrap())).collect();
        for (a, b) in unions {
            eg.union(ids[a % ids.len()], ids[b % ids.len()]);
        }
        eg.rebuild();
        prop_assert_eq!(eg.check_invariants(), Ok(()));
        // find is idempotent and the root is the least id of its set.
        for i in 0..eg.number_of_ids() {
            let id = Id::from(i);
            let r = eg.find(id);
            prop_assert_eq!(eg.find(r), r);
            prop_assert!(r <= id);
        }
        let distinct: std::collections::BTreeSet<Id> =
            (0..eg.number_of_ids()).map(|i| eg.find(Id::from(i))).collect();
        prop_assert_eq!(distinct.len(), eg.number_of_classes());
    }

    /// The same run at 1, 2 and 8 threads gives the same e-graph (same
    /// dump: ids included), the same stats and the same extracted terms.
    #[test]
    fn parallel_equals_sequential(terms in prop::collection::vec(term_strategy(), 1..5)) {
        let one = run(&terms, 1, true);
        prop_assert_eq!(one.egraph.check_invariants(), Ok(()));
        let dump1 = one.egraph.dump().to_string();
        let ex1 = Extractor::new(&one.egraph, AstSize);
        let best1: Vec<String> = one.roots.iter().map(|&r| ex1.find_best(r).1.to_string()).collect();
        for threads in [2, 8] {
            let many = run(&terms, threads, true);
            prop_assert_eq!(&many.egraph.dump().to_string(), &dump1);
            prop_assert_eq!(many.iterations.len(), one.iterations.len());
            for (a, b) in many.iterations.iter().zip(&one.iterations) {
                prop_assert_eq!(&a.applied, &b.applied);
            }
            let ex = Extractor::new(&many.egraph, AstSize);
            let best: Vec<String> = many.roots.iter().map(|&r| ex.find_best(r).1.to_string()).collect();
            prop_assert_eq!(&best, &best1);
        }
    }

    /// Incremental matching finds the same equalities as searching every
    /// class every iteration.
    #[test]
    fn incremental_equals_full_search(terms in prop::collection::vec(term_strategy(), 1..5)) {
        let inc = run(&terms, 1, true);
        let full = run(&terms, 1, false);
        prop_assert_eq!(inc.egraph.number_of_classes(), full.egraph.number_of_classes());
        prop_assert_eq!(inc.egraph.total_number_of_nodes(), full.egraph.total_number_of_nodes());
        prop_assert_eq!(&inc.stop_reason, &full.stop_reason);
        for i in 0..inc.roots.len() {
            for j in 0..inc.roots.len() {
                let a = inc.egraph.find(inc.roots[i]) == inc.egraph.find(inc.roots[j]);
                let b = full.egraph.find(full.roots[i]) == full.egraph.find(full.roots[j]);
                prop_assert_eq!(a, b);
            }
        }
    }
}

/// Repeated 8-thread runs on 2 cores agree with the 1-thread run.
#[test]
fn stress_many_threads_matches_one() {
    let terms: Vec<String> = vec![
        "(+ (+ a 0) (* (g (g b)) 1))".into(),
        "(+ (+ a (+ b 0)) (+ (* a 1) (g (g (+ b a)))))".into(),
    ];
    let reference = run(&terms, 1, true).egraph.dump().to_string();
    for _ in 0..20 {
        assert_eq!(run(&terms, 8, true).egraph.dump().to_string(), reference);
    }
}

/// A rule-file error names its line and column.
#[test]
fn rule_file_errors_have_positions() {
    let text = "[p]\nok: (+ ?a 0) => ?a\nbad: (+ ?a 0) => (f ?b)\n";
    let err = rules::parse_rules::<SymbolLang, ()>(text, &rules::Predicates::default())
        .err()
        .expect("unbound variable");
    assert_eq!((err.pos.line, err.pos.col), (3, 21));
    let err = rules::parse_rules::<SymbolLang, ()>("x: (+ ?a\n", &rules::Predicates::default())
        .err()
        .expect("unclosed");
    assert_eq!((err.pos.line, err.pos.col), (1, 4));
    let err = rules::parse_rules::<SymbolLang, ()>(
        "x: (+ ?a 0) => ?a if (nope ?a)",
        &rules::Predicates::default(),
    )
    .err()
    .expect("unknown predicate");
    assert!(err.message.contains("unknown predicate"), "{err}");
}

/// A rule whose condition is not local (it adds terms and asks whether
/// they are equal) fires once other rules make them equal later, with
/// incremental matching as without.
#[test]
fn non_local_conditions_are_rechecked() {
    for incremental in [true, false] {
        let h_eq = ConditionEqual("(h ?t)".parse().unwrap(), "(h ?e)".parse().unwrap());
        let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
            rewrite!("if-same"; "(if ?c ?t ?e)" => "?e" if h_eq),
            rewrite!("h-const"; "(h ?x)" => "z"),
            rewrite!("noise"; "(k ?x)" => "(m ?x)"),
        ];
        let r = Runner::default()
            .with_expr(&"(if c a b)".parse().unwrap())
            .with_expr(&"(k (k (k a)))".parse().unwrap())
            .with_incremental(incremental)
            .with_scheduler(Scheduler::Simple)
            .run(&rules);
        assert_eq!(r.stop_reason, Some(StopReason::Saturated));
        let b = r.egraph.lookup_expr(&"b".parse().unwrap()).unwrap();
        assert_eq!(
            r.egraph.find(b),
            r.egraph.find(r.roots[0]),
            "incremental={incremental}: if-same never fired"
        );
    }
}

/// A rule-file predicate registered as non-local (it reads state outside
/// the matched classes) is re-checked on old matches, so the rule fires
/// once the state changes, also under incremental matching.
#[test]
fn nonlocal_predicates_are_rechecked() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let gate = Arc::new(AtomicBool::new(false));
    let g = gate.clone();
    let preds =
        rules::Predicates::<SymbolLang, ()>::default()
            .with_nonlocal("open", 1, move |_, _| g.load(Ordering::Relaxed));
    let set = rules::parse_rules::<SymbolLang, ()>(
        "gated: (f ?x) => (g ?x) if (open ?x)\nnoise: (k ?x) => (m ?x)\n",
        &preds,
    )
    .unwrap();
    let gate2 = gate.clone();
    let mut r = Runner::default()
        .with_expr(&"(f a)".parse().unwrap())
        .with_expr(&"(k (k (k (k a))))".parse().unwrap());
    // Unrelated classes, so that the changed neighbourhood stays small and
    // the runner searches incrementally instead of in full.
    for i in 0..60 {
        r = r.with_expr(&format!("(h b{i})").parse().unwrap());
    }
    let r = r
        .with_scheduler(Scheduler::Simple)
        .with_hook(move |r| {
            if r.iterations.len() == 1 {
                gate2.store(true, Ordering::Relaxed);
            }
            Ok(())
        })
        .run(&set.rules);
    let g = r
        .egraph
        .lookup_expr(&"(g a)".parse().unwrap())
        .expect("gated rule fired");
    assert_eq!(r.egraph.find(g), r.egraph.find(r.roots[0]));
}

#[test]
fn the_operator_index_built_in_parallel_lists_each_class_in_id_order() {
    // Over 4,096 classes and inside a two-thread pool, so the index is
    // built from shards in parallel.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        for i in 0..3000 {
            let t = format!("(f (g x{}) (h {i} x{}))", i % 97, i % 13);
            eg.add_expr(&t.parse().unwrap());
        }
        let a = eg.add_expr(&"(g x1)".parse().unwrap());
        let b = eg.add_expr(&"(h 5 x5)".parse().unwrap());
        eg.union(a, b);
        eg.rebuild();
        assert!(eg.number_of_classes() > 4096);
        let want = op_index_of(&eg);
        for (d, classes) in &want {
            assert_eq!(
                eg.classes_with_op(d),
                &classes[..],
                "classes_with_op({d:?})"
            );
        }
    });
}

/// Per discriminant, the classes with such a node, in id order: what
/// `classes_with_op` must return.
fn op_index_of(eg: &EGraph<SymbolLang, ()>) -> std::collections::HashMap<(Symbol, usize), Vec<Id>> {
    let mut want: std::collections::HashMap<(Symbol, usize), Vec<Id>> = Default::default();
    for class in eg.classes() {
        for node in &class.nodes {
            let v = want.entry(node.discriminant()).or_default();
            if v.last() != Some(&class.id) {
                v.push(class.id);
            }
        }
    }
    for v in want.values_mut() {
        v.sort();
    }
    want
}

#[test]
fn the_operator_index_stays_exact_when_refilled_after_changes() {
    // The sequential index is refilled in place: lists of classes merged
    // away must lose them, and new operators must appear.
    let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
    for t in ["(f a)", "(f b)", "(g a)", "(g (f a))", "c"] {
        eg.add_expr(&t.parse().unwrap());
    }
    eg.rebuild();
    let check = |eg: &mut EGraph<SymbolLang, ()>| {
        let want = op_index_of(eg);
        for (d, classes) in &want {
            assert_eq!(
                eg.classes_with_op(d),
                &classes[..],
                "classes_with_op({d:?})"
            );
        }
        want
    };
    let before = check(&mut eg);
    assert_eq!(before[&(Symbol::from("f"), 1)].len(), 2);
    // a = b makes (f a) = (f b) by congruence: f's list shrinks.
    let (a, b) = (eg.add(SymbolLang::leaf("a")), eg.add(SymbolLang::leaf("b")));
    eg.union(a, b);
    eg.rebuild();
    let after = check(&mut eg);
    assert_eq!(after[&(Symbol::from("f"), 1)].len(), 1);
    assert_eq!(
        after[&(Symbol::from("a"), 0)],
        after[&(Symbol::from("b"), 0)]
    );
    // A new operator shows up.
    assert!(eg.classes_with_op(&(Symbol::from("h"), 1)).is_empty());
    eg.add_expr(&"(h c)".parse().unwrap());
    eg.rebuild();
    let last = check(&mut eg);
    assert_eq!(last[&(Symbol::from("h"), 1)].len(), 1);
}

#[test]
fn a_parallel_batch_add_gives_the_ids_of_adding_one_by_one() {
    // 3,000 nodes (over the batch's parallel threshold) in a two-thread
    // pool: present ones, absent ones, and absent ones repeated inside
    // the batch (also as copies that differ only by a merged-away child),
    // which must share the id of their first occurrence.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| {
        let start = || {
            let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
            let leaves: Vec<Id> = (0..40)
                .map(|i| eg.add(SymbolLang::leaf(format!("x{i}"))))
                .collect();
            for i in 0..500 {
                eg.add(SymbolLang::new(
                    "f",
                    vec![leaves[i % 40], leaves[(i / 40) % 40]],
                ));
            }
            // Some of the batch's children are not canonical: x1 and x3
            // are merged away.
            eg.union(leaves[0], leaves[1]);
            eg.union(leaves[2], leaves[3]);
            eg.rebuild();
            (eg, leaves)
        };
        let (mut eg, leaves) = start();
        // The operator index is made now, so the batch's classes (made in
        // parallel) reach it by the incremental patch.
        assert!(eg.classes_with_op(&(Symbol::from("g"), 2)).is_empty());
        let batch: Vec<SymbolLang> = (0..3000)
            .map(|i| {
                let (a, b) = (leaves[(i * 7) % 40], leaves[(i / 3) % 40]);
                if i % 2 == 0 {
                    SymbolLang::new("f", vec![a, b])
                } else {
                    SymbolLang::new("g", vec![a, b])
                }
            })
            .collect();
        let mut one_by_one = start().0;
        let want: Vec<Id> = batch.iter().map(|n| one_by_one.add(n.clone())).collect();
        let got = eg.add_batch(batch.clone());
        assert_eq!(got, want);
        assert_eq!(eg.total_size(), one_by_one.total_size());
        for (n, &id) in batch.iter().zip(&got) {
            assert_eq!(eg.lookup(n.clone()), Some(id), "{n:?}");
        }
        eg.rebuild();
        one_by_one.rebuild();
        assert_eq!(eg.dump().to_string(), one_by_one.dump().to_string());
        for (d, classes) in &op_index_of(&eg) {
            assert_eq!(
                eg.classes_with_op(d),
                &classes[..],
                "classes_with_op({d:?})"
            );
        }
    });
}

#[test]
fn bans_are_fast_forwarded_after_an_iteration_that_applied_nothing_even_if_nodes_were_added() {
    // As egg's backoff does: after an iteration in which no rule changed
    // the e-graph, bans are shortened to end at once, even when nodes
    // were added meanwhile (here by a hook; conditions can too). Iteration
    // 0 bans f-to-h (2 matches over a limit of 1) for 5 iterations and
    // applies g-to-k; iteration 1 applies nothing, but a hook adds a node.
    let rules: Vec<Rewrite<SymbolLang, ()>> = vec![
        rewrite!("f-to-h"; "(f ?x)" => "(h ?x)"),
        rewrite!("g-to-k"; "(g ?x)" => "(k ?x)"),
    ];
    let runner = Runner::<SymbolLang, ()>::default()
        .with_expr(&"(f a)".parse().unwrap())
        .with_expr(&"(f b)".parse().unwrap())
        .with_expr(&"(g c)".parse().unwrap())
        .with_scheduler(Scheduler::Backoff {
            match_limit: 1,
            ban_length: 5,
        })
        .with_hook(|r| {
            if r.iterations.len() == 1 {
                r.egraph.add(SymbolLang::leaf("fresh"));
            }
            Ok(())
        })
        .run(&rules);
    let fired = |name: &str| {
        runner
            .iterations
            .iter()
            .position(|it| it.applied.iter().any(|(r, _)| r.as_str() == name))
    };
    assert_eq!(fired("g-to-k"), Some(0));
    assert_eq!(fired("f-to-h"), Some(2));
    assert_eq!(runner.stop_reason, Some(StopReason::Saturated));
}

/// Class creation with the hashcons filled on another thread, and the
/// rebuild of a class of over a thousand nodes (its node list
/// canonicalized and sorted in parallel), give on two threads exactly
/// the e-graph one thread gives.
#[test]
fn large_batches_and_large_classes_are_rebuilt_as_on_one_thread() {
    let build = || {
        let mut eg: EGraph<SymbolLang, ()> = EGraph::default();
        let leaves: Vec<Id> = (0..60)
            .map(|i| eg.add(SymbolLang::leaf(format!("x{i}"))))
            .collect();
        // 3,600 new classes in one batch.
        let batch: Vec<SymbolLang> = (0..3600)
            .map(|k| SymbolLang::new("f", vec![leaves[k % 60], leaves[k / 60]]))
            .collect();
        let ids = eg.add_batch(batch);
        assert_eq!(eg.number_of_classes(), 3660);
        // One class of 1,600 nodes.
        for &id in &ids[1..1600] {
            eg.union(ids[0], id);
        }
        let big = eg.find(ids[0]);
        assert!(eg[big].nodes.len() >= 1600);
        // Half the leaves merged in pairs: many of the big class's nodes
        // get new children, and 3/4 of them become duplicates.
        for i in (0..60).step_by(2) {
            eg.union(leaves[i], leaves[i + 1]);
        }
        eg.rebuild();
        assert_eq!(eg.check_invariants(), Ok(()));
        // Rows 0-25 of the class give 13 x 30 nodes; row 26's first 40
        // give 20 (their row-27 twins, outside it, are merged in).
        assert_eq!(eg[eg.find(big)].nodes.len(), 410);
        let dump = eg.dump().to_string();
        dump
    };
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(build)
    };
    let one = on(1);
    for _ in 0..3 {
        assert_eq!(on(2), one);
    }
}

/// `Iteration::threads` says where each iteration ran: on one thread
/// throughout a one-thread run; with two threads, on the calling thread
/// while the hashcons is small (under 8,192 nodes) and on the pool's two
/// threads from the first iteration that starts past that.
#[test]
fn iterations_report_the_threads_they_ran_on() {
    // The e-graph passes 8,192 nodes within a few iterations.
    let expr = common::long_sum(9);
    let rules = common::comm_assoc();
    let run = |threads: usize| {
        Runner::default()
            .with_threads(threads)
            .with_scheduler(Scheduler::Simple)
            .with_iter_limit(8)
            .with_node_limit(40_000)
            // No time limit in reach: a debug build on a loaded machine
            // must stop where a release build does.
            .with_time_limit(std::time::Duration::from_secs(3600))
            .with_expr(&expr)
            .run(&rules)
    };
    let one = run(1);
    assert!(one.iterations.iter().all(|it| it.threads == 1));
    let two = run(2);
    assert_eq!(two.iterations.len(), one.iterations.len());
    let first_on_pool = two
        .iterations
        .iter()
        .position(|it| it.egraph_nodes >= 8192)
        .expect("the e-graph passes 8,192 nodes");
    assert!(first_on_pool > 0);
    for (k, it) in two.iterations.iter().enumerate() {
        let expected = if k < first_on_pool { 1 } else { 2 };
        assert_eq!(
            it.threads, expected,
            "iteration {k} at {} nodes",
            it.egraph_nodes
        );
    }
}
