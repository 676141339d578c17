//! The MX quantizers vectorised (AVX2 and AVX-512, chosen at run time), each with its scalar
//! twin: the definitions [`MxInt8Block::quantize`] and [`MxFormat::quantize`] themselves, which
//! the portable [`Quantizer`] calls. hw-types forbids unsafe code, so the vector paths live here;
//! tests/quantize.rs compares every path with the definition on every BF16 pattern as a block
//! amax and on random blocks, value and flags.
//!
//! A block is 32 FP32 lanes (two zmm or four ymm registers): one max over the magnitudes' bit
//! patterns finds both the amax and any inf/NaN (the only magnitudes at or above `0x7f80_0000`),
//! every element is rounded in its own 32-bit lane, and the flags are OR-ed across the lanes.
//! MXINT8 elements are rounded on their FP32 bit fields exactly as `quantize_element` does; FP
//! elements are gathered from [`FloatElement`]'s table (which is the element definition, read),
//! zeros in the lanes, and a block holding an FP32 subnormal takes the definition whole.

use hw_types::float::Fp32;
use hw_types::mx::{Element, FloatElement, MxBlock, MxFormat, ScaleRule};
use hw_types::{E8m0, MxInt8Block, RoundingMode, StatusAnd, FP32_SPEC};
#[cfg(target_arch = "x86_64")]
use hw_types::{Status, BLOCK};
use std::sync::OnceLock;

/// How blocks are quantized: the definition, or AVX2 or AVX-512 intrinsics; all give the same
/// blocks and flags. A vector `Quantizer` can only be obtained from [`Quantizer::avx2`] or
/// [`Quantizer::avx512`], which check the processor, so safe code cannot run an instruction the
/// processor lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantizer(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Quantizer {
    /// The definitions, compiled for the baseline target.
    pub const PORTABLE: Quantizer = Quantizer(Isa::Portable);

    /// The AVX2 quantizer, if this processor has AVX2.
    #[must_use]
    pub fn avx2() -> Option<Quantizer> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Some(Quantizer(Isa::Avx2));
        }
        None
    }

    /// The AVX-512 quantizer, if this processor has AVX-512F (the only subset it uses).
    #[must_use]
    pub fn avx512() -> Option<Quantizer> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            return Some(Quantizer(Isa::Avx512));
        }
        None
    }

    /// The fastest quantizer this processor runs.
    #[must_use]
    pub fn best() -> Quantizer {
        Quantizer::avx512()
            .or_else(Quantizer::avx2)
            .unwrap_or(Quantizer::PORTABLE)
    }

    /// Every quantizer this processor runs (the tests compare them).
    #[must_use]
    pub fn available() -> Vec<Quantizer> {
        std::iter::once(Quantizer::PORTABLE)
            .chain(Quantizer::avx2())
            .chain(Quantizer::avx512())
            .collect()
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }

    /// Exactly [`MxInt8Block::quantize`]: up to 32 values (a shorter slice is zero-padded), the
    /// block and its flags.
    ///
    /// # Panics
    /// When given more than 32 values, as the definition does.
    pub fn mxint8(self, values: &[Fp32], mode: RoundingMode) -> StatusAnd<MxInt8Block> {
        match self.0 {
            Isa::Portable => MxInt8Block::quantize(values, mode),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa::Avx2` exists only when `avx2()` detected AVX2.
            Isa::Avx2 => unsafe { x86::mxint8_avx2(values, mode) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa::Avx512` exists only when `avx512()` detected AVX-512F.
            Isa::Avx512 => unsafe { x86::mxint8_avx512(values, mode) },
        }
    }

    /// The quantizer of one MX format, scale rule and element rounding, prepared (the element
    /// table found) once for many blocks.
    ///
    /// # Panics
    /// When `format` is not a row of [`hw_types::MX_FORMATS`].
    #[must_use]
    pub fn mx(self, format: &MxFormat, rule: ScaleRule, mode: RoundingMode) -> MxQuantizer {
        let kind = match format.element {
            Element::Int8 => Kind::Int8,
            Element::Float(spec) => {
                let element = FloatElement::new(format, mode);
                Kind::Float(FloatLanes {
                    table: padded_table(format, mode),
                    // `top - low` is `be - (127 + e + low)`.
                    bias: 127 + element.low(),
                    last: element.binades() - 1,
                    neg_zero: spec.zero(true),
                })
            }
        };
        MxQuantizer {
            isa: self.0,
            format: *format,
            rule,
            mode,
            kind,
        }
    }
}

/// [`MxFormat::quantize`] for one format, scale rule and rounding mode, on the [`Quantizer`]
/// that made it.
#[derive(Clone, Copy, Debug)]
pub struct MxQuantizer {
    isa: Isa,
    format: MxFormat,
    rule: ScaleRule,
    mode: RoundingMode,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Int8,
    Float(FloatLanes),
}

/// What the FP element lanes need of [`FloatElement`].
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Clone, Copy, Debug)]
struct FloatLanes {
    /// [`FloatElement::table`] and one entry more, so that a 32-bit gather of the last 16-bit
    /// entry stays inside it.
    table: &'static [u16],
    /// `127 + low`: a lane's binade is `be - e - bias`, clamped to `0..=last`.
    bias: i32,
    last: i32,
    /// The code of `-0` (`+0` is code 0).
    neg_zero: u32,
}

impl MxQuantizer {
    /// Exactly `format.quantize(values, rule, mode)`: up to 32 values (a shorter slice is
    /// zero-padded), the block and its flags.
    ///
    /// # Panics
    /// When given more than 32 values, as the definition does.
    pub fn quantize(&self, values: &[Fp32]) -> StatusAnd<MxBlock> {
        match self.isa {
            Isa::Portable => self.format.quantize(values, self.rule, self.mode),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa::Avx2` exists only when `avx2()` detected AVX2.
            Isa::Avx2 => unsafe { x86::mx_avx2(self, values) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa::Avx512` exists only when `avx512()` detected AVX-512F.
            Isa::Avx512 => unsafe { x86::mx_avx512(self, values) },
        }
    }

    /// The shared exponent of a block whose largest magnitude has the FP32 bits `amax` (finite):
    /// [`MxFormat::scale_exponent`], on the bit fields for a normal `amax`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn scale_exponent(&self, amax: u32) -> i32 {
        scale_exponent(&self.format, self.rule, amax)
    }
}

/// [`MxFormat::scale_exponent`] of the finite FP32 magnitude `amax` (`E8M0::MIN_EXP` for 0, as
/// the definition's block has): for a normal `amax = 1.f * 2^floor` each rule's correction is a
/// test of `f`, see `rule_exponent` in hw-types; zeros and subnormals take the definition.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn scale_exponent(format: &MxFormat, rule: ScaleRule, amax: u32) -> i32 {
    let biased = (amax >> 23) as i32;
    let f = amax & 0x7f_ffff;
    if biased == 0 {
        return match hw_types::float::decode(&FP32_SPEC, amax) {
            hw_types::Value::Finite(d) => format.scale_exponent(&d, rule),
            _ => E8m0::MIN_EXP,
        };
    }
    let floor = biased - 127;
    let up = match rule {
        ScaleRule::Floor => false,
        ScaleRule::Ceil => f != 0,
        // `1.f` rounded to `mbits` fraction bits, ties away, carries into the next binade when
        // its top `mbits` fraction bits and the rounding bit below them are all set.
        ScaleRule::Even => {
            let ones = (1 << (format.mbits + 1)) - 1;
            f >> (22 - format.mbits) == ones
        }
        // `1.f > max_normal`'s significand, both with the leading bit at 23.
        ScaleRule::Rceil => {
            let sig = format.max_normal.0;
            (f | 1 << 23) > sig << (sig.leading_zeros() - 8)
        }
    };
    (floor + i32::from(up) - format.emax).clamp(E8m0::MIN_EXP, E8m0::MAX_EXP)
}

/// [`FloatElement::table`] with one entry appended, per format and rounding mode.
fn padded_table(format: &MxFormat, mode: RoundingMode) -> &'static [u16] {
    static TABLES: [[OnceLock<Box<[u16]>>; RoundingMode::ALL.len()]; hw_types::MX_FORMATS.len()] =
        [const { [const { OnceLock::new() }; RoundingMode::ALL.len()] };
            hw_types::MX_FORMATS.len()];
    let m = RoundingMode::ALL.iter().position(|&r| r == mode);
    let m = m.expect("every rounding mode is in RoundingMode::ALL");
    TABLES[format.row()][m].get_or_init(|| {
        let table = FloatElement::new(format, mode).table();
        table.iter().copied().chain([0]).collect()
    })
}

/// The rounding modes as const-generic parameters, so each lane loop is compiled per mode and
/// decides nothing per element.
#[cfg(target_arch = "x86_64")]
mod modes {
    pub const NEAREST_EVEN: u8 = 0;
    pub const NEAREST_AWAY: u8 = 1;
    pub const TOWARD_ZERO: u8 = 2;
    pub const TOWARD_POSITIVE: u8 = 3;
    pub const TOWARD_NEGATIVE: u8 = 4;
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::modes::*;
    use super::*;
    use std::arch::x86_64::*;

    /// The NaN block the definitions give for a block holding inf or NaN.
    fn nan_block() -> StatusAnd<MxInt8Block> {
        let nan = MxInt8Block {
            scale: E8m0::NAN,
            elems: [0; BLOCK],
        };
        StatusAnd::new(nan, Status::INVALID)
    }

    /// [`E8m0::from_exponent`] without its range check (a call that is not inlined): every `e`
    /// here is a biased FP32 exponent field less 127, or clamped to `-127..=127`.
    #[inline(always)]
    fn scale(e: i32) -> E8m0 {
        debug_assert!((E8m0::MIN_EXP..=E8m0::MAX_EXP).contains(&e));
        E8m0((e + E8m0::BIAS) as u8)
    }

    /// Magnitudes at or above this bit pattern are inf or NaN.
    const INF: i32 = 0x7f80_0000;

    /// Flags from the lane masks: `inexact`, `underflow`, `overflow` as [`Status`] bits 0..=2.
    fn status(bits: u32) -> Status {
        Status::from_bits(bits as u8)
    }

    // ---------------------------------------------------------------- AVX-512

    /// The block's 32 values in two registers, the lanes past `values.len()` zero.
    ///
    /// # Safety
    /// `values.len() <= 32`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load512(values: &[Fp32]) -> [__m512i; 2] {
        let live = (1u64 << values.len()) - 1;
        let p = values.as_ptr().cast::<i32>();
        // SAFETY: the masks select only lanes below `values.len()`; a masked-off lane is neither
        // read nor can it fault. `wrapping_add` because `p + 16` may lie past the slice (no
        // lane of it is read then).
        unsafe {
            [
                _mm512_maskz_loadu_epi32(live as u16, p),
                _mm512_maskz_loadu_epi32((live >> 16) as u16, p.wrapping_add(16)),
            ]
        }
    }

    /// The largest magnitude's bit pattern, signed (every magnitude is below `2^31`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn amax512(x: [__m512i; 2]) -> i32 {
        let abs = _mm512_set1_epi32(0x7fff_ffff);
        _mm512_reduce_max_epi32(_mm512_max_epi32(
            _mm512_and_si512(x[0], abs),
            _mm512_and_si512(x[1], abs),
        ))
    }

    /// Per-lane `increments(neg, odd, half, rest)` of the mode, as a mask.
    #[inline(always)]
    fn increments_mask<const MODE: u8>(neg: u16, odd: u16, half: u16, rest: u16) -> u16 {
        match MODE {
            NEAREST_EVEN => half & (rest | odd),
            NEAREST_AWAY => half,
            TOWARD_ZERO => 0,
            TOWARD_POSITIVE => !neg & (half | rest),
            _ => neg & (half | rest),
        }
    }

    /// `quantize_element(x, e, mode)` in 16 lanes, `e` in every lane of `e`: the elements (as
    /// i32) and the flag bits of the lanes OR-ed. `|x| = m * 2^(be - 150)`, and the element is
    /// `m / 2^s` rounded with `s = 144 + e - be` (16 or more): `vpsrlvd` gives 0 for a shift of
    /// 32 or more, which is the kept part and the half bit there, and `1 << (s - 1)` is then 0,
    /// so the mask below the half bit is all ones and `rest` is `m != 0`, as in the definition.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn int8_lanes512<const MODE: u8>(x: __m512i, e: __m512i) -> (__m512i, u32) {
        let one = _mm512_set1_epi32(1);
        let zero = _mm512_setzero_si512();
        let max = _mm512_set1_epi32(hw_types::mxint8::ELEM_MAX);
        let biased = _mm512_and_si512(_mm512_srli_epi32::<23>(x), _mm512_set1_epi32(0xff));
        let frac = _mm512_and_si512(x, _mm512_set1_epi32(0x7f_ffff));
        let normal = _mm512_test_epi32_mask(biased, biased);
        let m = _mm512_mask_or_epi32(frac, normal, frac, _mm512_set1_epi32(1 << 23));
        let be = _mm512_max_epi32(biased, one);
        let s = _mm512_sub_epi32(_mm512_add_epi32(_mm512_set1_epi32(144), e), be);
        let s1 = _mm512_sub_epi32(s, one);
        let kept = _mm512_srlv_epi32(m, s);
        let half = _mm512_test_epi32_mask(_mm512_srlv_epi32(m, s1), one);
        let below = _mm512_sub_epi32(_mm512_sllv_epi32(one, s1), one);
        let rest = _mm512_test_epi32_mask(m, below);
        let odd = _mm512_test_epi32_mask(kept, one);
        let neg = _mm512_cmplt_epi32_mask(x, zero);
        let inc = increments_mask::<MODE>(neg, odd, half, rest);
        let mag = _mm512_mask_add_epi32(kept, inc, kept, one);
        let over = _mm512_cmpgt_epi32_mask(mag, max);
        let under = _mm512_mask_cmpeq_epi32_mask(_mm512_test_epi32_mask(m, m), mag, zero);
        let q = _mm512_min_epi32(mag, max);
        let q = _mm512_mask_sub_epi32(q, neg, zero, q);
        let flags = u32::from((half | rest | over) != 0)
            | u32::from(under != 0) << 1
            | u32::from(over != 0) << 2;
        (q, flags)
    }

    /// [`Quantizer::mxint8`] with AVX-512F.
    ///
    /// # Safety
    /// The processor has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn mxint8_avx512(
        values: &[Fp32],
        mode: RoundingMode,
    ) -> StatusAnd<MxInt8Block> {
        assert!(
            values.len() <= BLOCK,
            "an MXINT8 block holds at most 32 values"
        );
        // SAFETY: the length was checked.
        let x = unsafe { load512(values) };
        let amax = amax512(x);
        if amax >= INF {
            return nan_block();
        }
        if amax == 0 {
            return StatusAnd::new(MxInt8Block::ZERO, Status::OK);
        }
        let e = (amax >> 23) - 127;
        let mut elems = [0i8; BLOCK];
        let flags = match mode {
            RoundingMode::NearestEven => int8_block512::<NEAREST_EVEN, _>(x, e, &mut elems),
            RoundingMode::NearestAway => int8_block512::<NEAREST_AWAY, _>(x, e, &mut elems),
            RoundingMode::TowardZero => int8_block512::<TOWARD_ZERO, _>(x, e, &mut elems),
            RoundingMode::TowardPositive => int8_block512::<TOWARD_POSITIVE, _>(x, e, &mut elems),
            RoundingMode::TowardNegative => int8_block512::<TOWARD_NEGATIVE, _>(x, e, &mut elems),
        };
        let block = MxInt8Block {
            scale: scale(e),
            elems,
        };
        StatusAnd::new(block, status(flags))
    }

    /// The 32 elements at shared exponent `e` into `out` (bytes), and their flags.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn int8_block512<const MODE: u8, T: Copy>(x: [__m512i; 2], e: i32, out: &mut [T; 32]) -> u32 {
        const { assert!(size_of::<T>() == 1) };
        let e = _mm512_set1_epi32(e);
        let (q0, f0) = int8_lanes512::<MODE>(x[0], e);
        let (q1, f1) = int8_lanes512::<MODE>(x[1], e);
        let bytes = _mm256_set_m128i(_mm512_cvtepi32_epi8(q1), _mm512_cvtepi32_epi8(q0));
        // SAFETY: `out` is 32 bytes.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), bytes) };
        f0 | f1
    }

    /// [`MxQuantizer::quantize`] with AVX-512F.
    ///
    /// # Safety
    /// The processor has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn mx_avx512(q: &MxQuantizer, values: &[Fp32]) -> StatusAnd<MxBlock> {
        assert!(values.len() <= BLOCK, "an MX block holds at most 32 values");
        // SAFETY: the length was checked.
        let x = unsafe { load512(values) };
        let amax = amax512(x);
        if amax >= INF {
            return nan_mx();
        }
        let mut codes = [0u8; BLOCK];
        match q.kind {
            Kind::Int8 => {
                let e = q.scale_exponent(amax as u32);
                let flags = match q.mode {
                    RoundingMode::NearestEven => int8_block512::<NEAREST_EVEN, _>(x, e, &mut codes),
                    RoundingMode::NearestAway => int8_block512::<NEAREST_AWAY, _>(x, e, &mut codes),
                    RoundingMode::TowardZero => int8_block512::<TOWARD_ZERO, _>(x, e, &mut codes),
                    RoundingMode::TowardPositive => {
                        int8_block512::<TOWARD_POSITIVE, _>(x, e, &mut codes)
                    }
                    RoundingMode::TowardNegative => {
                        int8_block512::<TOWARD_NEGATIVE, _>(x, e, &mut codes)
                    }
                };
                mx_block(e, codes, flags)
            }
            Kind::Float(lanes) => {
                if has_subnormal512(x) {
                    return q.format.quantize(values, q.rule, q.mode);
                }
                let e = q.scale_exponent(amax as u32);
                let c0 = float_lanes512(&lanes, x[0], e);
                let c1 = float_lanes512(&lanes, x[1], e);
                let bytes = _mm256_set_m128i(_mm512_cvtepi32_epi8(c1), _mm512_cvtepi32_epi8(c0));
                // SAFETY: `codes` is 32 bytes.
                unsafe { _mm256_storeu_si256(codes.as_mut_ptr().cast(), bytes) };
                // The flags of both halves, OR-ed (the high halves, the next entries, ignored).
                let flags = _mm512_reduce_or_epi32(_mm512_or_si512(c0, c1)) as u32 >> 8 & 0xff;
                mx_block(e, codes, flags)
            }
        }
    }

    /// Whether a lane holds an FP32 subnormal (exponent field 0, fraction not 0).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn has_subnormal512(x: [__m512i; 2]) -> bool {
        let abs = _mm512_set1_epi32(0x7fff_ffff);
        let normal = _mm512_set1_epi32(0x80_0000);
        let sub = |v: __m512i| {
            let a = _mm512_and_si512(v, abs);
            _mm512_mask_cmplt_epi32_mask(_mm512_test_epi32_mask(a, a), a, normal)
        };
        sub(x[0]) | sub(x[1]) != 0
    }

    /// [`FloatElement::convert`] in 16 lanes of normal values and zeros: the entries gathered
    /// (a 32-bit read at each 16-bit entry: the low half is the entry, the high half the next
    /// one, which the padding keeps inside the table), zeros given their signed zero code and
    /// no flags: the codes in the lanes' low bytes, the flags in bits 8..16.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn float_lanes512(l: &FloatLanes, x: __m512i, e: i32) -> __m512i {
        let abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fff_ffff));
        let zero = _mm512_cmpeq_epi32_mask(abs, _mm512_setzero_si512());
        let biased = _mm512_srli_epi32::<23>(abs);
        let t = _mm512_sub_epi32(biased, _mm512_set1_epi32(e + l.bias));
        let t = _mm512_min_epi32(
            _mm512_max_epi32(t, _mm512_setzero_si512()),
            _mm512_set1_epi32(l.last),
        );
        let neg = _mm512_srai_epi32::<31>(x);
        let row = _mm512_add_epi32(t, _mm512_and_si512(neg, _mm512_set1_epi32(l.last + 1)));
        let f5 = _mm512_and_si512(_mm512_srli_epi32::<17>(x), _mm512_set1_epi32(0x3e));
        let sticky = _mm512_mask_set1_epi32(
            _mm512_setzero_si512(),
            _mm512_test_epi32_mask(x, _mm512_set1_epi32(0x3_ffff)),
            1,
        );
        let idx = _mm512_or_si512(_mm512_slli_epi32::<6>(row), _mm512_or_si512(f5, sticky));
        let zero_code = _mm512_and_si512(neg, _mm512_set1_epi32(l.neg_zero as i32));
        // SAFETY: every index is below `2 * (last + 1) * 64`, the unpadded table's length, and
        // the 4 bytes read at `2 * idx` lie inside the padded table.
        unsafe { _mm512_mask_i32gather_epi32::<2>(zero_code, !zero, idx, l.table.as_ptr().cast()) }
    }

    fn nan_mx() -> StatusAnd<MxBlock> {
        let nan = MxBlock {
            scale: E8m0::NAN,
            codes: [0; BLOCK],
        };
        StatusAnd::new(nan, Status::INVALID)
    }

    fn mx_block(e: i32, codes: [u8; BLOCK], flags: u32) -> StatusAnd<MxBlock> {
        StatusAnd::new(
            MxBlock {
                scale: scale(e),
                codes,
            },
            status(flags),
        )
    }

    // ---------------------------------------------------------------- AVX2

    /// The block's 32 values in four registers, the lanes past `values.len()` zero.
    ///
    /// # Safety
    /// `values.len() <= 32`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load256(values: &[Fp32]) -> [__m256i; 4] {
        let n = _mm256_set1_epi32(values.len() as i32);
        let p = values.as_ptr().cast::<i32>();
        std::array::from_fn(|k| {
            let lane = _mm256_add_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_set1_epi32(8 * k as i32),
            );
            let live = _mm256_cmpgt_epi32(n, lane);
            // SAFETY: the mask selects only lanes below `values.len()`; a masked-off lane is
            // neither read nor can it fault. `wrapping_add`: `p + 8k` may lie past the slice.
            unsafe { _mm256_maskload_epi32(p.wrapping_add(8 * k), live) }
        })
    }

    /// The largest magnitude's bit pattern, signed (every magnitude is below `2^31`).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn amax256(x: [__m256i; 4]) -> i32 {
        let abs = _mm256_set1_epi32(0x7fff_ffff);
        let a = x.map(|v| _mm256_and_si256(v, abs));
        let m = _mm256_max_epi32(_mm256_max_epi32(a[0], a[1]), _mm256_max_epi32(a[2], a[3]));
        let m = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256::<1>(m));
        let m = _mm_max_epi32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        let m = _mm_max_epi32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        _mm_cvtsi128_si32(m)
    }

    /// Per-lane `increments(neg, odd, half, rest)` of the mode, on 0/1 lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn increments256<const MODE: u8>(
        neg: __m256i,
        odd: __m256i,
        half: __m256i,
        rest: __m256i,
    ) -> __m256i {
        match MODE {
            NEAREST_EVEN => _mm256_and_si256(half, _mm256_or_si256(rest, odd)),
            NEAREST_AWAY => half,
            TOWARD_ZERO => _mm256_setzero_si256(),
            TOWARD_POSITIVE => _mm256_andnot_si256(neg, _mm256_or_si256(half, rest)),
            _ => _mm256_and_si256(neg, _mm256_or_si256(half, rest)),
        }
    }

    /// [`int8_lanes512`] in 8 lanes: the elements (as i32) and each lane's flag bits.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn int8_lanes256<const MODE: u8>(x: __m256i, e: __m256i) -> (__m256i, __m256i) {
        let one = _mm256_set1_epi32(1);
        let zero = _mm256_setzero_si256();
        let max = _mm256_set1_epi32(hw_types::mxint8::ELEM_MAX);
        let biased = _mm256_and_si256(_mm256_srli_epi32::<23>(x), _mm256_set1_epi32(0xff));
        let frac = _mm256_and_si256(x, _mm256_set1_epi32(0x7f_ffff));
        // The hidden bit, `min(biased, 1) << 23`.
        let hidden = _mm256_slli_epi32::<23>(_mm256_min_epi32(biased, one));
        let m = _mm256_or_si256(frac, hidden);
        let be = _mm256_max_epi32(biased, one);
        let s = _mm256_sub_epi32(_mm256_add_epi32(_mm256_set1_epi32(144), e), be);
        let s1 = _mm256_sub_epi32(s, one);
        let kept = _mm256_srlv_epi32(m, s);
        let half = _mm256_and_si256(_mm256_srlv_epi32(m, s1), one);
        let below = _mm256_sub_epi32(_mm256_sllv_epi32(one, s1), one);
        // 0/1: 1 - (m & below == 0).
        let rest = _mm256_add_epi32(_mm256_cmpeq_epi32(_mm256_and_si256(m, below), zero), one);
        let odd = _mm256_and_si256(kept, one);
        let neg = _mm256_srli_epi32::<31>(x);
        let mag = _mm256_add_epi32(kept, increments256::<MODE>(neg, odd, half, rest));
        let over = _mm256_cmpgt_epi32(mag, max);
        let under = _mm256_andnot_si256(_mm256_cmpeq_epi32(m, zero), _mm256_cmpeq_epi32(mag, zero));
        let flags = _mm256_or_si256(
            _mm256_or_si256(half, rest),
            _mm256_or_si256(
                _mm256_and_si256(under, _mm256_set1_epi32(2)),
                _mm256_and_si256(over, _mm256_set1_epi32(5)),
            ),
        );
        let q = _mm256_min_epi32(mag, max);
        let sign = _mm256_srai_epi32::<31>(x);
        (_mm256_sub_epi32(_mm256_xor_si256(q, sign), sign), flags)
    }

    /// The OR of the eight lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn or_lanes256(v: __m256i) -> u32 {
        let v = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let v = _mm_or_si128(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
        let v = _mm_or_si128(v, _mm_shuffle_epi32::<0b10_11_00_01>(v));
        _mm_cvtsi128_si32(v) as u32
    }

    /// 32 i32 lanes as 32 bytes in order, into `out`: lanes within i8 (`UNSIGNED` false) or
    /// within u8 (`UNSIGNED` true), so that the saturating packs keep every value.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn store_bytes256<const UNSIGNED: bool, T: Copy>(q: [__m256i; 4], out: &mut [T; 32]) {
        const { assert!(size_of::<T>() == 1) };
        // The packs work within 128-bit halves: bytes come out as 4-lane groups 0 2 4 6 1 3 5 7
        // of the 8 groups, put in order by one permute of 32-bit groups.
        let (a, b) = (
            _mm256_packs_epi32(q[0], q[1]),
            _mm256_packs_epi32(q[2], q[3]),
        );
        let w = if UNSIGNED {
            _mm256_packus_epi16(a, b)
        } else {
            _mm256_packs_epi16(a, b)
        };
        let w = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        // SAFETY: `out` is 32 bytes.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), w) };
    }

    /// The 32 elements at shared exponent `e` into `out` (bytes), and their flags.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn int8_block256<const MODE: u8, T: Copy>(x: [__m256i; 4], e: i32, out: &mut [T; 32]) -> u32 {
        let e = _mm256_set1_epi32(e);
        let r = x.map(|v| int8_lanes256::<MODE>(v, e));
        store_bytes256::<false, _>([r[0].0, r[1].0, r[2].0, r[3].0], out);
        let f = _mm256_or_si256(
            _mm256_or_si256(r[0].1, r[1].1),
            _mm256_or_si256(r[2].1, r[3].1),
        );
        or_lanes256(f)
    }

    /// [`Quantizer::mxint8`] with AVX2.
    ///
    /// # Safety
    /// The processor has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mxint8_avx2(
        values: &[Fp32],
        mode: RoundingMode,
    ) -> StatusAnd<MxInt8Block> {
        assert!(
            values.len() <= BLOCK,
            "an MXINT8 block holds at most 32 values"
        );
        // SAFETY: the length was checked.
        let x = unsafe { load256(values) };
        let amax = amax256(x);
        if amax >= INF {
            return nan_block();
        }
        if amax == 0 {
            return StatusAnd::new(MxInt8Block::ZERO, Status::OK);
        }
        let e = (amax >> 23) - 127;
        let mut elems = [0i8; BLOCK];
        let flags = match mode {
            RoundingMode::NearestEven => int8_block256::<NEAREST_EVEN, _>(x, e, &mut elems),
            RoundingMode::NearestAway => int8_block256::<NEAREST_AWAY, _>(x, e, &mut elems),
            RoundingMode::TowardZero => int8_block256::<TOWARD_ZERO, _>(x, e, &mut elems),
            RoundingMode::TowardPositive => int8_block256::<TOWARD_POSITIVE, _>(x, e, &mut elems),
            RoundingMode::TowardNegative => int8_block256::<TOWARD_NEGATIVE, _>(x, e, &mut elems),
        };
        let block = MxInt8Block {
            scale: scale(e),
            elems,
        };
        StatusAnd::new(block, status(flags))
    }

    /// Whether a lane holds an FP32 subnormal (exponent field 0, fraction not 0).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn has_subnormal256(x: [__m256i; 4]) -> bool {
        let abs = _mm256_set1_epi32(0x7fff_ffff);
        let zero = _mm256_setzero_si256();
        let normal = _mm256_set1_epi32(0x80_0000);
        let sub = x.map(|v| {
            let a = _mm256_and_si256(v, abs);
            _mm256_andnot_si256(_mm256_cmpeq_epi32(a, zero), _mm256_cmpgt_epi32(normal, a))
        });
        let any = _mm256_or_si256(
            _mm256_or_si256(sub[0], sub[1]),
            _mm256_or_si256(sub[2], sub[3]),
        );
        _mm256_testz_si256(any, any) == 0
    }

    /// [`float_lanes512`] in 8 lanes: the entries (codes in the low bytes, flags at 8..16).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn float_lanes256(l: &FloatLanes, x: __m256i, e: i32) -> __m256i {
        let abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fff_ffff));
        let zero = _mm256_cmpeq_epi32(abs, _mm256_setzero_si256());
        let biased = _mm256_srli_epi32::<23>(abs);
        let t = _mm256_sub_epi32(biased, _mm256_set1_epi32(e + l.bias));
        let t = _mm256_min_epi32(
            _mm256_max_epi32(t, _mm256_setzero_si256()),
            _mm256_set1_epi32(l.last),
        );
        let neg = _mm256_srai_epi32::<31>(x);
        let row = _mm256_add_epi32(t, _mm256_and_si256(neg, _mm256_set1_epi32(l.last + 1)));
        let f5 = _mm256_and_si256(_mm256_srli_epi32::<17>(x), _mm256_set1_epi32(0x3e));
        let low = _mm256_and_si256(x, _mm256_set1_epi32(0x3_ffff));
        // 0/1: 1 - (low == 0).
        let sticky = _mm256_add_epi32(
            _mm256_cmpeq_epi32(low, _mm256_setzero_si256()),
            _mm256_set1_epi32(1),
        );
        let idx = _mm256_or_si256(_mm256_slli_epi32::<6>(row), _mm256_or_si256(f5, sticky));
        let zero_code = _mm256_and_si256(neg, _mm256_set1_epi32(l.neg_zero as i32));
        // SAFETY: every index is below `2 * (last + 1) * 64`, the unpadded table's length, and
        // the 4 bytes read at `2 * idx` lie inside the padded table.
        let entry = unsafe {
            _mm256_mask_i32gather_epi32::<2>(
                zero_code,
                l.table.as_ptr().cast(),
                idx,
                _mm256_xor_si256(zero, _mm256_set1_epi32(-1)),
            )
        };
        // The gathered high halves (the next entries) and the codes above the low byte out.
        _mm256_and_si256(entry, _mm256_set1_epi32(0xffff))
    }

    /// [`MxQuantizer::quantize`] with AVX2.
    ///
    /// # Safety
    /// The processor has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mx_avx2(q: &MxQuantizer, values: &[Fp32]) -> StatusAnd<MxBlock> {
        assert!(values.len() <= BLOCK, "an MX block holds at most 32 values");
        // SAFETY: the length was checked.
        let x = unsafe { load256(values) };
        let amax = amax256(x);
        if amax >= INF {
            return nan_mx();
        }
        let mut codes = [0u8; BLOCK];
        match q.kind {
            Kind::Int8 => {
                let e = q.scale_exponent(amax as u32);
                let flags = match q.mode {
                    RoundingMode::NearestEven => int8_block256::<NEAREST_EVEN, _>(x, e, &mut codes),
                    RoundingMode::NearestAway => int8_block256::<NEAREST_AWAY, _>(x, e, &mut codes),
                    RoundingMode::TowardZero => int8_block256::<TOWARD_ZERO, _>(x, e, &mut codes),
                    RoundingMode::TowardPositive => {
                        int8_block256::<TOWARD_POSITIVE, _>(x, e, &mut codes)
                    }
                    RoundingMode::TowardNegative => {
                        int8_block256::<TOWARD_NEGATIVE, _>(x, e, &mut codes)
                    }
                };
                mx_block(e, codes, flags)
            }
            Kind::Float(lanes) => {
                if has_subnormal256(x) {
                    return q.format.quantize(values, q.rule, q.mode);
                }
                let e = q.scale_exponent(amax as u32);
                let entry = x.map(|v| float_lanes256(&lanes, v, e));
                // Codes are bytes, so the codes alone pack exactly (no saturation) once the
                // flags are masked out.
                let code = _mm256_set1_epi32(0xff);
                store_bytes256::<true, _>(entry.map(|v| _mm256_and_si256(v, code)), &mut codes);
                let all = _mm256_or_si256(
                    _mm256_or_si256(entry[0], entry[1]),
                    _mm256_or_si256(entry[2], entry[3]),
                );
                mx_block(e, codes, or_lanes256(all) >> 8)
            }
        }
    }
}
