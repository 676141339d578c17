"""Stimuli of the cocotb testbenches: BF16 corners (specials, subnormals, overflow edges),
products that land exactly on a rounding tie, and random patterns.  Pure integer arithmetic on
bit patterns, so the stimuli do not depend on the model they are checked against."""

from __future__ import annotations

import random
from typing import List, Tuple

SIGN = 0x8000

# Magnitudes: zero, subnormals (smallest, largest, a middle one), the smallest normals, 1 and its
# neighbours, the largest finite, infinity, NaNs (quiet, signalling-looking, all ones), and
# powers of two far up and down.
CORNER_MAGNITUDES = [0x0000, 0x0001, 0x0002, 0x0040, 0x007F, 0x0080, 0x0081, 0x00FF, 0x3F7F,
                     0x3F80, 0x3F81, 0x3FFF, 0x1F80, 0x5F80, 0x7F00, 0x7F7F, 0x7F80, 0x7FC0,
                     0x7F81, 0x7FFF]


def corners() -> List[int]:
    return CORNER_MAGNITUDES + [m | SIGN for m in CORNER_MAGNITUDES]


def bf16(sign: int, biased_exp: int, significand: int) -> int:
    """A normal BF16 pattern from its fields (significand with its hidden bit, 128..255)."""
    return (sign << 15) | (biased_exp << 7) | (significand & 0x7F)


def tie_pairs(rng: random.Random, count: int) -> List[Tuple[int, int]]:
    """Operand pairs whose exact product lies exactly halfway between two BF16 values.

    The product of two 8-bit significands has 15 or 16 bits; it is a tie when the bits below
    the kept 8 are exactly 100...0.  Exponents are drawn so that the result is a normal number,
    or, for a quarter of the pairs, a subnormal (where the halfway bit sits higher up).
    """
    ties = []
    for ma in range(128, 256):
        for mb in range(128, 256):
            p = ma * mb
            drop = 8 if p >= 1 << 15 else 7
            if p & ((1 << drop) - 1) == 1 << (drop - 1):
                ties.append((ma, mb))
    pairs = []
    for _ in range(count):
        ma, mb = rng.choice(ties)
        # The product is P * 2^(ea + eb - 268) with P's leading bit at 14 or 15, so its exponent
        # is about ea + eb - 253: a sum in 128..378 gives a normal result, 120..126 a subnormal.
        total = rng.randint(128, 378) if rng.random() < 0.75 else rng.randint(120, 126)
        ea = rng.randint(max(1, total - 254), min(254, total - 1))
        pairs.append((bf16(rng.getrandbits(1), ea, ma), bf16(rng.getrandbits(1), total - ea, mb)))
    return pairs


def multiplier_stimuli(seed: int, n_random: int, n_ties: int) -> List[Tuple[int, int]]:
    """Every pair of corners, products on ties, products into the subnormal range, and random
    pairs, shuffled."""
    rng = random.Random(seed)
    c = corners()
    pairs = [(a, b) for a in c for b in c]
    pairs += tie_pairs(rng, n_ties)
    for _ in range(n_random // 4):                           # tiny products: subnormal results
        ea = rng.randint(1, 70)
        eb = rng.randint(1, 130 - ea)
        pairs.append((bf16(rng.getrandbits(1), ea, rng.randint(128, 255)),
                      bf16(rng.getrandbits(1), eb, rng.randint(128, 255))))
    pairs += [(rng.getrandbits(16), rng.getrandbits(16)) for _ in range(n_random)]
    rng.shuffle(pairs)
    return pairs


def exp_stimuli(seed: int, n_random: int) -> List[int]:
    """Corners, every input whose e^x is subnormal, the last finite and first overflowing
    inputs (0x42b1, 0x42b2) with their neighbours, and random patterns, shuffled."""
    rng = random.Random(seed)
    xs = corners()
    xs += list(range(0xC2AE, 0xC2BC))        # x in [-87, -94]: subnormal results, then +0
    xs += list(range(0x42AE, 0x42B6))        # x around 88.7: the overflow boundary
    xs += [rng.getrandbits(16) for _ in range(n_random)]
    rng.shuffle(xs)
    return xs
