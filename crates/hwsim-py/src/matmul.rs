//! dot_product, gevm and gemm (docs/numerics.md §6 and §8) through `sim op`'s own code: two
//! MXINT8 operands by `OpCase::compute` (the MAC array's one definition), any other pair of MX
//! formats by `MxOpCase::compute` (the exact sum of every block's element products times both
//! scales); exact accumulation, one rounding per output.

use crate::arrays::{
    elements, mx_codes, mx_format, mx_tensor, rounding, slice, to_numpy, value_error,
};
use crate::{check_memory, guarded};
use hw_types::{MxInt8Block, RoundingMode, ScaleRule};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use sim::layout::{op_layout, FileSpec};
use sim::mx_op::{MxChoice, MxOpCase};
use sim::ops::{Dims, OpCase, OpKind, OpOutput, OutDtype, OutTensor};
use sim::tensor::Dtype;

/// One MXINT8 operand as the Python layer passes it: scale bytes, elements, logical shape, block
/// axis.
type Operand<'py> = (
    PyReadonlyArray1<'py, u8>,
    PyReadonlyArray1<'py, i8>,
    Vec<usize>,
    usize,
);

/// One operand of any MX format: scale bytes, element codes (one per byte), logical shape, block
/// axis, format name.
type MxOperand<'py> = (
    PyReadonlyArray1<'py, u8>,
    PyReadonlyArray1<'py, u8>,
    Vec<usize>,
    usize,
    String,
);

type Output<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<u8>>);

/// What both entry points check before building anything (the operation, output dtype and
/// rounding names, the output's size and the memory the operation needs), and what they learn:
/// the operation, its sizes, the output dtype and rounding, the operands' layout.
struct Prepared {
    kind: OpKind,
    dims: Dims,
    dtype: OutDtype,
    mode: RoundingMode,
    specs: [FileSpec; 2],
}

fn prepare(
    op: &str,
    (m, k, n): (usize, usize, usize),
    out_dtype: &str,
    rounding_mode: &str,
) -> PyResult<Prepared> {
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
    let dims = Dims { m, k, n };
    // The output must be an array that can exist (else ValueError, as numpy's "array is too
    // big"), and the operation's buffers must be available now (else MemoryError), before
    // anything is built.
    elements(&kind.output_shape(dims), item, &format!("{op}'s output"))?;
    check_memory(
        dims.memory_need(kind),
        &format!("{op} with m = {m}, k = {k}, n = {n}"),
    )?;
    let mut files = op_layout(kind, dims, Dtype::Bf16).files.into_iter();
    let specs = [files.next(), files.next()].map(|f| f.expect("an op has two operands"));
    Ok(Prepared {
        kind,
        dims,
        dtype,
        mode,
        specs,
    })
}

impl Prepared {
    /// `Err` unless operand `i` has the shape and block axis the operation needs.
    fn check_operand(&self, i: usize, shape: &[usize], axis: usize) -> PyResult<&'static str> {
        let name = self.kind.operand_names()[i];
        let spec = &self.specs[i];
        if *shape != spec.shape || Some(axis) != spec.block_axis {
            return Err(value_error(format!(
                "{name}: shape {shape:?} blocked on axis {axis}, but {} needs {:?} blocked on \
                 axis {}",
                self.kind.name(),
                spec.shape,
                spec.block_axis.unwrap_or(0)
            )));
        }
        Ok(name)
    }
}

/// The output bits and flags as numpy arrays.
fn output(py: Python<'_>, out: OpOutput) -> Output<'_> {
    let flags = out.flags.iter().map(|s| s.bits()).collect();
    let bits = match out.tensor {
        OutTensor::Bf16(t) => to_numpy(py, t.data.iter().map(|x| x.0).collect()).into_any(),
        OutTensor::Fp32(t) => to_numpy(py, t.data.iter().map(|x| x.0).collect()).into_any(),
    };
    (bits, to_numpy(py, flags))
}

/// Output bits (`u16` for bf16, `u32` for fp32, row-major of the output shape) and each output's
/// flags, of two MXINT8 operands. `dims` is `(m, k, n)` as `sim op` takes them (unused sizes 1).
#[pyfunction]
pub fn block_matmul<'py>(
    py: Python<'py>,
    op: &str,
    dims: (usize, usize, usize),
    a: Operand<'py>,
    b: Operand<'py>,
    out_dtype: &str,
    rounding_mode: &str,
) -> PyResult<Output<'py>> {
    guarded(|| {
        let p = prepare(op, dims, out_dtype, rounding_mode)?;
        let operand = |i: usize, (s, e, shape, axis): &Operand<'py>| {
            let name = p.check_operand(i, shape, *axis)?;
            mx_tensor(slice(s, name)?, slice(e, name)?, shape.clone(), *axis, name)
        };
        let case = OpCase {
            op: p.kind,
            dims: p.dims,
            operands: [operand(0, &a)?, operand(1, &b)?],
        };
        let out = py.detach(|| case.compute(p.dtype, p.mode));
        Ok(output(py, out))
    })
}

/// As [`block_matmul`], of operands of any MX formats (each its own): two MXINT8 operands are
/// computed by `OpCase` exactly as [`block_matmul`] computes them (the codes read as int8), every
/// other pair by `MxOpCase::compute`, as `sim op <op> --mx-format A,B --inputs DIR` does.
#[pyfunction]
pub fn mx_block_matmul<'py>(
    py: Python<'py>,
    op: &str,
    dims: (usize, usize, usize),
    a: MxOperand<'py>,
    b: MxOperand<'py>,
    out_dtype: &str,
    rounding_mode: &str,
) -> PyResult<Output<'py>> {
    guarded(|| {
        let p = prepare(op, dims, out_dtype, rounding_mode)?;
        let operand = |i: usize, (s, c, shape, axis, format): &MxOperand<'py>| {
            let name = p.check_operand(i, shape, *axis)?;
            let format = mx_format(format, &format!("{name}.format"))?;
            mx_codes(
                format,
                slice(s, name)?,
                slice(c, name)?,
                shape.clone(),
                *axis,
                name,
            )
        };
        let operands = [operand(0, &a)?, operand(1, &b)?];
        let formats = [operands[0].format, operands[1].format];
        let out = if formats.iter().all(|f| f.name == "mxint8") {
            // Today's MXINT8 path: the same blocks, the codes as two's-complement elements.
            let [x, y] = operands.map(|t| sim::tensor::MxTensor {
                blocks: t
                    .blocks
                    .iter()
                    .map(|b| MxInt8Block {
                        scale: b.scale,
                        elems: b.codes.map(|c| c as i8),
                    })
                    .collect(),
                shape: t.shape,
                block_axis: t.block_axis,
            });
            let case = OpCase {
                op: p.kind,
                dims: p.dims,
                operands: [x, y],
            };
            py.detach(|| case.compute(p.dtype, p.mode))
        } else {
            let case = MxOpCase {
                op: p.kind,
                dims: p.dims,
                // The rule and element rounding say how operands are generated; the product
                // of given codes does not depend on them.
                choice: MxChoice {
                    formats,
                    rule: ScaleRule::Floor,
                    element_rounding: None,
                },
                operands,
            };
            py.detach(|| case.compute(p.dtype, p.mode))
        };
        Ok(output(py, out))
    })
}
