//! The seeded, platform-independent input generator of docs/numerics.md §5: SplitMix64 streams
//! turned into exact 24-bit dyadic reals.
//!
//! SplitMix64's state advances by a constant, so draw `i` of a stream is `mix(state0 + (i+1)*gamma)`:
//! any element can be computed directly, which lets tensors be generated in parallel and in any
//! order while staying identical to the sequential definition.

use hw_types::{
    Bf16, Dyadic, E8m0, Format, Fp32, MxBlock, MxFormat, MxInt8Block, RoundingMode, ScaleRule,
    Value, BLOCK,
};
use hw_units::quantize::Quantizer;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const STREAM_KEY: u64 = 0xD1B5_4A32_D192_ED03;

/// One generator stream (stream `k` of seed `S`).
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    state0: u64,
}

impl Stream {
    pub fn new(seed: u64, k: u64) -> Stream {
        Stream {
            state0: seed ^ (k + 1).wrapping_mul(STREAM_KEY),
        }
    }

    /// The raw 64-bit output of draw `i` (0-based).
    #[inline]
    pub fn raw(&self, i: u64) -> u64 {
        mix(self.state0.wrapping_add((i + 1).wrapping_mul(GAMMA)))
    }

    /// Draw `i` as the exact real `(u - 2^23) * 2^(r - 23)`, uniform on `[-2^r, 2^r)`, as an FP32
    /// (exactly representable: 24 significant bits).
    #[inline]
    pub fn real(&self, i: u64, r: i32) -> Fp32 {
        real_of(self.raw(i), r)
    }

    /// Draws `first, first + step, first + 2 step, ...`, one per element of `out`, as the exact
    /// reals of [`Stream::real`]. SplitMix64's state is linear in the draw index, so draw `first +
    /// i step` has state `state(first) + i * step * GAMMA`: a plain induction over the block, with
    /// the range's scale factor computed once, which the compiler vectorises.
    #[inline]
    pub fn reals_strided(&self, first: u64, step: u64, r: i32, out: &mut [Fp32]) {
        let scale = range_scale(r);
        let start = self
            .state0
            .wrapping_add(first.wrapping_add(1).wrapping_mul(GAMMA));
        let inc = step.wrapping_mul(GAMMA);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the processor has AVX-512 DQ (and so F), checked just above.
            return unsafe { strided_reals_avx512(start, inc, scale, out) };
        }
        strided_reals(start, inc, scale, out)
    }

    /// Draw `i` rounded to BF16 (round-to-nearest-even from the exact real).
    #[inline]
    pub fn bf16(&self, i: u64, r: i32) -> Bf16 {
        bf16_of(self.raw(i), r)
    }
}

/// The exact real of a raw draw `z`: `(u - 2^23) * 2^(r - 23)` with `u = z >> 40`.
#[inline]
pub fn real_of(z: u64, r: i32) -> Fp32 {
    scaled_real(z, range_scale(r))
}

/// Draws with states `start + i * inc`: the loop of [`Stream::reals_strided`].
#[inline(always)]
fn strided_reals(start: u64, inc: u64, scale: f32, out: &mut [Fp32]) {
    for (i, v) in out.iter_mut().enumerate() {
        let z = mix(start.wrapping_add((i as u64).wrapping_mul(inc)));
        *v = scaled_real(z, scale);
    }
}

/// [`strided_reals`] compiled for AVX-512 (the compiler vectorises SplitMix64's 64-bit multiplies
/// with `vpmullq`, which the baseline lacks). Integer arithmetic and one exact float product: the
/// same bits as the baseline loop, which the tests compare.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn strided_reals_avx512(start: u64, inc: u64, scale: f32, out: &mut [Fp32]) {
    strided_reals(start, inc, scale, out)
}

/// `2^(r - 23)`, the weight of the last bit of a draw on `[-2^r, 2^r)`.
#[inline]
fn range_scale(r: i32) -> f32 {
    assert!(
        (-100..=100).contains(&r),
        "generator range 2^{r} out of bounds"
    );
    f32::from_bits(((r - 23 + 127) as u32) << 23)
}

/// `(u - 2^23) * scale` with `u = z >> 40`. Both steps are exact in IEEE binary32: |u - 2^23| <=
/// 2^23 has at most 24 significant bits, and scaling by a power of two (`2^(r - 23)`, r >= -100)
/// neither rounds nor underflows.
#[inline]
fn scaled_real(z: u64, scale: f32) -> Fp32 {
    let u = (z >> 40) as i32 - (1 << 23);
    Fp32::from_f32(u as f32 * scale)
}

/// [`real_of`] rounded to BF16 (round-to-nearest-even).
#[inline]
pub fn bf16_of(z: u64, r: i32) -> Bf16 {
    Bf16::round(real_of(z, r).value(), RoundingMode::NearestEven).value
}

/// The SplitMix64 output function.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generate an MXINT8 tensor of logical `shape` blocked along `axis` from stream `k` of `seed`.
/// `uniform`: the exact reals of draws `0..product(shape)` (row-major over the logical shape,
/// range `[-2^r, 2^r)`) quantized in blocks of 32 along `axis` with element rounding `mode`;
/// `corners` and `mixed`: docs/numerics.md §5.1, block by block. Blocks come out in grid order.
pub fn mx_tensor(
    seed: u64,
    k: u64,
    shape: &[usize],
    axis: usize,
    r: i32,
    mode: RoundingMode,
    dist: Dist,
) -> crate::tensor::MxTensor {
    let stream = Stream::new(seed, k);
    // The vector twin of `MxInt8Block::quantize` where the processor has one (equal on every
    // input, hw-units/tests/quantize.rs).
    let quantizer = Quantizer::best();
    let blocks = grid_blocks(seed, k, shape, axis, r, dist, |plan, g, vals| match plan {
        Plan::Corner(p) => corner_block(p, &stream, g as u64, vals.len()),
        // The inputs' own quantization flags are not reported: only computed stages have flags.
        Plan::Uniform => quantizer.mxint8(vals, mode).value,
    });
    crate::tensor::MxTensor {
        shape: shape.to_vec(),
        block_axis: axis,
        blocks,
    }
}

/// [`mx_tensor`] for any MX format: the same reals quantized to `format` by `rule` and `mode`;
/// corner blocks are §5.1's MXINT8 ones for MXINT8 (so its tensors equal [`mx_tensor`]'s) and
/// raw codes aimed at the format's edges otherwise ([`corner_codes`]).
#[allow(clippy::too_many_arguments)]
pub fn mx_codes(
    seed: u64,
    k: u64,
    shape: &[usize],
    axis: usize,
    r: i32,
    format: MxFormat,
    rule: ScaleRule,
    mode: RoundingMode,
    dist: Dist,
) -> crate::tensor::MxCodes {
    let stream = Stream::new(seed, k);
    let int8 = format.name == "mxint8";
    let quantizer = Quantizer::best().mx(&format, rule, mode);
    let blocks = grid_blocks(seed, k, shape, axis, r, dist, |plan, g, vals| match plan {
        Plan::Corner(p) if int8 => {
            let b = corner_block(p, &stream, g as u64, vals.len());
            MxBlock {
                scale: b.scale,
                codes: b.elems.map(|q| q as u8),
            }
        }
        Plan::Corner(p) => corner_codes(&format, p, &stream, g as u64, vals.len()),
        Plan::Uniform => quantizer.quantize(vals).value,
    });
    crate::tensor::MxCodes {
        format,
        shape: shape.to_vec(),
        block_axis: axis,
        blocks,
    }
}

/// The blocks of a tensor of logical `shape` blocked along `axis`, in grid order: `block(plan,
/// g, reals)` makes grid block `g` from its plan (docs/numerics.md §5.1) and the exact reals of
/// its logical elements (draws of stream `k`, row-major over the logical shape, on `[-2^r,
/// 2^r)`; fewer than 32 in a partial block).
fn grid_blocks<B: Send>(
    seed: u64,
    k: u64,
    shape: &[usize],
    axis: usize,
    r: i32,
    dist: Dist,
    block: impl Fn(Plan, usize, &[Fp32]) -> B + Sync,
) -> Vec<B> {
    let stream = Stream::new(seed, k);
    let plans = Stream::new(seed, k + PLAN_STREAM_OFFSET);
    use rayon::prelude::*;
    let grid = crate::tensor::grid_shape(shape, axis);
    // Row-major strides of the logical shape.
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    let n_blocks: usize = grid.iter().product();
    (0..n_blocks)
        .into_par_iter()
        .map(|g| {
            // Decompose the grid index; the blocked coordinate b covers logical 32b..32b+32.
            let mut rem = g;
            let mut base = 0;
            let mut b = 0;
            for ax in (0..grid.len()).rev() {
                let c = rem % grid[ax];
                rem /= grid[ax];
                if ax == axis {
                    b = c;
                } else {
                    base += c * strides[ax];
                }
            }
            let len = (shape[axis] - b * BLOCK).min(BLOCK);
            let p = plan(dist, &plans, g as u64);
            let mut vals = [Fp32::ZERO; BLOCK];
            if p == Plan::Uniform {
                let first = base + b * BLOCK * strides[axis];
                stream.reals_strided(first as u64, strides[axis] as u64, r, &mut vals[..len]);
            }
            block(p, g, &vals[..len])
        })
        .collect()
}

/// Input distribution (docs/numerics.md §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Dist {
    /// The dataset's distribution: qk_T on [-8, 8], operands on [-4, 4), quantized.
    #[default]
    Uniform,
    /// TestFloat-style corners: special values, exponent boundaries, ties, extreme blocks.
    Corners,
    /// Row by row and block by block, uniform or corners.
    Mixed,
}

impl Dist {
    pub fn name(self) -> &'static str {
        match self {
            Dist::Uniform => "uniform",
            Dist::Corners => "corners",
            Dist::Mixed => "mixed",
        }
    }

    /// What a case folder name gains: nothing for the dataset's distribution, else `_dist-NAME`.
    pub fn suffix(self) -> String {
        match self {
            Dist::Uniform => String::new(),
            d => format!("_dist-{}", d.name()),
        }
    }

    pub fn parse(s: &str) -> Option<Dist> {
        [Dist::Uniform, Dist::Corners, Dist::Mixed]
            .into_iter()
            .find(|d| d.name() == s)
    }
}

/// Plan streams are the tensor's stream number plus this.
const PLAN_STREAM_OFFSET: u64 = 8;

/// How one row or block is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plan {
    Uniform,
    /// A corner row or block with this plan draw.
    Corner(u64),
}

/// The plan of row or block `r` under `dist`.
fn plan(dist: Dist, plans: &Stream, r: u64) -> Plan {
    match dist {
        Dist::Uniform => Plan::Uniform,
        Dist::Corners => Plan::Corner(plans.raw(r)),
        Dist::Mixed => {
            let p = plans.raw(r);
            if p.is_multiple_of(2) {
                Plan::Uniform
            } else {
                Plan::Corner(p >> 1)
            }
        }
    }
}

/// `table[x mod len]`.
fn pick<T: Copy>(table: &[T], x: u64) -> T {
    table[(x % table.len() as u64) as usize]
}

const QK_SPECIALS: [u16; 24] = [
    0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x807f, 0x0080, 0x8080, 0x3f80, 0xbf80, 0x42b1, 0x42b2,
    0x42b3, 0xc2b9, 0xc2ba, 0xc2bb, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0x42af, 0xc2b4, 0x3c00,
];
const QK_CONSTANTS: [u16; 8] = [
    0x0000, 0x3c00, 0x42b1, 0x42af, 0xc2b9, 0xc2b4, 0xc2ba, 0xff80,
];
const QK_BOUNDARY: [u16; 16] = [
    0x42ae, 0x42af, 0x42b0, 0x42b1, 0x42b2, 0x42b3, 0xc2b6, 0xc2b7, 0xc2b8, 0xc2b9, 0xc2ba, 0xc2bb,
    0x0001, 0x8001, 0x0080, 0x8080,
];
const QK_EXPONENTS: [u16; 16] = [
    0, 1, 2, 100, 118, 119, 120, 121, 126, 127, 128, 129, 130, 131, 132, 133,
];
const QK_LARGE: [u16; 4] = [0x42b1, 0x42af, 0x42a0, 0x4270];

/// The qk_T of a softmax_v case: `heads x kv` BF16 values, head by head.
pub fn qk_t(seed: u64, heads: usize, kv: usize, dist: Dist) -> Vec<Bf16> {
    use rayon::prelude::*;
    let (s, plans) = (Stream::new(seed, 0), Stream::new(seed, PLAN_STREAM_OFFSET));
    (0..heads * kv)
        .into_par_iter()
        .map(|i| {
            let (h, j) = (i / kv, i % kv);
            let z = s.raw(i as u64);
            match plan(dist, &plans, h as u64) {
                Plan::Uniform => bf16_of(z, QK_RANGE_LOG2),
                Plan::Corner(p) => Bf16(qk_corner(p, z, j, kv)),
            }
        })
        .collect()
}

/// Generator range of qk_T: [-8, 8).
const QK_RANGE_LOG2: i32 = 3;

/// Element `j` of a corner row of length `n` with plan `p` and element draw `z`.
fn qk_corner(p: u64, z: u64, j: usize, n: usize) -> u16 {
    let uniform = || bf16_of(z, QK_RANGE_LOG2).0;
    match p % 8 {
        0 => uniform(),
        1 => pick(&QK_SPECIALS, z),
        2 => pick(&QK_CONSTANTS, p >> 8),
        3 => pick(&QK_BOUNDARY, z),
        4 => ((z >> 63) << 15) as u16 | pick(&QK_EXPONENTS, z >> 32) << 7 | (z % 128) as u16,
        5 if j as u64 == (p >> 8) % n as u64 => pick(&QK_LARGE, p >> 16),
        5 => uniform(),
        6 if z.is_multiple_of(8) => pick(&QK_SPECIALS, z >> 8),
        6 => uniform(),
        _ if z.is_multiple_of(2) => 0x0000,
        _ => 0xff80,
    }
}

/// A corner MXINT8 block: plan `p`, element draws `z(k, 32 g + i)`, `len` logical elements.
fn corner_block(p: u64, s: &Stream, g: u64, len: usize) -> MxInt8Block {
    let q = p >> 8;
    let elem = |f: &dyn Fn(u64) -> i8| -> [i8; BLOCK] {
        std::array::from_fn(|i| {
            if i < len {
                f(s.raw(32 * g + i as u64))
            } else {
                0
            }
        })
    };
    let byte = |z: u64| (z % 256) as u8 as i8;
    let (scale, elems) = match p % 32 {
        0 => (0xff, elem(&byte)),
        1 | 2 => ((q % 255) as u8, [0; BLOCK]),
        3 | 4 => (0x00, elem(&byte)),
        5 | 6 => (0xfe, elem(&byte)),
        7 | 8 => (127 + (q % 4) as u8, elem(&|_| -128)),
        9..=11 => (
            120 + (q % 16) as u8,
            elem(&|z| if z % 2 == 0 { 127 } else { -128 }),
        ),
        12..=15 => (
            pick(&[0x01, 0x02, 0x10, 0x40], q),
            elem(&|z| pick(&[0, 0, 0, 0, 0, 0, 1, -1], z)),
        ),
        _ => (100 + (q % 56) as u8, elem(&byte)),
    };
    MxInt8Block {
        scale: E8m0(scale),
        elems,
    }
}

/// A corner block of an MX format other than MXINT8: §5.1's plans with raw `width`-bit codes,
/// the format's edges in place of MXINT8's (its largest magnitudes, its NaN and infinity codes
/// where it has them, its smallest subnormal, -0).
fn corner_codes(f: &MxFormat, p: u64, s: &Stream, g: u64, len: usize) -> MxBlock {
    let q = p >> 8;
    let w = f.width;
    let sign = 1u8 << (w - 1);
    let max = (0..1u16 << (w - 1))
        .map(|c| c as u8)
        .filter(|&c| matches!(f.decode(c), hw_types::Value::Finite(_)))
        .max()
        .unwrap_or(0);
    let mut edges = vec![max, max | sign];
    edges.extend((max + 1..sign).filter(|&c| !matches!(f.decode(c), hw_types::Value::Finite(_))));
    let codes = |c: &dyn Fn(u64) -> u8| -> [u8; BLOCK] {
        std::array::from_fn(|i| {
            if i < len {
                c(s.raw(32 * g + i as u64))
            } else {
                0
            }
        })
    };
    let raw = |z: u64| (z % (1 << w)) as u8;
    let (scale, codes) = match p % 32 {
        0 => (0xff, codes(&raw)),
        1 | 2 => ((q % 255) as u8, [0; BLOCK]),
        3 | 4 => (0x00, codes(&raw)),
        5 | 6 => (0xfe, codes(&raw)),
        7 | 8 => (
            127 + (q % 4) as u8,
            codes(&|z| if z % 2 == 0 { max } else { max | sign }),
        ),
        9..=11 => (120 + (q % 16) as u8, codes(&|z| pick(&edges, z))),
        12..=15 => (
            pick(&[0x01, 0x02, 0x10, 0x40], q),
            codes(&|z| pick(&[0, 0, 0, 0, 0, 1, sign | 1, sign], z)),
        ),
        _ => (100 + (q % 56) as u8, codes(&raw)),
    };
    MxBlock {
        scale: E8m0(scale),
        codes,
    }
}

/// Block exponents of the corner quantize inputs.
const QE: [i32; 5] = [-10, 0, 5, 100, -120];

/// The input of a quantize case: `m` BF16 values (docs/numerics.md §5.1), its corner blocks
/// aimed at `format`'s grid (MXINT8's table for MXINT8, the FP formats' for the others).
pub fn quantize_input(seed: u64, m: usize, dist: Dist, format: &MxFormat) -> Vec<Bf16> {
    let (s, plans) = (Stream::new(seed, 0), Stream::new(seed, PLAN_STREAM_OFFSET));
    let fp = match format.element {
        hw_types::mx::Element::Float(spec) => Some((spec.emin, format.emax, format.mbits as i32)),
        hw_types::mx::Element::Int8 => None,
    };
    (0..m)
        .map(|idx| {
            let z = s.raw(idx as u64);
            match (plan(dist, &plans, (idx / BLOCK) as u64), fp) {
                (Plan::Uniform, _) => bf16_of(z, OPERAND_RANGE_LOG2),
                (Plan::Corner(p), Some(f)) if matches!(p % 8, 1 | 2) => {
                    Bf16(fp_quantize_corner(p, z, idx % BLOCK, f))
                }
                (Plan::Corner(p), _) => Bf16(quantize_corner(p, z, idx % BLOCK)),
            }
        })
        .collect()
}

/// Block exponents of the FP formats' tie and saturation corners (docs/numerics.md §5.1).
const QF: [i32; 5] = [-10, 0, 5, 40, -40];

/// Element `i` of an FP format's tie (kind 1) or saturation (kind 2) corner block, for the
/// format's `(emin, emax, mbits)`.
fn fp_quantize_corner(p: u64, z: u64, i: usize, (emin, emax, mbits): (i32, i32, i32)) -> u16 {
    let eb = pick(&QF, p >> 8);
    let neg = z >> 63 == 1;
    if i == 0 {
        return if p % 8 == 1 {
            bf16_pattern(false, 1, eb + emax)
        } else {
            bf16_pattern(neg, (1 << (mbits + 3)) - 1, eb + emax - mbits - 2)
        };
    }
    let c = ((z >> 16) % (emax - emin + 2) as u64) as i32;
    let k = (z >> 8) % (1 << mbits);
    if c <= emax - emin {
        bf16_pattern(
            neg,
            (1 << (mbits + 1)) + 2 * k + 1,
            eb + emax - c - mbits - 1,
        )
    } else {
        bf16_pattern(neg, 2 * k + 1, eb + emin - mbits - 1)
    }
}

/// Generator range of the operands: [-4, 4).
pub const OPERAND_RANGE_LOG2: i32 = 2;

/// The exact BF16 pattern of `(-1)^neg * odd * 2^e` (`odd < 256`, in the normal range).
fn bf16_pattern(neg: bool, odd: u64, e: i32) -> u16 {
    let v = Value::Finite(Dyadic::exact(neg, odd as u128, e));
    let r = Bf16::round(v, RoundingMode::NearestEven);
    debug_assert!(r.status.is_ok(), "not exact in BF16");
    r.value.0
}

/// Element `i` of a corner quantize block with plan `p` and element draw `z`.
fn quantize_corner(p: u64, z: u64, i: usize) -> u16 {
    let eb = pick(&QE, p >> 8);
    let neg = z >> 63 == 1;
    let sign = ((z >> 63) << 15) as u16;
    let tie = || bf16_pattern(neg, 2 * ((z >> 8) % 64) + 1, eb - 7);
    match p % 8 {
        0 => bf16_of(z, OPERAND_RANGE_LOG2).0,
        1 if i == 0 => bf16_pattern(false, 1, eb),
        2 if i == 0 => bf16_pattern(neg, 255, eb - 7),
        1 | 2 => tie(),
        3 => sign | (1 + (z >> 8) % 127) as u16,
        4 if i == 0 => pick(&[0x7f80, 0xff80, 0x7fc0], p >> 16),
        4 => bf16_of(z, OPERAND_RANGE_LOG2).0,
        5 if z.is_multiple_of(2) => 0x0000,
        5 => 0x8000,
        6 => sign | pick(&[0u16, 1, 2, 126, 127, 128, 253, 254], z >> 32) << 7 | (z % 128) as u16,
        _ => sign | (120 + ((z >> 32) % 16) as u16) << 7 | (z % 128) as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequential definition, written out as in the paper.
    struct SplitMix64(u64);
    impl SplitMix64 {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn random_access_equals_sequential() {
        let s = Stream::new(42, 1);
        let mut seq = SplitMix64(42 ^ 2u64.wrapping_mul(STREAM_KEY));
        for i in 0..1000 {
            assert_eq!(s.raw(i), seq.next());
        }
    }

    #[test]
    fn known_splitmix_vector() {
        // Published SplitMix64 output for seed 0 (state starts at 0): first value.
        let mut seq = SplitMix64(0);
        assert_eq!(seq.next(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn reals_are_in_range_and_exact() {
        let s = Stream::new(7, 0);
        for i in 0..10_000 {
            let x = s.real(i, 3).to_f32();
            assert!((-8.0..8.0).contains(&x));
            assert_eq!((x * (1 << 20) as f32).fract(), 0.0);
        }
    }

    /// A strided block of draws equals the same draws of the sequential definition (docs/numerics.md
    /// §5: `next()` one step at a time), for every stride and start a tensor can use here.
    #[test]
    fn strided_draws_follow_the_sequential_stream() {
        let s = Stream::new(11, 1);
        let mut state = s.state0;
        let seq: Vec<Fp32> = (0..5000)
            .map(|_| {
                state = state.wrapping_add(GAMMA);
                real_of(mix(state), 2)
            })
            .collect();
        for (first, step, len) in [
            (0, 1, 32),
            (7, 128, 32),
            (100, 37, 5),
            (4999, 1, 1),
            (3, 9, 0),
        ] {
            // The dispatched path (AVX-512 where present) and the baseline loop, its twin.
            let mut fast = [Fp32::ZERO; BLOCK];
            s.reals_strided(first, step, 2, &mut fast[..len]);
            let start = s.state0.wrapping_add((first + 1).wrapping_mul(GAMMA));
            let mut twin = [Fp32::ZERO; BLOCK];
            strided_reals(
                start,
                step.wrapping_mul(GAMMA),
                range_scale(2),
                &mut twin[..len],
            );
            for i in 0..len {
                let want = seq[first as usize + i * step as usize];
                assert_eq!((fast[i], twin[i]), (want, want), "{first} {step} {i}");
            }
        }
    }

    /// The FP formats' tie and saturation corners are exact BF16 numbers (bf16_pattern asserts
    /// it in checked builds), and a saturation block saturates under `floor`.
    #[test]
    fn fp_quantize_corners_are_exact_and_saturate() {
        for f in &hw_types::MX_FORMATS[1..] {
            let x = quantize_input(7, 32 * 4000, Dist::Corners, f);
            let plans = Stream::new(7, PLAN_STREAM_OFFSET);
            let mut saturating = 0;
            for (g, block) in x.chunks(BLOCK).enumerate() {
                let Plan::Corner(p) = plan(Dist::Corners, &plans, g as u64) else {
                    unreachable!()
                };
                if p % 8 == 2 {
                    let vals: Vec<Fp32> = block.iter().map(|b| b.to_fp32()).collect();
                    let r = f.quantize(&vals, ScaleRule::Floor, f.default_rounding);
                    assert!(
                        r.status.contains(hw_types::Status::OVERFLOW),
                        "{} block {g}",
                        f.name
                    );
                    saturating += 1;
                }
            }
            assert!(saturating > 100, "{}: {saturating}", f.name);
        }
    }
}
