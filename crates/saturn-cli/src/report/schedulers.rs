//! The scheduler comparison: every strategy of [`saturn::schedule`] whose
//! name parses, on the bundled rule files, at every thread count.
//!
//! Workloads: `examples/arith.rules` on `examples/arith.terms` (with the
//! CLI's predicates, as `saturn run`) and `examples/compiler.rules` on
//! `examples/compiler.terms`, all terms of a workload in one e-graph, as
//! `saturn-bench --bin schedulers` runs the compiler set. Every strategy
//! gets the same limits: 30 rounds, 10,000 nodes, 5 s (10 rounds, 2,000
//! nodes, 2 s under `--quick`). Runs are interleaved (run 1 of every
//! strategy and thread count, then run 2, ...) so drift in machine load
//! hits all alike, and each timed run comes right after an untimed one of
//! its own: after a 1-thread run a 2-thread run otherwise starts on a
//! core that idled through it, which on a virtual machine slows the whole
//! run (see `saturn-bench`'s docs). Counts are those of the first run; a `!` after the stop
//! reason marks a row where another run or thread count disagreed
//! (possible only when the time limit cut a run).

use std::sync::Arc;
use std::time::Duration;

use saturn::schedule::{Pipeline, Schedule, ScheduleReport, Strategy};
use saturn::{EGraph, Id, RecExpr, SymbolLang};

use super::{image, median, num, plot, table, Ctx, InputUse, Section};

/// A bundled workload: a rule file and a terms file.
pub struct Workload {
    /// Short name (used in tables and plot file names).
    pub name: &'static str,
    /// Path of the rule file in the repository.
    pub rules_path: &'static str,
    /// Its text (embedded in the binary).
    pub rules: &'static str,
    /// Path of the terms file in the repository.
    pub terms_path: &'static str,
    /// Its text.
    pub terms: &'static str,
    /// Passes of the rule file left out (to make a terminating set).
    pub drop_passes: &'static [&'static str],
}

/// The bundled workloads, in table order.
pub const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "arith",
        rules_path: "examples/arith.rules",
        rules: include_str!("../../../../examples/arith.rules"),
        terms_path: "examples/arith.terms",
        terms: include_str!("../../../../examples/arith.terms"),
        drop_passes: &[],
    },
    Workload {
        name: "compiler",
        rules_path: "examples/compiler.rules",
        rules: include_str!("../../../../examples/compiler.rules"),
        terms_path: "examples/compiler.terms",
        terms: include_str!("../../../../examples/compiler.terms"),
        drop_passes: &[],
    },
    // The same without `algebra`, the one pass that never saturates: every
    // strategy reaches the fixed point, so all three end with the same
    // e-graph.
    Workload {
        name: "compiler-saturating",
        rules_path: "examples/compiler.rules",
        rules: include_str!("../../../../examples/compiler.rules"),
        terms_path: "examples/compiler.terms",
        terms: include_str!("../../../../examples/compiler.terms"),
        drop_passes: &["algebra"],
    },
];

/// A parsed workload: its rules and its terms.
pub type Loaded = crate::RulesAndTerms;

/// A workload's rules (with the CLI's predicates) and terms, parsed.
pub fn load(w: &Workload) -> Result<Loaded, String> {
    let (set, terms) = crate::parse_rules_and_terms(w.rules, w.rules_path, w.terms, w.terms_path)?;
    if terms.is_empty() {
        return Err(format!("{}: no terms", w.terms_path));
    }
    Ok((set, terms))
}

/// Round, node and time limits for every strategy.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Rounds.
    pub iters: usize,
    /// Nodes.
    pub nodes: usize,
    /// Time.
    pub time: Duration,
}

impl Limits {
    /// The limits for this report (smaller under `--quick`).
    pub fn for_report(quick: bool) -> Limits {
        if quick {
            Limits {
                iters: 10,
                nodes: 2_000,
                time: Duration::from_secs(2),
            }
        } else {
            Limits {
                iters: 30,
                nodes: 10_000,
                time: Duration::from_secs(5),
            }
        }
    }
}

/// Runs `pipeline` over `terms` in a fresh e-graph.
pub fn run_once(
    pipeline: &Pipeline<SymbolLang, ()>,
    strategy: Strategy,
    limits: Limits,
    pool: Option<&Arc<rayon::ThreadPool>>,
    terms: &[RecExpr<SymbolLang>],
) -> (EGraph<SymbolLang, ()>, Vec<Id>, ScheduleReport) {
    let mut egraph = EGraph::<SymbolLang, ()>::default();
    let roots: Vec<Id> = terms.iter().map(|t| egraph.add_expr(t)).collect();
    let mut s = Schedule::new(pipeline.clone(), strategy)
        .with_iter_limit(limits.iters)
        .with_node_limit(limits.nodes)
        .with_time_limit(limits.time);
    if let Some(p) = pool {
        s = s.with_pool(p.clone());
    }
    let out = s.run(egraph);
    (out.egraph, roots, out.report)
}

/// The strategy names to try: the seed's three, then any other the engine
/// lists as implemented or reserved, without duplicates.
pub fn strategy_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec!["passes", "bsp", "async"];
    for s in Strategy::ALL {
        names.push(s.name());
    }
    names.extend_from_slice(Strategy::RESERVED);
    let mut out = vec![];
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn counts(r: &ScheduleReport) -> [usize; 5] {
    [r.rounds, r.joins, r.matches, r.nodes, r.classes]
}

fn stop_kind(r: &ScheduleReport) -> String {
    let s = format!("{:?}", r.stop_reason);
    s.split('(').next().unwrap_or("").to_string()
}

/// Runs the comparison.
pub fn run(ctx: &Ctx) -> Result<Section, String> {
    let limits = Limits::for_report(ctx.quick);
    let mut strategies: Vec<Strategy> = vec![];
    let mut notes: Vec<String> = vec![];
    for name in strategy_names() {
        match name.parse::<Strategy>() {
            Ok(s) => strategies.push(s),
            Err(e) => notes.push(format!("strategy `{name}` was not run: {e}")),
        }
    }
    if strategies.is_empty() {
        return Err("no scheduling strategy parses".to_string());
    }
    let mut pools: Vec<(usize, Option<Arc<rayon::ThreadPool>>)> = vec![];
    for &t in &ctx.threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| format!("cannot build a pool of {t} threads: {e}"))?;
        pools.push((t, Some(Arc::new(pool))));
    }

    let mut section = Section::default();
    let mut body = String::new();
    body.push_str(&format!(
        "Every strategy of `saturn::schedule` whose name parses, on each bundled rule set (all its terms in one e-graph), with the same limits: {} rounds, {} nodes, {} s. Time: median wall time of the schedule (ms) at each thread count, each timed run right after an untimed one of its own. Counts (rounds, global joins, matches, final nodes and classes) are from the first run; `!` marks a row where runs or thread counts disagreed.\n\n",
        limits.iters,
        limits.nodes,
        limits.time.as_secs_f64()
    ));
    for n in &notes {
        body.push_str(&format!("**Note:** {n}.\n\n"));
    }
    let mut header: Vec<String> = vec!["rule set".into(), "strategy".into()];
    header.extend(ctx.threads.iter().map(|t| format!("{t}T ms")));
    header.extend(
        ["rounds", "joins", "matches", "nodes", "classes", "stop"]
            .iter()
            .map(|s| s.to_string()),
    );
    let mut right = vec![false, false];
    right.extend(std::iter::repeat_n(true, ctx.threads.len() + 5));
    right.push(false);
    let mut rows: Vec<Vec<String>> = vec![];
    let mut plots: Vec<String> = vec![];

    for w in &WORKLOADS {
        let (set, terms) = load(w)?;
        section.inputs.push(InputUse {
            what: format!(
                "`{}` ({} rules, {} passes{}) on `{}` ({} terms)",
                w.rules_path,
                set.rules.len(),
                set.passes.len(),
                if w.drop_passes.is_empty() {
                    String::new()
                } else {
                    format!(", without {}", w.drop_passes.join(", "))
                },
                w.terms_path,
                terms.len()
            ),
            bundled: true,
            why: Some("the scheduler comparison always uses the bundled rule files".into()),
        });
        let full = Pipeline::from_rule_set(&set);
        let mut pipeline = Pipeline::new();
        for k in 0..full.len() {
            if !w.drop_passes.contains(&full.pass_name(k).as_str()) {
                pipeline = pipeline.pass(full.pass_name(k), full.pass_rules(k).to_vec());
            }
        }
        // reports[strategy][thread index] = one report per run
        let mut reports: Vec<Vec<Vec<ScheduleReport>>> = strategies
            .iter()
            .map(|_| pools.iter().map(|_| vec![]).collect())
            .collect();
        for _ in 0..ctx.runs {
            for (si, &s) in strategies.iter().enumerate() {
                for (k, (_, pool)) in pools.iter().enumerate() {
                    // Untimed warm-up run (see the module docs).
                    run_once(&pipeline, s, limits, pool.as_ref(), &terms);
                    let (_, _, r) = run_once(&pipeline, s, limits, pool.as_ref(), &terms);
                    reports[si][k].push(r);
                }
            }
        }
        let mut series: Vec<(String, Vec<f64>)> = ctx
            .threads
            .iter()
            .map(|t| (format!("{t} thread(s)"), vec![]))
            .collect();
        for (si, s) in strategies.iter().enumerate() {
            let first = &reports[si][0][0];
            let same = reports[si]
                .iter()
                .flatten()
                .all(|r| counts(r) == counts(first));
            let times: Vec<f64> = reports[si]
                .iter()
                .map(|rs| median(rs.iter().map(|r| r.total_time * 1e3).collect()))
                .collect();
            for (k, t) in times.iter().enumerate() {
                series[k].1.push(*t);
            }
            let mut row = vec![w.name.to_string(), s.name().to_string()];
            row.extend(times.iter().map(|&t| num(t)));
            row.extend(counts(first).iter().map(|c| c.to_string()));
            row.push(format!(
                "{}{}",
                stop_kind(first),
                if same { "" } else { " !" }
            ));
            rows.push(row);
        }
        let file = format!("schedulers-{}.svg", w.name);
        let svg = plot::bar_chart_svg(
            &[plot::Bars {
                title: format!("{}: schedule time (median)", w.name),
                y_label: "ms".into(),
                groups: strategies.iter().map(|s| s.name().to_string()).collect(),
                series,
            }],
            (640, 400),
        )?;
        section.files.push((file.clone().into(), svg));
        plots.push(image(&format!("schedulers on {}", w.name), &file));
    }
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    body.push_str(&table(&hdr, &right, &rows));
    body.push('\n');
    for p in plots {
        body.push_str(&p);
        body.push('\n');
    }
    section.body = body;
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_seed_and_the_engine() {
        let names = strategy_names();
        assert_eq!(&names[..3], ["passes", "bsp", "async"]);
        for s in Strategy::ALL {
            assert!(names.contains(&s.name()));
        }
    }

    #[test]
    fn bundled_workloads_parse() {
        for w in &WORKLOADS {
            let (set, terms) = load(w).unwrap();
            assert!(!set.rules.is_empty() && !terms.is_empty(), "{}", w.name);
        }
    }
}
