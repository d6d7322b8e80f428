//! The extraction speedup: `bottom-up` and `greedy-dag` of
//! `saturn_extract` at every thread count, over a folder of
//! egraph-serialize JSON files.
//!
//! With a corpus (`DIR/extraction-gym`: one folder per family of `*.json`
//! files, natural order), every file is used (under `--quick`, at most
//! [`QUICK_JSON_PER_FAMILY`](super::QUICK_JSON_PER_FAMILY) per family,
//! evenly spaced). Without one, the bundled compiler workload
//! (`examples/compiler.*`) is saturated with `bsp` up to the report's node
//! limit and the e-graph is serialized as egraph-serialize JSON (node `c.i`
//! is the `i`-th node of class `c`; a child is the first node of its class;
//! cost 1 for leaves, 10 for `*`, `/` and `%`, 3 for any other operator,
//! as Cranelift's cost model); it is written to `inputs/bundled-egraph.json`
//! in the output folder.
//!
//! Files are loaded as `saturn extract --unknown-roots infer` loads them
//! (lenient roots). For
//! each file, extractor and thread count, the extraction runs `--runs`
//! times on one pool ([`saturn_extract::with_threads`]) and the median
//! time is kept; every result is checked ([`saturn_extract::Extraction::check`])
//! and must be identical at every thread count. Any failure is an error
//! naming the file.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use saturn::schedule::{Pipeline, Strategy};
use saturn_extract::io::load_dense;
use saturn_extract::{natural_cmp, BottomUp, BuildOptions, DenseEGraph, Extractor, GreedyDag};
use serde_json::{json, Map, Value};

use super::schedulers::{self, Limits};
use super::{image, num, plot, sample, table, Ctx, InputUse, Section, Source};

/// The file name of the generated e-graph under `inputs/`.
const BUNDLED_JSON: &str = "bundled-egraph.json";

/// The cost of an operator in the bundled e-graph.
fn op_cost(op: &str, leaf: bool) -> f64 {
    if leaf {
        1.0
    } else if matches!(op, "*" | "/" | "%") {
        10.0
    } else {
        3.0
    }
}

/// The bundled compiler workload saturated with `bsp`, as egraph-serialize
/// JSON, with a description.
pub fn bundled_egraph_json(quick: bool) -> Result<(String, String), String> {
    let w = &schedulers::WORKLOADS[1];
    let (set, terms) = schedulers::load(w)?;
    let limits = Limits::for_report(quick);
    let (egraph, roots, report) = schedulers::run_once(
        &Pipeline::from_rule_set(&set),
        Strategy::Bsp,
        limits,
        None,
        &terms,
    );
    let mut nodes = Map::new();
    for class in egraph.classes() {
        for (i, n) in class.nodes.iter().enumerate() {
            let children: Vec<Value> = n
                .children
                .iter()
                .map(|&c| Value::String(format!("{}.0", egraph.find(c))))
                .collect();
            let op = n.op.as_str();
            nodes.insert(
                format!("{}.{i}", class.id),
                json!({
                    "op": op,
                    "children": children,
                    "eclass": class.id.to_string(),
                    "cost": op_cost(op, n.children.is_empty()),
                }),
            );
        }
    }
    let mut root_ids: Vec<String> = vec![];
    for r in roots {
        let id = egraph.find(r).to_string();
        if !root_ids.contains(&id) {
            root_ids.push(id);
        }
    }
    let doc = json!({ "nodes": nodes, "root_eclasses": root_ids });
    let text = serde_json::to_string(&doc).map_err(|e| e.to_string())? + "\n";
    let what = format!(
        "`{}` on `{}` saturated with `bsp` ({} rounds, stop {:?}; {} classes, {} nodes), serialized to `inputs/{BUNDLED_JSON}`",
        w.rules_path,
        w.terms_path,
        report.rounds,
        report.stop_reason,
        egraph.number_of_classes(),
        egraph.total_number_of_nodes()
    );
    Ok((text, what))
}

/// The families of an extraction-gym style folder.
struct Discovered {
    /// `(family, files)`, natural order.
    families: Vec<(String, Vec<PathBuf>)>,
    /// Files in family folders that are not `*.json`, and family folders
    /// without any (named in the report, not silently dropped).
    other_files: usize,
    empty_families: Vec<String>,
}

/// The `*.json` files of an extraction-gym style folder.
fn discover(dir: &Path, quick: bool) -> Result<Discovered, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut fams = vec![];
    let mut other_files = 0;
    let mut empty_families = vec![];
    for entry in rd {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if !path.is_dir() {
            continue;
        }
        let name = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = vec![];
        for e in std::fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))? {
            let p = e.map_err(|e| format!("{}: {e}", path.display()))?.path();
            if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            } else {
                other_files += 1;
            }
        }
        files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
        if quick {
            files = sample(&files, super::QUICK_JSON_PER_FAMILY);
        }
        if files.is_empty() {
            empty_families.push(name);
        } else {
            fams.push((name, files));
        }
    }
    fams.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    empty_families.sort_by(|a, b| natural_cmp(a, b));
    if fams.is_empty() {
        return Err(format!(
            "{}: no family folders with *.json files",
            dir.display()
        ));
    }
    Ok(Discovered {
        families: fams,
        other_files,
        empty_families,
    })
}

/// One extractor on one file: costs and median ms per thread count.
struct Measured {
    tree: f64,
    dag: f64,
    ms: Vec<f64>,
}

/// One file's results.
struct FileResult {
    name: String,
    nodes: usize,
    classes: usize,
    by_extractor: BTreeMap<&'static str, Measured>,
}

/// Runs `ex` on `g` at every thread count ([`saturn_extract::measure`]:
/// timed, checked, compared across thread counts).
fn measure(
    path: &Path,
    g: &DenseEGraph,
    ex: &dyn Extractor,
    threads: &[usize],
    runs: usize,
) -> Result<Measured, String> {
    let m = saturn_extract::measure::measure(g, ex, threads, runs)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Measured {
        tree: m.tree,
        dag: m.dag,
        ms: m.times.iter().map(|t| t.as_secs_f64() * 1e3).collect(),
    })
}

/// A cost sum: integral values without decimals.
fn cost_text(x: f64) -> String {
    let x = x + 0.0;
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// Runs the extraction experiment.
pub fn run(ctx: &Ctx, source: Source) -> Result<Section, String> {
    let mut section = Section::default();
    let families: Vec<(String, Vec<PathBuf>)> = match &source {
        Source::Corpus(dir) => {
            let found = discover(dir, ctx.quick)?;
            let fams = found.families;
            let files: usize = fams.iter().map(|f| f.1.len()).sum();
            let mut ignored = vec![];
            if found.other_files > 0 {
                ignored.push(format!("{} non-JSON files", found.other_files));
            }
            if !found.empty_families.is_empty() {
                ignored.push(format!(
                    "folders without JSON: {}",
                    found.empty_families.join(", ")
                ));
            }
            section.inputs.push(InputUse {
                what: format!(
                    "`{}`: {files} files in {} families{}{}",
                    dir.display(),
                    fams.len(),
                    if ignored.is_empty() {
                        String::new()
                    } else {
                        format!(" (not used: {})", ignored.join("; "))
                    },
                    if ctx.quick {
                        format!(
                            " (--quick: at most {} per family, evenly spaced)",
                            super::QUICK_JSON_PER_FAMILY
                        )
                    } else {
                        String::new()
                    }
                ),
                bundled: false,
                why: None,
            });
            fams
        }
        Source::Bundled(why) => {
            let (text, what) = bundled_egraph_json(ctx.quick)?;
            let path = ctx.work_dir.join(BUNDLED_JSON);
            std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
            section
                .files
                .push((PathBuf::from("inputs").join(BUNDLED_JSON), text));
            section.inputs.push(InputUse {
                what,
                bundled: true,
                why: Some(why.clone()),
            });
            vec![("bundled".to_string(), vec![path])]
        }
    };

    let extractors: Vec<Box<dyn Extractor>> = vec![
        Box::new(BottomUp::default()),
        Box::new(GreedyDag::default()),
    ];
    let names: Vec<&'static str> = extractors.iter().map(|e| e.name()).collect();
    let mut results: Vec<FileResult> = vec![];
    let mut inferred = 0usize;
    for (family, files) in &families {
        for path in files {
            let g = catch_unwind(AssertUnwindSafe(|| {
                load_dense(path, &BuildOptions::lenient())
            }))
            .map_err(|p| {
                format!(
                    "{}: loading: {}",
                    path.display(),
                    crate::sched::panic_message(&*p)
                )
            })?
            .map_err(|e| e.to_string())?;
            if !g.root_report().dropped.is_empty() {
                inferred += 1;
            }
            let mut fr = FileResult {
                name: format!(
                    "{family}/{}",
                    path.file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                nodes: g.num_nodes(),
                classes: g.num_classes(),
                by_extractor: BTreeMap::new(),
            };
            for ex in &extractors {
                let m = measure(path, &g, ex.as_ref(), &ctx.threads, ctx.runs)?;
                fr.by_extractor.insert(ex.name(), m);
            }
            results.push(fr);
        }
    }

    let t0 = ctx.threads[0];
    let mut body = format!(
        "Extractors of `saturn_extract` over {} file(s) ({} nodes in all); time: sum over files of the median of {} run(s) of the extraction alone (ms); speedup: time at {t0} thread(s) / time at N. Every result was checked and is identical at every thread count.{}\n\n",
        results.len(),
        results.iter().map(|r| r.nodes).sum::<usize>(),
        ctx.runs,
        if inferred > 0 {
            format!(" Roots were inferred (lenient loading, as `saturn extract --unknown-roots infer`) in {inferred} file(s).")
        } else {
            String::new()
        }
    );
    let mut header: Vec<String> = vec![
        "extractor".into(),
        "files".into(),
        "tree cost (sum)".into(),
        "DAG cost (sum)".into(),
    ];
    header.extend(ctx.threads.iter().map(|t| format!("{t}T ms")));
    header.extend(
        ctx.threads[1..]
            .iter()
            .map(|t| format!("speedup {t}T/{t0}T")),
    );
    let right = vec![true; header.len()];
    let right: Vec<bool> = right
        .iter()
        .enumerate()
        .map(|(i, &r)| r && i != 0)
        .collect();
    let mut rows = vec![];
    let mut speedups: Vec<(String, Vec<f64>)> = ctx
        .threads
        .iter()
        .map(|t| (format!("{t} thread(s)"), vec![]))
        .collect();
    for name in &names {
        let ms: Vec<&Measured> = results.iter().map(|f| &f.by_extractor[name]).collect();
        let tree: f64 = ms.iter().map(|m| m.tree).sum();
        let dag: f64 = ms.iter().map(|m| m.dag).sum();
        let mut sums = vec![0f64; ctx.threads.len()];
        for m in &ms {
            for (i, t) in m.ms.iter().enumerate() {
                sums[i] += t;
            }
        }
        let mut row = vec![
            name.to_string(),
            results.len().to_string(),
            cost_text(tree),
            cost_text(dag),
        ];
        row.extend(sums.iter().map(|&s| num(s)));
        let sp: Vec<f64> = sums.iter().map(|&s| sums[0] / s.max(1e-12)).collect();
        row.extend(sp[1..].iter().map(|&s| format!("{}x", num(s))));
        for (k, s) in sp.iter().enumerate() {
            speedups[k].1.push(*s);
        }
        rows.push(row);
    }
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    body.push_str(&table(&hdr, &right, &rows));

    // The largest files, where parallel rounds have the most work.
    let mut largest: Vec<&FileResult> = results.iter().collect();
    largest.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.name.cmp(&b.name)));
    largest.truncate(3);
    body.push_str(&format!("\nThe {} largest file(s):\n\n", largest.len()));
    let mut header: Vec<String> = vec![
        "file".into(),
        "nodes".into(),
        "classes".into(),
        "extractor".into(),
    ];
    header.extend(ctx.threads.iter().map(|t| format!("{t}T ms")));
    header.extend(
        ctx.threads[1..]
            .iter()
            .map(|t| format!("speedup {t}T/{t0}T")),
    );
    let right: Vec<bool> = (0..header.len()).map(|i| i != 0 && i != 3).collect();
    let mut rows = vec![];
    for f in &largest {
        for name in &names {
            let m = &f.by_extractor[name];
            let mut row = vec![
                f.name.clone(),
                f.nodes.to_string(),
                f.classes.to_string(),
                name.to_string(),
            ];
            row.extend(m.ms.iter().map(|&t| num(t)));
            row.extend(
                m.ms[1..]
                    .iter()
                    .map(|&t| format!("{}x", num(m.ms[0] / t.max(1e-12)))),
            );
            rows.push(row);
        }
    }
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    body.push_str(&table(&hdr, &right, &rows));
    body.push('\n');

    let file = "extraction-speedup.svg";
    let svg = plot::bar_chart_svg(
        &[plot::Bars {
            title: format!("extraction speedup over {t0} thread(s)"),
            y_label: "speedup".into(),
            groups: names.iter().map(|s| s.to_string()).collect(),
            series: speedups,
        }],
        (640, 400),
    )?;
    section.files.push((file.into(), svg));
    body.push_str(&image("extraction speedup", file));
    section.body = body;
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_egraph_loads_and_extracts() {
        let (text, what) = bundled_egraph_json(true).unwrap();
        assert!(what.contains("compiler.rules"), "{what}");
        let g = DenseEGraph::from_json_str(&text).unwrap();
        assert!(g.num_nodes() > 100, "{}", g.num_nodes());
        let roots = g.roots().to_vec();
        assert!(!roots.is_empty());
        let ex = BottomUp::default().extract(&g, &roots).unwrap();
        let cost = ex.check(&g, &roots).unwrap();
        assert!(cost.tree.get() > 0.0);
    }
}
