//! `sim gen`: a resumed sweep skips complete cases and removes what a killed run left behind.

use std::process::Command;

fn sim(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn resume_skips_complete_cases_and_cleans_leftovers_of_a_killed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let o = out.to_str().unwrap();
    let (code, log) = sim(&["gen", "--kv-sizes", "1..=3", "--out", o]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("3 cases written, 0 already complete"), "{log}");
    // What SIGKILL leaves: a half-written hidden folder for a case of the sweep, a moved-aside
    // old folder, and (not ours to touch) a leftover of a case outside this sweep.
    let ours = out.join(".kv-size-4_seed-0.tmp-4242");
    let old = out.join(".kv-size-2_seed-0.old-4242");
    let foreign = out.join(".kv-size-99_seed-0.tmp-4242");
    for d in [&ours, &old, &foreign] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("softmaxed_v.qk_T"), "3f80\n").unwrap();
    }
    let (code, log) = sim(&["gen", "--kv-sizes", "1..=4", "--out", o]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("cleaned  2 leftover folder(s) of an interrupted run"),
        "{log}"
    );
    assert!(log.contains("1 cases written, 3 already complete"), "{log}");
    assert!(!ours.exists() && !old.exists());
    assert!(foreign.exists(), "a case outside the sweep is left alone");
    assert!(out.join("kv-size-4_seed-0/manifest.json").exists());
}
