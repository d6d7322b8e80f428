//! egg 0.11.0's `tests/math.rs` suite, for both engines.
//!
//! The language, analysis, conditions and the 40 rules are written once per
//! engine, rule for rule the same as egg's test file (egg is MIT/Apache-2.0).
//! The only semantic difference: egg's analysis data also carries a
//! pattern, used by egg's explanations; explanations are off in these
//! benchmarks, so Saturn's carries only the constant.

use ordered_float::NotNan;

/// A constant.
pub type Constant = NotNan<f64>;

/// The egg side.
pub mod egg_side {
    use super::Constant;
    use egg::{rewrite as rw, *};
    use ordered_float::NotNan;

    define_language! {
        pub enum Math {
            "d" = Diff([Id; 2]),
            "i" = Integral([Id; 2]),
            "+" = Add([Id; 2]),
            "-" = Sub([Id; 2]),
            "*" = Mul([Id; 2]),
            "/" = Div([Id; 2]),
            "pow" = Pow([Id; 2]),
            "ln" = Ln(Id),
            "sqrt" = Sqrt(Id),
            "sin" = Sin(Id),
            "cos" = Cos(Id),
            Constant(Constant),
            Symbol(Symbol),
        }
    }

    pub type EGraph = egg::EGraph<Math, ConstantFold>;
    pub type Rewrite = egg::Rewrite<Math, ConstantFold>;

    #[derive(Default)]
    pub struct ConstantFold;

    impl Analysis<Math> for ConstantFold {
        type Data = Option<(Constant, PatternAst<Math>)>;

        fn make(egraph: &mut EGraph, enode: &Math, _id: Id) -> Self::Data {
            let x = |i: &Id| egraph[*i].data.as_ref().map(|d| d.0);
            let pat = |s: String| s.parse().unwrap();
            Some(match enode {
                Math::Constant(c) => (*c, pat(format!("{c}"))),
                Math::Add([a, b]) => (x(a)? + x(b)?, pat(format!("(+ {} {})", x(a)?, x(b)?))),
                Math::Sub([a, b]) => (x(a)? - x(b)?, pat(format!("(- {} {})", x(a)?, x(b)?))),
                Math::Mul([a, b]) => (x(a)? * x(b)?, pat(format!("(* {} {})", x(a)?, x(b)?))),
                Math::Div([a, b]) if x(b) != Some(NotNan::new(0.0).unwrap()) => {
                    (x(a)? / x(b)?, pat(format!("(/ {} {})", x(a)?, x(b)?)))
                }
                _ => return None,
            })
        }

        fn merge(&mut self, to: &mut Self::Data, from: Self::Data) -> DidMerge {
            merge_option(to, from, |a, b| {
                debug_assert_eq!(a.0, b.0, "merged non-equal constants");
                DidMerge(false, false)
            })
        }

        fn modify(egraph: &mut EGraph, id: Id) {
            if let Some((c, _)) = egraph[id].data.clone() {
                let added = egraph.add(Math::Constant(c));
                egraph.union(id, added);
                egraph[id].nodes.retain(|n| n.is_leaf());
            }
        }
    }

    fn is_not_zero(var: &str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        let var: Var = var.parse().unwrap();
        move |egraph, _, subst| match &egraph[subst[var]].data {
            Some(n) => *(n.0) != 0.0,
            None => true,
        }
    }

    fn is_sym(var: &str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        let var: Var = var.parse().unwrap();
        move |egraph, _, subst| {
            egraph[subst[var]]
                .nodes
                .iter()
                .any(|n| matches!(n, Math::Symbol(..)))
        }
    }

    fn is_const(var: &str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        let var: Var = var.parse().unwrap();
        move |egraph, _, subst| egraph[subst[var]].data.is_some()
    }

    fn is_const_or_distinct_var(v: &str, w: &str) -> impl Fn(&mut EGraph, Id, &Subst) -> bool {
        let v: Var = v.parse().unwrap();
        let w: Var = w.parse().unwrap();
        move |egraph, _, subst| {
            egraph.find(subst[v]) != egraph.find(subst[w])
                && (egraph[subst[v]].data.is_some()
                    || egraph[subst[v]]
                        .nodes
                        .iter()
                        .any(|n| matches!(n, Math::Symbol(..))))
        }
    }

    #[rustfmt::skip]
    pub fn rules() -> Vec<Rewrite> { vec![
        rw!("comm-add";  "(+ ?a ?b)"        => "(+ ?b ?a)"),
        rw!("comm-mul";  "(* ?a ?b)"        => "(* ?b ?a)"),
        rw!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        rw!("assoc-mul"; "(* ?a (* ?b ?c))" => "(* (* ?a ?b) ?c)"),
        rw!("sub-canon"; "(- ?a ?b)" => "(+ ?a (* -1 ?b))"),
        rw!("div-canon"; "(/ ?a ?b)" => "(* ?a (pow ?b -1))" if is_not_zero("?b")),
        rw!("zero-add"; "(+ ?a 0)" => "?a"),
        rw!("zero-mul"; "(* ?a 0)" => "0"),
        rw!("one-mul";  "(* ?a 1)" => "?a"),
        rw!("add-zero"; "?a" => "(+ ?a 0)"),
        rw!("mul-one";  "?a" => "(* ?a 1)"),
        rw!("cancel-sub"; "(- ?a ?a)" => "0"),
        rw!("cancel-div"; "(/ ?a ?a)" => "1" if is_not_zero("?a")),
        rw!("distribute"; "(* ?a (+ ?b ?c))"        => "(+ (* ?a ?b) (* ?a ?c))"),
        rw!("factor"    ; "(+ (* ?a ?b) (* ?a ?c))" => "(* ?a (+ ?b ?c))"),
        rw!("pow-mul"; "(* (pow ?a ?b) (pow ?a ?c))" => "(pow ?a (+ ?b ?c))"),
        rw!("pow0"; "(pow ?x 0)" => "1" if is_not_zero("?x")),
        rw!("pow1"; "(pow ?x 1)" => "?x"),
        rw!("pow2"; "(pow ?x 2)" => "(* ?x ?x)"),
        rw!("pow-recip"; "(pow ?x -1)" => "(/ 1 ?x)" if is_not_zero("?x")),
        rw!("recip-mul-div"; "(* ?x (/ 1 ?x))" => "1" if is_not_zero("?x")),
        rw!("d-variable"; "(d ?x ?x)" => "1" if is_sym("?x")),
        rw!("d-constant"; "(d ?x ?c)" => "0" if is_sym("?x") if is_const_or_distinct_var("?c", "?x")),
        rw!("d-add"; "(d ?x (+ ?a ?b))" => "(+ (d ?x ?a) (d ?x ?b))"),
        rw!("d-mul"; "(d ?x (* ?a ?b))" => "(+ (* ?a (d ?x ?b)) (* ?b (d ?x ?a)))"),
        rw!("d-sin"; "(d ?x (sin ?x))" => "(cos ?x)"),
        rw!("d-cos"; "(d ?x (cos ?x))" => "(* -1 (sin ?x))"),
        rw!("d-ln"; "(d ?x (ln ?x))" => "(/ 1 ?x)" if is_not_zero("?x")),
        rw!("d-power";
            "(d ?x (pow ?f ?g))" =>
            "(* (pow ?f ?g) (+ (* (d ?x ?f) (/ ?g ?f)) (* (d ?x ?g) (ln ?f))))"
            if is_not_zero("?f") if is_not_zero("?g")),
        rw!("i-one"; "(i 1 ?x)" => "?x"),
        rw!("i-power-const"; "(i (pow ?x ?c) ?x)" => "(/ (pow ?x (+ ?c 1)) (+ ?c 1))" if is_const("?c")),
        rw!("i-cos"; "(i (cos ?x) ?x)" => "(sin ?x)"),
        rw!("i-sin"; "(i (sin ?x) ?x)" => "(* -1 (cos ?x))"),
        rw!("i-sum"; "(i (+ ?f ?g) ?x)" => "(+ (i ?f ?x) (i ?g ?x))"),
        rw!("i-dif"; "(i (- ?f ?g) ?x)" => "(- (i ?f ?x) (i ?g ?x))"),
        rw!("i-parts"; "(i (* ?a ?b) ?x)" => "(- (* ?a (i ?b ?x)) (i (* (d ?x ?a) (i ?b ?x)) ?x))"),
    ]}

    pub fn assoc_rules() -> Vec<egg::Rewrite<Math, ()>> {
        vec![
            rw!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
            rw!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        ]
    }
}

/// The Saturn side.
pub mod saturn_side {
    use super::Constant;
    use ordered_float::NotNan;
    use saturn::{rewrite as rw, *};

    define_language! {
        pub enum Math {
            "d" = Diff([Id; 2]),
            "i" = Integral([Id; 2]),
            "+" = Add([Id; 2]),
            "-" = Sub([Id; 2]),
            "*" = Mul([Id; 2]),
            "/" = Div([Id; 2]),
            "pow" = Pow([Id; 2]),
            "ln" = Ln(Id),
            "sqrt" = Sqrt(Id),
            "sin" = Sin(Id),
            "cos" = Cos(Id),
            Constant(Constant),
            Symbol(Symbol),
        }
    }

    pub type EGraph = saturn::EGraph<Math, ConstantFold>;
    pub type Rewrite = saturn::Rewrite<Math, ConstantFold>;

    #[derive(Default)]
    pub struct ConstantFold;

    impl Analysis<Math> for ConstantFold {
        type Data = Option<Constant>;

        fn make(egraph: &EGraph, enode: &Math) -> Self::Data {
            let x = |i: &Id| egraph[*i].data;
            Some(match enode {
                Math::Constant(c) => *c,
                Math::Add([a, b]) => x(a)? + x(b)?,
                Math::Sub([a, b]) => x(a)? - x(b)?,
                Math::Mul([a, b]) => x(a)? * x(b)?,
                Math::Div([a, b]) if x(b) != Some(NotNan::new(0.0).unwrap()) => x(a)? / x(b)?,
                _ => return None,
            })
        }

        fn merge(&self, to: &mut Self::Data, from: Self::Data) -> DidMerge {
            merge_option(to, from, |a, b| {
                debug_assert_eq!(*a, b, "merged non-equal constants");
                DidMerge(false, false)
            })
        }

        fn modify(egraph: &mut EGraph, id: Id) {
            if let Some(c) = egraph[id].data {
                let added = egraph.add(Math::Constant(c));
                egraph.union(id, added);
                egraph[id].nodes.retain(|n| n.is_leaf());
            }
        }
    }

    fn var(s: &str) -> Var {
        s.parse().unwrap()
    }

    fn is_not_zero(v: &str) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        let v = var(v);
        move |egraph, _, subst| match egraph[subst[v]].data {
            Some(n) => *n != 0.0,
            None => true,
        }
    }

    fn is_sym(v: &str) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        let v = var(v);
        move |egraph, _, subst| {
            egraph[subst[v]]
                .nodes
                .iter()
                .any(|n| matches!(n, Math::Symbol(..)))
        }
    }

    fn is_const(v: &str) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        let v = var(v);
        move |egraph, _, subst| egraph[subst[v]].data.is_some()
    }

    fn is_const_or_distinct_var(v: &str, w: &str) -> impl Fn(&EGraph, Id, &Subst) -> bool {
        let (v, w) = (var(v), var(w));
        move |egraph, _, subst| {
            egraph.find(subst[v]) != egraph.find(subst[w])
                && (egraph[subst[v]].data.is_some()
                    || egraph[subst[v]]
                        .nodes
                        .iter()
                        .any(|n| matches!(n, Math::Symbol(..))))
        }
    }

    #[rustfmt::skip]
    pub fn rules() -> Vec<Rewrite> { vec![
        rw!("comm-add";  "(+ ?a ?b)"        => "(+ ?b ?a)"),
        rw!("comm-mul";  "(* ?a ?b)"        => "(* ?b ?a)"),
        rw!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        rw!("assoc-mul"; "(* ?a (* ?b ?c))" => "(* (* ?a ?b) ?c)"),
        rw!("sub-canon"; "(- ?a ?b)" => "(+ ?a (* -1 ?b))"),
        rw!("div-canon"; "(/ ?a ?b)" => "(* ?a (pow ?b -1))" if is_not_zero("?b")),
        rw!("zero-add"; "(+ ?a 0)" => "?a"),
        rw!("zero-mul"; "(* ?a 0)" => "0"),
        rw!("one-mul";  "(* ?a 1)" => "?a"),
        rw!("add-zero"; "?a" => "(+ ?a 0)"),
        rw!("mul-one";  "?a" => "(* ?a 1)"),
        rw!("cancel-sub"; "(- ?a ?a)" => "0"),
        rw!("cancel-div"; "(/ ?a ?a)" => "1" if is_not_zero("?a")),
        rw!("distribute"; "(* ?a (+ ?b ?c))"        => "(+ (* ?a ?b) (* ?a ?c))"),
        rw!("factor"    ; "(+ (* ?a ?b) (* ?a ?c))" => "(* ?a (+ ?b ?c))"),
        rw!("pow-mul"; "(* (pow ?a ?b) (pow ?a ?c))" => "(pow ?a (+ ?b ?c))"),
        rw!("pow0"; "(pow ?x 0)" => "1" if is_not_zero("?x")),
        rw!("pow1"; "(pow ?x 1)" => "?x"),
        rw!("pow2"; "(pow ?x 2)" => "(* ?x ?x)"),
        rw!("pow-recip"; "(pow ?x -1)" => "(/ 1 ?x)" if is_not_zero("?x")),
        rw!("recip-mul-div"; "(* ?x (/ 1 ?x))" => "1" if is_not_zero("?x")),
        rw!("d-variable"; "(d ?x ?x)" => "1" if is_sym("?x")),
        rw!("d-constant"; "(d ?x ?c)" => "0" if is_sym("?x") if is_const_or_distinct_var("?c", "?x")),
        rw!("d-add"; "(d ?x (+ ?a ?b))" => "(+ (d ?x ?a) (d ?x ?b))"),
        rw!("d-mul"; "(d ?x (* ?a ?b))" => "(+ (* ?a (d ?x ?b)) (* ?b (d ?x ?a)))"),
        rw!("d-sin"; "(d ?x (sin ?x))" => "(cos ?x)"),
        rw!("d-cos"; "(d ?x (cos ?x))" => "(* -1 (sin ?x))"),
        rw!("d-ln"; "(d ?x (ln ?x))" => "(/ 1 ?x)" if is_not_zero("?x")),
        rw!("d-power";
            "(d ?x (pow ?f ?g))" =>
            "(* (pow ?f ?g) (+ (* (d ?x ?f) (/ ?g ?f)) (* (d ?x ?g) (ln ?f))))"
            if is_not_zero("?f") if is_not_zero("?g")),
        rw!("i-one"; "(i 1 ?x)" => "?x"),
        rw!("i-power-const"; "(i (pow ?x ?c) ?x)" => "(/ (pow ?x (+ ?c 1)) (+ ?c 1))" if is_const("?c")),
        rw!("i-cos"; "(i (cos ?x) ?x)" => "(sin ?x)"),
        rw!("i-sin"; "(i (sin ?x) ?x)" => "(* -1 (cos ?x))"),
        rw!("i-sum"; "(i (+ ?f ?g) ?x)" => "(+ (i ?f ?x) (i ?g ?x))"),
        rw!("i-dif"; "(i (- ?f ?g) ?x)" => "(- (i ?f ?x) (i ?g ?x))"),
        rw!("i-parts"; "(i (* ?a ?b) ?x)" => "(- (* ?a (i ?b ?x)) (i (* (d ?x ?a) (i ?b ?x)) ?x))"),
    ]}

    pub fn assoc_rules() -> Vec<saturn::Rewrite<Math, ()>> {
        vec![
            rw!("comm-add"; "(+ ?a ?b)" => "(+ ?b ?a)"),
            rw!("assoc-add"; "(+ ?a (+ ?b ?c))" => "(+ (+ ?a ?b) ?c)"),
        ]
    }
}

/// The math cases, tagged with their suite.
pub fn cases_tagged() -> Vec<(&'static str, crate::suite::Case)> {
    crate::suite::math_cases()
        .into_iter()
        .map(|c| ("math", c))
        .collect()
}
