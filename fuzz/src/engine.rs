//! Harness for the engine targets `rules_parser` and `terms_runner`.
//!
//! Depends only on `saturn` and `rayon`, so that `crates/saturn/tests/fuzz_regressions.rs`
//! can include it with `#[path]`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use saturn::rules::{parse_rules, Predicates};
use saturn::{AstSize, Extractor, ParseError, Pattern, RecExpr, Runner, StopReason, SymbolLang};

/// What a harness did with an input (a bug panics instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input was accepted and every check passed.
    Accepted,
    /// The input was rejected with an error (also fine).
    Rejected,
}

/// The predicates a fuzzed rule file may use.
pub fn predicates() -> Predicates<SymbolLang, ()> {
    Predicates::default()
        .with("is-not-zero", 1, |eg, ids| {
            !eg[ids[0]].iter().any(|n: &SymbolLang| n.to_string() == "0")
        })
        .with("is-leaf", 1, |eg, ids| eg[ids[0]].leaves().next().is_some())
        .with("same-size", 2, |eg, ids| {
            eg[ids[0]].len() == eg[ids[1]].len()
        })
        .with_nonlocal("small", 0, |eg, _| eg.number_of_classes() < 200)
}

/// A parse error must point inside the text (1-based line and column).
fn check_error(text: &str, e: &ParseError) {
    let lines = text.matches('\n').count() as u64 + 1;
    assert!(
        e.pos.line >= 1 && e.pos.col >= 1 && u64::from(e.pos.line) <= lines,
        "error position {} outside the text ({lines} lines): {e}",
        e.pos
    );
    let _ = e.to_string();
}

/// Rule files, terms and patterns from arbitrary text: never a panic; a
/// parsed term or pattern prints to text that parses back to the same
/// printout.
pub fn rules_parser(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let mut out = Outcome::Rejected;
    match parse_rules::<SymbolLang, ()>(&text, &predicates()) {
        Ok(set) => {
            out = Outcome::Accepted;
            let n: usize = set.passes.iter().map(|p| p.rules.len()).sum();
            assert_eq!(n, set.rules.len(), "every rule is in exactly one pass");
        }
        Err(e) => check_error(&text, &e),
    }
    match text.parse::<RecExpr<SymbolLang>>() {
        Ok(e) => {
            out = Outcome::Accepted;
            let s = e.to_string();
            let again: RecExpr<SymbolLang> = s
                .parse()
                .unwrap_or_else(|err| panic!("printed term {s:?} does not parse: {err}"));
            assert_eq!(again.to_string(), s, "term round trip");
        }
        Err(e) => check_error(&text, &e),
    }
    match text.parse::<Pattern<SymbolLang>>() {
        Ok(p) => {
            out = Outcome::Accepted;
            let s = p.to_string();
            let again: Pattern<SymbolLang> = s
                .parse()
                .unwrap_or_else(|err| panic!("printed pattern {s:?} does not parse: {err}"));
            assert_eq!(again.to_string(), s, "pattern round trip");
        }
        Err(e) => check_error(&text, &e),
    }
    out
}

/// One shared 2-thread pool (building one per input would dominate).
fn pool2() -> Arc<rayon::ThreadPool> {
    static POOL: OnceLock<Arc<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .expect("thread pool"),
        )
    })
    .clone()
}

/// The separator between the rule file and the term in a `terms_runner`
/// input.
pub const SEPARATOR: &str = "%%";

/// `RULES %% TERM`: runs the rules on the term (5 iterations, 2,000 nodes,
/// 100 ms) on 1 and on 2 threads. Both e-graphs must satisfy the
/// invariants and contain the term in the root class, the extracted best
/// term must be in the root class, and unless a run hit the time limit
/// the two runs must agree (stop reason, iterations, e-graph dump).
pub fn terms_runner(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let Some((rules_text, term_text)) = text.split_once(SEPARATOR) else {
        return Outcome::Rejected;
    };
    let Ok(set) = parse_rules::<SymbolLang, ()>(rules_text, &predicates()) else {
        return Outcome::Rejected;
    };
    let Ok(term) = term_text.parse::<RecExpr<SymbolLang>>() else {
        return Outcome::Rejected;
    };
    let run = |threads: usize| {
        let mut r = Runner::<SymbolLang, ()>::default()
            .with_iter_limit(5)
            .with_node_limit(2_000)
            .with_time_limit(Duration::from_millis(100))
            .with_expr(&term);
        if threads > 1 {
            r = r.with_pool(pool2());
        }
        let r = r.run(&set.rules);
        if let Err(e) = r.egraph.check_invariants() {
            panic!("{threads} thread(s): invariant broken: {e}");
        }
        let root = r.egraph.find(r.roots[0]);
        assert_eq!(
            r.egraph.lookup_expr(&term).map(|c| r.egraph.find(c)),
            Some(root),
            "{threads} thread(s): the input term left its class"
        );
        let (_, best) = Extractor::new(&r.egraph, AstSize).find_best(root);
        assert_eq!(
            r.egraph.lookup_expr(&best).map(|c| r.egraph.find(c)),
            Some(root),
            "{threads} thread(s): extracted {best} is not in the root class"
        );
        r
    };
    let one = run(1);
    let two = run(2);
    let timed_out =
        |r: &Runner<SymbolLang, ()>| matches!(r.stop_reason, Some(StopReason::TimeLimit(_)));
    if !timed_out(&one) && !timed_out(&two) {
        assert_eq!(one.stop_reason, two.stop_reason, "stop reasons differ");
        assert_eq!(
            one.iterations.len(),
            two.iterations.len(),
            "iterations differ"
        );
        let (a, b) = (one.egraph.dump().to_string(), two.egraph.dump().to_string());
        assert!(
            a == b,
            "1 and 2 threads give different e-graphs:\n{a}\n---\n{b}"
        );
    }
    Outcome::Accepted
}
