//! MXINT8: the quantizer on one block, and the MAC array's block products dot / gevm / gemm
//! (docs/numerics.md §4 and §6), with `sim op`'s operand layouts.
//!
//! A block grid crosses the ABI as two arrays: `scales[g]`, the E8M0 byte of block `g`, and
//! `elems[32 g + i]`, its element `i` (int8), blocks in row-major order of the grid (the dump
//! line order). Padding past the blocked axis' length must be zero, as the dump readers require.
//! The grid checks, the operations' shapes and their memory check are shared with the other MX
//! formats (`mx.rs`), whose grids hold codes (`u8`) where these hold int8 elements.

use crate::args::{self, Out};
use crate::codes::{HWSIM_BLOCK, HWSIM_ROUND_NEAREST_AWAY};
use crate::context::Context;
use crate::error::{status, Outcome, Result};
use hw_types::{Bf16, E8m0, Format, Fp32, MxInt8Block, Status, BLOCK};
use hw_units::mac::block_matmul;
use rayon::prelude::*;
use sim::ops::{Dims, OpKind, OutDtype, OutTensor};
use std::ffi::c_int;
use std::ptr::null_mut;

/// Quantize `x_bf16[0..n]` (1 <= n <= 32; the rest of the block is zero padding) into one
/// MXINT8 block with the project's default element rounding, nearest-away: `*scale` gets the
/// E8M0 byte, `q[0..32]` the elements. `n == 0` and a NULL `x_bf16` are errors.
///
/// # Safety
/// `ctx` is NULL or an open context; `x_bf16` is NULL or valid for `n` reads; `scale` is NULL
/// or valid for one write, `q` for 32.
#[no_mangle]
pub unsafe extern "C" fn hwsim_quantize_mxint8(
    ctx: *const Context,
    x_bf16: *const u16,
    n: usize,
    scale: *mut u8,
    q: *mut i8,
) -> c_int {
    // SAFETY: the caller's contract, passed on (flags NULL: not asked for).
    unsafe {
        quantize(
            "hwsim_quantize_mxint8",
            ctx,
            (x_bf16, n),
            HWSIM_ROUND_NEAREST_AWAY,
            (scale, q),
            null_mut(),
        )
    }
}

/// `hwsim_quantize_mxint8` with the element rounding `HWSIM_ROUND_NEAREST_AWAY` or
/// `HWSIM_ROUND_NEAREST_EVEN`, and the block's flags (`invalid` for an inf/NaN block, `inexact`,
/// `overflow` for an element clamped to 127, `underflow` for a nonzero element that became 0)
/// into `*flags` unless NULL.
///
/// # Safety
/// As for `hwsim_quantize_mxint8`; `flags` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn hwsim_quantize_mxint8_ex(
    ctx: *const Context,
    x_bf16: *const u16,
    n: usize,
    element_rounding: u32,
    scale: *mut u8,
    q: *mut i8,
    flags: *mut u32,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        quantize(
            "hwsim_quantize_mxint8_ex",
            ctx,
            (x_bf16, n),
            element_rounding,
            (scale, q),
            flags,
        )
    }
}

/// # Safety
/// As for `hwsim_quantize_mxint8_ex`.
unsafe fn quantize(
    func: &str,
    ctx: *const Context,
    (x, n): (*const u16, usize),
    element_rounding: u32,
    (scale, q): (*mut u8, *mut i8),
    flags: *mut u32,
) -> c_int {
    status(func, || {
        // SAFETY (whole block): the caller's contract on every pointer.
        unsafe {
            args::context(ctx)?;
            let mode = args::element_rounding(element_rounding, "element_rounding")?;
            let n = args::nonzero(n, "n")?;
            if n > BLOCK {
                return Err(format!("n = {n} is more than one block ({BLOCK} elements)").into());
            }
            let values: Vec<Fp32> = args::input(x, n, "x_bf16")?
                .iter()
                .map(|&b| Bf16(b).to_fp32())
                .collect();
            let scale = Out::new(scale, 1, "scale")?;
            let q = Out::new(q, BLOCK, "q")?;
            let r = MxInt8Block::quantize(&values, mode);
            scale.write(&[r.value.scale.0]);
            q.write(&r.value.elems);
            args::store_flags(flags, r.status.bits() as u32);
        }
        Ok(())
    })
}

/// A blocked axis and its neighbours: a grid of `outer x ceil(len / 32) x inner` blocks, with
/// the names the error messages use.
#[derive(Clone, Copy)]
pub(crate) struct GridShape {
    pub outer: (usize, &'static str),
    pub len: (usize, &'static str),
    pub inner: (usize, &'static str),
}

impl GridShape {
    pub(crate) fn blocks(&self) -> Result<usize> {
        let nb = self.len.0.div_ceil(BLOCK);
        let nb_name = format!("ceil({} / 32)", self.len.1);
        args::product(&[self.outer, (nb, &nb_name), self.inner])
    }
}

/// A caller's block grid (`scales`, `elems` as described in the module docs; `T` is `i8` for
/// MXINT8 elements, `u8` for the element codes of any MX format), checked: the pointers, the
/// sizes and the padding. Nothing is allocated until the blocks are copied.
pub(crate) struct Grid<'a, T> {
    pub(crate) scales: &'a [u8],
    pub(crate) elems: &'a [T],
}

impl<T> Grid<'_, T> {
    /// Blocks of the grid and the bytes of each block's copy as `B`.
    pub(crate) fn copy_bytes_as<B>(&self) -> (usize, usize) {
        (self.scales.len(), std::mem::size_of::<B>())
    }
}

impl Grid<'_, i8> {
    /// Bytes of the copy [`Grid::blocks`] makes.
    pub(crate) fn copy_bytes(&self) -> (usize, usize) {
        self.copy_bytes_as::<MxInt8Block>()
    }

    /// The blocks, copied (callers check the memory first).
    pub(crate) fn blocks(&self) -> Vec<MxInt8Block> {
        // In parallel: a kv-4096 softmax_v brings 17 MB of v, and the copy is part of every call.
        self.scales
            .par_iter()
            .zip(self.elems.par_chunks_exact(BLOCK))
            .with_min_len(1 << 14)
            .map(|(&s, e)| MxInt8Block {
                scale: E8m0(s),
                elems: e.try_into().expect("chunks of 32"),
            })
            .collect()
    }
}

/// Check a caller's block grid.
///
/// # Safety
/// `scales` and `elems` are NULL or valid for reads of the grid's blocks (`elems`: 32 each) for
/// as long as the result is used.
pub(crate) unsafe fn grid<'a, T: Copy + Default + PartialEq>(
    shape: GridShape,
    (scales, elems): (*const u8, *const T),
    names: [&str; 2],
) -> Result<Grid<'a, T>> {
    let count = shape.blocks()?;
    let n_elems = args::product(&[(count, "blocks"), (BLOCK, "32")])
        .map_err(|e| format!("{}: {e}", names[1]))?;
    // SAFETY: the caller's contract.
    let (scales, elems) = unsafe {
        (
            args::input(scales, count, names[0])?,
            args::input(elems, n_elems, names[1])?,
        )
    };
    check_padding(elems, shape, names[1])?;
    Ok(Grid { scales, elems })
}

/// The elements of a partial last block past the axis' length must be zero: such a grid cannot
/// come from a quantizer, and a nonzero pair of paddings would change a product.
fn check_padding<T: Copy + Default + PartialEq>(
    elems: &[T],
    shape: GridShape,
    name: &str,
) -> Result<()> {
    let (len, axis) = shape.len;
    let valid = len % BLOCK;
    if valid == 0 {
        return Ok(());
    }
    let (nb, inner) = (len.div_ceil(BLOCK), shape.inner.0);
    for (g, blk) in elems.chunks_exact(BLOCK).enumerate() {
        let b = (g / inner) % nb;
        if b + 1 != nb {
            continue;
        }
        if let Some(i) = blk[valid..].iter().position(|&e| e != T::default()) {
            let i = valid + i;
            return Err(format!(
                "{name}: block {g} has a nonzero padding element {i} ({axis} index {} is past {axis} = {len}); padding must be zero",
                BLOCK * b + i
            ));
        }
    }
    Ok(())
}

/// An output format of the block products and its bit pattern type in C.
pub(crate) trait OutFormat: Format + Send {
    type Raw: Copy;
    /// `sim op --out-dtype`.
    const DTYPE: OutDtype;
    fn raw(self) -> Self::Raw;
    /// The bit patterns of an output tensor of `sim op` of this dtype.
    fn raws(t: &OutTensor) -> Vec<Self::Raw>;
}

impl OutFormat for Bf16 {
    type Raw = u16;
    const DTYPE: OutDtype = OutDtype::Bf16;
    fn raw(self) -> u16 {
        self.0
    }
    fn raws(t: &OutTensor) -> Vec<u16> {
        match t {
            OutTensor::Bf16(t) => t.data.iter().map(|x| x.0).collect(),
            OutTensor::Fp32(_) => panic!("an FP32 output where BF16 was asked for"),
        }
    }
}

impl OutFormat for Fp32 {
    type Raw = u32;
    const DTYPE: OutDtype = OutDtype::Fp32;
    fn raw(self) -> u32 {
        self.0
    }
    fn raws(t: &OutTensor) -> Vec<u32> {
        match t {
            OutTensor::Fp32(t) => t.data.iter().map(|x| x.0).collect(),
            OutTensor::Bf16(_) => panic!("a BF16 output where FP32 was asked for"),
        }
    }
}

/// The two operands' pointers: scales and elements of each.
type Operands = [(*const u8, *const i8); 2];

/// One of `sim op`'s operations: operand grids, the block product's dimensions, and names.
pub(crate) struct Op {
    /// `sim op`'s operation and sizes, for the memory the product needs.
    pub(crate) kind: OpKind,
    pub(crate) sizes: Dims,
    pub(crate) grids: [GridShape; 2],
    /// The operands' names in the C signatures (`a`, `vector`, `input`; `b`, `matrix`, `other`).
    pub(crate) operands: [&'static str; 2],
    /// Output elements.
    pub(crate) outputs: usize,
    /// `(rows of A, blocks along the reduction, columns of B)`.
    pub(crate) dims: (usize, usize, usize),
}

impl Op {
    /// The names of operand `i`'s two arrays: `{operand}_scales` and `{operand}_{elems}`.
    pub(crate) fn names(&self, i: usize, elems: &str) -> [String; 2] {
        let o = self.operands[i];
        [format!("{o}_scales"), format!("{o}_{elems}")]
    }

    /// Check that the product's buffers can be had, before allocating any: `sim op`'s
    /// estimate, this library's copies of the two grids (`(blocks, bytes per block)` each) and of
    /// the results.
    pub(crate) fn check_memory(&self, copies: [(usize, usize); 2]) -> Outcome<()> {
        let Dims { m, k, n } = self.sizes;
        let [ca, cb] = copies;
        self.sizes
            .memory_need(self.kind)
            .add(&[ca.0], ca.1)
            .add(&[cb.0], cb.1)
            .add(&[self.outputs], 2 * std::mem::size_of::<u32>())
            .check(&format!(
                "{} with m = {m}, k = {k}, n = {n}",
                self.kind.name()
            ))?;
        Ok(())
    }
}

/// Write a product's results: the values to `out`, their flags to `flags` if asked for.
pub(crate) fn write_results<R: Copy>(
    (out, flags): (Out<R>, Option<Out<u32>>),
    values: &[R],
    statuses: impl Iterator<Item = Status>,
) {
    out.write(values);
    if let Some(flags) = flags {
        flags.write(&statuses.map(|s| s.bits() as u32).collect::<Vec<_>>());
    }
}

const ONE: (usize, &str) = (1, "1");

/// Run a block product: check everything, compute, then write `out` (one element per output)
/// and `flags` (the same count, may be NULL).
///
/// # Safety
/// `ctx` is NULL or an open context; the operand pointers are NULL or valid for reads of their
/// grids; `out` and `flags` are NULL or valid for writes of `op.outputs` elements.
unsafe fn block_product<F: OutFormat>(
    ctx: *const Context,
    op: Result<Op>,
    operands: Operands,
    rounding: u32,
    (out, flags): (*mut F::Raw, *mut u32),
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        let ctx = args::context(ctx)?;
        let op = op?;
        let mode = args::rounding(rounding, "rounding")?;
        let [na, nb] = [op.names(0, "elems"), op.names(1, "elems")];
        let a = grid(op.grids[0], operands[0], [&na[0], &na[1]])?;
        let b = grid(op.grids[1], operands[1], [&nb[0], &nb[1]])?;
        let out = Out::new(out, op.outputs, "out")?;
        let flags = Out::optional(flags, op.outputs, "flags")?;
        // Every buffer the product allocates, checked before the first.
        op.check_memory([a.copy_bytes(), b.copy_bytes()])?;
        let (a, b) = (a.blocks(), b.blocks());
        let r = block_matmul::<F>(&a, &b, op.dims, &ctx.units.mac_acc, mode);
        let values: Vec<_> = r.iter().map(|x| x.value.raw()).collect();
        write_results((out, flags), &values, r.iter().map(|x| x.status));
    }
    Ok(())
}

/// dot_product: `a`, `b` of length m, one block row each (`ceil(m/32)` blocks).
pub(crate) fn dot(m: usize) -> Result<Op> {
    let m = (args::nonzero(m, "m")?, "m");
    let vec = GridShape {
        outer: ONE,
        len: m,
        inner: ONE,
    };
    Ok(Op {
        kind: OpKind::Dot,
        sizes: Dims { m: m.0, k: 1, n: 1 },
        grids: [vec, vec],
        operands: ["a", "b"],
        outputs: 1,
        dims: (1, m.0.div_ceil(BLOCK), 1),
    })
}

/// gevm: `vector` [m] (grid `[ceil(m/32)]`) times `matrix` [m, k] blocked along m (grid
/// `[ceil(m/32), k]`); output [k].
pub(crate) fn gevm(m: usize, k: usize) -> Result<Op> {
    let m = (args::nonzero(m, "m")?, "m");
    let k = (args::nonzero(k, "k")?, "k");
    Ok(Op {
        kind: OpKind::Gevm,
        sizes: Dims {
            m: m.0,
            k: k.0,
            n: 1,
        },
        grids: [
            GridShape {
                outer: ONE,
                len: m,
                inner: ONE,
            },
            GridShape {
                outer: ONE,
                len: m,
                inner: k,
            },
        ],
        operands: ["vector", "matrix"],
        outputs: k.0,
        dims: (1, m.0.div_ceil(BLOCK), k.0),
    })
}

/// gemm: `input` [m, k] blocked along k (grid `[m, ceil(k/32)]`) times `other` [k, n] blocked
/// along k (grid `[ceil(k/32), n]`); output [m, n] row-major.
pub(crate) fn gemm(m: usize, k: usize, n: usize) -> Result<Op> {
    let m = (args::nonzero(m, "m")?, "m");
    let k = (args::nonzero(k, "k")?, "k");
    let n = (args::nonzero(n, "n")?, "n");
    Ok(Op {
        kind: OpKind::Gemm,
        sizes: Dims {
            m: m.0,
            k: k.0,
            n: n.0,
        },
        grids: [
            GridShape {
                outer: m,
                len: k,
                inner: ONE,
            },
            GridShape {
                outer: ONE,
                len: k,
                inner: n,
            },
        ],
        operands: ["input", "other"],
        outputs: args::product(&[m, n])?,
        dims: (m.0, k.0.div_ceil(BLOCK), n.0),
    })
}

// The six entry points: {dot, gevm, gemm} x {BF16, FP32 output}. Each output element is the
// exact sum of the block products, accumulated by the context's MAC accumulator and rounded
// once in `rounding` (a HWSIM_ROUND_* code); `flags[j]`, if `flags` is not NULL, gets output
// j's IEEE flags. Each checks the memory the product needs before allocating anything and
// returns HWSIM_ERR_NO_MEMORY, writing nothing, when it cannot be had.

/// dot_product of two MXINT8 vectors of length `m`, BF16 result in `out[0]`.
/// Layouts: `a_scales[ceil(m/32)]`, `a_elems[ceil(m/32) * 32]`, the same for `b`.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_dot_mxint8_bf16(
    ctx: *const Context,
    m: usize,
    a_scales: *const u8,
    a_elems: *const i8,
    b_scales: *const u8,
    b_elems: *const i8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(a_scales, a_elems), (b_scales, b_elems)];
    status("hwsim_dot_mxint8_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Bf16>(ctx, dot(m), operands, rounding, (out, flags)) }
    })
}

/// `hwsim_dot_mxint8_bf16` with an FP32 result.
///
/// # Safety
/// As for `hwsim_dot_mxint8_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_dot_mxint8_fp32(
    ctx: *const Context,
    m: usize,
    a_scales: *const u8,
    a_elems: *const i8,
    b_scales: *const u8,
    b_elems: *const i8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(a_scales, a_elems), (b_scales, b_elems)];
    status("hwsim_dot_mxint8_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Fp32>(ctx, dot(m), operands, rounding, (out, flags)) }
    })
}

/// gevm: `out[c] = sum_i vector[i] * matrix[i, c]` for c < k, BF16.
/// Layouts: `vector_scales[ceil(m/32)]`, `vector_elems[ceil(m/32) * 32]`;
/// `matrix_scales[ceil(m/32) * k]` (block `(b, c)` at `b * k + c`),
/// `matrix_elems[ceil(m/32) * k * 32]`; `out[k]`, `flags[k]`. `HWSIM_ERR_NO_MEMORY` (nothing
/// written) when the product's buffers cannot be allocated.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gevm_mxint8_bf16(
    ctx: *const Context,
    m: usize,
    k: usize,
    vector_scales: *const u8,
    vector_elems: *const i8,
    matrix_scales: *const u8,
    matrix_elems: *const i8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(vector_scales, vector_elems), (matrix_scales, matrix_elems)];
    status("hwsim_gevm_mxint8_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Bf16>(ctx, gevm(m, k), operands, rounding, (out, flags)) }
    })
}

/// `hwsim_gevm_mxint8_bf16` with FP32 results.
///
/// # Safety
/// As for `hwsim_gevm_mxint8_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gevm_mxint8_fp32(
    ctx: *const Context,
    m: usize,
    k: usize,
    vector_scales: *const u8,
    vector_elems: *const i8,
    matrix_scales: *const u8,
    matrix_elems: *const i8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(vector_scales, vector_elems), (matrix_scales, matrix_elems)];
    status("hwsim_gevm_mxint8_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Fp32>(ctx, gevm(m, k), operands, rounding, (out, flags)) }
    })
}

/// gemm: `out[r, c] = sum_i input[r, i] * other[i, c]`, BF16, `out` row-major `[m, n]`.
/// Layouts: `input_scales[m * ceil(k/32)]` (block `(r, b)` at `r * ceil(k/32) + b`),
/// `input_elems[m * ceil(k/32) * 32]`; `other_scales[ceil(k/32) * n]` (block `(b, c)` at
/// `b * n + c`), `other_elems[ceil(k/32) * n * 32]`; `out[m * n]`, `flags[m * n]`.
/// `HWSIM_ERR_NO_MEMORY` (nothing written) when the product's buffers cannot be allocated, as
/// for dot and gevm.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gemm_mxint8_bf16(
    ctx: *const Context,
    m: usize,
    k: usize,
    n: usize,
    input_scales: *const u8,
    input_elems: *const i8,
    other_scales: *const u8,
    other_elems: *const i8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(input_scales, input_elems), (other_scales, other_elems)];
    status("hwsim_gemm_mxint8_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Bf16>(ctx, gemm(m, k, n), operands, rounding, (out, flags)) }
    })
}

/// `hwsim_gemm_mxint8_bf16` with FP32 results.
///
/// # Safety
/// As for `hwsim_gemm_mxint8_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gemm_mxint8_fp32(
    ctx: *const Context,
    m: usize,
    k: usize,
    n: usize,
    input_scales: *const u8,
    input_elems: *const i8,
    other_scales: *const u8,
    other_elems: *const i8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(input_scales, input_elems), (other_scales, other_elems)];
    status("hwsim_gemm_mxint8_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { block_product::<Fp32>(ctx, gemm(m, k, n), operands, rounding, (out, flags)) }
    })
}

const _: () = assert!(HWSIM_BLOCK == BLOCK);
