//! Harness for the `json_loader` target.
//!
//! Depends only on `saturn-extract`, so that
//! `crates/saturn-extract/tests/fuzz_regressions.rs` can include it with `#[path]`.

use std::path::Path;

use saturn_extract::io::{parse_json_str, to_json_string, to_serialized};
use saturn_extract::{
    with_threads, BottomUp, BuildOptions, DenseEGraph, Extraction, Extractor, GreedyDag,
};

/// What the harness did with an input (a bug panics instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// The input was loaded (extractions may still have failed cleanly).
    Loaded,
    /// The loader rejected it with an error.
    Rejected,
}

/// Extracts with `x` on 1 and on 2 threads: same result (or same error),
/// and a successful extraction passes [`Extraction::check`].
fn extract_and_check(g: &DenseEGraph, x: &impl Extractor, name: &str) {
    let roots = g.roots().to_vec();
    let one: Result<Extraction, _> = with_threads(1, || x.extract(g, &roots)).expect("pool");
    let two: Result<Extraction, _> = with_threads(2, || x.extract(g, &roots)).expect("pool");
    assert_eq!(one, two, "{name}: 1 and 2 threads disagree");
    match one {
        Ok(ex) => {
            if let Err(e) = ex.check(g, &roots) {
                panic!("{name}: extraction returned Ok but fails its check: {e}");
            }
            let _ = saturn_extract::io::extraction_to_serialized(g, &ex, &roots);
            let _ = saturn_extract::dot::to_dot(g, Some(&ex));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Arbitrary bytes as egraph-serialize JSON: loading (strict, then
/// lenient) never panics; a loaded graph is extracted bottom-up and
/// greedily on 1 and 2 threads and checked, and it survives a JSON round
/// trip with the same number of classes and nodes.
pub fn json_loader(data: &[u8]) -> Loaded {
    let Ok(text) = std::str::from_utf8(data) else {
        return Loaded::Rejected;
    };
    let g = match DenseEGraph::from_json_str(text) {
        Ok(g) => g,
        Err(e) => {
            let _ = e.to_string();
            let Ok(eg) = parse_json_str(text, Path::new("fuzz.json")) else {
                return Loaded::Rejected;
            };
            match DenseEGraph::from_serialized_with(&eg, &BuildOptions::lenient()) {
                Ok(g) => g,
                Err(e) => {
                    let _ = e.to_string();
                    return Loaded::Rejected;
                }
            }
        }
    };
    extract_and_check(&g, &BottomUp::default(), "bottom-up");
    extract_and_check(&g, &GreedyDag::default(), "greedy-dag");

    let json = to_json_string(&to_serialized(&g));
    let back = DenseEGraph::from_json_str(&json)
        .unwrap_or_else(|e| panic!("round trip of a loaded graph does not load: {e}\n{json}"));
    assert_eq!(
        (back.num_classes(), back.num_nodes(), back.roots().len()),
        (g.num_classes(), g.num_nodes(), g.roots().len()),
        "round trip changed the graph"
    );
    Loaded::Loaded
}
