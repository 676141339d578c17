//! The MXINT8 multiply-accumulate datapath, reference behaviour: integer block dot products,
//! each weighted by `2^(Ea + Eb - 12)`, summed exactly and rounded once.
//!
//! Every MXINT8 operation of the project (dot_product, gevm, gemm and the softmax_v gevm) is a
//! product of two block grids, `A [M, KB] x B [KB, N]`, where KB counts blocks along the reduction
//! axis; [`block_matmul`] is its one definition.

use crate::acc::Accumulator;
use crate::config::AccKind;
use hw_types::mxint8::{int_dot, ELEM_FRAC_BITS};
use hw_types::{Format, MxInt8Block, RoundingMode, BLOCK};
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
