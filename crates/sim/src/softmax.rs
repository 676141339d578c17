//! The functional softmax_v pipeline (docs/numerics.md §3), reference profile: every stage is the
//! exact value followed by one rounding, computed by the reference units of `hw-units`.

use crate::gen::Dist;
use crate::tensor::{DumpRef, MxTensor, Tensor};
use hw_types::mxint8::quantize_row;
use hw_types::{Bf16, FlagCounts, Fp32, MxInt8Block, RoundingMode, Status, StatusAnd, BLOCK};
use hw_units::mac::block_matmul;
use hw_units::units::Units;
use rayon::prelude::*;

/// Dump file names, in pipeline order (the dataset's spelling, hyphen in `exp-bf16` included).
pub const QK_T: &str = "softmaxed_v.qk_T";
pub const EXP: &str = "softmaxed_v.exp-bf16";
pub const EXP_SUM: &str = "softmaxed_v.exp_sum";
pub const V: &str = "softmaxed_v.v";
pub const EXP_MX: &str = "softmaxed_v.exp_mxint8";
pub const SCALED_V: &str = "softmaxed_v.scaled_v";
pub const INV: &str = "softmaxed_v.inv";
pub const OUT: &str = "softmaxed_v.out";
pub const FILES: [&str; 8] = [QK_T, EXP, EXP_SUM, V, EXP_MX, SCALED_V, INV, OUT];

/// Shape parameters and the quantizer's element rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub heads: usize,
    pub head_dim: usize,
    pub element_rounding: RoundingMode,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            heads: 32,
            head_dim: 128,
            element_rounding: RoundingMode::NearestAway,
        }
    }
}

/// Largest tensor the generator makes: v of 32 heads x 65,536 x 128 (2^28 elements).
pub const MAX_ELEMENTS: usize = 1 << 28;

impl Params {
    /// A kv-size the generator accepts for these shapes.
    pub fn check_kv(&self, kv: usize) -> Result<(), String> {
        match self.heads.checked_mul(kv).and_then(|x| x.checked_mul(self.head_dim)) {
            Some(n) if kv >= 1 && n <= MAX_ELEMENTS => Ok(()),
            _ => Err(format!(
                "kv-size {kv} is out of range: heads x kv-size x head-dim ({} x {kv} x {}) must be 1..={MAX_ELEMENTS} elements of v",
                self.heads, self.head_dim
            )),
        }
    }
}

/// Bytes held per element of v, and per element of qk_T, at a case's peak, an upper bound
/// measured with margin (docs/testing.md): v's blocks, the generator's reals, the MAC's prepared
/// operands and the dump text being written; qk_T's exp, flags and quantized row.
const V_BYTES: usize = 2;
const QK_BYTES: usize = 32;

/// The memory a case of these shapes needs ([`crate::memory`]): checked by every door before it
/// generates, reads or computes one.
pub fn memory_need(heads: usize, kv: usize, head_dim: usize) -> crate::memory::Need {
    crate::memory::Need::new()
        .add(&[heads, kv, head_dim], V_BYTES)
        .add(&[heads, kv], QK_BYTES)
}

/// Generator range of v (docs/numerics.md §5): [-4, 4).
const V_RANGE_LOG2: i32 = 2;

/// The two inputs: `qk_T` BF16 `[1, H, 1, N]` and `v` MXINT8 `[1, H, N, D]` blocked on axis 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub qk_t: Tensor<Bf16>,
    pub v: MxTensor,
}

impl Inputs {
    pub fn kv_size(&self) -> usize {
        self.qk_t.shape[3]
    }

    /// Draw the inputs of case `kv-size-N_seed-S` (the dataset's uniform distribution).
    pub fn generate(kv: usize, seed: u64, p: &Params) -> Inputs {
        Self::generate_with(kv, seed, p, Dist::Uniform)
    }

    /// Draw the inputs from `dist` (docs/numerics.md §5 and §5.1).
    pub fn generate_with(kv: usize, seed: u64, p: &Params, dist: Dist) -> Inputs {
        let (h, d) = (p.heads, p.head_dim);
        Inputs {
            qk_t: Tensor::new(vec![1, h, 1, kv], crate::gen::qk_t(seed, h, kv, dist)),
            v: crate::gen::mx_tensor(
                seed,
                1,
                &[1, h, kv, d],
                2,
                V_RANGE_LOG2,
                p.element_rounding,
                dist,
            ),
        }
    }
}

/// Every stage's tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stages {
    pub inputs: Inputs,
    pub exp: Tensor<Bf16>,
    pub exp_sum: Tensor<Bf16>,
    pub exp_mx: MxTensor,
    pub scaled_v: Tensor<Bf16>,
    pub inv: Tensor<Bf16>,
    pub out: Tensor<Bf16>,
    pub flags: StageFlags,
}

/// The IEEE flags of every result of the computed stages (the inputs have none), in each
/// tensor's element order; one entry per block for the MXINT8 stage.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StageFlags {
    pub exp: Vec<Status>,
    pub exp_sum: Vec<Status>,
    pub exp_mx: Vec<Status>,
    pub scaled_v: Vec<Status>,
    pub inv: Vec<Status>,
    pub out: Vec<Status>,
}

impl StageFlags {
    /// The flags of one dump's results, `None` for an input dump.
    pub fn of(&self, file: &str) -> Option<&[Status]> {
        Some(match file {
            EXP => &self.exp,
            EXP_SUM => &self.exp_sum,
            EXP_MX => &self.exp_mx,
            SCALED_V => &self.scaled_v,
            INV => &self.inv,
            OUT => &self.out,
            _ => return None,
        })
    }

    /// Per computed dump, how many results raised each flag (pipeline order).
    pub fn counts(&self) -> Vec<(&'static str, FlagCounts)> {
        FILES
            .iter()
            .filter_map(|f| Some((*f, FlagCounts::of(self.of(f)?.iter().copied()))))
            .collect()
    }
}

impl Stages {
    /// The eight dumps in pipeline order with their file names.
    pub fn dumps(&self) -> [(&'static str, DumpRef<'_>); 8] {
        [
            (QK_T, DumpRef::Bf16(&self.inputs.qk_t)),
            (EXP, DumpRef::Bf16(&self.exp)),
            (EXP_SUM, DumpRef::Bf16(&self.exp_sum)),
            (V, DumpRef::MxInt8(&self.inputs.v)),
            (EXP_MX, DumpRef::MxInt8(&self.exp_mx)),
            (SCALED_V, DumpRef::Bf16(&self.scaled_v)),
            (INV, DumpRef::Bf16(&self.inv)),
            (OUT, DumpRef::Bf16(&self.out)),
        ]
    }
}

/// Run the pipeline with the reference units.
pub fn run(inputs: Inputs, p: &Params) -> Stages {
    run_with(inputs, p, reference_units())
}

/// The reference profile's units, built once.
pub fn reference_units() -> &'static Units {
    static U: std::sync::OnceLock<Units> = std::sync::OnceLock::new();
    U.get_or_init(|| Units::new(&hw_units::config::HwConfig::reference()))
}

/// Run the pipeline with the given units, each stage in the order the hardware sees its data
/// (reduce-sum in kv order, the MAC over blocks in order). The inputs' shapes must agree
/// (`Inputs::generate` and `Inputs::read` ensure it).
pub fn run_with(inputs: Inputs, p: &Params, u: &Units) -> Stages {
    let (h, kv, d) = (inputs.qk_t.shape[1], inputs.kv_size(), inputs.v.shape[3]);
    let nb = kv.div_ceil(BLOCK);
    // Stage 1: exp, elementwise.
    let exp: Vec<StatusAnd<Bf16>> = inputs.qk_t.data.iter().map(|&x| u.exp.eval(x)).collect();
    // Stages 2 and 3, per head: reduce-sum and quantization along kv.
    let per_head: Vec<(StatusAnd<Bf16>, Vec<StatusAnd<MxInt8Block>>)> = exp
        .par_chunks(kv)
        .map(|row| {
            let values: Vec<Bf16> = row.iter().map(|x| x.value).collect();
            let widened: Vec<Fp32> = values.iter().map(|x| x.to_fp32()).collect();
            let mut blocks = Vec::with_capacity(nb);
            quantize_row(&widened, p.element_rounding, &mut blocks);
            (u.reduce_sum(&values), blocks)
        })
        .collect();
    let exp_sum: Vec<StatusAnd<Bf16>> = per_head.iter().map(|(s, _)| *s).collect();
    let exp_blocks: Vec<StatusAnd<MxInt8Block>> =
        per_head.into_iter().flat_map(|(_, b)| b).collect();
    let blocks: Vec<MxInt8Block> = exp_blocks.iter().map(|b| b.value).collect();
    // Stage 4: gevm per head, [1, nb] x [nb, d] block grids, accumulated over blocks in order.
    let scaled_v: Vec<StatusAnd<Bf16>> = (0..h)
        .flat_map(|hh| {
            block_matmul::<Bf16>(
                &blocks[hh * nb..(hh + 1) * nb],
                &inputs.v.blocks[hh * nb * d..(hh + 1) * nb * d],
                (1, nb, d),
                &u.mac_acc,
                RoundingMode::NearestEven,
            )
        })
        .collect();
    // Stage 5: reciprocal; stage 6: scale.
    let inv: Vec<StatusAnd<Bf16>> = exp_sum.iter().map(|s| u.recip.eval(s.value)).collect();
    let out: Vec<StatusAnd<Bf16>> = scaled_v
        .iter()
        .enumerate()
        .map(|(i, x)| u.mul(x.value, inv[i / d].value))
        .collect();
    Stages::assemble(
        inputs,
        StageData {
            exp,
            exp_sum,
            exp_blocks,
            scaled_v,
            inv,
            out,
        },
    )
}

/// Every computed stage with its flags, flat, in the order the tensors' shapes lay them out.
pub struct StageData {
    pub exp: Vec<StatusAnd<Bf16>>,
    pub exp_sum: Vec<StatusAnd<Bf16>>,
    pub exp_blocks: Vec<StatusAnd<MxInt8Block>>,
    pub scaled_v: Vec<StatusAnd<Bf16>>,
    pub inv: Vec<StatusAnd<Bf16>>,
    pub out: Vec<StatusAnd<Bf16>>,
}

/// Values and flags of a computed stage, apart.
fn split<T: Copy>(v: Vec<StatusAnd<T>>) -> (Vec<T>, Vec<Status>) {
    v.into_iter().map(|r| (r.value, r.status)).unzip()
}

impl Stages {
    /// Give the computed data its shapes (the same for the functional and the cycle model).
    pub fn assemble(inputs: Inputs, s: StageData) -> Stages {
        let (h, kv, d) = (inputs.qk_t.shape[1], inputs.kv_size(), inputs.v.shape[3]);
        let (exp, exp_f) = split(s.exp);
        let (exp_sum, exp_sum_f) = split(s.exp_sum);
        let (blocks, exp_mx_f) = split(s.exp_blocks);
        let (scaled_v, scaled_v_f) = split(s.scaled_v);
        let (inv, inv_f) = split(s.inv);
        let (out, out_f) = split(s.out);
        Stages {
            exp: Tensor::new(vec![1, h, 1, kv], exp),
            exp_sum: Tensor::new(vec![1, h, 1, 1], exp_sum),
            exp_mx: MxTensor {
                shape: vec![1, h, 1, kv],
                block_axis: 3,
                blocks,
            },
            scaled_v: Tensor::new(vec![1, h, 1, d], scaled_v),
            inv: Tensor::new(vec![1, h, 1, 1], inv),
            out: Tensor::new(vec![1, h, 1, d], out),
            flags: StageFlags {
                exp: exp_f,
                exp_sum: exp_sum_f,
                exp_mx: exp_mx_f,
                scaled_v: scaled_v_f,
                inv: inv_f,
                out: out_f,
            },
            inputs,
        }
    }
}

impl Inputs {
    /// Read `softmaxed_v.qk_T` and `softmaxed_v.v` from a case folder. The kv-size follows from the
    /// qk_T line count and the head count; every line count is checked against the shapes.
    pub fn read(dir: &std::path::Path, p: &Params) -> anyhow::Result<Inputs> {
        use crate::dump::{read_bf16, read_mx_tensor, DumpError};
        let qk_path = dir.join(QK_T);
        let qk = read_bf16(&qk_path, None)?;
        if p.heads == 0 || qk.len() % p.heads != 0 {
            return Err(DumpError::new(
                &qk_path,
                0,
                format!(
                    "{} lines do not fit the shape [1, {}, 1, kv] (not a multiple of {} heads)",
                    qk.len(),
                    p.heads,
                    p.heads
                ),
            )
            .into());
        }
        let kv = qk.len() / p.heads;
        p.check_kv(kv).map_err(|e| DumpError::new(&qk_path, 0, e))?;
        memory_need(p.heads, kv, p.head_dim).check(&format!("softmax_v kv-size {kv}"))?;
        let v = read_mx_tensor(&dir.join(V), vec![1, p.heads, kv, p.head_dim], 2)?;
        Ok(Inputs {
            qk_t: Tensor::new(vec![1, p.heads, 1, kv], qk),
            v,
        })
    }
}

/// The manifest of a softmax_v case (files are added as they are written).
pub fn manifest(case: &str, kv: usize, seed: Option<u64>, p: &Params) -> crate::manifest::Manifest {
    let mut m = crate::manifest::Manifest::new("softmax_v", case, "reference");
    m.kv_size = Some(kv);
    m.seed = seed;
    m.params.insert("num_heads".into(), p.heads.into());
    m.params.insert("head_dim".into(), p.head_dim.into());
    m.params
        .insert("element_rounding".into(), p.element_rounding.name().into());
    m
}
