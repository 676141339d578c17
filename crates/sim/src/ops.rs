//! The MXINT8 operations of the dataset: dot_product, gevm, gemm (docs/numerics.md §6). Each is a
//! product of two block grids computed by the MAC array's one definition, `block_matmul`.

use crate::dump::{read_mx_tensor, DumpError};
use crate::gen::{mx_tensor, Dist, OPERAND_RANGE_LOG2};
use crate::manifest::Manifest;
use crate::tensor::{DumpRef, MxTensor, Tensor};
use hw_types::{Bf16, FlagCounts, Fp32, RoundingMode, Status, StatusAnd, BLOCK};
use hw_units::config::AccKind;
use hw_units::mac::block_matmul;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OpKind {
    Dot,
    Gevm,
    Gemm,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Dot => "dot",
            OpKind::Gevm => "gevm",
            OpKind::Gemm => "gemm",
        }
    }
    /// Operand file suffixes, first and second.
    pub fn operand_names(self) -> [&'static str; 2] {
        match self {
            OpKind::Dot => ["a", "b"],
            OpKind::Gevm => ["vector", "matrix"],
            OpKind::Gemm => ["input", "other"],
        }
    }
    /// Logical operand shapes and their blocked axes for sizes m, k, n.
    pub(crate) fn operand_layout(self, d: Dims) -> [(Vec<usize>, usize); 2] {
        match self {
            OpKind::Dot => [(vec![d.m], 0), (vec![d.m], 0)],
            OpKind::Gevm => [(vec![d.m], 0), (vec![d.m, d.k], 0)],
            OpKind::Gemm => [(vec![d.m, d.k], 1), (vec![d.k, d.n], 0)],
        }
    }
    /// Every op as block grids A `[rows, KB]` x B `[KB, cols]` (the grids' row-major order):
    /// `(rows, KB, cols)`.
    pub fn block_grid(self, d: Dims) -> (usize, usize, usize) {
        let kb = |len: usize| len.div_ceil(BLOCK);
        match self {
            OpKind::Dot => (1, kb(d.m), 1),
            OpKind::Gevm => (1, kb(d.m), d.k),
            OpKind::Gemm => (d.m, kb(d.k), d.n),
        }
    }
    pub fn output_shape(self, d: Dims) -> Vec<usize> {
        match self {
            OpKind::Dot => vec![],
            OpKind::Gevm => vec![d.k],
            OpKind::Gemm => vec![d.m, d.n],
        }
    }
    pub fn file(self, part: &str) -> String {
        format!("{}.{part}", self.name())
    }
}

/// Problem sizes; unused ones are 1 (dot uses m, gevm m and k, gemm all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl Dims {
    /// The memory an operation of these sizes needs ([`crate::memory`]): checked by every door
    /// before it generates, reads or computes one.
    pub fn memory_need(self, op: OpKind) -> crate::memory::Need {
        let mut need = crate::memory::Need::new();
        for (shape, _) in op.operand_layout(self) {
            need = need.add(&shape, OPERAND_BYTES);
        }
        need.add(&op.output_shape(self), OUTPUT_BYTES)
    }

    /// The case folder name: `<op>_m-M[_k-K][_n-N]_seed-S`.
    pub fn case_name(self, op: OpKind, seed: Option<u64>) -> String {
        let mut s = format!("{}_m-{}", op.name(), self.m);
        if op != OpKind::Dot {
            s += &format!("_k-{}", self.k);
        }
        if op == OpKind::Gemm {
            s += &format!("_n-{}", self.n);
        }
        match seed {
            Some(seed) => s + &format!("_seed-{seed}"),
            None => s + "_inputs",
        }
    }
}

/// Output element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutDtype {
    #[default]
    Bf16,
    Fp32,
}

impl OutDtype {
    pub fn name(self) -> &'static str {
        match self {
            OutDtype::Bf16 => "bf16",
            OutDtype::Fp32 => "fp32",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutTensor {
    Bf16(Tensor<Bf16>),
    Fp32(Tensor<Fp32>),
}

impl OutTensor {
    pub fn dump(&self) -> DumpRef<'_> {
        match self {
            OutTensor::Bf16(t) => DumpRef::Bf16(t),
            OutTensor::Fp32(t) => DumpRef::Fp32(t),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCase {
    pub op: OpKind,
    pub dims: Dims,
    pub operands: [MxTensor; 2],
}

impl OpCase {
    /// Draw both operands: stream 0 the first, stream 1 the second, quantized with nearest-away
    /// (the uniform distribution).
    pub fn generate(op: OpKind, dims: Dims, seed: u64) -> OpCase {
        Self::generate_with(op, dims, seed, Dist::Uniform, RoundingMode::NearestAway)
    }

    /// Draw both operands from `dist` (docs/numerics.md §5 and §5.1), quantizing drawn reals with
    /// element rounding `element_rounding`.
    pub fn generate_with(
        op: OpKind,
        dims: Dims,
        seed: u64,
        dist: Dist,
        element_rounding: RoundingMode,
    ) -> OpCase {
        let [(s0, a0), (s1, a1)] = op.operand_layout(dims);
        let gen = |k, s: &[usize], ax| {
            mx_tensor(seed, k, s, ax, OPERAND_RANGE_LOG2, element_rounding, dist)
        };
        OpCase {
            op,
            dims,
            operands: [gen(0, &s0, a0), gen(1, &s1, a1)],
        }
    }

    /// Read both operands from `dir`; their line counts must match the block grids of `dims`.
    pub fn read(op: OpKind, dims: Dims, dir: &Path) -> Result<OpCase, DumpError> {
        dims.memory_need(op)
            .check(op.name())
            .map_err(|e| DumpError::new(dir, 0, e.to_string()))?;
        let layout = op.operand_layout(dims);
        let read = |i: usize| -> Result<MxTensor, DumpError> {
            let (shape, axis) = layout[i].clone();
            read_mx_tensor(&dir.join(op.file(op.operand_names()[i])), shape, axis)
        };
        Ok(OpCase {
            op,
            dims,
            operands: [read(0)?, read(1)?],
        })
    }

    /// The manifest of this case (files are added as they are written).
    pub fn manifest(
        &self,
        seed: Option<u64>,
        dist: Dist,
        dtype: OutDtype,
        mode: RoundingMode,
    ) -> Manifest {
        op_manifest(self.op, self.dims, seed, dist, dtype, mode)
    }

    /// The three dumps (operands, output) with their file names.
    pub fn dumps<'a>(&'a self, output: &'a OpOutput) -> [(String, DumpRef<'a>); 3] {
        let [a, b] = self.op.operand_names();
        [
            (self.op.file(a), DumpRef::MxInt8(&self.operands[0])),
            (self.op.file(b), DumpRef::MxInt8(&self.operands[1])),
            (self.op.file("output"), output.dump()),
        ]
    }

    /// The exact block sums, rounded once per output element, with each element's flags.
    pub fn compute(&self, dtype: OutDtype, mode: RoundingMode) -> OpOutput {
        self.compute_with(dtype, mode, &AccKind::Exact)
    }

    /// The block products summed by the MAC accumulator `acc` (a hardware description's
    /// `mac.accumulator`), rounded once per output element in `mode` (docs/microarchitecture.md).
    pub fn compute_with(&self, dtype: OutDtype, mode: RoundingMode, acc: &AccKind) -> OpOutput {
        let [a, b] = &self.operands;
        let dims = self.op.block_grid(self.dims);
        let shape = self.op.output_shape(self.dims);
        fn apart<F: Copy>(v: Vec<StatusAnd<F>>) -> (Vec<F>, Vec<Status>) {
            v.into_iter().map(|r| (r.value, r.status)).unzip()
        }
        let (tensor, flags) = match dtype {
            OutDtype::Bf16 => {
                let (v, f) = apart(block_matmul::<Bf16>(&a.blocks, &b.blocks, dims, acc, mode));
                (OutTensor::Bf16(Tensor::new(shape, v)), f)
            }
            OutDtype::Fp32 => {
                let (v, f) = apart(block_matmul::<Fp32>(&a.blocks, &b.blocks, dims, acc, mode));
                (OutTensor::Fp32(Tensor::new(shape, v)), f)
            }
        };
        OpOutput { tensor, flags }
    }
}

/// An operation's output and the flags of each of its elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpOutput {
    pub tensor: OutTensor,
    pub flags: Vec<Status>,
}

impl OpOutput {
    pub fn dump(&self) -> DumpRef<'_> {
        self.tensor.dump()
    }
    pub fn flag_counts(&self) -> FlagCounts {
        FlagCounts::of(self.flags.iter().copied())
    }
}

/// The manifest of an operation (files are added as they are written).
pub fn op_manifest(
    op: OpKind,
    dims: Dims,
    seed: Option<u64>,
    dist: Dist,
    dtype: OutDtype,
    mode: RoundingMode,
) -> Manifest {
    let name = dims.case_name(op, seed) + &seed.map_or(String::new(), |_| dist.suffix());
    let mut m = Manifest::new(op.name(), &name, "reference");
    m.seed = seed;
    let Dims { m: dm, k, n } = dims;
    m.params.insert("m".into(), dm.into());
    if op != OpKind::Dot {
        m.params.insert("k".into(), k.into());
    }
    if op == OpKind::Gemm {
        m.params.insert("n".into(), n.into());
    }
    m.params.insert("out_dtype".into(), dtype.name().into());
    m.params.insert("rounding".into(), mode.name().into());
    if dist != Dist::Uniform {
        m.params.insert("dist".into(), dist.name().into());
    }
    m
}

/// Bytes held per operand element and per output element at an operation's peak, upper bounds
/// measured with margin (docs/testing.md): the blocks, the generator's reals, the MAC's prepared
/// operands; the output, its flags and rounding results.
const OPERAND_BYTES: usize = 4;
const OUTPUT_BYTES: usize = 16;

/// Sizes recorded in a manifest, for `--inputs` folders that have one; each must be in
/// `1..=MAX_AXIS`.
pub fn dims_from_manifest(op: OpKind, m: &Manifest) -> Result<Dims, String> {
    let get = |key: &str, needed: bool| -> Result<usize, String> {
        if !needed {
            return Ok(1);
        }
        match m.params.get(key).and_then(|v| v.as_u64()) {
            Some(v) if v >= 1 && v as usize <= crate::layout::MAX_AXIS => Ok(v as usize),
            Some(v) => Err(format!(
                "params.{key} = {v} is outside 1..={}",
                crate::layout::MAX_AXIS
            )),
            None => Err(format!(
                "{} manifest: params.{key} (a whole number) is missing",
                op.name()
            )),
        }
    };
    Ok(Dims {
        m: get("m", true)?,
        k: get("k", op != OpKind::Dot)?,
        n: get("n", op == OpKind::Gemm)?,
    })
}
