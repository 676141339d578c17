"""Tests of the unit models (scripts/units.py) against the documented examples and special values
of docs/microarchitecture.md, plus properties that can fail: the exact units against reference.py's
correct roundings, the fp32 register against numpy, wide fixed point against the exact sum, Newton
against the correct reciprocal, and lut-check on good and broken ROM files.

Run: .venv/bin/python -m pytest scripts/test_units.py
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import dists
import dumps
import lutcheck
import reference as ref
import units
from reference import BF16, FP32, Decoded, Flags

ROOT = Path(__file__).resolve().parent.parent
SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))
# No silent passes: a test that needs the simulator fails without it, unless SIM_SKIP lists `sim`.
needs_sim = pytest.mark.skipif(
    not SIM.is_file() and "sim" in os.environ.get("SIM_SKIP", "").split(","),
    reason=f"SIM_SKIP=sim and no simulator binary at {SIM}")

INEXACT = Flags(inexact=True)
ALL_BF16 = range(1 << 16)


def frac(bits: int, fmt=BF16) -> Fraction:
    return ref.to_fraction(bits, fmt)


def bf16(value) -> int:
    """BF16 bits of an exactly representable value."""
    bits, flags = ref.round_fraction(Fraction(value), BF16)
    assert not flags.inexact, value
    return bits


def value(x) -> Decoded:
    """An exact addend from a number (Fraction, int or str) or 'nan' / '+inf' / '-inf' / '-0'."""
    if x in ("nan", "+inf", "-inf", "-0"):
        return {"nan": units.NAN, "+inf": Decoded("inf", False), "-inf": Decoded("inf", True),
                "-0": Decoded("finite", True, 0, 0)}[x]
    x = Fraction(x)
    assert x.denominator & (x.denominator - 1) == 0, "addends are dyadic"
    exp = -(x.denominator.bit_length() - 1)
    return Decoded("finite", x < 0, abs(x.numerator), exp)


def flags_of(*names: str) -> Flags:
    return Flags(**{name: True for name in names})


def finite_patterns():
    """Every finite BF16 bit pattern."""
    return [b for b in ALL_BF16 if ref.decode(b, BF16).kind == "finite"]


# ---------------------------------------------------------------------------------------------
# exp, exact
# ---------------------------------------------------------------------------------------------

def test_exact_exp_examples():
    assert units.exact_exp(0x3F80) == (0x402E, INEXACT)                  # e^1
    assert units.exact_exp(0x42B1)[0] == 0x7F4D                          # 88.5 still finite
    assert units.exact_exp(0x42B2) == (0x7F80, flags_of("inexact", "overflow"))   # 89.0
    assert units.exact_exp(bf16(-92.5)) == (0x0001, flags_of("inexact", "underflow"))
    assert units.exact_exp(bf16(-93)) == (0x0000, flags_of("inexact", "underflow"))
    for bits, result in ((0x7FC0, 0x7FC0), (0xFFC1, 0x7FC0), (0x7F80, 0x7F80), (0xFF80, 0),
                         (0x0000, 0x3F80), (0x8000, 0x3F80)):
        assert units.exact_exp(bits) == (result, Flags())


def test_exact_exp_flags_over_all_inputs():
    """The documented flag pattern: inexact for every finite nonzero x, overflow exactly from
    89.0 up, underflow exactly for subnormal results and +0 from a finite x."""
    for bits in finite_patterns():
        result, flags = units.exact_exp(bits)
        if bits & 0x7FFF == 0:
            assert flags == Flags()
            continue
        tiny = result & 0x7F80 == 0
        assert flags == Flags(inexact=True, overflow=result == 0x7F80, underflow=tiny), hex(bits)
        assert (result == 0x7F80) == (bits < 0x8000 and bits >= 0x42B2), hex(bits)


# ---------------------------------------------------------------------------------------------
# exp, pow2-lut
# ---------------------------------------------------------------------------------------------

NARROW_EXP = units.load_hardware("narrow").exp


def test_log2e_constant_and_fixed_point():
    assert units.LOG2_E == Fraction(struct.unpack(">d", bytes.fromhex("3FF71547652B82FE"))[0])
    assert units.log2e_fixed(16) == 94548              # what sim export-lut states for narrow
    assert units.log2e_fixed(52) == 6497320848556798   # exact from 52 bits on
    assert units.log2e_fixed(8) == 369                 # 369.33


@pytest.mark.parametrize("table_bits", [1, 2, 6])
def test_pow2_table_is_the_exact_rounding(table_bits):
    """T[j] = round(2^(W + j/2^b)) checked with integers only: (2T - 1)^(2^b) < 2^((W+1) 2^b + j)
    < (2T + 1)^(2^b) (no tie can occur; the ends are exact powers)."""
    n = 1 << table_bits
    for entry_bits in range(8, 31):
        table = units.pow2_table(table_bits, entry_bits)
        assert len(table) == n + 1
        assert (table[0], table[n]) == (1 << entry_bits, 1 << (entry_bits + 1))
        for j, t in enumerate(table[1:n], start=1):
            power = 1 << ((entry_bits + 1) * n + j)
            assert (2 * t - 1) ** n < power < (2 * t + 1) ** n, (table_bits, entry_bits, j)


def test_narrow_pow2_table_matches_documented_rom_words():
    # the first and last words of the 14-bit ROM (W + 2 bits: the last entry is 2^13)
    table = units.pow2_table(6, 12)
    assert table[:4] == (0x1000, 0x102D, 0x105A, 0x1087)
    assert table[64] == 0x2000 and max(table).bit_length() == 12 + 2


def test_pow2_lut_special_inputs_and_saturation():
    for bits, result in ((0x7FC0, 0x7FC0), (0x7FFF, 0x7FC0), (0x7F80, 0x7F80), (0xFF80, 0),
                         (0x0000, 0x3F80), (0x8000, 0x3F80)):
        assert NARROW_EXP(bits) == (result, Flags())
    for x in (128, 256, 2 ** 100):
        assert NARROW_EXP(bf16(x)) == (0x7F80, flags_of("inexact", "overflow"))
        assert NARROW_EXP(bf16(-x)) == (0, flags_of("inexact", "underflow"))
    # 127.5 (e = 6) does not saturate: 2^(183 + ...) overflows in the final rounding instead
    assert NARROW_EXP(bf16(127.5)) == (0x7F80, flags_of("inexact", "overflow"))


def test_pow2_lut_worked_values():
    # x = 1: t = 94548, i = 1, f = 29012, j = 28, r = 340; T[28] = round(4096 * 2^(28/64)) =
    # 5547, T[29] = 5607: y = 5547 + floor(60 * 340 / 1024) = 5566, 5566 * 2^-11 = 2.7178 -> e
    assert units.pow2_table(6, 12)[28:30] == (5547, 5607)
    assert NARROW_EXP(0x3F80) == (0x402E, INEXACT)
    assert ref.round_dyadic(5566, -11, BF16) == (0x402E, INEXACT)
    # x = -2^-133 (0x8001): t = -1, i = -1, j = 63, r = 1023:
    # y = T[63] + floor((8192 - T[63]) * 1023 / 1024), just below 8192: rounds to 1.0
    t63 = units.pow2_table(6, 12)[63]
    y = t63 + (8192 - t63) * 1023 // 1024
    assert y < 8192 and NARROW_EXP(0x8001) == ref.round_dyadic(y, -13, BF16)
    assert NARROW_EXP(0x8001) == (0x3F80, INEXACT)
    # x = 0.5 = 0x3f00 with table lookups only (no interpolation, F = b): i = 0, t = f
    # x = 0.5 without interpolation, F = b = 4, K = 8: L = round(369.33) = 369,
    # t = floor(0.5 * 369 * 2^-4) = 11, i = 0, j = 11: 2^(11/16) = 1.61 for e^0.5 = 1.65
    flat = units.Pow2LutExp.from_widths(4, 8, 4, 8, False)
    assert flat(0x3F00) == ref.round_dyadic(units.pow2_table(4, 8)[11], -8, BF16)


@pytest.mark.parametrize("widths", [(6, 12, 16, 16, True), (3, 8, 3, 9, False),
                                    (5, 20, 33, 20, True)])
def test_pow2_lut_is_monotone(widths):
    """t, the table and the interpolation are all non-decreasing, so e^x must be too."""
    unit = units.Pow2LutExp.from_widths(*widths)
    ordered = sorted((b for b in finite_patterns()), key=lambda b: frac(b))
    results = [frac(r) if r != 0x7F80 else Fraction(2) ** 200
               for r in (unit(b)[0] for b in ordered)]
    assert all(a <= b for a, b in zip(results, results[1:]))


def test_pow2_lut_close_to_exact_exp_when_wide():
    """A wide configuration (W = 30, fine interpolation) agrees with the correctly rounded e^x
    for most inputs and is never more than one BF16 step away where finite."""
    wide = units.Pow2LutExp.from_widths(10, 30, 40, 40, True)
    differ = 0
    for bits in range(0x3C00, 0x4300, 7):                       # 2^-7 .. 128
        got, exact = wide(bits)[0], units.exact_exp(bits)[0]
        assert abs(got - exact) <= 1 or exact == 0x7F80, hex(bits)
        differ += got != exact
    assert differ < 20


# ---------------------------------------------------------------------------------------------
# reciprocal
# ---------------------------------------------------------------------------------------------

EXACT_RECIP = units.ExactRecip()


def test_exact_recip_table_entries():
    assert EXACT_RECIP.table[0] == (1 << 17, 0)
    assert EXACT_RECIP.table[1] == (0x1FC07, 1)                 # 2^24 / 129, a remainder
    assert EXACT_RECIP.table[64] == (87381, 1)                  # 2^24 / 192 = 87381.33
    assert all((1 << 16) < q <= (1 << 17) for q, _ in EXACT_RECIP.table)


def test_exact_recip_examples_and_specials():
    assert EXACT_RECIP(0x4040) == (0x3EAB, INEXACT)              # 1/3
    assert EXACT_RECIP(0x3F80) == (0x3F80, Flags())
    assert EXACT_RECIP(0x0000) == (0x7F80, flags_of("div_by_zero"))
    assert EXACT_RECIP(0x8000) == (0xFF80, flags_of("div_by_zero"))
    assert EXACT_RECIP(0x7F80) == (0x0000, Flags())
    assert EXACT_RECIP(0xFF80) == (0x8000, Flags())
    assert EXACT_RECIP(0x7FC5) == (0x7FC0, Flags())
    for bits in range(0x0001, 0x0021):
        assert EXACT_RECIP(bits) == (0x7F80, flags_of("inexact", "overflow"))
        assert EXACT_RECIP(bits | 0x8000) == (0xFF80, flags_of("inexact", "overflow"))
    assert EXACT_RECIP(0x0021)[0] != 0x7F80


def test_exact_recip_unit_is_the_correct_rounding_for_every_input():
    """The (q, sticky) table decides every rounding: bits and flags equal reference.py's
    correctly rounded 1/x for all 65,536 inputs."""
    for bits in ALL_BF16:
        assert EXACT_RECIP(bits) == ref.reciprocal(bits), hex(bits)


def test_exact_recip_sticky_bit_never_changes_a_result():
    """For BF16 inputs no q has 0...0 or 10...0 in the 9 or more bits a result discards, so
    q alone decides every rounding and its exactness: without the sticky bit (ROM bit 18) all
    65,536 results and flags stay the same.  A wrong sticky bit is therefore invisible in the
    unit's outputs (lut-check cannot see it)."""
    without = units.ExactRecip(tuple((q, 0) for q, _ in EXACT_RECIP.table))
    assert all(without(bits) == EXACT_RECIP(bits) for bits in ALL_BF16)


@pytest.mark.parametrize("seed_bits", range(1, 8))
def test_newton_seeds_are_rounded_quotients_without_ties(seed_bits):
    for frac_bits in (8, 16, 31, 60):
        for j, y0 in enumerate(units.newton_seeds(seed_bits, frac_bits)):
            exact = Fraction(1 << frac_bits) / (1 + Fraction(2 * j + 1, 1 << (seed_bits + 1)))
            assert abs(exact - y0) < Fraction(1, 2)
            assert y0 < 1 << frac_bits                          # F-bit ROM words


def test_newton_narrow_seed_words_and_example():
    narrow = units.load_hardware("narrow").recip
    assert narrow.seeds[:3] == (0xF83E, 0xEA0F, 0xDD68)
    # 1/3: m = 64, e = 1, d = 192 * 2^9 = 98304, seed j = 8: D = 49, y0 = 42799
    y = narrow.seeds[8]
    assert y == 42799
    for _ in range(2):
        y = y * ((1 << 17) - 98304 * y // (1 << 16)) // (1 << 16)
    assert narrow(0x4040) == ref.round_dyadic(y, -17, BF16)
    assert narrow(0x4040)[0] == 0x3EAB


def test_newton_specials_and_tiny_y():
    zero_steps = units.NewtonRecip.from_widths(0, 1, 8)
    assert zero_steps(0x0000) == (0x7F80, flags_of("div_by_zero"))
    assert zero_steps(0xFF80) == (0x8000, Flags())
    assert zero_steps(0xFFC0) == (0x7FC0, Flags())
    # no iterations: the seed itself, y0[0] = round(256 / 1.25) = 205 -> 205 * 2^-8 * 2^0
    assert zero_steps(0x3F80) == ref.round_dyadic(205, -8, BF16)


def test_newton_converges_to_the_correct_rounding():
    """With 3 steps from a 7-bit seed at F = 60 the error is far below BF16's resolution, and
    1/x (never a BF16 tie) rounds as the exact reciprocal does, for every input.  The flags
    agree too, except for a power of two: there y stays at 2^F - 1, so Newton's result is
    inexact (and, if tiny, underflows) where 1/x is exact."""
    wide = units.NewtonRecip.from_widths(3, 7, 60)
    for bits in ALL_BF16:
        got, exact = wide(bits), ref.reciprocal(bits)
        assert got[0] == exact[0], hex(bits)
        if exact[1].inexact or bits & 0x7F80 == 0x7F80 or bits & 0x7FFF == 0:
            assert got[1] == exact[1], hex(bits)


# ---------------------------------------------------------------------------------------------
# Accumulators
# ---------------------------------------------------------------------------------------------

EXACT_ACC, FP32_ACC, BF16_ACC = units.ExactAcc(), units.FloatAcc(FP32), units.FloatAcc(BF16)


def test_exact_accumulator_examples():
    ones = [value(1)] * 300
    assert EXACT_ACC(ones) == (0x4396, Flags())
    assert EXACT_ACC(ones[:257]) == (0x4380, INEXACT)            # 257 ties to the even 256
    assert EXACT_ACC([value("nan"), value("+inf"), value("-inf")]) == (0x7FC0, Flags())
    assert EXACT_ACC([value("+inf"), value(1), value("-inf")]) == (0x7FC0, flags_of("invalid"))
    assert EXACT_ACC([value(1), value("-inf")]) == (0xFF80, Flags())
    assert EXACT_ACC([value("-0"), value("-0")]) == (0x8000, Flags())
    assert EXACT_ACC([value("-0"), value(0)]) == (0x0000, Flags())
    assert EXACT_ACC([value(3), value(-3)]) == (0x0000, Flags())
    assert EXACT_ACC([]) == (0x0000, Flags())


def test_sequential_bf16_register_stops_at_256():
    assert BF16_ACC([value(1)] * 300) == (0x4380, INEXACT)       # numerics.md section 3.2


def test_fp32_register_fused_mac_example():
    """Block products +93 * 2^126 then -377952 * 2^126: the first overflows the register (+inf),
    which the second cannot undo; rounding each product to FP32 first would give inf - inf."""
    products = [value(93 * Fraction(2) ** 126), value(-377952 * Fraction(2) ** 126)]
    assert FP32_ACC(products) == (0x7F80, flags_of("inexact", "overflow"))
    with np.errstate(over="ignore", invalid="ignore"):
        unfused = np.float32(93 * 2.0 ** 126) + np.float32(-377952 * 2.0 ** 126)
    assert np.isnan(unfused)


def test_fp32_register_equals_numpy_sequential_float32():
    """For BF16 addends (exact in float32) each step is one RNE float32 addition, which is what
    numpy does; the final conversion to BF16 is ml_dtypes' RNE."""
    rng = random.Random(5)
    patterns = finite_patterns()
    for trial in range(300):
        scale = rng.choice([0, 30, 100, 126])            # big exponents reach overflow
        rows = [bits for bits in (rng.choice(patterns) for _ in range(rng.randint(1, 40)))
                if abs(ref.decode(bits, BF16).exp) <= scale + 10 or trial % 3]
        with np.errstate(over="ignore", invalid="ignore"):
            acc = np.float32(0)
            for bits in rows:
                acc = np.float32(acc + np.array([bits], np.uint16).view(ml_dtypes.bfloat16)
                                 .astype(np.float32)[0])
        expected = int(np.array([acc], np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)[0])
        if np.isnan(acc):
            expected = BF16.nan_bits
        got, flags = FP32_ACC(units.bf16_addends(rows))
        assert got == expected, (rows, hex(got), hex(expected))
        assert flags.overflow == bool(np.isinf(acc))


def test_fp32_register_specials():
    assert FP32_ACC([value("+inf"), value(1)]) == (0x7F80, Flags())
    assert FP32_ACC([value("+inf"), value("-inf"), value(1)]) == (0x7FC0, flags_of("invalid"))
    assert FP32_ACC([value(1), value("nan"), value("+inf"), value("-inf")]) == (0x7FC0, Flags())
    assert FP32_ACC([value("-0"), value("-0")]) == (0x0000, Flags())   # starts at +0
    assert FP32_ACC([]) == (0x0000, Flags())
    # 1 + 2^-30: the register rounds it to 1 (inexact), the conversion is then exact
    assert FP32_ACC([value(1), value(Fraction(1, 2 ** 30))]) == (0x3F80, INEXACT)
    # an FP32 value that BF16 cannot hold: the final conversion rounds (1 + 2^-10 -> 1)
    assert FP32_ACC([value(1), value(Fraction(1, 2 ** 10))]) == (0x3F80, INEXACT)
    # a subnormal result in the final conversion raises underflow
    assert FP32_ACC([value(Fraction(3, 2 ** 140))]) == (0x0000, flags_of("inexact", "underflow"))


def test_fixed_saturate_and_wrap_on_a_small_register():
    sat, wrap = units.FixedAcc(4, 0, "saturate"), units.FixedAcc(4, 0, "wrap")   # [-8, 7]
    over = flags_of("inexact", "overflow")
    assert sat([value(5), value(5)]) == (bf16(7), over)
    assert wrap([value(5), value(5)]) == (bf16(-6), over)             # 10 - 16
    assert sat([value(5), value(5), value(-5)]) == (bf16(2), over)
    assert wrap([value(5), value(5), value(-5)]) == (bf16(5), over)  # -11 + 16
    assert sat([value(-8), value(-1)]) == (bf16(-8), over)
    assert wrap([value(-8), value(-1)]) == (bf16(7), over)
    assert sat([value(7), value(-8)]) == (bf16(-1), Flags())         # in range: no flags


def test_fixed_truncates_toward_minus_infinity():
    acc = units.FixedAcc(8, 2, "saturate")                            # grid 1/4
    assert acc([value(Fraction(3, 8))]) == (bf16(Fraction(1, 4)), INEXACT)
    assert acc([value(Fraction(-1, 8))]) == (bf16(Fraction(-1, 4)), INEXACT)
    assert acc([value(Fraction(-1, 1024)), value(Fraction(1, 4))]) == (0x0000, INEXACT)
    assert acc([value(0), value("-0")]) == (0x0000, Flags())        # zeros change nothing


def test_fixed_non_finite_addends_give_nan_and_invalid():
    acc = units.FixedAcc(16, 8, "wrap")
    for special in ("nan", "+inf", "-inf"):
        bits, flags = acc([value(1), value(special), value(2)])
        assert bits == 0x7FC0 and flags.invalid


def test_fixed_with_enough_bits_equals_the_exact_sum_on_its_grid():
    """64 integer and 60 fraction bits hold every partial sum of these addends: no overflow,
    and the result is RNE_bf16 of the sum of the grid-truncated addends (exactly the exact
    accumulator's result when every addend is on the grid)."""
    rng = random.Random(11)
    acc = units.FixedAcc(64, 56, "wrap")
    for _ in range(300):
        addends = [value(rng.randint(-2 ** 20, 2 ** 20) * Fraction(2) ** rng.randint(-70, 30))
                   for _ in range(rng.randint(1, 30))]
        truncated = sum(Fraction(math.floor(v_frac(a) * 2 ** 56), 2 ** 56) for a in addends)
        bits, flags = acc(addends)
        assert bits == ref.round_fraction(truncated, BF16)[0]
        assert not flags.overflow
        on_grid = all((v_frac(a) * 2 ** 56).denominator == 1 for a in addends)
        if on_grid:
            assert (bits, flags) == EXACT_ACC(addends)


def v_frac(a: Decoded) -> Fraction:
    return Fraction(units.signed(a)) * Fraction(2) ** a.exp


def test_block_products_for_the_mac():
    """dot * 2^(Ee + Ev - 12) per column in block order, NaN for a 0xff scale on either side."""
    se = np.array([[127, 0xFF]], np.uint8)                        # 1 head, 2 blocks
    qe = np.zeros((1, 2, 32), np.int8)
    qe[0, 0, :2] = (64, -3)
    sv = np.array([[[130, 127], [127, 127]]], np.uint8)           # [head, block, column]
    qv = np.zeros((1, 2, 2, 32), np.int8)
    qv[0, 0, 0, :2] = (2, 5)
    qv[0, 0, 1, :2] = (-128, 1)
    products = units.block_products((se, qe), (sv, qv))
    assert products[0][0][0] == Decoded("finite", False, 64 * 2 - 15, 127 + 130 - 254 - 12)
    assert products[0][1][0] == Decoded("finite", True, 64 * 128 + 3, -12)
    assert products[0][0][1].kind == products[0][1][1].kind == "nan"
    assert units.ExactAcc()(products[0][0])[0] == 0x7FC0


@pytest.mark.parametrize("op, sizes", [("dot", (70, None, None)), ("gevm", (45, 6, None)),
                                       ("gemm", (3, 65, 4))])
@pytest.mark.parametrize("fmt, mode", [(BF16, ref.NEAREST_EVEN), (FP32, ref.TOWARD_NEG),
                                       (BF16, ref.TOWARD_POS)])
def test_mxint8_op_on_the_reference_mac_is_the_exact_op(op, sizes, fmt, mode):
    first, second = dists.op_inputs(op, *sizes, seed=4, dist="mixed")
    bits, flags = units.mxint8_op(op, first, second, units.load_hardware("reference"), fmt,
                                  mode)
    exact = {"dot": ref.dot_product, "gevm": ref.gevm, "gemm": ref.gemm}[op]
    np.testing.assert_array_equal(bits, exact(first, second, fmt, mode))
    assert bits.dtype == fmt.bits_dtype and list(flags) == list(units.FLAG_NAMES)


def test_mxint8_op_register_kinds_convert_to_the_output_dtype_in_rne():
    """A register kind ends with an RNE conversion to the op's dtype; --rounding belongs to
    the exact kind (docs/microarchitecture.md "Accumulators").  dot of [1, 1] and [1, 2^-8]
    (two blocks): the FP32 register holds 1 + 2^-8 exactly, a BF16 tie."""
    ones = (np.array([127, 127], np.uint8), np.zeros((2, 32), np.int8))
    ones[1][:, 0] = 64                                          # 1.0 in each block
    second = (np.array([127, 120], np.uint8), np.zeros((2, 32), np.int8))
    second[1][:, 0] = (64, 32)                                  # 1.0, then 32 * 2^-13 = 2^-8
    narrow, reference = units.load_hardware("narrow"), units.load_hardware("reference")
    for mode in (ref.TOWARD_POS, ref.NEAREST_AWAY):
        bits, flags = units.mxint8_op("dot", ones, second, narrow, BF16, mode)
        assert (int(bits), flags["inexact"]) == (0x3F80, 1)
        bits, flags = units.mxint8_op("dot", ones, second, narrow, FP32, mode)
        assert (int(bits), flags["inexact"]) == (0x3F808000, 0)
        bits, _ = units.mxint8_op("dot", ones, second, reference, BF16, mode)
        assert int(bits) == 0x3F81


def test_quantize_op_flags_per_block():
    bits = np.array([0x3F80, 0x3C00] + [0] * 30 + [0x7FC0, 0x3F80] + [0x3FFF], np.uint16)
    (scales, elements), flags = units.quantize(bits, ref.NEAREST_AWAY)
    assert scales.tolist() == [0x7F, 0xFF] and elements[0, :2].tolist() == [64, 1]
    assert flags == {"inexact": 1, "underflow": 0, "overflow": 0, "div_by_zero": 0,
                     "invalid": 1}


# ---------------------------------------------------------------------------------------------
# Quantizer flags
# ---------------------------------------------------------------------------------------------

def quantize_one(values: list[Fraction], mode=ref.NEAREST_AWAY) -> tuple[int, list[int], Flags]:
    addends = [value(v) for v in values] + [value(0)] * (32 - len(values))
    man = np.array([units.signed(a) for a in addends], np.int64)
    exp = np.array([a.exp for a in addends], np.int64)
    scales, elements = ref.quantize_blocks(man, exp, np.zeros(32, bool), mode)
    (flags,) = units.quantizer_flags(man, exp, scales, elements)
    return int(scales), elements.tolist()[:len(values)], flags


def test_quantizer_flags_of_the_documented_blocks():
    half, quarter = Fraction(1, 2), Fraction(1, 4)
    assert quantize_one([1, half, -quarter]) == (0x7F, [64, 32, -16], Flags())
    scale, q, flags = quantize_one([3, Fraction(1, 128) + Fraction(1, 256)])
    assert (scale, q, flags) == (0x80, [96, 0], flags_of("inexact", "underflow"))
    assert quantize_one([1, Fraction(1, 128)])[1:] == ([64, 1], INEXACT)       # tie, away
    assert quantize_one([1, Fraction(1, 128)], ref.NEAREST_EVEN)[1:] == (
        [64, 0], flags_of("inexact", "underflow"))
    assert quantize_one([frac(0x3FFF)])[1:] == ([127], flags_of("inexact", "overflow"))
    assert quantize_one([-frac(0x3FFF)])[1:] == ([-127], flags_of("inexact", "overflow"))
    # 127.25 steps rounds to 127: inexact but no overflow
    assert quantize_one([Fraction(509, 256)])[1:] == ([127], INEXACT)
    assert quantize_one([0, 0]) == (0x00, [0, 0], Flags())


def test_quantizer_flags_of_nan_blocks_and_tiny_scales():
    man = np.zeros((2, 32), np.int64)
    man[0, :2] = (3, 5)                                        # a NaN block whose finite values
    exp = np.zeros((2, 32), np.int64)                          # would be exact: invalid only
    nonfinite = np.zeros((2, 32), bool)
    nonfinite[0, 5] = True
    man[1, :2] = (1, 127)                                      # amax = 127 * 2^-140: E = -127
    exp[1, :2] = (-140, -140)
    scales, elements = ref.quantize_blocks(man, exp, nonfinite)
    flags = units.quantizer_flags(man, exp, scales, elements)
    assert scales.tolist() == [0xFF, 0] and flags[0] == flags_of("invalid")
    assert elements[1, :2].tolist() == [0, 1]                  # 127 * 2^-140 * 2^133 = 0.99
    assert flags[1] == flags_of("inexact", "underflow")


# ---------------------------------------------------------------------------------------------
# Hardware descriptions
# ---------------------------------------------------------------------------------------------

def test_profiles_load_and_are_what_the_docs_say():
    reference = units.load_hardware("reference")
    assert reference.exp is units.exact_exp and isinstance(reference.recip, units.ExactRecip)
    assert reference.reduce == units.ExactAcc() == reference.mac
    narrow = units.load_hardware("narrow")
    assert (narrow.exp.table_bits, narrow.exp.entry_bits, narrow.exp.interpolate) == (6, 12, True)
    assert narrow.reduce == units.FloatAcc(FP32) == narrow.mac
    assert (narrow.recip.iterations, narrow.recip.seed_bits) == (2, 4)
    assert narrow.mul_rounding == ref.NEAREST_EVEN
    assert units.load_hardware(None).name == "reference"


def edited(change) -> dict:
    config = json.loads(json.dumps(units.NARROW_PROFILE))
    change(config)
    return config


@pytest.mark.parametrize("change, message", [
    (lambda c: c.pop("mul"), "missing mul"),
    (lambda c: c.update(extra=1), "unknown extra"),
    # a parameter on a kind without parameters is a mistake too (sim config show drops it)
    (lambda c: c["reduce"].update(kind={"type": "fp32", "int_bits": 3}), "unknown int_bits"),
    (lambda c: c["exp"]["kind"].update(table_bits=17), "table_bits"),
    (lambda c: c["exp"]["kind"].update(frac_bits=5), "frac_bits"),
    (lambda c: c["exp"]["kind"].update(interpolate=1), "interpolate"),
    (lambda c: c["exp"]["kind"].update(type="cordic"), "exp.kind.type"),
    (lambda c: c["reduce"].update(kind={"type": "fixed", "int_bits": 1, "frac_bits": 3,
                                         "overflow": "wrap"}), "int_bits"),
    (lambda c: c["mac"].update(accumulator={"type": "fixed", "int_bits": 64, "frac_bits": 57,
                                            "overflow": "wrap"}), "frac_bits"),
    (lambda c: c["mac"].update(accumulator={"type": "fixed", "int_bits": 8, "frac_bits": 8,
                                            "overflow": "clip"}), "overflow"),
    (lambda c: c["recip"]["kind"].update(iterations=9), "iterations"),
    (lambda c: c["recip"]["kind"].update(seed_bits=0), "seed_bits"),
    (lambda c: c["mac"].update(block_lanes=5), "block_lanes"),
    (lambda c: c["exp"]["timing"].update(lanes=0), "lanes"),
    (lambda c: c["mul"].update(rounding="stochastic"), "rounding"),
    (lambda c: c["mac"].update(columns=True), "columns"),
])
def test_invalid_descriptions_are_rejected(change, message):
    with pytest.raises(units.ConfigError, match=message):
        units.parse_hardware(edited(change))


def test_description_file_round_trip(tmp_path):
    config = edited(lambda c: c["reduce"].update(kind={"type": "fixed", "int_bits": 16,
                                                       "frac_bits": 8, "overflow": "saturate"}))
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(config))
    assert units.load_hardware(config=path).reduce == units.FixedAcc(16, 8, "saturate")
    path.write_text("{")
    with pytest.raises(units.ConfigError, match="fixed.json"):
        units.load_hardware(config=path)
    with pytest.raises(units.ConfigError, match="unknown profile"):
        units.load_hardware("wide")


def test_multiplier_rounds_once_in_its_mode():
    up = units.parse_hardware(edited(lambda c: c["mul"].update(rounding="toward-pos")))
    nearest = units.load_hardware("narrow")
    # (2 - 2^-7)^2 = 4 - 2^-5 + 2^-14: just above 0x407e = 3.96875
    assert nearest.mul(0x3FFF, 0x3FFF) == (0x407E, INEXACT)
    assert up.mul(0x3FFF, 0x3FFF) == (0x407F, INEXACT)
    assert nearest.mul(0x7F80, 0x8000) == (0x7FC0, flags_of("invalid"))       # inf * -0
    assert nearest.mul(0x8000, 0x3F80) == (0x8000, Flags())
    assert nearest.mul(0x7F7F, 0x4000) == (0x7F80, flags_of("inexact", "overflow"))


@needs_sim
@pytest.mark.parametrize("profile", ["reference", "narrow"])
def test_builtin_profiles_equal_sim_config_show(profile):
    shown = subprocess.run([str(SIM), "config", "show", "--profile", profile], check=True,
                           capture_output=True, text=True).stdout
    assert json.loads(shown) == units.PROFILES[profile]


# ---------------------------------------------------------------------------------------------
# softmax_v with configured units
# ---------------------------------------------------------------------------------------------

def special_inputs(heads: int, kv: int, dim: int, seed: int):
    """Generated inputs with NaN, infinities, huge and tiny qk_T values and 0xff / 0x00 v scales
    mixed in."""
    qk, (scales, elements) = dists.softmax_inputs(kv, seed, heads, dim, ref.NEAREST_AWAY)
    rng = random.Random(seed)
    specials = [0x7FC0, 0x7F80, 0xFF80, 0x8000, 0x0000, 0x42B2, 0xC2C0, 0x0001, 0x4300, 0xC300]
    for _ in range(kv // 3 + 1):
        qk[rng.randrange(heads), rng.randrange(kv)] = rng.choice(specials)
    scales[rng.randrange(heads), 0, rng.randrange(dim)] = 0xFF
    return qk, (scales, elements)


@pytest.mark.parametrize("make_inputs", [
    lambda: dists.softmax_inputs(45, 3, 2, 5, ref.NEAREST_AWAY),
    lambda: special_inputs(3, 70, 4, 1)])
def test_reference_profile_is_byte_identical_to_reference_py(make_inputs):
    qk, v = make_inputs()
    tensors, _ = units.softmax_v(qk, v, units.load_hardware("reference"))
    expected = ref.softmax_v(qk, v)
    for name in ref.SOFTMAX_FILES:
        if isinstance(expected[name], tuple):
            for got, want in zip(tensors[name], expected[name]):
                np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_array_equal(tensors[name], expected[name], err_msg=name)


def test_softmax_flag_counts_by_stage():
    qk, v = special_inputs(2, 40, 3, 7)
    tensors, flags = units.softmax_v(qk, v, units.load_hardware("reference"))
    assert list(flags) == list(units.FLAGGED_STAGES)
    assert all(list(counts) == list(units.FLAG_NAMES) for counts in flags.values())
    exp_flags = [ref.exp_round(int(x))[1] for x in qk.ravel()]
    assert flags["softmaxed_v.exp-bf16"] == units.flag_counts(exp_flags)
    inv_flags = [ref.reciprocal(int(s))[1] for s in tensors["softmaxed_v.exp_sum"]]
    assert flags["softmaxed_v.inv"] == units.flag_counts(inv_flags)
    assert flags["softmaxed_v.exp_mxint8"]["invalid"] == int(
        (tensors["softmaxed_v.exp_mxint8"][0] == 0xFF).sum())


def test_softmax_cli_profiles_and_flags_json(tmp_path):
    for profile in ("reference", "narrow"):
        out = tmp_path / profile
        assert ref.main(["softmax", "--kv-size", "33", "--seed", "2", "--heads", "2",
                         "--head-dim", "8", "--profile", profile, "--out", str(out)]) == 0
        flags = json.loads((out / "kv-size-33_seed-2" / ref.FLAGS_FILE).read_text())
        assert set(flags) == set(units.FLAGGED_STAGES)
        assert flags["softmaxed_v.exp-bf16"]["inexact"] > 0
    differ = [name for name in ref.SOFTMAX_FILES
              if (tmp_path / "reference/kv-size-33_seed-2" / name).read_bytes()
              != (tmp_path / "narrow/kv-size-33_seed-2" / name).read_bytes()]
    assert "softmaxed_v.exp-bf16" in differ and "softmaxed_v.qk_T" not in differ
    config = tmp_path / "narrow.json"
    config.write_text(json.dumps(units.NARROW_PROFILE))
    assert ref.main(["softmax", "--kv-size", "33", "--seed", "2", "--heads", "2", "--head-dim",
                     "8", "--config", str(config), "--out", str(tmp_path / "file")]) == 0
    for name in ref.SOFTMAX_FILES + (ref.FLAGS_FILE,):
        assert (tmp_path / "file/kv-size-33_seed-2" / name).read_bytes() == \
            (tmp_path / "narrow/kv-size-33_seed-2" / name).read_bytes()


# ---------------------------------------------------------------------------------------------
# unit-table and lut-check
# ---------------------------------------------------------------------------------------------

def write_rom(folder: Path, unit: str, description: dict, words: list[int], outputs) -> None:
    """ROM files as `sim export-lut` writes them (the description's sha256 is the hex file's)."""
    text = "".join(f"{w:0{description['hex_digits']}x}\n" for w in words)
    (folder / f"{unit}_lut.hex").write_text(text)
    description = dict(description, unit=unit, entries=len(words),
                       sha256=hashlib.sha256(text.encode()).hexdigest())
    (folder / f"{unit}_lut.json").write_text(json.dumps(description))
    dumps.write_bf16(folder / f"{unit}_outputs.hex", outputs)


NARROW_EXP_ROM = {"kind": "pow2-lut", "table_bits": 6, "entry_bits": 12, "frac_bits": 16,
                  "const_bits": 16, "interpolate": True, "log2e_fixed": 94548, "word_bits": 14,
                  "hex_digits": 4, "fields": {"T": "bits 13:0"}}


@pytest.fixture(scope="module")
def narrow_tables(tmp_path_factory) -> dict:
    """unit-table output of the narrow profile's two units, via the command line."""
    folder = tmp_path_factory.mktemp("tables")
    tables = {}
    for unit in ("exp", "recip"):
        path = folder / unit
        assert ref.main(["unit-table", "--unit", unit, "--profile", "narrow",
                         "--out", str(path)]) == 0
        tables[unit] = dumps.read_bf16_bits(path)
    return tables


def test_unit_table_lines_are_the_unit(narrow_tables):
    hardware = units.load_hardware("narrow")
    assert narrow_tables["exp"].size == 1 << 16
    for bits in (0x0000, 0x3F80, 0x4040, 0x8001, 0xC2C0, 0x7FC0, 0x4300):
        assert narrow_tables["exp"][bits] == hardware.exp(bits)[0]
        assert narrow_tables["recip"][bits] == hardware.recip(bits)[0]


def test_lut_check_accepts_matching_rom_and_reports_mismatches(tmp_path, narrow_tables,
                                                                capsys):
    write_rom(tmp_path, "exp", NARROW_EXP_ROM, list(units.pow2_table(6, 12)),
              narrow_tables["exp"])
    assert ref.main(["lut-check", "--dir", str(tmp_path), "--unit", "exp"]) == 0
    assert "OK" in capsys.readouterr().out
    broken = narrow_tables["exp"].copy()
    broken[0x3F80] ^= 1
    dumps.write_bf16(tmp_path / "exp_outputs.hex", broken)
    assert ref.main(["lut-check", "--dir", str(tmp_path), "--unit", "exp"]) == 1
    out = capsys.readouterr().out
    assert "input 3f80" in out and f"{int(broken[0x3F80]):04x}" in out


@pytest.mark.parametrize("breakage, message", [
    (lambda d, w: (dict(d, word_bits=12), w), "exceeds 12 bits"),
    (lambda d, w: (dict(d, hex_digits=3), w), "do not fit"),
    (lambda d, w: (d, w[:-1]), "needs 65 entries"),
    (lambda d, w: (dict(d, fields={"T": "bits 14:0"}), w), "outside"),
    (lambda d, w: (dict(d, fields={"y0": "bits 13:0"}), w), "fields"),
    (lambda d, w: (dict(d, kind="cordic"), w), "unknown unit/kind"),
    (lambda d, w: ({k: v for k, v in d.items() if k != "log2e_fixed"}, w), "log2e_fixed"),
])
def test_lut_check_rejects_unusable_files(tmp_path, narrow_tables, breakage, message, capsys):
    description, words = breakage(NARROW_EXP_ROM, list(units.pow2_table(6, 12)))
    write_rom(tmp_path, "exp", description, words, narrow_tables["exp"])
    assert ref.main(["lut-check", "--dir", str(tmp_path), "--unit", "exp"]) == 2
    assert message in capsys.readouterr().out


def test_lut_check_rejects_a_wrong_hash_and_missing_outputs(tmp_path, narrow_tables, capsys):
    write_rom(tmp_path, "exp", NARROW_EXP_ROM, list(units.pow2_table(6, 12)),
              narrow_tables["exp"])
    description = json.loads((tmp_path / "exp_lut.json").read_text())
    (tmp_path / "exp_lut.json").write_text(json.dumps(dict(description, sha256="0" * 64)))
    assert lutcheck.check(tmp_path, "exp")[0] == 2
    (tmp_path / "exp_lut.json").write_text(json.dumps(description))
    (tmp_path / "exp_outputs.hex").unlink()
    status, verdict = lutcheck.check(tmp_path, "exp")
    assert status == 2 and "exp_outputs.hex" in verdict


def test_lut_check_reads_every_kind_from_its_own_fields(tmp_path, narrow_tables):
    """Exact recip ROM (q bits 17:0, sticky bit 18) and Newton seeds (y0): the check must use
    the ROM's words, so a changed word shows up as a mismatch.  (A flipped sticky bit passes:
    see test_exact_recip_sticky_bit_never_changes_a_result.)"""
    exact_words = [(sticky << 18) | q for q, sticky in units.ExactRecip().table]
    exact_outputs = np.array([ref.reciprocal(b)[0] for b in ALL_BF16], np.uint16)
    recip_rom = {"kind": "exact", "word_bits": 19, "hex_digits": 5,
                 "fields": {"q": "bits 17:0", "sticky": "bit 18"}}
    write_rom(tmp_path, "recip", recip_rom, exact_words, exact_outputs)
    assert lutcheck.check(tmp_path, "recip")[0] == 0
    exact_words[5] ^= 1 << 18                                      # drop a sticky bit
    write_rom(tmp_path, "recip", recip_rom, exact_words, exact_outputs)
    assert lutcheck.check(tmp_path, "recip")[0] == 0
    exact_words[5] ^= 1 << 9                                       # the last bit kept
    write_rom(tmp_path, "recip", recip_rom, exact_words, exact_outputs)
    assert lutcheck.check(tmp_path, "recip")[0] == 1
    newton_rom = {"kind": "newton", "iterations": 2, "seed_bits": 4, "frac_bits": 16,
                  "word_bits": 16, "hex_digits": 4, "fields": {"y0": "bits 15:0"}}
    seeds = list(units.newton_seeds(4, 16))
    write_rom(tmp_path, "recip", newton_rom, seeds, narrow_tables["recip"])
    assert lutcheck.check(tmp_path, "recip")[0] == 0
    seeds[0] //= 2                   # Newton corrects small seed errors, not this one
    write_rom(tmp_path, "recip", newton_rom, seeds, narrow_tables["recip"])
    assert lutcheck.check(tmp_path, "recip")[0] == 1


@needs_sim
@pytest.mark.parametrize("unit", ["exp", "recip"])
def test_lut_check_on_sim_export_lut(tmp_path, unit):
    """The simulator's ROM files with its outputs (or, from a simulator that does not write
    <unit>_outputs.hex yet, our unit-table) pass; the narrow profile keeps it quick."""
    subprocess.run([str(SIM), "export-lut", "--unit", unit, "--profile", "narrow", "--out",
                    str(tmp_path)], check=True, capture_output=True)
    if not (tmp_path / f"{unit}_outputs.hex").exists():
        assert ref.main(["unit-table", "--unit", unit, "--profile", "narrow", "--out",
                         str(tmp_path / f"{unit}_outputs.hex")]) == 0
    assert lutcheck.check(tmp_path, unit)[0] == 0
