//! [`SymbolLang`]: a dynamic language for text use.

use std::fmt;

use smallvec::SmallVec;

use crate::{FromOp, FromOpError, Id, Language, Symbol};

/// A node whose operator is any symbol, with any number of children: the
/// language of rule files and terms read from text, when no Rust enum is
/// declared.
///
/// ```
/// use saturn::{RecExpr, SymbolLang, Language};
/// let e: RecExpr<SymbolLang> = "(f x (g y))".parse().unwrap();
/// let root = &e[e.root()];
/// assert_eq!(root.op.as_str(), "f");
/// assert_eq!(root.children().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SymbolLang {
    /// The operator.
    pub op: Symbol,
    /// The children.
    pub children: SmallVec<[Id; 3]>,
}

impl SymbolLang {
    /// A node with operator `op` and `children`.
    pub fn new(op: impl Into<Symbol>, children: Vec<Id>) -> Self {
        SymbolLang {
            op: op.into(),
            children: SmallVec::from_vec(children),
        }
    }

    /// A leaf.
    pub fn leaf(op: impl Into<Symbol>) -> Self {
        SymbolLang::new(op, vec![])
    }
}

/// Ordered by operator, then arity, then children, so nodes with one
/// discriminant are contiguous (see [`Language`]).
impl Ord for SymbolLang {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.op, self.children.len(), &self.children[..]).cmp(&(
            other.op,
            other.children.len(),
            &other.children[..],
        ))
    }
}

impl PartialOrd for SymbolLang {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Language for SymbolLang {
    type Discriminant = (Symbol, usize);

    #[inline(always)]
    fn discriminant(&self) -> Self::Discriminant {
        (self.op, self.children.len())
    }

    #[inline(always)]
    fn matches(&self, other: &Self) -> bool {
        self.op == other.op && self.children.len() == other.children.len()
    }

    #[inline(always)]
    fn children(&self) -> &[Id] {
        &self.children
    }

    #[inline(always)]
    fn children_mut(&mut self) -> &mut [Id] {
        &mut self.children
    }
}

impl fmt::Display for SymbolLang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.op, f)
    }
}

impl FromOp for SymbolLang {
    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, FromOpError> {
        Ok(SymbolLang::new(op, children))
    }
}
