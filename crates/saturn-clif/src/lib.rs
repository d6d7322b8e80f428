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
//! 3. The rules of `rules/*.rules` ([`mod@rules`], parsed once) run to
//!    saturation or a limit (two iterations by default) on Saturn's
//!    parallel [`saturn::Runner`], with exact constant folding per type in
//!    the analysis ([`analysis`], [`eval`]).
//! 4. Branch folding on the skeleton: `brif` and `br_table` on a known
//!    constant become a `jump`; `brif`/`trapz`/`trapnz` of a "truthy"
//!    operator (`uextend x`, `icmp ne x 0`, `bmask x`, `popcnt x`, ...)
//!    test `x` directly; conditional traps that can never fire, or that an
//!    identical dominating trap already checked, are removed; unreachable
//!    blocks are then removed. (Trapping instructions that cannot trap —
//!    division by a non-zero constant, `uadd_overflow_trap` that cannot
//!    overflow — and decided `select_spectre_guard`s become pure when
//!    lowering.)
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
    /// Saturation time limit; `Duration::MAX` (the default) is none: the
    /// iteration and node limits bound saturation, and a time limit makes
    /// the search read the clock for every rule (measured: about 2% of
    /// the time).
    pub time_limit: Duration,
    /// Saturation memory limit, in estimated bytes of the function's
    /// e-graph ([`saturn::EGraph::approx_bytes`]); `usize::MAX` (the
    /// default) is none. Saturation stops gracefully past it, and the
    /// function is still optimized from what it reached.
    pub memory_limit: usize,
    /// How saturation is scheduled: `None` (the default) is one
    /// [`saturn::Runner`] over the selected rules; `Some` runs them as one
    /// pass under a [`saturn::schedule::Strategy`] (`passes`, `bsp`,
    /// `async`) with the same limits. Under `async` the iteration limit
    /// bounds phases, not rounds, and a run cut by the node or memory limit
    /// may depend on thread timing.
    pub strategy: Option<saturn::schedule::Strategy>,
    /// Run Cranelift's verifier on the input (an input that fails is an
    /// error starting with [`INPUT_DOES_NOT_VERIFY`], the function left
    /// unchanged) and on the output (true, the default). `false` skips
    /// both, for input already known to verify (as Cranelift's own
    /// `enable_verifier=false` does): `clif-bench --no-verify` times the
    /// optimization alone that way. An input that does not verify is then
    /// the caller's bug: it may be optimized into anything, or panic.
    pub verify: bool,
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
            time_limit: Duration::MAX,
            memory_limit: usize::MAX,
            strategy: None,
            verify: true,
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

/// A set of opcodes (by their `u8` value).
type OpSet = [u64; 4];

fn op_bit(set: &mut OpSet, op: Opcode) {
    let i = op as usize;
    set[i / 64] |= 1 << (i % 64);
}

fn subset(a: &OpSet, b: &OpSet) -> bool {
    a.iter().zip(b).all(|(x, y)| x & !y == 0)
}

fn pattern_ops(ast: &[saturn::ENodeOrVar<Node>]) -> OpSet {
    let mut set = [0; 4];
    for n in ast {
        if let saturn::ENodeOrVar::ENode(Node {
            op: Op::Inst(o), ..
        }) = n
        {
            op_bit(&mut set, *o);
        }
    }
    set
}

/// The opcodes each rule needs (left-hand side) and may create
/// (right-hand side; for rules without a pattern, whatever any of them
/// may create).
fn rule_ops() -> &'static [(OpSet, OpSet)] {
    static OPS: OnceLock<Vec<(OpSet, OpSet)>> = OnceLock::new();
    OPS.get_or_init(|| {
        rules()
            .iter()
            .map(|r| {
                let lhs = pattern_ops(r.searcher.ast());
                let rhs = match r.applier.pattern() {
                    Some(p) => pattern_ops(p.ast()),
                    None => {
                        let mut s = [0; 4];
                        for o in rules::computed_rhs_opcodes(r.name.as_str()) {
                            op_bit(&mut s, o);
                        }
                        s
                    }
                };
                (lhs, rhs)
            })
            .collect()
    })
}

/// The rules that can match in `iters` iterations on `egraph`: those whose
/// left-hand side's opcodes are all present, or creatable by the
/// right-hand sides of rules that can match in an earlier iteration
/// (constants are always creatable by folding). Leaving out the others
/// changes no result, and saves searching for them. Subsets are cached.
fn rules_for(
    egraph: &saturn::EGraph<Node, ClifAnalysis>,
    iters: usize,
) -> Arc<Vec<Rewrite<Node, ClifAnalysis>>> {
    type Rules = Arc<Vec<Rewrite<Node, ClifAnalysis>>>;
    // By (present opcodes, iterations), and by the selection itself (so
    // equal selections share one list).
    type Cache = std::sync::Mutex<(FxHashMap<(OpSet, usize), Rules>, FxHashMap<Vec<u64>, Rules>)>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let ops = rule_ops();
    let mut present: OpSet = [0; 4];
    for op in [
        Opcode::Iconst,
        Opcode::F16const,
        Opcode::F32const,
        Opcode::F64const,
        Opcode::F128const,
        Opcode::Vconst,
    ] {
        op_bit(&mut present, op);
    }
    for class in egraph.classes() {
        for n in &class.nodes {
            if let Op::Inst(o) = n.op {
                op_bit(&mut present, o);
            }
        }
    }
    let cache = CACHE.get_or_init(Default::default);
    let mut maps = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = maps.0.get(&(present, iters)) {
        return r.clone();
    }
    let initial = present;
    // Iteration i can create the right-hand sides' opcodes of the rules
    // that match in it, for iteration i + 1 to match: `iters - 1` rounds.
    for _ in 1..iters {
        let mut next = present;
        for (lhs, rhs) in ops {
            if subset(lhs, &present) {
                for (p, r) in next.iter_mut().zip(rhs) {
                    *p |= r;
                }
            }
        }
        if next == present {
            break;
        }
        present = next;
    }
    let on: Vec<bool> = ops.iter().map(|(lhs, _)| subset(lhs, &present)).collect();
    let mut key = vec![0u64; ops.len().div_ceil(64)];
    for (i, &b) in on.iter().enumerate() {
        if b {
            key[i / 64] |= 1 << (i % 64);
        }
    }
    let r = maps
        .1
        .entry(key)
        .or_insert_with(|| {
            Arc::new(
                rules()
                    .iter()
                    .zip(&on)
                    .filter(|(_, &b)| b)
                    .map(|(r, _)| r.clone())
                    .collect(),
            )
        })
        .clone();
    maps.0.insert((initial, iters), r.clone());
    r
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

/// How [`optimize`]'s error starts when the input fails Cranelift's
/// verifier; the function is then unchanged.
///
/// ```
/// use cranelift_reader::parse_functions;
/// let mut f = parse_functions(
///     "function %f(i32) -> i32 {\nblock0(v0: i32):\n    v1 = iconst.i64 1\n    return v1\n}",
/// )
/// .unwrap()
/// .remove(0);
/// let before = f.display().to_string();
/// let flags = cranelift_codegen::settings::Flags::new(cranelift_codegen::settings::builder());
/// let isa = saturn_clif::host_isa(&flags);
/// let e = saturn_clif::optimize(&mut f, &*isa, &Default::default()).unwrap_err();
/// assert!(e.starts_with(saturn_clif::INPUT_DOES_NOT_VERIFY), "{e}");
/// assert_eq!(f.display().to_string(), before);
/// ```
pub const INPUT_DOES_NOT_VERIFY: &str = "input does not verify";

/// Optimizes `func` in place, for a target given as flags or an ISA (the
/// ISA only matters to the verifier). Errors (from Cranelift's passes or its
/// verifier) are returned as text; the function is then unspecified, except
/// for an input that does not verify (the error starts with
/// [`INPUT_DOES_NOT_VERIFY`]), which is left unchanged.
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
    if opts.verify {
        cranelift_codegen::verifier::verify_function(&ctx.func, isa)
            .map_err(|e| format!("{INPUT_DOES_NOT_VERIFY}: {e}"))?;
    }
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
                InstructionData::Brif { arg, .. }
                | InstructionData::CondTrap { arg, .. }
                | InstructionData::BranchTable { arg, .. } => {
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
        .with_memory_limit(opts.memory_limit)
        .with_time_limit(opts.time_limit)
        // Incremental matching: the second iteration searches only the
        // roots the first one changed (measured with the current rule set:
        // about 15% less saturation time than full searches, same result).
        .with_incremental(true)
        .with_threads(1);
    // Parallel matching only pays off on big e-graphs.
    if opts.threads > 1 && n0 >= opts.par_min_nodes {
        runner = runner.with_threads(opts.threads);
        if let Some(p) = &opts.pool {
            runner = runner.with_pool(p.clone());
        }
    }
    let selected = rules_for(&runner.egraph, opts.iter_limit);
    let egraph = match opts.strategy {
        None => {
            let runner = runner.run(&selected);
            stats.iterations = runner.iterations.len();
            runner.egraph
        }
        Some(strategy) => {
            let pipeline = saturn::schedule::Pipeline::new().pass("clif", selected.iter().cloned());
            let mut schedule = saturn::schedule::Schedule::new(pipeline, strategy)
                .with_iter_limit(opts.iter_limit)
                .with_node_limit((n0 * opts.node_factor).max(10_000))
                .with_memory_limit(opts.memory_limit)
                .with_time_limit(opts.time_limit);
            if opts.threads > 1 && n0 >= opts.par_min_nodes {
                schedule = match &opts.pool {
                    Some(p) => schedule.with_pool(p.clone()),
                    None => schedule.with_threads(opts.threads),
                };
            }
            let out = schedule.run(runner.egraph);
            stats.iterations = out.report.rounds;
            out.egraph
        }
    };
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
    let trap_conds: FxHashMap<cranelift_codegen::ir::Inst, Id> = conds.iter().copied().collect();
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
            (InstructionData::BranchTable { table, .. }, Some(k)) => {
                let jt = &ctx.func.dfg.jump_tables[table];
                let entry = usize::try_from(k)
                    .ok()
                    .and_then(|i| jt.as_slice().get(i))
                    .copied()
                    .unwrap_or_else(|| jt.default_block());
                // A copy: elaboration rewrites the jump's arguments in place.
                let destination = entry.deep_clone(&mut ctx.func.dfg.value_lists);
                ctx.func.dfg.insts[inst] = InstructionData::Jump {
                    opcode: Opcode::Jump,
                    destination,
                };
                stats.branches_folded += 1;
            }
            (InstructionData::Brif { .. }, None) => {
                let (c2, swap) = peel_cond(&egraph, &best, c);
                if c2 != c || swap {
                    cond_override.insert(inst, (c2, swap));
                }
            }
            (InstructionData::CondTrap { opcode, .. }, None) => {
                let (c2, swap) = peel_cond(&egraph, &best, c);
                if c2 != c || swap {
                    cond_override.insert(inst, (c2, false));
                    if swap {
                        if let InstructionData::CondTrap { opcode: o, .. } =
                            &mut ctx.func.dfg.insts[inst]
                        {
                            *o = if opcode == Opcode::Trapz {
                                Opcode::Trapnz
                            } else {
                                Opcode::Trapz
                            };
                        }
                    }
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
    let n_traps = trap_conds
        .keys()
        .filter(|&&i| matches!(ctx.func.dfg.insts[i], InstructionData::CondTrap { .. }))
        .count();
    if n_traps > 1 {
        remove_repeated_traps(ctx, &egraph, &trap_conds, &cond_override);
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
    if opts.verify {
        cranelift_codegen::verifier::verify_function(&ctx.func, isa)
            .map_err(|e| format!("saturn-clif produced invalid CLIF: {e}"))?;
    }
    Ok(())
}

/// Removes a conditional trap dominated by an identical one (same opcode,
/// condition class and trap code): it can never fire, as Cranelift merges
/// idempotent skeleton instructions.
fn remove_repeated_traps(
    ctx: &mut Context,
    egraph: &saturn::EGraph<Node, ClifAnalysis>,
    conds: &FxHashMap<cranelift_codegen::ir::Inst, Id>,
    over: &FxHashMap<cranelift_codegen::ir::Inst, (Id, bool)>,
) {
    let mut seen: FxHashMap<
        (Opcode, Id, cranelift_codegen::ir::TrapCode),
        Vec<cranelift_codegen::ir::Inst>,
    > = FxHashMap::default();
    let mut dead = vec![];
    for &block in ctx.domtree.cfg_rpo() {
        for inst in ctx.func.layout.block_insts(block) {
            let InstructionData::CondTrap { opcode, code, .. } = ctx.func.dfg.insts[inst] else {
                continue;
            };
            let Some(&c) = over.get(&inst).map(|(c, _)| c).or_else(|| conds.get(&inst)) else {
                continue;
            };
            let prior = seen.entry((opcode, egraph.find(c), code)).or_default();
            if prior
                .iter()
                .any(|&p| ctx.domtree.dominates(p, inst, &ctx.func.layout))
            {
                dead.push(inst);
            } else {
                prior.push(inst);
            }
        }
    }
    for inst in dead {
        ctx.func.layout.remove_inst(inst);
    }
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
            // Operators that keep zero zero and non-zero non-zero
            // (Cranelift's `truthy`).
            Op::Inst(
                Opcode::Uextend
                | Opcode::Sextend
                | Opcode::Bmask
                | Opcode::Ineg
                | Opcode::Bswap
                | Opcode::Bitrev
                | Opcode::Popcnt
                | Opcode::Rotl
                | Opcode::Rotr,
            ) if is_int(n.children[1]) => {
                c = n.children[1];
            }
            Op::Inst(Opcode::Select)
                if is_int(n.children[1])
                    && egraph[n.children[2]].data.konst().is_some_and(|k| k != 0)
                    && is_zero(n.children[3]) =>
            {
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
