"""Input distributions of the generator (docs/numerics.md §5 and §5.1), written from the
documents alone: `uniform` (the dataset's), `corners` (TestFloat-style special values, exponent
boundaries, ties and extreme MXINT8 blocks) and `mixed` (uniform or corners row by row and block
by block).

Every generated tensor has an element stream k (the uniform rule's stream) and a plan stream
k + 8 with one draw per row (qk_T), per block (MXINT8 operands, the quantize input).  A row or
block is built from its own draws only, so it can be replaced independently: qk_T and the
MXINT8 operands start from the uniform tensor (§5's rule on reference.py's `draw_reals` and
quantizer, the path `uniform` always took) and overwrite the rows or blocks whose plan says
otherwise; the quantize input picks per block.

Entry points: `softmax_inputs`, `op_inputs`, `quantize_input`; `mx_op_inputs` for the
operands of the other MX formats (`sim op --mx-format`) and `softmax_mx_inputs` for a softmax_v
whose v is in another MX format (`sim run --v-format`, §3.7).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import mx
import reference as ref
from reference import BF16, NEAREST_AWAY

UNIFORM, CORNERS = ref.DISTS[:2]         # and "mixed"
PLAN_STREAM_OFFSET = 8

# docs/numerics.md §5.1, as BF16 bit patterns (T[x] means T[x mod len(T)]).
QK_SPECIALS = (0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x807F, 0x0080, 0x8080,
               0x3F80, 0xBF80, 0x42B1, 0x42B2, 0x42B3, 0xC2B9, 0xC2BA, 0xC2BB,
               0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0x42AF, 0xC2B4, 0x3C00)
QK_CONSTANTS = (0x0000, 0x3C00, 0x42B1, 0x42AF, 0xC2B9, 0xC2B4, 0xC2BA, 0xFF80)
QK_BOUNDARY = (0x42AE, 0x42AF, 0x42B0, 0x42B1, 0x42B2, 0x42B3, 0xC2B6, 0xC2B7,
               0xC2B8, 0xC2B9, 0xC2BA, 0xC2BB, 0x0001, 0x8001, 0x0080, 0x8080)
QK_EXPONENTS = (0, 1, 2, 100, 118, 119, 120, 121, 126, 127, 128, 129, 130, 131, 132, 133)
QK_LARGE = (0x42B1, 0x42AF, 0x42A0, 0x4270)
QE = (-10, 0, 5, 100, -120)
QF = (-10, 0, 5, 40, -40)       # E_b of the quantize input's kinds 1 and 2 for the FP formats
QUANTIZE_SPECIALS = (0x7F80, 0xFF80, 0x7FC0)
QUANTIZE_EXTREMES = (0, 1, 2, 126, 127, 128, 253, 254)
CORNER_SMALL_SCALES = (0x01, 0x02, 0x10, 0x40)
CORNER_SPARSE_ELEMENTS = (0, 0, 0, 0, 0, 0, 1, -1)

QK_R, OPERAND_R = 3, 2          # the uniform rule's ranges [-2^r, 2^r) (§5 table)


def check_dist(dist: str) -> None:
    if dist not in ref.DISTS:
        raise ValueError(f"unknown distribution {dist!r}; expected one of "
                         f"{', '.join(ref.DISTS)}")


def draw_array(seed: int, stream: int, count: int) -> np.ndarray:
    """z(stream, 0 .. count-1): the raw SplitMix64 outputs, uint64."""
    return ref.splitmix64(ref.stream_start(seed, stream), count)


def draws(seed: int, stream: int, count: int) -> list[int]:
    """z(stream, 0 .. count-1) as Python integers."""
    return draw_array(seed, stream, count).tolist()


def corner_plans(seed: int, stream: int, count: int, dist: str) -> list[int | None]:
    """Per row or block of the tensor on `stream`: the plan draw its corners rule uses, or None
    when it is drawn as under `uniform`.  `mixed` takes even plan draws as uniform and odd ones
    as corners with plan draw p >> 1."""
    check_dist(dist)
    if dist == UNIFORM:
        return [None] * count
    plans = draws(seed, stream + PLAN_STREAM_OFFSET, count)
    if dist == CORNERS:
        return plans
    return [p >> 1 if p & 1 else None for p in plans]


def uniform_bf16(z: int, r: int) -> int:
    """The uniform rule's element from draw z: RNE_bf16(((z >> 40) - 2^23) * 2^(r - 23))."""
    return ref.round_dyadic((z >> 40) - (1 << 23), r - 23, BF16)[0]


def bf16_pattern(sign: int, biased_exponent: int, fraction: int) -> int:
    return sign << 15 | biased_exponent << 7 | fraction


def exact_bf16(man: int, exp: int) -> int:
    """BF16 bits of man * 2^exp, which the tables guarantee to be representable."""
    bits, flags = ref.round_dyadic(man, exp, BF16)
    assert not flags.inexact, (man, exp)
    return bits


# ==============================================================================================
# qk_T (softmax_v stream 0)
# ==============================================================================================

def qk_corner_element(p: int, j: int, n: int, z: int) -> int:
    """Element j of a corners qk_T row of length n with plan draw p, from its draw z."""
    kind = p % 8
    if kind == 1:
        return QK_SPECIALS[z % len(QK_SPECIALS)]
    if kind == 2:
        return QK_CONSTANTS[(p >> 8) % len(QK_CONSTANTS)]
    if kind == 3:
        return QK_BOUNDARY[z % len(QK_BOUNDARY)]
    if kind == 4:
        return bf16_pattern(z >> 63, QK_EXPONENTS[(z >> 32) % len(QK_EXPONENTS)], z % 128)
    if kind == 5 and j == (p >> 8) % n:
        return QK_LARGE[(p >> 16) % len(QK_LARGE)]
    if kind == 6 and z % 8 == 0:
        return QK_SPECIALS[(z >> 8) % len(QK_SPECIALS)]
    if kind == 7:
        return 0x0000 if z % 2 == 0 else 0xFF80
    return uniform_bf16(z, QK_R)                 # kind 0, and the other elements of 5 and 6


def qk_rows(seed: int, heads: int, n: int, dist: str) -> np.ndarray:
    """qk_T [heads, n] BF16 bits; head h is a row with plan draw z(8, h) and element j drawn
    from z(0, h n + j), the uniform rule's draw of that element."""
    plans = corner_plans(seed, 0, heads, dist)
    qk = uniform_qk(seed, heads, n)
    if any(p is not None for p in plans):
        z = draws(seed, 0, heads * n)
        for h, p in enumerate(plans):
            if p is not None:
                qk[h] = [qk_corner_element(p, j, n, z[h * n + j]) for j in range(n)]
    return qk


def uniform_qk(seed: int, heads: int, n: int) -> np.ndarray:
    """§5: stream 0, r = 3, then RNE_bf16 (reference.py's rule, for byte identity)."""
    w, e = ref.draw_reals(seed, 0, (heads, n), QK_R)
    return np.array([ref.round_dyadic(x, e, BF16)[0] for x in w.ravel().tolist()],
                    dtype=np.uint16).reshape(heads, n)


# ==============================================================================================
# MXINT8 operands (v; dot/gevm/gemm operands)
# ==============================================================================================

def _kind_table() -> tuple[np.ndarray, np.ndarray]:
    """(scale rule, element rule) per block kind p mod 32: the row of the §5.1 block table,
    as indices into the choices of `corner_blocks`."""
    scale_rule = [0] + [1] * 2 + [2] * 2 + [3] * 2 + [4] * 2 + [5] * 3 + [6] * 4 + [7] * 16
    element_rule = [0] + [1] * 2 + [0] * 4 + [2] * 2 + [3] * 3 + [4] * 4 + [0] * 16
    return np.array(scale_rule), np.array(element_rule)


SCALE_RULE, ELEMENT_RULE = _kind_table()


def _mod(x: np.ndarray, n: int) -> np.ndarray:
    """x mod n for uint64 draws, as int64 (exact: the result is below n)."""
    return (x % np.uint64(n)).astype(np.int64)


def corner_blocks(plans: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corners MXINT8 blocks from plan draws [G] and element draws [G, 32] (uint64):
    (scales uint8 [G], elements int8 [G, 32]), before the padding is cleared."""
    kind = _mod(plans, 32)
    scale = corner_scales(plans)
    as_int8 = _mod(z, 256) - 256 * (_mod(z, 256) >= 128)
    elements = np.choose(np.broadcast_to(ELEMENT_RULE[kind][:, None], z.shape), [
        as_int8, 0, -128, np.where(_mod(z, 2) == 0, 127, -128),
        np.array(CORNER_SPARSE_ELEMENTS)[_mod(z, 8)]])
    return scale, elements.astype(np.int8)


def corner_scales(plans: np.ndarray) -> np.ndarray:
    """The scale byte of corners blocks (uint8 [G]) from their plan draws (uint64 [G]): the
    scale column of the §5.1 block table, shared by every MX format."""
    kind, select = _mod(plans, 32), plans >> np.uint64(8)
    scale = np.choose(SCALE_RULE[kind], [
        0xFF, _mod(select, 255), 0x00, 0xFE, 127 + _mod(select, 4), 120 + _mod(select, 16),
        np.array(CORNER_SMALL_SCALES)[_mod(select, 4)], 100 + _mod(select, 56)])
    return scale.astype(np.uint8)


def mxint8_operand(seed: int, stream: int, shape: Sequence[int], axis: int, dist: str,
                   element_mode: str = NEAREST_AWAY) -> tuple[np.ndarray, np.ndarray]:
    """An MXINT8 tensor of logical `shape` blocked along `axis`: (scales [grid], elements
    [grid + [32]]).  Uniform blocks quantize the uniform reals (r = 2); block g of the grid in
    row-major order has plan draw z(stream + 8, g) and element draws z(stream, 32 g + i)."""
    w, e = ref.draw_reals(seed, stream, shape, OPERAND_R)
    scales, elements = ref.quantize_along(w, e, False, axis, element_mode)
    grid = scales.shape
    plans = corner_plans(seed, stream, scales.size, dist)
    g = np.flatnonzero([p is not None for p in plans])
    if g.size:
        # flat copies in block order: quantize_along's elements are a strided view
        scales, elements = scales.reshape(-1), elements.reshape(-1, ref.BLOCK).copy()
        z = draw_array(seed, stream, ref.BLOCK * scales.size).reshape(-1, ref.BLOCK)
        corner_scales, corner_elements = corner_blocks(
            np.array([plans[i] for i in g], dtype=np.uint64), z[g])
        inside = ref.to_blocks(np.ones(shape, dtype=bool), axis, False).reshape(-1, ref.BLOCK)
        scales[g] = corner_scales
        elements[g] = np.where(inside[g], corner_elements, 0)
    return scales.reshape(grid), elements.reshape(grid + (ref.BLOCK,))


# ==============================================================================================
# Operands of the other MX formats (`sim op --mx-format`, §5.1 and §8)
# ==============================================================================================

def mx_corner_codes(fmt) -> tuple[int, int, tuple[int, ...]]:
    """(M, S, X) of §5.1's table for the MX format `fmt`: M its largest finite positive code,
    S its sign bit, X the list M, M | S, then its non-finite positive codes above M in
    increasing order."""
    fmt = mx.get_format(fmt)
    top, sign = mx.max_code(fmt), fmt.sign_bit
    specials = sorted(c for c in fmt.nan_codes | fmt.inf_codes if top < c < sign)
    return top, sign, (top, top | sign, *specials)


def mx_corner_blocks(plans: np.ndarray, z: np.ndarray, fmt) -> tuple[np.ndarray, np.ndarray]:
    """Corners blocks of an fp MX format from plan draws [G] and element draws [G, 32]
    (uint64): (scales uint8 [G], codes uint8 [G, 32]), before the padding is cleared.  The
    scale column and the block kinds are those of the MXINT8 table; the elements are w-bit
    codes (§5.1, "Operands of the other MX formats")."""
    fmt = mx.get_format(fmt)
    top, sign, extremes = mx_corner_codes(fmt)
    kind = _mod(plans, 32)
    sparse = np.array((0, 0, 0, 0, 0, 1, sign | 1, sign))
    codes = np.choose(np.broadcast_to(ELEMENT_RULE[kind][:, None], z.shape), [
        _mod(z, fmt.codes), 0, np.where(_mod(z, 2) == 0, top, top | sign),
        np.array(extremes)[_mod(z, len(extremes))], sparse[_mod(z, 8)]])
    return corner_scales(plans), codes.astype(np.uint8)


def mx_operand(seed: int, stream: int, shape: Sequence[int], axis: int, dist: str, fmt,
               rule: str = "floor", rounding: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """An operand of MX format `fmt` with logical `shape` blocked along `axis`: (scales uint8
    [grid], codes uint8 [grid + [32]]).  Uniform blocks quantize the uniform reals of the
    MXINT8 operands (stream `stream`, r = 2) with mx.py's quantizer, the scale `rule` and the
    element `rounding` (None: the format's default); corner blocks (same plans as the MXINT8
    operands) are drawn as codes: mxint8 keeps the MXINT8 table, the fp formats take theirs."""
    fmt = mx.get_format(fmt)
    w, e = ref.draw_reals(seed, stream, shape, OPERAND_R)
    reals = np.ldexp(w.astype(np.float64), e)             # exact: |w| < 2^23
    scales, codes, _ = mx.quantize_array(ref.to_blocks(reals, axis, 0.0), fmt, rule, rounding)
    grid = scales.shape
    plans = corner_plans(seed, stream, scales.size, dist)
    g = np.flatnonzero([p is not None for p in plans])
    if g.size:
        scales, codes = scales.reshape(-1).copy(), codes.reshape(-1, ref.BLOCK).copy()
        z = draw_array(seed, stream, ref.BLOCK * scales.size).reshape(-1, ref.BLOCK)
        chosen = np.array([plans[i] for i in g], dtype=np.uint64)
        if fmt.kind == "int":
            block_scales, corner_elements = corner_blocks(chosen, z[g])
            corner_codes = corner_elements.view(np.uint8)
        else:
            block_scales, corner_codes = mx_corner_blocks(chosen, z[g], fmt)
        inside = ref.to_blocks(np.ones(shape, dtype=bool), axis, False).reshape(-1, ref.BLOCK)
        scales[g] = block_scales
        codes[g] = np.where(inside[g], corner_codes, 0)
    return scales.reshape(grid), codes.reshape(grid + (ref.BLOCK,))


def mx_op_inputs(op: str, m: int, k: int | None, n: int | None, seed: int, formats,
                 dist: str = UNIFORM, rule: str = "floor", rounding: str | None = None
                 ) -> tuple[tuple, tuple]:
    """The two operands of dot/gevm/gemm in the MX formats `formats` (first, second): stream 0
    the first, stream 1 the second, as `op_inputs`."""
    first_shape, first_axis, second_shape, second_axis = ref.op_shapes(op, m, k, n)
    first_fmt, second_fmt = formats
    return (mx_operand(seed, 0, first_shape, first_axis, dist, first_fmt, rule, rounding),
            mx_operand(seed, 1, second_shape, second_axis, dist, second_fmt, rule, rounding))


# ==============================================================================================
# The quantize op's input (stream 0)
# ==============================================================================================

def quantize_corner_element(p: int, i: int, z: int, fmt=None) -> int:
    """Element i of a corners quantize block with plan draw p, from its draw z (BF16 bits).
    `fmt` is the MX format of `sim op quantize --mx-format` (None: the dataset's MXINT8 op);
    the FP formats take their own E_b table and kinds 1 and 2 (§5.1, "quantize input under
    `corners` for the FP formats"), mxint8 keeps the MXINT8 table."""
    fmt = None if fmt is None else mx.get_format(fmt)
    kind, s = p % 8, z >> 63
    if kind in (1, 2) and fmt is not None and fmt.kind == "fp":
        return _fp_tie_element(kind, p, i, z, fmt)
    e_b = QE[(p >> 8) % len(QE)]
    sign = -1 if s else 1
    if kind in (1, 2):
        if i == 0:
            # kind 1: 2^E_b sets the block exponent; kind 2: 127.5 steps, clamped to 127
            return exact_bf16(1, e_b) if kind == 1 else exact_bf16(sign * 255, e_b - 7)
        return exact_bf16(sign * (2 * ((z >> 8) % 64) + 1), e_b - 7)     # half a step: a tie
    if kind == 3:
        return s << 15 | (1 + (z >> 8) % 127)
    if kind == 4 and i == 0:
        return QUANTIZE_SPECIALS[(p >> 16) % len(QUANTIZE_SPECIALS)]
    if kind == 5:
        return 0x0000 if z % 2 == 0 else 0x8000
    if kind == 6:
        return bf16_pattern(s, QUANTIZE_EXTREMES[(z >> 32) % len(QUANTIZE_EXTREMES)], z % 128)
    if kind == 7:
        return bf16_pattern(s, 120 + (z >> 32) % 16, z % 128)
    return uniform_bf16(z, OPERAND_R)          # kind 0, and elements 1.. of kind 4


def _fp_tie_element(kind: int, p: int, i: int, z: int, fmt) -> int:
    """Kinds 1 (ties) and 2 (saturation) of the FP formats' quantize input: E_b = QF[p >> 8],
    aimed at F's grid (emax, emin = 1 - bias, mbits)."""
    e_b = QF[(p >> 8) % len(QF)]
    emax, emin, mbits = fmt.emax, fmt.emin, fmt.mbits
    sign = -1 if z >> 63 else 1
    if i == 0:
        if kind == 1:
            return exact_bf16(1, e_b + emax)                   # E is at least E_b
        # just below 2^(E_b + emax + 1): saturates under floor
        return exact_bf16(sign * ((1 << (mbits + 3)) - 1), e_b + emax - mbits - 2)
    c = (z >> 16) % (emax - emin + 2)
    k = (z >> 8) % (1 << mbits)
    if c <= emax - emin:                  # halfway between two normal codes of binade emax - c
        return exact_bf16(sign * ((1 << (mbits + 1)) + 2 * k + 1), e_b + emax - c - mbits - 1)
    return exact_bf16(sign * (2 * k + 1), e_b + emin - mbits - 1)   # between two subnormals


def quantize_input(seed: int, m: int, dist: str, fmt=None) -> np.ndarray:
    """The quantize op's input [m] BF16 bits: uniform r = 2 then RNE_bf16; block g (elements
    32 g .. 32 g + 31) has plan draw z(8, g).  `fmt`: the MX format of `sim op quantize
    --mx-format` (None or mxint8: the MXINT8 corner table; an FP format: its own kinds 1, 2)."""
    plans = corner_plans(seed, 0, -(-m // ref.BLOCK), dist)
    fmt = None if fmt is None else mx.get_format(fmt)
    z = draws(seed, 0, m)
    bits = []
    for index, x in enumerate(z):
        p = plans[index // ref.BLOCK]
        bits.append(uniform_bf16(x, OPERAND_R) if p is None
                    else quantize_corner_element(p, index % ref.BLOCK, x, fmt))
    return np.array(bits, dtype=np.uint16)


# ==============================================================================================
# Per operation
# ==============================================================================================

def softmax_inputs(kv_size: int, seed: int, heads: int, head_dim: int, element_mode: str,
                   dist: str = UNIFORM) -> tuple[np.ndarray, tuple]:
    """qk_T [H, N] BF16 bits (stream 0) and v [H, N, D] blocked along kv (stream 1)."""
    qk = qk_rows(seed, heads, kv_size, dist)
    v = mxint8_operand(seed, 1, (heads, kv_size, head_dim), 1, dist, element_mode)
    return qk, v


def softmax_mx_inputs(kv_size: int, seed: int, heads: int, head_dim: int, v_format,
                      rule: str = "floor", rounding: str | None = None, dist: str = UNIFORM
                      ) -> tuple[np.ndarray, tuple]:
    """qk_T [H, N] BF16 bits (stream 0, as `softmax_inputs`) and v [H, N, D] of the MX format
    `v_format` blocked along kv (docs/numerics.md §3.7): the same reals of stream 1 and the same
    block plans as the MXINT8 v, quantized to the format by mx.py's quantizer under the scale
    `rule` with the element `rounding` (None: the format's default); corner blocks aimed at the
    format's edges (§5.1, mxint8 keeping the MXINT8 table).  v is (scales uint8 [H, nb, D],
    codes uint8 [H, nb, D, 32])."""
    qk = qk_rows(seed, heads, kv_size, dist)
    v = mx_operand(seed, 1, (heads, kv_size, head_dim), 1, dist, v_format, rule, rounding)
    return qk, v


def op_inputs(op: str, m: int, k: int | None, n: int | None, seed: int, dist: str = UNIFORM,
              element_mode: str = NEAREST_AWAY) -> tuple[tuple, tuple]:
    """The two operands of dot/gevm/gemm: stream 0 the first, stream 1 the second."""
    first_shape, first_axis, second_shape, second_axis = ref.op_shapes(op, m, k, n)
    return (mxint8_operand(seed, 0, first_shape, first_axis, dist, element_mode),
            mxint8_operand(seed, 1, second_shape, second_axis, dist, element_mode))
