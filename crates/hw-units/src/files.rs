//! Reading an input file that a user names, without trusting what the name points at.
//!
//! A path can name a device that never ends (`/dev/zero`), a FIFO whose `open` blocks until a
//! writer appears, a directory, or a file far larger than any description. Such an input is
//! refused from its metadata before a byte is read: `stat` first (so a FIFO is never opened),
//! then the file is opened non-blocking and checked again through the open handle (the name may
//! have been swapped in between), and at most `limit` bytes are read.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// The largest hardware description or manifest read (descriptions are a few hundred bytes).
pub const TEXT_LIMIT: u64 = 1 << 20;

/// What a path is, for error messages: "a FIFO", "a socket", "a character device", "a block
/// device", "a directory", "a file" (regular), else "not a regular file".
pub fn kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else if meta.is_file() {
        "a file"
    } else {
        "not a regular file"
    }
}

/// `Ok` when `meta` is a regular file of at most `limit` bytes.
fn check(meta: &Metadata, limit: u64) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!("is {}, not a regular file", kind(meta)));
    }
    if meta.len() > limit {
        return Err(format!(
            "is {} bytes, over the {limit}-byte limit for this input",
            meta.len()
        ));
    }
    Ok(())
}

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    o.open(path)
}

/// The bytes of `path`, which must be a regular file of at most `limit` bytes. The error says
/// what the path is instead (it does not repeat the path: callers prefix it).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    check(&meta, limit)?;
    let file = open_nonblocking(path).map_err(|e| format!("cannot read: {e}"))?;
    check(
        &file.metadata().map_err(|e| format!("cannot read: {e}"))?,
        limit,
    )?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(meta.len() as usize)
        .map_err(|_| format!("cannot allocate {} bytes to read it", meta.len()))?;
    // The file may grow after the check; one byte past the limit is enough to know.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("grew past the {limit}-byte limit while being read"));
    }
    Ok(bytes)
}

/// [`read_regular`] for a UTF-8 text of at most [`TEXT_LIMIT`] bytes.
pub fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_regular(path, TEXT_LIMIT)?)
        .map_err(|e| format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_from_their_metadata() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("character device"), "{e}");
        let e = read_text(Path::new("/")).unwrap_err();
        assert!(e.contains("directory"), "{e}");
        let e = read_text(Path::new("/no/such/file")).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn size_limit_is_stated() {
        let dir = std::env::temp_dir().join(format!("hw-units-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.json");
        std::fs::write(&p, vec![b' '; 100]).unwrap();
        assert_eq!(read_regular(&p, 100).unwrap().len(), 100);
        let e = read_regular(&p, 99).unwrap_err();
        assert!(e.contains("100 bytes, over the 99-byte limit"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
