//! `hwsim._native`: the Python extension over the golden model's Rust core. The public API (argument
//! checks, numpy dtypes, `MxTensor`, `Case`) is the Python package in `python/hwsim`; this module
//! takes flat contiguous arrays plus shapes, runs the same functions as the `sim` CLI with the GIL
//! released, and hands back flat arrays (no copy: numpy takes over the Rust vectors).
//!
//! Every error is a Python exception: `ValueError` for a wrong value (a size refused by a range
//! check included), `MemoryError` when an operation's buffers cannot be had (checked with
//! `sim::memory` before computing, so an allocation never aborts the process),
//! `FileNotFoundError` / `OSError` for files. Inputs are checked before they reach code that
//! asserts, and every entry point runs inside [`guarded`], so a Rust panic that slips through
//! anyway reaches Python as a `RuntimeError` carrying its message, never as pyo3's
//! `PanicException` (a `BaseException` that `except Exception` does not catch).

mod arrays;
mod elementwise;
mod formats;
mod matmul;
mod profile;
mod quantize;
mod softmax_case;

use pyo3::exceptions::{PyMemoryError, PyRuntimeError};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run an entry point's body, turning a panic (on this thread, or on a rayon worker it joined)
/// into a `RuntimeError` with the panic's message. Every `#[pyfunction]` body is one call of this
/// (tests/test_package.py checks the sources for it).
pub fn guarded<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(PyRuntimeError::new_err(format!(
            "hwsim internal error (a bug in hwsim; please report it with the call that caused \
             it): {msg}"
        )))
    })
}

/// `Err(MemoryError)` unless the memory `need` can be had now (`sim::memory`).
pub fn check_memory(need: sim::memory::Need, what: &str) -> PyResult<()> {
    need.check(what)
        .map_err(|e| PyMemoryError::new_err(e.to_string()))
}

/// TEST ONLY (tests/test_hostile.py): panics with `message`, on the calling thread or inside a
/// rayon task with the GIL released, to show that [`guarded`] turns any panic into a
/// `RuntimeError`. Not part of the API (the leading underscore; not in the type stubs' public
/// names).
#[pyfunction]
#[pyo3(signature = (message, in_worker=false))]
fn _force_panic(py: Python<'_>, message: &str, in_worker: bool) -> PyResult<()> {
    guarded(|| {
        if in_worker {
            use rayon::prelude::*;
            let message = message.to_string();
            py.detach(|| {
                (0..64).into_par_iter().for_each(|i| {
                    if i == 63 {
                        panic!("{message}");
                    }
                })
            });
        } else {
            panic!("{message}");
        }
        Ok(())
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PROFILES", hw_units::config::HwConfig::PROFILES.to_vec())?;
    m.add_function(wrap_pyfunction!(elementwise::exp_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(elementwise::recip_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(elementwise::mul_bf16, m)?)?;
    m.add_function(wrap_pyfunction!(quantize::quantize, m)?)?;
    m.add_function(wrap_pyfunction!(quantize::quantize_mx, m)?)?;
    m.add_function(wrap_pyfunction!(formats::mx_formats, m)?)?;
    m.add_function(wrap_pyfunction!(matmul::block_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(matmul::mx_block_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::softmax_v, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::run_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::load_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::write_case, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_case::softmax_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(profile::config_json, m)?)?;
    m.add_function(wrap_pyfunction!(_force_panic, m)?)?;
    Ok(())
}
