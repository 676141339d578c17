"""Tests of the Python reference against the worked examples of docs/numerics.md and
docs/dump-format.md, plus property tests against brute force.

Run: .venv/bin/python -m pytest scripts/test_reference.py
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest

import dists
import dumps
import reference as ref
from reference import BF16, FP32, MODES

RNE, AWAY = ref.NEAREST_EVEN, ref.NEAREST_AWAY


def frac(bits: int, fmt=BF16) -> Fraction:
    return ref.to_fraction(bits, fmt)


def pow2(e: int) -> Fraction:
    return Fraction(2) ** e


def bf16_of(value: Fraction) -> int:
    """BF16 bits of a value that must be exactly representable."""
    bits, flags = ref.round_fraction(value, BF16)
    assert not flags.inexact
    return bits


# ---------------------------------------------------------------------------------------------
# numerics.md section 2: rounding examples
# ---------------------------------------------------------------------------------------------

def test_tie_between_one_and_next():
    x = 1 + pow2(-8)
    assert ref.round_fraction(x, BF16, RNE) == (0x3F80, ref.Flags(inexact=True))
    assert ref.round_fraction(x, BF16, AWAY)[0] == 0x3F81


def test_tie_to_even_upwards():
    assert ref.round_fraction(1 + 3 * pow2(-8), BF16, RNE)[0] == 0x3F82


def test_half_of_smallest_subnormal():
    bits, flags = ref.round_fraction(pow2(-134), BF16, RNE)
    assert bits == 0x0000 and flags.underflow and flags.inexact and not flags.overflow
    bits, flags = ref.round_fraction(pow2(-134), BF16, AWAY)
    assert bits == 0x0001 and flags.underflow and flags.inexact


def test_overflow_tie():
    x = pow2(128) * (1 - pow2(-9))
    assert ref.round_fraction(x, BF16, RNE) == (0x7F80, ref.Flags(inexact=True, overflow=True))
    assert ref.round_fraction(x, BF16, ref.TOWARD_ZERO) == (0x7F7F, ref.Flags(inexact=True))
    assert frac(0x7F7F) == pow2(127) * (2 - pow2(-7))


def test_negative_result_rounding_to_zero_keeps_sign():
    bits, flags = ref.round_fraction(Fraction("-1e-50"), BF16, RNE)
    assert bits == 0x8000 and flags.underflow and flags.inexact


def test_overflow_directions():
    big = pow2(200)
    assert ref.round_fraction(big, BF16, ref.TOWARD_POS)[0] == 0x7F80
    assert ref.round_fraction(big, BF16, ref.TOWARD_NEG)[0] == 0x7F7F
    assert ref.round_fraction(-big, BF16, ref.TOWARD_NEG)[0] == 0xFF80
    assert ref.round_fraction(-big, BF16, ref.TOWARD_POS)[0] == 0xFF7F
    assert ref.round_fraction(-big, FP32, RNE)[0] == 0xFF800000
    # exactly 2^128 overflows even toward zero (the flag says the rounded magnitude is >= 2^128)
    assert ref.round_fraction(pow2(128), BF16, ref.TOWARD_ZERO) == (
        0x7F7F, ref.Flags(inexact=True, overflow=True))


def test_tininess_after_rounding():
    # just below 2^-126, rounding up to 2^-126 with an unbounded exponent: not tiny
    x = pow2(-126) * (1 - pow2(-10))
    bits, flags = ref.round_fraction(x, BF16, RNE)
    assert bits == 0x0080 and flags.inexact and not flags.underflow
    # exact subnormal: tiny but exact, so no underflow
    assert ref.round_fraction(pow2(-130), BF16, RNE) == (0x0008, ref.Flags())


def test_specials_and_formats():
    assert (BF16.nan_bits, BF16.inf_bits, BF16.max_finite_bits) == (0x7FC0, 0x7F80, 0x7F7F)
    assert (FP32.nan_bits, FP32.inf_bits) == (0x7FC00000, 0x7F800000)
    assert ref.round_fraction(Fraction(1), FP32)[0] == 0x3F800000
    assert ref.round_fraction(Fraction(0), BF16, ref.TOWARD_NEG)[0] == 0x0000


def test_parse_exact():
    assert ref.parse_exact("2^-134") == pow2(-134)
    assert ref.parse_exact("3*2^-8") == 3 * pow2(-8)
    assert ref.parse_exact("1/3") == Fraction(1, 3)
    assert ref.parse_exact("-1e-50") == Fraction(-1, 10 ** 50)
    with pytest.raises(ValueError):
        ref.parse_exact("1+2^-8")


# ---------------------------------------------------------------------------------------------
# Property tests of the rounding core against a brute-force search of all BF16 values
# ---------------------------------------------------------------------------------------------

FINITE_BF16 = sorted({frac(b) for b in range(0x10000) if ref.decode(b, BF16).kind == "finite"})
BF16_MAX = frac(0x7F7F)
SIGNED_BF16 = [-v for v in reversed(FINITE_BF16)] + FINITE_BF16


def brute_force_bf16(x: Fraction, mode: str) -> Fraction | str:
    """Round by searching the sorted list of all BF16 values; past the largest finite value
    the overflow rule of numerics.md section 2 applies."""
    if abs(x) > BF16_MAX:
        nearest_to_inf = mode in (RNE, AWAY) and abs(x) >= pow2(128) * (1 - pow2(-9))
        directed_to_inf = mode == (ref.TOWARD_POS if x > 0 else ref.TOWARD_NEG)
        if nearest_to_inf or directed_to_inf:
            return "+inf" if x > 0 else "-inf"
        return BF16_MAX if x > 0 else -BF16_MAX
    i = bisect.bisect_left(SIGNED_BF16, x)
    if SIGNED_BF16[i] == x:
        return x
    low, high = SIGNED_BF16[i - 1], SIGNED_BF16[i]
    if mode == ref.TOWARD_NEG:
        return low
    if mode == ref.TOWARD_POS:
        return high
    if mode == ref.TOWARD_ZERO:
        return low if x > 0 else high
    if x - low != high - x:
        return low if x - low < high - x else high
    if mode == AWAY:
        return high if x > 0 else low
    return next(v for v in (low, high) if ref.round_fraction(v, BF16)[0] % 2 == 0)


def random_fraction(rng: random.Random) -> Fraction:
    kind = rng.randrange(4)
    exponent = rng.choice([rng.randint(-140, -120), rng.randint(-10, 10), rng.randint(120, 130)])
    if kind == 0:    # a tie: an odd multiple of half a BF16 step
        value = Fraction(rng.randrange(256, 512) * 2 + 1, 512) * pow2(exponent)
    elif kind == 1:  # a random rational
        value = Fraction(rng.randrange(1, 10 ** 9), rng.randrange(1, 10 ** 9)) * pow2(exponent)
    else:            # a dyadic with many bits
        value = Fraction(rng.getrandbits(40) | 1, 1 << 40) * pow2(exponent)
    return value if rng.random() < 0.5 else -value


def test_rounding_matches_brute_force_and_brackets():
    rng = random.Random(1234)
    for _ in range(600):
        x = random_fraction(rng)
        results = {}
        for mode in MODES:
            bits, flags = ref.round_fraction(x, BF16, mode)
            expected = brute_force_bf16(x, mode)
            kind = ref.decode(bits, BF16)
            if isinstance(expected, str):
                assert kind.kind == "inf" and kind.negative == (expected == "-inf"), (x, mode)
                assert flags.overflow and flags.inexact
                results[mode] = (pow2(200) if expected == "+inf" else -pow2(200))
                continue
            value = frac(bits)
            assert value == expected, (x, mode, hex(bits))
            assert flags.inexact == (value != x)
            if value == 0:
                assert kind.negative == (x < 0), (x, mode)   # a zero result keeps x's sign
            results[mode] = value
        assert results[ref.TOWARD_NEG] <= x <= results[ref.TOWARD_POS]
        assert abs(results[ref.TOWARD_ZERO]) <= abs(x)
        for mode in (RNE, AWAY):   # nearest: no representable value is closer
            if abs(results[mode]) <= BF16_MAX:
                assert abs(results[mode] - x) <= min(abs(results[ref.TOWARD_NEG] - x),
                                                     abs(results[ref.TOWARD_POS] - x))


def test_underflow_flag_uses_unbounded_exponent_rounding():
    rng = random.Random(99)
    for _ in range(300):
        x = Fraction(rng.getrandbits(30) | 1, 1 << 30) * pow2(rng.randint(-136, -125))
        for mode in MODES:
            _, flags = ref.round_fraction(x, BF16, mode)
            # Independent unbounded-exponent rounding to 8 significant bits.
            e = x.numerator.bit_length() - x.denominator.bit_length()
            if x < pow2(e):
                e -= 1
            scaled = x * pow2(7 - e)
            floor = scaled.numerator // scaled.denominator
            rest = scaled - floor
            up = {RNE: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1),
                  AWAY: rest >= Fraction(1, 2), ref.TOWARD_ZERO: False,
                  ref.TOWARD_POS: rest > 0, ref.TOWARD_NEG: False}[mode]
            tiny = (floor + up) * pow2(e - 7) < pow2(-126)
            assert flags.underflow == (tiny and flags.inexact), (x, mode)


def test_fp32_rounding_against_bit_arithmetic():
    # 1/3 in FP32 is 0x3eaaaaab; 2^-150 is half the smallest FP32 subnormal.
    assert ref.round_fraction(Fraction(1, 3), FP32)[0] == 0x3EAAAAAB
    assert ref.round_fraction(pow2(-150), FP32, RNE)[0] == 0
    assert ref.round_fraction(pow2(-150), FP32, AWAY)[0] == 1
    assert ref.round_fraction(Fraction(16777217), FP32)[0] == 0x4B800000   # 2^24 + 1 -> even


# ---------------------------------------------------------------------------------------------
# numerics.md section 3: softmax_v stages
# ---------------------------------------------------------------------------------------------

def test_exp_of_one():
    bits, flags = ref.exp_round(0x3F80)
    assert bits == 0x402E and flags.inexact
    assert (frac(0x402D), frac(0x402E)) == (Fraction(2.703125), Fraction(2.71875))


def test_exp_special_values_and_thresholds():
    assert ref.exp_round(0x0000)[0] == ref.exp_round(0x8000)[0] == 0x3F80
    assert ref.exp_round(0x7F80)[0] == 0x7F80
    assert ref.exp_round(0xFF80)[0] == 0x0000
    assert ref.exp_round(0x7FC1)[0] == ref.exp_round(0xFFC0)[0] == 0x7FC0
    assert frac(0x42B2) == 89 and frac(0x42B1) == Fraction(177, 2)
    assert ref.exp_round(0x42B1)[0] == 0x7F4D                     # e^88.5 is finite
    assert ref.exp_round(0x42B2) == (0x7F80, ref.Flags(inexact=True, overflow=True))
    assert frac(0xC2B9) == Fraction(-185, 2) and frac(0xC2BA) == -93
    assert ref.exp_round(0xC2B9)[0] == 0x0001                     # e^-92.5
    assert ref.exp_round(0xC2BA) == (0x0000, ref.Flags(inexact=True, underflow=True))
    assert ref.exp_round(0x0001)[0] == 0x3F80                     # e^(2^-133) rounds to 1
    assert ref.exp_round(0x0001, BF16, ref.TOWARD_POS)[0] == 0x3F81
    assert ref.exp_round(0x8001, BF16, ref.TOWARD_NEG)[0] == 0x3F7F
    assert ref.exp_round(0xFF7F)[0] == 0x0000                     # e^(-3.4e38)


def test_exp_monotone_edges_over_all_bf16():
    """Every x >= 89 overflows, every x <= -93 gives +0, and nothing else does."""
    for bits in range(0x10000):
        x = ref.decode(bits, BF16)
        if x.kind != "finite":
            continue
        value = frac(bits)
        result = ref.exp_round(bits)[0]
        assert (result == 0x7F80) == (value >= 89), hex(bits)
        assert (result == 0x0000) == (value <= -93), hex(bits)


def _mp_round(value: mpmath.mpf, fmt, mode) -> int:
    """Round a high-precision mpmath value through its exact binary expansion (test oracle)."""
    sign, man, exp, _ = value._mpf_
    return ref.round_dyadic(-int(man) if sign else int(man), int(exp), fmt, mode)[0]


def test_exp_against_high_precision_mpmath():
    rng = random.Random(5)
    sample = [rng.randrange(0x10000) for _ in range(400)] + [0x3F80, 0xBF80, 0x4000, 0xC2B9]
    with mpmath.workprec(400):
        for bits in sample:
            x = ref.decode(bits, BF16)
            if x.kind != "finite" or x.man == 0:
                continue
            y = mpmath.exp(mpmath.mpf(frac(bits).numerator) / frac(bits).denominator)
            for mode in (RNE, ref.TOWARD_POS):
                assert ref.exp_round(bits, BF16, mode)[0] == _mp_round(y, BF16, mode), hex(bits)


def test_reduce_sum_examples():
    assert ref.exact_sum([0x3F80] * 300) == (0x4396, ref.Flags())
    assert frac(0x4396) == 300
    assert ref.exact_sum([0x3F80] * 257) == (0x4380, ref.Flags(inexact=True))
    # a sequential BF16 accumulation would stop growing at 256
    total = 0x0000
    for _ in range(300):
        total = ref.round_fraction(frac(total) + 1, BF16)[0]
    assert total == 0x4380


def test_reduce_sum_specials():
    assert ref.exact_sum([0x3F80, 0x7FC0])[0] == 0x7FC0
    assert ref.exact_sum([0x3F80, 0x7F80])[0] == 0x7F80
    assert ref.exact_sum([0x7F80, 0xFF80]) == (0x7FC0, ref.Flags(invalid=True))
    assert ref.exact_sum([0x8000, 0x8000])[0] == 0x8000
    assert ref.exact_sum([0x8000, 0x0000])[0] == 0x0000
    assert ref.exact_sum([0x3F80, 0xBF80])[0] == 0x0000
    # the order does not matter and nothing is lost: 2^100 + 1 - 2^100 = 1
    big = bf16_of(pow2(100))
    assert ref.exact_sum([big, 0x3F80, big | 0x8000])[0] == 0x3F80


def test_reciprocal_examples():
    assert ref.reciprocal(0x4040) == (0x3EAB, ref.Flags(inexact=True))
    assert ref.reciprocal(0x0000) == (0x7F80, ref.Flags(div_by_zero=True))
    assert ref.reciprocal(0x8000) == (0xFF80, ref.Flags(div_by_zero=True))
    assert ref.reciprocal(0x7F80)[0] == 0x0000 and ref.reciprocal(0xFF80)[0] == 0x8000
    assert ref.reciprocal(0x7FC0)[0] == 0x7FC0
    # subnormal x: 1/x overflows for x <= 2^-128 (0x0020), is finite just above
    assert frac(0x0020) == pow2(-128)
    assert ref.reciprocal(0x001F)[1].overflow and ref.reciprocal(0x0020)[1].overflow
    assert ref.reciprocal(0x0021)[0] == 0x7F78


def test_multiply_signs_and_invalid():
    assert ref.multiply(0x7F80, 0x0000) == (0x7FC0, ref.Flags(invalid=True))
    assert ref.multiply(0x8000, 0x3F80)[0] == 0x8000
    assert ref.multiply(0xC000, 0xFF80)[0] == 0x7F80
    assert ref.multiply(0x4040, 0x3EAB)[0] == 0x3F80     # 3 * 0.333984375 = 1.001953125 -> 1


# ---------------------------------------------------------------------------------------------
# numerics.md section 4: MXINT8 quantization
# ---------------------------------------------------------------------------------------------

def quantize(values, mode=AWAY, nonfinite=None):
    """Quantize one block of exact dyadic Fractions (padded to 32), each given to the quantizer
    as its own odd significand and exponent."""
    values = [Fraction(v) for v in values] + [Fraction(0)] * (32 - len(values))
    assert all(v.denominator & (v.denominator - 1) == 0 for v in values)
    zeros = [(abs(v.numerator) & -abs(v.numerator)).bit_length() - 1 if v else 0 for v in values]
    man = np.array([v.numerator >> z for v, z in zip(values, zeros)], dtype=np.int64)
    exp = np.array([z + 1 - v.denominator.bit_length() for v, z in zip(values, zeros)],
                   dtype=np.int64)
    flags = np.zeros(32, bool)
    if nonfinite is not None:
        flags[:len(nonfinite)] = nonfinite
    scales, elements = ref.quantize_blocks(man, exp, flags, mode)
    return int(scales), elements.tolist()


def test_quantize_examples():
    assert quantize([1, Fraction(1, 2), Fraction(-1, 4), 0]) == (0x7F, [64, 32, -16] + [0] * 29)
    scale, q = quantize([3, Fraction(1, 128) + Fraction(1, 256)])
    assert scale == 0x80 and q[:2] == [96, 0]
    assert quantize([1, Fraction(1, 128)], AWAY)[1][:2] == [64, 1]
    assert quantize([1, Fraction(1, 128)], RNE)[1][:2] == [64, 0]
    assert frac(0x3FFF) == Fraction(255, 128)
    assert quantize([frac(0x3FFF)], AWAY) == (0x7F, [127] + [0] * 31)
    assert quantize([frac(0x3FFF)], RNE) == (0x7F, [127] + [0] * 31)
    assert quantize([-frac(0x3FFF)]) == (0x7F, [-127] + [0] * 31)    # -128 never appears


def test_quantize_special_blocks():
    assert quantize([]) == (0x00, [0] * 32)
    assert quantize([1, 2], nonfinite=[False, False, True]) == (0xFF, [0] * 32)
    # subnormal amax: E clamps to -127 and small elements lose bits
    assert quantize([pow2(-130), 3 * pow2(-134)]) == (0x00, [8, 2] + [0] * 30)
    # a tiny element far below the step rounds to 0, half a step to +-1 (away) or 0 (even)
    assert quantize([64, pow2(-60), -pow2(-1)], AWAY)[1][:3] == [64, 0, -1]
    assert quantize([64, pow2(-60), -pow2(-1)], RNE)[1][:3] == [64, 0, 0]


def scalar_quantize(values: list[Fraction], mode: str) -> tuple[int, list[int]]:
    """Direct transcription of numerics.md section 4 with Fractions (test oracle)."""
    amax = max(abs(v) for v in values)
    if amax == 0:
        return 0, [0] * 32
    e = amax.numerator.bit_length() - amax.denominator.bit_length()
    if amax < pow2(e):
        e -= 1
    e = max(-127, min(127, e))
    q = []
    for v in values:
        scaled = abs(v) * pow2(6 - e)
        whole = scaled.numerator // scaled.denominator
        rest = scaled - whole
        if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and (mode == AWAY or whole % 2)):
            whole += 1
        q.append(min(127, whole) * (1 if v >= 0 else -1))
    return e + 127, q


def test_vectorised_quantize_matches_scalar_definition():
    rng = random.Random(7)
    for _ in range(200):
        e = rng.randint(-140, 100)
        values = [Fraction(rng.randint(-(1 << 23), 1 << 23)) * pow2(e + rng.randint(-25, 0))
                  for _ in range(32)]
        for mode in (AWAY, RNE):
            assert quantize(values, mode) == scalar_quantize(values, mode)


# ---------------------------------------------------------------------------------------------
# numerics.md section 5: the generator
# ---------------------------------------------------------------------------------------------

def scalar_splitmix64(state: int, count: int) -> list[int]:
    """Line-by-line transcription of the specification's next() (test oracle)."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & ref.MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ref.MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ref.MASK64
        out.append(z ^ (z >> 31))
    return out


def test_splitmix64():
    assert ref.stream_start(0, 0) == 0xD1B54A32D192ED03
    assert scalar_splitmix64(0, 1) == [0xE220A8397B1DCDAF]     # the published SplitMix64 vector
    for seed, stream in ((0, 0), (1, 1), (2 ** 64 - 1, 5)):
        start = ref.stream_start(seed, stream)
        assert ref.splitmix64(start, 50).tolist() == scalar_splitmix64(start, 50)


def test_draw_reals_range_and_exactness():
    w, e = ref.draw_reals(3, 0, (4, 1000), 3)
    assert e == -20 and w.min() >= -(1 << 23) and w.max() < (1 << 23)
    first = scalar_splitmix64(ref.stream_start(3, 0), 1)[0]
    assert w[0, 0] == (first >> 40) - (1 << 23)


# ---------------------------------------------------------------------------------------------
# numerics.md section 6: MXINT8 dot / gevm / gemm against exact Fraction arithmetic
# ---------------------------------------------------------------------------------------------

def random_blocks(rng: np.random.Generator, grid, nan_rate=0.0):
    scales = rng.integers(100, 150, size=grid).astype(np.uint8)
    scales[rng.random(grid) < 0.2] = rng.integers(0, 255)           # occasional far exponents
    scales[rng.random(grid) < nan_rate] = 0xFF
    elements = rng.integers(-127, 128, size=tuple(grid) + (32,)).astype(np.int8)
    return scales, elements


def naive_block_sum(pairs) -> Fraction | None:
    """sum over blocks of 2^(Ea+Eb-12) * integer dot, or None for NaN."""
    total = Fraction(0)
    for (sa, qa), (sb, qb) in pairs:
        if sa == 0xFF or sb == 0xFF:
            return None
        dot = sum(int(x) * int(y) for x, y in zip(qa, qb))
        total += dot * pow2(int(sa) + int(sb) - 254 - 12)
    return total


def expected_bits(value, fmt, mode):
    return fmt.nan_bits if value is None else ref.round_fraction(value, fmt, mode)[0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", [BF16, FP32])
def test_ops_against_exact_fractions(mode, fmt):
    rng = np.random.default_rng(11)
    a, b = random_blocks(rng, (3,)), random_blocks(rng, (3,))
    got = ref.dot_product(a, b, fmt, mode)
    assert got.shape == () and int(got) == expected_bits(
        naive_block_sum([((a[0][i], a[1][i]), (b[0][i], b[1][i])) for i in range(3)]), fmt, mode)

    vec, mat = random_blocks(rng, (2,)), random_blocks(rng, (2, 5), nan_rate=0.1)
    got = ref.gevm(vec, mat, fmt, mode)
    for c in range(5):
        pairs = [((vec[0][b], vec[1][b]), (mat[0][b, c], mat[1][b, c])) for b in range(2)]
        assert int(got[c]) == expected_bits(naive_block_sum(pairs), fmt, mode)

    inp, oth = random_blocks(rng, (4, 3), nan_rate=0.05), random_blocks(rng, (3, 6))
    got = ref.gemm(inp, oth, fmt, mode)
    assert got.shape == (4, 6)
    for r in range(4):
        for c in range(6):
            pairs = [((inp[0][r, b], inp[1][r, b]), (oth[0][b, c], oth[1][b, c]))
                     for b in range(3)]
            assert int(got[r, c]) == expected_bits(naive_block_sum(pairs), fmt, mode)


def test_exact_zero_is_positive_in_every_mode():
    zero = (np.array([127], np.uint8), np.zeros((1, 32), np.int8))
    for mode in MODES:
        assert int(ref.dot_product(zero, zero, BF16, mode)) == 0x0000


def test_cross_block_sum_is_exact():
    # 2^(E-12)*dot terms far apart: 1 + 2^-200 must round up in toward-pos, not be dropped
    one = np.zeros((2, 32), np.int8)
    one[:, 0] = 64
    a = (np.array([127 + 6, 127 - 94], np.uint8), one)
    b = (np.array([127, 127 - 94], np.uint8), one)
    # block 0: 2^(6+0-12) * 4096 = 2^6; block 1: 2^(-94-94-12) * 4096 = 2^-188
    assert int(ref.dot_product(a, b, BF16, RNE)) == bf16_of(Fraction(64))
    assert int(ref.dot_product(a, b, BF16, ref.TOWARD_POS)) == 0x4281


def test_generated_gemm_matches_dequantized_float_product():
    first, second = dists.op_inputs("gemm", 40, 70, 9, 5, element_mode=AWAY)
    assert first[0].shape == (40, 3) and second[0].shape == (3, 9)
    x = dumps.dequantize_mxint8(*first, shape=(40, 70), block_axis=1).astype(np.float64)
    y = dumps.dequantize_mxint8(*second, shape=(70, 9), block_axis=0).astype(np.float64)
    got = ref.gemm(first, second, FP32).view(np.float32)
    np.testing.assert_allclose(got, x @ y, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# numerics.md section 7: RoPE
# ---------------------------------------------------------------------------------------------

def test_rope_powers_and_thetas():
    assert ref.round_power(Fraction(10000), Fraction(1, 4), FP32) == (0x41200000, ref.Flags())
    assert ref.round_power(Fraction(10000), Fraction(1, 2), FP32)[0] == 0x42C80000
    thetas = ref.rope_theta(Fraction(10000), 128)
    assert thetas[0] == 0x3F800000 and thetas[16] == 0x3DCCCCCD      # 1 and RN32(1/10)
    with mpmath.workprec(300):
        for i in (1, 7, 33, 63):
            power = mpmath.power(10000, mpmath.mpf(2 * i) / 128)
            assert ref.round_power(Fraction(10000), Fraction(2 * i, 128), FP32)[0] == \
                _mp_round(power, FP32, RNE)


def test_rope_bf16_positions_4088_to_4095_round_to_4096():
    assert frac(ref.round_dyadic(4087, 0, BF16)[0]) == 4080
    assert {ref.round_dyadic(m, 0, BF16)[0] for m in range(4088, 4096)} == {bf16_of(4096)}
    thetas_b = [ref.round_dyadic(t.man, t.exp, BF16)[0]
                for t in (ref.decode(t, FP32) for t in ref.rope_theta(Fraction(10000), 128))]
    freqs, _, _ = ref._rope_row_bf16(bf16_of(4096), thetas_b)
    assert freqs == [bf16_of(4096 * frac(t)) for t in thetas_b]       # exact: a power of two


def test_rope_small_tables_against_high_precision():
    tables = ref.rope_tables(Fraction(10000), 8, 40, workers=1)
    assert set(tables) == {f"rope.{kind}_{dtype}" for kind in ("freq", "cos", "sin")
                           for dtype in ("bf16", "fp32")}
    assert tables["rope.cos_fp32"][0].tolist() == [0x3F800000] * 4
    assert tables["rope.sin_bf16"][0].tolist() == [0] * 4
    with mpmath.workprec(300):
        for fmt, suffix in ((FP32, "fp32"), (BF16, "bf16")):
            for m in (1, 5, 39):
                for i in range(4):
                    x = frac(int(tables[f"rope.freq_{suffix}"][m, i]), fmt)
                    xm = mpmath.mpf(x.numerator) / x.denominator
                    assert tables[f"rope.cos_{suffix}"][m, i] == _mp_round(mpmath.cos(xm), fmt, RNE)
                    assert tables[f"rope.sin_{suffix}"][m, i] == _mp_round(mpmath.sin(xm), fmt, RNE)


def test_cos_sin_near_a_zero_of_cos():
    x = 0x3FC90FDB          # the FP32 value nearest pi/2: cos is about -4.37e-8
    (cos, flags), (sin, _) = ref.cos_sin_round(x, FP32)
    with mpmath.workprec(300):
        xm = mpmath.mpf(frac(x, FP32).numerator) / frac(x, FP32).denominator
        assert cos == _mp_round(mpmath.cos(xm), FP32, RNE) and flags.inexact
        assert sin == 0x3F800000
    assert -4.38e-8 < float(frac(cos, FP32)) < -4.37e-8


# ---------------------------------------------------------------------------------------------
# docs/dump-format.md
# ---------------------------------------------------------------------------------------------

def test_mxint8_example_line(tmp_path):
    line = "7f000000000000000000000000000000000000000000000000000000000000f040"
    elements = np.zeros((1, 32), np.int8)
    elements[0, :2] = [64, -16]
    path = tmp_path / "softmaxed_v.exp_mxint8"
    dumps.write_mxint8(path, np.array([0x7F], np.uint8), elements)
    assert path.read_text() == line + "\n"
    scales, back = dumps.read_mxint8(path, (1,))
    assert scales.tolist() == [0x7F] and back.tolist() == elements.tolist()
    values = dumps.dequantize_mxint8(scales, back, shape=(2,), block_axis=0)
    assert values.tolist() == [1.0, -0.25]


def test_bf16_fp32_round_trip(tmp_path):
    bits = np.array([0x3F80, 0x0001, 0x7FC0, 0xFF80], np.uint16)
    dumps.write_bf16(tmp_path / "a", bits)
    assert (tmp_path / "a").read_text() == "3f80\n0001\n7fc0\nff80\n"
    back = dumps.read_bf16(tmp_path / "a", (2, 2))
    assert back.dtype == ml_dtypes.bfloat16 and float(back[0, 0]) == 1.0
    assert dumps.read_bf16_bits(tmp_path / "a").tolist() == bits.tolist()
    dumps.write_fp32(tmp_path / "b", np.array([1.0, -0.0], np.float32))
    assert (tmp_path / "b").read_text() == "3f800000\n80000000\n"
    assert dumps.read_fp32_bits(tmp_path / "b").tolist() == [0x3F800000, 0x80000000]
    with pytest.raises(TypeError):
        dumps.write_bf16(tmp_path / "c", np.array([1.0]))        # float64 would round silently


@pytest.mark.parametrize("text, message", [
    ("3f80\n3f8\n", "x:2: expected 4 hex digits, got 3"),
    ("3f80\n3g80\n", "x:2: 'g' is not a lowercase hex digit"),
    ("3F80\n", "x:1: 'F' is not a lowercase hex digit"),
    ("3f80\r\n", "x:1: expected 4 hex digits, got 5"),
    ("3f80\n3f80", "x:2: last line '3f80' is not terminated"),
    ("3f80\n\n", "x:2: expected 4 hex digits, got 0"),
    ("3f80\n", "x:2: expected 2 lines for shape [2], the file has 1"),
])
def test_strict_parsing(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_bytes(text.encode())
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dumps.read_bf16_bits("x", (2,))


def test_manifest_load_case(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    dumps.write_bf16(case / "softmaxed_v.qk_T", np.arange(8, dtype=np.uint16))
    data = (case / "softmaxed_v.qk_T").read_bytes()
    manifest = {"format_version": 1, "files": {"softmaxed_v.qk_T": {
        "dtype": "bf16", "shape": [1, 2, 1, 4], "lines": 8,
        "sha256": hashlib.sha256(data).hexdigest()}}}
    (case / "manifest.json").write_text(json.dumps(manifest))
    tensors = dumps.load_case(case)
    assert tensors["softmaxed_v.qk_T"].shape == (1, 2, 1, 4)
    (case / "softmaxed_v.qk_T").write_bytes(data.replace(b"0000", b"0001", 1))
    with pytest.raises(ValueError, match="sha256"):
        dumps.load_case(case)


# ---------------------------------------------------------------------------------------------
# End to end through the command line
# ---------------------------------------------------------------------------------------------

def test_softmax_stages_against_fraction_arithmetic():
    """Every stage of a small case recomputed from the spec with Fractions and the scalar
    generator; only e^x is taken from the reference (it is checked against mpmath above)."""
    heads, kv, dim, seed = 2, 37, 3, 8
    qk, v = dists.softmax_inputs(kv, seed, heads, dim, AWAY)
    got = ref.softmax_v(qk, v, AWAY)
    draws_qk = scalar_splitmix64(ref.stream_start(seed, 0), heads * kv)
    draws_v = scalar_splitmix64(ref.stream_start(seed, 1), heads * kv * dim)

    def real(draw, r):
        return Fraction((draw >> 40) - (1 << 23)) * pow2(r - 23)

    for h in range(heads):
        assert qk[h].tolist() == [ref.round_fraction(real(draws_qk[h * kv + j], 3), BF16)[0]
                                  for j in range(kv)]
        exps = [ref.exp_round(int(x))[0] for x in qk[h]]
        assert got["softmaxed_v.exp-bf16"][h].tolist() == exps
        exp_sum = ref.round_fraction(sum(frac(b) for b in exps), BF16)[0]
        assert got["softmaxed_v.exp_sum"][h] == exp_sum
        exp_values = [frac(b) for b in exps] + [Fraction(0)] * (64 - kv)
        exp_blocks = [scalar_quantize(exp_values[32 * b: 32 * b + 32], AWAY) for b in range(2)]
        v_blocks = {}
        for d in range(dim):
            column = [real(draws_v[(h * kv + j) * dim + d], 2) for j in range(kv)]
            column += [Fraction(0)] * (64 - kv)
            for b in range(2):
                v_blocks[b, d] = scalar_quantize(column[32 * b: 32 * b + 32], AWAY)
                assert (int(v[0][h, b, d]), v[1][h, b, d].tolist()) == v_blocks[b, d]
        for b in range(2):
            assert got["softmaxed_v.exp_mxint8"][0][h, b] == exp_blocks[b][0]
            assert got["softmaxed_v.exp_mxint8"][1][h, b].tolist() == exp_blocks[b][1]
        inv = ref.round_fraction(1 / frac(exp_sum), BF16)[0]
        assert got["softmaxed_v.inv"][h] == inv
        for d in range(dim):
            exact = sum(qe * qv * pow2(exp_blocks[b][0] + v_blocks[b, d][0] - 254 - 12)
                        for b in range(2)
                        for qe, qv in zip(exp_blocks[b][1], v_blocks[b, d][1]))
            scaled = ref.round_fraction(exact, BF16)[0]
            assert got["softmaxed_v.scaled_v"][h, d] == scaled
            assert got["softmaxed_v.out"][h, d] == ref.round_fraction(
                frac(scaled) * frac(inv), BF16)[0]


def test_softmax_case_files_and_inputs_round_trip(tmp_path):
    assert ref.main(["softmax", "--kv-size", "33", "--seed", "4", "--out", str(tmp_path)]) == 0
    case = tmp_path / "kv-size-33_seed-4"
    assert sorted(p.name for p in case.iterdir()) == sorted(ref.SOFTMAX_FILES + (ref.FLAGS_FILE,))
    lines = {name: len((case / name).read_text().splitlines()) for name in ref.SOFTMAX_FILES}
    assert lines == {"softmaxed_v.qk_T": 32 * 33, "softmaxed_v.exp-bf16": 32 * 33,
                     "softmaxed_v.exp_sum": 32, "softmaxed_v.v": 32 * 2 * 128,
                     "softmaxed_v.exp_mxint8": 32 * 2, "softmaxed_v.scaled_v": 4096,
                     "softmaxed_v.inv": 32, "softmaxed_v.out": 4096}
    # v's padding rows 33..63 are zero, and out approximates softmax(qk) @ v
    qk = dumps.read_bf16(case / "softmaxed_v.qk_T", (32, 33)).astype(np.float64)
    v_scales, v_elements = dumps.read_mxint8(case / "softmaxed_v.v", (32, 2, 128))
    assert not v_elements[:, 1, :, 1:].any()
    v = dumps.dequantize_mxint8(v_scales, v_elements, (32, 33, 128), 1).astype(np.float64)
    weights = np.exp(qk) / np.exp(qk).sum(axis=1, keepdims=True)
    expected = np.einsum("hj,hjd->hd", weights, v)
    out = dumps.read_bf16(case / "softmaxed_v.out", (32, 128)).astype(np.float64)
    np.testing.assert_allclose(out, expected, rtol=0.05, atol=0.05)

    flat = tmp_path / "flat"
    assert ref.main(["softmax", "--inputs", str(case), "--out", str(flat)]) == 0
    for name in ref.SOFTMAX_FILES:
        assert (flat / name).read_bytes() == (case / name).read_bytes(), name


def test_softmax_rejects_bad_inputs(tmp_path, capsys):
    case = tmp_path / "case"
    ref.main(["softmax", "--kv-size", "3", "--seed", "1", "--heads", "2", "--head-dim", "4",
              "--out", str(case)])
    folder = case / "kv-size-3_seed-1"
    v = folder / "softmaxed_v.v"
    text = v.read_text().splitlines()
    text[5] = text[5][:2] + "01" + text[5][4:]        # element 31 is padding (N = 3)
    v.write_text("\n".join(text) + "\n")
    assert ref.main(["softmax", "--inputs", str(folder), "--heads", "2", "--head-dim", "4",
                     "--out", str(tmp_path / "o")]) == 1
    assert "softmaxed_v.v:6: nonzero padding" in capsys.readouterr().err


def test_op_cli_and_inputs(tmp_path):
    assert ref.main(["op", "gevm", "--m", "40", "--k", "3", "--seed", "9", "--out",
                     str(tmp_path), "--out-dtype", "fp32", "--rounding", "toward-zero"]) == 0
    case = tmp_path / "gevm_m-40_k-3_seed-9"
    assert (case / "gevm.output").read_text().count("\n") == 3
    assert len((case / "gevm.output").read_text().splitlines()[0]) == 8
    again = tmp_path / "again"
    assert ref.main(["op", "gevm", "--inputs", str(case), "--m", "40", "--out", str(again),
                     "--out-dtype", "fp32", "--rounding", "toward-zero"]) == 0
    for name in ref.OP_FILES["gevm"]:
        assert (again / name).read_bytes() == (case / name).read_bytes()
    assert ref.main(["op", "gemm", "--m", "3", "--k", "33", "--n", "2", "--seed", "1",
                     "--out", str(tmp_path)]) == 0
    gemm_case = tmp_path / "gemm_m-3_k-33_n-2_seed-1"
    assert ref.main(["op", "gemm", "--inputs", str(gemm_case), "--n", "2", "--out",
                     str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "gemm.output").read_bytes() == \
        (gemm_case / "gemm.output").read_bytes()
    assert ref.main(["op", "dot", "--m", "1", "--seed", "0", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "dot_m-1_seed-0" / "dot.output").read_text().count("\n") == 1


def test_tables_cli(tmp_path):
    assert ref.main(["recip-table", "--out", str(tmp_path / "r")]) == 0
    lines = (tmp_path / "r").read_text().splitlines()
    assert len(lines) == 65536 and lines[0x4040] == "3eab" and lines[0x7FC1] == "7fc0"
    assert lines[0x0000] == "7f80" and lines[0x8000] == "ff80"
