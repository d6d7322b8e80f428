//! Dense e-class / e-node identifiers.

use std::fmt;

/// An identifier of an e-node and of the e-class it created.
///
/// Ids are dense `u32`s handed out in insertion order: every distinct node
/// ever added gets the next id, and that id also names the class the node
/// created (the class may later be merged into another; [`EGraph::find`]
/// gives its canonical id).
///
/// [`EGraph::find`]: crate::EGraph::find
///
/// ```
/// use saturn::Id;
/// let a = Id::from(3usize);
/// assert_eq!(usize::from(a), 3);
/// assert_eq!(a.to_string(), "3");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Id(pub(crate) u32);

/// The union of the ascending ids of `a` and `b`, ascending, each once.
pub(crate) fn merge_sorted(a: &[Id], b: impl Iterator<Item = Id>) -> Vec<Id> {
    let mut out = Vec::with_capacity(a.len());
    let mut a = a.iter().copied().peekable();
    for y in b {
        while let Some(x) = a.next_if(|&x| x < y) {
            out.push(x);
        }
        a.next_if_eq(&y);
        out.push(y);
    }
    out.extend(a);
    out
}

impl Id {
    /// The id as an index into dense tables.
    #[inline(always)]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl From<usize> for Id {
    #[inline(always)]
    fn from(n: usize) -> Id {
        debug_assert!(n <= u32::MAX as usize, "Id overflow");
        Id(n as u32)
    }
}

impl From<u32> for Id {
    #[inline(always)]
    fn from(n: u32) -> Id {
        Id(n)
    }
}

impl From<Id> for usize {
    #[inline(always)]
    fn from(id: Id) -> usize {
        id.0 as usize
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
