//! Tensors as the dumps see them: BF16/FP32 element arrays and MXINT8 block grids, each with its
//! logical shape.

use hw_types::{Bf16, Fp32, MxBlock, MxFormat, MxInt8Block, BLOCK};

/// Element type of a dump file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    Bf16,
    Fp32,
    MxInt8,
    /// Any other MX format (docs/numerics.md §8): one block a line, the scale byte first.
    Mx(MxFormat),
}

impl Dtype {
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp32 => "fp32",
            Dtype::MxInt8 => "mxint8",
            Dtype::Mx(f) => f.name,
        }
    }
    pub fn from_name(s: &str) -> Option<Dtype> {
        [Dtype::Bf16, Dtype::Fp32, Dtype::MxInt8]
            .into_iter()
            .find(|d| d.name() == s)
            .or_else(|| MxFormat::from_name(s).map(Dtype::Mx))
    }
    /// The dtype of blocks in `format` (MXINT8 keeps its own).
    pub fn of_format(format: MxFormat) -> Dtype {
        if format.name == "mxint8" {
            Dtype::MxInt8
        } else {
            Dtype::Mx(format)
        }
    }
    /// Hex digits of one line.
    pub fn hex_digits(self) -> usize {
        match self {
            Dtype::Bf16 => 4,
            Dtype::Fp32 => 8,
            Dtype::MxInt8 => 66,
            Dtype::Mx(f) => f.hex_digits(),
        }
    }
}

/// A dense BF16 or FP32 tensor, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

impl<T> Tensor<T> {
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor data does not fit its shape"
        );
        Tensor { shape, data }
    }
}

/// An MXINT8 tensor: the logical shape, the blocked axis, and the blocks in row-major order of
/// the block grid (the blocked axis replaced by its block count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxTensor {
    pub shape: Vec<usize>,
    pub block_axis: usize,
    pub blocks: Vec<MxInt8Block>,
}

impl MxTensor {
    pub fn grid_shape(&self) -> Vec<usize> {
        grid_shape(&self.shape, self.block_axis)
    }

    /// The first block (grid index) of a partial last block whose padding is not zero, with the
    /// offending element. Padding past the logical length must be zero (docs/dump-format.md); a
    /// dump that breaks this is malformed, not a different tensor.
    pub fn nonzero_padding(&self) -> Option<(usize, usize)> {
        padding_violation(&self.shape, self.block_axis, |g, i| {
            self.blocks[g].elems[i] != 0
        })
    }
}

/// The block grid of a logical shape blocked along `axis`.
pub fn grid_shape(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut g = shape.to_vec();
    g[axis] = g[axis].div_ceil(BLOCK);
    g
}

/// A tensor of any MX format (docs/numerics.md §8): the format, the logical shape, the blocked
/// axis, and the blocks in row-major order of the block grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxCodes {
    pub format: MxFormat,
    pub shape: Vec<usize>,
    pub block_axis: usize,
    pub blocks: Vec<MxBlock>,
}

impl MxCodes {
    /// The dump dtype: MXINT8 keeps its own.
    pub fn dtype(&self) -> Dtype {
        Dtype::of_format(self.format)
    }

    /// The first block (grid index) of a partial last block whose padding code is not 0, with
    /// the offending element (padding is a +0 code, docs/dump-format.md).
    pub fn nonzero_padding(&self) -> Option<(usize, usize)> {
        padding_violation(&self.shape, self.block_axis, |g, i| {
            self.blocks[g].codes[i] != 0
        })
    }
}

/// A block tensor of softmax_v (v, and exp's quantization): MXINT8 blocks, which the MAC array's
/// kernels take, when the pipeline is the dataset's (both operands MXINT8 under `floor`), and
/// codes of any format otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxData {
    Int8(MxTensor),
    Codes(MxCodes),
}

impl MxData {
    pub fn format(&self) -> MxFormat {
        match self {
            MxData::Int8(_) => hw_types::mx::MXINT8,
            MxData::Codes(t) => t.format,
        }
    }
    pub fn shape(&self) -> &[usize] {
        match self {
            MxData::Int8(t) => &t.shape,
            MxData::Codes(t) => &t.shape,
        }
    }
    pub fn block_count(&self) -> usize {
        match self {
            MxData::Int8(t) => t.blocks.len(),
            MxData::Codes(t) => t.blocks.len(),
        }
    }
    pub fn dump(&self) -> DumpRef<'_> {
        match self {
            MxData::Int8(t) => DumpRef::MxInt8(t),
            MxData::Codes(t) => DumpRef::Mx(t),
        }
    }
    /// The MXINT8 blocks of the dataset's pipeline.
    pub fn int8(&self) -> Option<&MxTensor> {
        match self {
            MxData::Int8(t) => Some(t),
            MxData::Codes(_) => None,
        }
    }
    /// Block `g` as codes of [`format`](Self::format) (MXINT8 elements as their bytes).
    pub fn block(&self, g: usize) -> MxBlock {
        match self {
            MxData::Int8(t) => codes_of(&t.blocks[g]),
            MxData::Codes(t) => t.blocks[g],
        }
    }
    pub fn nonzero_padding(&self) -> Option<(usize, usize)> {
        match self {
            MxData::Int8(t) => t.nonzero_padding(),
            MxData::Codes(t) => t.nonzero_padding(),
        }
    }
}

/// An MXINT8 block as codes: the scale and each element's byte.
pub fn codes_of(b: &MxInt8Block) -> MxBlock {
    MxBlock {
        scale: b.scale,
        codes: b.elems.map(|q| q as u8),
    }
}

/// Codes of MXINT8 as its block: the scale and each byte as an int8 element.
pub fn int8_of(b: &MxBlock) -> MxInt8Block {
    MxInt8Block {
        scale: b.scale,
        elems: b.codes.map(|c| c as i8),
    }
}

/// The first `(grid index, element)` of a partial last block along `axis` whose padding element
/// `nonzero(g, i)` says is not zero.
fn padding_violation(
    shape: &[usize],
    axis: usize,
    nonzero: impl Fn(usize, usize) -> bool,
) -> Option<(usize, usize)> {
    let valid = shape[axis] % BLOCK;
    if valid == 0 {
        return None;
    }
    let grid = grid_shape(shape, axis);
    let inner: usize = grid[axis + 1..].iter().product();
    let nb = grid[axis];
    let total: usize = grid.iter().product();
    (0..total)
        .filter(|g| (g / inner) % nb == nb - 1)
        .find_map(|g| (valid..BLOCK).find(|&i| nonzero(g, i)).map(|i| (g, i)))
}

/// A tensor of any dump dtype, borrowed, as the dump writer takes it.
#[derive(Clone, Copy, Debug)]
pub enum DumpRef<'a> {
    Bf16(&'a Tensor<Bf16>),
    Fp32(&'a Tensor<Fp32>),
    MxInt8(&'a MxTensor),
    Mx(&'a MxCodes),
}

impl DumpRef<'_> {
    pub fn dtype(&self) -> Dtype {
        match self {
            DumpRef::Bf16(_) => Dtype::Bf16,
            DumpRef::Fp32(_) => Dtype::Fp32,
            DumpRef::MxInt8(_) => Dtype::MxInt8,
            DumpRef::Mx(t) => t.dtype(),
        }
    }
    pub fn shape(&self) -> &[usize] {
        match self {
            DumpRef::Bf16(t) => &t.shape,
            DumpRef::Fp32(t) => &t.shape,
            DumpRef::MxInt8(t) => &t.shape,
            DumpRef::Mx(t) => &t.shape,
        }
    }
    pub fn lines(&self) -> usize {
        match self {
            DumpRef::Bf16(t) => t.data.len(),
            DumpRef::Fp32(t) => t.data.len(),
            DumpRef::MxInt8(t) => t.blocks.len(),
            DumpRef::Mx(t) => t.blocks.len(),
        }
    }
    pub fn block_axis(&self) -> Option<usize> {
        match self {
            DumpRef::MxInt8(t) => Some(t.block_axis),
            DumpRef::Mx(t) => Some(t.block_axis),
            _ => None,
        }
    }
}
