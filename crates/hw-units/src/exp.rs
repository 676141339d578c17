//! The exp unit. `exact` is a 65,536-entry ROM indexed by the BF16 input pattern holding
//! `RNE_bf16(e^x)`, correctly rounded (proved exhaustively in hw-types' tests and cross-checked
//! against the Python reference). `pow2-lut` is the cheaper datapath of docs/microarchitecture.md.

use crate::config::ExpKind;
use crate::rom::Rom;
use hw_types::transcendental::exp;
use hw_types::{Bf16, Dyadic, Format, RoundingMode, Status, StatusAnd, Value};
use std::sync::OnceLock;

/// The reference ROM: entry `i` is `RNE_bf16(e^x)` for the BF16 pattern `i`, with its flags.
struct ReferenceRom {
    values: Box<[u16]>,
    flags: Box<[u8]>,
}

fn reference_rom() -> &'static ReferenceRom {
    static ROM: OnceLock<ReferenceRom> = OnceLock::new();
    ROM.get_or_init(|| {
        let all: Vec<StatusAnd<Bf16>> = (0..=u16::MAX)
            .map(|i| exp::<Bf16, Bf16>(Bf16(i), RoundingMode::NearestEven))
            .collect();
        ReferenceRom {
            values: all.iter().map(|r| r.value.0).collect(),
            flags: all.iter().map(|r| r.status.bits()).collect(),
        }
    })
}

/// The reference ROM contents: entry `i` is `RNE_bf16(e^x)` for the BF16 pattern `i`.
pub fn reference_table() -> &'static [u16] {
    &reference_rom().values
}

/// `RNE_bf16(e^x)` and its flags, by table lookup.
#[inline]
pub fn exp_bf16(x: Bf16) -> StatusAnd<Bf16> {
    let r = reference_rom();
    let i = x.0 as usize;
    StatusAnd::new(Bf16(r.values[i]), Status::from_bits(r.flags[i]))
}

/// A configured exp unit: its pure function and its ROM contents.
#[derive(Clone, Debug)]
pub enum ExpUnit {
    Exact,
    Pow2 { p: Pow2Params, table: Vec<u64> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pow2Params {
    pub table_bits: u32,
    pub entry_bits: u32,
    pub frac_bits: u32,
    pub const_bits: u32,
    pub interpolate: bool,
    /// log2(e) in fixed point: `round_half_even(LOG2_E * 2^const_bits)` of the f64 constant.
    pub log2e: u64,
}

impl ExpUnit {
    pub fn new(kind: &ExpKind) -> ExpUnit {
        match *kind {
            ExpKind::Exact => ExpUnit::Exact,
            ExpKind::Pow2Lut {
                table_bits,
                entry_bits,
                frac_bits,
                const_bits,
                interpolate,
            } => {
                let log2e = (std::f64::consts::LOG2_E * (1u64 << const_bits) as f64)
                    .round_ties_even() as u64;
                // Entry j = round_half_even(2^(j / 2^b) * 2^W) for j = 0..=2^b (the extra entry
                // serves interpolation in the last interval), from libm's exp2 (pure Rust, so the
                // contents are the same everywhere; the exported ROM is what the RTL loads).
                let n = 1u64 << table_bits;
                let table = (0..=n)
                    .map(|j| {
                        let v = libm::exp2(j as f64 / n as f64) * (1u64 << entry_bits) as f64;
                        v.round_ties_even() as u64
                    })
                    .collect();
                ExpUnit::Pow2 {
                    p: Pow2Params {
                        table_bits,
                        entry_bits,
                        frac_bits,
                        const_bits,
                        interpolate,
                        log2e,
                    },
                    table,
                }
            }
        }
    }

    #[inline]
    pub fn eval(&self, x: Bf16) -> StatusAnd<Bf16> {
        match self {
            ExpUnit::Exact => exp_bf16(x),
            ExpUnit::Pow2 { p, table } => pow2_exp(p, table, x),
        }
    }

    /// The ROM as the RTL loads it (`sim export-lut --unit exp`).
    pub fn rom(&self) -> Rom {
        match self {
            ExpUnit::Exact => Rom::new(
                reference_table().iter().map(|&v| v as u64).collect(),
                16,
                serde_json::json!({
                    "unit": "exp", "kind": "exact",
                    "fields": {"y": "bits 15:0"},
                    "index": "the BF16 input bit pattern x (0 ..= 0xffff)",
                    "content": "RNE_bf16(e^x) as a BF16 bit pattern, correctly rounded (NaN inputs give 0x7fc0)",
                    "result": "e^x = ROM[x]"
                }),
            ),
            ExpUnit::Pow2 { p, table } => Rom::new(
                table.clone(),
                p.entry_bits + 2,
                serde_json::json!({
                    "unit": "exp", "kind": "pow2-lut",
                    "table_bits": p.table_bits, "entry_bits": p.entry_bits,
                    "frac_bits": p.frac_bits, "const_bits": p.const_bits,
                    "interpolate": p.interpolate,
                    "log2e_fixed": p.log2e,
                    "fields": {"T": format!("bits {}:0", p.entry_bits + 1)},
                    "index": "t = floor(x * log2e_fixed * 2^(frac_bits - const_bits)) exactly (x the exact BF16 value); i = floor(t / 2^frac_bits); f = t mod 2^frac_bits; j = f >> (frac_bits - table_bits); r = f mod 2^(frac_bits - table_bits)",
                    "content": "T[j] = round_half_even(2^(j / 2^table_bits) * 2^entry_bits) for j = 0 ..= 2^table_bits (the last entry, 2^(entry_bits+1), is read only by interpolation)",
                    "result": "y = T[j] + floor((T[j+1] - T[j]) * r / 2^(frac_bits - table_bits)) if interpolate, else T[j]; e^x = RNE_bf16(y * 2^(i - entry_bits)); |x| >= 128 gives +inf (x > 0) or +0 (x < 0); +-0 gives 1.0 (0x3f80), +inf gives +inf, -inf gives +0, NaN gives 0x7fc0"
                }),
            ),
        }
    }
}

/// `e^x = 2^(x log2 e)` in fixed point (docs/microarchitecture.md, exp unit).
///
/// Widths (validation keeps `frac_bits <= 40`, `const_bits <= 40`, `entry_bits <= 30`): `sig < 2^8`
/// and `log2e < 2^(const_bits + 1)`, so the product is below 2^49; the shift
/// `exp + frac_bits - const_bits` is at most `-1 + 40`, so `|t| < 2^88`; the interpolation
/// product is below `2^(entry_bits + 1) * 2^(frac_bits - table_bits) <= 2^70`. All fit in 128 bits.
fn pow2_exp(p: &Pow2Params, table: &[u64], x: Bf16) -> StatusAnd<Bf16> {
    let d = match x.value() {
        Value::NaN => return StatusAnd::new(Bf16::NAN, Status::OK),
        Value::Inf { neg: false } => return StatusAnd::new(Bf16::INFINITY, Status::OK),
        Value::Inf { neg: true } => return StatusAnd::new(Bf16::ZERO, Status::OK),
        Value::Zero { .. } => return StatusAnd::new(Bf16(0x3f80), Status::OK),
        Value::Finite(d) => d,
    };
    // |x| >= 128 saturates: e^128 overflows and e^-128 is below every subnormal.
    if d.top_exp() >= 7 {
        return if d.neg {
            StatusAnd::new(Bf16::ZERO, Status::UNDERFLOW | Status::INEXACT)
        } else {
            StatusAnd::new(Bf16::INFINITY, Status::OVERFLOW | Status::INEXACT)
        };
    }
    // t = floor(x * log2e * 2^F), x = sig * 2^e, log2e = L / 2^C.
    let prod = d.sig as i128 * p.log2e as i128;
    let prod = if d.neg { -prod } else { prod };
    let shift = d.exp + p.frac_bits as i32 - p.const_bits as i32;
    let t = if shift >= 0 {
        prod << shift
    } else {
        prod >> (-shift).min(127)
    };
    let int = (t >> p.frac_bits) as i32;
    let frac = (t & ((1i128 << p.frac_bits) - 1)) as u128;
    let low = p.frac_bits - p.table_bits;
    let j = (frac >> low) as usize;
    let r = frac & ((1u128 << low) - 1);
    let mut y = table[j] as u128;
    if p.interpolate {
        // With frac_bits = table_bits, r = 0 and this adds nothing (T[j + 1] exists for every j).
        y += ((table[j + 1] - table[j]) as u128 * r) >> low;
    }
    Bf16::round(
        Value::Finite(Dyadic::exact(false, y, int - p.entry_bits as i32)),
        RoundingMode::NearestEven,
    )
}
