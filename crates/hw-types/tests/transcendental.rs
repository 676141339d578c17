//! Correct rounding of powers whose exact value is a dyadic rational: such a value can sit exactly
//! on a rounding boundary, where Ziv's loop alone never decides; it must be rounded exactly.

use hw_types::transcendental::Transcendental;
use hw_types::{Bf16, Format, Fp32, RoundingMode, Status};

use RoundingMode::*;

fn pow<F: Format>(base: f64, x: f64, mode: RoundingMode) -> (F, Status) {
    let r = Transcendental::Pow { base }.round::<F>(x, mode);
    (r.value, r.status)
}

#[test]
fn exact_powers_are_exact() {
    // 16^(2/8) = 2 (RoPE's base^(2i/d) with base 16, d = 8), 4^0.5 = 2, 2^-3 = 1/8, 9^1.5 = 27.
    assert_eq!(
        pow::<Fp32>(16.0, 0.25, NearestEven),
        (Fp32::from_f32(2.0), Status::OK)
    );
    assert_eq!(
        pow::<Fp32>(4.0, 0.5, NearestEven),
        (Fp32::from_f32(2.0), Status::OK)
    );
    assert_eq!(
        pow::<Fp32>(2.0, -3.0, TowardZero),
        (Fp32::from_f32(0.125), Status::OK)
    );
    assert_eq!(
        pow::<Fp32>(9.0, 1.5, NearestEven),
        (Fp32::from_f32(27.0), Status::OK)
    );
    assert_eq!(
        pow::<Bf16>(0.25, 0.5, NearestEven),
        (Bf16(0x3f00), Status::OK)
    );
    // Negative fractional exponents of a power of two: 16^-0.25 = 1/2, 4^-1.5 = 1/8.
    assert_eq!(
        pow::<Fp32>(16.0, -0.25, NearestEven),
        (Fp32::from_f32(0.5), Status::OK)
    );
    assert_eq!(
        pow::<Fp32>(4.0, -1.5, NearestEven),
        (Fp32::from_f32(0.125), Status::OK)
    );
    // 1 to any power is 1, even to a power 2^-200 whose denominator exceeds every integer width.
    assert_eq!(
        pow::<Fp32>(1.0, 2f64.powi(-200), TowardZero),
        (Fp32::from_f32(1.0), Status::OK)
    );
}

#[test]
fn irrational_powers_of_two_are_not_mistaken_for_exact() {
    // 2^0.5 = 1.41421356237309504880... (an odd power of two under a square root is irrational):
    // FP32 neighbours 0x3fb504f3 (1.4142135381698608) and 0x3fb504f4 (1.4142136573791504).
    assert_eq!(
        pow::<Fp32>(2.0, 0.5, NearestEven),
        (Fp32(0x3fb504f3), Status::INEXACT)
    );
    assert_eq!(
        pow::<Fp32>(2.0, 0.5, TowardPositive),
        (Fp32(0x3fb504f4), Status::INEXACT)
    );
    // 8^(-1/4) = 2^(-3/4) = 0.59460355750136053335...: 0x3f1837f0 (0.59460353851318359375) below.
    assert_eq!(
        pow::<Fp32>(8.0, -0.25, TowardZero),
        (Fp32(0x3f1837f0), Status::INEXACT)
    );
}

#[test]
fn exact_midpoints_follow_the_rounding_mode() {
    // base = (1 + 2^-8)^2 = 1 + 2^-7 + 2^-16, exactly an f64; base^0.5 = 1 + 2^-8 is halfway
    // between the BF16 values 0x3f80 and 0x3f81.
    let base = 1.0 + 2f64.powi(-7) + 2f64.powi(-16);
    let want = [
        (NearestEven, 0x3f80),
        (NearestAway, 0x3f81),
        (TowardZero, 0x3f80),
        (TowardPositive, 0x3f81),
        (TowardNegative, 0x3f80),
    ];
    for (mode, bits) in want {
        let (v, s) = pow::<Bf16>(base, 0.5, mode);
        assert_eq!(v, Bf16(bits), "{mode}");
        assert_eq!(s, Status::INEXACT, "{mode}");
    }
    // A representable exact value in a directed mode: (1 + 2^-7)^2 = 1 + 2^-6 + 2^-14 to the
    // power 0.5 is 0x3f81 exactly, not inexact.
    let base = 1.0 + 2f64.powi(-6) + 2f64.powi(-14);
    for mode in RoundingMode::ALL {
        assert_eq!(
            pow::<Bf16>(base, 0.5, mode),
            (Bf16(0x3f81), Status::OK),
            "{mode}"
        );
    }
    // The FP32 tie 1 + 2^-24 as the cube root of (1 + 2^-24)^3.
    let e = 2f64.powi(-24);
    let base = 1.0 + 3.0 * e + 3.0 * e * e + e * e * e;
    assert_eq!(base, (1.0 + e) * (1.0 + e) * (1.0 + e), "exact in f64");
    // x = 1/3 is not a dyadic exponent, so this one is irrational: not exact, just inexact.
    let (_, s) = pow::<Fp32>(base, 1.0 / 3.0, NearestEven);
    assert_eq!(s, Status::INEXACT);
}

#[test]
fn non_dyadic_powers_still_round_correctly() {
    // 10000^(2/128) = 10^(1/16) = 1.15478198468945817966... (mpmath, 200 bits): between the FP32
    // neighbours 0x3f93cfe5 (4.7e-8 below) and 0x3f93cfe6 (7.2e-8 above).
    let (v, s) = pow::<Fp32>(10000.0, 2.0 / 128.0, NearestEven);
    assert_eq!(v, Fp32(0x3f93cfe5));
    assert_eq!(
        pow::<Fp32>(10000.0, 2.0 / 128.0, TowardPositive).0,
        Fp32(0x3f93cfe6)
    );
    assert_eq!(s, Status::INEXACT);
}

/// Values within libm's error bound of a rounding boundary must not be decided from the f64
/// result: exp(-2^-60) = 1 - 2^-60 + ... is 1.0 in f64, but lies below 1, so rounding toward
/// -inf gives the FP32 value below 1; exp(2^-60) toward +inf gives the one above.
#[test]
fn values_beside_a_boundary_take_the_exact_path() {
    let t = 2f64.powi(-60);
    let exp = |x: f64, mode| {
        let r = Transcendental::Exp.round::<Fp32>(x, mode);
        (r.value, r.status)
    };
    assert_eq!(
        exp(-t, TowardNegative),
        (Fp32(0x3f7f_ffff), Status::INEXACT)
    );
    assert_eq!(exp(-t, TowardZero), (Fp32(0x3f7f_ffff), Status::INEXACT));
    assert_eq!(exp(-t, NearestEven), (Fp32(0x3f80_0000), Status::INEXACT));
    assert_eq!(exp(t, TowardPositive), (Fp32(0x3f80_0001), Status::INEXACT));
    assert_eq!(exp(t, TowardZero), (Fp32(0x3f80_0000), Status::INEXACT));
    // cos(2^-30) = 1 - 2^-61 + ...: below 1.
    let cos = Transcendental::Cos.round::<Bf16>(2f64.powi(-30), TowardNegative);
    assert_eq!((cos.value, cos.status), (Bf16(0x3f7f), Status::INEXACT));
}

/// FP32 exp at its underflow and overflow boundaries: the f64 inputs nearest to ln of the
/// boundary put exp within 2^-47 of it (mpmath, 300 bits), closer than libm's error bound, so
/// only the exact path can tell the sides apart.
#[test]
fn exp_beside_the_fp32_range_boundaries() {
    let exp = |bits: u64, mode| {
        let r = Transcendental::Exp.round::<Fp32>(f64::from_bits(bits), mode);
        (r.value, r.status)
    };
    let tiny = Status::UNDERFLOW | Status::INEXACT;
    // 2^-150, the midpoint between +0 and the smallest subnormal: above, then below.
    assert_eq!(exp(0xc059fe3682cd3be4, NearestEven), (Fp32(1), tiny));
    assert_eq!(exp(0xc059fe3682cd3be5, NearestEven), (Fp32(0), tiny));
    // 2^-149, the smallest subnormal, toward zero: above, then below.
    assert_eq!(exp(0xc059d1d9fccf4770, TowardZero), (Fp32(1), tiny));
    assert_eq!(exp(0xc059d1d9fccf4771, TowardZero), (Fp32(0), tiny));
    // 2^128 (1 - 2^-25), the overflow threshold of round to nearest.
    assert_eq!(
        exp(0x40562e42feda39ef, NearestEven), // below
        (Fp32(0x7f7f_ffff), Status::INEXACT)
    );
    assert_eq!(
        exp(0x40562e42feda39f0, NearestEven), // above
        (Fp32(0x7f80_0000), Status::OVERFLOW | Status::INEXACT)
    );
}

/// exp(-1000) underflows libm's f64 to 0, yet is a nonzero value: it rounds like any positive
/// value far below FP32's smallest subnormal.
#[test]
fn exp_far_below_the_subnormals_is_nonzero() {
    let tiny = Status::UNDERFLOW | Status::INEXACT;
    for (mode, bits) in [
        (NearestEven, 0),
        (NearestAway, 0),
        (TowardZero, 0),
        (TowardNegative, 0),
        (TowardPositive, 1),
    ] {
        let r = Transcendental::Exp.round::<Fp32>(-1000.0, mode);
        assert_eq!((r.value, r.status), (Fp32(bits), tiny), "{mode}");
    }
}

/// Values within 2^-256 of a rounding boundary: e^(+-2^-300) and 2^(+-2^-300) are 1 +- tiny,
/// which a 256-bit evaluation rounds to 1 (or to its neighbour below): too close to a 64-bit
/// dyadic to decide there, so only the 512-bit round tells the sides apart. e^(+-2^-600) needs
/// 1024 bits. In a directed mode 1 itself is the boundary; to nearest, the f64 interval decides.
#[test]
fn values_within_2_pow_minus_256_of_a_boundary_take_more_rounds() {
    let below = (Fp32(0x3f7f_ffff), Status::INEXACT);
    let one = (Fp32(0x3f80_0000), Status::INEXACT);
    let above = (Fp32(0x3f80_0001), Status::INEXACT);
    for t in [2f64.powi(-300), 2f64.powi(-600)] {
        for f in [
            Transcendental::Exp,
            Transcendental::Pow { base: 2.0 },
            Transcendental::Pow { base: 0.5 },
        ] {
            let round = |x: f64, mode| {
                let r = f.round::<Fp32>(x, mode);
                (r.value, r.status)
            };
            // The sign of the tiny offset: 0.5^x = 2^-x.
            let up = if let Transcendental::Pow { base: 0.5 } = f {
                -t
            } else {
                t
            };
            let name = format!("{f:?} at +-{t:e}");
            assert_eq!(round(up, TowardPositive), above, "{name}");
            assert_eq!(round(up, TowardNegative), one, "{name}");
            assert_eq!(round(up, TowardZero), one, "{name}");
            assert_eq!(round(up, NearestEven), one, "{name}");
            assert_eq!(round(-up, TowardPositive), one, "{name}");
            assert_eq!(round(-up, TowardNegative), below, "{name}");
            assert_eq!(round(-up, TowardZero), below, "{name}");
            assert_eq!(round(-up, NearestAway), one, "{name}");
        }
    }
    // BF16 results too: the value above 1 is 0x3f81, the one below 0x3f7f.
    let r = Transcendental::Exp.round::<Bf16>(-(2f64.powi(-300)), TowardZero);
    assert_eq!((r.value, r.status), (Bf16(0x3f7f), Status::INEXACT));
}
