//! softmax_v with other block formats (docs/numerics.md §3.7): the cycle model's bytes, the
//! refusal of inexact MAC accumulators, and the format comparison's statistics. The stages
//! themselves are re-derived independently by scripts/test_mx_softmax.py.

use hw_types::{Bf16, MxFormat, ScaleRule};
use hw_units::config::HwConfig;
use hw_units::units::Units;
use sim::format_compare::{error_stats, parse_pairs};
use sim::gen::Dist;
use sim::softmax::{self, Formats, Inputs, Params};

fn format(name: &str) -> MxFormat {
    MxFormat::from_name(name).unwrap()
}

fn params(exp: &str, v: &str, rule: ScaleRule) -> Params {
    Params {
        heads: 2,
        head_dim: 8,
        element_rounding: None,
        formats: Formats {
            exp: format(exp),
            v: format(v),
            rule,
        },
    }
}

#[test]
fn the_cycle_model_gives_the_functional_bytes_for_every_pair() {
    let cfg = HwConfig::reference();
    let units = Units::new(&cfg);
    let pairs = [
        ("mxfp8-e4m3", "mxfp4-e2m1", ScaleRule::Floor),
        ("mxfp6-e2m3", "mxfp6-e3m2", ScaleRule::Rceil),
        ("mxint8", "mxfp8-e5m2", ScaleRule::Ceil),
        ("mxint8", "mxint8", ScaleRule::Even),
    ];
    for (exp, v, rule) in pairs {
        let p = params(exp, v, rule);
        for (kv, dist) in [(1, Dist::Uniform), (33, Dist::Corners), (70, Dist::Mixed)] {
            let inputs = Inputs::generate_with(kv, 5, &p, dist);
            let functional = softmax::run_with(inputs.clone(), &p, &units);
            let (cycle, _) = sim::cycle::simulate(inputs, &p, &cfg, &units, None).unwrap();
            assert_eq!(functional, cycle, "{exp}/{v} {rule:?} kv {kv} {dist:?}");
            let names = functional.files();
            assert_eq!(names[4], format!("softmaxed_v.exp_{exp}"));
            assert_eq!(functional.exp_mx.format().name, exp);
            assert_eq!(functional.inputs.v.format().name, v);
        }
    }
}

#[test]
fn the_dataset_formats_keep_the_mxint8_path_and_names() {
    let p = Params {
        heads: 2,
        head_dim: 8,
        ..Params::default()
    };
    let st = softmax::run(Inputs::generate(40, 1, &p), &p);
    assert!(st.inputs.v.int8().is_some() && st.exp_mx.int8().is_some());
    assert_eq!(st.files(), softmax::FILES);
    let m = softmax::manifest("c", 40, Some(1), &p);
    assert_eq!(m.params["element_rounding"], "nearest-away");
    assert!(!m.params.contains_key("exp_format"));
    // MXINT8 under another rule is no longer the dataset's pipeline: codes, named formats.
    let q = params("mxint8", "mxint8", ScaleRule::Ceil);
    let st = softmax::run(Inputs::generate(40, 1, &q), &q);
    assert!(st.inputs.v.int8().is_none());
    let m = softmax::manifest("c", 40, Some(1), &q);
    assert_eq!(m.params["scale_rule"], "ceil");
    assert!(!m.params.contains_key("element_rounding"));
    assert_eq!(
        softmax::case_name(40, 1, Dist::Mixed, &q.formats),
        "kv-size-40_seed-1_mxint8_mxint8_rule-ceil_dist-mixed"
    );
}

#[test]
fn an_inexact_mac_accumulator_is_refused_for_other_formats() {
    let narrow = HwConfig::profile("narrow").unwrap();
    assert!(softmax::check_mac(&Params::default(), &narrow.mac.accumulator).is_ok());
    let p = params("mxfp8-e4m3", "mxint8", ScaleRule::Floor);
    let err = softmax::check_mac(&p, &narrow.mac.accumulator).unwrap_err();
    assert!(err.contains("mxfp8-e4m3") && err.contains("exact"), "{err}");
    let reference = HwConfig::reference();
    assert!(softmax::check_mac(&p, &reference.mac.accumulator).is_ok());
}

#[test]
fn error_statistics_by_hand() {
    // out = [1, 2] against [1, 2 + 2^-6]: one error of 2^-6, exactly one BF16 ulp at 2.
    let got = [Bf16(0x3f80), Bf16(0x4000)];
    let want = [1.0, 2.0 + 1.0 / 64.0];
    let e = error_stats("out", &got, &want);
    let noise = (1.0f64 / 64.0).powi(2);
    let signal = 1.0 + want[1] * want[1];
    assert_eq!(e.sqnr_db, 10.0 * (signal / noise).log10());
    assert_eq!(e.max_rel, (1.0 / 64.0) / want[1]);
    assert_eq!(e.mean_rel, (1.0 / 64.0) / want[1] / 2.0);
    assert_eq!(e.rms, (noise / 2.0).sqrt());
    assert_eq!((e.over_1_ulp, e.over_2_ulp, e.over_8_ulp), (0.0, 0.0, 0.0));
    // Three ulps off: over 1 and 2, not 8; a zero reference counts in ulps, not in rel.
    let e = error_stats("out", &[Bf16(0x4003), Bf16(0x0000)], &[2.0, 0.0]);
    assert_eq!((e.over_1_ulp, e.over_2_ulp, e.over_8_ulp), (0.5, 0.5, 0.0));
    assert_eq!(e.mean_rel, 3.0 / 128.0); // over the one nonzero reference
                                         // A NaN output is infinitely far.
    let e = error_stats("out", &[Bf16(0x7fc0)], &[1.0]);
    assert_eq!(e.over_8_ulp, 1.0);
}

#[test]
fn compare_formats_orders_the_pairs_by_precision() {
    let p = Params {
        heads: 4,
        head_dim: 16,
        ..Params::default()
    };
    let pairs = parse_pairs(
        "mxint8/mxint8,mxfp8-e4m3/mxfp8-e4m3,mxfp4-e2m1/mxfp4-e2m1",
        ScaleRule::Floor,
    )
    .unwrap();
    let units = Units::new(&HwConfig::reference());
    let r = sim::format_compare::compare(512, 2, &p, &pairs, &units);
    let sqnr: Vec<f64> = r.iter().map(|x| x.stages[0].sqnr_db).collect();
    assert!(
        sqnr[0] > sqnr[1] + 6.0 && sqnr[1] > sqnr[2] + 3.0,
        "{sqnr:?}"
    );
    assert!(parse_pairs("mxint8", ScaleRule::Floor)
        .unwrap_err()
        .contains("EXP_FORMAT/V_FORMAT"));
    assert!(parse_pairs("mxint8/fp9", ScaleRule::Floor)
        .unwrap_err()
        .contains("unknown MX format"));
}
