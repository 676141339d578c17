"""Argument checks shared by the public functions: BF16 bit patterns, profiles, counts.

Every check raises ValueError naming the argument.  Nothing here converts a value with a
rounding: a float array handed where BF16 bit patterns are expected is refused, not cast.
"""

from __future__ import annotations

import os
from typing import Any, Tuple, Union

import ml_dtypes
import numpy as np
import numpy.typing as npt

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

Array = npt.NDArray[Any]
FlagArray = npt.NDArray[np.uint8]
#: A profile name ("reference", "narrow") or the path of a JSON hardware description.
Profile = Union[str, "os.PathLike[str]"]


def bf16_bits(x: Any, name: str) -> Tuple[Array, bool]:
    """(C-contiguous uint16 bit patterns of x's shape, whether x was ml_dtypes.bfloat16).

    Accepted: ml_dtypes.bfloat16 arrays (their bits), uint16 arrays of any byte order, and other
    integer arrays or Python ints whose values all lie in 0..0xffff (bit patterns).
    """
    a = np.asarray(x)
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


def profile_name(profile: Any) -> str:
    """A profile name or the path of a JSON hardware description, as the native module takes it."""
    if isinstance(profile, (str, os.PathLike)):
        return os.fspath(profile)
    raise ValueError(f"profile: expected a profile name or a path, got {type(profile).__name__}")


def count(value: Any, name: str, minimum: int = 1, maximum: int = (1 << 64) - 1) -> int:
    """A whole number in minimum..=maximum (bool is refused: True is not a size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {type(value).__name__}")
    if not minimum <= int(value) <= maximum:
        raise ValueError(f"{name}: {int(value)} is outside {minimum}..={maximum}")
    return int(value)
