//! Writing a case folder atomically: every file goes into a hidden temporary sibling folder, the
//! manifest last, and only a complete folder is renamed to the case's name. An existing case of
//! that name is replaced only after the new one is complete.
//!
//! Several writers (threads or processes) may write one case name at once: each writes through a
//! temporary folder whose name is unique to the call (`.CASE.tmp-PID-N`, N a process-wide
//! counter), moves an existing folder aside to a name unique to the call (`.CASE.old-PID-N`)
//! just before renaming its own into place, and removes what it moved aside afterwards. Every
//! writer's rename is atomic, so the folder under the case's name is always one writer's
//! complete case, and when all have returned it is the last one's. The leftovers a killed writer
//! can leave keep the `.CASE.tmp-` / `.CASE.old-` prefixes that `sim gen` cleans
//! (`sweep::remove_leftovers`).
//!
//! What can be checked is checked before anything visible changes: a case name that is taken by
//! a file, and (with [`CaseWriter::create_guarded`]) a case folder holding files that are not the
//! case's own, are refused before the temporary folder is made; output folders that `create`
//! made are removed again when the case is abandoned.

use crate::dump::{self, Written};
use crate::manifest::{FileEntry, Manifest, FILE_NAME};
use crate::tensor::DumpRef;
use anyhow::{Context, Result};
use hw_types::{FlagCounts, BLOCK};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a case cannot be written where it was asked to be; found before anything is written (or,
/// when the folder changed while the case was being written, with everything put back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The case's name is taken by something that is not a folder (`what`: "a file", ...).
    NotAFolder { path: PathBuf, what: &'static str },
    /// The case folder to be replaced holds entries that are not the case's own files (sorted;
    /// a folder is named with a trailing `/`).
    ForeignFiles { dir: PathBuf, names: Vec<String> },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAFolder { path, what } => {
                write!(f, "{} is {what}, not a case folder", path.display())
            }
            Refusal::ForeignFiles { dir, names } => {
                const SHOWN: usize = 10;
                let mut list = names
                    .iter()
                    .take(SHOWN)
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                if names.len() > SHOWN {
                    list += &format!(" and {} more", names.len() - SHOWN);
                }
                write!(
                    f,
                    "{} holds {} entr{} that {} not the case's own ({list}); replacing the folder \
                     would delete {}",
                    dir.display(),
                    names.len(),
                    if names.len() == 1 { "y" } else { "ies" },
                    if names.len() == 1 { "is" } else { "are" },
                    if names.len() == 1 { "it" } else { "them" },
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// What an existing case folder may hold for [`CaseWriter::create_guarded`] to replace it.
struct Guard {
    own: HashSet<String>,
    replace: bool,
}

impl Guard {
    /// The entries of `dir` that are not the case's own regular files, sorted.
    fn foreign(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(true);
            if is_dir {
                names.push(format!("{name}/"));
            } else if !self.own.contains(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// `Err` when `path` (the case folder, or where it was moved aside to) may not be replaced.
    /// A folder that has gone meanwhile (another writer of the case moved it aside) has nothing
    /// to protect.
    fn check(&self, path: &Path, shown_as: &Path) -> Result<()> {
        if self.replace {
            return Ok(());
        }
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if gone(&e) => return Ok(()),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot inspect {}", path.display()))
                )
            }
        };
        if meta.file_type().is_symlink() {
            return Err(Refusal::NotAFolder {
                path: shown_as.to_path_buf(),
                what: "a symbolic link",
            }
            .into());
        }
        let names = match self.foreign(path) {
            Ok(names) => names,
            Err(e) if gone(&e) => return Ok(()),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot list {}", path.display())))
            }
        };
        if names.is_empty() {
            Ok(())
        } else {
            Err(Refusal::ForeignFiles {
                dir: shown_as.to_path_buf(),
                names,
            }
            .into())
        }
    }
}

/// Counter of the temporary and moved-aside names this process makes: with the process id, a
/// name no other call (thread or process) uses at the same time.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// A hidden sibling of the case folder unique to the call: `.CASE.KIND-PID-N`.
fn unique_sibling(final_dir: &Path, case: &str, kind: &str) -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    final_dir.with_file_name(format!(".{case}.{kind}-{}-{n}", std::process::id()))
}

/// Whether a rename into the case's name failed because the name is taken (by a folder that is
/// not empty, or by something else).
fn taken(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        DirectoryNotEmpty | AlreadyExists | NotADirectory | IsADirectory
    )
}

/// How often a writer tries again when other writers of the same case keep taking its name
/// between its two renames (each round, one of them succeeds).
const MAX_ROUNDS: usize = 10_000;

pub struct CaseWriter {
    final_dir: PathBuf,
    tmp_dir: PathBuf,
    manifest: Manifest,
    bytes: u64,
    done: bool,
    guard: Option<Guard>,
    /// Output folders `create` made, deepest first: removed again (when still empty) if the case
    /// is abandoned.
    made: Vec<PathBuf>,
}

/// A case written by [`CaseWriter::commit`].
#[derive(Clone, Debug)]
pub struct Committed {
    /// The case folder.
    pub dir: PathBuf,
    /// Bytes of dumps written.
    pub bytes: u64,
    /// Replaced folders that were moved aside but could not be removed, with the error: the new
    /// case is in place regardless (these are hidden `.CASE.old-` folders `sim gen` cleans).
    pub leftovers: Vec<(PathBuf, String)>,
}

impl CaseWriter {
    /// Start writing `out/<manifest.case>`. An existing folder of that name is replaced whatever
    /// it holds (the CLI's behaviour); a file in its place is refused here, before anything is
    /// written.
    pub fn create(out: &Path, manifest: Manifest) -> Result<CaseWriter> {
        Self::start(out, manifest, None)
    }

    /// [`create`](Self::create), but an existing folder of the case's name is replaced only when
    /// it holds nothing but the case's own files (manifest.json and the names in `own`, each
    /// also as `NAME.bin`), unless `replace`; otherwise the error is a [`Refusal`] naming the
    /// other entries. A symbolic link in the folder's place is not replaced either (with
    /// `replace`, the link is replaced, never what it points to).
    pub fn create_guarded(
        out: &Path,
        manifest: Manifest,
        own: &[&str],
        replace: bool,
    ) -> Result<CaseWriter> {
        let mut names: HashSet<String> = own
            .iter()
            .flat_map(|n| [n.to_string(), format!("{n}.bin")])
            .collect();
        names.insert(FILE_NAME.to_string());
        Self::start(
            out,
            manifest,
            Some(Guard {
                own: names,
                replace,
            }),
        )
    }

    fn start(out: &Path, manifest: Manifest, guard: Option<Guard>) -> Result<CaseWriter> {
        let final_dir = out.join(&manifest.case);
        // Checks first. (When `out` itself is missing or not a folder there is nothing to check
        // here; creating it reports the problem.)
        if let Ok(meta) = std::fs::symlink_metadata(&final_dir) {
            if !meta.is_dir() && !meta.file_type().is_symlink() {
                return Err(Refusal::NotAFolder {
                    path: final_dir,
                    what: hw_units::files::kind(&meta),
                }
                .into());
            }
            if let Some(g) = &guard {
                g.check(&final_dir, &final_dir)?;
            }
        }
        let made: Vec<PathBuf> = out
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
            .map(Path::to_path_buf)
            .collect();
        let undo_made = |made: &[PathBuf]| {
            for d in made {
                let _ = std::fs::remove_dir(d);
            }
        };
        if let Err(e) = std::fs::create_dir_all(out) {
            undo_made(&made);
            return Err(anyhow::Error::new(e)
                .context(format!("cannot create output folder {}", out.display())));
        }
        let mut tries = 0;
        let tmp_dir = loop {
            let t = unique_sibling(&final_dir, &manifest.case, "tmp");
            match std::fs::create_dir(&t) {
                Ok(()) => break t,
                // A leftover of a killed process that had this process id: take the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 100 => {
                    tries += 1
                }
                Err(e) => {
                    undo_made(&made);
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot create {}", t.display()))
                    );
                }
            }
        };
        Ok(CaseWriter {
            final_dir,
            tmp_dir,
            manifest,
            bytes: 0,
            done: false,
            guard,
            made,
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
    /// bytes of dumps written. A replaced folder that cannot be removed afterwards is an error
    /// (naming it; the new case is in place).
    pub fn finish(self) -> Result<(PathBuf, u64)> {
        let c = self.commit()?;
        if let Some((old, e)) = c.leftovers.first() {
            anyhow::bail!(
                "wrote {}, but cannot remove the folder it replaced, moved aside to {}: {e}",
                c.dir.display(),
                old.display()
            );
        }
        Ok((c.dir, c.bytes))
    }

    /// Write the manifest and move the complete folder into place, replacing what holds the
    /// case's name (moved aside first, removed after). On an error nothing visible has changed:
    /// a folder moved aside is put back and the temporary folder removed.
    pub fn commit(mut self) -> Result<Committed> {
        let mpath = self.tmp_dir.join(FILE_NAME);
        std::fs::write(&mpath, self.manifest.to_json())
            .with_context(|| format!("cannot write {}", mpath.display()))?;
        let mut aside: Vec<PathBuf> = Vec::new();
        let mut rounds = 0;
        loop {
            let err = match std::fs::rename(&self.tmp_dir, &self.final_dir) {
                Ok(()) => break,
                Err(e) => e,
            };
            let fail = |e: std::io::Error, what: String| anyhow::Error::new(e).context(what);
            rounds += 1;
            if rounds > MAX_ROUNDS {
                let e = fail(
                    err,
                    format!(
                        "cannot rename {} into {}: other writers of the case kept taking the name",
                        self.tmp_dir.display(),
                        self.final_dir.display()
                    ),
                );
                return Err(self.undo(aside, e));
            }
            match std::fs::symlink_metadata(&self.final_dir) {
                // The name is free again (another writer has just moved its folder aside): try
                // again, unless the rename failed for a reason other than a taken name.
                Err(_) if taken(&err) => {}
                Err(_) => {
                    let e = fail(
                        err,
                        format!("cannot rename into {}", self.final_dir.display()),
                    );
                    return Err(self.undo(aside, e));
                }
                Ok(meta) if !meta.is_dir() && !meta.file_type().is_symlink() => {
                    let e = Refusal::NotAFolder {
                        path: self.final_dir.clone(),
                        what: hw_units::files::kind(&meta),
                    };
                    return Err(self.undo(aside, e.into()));
                }
                Ok(_) => {
                    let old = unique_sibling(&self.final_dir, &self.manifest.case, "old");
                    match std::fs::rename(&self.final_dir, &old) {
                        Ok(()) => {
                            if let Some(g) = &self.guard {
                                if let Err(e) = g.check(&old, &self.final_dir) {
                                    // Not ours to replace (it changed since `create` looked):
                                    // put it back.
                                    let e = match std::fs::rename(&old, &self.final_dir) {
                                        Ok(()) => e,
                                        Err(_) => e.context(format!(
                                            "(it was moved aside to {} and another writer has \
                                             taken its name since)",
                                            old.display()
                                        )),
                                    };
                                    return Err(self.undo(aside, e));
                                }
                            }
                            aside.push(old);
                        }
                        // Another writer moved it first.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            let e =
                                fail(e, format!("cannot move aside {}", self.final_dir.display()));
                            return Err(self.undo(aside, e));
                        }
                    }
                }
            }
        }
        self.done = true;
        let leftovers = aside
            .into_iter()
            .filter_map(|old| {
                std::fs::remove_dir_all(&old)
                    .err()
                    .map(|e| (old, e.to_string()))
            })
            .collect();
        Ok(Committed {
            dir: self.final_dir.clone(),
            bytes: self.bytes,
            leftovers,
        })
    }

    /// After a failed commit: the folder this writer moved aside last goes back under the case's
    /// name. If another writer's case holds the name by now, that one is newer and the folders
    /// moved aside are removed; if the name is free but the rename back fails, the error says
    /// where the folder is. (The temporary folder goes when the writer is dropped.)
    fn undo(&self, mut aside: Vec<PathBuf>, e: anyhow::Error) -> anyhow::Error {
        let mut e = e;
        if let Some(last) = aside.pop() {
            if let Err(re) = std::fs::rename(&last, &self.final_dir) {
                if std::fs::symlink_metadata(&self.final_dir).is_ok() {
                    aside.push(last);
                } else {
                    e = e.context(format!(
                        "the folder it was to replace is in {} (cannot move it back: {re})",
                        last.display()
                    ));
                }
            }
        }
        for old in aside {
            let _ = std::fs::remove_dir_all(old);
        }
        e
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
    /// An abandoned (failed) case leaves nothing behind: its temporary folder goes, and so do the
    /// output folders `create` made (when nothing else has been put in them).
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp_dir);
            for d in &self.made {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;
    use hw_types::Bf16;

    const CASE: &str = "kv-size-2_seed-0";
    const DUMP: &str = "softmaxed_v.qk_T";

    /// A one-dump case whose content says which writer wrote it.
    fn write(out: &Path, tag: u16, guard: Option<bool>) -> Result<PathBuf> {
        let t = Tensor::new(vec![1, 1, 1, 2], vec![Bf16(tag), Bf16(!tag)]);
        let mut m = Manifest::new("softmax_v", CASE, "reference");
        m.params.insert("writer".into(), tag.into());
        let mut w = match guard {
            None => CaseWriter::create(out, m)?,
            Some(replace) => CaseWriter::create_guarded(out, m, &[DUMP], replace)?,
        };
        w.write(DUMP, DumpRef::Bf16(&t))?;
        Ok(w.finish()?.0)
    }

    /// The writer whose complete case `dir` holds: the dump matches the manifest's writer and
    /// its recorded SHA-256.
    fn writer_of(dir: &Path) -> u16 {
        let m = Manifest::read(&dir.join(FILE_NAME)).expect("a manifest");
        let tag = m.params["writer"].as_u64().unwrap() as u16;
        let bytes = std::fs::read(dir.join(DUMP)).expect("the dump");
        assert_eq!(dump::sha256_hex(&bytes), m.files[DUMP].sha256);
        assert_eq!(bytes, format!("{tag:04x}\n{:04x}\n", !tag).into_bytes());
        tag
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn concurrent_writers_of_one_case_leave_the_last_complete_case() {
        let tmp = tempfile::tempdir().unwrap();
        for trial in 0..25u16 {
            let out = tmp.path().join(format!("t{trial}"));
            let finished = std::sync::Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for w in 0..6u16 {
                    let (out, finished) = (&out, &finished);
                    s.spawn(move || {
                        let tag = trial * 16 + w + 1;
                        write(out, tag, Some(false)).unwrap();
                        finished.lock().unwrap().push(tag);
                    });
                }
            });
            let finished = finished.into_inner().unwrap();
            let got = writer_of(&out.join(CASE));
            assert!(
                finished.contains(&got),
                "trial {trial}: {got} of {finished:?}"
            );
            assert_eq!(entries(&out), [CASE], "trial {trial}: leftovers");
        }
    }

    #[test]
    fn a_file_in_the_case_place_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(CASE), "mine").unwrap();
        for guard in [None, Some(false), Some(true)] {
            let e = write(tmp.path(), 1, guard).unwrap_err();
            assert!(
                matches!(
                    e.downcast_ref::<Refusal>(),
                    Some(Refusal::NotAFolder { what: "a file", .. })
                ),
                "{e:#}"
            );
            assert_eq!(entries(tmp.path()), [CASE]);
        }
        // Output folders the writer made for a case it abandons go again.
        let out = tmp.path().join("a/b");
        let t = Tensor::new(vec![1], vec![Bf16(0)]);
        let mut w =
            CaseWriter::create(&out, Manifest::new("softmax_v", CASE, "reference")).unwrap();
        w.write(DUMP, DumpRef::Bf16(&t)).unwrap();
        drop(w);
        assert_eq!(entries(tmp.path()), [CASE]);
    }

    #[test]
    fn a_late_file_in_the_case_place_fails_the_commit_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Tensor::new(vec![1], vec![Bf16(0)]);
        let mut w =
            CaseWriter::create(tmp.path(), Manifest::new("softmax_v", CASE, "reference")).unwrap();
        w.write(DUMP, DumpRef::Bf16(&t)).unwrap();
        std::fs::write(tmp.path().join(CASE), "appeared meanwhile").unwrap();
        let e = w.commit().unwrap_err();
        assert!(e.downcast_ref::<Refusal>().is_some(), "{e:#}");
        assert_eq!(entries(tmp.path()), [CASE]);
        assert_eq!(
            std::fs::read(tmp.path().join(CASE)).unwrap(),
            b"appeared meanwhile"
        );
    }

    #[test]
    fn foreign_files_are_kept_unless_replacing_is_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = write(tmp.path(), 1, Some(false)).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        std::fs::create_dir(dir.join("waves")).unwrap();
        std::fs::write(dir.join(format!("{DUMP}.bin")), "the case's own").unwrap();
        let e = write(tmp.path(), 2, Some(false)).unwrap_err();
        match e.downcast_ref::<Refusal>() {
            Some(Refusal::ForeignFiles { names, .. }) => {
                assert_eq!(names, &["notes.txt", "waves/"])
            }
            _ => panic!("{e:#}"),
        }
        assert!(e.to_string().contains("(notes.txt, waves/)"), "{e}");
        assert_eq!(writer_of(&dir), 1);
        assert_eq!(entries(tmp.path()), [CASE]);
        // Replacing on request, and the CLI's writer, replace the folder whole.
        write(tmp.path(), 3, Some(true)).unwrap();
        assert_eq!(writer_of(&dir), 3);
        assert_eq!(entries(&dir), [FILE_NAME, DUMP]);
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        write(tmp.path(), 4, None).unwrap();
        assert_eq!(entries(&dir), [FILE_NAME, DUMP]);
        assert_eq!(entries(tmp.path()), [CASE]);
    }

    #[test]
    fn leftover_names_keep_the_prefixes_sim_gen_cleans() {
        let a = unique_sibling(Path::new("o/c"), "c", "tmp");
        let b = unique_sibling(Path::new("o/c"), "c", "tmp");
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        let (case, _) = name[1..].rsplit_once(".tmp-").unwrap();
        assert_eq!(case, "c");
        assert!(name.contains(&std::process::id().to_string()));
    }
}
