//! Helpers shared by the integration tests.
#![allow(dead_code)]

use saturn_extract::{
    BottomUp, CheckedCost, ClassIdx, DenseEGraph, Extraction, Extractor, GreedyDag,
};

/// Builds a dense graph from inline JSON, panicking with the error message on failure.
pub fn graph(json: &str) -> DenseEGraph {
    DenseEGraph::from_json_str(json).unwrap_or_else(|e| panic!("fixture does not load: {e}"))
}

/// Class index by id.
pub fn class(g: &DenseEGraph, id: &str) -> ClassIdx {
    g.class_by_id(id).unwrap_or_else(|| panic!("no class {id}"))
}

/// The op chosen for class `id`.
pub fn chosen_op<'a>(g: &'a DenseEGraph, ex: &Extraction, id: &str) -> &'a str {
    g.op(ex.choice(class(g, id)).expect("class is chosen"))
}

/// Extractors that are always available, configured so that even tiny graphs take the
/// parallel code paths.
pub fn extractors() -> Vec<Box<dyn Extractor>> {
    vec![
        Box::new(BottomUp {
            parallel_threshold: 1,
        }),
        Box::new(GreedyDag {
            parallel_threshold: 1,
            ..GreedyDag::default()
        }),
        Box::new(GreedyDag {
            compare_with_bottom_up: false,
            ..GreedyDag::default()
        }),
    ]
}

/// Extracts with `ex` on the graph's roots and checks the result.
pub fn run(g: &DenseEGraph, ex: &dyn Extractor) -> (Extraction, CheckedCost) {
    let e = ex
        .extract(g, g.roots())
        .unwrap_or_else(|err| panic!("{} failed: {err}", ex.name()));
    let c = e
        .check(g, g.roots())
        .unwrap_or_else(|err| panic!("{} produced an invalid extraction: {err}", ex.name()));
    (e, c)
}
