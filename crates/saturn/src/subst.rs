//! Pattern variables and substitutions.

use std::fmt;

use smallvec::SmallVec;

use crate::{Id, Symbol};

/// A pattern variable such as `?x`.
///
/// ```
/// use saturn::Var;
/// let v: Var = "?x".parse().unwrap();
/// assert_eq!(v.to_string(), "?x");
/// assert!("x".parse::<Var>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Var(Symbol);

impl Var {
    /// The variable named `name` (which must start with `?`).
    pub fn new(name: &str) -> Result<Var, String> {
        if name.len() > 1 && name.starts_with('?') {
            Ok(Var(Symbol::new(name)))
        } else {
            Err(format!(
                "`{name}` is not a variable (variables look like `?x`)"
            ))
        }
    }
}

impl std::str::FromStr for Var {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Var::new(s)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Bindings kept inline: most rules have at most this many variables, and a
/// substitution is built for every staged match, so it should not allocate.
const INLINE: usize = 8;

/// A mapping from variables to classes: one match of a pattern.
///
/// ```
/// use saturn::{Subst, Var, Id};
/// let x: Var = "?x".parse().unwrap();
/// let mut s = Subst::default();
/// s.insert(x, Id::from(4usize));
/// assert_eq!(s[x], Id::from(4usize));
/// assert_eq!(s.get("?y".parse().unwrap()), None);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Subst {
    vec: SmallVec<[(Var, Id); INLINE]>,
}

impl Subst {
    /// An empty substitution with room for `n` variables.
    pub fn with_capacity(n: usize) -> Self {
        Subst {
            vec: SmallVec::with_capacity(n),
        }
    }

    /// Binds `var`; returns the previous binding.
    pub fn insert(&mut self, var: Var, id: Id) -> Option<Id> {
        for (v, old) in self.vec.iter_mut() {
            if *v == var {
                return Some(std::mem::replace(old, id));
            }
        }
        self.vec.push((var, id));
        None
    }

    /// Appends a binding for a variable known to be unbound.
    #[inline]
    pub(crate) fn push_unchecked(&mut self, var: Var, id: Id) {
        debug_assert!(self.get(var).is_none());
        self.vec.push((var, id));
    }

    /// The binding of `var`.
    #[inline]
    pub fn get(&self, var: Var) -> Option<Id> {
        self.vec.iter().find(|(v, _)| *v == var).map(|(_, id)| *id)
    }

    /// The bindings.
    pub fn iter(&self) -> impl Iterator<Item = (Var, Id)> + '_ {
        self.vec.iter().copied()
    }
}

impl std::ops::Index<Var> for Subst {
    type Output = Id;
    fn index(&self, var: Var) -> &Id {
        match self.vec.iter().find(|(v, _)| *v == var) {
            Some((_, id)) => id,
            None => panic!("variable {var} is not bound in {self:?}"),
        }
    }
}

impl fmt::Debug for Subst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (v, id)) in self.vec.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}: {id}")?;
        }
        f.write_str("}")
    }
}
