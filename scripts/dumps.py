"""Read and write the simulator's text dumps (docs/dump-format.md).

Every tensor is a `$readmemh` text file: one word per line, lowercase hexadecimal, zero padded to
the word width, a '\\n' after every line.  BF16 words have 4 digits, FP32 words 8, and an MXINT8
block is one 66-digit line: the E8M0 scale byte first, then elements 31 down to 0 in two's
complement.  Parsing is strict on purpose: two implementations are compared bit for bit, so a
malformed line must fail loudly (ValueError naming the file and the line) instead of being guessed.

Typical use:

    import dumps
    qk = dumps.read_bf16("case/softmaxed_v.qk_T", shape=(1, 32, 1, 4))      # ml_dtypes.bfloat16
    scales, elems = dumps.read_mxint8("case/softmaxed_v.v", grid_shape=(1, 32, 1, 128))
    v = dumps.dequantize_mxint8(scales, elems, shape=(1, 32, 4, 128), block_axis=2)
    everything = dumps.load_case("case")        # uses manifest.json, checks lines and sha256
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterator, Sequence

import ml_dtypes
import numpy as np

BLOCK_SIZE = 32
BF16_DIGITS = 4
FP32_DIGITS = 8
MXINT8_DIGITS = 2 + 2 * BLOCK_SIZE
MANIFEST_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------
# Generic words
# ----------------------------------------------------------------------------------------------

def read_lines(path: str | os.PathLike, digits: int) -> list[str]:
    """Return the lines of a dump after checking every one is exactly `digits` lowercase hex digits.

    The whole-file regular expression makes the common (valid) case fast; only on failure do we
    walk the lines to name the first bad one.
    """
    text = Path(path).read_bytes().decode("ascii", errors="replace")
    if re.fullmatch(r"(?:[0-9a-f]{%d}\n)*" % digits, text):
        return text.split("\n")[:-1]
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1], start=1):
        _check_word(path, number, line, digits)
    raise ValueError(f"{path}:{len(lines)}: last line {lines[-1]!r} is not terminated by '\\n'")


def _check_word(path, number: int, line: str, digits: int) -> None:
    """Raise a ValueError that says precisely what is wrong with one line."""
    if len(line) != digits:
        raise ValueError(f"{path}:{number}: expected {digits} hex digits, got {len(line)} "
                         f"({line!r})")
    bad = [c for c in line if c not in "0123456789abcdef"]
    if bad:
        raise ValueError(f"{path}:{number}: {bad[0]!r} is not a lowercase hex digit ({line!r})")


def _check_count(path, found: int, shape: Sequence[int] | None) -> None:
    """Raise if a file has a different number of lines than its shape needs."""
    if shape is not None:
        expected = int(np.prod(shape, dtype=np.int64))
        if found != expected:
            raise ValueError(f"{path}:{min(found, expected) + 1}: expected {expected} lines for "
                             f"shape {list(shape)}, the file has {found}")


def read_words(path, digits: int, shape: Sequence[int] | None = None) -> np.ndarray:
    """Read a BF16/FP32 style dump into an unsigned integer array (uint16 or uint32 bits)."""
    lines = read_lines(path, digits)
    _check_count(path, len(lines), shape)
    dtype = {BF16_DIGITS: np.uint16, FP32_DIGITS: np.uint32}[digits]
    big_endian = np.dtype(dtype).newbyteorder(">")
    words = np.frombuffer(bytes.fromhex("".join(lines)), dtype=big_endian).astype(dtype)
    return words.reshape(shape) if shape is not None else words


def format_words(words: np.ndarray, digits: int) -> str:
    """The dump text of unsigned integer words: zero padded lowercase hex, '\\n' after each."""
    fmt = "%0" + str(digits) + "x\n"
    return "".join(fmt % w for w in np.asarray(words).ravel().tolist())


def write_text(path, text: str) -> None:
    """Write a whole file at once (a partial file never appears under the final name)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# BF16 and FP32
# ----------------------------------------------------------------------------------------------

def read_bf16_bits(path, shape: Sequence[int] | None = None) -> np.ndarray:
    """BF16 dump -> uint16 bit patterns (reshaped to `shape` if given, which must match)."""
    return read_words(path, BF16_DIGITS, shape)


def read_bf16(path, shape: Sequence[int] | None = None) -> np.ndarray:
    """BF16 dump -> ml_dtypes.bfloat16 array (a view of the exact bits, no conversion)."""
    return read_bf16_bits(path, shape).view(ml_dtypes.bfloat16)


def read_fp32_bits(path, shape: Sequence[int] | None = None) -> np.ndarray:
    """FP32 dump -> uint32 bit patterns."""
    return read_words(path, FP32_DIGITS, shape)


def read_fp32(path, shape: Sequence[int] | None = None) -> np.ndarray:
    """FP32 dump -> float32 array (a view of the exact bits)."""
    return read_fp32_bits(path, shape).view(np.float32)


def _as_bits(data, float_dtype, bits_dtype) -> np.ndarray:
    """Accept either the float dtype or the matching unsigned bits dtype; refuse anything else,
    because converting e.g. float64 here would be an unnoticed second rounding."""
    data = np.asarray(data)
    if data.dtype == float_dtype:
        return data.view(bits_dtype)
    if data.dtype == bits_dtype:
        return data
    raise TypeError(f"expected {np.dtype(float_dtype).name} or {np.dtype(bits_dtype).name} "
                    f"data, got {data.dtype}")


def bf16_text(data) -> str:
    """Dump text of a bfloat16 array or of uint16 bit patterns."""
    return format_words(_as_bits(data, ml_dtypes.bfloat16, np.uint16), BF16_DIGITS)


def fp32_text(data) -> str:
    """Dump text of a float32 array or of uint32 bit patterns."""
    return format_words(_as_bits(data, np.float32, np.uint32), FP32_DIGITS)


def write_bf16(path, data) -> None:
    """Write a BF16 dump (row-major order of `data`)."""
    write_text(path, bf16_text(data))


def write_fp32(path, data) -> None:
    """Write an FP32 dump (row-major order of `data`)."""
    write_text(path, fp32_text(data))


# ----------------------------------------------------------------------------------------------
# MXINT8
# ----------------------------------------------------------------------------------------------

def read_mxint8(path, grid_shape: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MXINT8 dump -> (scales uint8 of the block-grid shape, elements int8 of grid_shape + [32]).

    Line digits: scale byte, then element 31, 30, ..., 0 (element 0 is the last byte).
    """
    lines = read_lines(path, MXINT8_DIGITS)
    _check_count(path, len(lines), grid_shape)
    raw = np.frombuffer(bytes.fromhex("".join(lines)), dtype=np.uint8)
    raw = raw.reshape(len(lines), 1 + BLOCK_SIZE)
    scales = raw[:, 0].copy()
    elements = raw[:, :0:-1].view(np.int8).copy()
    if grid_shape is not None:
        scales = scales.reshape(grid_shape)
        elements = elements.reshape(tuple(grid_shape) + (BLOCK_SIZE,))
    return scales, elements


def mxint8_text(scales, elements) -> str:
    """Dump text of MXINT8 blocks: `scales` uint8 [grid], `elements` int8 [grid + [32]]."""
    scales = np.asarray(scales)
    elements = np.asarray(elements)
    if scales.dtype != np.uint8 or elements.dtype != np.int8:
        raise TypeError(f"expected uint8 scales and int8 elements, got {scales.dtype} and "
                        f"{elements.dtype}")
    if elements.shape != scales.shape + (BLOCK_SIZE,):
        raise ValueError(f"elements shape {elements.shape} does not match scales shape "
                         f"{scales.shape} + ({BLOCK_SIZE},)")
    rows = np.concatenate([scales.reshape(-1, 1),
                           elements.reshape(-1, BLOCK_SIZE)[:, ::-1].view(np.uint8)], axis=1)
    width = 1 + BLOCK_SIZE
    hexed = rows.tobytes().hex()
    return "".join(hexed[2 * width * i: 2 * width * (i + 1)] + "\n" for i in range(rows.shape[0]))


def write_mxint8(path, scales, elements) -> None:
    """Write an MXINT8 dump in block-grid row-major order."""
    write_text(path, mxint8_text(scales, elements))


def dequantize_mxint8(scales, elements, shape: Sequence[int], block_axis: int) -> np.ndarray:
    """MXINT8 blocks -> float32 tensor of the logical `shape`; NaN where the scale byte is 0xff.

    Each value q * 2^(s - 133) is exact in float32 (7 significant bits, exponent -133..121), so
    ldexp is exact here.  The block grid has ceil(L/32) on `block_axis`; the padding past L is cut.
    """
    shape = tuple(shape)
    axis = block_axis % len(shape)
    scales = np.asarray(scales)
    values = np.ldexp(np.asarray(elements, dtype=np.float32),
                      scales.astype(np.int32)[..., None] - 133)
    values[scales == 0xFF] = np.nan
    values = np.moveaxis(values, -1, axis + 1)            # [..., nb, 32, ...]
    merged = values.shape[:axis] + (values.shape[axis] * BLOCK_SIZE,) + values.shape[axis + 2:]
    values = values.reshape(merged)
    return np.take(values, np.arange(shape[axis]), axis=axis).reshape(shape)


def block_grid(shape: Sequence[int], block_axis: int) -> tuple[int, ...]:
    """Block-grid shape of an MXINT8 tensor: the blocked axis of length L becomes ceil(L/32)."""
    grid = list(shape)
    grid[block_axis] = -(-grid[block_axis] // BLOCK_SIZE)
    return tuple(grid)


# ----------------------------------------------------------------------------------------------
# Case folders and manifest.json
# ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_case_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden sibling folder to fill; on success it replaces `final` in one rename.

    An existing `final` is moved aside first and removed only after the rename succeeded, so an
    interrupted run never leaves a half-written case under the real name.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(case_dir) -> dict:
    """Parse `case_dir/manifest.json`, checking the format version and the per-file entries."""
    path = Path(case_dir) / "manifest.json"
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format_version {manifest.get('format_version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ValueError(f"{path}: missing 'files' object")
    for name, entry in files.items():
        for key in ("dtype", "shape", "lines", "sha256"):
            if key not in entry:
                raise ValueError(f"{path}: files.{name} has no {key!r}")
        if entry["dtype"] not in ("bf16", "fp32") and not is_mx_dtype(entry["dtype"]):
            raise ValueError(f"{path}: files.{name} has unknown dtype {entry['dtype']!r}")
        if is_mx_dtype(entry["dtype"]) and "block_axis" not in entry:
            raise ValueError(f"{path}: files.{name} is {entry['dtype']} but has no "
                             f"'block_axis'")
    return manifest


def mx_formats() -> dict:
    """The MX format table (docs/numerics.md section 8.1), by dtype name: mx.py's FORMATS,
    imported here on first use (mx.py itself builds on this module)."""
    import mx
    return mx.FORMATS


def is_mx_dtype(dtype: str) -> bool:
    """Whether a manifest dtype is one of the MX block formats (mxint8 included)."""
    return dtype in mx_formats()


def load_case(case_dir, verify: bool = True) -> dict:
    """Load every file a manifest lists, in its logical shape.

    BF16 -> bfloat16 array, FP32 -> float32 array, MXINT8 -> (scales, elements) in block-grid
    form, the other MX formats -> (scales uint8, codes uint8) in block-grid form
    (mx.read_mx).  With `verify`, each file's line count and SHA-256 must match the manifest.
    """
    case_dir = Path(case_dir)
    tensors = {}
    for name, entry in read_manifest(case_dir)["files"].items():
        path = case_dir / name
        if verify:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                raise ValueError(f"{path}: sha256 {digest} differs from the manifest's "
                                 f"{entry['sha256']}")
        shape = tuple(entry["shape"])
        if entry["dtype"] == "mxint8":
            grid = block_grid(shape, entry["block_axis"])
            tensors[name] = read_mxint8(path, grid)
            lines = int(np.prod(grid, dtype=np.int64))
        elif is_mx_dtype(entry["dtype"]):
            import mx
            grid = block_grid(shape, entry["block_axis"])
            tensors[name] = mx.read_mx(path, entry["dtype"], grid)
            lines = int(np.prod(grid, dtype=np.int64))
        else:
            reader = read_bf16 if entry["dtype"] == "bf16" else read_fp32
            tensors[name] = reader(path, shape)
            lines = tensors[name].size
        if verify and lines != entry["lines"]:
            raise ValueError(f"{path}: manifest says {entry['lines']} lines, shape gives {lines}")
    return tensors
