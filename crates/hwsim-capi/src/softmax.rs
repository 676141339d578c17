//! softmax_v: the whole pipeline of `sim run` (exp, reduce-sum, quantize, gevm, reciprocal,
//! scale) on caller-supplied inputs, through `sim::softmax::run_with`, the function `sim run`
//! calls, with the context's units.

use crate::args::{self, Out};
use crate::codes::{HWSIM_ROUND_NEAREST_AWAY, HWSIM_SOFTMAX_STAGES};
use crate::context::Context;
use crate::error::{status, Outcome};
use crate::mxint8::{grid, GridShape};
use hw_types::{Bf16, Status, BLOCK};
use sim::softmax::{memory_need, run_with, Formats, Inputs, Params, Stages};
use sim::tensor::{MxData, MxTensor, Tensor};
use std::ffi::c_int;

/// The outputs, each NULL (not wanted) or an array of the documented length.
struct Outputs {
    exp_bf16: Option<Out<u16>>,
    exp_sum: Option<Out<u16>>,
    exp_scales: Option<Out<u8>>,
    exp_elems: Option<Out<i8>>,
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

impl Outputs {
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
            o.write(
                &blocks
                    .flat_map(|b| b.codes.map(|c| c as i8))
                    .collect::<Vec<_>>(),
            );
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

/// The caller's output pointers, in the order of the C signature.
type OutPtrs = (
    *mut u16,
    *mut u16,
    *mut u8,
    *mut i8,
    *mut u16,
    *mut u16,
    *mut u16,
    *mut u32,
);

/// The body of both entry points (each names itself in the errors).
///
/// # Safety
/// As for `hwsim_softmax_v`.
unsafe fn softmax(
    ctx: *const Context,
    (heads, kv, head_dim): (usize, usize, usize),
    element_rounding: u32,
    (qk_t, v_scales, v_elems): (*const u16, *const u8, *const i8),
    (exp_bf16, exp_sum, exp_scales, exp_elems, scaled_v, inv, out, stage_flags): OutPtrs,
) -> Outcome<()> {
    // SAFETY (whole block): the caller's contract on every pointer.
    unsafe {
        let ctx = args::context(ctx)?;
        let heads = args::nonzero(heads, "heads")?;
        let kv = args::nonzero(kv, "kv")?;
        let head_dim = args::nonzero(head_dim, "head_dim")?;
        let params = Params {
            heads,
            head_dim,
            element_rounding: Some(args::element_rounding(
                element_rounding,
                "element_rounding",
            )?),
            formats: Formats::default(),
        };
        let nb = kv.div_ceil(BLOCK);
        let rows = args::product(&[(heads, "heads"), (kv, "kv")])?;
        let cols = args::product(&[(heads, "heads"), (head_dim, "head_dim")])?;
        let exp_blocks = args::product(&[(heads, "heads"), (nb, "ceil(kv / 32)")])?;
        let exp_elems_len = args::product(&[(exp_blocks, "heads x ceil(kv / 32)"), (BLOCK, "32")])?;
        let qk = args::input(qk_t, rows, "qk_t")?;
        let v = grid(
            GridShape {
                outer: (heads, "heads"),
                len: (kv, "kv"),
                inner: (head_dim, "head_dim"),
            },
            (v_scales, v_elems),
            ["v_scales", "v_elems"],
        )?;
        let outputs = Outputs {
            exp_bf16: Out::optional(exp_bf16, rows, "exp_bf16")?,
            exp_sum: Out::optional(exp_sum, heads, "exp_sum")?,
            exp_scales: Out::optional(exp_scales, exp_blocks, "exp_scales")?,
            exp_elems: Out::optional(exp_elems, exp_elems_len, "exp_elems")?,
            scaled_v: Out::optional(scaled_v, cols, "scaled_v")?,
            inv: Out::optional(inv, heads, "inv")?,
            out: Out::optional(out, cols, "out")?,
            stage_flags: Out::optional(stage_flags, HWSIM_SOFTMAX_STAGES, "stage_flags")?,
        };
        // Every buffer the case allocates, checked before the first (an allocation that fails
        // aborts the process): `sim run`'s estimate, and this library's copies of qk_t and v.
        let (vb, vsize) = v.copy_bytes();
        memory_need(heads, kv, head_dim)
            .add(&[vb], vsize)
            .add(&[rows], std::mem::size_of::<Bf16>())
            .check(&format!(
                "softmax_v with heads = {heads}, kv = {kv}, head_dim = {head_dim}"
            ))?;
        let inputs = Inputs {
            qk_t: Tensor::new(vec![1, heads, 1, kv], qk.iter().map(|&b| Bf16(b)).collect()),
            v: MxData::Int8(MxTensor {
                shape: vec![1, heads, kv, head_dim],
                block_axis: 2,
                blocks: v.blocks(),
            }),
        };
        outputs.write(&run_with(inputs, &params, &ctx.units));
    }
    Ok(())
}
