//! Replays fuzz inputs through the same checks the fuzz targets run
//! (`fuzz/src/engine.rs`, included below): every minimized crash saved under
//! `tests/fuzz_regressions/<target>/` and every seed under
//! `fuzz/seeds/<target>/`. Each input must give `Accepted` or `Rejected`
//! without panicking. Inputs for bugs that are not fixed yet are listed in
//! `KNOWN_BUGS`, skipped by the replay and kept as `#[ignore]`d tests.
#![cfg(not(loom))]

#[path = "../../../fuzz/src/engine.rs"]
#[allow(dead_code)]
mod engine;

use std::path::{Path, PathBuf};

use engine::Outcome;

/// (target, file name) of saved inputs that still fail.
const KNOWN_BUGS: &[(&str, &str)] = &[];

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in [
        root.join("tests/fuzz_regressions").join(target),
        root.join("../../fuzz/seeds").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_file() && !KNOWN_BUGS.contains(&(target, name.as_str())) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, f: fn(&[u8]) -> Outcome) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for p in inputs(target) {
        let data = std::fs::read(&p).unwrap();
        let r = std::panic::catch_unwind(|| f(&data));
        match r {
            Ok(Outcome::Accepted) => ok += 1,
            Ok(Outcome::Rejected) => err += 1,
            Err(_) => panic!("{target}: {} panics", p.display()),
        }
    }
    (ok, err)
}

#[test]
fn rules_parser_inputs_replay() {
    let (ok, err) = replay("rules_parser", engine::rules_parser);
    assert!(
        ok >= 1,
        "no rules_parser input was accepted ({err} rejected)"
    );
}

#[test]
fn terms_runner_inputs_replay() {
    let (ok, err) = replay("terms_runner", engine::terms_runner);
    assert!(
        ok >= 1,
        "no terms_runner input was accepted ({err} rejected)"
    );
}
