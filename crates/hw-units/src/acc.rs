//! Accumulators of the reduce-sum unit and the MAC array: a stream of exact addends summed the way
//! the configured hardware does it, then rounded once to BF16 (docs/microarchitecture.md).

use crate::config::{AccKind, Overflow};
use hw_types::{Bf16, Dyadic, ExactAcc, Format, Fp32, RoundingMode, Value};

const RNE: RoundingMode = RoundingMode::NearestEven;

/// The running state of one accumulation.
#[derive(Clone, Debug)]
pub enum Accumulator {
    Exact(ExactAcc),
    Fp32(Fp32),
    Bf16(Bf16),
    Fixed {
        reg: i128,
        int_bits: u32,
        frac_bits: u32,
        overflow: Overflow,
        /// A NaN or infinite addend (not representable in fixed point): the result is NaN.
        invalid: bool,
    },
}

impl Accumulator {
    pub fn new(kind: &AccKind) -> Accumulator {
        match *kind {
            AccKind::Exact => Accumulator::Exact(ExactAcc::new()),
            AccKind::Fp32 => Accumulator::Fp32(Fp32::ZERO),
            AccKind::Bf16 => Accumulator::Bf16(Bf16::ZERO),
            AccKind::Fixed {
                int_bits,
                frac_bits,
                overflow,
            } => Accumulator::Fixed {
                reg: 0,
                int_bits,
                frac_bits,
                overflow,
                invalid: false,
            },
        }
    }

    /// Add `int * 2^exp` (an MXINT8 block result).
    #[inline]
    pub fn add_int(&mut self, int: i64, exp: i32) {
        match self {
            Accumulator::Exact(a) => a.add_int(int, exp),
            _ => self.add(Value::int(int as i128, exp)),
        }
    }

    /// Add an exact value.
    pub fn add(&mut self, v: Value) {
        match self {
            Accumulator::Exact(a) => a.add_value(v),
            Accumulator::Fp32(acc) => *acc = rounded_sum(acc.value(), v),
            Accumulator::Bf16(acc) => *acc = rounded_sum(acc.value(), v),
            Accumulator::Fixed {
                reg,
                int_bits,
                frac_bits,
                overflow,
                invalid,
            } => match v {
                Value::Zero { .. } => {}
                Value::Finite(d) => {
                    let n = *int_bits + *frac_bits;
                    let q = to_grid(&d, *frac_bits, n);
                    *reg = fit(*reg + q, n, *overflow);
                }
                _ => *invalid = true,
            },
        }
    }

    /// Mark the result NaN (an MXINT8 block with a NaN scale).
    pub fn add_nan(&mut self) {
        match self {
            Accumulator::Exact(a) => a.add_nan(),
            Accumulator::Fp32(acc) => *acc = Fp32::NAN,
            Accumulator::Bf16(acc) => *acc = Bf16::NAN,
            Accumulator::Fixed { invalid, .. } => *invalid = true,
        }
    }

    /// The accumulated value rounded once to `F` (round-to-nearest-even).
    pub fn finish<F: Format>(&self) -> F {
        match self {
            Accumulator::Exact(a) => a.round::<F>(RNE).value,
            Accumulator::Fp32(v) => F::round(v.value(), RNE).value,
            Accumulator::Bf16(v) => F::round(v.value(), RNE).value,
            Accumulator::Fixed {
                reg,
                frac_bits,
                invalid,
                ..
            } => {
                if *invalid {
                    return F::nan();
                }
                let v = Value::int(*reg, -(*frac_bits as i32));
                F::round(v, RNE).value
            }
        }
    }
}

/// `RN_F(a + b)`: the exact sum of two values, one rounding (IEEE addition).
fn rounded_sum<F: Format>(a: Value, b: Value) -> F {
    let mut s = ExactAcc::new();
    s.add_value(a);
    s.add_value(b);
    s.round::<F>(RNE).value
}

/// `floor(d * 2^frac)` clamped to a little beyond an `n`-bit register, so the overflow policy
/// still sees an out-of-range value.
fn to_grid(d: &Dyadic, frac: u32, n: u32) -> i128 {
    let shift = d.exp + frac as i32;
    let limit = 1i128 << (n + 1).min(125);
    let mag: i128 = if shift >= 0 {
        if d.sig.leading_zeros() as i32 <= shift + 2 || (d.sig << shift) as i128 >= limit {
            limit
        } else {
            (d.sig << shift) as i128
        }
    } else if -shift >= 128 {
        0
    } else {
        (d.sig >> (-shift)).min(limit as u128) as i128
    };
    if d.neg {
        // floor of a negative value: one more in magnitude when bits were dropped.
        let dropped = shift < 0 && (-shift >= 128 || d.sig & ((1u128 << (-shift)) - 1) != 0);
        -(mag + dropped as i128)
    } else {
        mag
    }
}

/// Bring a sum back into an `n`-bit two's-complement register.
fn fit(v: i128, n: u32, overflow: Overflow) -> i128 {
    let max = (1i128 << (n - 1)) - 1;
    let min = -(1i128 << (n - 1));
    match overflow {
        Overflow::Saturate => v.clamp(min, max),
        Overflow::Wrap => {
            let m = v & ((1i128 << n) - 1);
            if m > max {
                m - (1i128 << n)
            } else {
                m
            }
        }
    }
}
