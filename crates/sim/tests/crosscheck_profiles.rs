//! Every hardware profile against the independent Python models (scripts/units.py, written from
//! docs/microarchitecture.md alone), bit for bit: the narrow profile and random valid
//! configurations on softmax_v cases with corner inputs (every dump and every stage's flag
//! counts), and every exported ROM decoded from its JSON description alone and replayed for all
//! 65,536 BF16 inputs against the simulator's unit.

mod common;

use common::{assert_same_file, python, reference};
use hw_types::RoundingMode;
use hw_units::config::{AccKind, ExpKind, HwConfig, Overflow, RecipKind};
use proptest::prelude::*;
use std::path::Path;
use std::process::Command;

fn sim(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sim run` with a hardware description on corner inputs, then the Python reference on the
/// same inputs and description: all eight dumps equal, and flags.json equal to the manifest's.
fn softmax_agrees(py: &Path, tmp: &Path, cfg: &HwConfig, kv: usize, seed: u64, dist: &str) {
    let cfg_path = tmp.join("config.json");
    std::fs::write(&cfg_path, cfg.to_json()).unwrap();
    let rust = tmp.join("rust");
    let (kv_s, seed_s) = (kv.to_string(), seed.to_string());
    sim(&[
        "run",
        "--kv-size",
        &kv_s,
        "--seed",
        &seed_s,
        "--heads",
        "4",
        "--head-dim",
        "8",
        "--dist",
        dist,
        "--config",
        cfg_path.to_str().unwrap(),
        "--out",
        rust.to_str().unwrap(),
    ]);
    let case = rust.join(format!("kv-size-{kv}_seed-{seed}_dist-{dist}"));
    let py_out = tmp.join("py");
    reference(
        py,
        &[
            "softmax",
            "--inputs",
            case.to_str().unwrap(),
            "--heads",
            "4",
            "--head-dim",
            "8",
            "--config",
            cfg_path.to_str().unwrap(),
            "--out",
            py_out.to_str().unwrap(),
        ],
    );
    for f in sim::softmax::FILES {
        assert_same_file(&py_out.join(f), &case.join(f));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case.join("manifest.json")).unwrap()).unwrap();
    let flags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(py_out.join("flags.json")).unwrap()).unwrap();
    for (file, counts) in flags.as_object().unwrap() {
        assert_eq!(
            &manifest["files"][file]["flags"],
            counts,
            "{file}: flag counts of the simulator (left) and the Python model (right), config {}",
            cfg.to_json()
        );
    }
    assert_eq!(flags.as_object().unwrap().len(), 6, "six computed stages");
}

/// `sim export-lut` for both units, then lut-check (the JSON and hex alone, replayed for every
/// input against the simulator's `<unit>_outputs.hex`) and the independent unit model's table.
fn roms_agree(py: &Path, tmp: &Path, cfg: &HwConfig) {
    let cfg_path = tmp.join("config.json");
    std::fs::write(&cfg_path, cfg.to_json()).unwrap();
    let dir = tmp.join("lut");
    for unit in ["exp", "recip"] {
        sim(&[
            "export-lut",
            "--unit",
            unit,
            "--config",
            cfg_path.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ]);
        reference(
            py,
            &["lut-check", "--dir", dir.to_str().unwrap(), "--unit", unit],
        );
        let table = tmp.join(format!("{unit}.py.hex"));
        reference(
            py,
            &[
                "unit-table",
                "--unit",
                unit,
                "--config",
                cfg_path.to_str().unwrap(),
                "--out",
                table.to_str().unwrap(),
            ],
        );
        assert_same_file(&table, &dir.join(format!("{unit}_outputs.hex")));
    }
}

#[test]
fn narrow_profile_matches_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = HwConfig::narrow();
    for (kv, seed, dist) in [
        (1, 0, "corners"),
        (33, 1, "corners"),
        (300, 2, "mixed"),
        (70, 3, "corners"),
    ] {
        softmax_agrees(&py, tmp.path(), &cfg, kv, seed, dist);
    }
    roms_agree(&py, tmp.path(), &cfg);
}

#[test]
fn reference_profile_roms_read_back() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    roms_agree(&py, tmp.path(), &HwConfig::reference());
}

/// A width in `lo..=hi`, a third of the time an extreme.
fn width(lo: u32, hi: u32) -> impl Strategy<Value = u32> {
    prop_oneof![Just(lo), Just(hi), lo..=hi]
}

fn acc_kind() -> impl Strategy<Value = AccKind> {
    prop_oneof![
        Just(AccKind::Exact),
        Just(AccKind::Fp32),
        Just(AccKind::Bf16),
        (width(2, 64), width(0, 118), any::<bool>()).prop_map(|(int_bits, frac, wrap)| {
            AccKind::Fixed {
                int_bits,
                frac_bits: frac.min(120 - int_bits),
                overflow: if wrap {
                    Overflow::Wrap
                } else {
                    Overflow::Saturate
                },
            }
        }),
    ]
}

/// Any hardware description validation accepts (numerics only; timing does not change numbers).
fn config() -> impl Strategy<Value = HwConfig> {
    let exp = prop_oneof![
        Just(ExpKind::Exact),
        (
            width(1, 16),
            width(8, 30),
            width(0, 40),
            width(8, 40),
            any::<bool>()
        )
            .prop_map(|(b, w, f, k, interpolate)| ExpKind::Pow2Lut {
                table_bits: b,
                entry_bits: w,
                frac_bits: f.clamp(b, 40),
                const_bits: k,
                interpolate,
            }),
    ];
    let recip = prop_oneof![
        Just(RecipKind::Exact),
        (width(0, 8), width(1, 7), width(8, 60)).prop_map(|(iterations, s, f)| {
            RecipKind::Newton {
                iterations,
                seed_bits: s,
                frac_bits: f,
            }
        }),
    ];
    (exp, acc_kind(), acc_kind(), recip, 0usize..5).prop_map(|(e, r, m, rc, mode)| {
        let mut c = HwConfig::narrow();
        c.name = "random".into();
        c.exp.kind = e;
        c.reduce.kind = r;
        c.mac.accumulator = m;
        c.recip.kind = rc;
        c.mul.rounding = RoundingMode::ALL[mode];
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_configurations_match_python(cfg in config(), kv in 1usize..80, seed in 0u64..1000) {
        let Some(py) = python() else { return Ok(()) };
        prop_assert!(cfg.validate().is_ok());
        let tmp = tempfile::tempdir().unwrap();
        softmax_agrees(&py, tmp.path(), &cfg, kv, seed, "corners");
        roms_agree(&py, tmp.path(), &cfg);
    }
}
