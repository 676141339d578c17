//! The definitions of docs/microarchitecture.md's configurable units, evaluated with unbounded
//! integers (shared by the tests that compare units with them).
#![allow(dead_code)]

use hw_types::{Bf16, Dyadic, Format, RoundingMode, Value};
use hw_units::config::ExpKind;
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};

pub const RNE: RoundingMode = RoundingMode::NearestEven;

/// `floor(a / 2^k)` and `a mod 2^k` for any integer `a`.
pub fn floor_div_pow2(a: &BigInt, k: u32) -> (BigInt, BigInt) {
    let m = BigInt::one() << k;
    let r = ((a % &m) + &m) % &m;
    ((a - &r) / &m, r)
}

/// RNE_bf16(y * 2^e) for a non-negative big integer y.
pub fn round_bf16(y: &BigInt, e: i64) -> Bf16 {
    if y.is_zero() {
        return Bf16::ZERO;
    }
    // Keep the top 120 bits and a sticky bit: far more than BF16's 8 + 2.
    let bits = y.bits() as i64;
    let drop = (bits - 120).max(0);
    let (top, rest) = floor_div_pow2(y, drop as u32);
    let d = Dyadic {
        neg: false,
        sig: top.to_u128().unwrap(),
        exp: (e + drop) as i32,
        sticky: !rest.is_zero(),
    };
    Bf16::round(Value::Finite(d), RNE).value
}

/// `(neg, sig, q)` with `|x| = sig * 2^q` for a finite nonzero BF16.
pub fn parts(x: Bf16) -> (bool, i64, i64) {
    match x.value() {
        Value::Finite(d) => (d.neg, d.sig as i64, d.exp as i64),
        v => panic!("not finite nonzero: {v:?}"),
    }
}

/// The pow2-lut definition, with the unit's exported table.
pub fn pow2_definition(kind: &ExpKind, table: &[u64], x: Bf16) -> Bf16 {
    let ExpKind::Pow2Lut {
        table_bits: b,
        entry_bits: w,
        frac_bits: f,
        const_bits: k,
        interpolate,
    } = *kind
    else {
        unreachable!()
    };
    match x.value() {
        Value::NaN => return Bf16::NAN,
        Value::Inf { neg } => return if neg { Bf16::ZERO } else { Bf16::INFINITY },
        Value::Zero { .. } => return Bf16(0x3f80),
        Value::Finite(d) if d.top_exp() >= 7 => {
            return if d.neg { Bf16::ZERO } else { Bf16::INFINITY }
        }
        Value::Finite(_) => {}
    }
    let (neg, sig, q) = parts(x);
    let l = (std::f64::consts::LOG2_E * 2f64.powi(k as i32)).round_ties_even() as i64;
    // t = floor(x * L * 2^(F-K)), exactly.
    let mut num = BigInt::from(sig) * l;
    if neg {
        num = -num;
    }
    let sh = q + f as i64 - k as i64;
    let t = if sh >= 0 {
        num << sh as u32
    } else {
        floor_div_pow2(&num, (-sh) as u32).0
    };
    let (i, frac) = floor_div_pow2(&t, f);
    let (j, r) = floor_div_pow2(&frac, f - b);
    let j = j.to_usize().unwrap();
    let mut y = BigInt::from(table[j]);
    if interpolate && f > b {
        let step = BigInt::from(table[j + 1]) - BigInt::from(table[j]);
        y += floor_div_pow2(&(step * r), f - b).0;
    }
    round_bf16(&y, i.to_i64().unwrap() - w as i64)
}

/// The newton definition.
pub fn newton_definition(iterations: u32, s: u32, f: u32, x: Bf16) -> Bf16 {
    let (neg, sig, q) = parts(x);
    let top = 63 - sig.leading_zeros() as i64;
    let e = q + top;
    let m = ((sig << (7 - top)) - 128) as u64;
    let dden = (BigInt::one() << (s + 1)) + 2 * BigInt::from(m >> (7 - s)) + 1;
    let mut y = floor_div_pow2(&((BigInt::one() << (f + s + 2)) + &dden), 0).0 / (2 * &dden);
    let d = BigInt::from(128 + m) << (f - 7);
    for _ in 0..iterations {
        let dy = floor_div_pow2(&(&d * &y), f).0;
        let two = (BigInt::one() << (f + 1)) - dy;
        let two = if two.is_negative() {
            BigInt::zero()
        } else {
            two
        };
        y = floor_div_pow2(&(&y * two), f).0;
        assert!(y <= (BigInt::one() << f) + 1, "y exceeds 2^F + 1");
    }
    let y = if y.is_zero() { BigInt::one() } else { y };
    let r = round_bf16(&y, -(f as i64) - e);
    if neg {
        Bf16(r.0 | 0x8000)
    } else {
        r
    }
}

/// The fixed accumulator's definition: each finite addend truncated (toward -inf) onto the grid
/// of `frac_bits` fraction bits, added to an `int_bits + frac_bits`-bit two's-complement register
/// that wraps or saturates, the register rounded once to BF16 (an exact zero is +0). `None`
/// when an addend is infinite or NaN (the result is NaN).
pub fn fixed_definition(int_bits: u32, frac_bits: u32, wrap: bool, xs: &[Bf16]) -> Option<Bf16> {
    let n = int_bits + frac_bits;
    let min: BigInt = -(BigInt::one() << (n - 1));
    let max: BigInt = (BigInt::one() << (n - 1)) - 1;
    let mut reg = BigInt::zero();
    let mut nan = false;
    for x in xs {
        match x.value() {
            Value::Finite(_) => {
                let (neg, sig, q) = parts(*x);
                let v = BigInt::from(if neg { -sig } else { sig });
                let sh = q + frac_bits as i64;
                let g = if sh >= 0 {
                    v << sh as u32
                } else {
                    floor_div_pow2(&v, (-sh) as u32).0
                };
                reg += g;
                reg = if wrap {
                    let (_, low) = floor_div_pow2(&(&reg - &min), n);
                    low + &min
                } else {
                    reg.clone().clamp(min.clone(), max.clone())
                };
            }
            Value::Zero { .. } => {}
            _ => nan = true,
        }
    }
    if nan {
        return None;
    }
    let want = if reg.is_negative() {
        Bf16(round_bf16(&-reg, -(frac_bits as i64)).0 | 0x8000)
    } else {
        round_bf16(&reg, -(frac_bits as i64))
    };
    Some(if want.0 == 0x8000 { Bf16::ZERO } else { want })
}
