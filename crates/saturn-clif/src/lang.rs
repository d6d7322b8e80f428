//! The e-graph language for CLIF values.
//!
//! Every pure CLIF instruction becomes one [`Node`]. Its first child is
//! always a type leaf ([`Op::Ty`], the result type), so rules can be written
//! once for all types with a pattern variable in that position
//! (`(iadd ?t ?x (iconst ?t 0))`). Immediates that rules need to see are
//! leaves too: integer constants ([`Op::Imm`], stored masked to the type's
//! width as a `u128`) and integer condition codes ([`Op::Cc`]).
//!
//! Child layout by operator:
//!
//! | node | children |
//! |---|---|
//! | `iconst` | type, immediate |
//! | `icmp` | result type, condition code, x, y |
//! | other unary/binary/ternary ops | type, operands... |
//! | [`Op::Opaque`] (any other pure instruction) | type, operands... |
//! | [`Op::Val`] (block parameter or skeleton result) | none |

use std::fmt;
use std::str::FromStr;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::instructions::InstructionFormat;
use cranelift_codegen::ir::{types, Opcode, Type};
use saturn::{FromOp, FromOpError, Id, Language};
use smallvec::SmallVec;

/// The operator of a [`Node`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A type leaf.
    Ty(Type),
    /// An integer immediate leaf (zero-extended to 128 bits).
    Imm(u128),
    /// An integer condition-code leaf.
    Cc(IntCC),
    /// A value defined outside the e-graph: a block parameter or the result
    /// of a side-effecting (skeleton) instruction. Holds the value's index
    /// and its type.
    Val(u32, Type),
    /// A pure instruction with a modelled format (unary, binary, ternary,
    /// integer compare, `iconst`).
    Inst(Opcode),
    /// Any other pure instruction: an index into the function's table of
    /// instruction templates (see `lower::Templates`).
    Opaque(u32),
}

impl Op {
    fn key(&self) -> (u8, u128, u32) {
        match *self {
            Op::Ty(t) => (0, t.index() as u128, 0),
            Op::Imm(v) => (1, v, 0),
            Op::Cc(c) => (2, c as u128, 0),
            Op::Val(v, t) => (3, v as u128, t.index() as u32),
            Op::Inst(o) => (4, o as u128, 0),
            Op::Opaque(k) => (5, k as u128, 0),
        }
    }
}

impl Ord for Op {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Op {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An e-node: an operator and its children.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// The operator.
    pub op: Op,
    /// The children (see the module docs for their layout).
    pub children: SmallVec<[Id; 4]>,
}

impl Node {
    /// A node from an operator and children.
    pub fn new(op: Op, children: &[Id]) -> Node {
        Node {
            op,
            children: SmallVec::from_slice(children),
        }
    }

    /// A leaf.
    pub fn leaf(op: Op) -> Node {
        Node::new(op, &[])
    }

    /// The children that are values (not type, immediate or condition
    /// leaves).
    pub fn value_children(&self) -> &[Id] {
        match self.op {
            Op::Ty(_) | Op::Imm(_) | Op::Cc(_) | Op::Val(..) => &[],
            Op::Inst(o) if crate::eval::is_const_opcode(o) => &[],
            Op::Inst(Opcode::Icmp) => &self.children[2..],
            Op::Inst(_) | Op::Opaque(_) => &self.children[1..],
        }
    }
}

impl Ord for Node {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.op, self.children.len(), &self.children[..]).cmp(&(
            other.op,
            other.children.len(),
            &other.children[..],
        ))
    }
}

impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Language for Node {
    type Discriminant = (Op, usize);

    #[inline(always)]
    fn discriminant(&self) -> Self::Discriminant {
        (self.op, self.children.len())
    }

    #[inline(always)]
    fn matches(&self, other: &Self) -> bool {
        self.op == other.op && self.children.len() == other.children.len()
    }

    #[inline(always)]
    fn children(&self) -> &[Id] {
        &self.children
    }

    #[inline(always)]
    fn children_mut(&mut self) -> &mut [Id] {
        &mut self.children
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Op::Ty(t) => write!(f, "{t}"),
            Op::Imm(v) => write!(f, "{v}"),
            Op::Cc(c) => write!(f, "{c}"),
            Op::Val(v, _) => write!(f, "v{v}"),
            Op::Inst(o) => write!(f, "{o}"),
            Op::Opaque(k) => write!(f, "opaque{k}"),
        }
    }
}

/// The scalar integer types, by name.
pub fn int_type_by_name(s: &str) -> Option<Type> {
    Some(match s {
        "i8" => types::I8,
        "i16" => types::I16,
        "i32" => types::I32,
        "i64" => types::I64,
        "i128" => types::I128,
        _ => return None,
    })
}

/// True when `op` is modelled by [`Op::Inst`] (its format is one whose
/// children the e-graph understands).
pub fn is_modelled(op: Opcode) -> bool {
    match op.format() {
        InstructionFormat::Unary | InstructionFormat::Binary | InstructionFormat::Ternary => true,
        InstructionFormat::IntCompare => op == Opcode::Icmp,
        InstructionFormat::UnaryImm => op == Opcode::Iconst,
        InstructionFormat::UnaryIeee16
        | InstructionFormat::UnaryIeee32
        | InstructionFormat::UnaryIeee64 => true,
        InstructionFormat::UnaryConst => matches!(op, Opcode::F128const | Opcode::Vconst),
        _ => false,
    }
}

/// Parsing for rule files: type names, condition codes, decimal
/// immediates, and opcode names (with at least one child).
impl FromOp for Node {
    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, FromOpError> {
        let err = || FromOpError::new(op, children.len(), Opcode::from_str(op).is_ok());
        if children.is_empty() {
            if let Some(t) = int_type_by_name(op) {
                return Ok(Node::leaf(Op::Ty(t)));
            }
            if let Ok(v) = op.parse::<u128>() {
                return Ok(Node::leaf(Op::Imm(v)));
            }
            if let Ok(c) = IntCC::from_str(op) {
                return Ok(Node::leaf(Op::Cc(c)));
            }
            return Err(err());
        }
        let opcode = Opcode::from_str(op).map_err(|_| err())?;
        if !is_modelled(opcode) {
            return Err(err());
        }
        let n = opcode.constraints().num_fixed_value_arguments();
        let want = match opcode {
            _ if crate::eval::is_const_opcode(opcode) => 2,
            Opcode::Icmp => 4,
            _ => n + 1,
        };
        if children.len() != want {
            return Err(err());
        }
        Ok(Node {
            op: Op::Inst(opcode),
            children: SmallVec::from_vec(children),
        })
    }
}
