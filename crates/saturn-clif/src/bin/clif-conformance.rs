//! Conformance of saturn-clif over Cranelift's filetests:
//!
//! ```text
//! clif-conformance <corpus>/cranelift [--threads N] [--dag] [--quiet] [--iters N]
//! ```
//!
//! (a) `egraph/`: every function optimized by Cranelift's `optimize` and by
//! Saturn in the same run; instruction counts per file and in total, and
//! the functions where Saturn is worse. (b) `runtests/`: every function
//! optimized by Saturn and verified; in files headed `test interpret`,
//! every `; run:` line is run in cranelift-interpreter on the original and
//! on Saturn's output. Exits non-zero on a runtest failure, a verifier
//! failure, a parse error, a panic, or when Saturn's egraph total exceeds
//! Cranelift's.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::Function;
use cranelift_codegen::ir::LibCall;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::settings::{self, Configurable, Flags, FlagsOrIsa};
use cranelift_codegen::Context;
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState, LibCallValues};
use cranelift_interpreter::step::ControlFlow;
use cranelift_reader::{parse_run_command, parse_test, IsaSpec, ParseOptions};
use saturn_clif::{count_insts, host_isa, optimize, text::fix_header, Options};

struct Args {
    root: PathBuf,
    opts: Options,
    quiet: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut root = None;
    let mut opts = Options::default();
    let mut quiet = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => {
                opts.threads = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--threads needs a number of at least 1")?
            }
            "--dag" => opts.dag = true,
            "--quiet" => quiet = true,
            "--iters" => {
                opts.iter_limit = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--iters needs a number")?
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ if root.is_none() => root = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    let root: PathBuf =
        root.ok_or("usage: clif-conformance <corpus>/cranelift [--threads N] [--dag]")?;
    // A corpus without its two suites would check nothing and pass.
    for sub in ["egraph", "runtests"] {
        if !root.join(sub).is_dir() {
            return Err(format!(
                "{}: no `{sub}` folder (expected a corpus like ../shared/corpora/cranelift)",
                root.display()
            ));
        }
    }
    Ok(Args { root, opts, quiet })
}

fn clif_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "clif"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn flags_of(spec: &IsaSpec) -> Flags {
    match spec {
        IsaSpec::None(f) => f.clone(),
        IsaSpec::Some(isas) => isas[0].flags().clone(),
    }
}

fn cranelift_optimize(func: &Function, isa: &dyn TargetIsa) -> Result<usize, String> {
    let mut ctx = Context::for_function(func.clone());
    ctx.optimize(isa, &mut ControlPlane::default())
        .map_err(|e| format!("{e:?}"))?;
    Ok(count_insts(&ctx.func))
}

fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panic: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

#[derive(Default)]
struct Tally {
    failures: Vec<String>,
}

fn egraph_suite(dir: &Path, args: &Args, t: &mut Tally) {
    let (mut tb, mut tc, mut ts, mut nf) = (0usize, 0usize, 0usize, 0usize);
    let mut worse = vec![];
    let mut better = 0;
    for path in clif_files(dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                t.failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let fixed = fix_header(&text, true);
        let test = match parse_test(&fixed, ParseOptions::default()) {
            Ok(x) => x,
            Err(e) => {
                t.failures.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    e.location.line_number,
                    e.message
                ));
                continue;
            }
        };
        let mut flags_b = settings::builder();
        let base = flags_of(&test.isa_spec);
        for v in base.iter() {
            let _ = flags_b.set(v.name, &v.value_string());
        }
        let _ = flags_b.set("opt_level", "speed");
        let flags = Flags::new(flags_b);
        let isa = host_isa(&flags);
        let (mut fb, mut fc, mut fs) = (0, 0, 0);
        for (func, _) in &test.functions {
            let before = count_insts(func);
            let cl = match guarded(|| cranelift_optimize(func, &*isa)) {
                Ok(n) => n,
                Err(e) => {
                    // Cranelift itself rejects it: report, do not count.
                    println!(
                        "  note: {name} {}: cranelift optimize failed: {e}",
                        func.name
                    );
                    continue;
                }
            };
            let mut f = func.clone();
            let sat = match guarded(|| optimize(&mut f, &*isa, &args.opts)) {
                Ok(s) => s.insts_after,
                Err(e) => {
                    t.failures
                        .push(format!("{} {}: {e}", path.display(), func.name));
                    continue;
                }
            };
            nf += 1;
            fb += before;
            fc += cl;
            fs += sat;
            if sat > cl {
                worse.push(format!(
                    "{name} {}: cranelift {cl}, saturn {sat}",
                    func.name
                ));
            } else if sat < cl {
                better += 1;
            }
        }
        if !args.quiet {
            println!("egraph/{name}: before {fb}, cranelift {fc}, saturn {fs}");
        }
        tb += before_sum(fb);
        tc += fc;
        ts += fs;
    }
    println!(
        "egraph TOTAL: {nf} functions, instructions before {tb}, cranelift {tc}, saturn {ts} ({})",
        if ts <= tc {
            "saturn <= cranelift"
        } else {
            "SATURN WORSE"
        }
    );
    if ts > tc {
        // The mid-end's target: never more instructions than Cranelift's
        // own optimizer over the whole suite.
        t.failures.push(format!(
            "egraph total: saturn {ts} instructions > cranelift {tc}"
        ));
    }
    println!(
        "egraph: saturn better on {better} functions, worse on {}:",
        worse.len()
    );
    for w in &worse {
        println!("  worse: {w}");
    }
}

fn before_sum(x: usize) -> usize {
    x
}

fn interpret(funcs: &[Function], name: &str, args: &[DataValue]) -> Result<Vec<DataValue>, String> {
    let mut store = FunctionStore::default();
    for f in funcs {
        store.add(f.name.to_string(), f);
    }
    let state = InterpreterState::default()
        .with_function_store(store)
        .with_libcall_handler(libcalls);
    let mut it = Interpreter::new(state).with_fuel(Some(10_000_000));
    let lookup = if name.starts_with('%') {
        name.to_string()
    } else {
        format!("%{name}")
    };
    match it.call_by_name(&lookup, args) {
        Ok(ControlFlow::Return(v)) => Ok(v.to_vec()),
        Ok(ControlFlow::Trap(t)) => Err(format!("trap: {t:?}")),
        Ok(_) => Err("unexpected control flow".into()),
        Err(e) => Err(format!("interpreter error: {e}")),
    }
}

/// The float libcalls the run tests use.
fn libcalls(
    call: LibCall,
    args: LibCallValues,
) -> Result<LibCallValues, cranelift_interpreter::step::CraneliftTrap> {
    use DataValue::{F32, F64};
    let f32op = |f: fn(f32) -> f32, x: cranelift_codegen::ir::immediates::Ieee32| {
        F32(cranelift_codegen::ir::immediates::Ieee32::with_float(f(
            x.as_f32()
        )))
    };
    let f64op = |f: fn(f64) -> f64, x: cranelift_codegen::ir::immediates::Ieee64| {
        F64(cranelift_codegen::ir::immediates::Ieee64::with_float(f(
            x.as_f64()
        )))
    };
    let r = match (call, args.first()) {
        (LibCall::CeilF32, Some(F32(x))) => f32op(f32::ceil, *x),
        (LibCall::FloorF32, Some(F32(x))) => f32op(f32::floor, *x),
        (LibCall::TruncF32, Some(F32(x))) => f32op(f32::trunc, *x),
        (LibCall::NearestF32, Some(F32(x))) => f32op(f32::round_ties_even, *x),
        (LibCall::CeilF64, Some(F64(x))) => f64op(f64::ceil, *x),
        (LibCall::FloorF64, Some(F64(x))) => f64op(f64::floor, *x),
        (LibCall::TruncF64, Some(F64(x))) => f64op(f64::trunc, *x),
        (LibCall::NearestF64, Some(F64(x))) => f64op(f64::round_ties_even, *x),
        _ => {
            return Err(cranelift_interpreter::step::CraneliftTrap::User(
                cranelift_codegen::ir::TrapCode::INTEGER_OVERFLOW,
            ))
        }
    };
    Ok(smallvec::smallvec![r])
}

fn runtest_suite(dir: &Path, args: &Args, t: &mut Tally) {
    let (mut files, mut ifiles, mut funcs, mut lines_ok, mut lines_bad, mut orig_bad) =
        (0, 0, 0, 0, 0, 0);
    for path in clif_files(dir) {
        let text = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                t.failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let fixed = fix_header(&text, true);
        let test = match parse_test(&fixed, ParseOptions::default()) {
            Ok(x) => x,
            Err(e) => {
                t.failures.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    e.location.line_number,
                    e.message
                ));
                continue;
            }
        };
        files += 1;
        let interp = test.commands.iter().any(|c| c.command == "interpret");
        let flags = flags_of(&test.isa_spec);
        let isa = host_isa(&flags);
        // Files for 32-bit targets do not verify against x86_64: use the
        // flags alone for them.
        let needs_flags_only = test
            .functions
            .iter()
            .any(|(f, _)| cranelift_codegen::verifier::verify_function(f, &*isa).is_err());
        let fisa: FlagsOrIsa = if needs_flags_only {
            (&flags).into()
        } else {
            (&*isa).into()
        };
        let originals: Vec<Function> = test.functions.iter().map(|(f, _)| f.clone()).collect();
        let mut optimized = vec![];
        let mut ok = true;
        for f in &originals {
            let mut g = f.clone();
            match guarded(|| optimize(&mut g, fisa, &args.opts)) {
                Ok(_) => {
                    funcs += 1;
                    optimized.push(g)
                }
                Err(e) => {
                    t.failures
                        .push(format!("{} {}: {e}", path.display(), f.name));
                    ok = false;
                    optimized.push(f.clone());
                }
            }
        }
        if !interp || !ok {
            continue;
        }
        ifiles += 1;
        for (func, details) in &test.functions {
            for c in &details.comments {
                let cmd = match parse_run_command(c.text, &func.signature) {
                    Ok(Some(cmd)) => cmd,
                    Ok(None) => continue,
                    Err(e) => {
                        t.failures.push(format!(
                            "{}:{}: bad run command: {}",
                            path.display(),
                            e.location.line_number,
                            e.message
                        ));
                        continue;
                    }
                };
                let orig = guarded(|| cmd.run(|n, a| interpret(&originals, n, a)));
                let sat = guarded(|| cmd.run(|n, a| interpret(&optimized, n, a)));
                if orig.is_err() {
                    orig_bad += 1;
                }
                match sat {
                    Ok(()) => lines_ok += 1,
                    Err(e) => {
                        lines_bad += 1;
                        t.failures.push(format!(
                            "{} {}: {cmd}: saturn: {e} (original: {})",
                            path.display(),
                            func.name,
                            match &orig {
                                Ok(()) => "passes".to_string(),
                                Err(e) => e.clone(),
                            }
                        ));
                    }
                }
            }
        }
    }
    println!(
        "runtests: {files} files parsed, {funcs} functions optimized and verified; {ifiles} interpretable files: run lines passed {lines_ok}, failed {lines_bad} (original failing: {orig_bad})"
    );
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let h = std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || {
            let mut t = Tally::default();
            egraph_suite(&args.root.join("egraph"), &args, &mut t);
            runtest_suite(&args.root.join("runtests"), &args, &mut t);
            t
        })
        .expect("spawn");
    let t = match h.join() {
        Ok(t) => t,
        Err(_) => {
            eprintln!("FAILED: panic");
            return ExitCode::FAILURE;
        }
    };
    for f in &t.failures {
        println!("FAIL: {f}");
    }
    println!("conformance failures: {}", t.failures.len());
    if t.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
