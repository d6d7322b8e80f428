//! S-expressions with source positions, and terms built from them.
//!
//! One small reader serves terms, patterns and rule files, so every error
//! carries a line and column. Comments run from `;` to the end of a line.

use crate::{FromOp, Id, ParseError, Pos, RecExpr};

/// An s-expression: an atom or a list, with the position it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sexp {
    /// A word such as `+`, `x`, `?a` or `-1`.
    Atom(String, Pos),
    /// A parenthesised list.
    List(Vec<Sexp>, Pos),
}

impl Sexp {
    /// Where it starts.
    pub fn pos(&self) -> Pos {
        match self {
            Sexp::Atom(_, p) | Sexp::List(_, p) => *p,
        }
    }
}

/// The error for a control character (other than whitespace) outside a
/// comment: a NUL or an escape in a text file is almost always damage
/// (a binary file, a bad copy), not a name.
fn control(at: Pos, c: char) -> ParseError {
    ParseError::new(
        at,
        format!(
            "control character U+{:04X} (only allowed in comments)",
            c as u32
        ),
    )
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Reader<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn skip_space(&mut self) {
        while let Some(&c) = self.chars.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn read(&mut self) -> Result<Option<Sexp>, ParseError> {
        self.skip_space();
        let start = self.pos;
        match self.chars.peek().copied() {
            None => Ok(None),
            Some(')') => Err(ParseError::new(start, "unexpected `)`")),
            Some(c) if c.is_control() => Err(control(start, c)),
            Some('(') => {
                self.bump();
                let mut items = vec![];
                loop {
                    self.skip_space();
                    match self.chars.peek() {
                        None => return Err(ParseError::new(start, "unclosed `(`")),
                        Some(')') => {
                            self.bump();
                            break;
                        }
                        _ => items.push(self.read()?.expect("not at end")),
                    }
                }
                Ok(Some(Sexp::List(items, start)))
            }
            Some(_) => {
                let mut s = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == ';' {
                        break;
                    }
                    if c.is_control() {
                        return Err(control(self.pos, c));
                    }
                    s.push(c);
                    self.bump();
                }
                Ok(Some(Sexp::Atom(s, start)))
            }
        }
    }
}

/// Reads all s-expressions in `text` (after a byte-order mark, if any).
///
/// ```
/// use saturn::sexp::{parse_all, Sexp};
/// let all = parse_all("(a b) ; comment\n c").unwrap();
/// assert_eq!(all.len(), 2);
/// assert!(matches!(&all[1], Sexp::Atom(s, p) if s == "c" && p.line == 2));
/// assert_eq!(parse_all("\u{feff}(a b)").unwrap(), parse_all("(a b)").unwrap());
/// ```
pub fn parse_all(text: &str) -> Result<Vec<Sexp>, ParseError> {
    // A byte-order mark (some editors write one) is not text, and takes
    // no column.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, col: 1 },
    };
    let mut out = vec![];
    while let Some(s) = r.read()? {
        out.push(s);
    }
    Ok(out)
}

/// Reads exactly one s-expression.
pub fn parse_one(text: &str) -> Result<Sexp, ParseError> {
    let mut all = parse_all(text)?;
    match all.len() {
        1 => Ok(all.pop().unwrap()),
        0 => Err(ParseError::new(Pos { line: 1, col: 1 }, "empty input")),
        _ => Err(ParseError::new(
            all[1].pos(),
            "expected one expression, found more",
        )),
    }
}

/// Appends the term `s` to `expr` and returns the index of its root.
pub(crate) fn build_term<L: FromOp>(s: &Sexp, expr: &mut RecExpr<L>) -> Result<Id, ParseError> {
    let (op, args, pos) = match s {
        Sexp::Atom(a, p) => (a.as_str(), &[][..], *p),
        Sexp::List(items, p) => match items.split_first() {
            None => return Err(ParseError::new(*p, "empty list `()` is not a term")),
            Some((Sexp::Atom(op, _), rest)) => (op.as_str(), rest, *p),
            Some((first, _)) => {
                return Err(ParseError::new(
                    first.pos(),
                    "an operator must be a word, not a list",
                ))
            }
        },
    };
    if op.starts_with('?') {
        return Err(ParseError::new(
            pos,
            format!("pattern variable `{op}` in a term"),
        ));
    }
    let mut children = Vec::with_capacity(args.len());
    for a in args {
        children.push(build_term(a, expr)?);
    }
    let node = L::from_op(op, children).map_err(|e| ParseError::new(pos, e.to_string()))?;
    Ok(expr.add(node))
}
