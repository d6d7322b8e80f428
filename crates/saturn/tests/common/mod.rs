//! Helpers shared by the integration tests (each test file includes this
//! module with `mod common;`, so not every item is used by every file).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;

pub mod arith;

use proptest::prelude::*;
use proptest::test_runner::Config;
use saturn::{
    rewrite, Analysis, EGraph, ENodeOrVar, FromOp, Id, Language, Pattern, RecExpr, Rewrite, Subst,
    SymbolLang,
};

/// Proptest config: `release` cases in release builds, a quarter of them
/// (at least 4) in debug builds, where the engine is many times slower.
/// Failures are not persisted (no files written next to the tests).
pub fn cases(release: u32) -> Config {
    let n = if cfg!(debug_assertions) {
        (release / 4).max(4)
    } else {
        release
    };
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A fixed-seed pseudo-random source (a 64-bit LCG): the same sequence
/// on every machine, so generated inputs are the same from run to run.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// The next number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// [`Lcg::below`] as a closure, seeded with `seed`.
pub fn lcg(seed: u64) -> impl FnMut(usize) -> usize {
    let mut rng = Lcg(seed);
    move |m| rng.below(m)
}

/// A plain tree term over a small signature, independent of the engine.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub op: &'static str,
    pub kids: Vec<Term>,
}

impl Term {
    pub fn leaf(op: &'static str) -> Term {
        Term { op, kids: vec![] }
    }
    pub fn node(op: &'static str, kids: Vec<Term>) -> Term {
        Term { op, kids }
    }

    /// All subterms, children before parents, the term itself last.
    pub fn subterms(&self) -> Vec<Term> {
        let mut out = vec![];
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<Term>) {
        for k in &self.kids {
            k.collect(out);
        }
        out.push(self.clone());
    }

    pub fn expr<L: FromOp>(&self) -> RecExpr<L> {
        self.to_string()
            .parse()
            .unwrap_or_else(|e| panic!("term {self} does not parse: {e}"))
    }

    pub fn size(&self) -> usize {
        1 + self.kids.iter().map(Term::size).sum::<usize>()
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kids.is_empty() {
            return f.write_str(self.op);
        }
        write!(f, "({}", self.op)?;
        for k in &self.kids {
            write!(f, " {k}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Random terms over `f/2`, `g/1`, `+/2` and leaves `a b c 0 1`.
pub fn term(depth: u32, size: u32) -> impl Strategy<Value = Term> {
    let leaf = prop::sample::select(vec!["a", "b", "c", "0", "1"]).prop_map(Term::leaf);
    leaf.prop_recursive(depth, size, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(x, y)| Term::node("f", vec![x, y])),
            inner.clone().prop_map(|x| Term::node("g", vec![x])),
            (inner.clone(), inner).prop_map(|(x, y)| Term::node("+", vec![x, y])),
        ]
    })
}

/// Random terms built from `+` only, over leaves `a b c d 0`.
pub fn plus_term(depth: u32, size: u32) -> impl Strategy<Value = Term> {
    let leaf = prop::sample::select(vec!["a", "b", "c", "d", "0"]).prop_map(Term::leaf);
    leaf.prop_recursive(depth, size, 2, |inner| {
        (inner.clone(), inner).prop_map(|(x, y)| Term::node("+", vec![x, y]))
    })
}

/// A naive congruence closure over a fixed set of terms: the reference the
/// e-graph is checked against. Every distinct subterm is one node.
#[derive(Default)]
pub struct NaiveCC {
    pub terms: Vec<Term>,
    index: HashMap<Term, usize>,
    nodes: Vec<(&'static str, Vec<usize>)>,
    parent: Vec<usize>,
}

impl NaiveCC {
    /// Adds a term and its subterms; returns the term's index.
    pub fn add(&mut self, t: &Term) -> usize {
        if let Some(&i) = self.index.get(t) {
            return i;
        }
        let kids: Vec<usize> = t.kids.iter().map(|k| self.add(k)).collect();
        let i = self.terms.len();
        self.terms.push(t.clone());
        self.index.insert(t.clone(), i);
        self.nodes.push((t.op, kids));
        self.parent.push(i);
        i
    }

    pub fn index_of(&self, t: &Term) -> usize {
        self.index[t]
    }

    pub fn find(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    pub fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }

    /// Closes the relation under congruence (to a fixed point).
    pub fn close(&mut self) {
        loop {
            let mut changed = false;
            let mut seen: HashMap<(&'static str, Vec<usize>), usize> = HashMap::new();
            for i in 0..self.nodes.len() {
                let (op, kids) = &self.nodes[i];
                let key = (*op, kids.iter().map(|&k| self.find(k)).collect::<Vec<_>>());
                match seen.get(&key) {
                    Some(&j) if self.find(j) != self.find(i) => {
                        self.union(i, j);
                        changed = true;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, i);
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }

    pub fn same(&self, a: usize, b: usize) -> bool {
        self.find(a) == self.find(b)
    }

    pub fn number_of_classes(&self) -> usize {
        (0..self.terms.len()).filter(|&i| self.find(i) == i).count()
    }
}

/// The class of `pattern` instantiated under `subst`, if every node of the
/// instantiation is already in the e-graph (looked up, nothing added).
pub fn lookup_instantiation<L: Language, N: Analysis<L>>(
    eg: &EGraph<L, N>,
    pattern: &Pattern<L>,
    subst: &Subst,
) -> Option<Id> {
    let mut ids: Vec<Id> = vec![];
    for n in pattern.ast() {
        let id = match n {
            ENodeOrVar::Var(v) => eg.find(subst[*v]),
            ENodeOrVar::ENode(n) => eg.lookup(n.clone().map_children(|c| ids[c.index()]))?,
        };
        ids.push(id);
    }
    ids.last().copied()
}

/// For every class and every canonical node ever added: the sorted list of
/// the classes, as a partition of the raw ids (renaming-independent).
pub fn partition_of<L: Language, N: Analysis<L>>(eg: &EGraph<L, N>) -> Vec<Vec<usize>> {
    let mut sets: BTreeMap<Id, Vec<usize>> = BTreeMap::new();
    for i in 0..eg.number_of_ids() {
        sets.entry(eg.find(Id::from(i))).or_default().push(i);
    }
    sets.into_values().collect()
}

/// Number of nodes of an extracted term, counted as a tree (shared
/// subterms counted once per use), which is what `AstSize` measures.
pub fn tree_size<L: Language>(e: &RecExpr<L>) -> usize {
    fn go<L: Language>(e: &RecExpr<L>, i: Id) -> usize {
        1 + e[i].children().iter().map(|&c| go(e, c)).sum::<usize>()
    }
    go(e, e.root())
}

/// `(+ x1 (+ x2 (... (+ x{n-1} x{n}))))`: a sum of `n` terms, which
/// [`comm_assoc`] blows up.
pub fn long_sum(n: usize) -> RecExpr<SymbolLang> {
    let mut s = format!("x{n}");
    for i in (1..n).rev() {
        s = format!("(+ x{i} {s})");
    }
    s.parse().unwrap()
}

/// A run of `rules` on `input` under the simple scheduler (no backoff)
/// that only the memory limit `bytes` stops: no node limit, a thousand
/// iterations, ten minutes.
pub fn run_to_memory_limit(
    input: &RecExpr<SymbolLang>,
    rules: &[Rewrite<SymbolLang, ()>],
    bytes: usize,
    threads: usize,
) -> saturn::Runner<SymbolLang, ()> {
    run_to_memory_limit_under(saturn::Scheduler::Simple, input, rules, bytes, threads)
}

/// [`run_to_memory_limit`] under `scheduler`.
pub fn run_to_memory_limit_under(
    scheduler: saturn::Scheduler,
    input: &RecExpr<SymbolLang>,
    rules: &[Rewrite<SymbolLang, ()>],
    bytes: usize,
    threads: usize,
) -> saturn::Runner<SymbolLang, ()> {
    saturn::Runner::default()
        .with_expr(input)
        .with_node_limit(usize::MAX)
        .with_memory_limit(bytes)
        .with_iter_limit(1_000)
        .with_time_limit(std::time::Duration::from_secs(600))
        .with_scheduler(scheduler)
        .with_threads(threads)
        .run(rules)
}

/// Commutativity and associativity of `+` (one direction): on
/// [`long_sum`] of 9 terms the e-graph passes 8,192 nodes (where a pooled
/// run moves onto its pool) within a few iterations.
pub fn comm_assoc() -> Vec<Rewrite<SymbolLang, ()>> {
    vec![
        rewrite!("comm"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("assoc"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
    ]
}
