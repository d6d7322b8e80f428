//! `saturn report` end to end, on bundled inputs only (no corpora needed).

use std::path::Path;
use std::process::{Command, Output};

fn saturn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saturn"))
        .args(args)
        .output()
        .expect("run saturn")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The Markdown tables of `md`: header cells and body rows.
fn tables(md: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let lines: Vec<&str> = md.lines().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with('|') && lines.get(i + 1).is_some_and(|l| l.starts_with("|---")) {
            let header = cells(lines[i]);
            let mut rows = vec![];
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                let r = cells(lines[i]);
                assert_eq!(r.len(), header.len(), "ragged row: {}", lines[i]);
                rows.push(r);
                i += 1;
            }
            out.push((header, rows));
        } else {
            i += 1;
        }
    }
    out
}

/// The table whose header starts with `first`.
fn table<'a>(
    ts: &'a [(Vec<String>, Vec<Vec<String>>)],
    first: &str,
) -> &'a (Vec<String>, Vec<Vec<String>>) {
    ts.iter()
        .find(|(h, _)| h[0] == first)
        .unwrap_or_else(|| panic!("no table starting with `{first}`"))
}

/// The `![..](file.svg)` links of `md`.
fn svg_links(md: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let end = rest.find(')').expect("closing parenthesis");
        if rest[..end].ends_with(".svg") {
            out.push(rest[..end].to_string());
        }
        rest = &rest[end..];
    }
    out
}

#[test]
fn report_on_bundled_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = saturn(&[
        "report",
        "--quick",
        "--runs",
        "1",
        "--threads",
        "1,2",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let md = std::fs::read_to_string(out_dir.join("report.md")).expect("report.md");
    for h in [
        "## Inputs",
        "## Schedulers",
        "## Extraction",
        "## Parallelism policies",
    ] {
        assert!(
            md.contains(&format!("\n{h}\n")),
            "missing heading {h}:\n{md}"
        );
    }
    // Which inputs were used, and that everything was bundled, is said.
    assert!(md.contains("no --corpora given"), "{md}");
    assert!(
        md.contains(
            "Sections run on bundled inputs only: **Schedulers, Extraction, Parallelism policies**"
        ),
        "{md}"
    );
    assert!(md.contains("examples/compiler.rules") && md.contains("examples/arith.rules"));
    assert!(md.contains("examples/report-functions.clif"));

    let ts = tables(&md);
    // Schedulers: each seed strategy has rows for both rule sets, or a
    // visible note saying why it was not run.
    let (h, rows) = table(&ts, "rule set");
    assert!(h.contains(&"1T ms".to_string()) && h.contains(&"2T ms".to_string()));
    for name in ["passes", "bsp", "async"] {
        let ran = ["arith", "compiler"]
            .iter()
            .all(|w| rows.iter().any(|r| r[0] == *w && r[1] == name));
        let noted = md.contains(&format!("strategy `{name}` was not run"));
        assert!(ran || noted, "strategy {name} neither ran nor was noted");
    }
    assert!(rows.iter().any(|r| r[1] == "passes") && rows.iter().any(|r| r[1] == "bsp"));
    // Extraction: both extractors, with a speedup column.
    let (h, rows) = table(&ts, "extractor");
    assert!(h.iter().any(|c| c.starts_with("speedup 2T/1T")), "{h:?}");
    for e in ["bottom-up", "greedy-dag"] {
        assert!(rows.iter().any(|r| r[0] == e), "no row for {e}");
    }
    // Policies: every policy at both thread counts, same output everywhere.
    let (_, rows) = table(&ts, "policy");
    for p in ["function", "intra", "nested"] {
        for t in ["1", "2"] {
            assert!(
                rows.iter().any(|r| r[0] == p && r[1] == t),
                "no row for {p} at {t} threads"
            );
        }
    }
    assert!(rows.iter().all(|r| r[5] == "yes"), "{rows:?}");
    // Every number in every table is positive.
    let mut numbers = 0;
    for (h, rows) in &ts {
        for r in rows {
            for (c, v) in h.iter().zip(r) {
                if let Ok(x) = v.trim_end_matches('x').parse::<f64>() {
                    assert!(x > 0.0, "column `{c}` has {v} in {r:?}");
                    numbers += 1;
                }
            }
        }
    }
    assert!(numbers > 50, "only {numbers} numbers in the tables");
    // Every linked plot exists and is an SVG document.
    let links = svg_links(&md);
    assert!(links.len() >= 4, "{links:?}");
    for l in &links {
        let p = out_dir.join(l);
        let svg = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let t = svg.trim_start();
        assert!(t.starts_with("<svg") || t.starts_with("<?xml"), "{l}");
        assert!(svg.contains("</svg>"), "{l}");
    }
    // The inputs used are kept with the report; no temporary files remain.
    assert!(out_dir.join("inputs/bundled-egraph.json").is_file());
    assert!(out_dir.join("inputs/report-functions.clif").is_file());
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left over: {name}");
    }
}

/// A corpora folder with only a broken extraction-gym file: a clear error
/// naming the file, no panic, nothing written.
/// `saturn report --quick` at one thread and one run on `corpora`.
fn quick_report_on(corpora: &std::path::Path, out_dir: &std::path::Path) -> std::process::Output {
    saturn(&[
        "report",
        "--quick",
        "--runs",
        "1",
        "--threads",
        "1",
        "--corpora",
        corpora.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ])
}

#[test]
fn bad_corpus_file_is_an_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let fam = dir.path().join("corpora/extraction-gym/fam");
    std::fs::create_dir_all(&fam).unwrap();
    std::fs::write(fam.join("broken.json"), "{ \"nodes\": ").unwrap();
    let out_dir = dir.path().join("out");
    let out = quick_report_on(&dir.path().join("corpora"), &out_dir);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("broken.json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out_dir.join("report.md").exists());
}

/// A corpus for one section only: that section uses it, the other falls
/// back to bundled input and the report says why.
#[test]
fn partial_corpora_are_reported_per_section() {
    let dir = tempfile::tempdir().unwrap();
    let fam = dir.path().join("corpora/extraction-gym/tiny");
    std::fs::create_dir_all(&fam).unwrap();
    std::fs::write(
        fam.join("g.json"),
        r#"{"nodes": {
            "a": {"op": "f", "children": ["b"], "eclass": "r", "cost": 2},
            "b": {"op": "x", "children": [], "eclass": "x", "cost": 1},
            "c": {"op": "y", "children": [], "eclass": "r", "cost": 5}
        }, "root_eclasses": ["r"]}"#,
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = quick_report_on(&dir.path().join("corpora"), &out_dir);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    let ts = tables(&md);
    let (_, inputs) = table(&ts, "section");
    let row = |s: &str| {
        inputs
            .iter()
            .find(|r| r[0] == s)
            .unwrap_or_else(|| panic!("no input row for {s}"))
    };
    assert_eq!(row("Extraction")[2], "corpus");
    assert!(row("Extraction")[1].contains("1 files in 1 families"));
    assert_eq!(row("Parallelism policies")[2], "bundled");
    assert!(row("Parallelism policies")[3].contains("clif-wasm"), "{md}");
    assert!(
        md.contains("Sections run on bundled inputs only: **Schedulers, Parallelism policies**")
    );
    // With one thread count there is no speedup column, and the tiny
    // file's costs are right (f(x) = 3 beats y = 5).
    let (h, rows) = table(&ts, "extractor");
    assert!(!h.iter().any(|c| c.starts_with("speedup")));
    assert!(rows.iter().all(|r| r[2] == "3" && r[3] == "3"), "{rows:?}");
    assert!(!Path::new(&out_dir.join("inputs/bundled-egraph.json")).exists());
}

#[test]
fn bad_arguments_are_errors_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-corpora");
    let out_dir = dir.path().join("out");
    let o = out_dir.to_str().unwrap();
    let out = saturn(&["report", "--corpora", missing.to_str().unwrap(), "-o", o]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no-such-corpora"), "{err}");
    let out = saturn(&["report", "--threads", "0", "-o", o]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--threads"));
    let out = saturn(&["report", "--runs", "0", "-o", o]);
    assert!(!out.status.success());
    assert!(!out_dir.exists());
}
