//! The seeded, platform-independent input generator of docs/numerics.md §5: SplitMix64 streams
//! turned into exact 24-bit dyadic reals.
//!
//! SplitMix64's state advances by a constant, so draw `i` of a stream is `mix(state0 + (i+1)*gamma)`:
//! any element can be computed directly, which lets tensors be generated in parallel and in any
//! order while staying identical to the sequential definition.

use hw_types::{Bf16, Format, Fp32, RoundingMode};

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
        let u = (self.raw(i) >> 40) as i32 - (1 << 23);
        // Both steps are exact in IEEE binary32: |u| <= 2^23 has at most 24 significant bits, and
        // scaling by a power of two (r - 23 >= -126 - 23 here) neither rounds nor underflows.
        debug_assert!((-100..=100).contains(&r));
        Fp32::from_f32(u as f32 * f32::from_bits(((r - 23 + 127) as u32) << 23))
    }

    /// Draw `i` rounded to BF16 (round-to-nearest-even from the exact real).
    #[inline]
    pub fn bf16(&self, i: u64, r: i32) -> Bf16 {
        Bf16::round(self.real(i, r).value(), RoundingMode::NearestEven).value
    }
}

/// The SplitMix64 output function.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generate an MXINT8 tensor of logical `shape` blocked along `axis`: the exact reals of draws
/// `0..product(shape)` (row-major over the logical shape, range `[-2^r, 2^r)`) quantized in
/// blocks of 32 along `axis` with element rounding `mode`. Blocks come out in grid order.
pub fn mx_tensor(
    stream: &Stream,
    shape: &[usize],
    axis: usize,
    r: i32,
    mode: RoundingMode,
) -> crate::tensor::MxTensor {
    use hw_types::{MxInt8Block, BLOCK};
    use rayon::prelude::*;
    let grid = crate::tensor::grid_shape(shape, axis);
    // Row-major strides of the logical shape.
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    let n_blocks: usize = grid.iter().product();
    let blocks = (0..n_blocks)
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
            let mut vals = [Fp32::ZERO; BLOCK];
            for (i, v) in vals[..len].iter_mut().enumerate() {
                *v = stream.real((base + (b * BLOCK + i) * strides[axis]) as u64, r);
            }
            // The inputs' own quantization flags are not reported: only computed stages have flags.
            MxInt8Block::quantize(&vals[..len], mode).value
        })
        .collect();
    crate::tensor::MxTensor {
        shape: shape.to_vec(),
        block_axis: axis,
        blocks,
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
}
