//! Shared helpers of the integration tests: locating the Python reference and writing cases.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Whether the environment opts out of a check that cannot run here: `SIM_SKIP` is a
/// comma-separated list of names (`python`, `iverilog`, `verilator`, `cocotb`, ...).
pub fn skip_requested(name: &str) -> bool {
    std::env::var("SIM_SKIP").is_ok_and(|v| v.split(',').any(|s| s.trim() == name))
}

/// The Python interpreter of the reference: `SIM_PYTHON`, else `.venv/bin/python` in the repo.
/// A missing interpreter fails the caller (naming the command that creates it) unless `SIM_SKIP`
/// lists `python`: a cross-check that did not run never counts as passed.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("SIM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    if skip_requested("python") {
        eprintln!(
            "SKIPPED (SIM_SKIP=python): Python reference not found at {}",
            p.display()
        );
        return None;
    }
    panic!(
        "Python reference interpreter {} not found: run `make venv` (python3 -m venv .venv && \
         .venv/bin/pip install -r scripts/requirements.txt), or set SIM_PYTHON, or opt out with \
         SIM_SKIP=python",
        p.display()
    );
}

/// Run `scripts/reference.py ARGS...`, panicking with its stderr on failure.
pub fn reference(py: &Path, args: &[&str]) {
    let out = Command::new(py)
        .arg(repo_root().join("scripts/reference.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "reference.py {:?} failed:\n{}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compare two files byte for byte, reporting the first differing line.
pub fn assert_same_file(expected: &Path, actual: &Path) {
    let a = std::fs::read(expected).unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
    let b = std::fs::read(actual).unwrap_or_else(|e| panic!("{}: {e}", actual.display()));
    if a != b {
        let (la, lb) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        for (i, (x, y)) in la.lines().zip(lb.lines()).enumerate() {
            assert_eq!(
                x,
                y,
                "{} vs {}: first difference at line {}",
                expected.display(),
                actual.display(),
                i + 1
            );
        }
        panic!(
            "{} vs {}: line counts differ ({} vs {})",
            expected.display(),
            actual.display(),
            la.lines().count(),
            lb.lines().count()
        );
    }
}
