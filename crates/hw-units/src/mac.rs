//! The MXINT8 multiply-accumulate datapath, reference behaviour: integer block dot products,
//! each weighted by `2^(Ea + Eb - 12)`, summed exactly and rounded once.
//!
//! Every MXINT8 operation of the project (dot_product, gevm, gemm and the softmax_v gevm) is a
//! product of two block grids, `A [M, KB] x B [KB, N]`, where KB counts blocks along the reduction
//! axis; [`block_matmul`] is its one definition.

use crate::acc::Accumulator;
use crate::config::AccKind;
use crate::kernels::{int_dot, Kernel, CHUNK, MAX_TILE_COLS, MAX_TILE_ROWS, TILES};
use hw_types::mxint8::ELEM_FRAC_BITS;
use hw_types::{Format, IntRounder, MxInt8Block, RoundingMode, StatusAnd, BLOCK};
use rayon::prelude::*;

/// The MAC array's one step, shared by the functional and the cycle model: the exact integer
/// dot product of two blocks, weighted by `2^(Ea + Eb - 12)`, added into `acc`; NaN when either
/// scale is NaN (`None`).
#[inline]
pub fn accumulate_block(
    acc: &mut Accumulator,
    (a, ea): (&[i8; BLOCK], Option<i32>),
    (b, eb): (&[i8; BLOCK], Option<i32>),
) {
    match (ea, eb) {
        (Some(ea), Some(eb)) => acc.add_int(int_dot(a, b) as i64, ea + eb - 2 * ELEM_FRAC_BITS),
        _ => acc.add_nan(),
    }
}

/// [`accumulate_block`] on two blocks.
#[inline]
pub fn accumulate(acc: &mut Accumulator, a: &MxInt8Block, b: &MxInt8Block) {
    accumulate_block(
        acc,
        (&a.elems, a.scale.exponent()),
        (&b.elems, b.scale.exponent()),
    )
}

/// Blocks split into element arrays and exponents, the layout the inner loop wants.
struct Split {
    elems: Vec<[i8; BLOCK]>,
    /// Unbiased scale exponent, `None` for a NaN scale.
    exps: Vec<Option<i32>>,
}

impl Split {
    fn empty() -> Split {
        Split {
            elems: Vec::new(),
            exps: Vec::new(),
        }
    }

    /// A `rows x kb` grid whose block `(r, k)` is `block(r, k)`. Rows in parallel for large
    /// grids only: a gevm's few thousand blocks are copied faster by one thread.
    fn new(rows: usize, kb: usize, block: impl Fn(usize, usize) -> MxInt8Block + Sync) -> Split {
        let mut elems = vec![[0i8; BLOCK]; rows * kb];
        let mut exps = vec![None; rows * kb];
        let kb1 = kb.max(1);
        elems
            .par_chunks_mut(kb1)
            .zip(exps.par_chunks_mut(kb1))
            .with_min_len((1 << 14) / kb1)
            .enumerate()
            .for_each(|(r, (elems, exps))| {
                for (k, (e, x)) in elems.iter_mut().zip(exps).enumerate() {
                    let b = block(r, k);
                    *e = b.elems;
                    *x = b.scale.exponent();
                }
            });
        Split { elems, exps }
    }
}

/// `out[r, c] = round(sum_b A[r, b] . B[b, c])` for block grids `a` (`m x kb`, row-major) and `b`
/// (`kb x n`, row-major): the integer block dots accumulated in block order by `acc` (exact in the
/// reference), one rounding to `F` in `mode` (the accumulators other than `exact` round to
/// nearest-even), NaN if any scale taking part is NaN. Each output comes with its flags. Rows run
/// in parallel.
///
/// # Panics
/// When a grid's length is not its dimensions' product.
pub fn block_matmul<F: Format + Send>(
    a: &[MxInt8Block],
    b: &[MxInt8Block],
    dims: (usize, usize, usize),
    acc: &AccKind,
    mode: RoundingMode,
) -> Vec<StatusAnd<F>> {
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
) -> Vec<StatusAnd<F>> {
    let fits = |len: usize, x: usize, y: usize| x.checked_mul(y) == Some(len);
    assert!(fits(a.len(), m, kb), "A grid is not {m} x {kb}");
    assert!(fits(b.len(), kb, n), "B grid is not {kb} x {n}");
    // The pre-scaled integer form of every row of A and column of B (exact accumulation only);
    // building B's pays off only when several rows reuse it.
    let (sa, sb) = if matches!(acc, AccKind::Exact) && m >= MIN_SCALED_ROWS {
        (
            Scaled::new(m, kb, |r, k| &a[r * kb + k]),
            Scaled::new(n, kb, |c, k| &b[k * n + c]),
        )
    } else {
        (Scaled::empty(), Scaled::empty())
    };
    // The block-by-block layout, built only when some output takes that path: B transposed to
    // column-major so each output's blocks are contiguous.
    let plain_needed = (0..m).any(|r| sa.base(r).is_none()) || (0..n).any(|c| sb.base(c).is_none());
    let (a, bt) = if plain_needed {
        (
            Split::new(m, kb, |r, k| a[r * kb + k]),
            Split::new(n, kb, |c, k| b[k * n + c]),
        )
    } else {
        (Split::empty(), Split::empty())
    };
    let mut out = vec![StatusAnd::new(F::nan(), hw_types::Status::OK); m * n];
    // Columns of B with and without a pre-scaled form; the former go in tiles of COL_TILE (a
    // tile stays in cache for a whole group of rows).
    let (cols, other_cols): (Vec<usize>, Vec<usize>) = (0..n).partition(|&c| sb.base(c).is_some());
    let n1 = n.max(1);
    let rounder = IntRounder::<F>::new(mode);
    out.par_chunks_mut(n1 * ROW_GROUP)
        .enumerate()
        .for_each(|(g, rows)| {
            let r0 = g * ROW_GROUP;
            let (ready, other_rows): (Vec<usize>, Vec<usize>) =
                (0..rows.len() / n1).partition(|&i| sa.base(r0 + i).is_some());
            let (tr, tc) = kernel.tile();
            for tile in cols.chunks(COL_TILE) {
                for rs in ready.chunks(tr) {
                    for cs in tile.chunks(tc) {
                        // A partial tile repeats its last row or column.
                        let ra: [usize; MAX_TILE_ROWS] =
                            std::array::from_fn(|i| r0 + rs[i.min(rs.len() - 1)]);
                        let cb: [usize; MAX_TILE_COLS] =
                            std::array::from_fn(|j| cs[j.min(cs.len() - 1)]);
                        let sums = kernel
                            .dot_tile(&ra.map(|r| sa.vals(r))[..tr], &cb.map(|c| sb.vals(c))[..tc]);
                        for (i, &ri) in rs.iter().enumerate() {
                            let ea = sa.base(ra[i]).expect("eligible");
                            for (j, &c) in cs.iter().enumerate() {
                                let exp = ea + sb.base(c).expect("eligible");
                                rows[ri * n1 + c] = rounder.round(sums[i][j], exp);
                            }
                        }
                    }
                }
            }
            // Everything else block by block: the other columns of pre-scaled rows, and every
            // column of the other rows.
            let plain = |i: usize, c: usize| plain_output::<F>(&a, &bt, (r0 + i, c), kb, acc, mode);
            for &i in &ready {
                for &c in &other_cols {
                    rows[i * n1 + c] = plain(i, c);
                }
            }
            for &i in &other_rows {
                for c in 0..n {
                    rows[i * n1 + c] = plain(i, c);
                }
            }
        });
    out
}

/// Output `(r, c)` from the blocks of row `r` of A and column `c` of B (transposed), one block
/// at a time through [`accumulate_block`].
fn plain_output<F: Format>(
    a: &Split,
    bt: &Split,
    (r, c): (usize, usize),
    kb: usize,
    acc: &AccKind,
    mode: RoundingMode,
) -> StatusAnd<F> {
    let row = (r * kb..(r + 1) * kb).map(|i| (&a.elems[i], a.exps[i]));
    let col = (c * kb..(c + 1) * kb).map(|i| (&bt.elems[i], bt.exps[i]));
    let mut sum = Accumulator::new(acc);
    for (x, y) in row.zip(col) {
        accumulate_block(&mut sum, x, y);
    }
    sum.finish::<F>(mode)
}

/// Largest block shift of the pre-scaled form: elements are at most 2^10 in magnitude, products
/// at most 2^20, so a chunk of [`CHUNK`] products sums in `i32` without overflow (2^30 at most).
const MAX_SHIFT: i32 = 3;
const _: () = assert!((128 << MAX_SHIFT) * (128 << MAX_SHIFT) * CHUNK as i64 <= 1 << 30);
/// Rows of A from which pre-scaling B is worth its cost (a gevm's single row is not).
const MIN_SCALED_ROWS: usize = 8;
/// Rows handled together, and columns of B per tile (48 columns of 1024 i16 = 96 KiB, which
/// stays in a 512 KiB L2): multiples of every kernel's tile rows (4 or 6) and columns (2 or 4),
/// so that only the grid's last group and tile can be partial.
const ROW_GROUP: usize = 24;
const COL_TILE: usize = 48;
const _: () = {
    let mut t = 0;
    while t < TILES.len() {
        assert!(ROW_GROUP.is_multiple_of(TILES[t].0) && COL_TILE.is_multiple_of(TILES[t].1));
        t += 1;
    }
};

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

    /// The pre-scaled form of a `rows x kb` grid whose block `(r, k)` is `block(r, k)`.
    fn new<'a>(
        rows: usize,
        kb: usize,
        block: impl Fn(usize, usize) -> &'a MxInt8Block + Sync,
    ) -> Scaled {
        let len = kb * BLOCK;
        let mut vals = vec![0i16; rows * len];
        let base = vals
            .par_chunks_mut(len.max(1))
            .enumerate()
            .map(|(r, dst)| {
                let exp = |k| block(r, k).scale.exponent();
                // The minimum is `None` when any scale is NaN.
                let lo = (0..kb).map(exp).min().flatten()?;
                let hi = (0..kb).map(exp).max().flatten()?;
                if hi - lo > MAX_SHIFT {
                    return None;
                }
                for (k, d) in dst.chunks_exact_mut(BLOCK).enumerate() {
                    let blk = block(r, k);
                    let sh = blk.scale.exponent().expect("checked") - lo;
                    // On whole arrays, which the compiler vectorises (not the loop over a chunk).
                    let d: &mut [i16; BLOCK] = d.try_into().expect("a block");
                    *d = blk.elems.map(|q| (q as i16) << sh);
                }
                Some(lo - ELEM_FRAC_BITS)
            })
            .collect();
        Scaled { vals, base, len }
    }

    /// Exponent of unit weight of row `r`, `None` when not eligible (or no pre-scaled form).
    fn base(&self, r: usize) -> Option<i32> {
        self.base.get(r).copied().flatten()
    }

    fn vals(&self, r: usize) -> &[i16] {
        &self.vals[r * self.len..(r + 1) * self.len]
    }
}
