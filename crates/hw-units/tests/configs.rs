//! Every configuration validation accepts computes without overflow: random configurations drawn
//! within validation's bounds, run on random and extreme inputs, must give exactly what the
//! definitions of docs/microarchitecture.md give when evaluated with unbounded integers (so a
//! wrapped or saturated intermediate cannot hide), and must never panic (these tests also run in
//! debug builds, where integer overflow panics).

use hw_types::{Bf16, Format};
use hw_units::acc::Accumulator;
use hw_units::config::{AccKind, ExpKind, HwConfig, Overflow, RecipKind};
use hw_units::exp::ExpUnit;
use hw_units::recip::RecipUnit;
use proptest::prelude::*;

mod definitions;
use definitions::*;

/// A width in `lo..=hi`, a third of the time its smallest and a third its largest value: the
/// extremes are where intermediates are widest.
fn width(lo: u32, hi: u32) -> impl Strategy<Value = u32> {
    prop_oneof![Just(lo), Just(hi), lo..=hi]
}

/// A BF16 input: any pattern, weighted towards the units' edges.
fn bf16_input() -> impl Strategy<Value = Bf16> {
    prop_oneof![
        any::<u16>().prop_map(Bf16),
        // |x| just below and at 128, near the exp boundaries, tiny and subnormal.
        prop::sample::select(vec![
            0x42fe, 0x42ff, 0x4300, 0xc2ff, 0xc300, 0x42b1, 0x42b2, 0xc2b9, 0xc2ba, 0x0001, 0x8001,
            0x007f, 0x0080, 0x3f80, 0xbf80, 0x7f7f, 0xff7f,
        ])
        .prop_map(Bf16),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_valid_pow2_exp_matches_its_definition(
        b in width(1, 16), w in width(8, 30), fx in width(0, 40), k in width(8, 40), interpolate: bool,
        xs in prop::collection::vec(bf16_input(), 64),
    ) {
        let f = fx.clamp(b, 40);
        let kind = ExpKind::Pow2Lut { table_bits: b, entry_bits: w, frac_bits: f, const_bits: k, interpolate };
        let mut cfg = HwConfig::narrow();
        cfg.exp.kind = kind.clone();
        prop_assert!(cfg.validate().is_ok());
        let unit = ExpUnit::new(&kind);
        let table = unit.rom().words;
        for x in xs {
            prop_assert_eq!(unit.eval(x).value, pow2_definition(&kind, &table, x), "x = {:?}", x);
        }
    }

    #[test]
    fn any_valid_newton_reciprocal_matches_its_definition(
        iterations in width(0, 8), s in width(1, 7), f in width(8, 60),
        xs in prop::collection::vec(bf16_input(), 64),
    ) {
        let kind = RecipKind::Newton { iterations, seed_bits: s, frac_bits: f };
        let mut cfg = HwConfig::narrow();
        cfg.recip.kind = kind.clone();
        prop_assert!(cfg.validate().is_ok());
        let unit = RecipUnit::new(&kind);
        for x in xs {
            let got = unit.eval(x).value;
            if x.is_finite() && x.0 & 0x7fff != 0 {
                prop_assert_eq!(got, newton_definition(iterations, s, f, x), "x = {:?}", x);
            }
        }
    }

    #[test]
    fn any_valid_fixed_accumulator_matches_its_definition(
        int_bits in width(2, 64), frac in width(0, 118), wrap: bool,
        xs in prop::collection::vec(bf16_input(), 1..40),
    ) {
        let frac_bits = frac.min(120 - int_bits);
        let overflow = if wrap { Overflow::Wrap } else { Overflow::Saturate };
        let kind = AccKind::Fixed { int_bits, frac_bits, overflow };
        let mut cfg = HwConfig::narrow();
        cfg.reduce.kind = kind.clone();
        prop_assert!(cfg.validate().is_ok());
        let mut acc = Accumulator::new(&kind);
        for x in &xs {
            acc.add(x.value());
        }
        let got = acc.finish::<Bf16>(RNE).value;
        match fixed_definition(int_bits, frac_bits, wrap, &xs) {
            None => prop_assert!(got.is_nan()),
            Some(want) => prop_assert_eq!(got, want),
        }
    }
}
