//! The corpus tools reject bad arguments with a message and status 2
//! instead of panicking or passing on nothing.

use std::process::Command;

/// Runs `bin` with `args`; returns its status code and stderr.
fn run(bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_arguments_and_missing_corpora_are_errors() {
    let conformance = env!("CARGO_BIN_EXE_clif-conformance");
    let bench = env!("CARGO_BIN_EXE_clif-bench");
    let opt = env!("CARGO_BIN_EXE_clif-opt");
    let empty = std::env::temp_dir().join(format!("saturn-clif-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    for (bin, args, message) in [
        // A corpus without its suites used to "pass" with 0 functions.
        (conformance, &[empty][..], "no `egraph` folder"),
        (conformance, &["--help"], "unknown option --help"),
        (
            conformance,
            &[empty, "--threads", "0"],
            "--threads needs a number of at least 1",
        ),
        // `--runs 0` used to panic on the median of no runs.
        (
            bench,
            &[empty, "--runs", "0"],
            "--runs needs a number of at least 1",
        ),
        (bench, &[empty, "--threads", "1,0"], "bad thread count `0`"),
        (bench, &["--bogus"], "unknown option --bogus"),
        // A folder without programs used to print an empty table and pass.
        (bench, &[empty], "no program directories with *.clif files"),
        // A second file used to replace the first, silently.
        (
            opt,
            &["a.clif", "b.clif"],
            "clif-opt takes one file; `b.clif` is a second",
        ),
        (opt, &["--bogus"], "unknown option --bogus"),
    ] {
        let (code, err) = run(bin, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    std::fs::remove_dir(empty).ok();
}
