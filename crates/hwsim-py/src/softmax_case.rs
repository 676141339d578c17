//! softmax_v cases: computed from arrays (`softmax_v`), generated (`run_case`), read from a case
//! folder (`load_case`) and written to one (`write_case`), all through the sim crate's own
//! pipeline, readers, manifest and atomic `CaseWriter`, so every interface gives the CLI's bytes.
//!
//! A case crosses to Python as a list of entries `(file name, dtype, logical shape, block axis,
//! data)` in the dumps' order, data being BF16 bits or `(scales, elements)` (MXINT8's int8
//! elements, or the codes of another MX format one per byte, dtype the format's name), plus its
//! manifest as JSON text and its flags. v and exp's quantization (`softmaxed_v.exp_<F>`) are in
//! the case's formats (docs/numerics.md §3.7; `Formats`), which the manifest's params record.

use crate::arrays::{
    element_rounding, mx_codes, mx_format, mx_tensor, product, scale_rule, slice, split_blocks,
    to_numpy, value_error,
};
use crate::{check_memory, guarded, profile};
use hw_types::{Bf16, FlagCounts, MxBlock, MxFormat};
use hw_units::config::HwConfig;
use indexmap::IndexMap;
use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileExistsError, PyFileNotFoundError, PyOSError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use sim::case::{CaseWriter, Refusal};
use sim::dump::{read_bf16, read_mx_codes, read_mx_tensor};
use sim::gen::Dist;
use sim::layout::{self, softmax_layout, Hints, MAX_LINES};
use sim::manifest::{Manifest, FILE_NAME};
use sim::memory::Need;
use sim::softmax::{self, Formats, Inputs, Params, Stages, EXP_FILES, FILES, QK_T, V};
use sim::tensor::{codes_of, Dtype, DumpRef, MxCodes, MxData, Tensor};
use std::path::{Path, PathBuf};

/// A dump's data on the Rust side of the boundary.
enum Data {
    Bf16(Vec<u16>),
    /// MXINT8: scale bytes and int8 elements.
    Mx(Vec<u8>, Vec<i8>),
    /// Another MX format: scale bytes and element codes, one per byte.
    Codes(MxFormat, Vec<u8>, Vec<u8>),
}

/// Scale bytes and codes of blocks, apart.
fn split_codes(blocks: &[MxBlock]) -> (Vec<u8>, Vec<u8>) {
    let scales = blocks.iter().map(|b| b.scale.0).collect();
    let mut codes = Vec::with_capacity(blocks.len() * hw_types::BLOCK);
    codes.extend(blocks.iter().flat_map(|b| b.codes));
    (scales, codes)
}

/// An MX tensor's data as Python receives it: MXINT8 as int8 elements (whether the pipeline held
/// it as MXINT8 blocks or as codes of the MXINT8 format), the other formats as codes.
fn mx_data(blocks: &[MxBlock], format: MxFormat) -> Data {
    let (s, c) = split_codes(blocks);
    if format.name == "mxint8" {
        Data::Mx(s, c.into_iter().map(|x| x as i8).collect())
    } else {
        Data::Codes(format, s, c)
    }
}

struct Entry {
    name: &'static str,
    shape: Vec<usize>,
    axis: Option<usize>,
    data: Data,
}

impl Entry {
    fn of(name: &'static str, d: DumpRef<'_>) -> Entry {
        let data = match d {
            DumpRef::Bf16(t) => Data::Bf16(t.data.iter().map(|x| x.0).collect()),
            DumpRef::MxInt8(t) => {
                let (s, e) = split_blocks(&t.blocks);
                Data::Mx(s, e)
            }
            DumpRef::Mx(t) => mx_data(&t.blocks, t.format),
            // softmax_v's dumps are BF16 and MX only.
            DumpRef::Fp32(_) => unreachable!("softmax_v has no {:?} dump", d.dtype()),
        };
        Entry {
            name,
            shape: d.shape().to_vec(),
            axis: d.block_axis(),
            data,
        }
    }

    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        let (dtype, data) = match self.data {
            Data::Bf16(v) => ("bf16", to_numpy(py, v).into_any()),
            Data::Mx(s, e) => (
                "mxint8",
                (to_numpy(py, s), to_numpy(py, e))
                    .into_pyobject(py)?
                    .into_any(),
            ),
            Data::Codes(f, s, c) => (
                f.name,
                (to_numpy(py, s), to_numpy(py, c))
                    .into_pyobject(py)?
                    .into_any(),
            ),
        };
        (self.name, dtype, self.shape, self.axis, data).into_pyobject(py)
    }
}

fn entries_to_py(py: Python<'_>, entries: Vec<Entry>) -> PyResult<Bound<'_, PyList>> {
    let items = entries
        .into_iter()
        .map(|e| e.into_py(py))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// The manifest `sim run` writes for this case and hardware description.
fn manifest(case: &str, kv: usize, seed: Option<u64>, p: &Params, cfg: &HwConfig) -> Manifest {
    let mut m = softmax::manifest(case, kv, seed, p);
    m.record_config(cfg);
    m
}

/// The memory a case of these shapes needs in this door: the pipeline's peak
/// (`softmax::memory_need`, what every door checks) and the copies handed to numpy (v and
/// exp_mxint8 as scales and elements, the BF16 stages, the flags), with margin.
fn case_need(heads: usize, kv: usize, head_dim: usize) -> Need {
    softmax::memory_need(heads, kv, head_dim)
        .add(&[heads, kv, head_dim], 2)
        .add(&[heads, kv], 8)
}

fn check_case_memory(what: &str, heads: usize, kv: usize, head_dim: usize) -> PyResult<()> {
    check_memory(
        case_need(heads, kv, head_dim),
        &format!("{what} of {heads} heads, kv {kv}, head_dim {head_dim}"),
    )
}

/// The block formats of a case from their names (`exp_format`, `v_format`, `scale_rule`: the
/// arguments' names in the errors).
fn formats(exp: &str, v: &str, rule: &str) -> PyResult<Formats> {
    Ok(Formats {
        exp: mx_format(exp, "exp_format")?,
        v: mx_format(v, "v_format")?,
        rule: scale_rule(rule, "scale_rule")?,
    })
}

/// Shapes, formats and the quantizers' element rounding (`None`: each format's default).
fn params(
    heads: usize,
    head_dim: usize,
    rounding: Option<&str>,
    formats: Formats,
) -> PyResult<Params> {
    if heads == 0 || head_dim == 0 {
        return Err(value_error(format!(
            "heads and head_dim must be at least 1 (got {heads} and {head_dim})"
        )));
    }
    Ok(Params {
        heads,
        head_dim,
        element_rounding: rounding
            .map(|r| element_rounding(r, "element_rounding"))
            .transpose()?,
        formats,
    })
}

/// `sim run`'s refusal of a hardware description whose MAC accumulator is not exact for formats
/// other than the dataset's (`softmax::check_mac`), as a `ValueError` naming the profile.
fn check_mac(p: &Params, cfg: &HwConfig) -> PyResult<()> {
    softmax::check_mac(p, &cfg.mac.accumulator)
        .map_err(|e| value_error(format!("profile '{}': {e}", cfg.name)))
}

/// The manifest of a case without its file entries (those are added as files are written).
#[pyfunction]
#[pyo3(signature = (name, kv, seed, heads, head_dim, element_rounding, profile,
                    exp_format="mxint8", v_format="mxint8", scale_rule="floor"))]
#[allow(clippy::too_many_arguments)]
pub fn softmax_manifest(
    name: &str,
    kv: usize,
    seed: Option<u64>,
    heads: usize,
    head_dim: usize,
    element_rounding: Option<&str>,
    profile: PathBuf,
    exp_format: &str,
    v_format: &str,
    scale_rule: &str,
) -> PyResult<String> {
    guarded(|| {
        let f = formats(exp_format, v_format, scale_rule)?;
        let p = params(heads, head_dim, element_rounding, f)?;
        Ok(manifest(name, kv, seed, &p, &profile::load(&profile)?).to_json())
    })
}

/// Every stage with its flags: `(manifest JSON, entries, per-element flags, flag counts JSON)`.
type CaseOut<'py> = (String, Bound<'py, PyList>, Bound<'py, PyDict>, String);

fn stages_to_py<'py>(py: Python<'py>, m: Manifest, stages: Stages) -> PyResult<CaseOut<'py>> {
    let (entries, flags) = py.detach(|| {
        let entries: Vec<Entry> = stages
            .dumps()
            .into_iter()
            .map(|(name, d)| Entry::of(name, d))
            .collect();
        let flags: Vec<(&str, Vec<u8>)> = stages
            .files()
            .iter()
            .filter_map(|f| Some((*f, stages.flags.of(f)?.iter().map(|s| s.bits()).collect())))
            .collect();
        (entries, flags)
    });
    let flag_arrays = PyDict::new(py);
    for (name, f) in flags {
        flag_arrays.set_item(name, to_numpy(py, f))?;
    }
    let counts: IndexMap<&str, FlagCounts> = stages.flag_counts().into_iter().collect();
    Ok((
        m.to_json(),
        entries_to_py(py, entries)?,
        flag_arrays,
        serde_json::to_string(&counts).expect("counts serialize"),
    ))
}

/// softmax_v of `qk_T` (BF16 bits, `[heads, kv]` row-major) and `v` (blocks of the grid
/// `[heads, ceil(kv/32), head_dim]`, blocked along kv, in `v_format`: int8 elements for mxint8,
/// codes one per byte otherwise), exp quantized to `exp_format` by `scale_rule`.
#[pyfunction]
#[pyo3(signature = (qk, v_scales, v_elems, heads, kv, head_dim, profile, element_rounding, name,
                    exp_format="mxint8", v_format="mxint8", scale_rule="floor"))]
#[allow(clippy::too_many_arguments)]
pub fn softmax_v<'py>(
    py: Python<'py>,
    qk: PyReadonlyArray1<'py, u16>,
    v_scales: PyReadonlyArray1<'py, u8>,
    v_elems: Bound<'py, PyAny>,
    heads: usize,
    kv: usize,
    head_dim: usize,
    profile: PathBuf,
    element_rounding: Option<&str>,
    name: &str,
    exp_format: &str,
    v_format: &str,
    scale_rule: &str,
) -> PyResult<CaseOut<'py>> {
    guarded(|| {
        let f = formats(exp_format, v_format, scale_rule)?;
        let p = params(heads, head_dim, element_rounding, f)?;
        if kv == 0 {
            return Err(value_error("qk_t: kv (its last axis) must be at least 1"));
        }
        let cfg = profile::load(&profile)?;
        check_mac(&p, &cfg)?;
        let qk = slice(&qk, "qk_t")?;
        if product(&[heads, kv]) != Some(qk.len()) {
            return Err(value_error(format!(
                "qk_t: {} elements, expected heads x kv = {heads} x {kv}",
                qk.len()
            )));
        }
        check_case_memory("softmax_v", heads, kv, head_dim)?;
        let (shape, scales) = (vec![1, heads, kv, head_dim], slice(&v_scales, "v")?);
        // The pipeline's own representation: MXINT8 blocks for the dataset's formats, codes
        // (of the MXINT8 format too) otherwise.
        let v = if f.v.name == "mxint8" {
            let elems: PyReadonlyArray1<i8> = v_elems.extract()?;
            let t = mx_tensor(scales, slice(&elems, "v")?, shape, 2, "v")?;
            if f.is_mxint8() {
                MxData::Int8(t)
            } else {
                MxData::Codes(MxCodes {
                    format: f.v,
                    blocks: t.blocks.iter().map(codes_of).collect(),
                    shape: t.shape,
                    block_axis: 2,
                })
            }
        } else {
            let codes: PyReadonlyArray1<u8> = v_elems.extract()?;
            MxData::Codes(mx_codes(f.v, scales, slice(&codes, "v")?, shape, 2, "v")?)
        };
        let inputs = Inputs {
            qk_t: Tensor::new(vec![1, heads, 1, kv], qk.iter().map(|&x| Bf16(x)).collect()),
            v,
        };
        let units = hw_units::units::Units::new(&cfg);
        let stages = py.detach(|| softmax::run_with(inputs, &p, &units));
        stages_to_py(py, manifest(name, kv, None, &p, &cfg), stages)
    })
}

/// The generated case `kv-size-N_seed-S` (with the formats' suffix), as `sim run --kv-size N
/// --seed S [--exp-format F --v-format G --scale-rule R]` computes it.
#[pyfunction]
#[pyo3(signature = (kv, seed, heads, head_dim, profile, element_rounding,
                    exp_format="mxint8", v_format="mxint8", scale_rule="floor"))]
#[allow(clippy::too_many_arguments)]
pub fn run_case<'py>(
    py: Python<'py>,
    kv: usize,
    seed: u64,
    heads: usize,
    head_dim: usize,
    profile: PathBuf,
    element_rounding: Option<&str>,
    exp_format: &str,
    v_format: &str,
    scale_rule: &str,
) -> PyResult<CaseOut<'py>> {
    guarded(|| {
        let f = formats(exp_format, v_format, scale_rule)?;
        let p = params(heads, head_dim, element_rounding, f)?;
        p.check_kv(kv)
            .map_err(|e| value_error(format!("kv_size: {e}")))?;
        let cfg = profile::load(&profile)?;
        check_mac(&p, &cfg)?;
        check_case_memory("run_case", heads, kv, head_dim)?;
        let units = hw_units::units::Units::new(&cfg);
        let stages = py.detach(|| softmax::run_with(Inputs::generate(kv, seed, &p), &p, &units));
        let name = softmax::case_name(kv, seed, Dist::Uniform, &f);
        let m = manifest(&name, kv, Some(seed), &p, &cfg);
        stages_to_py(py, m, stages)
    })
}

/// Read a softmax_v case folder as `sim run --inputs` and `sim check` read it (the `$readmemh`
/// variants docs/dump-format.md lists are accepted). Shapes come from its manifest.json, else from
/// the qk_T line count with `heads` and `head_dim`. Both inputs must be there; every other stage
/// file is read when present. Returns `(manifest JSON, entries)`; without a manifest.json, the one
/// `sim run --inputs` would write (the folder's name as the case name).
///
/// Every file is read through the sim crate's readers, which read only regular files; before
/// anything is read, a case file that is not a regular file (a FIFO, a device, a folder) is
/// refused from its metadata, so nothing here can block on a FIFO. Sizes are checked without
/// overflow and against the memory available before the dumps are read.
#[pyfunction]
#[pyo3(signature = (folder, heads, head_dim))]
pub fn load_case<'py>(
    py: Python<'py>,
    folder: PathBuf,
    heads: usize,
    head_dim: usize,
) -> PyResult<(String, Bound<'py, PyList>)> {
    guarded(|| {
        let p = params(heads, head_dim, None, Formats::default())?;
        if !folder.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{}: no such folder",
                folder.display()
            )));
        }
        if !folder.is_dir() {
            return Err(value_error(format!("{}: not a folder", folder.display())));
        }
        let every_name = FILES.iter().chain(&EXP_FILES).copied().chain([FILE_NAME]);
        for name in every_name {
            let path = folder.join(name);
            if let Ok(meta) = std::fs::metadata(&path) {
                if !meta.is_file() {
                    return Err(value_error(format!(
                        "{}: is {}, not a regular file",
                        path.display(),
                        hw_units::files::kind(&meta)
                    )));
                }
            }
        }
        let layout = py
            .detach(|| layout::detect(&folder, Hints { heads, head_dim }))
            .map_err(|e| value_error(e.to_string()))?
            .ok_or_else(|| {
                value_error(format!(
                    "{}: no softmax_v case here (no {QK_T} and no manifest.json)",
                    folder.display()
                ))
            })?;
        if layout.op != "softmax_v" {
            return Err(value_error(format!(
                "{}: holds a '{}' case; load_case reads softmax_v cases",
                folder.display(),
                layout.op
            )));
        }
        // The shapes, from the manifest or from the line count with heads and head_dim: every
        // file's line count must fit (no product overflows), as a manifest's must.
        for f in &layout.files {
            if product(&f.grid()).is_none_or(|n| n > MAX_LINES) {
                return Err(value_error(format!(
                    "{}: {} of shape {:?} would have more than {MAX_LINES} lines (heads {heads}, \
                     head_dim {head_dim})",
                    folder.display(),
                    f.name,
                    f.shape
                )));
            }
        }
        let &[_, h, kv, d] = layout
            .files
            .iter()
            .find(|f| f.name == V)
            .map(|f| f.shape.as_slice())
            .unwrap_or_default()
        else {
            return Err(value_error(format!(
                "{}: the softmax_v layout has no 4-D {V}",
                folder.display()
            )));
        };
        check_case_memory("load_case", h, kv, d)?;
        // exp's quantization is named after its format (the layout has it from the manifest).
        let exp_format = layout
            .files
            .iter()
            .find(|f| EXP_FILES.contains(&f.name.as_str()))
            .map_or(hw_types::mx::MXINT8, |f| match f.dtype {
                Dtype::Mx(format) => format,
                _ => hw_types::mx::MXINT8,
            });
        let read = || -> Result<(String, Vec<Entry>), String> {
            let mut entries = Vec::new();
            for name in softmax::files(&exp_format) {
                let Some(spec) = layout.files.iter().find(|f| f.name == name) else {
                    return Err(format!("{}: the layout has no {name}", folder.display()));
                };
                let path = folder.join(name);
                if !path.exists() && name != QK_T && name != V {
                    continue;
                }
                let data = match spec.block_axis {
                    None => Data::Bf16(
                        read_bf16(&path, Some(spec.lines()))
                            .map_err(|e| e.to_string())?
                            .iter()
                            .map(|x| x.0)
                            .collect(),
                    ),
                    Some(axis) => match spec.dtype {
                        Dtype::Mx(format) => {
                            let t = read_mx_codes(&path, format, spec.shape.clone(), axis)
                                .map_err(|e| e.to_string())?;
                            mx_data(&t.blocks, format)
                        }
                        _ => {
                            let t = read_mx_tensor(&path, spec.shape.clone(), axis)
                                .map_err(|e| e.to_string())?;
                            let (s, e) = split_blocks(&t.blocks);
                            Data::Mx(s, e)
                        }
                    },
                };
                entries.push(Entry {
                    name,
                    shape: spec.shape.clone(),
                    axis: spec.block_axis,
                    data,
                });
            }
            let mpath = folder.join(FILE_NAME);
            let manifest = if mpath.exists() {
                hw_units::files::read_regular(&mpath, Manifest::MANIFEST_LIMIT)
                    .and_then(|b| String::from_utf8(b).map_err(|_| "is not UTF-8 text".into()))
                    .map_err(|e| format!("{}: {e}", mpath.display()))?
            } else {
                let case = folder
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| format!("kv-size-{kv}_inputs"));
                manifest(&case, kv, None, &p, &HwConfig::reference()).to_json()
            };
            Ok((manifest, entries))
        };
        let (manifest, entries) = py.detach(read).map_err(value_error)?;
        Ok((manifest, entries_to_py(py, entries)?))
    })
}

/// One tensor as the Python layer passes it to `write_case`: `(file name, dtype, logical shape,
/// block axis, data)` with data BF16 bits or `(scales, elements)` (dtype `bf16`, or an MX format
/// name: int8 elements for `mxint8`, codes one per byte for the others).
type PyEntry<'py> = (String, String, Vec<usize>, Option<usize>, Bound<'py, PyAny>);

enum Owned {
    Bf16(Tensor<Bf16>),
    Mx(MxData),
}

impl Owned {
    fn dump(&self) -> DumpRef<'_> {
        match self {
            Owned::Bf16(t) => DumpRef::Bf16(t),
            Owned::Mx(t) => t.dump(),
        }
    }
}

/// An entry as the tensor the CLI would write: MX tensors as the pipeline holds them for
/// `formats` (MXINT8 blocks for the dataset's formats, codes otherwise), which dump alike.
fn owned(e: &PyEntry<'_>, formats: &Formats) -> PyResult<Owned> {
    let (name, dtype, shape, axis, data) = e;
    match (dtype.as_str(), axis) {
        ("bf16", None) => {
            let bits: PyReadonlyArray1<u16> = data.extract()?;
            if product(shape) != Some(bits.len()) {
                return Err(value_error(format!(
                    "{name}: {} elements do not fill shape {shape:?}",
                    bits.len()
                )));
            }
            let v = slice(&bits, name)?.iter().map(|&x| Bf16(x)).collect();
            Ok(Owned::Bf16(Tensor::new(shape.clone(), v)))
        }
        ("mxint8", Some(axis)) => {
            let (s, el): (PyReadonlyArray1<u8>, PyReadonlyArray1<i8>) = data.extract()?;
            let t = mx_tensor(
                slice(&s, name)?,
                slice(&el, name)?,
                shape.clone(),
                *axis,
                name,
            )?;
            if formats.is_mxint8() {
                return Ok(Owned::Mx(MxData::Int8(t)));
            }
            Ok(Owned::Mx(MxData::Codes(MxCodes {
                format: hw_types::mx::MXINT8,
                blocks: t.blocks.iter().map(codes_of).collect(),
                shape: t.shape,
                block_axis: t.block_axis,
            })))
        }
        (format, Some(axis)) if MxFormat::from_name(format).is_some() => {
            let format = MxFormat::from_name(format).expect("checked");
            let (s, c): (PyReadonlyArray1<u8>, PyReadonlyArray1<u8>) = data.extract()?;
            let t = mx_codes(
                format,
                slice(&s, name)?,
                slice(&c, name)?,
                shape.clone(),
                *axis,
                name,
            )?;
            Ok(Owned::Mx(MxData::Codes(t)))
        }
        _ => Err(value_error(format!("{name}: unsupported dtype {dtype}"))),
    }
}

/// Write a case into `out/<manifest case name>/` with `CaseWriter` (atomic: nothing appears under
/// the case's name unless every file was written; concurrent writers of one name end with the
/// last one's complete folder). Tensors are checked against the softmax_v layout of their sizes
/// and the manifest's sizes, and the memory the write needs is checked, before anything is
/// written. An existing case folder holding entries other than the case's files is replaced only
/// with `replace`. Returns the folder and warnings (a replaced folder that could not be removed).
#[pyfunction]
#[pyo3(signature = (out, manifest_json, flag_counts_json, entries, replace))]
pub fn write_case(
    py: Python<'_>,
    out: PathBuf,
    manifest_json: &str,
    flag_counts_json: &str,
    entries: Vec<PyEntry<'_>>,
    replace: bool,
) -> PyResult<(PathBuf, Vec<String>)> {
    guarded(|| write_case_checked(py, out, manifest_json, flag_counts_json, entries, replace))
}

fn write_case_checked(
    py: Python<'_>,
    out: PathBuf,
    manifest_json: &str,
    flag_counts_json: &str,
    entries: Vec<PyEntry<'_>>,
    replace: bool,
) -> PyResult<(PathBuf, Vec<String>)> {
    let mut m = Manifest::parse(Path::new("case.manifest"), manifest_json)
        .map_err(|e| value_error(e.to_string()))?;
    if m.op != "softmax_v" {
        return Err(value_error(format!(
            "case.manifest: op '{}' is not softmax_v",
            m.op
        )));
    }
    // The case name becomes a folder inside `out`, never a path elsewhere.
    if m.case.is_empty() || m.case == "." || m.case == ".." || m.case.contains(['/', '\\', '\0']) {
        return Err(value_error(format!(
            "case.manifest: case name {:?} is not a folder name",
            m.case
        )));
    }
    // The formats the manifest records (none: the dataset's), and so the case's file names.
    let formats =
        Formats::from_params(&m.params).map_err(|e| value_error(format!("case.manifest: {e}")))?;
    let files = softmax::files(&formats.exp);
    let counts: IndexMap<String, FlagCounts> = serde_json::from_str(flag_counts_json)
        .map_err(|e| value_error(format!("case.flag_counts: {e}")))?;
    // The copies made below and the dump text streamed out: 8 bytes per BF16 element and 4 per
    // MXINT8 element bound both (a block is 33 bytes, its text 67).
    let need = entries.iter().fold(Need::new(), |n, e| {
        n.add(&e.2, if e.1 == "bf16" { 8 } else { 4 })
    });
    check_memory(need, &format!("write_case of {}", m.case))?;
    let mut tensors: Vec<(&'static str, Owned)> = Vec::new();
    for e in &entries {
        let Some(name) = files.iter().find(|f| **f == e.0) else {
            if EXP_FILES.contains(&e.0.as_str()) {
                return Err(value_error(format!(
                    "case: '{}' is not this case's quantized exp: the manifest's exp_format is \
                     {} (the file '{}')",
                    e.0,
                    formats.exp.name,
                    softmax::exp_file(&formats.exp)
                )));
            }
            return Err(value_error(format!("case: unknown file name '{}'", e.0)));
        };
        if tensors.iter().any(|(n, _)| n == name) {
            return Err(value_error(format!("case: '{name}' is given twice")));
        }
        tensors.push((name, owned(e, &formats)?));
    }
    let find = |n: &str| tensors.iter().find(|(name, _)| *name == n).map(|(_, t)| t);
    let (Some(Owned::Bf16(qk)), Some(Owned::Mx(v))) = (find(QK_T), find(V)) else {
        return Err(value_error(format!(
            "case: a softmax_v case needs '{QK_T}' (BF16) and '{V}' (MX blocks)"
        )));
    };
    let (&[1, h, 1, kv], &[1, vh, vkv, d]) = (qk.shape.as_slice(), v.shape()) else {
        return Err(value_error(format!(
            "case: '{QK_T}' {:?} and '{V}' {:?} are not [1, heads, 1, kv] and [1, heads, kv, head_dim]",
            qk.shape,
            v.shape()
        )));
    };
    if (vh, vkv) != (h, kv) {
        return Err(value_error(format!(
            "case: '{V}' has shape {:?}, but '{QK_T}' {:?} needs [1, {h}, {kv}, head_dim]",
            v.shape(),
            qk.shape
        )));
    }
    let layout = softmax_layout(h, kv, d, &formats);
    for (name, t) in &tensors {
        let spec = layout
            .files
            .iter()
            .find(|f| f.name == *name)
            .expect("known");
        let d = t.dump();
        if d.dtype() != spec.dtype {
            let (param, f) = match *name {
                V => ("v_format", formats.v.name),
                _ => ("exp_format", formats.exp.name),
            };
            return Err(value_error(format!(
                "case: '{name}' holds {} blocks, but the manifest's {param} is {f}",
                d.dtype().name()
            )));
        }
        if d.shape() != spec.shape.as_slice() || d.block_axis() != spec.block_axis {
            return Err(value_error(format!(
                "case: '{name}' has shape {:?}{}, expected {:?}{} for {h} heads, kv {kv}, head_dim {d}",
                d.shape(),
                d.block_axis().map_or(String::new(), |a| format!(" blocked on axis {a}")),
                spec.shape,
                spec.block_axis.map_or(String::new(), |a| format!(" blocked on axis {a}")),
                d = layout.files[1].shape[3],
            )));
        }
    }
    let recorded = |key: &str| m.params.get(key).and_then(|v| v.as_u64());
    let sizes = (
        m.kv_size.map(|k| k as u64),
        recorded("num_heads"),
        recorded("head_dim"),
    );
    if sizes != (Some(kv as u64), Some(h as u64), Some(d as u64)) {
        let show = |v: Option<u64>| v.map_or("missing".to_string(), |v| v.to_string());
        return Err(value_error(format!(
            "case.manifest: kv_size {}, num_heads {}, head_dim {} do not describe the tensors \
             (kv {kv}, {h} heads, head_dim {d})",
            show(sizes.0),
            show(sizes.1),
            show(sizes.2)
        )));
    }
    m.files.clear();
    tensors.sort_by_key(|(name, _)| files.iter().position(|f| f == name));
    let flags: Vec<(&str, FlagCounts)> = counts
        .iter()
        .filter(|(n, _)| tensors.iter().any(|(t, _)| t == n))
        .map(|(n, c)| (n.as_str(), *c))
        .collect();
    let write = || -> anyhow::Result<(PathBuf, Vec<String>)> {
        let dumps: Vec<(&str, DumpRef<'_>)> = tensors.iter().map(|(n, t)| (*n, t.dump())).collect();
        let mut w = CaseWriter::create_guarded(&out, m, &files, replace)?;
        w.write_all(&dumps)?;
        w.set_flags(&flags);
        let done = w.commit()?;
        let warnings = done
            .leftovers
            .iter()
            .map(|(old, e)| {
                format!(
                    "wrote {}, but the folder it replaced, moved aside to {}, cannot be removed: \
                     {e}",
                    done.dir.display(),
                    old.display()
                )
            })
            .collect();
        Ok((done.dir, warnings))
    };
    py.detach(write)
        .map_err(|e| match e.downcast_ref::<Refusal>() {
            Some(Refusal::ForeignFiles { .. }) => PyFileExistsError::new_err(format!(
                "{e:#}; write_case(..., replace=True) replaces it anyway"
            )),
            Some(Refusal::NotAFolder { .. }) => PyFileExistsError::new_err(format!("{e:#}")),
            None => PyOSError::new_err(format!("{e:#}")),
        })
}
