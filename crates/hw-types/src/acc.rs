//! An exact (Kulisch-style) accumulator: a wide two's-complement fixed-point register that adds
//! `int * 2^exp` terms without any rounding, then rounds once. This is how the reference profile
//! defines reduce-sum and every MXINT8 reduction: the result cannot depend on summation order.
//!
//! Terms of nearby exponents (the common case: block scales of one tensor are alike) are summed
//! in an `i128` window aligned to the smallest exponent seen; only a term that does not fit the
//! window flushes it into the 640-bit register. Both paths are exact.

use crate::float::{Dyadic, Format, Value};
use crate::policy;
use crate::status::{RoundingMode, Status, StatusAnd};

const LIMBS: usize = 10;
/// Weight of the register's least significant bit. The smallest term the project adds is an MXINT8
/// block product `2^(-127-127-12) = 2^-266`; FP32 subnormals are `2^-149`.
pub const ACC_LSB_EXP: i32 = -320;
/// Largest term exponent accepted: MXINT8 block products reach `2^(127+127-12) * 2^20`; 640 bits
/// leave room for 2^50 such terms above that.
pub const ACC_MAX_TERM_EXP: i32 = 256;

/// Exact sum of terms, with IEEE special-value bookkeeping.
#[derive(Clone, Debug)]
pub struct ExactAcc {
    limbs: [u64; LIMBS],
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
    /// Whether every addend so far was `-0` (an IEEE sum of only `-0` is `-0`).
    only_neg_zeros: bool,
    empty: bool,
    /// The fast window: `window * 2^window_exp`, not yet in `limbs`.
    window: i128,
    window_exp: i32,
}

impl Default for ExactAcc {
    fn default() -> Self {
        Self::new()
    }
}

impl ExactAcc {
    pub fn new() -> Self {
        ExactAcc {
            limbs: [0; LIMBS],
            nan: false,
            pos_inf: false,
            neg_inf: false,
            only_neg_zeros: true,
            empty: true,
            window: 0,
            window_exp: 0,
        }
    }

    /// Add `int * 2^exp` exactly. `exp` must lie in `ACC_LSB_EXP..=ACC_MAX_TERM_EXP`.
    #[inline]
    pub fn add_int(&mut self, int: i64, exp: i32) {
        self.empty = false;
        self.only_neg_zeros = false;
        if int == 0 {
            return;
        }
        assert!(
            (ACC_LSB_EXP..=ACC_MAX_TERM_EXP).contains(&exp),
            "ExactAcc: term exponent {exp} outside {ACC_LSB_EXP}..={ACC_MAX_TERM_EXP}"
        );
        if self.window == 0 {
            self.window = int as i128;
            self.window_exp = exp;
            return;
        }
        if exp >= self.window_exp {
            let sh = (exp - self.window_exp) as u32;
            // |int| <= 2^63, so a shift below 63 stays below 2^126 and cannot overflow i128. Any
            // bound up to 64 would be safe and a tighter one only flushes more, equally exactly:
            // no result tells `sh <= 63` or `sh == 63` apart (excluded in .cargo/mutants.toml).
            if sh < 63 {
                if let Some(sum) = self.window.checked_add((int as i128) << sh) {
                    self.window = sum;
                    return;
                }
            }
        } else {
            let sh = (self.window_exp - exp) as u32;
            // The shifted window stays below 2^126. The margin is safe, not tight: `>= sh + 2`
            // would be safe too, and `== sh + 2` or `> sh * 2` only flush more, equally exactly
            // (excluded in .cargo/mutants.toml).
            if self.window.unsigned_abs().leading_zeros() > sh + 2 {
                if let Some(sum) = (self.window << sh).checked_add(int as i128) {
                    self.window = sum;
                    self.window_exp = exp;
                    return;
                }
            }
        }
        flush(&mut self.limbs, self.window, self.window_exp);
        self.window = int as i128;
        self.window_exp = exp;
    }

    /// Add the exact value of a float.
    pub fn add_value(&mut self, v: Value) {
        match v {
            Value::NaN => {
                self.empty = false;
                self.nan = true;
            }
            Value::Inf { neg } => {
                self.empty = false;
                self.only_neg_zeros = false;
                if neg {
                    self.neg_inf = true
                } else {
                    self.pos_inf = true
                }
            }
            Value::Zero { neg } => {
                self.empty = false;
                if !neg {
                    self.only_neg_zeros = false;
                }
            }
            Value::Finite(d) => {
                assert!(
                    d.sig < 1 << 63 && !d.sticky,
                    "ExactAcc: addends of at most 63 significant bits, exact"
                );
                let int = d.sig as i64;
                self.add_int(if d.neg { -int } else { int }, d.exp);
            }
        }
    }

    /// Mark the sum NaN (an MXINT8 block with a NaN scale took part).
    pub fn add_nan(&mut self) {
        self.empty = false;
        self.nan = true;
    }

    /// The exact sum as a [`Value`] (the sticky bit summarises bits below the top 128).
    pub fn value(&self) -> StatusAnd<Value> {
        if self.nan || (self.pos_inf && self.neg_inf) {
            let status = if self.nan {
                Status::OK
            } else {
                Status::INVALID
            };
            return StatusAnd::new(Value::NaN, status);
        }
        if self.pos_inf || self.neg_inf {
            return StatusAnd::new(Value::Inf { neg: self.neg_inf }, Status::OK);
        }
        if self.window != 0 && self.limbs == [0; LIMBS] {
            // The common case: the whole sum is the window, exactly.
            return StatusAnd::new(Value::int(self.window, self.window_exp), Status::OK);
        }
        let mut limbs = self.limbs;
        flush(&mut limbs, self.window, self.window_exp);
        let neg = limbs[LIMBS - 1] >> 63 == 1;
        let mag = if neg { negate(&limbs) } else { limbs };
        let Some(top) = (0..LIMBS).rev().find(|&i| mag[i] != 0) else {
            let neg = policy::exact_zero_sum_is_negative(!self.empty, self.only_neg_zeros);
            return StatusAnd::new(Value::Zero { neg }, Status::OK);
        };
        // Gather the top 128 bits starting at the leading one, and a sticky bit for the rest.
        // The two sides of each `|` below occupy disjoint bits, so `^` (a mutant cargo-mutants
        // tries) computes the same word (excluded in .cargo/mutants.toml).
        let lz = mag[top].leading_zeros();
        // Limbs below limb 0 read as zeros (top < LIMBS, so nothing is read above).
        let get = |i: isize| if i >= 0 { mag[i as usize] } else { 0 };
        let t = top as isize;
        let w0 = get(t);
        let w1 = get(t - 1);
        let w2 = get(t - 2);
        let hi = if lz == 0 {
            w0
        } else {
            (w0 << lz) | (w1 >> (64 - lz))
        };
        let lo = if lz == 0 {
            w1
        } else {
            (w1 << lz) | (w2 >> (64 - lz))
        };
        let sig = ((hi as u128) << 64) | lo as u128;
        let below_mask = u64::MAX >> lz;
        let sticky = (w2 & below_mask) != 0 || (0..(top.saturating_sub(2))).any(|i| mag[i] != 0);
        // Bit 127 of sig has weight 2^(64*top + 63 - lz + ACC_LSB_EXP).
        let exp = 64 * top as i32 + 63 - lz as i32 + ACC_LSB_EXP - 127;
        StatusAnd::new(
            Value::Finite(Dyadic {
                neg,
                sig,
                exp,
                sticky,
            }),
            Status::OK,
        )
    }

    /// The exact sum rounded once to `F`.
    pub fn round<F: Format>(&self, mode: RoundingMode) -> StatusAnd<F> {
        let v = self.value();
        F::round(v.value, mode).with(v.status)
    }
}

/// Add `v * 2^exp` into the register (two's complement, sign-extended to the top).
fn flush(limbs: &mut [u64; LIMBS], v: i128, exp: i32) {
    if v == 0 {
        return;
    }
    let pos = (exp - ACC_LSB_EXP) as usize;
    let (idx, off) = (pos / 64, (pos % 64) as u32);
    // v << off as a 192-bit two's-complement number, then sign extension.
    let words = if off == 0 {
        [v as u64, (v >> 64) as u64, (v >> 127) as u64]
    } else {
        [
            (v as u64) << off,
            (v >> (64 - off)) as u64,
            (v >> (128 - off)) as u64,
        ]
    };
    let ext = (v >> 127) as u64;
    let mut carry = false;
    for (i, limb) in limbs[idx..].iter_mut().enumerate() {
        let addend = if i < 3 { words[i] } else { ext };
        let (s1, c1) = limb.overflowing_add(addend);
        let (s2, c2) = s1.overflowing_add(carry as u64);
        *limb = s2;
        carry = c1 || c2;
        if i >= 2 && ext == 0 && !carry {
            break;
        }
    }
}

fn negate(l: &[u64; LIMBS]) -> [u64; LIMBS] {
    let mut out = [0u64; LIMBS];
    let mut carry = true;
    for (o, x) in out.iter_mut().zip(l) {
        let (s, c) = (!x).overflowing_add(carry as u64);
        *o = s;
        carry = c;
    }
    out
}
