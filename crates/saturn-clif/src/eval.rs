//! Exact evaluation of integer CLIF operators on constants, with the
//! wrap-around of each type (i8 to i128; values are `u128`s holding the
//! zero-extended bit pattern). Used by constant folding and by the rule
//! soundness tests.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Opcode, Type};

/// Width in bits of a scalar integer type, or `None` for any other type.
pub fn int_bits(ty: Type) -> Option<u32> {
    match ty {
        types::I8 => Some(8),
        types::I16 => Some(16),
        types::I32 => Some(32),
        types::I64 => Some(64),
        types::I128 => Some(128),
        _ => None,
    }
}

/// The all-ones value of `bits` bits.
pub fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Sign-extends the low `bits` bits of `v`.
pub fn sext(v: u128, bits: u32) -> i128 {
    let s = 128 - bits;
    ((v << s) as i128) >> s
}

/// Evaluates a condition code on two values of `bits` bits.
pub fn eval_cc(cc: IntCC, a: u128, b: u128, bits: u32) -> bool {
    let (sa, sb) = (sext(a, bits), sext(b, bits));
    match cc {
        IntCC::Equal => a == b,
        IntCC::NotEqual => a != b,
        IntCC::SignedLessThan => sa < sb,
        IntCC::SignedGreaterThanOrEqual => sa >= sb,
        IntCC::SignedGreaterThan => sa > sb,
        IntCC::SignedLessThanOrEqual => sa <= sb,
        IntCC::UnsignedLessThan => a < b,
        IntCC::UnsignedGreaterThanOrEqual => a >= b,
        IntCC::UnsignedGreaterThan => a > b,
        IntCC::UnsignedLessThanOrEqual => a <= b,
    }
}

/// Evaluates `op` with result type `ty` on constant operands `args` (each
/// with its type). `imm` is the immediate of `iconst`, `cc` the condition
/// of `icmp`. Returns `None` for operators, types or operand types it does
/// not model; never panics.
pub fn eval(
    op: Opcode,
    ty: Type,
    imm: Option<u128>,
    cc: Option<IntCC>,
    args: &[(Type, u128)],
) -> Option<u128> {
    let bits = int_bits(ty)?;
    let m = mask(bits);
    let arg_bits = |i: usize| -> Option<u32> { int_bits(args.get(i)?.0) };
    let a = |i: usize| -> Option<u128> { Some(args.get(i)?.1) };
    // Operands of "same type" operators must have the result type.
    let same = |n: usize| -> Option<()> {
        if args.len() == n && args.iter().all(|&(t, v)| t == ty && v & m == v) {
            Some(())
        } else {
            None
        }
    };
    let sh = |i: usize| -> Option<u32> {
        arg_bits(i)?;
        Some((a(i)? as u32) & (bits - 1))
    };
    let r = match op {
        Opcode::Iconst => imm? & m,
        Opcode::Iadd => {
            same(2)?;
            a(0)?.wrapping_add(a(1)?)
        }
        Opcode::Isub => {
            same(2)?;
            a(0)?.wrapping_sub(a(1)?)
        }
        Opcode::Imul => {
            same(2)?;
            a(0)?.wrapping_mul(a(1)?)
        }
        Opcode::Ineg => {
            same(1)?;
            0u128.wrapping_sub(a(0)?)
        }
        Opcode::Band => {
            same(2)?;
            a(0)? & a(1)?
        }
        Opcode::Bor => {
            same(2)?;
            a(0)? | a(1)?
        }
        Opcode::Bxor => {
            same(2)?;
            a(0)? ^ a(1)?
        }
        Opcode::Bnot => {
            same(1)?;
            !a(0)?
        }
        Opcode::Ishl | Opcode::Ushr | Opcode::Sshr | Opcode::Rotl | Opcode::Rotr => {
            if args.len() != 2 || args[0].0 != ty {
                return None;
            }
            let x = a(0)?;
            let s = sh(1)?;
            match op {
                Opcode::Ishl => x << s,
                Opcode::Ushr => x >> s,
                Opcode::Sshr => (sext(x, bits) >> s) as u128,
                Opcode::Rotl => {
                    if s == 0 {
                        x
                    } else {
                        (x << s) | (x >> (bits - s))
                    }
                }
                _ => {
                    if s == 0 {
                        x
                    } else {
                        (x >> s) | (x << (bits - s))
                    }
                }
            }
        }
        Opcode::Umin | Opcode::Umax | Opcode::Smin | Opcode::Smax => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            let (sx, sy) = (sext(x, bits), sext(y, bits));
            match op {
                Opcode::Umin => x.min(y),
                Opcode::Umax => x.max(y),
                Opcode::Smin => {
                    if sx <= sy {
                        x
                    } else {
                        y
                    }
                }
                _ => {
                    if sx >= sy {
                        x
                    } else {
                        y
                    }
                }
            }
        }
        Opcode::Iabs => {
            same(1)?;
            sext(a(0)?, bits).wrapping_abs() as u128
        }
        Opcode::Popcnt => {
            same(1)?;
            a(0)?.count_ones() as u128
        }
        Opcode::Clz => {
            same(1)?;
            (a(0)?.leading_zeros() - (128 - bits)) as u128
        }
        Opcode::Ctz => {
            same(1)?;
            a(0)?.trailing_zeros().min(bits) as u128
        }
        Opcode::Uextend | Opcode::Sextend | Opcode::Ireduce => {
            if args.len() != 1 {
                return None;
            }
            let from = arg_bits(0)?;
            let x = a(0)?;
            match op {
                Opcode::Uextend if from < bits => x,
                Opcode::Sextend if from < bits => sext(x, from) as u128,
                Opcode::Ireduce if from > bits => x,
                _ => return None,
            }
        }
        Opcode::Icmp => {
            if args.len() != 2 || args[0].0 != args[1].0 || ty != types::I8 {
                return None;
            }
            let b = arg_bits(0)?;
            eval_cc(cc?, a(0)?, a(1)?, b) as u128
        }
        Opcode::Select => {
            if args.len() != 3 || args[1].0 != ty || args[2].0 != ty {
                return None;
            }
            arg_bits(0)?;
            if a(0)? != 0 {
                a(1)?
            } else {
                a(2)?
            }
        }
        Opcode::Umulhi | Opcode::Smulhi if bits <= 64 => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            if op == Opcode::Umulhi {
                (x * y) >> bits
            } else {
                ((sext(x, bits) * sext(y, bits)) >> bits) as u128
            }
        }
        Opcode::Bmask => {
            if args.len() != 1 {
                return None;
            }
            arg_bits(0)?;
            if a(0)? != 0 {
                m
            } else {
                0
            }
        }
        Opcode::Iconcat if ty == types::I128 => {
            if args.len() != 2 || args[0].0 != types::I64 || args[1].0 != types::I64 {
                return None;
            }
            a(0)? | (a(1)? << 64)
        }
        _ => return None,
    };
    Some(r & m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_per_type() {
        let i8a = |v| (types::I8, v);
        assert_eq!(
            eval(Opcode::Iadd, types::I8, None, None, &[i8a(200), i8a(100)]),
            Some(44)
        );
        assert_eq!(
            eval(Opcode::Sshr, types::I8, None, None, &[i8a(0x80), i8a(9)]),
            Some(0xc0)
        );
        let big = (types::I128, u128::MAX);
        assert_eq!(
            eval(
                Opcode::Iadd,
                types::I128,
                None,
                None,
                &[big, (types::I128, 1)]
            ),
            Some(0)
        );
        assert_eq!(
            eval(
                Opcode::Icmp,
                types::I8,
                None,
                Some(IntCC::SignedLessThan),
                &[(types::I16, 0xffff), (types::I16, 0)]
            ),
            Some(1)
        );
        assert_eq!(
            eval(Opcode::Uextend, types::I8, None, None, &[i8a(1)]),
            None
        );
    }
}
