//! Rounding-mode names and status flags. The names appear on the command line, in configs and in
//! manifests (docs/numerics.md §1), so they are pinned here literally; the flags are checked one by
//! one, and where an operation raises one that no other test looks at.

use hw_types::arith::recip;
use hw_types::{Bf16, FlagCounts, Format, Fp32, RoundingMode, Status};

const NAMES: [&str; 5] = [
    "nearest-even",
    "nearest-away",
    "toward-zero",
    "toward-pos",
    "toward-neg",
];

#[test]
fn mode_names_print_parse_and_serialize() {
    for (mode, name) in RoundingMode::ALL.into_iter().zip(NAMES) {
        assert_eq!(mode.name(), name);
        assert_eq!(mode.to_string(), name);
        assert_eq!(name.parse::<RoundingMode>(), Ok(mode));
        let json = format!("\"{name}\"");
        assert_eq!(serde_json::to_string(&mode).unwrap(), json);
        assert_eq!(serde_json::from_str::<RoundingMode>(&json).unwrap(), mode);
    }
    assert_eq!(
        "nearest".parse::<RoundingMode>(),
        Err(
            "unknown rounding mode 'nearest' (expected one of: nearest-even, nearest-away, \
             toward-zero, toward-pos, toward-neg)"
                .to_string()
        )
    );
    let err = serde_json::from_str::<RoundingMode>("\"up\"").unwrap_err();
    assert!(
        err.to_string().contains("unknown rounding mode 'up'"),
        "{err}"
    );
}

#[test]
fn each_flag_answers_for_itself_only() {
    let flags = [
        (Status::INEXACT, "inexact"),
        (Status::UNDERFLOW, "underflow"),
        (Status::OVERFLOW, "overflow"),
        (Status::DIV_BY_ZERO, "div_by_zero"),
        (Status::INVALID, "invalid"),
    ];
    for (i, (flag, name)) in flags.into_iter().enumerate() {
        let answers = [
            flag.inexact(),
            flag.underflow(),
            flag.overflow(),
            flag.div_by_zero(),
            flag.invalid(),
        ];
        let expected: Vec<bool> = (0..5).map(|j| j == i).collect();
        assert_eq!(answers.to_vec(), expected, "{name}");
        assert!(!flag.is_ok());
        assert_eq!(flag.to_string(), name);
    }
    assert!(Status::OK.is_ok());
    assert_eq!(Status::OK.to_string(), "ok");
    let both = Status::INEXACT | Status::OVERFLOW;
    assert!(both.contains(Status::OVERFLOW) && !both.contains(Status::INEXACT | Status::UNDERFLOW));
    assert_eq!(both.to_string(), "inexact|overflow");
    // Raising a flag that is already raised changes nothing.
    assert_eq!(both | Status::OVERFLOW, both);
    let mut s = Status::UNDERFLOW;
    s |= Status::INVALID;
    assert_eq!(s.to_string(), "underflow|invalid");
}

/// `1/+-0 = +-inf` with `div_by_zero` and nothing else, in every mode (IEEE 754 §7.3); a finite
/// reciprocal never raises it.
#[test]
fn reciprocal_of_zero_divides_by_zero() {
    for mode in RoundingMode::ALL {
        let r = recip::<Bf16, Bf16>(Bf16::ZERO, mode);
        assert_eq!((r.value, r.status), (Bf16::INFINITY, Status::DIV_BY_ZERO));
        let r = recip::<Bf16, Fp32>(Bf16::NEG_ZERO, mode);
        assert_eq!((r.value.0, r.status), (0xff80_0000, Status::DIV_BY_ZERO));
        let r = recip::<Bf16, Bf16>(Bf16(0x4040), mode);
        assert!(!r.status.div_by_zero());
    }
}

/// Classification and the f32 conversions against the bit fields and `f32` itself: every BF16
/// pattern, and FP32 patterns in a stride through the whole space (all exponents, both signs).
#[test]
fn classification_and_f32_conversions() {
    for bits in 0..=u16::MAX {
        let x = Bf16(bits);
        let f = f32::from_bits((bits as u32) << 16);
        assert_eq!(
            (x.is_finite(), x.is_nan()),
            (f.is_finite(), f.is_nan()),
            "{x:?}"
        );
        assert_eq!(x.to_fp32().to_f32().to_bits(), f.to_bits());
    }
    for bits in (0..=u32::MAX).step_by(65_521) {
        let f = f32::from_bits(bits);
        let x = Fp32::from_f32(f);
        assert_eq!(x.0, bits);
        assert_eq!(x.to_f32().to_bits(), bits);
        assert_eq!(
            (x.is_finite(), x.is_nan()),
            (f.is_finite(), f.is_nan()),
            "{x:?}"
        );
        if !f.is_nan() {
            assert_eq!(x.to_f64(), f as f64, "{x:?}");
        }
    }
}

/// The flag word of the C ABI and the Python package (docs/dpi.md, docs/python.md): its bit
/// values are part of that contract, so they are pinned literally.
#[test]
fn flag_word_bits_round_trip() {
    let named = [
        (Status::INEXACT, 1u8),
        (Status::UNDERFLOW, 2),
        (Status::OVERFLOW, 4),
        (Status::DIV_BY_ZERO, 8),
        (Status::INVALID, 16),
    ];
    assert_eq!(Status::OK.bits(), 0);
    for (flag, bit) in named {
        assert_eq!(flag.bits(), bit);
        assert_eq!(Status::from_bits(bit), flag);
    }
    for word in 0..=u8::MAX {
        let s = Status::from_bits(word);
        assert_eq!(
            s.bits(),
            word & 0x1f,
            "bits above the five flags are dropped"
        );
        for (flag, bit) in named {
            assert_eq!(s.contains(flag), word & bit != 0, "word {word:#04x}");
        }
    }
}

/// The per-stage counts in manifest.json: each result adds one to every flag it raised.
#[test]
fn flag_counts_count_each_flag() {
    let results = [
        Status::OK,
        Status::INEXACT,
        Status::INEXACT | Status::UNDERFLOW,
        Status::INEXACT | Status::OVERFLOW,
        Status::INEXACT | Status::OVERFLOW,
        Status::DIV_BY_ZERO,
        Status::INVALID,
        Status::INVALID,
        Status::INVALID,
        Status::from_bits(0x1f),
    ];
    let c = FlagCounts::of(results);
    assert_eq!(
        c,
        FlagCounts {
            inexact: 5,
            underflow: 2,
            overflow: 3,
            div_by_zero: 2,
            invalid: 4,
        }
    );
    assert_eq!(c.any(), Status::from_bits(0x1f));
    let mut one = FlagCounts::default();
    one.add(Status::OVERFLOW);
    one.add(Status::OVERFLOW | Status::DIV_BY_ZERO);
    assert_eq!(
        (
            one.inexact,
            one.underflow,
            one.overflow,
            one.div_by_zero,
            one.invalid
        ),
        (0, 0, 2, 1, 0)
    );
    assert_eq!(one.any(), Status::OVERFLOW | Status::DIV_BY_ZERO);
    assert_eq!(FlagCounts::of([]), FlagCounts::default());
    assert_eq!(FlagCounts::default().any(), Status::OK);
}
