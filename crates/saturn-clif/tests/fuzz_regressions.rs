//! Replays `clif_opt` fuzz inputs through the same checks the fuzz target
//! runs (`fuzz/src/clif.rs`, included below): every minimized crash saved
//! under `tests/fuzz_regressions/clif_opt/` and every seed under
//! `fuzz/seeds/clif_opt/`. Each must be optimized and compared, or
//! rejected, never panic.

#[path = "../../../fuzz/src/clif.rs"]
#[allow(dead_code)]
mod clif;

use std::path::{Path, PathBuf};

fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in [
        root.join("tests/fuzz_regressions/clif_opt"),
        root.join("../../fuzz/seeds/clif_opt"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_file() {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn saved_inputs_replay_without_panics() {
    let files = inputs();
    assert!(
        !files.is_empty(),
        "the seed directory is part of the repository"
    );
    let mut checked = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if let clif::Outcome::Checked(n) = clif::clif_opt(&data) {
            checked += n;
        }
    }
    assert!(checked > 0, "no seed function was optimized and compared");
}
