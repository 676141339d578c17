//! The hardware description behind a `profile` argument: a built-in profile name, or the path of
//! a JSON description (what the CLI's `--profile` and `--config` take).

use crate::arrays::value_error;
use hw_units::config::HwConfig;
use hw_units::units::Units;
use pyo3::prelude::*;
use std::path::Path;

/// `reference`, `narrow`, or a JSON file. A name that is neither a profile nor an existing file
/// is an error listing the profiles.
pub fn load(profile: &str) -> PyResult<HwConfig> {
    if HwConfig::PROFILES.contains(&profile) {
        return HwConfig::profile(profile).map_err(value_error);
    }
    let path = Path::new(profile);
    if !path.is_file() {
        return Err(value_error(format!(
            "profile: unknown profile '{profile}' (expected one of: {}, or the path of a JSON \
             hardware description as `sim config show` prints it)",
            HwConfig::PROFILES.join(", ")
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| value_error(format!("profile: cannot read {profile}: {e}")))?;
    HwConfig::from_json(&text).map_err(|e| value_error(format!("profile: {profile}: {e}")))
}

/// The units of a profile, ready to evaluate.
pub fn units(profile: &str) -> PyResult<Units> {
    Ok(Units::new(&load(profile)?))
}

/// The effective hardware description as JSON (`sim config show`).
#[pyfunction]
pub fn config_json(profile: &str) -> PyResult<String> {
    Ok(load(profile)?.to_json())
}
