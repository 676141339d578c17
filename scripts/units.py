"""Independent bit-exact model of the hardware units (docs/microarchitecture.md, "Unit
implementations"), written from the documents alone, and softmax_v computed with them.

Every unit returns (result bits, Flags) with the project's IEEE flags.  Values are exact:
`reference.Decoded` values (kind, sign, man * 2^exp with Python integers) flow between the units,
and every rounding is reference.py's rounding core.  A hardware description is the JSON that
`sim config show` prints; `load_hardware` reads a built-in profile or any such file.

Layout: exp units, reciprocal units, accumulators (reduce and MAC), the quantizer's flags, the
hardware description, softmax_v with per-stage flag counts, and softmax_v with other block
formats (numerics.md section 3.1, on mx.py's quantizer and product).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import mpmath
import numpy as np

import mx
import reference as ref
from reference import BF16, NEAREST_EVEN, Decoded, Flags, FloatFormat, decode, round_dyadic

NAN = Decoded("nan", False)
POSITIVE_ZERO = Decoded("finite", False, 0, 0)
FLAG_NAMES = ("inexact", "underflow", "overflow", "div_by_zero", "invalid")   # flags.json order


def union(*flag_sets: Flags) -> Flags:
    """The flags raised by any of several operations."""
    return Flags(*(any(raised) for raised in zip(Flags(), *flag_sets)))


def signed(x: Decoded) -> int:
    """The signed integer significand of a finite value."""
    return -x.man if x.negative else x.man


def normalise(x: Decoded) -> tuple[int, int]:
    """(m, e) with |x| = (1 + m/128) * 2^e for a finite nonzero BF16 value: a subnormal's
    significand (at most 7 bits) is shifted up until its leading one is the hidden bit."""
    length = x.man.bit_length()
    return (x.man << (8 - length)) - 128, x.exp + length - 1


def _floor_shift(value: int, shift: int) -> tuple[int, bool]:
    """(floor(value * 2^shift), inexact) for an integer value and any integer shift."""
    if shift >= 0:
        return value << shift, False
    return value >> -shift, bool(value & ((1 << -shift) - 1))


# ==============================================================================================
# exp
# ==============================================================================================

def exact_exp(bits: int) -> tuple[int, Flags]:
    """`exact`: the ROM entry RNE_bf16(e^x), with that rounding's flags."""
    return ref.exp_round(bits)


LOG2_E = Fraction(6497320848556798, 1 << 52)     # the binary64 constant 0x3FF71547652B82FE


def log2e_fixed(const_bits: int) -> int:
    """L = round_half_even(LOG2_E * 2^K) (Fraction's round() ties to even)."""
    return round(LOG2_E * (1 << const_bits))


def _round_pow2(numerator: int, log_den: int) -> int:
    """round_half_even(2^(numerator / 2^log_den)) for numerator >= 0.

    A non-integer exponent makes the power irrational, so there is no tie: the result is
    floor((floor(2y) + 1) / 2).  floor(2y) is enclosed from an mpmath value with a relative
    error below 2^(MPMATH_SLACK_BITS - wp) (the allowance reference.py's transcendental
    roundings make); the precision doubles until both ends of the enclosure agree.
    """
    if numerator % (1 << log_den) == 0:
        return 1 << (numerator >> log_den)
    wp = ref.START_PRECISION
    while True:
        with mpmath.workprec(wp):
            man, exp = mpmath.power(2, mpmath.mpf(numerator + (1 << log_den)) /
                                    (1 << log_den)).man_exp
        k = wp - ref.MPMATH_SLACK_BITS
        low, _ = _floor_shift(man * ((1 << k) - 1), exp - k)
        high, _ = _floor_shift(man * ((1 << k) + 1), exp - k)
        if low == high:
            return (low + 1) >> 1
        wp *= 2


@functools.lru_cache(maxsize=None)
def pow2_table(table_bits: int, entry_bits: int) -> tuple[int, ...]:
    """T[j] = round_half_even(2^(W + j / 2^b)), j = 0 ..= 2^b."""
    return tuple(_round_pow2((entry_bits << table_bits) + j, table_bits)
                 for j in range((1 << table_bits) + 1))


@dataclass(frozen=True)
class Pow2LutExp:
    """`pow2-lut`: e^x = 2^(x log2 e) in fixed point from a 2^b + 1 entry table T (the ROM)."""

    table_bits: int
    entry_bits: int
    frac_bits: int
    const_bits: int
    interpolate: bool
    log2e: int                      # L, log2(e) with const_bits fraction bits
    table: tuple[int, ...]

    @classmethod
    def from_widths(cls, table_bits: int, entry_bits: int, frac_bits: int, const_bits: int,
                    interpolate: bool) -> "Pow2LutExp":
        return cls(table_bits, entry_bits, frac_bits, const_bits, interpolate,
                   log2e_fixed(const_bits), pow2_table(table_bits, entry_bits))

    def __call__(self, bits: int) -> tuple[int, Flags]:
        x = decode(bits, BF16)
        if x.kind == "nan":
            return BF16.nan_bits, Flags()
        if x.kind == "inf":
            return (0 if x.negative else BF16.inf_bits), Flags()
        if x.man == 0:
            return BF16.one_bits, Flags()
        if normalise(x)[1] >= 7:                       # |x| >= 128 saturates
            if x.negative:
                return 0, Flags(inexact=True, underflow=True)
            return BF16.inf_bits, Flags(inexact=True, overflow=True)
        b, f_bits = self.table_bits, self.frac_bits
        t, _ = _floor_shift(signed(x) * self.log2e, x.exp + f_bits - self.const_bits)
        i, f = t >> f_bits, t & ((1 << f_bits) - 1)
        j, r = f >> (f_bits - b), f & ((1 << (f_bits - b)) - 1)
        y = self.table[j]
        if self.interpolate and f_bits > b:
            y += ((self.table[j + 1] - self.table[j]) * r) >> (f_bits - b)
        return round_dyadic(y, i - self.entry_bits, BF16)


# ==============================================================================================
# reciprocal
# ==============================================================================================

def _recip_special(x: Decoded) -> tuple[int, Flags] | None:
    """1/+-0 = +-inf (div_by_zero), 1/+-inf = +-0, NaN -> NaN; None for finite nonzero x."""
    sign = BF16.sign_bit if x.negative else 0
    if x.kind == "nan":
        return BF16.nan_bits, Flags()
    if x.kind == "inf":
        return sign, Flags()
    if x.man == 0:
        return BF16.inf_bits | sign, Flags(div_by_zero=True)
    return None


def exact_recip_entry(m: int) -> tuple[int, int]:
    """(q, sticky): q = floor(2^17 * 128 / (128 + m)), sticky = 1 when a remainder is left."""
    q, rest = divmod(1 << 24, 128 + m)
    return q, int(rest != 0)


@dataclass(frozen=True)
class ExactRecip:
    """`exact`: a 128-entry (q, sticky) table indexed by m; the appended sticky bit makes the
    final rounding the correct rounding of 1/x."""

    table: tuple[tuple[int, int], ...] = tuple(exact_recip_entry(m) for m in range(128))

    def __call__(self, bits: int) -> tuple[int, Flags]:
        x = decode(bits, BF16)
        special = _recip_special(x)
        if special is not None:
            return special
        m, e = normalise(x)
        q, sticky = self.table[m]
        magnitude = 2 * q + sticky
        return round_dyadic(-magnitude if x.negative else magnitude, -18 - e, BF16)


def newton_seeds(seed_bits: int, frac_bits: int) -> tuple[int, ...]:
    """y0[j] = round(2^F / (1 + (j + 1/2) / 2^s)) = floor((2^(F+s+2) + D) / (2D)),
    D = 2^(s+1) + 2j + 1."""
    dens = [(1 << (seed_bits + 1)) + 2 * j + 1 for j in range(1 << seed_bits)]
    return tuple(((1 << (frac_bits + seed_bits + 2)) + d) // (2 * d) for d in dens)


@dataclass(frozen=True)
class NewtonRecip:
    """`newton`: k Newton-Raphson steps on d = 1.m in F-bit fixed point from a seed table."""

    iterations: int
    seed_bits: int
    frac_bits: int
    seeds: tuple[int, ...]

    @classmethod
    def from_widths(cls, iterations: int, seed_bits: int, frac_bits: int) -> "NewtonRecip":
        return cls(iterations, seed_bits, frac_bits, newton_seeds(seed_bits, frac_bits))

    def __call__(self, bits: int) -> tuple[int, Flags]:
        x = decode(bits, BF16)
        special = _recip_special(x)
        if special is not None:
            return special
        m, e = normalise(x)
        f_bits = self.frac_bits
        d = (128 + m) << (f_bits - 7)
        y = self.seeds[m >> (7 - self.seed_bits)]
        for _ in range(self.iterations):
            y = (y * max(0, (1 << (f_bits + 1)) - ((d * y) >> f_bits))) >> f_bits
        y = max(y, 1)
        return round_dyadic(-y if x.negative else y, -f_bits - e, BF16)


# ==============================================================================================
# Accumulators (reduce and mac): exact addends in a fixed order, one result
# ==============================================================================================
#
# Every kind ends with one conversion to `out`: BF16 for the softmax stages, the --out-dtype of
# an MXINT8 op.  Only `exact` rounds in a selectable `mode` ("rounded once (RNE for reduce and
# the softmax gevm; the op's --rounding for dot/gevm/gemm)"); the register kinds are documented
# with RNE additions and a final RNE conversion, whatever the op's --rounding.

@dataclass(frozen=True)
class ExactAcc:
    """`exact`: the exact sum rounded once; NaN wins, +inf with -inf is NaN (invalid), an
    infinity wins otherwise; an exact zero is -0 only if every addend was -0."""

    out: FloatFormat = BF16
    mode: str = NEAREST_EVEN

    def __call__(self, addends: Sequence[Decoded]) -> tuple[int, Flags]:
        out = self.out
        if any(a.kind == "nan" for a in addends):
            return out.nan_bits, Flags()
        infinities = {a.negative for a in addends if a.kind == "inf"}
        if len(infinities) == 2:
            return out.nan_bits, Flags(invalid=True)
        if infinities:
            return out.inf_bits | (out.sign_bit if infinities.pop() else 0), Flags()
        nonzero = [a for a in addends if a.man]
        if not nonzero:
            all_negative = bool(addends) and all(a.negative for a in addends)
            return (out.sign_bit if all_negative else 0), Flags()
        base = min(a.exp for a in nonzero)
        total = sum(signed(a) << (a.exp - base) for a in nonzero)
        if total == 0:
            return 0, Flags()
        return round_dyadic(total, base, out, self.mode)


def float_add(acc: Decoded, a: Decoded, fmt: FloatFormat) -> tuple[Decoded, Flags]:
    """One register step RN(acc + a): the exact sum rounded once to `fmt` with IEEE rules."""
    if acc.kind == "nan" or a.kind == "nan":
        return NAN, Flags()
    if acc.kind == "inf" or a.kind == "inf":
        if acc.kind == a.kind and acc.negative != a.negative:
            return NAN, Flags(invalid=True)
        return (acc if acc.kind == "inf" else a), Flags()
    base = min(acc.exp, a.exp)
    total = (signed(acc) << (acc.exp - base)) + (signed(a) << (a.exp - base))
    if total == 0:                     # -0 only from -0 + -0 (round to nearest)
        return Decoded("finite", acc.negative and a.negative, 0, 0), Flags()
    bits, flags = round_dyadic(total, base, fmt, NEAREST_EVEN)
    return decode(bits, fmt), flags


def convert(x: Decoded, out: FloatFormat) -> tuple[int, Flags]:
    """A register value rounded to `out`, RNE (NaN -> canonical NaN, infinities and signed
    zeros kept)."""
    sign = out.sign_bit if x.negative else 0
    if x.kind == "nan":
        return out.nan_bits, Flags()
    if x.kind == "inf":
        return out.inf_bits | sign, Flags()
    if x.man == 0:
        return sign, Flags()
    return round_dyadic(signed(x), x.exp, out)


@dataclass(frozen=True)
class FloatAcc:
    """`fp32` / `bf16`: a register of that format starting at +0, acc = RN(acc + a) per addend
    (a block product is not rounded first: one fused step), then acc converted to `out`."""

    register: FloatFormat
    out: FloatFormat = BF16

    def __call__(self, addends: Sequence[Decoded]) -> tuple[int, Flags]:
        acc, flags = POSITIVE_ZERO, Flags()
        for a in addends:
            acc, step = float_add(acc, a, self.register)
            flags = union(flags, step)
        bits, final = convert(acc, self.out)
        return bits, union(flags, final)


@dataclass(frozen=True)
class FixedAcc:
    """`fixed`: an (I + Q)-bit two's complement register of value reg / 2^Q, each addend
    truncated toward -inf onto the grid, saturating or wrapping, then reg * 2^-Q rounded to
    `out`."""

    int_bits: int
    frac_bits: int
    overflow: str                   # "saturate" or "wrap"
    out: FloatFormat = BF16

    def __call__(self, addends: Sequence[Decoded]) -> tuple[int, Flags]:
        n = self.int_bits + self.frac_bits
        low, high = -(1 << (n - 1)), (1 << (n - 1)) - 1
        reg, flags, not_representable = 0, Flags(), False
        for a in addends:
            if a.kind != "finite":
                not_representable = True
                flags = union(flags, Flags(invalid=True))
                continue
            if a.man == 0:
                continue
            g, truncated = _floor_shift(signed(a), a.exp + self.frac_bits)
            total = reg + g
            overflowed = not low <= total <= high
            if self.overflow == "saturate":
                reg = min(max(total, low), high)
            else:
                reg = ((total - low) % (1 << n)) + low
            flags = union(flags, Flags(inexact=truncated or overflowed, overflow=overflowed))
        if not_representable:
            return self.out.nan_bits, flags
        if reg == 0:
            return 0, flags
        bits, final = round_dyadic(reg, -self.frac_bits, self.out)
        return bits, union(flags, final)


def bf16_addends(bits_row: Sequence[int]) -> list[Decoded]:
    """A row of BF16 bit patterns as exact addends (the reduce unit's input)."""
    return [decode(int(b), BF16) for b in bits_row]


# ==============================================================================================
# Quantizer flags (docs/microarchitecture.md "quantizer and multiplier")
# ==============================================================================================

def _element_flags(man: int, exp: int, q: int, block_exp: int) -> Flags:
    """Flags of one element x = man * 2^exp quantized to q with E = block_exp.

    s = x * 2^(6-E) is exact; the element changed when q != s; it overflowed when s rounded to
    magnitude 128 (|s| >= 127.5 rounds to 128 in both element modes) and was clamped."""
    if man == 0:
        return Flags()
    shift = exp + 6 - block_exp
    if shift >= 0:
        changed, overflowed = (man << shift) != q, abs(man) << shift >= 128
    else:
        changed = (q << -shift) != man
        overflowed = 2 * abs(man) >= 255 << -shift
    return Flags(inexact=changed, overflow=overflowed, underflow=q == 0)


def quantizer_flags(man: np.ndarray, exp: np.ndarray, scales: np.ndarray,
                    elements: np.ndarray) -> list[Flags]:
    """Flags per block of the quantizer's output: `man`, `exp` are the exact inputs blocked
    [..., 32] (zero padded), `scales` [...] and `elements` [..., 32] its result.

    A NaN block (scale 0xff) raises only `invalid`; its elements are not compared."""
    man, exp = man.reshape(-1, ref.BLOCK).tolist(), exp.reshape(-1, ref.BLOCK).tolist()
    result = []
    for scale, qs, ms, es in zip(scales.ravel().tolist(), elements.reshape(-1, ref.BLOCK).tolist(),
                                 man, exp):
        if scale == ref.NAN_SCALE:
            result.append(Flags(invalid=True))
        else:
            result.append(union(*(_element_flags(m, e, q, scale - 127)
                                  for m, e, q in zip(ms, es, qs))))
    return result


# ==============================================================================================
# Hardware description: the JSON of `sim config show`
# ==============================================================================================

REFERENCE_PROFILE = {
    "name": "reference",
    "exp": {"kind": {"type": "exact"}, "timing": {"lanes": 8, "latency": 2}},
    "reduce": {"kind": {"type": "exact"}, "timing": {"lanes": 8, "latency": 2}},
    "quantizer": {"latency": 2},
    "mac": {"columns": 32, "block_lanes": 32, "latency": 3, "accumulator": {"type": "exact"}},
    "recip": {"kind": {"type": "exact"}, "latency": 2},
    "mul": {"rounding": "nearest-even", "timing": {"lanes": 8, "latency": 2}},
}
NARROW_PROFILE = {
    "name": "narrow",
    "exp": {"kind": {"type": "pow2-lut", "table_bits": 6, "entry_bits": 12, "frac_bits": 16,
                     "const_bits": 16, "interpolate": True},
            "timing": {"lanes": 4, "latency": 3}},
    "reduce": {"kind": {"type": "fp32"}, "timing": {"lanes": 4, "latency": 4}},
    "quantizer": {"latency": 2},
    "mac": {"columns": 16, "block_lanes": 8, "latency": 4, "accumulator": {"type": "fp32"}},
    "recip": {"kind": {"type": "newton", "iterations": 2, "seed_bits": 4, "frac_bits": 16},
              "latency": 6},
    "mul": {"rounding": "nearest-even", "timing": {"lanes": 4, "latency": 2}},
}
PROFILES = {"reference": REFERENCE_PROFILE, "narrow": NARROW_PROFILE}
MAX_LATENCY = 1024


class ConfigError(ValueError):
    """A hardware description that is not valid (names the JSON path)."""


def _object(value, path: str, keys: Sequence[str]) -> dict:
    """Check that `value` is an object with exactly these keys."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected an object")
    missing = [k for k in keys if k not in value]
    unknown = [k for k in value if k not in keys]
    if missing or unknown:
        raise ConfigError(f"{path}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else []) +
            ([f"unknown {', '.join(unknown)} (expected {', '.join(keys)})"] if unknown else [])))
    return value


def _int(obj: dict, key: str, path: str, low: int, high: int) -> int:
    """An integer field in [low, high] (JSON booleans are not integers here)."""
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{path}.{key}: expected an integer in {low}..={high}, got {value!r}")
    return value


def _choice(obj: dict, key: str, path: str, choices: Sequence[str]) -> str:
    if obj[key] not in choices:
        raise ConfigError(f"{path}.{key}: expected one of {', '.join(choices)}, got {obj[key]!r}")
    return obj[key]


def _kind(value, path: str, kinds: dict) -> tuple[str, dict]:
    """A tagged kind object {"type": T, ...fields of T}: its type and checked fields."""
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise ConfigError(f"{path}.type: expected one of {', '.join(kinds)}")
    return value["type"], _object(value, path, ("type",) + kinds[value["type"]])


def _timing(value, path: str) -> None:
    timing = _object(value, path, ("lanes", "latency"))
    _int(timing, "lanes", path, 1, 1024)
    _int(timing, "latency", path, 0, MAX_LATENCY)


def _exp_unit(value, path: str) -> Callable[[int], tuple[int, Flags]]:
    kind, fields = _kind(value, path, {
        "exact": (), "pow2-lut": ("table_bits", "entry_bits", "frac_bits", "const_bits",
                                  "interpolate")})
    if kind == "exact":
        return exact_exp
    b = _int(fields, "table_bits", path, 1, 16)
    w = _int(fields, "entry_bits", path, 8, 30)
    f = _int(fields, "frac_bits", path, b, 40)
    k = _int(fields, "const_bits", path, 8, 40)
    if not isinstance(fields["interpolate"], bool):
        raise ConfigError(f"{path}.interpolate: expected true or false")
    return Pow2LutExp.from_widths(b, w, f, k, fields["interpolate"])


def _accumulator(value, path: str):
    kind, fields = _kind(value, path, {"exact": (), "fp32": (), "bf16": (),
                                       "fixed": ("int_bits", "frac_bits", "overflow")})
    if kind == "exact":
        return ExactAcc()
    if kind in ("fp32", "bf16"):
        return FloatAcc(ref.FORMATS[kind])
    i = _int(fields, "int_bits", path, 2, 64)
    q = _int(fields, "frac_bits", path, 0, 120 - i)
    return FixedAcc(i, q, _choice(fields, "overflow", path, ("saturate", "wrap")))


def _recip_unit(value, path: str):
    kind, fields = _kind(value, path, {"exact": (),
                                       "newton": ("iterations", "seed_bits", "frac_bits")})
    if kind == "exact":
        return ExactRecip()
    return NewtonRecip.from_widths(_int(fields, "iterations", path, 0, 8),
                                   _int(fields, "seed_bits", path, 1, 7),
                                   _int(fields, "frac_bits", path, 8, 60))


@dataclass(frozen=True)
class Hardware:
    """The numerics of a hardware description (timing never changes numbers, so it is only
    validated)."""

    name: str
    exp: Callable[[int], tuple[int, Flags]]
    reduce: Callable[[Sequence[Decoded]], tuple[int, Flags]]
    mac: Callable[[Sequence[Decoded]], tuple[int, Flags]]
    recip: Callable[[int], tuple[int, Flags]]
    mul_rounding: str

    def mul(self, a: int, b: int) -> tuple[int, Flags]:
        """The exact product rounded once in mul.rounding."""
        return ref.multiply(a, b, BF16, self.mul_rounding)


def parse_hardware(config: dict) -> Hardware:
    """Validate a hardware description (docs/microarchitecture.md widths and sizes)."""
    top = _object(config, "config", ("name", "exp", "reduce", "quantizer", "mac", "recip", "mul"))
    if not isinstance(top["name"], str):
        raise ConfigError("name: expected a string")
    exp = _object(top["exp"], "exp", ("kind", "timing"))
    _timing(exp["timing"], "exp.timing")
    reduce = _object(top["reduce"], "reduce", ("kind", "timing"))
    _timing(reduce["timing"], "reduce.timing")
    _int(_object(top["quantizer"], "quantizer", ("latency",)), "latency", "quantizer", 0,
         MAX_LATENCY)
    mac = _object(top["mac"], "mac", ("columns", "block_lanes", "latency", "accumulator"))
    _int(mac, "columns", "mac", 1, 4096)
    if _int(mac, "block_lanes", "mac", 1, ref.BLOCK) not in (1, 2, 4, 8, 16, 32):
        raise ConfigError(f"mac.block_lanes: expected a divisor of 32, got {mac['block_lanes']}")
    _int(mac, "latency", "mac", 0, MAX_LATENCY)
    recip = _object(top["recip"], "recip", ("kind", "latency"))
    _int(recip, "latency", "recip", 0, MAX_LATENCY)
    mul = _object(top["mul"], "mul", ("rounding", "timing"))
    _timing(mul["timing"], "mul.timing")
    return Hardware(top["name"], _exp_unit(exp["kind"], "exp.kind"),
                    _accumulator(reduce["kind"], "reduce.kind"),
                    _accumulator(mac["accumulator"], "mac.accumulator"),
                    _recip_unit(recip["kind"], "recip.kind"),
                    _choice(mul, "rounding", "mul", ref.MODES))


def load_hardware(profile: str | None = None, config: str | Path | None = None) -> Hardware:
    """A built-in profile by name, or a JSON file (errors name the file)."""
    if config is None:
        if (profile or "reference") not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; expected one of "
                              f"{', '.join(PROFILES)}")
        return parse_hardware(PROFILES[profile or "reference"])
    try:
        with open(config, encoding="utf-8") as f:
            return parse_hardware(json.load(f))
    except (ConfigError, json.JSONDecodeError) as error:
        raise ConfigError(f"{config}: {error}") from None


# ==============================================================================================
# softmax_v with configured units, and per-stage flag counts
# ==============================================================================================

FLAGGED_STAGES = ("softmaxed_v.exp-bf16", "softmaxed_v.exp_sum", "softmaxed_v.exp_mxint8",
                  "softmaxed_v.scaled_v", "softmaxed_v.inv", "softmaxed_v.out")


def flag_counts(flags: Sequence[Flags]) -> dict[str, int]:
    """How many results raised each flag."""
    return {name: sum(getattr(f, name) for f in flags) for name in FLAG_NAMES}


def mac_addends(dots: np.ndarray, exps: np.ndarray, nan: np.ndarray) -> list[list[Decoded]]:
    """reference.block_terms as the MAC's exact addends dot_b * 2^(Ea_b + Eb_b - 12), NaN when
    either scale byte is 0xff: one list in block order per output, outputs in row-major order."""
    blocks = dots.shape[-1]
    return [[NAN if bad else Decoded("finite", dot < 0, abs(dot), e)
             for dot, e, bad in zip(dot_row, exp_row, nan_row)]
            for dot_row, exp_row, nan_row in zip(dots.reshape(-1, blocks).tolist(),
                                                 exps.reshape(-1, blocks).tolist(),
                                                 nan.reshape(-1, blocks).tolist())]


def block_products(exp_q: tuple, v: tuple) -> list[list[list[Decoded]]]:
    """The softmax MAC's addends per head and column (a gevm per head): exp_q (scales [H, nb],
    elements [H, nb, 32]), v (scales [H, nb, D], elements [H, nb, D, 32])."""
    (se, qe), (sv, qv) = exp_q, v
    return [mac_addends(*ref.block_terms("gevm", (se[h], qe[h]), (sv[h], qv[h])))
            for h in range(se.shape[0])]


def mxint8_op(op: str, first: tuple, second: tuple, hw: Hardware, out: FloatFormat,
              mode: str) -> tuple[np.ndarray, dict[str, int]]:
    """dot/gevm/gemm on the description's MAC accumulator, each output converted to `out`
    (rounded in `mode` by the exact kind, RNE by the register kinds): (output bits, flag
    counts)."""
    dots, exps, nan = ref.block_terms(op, first, second)
    accumulator = dataclasses.replace(hw.mac, out=out)
    if isinstance(accumulator, ExactAcc):
        accumulator = dataclasses.replace(accumulator, mode=mode)
    results = [accumulator(addends) for addends in mac_addends(dots, exps, nan)]
    bits = np.array([b for b, _ in results], dtype=out.bits_dtype).reshape(dots.shape[:-1])
    return bits, flag_counts([f for _, f in results])


def quantize(bits: np.ndarray, element_mode: str) -> tuple[tuple, dict[str, int]]:
    """The quantize op: BF16 bits [m] in blocks of 32 (numerics.md section 4), with the
    quantizer's flag counts per block."""
    man, exp, nonfinite = ref.decode_array(bits, BF16)
    blocks = ref.quantize_along(man, exp, nonfinite, axis=0, mode=element_mode)
    flags = quantizer_flags(ref.to_blocks(man, 0, 0), ref.to_blocks(exp, 0, 0), *blocks)
    return blocks, flag_counts(flags)


def _split(pairs: list[tuple[int, Flags]], shape) -> tuple[np.ndarray, list[Flags]]:
    """(bits, Flags) results in row-major order -> (uint16 bits of `shape`, their flags)."""
    return (np.array([bits for bits, _ in pairs], dtype=np.uint16).reshape(shape),
            [flags for _, flags in pairs])


def softmax_v(qk: np.ndarray, v: tuple, hw: Hardware,
              element_mode: str = ref.NEAREST_AWAY) -> tuple[dict, dict]:
    """Every stage with the configured units, from qk_T bits [H, N] and v blocks (scales
    [H, nb, D], elements [H, nb, D, 32]).

    Returns (tensors keyed by file name as reference.softmax_v, flag counts per computed stage).
    """
    heads, dim = qk.shape[0], v[0].shape[-1]
    exp_bits, exp_flags = _split([hw.exp(x) for x in qk.ravel().tolist()], qk.shape)
    exp_sum, sum_flags = _split([hw.reduce(bf16_addends(row)) for row in exp_bits.tolist()],
                                (heads,))
    man, exp, nonfinite = ref.decode_array(exp_bits, BF16)
    exp_q = ref.quantize_along(man, exp, nonfinite, axis=1, mode=element_mode)
    q_flags = quantizer_flags(ref.to_blocks(man, 1, 0), ref.to_blocks(exp, 1, 0), *exp_q)
    scaled, mac_flags = _split([hw.mac(column) for head in block_products(exp_q, v)
                                for column in head], (heads, dim))
    inv, inv_flags = _split([hw.recip(s) for s in exp_sum.tolist()], (heads,))
    out, out_flags = _split([hw.mul(x, i) for row, i in zip(scaled.tolist(), inv.tolist())
                             for x in row], (heads, dim))
    tensors = dict(zip(ref.SOFTMAX_FILES, (qk, exp_bits, exp_sum, v, exp_q, scaled, inv, out)))
    flags = dict(zip(FLAGGED_STAGES, map(flag_counts, (exp_flags, sum_flags, q_flags,
                                                       mac_flags, inv_flags, out_flags))))
    return tensors, flags


# ==============================================================================================
# softmax_v with other block formats (docs/numerics.md §3.7: --exp-format F --v-format G)
# ==============================================================================================

def exp_quant_file(exp_format: str) -> str:
    """The dump name of exp's quantization in format F: `softmaxed_v.exp_<F>`
    (docs/dump-format.md; `softmaxed_v.exp_mxint8` for the dataset's format)."""
    return f"softmaxed_v.exp_{mx.get_format(exp_format).name}"


def mx_softmax_files(exp_format: str) -> tuple[str, ...]:
    """The eight dump names of a softmax_v case whose exp is quantized to `exp_format`."""
    return tuple(exp_quant_file(exp_format) if name == "softmaxed_v.exp_mxint8" else name
                 for name in ref.SOFTMAX_FILES)


def softmax_v_mx(qk: np.ndarray, v: tuple, hw: Hardware, exp_format: str, v_format: str,
                 rule: str = "floor", rounding: str | None = None) -> tuple[dict, dict]:
    """softmax_v with exp quantized to the MX format `exp_format` and v (scales uint8
    [H, nb, D], codes uint8 [H, nb, D, 32]) of the MX format `v_format` (§3.7).

    exp, reduce-sum, reciprocal and scale are the description's units, as in `softmax_v`; the
    quantizer is §8.2's (mx.quantize_array: scale `rule`, element `rounding`, None meaning each
    format's default; a partial block padded with +0); the gevm is §8.5's product rule
    (mx.product: the exact sum over blocks of every element product times both scales, one
    RNE rounding to BF16, the NaN / invalid precedence of §8.5).  §3.7 has no accumulator
    model for these formats, so a description whose MAC accumulator is not `exact` is refused,
    as `sim` refuses it.  Returns (tensors keyed by file name, flag counts per computed stage).
    """
    if not isinstance(hw.mac, ExactAcc):
        raise ValueError(f"hardware {hw.name!r}: softmax_v with other block formats needs the "
                         f"exact MAC accumulator (docs/numerics.md §3.7)")
    fe, fv = mx.get_format(exp_format), mx.get_format(v_format)
    heads, dim = qk.shape[0], v[0].shape[-1]
    exp_bits, exp_flags = _split([hw.exp(x) for x in qk.ravel().tolist()], qk.shape)
    exp_sum, sum_flags = _split([hw.reduce(bf16_addends(row)) for row in exp_bits.tolist()],
                                (heads,))
    e_scales, e_codes, q_flags = mx.quantize_bf16(exp_bits, fe, rule, rounding, axis=1)
    scaled, mac_flags = [], []
    for h in range(heads):
        bits, flags = mx.product("gevm", (e_scales[h], e_codes[h]), (v[0][h], v[1][h]), fe, fv,
                                 BF16, NEAREST_EVEN)
        scaled.append(bits)
        mac_flags += flags
    scaled = np.stack(scaled).astype(np.uint16).reshape(heads, dim)
    inv, inv_flags = _split([hw.recip(s) for s in exp_sum.tolist()], (heads,))
    out, out_flags = _split([hw.mul(x, i) for row, i in zip(scaled.tolist(), inv.tolist())
                             for x in row], (heads, dim))
    names = mx_softmax_files(fe.name)
    tensors = dict(zip(names, (qk, exp_bits, exp_sum, v, (e_scales, e_codes), scaled, inv, out)))
    counts = dict(zip((names[1], names[2], names[4], names[5], names[6], names[7]),
                      (flag_counts(exp_flags), flag_counts(sum_flags), mx.flag_counts(q_flags),
                       flag_counts(mac_flags), flag_counts(inv_flags), flag_counts(out_flags))))
    return tensors, counts
