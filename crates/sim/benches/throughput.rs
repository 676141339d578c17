//! Per-stage throughput (criterion): exp, quantize, gevm and gemm MACs, hex encoding, and the
//! whole kv-size 4096 case functional versus cycle model; and the machine's int8 and i16 multiply
//! rates (and, for information, its clock), measured, for the MAC figures to be read against. `make bench` runs these and puts
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

/// A function running `iters` iterations of twelve independent `$insn r_i, r14, r15` (`r` the
/// register width, `ymm` or `zmm`): the issue rate of one multiply instruction with nothing else
/// in the way. Twelve chains cover the accumulating (VNNI) forms' latency of 5 cycles on two
/// ports. Compiled with `$feat`; the caller checks the processor first.
#[cfg(target_arch = "x86_64")]
macro_rules! multiply_loop {
    ($name:ident, $feat:literal, $insn:literal, $r:literal) => {
        /// # Safety
        /// The processor must have the instruction's features (see the caller's detection).
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name(iters: u64) {
            macro_rules! op {
                ($i:literal) => {
                    concat!($insn, " ", $r, $i, ", ", $r, "14, ", $r, "15")
                };
            }
            // SAFETY: the caller checked the features; the loop touches only vector registers
            // (all clobbered, as the C ABI allows) and the counter.
            unsafe {
                std::arch::asm!(
                    "vpxor xmm14, xmm14, xmm14",
                    "vpxor xmm15, xmm15, xmm15",
                    "2:",
                    op!(0), op!(1), op!(2), op!(3), op!(4), op!(5),
                    op!(6), op!(7), op!(8), op!(9), op!(10), op!(11),
                    "dec rcx",
                    "jnz 2b",
                    inout("rcx") iters => _,
                    clobber_abi("C"),
                    options(nostack, nomem),
                )
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod probes {
    multiply_loop!(vpmaddubsw_ymm, "avx2", "vpmaddubsw", "ymm");
    multiply_loop!(vpmaddwd_ymm, "avx2", "vpmaddwd", "ymm");
    multiply_loop!(vpmaddubsw_zmm, "avx512f,avx512bw", "vpmaddubsw", "zmm");
    multiply_loop!(vpmaddwd_zmm, "avx512f,avx512bw", "vpmaddwd", "zmm");
    multiply_loop!(vpdpbusd_zmm, "avx512f,avx512vnni", "vpdpbusd", "zmm");
    multiply_loop!(vpdpwssd_zmm, "avx512f,avx512vnni", "vpdpwssd", "zmm");

    /// `iters` iterations of sixteen dependent `imul x, x`: 48 cycles each at the 3-cycle
    /// latency of a 64-bit multiply, which no renamer can eliminate (a chain of `add x, 1` is
    /// executed at rename on recent Intel cores and reads about 9.4 GHz).
    pub(crate) fn imul_chain(iters: u64) {
        // SAFETY: plain register arithmetic.
        unsafe {
            std::arch::asm!(
                "2:",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}", "imul {x}, {x}",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) iters => _,
                x = inout(reg) 3u64 => _,
                options(nostack, nomem),
            )
        }
    }
}

/// The multiply ceilings of this machine, measured rather than taken from a data sheet: every
/// core issuing only one multiply instruction, for each int8 multiply the processor has (AVX2
/// `vpmaddubsw` ymm, 32 products; AVX-512 `vpmaddubsw` zmm and VNNI `vpdpbusd` zmm, 64) and each
/// i16 multiply an exact GEMM kernel can use (`vpmaddwd` ymm, 16; `vpmaddwd` zmm and VNNI
/// `vpdpwssd` zmm, 32). bench.py takes the highest int8 rate as the int8 ceiling, in multiplies
/// per second with no clock factor. The clock (a chain of dependent `imul`, 3 cycles each) is for
/// information only: on a virtual machine nothing guarantees it.
#[cfg(target_arch = "x86_64")]
fn peak(c: &mut Criterion) {
    const ITERS: u64 = 1 << 20;
    if !std::is_x86_feature_detected!("avx2") {
        return;
    }
    let avx512bw =
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
    let vnni =
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni");
    let mut g = c.benchmark_group("peak");
    g.sample_size(10);
    let threads = rayon::current_num_threads() as u64;
    // (name, products per instruction, present, loop)
    type Probe = (&'static str, u64, bool, unsafe fn(u64));
    let probes: [Probe; 6] = [
        ("int8_mul", 32, true, probes::vpmaddubsw_ymm),
        ("i16_mul", 16, true, probes::vpmaddwd_ymm),
        ("int8_mul_zmm", 64, avx512bw, probes::vpmaddubsw_zmm),
        ("i16_mul_zmm", 32, avx512bw, probes::vpmaddwd_zmm),
        ("int8_dpbusd", 64, vnni, probes::vpdpbusd_zmm),
        ("i16_dpwssd", 32, vnni, probes::vpdpwssd_zmm),
    ];
    for (name, lanes, present, f) in probes {
        if !present {
            continue;
        }
        g.throughput(Throughput::Elements(threads * ITERS * 12 * lanes));
        // SAFETY: `present` is the detection of the loop's features.
        g.bench_function(name, |b| {
            b.iter(|| rayon::broadcast(|_| unsafe { f(ITERS) }))
        });
    }
    // Cycles of one core; on every core at once, like the multiplies (so under the same
    // all-core clock).
    g.throughput(Throughput::Elements(ITERS * 16 * 3));
    g.bench_function("clock", |b| {
        b.iter(|| rayon::broadcast(|_| probes::imul_chain(ITERS)))
    });
    g.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn peak(_: &mut Criterion) {}

criterion_group!(benches, stages, peak);
criterion_main!(benches);
