//! The exact accumulator against the rational oracle, above all its spilled path: a sum whose
//! terms span more than the i128 window (exp outputs from subnormals to 2^127 in one row, MXINT8
//! blocks with far-apart scales) goes through the 640-bit register, the gathering of its top 128
//! bits, the sticky bit and the negation of a negative total.
//!
//! Every check compares `ExactAcc::value()` with the exact rational sum (the returned significand
//! must be the top bits, the sticky bit must say whether anything lies below them) and
//! `ExactAcc::round` with the oracle's rounding, in both formats and all five modes, flags
//! included. Expected values come from `oracle/` or from hand calculation, never from the crate.

mod oracle;

use hw_types::acc::{ACC_LSB_EXP, ACC_MAX_TERM_EXP};
use hw_types::{Bf16, ExactAcc, Format, Fp32, RoundingMode, Status, Value};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use oracle::{pow2, Fmt, BF16, FP32};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Largest term exponent the random tests use. The register holds magnitudes below 2^319, so up
/// to 64 terms of |int| <= 2^63 at 2^250 cannot overflow it.
const TOP_EXP: i32 = 250;

/// One call on the accumulator.
#[derive(Clone, Copy, Debug)]
enum Addend {
    /// `add_int(int, exp)`.
    Int(i64, i32),
    /// `add_value` of an FP32 bit pattern.
    F32(u32),
    /// `add_value` of a BF16 bit pattern.
    B16(u16),
    /// `add_nan` (a block with a NaN scale took part).
    Nan,
}
use Addend::{Int, B16, F32};

fn accumulate(addends: &[Addend]) -> ExactAcc {
    let mut acc = ExactAcc::new();
    for a in addends {
        match *a {
            Int(i, e) => acc.add_int(i, e),
            F32(b) => acc.add_value(Fp32(b).value()),
            B16(b) => acc.add_value(Bf16(b).value()),
            Addend::Nan => acc.add_nan(),
        }
    }
    acc
}

/// What the sum must be, from the IEEE rules of docs/numerics.md and exact rationals.
#[derive(Clone, Debug, PartialEq)]
enum Sum {
    NaN { invalid: bool },
    Inf { neg: bool },
    Zero { neg: bool },
    Finite(BigRational),
}

/// A float addend classified on its bit fields, its finite value from the oracle's decoder.
fn classify(f: Fmt, bits: u32) -> Sum {
    let neg = bits & f.sign_bit() != 0;
    let mag = bits & !f.sign_bit();
    if mag > f.inf_bits() {
        Sum::NaN { invalid: false }
    } else if mag == f.inf_bits() {
        Sum::Inf { neg }
    } else if mag == 0 {
        Sum::Zero { neg }
    } else {
        Sum::Finite(oracle::decode(f, bits).unwrap())
    }
}

fn model(addends: &[Addend]) -> Sum {
    let (mut nan, mut pos_inf, mut neg_inf) = (false, false, false);
    let mut only_neg_zeros = !addends.is_empty();
    let mut sum = BigRational::zero();
    for a in addends {
        let term = match *a {
            Int(i, e) => Sum::Finite(oracle::int(i) * pow2(e as i64)),
            F32(b) => classify(FP32, b),
            B16(b) => classify(BF16, b as u32),
            Addend::Nan => Sum::NaN { invalid: false },
        };
        match term {
            Sum::NaN { .. } => nan = true,
            Sum::Inf { neg } => {
                only_neg_zeros = false;
                pos_inf |= !neg;
                neg_inf |= neg;
            }
            Sum::Zero { neg } => only_neg_zeros &= neg,
            Sum::Finite(x) => {
                only_neg_zeros = false;
                sum += x;
            }
        }
    }
    if nan || (pos_inf && neg_inf) {
        Sum::NaN { invalid: !nan }
    } else if pos_inf || neg_inf {
        Sum::Inf { neg: neg_inf }
    } else if sum.is_zero() {
        Sum::Zero {
            neg: only_neg_zeros,
        }
    } else {
        Sum::Finite(sum)
    }
}

fn rat(x: u128) -> BigRational {
    BigRational::from_integer(BigInt::from(x))
}

/// `value()` is the exact sum: for a finite one, `|sum|` lies in `[sig, sig + 1) * 2^exp`, the
/// sticky bit is set exactly when it is not `sig * 2^exp`, and a sticky `sig` holds 128 bits.
fn check_value(acc: &ExactAcc, want: &Sum) -> Result<(), TestCaseError> {
    let got = acc.value();
    match want {
        Sum::NaN { invalid } => {
            let status = if *invalid {
                Status::INVALID
            } else {
                Status::OK
            };
            prop_assert_eq!((got.value, got.status), (Value::NaN, status));
        }
        Sum::Inf { neg } => prop_assert_eq!(
            (got.value, got.status),
            (Value::Inf { neg: *neg }, Status::OK)
        ),
        Sum::Zero { neg } => prop_assert_eq!(
            (got.value, got.status),
            (Value::Zero { neg: *neg }, Status::OK)
        ),
        Sum::Finite(s) => {
            prop_assert_eq!(got.status, Status::OK);
            let Value::Finite(d) = got.value else {
                return Err(TestCaseError::fail(format!(
                    "{:?} for the finite sum {s}",
                    got.value
                )));
            };
            prop_assert_eq!(d.neg, s.is_negative(), "sign of {}", s);
            let unit = pow2(d.exp as i64);
            let low = rat(d.sig) * &unit;
            let mag = s.abs();
            prop_assert!(
                low <= mag && mag < &low + &unit,
                "{:?} does not bracket {}",
                d,
                s
            );
            prop_assert_eq!(d.sticky, low != mag, "sticky of {:?} for {}", d, s);
            prop_assert!(
                !d.sticky || d.sig >> 127 == 1,
                "sticky with a short significand: {:?}",
                d
            );
        }
    }
    Ok(())
}

/// `round::<F>(mode)` is the oracle's rounding of the sum, bits and flags.
fn check_round<F: Format>(
    acc: &ExactAcc,
    want: &Sum,
    f: Fmt,
    mode: RoundingMode,
) -> Result<(), TestCaseError> {
    let got = acc.round::<F>(mode);
    let sign = |neg: bool| if neg { f.sign_bit() } else { 0 };
    let (bits, status) = match want {
        Sum::NaN { invalid } => {
            let quiet_nan = f.inf_bits() | 1 << (f.p - 2);
            (
                quiet_nan,
                if *invalid {
                    Status::INVALID
                } else {
                    Status::OK
                },
            )
        }
        Sum::Inf { neg } => (sign(*neg) | f.inf_bits(), Status::OK),
        Sum::Zero { neg } => (sign(*neg), Status::OK),
        Sum::Finite(s) => {
            let o = oracle::round(f, s, mode);
            (o.bits, o.status())
        }
    };
    prop_assert_eq!(
        (got.value.bits_u32(), got.status),
        (bits, status),
        "{:?} in {} for {:?}",
        F::SPEC.name,
        mode,
        want
    );
    Ok(())
}

fn check(addends: &[Addend]) -> Result<(), TestCaseError> {
    let acc = accumulate(addends);
    let want = model(addends);
    check_value(&acc, &want)?;
    for mode in RoundingMode::ALL {
        check_round::<Fp32>(&acc, &want, FP32, mode)?;
        check_round::<Bf16>(&acc, &want, BF16, mode)?;
    }
    Ok(())
}

fn assert_sum(addends: &[Addend]) {
    if let Err(e) = check(addends) {
        panic!("{e}\naddends: {addends:?}");
    }
}

fn value_of(addends: &[Addend]) -> Value {
    accumulate(addends).value().value
}

fn fp32_bits(addends: &[Addend], mode: RoundingMode) -> (u32, Status) {
    let r = accumulate(addends).round::<Fp32>(mode);
    (r.value.0, r.status)
}

// ---- Hand-calculated cases: each expectation is worked out in its comment. ----

/// 2^250 + 2^-266 - 2^250 = 2^-266: the remainder far below the cancelled terms survives exactly.
/// In FP32 it is below half the smallest subnormal 2^-149: +0 in nearest-even, the smallest
/// subnormal toward +inf, both inexact and underflowing.
#[test]
fn tiny_remainder_of_a_huge_cancellation() {
    let terms = [Int(1, 250), Int(1, -266), Int(-1, 250)];
    match value_of(&terms) {
        Value::Finite(d) => {
            assert!(!d.neg && !d.sticky);
            assert_eq!(rat(d.sig) * pow2(d.exp as i64), pow2(-266));
        }
        v => panic!("{v:?}"),
    }
    let flags = Status::INEXACT | Status::UNDERFLOW;
    assert_eq!(fp32_bits(&terms, RoundingMode::NearestEven), (0, flags));
    assert_eq!(fp32_bits(&terms, RoundingMode::TowardPositive), (1, flags));
    assert_sum(&terms);
}

/// 1 + 2^-24 is the FP32 tie between 1 (0x3f800000) and 1 + 2^-23 (0x3f800001); 1 + 2^-8 the BF16
/// tie between 0x3f80 and 0x3f81. A term 2^-300 (far outside the window, so the sum spills) only
/// shows in the sticky bit, and decides the tie: up when added, down when subtracted; exact ties
/// go to the even pattern.
#[test]
fn a_sticky_bit_from_far_below_decides_ties() {
    use RoundingMode::NearestEven as Rne;
    for (tie_exp, tiny, want_fp32, want_bf16) in [
        (-24, 0, 0x3f80_0000, None),
        (-24, 1, 0x3f80_0001, None),
        (-24, -1, 0x3f80_0000, None),
        // 1 + 2^-8 is exact in FP32 (fraction bit 15).
        (-8, 0, 0x3f80_8000, Some(0x3f80)),
        (-8, 1, 0x3f80_8000, Some(0x3f81)),
        (-8, -1, 0x3f80_8000, Some(0x3f80)),
    ] {
        let terms = [Int(1, 0), Int(tiny, -300), Int(1, tie_exp)];
        assert_eq!(
            fp32_bits(&terms, Rne).0,
            want_fp32,
            "tie 2^{tie_exp}, tiny {tiny}"
        );
        if let Some(b) = want_bf16 {
            assert_eq!(accumulate(&terms).round::<Bf16>(Rne).value.0, b);
        }
        assert_sum(&terms);
    }
}

/// -2^100 + 2^-300: a negative total (the negation path) whose top 128 bits are all ones, below
/// them more ones: sig = 2^128 - 1 with weight 2^(100 - 128), sticky. In FP32 the magnitude lies
/// just below 2^100 (0x71800000): toward zero gives the pattern below it, nearest and
/// toward -inf give -2^100.
#[test]
fn negative_total_just_inside_a_power_of_two() {
    let terms = [Int(-1, 100), Int(1, -300)];
    assert_eq!(
        value_of(&terms),
        Value::Finite(hw_types::Dyadic {
            neg: true,
            sig: u128::MAX,
            exp: -28,
            sticky: true
        })
    );
    let inexact = Status::INEXACT;
    assert_eq!(
        fp32_bits(&terms, RoundingMode::NearestEven),
        (0xf180_0000, inexact)
    );
    assert_eq!(
        fp32_bits(&terms, RoundingMode::TowardNegative),
        (0xf180_0000, inexact)
    );
    assert_eq!(
        fp32_bits(&terms, RoundingMode::TowardZero),
        (0xf17f_ffff, inexact)
    );
    assert_eq!(
        fp32_bits(&terms, RoundingMode::TowardPositive),
        (0xf17f_ffff, inexact)
    );
    assert_sum(&terms);
}

/// Sums at half the smallest subnormal (2^-150 in FP32, 2^-134 in BF16), spilled so that the
/// significand has 128 bits: exactly half rounds to even (+0), anything above it to the smallest
/// subnormal, anything below to zero (in nearest-even); checked in every mode and both formats.
#[test]
fn half_the_smallest_subnormal() {
    for h in [-150, -134] {
        for tail in [
            None,
            Some((1, h - 1)),
            Some((1, h - 127)),
            Some((1, h - 128)),
            Some((1, ACC_LSB_EXP)),
            Some((-1, ACC_LSB_EXP)),
        ] {
            let mut terms = vec![Int(1, TOP_EXP), Int(1, h)];
            terms.extend(tail.map(|(i, e)| Int(i, e)));
            terms.push(Int(-1, TOP_EXP));
            assert_sum(&terms);
            assert_sum(&negated(&terms));
        }
    }
}

/// An IEEE sum of only -0 is -0; any other exact zero (nothing added, a +0 or an integer zero
/// among the addends, cancellation, in the window or in the register) is +0, in every mode.
#[test]
fn signed_zeros() {
    let neg_zero = Value::Zero { neg: true };
    let pos_zero = Value::Zero { neg: false };
    assert_eq!(value_of(&[]), pos_zero);
    assert_eq!(value_of(&[F32(0x8000_0000)]), neg_zero);
    assert_eq!(value_of(&[F32(0x8000_0000), B16(0x8000)]), neg_zero);
    for pos in [F32(0), B16(0), Int(0, 7), Int(0, ACC_LSB_EXP)] {
        assert_eq!(value_of(&[F32(0x8000_0000), pos]), pos_zero, "{pos:?}");
        assert_eq!(value_of(&[pos, B16(0x8000)]), pos_zero, "{pos:?}");
    }
    let window = [B16(0x8000), Int(3, -7), Int(-3, -7)];
    let spilled = [
        Int(1, 250),
        B16(0x8000),
        Int(1, -320),
        Int(-1, 250),
        Int(-1, -320),
    ];
    for terms in [&window[..], &spilled[..]] {
        assert_eq!(value_of(terms), pos_zero);
        for mode in RoundingMode::ALL {
            assert_eq!(fp32_bits(terms, mode), (0, Status::OK), "{mode}");
        }
    }
    assert_eq!(
        fp32_bits(&[F32(0x8000_0000)], RoundingMode::NearestEven),
        (0x8000_0000, Status::OK)
    );
}

/// NaN wins over everything and raises nothing; +inf and -inf together make NaN with `invalid`;
/// a single infinity passes through whatever finite terms (window or register) came with it.
#[test]
fn nan_and_infinity_bookkeeping() {
    let spill = [Int(5, 250), Int(-3, -320)];
    let cases: [(Vec<Addend>, Value, Status); 7] = [
        (vec![Addend::Nan], Value::NaN, Status::OK),
        (vec![F32(0x7f80_0001), Int(1, 0)], Value::NaN, Status::OK),
        (vec![B16(0xff80), B16(0x7f80)], Value::NaN, Status::INVALID),
        (
            vec![F32(0xff80_0000), Addend::Nan, F32(0x7f80_0000)],
            Value::NaN,
            Status::OK,
        ),
        (
            vec![spill[0], F32(0x7f80_0000), spill[1]],
            Value::Inf { neg: false },
            Status::OK,
        ),
        (
            vec![spill[0], B16(0xff80), spill[1], B16(0xff80)],
            Value::Inf { neg: true },
            Status::OK,
        ),
        (
            vec![B16(0x8000), F32(0xff80_0000)],
            Value::Inf { neg: true },
            Status::OK,
        ),
    ];
    for (terms, value, status) in cases {
        let v = accumulate(&terms).value();
        assert_eq!((v.value, v.status), (value, status), "{terms:?}");
        assert_sum(&terms);
    }
    // The status of the exact sum reaches the rounded result.
    let r =
        accumulate(&[F32(0x7f80_0000), F32(0xff80_0000)]).round::<Fp32>(RoundingMode::NearestEven);
    assert_eq!((r.value, r.status), (Fp32::NAN, Status::INVALID));
}

// ---- Sweeps over every position: deterministic, checked with `value()` (exactness and sticky). ----

fn assert_value(addends: &[Addend]) {
    if let Err(e) = check_value(&accumulate(addends), &model(addends)) {
        panic!("{e}\naddends: {addends:?}");
    }
}

fn negated(addends: &[Addend]) -> Vec<Addend> {
    addends
        .iter()
        .map(|a| match *a {
            Int(i, e) => Int(-i, e),
            other => other,
        })
        .collect()
}

/// The window flushed into the register at every exponent, hence at every offset modulo 64 and
/// into every limb: small and nearly full windows of both signs (the sign extension), flushed by a
/// far term (in `add_int`) or by `value()`, onto an empty register or onto one full of ones from
/// 2^-320 up, so that carries run through the limbs.
#[test]
fn window_flushes_at_every_offset() {
    let ones_below_2_250 = [Int(-1, ACC_LSB_EXP), Int(1, TOP_EXP)];
    for e in ACC_LSB_EXP..=TOP_EXP {
        let far = if e > 0 { ACC_LSB_EXP } else { TOP_EXP };
        let mut windows = vec![vec![Int(1, e)], vec![Int(0x0123_4567_89ab_cdef, e)]];
        // Windows of about 2^125 and 2^126 at 2^e, while the register can hold them.
        if e + 127 < 318 && e + 62 <= ACC_MAX_TERM_EXP {
            windows.push(vec![Int(0x0123_4567_89ab_cdef, e), Int(i64::MAX, e + 62)]);
            windows.push(vec![
                Int(-1, e),
                Int(-i64::MAX, e + 62),
                Int(-i64::MAX, e + 62),
            ]);
        }
        for w in windows {
            for w in [w.clone(), negated(&w)] {
                let mut flushed_by_term = w.clone();
                flushed_by_term.push(Int(1, far));
                let mut flushed_by_value = vec![Int(1, far)];
                flushed_by_value.extend(&w);
                let mut onto_ones = ones_below_2_250.to_vec();
                onto_ones.extend(&w);
                for terms in [w, flushed_by_term, flushed_by_value, onto_ones] {
                    assert_value(&terms);
                }
            }
        }
    }
}

/// A window `+-(2^k + 1)` realigned to a term `sh` bits below it: the shifted window must not
/// overflow i128 (else it has to spill), for every window width and every shift up to 70.
#[test]
fn window_realigns_or_spills_exactly() {
    for e0 in [-100, 0, 3] {
        for k in 1..=124i32 {
            let s = k.saturating_sub(62);
            let window = [Int(1, e0), Int(1 << (k - s), e0 + s)];
            for sh in 0..=70 {
                for w in [window.to_vec(), negated(&window)] {
                    for t in [1, -i64::MAX] {
                        let mut terms = w.clone();
                        terms.push(Int(t, e0 - sh));
                        assert_value(&terms);
                    }
                }
            }
        }
    }
}

/// A small deterministic generator for the sweeps (SplitMix64).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Sums of exactly 128 significant bits, `sig * 2^e` with bit 127 set, at every position of the
/// register (every leading-zero count in the top limb, every top limb): the spilled path must
/// return them whole with no sticky bit. Then one more unit at 2^(e-1) (just below the 128 bits),
/// at 2^(e-64) (one limb further) or at 2^-320 must set the sticky bit; subtracted, it turns all
/// the bits below into ones (and the significand one lower). Both signs.
#[test]
fn top_128_bits_and_sticky_at_every_position() {
    let mut seed = 1;
    for e in ACC_LSB_EXP..=ACC_MAX_TERM_EXP - 126 {
        let sig = (splitmix(&mut seed) as u128) << 64 | splitmix(&mut seed) as u128 | 1 << 127;
        let mask = (1u128 << 63) - 1;
        // Three non-negative i64 chunks: bits 0..63, 63..126 and 126..128.
        let chunks = [
            Int((sig & mask) as i64, e),
            Int((sig >> 63 & mask) as i64, e + 63),
            Int((sig >> 126) as i64, e + 126),
        ];
        let mut cases = vec![chunks.to_vec()];
        for tail_exp in [e - 1, e - 64, ACC_LSB_EXP] {
            if tail_exp >= ACC_LSB_EXP && tail_exp < e {
                for unit in [1, -1] {
                    let mut terms = chunks.to_vec();
                    terms.push(Int(unit, tail_exp));
                    cases.push(terms);
                }
            }
        }
        for terms in cases {
            assert_value(&terms);
            assert_value(&negated(&terms));
        }
    }
}

// ---- Random sums against the oracle: value() and every rounding. ----

/// Integers reaching the extremes as well as small values and single bits (never i64::MIN, so
/// that every term can be cancelled by its negation).
fn int_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        -i64::MAX..=i64::MAX,
        -1000i64..=1000,
        (0u32..63, any::<bool>()).prop_map(|(k, neg)| if neg { -(1 << k) } else { 1 << k }),
        Just(i64::MAX),
        Just(-i64::MAX),
    ]
}

/// A term anywhere in the range, or one of a cluster a few limbs wide (which the window partly
/// absorbs).
fn terms(max: usize) -> impl Strategy<Value = Vec<Addend>> {
    let anywhere = (int_strategy(), ACC_LSB_EXP..=TOP_EXP).prop_map(|(i, e)| Int(i, e));
    let clustered = (
        ACC_LSB_EXP..=TOP_EXP - 140,
        prop::collection::vec((int_strategy(), 0..140), 1..=max),
    )
        .prop_map(|(base, ts)| ts.into_iter().map(|(i, d)| Int(i, base + d)).collect());
    prop_oneof![prop::collection::vec(anywhere, 1..=max), clustered]
}

/// Floats of every kind: random patterns (mostly finite, from subnormal to the largest) and the
/// zeros, infinities and NaNs.
fn float_addend() -> impl Strategy<Value = Addend> {
    prop_oneof![
        any::<u32>().prop_map(F32),
        any::<u16>().prop_map(B16),
        prop::sample::select(vec![
            F32(0),
            F32(0x8000_0000),
            F32(0x7f80_0000),
            F32(0xff80_0000),
            F32(0x7fc0_0000),
            F32(0xff80_0001),
            B16(0x0000),
            B16(0x8000),
            B16(0x7f80),
            B16(0xff80),
            B16(0x7fc1),
            Addend::Nan,
        ]),
    ]
}

/// A value at, just above or just below a representable value or a tie of a `p`-bit format
/// (p = 8 or 24) with its leading bit at `2^top`, from subnormals to overflow: `m` units of
/// `2^ulp` (`m` with p bits), then nothing, half a unit (a tie), the tie plus or minus `2^tiny`,
/// plus or minus `2^tiny` alone, or one unit minus `2^tiny`, where `tiny = ulp - 1 - depth` lies
/// inside the top 128 bits of the sum or anywhere below them; or the half unit assembled from a
/// chain `2^(ulp-2) + ... + 2^tiny + 2^tiny` of many terms (and the same chain one `2^tiny`
/// short). Optionally both signs flipped, and a cancelling pair `a, -a` anywhere in the range
/// that makes the sum spill; the order is shuffled.
fn near_tie() -> impl Strategy<Value = Vec<Addend>> {
    let anchor = prop::option::of((int_strategy(), ACC_LSB_EXP..=TOP_EXP));
    (
        prop::sample::select(vec![8, 24]),
        -170i32..=140,
        any::<u32>(),
        0usize..9,
        1i32..=400,
        any::<bool>(),
        anchor,
    )
        .prop_flat_map(|(p, top, frac, case, depth, neg, anchor)| {
            let ulp = top - (p - 1);
            let m = (1i64 << (p - 1)) | (frac as i64 & ((1 << (p - 1)) - 1));
            let tiny = (ulp - 1 - depth).max(ACC_LSB_EXP);
            let half = Int(1, ulp - 1);
            let chain = (tiny..ulp - 1).map(|e| Int(1, e));
            let mut v = vec![Int(m, ulp)];
            match case {
                0 => {}
                1 => v.push(half),
                2 => v.extend([half, Int(1, tiny)]),
                3 => v.extend([half, Int(-1, tiny)]),
                4 => v.push(Int(1, tiny)),
                5 => v.push(Int(-1, tiny)),
                6 => v.extend([Int(1, ulp), Int(-1, tiny)]),
                7 => v.extend(chain.chain([Int(1, tiny)])),
                _ => v.extend(chain),
            }
            if neg {
                v = negated(&v);
            }
            if let Some((a, e)) = anchor {
                v.extend([Int(a, e), Int(-a, e)]);
            }
            Just(v).prop_shuffle()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Up to 64 terms of any size over the whole range (the sum spills whenever two terms lie
    /// more than the window apart).
    #[test]
    fn wide_sums(ts in terms(64)) {
        check(&ts)?;
    }

    /// Terms cancelled by their negations in any order, leaving nothing or a few small terms far
    /// below them, among signed zeros: the exact remainder (or +0) must come out.
    #[test]
    fn cancellation_leaves_the_exact_remainder(
        big in prop::collection::vec((int_strategy(), ACC_LSB_EXP..=TOP_EXP), 1..=24),
        rest in prop::collection::vec((-1000i64..=1000, ACC_LSB_EXP..=-100), 0..=3),
        zeros in prop::collection::vec(prop::sample::select(vec![F32(0x8000_0000), B16(0x8000), F32(0)]), 0..=2),
        order in any::<u64>(),
    ) {
        let mut v: Vec<Addend> = big.iter().flat_map(|&(i, e)| [Int(i, e), Int(-i, e)]).collect();
        v.extend(rest.iter().map(|&(i, e)| Int(i, e)));
        v.extend(zeros);
        // A deterministic shuffle from `order` (Fisher-Yates with SplitMix64).
        let mut state = order;
        for i in (1..v.len()).rev() {
            v.swap(i, (splitmix(&mut state) % (i as u64 + 1)) as usize);
        }
        check(&v)?;
    }

    #[test]
    fn ties_and_sticky_bits(v in near_tie()) {
        check(&v)?;
    }

    /// Integers and floats of every kind together (NaN, infinities and signed zeros included).
    #[test]
    fn mixed_with_special_values(
        ints in terms(24),
        floats in prop::collection::vec(float_addend(), 0..=24),
        order in any::<u64>(),
    ) {
        let mut v = ints;
        v.extend(floats);
        let mut state = order;
        for i in (1..v.len()).rev() {
            v.swap(i, (splitmix(&mut state) % (i as u64 + 1)) as usize);
        }
        check(&v)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A gevm row: up to 300 MXINT8 block products `dot * 2^(Ea + Eb - 12)`, scales anywhere in
    /// E8M0's range (products from 2^-266 up), some blocks with a NaN scale.
    #[test]
    fn mxint8_block_sums(blocks in prop::collection::vec((-(1i64 << 19)..=(1 << 19), -127i32..=127, -127i32..=127, 0u8..100), 1..=300)) {
        let v: Vec<Addend> = blocks
            .iter()
            .map(|&(dot, ea, eb, nan)| if nan == 0 { Addend::Nan } else { Int(dot, ea + eb - 12) })
            .collect();
        check(&v)?;
    }

    /// A reduce-sum row of exp outputs: up to 300 positive BF16 or FP32 values from the smallest
    /// subnormal to the largest finite.
    #[test]
    fn exp_rows(bf16 in prop::collection::vec(0x0001u16..0x7f80, 0..=300), fp32 in prop::collection::vec(1u32..0x7f80_0000, 0..=20)) {
        let mut v: Vec<Addend> = bf16.into_iter().map(B16).collect();
        v.extend(fp32.into_iter().map(F32));
        check(&v)?;
    }
}
