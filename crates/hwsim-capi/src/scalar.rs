//! Scalar BF16 units: exp, reciprocal, the output multiplier, and reduce-sum of a row, each as
//! the context's hardware description implements it (the units `sim run` steps through).

use crate::args;
use crate::codes::HWSIM_FLAG_ERROR;
use crate::context::Context;
use crate::error::{guard, Outcome};
use hw_types::{Bf16, StatusAnd};
use sim::memory::Need;

/// Run a BF16-valued unit: the result's bits, its flags into `*flags` (if not NULL); on error
/// the canonical NaN with [`HWSIM_FLAG_ERROR`].
///
/// # Safety
/// `flags` is NULL or valid for one `uint32_t` write.
unsafe fn bf16_result(
    func: &str,
    flags: *mut u32,
    body: impl FnOnce() -> Outcome<StatusAnd<Bf16>>,
) -> u16 {
    let (value, bits) = guard(func, || body().map(|r| (r.value.0, r.status.bits() as u32)))
        .unwrap_or((Bf16::NAN.0, HWSIM_FLAG_ERROR));
    // SAFETY: the caller's contract on flags.
    unsafe { args::store_flags(flags, bits) };
    value
}

/// `e^x` of the BF16 pattern `x` by the context's exp unit (`RNE_bf16(e^x)` in the reference).
///
/// # Safety
/// `ctx` is NULL or an open context; `flags` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn hwsim_exp_bf16(ctx: *const Context, x: u16, flags: *mut u32) -> u16 {
    // SAFETY: the caller's contract on ctx and flags.
    unsafe {
        bf16_result("hwsim_exp_bf16", flags, || {
            Ok(args::context(ctx)?.units.exp.eval(Bf16(x)))
        })
    }
}

/// `1/x` by the context's reciprocal unit.
///
/// # Safety
/// `ctx` is NULL or an open context; `flags` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn hwsim_recip_bf16(ctx: *const Context, x: u16, flags: *mut u32) -> u16 {
    // SAFETY: the caller's contract on ctx and flags.
    unsafe {
        bf16_result("hwsim_recip_bf16", flags, || {
            Ok(args::context(ctx)?.units.recip.eval(Bf16(x)))
        })
    }
}

/// `a * b` by the output multiplier: the exact product rounded once in the description's
/// `mul.rounding` (round-to-nearest-even in both profiles).
///
/// # Safety
/// `ctx` is NULL or an open context; `flags` is NULL or valid for one write.
#[no_mangle]
pub unsafe extern "C" fn hwsim_mul_bf16(
    ctx: *const Context,
    a: u16,
    b: u16,
    flags: *mut u32,
) -> u16 {
    // SAFETY: the caller's contract on ctx and flags.
    unsafe {
        bf16_result("hwsim_mul_bf16", flags, || {
            Ok(args::context(ctx)?.units.mul(Bf16(a), Bf16(b)))
        })
    }
}

/// The reduce-sum of `x[0..n]` (BF16 patterns) in index order by the context's accumulator,
/// rounded to BF16 with round-to-nearest-even (exact sum, one rounding, in the reference).
/// `n == 0` and a NULL `x` are errors (as everywhere: docs/dpi.md), and so is a row whose copy
/// cannot be allocated (the NaN with `HWSIM_FLAG_ERROR`; the process goes on).
///
/// # Safety
/// `ctx` is NULL or an open context; `x` is NULL or valid for `n` reads; `flags` is NULL or
/// valid for one write.
#[no_mangle]
pub unsafe extern "C" fn hwsim_sum_bf16(
    ctx: *const Context,
    x: *const u16,
    n: usize,
    flags: *mut u32,
) -> u16 {
    // SAFETY: the caller's contract on ctx, x and flags.
    unsafe {
        bf16_result("hwsim_sum_bf16", flags, || {
            let ctx = args::context(ctx)?;
            let n = args::nonzero(n, "n")?;
            let x = args::input(x, n, "x")?;
            Need::new()
                .add(&[n], std::mem::size_of::<Bf16>())
                .check(&format!("a copy of the {n}-element row x"))?;
            let row: Vec<Bf16> = x.iter().map(|&b| Bf16(b)).collect();
            Ok(ctx.units.reduce_sum(&row))
        })
    }
}
