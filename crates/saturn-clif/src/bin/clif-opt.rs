//! Prints Saturn's optimization of every function of a CLIF file:
//! `clif-opt <file.clif> [--dag] [--compare] [--worse] [--iters N]`.
//!
//! `--compare` also prints Cranelift's own `optimize` output;
//! `--worse` prints only the functions where Saturn ends with more
//! instructions than Cranelift (both outputs). Files without a test header
//! (the clif-wasm corpus) are read with `opt_level=speed` and
//! `preserve_frame_pointers=true`.

use std::process::ExitCode;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_codegen::Context;
use cranelift_reader::{parse_functions, parse_test, IsaSpec, ParseOptions};
use saturn_clif::{count_insts, optimize, text::fix_header, Options};

fn main() -> ExitCode {
    let mut opts = Options::default();
    let mut path = None;
    let (mut compare, mut worse) = (false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iters" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) => opts.iter_limit = n,
                None => {
                    eprintln!("--iters needs a number");
                    return ExitCode::from(2);
                }
            },
            "--dag" => opts.dag = true,
            "--compare" => compare = true,
            "--worse" => worse = true,
            _ if a.starts_with('-') => {
                eprintln!("unknown option {a}");
                return ExitCode::from(2);
            }
            _ if path.is_none() => path = Some(a),
            _ => {
                eprintln!("clif-opt takes one file; `{a}` is a second");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: clif-opt <file.clif> [--dag] [--compare] [--worse] [--iters N]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = saturn_clif::text::check_reader_input(&text) {
        eprintln!("{path}:{}:{}: {e}", e.line, e.column);
        return ExitCode::FAILURE;
    }
    let (funcs, flags): (Vec<Function>, Flags) = if text.lines().any(|l| l.starts_with("test ")) {
        let fixed = fix_header(&text, true);
        let test = match parse_test(&fixed, ParseOptions::default()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}:{}: {}", e.location.line_number, e.message);
                return ExitCode::FAILURE;
            }
        };
        let flags = match &test.isa_spec {
            IsaSpec::None(f) => f.clone(),
            IsaSpec::Some(i) => i[0].flags().clone(),
        };
        let mut b = settings::builder();
        for v in flags.iter() {
            let _ = b.set(v.name, &v.value_string());
        }
        let _ = b.set("opt_level", "speed");
        (
            test.functions.into_iter().map(|(f, _)| f).collect(),
            Flags::new(b),
        )
    } else {
        let funcs = match parse_functions(&text) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{path}:{}: {}", e.location.line_number, e.message);
                return ExitCode::FAILURE;
            }
        };
        let mut b = settings::builder();
        let _ = b.set("opt_level", "speed");
        let _ = b.set("preserve_frame_pointers", "true");
        (funcs, Flags::new(b))
    };
    let isa = saturn_clif::host_isa(&flags);
    let mut rc = ExitCode::SUCCESS;
    for f in &funcs {
        let mut g = f.clone();
        let mut ctx = Context::for_function(f.clone());
        let cl = if compare || worse {
            match ctx.optimize(&*isa, &mut ControlPlane::default()) {
                Ok(()) => Some(count_insts(&ctx.func)),
                Err(e) => {
                    eprintln!("{path} {}: cranelift: {e:?}", f.name);
                    None
                }
            }
        } else {
            None
        };
        match optimize(&mut g, &*isa, &opts) {
            Ok(s) => {
                if worse && cl.is_none_or(|c| s.insts_after <= c) {
                    continue;
                }
                println!("; saturn {s:?}\n{g}");
                if let Some(c) = cl {
                    println!("; cranelift: {c} instructions\n{}", ctx.func);
                }
            }
            Err(e) => {
                eprintln!("{path} {}: {e}", f.name);
                rc = ExitCode::FAILURE;
            }
        }
    }
    rc
}
