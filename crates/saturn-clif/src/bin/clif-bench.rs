//! Benchmark over the clif-wasm corpus:
//!
//! ```text
//! clif-bench <corpus>/clif-wasm [--runs N] [--threads 1,2] [--dag] [--iters N] [--cold] [--no-verify]
//! ```
//!
//! Per program: instructions before, after Cranelift's `optimize`, after
//! Saturn; and the median time (over `--runs`, in one process) of
//! Cranelift's `optimize` and of Saturn at each thread count, all with
//! `opt_level=speed` and `preserve_frame_pointers=true`.
//!
//! Both sides run Cranelift's verifier by default, as shipped: Cranelift's
//! `optimize` with its default `enable_verifier=true` verifies after
//! several of its passes (on `clif-wasm`, 59% of its time in a profile),
//! Saturn verifies its input and its output (20% of its time).
//! `--no-verify` times the optimization alone: `enable_verifier=false`
//! for Cranelift, [`Options::verify`] off for Saturn.
//!
//! Each timed series (Cranelift, then Saturn at each thread count) starts
//! with one untimed run of the same program, as `saturn-bench` does: the
//! first run of a series otherwise pays for what the one before it left
//! cold (caches, the allocator's free lists, a pool's idle threads), and
//! with the default 3 runs one slow run in three moves the median. `--cold`
//! leaves the warm-up runs out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_codegen::Context;
use cranelift_reader::parse_functions;
use saturn_clif::{count_insts, host_isa, optimize, Options};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn run() -> Result<bool, String> {
    let mut it = std::env::args().skip(1);
    let mut root = None;
    let mut runs = 3usize;
    let mut threads = vec![1usize, 2];
    let mut dag = false;
    let mut warm_up = true;
    let mut base = Options::default();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs needs a number of at least 1")?
            }
            "--threads" => {
                threads = it
                    .next()
                    .ok_or("--threads needs a list")?
                    .split(',')
                    .map(|s| {
                        s.parse()
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or_else(|| format!("bad thread count `{s}` (1 or more)"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--dag" => dag = true,
            "--cold" => warm_up = false,
            "--no-verify" => base.verify = false,
            "--iters" => {
                base.iter_limit = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--iters needs a number")?
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ if root.is_none() => root = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    let root = root.ok_or(
        "usage: clif-bench <corpus>/clif-wasm [--runs N] [--threads 1,2] [--dag] [--iters N] [--cold] [--no-verify]",
    )?;
    let mut b = settings::builder();
    if !base.verify {
        b.set("enable_verifier", "false")
            .map_err(|e| e.to_string())?;
    }
    b.set("opt_level", "speed").map_err(|e| e.to_string())?;
    b.set("preserve_frame_pointers", "true")
        .map_err(|e| e.to_string())?;
    let flags = Flags::new(b);
    let isa = host_isa(&flags);
    let mut progs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    progs.sort();
    let mut head =
        "| program | functions | insts before | after Cranelift | after Saturn | Cranelift ms |"
            .to_string();
    let mut sep = "|---|---:|---:|---:|---:|---:|".to_string();
    for t in &threads {
        head += &format!(" Saturn {t}T ms |");
        sep += "---:|";
    }
    // The ratio is taken at the first thread count given.
    head += &format!(" Saturn {}T / Cranelift |", threads[0]);
    sep += "---:|";
    // Each program directory's `*.clif` files; those without any are not
    // programs.
    let mut programs = vec![];
    for prog in progs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&prog)
            .map_err(|e| format!("{}: {e}", prog.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "clif"))
            .collect();
        files.sort();
        if !files.is_empty() {
            programs.push((prog, files));
        }
    }
    if programs.is_empty() {
        return Err(format!(
            "{}: no program directories with *.clif files (expected <corpus>/clif-wasm)",
            root.display()
        ));
    }
    println!("{head}\n{sep}");
    let mut all_ok = true;
    for (prog, files) in programs {
        let mut funcs: Vec<Function> = vec![];
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let fs = parse_functions(&text).map_err(|e| {
                format!("{}:{}: {}", f.display(), e.location.line_number, e.message)
            })?;
            funcs.extend(fs);
        }
        let before: usize = funcs.iter().map(count_insts).sum();
        // Cranelift.
        let mut cl_times = vec![];
        let mut cl_after = 0;
        for k in 0..runs + warm_up as usize {
            let copies: Vec<Function> = funcs.clone();
            let mut n = 0;
            let t0 = Instant::now();
            for f in copies {
                let mut ctx = Context::for_function(f);
                ctx.optimize(&*isa, &mut ControlPlane::default())
                    .map_err(|e| format!("cranelift: {e:?}"))?;
                n += count_insts(&ctx.func);
            }
            if k > 0 || !warm_up {
                cl_times.push(t0.elapsed());
            }
            cl_after = n;
        }
        // Saturn.
        let mut sat_after = 0;
        let mut sat_times = vec![];
        for &t in &threads {
            let pool = if t > 1 {
                Some(Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(t)
                        .build()
                        .map_err(|e| e.to_string())?,
                ))
            } else {
                None
            };
            let opts = Options {
                threads: t,
                pool,
                dag,
                ..base.clone()
            };
            let mut times = vec![];
            for k in 0..runs + warm_up as usize {
                let copies: Vec<Function> = funcs.clone();
                let mut n = 0;
                let t0 = Instant::now();
                for mut f in copies {
                    match optimize(&mut f, &*isa, &opts) {
                        Ok(s) => n += s.insts_after,
                        Err(e) => {
                            eprintln!("{} {}: {e}", prog.display(), f.name);
                            all_ok = false;
                        }
                    }
                }
                if k > 0 || !warm_up {
                    times.push(t0.elapsed());
                }
                sat_after = n;
            }
            sat_times.push(median(times));
        }
        let cl = median(cl_times);
        let mut row = format!(
            "| {} | {} | {before} | {cl_after} | {sat_after} | {} |",
            prog.file_name().unwrap_or_default().to_string_lossy(),
            funcs.len(),
            ms(cl)
        );
        for s in &sat_times {
            row += &format!(" {} |", ms(*s));
        }
        row += &format!(
            " {:.2} |",
            sat_times[0].as_secs_f64() / cl.as_secs_f64().max(1e-9)
        );
        println!("{row}");
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let h = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(run)
        .expect("spawn");
    match h.join() {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => ExitCode::FAILURE,
        Ok(Err(e)) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(_) => ExitCode::FAILURE,
    }
}
