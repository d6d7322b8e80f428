//! `saturn extract`: extraction over an egraph-serialize JSON file.
//!
//! Roots naming nodes are resolved to their class. A root that names
//! neither a class nor a node is an error by default, as in
//! `saturn_extract` (a mistyped root would otherwise extract terms nobody
//! asked for); `--unknown-roots infer` replaces such roots by the
//! inferred top-level classes (what extraction-gym's `lean-egg` files,
//! written with roots merged away before serialization, need), and
//! `--unknown-roots drop` drops them; both are reported. The chosen
//! extractor runs on a pool of `--threads` threads, the result is checked
//! (`Extraction::check`: closed, acyclic, costs recomputed), and the tree
//! and DAG costs and the chosen node of each root class are printed (or a
//! JSON object with `--json`). Errors carry the path, and line and column
//! for JSON syntax errors.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use saturn_extract::io::load_dense;
use saturn_extract::{
    with_threads, BottomUp, BuildError, BuildOptions, Extractor, GreedyDag, LoadError, UnknownRoots,
};
use serde::Serialize;

/// The extractors the CLI offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Optimal tree cost (parallel Bellman-Ford rounds).
    BottomUp,
    /// DAG-aware greedy (cost sets).
    GreedyDag,
}

/// What `saturn extract` does with a root id that names neither a class
/// nor a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RootsPolicy {
    /// Fail, naming the root and where the file lists it.
    Error,
    /// Extract from the top-level classes instead (every class, the
    /// unknown root's own included, is reachable from them); reported.
    Infer,
    /// Drop it (an error if no root is left); reported.
    Drop,
}

#[derive(Serialize)]
struct RootJson<'a> {
    class: &'a str,
    node: &'a str,
    op: &'a str,
}

#[derive(Serialize)]
struct ResultJson<'a> {
    file: String,
    extractor: &'static str,
    /// `null` when it overflows `f64` (JSON has no infinity).
    tree_cost: Option<f64>,
    dag_cost: f64,
    classes: usize,
    nodes_in_graph: usize,
    classes_in_graph: usize,
    inferred_roots: &'a [String],
    dropped_roots: &'a [String],
    roots: Vec<RootJson<'a>>,
    /// Every chosen (class, node) pair, in class order.
    choices: Vec<(&'a str, &'a str)>,
}

/// An id or operator as the text output shows it: as is, or quoted with
/// Rust's escapes when it is empty or holds whitespace, control characters
/// or a quote, which would break the line-and-space layout.
fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        format!("\"{}\"", s.escape_debug()).into()
    } else {
        s.into()
    }
}

/// Runs `saturn extract`. `jobserver`: when present, threads beyond the
/// first need a token (taken without blocking, given back afterwards).
pub fn run(
    path: &Path,
    which: Which,
    roots: RootsPolicy,
    threads: usize,
    json: bool,
    jobserver: Option<&jobserver::Client>,
) -> Result<(), String> {
    let options = BuildOptions {
        roots_may_name_nodes: true,
        unknown_roots: match roots {
            RootsPolicy::Error => UnknownRoots::Error,
            RootsPolicy::Infer => UnknownRoots::InferTopLevel,
            RootsPolicy::Drop => UnknownRoots::Drop,
        },
    };
    let g = load_dense(path, &options).map_err(|e| match e {
        LoadError::Invalid {
            source: BuildError::UnknownRoot { .. },
            ..
        } => format!(
            "{e}; --unknown-roots infer extracts from the top-level classes instead, \
             --unknown-roots drop leaves it out"
        ),
        e => e.to_string(),
    })?;
    let roots = g.roots().to_vec();
    // Under a jobserver, a token for each thread beyond the first, taken
    // without blocking (a blocking wait could deadlock with other jobs
    // doing the same); with fewer tokens, fewer threads (the result does not
    // depend on the thread count). Pipe jobservers that cannot be read
    // without blocking give one thread.
    let mut tokens = vec![];
    if let Some(c) = jobserver {
        while tokens.len() + 1 < threads.max(1) {
            match c.try_acquire() {
                Ok(Some(a)) => tokens.push(a),
                _ => break,
            }
        }
    }
    let threads = if jobserver.is_some() {
        tokens.len() + 1
    } else {
        threads.max(1)
    };
    let t0 = Instant::now();
    let ex = with_threads(threads, || match which {
        Which::BottomUp => BottomUp::default().extract(&g, &roots),
        Which::GreedyDag => GreedyDag::default().extract(&g, &roots),
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{}: extraction failed: {e}", path.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    drop(tokens);
    let name = match which {
        Which::BottomUp => "bottom-up",
        Which::GreedyDag => "greedy-dag",
    };
    let cost = ex
        .check(&g, &roots)
        .map_err(|e| format!("{}: extraction does not check: {e}", path.display()))?;
    // Every node cost is finite (the loader checks), but sums can pass
    // f64::MAX. A tree cost that does is reported as such (a DAG shared
    // enough has an astronomical tree cost but a fine DAG cost); a DAG
    // cost that does leaves nothing to compare extractions by.
    if !cost.dag.get().is_finite() {
        return Err(format!(
            "{}: {name}: the DAG cost of the extraction overflows (past {:e}): \
             the node costs are too large to add up",
            path.display(),
            f64::MAX
        ));
    }
    let report = g.root_report();
    let root_rows: Vec<RootJson> = roots
        .iter()
        .map(|&r| {
            let n = ex.choice(r).expect("checked: every root is chosen");
            RootJson {
                class: g.class_id(r),
                node: g.node_id(n),
                op: g.op(n),
            }
        })
        .collect();
    // Stdout holds the result only, the same at every thread count and
    // run after run; the time and thread count go to stderr.
    let mut out = std::io::stdout().lock();
    let write = |r: std::io::Result<()>| r.map_err(crate::stdout_error);
    if json {
        let result = ResultJson {
            file: path.display().to_string(),
            extractor: name,
            tree_cost: Some(cost.tree.get()).filter(|c| c.is_finite()),
            dag_cost: cost.dag.get(),
            classes: cost.classes,
            nodes_in_graph: g.num_nodes(),
            classes_in_graph: g.num_classes(),
            inferred_roots: &report.inferred,
            dropped_roots: &report.dropped,
            roots: root_rows,
            choices: ex
                .iter()
                .map(|(c, n)| (g.class_id(c), g.node_id(n)))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
        write(writeln!(out, "{text}"))?;
    } else {
        write(writeln!(
            out,
            "{}: {name}: tree cost {}, DAG cost {}, {} classes chosen ({} classes, {} nodes in the graph)",
            path.display(),
            if cost.tree.get().is_finite() {
                cost.tree.to_string()
            } else {
                format!("past {:e} (overflows f64)", f64::MAX)
            },
            cost.dag,
            cost.classes,
            g.num_classes(),
            g.num_nodes(),
        ))?;
        let list = |ids: &[String]| ids.iter().map(|i| shown(i)).collect::<Vec<_>>().join(" ");
        if !report.dropped.is_empty() {
            write(writeln!(
                out,
                "unknown roots dropped: {}; inferred roots: {}",
                list(&report.dropped),
                list(&report.inferred)
            ))?;
        }
        for r in &root_rows {
            write(writeln!(
                out,
                "root {}: node {} ({})",
                shown(r.class),
                shown(r.node),
                shown(r.op)
            ))?;
        }
    }
    write(out.flush())?;
    eprintln!("{name}: {:.2} ms on {threads} thread(s)", secs * 1e3);
    Ok(())
}
