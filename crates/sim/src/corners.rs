//! The directed corner suite (`sim corners`, docs/coverage.md): one small case per scenario,
//! inputs given rather than drawn, each naming the coverage bins it targets. Together the
//! scenarios hit every bin; the tests prove each one hits its targets.
//!
//! Where a corner depends on computed values (a product of `scaled_v` and `inv` landing exactly
//! halfway between two BF16 values), the scenario searches a small, fixed candidate list in a
//! fixed order with the reference pipeline and takes the first candidate that reaches it, so the
//! suite is the same on every machine.

use crate::case::CaseWriter;
use crate::cover;
use crate::manifest::Manifest;
use crate::mx_op::{MxChoice, MxOpCase};
use crate::ops::{Dims, OpCase, OpKind, OutDtype};
use crate::quantize_op::QuantizeCase;
use crate::softmax::{self, Inputs, Params};
use crate::tensor::{DumpRef, MxCodes, MxData, MxTensor, Tensor};
use anyhow::Result;
use hw_types::{
    Bf16, E8m0, FlagCounts, Format, MxBlock, MxFormat, MxInt8Block, RoundingMode, ScaleRule, BLOCK,
    MX_FORMATS,
};
use hw_units::exp::exp_bf16;
use std::path::{Path, PathBuf};

/// One directed case.
pub struct Scenario {
    pub name: &'static str,
    pub targets: Vec<&'static str>,
    case: Case,
}

enum Case {
    Softmax(Inputs),
    Op {
        case: OpCase,
        dtype: OutDtype,
        mode: RoundingMode,
    },
    Quantize {
        case: QuantizeCase,
        mode: RoundingMode,
    },
    /// The quantizer of another MX format or scale rule (docs/numerics.md §8).
    MxQuantize {
        case: QuantizeCase,
        format: MxFormat,
        rule: ScaleRule,
    },
    /// softmax_v with exp and v in another MX format (docs/numerics.md §3.7).
    MxSoftmax {
        inputs: Inputs,
        formats: softmax::Formats,
    },
    /// A product over MX formats (operands given as codes).
    MxOp {
        case: Box<MxOpCase>,
        dtype: OutDtype,
        mode: RoundingMode,
    },
}

impl Scenario {
    /// The bins the case actually hits (reference numerics).
    pub fn hits(&self) -> Vec<&'static str> {
        match &self.case {
            Case::Softmax(inputs) => {
                let p = params(inputs);
                cover::softmax_bins(
                    &softmax::run(inputs.clone(), &p),
                    p.rounding(&p.formats.exp),
                )
            }
            Case::MxSoftmax { inputs, formats } => {
                let p = mx_params(inputs, formats);
                let st = softmax::run(inputs.clone(), &p);
                let data = cover::MxSoftmaxData::of(&st, formats, p.rounding(&formats.exp));
                cover::mx_softmax_hits(&data)
                    .into_iter()
                    .map(|(id, _, _)| id)
                    .collect()
            }
            Case::Op { case, dtype, mode } => cover::op_bins(case, *dtype, *mode),
            Case::Quantize { case, mode } => cover::quantize_bins(&case.input.data, *mode),
            Case::MxQuantize { case, format, rule } => {
                let hits = cover::mx_quantize_hits(
                    &case.input.data,
                    *format,
                    *rule,
                    format.default_rounding,
                );
                hits.into_iter().map(|(id, _)| id).collect()
            }
            Case::MxOp { case, dtype, mode } => cover::mx_op_hits(case, *dtype, *mode)
                .into_iter()
                .map(|(id, _, _)| id)
                .collect(),
        }
    }

    /// Write the case folder `out/<name>` (atomically, with its manifest and flag counts).
    pub fn write(&self, out: &Path) -> Result<PathBuf> {
        // Every kind of case: named after the scenario, marked with it and its targets.
        let write = |mut m: Manifest, dumps: &[(&str, DumpRef)], flags: &[(&str, FlagCounts)]| {
            m.case = self.name.to_string();
            m.params.insert("scenario".into(), self.name.into());
            m.params
                .insert("targets".into(), serde_json::json!(self.targets));
            let mut w = CaseWriter::create(out, m)?;
            w.write_all(dumps)?;
            w.set_flags(flags);
            Ok(w.finish()?.0)
        };
        let uniform = crate::gen::Dist::Uniform;
        let output = crate::quantize_op::OUTPUT;
        match &self.case {
            Case::Softmax(inputs) => {
                let p = params(inputs);
                let st = softmax::run(inputs.clone(), &p);
                let m = softmax::manifest(self.name, inputs.kv_size(), None, &p);
                write(m, &st.dumps(), &st.flag_counts())
            }
            Case::MxSoftmax { inputs, formats } => {
                let p = mx_params(inputs, formats);
                let st = softmax::run(inputs.clone(), &p);
                let m = softmax::manifest(self.name, inputs.kv_size(), None, &p);
                write(m, &st.dumps(), &st.flag_counts())
            }
            Case::Op { case, dtype, mode } => {
                let out = case.compute(*dtype, *mode);
                let dumps = case.dumps(&out);
                let dumps: Vec<(&str, DumpRef)> =
                    dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                let m = case.manifest(None, uniform, *dtype, *mode);
                write(m, &dumps, &[(dumps[2].0, out.flag_counts())])
            }
            Case::Quantize { case, mode } => {
                let out = case.compute(*mode);
                let m = case.manifest(None, uniform, *mode);
                write(m, &case.dumps(&out), &[(output, out.flag_counts())])
            }
            Case::MxQuantize { case, format, rule } => {
                let mode = format.default_rounding;
                let out = case.compute_mx(*format, *rule, mode);
                let m = case.manifest_mx(None, uniform, *format, *rule, mode);
                write(m, &case.dumps_mx(&out), &[(output, out.flag_counts())])
            }
            Case::MxOp { case, dtype, mode } => {
                let out = case.compute(*dtype, *mode);
                let dumps = case.dumps(&out);
                let dumps: Vec<(&str, DumpRef)> =
                    dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                let m = case.manifest(None, uniform, *dtype, *mode);
                write(m, &dumps, &[(dumps[2].0, out.flag_counts())])
            }
        }
    }
}

fn params(inputs: &Inputs) -> Params {
    Params {
        heads: inputs.qk_t.shape[1],
        head_dim: inputs.v.shape()[3],
        element_rounding: Some(RoundingMode::NearestAway),
        formats: softmax::Formats::default(),
    }
}

fn mx_params(inputs: &Inputs, formats: &softmax::Formats) -> Params {
    Params {
        heads: inputs.qk_t.shape[1],
        head_dim: inputs.v.shape()[3],
        element_rounding: None,
        formats: *formats,
    }
}

fn blk(scale: u8, elems: &[i8]) -> MxInt8Block {
    let mut e = [0i8; BLOCK];
    e[..elems.len()].copy_from_slice(elems);
    MxInt8Block {
        scale: E8m0(scale),
        elems: e,
    }
}

/// A softmax_v case from per-head qk_T rows (all of one length) and `v` blocks in grid order
/// (`[head][block][column]`); elements past the kv length must be zero.
fn softmax_case(rows: &[Vec<u16>], head_dim: usize, v: Vec<MxInt8Block>) -> Case {
    let (h, kv) = (rows.len(), rows[0].len());
    assert!(rows.iter().all(|r| r.len() == kv));
    assert_eq!(v.len(), h * kv.div_ceil(BLOCK) * head_dim);
    let qk = rows.iter().flatten().map(|&b| Bf16(b)).collect();
    Case::Softmax(Inputs {
        qk_t: Tensor::new(vec![1, h, 1, kv], qk),
        v: MxData::Int8(MxTensor {
            shape: vec![1, h, kv, head_dim],
            block_axis: 2,
            blocks: v,
        }),
    })
}

/// `n` copies of a block.
fn repeat(b: MxInt8Block, n: usize) -> Vec<MxInt8Block> {
    vec![b; n]
}

/// The elements of the first `len` lanes all `q` (the rest zero padding).
fn fill(len: usize, q: i8) -> Vec<i8> {
    vec![q; len.min(BLOCK)]
}

const NEG_INF: u16 = 0xff80;

/// Every scenario of the suite, in a fixed order.
pub fn suite() -> Vec<Scenario> {
    let mut s = vec![
        qk_specials(),
        sum_tie(),
        sum_overflow(),
        sum_subnormal(),
        v_blocks(),
        gevm_corners(),
        out_overflow(),
        out_tie(),
    ];
    for mode in [RoundingMode::NearestAway, RoundingMode::NearestEven] {
        s.push(quantizer(mode));
    }
    s.push(op_specials(OutDtype::Bf16));
    s.push(op_specials(OutDtype::Fp32));
    for mode in RoundingMode::ALL {
        s.push(op_tie(mode));
    }
    for f in &MX_FORMATS[1..] {
        s.push(mx_quantizer(*f));
    }
    for rule in [ScaleRule::Ceil, ScaleRule::Even, ScaleRule::Rceil] {
        s.push(mx_rule_clamp(rule));
    }
    s.push(mx_op_specials());
    for f in &MX_FORMATS[1..] {
        s.push(mx_softmax(*f));
    }
    s
}

/// softmax_v with exp and v in `format`, one head of 32 scores by 2 columns. qk_T: 0.6796875,
/// whose e^x rounds to 1.9765625 (past every format's largest normal significand: exp's block
/// saturates), then a score whose e^x lies in the middle of the format's subnormal range
/// relative to that block (`2^(emin - emax - (mbits + 1) / 2)`), the rest -inf (exp 0). v: the
/// smallest subnormal code and the largest normal code, in column 0's block.
fn mx_softmax(format: MxFormat) -> Scenario {
    let (emin, max_code) = match format.element {
        hw_types::mx::Element::Float(spec) => (spec.emin, spec.max_finite(false) as u8),
        hw_types::mx::Element::Int8 => unreachable!("MXINT8 is the dataset's pipeline"),
    };
    let log2 = f64::from(emin - format.emax) - f64::from(format.mbits + 1) / 2.0;
    let tiny = Bf16::from_f64(log2 * std::f64::consts::LN_2, RoundingMode::NearestEven).value;
    let mut qk = vec![0x3f2e, tiny.0];
    qk.resize(BLOCK, NEG_INF);
    let mut codes = [0u8; BLOCK];
    codes[..3].copy_from_slice(&[1, max_code, 0x80 >> (8 - format.width) | max_code]);
    let v = MxCodes {
        format,
        shape: vec![1, 1, BLOCK, 2],
        block_axis: 2,
        blocks: vec![
            MxBlock {
                scale: E8m0(127),
                codes,
            },
            MxBlock {
                scale: E8m0(126),
                codes: [1; BLOCK],
            },
        ],
    };
    let bin = |n: &str| -> &'static str { cover::BINS.iter().find(|b| b.id == n).expect("bin").id };
    let f = format.name;
    Scenario {
        name: match f {
            "mxfp8-e4m3" => "corner-mx-softmax-e4m3",
            "mxfp8-e5m2" => "corner-mx-softmax-e5m2",
            "mxfp6-e3m2" => "corner-mx-softmax-e3m2",
            "mxfp6-e2m3" => "corner-mx-softmax-e2m3",
            _ => "corner-mx-softmax-e2m1",
        },
        targets: vec![
            bin(&format!("softmax.exp.{f}.saturate")),
            bin(&format!("softmax.exp.{f}.subnormal")),
            bin(&format!("softmax.v.{f}.subnormal")),
            bin(&format!("softmax.v.{f}.max_normal")),
        ],
        case: Case::MxSoftmax {
            inputs: Inputs {
                qk_t: Tensor::new(vec![1, 1, 1, BLOCK], qk.into_iter().map(Bf16).collect()),
                v: MxData::Codes(v),
            },
            formats: softmax::Formats {
                exp: format,
                v: format,
                rule: ScaleRule::Floor,
            },
        },
    }
}

/// 2^-130, a BF16 subnormal: a block of them asks every rule for an exponent below -127.
const TINY: u16 = 0x0008;

/// A BF16 power of two (normal: `e >= -126`).
fn pow2(e: i32) -> u16 {
    assert!((-126..=127).contains(&e), "2^{e} is not a normal BF16");
    ((e + 127) as u16) << 7
}

/// One block per MX edge of `format` under `floor`: amax 1.96875 * 2^k (past every format's
/// largest normal significand, so it saturates), an element at half the smallest normal (a
/// subnormal code), a negative far below the smallest subnormal (the -0 code); then a block of
/// 2^-130 (its exponent below -127, clamped).
fn mx_quantizer(format: MxFormat) -> Scenario {
    let (emax, mbits) = (format.emax, format.mbits as i32);
    let emin = match format.element {
        hw_types::mx::Element::Float(spec) => spec.emin,
        hw_types::mx::Element::Int8 => unreachable!("MXINT8 has its own quantizer scenarios"),
    };
    // E = -emax, so an element's value is x * 2^emax.
    let mut x = vec![
        0x3ffc,
        pow2(emin - 1 - emax),
        0x8000 | pow2(emin - mbits - 3 - emax),
    ];
    x.resize(BLOCK, 0);
    x.extend([TINY; BLOCK]);
    let name = |n: &str| -> &'static str {
        cover::BINS
            .iter()
            .find(|b| b.id == format!("mx.{}.{n}", format.name))
            .expect("bin")
            .id
    };
    Scenario {
        name: match format.name {
            "mxfp8-e4m3" => "corner-mx-quantize-e4m3",
            "mxfp8-e5m2" => "corner-mx-quantize-e5m2",
            "mxfp6-e3m2" => "corner-mx-quantize-e3m2",
            "mxfp6-e2m3" => "corner-mx-quantize-e2m3",
            _ => "corner-mx-quantize-e2m1",
        },
        targets: vec![
            name("saturate"),
            name("subnormal"),
            name("neg_zero"),
            "mx.rule.floor.e_clamp",
        ],
        case: Case::MxQuantize {
            case: QuantizeCase {
                input: Tensor::new(vec![x.len()], x.into_iter().map(Bf16).collect()),
            },
            format,
            rule: ScaleRule::Floor,
        },
    }
}

/// A block of 2^-130 under `rule`: its exponent is below -127 and clamped.
fn mx_rule_clamp(rule: ScaleRule) -> Scenario {
    let (name, target) = match rule {
        ScaleRule::Ceil => ("corner-mx-rule-ceil", "mx.rule.ceil.e_clamp"),
        ScaleRule::Even => ("corner-mx-rule-even", "mx.rule.even.e_clamp"),
        _ => ("corner-mx-rule-rceil", "mx.rule.rceil.e_clamp"),
    };
    Scenario {
        name,
        targets: vec![target],
        case: Case::MxQuantize {
            case: QuantizeCase {
                input: Tensor::new(vec![BLOCK], vec![Bf16(TINY); BLOCK]),
            },
            format: MX_FORMATS[1],
            rule,
        },
    }
}

/// gevm of MXFP8 E5M2 by E4M3 codes, [64] x [64, 2]: the vector's first block holds +inf and
/// -inf; column 0 meets a NaN code (a quiet NaN wins), column 1 multiplies the infinities by 0
/// (invalid).
fn mx_op_specials() -> Scenario {
    let e5m2 = MX_FORMATS[2];
    let e4m3 = MX_FORMATS[1];
    let block = |codes: &[u8]| {
        let mut c = [0u8; BLOCK];
        c[..codes.len()].copy_from_slice(codes);
        MxBlock {
            scale: E8m0(127),
            codes: c,
        }
    };
    // gevm [64] x [64, 2]: vector blocks 0 and 1; matrix grid [2, 2].
    let vector = MxCodes {
        format: e5m2,
        shape: vec![64],
        block_axis: 0,
        blocks: vec![block(&[0x7c, 0xfc, 0x3c]), block(&[0x3c])],
    };
    let matrix = MxCodes {
        format: e4m3,
        shape: vec![64, 2],
        block_axis: 0,
        blocks: vec![
            block(&[0x4c, 0x38]),
            block(&[0, 0, 0x38]),
            block(&[0x7f]),
            block(&[0x38]),
        ],
    };
    let choice = MxChoice {
        formats: [e5m2, e4m3],
        rule: ScaleRule::Floor,
        element_rounding: None,
    };
    Scenario {
        name: "corner-mx-op-specials",
        targets: vec![
            "mx.op.inf_code",
            "mx.op.nan_code",
            "mx.op.invalid",
            "mx.op.mixed_pair",
        ],
        case: Case::MxOp {
            case: Box::new(MxOpCase {
                op: OpKind::Gevm,
                dims: Dims { m: 64, k: 2, n: 1 },
                choice,
                operands: [vector, matrix],
            }),
            dtype: OutDtype::Bf16,
            mode: RoundingMode::NearestEven,
        },
    }
}

/// Every special and boundary qk_T value, rows with +inf, NaN and only -inf.
fn qk_specials() -> Scenario {
    let rows = vec![
        vec![
            0x0000, 0x8000, 0x0001, 0x3f80, 0x42b1, 0xc2b9, 0xc2ba, 0xc2c0, NEG_INF, 0x3f00,
            0x4000, 0xc000, 0x3e80, 0xbf80, 0x0080, 0x8001,
        ],
        vec![
            0x7f80, 0x42b2, 0x42c0, 0x3f80, 0x0000, 0x4000, 0x4040, 0x4080, 0xc000, 0xc040, 0xc080,
            0x3f00, 0xbf00, 0x3e00, 0xbe00, 0x0000,
        ],
        vec![
            0x7fc0, 0x3f80, 0x0000, 0x4000, 0xc000, 0x3f00, 0xbf00, 0x4040, 0xc040, 0x3e80, 0xbe80,
            0x4080, 0xc080, 0x3e00, 0xbe00, 0x3f80,
        ],
        vec![NEG_INF; 16],
    ];
    let v = repeat(blk(0x7f, &fill(16, 3)), 4 * 4);
    Scenario {
        name: "corner-qk-specials",
        targets: vec![
            "qk.zero.pos",
            "qk.zero.neg",
            "qk.subnormal",
            "qk.normal",
            "qk.overflow.last_finite",
            "qk.overflow.first_inf",
            "qk.overflow.beyond",
            "qk.underflow.last_subnormal",
            "qk.underflow.first_zero",
            "qk.underflow.beyond",
            "qk.inf.pos",
            "qk.inf.neg",
            "qk.nan",
            "exp.normal",
            "exp.subnormal",
            "exp.zero",
            "exp.inf",
            "exp.nan",
            "sum.normal",
            "sum.zero",
            "sum.inf.addend",
            "sum.nan",
            "quant.zero_block",
            "quant.nan_block",
            "quant.partial_block",
            "gevm.nan",
            "recip.zero",
            "recip.inf",
            "recip.nan",
            "out.inf_times_zero",
        ],
        case: softmax_case(&rows, 4, v),
    }
}

/// Exact sums halfway between two BF16 values: 257 ones (256 or 258: RNE gives 256, a power of
/// two, so 1/256 is exact), and three values 0x3f81 (1.0078125; qk = 2^-7).
fn sum_tie() -> Scenario {
    let mut third = vec![NEG_INF; 257];
    third[..3].fill(0x3c00);
    assert_eq!(exp_bf16(Bf16(0x3c00)).value, Bf16(0x3f81));
    let rows = vec![vec![0x0000; 257], third];
    let v = repeat(blk(0x7f, &fill(32, 1)), 2 * 9 * 2)
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            // The last block of each head holds one element (kv 257 = 8 * 32 + 1).
            if (i / 2) % 9 == 8 {
                blk(0x7f, &[1])
            } else {
                b
            }
        })
        .collect();
    Scenario {
        name: "corner-sum-tie",
        targets: vec!["sum.tie", "recip.pow2"],
        case: softmax_case(&rows, 2, v),
    }
}

/// e^88.5 twice overflows the exact sum; quantized with scale 0xfe, times v blocks of scale 0xfe
/// the gevm overflows; 1/inf = 0 then meets inf. A second row sums to e^87.5 > 2^126: a
/// subnormal reciprocal.
fn sum_overflow() -> Scenario {
    let rows = vec![vec![0x42b1, 0x42b1], vec![0x42af, NEG_INF]];
    let v = repeat(blk(0xfe, &fill(2, 127)), 2 * 2);
    Scenario {
        name: "corner-sum-overflow",
        targets: vec![
            "sum.inf.overflow",
            "quant.scale.max",
            "gevm.overflow",
            "recip.inf",
            "recip.subnormal",
            "v.scale.max",
        ],
        case: softmax_case(&rows, 2, v),
    }
}

/// Subnormal exp values: two smallest subnormals sum to a subnormal whose reciprocal overflows;
/// the quantizer clamps E to -127. e^-87.5 lies in [2^-127, 2^-126): scale 0x00 unclamped.
fn sum_subnormal() -> Scenario {
    let rows = vec![
        vec![0xc2b9, 0xc2b9, NEG_INF],
        vec![0xc2af, NEG_INF, NEG_INF],
    ];
    let v = repeat(blk(0x7f, &fill(3, 5)), 2 * 2);
    Scenario {
        name: "corner-sum-subnormal",
        targets: vec![
            "sum.subnormal",
            "recip.overflow",
            "quant.e_clamp",
            "quant.scale.min",
        ],
        case: softmax_case(&rows, 2, v),
    }
}

/// v blocks at every input corner: NaN scale, -128 elements, zero blocks, extreme scales.
fn v_blocks() -> Scenario {
    let rows = vec![vec![0x0000; 160]];
    let columns = [
        [
            blk(0xff, &fill(32, 1)),
            blk(0x7f, &fill(32, 1)),
            blk(0x7f, &fill(32, 1)),
            blk(0x7f, &fill(32, 1)),
            blk(0x7f, &fill(32, 1)),
        ],
        [
            blk(0x7f, &fill(32, -128)),
            blk(0x00, &fill(32, 7)),
            blk(0x7f, &[]),
            blk(0x7f, &fill(32, 2)),
            blk(0x80, &fill(32, -3)),
        ],
        [
            blk(0x7f, &fill(32, 1)),
            blk(0x7f, &fill(32, -1)),
            blk(0x7f, &[]),
            blk(0x7f, &[]),
            blk(0x7f, &[]),
        ],
        [
            blk(0xfe, &fill(32, 1)),
            blk(0x7f, &[]),
            blk(0x01, &fill(32, 1)),
            blk(0x7f, &[]),
            blk(0x7f, &[]),
        ],
    ];
    // Grid order [block][column].
    let v = (0..5)
        .flat_map(|b| columns.iter().map(move |c| c[b]))
        .collect();
    Scenario {
        name: "corner-v-blocks",
        targets: vec![
            "v.scale.nan",
            "v.elem.min",
            "v.zero_block",
            "v.scale.min",
            "v.scale.max",
            "gevm.exact_zero",
        ],
        case: softmax_case(&rows, 4, v),
    }
}

/// exp all 1 (qk 0), so exp_mxint8 is scale 0x7f with elements 64 and each output column is
/// sum over blocks of 2^(Ev - 6) * (sum of its elements): chosen per column.
fn gevm_corners() -> Scenario {
    let rows = vec![vec![0x0000; 96]];
    let z = blk(0x7f, &[]);
    let columns = [
        // exact zero from +1 and -1
        [blk(0x7f, &[1]), blk(0x7f, &[-1]), z],
        // cancellation: 2^14 - 2^14 + 2^-56
        [blk(0x93, &[1]), blk(0x93, &[-1]), blk(0x4d, &[1])],
        // subnormal: 2^(-127-6) = 2^-133, the smallest subnormal (1/96 of it underflows to +0)
        [blk(0x00, &[1]), z, z],
        // tie: 1 + 2^-8
        [blk(0x7f, &[64]), blk(0x77, &[64]), z],
        // overflow: 2^121 * 4064
        [blk(0xfe, &fill(32, 127)), z, z],
        // negative subnormal: its scaled output underflows to -0
        [blk(0x00, &[-1]), z, z],
    ];
    let v = (0..3)
        .flat_map(|b| columns.iter().map(move |c| c[b]))
        .collect();
    Scenario {
        name: "corner-gevm",
        targets: vec![
            "gevm.exact_zero",
            "gevm.cancel_tiny",
            "gevm.subnormal",
            "gevm.tie",
            "gevm.overflow",
            "out.underflow_zero",
            "out.neg_zero",
        ],
        case: softmax_case(&rows, 6, v),
    }
}

/// A finite scaled_v times a finite inv overflows only when the quantizer rounds exp values up:
/// one exp value sets the block exponent E, thirty more are exactly half a step, so
/// `nearest-away` doubles them in exp_mxint8 while the sum keeps them. Then scaled_v (blocks of
/// scale 0xfe, elements 127) stays finite and scaled_v * (1/sum) exceeds the largest BF16.
fn out_overflow() -> Scenario {
    // The first (large element, half-step element) pair: qk from -1 down to -8 sets the block
    // exponent E; then the first negative qk whose e^qk is (k + 1/2) steps of 2^(E-6), k < 4.
    let half_step = |e: i32, x: u16| match exp_bf16(Bf16(x)).value.value() {
        hw_types::Value::Finite(d) => {
            let s = d.exp + 6 - e;
            (-60..0).contains(&s) && d.sig < 4 << -s && d.sig & ((1 << -s) - 1) == 1 << (-s - 1)
        }
        _ => false,
    };
    let (big, half) = [
        0xbf80u16, 0xc000, 0xc040, 0xc080, 0xc0a0, 0xc0c0, 0xc0e0, 0xc100,
    ]
    .into_iter()
    .find_map(|big| {
        let e = log2_floor(exp_bf16(Bf16(big)).value);
        (0x8001u16..0xc300)
            .find(|&x| half_step(e, x))
            .map(|x| (big, x))
    })
    .expect("a half-step exp value exists");
    let mut row = vec![half; 31];
    row[0] = big;
    let v = repeat(blk(0xfe, &fill(31, 127)), 2);
    Scenario {
        name: "corner-out-overflow",
        targets: vec!["out.overflow"],
        case: softmax_case(&[row], 2, v),
    }
}

fn log2_floor(x: Bf16) -> i32 {
    match x.value() {
        hw_types::Value::Finite(d) => d.top_exp(),
        v => panic!("log2 of {v:?}"),
    }
}

/// A product scaled_v * inv exactly halfway between two BF16 values, and a subnormal one. Rows
/// of three equal qk values c give exp_sum and inv; a v column whose three elements sum to Q
/// (scale 0x85) gives scaled_v proportional to Q. The first c of a fixed list and the first Q in
/// 1..=255 whose product is a tie are taken (1/3, for one, never gives a tie: 171 * Q never
/// has exactly nine significant bits).
fn out_tie() -> Scenario {
    let split = |q: u32| -> [i8; 3] {
        let e0 = q.min(127);
        let e1 = (q - e0).min(127);
        [e0 as i8, e1 as i8, (q - e0 - e1) as i8]
    };
    let (c, q) = [0x0000u16, 0x3e80, 0xbe80, 0x3f00, 0xbf00, 0x3f80]
        .into_iter()
        .find_map(|c| {
            let v: Vec<MxInt8Block> = (1..=255).map(|q| blk(0x85, &split(q))).collect();
            let inputs = match softmax_case(&[vec![c; 3]], 255, v) {
                Case::Softmax(i) => i,
                _ => unreachable!(),
            };
            let st = softmax::run(inputs.clone(), &params(&inputs));
            (0..255)
                .find(|&i| {
                    cover::product_bins(st.scaled_v.data[i], st.inv.data[0]).contains(&"out.tie")
                })
                .map(|i| (c, i as u32 + 1))
        })
        .expect("a tie exists");
    let v = vec![blk(0x85, &split(q)), blk(0x08, &[1, 0, 0])];
    Scenario {
        name: "corner-out-tie",
        targets: vec!["out.tie", "out.subnormal"],
        case: softmax_case(&[vec![c; 3]], 2, v),
    }
}

/// The quantizer alone: ties of both signs, clamps of both signs, a subnormal block, a zero
/// block, the largest scale, and an inf in a partial last block.
fn quantizer(mode: RoundingMode) -> Scenario {
    let mut x: Vec<u16> = Vec::with_capacity(133);
    // Block 0: amax 1.9921875 (E = 0, step 2^-6): +-127.5 steps clamp; (2k+1) 2^-7 are ties.
    x.extend([0x3fff, 0xbfff]);
    x.extend((0..30).map(|k| {
        let v = Bf16::from_f64((2 * k + 1) as f64 / 128.0, RoundingMode::NearestEven).value;
        if k % 2 == 0 {
            v.0
        } else {
            v.0 | 0x8000
        }
    }));
    // Block 1: subnormals only (E clamped to -127).
    x.extend((1..=32).map(|i| i as u16));
    // Block 2: zeros.
    x.extend([0x0000, 0x8000].repeat(16));
    // Block 3: the largest finite values (E = 127).
    x.extend((0..32).map(|i| 0x7f00 | i as u16));
    // Block 4, five long: an infinity.
    x.extend([0x3f80, 0x7f80, 0x4000, 0xc000, 0x3f00]);
    let (name, ties) = match mode {
        RoundingMode::NearestEven => (
            "corner-quantize-nearest-even",
            ["quant.tie.pos.nearest-even", "quant.tie.neg.nearest-even"],
        ),
        _ => (
            "corner-quantize-nearest-away",
            ["quant.tie.pos.nearest-away", "quant.tie.neg.nearest-away"],
        ),
    };
    let mut targets = ties.to_vec();
    targets.extend([
        "quant.clamp.pos",
        "quant.clamp.neg",
        "quant.e_clamp",
        "quant.scale.min",
        "quant.zero_block",
        "quant.scale.max",
        "quant.nan_block",
        "quant.partial_block",
    ]);
    Scenario {
        name,
        targets,
        case: Case::Quantize {
            case: QuantizeCase {
                input: Tensor::new(vec![x.len()], x.into_iter().map(Bf16).collect()),
            },
            mode,
        },
    }
}

/// A gevm whose columns reach the op corners: NaN, the widest block dot product (-128 * -128 in
/// all 32 lanes: 2^19), exact zero, a subnormal, an overflow and a tie in the output dtype.
fn op_specials(dtype: OutDtype) -> Scenario {
    let (name, subnormal, overflow, tie_scale) = match dtype {
        // The tie 2^-5 (1 + 2^-8) and 2^-5 (1 + 2^-24).
        OutDtype::Bf16 => (
            "corner-op-bf16",
            "op.subnormal.bf16",
            "op.overflow.bf16",
            0x7e,
        ),
        OutDtype::Fp32 => (
            "corner-op-fp32",
            "op.subnormal.fp32",
            "op.overflow.fp32",
            0x6e,
        ),
    };
    // The vector: block 0 all -128, block 1 a single 1, both at scale 2^0. A column's output is
    // -128 * (sum of its block-0 elements) * 2^(E0 - 12) + (its block-1 lane 0) * 2^(E1 - 12).
    let vector = vec![blk(0x7f, &fill(32, -128)), blk(0x7f, &[1])];
    let z = blk(0x7f, &[]);
    let columns = [
        // NaN scale.
        (blk(0xff, &[1]), z),
        // 2^19 (the widest block dot product) * 2^-12 = 128, cancelled by -1 * 2^(19 - 12).
        (blk(0x7f, &fill(32, -128)), blk(0x92, &[-1])),
        // 64 * 2^(-127 - 12) = 2^-133: subnormal in BF16 and FP32.
        (z, blk(0x00, &[64])),
        // -128 * -127 * 32 * 2^(127 - 12): overflows both dtypes.
        (blk(0xfe, &fill(32, -127)), z),
        // 128 * 2^-12 + 2^(E1 - 12): halfway.
        (blk(0x7f, &[-1]), blk(tie_scale, &[1])),
    ];
    let matrix: Vec<MxInt8Block> = columns
        .iter()
        .map(|c| c.0)
        .chain(columns.iter().map(|c| c.1))
        .collect();
    let k = columns.len();
    let case = OpCase {
        op: OpKind::Gevm,
        dims: Dims { m: 64, k, n: 1 },
        operands: [
            MxTensor {
                shape: vec![64],
                block_axis: 0,
                blocks: vector,
            },
            MxTensor {
                shape: vec![64, k],
                block_axis: 0,
                blocks: matrix,
            },
        ],
    };
    Scenario {
        name,
        targets: vec![
            "op.nan",
            "op.elem.min",
            "op.dot.max",
            "op.exact_zero",
            subnormal,
            overflow,
            "op.tie.nearest-even",
        ],
        case: Case::Op {
            case,
            dtype,
            mode: RoundingMode::NearestEven,
        },
    }
}

/// A dot product exactly halfway between two BF16 values, in a case with rounding `mode`:
/// 1 + 2^-8 from two blocks (2^-12 * 64 * 64 and 2^-20 * 64 * 64).
fn op_tie(mode: RoundingMode) -> Scenario {
    let name = match mode {
        RoundingMode::NearestEven => "corner-op-tie-nearest-even",
        RoundingMode::NearestAway => "corner-op-tie-nearest-away",
        RoundingMode::TowardZero => "corner-op-tie-toward-zero",
        RoundingMode::TowardPositive => "corner-op-tie-toward-pos",
        RoundingMode::TowardNegative => "corner-op-tie-toward-neg",
    };
    let target = match mode {
        RoundingMode::NearestEven => "op.tie.nearest-even",
        RoundingMode::NearestAway => "op.tie.nearest-away",
        RoundingMode::TowardZero => "op.tie.toward-zero",
        RoundingMode::TowardPositive => "op.tie.toward-pos",
        RoundingMode::TowardNegative => "op.tie.toward-neg",
    };
    let a = vec![blk(0x7f, &[64]), blk(0x7f, &[64])];
    let b = vec![blk(0x7f, &[64]), blk(0x77, &[64])];
    let case = OpCase {
        op: OpKind::Dot,
        dims: Dims { m: 64, k: 1, n: 1 },
        operands: [
            MxTensor {
                shape: vec![64],
                block_axis: 0,
                blocks: a,
            },
            MxTensor {
                shape: vec![64],
                block_axis: 0,
                blocks: b,
            },
        ],
    };
    Scenario {
        name,
        targets: vec![target],
        case: Case::Op {
            case,
            dtype: OutDtype::Bf16,
            mode,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario hits every bin it names, and together they hit every bin.
    #[test]
    fn scenarios_hit_their_targets_and_every_bin() {
        let mut all = std::collections::BTreeSet::new();
        for s in suite() {
            let hits = s.hits();
            for t in &s.targets {
                assert!(hits.contains(t), "{} misses {t}; it hits {hits:?}", s.name);
            }
            all.extend(hits);
        }
        let missed: Vec<&str> = cover::BINS
            .iter()
            .map(|b| b.id)
            .filter(|b| !all.contains(b))
            .collect();
        assert!(missed.is_empty(), "no scenario hits {missed:?}");
    }
}
