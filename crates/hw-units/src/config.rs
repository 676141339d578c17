//! The hardware description: which implementation each unit uses, its widths, and its throughput
//! (lanes per cycle) and latency. Timing parameters never change numbers; unit kinds and widths do.
//! Loaded from JSON (`--config FILE`) or a built-in profile; unknown keys and impossible widths are
//! errors.

use crate::files;
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

/// The dotted path of the field a parse error is about. serde reports errors inside a tagged
/// kind (`{"type": "fixed", ...}`) at the kind itself, because it buffers the kind's fields
/// before choosing the variant; when the error quotes the offending number, the one key of the
/// kind holding that number is the field.
fn field_of(given: &serde_json::Value, path: &str, message: &str) -> String {
    let number = message
        .split_once("integer `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .and_then(|(n, _)| n.parse::<i128>().ok());
    let object = path
        .split('.')
        .try_fold(given, |v, key| v.get(key))
        .and_then(serde_json::Value::as_object);
    let (Some(number), Some(object)) = (number, object) else {
        return path.to_string();
    };
    // Several keys may hold the same number; each of them is out of range.
    let keys: Vec<String> = object
        .iter()
        .filter(|(_, v)| as_i128(v) == Some(number))
        .map(|(key, _)| format!("{path}.{key}"))
        .collect();
    if keys.is_empty() {
        path.to_string()
    } else {
        keys.join(" and ")
    }
}

fn as_i128(v: &serde_json::Value) -> Option<i128> {
    v.as_u64()
        .map(i128::from)
        .or_else(|| v.as_i64().map(i128::from))
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
        let given: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()))?;
        let de = &mut serde_json::Deserializer::from_str(text);
        let c: HwConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let inner = e.inner();
            let path = field_of(&given, &e.path().to_string(), &inner.to_string());
            format!("line {}: {path}: {inner}", inner.line())
        })?;
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
    /// Every bound is compared in u64, so no field value can wrap a sum past its check, and the
    /// error names the field by its dotted path (`reduce.kind.frac_bits`).
    pub fn validate(&self) -> Result<(), String> {
        for (unit, t) in [
            ("exp.timing", &self.exp.timing),
            ("reduce.timing", &self.reduce.timing),
            ("mul.timing", &self.mul.timing),
        ] {
            within(&format!("{unit}.lanes"), t.lanes as u64, 1, 1024)?;
            within(&format!("{unit}.latency"), t.latency as u64, 0, 1024)?;
        }
        if let ExpKind::Pow2Lut {
            table_bits,
            entry_bits,
            frac_bits,
            const_bits,
            ..
        } = self.exp.kind
        {
            within("exp.kind.table_bits", table_bits.into(), 1, 16)?;
            within("exp.kind.entry_bits", entry_bits.into(), 8, 30)?;
            within(
                "exp.kind.frac_bits",
                frac_bits.into(),
                table_bits.into(),
                40,
            )?;
            within("exp.kind.const_bits", const_bits.into(), 8, 40)?;
        }
        validate_acc("reduce.kind", &self.reduce.kind)?;
        validate_acc("mac.accumulator", &self.mac.accumulator)?;
        within("mac.columns", self.mac.columns as u64, 1, 4096)?;
        within("mac.block_lanes", self.mac.block_lanes as u64, 1, 32)?;
        if 32 % self.mac.block_lanes != 0 {
            return Err(format!(
                "mac.block_lanes must divide 32 (1, 2, 4, 8, 16 or 32), got {}",
                self.mac.block_lanes
            ));
        }
        within("mac.latency", self.mac.latency as u64, 0, 1024)?;
        if let RecipKind::Newton {
            iterations,
            seed_bits,
            frac_bits,
        } = self.recip.kind
        {
            within("recip.kind.iterations", iterations.into(), 0, 8)?;
            within("recip.kind.seed_bits", seed_bits.into(), 1, 7)?;
            within("recip.kind.frac_bits", frac_bits.into(), 8, 60)?;
        }
        within("quantizer.latency", self.quantizer.latency as u64, 0, 1024)?;
        within("recip.latency", self.recip.latency as u64, 0, 1024)
    }

    /// Read, parse and validate a JSON description from a file: only a regular file of at most
    /// [`files::TEXT_LIMIT`] bytes is read (a device, FIFO or directory is refused from its
    /// metadata). Errors start with the path.
    pub fn from_file(path: &std::path::Path) -> Result<HwConfig, String> {
        let text = files::read_text(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// `Err` naming `field` unless `lo <= value <= hi`.
fn within(field: &str, value: u64, lo: u64, hi: u64) -> Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!("{field} must be {lo}..={hi}, got {value}"))
    }
}

/// A fixed-point accumulator's register must fit the model's 128-bit arithmetic with headroom:
/// `int_bits + frac_bits <= 120`, checked as a bound on `frac_bits` once `int_bits` is known.
fn validate_acc(at: &str, k: &AccKind) -> Result<(), String> {
    if let AccKind::Fixed {
        int_bits,
        frac_bits,
        ..
    } = *k
    {
        within(&format!("{at}.int_bits"), int_bits.into(), 2, 64)?;
        within(
            &format!("{at}.frac_bits (int_bits + frac_bits <= 120)"),
            frac_bits.into(),
            0,
            120 - u64::from(int_bits),
        )?;
    }
    Ok(())
}
