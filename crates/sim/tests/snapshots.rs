//! insta snapshots of what is not a dump: help texts, a manifest, a `sim diff --json` report and
//! the RoPE report. CI (CI=true) refuses new snapshots, so they are committed.

mod common;

use clap::CommandFactory;
use sim::case::render;
use sim::diff::{compare, Source};
use sim::layout::{self, Hints};
use sim::rope::{RopeParams, RopeTables};
use sim::softmax::{self, Inputs, Params};

#[test]
fn help_texts() {
    let mut cmd = sim::cli::Cli::command();
    insta::assert_snapshot!("help_sim", cmd.render_long_help().to_string());
    for sub in [
        "run",
        "op",
        "rope",
        "diff",
        "check",
        "gen",
        "trace",
        "config",
        "export-lut",
        "cover",
        "corners",
    ] {
        let mut c = cmd.find_subcommand_mut(sub).unwrap().clone();
        insta::assert_snapshot!(format!("help_{sub}"), c.render_long_help().to_string());
    }
}

#[test]
fn manifest_of_a_small_case() {
    let p = Params::default();
    let stages = softmax::run(Inputs::generate(4, 0, &p), &p);
    let files = render(
        softmax::manifest("kv-size-4_seed-0", 4, Some(0), &p),
        &stages.dumps(),
        &stages.flag_counts(),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&files.last().unwrap().1).unwrap();
    insta::assert_json_snapshot!("manifest_kv4_seed0", manifest);
}

#[test]
fn diff_json_report_of_a_flipped_golden_case() {
    let gold = common::repo_root().join("golden/softmax/kv-size-31_seed-0");
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&gold).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
    }
    // exp-bf16 line 40 (head 1, kv 8) and one lane of a v block.
    let edit = |name: &str, line: usize, f: &dyn Fn(&str) -> String| {
        let p = tmp.path().join(name);
        let text = std::fs::read_to_string(&p).unwrap();
        let out: Vec<String> = text
            .lines()
            .enumerate()
            .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_string() })
            .collect();
        std::fs::write(&p, out.join("\n") + "\n").unwrap();
    };
    edit("softmaxed_v.exp-bf16", 40, &|l| {
        format!("{:04x}", u16::from_str_radix(l, 16).unwrap() ^ 2)
    });
    edit("softmaxed_v.v", 3, &|l| format!("{}{}", &l[..62], "7f7f"));
    let l = layout::detect(&gold, Hints::default()).unwrap().unwrap();
    let r = compare(&l, &Source::Dir(&gold), &Source::Dir(tmp.path()), 3).unwrap();
    insta::assert_json_snapshot!("diff_report_flipped", r);
}

#[test]
fn rope_report() {
    let p = RopeParams::default();
    insta::assert_snapshot!("rope_report", RopeTables::compute(&p).report(&p).table());
}

#[test]
fn trace_table_of_a_small_case() {
    let cfg = hw_units::config::HwConfig::reference();
    let p = Params {
        heads: 1,
        ..Params::default()
    };
    let units = hw_units::units::Units::new(&cfg);
    let filter = sim::cycle::TraceFilter {
        cycles: 0..40,
        units: vec![],
    };
    let mut out = Vec::new();
    let mut sink = sim::trace::TableSink::new(&mut out);
    sim::cycle::simulate(
        Inputs::generate(4, 0, &p),
        &p,
        &cfg,
        &units,
        Some((&filter, &mut sink)),
    )
    .unwrap();
    sink.finish().unwrap();
    insta::assert_snapshot!("trace_kv4_head0", String::from_utf8(out).unwrap());
}
