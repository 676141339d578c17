//! `hwsim._native`: the Python extension over the golden model's Rust core. The public API (argument
//! checks, numpy dtypes, `MxTensor`, `Case`) is the Python package in `python/hwsim`; this module
//! takes flat contiguous arrays plus shapes, runs the same functions as the `sim` CLI with the GIL
//! released, and hands back flat arrays (no copy: numpy takes over the Rust vectors).
//!
//! Every error is a Python exception (`ValueError`, or `FileNotFoundError` for a missing folder);
//! inputs are checked before they reach code that asserts, so nothing panics.

mod arrays;
mod elementwise;
mod matmul;
mod profile;
mod quantize;
mod softmax_case;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PROFILES", hw_units::config::HwConfig::PROFILES.to_vec())?;
    m.add_function(wrap_pyfunction!(elementwise::exp_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(elementwise::recip_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(elementwise::mul_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(quantize::quantize, m)?)?;
    m.add_function(wrap_pyfunction!(matmul::block_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::softmax_v, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::run_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::load_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::write_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::softmax_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(profile::config_json, m)?)?;
    Ok(())
}
