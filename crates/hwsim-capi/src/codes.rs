//! The numbers of the C ABI: return codes, flag bits, rounding-mode codes and softmax stage
//! indices. cbindgen turns each into a `#define` of include/hwsim.h; the tests tie the flag bits
//! to `hw_types::Status` and the rounding codes to `RoundingMode::ALL`.

use std::ffi::c_int;

/// Success.
pub const HWSIM_OK: c_int = 0;
/// A bad argument: a NULL pointer, a size out of range or overflowing `size_t`, an unknown
/// rounding code, nonzero MXINT8 padding. `hwsim_last_error()` names the argument.
pub const HWSIM_ERR_INVALID_ARGUMENT: c_int = 1;
/// A bug in the library (a caught panic); the message says where.
pub const HWSIM_ERR_INTERNAL: c_int = 2;
/// The call's buffers could not be had (the memory the sizes need is checked before anything is
/// allocated, so the process goes on): `hwsim_last_error()` gives the bytes asked for. The same
/// call with smaller sizes, or with more memory free, can succeed.
pub const HWSIM_ERR_NO_MEMORY: c_int = 3;

/// IEEE flag bits, the values of `hw_types::Status::bits()`.
pub const HWSIM_FLAG_INEXACT: u32 = 1;
pub const HWSIM_FLAG_UNDERFLOW: u32 = 2;
pub const HWSIM_FLAG_OVERFLOW: u32 = 4;
pub const HWSIM_FLAG_DIV_BY_ZERO: u32 = 8;
pub const HWSIM_FLAG_INVALID: u32 = 16;
/// Not an IEEE flag: set by the functions that return a value (not an `int`) when the call
/// failed; the value is then the canonical NaN and `hwsim_last_error()` says why.
pub const HWSIM_FLAG_ERROR: u32 = 0x100;

/// Rounding-mode codes (docs/numerics.md §2), in the order of `RoundingMode::ALL`.
pub const HWSIM_ROUND_NEAREST_EVEN: u32 = 0;
pub const HWSIM_ROUND_NEAREST_AWAY: u32 = 1;
pub const HWSIM_ROUND_TOWARD_ZERO: u32 = 2;
pub const HWSIM_ROUND_TOWARD_POS: u32 = 3;
pub const HWSIM_ROUND_TOWARD_NEG: u32 = 4;

/// Not a rounding mode: the element rounding of `hwsim_quantize_mx` that is the format's default,
/// `HWSIM_ROUND_NEAREST_AWAY` for MXINT8 and `HWSIM_ROUND_NEAREST_EVEN` for the other formats (as
/// `sim op quantize` without `--element-rounding`). All ones, so `(uint32_t)-1` is the same code.
pub const HWSIM_ROUND_FORMAT_DEFAULT: u32 = u32::MAX;

/// MX block format codes (OCP MX v1.0; docs/numerics.md §8): the rows of
/// `hw_types::MX_FORMATS` in order, named as `sim op --mx-format` names them (`mxint8`,
/// `mxfp8-e4m3`, ...). Element codes travel one per byte, in the low bits: 8 of them for MXINT8
/// (two's complement) and MXFP8, 6 for MXFP6, 4 for MXFP4.
pub const HWSIM_MX_MXINT8: u32 = 0;
pub const HWSIM_MX_MXFP8_E4M3: u32 = 1;
pub const HWSIM_MX_MXFP8_E5M2: u32 = 2;
pub const HWSIM_MX_MXFP6_E3M2: u32 = 3;
pub const HWSIM_MX_MXFP6_E2M3: u32 = 4;
pub const HWSIM_MX_MXFP4_E2M1: u32 = 5;
/// The number of MX format codes.
pub const HWSIM_MX_FORMATS: u32 = 6;

/// Scale-rule codes of `hwsim_quantize_mx` (`sim op quantize --scale-rule`; docs/numerics.md §8):
/// how a block's shared exponent follows from its largest magnitude, in the order of
/// `hw_types::ScaleRule::ALL`.
pub const HWSIM_SCALE_FLOOR: u32 = 0;
pub const HWSIM_SCALE_CEIL: u32 = 1;
pub const HWSIM_SCALE_EVEN: u32 = 2;
pub const HWSIM_SCALE_RCEIL: u32 = 3;

/// Indices into the `stage_flags[HWSIM_SOFTMAX_STAGES]` output of `hwsim_softmax_v`, in
/// pipeline order (the computed dumps of docs/dump-format.md).
pub const HWSIM_STAGE_EXP: usize = 0;
pub const HWSIM_STAGE_EXP_SUM: usize = 1;
pub const HWSIM_STAGE_EXP_MXINT8: usize = 2;
/// The same index, exp's quantization in any format (`hwsim_softmax_v_mx`: the dump
/// `softmaxed_v.exp_<F>`).
pub const HWSIM_STAGE_EXP_MX: usize = 2;
pub const HWSIM_STAGE_SCALED_V: usize = 3;
pub const HWSIM_STAGE_INV: usize = 4;
pub const HWSIM_STAGE_OUT: usize = 5;
pub const HWSIM_SOFTMAX_STAGES: usize = 6;

/// Elements of an MX block (every format, MXINT8 included).
pub const HWSIM_BLOCK: usize = 32;
