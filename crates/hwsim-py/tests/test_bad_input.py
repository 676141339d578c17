"""Bad input of the case functions: a ValueError (or FileNotFoundError / OSError) with a clear
message, never a crash and never a partly written folder."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

import hwsim

QK, V = "softmaxed_v.qk_T", "softmaxed_v.v"


@pytest.fixture(scope="module")
def small():
    return hwsim.run_case(40, 1, heads=2, head_dim=8)


def test_softmax_v_shapes_that_do_not_fit(small):
    qk, v = small[QK], small[V]
    with pytest.raises(ValueError, match="v has 2 heads and kv 40, qk_t 2 heads and kv 39"):
        hwsim.softmax_v(qk[..., :39], v)
    with pytest.raises(ValueError, match="v has 2 heads and kv 40, qk_t 1 heads and kv 40"):
        hwsim.softmax_v(qk[:, :1], v)
    with pytest.raises(ValueError, match="qk_t: shape \\(1, 2, 40\\) is neither"):
        hwsim.softmax_v(qk.reshape(1, 2, 40), v)
    wrong_axis = hwsim.quantize_mxint8(np.zeros((1, 2, 40, 8), np.float32), axis=3)
    with pytest.raises(ValueError, match="v: shape \\(1, 2, 40, 8\\) blocked on axis 3"):
        hwsim.softmax_v(qk, wrong_axis)
    with pytest.raises(TypeError, match="v: expected an hwsim.MxTensor, got ndarray"):
        hwsim.softmax_v(qk, v.dequantize())
    with pytest.raises(ValueError, match="qk_t: expected BF16 bit patterns.*float32"):
        hwsim.softmax_v(qk.astype(np.float32), v)
    with pytest.raises(ValueError, match="unknown profile 'wide'"):
        hwsim.softmax_v(qk, v, profile="wide")
    with pytest.raises(ValueError, match="element_rounding: unknown rounding mode 'half-up'"):
        hwsim.softmax_v(qk, v, element_rounding="half-up")


def test_a_v_with_nonzero_padding_is_refused_on_the_rust_side_too(small):
    v = small[V]
    bad = hwsim.MxTensor._trusted(v.scales.copy(), v.elements.copy(), v.shape, v.axis)
    bad.elements[0, 0, 1, 0, 31] = 1        # block 1 holds kv 32..63; kv 40.. is padding
    with pytest.raises(ValueError, match="v: block 8 .grid order. has the nonzero element 1 at lane 31"):
        hwsim.softmax_v(small[QK], bad)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"kv_size": 0}, ValueError, "kv_size: 0 is outside 1"),
    ({"seed": -1}, ValueError, "seed: -1 is outside 0"),
    ({"heads": True}, TypeError, "heads: expected an integer, got bool"),
    ({"head_dim": 2.0}, TypeError, "head_dim: expected an integer, got float"),
    ({"kv_size": 1 << 40}, ValueError, "kv_size: kv-size 1099511627776 is out of range"),
])
def test_run_case_arguments(kwargs, error, match):
    args = {"kv_size": 4, "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        hwsim.run_case(**args)


def nothing_written(out):
    return not out.exists() or os.listdir(out) == []


def test_write_case_refuses_tensors_that_do_not_fit_and_writes_nothing(small, tmp_path):
    out = tmp_path / "out"
    wrong = hwsim.Case(small, small.manifest, flag_counts=small.flag_counts)
    wrong["softmaxed_v.out"] = np.zeros((1, 2, 1, 16), ml_dtypes.bfloat16)   # head_dim 16, not 8
    with pytest.raises(ValueError, match="'softmaxed_v.out' has shape \\[1, 2, 1, 16\\], expected"
                                         " \\[1, 2, 1, 8\\] for 2 heads, kv 40, head_dim 8"):
        hwsim.write_case(wrong, out)
    assert nothing_written(out)
    wrong = hwsim.Case(small, small.manifest, flag_counts=small.flag_counts)
    wrong["softmaxed_v.oops"] = small["softmaxed_v.out"]
    with pytest.raises(ValueError, match="unknown file name 'softmaxed_v.oops'"):
        hwsim.write_case(wrong, out)
    lying = hwsim.Case(small, dict(small.manifest, kv_size=41), flag_counts=small.flag_counts)
    with pytest.raises(ValueError, match="case.manifest: kv_size 41, num_heads 2, head_dim 8 do not describe"):
        hwsim.write_case(lying, out)
    with pytest.raises(ValueError, match="case\\['softmaxed_v.inv'\\]: expected BF16 bit patterns"):
        hwsim.write_case(dict(small, **{"softmaxed_v.inv": np.zeros((1, 2, 1, 1))}), out)
    escaping = hwsim.Case(small, dict(small.manifest, case="../elsewhere"))
    with pytest.raises(ValueError, match="case name \"../elsewhere\" is not a folder name"):
        hwsim.write_case(escaping, out)
    with pytest.raises(ValueError, match="needs 'softmaxed_v.qk_T'"):
        hwsim.write_case({QK: small[QK]}, out)
    assert nothing_written(out)


def test_write_case_into_a_file_fails_and_leaves_nothing(small, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="cannot create output folder"):
        hwsim.write_case(small, blocker)
    assert os.listdir(tmp_path) == ["file"]


def test_a_plain_dict_is_written_with_the_manifest_of_an_inputs_folder(small, tmp_path):
    folder = hwsim.write_case(dict(small), tmp_path)
    assert folder.name == "kv-size-40_inputs"
    back = hwsim.load_case(folder, verify=True)
    assert back.manifest["params"] == {"num_heads": 2, "head_dim": 8,
                                       "element_rounding": "nearest-away"}
    assert back[V] == small[V] and back.flag_counts == {}


def test_unreadable_folders_and_files(sim, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        hwsim.load_case(tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        hwsim.load_case(tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no softmax_v case here"):
        hwsim.load_case(tmp_path / "empty")
    sim("run", "--kv-size", 40, "--seed", 0, "--out", tmp_path)
    folder = tmp_path / "kv-size-40_seed-0"
    lines = (folder / QK).read_text().split("\n")
    lines[6] = "0x3f80"
    (folder / QK).write_text("\n".join(lines))
    with pytest.raises(ValueError, match="softmaxed_v.qk_T:7: expected 4 hex digits"):
        hwsim.load_case(folder)
    lines[6] = "3f81"                      # valid again, but not the bytes the manifest hashed
    (folder / QK).write_text("\n".join(lines))
    hwsim.load_case(folder)
    with pytest.raises(ValueError, match="softmaxed_v.qk_T: sha256 .* differs"):
        hwsim.load_case(folder, verify=True)
    v_lines = (folder / V).read_text().split("\n")
    v_lines[128] = v_lines[128][:2] + "01" + v_lines[128][4:]   # lane 31 of a padded block
    (folder / V).write_text("\n".join(v_lines))
    with pytest.raises(ValueError, match="softmaxed_v.v:129: element 31 lies past the logical"):
        hwsim.load_case(folder)
    sim("op", "gemm", "--m", 2, "--k", 3, "--n", 4, "--out", tmp_path)
    with pytest.raises(ValueError, match="holds a 'gemm' case"):
        hwsim.load_case(tmp_path / "gemm_m-2_k-3_n-4_seed-0")
    with pytest.raises(ValueError, match="heads: 0 is outside 1"):
        hwsim.load_case(folder, heads=0)
    no_heads = hwsim.quantize_mxint8(np.zeros((0, 4, 8), np.float32), axis=1)
    with pytest.raises(ValueError, match="heads and head_dim must be at least 1"):
        hwsim.softmax_v(np.zeros((0, 4), np.uint16), no_heads)
