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
