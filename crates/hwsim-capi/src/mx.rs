//! The OCP MX formats (docs/numerics.md §8): the quantizer of any format and scale rule over a
//! BF16 vector, and dot / gevm / gemm over operands of any pair of formats, with `sim op`'s
//! layouts. Both call the code `sim op` runs: `sim::quantize_op::QuantizeCase` for the
//! quantizer, `sim::mx_op::MxOpCase::compute` for the products (the exact sum of the block
//! products, one rounding), and for two MXINT8 operands the MAC array's `block_matmul` with the
//! context's accumulator, as `hwsim_{dot,gevm,gemm}_mxint8_*` and `sim op --mx-format mxint8`
//! compute them.
//!
//! A grid crosses the ABI as two byte arrays: `scales[g]`, the E8M0 byte of block `g`, and
//! `codes[32 g + i]`, element `i`'s code in the low bits of a byte (all 8 for MXINT8, two's
//! complement, and MXFP8; 6 for MXFP6; 4 for MXFP4), blocks in row-major order of the grid (the
//! dump line order). A code with a bit set above the format's width is refused, and so is a
//! nonzero code in the padding of a partial block (padding is the +0 code, 0).

use crate::args::{self, Out};
use crate::codes::{
    HWSIM_ROUND_FORMAT_DEFAULT, HWSIM_ROUND_NEAREST_AWAY, HWSIM_ROUND_NEAREST_EVEN,
};
use crate::context::Context;
use crate::error::{status, Outcome, Result};
use crate::mxint8::{dot, gemm, gevm, grid, write_results, Grid, Op, OutFormat};
use hw_types::{
    Bf16, E8m0, Fp32, MxBlock, MxFormat, MxInt8Block, RoundingMode, ScaleRule, Status, BLOCK,
    MX_FORMATS,
};
use hw_units::config::AccKind;
use hw_units::mac::block_matmul;
use rayon::prelude::*;
use sim::mx_op::{MxChoice, MxOpCase};
use sim::ops::{Dims, OpKind};
use sim::quantize_op::{self, QuantizeCase};
use sim::tensor::{MxCodes, Tensor};
use std::ffi::c_int;

/// An MX format code (`HWSIM_MX_*`).
pub(crate) fn format(code: u32, name: &str) -> Result<MxFormat> {
    MX_FORMATS.get(code as usize).copied().ok_or_else(|| {
        format!(
            "{name} = {code} is not an MX format code (HWSIM_MX_*, 0..={}: {})",
            MX_FORMATS.len() - 1,
            MxFormat::names()
        )
    })
}

/// A scale-rule code (`HWSIM_SCALE_*`).
pub(crate) fn scale_rule(code: u32, name: &str) -> Result<ScaleRule> {
    ScaleRule::ALL.get(code as usize).copied().ok_or_else(|| {
        format!(
            "{name} = {code} is not a scale-rule code (HWSIM_SCALE_*, 0..=3: floor, ceil, even, rceil)"
        )
    })
}

/// The quantizer's element rounding for `format`: nearest-even, nearest-away, or the format's
/// default (`HWSIM_ROUND_FORMAT_DEFAULT`), as `sim op quantize --element-rounding` takes it.
fn element_rounding(code: u32, format: &MxFormat, name: &str) -> Result<RoundingMode> {
    element_rounding_or_default(code, name).map(|r| r.unwrap_or(format.default_rounding))
}

/// An element rounding code: nearest-even, nearest-away, or each format's default (`None`,
/// `HWSIM_ROUND_FORMAT_DEFAULT`), as `sim --element-rounding` takes it.
pub(crate) fn element_rounding_or_default(code: u32, name: &str) -> Result<Option<RoundingMode>> {
    match code {
        HWSIM_ROUND_FORMAT_DEFAULT => Ok(None),
        HWSIM_ROUND_NEAREST_AWAY | HWSIM_ROUND_NEAREST_EVEN => args::rounding(code, name).map(Some),
        _ => Err(format!(
            "{name} = {code}: the quantizer rounds elements with HWSIM_ROUND_NEAREST_EVEN (0), \
             HWSIM_ROUND_NEAREST_AWAY (1) or HWSIM_ROUND_FORMAT_DEFAULT (0xffffffff) only"
        )),
    }
}

/// Quantize the BF16 vector `x_bf16[0..n]` to the MX format `format` (`HWSIM_MX_*`) in blocks of
/// 32 along the vector, the last zero-padded: `sim op quantize --mx-format F --scale-rule R
/// --element-rounding M` on the same input. `scale_rule` is a `HWSIM_SCALE_*` code;
/// `element_rounding` is `HWSIM_ROUND_NEAREST_EVEN`, `HWSIM_ROUND_NEAREST_AWAY` or
/// `HWSIM_ROUND_FORMAT_DEFAULT` (nearest-away for MXINT8, nearest-even for the others).
/// Layouts, with `nb = ceil(n / 32)`: `scales[nb]` (block `b`'s E8M0 byte), `codes[nb * 32]`
/// (element `i` of block `b` at `32 b + i`, one code per byte in its low bits; padding codes 0),
/// `flags[nb]` (block `b`'s IEEE flags: `invalid` for a block holding inf or NaN, which becomes
/// scale 0xff and codes 0, `inexact`, `overflow` for a saturated element, `underflow`), or NULL.
/// `n == 0` and a NULL `x_bf16`, `scales` or `codes` are errors; `HWSIM_ERR_NO_MEMORY` (nothing
/// written) when the call's buffers cannot be allocated.
///
/// # Safety
/// `ctx` is NULL or an open context; `x_bf16` is NULL or valid for `n` reads; `scales` and
/// `flags` are NULL or valid for `ceil(n / 32)` writes, `codes` for `32 * ceil(n / 32)`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_quantize_mx(
    ctx: *const Context,
    format: u32,
    scale_rule: u32,
    element_rounding: u32,
    x_bf16: *const u16,
    n: usize,
    scales: *mut u8,
    codes: *mut u8,
    flags: *mut u32,
) -> c_int {
    status("hwsim_quantize_mx", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            quantize(
                ctx,
                (format, scale_rule, element_rounding),
                (x_bf16, n),
                (scales, codes, flags),
            )
        }
    })
}

/// # Safety
/// As for `hwsim_quantize_mx`.
unsafe fn quantize(
    ctx: *const Context,
    (format_code, rule_code, rounding_code): (u32, u32, u32),
    (x, n): (*const u16, usize),
    (scales, codes, flags): (*mut u8, *mut u8, *mut u32),
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        args::context(ctx)?;
        let f = format(format_code, "format")?;
        let rule = scale_rule(rule_code, "scale_rule")?;
        let mode = element_rounding(rounding_code, &f, "element_rounding")?;
        let n = args::nonzero(n, "n")?;
        let nb = n.div_ceil(BLOCK);
        let x = args::input(x, n, "x_bf16")?;
        let scales = Out::new(scales, nb, "scales")?;
        let n_codes = args::product(&[(nb, "ceil(n / 32)"), (BLOCK, "32")])?;
        let codes = Out::new(codes, n_codes, "codes")?;
        let flags = Out::optional(flags, nb, "flags")?;
        // `sim op quantize`'s estimate (the input's copy included), and this library's copies of
        // the results.
        quantize_op::memory_need(n)
            .add(&[n_codes], 1)
            .add(&[nb], 1 + std::mem::size_of::<u32>())
            .check(&format!("quantize to {} with n = {n}", f.name))?;
        let case = QuantizeCase {
            input: Tensor::new(vec![n], x.iter().map(|&b| Bf16(b)).collect()),
        };
        // As `sim op quantize` chooses: MXINT8 by `floor` is the dataset's quantizer.
        let (blocks, statuses): (Vec<MxBlock>, Vec<Status>) =
            if f.name == "mxint8" && rule == ScaleRule::Floor {
                let out = case.compute(mode);
                let blocks = out.blocks.blocks.iter().map(|b| MxBlock {
                    scale: b.scale,
                    codes: b.elems.map(|e| e as u8),
                });
                (blocks.collect(), out.flags)
            } else {
                let out = case.compute_mx(f, rule, mode);
                (out.codes.blocks, out.flags)
            };
        scales.write(&blocks.iter().map(|b| b.scale.0).collect::<Vec<_>>());
        let mut flat = Vec::with_capacity(n_codes);
        flat.extend(blocks.iter().flat_map(|b| b.codes));
        codes.write(&flat);
        if let Some(flags) = flags {
            flags.write(&statuses.iter().map(|s| s.bits() as u32).collect::<Vec<_>>());
        }
    }
    Ok(())
}

impl Grid<'_, u8> {
    /// The blocks, copied (callers check the memory first).
    pub(crate) fn mx_blocks(&self) -> Vec<MxBlock> {
        self.scales
            .par_iter()
            .zip(self.elems.par_chunks_exact(BLOCK))
            .with_min_len(1 << 14)
            .map(|(&s, c)| MxBlock {
                scale: E8m0(s),
                codes: c.try_into().expect("chunks of 32"),
            })
            .collect()
    }

    /// The blocks as MXINT8 blocks (the codes are the int8 elements), copied.
    pub(crate) fn mxint8_blocks(&self) -> Vec<MxInt8Block> {
        self.scales
            .par_iter()
            .zip(self.elems.par_chunks_exact(BLOCK))
            .with_min_len(1 << 14)
            .map(|(&s, c)| MxInt8Block {
                scale: E8m0(s),
                elems: std::array::from_fn(|i| c[i] as i8),
            })
            .collect()
    }
}

/// Every code must fit the format's width (MXFP6: 6 bits, MXFP4: 4; any byte for the 8-bit
/// formats).
pub(crate) fn check_codes(codes: &[u8], f: &MxFormat, name: &str) -> Result<()> {
    if f.width >= 8 {
        return Ok(());
    }
    let max = ((1u32 << f.width) - 1) as u8;
    match codes
        .par_iter()
        .with_min_len(1 << 16)
        .position_first(|&c| c > max)
    {
        None => Ok(()),
        Some(p) => Err(format!(
            "{name}[{p}] = {:#04x} (block {}, element {}) is not a {} code: its codes are {} bits, 0x00..={max:#04x}",
            codes[p],
            p / BLOCK,
            p % BLOCK,
            f.name,
            f.width
        )),
    }
}

/// The logical shapes and blocked axes of an operation's operands, as `sim op` lays them out.
fn operand_shapes(op: &Op) -> [(Vec<usize>, usize); 2] {
    let Dims { m, k, n } = op.sizes;
    match op.kind {
        OpKind::Dot => [(vec![m], 0), (vec![m], 0)],
        OpKind::Gevm => [(vec![m], 0), (vec![m, k], 0)],
        OpKind::Gemm => [(vec![m, k], 1), (vec![k, n], 0)],
    }
}

/// The two operands' pointers: scales and codes of each.
type Operands = [(*const u8, *const u8); 2];

/// Run a block product over MX operands of formats `formats` (`HWSIM_MX_*` codes): check
/// everything, compute, then write `out` and `flags` (may be NULL), one element per output.
///
/// # Safety
/// `ctx` is NULL or an open context; the operand pointers are NULL or valid for reads of their
/// grids; `out` and `flags` are NULL or valid for writes of `op.outputs` elements.
unsafe fn mx_product<F: OutFormat>(
    ctx: *const Context,
    op: Result<Op>,
    [format_a, format_b]: [u32; 2],
    operands: Operands,
    rounding: u32,
    (out, flags): (*mut F::Raw, *mut u32),
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        let ctx = args::context(ctx)?;
        let op = op?;
        let formats = [format(format_a, "format_a")?, format(format_b, "format_b")?];
        let mode = args::rounding(rounding, "rounding")?;
        let mxint8 = formats.iter().all(|f| f.name == "mxint8");
        if !mxint8 && ctx.units.mac_acc != AccKind::Exact {
            return Err(format!(
                "format_a = {}, format_b = {}: products of MX formats other than mxint8 x mxint8 are summed exactly, and the MAC accumulator of this context ('{}') is not exact; open \"reference\" or a config whose mac.accumulator is exact (sim op refuses the same)",
                formats[0].name,
                formats[1].name,
                ctx.name()
            )
            .into());
        }
        let check = |i: usize| -> Result<Grid<'_, u8>> {
            let [scales, codes] = op.names(i, "codes");
            let g = grid(op.grids[i], operands[i], [&scales, &codes])?;
            check_codes(g.elems, &formats[i], &codes)?;
            Ok(g)
        };
        let (a, b) = (check(0)?, check(1)?);
        let out = Out::new(out, op.outputs, "out")?;
        let flags = Out::optional(flags, op.outputs, "flags")?;
        if mxint8 {
            // The MAC array with the context's accumulator, as hwsim_*_mxint8_* and sim op.
            op.check_memory([
                a.copy_bytes_as::<MxInt8Block>(),
                b.copy_bytes_as::<MxInt8Block>(),
            ])?;
            let (a, b) = (a.mxint8_blocks(), b.mxint8_blocks());
            let r = block_matmul::<F>(&a, &b, op.dims, &ctx.units.mac_acc, mode);
            let values: Vec<_> = r.iter().map(|x| x.value.raw()).collect();
            write_results((out, flags), &values, r.iter().map(|x| x.status));
        } else {
            op.check_memory([a.copy_bytes_as::<MxBlock>(), b.copy_bytes_as::<MxBlock>()])?;
            let [(sa, xa), (sb, xb)] = operand_shapes(&op);
            let codes = |f: MxFormat, shape, block_axis, g: &Grid<u8>| MxCodes {
                format: f,
                shape,
                block_axis,
                blocks: g.mx_blocks(),
            };
            let case = MxOpCase {
                op: op.kind,
                dims: op.sizes,
                choice: MxChoice {
                    formats,
                    // The operands are given: how they were quantized plays no part.
                    rule: ScaleRule::Floor,
                    element_rounding: None,
                },
                operands: [codes(formats[0], sa, xa, &a), codes(formats[1], sb, xb, &b)],
            };
            let r = case.compute(F::DTYPE, mode);
            write_results((out, flags), &F::raws(&r.tensor), r.flags.iter().copied());
        }
    }
    Ok(())
}

// The six entry points: {dot, gevm, gemm} x {BF16, FP32 output}, over operands of the formats
// `format_a` (the first operand: a, vector, input) and `format_b` (the second: b, matrix,
// other), `sim op dot|gevm|gemm --mx-format A,B`. Each output element is the exact sum of its
// blocks' element products times both scales, rounded once in `rounding` (a HWSIM_ROUND_*
// code); NaN and infinite codes (MXFP8) and a 0xff scale follow IEEE. `flags[j]`, if `flags` is
// not NULL, gets output j's IEEE flags. Two MXINT8 operands are summed by the context's MAC
// accumulator, exactly as by hwsim_*_mxint8_*; every other pair exactly, which a context whose
// accumulator is not exact (the "narrow" profile) refuses, as sim op does. Each checks the
// memory the product needs before allocating anything and returns HWSIM_ERR_NO_MEMORY, writing
// nothing, when it cannot be had.

/// dot_product of two MX vectors of length `m`, `a` of format `format_a` and `b` of
/// `format_b` (`HWSIM_MX_*`), BF16 result in `out[0]`.
/// Layouts: `a_scales[ceil(m/32)]`, `a_codes[ceil(m/32) * 32]` (one code per byte), the same
/// for `b`. A code wider than its format, or a nonzero padding code, is an error.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_dot_mx_bf16(
    ctx: *const Context,
    m: usize,
    format_a: u32,
    format_b: u32,
    a_scales: *const u8,
    a_codes: *const u8,
    b_scales: *const u8,
    b_codes: *const u8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(a_scales, a_codes), (b_scales, b_codes)];
    let formats = [format_a, format_b];
    status("hwsim_dot_mx_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { mx_product::<Bf16>(ctx, dot(m), formats, operands, rounding, (out, flags)) }
    })
}

/// `hwsim_dot_mx_bf16` with an FP32 result.
///
/// # Safety
/// As for `hwsim_dot_mx_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_dot_mx_fp32(
    ctx: *const Context,
    m: usize,
    format_a: u32,
    format_b: u32,
    a_scales: *const u8,
    a_codes: *const u8,
    b_scales: *const u8,
    b_codes: *const u8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(a_scales, a_codes), (b_scales, b_codes)];
    let formats = [format_a, format_b];
    status("hwsim_dot_mx_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { mx_product::<Fp32>(ctx, dot(m), formats, operands, rounding, (out, flags)) }
    })
}

/// gevm: `out[c] = sum_i vector[i] * matrix[i, c]` for c < k, BF16; `vector` of format
/// `format_a`, `matrix` of `format_b` (`HWSIM_MX_*`).
/// Layouts: `vector_scales[ceil(m/32)]`, `vector_codes[ceil(m/32) * 32]`;
/// `matrix_scales[ceil(m/32) * k]` (block `(b, c)` at `b * k + c`),
/// `matrix_codes[ceil(m/32) * k * 32]`; `out[k]`, `flags[k]`.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gevm_mx_bf16(
    ctx: *const Context,
    m: usize,
    k: usize,
    format_a: u32,
    format_b: u32,
    vector_scales: *const u8,
    vector_codes: *const u8,
    matrix_scales: *const u8,
    matrix_codes: *const u8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(vector_scales, vector_codes), (matrix_scales, matrix_codes)];
    let formats = [format_a, format_b];
    status("hwsim_gevm_mx_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { mx_product::<Bf16>(ctx, gevm(m, k), formats, operands, rounding, (out, flags)) }
    })
}

/// `hwsim_gevm_mx_bf16` with FP32 results.
///
/// # Safety
/// As for `hwsim_gevm_mx_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gevm_mx_fp32(
    ctx: *const Context,
    m: usize,
    k: usize,
    format_a: u32,
    format_b: u32,
    vector_scales: *const u8,
    vector_codes: *const u8,
    matrix_scales: *const u8,
    matrix_codes: *const u8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(vector_scales, vector_codes), (matrix_scales, matrix_codes)];
    let formats = [format_a, format_b];
    status("hwsim_gevm_mx_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe { mx_product::<Fp32>(ctx, gevm(m, k), formats, operands, rounding, (out, flags)) }
    })
}

/// gemm: `out[r, c] = sum_i input[r, i] * other[i, c]`, BF16, `out` row-major `[m, n]`;
/// `input` of format `format_a`, `other` of `format_b` (`HWSIM_MX_*`).
/// Layouts: `input_scales[m * ceil(k/32)]` (block `(r, b)` at `r * ceil(k/32) + b`),
/// `input_codes[m * ceil(k/32) * 32]`; `other_scales[ceil(k/32) * n]` (block `(b, c)` at
/// `b * n + c`), `other_codes[ceil(k/32) * n * 32]`; `out[m * n]`, `flags[m * n]`.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gemm_mx_bf16(
    ctx: *const Context,
    m: usize,
    k: usize,
    n: usize,
    format_a: u32,
    format_b: u32,
    input_scales: *const u8,
    input_codes: *const u8,
    other_scales: *const u8,
    other_codes: *const u8,
    rounding: u32,
    out: *mut u16,
    flags: *mut u32,
) -> c_int {
    let operands = [(input_scales, input_codes), (other_scales, other_codes)];
    let formats = [format_a, format_b];
    status("hwsim_gemm_mx_bf16", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            mx_product::<Bf16>(
                ctx,
                gemm(m, k, n),
                formats,
                operands,
                rounding,
                (out, flags),
            )
        }
    })
}

/// `hwsim_gemm_mx_bf16` with FP32 results.
///
/// # Safety
/// As for `hwsim_gemm_mx_bf16`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_gemm_mx_fp32(
    ctx: *const Context,
    m: usize,
    k: usize,
    n: usize,
    format_a: u32,
    format_b: u32,
    input_scales: *const u8,
    input_codes: *const u8,
    other_scales: *const u8,
    other_codes: *const u8,
    rounding: u32,
    out: *mut u32,
    flags: *mut u32,
) -> c_int {
    let operands = [(input_scales, input_codes), (other_scales, other_codes)];
    let formats = [format_a, format_b];
    status("hwsim_gemm_mx_fp32", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            mx_product::<Fp32>(
                ctx,
                gemm(m, k, n),
                formats,
                operands,
                rounding,
                (out, flags),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;

    #[test]
    fn codes_are_the_format_table_and_the_rules() {
        let names = [
            (HWSIM_MX_MXINT8, "mxint8"),
            (HWSIM_MX_MXFP8_E4M3, "mxfp8-e4m3"),
            (HWSIM_MX_MXFP8_E5M2, "mxfp8-e5m2"),
            (HWSIM_MX_MXFP6_E3M2, "mxfp6-e3m2"),
            (HWSIM_MX_MXFP6_E2M3, "mxfp6-e2m3"),
            (HWSIM_MX_MXFP4_E2M1, "mxfp4-e2m1"),
        ];
        assert_eq!(HWSIM_MX_FORMATS as usize, MX_FORMATS.len());
        for (code, name) in names {
            assert_eq!(format(code, "f").unwrap().name, name);
        }
        let e = format(HWSIM_MX_FORMATS, "format").unwrap_err();
        assert!(e.starts_with("format = 6 is not an MX format code"), "{e}");
        for (code, name) in [
            (HWSIM_SCALE_FLOOR, "floor"),
            (HWSIM_SCALE_CEIL, "ceil"),
            (HWSIM_SCALE_EVEN, "even"),
            (HWSIM_SCALE_RCEIL, "rceil"),
        ] {
            assert_eq!(scale_rule(code, "r").unwrap().name(), name);
        }
        assert!(scale_rule(4, "scale_rule").is_err());
        let [int8, e4m3, ..] = MX_FORMATS;
        let d = HWSIM_ROUND_FORMAT_DEFAULT;
        assert_eq!(
            element_rounding(d, &int8, "e"),
            Ok(RoundingMode::NearestAway)
        );
        assert_eq!(
            element_rounding(d, &e4m3, "e"),
            Ok(RoundingMode::NearestEven)
        );
        assert_eq!(
            element_rounding(HWSIM_ROUND_NEAREST_AWAY, &e4m3, "e"),
            Ok(RoundingMode::NearestAway)
        );
        assert!(element_rounding(HWSIM_ROUND_TOWARD_ZERO, &e4m3, "e").is_err());
    }

    #[test]
    fn codes_wider_than_the_format_are_found_anywhere() {
        let [_, e4m3, _, e3m2, _, e2m1] = MX_FORMATS;
        let mut codes = vec![0u8; 1 << 18];
        codes[1 << 17] = 0x3f;
        assert!(check_codes(&codes, &e3m2, "c").is_ok());
        assert!(check_codes(&codes, &e2m1, "c").is_err());
        codes[(1 << 17) + 1] = 0x40;
        let e = check_codes(&codes, &e3m2, "c").unwrap_err();
        assert_eq!(
            e,
            "c[131073] = 0x40 (block 4096, element 1) is not a mxfp6-e3m2 code: its codes are 6 bits, 0x00..=0x3f"
        );
        assert!(check_codes(&[0xff; 64], &e4m3, "c").is_ok());
    }
}
