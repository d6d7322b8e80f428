//! The checks behind the fuzz targets, as plain functions.
//!
//! Each `fuzz_targets/*.rs` is a one-line wrapper around one of these, and
//! the regression tests of the workspace (`crates/saturn/tests/fuzz_regressions.rs`,
//! `crates/saturn-extract/tests/fuzz_regressions.rs`) include the same files
//! with `#[path]`, so a saved crash is replayed through exactly the code
//! that found it. Every function returns an [`engine::Outcome`]-style value
//! and panics only on a bug.

pub mod clif;
pub mod engine;
pub mod extract;
