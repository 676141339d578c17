"""Tests of the generator's distributions (dists.py) against docs/numerics.md §5.1, and black-box
agreement with the simulator for every distribution.

The first part checks the documented tables and rules from the generated tensors themselves
(a corners qk_T row of kind 2 is constant, an MXINT8 corner block of kind 0 has scale 0xff, a
quantize corner block of kind 1 holds ties of both signs, ...).  The second runs `sim` (built
with `cargo build --release -p sim`, or SIM=PATH) on a spread of seeds, sizes and options and
re-derives each case folder it writes with rederive.py; a missing binary fails these tests.

Run: .venv/bin/python -m pytest scripts/test_dists.py
"""

from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import dists
import dumps
import mx
import reference as ref
import rederive
import units
from reference import BF16, NEAREST_AWAY, NEAREST_EVEN

ROOT = Path(__file__).resolve().parent.parent
SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))


def exp_bits(x: int) -> int:
    return ref.exp_round(x)[0]


def field(bits: int) -> int:
    """The biased exponent field of a BF16 pattern."""
    return (bits >> 7) & 0xFF


def is_subnormal(bits: int) -> bool:
    return field(bits) == 0 and bits & 0x7F != 0


def ties(addends: list[int]) -> bool:
    """Whether the exact sum of positive finite BF16 addends lies exactly halfway between two
    BF16 numbers."""
    exact = sum(ref.to_fraction(b, BF16) for b in addends)
    low = ref.to_fraction(ref.round_fraction(exact, BF16, ref.TOWARD_ZERO)[0], BF16)
    high = ref.to_fraction(ref.round_fraction(exact, BF16, ref.TOWARD_POS)[0], BF16)
    return low != high and low + high == 2 * exact


# ---------------------------------------------------------------------------------------------
# The tables mean what the docs say
# ---------------------------------------------------------------------------------------------

def test_table_sizes():
    assert (len(dists.QK_SPECIALS), len(dists.QK_CONSTANTS), len(dists.QK_BOUNDARY),
            len(dists.QK_EXPONENTS), len(dists.QK_LARGE), len(dists.QE)) == (24, 8, 16, 16, 4, 5)


def test_qk_specials_are_the_documented_boundaries():
    assert exp_bits(0x42B1) == 0x7F4D and exp_bits(0x42B2) == exp_bits(0x42B3) == 0x7F80
    assert exp_bits(0xC2B9) == 0x0001 and exp_bits(0xC2BA) == exp_bits(0xC2BB) == 0x0000
    assert is_subnormal(ref.reciprocal(exp_bits(0x42AF))[0])         # 87.5: 1/sum subnormal
    assert is_subnormal(exp_bits(0xC2B4))                            # -90
    assert exp_bits(0x3C00) == 0x3F81 and ties([0x3F81] * 3)          # 2^-7
    assert [float(ref.to_fraction(b, BF16)) for b in dists.QK_LARGE] == [88.5, 87.5, 80, 60]


def test_qk_constant_rows_give_the_documented_sums():
    ones = exp_bits(0x0000)
    assert all(ties([ones] * n) for n in range(257, 512, 2))           # sums N, ties for odd N
    assert not ties([ones] * 258)
    assert ties([exp_bits(0x3C00)] * 3)                                # N * 3f81, N = 3
    assert ref.exact_sum([exp_bits(0x42B1)] * 2)[0] == 0x7F80          # overflowing sums
    assert ref.to_fraction(exp_bits(0x42AF), BF16) >= Fraction(2) ** 126
    for x in (0xC2B9, 0xC2B4):                                         # subnormal sums
        assert is_subnormal(ref.exact_sum([exp_bits(x)] * 3)[0])
    assert ref.exact_sum([exp_bits(0xFF80)] * 5)[0] == 0x0000          # zero sums


# ---------------------------------------------------------------------------------------------
# qk_T rows under corners
# ---------------------------------------------------------------------------------------------

HEADS, N = 96, 37


def check_qk_row(p: int, row: list[int], z: list[int], uniform: list[int]) -> None:
    """Row of plan draw p against the row table of §5.1."""
    kind = p % 8
    if kind == 0:
        assert row == uniform
    elif kind == 1:
        assert row == [dists.QK_SPECIALS[x % 24] for x in z]
    elif kind == 2:
        assert row == [dists.QK_CONSTANTS[(p >> 8) % 8]] * len(row)    # a constant row
    elif kind == 3:
        assert row == [dists.QK_BOUNDARY[x % 16] for x in z]
    elif kind == 4:
        assert [b >> 15 for b in row] == [x >> 63 for x in z]
        assert all(field(b) == dists.QK_EXPONENTS[(x >> 32) % 16] and b & 0x7F == x % 128
                   for b, x in zip(row, z))
    elif kind == 5:
        large = (p >> 8) % len(row)
        assert row[large] == dists.QK_LARGE[(p >> 16) % 4]
        assert row[:large] + row[large + 1:] == uniform[:large] + uniform[large + 1:]
    elif kind == 6:
        assert row == [dists.QK_SPECIALS[(x >> 8) % 24] if x % 8 == 0 else u
                       for x, u in zip(z, uniform)]
    else:
        assert row == [0x0000 if x % 2 == 0 else 0xFF80 for x in z]


def test_corner_qk_rows_follow_their_kind():
    seed = 5
    plans = dists.draws(seed, 8, HEADS)
    qk = dists.qk_rows(seed, HEADS, N, "corners").tolist()
    z = dists.draws(seed, 0, HEADS * N)
    uniform = dists.uniform_qk(seed, HEADS, N).tolist()
    for h, p in enumerate(plans):
        check_qk_row(p, qk[h], z[h * N:(h + 1) * N], uniform[h])
    assert {p % 8 for p in plans} == set(range(8))


def test_uniform_qk_and_v_are_the_section_5_rule():
    w, e = ref.draw_reals(9, 0, (3, 45), 3)
    qk, v = dists.softmax_inputs(45, 9, 3, 4, NEAREST_EVEN, "uniform")
    assert qk.ravel().tolist() == [ref.round_dyadic(x, e, BF16)[0] for x in w.ravel().tolist()]
    w, e = ref.draw_reals(9, 1, (3, 45, 4), 2)
    expected = ref.quantize_along(w, e, False, 1, NEAREST_EVEN)
    assert all(np.array_equal(a, b) for a, b in zip(v, expected))


# ---------------------------------------------------------------------------------------------
# MXINT8 operands under corners
# ---------------------------------------------------------------------------------------------

BLOCKS, TAIL = 500, 25              # the last block of the operand has 25 logical elements


def expected_block(p: int, z: list[int], length: int = 32) -> tuple[int, list[int]]:
    """The block table of §5.1 for plan draw p and the block's 32 element draws z, with the
    elements past `length` (padding) zero."""
    kind, select = p % 32, p >> 8
    as_int8 = [(x % 256) - 256 * ((x % 256) >= 128) for x in z]
    if kind == 0:
        scale, elements = 0xFF, as_int8                                # a NaN block
    elif kind <= 2:
        scale, elements = select % 255, [0] * 32
    elif kind <= 4:
        scale, elements = 0x00, as_int8
    elif kind <= 6:
        scale, elements = 0xFE, as_int8
    elif kind <= 8:
        scale, elements = 127 + select % 4, [-128] * 32
    elif kind <= 11:
        scale, elements = 120 + select % 16, [127 if x % 2 == 0 else -128 for x in z]
    elif kind <= 15:
        scale = (0x01, 0x02, 0x10, 0x40)[select % 4]
        elements = [(0, 0, 0, 0, 0, 0, 1, -1)[x % 8] for x in z]
    else:
        scale, elements = 100 + select % 56, as_int8
    return scale, elements[:length] + [0] * (32 - length)


def block_of(operand: tuple, index: tuple) -> tuple[int, list[int]]:
    scales, elements = operand
    return int(scales[index]), elements[index].tolist()


def test_corner_mxint8_blocks_follow_their_kind_and_keep_the_padding_zero():
    seed = 3
    operand = dists.mxint8_operand(seed, 1, (32 * BLOCKS - 32 + TAIL,), 0, "corners")
    plans, z = dists.draws(seed, 9, BLOCKS), dists.draws(seed, 1, 32 * BLOCKS)
    for g, p in enumerate(plans):
        length = TAIL if g == BLOCKS - 1 else 32
        assert block_of(operand, (g,)) == expected_block(p, z[32 * g:32 * g + 32], length)
    assert {p % 32 for p in plans} == set(range(32))
    nan_blocks = [g for g, p in enumerate(plans) if p % 32 == 0]
    assert nan_blocks and all(operand[0][g] == 0xFF for g in nan_blocks)


def test_corner_operands_use_the_grids_block_order():
    # gemm's input [m, k] is blocked along axis 1: block g = row * kb + b, and element i of it
    # is draw 32 g + i of stream 0 (not the row-major index of the element)
    first, second = dists.op_inputs("gemm", 3, 70, 2, 11, "corners")
    plans, z = dists.draws(11, 8, 9), dists.draws(11, 0, 32 * 9)
    for g, p in enumerate(plans):
        row, b = divmod(g, 3)
        length = 70 - 64 if b == 2 else 32
        assert block_of(first, (row, b)) == expected_block(p, z[32 * g:32 * g + 32], length)
    # other [k, n] is blocked along axis 0: grid [3, 2], stream 1
    plans, z = dists.draws(11, 9, 6), dists.draws(11, 1, 32 * 6)
    for g, p in enumerate(plans):
        b, column = divmod(g, 2)
        length = 70 - 64 if b == 2 else 32
        assert block_of(second, (b, column)) == expected_block(p, z[32 * g:32 * g + 32], length)


# ---------------------------------------------------------------------------------------------
# The quantize input under corners
# ---------------------------------------------------------------------------------------------

QUANTIZE_BLOCKS = 300


def scaled_twice(bits: int, block_exp: int) -> Fraction:
    """2 * x * 2^(6 - E): an odd integer exactly when x sits on a tie."""
    return 2 * ref.to_fraction(bits, BF16) * Fraction(2) ** (6 - block_exp)


def test_corner_quantize_blocks_follow_their_kind():
    seed = 1
    bits = dists.quantize_input(seed, 32 * QUANTIZE_BLOCKS, "corners")
    (scales, elements), _ = units.quantize(bits, NEAREST_AWAY)
    blocks = bits.reshape(-1, 32).tolist()
    uniform = dists.quantize_input(seed, 32 * QUANTIZE_BLOCKS, "uniform").reshape(-1, 32).tolist()
    plans, z = dists.draws(seed, 8, QUANTIZE_BLOCKS), dists.draws(seed, 0, 32 * QUANTIZE_BLOCKS)
    tie_signs = set()
    for g, p in enumerate(plans):
        kind, e_b, block = p % 8, dists.QE[(p >> 8) % 5], blocks[g]
        scale, q = int(scales[g]), elements[g].tolist()
        if kind == 0:
            assert block == uniform[g]
        elif kind in (1, 2):
            assert scale == e_b + 127
            assert all(scaled_twice(x, e_b).denominator == 1 and scaled_twice(x, e_b) % 2 == 1
                       for x in block[1:])
            tie_signs |= {x >> 15 for x in block[1:]}
            assert q[0] == (64 if kind == 1 else 127 * (1 - 2 * (block[0] >> 15)))
        elif kind == 3:                          # subnormals: E clamped to -127, nothing lost
            assert scale == 0x00 and all(is_subnormal(x) for x in block)
            assert q == [(x & 0x7F) * (1 - 2 * (x >> 15)) for x in block]
        elif kind == 4:
            assert block[0] in (0x7F80, 0xFF80, 0x7FC0) and scale == 0xFF
            assert block[1:] == uniform[g][1:]
        elif kind == 5:                          # signed zeros by the draw's parity
            assert block == [0x8000 * (x % 2) for x in z[32 * g:32 * g + 32]]
            assert (scale, q) == (0x00, [0] * 32)
        elif kind == 6:
            assert {field(x) for x in block} <= set(dists.QUANTIZE_EXTREMES)
        elif kind == 7:
            assert {field(x) for x in block} <= set(range(120, 136))
    assert {p % 8 for p in plans} == set(range(8)) and tie_signs == {0, 1}


def test_quantize_ties_and_clamps_change_with_the_element_rounding():
    bits = dists.quantize_input(1, 32 * QUANTIZE_BLOCKS, "corners")
    away, even = units.quantize(bits, NEAREST_AWAY)[0], units.quantize(bits, NEAREST_EVEN)[0]
    man, exp, _ = ref.decode_array(bits, BF16)
    flags = units.quantizer_flags(man.reshape(-1, 32), exp.reshape(-1, 32), *away)
    for g, p in enumerate(dists.draws(1, 8, QUANTIZE_BLOCKS)):
        if p % 8 in (1, 2):                     # 31 ties: some round differently
            assert not np.array_equal(away[1][g], even[1][g])
            assert flags[g].overflow == (p % 8 == 2)


FP_FORMATS = ("mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2", "mxfp6-e2m3", "mxfp4-e2m1")


@pytest.mark.parametrize("name", FP_FORMATS)
def test_fp_quantize_ties_and_saturation_aim_at_the_formats_grid(name):
    """§5.1, "quantize input under corners for the FP formats": kinds 1 and 2 take E_b from QF
    and F's grid (under floor E = E_b, elements 1.. sit halfway between two codes of F on its
    unbounded grid, kind 2's first element saturates); every other kind is MXINT8's."""
    fmt = mx.get_format(name)
    seed = 3
    bits = dists.quantize_input(seed, 32 * QUANTIZE_BLOCKS, "corners", name)
    mxint8 = dists.quantize_input(seed, 32 * QUANTIZE_BLOCKS, "corners")
    assert np.array_equal(dists.quantize_input(seed, 32 * QUANTIZE_BLOCKS, "corners", "mxint8"),
                          mxint8)
    scales, codes, _ = mx.quantize_bf16(bits, fmt, "floor", None)
    plans = dists.draws(seed, 8, QUANTIZE_BLOCKS)
    subnormal_ties = normal_ties = 0
    for g, p in enumerate(plans):
        block = slice(32 * g, 32 * g + 32)
        if p % 8 not in (1, 2):
            assert bits[block].tolist() == mxint8[block].tolist()
            continue
        e_b = dists.QF[(p >> 8) % 5]
        assert int(scales[g]) == e_b + 127
        values = [ref.to_fraction(x, BF16) for x in bits[block].tolist()]
        if p % 8 == 1:
            assert values[0] == Fraction(2) ** (e_b + fmt.emax)
        else:
            assert abs(values[0]) == (2 ** (fmt.mbits + 3) - 1) * Fraction(2) ** (
                e_b + fmt.emax - fmt.mbits - 2)
            assert int(codes[g][0]) & (fmt.sign_bit - 1) == mx.max_code(fmt)      # saturated
        for x in values[1:]:
            y = abs(x) / Fraction(2) ** e_b                  # on F's grid: a tie
            e = max(mx.floor_log2(y), fmt.emin)
            step = Fraction(2) ** (e - fmt.mbits)
            assert (y / step - Fraction(1, 2)).denominator == 1
            subnormal_ties += y < Fraction(2) ** fmt.emin
            normal_ties += y >= Fraction(2) ** fmt.emin
    assert {p % 8 for p in plans} >= {1, 2} and subnormal_ties and normal_ties


# ---------------------------------------------------------------------------------------------
# mixed: even plan draws are uniform, odd ones are corners with p >> 1
# ---------------------------------------------------------------------------------------------

def test_plans_come_from_stream_k_plus_8():
    assert dists.corner_plans(4, 1, 10, "corners") == dists.draws(4, 9, 10)
    mixed = dists.corner_plans(4, 1, 10, "mixed")
    assert mixed == [p >> 1 if p % 2 else None for p in dists.draws(4, 9, 10)]
    assert dists.corner_plans(4, 1, 10, "uniform") == [None] * 10


def test_mixed_qk_rows():
    seed = 8
    raw = dists.draws(seed, 8, HEADS)
    qk = dists.qk_rows(seed, HEADS, N, "mixed").tolist()
    uniform = dists.uniform_qk(seed, HEADS, N).tolist()
    z = dists.draws(seed, 0, HEADS * N)
    for h, p in enumerate(raw):
        if p % 2 == 0:
            assert qk[h] == uniform[h]
        else:
            check_qk_row(p >> 1, qk[h], z[h * N:(h + 1) * N], uniform[h])
    assert {p % 2 for p in raw} == {0, 1}


def test_mixed_mxint8_blocks():
    seed, shape = 6, (4, 200)             # a gevm matrix: blocks along axis 0, grid [1, 200]
    mixed = dists.mxint8_operand(seed, 1, shape, 0, "mixed")
    uniform = dists.mxint8_operand(seed, 1, shape, 0, "uniform")
    raw, z = dists.draws(seed, 9, 200), dists.draws(seed, 1, 32 * 200)
    for g, p in enumerate(raw):
        if p % 2 == 0:
            assert block_of(mixed, (0, g)) == block_of(uniform, (0, g))
        else:
            assert block_of(mixed, (0, g)) == expected_block(p >> 1, z[32 * g:32 * g + 32], 4)
    assert {p % 2 for p in raw} == {0, 1}


def test_mixed_quantize_blocks():
    seed, m = 2, 32 * 40
    raw, z = dists.draws(seed, 8, 40), dists.draws(seed, 0, m)
    mixed = dists.quantize_input(seed, m, "mixed").tolist()
    uniform = dists.quantize_input(seed, m, "uniform").tolist()
    for g, p in enumerate(raw):
        block = slice(32 * g, 32 * g + 32)
        if p % 2 == 0:
            assert mixed[block] == uniform[block]
        else:
            assert mixed[block] == [dists.quantize_corner_element(p >> 1, i, x)
                                    for i, x in enumerate(z[block])]


def test_unknown_distribution_is_rejected():
    with pytest.raises(ValueError, match="unknown distribution"):
        dists.quantize_input(0, 3, "gaussian")


# ---------------------------------------------------------------------------------------------
# Black-box agreement with the simulator
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sim() -> Path:
    if not SIM.is_file():
        pytest.fail(f"no simulator binary at {SIM}: build it with `cargo build --release -p sim` "
                    f"or set SIM=PATH (the agreement tests need it)", pytrace=False)
    return SIM


def _sim_cases() -> list[tuple[str, list[str]]]:
    """(test id, sim arguments) spread over every distribution, seeds and sizes."""
    cases = []
    for dist in ref.DISTS:
        d = ["--dist", dist]
        for seed, kv, heads, dim in ((0, 1, 2, 3), (1, 40, 4, 8), (7, 97, 3, 5),
                                     (2 ** 64 - 1, 33, 2, 2)):
            cases.append((f"run-{dist}-kv{kv}-s{seed}",
                          ["run", "--kv-size", str(kv), "--seed", str(seed), "--heads",
                           str(heads), "--head-dim", str(dim)] + d))
        cases += [
            (f"run-{dist}-narrow", ["run", "--kv-size", "64", "--seed", "12", "--heads", "3",
                                    "--head-dim", "16", "--profile", "narrow"] + d),
            (f"run-{dist}-even", ["run", "--kv-size", "70", "--seed", "4", "--heads", "2",
                                  "--head-dim", "4", "--element-rounding", "nearest-even"] + d),
            (f"run-{dist}-full", ["run", "--kv-size", "45", "--seed", "21"] + d),
            (f"gen-{dist}", ["gen", "--kv-sizes", "1,32,33", "--seeds", "0,3", "--heads", "2",
                             "--head-dim", "4"] + d),
            (f"dot-{dist}", ["op", "dot", "--m", "33", "--seed", "0"] + d),
            (f"dot-{dist}-fp32", ["op", "dot", "--m", "1", "--seed", "1", "--out-dtype",
                                  "fp32"] + d),
            (f"dot-{dist}-long", ["op", "dot", "--m", "4000", "--seed", "9", "--rounding",
                                  "toward-pos"] + d),
            (f"gevm-{dist}", ["op", "gevm", "--m", "70", "--k", "9", "--seed", "0"] + d),
            (f"gevm-{dist}-narrow", ["op", "gevm", "--m", "100", "--k", "6", "--seed", "5",
                                     "--profile", "narrow", "--rounding", "toward-zero"] + d),
            (f"gemm-{dist}", ["op", "gemm", "--m", "5", "--k", "33", "--n", "7", "--seed",
                              "0"] + d),
            (f"gemm-{dist}-fp32", ["op", "gemm", "--m", "8", "--k", "64", "--n", "8", "--seed",
                                   "2", "--out-dtype", "fp32", "--rounding", "toward-neg"] + d),
            (f"gemm-{dist}-narrow", ["op", "gemm", "--m", "3", "--k", "96", "--n", "4",
                                     "--seed", "6", "--profile", "narrow", "--out-dtype",
                                     "fp32"] + d),
        ]
        for seed, m, mode in ((3, 70, "nearest-away"), (0, 1, "nearest-away"),
                              (17, 320, "nearest-even"), (2 ** 63, 33, "nearest-even")):
            cases.append((f"quantize-{dist}-m{m}-s{seed}",
                          ["op", "quantize", "--m", str(m), "--seed", str(seed),
                           "--element-rounding", mode] + d))
        for name, seed, m, rule in zip(FP_FORMATS + ("mxint8",), (1, 4, 2 ** 64 - 1, 0, 9, 5),
                                       (300, 1000, 33, 64, 97, 130),
                                       ("floor", "even", "floor", "rceil", "floor", "ceil")):
            cases.append((f"quantize-{dist}-{name}-{rule}",
                          ["op", "quantize", "--m", str(m), "--seed", str(seed),
                           "--mx-format", name, "--scale-rule", rule] + d))
    return cases


SIM_CASES = _sim_cases()


@pytest.mark.parametrize("argv", [a for _, a in SIM_CASES], ids=[i for i, _ in SIM_CASES])
def test_sim_cases_are_rederived(sim, tmp_path, argv):
    subprocess.run([str(sim)] + argv + ["--out", str(tmp_path)], check=True, capture_output=True)
    folders = rederive.case_folders(tmp_path)
    assert folders, f"sim {' '.join(argv)} wrote no case folder"
    for case in folders:
        report = rederive.check_case(case)
        assert not report.mismatches, "\n".join([f"sim {' '.join(argv)}"] + report.mismatches)
        assert len(report.compared) == len(dumps.read_manifest(case)["files"])


# ---------------------------------------------------------------------------------------------
# reference.py's command line writes what sim writes
# ---------------------------------------------------------------------------------------------

CLI_CASES = [
    ["softmax", "--kv-size", "40", "--seed", "2", "--heads", "4", "--head-dim", "8",
     "--dist", "corners", "--element-rounding", "nearest-even", "--profile", "narrow"],
    ["op", "gevm", "--m", "70", "--k", "3", "--seed", "1", "--dist", "mixed", "--profile",
     "narrow", "--out-dtype", "fp32", "--rounding", "toward-neg"],
    ["op", "gemm", "--m", "2", "--k", "40", "--n", "3", "--seed", "0", "--dist", "corners"],
    ["op", "quantize", "--m", "90", "--seed", "19", "--dist", "mixed",
     "--element-rounding", "nearest-even"],
]


def sim_argv(argv: list[str]) -> list[str]:
    """The same case on sim's command line (`softmax` is `run` there)."""
    return ["run"] + argv[1:] if argv[0] == "softmax" else argv


def assert_same_case(sim: Path, folder: Path, argv: list[str]) -> None:
    """reference.py and sim given the same arguments write the same dumps and flag counts."""
    subprocess.run([str(sim)] + sim_argv(argv) + ["--out", str(folder / "sim")], check=True,
                   capture_output=True)
    assert ref.main(argv + ["--out", str(folder / "ref")]) == 0
    (case,) = rederive.case_folders(folder / "sim")
    ours = folder / "ref" / case.name
    manifest = dumps.read_manifest(case)
    for name in manifest["files"]:
        assert (ours / name).read_bytes() == (case / name).read_bytes(), name
    flags = json.loads((ours / ref.FLAGS_FILE).read_text())
    assert flags == {name: entry["flags"] for name, entry in manifest["files"].items()
                     if "flags" in entry}


@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda argv: "-".join(argv[:2]))
def test_reference_cli_writes_what_sim_writes(sim, tmp_path, argv):
    assert_same_case(sim, tmp_path, argv)


def test_op_cli_with_a_config_file(sim, tmp_path):
    config = dict(units.NARROW_PROFILE, name="fixed-mac",
                  mac=dict(units.NARROW_PROFILE["mac"], accumulator={
                      "type": "fixed", "int_bits": 12, "frac_bits": 10, "overflow": "wrap"}))
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(config))
    assert_same_case(sim, tmp_path, ["op", "dot", "--m", "300", "--seed", "3", "--dist",
                                     "corners", "--config", str(path)])


def test_quantize_cli_reads_its_input_back(tmp_path):
    assert ref.main(["op", "quantize", "--m", "40", "--seed", "1", "--dist", "corners",
                     "--out", str(tmp_path)]) == 0
    case = tmp_path / "quantize_m-40_seed-1_dist-corners"
    assert ref.main(["op", "quantize", "--inputs", str(case), "--out",
                     str(tmp_path / "flat")]) == 0
    for name in ref.QUANTIZE_FILES + (ref.FLAGS_FILE,):
        assert (tmp_path / "flat" / name).read_bytes() == (case / name).read_bytes()
    assert len((case / "quantize.output").read_text().splitlines()) == 2
