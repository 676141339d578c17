//! The project's numerical policy choices, in one place (SoftFloat keeps its NaN and tininess
//! policy in one header for the same reason: a new format or unit cannot drift from them).
//! docs/numerics.md states each rule and points here.
//!
//! | choice | rule |
//! | --- | --- |
//! | NaN results | always the canonical quiet NaN of the format ([`canonical_nan`]); none in FP6/FP4 ([`FINITE_ONLY_NAN`]) |
//! | tininess | detected after rounding ([`TININESS_AFTER_ROUNDING`]) |
//! | sign of an exact zero sum | `-0` only when every addend was `-0`, else `+0` ([`exact_zero_sum_is_negative`]) |
//! | MXINT8 block of zeros | scale byte [`ZERO_BLOCK_SCALE`] (`0x00`), all elements 0 |
//! | MXINT8 block holding inf or NaN | scale byte [`NAN_BLOCK_SCALE`] (`0xff`, the E8M0 NaN), all elements 0 |
//! | MXINT8 element clamp | symmetric, `-ELEM_MAX..=ELEM_MAX` ([`ELEM_MAX`]); `-128` is never produced |

use crate::float::{FormatSpec, NonFinite};

/// The canonical quiet NaN every operation returns: exponent all ones, only the top fraction
/// bit set, sign clear (BF16 `0x7fc0`, FP32 `0x7fc00000`). Input NaN payloads are not kept. A
/// format whose only NaN is the all-ones code (FP8 E4M3 "FN") returns that code, `0x7f`.
pub const fn canonical_nan(spec: &FormatSpec) -> u32 {
    let exp_mask = (1u32 << spec.exp_bits) - 1;
    let frac_mask = (1u32 << (spec.precision - 1)) - 1;
    let quiet_bit = match spec.non_finite {
        NonFinite::NanOnly => frac_mask,
        NonFinite::Ieee | NonFinite::FiniteOnly => 1 << (spec.precision - 2),
    };
    // The two sides of `|` occupy disjoint bits, so `^` gives the same word (a mutant that
    // cannot change a result; excluded in .cargo/mutants.toml).
    (exp_mask << (spec.precision - 1)) | quiet_bit
}

/// What rounding a NaN to a format without NaN codes (FP6, FP4) gives: `+0`, with the invalid
/// flag. The MX quantizer never asks (a block holding a NaN becomes the NaN block).
pub const FINITE_ONLY_NAN: u32 = 0;

/// Tininess is detected after rounding (the x86 SSE, RISC-V and SoftFloat-default convention):
/// a result is tiny when rounding it to the target precision with an unbounded exponent range
/// still gives a magnitude below `2^emin`. `false` would select before-rounding detection; the
/// rounding routine implements only the after-rounding rule and asserts this at compile time.
pub const TININESS_AFTER_ROUNDING: bool = true;

/// Whether an exact zero sum is `-0`: only when there was at least one addend and every addend
/// was `-0` (IEEE 754 §6.3 for round-to-nearest; the project uses it in every mode, since its
/// sums are exact and rounded once).
pub const fn exact_zero_sum_is_negative(any_addend: bool, all_addends_neg_zero: bool) -> bool {
    any_addend && all_addends_neg_zero
}

/// Scale byte of an MXINT8 block whose elements are all zero.
pub const ZERO_BLOCK_SCALE: u8 = 0x00;

/// Scale byte of an MXINT8 block with an infinite or NaN element: the E8M0 NaN encoding.
pub const NAN_BLOCK_SCALE: u8 = 0xff;

/// Largest MXINT8 element magnitude the quantizer produces.
pub const ELEM_MAX: i32 = 127;
