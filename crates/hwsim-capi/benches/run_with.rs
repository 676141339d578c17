//! The baseline of `make bench`'s hwsim_softmax_v row: `sim::softmax::run_with` on the kv-4096
//! case, the computation `sim run` does between generating the inputs and writing the dumps,
//! timed the way examples/c/bench.c times the C call (one warm-up, then the fastest of 11).
//! The inputs are cloned outside the timed region: `sim run` moves its inputs in, while the C
//! call must copy the caller's arrays, and that copy counts against it. scripts/bench.py runs
//! this and the C benchmark in alternation, so both see the same machine load.

use hw_units::config::HwConfig;
use hw_units::units::Units;
use sim::softmax::{run_with, Inputs, Params};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let p = Params::default();
    let inputs = Inputs::generate(4096, 0, &p);
    let units = Units::new(&HwConfig::reference());
    let fastest = (0..12)
        .map(|_| {
            let copy = inputs.clone();
            let t0 = Instant::now();
            black_box(run_with(copy, &p, &units));
            t0.elapsed().as_secs_f64()
        })
        .skip(1)
        .fold(f64::INFINITY, f64::min);
    println!("run_with_seconds={fastest:.6}");
}
