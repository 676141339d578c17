//! dot_product, gevm and gemm over operands of any MX formats (docs/numerics.md §8): every
//! output element is the exact sum of its blocks' element products times both scales, rounded
//! once. Two MXINT8 operands with the `floor` rule are the dataset's operation (crates/sim/src/
//! ops.rs, the MAC array's kernels); every other pair is computed here from the definition.

use crate::dump::{read_mx_codes, DumpError};
use crate::gen::{mx_codes, Dist, OPERAND_RANGE_LOG2};
use crate::manifest::Manifest;
use crate::ops::{Dims, OpKind, OpOutput, OutDtype, OutTensor};
use crate::tensor::{DumpRef, MxCodes, Tensor};
use hw_types::mx::block_sum;
use hw_types::MxBlock;
use hw_types::{
    Bf16, BlockSum, ExactAcc, Fp32, MxFormat, RoundingMode, ScaleRule, Status, StatusAnd,
};
use rayon::prelude::*;
use std::path::Path;

/// The operand formats and how drawn reals are quantized into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxChoice {
    /// First operand (a, vector, input) and second (b, matrix, other).
    pub formats: [MxFormat; 2],
    pub rule: ScaleRule,
    /// Element rounding of the generator's quantization (`None`: each format's default).
    pub element_rounding: Option<RoundingMode>,
}

impl MxChoice {
    /// Both operands MXINT8 quantized by `floor`: the dataset's operation, which ops.rs computes.
    pub fn is_mxint8(&self) -> bool {
        self.formats.iter().all(|f| f.name == "mxint8") && self.rule == ScaleRule::Floor
    }

    /// `A` when both operands share a format, else `A,B` (the `--mx-format` value).
    pub fn formats_name(&self) -> String {
        let [a, b] = self.formats;
        if a == b {
            a.name.to_string()
        } else {
            format!("{},{}", a.name, b.name)
        }
    }

    fn rounding(&self, f: &MxFormat) -> RoundingMode {
        self.element_rounding.unwrap_or(f.default_rounding)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxOpCase {
    pub op: OpKind,
    pub dims: Dims,
    pub choice: MxChoice,
    pub operands: [MxCodes; 2],
}

impl MxOpCase {
    /// Both operands from the generator's streams 0 and 1 (the same reals as the MXINT8
    /// operation), quantized to their formats.
    pub fn generate(op: OpKind, dims: Dims, seed: u64, dist: Dist, choice: MxChoice) -> MxOpCase {
        let [(s0, a0), (s1, a1)] = op.operand_layout(dims);
        let gen = |k: u64, s: &[usize], ax: usize| {
            let f = choice.formats[k as usize];
            let r = OPERAND_RANGE_LOG2;
            mx_codes(seed, k, s, ax, r, f, choice.rule, choice.rounding(&f), dist)
        };
        MxOpCase {
            op,
            dims,
            choice,
            operands: [gen(0, &s0, a0), gen(1, &s1, a1)],
        }
    }

    /// Read both operands from `dir` in their formats; line counts must match `dims`.
    pub fn read(
        op: OpKind,
        dims: Dims,
        choice: MxChoice,
        dir: &Path,
    ) -> Result<MxOpCase, DumpError> {
        dims.memory_need(op)
            .check(op.name())
            .map_err(|e| DumpError::new(dir, 0, e.to_string()))?;
        let layout = op.operand_layout(dims);
        let read = |i: usize| {
            let (shape, axis) = layout[i].clone();
            let path = dir.join(op.file(op.operand_names()[i]));
            read_mx_codes(&path, choice.formats[i], shape, axis)
        };
        Ok(MxOpCase {
            op,
            dims,
            choice,
            operands: [read(0)?, read(1)?],
        })
    }

    /// The case folder name: the MXINT8 name, then the format(s) and a non-default rule.
    pub fn case_name(&self, seed: Option<u64>, dist: Dist) -> String {
        let mut s = self.dims.case_name(self.op, seed);
        s += &format!("_{}", self.choice.formats_name().replace(',', "_"));
        if self.choice.rule != ScaleRule::Floor {
            s += &format!("_rule-{}", self.choice.rule.name());
        }
        if seed.is_some() {
            s += &dist.suffix();
        }
        s
    }

    /// The manifest: the operation's, with `params.mx_format` and `params.scale_rule`.
    pub fn manifest(
        &self,
        seed: Option<u64>,
        dist: Dist,
        dtype: OutDtype,
        mode: RoundingMode,
    ) -> Manifest {
        let mut m = crate::ops::op_manifest(self.op, self.dims, seed, dist, dtype, mode);
        m.case = self.case_name(seed, dist);
        m.params
            .insert("mx_format".into(), self.choice.formats_name().into());
        m.params
            .insert("scale_rule".into(), self.choice.rule.name().into());
        if let Some(r) = self.choice.element_rounding {
            m.params.insert("element_rounding".into(), r.name().into());
        }
        m
    }

    /// The three dumps (operands, output) with their file names.
    pub fn dumps<'a>(&'a self, output: &'a OpOutput) -> [(String, DumpRef<'a>); 3] {
        let [a, b] = self.op.operand_names();
        [
            (self.op.file(a), DumpRef::Mx(&self.operands[0])),
            (self.op.file(b), DumpRef::Mx(&self.operands[1])),
            (self.op.file("output"), output.dump()),
        ]
    }

    /// Every output element: the exact sum of its block sums, rounded once to `dtype` in `mode`.
    pub fn compute(&self, dtype: OutDtype, mode: RoundingMode) -> OpOutput {
        let (rows, kbs, cols) = self.op.block_grid(self.dims);
        let [a, b] = &self.operands;
        let [fa, fb] = self.choice.formats;
        let sum = |o: usize| -> ProductSum {
            let (r, c) = (o / cols, o % cols);
            let mut sum = ProductSum::new();
            for j in 0..kbs {
                sum.add(&fa, &a.blocks[r * kbs + j], &fb, &b.blocks[j * cols + c]);
            }
            sum
        };
        let shape = self.op.output_shape(self.dims);
        fn apart<F: Copy>(v: Vec<StatusAnd<F>>) -> (Vec<F>, Vec<Status>) {
            v.into_iter().map(|r| (r.value, r.status)).unzip()
        }
        let outputs = 0..rows * cols;
        let (tensor, flags) = match dtype {
            OutDtype::Bf16 => {
                let (v, f) = apart(
                    outputs
                        .into_par_iter()
                        .map(|o| sum(o).round::<Bf16>(mode))
                        .collect(),
                );
                (OutTensor::Bf16(Tensor::new(shape, v)), f)
            }
            OutDtype::Fp32 => {
                let (v, f) = apart(
                    outputs
                        .into_par_iter()
                        .map(|o| sum(o).round::<Fp32>(mode))
                        .collect(),
                );
                (OutTensor::Fp32(Tensor::new(shape, v)), f)
            }
        };
        OpOutput { tensor, flags }
    }
}

/// The exact sum of one output's block sums, and whether a block was invalid (inf * 0, or
/// infinite products of both signs) or held a quiet NaN (docs/numerics.md §8): shared by the
/// operations, softmax_v's gevm and its cycle model.
#[derive(Clone, Debug)]
pub struct ProductSum {
    acc: ExactAcc,
    invalid: bool,
    quiet: bool,
}

impl Default for ProductSum {
    fn default() -> Self {
        ProductSum::new()
    }
}

impl ProductSum {
    pub fn new() -> ProductSum {
        ProductSum {
            acc: ExactAcc::new(),
            invalid: false,
            quiet: false,
        }
    }

    /// Add the exact sum of a block pair's products times both scales.
    pub fn add(&mut self, fa: &MxFormat, a: &MxBlock, fb: &MxFormat, b: &MxBlock) {
        match block_sum(fa, a, fb, b) {
            BlockSum::NaN => self.quiet = true,
            BlockSum::Invalid => self.invalid = true,
            BlockSum::Inf { neg } => self.acc.add_value(hw_types::Value::Inf { neg }),
            BlockSum::Finite { int, exp } => add_i128(&mut self.acc, int, exp),
        }
    }

    /// The sum rounded once: a quiet NaN wins without a flag; then an invalid block; then the
    /// exact sum (whose own +inf + -inf across blocks is invalid too).
    pub fn round<F: hw_types::Format>(&self, mode: RoundingMode) -> StatusAnd<F> {
        let nan = || F::from_bits_u32(F::SPEC.canonical_nan());
        match (self.quiet, self.invalid) {
            (true, _) => StatusAnd::new(nan(), Status::OK),
            (false, true) => StatusAnd::new(nan(), Status::INVALID),
            (false, false) => self.acc.round::<F>(mode),
        }
    }
}

/// Add `int * 2^exp` (a block sum: up to 70 bits, MXFP8 E5M2 squared) to the accumulator, whose
/// terms are i64 at exponents up to `ACC_MAX_TERM_EXP`: one term when it fits, else two, split
/// at `s` bits so that the high part's exponent stays in range (the largest sums have the lowest
/// exponents: E5M2's grid starts at 2^-16).
fn add_i128(acc: &mut ExactAcc, int: i128, exp: i32) {
    if let Ok(small) = i64::try_from(int) {
        acc.add_int(small, exp);
        return;
    }
    let s = (hw_types::acc::ACC_MAX_TERM_EXP - exp).clamp(8, 62);
    acc.add_int((int & ((1i128 << s) - 1)) as i64, exp);
    acc.add_int(
        i64::try_from(int >> s).expect("a block sum has at most 70 bits"),
        exp + s,
    );
}

/// One MX format by name (surrounding blanks ignored), or an error listing the names.
pub fn parse_format(n: &str) -> Result<MxFormat, String> {
    MxFormat::from_name(n.trim()).ok_or_else(|| {
        format!(
            "unknown MX format '{n}' (expected one of: {})",
            MxFormat::names()
        )
    })
}

/// Parse `--mx-format A[,B]`.
pub fn parse_formats(s: &str) -> Result<[MxFormat; 2], String> {
    let one = parse_format;
    match s.split_once(',') {
        None => {
            let f = one(s)?;
            Ok([f, f])
        }
        Some((a, b)) => Ok([one(a)?, one(b)?]),
    }
}
