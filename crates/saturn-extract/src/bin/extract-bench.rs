//! Benchmark and conformance runner over an extraction-gym style corpus.
//!
//! ```text
//! extract-bench <corpus dir> [--threads 1,2] [--runs 3] [--files-per-family N]
//!               [--family NAME]... [--ilp-time-limit SECS] [--check-only]
//! ```
//!
//! The corpus directory holds one sub-directory per family with `*.json` files.
//! Files are loaded with lenient roots ([`BuildOptions::lenient`]: node-id roots
//! resolved, unknown roots replaced by the inferred top-level classes, see
//! `UnknownRoots::InferTopLevel`); the number of files with inferred roots is reported.
//! No file is skipped: every extraction is checked ([`Extraction::check`](saturn_extract::Extraction::check)) and results
//! for different thread counts must be identical; a file that cannot be loaded (including
//! one without any root), extracted or checked, or any panic, is a failure and makes the
//! process exit with status 1.
//!
//! `--check-only` runs bottom-up and greedy-dag once per file (at each `--threads`
//! count, default: all cores) and only reports failures; the default mode also times
//! the extractors (median of `--runs` runs, after one untimed warm-up run when
//! `--runs` is above 1; extraction only) and prints Markdown tables.
//! `--ilp-time-limit SECS` (> 0) additionally runs the ILP extractor when the binary is
//! built with `--features ilp`. `--par-threshold N` overrides the extractors'
//! `parallel_threshold` (rounds with fewer dirty classes run sequentially) for tuning.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use saturn_extract::io::load_dense;
use saturn_extract::measure::{measure, panic_message, Measurement};
use saturn_extract::{
    natural_cmp, BottomUp, BuildOptions, Cost, DenseEGraph, Extractor, GreedyDag,
};

struct Args {
    corpus: PathBuf,
    threads: Vec<usize>,
    runs: usize,
    files_per_family: Option<usize>,
    families: Vec<String>,
    ilp_time_limit: f64,
    check_only: bool,
    par_threshold: Option<usize>,
}

const USAGE: &str = "usage: extract-bench <corpus dir> [--threads 1,2] [--runs 3] \
[--files-per-family N] [--family NAME]... [--ilp-time-limit SECS] [--check-only] \
[--par-threshold N]";

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut corpus = None;
    let mut threads = None;
    let mut runs = 3;
    let mut files_per_family = None;
    let mut families = Vec::new();
    let mut ilp_time_limit = 0.0;
    let mut check_only = false;
    let mut par_threshold = None;
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--threads" => {
                let v = value("--threads")?;
                let list: Result<Vec<usize>, _> = v.split(',').map(|s| s.trim().parse()).collect();
                let list = list.map_err(|e| format!("bad --threads `{v}`: {e}"))?;
                if list.is_empty() || list.contains(&0) {
                    return Err(format!("bad --threads `{v}`"));
                }
                threads = Some(list);
            }
            "--runs" => {
                runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("bad --runs: {e}"))?;
                if runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--files-per-family" => {
                files_per_family = Some(
                    value("--files-per-family")?
                        .parse()
                        .map_err(|e| format!("bad --files-per-family: {e}"))?,
                )
            }
            "--family" => families.push(value("--family")?),
            "--ilp-time-limit" => {
                ilp_time_limit = value("--ilp-time-limit")?
                    .parse()
                    .map_err(|e| format!("bad --ilp-time-limit: {e}"))?;
                if !(ilp_time_limit >= 0.0 && f64::is_finite(ilp_time_limit)) {
                    return Err("--ilp-time-limit must be a non-negative number".into());
                }
            }
            "--check-only" => check_only = true,
            "--par-threshold" => {
                par_threshold = Some(
                    value("--par-threshold")?
                        .parse()
                        .map_err(|e| format!("bad --par-threshold: {e}"))?,
                )
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`\n{USAGE}")),
            s => {
                if corpus.replace(PathBuf::from(s)).is_some() {
                    return Err(format!("more than one corpus directory given\n{USAGE}"));
                }
            }
        }
    }
    let corpus = corpus.ok_or_else(|| USAGE.to_string())?;
    let default_threads = if check_only {
        vec![std::thread::available_parallelism().map_or(1, |n| n.get())]
    } else {
        vec![1, 2]
    };
    Ok(Args {
        corpus,
        threads: threads.unwrap_or(default_threads),
        runs,
        files_per_family,
        families,
        ilp_time_limit,
        check_only,
        par_threshold,
    })
}

/// `(family, files)` sorted naturally.
fn discover(args: &Args) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let rd = std::fs::read_dir(&args.corpus).map_err(|e| {
        format!(
            "{}: cannot read corpus directory: {e}",
            args.corpus.display()
        )
    })?;
    let mut fams = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !args.families.is_empty() && !args.families.contains(&name) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
        if let Some(n) = args.files_per_family {
            files.truncate(n);
        }
        if !files.is_empty() {
            fams.push((name, files));
        }
    }
    fams.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    if let Some(missing) = args
        .families
        .iter()
        .find(|f| !fams.iter().any(|(name, _)| name == *f))
    {
        return Err(format!(
            "{}: --family {missing}: no such directory with *.json files",
            args.corpus.display()
        ));
    }
    if fams.is_empty() {
        return Err(format!(
            "{}: no family directories with *.json files",
            args.corpus.display()
        ));
    }
    Ok(fams)
}

/// The text of a caught panic.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    panic_message(&*p)
}

struct FileResult {
    family: String,
    name: String,
    nodes: usize,
    classes: usize,
    /// Per extractor name.
    by_extractor: BTreeMap<&'static str, Measurement>,
    /// ILP: (DAG cost, proven optimal, solve time, status text).
    ilp: Option<(f64, bool, Duration, String)>,
}

#[cfg(feature = "ilp")]
fn run_ilp(g: &DenseEGraph, limit: f64) -> Result<(f64, bool, Duration, String), String> {
    use saturn_extract::{Ilp, IlpStatus};
    let ilp = Ilp::new(Duration::from_secs_f64(limit));
    let start = Instant::now();
    let res = catch_unwind(AssertUnwindSafe(|| ilp.solve(g, g.roots())))
        .map_err(|p| format!("ilp panicked: {}", panic_text(p)))?
        .map_err(|e| format!("ilp: {e}"))?;
    let elapsed = start.elapsed();
    let (ex, status) = res;
    let checked = ex
        .check(g, g.roots())
        .map_err(|e| format!("ilp: check failed: {e}"))?;
    let text = match &status {
        IlpStatus::Optimal => "optimal".to_string(),
        IlpStatus::TimeLimit => "time limit".to_string(),
        IlpStatus::NoSolution => "no solution in time".to_string(),
        IlpStatus::Failed(s) => format!("failed: {s}"),
    };
    Ok((
        checked.dag.get(),
        status == IlpStatus::Optimal,
        elapsed,
        text,
    ))
}

#[cfg(not(feature = "ilp"))]
fn run_ilp(_g: &DenseEGraph, _limit: f64) -> Result<(f64, bool, Duration, String), String> {
    Err("built without the `ilp` feature".to_string())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn geomean(v: &[f64]) -> Option<f64> {
    if v.is_empty() || v.iter().any(|&x| x <= 0.0) {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

fn fmt_cost(x: f64) -> String {
    let x = x + 0.0; // normalise -0.0 (the sum of an empty f64 iterator)
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let families = match discover(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut bottom_up = BottomUp::default();
    let mut greedy = GreedyDag::default();
    if let Some(t) = args.par_threshold {
        bottom_up.parallel_threshold = t;
        greedy.parallel_threshold = t;
    }
    let extractors: Vec<Box<dyn Extractor>> = vec![Box::new(bottom_up), Box::new(greedy)];
    let run_ilp_too = args.ilp_time_limit > 0.0 && !args.check_only;
    if run_ilp_too && cfg!(not(feature = "ilp")) {
        eprintln!("--ilp-time-limit needs a build with `--features ilp`");
        return ExitCode::from(2);
    }

    let wall = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    let mut dropped_roots = 0usize;
    let mut files_with_inferred_roots = 0usize;
    let mut inferred_roots = 0usize;
    let mut results: Vec<FileResult> = Vec::new();
    let mut load_time = Duration::ZERO;
    let mut total_files = 0usize;
    let runs = if args.check_only { 1 } else { args.runs };

    for (family, files) in &families {
        for path in files {
            total_files += 1;
            let name = path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let t0 = Instant::now();
            let loaded = catch_unwind(AssertUnwindSafe(|| {
                load_dense(path, &BuildOptions::lenient())
            }));
            load_time += t0.elapsed();
            let g = match loaded {
                Err(p) => {
                    failures.push(format!(
                        "{}: load panicked: {}",
                        path.display(),
                        panic_text(p)
                    ));
                    continue;
                }
                Ok(Err(e)) => {
                    failures.push(e.to_string());
                    continue;
                }
                Ok(Ok(g)) => g,
            };
            // Files with an unknown root had top-level roots inferred (possibly all of
            // them already listed, then `inferred` is empty).
            if !g.root_report().dropped.is_empty() {
                files_with_inferred_roots += 1;
                dropped_roots += g.root_report().dropped.len();
                inferred_roots += g.root_report().inferred.len();
            }
            let mut fr = FileResult {
                family: family.clone(),
                name: name.clone(),
                nodes: g.num_nodes(),
                classes: g.num_classes(),
                by_extractor: BTreeMap::new(),
                ilp: None,
            };
            for ex in &extractors {
                match measure(&g, ex.as_ref(), &args.threads, runs) {
                    Ok(m) => {
                        fr.by_extractor.insert(ex.name(), m);
                    }
                    Err(e) => failures.push(format!("{}: {e}", path.display())),
                }
            }
            if run_ilp_too {
                match run_ilp(&g, args.ilp_time_limit) {
                    Ok(r) => fr.ilp = Some(r),
                    Err(e) => failures.push(format!("{}: {e}", path.display())),
                }
            }
            if fr.by_extractor.len() == extractors.len() {
                results.push(fr);
            }
        }
    }

    let elapsed = wall.elapsed();
    if args.check_only {
        println!(
            "check-only: {} files, {} checked OK with {:?} at thread counts {:?}, 0 skipped, {} failures; roots inferred in {} files ({} unknown root ids replaced, {} top-level classes added); total {:.1}s (loading {:.1}s)",
            total_files,
            results.len(),
            extractors.iter().map(|e| e.name()).collect::<Vec<_>>(),
            args.threads,
            failures.len(),
            files_with_inferred_roots,
            dropped_roots,
            inferred_roots,
            elapsed.as_secs_f64(),
            load_time.as_secs_f64(),
        );
    } else {
        print_report(&args, &extractors, &results);
        println!(
            "\nFiles: {total_files} total, {} measured, 0 skipped, {} failed; roots inferred in {files_with_inferred_roots} files ({dropped_roots} unknown root ids replaced, {inferred_roots} top-level classes added). Wall time {:.1}s (loading {:.1}s).",
            results.len(),
            failures.len(),
            elapsed.as_secs_f64(),
            load_time.as_secs_f64()
        );
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\nFAILURES ({}):", failures.len());
        for f in &failures {
            eprintln!("- {f}");
        }
        ExitCode::FAILURE
    }
}

fn print_report(args: &Args, extractors: &[Box<dyn Extractor>], results: &[FileResult]) {
    let names: Vec<&'static str> = extractors.iter().map(|e| e.name()).collect();
    let tcols: Vec<String> = args
        .threads
        .iter()
        .map(|t| format!("time {t}T (ms)"))
        .collect();
    let speedup_col = args.threads.len() > 1;

    println!(
        "## Extraction results (costs summed over files; times = sum over files of the median of {} runs, extraction only)\n",
        args.runs
    );
    let mut header = vec![
        "family".to_string(),
        "files".into(),
        "extractor".into(),
        "tree cost (sum)".into(),
        "DAG cost (sum)".into(),
        "DAG geomean".into(),
    ];
    header.extend(tcols.iter().cloned());
    if speedup_col {
        header.push(format!(
            "speedup {}T/{}T",
            args.threads[args.threads.len() - 1],
            args.threads[0]
        ));
    }
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));

    let mut groups: Vec<(String, Vec<&FileResult>)> = Vec::new();
    for r in results {
        match groups.last_mut() {
            Some((f, v)) if *f == r.family => v.push(r),
            _ => groups.push((r.family.clone(), vec![r])),
        }
    }
    groups.push(("**all**".to_string(), results.iter().collect()));
    for (family, files) in &groups {
        // Geomean over files whose DAG cost is positive for every extractor.
        let positive: Vec<&&FileResult> = files
            .iter()
            .filter(|f| f.by_extractor.values().all(|m| m.dag > 0.0))
            .collect();
        for name in &names {
            let ms_: Vec<&Measurement> = files.iter().map(|f| &f.by_extractor[name]).collect();
            let tree: f64 = ms_.iter().map(|m| m.tree).sum();
            let dag: f64 = ms_.iter().map(|m| m.dag).sum();
            let gm: Vec<f64> = positive.iter().map(|f| f.by_extractor[name].dag).collect();
            let gm = match geomean(&gm) {
                Some(x) if positive.len() == files.len() => format!("{x:.3}"),
                Some(x) => format!("{x:.3} ({}/{} files)", positive.len(), files.len()),
                None => "n/a".to_string(),
            };
            let mut row = vec![
                family.clone(),
                files.len().to_string(),
                name.to_string(),
                fmt_cost(tree),
                fmt_cost(dag),
                gm,
            ];
            let mut sums = vec![0f64; args.threads.len()];
            for m in &ms_ {
                for (i, t) in m.times.iter().enumerate() {
                    sums[i] += ms(*t);
                }
            }
            row.extend(sums.iter().map(|s| format!("{s:.2}")));
            if speedup_col {
                let last = sums[sums.len() - 1];
                row.push(if last > 0.0 {
                    format!("{:.2}x", sums[0] / last)
                } else {
                    "-".into()
                });
            }
            println!("| {} |", row.join(" | "));
        }
    }

    // Largest files.
    let mut largest: Vec<&FileResult> = results.iter().collect();
    largest.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.name.cmp(&b.name)));
    largest.truncate(5);
    println!(
        "\n## Parallel speedup on the 5 largest files (median of {} runs)\n",
        args.runs
    );
    let mut header = vec![
        "file".to_string(),
        "nodes".into(),
        "classes".into(),
        "extractor".into(),
    ];
    header.extend(tcols.iter().cloned());
    if speedup_col {
        header.push("speedup".into());
    }
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for f in &largest {
        for name in &names {
            let m = &f.by_extractor[name];
            let mut row = vec![
                format!("{}/{}", f.family, f.name),
                f.nodes.to_string(),
                f.classes.to_string(),
                name.to_string(),
            ];
            row.extend(m.times.iter().map(|t| format!("{:.3}", ms(*t))));
            if speedup_col {
                let (a, b) = (m.times[0], m.times[m.times.len() - 1]);
                row.push(format!(
                    "{:.2}x",
                    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
                ));
            }
            println!("| {} |", row.join(" | "));
        }
    }

    // ILP gap.
    if results.iter().any(|r| r.ilp.is_some()) {
        println!(
            "\n## ILP (microlp, time limit {}s per file) vs greedy-dag, DAG cost\n",
            args.ilp_time_limit
        );
        println!("| family | files | proven optimal | greedy DAG (sum, proven files) | ILP DAG (sum, proven files) | gap greedy vs optimum | ILP better than greedy (files) | ILP time (s, sum) |");
        println!("|---|---|---|---|---|---|---|---|");
        for (family, files) in &groups {
            let with: Vec<&&FileResult> = files.iter().filter(|f| f.ilp.is_some()).collect();
            let proven: Vec<&&&FileResult> = with
                .iter()
                .filter(|f| f.ilp.as_ref().is_some_and(|i| i.1))
                .collect();
            let g_sum: f64 = proven
                .iter()
                .map(|f| f.by_extractor["greedy-dag"].dag)
                .sum();
            let i_sum: f64 = proven
                .iter()
                .map(|f| f.ilp.as_ref().map_or(0.0, |i| i.0))
                .sum();
            let better = with
                .iter()
                .filter(|f| {
                    let i = f.ilp.as_ref().map_or(f64::INFINITY, |i| i.0);
                    let gd = f.by_extractor["greedy-dag"].dag;
                    !Cost::new(i)
                        .unwrap_or(Cost::INFINITY)
                        .approx_eq(Cost::new(gd).unwrap_or(Cost::INFINITY), 1e-9)
                        && i < gd
                })
                .count();
            let t: f64 = with
                .iter()
                .map(|f| f.ilp.as_ref().map_or(0.0, |i| i.2.as_secs_f64()))
                .sum();
            let gap = if i_sum.abs() > 0.0 {
                format!("{:+.2}%", (g_sum - i_sum) / i_sum.abs() * 100.0)
            } else {
                "-".into()
            };
            let (gs, is) = if proven.is_empty() {
                ("-".to_string(), "-".to_string())
            } else {
                (fmt_cost(g_sum), fmt_cost(i_sum))
            };
            println!(
                "| {family} | {} | {} | {gs} | {is} | {gap} | {better} | {t:.1} |",
                with.len(),
                proven.len(),
            );
        }
        let not_optimal: Vec<String> = results
            .iter()
            .filter_map(|r| {
                r.ilp
                    .as_ref()
                    .filter(|i| !i.1)
                    .map(|i| format!("{}/{} ({})", r.family, r.name, i.3))
            })
            .collect();
        if !not_optimal.is_empty() {
            const SHOWN: usize = 12;
            let more = not_optimal.len().saturating_sub(SHOWN);
            println!(
                "\nNot proven optimal ({}): {}{}",
                not_optimal.len(),
                not_optimal[..not_optimal.len().min(SHOWN)].join(", "),
                if more > 0 {
                    format!(", ... and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
}
