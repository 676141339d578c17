#!/usr/bin/env python3
"""Independent Python reference of the simulator's numerics (docs/numerics.md).

Every stage is "the exact mathematical value, then exactly one named rounding".  This module
therefore never lets a float type round anything: exact values are Python integers
(`man * 2^exp`) or ratios of integers, and the rounding core works on those.  Transcendental
values (exp, cos, sin) are enclosed in an interval with mpmath and the interval's two ends are
rounded; when the ends disagree the precision is doubled (see `round_transcendental`).  Rational
powers B^(p/q) are enclosed with exact integer q-th roots (see `round_power`).

numpy is used only for integer work (block dot products, the SplitMix64 generator,
quantization), where int64 is exact by construction.

The hardware units of docs/microarchitecture.md (configurable exp, accumulators, reciprocal) are
modelled in units.py on top of this module's rounding core; `softmax`/`op --profile/--config`,
`unit-table` and `lut-check` use them.  The generator's distributions (`--dist`, numerics.md
section 5.1) are in dists.py, built on this module's SplitMix64 streams.

Run `reference.py --help` for the command line; the functions are importable for tests.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
from mpmath.libmp import from_man_exp, mpf_cos_sin, mpf_exp

import dumps

# ==============================================================================================
# Formats, modes, flags
# ==============================================================================================

NEAREST_EVEN = "nearest-even"
NEAREST_AWAY = "nearest-away"
TOWARD_ZERO = "toward-zero"
TOWARD_POS = "toward-pos"
TOWARD_NEG = "toward-neg"
MODES = (NEAREST_EVEN, NEAREST_AWAY, TOWARD_ZERO, TOWARD_POS, TOWARD_NEG)
ELEMENT_MODES = (NEAREST_AWAY, NEAREST_EVEN)   # MXINT8 element rounding (numerics.md section 4)


class FloatFormat:
    """An IEEE-754 style binary format: `precision` significand bits (leading bit included).

    The derived constants are plain attributes because the rounding core reads them per call.
    """

    def __init__(self, name: str, precision: int, emin: int, emax: int, width: int):
        self.name, self.precision, self.emin, self.emax, self.width = (
            name, precision, emin, emax, width)
        self.quantum_min = emin - precision + 1          # exponent of the smallest subnormal
        self.sign_bit = 1 << (width - 1)
        self.inf_bits = ((1 << (width - precision)) - 1) << (precision - 1)
        self.nan_bits = self.inf_bits | (1 << (precision - 2))     # canonical quiet NaN
        self.max_finite_bits = self.inf_bits - 1
        self.one_bits = emax << (precision - 1)
        self.digits = width // 4                          # hex digits of one dump word
        self.bits_dtype = np.uint16 if width == 16 else np.uint32

    def __repr__(self) -> str:
        return self.name.upper()


BF16 = FloatFormat("bf16", precision=8, emin=-126, emax=127, width=16)
FP32 = FloatFormat("fp32", precision=24, emin=-126, emax=127, width=32)
FORMATS = {"bf16": BF16, "fp32": FP32}


class Flags(NamedTuple):
    """IEEE status flags of one operation (numerics.md section 2)."""

    inexact: bool = False
    overflow: bool = False
    underflow: bool = False
    invalid: bool = False
    div_by_zero: bool = False

    def names(self) -> list[str]:
        """The raised flags' names, for printing."""
        return [name for name, raised in zip(self._fields, self) if raised]


class Decoded(NamedTuple):
    """A decoded float: kind is 'nan', 'inf' or 'finite'; a finite value is
    (-1)^negative * man * 2^exp (man >= 0, zero included)."""

    kind: str
    negative: bool
    man: int = 0
    exp: int = 0


def decode(bits: int, fmt: FloatFormat) -> Decoded:
    """Split a bit pattern into its exact value (no float arithmetic involved)."""
    frac_bits = fmt.precision - 1
    field = (bits >> frac_bits) & ((1 << (fmt.width - fmt.precision)) - 1)
    frac = bits & ((1 << frac_bits) - 1)
    negative = bool(bits & fmt.sign_bit)
    if field == (1 << (fmt.width - fmt.precision)) - 1:
        return Decoded("nan" if frac else "inf", negative)
    if field == 0:
        return Decoded("finite", negative, frac, fmt.quantum_min)
    return Decoded("finite", negative, frac | (1 << frac_bits), fmt.quantum_min + field - 1)


def to_fraction(bits: int, fmt: FloatFormat) -> Fraction:
    """Exact value of a finite bit pattern."""
    x = decode(bits, fmt)
    if x.kind != "finite":
        raise ValueError(f"{bits:#x} is not finite in {fmt.name}")
    value = Fraction(x.man) * Fraction(2) ** x.exp
    return -value if x.negative else value


def decode_array(bits: np.ndarray, fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised `decode`: (signed man int64, exp int64, nonfinite bool); man is 0 where
    nonfinite.  |man| < 2^24, so int64 is exact."""
    bits = np.asarray(bits).astype(np.int64)
    frac_bits = fmt.precision - 1
    all_ones = (1 << (fmt.width - fmt.precision)) - 1
    field = (bits >> frac_bits) & all_ones
    man = np.where(field > 0, (bits & ((1 << frac_bits) - 1)) | (1 << frac_bits),
                   bits & ((1 << frac_bits) - 1))
    nonfinite = field == all_ones
    man = np.where(nonfinite, 0, np.where(bits & fmt.sign_bit, -man, man))
    exp = fmt.quantum_min + np.maximum(field, 1) - 1
    return man, exp, nonfinite


# ==============================================================================================
# Rounding core: exact rationals -> float bits
# ==============================================================================================

# Where the discarded part of a magnitude lies, in units of the last kept quantum.
_EXACT, _BELOW_HALF, _HALF, _ABOVE_HALF = range(4)


def check_mode(mode: str) -> None:
    """Reject an unknown rounding mode name (done once per public call, not per rounding step)."""
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}; expected one of {', '.join(MODES)}")


def _increment(mode: str, negative: bool, odd: bool, position: int) -> bool:
    """Whether rounding adds one quantum to the truncated magnitude (the five IEEE modes)."""
    if position == _EXACT:
        return False
    if mode == NEAREST_EVEN:
        return position == _ABOVE_HALF or (position == _HALF and odd)
    if mode == NEAREST_AWAY:
        return position >= _HALF
    if mode == TOWARD_POS:
        return not negative
    if mode == TOWARD_NEG:
        return negative
    return False                                            # toward-zero truncates


def _floor_log2(num: int, den: int) -> int:
    """floor(log2(num/den)) for positive integers, exactly."""
    t = num.bit_length() - den.bit_length()
    if (num << max(-t, 0)) < (den << max(t, 0)):
        t -= 1
    return t


def _round_quanta(num: int, den: int, exp2: int, log2: int, quantum: int, mode: str,
                  negative: bool) -> tuple[int, bool]:
    """Round |x| = num/den * 2^exp2 (floor(log2|x|) = log2) to a whole number of 2^quantum.

    Returns (count, inexact).  Values under half a quantum are classified without shifting,
    so that e.g. e^(-3e38) (exponent about -4.9e38) costs nothing.
    """
    if log2 < quantum - 1:
        whole, position = 0, _BELOW_HALF
    else:
        shift = exp2 - quantum
        n = num << shift if shift > 0 else num
        d = den << -shift if shift < 0 else den
        whole, rest = divmod(n, d)
        position = (_EXACT if rest == 0 else _BELOW_HALF if 2 * rest < d
                    else _HALF if 2 * rest == d else _ABOVE_HALF)
    return whole + _increment(mode, negative, bool(whole & 1), position), position != _EXACT


def _overflow_bits(negative: bool, fmt: FloatFormat, mode: str) -> int:
    """Infinity, or the largest finite value when the mode rounds toward zero for this sign."""
    to_inf = (mode in (NEAREST_EVEN, NEAREST_AWAY)
              or (mode == TOWARD_POS and not negative) or (mode == TOWARD_NEG and negative))
    magnitude = fmt.inf_bits if to_inf else fmt.max_finite_bits
    return magnitude | (fmt.sign_bit if negative else 0)


def _round_core(negative: bool, num: int, den: int, exp2: int, fmt: FloatFormat,
                mode: str) -> tuple[int, bool, bool, bool]:
    """Round the nonzero value (-1)^negative * num/den * 2^exp2 (num, den > 0).

    Returns (bits, inexact, overflow, tiny); tiny is tininess *after* rounding: the value rounded
    to `precision` bits with an unbounded exponent is below 2^emin.
    """
    p = fmt.precision
    log2 = _floor_log2(num, den) + exp2
    quantum = max(log2, fmt.emin) - (p - 1)
    count, inexact = _round_quanta(num, den, exp2, log2, quantum, mode, negative)
    if quantum > fmt.emax + 1 or count >= 1 << (fmt.emax + 1 - quantum):
        return _overflow_bits(negative, fmt, mode), True, True, False
    if log2 >= fmt.emin:
        tiny = False
    elif log2 < fmt.emin - 1:
        tiny = True                         # even rounded up it stays <= 2^(log2+1) < 2^emin
    else:                                   # only a carry to 2^emin makes it not tiny
        unbounded, _ = _round_quanta(num, den, exp2, log2, log2 - (p - 1), mode, negative)
        tiny = unbounded < 1 << p
    # count * 2^quantum in IEEE encoding.  The same formula covers subnormals (quantum is then
    # quantum_min) and a carry to the next binade (count = 2^p adds one to the exponent field).
    magnitude = ((quantum - fmt.quantum_min) << (p - 1)) + count
    return magnitude | (fmt.sign_bit if negative else 0), inexact, False, tiny


def round_ratio(num: int, den: int, exp2: int, fmt: FloatFormat,
                mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """Correctly round num/den * 2^exp2 (den > 0) to `fmt`; an exact zero gives +0."""
    check_mode(mode)
    if den <= 0:
        raise ValueError("den must be positive")
    if num == 0:
        return 0, Flags()
    bits, inexact, overflow, tiny = _round_core(num < 0, abs(num), den, exp2, fmt, mode)
    return bits, Flags(inexact=inexact, overflow=overflow, underflow=tiny and inexact)


def round_dyadic(man: int, exp: int, fmt: FloatFormat,
                 mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """Correctly round man * 2^exp (man a signed integer)."""
    return round_ratio(man, 1, exp, fmt, mode)


def round_fraction(x: Fraction, fmt: FloatFormat, mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """Correctly round a rational number."""
    return round_ratio(x.numerator, x.denominator, 0, fmt, mode)


# ==============================================================================================
# Transcendental values
# ==============================================================================================

# mpmath's own interval arithmetic (mpmath/libmp/libmpi.py: mpi_cos_sin, mpi_exp) relies on a
# result computed at working precision wp being within 2^(10-wp) relative of the true value
# (exp, cos and sin are evaluated in fixed point with 10-14 guard bits, and cos/sin reduce the
# argument with extra precision until the cancellation is covered).  We assume 2^(20-wp):
# 1024 times looser than mpmath itself.
MPMATH_SLACK_BITS = 20
START_PRECISION = 96
MAX_PRECISION = 1 << 14


def round_transcendental(evaluate: Callable[[int], Sequence[tuple]], fmt: FloatFormat,
                         mode: str = NEAREST_EVEN) -> list[tuple[int, Flags]]:
    """Correctly round transcendental values y_j given `evaluate(wp)`, mpmath mpf tuples
    approximating all of them at wp bits (cos and sin come from one evaluation).

    The interval y_hat * (1 +- 2^(20-wp)) contains y.  Rounding is monotonic, so when both ends
    round to the same bits (with the same overflow and tininess) so does y.  Otherwise the
    precision doubles; this ends because a transcendental y is never a rounding boundary (those
    are rational).  y being irrational, the result is always inexact.
    """
    check_mode(mode)
    results: dict[int, tuple[int, Flags]] = {}
    wp = START_PRECISION
    while wp <= MAX_PRECISION:
        approximations = evaluate(wp)
        for j, (sign, man, exp, _) in enumerate(approximations):
            if j in results or not man:
                continue
            k = wp - MPMATH_SLACK_BITS
            low = _round_core(bool(sign), man * ((1 << k) - 1), 1, exp - k, fmt, mode)
            high = _round_core(bool(sign), man * ((1 << k) + 1), 1, exp - k, fmt, mode)
            if (low[0], low[2], low[3]) == (high[0], high[2], high[3]):
                results[j] = low[0], Flags(inexact=True, overflow=low[2], underflow=low[3])
        if len(results) == len(approximations):
            return [results[j] for j in range(len(approximations))]
        wp *= 2
    raise ArithmeticError(f"rounding undecided at {MAX_PRECISION} bits")


def _mpf(x: Decoded):
    """The exact value of a finite decoded float as an mpmath mpf tuple."""
    return from_man_exp(-x.man if x.negative else x.man, x.exp)


@functools.lru_cache(maxsize=None)
def exp_round(bits: int, fmt: FloatFormat = BF16, mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """round(e^x) for the float x with these bits (softmax_v stage 1).

    e^(+-0) = 1, e^(+inf) = +inf, e^(-inf) = +0, NaN -> canonical NaN, all exact; any other
    x is a nonzero rational, so e^x is transcendental (Lindemann) and never a tie.
    """
    x = decode(bits, fmt)
    if x.kind == "nan":
        return fmt.nan_bits, Flags()
    if x.kind == "inf":
        return (0 if x.negative else fmt.inf_bits), Flags()
    if x.man == 0:
        return fmt.one_bits, Flags()
    arg = _mpf(x)
    return round_transcendental(lambda wp: (mpf_exp(arg, wp),), fmt, mode)[0]


def cos_sin_round(bits: int, fmt: FloatFormat,
                  mode: str = NEAREST_EVEN) -> tuple[tuple[int, Flags], tuple[int, Flags]]:
    """(round(cos x), round(sin x)) for the float x with these bits (RoPE tables).

    cos(+-0) = 1 and sin(+-0) = +-0 exactly; cos/sin of +-inf is NaN (invalid); for any other
    x (a nonzero rational) both are transcendental.
    """
    x = decode(bits, fmt)
    if x.kind != "finite":
        nan = (fmt.nan_bits, Flags(invalid=x.kind == "inf"))
        return nan, nan
    if x.man == 0:
        return (fmt.one_bits, Flags()), (bits, Flags())
    arg = _mpf(x)
    cos, sin = round_transcendental(lambda wp: mpf_cos_sin(arg, wp), fmt, mode)
    return cos, sin


def _iroot(n: int, q: int) -> int:
    """floor(n^(1/q)) for n >= 0, by Newton's method on integers started above the root."""
    if n < 2:
        return n
    x = 1 << -(-n.bit_length() // q)
    while True:
        y = ((q - 1) * x + n // x ** (q - 1)) // q
        if y >= x:
            return x
        x = y


def round_power(base: Fraction, exponent: Fraction, fmt: FloatFormat,
                mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """Correctly round base^exponent for rational base > 0 and rational exponent >= 0.

    With exponent = p/q in lowest terms, y = (a/b)^(1/q) where a/b = base^p.  y is rational
    exactly when a and b are perfect q-th powers (they are coprime); then it is rounded as a
    ratio.  Otherwise y is irrational, and floor(y * 2^k) = iroot(floor(a * 2^(qk) / b), q)
    encloses it between two dyadics; k doubles until both round alike (no float involved).
    """
    check_mode(mode)
    if base <= 0 or exponent < 0:
        raise ValueError("round_power needs base > 0 and exponent >= 0")
    p, q = exponent.numerator, exponent.denominator
    a, b = base.numerator ** p, base.denominator ** p
    root_a, root_b = _iroot(a, q), _iroot(b, q)
    if root_a ** q == a and root_b ** q == b:
        return round_ratio(root_a, root_b, 0, fmt, mode)
    k = fmt.precision + 32
    while True:
        r = _iroot((a << (q * k)) // b, q)
        if r > 0:
            low = _round_core(False, r, 1, -k, fmt, mode)
            high = _round_core(False, r + 1, 1, -k, fmt, mode)
            if (low[0], low[2], low[3]) == (high[0], high[2], high[3]):
                return low[0], Flags(inexact=True, overflow=low[2], underflow=low[3])
        k *= 2


# ==============================================================================================
# Exact arithmetic stages on float bits
# ==============================================================================================

def reciprocal(bits: int, fmt: FloatFormat = BF16,
               mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """round(1/x) (softmax_v stage 5): 1/+-0 = +-inf (div_by_zero), 1/+-inf = +-0."""
    x = decode(bits, fmt)
    sign = fmt.sign_bit if x.negative else 0
    if x.kind == "nan":
        return fmt.nan_bits, Flags()
    if x.kind == "inf":
        return sign, Flags()
    if x.man == 0:
        return fmt.inf_bits | sign, Flags(div_by_zero=True)
    return round_ratio(-1 if x.negative else 1, x.man, -x.exp, fmt, mode)


def multiply(a_bits: int, b_bits: int, fmt: FloatFormat = BF16,
             mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """round(a * b) of the exact product; inf * 0 is NaN (invalid); the sign of a zero or
    infinite product is the product of the signs."""
    a, b = decode(a_bits, fmt), decode(b_bits, fmt)
    sign = fmt.sign_bit if a.negative != b.negative else 0
    if "nan" in (a.kind, b.kind):
        return fmt.nan_bits, Flags()
    if "inf" in (a.kind, b.kind):
        if (a.kind == "finite" and a.man == 0) or (b.kind == "finite" and b.man == 0):
            return fmt.nan_bits, Flags(invalid=True)
        return fmt.inf_bits | sign, Flags()
    product = a.man * b.man
    if product == 0:
        return sign, Flags()
    return round_dyadic(-product if sign else product, a.exp + b.exp, fmt, mode)


def exact_sum(addends: Sequence[int], fmt: FloatFormat = BF16,
              mode: str = NEAREST_EVEN) -> tuple[int, Flags]:
    """round(sum) with the sum taken exactly (softmax_v stage 2), so it is order independent.

    NaN wins; +inf + -inf is NaN (invalid); otherwise an infinity wins; an exact zero is -0 only
    when every addend is -0.
    """
    values = [decode(int(b), fmt) for b in addends]
    if any(v.kind == "nan" for v in values):
        return fmt.nan_bits, Flags()
    infinities = {v.negative for v in values if v.kind == "inf"}
    if len(infinities) == 2:
        return fmt.nan_bits, Flags(invalid=True)
    if infinities:
        return fmt.inf_bits | (fmt.sign_bit if infinities.pop() else 0), Flags()
    # Every finite value is an integer multiple of the smallest subnormal.
    total = sum((-v.man if v.negative else v.man) << (v.exp - fmt.quantum_min) for v in values)
    if total == 0:
        all_negative_zero = bool(values) and all(v.negative for v in values)
        return (fmt.sign_bit if all_negative_zero else 0), Flags()
    return round_dyadic(total, fmt.quantum_min, fmt, mode)


# ==============================================================================================
# Input generator (numerics.md section 5)
# ==============================================================================================

DISTS = ("uniform", "corners", "mixed")      # section 5.1; the first is the default
MASK64 = (1 << 64) - 1
SPLITMIX_GAMMA = 0x9E3779B97F4A7C15
STREAM_MULTIPLIER = 0xD1B54A32D192ED03


def stream_start(seed: int, stream: int) -> int:
    """Initial SplitMix64 state of stream k of seed S: S xor ((k+1) * 0xD1B54A32D192ED03)."""
    if not 0 <= seed <= MASK64:
        raise ValueError(f"seed {seed} is not a 64-bit unsigned integer")
    return seed ^ (((stream + 1) * STREAM_MULTIPLIER) & MASK64)


def splitmix64(state: int, count: int) -> np.ndarray:
    """The first `count` SplitMix64 outputs from `state`, as uint64.

    The i-th call (1-based) sees state + i * gamma, so all calls are computed at once; numpy
    uint64 array arithmetic wraps modulo 2^64 like the specification.
    """
    z = np.uint64(state) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(SPLITMIX_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draw_reals(seed: int, stream: int, shape: Sequence[int], r: int) -> tuple[np.ndarray, int]:
    """Draw a tensor in row-major order: (w int64 of `shape`, e) with real value w * 2^e.

    u = next() >> 40 and real = (u - 2^23) * 2^(r-23), uniform on [-2^r, 2^r).
    """
    count = int(np.prod(shape, dtype=np.int64))
    u = (splitmix64(stream_start(seed, stream), count) >> np.uint64(40)).astype(np.int64)
    return (u - (1 << 23)).reshape(shape), r - 23


# ==============================================================================================
# MXINT8 (numerics.md sections 4 and 6)
# ==============================================================================================

BLOCK = dumps.BLOCK_SIZE
NAN_SCALE = 0xFF


def _round_scaled(mag: np.ndarray, shift: np.ndarray, mode: str) -> np.ndarray:
    """Round mag * 2^shift to an integer (mag >= 0 int64), nearest with ties per `mode`.

    A right shift by more than 62 is capped: mag < 2^53 then lies far below half a step either
    way, so the result (0) is the same.
    """
    left = np.left_shift(mag, np.clip(shift, 0, 62))
    k = np.clip(-shift, 1, 62)
    whole = np.right_shift(mag, k)
    rest = mag - np.left_shift(whole, k)
    half = np.left_shift(np.int64(1), k - 1)
    tie_up = True if mode == NEAREST_AWAY else (whole & 1) == 1
    right = whole + ((rest > half) | ((rest == half) & tie_up))
    return np.where(shift >= 0, left, right)


def quantize_blocks(man: np.ndarray, exp, nonfinite, mode: str = NEAREST_AWAY
                    ) -> tuple[np.ndarray, np.ndarray]:
    """MXINT8-quantize the exact values man * 2^exp in blocks along the last axis (length 32).

    `man` is int64 with |man| < 2^53, `exp` int64 broadcastable to it, `nonfinite` marks +-inf
    and NaN.  Returns (scales uint8, elements int8): 0xff and zeros for a block with a nonfinite
    value; 0x00 and zeros for an all-zero block; else E = clamp(floor(log2 amax), -127, 127) and
    q = clamp(round(x * 2^(6-E)), -127, 127), one rounding since the scaling is exact.
    """
    if mode not in ELEMENT_MODES:
        raise ValueError(f"element rounding must be one of {', '.join(ELEMENT_MODES)}")
    man = np.asarray(man, dtype=np.int64)
    exp = np.broadcast_to(np.asarray(exp, dtype=np.int64), man.shape)
    bad = np.broadcast_to(np.asarray(nonfinite, dtype=bool), man.shape).any(axis=-1)
    mag = np.abs(man)
    _, bit_length = np.frexp(mag.astype(np.float64))          # exact: mag < 2^53
    empty = np.iinfo(np.int64).min
    top = np.where(mag > 0, bit_length.astype(np.int64) - 1 + exp, empty).max(axis=-1)
    zero = top == empty
    if np.any(top[~zero & ~bad] > 127):
        raise ValueError("value too large for an E8M0 scale")
    e = np.clip(top, -127, 127)
    q = np.sign(man) * np.minimum(_round_scaled(mag, exp + 6 - e[..., None], mode), 127)
    q[zero | bad] = 0
    scales = np.where(bad, NAN_SCALE, np.where(zero, 0, e + 127)).astype(np.uint8)
    return scales, q.astype(np.int8)


def to_blocks(array: np.ndarray, axis: int, fill) -> np.ndarray:
    """Zero-pad `axis` to a multiple of 32 and move its 32-element blocks to a new last axis:
    shape [..., L, ...] -> block grid [..., ceil(L/32), ...] + [32]."""
    array = np.asarray(array)
    length = array.shape[axis]
    blocks = -(-length // BLOCK)
    pad = [(0, 0)] * array.ndim
    pad[axis] = (0, blocks * BLOCK - length)
    padded = np.pad(array, pad, constant_values=fill)
    split = padded.reshape(array.shape[:axis] + (blocks, BLOCK) + array.shape[axis + 1:])
    return np.moveaxis(split, axis + 1, -1)


def quantize_along(man: np.ndarray, exp, nonfinite, axis: int,
                   mode: str = NEAREST_AWAY) -> tuple[np.ndarray, np.ndarray]:
    """Quantize a logical tensor of exact values man * 2^exp in blocks along `axis`."""
    man = np.asarray(man, dtype=np.int64)
    exp = np.broadcast_to(np.asarray(exp, dtype=np.int64), man.shape)
    nonfinite = np.broadcast_to(np.asarray(nonfinite, dtype=bool), man.shape)
    return quantize_blocks(to_blocks(man, axis, 0), to_blocks(exp, axis, 0),
                           to_blocks(nonfinite, axis, False), mode)


def accumulate_blocks(dots: np.ndarray, exps: np.ndarray, nan: np.ndarray, fmt: FloatFormat,
                      mode: str) -> np.ndarray:
    """Round sum_b dots[..., b] * 2^exps[..., b] once per output; canonical NaN where any
    block's `nan` is set.

    The sum is exact: each term is shifted onto the smallest exponent of its output as a Python
    integer (object array), so no alignment bits are lost.  An exact zero is +0.
    """
    base = exps.min(axis=-1, keepdims=True)
    terms = dots.astype(object) << (exps - base).astype(object)
    totals = np.asarray(terms.sum(axis=-1), dtype=object)
    nan = nan.any(axis=-1)
    out = [fmt.nan_bits if bad else round_dyadic(int(total), int(b), fmt, mode)[0]
           for total, b, bad in zip(totals.ravel(), base.ravel(), nan.ravel())]
    return np.array(out, dtype=fmt.bits_dtype).reshape(totals.shape)


def _block_exponents(scales: np.ndarray) -> np.ndarray:
    """E = scale byte - 127 as int64."""
    return scales.astype(np.int64) - 127


OP_FILES = {"dot": ("dot.a", "dot.b", "dot.output"),
            "gevm": ("gevm.vector", "gevm.matrix", "gevm.output"),
            "gemm": ("gemm.input", "gemm.other", "gemm.output")}
QUANTIZE_FILES = ("quantize.input", "quantize.output")


def op_shapes(op: str, m: int, k: int | None, n: int | None) -> tuple[tuple, int, tuple, int]:
    """Logical shapes and blocked axes of the two operands (numerics.md section 6)."""
    if op == "dot":
        return (m,), 0, (m,), 0
    if op == "gevm":
        return (m,), 0, (m, k), 0
    return (m, k), 1, (k, n), 0


def block_terms(op: str, first, second) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block products of an MXINT8 op, per output element (leading axes, the output's
    shape) and block b (last axis): (integer dot, exponent Ea_b + Eb_b - 12, NaN: either scale
    byte is 0xff).  Operands are (scales, elements) in block-grid form (numerics.md section 6);
    |dot| <= 32 * 128^2, so int64 is exact.

    dot: a, b [nb]; gevm: vector [nb], matrix [nb, k] -> [k, nb]; gemm: input [m, kb],
    other [kb, n] -> [m, n, kb]."""
    (s1, q1), (s2, q2) = first, second
    q1, q2 = q1.astype(np.int64), q2.astype(np.int64)
    e1, e2 = _block_exponents(s1), _block_exponents(s2)
    n1, n2 = s1 == NAN_SCALE, s2 == NAN_SCALE
    if op == "dot":
        return (q1 * q2).sum(axis=-1), e1 + e2 - 12, n1 | n2
    if op == "gevm":
        return (np.einsum("bi,bci->cb", q1, q2), e1[None, :] + e2.T - 12,
                n1[None, :] | n2.T)
    dots = np.stack([q1[:, b, :] @ q2[b].T for b in range(q1.shape[1])], axis=-1)
    return (dots, e1[:, None, :] + e2.T[None, :, :] - 12,
            n1[:, None, :] | n2.T[None, :, :])


def dot_product(a, b, fmt: FloatFormat = BF16, mode: str = NEAREST_EVEN) -> np.ndarray:
    """MXINT8 dot product of block vectors a, b = (scales [nb], elements [nb, 32])."""
    return accumulate_blocks(*block_terms("dot", a, b), fmt, mode)


def gevm(vector, matrix, fmt: FloatFormat = BF16, mode: str = NEAREST_EVEN) -> np.ndarray:
    """vector [m] @ matrix [m, k] in MXINT8: vector (scales [nb], elements [nb, 32]), matrix
    (scales [nb, k], elements [nb, k, 32]) blocked along m.  Output [k]."""
    return accumulate_blocks(*block_terms("gevm", vector, matrix), fmt, mode)


def gemm(inp, other, fmt: FloatFormat = BF16, mode: str = NEAREST_EVEN) -> np.ndarray:
    """input [m, k] @ other [k, n] in MXINT8: input (scales [m, kb], elements [m, kb, 32])
    blocked along k (axis 1), other (scales [kb, n], elements [kb, n, 32]) along k (axis 0)."""
    return accumulate_blocks(*block_terms("gemm", inp, other), fmt, mode)


def check_padding(path, elements: np.ndarray, length: int, grid_axis: int) -> None:
    """Raise if an MXINT8 dump has a nonzero element past the logical end of its blocked axis
    (dump-format.md: a partial last block has zero elements past the end of the row)."""
    index = np.arange(elements.shape[grid_axis])
    shape = [1] * elements.ndim
    shape[grid_axis] = -1
    past_end = (index.reshape(shape) * BLOCK + np.arange(BLOCK)) >= length
    offending = np.any((elements != 0) & past_end, axis=-1).ravel()
    if offending.any():
        line = int(np.argmax(offending)) + 1
        raise ValueError(f"{path}:{line}: nonzero padding element past logical length {length}")


# ==============================================================================================
# softmax_v (numerics.md section 3)
# ==============================================================================================

FLAGS_FILE = "flags.json"
SOFTMAX_FILES = ("softmaxed_v.qk_T", "softmaxed_v.exp-bf16", "softmaxed_v.exp_sum",
                 "softmaxed_v.v", "softmaxed_v.exp_mxint8", "softmaxed_v.scaled_v",
                 "softmaxed_v.inv", "softmaxed_v.out")


def softmax_v(qk: np.ndarray, v: tuple, element_mode: str = NEAREST_AWAY) -> dict:
    """All stages from qk_T bits [H, N] and v blocks (scales [H, nb, D], elements [H, nb, D, 32]).

    Returns a dict of every dumped tensor (BF16 bits or (scales, elements)), keyed by file name.
    """
    heads, _ = qk.shape
    exp_bits = np.array([[exp_round(int(x))[0] for x in row] for row in qk], dtype=np.uint16)
    exp_sum = np.array([exact_sum(row)[0] for row in exp_bits], dtype=np.uint16)
    exp_q = quantize_along(*decode_array(exp_bits, BF16), axis=1, mode=element_mode)
    scaled = np.stack([gevm((exp_q[0][h], exp_q[1][h]), (v[0][h], v[1][h]))
                       for h in range(heads)])
    inv = np.array([reciprocal(int(s))[0] for s in exp_sum], dtype=np.uint16)
    out = np.array([[multiply(int(x), int(inv[h]))[0] for x in scaled[h]]
                    for h in range(heads)], dtype=np.uint16)
    return dict(zip(SOFTMAX_FILES, (qk, exp_bits, exp_sum, v, exp_q, scaled, inv, out)))


def read_softmax_inputs(case_dir: Path, heads: int, head_dim: int) -> tuple[np.ndarray, tuple]:
    """Read qk_T and v of an existing case; N is the qk_T line count / heads."""
    qk_path, v_path = case_dir / "softmaxed_v.qk_T", case_dir / "softmaxed_v.v"
    qk = dumps.read_bf16_bits(qk_path)
    if qk.size == 0 or qk.size % heads:
        raise ValueError(f"{qk_path}: {qk.size} lines is not a positive multiple of {heads} heads")
    kv_size = qk.size // heads
    grid = dumps.block_grid((heads, kv_size, head_dim), 1)
    v = dumps.read_mxint8(v_path, grid)
    check_padding(v_path, v[1], kv_size, 1)
    return qk.reshape(heads, kv_size), v


# ==============================================================================================
# RoPE tables (numerics.md section 7)
# ==============================================================================================

def rope_theta(base: Fraction, head_dim: int) -> list[int]:
    """theta_i = RN32(1 / RN32(B^(2i/d))) as FP32 bits, i = 0 .. d/2 - 1."""
    thetas = []
    for i in range(head_dim // 2):
        power = decode(round_power(base, Fraction(2 * i, head_dim), FP32)[0], FP32)
        thetas.append(round_ratio(1, power.man, -power.exp, FP32)[0])
    return thetas


def _rope_row_fp32(m: int, thetas: list[Decoded]) -> tuple[list[int], list[int], list[int]]:
    """freq = RN32(m * theta_i), cos = RN32(cos freq), sin = RN32(sin freq) for one position."""
    freqs = [round_dyadic(m * theta.man, theta.exp, FP32)[0] for theta in thetas]
    pairs = [cos_sin_round(freq, FP32) for freq in freqs]
    return freqs, [cos for (cos, _), _ in pairs], [sin for _, (sin, _) in pairs]


@functools.lru_cache(maxsize=None)
def _cos_sin_bf16(freq: int) -> tuple[int, int]:
    """RNE_bf16 cos and sin of a BF16 frequency (few distinct values: cached)."""
    (cos, _), (sin, _) = cos_sin_round(freq, BF16)
    return cos, sin


def _rope_row_bf16(m_b: int, thetas_b: list[int]) -> tuple[list[int], list[int], list[int]]:
    """freq = RNE_bf16(m_b * theta_b) and its BF16 cos and sin for one BF16 position m_b."""
    freqs = [multiply(m_b, theta_b, BF16)[0] for theta_b in thetas_b]
    pairs = [_cos_sin_bf16(freq) for freq in freqs]
    return freqs, [cos for cos, _ in pairs], [sin for _, sin in pairs]


def _rope_rows(base: Fraction, head_dim: int, positions: range) -> dict:
    """Rows `positions` of the six tables ([len(positions), d/2] bits each), keyed by name.

    Positions sharing a BF16 value m_b (e.g. 4088..4095 -> 4096) share their BF16 rows.
    """
    thetas = [decode(t, FP32) for t in rope_theta(base, head_dim)]
    thetas_b = [round_dyadic(t.man, t.exp, BF16)[0] for t in thetas]
    rows_fp32 = [_rope_row_fp32(m, thetas) for m in positions]
    positions_b = [round_dyadic(m, 0, BF16)[0] for m in positions]
    distinct_b = {m_b: _rope_row_bf16(m_b, thetas_b) for m_b in set(positions_b)}
    rows_b = [distinct_b[m_b] for m_b in positions_b]
    tables = {}
    for column, kind in enumerate(("freq", "cos", "sin")):
        tables[f"{kind}_fp32"] = np.array([row[column] for row in rows_fp32], dtype=np.uint32)
        tables[f"{kind}_bf16"] = np.array([row[column] for row in rows_b], dtype=np.uint16)
    return tables


def rope_tables(base: Fraction, head_dim: int, max_pos: int, workers: int | None = None) -> dict:
    """The six RoPE tables, [P, d/2] bits each, keyed by file name.

    Rows are independent, so they are split over `workers` processes (default: all cores).
    """
    workers = max(1, min(workers or os.cpu_count() or 1, max_pos // 64))
    chunks = [range(start, min(start + -(-max_pos // workers), max_pos))
              for start in range(0, max_pos, -(-max_pos // workers))]
    if workers == 1:
        parts = [_rope_rows(base, head_dim, chunk) for chunk in chunks]
    else:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_rope_rows, [base] * len(chunks), [head_dim] * len(chunks),
                                  chunks))
    return {f"rope.{name}": np.concatenate([part[name] for part in parts])
            for name in parts[0]}


# ==============================================================================================
# Command line
# ==============================================================================================

def _write_bits(path: Path, bits: np.ndarray, fmt: FloatFormat) -> None:
    """Write a BF16 or FP32 dump of bit patterns."""
    (dumps.write_bf16 if fmt is BF16 else dumps.write_fp32)(path, bits.astype(fmt.bits_dtype))


def _write_tensors(folder: Path, tensors: dict, fmt_of: Callable[[str], FloatFormat]) -> None:
    """Write bits arrays as BF16/FP32 (per fmt_of) and (scales, elements) pairs as MXINT8."""
    for name, data in tensors.items():
        if isinstance(data, tuple):
            dumps.write_mxint8(folder / name, *data)
        else:
            _write_bits(folder / name, data, fmt_of(name))


def _write_case(out: Path, case_name: str | None, tensors: dict,
                fmt_of: Callable[[str], FloatFormat], documents: dict | None = None) -> Path:
    """Write a case atomically into out/case_name, or flat into `out` when case_name is None;
    `documents` are JSON files written beside the dumps (name -> object)."""
    def write(folder: Path) -> None:
        _write_tensors(folder, tensors, fmt_of)
        for name, document in (documents or {}).items():
            dumps.write_text(folder / name, json.dumps(document, indent=2) + "\n")

    if case_name is None:
        out.mkdir(parents=True, exist_ok=True)
        write(out)
        return out
    with dumps.atomic_case_dir(out / case_name) as tmp:
        write(tmp)
    return out / case_name


def _hardware(args):
    """The hardware description of --profile / --config (units.py builds on this module, hence
    the import here rather than at the top)."""
    import units
    return units.load_hardware(args.profile, args.config)


def _dist_suffix(dist: str) -> str:
    """The case-name suffix of a distribution: none for uniform, else `_dist-D` (as `sim`)."""
    return "" if dist == DISTS[0] else f"_dist-{dist}"


def softmax_case_name(kv_size: int, seed: int, dist: str) -> str:
    """`kv-size-N_seed-S[_dist-D]`, the folder `sim run` writes."""
    return f"kv-size-{kv_size}_seed-{seed}" + _dist_suffix(dist)


def op_case_name(op: str, m: int, k: int | None, n: int | None, seed: int, dist: str) -> str:
    """`<op>_m-M[_k-K][_n-N]_seed-S[_dist-D]`, the folder `sim op` writes."""
    return (f"{op}_m-{m}" + (f"_k-{k}" if k else "") + (f"_n-{n}" if n else "")
            + f"_seed-{seed}" + _dist_suffix(dist))


def cmd_softmax(args) -> Path:
    """`softmax`: generate or read qk_T and v, compute every stage with the configured units,
    write the eight files and flags.json (per computed stage, how many results raised each
    flag)."""
    import dists
    import units
    hardware = _hardware(args)
    if args.inputs is not None:
        qk, v = read_softmax_inputs(Path(args.inputs), args.heads, args.head_dim)
        if args.kv_size not in (None, qk.shape[1]):
            raise ValueError(f"{args.inputs}: --kv-size {args.kv_size} but qk_T has "
                             f"{qk.shape[1]} columns per head")
        case_name = None
    else:
        if args.kv_size is None or args.seed is None or args.kv_size < 1:
            raise SystemExit("softmax: give --kv-size N >= 1 and --seed S, or --inputs CASE_DIR")
        qk, v = dists.softmax_inputs(args.kv_size, args.seed, args.heads, args.head_dim,
                                     args.element_rounding, args.dist)
        case_name = softmax_case_name(args.kv_size, args.seed, args.dist)
    tensors, flags = units.softmax_v(qk, v, hardware, args.element_rounding)
    return _write_case(Path(args.out), case_name, tensors, lambda name: BF16,
                       {FLAGS_FILE: flags})


def _table(function: Callable[[int], tuple[int, Flags]]) -> np.ndarray:
    """A function of every BF16 bit pattern, as 65,536 BF16 results."""
    return np.array([function(bits)[0] for bits in range(1 << 16)], dtype=np.uint16)


def cmd_exp_table(args) -> Path:
    """`exp-table`: line i is RNE_bf16(e^x) for the BF16 x with bit pattern i."""
    dumps.write_bf16(args.out, _table(exp_round))
    return Path(args.out)


def cmd_unit_table(args) -> Path:
    """`unit-table`: line i is the configured exp or recip unit's result for bit pattern i."""
    hardware = _hardware(args)
    dumps.write_bf16(args.out, _table(getattr(hardware, args.unit)))
    return Path(args.out)


def cmd_lut_check(args) -> int:
    """`lut-check`: rebuild a unit's outputs from `sim export-lut`'s ROM files alone."""
    import lutcheck
    return lutcheck.main(Path(args.dir), args.unit)


def cmd_recip_table(args) -> Path:
    """`recip-table`: line i is RNE_bf16(1/x) for the BF16 x with bit pattern i."""
    dumps.write_bf16(args.out, _table(reciprocal))
    return Path(args.out)


def _infer_op_sizes(op: str, args, lines_first: int, lines_second: int, where: Path
                    ) -> tuple[int, int | None, int | None]:
    """m, k, n of operand dumps from their line counts, using --m/--k/--n where ambiguous.

    A blocked length the flags do not give is taken as whole blocks (32 * blocks)."""
    def fail(message):
        raise ValueError(f"{where}: {message}")

    def blocks(length):
        return -(-length // BLOCK)

    if not lines_first or not lines_second:
        fail("an operand dump is empty")
    if op == "dot":
        if lines_first != lines_second:
            fail(f"dot.a has {lines_first} blocks, dot.b has {lines_second}")
        m = args.m or BLOCK * lines_first
        if blocks(m) != lines_first:
            fail(f"--m {m} needs {blocks(m)} blocks, dot.a has {lines_first}")
        return m, None, None
    if op == "gevm":
        m = args.m or BLOCK * lines_first
        if blocks(m) != lines_first or lines_second % lines_first:
            fail(f"vector has {lines_first} blocks, matrix {lines_second} lines: "
                 f"not [ceil({m}/32), k]")
        k = lines_second // lines_first
        if args.k is not None and args.k != k:
            fail(f"--k {args.k} but the matrix has {k} columns")
        return m, k, None
    if args.k is not None:
        kb = blocks(args.k)
    elif args.m is not None and lines_first % args.m == 0:
        kb = lines_first // args.m
    elif args.n is not None and lines_second % args.n == 0:
        kb = lines_second // args.n
    else:
        fail("gemm --inputs needs --k, or --m or --n dividing the line counts")
    if kb == 0 or lines_first % kb or lines_second % kb:
        fail(f"line counts {lines_first} and {lines_second} are not multiples of {kb} k-blocks")
    m, n, k = lines_first // kb, lines_second // kb, args.k or BLOCK * kb
    if (args.m not in (None, m)) or (args.n not in (None, n)):
        fail(f"flags disagree with the line counts (m = {m}, n = {n})")
    return m, k, n


def _read_op_inputs(op: str, args) -> tuple[tuple, tuple]:
    """Read both operand dumps of an existing case and check their padding."""
    case = Path(args.inputs)
    first_path, second_path = (case / name for name in OP_FILES[op][:2])
    first, second = dumps.read_mxint8(first_path), dumps.read_mxint8(second_path)
    m, k, n = _infer_op_sizes(op, args, first[0].size, second[0].size, case)
    shapes = op_shapes(op, m, k, n)
    operands = []
    for path, (scales, elements), shape, axis in ((first_path, first, *shapes[:2]),
                                                  (second_path, second, *shapes[2:])):
        grid = dumps.block_grid(shape, axis)
        scales, elements = scales.reshape(grid), elements.reshape(grid + (BLOCK,))
        check_padding(path, elements, shape[axis], axis)
        operands.append((scales, elements))
    return operands[0], operands[1]


def _op_sizes(args) -> tuple[int, int | None, int | None]:
    """m, k, n of a generated case (positive, as the op needs them)."""
    needed = {"dot": ("m",), "gevm": ("m", "k"), "gemm": ("m", "k", "n"),
              "quantize": ("m",)}[args.op]
    if any(getattr(args, flag) is None or getattr(args, flag) < 1 for flag in needed):
        raise SystemExit(f"op {args.op}: give positive {', '.join('--' + f for f in needed)} "
                         f"with --seed, or --inputs CASE_DIR")
    return args.m, getattr(args, "k", None), getattr(args, "n", None)


def cmd_op(args) -> Path:
    """`op dot|gevm|gemm`: generate or read the operands, write them, the output of the MAC
    accumulator of the hardware description and flags.json (the output's flag counts)."""
    import dists
    import units
    op = args.op
    hardware = _hardware(args)
    if args.inputs is not None:
        first, second = _read_op_inputs(op, args)
        case_name = None
    else:
        m, k, n = _op_sizes(args)
        first, second = dists.op_inputs(op, m, k, n, args.seed, args.dist,
                                        args.element_rounding)
        case_name = op_case_name(op, m, k, n, args.seed, args.dist)
    fmt = FORMATS[args.out_dtype]
    output, flags = units.mxint8_op(op, first, second, hardware, fmt, args.rounding)
    names = OP_FILES[op]
    tensors = {names[0]: first, names[1]: second, names[2]: output}
    return _write_case(Path(args.out), case_name, tensors, lambda name: fmt,
                       {FLAGS_FILE: {names[2]: flags}})


def read_quantize_input(case_dir: Path, m: int | None) -> np.ndarray:
    """quantize.input of an existing case; m is its line count (--m must agree)."""
    path = case_dir / QUANTIZE_FILES[0]
    bits = dumps.read_bf16_bits(path)
    if bits.size == 0 or m not in (None, bits.size):
        raise ValueError(f"{path}: {bits.size} lines, expected --m {m} (at least one)")
    return bits


def cmd_quantize(args) -> Path:
    """`op quantize`: generate or read the BF16 input [m], write it, its MXINT8 blocks along
    axis 0 and flags.json (the quantizer's flag counts, one result per block)."""
    import dists
    import units
    if args.inputs is not None:
        bits = read_quantize_input(Path(args.inputs), args.m)
        case_name = None
    else:
        m, _, _ = _op_sizes(args)
        bits = dists.quantize_input(args.seed, m, args.dist)
        case_name = op_case_name("quantize", m, None, None, args.seed, args.dist)
    blocks, flags = units.quantize(bits, args.element_rounding)
    tensors = dict(zip(QUANTIZE_FILES, (bits, blocks)))
    return _write_case(Path(args.out), case_name, tensors, lambda name: BF16,
                       {FLAGS_FILE: {QUANTIZE_FILES[1]: flags}})


def cmd_rope(args) -> Path:
    """`rope`: write the six RoPE tables into OUT/rope/."""
    if args.head_dim < 2 or args.head_dim % 2 or args.max_pos < 1:
        raise SystemExit("rope: --head-dim must be even and positive, --max-pos positive")
    tables = rope_tables(parse_exact(args.base), args.head_dim, args.max_pos)
    return _write_case(Path(args.out), "rope", tables,
                       lambda name: BF16 if name.endswith("bf16") else FP32)


def parse_exact(text: str) -> Fraction:
    """An exact rational from '3', '-0.1', '1/3', '1e-50', '2^-134' or '3*2^-8'."""
    mantissa, separator, power = text.replace(" ", "").partition("2^")
    if not separator:
        return Fraction(mantissa)
    if mantissa and not mantissa.endswith("*"):
        raise ValueError(f"cannot parse {text!r}")
    factor = Fraction(mantissa[:-1]) if mantissa else Fraction(1)
    return factor * Fraction(2) ** int(power)


def describe(bits: int, fmt: FloatFormat) -> str:
    """The exact value of a bit pattern as text: a fraction, -0, +-inf or nan."""
    x = decode(bits, fmt)
    if x.kind != "finite":
        return x.kind if x.kind == "nan" else ("-inf" if x.negative else "+inf")
    return "-0" if x.negative and x.man == 0 else str(to_fraction(bits, fmt))


def cmd_round(args) -> None:
    """`round`: print the rounded bits, their exact value and the flags of each exact value."""
    fmt = FORMATS[args.format]
    for text in args.values:
        bits, flags = round_fraction(parse_exact(text), fmt, args.mode)
        print(f"{text}: {bits:0{fmt.digits}x} = {describe(bits, fmt)} "
              f"flags={','.join(flags.names()) or 'none'}")


def _add_softmax_parser(commands) -> None:
    p = commands.add_parser(
        "softmax", help="softmax_v case: eight dumps",
        description="Compute a softmax_v case. With --kv-size/--seed the inputs are generated "
                    "(numerics.md section 5) and OUT/kv-size-N_seed-S/ is written; with --inputs "
                    "qk_T and v are read from CASE_DIR and all eight files are written flat into "
                    "OUT.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=int, help="generator seed S (0 .. 2^64-1)")
    source.add_argument("--inputs", metavar="CASE_DIR",
                        help="read softmaxed_v.qk_T and softmaxed_v.v from CASE_DIR")
    p.add_argument("--kv-size", type=int, metavar="N", help="kv length N (with --seed)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--element-rounding", choices=ELEMENT_MODES, default=NEAREST_AWAY,
                   help="MXINT8 element rounding (default nearest-away)")
    p.add_argument("--heads", type=int, default=32, help="num_heads (default 32)")
    p.add_argument("--head-dim", type=int, default=128, help="head_dim (default 128)")
    _add_dist_option(p)
    _add_hardware_options(p)
    p.set_defaults(run=cmd_softmax)


def _add_dist_option(p) -> None:
    p.add_argument("--dist", choices=DISTS, default=DISTS[0],
                   help="input distribution of generated inputs (numerics.md section 5.1; "
                        "default uniform)")


def _add_hardware_options(p) -> None:
    """--profile NAME | --config FILE (the JSON of `sim config show`)."""
    hardware = p.add_mutually_exclusive_group()
    hardware.add_argument("--profile", choices=("reference", "narrow"), default="reference",
                          help="built-in hardware description (default reference: every unit "
                               "exact)")
    hardware.add_argument("--config", metavar="FILE",
                          help="a JSON hardware description as `sim config show` prints")


def _add_unit_parsers(commands) -> None:
    p = commands.add_parser(
        "unit-table", help="a configured exp or recip unit for all 65,536 BF16 inputs",
        description="Write 65,536 BF16 lines: line i is the configured unit's result for the "
                    "BF16 input with bit pattern i (docs/microarchitecture.md).")
    p.add_argument("--unit", choices=("exp", "recip"), required=True)
    _add_hardware_options(p)
    p.add_argument("--out", required=True, help="output file")
    p.set_defaults(run=cmd_unit_table)
    p = commands.add_parser(
        "lut-check", help="check `sim export-lut` ROM files against the unit's outputs",
        description="Rebuild the unit's result for every BF16 input from DIR/<unit>_lut.json and "
                    "DIR/<unit>_lut.hex alone and compare with DIR/<unit>_outputs.hex. Exit 0 "
                    "when all 65,536 agree, 1 at the first mismatch, 2 for unusable files.")
    p.add_argument("--dir", required=True, help="the folder `sim export-lut --out` wrote")
    p.add_argument("--unit", choices=("exp", "recip"), required=True)
    p.set_defaults(run=cmd_lut_check)


def _add_op_parser(commands) -> None:
    p = commands.add_parser(
        "op", help="MXINT8 dot / gevm / gemm / quantize case",
        description="MXINT8 dot product, vector-matrix or matrix-matrix product, or the "
                    "quantizer alone. Generated cases go to OUT/<op>_m-M[_k-K][_n-N]_seed-S"
                    "[_dist-D]/; with --inputs the input dumps are read from CASE_DIR and the "
                    "files are written flat into OUT. flags.json holds the output's flag counts.")
    ops = p.add_subparsers(dest="op", required=True, metavar="{dot,gevm,gemm,quantize}")
    sizes = {"dot": {"m": "length of a and b"},
             "gevm": {"m": "length of the vector = rows of the matrix (reduction axis)",
                      "k": "columns of the matrix"},
             "gemm": {"m": "rows of input", "k": "columns of input = rows of other (reduction "
                      "axis)", "n": "columns of other"}}
    for op, meaning in sizes.items():
        q = ops.add_parser(op, help=f"{op} case", description=f"MXINT8 {op}. With --inputs the "
                           "sizes come from the line counts; give the flags where ambiguous.")
        for letter, text in meaning.items():
            q.add_argument(f"--{letter}", type=int, help=text)
        source = q.add_mutually_exclusive_group(required=True)
        source.add_argument("--seed", type=int, help="generator seed S (0 .. 2^64-1)")
        source.add_argument("--inputs", metavar="CASE_DIR", help="read the operand dumps")
        q.add_argument("--out", required=True, help="output folder")
        q.add_argument("--out-dtype", choices=sorted(FORMATS), default="bf16",
                       help="output dtype (default bf16)")
        q.add_argument("--rounding", choices=MODES, default=NEAREST_EVEN,
                       help="output rounding mode (default nearest-even)")
        q.add_argument("--element-rounding", choices=ELEMENT_MODES, default=NEAREST_AWAY,
                       help="rounding of generated operands' elements (default nearest-away)")
        _add_dist_option(q)
        _add_hardware_options(q)
        q.set_defaults(run=cmd_op)
    _add_quantize_parser(ops)


def _add_quantize_parser(ops) -> None:
    q = ops.add_parser("quantize", help="quantize case",
                       description="The MXINT8 quantizer alone (numerics.md section 4): "
                                   "quantize.input (BF16 [m]) and quantize.output (blocks of 32 "
                                   "along axis 0).")
    q.add_argument("--m", type=int, help="length of the input (with --seed)")
    source = q.add_mutually_exclusive_group(required=True)
    source.add_argument("--seed", type=int, help="generator seed S (0 .. 2^64-1)")
    source.add_argument("--inputs", metavar="CASE_DIR", help="read quantize.input")
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--element-rounding", choices=ELEMENT_MODES, default=NEAREST_AWAY,
                   help="MXINT8 element rounding (default nearest-away)")
    _add_dist_option(q)
    q.set_defaults(run=cmd_quantize)


def build_parser() -> argparse.ArgumentParser:
    """The command line (see each subcommand's --help)."""
    parser = argparse.ArgumentParser(
        prog="reference.py", description=__doc__.split("\n\n")[0],
        epilog="Every rounding is a correct rounding of the exact value (docs/numerics.md).")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_softmax_parser(commands)
    for name, run, what in (("exp-table", cmd_exp_table, "RNE_bf16(e^x)"),
                            ("recip-table", cmd_recip_table, "RNE_bf16(1/x)")):
        p = commands.add_parser(name, help=f"{what} for all 65,536 BF16 x",
                                description=f"Write 65,536 BF16 lines: line i is {what} for the "
                                            f"BF16 x with bit pattern i.")
        p.add_argument("--out", required=True, help="output file")
        p.set_defaults(run=run)
    _add_unit_parsers(commands)
    _add_op_parser(commands)
    p = commands.add_parser("rope", help="RoPE cos/sin tables",
                            description="Write OUT/rope/ with rope.{freq,cos,sin}_{bf16,fp32}, "
                                        "shape [1, P, d/2].")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--base", default="10000", help="base B, an exact number (default 10000)")
    p.add_argument("--head-dim", type=int, default=128, help="head dimension d (default 128)")
    p.add_argument("--max-pos", type=int, default=4096, help="positions P (default 4096)")
    p.set_defaults(run=cmd_rope)
    p = commands.add_parser("round", help="round exact numbers, print bits and flags",
                            description="Round exact values such as 1/3, -1e-50, 2^-134 or "
                                        "3*2^-8 and print the bits and status flags.")
    p.add_argument("--format", choices=sorted(FORMATS), default="bf16")
    p.add_argument("--mode", choices=MODES, default=NEAREST_EVEN)
    p.add_argument("values", nargs="+", metavar="NUM/DEN")
    p.set_defaults(run=cmd_round)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = args.run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if isinstance(written, int):                # a check's exit status
        return written
    if written is not None:
        print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
