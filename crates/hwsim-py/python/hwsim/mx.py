"""MXINT8 tensors (docs/numerics.md §4, docs/dump-format.md): blocks of 32 int8 elements sharing
one E8M0 scale byte, laid out as the dumps lay them out (the block grid in row-major order)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Sequence, Tuple, Union, overload

import ml_dtypes
import numpy as np
import numpy.typing as npt

from . import _native
from ._convert import Array, FlagArray, flag, integer, numeric_array, shape_arg, text

BLOCK = 32
NAN_SCALE = 0xFF


def grid_shape(shape: Sequence[int], axis: int) -> Tuple[int, ...]:
    """The block grid of a logical shape: the blocked axis of length L becomes ceil(L/32)."""
    grid = list(shape)
    grid[axis] = -(-grid[axis] // BLOCK)
    return tuple(grid)


def _checked(scales: Any, elements: Any, shape: Any,
             axis: Any) -> Tuple[Array, Array, Tuple[int, ...], int]:
    """The MxTensor arguments checked against each other (all but the padding)."""
    scales = numeric_array(scales, "scales")
    elements = numeric_array(elements, "elements")
    if scales.dtype != np.uint8:
        raise ValueError(f"scales: expected uint8 E8M0 bytes, got dtype {scales.dtype}")
    if elements.dtype != np.int8:
        raise ValueError(f"elements: expected int8, got dtype {elements.dtype}")
    shape = shape_arg(shape, "shape")
    if not shape:
        raise ValueError(f"shape: {shape} is not a shape with at least one axis")
    axis = integer(axis, "axis")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis: {axis} is outside the {len(shape)} axes of shape {shape}")
    axis %= len(shape)
    grid = grid_shape(shape, axis)
    if scales.shape != grid:
        raise ValueError(f"scales: shape {scales.shape}, but {shape} blocked on axis {axis} "
                         f"has the block grid {grid}")
    if elements.shape != grid + (BLOCK,):
        raise ValueError(f"elements: shape {elements.shape}, expected {grid + (BLOCK,)}")
    return scales, elements, shape, axis


class MxTensor:
    """An MXINT8 tensor of logical `shape`, blocked in 32s along `axis`.

    scales:   uint8, the block grid (shape with shape[axis] replaced by ceil(shape[axis] / 32)):
              E8M0 bytes, value 2^(s - 127), 0xff is NaN.
    elements: int8, the block grid + (32,): element i of block b is logical index 32*b + i on the
              blocked axis; its value is q * 2^(s - 127 - 6).  Elements past the logical length
              (padding of a partial last block) are zero.

    The constructor checks dtypes, shapes and the padding; arrays are kept (made C-contiguous if
    they were not).  Two MxTensors are equal when shape, axis and every byte are.  The attributes
    can be reassigned, but every function that takes an MxTensor checks them again (shape
    against the block grid) and raises rather than misread the blocks.
    """

    __slots__ = ("scales", "elements", "shape", "axis")
    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable arrays inside

    scales: npt.NDArray[np.uint8]
    elements: npt.NDArray[np.int8]
    shape: Tuple[int, ...]
    axis: int

    def __init__(self, scales: Any, elements: Any, shape: Sequence[int], axis: int):
        scales, elements, shape, axis = _checked(scales, elements, shape, axis)
        grid = grid_shape(shape, axis)
        valid = shape[axis] % BLOCK
        if valid and grid[axis] and elements.size:
            last = np.take(elements, [grid[axis] - 1], axis=axis)[..., valid:]
            if np.any(last):
                raise ValueError(f"elements: nonzero padding past the logical length "
                                 f"{shape[axis]} of axis {axis} (lanes {valid}..31 of the last "
                                 "block must be zero)")
        self._set(np.ascontiguousarray(scales), np.ascontiguousarray(elements), shape, axis)

    def _checked(self, name: str) -> "MxTensor":
        """This tensor with its attributes checked again (they may have been reassigned since it
        was made): the dtypes, the shape (a sequence of ints) and axis, and the block grid the
        shape implies against the arrays.  ValueError / TypeError naming `name`."""
        try:
            scales, elements, shape, axis = _checked(self.scales, self.elements, self.shape,
                                                     self.axis)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {e}") from None
        t = MxTensor.__new__(MxTensor)
        t._set(np.ascontiguousarray(scales), np.ascontiguousarray(elements), shape, axis)
        return t

    def _set(self, scales: Array, elements: Array, shape: Tuple[int, ...], axis: int) -> None:
        self.scales, self.elements, self.shape, self.axis = scales, elements, shape, axis

    @classmethod
    def _trusted(cls, scales: Array, elements: Array, shape: Sequence[int],
                 axis: int) -> "MxTensor":
        """Wrap flat arrays from the native module (already in the layout the checks enforce)."""
        t = cls.__new__(cls)
        grid = grid_shape(shape, axis)
        t._set(scales.reshape(grid), elements.reshape(grid + (BLOCK,)), tuple(shape), axis)
        return t

    @property
    def grid_shape(self) -> Tuple[int, ...]:
        """Shape of `scales`: the logical shape with the blocked axis counted in blocks."""
        return tuple(self.scales.shape)

    def dequantize(self, dtype: Any = np.float64) -> npt.NDArray[Any]:
        """The exact values, float64 by default, of the logical shape (NaN in a block whose
        scale is 0xff).

        Every element value q * 2^(s - 133) (|q| <= 128, s <= 254) is a float64 exactly, so
        nothing is rounded.  dtype=np.float32 halves the memory and is exact too, except for
        the one value no float32 holds, -2^128 (element -128 under scale 0xfe): a tensor with it
        raises ValueError rather than round it to -inf.
        """
        t = self._checked("self")
        dt = np.dtype(dtype) if isinstance(dtype, (type, np.dtype, str)) else None
        if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype: {dtype!r} is not np.float64 or np.float32")
        values = np.ldexp(t.elements.astype(np.float64),
                          t.scales.astype(np.int32)[..., None] - 133)
        values[t.scales == NAN_SCALE] = np.nan
        axis = t.axis
        values = np.moveaxis(values, -1, axis + 1)                 # [..., nb, 32, ...]
        merged = values.shape[:axis] + (values.shape[axis] * BLOCK,) + values.shape[axis + 2:]
        values = values.reshape(merged)
        out: npt.NDArray[Any] = np.ascontiguousarray(
            np.take(values, np.arange(t.shape[axis]), axis=axis))
        if dt == np.float32:
            if np.any(out == -(2.0 ** 128)):
                raise ValueError("dtype: the tensor holds -2^128 (element -128 under scale "
                                 "0xfe), which no float32 holds; dequantize() gives float64")
            return out.astype(np.float32)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MxTensor):
            return NotImplemented
        return (self.shape == other.shape and self.axis == other.axis
                and np.array_equal(self.scales, other.scales)
                and np.array_equal(self.elements, other.elements))

    def __repr__(self) -> str:
        return (f"MxTensor(shape={self.shape}, axis={self.axis}, "
                f"blocks={self.scales.size}, grid={self.grid_shape})")


def _fp32_bits(x: Any) -> Array:
    """The exact FP32 bit patterns of x's values (float32, bfloat16 or uint16 BF16 bits,
    float16, in any byte order); refuses dtypes whose values would need a rounding to reach
    FP32."""
    a = numeric_array(x, "x")                      # byte-swapped arrays come back in order
    if a.dtype == np.float32:
        return np.ascontiguousarray(a).view(np.uint32).reshape(a.shape)
    if a.dtype == np.float16:
        return a.astype(np.float32).view(np.uint32)             # exact widening
    if a.dtype in (np.dtype(ml_dtypes.bfloat16), np.dtype(np.uint16)):
        bits = np.ascontiguousarray(a).view(np.uint16).reshape(a.shape)
        return bits.astype(np.uint32) << np.uint32(16)           # BF16 -> FP32 is exact
    raise ValueError(
        f"x: expected float32, ml_dtypes.bfloat16 (or uint16 BF16 bit patterns) or float16, got "
        f"dtype {a.dtype}; convert first, e.g. x.astype(np.float32), which rounds once")


@overload
def quantize_mxint8(x: npt.ArrayLike, axis: int = ..., rounding: str = ...,
                    flags: Literal[False] = ...) -> MxTensor: ...
@overload
def quantize_mxint8(x: npt.ArrayLike, axis: int = ..., rounding: str = ..., *,
                    flags: Literal[True]) -> Tuple[MxTensor, FlagArray]: ...
@overload
def quantize_mxint8(x: npt.ArrayLike, axis: int = ..., rounding: str = ...,
                    flags: bool = ...) -> Union[MxTensor, Tuple[MxTensor, FlagArray]]: ...
def quantize_mxint8(x: npt.ArrayLike, axis: int = -1, rounding: str = "nearest-away",
                    flags: bool = False) -> Union[MxTensor, Tuple[MxTensor, FlagArray]]:
    """Quantize x to MXINT8 in blocks of 32 along `axis` (docs/numerics.md §4).

    Per block: a NaN or infinity makes the NaN block (scale 0xff, elements 0); an all-zero block
    has scale 0x00; otherwise E = clamp(floor(log2 amax), -127, 127), scale E + 127 and
    q = clamp(round(x * 2^(6 - E)), -127, 127), one rounding ("nearest-away" or "nearest-even").
    The last block along the axis is zero-padded.  x: float32, ml_dtypes.bfloat16 (or uint16
    BF16 bit patterns) or float16, in any byte order, with at least one axis.  With flags=True returns
    (MxTensor, flags) with one uint8 flag word per block (the block grid's shape).
    """
    axis = integer(axis, "axis")
    rounding = text(rounding, "rounding")
    flags = flag(flags, "flags")
    bits = _fp32_bits(x)
    if bits.ndim == 0:
        raise ValueError("x: a 0-d array has no axis to block along")
    if not -bits.ndim <= axis < bits.ndim:
        raise ValueError(f"axis: {axis} is outside the {bits.ndim} axes of x")
    axis %= bits.ndim
    scales, elements, fl = _native.quantize(np.ascontiguousarray(bits).reshape(-1),
                                            list(bits.shape), axis, rounding)
    t = MxTensor._trusted(scales, elements, bits.shape, axis)
    return (t, fl.reshape(t.grid_shape)) if flags else t
