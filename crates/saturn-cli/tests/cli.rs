//! End-to-end tests of the `saturn` binary. Everything they need is inline
//! (small CLIF and JSON fixtures written to temporary folders).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_saturn");

const ARITH: &str = "\
function %arith(i32, i32) -> i32 {
block0(v0: i32, v1: i32):
    v2 = iconst.i32 0
    v3 = iadd v0, v2
    v4 = imul v3, v1
    v5 = iconst.i32 1
    v6 = imul v4, v5
    v7 = isub v6, v6
    v8 = iadd v6, v7
    return v8
}

function %consts() -> i64 {
block0:
    v0 = iconst.i64 6
    v1 = iconst.i64 7
    v2 = imul v0, v1
    v3 = iconst.i64 1
    v4 = ishl v2, v3
    return v4
}
";

const LOOP: &str = "\
function %sum(i64) -> i64 {
block0(v0: i64):
    v1 = iconst.i64 0
    jump block1(v1, v1)

block1(v2: i64, v3: i64):
    v4 = icmp ult v2, v0
    brif v4, block2, block3

block2:
    v5 = iconst.i64 8
    v6 = imul v0, v5
    v7 = iadd v3, v6
    v8 = iconst.i64 1
    v9 = iadd v2, v8
    jump block1(v9, v7)

block3:
    return v3
}
";

const BRANCH: &str = "\
set opt_level=speed
target x86_64

function %branch(i8) -> i32 {
block0(v0: i8):
    v1 = iconst.i8 0
    v2 = icmp eq v1, v1
    brif v2, block1, block2

block1:
    v3 = iconst.i32 10
    v4 = uextend.i32 v0
    v5 = iadd v3, v4
    return v5

block2:
    v6 = iconst.i32 20
    return v6
}
";

/// A folder with the fixtures: `a.clif`, `sub/b.clif`, `sub/c.clif`,
/// `sub/ignored.txt`.
fn corpus() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.clif"), ARITH).unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::write(d.path().join("sub/c.clif"), BRANCH).unwrap();
    std::fs::write(d.path().join("sub/b.clif"), LOOP).unwrap();
    std::fs::write(d.path().join("sub/ignored.txt"), "not clif").unwrap();
    d
}

fn saturn(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The stderr of a run that must fail, without a panic.
fn failed(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A folder holding the peephole example as `p.rules` and `p.terms`.
fn peephole_files() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let (rules, terms) = (d.path().join("p.rules"), d.path().join("p.terms"));
    std::fs::write(&rules, PEEPHOLE_RULES).unwrap();
    std::fs::write(&terms, PEEPHOLE_TERMS).unwrap();
    (d, rules, terms)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn opt_output_is_identical_for_every_policy_and_thread_count() {
    let d = corpus();
    let base = ok(&saturn(&[
        "opt",
        s(d.path()),
        "--threads",
        "1",
        "--policy",
        "function",
    ]));
    // All four functions, in sorted-path order: a.clif, sub/b.clif, sub/c.clif.
    let order: Vec<usize> = ["%arith", "%consts", "%sum", "%branch"]
        .iter()
        .map(|f| base.find(&format!("function {f}")).expect(f))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{base}");
    assert!(!base.contains("not clif"));
    // Something was optimized: `iadd v0, 0` and `* 1` are gone.
    assert!(!base.contains("iconst.i32 1\n"), "{base}");
    for policy in ["function", "intra", "nested"] {
        for threads in ["1", "2", "3"] {
            for _ in 0..2 {
                let out = ok(&saturn(&[
                    "opt",
                    s(d.path()),
                    "--threads",
                    threads,
                    "--policy",
                    policy,
                ]));
                assert_eq!(out, base, "policy {policy}, {threads} threads");
            }
        }
    }
}

#[test]
fn opt_out_dir_writes_one_file_per_input_and_nothing_else() {
    let d = corpus();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("new/nested");
    ok(&saturn(&[
        "opt",
        s(d.path()),
        "-o",
        s(&o),
        "--threads",
        "2",
    ]));
    let mut files: Vec<PathBuf> = vec![];
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    walk(&o, &mut files);
    files.sort();
    assert_eq!(
        files,
        vec![o.join("a.clif"), o.join("sub/b.clif"), o.join("sub/c.clif")]
    );
    // Each output is what a single-file run prints, and it parses again.
    for (rel, name) in [
        ("a.clif", "a.clif"),
        ("sub/b.clif", "b.clif"),
        ("sub/c.clif", "c.clif"),
    ] {
        let single = ok(&saturn(&["opt", s(&d.path().join(rel))]));
        let written = std::fs::read_to_string(o.join(rel)).unwrap();
        assert_eq!(written, single, "{name}");
        let again = ok(&saturn(&["opt", s(&o.join(rel))]));
        assert!(again.contains("function"));
    }
    // The header of c.clif is kept.
    let c = std::fs::read_to_string(o.join("sub/c.clif")).unwrap();
    assert!(c.starts_with("set opt_level=speed\ntarget x86_64\n"), "{c}");
}

#[test]
fn opt_bad_input_names_file_and_line_and_writes_nothing() {
    let d = corpus();
    let bad = d.path().join("sub/z_bad.clif");
    std::fs::write(
        &bad,
        "function %bad(i32) -> i32 {\nblock0(v0: i32):\n    v1 = bogus v0\n    return v1\n}\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("out");
    let r = saturn(&["opt", s(d.path()), "-o", s(&o), "--threads", "2"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(&format!("{}:3: Unknown opcode", bad.display())),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!o.exists(), "nothing may be written");

    // A function that parses but does not verify: a verifier error at the
    // line of the instruction it names, with the function, still no
    // output.
    std::fs::write(
        &bad,
        "function %unverified(i32) -> i32 {\nblock0(v0: i32):\n    v1 = iconst.i64 1\n    return v1\n}\n",
    )
    .unwrap();
    let r = saturn(&["opt", s(d.path()), "-o", s(&o)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(&format!(
            "{}:4: function %unverified: input does not verify: inst1 (return v1",
            bad.display()
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!o.exists());
    // Behind a header (rewritten for the reader), the line is the file's.
    std::fs::write(
        &bad,
        "test optimize\nset opt_level=speed\ntarget x86_64\n\nfunction %unverified(i32) -> i32 {\nblock0(v0: i32):\n    v1 = iconst.i64 1\n    return v1\n}\n",
    )
    .unwrap();
    let r = saturn(&["opt", s(&bad)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(&format!("{}:8: function %unverified", bad.display())),
        "{err}"
    );

    // Missing input.
    let r = saturn(&["opt", s(&d.path().join("missing.clif"))]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing.clif"));
}

#[test]
fn opt_checks_against_the_header_s_target_when_built_in() {
    let d = tempfile::tempdir().unwrap();
    let body = |ty: &str| {
        format!(
            "function %f({ty}) -> {ty} {{\nblock0(v0: {ty}):\n    v1 = load.{ty} v0\n    return v1\n}}\n"
        )
    };
    let file = |name: &str, header: &str, ty: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, format!("{header}\n{}", body(ty))).unwrap();
        p
    };
    // A built-in target with ISA flags: accepted, and the header kept.
    let x = file(
        "x.clif",
        "set opt_level=speed\ntarget x86_64 has_avx\n",
        "i64",
    );
    let out = ok(&saturn(&["opt", s(&x)]));
    assert!(
        out.starts_with("set opt_level=speed\ntarget x86_64 has_avx\n"),
        "{out}"
    );
    // A bad ISA flag is an error at its line, in Cranelift's words (a
    // shared flag is not an ISA flag); so is a name that is no target, not
    // a panic. A comment is not a flag.
    for (header, line, message) in [
        (
            "target x86_64 bogus_flag\n",
            1,
            "unknown setting 'bogus_flag'",
        ),
        (
            "target x86_64 opt_level=none\n",
            1,
            "unknown setting 'opt_level=none'",
        ),
        ("\ntarget riscv99\n", 2, "unknown target `riscv99`"),
    ] {
        let bad = file("bad.clif", header, "i64");
        let err = failed(&saturn(&["opt", s(&bad)]));
        assert!(
            err.contains(&format!("{}:{line}: {message}", bad.display())),
            "{err}"
        );
    }
    let commented = file("c.clif", "target x86_64 has_avx ; on x86_64;\n", "i64");
    ok(&saturn(&["opt", s(&commented)]));
    // A target that is not built in: checked against x86_64, whose 64-bit
    // pointers reject a 32-bit load and store address (two errors), and a
    // note says so once. (Before, every file was checked against x86_64
    // without a word.)
    let p32 = d.path().join("p32.clif");
    std::fs::write(
        &p32,
        "target pulley32\n\nfunction %f(i32) -> i32 {\nblock0(v0: i32):\n    v1 = load.i32 v0\n    store v1, v0\n    return v1\n}\n",
    )
    .unwrap();
    let err = failed(&saturn(&["opt", s(&p32)]));
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "error: {}:5: function %f: input does not verify",
            p32.display()
        )) && lines[1].starts_with(&format!(
            "error: {}:6: function %f: input does not verify",
            p32.display()
        )) && lines[2]
            == "note: the file's target `pulley32` is not built into saturn: checked against x86_64"
            && lines[3] == "nothing was written",
        "{err}"
    );
    // With a built-in target after one that is not, no note. (Only x86_64
    // is built in, so which built-in target is used cannot show here.)
    let both = file("both.clif", "target pulley32\ntarget x86_64\n", "i64");
    ok(&saturn(&["opt", s(&both)]));
}

#[test]
fn opt_existing_outputs_are_replaced_whole() {
    let d = corpus();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("a.clif"), "old").unwrap();
    ok(&saturn(&[
        "opt",
        s(&d.path().join("a.clif")),
        "-o",
        s(out.path()),
    ]));
    let a = std::fs::read_to_string(out.path().join("a.clif")).unwrap();
    assert!(a.contains("function %arith"));
    // No temporary files left.
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["a.clif".to_string()]);
}

#[test]
fn opt_stats_json_and_summary() {
    let d = corpus();
    let r = saturn(&["opt", s(d.path()), "--stats", "json", "--threads", "2"]);
    ok(&r);
    let err = String::from_utf8(r.stderr).unwrap();
    let (json, summary) = err.rsplit_once("}\n").unwrap();
    let v: serde_json::Value = serde_json::from_str(&format!("{json}}}")).unwrap();
    assert_eq!(v["totals"]["functions"], 4);
    assert_eq!(v["totals"]["files"], 3);
    assert_eq!(v["totals"]["policy"], "nested");
    assert_eq!(v["functions"].as_array().unwrap().len(), 4);
    assert_eq!(v["functions"][2]["function"], "%sum");
    let before = v["totals"]["insts_before"].as_u64().unwrap();
    let after = v["totals"]["insts_after"].as_u64().unwrap();
    assert!(after < before, "{v}");
    assert!(
        summary.starts_with("saturn opt: 4 functions in 3 files"),
        "{summary}"
    );
    assert!(summary.contains("2 thread(s), policy nested"), "{summary}");

    // --stats-file: the same JSON in a file, stderr has only the summary.
    let f = d.path().join("stats.json");
    let r = saturn(&["opt", s(d.path()), "--stats-file", s(&f)]);
    ok(&r);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(v["totals"]["functions"], 4);
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(err.starts_with("saturn opt:"), "{err}");
}

/// `--stats-file` writes through a symbolic link (the link stays, its
/// target gets the JSON; a rename onto the path used to replace the link,
/// and as root turned `/dev/null` into a regular file), through a link to
/// a file not made yet, and refuses a folder.
#[test]
#[cfg(unix)]
fn the_stats_file_is_written_through_symbolic_links() {
    let d = tempfile::tempdir().unwrap();
    let clif = d.path().join("a.clif");
    std::fs::write(&clif, ARITH).unwrap();
    let (link, real) = (d.path().join("l.json"), d.path().join("real.json"));
    std::fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    ok(&saturn(&["opt", s(&clif), "--stats-file", s(&link)]));
    assert!(link.is_symlink(), "the link was replaced");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert!(v["totals"]["functions"].as_u64().unwrap() >= 1, "{v}");
    // A link whose target does not exist yet.
    std::fs::create_dir(d.path().join("sub")).unwrap();
    let dangling = d.path().join("d.json");
    std::os::unix::fs::symlink("sub/new.json", &dangling).unwrap();
    ok(&saturn(&["opt", s(&clif), "--stats-file", s(&dangling)]));
    assert!(dangling.is_symlink(), "the link was replaced");
    assert!(d.path().join("sub/new.json").is_file());
    // A folder is an error that names it.
    let r = saturn(&["opt", s(&clif), "--stats-file", s(d.path())]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("is a folder"), "{err}");
}

/// Runs the binary as a child of a private jobserver with one token
/// besides the implicit one (this exercises `Client::from_env_ext`, the
/// crate's only `unsafe`, without `make`).
#[test]
fn jobserver_private_client() {
    let d = corpus();
    let base = ok(&saturn(&["opt", s(d.path())]));
    let client = jobserver::Client::new(1).unwrap();
    for policy in ["function", "intra", "nested"] {
        let mut cmd = Command::new(BIN);
        cmd.args(["opt", s(d.path()), "--threads", "4", "--policy", policy]);
        client.configure_make(&mut cmd);
        let o = cmd.output().unwrap();
        assert_eq!(ok(&o), base, "{policy}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("jobserver (at most "), "{err}");
        // 1 implicit + 1 from the jobserver.
        let held: usize = err
            .split("at most ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(held <= 2, "{err}");
    }
    // Every token came back: we can take the one token there is.
    drop(client.acquire().unwrap());
}

#[test]
fn jobserver_under_make_j2() {
    if Command::new("make").arg("--version").output().is_err() {
        eprintln!("make is not available: skipping jobserver_under_make_j2");
        return;
    }
    let d = corpus();
    let base = ok(&saturn(&["opt", s(d.path())]));
    let work = tempfile::tempdir().unwrap();
    // Two targets run in parallel under -j2, each a saturn with 2 threads;
    // `+` passes the jobserver to the recipe.
    let makefile = "\
all: one.out two.out

one.out:
\t+$(SATURN) opt $(INPUT) --threads 2 --policy function > $@

two.out:
\t+$(SATURN) opt $(INPUT) --threads 2 --policy nested > $@
";
    std::fs::write(work.path().join("Makefile"), makefile).unwrap();
    let o = Command::new("make")
        .args(["-j2", "-s"])
        .arg(format!("SATURN={BIN}"))
        .arg(format!("INPUT={}", d.path().display()))
        .current_dir(work.path())
        .env_remove("MAKEFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for f in ["one.out", "two.out"] {
        let out = std::fs::read_to_string(work.path().join(f)).unwrap();
        assert_eq!(out, base, "{f}");
    }
    assert!(err.contains("jobserver (at most "), "{err}");
}

/// A fifo jobserver (GNU make 4.4's kind, whose tokens can be taken
/// without waiting, unlike a pipe's): with 3 tokens free, `opt` at 4
/// threads holds more than its implicit token, no more than 4, gives the
/// same output, and gives every token back.
#[test]
fn jobserver_fifo_tokens_are_used_and_given_back() {
    use std::io::{Read, Write};
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("jobserver");
    match Command::new("mkfifo").arg(&fifo).status() {
        Ok(s) if s.success() => {}
        _ => {
            eprintln!(
                "mkfifo is not available: skipping jobserver_fifo_tokens_are_used_and_given_back"
            );
            return;
        }
    }
    // Read and write: opening a fifo that way does not wait for the other
    // end, and keeps the tokens in it while saturn runs.
    let mut tokens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    tokens.write_all(b"+++").unwrap();
    let d = corpus();
    for k in 0..12 {
        std::fs::write(d.path().join(format!("sub/d{k:02}.clif")), ARITH).unwrap();
    }
    let base = ok(&saturn(&["opt", s(d.path())]));
    for policy in ["function", "intra", "nested"] {
        let o = Command::new(BIN)
            .args(["opt", s(d.path()), "--threads", "4", "--policy", policy])
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MFLAGS")
            .env(
                "MAKEFLAGS",
                format!("-j4 --jobserver-auth=fifo:{}", fifo.display()),
            )
            .output()
            .unwrap();
        assert_eq!(ok(&o), base, "{policy}");
        let err = String::from_utf8_lossy(&o.stderr);
        let held: usize = err
            .split("at most ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{policy}: {err}"));
        assert!((2..=4).contains(&held), "{policy}: {err}");
        // The 3 tokens are back in the fifo (a read that waits, on its
        // own thread, so a lost token fails the test instead of hanging
        // it).
        let mut reader = tokens.try_clone().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut back = [0u8; 3];
            let _ = tx.send(reader.read_exact(&mut back).map(|_| back));
        });
        let back = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{policy}: a token was not given back"))
            .unwrap();
        assert_eq!(&back, b"+++");
        tokens.write_all(&back).unwrap();
    }
}

const EGRAPH: &str = r#"{
  "nodes": {
    "f": {"op": "f", "children": ["s"], "eclass": "r", "cost": 1},
    "g": {"op": "g", "children": ["x1", "y1"], "eclass": "r", "cost": 1},
    "s": {"op": "s", "children": [], "eclass": "s", "cost": 5},
    "x1": {"op": "x", "children": ["z"], "eclass": "x", "cost": 1},
    "y1": {"op": "y", "children": ["z"], "eclass": "y", "cost": 1},
    "z": {"op": "z", "children": [], "eclass": "z", "cost": 2.5}
  },
  "root_eclasses": ["r"]
}"#;

#[test]
fn extract_text_and_json() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("g.json");
    std::fs::write(&p, EGRAPH).unwrap();
    let out = ok(&saturn(&["extract", s(&p)]));
    assert!(out.contains("bottom-up: tree cost 6, DAG cost 6"), "{out}");
    assert!(out.contains("root r: node f (f)"), "{out}");
    for t in ["1", "2"] {
        let out = ok(&saturn(&[
            "extract",
            s(&p),
            "--extractor",
            "greedy-dag",
            "--threads",
            t,
        ]));
        assert!(
            out.contains("greedy-dag: tree cost 8, DAG cost 5.5"),
            "{out}"
        );
        assert!(out.contains("root r: node g (g)"), "{out}");
    }
    let out = ok(&saturn(&[
        "extract",
        s(&p),
        "--extractor",
        "greedy-dag",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dag_cost"], 5.5);
    assert_eq!(v["tree_cost"], 8.0);
    assert_eq!(v["roots"][0]["node"], "g");
    assert_eq!(v["choices"].as_array().unwrap().len(), 4);
}

#[test]
fn extract_errors_name_path_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.json");
    std::fs::write(&p, "{\"nodes\": {\n  \"a\": 3\n}}").unwrap();
    let r = saturn(&["extract", s(&p)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains(&format!("{}:2:", p.display())), "{err}");
    // A dangling child: a structural error with the path.
    std::fs::write(
        &p,
        r#"{"nodes": {"a": {"op": "a", "children": ["nope"], "eclass": "r"}}, "root_eclasses": ["r"]}"#,
    )
    .unwrap();
    let r = saturn(&["extract", s(&p)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("bad.json") && err.contains("nope"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The demo's files are built into the binary: it runs from any folder
/// (an installed binary once the sources are gone).
#[test]
fn demo_runs_without_arguments_from_any_folder() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(d.path())
        .env_remove("MAKEFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("saturn demo"));
    assert!(out.contains("(/ (+ 1 1) 2)  =>  1 "), "{out}");
    // Built in, not read from the sources (which exist here, so running
    // alone cannot tell): the binary holds the rule file's text.
    let binary = std::fs::read(BIN).unwrap();
    let line = b"cancel-div: (/ ?a ?a) => 1 if (is-not-zero ?a)";
    assert!(binary.windows(line.len()).any(|w| w == line));
}

/// `is-not-zero` holds only for a finite non-zero literal: `(/ ?a ?a) =>
/// 1` must not fire on a divisor that later turns out to be zero (it used
/// to hold for any class without a literal 0, so these became 1).
#[test]
fn is_not_zero_holds_only_for_non_zero_literals() {
    let d = tempfile::tempdir().unwrap();
    let terms = d.path().join("z.terms");
    std::fs::write(
        &terms,
        "(/ (* x 0) (* x 0))\n(/ (- y y) (- y y))\n(/ nan nan)\n(/ 0x0 0x0)\n(/ 3 3)\n",
    )
    .unwrap();
    let out = ok(&saturn(&[
        "run",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/arith.rules"),
        s(&terms),
    ]));
    let best: Vec<&str> = out
        .lines()
        .map(|l| {
            l.split("  =>  ")
                .nth(1)
                .unwrap()
                .split("   ")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        best,
        ["(/ 0 0)", "(/ 0 0)", "(/ nan nan)", "(/ 0x0 0x0)", "1"],
        "{out}"
    );
}

/// Flags that a mode would ignore are errors, not silently dropped:
/// `--scheduler` with `--strategy` (the strategies schedule rules
/// themselves), and the output options of `opt` with `--measure`.
#[test]
fn flags_a_mode_would_ignore_are_errors() {
    let (_d, rules, terms) = peephole_files();
    let err = failed(&saturn(&[
        "run",
        s(&rules),
        s(&terms),
        "--strategy",
        "bsp",
        "--scheduler",
        "simple",
    ]));
    assert!(
        err.contains("--scheduler") && err.contains("--strategy"),
        "{err}"
    );
    // The default scheduler is no conflict.
    ok(&saturn(&["run", s(&rules), s(&terms), "--strategy", "bsp"]));
    let out = tempfile::tempdir().unwrap();
    let err = failed(&saturn(&[
        "opt",
        "--measure",
        "-o",
        s(out.path()),
        s(&rules),
    ]));
    assert!(
        err.contains("--measure") && err.contains("--out-dir"),
        "{err}"
    );
}

/// A terminating rule set in two passes (every strategy saturates).
const PEEPHOLE_RULES: &str = "
[fold]
add-0:   (+ ?a 0) => ?a
mul-1:   (* ?a 1) => ?a
sub-self: (- ?a ?b) => 0 if (= ?a ?b)
[strength]
mul2:    (* ?a 2) => (<< ?a 1)
shl-shl: (<< (<< ?a 1) 1) => (<< ?a 2)
";

const PEEPHOLE_TERMS: &str = "
(* (* (+ x 0) 2) 2)
(- (* y 1) (+ y 0))
(+ (* (* z 1) 2) 0)
";

#[test]
fn run_with_every_strategy_and_async_output_is_thread_independent() {
    let (_d, rules, terms) = peephole_files();
    let run = |strategy: &str, threads: &str| {
        ok(&saturn(&[
            "run",
            s(&rules),
            s(&terms),
            "--strategy",
            strategy,
            "--threads",
            threads,
        ]))
    };
    let sizes = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.rsplit("->").next().unwrap().trim().to_string())
            .collect()
    };
    let reference = run("passes", "1");
    assert!(reference.contains("(<< x 2)"), "{reference}");
    assert!(reference.contains("=>  0"), "{reference}");
    let a1 = run("async", "1");
    for _ in 0..3 {
        assert_eq!(run("async", "2"), a1, "async output depends on threads");
    }
    for strategy in ["bsp", "async"] {
        assert_eq!(sizes(&run(strategy, "2")), sizes(&reference), "{strategy}");
    }
    let bad = saturn(&["run", s(&rules), s(&terms), "--strategy", "llvm"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("llvm") && err.contains("async"), "{err}");
}

#[test]
fn opt_schedulers_give_optimized_thread_independent_output() {
    let d = corpus();
    let runner = ok(&saturn(&["opt", s(d.path())]));
    for scheduler in ["runner", "passes", "bsp", "async"] {
        let one = ok(&saturn(&["opt", s(d.path()), "--scheduler", scheduler]));
        // Optimized like the default: `* 1` is gone, all functions are there.
        assert!(!one.contains("iconst.i32 1\n"), "{scheduler}: {one}");
        assert_eq!(
            one.matches("function ").count(),
            runner.matches("function ").count(),
            "{scheduler}"
        );
        for threads in ["2", "3"] {
            let out = ok(&saturn(&[
                "opt",
                s(d.path()),
                "--scheduler",
                scheduler,
                "--threads",
                threads,
            ]));
            assert_eq!(out, one, "{scheduler}, {threads} threads");
        }
    }
    let bad = saturn(&["opt", s(d.path()), "--scheduler", "llvm"]);
    assert!(!bad.status.success());
}

#[test]
fn run_stops_at_the_memory_limit_and_bad_limits_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let rules = d.path().join("ac.rules");
    let terms = d.path().join("ac.terms");
    std::fs::write(
        &rules,
        "comm: (+ ?a ?b) => (+ ?b ?a)\nassoc: (+ ?a (+ ?b ?c)) => (+ (+ ?a ?b) ?c)\n",
    )
    .unwrap();
    let sum = "(+ a (+ b (+ c (+ d (+ e (+ f (+ g (+ h (+ i j)))))))))";
    std::fs::write(&terms, format!("{sum}\n")).unwrap();
    let limited = |extra: &[&str]| {
        let mut args = vec![
            "run",
            s(&rules),
            s(&terms),
            "--node-limit",
            "100000000",
            "--iter-limit",
            "1000",
            "--memory-limit",
            "1",
        ];
        args.extend_from_slice(extra);
        saturn(&args)
    };
    for extra in [
        &[][..],
        &["--strategy", "passes"][..],
        &["--strategy", "bsp", "--threads", "2"][..],
        &["--strategy", "async", "--threads", "2"][..],
    ] {
        let o = limited(extra);
        let out = ok(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("MemoryLimit("), "{extra:?}: {err}");
        // The term is printed, no bigger than it came in (19 nodes).
        assert!(
            out.starts_with(sum) && out.contains("(size 19 -> 19)"),
            "{extra:?}: {out}"
        );
    }
    for (flag, value) in [
        ("--time-limit", "-1"),
        ("--time-limit", "1e300"),
        ("--memory-limit", "-1"),
        ("--threads", "0"),
        ("--threads", "100000000"),
    ] {
        let arg = format!("{flag}={value}");
        let o = saturn(&["run", s(&rules), s(&terms), &arg]);
        assert!(!o.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(flag) && !err.contains("panicked"),
            "{flag} {value}: {err}"
        );
    }
}

/// A stdout that cannot be written (here a full device) is an error that
/// names stdout, for `run` under the runner and a schedule and for
/// `extract` in both formats, never a panic (they used `println!`).
#[test]
#[cfg(unix)]
fn a_stdout_that_cannot_be_written_is_an_error_not_a_panic() {
    let full = std::path::Path::new("/dev/full");
    assert!(full.exists(), "this test needs Linux's /dev/full");
    let (d, rules, terms) = peephole_files();
    let graph = d.path().join("g.json");
    std::fs::write(&graph, EGRAPH).unwrap();
    let cases: [&[&str]; 4] = [
        &["run", s(&rules), s(&terms)],
        &["run", s(&rules), s(&terms), "--strategy", "bsp"],
        &["extract", s(&graph)],
        &["extract", s(&graph), "--json"],
    ];
    for args in cases {
        let r = Command::new(BIN)
            .args(args)
            .env_remove("MAKEFLAGS")
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MFLAGS")
            .stdout(std::fs::OpenOptions::new().write(true).open(full).unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{args:?}");
        assert!(err.contains("error: stdout:"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `extract` writes only the result to stdout (the time and thread count
/// go to stderr), so its stdout is byte-identical at every thread count.
#[test]
fn extract_stdout_is_the_same_at_every_thread_count() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("g.json");
    std::fs::write(&p, EGRAPH).unwrap();
    for extra in [&[][..], &["--json"][..]] {
        for extractor in ["bottom-up", "greedy-dag"] {
            let out = |t: &str| {
                let mut args = vec!["extract", s(&p), "--extractor", extractor, "--threads", t];
                args.extend_from_slice(extra);
                ok(&saturn(&args))
            };
            let one = out("1");
            assert!(!one.contains(" ms"), "{one}");
            for t in ["2", "8"] {
                assert_eq!(out(t), one, "{extractor} {extra:?} at {t} threads");
            }
        }
    }
}

/// An input file that is not UTF-8 is an error at the first byte that is
/// not (line and column, in characters), for every kind of input.
#[test]
fn input_that_is_not_utf8_is_a_located_error() {
    let d = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let good_rules = file("g.rules", b"z: (+ ?a 0) => ?a\n");
    let good_terms = file("g.terms", b"(+ x 0)\n");
    let bad_rules = file("b.rules", b"z: (+ ?a 0) => ?a\n\xff\n");
    let bad_terms = file(
        "b.terms",
        "(+ x 0)\n(f \u{e9} "
            .bytes()
            .chain(*b"\xfe)\n")
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    let bad_json = file("b.json", b"{\"nodes\":\n {\"\xff\": 1}}");
    let bad_clif = file("b.clif", b"function %f() {\n\xff\n}\n");
    let cases: [(&[&str], String); 4] = [
        (
            &["run", s(&bad_rules), s(&good_terms)],
            format!("{}:2:1:", bad_rules.display()),
        ),
        (
            &["run", s(&good_rules), s(&bad_terms)],
            format!("{}:2:6:", bad_terms.display()),
        ),
        (
            &["extract", s(&bad_json)],
            format!("{}:2:4:", bad_json.display()),
        ),
        (
            &["opt", s(&bad_clif)],
            format!("{}:2:1:", bad_clif.display()),
        ),
    ];
    for (args, at) in cases {
        let r = saturn(args);
        assert!(!r.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains(&at) && err.contains("UTF-8"),
            "{args:?}: {err}"
        );
    }
}

/// Lists of thread counts and `--runs` are checked like `--threads`:
/// `report --threads 65536` used to be accepted and spawn that many
/// threads, and `opt --measure --runs 0` printed a median of no runs.
#[test]
fn thread_count_lists_and_runs_out_of_range_are_errors() {
    let d = tempfile::tempdir().unwrap();
    let clif = d.path().join("a.clif");
    std::fs::write(&clif, ARITH).unwrap();
    let out = d.path().join("rep");
    let cases: [(&[&str], &str); 4] = [
        (
            &["report", "--quick", "--threads", "2,65536", "-o", s(&out)],
            "--threads takes counts from 1 to 65535",
        ),
        (
            &["report", "--quick", "--threads", "0", "-o", s(&out)],
            "--threads takes counts from 1 to 65535",
        ),
        (
            &["opt", s(&clif), "--measure", "--measure-threads", "70000"],
            "--measure-threads takes counts from 1 to 65535",
        ),
        (
            &["opt", s(&clif), "--measure", "--runs", "0"],
            "invalid value '0' for '--runs <RUNS>'",
        ),
    ];
    for (args, msg) in cases {
        let r = saturn(args);
        assert!(!r.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    // A count out of clap's range is a usage error, as in `report`.
    let r = saturn(&["opt", s(&clif), "--measure", "--runs", "0"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(!out.exists(), "a refused report wrote nothing");
}

#[test]
fn threads_past_eight_per_core_are_lowered_with_a_note() {
    let (_d, rules, terms) = peephole_files();
    let cap = std::thread::available_parallelism().map_or(1, |n| n.get()) * 8;
    let run = |threads: &str| saturn(&["run", s(&rules), s(&terms), "--threads", threads]);
    let one = run("1");
    let many = run("65535");
    assert_eq!(ok(&many), ok(&one), "the output does not depend on it");
    let err = String::from_utf8_lossy(&many.stderr);
    assert!(
        err.contains("note: --threads 65535 is more than 8 per core")
            && err.contains(&format!("using {cap}"))
            && err.contains(&format!("on {cap} thread(s)")),
        "{err}"
    );
    // At the cap, no note.
    let at_cap = run(&cap.to_string());
    assert!(!String::from_utf8_lossy(&at_cap.stderr).contains("note:"));
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_input() {
    let (d, rules, terms) = peephole_files();
    let bom = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let q = p.with_extension(format!("bom.{}", p.extension().unwrap().to_str().unwrap()));
        std::fs::write(&q, format!("\u{feff}{text}")).unwrap();
        q
    };
    // Rules and terms: the same output as without it.
    let plain = ok(&saturn(&["run", s(&rules), s(&terms)]));
    let marked = ok(&saturn(&["run", s(&bom(&rules)), s(&bom(&terms))]));
    assert_eq!(marked, plain);
    // CLIF (Cranelift's reader rejects the mark) and JSON (serde_json too).
    let c = corpus();
    let clif = c.path().join("a.clif");
    assert_eq!(
        ok(&saturn(&["opt", s(&bom(&clif))])),
        ok(&saturn(&["opt", s(&clif)]))
    );
    let json = d.path().join("g.json");
    std::fs::write(&json, EGRAPH).unwrap();
    assert_eq!(
        ok(&saturn(&["extract", s(&bom(&json))])).replace("g.bom.json", "g.json"),
        ok(&saturn(&["extract", s(&json)]))
    );
}

#[test]
fn a_time_limit_out_of_range_says_the_range() {
    let (_d, rules, terms) = peephole_files();
    for (value, shown) in [("1e308", "1e308"), ("nan", "NaN"), ("=-1", "-1")] {
        let flag = if let Some(v) = value.strip_prefix('=') {
            format!("--time-limit={v}")
        } else {
            "--time-limit".to_string()
        };
        let mut args = vec!["run", s(&rules), s(&terms), flag.as_str()];
        if !value.starts_with('=') {
            args.push(value);
        }
        let err = failed(&saturn(&args));
        assert!(
            err.contains("--time-limit takes seconds from 0 to 1.8446744073709552e19, not ")
                && err.contains(&format!("not {shown}")),
            "{value}: {err}"
        );
    }
}

#[test]
fn extract_text_quotes_ids_that_would_break_its_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ws.json");
    std::fs::write(
        &p,
        r#"{"nodes": {"a b": {"op": "f\tg", "children": [], "eclass": "c\nd"}}, "root_eclasses": ["c\nd", "gone x"]}"#,
    )
    .unwrap();
    let out = ok(&saturn(&["extract", s(&p), "--unknown-roots", "infer"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[1],
        r#"unknown roots dropped: "gone x"; inferred roots: "#
    );
    assert_eq!(lines[2], r#"root "c\nd": node "a b" ("f\tg")"#);
    // Plain ids are printed as they are, and JSON output is unchanged.
    let json = ok(&saturn(&[
        "extract",
        s(&p),
        "--json",
        "--unknown-roots",
        "infer",
    ]));
    assert!(json.contains(r#""class": "c\nd""#), "{json}");
}

/// A root that names neither a class nor a node is an error by default,
/// naming the root, its line and column, and the flags that accept it
/// (it used to be replaced by the top-level classes with exit status 0,
/// so a mistyped root extracted terms nobody asked for).
#[test]
fn extract_rejects_an_unknown_root_unless_told_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("typo.json");
    std::fs::write(
        &p,
        "{\"nodes\": {\"n\": {\"op\": \"x\", \"children\": [], \"eclass\": \"a\"},\n\
         \"m\": {\"op\": \"y\", \"children\": [\"n\"], \"eclass\": \"b\"}},\n\
         \"root_eclasses\": [\"a\", \"bb\"]}",
    )
    .unwrap();
    let err = failed(&saturn(&["extract", s(&p)]));
    assert!(
        err.contains("typo.json:3:")
            && err.contains("`bb`")
            && err.contains("--unknown-roots infer"),
        "{err}"
    );
    let inferred = ok(&saturn(&["extract", s(&p), "--unknown-roots", "infer"]));
    assert!(inferred.contains("inferred roots: b"), "{inferred}");
    let dropped = ok(&saturn(&["extract", s(&p), "--unknown-roots", "drop"]));
    assert!(dropped.contains("root a: node n (x)"), "{dropped}");
    assert!(!dropped.contains("root b"), "{dropped}");
}

/// `report` checks its `-o` folder and `--corpora` before it measures
/// anything: an output folder under a file used to fail only after the
/// whole run, naming a temporary file, and a missing `--corpora` did not
/// say which option it was.
#[test]
fn report_checks_its_folders_before_measuring() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("rep");
    let missing = d.path().join("no-such-corpora");
    let good_out = d.path().join("rep");
    // A link to nowhere is no folder to write in either.
    let dangling = d.path().join("dangling");
    std::os::unix::fs::symlink(d.path().join("nowhere/x"), &dangling).unwrap();
    let cases: [(&[&str], String); 3] = [
        (
            &["report", "--quick", "-o", s(&dangling)],
            format!(
                "{}: -o: cannot write there: {} is not a folder",
                dangling.display(),
                dangling.display()
            ),
        ),
        (
            &["report", "--quick", "-o", s(&under_file)],
            format!(
                "{}: -o: cannot write there: {} is not a folder",
                under_file.display(),
                file.display()
            ),
        ),
        (
            &[
                "report",
                "--quick",
                "--corpora",
                s(&missing),
                "-o",
                s(&good_out),
            ],
            format!("{}: --corpora: ", missing.display()),
        ),
    ];
    for (args, msg) in cases {
        let r = saturn(args);
        assert!(!r.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(&msg), "{args:?}: {err}");
        assert!(
            !err.contains("schedulers ..."),
            "{args:?}: measured first: {err}"
        );
    }
    assert!(!good_out.exists(), "a refused report wrote nothing");
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "no probe file left: {left:?}");
}

/// An entity numbered past `saturn_clif::text::MAX_ENTITY_NUMBER` is an
/// error at its line and column, before Cranelift's reader, which makes
/// every entity numbered below it: the `clif_opt` fuzz target's input
/// `v222223222` took 2 GB in the reader (3.9 GB and 7 s when valid).
#[test]
fn opt_rejects_huge_entity_numbers_before_reading() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("huge.clif");
    let o = d.path().join("out");
    for (text, at, entity) in [
        (
            "function %f() {\nblock0:\n  v222223222 = iconst.i32 1\n  return\n}\n",
            "3:3",
            "v222223222",
        ),
        (
            "function %f(){\nblock0():v222223222),v1\n =",
            "2:10",
            "v222223222",
        ),
        (
            "function %f() {\nblock99999999999999999999:\n  return\n}\n",
            "2:1",
            "block99999999999999999999",
        ),
    ] {
        std::fs::write(&f, text).unwrap();
        let r = saturn(&["opt", s(&f), "-o", s(&o)]);
        assert!(!r.status.success(), "{text}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains(&format!(
                "{}:{at}: `{entity}`: entity numbers above 16777215 are not accepted",
                f.display()
            )),
            "{err}"
        );
        assert!(!o.exists());
    }
    // At the bound, and in comments and names, numbers are fine.
    std::fs::write(
        &f,
        "function %v99999999999() {\nblock0: ; v99999999999\n  v16777215 = iconst.i32 1\n  return\n}\n",
    )
    .unwrap();
    let r = saturn(&["opt", s(&f), "-o", s(&o)]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// A dynamic type used as a controlling type without its declaration
/// made Cranelift's reader panic (found by the `clif_opt` fuzz target):
/// now an error at its line and column.
#[test]
fn opt_rejects_an_undeclared_dynamic_type_without_panicking() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("dt.clif");
    std::fs::write(
        &f,
        "function %f(i32, i32) -> i32 {\nblock0(v0: i32, v1: i32):\n    v4 = iconst.i64 0\n  iconst.dt4+0\n     return v4\n}\n",
    )
    .unwrap();
    let r = saturn(&["opt", s(&f)]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains(&format!(
            "{}:4:10: `dt4`: dynamic type not declared in this function",
            f.display()
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Files are read and parsed in parallel: among several bad files, the
/// error is the first one's in input order, at every thread count, and a
/// reader panic in another file prints nothing.
#[test]
fn opt_reports_the_first_bad_file_whatever_the_threads() {
    let d = corpus();
    for k in 0..8 {
        std::fs::write(d.path().join(format!("sub/d{k}.clif")), ARITH).unwrap();
    }
    std::fs::write(
        d.path().join("sub/e_bad.clif"),
        "function %bad(i32) -> i32 {\nblock0(v0: i32):\n    v1 = bogus v0\n    return v1\n}\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("sub/z_panics.clif"),
        "function %f(i64, i32) -> i32 {\nblock0(v0: i32, v1: i32):\n  vconst.i64 0x6666666666666665bb\n",
    )
    .unwrap();
    let first = format!(
        "{}:3: Unknown opcode: 'bogus'",
        d.path().join("sub/e_bad.clif").display()
    );
    for threads in ["1", "2", "8", "2", "8"] {
        let err = failed(&saturn(&["opt", s(d.path()), "--threads", threads]));
        assert_eq!(
            err.trim_end(),
            format!("error: {first}"),
            "{threads} threads"
        );
    }
}

/// A file of at least 256 KiB is parsed in pieces on a pool: its output
/// is the same at every thread count, and errors in it say the file's
/// line, as when it is parsed whole (on one thread): a verifier error of
/// a function deep in the file, and a parse error there.
#[test]
fn a_large_file_is_read_in_pieces_with_the_file_s_lines() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("large.clif");
    let mut text = String::from("set opt_level=speed\ntarget x86_64\n\n");
    let mut k = 0;
    while text.len() < 300 << 10 {
        text += &ARITH
            .replace("%arith", &format!("%arith{k}"))
            .replace("%consts", &format!("%consts{k}"));
        text.push('\n');
        k += 1;
    }
    std::fs::write(&f, &text).unwrap();
    let one = ok(&saturn(&["opt", s(&f), "--threads", "1"]));
    assert_eq!(one.matches("function %").count(), 2 * k, "{k} copies");
    for threads in ["2", "8"] {
        assert_eq!(ok(&saturn(&["opt", s(&f), "--threads", threads])), one);
    }
    // A function past the middle that does not verify: the line of its
    // bad instruction, the same at every thread count.
    let at = text
        .find(&format!("function %arith{}(", k * 2 / 3))
        .unwrap();
    let line = text[..at].lines().count() + 1;
    let mut unverified = text.clone();
    unverified.insert_str(at, "function %bad(i32) -> i32 {\nblock0(v0: i32):\n    v1 = iconst.i64 1\n    return v1\n}\n\n");
    std::fs::write(&f, &unverified).unwrap();
    let expected = format!(
        "error: {}:{}: function %bad: input does not verify: inst1 (return v1",
        f.display(),
        line + 3
    );
    for threads in ["1", "2", "8"] {
        let err = failed(&saturn(&["opt", s(&f), "--threads", threads]));
        assert!(err.starts_with(&expected), "{threads} threads: {err}");
    }
    // A parse error there: the same message at every thread count.
    let mut bad = text.clone();
    bad.insert_str(
        at,
        "function %bad(i32) -> i32 {\nblock0(v0: i32):\n    v1 = bogus v0\n    return v1\n}\n\n",
    );
    std::fs::write(&f, &bad).unwrap();
    let expected = format!(
        "error: {}:{}: Unknown opcode: 'bogus'",
        f.display(),
        line + 2
    );
    for threads in ["1", "2", "8"] {
        let err = failed(&saturn(&["opt", s(&f), "--threads", threads]));
        assert_eq!(err.lines().next().unwrap(), expected, "{threads} threads");
    }
}

/// A reader panic that no check foresees (a `vconst` wider than its type,
/// found by the `clif_opt` fuzz target) is an error naming the file, with
/// no panic message.
#[test]
fn opt_turns_a_reader_panic_into_an_error() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("wide.clif");
    std::fs::write(
        &f,
        "function %f(i64, i32) -> i32 {\nblock0(v0: i32, v1: i32):\n  vconst.i64 0x6666666666666665bb\n",
    )
    .unwrap();
    let r = saturn(&["opt", s(&f)]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: {}: Cranelift's reader failed: internal error (panic): The constant data is already expanded beyond 8 bytes",
            f.display()
        )
    );
}

/// Sums of finite node costs can pass `f64::MAX`. A tree cost that does is
/// said so (a chain of diamonds: 2^1100 as a tree, 1,100 as a DAG), `null`
/// in JSON; a DAG cost that does is an error (it used to print `inf` and
/// exit 0).
#[test]
fn extract_says_when_a_cost_overflows() {
    let d = tempfile::tempdir().unwrap();
    let mut nodes =
        vec![r#""l": {"op": "x", "children": [], "eclass": "c0", "cost": 1}"#.to_string()];
    for i in 1..1100 {
        let prev = if i == 1 {
            "l".to_string()
        } else {
            format!("n{}", i - 1)
        };
        nodes.push(format!(
            r#""n{i}": {{"op": "f", "children": ["{prev}", "{prev}"], "eclass": "c{i}", "cost": 1}}"#
        ));
    }
    let diamonds = d.path().join("diamonds.json");
    std::fs::write(
        &diamonds,
        format!(
            r#"{{"nodes": {{{}}}, "root_eclasses": ["c1099"]}}"#,
            nodes.join(",\n")
        ),
    )
    .unwrap();
    let out = ok(&saturn(&[
        "extract",
        s(&diamonds),
        "--extractor",
        "greedy-dag",
    ]));
    assert!(
        out.contains("tree cost past 1.7976931348623157e308 (overflows f64), DAG cost 1100,"),
        "{out}"
    );
    let json = ok(&saturn(&[
        "extract",
        s(&diamonds),
        "--extractor",
        "greedy-dag",
        "--json",
    ]));
    assert!(
        json.contains(r#""tree_cost": null"#) && json.contains(r#""dag_cost": 1100.0"#),
        "{json}"
    );
    let huge = d.path().join("huge.json");
    std::fs::write(
        &huge,
        r#"{"nodes": {"n": {"op": "x", "children": [], "eclass": "a", "cost": 1e308},
            "m": {"op": "y", "children": ["n", "n"], "eclass": "b", "cost": 1e308}},
            "root_eclasses": ["b"]}"#,
    )
    .unwrap();
    for extractor in ["greedy-dag", "bottom-up"] {
        let err = failed(&saturn(&["extract", s(&huge), "--extractor", extractor]));
        assert!(
            err.contains("huge.json") && err.contains("overflow"),
            "{extractor}: {err}"
        );
    }
}
