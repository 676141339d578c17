//! `manifest.json` of a case folder (docs/dump-format.md). Field order is fixed by the struct
//! and the file map keeps insertion (pipeline) order, so manifests are reproducible byte for byte.

use crate::tensor::Dtype;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT_VERSION: u32 = 1;
pub const FILE_NAME: &str = "manifest.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub op: String,
    pub tool: String,
    pub tool_version: String,
    pub case: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub profile: String,
    pub params: IndexMap<String, serde_json::Value>,
    pub files: IndexMap<String, FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub dtype: String,
    pub shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_axis: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<usize>,
    /// Absent for `$readmemh` hex text; `bin-le` for a raw little-endian binary (`--format bin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Lines of a hex dump, words of a binary one.
    pub lines: usize,
    pub sha256: String,
    /// For a computed tensor: how many of its results (lines: elements, or MXINT8 blocks)
    /// raised each IEEE flag. Absent for inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<hw_types::FlagCounts>,
}

impl FileEntry {
    pub fn dtype(&self) -> Option<Dtype> {
        Dtype::from_name(&self.dtype)
    }
}

impl Manifest {
    pub fn new(op: &str, case: &str, profile: &str) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            op: op.to_string(),
            tool: "sim".to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            case: case.to_string(),
            kv_size: None,
            seed: None,
            profile: profile.to_string(),
            params: IndexMap::new(),
            files: IndexMap::new(),
        }
    }

    /// Record a hardware description other than the reference profile: its name as `profile` and
    /// the whole description as `params.config` (so `sim check` recomputes with the same units).
    pub fn record_config(&mut self, cfg: &hw_units::config::HwConfig) {
        if *cfg != hw_units::config::HwConfig::reference() {
            self.profile = cfg.name.clone();
            self.params.insert(
                "config".into(),
                serde_json::to_value(cfg).expect("config serializes"),
            );
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("manifest serializes");
        s.push('\n');
        s
    }

    /// The largest manifest read (a few kB in practice; a limit so that a device or a huge file
    /// in its place is refused instead of read).
    pub const MANIFEST_LIMIT: u64 = 64 << 20;

    /// Read and validate a manifest; errors name the file and, for JSON errors, the line.
    pub fn read(path: &Path) -> Result<Manifest, crate::dump::DumpError> {
        let text = hw_units::files::read_regular(path, Self::MANIFEST_LIMIT)
            .and_then(|b| String::from_utf8(b).map_err(|_| "is not UTF-8 text".to_string()))
            .map_err(|e| crate::dump::DumpError::new(path, 0, e))?;
        Self::parse(path, &text)
    }

    /// Validate a manifest's text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, crate::dump::DumpError> {
        use crate::dump::DumpError;
        let m: Manifest = serde_json::from_str(text)
            .map_err(|e| DumpError::new(path, e.line(), format!("invalid manifest: {e}")))?;
        if m.format_version != FORMAT_VERSION {
            return Err(DumpError::new(
                path,
                0,
                format!(
                    "manifest format_version {} is not supported (expected {FORMAT_VERSION})",
                    m.format_version
                ),
            ));
        }
        for (name, f) in &m.files {
            if f.dtype().is_none() {
                return Err(DumpError::new(
                    path,
                    0,
                    format!(
                        "file {name}: unknown dtype '{}' (expected bf16, fp32 or mxint8)",
                        f.dtype
                    ),
                ));
            }
        }
        Ok(m)
    }
}
