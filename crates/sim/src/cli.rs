//! Command-line interface (clap derive) and the commands behind it.

use crate::case::CaseWriter;
use crate::check::{self, CheckOptions};
use crate::cycle;
use crate::diff::{self, Source};
use crate::gen::Dist;
use crate::layout::{self, Hints};
use crate::manifest::Manifest;
use crate::mx_op::{self, MxChoice, MxOpCase};
use crate::ops::{self, Dims, OpCase, OpKind, OutDtype};
use crate::quantize_op::QuantizeCase;
use crate::rope::{RopeParams, RopeTables};
use crate::softmax::{self, Inputs, Params};
use crate::sweep;
use crate::tensor::DumpRef;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use hw_types::{Bf16, FlagCounts, MxFormat, RoundingMode, ScaleRule};
use hw_units::config::HwConfig;
use hw_units::units::Units;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Print to stdout, ignoring a closed pipe (`sim ... | head` must not panic; the work still
/// completes and its files are still written).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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
    /// Run one MX operation (dot, gevm, gemm) or the quantizer alone (quantize).
    ///
    /// Writes OUT/<op>_m-M[_k-K][_n-N]_seed-S/ with <op>.<operand> dumps (dot.a, dot.b;
    /// gevm.vector, gevm.matrix; gemm.input, gemm.other), <op>.output and manifest.json. Blocks of 32
    /// run along the reduction axis (docs/numerics.md §6). quantize writes quantize.input (BF16
    /// [m]) and quantize.output. Operands are MXINT8 unless --mx-format names other MX formats
    /// (docs/numerics.md §8), which the folder name then ends with (and _rule-R for a
    /// --scale-rule other than floor). A non-uniform --dist adds _dist-D to the folder name.
    Op(OpArgs),
    /// Write the RoPE constant tables (BF16 and FP32 freq, cos, sin) or report BF16's error.
    ///
    /// Writes OUT/rope/ with rope.{freq,cos,sin}_{bf16,fp32}, shape [1, max_pos, head_dim/2],
    /// position-major, every value correctly rounded (docs/numerics.md §7).
    Rope(RopeArgs),
    /// Compare two case folders stage by stage and report the first divergence.
    ///
    /// Walks the stages in pipeline order and reports the first divergent stage and element (file,
    /// line, tensor coordinates, expected and actual hex, decoded values, ULP distance), then per
    /// stage the count of differing elements. A stage whose inputs already differed is marked
    /// `downstream`: look at the first DIFFERS stage, the others are echoes. Folders holding many
    /// cases (kv-size-*, op and rope folders) are compared case by case with a summary table.
    /// Exit code 0: all equal; 1: differences; 2: unusable input.
    Diff(DiffArgs),
    /// Generate a sweep of softmax_v cases (a dataset), in parallel, resumable, shardable.
    ///
    /// Writes OUT/kv-size-N_seed-S/ for every kv-size and seed, and OUT/index.json listing every
    /// case with its manifest hash. Cases already complete (all manifest hashes verify) are
    /// skipped, so an interrupted sweep resumes where it stopped. --shard I/N takes every N-th case
    /// from I (0-based) for job arrays, --shard auto/N takes I from the scheduler's array task
    /// (docs/scaling.md); each shard writes index.shard-I-of-N.json, and --merge OUT joins them
    /// into OUT/index.json. On SIGTERM or SIGINT no new case is started, the cases in flight are
    /// finished and the shard's index is written.
    ///
    /// Exit code 0: complete; 1: --merge found missing cases; 2: unusable input; 3: stopped by a
    /// signal (run the same command again to finish).
    Gen(GenArgs),
    /// Step softmax_v through the cycle model and print a per-cycle table (and a VCD).
    ///
    /// Rows show, for each unit that is valid or busy in a cycle, its valid and busy bits, the
    /// index of the element/block/column, the data register in hex and its decoded value.
    Trace(TraceArgs),
    /// Show the effective hardware description (a profile or a --config file) as JSON.
    Config(ConfigArgs),
    /// Write a unit's lookup table as $readmemh hex plus a JSON description, for the RTL to load.
    ///
    /// Writes OUT/<unit>_lut.hex (the ROM words), OUT/<unit>_lut.json (entries, word width, bit
    /// fields, how the index is formed and how an entry becomes the result) and
    /// OUT/<unit>_outputs.hex (the unit's result for every one of the 65,536 BF16 inputs, line x+1
    /// for input pattern x: the exhaustive vectors to check an RTL implementation against).
    ExportLut(ExportLutArgs),
    /// Measure functional coverage: which corners of docs/coverage.md a set of cases reaches.
    ///
    /// Reads every case folder under each PATH (recursively: the simulator's cases or a
    /// testbench's own dumps) and prints, per bin, its hit count and the first case and element
    /// that hit it, then the total (`hit 41 of 96 bins`). Bins are evaluated from the folders'
    /// own dumps with the reference rules of docs/numerics.md; a folder is covered for the stages
    /// it has, and the report lists the files it lacks. Exit code 0; 1 with --require when a
    /// required bin is unhit; 2 on unusable input.
    Cover(CoverArgs),
    /// Write the directed corner suite: one small case folder per named scenario.
    ///
    /// Each case's manifest names its scenario and the coverage bins it targets; together the
    /// cases hit every bin of docs/coverage.md (`sim cover DIR --require all` proves it).
    Corners(CornersArgs),
    /// Recompute every stage of a case folder from its own inputs and compare with its dumps.
    ///
    /// Prints PASS or FAIL per stage (with the first divergence). Parameters come from the
    /// folder's manifest.json, else from the options. Given a folder of cases (a regression:
    /// case folders found recursively), checks each and prints one summary row per case.
    /// Exit code 0: all PASS; 1: a FAIL; 2: unusable input.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct ShapeHints {
    /// Heads of a softmax_v folder without manifest.json.
    #[arg(long, default_value_t = 32)]
    pub heads: usize,
    /// Head dimension of a softmax_v or rope folder without manifest.json.
    #[arg(long, default_value_t = 128)]
    pub head_dim: usize,
    /// Mismatches listed per stage.
    #[arg(long, default_value_t = 10)]
    pub max_errors: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ShapeHints {
    fn hints(&self) -> Result<Hints> {
        if self.heads == 0 || self.head_dim == 0 {
            bail!("--heads and --head-dim must be at least 1");
        }
        Ok(Hints {
            heads: self.heads,
            head_dim: self.head_dim,
        })
    }
}

#[derive(Args, Debug)]
pub struct CoverArgs {
    /// Case folders or folders of cases (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Exit 1 unless every bin is hit (`all`) or every bin whose name starts with one of these
    /// comma-separated prefixes (e.g. `qk.,sum.,gevm.`).
    #[arg(long, value_delimiter = ',')]
    pub require: Vec<String>,
    /// Element rounding of the quantizer for folders whose manifest does not say.
    #[arg(long, default_value = "nearest-away", value_parser = parse_element_rounding)]
    pub element_rounding: RoundingMode,
    /// Output rounding of op folders whose manifest does not say.
    #[arg(long, default_value = "nearest-even")]
    pub rounding: RoundingMode,
    /// Heads of a softmax_v folder without manifest.json.
    #[arg(long, default_value_t = 32)]
    pub heads: usize,
    /// Head dimension of a softmax_v folder without manifest.json.
    #[arg(long, default_value_t = 128)]
    pub head_dim: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CornersArgs {
    /// Output folder: one case folder per scenario.
    #[arg(long, default_value = "corners")]
    pub out: PathBuf,
    /// List the scenarios and their target bins instead of writing them.
    #[arg(long)]
    pub list: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The reference folder (for example a golden case from `sim run`).
    pub expected: PathBuf,
    /// The folder to check (for example your testbench's dumps).
    pub actual: PathBuf,
    #[command(flatten)]
    pub opts: ShapeHints,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// kv-sizes: N, A..B, A..=B, A..=B:STEP, comma-separated (e.g. 1..=4096:64,100).
    #[arg(long, required_unless_present = "merge")]
    pub kv_sizes: Option<sweep::List>,
    /// Seeds, same syntax (e.g. 0,1 or 0..8).
    #[arg(long, default_value = "0")]
    pub seeds: sweep::List,
    /// Output folder.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Take every N-th case starting at I (0-based): I/N. auto/N: I from the array task id
    /// (SLURM_ARRAY_TASK_ID from 0, or LSB_JOBINDEX / SGE_TASK_ID from 1); N is never read
    /// from the environment.
    #[arg(long)]
    pub shard: Option<crate::shard::ShardArg>,
    /// Merge the shard indexes in this folder into its index.json, verifying every case; the
    /// missing or damaged ones are listed with the shard to run again (exit 1).
    #[arg(long, value_name = "OUT", conflicts_with_all = [
        "kv_sizes", "seeds", "out", "shard", "format", "element_rounding", "dist", "heads",
        "head_dim",
    ])]
    pub merge: Option<PathBuf>,
    /// hex ($readmemh text, default), bin (raw little-endian .bin files) or both.
    #[arg(long, value_enum, default_value_t = sweep::Format::Hex)]
    pub format: sweep::Format,
    #[command(flatten)]
    pub formats: FormatArgs,
    /// Input distribution: uniform (the dataset's), corners or mixed (docs/numerics.md §5.1).
    #[arg(long, value_enum, default_value_t = Dist::Uniform)]
    pub dist: Dist,
    /// Number of attention heads.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub heads: u64,
    /// Head dimension (columns of v).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub head_dim: u64,
    /// Also compare block formats over the sweep (uniform inputs only): run every case once per
    /// exp/v pair (e.g. mxint8/mxint8,mxfp8-e4m3/mxfp4-e2m1) and measure out and scaled_v against
    /// the unquantized result, as `sim run --compare-formats` does. Writes
    /// OUT/compare-formats.txt (a table per case) and OUT/compare-formats.json, and prints a
    /// summary per pair.
    #[arg(long, conflicts_with_all = ["shard", "merge", "dist"])]
    pub compare_formats: Option<String>,
    /// With --compare-formats: draw SQNR (dB) of out against kv-size, one line per pair, as an
    /// SVG here.
    #[arg(long, requires = "compare_formats")]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    #[arg(long, default_value_t = 4)]
    pub kv_size: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Heads to simulate (the case keeps the generator's first heads).
    #[arg(long, default_value_t = 32)]
    pub heads: usize,
    #[command(flatten)]
    pub formats: FormatArgs,
    #[command(flatten)]
    pub hw: HwArgs,
    /// Cycles to show: A..B (B excluded) or A..=B.
    #[arg(long, default_value = "0..200")]
    pub cycles: String,
    /// Units to show, comma-separated (exp, reduce, quant, mac, recip, mul); all by default.
    #[arg(long, value_delimiter = ',')]
    pub unit: Vec<String>,
    /// Also write a VCD waveform of the traced cycles here.
    #[arg(long)]
    pub vcd: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Only `show` exists.
    #[arg(value_parser = ["show"])]
    pub action: String,
    #[command(flatten)]
    pub hw: HwArgs,
}

#[derive(Args, Debug)]
pub struct ExportLutArgs {
    /// exp or recip.
    #[arg(long, value_parser = ["exp", "recip"])]
    pub unit: String,
    #[command(flatten)]
    pub hw: HwArgs,
    /// Output folder: writes <unit>_lut.hex, <unit>_lut.json and <unit>_outputs.hex.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The case folder to verify, or a folder of case folders (searched recursively).
    pub case: PathBuf,
    /// Element rounding of the quantizer when the manifest does not say.
    #[arg(long, default_value = "nearest-away", value_parser = parse_element_rounding)]
    pub element_rounding: RoundingMode,
    /// Output rounding of an op folder when the manifest does not say.
    #[arg(long, default_value = "nearest-even")]
    pub rounding: RoundingMode,
    /// Hardware description of a softmax_v folder: by default the one its manifest records,
    /// else the reference profile.
    #[command(flatten)]
    pub hw: HwArgs,
    #[command(flatten)]
    pub opts: ShapeHints,
}

#[derive(Args, Debug)]
pub struct OpArgs {
    /// Which operation: the MXINT8 dot, gevm or gemm, or the quantizer on its own (quantize).
    #[arg(value_enum)]
    pub op: OpChoice,
    /// Reduction length of dot and gevm; rows of gemm's input; length of quantize's vector.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    pub m: Option<u64>,
    /// Columns of gevm's matrix; reduction length of gemm.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    pub k: Option<u64>,
    /// Columns of gemm's other operand.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    pub n: Option<u64>,
    /// Seed of the input generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder; the case folder is created inside it.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Read the operand dumps from this folder instead of generating them (sizes from its
    /// manifest.json, or from --m/--k/--n).
    #[arg(long, conflicts_with = "seed")]
    pub inputs: Option<PathBuf>,
    /// Output dtype.
    #[arg(long, value_enum, default_value_t = OutDtype::Bf16)]
    pub out_dtype: OutDtype,
    /// Rounding of the output: nearest-even, nearest-away, toward-zero, toward-pos, toward-neg.
    #[arg(long, default_value = "nearest-even")]
    pub rounding: RoundingMode,
    /// Element rounding of quantize, and of the generated operands of dot, gevm and gemm:
    /// nearest-away or nearest-even [default: nearest-away for mxint8, nearest-even for the
    /// other MX formats].
    #[arg(long, value_parser = parse_element_rounding)]
    pub element_rounding: Option<RoundingMode>,
    /// Input distribution of generated operands (docs/numerics.md §5.1).
    #[arg(long, value_enum, default_value_t = Dist::Uniform, conflicts_with = "inputs")]
    pub dist: Dist,
    /// Block format of the operands: one name for both, or A,B for the first (a, vector,
    /// input) and the second (b, matrix, other): mxint8, mxfp8-e4m3, mxfp8-e5m2, mxfp6-e3m2,
    /// mxfp6-e2m3, mxfp4-e2m1 (docs/numerics.md §8) [default: the --inputs manifest's, else
    /// mxint8].
    #[arg(long, value_parser = mx_op::parse_formats)]
    pub mx_format: Option<[MxFormat; 2]>,
    /// How a block's shared exponent follows from its largest magnitude: floor (OCP MX),
    /// ceil, even or rceil (docs/numerics.md §8) [default: the --inputs manifest's, else floor].
    #[arg(long)]
    pub scale_rule: Option<ScaleRule>,
    /// The hardware description whose MAC accumulator sums the block products of dot, gevm
    /// and gemm (MXINT8 operands with the floor rule; the other formats are summed exactly).
    #[command(flatten)]
    pub hw: HwArgs,
}

impl OpArgs {
    /// The operand formats: --mx-format, else the --inputs manifest's `params.mx_format`, else
    /// MXINT8.
    fn mx_choice(&self, manifest: Option<&Manifest>) -> Result<MxChoice> {
        let from_manifest = manifest
            .and_then(|m| m.params.get("mx_format"))
            .and_then(|v| v.as_str())
            .map(mx_op::parse_formats)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let formats = self
            .mx_format
            .or(from_manifest)
            .unwrap_or([hw_types::mx::MXINT8; 2]);
        let rule = match (self.scale_rule, manifest) {
            (Some(r), _) => r,
            (None, Some(m)) => crate::check::mx_choice(Some(m), Path::new("manifest.json"))?.rule,
            (None, None) => ScaleRule::Floor,
        };
        Ok(MxChoice {
            formats,
            rule,
            element_rounding: self.element_rounding,
        })
    }
}

/// The operations of `sim op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OpChoice {
    Dot,
    Gevm,
    Gemm,
    Quantize,
}

#[derive(Args, Debug)]
pub struct RopeArgs {
    /// Output folder; the tables go to OUT/rope/.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// RoPE base (theta).
    #[arg(long, default_value_t = 10000.0)]
    pub base: f64,
    /// Head dimension (a power of two); tables have head_dim/2 columns.
    #[arg(long, default_value_t = 128)]
    pub head_dim: usize,
    /// Maximum sequence length (rows of the tables).
    #[arg(long, default_value_t = 4096)]
    pub max_pos: usize,
    /// Print how far the BF16 tables are from the FP32 ones instead of writing dumps.
    #[arg(long)]
    pub report: bool,
    /// With --report: print JSON instead of a table.
    #[arg(long, requires = "report")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Key-value sequence length (seq_kv_len) of the generated case (v may hold up to 2^28 elements).
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
    #[command(flatten)]
    pub formats: FormatArgs,
    /// Input distribution: uniform (the dataset's), corners (special values, boundaries, ties,
    /// extreme MXINT8 blocks) or mixed (docs/numerics.md §5.1).
    #[arg(long, value_enum, default_value_t = Dist::Uniform, conflicts_with = "inputs")]
    pub dist: Dist,
    #[command(flatten)]
    pub hw: HwArgs,
    /// Run the cycle-by-cycle model (same dumps) and report cycles per unit.
    #[arg(long)]
    pub cycle: bool,
    /// Also run the reference profile and print, per stage, how many elements differ, the largest
    /// ULP distance and the largest relative error.
    #[arg(long)]
    pub compare: bool,
    /// Also run the same generated case (uniform inputs) with each exp/v format pair, e.g.
    /// mxint8/mxint8,mxfp8-e4m3/mxfp4-e2m1, and print how far each pair's out and scaled_v are
    /// from the unquantized result (float64 softmax and matmul of qk_T and the real v): max and
    /// mean relative error, RMS error, SQNR and the share of outputs more than 1, 2 and 8 BF16
    /// ulps away. The pairs use --scale-rule and --element-rounding.
    #[arg(long, conflicts_with_all = ["inputs", "dist"])]
    pub compare_formats: Option<String>,
    /// With --compare, --compare-formats or --cycle: print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// softmax_v's block formats (docs/numerics.md §3, §8).
#[derive(Args, Debug, Clone)]
pub struct FormatArgs {
    /// Block format of exp's quantization (dump softmaxed_v.exp_<F>): mxint8, mxfp8-e4m3,
    /// mxfp8-e5m2, mxfp6-e3m2, mxfp6-e2m3 or mxfp4-e2m1 [default: mxint8; with `sim run
    /// --inputs`, the folder's manifest's].
    #[arg(long, value_parser = mx_op::parse_format)]
    pub exp_format: Option<MxFormat>,
    /// Block format of v (drawn as reals, then quantized to it), same names [default: mxint8;
    /// with `sim run --inputs`, the folder's manifest's].
    #[arg(long, value_parser = mx_op::parse_format)]
    pub v_format: Option<MxFormat>,
    /// Scale rule of both quantizers: floor, ceil, even or rceil [default: floor; with `sim run
    /// --inputs`, the folder's manifest's].
    #[arg(long)]
    pub scale_rule: Option<ScaleRule>,
    /// Element rounding of the quantizers: nearest-away or nearest-even [default: nearest-away
    /// for mxint8, nearest-even for the other formats].
    #[arg(long, value_parser = parse_element_rounding)]
    pub element_rounding: Option<RoundingMode>,
}

impl FormatArgs {
    /// The formats and rounding: the options', else what `recorded` (an --inputs manifest's
    /// params) says, else the dataset's.
    pub fn params(&self, heads: usize, head_dim: usize, recorded: Option<&Path>) -> Result<Params> {
        let manifest = match recorded.map(|d| d.join(crate::manifest::FILE_NAME)) {
            Some(m) if m.exists() => Some(crate::manifest::Manifest::read(&m)?),
            _ => None,
        };
        let from = match &manifest {
            Some(m) => softmax::Formats::from_params(&m.params).map_err(anyhow::Error::msg)?,
            None => softmax::Formats::default(),
        };
        let recorded_rounding = manifest
            .as_ref()
            .and_then(|m| m.params.get("element_rounding"))
            .and_then(|v| v.as_str())
            .map(parse_element_rounding)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        Ok(Params {
            heads,
            head_dim,
            element_rounding: self.element_rounding.or(recorded_rounding),
            formats: softmax::Formats {
                exp: self.exp_format.unwrap_or(from.exp),
                v: self.v_format.unwrap_or(from.v),
                rule: self.scale_rule.unwrap_or(from.rule),
            },
        })
    }
}

/// Which hardware description to use.
#[derive(Args, Debug)]
pub struct HwArgs {
    /// A JSON hardware description (see `sim config show`).
    #[arg(long, conflicts_with = "profile")]
    pub config: Option<PathBuf>,
    /// A built-in profile: reference (every unit exact, the default) or narrow.
    #[arg(long, default_value = "reference")]
    pub profile: String,
}

impl HwArgs {
    pub fn load(&self) -> Result<HwConfig> {
        match &self.config {
            Some(path) => HwConfig::from_file(path).map_err(anyhow::Error::msg),
            None => HwConfig::profile(&self.profile).map_err(anyhow::Error::msg),
        }
    }
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

/// Run a command; the result is the process exit code (errors are exit code 2, in main).
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(a) => run_softmax(a).map(|_| 0),
        Command::Op(a) => run_op(a).map(|_| 0),
        Command::Rope(a) => run_rope(a).map(|_| 0),
        Command::Diff(a) => run_diff(a),
        Command::Check(a) => run_check(a),
        Command::Cover(a) => run_cover(a),
        Command::Corners(a) => run_corners(a).map(|_| 0),
        Command::Gen(a) => crate::gen_cli::run(a),
        Command::Trace(a) => run_trace(a).map(|_| 0),
        Command::Config(a) => {
            say!("{}", a.hw.load()?.to_json().trim_end());
            Ok(0)
        }
        Command::ExportLut(a) => run_export_lut(a).map(|_| 0),
    }
}

fn parse_cycles(s: &str) -> Result<std::ops::Range<u64>> {
    let bad = || anyhow::anyhow!("--cycles '{s}': expected A..B or A..=B");
    let (a, b, incl) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else {
        let (a, b) = s.split_once("..").ok_or_else(bad)?;
        (a, b, false)
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    Ok(a..b + incl as u64)
}

fn run_trace(a: TraceArgs) -> Result<()> {
    let cfg = a.hw.load()?;
    let params = a.formats.params(a.heads, 128, None)?;
    softmax::check_mac(&params, &cfg.mac.accumulator).map_err(anyhow::Error::msg)?;
    if a.heads == 0 || a.heads > 4096 {
        bail!("--heads must be 1..=4096");
    }
    params
        .check_kv(a.kv_size as usize)
        .map_err(anyhow::Error::msg)?;
    let units: Vec<cycle::Unit> = a
        .unit
        .iter()
        .map(|u| cycle::Unit::parse(u.trim()))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let filter = cycle::TraceFilter {
        cycles: parse_cycles(&a.cycles)?,
        units: units.clone(),
    };
    let inputs = Inputs::generate(a.kv_size as usize, a.seed, &params);
    let hw = Units::new(&cfg);
    let stdout = std::io::stdout();
    let mut table = crate::trace::TableSink::new(std::io::BufWriter::new(stdout.lock()));
    let shown = if units.is_empty() {
        cycle::Unit::ALL.to_vec()
    } else {
        units
    };
    let report = match &a.vcd {
        None => cycle::simulate(inputs, &params, &cfg, &hw, Some((&filter, &mut table)))?.1,
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut buf = std::io::BufWriter::new(file);
            let mut vcd = crate::trace::VcdSink::new(&mut buf, &shown)?;
            let mut both = Tee(&mut table, &mut vcd);
            let r = cycle::simulate(inputs, &params, &cfg, &hw, Some((&filter, &mut both)))?.1;
            vcd.finish()?;
            std::io::Write::flush(&mut buf)?;
            r
        }
    };
    table.finish()?;
    say!(
        "total {} cycles ({} per head, {} heads); profile {}",
        report.total_cycles,
        report.cycles_per_head,
        a.heads,
        cfg.name
    );
    Ok(())
}

/// Feed one trace to two sinks.
struct Tee<'a>(&'a mut dyn cycle::TraceSink, &'a mut dyn cycle::TraceSink);

impl cycle::TraceSink for Tee<'_> {
    fn cycle(&mut self, c: u64, p: &[cycle::Probe]) -> std::io::Result<()> {
        self.0.cycle(c, p)?;
        self.1.cycle(c, p)
    }
}

fn run_export_lut(a: ExportLutArgs) -> Result<()> {
    let cfg = a.hw.load()?;
    let units = Units::new(&cfg);
    let (rom, eval): (_, &dyn Fn(Bf16) -> Bf16) = match a.unit.as_str() {
        "exp" => (units.exp.rom(), &|x| units.exp.eval(x).value),
        _ => (units.recip.rom(), &|x| units.recip.eval(x).value),
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output folder {}", a.out.display()))?;
    let hex = rom.hex();
    let mut desc = rom.description.clone();
    desc["profile"] = cfg.name.clone().into();
    desc["sha256"] = crate::dump::sha256_hex(hex.as_bytes()).into();
    let outputs: String = (0..=u16::MAX)
        .map(|i| format!("{:04x}\n", eval(Bf16(i)).0))
        .collect();
    for (name, text, what) in [
        (format!("{}_lut.hex", a.unit), hex, "ROM words"),
        (
            format!("{}_lut.json", a.unit),
            serde_json::to_string_pretty(&desc)? + "\n",
            "ROM description",
        ),
        (
            format!("{}_outputs.hex", a.unit),
            outputs,
            "the unit's result for every BF16 input pattern",
        ),
    ] {
        let path = a.out.join(&name);
        let tmp = a.out.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename into {}", path.display()))?;
        say!("wrote    {} ({what})", path.display());
    }
    Ok(())
}

fn run_diff(a: DiffArgs) -> Result<i32> {
    let hints = a.opts.hints()?;
    for d in [&a.expected, &a.actual] {
        if !d.is_dir() {
            bail!("{}: not a folder", d.display());
        }
    }
    if !diff::is_case_dir(&a.expected) {
        let rows = diff::compare_tree(&a.expected, &a.actual, hints, a.opts.max_errors)?;
        if rows.is_empty() {
            bail!(
                "{}: no case folder or dumps to compare (expected softmaxed_v.*, <op>.*, rope.* files or case subfolders)",
                a.expected.display()
            );
        }
        print_rows(&rows, a.opts.json)?;
        return Ok(diff::rows_exit_code(&rows));
    }
    let layout = layout::detect(&a.expected, hints)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}: no softmax_v, op or rope dumps found",
            a.expected.display()
        )
    })?;
    let mut r = diff::compare(
        &layout,
        &Source::Dir(&a.expected),
        &Source::Dir(&a.actual),
        a.opts.max_errors,
    )?;
    let o = CheckOptions {
        hints,
        element_rounding: RoundingMode::NearestAway,
        rounding: RoundingMode::NearestEven,
        max_errors: a.opts.max_errors,
        config: None,
    };
    check::annotate_expected_flags(&mut r, &a.expected, &o);
    if a.opts.json {
        say!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let title = format!(
            "sim diff {} {} ({})",
            a.expected.display(),
            a.actual.display(),
            layout.op
        );
        say!("{}", r.render(&title).trim_end());
    }
    Ok(if r.equal { 0 } else { 1 })
}

/// A folder of cases' rows: the table, or JSON.
fn print_rows(rows: &[diff::CaseRow], json: bool) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(rows)?);
    } else {
        say!("{}", diff::render_rows(rows).trim_end());
    }
    Ok(())
}

fn run_cover(a: CoverArgs) -> Result<i32> {
    if a.heads == 0 || a.head_dim == 0 {
        bail!("--heads and --head-dim must be at least 1");
    }
    let bins: Vec<&str> = crate::cover::BINS.iter().map(|b| b.id).collect();
    for r in &a.require {
        if r != "all" && !bins.iter().any(|b| b.starts_with(r.as_str())) {
            bail!(
                "--require {r}: no bin starts with it (bins: {})",
                bins.join(", ")
            );
        }
    }
    let o = crate::cover::CoverOptions {
        hints: Hints {
            heads: a.heads,
            head_dim: a.head_dim,
        },
        element_rounding: a.element_rounding,
        rounding: a.rounding,
    };
    let c = crate::cover::cover(&a.paths, &o)?;
    if c.cases == 0 {
        bail!(
            "{}: no case folders found",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if a.json {
        say!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        say!("{}", c.render().trim_end());
    }
    let missed = c.missed(&a.require);
    if !missed.is_empty() {
        let names: Vec<&str> = missed.iter().map(|b| b.id).collect();
        eprintln!(
            "cover: {} required bin(s) unhit: {} (sim corners writes cases that hit them)",
            missed.len(),
            names.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}

fn run_corners(a: CornersArgs) -> Result<()> {
    let suite = crate::corners::suite();
    if a.list {
        for s in &suite {
            say!("{:<32} {}", s.name, s.targets.join(", "));
        }
        return Ok(());
    }
    for s in &suite {
        let written = s.write(&a.out)?;
        say!("wrote    {}", written.display());
    }
    say!("corners  {} scenarios in {}", suite.len(), a.out.display());
    Ok(())
}

fn run_check(a: CheckArgs) -> Result<i32> {
    let o = CheckOptions {
        hints: a.opts.hints()?,
        element_rounding: a.element_rounding,
        rounding: a.rounding,
        max_errors: a.opts.max_errors,
        config: if a.hw.config.is_some() || a.hw.profile != "reference" {
            Some(a.hw.load()?)
        } else {
            None
        },
    };
    if !a.case.is_dir() {
        bail!("{}: not a folder", a.case.display());
    }
    if !diff::is_case_dir(&a.case) {
        let rows = check::check_tree(&a.case, &o)?;
        if rows.is_empty() {
            bail!(
                "{}: no case folder found (expected softmaxed_v.*, <op>.*, rope.* files or case subfolders)",
                a.case.display()
            );
        }
        print_rows(&rows, a.opts.json)?;
        return Ok(diff::rows_exit_code(&rows));
    }
    let (layout, r) = check::check(&a.case, &o)?;
    if a.opts.json {
        say!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        say!("sim check {} ({})", a.case.display(), layout.op);
        for st in &r.stages {
            let verdict = if st.status == diff::Status::Equal {
                "PASS"
            } else {
                "FAIL"
            };
            let note = st
                .note
                .as_ref()
                .map_or(String::new(), |n| format!("  ({n})"));
            say!(
                "{verdict}  {:<26} {:>10} / {} differ{note}",
                st.file,
                st.differing,
                st.total
            );
        }
        if let Some(m) = &r.first_divergence {
            say!("first divergence: {} {}", m.file, m.location());
            say!(
                "  model {} ({})  file {} ({})",
                m.expected,
                m.expected_value,
                m.actual,
                m.actual_value
            );
        }
        say!("{}", if r.equal { "PASS" } else { "FAIL" });
    }
    Ok(if r.equal { 0 } else { 1 })
}

/// Write a case folder atomically and print its summary (after the caller's header lines): per
/// dump its dtype, shape and lines, and for computed dumps how many results raised each flag.
fn write_case(
    out: &std::path::Path,
    m: Manifest,
    header: &[String],
    dumps: &[(&str, DumpRef<'_>)],
    flags: &[(&str, FlagCounts)],
    t0: Instant,
) -> Result<()> {
    say!("case     {}", m.case);
    for line in header {
        say!("{line}");
    }
    let mut w = CaseWriter::create(out, m)?;
    // The dtype column fits the longest name (the MX formats' are longer than "mxint8").
    let dw = dumps
        .iter()
        .map(|(_, d)| d.dtype().name().len())
        .max()
        .unwrap_or(0)
        .max(7);
    say!(
        "  {:<24} {:<dw$} {:<20} {:>9}  {:>8} {:>9} {:>8} {:>8} {:>8}",
        "file",
        "dtype",
        "shape",
        "lines",
        "inexact",
        "underflow",
        "overflow",
        "div0",
        "invalid"
    );
    for ((name, d), written) in dumps.iter().zip(w.write_all(dumps)?) {
        let f = flags.iter().find(|(n, _)| n == name).map(|(_, c)| c);
        let counts = f.map_or("  (input)".to_string(), |c| {
            format!(
                "  {:>8} {:>9} {:>8} {:>8} {:>8}",
                c.inexact, c.underflow, c.overflow, c.div_by_zero, c.invalid
            )
        });
        say!(
            "  {name:<24} {:<dw$} {:<20} {:>9}{counts}",
            d.dtype().name(),
            format!("{:?}", d.shape()),
            written.lines
        );
    }
    w.set_flags(flags);
    let (dir, bytes) = w.finish()?;
    say!(
        "wrote    {} ({:.1} MB) in {:.3} s",
        dir.display(),
        bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_op(a: OpArgs) -> Result<()> {
    let op = match a.op {
        OpChoice::Dot => OpKind::Dot,
        OpChoice::Gevm => OpKind::Gevm,
        OpChoice::Gemm => OpKind::Gemm,
        OpChoice::Quantize => return run_quantize(a),
    };
    let t0 = Instant::now();
    let flag = |v: Option<u64>, name: &str, needed: bool| -> Result<usize> {
        match v {
            Some(v) => Ok(v as usize),
            None if !needed => Ok(1),
            None => bail!("sim op {}: --{name} is required", op.name()),
        }
    };
    let from_flags = || -> Result<Dims> {
        Ok(Dims {
            m: flag(a.m, "m", true)?,
            k: flag(a.k, "k", op != OpKind::Dot)?,
            n: flag(a.n, "n", op == OpKind::Gemm)?,
        })
    };
    // Sizes and formats: from --inputs' manifest where it has them, else from the flags.
    let (dims, manifest) = match &a.inputs {
        Some(dir) => {
            let mpath = dir.join(crate::manifest::FILE_NAME);
            let man = mpath.exists().then(|| Manifest::read(&mpath)).transpose()?;
            let dims = match &man {
                Some(man) if a.m.is_none() => ops::dims_from_manifest(op, man)
                    .map_err(|e| anyhow::anyhow!("{}: {e}; pass --m/--k/--n", mpath.display()))?,
                _ => from_flags()?,
            };
            (dims, man)
        }
        None => {
            let dims = from_flags()?;
            let sizes = [
                dims.m.checked_mul(dims.k),
                dims.k.checked_mul(dims.n),
                dims.m.checked_mul(dims.n),
            ];
            if sizes
                .iter()
                .any(|s| s.is_none_or(|s| s > softmax::MAX_ELEMENTS))
            {
                bail!(
                    "sim op {}: m={} k={} n={} makes a tensor of more than {} elements",
                    op.name(),
                    dims.m,
                    dims.k,
                    dims.n,
                    softmax::MAX_ELEMENTS
                );
            }
            dims.memory_need(op)
                .check(&format!("sim op {}", op.name()))?;
            (dims, None)
        }
    };
    let choice = a.mx_choice(manifest.as_ref())?;
    let cfg = a.hw.load()?;
    let seed = a.inputs.is_none().then_some(a.seed);
    if choice.is_mxint8() {
        let element_rounding = a.element_rounding.unwrap_or(RoundingMode::NearestAway);
        let case = match &a.inputs {
            Some(dir) => OpCase::read(op, dims, dir)?,
            None => OpCase::generate_with(op, dims, a.seed, a.dist, element_rounding),
        };
        let output = case.compute_with(a.out_dtype, a.rounding, &cfg.mac.accumulator);
        let mut m = case.manifest(seed, a.dist, a.out_dtype, a.rounding);
        if seed.is_some() && element_rounding != RoundingMode::NearestAway {
            m.params
                .insert("element_rounding".into(), element_rounding.name().into());
        }
        m.record_config(&cfg);
        write_op(
            &a,
            op,
            m,
            &case.dumps(&output),
            &output,
            &cfg.name,
            "mxint8",
            t0,
        )
    } else {
        if cfg.mac.accumulator != hw_units::config::AccKind::Exact {
            bail!(
                "sim op {}: the MX formats other than mxint8 with floor are summed exactly; \
                 --profile/--config choose the MAC accumulator of MXINT8 operations only",
                op.name()
            );
        }
        let case = match &a.inputs {
            Some(dir) => MxOpCase::read(op, dims, choice, dir)?,
            None => MxOpCase::generate(op, dims, a.seed, a.dist, choice),
        };
        let output = case.compute(a.out_dtype, a.rounding);
        let mut m = case.manifest(seed, a.dist, a.out_dtype, a.rounding);
        m.record_config(&cfg);
        let formats = format!(
            "{} scale_rule={}",
            choice.formats_name(),
            choice.rule.name()
        );
        write_op(
            &a,
            op,
            m,
            &case.dumps(&output),
            &output,
            &cfg.name,
            &formats,
            t0,
        )
    }
}

/// Write an operation's case folder and print its summary.
#[allow(clippy::too_many_arguments)]
fn write_op(
    a: &OpArgs,
    op: OpKind,
    m: Manifest,
    dumps: &[(String, DumpRef); 3],
    output: &ops::OpOutput,
    profile: &str,
    formats: &str,
    t0: Instant,
) -> Result<()> {
    let header = [format!(
        "params   {} mx_format={formats} out_dtype={} rounding={} dist={} profile={profile}",
        op.name(),
        a.out_dtype.name(),
        a.rounding,
        a.dist.name(),
    )];
    let dumps: Vec<(&str, DumpRef)> = dumps.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let flags = [(dumps[2].0, output.flag_counts())];
    write_case(&a.out, m, &header, &dumps, &flags, t0)
}

/// `sim op quantize`: the quantizer on a generated or given BF16 vector.
fn run_quantize(a: OpArgs) -> Result<()> {
    let t0 = Instant::now();
    if a.k.is_some() || a.n.is_some() {
        bail!("sim op quantize takes --m only (the vector length)");
    }
    // With --inputs, the folder's manifest (if any) says the format when --mx-format does not.
    let manifest = match &a.inputs {
        Some(dir) => {
            let mpath = dir.join(crate::manifest::FILE_NAME);
            mpath.exists().then(|| Manifest::read(&mpath)).transpose()?
        }
        None => None,
    };
    let choice = a.mx_choice(manifest.as_ref())?;
    let [format, other] = choice.formats;
    if format != other {
        bail!("sim op quantize takes one --mx-format (the output's)");
    }
    let (case, seed) = match &a.inputs {
        Some(dir) => (QuantizeCase::read(a.m.map(|m| m as usize), dir)?, None),
        None => {
            let m =
                a.m.ok_or_else(|| anyhow::anyhow!("sim op quantize: --m is required"))? as usize;
            crate::quantize_op::memory_need(m).check("sim op quantize")?;
            let case = QuantizeCase::generate_for(m, a.seed, a.dist, &format);
            (case, Some(a.seed))
        }
    };
    let mode = a.element_rounding.unwrap_or(format.default_rounding);
    let rule = choice.rule;
    let header = [format!(
        "params   quantize mx_format={} scale_rule={} element_rounding={mode} dist={}",
        format.name,
        rule.name(),
        a.dist.name()
    )];
    let output = crate::quantize_op::OUTPUT;
    if format.name == "mxint8" && rule == ScaleRule::Floor {
        let out = case.compute(mode);
        let m = case.manifest(seed, a.dist, mode);
        let flags = [(output, out.flag_counts())];
        write_case(&a.out, m, &header, &case.dumps(&out), &flags, t0)
    } else {
        let out = case.compute_mx(format, rule, mode);
        let m = case.manifest_mx(seed, a.dist, format, rule, mode);
        let flags = [(output, out.flag_counts())];
        write_case(&a.out, m, &header, &case.dumps_mx(&out), &flags, t0)
    }
}

fn run_rope(a: RopeArgs) -> Result<()> {
    let t0 = Instant::now();
    let p = RopeParams {
        base: a.base,
        head_dim: a.head_dim,
        max_pos: a.max_pos,
    };
    p.validate().map_err(anyhow::Error::msg)?;
    let tables = RopeTables::compute(&p);
    if a.report {
        let r = tables.report(&p);
        if a.json {
            say!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            say!("{}", r.table().trim_end());
        }
        return Ok(());
    }
    let mut m = Manifest::new("rope", "rope", "reference");
    m.params.insert("base".into(), serde_json::json!(p.base));
    m.params
        .insert("head_dim".into(), serde_json::json!(p.head_dim));
    m.params
        .insert("max_pos".into(), serde_json::json!(p.max_pos));
    let header = [format!(
        "params   base={} head_dim={} max_pos={}",
        p.base, p.head_dim, p.max_pos
    )];
    write_case(
        &a.out,
        m,
        &header,
        &tables.dumps(),
        &tables.flag_counts(),
        t0,
    )
}

fn run_softmax(a: RunArgs) -> Result<()> {
    let t0 = Instant::now();
    let params = a
        .formats
        .params(a.heads as usize, a.head_dim as usize, a.inputs.as_deref())?;
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
            params.check_kv(kv).map_err(anyhow::Error::msg)?;
            // --compare holds a second run of every stage.
            softmax::memory_need(params.heads, kv, params.head_dim)
                .times(1 + usize::from(a.compare))
                .check(&format!("softmax_v kv-size {kv}"))?;
            (
                Inputs::generate_with(kv, a.seed, &params, a.dist),
                softmax::case_name(kv, a.seed, a.dist, &params.formats),
                Some(a.seed),
            )
        }
    };
    let kv = inputs.kv_size();
    let cfg = a.hw.load()?;
    softmax::check_mac(&params, &cfg.mac.accumulator).map_err(anyhow::Error::msg)?;
    let units = Units::new(&cfg);
    let reference = a.compare.then(|| softmax::run(inputs.clone(), &params));
    let (stages, report) = if a.cycle {
        let (st, r) = cycle::simulate(inputs, &params, &cfg, &units, None)?;
        (st, Some(r))
    } else {
        (softmax::run_with(inputs, &params, &units), None)
    };
    let mut m = softmax::manifest(&case, kv, seed, &params);
    if a.dist != Dist::Uniform {
        m.params.insert("dist".into(), a.dist.name().into());
    }
    m.record_config(&cfg);
    if a.cycle {
        m.params.insert("model".into(), "cycle".into());
    }
    let f = &params.formats;
    let formats = match f.is_mxint8() {
        true => String::new(),
        false => format!(
            " exp_format={} v_format={} scale_rule={}",
            f.exp.name,
            f.v.name,
            f.rule.name()
        ),
    };
    let header = [
        format!(
            "params   heads={} head_dim={} kv_size={kv}{formats} element_rounding={} dist={}",
            params.heads,
            params.head_dim,
            params.rounding(&f.exp),
            a.dist.name()
        ),
        "stages   exp -> reduce_sum -> quantize -> gevm -> reciprocal -> scale".to_string(),
    ];
    write_case(
        &a.out,
        m,
        &header,
        &stages.dumps(),
        &stages.flag_counts(),
        t0,
    )?;
    if let Some(r) = report {
        if a.json && !a.compare {
            say!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            say!(
                "cycles   {} total, {} per head ({})",
                r.total_cycles,
                r.cycles_per_head,
                cfg.name
            );
            say!(
                "{:<8} {:>12} {:>12} {:>12}",
                "unit",
                "busy",
                "first valid",
                "last valid"
            );
            for u in &r.units {
                let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                say!(
                    "{:<8} {:>12} {:>12} {:>12}",
                    u.unit,
                    u.busy_cycles,
                    opt(u.first_valid),
                    opt(u.last_valid)
                );
            }
        }
    }
    if let Some(pairs) = &a.compare_formats {
        compare_formats(&a, pairs, &params, &cfg, &units)?;
    }
    if let Some(reference) = reference {
        let cmp = crate::compare::compare_stages(&reference, &stages);
        if a.json {
            say!("{}", serde_json::to_string_pretty(&cmp)?);
        } else {
            say!("{}", crate::compare::render(&cmp, &cfg.name).trim_end());
        }
    }
    Ok(())
}

/// `sim run --compare-formats`: the generated case once per pair, against the unquantized result.
fn compare_formats(
    a: &RunArgs,
    pairs: &str,
    params: &Params,
    cfg: &HwConfig,
    units: &Units,
) -> Result<()> {
    let pairs = crate::format_compare::parse_pairs(pairs, params.formats.rule)
        .map_err(|e| anyhow::anyhow!("--compare-formats {e}"))?;
    for f in &pairs {
        let p = Params {
            formats: *f,
            ..*params
        };
        softmax::check_mac(&p, &cfg.mac.accumulator).map_err(anyhow::Error::msg)?;
    }
    let kv = a.kv_size as usize;
    let reports = crate::format_compare::compare(kv, a.seed, params, &pairs, units);
    if a.json {
        say!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        say!("formats  against the unquantized result (float64 softmax and matmul of qk_T and the real v)");
        say!("{}", crate::format_compare::render(&reports).trim_end());
    }
    Ok(())
}
