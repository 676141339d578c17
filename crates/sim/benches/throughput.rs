//! Per-stage throughput (criterion): exp, quantize, gevm and gemm MACs, hex encoding, and the
//! whole kv-size 4096 case functional versus cycle model; and the machine's int8 multiply peak
//! and clock, measured, for the MAC figures to be read against. `make bench` runs these and puts
//! the figures next to the machine's ceilings (scripts/bench.py).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hw_types::{Bf16, Fp32, MxInt8Block, RoundingMode};
use hw_units::config::{AccKind, HwConfig};
use hw_units::mac::block_matmul;
use hw_units::quantize::Quantizer;
use hw_units::units::Units;
use sim::ops::{Dims, OpCase, OpKind};
use sim::softmax::{self, Inputs, Params};
use sim::tensor::{DumpRef, Tensor};
use std::hint::black_box;

fn stages(c: &mut Criterion) {
    let p = Params::default();
    // The inputs of `sim run --kv-size 4096`: v's 16.7 M draws quantized to 524,288 blocks.
    let mut g = c.benchmark_group("generate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4096 * 32 * 128));
    g.bench_function("softmax_inputs_kv4096", |b| {
        b.iter(|| Inputs::generate(4096, 0, &p))
    });
    g.finish();
    let inputs = Inputs::generate(4096, 0, &p);
    let units = Units::new(&HwConfig::reference());

    let mut g = c.benchmark_group("exp");
    g.throughput(Throughput::Elements(inputs.qk_t.data.len() as u64));
    g.bench_function("rom_lookup", |b| {
        b.iter(|| {
            inputs
                .qk_t
                .data
                .iter()
                .map(|&x| units.exp.eval(x))
                .fold(0u16, |a, y| a ^ y.value.0)
        })
    });
    g.finish();

    let vals: Vec<Fp32> = inputs.qk_t.data.iter().map(|x| x.to_fp32()).collect();
    let mut g = c.benchmark_group("quantize");
    g.throughput(Throughput::Elements((vals.len() / 32) as u64));
    g.bench_function("blocks", |b| {
        b.iter(|| {
            vals.chunks(32)
                .map(|ch| {
                    MxInt8Block::quantize(ch, RoundingMode::NearestAway)
                        .value
                        .scale
                        .0 as u32
                })
                .sum::<u32>()
        })
    });
    // The vector quantizers this processor runs, on the same blocks.
    for q in Quantizer::available() {
        if q == Quantizer::PORTABLE {
            continue;
        }
        g.bench_function(format!("mxint8-{}", q.name()), |b| {
            b.iter(|| {
                vals.chunks(32)
                    .map(|ch| q.mxint8(ch, RoundingMode::NearestAway).value.scale.0 as u32)
                    .sum::<u32>()
            })
        });
    }
    g.finish();

    // Every MX format's quantizer on the same blocks (floor, the format's default rounding).
    let mut g = c.benchmark_group("quantize_mx");
    g.throughput(Throughput::Elements((vals.len() / 32) as u64));
    for f in hw_types::MX_FORMATS {
        g.bench_function(f.name, |b| {
            b.iter(|| {
                vals.chunks(32)
                    .map(|ch| {
                        let r = f.quantize(ch, hw_types::ScaleRule::Floor, f.default_rounding);
                        r.value.scale.0 as u32 + r.value.codes[0] as u32
                    })
                    .sum::<u32>()
            })
        });
        // The vector quantizers this processor runs, prepared for the format once.
        for q in Quantizer::available() {
            if q == Quantizer::PORTABLE {
                continue;
            }
            let mq = q.mx(&f, hw_types::ScaleRule::Floor, f.default_rounding);
            g.bench_function(format!("{}-{}", f.name, q.name()), |b| {
                b.iter(|| {
                    vals.chunks(32)
                        .map(|ch| {
                            let r = mq.quantize(ch);
                            r.value.scale.0 as u32 + r.value.codes[0] as u32
                        })
                        .sum::<u32>()
                })
            });
        }
    }
    g.finish();

    // gevm of one head at kv 4096: [1, 128] x [128, 128] blocks = 4096 * 128 MACs.
    let exp_blocks: Vec<MxInt8Block> = vals[..4096]
        .chunks(32)
        .map(|ch| MxInt8Block::quantize(ch, RoundingMode::NearestAway).value)
        .collect();
    let vh = &inputs.v.int8().expect("mxint8 v").blocks[..128 * 128];
    let mut g = c.benchmark_group("gevm");
    g.throughput(Throughput::Elements(4096 * 128));
    g.bench_function("kv4096_head", |b| {
        b.iter(|| {
            block_matmul::<Bf16>(
                black_box(&exp_blocks),
                vh,
                (1, 128, 128),
                &AccKind::Exact,
                RoundingMode::NearestEven,
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("gemm");
    g.sample_size(10);
    for n in [256usize, 1024] {
        let case = OpCase::generate(OpKind::Gemm, Dims { m: n, k: n, n }, 0);
        g.throughput(Throughput::Elements((n * n * n) as u64));
        g.bench_with_input(BenchmarkId::new("macs", n), &case, |b, case| {
            b.iter(|| {
                block_matmul::<Bf16>(
                    &case.operands[0].blocks,
                    &case.operands[1].blocks,
                    (n, n / 32, n),
                    &AccKind::Exact,
                    RoundingMode::NearestEven,
                )
            })
        });
    }
    g.finish();

    let t = Tensor::new(
        vec![1 << 22],
        (0..1u32 << 22).map(|i| Bf16(i as u16)).collect(),
    );
    let mut g = c.benchmark_group("hex");
    g.throughput(Throughput::Bytes(5 << 22));
    g.bench_function("bf16_encode", |b| {
        b.iter(|| sim::dump::to_bytes(DumpRef::Bf16(&t)).len())
    });
    g.finish();

    let mut g = c.benchmark_group("softmax_kv4096");
    g.sample_size(10);
    g.bench_function("functional", |b| {
        b.iter(|| softmax::run(inputs.clone(), &p).out.data[0])
    });
    let cfg = HwConfig::reference();
    g.bench_function("cycle", |b| {
        b.iter(|| {
            sim::cycle::simulate(inputs.clone(), &p, &cfg, &units, None)
                .unwrap()
                .1
                .total_cycles
        })
    });
    g.finish();
}

/// Eight independent `$insn ymm_i, ymm14, ymm15` per iteration, `iters` iterations: the issue rate
/// of one multiply instruction with nothing else in the way.
#[cfg(target_arch = "x86_64")]
macro_rules! multiply_loop {
    ($insn:literal, $iters:expr) => {
        // SAFETY: only run after AVX2 was detected; the loop touches only the named registers.
        unsafe {
            std::arch::asm!(
                "vpxor ymm14, ymm14, ymm14",
                "vpxor ymm15, ymm15, ymm15",
                "2:",
                concat!($insn, " ymm0, ymm14, ymm15"),
                concat!($insn, " ymm1, ymm14, ymm15"),
                concat!($insn, " ymm2, ymm14, ymm15"),
                concat!($insn, " ymm3, ymm14, ymm15"),
                concat!($insn, " ymm4, ymm14, ymm15"),
                concat!($insn, " ymm5, ymm14, ymm15"),
                concat!($insn, " ymm6, ymm14, ymm15"),
                concat!($insn, " ymm7, ymm14, ymm15"),
                "dec {n}",
                "jnz 2b",
                n = inout(reg) $iters => _,
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm14") _, out("ymm15") _,
                options(nostack, nomem),
            )
        }
    };
}

/// The multiply ceilings of this machine, measured rather than taken from a data sheet: every
/// core issuing only its widest int8 multiply (AVX2 `vpmaddubsw`, 32 products) or the i16
/// multiply the exact GEMM kernel uses (`vpmaddwd`, 16 products); and the clock, as a chain of
/// dependent adds (one per cycle). Their ratio is the multiplies per cycle the cores really
/// sustain, which on cores that execute 256-bit instructions as two 128-bit halves is half the
/// instruction set's lanes.
#[cfg(target_arch = "x86_64")]
fn peak(c: &mut Criterion) {
    const ITERS: u64 = 1 << 20;
    if !std::is_x86_feature_detected!("avx2") {
        return;
    }
    let mut g = c.benchmark_group("peak");
    g.sample_size(10);
    let threads = rayon::current_num_threads() as u64;
    g.throughput(Throughput::Elements(threads * ITERS * 8 * 32));
    g.bench_function("int8_mul", |b| {
        b.iter(|| rayon::broadcast(|_| multiply_loop!("vpmaddubsw", ITERS)))
    });
    g.throughput(Throughput::Elements(threads * ITERS * 8 * 16));
    g.bench_function("i16_mul", |b| {
        b.iter(|| rayon::broadcast(|_| multiply_loop!("vpmaddwd", ITERS)))
    });
    g.throughput(Throughput::Elements(ITERS * 16));
    // On every core at once, like the multiplies (so under the same all-core clock).
    g.bench_function("clock", |b| {
        b.iter(|| {
            rayon::broadcast(|_| {
                // SAFETY: plain register arithmetic.
                unsafe {
                    std::arch::asm!(
                        "2:",
                        "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                        "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                        "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                        "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                        "dec {n}",
                        "jnz 2b",
                        n = inout(reg) ITERS => _,
                        x = inout(reg) 0u64 => _,
                        options(nostack, nomem),
                    )
                }
            })
        })
    });
    g.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn peak(_: &mut Criterion) {}

criterion_group!(benches, stages, peak);
criterion_main!(benches);
