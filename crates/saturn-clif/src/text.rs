//! Reading CLIF test files: header fixes and flags.

/// Moves every `set` line of a test file's header above its first `target`
/// line (newer Cranelift accepts them after `target`, 0.135.8 does not),
/// and, when `drop_targets`, removes the `target` lines. Line numbers of
/// the functions below the header are kept (removed lines become blank).
pub fn fix_header(text: &str, drop_targets: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // The header ends at the first line that starts a function.
    let end = lines
        .iter()
        .position(|l| starts_function(l))
        .unwrap_or(lines.len());
    let is_set = |l: &str| l.trim_start().starts_with("set ");
    let is_target = |l: &str| l.trim_start().starts_with("target ");
    let mut head: Vec<String> = vec![];
    let mut blanks = 0;
    // `test` lines first, then all `set` lines, then targets, then the rest.
    let mut sets: Vec<&str> = vec![];
    let mut targets: Vec<&str> = vec![];
    let mut other: Vec<&str> = vec![];
    for &l in &lines[..end] {
        if is_set(l) {
            sets.push(l);
        } else if is_target(l) {
            if drop_targets {
                blanks += 1;
            } else {
                targets.push(l);
            }
        } else if l.trim_start().starts_with("test ") {
            head.push(l.to_string());
        } else {
            other.push(l);
        }
    }
    head.extend(sets.iter().map(|s| s.to_string()));
    head.extend(targets.iter().map(|s| s.to_string()));
    head.extend(other.iter().map(|s| s.to_string()));
    head.extend(std::iter::repeat_n(String::new(), blanks));
    let mut out = head.join("\n");
    for l in &lines[end..] {
        out.push('\n');
        out.push_str(l);
    }
    out.push('\n');
    out
}

/// Whether a line of CLIF text starts a function (and so ends the file's
/// header of `test`, `set` and `target` lines).
///
/// ```
/// use saturn_clif::text::starts_function;
/// assert!(starts_function("  function %f(i32) {"));
/// assert!(!starts_function("; function %f"));
/// assert!(!starts_function("target x86_64"));
/// ```
pub fn starts_function(line: &str) -> bool {
    line.trim_start().starts_with("function")
}

/// The largest entity number accepted in CLIF text (`v16777215`,
/// `block16777215`, ...): 2^24 - 1, a thousand times the largest in the
/// corpora (`v16598`).
///
/// Cranelift's reader makes every value, block, stack slot, global value,
/// signature and function reference numbered below one it reads: a file
/// naming `v222223222` took 2 GB before its first syntax error, and 3.9 GB
/// and 7 s to optimize when valid (found by the `clif_opt` fuzz target).
/// Up to this bound the reader's tables stay within a few hundred
/// megabytes.
pub const MAX_ENTITY_NUMBER: u64 = (1 << 24) - 1;

/// Text that Cranelift's reader would take gigabytes for, or panic on, at a
/// 1-based line and column (in characters); see [`check_reader_input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInputError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The entity as written, such as `v222223222` or `dt4`.
    pub entity: String,
    /// What is wrong with it.
    pub reason: ReaderHazard,
}

/// What [`check_reader_input`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderHazard {
    /// Numbered past [`MAX_ENTITY_NUMBER`].
    NumberTooLarge,
    /// A dynamic type used as an instruction's controlling type
    /// (`iconst.dt4`) without a `dt4 = ...` declaration in its function:
    /// the reader unwraps the missing declaration and panics.
    UndeclaredDynamicType,
    /// A dynamic type declared over a scalar type (`dt0 = i32*gv0`): the
    /// reader asserts a vector type and panics.
    ScalarDynamicType,
}

impl std::fmt::Display for ReaderInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            ReaderHazard::NumberTooLarge => write!(
                f,
                "`{}`: entity numbers above {MAX_ENTITY_NUMBER} are not accepted (Cranelift's reader makes every entity numbered below it)",
                self.entity
            ),
            ReaderHazard::UndeclaredDynamicType => write!(
                f,
                "`{}`: dynamic type not declared in this function",
                self.entity
            ),
            ReaderHazard::ScalarDynamicType => write!(
                f,
                "`{}`: a dynamic type's base type must be a vector type, such as `i32x4`",
                self.entity
            ),
        }
    }
}

impl std::error::Error for ReaderInputError {}

/// Runs `read` (Cranelift's reader) and catches a panic inside it, which
/// prints nothing: `Err` holds the panic's payload. [`check_reader_input`]
/// keeps out the inputs known to make the reader panic; this is for the
/// unknown ones. It changes the global panic hook for the call (see
/// [`with_quiet_panics`]); to read on many threads, call
/// [`catch_quietly`] on each inside one `with_quiet_panics`.
///
/// ```
/// let caught = saturn_clif::text::read_guarded(|| -> u32 { panic!("bad") });
/// assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"bad"));
/// assert_eq!(saturn_clif::text::read_guarded(|| 7).ok(), Some(7));
/// ```
pub fn read_guarded<T>(read: impl FnOnce() -> T) -> Result<T, Box<dyn std::any::Any + Send>> {
    with_quiet_panics(|| catch_quietly(read))
}

thread_local! {
    /// Whether this thread is inside [`catch_quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic inside it ([`std::panic::catch_unwind`]);
/// under [`with_quiet_panics`], that panic prints nothing.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, Box<dyn std::any::Any + Send>> {
    let was = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    r
}

/// Runs `f` with a panic hook that says nothing of the panics inside
/// [`catch_quietly`], on any thread, and passes every other panic to the
/// hook it replaced (so a bug's panic still says where it happened); the
/// hook is put back after `f`, also when `f` panics. For reading many
/// files in parallel with one change of the hook. The hook is global: no
/// other thread should set it while `f` runs (its hook would be replaced
/// by this one's predecessor at the end).
///
/// ```
/// use saturn_clif::text::{catch_quietly, with_quiet_panics};
/// let caught = with_quiet_panics(|| {
///     std::thread::scope(|s| {
///         let a = s.spawn(|| catch_quietly(|| -> u32 { panic!("one") }).is_err());
///         let b = s.spawn(|| catch_quietly(|| 7).ok());
///         (a.join().unwrap(), b.join().unwrap())
///     })
/// });
/// assert_eq!(caught, (true, Some(7)));
/// ```
pub fn with_quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    use std::sync::Arc;
    /// A panic hook, as [`std::panic::take_hook`] returns it.
    type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>;
    let replaced: Arc<Hook> = Arc::new(std::panic::take_hook());
    let inner = Arc::clone(&replaced);
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET.with(|q| q.get()) {
            inner(info);
        }
    }));
    // A panic out of `f` is caught until the hook is back: the hook
    // cannot be changed by a thread that is unwinding.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // Dropping the filter drops its reference to the replaced hook, which
    // is then this call's alone (unless another thread set a hook
    // meanwhile, keeping the filter: then it gets a forwarder).
    drop(std::panic::take_hook());
    match Arc::try_unwrap(replaced) {
        Ok(hook) => std::panic::set_hook(hook),
        Err(hook) => std::panic::set_hook(Box::new(move |info| hook(info))),
    }
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The prefixes of the entities Cranelift's reader numbers densely.
const DENSE_ENTITIES: [&str; 8] = ["v", "block", "ss", "dss", "dt", "gv", "sig", "fn"];

/// Checks `text` for what Cranelift's reader would take gigabytes for or
/// panic on; call it before the reader. Outside `;` comments, `"..."`
/// strings and `%`/`@` names (the scan runs across lines, as the reader's
/// tokens do):
/// - no value, block, stack slot, dynamic type, global value, signature or
///   function reference is numbered past [`MAX_ENTITY_NUMBER`] (see there);
/// - every dynamic type used as a controlling type (`opcode.dtN`) is
///   declared (`dtN = ...`) in its function before the use;
/// - every dynamic type is declared over a vector type (`dt0 = i32x4*gv0`,
///   not `i32*gv0`).
///
/// ```
/// use saturn_clif::text::{check_reader_input, ReaderHazard};
/// let ok = "function %f() {\nblock0:\n    v16777215 = iconst.i32 1 ; v99999999999\n    return\n}\n";
/// assert_eq!(check_reader_input(ok), Ok(()));
/// let bad = "function %f() {\nblock0:\n    v16777216 = iconst.i32 1\n    return\n}\n";
/// let err = check_reader_input(bad).unwrap_err();
/// assert_eq!((err.line, err.column, err.entity.as_str()), (3, 5, "v16777216"));
/// assert_eq!(err.reason, ReaderHazard::NumberTooLarge);
/// let undeclared = "function %f() {\nblock0:\n    v1 = iconst.dt4 0\n    return\n}\n";
/// let err = check_reader_input(undeclared).unwrap_err();
/// assert_eq!((err.line, err.column, err.entity.as_str()), (3, 17, "dt4"));
/// assert_eq!(err.reason, ReaderHazard::UndeclaredDynamicType);
/// ```
pub fn check_reader_input(text: &str) -> Result<(), ReaderInputError> {
    // The input of `saturn opt` is megabytes of text (26 MB on
    // `clif-wasm`), so this goes by bytes, not `char`s, and finds comments
    // and strings with `memchr`: everything it looks for is ASCII, and no
    // byte of a multi-byte UTF-8 character is, so bytes give what
    // characters would. (It first copied the text with comments and
    // strings blanked, `char` by `char`: 3.5 ns a byte on `clif-wasm`, a
    // tenth of a run; now 1.4 ns.)
    //
    // The code: the text outside `;` comments and `"` strings (quotes
    // included), as byte ranges in order. Strings run across lines, as
    // the reader's tokens do, so the scan does too.
    let bytes = text.as_bytes();
    let mut segments: Vec<(usize, usize)> = vec![];
    let mut i = 0;
    while i < bytes.len() {
        let Some(k) = memchr::memchr2(b';', b'"', &bytes[i..]) else {
            segments.push((i, bytes.len()));
            break;
        };
        let at = i + k;
        segments.push((i, at));
        i = if bytes[at] == b';' {
            memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |k| at + k)
        } else {
            memchr::memchr(b'"', &bytes[at + 1..]).map_or(bytes.len(), |k| at + k + 2)
        };
    }
    // The text with everything outside the code blanked (byte for byte,
    // so offsets are the text's), made only for a look across blanks
    // around a dynamic type (rare).
    let blanked = std::cell::OnceCell::new();
    let code = || -> &str {
        blanked.get_or_init(|| {
            let mut c = bytes.to_vec();
            let mut end = 0;
            for &(s, e) in &segments {
                c[end..s].fill(b' ');
                end = e;
            }
            c[end..].fill(b' ');
            // Whole characters were kept or blanked: UTF-8 still.
            String::from_utf8(c).expect("characters blanked whole")
        })
    };
    // Whether a byte is part of a word: a table, since every byte of the
    // code is looked up.
    const WORD: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
            b += 1;
        }
        t
    };
    let word = |b: u8| WORD[b as usize];
    let error = |at: usize, entity: &str, reason| {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        ReaderInputError {
            line: text[..at].matches('\n').count() + 1,
            column: text[line_start..at].chars().count() + 1,
            entity: entity.to_string(),
            reason,
        }
    };
    // The dynamic types declared so far in the current function.
    let mut declared: Vec<&str> = vec![];
    for &(first, end) in &segments {
        let mut pos = first;
        while pos < end {
            if !word(bytes[pos]) {
                pos += 1;
                continue;
            }
            let start = pos;
            while pos < end && word(bytes[pos]) {
                pos += 1;
            }
            let token = &text[start..pos];
            if token == "function" {
                declared.clear();
            }
            // A name (`%v9`, `@v9`); a blank before a segment is no `%`.
            if start > first && matches!(bytes[start - 1], b'%' | b'@') {
                continue;
            }
            // A numbered entity is its prefix (letters) and a run of
            // digits: the token's trailing digits, after the prefix. Most
            // tokens are not numbered, and most numbers are short: fewer
            // than 8 digits are below the bound whatever they are.
            let split = token
                .bytes()
                .rposition(|b| !b.is_ascii_digit())
                .map_or(0, |i| i + 1);
            if split == token.len() {
                continue;
            }
            let (prefix, digits) = token.split_at(split);
            if digits.len() >= 8
                && DENSE_ENTITIES.contains(&prefix)
                && digits.parse::<u64>().unwrap_or(u64::MAX) > MAX_ENTITY_NUMBER
            {
                return Err(error(start, token, ReaderHazard::NumberTooLarge));
            }
            if prefix != "dt" {
                continue;
            }
            let code = code();
            let after = code[pos..].trim_start();
            if let Some(rest) = after.strip_prefix('=') {
                // A declaration; its base type is the word after `=`.
                declared.push(token);
                let base_at = code.len() - rest.trim_start().len();
                let base: &str = code[base_at..]
                    .split(|c: char| !(c.is_ascii() && word(c as u8)))
                    .next()
                    .unwrap_or_default();
                // `i32x1` reads as the scalar `i32`.
                let ty = base.strip_suffix("x1").unwrap_or(base);
                let scalar = ty.len() > 1
                    && ty.starts_with(['i', 'f'])
                    && ty[1..].bytes().all(|b| b.is_ascii_digit());
                if scalar {
                    return Err(error(base_at, base, ReaderHazard::ScalarDynamicType));
                }
            } else if code[..start].trim_end().ends_with('.') && !declared.contains(&token) {
                return Err(error(start, token, ReaderHazard::UndeclaredDynamicType));
            }
        }
    }
    Ok(())
}

// Numbers of fewer than 8 digits are not checked (see `check_reader_input`).
const _: () = assert!(MAX_ENTITY_NUMBER >= 9_999_999);

#[cfg(test)]
mod entity_number_tests {
    use super::*;

    /// The scan as it was written first, over `char`s: the oracle the
    /// byte scan is checked against.
    fn check_reader_input_by_chars(text: &str) -> Result<(), ReaderInputError> {
        // The text with comments and string contents blanked (byte for byte,
        // so offsets are the text's): the reader's tokens run across lines,
        // so the scan does too.
        let mut code = String::with_capacity(text.len());
        let (mut in_string, mut in_comment) = (false, false);
        for c in text.chars() {
            let blank = if c == '\n' {
                in_comment = false;
                in_string
            } else if in_comment {
                true
            } else if in_string {
                in_string = c != '"';
                true
            } else if c == '"' {
                in_string = true;
                true
            } else if c == ';' {
                in_comment = true;
                true
            } else {
                false
            };
            if blank {
                code.extend(std::iter::repeat_n(' ', c.len_utf8()));
            } else {
                code.push(c);
            }
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        // The dynamic types declared so far in the current function.
        let mut declared: Vec<&str> = vec![];
        let mut pos = 0;
        while let Some(found) = code[pos..].find(word) {
            let start = pos + found;
            let len = code[start..]
                .find(|c: char| !word(c))
                .unwrap_or(code.len() - start);
            let token = &code[start..start + len];
            pos = start + len;
            let before = code[..start].trim_end();
            let after = code[pos..].trim_start();
            let error = |at: usize, entity: &str, reason| {
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                ReaderInputError {
                    line: text[..at].matches('\n').count() + 1,
                    column: text[line_start..at].chars().count() + 1,
                    entity: entity.to_string(),
                    reason,
                }
            };
            if token == "function" {
                declared.clear();
            }
            if code[..start].ends_with(['%', '@']) {
                continue;
            }
            let numbered = |p: &str| {
                token.strip_prefix(p).and_then(|digits| {
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| digits.parse::<u64>().unwrap_or(u64::MAX))
                })
            };
            if DENSE_ENTITIES
                .iter()
                .any(|p| numbered(p).is_some_and(|n| n > MAX_ENTITY_NUMBER))
            {
                return Err(error(start, token, ReaderHazard::NumberTooLarge));
            }
            if numbered("dt").is_none() {
                continue;
            }
            if let Some(rest) = after.strip_prefix('=') {
                // A declaration; its base type is the word after `=`.
                declared.push(token);
                let base_at = code.len() - rest.trim_start().len();
                let base: &str = code[base_at..]
                    .split(|c: char| !word(c))
                    .next()
                    .unwrap_or_default();
                // `i32x1` reads as the scalar `i32`.
                let ty = base.strip_suffix("x1").unwrap_or(base);
                let scalar = ty.len() > 1
                    && ty.starts_with(['i', 'f'])
                    && ty[1..].bytes().all(|b| b.is_ascii_digit());
                if scalar {
                    return Err(error(base_at, base, ReaderHazard::ScalarDynamicType));
                }
            } else if before.ends_with('.') && !declared.contains(&token) {
                return Err(error(start, token, ReaderHazard::UndeclaredDynamicType));
            }
        }
        Ok(())
    }

    #[test]
    fn every_densely_numbered_entity_is_checked_and_nothing_else() {
        for prefix in DENSE_ENTITIES {
            let at_bound = format!("  x = {prefix}{MAX_ENTITY_NUMBER}\n");
            assert_eq!(check_reader_input(&at_bound), Ok(()), "{at_bound}");
            let past = format!("\n  x = {prefix}{}\n", MAX_ENTITY_NUMBER + 1);
            let err = check_reader_input(&past).unwrap_err();
            assert_eq!((err.line, err.column), (2, 7), "{past}");
            assert_eq!(err.entity, format!("{prefix}{}", MAX_ENTITY_NUMBER + 1));
        }
        // Past u64 too; after a multi-byte character, the column counts
        // characters.
        let err = check_reader_input("é v99999999999999999999999").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
        // Declared before its use in the same function, or not at all.
        let dynamic = "function %f() {\n    dt0 = i32x4*gv0\nblock0:\n    v1 = iconst.dt0 0\n    return\n}\nfunction %g() {\nblock0:\n    v1 = iconst.dt0 0\n}\n";
        let err = check_reader_input(dynamic).unwrap_err();
        assert_eq!(
            (err.line, err.column, err.reason),
            (9, 17, ReaderHazard::UndeclaredDynamicType)
        );
        // Whitespace, even a line break, may part the dot and the type.
        for spaced in [
            "    v1 = iconst. dt4 0\n",
            "    v1 = iconst. ; c\n\n  dt4 0\n",
        ] {
            let err = check_reader_input(spaced).unwrap_err();
            assert_eq!(err.reason, ReaderHazard::UndeclaredDynamicType, "{spaced}");
        }
        let scalar = "function %f() {\n    dt0 =  i32*gv0\nblock0:\n    return\n}\n";
        let err = check_reader_input(scalar).unwrap_err();
        assert_eq!((err.line, err.column, err.entity.as_str()), (2, 12, "i32"));
        assert_eq!(err.reason, ReaderHazard::ScalarDynamicType);
        let vector = "function %f() {\n    dt0 = i32x4*gv0\nblock0:\n    return\n}\n";
        assert_eq!(check_reader_input(vector), Ok(()));
        // One lane reads as a scalar.
        let one_lane = "function %f() {\n    dt0 = i32x1*gv0\n";
        let err = check_reader_input(one_lane).unwrap_err();
        assert_eq!(
            (err.entity.as_str(), err.reason),
            ("i32x1", ReaderHazard::ScalarDynamicType)
        );
        // A declaration anywhere on its line, or split over lines, counts.
        for declared in [
            "function %f() { gv0 = vmctx dt0 = i32x4*gv0 block0: v1 = iconst.dt0 0 return }",
            "function %f() {\n    dt0\n    = i32x4*gv0\nblock0:\n    v1 = iconst.dt0 0\n}\n",
        ] {
            assert_eq!(check_reader_input(declared), Ok(()), "{declared}");
        }
        // Strings are skipped, also across lines and `;`; what follows
        // their closing quote is checked.
        for fine in [
            "    region0 = 0 \"heap.dt4\"\n",
            "    region0 = 0 \"table v99999999999\"\n",
            "    region0 = 0 \"a\nb v99999999999 ; .dt4\"\n",
        ] {
            assert_eq!(check_reader_input(fine), Ok(()), "{fine}");
        }
        for bad in ["\"a;b\" v99999999999", "\"x\"v99999999999"] {
            let err = check_reader_input(bad).unwrap_err();
            assert_eq!(err.reason, ReaderHazard::NumberTooLarge, "{bad}");
        }
        for fine in [
            "function %v99999999999() {",
            "; v99999999999 in a comment",
            "  call fn0(v1) ; fn99999999999",
            "  v1 = iconst.i64 99999999999",
            "  v1 = global_value.i64 gv0 ; @v99999999999",
            "  x99999999999 vv99999999999 v99999999999x i99999999999",
            "  @v99999999999",
        ] {
            assert_eq!(check_reader_input(fine), Ok(()), "{fine}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The byte scan says what the `char` scan said, error location
        /// included, on text made of the pieces that matter to it
        /// (entities past the bound, declarations, uses, comments,
        /// strings, names, multi-byte characters, Unicode whitespace).
        #[test]
        fn the_byte_scan_agrees_with_the_char_scan(pieces in proptest::collection::vec(
            proptest::sample::select(vec![
                "v", "dt", "dt0", "dt4", "block", "gv", "fn", "16777215", "16777216",
                "99999999999999999999999", "0", "1", "=", " = ", ".", ". ", " ", "\n",
                "  ", ";", "\"", "%", "@", "function", "function %f() {\n", "}\n",
                "i32x4", "i32", "f64", "x1", "i", "*gv0", "iconst", "_", "\u{e9}",
                "\u{a0}", "\u{2003}", "\t", "\r\n",
            ]),
            0..40,
        )) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(check_reader_input(&text), check_reader_input_by_chars(&text));
        }
    }
}
