//! Interned strings shared by all threads.
//!
//! A [`Symbol`] is a `u32` index into a global, append-only table. Interning
//! takes a lock; comparing, hashing and copying a symbol does not. Strings are
//! leaked on purpose: the table only grows, and operators and variable names
//! are few.

use std::fmt;
use std::sync::{OnceLock, RwLock};

use rustc_hash::FxHashMap;

use crate::AppendOnlyVec;

/// An interned string.
///
/// ```
/// use saturn::Symbol;
/// let a = Symbol::from("foo");
/// let b: Symbol = "foo".into();
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "foo");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol(u32);

fn ids() -> &'static RwLock<FxHashMap<&'static str, u32>> {
    static IDS: OnceLock<RwLock<FxHashMap<&'static str, u32>>> = OnceLock::new();
    IDS.get_or_init(Default::default)
}

/// Interned strings by index; read without a lock.
fn strs() -> &'static AppendOnlyVec<&'static str> {
    static STRS: OnceLock<AppendOnlyVec<&'static str>> = OnceLock::new();
    STRS.get_or_init(AppendOnlyVec::new)
}

impl Symbol {
    /// Interns `s`.
    pub fn new(s: &str) -> Symbol {
        if let Some(&i) = ids().read().unwrap_or_else(|e| e.into_inner()).get(s) {
            return Symbol(i);
        }
        let mut ids = ids().write().unwrap_or_else(|e| e.into_inner());
        if let Some(&i) = ids.get(s) {
            return Symbol(i);
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        // Pushed under the write lock, so indices are dense and the string is
        // readable before any other thread can learn its index.
        let i = strs().push(leaked) as u32;
        ids.insert(leaked, i);
        Symbol(i)
    }

    /// The interned string.
    pub fn as_str(self) -> &'static str {
        strs()[self.0 as usize]
    }
}

impl From<&str> for Symbol {
    fn from(s: &str) -> Symbol {
        Symbol::new(s)
    }
}

impl From<String> for Symbol {
    fn from(s: String) -> Symbol {
        Symbol::new(&s)
    }
}

impl std::str::FromStr for Symbol {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Symbol::new(s))
    }
}

/// Symbols order by their text, so that anything sorted by symbol is
/// independent of interning order (and so of thread timing).
impl Ord for Symbol {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            std::cmp::Ordering::Equal
        } else {
            self.as_str().cmp(other.as_str())
        }
    }
}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}
