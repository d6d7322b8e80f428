//! Extraction costs, after Cranelift's cost model (`egraph/cost.rs`):
//! `iconst`/`f32const`/`f64const` and extensions, reductions and `iconcat`
//! 1, adds, subtracts, logic and shifts (not rotates) 3, multiplies 10,
//! everything else 4; block
//! parameters and skeleton results are free; a node costs its own cost plus
//! its operands'.
//!
//! Tree costs count a shared operand once per use. [`dag_extract`] is the
//! DAG-aware option: it refines the tree choice by charging each class only
//! once per function (classes already needed by the skeleton are free to
//! reuse), which prefers nodes that share work with the rest of the program.

use cranelift_codegen::ir::Opcode;
use rustc_hash::FxHashSet;
use saturn::{CostFunction, EGraph, Extractor, Id, Language};

use crate::analysis::ClifAnalysis;
use crate::lang::{Node, Op};

/// The cost of one node, not counting operands.
pub fn op_cost(n: &Node) -> u64 {
    match n.op {
        Op::Ty(_) | Op::Imm(_) | Op::Cc(_) | Op::Val(..) => 0,
        Op::Inst(Opcode::Iconst | Opcode::F32const | Opcode::F64const) => 1,
        Op::Inst(
            Opcode::Iadd
            | Opcode::Isub
            | Opcode::Ineg
            | Opcode::Band
            | Opcode::Bor
            | Opcode::Bxor
            | Opcode::Bnot
            | Opcode::Ishl
            | Opcode::Ushr
            | Opcode::Sshr,
        ) => 3,
        Op::Inst(
            Opcode::Uextend | Opcode::Sextend | Opcode::Ireduce | Opcode::Iconcat | Opcode::Isplit,
        ) => 1,
        Op::Inst(Opcode::Imul) => 10,
        Op::Inst(_) | Op::Opaque(_) => 4,
    }
}

/// Cranelift's cost model as a tree cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClifCost;

impl CostFunction<Node> for ClifCost {
    type Cost = u64;
    fn cost<C: FnMut(Id) -> u64>(&mut self, enode: &Node, mut costs: C) -> u64 {
        enode.fold(op_cost(enode), |s, c| s.saturating_add(costs(c)))
    }
}

/// Tree extraction: the best node of every class, indexed by class id.
pub fn tree_extract(egraph: &EGraph<Node, ClifAnalysis>) -> Vec<Option<Node>> {
    let ex = Extractor::new(egraph, ClifCost);
    let mut best = vec![None; egraph.number_of_ids()];
    for class in egraph.classes() {
        best[class.id.index()] = ex.find_best_node(class.id).cloned();
    }
    best
}

/// Tree cost with some classes free.
struct SharedCost<'a> {
    free: &'a FxHashSet<Id>,
    egraph: &'a EGraph<Node, ClifAnalysis>,
}

impl CostFunction<Node> for SharedCost<'_> {
    type Cost = u64;
    fn cost<C: FnMut(Id) -> u64>(&mut self, enode: &Node, mut costs: C) -> u64 {
        enode.fold(op_cost(enode), |s, c| {
            if self.free.contains(&self.egraph.find(c)) {
                s
            } else {
                s.saturating_add(costs(c))
            }
        })
    }
}

/// DAG-aware extraction: a tree extraction, then a second one in which the
/// classes the first selection needs from `roots` cost nothing when shared,
/// keeping the second only when the selected DAG is no more expensive.
pub fn dag_extract(egraph: &EGraph<Node, ClifAnalysis>, roots: &[Id]) -> Vec<Option<Node>> {
    let tree = tree_extract(egraph);
    let needed = reachable(egraph, &tree, roots);
    let ex = Extractor::new(
        egraph,
        SharedCost {
            free: &needed,
            egraph,
        },
    );
    let mut shared = vec![None; egraph.number_of_ids()];
    for class in egraph.classes() {
        shared[class.id.index()] = ex.find_best_node(class.id).cloned();
    }
    if !has_cycle(egraph, &shared, roots)
        && dag_cost(egraph, &shared, roots) <= dag_cost(egraph, &tree, roots)
    {
        shared
    } else {
        tree
    }
}

fn reachable(
    egraph: &EGraph<Node, ClifAnalysis>,
    best: &[Option<Node>],
    roots: &[Id],
) -> FxHashSet<Id> {
    let mut seen = FxHashSet::default();
    let mut stack: Vec<Id> = roots.iter().map(|&r| egraph.find(r)).collect();
    while let Some(c) = stack.pop() {
        if !seen.insert(c) {
            continue;
        }
        if let Some(n) = &best[c.index()] {
            for &k in n.children() {
                stack.push(egraph.find(k));
            }
        }
    }
    seen
}

/// The cost of the DAG `best` selects from `roots`: each class once.
pub fn dag_cost(egraph: &EGraph<Node, ClifAnalysis>, best: &[Option<Node>], roots: &[Id]) -> u64 {
    reachable(egraph, best, roots)
        .iter()
        .map(|c| best[c.index()].as_ref().map_or(u64::MAX / 4, op_cost))
        .sum()
}

/// True when the selection `best` reaches a cycle from `roots` (free
/// classes can make a cyclic choice look cheap).
fn has_cycle(egraph: &EGraph<Node, ClifAnalysis>, best: &[Option<Node>], roots: &[Id]) -> bool {
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; best.len()];
    for &r in roots {
        let r = egraph.find(r);
        if state[r.index()] != 0 {
            continue;
        }
        let mut stack: Vec<(Id, usize)> = vec![(r, 0)];
        state[r.index()] = 1;
        while let Some(&mut (c, ref mut i)) = stack.last_mut() {
            let kids = best[c.index()].as_ref().map_or(&[][..], |n| n.children());
            if *i < kids.len() {
                let k = egraph.find(kids[*i]);
                *i += 1;
                match state[k.index()] {
                    0 => {
                        state[k.index()] = 1;
                        stack.push((k, 0));
                    }
                    1 => return true,
                    _ => {}
                }
            } else {
                state[c.index()] = 2;
                stack.pop();
            }
        }
    }
    false
}
