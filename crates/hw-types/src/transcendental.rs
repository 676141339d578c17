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
    /// exact result such as `exp(0)`, `cos(0)`, `sin(0)`, `pow(b, 0)`; a power whose exact value
    /// is a dyadic rational (`4^0.5 = 2`, possibly a rounding midpoint) is rounded exactly here.
    ///
    /// The Ziv loop has no fallback: every value that reaches it is irrational or a non-dyadic
    /// rational, so it lies strictly between two dyadics and a high enough precision separates
    /// it from every rounding boundary (those are dyadic).
    pub fn round<F: Format>(self, x: f64, mode: RoundingMode) -> StatusAnd<F> {
        if let Transcendental::Pow { base } = self {
            if let Some(v) = exact_power(base, x) {
                return F::round(v, mode);
            }
        }
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
            // Doubling bounds the number of rounds; any growth ends the loop with the same
            // result, so `+= 2` (a mutant) only takes longer (excluded in .cargo/mutants.toml).
            prec *= 2;
        }
    }
}

/// `base^x` as an exact value when it is a dyadic rational, else `None` (it is then irrational
/// or a non-dyadic rational, and no rounding boundary). With `base = M * 2^E` (M odd) and
/// `x = P / q` in lowest terms (q a power of two, as for every f64), `base^x` is rational only if
/// `M` is a perfect q-th power `m^q` and `q` divides `E * P`; it is then `m^P * 2^(E P / q)`,
/// dyadic when `P >= 0` or `m = 1`. (RoPE's `base^(2i/d)` with `base = 16` and `d = 8` gives 2.)
fn exact_power(base: f64, x: f64) -> Option<Value> {
    let (Value::Finite(b), Value::Finite(e)) = (value_of_f64(base), value_of_f64(x)) else {
        return None;
    };
    if b.neg {
        return None;
    }
    // base = M * 2^E, M odd; x = P / 2^K, P odd (or an integer P * 2^J).
    let tz = b.sig.trailing_zeros();
    let (m_odd, e2) = (b.sig >> tz, b.exp as i64 + tz as i64);
    let tzx = e.sig.trailing_zeros();
    let (p_mag, xexp) = (e.sig >> tzx, e.exp as i64 + tzx as i64);
    let (p_mag, k) = if xexp >= 0 {
        // An integer exponent: P * 2^J, q = 1.
        (p_mag.checked_mul(1u128.checked_shl(xexp as u32)?)?, 0u32)
    } else {
        (p_mag, (-xexp) as u32)
    };
    let m = if m_odd == 1 {
        1
    } else if k >= 6 {
        // An odd M < 2^53 other than 1 is no perfect q-th power for q >= 64 (3^64 > 2^53).
        return None;
    } else {
        let m = iroot(m_odd as u64, 1u32 << k)?;
        m as u128
    };
    // q | E * P: E * P / 2^k must be an integer (always so for k = 0 and for E * P = 0, whose
    // trailing_zeros is 128, below a k from a tiny x).
    let ep = (e2 as i128).checked_mul(i128::try_from(p_mag).ok()?)?;
    if ep.trailing_zeros() < k && ep != 0 {
        return None;
    }
    // A nonzero E * P divisible by 2^k has k < 128; E * P = 0 (base 1) may come with any k.
    let q = if ep == 0 { 0 } else { ep >> k };
    let pow2 = if e.neg { -q } else { q };
    if e.neg && m != 1 {
        return None;
    }
    let sig = m.checked_pow(u32::try_from(p_mag).ok()?)?;
    let exp = i32::try_from(pow2).ok()?;
    Some(Value::Finite(Dyadic::exact(false, sig, exp)))
}

/// The exact integer q-th root of `n`, if `n` is a perfect q-th power.
///
/// Called with `n < 2^53` and `q` a power of two from 2 to 32, so `1/q` is exact and a root is
/// below `2^26.5`: `powf`'s error (under an ulp, below `2^-26` here) cannot move it past the
/// nearest integer, and rounding the estimate finds it.
fn iroot(n: u64, q: u32) -> Option<u64> {
    let r = (n as f64).powf(1.0 / q as f64).round() as u64;
    ((r as u128).checked_pow(q) == Some(n as u128)).then_some(r)
}

/// Round both ends of `y * (1 +- 2^-45)`; `Some` when they agree.
fn round_interval_f64<F: Format>(y: f64, mode: RoundingMode) -> Option<StatusAnd<F>> {
    match value_of_f64(y) {
        // libm overflowed: the exact value is beyond f64 range, far beyond F's.
        Value::Inf { neg } => Some(F::round(huge(neg), mode)),
        Value::NaN => None,
        // libm underflowed to zero: the exact value is nonzero and below 2^-1074, far below F's
        // smallest subnormal; every such value rounds the same way. (A tiny nonzero result takes
        // the interval below: both of its ends are as far below F's range and round alike.)
        Value::Zero { neg } => Some(F::round(tiny(neg), mode)),
        Value::Finite(d) => {
            // y * (2^45 -+ 1) * 2^-45: both ends share the exponent.
            let exp = d.exp - F64_REL_ERR_LOG2 as i32;
            same_rounding::<F>(lower_end(d, exp), upper_end(d, exp), mode)
        }
    }
}

/// `y * (1 - 2^-45)` exactly, as `sig * (2^45 - 1) * 2^exp` with `exp` = y's exponent - 45
/// (shared with [`upper_end`], so a wrong exponent moves both ends alike and every result with
/// them). A smaller value would only widen the interval: rounding is monotonic, so ends that
/// round alike still decide every value between them, and ends that do not go to the Ziv loop,
/// which rounds the same way (mutants that shrink it are excluded in .cargo/mutants.toml). A
/// larger one narrows the interval, which the tests must catch.
fn lower_end(d: Dyadic, exp: i32) -> Dyadic {
    Dyadic::exact(d.neg, d.sig * ((1u128 << F64_REL_ERR_LOG2) - 1), exp)
}

/// `y * (1 + 2^-45)` exactly, as `sig * (2^45 + 1) * 2^exp`.
fn upper_end(d: Dyadic, exp: i32) -> Dyadic {
    Dyadic::exact(d.neg, d.sig * ((1u128 << F64_REL_ERR_LOG2) + 1), exp)
}

/// Round an astro-float result `0.m * 2^exponent` whose error is below 2 ulps of its `N`-bit
/// mantissa `m`: the exact value lies in `(m - 2, m + 2)` ulps. Its top word `top` (the leading
/// 64 bits, far more than the p + 2 bits a rounding to BF16 or FP32 needs) decides the rounding,
/// with the sticky bit for the rest, when that interval lies strictly inside the cell
/// `(top, top + 1)` (in units of top's last bit), that is when the remaining `N - 64` bits `L`
/// satisfy `2 <= L <= 2^(N-64) - 2`. A lowest word `w` in `2..u64::MAX` guarantees it:
/// `L >= w >= 2` and `L <= 2^(N-64) - 2^64 + w <= 2^(N-64) - 2`. Otherwise (about 2^-62 of the
/// values a round sees) the value may be too close to the cell's edge, a 64-bit dyadic that can
/// be a rounding boundary, and `None` asks for a higher precision.
fn round_big<F: Format>(big: &BigFloat, mode: RoundingMode) -> Option<StatusAnd<F>> {
    let (words, _bits, sign, exponent, _inexact) = big.as_raw_parts()?;
    // Mantissa words are little-endian, the leading one at the top of the last word. The Ziv
    // loop starts at 256 bits, so there are at least four words.
    let (&top, rest) = words.split_last()?;
    if !(2..u64::MAX).contains(rest.first()?) || top.leading_zeros() != 0 {
        return None;
    }
    let d = Dyadic {
        neg: sign == astro_float::Sign::Neg,
        sig: top as u128,
        exp: exponent - 64,
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

/// A stand-in for a nonzero magnitude below `2^-1000` (`2^-1200`), with the sticky bit marking
/// it inexact.
fn tiny(neg: bool) -> Value {
    Value::Finite(Dyadic {
        neg,
        sig: 1,
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
