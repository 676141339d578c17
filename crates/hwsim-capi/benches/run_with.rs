//! The baselines of `make bench`'s hwsim_softmax_v row: `sim::softmax::run_with` on the kv-4096
//! case, the computation `sim run` does between generating the inputs and writing the dumps,
//! timed the way examples/c/bench.c times the C call (one warm-up, then the fastest of 11), in
//! two forms: `run_with(inputs.clone())`, as crates/sim/benches/throughput.rs times
//! `softmax_kv4096/functional` (the inputs are copied once, as the C call copies the caller's
//! arrays), and `run_with` alone, with the copy outside the timed region. scripts/bench.py runs
//! this and the C benchmark in alternation, so all see the same machine load.

use hw_units::config::HwConfig;
use hw_units::units::Units;
use sim::softmax::{run_with, Inputs, Params};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let p = Params::default();
    let inputs = Inputs::generate(4096, 0, &p);
    let units = Units::new(&HwConfig::reference());
    let (mut with_copy, mut alone) = (Duration::MAX, Duration::MAX);
    for run in 0..12 {
        let t0 = Instant::now();
        black_box(run_with(inputs.clone(), &p, &units));
        let t1 = t0.elapsed();
        let copy = inputs.clone();
        let t0 = Instant::now();
        black_box(run_with(copy, &p, &units));
        let t2 = t0.elapsed();
        if run > 0 {
            with_copy = with_copy.min(t1);
            alone = alone.min(t2);
        }
    }
    println!("run_with_clone_seconds={:.6}", with_copy.as_secs_f64());
    println!("run_with_seconds={:.6}", alone.as_secs_f64());
}
