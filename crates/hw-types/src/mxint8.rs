//! MXINT8 blocks: one E8M0 scale and 32 two's-complement int8 elements, value `q * 2^(E - 6)`
//! (each element is a 1.6 fixed-point number times the shared power of two), and the quantizer.

use crate::e8m0::E8m0;
use crate::float::Fp32;
use crate::policy;
use crate::status::{RoundingMode, Status, StatusAnd};

/// Elements per block, along the blocked (reduction) axis.
pub const BLOCK: usize = 32;
/// Fraction bits of an element: `q / 64` is the element value before scaling.
pub const ELEM_FRAC_BITS: i32 = 6;
/// Largest element magnitude: the clamp is symmetric, so -128 is never produced.
pub const ELEM_MAX: i32 = policy::ELEM_MAX;

/// One MXINT8 block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MxInt8Block {
    pub scale: E8m0,
    pub elems: [i8; BLOCK],
}

/// The exact product-sum of two blocks: `dot * 2^exp`, or NaN when a scale is NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockDot {
    NaN,
    Value { dot: i32, exp: i32 },
}

impl MxInt8Block {
    pub const ZERO: MxInt8Block = MxInt8Block {
        scale: E8m0(policy::ZERO_BLOCK_SCALE),
        elems: [0; BLOCK],
    };

    /// Quantize up to 32 exact values (a shorter slice is zero-padded). See docs/numerics.md §4.
    ///
    /// Flags: `invalid` for a block holding inf or NaN (it becomes the NaN block), `inexact` when
    /// an element's value changed, `overflow` when an element rounded to magnitude 128 and was
    /// clamped to 127, `underflow` when a nonzero element became 0.
    ///
    /// # Panics
    /// When given more than 32 values (a caller bug: blocks are cut by the caller).
    pub fn quantize(values: &[Fp32], mode: RoundingMode) -> StatusAnd<MxInt8Block> {
        assert!(
            values.len() <= BLOCK,
            "an MXINT8 block holds at most 32 values"
        );
        // On the bit fields: exponent all ones is inf/NaN, and |x| orders like the bit pattern
        // without its sign.
        if values.iter().any(|v| v.0 & 0x7f80_0000 == 0x7f80_0000) {
            let nan = MxInt8Block {
                scale: E8m0(policy::NAN_BLOCK_SCALE),
                elems: [0; BLOCK],
            };
            return StatusAnd::new(nan, Status::INVALID);
        }
        let amax = values.iter().map(|v| v.0 & 0x7fff_ffff).max().unwrap_or(0);
        if amax == 0 {
            return StatusAnd::new(MxInt8Block::ZERO, Status::OK);
        }
        // E = floor(log2 amax) clamped to E8M0's -127..=127 (docs/numerics.md §4), read off the
        // biased exponent field (0..=254 here: 255 was inf/NaN). A normal amax gives its unbiased
        // exponent, -126..=127; a subnormal's floor(log2) is below -126 and clamps to -127, which
        // is exactly what the field 0 gives. So neither a leading-zero count nor a clamp is needed.
        let e = (amax >> 23) as i32 - 127;
        let mut elems = [0i8; BLOCK];
        let mut status = Status::OK;
        for (q, v) in elems.iter_mut().zip(values) {
            let r = quantize_element(*v, e, mode);
            *q = r.value;
            status |= r.status;
        }
        let block = MxInt8Block {
            scale: E8m0::from_exponent(e),
            elems,
        };
        StatusAnd::new(block, status)
    }

    /// Exact integer dot product of two blocks and its power-of-two weight `2^(Ea + Eb - 12)`.
    #[inline]
    pub fn dot(&self, other: &MxInt8Block) -> BlockDot {
        match (self.scale.exponent(), other.scale.exponent()) {
            (Some(ea), Some(eb)) => BlockDot::Value {
                dot: int_dot(&self.elems, &other.elems),
                exp: ea + eb - 2 * ELEM_FRAC_BITS,
            },
            _ => BlockDot::NaN,
        }
    }

    /// The 264-bit dump word as 33 big-endian bytes: scale, element 31, ..., element 0.
    pub fn to_word(&self) -> [u8; 33] {
        let mut w = [0u8; 33];
        w[0] = self.scale.0;
        for (i, q) in self.elems.iter().enumerate() {
            w[32 - i] = *q as u8;
        }
        w
    }

    /// Inverse of [`to_word`](Self::to_word).
    pub fn from_word(w: &[u8; 33]) -> MxInt8Block {
        let mut elems = [0i8; BLOCK];
        for (i, q) in elems.iter_mut().enumerate() {
            *q = w[32 - i] as i8;
        }
        MxInt8Block {
            scale: E8m0(w[0]),
            elems,
        }
    }
}

/// `clamp(round(x * 2^(6 - e)), -127, 127)`: a power-of-two scaling, then one integer rounding,
/// done on the FP32 bit fields: `|x| = m * 2^(be - 150)` (m with its hidden bit, `be` the biased
/// exponent, 1 for subnormals), so `|x| * 2^(6-e) = m / 2^s` with `s = 144 + e - be`. Since `e`
/// is at least the element's own exponent (or clamped to -127), `s >= 16`.
pub(crate) fn quantize_element(x: Fp32, e: i32, mode: RoundingMode) -> StatusAnd<i8> {
    let bits = x.0;
    let neg = bits >> 31 == 1;
    let biased = ((bits >> 23) & 0xff) as i32;
    let frac = (bits & 0x7f_ffff) as u64;
    // `frac | 1 << 23` sets the hidden bit above the 23 fraction bits: disjoint bits, so `^` (a
    // mutant) gives the same word (excluded in .cargo/mutants.toml).
    let (m, be) = if biased == 0 {
        (frac, 1)
    } else {
        (frac | 1 << 23, biased)
    };
    if m == 0 {
        return StatusAnd::new(0, Status::OK);
    }
    let s = (144 + e - be) as u32;
    debug_assert!(s >= 1);
    let (kept, half, rest) = if s >= 64 {
        (0, false, true)
    } else {
        (
            m >> s,
            (m >> (s - 1)) & 1 == 1,
            m & ((1u64 << (s - 1)) - 1) != 0,
        )
    };
    let mag = kept + mode.increments(neg, kept & 1 == 1, half, rest) as u64;
    let mut status = if half || rest {
        Status::INEXACT
    } else {
        Status::OK
    };
    if mag > ELEM_MAX as u64 {
        // Two distinct flags: `^` would give the same (excluded in .cargo/mutants.toml).
        status |= Status::OVERFLOW | Status::INEXACT;
    }
    if mag == 0 {
        status |= Status::UNDERFLOW;
    }
    let q = mag.min(ELEM_MAX as u64) as i8;
    StatusAnd::new(if neg { -q } else { q }, status)
}

/// Integer dot product of 32 int8 pairs, the definition (|result| <= 32 * 128 * 128 = 2^19).
/// hw-units has a vectorised twin for its MAC kernels, tested against this one.
#[inline]
pub fn int_dot(a: &[i8; BLOCK], b: &[i8; BLOCK]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// Quantize a row of exact values along its length in blocks of 32 (last block zero-padded),
/// appending each block and its flags.
pub fn quantize_row(values: &[Fp32], mode: RoundingMode, out: &mut Vec<StatusAnd<MxInt8Block>>) {
    out.extend(
        values
            .chunks(BLOCK)
            .map(|chunk| MxInt8Block::quantize(chunk, mode)),
    );
}
