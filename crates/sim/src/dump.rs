//! Reading and writing `$readmemh` text dumps (docs/dump-format.md).
//!
//! Writing streams through a table-driven hex encoder into a reused buffer, hashing the bytes as
//! they go out. Reading is strict: every deviation is an error naming the file and line.

use crate::tensor::{Dtype, DumpRef};
use hw_types::{Bf16, Fp32, MxBlock, MxInt8Block, BLOCK};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Lowercase hex digit pairs for every byte value.
const HEX: [[u8; 2]; 256] = {
    let digits = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    t
};

/// Flush threshold of the encoder buffer.
const CHUNK: usize = 1 << 16;

/// What was written: line count and SHA-256 of the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub lines: usize,
    pub bytes: u64,
    pub sha256: String,
}

/// Encode a dump's lines chunk by chunk, handing each chunk to `sink` ([`Sink`]'s contract).
fn encode<E>(d: DumpRef<'_>, mut sink: impl FnMut(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
    let line = d.dtype().hex_digits() + 1;
    let words = (CHUNK / line).max(1);
    let mut buf = Vec::new();
    let quads = hex_quads();
    // Fill whole lines of a buffer from a slice of words, hand each full buffer to `sink`. The
    // resize is a no-op unless the sink left a buffer of another length in its place.
    macro_rules! each {
        ($data:expr, $fill:expr) => {
            for chunk in $data.chunks(words) {
                buf.resize(words * line, 0);
                for (dst, x) in buf.chunks_exact_mut(line).zip(chunk) {
                    $fill(dst, x);
                    dst[line - 1] = b'\n';
                }
                buf.truncate(chunk.len() * line);
                sink(&mut buf)?;
            }
        };
    }
    match d {
        DumpRef::Bf16(t) => each!(t.data, |dst: &mut [u8], x: &Bf16| {
            dst[..4].copy_from_slice(&quads[x.0 as usize])
        }),
        DumpRef::Fp32(t) => each!(t.data, |dst: &mut [u8], x: &Fp32| {
            dst[..4].copy_from_slice(&quads[(x.0 >> 16) as usize]);
            dst[4..8].copy_from_slice(&quads[(x.0 & 0xffff) as usize]);
        }),
        // The word `to_word` defines (scale, element 31, ..., element 0), two elements a lookup.
        DumpRef::MxInt8(t) => each!(t.blocks, |dst: &mut [u8], b: &MxInt8Block| {
            dst[..2].copy_from_slice(&HEX[b.scale.0 as usize]);
            for (quad, pair) in dst[2..66].chunks_exact_mut(4).zip(b.elems.rchunks_exact(2)) {
                let hi_lo = u16::from_be_bytes([pair[1] as u8, pair[0] as u8]);
                quad.copy_from_slice(&quads[hi_lo as usize]);
            }
        }),
        DumpRef::Mx(t) => {
            let w = t.format.width;
            each!(t.blocks, |dst: &mut [u8], b: &MxBlock| {
                for (pair, byte) in dst.chunks_exact_mut(2).zip(pack_block(b, w)) {
                    pair.copy_from_slice(&HEX[byte as usize]);
                }
            })
        }
    }
    Ok(())
}

/// A block's line as big-endian bytes (docs/dump-format.md): the scale byte, then a field of
/// `32 * width` bits holding element `i` at bits `[width * i, width * i + width)` from its
/// least significant bit. `32 * width` is a multiple of 8 for every format.
pub fn pack_block(b: &MxBlock, width: u32) -> Vec<u8> {
    let field = BLOCK * width as usize / 8;
    let mut out = vec![0u8; 1 + field];
    out[0] = b.scale.0;
    // Codes go in from element 0 at the least significant end: a bit buffer of at most
    // 7 + 8 bits drains a byte at a time from the last byte of the line backwards.
    let (mut acc, mut bits, mut at) = (0u32, 0u32, field);
    for &c in &b.codes {
        acc |= (c as u32 & ((1 << width) - 1)) << bits;
        bits += width;
        while bits >= 8 {
            out[at] = acc as u8;
            at -= 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    out
}

/// Inverse of [`pack_block`].
pub fn unpack_block(word: &[u8], width: u32) -> MxBlock {
    // The inverse of pack_block's bit buffer: bytes in from the last one, codes out from
    // element 0.
    let mut codes = [0u8; BLOCK];
    let (mut acc, mut bits, mut at) = (0u32, 0u32, word.len() - 1);
    for c in codes.iter_mut() {
        while bits < width {
            acc |= (word[at] as u32) << bits;
            at -= 1;
            bits += 8;
        }
        *c = (acc & ((1 << width) - 1)) as u8;
        acc >>= width;
        bits -= width;
    }
    MxBlock {
        scale: hw_types::E8m0(word[0]),
        codes,
    }
}

/// Four lowercase hex digits for every 16-bit value (256 KiB, built once): a BF16 line is one
/// lookup, an FP32 line two.
fn hex_quads() -> &'static [[u8; 4]] {
    static T: std::sync::OnceLock<Box<[[u8; 4]]>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        (0..=u16::MAX)
            .map(|v| {
                let [h, l] = v.to_be_bytes();
                let (a, b) = (HEX[h as usize], HEX[l as usize]);
                [a[0], a[1], b[0], b[1]]
            })
            .collect()
    })
}

/// The dump's full text (for tests and in-memory comparisons).
pub fn to_bytes(d: DumpRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.lines() * (d.dtype().hex_digits() + 1));
    encode::<()>(d, |c| {
        out.extend_from_slice(c);
        Ok(())
    })
    .expect("infallible");
    out
}

/// Write a dump to `path` as `$readmemh` text (the caller makes the write atomic by writing into
/// a temp folder).
pub fn write(path: &Path, d: DumpRef<'_>) -> std::io::Result<Written> {
    stream(path, d, |d, sink| encode(d, sink))
}

/// Write a dump as raw little-endian words: BF16 2 bytes, FP32 4 bytes, MXINT8 33 bytes a block
/// (scale byte, then elements 0..31 as int8), for users who mmap them.
pub fn write_bin(path: &Path, d: DumpRef<'_>) -> std::io::Result<Written> {
    stream(path, d, |d, sink| encode_bin(d, sink))
}

/// Receives each encoded chunk of a dump: the whole of the buffer. It may keep the buffer and leave
/// another (of any length) in its place, so that a chunk can change hands without being copied.
type Sink<'s> = &'s mut dyn FnMut(&mut Vec<u8>) -> std::io::Result<()>;

/// Dumps of at least this many bytes are hashed on a second thread ([`hash_beside`]); for smaller
/// ones starting a thread costs more than it saves.
const HASH_BESIDE_MIN: usize = 8 << 20;
/// Encoded chunks in flight between the writer and the hashing thread.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Stream an encoding of `d` into `path`, hashing the bytes as they go. Each chunk goes to the
/// file in one `write` (no user-space buffer between the encoder and the kernel's page cache).
fn stream(
    path: &Path,
    d: DumpRef<'_>,
    encoder: impl FnOnce(DumpRef<'_>, Sink<'_>) -> std::io::Result<()>,
) -> std::io::Result<Written> {
    let mut file = File::create(path)?;
    let mut bytes = 0u64;
    let mut write = |buf: &mut Vec<u8>| {
        bytes += buf.len() as u64;
        file.write_all(buf)
    };
    let digest = if d.lines() * (d.dtype().hex_digits() + 1) >= HASH_BESIDE_MIN {
        hash_beside(|sink| encoder(d, sink), &mut write)?
    } else {
        let mut hasher = Sha256::new();
        encoder(d, &mut |buf: &mut Vec<u8>| {
            hasher.update(&buf[..]);
            write(buf)
        })?;
        hasher.finalize()
    };
    Ok(Written {
        lines: d.lines(),
        bytes,
        sha256: hex_digest(digest.as_slice()),
    })
}

/// Run `encode`, passing each chunk to `write` here and hashing it on a second thread, in order:
/// SHA-256 (about 2 GB/s a core) then runs beside the encoding and the kernel's copy of the next
/// chunks instead of after them. Chunks change hands, not bytes: a hashed buffer comes back for the
/// encoder to fill again, so at most a few buffers exist.
fn hash_beside(
    encode: impl FnOnce(Sink<'_>) -> std::io::Result<()>,
    write: &mut dyn FnMut(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<sha2::digest::Output<Sha256>> {
    use std::sync::mpsc;
    let (full, to_hash) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let (hashed, to_reuse) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let hasher = s.spawn(move || {
            let mut h = Sha256::new();
            for buf in to_hash {
                h.update(&buf);
                // The encoder may have finished and dropped its end: nothing left to reuse.
                let _ = hashed.send(buf);
            }
            h.finalize()
        });
        let encoded = encode(&mut |buf: &mut Vec<u8>| {
            write(buf)?;
            let done = std::mem::replace(buf, to_reuse.try_recv().unwrap_or_default());
            full.send(done)
                .map_err(|_| std::io::Error::other("the hashing thread stopped"))
        });
        // Closing the channel ends the hashing thread's loop.
        drop(full);
        let digest = hasher
            .join()
            .map_err(|_| std::io::Error::other("the hashing thread panicked"))?;
        encoded.map(|()| digest)
    })
}

/// The binary encoding, in chunks.
fn encode_bin(d: DumpRef<'_>, sink: Sink<'_>) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 64);
    macro_rules! each {
        ($iter:expr) => {
            for word in $iter {
                buf.extend_from_slice(&word);
                if buf.len() >= CHUNK {
                    sink(&mut buf)?;
                    buf.clear();
                }
            }
        };
    }
    match d {
        DumpRef::Bf16(t) => each!(t.data.iter().map(|x| x.0.to_le_bytes())),
        DumpRef::Fp32(t) => each!(t.data.iter().map(|x| x.0.to_le_bytes())),
        DumpRef::MxInt8(t) => each!(t.blocks.iter().map(|b| {
            let mut w = [0u8; 33];
            w[0] = b.scale.0;
            for (o, q) in w[1..].iter_mut().zip(b.elems) {
                *o = q as u8;
            }
            w
        })),
        // Any other MX format: the scale byte, then one element code a byte.
        DumpRef::Mx(t) => each!(t.blocks.iter().map(|b| {
            let mut w = [0u8; 33];
            w[0] = b.scale.0;
            w[1..].copy_from_slice(&b.codes);
            w
        })),
    }
    if !buf.is_empty() {
        sink(&mut buf)?;
    }
    Ok(())
}

pub fn hex_digest(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| HEX[*b as usize])
        .map(char::from)
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_digest(Sha256::digest(bytes).as_slice())
}

/// A malformed or unreadable dump: file, 1-based line (0 for whole-file problems), what was wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {msg}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct DumpError {
    pub path: PathBuf,
    pub line: usize,
    pub msg: String,
}

impl DumpError {
    pub fn new(path: &Path, line: usize, msg: impl Into<String>) -> Self {
        DumpError {
            path: path.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }
}

/// The words of a dump: big-endian bytes back to back (`hex_digits / 2` bytes a word), and the
/// 1-based file line of each word when the file had lines other than words (comments, blanks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    pub bytes: Vec<u8>,
    pub word_bytes: usize,
    line_of: Option<Vec<u32>>,
}

impl Words {
    pub fn len(&self) -> usize {
        self.bytes.len() / self.word_bytes
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn word(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.word_bytes..(i + 1) * self.word_bytes]
    }
    /// The file line (1-based) word `i` was read from.
    pub fn line(&self, i: usize) -> usize {
        self.line_of.as_ref().map_or(i + 1, |l| l[i] as usize)
    }
}

/// Parse a dump's text into words of `dtype.hex_digits()` digits.
///
/// Accepted, as `$readmemh` accepts them: `\n` or `\r\n` line ends, upper- or lowercase digits,
/// spaces and tabs around a word, blank lines, `//` comments (whole-line or after the word), and
/// `@addr` lines whose hex address is the index of the next word (what `$writememh` emits; a jump
/// would leave holes, so it is an error). Rejected with the file and line: a word of the wrong
/// digit count, non-hex characters (`0x`, `_`, `x`/`z`), two words on a line, `/* */` comments,
/// an empty file, and a word count other than `expected`.
pub fn parse_words(
    path: &Path,
    text: &[u8],
    dtype: Dtype,
    expected: Option<usize>,
) -> Result<Words, DumpError> {
    let digits = dtype.hex_digits();
    let word_bytes = digits / 2;
    let mut bytes = Vec::with_capacity(text.len() / (digits + 1) * word_bytes);
    let mut lines: Vec<u32> = Vec::new();
    let mut canonical = true;
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let count = bytes.len() / word_bytes;
        let fast = raw.len() == digits && raw.iter().all(u8::is_ascii_hexdigit);
        let l = if fast {
            raw
        } else {
            let mut l = raw.strip_suffix(b"\r").unwrap_or(raw);
            if let Some(c) = find(l, b"//") {
                l = &l[..c];
            }
            l.trim_ascii()
        };
        if !fast {
            if canonical {
                canonical = false;
                lines = (1..=count as u32).collect();
            }
            if l.is_empty() {
                continue;
            }
            if let Some(addr) = l.strip_prefix(b"@") {
                let a = std::str::from_utf8(addr)
                    .ok()
                    .and_then(|a| usize::from_str_radix(a, 16).ok());
                match a {
                    Some(a) if a == count => continue,
                    Some(a) => {
                        return Err(DumpError::new(
                            path,
                            line,
                            format!("address @{a:x} would skip or repeat words: the next word is number {count} (@{count:x})"),
                        ))
                    }
                    None => {
                        return Err(DumpError::new(
                            path,
                            line,
                            format!("expected a hex address after '@', found {:?}", preview(l)),
                        ))
                    }
                }
            }
        }
        if l.len() != digits {
            return Err(DumpError::new(
                path,
                line,
                format!(
                    "expected {digits} hex digits ({} word), found {} characters: {:?}",
                    dtype.name(),
                    l.len(),
                    preview(l)
                ),
            ));
        }
        for pair in l.chunks(2) {
            match (hex_val(pair[0]), hex_val(pair[1])) {
                (Some(h), Some(lw)) => bytes.push(h << 4 | lw),
                _ => {
                    return Err(DumpError::new(
                        path,
                        line,
                        format!("expected only hex digits, found {:?}", preview(l)),
                    ))
                }
            }
        }
        if !canonical {
            lines.push(line as u32);
        }
    }
    let words = Words {
        bytes,
        word_bytes,
        line_of: (!canonical).then_some(lines),
    };
    if words.is_empty() {
        return Err(DumpError::new(path, 0, "empty file: no words"));
    }
    if let Some(n) = expected {
        if words.len() != n {
            return Err(DumpError::new(
                path,
                0,
                format!("expected {n} lines, found {}", words.len()),
            ));
        }
    }
    Ok(words)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn preview(l: &[u8]) -> String {
    let s = String::from_utf8_lossy(&l[..l.len().min(80)]).into_owned();
    if l.len() > 80 {
        s + "…"
    } else {
        s
    }
}

/// The largest dump read (v of 2^28 elements is 562 MB of text): a bound for files that are
/// not dumps at all; the line-count checks judge the rest.
pub const DUMP_LIMIT: u64 = 1 << 32;

/// A dump's bytes: only a regular file is read (a FIFO or device in its place is refused from
/// its metadata, never opened for a blocking read), its buffer reserved fallibly.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DumpError> {
    hw_units::files::read_regular(path, DUMP_LIMIT).map_err(|e| DumpError::new(path, 0, e))
}

pub fn read_bf16(path: &Path, expected: Option<usize>) -> Result<Vec<Bf16>, DumpError> {
    let words = parse_words(path, &read_file(path)?, Dtype::Bf16, expected)?;
    Ok(words
        .bytes
        .chunks_exact(2)
        .map(|w| Bf16(u16::from_be_bytes([w[0], w[1]])))
        .collect())
}

pub fn read_fp32(path: &Path, expected: Option<usize>) -> Result<Vec<Fp32>, DumpError> {
    let words = parse_words(path, &read_file(path)?, Dtype::Fp32, expected)?;
    Ok(words
        .bytes
        .chunks_exact(4)
        .map(|w| Fp32(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        .collect())
}

/// The line count of a tensor of `shape` blocked along `block_axis` (its block grid).
fn grid_lines(path: &Path, shape: &[usize], block_axis: usize) -> Result<usize, DumpError> {
    crate::tensor::grid_shape(shape, block_axis)
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| DumpError::new(path, 0, format!("shape {shape:?} is too large")))
}

/// A line-count error of a blocked dump, with the shape that asks for that count.
fn with_grid(mut e: DumpError, shape: &[usize], block_axis: usize, lines: usize) -> DumpError {
    if e.line == 0 && e.msg.starts_with("expected") {
        e.msg = format!(
            "{} (shape {shape:?} blocked on axis {block_axis} has {lines} blocks of 32)",
            e.msg
        );
    }
    e
}

/// A nonzero padding element `i` of grid block `g` (`found` as the format writes it).
fn padding_error(
    path: &Path,
    (g, i): (usize, usize),
    shape: &[usize],
    block_axis: usize,
    zero: &str,
    found: String,
) -> DumpError {
    DumpError::new(
        path,
        g + 1,
        format!(
            "element {i} lies past the logical length {} of axis {block_axis} and must be {zero} \
             (padding of a partial block), found {found}",
            shape[block_axis]
        ),
    )
}

/// Read an MXINT8 dump of a known logical shape; checks the line count and the zero padding.
pub fn read_mx_tensor(
    path: &Path,
    shape: Vec<usize>,
    block_axis: usize,
) -> Result<crate::tensor::MxTensor, DumpError> {
    let lines = grid_lines(path, &shape, block_axis)?;
    let blocks =
        read_mxint8(path, Some(lines)).map_err(|e| with_grid(e, &shape, block_axis, lines))?;
    let t = crate::tensor::MxTensor {
        shape,
        block_axis,
        blocks,
    };
    match t.nonzero_padding() {
        Some((g, i)) => {
            let found = t.blocks[g].elems[i].to_string();
            Err(padding_error(
                path,
                (g, i),
                &t.shape,
                block_axis,
                "0",
                found,
            ))
        }
        None => Ok(t),
    }
}

/// Read a dump of MX format `format` of a known logical shape; checks the line count (and so the
/// line width) and the zero padding.
pub fn read_mx_codes(
    path: &Path,
    format: hw_types::MxFormat,
    shape: Vec<usize>,
    block_axis: usize,
) -> Result<crate::tensor::MxCodes, DumpError> {
    let lines = grid_lines(path, &shape, block_axis)?;
    let blocks = read_mx_blocks(path, format, Some(lines))
        .map_err(|e| with_grid(e, &shape, block_axis, lines))?;
    let t = crate::tensor::MxCodes {
        format,
        blocks,
        shape,
        block_axis,
    };
    match t.nonzero_padding() {
        Some((g, i)) => {
            let found = format!("{:#x}", t.blocks[g].codes[i]);
            Err(padding_error(
                path,
                (g, i),
                &t.shape,
                block_axis,
                "the +0 code",
                found,
            ))
        }
        None => Ok(t),
    }
}

/// The blocks of a dump of MX format `format` (any format, MXINT8 included).
pub fn read_mx_blocks(
    path: &Path,
    format: hw_types::MxFormat,
    expected: Option<usize>,
) -> Result<Vec<MxBlock>, DumpError> {
    let dtype = if format.name == "mxint8" {
        Dtype::MxInt8
    } else {
        Dtype::Mx(format)
    };
    let words = parse_words(path, &read_file(path)?, dtype, expected)?;
    Ok((0..words.len())
        .map(|i| unpack_block(words.word(i), format.width))
        .collect())
}

pub fn read_mxint8(path: &Path, expected: Option<usize>) -> Result<Vec<MxInt8Block>, DumpError> {
    let words = parse_words(path, &read_file(path)?, Dtype::MxInt8, expected)?;
    Ok(words
        .bytes
        .chunks_exact(33)
        .map(|w| MxInt8Block::from_word(w.try_into().expect("33-byte chunks")))
        .collect())
}
