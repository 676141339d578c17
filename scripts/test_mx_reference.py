"""Tests of the OCP MX reference (scripts/mx.py) against ml_dtypes, against second,
deliberately different computations, and against the worked examples of docs/numerics.md
(sections 4 and 8) and the checked-in MXINT8 golden cases.

Run: .venv/bin/python -m pytest scripts/test_mx_reference.py
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import dumps
import mx
import reference as ref
from reference import BF16, FP32, Flags

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
RNE, AWAY = ref.NEAREST_EVEN, ref.NEAREST_AWAY
BLOCK = mx.BLOCK

ML_DTYPES = {"mxfp8-e4m3": ml_dtypes.float8_e4m3fn, "mxfp8-e5m2": ml_dtypes.float8_e5m2,
             "mxfp6-e3m2": ml_dtypes.float6_e3m2fn, "mxfp6-e2m3": ml_dtypes.float6_e2m3fn,
             "mxfp4-e2m1": ml_dtypes.float4_e2m1fn}
FP_NAMES = list(ML_DTYPES)
ALL_NAMES = list(mx.FORMATS)
assert set(ALL_NAMES) == set(FP_NAMES) | {"mxint8"}


def seed_of(*names: str) -> int:
    """A fixed seed per parameter combination (str hashes vary between runs)."""
    return zlib.crc32(",".join(names).encode())


def pow2(e: int) -> Fraction:
    return Fraction(2) ** e


def ml_values(name: str, codes) -> np.ndarray:
    """float64 values of element codes decoded by ml_dtypes (mxint8: int8 / 64)."""
    codes = np.asarray(codes, dtype=np.uint8)
    if name == "mxint8":
        return codes.view(np.int8).astype(np.float64) / 64
    return codes.view(ML_DTYPES[name]).astype(np.float64)


def finite_magnitudes(name: str) -> list[Fraction]:
    """Every representable nonnegative finite element value, ascending."""
    fmt = mx.FORMATS[name]
    values = {mx.decode(fmt, c) for c in range(fmt.codes)}
    return sorted(v for v in values if isinstance(v, Fraction) and v >= 0)


# ---------------------------------------------------------------------------------------------
# The format table and decoding
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_NAMES)
def test_table_is_self_consistent(name):
    fmt = mx.FORMATS[name]
    finite = finite_magnitudes(name)
    assert finite[-1] == fmt.max_normal
    assert mx.floor_log2(fmt.max_normal) == fmt.emax
    assert mx.decode(fmt, mx.max_code(fmt)) == fmt.max_normal
    assert fmt.digits == {8: 66, 6: 50, 4: 34}[fmt.width]
    if fmt.kind == "fp":
        assert fmt.width == 1 + fmt.ebits + fmt.mbits
        info = ml_dtypes.finfo(ML_DTYPES[name])
        assert (info.nmant, info.minexp, float(info.max)) == (
            fmt.mbits, fmt.emin, float(fmt.max_normal))
    nan = {c for c in range(fmt.codes) if mx.decode(fmt, c) == "nan"}
    inf = {c for c in range(fmt.codes) if isinstance(mx.decode(fmt, c), float)}
    assert nan == set(fmt.nan_codes) and inf == set(fmt.inf_codes)
    assert fmt.has_inf == bool(inf)


@pytest.mark.parametrize("name", FP_NAMES)
def test_every_code_decodes_to_ml_dtypes_value(name):
    fmt = mx.FORMATS[name]
    codes = np.arange(fmt.codes, dtype=np.uint8)
    theirs = ml_values(name, codes)
    for code, value in zip(codes.tolist(), theirs.tolist()):
        ours = mx.decode(fmt, code)
        if ours == "nan":
            assert math.isnan(value), hex(code)
        elif isinstance(ours, float):
            assert ours == value, hex(code)
        else:
            assert ours == Fraction(value), hex(code)
            assert mx.is_negative_code(fmt, code) == (math.copysign(1, value) < 0), hex(code)


def test_mxint8_codes_are_twos_complement_sixty_fourths():
    for code in range(256):
        q = code - 256 if code >= 128 else code
        assert mx.decode("mxint8", code) == Fraction(q, 64)
    assert mx.decode("mxint8", 0x80) == -2


def test_every_scale_byte_matches_e8m0():
    theirs = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    for byte, value in enumerate(theirs.tolist()):
        ours = mx.decode_scale(byte)
        if byte == 0xFF:
            assert ours == "nan" and math.isnan(value)
        else:
            assert ours == Fraction(value) == pow2(byte - 127)


# ---------------------------------------------------------------------------------------------
# Element rounding against ml_dtypes (round to nearest even, within range)
# ---------------------------------------------------------------------------------------------

def in_range_samples(name: str, seed: int = 0) -> np.ndarray:
    """float32 values within +-max_normal: every grid point, every midpoint (ties), both
    neighbours of every midpoint, values below the smallest subnormal, random values (linear
    and log-spread), with both signs."""
    fmt = mx.FORMATS[name]
    grid = np.array([float(v) for v in finite_magnitudes(name)], dtype=np.float64)
    mids = (grid[1:] + grid[:-1]) / 2
    mids32 = mids.astype(np.float32)
    assert np.all(mids32 == mids)
    rng = np.random.default_rng(seed)
    top = float(fmt.max_normal)
    smallest = grid[1]
    parts = [grid.astype(np.float32), mids32,
             np.nextafter(mids32, np.float32(0)), np.nextafter(mids32, np.float32(np.inf)),
             np.float32(smallest) * np.array([0.25, 0.5, 0.75, 2 ** -20], dtype=np.float32),
             rng.uniform(0, top, 4000).astype(np.float32),
             np.exp2(rng.uniform(math.log2(smallest) - 3, math.log2(top), 4000)).astype(np.float32)]
    values = np.concatenate(parts)
    values = values[np.abs(values) <= top]
    return np.concatenate([values, -values])


@pytest.mark.parametrize("name", FP_NAMES)
def test_element_rounding_agrees_with_ml_dtypes_nearest_even(name):
    fmt = mx.FORMATS[name]
    values = in_range_samples(name)
    codes, flags = mx.round_elements(np.abs(values).astype(np.float64), np.signbit(values), fmt,
                                     RNE)
    theirs = values.astype(ML_DTYPES[name]).view(np.uint8)
    bad = np.flatnonzero(codes != theirs)
    assert bad.size == 0, [(float(values[i]), hex(codes[i]), hex(theirs[i])) for i in bad[:5]]
    assert not flags["overflow"].any()
    decoded = ml_values(name, codes)
    assert np.array_equal(flags["inexact"], decoded != values.astype(np.float64))


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("mode", [RNE, AWAY])
def test_vectorised_element_rounding_matches_the_fraction_definition(name, mode):
    """round_elements (float64, numpy) == round_element (Fraction) on a sample with ties,
    subnormals, overflow and saturation, flags included."""
    fmt = mx.FORMATS[name]
    rng = np.random.default_rng(1)
    sample = in_range_samples(name, seed=2)
    top = float(fmt.max_normal)
    above = np.array([top * 1.01, top * 1.2, 2 * top, 2.0 ** (fmt.emax + 1) * 0.999],
                     dtype=np.float64)
    grid = np.array([float(v) for v in finite_magnitudes(name)])
    ulp_top = grid[-1] - grid[-2]
    ties_above = np.array([top + ulp_top / 2, top + ulp_top * 0.5000001, top + ulp_top / 4])
    values = np.concatenate([rng.choice(sample, 1500), above, ties_above, -above,
                             np.array([0.0, -0.0])]).astype(np.float64)
    codes, flags = mx.round_elements(np.abs(values), np.signbit(values), fmt, mode)
    for i, v in enumerate(values.tolist()):
        code, f = mx.round_element(abs(Fraction(v)), math.copysign(1, v) < 0, fmt, mode)
        assert int(codes[i]) == code, (v, hex(codes[i]), hex(code))
        assert (bool(flags["inexact"][i]), bool(flags["overflow"][i]),
                bool(flags["underflow"][i])) == (f.inexact, f.overflow, f.underflow), v


def test_nearest_away_differs_from_even_only_on_ties():
    # mxfp4-e2m1: 2.5 lies halfway between 2 and 3; 0.25 halfway between 0 and 0.5
    assert mx.round_element(Fraction(5, 2), False, "mxfp4-e2m1", RNE)[0] == 0x4
    assert mx.round_element(Fraction(5, 2), False, "mxfp4-e2m1", AWAY)[0] == 0x5
    assert mx.round_element(Fraction(1, 4), True, "mxfp4-e2m1", RNE) == (
        0x8, Flags(inexact=True, underflow=True))
    assert mx.round_element(Fraction(1, 4), True, "mxfp4-e2m1", AWAY) == (
        0x9, Flags(inexact=True, underflow=True))
    # a carry into the normal range is not tiny: e2m3 just below 1 rounding up to 1.0
    code, flags = mx.round_element(Fraction(63, 64), False, "mxfp6-e2m3", RNE)
    assert code == 0x08 and flags == Flags(inexact=True)


def test_e4m3_tie_above_max_normal():
    # 464 lies halfway between 448 (1.110b * 2^8, even) and 480 (not a number in e4m3)
    assert mx.round_element(Fraction(464), False, "mxfp8-e4m3", RNE) == (0x7E, Flags(inexact=True))
    assert mx.round_element(Fraction(464), True, "mxfp8-e4m3", AWAY) == (
        0xFE, Flags(inexact=True, overflow=True))
    assert mx.round_element(Fraction(465), False, "mxfp8-e4m3", RNE) == (
        0x7E, Flags(inexact=True, overflow=True))


def test_tininess_is_detected_after_rounding():
    fmt = mx.FORMATS["mxfp8-e4m3"]             # emin = -6, 3 fraction bits
    # 1.1111 * 2^-7 rounds (4 significant bits, unbounded exponent) to 2^-6: not tiny, even
    # though it lies below 2^-6; on the subnormal grid (step 2^-9) it also rounds to 2^-6
    y = Fraction(31, 16) * pow2(-7)
    assert mx.round_element(y, False, fmt, RNE) == (0x08, Flags(inexact=True))
    # 1.1101 * 2^-7 rounds to 1.110 * 2^-7 unbounded: tiny; the subnormal grid gives 2^-6 - 2^-9
    y = Fraction(29, 16) * pow2(-7)
    assert mx.round_element(y, False, fmt, RNE) == (0x07, Flags(inexact=True, underflow=True))
    # exact subnormals raise nothing
    assert mx.round_element(3 * pow2(-9), True, fmt, RNE) == (0x83, Flags())


# ---------------------------------------------------------------------------------------------
# The quantizer: vectorised against the Fraction definition
# ---------------------------------------------------------------------------------------------

def random_blocks(name: str, rng: np.random.Generator) -> np.ndarray:
    """float64 blocks [n, 32] that reach every branch: ordinary BF16 values, ties of the
    element grid, amax at and around max_normal * 2^E, BF16 subnormals (E clamped at -127),
    huge values, zeros of both signs, inf and NaN blocks, and partial (zero-padded) blocks."""
    fmt = mx.FORMATS[name]
    grid = np.array([float(v) for v in finite_magnitudes(name)])
    mids = (grid[1:] + grid[:-1]) / 2
    top = float(fmt.max_normal)
    blocks = []
    for _ in range(12):                                     # ordinary BF16 values
        e = rng.integers(-20, 20)
        bits = rng.integers(0, 1 << 16, BLOCK)
        vals = mx.bf16_values(bits)
        vals = np.where(np.isfinite(vals), np.ldexp(np.frexp(vals)[0], rng.integers(e - 12, e, 32)),
                        1.0)
        blocks.append(vals)
    for _ in range(12):                                     # ties at a random E
        e = int(rng.integers(-30, 30))
        amax = rng.choice([top, top * 1.0625, top * 0.9375, top + (grid[-1] - grid[-2]) / 2,
                           2.0 ** fmt.emax, 2.0 ** (fmt.emax + 1) * 0.99])
        vals = rng.choice(np.concatenate([mids, grid]), BLOCK) * rng.choice([-1.0, 1.0], BLOCK)
        vals[0] = amax * rng.choice([-1.0, 1.0])
        blocks.append(np.ldexp(vals, e))
    blocks.append(np.ldexp(rng.integers(-127, 128, BLOCK).astype(np.float64), -133))
    blocks.append(np.ldexp(rng.integers(-127, 128, BLOCK).astype(np.float64), -149))
    blocks.append(np.ldexp(rng.uniform(-2, 2, BLOCK), 127))
    blocks.append(np.where(rng.integers(0, 2, BLOCK) == 1, -0.0, 0.0))
    for special in (np.inf, -np.inf, np.nan):
        vals = rng.uniform(-1, 1, BLOCK)
        vals[rng.integers(0, BLOCK)] = special
        blocks.append(vals)
    partial = np.ldexp(rng.uniform(-1, 1, BLOCK), 3)
    partial[7:] = 0.0
    blocks.append(partial)
    return np.array(blocks)



@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("rule", mx.RULES)
@pytest.mark.parametrize("mode", [RNE, AWAY])
def test_vectorised_quantizer_matches_the_fraction_definition(name, rule, mode):
    blocks = random_blocks(name, np.random.default_rng(seed_of(name, rule, mode)))
    scales, codes, flags = mx.quantize_array(blocks, name, rule, mode)
    for b, block in enumerate(blocks.tolist()):
        scale, expected, f = mx.quantize_block(block, name, rule, mode)
        assert int(scales[b]) == scale, (b, block)
        assert codes[b].tolist() == expected, (b, block)
        assert {n: bool(flags[n][b]) for n in mx.FLAG_NAMES} == f._asdict(), (b, block)


def test_inputs_of_one_block_need_not_be_given_as_floats():
    assert mx.quantize_block([Fraction(3, 2), "-0", 0.25], "mxfp4-e2m1") == \
        mx.quantize_block([1.5, -0.0, 0.25], "mxfp4-e2m1")
    scale, codes, flags = mx.quantize_block(["-inf", 1.0], "mxfp8-e4m3")
    assert (scale, set(codes), flags) == (0xFF, {0}, Flags(invalid=True))
    scale, codes, flags = mx.quantize_block([-0.0, 0.0, "-0"], "mxfp8-e5m2")
    assert (scale, codes[:3], flags) == (0x00, [0x80, 0x00, 0x80], Flags())
    scale, codes, _ = mx.quantize_block([-0.0, 0.0], "mxint8")
    assert (scale, codes[:2]) == (0x00, [0, 0])


# ---------------------------------------------------------------------------------------------
# Exhaustive over BF16 amax: E per rule against a second computation, the amax's own code
# ---------------------------------------------------------------------------------------------

def log_floor(a: Fraction) -> int:
    """floor(log2 a) from the float logarithm, corrected with exact comparisons."""
    e = math.floor(math.log2(a))
    while pow2(e) > a:
        e -= 1
    while pow2(e + 1) <= a:
        e += 1
    return e


def log_ceil(a: Fraction) -> int:
    e = math.ceil(math.log2(a))
    while pow2(e - 1) >= a:
        e -= 1
    while pow2(e) < a:
        e += 1
    return e


def expected_exponents(magnitudes: list[Fraction], fmt: mx.MxFormat, floors, ceils
                       ) -> dict[str, list[int]]:
    """E under each rule, before clamping, computed without mx: logs plus exact corrections;
    EVEN by adding half a unit in the (1 + mbits)-th place and truncating; RCEIL by searching
    the smallest E with a <= max_normal * 2^E."""
    even, rceil = [], []
    for a, f in zip(magnitudes, floors):
        unit = pow2(f - fmt.mbits)
        rounded = math.floor(a / unit + Fraction(1, 2)) * unit
        even.append(log_floor(rounded) - fmt.emax)
        e = math.ceil(math.log2(a) - math.log2(fmt.max_normal))
        while a <= fmt.max_normal * pow2(e - 1):
            e -= 1
        while a > fmt.max_normal * pow2(e):
            e += 1
        rceil.append(e)
    return {"floor": [f - fmt.emax for f in floors], "ceil": [c - fmt.emax for c in ceils],
            "even": even, "rceil": rceil}


@pytest.fixture(scope="module")
def bf16_amax():
    """All 65,536 BF16 patterns as float64 and their positive finite magnitudes' exact
    floor/ceil log2 (computed once for every format)."""
    values = mx.bf16_values(np.arange(1 << 16, dtype=np.uint16))
    finite = np.isfinite(values) & (values != 0)
    mags = [Fraction(v) for v in np.abs(values[finite]).tolist()]
    return values, finite, mags, [log_floor(a) for a in mags], [log_ceil(a) for a in mags]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_exhaustive_bf16_amax(name, bf16_amax):
    values, finite, mags, floors, ceils = bf16_amax
    fmt = mx.FORMATS[name]
    # block j: [x_j, -0.75 x_j, 0.5 x_j, 0, ...] (exact in float64): amax = |x_j|
    blocks = np.zeros((values.size, BLOCK))
    blocks[:, 0], blocks[:, 1], blocks[:, 2] = values, -0.75 * values, 0.5 * values
    expected_e = expected_exponents(mags, fmt, floors, ceils)
    nonfinite = ~np.isfinite(values)
    zero = values == 0
    for rule in mx.RULES:
        scales, codes, flags = mx.quantize_array(blocks, fmt, rule)
        assert np.all(scales[nonfinite] == 0xFF) and np.all(codes[nonfinite] == 0)
        assert np.all(flags["invalid"] == nonfinite)
        assert np.all(scales[zero] == 0x00) and not flags["inexact"][zero].any()
        want = np.clip(np.array(expected_e[rule]), -127, 127) + 127
        got = scales[finite].astype(np.int64)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (rule, [(float(mags[i]), got[i], want[i]) for i in bad[:5]])

        # the elements: y = x / 2^E exactly; within range they are ml_dtypes' RNE (or mxint8's
        # round-half-away); above max_normal they saturate, with overflow exactly when the
        # rounded value (unbounded grid) exceeds max_normal
        e = scales[finite].astype(np.int64) - 127
        y = np.ldexp(blocks[finite][:, :3], -e[:, None])
        c = codes[finite][:, :3]
        top = float(fmt.max_normal)
        if fmt.kind == "fp":
            in_range = np.abs(y) <= top
            theirs = y.astype(np.float32).astype(ML_DTYPES[name]).view(np.uint8)
            assert np.array_equal(c[in_range], theirs[in_range]), rule
            saturated = np.where(y < 0, fmt.sign_bit, 0) | mx.max_code(fmt)
            assert np.array_equal(c[~in_range], saturated[~in_range]), rule
            ulp = 2.0 ** (fmt.emax - fmt.mbits)
            rounded = np.round(np.abs(y) / ulp) * ulp           # numpy rounds ties to even
            overflow = (~in_range & (rounded > top)).any(axis=1)
        else:
            q = np.floor(np.abs(y) * 64 + 0.5)
            assert np.array_equal(c.view(np.int8).astype(np.float64),
                                  np.sign(y) * np.minimum(q, 127)), rule
            overflow = (q > 127).any(axis=1)
        assert np.array_equal(flags["overflow"][finite], overflow), rule
        changed = (ml_values(name, c) != y).any(axis=1)
        assert np.array_equal(flags["inexact"][finite], changed), rule
        if rule == "rceil":
            # never saturates, except through the clamp of E at 127 (mxint8 only: the BF16
            # amax near 2^128 needs E = 128 there)
            clamped = np.array(expected_e[rule]) > 127
            assert np.array_equal(flags["overflow"][finite], clamped)
            assert clamped.any() == (name == "mxint8")
            assert np.all(np.abs(y[~clamped, 0]) <= top)
        if rule in ("ceil", "even"):
            # never saturates but through the clamp (mxint8 at BF16 0x7f7f / 0xff7f), except
            # even in e4m3, whose max normal 1.75 * 2^8 is not an all-ones significand
            over = np.flatnonzero(flags["overflow"]).tolist()
            if name == "mxint8":
                assert over == [0x7F7F, 0xFF7F], rule
            elif rule == "ceil" or name != "mxfp8-e4m3":
                assert over == [], rule
            else:
                assert over, rule


# ---------------------------------------------------------------------------------------------
# Worked examples: docs/numerics.md sections 4 and 8
# ---------------------------------------------------------------------------------------------

def mxint8_block(values, mode=AWAY):
    return mx.quantize_block(values, "mxint8", "floor", mode)


def test_section4_examples():
    scale, codes, flags = mxint8_block([1.0, 0.5, -0.25])
    assert scale == 0x7F and codes[:4] == [64, 32, 0xF0, 0] and flags == Flags()
    scale, codes, flags = mxint8_block([3.0, Fraction(1, 128) + Fraction(1, 256)])
    assert scale == 0x80 and codes[:2] == [96, 0]
    assert flags == Flags(inexact=True, underflow=True)
    assert mxint8_block([1.0, Fraction(1, 128)])[1][:2] == [64, 1]
    assert mxint8_block([1.0, Fraction(1, 128)], RNE)[1][:2] == [64, 0]
    scale, codes, flags = mxint8_block([1.9921875])
    assert scale == 0x7F and codes[0] == 127 and flags == Flags(inexact=True, overflow=True)
    scale, codes, _ = mxint8_block([-1.9921875])
    assert codes[0] == 0x81                                 # -127: -128 is never produced
    assert mxint8_block(["nan", 1.0])[0] == 0xFF
    assert mxint8_block([0.0])[0] == 0x00
    # section 4: a block of BF16 subnormals has its E clamped to -127
    scale, codes, flags = mxint8_block([3 * 2.0 ** -133, 2.0 ** -140])
    assert scale == 0x00 and codes[:2] == [3, 0]        # 3 * 2^-133 = (3/64) * 2^-127
    assert flags == Flags(inexact=True, underflow=True)
    scale, codes, _ = mxint8_block([2.0 ** -126])
    assert scale == 0x01 and codes[0] == 64


def test_dump_format_example_line():
    line = "7f000000000000000000000000000000000000000000000000000000000000f040"
    scale, codes = mx.decode_line(line, "mxint8")
    assert (scale, codes[0], codes[1], set(codes[2:])) == (0x7F, 64, 0xF0, {0})
    assert mx.encode_line(*mxint8_block([1.0, -0.25])[:2], "mxint8") == line


# (values, E per rule, (scale byte, codes of the three values, flags) under floor and rceil,
#  the floor block's dump line): the numbers stated in docs/numerics.md section 8.4
WORKED = {
    "mxint8": ([Fraction(255, 128), Fraction(-65, 128), Fraction(3, 256)],
               {"floor": 0, "ceil": 1, "even": 1, "rceil": 1},
               (0x7F, [0x7F, 0xDF, 0x01], {"inexact", "overflow"}),
               (0x80, [0x40, 0xF0, 0x00], {"inexact", "underflow"}),
               "7f000000000000000000000000000000000000000000000000000000000001df7f"),
    "mxfp8-e4m3": ([Fraction(15, 4), Fraction(17, 2048), Fraction(-3, 2 ** 17)],
                   {"floor": -7, "ceil": -6, "even": -7, "rceil": -6},
                   (0x78, [0x7E, 0x38, 0x82], {"inexact", "overflow", "underflow"}),
                   (0x79, [0x77, 0x30, 0x81], {"inexact", "underflow"}),
                   "78000000000000000000000000000000000000000000000000000000000082387e"),
    "mxfp8-e5m2": ([Fraction(240), Fraction(9, 8), Fraction(-3, 2 ** 25)],
                   {"floor": -8, "ceil": -7, "even": -7, "rceil": -7},
                   (0x77, [0x7B, 0x5C, 0x82], {"inexact", "overflow", "underflow"}),
                   (0x78, [0x78, 0x58, 0x81], {"inexact", "underflow"}),
                   "770000000000000000000000000000000000000000000000000000000000825c7b"),
    "mxfp6-e3m2": ([Fraction(-29, 32), Fraction(9, 64), Fraction(-1, 1024)],
                   {"floor": -5, "ceil": -4, "even": -5, "rceil": -4},
                   (0x7A, [0x3F, 0x14, 0x20], {"inexact", "underflow"}),
                   (0x7B, [0x3B, 0x10, 0x20], {"inexact", "underflow"}),
                   "7a00000000000000000000000000000000000000000002053f"),
    "mxfp6-e2m3": ([Fraction(63, 32), Fraction(17, 64), Fraction(-3, 64)],
                   {"floor": -2, "ceil": -1, "even": -1, "rceil": -1},
                   (0x7D, [0x1F, 0x08, 0x22], {"inexact", "overflow", "underflow"}),
                   (0x7E, [0x18, 0x04, 0x21], {"inexact", "underflow"}),
                   "7d00000000000000000000000000000000000000000002221f"),
    "mxfp4-e2m1": ([Fraction(7, 4), Fraction(-5, 8), Fraction(1, 16)],
                   {"floor": -2, "ceil": -1, "even": -1, "rceil": -1},
                   (0x7D, [0x7, 0xC, 0x0], {"inexact", "overflow", "underflow"}),
                   (0x7E, [0x6, 0xA, 0x0], {"inexact", "underflow"}),
                   "7d000000000000000000000000000000c7"),
}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_worked_example(name):
    values, exponents, floor, rceil, line = WORKED[name]
    fmt = mx.FORMATS[name]
    amax = max(abs(v) for v in values)
    for rule, e in exponents.items():
        assert mx.scale_exponent(amax, fmt, rule) == e, rule
        assert mx.quantize_block(values, fmt, rule)[0] == e + 127, rule
    for rule, (scale, codes, flags) in (("floor", floor), ("rceil", rceil)):
        got_scale, got_codes, got_flags = mx.quantize_block(values, fmt, rule)
        assert (got_scale, got_codes[:3], set(got_flags.names())) == (scale, codes, flags), rule
        assert set(got_codes[3:]) == {0}
        vector = mx.quantize_array(np.array([[float(v) for v in values] + [0.0] * 29]), fmt,
                                   rule)
        assert int(vector[0][0]) == scale and vector[1][0, :3].tolist() == codes
    got_scale, got_codes, _ = mx.quantize_block(values, fmt, "floor")
    assert mx.encode_line(got_scale, got_codes, fmt) == line
    # every value is a BF16 number, so this is also what the quantize op sees
    for v in values:
        assert ref.round_fraction(v, BF16)[1] == Flags()


# ---------------------------------------------------------------------------------------------
# Dump lines
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL_NAMES)
def test_dump_lines_scalar_and_vectorised_agree(name):
    fmt = mx.FORMATS[name]
    rng = np.random.default_rng(3)
    scales = rng.integers(0, 256, 50).astype(np.uint8)
    codes = rng.integers(0, fmt.codes, (50, BLOCK)).astype(np.uint8)
    text = mx.lines_text(scales, codes, fmt)
    lines = text.split("\n")[:-1]
    assert all(len(line) == fmt.digits for line in lines)
    for line, s, c in zip(lines, scales.tolist(), codes.tolist()):
        assert line == mx.encode_line(s, c, fmt)
        assert mx.decode_line(line, fmt) == (s, c)
        word = int(line, 16)
        assert word >> (BLOCK * fmt.width) == s
        assert all((word >> (fmt.width * i)) & (fmt.codes - 1) == c[i] for i in range(BLOCK))
    s2, c2 = mx.parse_lines(lines, fmt)
    assert np.array_equal(s2, scales) and np.array_equal(c2, codes)
    # element 0 is the least significant: its code is the last hex digit(s) for w = 8, 4
    if fmt.width in (4, 8):
        assert lines[0].endswith(f"{codes[0, 0]:0{fmt.width // 4}x}")


def test_mxint8_layout_is_todays_golden_layout():
    path = GOLDEN / "ops" / "dot_m-33_seed-0" / "dot.a"
    scales, elements = dumps.read_mxint8(path)
    ours_s, ours_c = mx.read_mx(path, "mxint8")
    assert np.array_equal(scales, ours_s) and np.array_equal(elements.view(np.uint8), ours_c)
    assert mx.lines_text(ours_s, ours_c, "mxint8") == path.read_text()


def test_reader_rejects_a_wrong_width(tmp_path):
    path = tmp_path / "x"
    path.write_text("7f" + "0" * 48 + "\n")                # a 6-bit line read as 4-bit
    with pytest.raises(ValueError, match="expected 34 hex digits"):
        mx.read_mx(path, "mxfp4-e2m1")


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------

def fraction_dot(blocks_a, blocks_b, fa, fb, out, mode):
    """The product through ml_dtypes' decoding: every element value as an exact Fraction of
    the float64 ml_dtypes gives, summed exactly, rounded by reference.py.  Only for blocks
    without specials."""
    total = Fraction(0)
    for (sa, ca), (sb, cb) in zip(blocks_a, blocks_b):
        va, vb = ml_values(fa, ca), ml_values(fb, cb)
        total += sum(Fraction(x) * Fraction(y) for x, y in zip(va.tolist(), vb.tolist())) * \
            pow2(sa + sb - 254)
    return ref.round_fraction(total, out, mode)


def random_operand(name, shape, rng, specials=False):
    """(scales, codes) of a block grid: scales around 127 (so sums mix magnitudes), finite
    codes; with `specials`, a few NaN/inf codes and 0xff scales."""
    fmt = mx.FORMATS[name]
    finite = [c for c in range(fmt.codes) if c not in fmt.nan_codes | fmt.inf_codes]
    scales = rng.integers(110, 145, shape).astype(np.uint8)
    codes = rng.choice(finite, tuple(shape) + (BLOCK,)).astype(np.uint8)
    if specials:
        scales.ravel()[rng.integers(0, scales.size)] = 0xFF
        bad = sorted(fmt.nan_codes | fmt.inf_codes) or [0]
        flat = codes.reshape(-1)
        flat[rng.integers(0, flat.size, 3)] = rng.choice(bad, 3)
    return scales, codes


PAIRS = list(itertools.product(ALL_NAMES, repeat=2))


@pytest.mark.parametrize("fa,fb", PAIRS, ids=[f"{a}*{b}" for a, b in PAIRS])
def test_products_agree_with_fraction_evaluation(fa, fb):
    rng = np.random.default_rng(seed_of(fa, fb))
    out, mode = [(BF16, RNE), (FP32, ref.TOWARD_NEG), (BF16, ref.TOWARD_ZERO)][
        rng.integers(0, 3)]
    # dot: 3 blocks
    a, b = random_operand(fa, (3,), rng), random_operand(fb, (3,), rng)
    bits, flags = mx.dot(a, b, fa, fb, out, mode)
    pairs_a, pairs_b = list(zip(a[0].tolist(), a[1].tolist())), list(zip(b[0].tolist(),
                                                                         b[1].tolist()))
    assert (int(bits), flags[0]) == fraction_dot(pairs_a, pairs_b, fa, fb, out, mode)
    assert (int(bits), flags[0]) == mx.dot_blocks(pairs_a, pairs_b, fa, fb, out, mode)
    # gevm [2 blocks] x [2 blocks, 3] and gemm [2, 2 blocks] x [2 blocks, 3], specials included
    for op, shape_a, shape_b in (("gevm", (2,), (2, 3)), ("gemm", (2, 2), (2, 3))):
        a = random_operand(fa, shape_a, rng, specials=True)
        b = random_operand(fb, shape_b, rng, specials=True)
        bits, flags = mx.product(op, a, b, fa, fb, out, mode)
        flat = bits.reshape(-1).tolist()
        for index, o in enumerate(np.ndindex(bits.shape)):
            if op == "gevm":
                blocks_a = list(zip(a[0].tolist(), a[1].tolist()))
                blocks_b = list(zip(b[0][:, o[0]].tolist(), b[1][:, o[0]].tolist()))
            else:
                blocks_a = list(zip(a[0][o[0]].tolist(), a[1][o[0]].tolist()))
                blocks_b = list(zip(b[0][:, o[1]].tolist(), b[1][:, o[1]].tolist()))
            expected = mx.dot_blocks(blocks_a, blocks_b, fa, fb, out, mode)
            assert (flat[index], flags[index]) == expected, (op, o)


def one_block(name, scale, codes):
    """(scales [1], codes [1, 32]) from a few leading codes."""
    full = np.zeros((1, BLOCK), dtype=np.uint8)
    full[0, :len(codes)] = codes
    return np.array([scale], dtype=np.uint8), full


E5M2, E4M3 = "mxfp8-e5m2", "mxfp8-e4m3"
ONE_E5M2, ONE_E4M3 = 0x3C, 0x38                    # 1.0


@pytest.mark.parametrize("a_codes,b_codes,a_scale,expected", [
    ([0x7F], [ONE_E4M3], 127, (0x7FC0, Flags())),                 # NaN code (e4m3 both)
    ([0xFF], [ONE_E4M3], 127, (0x7FC0, Flags())),
    ([0x7C], [0x00], 127, (0x7FC0, Flags(invalid=True))),          # inf * 0
    ([0x7C, 0xFC], [ONE_E4M3, ONE_E4M3], 127, (0x7FC0, Flags(invalid=True))),   # inf - inf
    ([0x7C, 0x7B], [0xB8, ONE_E4M3], 127, (0xFF80, Flags())),      # +inf * -1 = -inf
    ([0x7C], [ONE_E4M3], 0xFF, (0x7FC0, Flags())),                 # 0xff scale
    ([0x7C], [0x00], 0xFF, (0x7FC0, Flags())),                     # NaN scale wins over inf*0
    ([ONE_E5M2, 0xBC], [ONE_E4M3, ONE_E4M3], 127, (0x0000, Flags())),   # exact zero is +0
    ([0x80], [ONE_E4M3], 127, (0x0000, Flags())),                  # -0 * 1 is +0 too
])
def test_product_specials(a_codes, b_codes, a_scale, expected):
    a = one_block(E5M2, a_scale, a_codes)
    b = one_block(E4M3, 127, b_codes)
    assert mx.dot(a, b, E5M2, E4M3)[0].item() == expected[0]
    assert mx.dot(a, b, E5M2, E4M3)[1] == [expected[1]]
    blocks_a = list(zip(a[0].tolist(), a[1].tolist()))
    blocks_b = list(zip(b[0].tolist(), b[1].tolist()))
    assert mx.dot_blocks(blocks_a, blocks_b, E5M2, E4M3) == expected


def test_product_zero_sum_is_positive_in_every_mode():
    a = one_block(E5M2, 127, [ONE_E5M2, 0xBC])              # 1, -1
    b = one_block(E5M2, 127, [ONE_E5M2, ONE_E5M2])
    for mode in ref.MODES:
        assert mx.dot(a, b, E5M2, E5M2, BF16, mode) == (np.uint16(0), [Flags()])


def test_product_overflow_and_the_wide_path():
    # 32 * 57344^2 * 2^(2*127) overflows FP32; the e5m2 x e5m2 block dot needs > 64 bits
    a = one_block(E5M2, 0xFE, [0x7B] * BLOCK)
    bits, flags = mx.dot(a, a, E5M2, E5M2, FP32)
    assert bits.item() == 0x7F800000 and flags == [Flags(inexact=True, overflow=True)]
    bits, flags = mx.dot(a, a, E5M2, E5M2, FP32, ref.TOWARD_ZERO)
    assert bits.item() == 0x7F7FFFFF
    a = one_block(E5M2, 127, [0x7B] * BLOCK)             # 32 * 57344^2 = 49 * 2^31
    bits, flags = mx.dot(a, a, E5M2, E5M2, FP32)
    exact = 32 * Fraction(57344) ** 2
    assert (bits.item(), flags[0]) == ref.round_fraction(exact, FP32)


def test_nan_scale_poisons_only_its_own_outputs():
    rng = np.random.default_rng(5)
    vector = random_operand("mxfp4-e2m1", (2,), rng)
    matrix = random_operand("mxfp6-e3m2", (2, 4), rng)
    matrix[0][1, 2] = 0xFF
    bits, _ = mx.gevm(vector, matrix, "mxfp4-e2m1", "mxfp6-e3m2")
    assert [b == 0x7FC0 for b in bits.tolist()] == [False, False, True, False]
    inp = random_operand("mxint8", (3, 2), rng)
    inp[0][1, 0] = 0xFF
    other = random_operand("mxfp8-e4m3", (2, 2), rng)
    bits, _ = mx.gemm(inp, other, "mxint8", "mxfp8-e4m3")
    assert (bits == 0x7FC0).tolist() == [[False, False], [True, True], [False, False]]


def test_mxint8_products_equal_the_existing_reference():
    rng = np.random.default_rng(6)
    inp, other = random_operand("mxint8", (4, 3), rng), random_operand("mxint8", (3, 5), rng)
    ours, _ = mx.gemm(inp, other, "mxint8", "mxint8", BF16, RNE)
    theirs = ref.gemm((inp[0], inp[1].view(np.int8)), (other[0], other[1].view(np.int8)))
    assert np.array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# Re-deriving case folders
# ---------------------------------------------------------------------------------------------

GOLDEN_OP_CASES = [case for case in sorted(p.parent for p in GOLDEN.rglob("manifest.json"))
                   if json.loads((case / "manifest.json").read_text())["op"]
                   in ("quantize", "dot", "gevm", "gemm")]


def test_there_are_golden_op_cases():
    assert len(GOLDEN_OP_CASES) >= 10


@pytest.mark.parametrize("case", GOLDEN_OP_CASES,
                         ids=[str(c.relative_to(GOLDEN)) for c in GOLDEN_OP_CASES])
def test_golden_op_cases_are_rederived(case):
    """Every quantize / dot / gevm / gemm case of golden/: the MXINT8 ones (today's quantizer
    and products are `mxint8` + `floor` (+ nearest-away), read from manifests without MX keys)
    and the MX ones."""
    report = mx.check_case(case)
    assert not report.mismatches, report.mismatches
    assert report.compared


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "mx.py"), *args],
                          capture_output=True, text=True)


def test_cli_rederive_pass_and_first_difference(tmp_path):
    case = GOLDEN / "ops" / "gevm_m-70_k-9_seed-0"
    result = run_cli("rederive", str(case))
    assert result.returncode == 0 and result.stdout.startswith("PASS"), result.stdout
    broken = tmp_path / case.name
    shutil.copytree(case, broken)
    lines = (broken / "gevm.output").read_text().split("\n")
    lines[4] = f"{int(lines[4], 16) ^ 1:04x}"
    (broken / "gevm.output").write_text("\n".join(lines))
    result = run_cli("rederive", str(broken))
    assert result.returncode == 1
    assert "gevm.output: line 5:" in result.stdout, result.stdout


def write_mx_case(folder: Path, op: str, params: dict, files: dict) -> None:
    """A case folder in the manifest conventions `sim` uses for MX formats: files maps a
    name to (dtype, shape, block_axis or None, text, flag counts or None)."""
    folder.mkdir(parents=True)
    entries = {}
    for name, (dtype, shape, axis, text, flags) in files.items():
        (folder / name).write_text(text)
        entry = {"dtype": dtype, "shape": list(shape)}
        if axis is not None:
            entry.update(block_axis=axis, block_size=BLOCK)
        entry.update(lines=text.count("\n"), sha256=hashlib.sha256(text.encode()).hexdigest())
        if flags is not None:
            entry["flags"] = flags
        entries[name] = entry
    manifest = {"format_version": 1, "op": op, "tool": "sim", "tool_version": "0.1.0",
                "case": folder.name, "profile": "reference", "params": params, "files": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_rederive_reads_mx_manifests(tmp_path):
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 1 << 16, 70).astype(np.uint16)
    bits[rng.integers(0, 70, 60)] &= 0xBFFF                 # mostly finite, spread exponents
    scales, codes, flags = mx.quantize_bf16(bits, "mxfp6-e2m3", "even", AWAY)
    write_mx_case(tmp_path / "q", "quantize",
                  {"m": 70, "element_rounding": AWAY, "mx_format": "mxfp6-e2m3",
                   "scale_rule": "even"},
                  {"quantize.input": ("bf16", (70,), None, dumps.bf16_text(bits), None),
                   "quantize.output": ("mxfp6-e2m3", (70,), 0,
                                       mx.lines_text(scales, codes, "mxfp6-e2m3"),
                                       mx.flag_counts(flags))})
    assert not mx.check_case(tmp_path / "q").mismatches
    inp = random_operand("mxfp8-e4m3", (9, 3), rng, specials=True)
    other = random_operand("mxfp4-e2m1", (3, 5), rng, specials=True)
    inp[1][:, -1, 6:] = 0                                   # k = 70: padding past 70 is zero
    other[1][-1, :, 6:] = 0
    out, flags = mx.gemm(inp, other, "mxfp8-e4m3", "mxfp4-e2m1", FP32, ref.TOWARD_POS)
    write_mx_case(tmp_path / "g", "gemm",
                  {"m": 9, "k": 70, "n": 5, "out_dtype": "fp32", "rounding": ref.TOWARD_POS,
                   "mx_format": "mxfp8-e4m3,mxfp4-e2m1", "scale_rule": "floor"},
                  {"gemm.input": ("mxfp8-e4m3", (9, 70), 1, mx.lines_text(*inp, "mxfp8-e4m3"),
                                  None),
                   "gemm.other": ("mxfp4-e2m1", (70, 5), 0, mx.lines_text(*other, "mxfp4-e2m1"),
                                  None),
                   "gemm.output": ("fp32", (9, 5), None, dumps.fp32_text(out),
                                   mx.flag_counts(flags))})
    report = mx.check_case(tmp_path / "g")
    assert not report.mismatches and report.compared == ["gemm.output"]
    # a changed output word is found at its line; a wrong mx_format param is reported
    text = (tmp_path / "g" / "gemm.output").read_text().split("\n")
    text[7] = f"{int(text[7], 16) ^ 0x10:08x}"
    (tmp_path / "g" / "gemm.output").write_text("\n".join(text))
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    manifest["params"]["mx_format"] = "mxfp4-e2m1,mxfp8-e4m3"
    (tmp_path / "g" / "manifest.json").write_text(json.dumps(manifest))
    mismatches = mx.check_case(tmp_path / "g").mismatches
    assert any("line 8" in m for m in mismatches) and any("mx_format" in m for m in mismatches)
    # nonzero padding is refused
    inp[1][0, -1, 10] = 1
    (tmp_path / "g" / "gemm.input").write_text(mx.lines_text(*inp, "mxfp8-e4m3"))
    with pytest.raises(ValueError, match="padding"):
        mx.check_case(tmp_path / "g")


def test_product_worked_example():
    """docs/numerics.md section 8.5: the e4m3 and e2m1 floor blocks of section 8.4, dotted."""
    a = mx.quantize_block(WORKED["mxfp8-e4m3"][0], "mxfp8-e4m3")[:2]
    b = mx.quantize_block(WORKED["mxfp4-e2m1"][0], "mxfp4-e2m1")[:2]
    assert (a[0], a[1][:3], b[0], b[1][:3]) == (0x78, [0x7E, 0x38, 0x82], 0x7D, [0x7, 0xC, 0x0])
    args = ([a], [b], "mxfp8-e4m3", "mxfp4-e2m1")
    assert mx.dot_blocks(*args) == (0x40A8, Flags(inexact=True))
    assert mx.dot_blocks(*args, BF16, ref.TOWARD_ZERO) == (0x40A7, Flags(inexact=True))
    assert mx.dot_blocks(*args, FP32) == (0x40A7E000, Flags())
    vector = tuple(np.array([x], dtype=np.uint8) for x in (a[0], a[1]))
    other = tuple(np.array([x], dtype=np.uint8) for x in (b[0], b[1]))
    assert mx.dot(vector, other, "mxfp8-e4m3", "mxfp4-e2m1")[0].item() == 0x40A8
