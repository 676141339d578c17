//! dot_product, gevm and gemm (docs/numerics.md §6) through `sim op`'s own `OpCase::compute`: a
//! product of two block grids by the MAC array's one definition, exact accumulation, one
//! rounding per output.

use crate::arrays::{elements, mx_tensor, rounding, slice, to_numpy, value_error};
use crate::{check_memory, guarded};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use sim::layout::op_layout;
use sim::ops::{Dims, OpCase, OpKind, OutDtype, OutTensor};
use sim::tensor::Dtype;

/// One operand as the Python layer passes it: scale bytes, elements, logical shape, block axis.
type Operand<'py> = (
    PyReadonlyArray1<'py, u8>,
    PyReadonlyArray1<'py, i8>,
    Vec<usize>,
    usize,
);

/// Output bits (`u16` for bf16, `u32` for fp32, row-major of the output shape) and each output's
/// flags. `dims` is `(m, k, n)` as `sim op` takes them (unused sizes 1).
#[pyfunction]
pub fn block_matmul<'py>(
    py: Python<'py>,
    op: &str,
    dims: (usize, usize, usize),
    a: Operand<'py>,
    b: Operand<'py>,
    out_dtype: &str,
    rounding_mode: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<u8>>)> {
    guarded(|| {
        let kind = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
            .into_iter()
            .find(|k| k.name() == op)
            .ok_or_else(|| value_error(format!("op: '{op}' is not dot, gevm or gemm")))?;
        let (dtype, item) = match out_dtype {
            "bf16" => (OutDtype::Bf16, 2),
            "fp32" => (OutDtype::Fp32, 4),
            other => {
                return Err(value_error(format!(
                    "out_dtype: '{other}' is not bf16 or fp32"
                )))
            }
        };
        let mode = rounding(rounding_mode, "rounding")?;
        let (m, k, n) = dims;
        let dims = Dims { m, k, n };
        // The output must be an array that can exist (else ValueError, as numpy's "array is too
        // big"), and the operation's buffers must be available now (else MemoryError), before
        // anything is built.
        elements(&kind.output_shape(dims), item, &format!("{op}'s output"))?;
        check_memory(
            dims.memory_need(kind),
            &format!("{op} with m = {m}, k = {k}, n = {n}"),
        )?;
        let layout = op_layout(kind, dims, Dtype::Bf16);
        let operand = |i: usize, (s, e, shape, axis): &Operand<'py>| {
            let name = kind.operand_names()[i];
            let spec = &layout.files[i];
            if *shape != spec.shape || Some(*axis) != spec.block_axis {
                return Err(value_error(format!(
                    "{name}: shape {shape:?} blocked on axis {axis}, but {op} needs {:?} blocked \
                     on axis {}",
                    spec.shape,
                    spec.block_axis.unwrap_or(0)
                )));
            }
            mx_tensor(slice(s, name)?, slice(e, name)?, shape.clone(), *axis, name)
        };
        let case = OpCase {
            op: kind,
            dims,
            operands: [operand(0, &a)?, operand(1, &b)?],
        };
        let out = py.detach(|| case.compute(dtype, mode));
        let flags = out.flags.iter().map(|s| s.bits()).collect();
        let bits = match out.tensor {
            OutTensor::Bf16(t) => to_numpy(py, t.data.iter().map(|x| x.0).collect()).into_any(),
            OutTensor::Fp32(t) => to_numpy(py, t.data.iter().map(|x| x.0).collect()).into_any(),
        };
        Ok((bits, to_numpy(py, flags)))
    })
}
