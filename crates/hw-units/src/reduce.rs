//! The reduce-sum unit, reference behaviour: an exact accumulator and one RNE rounding.

use hw_types::{Bf16, ExactAcc, Format, RoundingMode};

/// `RNE_bf16(exact sum of the row)`; independent of order; NaN/inf propagate per IEEE.
pub fn exact_sum_bf16(row: &[Bf16]) -> Bf16 {
    let mut acc = ExactAcc::new();
    for x in row {
        acc.add_value(x.value());
    }
    acc.round::<Bf16>(RoundingMode::NearestEven).value
}
