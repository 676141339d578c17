//! The hardware description behind a `profile` argument: a built-in profile name, or the path of
//! a JSON hardware description (what the CLI's `--profile` and `--config` take).

use crate::arrays::value_error;
use crate::guarded;
use hw_units::config::HwConfig;
use hw_units::units::Units;
use pyo3::prelude::*;
use std::path::Path;

/// `reference`, `narrow`, or a JSON file, read as the CLI reads `--config`
/// (`HwConfig::from_file`: only a regular file of at most 1 MiB; a device, FIFO or directory is
/// refused from its metadata, never opened for a blocking read). A name that is neither a profile
/// nor an existing path is an error listing the profiles.
pub fn load(profile: &Path) -> PyResult<HwConfig> {
    if let Some(name) = profile.to_str().filter(|n| HwConfig::PROFILES.contains(n)) {
        return HwConfig::profile(name).map_err(value_error);
    }
    // symlink_metadata and exists() only stat the path: nothing is opened here.
    if std::fs::symlink_metadata(profile).is_err() {
        return Err(value_error(format!(
            "profile: unknown profile '{}' (expected one of: {}, or the path of a JSON \
             hardware description as `sim config show` prints it)",
            profile.display(),
            HwConfig::PROFILES.join(", ")
        )));
    }
    HwConfig::from_file(profile).map_err(|e| value_error(format!("profile: {e}")))
}

/// The units of a profile, ready to evaluate.
pub fn units(profile: &Path) -> PyResult<Units> {
    Ok(Units::new(&load(profile)?))
}

/// The effective hardware description as JSON (`sim config show`).
#[pyfunction]
pub fn config_json(profile: std::path::PathBuf) -> PyResult<String> {
    guarded(|| Ok(load(&profile)?.to_json()))
}
