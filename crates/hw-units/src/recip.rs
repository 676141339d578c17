//! The reciprocal unit, reference behaviour: `RNE_bf16(1/x)`, correctly rounded.

use hw_types::arith::recip;
use hw_types::{Bf16, RoundingMode};

pub fn recip_bf16(x: Bf16) -> Bf16 {
    recip::<Bf16, Bf16>(x, RoundingMode::NearestEven).value
}
