//! The MXINT8 multiply-accumulate datapath, reference behaviour: integer block dot products,
//! each weighted by `2^(Ea + Eb - 12)`, summed exactly and rounded once.
//!
//! Every MXINT8 operation of the project (dot_product, gevm, gemm and the softmax_v gevm) is a
//! product of two block grids, `A [M, KB] x B [KB, N]`, where KB counts blocks along the reduction
//! axis; [`block_matmul`] is its one definition.

use crate::acc::Accumulator;
use crate::config::AccKind;
use hw_types::mxint8::{int_dot, ELEM_FRAC_BITS};
use hw_types::{Dyadic, Format, MxInt8Block, RoundingMode, Value, BLOCK};
use rayon::prelude::*;

/// Blocks split into element arrays and exponents, the layout the inner loop wants.
struct Split {
    elems: Vec<[i8; BLOCK]>,
    /// Unbiased scale exponent, `None` for a NaN scale.
    exps: Vec<Option<i32>>,
}

impl Split {
    fn new(blocks: impl Iterator<Item = MxInt8Block>) -> Split {
        let (elems, exps) = blocks.map(|b| (b.elems, b.scale.exponent())).unzip();
        Split { elems, exps }
    }
}

/// `out[r, c] = round(sum_b A[r, b] . B[b, c])` for block grids `a` (`m x kb`, row-major) and `b`
/// (`kb x n`, row-major): the integer block dots accumulated in block order by `acc` (exact in the
/// reference), one rounding to `F` in `mode` (the accumulators other than `exact` round to
/// nearest-even), NaN if any scale taking part is NaN. Rows run in parallel.
pub fn block_matmul<F: Format + Send>(
    a: &[MxInt8Block],
    b: &[MxInt8Block],
    (m, kb, n): (usize, usize, usize),
    acc: &AccKind,
    mode: RoundingMode,
) -> Vec<F> {
    assert_eq!(a.len(), m * kb, "A grid is not {m} x {kb}");
    assert_eq!(b.len(), kb * n, "B grid is not {kb} x {n}");
    let a = Split::new(a.iter().copied());
    // B transposed to column-major so each output's blocks are contiguous.
    let bt = Split::new((0..n * kb).map(|i| b[(i % kb) * n + i / kb]));
    let mut out = vec![F::nan(); m * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(r, row)| {
            let ae = &a.elems[r * kb..(r + 1) * kb];
            let ax = &a.exps[r * kb..(r + 1) * kb];
            for (c, o) in row.iter_mut().enumerate() {
                let be = &bt.elems[c * kb..(c + 1) * kb];
                let bx = &bt.exps[c * kb..(c + 1) * kb];
                if matches!(acc, AccKind::Exact) {
                    if let Some(v) = exact_narrow::<F>(ae, ax, be, bx, mode) {
                        *o = v;
                        continue;
                    }
                }
                let mut sum = Accumulator::new(acc);
                for i in 0..kb {
                    match (ax[i], bx[i]) {
                        (Some(ea), Some(eb)) => sum
                            .add_int(int_dot(&ae[i], &be[i]) as i64, ea + eb - 2 * ELEM_FRAC_BITS),
                        _ => sum.add_nan(),
                    }
                }
                *o = match &sum {
                    Accumulator::Exact(e) => e.round::<F>(mode).value,
                    other => other.finish::<F>(),
                };
            }
        });
    out
}

/// The exact sum when every block weight lies within 2^64 of the smallest (the common case:
/// block scales of one tensor are alike): an `i128` aligned to the smallest exponent holds it
/// exactly (|dot| < 2^20, shifted < 2^84, a sum of at most 2^40 blocks), then one rounding.
/// `None` (use the general accumulator) for a NaN scale or a wider exponent spread.
#[inline]
fn exact_narrow<F: Format>(
    ae: &[[i8; BLOCK]],
    ax: &[Option<i32>],
    be: &[[i8; BLOCK]],
    bx: &[Option<i32>],
    mode: RoundingMode,
) -> Option<F> {
    let mut lo = i32::MAX;
    let mut hi = i32::MIN;
    for (x, y) in ax.iter().zip(bx) {
        let e = (*x)? + (*y)?;
        lo = lo.min(e);
        hi = hi.max(e);
    }
    if hi - lo > 64 || ae.len() > 1 << 40 {
        return None;
    }
    let mut sum: i128 = 0;
    for i in 0..ae.len() {
        let e = ax[i].expect("checked") + bx[i].expect("checked");
        sum += (int_dot(&ae[i], &be[i]) as i128) << (e - lo);
    }
    let v = if sum == 0 {
        Value::Zero { neg: false }
    } else {
        Value::Finite(Dyadic::exact(
            sum < 0,
            sum.unsigned_abs(),
            lo - 2 * ELEM_FRAC_BITS,
        ))
    };
    Some(F::round(v, mode).value)
}
