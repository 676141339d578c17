//! `sim gen` behind the command line: a sweep (stopped cleanly by SIGTERM or SIGINT) or a merge
//! of shard indexes, and the lines they print.

use crate::cli::GenArgs;
use crate::merge::{self, MergeReport};
use crate::sweep::{self, SweepOptions, SweepSummary};
use anyhow::{Context, Result};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The exit code of a sweep stopped by a signal before every case was complete: not an error
/// (2) and not a difference (1), so a job script can tell "run me again" from "fix the input".
pub const EXIT_INTERRUPTED: i32 = 3;

/// Problems `--merge` prints one line each; the rest are counted.
const SHOWN_PROBLEMS: usize = 50;

/// Print to stdout, ignoring a closed pipe (like `cli`'s `say!`).
fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

pub fn run(a: GenArgs) -> Result<i32> {
    match &a.merge {
        Some(out) => run_merge(out),
        None => run_sweep(a),
    }
}

/// A flag SIGTERM and SIGINT set (what scancel, a time limit, preemption and Ctrl-C send). Later
/// signals change nothing: a scheduler may signal more than once (a warning before the time
/// limit, then the limit itself), and the index must still be written. SIGKILL stops at once.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, stop.clone())
            .context("cannot install a signal handler")?;
    }
    Ok(stop)
}

fn run_sweep(a: GenArgs) -> Result<i32> {
    let kv_sizes = a.kv_sizes.context("--kv-sizes is required")?;
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let shard = a
        .shard
        .map(|s| s.resolve(env))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let o = SweepOptions {
        kv_sizes: kv_sizes.0,
        seeds: a.seeds.0,
        out: a.out,
        shard,
        format: a.format,
        params: a
            .formats
            .params(a.heads as usize, a.head_dim as usize, None)?,
        dist: a.dist,
        stop: stop_on_signals()?,
    };
    let s = sweep::run(&o)?;
    print_summary(&s);
    if let (Some(pairs), 0) = (&a.compare_formats, s.not_started) {
        compare_formats(&o, pairs, a.plot.as_deref())?;
    }
    Ok(if s.not_started > 0 {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// `--compare-formats` over the sweep's cases: a table per case and a summary, and the plot.
fn compare_formats(o: &SweepOptions, pairs: &str, plot: Option<&Path>) -> Result<()> {
    use crate::format_compare as fc;
    use rayon::prelude::*;
    let pairs = fc::parse_pairs(pairs, o.params.formats.rule)
        .map_err(|e| anyhow::anyhow!("--compare-formats {e}"))?;
    let units = crate::softmax::reference_units();
    let suffix = o.suffix();
    let cases: Vec<fc::CaseReport> = sweep::case_list(&o.kv_sizes, &o.seeds, None)
        .par_iter()
        .map(|&(kv, seed)| fc::CaseReport {
            case: sweep::case_name(kv, seed, &suffix),
            kv_size: kv,
            seed,
            pairs: fc::compare(kv, seed, &o.params, &pairs, units),
        })
        .collect();
    let tables: String = cases
        .iter()
        .map(|c| format!("{}\n{}\n", c.case, fc::render(&c.pairs)))
        .collect();
    let text = sweep::write_text(&o.out, "compare-formats.txt", &tables)?;
    let rows = fc::summary(&cases);
    let report = serde_json::json!({ "cases": cases, "summary": rows });
    let json = sweep::write_json(&o.out, "compare-formats.json", &report)?;
    say("formats  out against the unquantized result, over the sweep");
    say(fc::render_summary(&rows).trim_end());
    say(&format!(
        "tables   {} and {}",
        text.display(),
        json.display()
    ));
    if let Some(path) = plot {
        fc::plot_svg(path, &fc::series(&cases))?;
        say(&format!("plot     {}", path.display()));
    }
    Ok(())
}

fn print_summary(s: &SweepSummary) {
    if s.cleaned > 0 {
        say(&format!(
            "cleaned  {} leftover folder(s) of an interrupted run",
            s.cleaned
        ));
    }
    let other = match s.by_other {
        0 => String::new(),
        n => format!("{n} completed by another process, "),
    };
    let secs = s.seconds.max(1e-9);
    say(&format!(
        "gen      {} cases written, {} already complete (skipped), {other}{:.1} MB in {:.2} s ({:.1} cases/s, {:.1} MB/s)",
        s.written,
        s.skipped,
        s.bytes as f64 / 1e6,
        s.seconds,
        (s.written + s.skipped + s.by_other) as f64 / secs,
        s.bytes as f64 / 1e6 / secs
    ));
    if s.not_started > 0 {
        say(&format!(
            "stopped  by a signal: {} case(s) not started; run the same command again to \
             finish them (exit {EXIT_INTERRUPTED})",
            s.not_started
        ));
    }
    match &s.index {
        Some(p) => say(&format!("index    {}", p.display())),
        None => say("index    not written: index.json is written once every case is complete"),
    }
}

fn run_merge(out: &Path) -> Result<i32> {
    let r = merge::merge(out)?;
    if let Some(index) = &r.index {
        say(&format!(
            "merge    {} shards, {} cases, every case verified",
            r.shards, r.cases
        ));
        say(&format!("index    {}", index.display()));
        return Ok(0);
    }
    print_problems(&r);
    Ok(1)
}

fn print_problems(r: &MergeReport) {
    for p in r.problems.iter().take(SHOWN_PROBLEMS) {
        say(&format!(
            "missing  shard {}/{}  {} (kv {}, seed {}): {}",
            p.shard, r.shards, p.case, p.kv_size, p.seed, p.what
        ));
    }
    if r.problems.len() > SHOWN_PROBLEMS {
        say(&format!(
            "missing  ... and {} more",
            r.problems.len() - SHOWN_PROBLEMS
        ));
    }
    let rerun: Vec<String> = r.rerun().iter().map(usize::to_string).collect();
    say(&format!(
        "merge    {} of {} cases missing or damaged; run shards {} of {} again (e.g. sbatch \
         --array={}), then merge again; index.json not written",
        r.problems.len(),
        r.cases,
        rerun.join(","),
        r.shards,
        rerun.join(",")
    ));
}
