//! Writing a case folder atomically: every file goes into a hidden temporary sibling folder, the
//! manifest last, and only a complete folder is renamed to the case's name. An existing case of
//! that name is replaced only after the new one is complete.

use crate::dump::{self, Written};
use crate::manifest::{FileEntry, Manifest, FILE_NAME};
use crate::tensor::DumpRef;
use anyhow::{Context, Result};
use hw_types::{FlagCounts, BLOCK};
use std::path::{Path, PathBuf};

pub struct CaseWriter {
    final_dir: PathBuf,
    tmp_dir: PathBuf,
    manifest: Manifest,
    bytes: u64,
    done: bool,
}

impl CaseWriter {
    /// Start writing `out/<manifest.case>`.
    pub fn create(out: &Path, manifest: Manifest) -> Result<CaseWriter> {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output folder {}", out.display()))?;
        let final_dir = out.join(&manifest.case);
        let tmp_dir = out.join(format!(".{}.tmp-{}", manifest.case, std::process::id()));
        if tmp_dir.exists() {
            std::fs::remove_dir_all(&tmp_dir)
                .with_context(|| format!("cannot clear {}", tmp_dir.display()))?;
        }
        std::fs::create_dir(&tmp_dir)
            .with_context(|| format!("cannot create {}", tmp_dir.display()))?;
        Ok(CaseWriter {
            final_dir,
            tmp_dir,
            manifest,
            bytes: 0,
            done: false,
        })
    }

    /// Write one dump and record it in the manifest.
    pub fn write(&mut self, name: &str, d: DumpRef<'_>) -> Result<Written> {
        let path = self.tmp_dir.join(name);
        let w =
            dump::write(&path, d).with_context(|| format!("cannot write {}", path.display()))?;
        self.bytes += w.bytes;
        self.manifest
            .files
            .insert(name.to_string(), file_entry(d, &w, false));
        Ok(w)
    }

    /// Write several dumps at once, in parallel (encoding and hashing dominate), recording them in
    /// the manifest in the order given.
    pub fn write_all(&mut self, dumps: &[(&str, DumpRef<'_>)]) -> Result<Vec<Written>> {
        use rayon::prelude::*;
        let written: Vec<Written> = dumps
            .par_iter()
            .map(|(name, d)| {
                let path = self.tmp_dir.join(name);
                dump::write(&path, *d).with_context(|| format!("cannot write {}", path.display()))
            })
            .collect::<Result<_>>()?;
        for ((name, d), w) in dumps.iter().zip(&written) {
            self.bytes += w.bytes;
            self.manifest
                .files
                .insert(name.to_string(), file_entry(*d, w, false));
        }
        Ok(written)
    }

    /// Write one dump as raw little-endian binary (`NAME.bin`, docs/dump-format.md).
    pub fn write_bin(&mut self, name: &str, d: DumpRef<'_>) -> Result<Written> {
        let bin = format!("{name}.bin");
        let path = self.tmp_dir.join(&bin);
        let w = dump::write_bin(&path, d)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.bytes += w.bytes;
        self.manifest.files.insert(bin, file_entry(d, &w, true));
        Ok(w)
    }

    /// Write the manifest and move the complete folder into place. Returns the folder and the
    /// bytes of dumps written.
    pub fn finish(mut self) -> Result<(PathBuf, u64)> {
        let mpath = self.tmp_dir.join(FILE_NAME);
        std::fs::write(&mpath, self.manifest.to_json())
            .with_context(|| format!("cannot write {}", mpath.display()))?;
        let old = self.final_dir.with_file_name(format!(
            ".{}.old-{}",
            self.manifest.case,
            std::process::id()
        ));
        let replaced = self.final_dir.exists();
        if replaced {
            std::fs::rename(&self.final_dir, &old)
                .with_context(|| format!("cannot move aside {}", self.final_dir.display()))?;
        }
        std::fs::rename(&self.tmp_dir, &self.final_dir)
            .with_context(|| format!("cannot rename into {}", self.final_dir.display()))?;
        if replaced {
            std::fs::remove_dir_all(&old)
                .with_context(|| format!("cannot remove old {}", old.display()))?;
        }
        self.done = true;
        Ok((self.final_dir.clone(), self.bytes))
    }

    pub fn manifest_mut(&mut self) -> &mut Manifest {
        &mut self.manifest
    }

    /// Record the flag counts of computed dumps already written (hex and binary forms).
    pub fn set_flags(&mut self, flags: &[(&str, FlagCounts)]) {
        set_flags(&mut self.manifest, flags);
    }
}

fn set_flags(m: &mut Manifest, flags: &[(&str, FlagCounts)]) {
    for (name, counts) in flags {
        for key in [name.to_string(), format!("{name}.bin")] {
            if let Some(e) = m.files.get_mut(&key) {
                e.flags = Some(*counts);
            }
        }
    }
}

fn file_entry(d: DumpRef<'_>, w: &Written, bin: bool) -> FileEntry {
    FileEntry {
        dtype: d.dtype().name().to_string(),
        shape: d.shape().to_vec(),
        block_axis: d.block_axis(),
        block_size: d.block_axis().map(|_| BLOCK),
        encoding: bin.then(|| "bin-le".to_string()),
        lines: w.lines,
        sha256: w.sha256.clone(),
        flags: None,
    }
}

/// A case's files as they would be written (hex dumps and manifest.json with the computed dumps'
/// flag counts), in memory: the golden corpus test compares these with the checked-in files byte
/// for byte.
pub fn render(
    mut manifest: Manifest,
    dumps: &[(&str, DumpRef<'_>)],
    flags: &[(&str, FlagCounts)],
) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::with_capacity(dumps.len() + 1);
    for (name, d) in dumps {
        let bytes = dump::to_bytes(*d);
        let w = Written {
            lines: d.lines(),
            bytes: bytes.len() as u64,
            sha256: dump::sha256_hex(&bytes),
        };
        manifest
            .files
            .insert(name.to_string(), file_entry(*d, &w, false));
        files.push((name.to_string(), bytes));
    }
    set_flags(&mut manifest, flags);
    files.push((FILE_NAME.to_string(), manifest.to_json().into_bytes()));
    files
}

impl Drop for CaseWriter {
    /// An abandoned (failed) case leaves nothing behind that could look complete.
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp_dir);
        }
    }
}
