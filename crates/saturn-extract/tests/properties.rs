//! Property tests on random small e-graphs, compared with brute force.

mod common;

use common::extractors;
use proptest::prelude::*;
use saturn_extract::{
    with_threads, BottomUp, ClassIdx, Cost, DenseEGraph, ExtractError, Extraction, Extractor,
    GreedyDag,
};

/// A random e-graph: per class, a list of nodes `(cost, child classes)`.
#[derive(Debug, Clone)]
struct Spec {
    classes: Vec<Vec<(u8, Vec<usize>)>>,
    roots: Vec<usize>,
}

const COSTS: [u8; 5] = [0, 1, 2, 3, 5];

/// `cyclic = false`: children always have a larger class index (a DAG, every class
/// extractable). `cyclic = true`: children are arbitrary (cycles, self-loops, classes
/// without any finite term).
fn spec(max_classes: usize, cyclic: bool) -> impl Strategy<Value = Spec> {
    (1..=max_classes)
        .prop_flat_map(move |n| {
            let node = (0..COSTS.len(), prop::collection::vec(any::<u16>(), 0..=3));
            let class = prop::collection::vec(node, 1..=3);
            (
                Just(n),
                prop::collection::vec(class, n),
                prop::collection::vec(any::<u16>(), 1..=2),
            )
        })
        .prop_map(move |(n, raw, raw_roots)| {
            let classes = raw
                .into_iter()
                .enumerate()
                .map(|(i, nodes)| {
                    nodes
                        .into_iter()
                        .map(|(ci, kids)| {
                            let kids = if cyclic {
                                kids.into_iter().map(|k| k as usize % n).collect()
                            } else if i + 1 < n {
                                kids.into_iter()
                                    .take(2)
                                    .map(|k| i + 1 + k as usize % (n - i - 1))
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            (COSTS[ci], kids)
                        })
                        .collect()
                })
                .collect();
            let roots = raw_roots.into_iter().map(|r| r as usize % n).collect();
            Spec { classes, roots }
        })
}

/// egraph-serialize JSON for `s`; `reverse` lists the nodes in reverse order.
fn to_json(s: &Spec, reverse: bool) -> String {
    let mut nodes = Vec::new();
    for (i, class) in s.classes.iter().enumerate() {
        for (k, (cost, kids)) in class.iter().enumerate() {
            let kids: Vec<String> = kids.iter().map(|j| format!("\"n{j}_0\"")).collect();
            nodes.push(format!(
                "\"n{i}_{k}\": {{\"op\": \"op{}\", \"children\": [{}], \"eclass\": \"c{i}\", \"cost\": {cost}}}",
                k % 2,
                kids.join(", ")
            ));
        }
    }
    if reverse {
        nodes.reverse();
    }
    let roots: Vec<String> = s.roots.iter().map(|r| format!("\"c{r}\"")).collect();
    format!(
        "{{\"nodes\": {{{}}}, \"root_eclasses\": [{}]}}",
        nodes.join(", "),
        roots.join(", ")
    )
}

/// Minimum tree and DAG cost over all acyclic one-node-per-class assignments
/// (`None` if there is none). Costs are non-negative, so uniform assignments are
/// enough for the optimal tree cost.
fn brute_force(g: &DenseEGraph) -> Option<(Cost, Cost)> {
    let nc = g.num_classes();
    let sizes: Vec<usize> = g.classes().map(|c| g.node_range(c).len()).collect();
    let mut pick = vec![0usize; nc];
    let mut best: Option<(Cost, Cost)> = None;
    loop {
        let mut ex = Extraction::new(nc);
        for c in g.classes() {
            ex.set(
                c,
                saturn_extract::NodeIdx((g.node_range(c).start + pick[c.index()]) as u32),
            );
        }
        if let Ok(cost) = ex.pruned(g, g.roots()).check(g, g.roots()) {
            best = Some(match best {
                None => (cost.tree, cost.dag),
                Some((t, d)) => (t.min(cost.tree), d.min(cost.dag)),
            });
        }
        // Next assignment (odometer).
        let mut i = 0;
        loop {
            if i == nc {
                return best;
            }
            pick[i] += 1;
            if pick[i] < sizes[i] {
                break;
            }
            pick[i] = 0;
            i += 1;
        }
    }
}

fn named(g: &DenseEGraph, e: &Extraction) -> Vec<(String, String)> {
    e.iter()
        .map(|(c, n)| (g.class_id(c).to_string(), g.node_id(n).to_string()))
        .collect()
}

fn check_all(s: &Spec) -> Result<(), TestCaseError> {
    let json = to_json(s, false);
    let g = DenseEGraph::from_json_str(&json).expect("generated graphs load");
    let roots: Vec<ClassIdx> = g.roots().to_vec();
    let brute = brute_force(&g);
    let g_rev = DenseEGraph::from_json_str(&to_json(s, true)).expect("generated graphs load");

    let mut dag_costs = Vec::new();
    for ex in extractors() {
        let result = ex.extract(&g, &roots);
        let Some((best_tree, best_dag)) = brute else {
            prop_assert!(
                matches!(result, Err(ExtractError::NoTerm { .. })),
                "{}: expected NoTerm, got {:?}",
                ex.name(),
                result
            );
            continue;
        };
        let e = result.map_err(|err| TestCaseError::fail(format!("{}: {err}", ex.name())))?;
        let c = e
            .check(&g, &roots)
            .map_err(|err| TestCaseError::fail(format!("{}: {err}", ex.name())))?;
        prop_assert!(c.dag >= best_dag, "{} beat brute force", ex.name());
        if ex.name() == "bottom-up" {
            prop_assert_eq!(c.tree, best_tree, "bottom-up is not tree-optimal");
        }
        // Determinism: thread count and key order do not matter.
        for threads in [1, 4] {
            let e2 = with_threads(threads, || ex.extract(&g, &roots))
                .expect("pool")
                .expect("same input succeeds");
            prop_assert_eq!(&e, &e2, "{} differs with {} threads", ex.name(), threads);
        }
        let e3 = ex
            .extract(&g_rev, g_rev.roots())
            .expect("same graph succeeds");
        prop_assert_eq!(
            named(&g, &e),
            named(&g_rev, &e3),
            "{} depends on key order",
            ex.name()
        );
        dag_costs.push((ex.name(), c.dag));
    }
    if brute.is_some() {
        // The portfolio greedy (second extractor) is never worse than bottom-up in DAG cost.
        prop_assert!(dag_costs[1].1 <= dag_costs[0].1);
    }

    #[cfg(feature = "ilp")]
    {
        use saturn_extract::{Ilp, IlpStatus};
        let ilp = Ilp::new(std::time::Duration::from_secs(20));
        match (ilp.solve(&g, &roots), brute) {
            (Err(ExtractError::NoTerm { .. }), None) => {}
            (Ok((e, status)), Some((_, best_dag))) => {
                let c = e
                    .check(&g, &roots)
                    .map_err(|err| TestCaseError::fail(format!("ilp: {err}")))?;
                prop_assert_eq!(&status, &IlpStatus::Optimal);
                prop_assert!(e.dag_optimal);
                prop_assert_eq!(c.dag, best_dag, "ILP is not optimal");
                for (name, d) in &dag_costs {
                    prop_assert!(c.dag <= *d, "ILP worse than {}", name);
                }
            }
            (r, b) => prop_assert!(false, "ilp {:?} vs brute force {:?}", r, b),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_dags(s in spec(7, false)) {
        check_all(&s)?;
    }

    #[test]
    fn random_cyclic_graphs(s in spec(6, true)) {
        check_all(&s)?;
    }

    #[test]
    fn larger_graphs_are_deterministic_across_threads(s in spec(60, true)) {
        let g = DenseEGraph::from_json_str(&to_json(&s, false)).unwrap();
        for ex in [
            &BottomUp { parallel_threshold: 1 } as &dyn Extractor,
            &GreedyDag { parallel_threshold: 1, ..GreedyDag::default() },
        ] {
            let one = with_threads(1, || ex.extract(&g, g.roots())).unwrap();
            let four = with_threads(4, || ex.extract(&g, g.roots())).unwrap();
            prop_assert_eq!(&one, &four);
            if let Ok(e) = one {
                e.check(&g, g.roots()).map_err(|err| TestCaseError::fail(err.to_string()))?;
            }
        }
    }
}
