//! The constant-folding analysis.
//!
//! Each class knows what it is ([`Fact`]): a type leaf, an immediate, a
//! condition code, or a value of some CLIF type, maybe with a known
//! constant. Constants are folded exactly per type by [`crate::eval`], and
//! a class found constant gets an `iconst` node (so rules can match it and
//! extraction can pick it).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Opcode, Type};
use saturn::{Analysis, DidMerge, EGraph, Id};

use crate::eval::{const_bits, const_opcode, eval, is_const_opcode};
use crate::lang::{Node, Op};

/// What a class is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Nothing known (a malformed node).
    None,
    /// A type leaf.
    Ty(Type),
    /// An immediate leaf.
    Imm(u128),
    /// A condition-code leaf.
    Cc(IntCC),
    /// A CLIF value of type `ty`, equal to `konst` when known.
    Value {
        /// The value's type.
        ty: Type,
        /// Its constant value (zero-extended), when known.
        konst: Option<u128>,
    },
}

impl Fact {
    /// The type, for a type leaf.
    pub fn as_ty(self) -> Option<Type> {
        match self {
            Fact::Ty(t) => Some(t),
            _ => None,
        }
    }
    /// The immediate, for an immediate leaf.
    pub fn as_imm(self) -> Option<u128> {
        match self {
            Fact::Imm(v) => Some(v),
            _ => None,
        }
    }
    /// The value type, for a value.
    pub fn value_ty(self) -> Option<Type> {
        match self {
            Fact::Value { ty, .. } => Some(ty),
            _ => None,
        }
    }
    /// The constant, for a value known constant.
    pub fn konst(self) -> Option<u128> {
        match self {
            Fact::Value { konst, .. } => konst,
            _ => None,
        }
    }
}

/// The analysis: [`Fact`]s with exact constant folding.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClifAnalysis;

/// The fact of a node given its children's facts.
pub fn node_fact(n: &Node, child: impl Fn(Id) -> Fact) -> Fact {
    match n.op {
        Op::Ty(t) => Fact::Ty(t),
        Op::Imm(v) => Fact::Imm(v),
        Op::Cc(c) => Fact::Cc(c),
        Op::Val(_, t) => Fact::Value { ty: t, konst: None },
        Op::Inst(op) => {
            let Some(ty) = n.children.first().and_then(|&c| child(c).as_ty()) else {
                return Fact::None;
            };
            let konst = fold(op, ty, n, &child);
            Fact::Value { ty, konst }
        }
        Op::Opaque(_) => match n.children.first().and_then(|&c| child(c).as_ty()) {
            Some(ty) => Fact::Value { ty, konst: None },
            None => Fact::None,
        },
    }
}

fn fold(op: Opcode, ty: Type, n: &Node, child: &impl Fn(Id) -> Fact) -> Option<u128> {
    const_bits(ty)?;
    let (imm, cc) = match op {
        _ if is_const_opcode(op) => (child(n.children[1]).as_imm(), None),
        Opcode::Icmp => match child(n.children[1]) {
            Fact::Cc(c) => (None, Some(c)),
            _ => return None,
        },
        _ => (None, None),
    };
    let mut args: smallvec::SmallVec<[(Type, u128); 3]> = smallvec::SmallVec::new();
    for &c in n.value_children() {
        match child(c) {
            Fact::Value { ty, konst: Some(k) } => args.push((ty, k)),
            _ => return None,
        }
    }
    eval(op, ty, imm, cc, &args)
}

impl Analysis<Node> for ClifAnalysis {
    type Data = Fact;

    fn make(egraph: &EGraph<Node, Self>, enode: &Node) -> Fact {
        node_fact(enode, |c| egraph[c].data)
    }

    fn merge(&self, a: &mut Fact, b: Fact) -> DidMerge {
        match (*a, b) {
            (Fact::None, Fact::None) => DidMerge(false, false),
            (Fact::None, _) => {
                *a = b;
                DidMerge(true, false)
            }
            (_, Fact::None) => DidMerge(false, true),
            (Fact::Value { ty, konst: None }, Fact::Value { konst: Some(k), .. }) => {
                *a = Fact::Value { ty, konst: Some(k) };
                DidMerge(true, false)
            }
            (Fact::Value { konst: Some(_), .. }, Fact::Value { konst: None, .. }) => {
                DidMerge(false, true)
            }
            _ => DidMerge(false, false),
        }
    }

    fn modify(egraph: &mut EGraph<Node, Self>, id: Id) {
        if let Fact::Value { ty, konst: Some(k) } = egraph[id].data {
            if let Some(op) = const_opcode(ty) {
                let t = egraph.add(Node::leaf(Op::Ty(ty)));
                let i = egraph.add(Node::leaf(Op::Imm(k)));
                let c = egraph.add(Node::new(Op::Inst(op), &[t, i]));
                egraph.union(id, c);
            }
        }
    }
}
