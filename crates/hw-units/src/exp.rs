//! The exp unit. In hardware it is a 65,536-entry ROM indexed by the BF16 input pattern; the
//! reference contents are `RNE_bf16(e^x)`, correctly rounded (proved exhaustively in hw-types'
//! tests and cross-checked against the Python reference).

use hw_types::transcendental::exp;
use hw_types::{Bf16, RoundingMode};
use std::sync::OnceLock;

/// The reference ROM contents: entry `i` is `RNE_bf16(e^x)` for the BF16 pattern `i`.
pub fn reference_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|i| {
                exp::<Bf16, Bf16>(Bf16(i), RoundingMode::NearestEven)
                    .value
                    .0
            })
            .collect()
    })
}

/// `RNE_bf16(e^x)` by table lookup.
#[inline]
pub fn exp_bf16(x: Bf16) -> Bf16 {
    Bf16(reference_table()[x.0 as usize])
}
