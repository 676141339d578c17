"""Black-box agreement of the simulator's OCP MX support with the independent reference mx.py.

`sim op quantize|dot|gevm|gemm --mx-format ...` (docs/numerics.md section 8) writes case folders;
mx.py recomputes every output dump and flag count from each folder's input dumps and manifest
alone.  Three groups:

- every format x scale rule x element rounding through `sim op quantize --dist corners`;
- every BF16 pattern as the amax of a block (65,536 blocks of 32, written here) through
  `sim op quantize --inputs`, for every format and rule, compared with mx.quantize_bf16;
- dot / gevm / gemm over pairs of formats (`--mx-format A,B`): generated operands, and operands
  written here (`--inputs`) with every special case placed on purpose (inf * 0, inf - inf,
  +-inf, 0xff scales, NaN codes, exact zeros, subnormal and overflowing outputs).

The simulator is target/release/sim (or SIM=PATH); a missing binary fails these tests unless
SIM_SKIP lists `sim` (the convention of test_dists.py / test_units.py).

Run: SIM=target/release/sim .venv/bin/python -m pytest scripts/test_mx_cli.py
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import dumps
import mx

ROOT = Path(__file__).resolve().parent.parent
SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))
SIM_SKIPPED = "sim" in os.environ.get("SIM_SKIP", "").split(",")
FORMATS = list(mx.FORMATS)
ELEMENT_MODES = list(mx.ELEMENT_MODES)


@pytest.fixture(scope="session")
def sim() -> Path:
    """The simulator binary; no silent pass: missing, it fails the test unless SIM_SKIP=sim."""
    if not SIM.is_file():
        if SIM_SKIPPED:
            pytest.skip(f"SIM_SKIP=sim and no simulator binary at {SIM}")
        pytest.fail(f"no simulator binary at {SIM}: build it with `cargo build --release -p sim` "
                    f"or set SIM=PATH (or opt out with SIM_SKIP=sim)", pytrace=False)
    return SIM


def run_sim(sim: Path, argv: list[str]) -> None:
    result = subprocess.run([str(sim)] + argv, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"sim {' '.join(argv)} exited {result.returncode}:\n{result.stderr}",
                    pytrace=False)


def the_case(out: Path, argv: list[str]) -> Path:
    folders = mx.case_folders(out)
    assert len(folders) == 1, f"sim {' '.join(argv)} wrote {len(folders)} case folders in {out}"
    return folders[0]


def assert_rederived(case: Path, argv: list[str]) -> dict:
    """mx.check_case finds no difference; returns the manifest."""
    report = mx.check_case(case)
    assert not report.mismatches, "\n".join([f"sim {' '.join(argv)}"] + report.mismatches)
    assert report.compared, f"{case}: nothing compared"
    return json.loads((case / "manifest.json").read_text())


# ---------------------------------------------------------------------------------------------
# quantize, generated corners inputs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FORMATS)
def test_quantize_corners_every_rule_and_rounding(sim, tmp_path, name):
    for index, (rule, mode) in enumerate((r, m) for r in mx.RULES for m in ELEMENT_MODES):
        m = 289 + 3 * index + 7 * FORMATS.index(name)       # 289 .. 345: partial last blocks
        argv = ["op", "quantize", "--m", str(m), "--mx-format", name, "--scale-rule", rule,
                "--element-rounding", mode, "--dist", "corners", "--seed", str(index)]
        out = tmp_path / f"{rule}-{mode}"
        run_sim(sim, argv + ["--out", str(out)])
        manifest = assert_rederived(the_case(out, argv), argv)
        params, files = manifest["params"], manifest["files"]
        assert files["quantize.output"]["dtype"] == name
        assert params.get("mx_format", name) == name
        assert params.get("scale_rule", "floor") == rule
        assert params.get("element_rounding", mx.FORMATS[name].default_rounding) == mode
    # and mx.py's command line over all eight folders
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "mx.py"), "rederive",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == 2 * len(mx.RULES)


# ---------------------------------------------------------------------------------------------
# quantize, every BF16 pattern as a block's amax
# ---------------------------------------------------------------------------------------------

def _factors() -> np.ndarray:
    """31 fixed factors |f| <= 1 for elements 1..31 of a block (element 0 is x itself): halves
    and thirds, powers of two down to subnormal range, near-one values, signed zeros, and
    random fractions; every x * f rounded to BF16 stays <= |x|."""
    fixed = [-0.75, -1 / 3, 0.5, -0.5, 0.25, 2.0 ** -3, -2.0 ** -4, 2.0 ** -5, -2.0 ** -6,
             2.0 ** -7, 2.0 ** -9, -2.0 ** -12, 2.0 ** -16, -2.0 ** -24, 2.0 ** -40,
             2.0 ** -100, -0.0, 0.0, 1 - 2.0 ** -10, -0.99, 0.6]
    rng = np.random.default_rng(2024)
    spread = rng.uniform(-1, 1, 31 - len(fixed)) * np.exp2(-rng.integers(0, 12, 31 - len(fixed)))
    return np.array(fixed + spread.tolist())


@pytest.fixture(scope="module")
def exhaustive_input(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A folder holding quantize.input (no manifest): 65,536 blocks of 32 BF16 values, block j
    being [x_j, x_j * f_1, ..., x_j * f_31] with x_j the BF16 pattern j."""
    x = mx.bf16_values(np.arange(1 << 16, dtype=np.uint16))
    with np.errstate(invalid="ignore"):
        blocks = (x[:, None] * _factors()[None, :]).astype(np.float32).astype(ml_dtypes.bfloat16)
    bits = np.concatenate([np.arange(1 << 16, dtype=np.uint16)[:, None],
                           blocks.view(np.uint16)], axis=1).reshape(-1)
    values = mx.bf16_values(bits).reshape(-1, mx.BLOCK)
    finite = np.isfinite(values).all(axis=1)
    assert np.all(np.abs(values[finite]).max(axis=1) == np.abs(values[finite, 0]))
    folder = tmp_path_factory.mktemp("exhaustive") / "input"
    folder.mkdir()
    (folder / "quantize.input").write_text(dumps.bf16_text(bits))
    return folder, bits


@pytest.mark.parametrize("name", FORMATS)
def test_quantize_every_bf16_amax(sim, tmp_path, exhaustive_input, name):
    folder, bits = exhaustive_input
    fmt = mx.FORMATS[name]
    for rule in mx.RULES:
        argv = ["op", "quantize", "--inputs", str(folder), "--mx-format", name, "--scale-rule",
                rule, "--element-rounding", fmt.default_rounding]
        out = tmp_path / rule
        run_sim(sim, argv + ["--out", str(out)])
        case = the_case(out, argv)
        scales, codes, flags = mx.quantize_bf16(bits, fmt, rule)
        expected = mx.lines_text(scales, codes, fmt)
        actual = (case / "quantize.output").read_text(encoding="ascii")
        if actual != expected:
            want, got = expected.split("\n"), actual.split("\n")
            line = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b),
                        min(len(want), len(got)))
            block = bits[mx.BLOCK * line: mx.BLOCK * (line + 1)]
            pytest.fail(f"{name} {rule}: quantize.output line {line + 1} (amax pattern "
                        f"{line:04x}, block {' '.join(f'{b:04x}' for b in block)}): sim "
                        f"{got[line] if line < len(got) else None!r}, mx.py "
                        f"{want[line] if line < len(want) else None!r}", pytrace=False)
        manifest = json.loads((case / "manifest.json").read_text())
        assert manifest["files"]["quantize.output"].get("flags") == mx.flag_counts(flags), rule


# ---------------------------------------------------------------------------------------------
# dot / gevm / gemm over pairs of formats
# ---------------------------------------------------------------------------------------------

PAIRS = [("mxfp8-e4m3", "mxfp4-e2m1"), ("mxint8", "mxfp6-e2m3"), ("mxfp8-e5m2", "mxfp8-e5m2"),
         ("mxfp6-e3m2", "mxint8"), ("mxfp4-e2m1", "mxfp4-e2m1"), ("mxfp6-e2m3", "mxfp8-e5m2"),
         ("mxint8", "mxint8")]
SHAPES = {"dot": ["--m", "300"], "gevm": ["--m", "70", "--k", "9"],
          "gemm": ["--m", "9", "--k", "70", "--n", "5"]}
VARIANTS = {"corners": ["--dist", "corners", "--seed", "1"],
            "corners-fp32-toward-neg": ["--dist", "corners", "--seed", "2", "--out-dtype", "fp32",
                                        "--rounding", "toward-neg"],
            "uniform": ["--seed", "3"]}


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: ",".join(p))
@pytest.mark.parametrize("op", list(SHAPES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_products_are_rederived(sim, tmp_path, pair, op, variant):
    argv = ["op", op] + SHAPES[op] + ["--mx-format", ",".join(pair)] + VARIANTS[variant]
    run_sim(sim, argv + ["--out", str(tmp_path)])
    manifest = assert_rederived(the_case(tmp_path, argv), argv)
    first, second, _ = mx.ROLES[op]
    dtypes = {name.rsplit(".", 1)[-1]: entry["dtype"] for name, entry in manifest["files"].items()}
    assert (dtypes[first], dtypes[second]) == pair



def _code(fmt: mx.MxFormat, value, negative: bool = False) -> int:
    """The code of an exactly representable value."""
    code, flags = mx.round_element(Fraction(value), negative, fmt, fmt.default_rounding)
    assert not flags.inexact
    return code


def _inject(p, p_scales, p_fmt: mx.MxFormat, q, q_scales, q_fmt: mx.MxFormat, rng) -> None:
    """Place specials in operand P (codes [rows, kb, 32], scales [rows, kb]) against operand Q
    (codes [kb, cols, 32], scales [kb, cols]): output (r, c) pairs P[r] with Q[:, c].  Needs
    rows >= 6, cols >= 4, kb >= 2."""
    one, minus_one = _code(q_fmt, 1), _code(q_fmt, 1, True)
    if p_fmt.has_inf:
        pos_inf = min(c for c in p_fmt.inf_codes if not c & p_fmt.sign_bit)
        neg_inf = pos_inf | p_fmt.sign_bit
        # row 0: inf * 0 in column 0; +inf, -inf, +inf in columns 1, 2, 3
        p[0, 1, 3] = pos_inf
        q[1, :, 3] = one
        q[1, 0, 3] = 0
        q[1, 2, 3] = minus_one
        # row 4: +inf * 1 + (-inf) * 1 = inf - inf in every column
        p[4, 0, 0], p[4, 0, 1] = pos_inf, neg_inf
        q[0, :, 0] = q[0, :, 1] = one
    if p_fmt.nan_codes:
        p[2, 1, 0] = min(p_fmt.nan_codes)                   # row 2: a NaN code
    p_scales[1, 1] = mx.NAN_SCALE                           # row 1: a NaN scale
    p[3] = 0                                                # row 3: exact zeros (+0) ...
    p[3, 0, 0] = p_fmt.sign_bit if p_fmt.kind == "fp" else 0   # ... one of them -0
    # row 5: the smallest codes, in block 0 only, at scale 2^-126, against Q's block 0 at a
    # scale putting min(P) * max(Q) near 2^-132: subnormal BF16/FP32 outputs (and zeros)
    smallest = [1, 2, 3, p_fmt.sign_bit | 1 if p_fmt.kind == "fp" else 0xFF]
    p[5] = 0
    p[5, 0] = rng.choice(smallest, p.shape[-1])
    p_scales[5] = 1
    magnitude = math.log2(mx.decode(p_fmt, 1) * q_fmt.max_normal)
    q_scales[0] = 127 + round(-6 - magnitude)          # 32 terms: 5 bits more


def directed_gemm(fa: str, fb: str, m: int, k: int, n: int, seed: int):
    """Operands input [m, k] (format fa) and other [k, n] (fb), random finite codes with
    specials placed on purpose: in input (against other) when fa has infinities, else in other
    (against input, seen transposed); zero padding past k."""
    rng = np.random.default_rng(seed)
    kb = -(-k // mx.BLOCK)
    operands = []
    for name, grid in ((fa, (m, kb)), (fb, (kb, n))):
        fmt = mx.FORMATS[name]
        finite = [c for c in range(fmt.codes) if c not in fmt.nan_codes | fmt.inf_codes]
        scales = rng.integers(118, 137, grid).astype(np.uint8)
        codes = rng.choice(finite, grid + (mx.BLOCK,)).astype(np.uint8)
        operands.append((scales, codes))
    (sa, ca), (sb, cb) = operands
    a_fmt, b_fmt = mx.FORMATS[fa], mx.FORMATS[fb]
    if b_fmt.has_inf and not a_fmt.has_inf:
        _inject(cb.transpose(1, 0, 2), sb.T, b_fmt, ca.transpose(1, 0, 2), sa.T, a_fmt, rng)
    else:
        _inject(ca, sa, a_fmt, cb, sb, b_fmt, rng)
    tail = k - (kb - 1) * mx.BLOCK
    ca[:, -1, tail:] = 0
    cb[-1, :, tail:] = 0
    return (sa, ca), (sb, cb)


ALL_PAIRS = list(itertools.product(FORMATS, repeat=2))
M, K, N = 6, 100, 6


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=lambda p: ",".join(p))
def test_directed_products_through_inputs(sim, tmp_path, pair):
    fa, fb = pair
    (sa, ca), (sb, cb) = directed_gemm(fa, fb, M, K, N, seed=FORMATS.index(fa) * 8
                                       + FORMATS.index(fb))
    # the same operands as gemm, gevm (row 0 of input against other) and dot (row 4 against
    # column 1), each to another output dtype / rounding
    cases = {
        "gemm": ({"gemm.input": (sa, ca, fa), "gemm.other": (sb, cb, fb)},
                 ["--m", str(M), "--k", str(K), "--n", str(N)], []),
        "gevm": ({"gevm.vector": (sa[0], ca[0], fa), "gevm.matrix": (sb, cb, fb)},
                 ["--m", str(K), "--k", str(N)], ["--rounding", "nearest-away"]),
        "dot": ({"dot.a": (sa[4], ca[4], fa), "dot.b": (sb[:, 1], cb[:, 1], fb)},
                ["--m", str(K)], ["--out-dtype", "fp32", "--rounding", "toward-pos"]),
    }
    seen = {"invalid": 0, "inf": 0, "nan": 0, "zero": 0, "underflow": 0}
    for op, (files, sizes, options) in cases.items():
        inputs = tmp_path / op / "in"
        inputs.mkdir(parents=True)
        for name, (scales, codes, fmt) in files.items():
            (inputs / name).write_text(mx.lines_text(scales, codes, fmt))
        for extra in ([], ["--out-dtype", "fp32", "--rounding", "toward-zero"]):
            out = tmp_path / op / f"out{len(extra)}"
            argv = (["op", op, "--inputs", str(inputs)] + sizes
                    + ["--mx-format", f"{fa},{fb}"] + (extra or options))
            run_sim(sim, argv + ["--out", str(out)])
            case = the_case(out, argv)
            for name in files:
                assert (case / name).read_text() == (inputs / name).read_text(), name
            manifest = assert_rederived(case, argv)
            output = manifest["files"][f"{op}.output"]
            text = (case / f"{op}.output").read_text().split()
            seen["invalid"] += output["flags"]["invalid"]
            seen["underflow"] += output["flags"]["underflow"]
            seen["nan"] += sum(w in ("7fc0", "7fc00000") for w in text)
            seen["inf"] += sum(w.rstrip("0") in ("7f8", "ff8") for w in text)
            seen["zero"] += sum(int(w, 16) == 0 for w in text)
    assert seen["nan"] and seen["zero"] and seen["underflow"], seen
    if mx.FORMATS[fa].has_inf or mx.FORMATS[fb].has_inf:
        assert seen["invalid"] and seen["inf"], seen
