//! The CLI against hostile arguments: special files as configs and dumps, ranges too large to
//! hold, and an address-space limit. Each must end at once with exit 2 and a message, never hang
//! and never abort.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `sim ARGS` (through `sh -c` when `limit_kb` sets `ulimit -v`), killed after 20 s.
fn sim(args: &[&str], limit_kb: Option<u64>) -> (Output, Duration) {
    let exe = env!("CARGO_BIN_EXE_sim");
    let mut cmd = match limit_kb {
        Some(kb) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -v {kb} && exec \"$0\" \"$@\""))
                .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let t0 = Instant::now();
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("sim {args:?} did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), t0.elapsed())
}

fn refused(args: &[&str], limit_kb: Option<u64>, says: &str) {
    let (o, took) = sim(args, limit_kb);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "sim {args:?}: {err}");
    assert!(
        err.contains(says),
        "sim {args:?}: {err:?} should say {says:?}"
    );
    assert!(took < Duration::from_secs(1), "sim {args:?} took {took:?}");
}

#[test]
fn special_files_as_config_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let fifo = tmp.path().join("fifo.json");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let big = tmp.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    for (config, says) in [
        ("/dev/zero", "character device"),
        ("/dev/urandom", "character device"),
        ("/dev/full", "character device"),
        (fifo.to_str().unwrap(), "FIFO"),
        (tmp.path().to_str().unwrap(), "directory"),
        (big.to_str().unwrap(), "over the 1048576-byte limit"),
    ] {
        let args = ["run", "--kv-size", "4", "--config", config, "--out", out];
        refused(&args, None, says);
    }
    assert!(!Path::new(out).exists(), "nothing is written");
}

#[test]
fn a_fifo_in_place_of_a_dump_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("kv-size-4_seed-0");
    let (o, _) = sim(
        &[
            "run",
            "--kv-size",
            "4",
            "--out",
            tmp.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success());
    let qk = case.join("softmaxed_v.qk_T");
    std::fs::remove_file(&qk).unwrap();
    assert!(Command::new("mkfifo").arg(&qk).status().unwrap().success());
    let dir = case.to_str().unwrap();
    refused(&["check", dir], None, "FIFO");
    let out = tmp.path().join("rerun");
    let args = ["run", "--inputs", dir, "--out", out.to_str().unwrap()];
    refused(&args, None, "FIFO");
}

#[test]
fn lists_too_large_to_hold_are_refused_before_expansion() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    refused(
        &["gen", "--kv-sizes", "1..=4294967296", "--out", out],
        None,
        "'1..=4294967296' selects 4294967296 values",
    );
    refused(
        &[
            "gen",
            "--kv-sizes",
            "1",
            "--seeds",
            "0..18446744073709551615",
            "--out",
            out,
        ],
        None,
        "selects 18446744073709551615 values",
    );
    refused(
        &[
            "gen",
            "--kv-sizes",
            "1..=1024",
            "--seeds",
            "0..=8191",
            "--out",
            out,
        ],
        None,
        "1024 kv-sizes x 8192 seeds = 8388608 cases",
    );
    refused(
        &["gen", "--kv-sizes", "4,65537", "--out", out],
        None,
        "kv-size 65537 is out of range",
    );
}

/// 450 MB of address space holds the binary but not kv 65536's working set: an error naming
/// the size, exit 2, nothing written.
#[test]
fn memory_that_cannot_be_had_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let limit = Some(450_000);
    let says = "cannot allocate";
    refused(&["run", "--kv-size", "65536", "--out", out], limit, says);
    refused(&["gen", "--kv-sizes", "65536", "--out", out], limit, says);
    let gevm = ["op", "gevm", "--m", "65536", "--k", "4096", "--out", out];
    refused(&gevm, limit, says);
    assert!(!Path::new(out).join("kv-size-65536_seed-0").exists());
    // The same limit leaves room for an ordinary case.
    let (o, _) = sim(&["run", "--kv-size", "256", "--out", out], limit);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
