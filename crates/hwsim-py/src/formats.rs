//! The MX format table (`hw_types::MX_FORMATS`) as the Python package reads it: each format's
//! name, element width, default element rounding and the exact value of every element code, so
//! that `MxTensor.dequantize` decodes by the one definition the quantizer and the products use.

use crate::arrays::to_numpy;
use crate::guarded;
use hw_types::{Value, MX_FORMATS};
use numpy::PyArray1;
use pyo3::prelude::*;

/// The value of an element code as an `f64`. Exact: every element of every MX format has at most
/// 8 significant bits and a magnitude between 2^-16 and 2^16 (docs/numerics.md §8).
fn to_f64(v: Value) -> f64 {
    match v {
        Value::Zero { neg } => {
            if neg {
                -0.0
            } else {
                0.0
            }
        }
        Value::Finite(d) => {
            let sig = u32::try_from(d.sig).expect("an element has at most 8 significant bits");
            assert!(!d.sticky, "an element code is exact");
            let mag = f64::from(sig) * 2f64.powi(d.exp);
            if d.neg {
                -mag
            } else {
                mag
            }
        }
        Value::Inf { neg } => {
            if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        Value::NaN => f64::NAN,
    }
}

type FormatRow<'py> = (&'static str, u32, &'static str, Bound<'py, PyArray1<f64>>);

/// Every MX format in table order: `(name, width, default element rounding, values)`, with
/// `values[c]` the exact value of element code `c` for every `c < 2^width`.
#[pyfunction]
pub fn mx_formats(py: Python<'_>) -> PyResult<Vec<FormatRow<'_>>> {
    guarded(|| {
        Ok(MX_FORMATS
            .iter()
            .map(|f| {
                let values = (0..1u32 << f.width).map(|c| to_f64(f.decode(c as u8)));
                (
                    f.name,
                    f.width,
                    f.default_rounding.name(),
                    to_numpy(py, values.collect()),
                )
            })
            .collect())
    })
}
