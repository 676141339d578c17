//! Accumulators of the reduce-sum unit and the MAC array: a stream of exact addends summed the way
//! the configured hardware does it, then rounded once to BF16 (docs/microarchitecture.md).
//!
//! Every accumulator keeps the IEEE flags its own steps raised (sticky, as a hardware flag
//! register would); [`Accumulator::finish`] returns them together with the final rounding's.

use crate::config::{AccKind, Overflow};
use hw_types::{Bf16, Dyadic, ExactAcc, Format, Fp32, RoundingMode, Status, StatusAnd, Value};

const RNE: RoundingMode = RoundingMode::NearestEven;

/// The running state of one accumulation.
#[derive(Clone, Debug)]
pub struct Accumulator {
    state: State,
    /// Flags raised by the additions so far (none for the exact accumulator: it never rounds
    /// before the end).
    flags: Status,
}

#[derive(Clone, Debug)]
enum State {
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
    /// A cleared accumulator: the exact one holds the empty sum, fp32 and bf16 hold `+0`, the
    /// fixed register 0.
    pub fn new(kind: &AccKind) -> Accumulator {
        let state = match *kind {
            AccKind::Exact => State::Exact(ExactAcc::new()),
            AccKind::Fp32 => State::Fp32(Fp32::ZERO),
            AccKind::Bf16 => State::Bf16(Bf16::ZERO),
            AccKind::Fixed {
                int_bits,
                frac_bits,
                overflow,
            } => State::Fixed {
                reg: 0,
                int_bits,
                frac_bits,
                overflow,
                invalid: false,
            },
        };
        Accumulator {
            state,
            flags: Status::OK,
        }
    }

    /// Add `int * 2^exp` (an MXINT8 block result).
    #[inline]
    pub fn add_int(&mut self, int: i64, exp: i32) {
        match &mut self.state {
            State::Exact(a) => a.add_int(int, exp),
            _ => self.add(Value::int(int as i128, exp)),
        }
    }

    /// Add an exact value.
    pub fn add(&mut self, v: Value) {
        match &mut self.state {
            State::Exact(a) => a.add_value(v),
            State::Fp32(acc) => {
                let r = rounded_sum(acc.value(), v);
                *acc = r.value;
                self.flags |= r.status;
            }
            State::Bf16(acc) => {
                let r = rounded_sum(acc.value(), v);
                *acc = r.value;
                self.flags |= r.status;
            }
            State::Fixed {
                reg,
                int_bits,
                frac_bits,
                overflow,
                invalid,
            } => match v {
                Value::Zero { .. } => {}
                Value::Finite(d) => {
                    let n = *int_bits + *frac_bits;
                    let g = to_grid(&d, *frac_bits, n);
                    let (min, max) = (-(1i128 << (n - 1)), (1i128 << (n - 1)) - 1);
                    let sum = *reg + g.clamped;
                    let fits = (min..=max).contains(&sum);
                    *reg = match overflow {
                        Overflow::Saturate => sum.clamp(min, max),
                        Overflow::Wrap => {
                            let low = (*reg as u128).wrapping_add(g.wrapped) & ((1u128 << n) - 1);
                            to_signed(low as i128, n)
                        }
                    };
                    if !g.exact {
                        self.flags |= Status::INEXACT;
                    }
                    if !fits {
                        self.flags |= Status::OVERFLOW | Status::INEXACT;
                    }
                }
                _ => {
                    *invalid = true;
                    self.flags |= Status::INVALID;
                }
            },
        }
    }

    /// Add a NaN (an MXINT8 block with a NaN scale): the result is NaN.
    pub fn add_nan(&mut self) {
        self.add(Value::NaN)
    }

    /// The accumulated value rounded once to `F` in `mode` (the exact accumulator's one rounding;
    /// the others hold an already-rounded or fixed-point value and convert it with
    /// round-to-nearest-even, as their hardware does), with every flag the accumulation raised.
    pub fn finish<F: Format>(&self, mode: RoundingMode) -> StatusAnd<F> {
        let r = match &self.state {
            State::Exact(a) => a.round::<F>(mode),
            State::Fp32(v) => F::round(v.value(), RNE),
            State::Bf16(v) => F::round(v.value(), RNE),
            State::Fixed {
                reg,
                frac_bits,
                invalid,
                ..
            } => {
                if *invalid {
                    StatusAnd::new(F::nan(), Status::OK)
                } else {
                    F::round(Value::int(*reg, -(*frac_bits as i32)), RNE)
                }
            }
        };
        r.with(self.flags)
    }
}

/// `RN_F(a + b)`: the exact sum of two values, one rounding (IEEE addition).
fn rounded_sum<F: Format>(a: Value, b: Value) -> StatusAnd<F> {
    let mut s = ExactAcc::new();
    s.add_value(a);
    s.add_value(b);
    s.round::<F>(RNE)
}

/// An addend on the fixed-point grid: `a = floor(x * 2^frac)` in the two forms the register needs.
struct GridAddend {
    /// `a` clamped to `+-2^n` (a sum with the register then cannot leave i128, and is out of
    /// range exactly when the true sum is; saturation gives the same register value).
    clamped: i128,
    /// `a mod 2^128`: a wrapping register keeps the low `n` bits of its sum with this.
    wrapped: u128,
    /// Whether `x * 2^frac` was already an integer.
    exact: bool,
}

/// `floor(d * 2^frac)` for an `n`-bit register (`n <= 120`).
fn to_grid(d: &Dyadic, frac: u32, n: u32) -> GridAddend {
    // A magnitude of 2^n or more leaves the register's range from any value in it, so larger
    // ones are clamped to 2^n: the sum's range check (and saturation) come out the same.
    let limit = 1u128 << n;
    let shift = d.exp + frac as i32;
    // |x| * 2^frac = fl + (dropped fraction); `low` = fl mod 2^128.
    let (fl, low, dropped) = if shift >= 0 {
        let s = shift as u32;
        let low = d.sig.checked_shl(s).unwrap_or(0);
        // `low` is fl itself unless bits were shifted out; then fl >= 2^128 > limit.
        let fl = if low.checked_shr(s) == Some(d.sig) {
            low.min(limit)
        } else {
            limit
        };
        (fl, low, false)
    } else {
        let s = shift.unsigned_abs();
        let fl = d.sig.checked_shr(s).unwrap_or(0);
        let kept = fl.checked_shl(s).unwrap_or(0);
        (fl.min(limit), fl, d.sig != kept)
    };
    let dropped = dropped || d.sticky;
    if d.neg {
        // floor of a negative value: one more in magnitude when bits were dropped.
        GridAddend {
            clamped: -((fl + dropped as u128) as i128),
            wrapped: low.wrapping_add(dropped as u128).wrapping_neg(),
            exact: !dropped,
        }
    } else {
        GridAddend {
            clamped: fl as i128,
            wrapped: low,
            exact: !dropped,
        }
    }
}

/// The two's-complement value of the low `n` bits `v` (in `[0, 2^n)`).
fn to_signed(v: i128, n: u32) -> i128 {
    if v >> (n - 1) == 1 {
        v - (1i128 << n)
    } else {
        v
    }
}
