//! Functional coverage (`sim cover`, docs/coverage.md): named bins per stage, each hit by one
//! result whose stage saw the described input or produced the described output, evaluated from a
//! folder's own dumps with the reference rules of docs/numerics.md.

use crate::diff::find_cases;
use crate::dump::{read_bf16, read_fp32, read_mx_tensor, DumpError};
use crate::layout::{self, FileSpec, Hints, Layout};
use crate::manifest::{Manifest, FILE_NAME};
use crate::softmax::{EXP, EXP_MX, EXP_SUM, INV, OUT, QK_T, SCALED_V, V};
use crate::tensor::{Dtype, MxTensor};
use hw_types::arith::{mul, recip};
use hw_types::float::FormatSpec;
use hw_types::mxint8::int_dot;
use hw_types::{
    Bf16, ExactAcc, Format, Fp32, MxInt8Block, RoundingMode, Value, BF16_SPEC, BLOCK, FP32_SPEC,
};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One coverage bin: its name, the stage it belongs to, and what hits it.
#[derive(Clone, Copy, Debug)]
pub struct BinDef {
    pub id: &'static str,
    pub stage: &'static str,
    pub what: &'static str,
}

const fn bin(id: &'static str, stage: &'static str, what: &'static str) -> BinDef {
    BinDef { id, stage, what }
}

/// Every bin, in the order of docs/coverage.md.
pub const BINS: &[BinDef] = &[
    bin("qk.zero.pos", "qk_T", "+0"),
    bin("qk.zero.neg", "qk_T", "-0"),
    bin("qk.subnormal", "qk_T", "a subnormal"),
    bin(
        "qk.normal",
        "qk_T",
        "a normal x in [-92.5, 88.5]: e^x finite, nonzero",
    ),
    bin(
        "qk.overflow.last_finite",
        "qk_T",
        "88.5, the last finite e^x",
    ),
    bin(
        "qk.overflow.first_inf",
        "qk_T",
        "89.0, the first overflowing e^x",
    ),
    bin("qk.overflow.beyond", "qk_T", "finite and above 89.0"),
    bin(
        "qk.underflow.last_subnormal",
        "qk_T",
        "-92.5, e^x the smallest subnormal",
    ),
    bin(
        "qk.underflow.first_zero",
        "qk_T",
        "-93.0, the first e^x that is +0",
    ),
    bin("qk.underflow.beyond", "qk_T", "finite and below -93.0"),
    bin("qk.inf.pos", "qk_T", "+inf"),
    bin("qk.inf.neg", "qk_T", "-inf"),
    bin("qk.nan", "qk_T", "NaN"),
    bin("exp.normal", "exp", "a normal result"),
    bin("exp.subnormal", "exp", "a subnormal result"),
    bin("exp.zero", "exp", "+0"),
    bin("exp.inf", "exp", "+inf"),
    bin("exp.nan", "exp", "NaN"),
    bin("sum.normal", "exp_sum", "a normal sum"),
    bin("sum.subnormal", "exp_sum", "a subnormal sum"),
    bin("sum.zero", "exp_sum", "a zero sum"),
    bin(
        "sum.inf.overflow",
        "exp_sum",
        "finite addends overflowing to +inf",
    ),
    bin("sum.inf.addend", "exp_sum", "a +inf addend"),
    bin("sum.nan", "exp_sum", "a NaN addend"),
    bin(
        "sum.tie",
        "exp_sum",
        "an exact sum halfway between two BF16 values",
    ),
    bin(
        "quant.tie.pos.nearest-away",
        "quantizer",
        "a positive tie, nearest-away",
    ),
    bin(
        "quant.tie.neg.nearest-away",
        "quantizer",
        "a negative tie, nearest-away",
    ),
    bin(
        "quant.tie.pos.nearest-even",
        "quantizer",
        "a positive tie, nearest-even",
    ),
    bin(
        "quant.tie.neg.nearest-even",
        "quantizer",
        "a negative tie, nearest-even",
    ),
    bin(
        "quant.clamp.pos",
        "quantizer",
        "an element rounding to +128, clamped",
    ),
    bin(
        "quant.clamp.neg",
        "quantizer",
        "an element rounding to -128, clamped",
    ),
    bin("quant.e_clamp", "quantizer", "floor(log2 amax) < -127"),
    bin(
        "quant.zero_block",
        "quantizer",
        "an all-zero block (scale 0x00)",
    ),
    bin(
        "quant.nan_block",
        "quantizer",
        "an inf/NaN block (scale 0xff)",
    ),
    bin(
        "quant.partial_block",
        "quantizer",
        "a last block shorter than 32",
    ),
    bin(
        "quant.scale.min",
        "quantizer",
        "a nonzero block with scale 0x00",
    ),
    bin("quant.scale.max", "quantizer", "a block with scale 0xfe"),
    bin("v.scale.nan", "v", "a block with scale 0xff"),
    bin("v.elem.min", "v", "a block with an element -128"),
    bin("v.zero_block", "v", "a block of zero elements"),
    bin("v.scale.min", "v", "a block with scale 0x00"),
    bin("v.scale.max", "v", "a block with scale 0xfe"),
    bin("gevm.nan", "gevm", "a 0xff scale taking part"),
    bin(
        "gevm.exact_zero",
        "gevm",
        "an exact zero from nonzero products",
    ),
    bin(
        "gevm.cancel_tiny",
        "gevm",
        "cancellation below the largest product's precision",
    ),
    bin("gevm.subnormal", "gevm", "a subnormal result"),
    bin("gevm.overflow", "gevm", "overflow to inf"),
    bin(
        "gevm.tie",
        "gevm",
        "an exact sum halfway between two BF16 values",
    ),
    bin("recip.zero", "recip", "1/+0"),
    bin("recip.inf", "recip", "1/+inf"),
    bin("recip.overflow", "recip", "1/subnormal overflowing to +inf"),
    bin("recip.pow2", "recip", "1/(power of two), exact"),
    bin("recip.nan", "recip", "1/NaN"),
    bin("recip.subnormal", "recip", "a subnormal reciprocal"),
    bin("out.inf_times_zero", "scale", "inf * 0"),
    bin(
        "out.overflow",
        "scale",
        "finite operands overflowing to inf",
    ),
    bin("out.subnormal", "scale", "a subnormal product"),
    bin(
        "out.underflow_zero",
        "scale",
        "a nonzero product rounding to a signed zero",
    ),
    bin(
        "out.tie",
        "scale",
        "a product halfway between two BF16 values",
    ),
    bin("out.neg_zero", "scale", "a -0 result"),
    bin("op.nan", "ops", "a 0xff scale taking part"),
    bin("op.elem.min", "ops", "an operand element -128"),
    bin("op.dot.max", "ops", "a block dot product of 2^19"),
    bin(
        "op.overflow.bf16",
        "ops",
        "a BF16 output overflowing to inf",
    ),
    bin(
        "op.overflow.fp32",
        "ops",
        "an FP32 output overflowing to inf",
    ),
    bin("op.subnormal.bf16", "ops", "a subnormal BF16 output"),
    bin("op.subnormal.fp32", "ops", "a subnormal FP32 output"),
    bin(
        "op.exact_zero",
        "ops",
        "an exact zero from nonzero products",
    ),
    bin("op.tie.nearest-even", "ops", "a tie, rounding nearest-even"),
    bin("op.tie.nearest-away", "ops", "a tie, rounding nearest-away"),
    bin("op.tie.toward-zero", "ops", "a tie, rounding toward-zero"),
    bin("op.tie.toward-pos", "ops", "a tie, rounding toward-pos"),
    bin("op.tie.toward-neg", "ops", "a tie, rounding toward-neg"),
    bin(
        "mx.mxfp8-e4m3.saturate",
        "mx",
        "an element past the largest normal, saturated to it",
    ),
    bin(
        "mx.mxfp8-e4m3.subnormal",
        "mx",
        "an element quantized to a nonzero subnormal code",
    ),
    bin(
        "mx.mxfp8-e4m3.neg_zero",
        "mx",
        "an element quantized to the -0 code",
    ),
    bin(
        "mx.mxfp8-e5m2.saturate",
        "mx",
        "an element past the largest normal, saturated to it",
    ),
    bin(
        "mx.mxfp8-e5m2.subnormal",
        "mx",
        "an element quantized to a nonzero subnormal code",
    ),
    bin(
        "mx.mxfp8-e5m2.neg_zero",
        "mx",
        "an element quantized to the -0 code",
    ),
    bin(
        "mx.mxfp6-e3m2.saturate",
        "mx",
        "an element past the largest normal, saturated to it",
    ),
    bin(
        "mx.mxfp6-e3m2.subnormal",
        "mx",
        "an element quantized to a nonzero subnormal code",
    ),
    bin(
        "mx.mxfp6-e3m2.neg_zero",
        "mx",
        "an element quantized to the -0 code",
    ),
    bin(
        "mx.mxfp6-e2m3.saturate",
        "mx",
        "an element past the largest normal, saturated to it",
    ),
    bin(
        "mx.mxfp6-e2m3.subnormal",
        "mx",
        "an element quantized to a nonzero subnormal code",
    ),
    bin(
        "mx.mxfp6-e2m3.neg_zero",
        "mx",
        "an element quantized to the -0 code",
    ),
    bin(
        "mx.mxfp4-e2m1.saturate",
        "mx",
        "an element past the largest normal, saturated to it",
    ),
    bin(
        "mx.mxfp4-e2m1.subnormal",
        "mx",
        "an element quantized to a nonzero subnormal code",
    ),
    bin(
        "mx.mxfp4-e2m1.neg_zero",
        "mx",
        "an element quantized to the -0 code",
    ),
    bin(
        "mx.rule.floor.e_clamp",
        "mx",
        "a nonzero block whose floor exponent is below -127 (clamped)",
    ),
    bin(
        "mx.rule.ceil.e_clamp",
        "mx",
        "a nonzero block whose ceil exponent is below -127 (clamped)",
    ),
    bin(
        "mx.rule.even.e_clamp",
        "mx",
        "a nonzero block whose even exponent is below -127 (clamped)",
    ),
    bin(
        "mx.rule.rceil.e_clamp",
        "mx",
        "a nonzero block whose rceil exponent is below -127 (clamped)",
    ),
    bin(
        "mx.op.inf_code",
        "mx-ops",
        "an operand element is an infinity code (e5m2)",
    ),
    bin(
        "mx.op.nan_code",
        "mx-ops",
        "an operand element is a NaN code (e4m3, e5m2)",
    ),
    bin(
        "mx.op.invalid",
        "mx-ops",
        "an output is invalid: inf x 0 or inf - inf",
    ),
    bin(
        "mx.op.mixed_pair",
        "mx-ops",
        "the operands are of two different formats",
    ),
    bin(
        "softmax.exp.mxfp8-e4m3.saturate",
        "mx-softmax",
        "exp's quantizer saturated an element to the largest normal",
    ),
    bin(
        "softmax.exp.mxfp8-e4m3.subnormal",
        "mx-softmax",
        "exp's quantizer gave a nonzero subnormal element",
    ),
    bin(
        "softmax.v.mxfp8-e4m3.subnormal",
        "mx-softmax",
        "a v element is a nonzero subnormal code",
    ),
    bin(
        "softmax.v.mxfp8-e4m3.max_normal",
        "mx-softmax",
        "a v element is the largest normal code of either sign",
    ),
    bin(
        "softmax.exp.mxfp8-e5m2.saturate",
        "mx-softmax",
        "exp's quantizer saturated an element to the largest normal",
    ),
    bin(
        "softmax.exp.mxfp8-e5m2.subnormal",
        "mx-softmax",
        "exp's quantizer gave a nonzero subnormal element",
    ),
    bin(
        "softmax.v.mxfp8-e5m2.subnormal",
        "mx-softmax",
        "a v element is a nonzero subnormal code",
    ),
    bin(
        "softmax.v.mxfp8-e5m2.max_normal",
        "mx-softmax",
        "a v element is the largest normal code of either sign",
    ),
    bin(
        "softmax.exp.mxfp6-e3m2.saturate",
        "mx-softmax",
        "exp's quantizer saturated an element to the largest normal",
    ),
    bin(
        "softmax.exp.mxfp6-e3m2.subnormal",
        "mx-softmax",
        "exp's quantizer gave a nonzero subnormal element",
    ),
    bin(
        "softmax.v.mxfp6-e3m2.subnormal",
        "mx-softmax",
        "a v element is a nonzero subnormal code",
    ),
    bin(
        "softmax.v.mxfp6-e3m2.max_normal",
        "mx-softmax",
        "a v element is the largest normal code of either sign",
    ),
    bin(
        "softmax.exp.mxfp6-e2m3.saturate",
        "mx-softmax",
        "exp's quantizer saturated an element to the largest normal",
    ),
    bin(
        "softmax.exp.mxfp6-e2m3.subnormal",
        "mx-softmax",
        "exp's quantizer gave a nonzero subnormal element",
    ),
    bin(
        "softmax.v.mxfp6-e2m3.subnormal",
        "mx-softmax",
        "a v element is a nonzero subnormal code",
    ),
    bin(
        "softmax.v.mxfp6-e2m3.max_normal",
        "mx-softmax",
        "a v element is the largest normal code of either sign",
    ),
    bin(
        "softmax.exp.mxfp4-e2m1.saturate",
        "mx-softmax",
        "exp's quantizer saturated an element to the largest normal",
    ),
    bin(
        "softmax.exp.mxfp4-e2m1.subnormal",
        "mx-softmax",
        "exp's quantizer gave a nonzero subnormal element",
    ),
    bin(
        "softmax.v.mxfp4-e2m1.subnormal",
        "mx-softmax",
        "a v element is a nonzero subnormal code",
    ),
    bin(
        "softmax.v.mxfp4-e2m1.max_normal",
        "mx-softmax",
        "a v element is the largest normal code of either sign",
    ),
];

/// Defaults for folders whose manifest does not say.
#[derive(Clone, Copy, Debug)]
pub struct CoverOptions {
    pub hints: Hints,
    pub element_rounding: RoundingMode,
    pub rounding: RoundingMode,
}

/// The first result that hit a bin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FirstHit {
    pub case: String,
    pub file: String,
    /// Index of the word in the file (0-based); `line` is it plus one in a canonical dump.
    pub index: usize,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BinReport {
    pub id: &'static str,
    pub stage: &'static str,
    pub what: &'static str,
    pub hits: u64,
    pub first: Option<FirstHit>,
}

/// A case folder and the files of its kind it lacks (covered for the stages it has).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Absent {
    pub case: String,
    pub files: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    pub cases: usize,
    pub hit: usize,
    pub total: usize,
    pub bins: Vec<BinReport>,
    pub absent: Vec<Absent>,
}

/// One case's hits: per bin the count and the first result.
struct Hits<'a> {
    layout: &'a Layout,
    case: &'a str,
    bins: HashMap<&'static str, (u64, FirstHit)>,
}

impl Hits<'_> {
    fn hit(&mut self, id: &'static str, file: &str, index: usize) {
        debug_assert!(BINS.iter().any(|b| b.id == id), "unknown bin {id}");
        let e = self.bins.entry(id).or_insert_with(|| {
            let at = self
                .layout
                .files
                .iter()
                .find(|f| f.name == file)
                .map(|f| location(f, index))
                .unwrap_or_default();
            (
                0,
                FirstHit {
                    case: self.case.to_string(),
                    file: file.to_string(),
                    index,
                    at,
                },
            )
        });
        e.0 += 1;
    }
}

/// `head 3, kv 5`: the line's coordinates without the axes of length one by construction.
fn location(spec: &FileSpec, index: usize) -> String {
    spec.coords(index)
        .into_iter()
        .filter(|(n, _)| !matches!(*n, "batch" | "q" | "sum"))
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Measure coverage over every case folder under each root (recursively), in parallel; the
/// first hit of a bin is the first in the order of the roots and then of the sorted case paths.
pub fn cover(roots: &[PathBuf], o: &CoverOptions) -> Result<Coverage, DumpError> {
    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    for root in roots {
        if !root.is_dir() {
            return Err(DumpError::new(root, 0, "not a folder"));
        }
        for rel in find_cases(root)? {
            let name = root.join(&rel).display().to_string();
            cases.push((name, root.join(rel)));
        }
    }
    // A regression of hundreds of large cases takes a while: show progress on a terminal.
    let pb = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && cases.len() > 1 {
        let pb = indicatif::ProgressBar::new(cases.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "cover [{elapsed_precise}] {bar:40} {pos}/{len} cases",
            )
            .expect("valid template"),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let per_case: Vec<CaseResult> = cases
        .par_iter()
        .map(|(name, dir)| {
            let r = cover_case(dir, name, o);
            pb.inc(1);
            r
        })
        .collect::<Result<_, _>>()?;
    pb.finish_and_clear();
    let mut bins: Vec<BinReport> = BINS
        .iter()
        .map(|b| BinReport {
            id: b.id,
            stage: b.stage,
            what: b.what,
            hits: 0,
            first: None,
        })
        .collect();
    let mut absent = Vec::new();
    for ((name, _), (hits, missing)) in cases.iter().zip(per_case) {
        for b in &mut bins {
            if let Some((n, first)) = hits.get(b.id) {
                b.hits += n;
                b.first.get_or_insert_with(|| first.clone());
            }
        }
        if !missing.is_empty() {
            absent.push(Absent {
                case: name.clone(),
                files: missing,
            });
        }
    }
    Ok(Coverage {
        cases: cases.len(),
        hit: bins.iter().filter(|b| b.hits > 0).count(),
        total: bins.len(),
        bins,
        absent,
    })
}

type CaseResult = (HashMap<&'static str, (u64, FirstHit)>, Vec<String>);

fn cover_case(dir: &Path, name: &str, o: &CoverOptions) -> Result<CaseResult, DumpError> {
    let Some(layout) = layout::detect(dir, o.hints)? else {
        return Ok((HashMap::new(), vec![]));
    };
    let mpath = dir.join(FILE_NAME);
    let manifest = if mpath.exists() {
        Some(Manifest::read(&mpath)?)
    } else {
        None
    };
    let mode = |key: &str, default: RoundingMode| -> Result<RoundingMode, DumpError> {
        match manifest.as_ref().and_then(|m| m.params.get(key)?.as_str()) {
            Some(s) => s
                .parse()
                .map_err(|e: String| DumpError::new(&mpath, 0, format!("params.{key}: {e}"))),
            None => Ok(default),
        }
    };
    let files = Files {
        dir,
        layout: &layout,
    };
    let absent: Vec<String> = layout
        .files
        .iter()
        .filter(|f| !dir.join(&f.name).is_file())
        .map(|f| f.name.clone())
        .collect();
    let mut hits = Hits {
        layout: &layout,
        case: name,
        bins: HashMap::new(),
    };
    // The other MX formats and rules have bins of their own (docs/coverage.md, "MX formats").
    if layout.op == "softmax_v" {
        let formats = match &manifest {
            Some(m) => crate::softmax::Formats::from_params(&m.params)
                .map_err(|e| DumpError::new(&mpath, 0, e))?,
            None => crate::softmax::Formats::default(),
        };
        if !formats.is_mxint8() {
            let rounding = mode("element_rounding", formats.exp.default_rounding)?;
            cover_mx_softmax(&files, &formats, rounding, &mut hits)?;
            return Ok((hits.bins, absent));
        }
    }
    let choice = crate::check::mx_choice(manifest.as_ref(), &mpath)?;
    if !choice.is_mxint8() {
        match layout.op.as_str() {
            "quantize" => {
                let x = files.bf16(&layout.files[0].name)?.unwrap_or_default();
                let format = choice.formats[0];
                let m = mode("element_rounding", format.default_rounding)?;
                for (id, i) in mx_quantize_hits(&x, format, choice.rule, m) {
                    hits.hit(id, &layout.files[1].name, i);
                }
            }
            op => {
                use crate::ops::OpKind;
                let op = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
                    .into_iter()
                    .find(|k| k.name() == op)
                    .ok_or_else(|| DumpError::new(&mpath, 0, format!("no MX bins for {op}")))?;
                let dims = crate::check::dims_of(&layout, op);
                let case = crate::mx_op::MxOpCase::read(op, dims, choice, dir)?;
                let out = match layout.files[2].dtype {
                    Dtype::Fp32 => crate::ops::OutDtype::Fp32,
                    _ => crate::ops::OutDtype::Bf16,
                };
                let rounding = mode("rounding", o.rounding)?;
                for (id, file, i) in mx_op_hits(&case, out, rounding) {
                    hits.hit(id, &file, i);
                }
            }
        }
        return Ok((hits.bins, absent));
    }
    match layout.op.as_str() {
        "softmax_v" => cover_softmax(
            &SoftmaxDumps::read(&files)?,
            mode("element_rounding", o.element_rounding)?,
            &mut hits,
        ),
        "quantize" => {
            let (input, output) = (&layout.files[0], &layout.files[1]);
            if let (Some(x), true) = (files.bf16(&input.name)?, files.has(&output.name)) {
                let values: Vec<Fp32> = x.iter().map(|v| v.to_fp32()).collect();
                let m = mode("element_rounding", o.element_rounding)?;
                quantizer_row(&values, 0, m, &output.name, &mut hits);
            }
        }
        "rope" => {}
        _ => cover_op(&files, mode("rounding", o.rounding)?, &mut hits)?,
    }
    Ok((hits.bins, absent))
}

/// The dumps of a case folder that exist, read with their layout's shapes.
struct Files<'a> {
    dir: &'a Path,
    layout: &'a Layout,
}

impl Files<'_> {
    fn spec(&self, name: &str) -> &FileSpec {
        self.layout
            .files
            .iter()
            .find(|f| f.name == name)
            .expect("layout file")
    }
    fn has(&self, name: &str) -> bool {
        self.dir.join(name).is_file()
    }
    fn bf16(&self, name: &str) -> Result<Option<Vec<Bf16>>, DumpError> {
        let s = self.spec(name);
        self.has(name)
            .then(|| read_bf16(&self.dir.join(name), Some(s.lines())))
            .transpose()
    }
    fn fp32(&self, name: &str) -> Result<Option<Vec<Fp32>>, DumpError> {
        let s = self.spec(name);
        self.has(name)
            .then(|| read_fp32(&self.dir.join(name), Some(s.lines())))
            .transpose()
    }
    /// An MXINT8 dump; `None` when absent or of another MX format (softmax_v's MXINT8 bins
    /// do not apply to it).
    fn mx(&self, name: &str) -> Result<Option<MxTensor>, DumpError> {
        let s = self.spec(name);
        (self.has(name) && s.dtype == Dtype::MxInt8)
            .then(|| {
                read_mx_tensor(
                    &self.dir.join(name),
                    s.shape.clone(),
                    s.block_axis.expect("mxint8"),
                )
            })
            .transpose()
    }
}

/// The dumps of a softmax_v case that are present.
pub struct SoftmaxDumps {
    pub heads: usize,
    pub kv: usize,
    pub head_dim: usize,
    pub qk: Option<Vec<Bf16>>,
    pub exp: Option<Vec<Bf16>>,
    pub sums: Option<Vec<Bf16>>,
    pub v: Option<MxTensor>,
    pub mx: Option<MxTensor>,
    pub scaled: Option<Vec<Bf16>>,
    pub inv: Option<Vec<Bf16>>,
    pub out: Option<Vec<Bf16>>,
}

impl SoftmaxDumps {
    fn read(f: &Files) -> Result<SoftmaxDumps, DumpError> {
        let shape = &f.spec(QK_T).shape;
        Ok(SoftmaxDumps {
            heads: shape[1],
            kv: shape[3],
            head_dim: f.spec(SCALED_V).shape[3],
            qk: f.bf16(QK_T)?,
            exp: f.bf16(EXP)?,
            sums: f.bf16(EXP_SUM)?,
            v: f.mx(V)?,
            mx: f.mx(&f.layout.files[4].name)?,
            scaled: f.bf16(SCALED_V)?,
            inv: f.bf16(INV)?,
            out: f.bf16(OUT)?,
        })
    }

    /// Every dump of computed stages (the directed suite checks its scenarios with this).
    pub fn of(st: &crate::softmax::Stages) -> SoftmaxDumps {
        SoftmaxDumps {
            heads: st.inputs.qk_t.shape[1],
            kv: st.inputs.kv_size(),
            head_dim: st.inputs.v.shape()[3],
            qk: Some(st.inputs.qk_t.data.clone()),
            exp: Some(st.exp.data.clone()),
            sums: Some(st.exp_sum.data.clone()),
            v: st.inputs.v.int8().cloned(),
            mx: st.exp_mx.int8().cloned(),
            scaled: Some(st.scaled_v.data.clone()),
            inv: Some(st.inv.data.clone()),
            out: Some(st.out.data.clone()),
        }
    }
}

/// The bins a computed softmax_v case hits.
pub fn softmax_bins(
    st: &crate::softmax::Stages,
    element_rounding: RoundingMode,
) -> Vec<&'static str> {
    let d = SoftmaxDumps::of(st);
    let formats = crate::softmax::Formats {
        exp: st.exp_mx.format(),
        v: st.inputs.v.format(),
        ..Default::default()
    };
    let layout = layout::softmax_layout(d.heads, d.kv, d.head_dim, &formats);
    let mut h = Hits {
        layout: &layout,
        case: "",
        bins: HashMap::new(),
    };
    cover_softmax(&d, element_rounding, &mut h);
    sorted(h)
}

/// The bins a computed quantize case hits.
pub fn quantize_bins(input: &[Bf16], element_rounding: RoundingMode) -> Vec<&'static str> {
    let layout = layout::quantize_layout(input.len());
    let mut h = Hits {
        layout: &layout,
        case: "",
        bins: HashMap::new(),
    };
    let values: Vec<Fp32> = input.iter().map(|v| v.to_fp32()).collect();
    quantizer_row(
        &values,
        0,
        element_rounding,
        crate::quantize_op::OUTPUT,
        &mut h,
    );
    sorted(h)
}

/// The bins a computed dot/gevm/gemm case hits.
pub fn op_bins(
    case: &crate::ops::OpCase,
    out_dtype: crate::ops::OutDtype,
    mode: RoundingMode,
) -> Vec<&'static str> {
    let dtype = match out_dtype {
        crate::ops::OutDtype::Bf16 => Dtype::Bf16,
        crate::ops::OutDtype::Fp32 => Dtype::Fp32,
    };
    let layout = layout::op_layout(case.op, case.dims, dtype);
    let mut h = Hits {
        layout: &layout,
        case: "",
        bins: HashMap::new(),
    };
    op_hits(
        &layout,
        [&case.operands[0], &case.operands[1]],
        true,
        mode,
        &mut h,
    );
    sorted(h)
}

/// The id of an MX bin (`mx.<format>.<what>` or `mx.rule.<rule>.e_clamp`).
fn mx_bin(name: &str) -> &'static str {
    BINS.iter()
        .find(|b| b.id == name)
        .unwrap_or_else(|| panic!("no bin {name}"))
        .id
}

/// The MX quantizer bins a vector reaches, each with the first block (line) that does.
pub fn mx_quantize_hits(
    input: &[Bf16],
    format: hw_types::MxFormat,
    rule: hw_types::ScaleRule,
    mode: RoundingMode,
) -> Vec<(&'static str, usize)> {
    let mut out = Vec::new();
    let values: Vec<Fp32> = input.iter().map(|v| v.to_fp32()).collect();
    for (g, block) in values.chunks(BLOCK).enumerate() {
        let r = format.quantize(block, rule, mode);
        let amax = block.iter().map(|v| v.0 & 0x7fff_ffff).max().unwrap_or(0);
        if let Value::Finite(d) = hw_types::float::decode(&hw_types::FP32_SPEC, amax) {
            if amax < 0x7f80_0000 && format.rule_exponent(&d, rule) < hw_types::E8m0::MIN_EXP {
                out.push((mx_bin(&format!("mx.rule.{}.e_clamp", rule.name())), g));
            }
        }
        if format.name == "mxint8" || r.value.scale.is_nan() {
            continue;
        }
        if r.status.contains(hw_types::Status::OVERFLOW) {
            out.push((mx_bin(&format!("mx.{}.saturate", format.name)), g));
        }
        let sign = 1u8 << (format.width - 1);
        let codes = &r.value.codes[..block.len()];
        if codes.contains(&sign) {
            out.push((mx_bin(&format!("mx.{}.neg_zero", format.name)), g));
        }
        let exp_field = |c: u8| (c & (sign - 1)) >> format.mbits;
        if codes
            .iter()
            .any(|&c| c & (sign - 1) != 0 && exp_field(c) == 0)
        {
            out.push((mx_bin(&format!("mx.{}.subnormal", format.name)), g));
        }
    }
    out
}

/// softmax_v with other block formats (docs/numerics.md §3.7): exp's quantizer reaches the MX
/// quantizer bins of its format, and each head's gevm is an MX gevm of exp's blocks by v's, so
/// it reaches the MX product bins.
fn cover_mx_softmax(
    files: &Files,
    f: &crate::softmax::Formats,
    rounding: RoundingMode,
    h: &mut Hits,
) -> Result<(), DumpError> {
    let [qk, v, exp, _, exp_mx, scaled, ..] = &files.layout.files[..] else {
        unreachable!("the softmax_v layout has eight files");
    };
    let read = |spec: &FileSpec, format| -> Result<Option<crate::tensor::MxCodes>, DumpError> {
        let path = files.dir.join(&spec.name);
        let axis = spec.block_axis.expect("blocked");
        files
            .has(&spec.name)
            .then(|| crate::dump::read_mx_codes(&path, format, spec.shape.clone(), axis))
            .transpose()
    };
    let data = MxSoftmaxData {
        formats: *f,
        rounding,
        dims: (qk.shape[1], qk.shape[3], scaled.shape[3]),
        exp: files.bf16(&exp.name)?,
        exp_mx: read(exp_mx, f.exp)?,
        v: read(v, f.v)?,
    };
    for (id, stage, i) in mx_softmax_hits(&data) {
        let name = match stage {
            MxStage::ExpMx => &exp_mx.name,
            MxStage::V => &v.name,
            MxStage::ScaledV => &scaled.name,
        };
        h.hit(id, name, i);
    }
    Ok(())
}

/// What softmax_v bins of other block formats are read from (docs/numerics.md §3.7).
pub struct MxSoftmaxData {
    pub formats: crate::softmax::Formats,
    pub rounding: RoundingMode,
    /// (heads, kv, head_dim).
    pub dims: (usize, usize, usize),
    pub exp: Option<Vec<Bf16>>,
    pub exp_mx: Option<crate::tensor::MxCodes>,
    pub v: Option<crate::tensor::MxCodes>,
}

impl MxSoftmaxData {
    /// The data of a computed case (other formats than the dataset's).
    pub fn of(
        st: &crate::softmax::Stages,
        formats: &crate::softmax::Formats,
        rounding: RoundingMode,
    ) -> Self {
        let codes = |d: &crate::tensor::MxData| match d {
            crate::tensor::MxData::Codes(c) => Some(c.clone()),
            crate::tensor::MxData::Int8(_) => None,
        };
        MxSoftmaxData {
            formats: *formats,
            rounding,
            dims: (
                st.inputs.qk_t.shape[1],
                st.inputs.kv_size(),
                st.inputs.v.shape()[3],
            ),
            exp: Some(st.exp.data.clone()),
            exp_mx: codes(&st.exp_mx),
            v: codes(&st.inputs.v),
        }
    }
}

/// The stage file a softmax_v MX bin is hit in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MxStage {
    ExpMx,
    V,
    ScaledV,
}

/// The bins of softmax_v with other block formats: exp's quantizer reaches the MX quantizer
/// bins of its format (and their softmax names), v's codes their own, and each head's gevm is
/// an MX gevm of exp's blocks by v's, so it reaches the MX product bins. Each with its stage and
/// line.
pub fn mx_softmax_hits(s: &MxSoftmaxData) -> Vec<(&'static str, MxStage, usize)> {
    let f = &s.formats;
    let (heads, kv, d) = s.dims;
    let nb = kv.div_ceil(BLOCK);
    let mut hits = Vec::new();
    for (head, row) in s.exp.iter().flat_map(|e| e.chunks(kv)).enumerate() {
        for (id, g) in mx_quantize_hits(row, f.exp, f.rule, s.rounding) {
            hits.push((id, MxStage::ExpMx, head * nb + g));
            // The quantizer's element bins, seen in softmax_v's exp stage.
            let element = id.strip_prefix("mx.").filter(|e| e.starts_with(f.exp.name));
            if let Some(e) = element.filter(|e| !e.ends_with("neg_zero")) {
                let id = mx_bin(&format!("softmax.exp.{e}"));
                hits.push((id, MxStage::ExpMx, head * nb + g));
            }
        }
    }
    let (Some(v_codes), Some(exp_codes)) = (&s.v, &s.exp_mx) else {
        return hits;
    };
    for (g, id) in v_element_hits(v_codes) {
        hits.push((id, MxStage::V, g));
    }
    let choice = crate::mx_op::MxChoice {
        formats: [f.exp, f.v],
        rule: f.rule,
        element_rounding: Some(s.rounding),
    };
    let dims = crate::ops::Dims { m: kv, k: d, n: 1 };
    for head in 0..heads {
        let part =
            |t: &crate::tensor::MxCodes, shape: Vec<usize>, per: usize| crate::tensor::MxCodes {
                format: t.format,
                shape,
                block_axis: 0,
                blocks: t.blocks[head * per..(head + 1) * per].to_vec(),
            };
        let case = crate::mx_op::MxOpCase {
            op: crate::ops::OpKind::Gevm,
            dims,
            choice,
            operands: [
                part(exp_codes, vec![kv], nb),
                part(v_codes, vec![kv, d], nb * d),
            ],
        };
        let out = crate::ops::OutDtype::Bf16;
        for (id, file, i) in mx_op_hits(&case, out, RoundingMode::NearestEven) {
            hits.push(match file {
                _ if file.ends_with("vector") => (id, MxStage::ExpMx, head * nb + i),
                _ if file.ends_with("matrix") => (id, MxStage::V, head * nb * d + i),
                _ => (id, MxStage::ScaledV, head * d + i),
            });
        }
    }
    hits
}

/// The softmax_v bins of v's element codes (FP formats): each with the first block.
fn v_element_hits(v: &crate::tensor::MxCodes) -> Vec<(usize, &'static str)> {
    let hw_types::mx::Element::Float(spec) = v.format.element else {
        return Vec::new();
    };
    let sign = 1u8 << (v.format.width - 1);
    let max = spec.max_finite(false) as u8;
    let mut hits = Vec::new();
    let mut seen = |g: usize, what: &str| {
        let id = mx_bin(&format!("softmax.v.{}.{what}", v.format.name));
        if !hits.iter().any(|&(_, h)| h == id) {
            hits.push((g, id));
        }
    };
    for (g, b) in v
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.scale.is_nan())
    {
        for &c in &b.codes {
            let magnitude = c & (sign - 1);
            if magnitude != 0 && magnitude >> v.format.mbits == 0 {
                seen(g, "subnormal");
            }
            if magnitude == max {
                seen(g, "max_normal");
            }
        }
    }
    hits
}

/// The MX operation bins a case reaches: (bin, file, line index).
pub fn mx_op_hits(
    case: &crate::mx_op::MxOpCase,
    out: crate::ops::OutDtype,
    mode: RoundingMode,
) -> Vec<(&'static str, String, usize)> {
    let mut hits = Vec::new();
    let names = case.op.operand_names();
    for (t, name) in case.operands.iter().zip(names) {
        let file = case.op.file(name);
        for (g, b) in t.blocks.iter().enumerate() {
            for &c in &b.codes {
                match t.format.decode(c) {
                    Value::Inf { .. } => hits.push((mx_bin("mx.op.inf_code"), file.clone(), g)),
                    Value::NaN => hits.push((mx_bin("mx.op.nan_code"), file.clone(), g)),
                    _ => {}
                }
            }
        }
    }
    let output = case.compute(out, mode);
    if let Some(i) = output
        .flags
        .iter()
        .position(|f| f.contains(hw_types::Status::INVALID))
    {
        hits.push((mx_bin("mx.op.invalid"), case.op.file("output"), i));
    }
    if case.choice.formats[0] != case.choice.formats[1] {
        hits.push((mx_bin("mx.op.mixed_pair"), case.op.file(names[0]), 0));
    }
    hits
}

fn sorted(h: Hits) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = h.bins.into_keys().collect();
    v.sort_unstable();
    v
}

fn cover_softmax(s: &SoftmaxDumps, element_rounding: RoundingMode, h: &mut Hits) {
    let (heads, kv, d) = (s.heads, s.kv, s.head_dim);
    let nb = kv.div_ceil(BLOCK);
    if let Some(qk) = &s.qk {
        for (i, x) in qk.iter().enumerate() {
            h.hit(qk_bin(*x), QK_T, i);
        }
    }
    if let Some(exp) = &s.exp {
        for (i, x) in exp.iter().enumerate() {
            if let Some(b) = class_bin(
                *x,
                [
                    "exp.normal",
                    "exp.subnormal",
                    "exp.zero",
                    "exp.inf",
                    "exp.nan",
                ],
            ) {
                h.hit(b, EXP, i);
            }
        }
        if s.sums.is_some() {
            for (head, row) in exp.chunks(kv).enumerate() {
                for b in sum_bins(row) {
                    h.hit(b, EXP_SUM, head);
                }
            }
        }
        if s.mx.is_some() {
            for (head, row) in exp.chunks(kv).enumerate() {
                let values: Vec<Fp32> = row.iter().map(|x| x.to_fp32()).collect();
                quantizer_row(&values, head * nb, element_rounding, EXP_MX, h);
            }
        }
    }
    if let Some(v) = &s.v {
        for (i, blk) in v.blocks.iter().enumerate() {
            for b in v_bins(blk) {
                h.hit(b, V, i);
            }
        }
    }
    if let (Some(mx), Some(v), true) = (&s.mx, &s.v, s.scaled.is_some()) {
        for head in 0..heads {
            let row = &mx.blocks[head * nb..(head + 1) * nb];
            for c in 0..d {
                let col = (0..nb).map(|b| &v.blocks[(head * nb + b) * d + c]);
                let sum = BlockSum::of(row.iter().zip(col));
                for b in sum.bins(&BF16_SPEC, RoundingMode::NearestEven) {
                    let id = match b {
                        SumBin::Nan => "gevm.nan",
                        SumBin::ExactZero => "gevm.exact_zero",
                        SumBin::CancelTiny => "gevm.cancel_tiny",
                        SumBin::Subnormal => "gevm.subnormal",
                        SumBin::Overflow => "gevm.overflow",
                        SumBin::Tie => "gevm.tie",
                        SumBin::DotMax => continue,
                    };
                    h.hit(id, SCALED_V, head * d + c);
                }
            }
        }
    }
    if let (Some(sums), true) = (&s.sums, s.inv.is_some()) {
        for (i, x) in sums.iter().enumerate() {
            for b in recip_bins(*x) {
                h.hit(b, INV, i);
            }
        }
    }
    if let (Some(sv), Some(inv), true) = (&s.scaled, &s.inv, s.out.is_some()) {
        for (i, x) in sv.iter().enumerate() {
            for b in product_bins(*x, inv[i / d]) {
                h.hit(b, OUT, i);
            }
        }
    }
}

/// The class of a BF16 value, as one of five bins (normal, subnormal, +-0, inf, NaN); `None`
/// for a class whose name is empty (one the caller has ruled out).
fn class_bin(x: Bf16, names: [&'static str; 5]) -> Option<&'static str> {
    let name = match x.value() {
        Value::NaN => names[4],
        Value::Inf { .. } => names[3],
        Value::Zero { .. } => names[2],
        Value::Finite(_) if x.0 & 0x7f80 == 0 => names[1],
        Value::Finite(_) => names[0],
    };
    (!name.is_empty()).then_some(name)
}

fn qk_bin(x: Bf16) -> &'static str {
    match x.0 {
        0x0000 => "qk.zero.pos",
        0x8000 => "qk.zero.neg",
        0x42b1 => "qk.overflow.last_finite",
        0x42b2 => "qk.overflow.first_inf",
        0xc2b9 => "qk.underflow.last_subnormal",
        0xc2ba => "qk.underflow.first_zero",
        0x7f80 => "qk.inf.pos",
        0xff80 => "qk.inf.neg",
        b if b & 0x7f80 == 0x7f80 => "qk.nan",
        b if b & 0x7f80 == 0 => "qk.subnormal",
        // Positive finite patterns order like their values, so do negative ones by magnitude.
        b if b < 0x8000 && b > 0x42b2 => "qk.overflow.beyond",
        b if b > 0xc2ba => "qk.underflow.beyond",
        _ => "qk.normal",
    }
}

/// The reduce-sum bins of one row of exp values (the exact sum, reference rule).
fn sum_bins(row: &[Bf16]) -> Vec<&'static str> {
    let mut acc = ExactAcc::new();
    for x in row {
        acc.add_value(x.value());
    }
    let nan = row.iter().any(|x| x.is_nan());
    let inf = row.iter().any(|x| x.0 == 0x7f80);
    let v = acc.value().value;
    let r = Bf16::round(v, RoundingMode::NearestEven);
    let mut bins = Vec::new();
    if nan {
        bins.push("sum.nan");
    } else if inf {
        bins.push("sum.inf.addend");
    } else if r.status.overflow() {
        bins.push("sum.inf.overflow");
    } else {
        bins.extend(class_bin(
            r.value,
            ["sum.normal", "sum.subnormal", "sum.zero", "", ""],
        ));
    }
    if is_tie(&v, &BF16_SPEC) {
        bins.push("sum.tie");
    }
    bins
}

/// The quantizer bins of one row of exact inputs, cut into blocks of 32 (block `b` of the row is
/// line `first + b` of `file`).
fn quantizer_row(values: &[Fp32], first: usize, mode: RoundingMode, file: &str, h: &mut Hits) {
    for (b, block) in values.chunks(BLOCK).enumerate() {
        for id in quantizer_bins(block, mode) {
            h.hit(id, file, first + b);
        }
    }
}

/// docs/numerics.md §4 on one block of exact inputs: which corners it reaches.
fn quantizer_bins(block: &[Fp32], mode: RoundingMode) -> Vec<&'static str> {
    let mut bins = Vec::new();
    if block.len() < BLOCK {
        bins.push("quant.partial_block");
    }
    if block.iter().any(|x| x.0 & 0x7f80_0000 == 0x7f80_0000) {
        bins.push("quant.nan_block");
        return bins;
    }
    let amax = block.iter().map(|x| x.0 & 0x7fff_ffff).max().unwrap_or(0);
    if amax == 0 {
        bins.push("quant.zero_block");
        return bins;
    }
    let top = match decode(Fp32(amax)) {
        Some((_, sig, q)) => q + 63 - sig.leading_zeros() as i32,
        None => unreachable!("amax is finite and nonzero"),
    };
    if top < -127 {
        bins.push("quant.e_clamp");
    }
    let e = top.clamp(-127, 127);
    match e {
        -127 => bins.push("quant.scale.min"),
        127 => bins.push("quant.scale.max"),
        _ => {}
    }
    for x in block {
        let Some((neg, sig, q)) = decode(*x) else {
            continue;
        };
        // |x| * 2^(6 - e) = sig * 2^s: a tie when exactly half of the lowest kept unit remains.
        let s = q + 6 - e;
        if s < 0 && s > -64 && sig & ((1u64 << -s) - 1) == 1u64 << (-s - 1) {
            bins.push(match (neg, mode) {
                (false, RoundingMode::NearestEven) => "quant.tie.pos.nearest-even",
                (true, RoundingMode::NearestEven) => "quant.tie.neg.nearest-even",
                (false, _) => "quant.tie.pos.nearest-away",
                (true, _) => "quant.tie.neg.nearest-away",
            });
        }
        // Both nearest modes round a value of 127.5 steps or more (below 128) to 128.
        let at_least_127_5 = if s >= 0 {
            (sig << s.min(40)) * 2 >= 255
        } else {
            s > -64 && (sig as u128) * 2 >= 255u128 << -s
        };
        if at_least_127_5 {
            bins.push(if neg {
                "quant.clamp.neg"
            } else {
                "quant.clamp.pos"
            });
        }
    }
    // A block is one result: each bin counts it once.
    let mut seen = std::collections::HashSet::new();
    bins.retain(|b| seen.insert(*b));
    bins
}

/// `(neg, sig, q)` with `|x| = sig * 2^q` for a finite nonzero FP32 value, else `None`.
fn decode(x: Fp32) -> Option<(bool, u64, i32)> {
    match x.value() {
        Value::Finite(d) => Some((d.neg, d.sig as u64, d.exp)),
        _ => None,
    }
}

fn v_bins(b: &MxInt8Block) -> Vec<&'static str> {
    let mut bins = Vec::new();
    match b.scale.0 {
        0xff => bins.push("v.scale.nan"),
        0x00 => bins.push("v.scale.min"),
        0xfe => bins.push("v.scale.max"),
        _ => {}
    }
    if b.elems.contains(&-128) {
        bins.push("v.elem.min");
    }
    if b.elems.iter().all(|&e| e == 0) {
        bins.push("v.zero_block");
    }
    bins
}

fn recip_bins(x: Bf16) -> Vec<&'static str> {
    let mut bins = Vec::new();
    match x.value() {
        Value::NaN => bins.push("recip.nan"),
        Value::Zero { .. } => bins.push("recip.zero"),
        Value::Inf { .. } => bins.push("recip.inf"),
        Value::Finite(d) => {
            if d.sig.is_power_of_two() {
                bins.push("recip.pow2");
            }
            let r = recip::<Bf16, Bf16>(x, RoundingMode::NearestEven);
            if r.status.overflow() {
                bins.push("recip.overflow");
            }
            if r.value.is_finite() && r.value.0 & 0x7f80 == 0 && r.value.0 & 0x7f != 0 {
                bins.push("recip.subnormal");
            }
        }
    }
    bins
}

/// The scale-stage bins of one product `scaled_v * inv`.
pub(crate) fn product_bins(a: Bf16, b: Bf16) -> Vec<&'static str> {
    let mut bins = Vec::new();
    let (va, vb) = (a.value(), b.value());
    let inf_zero =
        |x: &Value, y: &Value| matches!(x, Value::Inf { .. }) && matches!(y, Value::Zero { .. });
    if inf_zero(&va, &vb) || inf_zero(&vb, &va) {
        bins.push("out.inf_times_zero");
    }
    let r = mul::<Bf16, Bf16, Bf16>(a, b, RoundingMode::NearestEven);
    if r.value.0 == 0x8000 {
        bins.push("out.neg_zero");
    }
    if let (Value::Finite(x), Value::Finite(y)) = (va, vb) {
        let exact = Value::Finite(hw_types::Dyadic::exact(
            x.neg ^ y.neg,
            x.sig * y.sig,
            x.exp + y.exp,
        ));
        if r.status.overflow() {
            bins.push("out.overflow");
        }
        if r.value.0 & 0x7fff == 0 {
            bins.push("out.underflow_zero");
        } else if r.value.0 & 0x7f80 == 0 {
            bins.push("out.subnormal");
        }
        if is_tie(&exact, &BF16_SPEC) {
            bins.push("out.tie");
        }
    }
    bins
}

/// Whether an exact value lies exactly halfway between two neighbours of `spec` (subnormal
/// spacing below `2^emin`, as docs/numerics.md §2 rounds).
fn is_tie(v: &Value, spec: &FormatSpec) -> bool {
    let Value::Finite(d) = v else {
        return false;
    };
    if d.sticky || d.sig == 0 {
        return false;
    }
    let lsb = d.top_exp().max(spec.emin) - (spec.precision as i32 - 1);
    let shift = lsb - d.exp;
    if shift <= 0 {
        return false;
    }
    if shift > 128 {
        return false;
    }
    let low = if shift == 128 {
        d.sig
    } else {
        d.sig & ((1u128 << shift) - 1)
    };
    low == 1u128 << (shift - 1)
}

/// The corners a sum of MXINT8 block products can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SumBin {
    Nan,
    ExactZero,
    CancelTiny,
    Subnormal,
    Overflow,
    Tie,
    DotMax,
}

/// An exact sum of block products and what its terms looked like.
struct BlockSum {
    acc: ExactAcc,
    nan: bool,
    nonzero_terms: bool,
    pos: bool,
    neg: bool,
    /// Exponent of the leading bit of the largest term.
    max_top: Option<i32>,
    dot_max: bool,
}

impl BlockSum {
    fn of<'a>(pairs: impl Iterator<Item = (&'a MxInt8Block, &'a MxInt8Block)>) -> BlockSum {
        let mut s = BlockSum {
            acc: ExactAcc::new(),
            nan: false,
            nonzero_terms: false,
            pos: false,
            neg: false,
            max_top: None,
            dot_max: false,
        };
        for (a, b) in pairs {
            match (a.scale.exponent(), b.scale.exponent()) {
                (Some(ea), Some(eb)) => {
                    let dot = int_dot(&a.elems, &b.elems);
                    let exp = ea + eb - 12;
                    s.dot_max |= dot == 1 << 19;
                    if dot != 0 {
                        s.nonzero_terms = true;
                        s.pos |= dot > 0;
                        s.neg |= dot < 0;
                        let top = exp + 31 - dot.unsigned_abs().leading_zeros() as i32;
                        s.max_top = Some(s.max_top.map_or(top, |m| m.max(top)));
                    }
                    s.acc.add_int(dot as i64, exp);
                }
                _ => {
                    s.nan = true;
                    s.acc.add_nan();
                }
            }
        }
        s
    }

    fn bins(&self, spec: &FormatSpec, mode: RoundingMode) -> Vec<SumBin> {
        let mut bins = Vec::new();
        if self.dot_max {
            bins.push(SumBin::DotMax);
        }
        if self.nan {
            bins.push(SumBin::Nan);
            return bins;
        }
        let v = self.acc.value().value;
        match v {
            Value::Zero { .. } if self.nonzero_terms => bins.push(SumBin::ExactZero),
            Value::Finite(d) => {
                let top = d.top_exp();
                if self.pos && self.neg && self.max_top.is_some_and(|m| top < m - 8) {
                    bins.push(SumBin::CancelTiny);
                }
                let r = hw_types::float::round_pack(spec, v, mode);
                if r.status.overflow() && r.value & 0x7fff_ffff == spec.infinity(false) {
                    bins.push(SumBin::Overflow);
                }
                let exp_field = (r.value >> (spec.precision - 1)) & ((1 << spec.exp_bits) - 1);
                if exp_field == 0 && r.value & ((1 << (spec.precision - 1)) - 1) != 0 {
                    bins.push(SumBin::Subnormal);
                }
                if is_tie(&v, spec) {
                    bins.push(SumBin::Tie);
                }
            }
            _ => {}
        }
        bins
    }
}

fn cover_op(f: &Files, mode: RoundingMode, h: &mut Hits) -> Result<(), DumpError> {
    let [sa, sb, so] = [&f.layout.files[0], &f.layout.files[1], &f.layout.files[2]];
    let (Some(a), Some(b)) = (f.mx(&sa.name)?, f.mx(&sb.name)?) else {
        return Ok(());
    };
    // A malformed output is an error, not a silent gap.
    match so.dtype {
        Dtype::Fp32 => f.fp32(&so.name).map(|_| ())?,
        _ => f.bf16(&so.name).map(|_| ())?,
    }
    op_hits(f.layout, [&a, &b], f.has(&so.name), mode, h);
    Ok(())
}

/// The bins of an op's operands, and of its output when present.
fn op_hits(
    layout: &Layout,
    [a, b]: [&MxTensor; 2],
    with_output: bool,
    mode: RoundingMode,
    h: &mut Hits,
) {
    let [sa, sb, so] = [&layout.files[0], &layout.files[1], &layout.files[2]];
    for (spec, t) in [(sa, a), (sb, b)] {
        for (i, blk) in t.blocks.iter().enumerate() {
            if blk.elems.contains(&-128) {
                h.hit("op.elem.min", &spec.name, i);
            }
        }
    }
    if !with_output {
        return;
    }
    let (spec, fp32) = match so.dtype {
        Dtype::Fp32 => (&FP32_SPEC, true),
        _ => (&BF16_SPEC, false),
    };
    // Every op as A [rows, KB] x B [KB, cols] block grids.
    let kb = match layout.op.as_str() {
        "gemm" => sa.grid()[1],
        _ => sa.grid()[0],
    };
    let rows = a.blocks.len() / kb;
    let cols = b.blocks.len() / kb;
    let per_output: Vec<Vec<SumBin>> = (0..rows * cols)
        .into_par_iter()
        .map(|o| {
            let (r, c) = (o / cols, o % cols);
            let pairs = (0..kb).map(|k| (&a.blocks[r * kb + k], &b.blocks[k * cols + c]));
            BlockSum::of(pairs).bins(spec, mode)
        })
        .collect();
    let tie = match mode {
        RoundingMode::NearestEven => "op.tie.nearest-even",
        RoundingMode::NearestAway => "op.tie.nearest-away",
        RoundingMode::TowardZero => "op.tie.toward-zero",
        RoundingMode::TowardPositive => "op.tie.toward-pos",
        RoundingMode::TowardNegative => "op.tie.toward-neg",
    };
    for (o, bins) in per_output.iter().enumerate() {
        for b in bins {
            let id = match (b, fp32) {
                (SumBin::Nan, _) => "op.nan",
                (SumBin::ExactZero, _) => "op.exact_zero",
                (SumBin::CancelTiny, _) => continue,
                (SumBin::Subnormal, false) => "op.subnormal.bf16",
                (SumBin::Subnormal, true) => "op.subnormal.fp32",
                (SumBin::Overflow, false) => "op.overflow.bf16",
                (SumBin::Overflow, true) => "op.overflow.fp32",
                (SumBin::Tie, _) => tie,
                (SumBin::DotMax, _) => "op.dot.max",
            };
            h.hit(id, &so.name, o);
        }
    }
}

impl Coverage {
    /// The readable report: one row per bin, then the total and the absent files.
    pub fn render(&self) -> String {
        let mut s = format!("{:<30} {:>10}  first hit\n", "bin", "hits");
        for b in &self.bins {
            let first = match &b.first {
                Some(f) if f.at.is_empty() => format!("{} {} word {}", f.case, f.file, f.index),
                Some(f) => format!("{} {} word {} ({})", f.case, f.file, f.index, f.at),
                None => format!("-- MISSED: {}", b.what),
            };
            s += &format!("{:<30} {:>10}  {first}\n", b.id, b.hits);
        }
        s += &format!(
            "hit {} of {} bins in {} case(s)\n",
            self.hit, self.total, self.cases
        );
        for a in &self.absent {
            s += &format!("absent in {}: {}\n", a.case, a.files.join(", "));
        }
        s
    }

    /// Bins matching one of the prefixes (`all` for every bin) that were not hit.
    pub fn missed(&self, required: &[String]) -> Vec<&BinReport> {
        self.bins
            .iter()
            .filter(|b| b.hits == 0)
            .filter(|b| {
                required
                    .iter()
                    .any(|p| p == "all" || b.id.starts_with(p.as_str()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hw_types::Dyadic;

    fn dy(sig: u128, exp: i32) -> Value {
        Value::Finite(Dyadic::exact(false, sig, exp))
    }

    #[test]
    fn ties_are_exact_midpoints_of_the_target_format() {
        // docs/numerics.md §2 and §3.2: 1 + 2^-8 and 257 are BF16 ties; 1 + 2^-7, 258 are
        // representable; 1 + 2^-8 + 2^-20 is above the midpoint; 2^-134 is half the smallest
        // subnormal; 1 + 2^-24 is an FP32 tie.
        assert!(is_tie(&dy(257, -8), &BF16_SPEC));
        assert!(is_tie(&dy(257, 0), &BF16_SPEC));
        assert!(!is_tie(&dy(129, -7), &BF16_SPEC));
        assert!(!is_tie(&dy(258, 0), &BF16_SPEC));
        assert!(!is_tie(&dy((257 << 12) + 1, -20), &BF16_SPEC));
        assert!(is_tie(&dy(1, -134), &BF16_SPEC));
        assert!(!is_tie(&dy(1, -133), &BF16_SPEC));
        assert!(is_tie(&dy((1 << 24) + 1, -24), &FP32_SPEC));
        assert!(!is_tie(&dy(257, -8), &FP32_SPEC));
    }

    #[test]
    fn qk_classes_follow_the_exp_boundaries() {
        let c = |b: u16| qk_bin(Bf16(b));
        assert_eq!(c(0x42b0), "qk.normal"); // 88.0
        assert_eq!(c(0x42b1), "qk.overflow.last_finite");
        assert_eq!(c(0x42b2), "qk.overflow.first_inf");
        assert_eq!(c(0x42b3), "qk.overflow.beyond");
        assert_eq!(c(0x7f7f), "qk.overflow.beyond");
        assert_eq!(c(0xc2b8), "qk.normal"); // -92.0
        assert_eq!(c(0xc2b9), "qk.underflow.last_subnormal");
        assert_eq!(c(0xc2ba), "qk.underflow.first_zero");
        assert_eq!(c(0xc2bb), "qk.underflow.beyond");
        assert_eq!(c(0xff7f), "qk.underflow.beyond");
        assert_eq!(c(0x0001), "qk.subnormal");
        assert_eq!(c(0x8040), "qk.subnormal");
        assert_eq!(c(0x7fc1), "qk.nan");
        assert_eq!(c(0xffc0), "qk.nan");
    }

    #[test]
    fn quantizer_corners_follow_section_4() {
        let f = |x: f32| Fp32::from_f32(x);
        // [1.0, 1/128]: 1/128 is half a step (numerics.md §4 example), a tie in either mode.
        let b = quantizer_bins(&[f(1.0), f(1.0 / 128.0)], RoundingMode::NearestAway);
        assert!(b.contains(&"quant.tie.pos.nearest-away") && b.contains(&"quant.partial_block"));
        let b = quantizer_bins(&[f(1.0), f(-1.0 / 128.0)], RoundingMode::NearestEven);
        assert!(b.contains(&"quant.tie.neg.nearest-even"));
        // [3.0, 3/256]: 0.375 of a step, no tie.
        let b = quantizer_bins(&[f(3.0), f(3.0 / 256.0)], RoundingMode::NearestAway);
        assert!(!b.iter().any(|x| x.starts_with("quant.tie")), "{b:?}");
        // 1.9921875 is 127.5 steps: clamped; 1.984375 (127 steps) is not.
        let b = quantizer_bins(&[Bf16(0x3fff).to_fp32()], RoundingMode::NearestEven);
        assert!(b.contains(&"quant.clamp.pos"));
        let b = quantizer_bins(&[Bf16(0x3ffe).to_fp32()], RoundingMode::NearestEven);
        assert!(!b.contains(&"quant.clamp.pos"));
        let b = quantizer_bins(&[Bf16(0xbfff).to_fp32()], RoundingMode::NearestAway);
        assert!(b.contains(&"quant.clamp.neg"));
        // Scales and special blocks.
        let full = |x: Fp32| vec![x; 32];
        assert_eq!(
            quantizer_bins(&full(Fp32(0x0040_0000)), RoundingMode::NearestAway),
            ["quant.scale.min"]
        );
        assert_eq!(
            quantizer_bins(&full(Fp32(1)), RoundingMode::NearestAway),
            ["quant.e_clamp", "quant.scale.min"]
        );
        assert_eq!(
            quantizer_bins(&full(Fp32(0x7f00_0000)), RoundingMode::NearestAway),
            ["quant.scale.max"]
        );
        // The largest FP32 is 127.99 steps: clamped, once per block.
        assert_eq!(
            quantizer_bins(&full(f(f32::MAX)), RoundingMode::NearestAway),
            ["quant.scale.max", "quant.clamp.pos"]
        );
        assert_eq!(
            quantizer_bins(&full(f(0.0)), RoundingMode::NearestAway),
            ["quant.zero_block"]
        );
        assert_eq!(
            quantizer_bins(&full(f(f32::NAN)), RoundingMode::NearestAway),
            ["quant.nan_block"]
        );
    }

    #[test]
    fn sums_products_and_reciprocals_land_in_their_bins() {
        let ones = vec![Bf16(0x3f80); 257];
        assert_eq!(sum_bins(&ones), ["sum.normal", "sum.tie"]);
        assert_eq!(
            sum_bins(&[Bf16(0x7f4d), Bf16(0x7f4d)]),
            ["sum.inf.overflow"]
        );
        assert_eq!(sum_bins(&[Bf16(0x7f80), Bf16(0x7fc0)]), ["sum.nan"]);
        assert_eq!(sum_bins(&[Bf16(0x0001), Bf16(0x0001)]), ["sum.subnormal"]);
        assert_eq!(recip_bins(Bf16(0x0020)), ["recip.pow2", "recip.overflow"]);
        assert_eq!(recip_bins(Bf16(0x0021)), Vec::<&str>::new());
        assert_eq!(recip_bins(Bf16(0x7f00)), ["recip.pow2", "recip.subnormal"]);
        assert_eq!(
            product_bins(Bf16(0x7f80), Bf16(0x0000)),
            ["out.inf_times_zero"]
        );
        assert_eq!(
            product_bins(Bf16(0x8001), Bf16(0x3f00)),
            ["out.neg_zero", "out.underflow_zero", "out.tie"]
        );
        assert_eq!(product_bins(Bf16(0x7f00), Bf16(0x4080)), ["out.overflow"]);
    }
}
