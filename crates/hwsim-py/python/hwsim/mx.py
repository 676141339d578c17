"""OCP MX tensors (docs/numerics.md §4 and §8, docs/dump-format.md): blocks of 32 element codes
sharing one E8M0 scale byte, laid out as the dumps lay them out (the block grid in row-major
order), in any of the formats of hw_types::MX_FORMATS: mxint8 (int8 elements), mxfp8-e4m3,
mxfp8-e5m2, mxfp6-e3m2, mxfp6-e2m3 and mxfp4-e2m1 (uint8 codes in their low bits)."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Literal, NamedTuple, Optional, Sequence, Tuple, Union, \
    overload

import ml_dtypes
import numpy as np
import numpy.typing as npt

from . import _native
from ._convert import Array, FlagArray, flag, integer, numeric_array, shape_arg, text

BLOCK = 32
NAN_SCALE = 0xFF


class _Format(NamedTuple):
    """A row of the format table (hw_types::MX_FORMATS) as the extension reports it."""
    name: str
    width: int                      # bits of an element code
    default_rounding: str           # the element rounding when none is given
    values: npt.NDArray[np.float64]  # values[c]: the exact value of code c (c < 2^width)


_FORMATS: Dict[str, _Format] = {
    row[0]: _Format(*row) for row in _native.mx_formats()
}

#: The MX format names, as the CLI's --mx-format, the manifests' dtype and MxTensor.format take
#: them.
MX_FORMATS: Tuple[str, ...] = tuple(_FORMATS)
#: The scale rules of quantize_mx (docs/numerics.md §8).
SCALE_RULES: Tuple[str, ...] = ("floor", "ceil", "even", "rceil")


def _format(value: Any, name: str) -> _Format:
    """A format name argument: TypeError for a non-str, ValueError for an unknown name."""
    value = text(value, name)
    if value not in _FORMATS:
        raise ValueError(f"{name}: unknown MX format {value!r} (expected one of: "
                         f"{', '.join(MX_FORMATS)})")
    return _FORMATS[value]


def grid_shape(shape: Sequence[int], axis: int) -> Tuple[int, ...]:
    """The block grid of a logical shape: the blocked axis of length L becomes ceil(L/32)."""
    grid = list(shape)
    grid[axis] = -(-grid[axis] // BLOCK)
    return tuple(grid)


def _checked(scales: Any, elements: Any, shape: Any, axis: Any,
             format: Any) -> Tuple[Array, Array, Tuple[int, ...], int, str]:
    """The MxTensor arguments checked against each other (all but the padding)."""
    fmt = _format(format, "format")
    scales = numeric_array(scales, "scales")
    elements = numeric_array(elements, "elements")
    if scales.dtype != np.uint8:
        raise ValueError(f"scales: expected uint8 E8M0 bytes, got dtype {scales.dtype}")
    if fmt.name == "mxint8":
        if elements.dtype != np.int8:
            raise ValueError(f"elements: expected int8 (the elements of mxint8), got dtype "
                             f"{elements.dtype}")
    else:
        if elements.dtype != np.uint8:
            raise ValueError(f"elements: expected uint8 (the element codes of {fmt.name}), got "
                             f"dtype {elements.dtype}")
        if fmt.width < 8 and elements.size and int(elements.max()) >> fmt.width:
            raise ValueError(f"elements: code {int(elements.max()):#x} does not fit the "
                             f"{fmt.width} bits of an {fmt.name} element")
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
    return scales, elements, shape, axis, fmt.name


class MxTensor:
    """An MX tensor of logical `shape`, blocked in 32s along `axis`, in the MX format `format`
    (one of MX_FORMATS; "mxint8" when not given).

    scales:   uint8, the block grid (shape with shape[axis] replaced by ceil(shape[axis] / 32)):
              E8M0 bytes, value 2^(s - 127), 0xff is NaN.
    elements: the block grid + (32,): element i of block b is logical index 32*b + i on the
              blocked axis.  mxint8: int8 q, value q * 2^(s - 127 - 6).  The other formats:
              uint8 element codes (S.E.M bit fields in the low 4, 6 or 8 bits), value
              decode(code) * 2^(s - 127).  Elements past the logical length (padding of a
              partial last block) are zero (the +0 code).
    format:   the format name ("mxint8", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2",
              "mxfp6-e2m3", "mxfp4-e2m1").

    The constructor checks the format, dtypes, shapes, codes and the padding; arrays are kept
    (made C-contiguous if they were not).  Two MxTensors are equal when format, shape, axis and
    every byte are.  The attributes can be reassigned, but every function that takes an MxTensor
    checks them again (format, dtypes, shape against the block grid, code widths) and raises
    rather than misread the blocks.
    """

    __slots__ = ("scales", "elements", "shape", "axis", "format")
    __hash__: ClassVar[None] = None  # type: ignore[assignment]  # mutable arrays inside

    scales: npt.NDArray[np.uint8]
    elements: npt.NDArray[Any]
    shape: Tuple[int, ...]
    axis: int
    format: str

    def __init__(self, scales: Any, elements: Any, shape: Sequence[int], axis: int,
                 format: str = "mxint8"):
        scales, elements, shape, axis, format = _checked(scales, elements, shape, axis, format)
        grid = grid_shape(shape, axis)
        valid = shape[axis] % BLOCK
        if valid and grid[axis] and elements.size:
            last = np.take(elements, [grid[axis] - 1], axis=axis)[..., valid:]
            if np.any(last):
                raise ValueError(f"elements: nonzero padding past the logical length "
                                 f"{shape[axis]} of axis {axis} (lanes {valid}..31 of the last "
                                 "block must be zero)")
        self._set(np.ascontiguousarray(scales), np.ascontiguousarray(elements), shape, axis,
                  format)

    def _checked(self, name: str) -> "MxTensor":
        """This tensor with its attributes checked again (they may have been reassigned since it
        was made): the format, the dtypes, the shape (a sequence of ints) and axis, the block
        grid the shape implies against the arrays, the code widths.  ValueError / TypeError
        naming `name`."""
        try:
            scales, elements, shape, axis, format = _checked(
                self.scales, self.elements, self.shape, self.axis, self.format)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{name}: {e}") from None
        t = MxTensor.__new__(MxTensor)
        t._set(np.ascontiguousarray(scales), np.ascontiguousarray(elements), shape, axis, format)
        return t

    def _set(self, scales: Array, elements: Array, shape: Tuple[int, ...], axis: int,
             format: str) -> None:
        self.scales, self.elements, self.shape, self.axis = scales, elements, shape, axis
        self.format = format

    @classmethod
    def _trusted(cls, scales: Array, elements: Array, shape: Sequence[int], axis: int,
                 format: str = "mxint8") -> "MxTensor":
        """Wrap flat arrays from the native module (already in the layout the checks enforce)."""
        t = cls.__new__(cls)
        grid = grid_shape(shape, axis)
        t._set(scales.reshape(grid), elements.reshape(grid + (BLOCK,)), tuple(shape), axis,
               format)
        return t

    @property
    def grid_shape(self) -> Tuple[int, ...]:
        """Shape of `scales`: the logical shape with the blocked axis counted in blocks."""
        return tuple(self.scales.shape)

    def dequantize(self, dtype: Any = np.float64) -> npt.NDArray[Any]:
        """The exact values, float64 by default, of the logical shape: NaN in a block whose
        scale is 0xff, and the element codes that are NaN or infinity (mxfp8-e4m3 S.1111.111,
        mxfp8-e5m2 with the exponent all ones) as IEEE NaN and infinity; -0 codes give -0.0.

        Every element value of every format is at most 8 significant bits with a magnitude
        between 2^-16 and 2^16, and the scale 2^(s - 127) lies within 2^-127..2^127, so every
        value is a float64 exactly and nothing is rounded.  dtype=np.float32 halves the memory
        and is exact too, except for the values past float32's range (mxint8: -2^128, element
        -128 under scale 0xfe; the FP formats: large elements under scales near 0xfe): a tensor
        holding one raises ValueError rather than round it to infinity.
        """
        t = self._checked("self")
        dt = np.dtype(dtype) if isinstance(dtype, (type, np.dtype, str)) else None
        if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype: {dtype!r} is not np.float64 or np.float32")
        table = _FORMATS[t.format].values
        values = np.ldexp(table[t.elements.view(np.uint8)],
                          t.scales.astype(np.int32)[..., None] - 127)
        values[t.scales == NAN_SCALE] = np.nan
        axis = t.axis
        values = np.moveaxis(values, -1, axis + 1)                 # [..., nb, 32, ...]
        merged = values.shape[:axis] + (values.shape[axis] * BLOCK,) + values.shape[axis + 2:]
        values = values.reshape(merged)
        out: npt.NDArray[Any] = np.ascontiguousarray(
            np.take(values, np.arange(t.shape[axis]), axis=axis))
        if dt == np.float32:
            with np.errstate(over="ignore"):
                narrow = out.astype(np.float32)
            lost = np.isfinite(out) & (narrow != out)
            if np.any(lost):
                v = float(out[lost].reshape(-1)[0])
                what = ("-2^128 (element -128 under scale 0xfe)" if v == -(2.0 ** 128)
                        else f"{v!r} ({t.format})")
                raise ValueError(f"dtype: the tensor holds {what}, which no float32 holds; "
                                 "dequantize() gives float64")
            return narrow
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MxTensor):
            return NotImplemented
        return (self.format == other.format
                and self.shape == other.shape and self.axis == other.axis
                and np.array_equal(self.scales, other.scales)
                and np.array_equal(self.elements, other.elements))

    def __repr__(self) -> str:
        return (f"MxTensor(format={self.format!r}, shape={self.shape}, "
                f"axis={self.axis}, blocks={self.scales.size}, grid={self.grid_shape})")


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


@overload
def quantize_mx(x: npt.ArrayLike, format: str, axis: int = ..., scale_rule: str = ...,
                element_rounding: Optional[str] = ...,
                flags: Literal[False] = ...) -> MxTensor: ...
@overload
def quantize_mx(x: npt.ArrayLike, format: str, axis: int = ..., scale_rule: str = ...,
                element_rounding: Optional[str] = ..., *,
                flags: Literal[True]) -> Tuple[MxTensor, FlagArray]: ...
@overload
def quantize_mx(x: npt.ArrayLike, format: str, axis: int = ..., scale_rule: str = ...,
                element_rounding: Optional[str] = ...,
                flags: bool = ...) -> Union[MxTensor, Tuple[MxTensor, FlagArray]]: ...
def quantize_mx(x: npt.ArrayLike, format: str, axis: int = -1, scale_rule: str = "floor",
                element_rounding: Optional[str] = None,
                flags: bool = False) -> Union[MxTensor, Tuple[MxTensor, FlagArray]]:
    """Quantize x to the OCP MX format `format` in blocks of 32 along `axis`
    (docs/numerics.md §8), as `sim op quantize --mx-format F --scale-rule R` does.

    format: one of MX_FORMATS ("mxint8", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2",
    "mxfp6-e2m3", "mxfp4-e2m1").  scale_rule: how each block's shared exponent E follows from
    its largest magnitude amax ("floor": floor(log2 amax) - emax, OCP MX v1.0; "ceil"; "even";
    "rceil": the smallest E with amax <= max_normal * 2^E), clamped to -127..127.
    element_rounding: "nearest-even" or "nearest-away" (None: the format's default,
    nearest-away for mxint8 and nearest-even for the FP formats).  Per block: a NaN or infinity
    makes the NaN block (scale 0xff, codes 0), an all-zero block has scale 0x00, otherwise each
    x / 2^E is rounded once to the element format, saturating at +-max normal; subnormal
    elements are kept and -0 keeps its sign.  The last block along the axis is zero-padded.
    x: float32, ml_dtypes.bfloat16 (or uint16 BF16 bit patterns) or float16, in any byte order,
    with at least one axis.  Returns an MxTensor of that format (elements int8 for mxint8,
    uint8 codes otherwise); with flags=True (MxTensor, flags), one uint8 flag word per block.
    quantize_mx(x, "mxint8") equals quantize_mxint8(x).
    """
    fmt = _format(format, "format")
    axis = integer(axis, "axis")
    rule = text(scale_rule, "scale_rule")
    if rule not in SCALE_RULES:
        raise ValueError(f"scale_rule: unknown scale rule {rule!r} (expected one of: "
                         f"{', '.join(SCALE_RULES)})")
    rounding = None if element_rounding is None else text(element_rounding, "element_rounding")
    flags = flag(flags, "flags")
    bits = _fp32_bits(x)
    if bits.ndim == 0:
        raise ValueError("x: a 0-d array has no axis to block along")
    if not -bits.ndim <= axis < bits.ndim:
        raise ValueError(f"axis: {axis} is outside the {bits.ndim} axes of x")
    axis %= bits.ndim
    scales, codes, fl = _native.quantize_mx(np.ascontiguousarray(bits).reshape(-1),
                                            list(bits.shape), axis, fmt.name, rule, rounding)
    if fmt.name == "mxint8":
        codes = codes.view(np.int8)
    t = MxTensor._trusted(scales, codes, bits.shape, axis, fmt.name)
    return (t, fl.reshape(t.grid_shape)) if flags else t
