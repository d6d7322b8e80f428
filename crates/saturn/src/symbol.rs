//! Interned strings shared by all threads.
//!
//! A [`Symbol`] is a `u32` index into a global, append-only table. Interning
//! takes a lock; comparing, hashing and copying a symbol does not. Strings are
//! leaked on purpose: the table only grows, and operators and variable names
//! are few.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Interned strings by index, each with its [`order_key`]; read without a
/// lock.
fn strs() -> &'static AppendOnlyVec<(u64, &'static str)> {
    static STRS: OnceLock<AppendOnlyVec<(u64, &'static str)>> = OnceLock::new();
    STRS.get_or_init(AppendOnlyVec::new)
}

/// Symbols whose order key is also kept in [`KEYS`].
const FAST: usize = 4096;

/// The order keys of the first [`FAST`] symbols, each read with one load:
/// comparing two symbols (sorting node lists, ordering a canonical
/// renumbering) mostly needs nothing else. Written before the symbol's
/// index is published (under the interning lock), so whoever holds a
/// symbol reads its key.
static KEYS: [AtomicU64; FAST] = [const { AtomicU64::new(0) }; FAST];

/// The first 8 bytes of `s`, big-endian, zero-padded: comparing keys
/// orders strings as comparing the strings does, except that equal keys
/// (a shared 8-byte prefix, or a prefix padded with zeros) need the strings.
fn order_key(s: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = s.len().min(8);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u64::from_be_bytes(b)
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
        let key = order_key(leaked);
        let i = strs().push((key, leaked)) as u32;
        if let Some(k) = KEYS.get(i as usize) {
            k.store(key, Ordering::Release);
        }
        ids.insert(leaked, i);
        Symbol(i)
    }

    /// The interned string.
    pub fn as_str(self) -> &'static str {
        strs()[self.0 as usize].1
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
            return std::cmp::Ordering::Equal;
        }
        // Operators are mostly short: their first 8 bytes usually decide.
        let (i, j) = (self.0 as usize, other.0 as usize);
        if let (Some(a), Some(b)) = (KEYS.get(i), KEYS.get(j)) {
            let (a, b) = (a.load(Ordering::Acquire), b.load(Ordering::Acquire));
            if a != b {
                return a.cmp(&b);
            }
        }
        let (a, b) = (&strs()[i], &strs()[j]);
        a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1))
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn order_is_the_strings_order_at_the_key_boundary() {
        let words = [
            "",
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
            "b",
            "é",
            "\u{7f}",
        ];
        for x in words {
            for y in words {
                assert_eq!(Symbol::new(x).cmp(&Symbol::new(y)), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn order_is_the_strings_order_past_the_fast_keys() {
        // More symbols than KEYS holds: the ones past it compare through
        // the table, with each other and with ones inside it.
        let words: Vec<String> = (0..FAST + 64)
            .map(|i| format!("fast-{:x}", (i * 7919) % (FAST + 64)))
            .collect();
        let syms: Vec<Symbol> = words.iter().map(|w| Symbol::new(w)).collect();
        assert!(syms.iter().any(|s| s.0 as usize >= FAST));
        for (k, (x, a)) in words.iter().zip(&syms).enumerate().step_by(37) {
            for (y, b) in words.iter().zip(&syms).skip(k % 5).step_by(53) {
                assert_eq!(a.cmp(b), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn order_is_the_strings_order(x in "\\PC{0,12}", y in "[ab\\x00]{0,10}") {
            prop_assert_eq!(Symbol::new(&x).cmp(&Symbol::new(&y)), x.as_str().cmp(y.as_str()));
            prop_assert_eq!(Symbol::new(&y).cmp(&Symbol::new(&x)), y.as_str().cmp(x.as_str()));
        }
    }
}
