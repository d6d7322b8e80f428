//! # saturn-clif: a Cranelift mid-end on Saturn
//!
//! [`optimize`] does what Cranelift's `Context::optimize` does, with the
//! aegraph pass replaced by equality saturation:
//!
//! 1. Cranelift's own preparatory passes, through its public `Context` API:
//!    unreachable-code elimination, constant-phi removal, alias resolution
//!    and redundant-load elimination (alias analysis).
//! 2. [`lower`]: the function becomes an e-graph. Side-effecting
//!    instructions stay in place as the *skeleton*; each pure instruction
//!    (including `readonly notrap can_move` loads, as in Cranelift)
//!    becomes an e-node ([`lang::Node`]) whose first child is its type;
//!    block parameters and skeleton results are leaves. Constant operands
//!    of commutative operators and comparisons are put on the right, so the
//!    rules need no commutativity rules.
//! 3. The rules of `rules/*.rules` ([`rules`], parsed once) run to
//!    saturation or a limit (two iterations by default) on Saturn's
//!    parallel [`saturn::Runner`], with exact constant folding per type in
//!    the analysis ([`analysis`], [`eval`]).
//! 4. Branch folding on the skeleton: `brif` on a known constant becomes a
//!    `jump`, `brif (uextend x)` / `brif (icmp ne x 0)` test `x` directly,
//!    conditional traps that can never fire are removed; unreachable blocks
//!    are then removed.
//! 5. Extraction with Cranelift's cost model ([`cost`]), tree or DAG-aware.
//! 6. [`elaborate`]: the pure values the skeleton needs are re-created in
//!    dominator order with scoped GVN, loop-invariant hoisting and
//!    rematerialized constants; unused pure code disappears.
//! 7. `cranelift_codegen::verifier` checks the result.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod analysis;
pub mod cost;
pub mod elaborate;
pub mod eval;
pub mod lang;
pub mod lower;
pub mod rules;
pub mod text;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir::{Function, InstructionData, Opcode};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{Configurable, Flags, FlagsOrIsa};
use cranelift_codegen::Context;
use rustc_hash::FxHashMap;
use saturn::{Id, Rewrite, Runner};

use crate::analysis::{ClifAnalysis, Fact};
use crate::lang::{Node, Op};

/// Options of [`optimize`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Threads for saturation (1 = sequential).
    pub threads: usize,
    /// A shared thread pool to run saturation on (otherwise one is made per
    /// call when `threads > 1`).
    pub pool: Option<Arc<rayon::ThreadPool>>,
    /// Saturate on `threads` threads only for e-graphs of at least this
    /// many nodes (smaller ones are faster sequentially).
    pub par_min_nodes: usize,
    /// Use DAG-aware extraction instead of tree extraction.
    pub dag: bool,
    /// Hoist loop-invariant pure values out of loops.
    pub licm: bool,
    /// Re-create constants in each block that uses them.
    pub remat: bool,
    /// Saturation iteration limit.
    pub iter_limit: usize,
    /// Saturation node limit, as a multiple of the initial node count (at
    /// least 10,000 nodes).
    pub node_factor: usize,
    /// Saturation time limit.
    pub time_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 1,
            pool: None,
            par_min_nodes: 50_000,
            dag: false,
            licm: true,
            remat: true,
            iter_limit: 2,
            node_factor: 4,
            time_limit: Duration::from_secs(10),
        }
    }
}

/// What [`optimize`] did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Instructions before.
    pub insts_before: usize,
    /// Instructions after.
    pub insts_after: usize,
    /// Pure instructions put in the e-graph.
    pub pure_insts: usize,
    /// E-nodes after saturation.
    pub nodes: usize,
    /// E-classes after saturation.
    pub classes: usize,
    /// Saturation iterations.
    pub iterations: usize,
    /// Branches folded.
    pub branches_folded: usize,
}

/// The rules, parsed once.
pub fn rules() -> &'static [Rewrite<Node, ClifAnalysis>] {
    static RULES: OnceLock<Vec<Rewrite<Node, ClifAnalysis>>> = OnceLock::new();
    RULES.get_or_init(|| rules::all_rules().expect("bundled rule files parse"))
}

/// An x86_64 target with `flags` (used for verification and for
/// Cranelift's own `optimize` in comparisons; the mid-end itself does not
/// depend on the target).
pub fn host_isa(flags: &Flags) -> OwnedTargetIsa {
    cranelift_codegen::isa::lookup_by_name("x86_64")
        .expect("x86_64 backend is compiled in")
        .finish(flags.clone())
        .expect("x86_64 accepts the shared flags")
}

/// Number of instructions in the layout.
pub fn count_insts(func: &Function) -> usize {
    func.layout
        .blocks()
        .map(|b| func.layout.block_insts(b).count())
        .sum()
}

/// Optimizes `func` in place, for a target given as flags or an ISA (the
/// ISA only matters to the verifier). Errors (from Cranelift's passes or its
/// verifier) are returned as text; the function is then unspecified.
pub fn optimize<'a>(
    func: &mut Function,
    target: impl Into<FlagsOrIsa<'a>>,
    opts: &Options,
) -> Result<Stats, String> {
    let isa: FlagsOrIsa<'a> = target.into();
    let mut stats = Stats {
        insts_before: count_insts(func),
        ..Stats::default()
    };
    let mut ctx = Context::for_function(std::mem::replace(func, Function::new()));
    let r = optimize_ctx(&mut ctx, isa, opts, &mut stats);
    *func = std::mem::replace(&mut ctx.func, Function::new());
    r?;
    stats.insts_after = count_insts(func);
    Ok(stats)
}

/// Flags with the verifier off, for Cranelift's intermediate passes.
fn quiet_flags() -> &'static Flags {
    static QUIET: OnceLock<Flags> = OnceLock::new();
    QUIET.get_or_init(|| {
        let mut b = cranelift_codegen::settings::builder();
        b.set("enable_verifier", "false")
            .expect("enable_verifier is a flag");
        Flags::new(b)
    })
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn optimize_ctx(
    ctx: &mut Context,
    isa: FlagsOrIsa<'_>,
    opts: &Options,
    stats: &mut Stats,
) -> Result<(), String> {
    cranelift_codegen::verifier::verify_function(&ctx.func, isa)
        .map_err(|e| format!("input does not verify: {e}"))?;
    if ctx.func.layout.entry_block().is_none() {
        // A declaration without a body verifies but has nothing to
        // optimize (and Cranelift's passes below assume an entry block).
        return Ok(());
    }
    // Cranelift's passes re-verify after themselves when the flags ask
    // for it; the input and the output are verified here, so they get
    // flags without the verifier.
    let quiet = quiet_flags();
    ctx.compute_cfg();
    ctx.compute_domtree();
    ctx.eliminate_unreachable_code(quiet).map_err(err)?;
    ctx.remove_constant_phis(quiet).map_err(err)?;
    ctx.func.dfg.resolve_all_aliases();
    ctx.replace_redundant_loads().map_err(err)?;
    ctx.func.dfg.resolve_all_aliases();

    // 2. Lower.
    let mut lw = lower::lower(&ctx.func, &ctx.domtree);
    stats.pure_insts = lw.nodes;
    // Classes of branch conditions, before saturation (so leaves exist).
    let mut conds: Vec<(cranelift_codegen::ir::Inst, Id)> = vec![];
    for block in ctx.func.layout.blocks() {
        for inst in ctx.func.layout.block_insts(block) {
            match ctx.func.dfg.insts[inst] {
                InstructionData::Brif { arg, .. } | InstructionData::CondTrap { arg, .. } => {
                    let c = lower::class_of(&ctx.func, &mut lw, arg);
                    conds.push((inst, c));
                }
                _ => {}
            }
        }
    }
    lw.egraph.rebuild();

    // 3. Saturate.
    let n0 = lw.egraph.total_number_of_nodes();
    let mut runner = Runner::new(ClifAnalysis)
        .with_egraph(std::mem::replace(
            &mut lw.egraph,
            saturn::EGraph::new(ClifAnalysis),
        ))
        .with_iter_limit(opts.iter_limit)
        .with_node_limit((n0 * opts.node_factor).max(10_000))
        .with_time_limit(opts.time_limit)
        // Incremental matching searches more roots than a full search on
        // these small, shallow e-graphs (measured: about 2x slower).
        .with_incremental(false)
        .with_threads(1);
    // Parallel matching only pays off on big e-graphs.
    if opts.threads > 1 && n0 >= opts.par_min_nodes {
        runner = runner.with_threads(opts.threads);
        if let Some(p) = &opts.pool {
            runner = runner.with_pool(p.clone());
        }
    }
    let runner = runner.run(rules());
    stats.iterations = runner.iterations.len();
    let egraph = runner.egraph;
    stats.nodes = egraph.total_number_of_nodes();
    stats.classes = egraph.number_of_classes();

    // 5. Extract (before branch folding so conditions can be peeled).
    let mut roots: Vec<Id> = vec![];
    for block in ctx.func.layout.blocks() {
        for inst in ctx.func.layout.block_insts(block) {
            for v in ctx.func.dfg.inst_values(inst) {
                if lw.pure_value[v.index()] {
                    if let Some(c) = lw.value_class[v.index()] {
                        roots.push(c);
                    }
                }
            }
        }
    }
    for &(_, c) in &conds {
        roots.push(c);
    }
    let best = if opts.dag {
        cost::dag_extract(&egraph, &roots)
    } else {
        cost::tree_extract(&egraph)
    };

    // 4. Branch folding.
    let mut cond_override: FxHashMap<cranelift_codegen::ir::Inst, (Id, bool)> =
        FxHashMap::default();
    for (inst, c) in conds {
        let c = egraph.find(c);
        let known = egraph[c].data.konst();
        let data = ctx.func.dfg.insts[inst];
        match (data, known) {
            (InstructionData::Brif { blocks, .. }, Some(k)) => {
                ctx.func.dfg.insts[inst] = InstructionData::Jump {
                    opcode: Opcode::Jump,
                    destination: blocks[if k != 0 { 0 } else { 1 }],
                };
                stats.branches_folded += 1;
            }
            (InstructionData::CondTrap { opcode, .. }, Some(k))
                if (opcode == Opcode::Trapz && k != 0) || (opcode == Opcode::Trapnz && k == 0) =>
            {
                ctx.func.layout.remove_inst(inst);
                stats.branches_folded += 1;
            }
            (InstructionData::Brif { .. }, None) => {
                let (c2, swap) = peel_cond(&egraph, &best, c);
                if c2 != c || swap {
                    cond_override.insert(inst, (c2, swap));
                }
            }
            _ => {}
        }
    }
    if stats.branches_folded > 0 {
        ctx.compute_cfg();
        ctx.compute_domtree();
        ctx.eliminate_unreachable_code(quiet).map_err(err)?;
        ctx.compute_cfg();
        ctx.compute_domtree();
    }
    ctx.compute_loop_analysis();

    // 6. Elaborate.
    for &inst in &lw.pure_insts {
        if ctx.func.layout.inst_block(inst).is_some() {
            ctx.func.layout.remove_inst(inst);
        }
    }
    let mut el = elaborate::Elaborator::new(
        &egraph,
        &best,
        &lw.templates,
        &lw.value_class,
        &lw.pure_value,
    );
    el.cond_override = cond_override;
    el.licm = opts.licm;
    el.remat = opts.remat;
    el.run(&mut ctx.func, &ctx.domtree, &ctx.loop_analysis);

    // 7. Verify.
    cranelift_codegen::verifier::verify_function(&ctx.func, isa)
        .map_err(|e| format!("saturn-clif produced invalid CLIF: {e}"))?;
    Ok(())
}

/// Follows a branch condition through `uextend` and comparisons with zero:
/// returns the class to test and whether to swap the branch targets.
fn peel_cond(
    egraph: &saturn::EGraph<Node, ClifAnalysis>,
    best: &[Option<Node>],
    mut c: Id,
) -> (Id, bool) {
    let mut swap = false;
    for _ in 0..8 {
        let Some(n) = &best[egraph.find(c).index()] else {
            break;
        };
        let is_zero = |k: Id| egraph[k].data.konst() == Some(0);
        let is_int = |k: Id| {
            egraph[k]
                .data
                .value_ty()
                .is_some_and(|t| t.is_int() && !t.is_vector())
        };
        match n.op {
            Op::Inst(Opcode::Uextend | Opcode::Sextend) if is_int(n.children[1]) => {
                c = n.children[1];
            }
            Op::Inst(Opcode::Icmp) => {
                let cc = egraph[n.children[1]].data;
                let (x, y) = (n.children[2], n.children[3]);
                if !is_zero(y) || !is_int(x) {
                    break;
                }
                match cc {
                    Fact::Cc(cranelift_codegen::ir::condcodes::IntCC::NotEqual) => c = x,
                    Fact::Cc(cranelift_codegen::ir::condcodes::IntCC::Equal) => {
                        c = x;
                        swap = !swap;
                    }
                    _ => break,
                }
            }
            _ => break,
        }
    }
    (egraph.find(c), swap)
}
