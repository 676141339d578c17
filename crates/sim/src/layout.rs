//! What a case folder holds: its files in pipeline order, with dtype, shape, axis names and the
//! stages each file is computed from. `sim diff` and `sim check` walk this.

use crate::dump::{parse_words, DumpError};
use crate::manifest::{Manifest, FILE_NAME};
use crate::ops::{Dims, OpKind};
use crate::softmax;
use crate::tensor::{grid_shape, Dtype};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    pub name: String,
    pub dtype: Dtype,
    /// Logical shape.
    pub shape: Vec<usize>,
    pub block_axis: Option<usize>,
    /// One name per axis of the dump's line grid (the block grid for MXINT8).
    pub axes: Vec<&'static str>,
    /// Indices (into the layout) of the files this one is computed from.
    pub deps: Vec<usize>,
}

impl FileSpec {
    /// Shape of the line grid: the logical shape, or the block grid for MXINT8.
    pub fn grid(&self) -> Vec<usize> {
        match self.block_axis {
            Some(a) => grid_shape(&self.shape, a),
            None => self.shape.clone(),
        }
    }
    pub fn lines(&self) -> usize {
        self.grid().iter().product()
    }
    /// Coordinates of line `i` (0-based) as (axis name, index) pairs.
    pub fn coords(&self, i: usize) -> Vec<(&'static str, usize)> {
        let grid = self.grid();
        let mut idx = vec![0; grid.len()];
        let mut rem = i;
        for ax in (0..grid.len()).rev() {
            idx[ax] = rem % grid[ax].max(1);
            rem /= grid[ax].max(1);
        }
        self.axes.iter().copied().zip(idx).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `softmax_v`, `dot`, `gevm`, `gemm` or `rope`.
    pub op: String,
    pub files: Vec<FileSpec>,
}

fn spec(
    name: &str,
    dtype: Dtype,
    shape: Vec<usize>,
    block_axis: Option<usize>,
    axes: &[&'static str],
    deps: &[usize],
) -> FileSpec {
    FileSpec {
        name: name.to_string(),
        dtype,
        shape,
        block_axis,
        axes: axes.to_vec(),
        deps: deps.to_vec(),
    }
}

/// The softmax_v files in pipeline order: inputs first, then each stage after its inputs; v and
/// exp's quantization in their formats.
pub fn softmax_layout(heads: usize, kv: usize, head_dim: usize, f: &softmax::Formats) -> Layout {
    use softmax::*;
    let (h, d) = (heads, head_dim);
    let row = &["batch", "head", "q", "kv"];
    let col = &["batch", "head", "q", "column"];
    let one = &["batch", "head", "q", "sum"];
    Layout {
        op: "softmax_v".into(),
        files: vec![
            spec(QK_T, Dtype::Bf16, vec![1, h, 1, kv], None, row, &[]),
            spec(
                V,
                Dtype::of_format(f.v),
                vec![1, h, kv, d],
                Some(2),
                &["batch", "head", "block", "column"],
                &[],
            ),
            spec(EXP, Dtype::Bf16, vec![1, h, 1, kv], None, row, &[0]),
            spec(EXP_SUM, Dtype::Bf16, vec![1, h, 1, 1], None, one, &[2]),
            spec(
                exp_file(&f.exp),
                Dtype::of_format(f.exp),
                vec![1, h, 1, kv],
                Some(3),
                &["batch", "head", "q", "block"],
                &[2],
            ),
            spec(SCALED_V, Dtype::Bf16, vec![1, h, 1, d], None, col, &[1, 4]),
            spec(INV, Dtype::Bf16, vec![1, h, 1, 1], None, one, &[3]),
            spec(OUT, Dtype::Bf16, vec![1, h, 1, d], None, col, &[5, 6]),
        ],
    }
}

pub fn op_layout(op: OpKind, d: Dims, out: Dtype) -> Layout {
    let [a, b] = op.operand_names();
    let (fa, fb, fo) = (op.file(a), op.file(b), op.file("output"));
    let files = match op {
        OpKind::Dot => vec![
            spec(&fa, Dtype::MxInt8, vec![d.m], Some(0), &["block"], &[]),
            spec(&fb, Dtype::MxInt8, vec![d.m], Some(0), &["block"], &[]),
            spec(&fo, out, vec![], None, &[], &[0, 1]),
        ],
        OpKind::Gevm => vec![
            spec(&fa, Dtype::MxInt8, vec![d.m], Some(0), &["block"], &[]),
            spec(
                &fb,
                Dtype::MxInt8,
                vec![d.m, d.k],
                Some(0),
                &["block", "column"],
                &[],
            ),
            spec(&fo, out, vec![d.k], None, &["column"], &[0, 1]),
        ],
        OpKind::Gemm => vec![
            spec(
                &fa,
                Dtype::MxInt8,
                vec![d.m, d.k],
                Some(1),
                &["row", "block"],
                &[],
            ),
            spec(
                &fb,
                Dtype::MxInt8,
                vec![d.k, d.n],
                Some(0),
                &["block", "column"],
                &[],
            ),
            spec(&fo, out, vec![d.m, d.n], None, &["row", "column"], &[0, 1]),
        ],
    };
    Layout {
        op: op.name().into(),
        files,
    }
}

/// The quantize operation: `quantize.input` BF16 `[m]`, `quantize.output` MXINT8 blocked on axis 0.
pub fn quantize_layout(m: usize) -> Layout {
    use crate::quantize_op::{INPUT, OUTPUT};
    Layout {
        op: "quantize".into(),
        files: vec![
            spec(INPUT, Dtype::Bf16, vec![m], None, &["element"], &[]),
            spec(OUTPUT, Dtype::MxInt8, vec![m], Some(0), &["block"], &[0]),
        ],
    }
}

pub fn rope_layout(max_pos: usize, head_dim: usize) -> Layout {
    let shape = vec![1, max_pos, head_dim / 2];
    let axes = &["batch", "position", "index"];
    let mk = |name: &str, dtype, deps: &[usize]| spec(name, dtype, shape.clone(), None, axes, deps);
    Layout {
        op: "rope".into(),
        files: vec![
            mk("rope.freq_bf16", Dtype::Bf16, &[]),
            mk("rope.cos_bf16", Dtype::Bf16, &[0]),
            mk("rope.sin_bf16", Dtype::Bf16, &[0]),
            mk("rope.freq_fp32", Dtype::Fp32, &[]),
            mk("rope.cos_fp32", Dtype::Fp32, &[3]),
            mk("rope.sin_fp32", Dtype::Fp32, &[3]),
        ],
    }
}

/// Shape defaults for folders without a manifest.
#[derive(Clone, Copy, Debug)]
pub struct Hints {
    pub heads: usize,
    pub head_dim: usize,
}

impl Default for Hints {
    fn default() -> Self {
        Hints {
            heads: 32,
            head_dim: 128,
        }
    }
}

fn count_lines(path: &Path, dtype: Dtype) -> Result<usize, DumpError> {
    let text = crate::dump::read_file(path)?;
    Ok(parse_words(path, &text, dtype, None)?.len())
}

/// Work out a folder's layout: from its manifest when it has one, else from its file names and
/// line counts (softmax: heads and head_dim from `hints`; ops: sizes solved from the three line
/// counts, a length along a blocked axis taken as whole blocks; rope: head_dim from `hints`).
/// `None` when the folder holds no known case.
pub fn detect(dir: &Path, hints: Hints) -> Result<Option<Layout>, DumpError> {
    let mpath = dir.join(FILE_NAME);
    if mpath.exists() {
        let m = Manifest::read(&mpath)?;
        return from_manifest(&m)
            .map(Some)
            .map_err(|e| DumpError::new(&mpath, 0, e));
    }
    let has = |n: &str| dir.join(n).exists();
    if has(softmax::QK_T) {
        let n = count_lines(&dir.join(softmax::QK_T), Dtype::Bf16)?;
        if n % hints.heads != 0 {
            return Err(DumpError::new(
                &dir.join(softmax::QK_T),
                0,
                format!("{n} lines do not fit [1, {}, 1, kv]", hints.heads),
            ));
        }
        return Ok(Some(softmax_layout(
            hints.heads,
            n / hints.heads,
            hints.head_dim,
            &softmax::Formats::default(),
        )));
    }
    if has(crate::quantize_op::INPUT) {
        let m = count_lines(&dir.join(crate::quantize_op::INPUT), Dtype::Bf16)?;
        return Ok(Some(quantize_layout(m)));
    }
    if has("rope.freq_bf16") {
        let n = count_lines(&dir.join("rope.freq_bf16"), Dtype::Bf16)?;
        let half = hints.head_dim / 2;
        return Ok(Some(rope_layout(n / half.max(1), hints.head_dim)));
    }
    for op in [OpKind::Dot, OpKind::Gevm, OpKind::Gemm] {
        let [a, b] = op.operand_names();
        if !(has(&op.file(a)) && has(&op.file(b))) {
            continue;
        }
        let la = count_lines(&dir.join(op.file(a)), Dtype::MxInt8)?;
        let lb = count_lines(&dir.join(op.file(b)), Dtype::MxInt8)?;
        let out_path = dir.join(op.file("output"));
        let text = crate::dump::read_file(&out_path).unwrap_or_default();
        let out_dtype = if text.iter().position(|&c| c == b'\n') == Some(8) {
            Dtype::Fp32
        } else {
            Dtype::Bf16
        };
        let dims = match op {
            OpKind::Dot => Dims {
                m: 32 * la,
                k: 1,
                n: 1,
            },
            OpKind::Gevm => Dims {
                m: 32 * la,
                k: lb / la.max(1),
                n: 1,
            },
            OpKind::Gemm => {
                // input m*kb, other kb*n, output m*n lines.
                let lo = count_lines(&out_path, out_dtype)?;
                let kb2 = (la * lb) / lo.max(1);
                let kb = (kb2 as f64).sqrt().round() as usize;
                if kb == 0 || kb * kb * lo != la * lb {
                    return Err(DumpError::new(
                        dir,
                        0,
                        format!("line counts {la}, {lb}, {lo} of gemm.input/other/output fit no [m,k]x[k,n]; add a manifest.json"),
                    ));
                }
                Dims {
                    m: la / kb,
                    k: 32 * kb,
                    n: lb / kb,
                }
            }
        };
        return Ok(Some(op_layout(op, dims, out_dtype)));
    }
    Ok(None)
}

/// Largest size accepted for any one axis read from a manifest or derived from line counts.
pub const MAX_AXIS: usize = 1 << 24;
/// Largest line count of one dump a layout may ask for.
pub const MAX_LINES: usize = 1 << 31;

/// The layout a manifest describes, or what is wrong with it.
pub fn from_manifest(m: &Manifest) -> Result<Layout, String> {
    let param = |k: &str| -> Result<usize, String> {
        let v =
            m.params.get(k).and_then(|v| v.as_u64()).ok_or_else(|| {
                format!("{} manifest: params.{k} (a whole number) is missing", m.op)
            })?;
        if v == 0 || v as usize > MAX_AXIS {
            return Err(format!("params.{k} = {v} is outside 1..={MAX_AXIS}"));
        }
        Ok(v as usize)
    };
    let layout = match m.op.as_str() {
        "softmax_v" => {
            let kv = m.kv_size.ok_or("softmax_v manifest: kv_size is missing")?;
            if kv == 0 || kv > MAX_AXIS {
                return Err(format!("kv_size = {kv} is outside 1..={MAX_AXIS}"));
            }
            let formats = softmax::Formats::from_params(&m.params)?;
            softmax_layout(param("num_heads")?, kv, param("head_dim")?, &formats)
        }
        "rope" => rope_layout(param("max_pos")?, param("head_dim")?),
        "quantize" => quantize_layout(param("m")?),
        op => {
            let kind = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
                .into_iter()
                .find(|k| k.name() == op)
                .ok_or_else(|| {
                    format!(
                        "unknown op '{op}' (expected softmax_v, dot, gevm, gemm, quantize or rope)"
                    )
                })?;
            let dims = crate::ops::dims_from_manifest(kind, m)?;
            let out = m
                .files
                .get(&kind.file("output"))
                .and_then(|f| f.dtype())
                .ok_or_else(|| {
                    format!("files.{} with its dtype is missing", kind.file("output"))
                })?;
            op_layout(kind, dims, out)
        }
    };
    let mut layout = layout;
    // Blocked files of another MX format say so in their dtype (docs/dump-format.md).
    for f in layout.files.iter_mut().filter(|f| f.dtype == Dtype::MxInt8) {
        if let Some(d @ Dtype::Mx(_)) = m.files.get(&f.name).and_then(|e| e.dtype()) {
            f.dtype = d;
        }
    }
    match layout.files.iter().find(|f| checked_lines(f).is_none()) {
        Some(f) => Err(format!(
            "{} of shape {:?} would exceed {MAX_LINES} lines",
            f.name, f.shape
        )),
        None => Ok(layout),
    }
}

fn checked_lines(f: &FileSpec) -> Option<usize> {
    f.grid()
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_LINES)
}
