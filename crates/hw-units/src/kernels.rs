//! The MAC's SIMD kernels, each with its scalar twin: the block dot product (SSE2, the x86-64
//! baseline) and the register-blocked tile of pre-scaled dot products (AVX2, chosen at run time).
//! hw-types forbids unsafe code, so the vector paths live here; the tests compare every kernel
//! with its twin (exhaustively over int8 pairs for the block dot, over random and worst-case
//! grids for the tile).

use hw_types::BLOCK;

/// Products summed in `i32` before widening to `i64`: with pre-scaled elements of at most 2^10 in
/// magnitude a chunk sums to at most 2^30.
pub(crate) const CHUNK: usize = 1024;

/// Integer dot product of two blocks (|result| <= 2^19): the vector path on x86-64, else the
/// definition [`hw_types::mxint8::int_dot`].
#[inline]
pub fn int_dot(a: &[i8; BLOCK], b: &[i8; BLOCK]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        int_dot_sse2(a, b)
    }
    #[cfg(not(target_arch = "x86_64"))]
    hw_types::mxint8::int_dot(a, b)
}

/// [`int_dot`] with SSE2, which every x86-64 processor has: bytes sign-extended to i16
/// (interleaved with themselves, then shifted right arithmetically by 8), multiplied and summed
/// in pairs into i32 lanes by `pmaddwd` (|pair sum| <= 2^15), the four lanes added at the end.
/// The compiler does not vectorise the plain loop for the baseline target by itself.
#[cfg(target_arch = "x86_64")]
#[inline]
fn int_dot_sse2(a: &[i8; BLOCK], b: &[i8; BLOCK]) -> i32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86-64 baseline; the loads read bytes 16h..16h+16 of the
    // 32-byte arrays.
    unsafe {
        let mut acc = _mm_setzero_si128();
        for h in 0..2 {
            let x = _mm_loadu_si128(a.as_ptr().add(16 * h).cast());
            let y = _mm_loadu_si128(b.as_ptr().add(16 * h).cast());
            let widen = |v: __m128i, hi: bool| {
                let w = if hi {
                    _mm_unpackhi_epi8(v, v)
                } else {
                    _mm_unpacklo_epi8(v, v)
                };
                _mm_srai_epi16::<8>(w)
            };
            acc = _mm_add_epi32(acc, _mm_madd_epi16(widen(x, false), widen(y, false)));
            acc = _mm_add_epi32(acc, _mm_madd_epi16(widen(x, true), widen(y, true)));
        }
        let s = _mm_add_epi32(acc, _mm_shuffle_epi32::<0b01_00_11_10>(acc));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// How the pre-scaled dot products are computed: the portable loop, or AVX2 intrinsics. Both
/// give the same exact integer sums. A `Kernel` that uses AVX2 can only be obtained from
/// [`Kernel::avx2`], which checks the processor, so safe code cannot run an instruction the
/// processor lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The loop compiled for the baseline target.
    pub const PORTABLE: Kernel = Kernel(Isa::Portable);

    /// The AVX2 kernel, if this processor has AVX2.
    pub fn avx2() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Some(Kernel(Isa::Avx2));
        }
        None
    }

    /// The fastest kernel this processor runs.
    pub fn best() -> Kernel {
        Kernel::avx2().unwrap_or(Kernel::PORTABLE)
    }

    /// Every kernel this processor runs (the tests compare them).
    pub fn available() -> Vec<Kernel> {
        std::iter::once(Kernel::PORTABLE)
            .chain(Kernel::avx2())
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
        }
    }

    /// The `TILE_ROWS x TILE_COLS` dot products of rows `a` with columns `b`, exactly.
    ///
    /// # Panics
    /// Unless every slice has the same length, a multiple of [`BLOCK`] (the vector loads rely
    /// on it).
    pub(crate) fn dot_tile(self, a: [&[i16]; TILE_ROWS], b: [&[i16]; TILE_COLS]) -> Tile {
        let len = a[0].len();
        assert!(
            a.iter().chain(&b).all(|v| v.len() == len) && len.is_multiple_of(BLOCK),
            "dot_tile: operands of unequal length or not a multiple of {BLOCK}"
        );
        match self.0 {
            Isa::Portable => dot_tile(a, b),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Kernel(Isa::Avx2)` exists only when `avx2()` detected AVX2, and the
            // lengths were checked above.
            Isa::Avx2 => unsafe { dot_tile_avx2(a, b) },
        }
    }
}

/// Register-blocked micro-tile: every element loaded is used `TILE_ROWS` or `TILE_COLS` times,
/// so the multiplier rather than the load ports sets the pace.
pub(crate) const TILE_ROWS: usize = 4;
pub(crate) const TILE_COLS: usize = 2;
pub(crate) type Tile = [[i64; TILE_COLS]; TILE_ROWS];
// The AVX2 kernel's reduction tree is written for eight accumulators.
const _: () = assert!(TILE_ROWS * TILE_COLS == 8);

/// [`dot_tile`] with `_mm256_madd_epi16`: 16 i16 products a step, summed in pairs into eight
/// i32 lanes, each lane taking `CHUNK / 8` products before it is widened to i64.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_tile_avx2(a: [&[i16]; TILE_ROWS], b: [&[i16]; TILE_COLS]) -> Tile {
    use std::arch::x86_64::*;
    let len = a[0].len();
    let mut tot = [[0i64; TILE_COLS]; TILE_ROWS];
    for k0 in (0..len).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(len);
        let mut acc = [[_mm256_setzero_si256(); TILE_COLS]; TILE_ROWS];
        let mut k = k0;
        while k < k1 {
            // SAFETY: k + 16 <= k1 <= the length of every slice (lengths are multiples of 32).
            let y: [__m256i; TILE_COLS] =
                std::array::from_fn(|j| unsafe { _mm256_loadu_si256(b[j].as_ptr().add(k).cast()) });
            for i in 0..TILE_ROWS {
                let x = _mm256_loadu_si256(a[i].as_ptr().add(k).cast());
                for j in 0..TILE_COLS {
                    acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, y[j]));
                }
            }
            k += 16;
        }
        // The eight accumulators' lane sums in one vector by a horizontal-add tree (in i32:
        // a chunk's total is at most 2^30), then widened and added to the i64 totals.
        let v: [__m256i; 8] = std::array::from_fn(|t| acc[t / TILE_COLS][t % TILE_COLS]);
        let u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        let u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
        let sums = _mm256_add_epi32(
            _mm256_permute2x128_si256(u0, u1, 0x20),
            _mm256_permute2x128_si256(u0, u1, 0x31),
        );
        let mut lanes = [0i32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), sums);
        for (t, s) in lanes.iter().enumerate() {
            tot[t / TILE_COLS][t % TILE_COLS] += *s as i64;
        }
    }
    tot
}

/// The portable [`Kernel`]: i32 partial sums over [`CHUNK`] products, i64 totals.
fn dot_tile(a: [&[i16]; TILE_ROWS], b: [&[i16]; TILE_COLS]) -> Tile {
    let len = a[0].len();
    let mut tot = [[0i64; TILE_COLS]; TILE_ROWS];
    for k0 in (0..len).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(len);
        for (t, x) in tot.iter_mut().zip(&a) {
            for (t, y) in t.iter_mut().zip(&b) {
                let s: i32 = x[k0..k1]
                    .iter()
                    .zip(&y[k0..k1])
                    .map(|(&p, &q)| p as i32 * q as i32)
                    .sum();
                *t += s as i64;
            }
        }
    }
    tot
}
