//! What a cheaper hardware description costs: per stage, how many elements differ from the
//! reference profile, the largest ULP distance and the largest relative error.

use crate::softmax::Stages;
use crate::tensor::DumpRef;
use hw_types::{Bf16, Format};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageCost {
    pub stage: &'static str,
    pub differing: usize,
    pub total: usize,
    /// Largest ULP distance between finite values (BF16 stages).
    pub max_ulp: Option<u64>,
    /// Largest |actual - reference| / |reference| over finite, nonzero references.
    pub max_rel_error: Option<f64>,
    /// Elements where exactly one side is NaN or infinite.
    pub special_mismatches: usize,
}

fn ordered(x: Bf16) -> i64 {
    let mag = (x.0 & 0x7fff) as i64;
    if x.0 & 0x8000 != 0 {
        -mag
    } else {
        mag
    }
}

pub fn compare_stages(reference: &Stages, actual: &Stages) -> Vec<StageCost> {
    reference
        .dumps()
        .iter()
        .zip(actual.dumps().iter())
        .map(|((name, r), (_, a))| {
            let mut c = StageCost {
                stage: name,
                differing: 0,
                total: r.lines(),
                max_ulp: None,
                max_rel_error: None,
                special_mismatches: 0,
            };
            match (r, a) {
                (DumpRef::Bf16(r), DumpRef::Bf16(a)) => {
                    for (&x, &y) in r.data.iter().zip(&a.data) {
                        if x == y {
                            continue;
                        }
                        c.differing += 1;
                        if !(x.is_finite() && y.is_finite()) {
                            c.special_mismatches += 1;
                            continue;
                        }
                        let u = ordered(x).abs_diff(ordered(y));
                        c.max_ulp = Some(c.max_ulp.map_or(u, |m| m.max(u)));
                        let (xf, yf) = (x.to_f64(), y.to_f64());
                        if xf != 0.0 {
                            let e = ((yf - xf) / xf).abs();
                            c.max_rel_error = Some(c.max_rel_error.map_or(e, |m: f64| m.max(e)));
                        }
                    }
                }
                (DumpRef::MxInt8(r), DumpRef::MxInt8(a)) => {
                    c.differing = r
                        .blocks
                        .iter()
                        .zip(&a.blocks)
                        .filter(|(x, y)| x != y)
                        .count();
                }
                _ => {}
            }
            c
        })
        .collect()
}

pub fn render(costs: &[StageCost], profile: &str) -> String {
    let mut s = format!("compare  profile {profile} against reference\n");
    s += &format!(
        "{:<24} {:>10} {:>10} {:>8} {:>14} {:>8}\n",
        "stage", "differing", "total", "max ulp", "max rel err", "nan/inf"
    );
    for c in costs {
        s += &format!(
            "{:<24} {:>10} {:>10} {:>8} {:>14} {:>8}\n",
            c.stage,
            c.differing,
            c.total,
            c.max_ulp.map_or("-".into(), |u| u.to_string()),
            c.max_rel_error.map_or("-".into(), |e| format!("{e:.3e}")),
            c.special_mismatches
        );
    }
    s
}
