//! softmax_v: the whole pipeline of `sim run` (exp, reduce-sum, quantize, gevm, reciprocal,
//! scale) on caller-supplied inputs, through `sim::softmax::run_with`, the function `sim run`
//! calls, with the context's units.

use crate::args::{self, Out};
use crate::codes::{HWSIM_ROUND_NEAREST_AWAY, HWSIM_SOFTMAX_STAGES};
use crate::context::Context;
use crate::error::{status, Outcome, Result};
use crate::mx;
use crate::mxint8::{grid, GridShape};
use hw_types::{Bf16, MxBlock, MxInt8Block, Status, BLOCK};
use sim::softmax::{check_mac, memory_need, run_with, Formats, Inputs, Params, Stages};
use sim::tensor::{MxCodes, MxData, MxTensor, Tensor};
use std::ffi::c_int;

/// An element of exp's quantized blocks as the caller receives it: MXINT8's int8 element
/// (`hwsim_softmax_v`, `_ex`) or any format's code, one per byte (`hwsim_softmax_v_mx`).
trait Elem: Copy {
    fn of(code: u8) -> Self;
}

impl Elem for i8 {
    fn of(code: u8) -> i8 {
        code as i8
    }
}

impl Elem for u8 {
    fn of(code: u8) -> u8 {
        code
    }
}

/// The outputs, each NULL (not wanted) or an array of the documented length.
struct Outputs<E> {
    exp_bf16: Option<Out<u16>>,
    exp_sum: Option<Out<u16>>,
    exp_scales: Option<Out<u8>>,
    exp_elems: Option<Out<E>>,
    scaled_v: Option<Out<u16>>,
    inv: Option<Out<u16>>,
    out: Option<Out<u16>>,
    stage_flags: Option<Out<u32>>,
}

fn bits(t: &Tensor<Bf16>) -> Vec<u16> {
    t.data.iter().map(|x| x.0).collect()
}

/// Every flag any result of a stage raised.
fn any(statuses: &[Status]) -> u32 {
    statuses.iter().fold(Status::OK, |a, &s| a | s).bits() as u32
}

impl<E: Elem> Outputs<E> {
    fn write(self, s: &Stages) {
        let put = |o: Option<Out<u16>>, t: &Tensor<Bf16>| {
            if let Some(o) = o {
                o.write(&bits(t))
            }
        };
        put(self.exp_bf16, &s.exp);
        put(self.exp_sum, &s.exp_sum);
        put(self.scaled_v, &s.scaled_v);
        put(self.inv, &s.inv);
        put(self.out, &s.out);
        let blocks = (0..s.exp_mx.block_count()).map(|g| s.exp_mx.block(g));
        if let Some(o) = self.exp_scales {
            o.write(&blocks.clone().map(|b| b.scale.0).collect::<Vec<_>>());
        }
        if let Some(o) = self.exp_elems {
            o.write(&blocks.flat_map(|b| b.codes.map(E::of)).collect::<Vec<_>>());
        }
        if let Some(o) = self.stage_flags {
            let f = &s.flags;
            o.write(&[
                any(&f.exp),
                any(&f.exp_sum),
                any(&f.exp_mx),
                any(&f.scaled_v),
                any(&f.inv),
                any(&f.out),
            ]);
        }
    }
}

/// softmax_v of `heads` rows of `kv` scores against `v`, with element rounding nearest-away (the
/// default of `sim run`). Inputs (docs/dump-format.md, the order of the dump lines):
///
/// - `qk_t[heads * kv]`: BF16, `qk_t[h * kv + j]` (`qk_T [1, heads, 1, kv]`);
/// - `v`, MXINT8 `[1, heads, kv, head_dim]` blocked along kv: block grid
///   `[heads, nb, head_dim]` with `nb = ceil(kv / 32)`; `v_scales[heads * nb * head_dim]`,
///   block `(h, b, d)` at `g = (h * nb + b) * head_dim + d`; `v_elems[32 * heads * nb * head_dim]`,
///   `v_elems[32 g + i]` is `v[h, 32 b + i, d]` (zero past kv).
///
/// Outputs, each NULL if not wanted, written only when the call succeeds (a failing call returns
/// `HWSIM_ERR_INVALID_ARGUMENT`, or `HWSIM_ERR_NO_MEMORY` when the case's buffers cannot be
/// allocated: the memory the sizes need is checked before anything is allocated):
///
/// - `exp_bf16[heads * kv]`, `exp_sum[heads]`, `scaled_v[heads * head_dim]`, `inv[heads]`,
///   `out[heads * head_dim]`: BF16, row-major as the dumps;
/// - `exp_scales[heads * nb]`, `exp_elems[32 * heads * nb]`: the quantized exp rows, block
///   `(h, b)` at `g = h * nb + b`;
/// - `stage_flags[HWSIM_SOFTMAX_STAGES]`: per stage (`HWSIM_STAGE_*`), every IEEE flag any of its
///   results raised.
///
/// # Safety
/// `ctx` is NULL or an open context; every array is NULL or valid for its documented length;
/// outputs do not overlap each other.
#[no_mangle]
pub unsafe extern "C" fn hwsim_softmax_v(
    ctx: *const Context,
    heads: usize,
    kv: usize,
    head_dim: usize,
    qk_t: *const u16,
    v_scales: *const u8,
    v_elems: *const i8,
    exp_bf16: *mut u16,
    exp_sum: *mut u16,
    exp_scales: *mut u8,
    exp_elems: *mut i8,
    scaled_v: *mut u16,
    inv: *mut u16,
    out: *mut u16,
    stage_flags: *mut u32,
) -> c_int {
    let outputs = (
        exp_bf16,
        exp_sum,
        exp_scales,
        exp_elems,
        scaled_v,
        inv,
        out,
        stage_flags,
    );
    status("hwsim_softmax_v", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            softmax(
                ctx,
                (heads, kv, head_dim),
                HWSIM_ROUND_NEAREST_AWAY,
                (qk_t, v_scales, v_elems),
                outputs,
            )
        }
    })
}

/// `hwsim_softmax_v` with the quantizer's element rounding, `HWSIM_ROUND_NEAREST_AWAY` or
/// `HWSIM_ROUND_NEAREST_EVEN` (`sim run --element-rounding`).
///
/// # Safety
/// As for `hwsim_softmax_v`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_softmax_v_ex(
    ctx: *const Context,
    heads: usize,
    kv: usize,
    head_dim: usize,
    element_rounding: u32,
    qk_t: *const u16,
    v_scales: *const u8,
    v_elems: *const i8,
    exp_bf16: *mut u16,
    exp_sum: *mut u16,
    exp_scales: *mut u8,
    exp_elems: *mut i8,
    scaled_v: *mut u16,
    inv: *mut u16,
    out: *mut u16,
    stage_flags: *mut u32,
) -> c_int {
    let outputs = (
        exp_bf16,
        exp_sum,
        exp_scales,
        exp_elems,
        scaled_v,
        inv,
        out,
        stage_flags,
    );
    status("hwsim_softmax_v_ex", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            softmax(
                ctx,
                (heads, kv, head_dim),
                element_rounding,
                (qk_t, v_scales, v_elems),
                outputs,
            )
        }
    })
}

/// softmax_v with other block formats (docs/numerics.md §3.7): `sim run --exp-format F
/// --v-format G --scale-rule R [--element-rounding M]` on the caller's inputs.
///
/// - `exp_format`, `v_format`: `HWSIM_MX_*` codes; exp is quantized to `exp_format` along kv,
///   and `v` is given in `v_format`;
/// - `scale_rule`: a `HWSIM_SCALE_*` code, the rule of exp's quantizer (the rule v was quantized
///   with plays no part: v is given);
/// - `element_rounding`: `HWSIM_ROUND_NEAREST_EVEN`, `HWSIM_ROUND_NEAREST_AWAY`, or
///   `HWSIM_ROUND_FORMAT_DEFAULT` (exp's format's default: nearest-away for MXINT8, nearest-even
///   for the others, as `sim run` without `--element-rounding`).
///
/// Layouts as for `hwsim_softmax_v`, with element codes one per byte in their low bits (as
/// `hwsim_quantize_mx` writes them; an MXINT8 element is its two's-complement byte):
/// `v_scales[heads * nb * head_dim]`, `v_codes[32 * heads * nb * head_dim]`;
/// `exp_scales[heads * nb]`, `exp_codes[32 * heads * nb]`; the other outputs and
/// `stage_flags[HWSIM_SOFTMAX_STAGES]` (`HWSIM_STAGE_EXP_MX` holds exp's quantizer's flags) as
/// there. A `v` code wider than `v_format`, and a nonzero code in the padding of a partial block,
/// are errors.
///
/// `HWSIM_MX_MXINT8` for both formats with `HWSIM_SCALE_FLOOR` is the dataset's pipeline on the
/// context's MAC array, `hwsim_softmax_v_ex` exactly. Every other choice sums the gevm exactly,
/// which a context whose MAC accumulator is not exact (the `narrow` profile) refuses, as `sim run`
/// does.
///
/// # Safety
/// As for `hwsim_softmax_v`.
#[no_mangle]
pub unsafe extern "C" fn hwsim_softmax_v_mx(
    ctx: *const Context,
    heads: usize,
    kv: usize,
    head_dim: usize,
    exp_format: u32,
    v_format: u32,
    scale_rule: u32,
    element_rounding: u32,
    qk_t: *const u16,
    v_scales: *const u8,
    v_codes: *const u8,
    exp_bf16: *mut u16,
    exp_sum: *mut u16,
    exp_scales: *mut u8,
    exp_codes: *mut u8,
    scaled_v: *mut u16,
    inv: *mut u16,
    out: *mut u16,
    stage_flags: *mut u32,
) -> c_int {
    let outputs = (
        exp_bf16,
        exp_sum,
        exp_scales,
        exp_codes,
        scaled_v,
        inv,
        out,
        stage_flags,
    );
    status("hwsim_softmax_v_mx", || {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            softmax_mx(
                ctx,
                (heads, kv, head_dim),
                (exp_format, v_format, scale_rule, element_rounding),
                (qk_t, v_scales, v_codes),
                outputs,
            )
        }
    })
}

/// The caller's output pointers, in the order of the C signature (`E`: the type of exp's
/// elements, `int8_t` or a code a byte).
type OutPtrs<E> = (
    *mut u16,
    *mut u16,
    *mut u8,
    *mut E,
    *mut u16,
    *mut u16,
    *mut u16,
    *mut u32,
);

/// A case's sizes, checked, and the lengths of its arrays.
struct Sizes {
    heads: usize,
    kv: usize,
    head_dim: usize,
    /// `heads * kv`: qk_t and exp_bf16.
    rows: usize,
    /// `heads * head_dim`: scaled_v and out.
    cols: usize,
    /// `heads * ceil(kv / 32)`: exp's blocks.
    exp_blocks: usize,
    /// `32 * heads * ceil(kv / 32)`: exp's elements.
    exp_elems: usize,
}

impl Sizes {
    /// Each size at least 1, in the order of the signature.
    fn nonzero(heads: usize, kv: usize, head_dim: usize) -> Result<(usize, usize, usize)> {
        Ok((
            args::nonzero(heads, "heads")?,
            args::nonzero(kv, "kv")?,
            args::nonzero(head_dim, "head_dim")?,
        ))
    }

    /// The array lengths of nonzero sizes, or the first product that overflows `size_t`.
    fn new((heads, kv, head_dim): (usize, usize, usize)) -> Result<Sizes> {
        let nb = kv.div_ceil(BLOCK);
        // (In this order: the messages of hwsim_softmax_v name the first product that overflows.)
        let rows = args::product(&[(heads, "heads"), (kv, "kv")])?;
        let cols = args::product(&[(heads, "heads"), (head_dim, "head_dim")])?;
        let exp_blocks = args::product(&[(heads, "heads"), (nb, "ceil(kv / 32)")])?;
        Ok(Sizes {
            heads,
            kv,
            head_dim,
            rows,
            cols,
            exp_blocks,
            exp_elems: args::product(&[(exp_blocks, "heads x ceil(kv / 32)"), (BLOCK, "32")])?,
        })
    }

    /// v's block grid `[heads, ceil(kv / 32), head_dim]`.
    fn v_grid(&self) -> GridShape {
        GridShape {
            outer: (self.heads, "heads"),
            len: (self.kv, "kv"),
            inner: (self.head_dim, "head_dim"),
        }
    }

    /// The caller's outputs, checked (each may be NULL). `exp_elems` names exp's element array.
    ///
    /// # Safety
    /// Every pointer is NULL or valid for writes of its documented length.
    unsafe fn outputs<E: Copy>(&self, p: OutPtrs<E>, exp_elems: &str) -> Result<Outputs<E>> {
        let (exp_bf16, exp_sum, exp_scales, elems, scaled_v, inv, out, stage_flags) = p;
        // SAFETY (whole block): the caller's contract on every pointer.
        unsafe {
            Ok(Outputs {
                exp_bf16: Out::optional(exp_bf16, self.rows, "exp_bf16")?,
                exp_sum: Out::optional(exp_sum, self.heads, "exp_sum")?,
                exp_scales: Out::optional(exp_scales, self.exp_blocks, "exp_scales")?,
                exp_elems: Out::optional(elems, self.exp_elems, exp_elems)?,
                scaled_v: Out::optional(scaled_v, self.cols, "scaled_v")?,
                inv: Out::optional(inv, self.heads, "inv")?,
                out: Out::optional(out, self.cols, "out")?,
                stage_flags: Out::optional(stage_flags, HWSIM_SOFTMAX_STAGES, "stage_flags")?,
            })
        }
    }

    /// Check the memory the case needs (`sim run`'s estimate, this library's copies of qk_t and
    /// of v's `(blocks, bytes per block)`), then copy v with `v`, run the pipeline with the
    /// context's units and write the outputs.
    fn run<E: Elem>(
        &self,
        ctx: &Context,
        params: &Params,
        qk: &[u16],
        (v_copy, v): ((usize, usize), impl FnOnce() -> MxData),
        outputs: Outputs<E>,
    ) -> Outcome<()> {
        let (heads, kv, head_dim) = (self.heads, self.kv, self.head_dim);
        // Every buffer the case allocates, checked before the first (an allocation that fails
        // aborts the process).
        memory_need(heads, kv, head_dim)
            .add(&[v_copy.0], v_copy.1)
            .add(&[self.rows], std::mem::size_of::<Bf16>())
            .check(&format!(
                "softmax_v with heads = {heads}, kv = {kv}, head_dim = {head_dim}"
            ))?;
        let inputs = Inputs {
            qk_t: Tensor::new(vec![1, heads, 1, kv], qk.iter().map(|&b| Bf16(b)).collect()),
            v: v(),
        };
        outputs.write(&run_with(inputs, params, &ctx.units));
        Ok(())
    }
}

/// The body of `hwsim_softmax_v` and `_ex` (each names itself in the errors).
///
/// # Safety
/// As for `hwsim_softmax_v`.
unsafe fn softmax(
    ctx: *const Context,
    (heads, kv, head_dim): (usize, usize, usize),
    element_rounding: u32,
    (qk_t, v_scales, v_elems): (*const u16, *const u8, *const i8),
    outputs: OutPtrs<i8>,
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        let ctx = args::context(ctx)?;
        let nonzero = Sizes::nonzero(heads, kv, head_dim)?;
        let params = Params {
            heads: nonzero.0,
            head_dim: nonzero.2,
            element_rounding: Some(args::element_rounding(
                element_rounding,
                "element_rounding",
            )?),
            formats: Formats::default(),
        };
        let sizes = Sizes::new(nonzero)?;
        let qk = args::input(qk_t, sizes.rows, "qk_t")?;
        let v = grid(sizes.v_grid(), (v_scales, v_elems), ["v_scales", "v_elems"])?;
        let outputs = sizes.outputs(outputs, "exp_elems")?;
        let shape = vec![1, sizes.heads, sizes.kv, sizes.head_dim];
        let make_v = || {
            MxData::Int8(MxTensor {
                shape,
                block_axis: 2,
                blocks: v.blocks(),
            })
        };
        sizes.run(ctx, &params, qk, (v.copy_bytes(), make_v), outputs)
    }
}

/// The body of `hwsim_softmax_v_mx`.
///
/// # Safety
/// As for `hwsim_softmax_v`.
unsafe fn softmax_mx(
    ctx: *const Context,
    (heads, kv, head_dim): (usize, usize, usize),
    (exp_format, v_format, rule, element_rounding): (u32, u32, u32, u32),
    (qk_t, v_scales, v_codes): (*const u16, *const u8, *const u8),
    outputs: OutPtrs<u8>,
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        let ctx = args::context(ctx)?;
        let nonzero = Sizes::nonzero(heads, kv, head_dim)?;
        let formats = Formats {
            exp: mx::format(exp_format, "exp_format")?,
            v: mx::format(v_format, "v_format")?,
            rule: mx::scale_rule(rule, "scale_rule")?,
        };
        let params = Params {
            heads: nonzero.0,
            head_dim: nonzero.2,
            element_rounding: mx::element_rounding_or_default(
                element_rounding,
                "element_rounding",
            )?,
            formats,
        };
        // As `sim run`: formats other than the dataset's are summed exactly.
        check_mac(&params, &ctx.units.mac_acc)
            .map_err(|e| format!("{e} (the context is '{}')", ctx.name()))?;
        let sizes = Sizes::new(nonzero)?;
        let qk = args::input(qk_t, sizes.rows, "qk_t")?;
        let v = grid(sizes.v_grid(), (v_scales, v_codes), ["v_scales", "v_codes"])?;
        mx::check_codes(v.elems, &formats.v, "v_codes")?;
        let outputs = sizes.outputs(outputs, "exp_codes")?;
        let shape = vec![1, sizes.heads, sizes.kv, sizes.head_dim];
        // The pipeline's own representation of v: MXINT8 blocks exactly for the dataset's formats.
        if formats.is_mxint8() {
            let make_v = || {
                MxData::Int8(MxTensor {
                    shape,
                    block_axis: 2,
                    blocks: v.mxint8_blocks(),
                })
            };
            let copy = v.copy_bytes_as::<MxInt8Block>();
            sizes.run(ctx, &params, qk, (copy, make_v), outputs)
        } else {
            let make_v = || {
                MxData::Codes(MxCodes {
                    format: formats.v,
                    shape,
                    block_axis: 2,
                    blocks: v.mx_blocks(),
                })
            };
            let copy = v.copy_bytes_as::<MxBlock>();
            sizes.run(ctx, &params, qk, (copy, make_v), outputs)
        }
    }
}
