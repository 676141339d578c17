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
    dims: (usize, usize, usize),
    acc: &AccKind,
    mode: RoundingMode,
) -> Vec<F> {
    block_matmul_with(Kernel::best(), a, b, dims, acc, mode)
}

/// [`block_matmul`] with a chosen kernel for the pre-scaled dot products (the tests run every
/// kernel the processor has).
pub fn block_matmul_with<F: Format + Send>(
    kernel: Kernel,
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
    let exact = matches!(acc, AccKind::Exact);
    // The pre-scaled integer form of every row of A and column of B (exact accumulation only);
    // building B's pays off only when several rows reuse it.
    let (sa, sb) = if exact && m >= MIN_SCALED_ROWS {
        (Scaled::new(&a, m, kb), Scaled::new(&bt, n, kb))
    } else {
        (Scaled::empty(), Scaled::empty())
    };
    let mut out = vec![F::nan(); m * n];
    // Rows in groups of ROW_GROUP (in parallel); within a group, the pre-scaled products go
    // column tile by column tile so a tile of B stays in cache for all the group's rows.
    let n1 = n.max(1);
    out.par_chunks_mut(n1 * ROW_GROUP)
        .enumerate()
        .for_each(|(g, rows)| {
            let mut done = vec![false; rows.len()];
            for c0 in (0..n).step_by(COL_TILE) {
                let c1 = (c0 + COL_TILE).min(n);
                for (i, row) in rows.chunks_mut(n1).enumerate() {
                    if let Some(ra) = sa.row(g * ROW_GROUP + i) {
                        let d = &mut done[i * n1..(i + 1) * n1];
                        kernel.scaled_row(ra, &sb, c0..c1, row, d, mode);
                    }
                }
            }
            for (i, row) in rows.chunks_mut(n1).enumerate() {
                let r = g * ROW_GROUP + i;
                let ae = &a.elems[r * kb..(r + 1) * kb];
                let ax = &a.exps[r * kb..(r + 1) * kb];
                for (c, o) in row.iter_mut().enumerate() {
                    if done[i * n1 + c] {
                        continue;
                    }
                    let be = &bt.elems[c * kb..(c + 1) * kb];
                    let bx = &bt.exps[c * kb..(c + 1) * kb];
                    if exact {
                        if let Some(v) = exact_narrow::<F>(ae, ax, be, bx, mode) {
                            *o = v;
                            continue;
                        }
                    }
                    let mut sum = Accumulator::new(acc);
                    for i in 0..kb {
                        match (ax[i], bx[i]) {
                            (Some(ea), Some(eb)) => sum.add_int(
                                int_dot(&ae[i], &be[i]) as i64,
                                ea + eb - 2 * ELEM_FRAC_BITS,
                            ),
                            _ => sum.add_nan(),
                        }
                    }
                    *o = match &sum {
                        Accumulator::Exact(e) => e.round::<F>(mode).value,
                        other => other.finish::<F>(),
                    };
                }
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

/// Largest block shift of the pre-scaled form: elements stay below 2^10 in magnitude, products
/// below 2^20, so a chunk of [`CHUNK`] products sums in `i32` without overflow.
const MAX_SHIFT: i32 = 3;
const CHUNK: usize = 512;
/// Rows of A from which pre-scaling B is worth its cost (a gevm's single row is not).
const MIN_SCALED_ROWS: usize = 8;
/// Rows handled together, and columns of B per tile (64 columns of 1024 i16 = 128 KiB).
const ROW_GROUP: usize = 16;
const COL_TILE: usize = 64;

/// Rows of block elements pre-scaled to one exponent per row: element `k` of row `r` is
/// `q * 2^(E_block - E_min(r))`, an `i16`. A row whose block exponents span more than
/// [`MAX_SHIFT`], or that has a NaN scale, is not eligible and keeps the block-by-block path.
/// With both operands in this form a row-column product is a plain integer dot product over the
/// whole reduction axis (no per-block alignment), still exact.
struct Scaled {
    vals: Vec<i16>,
    /// Per row: the exponent of unit weight (`E_min - 6`), or `None` when not eligible.
    base: Vec<Option<i32>>,
    len: usize,
}

impl Scaled {
    fn empty() -> Scaled {
        Scaled {
            vals: Vec::new(),
            base: Vec::new(),
            len: 0,
        }
    }

    fn new(s: &Split, rows: usize, kb: usize) -> Scaled {
        let len = kb * BLOCK;
        let mut vals = vec![0i16; rows * len];
        let mut base = vec![None; rows];
        for r in 0..rows {
            let exps = &s.exps[r * kb..(r + 1) * kb];
            let Some(lo) = exps.iter().copied().min().flatten() else {
                continue;
            };
            let (lo, hi) = exps.iter().fold((lo, lo), |(l, h), e| match e {
                Some(e) => (l.min(*e), h.max(*e)),
                None => (l, h),
            });
            if exps.iter().any(Option::is_none) || hi - lo > MAX_SHIFT {
                continue;
            }
            for (i, (blk, e)) in s.elems[r * kb..(r + 1) * kb].iter().zip(exps).enumerate() {
                let sh = e.expect("checked") - lo;
                for (d, &q) in vals[r * len + i * BLOCK..][..BLOCK].iter_mut().zip(blk) {
                    *d = (q as i16) << sh;
                }
            }
            base[r] = Some(lo - ELEM_FRAC_BITS);
        }
        Scaled { vals, base, len }
    }

    fn row(&self, r: usize) -> Option<(&[i16], i32)> {
        let b = (*self.base.get(r)?)?;
        Some((&self.vals[r * self.len..(r + 1) * self.len], b))
    }
}

/// How the pre-scaled dot products are compiled: for the baseline target, or for AVX2 (chosen
/// at run time; the same code, so the same numbers — the tests compare both with the plain
/// block-by-block definition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    Avx2,
}

impl Kernel {
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }

    /// Every eligible output of one row: four columns at a time share the row's loads.
    fn scaled_row<F: Format>(
        self,
        ra: (&[i16], i32),
        sb: &Scaled,
        cols: std::ops::Range<usize>,
        row: &mut [F],
        done: &mut [bool],
        mode: RoundingMode,
    ) {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2` is only used after `best` found AVX2 on this processor.
            Kernel::Avx2 => unsafe { scaled_row_avx2(ra, sb, cols, row, done, mode) },
            _ => scaled_row_with(ra, sb, cols, row, done, mode, dot4),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scaled_row_avx2<F: Format>(
    ra: (&[i16], i32),
    sb: &Scaled,
    cols: std::ops::Range<usize>,
    row: &mut [F],
    done: &mut [bool],
    mode: RoundingMode,
) {
    scaled_row_with(ra, sb, cols, row, done, mode, |a, b| {
        // SAFETY: this function only runs on processors with AVX2.
        unsafe { dot4_avx2(a, b) }
    })
}

/// Four dot products with `_mm256_madd_epi16` (16 i16 products a step, summed in pairs into
/// i32 lanes); the same sums as [`dot4`]. Lengths are whole blocks, so multiples of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot4_avx2(a: &[i16], b: [&[i16]; 4]) -> [i64; 4] {
    use std::arch::x86_64::*;
    debug_assert!(a.len().is_multiple_of(16) && b.iter().all(|v| v.len() == a.len()));
    let mut tot = [0i64; 4];
    for k0 in (0..a.len()).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(a.len());
        let mut acc = [_mm256_setzero_si256(); 4];
        let mut k = k0;
        while k < k1 {
            // SAFETY: k + 16 <= k1 <= len of every slice (lengths are multiples of 16).
            let x = _mm256_loadu_si256(a.as_ptr().add(k) as *const __m256i);
            for j in 0..4 {
                let y = _mm256_loadu_si256(b[j].as_ptr().add(k) as *const __m256i);
                acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(x, y));
            }
            k += 16;
        }
        for j in 0..4 {
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc[j]);
            tot[j] += lanes.iter().map(|&v| v as i64).sum::<i64>();
        }
    }
    tot
}

#[inline(always)]
fn scaled_row_with<F: Format>(
    (va, ea): (&[i16], i32),
    sb: &Scaled,
    cols: std::ops::Range<usize>,
    row: &mut [F],
    done: &mut [bool],
    mode: RoundingMode,
    dot: impl Fn(&[i16], [&[i16]; 4]) -> [i64; 4],
) {
    let cols: Vec<usize> = cols.filter(|&c| sb.base[c].is_some()).collect();
    for group in cols.chunks(4) {
        let b: [&[i16]; 4] = std::array::from_fn(|j| {
            let c = group[j.min(group.len() - 1)];
            &sb.vals[c * sb.len..(c + 1) * sb.len]
        });
        let sums = dot(va, b);
        for (j, &c) in group.iter().enumerate() {
            let exp = ea + sb.base[c].expect("eligible");
            let v = if sums[j] == 0 {
                Value::Zero { neg: false }
            } else {
                Value::Finite(Dyadic::exact(
                    sums[j] < 0,
                    sums[j].unsigned_abs() as u128,
                    exp,
                ))
            };
            row[c] = F::round(v, mode).value;
            done[c] = true;
        }
    }
}

/// Four exact dot products of `a` with `b[0..4]`: i32 partial sums over [`CHUNK`] products
/// (no overflow: products are below 2^20), i64 totals.
#[inline(always)]
fn dot4(a: &[i16], b: [&[i16]; 4]) -> [i64; 4] {
    let mut tot = [0i64; 4];
    let n = a.len();
    for k0 in (0..n).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(n);
        let a = &a[k0..k1];
        let (b0, b1, b2, b3) = (&b[0][k0..k1], &b[1][k0..k1], &b[2][k0..k1], &b[3][k0..k1]);
        let (mut s0, mut s1, mut s2, mut s3) = (0i32, 0i32, 0i32, 0i32);
        for ((((&x, &y0), &y1), &y2), &y3) in a.iter().zip(b0).zip(b1).zip(b2).zip(b3) {
            let x = x as i32;
            s0 += x * y0 as i32;
            s1 += x * y1 as i32;
            s2 += x * y2 as i32;
            s3 += x * y3 as i32;
        }
        for (t, s) in tot.iter_mut().zip([s0, s1, s2, s3]) {
            *t += s as i64;
        }
    }
    tot
}
