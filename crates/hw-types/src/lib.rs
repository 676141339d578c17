//! Bit-accurate number formats of the golden model: BF16, FP32, E8M0, MXINT8 blocks, the five
//! IEEE rounding modes with status flags, an exact accumulator, and correctly rounded arithmetic.
//!
//! Every rounding in the project goes through [`float::round_pack`]: operations form the exact
//! result (a [`float::Value`]) and round it once. See docs/numerics.md for the rules.

#![forbid(unsafe_code)]

pub mod acc;
pub mod arith;
pub mod e8m0;
pub mod float;
pub mod mx;
pub mod mxint8;
pub mod policy;
pub mod status;
pub mod transcendental;

pub use acc::ExactAcc;
pub use e8m0::E8m0;
pub use float::{Bf16, Dyadic, Format, Fp32, IntRounder, Value, BF16_SPEC, FP32_SPEC};
pub use mx::{BlockSum, MxBlock, MxFormat, ScaleRule, MX_FORMATS};
pub use mxint8::{BlockDot, MxInt8Block, BLOCK};
pub use status::{FlagCounts, RoundingMode, Status, StatusAnd};
