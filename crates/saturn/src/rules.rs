//! Rule files: rewrites as data.
//!
//! ```text
//! ; comments run to the end of the line
//! [arith]                              ; starts a pass named `arith`
//! comm-add:  (+ ?a ?b) => (+ ?b ?a)
//! zero-add:  (+ ?a 0)  => ?a
//! cancel:    (- ?a ?b) => 0  if (= ?a ?b)
//! div-self:  (/ ?a ?a) => 1  if (is-not-zero ?a)
//! mul-comm:  (* ?a ?b) <=> (* ?b ?a)   ; both directions
//! ```
//!
//! A rule is `name: lhs => rhs`, then any number of `if (pred ?vars...)`
//! conditions; patterns may span lines. `<=>` makes two rules, `name` and
//! `name-rev`. Built-in conditions are `(= ?a ?b)` and `(!= ?a ?b)` (same
//! or different class); other predicate names are looked up in a
//! [`Predicates`] table given by the caller. A `[name]` line starts a pass:
//! the rules after it, up to the next header, belong to it (rules before any
//! header belong to the pass `default`).
//!
//! Every error names its line and column.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::sexp::{parse_all, Sexp};
use crate::{Actions, Analysis, Condition, EGraph, FromOp, Id, ParseError, Pattern, Pos};
use crate::{Rewrite, Subst, Symbol, Var};

/// A named predicate over the classes bound to its arguments.
pub type Predicate<L, N> = Arc<dyn Fn(&EGraph<L, N>, &[Id]) -> bool + Send + Sync>;

/// Predicates that rule files may use in `if` conditions, by name.
pub struct Predicates<L: FromOp, N: Analysis<L>> {
    /// name -> (arity, function, local)
    map: FxHashMap<String, (usize, Predicate<L, N>, bool)>,
}

impl<L: FromOp, N: Analysis<L>> Default for Predicates<L, N> {
    fn default() -> Self {
        Predicates {
            map: FxHashMap::default(),
        }
    }
}

impl<L: FromOp, N: Analysis<L>> Predicates<L, N> {
    /// Registers `name`, taking `arity` variables. The predicate must
    /// depend only on the classes it is given (their nodes, data and
    /// identity), which lets incremental matching skip old matches; use
    /// [`Predicates::with_nonlocal`] otherwise.
    pub fn with(
        mut self,
        name: &str,
        arity: usize,
        f: impl Fn(&EGraph<L, N>, &[Id]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.map.insert(name.to_owned(), (arity, Arc::new(f), true));
        self
    }

    /// Registers a predicate that may look beyond the classes it is given
    /// (other classes, global state). Rules using it re-check their old
    /// matches every iteration.
    pub fn with_nonlocal(
        mut self,
        name: &str,
        arity: usize,
        f: impl Fn(&EGraph<L, N>, &[Id]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.map
            .insert(name.to_owned(), (arity, Arc::new(f), false));
        self
    }
}

/// A group of rules that run together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Its name.
    pub name: Symbol,
    /// Indices into [`RuleSet::rules`].
    pub rules: Vec<usize>,
}

/// The rules of a file, and their passes in file order.
pub struct RuleSet<L: FromOp, N: Analysis<L>> {
    /// All rules, in file order.
    pub rules: Vec<Rewrite<L, N>>,
    /// The passes, in file order.
    pub passes: Vec<Pass>,
}

struct PredCondition<L: FromOp, N: Analysis<L>> {
    vars: Vec<Var>,
    negate: bool,
    f: Option<Predicate<L, N>>,
    local: bool,
}

impl<L: FromOp, N: Analysis<L>> Condition<L, N> for PredCondition<L, N> {
    fn check(&self, egraph: &EGraph<L, N>, _: Id, subst: &Subst, _: &mut Actions<L>) -> bool {
        let uf = egraph.union_find();
        let args: smallvec::SmallVec<[Id; 4]> = self
            .vars
            .iter()
            .map(|v| uf.find_readonly(subst[*v]))
            .collect();
        match &self.f {
            // Built-in (= ?a ?b).
            None => (args[0] == args[1]) != self.negate,
            Some(f) => f(egraph, &args) != self.negate,
        }
    }
    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }
    fn is_local(&self) -> bool {
        self.local
    }
    fn reads_classes(&self) -> bool {
        // `=` and `!=` read the union-find only.
        self.f.is_some()
    }
}

fn atom(s: &Sexp) -> Option<&str> {
    match s {
        Sexp::Atom(a, _) => Some(a),
        _ => None,
    }
}

/// Parses a rule file.
///
/// ```
/// use saturn::{rules::{parse_rules, Predicates}, SymbolLang};
/// let text = "[simplify]\nzero: (+ ?a 0) => ?a\nsame: (- ?a ?b) => 0 if (= ?a ?b)\n";
/// let set = parse_rules::<SymbolLang, ()>(text, &Predicates::default()).unwrap();
/// assert_eq!(set.rules.len(), 2);
/// assert_eq!(set.passes[0].name.as_str(), "simplify");
///
/// let err = parse_rules::<SymbolLang, ()>("bad: (f ?x) => (g ?y)", &Predicates::default());
/// let err = err.err().unwrap();
/// assert_eq!((err.pos.line, err.pos.col), (1, 19));
/// ```
pub fn parse_rules<L: FromOp, N: Analysis<L>>(
    text: &str,
    preds: &Predicates<L, N>,
) -> Result<RuleSet<L, N>, ParseError> {
    let items = parse_all(text)?;
    let mut rules: Vec<Rewrite<L, N>> = vec![];
    let mut passes: Vec<Pass> = vec![];
    let mut names: FxHashMap<Symbol, Pos> = FxHashMap::default();
    let mut k = 0;
    // Whether the pass `default` was started by a rule before any header.
    let mut implicit_default = false;
    let start_pass = |passes: &mut Vec<Pass>, name: &str| {
        passes.push(Pass {
            name: Symbol::new(name),
            rules: vec![],
        })
    };
    while k < items.len() {
        let item = &items[k];
        let pos = item.pos();
        let Some(word) = atom(item) else {
            return Err(ParseError::new(
                pos,
                "expected a rule name (`name:`) or a pass header (`[name]`)",
            ));
        };
        if word.starts_with('[') {
            let name = word
                .strip_prefix('[')
                .and_then(|w| w.strip_suffix(']'))
                .filter(|w| !w.is_empty() && !w.contains(['[', ']']))
                .ok_or_else(|| ParseError::new(pos, "a pass header looks like `[name]`"))?;
            if passes.iter().any(|p| p.name.as_str() == name) {
                let implicit = if implicit_default && name == "default" {
                    " (the rules before the first `[pass]` header form the pass `default`)"
                } else {
                    ""
                };
                return Err(ParseError::new(
                    pos,
                    format!("pass `{name}` declared twice{implicit}"),
                ));
            }
            start_pass(&mut passes, name);
            k += 1;
            continue;
        }
        let name = word
            .strip_suffix(':')
            .filter(|w| !w.is_empty())
            .ok_or_else(|| ParseError::new(pos, format!("expected `name:`, found `{word}`")))?;
        let lhs_s = items
            .get(k + 1)
            .ok_or_else(|| ParseError::new(pos, "rule has no left-hand side"))?;
        let arrow = items.get(k + 2).ok_or_else(|| {
            ParseError::new(lhs_s.pos(), "expected `=>` or `<=>` after the pattern")
        })?;
        let both = match atom(arrow) {
            Some("=>") => false,
            Some("<=>") => true,
            _ => {
                return Err(ParseError::new(
                    arrow.pos(),
                    "expected `=>` or `<=>` after the pattern",
                ))
            }
        };
        let rhs_s = items
            .get(k + 3)
            .ok_or_else(|| ParseError::new(arrow.pos(), "rule has no right-hand side"))?;
        let lhs: Pattern<L> = Pattern::from_sexp(lhs_s)?;
        let rhs: Pattern<L> = Pattern::from_sexp(rhs_s)?;
        k += 4;
        let mut conds: Vec<ParsedCondition<L, N>> = vec![];
        while k < items.len() && atom(&items[k]) == Some("if") {
            let c = items
                .get(k + 1)
                .ok_or_else(|| ParseError::new(items[k].pos(), "`if` needs a condition"))?;
            conds.push(parse_condition(c, preds)?);
            k += 2;
        }
        if passes.is_empty() {
            start_pass(&mut passes, "default");
            implicit_default = true;
        }
        let directions: Vec<(String, &Pattern<L>, &Pattern<L>, &Sexp)> = if both {
            vec![
                (name.to_owned(), &lhs, &rhs, rhs_s),
                (format!("{name}-rev"), &rhs, &lhs, lhs_s),
            ]
        } else {
            vec![(name.to_owned(), &lhs, &rhs, rhs_s)]
        };
        for (n, l, r, r_s) in directions {
            let sym = Symbol::new(&n);
            if let Some(prev) = names.insert(sym, pos) {
                return Err(ParseError::new(
                    pos,
                    format!("rule `{n}` already defined at {prev}"),
                ));
            }
            if let Some(v) = r.vars().iter().find(|v| !l.vars().contains(v)) {
                return Err(ParseError::new(
                    var_pos(r_s, *v).unwrap_or(r_s.pos()),
                    format!("{v} is not bound by the left-hand side of `{n}`"),
                ));
            }
            for (_, vs) in &conds {
                if let Some((v, p)) = vs.iter().find(|(v, _)| !l.vars().contains(v)) {
                    return Err(ParseError::new(
                        *p,
                        format!("{v} is not bound by the left-hand side of `{n}`"),
                    ));
                }
            }
            let mut rw =
                Rewrite::new(sym, l.clone(), r.clone()).map_err(|e| ParseError::new(pos, e))?;
            rw.conditions = conds.iter().map(|(c, _)| c.clone()).collect();
            passes.last_mut().expect("a pass").rules.push(rules.len());
            rules.push(rw);
        }
    }
    Ok(RuleSet { rules, passes })
}

fn var_pos(s: &Sexp, v: Var) -> Option<Pos> {
    match s {
        Sexp::Atom(a, p) => (a == &v.to_string()).then_some(*p),
        Sexp::List(items, _) => items.iter().find_map(|i| var_pos(i, v)),
    }
}

type ParsedCondition<L, N> = (Arc<dyn Condition<L, N>>, Vec<(Var, Pos)>);

fn parse_condition<L: FromOp, N: Analysis<L>>(
    c: &Sexp,
    preds: &Predicates<L, N>,
) -> Result<ParsedCondition<L, N>, ParseError> {
    let Sexp::List(items, pos) = c else {
        return Err(ParseError::new(
            c.pos(),
            "a condition looks like `(pred ?x ...)`",
        ));
    };
    let Some((head, args)) = items.split_first() else {
        return Err(ParseError::new(*pos, "empty condition"));
    };
    let name = atom(head).ok_or_else(|| ParseError::new(head.pos(), "predicate name expected"))?;
    let mut vars = vec![];
    for a in args {
        let v = atom(a)
            .and_then(|w| Var::new(w).ok())
            .ok_or_else(|| ParseError::new(a.pos(), "condition arguments must be variables"))?;
        vars.push((v, a.pos()));
    }
    let plain: Vec<Var> = vars.iter().map(|(v, _)| *v).collect();
    let cond: PredCondition<L, N> = match name {
        "=" | "!=" => {
            if vars.len() != 2 {
                return Err(ParseError::new(
                    head.pos(),
                    format!("`{name}` takes 2 variables"),
                ));
            }
            PredCondition {
                vars: plain,
                negate: name == "!=",
                f: None,
                local: true,
            }
        }
        _ => {
            let (negate, base) = match name.strip_prefix("not-") {
                Some(b) if preds.map.contains_key(b) => (true, b),
                _ => (false, name),
            };
            let (arity, f, local) = preds.map.get(base).ok_or_else(|| {
                ParseError::new(head.pos(), format!("unknown predicate `{name}`"))
            })?;
            if *arity != vars.len() {
                return Err(ParseError::new(
                    head.pos(),
                    format!("`{name}` takes {arity} variables, given {}", vars.len()),
                ));
            }
            PredCondition {
                vars: plain,
                negate,
                f: Some(f.clone()),
                local: *local,
            }
        }
    };
    Ok((Arc::new(cond), vars))
}
