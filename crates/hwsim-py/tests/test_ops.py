"""dot, gevm, gemm against scripts/reference.py and the files of `sim op`."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest

import hwsim
from conftest import dumps, reference

MODES = ["nearest-even", "nearest-away", "toward-zero", "toward-pos", "toward-neg"]
FORMATS = {"bf16": reference.BF16, "fp32": reference.FP32}


def random_mx(shape, axis, seed, spread=20, nan_every=0):
    """An MxTensor of random bytes: scales within 127 +- spread, elements -128..127, zero
    padding, and optionally a NaN scale every nan_every blocks."""
    rng = np.random.default_rng(seed)
    grid = list(shape)
    grid[axis] = -(-shape[axis] // 32)
    scales = (127 + rng.integers(-spread, spread + 1, grid)).astype(np.uint8)
    if nan_every:
        scales.reshape(-1)[::nan_every] = 0xFF
    elements = rng.integers(-128, 128, grid + [32]).astype(np.int8)
    index = [slice(None)] * (len(grid) + 1)
    index[axis] = grid[axis] - 1
    index[-1] = slice(shape[axis] % 32 or 32, None)
    elements[tuple(index)] = 0                   # padding lanes of the last block
    return hwsim.MxTensor(scales, elements, shape, axis)


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype == ml_dtypes.bfloat16 else np.uint32)


@pytest.mark.parametrize("out_dtype", ["bf16", "fp32"])
@pytest.mark.parametrize("mode", MODES)
def test_dot_gevm_gemm_match_the_reference(out_dtype, mode):
    fmt = FORMATS[out_dtype]
    a, b = random_mx((77,), 0, 1), random_mx((77,), 0, 2)
    got = hwsim.dot(a, b, out_dtype=out_dtype, rounding=mode)
    assert got.shape == ()
    want = reference.dot_product((a.scales, a.elements), (b.scales, b.elements), fmt, mode)
    assert int(bits(got)) == int(want)
    v, m = random_mx((70,), 0, 3, nan_every=5), random_mx((70, 9), 0, 4, spread=60)
    want = reference.gevm((v.scales, v.elements), (m.scales, m.elements), fmt, mode)
    np.testing.assert_array_equal(bits(hwsim.gevm(v, m, out_dtype, mode)), want)
    # m >= 8 rows with block exponents close together take the pre-scaled integer kernel.
    for spread, seed in ((2, 5), (90, 6)):
        x, y = random_mx((13, 100), 1, seed, spread), random_mx((100, 11), 0, seed + 50, spread)
        want = reference.gemm((x.scales, x.elements), (y.scales, y.elements), fmt, mode)
        np.testing.assert_array_equal(bits(hwsim.gemm(x, y, out_dtype, mode)), want)


@pytest.mark.parametrize("args", [
    ["gemm", "--m", 5, "--k", 33, "--n", 7, "--seed", 0],
    ["gemm", "--m", 8, "--k", 64, "--n", 8, "--seed", 2, "--out-dtype", "fp32", "--rounding",
     "toward-zero"],
    ["gevm", "--m", 70, "--k", 9, "--seed", 0],
    ["dot", "--m", 33, "--seed", 0],
])
def test_ops_match_the_cli_files_and_flag_counts(sim, tmp_path, args):
    sim("op", *args, "--out", tmp_path)
    (case,) = tmp_path.iterdir()
    manifest = json.loads((case / "manifest.json").read_text())
    files = manifest["files"]
    op = manifest["op"]
    operands = []
    for name, entry in files.items():
        if entry["dtype"] == "mxint8":
            grid = dumps.block_grid(entry["shape"], entry["block_axis"])
            s, e = dumps.read_mxint8(case / name, grid)
            operands.append(hwsim.MxTensor(s, e, entry["shape"], entry["block_axis"]))
    params = manifest["params"]
    fn = {"dot": hwsim.dot, "gevm": hwsim.gevm, "gemm": hwsim.gemm}[op]
    out, flags = fn(*operands, out_dtype=params["out_dtype"], rounding=params["rounding"],
                    flags=True)
    out_entry = files[f"{op}.output"]
    reader = dumps.read_bf16_bits if out_entry["dtype"] == "bf16" else dumps.read_fp32_bits
    np.testing.assert_array_equal(bits(out), reader(case / f"{op}.output", out_entry["shape"]))
    counts = {name: int(np.count_nonzero(flags & bit)) for name, bit in
              (("inexact", 1), ("underflow", 2), ("overflow", 4), ("div_by_zero", 8),
               ("invalid", 16))}
    assert counts == out_entry["flags"]


def test_operand_shapes_are_checked():
    a, b = random_mx((64,), 0, 1), random_mx((65,), 0, 2)
    with pytest.raises(ValueError, match="a and b: lengths 64 and 65 differ"):
        hwsim.dot(a, b)
    with pytest.raises(ValueError, match="vector and matrix: vector has m = 64"):
        hwsim.gevm(a, random_mx((65, 3), 0, 3))
    with pytest.raises(ValueError, match="input and other: input \\(4, 64\\) has k = 64"):
        hwsim.gemm(random_mx((4, 64), 1, 4), random_mx((63, 2), 0, 5))
    with pytest.raises(ValueError, match="other: expected a matrix blocked on axis 0"):
        hwsim.gemm(random_mx((4, 64), 1, 4), random_mx((64, 2), 1, 5))
    with pytest.raises(TypeError, match="b: expected an hwsim.MxTensor"):
        hwsim.dot(a, np.zeros(64, np.int8))
    with pytest.raises(ValueError, match="out_dtype: 'fp16' is not bf16 or fp32"):
        hwsim.dot(a, a, out_dtype="fp16")
    with pytest.raises(ValueError, match="rounding: unknown rounding mode 'up'"):
        hwsim.dot(a, a, rounding="up")
