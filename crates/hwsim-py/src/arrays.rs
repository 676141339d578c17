//! Moving data across the boundary: contiguous numpy arrays in, Rust vectors out (numpy adopts
//! them without a copy), MX block grids as a `scales` byte per block plus 32 `elements` each
//! (MXINT8's as int8, every other format's as codes, one per byte).

use hw_types::{E8m0, MxBlock, MxFormat, MxInt8Block, RoundingMode, ScaleRule, BLOCK};
use numpy::{Element, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;
use sim::tensor::{grid_shape, MxCodes, MxTensor};

pub fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// The element count of `shape`, or `None` when it does not fit `usize` (0 when any axis is 0,
/// however large the others: an empty tensor, never an overflow).
pub fn product(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The element count of `shape` when a buffer of `item` bytes per element can exist at all (at
/// most `isize::MAX` bytes, Rust's and numpy's limit); otherwise a `ValueError` (as numpy's
/// "array is too big") naming `what`. Whether it can be had now is `check_memory`'s question.
pub fn elements(shape: &[usize], item: usize, what: &str) -> PyResult<usize> {
    match product(shape) {
        Some(n)
            if n.checked_mul(item)
                .is_some_and(|b| b <= isize::MAX as usize) =>
        {
            Ok(n)
        }
        _ => Err(value_error(format!(
            "{what}: shape {shape:?} is too big (more than the {} bytes any array can hold)",
            isize::MAX
        ))),
    }
}

/// The elements of a 1-D array. The Python layer passes contiguous arrays; a strided one is
/// refused rather than read in the wrong order.
pub fn slice<'a, T: Element>(a: &'a PyReadonlyArray1<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| value_error(format!("{what}: the array must be C-contiguous")))
}

/// A Rust vector as a 1-D numpy array (no copy).
pub fn to_numpy<T: Element>(py: Python<'_>, v: Vec<T>) -> Bound<'_, PyArray1<T>> {
    PyArray1::from_vec(py, v)
}

/// A rounding-mode name (`nearest-even`, ...), or a `ValueError` naming the argument.
pub fn rounding(name: &str, what: &str) -> PyResult<RoundingMode> {
    name.parse()
        .map_err(|e: String| value_error(format!("{what}: {e}")))
}

/// The quantizer's element rounding: nearest-away or nearest-even (docs/numerics.md §4); `what`
/// names the argument.
pub fn element_rounding(name: &str, what: &str) -> PyResult<RoundingMode> {
    match rounding(name, what)? {
        m @ (RoundingMode::NearestAway | RoundingMode::NearestEven) => Ok(m),
        m => Err(value_error(format!(
            "{what}: must be nearest-away or nearest-even, not {m}"
        ))),
    }
}

/// An MX format name (`mxint8`, `mxfp8-e4m3`, ...), or a `ValueError` naming the argument.
pub fn mx_format(name: &str, what: &str) -> PyResult<MxFormat> {
    MxFormat::from_name(name).ok_or_else(|| {
        value_error(format!(
            "{what}: unknown MX format '{name}' (expected one of: {})",
            MxFormat::names()
        ))
    })
}

/// A scale rule name (`floor`, `ceil`, `even`, `rceil`), or a `ValueError` naming the argument.
pub fn scale_rule(name: &str, what: &str) -> PyResult<ScaleRule> {
    name.parse()
        .map_err(|e: String| value_error(format!("{what}: {e}")))
}

/// Blocks from their scale bytes and elements (`elems.len() == 32 * scales.len()`).
pub fn blocks(scales: &[u8], elems: &[i8], what: &str) -> PyResult<Vec<MxInt8Block>> {
    if elems.len() != scales.len() * BLOCK {
        return Err(value_error(format!(
            "{what}: {} elements for {} blocks (expected 32 per block)",
            elems.len(),
            scales.len()
        )));
    }
    Ok(scales
        .iter()
        .zip(elems.chunks_exact(BLOCK))
        .map(|(&s, e)| MxInt8Block {
            scale: E8m0(s),
            elems: e.try_into().expect("chunks of 32"),
        })
        .collect())
}

/// `blocks` blocks fit the block grid of `shape` blocked on `axis` (an axis of the shape).
fn check_grid(blocks: usize, shape: &[usize], axis: usize, what: &str) -> PyResult<()> {
    if axis >= shape.len() {
        return Err(value_error(format!(
            "{what}: block axis {axis} is outside shape {shape:?}"
        )));
    }
    let grid = grid_shape(shape, axis);
    if product(&grid) != Some(blocks) {
        return Err(value_error(format!(
            "{what}: {blocks} blocks, but shape {shape:?} blocked on axis {axis} has the block \
             grid {grid:?}"
        )));
    }
    Ok(())
}

/// An MXINT8 tensor of logical `shape` blocked on `axis`, checked the way the dump readers check
/// a file: the block count fits the grid and the padding of partial blocks is zero.
pub fn mx_tensor(
    scales: &[u8],
    elems: &[i8],
    shape: Vec<usize>,
    axis: usize,
    what: &str,
) -> PyResult<MxTensor> {
    check_grid(scales.len(), &shape, axis, what)?;
    let t = MxTensor {
        blocks: blocks(scales, elems, what)?,
        shape,
        block_axis: axis,
    };
    // (No block, no padding: and the grid's partial products might not fit usize.)
    if t.blocks.is_empty() {
        return Ok(t);
    }
    if let Some((g, i)) = t.nonzero_padding() {
        return Err(value_error(format!(
            "{what}: block {g} (grid order) has the nonzero element {} at lane {i}, past the \
             logical length {} of axis {axis}; padding must be zero",
            t.blocks[g].elems[i], t.shape[axis]
        )));
    }
    Ok(t)
}

/// A tensor of MX format `format` of logical `shape` blocked on `axis`, from its scale bytes and
/// element codes (32 per block), checked as the dump readers check a file: the block count fits
/// the grid, every code fits the format's width, and the padding of partial blocks is the +0
/// code.
pub fn mx_codes(
    format: MxFormat,
    scales: &[u8],
    codes: &[u8],
    shape: Vec<usize>,
    axis: usize,
    what: &str,
) -> PyResult<MxCodes> {
    check_grid(scales.len(), &shape, axis, what)?;
    if codes.len() != scales.len() * BLOCK {
        return Err(value_error(format!(
            "{what}: {} element codes for {} blocks (expected 32 per block)",
            codes.len(),
            scales.len()
        )));
    }
    if format.width < 8 {
        if let Some(i) = codes.iter().position(|&c| c >> format.width != 0) {
            return Err(value_error(format!(
                "{what}: element code {:#x} (block {}, lane {}) does not fit the {} bits of {}",
                codes[i],
                i / BLOCK,
                i % BLOCK,
                format.width,
                format.name
            )));
        }
    }
    let t = MxCodes {
        format,
        blocks: scales
            .iter()
            .zip(codes.chunks_exact(BLOCK))
            .map(|(&s, c)| MxBlock {
                scale: E8m0(s),
                codes: c.try_into().expect("chunks of 32"),
            })
            .collect(),
        shape,
        block_axis: axis,
    };
    // (No block, no padding: and the grid's partial products might not fit usize.)
    if t.blocks.is_empty() {
        return Ok(t);
    }
    if let Some((g, i)) = t.nonzero_padding() {
        return Err(value_error(format!(
            "{what}: block {g} (grid order) has the nonzero code {:#x} at lane {i}, past the \
             logical length {} of axis {axis}; padding must be the +0 code",
            t.blocks[g].codes[i], t.shape[axis]
        )));
    }
    Ok(t)
}

/// Scale bytes and elements of blocks, apart (the layout `MxTensor` holds in Python). Large
/// grids (a kv-4096 `v` is 17 MB) are split on every core: it is most of what `run_case` adds
/// to the pipeline's own time.
pub fn split_blocks(blocks: &[MxInt8Block]) -> (Vec<u8>, Vec<i8>) {
    let scales = blocks.iter().map(|b| b.scale.0).collect();
    let mut elems = vec![0i8; blocks.len() * BLOCK];
    elems
        .par_chunks_mut(BLOCK)
        .zip(blocks.par_iter())
        .with_min_len(1 << 12)
        .for_each(|(dst, b)| dst.copy_from_slice(&b.elems));
    (scales, elems)
}
