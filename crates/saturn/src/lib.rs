#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod analysis;
mod append_only;
mod egraph;
mod error;
mod extract;
mod fixpoint;
mod hashcons;
mod id;
mod language;
mod limits;
mod macros;
mod neighborhood;
mod par;
mod pattern;
mod rewrite;
mod root_counts;
pub mod rules;
mod runner;
pub mod schedule;
pub mod sexp;
mod subst;
mod symbol;
mod symbol_lang;
mod unionfind;

pub use analysis::{merge_max, merge_min, merge_option, Analysis, DidMerge};
pub use append_only::AppendOnlyVec;
pub use egraph::{EClass, EGraph};
pub use error::{ParseError, Pos};
pub use extract::{AstDepth, AstSize, CostFunction, Extractor};
pub use hashcons::Hashcons;
pub use id::Id;
pub use language::{FromOp, FromOpError, Language, LanguageChildren, RecExpr};
#[doc(hidden)]
pub use par::helpers_running;
pub use par::{set_spin_wait, spin_wait};
pub use pattern::{ENodeOrVar, Pattern, MAX_PATTERN_CHILDREN, MAX_PATTERN_DEPTH};
pub use rewrite::{Actions, Applier, Condition, ConditionEqual, Ref, Rewrite};
pub use runner::{Hook, Iteration, Runner, Scheduler, StopReason};
pub use subst::{Subst, Var};
pub use symbol::Symbol;
pub use symbol_lang::SymbolLang;
pub use unionfind::UnionFind;
