//! Prints Saturn's optimization of every function of a CLIF file:
//! `clif-opt <file.clif> [--dag]`.

use std::process::ExitCode;

use cranelift_reader::{parse_test, IsaSpec, ParseOptions};
use saturn_clif::{optimize, text::fix_header, Options};

fn main() -> ExitCode {
    let mut opts = Options::default();
    let mut path = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--dag" => opts.dag = true,
            _ => path = Some(a),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: clif-opt <file.clif> [--dag]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    let isa = saturn_clif::host_isa(&flags);
    let mut rc = ExitCode::SUCCESS;
    for (f, _) in &test.functions {
        let mut g = f.clone();
        match optimize(&mut g, &*isa, &opts) {
            Ok(s) => println!("; {s:?}\n{g}"),
            Err(e) => {
                eprintln!("{path} {}: {e}", f.name);
                rc = ExitCode::FAILURE;
            }
        }
    }
    rc
}
