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

/// Width in bits of a scalar float type, or `None` for any other type.
pub fn float_bits(ty: Type) -> Option<u32> {
    match ty {
        types::F16 => Some(16),
        types::F32 => Some(32),
        types::F64 => Some(64),
        types::F128 => Some(128),
        _ => None,
    }
}

/// True for 128-bit vector types (the only vectors with constants here).
pub fn is_vec128(ty: Type) -> bool {
    ty.is_vector() && ty.bits() == 128
}

/// Width of the bit pattern of a constant of type `ty`: scalar integers and
/// floats, and 128-bit vectors; `None` for types without constants here.
pub fn const_bits(ty: Type) -> Option<u32> {
    int_bits(ty)
        .or_else(|| float_bits(ty))
        .or_else(|| is_vec128(ty).then_some(128))
}

/// The opcode of a constant of type `ty` (`iconst`, `f16const` to
/// `f128const`, or `vconst`).
pub fn const_opcode(ty: Type) -> Option<Opcode> {
    Some(match ty {
        _ if int_bits(ty).is_some() => Opcode::Iconst,
        types::F16 => Opcode::F16const,
        types::F32 => Opcode::F32const,
        types::F64 => Opcode::F64const,
        types::F128 => Opcode::F128const,
        _ if is_vec128(ty) => Opcode::Vconst,
        _ => return None,
    })
}

/// True for the constant opcodes of [`const_opcode`].
pub fn is_const_opcode(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::Iconst
            | Opcode::F16const
            | Opcode::F32const
            | Opcode::F64const
            | Opcode::F128const
            | Opcode::Vconst
    )
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
    let Some(bits) = int_bits(ty) else {
        return eval_non_int(op, ty, imm, args);
    };
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
        Opcode::Bitselect => {
            same(3)?;
            (a(0)? & a(1)?) | (!a(0)? & a(2)?)
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
        Opcode::Bswap if bits >= 16 => {
            same(1)?;
            a(0)?.swap_bytes() >> (128 - bits)
        }
        Opcode::Bitrev => {
            same(1)?;
            a(0)?.reverse_bits() >> (128 - bits)
        }
        Opcode::Udiv | Opcode::Urem => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            if y == 0 {
                return None;
            }
            if op == Opcode::Udiv {
                x / y
            } else {
                x % y
            }
        }
        Opcode::Sdiv | Opcode::Srem => {
            same(2)?;
            let (x, y) = (sext(a(0)?, bits), sext(a(1)?, bits));
            if y == 0 {
                return None;
            }
            // Only `sdiv` of the smallest value by -1 overflows (and traps);
            // `srem` of it by -1 is 0. Widths up to 64 bits do not overflow
            // an i128; i128 itself is handled by wrapping operations.
            let min = 1u128 << (bits - 1);
            if op == Opcode::Sdiv {
                if a(0)? == min && y == -1 {
                    return None;
                }
                x.wrapping_div(y) as u128
            } else if y == -1 {
                0
            } else {
                x.wrapping_rem(y) as u128
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

/// Evaluates `op` with a float or vector result type, as Cranelift's
/// constant folding does (`cprop.isle`): exactly, with Cranelift's own
/// IEEE immediates (`fma` with Rust's fused `mul_add`, one rounding, as
/// Cranelift's interpreter computes it), and never to a NaN (whose bits
/// hardware may choose) except for the sign-bit operations `fneg`, `fabs`
/// and `fcopysign`. Bitwise operators on 128-bit vectors act on all 128
/// bits.
fn eval_non_int(op: Opcode, ty: Type, imm: Option<u128>, args: &[(Type, u128)]) -> Option<u128> {
    use cranelift_codegen::ir::immediates::{Ieee128, Ieee16, Ieee32, Ieee64};
    let bits = const_bits(ty)?;
    let m = mask(bits);
    let same = |n: usize| -> Option<()> {
        if args.len() == n && args.iter().all(|&(t, v)| t == ty && v & m == v) {
            Some(())
        } else {
            None
        }
    };
    let a = |i: usize| -> Option<u128> { Some(args.get(i)?.1) };
    let sign = 1u128 << (bits - 1);
    let r = match op {
        _ if is_const_opcode(op) => {
            if const_opcode(ty) != Some(op) {
                return None;
            }
            imm? & m
        }
        Opcode::Fneg | Opcode::Fabs if float_bits(ty).is_some() => {
            same(1)?;
            if op == Opcode::Fneg {
                a(0)? ^ sign
            } else {
                a(0)? & !sign
            }
        }
        Opcode::Fcopysign if float_bits(ty).is_some() => {
            same(2)?;
            (a(0)? & !sign) | (a(1)? & sign)
        }
        Opcode::Fmin | Opcode::Fmax => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            let min = op == Opcode::Fmin;
            macro_rules! mm {
                ($t:ty, $u:ty) => {{
                    let (x, y) = (<$t>::with_bits(x as $u), <$t>::with_bits(y as $u));
                    let r = if min { x.minimum(y) } else { x.maximum(y) };
                    r.non_nan()?.bits() as u128
                }};
            }
            match ty {
                types::F16 => mm!(Ieee16, u16),
                types::F32 => mm!(Ieee32, u32),
                types::F64 => mm!(Ieee64, u64),
                types::F128 => mm!(Ieee128, u128),
                _ => return None,
            }
        }
        Opcode::Fadd | Opcode::Fsub | Opcode::Fmul | Opcode::Fdiv => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            macro_rules! arith {
                ($t:ty, $u:ty) => {{
                    let (x, y) = (<$t>::with_bits(x as $u), <$t>::with_bits(y as $u));
                    let r = match op {
                        Opcode::Fadd => x + y,
                        Opcode::Fsub => x - y,
                        Opcode::Fmul => x * y,
                        _ => x / y,
                    };
                    r.non_nan()?.bits() as u128
                }};
            }
            match ty {
                types::F32 => arith!(Ieee32, u32),
                types::F64 => arith!(Ieee64, u64),
                _ => return None,
            }
        }
        // Fused: one rounding, as Cranelift's interpreter computes it.
        Opcode::Fma => {
            same(3)?;
            let (x, y, z) = (a(0)?, a(1)?, a(2)?);
            macro_rules! fma {
                ($f:ty, $u:ty) => {{
                    let [x, y, z] = [x, y, z].map(|v| <$f>::from_bits(v as $u));
                    let r = x.mul_add(y, z);
                    if r.is_nan() {
                        return None;
                    }
                    r.to_bits() as u128
                }};
            }
            match ty {
                types::F32 => fma!(f32, u32),
                types::F64 => fma!(f64, u64),
                _ => return None,
            }
        }
        Opcode::Sqrt | Opcode::Ceil | Opcode::Floor | Opcode::Trunc | Opcode::Nearest => {
            same(1)?;
            let x = a(0)?;
            macro_rules! un {
                ($t:ty, $u:ty) => {{
                    let x = <$t>::with_bits(x as $u);
                    let r = match op {
                        Opcode::Sqrt => x.sqrt(),
                        Opcode::Ceil => x.ceil(),
                        Opcode::Floor => x.floor(),
                        Opcode::Trunc => x.trunc(),
                        _ => x.round_ties_even(),
                    };
                    r.non_nan()?.bits() as u128
                }};
            }
            match ty {
                types::F32 => un!(Ieee32, u32),
                types::F64 => un!(Ieee64, u64),
                _ => return None,
            }
        }
        // Bitwise operators on a 128-bit vector act on its 128 bits
        // whatever its lanes.
        Opcode::Band | Opcode::Bor | Opcode::Bxor if is_vec128(ty) => {
            same(2)?;
            let (x, y) = (a(0)?, a(1)?);
            match op {
                Opcode::Band => x & y,
                Opcode::Bor => x | y,
                _ => x ^ y,
            }
        }
        Opcode::Bnot if is_vec128(ty) => {
            same(1)?;
            !a(0)?
        }
        Opcode::FcvtFromUint | Opcode::FcvtFromSint => {
            if args.len() != 1 {
                return None;
            }
            let from = int_bits(args[0].0).filter(|&b| b <= 64)?;
            let x = a(0)?;
            let signed = op == Opcode::FcvtFromSint;
            match (ty, signed) {
                (types::F32, false) => Ieee32::with_float(x as u64 as f32).bits() as u128,
                (types::F64, false) => Ieee64::with_float(x as u64 as f64).bits() as u128,
                (types::F32, true) => {
                    Ieee32::with_float(sext(x, from) as i64 as f32).bits() as u128
                }
                (types::F64, true) => {
                    Ieee64::with_float(sext(x, from) as i64 as f64).bits() as u128
                }
                _ => return None,
            }
        }
        Opcode::Splat | Opcode::ScalarToVector if is_vec128(ty) => {
            if args.len() != 1 || args[0].0 != ty.lane_type() {
                return None;
            }
            let lb = ty.lane_bits();
            let x = a(0)? & mask(lb);
            if op == Opcode::ScalarToVector {
                x
            } else {
                let mut v = 0u128;
                for i in 0..ty.lane_count() {
                    v |= x << (i * lb);
                }
                v
            }
        }
        Opcode::Select => {
            if args.len() != 3 || args[1].0 != ty || args[2].0 != ty {
                return None;
            }
            int_bits(args[0].0)?;
            if a(0)? != 0 {
                a(1)?
            } else {
                a(2)?
            }
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
