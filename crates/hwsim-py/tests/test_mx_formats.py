"""quantize_mx, MxTensor of every OCP MX format and dot/gevm/gemm over any pair of formats,
against the files of the CLI (`sim op quantize|dot|gevm|gemm --mx-format ...`, read and written
here with the layout of docs/dump-format.md, not with the package's readers), an exact decoding
of the element codes written from the format table of docs/numerics.md §8 (and ml_dtypes), and
quantize_mxint8."""

from __future__ import annotations

import json
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

import hwsim
from conftest import dumps

FORMATS = ["mxint8", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2", "mxfp6-e2m3", "mxfp4-e2m1"]
RULES = ["floor", "ceil", "even", "rceil"]
WIDTH = {"mxint8": 8, "mxfp8-e4m3": 8, "mxfp8-e5m2": 8, "mxfp6-e3m2": 6, "mxfp6-e2m3": 6,
         "mxfp4-e2m1": 4}
#: docs/numerics.md §8.1: exponent bits, fraction bits, bias of the fp elements.
FIELDS = {"mxfp8-e4m3": (4, 3, 7), "mxfp8-e5m2": (5, 2, 15), "mxfp6-e3m2": (3, 2, 3),
          "mxfp6-e2m3": (2, 3, 1), "mxfp4-e2m1": (2, 1, 1)}
ML_DTYPES = {"mxfp8-e4m3": ml_dtypes.float8_e4m3fn, "mxfp8-e5m2": ml_dtypes.float8_e5m2,
             "mxfp6-e3m2": ml_dtypes.float6_e3m2fn, "mxfp6-e2m3": ml_dtypes.float6_e2m3fn,
             "mxfp4-e2m1": ml_dtypes.float4_e2m1fn}
FLAG_NAMES = (("inexact", 1), ("underflow", 2), ("overflow", 4), ("div_by_zero", 8),
              ("invalid", 16))


# --- the element codes, decoded from the table of docs/numerics.md §8.1 ---------------------

def decode(fmt: str, code: int):
    """The exact value of an element code: a Fraction, or "nan" / "+inf" / "-inf"; -0 as
    ("-0")."""
    if fmt == "mxint8":
        q = code - 256 if code >= 128 else code
        return Fraction(q, 64)
    ebits, mbits, bias = FIELDS[fmt]
    w = 1 + ebits + mbits
    neg = code >> (w - 1) & 1
    e = code >> mbits & ((1 << ebits) - 1)
    m = code & ((1 << mbits) - 1)
    if fmt == "mxfp8-e4m3" and e == 15 and m == 7:
        return "nan"
    if fmt == "mxfp8-e5m2" and e == 31:
        return ("-inf" if neg else "+inf") if m == 0 else "nan"
    if e == 0 and m == 0:
        return "-0" if neg else Fraction(0)
    mag = Fraction(m, 1 << mbits) * Fraction(2) ** (1 - bias) if e == 0 else \
        Fraction((1 << mbits) + m, 1 << mbits) * Fraction(2) ** (e - bias)
    return -mag if neg else mag


def check_value(got: float, want, scale: int) -> None:
    """got (a float64) is exactly want * 2^(scale - 127), or NaN for the NaN scale."""
    if scale == 0xFF or want == "nan":
        assert np.isnan(got), (got, want, scale)
    elif want in ("+inf", "-inf"):
        assert got == (np.inf if want == "+inf" else -np.inf), (got, want, scale)
    elif want == "-0":
        assert got == 0 and np.signbit(got), (got, scale)
    else:
        assert Fraction(got) == want * Fraction(2) ** (scale - 127), (got, want, scale)
        assert not (want == 0 and np.signbit(got))


# --- dumps in the layout of docs/dump-format.md ---------------------------------------------

def pack_lines(t: hwsim.MxTensor) -> str:
    """The dump text of an MxTensor: per block, the scale byte in the top two hex digits, element
    i's w-bit code at bits [w*i, w*i + w)."""
    w = WIDTH[t.format]
    codes = t.elements.reshape(-1, 32).view(np.uint8)
    out = []
    for s, block in zip(t.scales.reshape(-1), codes):
        word = int(s) << (32 * w)
        for i, c in enumerate(block):
            word |= int(c) << (w * i)
        out.append(f"{word:0{2 + 8 * w}x}\n")
    return "".join(out)


def read_mx(path, fmt: str, shape, axis) -> hwsim.MxTensor:
    """An MX dump of format fmt as an MxTensor (each line checked for its width)."""
    w = WIDTH[fmt]
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    scales, codes = [], []
    for n, line in enumerate(lines[:-1]):
        assert len(line) == 2 + 8 * w, f"{path}:{n + 1}: {len(line)} digits"
        word = int(line, 16)
        scales.append(word >> (32 * w))
        codes.append([word >> (w * i) & ((1 << w) - 1) for i in range(32)])
    grid = dumps.block_grid(shape, axis)
    s = np.array(scales, np.uint8).reshape(grid)
    c = np.array(codes, np.uint8).reshape(grid + (32,))
    return hwsim.MxTensor(s, c.view(np.int8) if fmt == "mxint8" else c, shape, axis, fmt)


def flag_counts(flags: np.ndarray) -> dict:
    return {name: int(np.count_nonzero(flags & bit)) for name, bit in FLAG_NAMES}


def only_case(folder):
    (case,) = folder.iterdir()
    return case, json.loads((case / "manifest.json").read_text())


def out_bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype == ml_dtypes.bfloat16 else np.uint32)


# --- the quantizer ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rule", RULES)
def test_quantize_mx_equals_the_cli_bytes(sim, tmp_path, fmt, rule):
    m = 2000                                        # 63 blocks, the last one partial
    sim("op", "quantize", "--m", m, "--mx-format", fmt, "--scale-rule", rule, "--dist",
        "corners", "--seed", 3, "--out", tmp_path)
    case, manifest = only_case(tmp_path)
    x = dumps.read_bf16_bits(case / "quantize.input", [m])
    t, flags = hwsim.quantize_mx(x, fmt, scale_rule=rule, flags=True)
    assert t.format == fmt and t.shape == (m,) and t.axis == 0
    assert t.elements.dtype == (np.int8 if fmt == "mxint8" else np.uint8)
    assert pack_lines(t) == (case / "quantize.output").read_text()
    assert flag_counts(flags) == manifest["files"]["quantize.output"]["flags"]
    assert manifest["files"]["quantize.output"]["dtype"] == fmt
    # The decoded CLI dump is the tensor, element for element.
    assert read_mx(case / "quantize.output", fmt, [m], 0) == t


@pytest.mark.parametrize("fmt, rule, mode", [
    ("mxfp8-e4m3", "floor", "nearest-away"), ("mxfp4-e2m1", "rceil", "nearest-away"),
    ("mxfp6-e2m3", "even", "nearest-away"), ("mxint8", "ceil", "nearest-even"),
    ("mxint8", "floor", "nearest-even"), ("mxfp8-e5m2", "ceil", "nearest-even"),
])
def test_element_rounding_equals_the_cli(sim, tmp_path, fmt, rule, mode):
    m = 1000
    sim("op", "quantize", "--m", m, "--mx-format", fmt, "--scale-rule", rule,
        "--element-rounding", mode, "--dist", "mixed", "--seed", 5, "--out", tmp_path)
    case, manifest = only_case(tmp_path)
    x = dumps.read_bf16_bits(case / "quantize.input", [m])
    t, flags = hwsim.quantize_mx(x, fmt, scale_rule=rule, element_rounding=mode, flags=True)
    assert pack_lines(t) == (case / "quantize.output").read_text()
    assert flag_counts(flags) == manifest["files"]["quantize.output"]["flags"]


def random_fp32(shape, seed) -> np.ndarray:
    """float32 values over many binades, with zeros of both signs, subnormals, ties, specials."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * np.exp2(rng.integers(-40, 40, shape))).astype(np.float32)
    flat = x.reshape(-1)
    k = flat.size
    flat[rng.integers(0, k, k // 40)] = 0.0
    flat[rng.integers(0, k, k // 40)] = -0.0
    flat[rng.integers(0, k, k // 50)] = np.float32(1.5e-40)
    flat[rng.integers(0, k, k // 300)] = np.inf
    flat[rng.integers(0, k, k // 300)] = np.nan
    flat[::9] = np.float32(1.0)
    flat[4::9] = (2 * rng.integers(0, 60, flat[4::9].size) + 1).astype(np.float32) / 128
    return x


@pytest.mark.parametrize("rounding", ["nearest-away", "nearest-even"])
@pytest.mark.parametrize("shape, axis", [((70,), 0), ((3, 45, 5), 1), ((4, 200), -1)])
def test_quantize_mxint8_is_quantize_mx_with_the_defaults(shape, axis, rounding):
    x = random_fp32(shape, 7)
    t, f = hwsim.quantize_mxint8(x, axis=axis, rounding=rounding, flags=True)
    u, g = hwsim.quantize_mx(x, "mxint8", axis=axis, element_rounding=rounding, flags=True)
    assert u == t and u.format == "mxint8" and u.elements.dtype == np.int8
    np.testing.assert_array_equal(g, f)
    if rounding == "nearest-away":                  # mxint8's default element rounding
        assert hwsim.quantize_mx(x, "mxint8", axis=axis) == t


@pytest.mark.parametrize("fmt", FORMATS)
def test_any_axis_is_the_vector_quantizer_along_it(fmt):
    x = random_fp32((70, 3, 2), 8)
    t, flags = hwsim.quantize_mx(x, fmt, axis=0, scale_rule="even", flags=True)
    assert t.grid_shape == (3, 3, 2) and flags.shape == (3, 3, 2)
    for i in range(3):
        for j in range(2):
            v, f = hwsim.quantize_mx(np.ascontiguousarray(x[:, i, j]), fmt, scale_rule="even",
                                     flags=True)
            np.testing.assert_array_equal(t.scales[:, i, j], v.scales)
            np.testing.assert_array_equal(t.elements[:, i, j], v.elements)
            np.testing.assert_array_equal(flags[:, i, j], f)
    # bfloat16, its uint16 bits and float32 of the same values quantize alike.
    b = x.astype(ml_dtypes.bfloat16)
    want = hwsim.quantize_mx(b.astype(np.float32), fmt, axis=0)
    assert hwsim.quantize_mx(b, fmt, axis=0) == want
    assert hwsim.quantize_mx(b.view(np.uint16), fmt, axis=0) == want


def test_the_fp_quantizer_keeps_signs_subnormals_and_saturates():
    t, flags = hwsim.quantize_mx(np.float32([448, 464, -0.0, -2.0 ** -12, 2.0 ** -9]),
                                 "mxfp8-e4m3", flags=True)
    assert t.scales[0] == 127                       # floor(log2 464) - 8 = 0
    # 464 is the tie between 448 and 480: nearest-even keeps 448; -0 and a negative that
    # rounds to zero give the -0 code; 2^-9 is the smallest subnormal.
    assert t.elements[0, :5].tolist() == [0x7E, 0x7E, 0x80, 0x80, 0x01]
    assert flags[0] == hwsim.FLAG_INEXACT | hwsim.FLAG_UNDERFLOW
    t, flags = hwsim.quantize_mx(np.float32([464]), "mxfp8-e4m3",
                                 element_rounding="nearest-away", flags=True)
    assert t.elements[0, 0] == 0x7E and flags[0] == hwsim.FLAG_INEXACT | hwsim.FLAG_OVERFLOW
    d = hwsim.quantize_mx(np.float32([-0.0, 1.0]), "mxfp4-e2m1").dequantize()
    assert np.signbit(d[0]) and d[1] == 1.0
    t, flags = hwsim.quantize_mx(np.float32([1.0, np.inf]), "mxfp6-e3m2", flags=True)
    assert t.scales[0] == 0xFF and not t.elements.any() and flags[0] == hwsim.FLAG_INVALID
    assert np.isnan(t.dequantize()).all()


# --- dequantize ------------------------------------------------------------------------------

def every_code(fmt: str) -> np.ndarray:
    """Every code of the format, repeated to whole blocks (mxfp4's 16 codes twice)."""
    codes = np.resize(np.arange(1 << WIDTH[fmt], dtype=np.uint8), max(32, 1 << WIDTH[fmt]))
    return codes.view(np.int8) if fmt == "mxint8" else codes


@pytest.mark.parametrize("fmt", FORMATS)
def test_dequantize_is_exact_for_every_code_and_scale(fmt):
    """float64 holds every value of every format under every scale: each one equals the exact
    Fraction of the format table; NaN/inf codes and the 0xff scale give IEEE NaN/inf."""
    codes = every_code(fmt)
    n = codes.size                                  # 32, 64 or 256: whole blocks
    scales = np.arange(256, dtype=np.uint8)
    elements = np.broadcast_to(codes.reshape(1, n // 32, 32), (256, n // 32, 32))
    t = hwsim.MxTensor(np.repeat(scales[:, None], n // 32, axis=1), elements, (256, n), 1, fmt)
    values = t.dequantize()
    assert values.dtype == np.float64 and values.shape == (256, n)
    exact = [decode(fmt, int(c)) for c in codes.view(np.uint8)]
    for s in range(256):
        for c in range(n):
            check_value(values[s, c], exact[c], s)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "mxint8"])
def test_every_code_decodes_as_ml_dtypes_does(fmt):
    codes = every_code(fmt)
    t = hwsim.MxTensor(np.full(codes.size // 32, 127, np.uint8), codes.reshape(-1, 32),
                       (codes.size,), 0, fmt)
    ours = t.dequantize()
    theirs = codes.view(ML_DTYPES[fmt]).astype(np.float64)
    np.testing.assert_array_equal(ours, theirs)           # NaN where ml_dtypes has NaN
    finite = ~np.isnan(theirs)
    np.testing.assert_array_equal(np.signbit(ours)[finite], np.signbit(theirs)[finite])


def test_dequantize_float32_is_exact_or_refuses():
    codes = every_code("mxfp8-e5m2").reshape(-1, 32)
    t = hwsim.MxTensor(np.full(8, 0x7F, np.uint8), codes, (256,), 0, "mxfp8-e5m2")
    np.testing.assert_array_equal(t.dequantize(np.float32), t.dequantize())
    assert t.dequantize(np.float32).dtype == np.float32
    # 57344 * 2^127 is past float32's range: refused rather than rounded to inf.
    big = hwsim.MxTensor(np.full(8, 0xFE, np.uint8), codes, (256,), 0, "mxfp8-e5m2")
    with pytest.raises(ValueError, match="dtype: the tensor holds .*no float32 holds"):
        big.dequantize(np.float32)
    # The smallest values of every format under scale 0x00 are float32 subnormals, exactly.
    for fmt in FORMATS:
        c = every_code(fmt).reshape(-1, 32)
        small = hwsim.MxTensor(np.zeros(c.shape[0], np.uint8), c, (c.size,), 0, fmt)
        np.testing.assert_array_equal(small.dequantize(np.float32), small.dequantize())


# --- dot, gevm, gemm -------------------------------------------------------------------------

OPS = {"dot": hwsim.dot, "gevm": hwsim.gevm, "gemm": hwsim.gemm}


def cli_operands(case, manifest):
    files = manifest["files"]
    return [read_mx(case / name, e["dtype"], e["shape"], e["block_axis"])
            for name, e in files.items() if "block_axis" in e]


def check_against_cli_output(case, manifest, operands):
    op, params = manifest["op"], manifest["params"]
    out, flags = OPS[op](*operands, out_dtype=params["out_dtype"], rounding=params["rounding"],
                         flags=True)
    entry = manifest["files"][f"{op}.output"]
    reader = dumps.read_bf16_bits if entry["dtype"] == "bf16" else dumps.read_fp32_bits
    np.testing.assert_array_equal(out_bits(out), reader(case / f"{op}.output", entry["shape"]))
    assert flag_counts(flags) == entry["flags"]


# Seeds 1 and 2: `--dist corners` seed 0 of gemm/gevm with an fp format hits the overflow of
# the exact accumulator's term range (test_block_sums_of_the_largest_scales below).
@pytest.mark.parametrize("args", [
    ["gemm", "--m", 5, "--k", 100, "--n", 7, "--mx-format", "mxfp8-e4m3,mxfp4-e2m1"],
    ["gemm", "--m", 9, "--k", 70, "--n", 4, "--mx-format", "mxfp6-e3m2,mxfp6-e2m3",
     "--out-dtype", "fp32", "--rounding", "toward-zero"],
    ["gemm", "--m", 4, "--k", 64, "--n", 6, "--mx-format", "mxfp4-e2m1", "--scale-rule", "rceil"],
    ["gemm", "--m", 3, "--k", 96, "--n", 5, "--mx-format", "mxint8", "--scale-rule", "ceil"],
    ["gemm", "--m", 8, "--k", 64, "--n", 8, "--mx-format", "mxint8"],
    ["gevm", "--m", 100, "--k", 9, "--mx-format", "mxfp8-e5m2", "--rounding", "toward-neg"],
    ["gevm", "--m", 70, "--k", 5, "--mx-format", "mxfp8-e5m2,mxint8", "--out-dtype", "fp32"],
    ["dot", "--m", 200, "--mx-format", "mxint8,mxfp4-e2m1", "--rounding", "nearest-away"],
    ["dot", "--m", 33, "--mx-format", "mxfp8-e4m3", "--scale-rule", "even",
     "--element-rounding", "nearest-away", "--rounding", "toward-pos"],
])
@pytest.mark.parametrize("seed", [1, 2])
def test_ops_equal_the_cli_on_its_operands(sim, tmp_path, args, seed):
    sim("op", *args, "--dist", "corners", "--seed", seed, "--out", tmp_path)
    case, manifest = only_case(tmp_path)
    operands = cli_operands(case, manifest)
    formats = manifest["params"].get("mx_format", "mxint8").split(",")
    assert [t.format for t in operands] == (formats * 2 if len(formats) == 1 else formats)
    check_against_cli_output(case, manifest, operands)


SPECIAL_CODES = {"mxfp8-e4m3": [0x7F, 0xFF], "mxfp8-e5m2": [0x7C, 0x7D, 0x7E, 0x7F, 0xFC, 0xFD,
                                                            0xFE, 0xFF]}


def random_codes(fmt, shape, axis, seed, spread=20, nan_scale_every=0):
    """An MxTensor of random codes (every code; NaN and inf codes kept in one of 300, so that
    most outputs stay finite), scales within 127 +- spread, the +0 code in the padding."""
    rng = np.random.default_rng(seed)
    grid = list(dumps.block_grid(shape, axis))
    scales = (127 + rng.integers(-spread, spread + 1, grid)).astype(np.uint8)
    if nan_scale_every:
        scales.reshape(-1)[3::nan_scale_every] = 0xFF
    codes = rng.integers(0, 1 << WIDTH[fmt], grid + [32]).astype(np.uint8)
    special = np.isin(codes, SPECIAL_CODES.get(fmt, []))
    codes[special & (rng.random(codes.shape) > 1 / 300)] = 0x01
    index = [slice(None)] * (len(grid) + 1)
    index[axis] = grid[axis] - 1
    index[-1] = slice(shape[axis] % 32 or 32, None)
    codes[tuple(index)] = 0
    return hwsim.MxTensor(scales, codes.view(np.int8) if fmt == "mxint8" else codes, shape, axis,
                          fmt)


@pytest.mark.parametrize("op, dims, pair", [
    ("dot", (100, 1, 1), ("mxfp8-e5m2", "mxfp8-e5m2")),
    ("dot", (64, 1, 1), ("mxfp8-e4m3", "mxfp8-e5m2")),
    ("gevm", (70, 6, 1), ("mxfp8-e5m2", "mxfp4-e2m1")),
    ("gemm", (5, 100, 3), ("mxfp8-e4m3", "mxfp4-e2m1")),
    ("gemm", (4, 40, 4), ("mxint8", "mxfp6-e2m3")),
    ("gemm", (6, 64, 2), ("mxint8", "mxint8")),
])
@pytest.mark.parametrize("out_dtype", ["bf16", "fp32"])
def test_ops_equal_the_cli_inputs_path_on_any_codes(sim, tmp_path, op, dims, pair, out_dtype):
    """Codes the quantizer never writes (NaN and inf codes, 0xff scales, -0) through
    `sim op <op> --mx-format A,B --inputs DIR` and through Python."""
    m, k, n = dims
    shapes = {"dot": [((m,), 0), ((m,), 0)], "gevm": [((m,), 0), ((m, k), 0)],
              "gemm": [((m, k), 1), ((k, n), 0)]}[op]
    names = {"dot": ("a", "b"), "gevm": ("vector", "matrix"), "gemm": ("input", "other")}[op]
    operands = [random_codes(f, s, ax, seed=i + 10 * len(op), nan_scale_every=23 if i else 0)
                for i, (f, (s, ax)) in enumerate(zip(pair, shapes))]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, t in zip(names, operands):
        (inputs / f"{op}.{name}").write_text(pack_lines(t))
    out = tmp_path / "out"
    sizes = {"dot": ["--m", m], "gevm": ["--m", m, "--k", k], "gemm": ["--m", m, "--k", k,
                                                                        "--n", n]}[op]
    sim("op", op, *sizes, "--mx-format", ",".join(pair), "--inputs", inputs, "--out", out,
        "--out-dtype", out_dtype)
    case, manifest = only_case(out)
    # The CLI read the very operands written here.
    assert cli_operands(case, manifest) == operands
    check_against_cli_output(case, manifest, operands)


def test_special_codes_follow_ieee():
    def vec(fmt, codes, scale=127):
        c = np.zeros(32, np.uint8)
        c[:len(codes)] = codes
        return hwsim.MxTensor(np.uint8([scale]), c.reshape(1, 32), (32,), 0, fmt)

    one = vec("mxfp8-e5m2", [0x3C])                             # 1.0
    inf, ninf, nan = (vec("mxfp8-e5m2", [c]) for c in (0x7C, 0xFC, 0x7E))
    assert hwsim.dot(inf, one).astype(np.float32) == np.inf
    assert hwsim.dot(ninf, one, out_dtype="fp32") == -np.inf
    assert np.isnan(hwsim.dot(nan, one, out_dtype="fp32"))
    zero = vec("mxfp4-e2m1", [0])
    value, flags = hwsim.dot(inf, zero, out_dtype="fp32", flags=True)   # inf * 0
    assert np.isnan(value) and flags & hwsim.FLAG_INVALID
    e4m3_nan = vec("mxfp8-e4m3", [0x7F])
    assert np.isnan(hwsim.dot(e4m3_nan, vec("mxfp4-e2m1", [2]), out_dtype="fp32"))
    assert np.isnan(hwsim.dot(vec("mxfp6-e3m2", [4], scale=0xFF), vec("mxfp6-e3m2", [4]),
                              out_dtype="fp32"))


def test_block_sums_of_the_largest_scales():
    a = np.zeros((1, 32), np.uint8)
    b = np.zeros((1, 32), np.uint8)
    a[0, 0], b[0, 0] = 0x38, 0xA                    # 1.0 (e4m3) * -1.0 (e2m1)
    x = hwsim.MxTensor(np.uint8([0xFE]), a, (32,), 0, "mxfp8-e4m3")
    y = hwsim.MxTensor(np.uint8([0xFE]), b, (32,), 0, "mxfp4-e2m1")
    value, flags = hwsim.dot(x, y, out_dtype="fp32", flags=True)   # -2^254
    assert value == -np.inf and flags == hwsim.FLAG_OVERFLOW | hwsim.FLAG_INEXACT


def test_mxint8_pairs_keep_the_mxint8_path():
    """Two mxint8 operands from quantize_mx are today's MXINT8 operands (quantize_mxint8's), and
    the generic entry point given two mxint8 operands computes what the MXINT8 one does."""
    from hwsim import _native
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((6, 100)).astype(np.float32)
    ys = (rng.standard_normal((100, 5)) * 1e3).astype(np.float32)
    x, y = hwsim.quantize_mx(xs, "mxint8"), hwsim.quantize_mx(ys, "mxint8", axis=0)
    assert x == hwsim.quantize_mxint8(xs) and y == hwsim.quantize_mxint8(ys, axis=0)
    for mode in ("nearest-even", "toward-zero"):
        flat = [(t.scales.reshape(-1), t.elements.reshape(-1), list(t.shape), t.axis)
                for t in (x, y)]
        want = _native.block_matmul("gemm", (6, 100, 5), *flat, "fp32", mode)
        generic = _native.mx_block_matmul(
            "gemm", (6, 100, 5), *[(s, e.view(np.uint8), sh, ax, "mxint8")
                                   for s, e, sh, ax in flat], "fp32", mode)
        np.testing.assert_array_equal(generic[0], want[0])
        np.testing.assert_array_equal(generic[1], want[1])
        np.testing.assert_array_equal(out_bits(hwsim.gemm(x, y, "fp32", mode)).reshape(-1),
                                      want[0])


# --- bad arguments ---------------------------------------------------------------------------

def test_bad_arguments_name_the_argument():
    x = np.zeros(40, np.float32)
    with pytest.raises(ValueError, match="format: unknown MX format 'mxfp8'.*mxfp8-e4m3"):
        hwsim.quantize_mx(x, "mxfp8")
    with pytest.raises(TypeError, match="format: expected a str, got int"):
        hwsim.quantize_mx(x, 8)
    with pytest.raises(ValueError, match="scale_rule: unknown scale rule 'round'"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", scale_rule="round")
    with pytest.raises(TypeError, match="scale_rule: expected a str"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", scale_rule=None)
    with pytest.raises(ValueError, match="element_rounding: must be nearest-away or nearest-even"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", element_rounding="toward-zero")
    with pytest.raises(ValueError, match="element_rounding: unknown rounding mode"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", element_rounding="even")
    with pytest.raises(ValueError, match="x: expected float32.*got dtype float64"):
        hwsim.quantize_mx(np.zeros(40), "mxfp4-e2m1")
    with pytest.raises(TypeError, match="x: expected an array of numbers"):
        hwsim.quantize_mx("1.0", "mxfp4-e2m1")
    with pytest.raises(ValueError, match="axis: 1 is outside the 1 axes of x"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", axis=1)
    with pytest.raises(TypeError, match="flags: expected True or False"):
        hwsim.quantize_mx(x, "mxfp4-e2m1", flags="yes")


def test_mxtensor_checks_its_format_and_codes():
    s = np.zeros(2, np.uint8)
    codes = np.zeros((2, 32), np.uint8)
    with pytest.raises(ValueError, match="format: unknown MX format 'fp4'"):
        hwsim.MxTensor(s, codes, (40,), 0, "fp4")
    with pytest.raises(ValueError, match="elements: expected uint8 .*mxfp4-e2m1.*got dtype int8"):
        hwsim.MxTensor(s, codes.view(np.int8), (40,), 0, "mxfp4-e2m1")
    with pytest.raises(ValueError, match="elements: expected int8 .*mxint8.*got dtype uint8"):
        hwsim.MxTensor(s, codes, (40,), 0)
    codes[0, 3] = 0x10
    with pytest.raises(ValueError, match="elements: code 0x10 does not fit the 4 bits"):
        hwsim.MxTensor(s, codes, (40,), 0, "mxfp4-e2m1")
    hwsim.MxTensor(s, codes, (40,), 0, "mxfp6-e3m2")
    codes[0, 3], codes[1, 9] = 0, 0x20              # the -0 code of e3m2 in the padding
    with pytest.raises(ValueError, match="nonzero padding"):
        hwsim.MxTensor(s, codes, (40,), 0, "mxfp6-e3m2")
    t = hwsim.quantize_mx(np.ones(40, np.float32), "mxfp4-e2m1")
    assert repr(t).startswith("MxTensor(format='mxfp4-e2m1', shape=(40,)")
    assert t != hwsim.MxTensor(t.scales, t.elements, t.shape, t.axis, "mxfp6-e3m2")
    t.format = "mxint8"                             # reassigned: checked again where used
    with pytest.raises(ValueError, match="a: elements: expected int8"):
        hwsim.dot(t, t)
    t.format = "mxfp5"
    with pytest.raises(ValueError, match="self: format: unknown MX format 'mxfp5'"):
        t.dequantize()


def test_ops_and_softmax_refuse_what_they_cannot_take(tmp_path):
    a = hwsim.quantize_mx(np.ones(64, np.float32), "mxfp8-e4m3")
    b = hwsim.quantize_mx(np.ones(65, np.float32), "mxfp4-e2m1")
    with pytest.raises(ValueError, match="a and b: lengths 64 and 65 differ"):
        hwsim.dot(a, b)
    with pytest.raises(ValueError, match="out_dtype: 'fp16' is not bf16 or fp32"):
        hwsim.dot(a, a, out_dtype="fp16")
    with pytest.raises(ValueError, match="rounding: unknown rounding mode 'up'"):
        hwsim.dot(a, a, rounding="up")
    with pytest.raises(TypeError, match="b: expected an hwsim.MxTensor"):
        hwsim.dot(a, a.dequantize())
    # softmax_v takes a v of any format (test_mx_softmax.py), but a case's tensors must have
    # the formats its manifest records
    v = hwsim.quantize_mx(np.ones((2, 40, 8), np.float32), "mxfp8-e4m3", axis=1)
    qk = np.zeros((2, 40), ml_dtypes.bfloat16)
    assert hwsim.softmax_v(qk, v)["softmaxed_v.v"].format == "mxfp8-e4m3"
    case = hwsim.run_case(40, 1, heads=2, head_dim=8)
    case["softmaxed_v.v"] = hwsim.quantize_mx(np.ones((1, 2, 40, 8), np.float32), "mxfp4-e2m1",
                                              axis=2)
    with pytest.raises(ValueError, match="'softmaxed_v.v' holds mxfp4-e2m1 blocks, but the "
                                         "manifest's v_format is mxint8"):
        hwsim.write_case(case, tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_extension_checks_operands_again():
    """The native entry point refuses what the Python layer would have refused."""
    from hwsim import _native
    s, c = np.zeros(2, np.uint8), np.zeros(64, np.uint8)
    good = (s, c, [40], 0, "mxfp4-e2m1")
    with pytest.raises(ValueError, match="b.format: unknown MX format 'fp4'"):
        _native.mx_block_matmul("dot", (40, 1, 1), good, (s, c, [40], 0, "fp4"), "bf16",
                                "nearest-even")
    wide = c.copy()
    wide[5] = 0x40
    with pytest.raises(ValueError, match="a: element code 0x40 .block 0, lane 5. does not fit "
                                         "the 6 bits of mxfp6-e3m2"):
        _native.mx_block_matmul("dot", (40, 1, 1), (s, wide, [40], 0, "mxfp6-e3m2"), good,
                                "bf16", "nearest-even")
    pad = c.copy()
    pad[32 + 8] = 0x8                               # block 1, lane 8: past length 40
    with pytest.raises(ValueError, match="b: block 1 .grid order. has the nonzero code 0x8"):
        _native.mx_block_matmul("dot", (40, 1, 1), good, (s, pad, [40], 0, "mxfp4-e2m1"),
                                "bf16", "nearest-even")
    with pytest.raises(ValueError, match="scale_rule: unknown scale rule 'x'"):
        _native.quantize_mx(np.zeros(4, np.uint32), [4], 0, "mxint8", "x", None)
    with pytest.raises(ValueError, match="format: unknown MX format"):
        _native.quantize_mx(np.zeros(4, np.uint32), [4], 0, "int8", "floor", None)
