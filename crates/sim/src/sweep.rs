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
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Hex => "hex",
            Format::Bin => "bin",
            Format::Both => "both",
        }
    }
}

pub struct SweepOptions {
    pub kv_sizes: Vec<u64>,
    pub seeds: Vec<u64>,
    pub out: PathBuf,
    pub shard: Option<Shard>,
    pub format: Format,
    pub params: Params,
    pub dist: Dist,
    /// Once set (the CLI sets it on SIGTERM or SIGINT), no new case is started; the cases in
    /// flight are finished and the index of what is complete is written.
    pub stop: Arc<AtomicBool>,
}

impl SweepOptions {
    /// What a shard index records of the sweep.
    pub fn spec(&self) -> SweepSpec {
        SweepSpec {
            kv_sizes: self.kv_sizes.clone(),
            seeds: self.seeds.clone(),
            dist: self.dist.name().into(),
            heads: self.params.heads,
            head_dim: self.params.head_dim,
            element_rounding: self.params.element_rounding.map(|r| r.name().into()),
            exp_format: self.params.formats.exp.name.into(),
            v_format: self.params.formats.v.name.into(),
            scale_rule: self.params.formats.rule.name().into(),
            format: self.format.name().into(),
        }
    }

    /// What every case folder name of the sweep ends with: the formats', then the
    /// distribution's.
    pub fn suffix(&self) -> String {
        self.params.formats.case_suffix() + &self.dist.suffix()
    }
}

/// Everything that decides a sweep's case list and the bytes of its cases: shards of one sweep
/// have equal specs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepSpec {
    pub kv_sizes: Vec<u64>,
    pub seeds: Vec<u64>,
    pub dist: String,
    pub heads: usize,
    pub head_dim: usize,
    /// `None`: each format's default.
    pub element_rounding: Option<String>,
    pub exp_format: String,
    pub v_format: String,
    pub scale_rule: String,
    pub format: String,
}

impl SweepSpec {
    /// [`SweepOptions::suffix`] of the sweep this spec describes.
    pub fn suffix(&self) -> Result<String> {
        let formats = softmax::Formats::from_fields(|k| match k {
            "exp_format" => Some(self.exp_format.as_str()),
            "v_format" => Some(self.v_format.as_str()),
            "scale_rule" => Some(self.scale_rule.as_str()),
            _ => None,
        })
        .map_err(anyhow::Error::msg)?;
        let dist =
            Dist::parse(&self.dist).with_context(|| format!("unknown dist '{}'", self.dist))?;
        Ok(formats.case_suffix() + &dist.suffix())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub case: String,
    pub kv_size: usize,
    pub seed: u64,
    pub manifest_sha256: String,
}

/// The operation every index lists.
pub const OP: &str = "softmax_v";

/// `index.json`: written only when every case of the sweep is complete, so that its presence
/// means the dataset is whole. It holds nothing of the run (no times, hosts, paths or shards),
/// which is what lets a merge of shards write the very bytes one `sim gen` writes.
#[derive(Debug, Serialize)]
pub struct Index {
    pub format_version: u32,
    pub op: &'static str,
    pub cases: Vec<IndexEntry>,
}

impl Index {
    pub fn new(cases: Vec<IndexEntry>) -> Index {
        Index {
            format_version: crate::manifest::FORMAT_VERSION,
            op: OP,
            cases,
        }
    }
}

/// `index.shard-I-of-N.json`: the cases one shard has completed and the sweep it belongs to, so
/// that `--merge` can name what is missing and refuse another sweep's shards. Written also when
/// the shard was interrupted (`complete: false`).
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardIndex {
    pub format_version: u32,
    pub op: String,
    pub sweep: SweepSpec,
    pub shard: Shard,
    pub complete: bool,
    pub cases: Vec<IndexEntry>,
}

pub fn shard_index_name(s: Shard) -> String {
    format!("index.shard-{}-of-{}.json", s.index, s.count)
}

pub struct SweepSummary {
    /// Hidden leftovers of interrupted runs removed (see [`remove_leftovers`]).
    pub cleaned: usize,
    pub written: usize,
    pub skipped: usize,
    /// Cases another process on the same sweep completed while this one was computing them.
    pub by_other: usize,
    /// Cases not started because `stop` was set: the sweep was interrupted.
    pub not_started: usize,
    pub bytes: u64,
    pub seconds: f64,
    /// The index written; none when a sweep without `--shard` was interrupted.
    pub index: Option<PathBuf>,
}

/// The most cases one sweep may list (kv-sizes times seeds), checked before the list is built.
pub const MAX_CASES: u64 = 1 << 22;

/// Refuse lists of more than [`MAX_CASES`] cases before they are expanded.
pub fn check_count(kv_sizes: usize, seeds: usize) -> Result<()> {
    let count = (kv_sizes as u64).saturating_mul(seeds as u64);
    if count > MAX_CASES {
        bail!(
            "{kv_sizes} kv-sizes x {seeds} seeds = {count} cases; a sweep may list at most {MAX_CASES} (split it with --shard or several runs)"
        );
    }
    Ok(())
}

/// Refuse a sweep before anything is expanded or written: every kv-size in range, the case
/// count within [`MAX_CASES`], and memory for the largest case on every worker thread.
fn check_size(o: &SweepOptions) -> Result<()> {
    for &kv in &o.kv_sizes {
        let kv = usize::try_from(kv).unwrap_or(usize::MAX);
        o.params.check_kv(kv).map_err(anyhow::Error::msg)?;
    }
    check_count(o.kv_sizes.len(), o.seeds.len())?;
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
pub fn case_list(kv_sizes: &[u64], seeds: &[u64], shard: Option<Shard>) -> Vec<(usize, u64)> {
    let mut seen = std::collections::HashSet::new();
    let all = kv_sizes
        .iter()
        .flat_map(|&kv| seeds.iter().map(move |&s| (kv as usize, s)))
        .filter(|c| seen.insert(*c));
    match shard {
        None => all.collect(),
        Some(sh) => all
            .enumerate()
            .filter(|(i, _)| i % sh.count == sh.index)
            .map(|(_, c)| c)
            .collect(),
    }
}

/// A case folder's name; `suffix` is the formats' and the distribution's
/// ([`SweepOptions::suffix`]).
pub fn case_name(kv: usize, seed: u64, suffix: &str) -> String {
    format!("kv-size-{kv}_seed-{seed}{suffix}")
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

/// A name part no other call, thread or process (on any host sharing the folder) uses at the
/// same time: process id, clock and a counter.
fn unique_suffix() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos}-{n}", std::process::id())
}

/// Remove what an interrupted run (killed, even with SIGKILL) left of this sweep's cases: the
/// hidden `.CASE.tmp-PID` folder of a case being written, the `.CASE.old-PID` folder of a case
/// being replaced, and the `.CASE.del-` folder of a removal like this one. Only cases of this
/// run's list are touched, so the shards of one sweep, which write disjoint cases into a shared
/// folder, never remove each other's work in progress.
///
/// A leftover may also be the work in progress of another process on the same cases (a requeued
/// task whose first instance still runs). Each is therefore renamed to a name of this call
/// before it is removed: the other writer's next file or rename then fails as a whole (it writes
/// the case again, see [`ATTEMPTS`]) instead of a half-removed folder being renamed into place.
pub fn remove_leftovers(out: &Path, list: &[(usize, u64)], suffix: &str) -> Result<usize> {
    let cases: std::collections::HashSet<String> = list
        .iter()
        .map(|&(kv, seed)| case_name(kv, seed, suffix))
        .collect();
    let mut removed = 0;
    for e in std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(case) = leftover_case(&name) else {
            continue;
        };
        if !cases.contains(case) || !e.path().is_dir() {
            continue;
        }
        let doomed = out.join(format!(".{case}.del-{}", unique_suffix()));
        match std::fs::rename(e.path(), &doomed) {
            Ok(()) => {}
            // Its writer finished it, or another process removes it.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("cannot move aside leftover {}", e.path().display())))
            }
        }
        std::fs::remove_dir_all(&doomed)
            .with_context(|| format!("cannot remove leftover {}", doomed.display()))?;
        removed += 1;
    }
    Ok(removed)
}

/// The case a hidden leftover name (`.CASE.tmp-...`, `.CASE.old-...`, `.CASE.del-...`) belongs
/// to.
fn leftover_case(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?;
    [".tmp-", ".old-", ".del-"]
        .iter()
        .find_map(|kind| rest.rsplit_once(kind))
        .map(|(case, _)| case)
}

/// Progress on a terminal, or one log line per ~5 % of the cases.
struct Progress {
    bar: ProgressBar,
    total: usize,
    done: AtomicUsize,
    t0: Instant,
}

impl Progress {
    fn new(total: usize, t0: Instant) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
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
        };
        Progress {
            bar,
            total,
            done: AtomicUsize::new(0),
            t0,
        }
    }

    fn tick(&self, case: &str, bytes: u64) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let b = bytes as f64;
        let secs = self.t0.elapsed().as_secs_f64().max(1e-9);
        let msg = format!(
            "{:.1} MB written, {:.1} cases/s, {:.1} MB/s",
            b / 1e6,
            n as f64 / secs,
            b / 1e6 / secs
        );
        if !self.bar.is_hidden() {
            self.bar.set_message(msg);
            self.bar.inc(1);
        } else if n.is_multiple_of((self.total / 20).max(1)) || n == self.total {
            eprintln!("gen: {n}/{} cases ({case}), {msg}", self.total);
        }
    }
}

/// How a case came to be complete.
enum Outcome {
    /// Computed and written by this process (bytes of dumps).
    Written(u64),
    /// Complete before this process looked at it.
    Skipped,
    /// Completed by another process while this one computed it.
    ByOther,
}

#[derive(Default)]
struct Tally {
    written: AtomicUsize,
    skipped: AtomicUsize,
    by_other: AtomicUsize,
    bytes: AtomicU64,
}

impl Tally {
    fn add(&self, o: &Outcome) -> u64 {
        match o {
            Outcome::Written(b) => {
                self.written.fetch_add(1, Ordering::Relaxed);
                return self.bytes.fetch_add(*b, Ordering::Relaxed) + b;
            }
            Outcome::Skipped => self.skipped.fetch_add(1, Ordering::Relaxed),
            Outcome::ByOther => self.by_other.fetch_add(1, Ordering::Relaxed),
        };
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Attempts at one case. Another process on the same cases can make an attempt fail without
/// anything being wrong here: it removes this one's temporary folder as a leftover when it
/// starts ([`remove_leftovers`]), or moves the case folder aside while replacing it.
const ATTEMPTS: usize = 3;

/// Make one case complete: verify it, else compute and write it, trying again when the
/// attempt failed (see [`ATTEMPTS`]) unless the case has become complete meanwhile.
fn produce(o: &SweepOptions, case: &str, kv: usize, seed: u64) -> Result<(String, Outcome)> {
    let dir = o.out.join(case);
    let mut attempt = 1;
    loop {
        if let Some(sha) = verified(&dir) {
            let how = if attempt == 1 {
                Outcome::Skipped
            } else {
                Outcome::ByOther
            };
            return Ok((sha, how));
        }
        match write_case(o, case, kv, seed) {
            Ok(r) => return Ok(r),
            Err(e) if attempt == ATTEMPTS => return Err(e),
            Err(_) => attempt += 1,
        }
    }
}

/// Compute one case and write it, unless another process completed it meanwhile.
fn write_case(o: &SweepOptions, case: &str, kv: usize, seed: u64) -> Result<(String, Outcome)> {
    let stages = softmax::run(
        Inputs::generate_with(kv, seed, &o.params, o.dist),
        &o.params,
    );
    let mut m = softmax::manifest(case, kv, Some(seed), &o.params);
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
    // A folder another process completed is as good as ours once its hashes verify; keeping it
    // (ours is dropped with the writer) spares replacing a folder someone may be reading.
    if let Some(sha) = verified(&o.out.join(case)) {
        return Ok((sha, Outcome::ByOther));
    }
    let (dir, b) = w.finish()?;
    let sha = sha256_hex(&std::fs::read(dir.join(FILE_NAME))?);
    Ok((sha, Outcome::Written(b)))
}

/// Write `value` as `out/name` (pretty JSON and a newline) through a temporary file of this
/// call, so that a reader, or another process writing the same index, never sees a partial file.
pub fn write_json<T: Serialize>(out: &Path, name: &str, value: &T) -> Result<PathBuf> {
    write_text(out, name, &(serde_json::to_string_pretty(value)? + "\n"))
}

/// Write `OUT/name` through a temporary file and a rename (never half written).
pub fn write_text(out: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = out.join(name);
    let tmp = out.join(format!(".{name}.tmp-{}", unique_suffix()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(path)
}

/// The shard's index, complete or not; `index.json` only when the whole sweep is complete.
fn write_index(
    o: &SweepOptions,
    cases: Vec<IndexEntry>,
    complete: bool,
) -> Result<Option<PathBuf>> {
    match o.shard {
        None if !complete => Ok(None),
        None => write_json(&o.out, "index.json", &Index::new(cases)).map(Some),
        Some(shard) => {
            let index = ShardIndex {
                format_version: crate::manifest::FORMAT_VERSION,
                op: OP.into(),
                sweep: o.spec(),
                shard,
                complete,
                cases,
            };
            write_json(&o.out, &shard_index_name(shard), &index).map(Some)
        }
    }
}

pub fn run(o: &SweepOptions) -> Result<SweepSummary> {
    let t0 = Instant::now();
    check_size(o)?;
    let list = case_list(&o.kv_sizes, &o.seeds, o.shard);
    if list.is_empty() {
        bail!("this shard has no cases");
    }
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let suffix = o.suffix();
    let cleaned = remove_leftovers(&o.out, &list, &suffix)?;
    let progress = Progress::new(list.len(), t0);
    let tally = Tally::default();
    let done: Vec<Option<IndexEntry>> = list
        .par_iter()
        .map(|&(kv, seed)| -> Result<Option<IndexEntry>> {
            if o.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let case = case_name(kv, seed, &suffix);
            let (sha, how) = produce(o, &case, kv, seed)?;
            progress.tick(&case, tally.add(&how));
            Ok(Some(IndexEntry {
                case,
                kv_size: kv,
                seed,
                manifest_sha256: sha,
            }))
        })
        .collect::<Result<_>>()?;
    progress.bar.finish_and_clear();
    let entries: Vec<IndexEntry> = done.into_iter().flatten().collect();
    let not_started = list.len() - entries.len();
    let index = write_index(o, entries, not_started == 0)?;
    Ok(SweepSummary {
        cleaned,
        written: tally.written.into_inner(),
        skipped: tally.skipped.into_inner(),
        by_other: tally.by_other.into_inner(),
        not_started,
        bytes: tally.bytes.into_inner(),
        seconds: t0.elapsed().as_secs_f64(),
        index,
    })
}
