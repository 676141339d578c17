"""Black-box agreement of `sim run --exp-format F --v-format G [--scale-rule R]` (softmax_v with
other block formats, docs/numerics.md §3.7) with the independent Python reference.

Every case folder the simulator writes is re-derived by rederive.check_case twice: from its
manifest alone (qk_T and v regenerated from the seed: v as the MXINT8 v's reals and block plans,
quantized to G by mx.py's §8.2 quantizer, corner blocks per §5.1 for G), and from its own input
dumps (`from_inputs`: qk_T and the G-format v read back).  Every file must be equal byte for
byte and every flag count equal to the manifest's; the folder name, the exp dump's name
`softmaxed_v.exp_<F>` and the manifest's params and dtypes must follow docs/dump-format.md.
The default formats must still write the dataset's MXINT8 case unchanged.

The simulator is target/release/sim (or SIM=PATH); a missing binary fails these tests.

Run: SIM=target/release/sim .venv/bin/python -m pytest -q scripts/test_mx_softmax.py
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import dists
import dumps
import mx
import reference as ref
import rederive
import units

ROOT = Path(__file__).resolve().parent.parent
SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))
SMALL = ["--heads", "2", "--head-dim", "8"]
WIDER = ["--heads", "8", "--head-dim", "8"]     # corners: one qk_T row kind per head


@pytest.fixture(scope="session")
def sim() -> Path:
    """The simulator binary; missing, every test fails (no silent skip)."""
    if not SIM.is_file():
        pytest.fail(f"no simulator binary at {SIM}: build it with `cargo build --release -p sim` "
                    f"or set SIM=PATH", pytrace=False)
    return SIM


def run_sim_cases(sim: Path, argv: list[str], out: Path) -> list[Path]:
    """Run `sim argv --out out` and return the case folders it wrote."""
    result = subprocess.run([str(sim)] + argv + ["--out", str(out)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.fail(f"sim {' '.join(argv)} exited {result.returncode}:\n{result.stderr}",
                    pytrace=False)
    return rederive.case_folders(out)


def run_sim(sim: Path, argv: list[str], out: Path) -> Path:
    """Run `sim argv --out out` and return the one case folder it wrote."""
    folders = run_sim_cases(sim, argv, out)
    assert len(folders) == 1, f"sim {' '.join(argv)} wrote {len(folders)} case folders"
    return folders[0]


def assert_rederived(case: Path, argv: list[str]) -> dict:
    """Both re-derivations (from the manifest, from the input dumps) agree on every file and
    flag count; returns the manifest."""
    manifest = dumps.read_manifest(case)
    for from_inputs in (False, True):
        report = rederive.check_case(case, from_inputs=from_inputs)
        where = "from its input dumps" if from_inputs else "from its manifest"
        assert not report.mismatches, "\n".join(
            [f"sim {' '.join(argv)}: {case.name} re-derived {where}"] + report.mismatches)
        assert sorted(report.compared) == sorted(manifest["files"]), report.skipped
    return manifest


def case(fe: str, fv: str, kv: int, seed: int, *extra: str, shape=SMALL) -> list[str]:
    return (["run", "--kv-size", str(kv), "--seed", str(seed), "--exp-format", fe,
             "--v-format", fv] + list(shape) + list(extra))


E4M3, E5M2, E3M2, E2M3, E2M1, INT8 = ("mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2", "mxfp6-e2m3",
                                      "mxfp4-e2m1", "mxint8")

CASES = {
    # the format pairs, over kv sizes: 1, partial blocks (31, 33, 70, 100), whole blocks (64)
    "e4m3-e4m3-kv1": case(E4M3, E4M3, 1, 0),
    "e4m3-e4m3-kv70": case(E4M3, E4M3, 70, 1),
    "e4m3-e2m1-kv31": case(E4M3, E2M1, 31, 2),
    "e4m3-e2m1-kv33": case(E4M3, E2M1, 33, 3),
    "e2m3-e3m2-kv33": case(E2M3, E3M2, 33, 4),
    "e2m3-e3m2-kv100": case(E2M3, E3M2, 100, 5),
    "int8-e2m1-kv31": case(INT8, E2M1, 31, 6),
    "int8-e2m1-kv64": case(INT8, E2M1, 64, 7),
    "e5m2-int8-kv1": case(E5M2, INT8, 1, 8),
    "e5m2-int8-kv100": case(E5M2, INT8, 100, 2 ** 64 - 1),
    # scale rules on one pair
    "e4m3-e2m1-ceil": case(E4M3, E2M1, 70, 9, "--scale-rule", "ceil"),
    "e4m3-e2m1-even": case(E4M3, E2M1, 70, 9, "--scale-rule", "even"),
    "e4m3-e2m1-rceil": case(E4M3, E2M1, 70, 9, "--scale-rule", "rceil"),
    "int8-int8-rceil": case(INT8, INT8, 33, 10, "--scale-rule", "rceil"),
    # element rounding given: it applies to exp and v alike
    "e2m3-e3m2-away": case(E2M3, E3M2, 100, 11, "--element-rounding", "nearest-away"),
    "int8-e2m1-even": case(INT8, E2M1, 33, 12, "--element-rounding", "nearest-even"),
    # distributions
    "e4m3-e2m1-corners": case(E4M3, E2M1, 100, 2, "--dist", "corners", shape=WIDER),
    "e2m3-e5m2-corners": case(E2M3, E5M2, 70, 5, "--dist", "corners", shape=WIDER),
    "int8-e2m1-corners-even": case(INT8, E2M1, 31, 6, "--dist", "corners", "--scale-rule",
                                   "even", shape=WIDER),
    "e5m2-int8-mixed": case(E5M2, INT8, 33, 7, "--dist", "mixed", shape=WIDER),
    "e4m3-e4m3-mixed-rceil": case(E4M3, E4M3, 100, 4, "--dist", "mixed", "--scale-rule",
                                  "rceil", shape=WIDER),
    # the full default shape (32 heads x 128)
    "full-e4m3-e2m1": ["run", "--kv-size", "100", "--exp-format", E4M3, "--v-format", E2M1,
                       "--seed", "3"],
}


def option(argv: list[str], name: str, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


@pytest.mark.parametrize("argv", list(CASES.values()), ids=list(CASES))
def test_case_is_rederived(sim, tmp_path, argv):
    folder = run_sim(sim, argv, tmp_path)
    manifest = assert_rederived(folder, argv)
    fe, fv = option(argv, "--exp-format"), option(argv, "--v-format")
    rule, rounding = option(argv, "--scale-rule", "floor"), option(argv, "--element-rounding")
    dist = option(argv, "--dist", "uniform")
    kv, seed = option(argv, "--kv-size"), option(argv, "--seed")
    # docs/dump-format.md: the folder name, the params, the exp dump's name and the dtypes
    assert folder.name == (f"kv-size-{kv}_seed-{seed}_{fe}_{fv}"
                           + ("" if rule == "floor" else f"_rule-{rule}")
                           + ("" if dist == "uniform" else f"_dist-{dist}"))
    params = manifest["params"]
    assert (params["exp_format"], params["v_format"], params["scale_rule"]) == (fe, fv, rule)
    assert params.get("element_rounding") == rounding       # recorded only when given
    assert params.get("dist", "uniform") == dist
    exp_name = f"softmaxed_v.exp_{fe}"
    assert list(manifest["files"]) == list(units.mx_softmax_files(fe))
    files = manifest["files"]
    heads, dim = params["num_heads"], params["head_dim"]
    assert files["softmaxed_v.v"]["dtype"] == fv and files[exp_name]["dtype"] == fe
    assert files["softmaxed_v.v"]["shape"] == [1, heads, int(kv), dim]
    assert files[exp_name]["shape"] == [1, heads, 1, int(kv)]
    assert (files["softmaxed_v.v"]["block_axis"], files[exp_name]["block_axis"]) == (2, 3)
    for name, fmt in (("softmaxed_v.v", fv), (exp_name, fe)):
        lines = (folder / name).read_text().splitlines()
        assert {len(line) for line in lines} == {mx.FORMATS[fmt].digits}, name
        assert len(lines) == files[name]["lines"]


def test_corners_reach_the_special_cases(sim, tmp_path):
    """The corner cases above are not vacuous: NaN and infinite scaled_v values, an invalid
    gevm (inf * 0 or inf - inf through G = mxfp8-e5m2's infinities), inf/NaN exp blocks
    (invalid quantizer blocks) and saturating elements all occur, and are re-derived."""
    seen = {"nan": 0, "inf": 0, "gevm_invalid": 0, "quant_invalid": 0, "quant_overflow": 0}
    for key in ("e4m3-e2m1-corners", "e2m3-e5m2-corners"):
        folder = run_sim(sim, CASES[key], tmp_path / key)
        manifest = assert_rederived(folder, CASES[key])
        words = (folder / "softmaxed_v.scaled_v").read_text().split()
        seen["nan"] += words.count("7fc0")
        seen["inf"] += sum(word in ("7f80", "ff80") for word in words)
        files = manifest["files"]
        seen["gevm_invalid"] += files["softmaxed_v.scaled_v"]["flags"]["invalid"]
        quant = files[f"softmaxed_v.exp_{option(CASES[key], '--exp-format')}"]["flags"]
        seen["quant_invalid"] += quant["invalid"]
        seen["quant_overflow"] += quant["overflow"]
    assert all(seen.values()), seen


def test_default_formats_keep_the_mxint8_case(sim, tmp_path):
    """No format options, or the defaults spelled out, write the dataset's case: the MXINT8 file
    set (`softmaxed_v.exp_mxint8`), the dataset's manifest (no exp_format / v_format /
    scale_rule, element_rounding recorded) and the same bytes."""
    base = ["run", "--kv-size", "33", "--seed", "5"] + SMALL
    plain = run_sim(sim, base, tmp_path / "plain")
    manifest = assert_rederived(plain, base)
    assert plain.name == "kv-size-33_seed-5"
    assert list(manifest["files"]) == list(ref.SOFTMAX_FILES)
    assert manifest["params"] == {"num_heads": 2, "head_dim": 8,
                                  "element_rounding": "nearest-away"}
    assert not rederive.is_softmax_mx(manifest)
    assert {manifest["files"][n]["dtype"] for n in ("softmaxed_v.v", "softmaxed_v.exp_mxint8")
            } == {"mxint8"}
    spelled = base + ["--exp-format", "mxint8", "--v-format", "mxint8", "--scale-rule", "floor"]
    explicit = run_sim(sim, spelled, tmp_path / "explicit")
    assert explicit.name == plain.name
    for name in list(manifest["files"]) + [rederive.MANIFEST]:
        assert (explicit / name).read_bytes() == (plain / name).read_bytes(), name


def test_the_mx_path_reproduces_the_dataset_case(sim, tmp_path):
    """§3.7: mxint8/mxint8 under floor is the dataset's pipeline byte for byte.  `sim` writes
    such a case with the dataset's manifest (so rederive takes the MXINT8 pipeline); here the
    reference's §3.7 path (mx.py's quantizer and product rule, v by dists.softmax_mx_inputs)
    is given the same case as an MX manifest and must give the same bytes and flag counts."""
    argv = ["run", "--kv-size", "70", "--seed", "2", "--dist", "corners"] + WIDER
    folder = run_sim(sim, argv, tmp_path)
    manifest = dumps.read_manifest(folder)
    as_mx = dict(manifest, params=dict(manifest["params"], exp_format="mxint8",
                                       v_format="mxint8", scale_rule="floor"))
    del as_mx["params"]["element_rounding"]                  # each format's default
    derived = rederive.derive(folder, as_mx)
    for name, entry in manifest["files"].items():
        assert rederive.dump_text(derived.tensors[name], entry["dtype"]) == \
            (folder / name).read_text(), name
        assert derived.flags.get(name, {}) == entry.get("flags", {}), name


def test_a_hardware_description_with_the_exact_mac(sim, tmp_path):
    """§3.7 refuses only a MAC accumulator that is not exact: the narrow profile's exp, reduce
    and reciprocal units with an exact MAC run, and the case (params.config) is re-derived with
    those units around the §8.5 gevm."""
    shown = subprocess.run([str(sim), "config", "show", "--profile", "narrow"], check=True,
                           capture_output=True, text=True).stdout
    config = dict(json.loads(shown), name="narrow-exact-mac")
    config["mac"] = dict(config["mac"], accumulator={"type": "exact"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    argv = case(E3M2, E5M2, 70, 3, "--dist", "corners", "--config", str(path), shape=WIDER)
    folder = run_sim(sim, argv, tmp_path / "out")
    manifest = assert_rederived(folder, argv)
    assert manifest["params"]["config"]["name"] == "narrow-exact-mac"


def test_a_non_exact_accumulator_is_refused(sim, tmp_path):
    """§3.7: other formats need the exact gevm; the narrow profile's fp32 accumulator is
    refused with exit 2 (and by the reference)."""
    argv = case(E4M3, E2M1, 33, 0, "--profile", "narrow")
    result = subprocess.run([str(sim)] + argv + ["--out", str(tmp_path)], capture_output=True,
                            text=True)
    assert result.returncode == 2, result.stderr
    assert not rederive.case_folders(tmp_path)
    with pytest.raises(ValueError, match="exact"):
        units.softmax_v_mx(*dists.softmax_mx_inputs(33, 0, 2, 8, E2M1),
                           units.load_hardware("narrow"), E4M3, E2M1)



GEN = ["gen", "--kv-sizes", "1,33,70", "--seeds", "0,5", "--exp-format", E3M2, "--v-format", E5M2,
       "--scale-rule", "even", "--dist", "corners", "--heads", "4", "--head-dim", "8"]


def test_gen_cases_are_rederived(sim, tmp_path):
    """`sim gen` with formats: every case is named after its formats and rule (a re-run with
    other formats cannot take it for complete) and re-derives, from the manifest and from the
    input dumps."""
    folders = run_sim_cases(sim, GEN, tmp_path)
    assert sorted(folder.name for folder in folders) == sorted(
        f"kv-size-{kv}_seed-{seed}_{E3M2}_{E5M2}_rule-even_dist-corners"
        for kv in (1, 33, 70) for seed in (0, 5))
    for folder in folders:
        manifest = assert_rederived(folder, GEN)
        assert manifest["case"] == folder.name
        assert rederive.is_softmax_mx(manifest) and manifest["params"]["v_format"] == E5M2
