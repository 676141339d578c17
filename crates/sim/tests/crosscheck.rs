//! The Rust model against the independent Python reference (scripts/reference.py), bit for bit:
//! generated cases of several kv sizes, hand-made edge inputs, and the exhaustive exp and
//! reciprocal tables.

mod common;

use common::{assert_same_file, python, reference};
use hw_types::{Bf16, E8m0, MxInt8Block, RoundingMode, BLOCK};
use sim::case::CaseWriter;
use sim::manifest::Manifest;
use sim::softmax::{self, Inputs, Params, FILES};
use sim::tensor::{MxData, MxTensor, Tensor};
use std::path::Path;

fn write_case(out: &Path, name: &str, stages: &softmax::Stages) {
    let mut w = CaseWriter::create(out, Manifest::new("softmax_v", name, "reference")).unwrap();
    for (n, d) in stages.dumps() {
        w.write(n, d).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn generated_cases_match_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = Params::default();
    for (kv, seed) in [(1, 0), (31, 1), (32, 0), (33, 2), (64, 3), (300, 0)] {
        let stages = softmax::run(Inputs::generate(kv, seed, &p), &p);
        let name = format!("kv-size-{kv}_seed-{seed}");
        write_case(&tmp.path().join("rust"), &name, &stages);
        let py_out = tmp.path().join("py");
        reference(
            &py,
            &[
                "softmax",
                "--kv-size",
                &kv.to_string(),
                "--seed",
                &seed.to_string(),
                "--out",
                py_out.to_str().unwrap(),
            ],
        );
        for f in FILES {
            assert_same_file(
                &py_out.join(&name).join(f),
                &tmp.path().join("rust").join(&name).join(f),
            );
        }
    }
}

#[test]
fn nearest_even_elements_match_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = Params {
        element_rounding: Some(RoundingMode::NearestEven),
        ..Params::default()
    };
    let stages = softmax::run(Inputs::generate(70, 5, &p), &p);
    write_case(&tmp.path().join("rust"), "kv-size-70_seed-5", &stages);
    let py_out = tmp.path().join("py");
    reference(
        &py,
        &[
            "softmax",
            "--kv-size",
            "70",
            "--seed",
            "5",
            "--element-rounding",
            "nearest-even",
            "--out",
            py_out.to_str().unwrap(),
        ],
    );
    for f in FILES {
        assert_same_file(
            &py_out.join("kv-size-70_seed-5").join(f),
            &tmp.path().join("rust/kv-size-70_seed-5").join(f),
        );
    }
}

/// Hand-made inputs: huge and tiny scores, +-inf, NaN, zeros, quantization ties, and v blocks with
/// the largest, smallest and NaN scales.
fn edge_inputs(kv: usize) -> Inputs {
    let h = 32;
    let d = 128;
    let specials: [u16; 24] = [
        0x42b2, // 89: exp overflows
        0x42b1, // 88.5
        0xc2b9, // -92.5: exp is the smallest subnormal
        0xc2ba, // -93: exp underflows to 0
        0xff80, // -inf
        0x7f80, // +inf
        0x7fc0, // NaN
        0x0000, 0x8000, 0x0001, 0x8001, // zeros and subnormals
        0x3f80, 0xbf80, 0x4000, 0x3f31, // 1, -1, 2, ~ln 2
        0xc000, 0xc080, 0xc0a0, 0x40a0, // exp(-2), exp(-4) ..
        0x7f7f, 0xff7f, // largest finite
        0x3c00, 0xbc00, 0x4120,
    ];
    let mut qk = Vec::with_capacity(h * kv);
    for hh in 0..h {
        for j in 0..kv {
            // Head 0..7: mostly ordinary values with one special; others cycle through specials.
            let x = if hh < 8 {
                if j == hh {
                    specials[hh * 3 % specials.len()]
                } else {
                    0x3f80 + (j as u16 % 5)
                }
            } else {
                specials[(hh + j) % specials.len()]
            };
            qk.push(Bf16(x));
        }
    }
    // Heads 30 and 31: many identical values, so sums hit ties and quantization hits 0.5 steps.
    for j in 0..kv {
        qk[30 * kv + j] = Bf16(0x0000);
        qk[31 * kv + j] = if j % 2 == 0 {
            Bf16(0x3f80)
        } else {
            Bf16(0xbf31)
        };
    }
    let nb = kv.div_ceil(BLOCK);
    let mut blocks = Vec::with_capacity(h * nb * d);
    for hh in 0..h {
        for b in 0..nb {
            for c in 0..d {
                let mut elems = [0i8; BLOCK];
                for (i, e) in elems.iter_mut().enumerate() {
                    if b * BLOCK + i < kv {
                        *e = ((hh * 7 + b * 13 + c * 3 + i * 5) % 255) as i8;
                        if c % 17 == 0 {
                            *e = if i % 2 == 0 { 127 } else { -127 };
                        }
                    }
                }
                let scale = match (hh + c) % 11 {
                    0 => 0,               // smallest scale
                    1 => 254,             // largest finite scale
                    2 if hh == 5 => 0xff, // NaN scale
                    k => 100 + k as u8 * 3,
                };
                blocks.push(MxInt8Block {
                    scale: E8m0(scale),
                    elems,
                });
            }
        }
    }
    Inputs {
        qk_t: Tensor::new(vec![1, h, 1, kv], qk),
        v: MxData::Int8(MxTensor {
            shape: vec![1, h, kv, d],
            block_axis: 2,
            blocks,
        }),
    }
}

#[test]
fn edge_inputs_match_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let p = Params::default();
    for kv in [1, 24, 33, 96] {
        let stages = softmax::run(edge_inputs(kv), &p);
        let name = format!("edge-{kv}");
        write_case(&tmp.path().join("rust"), &name, &stages);
        let py_out = tmp.path().join("py").join(&name);
        reference(
            &py,
            &[
                "softmax",
                "--inputs",
                tmp.path().join("rust").join(&name).to_str().unwrap(),
                "--out",
                py_out.to_str().unwrap(),
            ],
        );
        for f in FILES {
            assert_same_file(
                &py_out.join(f),
                &tmp.path().join("rust").join(&name).join(f),
            );
        }
    }
}

fn table_lines(f: impl Fn(Bf16) -> Bf16) -> String {
    (0..=u16::MAX)
        .map(|i| format!("{:04x}\n", f(Bf16(i)).0))
        .collect()
}

#[test]
fn exp_table_matches_python_mpmath_for_all_65536_inputs() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("exp.hex");
    reference(&py, &["exp-table", "--out", path.to_str().unwrap()]);
    let ours = tmp.path().join("exp.rust.hex");
    std::fs::write(&ours, table_lines(|x| hw_units::exp::exp_bf16(x).value)).unwrap();
    assert_same_file(&path, &ours);
}

#[test]
fn reciprocal_table_matches_python_for_all_65536_inputs() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("recip.hex");
    reference(&py, &["recip-table", "--out", path.to_str().unwrap()]);
    let ours = tmp.path().join("recip.rust.hex");
    std::fs::write(
        &ours,
        table_lines(|x| {
            hw_units::recip::RecipUnit::new(&hw_units::config::RecipKind::Exact)
                .eval(x)
                .value
        }),
    )
    .unwrap();
    assert_same_file(&path, &ours);
}
