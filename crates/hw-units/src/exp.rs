//! The exp unit. `exact` is a 65,536-entry ROM indexed by the BF16 input pattern holding
//! `RNE_bf16(e^x)`, correctly rounded (proved exhaustively in hw-types' tests and cross-checked
//! against the Python reference). `pow2-lut` is the cheaper datapath of docs/microarchitecture.md.

use crate::config::ExpKind;
use hw_types::transcendental::exp;
use hw_types::{Bf16, Dyadic, Format, RoundingMode, Value};
use std::sync::OnceLock;

/// The reference ROM contents: entry `i` is `RNE_bf16(e^x)` for the BF16 pattern `i`.
pub fn reference_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|i| {
                exp::<Bf16, Bf16>(Bf16(i), RoundingMode::NearestEven)
                    .value
                    .0
            })
            .collect()
    })
}

/// `RNE_bf16(e^x)` by table lookup.
#[inline]
pub fn exp_bf16(x: Bf16) -> Bf16 {
    Bf16(reference_table()[x.0 as usize])
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
    pub fn eval(&self, x: Bf16) -> Bf16 {
        match self {
            ExpUnit::Exact => exp_bf16(x),
            ExpUnit::Pow2 { p, table } => pow2_exp(p, table, x),
        }
    }

    /// The ROM as `$readmemh` words (hex digits per word) plus a JSON description.
    pub fn rom(&self) -> (Vec<u64>, usize, serde_json::Value) {
        match self {
            ExpUnit::Exact => (
                reference_table().iter().map(|&v| v as u64).collect(),
                4,
                serde_json::json!({
                    "unit": "exp", "kind": "exact", "entries": 65536, "word_bits": 16,
                    "index": "the BF16 input bit pattern",
                    "content": "RNE_bf16(e^x) as a BF16 bit pattern"
                }),
            ),
            ExpUnit::Pow2 { p, table } => {
                let bits = p.entry_bits + 1;
                (
                    table.clone(),
                    bits.div_ceil(4) as usize,
                    serde_json::json!({
                        "unit": "exp", "kind": "pow2-lut",
                        "entries": table.len(), "word_bits": bits,
                        "table_bits": p.table_bits, "entry_bits": p.entry_bits,
                        "frac_bits": p.frac_bits, "const_bits": p.const_bits,
                        "interpolate": p.interpolate,
                        "log2e_fixed": p.log2e,
                        "index": "j = top table_bits bits of the fraction of x*log2(e)",
                        "content": "round_half_even(2^(j / 2^table_bits) * 2^entry_bits); entry 2^table_bits is 2^(entry_bits+1) for interpolation"
                    }),
                )
            }
        }
    }
}

/// `e^x = 2^(x log2 e)` in fixed point (docs/microarchitecture.md, exp unit).
fn pow2_exp(p: &Pow2Params, table: &[u64], x: Bf16) -> Bf16 {
    let d = match x.value() {
        Value::NaN => return Bf16::NAN,
        Value::Inf { neg: false } => return Bf16::INFINITY,
        Value::Inf { neg: true } => return Bf16::ZERO,
        Value::Zero { .. } => return Bf16(0x3f80),
        Value::Finite(d) => d,
    };
    // |x| >= 128 saturates: e^128 overflows and e^-128 is below every subnormal.
    if d.top_exp() >= 7 {
        return if d.neg { Bf16::ZERO } else { Bf16::INFINITY };
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
    let frac = (t & ((1i128 << p.frac_bits) - 1)) as u64;
    let low = p.frac_bits - p.table_bits;
    let j = (frac >> low) as usize;
    let r = frac & ((1u64 << low) - 1);
    let mut y = table[j];
    if p.interpolate && low > 0 {
        y += ((table[j + 1] - table[j]) * r) >> low;
    }
    Bf16::round(
        Value::Finite(Dyadic::exact(false, y as u128, int - p.entry_bits as i32)),
        RoundingMode::NearestEven,
    )
    .value
}
