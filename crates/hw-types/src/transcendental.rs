//! Correctly rounded transcendental functions (exp, cos, sin, pow) for BF16/FP32 results.
//!
//! Method (Ziv's strategy with a proof at every step): evaluate in f64 with the `libm` crate (a
//! pure-Rust port of musl, so the same on every platform), whose documented error is below 1 ulp;
//! widen that to the interval `y * (1 +- 2^-45)` (an error bound of 256 f64 ulps) and round both
//! ends. Rounding is monotonic, so if both ends round to the same pattern so does the exact value.
//! Otherwise re-evaluate with `astro-float` at 256, 512, ... bits and repeat with a correspondingly
//! narrow interval. For the non-zero arguments that reach this code the exact results are
//! transcendental (Lindemann–Weierstrass), so they never sit exactly on a rounding boundary and
//! the loop ends.

use crate::float::{value_of_f64, Dyadic, Format, Value};
use crate::status::{RoundingMode, StatusAnd};
use astro_float::{BigFloat, Consts, RoundingMode as AstroRm};

/// log2 of the relative error bound assumed for a libm f64 result.
const F64_REL_ERR_LOG2: u32 = 45;

/// Which function to evaluate at a nonzero finite f64 argument `x` (or `base^x` for `Pow`).
#[derive(Clone, Copy, Debug)]
pub enum Transcendental {
    Exp,
    Cos,
    Sin,
    /// `base ^ x` for a positive base.
    Pow {
        base: f64,
    },
}

impl Transcendental {
    fn eval_f64(self, x: f64) -> f64 {
        match self {
            Transcendental::Exp => libm::exp(x),
            Transcendental::Cos => libm::cos(x),
            Transcendental::Sin => libm::sin(x),
            Transcendental::Pow { base } => libm::pow(base, x),
        }
    }

    fn eval_big(self, x: f64, prec: usize, cc: &mut Consts) -> BigFloat {
        let bx = BigFloat::from_f64(x, prec);
        let rm = AstroRm::ToEven;
        match self {
            Transcendental::Exp => bx.exp(prec, rm, cc),
            Transcendental::Cos => bx.cos(prec, rm, cc),
            Transcendental::Sin => bx.sin(prec, rm, cc),
            Transcendental::Pow { base } => BigFloat::from_f64(base, prec).pow(&bx, prec, rm, cc),
        }
    }

    /// Correctly round `f(x)` to `F`. `x` must be finite and the caller handles arguments with an
    /// exact (algebraic) result such as `exp(0)`, `cos(0)`, `sin(0)`, `pow(b, 0)`.
    pub fn round<F: Format>(self, x: f64, mode: RoundingMode) -> StatusAnd<F> {
        let y = self.eval_f64(x);
        if let Some(r) = round_interval_f64::<F>(y, mode) {
            return r;
        }
        let mut cc = Consts::new().expect("astro-float constants cache");
        let mut prec = 256;
        loop {
            let big = self.eval_big(x, prec, &mut cc);
            if let Some(r) = round_big::<F>(&big, mode) {
                return r;
            }
            if prec >= 8192 {
                // Unreachable for transcendental results (see the module doc); keep a defined answer.
                return F::from_f64(y, mode);
            }
            prec *= 2;
        }
    }
}

/// Round both ends of `y * (1 +- 2^-45)`; `Some` when they agree.
fn round_interval_f64<F: Format>(y: f64, mode: RoundingMode) -> Option<StatusAnd<F>> {
    match value_of_f64(y) {
        // libm overflowed: the exact value is beyond f64 range, far beyond F's.
        Value::Inf { neg } => Some(F::round(huge(neg), mode)),
        Value::NaN => None,
        // Zero or subnormal f64: the exact value is nonzero and below 2^-1000, far below F's
        // smallest subnormal; every such value rounds the same way.
        Value::Zero { neg } => Some(F::round(tiny(neg), mode)),
        Value::Finite(d) if d.top_exp() < -1000 => Some(F::round(tiny(d.neg), mode)),
        Value::Finite(d) => {
            let k = F64_REL_ERR_LOG2;
            let lo = Dyadic::exact(d.neg, d.sig * ((1u128 << k) - 1), d.exp - k as i32);
            let hi = Dyadic::exact(d.neg, d.sig * ((1u128 << k) + 1), d.exp - k as i32);
            same_rounding::<F>(lo, hi, mode)
        }
    }
}

/// Round an astro-float result whose error is below 2 ulps of its mantissa: its top 128 bits
/// `sig` and the remaining bits `rest` place the exact value strictly inside `(sig, sig + 1)` units
/// unless `rest` lies within 2 ulps of either end; then the value is too close to a 128-bit dyadic
/// to decide at this precision (`None`). Inside, every value rounds alike (`sig` has far more than
/// p + 2 bits), which is what the sticky bit expresses.
fn round_big<F: Format>(big: &BigFloat, mode: RoundingMode) -> Option<StatusAnd<F>> {
    let (words, _bits, sign, exponent, _inexact) = big.as_raw_parts()?;
    // Mantissa words are little-endian, the leading one at the top of the last word; the value is
    // 0.m * 2^exponent.
    let n = words.len();
    if n < 3 {
        return None;
    }
    let sig = ((words[n - 1] as u128) << 64) | words[n - 2] as u128;
    let rest = &words[..n - 2];
    let near_low = rest[0] <= 2 && rest[1..].iter().all(|&w| w == 0);
    let near_high = rest[0] >= u64::MAX - 2 && rest[1..].iter().all(|&w| w == u64::MAX);
    if near_low || near_high || sig >> 127 != 1 {
        return None;
    }
    let d = Dyadic {
        neg: sign == astro_float::Sign::Neg,
        sig,
        exp: exponent - 128,
        sticky: true,
    };
    Some(F::round(Value::Finite(d), mode))
}

fn same_rounding<F: Format>(a: Dyadic, b: Dyadic, mode: RoundingMode) -> Option<StatusAnd<F>> {
    let ra = F::round(Value::Finite(a), mode);
    let rb = F::round(Value::Finite(b), mode);
    (ra.value == rb.value).then_some(ra)
}

/// A stand-in for a nonzero magnitude above every finite value of the target formats.
fn huge(neg: bool) -> Value {
    Value::Finite(Dyadic::exact(neg, 3, 2000))
}

/// A stand-in for a nonzero magnitude below `2^-1000`, with the sticky bit marking it inexact.
fn tiny(neg: bool) -> Value {
    Value::Finite(Dyadic {
        neg,
        sig: 1 << 127,
        exp: -1200,
        sticky: true,
    })
}

/// `e^x`, correctly rounded, with the IEEE special cases of docs/numerics.md.
pub fn exp<F: Format, R: Format>(x: F, mode: RoundingMode) -> StatusAnd<R> {
    match x.value() {
        Value::NaN => StatusAnd::new(R::nan(), Default::default()),
        Value::Zero { .. } => R::from_f64(1.0, mode),
        Value::Inf { neg: false } => R::round(Value::Inf { neg: false }, mode),
        Value::Inf { neg: true } => R::round(Value::Zero { neg: false }, mode),
        Value::Finite(_) => Transcendental::Exp.round(x.to_f64(), mode),
    }
}

/// `cos(x)`, correctly rounded; NaN for infinite x.
pub fn cos<F: Format, R: Format>(x: F, mode: RoundingMode) -> StatusAnd<R> {
    match x.value() {
        Value::NaN => StatusAnd::new(R::nan(), Default::default()),
        Value::Inf { .. } => StatusAnd::new(R::nan(), crate::status::Status::INVALID),
        Value::Zero { .. } => R::from_f64(1.0, mode),
        Value::Finite(_) => Transcendental::Cos.round(x.to_f64(), mode),
    }
}

/// `sin(x)`, correctly rounded; `sin(+-0) = +-0`, NaN for infinite x.
pub fn sin<F: Format, R: Format>(x: F, mode: RoundingMode) -> StatusAnd<R> {
    match x.value() {
        Value::NaN => StatusAnd::new(R::nan(), Default::default()),
        Value::Inf { .. } => StatusAnd::new(R::nan(), crate::status::Status::INVALID),
        Value::Zero { neg } => R::round(Value::Zero { neg }, mode),
        Value::Finite(_) => Transcendental::Sin.round(x.to_f64(), mode),
    }
}
