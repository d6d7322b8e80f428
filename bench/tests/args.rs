//! The bench binaries reject bad arguments with a message and status 2
//! (they used to panic on a missing or malformed value).

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
fn bad_arguments_are_usage_errors_not_panics() {
    let bench = env!("CARGO_BIN_EXE_saturn-bench");
    let schedulers = env!("CARGO_BIN_EXE_schedulers");
    for (bin, args, message) in [
        (
            bench,
            &["--runs"][..],
            "--runs takes an integer of at least 1, not ``",
        ),
        (
            bench,
            &["--runs", "0"],
            "--runs takes an integer of at least 1, not `0`",
        ),
        (
            bench,
            &["--threads", "1,,2"],
            "--threads takes counts from 1 to 65535",
        ),
        (
            bench,
            &["--threads", "0"],
            "--threads takes counts from 1 to 65535",
        ),
        (
            bench,
            &["--filter", "no such case"],
            "no benchmark's name contains",
        ),
        (bench, &["--only", "egg"], "--only takes `saturn`"),
        (
            schedulers,
            &["--runs", "x"],
            "--runs takes an integer of at least 1",
        ),
        (
            schedulers,
            &["--pass-cap", "-1"],
            "--pass-cap takes an integer of at least 0",
        ),
        (
            schedulers,
            &["--threads", "2,"],
            "--threads takes counts from 1 to 65535",
        ),
    ] {
        let (code, err) = run(bin, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
