//! The `extract-bench` binary on tiny temporary corpora (self-contained: no external data).

use std::path::{Path, PathBuf};
use std::process::Command;

const GOOD: &str = r#"{"nodes": {
    "f": {"op": "f", "children": ["a", "b"], "eclass": "r", "cost": 1},
    "h": {"op": "h", "children": [], "eclass": "r", "cost": 5},
    "a": {"op": "p", "children": ["z"], "eclass": "a", "cost": 1},
    "b": {"op": "q", "children": ["z"], "eclass": "b", "cost": 1},
    "z": {"op": "z", "children": [], "eclass": "z", "cost": 1.5}},
  "root_eclasses": ["r"]}"#;

/// All roots unknown (like some lean-egg files): the top-level class `1` is inferred.
const NO_ROOT: &str = r#"{"nodes": {"n": {"op": "x", "eclass": "1"}}, "root_eclasses": ["7"]}"#;

/// No root listed at all: nothing to infer from, a failure (not a skip).
const EMPTY_ROOTS: &str = r#"{"nodes": {"n": {"op": "x", "eclass": "1"}}, "root_eclasses": []}"#;

fn corpus(name: &str, files: &[(&str, &str, &str)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("saturn-extract-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (family, file, text) in files {
        std::fs::create_dir_all(dir.join(family)).unwrap();
        std::fs::write(dir.join(family).join(file), text).unwrap();
    }
    dir
}

fn bench(dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_extract-bench"))
        .arg(dir)
        .args(extra)
        .output()
        .expect("the benchmark binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_only_infers_roots_instead_of_skipping() {
    let dir = corpus(
        "ok",
        &[("fam", "good.json", GOOD), ("fam", "noroot.json", NO_ROOT)],
    );
    let (ok, text) = bench(&dir, &["--check-only", "--threads", "1,2"]);
    assert!(ok, "{text}");
    assert!(text.contains("2 checked OK"), "{text}");
    assert!(text.contains("0 skipped, 0 failures"), "{text}");
    assert!(
        text.contains(
            "roots inferred in 1 files (1 unknown root ids replaced, 1 top-level classes added)"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_only_fails_on_file_without_roots() {
    let dir = corpus(
        "empty-roots",
        &[
            ("fam", "good.json", GOOD),
            ("fam", "empty.json", EMPTY_ROOTS),
        ],
    );
    let (ok, text) = bench(&dir, &["--check-only"]);
    assert!(!ok, "{text}");
    assert!(text.contains("1 failures"), "{text}");
    assert!(text.contains("empty.json"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_only_fails_on_broken_file() {
    let dir = corpus(
        "bad",
        &[
            ("fam", "good.json", GOOD),
            ("fam", "broken.json", "{\"nodes\": {\"n\": {\"op\": 1}}}"),
        ],
    );
    let (ok, text) = bench(&dir, &["--check-only"]);
    assert!(!ok, "{text}");
    assert!(text.contains("broken.json:1:"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn benchmark_prints_markdown_tables() {
    let dir = corpus("md", &[("fam", "good.json", GOOD)]);
    let (ok, text) = bench(&dir, &["--threads", "1,2", "--runs", "3"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("| fam | 1 | greedy-dag | 6 | 4.500 |"),
        "{text}"
    );
    assert!(text.contains("| fam | 1 | bottom-up | 5 | 5 |"), "{text}");
    assert!(text.contains("## Parallel speedup"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_are_rejected() {
    let (ok, text) = bench(Path::new("/nonexistent-corpus"), &["--check-only"]);
    assert!(!ok);
    assert!(text.contains("nonexistent-corpus"), "{text}");
    let (ok, text) = bench(Path::new("."), &["--threads", "0"]);
    assert!(!ok);
    assert!(text.contains("--threads"), "{text}");
}

/// A `--family` that names no family directory is an error naming it; it
/// used to be ignored, so a typo benchmarked the other families only.
#[test]
fn an_unknown_family_is_an_error() {
    let dir = corpus("family", &[("fam", "good.json", GOOD)]);
    let (ok, text) = bench(&dir, &["--check-only", "--family", "fam"]);
    assert!(ok, "{text}");
    assert!(text.contains("1 checked OK"), "{text}");
    let (ok, text) = bench(
        &dir,
        &["--check-only", "--family", "fam", "--family", "nosuch"],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("--family nosuch"), "{text}");
    assert!(!text.contains("checked OK"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
