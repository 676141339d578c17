//! The Rust work behind `hwsim.run_case(4096, 0)` and `hwsim.exp_bf16` without Python: what
//! `sim run` computes before it writes (generation and the pipeline), and the exp unit over a
//! million elements. scripts/bench.py sets the package's timings beside these.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hw_types::Bf16;
use hw_units::config::HwConfig;
use hw_units::units::Units;
use sim::softmax::{run_with, Inputs, Params};

fn core(c: &mut Criterion) {
    let p = Params::default();
    let units = Units::new(&HwConfig::reference());
    let mut g = c.benchmark_group("hwsim_core");
    g.sample_size(10);
    g.bench_function("run_case_kv4096", |b| {
        b.iter(|| run_with(Inputs::generate(4096, 0, &p), &p, &units).out.data[0])
    });
    let x: Vec<Bf16> = (0..1u32 << 20).map(|i| Bf16((i * 40503) as u16)).collect();
    g.throughput(Throughput::Elements(x.len() as u64));
    g.bench_function("exp_1m", |b| {
        b.iter(|| {
            x.iter()
                .map(|&v| units.exp.eval(v).value.0 as u64)
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
