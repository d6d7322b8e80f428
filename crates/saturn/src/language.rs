//! The [`Language`] trait: what an e-node is.
//!
//! A language is an enum (usually declared with [`define_language!`]) whose
//! variants are operators. An e-node is one value of it: an operator, maybe
//! some data (a constant, a symbol), and child e-class [`Id`]s. The engine
//! needs only three things from a node: its children, whether two nodes
//! have the same operator ([`Language::matches`]), and a cheap operator key
//! for indexing classes by operator ([`Language::discriminant`]).
//!
//! [`define_language!`]: crate::define_language

use std::fmt::{self, Debug, Display};
use std::hash::Hash;

use smallvec::SmallVec;

use crate::Id;

/// An e-node type.
///
/// `Ord` must keep nodes with equal [`Language::discriminant`] contiguous,
/// and a node whose children are all `Id(0)` must sort no later than any
/// node it [`matches`](Language::matches). Derived `Ord` on an enum whose
/// discriminant is its variant (what [`define_language!`] generates) does
/// both. E-matching relies on it to binary-search large classes.
///
/// [`define_language!`]: crate::define_language
pub trait Language: Debug + Clone + Eq + Ord + Hash + Send + Sync + 'static {
    /// A cheap key naming the operator (and its data, for leaves such as
    /// constants, where it is cheap), used to index classes by operator.
    type Discriminant: Debug + Clone + Eq + Hash + Send + Sync;

    /// The operator key of this node.
    fn discriminant(&self) -> Self::Discriminant;

    /// True when `self` and `other` have the same operator, data and arity,
    /// so that they differ at most in their children.
    fn matches(&self, other: &Self) -> bool;

    /// The children.
    fn children(&self) -> &[Id];

    /// The children, mutably.
    fn children_mut(&mut self) -> &mut [Id];

    /// True when the node has no children.
    fn is_leaf(&self) -> bool {
        self.children().is_empty()
    }

    /// Calls `f` on each child.
    fn for_each<F: FnMut(Id)>(&self, f: F) {
        self.children().iter().copied().for_each(f)
    }

    /// Replaces each child `c` by `f(c)` in place.
    fn update_children<F: FnMut(Id) -> Id>(&mut self, mut f: F) {
        self.children_mut().iter_mut().for_each(|c| *c = f(*c))
    }

    /// A copy with each child `c` replaced by `f(c)`.
    fn map_children<F: FnMut(Id) -> Id>(mut self, f: F) -> Self {
        self.update_children(f);
        self
    }

    /// Folds over the children.
    fn fold<F: FnMut(T, Id) -> T, T>(&self, init: T, f: F) -> T {
        self.children().iter().copied().fold(init, f)
    }

    /// True when every child satisfies `f`.
    fn all<F: FnMut(Id) -> bool>(&self, f: F) -> bool {
        self.children().iter().copied().all(f)
    }
}

/// A language that can be built from text: an operator name and children.
pub trait FromOp: Language + Display {
    /// Builds a node from an operator and its children, or says why not.
    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, FromOpError>;
}

/// Why [`FromOp::from_op`] refused an operator. Made with
/// [`FromOpError::new`] (it may gain fields).
///
/// ```
/// use saturn::FromOpError;
/// let e = FromOpError::new("+", 3, true);
/// assert_eq!(e.to_string(), "operator `+` does not take 3 children");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FromOpError {
    /// The operator text.
    pub op: String,
    /// How many children it was given.
    pub arity: usize,
    /// Whether the language has the operator, with another number of
    /// children.
    pub known: bool,
}

impl FromOpError {
    /// `op` given `arity` children; `known` when the language has `op`
    /// with another number of children.
    pub fn new(op: impl Into<String>, arity: usize, known: bool) -> Self {
        FromOpError {
            op: op.into(),
            arity,
            known,
        }
    }
}

impl Display for FromOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.known {
            write!(
                f,
                "operator `{}` does not take {} children",
                self.op, self.arity
            )
        } else {
            write!(
                f,
                "unknown operator `{}` with {} children",
                self.op, self.arity
            )
        }
    }
}

impl std::error::Error for FromOpError {}

/// Types that can hold a node's children in a [`define_language!`] variant.
///
/// [`define_language!`]: crate::define_language
pub trait LanguageChildren: Debug + Clone + Eq + Ord + Hash + Send + Sync {
    /// Whether a node of this shape can have `n` children.
    fn can_be_length(n: usize) -> bool;
    /// Builds the children from a vector of valid length.
    fn from_vec(v: Vec<Id>) -> Self;
    /// The children as a slice.
    fn as_slice(&self) -> &[Id];
    /// The children as a mutable slice.
    fn as_mut_slice(&mut self) -> &mut [Id];
}

impl<const N: usize> LanguageChildren for [Id; N] {
    fn can_be_length(n: usize) -> bool {
        n == N
    }
    fn from_vec(v: Vec<Id>) -> Self {
        v.try_into().expect("length checked by can_be_length")
    }
    fn as_slice(&self) -> &[Id] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [Id] {
        self
    }
}

impl LanguageChildren for Id {
    fn can_be_length(n: usize) -> bool {
        n == 1
    }
    fn from_vec(v: Vec<Id>) -> Self {
        v[0]
    }
    fn as_slice(&self) -> &[Id] {
        std::slice::from_ref(self)
    }
    fn as_mut_slice(&mut self) -> &mut [Id] {
        std::slice::from_mut(self)
    }
}

impl LanguageChildren for Vec<Id> {
    fn can_be_length(_: usize) -> bool {
        true
    }
    fn from_vec(v: Vec<Id>) -> Self {
        v
    }
    fn as_slice(&self) -> &[Id] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [Id] {
        self
    }
}

impl LanguageChildren for Box<[Id]> {
    fn can_be_length(_: usize) -> bool {
        true
    }
    fn from_vec(v: Vec<Id>) -> Self {
        v.into_boxed_slice()
    }
    fn as_slice(&self) -> &[Id] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [Id] {
        self
    }
}

impl<const N: usize> LanguageChildren for SmallVec<[Id; N]> {
    fn can_be_length(_: usize) -> bool {
        true
    }
    fn from_vec(v: Vec<Id>) -> Self {
        SmallVec::from_vec(v)
    }
    fn as_slice(&self) -> &[Id] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [Id] {
        self
    }
}

/// A term: nodes in post-order, each child an index of an earlier node.
/// The last node is the root.
///
/// ```
/// use saturn::{RecExpr, SymbolLang};
/// let e: RecExpr<SymbolLang> = "(+ x (* y 2))".parse().unwrap();
/// assert_eq!(e.len(), 5);
/// assert_eq!(e.to_string(), "(+ x (* y 2))");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecExpr<L> {
    nodes: Vec<L>,
}

impl<L> Default for RecExpr<L> {
    fn default() -> Self {
        RecExpr { nodes: Vec::new() }
    }
}

impl<L: Language> RecExpr<L> {
    /// Appends a node whose children index earlier nodes; returns its index.
    ///
    /// # Panics
    /// If a child does not index an earlier node.
    pub fn add(&mut self, node: L) -> Id {
        let n = self.nodes.len();
        assert!(
            node.all(|c| c.index() < n),
            "RecExpr child must index an earlier node"
        );
        self.nodes.push(node);
        Id::from(n)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The root's index.
    pub fn root(&self) -> Id {
        Id::from(self.nodes.len() - 1)
    }

    fn write_node(&self, f: &mut fmt::Formatter<'_>, i: Id) -> fmt::Result
    where
        L: Display,
    {
        let node = &self.nodes[i.index()];
        if node.is_leaf() {
            write!(f, "{node}")
        } else {
            write!(f, "({node}")?;
            for &c in node.children() {
                f.write_str(" ")?;
                self.write_node(f, c)?;
            }
            f.write_str(")")
        }
    }
}

/// The nodes, in post-order.
impl<L> AsRef<[L]> for RecExpr<L> {
    fn as_ref(&self) -> &[L] {
        &self.nodes
    }
}

impl<L> std::ops::Index<Id> for RecExpr<L> {
    type Output = L;
    fn index(&self, i: Id) -> &L {
        &self.nodes[i.index()]
    }
}

impl<L: Language + Display> Display for RecExpr<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes.is_empty() {
            return f.write_str("()");
        }
        self.write_node(f, self.root())
    }
}

impl<L: Language + Display> Debug for RecExpr<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(self, f)
    }
}

impl<L: FromOp> RecExpr<L> {
    /// The term an s-expression spells (for files of many terms read with
    /// [`crate::sexp::parse_all`]); errors carry the position in the text
    /// the s-expression was read from.
    ///
    /// ```
    /// use saturn::{RecExpr, SymbolLang};
    /// let all = saturn::sexp::parse_all("(f x)\n(g ?y)").unwrap();
    /// let t = RecExpr::<SymbolLang>::from_sexp(&all[0]).unwrap();
    /// assert_eq!(t.to_string(), "(f x)");
    /// let err = RecExpr::<SymbolLang>::from_sexp(&all[1]).unwrap_err();
    /// assert_eq!((err.pos.line, err.pos.col), (2, 4)); // at `?y`
    /// ```
    pub fn from_sexp(sexp: &crate::sexp::Sexp) -> Result<Self, crate::ParseError> {
        let mut expr = RecExpr::default();
        crate::sexp::build_term(sexp, &mut expr)?;
        Ok(expr)
    }
}

impl<L: FromOp> std::str::FromStr for RecExpr<L> {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecExpr::from_sexp(&crate::sexp::parse_one(s)?)
    }
}
