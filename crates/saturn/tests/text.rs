//! Text input: rule files, terms and patterns.
//!
//! Parse errors must name the right line and column; the parsers must never
//! panic on arbitrary input; `define_language!` terms must round-trip
//! through their printed form.

mod common;

use common::cases;
use proptest::prelude::*;
use saturn::rules::{parse_rules, Predicates, RuleSet};
use saturn::*;

define_language! {
    /// Every kind of variant: `[Id; 2]`, `Id`, `Vec<Id>`, nullary, data.
    enum Lang {
        "+" = Add([Id; 2]),
        "neg" = Neg(Id),
        "list" = List(Vec<Id>),
        "nil" = Nil,
        "pi" = Pi,
        Num(i64),
        Var(Symbol),
    }
}

define_language! {
    /// No catch-all data variant, so unknown leaves are errors.
    enum Strict {
        "+" = Add([Id; 2]),
        "neg" = Neg(Id),
        Num(i64),
    }
}

fn sym_rules(text: &str) -> Result<RuleSet<SymbolLang, ()>, ParseError> {
    parse_rules::<SymbolLang, ()>(text, &Predicates::default())
}

/// The error of a rule file that must not parse.
fn rule_err<L: FromOp>(text: &str) -> ParseError {
    match parse_rules::<L, ()>(text, &Predicates::default()) {
        Ok(set) => panic!("{text:?} parsed into {} rules", set.rules.len()),
        Err(e) => e,
    }
}

fn at(e: &ParseError) -> (u32, u32) {
    (e.pos.line, e.pos.col)
}

fn names<L: FromOp, N: Analysis<L>>(set: &RuleSet<L, N>) -> Vec<&'static str> {
    set.rules.iter().map(|r| r.name.as_str()).collect()
}

// ---------------------------------------------------------------------
// Errors and their positions.

#[test]
fn unclosed_paren() {
    let e = rule_err::<SymbolLang>("ok: (+ ?a 0) => ?a\nbad: (+ (f ?a) 0\n  => ?a\n");
    assert_eq!(at(&e), (2, 6), "{e}");
    assert!(e.message.contains("unclosed"), "{e}");
    assert_eq!(e.to_string(), format!("2:6: {}", e.message));
    // The innermost open list is reported.
    assert_eq!(at(&rule_err::<SymbolLang>("r: (f (g ?a")), (1, 7));
    assert_eq!(at(&rule_err::<SymbolLang>("r: (f (g ?a) => ?a")), (1, 4));
    // Terms and patterns too.
    let e = "(f x\n  (g y)".parse::<RecExpr<SymbolLang>>().unwrap_err();
    assert_eq!(at(&e), (1, 1));
    let e = "(f ?x\n\t(g".parse::<Pattern<SymbolLang>>().unwrap_err();
    assert_eq!(at(&e), (2, 2), "a tab is one column");
}

#[test]
fn unexpected_close_paren() {
    let e = rule_err::<SymbolLang>("a: ?x => ?x )");
    assert_eq!(at(&e), (1, 13), "{e}");
    assert!(e.message.contains("unexpected `)`"), "{e}");
    assert_eq!(
        at(&rule_err::<SymbolLang>("a: (f ?x) => ?x\n\n  )")),
        (3, 3)
    );
    assert_eq!(at(&rule_err::<SymbolLang>(")")), (1, 1));
    let e = "(f x))".parse::<RecExpr<SymbolLang>>().unwrap_err();
    assert_eq!(at(&e), (1, 6));
    // A `)` inside a comment is not code.
    assert!(sym_rules("a: ?x => ?x ; )\n").is_ok());
}

#[test]
fn unknown_operator_in_a_declared_language() {
    let e = rule_err::<Lang>("r: (+ ?a ?b) => (foo ?a)");
    assert_eq!(at(&e), (1, 17), "{e}");
    assert!(
        e.message.contains("unknown operator `foo` with 1 children"),
        "{e}"
    );
    // A known operator with the wrong number of children says so.
    let e = rule_err::<Lang>("r: (+ ?a) => ?a");
    assert_eq!(at(&e), (1, 4), "{e}");
    assert!(
        e.message.contains("operator `+` does not take 1 children"),
        "{e}"
    );
    // A leaf no variant accepts.
    let e = rule_err::<Strict>("r: (+ ?a x) => ?a");
    assert_eq!(at(&e), (1, 10), "{e}");
    // Terms: the position of the offending node, on its line.
    let e = "(+ 1\n   (neg 2 3))".parse::<RecExpr<Lang>>().unwrap_err();
    assert_eq!(at(&e), (2, 4), "{e}");
    assert!(
        e.message
            .contains("operator `neg` does not take 2 children"),
        "{e}"
    );
    let e = "(pi 1)".parse::<RecExpr<Lang>>().unwrap_err();
    assert!(
        e.message.contains("`pi`"),
        "a nullary operator takes no children: {e}"
    );
    let e = "(5 1)".parse::<RecExpr<Lang>>().unwrap_err();
    assert!(
        e.message.contains("`5`"),
        "data leaves take no children: {e}"
    );
    assert!("(+ 1 y)".parse::<RecExpr<Strict>>().is_err());
}

#[test]
fn rhs_variable_not_bound_by_lhs() {
    let e = rule_err::<SymbolLang>("r: (f ?x\n      ?y)\n  => (g ?y ?z)");
    assert_eq!(at(&e), (3, 12), "{e}");
    assert!(e.message.contains("?z") && e.message.contains("`r`"), "{e}");
    // In a condition.
    let e = rule_err::<SymbolLang>("r: (f ?x) => ?x if (= ?x ?w)");
    assert_eq!(at(&e), (1, 26), "{e}");
    assert!(e.message.contains("?w"), "{e}");
    // A bare variable right-hand side.
    let e = rule_err::<SymbolLang>("r: (f ?x) => ?y");
    assert_eq!(at(&e), (1, 14), "{e}");
    // `<=>`: the reverse direction's right-hand side is the original lhs.
    let e = rule_err::<SymbolLang>("r: (f ?a ?b) <=> (g ?a)");
    assert_eq!(at(&e), (1, 10), "{e}");
    assert!(e.message.contains("`r-rev`"), "{e}");
    // Rust-side construction reports it too.
    assert!(Rewrite::<SymbolLang, ()>::new(
        "x",
        "(f ?a)".parse().unwrap(),
        "(g ?a ?b)".parse::<Pattern<SymbolLang>>().unwrap()
    )
    .is_err());
}

#[test]
fn predicates() {
    let e = rule_err::<SymbolLang>("r: (f ?x) => ?x if (nope ?x)");
    assert_eq!(at(&e), (1, 21), "{e}");
    assert!(e.message.contains("unknown predicate `nope`"), "{e}");
    let preds: Predicates<SymbolLang, ()> =
        Predicates::default().with("is-zero", 1, |eg: &EGraph<SymbolLang, ()>, ids: &[Id]| {
            eg[ids[0]].leaves().any(|n| n.op.as_str() == "0")
        });
    let parse = |t: &str| parse_rules::<SymbolLang, ()>(t, &preds);
    let e = parse("r: (f ?x) => ?x\n  if (is-zero ?x ?x)")
        .err()
        .unwrap();
    assert_eq!(at(&e), (2, 7), "{e}");
    assert!(e.message.contains("takes 1 variables, given 2"), "{e}");
    let e = parse("r: (f ?x) => ?x if (not-nope ?x)").err().unwrap();
    assert!(e.message.contains("unknown predicate `not-nope`"), "{e}");
    let e = parse("r: (f ?x ?y) => ?x if (= ?x)").err().unwrap();
    assert_eq!(at(&e), (1, 24), "{e}");
    assert!(e.message.contains("takes 2 variables"), "{e}");
    let e = parse("r: (f ?x ?y) => ?x if (= ?x a)").err().unwrap();
    assert_eq!(at(&e), (1, 29), "{e}");
    assert!(e.message.contains("must be variables"), "{e}");
    let e = parse("r: (f ?x ?y) => ?x if ()").err().unwrap();
    assert_eq!(at(&e), (1, 23), "{e}");
    let e = parse("r: (f ?x ?y) => ?x if ok").err().unwrap();
    assert_eq!(at(&e), (1, 23), "{e}");
    let e = parse("r: (f ?x ?y) => ?x if").err().unwrap();
    assert_eq!(at(&e), (1, 20), "{e}");

    // Conditions take effect when the rules run.
    let set = parse(
        "cancel: (- ?a ?b) => 0 if (= ?a ?b)\n\
         first: (f ?a ?b) => ?a if (!= ?a ?b)\n\
         div: (/ ?a ?a) => 1 if (not-is-zero ?a)\n\
         zdiv: (/ ?a ?a) => 0 if (is-zero ?a)\n",
    )
    .unwrap();
    assert!(set.rules.iter().all(|r| r.conditions.len() == 1));
    let terms = [
        "(- x x)", "(- x y)", "(f x x)", "(f x y)", "(/ x x)", "(/ 0 0)", "0", "1", "x",
    ];
    let mut runner = Runner::default();
    for t in terms {
        runner = runner.with_expr(&t.parse().unwrap());
    }
    let runner = runner.run(&set.rules);
    assert_eq!(runner.stop_reason, Some(StopReason::Saturated));
    let eg = &runner.egraph;
    let c = |i: usize| eg.find(runner.roots[i]);
    assert_eq!(c(0), c(6), "(- x x) = 0");
    assert_ne!(c(1), c(6), "(- x y) stays");
    assert_ne!(c(2), c(8), "(f x x) stays: != fails");
    assert_eq!(c(3), c(8), "(f x y) = x");
    assert_eq!(c(4), c(7), "(/ x x) = 1");
    assert_eq!(c(5), c(6), "(/ 0 0) = 0 by zdiv, not 1");
    assert_ne!(c(6), c(7));
}

#[test]
fn duplicate_rule_names() {
    let e = rule_err::<SymbolLang>("r: a => b\n\n  r: b => c");
    assert_eq!(at(&e), (3, 3), "{e}");
    assert!(e.message.contains("`r` already defined at 1:1"), "{e}");
    // Across passes too.
    assert_eq!(
        at(&rule_err::<SymbolLang>("[p]\nr: a => b\n[q]\nr: b => c")),
        (4, 1)
    );
    // A `<=>` rule's reverse name collides with an explicit one.
    let e = rule_err::<SymbolLang>("m-rev: a => b\nm: (f ?a) <=> (g ?a)");
    assert_eq!(at(&e), (2, 1), "{e}");
    assert!(e.message.contains("`m-rev`"), "{e}");
}

#[test]
fn bidirectional_rules() {
    let set = sym_rules("mc: (* ?a ?b) <=> (* ?b ?a) if (!= ?a ?b)\none: (* ?a 1) => ?a").unwrap();
    assert_eq!(names(&set), ["mc", "mc-rev", "one"]);
    assert_eq!(format!("{:?}", set.rules[0]), "mc: (* ?a ?b) => (* ?b ?a)");
    assert_eq!(
        format!("{:?}", set.rules[1]),
        "mc-rev: (* ?b ?a) => (* ?a ?b)"
    );
    assert_eq!(set.rules[0].conditions.len(), 1);
    assert_eq!(
        set.rules[1].conditions.len(),
        1,
        "conditions apply to both directions"
    );
    assert_eq!(set.passes.len(), 1);
    assert_eq!(set.passes[0].rules, vec![0, 1, 2]);
    // Each direction works alone.
    let fwd = Runner::default()
        .with_expr(&"(+ (f x) y)".parse().unwrap())
        .run(&sym_rules("d: (+ (f ?a) ?b) <=> (g ?b ?a)").unwrap().rules[1..]);
    assert_eq!(
        fwd.egraph.number_of_classes(),
        4,
        "only -rev, which does not match"
    );
    let both = Runner::default()
        .with_expr(&"(+ (f x) y)".parse().unwrap())
        .run(&sym_rules("d: (+ (f ?a) ?b) <=> (g ?b ?a)").unwrap().rules);
    let g = both
        .egraph
        .lookup_expr(&"(g y x)".parse().unwrap())
        .unwrap();
    assert_eq!(both.egraph.find(both.roots[0]), g);
}

#[test]
fn pass_headers_group_rules() {
    let text = "top: a => b\n\
                [p1]\n\
                x: a => b ; comment [p9]\n  y: b => c\n\
                [p2]\n\
                [p3] z: (f ?a) => ?a\n";
    let set = sym_rules(text).unwrap();
    assert_eq!(names(&set), ["top", "x", "y", "z"]);
    let passes: Vec<(&str, Vec<usize>)> = set
        .passes
        .iter()
        .map(|p| (p.name.as_str(), p.rules.clone()))
        .collect();
    assert_eq!(
        passes,
        vec![
            ("default", vec![0]),
            ("p1", vec![1, 2]),
            ("p2", vec![]),
            ("p3", vec![3])
        ]
    );
    // Without rules before the first header there is no `default` pass.
    let set = sym_rules("[only]\nr: a => b").unwrap();
    assert_eq!(set.passes.len(), 1);
    assert_eq!(set.passes[0].name.as_str(), "only");
    // An empty file is an empty rule set.
    let set = sym_rules("  ; nothing\n\n").unwrap();
    assert!(set.rules.is_empty() && set.passes.is_empty());

    let e = rule_err::<SymbolLang>("[p1]\nr: a => b\n[p1]");
    assert_eq!(at(&e), (3, 1), "{e}");
    assert!(e.message.contains("`p1` declared twice"), "{e}");
    assert_eq!(at(&rule_err::<SymbolLang>("r: a => b\n  []")), (2, 3));
    assert_eq!(at(&rule_err::<SymbolLang>("[a b]")), (1, 1));
    assert_eq!(at(&rule_err::<SymbolLang>("r: a => b\n[p")), (2, 1));
    // Brackets inside the name are not part of one.
    assert_eq!(at(&rule_err::<SymbolLang>("[a]]")), (1, 1));
    assert_eq!(at(&rule_err::<SymbolLang>("r: a => b\n [[a]")), (2, 2));
    // Declaring `default` after rules that made it implicitly says so.
    let e = rule_err::<SymbolLang>("r: a => b\n[default]");
    assert_eq!(at(&e), (2, 1));
    assert!(
        e.message
            .contains("the rules before the first `[pass]` header form the pass `default`"),
        "{e}"
    );
    let e = rule_err::<SymbolLang>("[default]\nr: a => b\n[default]");
    assert!(!e.message.contains("before the first"), "{e}");
}

#[test]
fn malformed_rules() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        ("r:", (1, 1), "no left-hand side"),
        ("r: a", (1, 4), "expected `=>`"),
        ("r: a =>", (1, 6), "no right-hand side"),
        ("r: a -> b", (1, 6), "expected `=>`"),
        ("r: a (=>) b", (1, 6), "expected `=>`"),
        ("(f a)", (1, 1), "expected a rule name"),
        ("r a => b", (1, 1), "expected `name:`"),
        (":  a => b", (1, 1), "expected `name:`"),
        ("r: () => a", (1, 4), "empty list"),
        ("r: ((f) ?a) => a", (1, 5), "operator must be a word"),
        ("r: (?x a) => a", (1, 4), "cannot have children"),
        ("r: (f ?) => a", (1, 7), "not a variable"),
        (
            "ok: a => b\nr: a => b c d",
            (2, 11),
            "expected `name:`, found `c`",
        ),
        ("ok: a => b\nr: a => b c: d", (2, 14), "expected `=>`"),
    ];
    for (text, pos, msg) in cases {
        let e = rule_err::<SymbolLang>(text);
        assert_eq!(
            (at(&e), e.message.contains(msg)),
            (*pos, true),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn term_and_pattern_errors() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        ("", (1, 1), "empty input"),
        ("  ; only a comment", (1, 1), "empty input"),
        ("a b", (1, 3), "found more"),
        ("(f a)\n (g b)", (2, 2), "found more"),
        ("()", (1, 1), "empty list"),
        ("(f ?x)", (1, 4), "pattern variable `?x` in a term"),
        ("((f) a)", (1, 2), "operator must be a word"),
    ];
    for (text, pos, msg) in cases {
        let e = text.parse::<RecExpr<SymbolLang>>().unwrap_err();
        assert_eq!(
            (at(&e), e.message.contains(msg)),
            (*pos, true),
            "{text:?}: {e}"
        );
    }
    assert!("(f ?x)".parse::<Pattern<SymbolLang>>().is_ok());
    assert!("?x".parse::<Pattern<SymbolLang>>().is_ok());
    assert_eq!(
        at(&"(f\n ?x a) b".parse::<Pattern<SymbolLang>>().unwrap_err()),
        (2, 8)
    );
}

#[test]
fn comments_and_layout() {
    let text = "; header comment\n\
                r1: (+ ?a\n      0) ; a pattern spanning lines\n    => ?a\n\
                ; (an unclosed paren in a comment\n\
                r2:(g (g ?x)) => ?x\n";
    let set = sym_rules(text).unwrap();
    assert_eq!(names(&set), ["r1", "r2"]);
    assert_eq!(format!("{:?}", set.rules[0]), "r1: (+ ?a 0) => ?a");
    // `(g ?x) =>?x`: `=>?x` is one atom, not an arrow.
    assert!(
        sym_rules("r: (g ?x)=> ?x").is_ok(),
        "`)` ends a list and an atom"
    );
    let e = rule_err::<SymbolLang>("r: (g ?x) =>?x");
    assert_eq!(at(&e), (1, 11), "{e}");
}

// ---------------------------------------------------------------------
// define_language! round trips.

#[test]
fn language_parse_order_and_display() {
    let e: RecExpr<Lang> = "(list 5 x pi nil (list) list (neg -3) (+ 1 2))"
        .parse()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "(list 5 x pi nil list list (neg -3) (+ 1 2))"
    );
    let nodes = e.as_ref();
    assert!(
        matches!(nodes[0], Lang::Num(5)),
        "numbers parse as Num before Var"
    );
    assert!(matches!(nodes[1], Lang::Var(_)));
    assert!(matches!(nodes[2], Lang::Pi));
    assert!(matches!(nodes[3], Lang::Nil));
    assert!(matches!(&nodes[4], Lang::List(v) if v.is_empty()));
    assert!(matches!(&nodes[5], Lang::List(v) if v.is_empty()));
    assert!(matches!(&e[e.root()], Lang::List(v) if v.len() == 8));
    // A symbol may be spelled like an operator of another arity.
    let e: RecExpr<Lang> = "(+ neg +)".parse().unwrap();
    assert!(e.as_ref().iter().take(2).all(|n| matches!(n, Lang::Var(_))));
    assert_eq!(e.to_string(), "(+ neg +)");
}

fn lang_term() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|k| k.to_string()),
        prop::sample::select(vec!["x", "y", "foo", "bar_1", "Z9"]).prop_map(str::to_owned),
        Just("pi".to_owned()),
        Just("nil".to_owned()),
        Just("list".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(+ {a} {b})")),
            inner.clone().prop_map(|a| format!("(neg {a})")),
            prop::collection::vec(inner, 1..4).prop_map(|v| format!("(list {})", v.join(" "))),
        ]
    })
}

fn pattern_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["?a", "?b", "?long_name"]).prop_map(str::to_owned),
        (-5i64..5).prop_map(|k| k.to_string()),
        Just("pi".to_owned()),
        Just("x".to_owned()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(+ {a} {b})")),
            inner.clone().prop_map(|a| format!("(neg {a})")),
            prop::collection::vec(inner, 1..3).prop_map(|v| format!("(list {})", v.join(" "))),
        ]
    })
}

proptest! {
    #![proptest_config(cases(1000))]

    /// Parse then print gives the same text, and printing then parsing
    /// gives the same term.
    #[test]
    fn language_round_trips(text in lang_term()) {
        let e: RecExpr<Lang> = text.parse().unwrap();
        prop_assert_eq!(e.to_string(), text.clone());
        let again: RecExpr<Lang> = e.to_string().parse().unwrap();
        prop_assert!(again == e);
        // Extra whitespace and comments do not change the term.
        let spaced = format!("  ; lead\n{}\n ; trail", text.replace(' ', " \n\t "));
        let e2: RecExpr<Lang> = spaced.parse().unwrap();
        prop_assert!(e2 == e);
        // SymbolLang prints the same text.
        let s: RecExpr<SymbolLang> = text.parse().unwrap();
        prop_assert_eq!(s.to_string(), text);
    }

    #[test]
    fn pattern_round_trips(text in pattern_text()) {
        let p: Pattern<Lang> = text.parse().unwrap();
        prop_assert_eq!(p.to_string(), text.clone());
        let q: Pattern<SymbolLang> = text.parse().unwrap();
        prop_assert_eq!(q.to_string(), text.clone());
        // As a rule, `p => p` parses and prints as such.
        let set = parse_rules::<Lang, ()>(&format!("id: {text} => {text}"), &Predicates::default()).unwrap();
        prop_assert_eq!(format!("{:?}", set.rules[0]), format!("id: {text} => {text}"));
    }
}

// ---------------------------------------------------------------------
// Never panic.

const CHARS: &[char] = &[
    '(', ')', '?', ':', '=', '>', '<', '[', ']', ' ', '\n', ';', 'a', 'b', 'c', '+', '-', '*', '0',
    '1', '2', '3',
];

fn noise() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(CHARS.to_vec()), 0..60)
        .prop_map(|v| v.into_iter().collect())
}

/// Token soup: more likely than character noise to reach deep paths.
fn tokens() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "r:",
        "s:",
        "r-rev:",
        "(",
        ")",
        "?a",
        "?b",
        "?",
        "=>",
        "<=>",
        "if",
        "(= ?a ?b)",
        "(!= ?a ?b)",
        "(is-zero ?a)",
        "(not-is-zero ?b)",
        "[p]",
        "[q]",
        "[]",
        "+",
        "neg",
        "list",
        "pi",
        "nil",
        "1",
        "-2",
        "x",
        "\n",
        ";",
        "(+ ?a ?b)",
        "(neg ?a)",
        "(list)",
        "()",
    ]);
    prop::collection::vec(tok, 0..24).prop_map(|v| v.join(" "))
}

/// Patterns over the variables `?a` and `?b` only.
fn ab_pattern() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec!["?a", "?b", "1", "x", "pi"]).prop_map(str::to_owned);
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(+ {a} {b})")),
            inner.prop_map(|a| format!("(neg {a})")),
        ]
    })
}

/// Mostly well-formed rule files (pass headers, rules with conditions,
/// `<=>`), some with one character deleted: most parse, so the runner gets
/// to run what they produce.
fn rule_file() -> impl Strategy<Value = String> {
    let arrow = prop::sample::select(vec!["=>", "<=>"]);
    let cond = prop::sample::select(vec![
        "",
        "",
        " if (= ?a ?b)",
        " if (!= ?a ?b)",
        " if (is-zero ?a)",
        " if (not-is-zero ?a) if (= ?a ?a)",
    ]);
    let rule =
        (ab_pattern(), arrow, ab_pattern(), cond, any::<bool>()).prop_map(|(l, a, r, c, wrap)| {
            if wrap {
                // Both sides bind both variables, so `<=>` and conditions work.
                format!("(list {l} ?a ?b) {a} (list ?b ?a {r}){c}")
            } else {
                format!("{l} {a} {r}{c}")
            }
        });
    let line = prop_oneof![
        1 => prop::sample::select(vec!["[p]", "[q]", "; comment"]).prop_map(str::to_owned),
        6 => rule,
    ];
    (
        prop::collection::vec(line, 0..6),
        any::<Option<prop::sample::Index>>(),
    )
        .prop_map(|(lines, cut)| {
            let mut text = String::new();
            for (i, l) in lines.iter().enumerate() {
                if l.starts_with('[') || l.starts_with(';') {
                    text += &format!("{l}\n");
                } else {
                    text += &format!("r{i}: {l}\n");
                }
            }
            if let Some(cut) = cut {
                if !text.is_empty() && cut.index(4) == 0 {
                    let k = cut.index(text.chars().count());
                    text = text
                        .chars()
                        .enumerate()
                        .filter(|&(i, _)| i != k)
                        .map(|(_, c)| c)
                        .collect();
                }
            }
            text
        })
}

fn never_panics(text: &str) -> Result<(), TestCaseError> {
    let preds: Predicates<SymbolLang, ()> = Predicates::default().with("is-zero", 1, |_, _| true);
    let lpreds: Predicates<Lang, ()> = Predicates::default().with("is-zero", 1, |_, _| false);
    let _ = text.parse::<RecExpr<SymbolLang>>();
    let _ = text.parse::<RecExpr<Lang>>();
    let _ = text.parse::<RecExpr<Strict>>();
    let _ = text.parse::<Pattern<SymbolLang>>();
    let _ = text.parse::<Pattern<Lang>>();
    let _ = saturn::sexp::parse_all(text);
    if let Ok(set) = parse_rules::<SymbolLang, ()>(text, &preds) {
        // Whatever parses also runs.
        prop_assert!(set.passes.iter().map(|p| p.rules.len()).sum::<usize>() == set.rules.len());
        let r = Runner::default()
            .with_expr(&"(+ (neg x) (list a b c))".parse().unwrap())
            .with_expr(&"(+ x 1)".parse().unwrap())
            .with_iter_limit(3)
            .with_node_limit(500)
            .run(&set.rules);
        prop_assert_eq!(r.egraph.check_invariants(), Ok(()));
    }
    if let Ok(set) = parse_rules::<Lang, ()>(text, &lpreds) {
        let r = Runner::default()
            .with_expr(&"(+ (neg x) (list 1 pi nil))".parse().unwrap())
            .with_iter_limit(3)
            .with_node_limit(500)
            .run(&set.rules);
        prop_assert_eq!(r.egraph.check_invariants(), Ok(()));
    }
    let _ = parse_rules::<Strict, ()>(text, &Predicates::default());
    Ok(())
}

proptest! {
    #![proptest_config(cases(5000))]

    #[test]
    fn parsers_never_panic_on_noise(text in noise()) {
        never_panics(&text)?;
    }

    #[test]
    fn parsers_never_panic_on_token_soup(text in tokens()) {
        never_panics(&text)?;
    }

    #[test]
    fn parsers_never_panic_on_rule_files(text in rule_file()) {
        never_panics(&text)?;
    }

    #[test]
    fn parsers_never_panic_on_any_unicode(text in "\\PC{0,40}") {
        never_panics(&text)?;
    }
}

/// Error positions count characters, not bytes.
#[test]
fn columns_count_characters() {
    let e = rule_err::<SymbolLang>("é→: (f ?x) => ?y");
    assert_eq!(at(&e), (1, 15), "{e}");
    let e = "(ƒ x) )".parse::<RecExpr<SymbolLang>>().unwrap_err();
    assert_eq!(at(&e), (1, 7));
}

/// A pattern `n` levels deep: `(f (f ... (f ?x)))` with `n` `f`s, so its
/// deepest node is at depth `n - 1`.
fn nested(n: usize, leaf: &str) -> String {
    "(f ".repeat(n) + leaf + &")".repeat(n)
}

/// Patterns past the depth or width the matcher supports are rule-file
/// errors at the node that passes the limit (they used to overflow a
/// pool thread's stack, or wrap the matcher's 16-bit registers and panic);
/// patterns at the limits parse and match, on two threads too.
#[test]
fn patterns_past_the_matcher_s_limits_are_located_errors() {
    // Depth: nodes at depths 0..=MAX_PATTERN_DEPTH are accepted.
    let ok = nested(MAX_PATTERN_DEPTH + 1, "?x");
    let set = sym_rules(&format!("peel: {ok} => ?x\n")).unwrap();
    let too_deep = nested(MAX_PATTERN_DEPTH + 2, "?x");
    let e = rule_err::<SymbolLang>(&format!("\n  peel: {too_deep} => ?x\n"));
    assert!(e.to_string().contains("deeper than"), "{e}");
    // The innermost `(f`, at depth MAX_PATTERN_DEPTH + 1: line 2, after
    // "  peel: " and that many "(f ".
    assert_eq!(at(&e), (2, 9 + 3 * (MAX_PATTERN_DEPTH as u32 + 1)));
    // The pattern at the limit matches a term as deep, on two threads
    // (pool threads have rayon's default stack).
    let term: RecExpr<SymbolLang> = nested(MAX_PATTERN_DEPTH + 1, "x").parse().unwrap();
    let runner = Runner::default()
        .with_threads(2)
        .with_expr(&term)
        .with_iter_limit(1)
        .run(&set.rules);
    let x = runner.egraph.lookup_expr(&"x".parse().unwrap()).unwrap();
    assert_eq!(runner.egraph.find(runner.roots[0]), runner.egraph.find(x));

    // Width: child positions summed over the nodes.
    let vars = |n: usize| {
        (0..n)
            .map(|i| format!("?v{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    sym_rules(&format!(
        "wide: (g {}) => ?v0\n",
        vars(MAX_PATTERN_CHILDREN)
    ))
    .unwrap();
    let e = rule_err::<SymbolLang>(&format!(
        "wide: (g {}) => ?v0\n",
        vars(MAX_PATTERN_CHILDREN + 1)
    ));
    assert!(e.to_string().contains("child positions"), "{e}");
    assert_eq!(at(&e), (1, 7));
    // Split over two nodes, the count is the sum.
    let half = MAX_PATTERN_CHILDREN / 2 + 1;
    let e = rule_err::<SymbolLang>(&format!(
        "w2: (h (g {}) (g {})) => ?v0\n",
        vars(half),
        vars(half)
    ));
    assert!(e.to_string().contains("child positions"), "{e}");
}

#[test]
fn control_characters_are_located_errors_outside_comments() {
    // In a term, a rule name, a pattern, a condition: the character's own
    // line and column.
    let e = "(+ 1\n  \u{0} 2)"
        .parse::<RecExpr<SymbolLang>>()
        .unwrap_err();
    assert_eq!(at(&e), (2, 3));
    assert!(e.to_string().contains("control character U+0000"), "{e}");
    let e = rule_err::<SymbolLang>("co\u{0}mm: (+ ?a ?b) => (+ ?b ?a)");
    assert_eq!(at(&e), (1, 3));
    let e = rule_err::<SymbolLang>("a: (f ?x) =>\n (g \u{1b}[31m ?x)");
    assert_eq!(at(&e), (2, 5));
    assert!(e.to_string().contains("U+001B"), "{e}");
    let e = rule_err::<SymbolLang>("a: (f ?x ?y) => (g ?x) if (= ?x\u{7f} ?y)");
    assert_eq!(at(&e), (1, 32));
    // Tabs, carriage returns and form feeds are whitespace; anything goes
    // in a comment.
    let set = sym_rules("a:\t(f ?x)\r\n=> ?x\u{c} ; \u{0}\u{1b}\n").unwrap();
    assert_eq!(names(&set), ["a"]);
}
