//! E-class analyses: constant folding whose `modify` adds the folded
//! constant and unions it in, and a least-size analysis checked against
//! the extractor. Data must propagate through unions during rebuild.

mod common;

use std::collections::HashMap;

use common::arith::{fold, Arith, Fold};
use common::{cases, term, tree_size, Term};
use proptest::prelude::*;
use saturn::*;

fn ex(s: &str) -> RecExpr<Arith> {
    s.parse().unwrap()
}

fn num(eg: &EGraph<Arith, Fold>, k: i64) -> Option<Id> {
    eg.lookup(Arith::Num(k))
}

/// The analysis is at a fixed point and `modify` did its job: every node's
/// folded value (from its children's current data) agrees with its
/// class's data, and a class with a constant contains that constant.
fn check_fold_fixpoint(eg: &EGraph<Arith, Fold>) -> Result<(), TestCaseError> {
    prop_assert_eq!(eg.check_invariants(), Ok(()));
    for class in eg.classes() {
        for n in &class.nodes {
            if let Some(k) = fold(n, |i| eg[i].data) {
                prop_assert_eq!(
                    class.data,
                    Some(k),
                    "class {} has node {:?} folding to {}",
                    class.id,
                    n,
                    k
                );
            }
        }
        if let Some(k) = class.data {
            prop_assert!(
                class.nodes.contains(&Arith::Num(k)),
                "class {} lacks its constant {}",
                class.id,
                k
            );
            prop_assert_eq!(num(eg, k), Some(class.id));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Deterministic cases.

#[test]
fn union_with_constant_propagates_to_parents() {
    let mut eg = EGraph::<Arith, Fold>::default();
    let e = eg.add_expr(&ex("(+ x 4)"));
    let x = eg.lookup(Arith::Var("x".into())).unwrap();
    eg.rebuild();
    assert_eq!(eg[e].data, None);
    assert_eq!(num(&eg, 7), None);
    let three = eg.add(Arith::Num(3));
    eg.union(x, three);
    eg.rebuild();
    check_fold_fixpoint(&eg).unwrap();
    assert_eq!(eg[x].data, Some(3));
    assert_eq!(eg[e].data, Some(7), "data propagated through the union");
    assert!(
        eg[e].nodes.contains(&Arith::Num(7)),
        "modify added the constant"
    );
    assert_eq!(num(&eg, 7), Some(eg.find(e)));
    // The folded constant is a real node: terms built on it share classes.
    let e2 = eg.add_expr(&ex("(* 7 2)"));
    let e3 = eg.add_expr(&ex("(* (+ x 4) 2)"));
    eg.rebuild();
    assert_eq!(eg.find(e2), eg.find(e3));
    assert_eq!(eg[e3].data, Some(14));
    check_fold_fixpoint(&eg).unwrap();
}

#[test]
fn propagation_is_transitive_and_deep() {
    let mut eg = EGraph::<Arith, Fold>::default();
    // 40 levels of (+ _ 1) over x, and a product of two chains.
    let mut t = "x".to_string();
    for _ in 0..40 {
        t = format!("(+ {t} 1)");
    }
    let top = eg.add_expr(&ex(&t));
    let prod = eg.add_expr(&ex(&format!("(* {t} (neg y))")));
    let x = eg.lookup(Arith::Var("x".into())).unwrap();
    let y = eg.lookup(Arith::Var("y".into())).unwrap();
    let z = eg.add(Arith::Var("z".into()));
    eg.rebuild();
    // y = z, z = 2, x = -40: the union with a constant reaches y via z.
    eg.union(y, z);
    let two = eg.add(Arith::Num(2));
    eg.union(z, two);
    let m40 = eg.add(Arith::Num(-40));
    eg.union(m40, x);
    eg.rebuild();
    check_fold_fixpoint(&eg).unwrap();
    assert_eq!(eg[top].data, Some(0));
    assert_eq!(eg[prod].data, Some(0));
    assert_eq!(eg.find(top), eg.find(prod), "both folded to 0");
    assert_eq!(eg[y].data, Some(2));
    // Every level of the chain is its own constant.
    for k in -40..=0 {
        let c = num(&eg, k).unwrap_or_else(|| panic!("{k} missing"));
        assert_eq!(eg[c].data, Some(k));
    }
}

#[test]
fn constants_fold_on_add_and_merge_with_existing() {
    let mut eg = EGraph::<Arith, Fold>::default();
    let seven = eg.add(Arith::Num(7));
    let a = eg.add_expr(&ex("(+ 2 5)"));
    let b = eg.add_expr(&ex("(* (neg 7) (neg 1))"));
    eg.rebuild();
    assert_eq!(eg.find(a), eg.find(seven));
    assert_eq!(eg.find(b), eg.find(seven));
    assert_eq!(eg.find(seven), seven, "the least id stays the root");
    check_fold_fixpoint(&eg).unwrap();
    // Overflow does not fold.
    let big = eg.add_expr(&ex(&format!("(* {} 2)", i64::MAX)));
    eg.rebuild();
    assert_eq!(eg[big].data, None);
    check_fold_fixpoint(&eg).unwrap();
}

#[test]
fn congruence_and_folding_together() {
    // (+ x 1) and (+ y 1) become congruent when x = y, and constant
    // once y = 2; then (* (+ x 1) z) folds when z = 3.
    let mut eg = EGraph::<Arith, Fold>::default();
    let a = eg.add_expr(&ex("(+ x 1)"));
    let b = eg.add_expr(&ex("(+ y 1)"));
    let c = eg.add_expr(&ex("(* (+ x 1) z)"));
    let [x, y, z] = ["x", "y", "z"].map(|v| eg.lookup(Arith::Var(v.into())).unwrap());
    eg.union(x, y);
    eg.rebuild();
    assert_eq!(eg.find(a), eg.find(b));
    assert_eq!(eg[a].data, None);
    let two = eg.add(Arith::Num(2));
    let three = eg.add(Arith::Num(3));
    eg.union(y, two);
    eg.union(three, z);
    eg.rebuild();
    check_fold_fixpoint(&eg).unwrap();
    assert_eq!(eg[a].data, Some(3));
    assert_eq!(eg.find(a), eg.find(three), "(+ x 1) = 3 = z");
    assert_eq!(eg.find(z), eg.find(a));
    assert_eq!(eg[c].data, Some(9));
}

/// Rewrites and folding together, at several thread counts.
#[test]
fn runner_with_folding() {
    let rules: Vec<Rewrite<Arith, Fold>> = vec![
        rewrite!("zero-mul"; "(* ?a 0)" => "0"),
        rewrite!("comm-mul"; "(* ?a ?b)" => "(* ?b ?a)"),
        rewrite!("one-mul"; "(* ?a 1)" => "?a"),
        rewrite!("neg-neg"; "(neg (neg ?a))" => "?a"),
    ];
    let mut dumps = vec![];
    for threads in [1, 2, 4] {
        let r = Runner::default()
            .with_expr(&ex("(+ (* x 0) 5)"))
            .with_expr(&ex("(* (neg (neg y)) (+ 2 (neg 1)))"))
            .with_expr(&ex("(+ (* 0 (neg z)) (* 3 4))"))
            .with_threads(threads)
            .run(&rules);
        assert_eq!(r.stop_reason, Some(StopReason::Saturated));
        let eg = &r.egraph;
        check_fold_fixpoint(eg).unwrap();
        assert_eq!(eg[r.roots[0]].data, Some(5));
        assert_eq!(eg[r.roots[2]].data, Some(12));
        let y = eg.lookup(Arith::Var("y".into())).unwrap();
        assert_eq!(eg.find(r.roots[1]), y);
        let extract = Extractor::new(eg, AstSize);
        assert_eq!(extract.find_best(r.roots[0]).1.to_string(), "5");
        assert_eq!(extract.find_best(r.roots[1]).1.to_string(), "y");
        assert_eq!(extract.find_best(r.roots[2]).1.to_string(), "12");
        dumps.push(eg.dump().to_string());
    }
    assert!(dumps.windows(2).all(|w| w[0] == w[1]));
    assert!(dumps[0].contains("data=Some(12)"));
}

// ---------------------------------------------------------------------
// Random terms with a random partial assignment of the variables.

fn arith_term() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["x", "y", "z", "w"]).prop_map(str::to_owned),
        (-3i64..4).prop_map(|k| k.to_string()),
    ];
    leaf.prop_recursive(4, 20, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(+ {a} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(* {a} {b})")),
            inner.prop_map(|a| format!("(neg {a})")),
        ]
    })
}

fn eval(e: &RecExpr<Arith>, i: Id, env: &HashMap<&str, i64>) -> Option<i64> {
    match &e[i] {
        Arith::Var(v) => env.get(v.as_str()).copied(),
        n => fold(n, |c| eval(e, c, env)),
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    /// Variables are unioned with constants (some before, some after more
    /// terms are added); after a rebuild every term's class data is exactly
    /// its value under the assignment, and the class contains that constant.
    #[test]
    fn folding_matches_evaluation(
        terms in prop::collection::vec(arith_term(), 1..6),
        late in prop::collection::vec(arith_term(), 0..3),
        assign in prop::collection::vec(prop::option::of(-3i64..4), 4),
        split in 0usize..5,
    ) {
        let vars = ["x", "y", "z", "w"];
        let env: HashMap<&str, i64> = vars.iter().zip(&assign).filter_map(|(v, k)| k.map(|k| (*v, k))).collect();
        let mut eg = EGraph::<Arith, Fold>::default();
        let exprs: Vec<RecExpr<Arith>> = terms.iter().chain(&late).map(|t| ex(t)).collect();
        let mut ids = vec![];
        for e in &exprs[..terms.len()] {
            ids.push(eg.add_expr(e));
        }
        let assign_var = |eg: &mut EGraph<Arith, Fold>, v: &str, k: i64| {
            let vid = eg.add(Arith::Var(v.into()));
            let kid = eg.add(Arith::Num(k));
            // Either argument order.
            if k % 2 == 0 { eg.union(vid, kid) } else { eg.union(kid, vid) };
        };
        for (i, v) in vars.iter().enumerate().take(split) {
            if let Some(k) = assign[i] {
                assign_var(&mut eg, v, k);
            }
        }
        eg.rebuild();
        for e in &exprs[terms.len()..] {
            ids.push(eg.add_expr(e));
        }
        for (i, v) in vars.iter().enumerate().skip(split) {
            if let Some(k) = assign[i] {
                assign_var(&mut eg, v, k);
            }
        }
        eg.rebuild();
        check_fold_fixpoint(&eg)?;
        for (e, &id) in exprs.iter().zip(&ids) {
            // Every subterm, not just the roots.
            for i in 0..e.len() {
                let i = Id::from(i);
                let sub = RecExpr::from_iter_prefix(e, i);
                let class = eg.lookup_expr(&sub).expect("subterm present");
                let want = eval(e, i, &env);
                prop_assert_eq!(eg[class].data, want, "{} under {:?}", sub, env);
                if let Some(k) = want {
                    prop_assert_eq!(num(&eg, k), Some(class));
                }
            }
            prop_assert_eq!(eg[id].data, eval(e, e.root(), &env));
        }
    }

    /// Folding through the runner with rewrites keeps the analysis at a
    /// fixed point, and never changes a folded value (merge asserts).
    #[test]
    fn runner_keeps_fold_fixpoint(terms in prop::collection::vec(arith_term(), 1..4)) {
        let rules: Vec<Rewrite<Arith, Fold>> = vec![
            rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
            rewrite!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
            rewrite!("zero-mul"; "(* ?a 0)" => "0"),
            rewrite!("one-mul"; "(* ?a 1)" => "?a"),
            rewrite!("distrib"; "(* ?a (+ ?b ?c))" => "(+ (* ?a ?b) (* ?a ?c))"),
            rewrite!("neg-neg"; "(neg (neg ?a))" => "?a"),
            rewrite!("add-neg"; "(+ ?a (neg ?a))" => "0"),
        ];
        let mut r = Runner::default().with_iter_limit(5).with_node_limit(3_000);
        for t in &terms {
            r = r.with_expr(&ex(t));
        }
        let r = r.run(&rules);
        check_fold_fixpoint(&r.egraph)?;
        // Closed terms fold to their value.
        for (t, &root) in terms.iter().zip(&r.roots) {
            let e = ex(t);
            if let Some(k) = eval(&e, e.root(), &HashMap::new()) {
                prop_assert_eq!(r.egraph[root].data, Some(k));
            }
        }
    }
}

/// Builds the subterm of `e` rooted at `i` as its own term.
trait Prefix {
    fn from_iter_prefix(e: &RecExpr<Arith>, i: Id) -> RecExpr<Arith>;
}

impl Prefix for RecExpr<Arith> {
    fn from_iter_prefix(e: &RecExpr<Arith>, i: Id) -> RecExpr<Arith> {
        fn go(e: &RecExpr<Arith>, i: Id, out: &mut RecExpr<Arith>) -> Id {
            let n = e[i].clone().map_children(|c| go(e, c, out));
            out.add(n)
        }
        let mut out = RecExpr::default();
        go(e, i, &mut out);
        out
    }
}

// ---------------------------------------------------------------------
// A least-size analysis must agree with the extractor.

#[derive(Default)]
struct MinSize;

impl Analysis<SymbolLang> for MinSize {
    type Data = usize;
    fn make(eg: &EGraph<SymbolLang, Self>, n: &SymbolLang) -> usize {
        n.fold(1usize, |s, c| s.saturating_add(eg[c].data))
    }
    fn merge(&self, to: &mut usize, from: usize) -> DidMerge {
        merge_min(to, from)
    }
}

proptest! {
    #![proptest_config(cases(600))]

    /// After unions (which create cycles and shortcuts), the least term
    /// size kept by the analysis equals the extractor's best cost in every
    /// class: data reached its fixed point through unions and rebuild.
    #[test]
    fn min_size_analysis_equals_extractor(
        terms in prop::collection::vec(term(4, 20), 1..6),
        unions in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..6),
        rebuild_between in any::<bool>(),
    ) {
        let mut eg = EGraph::<SymbolLang, MinSize>::default();
        let mut subs: Vec<(Term, Id)> = vec![];
        for t in &terms {
            for s in t.subterms() {
                let id = eg.add_expr(&s.expr());
                prop_assert_eq!(eg[id].data, s.size(), "fresh term {}", s);
                subs.push((s, id));
            }
        }
        for (a, b) in unions {
            let (a, b) = (subs[a.index(subs.len())].1, subs[b.index(subs.len())].1);
            eg.union(a, b);
            if rebuild_between {
                eg.rebuild();
            }
        }
        eg.rebuild();
        prop_assert_eq!(eg.check_invariants(), Ok(()));
        let extract = Extractor::new(&eg, AstSize);
        for class in eg.classes() {
            let (cost, best) = extract.find_best(class.id);
            prop_assert_eq!(class.data, cost, "class {}", class.id);
            prop_assert_eq!(tree_size(&best), cost);
        }
        for (s, id) in &subs {
            prop_assert!(eg[*id].data <= s.size());
        }
    }
}

#[test]
fn merge_helpers() {
    let mut a = 3;
    assert_eq!(merge_max(&mut a, 5), DidMerge(true, false));
    assert_eq!(a, 5);
    assert_eq!(merge_max(&mut a, 5), DidMerge(false, false));
    assert_eq!(merge_max(&mut a, 1), DidMerge(false, true));
    assert_eq!(a, 5);
    assert_eq!(merge_min(&mut a, 1), DidMerge(true, false));
    assert_eq!(a, 1);
    assert_eq!(merge_min(&mut a, 4), DidMerge(false, true));
    assert_eq!(merge_min(&mut a, 1), DidMerge(false, false));
    let mut o: Option<i32> = None;
    assert_eq!(
        merge_option(&mut o, None, |_, _| unreachable!()),
        DidMerge(false, false)
    );
    assert_eq!(
        merge_option(&mut o, Some(2), |_, _| unreachable!()),
        DidMerge(true, false)
    );
    assert_eq!(o, Some(2));
    assert_eq!(
        merge_option(&mut o, None, |_, _| unreachable!()),
        DidMerge(false, true)
    );
    assert_eq!(
        merge_option(&mut o, Some(9), merge_max),
        DidMerge(true, false)
    );
    assert_eq!(o, Some(9));
    assert_eq!(
        DidMerge(true, false) | DidMerge(false, true),
        DidMerge(true, true)
    );
}

/// `EGraph::add` documents "returns its class"; `lookup`, `lookup_expr`
/// and egg's `add` return the canonical id, but when `modify` unions the
/// new node into an older class, `add` returns the new, already merged id.
#[test]
fn add_returns_canonical_id_after_modify() {
    let mut eg = EGraph::<Arith, Fold>::default();
    let seven = eg.add(Arith::Num(7));
    let a = eg.add_expr(&ex("(+ 2 5)"));
    assert_eq!(eg.find(a), seven);
    assert_eq!(
        a,
        seven,
        "add_expr returned {a}, whose class is {}",
        eg.find(a)
    );
}
