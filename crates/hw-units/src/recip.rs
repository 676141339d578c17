//! The reciprocal unit. `exact`: a 128-entry table of `1/1.m` (17 significant bits and a sticky
//! bit) plus exponent logic, correctly rounded for every BF16 input (proved exhaustively in the
//! tests). `newton`: Newton-Raphson from a seed table in fixed point.

use crate::config::RecipKind;
use hw_types::{Bf16, Dyadic, Format, RoundingMode, Value};

const RNE: RoundingMode = RoundingMode::NearestEven;

/// One entry of the exact table: `floor(2^17 * 128 / (128 + m))` and whether it was inexact.
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

    /// The table as `$readmemh` words (hex digits per word) plus a JSON description.
    pub fn rom(&self) -> (Vec<u64>, usize, serde_json::Value) {
        match self {
            RecipUnit::Exact(t) => (
                t.iter()
                    .map(|e| ((e.sticky as u64) << 17) | e.q as u64)
                    .collect(),
                5,
                serde_json::json!({
                    "unit": "recip", "kind": "exact", "entries": 128, "word_bits": 18,
                    "index": "m, the 7 fraction bits of the normalised input 1.m",
                    "content": "bits 16:0 = floor(2^17 * 128 / (128 + m)) (1/1.m with 17 significant bits), bit 17 = sticky (remainder nonzero)"
                }),
            ),
            RecipUnit::Newton {
                iterations,
                seed_bits,
                frac_bits,
                seeds,
            } => (
                seeds.clone(),
                ((*frac_bits as usize) + 1).div_ceil(4),
                serde_json::json!({
                    "unit": "recip", "kind": "newton", "entries": seeds.len(),
                    "word_bits": frac_bits + 1, "iterations": iterations,
                    "seed_bits": seed_bits, "frac_bits": frac_bits,
                    "index": "the top seed_bits of m",
                    "content": "round(2^frac_bits / (1 + (j + 0.5) / 2^seed_bits))"
                }),
            ),
        }
    }

    pub fn eval(&self, x: Bf16) -> Bf16 {
        let d = match x.value() {
            Value::NaN => return Bf16::NAN,
            Value::Zero { neg } => {
                return if neg {
                    Bf16::NEG_INFINITY
                } else {
                    Bf16::INFINITY
                }
            }
            Value::Inf { neg } => return if neg { Bf16::NEG_ZERO } else { Bf16::ZERO },
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
        Bf16::round(Value::Finite(v), RNE).value
    }
}
