//! Replays `json_loader` fuzz inputs through the same checks the fuzz
//! target runs (`fuzz/src/extract.rs`, included below): every minimized
//! crash saved under `tests/fuzz_regressions/json_loader/` and every seed
//! under `fuzz/seeds/json_loader/`. Each must load or be rejected with an
//! error, never panic. Inputs for bugs that are not fixed yet are listed in
//! `KNOWN_BUGS`, skipped by the replay and kept as `#[ignore]`d tests.

#[path = "../../../fuzz/src/extract.rs"]
#[allow(dead_code)]
mod extract;

use std::path::{Path, PathBuf};

use extract::Loaded;

/// File names of saved inputs that still fail.
const KNOWN_BUGS: &[&str] = &[];

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in [
        root.join("tests/fuzz_regressions/json_loader"),
        root.join("../../fuzz/seeds/json_loader"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_file() && !KNOWN_BUGS.contains(&name.as_str()) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn json_loader_inputs_replay() {
    let (mut ok, mut err) = (0, 0);
    for p in inputs() {
        let data = std::fs::read(&p).unwrap();
        match std::panic::catch_unwind(|| extract::json_loader(&data)) {
            Ok(Loaded::Loaded) => ok += 1,
            Ok(Loaded::Rejected) => err += 1,
            Err(_) => panic!("{} panics", p.display()),
        }
    }
    assert!(ok >= 1, "no json_loader input loaded ({err} rejected)");
}
