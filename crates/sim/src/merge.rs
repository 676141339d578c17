//! `sim gen --merge OUT`: the shard indexes of one sweep become its `index.json`.
//!
//! Every case of the sweep (the list follows from the sweep each shard index records) must be
//! listed by its shard's index and verify against the manifest hash listed there; a case that is
//! not is reported with its shard, so that only those shards run again. `index.json` is written
//! only when nothing is missing, through the same code as a single `sim gen`, with the cases in
//! the sweep's order: the bytes are the same.

use crate::dump::read_file;
use crate::sweep::{self, Index, IndexEntry, ShardIndex, SweepSpec};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A case of the sweep that is not complete, and the shard that writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub shard: usize,
    pub case: String,
    pub kv_size: usize,
    pub seed: u64,
    pub what: &'static str,
}

pub struct MergeReport {
    /// N of the shard indexes.
    pub shards: usize,
    /// Cases of the sweep.
    pub cases: usize,
    pub problems: Vec<Problem>,
    /// `index.json`, written when there are no problems.
    pub index: Option<PathBuf>,
}

impl MergeReport {
    /// The shards to run again, ascending.
    pub fn rerun(&self) -> Vec<usize> {
        let mut s: Vec<usize> = self.problems.iter().map(|p| p.shard).collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// `index.shard-I-of-N.json` -> (I, N).
fn parse_name(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("index.shard-")?.strip_suffix(".json")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The shard indexes in `out` as (file name, I), all of one N; several N are refused, naming
/// the files of each (a sweep has one N; the others are another sweep's, or a stale run's).
fn find(out: &Path) -> Result<(usize, Vec<(String, usize)>)> {
    let mut by_count: BTreeMap<usize, Vec<(String, usize)>> = BTreeMap::new();
    for e in std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if let Some((i, n)) = parse_name(&name) {
            by_count.entry(n).or_default().push((name, i));
        }
    }
    if by_count.len() > 1 {
        let groups: Vec<String> = by_count
            .iter()
            .map(|(n, files)| {
                let mut names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
                names.sort_unstable();
                format!("N={n}: {}", names.join(", "))
            })
            .collect();
        bail!(
            "{}: shard indexes of different shard counts ({}); one sweep has one N, remove the \
             indexes of the other",
            out.display(),
            groups.join("; ")
        );
    }
    match by_count.pop_first() {
        Some((n, mut files)) => {
            files.sort_unstable_by_key(|f| f.1);
            Ok((n, files))
        }
        None => bail!(
            "{}: no shard indexes (index.shard-I-of-N.json) to merge",
            out.display()
        ),
    }
}

/// One shard index, checked against its file name.
fn read_index(path: &Path, i: usize, n: usize) -> Result<ShardIndex> {
    let bytes = read_file(path)?;
    let ix: ShardIndex = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a shard index of sim gen", path.display()))?;
    if ix.op != sweep::OP || ix.shard.index != i || ix.shard.count != n {
        bail!(
            "{}: holds shard {}/{} of {}, not shard {i}/{n} of {}",
            path.display(),
            ix.shard.index,
            ix.shard.count,
            ix.op,
            sweep::OP
        );
    }
    Ok(ix)
}

/// The sweep and every shard index by I; indexes of different sweeps are refused.
fn load(
    out: &Path,
    n: usize,
    files: &[(String, usize)],
) -> Result<(SweepSpec, HashMap<usize, ShardIndex>)> {
    let mut spec: Option<(SweepSpec, &str)> = None;
    let mut indexes = HashMap::new();
    for (name, i) in files {
        let ix = read_index(&out.join(name), *i, n)?;
        match &spec {
            None => spec = Some((ix.sweep.clone(), name)),
            Some((s, first)) if *s != ix.sweep => bail!(
                "{}: {first} and {name} are shards of different sweeps (kv-sizes, seeds or \
                 parameters differ)",
                out.display()
            ),
            Some(_) => {}
        }
        indexes.insert(*i, ix);
    }
    let (spec, _) = spec.context("no shard index")?;
    Ok((spec, indexes))
}

/// Merge the shard indexes in `out`; `index.json` is written when every case is complete.
pub fn merge(out: &Path) -> Result<MergeReport> {
    let (n, files) = find(out)?;
    let (spec, indexes) = load(out, n, &files)?;
    sweep::check_count(spec.kv_sizes.len(), spec.seeds.len())?;
    let suffix = spec.suffix().with_context(|| files[0].0.clone())?;
    let all = sweep::case_list(&spec.kv_sizes, &spec.seeds, None);
    if n > all.len() {
        bail!(
            "{}: {n} shards for {} cases (a shard without cases writes no index)",
            out.display(),
            all.len()
        );
    }
    let listed: HashMap<&str, &str> = indexes
        .values()
        .flat_map(|ix| &ix.cases)
        .map(|e| (e.case.as_str(), e.manifest_sha256.as_str()))
        .collect();
    let checked: Vec<Result<IndexEntry, Problem>> = all
        .par_iter()
        .enumerate()
        .map(|(pos, &(kv, seed))| {
            let case = sweep::case_name(kv, seed, &suffix);
            let shard = pos % n;
            let what = match listed.get(case.as_str()) {
                None if !indexes.contains_key(&shard) => "its shard wrote no index",
                None => "not in its shard's index",
                Some(&sha) if sweep::verified(&out.join(&case)).as_deref() == Some(sha) => {
                    return Ok(IndexEntry {
                        case,
                        kv_size: kv,
                        seed,
                        manifest_sha256: sha.to_string(),
                    })
                }
                Some(_) => "damaged or replaced: its files do not verify against the index",
            };
            Err(Problem {
                shard,
                case,
                kv_size: kv,
                seed,
                what,
            })
        })
        .collect();
    let (entries, problems): (Vec<_>, Vec<_>) = checked.into_iter().partition(Result::is_ok);
    let problems: Vec<Problem> = problems.into_iter().filter_map(Result::err).collect();
    let index = if problems.is_empty() {
        let entries = entries.into_iter().filter_map(Result::ok).collect();
        Some(sweep::write_json(out, "index.json", &Index::new(entries))?)
    } else {
        None
    };
    Ok(MergeReport {
        shards: n,
        cases: all.len(),
        problems,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_index_names() {
        assert_eq!(parse_name("index.shard-3-of-8.json"), Some((3, 8)));
        for other in [
            "index.json",
            "index.shard-3-of-8.json.tmp",
            "index.shard-x-of-8.json",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }
}
