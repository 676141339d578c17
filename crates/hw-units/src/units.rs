//! All units of one hardware description, ready to evaluate.

use crate::acc::Accumulator;
use crate::config::{AccKind, HwConfig};
use crate::exp::ExpUnit;
use crate::recip::RecipUnit;
use hw_types::arith::mul;
use hw_types::{Bf16, Format, RoundingMode, StatusAnd};

#[derive(Clone, Debug)]
pub struct Units {
    pub exp: ExpUnit,
    pub reduce: AccKind,
    pub mac_acc: AccKind,
    pub recip: RecipUnit,
    pub mul_rounding: RoundingMode,
}

impl Units {
    pub fn new(c: &HwConfig) -> Units {
        Units {
            exp: ExpUnit::new(&c.exp.kind),
            reduce: c.reduce.kind.clone(),
            mac_acc: c.mac.accumulator.clone(),
            recip: RecipUnit::new(&c.recip.kind),
            mul_rounding: c.mul.rounding,
        }
    }

    /// Reduce-sum of a row, in index order (the order the hardware receives it), rounded to
    /// BF16 with round-to-nearest-even.
    pub fn reduce_sum(&self, row: &[Bf16]) -> StatusAnd<Bf16> {
        let mut acc = Accumulator::new(&self.reduce);
        for x in row {
            acc.add(x.value());
        }
        acc.finish(RoundingMode::NearestEven)
    }

    /// The output multiplier: the exact product rounded in `mul.rounding`.
    #[inline]
    pub fn mul(&self, a: Bf16, b: Bf16) -> StatusAnd<Bf16> {
        mul::<Bf16, Bf16, Bf16>(a, b, self.mul_rounding)
    }
}
