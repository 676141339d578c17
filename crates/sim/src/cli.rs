//! Command-line interface (clap derive) and the commands behind it.

use crate::case::CaseWriter;
use crate::manifest::Manifest;
use crate::softmax::{self, Inputs, Params};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use hw_types::RoundingMode;
use std::path::PathBuf;
use std::time::Instant;

/// Bit-exact golden model of the llama-2-7b softmax_v attention tail (exp, reduce-sum, MXINT8
/// quantization, MXINT8 vector-matrix product, reciprocal, scaling).
///
/// Every stage is the exact mathematical value followed by one rounding (docs/numerics.md); every
/// tensor is dumped as `$readmemh`-ready hex named like the reference dataset (docs/dump-format.md).
#[derive(Parser, Debug)]
#[command(name = "sim", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run softmax_v on one case and write its eight stage dumps plus manifest.json.
    ///
    /// Writes OUT/kv-size-N_seed-S/ (or, with --inputs, OUT/<input folder name>/) atomically: the
    /// folder appears only when complete.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Key-value sequence length (seq_kv_len) of the generated case.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub kv_size: u64,
    /// Seed of the input generator (SplitMix64, docs/numerics.md §5).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder; the case folder is created inside it.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Take softmaxed_v.qk_T and softmaxed_v.v from this case folder instead of generating them.
    #[arg(long, conflicts_with_all = ["kv_size", "seed"])]
    pub inputs: Option<PathBuf>,
    /// Number of attention heads.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub heads: u64,
    /// Head dimension (columns of v).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub head_dim: u64,
    /// Rounding of MXINT8 elements in the quantizer: nearest-away (default) or nearest-even.
    #[arg(long, default_value = "nearest-away", value_parser = parse_element_rounding)]
    pub element_rounding: RoundingMode,
}

fn parse_element_rounding(s: &str) -> Result<RoundingMode, String> {
    let m: RoundingMode = s.parse()?;
    match m {
        RoundingMode::NearestAway | RoundingMode::NearestEven => Ok(m),
        _ => Err(format!(
            "element rounding must be nearest-away or nearest-even, not {m}"
        )),
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(a) => run_softmax(a),
    }
}

fn run_softmax(a: RunArgs) -> Result<()> {
    let t0 = Instant::now();
    let params = Params {
        heads: a.heads as usize,
        head_dim: a.head_dim as usize,
        element_rounding: a.element_rounding,
    };
    let (inputs, case, seed) = match &a.inputs {
        Some(dir) => {
            let inputs = Inputs::read(dir, &params)?;
            let name = dir
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| format!("kv-size-{}_inputs", inputs.kv_size()));
            (inputs, name, None)
        }
        None => {
            let kv = a.kv_size as usize;
            (
                Inputs::generate(kv, a.seed, &params),
                format!("kv-size-{kv}_seed-{}", a.seed),
                Some(a.seed),
            )
        }
    };
    let kv = inputs.kv_size();
    let stages = softmax::run(inputs, &params);
    let mut m = Manifest::new("softmax_v", &case, "reference");
    m.kv_size = Some(kv);
    m.seed = seed;
    m.params
        .insert("num_heads".into(), serde_json::json!(params.heads));
    m.params
        .insert("head_dim".into(), serde_json::json!(params.head_dim));
    m.params.insert(
        "element_rounding".into(),
        serde_json::json!(params.element_rounding.name()),
    );
    let mut w = CaseWriter::create(&a.out, m)?;
    let mut rows = Vec::new();
    for (name, d) in stages.dumps() {
        let written = w.write(name, d)?;
        rows.push((name, d.dtype().name(), d.shape().to_vec(), written.lines));
    }
    let (dir, bytes) = w.finish()?;
    println!("case     {case}");
    println!(
        "params   heads={} head_dim={} kv_size={kv} element_rounding={}",
        params.heads, params.head_dim, params.element_rounding
    );
    println!("stages   exp -> reduce_sum -> quantize -> gevm -> reciprocal -> scale");
    for (name, dtype, shape, lines) in rows {
        println!(
            "  {name:<24} {dtype:<7} {:<20} {lines:>9} lines",
            format!("{shape:?}")
        );
    }
    println!(
        "wrote    {} ({:.1} MB) in {:.3} s",
        dir.display(),
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
