"""dot_product, gevm and gemm of MX tensors (docs/numerics.md §6 and §8), computed as `sim op`
computes them: the exact sum of every block's element products times both scales, rounded once.
The operands may be of any MX formats, each its own (`sim op --mx-format A,B`); two mxint8
operands take the dataset's MXINT8 path (integer block dot products weighted by
2^(Ea + Eb - 12)), as `sim op` without --mx-format does."""

from __future__ import annotations

from typing import List, Literal, Tuple, Union, overload

import numpy as np

from . import _native
from ._convert import BFLOAT16, Array, FlagArray, flag, text
from .mx import MxTensor

Result = Union[Array, Tuple[Array, FlagArray]]


def _operand(t: object, name: str, ndim: int, axis: int) -> MxTensor:
    if not isinstance(t, MxTensor):
        raise TypeError(f"{name}: expected an hwsim.MxTensor, got {type(t).__name__}")
    t = t._checked(name)
    if len(t.shape) != ndim or t.axis != axis:
        want = "[m]" if ndim == 1 else "a matrix"
        raise ValueError(f"{name}: expected {want} blocked on axis {axis}, got shape {t.shape} "
                         f"blocked on axis {t.axis}")
    return t


def _flat(t: MxTensor) -> Tuple[Array, Array, List[int], int]:
    return t.scales.reshape(-1), t.elements.reshape(-1), list(t.shape), t.axis


def _flat_codes(t: MxTensor) -> Tuple[Array, Array, List[int], int, str]:
    return (t.scales.reshape(-1), t.elements.reshape(-1).view(np.uint8), list(t.shape), t.axis,
            t.format)


def _run(op: str, dims: Tuple[int, int, int], a: MxTensor, b: MxTensor, shape: Tuple[int, ...],
         out_dtype: str, rounding: str, flags: bool) -> Result:
    out_dtype, rounding = text(out_dtype, "out_dtype"), text(rounding, "rounding")
    flags = flag(flags, "flags")
    if a.format == b.format == "mxint8":
        bits, fl = _native.block_matmul(op, dims, _flat(a), _flat(b), out_dtype, rounding)
    else:
        bits, fl = _native.mx_block_matmul(op, dims, _flat_codes(a), _flat_codes(b), out_dtype,
                                           rounding)
    values = bits.view(BFLOAT16 if out_dtype == "bf16" else np.float32).reshape(shape)
    return (values, fl.reshape(shape)) if flags else values


@overload
def dot(a: MxTensor, b: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: Literal[False] = ...) -> Array: ...
@overload
def dot(a: MxTensor, b: MxTensor, out_dtype: str = ..., rounding: str = ..., *,
        flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def dot(a: MxTensor, b: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: bool = ...) -> Result: ...
def dot(a: MxTensor, b: MxTensor, out_dtype: str = "bf16", rounding: str = "nearest-even",
        flags: bool = False) -> Result:
    """Dot product of two MX vectors [m] blocked on axis 0: a 0-d array.

    a and b may be of any MX formats (MxTensor.format), the same or different.
    out_dtype "bf16" (an ml_dtypes.bfloat16 result) or "fp32" (float32); rounding one of
    nearest-even, nearest-away, toward-zero, toward-pos, toward-neg.  NaN if any scale is 0xff;
    NaN and infinite element codes follow IEEE (inf * 0 and inf - inf are invalid NaN).
    With flags=True returns (value, flags).
    """
    a, b = _operand(a, "a", 1, 0), _operand(b, "b", 1, 0)
    if a.shape != b.shape:
        raise ValueError(f"a and b: lengths {a.shape[0]} and {b.shape[0]} differ")
    return _run("dot", (a.shape[0], 1, 1), a, b, (), out_dtype, rounding, flags)


@overload
def gevm(vector: MxTensor, matrix: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: Literal[False] = ...) -> Array: ...
@overload
def gevm(vector: MxTensor, matrix: MxTensor, out_dtype: str = ..., rounding: str = ..., *,
        flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def gevm(vector: MxTensor, matrix: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: bool = ...) -> Result: ...
def gevm(vector: MxTensor, matrix: MxTensor, out_dtype: str = "bf16",
         rounding: str = "nearest-even", flags: bool = False) -> Result:
    """vector [m] @ matrix [m, k], both blocked along m (axis 0), of any MX formats: an array
    [k] (arguments as dot's)."""
    vector, matrix = _operand(vector, "vector", 1, 0), _operand(matrix, "matrix", 2, 0)
    m, k = matrix.shape
    if vector.shape[0] != m:
        raise ValueError(f"vector and matrix: vector has m = {vector.shape[0]}, matrix "
                         f"{matrix.shape} has m = {m}")
    return _run("gevm", (m, k, 1), vector, matrix, (k,), out_dtype, rounding, flags)


@overload
def gemm(input: MxTensor, other: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: Literal[False] = ...) -> Array: ...
@overload
def gemm(input: MxTensor, other: MxTensor, out_dtype: str = ..., rounding: str = ..., *,
        flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def gemm(input: MxTensor, other: MxTensor, out_dtype: str = ..., rounding: str = ...,
        flags: bool = ...) -> Result: ...
def gemm(input: MxTensor, other: MxTensor, out_dtype: str = "bf16",
         rounding: str = "nearest-even", flags: bool = False) -> Result:
    """input [m, k] (blocked along k, axis 1) @ other [k, n] (blocked along k, axis 0), of any
    MX formats (MXFP8 activations x MXFP4 weights: input "mxfp8-e4m3", other "mxfp4-e2m1"):
    [m, n] (arguments as dot's)."""
    input, other = _operand(input, "input", 2, 1), _operand(other, "other", 2, 0)
    (m, k), (k2, n) = input.shape, other.shape
    if k != k2:
        raise ValueError(f"input and other: input {input.shape} has k = {k}, other "
                         f"{other.shape} has k = {k2}")
    return _run("gemm", (m, k, n), input, other, (m, n), out_dtype, rounding, flags)
