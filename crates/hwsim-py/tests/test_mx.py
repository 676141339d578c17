"""quantize_mxint8 and MxTensor against scripts/reference.py, the docs' examples and the strict
dump loader scripts/dumps.py."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import hwsim
from conftest import dumps, reference


def random_fp32(shape, seed) -> np.ndarray:
    """float32 values over many binades, with zeros, subnormals, ties and specials sprinkled."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * np.exp2(rng.integers(-30, 30, shape))).astype(np.float32)
    flat = x.reshape(-1)
    k = flat.size
    flat[rng.integers(0, k, k // 50)] = 0.0
    flat[rng.integers(0, k, k // 50)] = np.float32(1.5e-40)             # subnormal
    flat[rng.integers(0, k, k // 200)] = np.inf
    flat[rng.integers(0, k, k // 200)] = np.nan
    # exact ties of the element rounding: (2j+1)/128 next to a 1.0 in the same block
    flat[::7] = np.float32(1.0)
    flat[3::7] = (2 * rng.integers(0, 60, flat[3::7].size) + 1).astype(np.float32) / 128
    return x


def reference_quantize(x: np.ndarray, axis: int, mode: str):
    man, exp, nonfinite = reference.decode_array(x.view(np.uint32), reference.FP32)
    return reference.quantize_along(man, exp, nonfinite, axis, mode)


@pytest.mark.parametrize("shape, axis", [((70,), 0), ((3, 45, 5), 1), ((4, 33), -1),
                                         ((64, 3), 0), ((2, 2, 96), 2)])
@pytest.mark.parametrize("mode", ["nearest-away", "nearest-even"])
def test_quantize_matches_the_reference(shape, axis, mode):
    x = random_fp32(shape, seed=len(shape) * 100 + shape[0])
    t = hwsim.quantize_mxint8(x, axis=axis, rounding=mode)
    scales, elements = reference_quantize(x, axis % len(shape), mode)
    assert t.shape == shape and t.axis == axis % len(shape)
    np.testing.assert_array_equal(t.scales, scales)
    np.testing.assert_array_equal(t.elements, elements)


def test_bfloat16_input_is_quantized_exactly():
    x = random_fp32((5, 70), 3).astype(ml_dtypes.bfloat16)      # the rounding happens here
    widened = x.astype(np.float32)                                # exact
    t = hwsim.quantize_mxint8(x)
    np.testing.assert_array_equal(t.scales, reference_quantize(widened, 1, "nearest-away")[0])
    assert hwsim.quantize_mxint8(x.view(np.uint16)) == t          # uint16: BF16 bit patterns
    assert hwsim.quantize_mxint8(widened) == t


def test_examples_of_numerics_md():
    t = hwsim.quantize_mxint8(np.float32([1.0, 0.5, -0.25, 0.0]))
    assert t.scales.tolist() == [0x7f] and t.elements[0, :4].tolist() == [64, 32, -16, 0]
    away = hwsim.quantize_mxint8(np.float32([1.0, 1 / 128]), rounding="nearest-away")
    even = hwsim.quantize_mxint8(np.float32([1.0, 1 / 128]), rounding="nearest-even")
    assert away.elements[0, 1] == 1 and even.elements[0, 1] == 0
    t, flags = hwsim.quantize_mxint8(np.float32([1.9921875]), flags=True)   # 127.5 -> 128 -> 127
    assert t.elements[0, 0] == 127
    assert flags[0] == hwsim.FLAG_OVERFLOW | hwsim.FLAG_INEXACT


def test_quantization_flags_follow_their_definitions():
    x = random_fp32((40, 64), 11)
    t, flags = hwsim.quantize_mxint8(x, axis=1, flags=True)
    assert flags.shape == (40, 2)
    blocks = x.astype(np.float64).reshape(40, 2, 32)
    values = t.dequantize().astype(np.float64).reshape(40, 2, 32)
    nonfinite = ~np.isfinite(blocks).all(axis=-1)
    e = t.scales.astype(np.float64) - 127
    scaled = np.abs(blocks) * np.exp2(6 - e)[..., None]
    with np.errstate(invalid="ignore"):
        inexact = (values != blocks).any(axis=-1)
        underflow = ((blocks != 0) & (values == 0)).any(axis=-1)
        overflow = (scaled >= 127.5).any(axis=-1)
    np.testing.assert_array_equal(flags & hwsim.FLAG_INVALID != 0, nonfinite)
    finite = ~nonfinite
    np.testing.assert_array_equal((flags & hwsim.FLAG_INEXACT != 0)[finite], inexact[finite])
    np.testing.assert_array_equal((flags & hwsim.FLAG_UNDERFLOW != 0)[finite], underflow[finite])
    np.testing.assert_array_equal((flags & hwsim.FLAG_OVERFLOW != 0)[finite], overflow[finite])
    assert inexact.any() and underflow.any() and nonfinite.any()


@pytest.mark.parametrize("shape, axis", [((70,), 0), ((3, 45, 5), 1), ((2, 2, 96), 2)])
def test_dequantize_matches_the_dump_loader(shape, axis):
    t = hwsim.quantize_mxint8(random_fp32(shape, 5), axis=axis)
    want = dumps.dequantize_mxint8(t.scales, t.elements, shape, axis)
    np.testing.assert_array_equal(t.dequantize(), want)
    assert t.dequantize().dtype == np.float64 and t.dequantize().shape == shape
    np.testing.assert_array_equal(t.dequantize(np.float32), want)
    assert t.dequantize(np.float32).dtype == np.float32


def test_mxtensor_checks_its_arrays():
    s, e = np.zeros(2, np.uint8), np.zeros((2, 32), np.int8)
    hwsim.MxTensor(s, e, (40,), 0)
    with pytest.raises(ValueError, match="scales: expected uint8"):
        hwsim.MxTensor(s.astype(np.int16), e, (40,), 0)
    with pytest.raises(ValueError, match="elements: expected int8"):
        hwsim.MxTensor(s, e.astype(np.uint8), (40,), 0)
    with pytest.raises(ValueError, match="scales: shape \\(2,\\), but \\(70,\\)"):
        hwsim.MxTensor(s, e, (70,), 0)
    with pytest.raises(ValueError, match="axis: 1 is outside"):
        hwsim.MxTensor(s, e, (40,), 1)
    e[1, 8] = 3                                  # lane 8 of the last block is past length 40
    with pytest.raises(ValueError, match="nonzero padding past the logical length 40"):
        hwsim.MxTensor(s, e, (40,), 0)


def test_quantize_rejects_what_it_cannot_take_exactly():
    with pytest.raises(ValueError, match="x: expected float32.*float64"):
        hwsim.quantize_mxint8(np.zeros(4))
    with pytest.raises(ValueError, match="axis: 2 is outside"):
        hwsim.quantize_mxint8(np.zeros((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="rounding: must be nearest-away or nearest-even"):
        hwsim.quantize_mxint8(np.zeros(4, np.float32), rounding="toward-zero")
    with pytest.raises(ValueError, match="0-d"):
        hwsim.quantize_mxint8(np.float32(1.0))
    strided = random_fp32((64, 64), 2)[::2, ::3]
    assert hwsim.quantize_mxint8(strided) == hwsim.quantize_mxint8(np.ascontiguousarray(strided))
