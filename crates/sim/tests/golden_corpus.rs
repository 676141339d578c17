//! The checked-in golden corpus (golden/) regenerated in memory, byte for byte. A mismatch names
//! the first differing file and line. `make golden` is the only way the corpus changes.

mod common;

use sim::case::render;
use sim::gen::Dist;
use sim::manifest::Manifest;
use sim::ops::{dims_from_manifest, OpCase, OpKind, OutDtype};
use sim::rope::{RopeParams, RopeTables};
use sim::softmax::{self, Inputs, Params};
use std::path::Path;

fn golden() -> std::path::PathBuf {
    common::repo_root().join("golden")
}

fn case_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Compare regenerated files with a golden folder: same file set, same bytes.
fn assert_matches(dir: &Path, files: &[(String, Vec<u8>)]) {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut made: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    made.sort();
    assert_eq!(on_disk, made, "{}: file sets differ", dir.display());
    for (name, bytes) in files {
        let path = dir.join(name);
        let gold = std::fs::read(&path).unwrap();
        if &gold != bytes {
            let (g, m) = (
                String::from_utf8_lossy(&gold),
                String::from_utf8_lossy(bytes),
            );
            let line = g
                .lines()
                .zip(m.lines())
                .position(|(a, b)| a != b)
                .map_or(g.lines().count().min(m.lines().count()) + 1, |i| i + 1);
            panic!(
                "{} differs from the regenerated dump at line {line}: golden {:?}, now {:?} \
                 (run `make golden` only if the change is intended)",
                path.display(),
                g.lines().nth(line - 1).unwrap_or("<end of file>"),
                m.lines().nth(line - 1).unwrap_or("<end of file>"),
            );
        }
    }
}

#[test]
fn softmax_cases_are_reproduced_byte_for_byte() {
    let dirs = case_dirs(&golden().join("softmax"));
    assert_eq!(dirs.len(), 18, "9 kv-sizes x 2 seeds");
    for dir in dirs {
        let m = Manifest::read(&dir.join("manifest.json")).unwrap();
        let p = Params::default();
        let (kv, seed) = (m.kv_size.unwrap(), m.seed.unwrap());
        let stages = softmax::run(Inputs::generate(kv, seed, &p), &p);
        let dumps = stages.dumps();
        let files = render(
            softmax::manifest(&m.case, kv, Some(seed), &p),
            &dumps,
            &stages.flag_counts(),
        );
        assert_matches(&dir, &files);
    }
}

#[test]
fn softmax_index_lists_every_case_with_its_manifest_hash() {
    let root = golden().join("softmax");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    let cases = index["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for c in cases {
        let bytes =
            std::fs::read(root.join(c["case"].as_str().unwrap()).join("manifest.json")).unwrap();
        assert_eq!(
            c["manifest_sha256"].as_str().unwrap(),
            sim::dump::sha256_hex(&bytes)
        );
    }
}

#[test]
fn op_cases_are_reproduced_byte_for_byte() {
    let dirs = case_dirs(&golden().join("ops"));
    assert_eq!(dirs.len(), 5);
    for dir in dirs {
        let m = Manifest::read(&dir.join("manifest.json")).unwrap();
        let op = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
            .into_iter()
            .find(|k| k.name() == m.op)
            .unwrap();
        let dims = dims_from_manifest(op, &m).unwrap();
        let dtype = match m.params["out_dtype"].as_str().unwrap() {
            "fp32" => OutDtype::Fp32,
            _ => OutDtype::Bf16,
        };
        let mode = m.params["rounding"].as_str().unwrap().parse().unwrap();
        let case = OpCase::generate(op, dims, m.seed.unwrap());
        let out = case.compute(dtype, mode);
        let dumps = case.dumps(&out);
        let dumps: Vec<_> = dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        let flags = [(dumps[2].0, out.flag_counts())];
        let files = render(
            case.manifest(m.seed, Dist::Uniform, dtype, mode),
            &dumps,
            &flags,
        );
        assert_matches(&dir, &files);
    }
}

#[test]
fn rope_table_hashes_are_reproduced() {
    let p = RopeParams::default();
    let tables = RopeTables::compute(&p);
    let files = render(p.manifest(), &tables.dumps(), &tables.flag_counts());
    let (name, bytes) = files.last().unwrap();
    assert_eq!(name, "manifest.json");
    let gold = std::fs::read(golden().join("rope/manifest.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&gold),
        String::from_utf8_lossy(bytes),
        "RoPE tables changed (run `make golden` only if intended)"
    );
}

/// The `--dist corners|mixed` cases (softmax_v, ops, quantize) regenerated from their manifests.
#[test]
fn dist_cases_are_reproduced_byte_for_byte() {
    use sim::quantize_op::QuantizeCase;
    let dirs = case_dirs(&golden().join("dist"));
    assert_eq!(dirs.len(), 8);
    for dir in dirs {
        let m = Manifest::read(&dir.join("manifest.json")).unwrap();
        let param = |k: &str| m.params[k].as_str().unwrap().to_string();
        let dist = Dist::parse(&param("dist")).unwrap();
        let seed = m.seed.unwrap();
        let files = match m.op.as_str() {
            "softmax_v" => {
                let p = Params {
                    heads: m.params["num_heads"].as_u64().unwrap() as usize,
                    head_dim: m.params["head_dim"].as_u64().unwrap() as usize,
                    element_rounding: m
                        .params
                        .get("element_rounding")
                        .map(|r| r.as_str().unwrap().parse().unwrap()),
                    formats: softmax::Formats::from_params(&m.params).unwrap(),
                };
                let kv = m.kv_size.unwrap();
                let stages = softmax::run(Inputs::generate_with(kv, seed, &p, dist), &p);
                let mut man = softmax::manifest(&m.case, kv, Some(seed), &p);
                man.params.insert("dist".into(), dist.name().into());
                render(man, &stages.dumps(), &stages.flag_counts())
            }
            "quantize" => {
                let mode = param("element_rounding").parse().unwrap();
                let mm = m.params["m"].as_u64().unwrap() as usize;
                let case = QuantizeCase::generate(mm, seed, dist);
                let out = case.compute(mode);
                let flags = [(sim::quantize_op::OUTPUT, out.flag_counts())];
                render(
                    case.manifest(Some(seed), dist, mode),
                    &case.dumps(&out),
                    &flags,
                )
            }
            op => {
                let op = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
                    .into_iter()
                    .find(|k| k.name() == op)
                    .unwrap();
                let dims = dims_from_manifest(op, &m).unwrap();
                let dtype = match param("out_dtype").as_str() {
                    "fp32" => OutDtype::Fp32,
                    _ => OutDtype::Bf16,
                };
                let mode = param("rounding").parse().unwrap();
                let er = m
                    .params
                    .get("element_rounding")
                    .map_or(hw_types::RoundingMode::NearestAway, |v| {
                        v.as_str().unwrap().parse().unwrap()
                    });
                let case = OpCase::generate_with(op, dims, seed, dist, er);
                let out = case.compute(dtype, mode);
                let dumps = case.dumps(&out);
                let dumps: Vec<_> = dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                let flags = [(dumps[2].0, out.flag_counts())];
                render(case.manifest(Some(seed), dist, dtype, mode), &dumps, &flags)
            }
        };
        assert_matches(&dir, &files);
    }
}

/// The directed corner suite (`sim corners`) rewritten into a temporary folder, byte for byte.
#[test]
fn directed_suite_is_reproduced_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = sim::corners::suite();
    assert_eq!(case_dirs(&golden().join("corners")).len(), suite.len());
    for s in &suite {
        let written = s.write(tmp.path()).unwrap();
        let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&written)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        assert_matches(&golden().join("corners").join(s.name), &files);
    }
}

/// The MX format cases (quantize and products over pairs of formats, docs/numerics.md §8)
/// regenerated from their manifests.
#[test]
fn mx_cases_are_reproduced_byte_for_byte() {
    use sim::mx_op::{parse_formats, MxChoice, MxOpCase};
    use sim::quantize_op::QuantizeCase;
    let dirs = case_dirs(&golden().join("mx"));
    assert!(dirs.len() >= 30, "golden/mx holds {} cases", dirs.len());
    for dir in dirs {
        let m = Manifest::read(&dir.join("manifest.json")).unwrap();
        let param = |k: &str| m.params.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let dist = param("dist").map_or(Dist::Uniform, |d| Dist::parse(&d).unwrap());
        let formats = parse_formats(&param("mx_format").unwrap()).unwrap();
        let rule = param("scale_rule").unwrap().parse().unwrap();
        let element_rounding = param("element_rounding").map(|r| r.parse().unwrap());
        let seed = m.seed.unwrap();
        let files = match m.op.as_str() {
            "quantize" => {
                let mode = element_rounding.unwrap();
                let mm = m.params["m"].as_u64().unwrap() as usize;
                let case = QuantizeCase::generate_for(mm, seed, dist, &formats[0]);
                let out = case.compute_mx(formats[0], rule, mode);
                let flags = [(sim::quantize_op::OUTPUT, out.flag_counts())];
                let man = case.manifest_mx(Some(seed), dist, formats[0], rule, mode);
                render(man, &case.dumps_mx(&out), &flags)
            }
            op => {
                let op = [OpKind::Dot, OpKind::Gevm, OpKind::Gemm]
                    .into_iter()
                    .find(|k| k.name() == op)
                    .unwrap();
                let dims = dims_from_manifest(op, &m).unwrap();
                let dtype = match param("out_dtype").unwrap().as_str() {
                    "fp32" => OutDtype::Fp32,
                    _ => OutDtype::Bf16,
                };
                let mode = param("rounding").unwrap().parse().unwrap();
                let choice = MxChoice {
                    formats,
                    rule,
                    element_rounding,
                };
                let case = MxOpCase::generate(op, dims, seed, dist, choice);
                let out = case.compute(dtype, mode);
                let dumps = case.dumps(&out);
                let dumps: Vec<_> = dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
                let flags = [(dumps[2].0, out.flag_counts())];
                render(case.manifest(Some(seed), dist, dtype, mode), &dumps, &flags)
            }
        };
        assert_matches(&dir, &files);
    }
}

/// softmax_v with other block formats (docs/numerics.md §3.7), regenerated from the manifests.
#[test]
fn mx_softmax_cases_are_reproduced_byte_for_byte() {
    let dirs = case_dirs(&golden().join("mx-softmax"));
    assert!(
        dirs.len() >= 9,
        "golden/mx-softmax holds {} cases",
        dirs.len()
    );
    for dir in dirs {
        let m = Manifest::read(&dir.join("manifest.json")).unwrap();
        let dist = m
            .params
            .get("dist")
            .map_or(Dist::Uniform, |d| Dist::parse(d.as_str().unwrap()).unwrap());
        let p = Params {
            heads: m.params["num_heads"].as_u64().unwrap() as usize,
            head_dim: m.params["head_dim"].as_u64().unwrap() as usize,
            element_rounding: None,
            formats: softmax::Formats::from_params(&m.params).unwrap(),
        };
        assert!(!p.formats.is_mxint8(), "{}", dir.display());
        let (kv, seed) = (m.kv_size.unwrap(), m.seed.unwrap());
        assert_eq!(m.case, softmax::case_name(kv, seed, dist, &p.formats));
        let stages = softmax::run(Inputs::generate_with(kv, seed, &p, dist), &p);
        let mut man = softmax::manifest(&m.case, kv, Some(seed), &p);
        if dist != Dist::Uniform {
            man.params.insert("dist".into(), dist.name().into());
        }
        let files = render(man, &stages.dumps(), &stages.flag_counts());
        assert_matches(&dir, &files);
    }
}
