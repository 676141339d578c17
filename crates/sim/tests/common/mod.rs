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

/// The Python interpreter of the reference: `SIM_PYTHON`, else `.venv/bin/python` in the repo.
/// Outside CI a missing interpreter skips the caller with a visible message; in CI (CI=true) it
/// fails, because `make test` always creates the venv.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("SIM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "Python reference interpreter {} not found (CI=true)",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: Python reference not found at {} (run `make venv` or set SIM_PYTHON)",
        p.display()
    );
    None
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
