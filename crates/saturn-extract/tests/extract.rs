//! Hand-written graphs: extractor behaviour, determinism, checking, I/O and errors.

mod common;

use common::{chosen_op, class, extractors, graph, run};
use saturn_extract::io::{
    extraction_to_serialized, load_dense, load_json, parse_json_str, to_json_string, to_serialized,
};
use saturn_extract::{
    dot, with_threads, BottomUp, BuildError, BuildOptions, CheckError, ClassIdx, Cost, DenseEGraph,
    ExtractError, Extraction, Extractor, GreedyDag, LoadError, NodeIdx, UnitCost, UnknownRoots,
};

/// r = f(s) (tree 6) or g(x(z), y(z)) (tree 8, DAG 5.5 because z is shared).
const SHARED: &str = r#"{
  "nodes": {
    "f": {"op": "f", "children": ["s"], "eclass": "r", "cost": 1},
    "g": {"op": "g", "children": ["x1", "y1"], "eclass": "r", "cost": 1},
    "s": {"op": "s", "children": [], "eclass": "s", "cost": 5},
    "x1": {"op": "x", "children": ["z"], "eclass": "x", "cost": 1},
    "y1": {"op": "y", "children": ["z"], "eclass": "y", "cost": 1},
    "z": {"op": "z", "children": [], "eclass": "z", "cost": 2.5}
  },
  "root_eclasses": ["r"]
}"#;

/// a = f(a) | h(b) ; b = g(a) | leaf(cost 10) ; root a. Contains the cycles a->a and a->b->a.
const CYCLE: &str = r#"{
  "nodes": {
    "a_f": {"op": "f", "children": ["a_f"], "eclass": "a", "cost": 0},
    "a_h": {"op": "h", "children": ["b_g"], "eclass": "a", "cost": 1},
    "b_g": {"op": "g", "children": ["a_h"], "eclass": "b", "cost": 0},
    "b_l": {"op": "leaf", "children": [], "eclass": "b", "cost": 10}
  },
  "root_eclasses": ["a"]
}"#;

#[test]
fn tree_choice_and_costs() {
    let g = graph(SHARED);
    let (ex, c) = run(&g, &BottomUp::default());
    assert_eq!(chosen_op(&g, &ex, "r"), "f");
    assert_eq!((c.tree.get(), c.dag.get()), (6.0, 6.0));
    assert_eq!(ex.reported_tree, Some(c.tree));
    // Only needed classes are in the extraction.
    assert_eq!(ex.len(), 2);
    assert!(ex.choice(class(&g, "z")).is_none());
}

#[test]
fn dag_beats_tree_on_shared_subterm() {
    let g = graph(SHARED);
    let (_, bu) = run(&g, &BottomUp::default());
    for ex in extractors().iter().skip(1) {
        let (e, c) = run(&g, ex.as_ref());
        assert_eq!(chosen_op(&g, &e, "r"), "g", "{}", ex.name());
        assert_eq!((c.tree.get(), c.dag.get()), (8.0, 5.5));
        assert!(c.dag < bu.dag);
        assert_eq!(e.reported_dag, Some(c.dag));
    }
}

#[test]
fn cycles_are_never_extracted() {
    let g = graph(CYCLE);
    for ex in extractors() {
        let (e, c) = run(&g, ex.as_ref());
        // The only acyclic term is h(leaf) = 11.
        assert_eq!(chosen_op(&g, &e, "a"), "h", "{}", ex.name());
        assert_eq!(chosen_op(&g, &e, "b"), "leaf", "{}", ex.name());
        assert_eq!(c.dag.get(), 11.0);
    }
}

#[test]
fn class_with_only_cyclic_terms_is_an_error() {
    let g = graph(
        r#"{"nodes": {
            "n": {"op": "f", "children": ["n"], "eclass": "a"},
            "m": {"op": "g", "children": ["n"], "eclass": "b"}},
          "root_eclasses": ["b"]}"#,
    );
    for ex in extractors() {
        match ex.extract(&g, g.roots()) {
            Err(ExtractError::NoTerm { class }) => assert_eq!(class, "b"),
            other => panic!("{}: expected NoTerm, got {other:?}", ex.name()),
        }
    }
}

#[test]
fn missing_cost_defaults_to_one() {
    let g = graph(
        r#"{"nodes": {
            "p": {"op": "+", "children": ["x", "x"], "eclass": "r"},
            "x": {"op": "x", "eclass": "v"}},
          "root_eclasses": ["r"]}"#,
    );
    let p = g.node_by_id("p").unwrap();
    assert_eq!(g.cost(p), Cost::ONE);
    assert_eq!(g.input_cost(p), Cost::ONE);
    let (_, c) = run(&g, &BottomUp::default());
    assert_eq!((c.tree.get(), c.dag.get()), (3.0, 2.0));
}

#[test]
fn root_naming_a_node_resolves_to_its_class() {
    let json = r#"{"nodes": {
        "n1": {"op": "a", "children": [], "eclass": "c1"},
        "n2": {"op": "b", "children": ["n1"], "eclass": "c2"}},
      "root_eclasses": ["n2", "c2"]}"#;
    let g = graph(json);
    assert_eq!(g.roots(), &[class(&g, "c2")]);
    let rep = g.root_report();
    assert_eq!(rep.via_node, vec![("n2".to_string(), "c2".to_string())]);
    assert_eq!(rep.duplicates, 1);
    let (e, _) = run(&g, &GreedyDag::default());
    assert_eq!(chosen_op(&g, &e, "c2"), "b");
}

#[test]
fn unknown_roots_error_or_are_dropped() {
    let json = r#"{"nodes": {"n1": {"op": "a", "children": [], "eclass": "c1"}},
                  "root_eclasses": ["7", "c1"]}"#;
    match DenseEGraph::from_json_str(json) {
        Err(LoadError::Invalid {
            source: BuildError::UnknownRoot { root },
            ..
        }) => assert_eq!(root, "7"),
        other => panic!("expected UnknownRoot, got {other:?}"),
    }
    let eg = parse_json_str(json, "t.json".as_ref()).unwrap();
    let g = DenseEGraph::from_serialized_with(&eg, &BuildOptions::lenient()).unwrap();
    assert_eq!(g.root_report().dropped, vec!["7".to_string()]);
    assert_eq!(g.roots().len(), 1);

    // Node-id resolution can be switched off.
    let strict = BuildOptions {
        roots_may_name_nodes: false,
        unknown_roots: UnknownRoots::Error,
    };
    let eg = parse_json_str(
        r#"{"nodes": {"n1": {"op": "a", "eclass": "c1"}}, "root_eclasses": ["n1"]}"#,
        "t.json".as_ref(),
    )
    .unwrap();
    assert!(matches!(
        DenseEGraph::from_serialized_with(&eg, &strict),
        Err(BuildError::UnknownRoot { .. })
    ));

    // All roots unknown: NoRoots under `Drop`.
    let drop = BuildOptions {
        unknown_roots: UnknownRoots::Drop,
        ..BuildOptions::default()
    };
    let eg = parse_json_str(
        r#"{"nodes": {"n1": {"op": "a", "eclass": "c1"}}, "root_eclasses": ["x", "y"]}"#,
        "t.json".as_ref(),
    )
    .unwrap();
    assert_eq!(
        DenseEGraph::from_serialized_with(&eg, &drop).unwrap_err(),
        BuildError::NoRoots {
            listed: 2,
            dropped: 2
        }
    );
    // ... but lenient infers the only (top-level) class.
    let g = DenseEGraph::from_serialized_with(&eg, &BuildOptions::lenient()).unwrap();
    assert_eq!(g.roots(), &[class(&g, "c1")]);
    assert_eq!(g.root_report().inferred, vec!["c1".to_string()]);
    // No root listed at all: nothing to infer from, even when lenient.
    let eg = parse_json_str(
        r#"{"nodes": {"n1": {"op": "a", "eclass": "c1"}}, "root_eclasses": []}"#,
        "t.json".as_ref(),
    )
    .unwrap();
    assert!(matches!(
        DenseEGraph::from_serialized_with(&eg, &BuildOptions::lenient()),
        Err(BuildError::NoRoots { listed: 0, .. })
    ));
}

const INFER: BuildOptions = BuildOptions {
    roots_may_name_nodes: true,
    unknown_roots: UnknownRoots::InferTopLevel,
};

/// Roots of `json` under [`UnknownRoots::InferTopLevel`], with the report's lists.
fn inferred_roots(json: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let eg = parse_json_str(json, "t.json".as_ref()).unwrap();
    let g = DenseEGraph::from_serialized_with(&eg, &INFER).unwrap();
    for ex in extractors() {
        run(&g, ex.as_ref());
    }
    let roots = g
        .roots()
        .iter()
        .map(|&c| g.class_id(c).to_string())
        .collect();
    let rep = g.root_report();
    (roots, rep.dropped.clone(), rep.inferred.clone())
}

/// `top = f(mid, leaf)`, `mid = g(leaf)`, `leaf`; the listed root `7` was merged away.
const MERGED_ROOT: &str = r#"{"nodes": {
    "t": {"op": "f", "children": ["m", "l"], "eclass": "top", "cost": 1},
    "m": {"op": "g", "children": ["l"], "eclass": "mid", "cost": 1},
    "m2": {"op": "g2", "children": ["m"], "eclass": "mid", "cost": 1},
    "l": {"op": "leaf", "children": [], "eclass": "leaf", "cost": 1}},
  "root_eclasses": ["7"]}"#;

#[test]
fn infer_top_level_uses_the_parentless_class() {
    let (roots, dropped, inferred) = inferred_roots(MERGED_ROOT);
    // `mid` references itself (m2 -> m) but is referenced by `top`: not top-level.
    assert_eq!(roots, vec!["top"]);
    assert_eq!(dropped, vec!["7"]);
    assert_eq!(inferred, vec!["top"]);
    // The default policy refuses the file.
    match DenseEGraph::from_json_str(MERGED_ROOT) {
        Err(LoadError::Invalid {
            source: BuildError::UnknownRoot { root },
            ..
        }) => assert_eq!(root, "7"),
        other => panic!("expected UnknownRoot, got {other:?}"),
    }
    assert_eq!(BuildOptions::default().unknown_roots, UnknownRoots::Error);
    assert_eq!(
        BuildOptions::lenient().unknown_roots,
        UnknownRoots::InferTopLevel
    );
}

#[test]
fn infer_top_level_keeps_resolved_roots_and_adds_each_top_class_once() {
    // Two top-level classes (`b` and `a`), one of them listed; the unknown root is
    // replaced by both, the listed one is not repeated, order: listed, then canonical.
    let json = r#"{"nodes": {
        "x": {"op": "x", "children": ["l"], "eclass": "b"},
        "y": {"op": "y", "children": ["l"], "eclass": "a"},
        "l": {"op": "l", "children": [], "eclass": "leaf"}},
      "root_eclasses": ["b", "gone"]}"#;
    let (roots, dropped, inferred) = inferred_roots(json);
    assert_eq!(roots, vec!["b", "a"]);
    assert_eq!(dropped, vec!["gone"]);
    assert_eq!(inferred, vec!["a"]);
    // Without unknown roots nothing is inferred.
    let json = json.replace(r#", "gone""#, "");
    let (roots, dropped, inferred) = inferred_roots(&json);
    assert_eq!(roots, vec!["b"]);
    assert!(dropped.is_empty() && inferred.is_empty());
}

#[test]
fn infer_top_level_on_cycles_takes_smallest_class_of_each_source_component() {
    // {c2, c10} form a top cycle (c2 <-> c10) with a leaf exit and reference `d`;
    // {d, e} is a cycle below it. Only the top cycle is a source component; its
    // smallest class in natural order is `c2` (not `c10`).
    let json = r#"{"nodes": {
        "n10": {"op": "p", "children": ["n2"], "eclass": "c10"},
        "n10b": {"op": "q", "children": ["nd"], "eclass": "c10"},
        "n2": {"op": "r", "children": ["n10"], "eclass": "c2"},
        "n2b": {"op": "leaf", "children": [], "eclass": "c2"},
        "nd": {"op": "s", "children": ["ne"], "eclass": "d"},
        "ndl": {"op": "leaf", "children": [], "eclass": "d"},
        "ne": {"op": "t", "children": ["nd"], "eclass": "e"}},
      "root_eclasses": ["99"]}"#;
    let (roots, _, inferred) = inferred_roots(json);
    assert_eq!(roots, vec!["c2"]);
    assert_eq!(inferred, vec!["c2"]);
    // Every class is reachable from the inferred roots.
    let eg = parse_json_str(json, "t.json".as_ref()).unwrap();
    let g = DenseEGraph::from_serialized_with(&eg, &INFER).unwrap();
    assert!(g.reachable_mask(g.roots()).iter().all(|&r| r));
    // A disconnected parentless class is a second top-level class.
    let json = json.replace(
        r#""ne": {"#,
        r#""z": {"op": "z", "children": [], "eclass": "alone"}, "ne": {"#,
    );
    assert_eq!(inferred_roots(&json).0, vec!["alone", "c2"]);
}

#[test]
fn inferred_roots_do_not_depend_on_key_order() {
    // The same graph as MERGED_ROOT plus a second top-level class, keys permuted.
    let a = r#"{"nodes": {
        "t": {"op": "f", "children": ["m", "l"], "eclass": "top"},
        "m": {"op": "g", "children": ["l"], "eclass": "mid"},
        "u": {"op": "u", "children": ["l"], "eclass": "10"},
        "l": {"op": "leaf", "children": [], "eclass": "leaf"},
        "v": {"op": "v", "children": ["m"], "eclass": "9"}},
      "root_eclasses": ["7", "8"]}"#;
    let b = r#"{"root_eclasses": ["7", "8"], "nodes": {
        "v": {"eclass": "9", "children": ["m"], "op": "v"},
        "l": {"children": [], "op": "leaf", "eclass": "leaf"},
        "u": {"op": "u", "eclass": "10", "children": ["l"]},
        "m": {"eclass": "mid", "op": "g", "children": ["l"]},
        "t": {"children": ["m", "l"], "eclass": "top", "op": "f"}}}"#;
    let ra = inferred_roots(a);
    assert_eq!(ra.0, vec!["9", "10", "top"]);
    assert_eq!(ra, inferred_roots(b));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let cases: &[(&str, &str)] = &[
        ("{}", "missing field `nodes`"),
        (r#"{"nodes": {}, "root_eclasses": ["a"]}"#, "empty"),
        (
            r#"{"nodes": {"n": {"op": "f", "children": ["ghost"], "eclass": "a"}}, "root_eclasses": ["a"]}"#,
            "`ghost`",
        ),
        (
            r#"{"nodes": {"n": {"op": "f", "eclass": "a"}}}"#,
            "no usable root",
        ),
        (
            r#"{"nodes": {"n": {"op": "f", "eclass": "a"}}, "root_eclasses": ["zz"]}"#,
            "`zz`",
        ),
        (r#"{"nodes": {"n": {"op": "f"}}}"#, "eclass"),
        (
            r#"{"nodes": {"n": {"op": "f", "eclass": "a", "cost": "x"}}}"#,
            "<string>:1:54:",
        ),
        ("[1, 2", "expected an egraph-serialize e-graph"),
        (
            "{\"nodes\": {\"a\": {\"op\": \"f\", \"eclass\": \"c\"},\n  \"a\": {\"op\": \"g\", \"eclass\": \"c\"}}}",
            "<string>:2:5: invalid egraph-serialize JSON: node id `a` appears twice",
        ),
        (
            r#"{"nodes": {"a": {"op": "f", "eclass": "c"}}, "class_data": {"c": {"type": "t"}, "c": {}}}"#,
            "class id `c` appears twice",
        ),
        (r#"{"nodes": {}, "nodes": {}}"#, "duplicate field `nodes`"),
        (r#"{"root_eclasses": [], "root_eclasses": []}"#, "duplicate field `root_eclasses`"),
        (r#"{"nodes": {"n": {"op": "f", "eclass": "a"}"#, "EOF"),
    ];
    for (json, needle) in cases {
        let err = DenseEGraph::from_json_str(json).expect_err(json);
        let msg = err.to_string();
        assert!(
            msg.contains(needle) || format!("{err:?}").contains(needle),
            "{json}: message `{msg}` lacks `{needle}`"
        );
    }
}

#[test]
fn json_errors_carry_path_line_and_column() {
    let dir = std::env::temp_dir().join(format!("saturn-extract-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\n  \"nodes\": {\n    \"a\": {\"op\": 3}\n  }\n}\n").unwrap();
    let err = load_json(&path).unwrap_err();
    match &err {
        LoadError::Json { line, column, .. } => {
            assert_eq!(*line, 3);
            assert!(*column > 0);
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:3:", path.display())), "{msg}");
    assert_eq!(err.path(), path.as_path());

    // Dangling child: path in the message.
    std::fs::write(
        &path,
        r#"{"nodes": {"n": {"op": "f", "children": ["m"], "eclass": "a"}}, "root_eclasses": ["a"]}"#,
    )
    .unwrap();
    let err = load_dense(&path, &BuildOptions::default()).unwrap_err();
    assert!(matches!(
        err,
        LoadError::Invalid {
            source: BuildError::DanglingChild { .. },
            ..
        }
    ));
    // At the dangling id: line 1, column 42.
    assert!(
        err.to_string()
            .starts_with(&format!("{}:1:42: invalid e-graph", path.display())),
        "{err}"
    );

    // Missing file.
    let err = load_dense(dir.join("missing.json"), &BuildOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }));
    assert!(err.to_string().contains("missing.json"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_tree_cost_that_overflows_is_its_own_error() {
    // c0 = leaf, c{k} = (f c{k-1} c{k-1}): a DAG of 1,101 nodes whose tree
    // has 2^1101 - 1 nodes, past f64::MAX.
    let mut nodes = vec![r#""n0": {"op": "leaf", "children": [], "eclass": "c0"}"#.to_string()];
    for k in 1..=1100 {
        nodes.push(format!(
            r#""n{k}": {{"op": "f", "children": ["n{p}", "n{p}"], "eclass": "c{k}"}}"#,
            p = k - 1
        ));
    }
    let json = format!(
        r#"{{"nodes": {{{}}}, "root_eclasses": ["c1100"]}}"#,
        nodes.join(", ")
    );
    let g = graph(&json);
    match BottomUp::default().extract(&g, g.roots()) {
        Err(e @ ExtractError::TreeCostOverflow { .. }) => {
            assert!(e.to_string().contains("`c1100` has terms"), "{e}")
        }
        other => panic!("expected TreeCostOverflow, got {other:?}"),
    }
    // The DAG is cheap: a DAG-cost extractor takes it.
    let (e, _) = run(&g, &GreedyDag::default());
    assert_eq!(e.check(&g, g.roots()).unwrap().dag.get(), 1101.0);
    // A cycle with no way out is still "no term".
    let g = graph(
        r#"{"nodes": {"a": {"op": "f", "children": ["a"], "eclass": "c"}}, "root_eclasses": ["c"]}"#,
    );
    assert!(matches!(
        BottomUp::default().extract(&g, g.roots()),
        Err(ExtractError::NoTerm { .. })
    ));
}

#[test]
fn structural_errors_are_at_what_they_name() {
    let at = |json: &str| match DenseEGraph::from_json_str(json).unwrap_err() {
        LoadError::Invalid { line, column, .. } => (line, column),
        other => panic!("expected a structural error, got {other:?}"),
    };
    // The dangling child id itself, also when the node's key and the id
    // are written with escapes, and not the same text earlier (node `a`'s
    // op is `zzz` too).
    let dangling = "{\"nodes\": {\n  \"a\": {\"op\": \"zzz\", \"eclass\": \"c1\"},\n  \"\\u0062\": {\"op\": \"f\", \"children\": [\"a\", \"z\\u007a\"], \"eclass\": \"c2\"}\n},\n\"root_eclasses\": [\"c2\"]}";
    assert_eq!(at(dangling), (3, 43), "{dangling}");
    // The unknown root among the roots.
    let root = "{\"nodes\": {\"a\": {\"op\": \"x\", \"eclass\": \"c1\"}},\n \"root_eclasses\": [\"c1\",\n   \"gone\"]}";
    assert_eq!(at(root), (3, 4), "{root}");
    // The message: path, line, column.
    let err = DenseEGraph::from_json_str(root).unwrap_err().to_string();
    assert!(
        err.starts_with("<string>:3:4: invalid e-graph: root `gone`"),
        "{err}"
    );
    // Columns count characters, in syntax errors too (serde_json counts
    // bytes): two-byte `é`s before the error do not move it.
    let col = |op: &str| match DenseEGraph::from_json_str(&format!(
        r#"{{"nodes": {{"a": {{"op": "{op}", "eclass": "c", "cost": "x"}}}}}}"#
    ))
    .unwrap_err()
    {
        LoadError::Json { line, column, .. } => (line, column),
        other => panic!("expected a JSON error, got {other:?}"),
    };
    assert_eq!(col("ééé"), col("aaa"));
    assert_eq!(col("aaa"), (1, 56));
    // Nothing in particular: no position, and none in the message.
    assert_eq!(at(r#"{"nodes": {}}"#), (0, 0));
    let err = DenseEGraph::from_json_str(r#"{"nodes": {}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("<string>: invalid e-graph: the e-graph is empty"),
        "{err}"
    );
}

#[test]
fn ties_are_broken_by_op_then_children_then_id_not_by_file_order() {
    // Same cost everywhere; "alpha" < "beta" by op, regardless of ids and order.
    let a = r#"{"nodes": {
        "z9": {"op": "beta", "children": [], "eclass": "r"},
        "a1": {"op": "alpha", "children": [], "eclass": "r"}},
      "root_eclasses": ["r"]}"#;
    let b = r#"{"nodes": {
        "a1": {"op": "beta", "children": [], "eclass": "r"},
        "z9": {"op": "alpha", "children": [], "eclass": "r"}},
      "root_eclasses": ["r"]}"#;
    for json in [a, b] {
        let g = graph(json);
        for ex in extractors() {
            let (e, _) = run(&g, ex.as_ref());
            assert_eq!(chosen_op(&g, &e, "r"), "alpha");
        }
    }
    // Same op: the children's classes decide (class "1" < class "2"), then node id.
    let c = r#"{"nodes": {
        "p": {"op": "f", "children": ["y"], "eclass": "r"},
        "q": {"op": "f", "children": ["x"], "eclass": "r"},
        "x": {"op": "x", "eclass": "1"},
        "y": {"op": "y", "eclass": "2"}},
      "root_eclasses": ["r"]}"#;
    let g = graph(c);
    for ex in extractors() {
        let (e, _) = run(&g, ex.as_ref());
        assert_eq!(g.node_id(e.choice(class(&g, "r")).unwrap()), "q");
    }
}

#[test]
fn results_do_not_depend_on_key_order_or_threads() {
    // The same graph with nodes listed in two different orders.
    let fwd = r#"{"nodes": {
        "1": {"op": "f", "children": ["2", "3"], "eclass": "r"},
        "4": {"op": "g", "children": ["3"], "eclass": "r", "cost": 2},
        "2": {"op": "a", "eclass": "x"}, "5": {"op": "b", "eclass": "x"},
        "3": {"op": "c", "children": ["2"], "eclass": "y"}, "6": {"op": "d", "eclass": "y"}},
      "root_eclasses": ["r"]}"#;
    let rev = r#"{"nodes": {
        "6": {"op": "d", "eclass": "y"}, "3": {"op": "c", "children": ["2"], "eclass": "y"},
        "5": {"op": "b", "eclass": "x"}, "2": {"op": "a", "eclass": "x"},
        "4": {"op": "g", "children": ["3"], "eclass": "r", "cost": 2},
        "1": {"op": "f", "children": ["2", "3"], "eclass": "r"}},
      "root_eclasses": ["r"]}"#;
    let named = |g: &DenseEGraph, e: &Extraction| -> Vec<(String, String)> {
        e.iter()
            .map(|(c, n)| (g.class_id(c).to_string(), g.node_id(n).to_string()))
            .collect()
    };
    for ex in extractors() {
        let g1 = graph(fwd);
        let g2 = graph(rev);
        let e1 = run(&g1, ex.as_ref()).0;
        let e2 = run(&g2, ex.as_ref()).0;
        assert_eq!(named(&g1, &e1), named(&g2, &e2), "{}", ex.name());
        for threads in [1, 2, 4] {
            let e3 = with_threads(threads, || ex.extract(&g1, g1.roots()))
                .unwrap()
                .unwrap();
            assert_eq!(e1, e3, "{} with {threads} threads", ex.name());
        }
    }
}

#[test]
fn subsumed_nodes_are_never_chosen() {
    let g = graph(
        r#"{"nodes": {
            "cheap": {"op": "cheap", "eclass": "r", "cost": 1, "subsumed": true},
            "dear": {"op": "dear", "eclass": "r", "cost": 9}},
          "root_eclasses": ["r"]}"#,
    );
    for ex in extractors() {
        let (e, c) = run(&g, ex.as_ref());
        assert_eq!(chosen_op(&g, &e, "r"), "dear");
        assert_eq!(c.dag.get(), 9.0);
    }
}

#[test]
fn negative_costs() {
    // Acyclic with negative costs (maxsat-like): fine, sharing counted once.
    let g = graph(
        r#"{"nodes": {
            "r1": {"op": "pair", "children": ["a", "a"], "eclass": "r", "cost": 0},
            "a": {"op": "a", "eclass": "x", "cost": -1},
            "b": {"op": "b", "eclass": "x", "cost": 2}},
          "root_eclasses": ["r"]}"#,
    );
    assert!(g.has_negative_costs());
    for ex in extractors() {
        let (_, c) = run(&g, ex.as_ref());
        assert_eq!((c.tree.get(), c.dag.get()), (-2.0, -1.0));
    }
    // A negative cycle makes the tree cost unbounded: reported, not looped on.
    let g = graph(
        r#"{"nodes": {
            "f": {"op": "f", "children": ["g"], "eclass": "a", "cost": -1},
            "l": {"op": "l", "eclass": "a", "cost": 0},
            "g": {"op": "g", "children": ["f"], "eclass": "b", "cost": 0},
            "k": {"op": "k", "eclass": "b", "cost": 5}},
          "root_eclasses": ["a"]}"#,
    );
    assert!(matches!(
        BottomUp::default().extract(&g, g.roots()),
        Err(ExtractError::Unbounded { .. })
    ));
    // Greedy still returns a valid (acyclic) extraction.
    let (_, c) = run(&g, &GreedyDag::default());
    assert!(c.dag.get() <= 0.0);
}

#[test]
fn cost_models() {
    let mut g = graph(SHARED);
    g.apply_cost_model(&UnitCost).unwrap();
    let (_, c) = run(&g, &BottomUp::default());
    assert_eq!(c.tree.get(), 2.0); // f(s)
    let bad = |_: &DenseEGraph, _: NodeIdx| Cost::new(f64::NEG_INFINITY).unwrap();
    assert!(matches!(
        g.apply_cost_model(&bad),
        Err(BuildError::InvalidCost { .. })
    ));
    // Failed application leaves costs unchanged.
    assert_eq!(g.cost(NodeIdx(0)), Cost::ONE);
}

#[test]
fn check_detects_invalid_extractions() {
    let g = graph(SHARED);
    let roots = g.roots().to_vec();
    let r = class(&g, "r");
    let node = |id: &str| g.node_by_id(id).unwrap();

    let empty = Extraction::new(g.num_classes());
    assert!(matches!(
        empty.check(&g, &roots),
        Err(CheckError::MissingRoot { .. })
    ));

    let mut wrong = Extraction::new(g.num_classes());
    wrong.set(r, node("s"));
    assert!(matches!(
        wrong.check(&g, &roots),
        Err(CheckError::WrongClass { .. })
    ));

    let mut open = Extraction::new(g.num_classes());
    open.set(r, node("g"));
    open.set(class(&g, "x"), node("x1"));
    open.set(class(&g, "z"), node("z"));
    match open.check(&g, &roots) {
        Err(CheckError::MissingChild { child, .. }) => assert_eq!(child, "y"),
        other => panic!("expected MissingChild, got {other:?}"),
    }

    let mut lying = BottomUp::default().extract(&g, &roots).unwrap();
    lying.reported_tree = Some(Cost::new(1.0).unwrap());
    assert!(matches!(
        lying.check(&g, &roots),
        Err(CheckError::CostMismatch { kind: "tree", .. })
    ));

    assert!(matches!(
        Extraction::new(1).check(&g, &roots),
        Err(CheckError::WrongSize { .. })
    ));
    assert!(matches!(
        BottomUp::default().extract(&g, &[ClassIdx(99)]),
        Err(ExtractError::RootOutOfRange { .. })
    ));

    let cyc = graph(CYCLE);
    let mut looped = Extraction::new(cyc.num_classes());
    looped.set(class(&cyc, "a"), cyc.node_by_id("a_h").unwrap());
    looped.set(class(&cyc, "b"), cyc.node_by_id("b_g").unwrap());
    match looped.check(&cyc, cyc.roots()) {
        Err(CheckError::Cycle { cycle }) => assert_eq!(cycle, ["a", "b", "a"]),
        other => panic!("expected a cycle, got {other:?}"),
    }

    let sub = graph(
        r#"{"nodes": {"n": {"op": "f", "eclass": "a", "subsumed": true}}, "root_eclasses": ["a"]}"#,
    );
    let mut e = Extraction::new(1);
    e.set(ClassIdx(0), NodeIdx(0));
    assert!(matches!(
        e.check(&sub, sub.roots()),
        Err(CheckError::InfiniteCost { .. })
    ));
}

#[test]
fn export_round_trips() {
    let g = graph(SHARED);
    // Whole graph.
    let json = to_json_string(&to_serialized(&g));
    let g2 = graph(&json);
    assert_eq!(g2.num_nodes(), g.num_nodes());
    assert_eq!(g2.num_classes(), g.num_classes());
    for n in 0..g.num_nodes() as u32 {
        let n = NodeIdx(n);
        assert_eq!(g.node_id(n), g2.node_id(n));
        assert_eq!(g.op(n), g2.op(n));
        assert_eq!(g.children(n), g2.children(n));
        assert_eq!(g.cost(n), g2.cost(n));
    }
    // Extracted DAG: re-extracting it gives the same DAG cost.
    let (e, c) = run(&g, &GreedyDag::default());
    let eg = extraction_to_serialized(&g, &e, g.roots());
    assert_eq!(eg.nodes.len(), e.len());
    let g3 = graph(&to_json_string(&eg));
    let (_, c3) = run(&g3, &BottomUp::default());
    assert_eq!(c3.dag, c.dag);
    assert_eq!(c3.tree, c.tree);
}

#[test]
fn dot_export_has_clusters_and_highlights() {
    let g = graph(SHARED);
    let (e, _) = run(&g, &GreedyDag::default());
    let d = dot::to_dot(&g, Some(&e));
    assert_eq!(d.matches("subgraph cluster_").count(), g.num_classes());
    assert_eq!(d.matches("fillcolor=lightblue").count(), e.len());
    let only = dot::to_dot_with(
        &g,
        &dot::DotOptions {
            extraction: Some(&e),
            only_extracted: true,
        },
    );
    assert_eq!(only.matches("subgraph cluster_").count(), e.len());
    assert!(!only.contains("label=\"f\""));
}

#[test]
fn multiple_and_duplicate_roots() {
    let g = graph(SHARED);
    let roots = [class(&g, "x"), class(&g, "y"), class(&g, "x")];
    for ex in extractors() {
        let e = ex.extract(&g, &roots).unwrap();
        let c = e.check(&g, &roots).unwrap();
        // x(z) + y(z): tree counts z twice, the DAG once.
        assert_eq!((c.tree.get(), c.dag.get()), (7.0, 4.5), "{}", ex.name());
    }
}
