//! From a CLIF function to an e-graph.
//!
//! As in Cranelift's aegraph, side-effecting instructions (loads, stores,
//! calls, traps, branches, anything with more than one result) stay in
//! place as the function's *skeleton*. Every pure single-result
//! instruction becomes an e-node; block parameters and skeleton results
//! become [`Op::Val`] leaves. Blocks are visited in reverse postorder, so
//! each operand's class exists before its users.

use cranelift_codegen::dominator_tree::DominatorTree;
use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir::{
    types, Function, Inst, InstructionData, Opcode, Type, Value, ValueDef,
};
use rustc_hash::FxHashMap;
use saturn::{EGraph, Id};

use cranelift_codegen::ir::condcodes::CondCode;

use crate::analysis::{ClifAnalysis, Fact};
use crate::eval::{const_opcode, int_bits, is_const_opcode, mask};
use crate::lang::{is_modelled, Node, Op};

/// Templates of opaque pure instructions: the instruction data with its
/// operands cleared, and its controlling type.
#[derive(Debug, Default, Clone)]
pub struct Templates {
    /// Template `k` of [`Op::Opaque`]`(k)`.
    pub list: Vec<(InstructionData, Type)>,
    map: FxHashMap<(InstructionData, Type), u32>,
}

impl Templates {
    fn intern(&mut self, data: InstructionData, ctrl: Type) -> u32 {
        let key = (data, ctrl);
        if let Some(&k) = self.map.get(&key) {
            return k;
        }
        let k = self.list.len() as u32;
        self.list.push(key);
        self.map.insert(key, k);
        k
    }
}

/// True when `inst` is pure: one result, no memory access, trap, call,
/// branch or other side effect, and operands held inline (not in a value
/// list); or a `readonly notrap can_move` load.
pub fn is_pure(func: &Function, inst: Inst) -> bool {
    let data = &func.dfg.insts[inst];
    let op = data.opcode();
    // Loads that are read-only, cannot trap and may move are pure, as in
    // Cranelift's aegraph (`is_pure_for_egraph`).
    if let InstructionData::Load {
        opcode: Opcode::Load,
        flags,
        ..
    } = *data
    {
        let f = func.dfg.mem_flags[flags];
        return f.readonly()
            && f.notrap()
            && f.can_move()
            && func.dfg.inst_results(inst).len() == 1;
    }
    if func.dfg.inst_results(inst).len() != 1
        || op.is_call()
        || op.is_branch()
        || op.is_terminator()
        || op.is_return()
        || op.can_trap()
        || op.other_side_effects()
        || op.can_store()
        || op.can_load()
    {
        return false;
    }
    let args = data.arguments(&func.dfg.value_lists);
    args.len() == op.constraints().num_fixed_value_arguments()
        && data
            .branch_destination(&func.dfg.jump_tables, &func.dfg.exception_tables)
            .is_empty()
}

/// A function turned into an e-graph.
pub struct Lowered {
    /// The e-graph (rebuilt).
    pub egraph: EGraph<Node, ClifAnalysis>,
    /// The class of each value that has one, by value index.
    pub value_class: Vec<Option<Id>>,
    /// Whether each value (by index) is the result of a pure instruction.
    pub pure_value: Vec<bool>,
    /// The pure instructions (removed from the layout by elaboration).
    pub pure_insts: Vec<Inst>,
    /// Templates of opaque instructions.
    pub templates: Templates,
    /// Nodes added for instructions.
    pub nodes: usize,
}

/// Builds the e-graph of `func`. `domtree` must be computed.
pub fn lower(func: &Function, domtree: &DominatorTree) -> Lowered {
    let nvals = func.dfg.num_values();
    let mut lw = Lowered {
        egraph: EGraph::new(ClifAnalysis),
        value_class: vec![None; nvals],
        pure_value: vec![false; nvals],
        pure_insts: vec![],
        templates: Templates::default(),
        nodes: 0,
    };
    let mut ty_leaf: FxHashMap<Type, Id> = FxHashMap::default();
    for &block in domtree.cfg_rpo() {
        for inst in func.layout.block_insts(block) {
            if let Some(c) = spectre_alias(func, &mut lw, inst) {
                // A `select_spectre_guard` whose choice is known is its
                // chosen operand (as Cranelift's spectre.isle).
                let result = func.dfg.first_result(inst);
                lw.value_class[result.index()] = Some(c);
                lw.pure_value[result.index()] = true;
                lw.pure_insts.push(inst);
                continue;
            }
            let safe = if is_pure(func, inst) {
                None
            } else if let Some(op) = cannot_trap(func, &mut lw, inst) {
                Some(op)
            } else {
                continue;
            };
            let result = func.dfg.first_result(inst);
            let ty = func.dfg.value_type(result);
            let data = &func.dfg.insts[inst];
            let opcode = data.opcode();
            let tl = *ty_leaf
                .entry(ty)
                .or_insert_with(|| lw.egraph.add(Node::leaf(Op::Ty(ty))));
            let mut children: smallvec::SmallVec<[Id; 4]> = smallvec::smallvec![tl];
            let op = match *data {
                _ if safe.is_some() => safe.unwrap_or(Op::Inst(opcode)),
                InstructionData::UnaryImm {
                    opcode: Opcode::Iconst,
                    imm,
                } if int_bits(ty).is_some() => {
                    let bits = int_bits(ty).unwrap_or(64);
                    let v = (imm.bits() as u64 as u128) & mask(bits);
                    children.push(lw.egraph.add(Node::leaf(Op::Imm(v))));
                    Op::Inst(Opcode::Iconst)
                }
                InstructionData::UnaryIeee16 { imm, .. } => {
                    children.push(lw.egraph.add(Node::leaf(Op::Imm(imm.bits() as u128))));
                    Op::Inst(opcode)
                }
                InstructionData::UnaryIeee32 { imm, .. } => {
                    children.push(lw.egraph.add(Node::leaf(Op::Imm(imm.bits() as u128))));
                    Op::Inst(opcode)
                }
                InstructionData::UnaryIeee64 { imm, .. } => {
                    children.push(lw.egraph.add(Node::leaf(Op::Imm(imm.bits() as u128))));
                    Op::Inst(opcode)
                }
                InstructionData::UnaryConst {
                    constant_handle, ..
                } if const_opcode(ty) == Some(opcode)
                    && func.dfg.constants.get(constant_handle).len() == 16 =>
                {
                    let bytes: [u8; 16] = func
                        .dfg
                        .constants
                        .get(constant_handle)
                        .as_slice()
                        .try_into()
                        .unwrap_or([0; 16]);
                    let v = u128::from_le_bytes(bytes);
                    children.push(lw.egraph.add(Node::leaf(Op::Imm(v))));
                    Op::Inst(opcode)
                }
                InstructionData::IntCompare { cond, .. } => {
                    children.push(lw.egraph.add(Node::leaf(Op::Cc(cond))));
                    Op::Inst(Opcode::Icmp)
                }
                _ if is_modelled(opcode) && !is_const_opcode(opcode) => Op::Inst(opcode),
                _ => {
                    let mut tmpl = *data;
                    // Inline operands: the pool is never touched.
                    let mut pool = cranelift_codegen::ir::ValueListPool::new();
                    for a in tmpl.arguments_mut(&mut pool) {
                        *a = Value::from_u32(0);
                    }
                    let ctrl = if opcode.constraints().is_polymorphic() {
                        func.dfg.ctrl_typevar(inst)
                    } else {
                        types::INVALID
                    };
                    Op::Opaque(lw.templates.intern(tmpl, ctrl))
                }
            };
            for &a in data.arguments(&func.dfg.value_lists) {
                let c = class_of(func, &mut lw, a);
                children.push(c);
            }
            canonicalize(&mut lw.egraph, op, &mut children);
            let id = lw.egraph.add(Node::new(op, &children));
            lw.nodes += 1;
            lw.value_class[result.index()] = Some(id);
            lw.pure_value[result.index()] = true;
            lw.pure_insts.push(inst);
        }
    }
    lw.egraph.rebuild();
    lw
}

/// For a trapping instruction that provably cannot trap given its
/// operands, the pure operator it computes (as Cranelift's skeleton
/// simplifications): `udiv`/`urem` by a non-zero constant, `sdiv` by a
/// constant other than 0 and -1 (or of a constant other than the smallest
/// value), `srem` by a non-zero constant (CLIF defines the smallest value
/// `srem` -1 as 0); `uadd_overflow_trap` of two constants that do not
/// overflow, or of two values zero-extended to it (as `iadd`).
fn cannot_trap(func: &Function, lw: &mut Lowered, inst: Inst) -> Option<Op> {
    let data = &func.dfg.insts[inst];
    let opcode = data.opcode();
    if func.dfg.inst_results(inst).len() != 1 {
        return None;
    }
    let ty = func.dfg.value_type(func.dfg.first_result(inst));
    let bits = int_bits(ty)?;
    let konst = |lw: &Lowered, v: Value| -> Option<u128> {
        let c = lw.value_class[v.index()]?;
        lw.egraph[c].data.konst()
    };
    match *data {
        InstructionData::Binary { args: [x, y], .. }
            if matches!(
                opcode,
                Opcode::Udiv | Opcode::Urem | Opcode::Sdiv | Opcode::Srem
            ) =>
        {
            let d = konst(lw, y)?;
            if d == 0 {
                return None;
            }
            if opcode == Opcode::Sdiv && d == mask(bits) {
                // Only the smallest value divided by -1 traps.
                let n = konst(lw, x)?;
                if n == 1u128 << (bits - 1) {
                    return None;
                }
            }
            Some(Op::Inst(opcode))
        }
        InstructionData::IntAddTrap { args: [x, y], .. } if opcode == Opcode::UaddOverflowTrap => {
            if let (Some(a), Some(b)) = (konst(lw, x), konst(lw, y)) {
                return (a.checked_add(b)? <= mask(bits)).then_some(Op::Inst(Opcode::Iadd));
            }
            let narrow_uext = |v: Value| match func.dfg.value_def(v) {
                ValueDef::Result(i, _) => {
                    func.dfg.insts[i].opcode() == Opcode::Uextend
                        && func.dfg.value_type(v) == ty
                        && int_bits(
                            func.dfg
                                .value_type(func.dfg.insts[i].arguments(&func.dfg.value_lists)[0]),
                        )
                        .is_some_and(|b| b < bits)
                }
                _ => false,
            };
            (narrow_uext(x) && narrow_uext(y)).then_some(Op::Inst(Opcode::Iadd))
        }
        _ => None,
    }
}

/// The class a `select_spectre_guard` always picks: both operands are the
/// same value, or the condition is a known constant.
fn spectre_alias(func: &Function, lw: &mut Lowered, inst: Inst) -> Option<Id> {
    let InstructionData::Ternary {
        opcode: Opcode::SelectSpectreGuard,
        args: [c, x, y],
    } = func.dfg.insts[inst]
    else {
        return None;
    };
    let cx = class_of(func, lw, x);
    let cy = class_of(func, lw, y);
    if lw.egraph.find(cx) == lw.egraph.find(cy) {
        return Some(cx);
    }
    let cc = class_of(func, lw, c);
    match lw.egraph[cc].data.konst() {
        Some(0) => Some(cy),
        Some(_) => Some(cx),
        None => None,
    }
}

/// Puts a constant operand of a commutative operator (or of a comparison,
/// reversing its condition) on the right, as Cranelift does, so rules need
/// only match constants there and no commutativity rules are needed. A
/// commuted copy of an existing commutative node becomes that node (GVN).
pub fn canonicalize(egraph: &mut EGraph<Node, ClifAnalysis>, op: Op, children: &mut [Id]) {
    let is_const = |eg: &EGraph<Node, ClifAnalysis>, c: Id| eg[c].data.konst().is_some();
    let commutative = matches!(
        op,
        Op::Inst(
            Opcode::Iadd
                | Opcode::Imul
                | Opcode::Band
                | Opcode::Bor
                | Opcode::Bxor
                | Opcode::Umin
                | Opcode::Umax
                | Opcode::Smin
                | Opcode::Smax
        )
    );
    if commutative && children.len() == 3 {
        let (a, b) = (children[1], children[2]);
        if is_const(egraph, a) && !is_const(egraph, b) {
            children.swap(1, 2);
        } else if egraph.lookup(Node::new(op, &[children[0], b, a])).is_some() {
            // `y op x` already exists: reuse it for `x op y`.
            children.swap(1, 2);
        }
    } else if op == Op::Inst(Opcode::Icmp)
        && children.len() == 4
        && is_const(egraph, children[2])
        && !is_const(egraph, children[3])
    {
        if let Fact::Cc(cc) = egraph[children[1]].data {
            children[1] = egraph.add(Node::leaf(Op::Cc(cc.swap_args())));
            children.swap(2, 3);
        }
    }
}

/// The class of `v`, adding a leaf for a block parameter or skeleton result.
pub fn class_of(func: &Function, lw: &mut Lowered, v: Value) -> Id {
    if let Some(c) = lw.value_class[v.index()] {
        return c;
    }
    let ty = func.dfg.value_type(v);
    let c = lw.egraph.add(Node::leaf(Op::Val(v.as_u32(), ty)));
    lw.value_class[v.index()] = Some(c);
    c
}
