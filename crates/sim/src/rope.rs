//! The RoPE constant tables (docs/numerics.md §7): FP32 as HuggingFace computes them and BF16 as
//! computed in BF16, every value correctly rounded (transcendentals via hw-types'
//! proven-rounding evaluation).

use crate::tensor::{DumpRef, Tensor};
use hw_types::arith::{convert, mul, recip};
use hw_types::transcendental::{cos, sin, Transcendental};
use hw_types::{Bf16, FlagCounts, Format, Fp32, RoundingMode, Status, StatusAnd};
use rayon::prelude::*;
use serde::Serialize;

const RNE: RoundingMode = RoundingMode::NearestEven;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeParams {
    pub base: f64,
    pub head_dim: usize,
    pub max_pos: usize,
}

impl Default for RopeParams {
    fn default() -> Self {
        RopeParams {
            base: 10000.0,
            head_dim: 128,
            max_pos: 4096,
        }
    }
}

impl RopeParams {
    /// The exponent `2i/d` must be exact, so `d` is a power of two; positions must be exact in FP32.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.head_dim >= 2 && self.head_dim.is_power_of_two() && self.head_dim <= 1 << 16) {
            return Err(format!(
                "head_dim must be a power of two from 2 to 65536 (so 2i/head_dim is exact), got {}",
                self.head_dim
            ));
        }
        if !(self.base.is_finite() && self.base > 1.0) {
            return Err(format!(
                "base must be a finite number above 1, got {}",
                self.base
            ));
        }
        if !(1..=1 << 24).contains(&self.max_pos) {
            return Err(format!(
                "max positions must be 1..=16777216 (exact in FP32), got {}",
                self.max_pos
            ));
        }
        Ok(())
    }
    /// The manifest of the tables' folder `rope` (files are added as they are written).
    pub fn manifest(&self) -> crate::manifest::Manifest {
        let mut m = crate::manifest::Manifest::new("rope", "rope", "reference");
        m.params.insert("base".into(), self.base.into());
        m.params.insert("head_dim".into(), self.head_dim.into());
        m.params.insert("max_pos".into(), self.max_pos.into());
        m
    }

    pub fn shape(&self) -> Vec<usize> {
        vec![1, self.max_pos, self.head_dim / 2]
    }
}

pub struct RopeTables {
    pub freq_bf16: Tensor<Bf16>,
    pub cos_bf16: Tensor<Bf16>,
    pub sin_bf16: Tensor<Bf16>,
    pub freq_fp32: Tensor<Fp32>,
    pub cos_fp32: Tensor<Fp32>,
    pub sin_fp32: Tensor<Fp32>,
    /// Flags of every element's final rounding, per table in [`RopeTables::dumps`] order.
    pub flags: [Vec<Status>; 6],
}

/// One (position, index) of all six tables: freq, cos, sin.
struct Cell {
    fp32: [StatusAnd<Fp32>; 3],
    bf16: [StatusAnd<Bf16>; 3],
}

/// `theta_i = RN32(1 / RN32(base ^ (2i/d)))`.
pub fn theta_fp32(p: &RopeParams) -> Vec<Fp32> {
    (0..p.head_dim / 2)
        .map(|i| {
            let pow = if i == 0 {
                Fp32::from_f32(1.0)
            } else {
                let x = 2.0 * i as f64 / p.head_dim as f64; // exact: d is a power of two
                Transcendental::Pow { base: p.base }
                    .round::<Fp32>(x, RNE)
                    .value
            };
            recip::<Fp32, Fp32>(pow, RNE).value
        })
        .collect()
}

impl RopeTables {
    pub fn compute(p: &RopeParams) -> RopeTables {
        let half = p.head_dim / 2;
        let theta = theta_fp32(p);
        let theta_b: Vec<Bf16> = theta.iter().map(|&t| convert(t, RNE).value).collect();
        let n = p.max_pos * half;
        let cell = |idx: usize| {
            let (m, i) = (idx / half, idx % half);
            let m32 = Fp32::from_f32(m as f32); // exact: m < 2^24
            let f32v = mul::<Fp32, Fp32, Fp32>(m32, theta[i], RNE);
            let m_b: Bf16 = convert(m32, RNE).value;
            let fb = mul::<Bf16, Bf16, Bf16>(m_b, theta_b[i], RNE);
            Cell {
                fp32: [
                    f32v,
                    cos::<Fp32, Fp32>(f32v.value, RNE),
                    sin::<Fp32, Fp32>(f32v.value, RNE),
                ],
                bf16: [
                    fb,
                    cos::<Bf16, Bf16>(fb.value, RNE),
                    sin::<Bf16, Bf16>(fb.value, RNE),
                ],
            }
        };
        let cells: Vec<Cell> = (0..n).into_par_iter().map(cell).collect();
        let t32 =
            |j: usize| Tensor::new(p.shape(), cells.iter().map(|c| c.fp32[j].value).collect());
        let t16 =
            |j: usize| Tensor::new(p.shape(), cells.iter().map(|c| c.bf16[j].value).collect());
        let f32s = |j: usize| cells.iter().map(|c| c.fp32[j].status).collect();
        let f16s = |j: usize| cells.iter().map(|c| c.bf16[j].status).collect();
        RopeTables {
            freq_fp32: t32(0),
            cos_fp32: t32(1),
            sin_fp32: t32(2),
            freq_bf16: t16(0),
            cos_bf16: t16(1),
            sin_bf16: t16(2),
            flags: [f16s(0), f16s(1), f16s(2), f32s(0), f32s(1), f32s(2)],
        }
    }

    /// Per table (dump order), how many elements raised each flag.
    pub fn flag_counts(&self) -> Vec<(&'static str, FlagCounts)> {
        self.dumps()
            .iter()
            .zip(&self.flags)
            .map(|((name, _), f)| (*name, FlagCounts::of(f.iter().copied())))
            .collect()
    }

    /// The six dumps with their file names.
    pub fn dumps(&self) -> [(&'static str, DumpRef<'_>); 6] {
        [
            ("rope.freq_bf16", DumpRef::Bf16(&self.freq_bf16)),
            ("rope.cos_bf16", DumpRef::Bf16(&self.cos_bf16)),
            ("rope.sin_bf16", DumpRef::Bf16(&self.sin_bf16)),
            ("rope.freq_fp32", DumpRef::Fp32(&self.freq_fp32)),
            ("rope.cos_fp32", DumpRef::Fp32(&self.cos_fp32)),
            ("rope.sin_fp32", DumpRef::Fp32(&self.sin_fp32)),
        ]
    }

    /// How far the BF16 tables are from the FP32 ones.
    pub fn report(&self, p: &RopeParams) -> RopeReport {
        let err = |name: &str, b: &Tensor<Bf16>, f: &Tensor<Fp32>| {
            let (mut max, mut sum, mut at) = (0f64, 0f64, 0usize);
            for (i, (x, y)) in b.data.iter().zip(&f.data).enumerate() {
                let e = (x.to_f64() - y.to_f64()).abs();
                sum += e;
                if e > max {
                    max = e;
                    at = i;
                }
            }
            let half = p.head_dim / 2;
            TableError {
                table: name.to_string(),
                max_abs_error: max,
                mean_abs_error: sum / b.data.len() as f64,
                worst_position: at / half,
                worst_index: at % half,
            }
        };
        let unrepresentable: Vec<usize> = (0..p.max_pos)
            .filter(|&m| {
                let b: Bf16 = convert(Fp32::from_f32(m as f32), RNE).value;
                b.to_f64() != m as f64
            })
            .collect();
        RopeReport {
            base: p.base,
            head_dim: p.head_dim,
            max_pos: p.max_pos,
            tables: vec![
                err("freq", &self.freq_bf16, &self.freq_fp32),
                err("cos", &self.cos_bf16, &self.cos_fp32),
                err("sin", &self.sin_bf16, &self.sin_fp32),
            ],
            first_unrepresentable_position: unrepresentable.first().copied(),
            unrepresentable_positions: unrepresentable.len(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TableError {
    pub table: String,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    pub worst_position: usize,
    pub worst_index: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct RopeReport {
    pub base: f64,
    pub head_dim: usize,
    pub max_pos: usize,
    pub tables: Vec<TableError>,
    /// Positions m that BF16 cannot hold exactly (`RNE_bf16(m) != m`): the first and how many.
    pub first_unrepresentable_position: Option<usize>,
    pub unrepresentable_positions: usize,
}

impl RopeReport {
    pub fn table(&self) -> String {
        let mut s = format!(
            "RoPE BF16 vs FP32 (base {}, head_dim {}, {} positions)\n",
            self.base, self.head_dim, self.max_pos
        );
        s += &format!(
            "{:<6} {:>14} {:>14} {:>10} {:>6}\n",
            "table", "max |err|", "mean |err|", "worst m", "i"
        );
        for t in &self.tables {
            s += &format!(
                "{:<6} {:>14.6e} {:>14.6e} {:>10} {:>6}\n",
                t.table, t.max_abs_error, t.mean_abs_error, t.worst_position, t.worst_index
            );
        }
        s += &match self.first_unrepresentable_position {
            Some(m) => format!(
                "positions BF16 cannot represent: {} of {} (the first is m = {m}; BF16 holds integers exactly only up to 256)\n",
                self.unrepresentable_positions, self.max_pos
            ),
            None => "every position is exact in BF16\n".to_string(),
        };
        s
    }
}
