//! Comparing two sets of dumps stage by stage: the first divergent stage and element, decoded,
//! with stages whose inputs already differed marked as downstream (`sim diff`, `sim check`).

use crate::dump::{parse_words, DumpError, Words};
use crate::layout::{FileSpec, Layout};
use crate::tensor::Dtype;
use hw_types::{Bf16, Format, Fp32, MxInt8Block};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where one side's files come from: a folder, or dumps computed in memory (`sim check`).
pub enum Source<'a> {
    Dir(&'a Path),
    Mem(&'a HashMap<String, Vec<u8>>),
}

impl Source<'_> {
    fn path(&self, name: &str) -> PathBuf {
        match self {
            Source::Dir(d) => d.join(name),
            Source::Mem(_) => PathBuf::from(format!("<model>/{name}")),
        }
    }
    /// `Ok(None)` when the file does not exist.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, DumpError> {
        match self {
            Source::Dir(d) => {
                let p = d.join(name);
                match std::fs::symlink_metadata(&p) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    _ => crate::dump::read_file(&p).map(Some),
                }
            }
            Source::Mem(m) => Ok(m.get(name).cloned()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Equal,
    /// Differs while every input stage is equal: a cause.
    Differs,
    /// Differs, but a stage it is computed from already differed: an echo.
    Downstream,
    /// Present on the expected side only.
    Missing,
}

/// One differing line, decoded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    pub file: String,
    pub line: usize,
    /// Index of the word in the file (0-based, comments and blank lines not counted).
    pub index: usize,
    /// Axis name to index, in axis order (the line grid: block index for MXINT8).
    pub coords: indexmap::IndexMap<String, usize>,
    pub expected: String,
    pub actual: String,
    pub expected_value: String,
    pub actual_value: String,
    /// Distance in units in the last place (floats; `None` when a side is NaN or for MXINT8).
    pub ulp: Option<u64>,
    /// MXINT8: which lanes (elements) differ; `scale_differs` for the shared exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_differs: Option<bool>,
    /// The IEEE flags raised when the expected value was computed (recomputed from the
    /// expected folder's inputs; absent for inputs or when the recomputation differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_flags: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageReport {
    pub file: String,
    pub dtype: String,
    pub status: Status,
    pub differing: usize,
    pub total: usize,
    pub max_ulp: Option<u64>,
    /// For BF16/FP32 files with differences: how many elements differ by 1 ulp, 2, 3-15,
    /// 16-255, 256 or more, and with a NaN on one side only (empty buckets left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ulp_counts: Option<indexmap::IndexMap<String, usize>>,
    pub mismatches: Vec<Mismatch>,
    /// How an absent file was still verified (`sim check`: by its manifest hash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub op: String,
    pub equal: bool,
    pub first_divergence: Option<Mismatch>,
    pub stages: Vec<StageReport>,
}

/// Compare every file of `layout`, in pipeline order. Errors (exit code 2) for an unreadable or
/// malformed file, or one whose line count does not match the layout.
pub fn compare(
    layout: &Layout,
    expected: &Source,
    actual: &Source,
    max_errors: usize,
) -> Result<Report, DumpError> {
    let mut stages: Vec<StageReport> = Vec::with_capacity(layout.files.len());
    let mut first: Option<Mismatch> = None;
    for spec in &layout.files {
        let read = |src: &Source| -> Result<Option<Words>, DumpError> {
            let path = src.path(&spec.name);
            src.read(&spec.name)?
                .map(|t| parse_words(&path, &t, spec.dtype, Some(spec.lines())))
                .transpose()
        };
        let Some(exp) = read(expected)? else {
            return Err(DumpError::new(
                &expected.path(&spec.name),
                0,
                "missing: the expected side must hold every file of the case",
            ));
        };
        let Some(act) = read(actual)? else {
            stages.push(StageReport {
                file: spec.name.clone(),
                dtype: spec.dtype.name().into(),
                status: Status::Missing,
                differing: spec.lines(),
                total: spec.lines(),
                max_ulp: None,
                ulp_counts: None,
                mismatches: vec![],
                note: None,
            });
            continue;
        };
        let upstream_bad = spec.deps.iter().any(|&d| stages[d].status != Status::Equal);
        let mut st = StageReport {
            file: spec.name.clone(),
            dtype: spec.dtype.name().into(),
            status: Status::Equal,
            differing: 0,
            total: exp.len(),
            max_ulp: None,
            ulp_counts: None,
            mismatches: vec![],
            note: None,
        };
        let mut buckets = [0usize; ULP_BUCKETS.len()];
        for i in 0..exp.len() {
            let (we, wa) = (exp.word(i), act.word(i));
            if we == wa {
                continue;
            }
            st.differing += 1;
            let ulp = ulp_distance(spec.dtype, we, wa);
            if let Some(u) = ulp {
                st.max_ulp = Some(st.max_ulp.map_or(u, |m: u64| m.max(u)));
            }
            if spec.dtype != Dtype::MxInt8 {
                buckets[ulp_bucket(ulp)] += 1;
            }
            if st.mismatches.len() < max_errors || (first.is_none() && !upstream_bad) {
                let m = describe(spec, i, act.line(i), we, wa, ulp);
                if first.is_none() && !upstream_bad {
                    first = Some(m.clone());
                }
                if st.mismatches.len() < max_errors {
                    st.mismatches.push(m);
                }
            }
        }
        if st.differing > 0 && spec.dtype != Dtype::MxInt8 {
            st.ulp_counts = Some(
                ULP_BUCKETS
                    .iter()
                    .zip(buckets)
                    .filter(|(_, n)| *n > 0)
                    .map(|(name, n)| (name.to_string(), n))
                    .collect(),
            );
        }
        if st.differing > 0 {
            st.status = if upstream_bad {
                Status::Downstream
            } else {
                Status::Differs
            };
        }
        stages.push(st);
    }
    let equal = stages.iter().all(|s| s.status == Status::Equal);
    if first.is_none() {
        // Every difference is downstream of a missing file: point at the first differing stage.
        first = stages.iter().find_map(|s| s.mismatches.first().cloned());
    }
    Ok(Report {
        op: layout.op.clone(),
        equal,
        first_divergence: first,
        stages,
    })
}

/// Names of the ULP-distance buckets of [`StageReport::ulp_counts`].
const ULP_BUCKETS: [&str; 6] = ["1", "2", "3-15", "16-255", ">=256", "nan"];

fn ulp_bucket(ulp: Option<u64>) -> usize {
    match ulp {
        Some(1) => 0,
        Some(2) => 1,
        Some(3..=15) => 2,
        Some(16..=255) => 3,
        Some(_) => 4,
        None => 5,
    }
}

fn hex(w: &[u8]) -> String {
    crate::dump::hex_digest(w)
}

fn float_bits(dtype: Dtype, w: &[u8]) -> u32 {
    match dtype {
        Dtype::Bf16 => u16::from_be_bytes([w[0], w[1]]) as u32,
        _ => u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
    }
}

/// Distance in representable values between two floats of the same format; None with a NaN.
fn ulp_distance(dtype: Dtype, a: &[u8], b: &[u8]) -> Option<u64> {
    let (x, y) = (float_bits(dtype, a), float_bits(dtype, b));
    let (nan, sign) = match dtype {
        Dtype::Bf16 => (Bf16(x as u16).is_nan() || Bf16(y as u16).is_nan(), 0x8000),
        Dtype::Fp32 => (Fp32(x).is_nan() || Fp32(y).is_nan(), 0x8000_0000),
        Dtype::MxInt8 | Dtype::Mx(_) => return None,
    };
    (!nan).then(|| ordered(x, sign).abs_diff(ordered(y, sign)))
}

/// Map a sign-magnitude float pattern to an integer that orders like the value (-0 = +0).
fn ordered(bits: u32, sign: u32) -> i64 {
    let mag = (bits & (sign - 1)) as i64;
    if bits & sign != 0 {
        -mag
    } else {
        mag
    }
}

fn value_string(dtype: Dtype, w: &[u8]) -> String {
    let v = match dtype {
        Dtype::Bf16 => Bf16(float_bits(dtype, w) as u16).to_f64(),
        Dtype::Fp32 => Fp32(float_bits(dtype, w)).to_f64(),
        Dtype::MxInt8 | Dtype::Mx(_) => return String::new(),
    };
    if v.is_nan() {
        "NaN".into()
    } else if v == 0.0 || v.is_infinite() || (1e-4..1e7).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

fn block(w: &[u8]) -> MxInt8Block {
    MxInt8Block::from_word(w.try_into().expect("33-byte word"))
}

fn block_string(b: &MxInt8Block, lanes: &[usize]) -> String {
    let scale = match b.scale.exponent() {
        Some(e) => format!("scale 0x{:02x} (2^{e})", b.scale.0),
        None => "scale 0xff (NaN)".into(),
    };
    let shown: Vec<String> = lanes
        .iter()
        .take(4)
        .map(|&i| format!("q[{i}]={}", b.elems[i]))
        .collect();
    if shown.is_empty() {
        scale
    } else {
        format!("{scale}, {}", shown.join(" "))
    }
}

fn describe(
    spec: &FileSpec,
    i: usize,
    line: usize,
    we: &[u8],
    wa: &[u8],
    ulp: Option<u64>,
) -> Mismatch {
    let coords = spec
        .coords(i)
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let mut m = Mismatch {
        file: spec.name.clone(),
        line,
        index: i,
        coords,
        expected: hex(we),
        actual: hex(wa),
        expected_value: value_string(spec.dtype, we),
        actual_value: value_string(spec.dtype, wa),
        ulp,
        lanes: None,
        scale_differs: None,
        expected_flags: None,
    };
    if spec.dtype == Dtype::MxInt8 {
        let (be, ba) = (block(we), block(wa));
        let lanes: Vec<usize> = (0..32).filter(|&l| be.elems[l] != ba.elems[l]).collect();
        m.expected_value = block_string(&be, &lanes);
        m.actual_value = block_string(&ba, &lanes);
        m.scale_differs = Some(be.scale != ba.scale);
        m.lanes = Some(lanes);
    }
    m
}

impl Mismatch {
    /// `line 12: head 0, kv 11` (with `lane 3` for MXINT8).
    pub fn location(&self) -> String {
        let mut parts: Vec<String> = self
            .coords
            .iter()
            .filter(|(n, _)| !matches!(n.as_str(), "batch" | "q" | "sum"))
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        if let Some(l) = self.lanes.as_ref().and_then(|l| l.first()) {
            parts.push(format!("lane {l}"));
        }
        format!("line {}: {}", self.line, parts.join(", "))
    }

    fn detail(&self) -> String {
        let ulp = match self.ulp {
            Some(u) => format!("  {u} ulp"),
            None => String::new(),
        };
        let lanes = match &self.lanes {
            Some(l) if l.len() > 1 => format!("  ({} lanes differ)", l.len()),
            _ => String::new(),
        };
        format!(
            "expected {} ({})  actual {} ({}){ulp}{lanes}",
            self.expected, self.expected_value, self.actual, self.actual_value
        )
    }
}

impl Report {
    /// The readable form: first divergence, then one row per stage with its capped mismatches.
    pub fn render(&self, title: &str) -> String {
        let mut s = format!("{title}\n");
        match &self.first_divergence {
            None if self.equal => s += "all stages equal\n",
            None => {}
            Some(m) => {
                s += &format!("FIRST DIVERGENCE  {} {}\n", m.file, m.location());
                s += &format!("  {}\n", m.detail());
                if let Some(f) = &m.expected_flags {
                    s += &format!("  flags of the expected value: {f}\n");
                }
            }
        }
        s += &format!(
            "{:<26} {:<10} {:>10} {:>10} {:>8}\n",
            "stage", "status", "differing", "total", "max ulp"
        );
        for st in &self.stages {
            let status = match st.status {
                Status::Equal => "equal",
                Status::Differs => "DIFFERS",
                Status::Downstream => "downstream",
                Status::Missing => "MISSING",
            };
            let ulp = st.max_ulp.map_or("-".to_string(), |u| u.to_string());
            s += &format!(
                "{:<26} {:<10} {:>10} {:>10} {:>8}\n",
                st.file, status, st.differing, st.total, ulp
            );
            if let Some(c) = &st.ulp_counts {
                let total = st.total.max(1) as f64;
                let parts: Vec<String> = c
                    .iter()
                    .map(|(b, n)| {
                        let unit = if b == "nan" { "" } else { " ulp" };
                        format!("{b}{unit}: {n} ({:.1} %)", 100.0 * *n as f64 / total)
                    })
                    .collect();
                s += &format!("    distance: {}\n", parts.join(", "));
            }
            for m in &st.mismatches {
                s += &format!("    {}  {}\n", m.location(), m.detail());
            }
            if st.differing > st.mismatches.len() && !st.mismatches.is_empty() {
                s += &format!(
                    "    ... {} more (raise --max-errors)\n",
                    st.differing - st.mismatches.len()
                );
            }
        }
        s
    }
}

/// One case of a folder of cases: its path relative to the folder, a verdict and a detail.
#[derive(Clone, Debug, Serialize)]
pub struct CaseRow {
    pub case: String,
    /// `equal`, `differs`, `missing` (expected only), `extra` (actual only) or `error`.
    pub status: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl CaseRow {
    pub fn new(case: &str, status: &'static str, detail: &str) -> CaseRow {
        CaseRow {
            case: case.to_string(),
            status,
            detail: detail.to_string(),
            report: None,
        }
    }

    /// The row of a finished comparison.
    pub fn of_report(case: &str, r: Report) -> CaseRow {
        if r.equal {
            return CaseRow::new(case, "equal", "");
        }
        let missing: Vec<&str> = r
            .stages
            .iter()
            .filter(|s| s.status == Status::Missing)
            .map(|s| s.file.as_str())
            .collect();
        let at = match &r.first_divergence {
            Some(m) => format!("{} {}", m.file, m.location()),
            None => format!("missing {}", missing.join(", ")),
        };
        CaseRow {
            report: Some(r),
            ..CaseRow::new(case, "differs", &at)
        }
    }
}

/// Whether a folder holds a case: a manifest or the first dump of a known case kind.
pub fn is_case_dir(dir: &Path) -> bool {
    const MARKERS: [&str; 9] = [
        crate::manifest::FILE_NAME,
        crate::softmax::QK_T,
        "rope.freq_bf16",
        "dot.a",
        "gevm.vector",
        "gemm.input",
        "quantize.input",
        crate::softmax::V,
        "rope.freq_fp32",
    ];
    MARKERS.iter().any(|m| dir.join(m).is_file())
}

/// Every case folder under `root` (`root` itself when it is one), recursively, as paths relative
/// to `root` in sorted order. Hidden folders (a `sim gen` run's `.tmp-` leftovers) are skipped.
pub fn find_cases(root: &Path) -> Result<Vec<PathBuf>, DumpError> {
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), DumpError> {
    let dir = root.join(rel);
    if is_case_dir(&dir) {
        out.push(rel.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| DumpError::new(&dir, 0, format!("cannot list: {e}")))?;
    for e in entries {
        let e = e.map_err(|e| DumpError::new(&dir, 0, format!("cannot list: {e}")))?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') || !e.path().is_dir() {
            continue;
        }
        walk(root, &rel.join(name), out)?;
    }
    Ok(())
}

/// Compare two folders of cases: every case found under either (recursively), paired by
/// relative path, one row each.
pub fn compare_tree(
    expected: &Path,
    actual: &Path,
    hints: crate::layout::Hints,
    max_errors: usize,
) -> Result<Vec<CaseRow>, DumpError> {
    use rayon::prelude::*;
    let (ce, ca) = (find_cases(expected)?, find_cases(actual)?);
    let all: std::collections::BTreeSet<&PathBuf> = ce.iter().chain(&ca).collect();
    let rows = all
        .into_par_iter()
        .map(|rel| {
            let case = rel.display().to_string();
            let (pe, pa) = (expected.join(rel), actual.join(rel));
            if !ce.contains(rel) {
                return CaseRow::new(&case, "extra", "only in the actual folder");
            }
            if !ca.contains(rel) {
                return CaseRow::new(&case, "missing", "not in the actual folder");
            }
            let r = crate::layout::detect(&pe, hints).and_then(|l| match l {
                Some(l) => compare(&l, &Source::Dir(&pe), &Source::Dir(&pa), max_errors),
                None => Err(DumpError::new(&pe, 0, "no case found")),
            });
            match r {
                Err(e) => CaseRow::new(&case, "error", &e.to_string()),
                Ok(r) => CaseRow::of_report(&case, r),
            }
        })
        .collect();
    Ok(rows)
}

/// The summary table of a folder of cases.
pub fn render_rows(rows: &[CaseRow]) -> String {
    let width = rows.iter().map(|r| r.case.len()).max().unwrap_or(0).max(36);
    let mut s = format!("{:<width$} {:<8} first divergence\n", "case", "result");
    for r in rows {
        s += &format!("{:<width$} {:<8} {}\n", r.case, r.status, r.detail);
    }
    let bad = rows.iter().filter(|r| r.status != "equal").count();
    s += &format!(
        "{} cases: {} equal, {} not\n",
        rows.len(),
        rows.len() - bad,
        bad
    );
    s
}

/// Exit code of a folder of cases: 2 when a case could not be read, 1 when one differs, else 0.
pub fn rows_exit_code(rows: &[CaseRow]) -> i32 {
    if rows.iter().any(|r| r.status == "error") {
        2
    } else if rows.iter().any(|r| r.status != "equal") {
        1
    } else {
        0
    }
}
