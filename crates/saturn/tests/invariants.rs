//! E-graph invariants against a naive reference congruence closure.
//!
//! Random terms over `f/2 g/1 +/2` and leaves `a b c 0 1` are added to an
//! `EGraph<SymbolLang, ()>`, random unions (interleaved with more adds and
//! rebuilds) are performed, and after the final rebuild the e-graph must be
//! *exactly* the congruence closure of the unions: every equality the
//! reference derives holds, and nothing more is merged. Then random sets of
//! terminating (or e-graph-saturating) rules are run and checked for
//! invariants, saturation, monotonicity and soundness in a model.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};

use common::{cases, lookup_instantiation, term, tree_size, NaiveCC, Term};
use proptest::prelude::*;
use saturn::*;

#[derive(Clone, Debug)]
enum Op {
    Add(Term),
    /// Union of two previously added terms (indices taken modulo the
    /// number of terms added so far).
    Union(usize, usize),
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => term(3, 12).prop_map(Op::Add),
        5 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Union(a, b)),
        1 => Just(Op::Rebuild),
    ]
}

/// Everything that must hold after a rebuild, given the terms that were
/// added and the reference closure over their subterms.
fn check_against_reference(
    eg: &mut EGraph<SymbolLang, ()>,
    cc: &NaiveCC,
) -> Result<(), TestCaseError> {
    prop_assert!(eg.is_clean());
    prop_assert_eq!(eg.check_invariants(), Ok(()));

    // Every subterm is present; its class agrees with the reference, both
    // ways (no missing congruence, no spurious merge).
    let ids: Vec<Id> = cc
        .terms
        .iter()
        .map(|t| {
            eg.lookup_expr(&t.expr())
                .unwrap_or_else(|| panic!("subterm {t} not found after rebuild"))
        })
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        prop_assert_eq!(eg.find(id), id, "lookup_expr returns canonical ids");
        for j in 0..i {
            prop_assert_eq!(
                ids[i] == ids[j],
                cc.same(i, j),
                "{} vs {}: e-graph says {}, reference says {}",
                cc.terms[i],
                cc.terms[j],
                ids[i] == ids[j],
                cc.same(i, j)
            );
        }
    }

    // find is idempotent and the root of each set is its least id.
    let n = eg.number_of_ids();
    for i in 0..n {
        let id = Id::from(i);
        let r = eg.find(id);
        prop_assert_eq!(eg.find(r), r);
        prop_assert!(r <= id, "root {} of {} is not the least id", r, id);
        prop_assert!(eg.class(r).is_some(), "root {} has no class", r);
        prop_assert_eq!(eg[id].id, r);
    }

    // Class counts: distinct finds, stored classes, reference classes.
    let roots: BTreeSet<Id> = (0..n).map(|i| eg.find(Id::from(i))).collect();
    prop_assert_eq!(roots.len(), eg.number_of_classes());
    prop_assert_eq!(eg.classes().count(), eg.number_of_classes());
    prop_assert_eq!(cc.number_of_classes(), eg.number_of_classes());
    let listed: Vec<Id> = eg.classes().map(|c| c.id).collect();
    prop_assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "classes() in id order"
    );
    prop_assert_eq!(listed, roots.iter().copied().collect::<Vec<_>>());

    // Every node ever added, canonicalized, sits in its id's class and
    // the hashcons maps it there; the class node lists hold nothing else.
    let mut canon: HashSet<SymbolLang> = HashSet::new();
    for i in 0..n {
        let id = Id::from(i);
        let node = eg.id_to_node(id).clone().map_children(|c| eg.find(c));
        let class = eg.find(id);
        prop_assert!(
            eg[class].nodes.contains(&node),
            "node {:?} of id {} missing from class {}",
            node,
            id,
            class
        );
        prop_assert_eq!(eg.lookup(node.clone()), Some(class));
        canon.insert(node);
    }
    prop_assert_eq!(canon.len(), eg.total_number_of_nodes());

    // Parent lists cover every use of a class.
    for i in 0..n {
        let id = Id::from(i);
        for &c in eg.id_to_node(id).children() {
            let parents = eg[c].parents();
            prop_assert!(
                parents.iter().any(|&p| eg.find(p) == eg.find(id)),
                "class {} does not list a parent in class {}",
                eg.find(c),
                eg.find(id)
            );
        }
    }

    // The operator index lists exactly the classes with such a node.
    let mut want: HashMap<(Symbol, usize), Vec<Id>> = HashMap::new();
    for class in eg.classes() {
        for node in &class.nodes {
            let v = want.entry(node.discriminant()).or_default();
            if v.last() != Some(&class.id) {
                v.push(class.id);
            }
        }
    }
    for (d, classes) in &want {
        prop_assert_eq!(
            eg.classes_with_op(d),
            &classes[..],
            "classes_with_op({:?})",
            d
        );
    }
    prop_assert!(eg.classes_with_op(&(Symbol::from("nope"), 7)).is_empty());

    // Extraction: the best term of every class is in that class and its
    // cost is its tree size.
    let ex = Extractor::new(&*eg, AstSize);
    for class in eg.classes() {
        let (cost, best) = ex.find_best(class.id);
        prop_assert_eq!(eg.lookup_expr(&best), Some(class.id), "extracted {}", best);
        prop_assert_eq!(cost, tree_size(&best));
    }

    // A second rebuild finds nothing and changes nothing.
    let before = eg.dump().to_string();
    prop_assert_eq!(eg.rebuild(), 0);
    prop_assert_eq!(eg.dump().to_string(), before);
    Ok(())
}

proptest! {
    #![proptest_config(cases(1500))]

    /// Adds only: hashconsing gives one id per distinct subterm and no
    /// merges at all.
    #[test]
    fn adds_are_hashconsed(terms in prop::collection::vec(term(4, 24), 1..8)) {
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let mut cc = NaiveCC::default();
        for t in &terms {
            let id = eg.add_expr(&t.expr());
            let again = eg.add_expr(&t.expr());
            prop_assert_eq!(id, again, "adding a present term returns its class");
            cc.add(t);
        }
        prop_assert_eq!(eg.number_of_ids(), cc.terms.len());
        prop_assert_eq!(eg.number_of_classes(), cc.terms.len());
        prop_assert_eq!(eg.total_size(), cc.terms.len());
        prop_assert_eq!(eg.rebuild(), 0);
        check_against_reference(&mut eg, &cc)?;
    }

    /// Random adds, unions and rebuilds: the e-graph is exactly the
    /// congruence closure of the unions over the added subterms.
    #[test]
    fn unions_give_exactly_the_congruence_closure(
        first in term(3, 12),
        ops in prop::collection::vec(op(), 0..32),
    ) {
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let mut cc = NaiveCC::default();
        // Every subterm added so far, with the class `add` returned for it.
        let mut added: Vec<(Term, Id)> = vec![];
        add_all(&mut eg, &mut cc, &mut added, &first);
        for op in ops {
            match op {
                Op::Add(t) => add_all(&mut eg, &mut cc, &mut added, &t),
                Op::Union(a, b) => {
                    let (ta, ia) = added[a % added.len()].clone();
                    let (tb, ib) = added[b % added.len()].clone();
                    let (ra, rb) = (eg.find(ia), eg.find(ib));
                    let was_same = ra == rb;
                    let classes = eg.number_of_classes();
                    let did = eg.union(ia, ib);
                    prop_assert_eq!(did, !was_same, "union reports whether it merged");
                    prop_assert_eq!(eg.number_of_classes(), classes - did as usize);
                    prop_assert_eq!(eg.find(ia), eg.find(ib));
                    prop_assert_eq!(eg.find(ia), ra.min(rb), "the least root wins");
                    if did {
                        prop_assert!(!eg.is_clean());
                        prop_assert_eq!(eg.check_invariants(), Err("not rebuilt".to_string()));
                    }
                    cc.union(cc.index_of(&ta), cc.index_of(&tb));
                }
                Op::Rebuild => {
                    let classes = eg.number_of_classes();
                    let n = eg.rebuild();
                    prop_assert_eq!(eg.number_of_classes(), classes - n, "rebuild counts its unions");
                    prop_assert_eq!(eg.check_invariants(), Ok(()));
                }
            }
        }
        let classes = eg.number_of_classes();
        let n = eg.rebuild();
        prop_assert_eq!(eg.number_of_classes(), classes - n);
        cc.close();
        check_against_reference(&mut eg, &cc)?;
        // The classes returned at add time still denote the terms.
        for (t, id) in &added {
            prop_assert_eq!(eg.lookup_expr(&t.expr()), Some(eg.find(*id)));
        }
    }
}

/// Adds `t` node by node (recording every subterm's class), and checks
/// `add_expr` agrees.
fn add_all(
    eg: &mut EGraph<SymbolLang, ()>,
    cc: &mut NaiveCC,
    added: &mut Vec<(Term, Id)>,
    t: &Term,
) {
    fn go(eg: &mut EGraph<SymbolLang, ()>, added: &mut Vec<(Term, Id)>, t: &Term) -> Id {
        let kids: Vec<Id> = t.kids.iter().map(|k| go(eg, added, k)).collect();
        let id = eg.add(SymbolLang::new(t.op, kids));
        added.push((t.clone(), id));
        id
    }
    let id = go(eg, added, t);
    let again = eg.add_expr(&t.expr());
    assert_eq!(eg.find(again), eg.find(id));
    cc.add(t);
}

// ---------------------------------------------------------------------
// Rules through the runner.

/// Rules valid in the model below (`+` wrapping add, `g` negation, `f`
/// max), each of which saturates in an e-graph.
fn rule_list() -> Vec<Rewrite<SymbolLang, ()>> {
    vec![
        rewrite!("zero-add-r"; "(+ ?a 0)" => "?a"),
        rewrite!("zero-add-l"; "(+ 0 ?a)" => "?a"),
        rewrite!("gg"; "(g (g ?x))" => "?x"),
        rewrite!("f-idem"; "(f ?x ?x)" => "?x"),
        rewrite!("add-neg"; "(+ ?x (g ?x))" => "0"),
        rewrite!("g-zero"; "(g 0)" => "0"),
        rewrite!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
        rewrite!("comm-f"; "(f ?a ?b)" => "(f ?b ?a)"),
        rewrite!("f-absorb"; "(f ?x (f ?x ?y))" => "(f ?x ?y)"),
    ]
}

fn eval(t: &Term, env: &[i64; 3]) -> i64 {
    let k = |i: usize| eval(&t.kids[i], env);
    match t.op {
        "a" => env[0],
        "b" => env[1],
        "c" => env[2],
        "0" => 0,
        "1" => 1,
        "+" => k(0).wrapping_add(k(1)),
        "g" => k(0).wrapping_neg(),
        "f" => k(0).max(k(1)),
        op => panic!("unknown op {op}"),
    }
}

/// After a saturated run every rule holds: for each match of a rule's
/// left-hand side, its right-hand side is already present in the same
/// class (nothing more to do is what "saturated" means).
fn assert_rules_hold(
    eg: &EGraph<SymbolLang, ()>,
    rules: &[Rewrite<SymbolLang, ()>],
) -> Result<(), TestCaseError> {
    for rule in rules {
        let rhs = rule.applier.pattern().expect("pattern applier");
        for class in eg.classes() {
            for s in rule.searcher.search_eclass(eg, class.id) {
                prop_assert_eq!(
                    lookup_instantiation(eg, rhs, &s),
                    Some(class.id),
                    "rule {} not saturated at class {} with {:?}",
                    rule.name,
                    class.id,
                    s
                );
            }
        }
    }
    Ok(())
}

fn pick(mask: u16) -> Vec<Rewrite<SymbolLang, ()>> {
    rule_list()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, r)| r)
        .collect()
}

proptest! {
    #![proptest_config(cases(600))]

    /// Random rule subsets on random terms with random unions: the run
    /// saturates, invariants hold, every union made before the run is kept,
    /// and afterwards every rule holds everywhere.
    #[test]
    fn runner_keeps_invariants(
        terms in prop::collection::vec(term(3, 12), 1..6),
        unions in prop::collection::vec((any::<usize>(), any::<usize>()), 0..4),
        mask in any::<u16>(),
        threads in prop::sample::select(vec![1usize, 2]),
        simple in any::<bool>(),
    ) {
        let rules = pick(mask);
        let mut eg = EGraph::<SymbolLang, ()>::default();
        let ids: Vec<Id> = terms.iter().map(|t| eg.add_expr(&t.expr())).collect();
        for (a, b) in unions {
            eg.union(ids[a % ids.len()], ids[b % ids.len()]);
        }
        eg.rebuild();
        let mut subterms: Vec<Term> = terms.iter().flat_map(|t| t.subterms()).collect();
        subterms.sort();
        subterms.dedup();
        let before: Vec<Id> = subterms.iter().map(|t| eg.lookup_expr(&t.expr()).unwrap()).collect();
        let scheduler = if simple { Scheduler::Simple } else { Scheduler::default() };
        let runner = Runner::default()
            .with_egraph(eg)
            .with_threads(threads)
            .with_scheduler(scheduler)
            .with_iter_limit(100)
            .with_node_limit(1_000_000)
            .with_time_limit(std::time::Duration::from_secs(60))
            .run(&rules);
        prop_assert_eq!(&runner.stop_reason, &Some(StopReason::Saturated));
        prop_assert_eq!(runner.iterations.last().unwrap().stop_reason.clone(), Some(StopReason::Saturated));
        prop_assert!(runner.iterations.last().unwrap().applied.is_empty());
        let eg = &runner.egraph;
        prop_assert_eq!(eg.check_invariants(), Ok(()));
        for i in 0..before.len() {
            for j in 0..i {
                if before[i] == before[j] {
                    prop_assert_eq!(eg.find(before[i]), eg.find(before[j]),
                        "{} = {} was lost", &subterms[i], &subterms[j]);
                }
            }
        }
        assert_rules_hold(eg, &rules)?;
    }

    /// Without random unions every merge the rules make is sound: merged
    /// input subterms have equal values in the model under random
    /// valuations (the rules are valid there).
    #[test]
    fn runner_merges_are_sound(
        terms in prop::collection::vec(term(4, 16), 1..6),
        mask in any::<u16>(),
        envs in prop::collection::vec(prop::array::uniform3(-4i64..5), 4),
    ) {
        let rules = pick(mask);
        let mut r = Runner::default().with_iter_limit(100).with_scheduler(Scheduler::Simple);
        for t in &terms {
            r = r.with_expr(&t.expr());
        }
        let runner = r.run(&rules);
        prop_assert_eq!(&runner.stop_reason, &Some(StopReason::Saturated));
        let eg = &runner.egraph;
        prop_assert_eq!(eg.check_invariants(), Ok(()));
        let mut subterms: Vec<Term> = terms.iter().flat_map(|t| t.subterms()).collect();
        subterms.sort();
        subterms.dedup();
        let ids: Vec<Id> = subterms.iter().map(|t| eg.lookup_expr(&t.expr()).unwrap()).collect();
        for i in 0..ids.len() {
            for j in 0..i {
                if ids[i] == ids[j] {
                    for env in &envs {
                        prop_assert_eq!(eval(&subterms[i], env), eval(&subterms[j], env),
                            "{} merged with {} but they differ at {:?}", &subterms[i], &subterms[j], env);
                    }
                }
            }
        }
        // The extracted term of each root is equal to it in the model too.
        let ex = Extractor::new(eg, AstSize);
        for (t, &root) in terms.iter().zip(&runner.roots) {
            let (cost, best) = ex.find_best(root);
            prop_assert!(cost <= t.size());
            let best_t = parse_term(&best.to_string());
            for env in &envs {
                prop_assert_eq!(eval(&best_t, env), eval(t, env), "{} extracted as {}", t, best);
            }
        }
        assert_rules_hold(eg, &rules)?;
    }
}

/// Parses the printed form of a term back into a [`Term`] (ops are from
/// the fixed signature).
fn parse_term(s: &str) -> Term {
    let e: RecExpr<SymbolLang> = s.parse().unwrap();
    fn go(e: &RecExpr<SymbolLang>, i: Id) -> Term {
        let n = &e[i];
        let op: &'static str = match n.op.as_str() {
            "a" => "a",
            "b" => "b",
            "c" => "c",
            "0" => "0",
            "1" => "1",
            "+" => "+",
            "g" => "g",
            "f" => "f",
            o => panic!("unexpected op {o}"),
        };
        Term::node(op, n.children().iter().map(|&c| go(e, c)).collect())
    }
    go(&e, e.root())
}

// ---------------------------------------------------------------------
// Deterministic cases.

/// The classic: with a = b, (f a) = (f b) and (g (f a)) = (g (f b)), but
/// (f a) stays apart from a.
#[test]
fn congruence_propagates_upwards_only() {
    let mut eg = EGraph::<SymbolLang, ()>::default();
    let gfa = eg.add_expr(&"(g (f a c))".parse().unwrap());
    let gfb = eg.add_expr(&"(g (f b c))".parse().unwrap());
    let a = eg.lookup_expr(&"a".parse().unwrap()).unwrap();
    let b = eg.lookup_expr(&"b".parse().unwrap()).unwrap();
    let c = eg.lookup_expr(&"c".parse().unwrap()).unwrap();
    let n = eg.number_of_classes();
    assert!(eg.union(b, a));
    assert_eq!(eg.rebuild(), 2, "(f a c)=(f b c) and (g ..)=(g ..)");
    assert_eq!(eg.find(gfa), eg.find(gfb));
    assert_ne!(eg.find(gfa), eg.find(a));
    assert_ne!(eg.find(a), eg.find(c));
    assert_eq!(eg.number_of_classes(), n - 3);
    assert_eq!(eg.find(b), a.min(b), "least id is the root");
    assert_eq!(eg.check_invariants(), Ok(()));
}

/// Cycles: x = (g x) makes (g (g x)) = x after adding it.
#[test]
fn cyclic_classes() {
    let mut eg = EGraph::<SymbolLang, ()>::default();
    let x = eg.add_expr(&"x".parse().unwrap());
    let gx = eg.add_expr(&"(g x)".parse().unwrap());
    eg.union(x, gx);
    eg.rebuild();
    let ggx = eg.add_expr(&"(g (g x))".parse().unwrap());
    assert_eq!(
        eg.find(ggx),
        eg.find(x),
        "(g (g x)) hashconses to (g x) = x"
    );
    eg.rebuild();
    assert_eq!(eg.check_invariants(), Ok(()));
    assert_eq!(eg.number_of_classes(), 1);
    assert_eq!(eg.total_number_of_nodes(), 2);
    let ex = Extractor::new(&eg, AstSize);
    assert_eq!(ex.find_best(gx).1.to_string(), "x");
    // A class with only a self-loop has no finite term.
    let mut eg = EGraph::<SymbolLang, ()>::default();
    let y = eg.add_expr(&"y".parse().unwrap());
    let hy = eg.add(SymbolLang::new("h", vec![y]));
    let ky = eg.add(SymbolLang::new("k", vec![hy]));
    eg.union(y, ky);
    eg.rebuild();
    assert_eq!(eg.check_invariants(), Ok(()));
    assert_eq!(Extractor::new(&eg, AstSize).find_best_cost(hy), Some(2));
}

/// A long chain: unioning the leaves of two long g-chains merges every
/// level, in one rebuild.
#[test]
fn long_chain_congruence() {
    let mut eg = EGraph::<SymbolLang, ()>::default();
    let (mut x, mut y) = (eg.add(SymbolLang::leaf("x")), eg.add(SymbolLang::leaf("y")));
    let (x0, y0) = (x, y);
    for _ in 0..500 {
        x = eg.add(SymbolLang::new("g", vec![x]));
        y = eg.add(SymbolLang::new("g", vec![y]));
    }
    assert_eq!(eg.number_of_classes(), 1002);
    eg.union(x0, y0);
    assert_eq!(eg.rebuild(), 500);
    assert_eq!(eg.find(x), eg.find(y));
    assert_eq!(eg.number_of_classes(), 501);
    assert_eq!(eg.check_invariants(), Ok(()));
}

/// Saturating a small rule set proves the expected equalities.
#[test]
fn runner_proves_expected_equalities() {
    let rules = rule_list();
    let runner = Runner::default()
        .with_expr(&"(+ (g (g a)) 0)".parse().unwrap())
        .with_expr(&"a".parse().unwrap())
        .with_expr(&"(f (+ 0 b) (g (g b)))".parse().unwrap())
        .with_expr(&"b".parse().unwrap())
        .with_expr(&"(+ (g c) c)".parse().unwrap())
        .with_expr(&"0".parse().unwrap())
        .with_expr(&"(f a b)".parse().unwrap())
        .with_expr(&"(f b a)".parse().unwrap())
        .with_expr(&"(+ a 1)".parse().unwrap())
        .run(&rules);
    assert_eq!(runner.stop_reason, Some(StopReason::Saturated));
    let eg = &runner.egraph;
    let r = &runner.roots;
    assert_eq!(eg.find(r[0]), eg.find(r[1]));
    assert_eq!(eg.find(r[2]), eg.find(r[3]));
    assert_eq!(
        eg.find(r[4]),
        eg.find(r[5]),
        "(+ (g c) c) -> (+ c (g c)) -> 0"
    );
    assert_eq!(eg.find(r[6]), eg.find(r[7]));
    assert_ne!(eg.find(r[8]), eg.find(r[1]));
    assert_ne!(eg.find(r[1]), eg.find(r[3]));
    assert_eq!(eg.check_invariants(), Ok(()));
    let ex = Extractor::new(eg, AstSize);
    assert_eq!(ex.find_best(r[0]), (1, "a".parse().unwrap()));
    assert_eq!(ex.find_best(r[4]), (1, "0".parse().unwrap()));
}
