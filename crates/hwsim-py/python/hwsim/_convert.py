"""Argument checks shared by the public functions: BF16 bit patterns, profiles, counts, paths.

Every check names the argument: TypeError for an argument of the wrong type (a float where a
size is expected, a str where a sequence of sizes is, an object that is not an array of
numbers), ValueError for a wrong value (a size out of range, an array of a numeric dtype the
function does not take, an unknown name).  Nothing here converts a value with a rounding: a
float array handed where BF16 bit patterns are expected is refused, not cast.
"""

from __future__ import annotations

import os
from typing import Any, Sequence, Tuple, Union

import ml_dtypes
import numpy as np
import numpy.typing as npt

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

Array = npt.NDArray[Any]
FlagArray = npt.NDArray[np.uint8]
#: A profile name ("reference", "narrow") or the path of a JSON hardware description.
Profile = Union[str, "os.PathLike[str]"]


def numeric_array(x: Any, name: str) -> Array:
    """x as a numpy array of numbers in native byte order (a byte-swapped array is copied into
    order, never misread).  TypeError for what is not numbers (None, strings, objects)."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:          # ragged sequences and the like
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__} ({e})") \
            from None
    if a.dtype.kind not in "biuf" and a.dtype != BFLOAT16:
        raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__} of dtype "
                        f"{a.dtype}")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def bf16_bits(x: Any, name: str) -> Tuple[Array, bool]:
    """(C-contiguous uint16 bit patterns of x's shape, whether x was ml_dtypes.bfloat16).

    Accepted: ml_dtypes.bfloat16 arrays (their bits), uint16 arrays of any byte order, and other
    integer arrays or Python ints whose values all lie in 0..0xffff (bit patterns).
    """
    a = numeric_array(x, name)
    if a.dtype == BFLOAT16:
        return np.ascontiguousarray(a).view(np.uint16).reshape(a.shape), True
    if a.dtype.kind in "ui":
        if a.dtype != np.uint16 and a.size:
            # one Python int (a testbench transaction) is checked without numpy reductions
            lo, hi = (int(a), int(a)) if a.ndim == 0 else (int(a.min()), int(a.max()))
            if lo < 0 or hi > 0xFFFF:
                raise ValueError(f"{name}: BF16 bit patterns lie in 0..0xffff; found values "
                                 f"from {lo} to {hi}")
        return np.ascontiguousarray(a, dtype=np.uint16).reshape(a.shape), False
    raise ValueError(
        f"{name}: expected BF16 bit patterns (uint16) or an ml_dtypes.bfloat16 array, got dtype "
        f"{a.dtype}; a float array holds values, not bit patterns: x.astype(ml_dtypes.bfloat16) "
        "rounds it to BF16 (nearest-even)")


def as_bf16(bits: Array, shape: Tuple[int, ...]) -> Array:
    """uint16 bit patterns as an ml_dtypes.bfloat16 array of `shape` (a view, no conversion)."""
    view: Array = bits.view(BFLOAT16).reshape(shape)
    return view


def _type_error(name: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"{name}: expected {expected}, got {type(value).__name__}")


def text(value: Any, name: str) -> str:
    """A str argument (a rounding mode, a dtype name, a case name); encodable as UTF-8."""
    if not isinstance(value, str):
        raise _type_error(name, "a str", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name}: {value!r} is not valid text (it holds a lone surrogate)") \
            from None
    return value


def path(value: Any, name: str) -> str:
    """A str, bytes or os.PathLike path, as a str the native module takes."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise _type_error(name, "a path (str or os.PathLike)", value)
    p = os.fspath(value)
    p = os.fsdecode(p) if isinstance(p, bytes) else p
    if not isinstance(p, str):
        raise _type_error(name, "a path (str or os.PathLike)", value)
    if "\0" in p:
        raise ValueError(f"{name}: {p!r} holds a NUL character, which no path can")
    try:
        os.fsencode(p)
    except UnicodeEncodeError:
        raise ValueError(f"{name}: {p!r} cannot be encoded as a file name") from None
    return p


def profile_name(profile: Any) -> str:
    """A profile name or the path of a JSON hardware description, as the native module takes it."""
    if not isinstance(profile, (str, os.PathLike)):
        raise _type_error("profile", "a profile name or a path", profile)
    return path(profile, "profile")


def flag(value: Any, name: str) -> bool:
    """A True/False argument (an int 0 or 1 too; a str such as "False" is refused, not read as
    true)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected True or False, got {int(value)}")
    raise _type_error(name, "True or False", value)


def count(value: Any, name: str, minimum: int = 1, maximum: int = (1 << 64) - 1) -> int:
    """A whole number in minimum..=maximum (bool is refused: True is not a size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _type_error(name, "an integer", value)
    if not minimum <= int(value) <= maximum:
        raise ValueError(f"{name}: {int(value)} is outside {minimum}..={maximum}")
    return int(value)


def integer(value: Any, name: str) -> int:
    """An int argument of any sign (an axis)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _type_error(name, "an integer", value)
    return int(value)


def shape_arg(value: Any, name: str) -> Tuple[int, ...]:
    """A shape: a sequence (tuple, list, 1-D integer array) of non-negative ints.  A str, a
    float or any non-int inside is a TypeError (never truncated or read digit by digit)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise TypeError(f"{name}: expected a sequence of ints, got a {value.ndim}-d array")
        items: Sequence[Any] = list(value)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = value
    else:
        raise _type_error(name, "a sequence of ints", value)
    out = []
    for s in items:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{name}: expected a sequence of ints, found {s!r} "
                            f"({type(s).__name__}) in {value!r}")
        if int(s) < 0:
            raise ValueError(f"{name}: {value!r} has a negative size")
        out.append(int(s))
    return tuple(out)
