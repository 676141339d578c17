"""softmax_v with other block formats (docs/numerics.md §3.7, `sim run --exp-format F --v-format G
--scale-rule R`): run_case, softmax_v, load_case and write_case against the CLI's case folders
byte for byte, and against scripts/rederive.py (the independent reference) for a case computed
from arrays; bad format names, and profiles whose MAC accumulator is not exact, are refused."""

from __future__ import annotations

import json
import shutil

import ml_dtypes
import numpy as np
import pytest

import hwsim
from conftest import ROOT, assert_dirs_identical

QK, V = "softmaxed_v.qk_T", "softmaxed_v.v"

# (exp format, v format, scale rule, element rounding or None for each format's default)
PAIRS = [
    ("mxfp8-e4m3", "mxfp4-e2m1", "floor", None),
    ("mxfp6-e2m3", "mxfp6-e3m2", "floor", None),
    ("mxint8", "mxfp4-e2m1", "floor", None),
    ("mxfp8-e5m2", "mxfp8-e4m3", "rceil", None),
    ("mxint8", "mxint8", "ceil", "nearest-even"),
    ("mxfp4-e2m1", "mxfp8-e5m2", "even", "nearest-away"),
]


def cli_args(exp_format, v_format, rule, rounding):
    args = ["--exp-format", exp_format, "--v-format", v_format, "--scale-rule", rule]
    return args + (["--element-rounding", rounding] if rounding else [])


def suffix(exp_format, v_format, rule):
    return f"_{exp_format}_{v_format}" + ("" if rule == "floor" else f"_rule-{rule}")


@pytest.mark.parametrize("exp_format, v_format, rule, rounding", PAIRS)
def test_run_case_writes_the_folder_of_sim_run(sim, tmp_path, exp_format, v_format, rule,
                                               rounding):
    kv, seed, heads, head_dim = 70, 3, 4, 16
    sim("run", "--kv-size", kv, "--seed", seed, "--heads", heads, "--head-dim", head_dim,
        *cli_args(exp_format, v_format, rule, rounding), "--out", tmp_path / "cli")
    case = hwsim.run_case(kv, seed, heads=heads, head_dim=head_dim, exp_format=exp_format,
                          v_format=v_format, scale_rule=rule, element_rounding=rounding)
    name = f"kv-size-{kv}_seed-{seed}{suffix(exp_format, v_format, rule)}"
    exp_file = f"softmaxed_v.exp_{exp_format}"
    assert case.name == name
    assert list(case) == [QK, "softmaxed_v.exp-bf16", "softmaxed_v.exp_sum", V, exp_file,
                          "softmaxed_v.scaled_v", "softmaxed_v.inv", "softmaxed_v.out"]
    v, e = case[V], case[exp_file]
    assert (v.format, v.shape, v.axis) == (v_format, (1, heads, kv, head_dim), 2)
    assert (e.format, e.shape, e.axis) == (exp_format, (1, heads, 1, kv), 3)
    for t in (v, e):
        assert t.elements.dtype == (np.int8 if t.format == "mxint8" else np.uint8)
    assert case.flags[exp_file].shape == e.grid_shape
    assert set(case.flag_counts) == set(case.flags) and exp_file in case.flag_counts
    assert case.manifest["params"]["exp_format"] == exp_format
    written = hwsim.write_case(case, tmp_path / "py")
    assert written == tmp_path / "py" / name
    assert_dirs_identical(tmp_path / "cli" / name, written)
    # the CLI's folder read back writes the same bytes again
    loaded = hwsim.load_case(tmp_path / "cli" / name, verify=True)
    assert list(loaded) == list(case) and loaded[V] == v and loaded[exp_file] == e
    assert_dirs_identical(tmp_path / "cli" / name, hwsim.write_case(loaded, tmp_path / "again"))


@pytest.mark.parametrize("exp_format, v_format, rule, rounding", [PAIRS[0], PAIRS[3], PAIRS[4]])
def test_softmax_v_on_the_cli_inputs_equals_sim_run_inputs(sim, tmp_path, exp_format, v_format,
                                                           rule, rounding):
    """Corner inputs (NaN, infinities, NaN codes and scales, ties) from `sim run --dist corners`;
    `sim run --inputs` on a folder of them against softmax_v on the same arrays."""
    sim("run", "--kv-size", 33, "--seed", 5, "--heads", 8, "--head-dim", 16, "--dist", "corners",
        *cli_args(exp_format, v_format, rule, rounding), "--out", tmp_path / "gen")
    (gen,) = (tmp_path / "gen").iterdir()
    tb = tmp_path / "my_tb"
    tb.mkdir()
    for name in (QK, V, "manifest.json"):
        shutil.copy(gen / name, tb / name)
    sim("run", "--inputs", tb, "--heads", 8, "--head-dim", 16, "--out", tmp_path / "cli")
    inputs = hwsim.load_case(gen)
    case = hwsim.softmax_v(inputs[QK], inputs[V], exp_format=exp_format, scale_rule=rule,
                           element_rounding=rounding, name="my_tb")
    assert case[V].format == v_format and f"softmaxed_v.exp_{exp_format}" in case
    assert_dirs_identical(tmp_path / "cli" / "my_tb", hwsim.write_case(case, tmp_path / "py"))
    # the 3-axis v of the docs' examples gives the same case
    v3 = hwsim.MxTensor(inputs[V].scales[0], inputs[V].elements[0], inputs[V].shape[1:], 1,
                        v_format)
    again = hwsim.softmax_v(inputs[QK].reshape(8, 33), v3, exp_format=exp_format,
                            scale_rule=rule, element_rounding=rounding, name="my_tb")
    assert_dirs_identical(tmp_path / "cli" / "my_tb", hwsim.write_case(again, tmp_path / "py3"))


def test_softmax_v_of_quantized_arrays_matches_the_reference(tmp_path):
    """scripts/rederive.py, written from docs/numerics.md, re-derives every file of a case
    softmax_v computed from arrays (an MXFP6 v of real-looking values, exp to MXFP8)."""
    import rederive
    rng = np.random.default_rng(7)
    heads, kv, head_dim = 2, 45, 8
    qk = rng.normal(0, 3, (heads, kv)).astype(ml_dtypes.bfloat16)
    v = hwsim.quantize_mx(rng.normal(0, 1, (heads, kv, head_dim)).astype(np.float32),
                          "mxfp6-e3m2", axis=1, scale_rule="rceil")
    case = hwsim.softmax_v(qk, v, exp_format="mxfp8-e5m2", scale_rule="rceil", name="arrays")
    assert case.manifest["params"] == {"num_heads": 2, "head_dim": 8,
                                       "exp_format": "mxfp8-e5m2", "v_format": "mxfp6-e3m2",
                                       "scale_rule": "rceil"}
    report = rederive.check_case(hwsim.write_case(case, tmp_path))
    assert not report.mismatches, report.mismatches
    assert len(report.compared) == 8, report


def test_the_dataset_formats_are_unchanged():
    """The defaults (and None for element_rounding) are the MXINT8 pipeline, nearest-away."""
    default = hwsim.run_case(40, 2, heads=2, head_dim=8)
    for same in (hwsim.run_case(40, 2, heads=2, head_dim=8, element_rounding="nearest-away"),
                 hwsim.run_case(40, 2, 2, 8, "reference", None, "mxint8", "mxint8", "floor")):
        assert list(same) == list(default) == list(hwsim.FILES)
        assert same.manifest == default.manifest and same.flag_counts == default.flag_counts
        for name, t in default.items():
            if isinstance(t, hwsim.MxTensor):
                assert same[name] == t, name
            else:
                assert np.array_equal(same[name].view(np.uint16), t.view(np.uint16)), name
    assert default.name == "kv-size-40_seed-2"
    assert default.manifest["params"]["element_rounding"] == "nearest-away"
    assert "exp_format" not in default.manifest["params"]
    again = hwsim.softmax_v(default[QK], default[V], name=default.name)
    assert all(np.array_equal(again[n].view(np.uint16), default[n].view(np.uint16))
               for n in ("softmaxed_v.out", "softmaxed_v.scaled_v"))
    assert again["softmaxed_v.exp_mxint8"] == default["softmaxed_v.exp_mxint8"]


@pytest.mark.parametrize("call, error, match", [
    (lambda: hwsim.run_case(40, 1, exp_format="mxfp5"), ValueError,
     "exp_format: unknown MX format 'mxfp5' \\(expected one of: mxint8, mxfp8-e4m3"),
    (lambda: hwsim.run_case(40, 1, v_format="fp4"), ValueError,
     "v_format: unknown MX format 'fp4'"),
    (lambda: hwsim.run_case(40, 1, scale_rule="round"), ValueError,
     "scale_rule: unknown scale rule 'round' \\(expected one of: floor, ceil, even, rceil\\)"),
    (lambda: hwsim.run_case(40, 1, element_rounding="toward-zero"), ValueError,
     "element_rounding: must be nearest-away or nearest-even"),
    (lambda: hwsim.run_case(40, 1, exp_format=8), TypeError, "exp_format: expected a str"),
    (lambda: hwsim.run_case(40, 1, scale_rule=None), TypeError, "scale_rule: expected a str"),
])
def test_run_case_bad_formats_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_softmax_v_bad_formats_name_the_argument():
    small = hwsim.run_case(40, 1, heads=2, head_dim=8)
    qk, v = small[QK], small[V]
    with pytest.raises(ValueError, match="exp_format: unknown MX format 'MXFP8'"):
        hwsim.softmax_v(qk, v, exp_format="MXFP8")
    with pytest.raises(ValueError, match="scale_rule: unknown scale rule 'nearest'"):
        hwsim.softmax_v(qk, v, scale_rule="nearest")
    with pytest.raises(ValueError, match="element_rounding: unknown rounding mode 'up'"):
        hwsim.softmax_v(qk, v, exp_format="mxfp4-e2m1", element_rounding="up")
    with pytest.raises(TypeError, match="exp_format: expected a str, got NoneType"):
        hwsim.softmax_v(qk, v, exp_format=None)
    v.format = "mxfp8"          # a reassigned attribute is checked again
    with pytest.raises(ValueError, match="v: format: unknown MX format 'mxfp8'"):
        hwsim.softmax_v(qk, v)


def test_an_inexact_mac_accumulator_refuses_other_formats(tmp_path):
    match = ("profile 'narrow': exp format mxfp8-e4m3 and v format mxfp4-e2m1 under rule floor: "
             ".* MAC accumulator is not exact")
    with pytest.raises(ValueError, match=match):
        hwsim.run_case(40, 1, heads=2, head_dim=8, profile="narrow", exp_format="mxfp8-e4m3",
                       v_format="mxfp4-e2m1")
    mx = hwsim.run_case(40, 1, heads=2, head_dim=8, exp_format="mxfp8-e4m3",
                        v_format="mxfp4-e2m1")
    with pytest.raises(ValueError, match=match):
        hwsim.softmax_v(mx[QK], mx[V], profile="narrow", exp_format="mxfp8-e4m3")
    # an edited description with the narrow accumulator is refused too; so is mxint8 under
    # another scale rule (no longer the MAC array's pipeline)
    config = hwsim.hw_config("narrow")
    config["name"] = "my-narrow"
    (tmp_path / "narrow.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="profile 'my-narrow': exp format mxint8 and v format "
                                         "mxint8 under rule ceil"):
        hwsim.run_case(40, 1, heads=2, head_dim=8, profile=tmp_path / "narrow.json",
                       scale_rule="ceil")
    # the dataset's formats run on the narrow datapath as before
    assert hwsim.run_case(40, 1, heads=2, head_dim=8, profile="narrow").name == "kv-size-40_seed-1"


def test_write_case_checks_tensors_against_the_manifest_formats(tmp_path):
    case = hwsim.run_case(40, 1, heads=2, head_dim=8, exp_format="mxfp8-e4m3",
                          v_format="mxfp4-e2m1")
    wrong = case.copy()
    wrong[V] = hwsim.quantize_mx(np.ones((1, 2, 40, 8), np.float32), "mxfp6-e2m3", axis=2)
    with pytest.raises(ValueError, match="case: 'softmaxed_v.v' holds mxfp6-e2m3 blocks, but "
                                         "the manifest's v_format is mxfp4-e2m1"):
        hwsim.write_case(wrong, tmp_path)
    wrong = case.copy()
    wrong["softmaxed_v.exp_mxint8"] = wrong.pop("softmaxed_v.exp_mxfp8-e4m3")
    with pytest.raises(ValueError, match="case: 'softmaxed_v.exp_mxint8' is not this case's "
                                         "quantized exp: the manifest's exp_format is "
                                         "mxfp8-e4m3"):
        hwsim.write_case(wrong, tmp_path)
    wrong = case.copy()
    wrong.manifest["params"]["exp_format"] = "mxfp9"
    with pytest.raises(ValueError, match="case.manifest: params.exp_format: unknown MX format"):
        hwsim.write_case(wrong, tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_plain_dict_is_written_with_the_formats_of_its_tensors(sim, tmp_path):
    case = hwsim.run_case(40, 1, heads=2, head_dim=8, exp_format="mxfp8-e4m3",
                          v_format="mxfp4-e2m1")
    tensors = {QK: case[QK], V: case[V], "softmaxed_v.exp_mxfp8-e4m3":
               case["softmaxed_v.exp_mxfp8-e4m3"]}
    folder = hwsim.write_case(tensors, tmp_path / "py")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert folder.name == "kv-size-40_inputs"
    assert manifest["params"] == {"num_heads": 2, "head_dim": 8, "exp_format": "mxfp8-e4m3",
                                  "v_format": "mxfp4-e2m1", "scale_rule": "floor"}
    assert manifest["files"][V]["dtype"] == "mxfp4-e2m1"
    # sim run --inputs reads it (formats from its manifest) and computes the same case
    sim("run", "--inputs", folder, "--heads", 2, "--head-dim", 8, "--out", tmp_path / "cli")
    again = hwsim.softmax_v(case[QK], case[V], exp_format="mxfp8-e4m3", name=folder.name)
    assert_dirs_identical(tmp_path / "cli" / folder.name,
                          hwsim.write_case(again, tmp_path / "again"))


def _other_formats(folder) -> bool:
    """A softmax_v case folder whose manifest records formats other than the dataset's."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return False
    m = json.loads(manifest.read_text())
    return m["op"] == "softmax_v" and "exp_format" in m["params"]


GOLDEN = sorted(p for d in ("mx-softmax", "corners") for p in (ROOT / "golden" / d).iterdir()
                if _other_formats(p))


@pytest.mark.parametrize("folder", GOLDEN, ids=lambda p: p.name)
def test_the_golden_cases_of_other_formats_are_reproduced(tmp_path, folder):
    """golden/mx-softmax and the corner-mx-softmax cases: read back and written again byte for
    byte, and every dump recomputed by softmax_v from their inputs and recorded formats."""
    case = hwsim.load_case(folder, verify=True)
    assert_dirs_identical(folder, hwsim.write_case(case, tmp_path / "again"))
    params = case.manifest["params"]
    exp_format = params["exp_format"]
    assert case[V].format == params["v_format"]
    config = params.get("config")
    profile = "reference"
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        profile = tmp_path / "config.json"
    again = hwsim.softmax_v(case[QK], case[V], profile=profile, exp_format=exp_format,
                            scale_rule=params["scale_rule"],
                            element_rounding=params.get("element_rounding"), name=folder.name)
    assert list(again) == list(case)
    for name, t in case.items():
        got = again[name]
        if isinstance(t, hwsim.MxTensor):
            assert got == t, name
        else:
            assert np.array_equal(got.view(np.uint16), t.view(np.uint16)), name
    assert again.flag_counts == case.flag_counts


def test_the_golden_corpus_has_cases_of_other_formats():
    assert len(GOLDEN) >= 9 + 5, [p.name for p in GOLDEN]


def test_the_docs_example_prints_what_the_page_shows(tmp_path, monkeypatch):
    """docs/python.md, "softmax_v in other block formats"."""
    import contextlib
    import io
    import re
    section = (ROOT / "docs" / "python.md").read_text().split(
        "### softmax_v in other block formats")[1]
    code, shown = re.findall(r"```python\n(.*?)```\n\n```\n(.*?)```", section, re.S)[0]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/python.md", "exec"), {"__name__": "docs_example"})
    assert out.getvalue() == shown
