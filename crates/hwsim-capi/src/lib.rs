//! libhwsim: the golden model's hardware units behind a C ABI, so a testbench (a Verilator C++
//! harness, a UVM scoreboard through DPI-C) checks every transaction against the same Rust code
//! that `sim run` executes. The header `include/hwsim.h` is generated from this crate by cbindgen
//! (`make header`); a test fails when the checked-in copy is stale.
//!
//! Conventions of every entry point (docs/dpi.md):
//! - a context (`hwsim_open`) holds one hardware description, as `sim run --profile/--config`
//!   loads it; it is immutable, so any number of threads may use one context at once;
//! - functions returning `int` return [`HWSIM_OK`] or an error code, with a message for
//!   `hwsim_last_error()`; nothing is written to an output unless the call succeeds;
//! - functions returning a BF16 value return the canonical NaN on error and set
//!   [`HWSIM_FLAG_ERROR`] in `*flags`;
//! - flag words carry the IEEE flags with the bit values of `hw_types::Status::bits()`;
//! - no panic unwinds into C: it becomes [`HWSIM_ERR_INTERNAL`].
//!
//! `unsafe` lives at this boundary only: the `extern "C"` functions and the argument checks of
//! `args`.

#![deny(unsafe_op_in_unsafe_fn)]
// C signatures are flat: a block product takes its operands (and their formats) as separate
// arguments.
#![allow(clippy::too_many_arguments)]

mod args;
mod codes;
mod context;
mod error;
mod mx;
mod mxint8;
mod scalar;
mod softmax;

pub use codes::*;
pub use context::{hwsim_close, hwsim_config_name, hwsim_open, hwsim_version, Context};
pub use error::{hwsim_error_count, hwsim_last_error};
pub use mx::{
    hwsim_dot_mx_bf16, hwsim_dot_mx_fp32, hwsim_gemm_mx_bf16, hwsim_gemm_mx_fp32,
    hwsim_gevm_mx_bf16, hwsim_gevm_mx_fp32, hwsim_quantize_mx,
};
pub use mxint8::{
    hwsim_dot_mxint8_bf16, hwsim_dot_mxint8_fp32, hwsim_gemm_mxint8_bf16, hwsim_gemm_mxint8_fp32,
    hwsim_gevm_mxint8_bf16, hwsim_gevm_mxint8_fp32, hwsim_quantize_mxint8,
    hwsim_quantize_mxint8_ex,
};
pub use scalar::{hwsim_exp_bf16, hwsim_mul_bf16, hwsim_recip_bf16, hwsim_sum_bf16};
pub use softmax::{hwsim_softmax_v, hwsim_softmax_v_ex, hwsim_softmax_v_mx};
