//! The MAC's SIMD kernels, each with its scalar twin: the block dot product (SSE2, the x86-64
//! baseline) and the register-blocked tile of pre-scaled dot products (AVX2 or AVX-512 VNNI,
//! chosen at run time).
//! hw-types forbids unsafe code, so the vector paths live here; the tests compare every kernel
//! with its twin (exhaustively over int8 pairs for the block dot, over random and worst-case
//! grids for the tile).

use hw_types::BLOCK;

/// Products summed in `i32` before widening to `i64`: with pre-scaled elements of at most 2^10 in
/// magnitude a chunk sums to at most 2^30 (mac.rs asserts it), and so does every i32 lane and
/// every partial sum of lanes the vector kernels form on the way. A multiple of every kernel's
/// step (16 i16 for AVX2, 32 for AVX-512).
pub(crate) const CHUNK: usize = 1024;
const _: () = assert!(CHUNK.is_multiple_of(32));

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

/// How the pre-scaled dot products are computed: the portable loop, AVX2 or AVX-512 VNNI
/// intrinsics. All give the same exact integer sums. A `Kernel` that uses a vector extension can
/// only be obtained from its constructor ([`Kernel::avx2`], [`Kernel::avx512_vnni`]), which
/// checks the processor, so safe code cannot run an instruction the processor lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
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

    /// The AVX-512 VNNI kernel, if this processor has AVX-512 F, BW and VNNI.
    pub fn avx512_vnni() -> Option<Kernel> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            return Some(Kernel(Isa::Avx512Vnni));
        }
        None
    }

    /// The fastest kernel this processor runs (the last of [`Kernel::available`]).
    pub fn best() -> Kernel {
        Kernel::avx512_vnni()
            .or_else(Kernel::avx2)
            .unwrap_or(Kernel::PORTABLE)
    }

    /// Every kernel this processor runs, slowest first (the tests compare them).
    pub fn available() -> Vec<Kernel> {
        std::iter::once(Kernel::PORTABLE)
            .chain(Kernel::avx2())
            .chain(Kernel::avx512_vnni())
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => "avx512-vnni",
        }
    }

    /// The kernel's tile: rows of A and columns of B per [`Kernel::dot_tile`] (at most
    /// [`MAX_TILE_ROWS`] x [`MAX_TILE_COLS`]).
    pub(crate) fn tile(self) -> (usize, usize) {
        match self.0 {
            Isa::Portable => TILES[0],
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => TILES[0],
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => TILES[1],
        }
    }

    /// The dot products of rows `a` with columns `b`, exactly: `out[i][j] = a[i] . b[j]` for the
    /// tile's `a.len() x b.len()` (the other entries are 0).
    ///
    /// # Panics
    /// Unless the shape is [`Kernel::tile`] and every slice has the same length, a multiple of
    /// [`BLOCK`] (the vector loads rely on it).
    pub(crate) fn dot_tile(self, a: &[&[i16]], b: &[&[i16]]) -> Tile {
        assert_eq!(
            (a.len(), b.len()),
            self.tile(),
            "dot_tile: not the kernel's tile"
        );
        let len = a[0].len();
        assert!(
            a.iter().chain(b).all(|v| v.len() == len) && len.is_multiple_of(BLOCK),
            "dot_tile: operands of unequal length or not a multiple of {BLOCK}"
        );
        match self.0 {
            Isa::Portable => dot_tile(a, b),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Kernel(Isa::Avx2)` exists only when `avx2()` detected AVX2, and the
            // shape and lengths were checked above.
            Isa::Avx2 => unsafe { dot_tile_avx2(a.try_into().unwrap(), b.try_into().unwrap()) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Kernel(Isa::Avx512Vnni)` exists only when `avx512_vnni()` detected
            // AVX-512 F, BW and VNNI, and the shape and lengths were checked above.
            Isa::Avx512Vnni => unsafe {
                dot_tile_avx512_vnni(a.try_into().unwrap(), b.try_into().unwrap())
            },
        }
    }
}

/// Register-blocked micro-tiles: every element loaded is used once per row or column of the
/// tile, so the multiplier rather than the load ports sets the pace. The largest tile of any
/// kernel is `MAX_TILE_ROWS x MAX_TILE_COLS`.
pub(crate) const MAX_TILE_ROWS: usize = 8;
pub(crate) const MAX_TILE_COLS: usize = 4;
pub(crate) type Tile = [[i64; MAX_TILE_COLS]; MAX_TILE_ROWS];
/// The AVX2 tile: eight ymm accumulators (the reduction tree folds groups of eight).
const AVX2_ROWS: usize = 4;
const AVX2_COLS: usize = 2;
/// The AVX-512 tile: 24 of the 32 zmm registers accumulate, 4 hold columns of B, 1 a row of A.
const AVX512_ROWS: usize = 6;
const AVX512_COLS: usize = 4;
const _: () = assert!(
    (AVX2_ROWS * AVX2_COLS).is_multiple_of(8) && (AVX512_ROWS * AVX512_COLS).is_multiple_of(8)
);
/// Every kernel's tile (the portable loop uses the AVX2 one).
pub(crate) const TILES: [(usize, usize); 2] = [(AVX2_ROWS, AVX2_COLS), (AVX512_ROWS, AVX512_COLS)];
const _: () = assert!(AVX2_ROWS <= MAX_TILE_ROWS && AVX512_ROWS <= MAX_TILE_ROWS);
const _: () = assert!(AVX2_COLS <= MAX_TILE_COLS && AVX512_COLS <= MAX_TILE_COLS);

/// Lane sums of groups of eight `i32` accumulators, in one vector each, by a horizontal-add tree;
/// each is widened and added to the i64 totals. In i32: a chunk's total is at most 2^30.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fold_into<const R: usize, const C: usize>(
    acc: &[[std::arch::x86_64::__m256i; C]; R],
    tot: &mut Tile,
) {
    use std::arch::x86_64::*;
    for g in (0..R * C).step_by(8) {
        let v: [__m256i; 8] = std::array::from_fn(|t| acc[(g + t) / C][(g + t) % C]);
        let u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        let u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
        let sums = _mm256_add_epi32(
            _mm256_permute2x128_si256(u0, u1, 0x20),
            _mm256_permute2x128_si256(u0, u1, 0x31),
        );
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` has room for the eight i32 of one vector.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), sums) };
        for (t, s) in lanes.iter().enumerate() {
            tot[(g + t) / C][(g + t) % C] += *s as i64;
        }
    }
}

/// [`dot_tile`] with `_mm256_madd_epi16`: 16 i16 products a step, summed in pairs into eight
/// i32 lanes, each lane taking `CHUNK / 8` products before it is widened to i64.
///
/// # Safety
/// The processor must have AVX2; every slice must have the same length, a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_tile_avx2(a: &[&[i16]; AVX2_ROWS], b: &[&[i16]; AVX2_COLS]) -> Tile {
    use std::arch::x86_64::*;
    let len = a[0].len();
    let mut tot = Tile::default();
    for k0 in (0..len).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(len);
        let mut acc = [[_mm256_setzero_si256(); AVX2_COLS]; AVX2_ROWS];
        let mut k = k0;
        while k < k1 {
            // SAFETY: k + 16 <= k1 <= the length of every slice (lengths are multiples of 16).
            let y: [__m256i; AVX2_COLS] =
                std::array::from_fn(|j| unsafe { _mm256_loadu_si256(b[j].as_ptr().add(k).cast()) });
            for i in 0..AVX2_ROWS {
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_si256(a[i].as_ptr().add(k).cast()) };
                for j in 0..AVX2_COLS {
                    acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, y[j]));
                }
            }
            k += 16;
        }
        fold_into(&acc, &mut tot);
    }
    tot
}

/// [`dot_tile`] with AVX-512 VNNI `_mm512_dpwssd_epi32` (`vpdpwssd`): 32 i16 products a step,
/// summed in pairs and added into sixteen i32 lanes in one instruction, each lane taking
/// `CHUNK / 16` products before the chunk is folded ([`fold_avx512`]) and widened to i64.
///
/// Why the i16 form (`vpdpwssd`) and not the int8 one (`vpdpbusd`, twice the products per
/// instruction): the pre-scaled operands are `q * 2^shift`, up to 11 signed bits, which only
/// the i16 multiply holds exactly; `vpdpbusd` multiplies an unsigned byte by a signed byte, so
/// it would need both operands split into bytes, four byte products per exact product: 16 exact
/// products per instruction against `vpdpwssd`'s 32.
///
/// # Safety
/// The processor must have AVX-512 F, BW and VNNI; every slice must have the same length, a
/// multiple of 32 (one zmm of i16, so lengths that are odd multiples of 32 need no tail).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_tile_avx512_vnni(a: &[&[i16]; AVX512_ROWS], b: &[&[i16]; AVX512_COLS]) -> Tile {
    use std::arch::x86_64::*;
    let len = a[0].len();
    let mut tot = Tile::default();
    let mut acc = [[_mm512_setzero_si512(); AVX512_COLS]; AVX512_ROWS];
    for k0 in (0..len).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(len);
        // SAFETY: the features are enabled (this function's contract); `add(k1)` stays within
        // (or one past) each slice as k1 <= len, and the chunk's k1 - k0 elements before it
        // are in the slice: a positive multiple of 32, as the lengths are.
        unsafe {
            dot_chunk_avx512_vnni(
                &a.map(|x| x.as_ptr().add(k1)),
                &b.map(|y| y.as_ptr().add(k1)),
                k1 - k0,
                &mut acc,
            )
        };
        fold_avx512(&acc, &mut tot);
    }
    tot
}

/// The lane sums of the 24 accumulators of a chunk, widened and added to the i64 totals: a
/// butterfly of shuffles and adds that halves the lanes of each accumulator at every level and
/// packs the accumulators together, 23 shuffle pairs for the 24 (the AVX2 tree of
/// [`fold_into`] on the 256-bit halves takes about twice the shuffles). Only lanes of the same
/// accumulator are ever added, so every partial sum is one of a chunk's at most 2^30.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn fold_avx512(acc: &[[std::arch::x86_64::__m512i; AVX512_COLS]; AVX512_ROWS], tot: &mut Tile) {
    use std::arch::x86_64::*;
    // Level 1: [x0 + x2, x1 + x3 | y0 + y2, y1 + y3] in 128-bit lanes.
    let l1 = |x, y| {
        _mm512_add_epi32(
            _mm512_shuffle_i64x2::<0b01_00_01_00>(x, y),
            _mm512_shuffle_i64x2::<0b11_10_11_10>(x, y),
        )
    };
    // Level 2: one accumulator per 128-bit lane, [x | y | z | w] from l1(x, y) and l1(z, w).
    let l2 = |x, y| {
        _mm512_add_epi32(
            _mm512_shuffle_i64x2::<0b10_00_10_00>(x, y),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(x, y),
        )
    };
    // Level 3: in each 128-bit lane, [x, x, y, y] (two i32 per accumulator).
    let l3 = |x, y| _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
    // Level 4: in each 128-bit lane, [x, y, z, w] from l3(x, y) and l3(z, w).
    let l4 = |x: __m512i, y: __m512i| {
        let (x, y) = (_mm512_castsi512_ps(x), _mm512_castsi512_ps(y));
        _mm512_add_epi32(
            _mm512_castps_si512(_mm512_shuffle_ps::<0b10_00_10_00>(x, y)),
            _mm512_castps_si512(_mm512_shuffle_ps::<0b11_01_11_01>(x, y)),
        )
    };
    let g: [__m512i; AVX512_ROWS * AVX512_COLS] =
        std::array::from_fn(|t| acc[t / AVX512_COLS][t % AVX512_COLS]);
    // Eight accumulators g[8h..8h + 8] to l3 form: 128-bit lane k holds g[8h + k] in its i32
    // 0 and 1, g[8h + 4 + k] in its i32 2 and 3.
    let eight = |h: usize| {
        let p: [__m512i; 4] = std::array::from_fn(|i| l1(g[8 * h + 2 * i], g[8 * h + 2 * i + 1]));
        l3(l2(p[0], p[1]), l2(p[2], p[3]))
    };
    let (r0, r1, r2) = (eight(0), eight(1), eight(2));
    // i32 4k + m holds g[4m + k] (of g[0..16]), then (of g[16..24], m < 2) g[16 + 4m + k].
    let mut sums = [[0i32; 16]; 2];
    // SAFETY: each row of `sums` holds the 16 i32 of one vector.
    unsafe {
        _mm512_storeu_si512(sums[0].as_mut_ptr().cast(), l4(r0, r1));
        _mm512_storeu_si512(sums[1].as_mut_ptr().cast(), l4(r2, r2));
    }
    for k in 0..4 {
        for m in 0..4 {
            let t = 4 * m + k;
            tot[t / AVX512_COLS][t % AVX512_COLS] += sums[0][4 * k + m] as i64;
        }
        for m in 0..2 {
            let t = 16 + 4 * m + k;
            tot[t / AVX512_COLS][t % AVX512_COLS] += sums[1][4 * k + m] as i64;
        }
    }
}

/// The i32 lane sums of `a[i][k] * b[j][k]` over the `n` elements before each pointer, into
/// `acc[i][j]`. In assembly: the same loop written with intrinsics has accumulators spilled to
/// the stack by the compiler (29 of the 32 zmm registers are live). The accumulators are
/// outputs zeroed by the assembly, and the function is not inlined: in a larger function
/// the register allocator runs out of registers for the operands.
///
/// # Safety
/// The processor must have AVX-512 F and VNNI; `n` is a positive multiple of 32 and the `n`
/// elements before every pointer are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline(never)]
unsafe fn dot_chunk_avx512_vnni(
    a: &[*const i16; AVX512_ROWS],
    b: &[*const i16; AVX512_COLS],
    n: usize,
    acc: &mut [[std::arch::x86_64::__m512i; AVX512_COLS]; AVX512_ROWS],
) {
    use std::arch::x86_64::__m512i;
    let [c00, c01, c02, c03]: [__m512i; AVX512_COLS];
    let [c10, c11, c12, c13]: [__m512i; AVX512_COLS];
    let [c20, c21, c22, c23]: [__m512i; AVX512_COLS];
    let [c30, c31, c32, c33]: [__m512i; AVX512_COLS];
    let [c40, c41, c42, c43]: [__m512i; AVX512_COLS];
    let [c50, c51, c52, c53]: [__m512i; AVX512_COLS];
    // The index runs from -n up to 0 (in elements) against the end pointers.
    // SAFETY: the features are enabled (this function's contract); the loop reads 64 bytes at
    // elements k, k + 32, .., -32 before each pointer (within the `n` readable ones) and
    // writes only the named registers.
    unsafe {
        std::arch::asm!(
            "vpxord {c00}, {c00}, {c00}",
            "vpxord {c01}, {c01}, {c01}",
            "vpxord {c02}, {c02}, {c02}",
            "vpxord {c03}, {c03}, {c03}",
            "vpxord {c10}, {c10}, {c10}",
            "vpxord {c11}, {c11}, {c11}",
            "vpxord {c12}, {c12}, {c12}",
            "vpxord {c13}, {c13}, {c13}",
            "vpxord {c20}, {c20}, {c20}",
            "vpxord {c21}, {c21}, {c21}",
            "vpxord {c22}, {c22}, {c22}",
            "vpxord {c23}, {c23}, {c23}",
            "vpxord {c30}, {c30}, {c30}",
            "vpxord {c31}, {c31}, {c31}",
            "vpxord {c32}, {c32}, {c32}",
            "vpxord {c33}, {c33}, {c33}",
            "vpxord {c40}, {c40}, {c40}",
            "vpxord {c41}, {c41}, {c41}",
            "vpxord {c42}, {c42}, {c42}",
            "vpxord {c43}, {c43}, {c43}",
            "vpxord {c50}, {c50}, {c50}",
            "vpxord {c51}, {c51}, {c51}",
            "vpxord {c52}, {c52}, {c52}",
            "vpxord {c53}, {c53}, {c53}",
            "2:",
            "vmovdqu64 {y0}, zmmword ptr [{b0} + 2*{k}]",
            "vmovdqu64 {y1}, zmmword ptr [{b1} + 2*{k}]",
            "vmovdqu64 {y2}, zmmword ptr [{b2} + 2*{k}]",
            "vmovdqu64 {y3}, zmmword ptr [{b3} + 2*{k}]",
            "vmovdqu64 {x}, zmmword ptr [{a0} + 2*{k}]",
            "vpdpwssd {c00}, {x}, {y0}",
            "vpdpwssd {c01}, {x}, {y1}",
            "vpdpwssd {c02}, {x}, {y2}",
            "vpdpwssd {c03}, {x}, {y3}",
            "vmovdqu64 {x}, zmmword ptr [{a1} + 2*{k}]",
            "vpdpwssd {c10}, {x}, {y0}",
            "vpdpwssd {c11}, {x}, {y1}",
            "vpdpwssd {c12}, {x}, {y2}",
            "vpdpwssd {c13}, {x}, {y3}",
            "vmovdqu64 {x}, zmmword ptr [{a2} + 2*{k}]",
            "vpdpwssd {c20}, {x}, {y0}",
            "vpdpwssd {c21}, {x}, {y1}",
            "vpdpwssd {c22}, {x}, {y2}",
            "vpdpwssd {c23}, {x}, {y3}",
            "vmovdqu64 {x}, zmmword ptr [{a3} + 2*{k}]",
            "vpdpwssd {c30}, {x}, {y0}",
            "vpdpwssd {c31}, {x}, {y1}",
            "vpdpwssd {c32}, {x}, {y2}",
            "vpdpwssd {c33}, {x}, {y3}",
            "vmovdqu64 {x}, zmmword ptr [{a4} + 2*{k}]",
            "vpdpwssd {c40}, {x}, {y0}",
            "vpdpwssd {c41}, {x}, {y1}",
            "vpdpwssd {c42}, {x}, {y2}",
            "vpdpwssd {c43}, {x}, {y3}",
            "vmovdqu64 {x}, zmmword ptr [{a5} + 2*{k}]",
            "vpdpwssd {c50}, {x}, {y0}",
            "vpdpwssd {c51}, {x}, {y1}",
            "vpdpwssd {c52}, {x}, {y2}",
            "vpdpwssd {c53}, {x}, {y3}",
            "add {k}, 32",
            "jnz 2b",
            k = inout(reg) -(n as isize) => _,
            a0 = in(reg) a[0],
            a1 = in(reg) a[1],
            a2 = in(reg) a[2],
            a3 = in(reg) a[3],
            a4 = in(reg) a[4],
            a5 = in(reg) a[5],
            b0 = in(reg) b[0],
            b1 = in(reg) b[1],
            b2 = in(reg) b[2],
            b3 = in(reg) b[3],
            c00 = out(zmm_reg) c00, c01 = out(zmm_reg) c01, c02 = out(zmm_reg) c02, c03 = out(zmm_reg) c03,
            c10 = out(zmm_reg) c10, c11 = out(zmm_reg) c11, c12 = out(zmm_reg) c12, c13 = out(zmm_reg) c13,
            c20 = out(zmm_reg) c20, c21 = out(zmm_reg) c21, c22 = out(zmm_reg) c22, c23 = out(zmm_reg) c23,
            c30 = out(zmm_reg) c30, c31 = out(zmm_reg) c31, c32 = out(zmm_reg) c32, c33 = out(zmm_reg) c33,
            c40 = out(zmm_reg) c40, c41 = out(zmm_reg) c41, c42 = out(zmm_reg) c42, c43 = out(zmm_reg) c43,
            c50 = out(zmm_reg) c50, c51 = out(zmm_reg) c51, c52 = out(zmm_reg) c52, c53 = out(zmm_reg) c53,
            x = out(zmm_reg) _,
            y0 = out(zmm_reg) _, y1 = out(zmm_reg) _, y2 = out(zmm_reg) _, y3 = out(zmm_reg) _,
            options(nostack, readonly),
        )
    }
    *acc = [
        [c00, c01, c02, c03],
        [c10, c11, c12, c13],
        [c20, c21, c22, c23],
        [c30, c31, c32, c33],
        [c40, c41, c42, c43],
        [c50, c51, c52, c53],
    ];
}

/// The portable [`Kernel`]: i32 partial sums over [`CHUNK`] products, i64 totals.
fn dot_tile(a: &[&[i16]], b: &[&[i16]]) -> Tile {
    let len = a[0].len();
    let mut tot = Tile::default();
    for k0 in (0..len).step_by(CHUNK) {
        let k1 = (k0 + CHUNK).min(len);
        for (t, x) in tot.iter_mut().zip(a) {
            for (t, y) in t.iter_mut().zip(b) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel's tile against exact i64 dot products, over lengths that are odd multiples
    /// of 32 (an odd number of blocks: the AVX-512 kernel's step is one zmm of 32 i16, so no
    /// pair of steps may be assumed) and even ones, within one chunk and across chunks, on
    /// random pre-scaled values and on the worst case for the i32 partial sums (every value
    /// -1024, i.e. -128 at the largest shift).
    #[test]
    fn every_kernel_equals_exact_sums_for_odd_and_even_block_counts() {
        let mut s = 7u64;
        let mut next = |n: u64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) % n
        };
        for blocks in [1usize, 2, 3, 31, 32, 33, 35, 64, 65, 97] {
            let len = blocks * BLOCK;
            for worst in [false, true] {
                let row = |next: &mut dyn FnMut(u64) -> u64| -> Vec<i16> {
                    (0..len)
                        .map(|_| {
                            if worst {
                                -1024
                            } else {
                                ((next(256) as i16) - 128) << next(4)
                            }
                        })
                        .collect()
                };
                let a: Vec<Vec<i16>> = (0..MAX_TILE_ROWS).map(|_| row(&mut next)).collect();
                let b: Vec<Vec<i16>> = (0..MAX_TILE_COLS).map(|_| row(&mut next)).collect();
                for k in Kernel::available() {
                    let (tr, tc) = k.tile();
                    let ra: Vec<&[i16]> = a[..tr].iter().map(Vec::as_slice).collect();
                    let cb: Vec<&[i16]> = b[..tc].iter().map(Vec::as_slice).collect();
                    let got = k.dot_tile(&ra, &cb);
                    for i in 0..MAX_TILE_ROWS {
                        for j in 0..MAX_TILE_COLS {
                            let want: i64 = if i < tr && j < tc {
                                a[i].iter()
                                    .zip(&b[j])
                                    .map(|(&p, &q)| p as i64 * q as i64)
                                    .sum()
                            } else {
                                0
                            };
                            assert_eq!(got[i][j], want, "{} len {len} ({i},{j})", k.name());
                        }
                    }
                }
            }
        }
    }
}
