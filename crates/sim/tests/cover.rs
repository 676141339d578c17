//! `sim cover` and `sim corners`: the directed suite closes coverage; a testbench folder with
//! only some stages is covered for those; bad input is exit code 2 with file and line.

use std::path::Path;
use std::process::Command;

fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_directed_suite_closes_coverage_and_uniform_cases_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let corners = tmp.path().join("corners");
    let (code, out, err) = sim(&["corners", "--out", s(&corners)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("scenarios in"), "{out}");
    let (code, out, err) = sim(&["cover", s(&corners), "--require", "all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hit 116 of 116 bins"), "{out}");
    // Every directed case also re-checks as a case of its own.
    let (code, out, _) = sim(&["check", s(&corners)]);
    assert_eq!(code, 0, "{out}");
    // A uniform case misses the corners: --require all fails and names them; a prefix that is
    // all hit passes.
    let uni = tmp.path().join("uniform");
    sim(&["run", "--kv-size", "40", "--out", s(&uni)]);
    let (code, out, err) = sim(&["cover", s(&uni), "--require", "all"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("required bin(s) unhit") && err.contains("qk.nan"),
        "{err}"
    );
    assert!(out.contains("qk.nan") && out.contains("MISSED"), "{out}");
    let (code, _, err) = sim(&["cover", s(&uni), "--require", "qk.normal,exp.normal"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = sim(&["cover", s(&uni), "--require", "nonsense"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--require nonsense: no bin starts with it"),
        "{err}"
    );
    // JSON: every bin with its count and first hit.
    let (_, json, _) = sim(&["cover", s(&corners), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["hit"], 116);
    assert_eq!(v["bins"].as_array().unwrap().len(), 116);
    assert_eq!(v["bins"][0]["id"], "qk.zero.pos");
    assert!(v["bins"][0]["first"]["case"]
        .as_str()
        .unwrap()
        .contains("corner-"));
}

#[test]
fn a_testbench_folder_with_some_stages_is_covered_for_those() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tb");
    sim(&[
        "run",
        "--kv-size",
        "33",
        "--dist",
        "corners",
        "--heads",
        "4",
        "--head-dim",
        "8",
        "--out",
        s(&out),
    ]);
    let case = out.join("kv-size-33_seed-0_dist-corners");
    // The testbench dumped only qk_T, exp and exp_sum, with no manifest (shape from the options).
    for f in [
        "softmaxed_v.v",
        "softmaxed_v.exp_mxint8",
        "softmaxed_v.scaled_v",
        "softmaxed_v.inv",
        "softmaxed_v.out",
        "manifest.json",
    ] {
        std::fs::remove_file(case.join(f)).unwrap();
    }
    let (code, report, err) = sim(&["cover", s(&out), "--heads", "4", "--head-dim", "8"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        report.contains("absent in") && report.contains("softmaxed_v.scaled_v"),
        "{report}"
    );
    let (_, json, _) = sim(&[
        "cover",
        s(&out),
        "--heads",
        "4",
        "--head-dim",
        "8",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let hits = |prefix: &str| -> u64 {
        v["bins"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["id"].as_str().unwrap().starts_with(prefix))
            .map(|b| b["hits"].as_u64().unwrap())
            .sum()
    };
    assert!(hits("qk.") > 0 && hits("sum.") > 0);
    assert_eq!(hits("gevm.") + hits("out.") + hits("recip."), 0);
    // A malformed dump: exit 2, file and line.
    std::fs::write(case.join("softmaxed_v.exp_sum"), "3f80\nnope\n").unwrap();
    let (code, _, err) = sim(&["cover", s(&out), "--heads", "4", "--head-dim", "8"]);
    assert_eq!(code, 2);
    assert!(err.contains("softmaxed_v.exp_sum:2"), "{err}");
    let (code, _, err) = sim(&["cover", s(&tmp.path().join("missing"))]);
    assert_eq!(code, 2);
    assert!(err.contains("not a folder"), "{err}");
}
