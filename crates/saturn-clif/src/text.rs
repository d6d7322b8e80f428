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
        .position(|l| l.trim_start().starts_with("function"))
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

/// The prefixes of the entities Cranelift's reader numbers densely.
const DENSE_ENTITIES: [&str; 8] = ["v", "block", "ss", "dss", "dt", "gv", "sig", "fn"];

/// Checks `text` for what Cranelift's reader would take gigabytes for or
/// panic on; call it before the reader. Outside `;` comments and
/// `%`/`@`/`"` names:
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
    // The dynamic types declared so far in the current function.
    let mut declared: Vec<&str> = vec![];
    // Whether the last line's code ended with `.` (the reader's tokens
    // run across lines: `iconst.` then `dt4` on the next line is a use).
    let mut dot_ended = false;
    for (k, line) in text.lines().enumerate() {
        let code = line.split(';').next().unwrap_or_default();
        let trimmed = code.trim_start();
        if trimmed.starts_with("function") {
            declared.clear();
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut rest = code;
        let mut offset = 0;
        let mut first = true;
        while let Some(start) = rest.find(word) {
            let len = rest[start..]
                .find(|c: char| !word(c))
                .unwrap_or(rest.len() - start);
            let token = &rest[start..start + len];
            let before = &rest[..start];
            let after = &rest[start + len..];
            let named = before.ends_with(['%', '@', '"']);
            let numbered = |p: &str| {
                token.strip_prefix(p).and_then(|digits| {
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| digits.parse::<u64>().unwrap_or(u64::MAX))
                })
            };
            let error = |reason| ReaderInputError {
                line: k + 1,
                column: line[..offset + start].chars().count() + 1,
                entity: token.to_string(),
                reason,
            };
            if !named {
                if DENSE_ENTITIES
                    .iter()
                    .any(|p| numbered(p).is_some_and(|n| n > MAX_ENTITY_NUMBER))
                {
                    return Err(error(ReaderHazard::NumberTooLarge));
                }
                if numbered("dt").is_some() {
                    if first && after.trim_start().starts_with('=') {
                        declared.push(token);
                        // Its base type: the word after `=`.
                        let eq = after.find('=').expect("starts with `=`");
                        let tail = &after[eq + 1..];
                        let skip = tail.len() - tail.trim_start().len();
                        let base: &str = tail[skip..]
                            .split(|c: char| !word(c))
                            .next()
                            .unwrap_or_default();
                        let scalar = base.len() > 1
                            && base.starts_with(['i', 'f'])
                            && base[1..].bytes().all(|b| b.is_ascii_digit());
                        if scalar {
                            let at = offset + start + len + eq + 1 + skip;
                            return Err(ReaderInputError {
                                line: k + 1,
                                column: line[..at].chars().count() + 1,
                                entity: base.to_string(),
                                reason: ReaderHazard::ScalarDynamicType,
                            });
                        }
                    } else if (before.trim_end().ends_with('.')
                        || (first && dot_ended && before.trim().is_empty()))
                        && !declared.contains(&token)
                    {
                        return Err(error(ReaderHazard::UndeclaredDynamicType));
                    }
                }
            }
            first = false;
            offset += start + len;
            rest = after;
        }
        if !code.trim().is_empty() {
            dot_ended = code.trim_end().ends_with('.');
        }
    }
    Ok(())
}

#[cfg(test)]
mod entity_number_tests {
    use super::*;

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
        for fine in [
            "function %v99999999999() {",
            "; v99999999999 in a comment",
            "  call fn0(v1) ; fn99999999999",
            "  v1 = iconst.i64 99999999999",
            "  v1 = global_value.i64 gv0 ; @v99999999999",
            "  x99999999999 vv99999999999 v99999999999x i99999999999",
            "  \"v99999999999\"",
            "  @v99999999999",
        ] {
            assert_eq!(check_reader_input(fine), Ok(()), "{fine}");
        }
    }
}
