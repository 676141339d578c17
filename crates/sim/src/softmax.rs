//! The functional softmax_v pipeline (docs/numerics.md §3), reference profile: every stage is the
//! exact value followed by one rounding, computed by the reference units of `hw-units`.

use crate::gen::Dist;
use crate::mx_op::ProductSum;
use crate::tensor::{int8_of, DumpRef, MxCodes, MxData, MxTensor, Tensor};
use hw_types::mx::MXINT8;
use hw_types::{
    Bf16, FlagCounts, Fp32, MxBlock, MxFormat, RoundingMode, ScaleRule, Status, StatusAnd, BLOCK,
    MX_FORMATS,
};
use hw_units::mac::block_matmul;
use hw_units::quantize::Quantizer;
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

/// The dump of exp's quantization per row of [`MX_FORMATS`]: `softmaxed_v.exp_<format>`.
pub const EXP_FILES: [&str; MX_FORMATS.len()] = [
    EXP_MX,
    "softmaxed_v.exp_mxfp8-e4m3",
    "softmaxed_v.exp_mxfp8-e5m2",
    "softmaxed_v.exp_mxfp6-e3m2",
    "softmaxed_v.exp_mxfp6-e2m3",
    "softmaxed_v.exp_mxfp4-e2m1",
];

/// The name of exp's quantization dump in `format`.
pub fn exp_file(format: &MxFormat) -> &'static str {
    EXP_FILES[format.row()]
}

/// The eight dump names of a case whose exp is quantized to `exp_format`, in pipeline order.
pub fn files(exp_format: &MxFormat) -> [&'static str; 8] {
    let mut f = FILES;
    f[4] = exp_file(exp_format);
    f
}

/// The block formats of the pipeline's two MX operands (exp's quantization and v) and the scale
/// rule of both (docs/numerics.md §3 and §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formats {
    pub exp: MxFormat,
    pub v: MxFormat,
    pub rule: ScaleRule,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            exp: MXINT8,
            v: MXINT8,
            rule: ScaleRule::Floor,
        }
    }
}

impl Formats {
    /// Both operands MXINT8 under `floor`: the dataset's pipeline, on the MAC array's kernels.
    pub fn is_mxint8(&self) -> bool {
        *self == Formats::default()
    }

    /// The formats a manifest's `params` record (`exp_format`, `v_format`, `scale_rule`; each
    /// absent one is the dataset's).
    pub fn from_params(
        params: &indexmap::IndexMap<String, serde_json::Value>,
    ) -> Result<Formats, String> {
        Formats::from_fields(|k| params.get(k).and_then(|v| v.as_str()))
    }

    /// [`from_params`](Self::from_params) from any record of those three fields: `text(key)`
    /// is a field's value, `None` when absent.
    pub fn from_fields<'a>(text: impl Fn(&str) -> Option<&'a str>) -> Result<Formats, String> {
        let format = |k: &str| -> Result<MxFormat, String> {
            match text(k) {
                None => Ok(MXINT8),
                Some(n) => MxFormat::from_name(n).ok_or_else(|| {
                    format!(
                        "params.{k}: unknown MX format '{n}' (expected one of: {})",
                        MxFormat::names()
                    )
                }),
            }
        };
        let rule = match text("scale_rule") {
            None => ScaleRule::Floor,
            Some(r) => r.parse().map_err(|e| format!("params.scale_rule: {e}"))?,
        };
        Ok(Formats {
            exp: format("exp_format")?,
            v: format("v_format")?,
            rule,
        })
    }

    /// What a case folder's name adds for these formats: nothing for the dataset's, else
    /// `_<F>_<G>` and a `_rule-<R>` other than floor (like `sim op`'s MX cases).
    pub fn case_suffix(&self) -> String {
        if self.is_mxint8() {
            return String::new();
        }
        let mut s = format!("_{}_{}", self.exp.name, self.v.name);
        if self.rule != ScaleRule::Floor {
            s += &format!("_rule-{}", self.rule.name());
        }
        s
    }

    /// `F/G`, the `--compare-formats` spelling.
    pub fn pair_name(&self) -> String {
        format!("{}/{}", self.exp.name, self.v.name)
    }
}

/// Shape parameters, the block formats and the quantizers' element rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub heads: usize,
    pub head_dim: usize,
    /// `None`: each format's own default (nearest-away for MXINT8, nearest-even otherwise).
    pub element_rounding: Option<RoundingMode>,
    pub formats: Formats,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            heads: 32,
            head_dim: 128,
            element_rounding: None,
            formats: Formats::default(),
        }
    }
}

impl Params {
    /// The element rounding of a quantizer into `format`.
    pub fn rounding(&self, format: &MxFormat) -> RoundingMode {
        self.element_rounding.unwrap_or(format.default_rounding)
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
pub(crate) const V_RANGE_LOG2: i32 = 2;

/// The two inputs: `qk_T` BF16 `[1, H, 1, N]` and `v` `[1, H, N, D]` blocked on axis 2, in
/// the v format (MXINT8 by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub qk_t: Tensor<Bf16>,
    pub v: MxData,
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
        let (f, shape) = (&p.formats, [1, h, kv, d]);
        let rounding = p.rounding(&f.v);
        // The same reals in every format: the MXINT8 generator is mx_codes's MXINT8 row.
        let v = if f.is_mxint8() {
            MxData::Int8(crate::gen::mx_tensor(
                seed,
                1,
                &shape,
                2,
                V_RANGE_LOG2,
                rounding,
                dist,
            ))
        } else {
            MxData::Codes(crate::gen::mx_codes(
                seed,
                1,
                &shape,
                2,
                V_RANGE_LOG2,
                f.v,
                f.rule,
                rounding,
                dist,
            ))
        };
        Inputs {
            qk_t: Tensor::new(vec![1, h, 1, kv], crate::gen::qk_t(seed, h, kv, dist)),
            v,
        }
    }
}

/// Every stage's tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stages {
    pub inputs: Inputs,
    pub exp: Tensor<Bf16>,
    pub exp_sum: Tensor<Bf16>,
    pub exp_mx: MxData,
    pub scaled_v: Tensor<Bf16>,
    pub inv: Tensor<Bf16>,
    pub out: Tensor<Bf16>,
    pub flags: StageFlags,
}

/// The IEEE flags of every result of the computed stages (the inputs have none), in each
/// tensor's element order; one entry per block for exp's quantization.
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
            f if EXP_FILES.contains(&f) => &self.exp_mx,
            SCALED_V => &self.scaled_v,
            INV => &self.inv,
            OUT => &self.out,
            _ => return None,
        })
    }
}

impl Stages {
    /// The eight dump names, in pipeline order.
    pub fn files(&self) -> [&'static str; 8] {
        files(&self.exp_mx.format())
    }

    /// Per computed dump, how many results raised each flag (pipeline order).
    pub fn flag_counts(&self) -> Vec<(&'static str, FlagCounts)> {
        self.files()
            .iter()
            .filter_map(|f| Some((*f, FlagCounts::of(self.flags.of(f)?.iter().copied()))))
            .collect()
    }

    /// The eight dumps in pipeline order with their file names.
    pub fn dumps(&self) -> [(&'static str, DumpRef<'_>); 8] {
        [
            (QK_T, DumpRef::Bf16(&self.inputs.qk_t)),
            (EXP, DumpRef::Bf16(&self.exp)),
            (EXP_SUM, DumpRef::Bf16(&self.exp_sum)),
            (V, self.inputs.v.dump()),
            (exp_file(&self.exp_mx.format()), self.exp_mx.dump()),
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
    let (h, kv, d) = (inputs.qk_t.shape[1], inputs.kv_size(), inputs.v.shape()[3]);
    let nb = kv.div_ceil(BLOCK);
    // Stage 1: exp, elementwise.
    let exp: Vec<StatusAnd<Bf16>> = inputs.qk_t.data.iter().map(|&x| u.exp.eval(x)).collect();
    // Stages 2 and 3, per head: reduce-sum and quantization along kv.
    let per_head: Vec<(StatusAnd<Bf16>, Vec<StatusAnd<MxBlock>>)> = exp
        .par_chunks(kv)
        .map(|row| {
            let values: Vec<Bf16> = row.iter().map(|x| x.value).collect();
            let widened: Vec<Fp32> = values.iter().map(|x| x.to_fp32()).collect();
            (u.reduce_sum(&values), quantize_exp(&widened, p))
        })
        .collect();
    let exp_sum: Vec<StatusAnd<Bf16>> = per_head.iter().map(|(s, _)| *s).collect();
    let exp_blocks: Vec<StatusAnd<MxBlock>> = per_head.into_iter().flat_map(|(_, b)| b).collect();
    // Stage 4: gevm per head, [1, nb] x [nb, d] block grids, accumulated over blocks in order.
    let scaled_v = match inputs.v.int8() {
        Some(v) if p.formats.is_mxint8() => {
            let blocks: Vec<_> = exp_blocks.iter().map(|b| int8_of(&b.value)).collect();
            (0..h)
                .flat_map(|hh| {
                    block_matmul::<Bf16>(
                        &blocks[hh * nb..(hh + 1) * nb],
                        &v.blocks[hh * nb * d..(hh + 1) * nb * d],
                        (1, nb, d),
                        &u.mac_acc,
                        RoundingMode::NearestEven,
                    )
                })
                .collect()
        }
        _ => gevm_mx(&exp_blocks, &p.formats, &inputs.v, (h, nb, d)),
    };
    // Stage 5: reciprocal; stage 6: scale.
    let inv: Vec<StatusAnd<Bf16>> = exp_sum.iter().map(|s| u.recip.eval(s.value)).collect();
    let out: Vec<StatusAnd<Bf16>> = scaled_v
        .iter()
        .enumerate()
        .map(|(i, x)| u.mul(x.value, inv[i / d].value))
        .collect();
    Stages::assemble(
        inputs,
        &p.formats,
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

/// One head's exp row quantized along kv into the exp format, in blocks of 32 (the last
/// zero-padded): `floor` with MXINT8 is the dataset's quantizer (docs/numerics.md §4, §8).
pub fn quantize_exp(row: &[Fp32], p: &Params) -> Vec<StatusAnd<MxBlock>> {
    let (f, mode) = (&p.formats, p.rounding(&p.formats.exp));
    let quantizer = Quantizer::best().mx(&f.exp, f.rule, mode);
    row.chunks(BLOCK)
        .map(|chunk| quantizer.quantize(chunk))
        .collect()
}

/// softmax_v's gevm over any pair of formats (docs/numerics.md §8): every output the exact sum
/// of its block products times both scales, rounded once to BF16 (nearest-even). The MAC
/// array's accumulator models are MXINT8's; the doors refuse other formats with a non-exact
/// one ([`check_mac`]).
fn gevm_mx(
    exp_blocks: &[StatusAnd<MxBlock>],
    f: &Formats,
    v: &MxData,
    (h, nb, d): (usize, usize, usize),
) -> Vec<StatusAnd<Bf16>> {
    (0..h * d)
        .into_par_iter()
        .map(|o| {
            let (hh, col) = (o / d, o % d);
            let mut sum = ProductSum::new();
            for j in 0..nb {
                let vb = v.block((hh * nb + j) * d + col);
                sum.add(&f.exp, &exp_blocks[hh * nb + j].value, &f.v, &vb);
            }
            sum.round::<Bf16>(RoundingMode::NearestEven)
        })
        .collect()
}

/// Formats other than the dataset's are multiplied exactly (docs/numerics.md §8): a hardware
/// description whose MAC accumulator is not exact cannot run them.
pub fn check_mac(p: &Params, acc: &hw_units::config::AccKind) -> Result<(), String> {
    if p.formats.is_mxint8() || *acc == hw_units::config::AccKind::Exact {
        return Ok(());
    }
    Err(format!(
        "exp format {} and v format {} under rule {}: the gevm of MX formats other than the dataset's (mxint8/mxint8, floor) sums exactly, and this hardware description's MAC accumulator is not exact; use the reference profile or a config whose mac.accumulator is \"exact\"",
        p.formats.exp.name,
        p.formats.v.name,
        p.formats.rule.name()
    ))
}

/// Every computed stage with its flags, flat, in the order the tensors' shapes lay them out.
pub struct StageData {
    pub exp: Vec<StatusAnd<Bf16>>,
    pub exp_sum: Vec<StatusAnd<Bf16>>,
    pub exp_blocks: Vec<StatusAnd<MxBlock>>,
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
    pub fn assemble(inputs: Inputs, formats: &Formats, s: StageData) -> Stages {
        let (h, kv, d) = (inputs.qk_t.shape[1], inputs.kv_size(), inputs.v.shape()[3]);
        let (exp, exp_f) = split(s.exp);
        let (exp_sum, exp_sum_f) = split(s.exp_sum);
        let (blocks, exp_mx_f) = split(s.exp_blocks);
        let (scaled_v, scaled_v_f) = split(s.scaled_v);
        let (inv, inv_f) = split(s.inv);
        let (out, out_f) = split(s.out);
        Stages {
            exp: Tensor::new(vec![1, h, 1, kv], exp),
            exp_sum: Tensor::new(vec![1, h, 1, 1], exp_sum),
            exp_mx: if formats.is_mxint8() {
                MxData::Int8(MxTensor {
                    shape: vec![1, h, 1, kv],
                    block_axis: 3,
                    blocks: blocks.iter().map(int8_of).collect(),
                })
            } else {
                MxData::Codes(MxCodes {
                    format: formats.exp,
                    shape: vec![1, h, 1, kv],
                    block_axis: 3,
                    blocks,
                })
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
        use crate::dump::{read_bf16, read_mx_codes, read_mx_tensor, DumpError};
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
        let (path, shape) = (dir.join(V), vec![1, p.heads, kv, p.head_dim]);
        let v = if p.formats.is_mxint8() {
            MxData::Int8(read_mx_tensor(&path, shape, 2)?)
        } else {
            MxData::Codes(read_mx_codes(&path, p.formats.v, shape, 2)?)
        };
        Ok(Inputs {
            qk_t: Tensor::new(vec![1, p.heads, 1, kv], qk),
            v,
        })
    }
}

/// The folder name of generated case (`kv`, `seed`): `kv-size-N_seed-S`, then the formats'
/// suffix ([`Formats::case_suffix`]) and the distribution's.
pub fn case_name(kv: usize, seed: u64, dist: Dist, formats: &Formats) -> String {
    format!(
        "kv-size-{kv}_seed-{seed}{}{}",
        formats.case_suffix(),
        dist.suffix()
    )
}

/// The manifest of a softmax_v case (files are added as they are written).
pub fn manifest(case: &str, kv: usize, seed: Option<u64>, p: &Params) -> crate::manifest::Manifest {
    let mut m = crate::manifest::Manifest::new("softmax_v", case, "reference");
    m.kv_size = Some(kv);
    m.seed = seed;
    m.params.insert("num_heads".into(), p.heads.into());
    m.params.insert("head_dim".into(), p.head_dim.into());
    let f = &p.formats;
    if f.is_mxint8() {
        // The dataset's manifest, as it always was.
        let rounding = p.rounding(&f.exp);
        m.params
            .insert("element_rounding".into(), rounding.name().into());
        return m;
    }
    m.params.insert("exp_format".into(), f.exp.name.into());
    m.params.insert("v_format".into(), f.v.name.into());
    m.params.insert("scale_rule".into(), f.rule.name().into());
    if let Some(r) = p.element_rounding {
        m.params.insert("element_rounding".into(), r.name().into());
    }
    m
}
