//! `sim gen`: a resumed sweep skips complete cases and removes what a killed run left behind.

use std::hash::BuildHasher;
use std::path::Path;
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

fn sim_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Visible entries of a folder, sorted; and whether any hidden one is left.
fn entries(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().partition(|n| !n.starts_with('.'))
}

/// The case folders (not the indexes) of a sweep folder; none when a run killed early never
/// created it.
fn case_dirs(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let (visible, _) = entries(dir);
    visible
        .into_iter()
        .filter(|n| !n.starts_with("index"))
        .collect()
}

/// The single-process sweep every test compares with, in its own folder.
fn reference(root: &Path, args: &[&str]) -> std::path::PathBuf {
    let out = root.join("reference");
    let mut a = vec!["gen", "--out", out.to_str().unwrap()];
    a.extend_from_slice(args);
    let (code, log) = sim(&a);
    assert_eq!(code, 0, "{log}");
    out
}

/// Wait until `dir` holds at least `n` case folders (or the process has ended).
fn wait_for_cases(dir: &Path, n: usize, child: &mut std::process::Child) {
    while child.try_wait().unwrap().is_none() {
        if dir.is_dir() && case_dirs(dir).len() >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn manifest_sha(case: &Path) -> Option<String> {
    std::fs::read(case.join("manifest.json"))
        .ok()
        .map(|b| sim::dump::sha256_hex(&b))
}

#[test]
fn two_processes_on_one_sweep_both_finish_with_the_whole_result() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = ["--kv-sizes", "1..=60", "--seeds", "0,1"];
    let reference = reference(tmp.path(), &sweep);
    let out = tmp.path().join("ds");
    let mut args = vec!["gen", "--out", out.to_str().unwrap()];
    args.extend_from_slice(&sweep);
    // The second starts while the first is writing: it removes the first's cases in flight as
    // leftovers, and both write some cases the other is writing too.
    let mut first = spawn(&args);
    wait_for_cases(&out, 5, &mut first);
    let mut second = spawn(&args);
    for p in [&mut first, &mut second] {
        assert_eq!(p.wait().unwrap().code(), Some(0));
    }
    assert_eq!(
        std::fs::read(out.join("index.json")).unwrap(),
        std::fs::read(reference.join("index.json")).unwrap()
    );
    assert_eq!(entries(&out), entries(&reference), "no hidden leftovers");
}

#[test]
fn sigterm_stops_after_the_cases_in_flight_and_a_rerun_completes_exactly_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let o = out.to_str().unwrap();
    let args = ["gen", "--kv-sizes", "1..=200", "--shard", "1/2", "--out", o];
    let mut p = spawn(&args);
    wait_for_cases(&out, 3, &mut p);
    signal(&p, "-TERM");
    let done = p.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&done.stdout).into_owned();
    assert_eq!(done.status.code(), Some(3), "{log}");
    assert!(log.contains("stopped  by a signal"), "{log}");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.shard-1-of-2.json")).unwrap())
            .unwrap();
    assert_eq!(index["complete"], false);
    let listed = index["cases"].as_array().unwrap();
    // Every case folder is complete and listed: the cases in flight were finished, not dropped.
    assert_eq!(entries(&out).1, Vec::<String>::new(), "hidden leftovers");
    assert_eq!(case_dirs(&out).len(), listed.len());
    for c in listed {
        let dir = out.join(c["case"].as_str().unwrap());
        assert_eq!(sim::sweep::verified(&dir), manifest_sha(&dir));
    }
    let (code, log) = sim(&args);
    assert_eq!(code, 0, "{log}");
    let expect = format!(
        "{} cases written, {} already complete",
        100 - listed.len(),
        listed.len()
    );
    assert!(log.contains(&expect), "{expect}: {log}");
}

#[test]
fn killed_at_any_moment_a_rerun_leaves_only_good_cases_all_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = ["--kv-sizes", "1..=80", "--seeds", "0,1"];
    let reference = reference(tmp.path(), &sweep);
    let out = tmp.path().join("ds");
    let mut args = vec!["gen", "--out", out.to_str().unwrap()];
    args.extend_from_slice(&sweep);
    // Moments spread over a run (about 0.3 s here), shifted by a per-run random amount.
    let jitter = std::collections::hash_map::RandomState::new().hash_one(0u8) % 7;
    for (round, ms) in [2, 9, 20, 35, 60, 90, 140, 200].into_iter().enumerate() {
        let p = spawn(&args);
        std::thread::sleep(std::time::Duration::from_millis(ms + jitter));
        signal(&p, if round % 3 == 2 { "-TERM" } else { "-KILL" });
        let _ = p.wait_with_output().unwrap();
        // Whatever is visible under a case's name is that case, byte for byte.
        for case in case_dirs(&out) {
            let dir = out.join(&case);
            assert_eq!(sim::sweep::verified(&dir), manifest_sha(&dir), "{case}");
            assert_eq!(manifest_sha(&dir), manifest_sha(&reference.join(&case)));
        }
    }
    let (code, log) = sim(&args);
    assert_eq!(code, 0, "{log}");
    assert_eq!(entries(&out), entries(&reference));
    assert_eq!(
        std::fs::read(out.join("index.json")).unwrap(),
        std::fs::read(reference.join("index.json")).unwrap()
    );
    let (code, log) = sim(&["check", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{log}");
}

#[test]
fn shards_merge_into_the_single_run_index_and_missing_cases_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = ["--kv-sizes", "1..=9", "--seeds", "0,1"];
    let reference = reference(tmp.path(), &sweep);
    let out = tmp.path().join("ds");
    let o = out.to_str().unwrap();
    let shard = |env: &[(&str, &str)]| {
        let mut a = vec!["gen", "--out", o, "--shard", "auto/3"];
        a.extend_from_slice(&sweep);
        sim_env(&a, env)
    };
    for (var, id) in [("SLURM_ARRAY_TASK_ID", "0"), ("LSB_JOBINDEX", "2")] {
        let (code, log) = shard(&[(var, id)]);
        assert_eq!(code, 0, "{log}");
    }
    let (code, log) = sim(&["gen", "--merge", o]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("its shard wrote no index"), "{log}");
    assert!(log.contains("run shards 2 of 3 again"), "{log}");
    assert!(!out.join("index.json").exists());
    let (code, log) = shard(&[("SGE_TASK_ID", "3")]);
    assert_eq!(code, 0, "{log}");
    // A damaged case is named with its shard (kv-size-1_seed-1 is case 1: shard 1).
    let damaged = out.join("kv-size-1_seed-1/softmaxed_v.out");
    std::fs::write(&damaged, "0000\n").unwrap();
    let (code, log) = sim(&["gen", "--merge", o]);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains("shard 1/3  kv-size-1_seed-1 (kv 1, seed 1): damaged"),
        "{log}"
    );
    assert!(
        log.contains("1 of 18 cases missing or damaged; run shards 1 of 3"),
        "{log}"
    );
    let (code, log) = shard(&[("LSB_JOBINDEX", "2")]);
    assert_eq!(code, 0, "{log}");
    let (code, log) = sim(&["gen", "--merge", o]);
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        std::fs::read(out.join("index.json")).unwrap(),
        std::fs::read(reference.join("index.json")).unwrap()
    );
}

#[test]
fn merge_refuses_shard_indexes_of_another_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let o = out.to_str().unwrap();
    for shard in ["0/2", "1/2"] {
        let (code, log) = sim(&["gen", "--kv-sizes", "1..=4", "--out", o, "--shard", shard]);
        assert_eq!(code, 0, "{log}");
    }
    std::fs::copy(
        out.join("index.shard-0-of-2.json"),
        out.join("index.shard-0-of-1.json"),
    )
    .unwrap();
    let (code, log) = sim(&["gen", "--merge", o]);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "N=1: index.shard-0-of-1.json; N=2: index.shard-0-of-2.json, index.shard-1-of-2.json"
        ),
        "{log}"
    );
    std::fs::remove_file(out.join("index.shard-0-of-1.json")).unwrap();
    let (code, log) = sim(&["gen", "--kv-sizes", "1..=5", "--out", o, "--shard", "1/2"]);
    assert_eq!(code, 0, "{log}");
    let (code, log) = sim(&["gen", "--merge", o]);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "index.shard-0-of-2.json and index.shard-1-of-2.json are shards of different sweeps"
        ),
        "{log}"
    );
}

#[test]
fn auto_shard_errors_name_the_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let o = tmp.path().join("ds");
    let args = [
        "gen",
        "--kv-sizes",
        "1..=4",
        "--out",
        o.to_str().unwrap(),
        "--shard",
        "auto/4",
    ];
    let (code, log) = sim_env(&args, &[("SLURM_ARRAY_TASK_ID", "4")]);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("SLURM_ARRAY_TASK_ID=4 is outside the array"),
        "{log}"
    );
    assert!(!o.exists(), "nothing written");
}
