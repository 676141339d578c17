"""Independent consumer of the ROM files `sim export-lut` writes (`reference.py lut-check`).

From `<unit>_lut.json` (the description) and `<unit>_lut.hex` (the ROM words) alone -- not from a
profile, a config or our own table generator -- rebuild the unit's result for every BF16 input and
require it to equal `<unit>_outputs.hex`, the simulator's own unit output.  The datapath around the
ROM is the one docs/microarchitecture.md defines (units.py), fed the ROM's words and the JSON's
parameters; so a table the RTL would load is checked end to end against what the golden model does.

Exit status: 0 all 65,536 agree, 1 first mismatch, 2 unusable files (a one-line reason).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Callable

import dumps
import units

INPUTS = 1 << 16


class Unusable(Exception):
    """The files cannot be read as the documented ROM description (exit 2)."""


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            description = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise Unusable(f"{path}: {error}") from None
    if not isinstance(description, dict):
        raise Unusable(f"{path}: expected a JSON object")
    return description


def _param(description: dict, key: str, where: Path, kind: type = int):
    """A required field of the description, of the given JSON type."""
    value = description.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Unusable(f"{where}: field {key!r} missing or not {kind.__name__} ({value!r})")
    return value


def _bit_range(spec: str, where: Path) -> tuple[int, int]:
    """'bits H:L' or 'bit N' -> (high, low)."""
    match = re.fullmatch(r"bits (\d+):(\d+)|bit (\d+)", spec if isinstance(spec, str) else "")
    if not match:
        raise Unusable(f"{where}: field position {spec!r} is not 'bits H:L' or 'bit N'")
    if match.group(3) is not None:
        return int(match.group(3)), int(match.group(3))
    high, low = int(match.group(1)), int(match.group(2))
    if high < low:
        raise Unusable(f"{where}: field position {spec!r} has high < low")
    return high, low


def read_rom(folder: Path, unit: str) -> tuple[dict, list[int]]:
    """The description and the ROM words, with every declared size checked: the entry count, each
    word exactly `hex_digits` lowercase digits and below 2^word_bits, and the hex file's sha256."""
    where = folder / f"{unit}_lut.json"
    description = _read_json(where)
    if description.get("unit") != unit:
        raise Unusable(f"{where}: 'unit' is {description.get('unit')!r}, expected {unit!r}")
    entries = _param(description, "entries", where)
    word_bits = _param(description, "word_bits", where)
    digits = _param(description, "hex_digits", where)
    if not 0 < word_bits <= 4 * digits:
        raise Unusable(f"{where}: {word_bits}-bit words do not fit {digits} hex digits")
    hex_path = folder / f"{unit}_lut.hex"
    try:
        data = hex_path.read_bytes()
        lines = dumps.read_lines(hex_path, digits)
    except (OSError, ValueError) as error:
        raise Unusable(str(error)) from None
    if len(lines) != entries:
        raise Unusable(f"{hex_path}: {len(lines)} words, the description declares {entries}")
    words = [int(line, 16) for line in lines]
    for number, word in enumerate(words, start=1):
        if word >> word_bits:
            raise Unusable(f"{hex_path}:{number}: {lines[number - 1]} exceeds {word_bits} bits")
    if "sha256" in description and hashlib.sha256(data).hexdigest() != description["sha256"]:
        raise Unusable(f"{hex_path}: sha256 differs from the description's")
    return description, words


def _fields(description: dict, words: list[int], names: tuple[str, ...],
            where: Path) -> list[tuple[int, ...]]:
    """Each word split into the named fields (exactly these names, inside word_bits)."""
    fields = description.get("fields")
    if not isinstance(fields, dict) or sorted(fields) != sorted(names):
        raise Unusable(f"{where}: 'fields' must name exactly {', '.join(names)}, got {fields!r}")
    ranges = [_bit_range(fields[name], where) for name in names]
    if any(high >= description["word_bits"] for high, _ in ranges):
        raise Unusable(f"{where}: a field lies outside the {description['word_bits']}-bit word")
    return [tuple((word >> low) & ((1 << (high - low + 1)) - 1) for high, low in ranges)
            for word in words]


def _expect_entries(description: dict, count: int, where: Path) -> None:
    if description["entries"] != count:
        raise Unusable(f"{where}: {description['kind']} needs {count} entries, the description "
                       f"declares {description['entries']}")


def rebuild(description: dict, words: list[int], where: Path) -> Callable[[int], int]:
    """The unit (BF16 input bits -> BF16 result bits) that these ROM words make."""
    kind = (description["unit"], description.get("kind"))
    if kind == ("exp", "exact"):
        _expect_entries(description, INPUTS, where)
        rom = [y for (y,) in _fields(description, words, ("y",), where)]
        return rom.__getitem__
    if kind == ("exp", "pow2-lut"):
        b = _param(description, "table_bits", where)
        _expect_entries(description, (1 << b) + 1, where)
        table = tuple(t for (t,) in _fields(description, words, ("T",), where))
        frac_bits = _param(description, "frac_bits", where)
        if not 0 < b <= frac_bits:
            raise Unusable(f"{where}: need 0 < table_bits <= frac_bits")
        unit = units.Pow2LutExp(b, _param(description, "entry_bits", where), frac_bits,
                                _param(description, "const_bits", where),
                                _param(description, "interpolate", where, bool),
                                _param(description, "log2e_fixed", where), table)
    elif kind == ("recip", "exact"):
        _expect_entries(description, 128, where)
        unit = units.ExactRecip(tuple(_fields(description, words, ("q", "sticky"), where)))
    elif kind == ("recip", "newton"):
        seed_bits = _param(description, "seed_bits", where)
        frac_bits = _param(description, "frac_bits", where)
        if not 1 <= seed_bits <= 7 or frac_bits < 7:
            raise Unusable(f"{where}: need 1 <= seed_bits <= 7 and frac_bits >= 7")
        _expect_entries(description, 1 << seed_bits, where)
        seeds = tuple(y for (y,) in _fields(description, words, ("y0",), where))
        unit = units.NewtonRecip(_param(description, "iterations", where), seed_bits, frac_bits,
                                 seeds)
    else:
        raise Unusable(f"{where}: unknown unit/kind {kind[0]!r}/{kind[1]!r}")
    return lambda bits: unit(bits)[0]


def check(folder: Path, unit: str) -> tuple[int, str]:
    """(exit status, one-line verdict)."""
    try:
        description, words = read_rom(folder, unit)
        model = rebuild(description, words, folder / f"{unit}_lut.json")
        outputs_path = folder / f"{unit}_outputs.hex"
        try:
            outputs = dumps.read_bf16_bits(outputs_path, (INPUTS,)).tolist()
        except (OSError, ValueError) as error:
            raise Unusable(str(error)) from None
    except Unusable as error:
        return 2, f"lut-check {unit}: unusable: {error}"
    for bits, expected in enumerate(outputs):
        got = model(bits)
        if got != expected:
            return 1, (f"lut-check {unit}: MISMATCH at input {bits:04x}: {unit}_outputs.hex has "
                       f"{expected:04x}, the ROM gives {got:04x}")
    return 0, (f"lut-check {unit}: OK, {description['kind']} ROM of {len(words)} words "
               f"({description['word_bits']} bits) reproduces all {INPUTS} outputs")


def main(folder: Path, unit: str) -> int:
    status, verdict = check(folder, unit)
    print(verdict)
    return status
