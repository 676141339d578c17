//! An independent, deliberately simple oracle for the format tests: exact rationals (num-rational)
//! and big integers, no shared code with the crate's rounding path. Rounding is done by binary
//! search over the bit patterns (which order like the values for non-negative floats) and an exact
//! comparison with the midpoint.
#![allow(dead_code)]

use hw_types::{RoundingMode, Status};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

#[derive(Clone, Copy)]
pub struct Fmt {
    pub p: u32,
    pub ebits: u32,
}
pub const BF16: Fmt = Fmt { p: 8, ebits: 8 };
pub const FP32: Fmt = Fmt { p: 24, ebits: 8 };

impl Fmt {
    fn bias(self) -> i64 {
        (1 << (self.ebits - 1)) - 1
    }
    pub fn inf_bits(self) -> u32 {
        ((1 << self.ebits) - 1) << (self.p - 1)
    }
    pub fn sign_bit(self) -> u32 {
        1 << (self.ebits + self.p - 1)
    }
    pub fn max_finite(self) -> u32 {
        self.inf_bits() - 1
    }
}

pub fn pow2(e: i64) -> BigRational {
    if e >= 0 {
        BigRational::from_integer(BigInt::one() << e as usize)
    } else {
        BigRational::new(BigInt::one(), BigInt::one() << (-e) as usize)
    }
}

pub fn int(v: i64) -> BigRational {
    BigRational::from_integer(BigInt::from(v))
}

/// Value of a finite pattern (sign included; -0 decodes as 0). None for inf/NaN.
pub fn decode(f: Fmt, bits: u32) -> Option<BigRational> {
    let frac_bits = f.p - 1;
    let e = ((bits >> frac_bits) & ((1 << f.ebits) - 1)) as i64;
    let frac = (bits & ((1 << frac_bits) - 1)) as i64;
    if e == (1 << f.ebits) - 1 {
        return None;
    }
    let mag = if e == 0 {
        int(frac) * pow2(1 - f.bias() - frac_bits as i64)
    } else {
        int((1 << frac_bits) + frac) * pow2(e - f.bias() - frac_bits as i64)
    };
    Some(if bits & f.sign_bit() != 0 { -mag } else { mag })
}

pub struct Rounded {
    pub bits: u32,
    pub inexact: bool,
    pub overflow: bool,
    /// Tiny after rounding (see [`tiny_after_rounding`]) and inexact.
    pub underflow: bool,
}

impl Rounded {
    /// The flags, as the crate reports them.
    pub fn status(&self) -> Status {
        let mut s = Status::OK;
        for (raised, flag) in [
            (self.inexact, Status::INEXACT),
            (self.overflow, Status::OVERFLOW),
            (self.underflow, Status::UNDERFLOW),
        ] {
            if raised {
                s |= flag;
            }
        }
        s
    }
}

/// Correct rounding of an exact rational to the format, by search.
pub fn round(f: Fmt, x: &BigRational, mode: RoundingMode) -> Rounded {
    let neg = x.is_negative();
    let a = x.abs();
    let sign = if neg { f.sign_bit() } else { 0 };
    // Largest finite pattern with value <= a.
    let (mut lo, mut hi) = (0u32, f.max_finite());
    if decode(f, hi).unwrap() <= a {
        lo = hi;
    } else {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if decode(f, mid).unwrap() <= a {
                lo = mid
            } else {
                hi = mid
            }
        }
    }
    let lo_val = decode(f, lo).unwrap();
    let top = pow2(f.bias() + 1);
    if lo_val == a {
        return Rounded {
            bits: sign | lo,
            inexact: false,
            overflow: false,
            underflow: false,
        };
    }
    let next = lo + 1; // may be the infinity pattern, standing for 2^(emax+1)
    let next_val = if next == f.inf_bits() {
        top.clone()
    } else {
        decode(f, next).unwrap()
    };
    let mid = (&lo_val + &next_val) / int(2);
    let up = match mode {
        RoundingMode::NearestEven => a > mid || (a == mid && lo & 1 == 1),
        RoundingMode::NearestAway => a >= mid,
        RoundingMode::TowardZero => false,
        RoundingMode::TowardPositive => !neg,
        RoundingMode::TowardNegative => neg,
    };
    let bits = if up { next } else { lo };
    Rounded {
        bits: sign | bits,
        inexact: true,
        overflow: bits == f.inf_bits() || a >= top,
        underflow: tiny_after_rounding(f, x, mode),
    }
}

/// IEEE 754 tininess after rounding: `x` (nonzero) rounded to `p` significant bits with an
/// unbounded exponent range lies below `2^emin` in magnitude.
pub fn tiny_after_rounding(f: Fmt, x: &BigRational, mode: RoundingMode) -> bool {
    let a = x.abs();
    let emin = 1 - f.bias();
    if a >= pow2(emin) {
        return false;
    }
    // e = floor(log2 a): estimate from the bit lengths, then correct.
    let mut e = a.numer().bits() as i64 - a.denom().bits() as i64;
    while pow2(e) > a {
        e -= 1;
    }
    while pow2(e + 1) <= a {
        e += 1;
    }
    let ulp = pow2(e - (f.p as i64 - 1));
    let r = round_int(&(x / &ulp), mode);
    BigRational::from_integer(r.abs()) * ulp < pow2(emin)
}

/// Round to an integer with a mode (for MXINT8 elements).
pub fn round_int(x: &BigRational, mode: RoundingMode) -> BigInt {
    let fl = x.floor().to_integer();
    let frac = x - BigRational::from_integer(fl.clone());
    if frac.is_zero() {
        return fl;
    }
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let up = match mode {
        RoundingMode::NearestEven => {
            frac > half || (frac == half && (&fl % BigInt::from(2)) != BigInt::zero())
        }
        RoundingMode::NearestAway => frac > half || (frac == half && !x.is_negative()),
        RoundingMode::TowardZero => x.is_negative(),
        RoundingMode::TowardPositive => true,
        RoundingMode::TowardNegative => false,
    };
    if up {
        fl + 1
    } else {
        fl
    }
}

/// Bounds `lo <= e^x <= hi` for a dyadic rational x, with a relative width near 2^-480: Taylor
/// series of e^(x/2^s) in 512-bit fixed point, then s squarings with outward rounding.
pub fn exp_bounds(x: &BigRational) -> (BigRational, BigRational) {
    const F: usize = 512;
    let mag = x.abs().to_f64().unwrap();
    let s = if mag < 1e-3 {
        0
    } else {
        (mag.log2().ceil() as i64 + 10) as usize
    };
    let scaled = x * pow2(F as i64 - s as i64);
    assert!(
        scaled.is_integer(),
        "x must be dyadic with few fraction bits"
    );
    let y = scaled.to_integer();
    let one = BigInt::one() << F;
    let mut term = one.clone();
    let mut sum = one.clone();
    for j in 1..60u32 {
        term = (&term * &y) >> F; // floor: error below one unit per step
        term /= BigInt::from(j);
        sum += &term;
    }
    let slack = BigInt::from(200);
    let mut lo = &sum - &slack;
    let mut hi = &sum + &slack;
    for _ in 0..s {
        lo = (&lo * &lo) >> F;
        hi = ((&hi * &hi) >> F) + 1;
    }
    let den = BigRational::from_integer(one);
    (
        BigRational::from_integer(lo) / &den,
        BigRational::from_integer(hi) / den,
    )
}
