//! Products over every pair of MX formats at the extremes of the exact sum: every operand at
//! its largest or smallest magnitude code under scale 0xfe or 0x00, against the same sum in
//! f64 (exact here: at most 32 products of a few significant bits, between 2^-300 and 2^300),
//! rounded once to BF16.

use hw_types::{Bf16, E8m0, Format, MxBlock, RoundingMode, Value, BLOCK, MX_FORMATS};
use sim::mx_op::{MxChoice, MxOpCase};
use sim::ops::{Dims, OpKind, OutDtype, OutTensor};
use sim::tensor::MxCodes;

fn value(v: Value) -> f64 {
    match v {
        Value::Zero { .. } => 0.0,
        Value::Finite(d) => (if d.neg { -1.0 } else { 1.0 }) * d.sig as f64 * 2f64.powi(d.exp),
        _ => unreachable!("finite codes only"),
    }
}

#[test]
fn every_pair_at_the_extremes_of_the_exact_sum() {
    for fa in MX_FORMATS {
        for fb in MX_FORMATS {
            // The largest finite positive code and the smallest nonzero one of each format.
            let edges = |f: &hw_types::MxFormat| {
                let finite: Vec<u8> = (1..1u16 << (f.width - 1))
                    .map(|c| c as u8)
                    .filter(|&c| matches!(f.decode(c), Value::Finite(_)))
                    .collect();
                [*finite.iter().max().unwrap(), *finite.iter().min().unwrap()]
            };
            for (ca, cb) in edges(&fa).into_iter().zip(edges(&fb)) {
                for (sa, sb) in [(0xfe, 0xfe), (0x00, 0x00), (0xfe, 0x00)] {
                    let block = |scale: u8, code: u8| MxBlock {
                        scale: E8m0(scale),
                        codes: [code; BLOCK],
                    };
                    let operand = |f, b| MxCodes {
                        format: f,
                        shape: vec![BLOCK],
                        block_axis: 0,
                        blocks: vec![b],
                    };
                    let case = MxOpCase {
                        op: OpKind::Dot,
                        dims: Dims {
                            m: BLOCK,
                            k: 1,
                            n: 1,
                        },
                        choice: MxChoice {
                            formats: [fa, fb],
                            rule: hw_types::ScaleRule::Floor,
                            element_rounding: None,
                        },
                        operands: [operand(fa, block(sa, ca)), operand(fb, block(sb, cb))],
                    };
                    let out = case.compute(OutDtype::Bf16, RoundingMode::NearestEven);
                    let OutTensor::Bf16(t) = &out.tensor else {
                        unreachable!()
                    };
                    let exact = BLOCK as f64
                        * value(fa.decode(ca))
                        * value(fb.decode(cb))
                        * 2f64.powi(sa as i32 - 127 + sb as i32 - 127);
                    let want = Bf16::from_f64(exact, RoundingMode::NearestEven).value;
                    assert_eq!(
                        t.data[0], want,
                        "{} x {} codes {ca:#x} {cb:#x} scales {sa:#x} {sb:#x}",
                        fa.name, fb.name
                    );
                }
            }
        }
    }
}
