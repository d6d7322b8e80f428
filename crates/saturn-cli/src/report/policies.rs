//! The parallelism policies: many functions at once on one thread pool,
//! with the policies of [`crate::sched`] (`function`: functions in
//! parallel, each single-threaded; `intra`: functions in sequence, each
//! with all threads; `nested`: both), at every thread count.
//!
//! The measurement is `saturn opt --measure` (total time and worst
//! single-function latency, medians of `--runs` runs, outputs of every
//! configuration compared), run as a child process of this same binary so
//! that each report gets a fresh process and the exact numbers
//! `saturn opt --measure` prints; its Markdown table is parsed back.
//!
//! Inputs: `DIR/clif-wasm` (every `*.clif` below it; under `--quick` at most
//! [`QUICK_CLIF_PER_BENCHMARK`](super::QUICK_CLIF_PER_BENCHMARK) files of
//! each benchmark folder, evenly spaced in path order) or the bundled
//! `examples/report-functions.clif`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sched::Policy;

use super::{image, num, plot, sample, table, Ctx, InputUse, Section, Source};

/// The bundled CLIF file: its repository path and text.
const BUNDLED_PATH: &str = "examples/report-functions.clif";
const BUNDLED: &str = include_str!("../../../../examples/report-functions.clif");

/// One row of `saturn opt --measure`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The policy's name.
    pub policy: String,
    /// Threads.
    pub threads: usize,
    /// Median total time (ms).
    pub total_ms: f64,
    /// Median worst single-function latency (ms).
    pub worst_ms: f64,
    /// Instructions after optimization, summed over functions.
    pub insts_after: usize,
    /// Whether the output was the same as the first configuration's.
    pub same: bool,
}

/// Parses the output of `saturn opt --measure`: the summary line and the
/// table rows.
pub fn parse_measure(out: &str) -> Result<(String, Vec<Row>), String> {
    let mut summary = None;
    let mut rows = vec![];
    for line in out.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            if summary.is_none() && line.contains("functions") {
                summary = Some(line.to_string());
            }
            continue;
        }
        let cells: Vec<&str> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim())
            .collect();
        if cells
            .first()
            .is_some_and(|c| *c == "policy" || c.starts_with("---"))
        {
            continue;
        }
        let bad = || format!("cannot read this row of `saturn opt --measure`: {line}");
        if cells.len() != 6 {
            return Err(bad());
        }
        rows.push(Row {
            policy: cells[0].to_string(),
            threads: cells[1].parse().map_err(|_| bad())?,
            total_ms: cells[2].parse().map_err(|_| bad())?,
            worst_ms: cells[3].parse().map_err(|_| bad())?,
            insts_after: cells[4].parse().map_err(|_| bad())?,
            same: cells[5] == "yes",
        });
    }
    let summary = summary.ok_or("`saturn opt --measure` printed no summary line")?;
    if rows.is_empty() {
        return Err("`saturn opt --measure` printed no table".to_string());
    }
    Ok((summary, rows))
}

/// `--quick`: at most `k` files of each benchmark folder of `dir`.
fn quick_files(dir: &Path, k: usize) -> Result<Vec<PathBuf>, String> {
    let all = crate::opt::collect_inputs(&[dir.to_path_buf()])?;
    let mut groups: Vec<(PathBuf, Vec<PathBuf>)> = vec![];
    for (path, rel) in all {
        let top = rel
            .components()
            .next()
            .map(|c| PathBuf::from(c.as_os_str()))
            .unwrap_or_default();
        match groups.last_mut() {
            Some((g, v)) if *g == top => v.push(path),
            _ => groups.push((top, vec![path])),
        }
    }
    Ok(groups.iter().flat_map(|(_, v)| sample(v, k)).collect())
}

/// Runs `saturn opt --measure` on `inputs` in a child process.
fn measure(ctx: &Ctx, inputs: &[PathBuf]) -> Result<(String, Vec<Row>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let threads: Vec<String> = ctx.threads.iter().map(|t| t.to_string()).collect();
    let out = Command::new(&exe)
        .arg("opt")
        .arg("--measure")
        .arg("--measure-threads")
        .arg(threads.join(","))
        .arg("--runs")
        .arg(ctx.runs.to_string())
        .args(inputs)
        // The child measures without a jobserver (as `--measure` does).
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .map_err(|e| format!("{}: cannot run `opt --measure`: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "`saturn opt --measure` failed ({}):\n{}{}",
            out.status,
            stdout,
            stderr.trim_end().trim_start_matches("error: ")
        ));
    }
    parse_measure(&stdout)
}

/// Runs the policy comparison.
pub fn run(ctx: &Ctx, source: Source) -> Result<Section, String> {
    let mut section = Section::default();
    let inputs: Vec<PathBuf> = match &source {
        Source::Corpus(dir) => {
            let inputs = if ctx.quick {
                quick_files(dir, super::QUICK_CLIF_PER_BENCHMARK)?
            } else {
                vec![dir.clone()]
            };
            section.inputs.push(InputUse {
                what: format!(
                    "`{}`{}",
                    dir.display(),
                    if ctx.quick {
                        format!(
                            " (--quick: {} files, at most {} per benchmark, evenly spaced)",
                            inputs.len(),
                            super::QUICK_CLIF_PER_BENCHMARK
                        )
                    } else {
                        String::new()
                    }
                ),
                bundled: false,
                why: None,
            });
            inputs
        }
        Source::Bundled(why) => {
            let name = Path::new(BUNDLED_PATH)
                .file_name()
                .expect("a file name")
                .to_owned();
            let path = ctx.work_dir.join(&name);
            std::fs::write(&path, BUNDLED).map_err(|e| format!("{}: {e}", path.display()))?;
            section.inputs.push(InputUse {
                what: format!("`{BUNDLED_PATH}` (copied to `inputs/`)"),
                bundled: true,
                why: Some(why.clone()),
            });
            section
                .files
                .push((PathBuf::from("inputs").join(name), BUNDLED.to_string()));
            vec![path]
        }
    };
    let (summary, rows) = measure(ctx, &inputs)?;
    for p in Policy::ALL {
        if !rows.iter().any(|r| r.policy == p.name()) {
            return Err(format!(
                "`saturn opt --measure` gave no row for policy `{}`",
                p.name()
            ));
        }
    }

    let mut body = format!(
        "Many functions at once on one thread pool: `function` (functions in parallel, each single-threaded), `intra` (functions one after the other, each with all threads), `nested` (functions in parallel, each also given the pool). Measured with `saturn opt --measure`: {summary}. Total: wall time to optimize every function (ms); worst: the slowest single function's latency (ms); both medians. Every configuration's output is compared with the first's.\n\n"
    );
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.policy.clone(),
                r.threads.to_string(),
                num(r.total_ms),
                num(r.worst_ms),
                r.insts_after.to_string(),
                if r.same { "yes" } else { "NO" }.to_string(),
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "policy",
            "threads",
            "total ms",
            "worst function ms",
            "insts after",
            "same output",
        ],
        &[false, true, true, true, true, false],
        &table_rows,
    ));
    body.push('\n');
    let groups: Vec<String> = Policy::ALL.iter().map(|p| p.name().to_string()).collect();
    let series = |f: &dyn Fn(&Row) -> f64| -> Vec<(String, Vec<f64>)> {
        ctx.threads
            .iter()
            .map(|&t| {
                let v = groups
                    .iter()
                    .map(|g| {
                        rows.iter()
                            .find(|r| r.policy == *g && r.threads == t)
                            .map_or(0.0, f)
                    })
                    .collect();
                (format!("{t} thread(s)"), v)
            })
            .collect()
    };
    let svg = plot::bar_chart_svg(
        &[
            plot::Bars {
                title: "total time (median)".into(),
                y_label: "ms".into(),
                groups: groups.clone(),
                series: series(&|r| r.total_ms),
            },
            plot::Bars {
                title: "worst function latency (median)".into(),
                y_label: "ms".into(),
                groups: groups.clone(),
                series: series(&|r| r.worst_ms),
            },
        ],
        (1000, 400),
    )?;
    let file = "policies.svg";
    section.files.push((file.into(), svg));
    body.push_str(&image("parallelism policies", file));
    section.body = body;
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_measure_table() {
        let out = "3 files, 5 functions, 100 instructions; median of 1 run(s)\n\n\
| policy | threads | total ms | worst function ms | insts after | same output |\n\
|---|---:|---:|---:|---:|---|\n\
| function | 1 | 10.5 | 2.0 | 80 | yes |\n\
| nested | 2 | 8.0 | 3.5 | 80 | NO |\n";
        let (summary, rows) = parse_measure(out).unwrap();
        assert!(summary.starts_with("3 files"));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].policy, "nested");
        assert_eq!(rows[1].threads, 2);
        assert!(!rows[1].same && rows[0].same);
        assert!(parse_measure("| function | x |").is_err());
        assert!(parse_measure("nothing").is_err());
    }
}
