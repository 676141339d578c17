//! MXINT8 quantization of a tensor along any axis (docs/numerics.md §4): blocks of 32 consecutive
//! values along the axis, the last one zero-padded, each quantized by the one quantizer of the
//! project (`MxInt8Block::quantize`), blocks in row-major order of the block grid.

use crate::arrays::{element_rounding, product, slice, split_blocks, to_numpy, value_error};
use crate::{check_memory, guarded};
use hw_types::{Fp32, MxInt8Block, BLOCK};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use rayon::prelude::*;
use sim::memory::Need;

/// Bytes held per block at the peak: the quantized blocks with their status, the blocks alone,
/// the flags, and the scales and elements handed to numpy (each block 33 bytes, its status a
/// few, rounded up with margin).
const BLOCK_BYTES: usize = 128;

type Quantized<'py> = (
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i8>>,
    Bound<'py, PyArray1<u8>>,
);

/// Quantize the exact FP32 values `x` (bit patterns, row-major of `shape`) in blocks along
/// `axis`. Returns the scale bytes and elements of the block grid and each block's flags.
#[pyfunction]
pub fn quantize<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, u32>,
    shape: Vec<usize>,
    axis: usize,
    rounding: &str,
) -> PyResult<Quantized<'py>> {
    guarded(|| {
        let mode = element_rounding(rounding, "rounding")?;
        let x = slice(&x, "x")?;
        if axis >= shape.len() {
            return Err(value_error(format!(
                "axis: {axis} is outside the {} axes of x",
                shape.len()
            )));
        }
        if product(&shape) != Some(x.len()) {
            return Err(value_error(format!(
                "x: {} values do not fill shape {shape:?}",
                x.len()
            )));
        }
        let len = shape[axis];
        let nb = len.div_ceil(BLOCK);
        // Every count below is at most x's length (or 0), so none overflows.
        let inner = product(&shape[axis + 1..]).unwrap_or(0);
        let outer = product(&shape[..axis]).unwrap_or(0);
        let blocks = product(&[outer, nb, inner])
            .ok_or_else(|| value_error(format!("x: shape {shape:?} has too many blocks")))?;
        check_memory(
            Need::new().add(&[blocks], BLOCK_BYTES),
            &format!("quantize_mxint8 of {blocks} blocks"),
        )?;
        let (scales, elems, flags) = py.detach(|| {
            let blocks: Vec<_> = (0..blocks)
                .into_par_iter()
                .map(|g| {
                    // Grid index g = (o * nb + b) * inner + i; block b covers 32b..32b+32 on the
                    // axis.
                    let (i, b, o) = (g % inner, (g / inner) % nb, g / inner / nb);
                    let n = (len - b * BLOCK).min(BLOCK);
                    let mut vals = [Fp32::ZERO; BLOCK];
                    for (j, v) in vals[..n].iter_mut().enumerate() {
                        *v = Fp32(x[(o * len + b * BLOCK + j) * inner + i]);
                    }
                    MxInt8Block::quantize(&vals[..n], mode)
                })
                .collect();
            let flags: Vec<u8> = blocks.iter().map(|b| b.status.bits()).collect();
            let values: Vec<MxInt8Block> = blocks.into_iter().map(|b| b.value).collect();
            let (scales, elems) = split_blocks(&values);
            (scales, elems, flags)
        });
        Ok((
            to_numpy(py, scales),
            to_numpy(py, elems),
            to_numpy(py, flags),
        ))
    })
}
