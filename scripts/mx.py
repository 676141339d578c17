#!/usr/bin/env python3
"""Independent Python reference of the OCP MX block formats (docs/numerics.md section 8).

Six formats share one shape: blocks of 32 elements along the blocked axis, one E8M0 scale byte
per block (2^(byte-127), 0xff is NaN) and 32 w-bit element codes (w = 8, 6 or 4).  Everything
here is generic over the one table `FORMATS`; no function has a per-format branch other than
"fp" versus "int" (MXINT8's elements are two's complement fixed point, the others small floats).

The definitions come in two forms:

- scalar, on exact rationals (fractions.Fraction), written to read like the specification:
  `decode`, `scale_exponent`, `round_element`, `quantize_block`, `dot_blocks`;
- vectorised numpy versions for the folder-sized work: `quantize_array` (float64 inputs, which
  hold every BF16 and FP32 value exactly; every operation it does on them is exact: power-of-two
  scalings, floor, and subtraction of a value's own integer part) and `product` (integer
  significand tables from `decode`, exact Python-integer block sums).  The tests
  (scripts/test_mx_reference.py) check each against the scalar form on random samples.

Rounding to BF16/FP32 (the products' output) reuses reference.py's exact rounding core.

Command line:

    mx.py rederive CASE_DIR...        recompute every output of a case folder written by `sim`
    mx.py quantize --format F [--rule R] [--rounding M] VALUE...   one block, printed
    mx.py decode --format F CODE...   the exact value of element codes
    mx.py formats                     the format table

Importable:

    import mx
    scale, codes, flags = mx.quantize_block([1.5, -0.25, 3.0], "mxfp4-e2m1", "floor")
    mx.encode_line(scale, codes, "mxfp4-e2m1")
    report = mx.check_case("out/quantize_m-300_seed-0_dist-corners")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

import dumps
import reference as ref
from reference import BF16, FP32, NEAREST_AWAY, NEAREST_EVEN, Flags

# ==============================================================================================
# The format table
# ==============================================================================================

BLOCK = 32
SCALE_BIAS = 127
NAN_SCALE = 0xFF
E_MIN, E_MAX = -127, 127                       # the range of an E8M0 exponent E = byte - 127
RULES = ("floor", "ceil", "even", "rceil")     # scale rules; the first is the default
ELEMENT_MODES = (NEAREST_EVEN, NEAREST_AWAY)
FLAG_NAMES = ("inexact", "underflow", "overflow", "div_by_zero", "invalid")   # manifest order


@dataclass(frozen=True)
class MxFormat:
    """One row of the format table.  An element is either a small float ("fp": sign, `ebits`
    exponent bits with `bias`, `mbits` fraction bits, subnormals) or two's complement fixed
    point ("int": value q * 2^-mbits).  `emax` is floor(log2(max_normal)), the exponent the
    scale rules subtract."""

    name: str
    kind: str
    ebits: int
    mbits: int
    bias: int
    emax: int
    max_normal: Fraction
    width: int
    has_inf: bool
    nan_codes: frozenset
    inf_codes: frozenset = frozenset()
    default_rounding: str = NEAREST_EVEN

    @property
    def sign_bit(self) -> int:
        return 1 << (self.width - 1)

    @property
    def codes(self) -> int:
        """How many w-bit codes there are."""
        return 1 << self.width

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal (fp); below it the spacing stays 2^(emin - mbits)."""
        return 1 - self.bias

    @property
    def quantum_exp(self) -> int:
        """Every finite element is an integer multiple of 2^quantum_exp."""
        return self.emin - self.mbits if self.kind == "fp" else -self.mbits

    @property
    def digits(self) -> int:
        """Hex digits of one dump line: the scale byte and 32 w-bit codes."""
        return 2 + BLOCK * self.width // 4


def _fp(name, ebits, mbits, bias, emax, max_normal, nan=(), inf=()):
    return MxFormat(name, "fp", ebits, mbits, bias, emax, Fraction(max_normal), 1 + ebits + mbits,
                    bool(inf), frozenset(nan), frozenset(inf), NEAREST_EVEN)


FORMATS: dict[str, MxFormat] = {f.name: f for f in (
    MxFormat("mxint8", "int", 0, 6, 0, 0, Fraction(127, 64), 8, False, frozenset(),
             frozenset(), NEAREST_AWAY),
    _fp("mxfp8-e4m3", 4, 3, 7, 8, 448, nan=(0x7F, 0xFF)),
    _fp("mxfp8-e5m2", 5, 2, 15, 15, 57344, nan=(0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF),
        inf=(0x7C, 0xFC)),
    _fp("mxfp6-e3m2", 3, 2, 3, 4, 28),
    _fp("mxfp6-e2m3", 2, 3, 1, 2, Fraction(15, 2)),
    _fp("mxfp4-e2m1", 2, 1, 1, 2, 6),
)}


def get_format(fmt: str | MxFormat) -> MxFormat:
    """A format by name (or the format itself)."""
    if isinstance(fmt, MxFormat):
        return fmt
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown MX format {fmt!r}; expected one of "
                         f"{', '.join(FORMATS)}") from None


def element_mode(fmt: MxFormat, rounding: str | None) -> str:
    """The element rounding mode: the format's default when None."""
    mode = fmt.default_rounding if rounding is None else rounding
    if mode not in ELEMENT_MODES:
        raise ValueError(f"element rounding must be one of {', '.join(ELEMENT_MODES)}, "
                         f"not {mode!r}")
    return mode


def check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValueError(f"unknown scale rule {rule!r}; expected one of {', '.join(RULES)}")


# ==============================================================================================
# Scalar definitions on exact values
# ==============================================================================================

INF, NEG_INF = float("inf"), float("-inf")


def pow2(e: int) -> Fraction:
    return Fraction(2) ** e


def decode(fmt: str | MxFormat, code: int) -> Fraction | str | float:
    """The exact value of an element code (without the block scale): a Fraction, 'nan', or
    +-inf (float).  A negative-zero code decodes to Fraction(0)."""
    fmt = get_format(fmt)
    if not 0 <= code < fmt.codes:
        raise ValueError(f"{code:#x} is not a {fmt.width}-bit code")
    if fmt.kind == "int":
        return Fraction(code - (fmt.codes if code & fmt.sign_bit else 0), 1 << fmt.mbits)
    if code in fmt.nan_codes:
        return "nan"
    negative = bool(code & fmt.sign_bit)
    if code in fmt.inf_codes:
        return NEG_INF if negative else INF
    field = (code >> fmt.mbits) & ((1 << fmt.ebits) - 1)
    mant = code & ((1 << fmt.mbits) - 1)
    if field == 0:
        value = Fraction(mant, 1 << fmt.mbits) * pow2(fmt.emin)
    else:
        value = (1 + Fraction(mant, 1 << fmt.mbits)) * pow2(field - fmt.bias)
    return -value if negative else value


def is_negative_code(fmt: str | MxFormat, code: int) -> bool:
    """Whether a code has its sign bit set (so -0 is told apart from +0)."""
    return bool(code & get_format(fmt).sign_bit)


def decode_scale(byte: int) -> Fraction | str:
    """E8M0: 2^(byte-127), or 'nan' for 0xff."""
    if not 0 <= byte <= 0xFF:
        raise ValueError(f"{byte:#x} is not a byte")
    return "nan" if byte == NAN_SCALE else pow2(byte - SCALE_BIAS)


def floor_log2(x: Fraction) -> int:
    """floor(log2 x) for x > 0, exactly."""
    return ref._floor_log2(x.numerator, x.denominator)


def ceil_log2(x: Fraction) -> int:
    """ceil(log2 x) for x > 0, exactly."""
    e = floor_log2(x)
    return e if x == pow2(e) else e + 1


def round_to_integer(n: Fraction, mode: str) -> int:
    """Round n >= 0 to an integer, nearest, ties per `mode` (even or away)."""
    whole = n.numerator // n.denominator
    rest = n - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == NEAREST_AWAY or whole & 1)):
        whole += 1
    return whole


def round_significant(x: Fraction, bits: int, mode: str) -> Fraction:
    """x > 0 rounded to `bits` significant bits with an unbounded exponent range."""
    quantum = pow2(floor_log2(x) - bits + 1)
    return round_to_integer(x / quantum, mode) * quantum


def scale_exponent(amax: Fraction, fmt: str | MxFormat, rule: str = "floor") -> int:
    """The block exponent E before the clamp to -127..127, for amax > 0 (section 8.2)."""
    fmt = get_format(fmt)
    check_rule(rule)
    if amax <= 0:
        raise ValueError("scale_exponent needs amax > 0")
    if rule == "floor":
        return floor_log2(amax) - fmt.emax
    if rule == "ceil":
        return ceil_log2(amax) - fmt.emax
    if rule == "even":
        return floor_log2(round_significant(amax, 1 + fmt.mbits, NEAREST_AWAY)) - fmt.emax
    # rceil: the smallest integer E with amax <= max_normal * 2^E (E = ceil(log2(amax/max)))
    return ceil_log2(amax / fmt.max_normal)


def clamp_exponent(e: int) -> int:
    return min(max(e, E_MIN), E_MAX)


def round_element(y: Fraction, negative: bool, fmt: str | MxFormat,
                  rounding: str | None = None) -> tuple[int, Flags]:
    """Round the exact scaled element (-1)^negative * y (y >= 0) to a code, with its flags.

    fp: nearest on the grid of spacing 2^(e - mbits) for y in [2^e, 2^(e+1)), e >= emin, and
    2^(emin - mbits) below 2^emin; a result above max_normal saturates to +-max_normal
    (overflow, inexact); a zero result keeps the sign (the -0 code); underflow = tiny and
    inexact, tiny = y rounded to 1 + mbits significant bits (unbounded exponent) is below
    2^emin.  int: q = round(y * 2^mbits), clamped to +-127 (overflow when |round| >= 128),
    underflow when a nonzero y became 0; the code is q as a two's complement byte."""
    fmt = get_format(fmt)
    mode = element_mode(fmt, rounding)
    if y < 0:
        raise ValueError("round_element takes the magnitude and the sign apart")
    sign = fmt.sign_bit if negative else 0
    if fmt.kind == "int":
        n = y * (1 << fmt.mbits)
        count = round_to_integer(n, mode)
        limit = fmt.max_normal * (1 << fmt.mbits)            # 127
        overflow = count > limit
        q = int(min(count, limit))
        flags = Flags(inexact=overflow or count != n, overflow=overflow,
                      underflow=y != 0 and q == 0)
        return (-q if negative else q) & (fmt.codes - 1), flags
    if y == 0:
        return sign, Flags()
    e = max(floor_log2(y), fmt.emin)
    quantum = pow2(e - fmt.mbits)
    rounded = round_to_integer(y / quantum, mode) * quantum
    if rounded > fmt.max_normal:
        return sign | max_code(fmt), Flags(inexact=True, overflow=True)
    inexact = rounded != y
    tiny = round_significant(y, 1 + fmt.mbits, mode) < pow2(fmt.emin)
    return sign | encode_magnitude(rounded, fmt), Flags(inexact=inexact,
                                                        underflow=tiny and inexact)


def encode_magnitude(value: Fraction, fmt: MxFormat) -> int:
    """The code (sign bit clear) of a representable fp magnitude."""
    if value == 0:
        return 0
    if value < pow2(fmt.emin):
        field, mant = 0, value / pow2(fmt.emin - fmt.mbits)
    else:
        e = floor_log2(value)
        field, mant = e + fmt.bias, value / pow2(e - fmt.mbits) - (1 << fmt.mbits)
    if mant.denominator != 1 or not 0 < field + 1 <= 1 << fmt.ebits:
        raise ValueError(f"{value} is not representable in {fmt.name}")
    return (field << fmt.mbits) | int(mant)


def max_code(fmt: str | MxFormat) -> int:
    """The code of +max_normal."""
    fmt = get_format(fmt)
    if fmt.kind == "int":
        return int(fmt.max_normal * (1 << fmt.mbits))
    return encode_magnitude(fmt.max_normal, fmt)


class Exact(NamedTuple):
    """An input value: kind 'finite', 'inf' or 'nan'; a finite one is (-1)^negative * mag."""

    kind: str
    negative: bool
    mag: Fraction = Fraction(0)


def exact(value) -> Exact:
    """An exact input from a float (-0.0, inf and nan included), int, Fraction or one of the
    strings 'nan', '+inf', '-inf', '-0' or a number ('1/3', '0.75')."""
    if isinstance(value, Exact):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "nan":
            return Exact("nan", False)
        if text.lower() in ("inf", "+inf", "-inf"):
            return Exact("inf", text.startswith("-"))
        if text == "-0":
            return Exact("finite", True)
        value = Fraction(text)
    if isinstance(value, float):
        if math.isnan(value):
            return Exact("nan", False)
        if math.isinf(value):
            return Exact("inf", value < 0)
        return Exact("finite", math.copysign(1.0, value) < 0, abs(Fraction(value)))
    value = Fraction(value)
    return Exact("finite", value < 0, abs(value))


def quantize_block(values: Sequence, fmt: str | MxFormat, rule: str = "floor",
                   rounding: str | None = None) -> tuple[int, list[int], Flags]:
    """Quantize one block of up to 32 exact values (padded with +0): (scale byte, 32 codes,
    the block's flags), section 8.2."""
    fmt = get_format(fmt)
    check_rule(rule)
    mode = element_mode(fmt, rounding)
    if len(values) > BLOCK:
        raise ValueError(f"a block holds at most {BLOCK} values, got {len(values)}")
    xs = [exact(v) for v in values] + [Exact("finite", False)] * (BLOCK - len(values))
    if any(x.kind != "finite" for x in xs):
        return NAN_SCALE, [0] * BLOCK, Flags(invalid=True)
    amax = max(x.mag for x in xs)
    e = E_MIN if amax == 0 else clamp_exponent(scale_exponent(amax, fmt, rule))
    codes, flags = [], []
    for x in xs:
        code, f = round_element(x.mag / pow2(e), x.negative, fmt, mode)
        codes.append(code)
        flags.append(f)
    return e + SCALE_BIAS, codes, union(flags)


def union(flag_sets: Sequence[Flags]) -> Flags:
    """The flags raised by any of several results."""
    return Flags(*(any(raised) for raised in zip(Flags(), *flag_sets)))


def block_value(scale: int, code: int, fmt: str | MxFormat) -> Fraction | str | float:
    """The exact value of one element of a block: decode(code) * 2^(scale-127)."""
    s = decode_scale(scale)
    v = decode(fmt, code)
    if s == "nan" or v == "nan":
        return "nan"
    return v if isinstance(v, float) else v * s


# ----------------------------------------------------------------------------------------------
# Products (scalar definition)
# ----------------------------------------------------------------------------------------------

def dot_blocks(blocks_a: Sequence[tuple[int, Sequence[int]]],
               blocks_b: Sequence[tuple[int, Sequence[int]]], fmt_a: str | MxFormat,
               fmt_b: str | MxFormat, out: ref.FloatFormat = BF16,
               mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """One output element: the blocks (scale, codes) of the two operands along the reduction
    axis, paired in order.  The exact sum of decode_A(a_i) * decode_B(b_i) * 2^(Ea + Eb), then
    one rounding to `out`.  Specials, in this order: a 0xff scale or a NaN code anywhere gives
    the canonical NaN (no flag: a quiet NaN propagates); else an inf * 0 pair gives NaN
    (invalid); else infinite products of both signs give NaN (invalid); else an infinite product
    gives +-inf (no flag); else the rounding of the exact sum (an exact zero is +0)."""
    if len(blocks_a) != len(blocks_b):
        raise ValueError("the operands have different numbers of blocks")
    nan = invalid = False
    infinities = set()
    total = Fraction(0)
    for (sa, ca), (sb, cb) in zip(blocks_a, blocks_b):
        if NAN_SCALE in (sa, sb):
            nan = True
            continue
        scale = pow2(sa + sb - 2 * SCALE_BIAS)
        for a, b in zip(ca, cb):
            va, vb = decode(fmt_a, a), decode(fmt_b, b)
            if "nan" in (va, vb):
                nan = True
            elif isinstance(va, float) or isinstance(vb, float):
                if va == 0 or vb == 0:
                    invalid = True
                else:
                    infinities.add((va < 0) != (vb < 0))
            else:
                total += va * vb * scale
    if nan:
        return out.nan_bits, Flags()
    if invalid or len(infinities) == 2:
        return out.nan_bits, Flags(invalid=True)
    if infinities:
        return out.inf_bits | (out.sign_bit if infinities.pop() else 0), Flags()
    return ref.round_fraction(total, out, mode)


# ==============================================================================================
# Dump lines
# ==============================================================================================

def encode_line(scale: int, codes: Sequence[int], fmt: str | MxFormat) -> str:
    """One dump line (no newline): the scale byte in the top two hex digits, then element i's
    code at bits [w*i, w*i + w) of the remaining 32*w bits (element 0 least significant)."""
    fmt = get_format(fmt)
    if len(codes) != BLOCK or not 0 <= scale <= 0xFF:
        raise ValueError("a line holds one scale byte and 32 codes")
    word = scale << (BLOCK * fmt.width)
    for i, code in enumerate(codes):
        if not 0 <= code < fmt.codes:
            raise ValueError(f"{code:#x} is not a {fmt.width}-bit code")
        word |= code << (fmt.width * i)
    return f"{word:0{fmt.digits}x}"


def decode_line(line: str, fmt: str | MxFormat) -> tuple[int, list[int]]:
    """(scale byte, 32 codes) of one dump line (exactly `digits` lowercase hex digits)."""
    fmt = get_format(fmt)
    if len(line) != fmt.digits or any(c not in "0123456789abcdef" for c in line):
        raise ValueError(f"{line!r} is not {fmt.digits} lowercase hex digits")
    word = int(line, 16)
    mask = fmt.codes - 1
    return word >> (BLOCK * fmt.width), [(word >> (fmt.width * i)) & mask for i in range(BLOCK)]


def lines_text(scales: np.ndarray, codes: np.ndarray, fmt: str | MxFormat) -> str:
    """Vectorised encode_line: the dump text of blocks (scales [...], codes [..., 32]) in
    row-major order, '\\n' after every line."""
    fmt = get_format(fmt)
    scales = np.asarray(scales).reshape(-1).astype(np.uint8)
    codes = np.asarray(codes).reshape(-1, BLOCK).astype(np.uint8)
    w = fmt.width
    if codes.shape[0] != scales.shape[0]:
        raise ValueError("scales and codes disagree on the number of blocks")
    if np.any(codes >> w):
        raise ValueError(f"a code does not fit in {w} bits")
    weights = (1 << np.arange(w - 1, -1, -1)).astype(np.uint8)
    element_bits = ((codes[:, ::-1, None] & weights) != 0).reshape(len(codes), BLOCK * w)
    scale_bits = np.unpackbits(scales[:, None], axis=1)
    packed = np.packbits(np.concatenate([scale_bits, element_bits], axis=1), axis=1)
    hexed = packed.tobytes().hex()
    d = fmt.digits
    return "".join(hexed[d * i: d * (i + 1)] + "\n" for i in range(len(scales)))


def parse_lines(lines: Sequence[str], fmt: str | MxFormat) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised decode_line over checked lines: (scales uint8 [L], codes uint8 [L, 32])."""
    fmt = get_format(fmt)
    w = fmt.width
    raw = np.frombuffer(bytes.fromhex("".join(lines)), dtype=np.uint8)
    raw = raw.reshape(len(lines), fmt.digits // 2)
    bits = np.unpackbits(raw, axis=1)
    scales = raw[:, 0].copy()
    element_bits = bits[:, 8:].reshape(len(lines), BLOCK, w)[:, ::-1, :].astype(np.uint16)
    weights = (1 << np.arange(w - 1, -1, -1)).astype(np.uint16)
    codes = (element_bits * weights).sum(axis=-1).astype(np.uint8)
    return scales, codes


def read_mx(path, fmt: str | MxFormat, grid_shape: Sequence[int] | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """An MX dump -> (scales uint8 [grid], codes uint8 [grid + (32,)]), strictly parsed."""
    fmt = get_format(fmt)
    lines = dumps.read_lines(path, fmt.digits)
    if grid_shape is not None:
        expected = int(np.prod(grid_shape, dtype=np.int64))
        if len(lines) != expected:
            raise ValueError(f"{path}:{min(len(lines), expected) + 1}: expected {expected} "
                             f"lines for block grid {list(grid_shape)}, the file has "
                             f"{len(lines)}")
    scales, codes = parse_lines(lines, fmt)
    if grid_shape is not None:
        scales = scales.reshape(grid_shape)
        codes = codes.reshape(tuple(grid_shape) + (BLOCK,))
    return scales, codes


# ==============================================================================================
# Vectorised quantizer (float64 inputs)
# ==============================================================================================

def _round_half(n: np.ndarray, away: bool) -> np.ndarray:
    """Round n >= 0 (float64 holding exact values < 2^53) to integers, nearest, ties away or
    to even; exact."""
    whole = np.floor(n)
    rest = n - whole
    tie_up = True if away else (np.fmod(whole, 2) == 1)
    return whole + ((rest > 0.5) | ((rest == 0.5) & tie_up))


def scale_exponents(amax: np.ndarray, fmt: str | MxFormat, rule: str) -> np.ndarray:
    """Vectorised scale_exponent (unclamped, int64) for float64 amax > 0; an entry with amax
    == 0 gets E_MIN."""
    fmt = get_format(fmt)
    check_rule(rule)
    amax = np.asarray(amax, dtype=np.float64)
    m, e = np.frexp(amax)                     # amax = m * 2^e, m in [0.5, 1)
    top = e.astype(np.int64) - 1              # floor(log2 amax)
    if rule == "floor":
        result = top - fmt.emax
    elif rule == "ceil":
        result = top + (m != 0.5) - fmt.emax
    elif rule == "even":
        rounded = _round_half(np.ldexp(m, 1 + fmt.mbits), away=True)
        result = top + (rounded == 2.0 ** (1 + fmt.mbits)) - fmt.emax
    else:
        below = top - fmt.emax                # max_normal * 2^below lies in [2^top, 2^(top+1))
        result = below + (amax > np.ldexp(float(fmt.max_normal), below))
    return np.where(amax > 0, result, E_MIN).astype(np.int64)


def round_elements(y: np.ndarray, negative: np.ndarray, fmt: str | MxFormat,
                   rounding: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectorised round_element: y float64 >= 0 (exact scaled magnitudes), negative bool.
    Returns (codes uint8, {flag name: bool array})."""
    fmt = get_format(fmt)
    away = element_mode(fmt, rounding) == NEAREST_AWAY
    y = np.asarray(y, dtype=np.float64)
    negative = np.asarray(negative, dtype=bool)
    if fmt.kind == "int":
        n = np.ldexp(y, fmt.mbits)
        count = _round_half(n, away)
        limit = float(fmt.max_normal * (1 << fmt.mbits))
        overflow = count > limit
        q = np.minimum(count, limit).astype(np.int64)
        codes = (np.where(negative, -q, q) & (fmt.codes - 1)).astype(np.uint8)
        return codes, {"inexact": overflow | (count != n), "overflow": overflow,
                       "underflow": (y > 0) & (q == 0)}
    _, ey = np.frexp(y)
    top = ey.astype(np.int64) - 1                       # floor(log2 y) for y > 0
    e = np.maximum(top, fmt.emin)
    rounded = np.ldexp(_round_half(np.ldexp(y, fmt.mbits - e), away), e - fmt.mbits)
    max_normal = float(fmt.max_normal)
    overflow = rounded > max_normal
    inexact = (rounded != y) | overflow
    unbounded = np.ldexp(_round_half(np.ldexp(y, fmt.mbits - top), away), top - fmt.mbits)
    tiny = (y > 0) & (unbounded < 2.0 ** fmt.emin)
    result = np.where(overflow, max_normal, rounded)
    _, er = np.frexp(result)
    er = er.astype(np.int64) - 1
    normal = result >= 2.0 ** fmt.emin
    field = np.where(normal, er + fmt.bias, 0)
    mant = np.where(normal, np.ldexp(result, fmt.mbits - er) - (1 << fmt.mbits),
                    np.ldexp(result, fmt.mbits - fmt.emin)).astype(np.int64)
    codes = (np.where(negative, fmt.sign_bit, 0) | (field << fmt.mbits) | mant).astype(np.uint8)
    return codes, {"inexact": inexact, "overflow": overflow, "underflow": tiny & inexact}


def quantize_array(values: np.ndarray, fmt: str | MxFormat, rule: str = "floor",
                   rounding: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Vectorised quantize_block over blocks on the last axis (length 32) of float64 values:
    (scales uint8 [...], codes uint8 [..., 32], {flag name: bool [...]}) per block."""
    fmt = get_format(fmt)
    check_rule(rule)
    x = np.asarray(values, dtype=np.float64)
    if x.shape[-1:] != (BLOCK,):
        raise ValueError(f"the last axis must hold the {BLOCK} elements of a block")
    bad = ~np.isfinite(x).all(axis=-1)
    mag = np.where(np.isfinite(x), np.abs(x), 0.0)
    amax = mag.max(axis=-1)
    e = np.clip(scale_exponents(amax, fmt, rule), E_MIN, E_MAX)
    y = np.ldexp(mag, -e[..., None])
    codes, element_flags = round_elements(y, np.signbit(x), fmt, rounding)
    codes[bad] = 0
    flags = {name: np.zeros(amax.shape, dtype=bool) for name in FLAG_NAMES}
    for name, raised in element_flags.items():
        flags[name] = raised.any(axis=-1) & ~bad
    flags["invalid"] = bad
    scales = np.where(bad, NAN_SCALE, e + SCALE_BIAS).astype(np.uint8)
    return scales, codes, flags


def to_blocks(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Zero-pad `axis` to a multiple of 32 and move its blocks to a new last axis."""
    return ref.to_blocks(np.asarray(values), axis, 0)


def bf16_values(bits: np.ndarray) -> np.ndarray:
    """BF16 bit patterns -> float64 (exact; inf and NaN kept)."""
    bits = np.asarray(bits).astype(np.uint32)
    with np.errstate(invalid="ignore"):                 # signalling NaN patterns
        return (bits << 16).view(np.float32).astype(np.float64)


def quantize_bf16(bits: np.ndarray, fmt: str | MxFormat, rule: str = "floor",
                  rounding: str | None = None, axis: int = 0):
    """Quantize BF16 bit patterns in blocks along `axis` (the quantize op)."""
    return quantize_array(to_blocks(bf16_values(bits), axis), fmt, rule, rounding)


def flag_counts(flags: dict[str, np.ndarray] | Sequence[Flags]) -> dict[str, int]:
    """How many results raised each flag (the manifest's `flags` object)."""
    if isinstance(flags, dict):
        return {name: int(np.count_nonzero(flags[name])) for name in FLAG_NAMES}
    return {name: sum(bool(getattr(f, name)) for f in flags) for name in FLAG_NAMES}


# ==============================================================================================
# Vectorised products
# ==============================================================================================

_FINITE, _NAN, _POS_INF, _NEG_INF = range(4)


class CodeTable(NamedTuple):
    """Every code of a format, from `decode`: value = sig * 2^quantum_exp where finite."""

    sig: np.ndarray        # int64, 0 where not finite
    kind: np.ndarray       # _FINITE, _NAN, _POS_INF, _NEG_INF
    sig_bits: int          # bit length of the largest |sig|


_TABLES: dict[str, CodeTable] = {}


def code_table(fmt: str | MxFormat) -> CodeTable:
    fmt = get_format(fmt)
    if fmt.name not in _TABLES:
        sig, kind = [], []
        for code in range(fmt.codes):
            v = decode(fmt, code)
            if v == "nan":
                sig.append(0), kind.append(_NAN)
            elif isinstance(v, float):
                sig.append(0), kind.append(_POS_INF if v > 0 else _NEG_INF)
            else:
                scaled = v / pow2(fmt.quantum_exp)
                assert scaled.denominator == 1
                sig.append(int(scaled)), kind.append(_FINITE)
        _TABLES[fmt.name] = CodeTable(np.array(sig, dtype=np.int64),
                                      np.array(kind, dtype=np.int8),
                                      max(abs(s) for s in sig).bit_length())
    return _TABLES[fmt.name]


OPS = ("dot", "gevm", "gemm")
ROLES = {"dot": ("a", "b", "output"), "gevm": ("vector", "matrix", "output"),
         "gemm": ("input", "other", "output")}


def op_shapes(op: str, m: int, k: int | None, n: int | None) -> tuple[tuple, int, tuple, int]:
    """Logical shapes and blocked axes of the two operands (numerics.md section 6)."""
    return ref.op_shapes(op, m, k, n)


def pair_blocks(op: str, first: tuple, second: tuple) -> tuple[tuple, tuple]:
    """Both operands' blocks arranged per output element: (scales [out..., nb], codes
    [out..., nb, 32]) each.  dot: a, b [nb] -> [nb]; gevm: vector [nb], matrix [nb, k] ->
    [k, nb]; gemm: input [m, kb], other [kb, n] -> [m, n, kb]."""
    (s1, c1), (s2, c2) = first, second
    if op == "dot":
        return (s1, c1), (s2, c2)
    if op == "gevm":
        k = s2.shape[1]
        return ((np.broadcast_to(s1, (k,) + s1.shape), np.broadcast_to(c1, (k,) + c1.shape)),
                (s2.T, c2.transpose(1, 0, 2)))
    if op == "gemm":
        m, n = s1.shape[0], s2.shape[1]
        shape = (m, n) + s1.shape[1:]
        return ((np.broadcast_to(s1[:, None], shape),
                 np.broadcast_to(c1[:, None], shape + (BLOCK,))),
                (np.broadcast_to(s2.T[None], shape),
                 np.broadcast_to(c2.transpose(1, 0, 2)[None], shape + (BLOCK,))))
    raise ValueError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")


def product(op: str, first: tuple, second: tuple, fmt_a: str | MxFormat,
            fmt_b: str | MxFormat, out: ref.FloatFormat = BF16,
            mode: str = NEAREST_EVEN) -> tuple[np.ndarray, list[Flags]]:
    """dot / gevm / gemm of two MX operands (scales, codes) in block-grid form: (output bits
    of the output's shape, the flags of each output in row-major order).  The rule is
    dot_blocks' (specials included); block sums are exact integer sums."""
    ref.check_mode(mode)
    fa, fb = get_format(fmt_a), get_format(fmt_b)
    (sa, ca), (sb, cb) = pair_blocks(op, first, second)
    ta, tb = code_table(fa), code_table(fb)
    ka, kb = ta.kind[ca], tb.kind[cb]
    siga, sigb = ta.sig[ca], tb.sig[cb]
    nan = ((sa == NAN_SCALE) | (sb == NAN_SCALE)).any(axis=-1)
    nan |= ((ka == _NAN) | (kb == _NAN)).any(axis=(-2, -1))
    inf_a, inf_b = ka >= _POS_INF, kb >= _POS_INF
    zero_a, zero_b = (ka == _FINITE) & (siga == 0), (kb == _FINITE) & (sigb == 0)
    invalid = ((inf_a & zero_b) | (inf_b & zero_a)).any(axis=(-2, -1))
    neg_a = (ka == _NEG_INF) | (siga < 0)
    neg_b = (kb == _NEG_INF) | (sigb < 0)
    infinite = (inf_a | inf_b) & ~zero_a & ~zero_b
    negative = neg_a != neg_b
    pos_inf = (infinite & ~negative).any(axis=(-2, -1))
    neg_inf = (infinite & negative).any(axis=(-2, -1))
    if ta.sig_bits + tb.sig_bits + BLOCK.bit_length() <= 62:
        dots = (siga * sigb).sum(axis=-1)
    else:
        dots = (siga.astype(object) * sigb.astype(object)).sum(axis=-1)
    exps = (sa.astype(np.int64) + sb.astype(np.int64) - 2 * SCALE_BIAS
            + fa.quantum_exp + fb.quantum_exp)
    shape = nan.shape
    nb = exps.shape[-1]
    bits, flags = [], []
    for d_row, e_row, is_nan, bad, p, q in zip(
            np.asarray(dots).reshape(-1, nb).tolist(), exps.reshape(-1, nb).tolist(),
            nan.ravel().tolist(), invalid.ravel().tolist(), pos_inf.ravel().tolist(),
            neg_inf.ravel().tolist()):
        if is_nan:
            bits.append(out.nan_bits), flags.append(Flags())
        elif bad or (p and q):
            bits.append(out.nan_bits), flags.append(Flags(invalid=True))
        elif p or q:
            bits.append(out.inf_bits | (out.sign_bit if q else 0)), flags.append(Flags())
        else:
            base = min(e_row)
            total = sum(int(d) << (e - base) for d, e in zip(d_row, e_row))
            b, f = ref.round_dyadic(total, base, out, mode)
            bits.append(b), flags.append(f)
    return np.array(bits, dtype=out.bits_dtype).reshape(shape), flags


def dot(a: tuple, b: tuple, fmt_a, fmt_b, out=BF16, mode=NEAREST_EVEN):
    """a, b = (scales [nb], codes [nb, 32]); output [] (a scalar)."""
    return product("dot", a, b, fmt_a, fmt_b, out, mode)


def gevm(vector: tuple, matrix: tuple, fmt_a, fmt_b, out=BF16, mode=NEAREST_EVEN):
    """vector (scales [nb], codes [nb, 32]) @ matrix (scales [nb, k], codes [nb, k, 32]);
    output [k]."""
    return product("gevm", vector, matrix, fmt_a, fmt_b, out, mode)


def gemm(inp: tuple, other: tuple, fmt_a, fmt_b, out=BF16, mode=NEAREST_EVEN):
    """input (scales [m, kb], codes [m, kb, 32]) @ other (scales [kb, n], codes [kb, n, 32]);
    output [m, n]."""
    return product("gemm", inp, other, fmt_a, fmt_b, out, mode)


def check_padding(path, codes: np.ndarray, length: int, grid_axis: int) -> None:
    """Raise if an element code past the logical end of the blocked axis is not 0 (a -0 code
    included: padding is +0)."""
    ref.check_padding(path, codes, length, grid_axis)


# ==============================================================================================
# Re-deriving a case folder written by `sim`
# ==============================================================================================

OUT_FORMATS = {"bf16": BF16, "fp32": FP32}
MANIFEST = "manifest.json"


@dataclass
class Report:
    """The outcome of checking one case folder: empty `mismatches` is a PASS."""

    case: Path
    mismatches: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)


def read_manifest(case: Path) -> dict:
    """manifest.json of a case (MX dtypes allowed), with its basic structure checked."""
    path = case / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format_version") != dumps.MANIFEST_FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format_version "
                         f"{manifest.get('format_version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not isinstance(manifest.get("params"), dict):
        raise ValueError(f"{path}: missing 'files' or 'params' object")
    for name, entry in files.items():
        for key in ("dtype", "shape", "lines", "sha256"):
            if key not in entry:
                raise ValueError(f"{path}: files.{name} has no {key!r}")
        dtype = entry["dtype"]
        if dtype not in OUT_FORMATS and dtype not in FORMATS:
            raise ValueError(f"{path}: files.{name} has unknown dtype {dtype!r}")
        if dtype in FORMATS and "block_axis" not in entry:
            raise ValueError(f"{path}: files.{name} is {dtype} but has no 'block_axis'")
    return manifest


def _file(manifest: dict, role: str, case: Path) -> str:
    """The file name of a role (by its suffix after the last '.')."""
    names = [name for name in manifest["files"] if name.rsplit(".", 1)[-1] == role]
    if len(names) != 1:
        raise ValueError(f"{case / MANIFEST}: expected one file '<op>.{role}', found {names}")
    return names[0]


def _read_operand(case: Path, name: str, entry: dict) -> tuple[tuple, MxFormat]:
    fmt = get_format(entry["dtype"])
    shape, axis = tuple(entry["shape"]), entry["block_axis"]
    if entry.get("block_size", BLOCK) != BLOCK:
        raise ValueError(f"{case / name}: block_size {entry['block_size']} is not {BLOCK}")
    grid = dumps.block_grid(shape, axis)
    scales, codes = read_mx(case / name, fmt, grid)
    check_padding(case / name, codes, shape[axis], axis)
    return (scales, codes), fmt


def _mx_formats_param(params: dict, count: int) -> list[str] | None:
    """params.mx_format split into `count` names ("A" stands for "A,A"); None when absent."""
    value = params.get("mx_format")
    if value is None:
        return None
    names = value.split(",")
    return names * count if len(names) == 1 else names


def _derive_quantize(case: Path, manifest: dict, report: Report) -> tuple[dict, dict]:
    params = manifest["params"]
    out_name = _file(manifest, "output", case)
    in_name = _file(manifest, "input", case)
    fmt = get_format(manifest["files"][out_name]["dtype"])
    named = _mx_formats_param(params, 1)
    if named is not None and named != [fmt.name]:
        report.mismatches.append(f"params.mx_format {params['mx_format']!r} but "
                                 f"{out_name} has dtype {fmt.name!r}")
    rule = params.get("scale_rule", RULES[0])
    rounding = params.get("element_rounding")
    in_entry, out_entry = manifest["files"][in_name], manifest["files"][out_name]
    if (out_entry["shape"], out_entry["block_axis"]) != (in_entry["shape"], 0) or \
            len(in_entry["shape"]) != 1:
        report.mismatches.append(f"{out_name}: shape {out_entry['shape']} blocked on axis "
                                 f"{out_entry['block_axis']}, expected {in_entry['shape']} on 0")
    bits = dumps.read_bf16_bits(case / in_name, tuple(in_entry["shape"]))
    scales, codes, flags = quantize_bf16(bits.ravel(), fmt, rule, rounding)
    return ({out_name: lines_text(scales, codes, fmt)},
            {out_name: flag_counts(flags)})


def _derive_product(case: Path, manifest: dict, report: Report) -> tuple[dict, dict]:
    op = "dot" if manifest["op"] == "dot_product" else manifest["op"]
    params = manifest["params"]
    roles = ROLES[op]
    names = [_file(manifest, role, case) for role in roles]
    entries = [manifest["files"][name] for name in names]
    (first, fa), (second, fb) = (_read_operand(case, n, e) for n, e in zip(names[:2], entries[:2]))
    named = _mx_formats_param(params, 2)
    if named is not None and named != [fa.name, fb.name]:
        report.mismatches.append(f"params.mx_format {params['mx_format']!r} but the operands "
                                 f"have dtypes {fa.name!r}, {fb.name!r}")
    if "m" in params:
        expected = op_shapes(op, params["m"], params.get("k"), params.get("n"))
        found = (tuple(entries[0]["shape"]), entries[0]["block_axis"],
                 tuple(entries[1]["shape"]), entries[1]["block_axis"])
        if expected != found:
            report.mismatches.append(f"operand shapes/axes {found} differ from the params' "
                                     f"{expected}")
    out = OUT_FORMATS[entries[2]["dtype"]]
    if params.get("out_dtype", out.name) != out.name:
        report.mismatches.append(f"params.out_dtype {params['out_dtype']!r} but {names[2]} "
                                 f"has dtype {out.name!r}")
    output, flags = product(op, first, second, fa, fb, out, params.get("rounding", NEAREST_EVEN))
    if output.shape != tuple(entries[2]["shape"]):
        report.mismatches.append(f"{names[2]}: shape {list(entries[2]['shape'])} in the "
                                 f"manifest, {list(output.shape)} from the operands")
    text = dumps.format_words(output, out.digits)
    return {names[2]: text}, {names[2]: flag_counts(flags)}


def _first_difference(actual: str, expected: str) -> str:
    want, got = actual.split("\n"), expected.split("\n")
    for number, (a, b) in enumerate(zip(want, got), start=1):
        if a != b:
            return f"line {number}: file {a!r}, reference {b!r}"
    return f"file has {len(want) - 1} lines, reference {len(got) - 1}"


def check_case(case: str | Path, flags: bool = True) -> Report:
    """Recompute every output of a quantize / dot / gevm / gemm case folder from its input
    dumps and compare byte for byte (and the manifest's flag counts unless `flags` is False);
    every listed file's sha256 and line count are checked too."""
    case = Path(case)
    manifest = read_manifest(case)
    report = Report(case)
    op = manifest["op"]
    if manifest.get("profile", "reference") != "reference" or "config" in manifest["params"]:
        raise ValueError(f"{case / MANIFEST}: only the reference profile (exact accumulation) "
                         f"is modelled here")
    for name, entry in manifest["files"].items():
        data = (case / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            report.mismatches.append(f"{name}: sha256 differs from the manifest's")
        lines = data.count(b"\n")
        if lines != entry["lines"]:
            report.mismatches.append(f"{name}: {lines} lines, the manifest says "
                                     f"{entry['lines']}")
    if op == "quantize":
        texts, counts = _derive_quantize(case, manifest, report)
    elif op in OPS or op == "dot_product":
        texts, counts = _derive_product(case, manifest, report)
    else:
        raise ValueError(f"{case / MANIFEST}: op {op!r} is not quantize, dot, gevm or gemm")
    for name, text in texts.items():
        report.compared.append(name)
        actual = (case / name).read_text(encoding="ascii")
        if actual != text:
            report.mismatches.append(f"{name}: {_first_difference(actual, text)}")
        recorded = manifest["files"][name].get("flags")
        if flags and recorded != counts[name]:
            report.mismatches.append(f"{name}: flags {recorded} in the manifest, "
                                     f"{counts[name]} from the reference")
    return report


def case_folders(root: str | Path) -> list[Path]:
    """`root` itself when it holds a manifest.json, else every case folder below it."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return [root]
    return sorted(path.parent for path in root.rglob(MANIFEST))


# ==============================================================================================
# Command line
# ==============================================================================================

def describe(value) -> str:
    if isinstance(value, float):
        return "+inf" if value > 0 else "-inf"
    return str(value)


def cmd_rederive(args) -> int:
    status = 0
    for root in args.dirs:
        folders = case_folders(root)
        if not folders:
            print(f"FAIL {root}: no manifest.json in or below it")
            status = 1
        for case in folders:
            try:
                report = check_case(case, flags=not args.ignore_flags)
            except (ValueError, OSError, KeyError) as error:
                print(f"FAIL {case}: {error}")
                status = 1
                continue
            if report.mismatches:
                print(f"FAIL {case}: {report.mismatches[0]}")
                for more in report.mismatches[1:]:
                    print(f"     {more}")
                status = 1
            else:
                print(f"PASS {case} ({', '.join(report.compared)})")
    return status


def cmd_quantize(args) -> int:
    fmt = get_format(args.format)
    scale, codes, flags = quantize_block(args.values, fmt, args.rule, args.rounding)
    e = "nan" if scale == NAN_SCALE else scale - SCALE_BIAS
    print(f"scale byte {scale:02x} (E = {e}), flags={','.join(flags.names()) or 'none'}")
    for i, (text, code) in enumerate(zip(args.values, codes)):
        value = block_value(scale, code, fmt)
        shown = "-0" if value == 0 and fmt.kind == "fp" and is_negative_code(fmt, code) \
            else describe(value)
        print(f"  [{i}] {text} -> code {code:0{(fmt.width + 3) // 4}x} = {shown}")
    print(encode_line(scale, codes, fmt))
    return 0


def cmd_decode(args) -> int:
    fmt = get_format(args.format)
    for text in args.codes:
        code = int(text, 16)
        sign = "-" if fmt.kind == "fp" and is_negative_code(fmt, code) else ""
        value = decode(fmt, code)
        shown = f"{sign}0" if value == 0 else describe(value)
        print(f"{code:0{(fmt.width + 3) // 4}x} = {shown}")
    return 0


def cmd_formats(_args) -> int:
    print(f"{'name':12} kind  bias  emax  max_normal  width  mbits  specials")
    for f in FORMATS.values():
        specials = (f"inf {sorted(f.inf_codes)} " if f.inf_codes else "") + (
            f"nan {[hex(c) for c in sorted(f.nan_codes)]}" if f.nan_codes else "none")
        print(f"{f.name:12} {f.kind:4} {f.bias:5} {f.emax:5} {str(f.max_normal):>11} "
              f"{f.width:6} {f.mbits:6}  {specials}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mx.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("rederive", help="recompute a case folder's outputs: PASS/FAIL",
                            description="Recompute every output dump (and flag count) of each "
                                        "quantize/dot/gevm/gemm case folder in or below DIR "
                                        "from its input dumps. Exit 0 when all agree, else 1.")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--ignore-flags", action="store_true",
                   help="compare the dumps only, not the manifest's flag counts")
    p.set_defaults(run=cmd_rederive)
    p = commands.add_parser("quantize", help="quantize one block and print it")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("--rule", choices=RULES, default=RULES[0])
    p.add_argument("--rounding", choices=ELEMENT_MODES, default=None,
                   help="element rounding (default: the format's)")
    p.add_argument("values", nargs="+",
                   help="exact values: 1.5, -3/7, -0, inf, nan (after `--` when one starts with -)")
    p.set_defaults(run=cmd_quantize)
    p = commands.add_parser("decode", help="the exact value of element codes (hex)")
    p.add_argument("--format", required=True, choices=list(FORMATS))
    p.add_argument("codes", nargs="+")
    p.set_defaults(run=cmd_decode)
    p = commands.add_parser("formats", help="print the format table")
    p.set_defaults(run=cmd_formats)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
