//! The quantize operation: the MXINT8 quantizer on its own, over a BF16 vector (docs/numerics.md
//! §4). In softmax_v the quantizer only ever sees non-negative exp values; this case lets a
//! testbench (and `sim cover`) reach its every corner, ties of both signs included, with its
//! input dumped next to its output.

use crate::dump::{read_bf16, DumpError};
use crate::gen::Dist;
use crate::manifest::Manifest;
use crate::tensor::{DumpRef, MxCodes, MxTensor, Tensor};
use hw_types::mxint8::quantize_row;
use hw_types::{Bf16, FlagCounts, Fp32, MxFormat, RoundingMode, ScaleRule, Status, BLOCK};
use std::path::Path;

pub const INPUT: &str = "quantize.input";
pub const OUTPUT: &str = "quantize.output";

/// Bytes held per input element at the quantizer's peak, an upper bound measured with margin
/// (docs/testing.md): the input, its widened copy, the blocks and their flags.
const ELEMENT_BYTES: usize = 16;

/// The memory quantizing `m` elements needs ([`crate::memory`]).
pub fn memory_need(m: usize) -> crate::memory::Need {
    crate::memory::Need::new().add(&[m], ELEMENT_BYTES)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantizeCase {
    /// BF16 `[m]`.
    pub input: Tensor<Bf16>,
}

/// The quantized vector and the flags of each block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantizeOutput {
    pub blocks: MxTensor,
    pub flags: Vec<Status>,
}

impl QuantizeOutput {
    pub fn flag_counts(&self) -> FlagCounts {
        FlagCounts::of(self.flags.iter().copied())
    }
}

impl QuantizeCase {
    /// The input of `sim op quantize` (MXINT8's corners).
    pub fn generate(m: usize, seed: u64, dist: Dist) -> QuantizeCase {
        Self::generate_for(m, seed, dist, &hw_types::mx::MXINT8)
    }

    /// The input of `sim op quantize --mx-format F`: corner blocks aimed at F's grid.
    pub fn generate_for(m: usize, seed: u64, dist: Dist, format: &MxFormat) -> QuantizeCase {
        QuantizeCase {
            input: Tensor::new(vec![m], crate::gen::quantize_input(seed, m, dist, format)),
        }
    }

    /// Read `quantize.input` from `dir`; `m` is its line count unless given.
    pub fn read(m: Option<usize>, dir: &Path) -> Result<QuantizeCase, DumpError> {
        let data = read_bf16(&dir.join(INPUT), m)?;
        Ok(QuantizeCase {
            input: Tensor::new(vec![data.len()], data),
        })
    }

    pub fn m(&self) -> usize {
        self.input.data.len()
    }

    /// The folder name: `quantize_m-M_seed-S` (`_inputs` when read from a folder).
    pub fn case_name(m: usize, seed: Option<u64>, dist: Dist) -> String {
        match seed {
            Some(s) => format!("quantize_m-{m}_seed-{s}{}", dist.suffix()),
            None => format!("quantize_m-{m}_inputs"),
        }
    }

    /// Quantize along the vector in blocks of 32 with element rounding `mode`.
    pub fn compute(&self, mode: RoundingMode) -> QuantizeOutput {
        let widened: Vec<Fp32> = self.input.data.iter().map(|x| x.to_fp32()).collect();
        let mut out = Vec::new();
        quantize_row(&widened, mode, &mut out);
        let (blocks, flags) = out.into_iter().map(|b| (b.value, b.status)).unzip();
        QuantizeOutput {
            blocks: MxTensor {
                shape: vec![self.m()],
                block_axis: 0,
                blocks,
            },
            flags,
        }
    }

    pub fn manifest(&self, seed: Option<u64>, dist: Dist, mode: RoundingMode) -> Manifest {
        let mut man = Manifest::new(
            "quantize",
            &Self::case_name(self.m(), seed, dist),
            "reference",
        );
        man.seed = seed;
        man.params.insert("m".into(), self.m().into());
        man.params
            .insert("element_rounding".into(), mode.name().into());
        if dist != Dist::Uniform {
            man.params.insert("dist".into(), dist.name().into());
        }
        man
    }

    pub fn dumps<'a>(&'a self, out: &'a QuantizeOutput) -> [(&'static str, DumpRef<'a>); 2] {
        [
            (INPUT, DumpRef::Bf16(&self.input)),
            (OUTPUT, DumpRef::MxInt8(&out.blocks)),
        ]
    }
}

/// The quantizer of another MX format or scale rule (docs/numerics.md §8), and its flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxQuantizeOutput {
    pub codes: MxCodes,
    pub flags: Vec<Status>,
}

impl MxQuantizeOutput {
    pub fn flag_counts(&self) -> FlagCounts {
        FlagCounts::of(self.flags.iter().copied())
    }
}

impl QuantizeCase {
    /// Quantize along the vector in blocks of 32 to `format` by `rule`, elements in `mode`.
    pub fn compute_mx(
        &self,
        format: MxFormat,
        rule: ScaleRule,
        mode: RoundingMode,
    ) -> MxQuantizeOutput {
        let widened: Vec<Fp32> = self.input.data.iter().map(|x| x.to_fp32()).collect();
        let (blocks, flags) = widened
            .chunks(BLOCK)
            .map(|c| {
                let r = format.quantize(c, rule, mode);
                (r.value, r.status)
            })
            .unzip();
        MxQuantizeOutput {
            codes: MxCodes {
                format,
                shape: vec![self.m()],
                block_axis: 0,
                blocks,
            },
            flags,
        }
    }

    /// The manifest of an MX quantize case: the format and rule in the name and the params.
    pub fn manifest_mx(
        &self,
        seed: Option<u64>,
        dist: Dist,
        format: MxFormat,
        rule: ScaleRule,
        mode: RoundingMode,
    ) -> Manifest {
        let mut man = self.manifest(seed, dist, mode);
        let mut name = format!(
            "{}_{}",
            Self::case_name(self.m(), seed, Dist::Uniform),
            format.name
        );
        if rule != ScaleRule::Floor {
            name += &format!("_rule-{}", rule.name());
        }
        man.case = name + &dist.suffix();
        man.params.insert("mx_format".into(), format.name.into());
        man.params.insert("scale_rule".into(), rule.name().into());
        man
    }

    pub fn dumps_mx<'a>(&'a self, out: &'a MxQuantizeOutput) -> [(&'static str, DumpRef<'a>); 2] {
        [
            (INPUT, DumpRef::Bf16(&self.input)),
            (OUTPUT, DumpRef::Mx(&out.codes)),
        ]
    }
}
