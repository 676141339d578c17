//! The MXINT8 multiply-accumulate datapath, reference behaviour: integer block dot products,
//! each weighted by `2^(Ea + Eb - 12)`, summed exactly and rounded once.

use hw_types::{BlockDot, ExactAcc, Format, MxInt8Block, RoundingMode, StatusAnd};

/// An exact accumulator fed with block products.
#[derive(Clone, Debug, Default)]
pub struct BlockAcc {
    acc: ExactAcc,
}

impl BlockAcc {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn add_block_dot(&mut self, a: &MxInt8Block, b: &MxInt8Block) {
        match a.dot(b) {
            BlockDot::NaN => self.acc.add_nan(),
            BlockDot::Value { dot, exp } => self.acc.add_int(dot as i64, exp),
        }
    }

    pub fn round<F: Format>(&self, mode: RoundingMode) -> StatusAnd<F> {
        self.acc.round::<F>(mode)
    }
}

/// Dot product of two rows of blocks along the reduction axis.
pub fn dot_blocks<F: Format>(
    a: impl IntoIterator<Item = MxInt8Block>,
    b: impl IntoIterator<Item = MxInt8Block>,
    mode: RoundingMode,
) -> F {
    let mut acc = BlockAcc::new();
    for (x, y) in a.into_iter().zip(b) {
        acc.add_block_dot(&x, &y);
    }
    acc.round::<F>(mode).value
}
