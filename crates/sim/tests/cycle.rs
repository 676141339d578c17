//! The cycle model: identical dumps to the functional model for any timing, cycle counts equal to
//! the closed form of docs/microarchitecture.md, and a VCD that an independent parser reads back
//! as the trace table shows it.

use hw_units::config::{HwConfig, Timing};
use hw_units::units::Units;
use sim::cycle::{self, head_cycles_formula, Probe, TraceFilter, TraceSink, Unit};
use sim::dump::to_bytes;
use sim::softmax::{self, Inputs, Params, Stages};
use std::collections::HashMap;

fn same_dumps(a: &Stages, b: &Stages) -> Result<(), String> {
    for ((n, x), (_, y)) in a.dumps().iter().zip(b.dumps().iter()) {
        if to_bytes(*x) != to_bytes(*y) {
            return Err(format!("{n} differs"));
        }
    }
    Ok(())
}

fn check(cfg: &HwConfig, kv: usize, seed: u64, heads: usize) {
    let p = Params {
        heads,
        ..Params::default()
    };
    let units = Units::new(cfg);
    let inputs = Inputs::generate(kv, seed, &p);
    let functional = softmax::run_with(inputs.clone(), &p, &units);
    let (clocked, report) = cycle::simulate(inputs, &p, cfg, &units, None).unwrap();
    same_dumps(&functional, &clocked).unwrap_or_else(|e| panic!("kv {kv} {}: {e}", cfg.name));
    let per_head = head_cycles_formula(cfg, kv, p.head_dim);
    assert_eq!(report.cycles_per_head, per_head, "kv {kv} {cfg:?}");
    assert_eq!(report.total_cycles, per_head * heads as u64);
}

#[test]
fn reference_cycle_dumps_equal_functional_for_kv_1_to_70_and_large() {
    let cfg = HwConfig::reference();
    for kv in (1..=70).chain([257, 1000]) {
        check(&cfg, kv, kv as u64, 32);
    }
    check(&cfg, 4096, 0, 4);
}

#[test]
fn timing_parameters_never_change_numbers() {
    // Deterministic pseudo-random lanes and latencies (LCG), for both profiles.
    let mut s = 7u64;
    let mut next = |n: usize| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize % n
    };
    for trial in 0..40 {
        let mut cfg = if trial % 2 == 0 {
            HwConfig::reference()
        } else {
            HwConfig::narrow()
        };
        cfg.exp.timing = Timing {
            lanes: 1 + next(40),
            latency: next(6),
        };
        cfg.reduce.timing = Timing {
            lanes: 1 + next(40),
            latency: next(6),
        };
        cfg.quantizer.latency = next(5);
        cfg.mac.columns = [1, 3, 16, 32, 128, 200][next(6)];
        cfg.mac.block_lanes = [1, 2, 4, 8, 16, 32][next(6)];
        cfg.mac.latency = next(6);
        cfg.recip.latency = next(8);
        cfg.mul.timing = Timing {
            lanes: 1 + next(20),
            latency: next(5),
        };
        cfg.validate().unwrap();
        let kv = 1 + next(150);
        check(&cfg, kv, trial, 3);
    }
}

#[test]
fn non_reference_units_agree_between_models() {
    for kv in [1, 31, 33, 100] {
        check(&HwConfig::narrow(), kv, 3, 32);
    }
}

/// Collects probes, as the table shows them.
#[derive(Default)]
struct Collect(Vec<(u64, Probe)>);

impl TraceSink for Collect {
    fn cycle(&mut self, c: u64, probes: &[Probe]) -> std::io::Result<()> {
        self.0.extend(probes.iter().map(|p| (c, p.clone())));
        Ok(())
    }
}

/// A minimal VCD reader written for this test: scope/var definitions, `#t`, scalar and `b`
/// vector changes. Returns, per (scope, var), the value (as bits) at every timestamp.
fn parse_vcd(text: &str) -> HashMap<(String, String), Vec<(u64, String)>> {
    let mut scopes: Vec<String> = Vec::new();
    let mut ids: HashMap<String, (String, String)> = HashMap::new();
    let mut out: HashMap<(String, String), Vec<(u64, String)>> = HashMap::new();
    let mut t = 0u64;
    let mut toks = text.split_whitespace();
    while let Some(tok) = toks.next() {
        match tok {
            "$scope" => {
                toks.next();
                scopes.push(toks.next().unwrap().to_string());
            }
            "$upscope" => {
                scopes.pop();
            }
            "$var" => {
                let (_kind, _w, id, name) = (
                    toks.next(),
                    toks.next(),
                    toks.next().unwrap(),
                    toks.next().unwrap(),
                );
                ids.insert(
                    id.to_string(),
                    (scopes.last().unwrap().clone(), name.to_string()),
                );
            }
            _ if tok.starts_with('#') => t = tok[1..].parse().unwrap(),
            _ if tok.starts_with('b') => {
                let id = toks.next().unwrap();
                out.entry(ids[id].clone())
                    .or_default()
                    .push((t, tok[1..].to_string()));
            }
            _ if (tok.starts_with('0') || tok.starts_with('1')) && ids.contains_key(&tok[1..]) => {
                out.entry(ids[&tok[1..]].clone())
                    .or_default()
                    .push((t, tok[..1].to_string()));
            }
            _ => {}
        }
    }
    out
}

/// The value of a signal at time t (the last change at or before t), as an integer.
fn at(changes: &[(u64, String)], t: u64) -> u128 {
    let v = &changes.iter().rev().find(|(ct, _)| *ct <= t).unwrap().1;
    u128::from_str_radix(v, 2).unwrap()
}

#[test]
fn vcd_reads_back_as_the_trace() {
    let cfg = HwConfig::reference();
    let p = Params {
        heads: 2,
        ..Params::default()
    };
    let units = Units::new(&cfg);
    let filter = TraceFilter {
        cycles: 0..200,
        units: vec![],
    };
    let mut rows = Collect::default();
    let inputs = Inputs::generate(40, 1, &p);
    cycle::simulate(inputs.clone(), &p, &cfg, &units, Some((&filter, &mut rows))).unwrap();
    let mut buf = Vec::new();
    let mut vcd = sim::trace::VcdSink::new(&mut buf, &Unit::ALL).unwrap();
    cycle::simulate(inputs, &p, &cfg, &units, Some((&filter, &mut vcd))).unwrap();
    vcd.finish().unwrap();
    let waves = parse_vcd(&String::from_utf8(buf).unwrap());
    assert!(!rows.0.is_empty());
    let mut checked = 0;
    for (c, probe) in &rows.0 {
        let sig = |n: &str| at(&waves[&(probe.unit.name().to_string(), n.to_string())], *c);
        assert_eq!(sig("valid"), probe.valid as u128, "{c} {:?}", probe.unit);
        assert_eq!(sig("busy"), probe.busy as u128);
        assert_eq!(sig("index"), probe.index as u128);
        if probe.unit != Unit::Quant {
            let data = u16::from_be_bytes([probe.data[0], probe.data[1]]);
            assert_eq!(sig("data"), data as u128, "{c} {:?}", probe.unit);
        } else {
            let bits = &waves[&("quant".to_string(), "data".to_string())];
            let v = &bits.iter().rev().find(|(ct, _)| ct <= c).unwrap().1;
            let want: String = probe.data.iter().map(|b| format!("{b:08b}")).collect();
            assert_eq!(format!("{v:0>264}"), want);
        }
        checked += 1;
    }
    assert!(checked > 300);
}

#[test]
fn config_show_export_lut_and_errors() {
    let sim = env!("CARGO_BIN_EXE_sim");
    let run = |args: &[&str]| std::process::Command::new(sim).args(args).output().unwrap();
    let o = run(&["config", "show", "--profile", "narrow"]);
    assert!(o.status.success());
    let shown = HwConfig::from_json(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(shown, HwConfig::narrow());
    let o = run(&["config", "show", "--profile", "turbo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown profile 'turbo'"));
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        HwConfig::reference()
            .to_json()
            .replace("\"latency\": 3", "\"latncy\": 3"),
    )
    .unwrap();
    let o = run(&[
        "run",
        "--kv-size",
        "4",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.json: line") && err.contains("latncy"),
        "{err}"
    );
    assert!(!tmp.path().join("kv-size-4_seed-0").exists());
    // The exact exp ROM as exported is the reference table.
    let o = run(&[
        "export-lut",
        "--unit",
        "exp",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let hex = std::fs::read_to_string(tmp.path().join("exp_lut.hex")).unwrap();
    let table = hw_units::exp::reference_table();
    assert_eq!(hex.lines().count(), 65536);
    for (i, l) in hex.lines().enumerate() {
        assert_eq!(u16::from_str_radix(l, 16).unwrap(), table[i]);
    }
    let desc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("exp_lut.json")).unwrap())
            .unwrap();
    assert_eq!(desc["sha256"], sim::dump::sha256_hex(hex.as_bytes()));
    let o = run(&[
        "export-lut",
        "--unit",
        "exp",
        "--profile",
        "narrow",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("exp_lut.hex"))
            .unwrap()
            .lines()
            .count(),
        65
    );
}
