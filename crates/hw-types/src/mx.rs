//! The OCP MX block formats (OCP Microscaling v1.0): MXINT8, MXFP8 (E4M3, E5M2), MXFP6 (E3M2,
//! E2M3) and MXFP4 (E2M1). A block is one E8M0 scale and 32 element codes; every format is one
//! row of [`MX_FORMATS`], and the quantizer, the decoder and the block product are written once
//! over that row (docs/numerics.md §8). MXINT8 keeps its own element rounding
//! ([`MxInt8Block::quantize`], §4), which `floor` with `mxint8` reproduces bit for bit.

use crate::e8m0::E8m0;
use crate::float::Fp32;
use crate::float::{self, Dyadic, FormatSpec, NonFinite, OnOverflow, Value, FP32_SPEC};
use crate::mxint8::{quantize_element, BLOCK, ELEM_FRAC_BITS};
use crate::policy;
use crate::status::{RoundingMode, Status, StatusAnd};
use std::sync::OnceLock;

/// How an element code is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// Two's-complement int8 `q`, value `q * 2^-6`.
    Int8,
    /// A small float of this description (sign, exponent, fraction in `width` bits).
    Float(FormatSpec),
}

/// One row of the format table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxFormat {
    /// The name everywhere: CLI values, manifest `dtype`, Python, C.
    pub name: &'static str,
    /// Bits of an element code.
    pub width: u32,
    /// Fraction bits of an element (the `even` rule rounds amax to these).
    pub mbits: u32,
    /// Exponent of the largest normal element, `floor(log2 max_normal)`.
    pub emax: i32,
    /// The largest element magnitude as `sig * 2^exp`.
    pub max_normal: (u32, i32),
    pub element: Element,
    /// The element rounding when none is given.
    pub default_rounding: RoundingMode,
}

const fn small_float(name: &'static str, exp_bits: u32, mbits: u32, nf: NonFinite) -> FormatSpec {
    let bias = (1 << (exp_bits - 1)) - 1;
    let emax = match nf {
        NonFinite::Ieee => bias,
        NonFinite::NanOnly | NonFinite::FiniteOnly => bias + 1,
    };
    FormatSpec {
        name,
        precision: mbits + 1,
        exp_bits,
        emin: 1 - bias,
        emax,
        non_finite: nf,
    }
}

const fn fp(
    name: &'static str,
    exp_bits: u32,
    mbits: u32,
    nf: NonFinite,
    max_sig: u32,
) -> MxFormat {
    let spec = small_float(name, exp_bits, mbits, nf);
    MxFormat {
        name,
        width: 1 + exp_bits + mbits,
        mbits,
        emax: spec.emax,
        max_normal: (max_sig, spec.emax - mbits as i32),
        element: Element::Float(spec),
        default_rounding: RoundingMode::NearestEven,
    }
}

pub const MXINT8: MxFormat = MxFormat {
    name: "mxint8",
    width: 8,
    mbits: ELEM_FRAC_BITS as u32,
    emax: 0,
    max_normal: (policy::ELEM_MAX as u32, -ELEM_FRAC_BITS),
    element: Element::Int8,
    default_rounding: RoundingMode::NearestAway,
};

/// Every MX format. `max_normal` significands: E4M3 1.110b (its 1.111b at emax is NaN), the
/// others all fraction bits set.
pub const MX_FORMATS: [MxFormat; 6] = [
    MXINT8,
    fp("mxfp8-e4m3", 4, 3, NonFinite::NanOnly, 0b1110),
    fp("mxfp8-e5m2", 5, 2, NonFinite::Ieee, 0b111),
    fp("mxfp6-e3m2", 3, 2, NonFinite::FiniteOnly, 0b111),
    fp("mxfp6-e2m3", 2, 3, NonFinite::FiniteOnly, 0b1111),
    fp("mxfp4-e2m1", 2, 1, NonFinite::FiniteOnly, 0b11),
];

impl MxFormat {
    pub fn from_name(name: &str) -> Option<MxFormat> {
        MX_FORMATS.iter().copied().find(|f| f.name == name)
    }

    /// The format's row of [`MX_FORMATS`] (tables per format are indexed by it).
    ///
    /// # Panics
    /// When the format is not a row of the table (every `MxFormat` comes from it).
    pub fn row(&self) -> usize {
        let row = MX_FORMATS.iter().position(|f| f == self);
        row.expect("an MX format is a row of MX_FORMATS")
    }

    /// Every name, for help texts and errors.
    pub fn names() -> String {
        MX_FORMATS.map(|f| f.name).join(", ")
    }

    /// Hex digits of a dump line: the scale byte and 32 codes of `width` bits.
    pub fn hex_digits(&self) -> usize {
        2 + (BLOCK * self.width as usize).div_ceil(4)
    }

    /// The exact value of an element code (its low `width` bits).
    pub fn decode(&self, code: u8) -> Value {
        match self.element {
            Element::Int8 => Value::int(code as i8 as i128, -ELEM_FRAC_BITS),
            Element::Float(spec) => float::decode(&spec, code as u32 & ((1 << self.width) - 1)),
        }
    }

    /// The shared exponent of a block whose largest magnitude is the finite nonzero `amax`,
    /// under `rule`, clamped to E8M0's range.
    pub fn scale_exponent(&self, amax: &Dyadic, rule: ScaleRule) -> i32 {
        self.rule_exponent(amax, rule)
            .clamp(E8m0::MIN_EXP, E8m0::MAX_EXP)
    }

    /// The exponent `rule` asks for, before the clamp to E8M0's range (coverage reads it).
    pub fn rule_exponent(&self, amax: &Dyadic, rule: ScaleRule) -> i32 {
        let floor = amax.top_exp();
        match rule {
            ScaleRule::Floor => floor - self.emax,
            ScaleRule::Ceil => floor + i32::from(!is_power_of_two(amax)) - self.emax,
            ScaleRule::Even => floor + i32::from(rounds_up_a_binade(amax, self.mbits)) - self.emax,
            ScaleRule::Rceil => floor - self.emax + i32::from(exceeds_max(amax, self.max_normal)),
        }
    }

    /// Quantize up to 32 exact values (a shorter slice is zero-padded) into one block:
    /// docs/numerics.md §8. Flags: `invalid` for a block holding inf or NaN (it becomes the NaN
    /// block), `inexact`, `overflow` (an element saturated) and `underflow` (FP elements: tiny
    /// after rounding and inexact; MXINT8: a nonzero element became 0) from the elements.
    ///
    /// # Panics
    /// When given more than 32 values (a caller bug: blocks are cut by the caller).
    pub fn quantize(
        &self,
        values: &[Fp32],
        rule: ScaleRule,
        mode: RoundingMode,
    ) -> StatusAnd<MxBlock> {
        assert!(values.len() <= BLOCK, "an MX block holds at most 32 values");
        if values.iter().any(|v| v.0 & 0x7f80_0000 == 0x7f80_0000) {
            let nan = MxBlock {
                scale: E8m0(policy::NAN_BLOCK_SCALE),
                codes: [0; BLOCK],
            };
            return StatusAnd::new(nan, Status::INVALID);
        }
        let amax = values.iter().map(|v| v.0 & 0x7fff_ffff).max().unwrap_or(0);
        let e = match float::decode(&FP32_SPEC, amax) {
            Value::Finite(d) => self.scale_exponent(&d, rule),
            _ => E8m0::MIN_EXP,
        };
        let mut codes = [0u8; BLOCK];
        // One loop per element kind, so the kind is decided once per block, not per element.
        let status = match self.element {
            Element::Int8 => convert_all(values, &mut codes, |x| {
                let q = quantize_element(x, e, mode);
                StatusAnd::new(q.value as u8, q.status)
            }),
            Element::Float(_) => {
                let element = FloatElement::new(self, mode);
                convert_all(values, &mut codes, |x| element.convert(x, e))
            }
        };
        let scale = E8m0::from_exponent(e);
        StatusAnd::new(MxBlock { scale, codes }, status)
    }
}

/// Each value's element code into `codes`, and the union of their flags.
#[inline(always)]
fn convert_all(
    values: &[Fp32],
    codes: &mut [u8; BLOCK],
    convert: impl Fn(Fp32) -> StatusAnd<u8>,
) -> Status {
    let mut status = Status::OK;
    for (c, &x) in codes.iter_mut().zip(values) {
        let r = convert(x);
        *c = r.value;
        status |= r.status;
    }
    status
}

/// One small-float element format in one rounding mode, as a table: the quantizer's hot loop.
///
/// `x / 2^e` for a normal FP32 `x` is `1.f * 2^top` with `top = be - 127 - e`, and its element
/// code and flags depend only on the sign, `top` and `f`. Of `f` only the five bits below the
/// hidden bit and whether any lower bit is set matter: the element keeps at most three fraction
/// bits, and its rounding bit lies at least 19 bits above `f`'s last. Below
/// `top = emin - mbits - 2` every value is under half the smallest subnormal, and from
/// `top = emax + 1` on every value saturates, so each of those ranges behaves like its end.
/// The table holds [`float_element_definition`]'s result for every (sign, `top`, five bits,
/// sticky), so it is the definition, read instead of recomputed; zeros and FP32 subnormals
/// (BF16 data holds only the zeros) take the definition itself.
#[derive(Clone, Copy, Debug)]
pub struct FloatElement {
    spec: FormatSpec,
    mode: RoundingMode,
    /// The lowest `top` of the table.
    low: i32,
    /// Binades (`top` values) in the table, per sign.
    binades: i32,
    /// `status << 8 | code` per [`FloatElement::index`].
    table: &'static [u16],
}

/// The tables, built on first use: one per MX float format and rounding mode.
static TABLES: [[OnceLock<Box<[u16]>>; RoundingMode::ALL.len()]; MX_FORMATS.len()] =
    [const { [const { OnceLock::new() }; RoundingMode::ALL.len()] }; MX_FORMATS.len()];

impl FloatElement {
    /// The element of `format` (a float row of [`MX_FORMATS`]) rounded in `mode`.
    ///
    /// # Panics
    /// When `format` is MXINT8 or not a row of the table (a caller bug).
    pub fn new(format: &MxFormat, mode: RoundingMode) -> FloatElement {
        let Element::Float(spec) = format.element else {
            panic!("{} has no float elements", format.name);
        };
        let row = format.row();
        let m = RoundingMode::ALL.iter().position(|&r| r == mode);
        let m = m.expect("every rounding mode is in RoundingMode::ALL");
        let mbits = spec.precision as i32 - 1;
        let low = spec.emin - mbits - 2;
        let binades = spec.emax + 1 - low + 1;
        let mut element = FloatElement {
            spec,
            mode,
            low,
            binades,
            table: &[],
        };
        element.table = TABLES[row][m].get_or_init(|| element.build());
        element
    }

    /// Every entry from the definition, at `e = 0` (where each entry's `top` is a normal FP32
    /// exponent for every format).
    fn build(&self) -> Box<[u16]> {
        let entries = 2 * self.binades as usize * 64;
        (0..entries)
            .map(|i| {
                let (neg, t, bits) = (i / 64 >= self.binades as usize, i / 64, i % 64);
                let top = self.low + (t % self.binades as usize) as i32;
                let be = (127 + top) as u32;
                let x = Fp32(
                    u32::from(neg) << 31 | be << 23 | (bits as u32 >> 1) << 18 | bits as u32 & 1,
                );
                let r = float_element_definition(&self.spec, x, 0, self.mode);
                u16::from(r.status.bits()) << 8 | u16::from(r.value)
            })
            .collect()
    }

    /// The table [`convert`](Self::convert) reads, `status << 8 | code` per entry, for vector
    /// paths that gather from it (hw-units): the entry of a normal FP32 `x` scaled by `2^-e` is
    /// at `(neg * binades + t) << 6 | f5 << 1 | sticky`, with `t = clamp(be - 127 - e - low, 0,
    /// binades - 1)` for its biased exponent `be`, `f5` its fraction bits 22..=18 and `sticky`
    /// whether any of its bits 17..=0 is set. Zeros and FP32 subnormals are not in it.
    #[must_use]
    pub fn table(&self) -> &'static [u16] {
        self.table
    }

    /// The lowest `top` of [`table`](Self::table) (lower ones read its first binade).
    #[must_use]
    pub fn low(&self) -> i32 {
        self.low
    }

    /// Binades (`top` values) of [`table`](Self::table) per sign (higher ones read its last).
    #[must_use]
    pub fn binades(&self) -> i32 {
        self.binades
    }

    /// The entry of a normal FP32 `x` scaled by `2^-e`.
    #[inline(always)]
    fn index(&self, x: u32, e: i32) -> usize {
        let top = ((x >> 23) & 0xff) as i32 - 127 - e;
        let t = (top - self.low).clamp(0, self.binades - 1);
        let neg = (x >> 31) as i32;
        let sticky = u32::from(x & 0x3_ffff != 0);
        let bits = ((x >> 18) & 0x1f) << 1 | sticky;
        (((neg * self.binades + t) as usize) << 6) | bits as usize
    }

    /// `x / 2^e` rounded to the element, saturating, and its flags: exactly
    /// [`float_element_definition`].
    #[inline(always)]
    pub fn convert(&self, x: Fp32, e: i32) -> StatusAnd<u8> {
        if x.0 & 0x7f80_0000 == 0 {
            // Zeros and FP32 subnormals (BF16 data holds only the zeros): the definition.
            return float_element_definition(&self.spec, x, e, self.mode);
        }
        let entry = self.table[self.index(x.0, e)];
        StatusAnd::new(entry as u8, Status::from_bits((entry >> 8) as u8))
    }
}

/// The definition of an element: `x / 2^e` exactly, then [`float::round_pack_with`] (one
/// rounding, saturating). The quantizer uses [`FloatElement::convert`]; tests compare the two.
pub fn float_element_definition(
    spec: &FormatSpec,
    x: Fp32,
    e: i32,
    mode: RoundingMode,
) -> StatusAnd<u8> {
    let y = match float::decode(&FP32_SPEC, x.0) {
        Value::Finite(d) => Value::Finite(Dyadic {
            exp: d.exp - e,
            ..d
        }),
        v => v,
    };
    let r = float::round_pack_with(spec, y, mode, OnOverflow::Saturate);
    StatusAnd::new(r.value as u8, r.status)
}

/// `amax` is a power of two.
fn is_power_of_two(d: &Dyadic) -> bool {
    d.sig.is_power_of_two() && !d.sticky
}

/// Rounding `amax` to `1 + mbits` significant bits, ties away from zero, carries it into the
/// next binade (the `even` rule's only effect on E).
fn rounds_up_a_binade(d: &Dyadic, mbits: u32) -> bool {
    let bits = 128 - d.sig.leading_zeros();
    if bits <= mbits + 1 {
        return false;
    }
    let drop = bits - (mbits + 1);
    let kept = d.sig >> drop;
    let half = (d.sig >> (drop - 1)) & 1 == 1;
    half && kept.count_ones() == mbits + 1
}

/// `amax > max_normal * 2^(floor(log2 amax) - emax)`: the significands compared exactly, both
/// aligned to a leading bit at position 127.
fn exceeds_max(d: &Dyadic, (sig, _): (u32, i32)) -> bool {
    let a = d.sig << d.sig.leading_zeros();
    let m = (sig as u128) << (sig as u128).leading_zeros();
    a > m
}

/// How a block's shared exponent follows from its largest magnitude (docs/numerics.md §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ScaleRule {
    /// `floor(log2 amax) - emax`: OCP MX v1.0 §6.3, microxcaling, torchao FLOOR (the default).
    #[default]
    Floor,
    /// `ceil(log2 amax) - emax`: torchao CEIL.
    Ceil,
    /// amax rounded to the element's fraction bits (ties away), then `floor`: torchao EVEN.
    Even,
    /// The smallest E with `amax <= max_normal * 2^E` (no element saturates): NVIDIA's rule,
    /// torchao RCEIL.
    Rceil,
}

impl ScaleRule {
    pub const ALL: [ScaleRule; 4] = [
        ScaleRule::Floor,
        ScaleRule::Ceil,
        ScaleRule::Even,
        ScaleRule::Rceil,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScaleRule::Floor => "floor",
            ScaleRule::Ceil => "ceil",
            ScaleRule::Even => "even",
            ScaleRule::Rceil => "rceil",
        }
    }
}

impl std::str::FromStr for ScaleRule {
    type Err = String;
    fn from_str(s: &str) -> Result<ScaleRule, String> {
        ScaleRule::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                format!("unknown scale rule '{s}' (expected floor, ceil, even or rceil)")
            })
    }
}

/// One block of any MX format: the scale and 32 element codes (the format is the tensor's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MxBlock {
    pub scale: E8m0,
    pub codes: [u8; BLOCK],
}

/// The exact sum of a block pair's element products times both scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockSum {
    /// A NaN scale or a NaN element code took part: a quiet NaN, no flag.
    NaN,
    /// `inf * 0`, or infinite products of both signs (and no NaN): NaN with the invalid flag.
    Invalid,
    Inf {
        neg: bool,
    },
    /// `int * 2^exp`.
    Finite {
        int: i128,
        exp: i32,
    },
}

/// Every code of `f` as `int * 2^lsb` with one `lsb` per format (the smallest subnormal's
/// exponent), or a special: [`element_int`] in a table per format, filled on first use (a block
/// product decodes every element of both operands).
fn element_ints(f: &MxFormat) -> &'static [ElementInt] {
    static TABLES: [OnceLock<Box<[ElementInt]>>; MX_FORMATS.len()] =
        [const { OnceLock::new() }; MX_FORMATS.len()];
    TABLES[f.row()].get_or_init(|| (0..=255).map(|c| element_int(f, c)).collect())
}

/// An element as `int * 2^lsb`, or the special it is.
type ElementInt = Result<i64, Value>;

/// An element as `int * 2^lsb`, or a special, from its decoded value.
fn element_int(f: &MxFormat, code: u8) -> ElementInt {
    match f.decode(code) {
        Value::Zero { .. } => Ok(0),
        Value::Finite(d) => {
            let m = (d.sig as i64) << (d.exp - lsb(f));
            Ok(if d.neg { -m } else { m })
        }
        v => Err(v),
    }
}

/// Exponent of an element's integer grid: `-6` for MXINT8, the smallest subnormal's for floats.
fn lsb(f: &MxFormat) -> i32 {
    match f.element {
        Element::Int8 => -ELEM_FRAC_BITS,
        Element::Float(spec) => spec.emin - f.mbits as i32,
    }
}

/// `sum_i a_i * b_i * 2^(Ea + Eb)` exactly (docs/numerics.md §8): at most 32 products of
/// 32-bit integers, so an i128 holds the sum.
pub fn block_sum(fa: &MxFormat, a: &MxBlock, fb: &MxFormat, b: &MxBlock) -> BlockSum {
    let (Some(ea), Some(eb)) = (a.scale.exponent(), b.scale.exponent()) else {
        return BlockSum::NaN;
    };
    let mut sum: i128 = 0;
    let (mut nan, mut invalid) = (false, false);
    // Infinite products seen, by sign: [positive, negative].
    let mut inf = [false; 2];
    let (ta, tb) = (element_ints(fa), element_ints(fb));
    for (&ca, &cb) in a.codes.iter().zip(&b.codes) {
        match (ta[ca as usize], tb[cb as usize]) {
            (Ok(x), Ok(y)) => sum += x as i128 * y as i128,
            (Err(Value::NaN), _) | (_, Err(Value::NaN)) => nan = true,
            (Err(Value::Inf { neg }), Ok(y)) | (Ok(y), Err(Value::Inf { neg })) if y != 0 => {
                inf[usize::from(neg != (y < 0))] = true;
            }
            (Err(Value::Inf { neg: n1 }), Err(Value::Inf { neg: n2 })) => {
                inf[usize::from(n1 != n2)] = true;
            }
            // inf * 0.
            _ => invalid = true,
        }
    }
    match (nan, invalid, inf) {
        (true, _, _) => BlockSum::NaN,
        (_, true, _) | (_, _, [true, true]) => BlockSum::Invalid,
        (_, _, [true, false]) => BlockSum::Inf { neg: false },
        (_, _, [false, true]) => BlockSum::Inf { neg: true },
        _ => BlockSum::Finite {
            int: sum,
            exp: lsb(fa) + lsb(fb) + ea + eb,
        },
    }
}
