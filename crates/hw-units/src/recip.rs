//! The reciprocal unit. `exact`: a 128-entry table of `1/1.m` (17 significant bits and a sticky
//! bit) plus exponent logic, correctly rounded for every BF16 input (proved exhaustively in the
//! tests). `newton`: Newton-Raphson from a seed table in fixed point.

use crate::config::RecipKind;
use crate::rom::Rom;
use hw_types::{Bf16, Dyadic, Format, RoundingMode, Status, StatusAnd, Value};

const RNE: RoundingMode = RoundingMode::NearestEven;

/// One entry of the exact table: `floor(2^17 * 128 / (128 + m))` (in `(2^16, 2^17]`: 18 bits,
/// `2^17` for m = 0) and whether it was inexact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecipEntry {
    pub q: u32,
    pub sticky: bool,
}

pub fn exact_table() -> [RecipEntry; 128] {
    std::array::from_fn(|m| {
        let num = 128u32 << 17;
        let den = 128 + m as u32;
        RecipEntry {
            q: num / den,
            sticky: !num.is_multiple_of(den),
        }
    })
}

#[derive(Clone, Debug)]
pub enum RecipUnit {
    Exact(Box<[RecipEntry; 128]>),
    Newton {
        iterations: u32,
        seed_bits: u32,
        frac_bits: u32,
        seeds: Vec<u64>,
    },
}

/// Normalise a finite nonzero BF16 to `(m, e)` with `x = (1 + m/128) * 2^e` (subnormals have at
/// most 7 significant bits, so this is exact).
fn normalise(d: &Dyadic) -> (usize, i32) {
    let top = d.top_exp();
    let sig8 = (d.sig << (7 - (top - d.exp))) as usize; // 1.m as 8 bits
    (sig8 - 128, top)
}

impl RecipUnit {
    pub fn new(kind: &RecipKind) -> RecipUnit {
        match *kind {
            RecipKind::Exact => RecipUnit::Exact(Box::new(exact_table())),
            RecipKind::Newton {
                iterations,
                seed_bits,
                frac_bits,
            } => {
                // Seed j: 1 / (midpoint of [1 + j/2^s, 1 + (j+1)/2^s)) in Q.frac_bits, rounded.
                let s = seed_bits;
                let seeds = (0..1u64 << s)
                    .map(|j| {
                        let num = (1u128 << (frac_bits + s + 1)) * 2;
                        let den = ((1u128 << (s + 1)) + 2 * j as u128 + 1) * 2;
                        ((num + den / 2) / den) as u64
                    })
                    .collect();
                RecipUnit::Newton {
                    iterations,
                    seed_bits,
                    frac_bits,
                    seeds,
                }
            }
        }
    }

    /// The table as the RTL loads it (`sim export-lut --unit recip`).
    pub fn rom(&self) -> Rom {
        match self {
            RecipUnit::Exact(t) => Rom::new(
                t.iter()
                    .map(|e| ((e.sticky as u64) << 18) | e.q as u64)
                    .collect(),
                19,
                serde_json::json!({
                    "unit": "recip", "kind": "exact",
                    "fields": {"q": "bits 17:0", "sticky": "bit 18"},
                    "index": "m, the 7 fraction bits of the input normalised to (1 + m/128) * 2^e: a subnormal is shifted left until its leading one is the hidden bit, and e = floor(log2 |x|)",
                    "content": "q = floor(2^17 * 128 / (128 + m)) (1/1.m with 17 fraction bits; 2^17 for m = 0), sticky = 1 when that division has a remainder",
                    "result": "1/x = RNE_bf16(sign(x) * (2 q + sticky) * 2^(-18 - e)): the sticky bit appended below q stands for 'strictly between q and q + 1' (a BF16 result keeps at most 8 of q's 17-18 bits, so this decides every rounding); x = +-0 gives +-inf, +-inf gives +-0, NaN gives NaN (0x7fc0)"
                }),
            ),
            RecipUnit::Newton {
                iterations,
                seed_bits,
                frac_bits,
                seeds,
            } => Rom::new(
                seeds.clone(),
                *frac_bits,
                serde_json::json!({
                    "unit": "recip", "kind": "newton",
                    "iterations": iterations, "seed_bits": seed_bits, "frac_bits": frac_bits,
                    "fields": {"y0": format!("bits {}:0", frac_bits - 1)},
                    "index": "j = m >> (7 - seed_bits): the top seed_bits of m, the 7 fraction bits of the input normalised to (1 + m/128) * 2^e (subnormals shifted left until the leading one is the hidden bit, e = floor(log2 |x|))",
                    "content": "y0[j] = round(2^frac_bits / (1 + (j + 1/2) / 2^seed_bits)) = floor((2^(frac_bits+seed_bits+2) + D) / (2 D)) with D = 2^(seed_bits+1) + 2 j + 1 (no ties occur)",
                    "result": "d = (128 + m) * 2^(frac_bits - 7); iterations times: y = floor(y * max(0, 2^(frac_bits+1) - floor(d * y / 2^frac_bits)) / 2^frac_bits); then 1/x = RNE_bf16(sign(x) * max(y, 1) * 2^(-frac_bits - e)); x = +-0 gives +-inf, +-inf gives +-0, NaN gives NaN (0x7fc0)"
                }),
            ),
        }
    }

    pub fn eval(&self, x: Bf16) -> StatusAnd<Bf16> {
        let d = match x.value() {
            Value::NaN => return StatusAnd::new(Bf16::NAN, Status::OK),
            Value::Zero { neg } => {
                let inf = if neg {
                    Bf16::NEG_INFINITY
                } else {
                    Bf16::INFINITY
                };
                return StatusAnd::new(inf, Status::DIV_BY_ZERO);
            }
            Value::Inf { neg } => {
                let zero = if neg { Bf16::NEG_ZERO } else { Bf16::ZERO };
                return StatusAnd::new(zero, Status::OK);
            }
            Value::Finite(d) => d,
        };
        let (m, e) = normalise(&d);
        let v = match self {
            RecipUnit::Exact(t) => Dyadic {
                neg: d.neg,
                sig: t[m].q as u128,
                exp: -17 - e,
                sticky: t[m].sticky,
            },
            RecipUnit::Newton {
                iterations,
                seed_bits,
                frac_bits,
                seeds,
            } => {
                let f = *frac_bits;
                let dd = ((128 + m) as u128) << (f - 7); // 1.m in Q.f
                let mut y = seeds[m >> (7 - seed_bits)] as u128;
                for _ in 0..*iterations {
                    let dy = (dd * y) >> f;
                    let two = 2u128 << f;
                    y = (y * two.saturating_sub(dy)) >> f;
                }
                Dyadic::exact(d.neg, y.max(1), -(f as i32) - e)
            }
        };
        Bf16::round(Value::Finite(v), RNE)
    }
}
