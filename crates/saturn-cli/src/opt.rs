//! `saturn opt`: optimize CLIF files with `saturn_clif::optimize`.
//!
//! Inputs are files and folders (searched recursively for `*.clif`, paths
//! sorted); every function of every file is optimized with the scheduling
//! [`Policy`] of [`crate::sched`]. The optimized CLIF goes to stdout in
//! input order, or, with `-o DIR`, to one file per input under `DIR` (the
//! path relative to the folder it was found in, or the file name for a
//! file argument), written atomically: everything is computed first, every
//! output is written to a temporary file next to its destination, and only
//! when all of them are written are they renamed into place; on any error
//! the temporary files (and folders this run created) are removed. Reading
//! and parsing the inputs, and writing the temporary files, go a file per
//! task on the [`Exec`]'s pool (on `clif-wasm`, 2,022 files, they were more
//! than half of a 1-thread run, all of it on one thread; see [`load`] and
//! [`write_atomically`]).
//!
//! Flags: `opt_level=speed` and `preserve_frame_pointers=true` (as
//! `clif-bench` does for clif-wasm) unless the file's header has `set`
//! lines, which then give the flags. The target is the header's first
//! built-in `target` line (with its ISA flags), else the host; the
//! optimizer does not depend on it, but the verifier checks pointer widths
//! against it. The header is read with `saturn_clif::text::fix_header` (so
//! Cranelift test files work too); the header's `set` and `target` lines
//! are copied to the output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable, Flags};
use cranelift_reader::{parse_test, IsaSpec, ParseOptions, SourceMap};
use serde::Serialize;

use rayon::prelude::*;

use crate::sched::{Exec, Par, Policy};

/// One input file, parsed.
pub struct Input {
    /// The path as found.
    pub path: PathBuf,
    /// Where its output goes under `-o DIR`.
    pub out_rel: PathBuf,
    /// `set` / `target` lines of its header, copied to the output.
    pub header: Vec<String>,
    /// Said with its verifier errors when its targets are not built in.
    target_note: Option<String>,
}

/// One function to optimize.
#[derive(Clone)]
pub struct Job {
    file: usize,
    func: Function,
    isa: OwnedTargetIsa,
    /// Where the function's entities are defined, for located verifier
    /// errors (see [`verifier_errors`]): lines of the text parsed, which
    /// began `map_offset` lines into the file (see [`parse_file`]).
    map: Arc<SourceMap>,
    map_offset: usize,
    /// The line of its `function` keyword.
    line: usize,
}

/// One optimized function.
pub struct Done {
    name: String,
    text: String,
    stats: saturn_clif::Stats,
    time: Duration,
}

/// Lists the `*.clif` files of `paths` (folders recursively, sorted), with
/// their output path relative to the argument they came from.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<(), String> {
        let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut entries: Vec<PathBuf> = vec![];
        for e in rd {
            entries.push(e.map_err(|e| format!("{}: {e}", dir.display()))?.path());
        }
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, base, out)?;
            } else if p.extension().is_some_and(|x| x == "clif") {
                let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
                out.push((p, rel));
            }
        }
        Ok(())
    }
    let mut out = vec![];
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            let before = out.len();
            walk(p, p, &mut out)?;
            if out.len() == before {
                return Err(format!("{}: no .clif files in this folder", p.display()));
            }
        } else {
            let name = p
                .file_name()
                .ok_or_else(|| format!("{}: not a file name", p.display()))?;
            out.push((p.clone(), PathBuf::from(name)));
        }
    }
    if out.is_empty() {
        return Err("no input files".to_string());
    }
    Ok(out)
}

/// The default flags: `opt_level=speed`, `preserve_frame_pointers=true`.
pub fn default_flags() -> Flags {
    let mut b = settings::builder();
    b.set("opt_level", "speed").expect("known setting");
    b.set("preserve_frame_pointers", "true")
        .expect("known setting");
    Flags::new(b)
}

/// Why a header's targets give no ISA.
enum TargetError {
    /// None of them is built in (their names, backquoted).
    NotBuiltIn(Vec<String>),
    /// A built-in target's line (1-based) is malformed.
    Bad(usize, String),
}

/// The ISA of the first `target` line of `text`'s header whose
/// architecture is built in (`host-arch`: x86_64), with that line's ISA
/// flags and the shared `flags`; `None` when the header has no `target`
/// line. The optimizer does not depend on it, but the verifier checks
/// pointer widths and the like against it.
fn target_isa(text: &str, flags: &Flags) -> Result<Option<OwnedTargetIsa>, TargetError> {
    let mut missing = vec![];
    for (k, line) in text.lines().enumerate() {
        if saturn_clif::text::starts_function(line) {
            break;
        }
        let l = line.trim_start();
        let Some(rest) = l.strip_prefix("target ") else {
            continue;
        };
        // A comment runs from `;` to the end of the line.
        let rest = rest.split(';').next().unwrap_or_default();
        let mut words = rest.split_whitespace();
        let Some(name) = words.next() else {
            return Err(TargetError::Bad(k + 1, "`target` needs a name".into()));
        };
        let bad = |e: String| TargetError::Bad(k + 1, e);
        let triple: target_lexicon::Triple = name
            .parse()
            .map_err(|e| bad(format!("unknown target `{name}`: {e}")))?;
        let mut b = match cranelift_codegen::isa::lookup(triple) {
            Ok(b) => b,
            Err(cranelift_codegen::isa::LookupError::SupportDisabled) => {
                missing.push(format!("`{name}`"));
                continue;
            }
            Err(cranelift_codegen::isa::LookupError::Unsupported) => {
                return Err(bad(format!("Cranelift does not support target `{name}`")));
            }
        };
        let loc = cranelift_reader::Location { line_number: k + 1 };
        cranelift_reader::parse_options(words, &mut b, loc)
            .map_err(|e| bad(cranelift_reader::ParseError::from(e).message))?;
        let isa = b.finish(flags.clone()).map_err(|e| bad(e.to_string()))?;
        return Ok(Some(isa));
    }
    if missing.is_empty() {
        Ok(None)
    } else {
        Err(TargetError::NotBuiltIn(missing))
    }
}

/// Reads and parses the inputs, a file per task on `exec`'s threads (see
/// [`Exec::map_each`]); errors name the file and line, and the first in
/// input order is the one returned. A panic inside Cranelift's reader is
/// an error of its file, without the panic hook's message (the hook,
/// which is global, says nothing of the reader's panics while the files
/// are read: the inputs are loaded before any job runs).
pub fn load(paths: &[PathBuf], exec: &Exec) -> Result<(Vec<Input>, Vec<Job>), String> {
    let default_isa = saturn_clif::host_isa(&default_flags());
    let files = collect_inputs(paths)?;
    let loaded = saturn_clif::text::with_quiet_panics(|| {
        exec.map_each(files, &|(path, out_rel)| {
            load_file(path, out_rel, &default_isa)
        })
    });
    let mut inputs = vec![];
    let mut jobs = vec![];
    for r in loaded {
        let (input, isa, functions) = r?;
        let file = inputs.len();
        inputs.push(input);
        jobs.extend(functions.into_iter().map(|f| Job {
            file,
            func: f.func,
            isa: isa.clone(),
            map: f.map,
            map_offset: f.map_offset,
            line: f.line,
        }));
    }
    Ok((inputs, jobs))
}

/// Runs `read` (Cranelift's reader), turning a panic inside it into an
/// error. [`load`] calls it inside [`saturn_clif::text::with_quiet_panics`],
/// so the panic prints nothing.
fn read_guarded<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    saturn_clif::text::catch_quietly(read).map_err(|p| {
        format!(
            "Cranelift's reader failed: {}",
            crate::sched::panic_message(&*p)
        )
    })
}

/// A function as parsed: itself, where its entities are defined (lines of
/// the text parsed, `map_offset` lines into the file), and the file's line
/// of its `function` keyword.
struct Parsed {
    func: Function,
    map: Arc<SourceMap>,
    map_offset: usize,
    line: usize,
}

/// Files from this size on are parsed in pieces in parallel (see
/// [`parse_file`]).
const PIECEWISE_PARSE_BYTES: usize = 256 << 10;

/// The least size of a piece of a file parsed in pieces: its functions
/// are whole, so a piece holds at least one, and more until it is this
/// large (each piece parses the file's header again).
const PARSE_PIECE_BYTES: usize = 64 << 10;

/// The ISA spec and the functions of a parsed text that began `offset`
/// lines into its file.
fn functions_of(test: cranelift_reader::TestFile<'_>, offset: usize) -> (IsaSpec, Vec<Parsed>) {
    let functions = test
        .functions
        .into_iter()
        .map(|(func, details)| Parsed {
            func,
            map: Arc::new(details.map),
            map_offset: offset,
            line: details.location.line_number + offset,
        })
        .collect();
    (test.isa_spec, functions)
}

/// Parses `text` (the file at `path`, its header fixed): its ISA spec and
/// its functions, or the reader's error at its line.
///
/// A large file (at least [`PIECEWISE_PARSE_BYTES`]) read on a pool
/// thread is cut into pieces at the lines that start a function, each
/// parsed, after the file's header, as a task of the pool: one large file
/// would otherwise be read on one thread (Cranelift's reader took 70 ms of
/// a 6.6 MB file of 611 functions, a quarter of their optimization on one
/// thread). Lines are the file's: a function's own, and its source map's
/// through its `map_offset`. A function's text depends on nothing outside
/// it, so the pieces give the functions the whole text gives; when a piece
/// fails (or a string spans pieces), the whole text is parsed again, and
/// its error is the one returned.
fn parse_file(path: &Path, text: &str) -> Result<(IsaSpec, Vec<Parsed>), String> {
    let whole = || -> Result<(IsaSpec, Vec<Parsed>), String> {
        let test = read_guarded(|| parse_test(text, ParseOptions::default()))
            .map_err(|e| format!("{}: {e}", path.display()))?
            .map_err(|e| {
                format!(
                    "{}:{}: {}",
                    path.display(),
                    e.location.line_number,
                    e.message
                )
            })?;
        Ok(functions_of(test, 0))
    };
    let on_pool = rayon::current_thread_index().is_some() && rayon::current_num_threads() > 1;
    if !on_pool || text.len() < PIECEWISE_PARSE_BYTES {
        return whole();
    }
    // Byte offsets of the lines that start a function, and the lines
    // before each.
    let mut starts: Vec<(usize, usize)> = vec![];
    let (mut at, mut line) = (0, 0);
    for l in text.split_inclusive('\n') {
        if saturn_clif::text::starts_function(l) {
            starts.push((at, line));
        }
        at += l.len();
        line += 1;
    }
    let Some(&(header_end, header_lines)) = starts.first() else {
        return whole();
    };
    // Pieces: runs of whole functions of at least `PARSE_PIECE_BYTES`.
    let mut pieces: Vec<(usize, usize, usize)> = vec![];
    for (k, &(start, lines_before)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(text.len(), |&(s, _)| s);
        match pieces.last_mut() {
            Some(p) if p.1 - p.0 < PARSE_PIECE_BYTES => p.1 = end,
            _ => pieces.push((start, end, lines_before - header_lines)),
        }
    }
    if pieces.len() < 2 {
        return whole();
    }
    let header = &text[..header_end];
    let parsed: Vec<Option<(IsaSpec, Vec<Parsed>)>> = pieces
        .par_iter()
        .with_max_len(1)
        .map(|&(start, end, offset)| {
            let piece = [header, &text[start..end]].concat();
            let test =
                saturn_clif::text::catch_quietly(|| parse_test(&piece, ParseOptions::default()))
                    .ok()?
                    .ok()?;
            Some(functions_of(test, offset))
        })
        .collect();
    let Some(parsed) = parsed.into_iter().collect::<Option<Vec<_>>>() else {
        return whole();
    };
    let mut parsed = parsed.into_iter();
    let (isa_spec, mut functions) = parsed.next().expect("two pieces or more");
    for (_, more) in parsed {
        functions.extend(more);
    }
    Ok((isa_spec, functions))
}

/// Reads and parses one input file (see [`load`]): the input, the ISA its
/// functions are checked against, and its functions. `default_isa` is the
/// host's with the default flags, shared by files without `set` lines.
fn load_file(
    path: PathBuf,
    out_rel: PathBuf,
    default_isa: &OwnedTargetIsa,
) -> Result<(Input, OwnedTargetIsa, Vec<Parsed>), String> {
    let text = crate::read(&path)?;
    saturn_clif::text::check_reader_input(&text)
        .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line, e.column))?;
    let header_end = text
        .lines()
        .position(saturn_clif::text::starts_function)
        .unwrap_or(usize::MAX);
    let header: Vec<String> = text
        .lines()
        .take(header_end)
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("set ") || l.starts_with("target ")
        })
        .map(|l| l.trim().to_string())
        .collect();
    let has_sets = header.iter().any(|l| l.starts_with("set "));
    // Only rewrite headers that need it (`fix_header` adds a line when
    // the file starts with its first function, which would shift the
    // line numbers of parse errors).
    let fixed = if header.is_empty() {
        std::borrow::Cow::Borrowed(text.as_str())
    } else {
        std::borrow::Cow::Owned(saturn_clif::text::fix_header(&text, true))
    };
    let (isa_spec, parsed) = parse_file(&path, &fixed)?;
    if parsed.is_empty() {
        return Err(format!("{}: no functions in this file", path.display()));
    }
    // `fix_header` dropped the targets (a target that is not built in
    // fails the parse), so the spec holds only the shared flags of the
    // `set` lines.
    let flags = match &isa_spec {
        IsaSpec::None(f) if has_sets => f.clone(),
        _ => default_flags(),
    };
    // The host with those flags (without `set` lines, the one built
    // for every such file).
    let host = || {
        if has_sets {
            saturn_clif::host_isa(&flags)
        } else {
            default_isa.clone()
        }
    };
    let (isa, target_note) = match target_isa(&text, &flags) {
        Ok(Some(isa)) => (isa, None),
        Ok(None) => (host(), None),
        Err(TargetError::NotBuiltIn(names)) => (
            host(),
            Some(format!(
                "{} not built into saturn: checked against x86_64",
                match names.as_slice() {
                    [one] => format!("the file's target {one} is"),
                    _ => format!("the file's targets {} are", names.join(", ")),
                }
            )),
        ),
        Err(TargetError::Bad(line, e)) => {
            return Err(format!("{}:{line}: {e}", path.display()));
        }
    };
    let input = Input {
        path,
        out_rel,
        header,
        target_note,
    };
    Ok((input, isa, parsed))
}

/// Optimizes every job with `exec`; `tick` is called after each function.
/// Results are in job order; per-function errors name file and function.
pub fn optimize_all(
    inputs: &[Input],
    jobs: Vec<Job>,
    exec: &Exec,
    template: &saturn_clif::Options,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<Result<Done, String>>, String> {
    let names: Vec<(usize, String)> = jobs
        .iter()
        .map(|j| (j.file, j.func.name.to_string()))
        .collect();
    let f = |job: Job, par: Par| -> Result<Done, String> {
        let t0 = Instant::now();
        let mut func = job.func;
        let name = func.name.to_string();
        let opts = saturn_clif::Options {
            threads: par.threads,
            pool: par.pool,
            ..template.clone()
        };
        let r = saturn_clif::optimize(&mut func, &*job.isa, &opts);
        let time = t0.elapsed();
        tick();
        let input = &inputs[job.file];
        let path = input.path.display();
        let stats = r.map_err(|e| {
            // An input that does not verify comes back unchanged: verify
            // it again (only on this path) to say where, one error per
            // line, and the note on its targets once.
            let errors = e
                .starts_with(saturn_clif::INPUT_DOES_NOT_VERIFY)
                .then(|| verifier_errors(&func, &job.isa, &job.map, job.map_offset, job.line))
                .flatten();
            match errors {
                Some(errors) => {
                    let mut lines: Vec<String> = errors
                        .iter()
                        .map(|(line, e)| {
                            format!(
                                "{path}:{line}: function {name}: {}: {e}",
                                saturn_clif::INPUT_DOES_NOT_VERIFY
                            )
                        })
                        .collect();
                    if let Some(n) = &input.target_note {
                        lines.push(format!("{NOTE}{n}"));
                    }
                    lines.join("\n")
                }
                None => format!("{path}:{}: function {name}: {e}", job.line),
            }
        })?;
        Ok(Done {
            name,
            text: func.display().to_string(),
            stats,
            time,
        })
    };
    let results = exec.map(jobs, &f)?;
    Ok(results
        .into_iter()
        .zip(names)
        .map(|(r, (file, name))| {
            // Panics come back without context: add file and function.
            r.and_then(|x| x).map_err(|e| {
                if e.starts_with("internal error") {
                    format!("{}: function {name}: {e}", inputs[file].path.display())
                } else {
                    e
                }
            })
        })
        .collect())
}

/// How a line of a function's error that is a note, not an error, starts.
const NOTE: &str = "note: ";

/// The most error lines [`error_report`] shows.
const SHOWN_ERRORS: usize = 20;

/// The functions' errors (each one or more lines, notes among them) as
/// one message: the first [`SHOWN_ERRORS`] error lines, each but the
/// first (which the caller prefixes) after `error: `, with their notes,
/// then how many were left out.
fn error_report(errors: &[String]) -> String {
    let mut msg = String::new();
    let (mut shown, mut hidden) = (0, 0);
    for line in errors.iter().flat_map(|e| e.lines()) {
        let note = line.starts_with(NOTE);
        if shown == SHOWN_ERRORS && (!note || hidden > 0) {
            hidden += usize::from(!note);
            continue;
        }
        if !msg.is_empty() {
            msg.push('\n');
            if !note {
                msg.push_str("error: ");
            }
        }
        shown += usize::from(!note);
        msg.push_str(line);
    }
    if hidden > 0 {
        msg += &format!("\n... and {hidden} more errors");
    }
    msg += "\nnothing was written";
    msg
}

/// Cranelift's verifier errors for `func` (a job's function, unchanged),
/// each with the line that defines the entity it names (an instruction, a
/// block, a value...), or the function's own line when the source map does
/// not list it; `None` when it verifies.
fn verifier_errors(
    func: &Function,
    isa: &OwnedTargetIsa,
    map: &SourceMap,
    map_offset: usize,
    fn_line: usize,
) -> Option<Vec<(usize, String)>> {
    let errors = cranelift_codegen::verifier::verify_function(func, &**isa).err()?;
    Some(
        errors
            .0
            .iter()
            .map(|e| {
                let line = map
                    .location(e.location)
                    .map_or(fn_line, |l| l.line_number + map_offset);
                (line, e.to_string())
            })
            .collect(),
    )
}

/// The text of each input's output, in input order.
pub fn render(inputs: &[Input], done: &[Done], jobs_file: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = inputs
        .iter()
        .map(|i| {
            let mut s = String::new();
            for h in &i.header {
                s.push_str(h);
                s.push('\n');
            }
            if !i.header.is_empty() {
                s.push('\n');
            }
            s
        })
        .collect();
    let mut first = vec![true; inputs.len()];
    for (d, &file) in done.iter().zip(jobs_file) {
        if !std::mem::take(&mut first[file]) {
            out[file].push('\n');
        }
        out[file].push_str(&d.text);
    }
    out
}

/// Where a write to `path` must land: through symbolic links (a rename
/// onto the link would replace it), and whether that is a regular file
/// (or none yet), which is replaced atomically, or something else (a
/// device such as `/dev/null`, a pipe), which is written in place.
fn destination(path: &Path) -> Result<(PathBuf, bool), String> {
    let mut p = path.to_path_buf();
    // A chain of links, each resolved against the folder it is in.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(m) if m.is_dir() => return Err(format!("{}: is a folder", path.display())),
            Ok(m) => return Ok((p, m.is_file())),
            Err(_) => return Ok((p, true)),
        }
    }
    Err(format!(
        "{}: too many levels of symbolic links",
        path.display()
    ))
}

/// Writes `files` (path, contents) atomically as a set: temporary files
/// next to each destination first, then renames. On an error the
/// temporary files and the folders created here are removed. A path that
/// is a symbolic link is written through (its target is replaced, the
/// link stays); one that is neither a regular file nor absent (a device,
/// a pipe) is written in place after the others, without atomicity.
///
/// The temporary files are written a file per task on `exec`'s threads
/// (see [`Exec::map_each`]; on the calling thread without one), and are
/// not synced to the disk: as with a compiler's outputs, which can be
/// made again, the renames keep a reader, or a `saturn` that stops
/// midway, from seeing a file half written, but after a power cut a
/// destination may hold its old contents, or, on some file systems, be
/// empty. (A sync per file was a third of `saturn opt`'s time
/// on `clif-wasm`'s 2,022 files, in a process that is otherwise busy on
/// all cores.)
pub fn write_atomically(files: &[(PathBuf, String)], exec: Option<&Exec>) -> Result<(), String> {
    let mut regular: Vec<(PathBuf, &String)> = vec![];
    let mut special: Vec<(PathBuf, &String)> = vec![];
    for (path, contents) in files {
        match destination(path)? {
            (p, true) => regular.push((p, contents)),
            (p, false) => special.push((p, contents)),
        }
    }
    write_regular(&regular, exec)?;
    for (path, contents) in special {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// [`write_atomically`] for destinations that are regular files or absent.
fn write_regular(files: &[(PathBuf, &String)], exec: Option<&Exec>) -> Result<(), String> {
    let mut created_dirs: Vec<PathBuf> = vec![];
    let cleanup = |temps: &[PathBuf], dirs: &[PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d); // only if empty
        }
    };
    // The folders first, in order (creating them is cheap, and each is
    // made once), then the temporary files.
    let mut temps: Vec<(&Path, PathBuf, &String)> = Vec::with_capacity(files.len());
    for (path, contents) in files {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Create missing folders one level at a time, remembering them.
        let mut missing = vec![];
        let mut d = dir;
        while !d.as_os_str().is_empty() && !d.exists() {
            missing.push(d.to_path_buf());
            d = d.parent().unwrap_or(Path::new(""));
        }
        for m in missing.into_iter().rev() {
            if let Err(e) = std::fs::create_dir(&m) {
                cleanup(&[], &created_dirs);
                return Err(format!("{}: {e}", m.display()));
            }
            created_dirs.push(m);
        }
        let Some(name) = path.file_name() else {
            cleanup(&[], &created_dirs);
            return Err(format!("{}: not a file name", path.display()));
        };
        let tmp = dir.join(format!(
            ".{}.saturn-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        temps.push((path, tmp, contents));
    }
    // Each file's temporary file, written; `Ok` or `Err` says whether it
    // was made (to be removed on an error), and `Err` also why it failed.
    let write = |(path, tmp, contents): (&Path, PathBuf, &String)| {
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp);
        match made {
            Err(e) => Err((None, temp_error(path, &tmp, e))),
            Ok(mut f) => match f.write_all(contents.as_bytes()) {
                Ok(()) => Ok(tmp),
                Err(e) => {
                    let why = temp_error(path, &tmp, e);
                    Err((Some(tmp), why))
                }
            },
        }
    };
    let written = match exec {
        Some(exec) => exec.map_each(temps, &write),
        None => temps.into_iter().map(write).collect(),
    };
    let mut made: Vec<PathBuf> = Vec::with_capacity(written.len());
    let mut first_error = None;
    for w in written {
        match w {
            Ok(tmp) => made.push(tmp),
            Err((tmp, why)) => {
                made.extend(tmp);
                first_error = first_error.or(Some(why));
            }
        }
    }
    if let Some(e) = first_error {
        cleanup(&made, &created_dirs);
        return Err(e);
    }
    for (i, ((path, _), tmp)) in files.iter().zip(&made).enumerate() {
        if let Err(e) = std::fs::rename(tmp, path) {
            // Those already renamed stay (complete files); the rest go.
            cleanup(&made[i..], &[]);
            return Err(format!("{}: {e}", path.display()));
        }
    }
    Ok(())
}

/// An error writing `path`'s temporary file `tmp`: it names the file the
/// user asked for first.
fn temp_error(path: &Path, tmp: &Path, e: std::io::Error) -> String {
    format!(
        "{}: {e} (writing its temporary file {})",
        path.display(),
        tmp.display()
    )
}

/// Per-function JSON stats.
#[derive(Serialize)]
struct FuncStats<'a> {
    file: String,
    function: &'a str,
    insts_before: usize,
    insts_after: usize,
    pure_insts: usize,
    nodes: usize,
    classes: usize,
    iterations: usize,
    branches_folded: usize,
    time_ms: f64,
}

/// Totals in the JSON stats.
#[derive(Serialize)]
struct Totals {
    files: usize,
    functions: usize,
    insts_before: usize,
    insts_after: usize,
    optimize_ms: f64,
    wall_ms: f64,
    threads: usize,
    policy: Policy,
    jobserver: bool,
    max_tokens: usize,
}

#[derive(Serialize)]
struct StatsJson<'a> {
    functions: Vec<FuncStats<'a>>,
    totals: Totals,
}

/// Options of `saturn opt`.
pub struct OptArgs {
    /// Files and folders.
    pub inputs: Vec<PathBuf>,
    /// Output folder (stdout when `None`).
    pub out_dir: Option<PathBuf>,
    /// Threads.
    pub threads: usize,
    /// Scheduling policy.
    pub policy: Policy,
    /// Write JSON stats.
    pub stats_json: bool,
    /// Where the JSON stats go (stderr when `None`).
    pub stats_file: Option<PathBuf>,
    /// DAG-aware extraction.
    pub dag: bool,
    /// Saturation schedule (`None`: saturn-clif's runner).
    pub strategy: Option<saturn::schedule::Strategy>,
    /// Saturation memory limit per function, in estimated bytes.
    pub memory_limit: usize,
    /// Show a progress bar (when stderr is a terminal and there are many
    /// functions).
    pub progress: bool,
}

/// Functions from which on a progress bar is shown (on a terminal).
const PROGRESS_MIN_FUNCTIONS: usize = 32;

/// Runs `saturn opt`.
pub fn run(args: &OptArgs, jobserver: Option<jobserver::Client>) -> Result<(), String> {
    let wall = Instant::now();
    let exec = Exec::new(args.policy, args.threads, jobserver)?;
    let (inputs, jobs) = load(&args.inputs, &exec)?;
    // Two inputs may not map to the same output file.
    if args.out_dir.is_some() {
        let mut seen = std::collections::BTreeMap::new();
        for i in &inputs {
            if let Some(prev) = seen.insert(i.out_rel.clone(), &i.path) {
                return Err(format!(
                    "{} and {} would both be written to {}",
                    prev.display(),
                    i.path.display(),
                    i.out_rel.display()
                ));
            }
        }
    }
    let jobs_file: Vec<usize> = jobs.iter().map(|j| j.file).collect();
    let n = jobs.len();
    let bar = if args.progress && n >= PROGRESS_MIN_FUNCTIONS && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(n as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} functions ({eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = || bar.inc(1);
    let template = saturn_clif::Options {
        dag: args.dag,
        strategy: args.strategy,
        memory_limit: args.memory_limit,
        ..saturn_clif::Options::default()
    };
    let results = optimize_all(&inputs, jobs, &exec, &template, &tick)?;
    bar.finish_and_clear();
    let mut done = Vec::with_capacity(n);
    let mut errors = vec![];
    for r in results {
        match r {
            Ok(d) => done.push(d),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(error_report(&errors));
    }
    let texts = render(&inputs, &done, &jobs_file);
    let before: usize = done.iter().map(|d| d.stats.insts_before).sum();
    let after: usize = done.iter().map(|d| d.stats.insts_after).sum();
    let opt_time: Duration = done.iter().map(|d| d.time).sum();
    let stats_text = if args.stats_json {
        let functions = done
            .iter()
            .zip(&jobs_file)
            .map(|(d, &f)| FuncStats {
                file: inputs[f].path.display().to_string(),
                function: &d.name,
                insts_before: d.stats.insts_before,
                insts_after: d.stats.insts_after,
                pure_insts: d.stats.pure_insts,
                nodes: d.stats.nodes,
                classes: d.stats.classes,
                iterations: d.stats.iterations,
                branches_folded: d.stats.branches_folded,
                time_ms: d.time.as_secs_f64() * 1e3,
            })
            .collect();
        let s = StatsJson {
            functions,
            totals: Totals {
                files: inputs.len(),
                functions: n,
                insts_before: before,
                insts_after: after,
                optimize_ms: opt_time.as_secs_f64() * 1e3,
                wall_ms: wall.elapsed().as_secs_f64() * 1e3,
                threads: args.threads,
                policy: args.policy,
                jobserver: exec.uses_jobserver(),
                max_tokens: exec.max_tokens(),
            },
        };
        Some(serde_json::to_string_pretty(&s).map_err(|e| e.to_string())? + "\n")
    } else {
        None
    };
    match &args.out_dir {
        Some(dir) => {
            let mut files: Vec<(PathBuf, String)> = inputs
                .iter()
                .zip(texts)
                .map(|(i, t)| (dir.join(&i.out_rel), t))
                .collect();
            if let (Some(p), Some(s)) = (&args.stats_file, &stats_text) {
                files.push((p.clone(), s.clone()));
            }
            write_atomically(&files, Some(&exec))?;
        }
        None => {
            if let (Some(p), Some(s)) = (&args.stats_file, &stats_text) {
                write_atomically(&[(p.clone(), s.clone())], None)?;
            }
            let mut out = std::io::stdout().lock();
            let multi = inputs.len() > 1;
            for (i, t) in inputs.iter().zip(&texts) {
                let r = if multi {
                    writeln!(out, ";; {}", i.path.display())
                        .and_then(|_| out.write_all(t.as_bytes()))
                } else {
                    out.write_all(t.as_bytes())
                };
                r.map_err(crate::stdout_error)?;
            }
            out.flush().map_err(crate::stdout_error)?;
        }
    }
    if let (None, Some(s)) = (&args.stats_file, &stats_text) {
        eprint!("{s}");
    }
    let pct = if before > 0 {
        100.0 * (after as f64 - before as f64) / before as f64
    } else {
        0.0
    };
    eprintln!(
        "saturn opt: {n} functions in {} files, insts {before} -> {after} ({pct:+.1}%), {:.2} s, {} thread(s), policy {}{}",
        inputs.len(),
        wall.elapsed().as_secs_f64(),
        args.threads,
        args.policy.name(),
        if exec.uses_jobserver() {
            format!(", jobserver (at most {} tokens held)", exec.max_tokens())
        } else {
            String::new()
        }
    );
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `saturn opt --measure`: for each policy and thread count, the median
/// (over `runs` runs in this process) of the total time and of the worst
/// single-function latency, as a Markdown table on stdout. Outputs of all
/// configurations are compared (they must be identical).
pub fn measure(
    paths: &[PathBuf],
    threads: &[usize],
    runs: usize,
    template: &saturn_clif::Options,
) -> Result<(), String> {
    let most = threads.iter().copied().max().unwrap_or(1);
    let (inputs, jobs) = load(paths, &Exec::new(Policy::Function, most, None)?)?;
    let jobs_file: Vec<usize> = jobs.iter().map(|j| j.file).collect();
    let before: usize = jobs.iter().map(|j| saturn_clif::count_insts(&j.func)).sum();
    println!(
        "{} files, {} functions, {before} instructions; median of {runs} run(s)\n",
        inputs.len(),
        jobs.len()
    );
    println!("| policy | threads | total ms | worst function ms | insts after | same output |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut reference: Option<Vec<String>> = None;
    let mut all_same = true;
    for policy in Policy::ALL {
        for &t in threads {
            let exec = Exec::new(policy, t, None)?;
            let mut totals = vec![];
            let mut worsts = vec![];
            let mut after = 0;
            let mut same = true;
            for _ in 0..runs.max(1) {
                let copy = jobs.clone();
                let t0 = Instant::now();
                let results = optimize_all(&inputs, copy, &exec, template, &|| {})?;
                totals.push(t0.elapsed());
                let done: Vec<Done> = results.into_iter().collect::<Result<_, _>>()?;
                worsts.push(done.iter().map(|d| d.time).max().unwrap_or_default());
                after = done.iter().map(|d| d.stats.insts_after).sum();
                let texts = render(&inputs, &done, &jobs_file);
                match &reference {
                    None => reference = Some(texts),
                    Some(r) => same &= *r == texts,
                }
            }
            all_same &= same;
            println!(
                "| {} | {t} | {:.1} | {:.1} | {after} | {} |",
                policy.name(),
                median(totals).as_secs_f64() * 1e3,
                median(worsts).as_secs_f64() * 1e3,
                if same { "yes" } else { "NO" }
            );
            let _ = std::io::stdout().flush();
        }
    }
    if all_same {
        Ok(())
    } else {
        Err("outputs differ between policies or thread counts".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file that cannot be made, among files written in
    /// parallel: the error names its destination, and nothing is left,
    /// neither the other files' temporary files nor the folders made for
    /// them; with none in the way, every file is written whole, and the
    /// temporary files are gone.
    #[test]
    fn a_failed_parallel_write_leaves_nothing_and_a_good_one_everything() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let files: Vec<(PathBuf, String)> = (0..40)
            .map(|k| {
                (
                    out.join(format!("f{}/{k}.clif", k % 3)),
                    format!("text {k}\n"),
                )
            })
            .collect();
        let exec = Exec::new(Policy::Function, 2, None).unwrap();
        // File 17's temporary file name is taken (by a folder).
        std::fs::create_dir_all(&out).unwrap();
        let in_the_way = out.join(format!("f2/.17.clif.saturn-{}.tmp", std::process::id()));
        std::fs::create_dir_all(&in_the_way).unwrap();
        let err = write_atomically(&files, Some(&exec)).unwrap_err();
        assert!(
            err.starts_with(&format!("{}: ", files[17].0.display())),
            "{err}"
        );
        let mut left: Vec<PathBuf> = vec![];
        for dir in ["f0", "f1", "f2"] {
            if let Ok(rd) = std::fs::read_dir(out.join(dir)) {
                left.extend(rd.map(|e| e.unwrap().path()));
            }
        }
        assert_eq!(left, vec![in_the_way.clone()]);
        assert!(!out.join("f0").exists() && !out.join("f1").exists());
        std::fs::remove_dir_all(&out).unwrap();
        write_atomically(&files, Some(&exec)).unwrap();
        for (path, text) in &files {
            assert_eq!(&std::fs::read_to_string(path).unwrap(), text);
        }
        let entries: usize = ["f0", "f1", "f2"]
            .iter()
            .map(|dir| std::fs::read_dir(out.join(dir)).unwrap().count())
            .sum();
        assert_eq!(entries, files.len(), "no temporary file is left");
    }

    /// A panic inside the guarded reader is an error with its message;
    /// a result passes through. (The hook itself is tested in
    /// saturn-clif's `tests/quiet_panics.rs`, a process of its own.)
    #[test]
    fn a_reader_panic_is_an_error() {
        let err = saturn_clif::text::with_quiet_panics(|| {
            read_guarded(|| -> u32 { panic!("Undeclared dynamic vector type: dt4") })
        });
        assert_eq!(
            err,
            Err("Cranelift's reader failed: internal error (panic): Undeclared dynamic vector type: dt4".to_string())
        );
        assert_eq!(read_guarded(|| 7), Ok(7));
    }

    #[test]
    fn the_error_report_counts_error_lines_and_keeps_their_notes() {
        // Two functions with 12 verifier errors each and a note: 20 error
        // lines are shown, with the first function's note; the second's
        // note follows lines left out, so it goes too.
        let function = |f: usize| {
            let mut lines: Vec<String> = (0..12).map(|k| format!("a.clif:{k}: {f}")).collect();
            lines.push(format!("{NOTE}targets"));
            lines.join("\n")
        };
        let report = error_report(&[function(1), function(2), "b.clif:1: other".into()]);
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.iter().filter(|l| l.contains(": 1")).count(), 12);
        assert_eq!(lines.iter().filter(|l| l.contains(": 2")).count(), 8);
        assert_eq!(lines.iter().filter(|l| l.starts_with(NOTE)).count(), 1);
        assert_eq!(lines[0], "a.clif:0: 1", "the caller prefixes the first");
        assert_eq!(lines[1], "error: a.clif:1: 1");
        assert_eq!(lines[12], "note: targets");
        assert_eq!(lines[lines.len() - 2], "... and 5 more errors");
        assert_eq!(lines[lines.len() - 1], "nothing was written");
        // Under the cap, everything, notes included.
        let report = error_report(&[function(1)]);
        assert_eq!(report.lines().count(), 12 + 1 + 1);
        assert!(!report.contains("more errors"));
    }
}
