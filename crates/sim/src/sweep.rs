//! `sim gen`: a dataset sweep of softmax_v cases, in parallel, resumable and shardable.
//!
//! Each case is written atomically (`CaseWriter`), so a folder under its final name is complete; a
//! case whose manifest hashes all verify is skipped on a re-run. `--shard I/N` keeps every N-th
//! case starting at I, so the tasks of a job array split a sweep without talking to each other.

use crate::case::CaseWriter;
use crate::dump::sha256_hex;
use crate::gen::Dist;
use crate::manifest::{Manifest, FILE_NAME};
use crate::softmax::{self, Inputs, Params};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The most values one `--kv-sizes` or `--seeds` list may select (counted before it is
/// expanded, so an enormous range is refused instead of exhausting memory).
pub const MAX_LIST: u64 = 1 << 20;

/// Parse `1..=4096`, `1..4096`, `1..=4096:64`, `0,1,5` and combinations like `1..=8,16,32..=64:8`.
/// At most [`MAX_LIST`] values in all.
pub fn parse_list(s: &str) -> Result<Vec<u64>, String> {
    let mut items = Vec::new();
    let mut total: u64 = 0;
    for item in s.split(',').map(str::trim) {
        let bad = || format!("'{item}' is not N, A..B, A..=B or A..=B:STEP");
        let (range, step) = match item.split_once(':') {
            Some((r, st)) => (r, st.parse::<u64>().map_err(|_| bad())?),
            None => (item, 1),
        };
        if step == 0 {
            return Err(format!("'{item}': the step must be at least 1"));
        }
        let num = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
        // (first, last) inclusive; None for an empty range.
        let bounds = if let Some((a, b)) = range.split_once("..=") {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then_some((a, b))
        } else if let Some((a, b)) = range.split_once("..") {
            let (a, b) = (num(a)?, num(b)?);
            (a < b).then(|| (a, b - 1))
        } else if step == 1 {
            let a = num(range)?;
            Some((a, a))
        } else {
            return Err(bad());
        };
        if let Some((a, b)) = bounds {
            let count = (b - a) / step + 1;
            total = total.saturating_add(count);
            if total > MAX_LIST {
                return Err(format!(
                    "'{item}' selects {count} values; a list may select at most {MAX_LIST} in all"
                ));
            }
            items.push((a, b, step));
        }
    }
    if total == 0 {
        return Err(format!("'{s}' selects nothing"));
    }
    let mut out = Vec::with_capacity(total as usize);
    for (a, b, step) in items {
        out.extend((a..=b).step_by(step as usize));
    }
    Ok(out)
}

/// A parsed `--kv-sizes` / `--seeds` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List(pub Vec<u64>);

impl std::str::FromStr for List {
    type Err = String;
    fn from_str(s: &str) -> Result<List, String> {
        parse_list(s).map(List)
    }
}

/// `I/N`: this task takes cases I, I+N, I+2N, ... (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let err = || format!("'{s}' is not I/N with 0 <= I < N (e.g. 3/16)");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

/// Which encodings to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `$readmemh` text (the default).
    Hex,
    /// Raw little-endian binaries (`NAME.bin`) instead.
    Bin,
    /// Both.
    Both,
}

pub struct SweepOptions {
    pub kv_sizes: Vec<u64>,
    pub seeds: Vec<u64>,
    pub out: PathBuf,
    pub shard: Option<Shard>,
    pub format: Format,
    pub params: Params,
    pub dist: Dist,
}

#[derive(Clone, Debug, Serialize)]
pub struct IndexEntry {
    pub case: String,
    pub kv_size: usize,
    pub seed: u64,
    pub manifest_sha256: String,
}

#[derive(Debug, Serialize)]
pub struct Index {
    pub format_version: u32,
    pub op: &'static str,
    pub cases: Vec<IndexEntry>,
}

pub struct SweepSummary {
    /// Hidden leftovers of interrupted runs removed (see [`remove_leftovers`]).
    pub cleaned: usize,
    pub written: usize,
    pub skipped: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub index: PathBuf,
}

/// The most cases one sweep may list (kv-sizes times seeds), checked before the list is built.
pub const MAX_CASES: u64 = 1 << 22;

/// Refuse a sweep before anything is expanded or written: every kv-size in range, the case
/// count within [`MAX_CASES`], and memory for the largest case on every worker thread.
fn check_size(o: &SweepOptions) -> Result<()> {
    for &kv in &o.kv_sizes {
        let kv = usize::try_from(kv).unwrap_or(usize::MAX);
        o.params.check_kv(kv).map_err(anyhow::Error::msg)?;
    }
    let count = (o.kv_sizes.len() as u64).saturating_mul(o.seeds.len() as u64);
    if count > MAX_CASES {
        bail!(
            "{} kv-sizes x {} seeds = {count} cases; a sweep may list at most {MAX_CASES} (split it with --shard or several runs)",
            o.kv_sizes.len(),
            o.seeds.len()
        );
    }
    let largest = o.kv_sizes.iter().copied().max().unwrap_or(1) as usize;
    softmax::memory_need(o.params.heads, largest, o.params.head_dim)
        .times(rayon::current_num_threads())
        .check(&format!(
            "kv-size {largest} on {} worker threads",
            rayon::current_num_threads()
        ))?;
    Ok(())
}

/// Every (kv, seed) of the sweep, in order, deduplicated, then this shard's share.
pub fn cases(o: &SweepOptions) -> Vec<(usize, u64)> {
    let mut seen = std::collections::HashSet::new();
    let all: Vec<(usize, u64)> = o
        .kv_sizes
        .iter()
        .flat_map(|&kv| o.seeds.iter().map(move |&s| (kv as usize, s)))
        .filter(|c| seen.insert(*c))
        .collect();
    match o.shard {
        None => all,
        Some(sh) => all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % sh.count == sh.index)
            .map(|(_, c)| c)
            .collect(),
    }
}

/// The manifest's SHA-256 if the case folder is complete: every file it lists has its hash.
pub fn verified(dir: &Path) -> Option<String> {
    let mpath = dir.join(FILE_NAME);
    let text = crate::dump::read_file(&mpath).ok()?;
    let m = Manifest::parse(&mpath, std::str::from_utf8(&text).ok()?).ok()?;
    for (name, f) in &m.files {
        let bytes = crate::dump::read_file(&dir.join(name)).ok()?;
        if sha256_hex(&bytes) != f.sha256 {
            return None;
        }
    }
    Some(sha256_hex(&text))
}

/// Remove what an interrupted run (killed, even with SIGKILL) left of this sweep's cases: the
/// hidden `.CASE.tmp-PID` folder of a case being written and the `.CASE.old-PID` folder of a case
/// being replaced. Only cases of this run's list are touched, so the shards of one sweep, which
/// write disjoint cases into a shared folder, never remove each other's work in progress.
pub fn remove_leftovers(out: &Path, list: &[(usize, u64)], dist: Dist) -> Result<usize> {
    let cases: std::collections::HashSet<String> = list
        .iter()
        .map(|(kv, seed)| format!("kv-size-{kv}_seed-{seed}{}", dist.suffix()))
        .collect();
    let mut removed = 0;
    for e in std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix('.') else {
            continue;
        };
        let case = rest
            .rsplit_once(".tmp-")
            .or_else(|| rest.rsplit_once(".old-"))
            .map(|(c, _)| c);
        if case.is_some_and(|c| cases.contains(c)) && e.path().is_dir() {
            std::fs::remove_dir_all(e.path())
                .with_context(|| format!("cannot remove leftover {}", e.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn progress(total: usize) -> ProgressBar {
    if std::io::stderr().is_terminal() {
        let pb = ProgressBar::new(total as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cases  {msg}  ETA {eta}",
            )
            .expect("valid template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    }
}

pub fn run(o: &SweepOptions) -> Result<SweepSummary> {
    let t0 = Instant::now();
    check_size(o)?;
    let list = cases(o);
    if list.is_empty() {
        bail!("this shard has no cases");
    }
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let cleaned = remove_leftovers(&o.out, &list, o.dist)?;
    let pb = progress(list.len());
    let plain = pb.is_hidden();
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let skipped = AtomicUsize::new(0);
    let report = |case: &str| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        let b = bytes.load(Ordering::Relaxed) as f64;
        let secs = t0.elapsed().as_secs_f64().max(1e-9);
        let msg = format!(
            "{:.1} MB written, {:.1} cases/s, {:.1} MB/s",
            b / 1e6,
            n as f64 / secs,
            b / 1e6 / secs
        );
        if plain {
            // One line per ~5% (and the last), so logs stay short.
            let step = (list.len() / 20).max(1);
            if n.is_multiple_of(step) || n == list.len() {
                eprintln!("gen: {n}/{} cases ({case}), {msg}", list.len());
            }
        } else {
            pb.set_message(msg);
            pb.inc(1);
        }
    };
    let entries: Vec<IndexEntry> = list
        .par_iter()
        .map(|&(kv, seed)| -> Result<IndexEntry> {
            let case = format!("kv-size-{kv}_seed-{seed}{}", o.dist.suffix());
            let dir = o.out.join(&case);
            let sha = match verified(&dir) {
                Some(sha) => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    sha
                }
                None => {
                    let inputs = Inputs::generate_with(kv, seed, &o.params, o.dist);
                    let stages = softmax::run(inputs, &o.params);
                    let mut m = softmax::manifest(&case, kv, Some(seed), &o.params);
                    if o.dist != Dist::Uniform {
                        m.params.insert("dist".into(), o.dist.name().into());
                    }
                    let mut w = CaseWriter::create(&o.out, m)?;
                    if o.format != Format::Bin {
                        w.write_all(&stages.dumps())?;
                    }
                    if o.format != Format::Hex {
                        for (name, d) in stages.dumps() {
                            w.write_bin(name, d)?;
                        }
                    }
                    w.set_flags(&stages.flag_counts());
                    let (dir, b) = w.finish()?;
                    bytes.fetch_add(b, Ordering::Relaxed);
                    sha256_hex(&std::fs::read(dir.join(FILE_NAME))?)
                }
            };
            report(&case);
            Ok(IndexEntry {
                case,
                kv_size: kv,
                seed,
                manifest_sha256: sha,
            })
        })
        .collect::<Result<_>>()?;
    pb.finish_and_clear();
    let index = Index {
        format_version: crate::manifest::FORMAT_VERSION,
        op: "softmax_v",
        cases: entries,
    };
    let name = match o.shard {
        None => "index.json".to_string(),
        Some(s) => format!("index.shard-{}-of-{}.json", s.index, s.count),
    };
    let path = o.out.join(&name);
    let tmp = o.out.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string_pretty(&index)? + "\n")?;
    std::fs::rename(&tmp, &path)?;
    Ok(SweepSummary {
        cleaned,
        written: list.len() - skipped.load(Ordering::Relaxed),
        skipped: skipped.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        seconds: t0.elapsed().as_secs_f64(),
        index: path,
    })
}
