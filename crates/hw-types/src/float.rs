//! Binary floating-point formats (BF16, FP32) as bit-pattern newtypes, their exact decoding,
//! and the one round-and-pack routine every rounding in the project goes through.

use crate::policy;
use crate::status::{RoundingMode, Status, StatusAnd};
use std::fmt;

// `round_pack_general` detects tininess after rounding only (see `is_tiny_after_rounding`).
const _: () = assert!(policy::TININESS_AFTER_ROUNDING);

/// Parameters of an IEEE-754-style binary format with subnormals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatSpec {
    pub name: &'static str,
    /// Significand bits including the hidden bit.
    pub precision: u32,
    pub exp_bits: u32,
    pub emin: i32,
    pub emax: i32,
    /// What the all-ones exponent field means (APFloat's non-finite behaviour).
    pub non_finite: NonFinite,
}

/// What a format does with its all-ones exponent field. IEEE formats spend it on infinities
/// and NaNs; the OCP MX element formats spend it (or all but one code of it) on larger finite
/// values, one more binade, so their bias is `emax - 1` instead of `emax`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFinite {
    /// IEEE 754: all-ones exponent with zero fraction is infinity, any other fraction NaN.
    Ieee,
    /// No infinity; only the all-ones code `S.1..1.1..1` is NaN (FP8 E4M3 "FN").
    NanOnly,
    /// Every code is finite (FP6 E3M2 and E2M3, FP4 E2M1).
    FiniteOnly,
}

/// What a rounding does when the result's magnitude exceeds the largest finite value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOverflow {
    /// IEEE 754: infinity or the largest finite value as the mode directs; a format without
    /// infinity gives NaN when it has one (FN), else the largest finite value.
    Ieee,
    /// The largest finite value of the sign, in every mode (what MX quantizers do).
    Saturate,
}

impl FormatSpec {
    pub const fn total_bits(&self) -> u32 {
        self.exp_bits + self.precision
    }
    pub const fn bias(&self) -> i32 {
        match self.non_finite {
            NonFinite::Ieee => self.emax,
            NonFinite::NanOnly | NonFinite::FiniteOnly => self.emax - 1,
        }
    }
    const fn frac_mask(&self) -> u32 {
        (1 << (self.precision - 1)) - 1
    }
    const fn exp_mask(&self) -> u32 {
        (1 << self.exp_bits) - 1
    }
    const fn sign_bit(&self) -> u32 {
        1 << (self.total_bits() - 1)
    }
    /// The NaN every operation returns ([`policy::canonical_nan`]).
    pub const fn canonical_nan(&self) -> u32 {
        policy::canonical_nan(self)
    }
    // The sign bit and the exponent field are disjoint, so `^` for `|` (a mutant) gives the same
    // word (excluded in .cargo/mutants.toml).
    pub const fn infinity(&self, neg: bool) -> u32 {
        (if neg { self.sign_bit() } else { 0 }) | (self.exp_mask() << (self.precision - 1))
    }
    /// The largest finite magnitude with the sign `neg`: below infinity (IEEE), below the NaN
    /// code (FN), or the all-ones code (finite-only).
    pub const fn max_finite(&self, neg: bool) -> u32 {
        let all_ones = self.infinity(neg) | self.frac_mask();
        match self.non_finite {
            NonFinite::Ieee => self.infinity(neg) - 1,
            NonFinite::NanOnly => all_ones - 1,
            NonFinite::FiniteOnly => all_ones,
        }
    }
    pub const fn zero(&self, neg: bool) -> u32 {
        if neg {
            self.sign_bit()
        } else {
            0
        }
    }
}

pub const BF16_SPEC: FormatSpec = FormatSpec {
    name: "bf16",
    precision: 8,
    exp_bits: 8,
    emin: -126,
    emax: 127,
    non_finite: NonFinite::Ieee,
};

pub const FP32_SPEC: FormatSpec = FormatSpec {
    name: "fp32",
    precision: 24,
    exp_bits: 8,
    emin: -126,
    emax: 127,
    non_finite: NonFinite::Ieee,
};

/// An exact nonzero magnitude `sig * 2^exp` with a sign. With `sticky` set the true magnitude is
/// strictly between `sig * 2^exp` and `(sig + 1) * 2^exp`; producers that set it keep at least
/// two bits more than the target precision in `sig`, so the round bit is always known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyadic {
    pub neg: bool,
    pub sig: u128,
    pub exp: i32,
    pub sticky: bool,
}

impl Dyadic {
    pub fn exact(neg: bool, sig: u128, exp: i32) -> Self {
        Dyadic {
            neg,
            sig,
            exp,
            sticky: false,
        }
    }
    /// Exponent of the leading bit: `floor(log2 |value|)` (sig must be nonzero).
    pub fn top_exp(&self) -> i32 {
        self.exp + 127 - self.sig.leading_zeros() as i32
    }
}

/// What a bit pattern (or an exact computation) denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Zero { neg: bool },
    Finite(Dyadic),
    Inf { neg: bool },
    NaN,
}

impl Value {
    /// The exact value `int * 2^exp` (an exact zero is `+0`).
    pub fn int(int: i128, exp: i32) -> Value {
        if int == 0 {
            Value::Zero { neg: false }
        } else {
            Value::Finite(Dyadic::exact(int.is_negative(), int.unsigned_abs(), exp))
        }
    }
}

/// Rounds the magnitude `sig * 2^0` (+ `sticky`) after discarding its `shift` low bits.
/// Returns the kept integer (possibly one more than the truncation) and whether anything was lost.
pub(crate) fn round_shifted(
    sig: u128,
    sticky: bool,
    shift: u32,
    neg: bool,
    mode: RoundingMode,
) -> (u128, bool) {
    if shift == 0 {
        debug_assert!(!sticky, "sticky without a round bit");
        return (sig, sticky);
    }
    let (kept, half, rest) = if shift > 128 {
        (0, false, sig != 0 || sticky)
    } else if shift == 128 {
        (0, sig >> 127 == 1, (sig << 1) != 0 || sticky)
    } else {
        let kept = sig >> shift;
        let half = (sig >> (shift - 1)) & 1 == 1;
        let rest_mask = (1u128 << (shift - 1)) - 1;
        (kept, half, sig & rest_mask != 0 || sticky)
    };
    let inc = mode.increments(neg, kept & 1 == 1, half, rest);
    (kept + inc as u128, half || rest)
}

/// Round an exact value to `spec` in `mode`: SoftFloat's roundPack. Returns the bit pattern.
///
/// A significand of at most 64 bits whose result stays normal (the common case, and every
/// output of the MAC) takes [`round_normal_u64`]; everything else the general path.
#[inline]
pub fn round_pack(spec: &FormatSpec, v: Value, mode: RoundingMode) -> StatusAnd<u32> {
    round_pack_with(spec, v, mode, OnOverflow::Ieee)
}

/// [`round_pack`] with the overflow behaviour as a parameter (saturating for MX elements).
#[inline]
pub fn round_pack_with(
    spec: &FormatSpec,
    v: Value,
    mode: RoundingMode,
    on_overflow: OnOverflow,
) -> StatusAnd<u32> {
    if let Value::Finite(d) = v {
        if !d.sticky && d.sig != 0 && d.sig >> 64 == 0 {
            if let Some(r) = round_normal_u64(spec, d.neg, d.sig as u64, d.exp, mode) {
                return r;
            }
        }
    }
    round_pack_general(spec, v, mode, on_overflow)
}

fn round_pack_general(
    spec: &FormatSpec,
    v: Value,
    mode: RoundingMode,
    on_overflow: OnOverflow,
) -> StatusAnd<u32> {
    let d = match v {
        Value::Zero { neg } => return StatusAnd::new(spec.zero(neg), Status::OK),
        Value::Inf { neg } => return StatusAnd::new(infinite(spec, neg, on_overflow), Status::OK),
        Value::NaN if spec.non_finite == NonFinite::FiniteOnly => {
            // Nothing to encode it with: +0 and the invalid flag (policy::FINITE_ONLY_NAN).
            return StatusAnd::new(policy::FINITE_ONLY_NAN, Status::INVALID);
        }
        Value::NaN => return StatusAnd::new(spec.canonical_nan(), Status::OK),
        Value::Finite(d) if d.sig == 0 && !d.sticky => {
            return StatusAnd::new(spec.zero(d.neg), Status::OK)
        }
        Value::Finite(d) => d,
    };
    let p = spec.precision as i32;
    let top = d.top_exp();
    let lsb = top.max(spec.emin) - (p - 1);
    let (mant, exp_lsb, inexact) = if lsb <= d.exp {
        assert!(!d.sticky, "sticky needs bits below the target precision");
        (d.sig << (d.exp - lsb), lsb, false)
    } else {
        let shift = (lsb - d.exp) as u32;
        let (m, inexact) = round_shifted(d.sig, d.sticky, shift, d.neg, mode);
        if m >> p == 1 {
            (m >> 1, lsb + 1, inexact)
        } else {
            (m, lsb, inexact)
        }
    };
    let mut status = if inexact { Status::INEXACT } else { Status::OK };
    let sign = if d.neg { spec.sign_bit() } else { 0 };
    if mant == 0 {
        return StatusAnd::new(sign, status | Status::UNDERFLOW);
    }
    let normal = mant >> (p - 1) == 1;
    // Past the largest finite value: a larger exponent, or (FN formats) the NaN code itself.
    let past_max = |e: i32| {
        e > spec.emax
            || (e == spec.emax
                && (mant as u32 & spec.frac_mask()) > (spec.max_finite(false) & spec.frac_mask()))
    };
    if normal && past_max(exp_lsb + p - 1) {
        let status = status | Status::OVERFLOW | Status::INEXACT;
        return overflowed(spec, d.neg, mode, on_overflow, status);
    }
    if inexact && is_tiny_after_rounding(spec, &d, mode) {
        status |= Status::UNDERFLOW;
    }
    let biased = if normal {
        (exp_lsb + p - 1 + spec.bias()) as u32
    } else {
        0
    };
    let bits = sign | (biased << (p - 1)) | (mant as u32 & spec.frac_mask());
    StatusAnd::new(bits, status)
}

/// An infinite value in `spec`: infinity where the format has it, else the largest finite value
/// when saturating, else NaN (FN).
fn infinite(spec: &FormatSpec, neg: bool, on_overflow: OnOverflow) -> u32 {
    match (spec.non_finite, on_overflow) {
        (NonFinite::Ieee, _) => spec.infinity(neg),
        (NonFinite::NanOnly, OnOverflow::Ieee) => spec.canonical_nan(),
        (_, OnOverflow::Saturate) | (NonFinite::FiniteOnly, _) => spec.max_finite(neg),
    }
}

/// The result of a rounding past the largest finite value (or of an infinite input), with the
/// flags `status` the caller has decided.
fn overflowed(
    spec: &FormatSpec,
    neg: bool,
    mode: RoundingMode,
    on_overflow: OnOverflow,
    status: Status,
) -> StatusAnd<u32> {
    let bits = match (on_overflow, spec.non_finite) {
        (OnOverflow::Saturate, _) | (OnOverflow::Ieee, NonFinite::FiniteOnly) => {
            spec.max_finite(neg)
        }
        (OnOverflow::Ieee, NonFinite::NanOnly) => spec.canonical_nan(),
        (OnOverflow::Ieee, NonFinite::Ieee) if mode.overflows_to_infinity(neg) => {
            spec.infinity(neg)
        }
        (OnOverflow::Ieee, NonFinite::Ieee) => spec.max_finite(neg),
    };
    StatusAnd::new(bits, status)
}

/// `mag * 2^exp` (`mag` nonzero) rounded to `spec` in 64-bit arithmetic, or `None` unless the
/// result is certainly normal (then [`round_pack_general`] decides). It avoids `u128` shifts and
/// data-dependent branches: the significand is normalised to bit 63 and the increment is added
/// to `(biased - 1, kept)`, so a carry out of the significand steps the exponent, as in
/// SoftFloat's roundPackToF32.
#[inline]
fn round_normal_u64(
    spec: &FormatSpec,
    neg: bool,
    mag: u64,
    exp: i32,
    mode: RoundingMode,
) -> Option<StatusAnd<u32>> {
    let lz = mag.leading_zeros();
    let top = exp + 63 - lz as i32;
    // Normal before rounding, and a carry can raise the exponent to emax at most. (Returning
    // `None` for more values only costs speed: excluded mutants in .cargo/mutants.toml.)
    if top < spec.emin || top >= spec.emax {
        return None;
    }
    let p = spec.precision;
    let m = mag << lz;
    let kept = (m >> (64 - p)) as u32;
    let dropped = m << p;
    let half = dropped >> 63 == 1;
    let rest = dropped << 1 != 0;
    let inc = mode.increments(neg, kept & 1 == 1, half, rest) as u32;
    let biased = (top + spec.bias()) as u32;
    let sign = if neg { spec.sign_bit() } else { 0 };
    let bits = sign | (((biased - 1) << (p - 1)) + kept + inc);
    let status = if half || rest {
        Status::INEXACT
    } else {
        Status::OK
    };
    Some(StatusAnd::new(bits, status))
}

/// The rounding of integers times powers of two, `int * 2^exp`, to `F` in one mode: the MAC's one
/// rounding of each output, equal to `F::round(Value::int(int, exp), mode)` on every input. The
/// mode is folded once into an addend for the discarded bits: with them left-aligned in a `u64`,
/// the kept part is incremented exactly when adding the addend carries out (half an ulp less
/// one, plus the kept part's last bit, to nearest-even; half an ulp to nearest-away; all ones
/// for a magnitude rounded up by a directed mode, zero for one rounded down). A result that may
/// not be normal takes [`round_pack`].
#[derive(Clone, Copy, Debug)]
pub struct IntRounder<F> {
    mode: RoundingMode,
    /// The addend of a positive and of a negative value, and the mask of the kept part's last bit
    /// added to it.
    addend: [u64; 2],
    odd: u32,
    format: std::marker::PhantomData<fn() -> F>,
}

impl<F: Format> IntRounder<F> {
    pub fn new(mode: RoundingMode) -> Self {
        const HALF: u64 = 1 << 63;
        let (addend, odd) = match mode {
            RoundingMode::NearestEven => ([HALF - 1, HALF - 1], 1),
            RoundingMode::NearestAway => ([HALF, HALF], 0),
            RoundingMode::TowardZero => ([0, 0], 0),
            RoundingMode::TowardPositive => ([u64::MAX, 0], 0),
            RoundingMode::TowardNegative => ([0, u64::MAX], 0),
        };
        IntRounder {
            mode,
            addend,
            odd,
            format: std::marker::PhantomData,
        }
    }

    /// `int * 2^exp` rounded to `F`, with its flags.
    #[inline]
    pub fn round(&self, int: i64, exp: i32) -> StatusAnd<F> {
        let spec = &F::SPEC;
        let mag = int.unsigned_abs();
        let lz = mag.leading_zeros();
        let top = exp + 63 - lz as i32;
        // Nonzero, normal before rounding, and a carry raises the exponent to emax at most.
        if mag == 0 || top < spec.emin || top >= spec.emax {
            return self.round_other(int, exp);
        }
        let p = spec.precision;
        let m = mag << lz;
        let kept = (m >> (64 - p)) as u32;
        let dropped = m << p;
        let neg = int < 0;
        let addend = self.addend[neg as usize] + (kept & self.odd) as u64;
        let inc = dropped.overflowing_add(addend).1 as u32;
        let biased = (top + spec.bias()) as u32;
        let sign = if neg { spec.sign_bit() } else { 0 };
        // A carry out of the significand steps the exponent (SoftFloat's roundPackToF32).
        let bits = sign | (((biased - 1) << (p - 1)) + kept + inc);
        let status = if dropped != 0 {
            Status::INEXACT
        } else {
            Status::OK
        };
        StatusAnd::new(F::from_bits_u32(bits), status)
    }

    #[cold]
    #[inline(never)]
    fn round_other(&self, int: i64, exp: i32) -> StatusAnd<F> {
        F::round(Value::int(int as i128, exp), self.mode)
    }
}

/// Tininess after rounding: the value rounded to the target precision with an unbounded
/// exponent range is still below `2^emin`.
fn is_tiny_after_rounding(spec: &FormatSpec, d: &Dyadic, mode: RoundingMode) -> bool {
    let top = d.top_exp();
    if top >= spec.emin {
        return false;
    }
    if top < spec.emin - 1 {
        return true;
    }
    let p = spec.precision as i32;
    let lsb = top - (p - 1);
    if lsb <= d.exp {
        return true;
    }
    let (m, _) = round_shifted(d.sig, d.sticky, (lsb - d.exp) as u32, d.neg, mode);
    m >> p == 0
}

/// Decode a bit pattern of `spec` into its exact value.
pub fn decode(spec: &FormatSpec, bits: u32) -> Value {
    let p = spec.precision;
    let neg = bits & spec.sign_bit() != 0;
    let biased = (bits >> (p - 1)) & spec.exp_mask();
    let frac = bits & spec.frac_mask();
    if biased == spec.exp_mask() {
        match spec.non_finite {
            NonFinite::Ieee if frac == 0 => return Value::Inf { neg },
            NonFinite::Ieee => return Value::NaN,
            NonFinite::NanOnly if frac == spec.frac_mask() => return Value::NaN,
            NonFinite::NanOnly | NonFinite::FiniteOnly => {}
        }
    }
    if biased == 0 && frac == 0 {
        return Value::Zero { neg };
    }
    let (sig, e) = if biased == 0 {
        (frac, spec.emin)
    } else {
        (frac | (1 << (p - 1)), biased as i32 - spec.bias())
    };
    Value::Finite(Dyadic::exact(neg, sig as u128, e - (p as i32 - 1)))
}

/// The exact value of an f64 (every f64 is a dyadic rational).
pub fn value_of_f64(x: f64) -> Value {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    match (biased, frac) {
        (0x7ff, 0) => Value::Inf { neg },
        (0x7ff, _) => Value::NaN,
        (0, 0) => Value::Zero { neg },
        (0, f) => Value::Finite(Dyadic::exact(neg, f as u128, -1074)),
        (b, f) => Value::Finite(Dyadic::exact(neg, (f | 1 << 52) as u128, b - 1075)),
    }
}

/// A binary float format as a bit-pattern newtype.
pub trait Format: Copy + Eq + fmt::Debug {
    const SPEC: FormatSpec;
    fn from_bits_u32(bits: u32) -> Self;
    fn bits_u32(self) -> u32;

    fn value(self) -> Value {
        decode(&Self::SPEC, self.bits_u32())
    }
    /// Correctly round an exact value.
    #[inline]
    fn round(v: Value, mode: RoundingMode) -> StatusAnd<Self> {
        let r = round_pack(&Self::SPEC, v, mode);
        StatusAnd::new(Self::from_bits_u32(r.value), r.status)
    }
    /// Correctly round the exact value of an f64 (one rounding, no detour through f32).
    fn from_f64(x: f64, mode: RoundingMode) -> StatusAnd<Self> {
        Self::round(value_of_f64(x), mode)
    }
    /// The exact value as f64 (BF16 and FP32 values are all exactly representable in f64).
    fn to_f64(self) -> f64 {
        match self.value() {
            Value::Zero { neg } => {
                if neg {
                    -0.0
                } else {
                    0.0
                }
            }
            Value::Inf { neg } => {
                if neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Value::NaN => f64::NAN,
            Value::Finite(d) => {
                let m = d.sig as f64 * 2f64.powi(d.exp);
                if d.neg {
                    -m
                } else {
                    m
                }
            }
        }
    }
    fn is_nan(self) -> bool {
        matches!(self.value(), Value::NaN)
    }
    fn is_finite(self) -> bool {
        matches!(self.value(), Value::Zero { .. } | Value::Finite(_))
    }
    fn nan() -> Self {
        Self::from_bits_u32(Self::SPEC.canonical_nan())
    }
}

macro_rules! float_newtype {
    ($name:ident, $raw:ty, $spec:ident, $digits:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $raw);

        impl $name {
            pub const fn from_bits(bits: $raw) -> Self {
                $name(bits)
            }
            pub const fn to_bits(self) -> $raw {
                self.0
            }
            pub const NAN: $name = $name($spec.canonical_nan() as $raw);
            pub const INFINITY: $name = $name($spec.infinity(false) as $raw);
            pub const NEG_INFINITY: $name = $name($spec.infinity(true) as $raw);
            pub const ZERO: $name = $name(0);
            pub const NEG_ZERO: $name = $name($spec.zero(true) as $raw);
            pub const MAX: $name = $name($spec.max_finite(false) as $raw);
        }

        impl Format for $name {
            const SPEC: FormatSpec = $spec;
            fn from_bits_u32(bits: u32) -> Self {
                $name(bits as $raw)
            }
            fn bits_u32(self) -> u32 {
                self.0 as u32
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "{}(0x{:0w$x} = {:e})",
                    stringify!($name),
                    self.0,
                    self.to_f64(),
                    w = $digits
                )
            }
        }
    };
}

float_newtype!(
    Bf16,
    u16,
    BF16_SPEC,
    4,
    "A bfloat16 bit pattern (1 sign, 8 exponent, 7 fraction bits)."
);
float_newtype!(Fp32, u32, FP32_SPEC, 8, "An IEEE-754 binary32 bit pattern.");

impl Bf16 {
    /// Exact widening: every BF16 is an FP32 with 16 zero low bits.
    pub const fn to_fp32(self) -> Fp32 {
        Fp32((self.0 as u32) << 16)
    }
}

impl Fp32 {
    pub fn from_f32(x: f32) -> Fp32 {
        Fp32(x.to_bits())
    }
    pub fn to_f32(self) -> f32 {
        f32::from_bits(self.0)
    }
}
