//! Quantization of a tensor along any axis to an MX format (docs/numerics.md §4 and §8): blocks
//! of 32 consecutive values along the axis, the last one zero-padded, each quantized by the one
//! quantizer of the project (`MxInt8Block::quantize` for MXINT8 with the `floor` rule, as
//! `sim op quantize` does; `MxFormat::quantize` for every other format and rule), blocks in
//! row-major order of the block grid.

use crate::arrays::{
    element_rounding, mx_format, product, scale_rule, slice, split_blocks, to_numpy, value_error,
};
use crate::{check_memory, guarded};
use hw_types::{Fp32, MxBlock, MxInt8Block, ScaleRule, StatusAnd, BLOCK};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use rayon::prelude::*;
use sim::memory::Need;

/// Bytes held per block at the peak: the quantized blocks with their status, the blocks alone,
/// the flags, and the scales and elements handed to numpy (each block 33 bytes, its status a
/// few, rounded up with margin).
const BLOCK_BYTES: usize = 128;

type Quantized<'py, E> = (
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<E>>,
    Bound<'py, PyArray1<u8>>,
);

/// The blocks of `x` (FP32 bit patterns, row-major of `shape`) along `axis`, each cut out,
/// zero-padded and handed to `quantize`, in row-major order of the block grid; `what` names the
/// operation in a MemoryError.
fn blocks_along<B: Send>(
    x: &[u32],
    shape: &[usize],
    axis: usize,
    what: &str,
    quantize: impl Fn(&[Fp32]) -> StatusAnd<B> + Sync,
) -> PyResult<Vec<StatusAnd<B>>> {
    if axis >= shape.len() {
        return Err(value_error(format!(
            "axis: {axis} is outside the {} axes of x",
            shape.len()
        )));
    }
    if product(shape) != Some(x.len()) {
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
        &format!("{what} of {blocks} blocks"),
    )?;
    Ok((0..blocks)
        .into_par_iter()
        .map(|g| {
            // Grid index g = (o * nb + b) * inner + i; block b covers 32b..32b+32 on the axis.
            let (i, b, o) = (g % inner, (g / inner) % nb, g / inner / nb);
            let n = (len - b * BLOCK).min(BLOCK);
            let mut vals = [Fp32::ZERO; BLOCK];
            for (j, v) in vals[..n].iter_mut().enumerate() {
                *v = Fp32(x[(o * len + b * BLOCK + j) * inner + i]);
            }
            quantize(&vals[..n])
        })
        .collect())
}

/// Quantize the exact FP32 values `x` (bit patterns, row-major of `shape`) to MXINT8 in blocks
/// along `axis`. Returns the scale bytes and elements of the block grid and each block's flags.
#[pyfunction]
pub fn quantize<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, u32>,
    shape: Vec<usize>,
    axis: usize,
    rounding: &str,
) -> PyResult<Quantized<'py, i8>> {
    guarded(|| {
        let mode = element_rounding(rounding, "rounding")?;
        let x = slice(&x, "x")?;
        let (scales, elems, flags) = py.detach(|| {
            let blocks = blocks_along(x, &shape, axis, "quantize_mxint8", |v| {
                MxInt8Block::quantize(v, mode)
            })?;
            let flags: Vec<u8> = blocks.iter().map(|b| b.status.bits()).collect();
            let values: Vec<MxInt8Block> = blocks.into_iter().map(|b| b.value).collect();
            let (scales, elems) = split_blocks(&values);
            PyResult::Ok((scales, elems, flags))
        })?;
        Ok((
            to_numpy(py, scales),
            to_numpy(py, elems),
            to_numpy(py, flags),
        ))
    })
}

/// Quantize the exact FP32 values `x` (bit patterns, row-major of `shape`) to the MX format
/// `format` in blocks along `axis`, the shared exponent by `rule`, the elements rounded in
/// `rounding` (`None`: the format's default). Returns the scale bytes and the element codes of
/// the block grid (32 per block, one per byte, in their low bits; an MXINT8 element as its
/// two's-complement byte) and each block's flags. MXINT8 with the `floor` rule is
/// `MxInt8Block::quantize`, as in `sim op quantize`.
#[pyfunction]
#[pyo3(signature = (x, shape, axis, format, rule, rounding=None))]
pub fn quantize_mx<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, u32>,
    shape: Vec<usize>,
    axis: usize,
    format: &str,
    rule: &str,
    rounding: Option<&str>,
) -> PyResult<Quantized<'py, u8>> {
    guarded(|| {
        let format = mx_format(format, "format")?;
        let rule = scale_rule(rule, "scale_rule")?;
        let mode = match rounding {
            Some(r) => element_rounding(r, "element_rounding")?,
            None => format.default_rounding,
        };
        let x = slice(&x, "x")?;
        let what = "quantize_mx";
        let (scales, codes, flags) = py.detach(|| {
            let blocks = if format.name == "mxint8" && rule == ScaleRule::Floor {
                blocks_along(x, &shape, axis, what, |v| {
                    let b = MxInt8Block::quantize(v, mode);
                    let codes = b.value.elems.map(|e| e as u8);
                    StatusAnd::new(
                        MxBlock {
                            scale: b.value.scale,
                            codes,
                        },
                        b.status,
                    )
                })?
            } else {
                blocks_along(x, &shape, axis, what, |v| format.quantize(v, rule, mode))?
            };
            let flags: Vec<u8> = blocks.iter().map(|b| b.status.bits()).collect();
            let scales: Vec<u8> = blocks.iter().map(|b| b.value.scale.0).collect();
            let mut codes = vec![0u8; blocks.len() * BLOCK];
            codes
                .par_chunks_mut(BLOCK)
                .zip(blocks.par_iter())
                .with_min_len(1 << 12)
                .for_each(|(dst, b)| dst.copy_from_slice(&b.value.codes));
            PyResult::Ok((scales, codes, flags))
        })?;
        Ok((
            to_numpy(py, scales),
            to_numpy(py, codes),
            to_numpy(py, flags),
        ))
    })
}
