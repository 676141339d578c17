//! Rounding at ties and subnormal/overflow boundaries, sampled FP32 and BF16 arithmetic, the
//! exact accumulator and the MXINT8 quantizer, all against the rational oracle.

mod oracle;

use hw_types::arith::mul;
use hw_types::mxint8::int_dot;
use hw_types::{
    Bf16, BlockDot, Dyadic, ExactAcc, Format, Fp32, IntRounder, MxInt8Block, RoundingMode, Status,
    StatusAnd, Value,
};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use oracle::{decode, int, pow2, round, BF16, FP32};
use proptest::prelude::*;

use RoundingMode::*;

fn dy(neg: bool, sig: u128, exp: i32) -> Value {
    Value::Finite(Dyadic::exact(neg, sig, exp))
}

fn bf(v: Value, mode: RoundingMode) -> (u16, Status) {
    let r = Bf16::round(v, mode);
    (r.value.0, r.status)
}

#[test]
fn documented_bf16_examples() {
    // 1 + 2^-8: a tie between 0x3f80 and 0x3f81.
    let tie = dy(false, (1 << 8) + 1, -8);
    assert_eq!(bf(tie, NearestEven).0, 0x3f80);
    assert_eq!(bf(tie, NearestAway).0, 0x3f81);
    assert_eq!(bf(tie, TowardZero).0, 0x3f80);
    assert_eq!(bf(tie, TowardPositive).0, 0x3f81);
    assert_eq!(bf(tie, TowardNegative).0, 0x3f80);
    // 1 + 3*2^-8: tie between 0x3f81 and 0x3f82, even is 0x3f82.
    assert_eq!(bf(dy(false, (1 << 8) + 3, -8), NearestEven).0, 0x3f82);
    // Negative tie: away from zero is more negative; toward-neg rounds up in magnitude.
    let ntie = dy(true, (1 << 8) + 1, -8);
    assert_eq!(bf(ntie, NearestAway).0, 0xbf81);
    assert_eq!(bf(ntie, TowardNegative).0, 0xbf81);
    assert_eq!(bf(ntie, TowardPositive).0, 0xbf80);
    // 2^-134: half the smallest subnormal.
    let (b, s) = bf(dy(false, 1, -134), NearestEven);
    assert_eq!(b, 0x0000);
    assert!(s.underflow() && s.inexact());
    assert_eq!(bf(dy(false, 1, -134), NearestAway).0, 0x0001);
    assert_eq!(bf(dy(true, 1, -134), NearestEven).0, 0x8000); // keeps the sign
                                                              // 2^128 (1 - 2^-9): tie between max finite and 2^128.
    let (b, s) = bf(dy(false, (1 << 9) - 1, 119), NearestEven);
    assert_eq!(b, 0x7f80);
    assert!(s.overflow() && s.inexact());
    let (b, s) = bf(dy(false, (1 << 9) - 1, 119), TowardZero);
    assert_eq!(b, 0x7f7f);
    assert!(!s.overflow());
    let (b, s) = bf(dy(false, 1, 128), TowardZero);
    assert_eq!(b, 0x7f7f);
    assert!(s.overflow() && s.inexact());
    assert_eq!(bf(dy(true, 1, 128), TowardPositive).0, 0xff7f);
    assert_eq!(bf(dy(true, 1, 128), TowardNegative).0, 0xff80);
}

/// The special patterns of docs/numerics.md §1, literally (the tests elsewhere compare with the
/// crate's own constants, which would move along with a wrong encoding).
#[test]
fn special_patterns_are_the_documented_ones() {
    assert_eq!(
        [
            Bf16::NAN,
            Bf16::nan(),
            Bf16::INFINITY,
            Bf16::NEG_INFINITY,
            Bf16::MAX,
            Bf16::NEG_ZERO
        ]
        .map(|x| x.0),
        [0x7fc0, 0x7fc0, 0x7f80, 0xff80, 0x7f7f, 0x8000]
    );
    assert_eq!(
        [
            Fp32::NAN,
            Fp32::nan(),
            Fp32::INFINITY,
            Fp32::NEG_INFINITY,
            Fp32::MAX,
            Fp32::NEG_ZERO
        ]
        .map(|x| x.0),
        [
            0x7fc0_0000,
            0x7fc0_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7f7f_ffff,
            0x8000_0000
        ]
    );
}

#[test]
fn underflow_is_detected_after_rounding() {
    // Just below 2^-126, rounding up to 2^-126 with unbounded exponent: not tiny, no underflow.
    let just_below = dy(false, (1 << 10) - 1, -136); // 2^-126 * (1 - 2^-10)
    let (b, s) = bf(just_below, NearestEven);
    assert_eq!(b, 0x0080);
    assert!(s.inexact() && !s.underflow());
    // 2^-126 - 3*2^-136: rounds to 2^-126 on the subnormal grid (step 2^-133) but, with unbounded
    // exponent (step 2^-134), to 2^-126 - 2^-134: tiny, so underflow.
    let tiny = dy(false, (1 << 10) - 3, -136);
    let (b, s) = bf(tiny, NearestEven);
    assert_eq!(b, 0x0080);
    assert!(s.inexact() && s.underflow());
    // Exact subnormals raise nothing.
    let (b, s) = bf(dy(false, 3, -133), NearestEven);
    assert_eq!(b, 0x0003);
    assert!(s.is_ok());
}

#[test]
fn nan_and_signed_zero_products() {
    let m = |a: u16, b: u16| mul::<Bf16, Bf16, Bf16>(Bf16(a), Bf16(b), NearestEven);
    let r = m(0x7f80, 0x0000);
    assert_eq!(r.value, Bf16::NAN);
    assert!(r.status.invalid());
    assert_eq!(m(0x8000, 0x3f80).value.0, 0x8000);
    assert_eq!(m(0x8000, 0xbf80).value.0, 0x0000);
    assert_eq!(m(0xff80, 0xbf80).value.0, 0x7f80);
    assert_eq!(m(0x7fc1, 0x3f80).value, Bf16::NAN);
}

fn rat_of(v: Value) -> Option<BigRational> {
    match v {
        Value::Zero { .. } => Some(BigRational::zero()),
        Value::Finite(d) => {
            let m = BigRational::from_integer(BigInt::from(d.sig)) * pow2(d.exp as i64);
            Some(if d.neg { -m } else { m })
        }
        _ => None,
    }
}

fn mode_strategy() -> impl Strategy<Value = RoundingMode> {
    prop::sample::select(RoundingMode::ALL.to_vec())
}

fn interesting_bf16() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        0u16..0x0100,
        0x7e00u16..0x7f80,
        prop::sample::select(vec![
            0x3f80u16, 0x3f81, 0x0001, 0x8001, 0x7f7f, 0xff7f, 0x0080
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn bf16_products_match_oracle(a in interesting_bf16(), b in interesting_bf16(), mode in mode_strategy()) {
        let r = mul::<Bf16, Bf16, Bf16>(Bf16(a), Bf16(b), mode);
        if let (Some(x), Some(y)) = (decode(BF16, a as u32), decode(BF16, b as u32)) {
            let prod = x * y;
            if !prod.is_zero() {
                let o = round(BF16, &prod, mode);
                prop_assert_eq!(r.value.0 as u32, o.bits);
                prop_assert_eq!(r.status.inexact(), o.inexact);
                prop_assert_eq!(r.status.overflow(), o.overflow);
            }
        }
    }

    #[test]
    fn fp32_rounding_of_random_dyadics(neg in any::<bool>(), sig in 1u128.., exp in -300i32..100, mode in mode_strategy()) {
        let v = dy(neg, sig, exp);
        let r = Fp32::round(v, mode);
        let o = round(FP32, &rat_of(v).unwrap(), mode);
        prop_assert_eq!(r.value.0, o.bits);
        prop_assert_eq!(r.status.inexact(), o.inexact);
        prop_assert_eq!(r.status.overflow(), o.overflow);
    }

    /// Integer sums (the MAC's outputs, which take round_pack's 64-bit path when the result is
    /// normal) against the oracle: random sums, ties (a kept part, then exactly half an ulp,
    /// optionally plus or minus one), exponents that reach subnormals and overflow, both formats,
    /// every mode.
    #[test]
    fn integer_sums_round_like_the_oracle(kept in any::<i64>(), shift in 0u32..64, tail in 0u8..5,
                                          exp in -230i32..140, mode in mode_strategy()) {
        let sum = if shift == 0 {
            kept
        } else {
            let half = 1i64 << (shift - 1);
            // The low `shift` bits of `kept`; the mask is built in u64 as shift reaches 63.
            let low = kept & ((1u64 << shift) - 1) as i64;
            let t = [0, half, half + 1, half - 1, low][tail as usize];
            (kept >> (64 - shift).min(63)).wrapping_shl(shift).wrapping_add(t)
        };
        let x = int(sum) * pow2(exp as i64);
        let v = Value::int(sum as i128, exp);
        let b = Bf16::round(v, mode);
        let o = round(BF16, &x, mode);
        prop_assert_eq!(b.value.0 as u32, o.bits, "bf16 {} * 2^{} {}", sum, exp, mode);
        prop_assert_eq!((b.status.inexact(), b.status.overflow()), (o.inexact, o.overflow));
        let f = Fp32::round(v, mode);
        let o = round(FP32, &x, mode);
        prop_assert_eq!(f.value.0, o.bits, "fp32 {} * 2^{} {}", sum, exp, mode);
        prop_assert_eq!((f.status.inexact(), f.status.overflow()), (o.inexact, o.overflow));
        // The MAC's rounding with the mode folded in: the same values and flags.
        prop_assert_eq!(IntRounder::<Bf16>::new(mode).round(sum, exp), b, "{} * 2^{} {}", sum, exp, mode);
        prop_assert_eq!(IntRounder::<Fp32>::new(mode).round(sum, exp), f, "{} * 2^{} {}", sum, exp, mode);
        // Underflow (tininess after rounding) only below the smallest normal, and only when inexact.
        for (st, emin) in [(b.status, -126i64), (f.status, -126)] {
            let tiny_possible = x.abs() < pow2(emin);
            prop_assert!(!st.underflow() || (tiny_possible && st.inexact()), "{} * 2^{} {}", sum, exp, mode);
        }
    }

    #[test]
    fn bf16_rounding_with_sticky(sig in (1u128 << 20)..(1u128 << 40), exp in -180i32..100, mode in mode_strategy()) {
        // sig + sticky stands for any value strictly inside (sig, sig+1): test with sig + 1/2^10.
        let v = Value::Finite(Dyadic { neg: false, sig, exp, sticky: true });
        let exact = (int(1) * BigRational::from_integer(BigInt::from(sig)) + pow2(-10)) * pow2(exp as i64);
        prop_assert_eq!(Bf16::round(v, mode).value.0 as u32, round(BF16, &exact, mode).bits);
    }

    #[test]
    fn accumulator_is_exact(terms in prop::collection::vec((-(1i64 << 40)..(1i64 << 40), -300i32..200), 1..40), mode in mode_strategy()) {
        let mut acc = ExactAcc::new();
        let mut sum = BigRational::zero();
        for &(i, e) in &terms {
            acc.add_int(i, e);
            sum += int(i) * pow2(e as i64);
        }
        let r = acc.round::<Fp32>(mode);
        if sum.is_zero() {
            prop_assert_eq!(r.value.0, 0);
        } else {
            prop_assert_eq!(r.value.0, round(FP32, &sum, mode).bits);
        }
        prop_assert_eq!(acc.round::<Bf16>(mode).value.0 as u32, if sum.is_zero() { 0 } else { round(BF16, &sum, mode).bits });
    }

    #[test]
    fn quantizer_matches_oracle(vals in prop::collection::vec(any::<u32>(), 1..=32),
                                shift in 0u32..8, away in any::<bool>()) {
        // Spread exponents: clear some exponent bits so small and subnormal values appear too.
        let vals: Vec<Fp32> = vals.iter().map(|b| Fp32((b >> (shift * (b & 1))) & 0xff7f_ffff)).collect();
        let mode = if away { NearestAway } else { NearestEven };
        let q = MxInt8Block::quantize(&vals, mode);
        let (blk, status) = (q.value, q.status);
        let rats: Vec<BigRational> = vals.iter().map(|v| decode(FP32, v.0).unwrap()).collect();
        let amax = rats.iter().map(|r| r.abs()).max().unwrap();
        if amax.is_zero() {
            prop_assert_eq!(blk, MxInt8Block::ZERO);
            prop_assert_eq!(status, Status::OK);
        } else {
            // floor(log2 amax) by search, independent of the bit layout.
            let mut e: i64 = -200;
            while pow2(e + 1) <= amax { e += 1; }
            let e = e.clamp(-127, 127);
            prop_assert_eq!(blk.scale.0 as i64, e + 127);
            let (mut inexact, mut overflow, mut underflow) = (false, false, false);
            for (i, r) in rats.iter().enumerate() {
                let scaled = r * pow2(6 - e);
                let rounded = oracle::round_int(&scaled, mode);
                let q = rounded.clone().clamp(BigInt::from(-127), BigInt::from(127));
                prop_assert_eq!(BigInt::from(blk.elems[i]), q.clone(), "element {}", i);
                inexact |= BigRational::from_integer(q.clone()) != scaled;
                overflow |= rounded != q;
                underflow |= q.is_zero() && !r.is_zero();
            }
            prop_assert_eq!(status.inexact(), inexact);
            prop_assert_eq!(status.overflow(), overflow);
            prop_assert_eq!(status.underflow(), underflow);
            prop_assert!(!status.invalid() && !status.div_by_zero());
            for i in rats.len()..32 {
                prop_assert_eq!(blk.elems[i], 0);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn accumulator_window_path_is_exact(e0 in -320i32..180, terms in prop::collection::vec((any::<i64>(), 0i32..70), 1..200)) {
        // Nearby exponents and huge integers: exercises the i128 window, its re-alignment and its
        // overflow into the wide register.
        let mut acc = ExactAcc::new();
        let mut sum = BigRational::zero();
        for &(i, de) in &terms {
            let e = (e0 + de).min(256);
            acc.add_int(i, e);
            sum += int(i) * pow2(e as i64);
        }
        let want = if sum.is_zero() { 0 } else { round(FP32, &sum, NearestEven).bits };
        prop_assert_eq!(acc.round::<Fp32>(NearestEven).value.0, want);
    }
}

/// Significands with structure random ones rarely have: runs of ones (which carry into the next
/// binade when rounded up, also just below 2^emin, where tininess is decided after rounding),
/// single bits, and 64-bit values shifted up to 64 places (so the low 64 bits can be all zero).
fn structured_sig() -> impl Strategy<Value = u128> {
    prop_oneof![
        (1u32..=128, 0u32..128).prop_map(|(n, k)| (u128::MAX >> (128 - n)) << k.min(128 - n)),
        (0u32..128).prop_map(|k| 1u128 << k),
        (1u64.., 0u32..=64).prop_map(|(s, k)| (s as u128) << k),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// Structured significands, leading bit from below the subnormals to above the largest
    /// finite value, optionally sticky: then with at least p + 2 = 26 bits, as producers of
    /// sticky values must give (short ones take round_pack's 64-bit path unless it checks the
    /// sticky bit), or with 128 bits as the accumulator gives. Bits and every flag against the
    /// oracle, both formats.
    #[test]
    fn structured_significands_round_like_the_oracle(sig in structured_sig(), kind in 0u8..3, top in -170i32..135,
                                                     neg in any::<bool>(), mode in mode_strategy()) {
        let sticky = kind > 0;
        let sig = match kind {
            1 if sig >> 25 == 0 => sig << 25,
            2 => sig | 1 << 127,
            _ => sig,
        };
        let exp = top - (127 - sig.leading_zeros() as i32);
        let v = Value::Finite(Dyadic { neg, sig, exp, sticky });
        // A sticky value lies strictly inside (sig, sig + 1) units: sig + 1/2 stands for all of it.
        let half = if sticky { pow2(-1) } else { BigRational::zero() };
        let mag = (BigRational::from_integer(BigInt::from(sig)) + half) * pow2(exp as i64);
        let x = if neg { -mag } else { mag };
        let f = Fp32::round(v, mode);
        let o = round(FP32, &x, mode);
        prop_assert_eq!((f.value.0, f.status), (o.bits, o.status()), "fp32 {:?} {}", v, mode);
        let b = Bf16::round(v, mode);
        let o = round(BF16, &x, mode);
        prop_assert_eq!((b.value.0 as u32, b.status), (o.bits, o.status()), "bf16 {:?} {}", v, mode);
    }
}

/// A zero significand (which round_pack accepts, though no producer makes one) is a zero of its
/// sign, exact, in every mode.
#[test]
fn zero_significand_is_a_signed_zero() {
    for mode in RoundingMode::ALL {
        for (neg, bits) in [(false, 0), (true, 0x8000_0000)] {
            let r = Fp32::round(Value::Finite(Dyadic::exact(neg, 0, 5)), mode);
            assert_eq!((r.value.0, r.status), (bits, Status::OK));
        }
    }
}

#[test]
fn quantizer_documented_examples() {
    let f = |x: f32| Fp32::from_f32(x);
    let quantize = |v: &[Fp32], mode| MxInt8Block::quantize(v, mode).value;
    let b = quantize(&[f(1.0), f(0.5), f(-0.25), f(0.0)], NearestAway);
    assert_eq!(b.scale.0, 0x7f);
    assert_eq!(&b.elems[..4], &[64, 32, -16, 0]);
    let b = quantize(&[f(3.0), f(3.0 / 256.0)], NearestAway);
    assert_eq!((b.scale.0, b.elems[0], b.elems[1]), (0x80, 96, 0));
    let tie = [f(1.0), f(1.0 / 128.0), f(-1.0 / 128.0)];
    assert_eq!(&quantize(&tie, NearestAway).elems[..3], &[64, 1, -1]);
    assert_eq!(&quantize(&tie, NearestEven).elems[..3], &[64, 0, 0]);
    let b = quantize(&[Bf16(0x3fff).to_fp32(), f(-1.9921875)], NearestAway);
    assert_eq!((b.scale.0, b.elems[0], b.elems[1]), (0x7f, 127, -127));
    // Non-finite anywhere: NaN scale, zero elements. All zero: scale 0.
    let b = MxInt8Block::quantize(&[f(1.0), f(f32::INFINITY)], NearestAway);
    assert_eq!((b.value.scale.0, b.value.elems), (0xff, [0; 32]));
    assert_eq!(b.status, Status::INVALID);
    assert_eq!(quantize(&[f(0.0), f(-0.0)], NearestAway), MxInt8Block::ZERO);
    // Largest and smallest scales.
    let b = quantize(&[f(f32::MAX)], NearestAway);
    assert_eq!((b.scale.0, b.elems[0]), (254, 127));
    let b = quantize(&[Fp32(1), Fp32(0x0040_0000)], NearestAway);
    assert_eq!((b.scale.0, b.elems[0], b.elems[1]), (0, 0, 64)); // 2^-127 * 2^(6+127) = 64
}

/// A row is cut into blocks of 32 along its length; the last block is zero-padded; blocks are
/// appended after what the vector already holds.
#[test]
fn quantize_row_cuts_blocks_of_32() {
    use hw_types::mxint8::quantize_row;
    let f = |x: f32| Fp32::from_f32(x);
    // 70 values: blocks of 32, 32 and 6. Block k holds 2^k in its first element and 1.0 elsewhere.
    let row: Vec<Fp32> = (0..70)
        .map(|i| {
            if i % 32 == 0 {
                f((1 << (i / 32)) as f32)
            } else {
                f(1.0)
            }
        })
        .collect();
    let mut out = vec![MxInt8Block::quantize(&[f(-3.0)], NearestAway)];
    quantize_row(&row, NearestAway, &mut out);
    assert_eq!(out.len(), 4);
    assert_eq!((out[0].value.scale.0, out[0].value.elems[0]), (0x80, -96));
    let scales: Vec<u8> = out[1..].iter().map(|b| b.value.scale.0).collect();
    assert_eq!(scales, [0x7f, 0x80, 0x81]);
    assert_eq!(&out[1].value.elems, &[64; 32]);
    assert_eq!(out[2].value.elems[..2], [64, 32]);
    assert_eq!(out[2].value.elems[31], 32);
    assert_eq!(out[3].value.elems[..6], [64, 16, 16, 16, 16, 16]);
    assert_eq!(
        out[3].value.elems[6..],
        [0; 26],
        "the partial block is zero-padded"
    );
    assert!(out[1..].iter().all(|b| b.status == Status::OK));
    // Flags travel with their block.
    let mut flagged = Vec::new();
    quantize_row(&[f(1.0), f(1.0 / 256.0)], NearestEven, &mut flagged);
    assert_eq!(flagged[0].status, Status::INEXACT | Status::UNDERFLOW);
    quantize_row(&[], NearestEven, &mut flagged);
    assert_eq!(flagged.len(), 1, "an empty row adds no block");
}

#[test]
fn block_dot_weights_and_nan() {
    let mut a = MxInt8Block::ZERO;
    let mut b = MxInt8Block::ZERO;
    a.scale.0 = 127 + 3;
    b.scale.0 = 127 - 5;
    a.elems[0] = -128;
    b.elems[0] = -128;
    a.elems[31] = 127;
    b.elems[31] = -1;
    assert_eq!(int_dot(&a.elems, &b.elems), 16384 - 127);
    assert_eq!(
        a.dot(&b),
        BlockDot::Value {
            dot: 16257,
            exp: 3 - 5 - 12
        }
    );
    b.scale.0 = 0xff;
    assert_eq!(a.dot(&b), BlockDot::NaN);
    let w = a.to_word();
    assert_eq!(MxInt8Block::from_word(&w), a);
    assert_eq!(w[0], 130);
    assert_eq!(w[32], 0x80);
    assert_eq!(w[1], 127);
}

/// [`IntRounder`] (the MAC's rounding of each output, the mode folded into an addend) against
/// the general rounding `Format::round` (checked against the oracle above) on every kind of
/// integer sum, in both formats and every mode: each kept part's boundaries (a kept part, plus
/// nothing, one, half an ulp less one, half an ulp, half an ulp plus one, an ulp less one, and
/// minus one) for every position of the leading bit and the extreme kept parts, both signs,
/// scaled to land just below, at and above the smallest subnormal, the smallest normal and the
/// largest binade (and the overflow threshold past it); then random sums and exponents.
#[test]
fn int_rounder_equals_the_general_rounding_at_every_boundary() {
    fn check<F: Format>(r: &IntRounder<F>, sum: i64, exp: i32, mode: RoundingMode) {
        let want: StatusAnd<F> = F::round(Value::int(sum as i128, exp), mode);
        assert_eq!(
            r.round(sum, exp),
            want,
            "{} {sum} * 2^{exp} {mode}",
            F::SPEC.name
        );
    }
    // Where the leading bit lands: around 2^-149 (BF16's smallest subnormal is 2^-133), 2^-126,
    // 1 and 2^127.
    let tops = [
        -152, -150, -149, -148, -135, -134, -133, -132, -128, -127, -126, -125, -1, 0, 1, 125, 126,
        127, 128, 129,
    ];
    let mut sums = vec![1i64, -1, i64::MAX, i64::MIN, i64::MIN + 1, i64::MAX - 1];
    for top in 0..63u32 {
        for p in [8u32, 24] {
            let base = 1i64 << top;
            let ulp_shift = top.saturating_sub(p - 1);
            let ulp = 1i64 << ulp_shift;
            let half = ulp / 2;
            let max_kept = ((1i64 << (p - 1)) - 1).min(base - 1) / ulp;
            for k in [0, 1, 2, 3, max_kept - 1, max_kept] {
                if k < 0 {
                    continue;
                }
                for d in [0, 1, half - 1, half, half + 1, ulp - 1, -1] {
                    let s = base + k * ulp + d;
                    if s > 0 {
                        sums.extend([s, -s]);
                    }
                }
            }
        }
    }
    for mode in RoundingMode::ALL {
        let (rb, rf) = (IntRounder::<Bf16>::new(mode), IntRounder::<Fp32>::new(mode));
        check(&rb, 0, 5, mode);
        check(&rf, 0, -300, mode);
        for &s in &sums {
            let lead = 63 - s.unsigned_abs().leading_zeros() as i32;
            for t in tops {
                check(&rb, s, t - lead, mode);
                check(&rf, s, t - lead, mode);
            }
        }
        let mut x = 0x9e3779b97f4a7c15u64;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = (x as i64) >> (x % 64);
            let exp = (x >> 40) as i32 % 190 - 100;
            check(&rb, s, exp, mode);
            check(&rf, s, exp, mode);
        }
    }
}
