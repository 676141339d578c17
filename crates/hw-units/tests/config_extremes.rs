//! Every integer field of the hardware description at its extremes: a description is written as
//! JSON with each field drawn from the edges of its type and of its documented range (0, 1, the
//! bound and bound + 1, 2^31, 2^32 - 1, 2^32, 2^63, u64::MAX) as well as from inside the range,
//! and `HwConfig::from_json` must either refuse it with a message naming a field that really is
//! out of range, or accept it when every field is in range and give units that agree with their
//! definitions (tests/definitions, unbounded integers). The ranges below are docs/
//! microarchitecture.md's, written here independently of `HwConfig::validate`. `make test` runs
//! this in the release-checked build and again in plain release, where a wrapped sum would hide.

mod definitions;
use definitions::*;

use hw_types::{Bf16, Format};
use hw_units::acc::Accumulator;
use hw_units::config::{AccKind, HwConfig, RecipKind};
use hw_units::exp::ExpUnit;
use hw_units::recip::RecipUnit;
use proptest::prelude::*;
use serde_json::json;

/// The integer fields: dotted path, whether the field is a u32 (else usize), and its range.
/// `frac_bits` of pow2-lut and of the fixed accumulators depend on another field; `Dep` says how.
#[derive(Clone, Copy)]
enum Dep {
    None,
    /// At least the value of field `i`.
    AtLeast(usize),
    /// At most 120 minus the value of field `i`.
    Sum120(usize),
    /// Also a divisor of 32.
    Divides32,
}

const FIELDS: [(&str, bool, u64, u64, Dep); 23] = [
    ("exp.timing.lanes", false, 1, 1024, Dep::None),
    ("exp.timing.latency", false, 0, 1024, Dep::None),
    ("exp.kind.table_bits", true, 1, 16, Dep::None),
    ("exp.kind.entry_bits", true, 8, 30, Dep::None),
    ("exp.kind.frac_bits", true, 0, 40, Dep::AtLeast(2)),
    ("exp.kind.const_bits", true, 8, 40, Dep::None),
    ("reduce.timing.lanes", false, 1, 1024, Dep::None),
    ("reduce.timing.latency", false, 0, 1024, Dep::None),
    ("reduce.kind.int_bits", true, 2, 64, Dep::None),
    ("reduce.kind.frac_bits", true, 0, 118, Dep::Sum120(8)),
    ("quantizer.latency", false, 0, 1024, Dep::None),
    ("mac.columns", false, 1, 4096, Dep::None),
    ("mac.block_lanes", false, 1, 32, Dep::Divides32),
    ("mac.latency", false, 0, 1024, Dep::None),
    ("mac.accumulator.int_bits", true, 2, 64, Dep::None),
    ("mac.accumulator.frac_bits", true, 0, 118, Dep::Sum120(14)),
    ("recip.kind.iterations", true, 0, 8, Dep::None),
    ("recip.kind.seed_bits", true, 1, 7, Dep::None),
    ("recip.kind.frac_bits", true, 8, 60, Dep::None),
    ("recip.latency", false, 0, 1024, Dep::None),
    ("mul.timing.lanes", false, 1, 1024, Dep::None),
    ("mul.timing.latency", false, 0, 1024, Dep::None),
    // Not an integer of the schema: a stand-in so that FIELDS has one row per drawn value.
    ("exp.kind.interpolate", false, 0, 1, Dep::None),
];

/// The fields of `values` (one per row of FIELDS) that are out of their documented range.
fn out_of_range(values: &[u64]) -> Vec<&'static str> {
    FIELDS
        .iter()
        .zip(values)
        .filter(|((_, is_u32, lo, hi, dep), &v)| {
            let fits = !is_u32 || v <= u64::from(u32::MAX);
            let ranged = (*lo..=*hi).contains(&v);
            let dep_ok = match *dep {
                Dep::None => true,
                Dep::AtLeast(i) => v >= values[i],
                Dep::Sum120(i) => u128::from(v) + u128::from(values[i]) <= 120,
                Dep::Divides32 => v != 0 && 32 % v == 0,
            };
            !(fits && ranged && dep_ok)
        })
        .map(|((path, ..), _)| *path)
        .collect()
}

/// The JSON text of a description with these field values (pow2-lut exp, fixed accumulators
/// and a Newton reciprocal, so every integer field of the schema is present).
fn description(v: &[u64]) -> String {
    json!({
        "name": "extremes",
        "exp": {
            "kind": {"type": "pow2-lut", "table_bits": v[2], "entry_bits": v[3],
                     "frac_bits": v[4], "const_bits": v[5], "interpolate": v[22] == 1},
            "timing": {"lanes": v[0], "latency": v[1]}
        },
        "reduce": {
            "kind": {"type": "fixed", "int_bits": v[8], "frac_bits": v[9], "overflow": "saturate"},
            "timing": {"lanes": v[6], "latency": v[7]}
        },
        "quantizer": {"latency": v[10]},
        "mac": {
            "columns": v[11], "block_lanes": v[12], "latency": v[13],
            "accumulator": {"type": "fixed", "int_bits": v[14], "frac_bits": v[15], "overflow": "wrap"}
        },
        "recip": {
            "kind": {"type": "newton", "iterations": v[16], "seed_bits": v[17], "frac_bits": v[18]},
            "latency": v[19]
        },
        "mul": {"rounding": "nearest-even", "timing": {"lanes": v[20], "latency": v[21]}}
    })
    .to_string()
}

const EXTREMES: [u64; 20] = [
    0,
    1,
    2,
    7,
    8,
    16,
    17,
    40,
    41,
    60,
    61,
    64,
    65,
    118,
    119,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    1 << 63,
    u64::MAX,
];

/// A valid description's values (every field inside its range), with up to three fields
/// replaced by an extreme value or by a bound of the field's own range plus or minus one.
fn values() -> impl Strategy<Value = Vec<u64>> {
    let inside: Vec<BoxedStrategy<u64>> = FIELDS
        .iter()
        .map(|&(_, _, lo, hi, dep)| match dep {
            // Chosen below from the field it depends on.
            Dep::AtLeast(_) | Dep::Sum120(_) => Just(0).boxed(),
            Dep::Divides32 => prop::sample::select(vec![1u64, 2, 4, 8, 16, 32]).boxed(),
            Dep::None => prop_oneof![Just(lo), Just(hi), lo..=hi].boxed(),
        })
        .collect();
    let edits = prop::collection::vec(
        (
            0..FIELDS.len() - 1,
            prop_oneof![
                prop::sample::select(EXTREMES.to_vec()).prop_map(Some),
                Just(None)
            ],
            any::<bool>(),
        ),
        0..=3,
    );
    (inside, any::<u64>(), edits).prop_map(|(mut v, r, edits)| {
        // The dependent fields: inside their range given the other field.
        v[4] = v[2] + r % (41 - v[2]);
        v[9] = r % (121 - v[8]);
        v[15] = (r >> 8) % (121 - v[14]);
        for (i, extreme, above) in edits {
            let (_, _, lo, hi, _) = FIELDS[i];
            v[i] = extreme.unwrap_or(if above { hi + 1 } else { lo.wrapping_sub(1) });
        }
        v
    })
}

/// Inputs for the units: zeros, ones, the largest finite values, tiny ones and NaN among them.
fn inputs() -> impl Strategy<Value = Vec<Bf16>> {
    let specials = vec![
        0x0000u16, 0x8000, 0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x0001, 0x8001, 0x42fe, 0xc2ff, 0x7fc0,
    ];
    prop::collection::vec(
        prop_oneof![
            any::<u16>().prop_map(Bf16),
            prop::sample::select(specials).prop_map(Bf16)
        ],
        1..24,
    )
}

fn fixed_parts(k: &AccKind) -> (u32, u32, bool) {
    match *k {
        AccKind::Fixed {
            int_bits,
            frac_bits,
            overflow,
        } => (
            int_bits,
            frac_bits,
            overflow == hw_units::config::Overflow::Wrap,
        ),
        _ => unreachable!("description() uses fixed accumulators"),
    }
}

/// Every configurable unit of an accepted description against its definition.
fn agrees(c: &HwConfig, xs: &[Bf16]) -> Result<(), TestCaseError> {
    let unit = ExpUnit::new(&c.exp.kind);
    let table = unit.rom().words;
    for &x in xs {
        prop_assert_eq!(
            unit.eval(x).value,
            pow2_definition(&c.exp.kind, &table, x),
            "exp {:?}",
            x
        );
    }
    if let RecipKind::Newton {
        iterations,
        seed_bits,
        frac_bits,
    } = c.recip.kind
    {
        let unit = RecipUnit::new(&c.recip.kind);
        for &x in xs.iter().filter(|x| x.is_finite() && x.0 & 0x7fff != 0) {
            let want = newton_definition(iterations, seed_bits, frac_bits, x);
            prop_assert_eq!(unit.eval(x).value, want, "recip {:?}", x);
        }
    }
    for kind in [&c.reduce.kind, &c.mac.accumulator] {
        let (int_bits, frac_bits, wrap) = fixed_parts(kind);
        let mut acc = Accumulator::new(kind);
        for x in xs {
            acc.add(x.value());
        }
        let got = acc.finish::<Bf16>(RNE).value;
        match fixed_definition(int_bits, frac_bits, wrap, xs) {
            None => prop_assert!(got.is_nan()),
            Some(want) => prop_assert_eq!(got, want, "{:?}", kind),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn every_field_at_its_extremes_is_refused_by_name_or_computes_its_definition(
        v in values(), xs in inputs(),
    ) {
        let bad = out_of_range(&v);
        match HwConfig::from_json(&description(&v)) {
            Ok(c) => {
                prop_assert!(bad.is_empty(), "accepted with {:?} out of range", bad);
                agrees(&c, &xs)?;
            }
            Err(e) => {
                prop_assert!(!bad.is_empty(), "refused a valid description: {}", e);
                prop_assert!(
                    bad.iter().any(|f| e.contains(f)),
                    "the message names none of {:?}: {}", bad, e
                );
            }
        }
    }
}

/// The report: `int_bits + frac_bits` added in u32 wrapped to 0 and passed.
#[test]
fn the_wrapping_accumulator_of_the_report_is_refused() {
    let mut v: Vec<u64> = vec![
        8, 2, 6, 12, 16, 16, 8, 2, 2, 4294967294, 2, 32, 32, 3, 16, 32, 2, 4, 16, 2, 8, 2, 1,
    ];
    let e = HwConfig::from_json(&description(&v)).unwrap_err();
    assert!(e.contains("reduce.kind.frac_bits"), "{e}");
    v[9] = 32;
    v[14] = (1 << 32) - 2;
    v[15] = 4;
    let e = HwConfig::from_json(&description(&v)).unwrap_err();
    assert!(e.contains("mac.accumulator.int_bits"), "{e}");
    v[14] = 16;
    v[15] = 1 << 32;
    let e = HwConfig::from_json(&description(&v)).unwrap_err();
    assert!(e.contains("mac.accumulator.frac_bits"), "{e}");
    v[15] = 32;
    HwConfig::from_json(&description(&v)).unwrap();
}
