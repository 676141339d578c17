//! `sim check`: recompute every stage of a case folder from the folder's own inputs and compare
//! with every dump in it.

use crate::diff::{compare, find_cases, CaseRow, Report, Source};
use crate::dump::{self, DumpError};
use crate::layout::{self, Hints, Layout};
use crate::manifest::{Manifest, FILE_NAME};
use crate::mx_op::{MxChoice, MxOpCase};
use crate::ops::{dims_from_manifest, Dims, OpCase, OpKind, OutDtype};
use crate::quantize_op::{self, QuantizeCase};
use crate::rope::{RopeParams, RopeTables};
use crate::softmax::{self, Formats, Inputs, Params};
use crate::tensor::{Dtype, DumpRef};
use anyhow::{anyhow, Result};
use hw_types::{RoundingMode, ScaleRule, Status};
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

/// Every dump of a case recomputed from the case's own inputs: the canonical file bytes, and for
/// computed dumps the flags of each line's result.
pub struct Model {
    pub bytes: HashMap<String, Vec<u8>>,
    pub flags: HashMap<String, Vec<Status>>,
}

/// Recompute the folder's stages (model) and compare them with its dumps (actual).
///
/// A file the folder lacks but its manifest lists (the golden corpus keeps only the hashes of
/// the 11 MB RoPE tables) passes when the recomputed file has the manifest's SHA-256.
pub fn check(dir: &Path, o: &CheckOptions) -> Result<(Layout, Report)> {
    let (layout, model) = model(dir, o)?;
    let mut report = compare(
        &layout,
        &Source::Mem(&model.bytes),
        &Source::Dir(dir),
        o.max_errors,
    )?;
    let mpath = dir.join(FILE_NAME);
    if let Some(m) = mpath.exists().then(|| Manifest::read(&mpath)).transpose()? {
        for st in &mut report.stages {
            let recorded = m.files.get(&st.file).map(|f| f.sha256.as_str());
            let computed = model.bytes.get(&st.file).map(|b| dump::sha256_hex(b));
            if st.status == crate::diff::Status::Missing && recorded == computed.as_deref() {
                st.status = crate::diff::Status::Equal;
                st.differing = 0;
                st.note = Some("absent; the manifest's SHA-256 matches the recomputed file".into());
            }
        }
        report.equal = report
            .stages
            .iter()
            .all(|s| s.status == crate::diff::Status::Equal);
    }
    Ok((layout, report))
}

/// Recompute a case folder from its inputs (with the hardware description and parameters its
/// manifest records, else the options').
pub fn model(dir: &Path, o: &CheckOptions) -> Result<(Layout, Model)> {
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
    let mut model = Model {
        bytes: HashMap::new(),
        flags: HashMap::new(),
    };
    // The hardware description: the options', else the one the manifest records, else the
    // reference profile.
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
    let mut put = |name: &str, d: DumpRef<'_>, flags: Option<&[Status]>| {
        model.bytes.insert(name.to_string(), dump::to_bytes(d));
        if let Some(f) = flags {
            model.flags.insert(name.to_string(), f.to_vec());
        }
    };
    match layout.op.as_str() {
        "softmax_v" => {
            let qk = &layout.files[0];
            let formats = match &manifest {
                Some(m) => {
                    Formats::from_params(&m.params).map_err(|e| DumpError::new(&mpath, 0, e))?
                }
                None => Formats::default(),
            };
            // A recorded element rounding, else the option's for the dataset's formats, else
            // each format's own.
            let recorded = manifest
                .as_ref()
                .and_then(|m| m.params.get("element_rounding"));
            let element_rounding = match recorded {
                Some(_) => Some(mode_param(
                    manifest.as_ref(),
                    "element_rounding",
                    o.element_rounding,
                )?),
                None if formats.is_mxint8() => Some(o.element_rounding),
                None => None,
            };
            let p = Params {
                heads: qk.shape[1],
                head_dim: layout.files[1].shape[3],
                element_rounding,
                formats,
            };
            softmax::check_mac(&p, &cfg.mac.accumulator).map_err(anyhow::Error::msg)?;
            let stages = softmax::run_with(Inputs::read(dir, &p)?, &p, &Units::new(&cfg));
            for (n, d) in stages.dumps() {
                put(n, d, stages.flags.of(n));
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
            for ((n, d), f) in t.dumps().into_iter().zip(&t.flags) {
                put(n, d, Some(f));
            }
        }
        "quantize" => {
            let case = QuantizeCase::read(Some(layout.files[0].shape[0]), dir)?;
            let choice = mx_choice(manifest.as_ref(), &mpath)?;
            let format = choice.formats[0];
            let default = if choice.is_mxint8() {
                o.element_rounding
            } else {
                format.default_rounding
            };
            let mode = mode_param(manifest.as_ref(), "element_rounding", default)?;
            if choice.is_mxint8() {
                let out = case.compute(mode);
                for (n, d) in case.dumps(&out) {
                    put(n, d, (n == quantize_op::OUTPUT).then_some(&out.flags[..]));
                }
            } else {
                let out = case.compute_mx(format, choice.rule, mode);
                for (n, d) in case.dumps_mx(&out) {
                    put(n, d, (n == quantize_op::OUTPUT).then_some(&out.flags[..]));
                }
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
            let mode = mode_param(manifest.as_ref(), "rounding", o.rounding)?;
            let choice = mx_choice(manifest.as_ref(), &mpath)?;
            let [a, b] = op.operand_names();
            if choice.is_mxint8() {
                let case = OpCase::read(op, dims, dir)?;
                put(&op.file(a), DumpRef::MxInt8(&case.operands[0]), None);
                put(&op.file(b), DumpRef::MxInt8(&case.operands[1]), None);
                let output = case.compute_with(out, mode, &cfg.mac.accumulator);
                put(&op.file("output"), output.dump(), Some(&output.flags));
            } else {
                let case = MxOpCase::read(op, dims, choice, dir)?;
                let output = case.compute(out, mode);
                for (n, d) in case.dumps(&output) {
                    let flags = (n == op.file("output")).then_some(&output.flags[..]);
                    put(&n, d, flags);
                }
            }
        }
    }
    Ok((layout, model))
}

/// The MX formats and scale rule a manifest records (`params.mx_format`, `params.scale_rule`);
/// MXINT8 with `floor` when it records none.
pub(crate) fn mx_choice(m: Option<&Manifest>, path: &Path) -> Result<MxChoice, DumpError> {
    let param = |k: &str| m.and_then(|m| m.params.get(k)).and_then(|v| v.as_str());
    let bad = |e: String| DumpError::new(path, 0, e);
    let formats = match param("mx_format") {
        Some(s) => {
            crate::mx_op::parse_formats(s).map_err(|e| bad(format!("params.mx_format: {e}")))?
        }
        None => [hw_types::mx::MXINT8; 2],
    };
    let rule = match param("scale_rule") {
        Some(s) => s
            .parse()
            .map_err(|e| bad(format!("params.scale_rule: {e}")))?,
        None => ScaleRule::Floor,
    };
    Ok(MxChoice {
        formats,
        rule,
        element_rounding: None,
    })
}

pub(crate) fn dims_of(layout: &Layout, op: OpKind) -> Dims {
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

/// `sim check` on a folder of cases: every case found under `root`, recursively, checked in
/// parallel, one row each.
pub fn check_tree(root: &Path, o: &CheckOptions) -> Result<Vec<CaseRow>, DumpError> {
    use rayon::prelude::*;
    let cases = find_cases(root)?;
    Ok(cases
        .par_iter()
        .map(|rel| {
            let case = rel.display().to_string();
            match check(&root.join(rel), o) {
                Ok((_, r)) => CaseRow::of_report(&case, r),
                Err(e) => CaseRow::new(&case, "error", &format!("{e:#}")),
            }
        })
        .collect())
}

/// Attach to the report's first divergence the flags its expected value raised, by recomputing
/// the expected folder from its own inputs; nothing when it cannot be recomputed, when the
/// divergence is in an input, or when the recomputed word is not the expected one.
pub fn annotate_expected_flags(report: &mut Report, expected: &Path, o: &CheckOptions) {
    let Some(m) = report.first_divergence.as_mut() else {
        return;
    };
    let Ok((layout, model)) = self::model(expected, o) else {
        return;
    };
    let (Some(flags), Some(spec), Some(bytes)) = (
        model.flags.get(&m.file),
        layout.files.iter().find(|f| f.name == m.file),
        model.bytes.get(&m.file),
    ) else {
        return;
    };
    let digits = spec.dtype.hex_digits();
    let word = bytes
        .get(m.index * (digits + 1)..m.index * (digits + 1) + digits)
        .map(|w| String::from_utf8_lossy(w).into_owned());
    if word.as_deref() == Some(m.expected.as_str()) {
        m.expected_flags = flags.get(m.index).map(|f| f.to_string());
    }
}
