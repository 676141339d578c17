//! Every one of the 65,536 BF16 patterns, for decode/encode and every unary operation, against the
//! independent rational oracle in `oracle/`.

mod oracle;

use hw_types::arith::{convert, recip};
use hw_types::transcendental::exp;
use hw_types::{Bf16, Format, Fp32, RoundingMode, Value};
use num_rational::BigRational;
use num_traits::Zero;
use oracle::{decode, round, BF16};

fn all() -> impl Iterator<Item = Bf16> {
    (0..=u16::MAX).map(Bf16)
}

fn exact(v: Value) -> Option<BigRational> {
    match v {
        Value::Zero { .. } => Some(BigRational::zero()),
        Value::Finite(d) => {
            assert!(!d.sticky);
            let m = oracle::int(d.sig as i64) * oracle::pow2(d.exp as i64);
            Some(if d.neg { -m } else { m })
        }
        _ => None,
    }
}

#[test]
fn decode_matches_oracle_and_half() {
    for x in all() {
        assert_eq!(exact(x.value()), decode(BF16, x.0 as u32), "{x:?}");
        let h = half::bf16::from_bits(x.0).to_f64();
        let ours = x.to_f64();
        assert!(
            (h.is_nan() && ours.is_nan()) || h.to_bits() == ours.to_bits(),
            "{x:?}"
        );
        let nan = x.0 & 0x7f80 == 0x7f80 && x.0 & 0x7f != 0;
        assert_eq!(x.is_nan(), nan);
    }
}

#[test]
fn encode_round_trips_in_every_mode() {
    for x in all().filter(|x| !x.is_nan()) {
        for mode in RoundingMode::ALL {
            let r = Bf16::round(x.value(), mode);
            assert_eq!(r.value, x, "{mode}");
            assert!(r.status.is_ok());
            // Through the exact f64 and through FP32 as well.
            assert_eq!(Bf16::from_f64(x.to_f64(), mode).value, x);
            assert_eq!(convert::<Fp32, Bf16>(x.to_fp32(), mode).value, x);
        }
    }
    for x in all().filter(|x| x.is_nan()) {
        assert_eq!(
            Bf16::round(x.value(), RoundingMode::NearestEven).value,
            Bf16::NAN
        );
    }
}

#[test]
fn reciprocal_every_pattern_every_mode() {
    for x in all() {
        for mode in RoundingMode::ALL {
            let r = recip::<Bf16, Bf16>(x, mode);
            let want = match x.value() {
                Value::NaN => Bf16::NAN.0,
                Value::Inf { neg } => (neg as u16) << 15,
                Value::Zero { neg } => ((neg as u16) << 15) | 0x7f80,
                Value::Finite(_) => {
                    let v = decode(BF16, x.0 as u32).unwrap();
                    let o = round(BF16, &v.recip(), mode);
                    assert_eq!(r.status.inexact(), o.inexact, "{x:?} {mode}");
                    assert_eq!(r.status.overflow(), o.overflow, "{x:?} {mode}");
                    o.bits as u16
                }
            };
            assert_eq!(r.value.0, want, "1/{x:?} in {mode}");
        }
    }
}

#[test]
fn exp_every_pattern_nearest_even_and_directed() {
    for x in all() {
        for mode in [
            RoundingMode::NearestEven,
            RoundingMode::TowardZero,
            RoundingMode::TowardPositive,
        ] {
            let r = exp::<Bf16, Bf16>(x, mode).value;
            let want = match x.value() {
                Value::NaN => Bf16::NAN.0,
                Value::Inf { neg: false } => 0x7f80,
                Value::Inf { neg: true } => 0,
                Value::Zero { .. } => 0x3f80,
                Value::Finite(_) => {
                    let v = decode(BF16, x.0 as u32).unwrap();
                    let xf = x.to_f64();
                    if xf > 100.0 {
                        // e^x > 2^144: overflows in every mode that rounds up, max finite otherwise.
                        if mode == RoundingMode::TowardZero {
                            0x7f7f
                        } else {
                            0x7f80
                        }
                    } else if xf < -100.0 {
                        // 0 < e^x < 2^-144.
                        if mode == RoundingMode::TowardPositive {
                            0x0001
                        } else {
                            0
                        }
                    } else {
                        let (lo, hi) = oracle::exp_bounds(&v);
                        let a = round(BF16, &lo, mode).bits;
                        let b = round(BF16, &hi, mode).bits;
                        assert_eq!(a, b, "oracle could not decide e^{x:?}");
                        a as u16
                    }
                }
            };
            assert_eq!(r.0, want, "e^{x:?} in {mode}");
        }
    }
}

#[test]
fn exp_documented_thresholds() {
    let e = |bits: u16| {
        exp::<Bf16, Bf16>(Bf16(bits), RoundingMode::NearestEven)
            .value
            .0
    };
    assert_eq!(e(0x3f80), 0x402e); // e^1
    assert_eq!(e(0x42b2), 0x7f80); // e^89 overflows
    assert_ne!(e(0x42b1), 0x7f80); // e^88.5 does not
    assert_eq!(e(0xc2b9), 0x0001); // e^-92.5: smallest subnormal
    assert_eq!(e(0xc2ba), 0x0000); // e^-93 rounds to +0
}
