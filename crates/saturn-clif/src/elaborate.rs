//! From the e-graph back into the function.
//!
//! Pure instructions are removed from the layout, then re-created on demand
//! while the skeleton is walked in dominator-tree preorder: each operand of
//! a skeleton instruction is *elaborated* from its class's chosen node.
//!
//! - **Scoped GVN**: a class elaborated in block `B` is reused by every
//!   block `B` dominates (a scoped map, undone when leaving `B`'s subtree).
//! - **Loop-invariant hoisting**: a value whose operands are all defined
//!   outside the innermost loop around the use is placed at the end of the
//!   loop header's immediate dominator instead, repeatedly outwards.
//! - **Rematerialization**: constants are not shared across blocks but
//!   re-created (once) in each block that uses them, as Cranelift does.
//! - **Dead code**: only values reachable from the skeleton are created.

use cranelift_codegen::dominator_tree::DominatorTree;
use cranelift_codegen::entity::EntityRef;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::{Ieee16, Ieee32, Ieee64, Imm64};
use cranelift_codegen::ir::instructions::InstructionFormat;
use cranelift_codegen::ir::ConstantData;
use cranelift_codegen::ir::{
    types, Block, Function, Inst, InstructionData, Opcode, Type, Value, ValueDef,
};
use cranelift_codegen::loop_analysis::LoopAnalysis;
use rustc_hash::FxHashMap;
use saturn::{EGraph, Id};
use smallvec::SmallVec;

use crate::analysis::{ClifAnalysis, Fact};
use crate::eval::{is_const_opcode, is_vec128, sext};
use crate::lang::{Node, Op};
use crate::lower::Templates;

/// What elaboration needs besides the function.
pub struct Elaborator<'a> {
    /// The e-graph.
    pub egraph: &'a EGraph<Node, ClifAnalysis>,
    /// The chosen node of each class (by canonical class index).
    pub best: &'a [Option<Node>],
    /// Opaque instruction templates.
    pub templates: &'a Templates,
    /// Class of each value (by index), when it has one.
    pub value_class: &'a [Option<Id>],
    /// Whether each value (by index) was the result of a pure instruction.
    pub pure_value: &'a [bool],
    /// Branch conditions to take from another class: inst -> (class, swap
    /// the targets).
    pub cond_override: FxHashMap<Inst, (Id, bool)>,
    /// Hoist loop-invariant values.
    pub licm: bool,
    /// Re-create constants in each block.
    pub remat: bool,
    scope: FxHashMap<Id, Value>,
    undo: Vec<Vec<(Id, Option<Value>)>>,
    level: FxHashMap<Block, usize>,
    remat_map: FxHashMap<(Block, Id), Value>,
}

impl<'a> Elaborator<'a> {
    /// A new elaborator.
    pub fn new(
        egraph: &'a EGraph<Node, ClifAnalysis>,
        best: &'a [Option<Node>],
        templates: &'a Templates,
        value_class: &'a [Option<Id>],
        pure_value: &'a [bool],
    ) -> Self {
        Elaborator {
            egraph,
            best,
            templates,
            value_class,
            pure_value,
            cond_override: FxHashMap::default(),
            licm: true,
            remat: true,
            scope: FxHashMap::default(),
            undo: vec![],
            level: FxHashMap::default(),
            remat_map: FxHashMap::default(),
        }
    }

    /// Rebuilds `func` (whose pure instructions were already removed from
    /// the layout) by walking its dominator tree.
    pub fn run(&mut self, func: &mut Function, domtree: &DominatorTree, loops: &LoopAnalysis) {
        enum Ev {
            Enter(Block),
            Exit,
        }
        let Some(entry) = func.layout.entry_block() else {
            return;
        };
        let mut stack = vec![Ev::Enter(entry)];
        while let Some(ev) = stack.pop() {
            match ev {
                Ev::Enter(b) => {
                    self.level.insert(b, self.undo.len());
                    self.undo.push(vec![]);
                    self.block(func, domtree, loops, b);
                    stack.push(Ev::Exit);
                    let kids: Vec<Block> = domtree.children(b).collect();
                    for k in kids.into_iter().rev() {
                        stack.push(Ev::Enter(k));
                    }
                }
                Ev::Exit => {
                    for (id, prev) in self.undo.pop().unwrap_or_default().into_iter().rev() {
                        match prev {
                            Some(v) => self.scope.insert(id, v),
                            None => self.scope.remove(&id),
                        };
                    }
                }
            }
        }
    }

    fn block(&mut self, func: &mut Function, dt: &DominatorTree, loops: &LoopAnalysis, b: Block) {
        // New instructions go before the current one, so the next one is
        // still the one after it.
        let mut cursor = func.layout.first_inst(b);
        while let Some(inst) = cursor {
            cursor = func.layout.next_inst(inst);
            let vals: SmallVec<[Value; 8]> = func.dfg.inst_values(inst).collect();
            if vals.is_empty() {
                continue;
            }
            let mut new: SmallVec<[Value; 8]> = SmallVec::with_capacity(vals.len());
            let over = self.cond_override.get(&inst).copied();
            for (i, &v) in vals.iter().enumerate() {
                let nv = match over {
                    Some((c, _)) if i == 0 => self.class(func, dt, loops, c, b, inst),
                    _ => self.value(func, dt, loops, v, b, inst),
                };
                new.push(nv);
            }
            if new != vals {
                func.dfg.overwrite_inst_values(inst, new.into_iter());
            }
            if let Some((_, true)) = over {
                if let InstructionData::Brif { blocks, .. } = &mut func.dfg.insts[inst] {
                    blocks.swap(0, 1);
                }
            }
        }
    }

    fn value(
        &mut self,
        func: &mut Function,
        dt: &DominatorTree,
        loops: &LoopAnalysis,
        v: Value,
        b: Block,
        before: Inst,
    ) -> Value {
        if self.pure_value.get(v.index()).copied().unwrap_or(false) {
            if let Some(c) = self.value_class[v.index()] {
                return self.class(func, dt, loops, c, b, before);
            }
        }
        v
    }

    fn is_remat(&self, c: Id) -> bool {
        self.remat
            && matches!(
                self.best[self.egraph.find(c).index()]
                    .as_ref()
                    .map(|n| n.op),
                Some(Op::Inst(
                    Opcode::Iconst | Opcode::F32const | Opcode::F64const
                ))
            )
    }

    fn ty_of(&self, c: Id) -> Type {
        self.egraph[c].data.as_ty().unwrap_or(types::INVALID)
    }

    /// The value of class `c`, available before `before` in block `b`.
    fn class(
        &mut self,
        func: &mut Function,
        dt: &DominatorTree,
        loops: &LoopAnalysis,
        c: Id,
        b: Block,
        before: Inst,
    ) -> Value {
        let c = self.egraph.find(c);
        if let Some(&v) = self.scope.get(&c) {
            return v;
        }
        if let Some(&v) = self.remat_map.get(&(b, c)) {
            return v;
        }
        let node = self.best[c.index()]
            .clone()
            .expect("every needed class has a best node");
        let (v, at) = match node.op {
            Op::Val(idx, _) => return Value::from_u32(idx),
            Op::Inst(op) if is_const_opcode(op) => {
                let ty = self.ty_of(node.children[0]);
                let k = self.egraph[node.children[1]].data.as_imm().unwrap_or(0);
                let v = emit_const(func, ty, k, before);
                if self.remat && matches!(op, Opcode::Iconst | Opcode::F32const | Opcode::F64const)
                {
                    self.remat_map.insert((b, c), v);
                    return v;
                }
                (v, b)
            }
            Op::Ty(_) | Op::Imm(_) | Op::Cc(_) => unreachable!("leaf classes are not values"),
            Op::Inst(_) | Op::Opaque(_) => {
                let kids: SmallVec<[Id; 4]> = SmallVec::from_slice(node.value_children());
                let mut args: SmallVec<[Option<Value>; 4]> = SmallVec::with_capacity(kids.len());
                for &k in &kids {
                    if self.is_remat(k) {
                        args.push(None);
                    } else {
                        args.push(Some(self.class(func, dt, loops, k, b, before)));
                    }
                }
                let (tb, tbefore) = if self.licm {
                    hoist_target(func, dt, loops, b, before, args.iter().flatten())
                } else {
                    (b, before)
                };
                let mut vals: SmallVec<[Value; 4]> = SmallVec::with_capacity(kids.len());
                for (i, &k) in kids.iter().enumerate() {
                    match args[i] {
                        Some(v) => vals.push(v),
                        None => vals.push(self.class(func, dt, loops, k, tb, tbefore)),
                    }
                }
                (self.build(func, &node, &vals, tbefore), tb)
            }
        };
        let lvl = self.level.get(&at).copied().unwrap_or(0);
        let prev = self.scope.insert(c, v);
        if let Some(u) = self.undo.get_mut(lvl) {
            u.push((c, prev));
        }
        v
    }

    fn build(&self, func: &mut Function, node: &Node, args: &[Value], before: Inst) -> Value {
        let ty = self.ty_of(node.children[0]);
        let (data, ctrl) = match node.op {
            Op::Inst(op) => {
                let data = match op.format() {
                    InstructionFormat::Unary => InstructionData::Unary {
                        opcode: op,
                        arg: args[0],
                    },
                    InstructionFormat::Binary => InstructionData::Binary {
                        opcode: op,
                        args: [args[0], args[1]],
                    },
                    InstructionFormat::Ternary => InstructionData::Ternary {
                        opcode: op,
                        args: [args[0], args[1], args[2]],
                    },
                    InstructionFormat::IntCompare => {
                        let cond = match self.egraph[node.children[1]].data {
                            Fact::Cc(c) => c,
                            _ => IntCC::Equal,
                        };
                        InstructionData::IntCompare {
                            opcode: op,
                            args: [args[0], args[1]],
                            cond,
                        }
                    }
                    f => unreachable!("unmodelled format {f:?}"),
                };
                let cons = op.constraints();
                let ctrl = if !cons.is_polymorphic() {
                    types::INVALID
                } else if cons.use_typevar_operand() {
                    let tv = data
                        .typevar_operand(&func.dfg.value_lists)
                        .expect("typevar operand");
                    func.dfg.value_type(tv)
                } else {
                    ty
                };
                (data, ctrl)
            }
            Op::Opaque(k) => {
                let (mut data, ctrl) = self.templates.list[k as usize];
                data.arguments_mut(&mut func.dfg.value_lists)
                    .copy_from_slice(args);
                (data, ctrl)
            }
            _ => unreachable!(),
        };
        let inst = func.dfg.make_inst(data);
        func.dfg.make_inst_results(inst, ctrl);
        func.layout.insert_inst(inst, before);
        func.dfg.first_result(inst)
    }
}

/// Where a value with operands `args`, needed before `before` in `b`, may
/// go: out of every enclosing loop that defines none of its operands.
fn hoist_target<'v>(
    func: &Function,
    dt: &DominatorTree,
    loops: &LoopAnalysis,
    b: Block,
    before: Inst,
    args: impl Iterator<Item = &'v Value>,
) -> (Block, Inst) {
    let defs: SmallVec<[Block; 4]> = args
        .filter_map(|&v| match func.dfg.value_def(v) {
            ValueDef::Result(i, _) => func.layout.inst_block(i),
            ValueDef::Param(bb, _) => Some(bb),
            _ => None,
        })
        .collect();
    let (mut tb, mut tbefore) = (b, before);
    while let Some(lp) = loops.innermost_loop(tb) {
        if defs.iter().any(|&d| loops.is_in_loop(d, lp)) {
            break;
        }
        let Some(pre) = dt.idom(loops.loop_header(lp)) else {
            break;
        };
        let Some(term) = func.layout.last_inst(pre) else {
            break;
        };
        tb = pre;
        tbefore = term;
    }
    (tb, tbefore)
}

/// Emits constant `k` of type `ty` before `before` (i128 constants take two
/// or three instructions, as CLIF has no 128-bit `iconst`).
pub fn emit_const(func: &mut Function, ty: Type, k: u128, before: Inst) -> Value {
    let mut ins = |data: InstructionData, ctrl: Type| -> Value {
        let inst = func.dfg.make_inst(data);
        func.dfg.make_inst_results(inst, ctrl);
        func.layout.insert_inst(inst, before);
        func.dfg.first_result(inst)
    };
    let iconst = |v: u64| InstructionData::UnaryImm {
        opcode: Opcode::Iconst,
        imm: Imm64::new(v as i64),
    };
    match ty {
        types::F16 => {
            return ins(
                InstructionData::UnaryIeee16 {
                    opcode: Opcode::F16const,
                    imm: Ieee16::with_bits(k as u16),
                },
                types::INVALID,
            )
        }
        types::F32 => {
            return ins(
                InstructionData::UnaryIeee32 {
                    opcode: Opcode::F32const,
                    imm: Ieee32::with_bits(k as u32),
                },
                types::INVALID,
            )
        }
        types::F64 => {
            return ins(
                InstructionData::UnaryIeee64 {
                    opcode: Opcode::F64const,
                    imm: Ieee64::with_bits(k as u64),
                },
                types::INVALID,
            )
        }
        _ if ty == types::F128 || is_vec128(ty) => {
            let handle = func
                .dfg
                .constants
                .insert(ConstantData::from(&k.to_le_bytes()[..]));
            let (opcode, ctrl) = if ty == types::F128 {
                (Opcode::F128const, types::INVALID)
            } else {
                (Opcode::Vconst, ty)
            };
            let inst = func.dfg.make_inst(InstructionData::UnaryConst {
                opcode,
                constant_handle: handle,
            });
            func.dfg.make_inst_results(inst, ctrl);
            func.layout.insert_inst(inst, before);
            return func.dfg.first_result(inst);
        }
        _ if ty != types::I128 => return ins(iconst(k as u64), ty),
        _ => {}
    }
    let lo = k as u64;
    let hi = (k >> 64) as u64;
    let l = ins(iconst(lo), types::I64);
    if hi == 0 {
        ins(
            InstructionData::Unary {
                opcode: Opcode::Uextend,
                arg: l,
            },
            types::I128,
        )
    } else if sext(lo as u128, 64) as u128 == k {
        ins(
            InstructionData::Unary {
                opcode: Opcode::Sextend,
                arg: l,
            },
            types::I128,
        )
    } else {
        let h = ins(iconst(hi), types::I64);
        ins(
            InstructionData::Binary {
                opcode: Opcode::Iconcat,
                args: [l, h],
            },
            types::I64,
        )
    }
}
