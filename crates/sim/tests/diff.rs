//! `sim diff` and `sim check`: a single flipped bit in any stage of a case is reported at the right
//! stage, line and coordinates; exit codes 0/1/2; recursive folders; JSON.

use hw_types::{Bf16, Format};
use sim::diff::{compare, Source, Status};
use sim::layout::{self, Hints};
use std::path::{Path, PathBuf};
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

fn make(out: &Path, args: &[&str]) -> PathBuf {
    let mut a = args.to_vec();
    a.extend(["--out", out.to_str().unwrap()]);
    let (code, stdout, stderr) = sim(&a);
    assert_eq!(code, 0, "{stderr}");
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("wrote    "))
        .unwrap()
        .split(" (")
        .next()
        .unwrap();
    PathBuf::from(dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Flip bit `bit` of the word on line `line` (1-based) of a dump, keeping it valid hex.
fn flip(path: &Path, line: usize, bit: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let w = &lines[line - 1];
    let digits = w.len();
    let nib = digits - 1 - bit / 4;
    let v = u8::from_str_radix(&w[nib..nib + 1], 16).unwrap() ^ (1 << (bit % 4));
    lines[line - 1] = format!("{}{:x}{}", &w[..nib], v, &w[nib + 1..]);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Small deterministic generator for the test's choices.
fn pick(state: &mut u64, n: usize) -> usize {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 33) as usize) % n
}

#[test]
fn every_single_bit_flip_is_found_at_its_stage_line_and_coordinates() {
    let tmp = tempfile::tempdir().unwrap();
    let gold_soft = make(tmp.path(), &["run", "--kv-size", "33", "--seed", "4"]);
    let gold_gemm = make(
        tmp.path(),
        &["op", "gemm", "--m", "3", "--k", "40", "--n", "5"],
    );
    let gold_rope = make(tmp.path(), &["rope", "--max-pos", "20", "--head-dim", "8"]);
    let mut rng = 1u64;
    for gold in [&gold_soft, &gold_gemm, &gold_rope] {
        let layout = layout::detect(gold, Hints::default()).unwrap().unwrap();
        for (fi, spec) in layout.files.iter().enumerate() {
            for trial in 0..4 {
                let line = 1 + pick(&mut rng, spec.lines());
                let bits = spec.dtype.hex_digits() * 4;
                let bit = pick(&mut rng, bits);
                let case = tmp.path().join(format!("mut-{fi}-{trial}"));
                copy_dir(gold, &case);
                flip(&case.join(&spec.name), line, bit);
                let r = compare(&layout, &Source::Dir(gold), &Source::Dir(&case), 5).unwrap();
                assert!(!r.equal);
                let m = r.first_divergence.as_ref().unwrap();
                assert_eq!((m.file.as_str(), m.line), (spec.name.as_str(), line));
                // Coordinates: row-major unravel of line-1 over the line grid.
                let grid = spec.grid();
                let mut rem = line - 1;
                let mut want = vec![0; grid.len()];
                for ax in (0..grid.len()).rev() {
                    want[ax] = rem % grid[ax];
                    rem /= grid[ax];
                }
                let got: Vec<usize> = m.coords.values().copied().collect();
                assert_eq!(got, want, "{}", spec.name);
                if spec.dtype == sim::tensor::Dtype::MxInt8 {
                    if bit >= 256 {
                        assert_eq!(m.scale_differs, Some(true));
                    } else {
                        assert_eq!(m.lanes.as_deref(), Some(&[bit / 8][..]));
                    }
                }
                for (j, st) in r.stages.iter().enumerate() {
                    let want = if j == fi {
                        Status::Differs
                    } else {
                        Status::Equal
                    };
                    assert_eq!(st.status, want, "{} after flipping {}", st.file, spec.name);
                }
            }
        }
    }
}

#[test]
fn downstream_stages_are_marked_as_echoes() {
    let tmp = tempfile::tempdir().unwrap();
    let gold = make(tmp.path(), &["run", "--kv-size", "40", "--seed", "1"]);
    let other = make(
        &tmp.path().join("b"),
        &[
            "run",
            "--kv-size",
            "40",
            "--seed",
            "1",
            "--element-rounding",
            "nearest-even",
        ],
    );
    let layout = layout::detect(&gold, Hints::default()).unwrap().unwrap();
    let r = compare(&layout, &Source::Dir(&gold), &Source::Dir(&other), 3).unwrap();
    // The element rounding changes exp_mxint8 (BF16 exps often sit on half steps: the cause);
    // scaled_v and out are echoes. v's 24-bit reals hit no tie here.
    let status = |n: &str| r.stages.iter().find(|s| s.file == n).unwrap().status;
    assert_eq!(status("softmaxed_v.qk_T"), Status::Equal);
    assert_eq!(status("softmaxed_v.v"), Status::Equal);
    assert_eq!(status("softmaxed_v.exp_sum"), Status::Equal);
    assert_eq!(status("softmaxed_v.exp_mxint8"), Status::Differs);
    assert_eq!(status("softmaxed_v.scaled_v"), Status::Downstream);
    assert_eq!(status("softmaxed_v.out"), Status::Downstream);
    assert_eq!(
        r.first_divergence.as_ref().unwrap().file,
        "softmaxed_v.exp_mxint8"
    );
    assert!(r.stages.iter().all(|s| s.mismatches.len() <= 3));
}

#[test]
fn exit_codes_json_and_recursive_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for kv in ["1", "32"] {
        make(&a, &["run", "--kv-size", kv]);
        make(&b, &["run", "--kv-size", kv]);
    }
    let (code, out, _) = sim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 cases: 2 equal, 0 not"), "{out}");
    flip(&b.join("kv-size-32_seed-0/softmaxed_v.out"), 7, 3);
    let (code, out, _) = sim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("kv-size-32_seed-0                    differs  softmaxed_v.out line 7: head 0, column 6"), "{out}");
    let (code, out, _) = sim(&[
        "diff",
        a.join("kv-size-32_seed-0").to_str().unwrap(),
        b.join("kv-size-32_seed-0").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["first_divergence"]["line"], 7);
    assert_eq!(v["first_divergence"]["ulp"], 8);
    assert_eq!(v["equal"], false);
    // Unusable input: a malformed dump on either side is exit code 2 with file and line.
    std::fs::write(b.join("kv-size-1_seed-0/softmaxed_v.inv"), "zz\n").unwrap();
    let (code, _, err) = sim(&[
        "diff",
        a.join("kv-size-1_seed-0").to_str().unwrap(),
        b.join("kv-size-1_seed-0").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("softmaxed_v.inv:1: expected 4 hex digits"),
        "{err}"
    );
    let (code, _, err) = sim(&["diff", a.to_str().unwrap(), "/nonexistent"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent: not a folder"), "{err}");
    // A missing stage on the actual side is a difference, not an error.
    std::fs::remove_file(b.join("kv-size-1_seed-0/softmaxed_v.inv")).unwrap();
    let (code, out, _) = sim(&[
        "diff",
        a.join("kv-size-1_seed-0").to_str().unwrap(),
        b.join("kv-size-1_seed-0").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .any(|l| l.starts_with("softmaxed_v.inv ") && l.contains("MISSING")),
        "{out}"
    );
}

#[test]
fn check_passes_golden_folders_and_fails_mutated_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        make(
            tmp.path(),
            &[
                "run",
                "--kv-size",
                "70",
                "--seed",
                "2",
                "--element-rounding",
                "nearest-even",
            ],
        ),
        make(tmp.path(), &["op", "dot", "--m", "33"]),
        make(
            tmp.path(),
            &[
                "op",
                "gevm",
                "--m",
                "64",
                "--k",
                "3",
                "--out-dtype",
                "fp32",
                "--rounding",
                "toward-zero",
            ],
        ),
        make(
            tmp.path(),
            &["op", "gemm", "--m", "2", "--k", "31", "--n", "2"],
        ),
        make(
            tmp.path(),
            &["rope", "--max-pos", "300", "--head-dim", "16"],
        ),
    ];
    for c in &cases {
        let (code, out, err) = sim(&["check", c.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.trim_end().ends_with("PASS"), "{out}");
    }
    // A BF16 out value off by one ulp.
    let soft = &cases[0];
    let line = std::fs::read_to_string(soft.join("softmaxed_v.out"))
        .unwrap()
        .lines()
        .nth(9)
        .unwrap()
        .to_string();
    let x = Bf16(u16::from_str_radix(&line, 16).unwrap());
    assert!(x.is_finite());
    flip(&soft.join("softmaxed_v.out"), 10, 0);
    let (code, out, _) = sim(&["check", soft.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL  softmaxed_v.out"), "{out}");
    assert!(
        out.contains("first divergence: softmaxed_v.out line 10: head 0, column 9"),
        "{out}"
    );
    // Without its manifest the folder is still checked with the default shapes, and the
    // nearest-even element rounding must then be given.
    std::fs::remove_file(soft.join("manifest.json")).unwrap();
    flip(&soft.join("softmaxed_v.out"), 10, 0);
    let (code, _, _) = sim(&["check", soft.to_str().unwrap()]);
    assert_eq!(
        code, 1,
        "nearest-away differs from the folder's nearest-even"
    );
    let (code, out, _) = sim(&[
        "check",
        soft.to_str().unwrap(),
        "--element-rounding",
        "nearest-even",
    ]);
    assert_eq!(code, 0, "{out}");
}

/// `sim check DIR` on a regression: case folders found at any depth, checked each, one row per
/// case, exit code 1 when one fails, and 2 when one cannot be read.
#[test]
fn check_walks_a_folder_of_cases_recursively() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("regression");
    make(
        &root.join("nightly/softmax"),
        &["run", "--kv-size", "5", "--seed", "1"],
    );
    make(&root.join("nightly/softmax"), &["run", "--kv-size", "40"]);
    make(&root.join("ops"), &["op", "dot", "--m", "40"]);
    // A leftover of a killed run is hidden and ignored.
    std::fs::create_dir_all(root.join(".kv-size-9_seed-0.tmp-123")).unwrap();
    let (code, out, err) = sim(&["check", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 cases: 3 equal, 0 not"), "{out}");
    assert!(out.contains("nightly/softmax/kv-size-40_seed-0"), "{out}");
    flip(
        &root.join("nightly/softmax/kv-size-40_seed-0/softmaxed_v.inv"),
        3,
        0,
    );
    let (code, out, _) = sim(&["check", root.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("nightly/softmax/kv-size-40_seed-0")
                && l.contains("differs")
                && l.contains("softmaxed_v.inv line 3: head 2")),
        "{out}"
    );
    let (_, json, _) = sim(&["check", root.to_str().unwrap(), "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    std::fs::write(root.join("ops/dot_m-40_seed-0/dot.output"), "xyz\n").unwrap();
    let (code, out, _) = sim(&["check", root.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("error") && out.contains("dot.output:1"),
        "{out}"
    );
    let (code, _, err) = sim(&["check", tmp.path().join("nothing").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a folder"), "{err}");
}

/// The first divergence names the flags its expected value raised (recomputed from the expected
/// folder), and float stages report how far off the differing elements are.
#[test]
fn diff_shows_expected_flags_and_ulp_distances() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make(&tmp.path().join("a"), &["run", "--kv-size", "3"]);
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    // Line 1 of exp is e^qk[0, 0], inexact; make the testbench's value 1 ulp off and a second
    // one 3 ulp off (exp values are positive, so adding to the pattern adds ulps).
    let exp = b.join("softmaxed_v.exp-bf16");
    let text = std::fs::read_to_string(&exp).unwrap();
    let mut words: Vec<u16> = text
        .lines()
        .map(|l| u16::from_str_radix(l, 16).unwrap())
        .collect();
    words[0] += 1;
    words[1] += 3;
    let text: String = words.iter().map(|w| format!("{w:04x}\n")).collect();
    std::fs::write(&exp, text).unwrap();
    let (code, out, _) = sim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("flags of the expected value: inexact\n"),
        "{out}"
    );
    let dist = out
        .lines()
        .find(|l| l.trim_start().starts_with("distance:"))
        .unwrap();
    assert_eq!(
        dist.trim(),
        "distance: 1 ulp: 1 (1.0 %), 3-15 ulp: 1 (1.0 %)"
    );
    let (_, json, _) = sim(&["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["first_divergence"]["expected_flags"], "inexact");
    assert_eq!(v["first_divergence"]["index"], 0);
    // An input differing has no computed flags.
    let c = tmp.path().join("c");
    copy_dir(&a, &c);
    flip(&c.join("softmaxed_v.qk_T"), 2, 0);
    let (_, json, _) = sim(&["diff", a.to_str().unwrap(), c.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["first_divergence"].get("expected_flags").is_none(), "{v}");
}

/// RoPE tables compared with tables that differ by an ulp here and there (as PyTorch's FP32
/// cos does) read as ULP counts per table.
#[test]
fn rope_diff_reports_ulp_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make(
        &tmp.path().join("a"),
        &["rope", "--max-pos", "64", "--head-dim", "8"],
    );
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    for line in [3, 10, 50, 200] {
        flip(&b.join("rope.cos_fp32"), line, 0);
    }
    let (code, out, _) = sim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("distance: 1 ulp: 4 (1.6 %)"), "{out}");
}
