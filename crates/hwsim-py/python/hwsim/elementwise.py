"""The elementwise units over BF16 arrays: exp (softmax_v stage 1), reciprocal (stage 5) and
the output multiplier (stage 6), as the chosen profile's units compute them."""

from __future__ import annotations

from typing import Literal, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import _native
from ._convert import Array, FlagArray, Profile, as_bf16, bf16_bits, flag, profile_name

Result = Union[Array, Tuple[Array, FlagArray]]


def _result(bits: Array, flags: FlagArray | None, shape: Tuple[int, ...], as_bfloat16: bool,
            want_flags: bool) -> Result:
    values = as_bf16(bits, shape) if as_bfloat16 else bits.reshape(shape)
    if want_flags:
        assert flags is not None
        return values, flags.reshape(shape)
    return values


@overload
def exp_bf16(x: npt.ArrayLike, profile: Profile = ..., flags: Literal[False] = ...) -> Array: ...
@overload
def exp_bf16(x: npt.ArrayLike, profile: Profile = ..., *,
             flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def exp_bf16(x: npt.ArrayLike, profile: Profile = ..., flags: bool = ...) -> Result: ...
def exp_bf16(x: npt.ArrayLike, profile: Profile = "reference", flags: bool = False) -> Result:
    """e^x per element: RNE_bf16(e^x), correctly rounded, in the reference profile.

    x: BF16 bit patterns (uint16, any shape) or an ml_dtypes.bfloat16 array; the result has x's
    shape and kind (uint16 in, uint16 out; bfloat16 in, bfloat16 out).  profile: "reference",
    "narrow", or the path of a JSON hardware description (`sim config show`).  With flags=True,
    returns (values, flags) where flags is a uint8 array of the IEEE flags each result raised
    (FLAG_INEXACT 1, FLAG_UNDERFLOW 2, FLAG_OVERFLOW 4, FLAG_DIV_BY_ZERO 8, FLAG_INVALID 16).
    """
    flags = flag(flags, "flags")
    bits, is_bf16 = bf16_bits(x, "x")
    out, fl = _native.exp_bf16(bits.reshape(-1), profile_name(profile), flags)
    return _result(out, fl, bits.shape, is_bf16, flags)


@overload
def recip_bf16(x: npt.ArrayLike, profile: Profile = ..., flags: Literal[False] = ...) -> Array: ...
@overload
def recip_bf16(x: npt.ArrayLike, profile: Profile = ..., *,
               flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def recip_bf16(x: npt.ArrayLike, profile: Profile = ..., flags: bool = ...) -> Result: ...
def recip_bf16(x: npt.ArrayLike, profile: Profile = "reference", flags: bool = False) -> Result:
    """1/x per element, correctly rounded to BF16 (RNE) in the reference profile.

    1/+-0 = +-inf (div-by-zero), 1/+-inf = +-0, NaN gives 0x7fc0.  Arguments and result as
    exp_bf16.
    """
    flags = flag(flags, "flags")
    bits, is_bf16 = bf16_bits(x, "x")
    out, fl = _native.recip_bf16(bits.reshape(-1), profile_name(profile), flags)
    return _result(out, fl, bits.shape, is_bf16, flags)


@overload
def mul_bf16(a: npt.ArrayLike, b: npt.ArrayLike, profile: Profile = ...,
             flags: Literal[False] = ...) -> Array: ...
@overload
def mul_bf16(a: npt.ArrayLike, b: npt.ArrayLike, profile: Profile = ..., *,
             flags: Literal[True]) -> Tuple[Array, FlagArray]: ...
@overload
def mul_bf16(a: npt.ArrayLike, b: npt.ArrayLike, profile: Profile = ...,
             flags: bool = ...) -> Result: ...
def mul_bf16(a: npt.ArrayLike, b: npt.ArrayLike, profile: Profile = "reference",
             flags: bool = False) -> Result:
    """a * b per element: the exact product rounded once to BF16 (the profile's mul.rounding,
    nearest-even in the reference).  inf * 0 is NaN (invalid).

    a and b broadcast against each other (numpy rules); the result is bfloat16 when either is.
    """
    flags = flag(flags, "flags")
    a_bits, a_bf16 = bf16_bits(a, "a")
    b_bits, b_bf16 = bf16_bits(b, "b")
    if a_bits.shape == b_bits.shape:         # no broadcasting to do (every testbench call)
        shape, a_flat, b_flat = a_bits.shape, a_bits.reshape(-1), b_bits.reshape(-1)
    else:
        try:
            shape = np.broadcast_shapes(a_bits.shape, b_bits.shape)
        except ValueError:
            raise ValueError(f"a and b: shapes {a_bits.shape} and {b_bits.shape} do not "
                             "broadcast together") from None
        a_flat = np.ascontiguousarray(np.broadcast_to(a_bits, shape)).reshape(-1)
        b_flat = np.ascontiguousarray(np.broadcast_to(b_bits, shape)).reshape(-1)
    out, fl = _native.mul_bf16(a_flat, b_flat, profile_name(profile), flags)
    return _result(out, fl, shape, a_bf16 or b_bf16, flags)
