"""softmax_v, run_case, load_case, write_case against scripts/reference.py and the CLI's case
folders, byte for byte."""

from __future__ import annotations

import shutil

import ml_dtypes
import numpy as np
import pytest

import hwsim
from conftest import assert_dirs_identical, dists, dumps, flag_bits, reference

QK, V = "softmaxed_v.qk_T", "softmaxed_v.v"


def as_reference_layout(case: hwsim.Case, heads: int) -> dict:
    """The case's tensors in reference.softmax_v's layout: bits [H, ...], (scales, elements)."""
    out = {}
    for name, t in case.items():
        if isinstance(t, hwsim.MxTensor):
            grid = t.scales.shape[2:] if name == V else t.scales.shape[-1:]
            out[name] = (t.scales.reshape(heads, *grid),
                         t.elements.reshape(heads, *grid, 32))
        else:
            out[name] = t.view(np.uint16).reshape(heads, -1)
    return out


@pytest.mark.parametrize("kv, seed, heads, head_dim, mode", [
    (1, 3, 32, 128, "nearest-away"),
    (33, 0, 32, 128, "nearest-away"),
    (70, 5, 3, 40, "nearest-even"),
])
def test_run_case_matches_the_reference(kv, seed, heads, head_dim, mode):
    case = hwsim.run_case(kv, seed, heads=heads, head_dim=head_dim, element_rounding=mode)
    qk, v = dists.softmax_inputs(kv, seed, heads, head_dim, mode)
    want = reference.softmax_v(qk, v, mode)
    got = as_reference_layout(case, heads)
    assert list(got) == list(want) == list(hwsim.FILES)
    for name, w in want.items():
        if isinstance(w, tuple):
            np.testing.assert_array_equal(got[name][0], w[0], err_msg=name)
            np.testing.assert_array_equal(got[name][1], w[1], err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], w.reshape(heads, -1), err_msg=name)


def test_per_element_flags_match_the_reference():
    case = hwsim.run_case(40, 2)
    f = case.flags
    bits = {n: t.view(np.uint16).reshape(-1) for n, t in case.items()
            if not isinstance(t, hwsim.MxTensor)}

    def ref_flags(fn, *cols):
        return np.array([flag_bits(fn(*map(int, a))[1]) for a in zip(*cols)], dtype=np.uint8)

    np.testing.assert_array_equal(f["softmaxed_v.exp-bf16"].reshape(-1),
                                  ref_flags(reference.exp_round, bits[QK]))
    rows = bits["softmaxed_v.exp-bf16"].reshape(32, 40)
    np.testing.assert_array_equal(f["softmaxed_v.exp_sum"].reshape(-1),
                                  [flag_bits(reference.exact_sum(r)[1]) for r in rows])
    np.testing.assert_array_equal(f["softmaxed_v.inv"].reshape(-1),
                                  ref_flags(reference.reciprocal, bits["softmaxed_v.exp_sum"]))
    inv = np.repeat(bits["softmaxed_v.inv"], 128)
    np.testing.assert_array_equal(f["softmaxed_v.out"].reshape(-1),
                                  ref_flags(reference.multiply, bits["softmaxed_v.scaled_v"], inv))
    assert f["softmaxed_v.exp_mxint8"].shape == case["softmaxed_v.exp_mxint8"].grid_shape
    assert case.flag_counts["softmaxed_v.out"]["inexact"] == \
        np.count_nonzero(f["softmaxed_v.out"] & hwsim.FLAG_INEXACT)


@pytest.mark.parametrize("kv, seed, extra", [
    (33, 7, {}),
    (1, 0, {}),
    (100, 1, {"profile": "narrow"}),
    (64, 11, {"heads": 5, "head_dim": 24, "element_rounding": "nearest-even"}),
])
def test_write_case_is_byte_identical_to_sim_run(sim, tmp_path, kv, seed, extra):
    flags = []
    for key, value in extra.items():
        flags += [f"--{key.replace('_', '-')}", value]
    sim("run", "--kv-size", kv, "--seed", seed, *flags, "--out", tmp_path / "cli")
    written = hwsim.write_case(hwsim.run_case(kv, seed, **extra), tmp_path / "py")
    name = f"kv-size-{kv}_seed-{seed}"
    assert written == tmp_path / "py" / name
    assert_dirs_identical(tmp_path / "cli" / name, written)
    # and a case read back from the CLI's folder writes the same bytes again
    again = hwsim.write_case(hwsim.load_case(tmp_path / "cli" / name, verify=True),
                             tmp_path / "again")
    assert_dirs_identical(tmp_path / "cli" / name, again)


def test_load_case_reads_what_the_strict_loader_reads(sim, tmp_path):
    sim("run", "--kv-size", 45, "--seed", 4, "--out", tmp_path)
    folder = tmp_path / "kv-size-45_seed-4"
    case = hwsim.load_case(folder)
    strict = dumps.load_case(folder)
    assert list(case) == list(hwsim.FILES) and case.name == "kv-size-45_seed-4"
    for name, want in strict.items():
        got = case[name]
        if isinstance(want, tuple):
            np.testing.assert_array_equal(got.scales, want[0])
            np.testing.assert_array_equal(got.elements, want[1])
        else:
            assert got.dtype == ml_dtypes.bfloat16 and got.shape == want.shape
            np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
    assert case.flag_counts == {n: e["flags"] for n, e in case.manifest["files"].items()
                                if "flags" in e}


def test_inputs_only_folder_runs_like_sim_run_inputs(sim, tmp_path):
    sim("run", "--kv-size", 50, "--seed", 9, "--out", tmp_path / "gen")
    tb = tmp_path / "my_tb"
    tb.mkdir()
    for name in (QK, V):
        shutil.copy(tmp_path / "gen" / "kv-size-50_seed-9" / name, tb / name)
    sim("run", "--inputs", tb, "--out", tmp_path / "cli")
    loaded = hwsim.load_case(tb)
    assert list(loaded) == [QK, V] and loaded.name == "my_tb"
    case = hwsim.softmax_v(loaded[QK], loaded[V], name=loaded.name)
    assert_dirs_identical(tmp_path / "cli" / "my_tb", hwsim.write_case(case, tmp_path / "py"))


def test_readmemh_variants_read_as_the_canonical_files(sim, tmp_path):
    sim("run", "--kv-size", 20, "--seed", 1, "--out", tmp_path)
    canonical = tmp_path / "kv-size-20_seed-1"
    tb = tmp_path / "tb"
    tb.mkdir()
    for name in (QK, V):
        words = (canonical / name).read_text().split()
        lines = ["// written by a testbench", "@0"]
        lines += [f"  {w.upper()}  // word {i}" if i % 3 else w for i, w in enumerate(words)]
        (tb / name).write_bytes("\r\n".join(lines).encode())     # CRLF, no final newline
    got, want = hwsim.load_case(tb), hwsim.load_case(canonical)
    np.testing.assert_array_equal(got[QK].view(np.uint16), want[QK].view(np.uint16))
    assert got[V] == want[V]


def test_heads_and_head_dim_shape_a_folder_without_manifest(sim, tmp_path):
    sim("run", "--kv-size", 64, "--seed", 2, "--heads", 5, "--head-dim", 24, "--out", tmp_path)
    folder = tmp_path / "kv-size-64_seed-2"
    (folder / "manifest.json").unlink()
    case = hwsim.load_case(folder, heads=5, head_dim=24)
    assert case[V].shape == (1, 5, 64, 24) and case["softmaxed_v.out"].shape == (1, 5, 1, 24)
    with pytest.raises(ValueError, match="softmaxed_v.exp_sum: expected 32 lines, found 5"):
        hwsim.load_case(folder)            # 32 heads: qk_T gives kv 10, exp_sum does not fit


def test_two_and_four_axis_inputs_give_the_same_case():
    base = hwsim.run_case(37, 5, heads=4, head_dim=16)
    qk4, v4 = base[QK], base[V]
    v3 = hwsim.MxTensor(v4.scales[0], v4.elements[0], v4.shape[1:], 1)
    for qk, v in ((qk4, v4), (qk4.reshape(4, 37), v3), (qk4.view(np.uint16).reshape(4, 37), v4)):
        case = hwsim.softmax_v(qk, v)
        for name in hwsim.FILES:
            if isinstance(base[name], hwsim.MxTensor):
                assert case[name] == base[name], name
            else:
                np.testing.assert_array_equal(case[name].view(np.uint16),
                                              base[name].view(np.uint16), err_msg=name)
