//! The hardware description: which implementation each unit uses, its widths, and its throughput
//! (lanes per cycle) and latency. Timing parameters never change numbers; unit kinds and widths do.
//! Loaded from JSON (`--config FILE`) or a built-in profile; unknown keys and impossible widths are
//! errors.

use hw_types::RoundingMode;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HwConfig {
    pub name: String,
    pub exp: ExpConfig,
    pub reduce: ReduceConfig,
    pub quantizer: QuantizerConfig,
    pub mac: MacConfig,
    pub recip: RecipConfig,
    pub mul: MulConfig,
}

/// Throughput and latency of a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Elements accepted per cycle.
    pub lanes: usize,
    /// Cycles from accepting an element to its result being valid.
    pub latency: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpConfig {
    pub kind: ExpKind,
    pub timing: Timing,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ExpKind {
    /// A 65,536-entry ROM holding the reference `RNE_bf16(e^x)`.
    Exact,
    /// `2^(x log2 e)`: x times a `const_bits`-fraction-bit log2(e) in fixed point with `frac_bits`
    /// fraction bits, the integer part as exponent, 2^fraction from a `2^table_bits`-entry table of
    /// `entry_bits`-fraction-bit values (optionally linearly interpolated), rounded to BF16.
    Pow2Lut {
        table_bits: u32,
        entry_bits: u32,
        frac_bits: u32,
        const_bits: u32,
        interpolate: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReduceConfig {
    pub kind: AccKind,
    pub timing: Timing,
}

/// An accumulator: how a stream of values is summed before the one final rounding to BF16.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AccKind {
    /// Exact sum, one rounding.
    Exact,
    /// Sequential FP32 additions (RNE each), then RNE to BF16.
    Fp32,
    /// Sequential BF16 additions (RNE each).
    Bf16,
    /// A two's-complement fixed-point register of `int_bits` integer bits (sign included) and
    /// `frac_bits` fraction bits; addends are truncated (toward -inf) onto its grid.
    Fixed {
        int_bits: u32,
        frac_bits: u32,
        overflow: Overflow,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    Saturate,
    Wrap,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizerConfig {
    /// Cycles from a block's last element to the block being valid.
    pub latency: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacConfig {
    /// Output columns computed in parallel.
    pub columns: usize,
    /// int8 products per column per cycle (1..=32, dividing 32): a block takes 32/block_lanes cycles.
    pub block_lanes: usize,
    /// Cycles from the last block's products to scaled_v being valid.
    pub latency: usize,
    /// The accumulator the block results (dot * 2^(Ea+Eb-12)) are added into.
    pub accumulator: AccKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipConfig {
    pub kind: RecipKind,
    pub latency: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RecipKind {
    /// 128-entry table of 1/1.m (16 fraction bits and a sticky bit) plus exponent logic.
    Exact,
    /// Newton-Raphson `y <- y (2 - d y)` from a `seed_bits`-indexed seed table, in fixed point
    /// with `frac_bits` fraction bits, then RNE to BF16.
    Newton {
        iterations: u32,
        seed_bits: u32,
        frac_bits: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MulConfig {
    pub rounding: RoundingMode,
    pub timing: Timing,
}

/// The first key of `given` (as a dotted path) that `known` lacks.
fn unknown_key(given: &serde_json::Value, known: &serde_json::Value, at: &str) -> Option<String> {
    let (serde_json::Value::Object(g), serde_json::Value::Object(k)) = (given, known) else {
        return None;
    };
    g.iter().find_map(|(key, v)| {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match k.get(key) {
            None => Some(path),
            Some(kv) => unknown_key(v, kv, &path),
        }
    })
}

impl HwConfig {
    /// Every unit exact, modest parallelism: the default, and the definition of the dumps.
    pub fn reference() -> HwConfig {
        HwConfig {
            name: "reference".into(),
            exp: ExpConfig {
                kind: ExpKind::Exact,
                timing: Timing {
                    lanes: 8,
                    latency: 2,
                },
            },
            reduce: ReduceConfig {
                kind: AccKind::Exact,
                timing: Timing {
                    lanes: 8,
                    latency: 2,
                },
            },
            quantizer: QuantizerConfig { latency: 2 },
            mac: MacConfig {
                columns: 32,
                block_lanes: 32,
                latency: 3,
                accumulator: AccKind::Exact,
            },
            recip: RecipConfig {
                kind: RecipKind::Exact,
                latency: 2,
            },
            mul: MulConfig {
                rounding: RoundingMode::NearestEven,
                timing: Timing {
                    lanes: 8,
                    latency: 2,
                },
            },
        }
    }

    /// A realistic narrow datapath: pow2 LUT exp, FP32 accumulators, Newton reciprocal.
    pub fn narrow() -> HwConfig {
        HwConfig {
            name: "narrow".into(),
            exp: ExpConfig {
                kind: ExpKind::Pow2Lut {
                    table_bits: 6,
                    entry_bits: 12,
                    frac_bits: 16,
                    const_bits: 16,
                    interpolate: true,
                },
                timing: Timing {
                    lanes: 4,
                    latency: 3,
                },
            },
            reduce: ReduceConfig {
                kind: AccKind::Fp32,
                timing: Timing {
                    lanes: 4,
                    latency: 4,
                },
            },
            quantizer: QuantizerConfig { latency: 2 },
            mac: MacConfig {
                columns: 16,
                block_lanes: 8,
                latency: 4,
                accumulator: AccKind::Fp32,
            },
            recip: RecipConfig {
                kind: RecipKind::Newton {
                    iterations: 2,
                    seed_bits: 4,
                    frac_bits: 16,
                },
                latency: 6,
            },
            mul: MulConfig {
                rounding: RoundingMode::NearestEven,
                timing: Timing {
                    lanes: 4,
                    latency: 2,
                },
            },
        }
    }

    pub const PROFILES: [&'static str; 2] = ["reference", "narrow"];

    pub fn profile(name: &str) -> Result<HwConfig, String> {
        match name {
            "reference" => Ok(Self::reference()),
            "narrow" => Ok(Self::narrow()),
            _ => Err(format!(
                "unknown profile '{name}' (expected one of: {})",
                Self::PROFILES.join(", ")
            )),
        }
    }

    /// Parse and validate a JSON description. Every key must be one the description has:
    /// serde ignores extra keys next to the `type` of a kind without parameters (`{"type":
    /// "exact", "table_bits": 3}`), so the text is also compared with the parsed description.
    pub fn from_json(text: &str) -> Result<HwConfig, String> {
        let c: HwConfig =
            serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()))?;
        let given: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()))?;
        let known = serde_json::to_value(&c).expect("config serializes");
        if let Some(path) = unknown_key(&given, &known, "") {
            return Err(format!("unknown field `{path}`"));
        }
        c.validate()?;
        Ok(c)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serializes") + "\n"
    }

    /// Reject widths and timings no hardware could have (or that overflow the model's registers).
    pub fn validate(&self) -> Result<(), String> {
        let timing = |unit: &str, t: &Timing| {
            if !(1..=1024).contains(&t.lanes) || t.latency > 1024 {
                return Err(format!(
                    "{unit}.timing: lanes must be 1..=1024 and latency 0..=1024, got {} and {}",
                    t.lanes, t.latency
                ));
            }
            Ok(())
        };
        timing("exp", &self.exp.timing)?;
        timing("reduce", &self.reduce.timing)?;
        timing("mul", &self.mul.timing)?;
        if let ExpKind::Pow2Lut {
            table_bits,
            entry_bits,
            frac_bits,
            const_bits,
            ..
        } = self.exp.kind
        {
            if !(1..=16).contains(&table_bits)
                || !(8..=30).contains(&entry_bits)
                || !(table_bits..=40).contains(&frac_bits)
                || !(8..=40).contains(&const_bits)
            {
                return Err(format!(
                    "exp pow2-lut: need 1 <= table_bits <= 16, 8 <= entry_bits <= 30, table_bits <= frac_bits <= 40, 8 <= const_bits <= 40 (got {table_bits}, {entry_bits}, {frac_bits}, {const_bits})"
                ));
            }
        }
        let acc = |unit: &str, k: &AccKind| {
            match *k {
            AccKind::Fixed {
                int_bits,
                frac_bits,
                ..
            } if !(2..=64).contains(&int_bits) || int_bits + frac_bits > 120 => {
                Err(format!(
                    "{unit}: fixed accumulator needs 2 <= int_bits <= 64 and int_bits + frac_bits <= 120 (got {int_bits}.{frac_bits})"
                ))
            }
            _ => Ok(()),
        }
        };
        acc("reduce", &self.reduce.kind)?;
        acc("mac.accumulator", &self.mac.accumulator)?;
        if !(1..=4096).contains(&self.mac.columns)
            || !(1..=32).contains(&self.mac.block_lanes)
            || 32 % self.mac.block_lanes != 0
            || self.mac.latency > 1024
        {
            return Err(format!(
                "mac: columns must be 1..=4096, block_lanes a divisor of 32, latency <= 1024 (got {}, {}, {})",
                self.mac.columns, self.mac.block_lanes, self.mac.latency
            ));
        }
        if let RecipKind::Newton {
            iterations,
            seed_bits,
            frac_bits,
        } = self.recip.kind
        {
            if iterations > 8 || !(1..=7).contains(&seed_bits) || !(8..=60).contains(&frac_bits) {
                return Err(format!(
                    "recip newton: need iterations <= 8, 1 <= seed_bits <= 7, 8 <= frac_bits <= 60 (got {iterations}, {seed_bits}, {frac_bits})"
                ));
            }
        }
        if self.quantizer.latency > 1024 || self.recip.latency > 1024 {
            return Err("quantizer and recip latency must be <= 1024".into());
        }
        Ok(())
    }
}
