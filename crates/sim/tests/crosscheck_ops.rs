//! MXINT8 dot/gevm/gemm and the RoPE tables against the independent Python reference, bit for
//! bit (the RoPE check covers all 262,144 values of each table; the reference proves its
//! roundings with mpmath).

mod common;

use common::{assert_same_file, python, reference};
use hw_types::{E8m0, MxInt8Block, RoundingMode, BLOCK};
use sim::case::CaseWriter;
use sim::manifest::Manifest;
use sim::ops::{Dims, OpCase, OpKind, OutDtype};
use sim::rope::{RopeParams, RopeTables};
use sim::tensor::DumpRef;
use std::path::Path;

fn write_op(dir: &Path, name: &str, case: &OpCase, dtype: OutDtype, mode: RoundingMode) {
    let mut w = CaseWriter::create(dir, Manifest::new(case.op.name(), name, "reference")).unwrap();
    let [a, b] = case.op.operand_names();
    w.write(&case.op.file(a), DumpRef::MxInt8(&case.operands[0]))
        .unwrap();
    w.write(&case.op.file(b), DumpRef::MxInt8(&case.operands[1]))
        .unwrap();
    let out = case.compute(dtype, mode);
    w.write(&case.op.file("output"), out.dump()).unwrap();
    w.finish().unwrap();
}

fn size_args(op: OpKind, d: Dims) -> Vec<String> {
    let mut v = vec!["--m".to_string(), d.m.to_string()];
    if op != OpKind::Dot {
        v.extend(["--k".to_string(), d.k.to_string()]);
    }
    if op == OpKind::Gemm {
        v.extend(["--n".to_string(), d.n.to_string()]);
    }
    v
}

/// Run `reference.py op OP` with the sizes, an input source (`--seed S` or `--inputs DIR`),
/// the output dtype and rounding.
fn python_op(
    py: &Path,
    op: OpKind,
    dims: Dims,
    source: [&str; 2],
    dtype: OutDtype,
    mode: RoundingMode,
    out: &Path,
) {
    let mut args = vec!["op".to_string(), op.name().to_string()];
    args.extend(size_args(op, dims));
    args.extend(
        [
            source[0],
            source[1],
            "--out-dtype",
            dtype.name(),
            "--rounding",
            mode.name(),
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    reference(py, &args);
}

fn compare_dirs(py: &Path, rust: &Path, op: OpKind) {
    let [a, b] = op.operand_names();
    for part in [a, b, "output"] {
        assert_same_file(&py.join(op.file(part)), &rust.join(op.file(part)));
    }
}

#[test]
fn generated_ops_match_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = |m, k, n| Dims { m, k, n };
    let cases = [
        (OpKind::Dot, d(1, 1, 1)),
        (OpKind::Dot, d(31, 1, 1)),
        (OpKind::Dot, d(32, 1, 1)),
        (OpKind::Dot, d(100, 1, 1)),
        (OpKind::Gevm, d(1, 1, 1)),
        (OpKind::Gevm, d(70, 9, 1)),
        (OpKind::Gemm, d(1, 1, 1)),
        (OpKind::Gemm, d(5, 33, 7)),
        (OpKind::Gemm, d(33, 64, 3)),
    ];
    let modes = [
        (OutDtype::Bf16, RoundingMode::NearestEven),
        (OutDtype::Fp32, RoundingMode::NearestEven),
        (OutDtype::Bf16, RoundingMode::TowardZero),
        (OutDtype::Bf16, RoundingMode::NearestAway),
        (OutDtype::Fp32, RoundingMode::TowardNegative),
        (OutDtype::Bf16, RoundingMode::TowardPositive),
    ];
    for (i, (op, dims)) in cases.into_iter().enumerate() {
        let (dtype, mode) = modes[i % modes.len()];
        let seed = i as u64;
        let case = OpCase::generate(op, dims, seed);
        let name = dims.case_name(op, Some(seed));
        write_op(&tmp.path().join("rust"), &name, &case, dtype, mode);
        let out = tmp.path().join("py");
        python_op(
            &py,
            op,
            dims,
            ["--seed", &seed.to_string()],
            dtype,
            mode,
            &out,
        );
        compare_dirs(&out.join(&name), &tmp.path().join("rust").join(&name), op);
    }
}

/// Operands with all-zero blocks, the largest and smallest scales, NaN scales, and extreme
/// elements (-128 included, which the quantizer never makes but a dump may hold).
fn edge_operand(shape: Vec<usize>, axis: usize, salt: usize) -> sim::tensor::MxTensor {
    let grid = sim::tensor::grid_shape(&shape, axis);
    let n: usize = grid.iter().product();
    let inner: usize = grid[axis + 1..].iter().product();
    let blocks = (0..n)
        .map(|g| {
            let mut elems = [0i8; BLOCK];
            for (i, e) in elems.iter_mut().enumerate() {
                *e = match (g + salt) % 5 {
                    0 => 0,
                    1 => {
                        if i % 2 == 0 {
                            127
                        } else {
                            -128
                        }
                    }
                    _ => ((g * 31 + i * 17 + salt) % 256) as u8 as i8,
                };
            }
            // Padding past the logical length stays zero, as the format requires.
            let b = (g / inner) % grid[axis];
            let valid = (shape[axis] - b * BLOCK).min(BLOCK);
            elems[valid..].fill(0);
            let scale = match (g * 7 + salt) % 9 {
                0 => 0,
                1 => 254,
                2 if salt % 2 == 1 && g % 4 == 2 => 0xff,
                k => 110 + k as u8,
            };
            MxInt8Block {
                scale: E8m0(scale),
                elems,
            }
        })
        .collect();
    sim::tensor::MxTensor {
        shape,
        block_axis: axis,
        blocks,
    }
}

#[test]
fn edge_operands_match_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = |m, k, n| Dims { m, k, n };
    for (salt, (op, dims)) in [
        (OpKind::Dot, d(64, 1, 1)),
        (OpKind::Dot, d(96, 1, 1)),
        (OpKind::Gevm, d(96, 11, 1)),
        (OpKind::Gemm, d(6, 96, 5)),
        (OpKind::Gemm, d(7, 40, 4)),
    ]
    .into_iter()
    .enumerate()
    {
        let (s0, s1) = match op {
            OpKind::Dot => ((vec![dims.m], 0), (vec![dims.m], 0)),
            OpKind::Gevm => ((vec![dims.m], 0), (vec![dims.m, dims.k], 0)),
            OpKind::Gemm => ((vec![dims.m, dims.k], 1), (vec![dims.k, dims.n], 0)),
        };
        let case = OpCase {
            op,
            dims,
            operands: [
                edge_operand(s0.0, s0.1, salt),
                edge_operand(s1.0, s1.1, salt + 1),
            ],
        };
        for (dtype, mode) in [
            (OutDtype::Bf16, RoundingMode::NearestEven),
            (OutDtype::Fp32, RoundingMode::TowardZero),
        ] {
            let name = format!("edge-{salt}-{}", dtype.name());
            let rust = tmp.path().join("rust");
            write_op(&rust, &name, &case, dtype, mode);
            let out = tmp.path().join("py").join(&name);
            let inputs = rust.join(&name);
            python_op(
                &py,
                op,
                dims,
                ["--inputs", inputs.to_str().unwrap()],
                dtype,
                mode,
                &out,
            );
            compare_dirs(&out, &rust.join(&name), op);
        }
    }
}

#[test]
fn rope_tables_match_python_mpmath() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = RopeParams::default();
    let tables = RopeTables::compute(&p);
    let mut w =
        CaseWriter::create(tmp.path(), Manifest::new("rope", "rope-rust", "reference")).unwrap();
    for (name, d) in tables.dumps() {
        w.write(name, d).unwrap();
    }
    w.finish().unwrap();
    reference(&py, &["rope", "--out", tmp.path().to_str().unwrap()]);
    for (name, _) in tables.dumps() {
        assert_same_file(
            &tmp.path().join("rope").join(name),
            &tmp.path().join("rope-rust").join(name),
        );
    }
}
