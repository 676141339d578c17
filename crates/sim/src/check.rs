//! `sim check`: recompute every stage of a case folder from the folder's own inputs and compare
//! with every dump in it.

use crate::diff::{compare, Report, Source};
use crate::dump::{self, DumpError};
use crate::layout::{self, Hints, Layout};
use crate::manifest::{Manifest, FILE_NAME};
use crate::ops::{dims_from_manifest, Dims, OpCase, OpKind, OutDtype};
use crate::rope::{RopeParams, RopeTables};
use crate::softmax::{self, Inputs, Params};
use crate::tensor::{Dtype, DumpRef};
use anyhow::{anyhow, Result};
use hw_types::RoundingMode;
use hw_units::config::HwConfig;
use hw_units::units::Units;
use std::collections::HashMap;
use std::path::Path;

/// Options for folders whose manifest does not say (or that have none).
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub hints: Hints,
    pub element_rounding: RoundingMode,
    pub rounding: RoundingMode,
    pub max_errors: usize,
    /// The hardware description for softmax_v folders; `None`: the one the manifest records
    /// (`params.config`), else the reference profile.
    pub config: Option<HwConfig>,
}

fn mode_param(m: Option<&Manifest>, key: &str, default: RoundingMode) -> Result<RoundingMode> {
    match m.and_then(|m| m.params.get(key)).and_then(|v| v.as_str()) {
        Some(s) => s
            .parse()
            .map_err(|e: String| anyhow!("manifest.json: {key}: {e}")),
        None => Ok(default),
    }
}

/// Recompute the folder's stages (model) and compare them with its dumps (actual).
pub fn check(dir: &Path, o: &CheckOptions) -> Result<(Layout, Report)> {
    let layout = layout::detect(dir, o.hints)?.ok_or_else(|| {
        DumpError::new(
            dir,
            0,
            "no softmax_v, op or rope dumps found in this folder",
        )
    })?;
    let mpath = dir.join(FILE_NAME);
    let manifest = if mpath.exists() {
        Some(Manifest::read(&mpath)?)
    } else {
        None
    };
    let mut model: HashMap<String, Vec<u8>> = HashMap::new();
    let mut put = |name: &str, d: DumpRef<'_>| {
        model.insert(name.to_string(), dump::to_bytes(d));
    };
    match layout.op.as_str() {
        "softmax_v" => {
            let qk = &layout.files[0];
            let p = Params {
                heads: qk.shape[1],
                head_dim: layout.files[1].shape[3],
                element_rounding: mode_param(
                    manifest.as_ref(),
                    "element_rounding",
                    o.element_rounding,
                )?,
            };
            let recorded = manifest
                .as_ref()
                .and_then(|m| m.params.get("config"))
                .map(|c| {
                    serde_json::from_value::<HwConfig>(c.clone())
                        .map_err(|e| DumpError::new(&mpath, 0, format!("params.config: {e}")))
                })
                .transpose()?;
            let cfg = o
                .config
                .clone()
                .or(recorded)
                .unwrap_or_else(HwConfig::reference);
            cfg.validate().map_err(anyhow::Error::msg)?;
            let stages = softmax::run_with(Inputs::read(dir, &p)?, &p, &Units::new(&cfg));
            for (n, d) in stages.dumps() {
                put(n, d);
            }
        }
        "rope" => {
            let f = &layout.files[0];
            let base = manifest
                .as_ref()
                .and_then(|m| m.params.get("base"))
                .and_then(|v| v.as_f64())
                .unwrap_or(10000.0);
            let p = RopeParams {
                base,
                head_dim: f.shape[2] * 2,
                max_pos: f.shape[1],
            };
            p.validate().map_err(anyhow::Error::msg)?;
            let t = RopeTables::compute(&p);
            for (n, d) in t.dumps() {
                put(n, d);
            }
        }
        name => {
            let op = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
                .into_iter()
                .find(|k| k.name() == name)
                .expect("layout ops are known");
            let dims = match manifest.as_ref() {
                Some(m) => dims_from_manifest(op, m).map_err(|e| DumpError::new(&mpath, 0, e))?,
                None => dims_of(&layout, op),
            };
            let out = match layout.files[2].dtype {
                Dtype::Fp32 => OutDtype::Fp32,
                _ => OutDtype::Bf16,
            };
            let case = OpCase::read(op, dims, dir)?;
            let mode = mode_param(manifest.as_ref(), "rounding", o.rounding)?;
            let [a, b] = op.operand_names();
            put(&op.file(a), DumpRef::MxInt8(&case.operands[0]));
            put(&op.file(b), DumpRef::MxInt8(&case.operands[1]));
            put(&op.file("output"), case.compute(out, mode).dump());
        }
    }
    let report = compare(
        &layout,
        &Source::Mem(&model),
        &Source::Dir(dir),
        o.max_errors,
    )?;
    Ok((layout, report))
}

fn dims_of(layout: &Layout, op: OpKind) -> Dims {
    let s = |i: usize, ax: usize| layout.files[i].shape[ax];
    match op {
        OpKind::Dot => Dims {
            m: s(0, 0),
            k: 1,
            n: 1,
        },
        OpKind::Gevm => Dims {
            m: s(0, 0),
            k: s(1, 1),
            n: 1,
        },
        OpKind::Gemm => Dims {
            m: s(0, 0),
            k: s(0, 1),
            n: s(1, 1),
        },
    }
}
