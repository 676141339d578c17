//! `--compare-formats`: softmax_v's outputs under several (exp format, v format) pairs against
//! the unquantized result, the same qk_T and the generator's real v (before any quantization)
//! through exact softmax and matmul in float64 (docs/cli.md, "Comparing block formats").

use crate::gen::Stream;
use crate::softmax::{self, Formats, Inputs, Params, Stages};
use crate::tensor::Tensor;
use hw_types::{Bf16, Format};
use hw_units::units::Units;
use rayon::prelude::*;
use serde::Serialize;

/// Parse `F1/G1,F2/G2,...` (each item an exp format and a v format); `rule` is both quantizers'.
pub fn parse_pairs(s: &str, rule: hw_types::ScaleRule) -> Result<Vec<Formats>, String> {
    let format = crate::mx_op::parse_format;
    s.split(',')
        .map(|item| {
            let (e, v) = item.split_once('/').ok_or_else(|| {
                format!("'{item}': expected EXP_FORMAT/V_FORMAT, e.g. mxfp8-e4m3/mxfp4-e2m1")
            })?;
            Ok(Formats {
                exp: format(e)?,
                v: format(v)?,
                rule,
            })
        })
        .collect()
}

/// The unquantized `scaled_v` and `out`, `[heads, head_dim]` row-major.
pub struct Unquantized {
    pub scaled_v: Vec<f64>,
    pub out: Vec<f64>,
}

/// Exact softmax and matmul in float64 of `qk` and the real v that case `seed` draws (stream 1
/// on `[-4, 4)`, docs/numerics.md §5): `scaled_v = sum_j exp(qk_j) v_j`, `out = scaled_v / sum_j
/// exp(qk_j)`.
pub fn unquantized(qk: &Tensor<Bf16>, seed: u64, head_dim: usize) -> Unquantized {
    let (h, kv, d) = (qk.shape[1], qk.shape[3], head_dim);
    let v = Stream::new(seed, 1);
    let per_head: Vec<(Vec<f64>, f64)> = (0..h)
        .into_par_iter()
        .map(|hh| {
            let mut scaled = vec![0f64; d];
            let mut sum = 0f64;
            for j in 0..kv {
                let e = qk.data[hh * kv + j].to_f64().exp();
                sum += e;
                let row = ((hh * kv + j) * d) as u64;
                for (c, s) in scaled.iter_mut().enumerate() {
                    let x = v.real(row + c as u64, softmax::V_RANGE_LOG2);
                    *s += e * f64::from(f32::from_bits(x.0));
                }
            }
            (scaled, sum)
        })
        .collect();
    let scaled_v: Vec<f64> = per_head.iter().flat_map(|(s, _)| s.clone()).collect();
    let out = per_head
        .iter()
        .flat_map(|(s, sum)| s.iter().map(move |x| x / sum))
        .collect();
    Unquantized { scaled_v, out }
}

/// How far one stage's BF16 results are from the unquantized values.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorStats {
    pub stage: &'static str,
    /// Largest and mean `|x - ref| / |ref|` over outputs whose reference is not zero.
    pub max_rel: f64,
    pub mean_rel: f64,
    /// `sqrt(mean((x - ref)^2))`.
    pub rms: f64,
    /// `10 log10(sum ref^2 / sum (x - ref)^2)`; infinite when every output is exact.
    pub sqnr_db: f64,
    /// Share of outputs more than 1, 2 and 8 BF16 ulps (of the reference's binade) away.
    pub over_1_ulp: f64,
    pub over_2_ulp: f64,
    pub over_8_ulp: f64,
}

/// The BF16 ulp in the binade of `x` (the smallest subnormal's below the normals).
fn bf16_ulp(x: f64) -> f64 {
    let e = if x == 0.0 {
        -126
    } else {
        (x.abs().log2().floor() as i32).max(-126)
    };
    2f64.powi(e - 7)
}

/// The error statistics of `got` against `want`, element by element.
pub fn error_stats(stage: &'static str, got: &[Bf16], want: &[f64]) -> ErrorStats {
    let n = got.len() as f64;
    let (mut signal, mut noise, mut max_rel, mut sum_rel, mut rel_n) = (0.0, 0.0, 0f64, 0.0, 0);
    let mut over = [0usize; 3];
    for (g, &w) in got.iter().zip(want) {
        let err = (g.to_f64() - w).abs();
        signal += w * w;
        noise += err * err;
        if w != 0.0 {
            let rel = err / w.abs();
            max_rel = max_rel.max(rel);
            sum_rel += rel;
            rel_n += 1;
        }
        // A NaN result is infinitely far.
        let ulps = if err.is_nan() {
            f64::INFINITY
        } else {
            err / bf16_ulp(w)
        };
        for (o, limit) in over.iter_mut().zip([1.0, 2.0, 8.0]) {
            *o += usize::from(ulps > limit);
        }
    }
    ErrorStats {
        stage,
        max_rel,
        mean_rel: sum_rel / rel_n.max(1) as f64,
        rms: (noise / n).sqrt(),
        sqnr_db: 10.0 * (signal / noise).log10(),
        over_1_ulp: over[0] as f64 / n,
        over_2_ulp: over[1] as f64 / n,
        over_8_ulp: over[2] as f64 / n,
    }
}

/// One format pair's `out` and `scaled_v` statistics.
#[derive(Clone, Debug, Serialize)]
pub struct PairReport {
    pub formats: String,
    pub scale_rule: &'static str,
    pub stages: Vec<ErrorStats>,
}

/// Run generated case (`kv`, `seed`, uniform inputs) once per pair with `units`, and compare
/// each run's `out` and `scaled_v` with the unquantized result.
pub fn compare(
    kv: usize,
    seed: u64,
    p: &Params,
    pairs: &[Formats],
    units: &Units,
) -> Vec<PairReport> {
    let qk = Tensor::new(
        vec![1, p.heads, 1, kv],
        crate::gen::qk_t(seed, p.heads, kv, crate::gen::Dist::Uniform),
    );
    let exact = unquantized(&qk, seed, p.head_dim);
    pairs
        .iter()
        .map(|f| {
            let pp = Params { formats: *f, ..*p };
            let st: Stages = softmax::run_with(Inputs::generate(kv, seed, &pp), &pp, units);
            PairReport {
                formats: f.pair_name(),
                scale_rule: f.rule.name(),
                stages: vec![
                    error_stats("out", &st.out.data, &exact.out),
                    error_stats("scaled_v", &st.scaled_v.data, &exact.scaled_v),
                ],
            }
        })
        .collect()
}

/// The reports as a table for people.
pub fn render(reports: &[PairReport]) -> String {
    let mut s = format!(
        "{:<28} {:<9} {:>10} {:>10} {:>10} {:>8} {:>7} {:>7} {:>7}\n",
        "exp/v formats",
        "stage",
        "max rel",
        "mean rel",
        "rms",
        "SQNR dB",
        ">1ulp",
        ">2ulp",
        ">8ulp"
    );
    for r in reports {
        for e in &r.stages {
            let pct = |x: f64| format!("{:.1}%", 100.0 * x);
            s += &format!(
                "{:<28} {:<9} {:>10.3e} {:>10.3e} {:>10.3e} {:>8.2} {:>7} {:>7} {:>7}\n",
                r.formats,
                e.stage,
                e.max_rel,
                e.mean_rel,
                e.rms,
                e.sqnr_db,
                pct(e.over_1_ulp),
                pct(e.over_2_ulp),
                pct(e.over_8_ulp)
            );
        }
    }
    s
}

/// One line of the plot: a format pair's SQNR of `out` in dB at each kv-size.
pub struct Series {
    pub formats: String,
    pub points: Vec<(usize, f64)>,
}

/// Draw SQNR (dB) of `out` against kv-size, one line per format pair, as an SVG at `path`.
pub fn plot_svg(path: &std::path::Path, series: &[Series]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let kv_max = finite().map(|p| p.0).max().unwrap_or(1).max(2) as f64;
    let kv_min = finite().map(|p| p.0).min().unwrap_or(1) as f64;
    let (lo, hi) = finite().fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
    let (lo, hi) = if lo <= hi {
        (lo - 2.0, hi + 2.0)
    } else {
        (0.0, 1.0)
    };
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "softmax_v out: SQNR against the unquantized result",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((kv_min..kv_max).log_scale(), lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("kv-size")
        .y_desc("SQNR of out (dB)")
        .draw()
        .map_err(|e| err(&e))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = s.points.iter().filter(|p| p.1.is_finite());
        chart
            .draw_series(LineSeries::new(
                points.map(|&(kv, db)| (kv as f64, db)),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(s.formats.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// One case of a sweep and its pairs' statistics.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    pub case: String,
    pub kv_size: usize,
    pub seed: u64,
    pub pairs: Vec<PairReport>,
}

/// A pair's `out` over every case of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SummaryRow {
    pub formats: String,
    pub cases: usize,
    pub mean_sqnr_db: f64,
    pub min_sqnr_db: f64,
    pub mean_max_rel: f64,
    pub mean_over_1_ulp: f64,
    pub mean_over_8_ulp: f64,
}

/// Each pair's `out` statistics averaged over the cases (and its worst SQNR).
pub fn summary(cases: &[CaseReport]) -> Vec<SummaryRow> {
    let Some(first) = cases.first() else {
        return Vec::new();
    };
    (0..first.pairs.len())
        .map(|i| {
            let outs: Vec<&ErrorStats> = cases.iter().map(|c| &c.pairs[i].stages[0]).collect();
            let n = outs.len() as f64;
            let mean = |f: fn(&ErrorStats) -> f64| outs.iter().map(|e| f(e)).sum::<f64>() / n;
            SummaryRow {
                formats: first.pairs[i].formats.clone(),
                cases: outs.len(),
                mean_sqnr_db: mean(|e| e.sqnr_db),
                min_sqnr_db: outs.iter().map(|e| e.sqnr_db).fold(f64::INFINITY, f64::min),
                mean_max_rel: mean(|e| e.max_rel),
                mean_over_1_ulp: mean(|e| e.over_1_ulp),
                mean_over_8_ulp: mean(|e| e.over_8_ulp),
            }
        })
        .collect()
}

/// The summary as a table for people.
pub fn render_summary(rows: &[SummaryRow]) -> String {
    let mut s = format!(
        "{:<28} {:>6} {:>13} {:>12} {:>12} {:>7} {:>7}\n",
        "exp/v formats", "cases", "mean SQNR dB", "min SQNR dB", "mean max rel", ">1ulp", ">8ulp"
    );
    for r in rows {
        s += &format!(
            "{:<28} {:>6} {:>13.2} {:>12.2} {:>12.3e} {:>6.1}% {:>6.1}%\n",
            r.formats,
            r.cases,
            r.mean_sqnr_db,
            r.min_sqnr_db,
            r.mean_max_rel,
            100.0 * r.mean_over_1_ulp,
            100.0 * r.mean_over_8_ulp
        );
    }
    s
}

/// The plot's lines: per pair, `out`'s SQNR at each kv-size, averaged over the seeds.
pub fn series(cases: &[CaseReport]) -> Vec<Series> {
    let Some(first) = cases.first() else {
        return Vec::new();
    };
    let mut kvs: Vec<usize> = cases.iter().map(|c| c.kv_size).collect();
    kvs.sort_unstable();
    kvs.dedup();
    (0..first.pairs.len())
        .map(|i| Series {
            formats: first.pairs[i].formats.clone(),
            points: kvs
                .iter()
                .map(|&kv| {
                    let at: Vec<f64> = cases
                        .iter()
                        .filter(|c| c.kv_size == kv)
                        .map(|c| c.pairs[i].stages[0].sqnr_db)
                        .collect();
                    (kv, at.iter().sum::<f64>() / at.len() as f64)
                })
                .collect(),
        })
        .collect()
}
