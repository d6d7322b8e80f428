//! egg 0.11.0's `tests/lambda.rs` suite, for both engines: a lambda
//! calculus with `let`-based explicit substitution, a free-variable and
//! constant analysis, and a capture-avoiding applier written in Rust.
//! Rule for rule as egg's test file (egg is MIT/Apache-2.0).

#![allow(clippy::enum_variant_names)] // `Lambda::Lambda`, as in egg's test

/// The egg side.
pub mod egg_side {
    use egg::{rewrite as rw, *};
    use rustc_hash::FxHashSet as HashSet;

    define_language! {
        pub enum Lambda {
            Bool(bool),
            Num(i32),
            "var" = Var(Id),
            "+" = Add([Id; 2]),
            "=" = Eq([Id; 2]),
            "app" = App([Id; 2]),
            "lam" = Lambda([Id; 2]),
            "let" = Let([Id; 3]),
            "fix" = Fix([Id; 2]),
            "if" = If([Id; 3]),
            Symbol(egg::Symbol),
        }
    }

    impl Lambda {
        fn num(&self) -> Option<i32> {
            match self {
                Lambda::Num(n) => Some(*n),
                _ => None,
            }
        }
    }

    pub type EGraph = egg::EGraph<Lambda, LambdaAnalysis>;

    #[derive(Default)]
    pub struct LambdaAnalysis;

    #[derive(Debug)]
    pub struct Data {
        free: HashSet<Id>,
        constant: Option<(Lambda, PatternAst<Lambda>)>,
    }

    fn eval(egraph: &EGraph, enode: &Lambda) -> Option<(Lambda, PatternAst<Lambda>)> {
        let x = |i: &Id| egraph[*i].data.constant.as_ref().map(|c| &c.0);
        match enode {
            Lambda::Num(n) => Some((enode.clone(), format!("{n}").parse().unwrap())),
            Lambda::Bool(b) => Some((enode.clone(), format!("{b}").parse().unwrap())),
            Lambda::Add([a, b]) => Some((
                Lambda::Num(x(a)?.num()?.checked_add(x(b)?.num()?)?),
                format!("(+ {} {})", x(a)?, x(b)?).parse().unwrap(),
            )),
            Lambda::Eq([a, b]) => Some((
                Lambda::Bool(x(a)? == x(b)?),
                format!("(= {} {})", x(a)?, x(b)?).parse().unwrap(),
            )),
            _ => None,
        }
    }

    impl Analysis<Lambda> for LambdaAnalysis {
        type Data = Data;
        fn merge(&mut self, to: &mut Data, from: Data) -> DidMerge {
            let before_len = to.free.len();
            to.free.retain(|i| from.free.contains(i));
            DidMerge(
                before_len != to.free.len(),
                to.free.len() != from.free.len(),
            ) | merge_option(&mut to.constant, from.constant, |a, b| {
                debug_assert_eq!(a.0, b.0, "merged non-equal constants");
                DidMerge(false, false)
            })
        }

        fn make(egraph: &mut EGraph, enode: &Lambda, _id: Id) -> Data {
            let f = |i: &Id| egraph[*i].data.free.iter().cloned();
            let mut free = HashSet::default();
            match enode {
                Lambda::Var(v) => {
                    free.insert(*v);
                }
                Lambda::Let([v, a, b]) => {
                    free.extend(f(b));
                    free.remove(v);
                    free.extend(f(a));
                }
                Lambda::Lambda([v, a]) | Lambda::Fix([v, a]) => {
                    free.extend(f(a));
                    free.remove(v);
                }
                _ => enode.for_each(|c| free.extend(&egraph[c].data.free)),
            }
            let constant = eval(egraph, enode);
            Data { constant, free }
        }

        fn modify(egraph: &mut EGraph, id: Id) {
            if let Some(c) = egraph[id].data.constant.clone() {
                let const_id = egraph.add(c.0);
                egraph.union(id, const_id);
            }
        }
    }

    fn var(s: &str) -> Var {
        s.parse().unwrap()
    }

    fn is_not_same_var(v1: Var, v2: Var) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        move |egraph, _, subst| egraph.find(subst[v1]) != egraph.find(subst[v2])
    }

    fn is_const(v: Var) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        move |egraph, _, subst| egraph[subst[v]].data.constant.is_some()
    }

    struct CaptureAvoid {
        fresh: Var,
        v2: Var,
        e: Var,
        if_not_free: Pattern<Lambda>,
        if_free: Pattern<Lambda>,
    }

    impl Applier<Lambda, LambdaAnalysis> for CaptureAvoid {
        fn apply_one(
            &self,
            egraph: &mut EGraph,
            eclass: Id,
            subst: &Subst,
            searcher_ast: Option<&PatternAst<Lambda>>,
            rule_name: Symbol,
        ) -> Vec<Id> {
            let e = subst[self.e];
            let v2 = subst[self.v2];
            let v2_free_in_e = egraph[e].data.free.contains(&v2);
            if v2_free_in_e {
                let mut subst = subst.clone();
                let sym = Lambda::Symbol(format!("_{eclass}").into());
                subst.insert(self.fresh, egraph.add(sym));
                self.if_free
                    .apply_one(egraph, eclass, &subst, searcher_ast, rule_name)
            } else {
                self.if_not_free
                    .apply_one(egraph, eclass, subst, searcher_ast, rule_name)
            }
        }
    }

    pub fn rules() -> Vec<Rewrite<Lambda, LambdaAnalysis>> {
        vec![
            rw!("if-true";  "(if  true ?then ?else)" => "?then"),
            rw!("if-false"; "(if false ?then ?else)" => "?else"),
            rw!("if-elim"; "(if (= (var ?x) ?e) ?then ?else)" => "?else"
                if ConditionEqual::parse("(let ?x ?e ?then)", "(let ?x ?e ?else)")),
            rw!("add-comm";  "(+ ?a ?b)"        => "(+ ?b ?a)"),
            rw!("add-assoc"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))"),
            rw!("eq-comm";   "(= ?a ?b)"        => "(= ?b ?a)"),
            rw!("fix";      "(fix ?v ?e)"             => "(let ?v (fix ?v ?e) ?e)"),
            rw!("beta";     "(app (lam ?v ?body) ?e)" => "(let ?v ?e ?body)"),
            rw!("let-app";  "(let ?v ?e (app ?a ?b))" => "(app (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-add";  "(let ?v ?e (+   ?a ?b))" => "(+   (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-eq";   "(let ?v ?e (=   ?a ?b))" => "(=   (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-const"; "(let ?v ?e ?c)" => "?c" if is_const(var("?c"))),
            rw!("let-if";
                "(let ?v ?e (if ?cond ?then ?else))" =>
                "(if (let ?v ?e ?cond) (let ?v ?e ?then) (let ?v ?e ?else))"),
            rw!("let-var-same"; "(let ?v1 ?e (var ?v1))" => "?e"),
            rw!("let-var-diff"; "(let ?v1 ?e (var ?v2))" => "(var ?v2)"
                if is_not_same_var(var("?v1"), var("?v2"))),
            rw!("let-lam-same"; "(let ?v1 ?e (lam ?v1 ?body))" => "(lam ?v1 ?body)"),
            rw!("let-lam-diff";
                "(let ?v1 ?e (lam ?v2 ?body))" =>
                { CaptureAvoid {
                    fresh: var("?fresh"), v2: var("?v2"), e: var("?e"),
                    if_not_free: "(lam ?v2 (let ?v1 ?e ?body))".parse().unwrap(),
                    if_free: "(lam ?fresh (let ?v1 ?e (let ?v2 (var ?fresh) ?body)))".parse().unwrap(),
                }}
                if is_not_same_var(var("?v1"), var("?v2"))),
        ]
    }
}

/// The Saturn side.
pub mod saturn_side {
    use rustc_hash::FxHashSet as HashSet;
    use saturn::{rewrite as rw, *};

    define_language! {
        pub enum Lambda {
            Bool(bool),
            Num(i32),
            "var" = Var(Id),
            "+" = Add([Id; 2]),
            "=" = Eq([Id; 2]),
            "app" = App([Id; 2]),
            "lam" = Lambda([Id; 2]),
            "let" = Let([Id; 3]),
            "fix" = Fix([Id; 2]),
            "if" = If([Id; 3]),
            Symbol(saturn::Symbol),
        }
    }

    impl Lambda {
        fn num(&self) -> Option<i32> {
            match self {
                Lambda::Num(n) => Some(*n),
                _ => None,
            }
        }
    }

    pub type EGraph = saturn::EGraph<Lambda, LambdaAnalysis>;

    #[derive(Default)]
    pub struct LambdaAnalysis;

    #[derive(Debug, Clone)]
    pub struct Data {
        free: HashSet<Id>,
        constant: Option<Lambda>,
    }

    fn eval(egraph: &EGraph, enode: &Lambda) -> Option<Lambda> {
        let x = |i: &Id| egraph[*i].data.constant.as_ref();
        match enode {
            Lambda::Num(_) | Lambda::Bool(_) => Some(enode.clone()),
            Lambda::Add([a, b]) => Some(Lambda::Num(x(a)?.num()?.checked_add(x(b)?.num()?)?)),
            Lambda::Eq([a, b]) => Some(Lambda::Bool(x(a)? == x(b)?)),
            _ => None,
        }
    }

    impl Analysis<Lambda> for LambdaAnalysis {
        type Data = Data;
        fn merge(&self, to: &mut Data, from: Data) -> DidMerge {
            let before_len = to.free.len();
            to.free.retain(|i| from.free.contains(i));
            DidMerge(
                before_len != to.free.len(),
                to.free.len() != from.free.len(),
            ) | merge_option(&mut to.constant, from.constant, |a, b| {
                debug_assert_eq!(*a, b, "merged non-equal constants");
                DidMerge(false, false)
            })
        }

        fn make(egraph: &EGraph, enode: &Lambda) -> Data {
            let f = |i: &Id| egraph[*i].data.free.iter().cloned();
            let mut free = HashSet::default();
            match enode {
                Lambda::Var(v) => {
                    free.insert(*v);
                }
                Lambda::Let([v, a, b]) => {
                    free.extend(f(b));
                    free.remove(v);
                    free.extend(f(a));
                }
                Lambda::Lambda([v, a]) | Lambda::Fix([v, a]) => {
                    free.extend(f(a));
                    free.remove(v);
                }
                _ => enode.for_each(|c| free.extend(&egraph[c].data.free)),
            }
            let constant = eval(egraph, enode);
            Data { constant, free }
        }

        fn modify(egraph: &mut EGraph, id: Id) {
            if let Some(c) = egraph[id].data.constant.clone() {
                let const_id = egraph.add(c);
                egraph.union(id, const_id);
            }
        }
    }

    fn var(s: &str) -> Var {
        s.parse().unwrap()
    }

    fn is_not_same_var(v1: Var, v2: Var) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        move |egraph, _, subst| egraph.find(subst[v1]) != egraph.find(subst[v2])
    }

    fn is_const(v: Var) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        move |egraph, _, subst| egraph[subst[v]].data.constant.is_some()
    }

    struct CaptureAvoid {
        fresh: Var,
        v1: Var,
        v2: Var,
        e: Var,
        body: Var,
        if_not_free: Pattern<Lambda>,
        if_free: Pattern<Lambda>,
    }

    impl Applier<Lambda, LambdaAnalysis> for CaptureAvoid {
        fn apply(&self, egraph: &EGraph, eclass: Id, subst: &Subst, out: &mut Actions<Lambda>) {
            let e = subst[self.e];
            let v2 = subst[self.v2];
            let v2_free_in_e = egraph[e].data.free.contains(&v2);
            let r = if v2_free_in_e {
                let sym = Lambda::Symbol(format!("_{eclass}").into());
                let fresh = out.add(egraph, sym);
                out.instantiate(egraph, &self.if_free, subst, &[(self.fresh, fresh)])
            } else {
                out.instantiate(egraph, &self.if_not_free, subst, &[])
            };
            out.union(Ref::class(eclass), r);
        }

        fn vars(&self) -> Vec<Var> {
            vec![self.v1, self.v2, self.e, self.body]
        }
    }

    pub fn rules() -> Vec<saturn::Rewrite<Lambda, LambdaAnalysis>> {
        let cond_eq = ConditionEqual(
            "(let ?x ?e ?then)".parse().unwrap(),
            "(let ?x ?e ?else)".parse().unwrap(),
        );
        vec![
            rw!("if-true";  "(if  true ?then ?else)" => "?then"),
            rw!("if-false"; "(if false ?then ?else)" => "?else"),
            rw!("if-elim"; "(if (= (var ?x) ?e) ?then ?else)" => "?else" if cond_eq),
            rw!("add-comm";  "(+ ?a ?b)"        => "(+ ?b ?a)"),
            rw!("add-assoc"; "(+ (+ ?a ?b) ?c)" => "(+ ?a (+ ?b ?c))"),
            rw!("eq-comm";   "(= ?a ?b)"        => "(= ?b ?a)"),
            rw!("fix";      "(fix ?v ?e)"             => "(let ?v (fix ?v ?e) ?e)"),
            rw!("beta";     "(app (lam ?v ?body) ?e)" => "(let ?v ?e ?body)"),
            rw!("let-app";  "(let ?v ?e (app ?a ?b))" => "(app (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-add";  "(let ?v ?e (+   ?a ?b))" => "(+   (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-eq";   "(let ?v ?e (=   ?a ?b))" => "(=   (let ?v ?e ?a) (let ?v ?e ?b))"),
            rw!("let-const"; "(let ?v ?e ?c)" => "?c" if is_const(var("?c"))),
            rw!("let-if";
                "(let ?v ?e (if ?cond ?then ?else))" =>
                "(if (let ?v ?e ?cond) (let ?v ?e ?then) (let ?v ?e ?else))"),
            rw!("let-var-same"; "(let ?v1 ?e (var ?v1))" => "?e"),
            rw!("let-var-diff"; "(let ?v1 ?e (var ?v2))" => "(var ?v2)"
                if is_not_same_var(var("?v1"), var("?v2"))),
            rw!("let-lam-same"; "(let ?v1 ?e (lam ?v1 ?body))" => "(lam ?v1 ?body)"),
            rw!("let-lam-diff";
                "(let ?v1 ?e (lam ?v2 ?body))" =>
                { CaptureAvoid {
                    fresh: var("?fresh"), v1: var("?v1"), v2: var("?v2"), e: var("?e"), body: var("?body"),
                    if_not_free: "(lam ?v2 (let ?v1 ?e ?body))".parse().unwrap(),
                    if_free: "(lam ?fresh (let ?v1 ?e (let ?v2 (var ?fresh) ?body)))".parse().unwrap(),
                }}
                if is_not_same_var(var("?v1"), var("?v2"))),
        ]
    }
}
