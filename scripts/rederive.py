"""Re-derive a case folder from its manifest.json alone, with the Python reference, and compare
every dump byte for byte and every flag count with what the folder holds.

A generated case (its manifest has a `seed`) is regenerated from `op`, `kv_size`, `seed` and
`params` (docs/dump-format.md), inputs included; a directed case (no seed) is recomputed from
its own input dumps.  An MX case (`params.mx_format`, or a `params.scale_rule` other than
floor: `sim op --mx-format / --scale-rule`) is derived with mx.py, its generated operands by
dists.mx_op_inputs (docs/numerics.md §5.1, "Operands of the other MX formats").  A softmax_v
case of other block formats (`params.exp_format`, `v_format`, `scale_rule`: `sim run
--exp-format F --v-format G --scale-rule R`, §3.7) is derived by units.softmax_v_mx, its v by
dists.softmax_mx_inputs.  The hardware
description is `params.config` when the manifest records one (`sim` does for every
non-reference description), else the named built-in profile.

    import rederive
    report = rederive.check_case("golden/softmax/kv-size-4_seed-0")
    report.mismatches      # [] when everything agrees
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


import numpy as np

import dists
import dumps
import mx
import reference as ref
import units

SOFTMAX_INPUTS = ("softmaxed_v.qk_T", "softmaxed_v.v")
MANIFEST = "manifest.json"


@dataclass
class Derived:
    """What the reference computes for a case: tensors keyed by file name (BF16/FP32 bits or
    MXINT8 (scales, elements)) and flag counts keyed by file name."""

    tensors: dict
    flags: dict


@dataclass
class Report:
    """The outcome of checking one case folder."""

    case: Path
    mismatches: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)     # files compared byte for byte
    skipped: list[str] = field(default_factory=list)      # why a listed file was not


def hardware_of(manifest: dict) -> units.Hardware:
    """params.config when recorded, else the manifest's built-in profile."""
    config = manifest["params"].get("config")
    if config is not None:
        return units.parse_hardware(config)
    return units.load_hardware(manifest.get("profile", "reference"))


def _generated(manifest: dict) -> bool:
    """Whether the inputs are regenerated (a seed) rather than read from the folder."""
    return "seed" in manifest


def _read_input(case: Path, manifest: dict, name: str):
    """An input dump in the form its manifest entry gives (MXINT8 padding checked)."""
    entry = manifest["files"][name]
    shape = tuple(entry["shape"])
    if entry["dtype"] != "mxint8":
        return dumps.read_bf16_bits(case / name, shape)
    axis = entry["block_axis"]
    grid = dumps.block_grid(shape, axis)
    scales, elements = dumps.read_mxint8(case / name, grid)
    ref.check_padding(case / name, elements, shape[axis], axis)
    return scales, elements


def _softmax(case: Path, manifest: dict) -> Derived:
    params = manifest["params"]
    heads, dim, mode = params["num_heads"], params["head_dim"], params["element_rounding"]
    if _generated(manifest):
        qk, v = dists.softmax_inputs(manifest["kv_size"], manifest["seed"], heads, dim, mode,
                                     params.get("dist", dists.UNIFORM))
    else:
        qk, v = ref.read_softmax_inputs(case, heads, dim)
    tensors, flags = units.softmax_v(qk, v, hardware_of(manifest), mode)
    return Derived(tensors, flags)


# ----------------------------------------------------------------------------------------------
# softmax_v of other block formats (docs/numerics.md §3.7; `sim run --exp-format F --v-format G
# --scale-rule R`)
# ----------------------------------------------------------------------------------------------

SOFTMAX_MX_PARAMS = ("exp_format", "v_format", "scale_rule")


def is_softmax_mx(manifest: dict) -> bool:
    """Whether a softmax_v case names its block formats or scale rule (docs/dump-format.md:
    `params` gains exp_format, v_format and scale_rule; a case of the default formats keeps
    the dataset's manifest)."""
    return manifest["op"] == "softmax_v" and any(key in manifest["params"]
                                                 for key in SOFTMAX_MX_PARAMS)


def softmax_formats_of(manifest: dict) -> tuple[str, str, str]:
    """(exp format F, v format G, scale rule R) of a softmax_v case; mxint8, mxint8, floor
    for what the params do not name."""
    params = manifest["params"]
    rule = params.get("scale_rule", mx.RULES[0])
    mx.check_rule(rule)
    return (mx.get_format(params.get("exp_format", "mxint8")).name,
            mx.get_format(params.get("v_format", "mxint8")).name, rule)


def _read_softmax_mx_inputs(case: Path, manifest: dict, heads: int, dim: int
                            ) -> tuple[np.ndarray, tuple]:
    """qk_T [H, N] and v (scales [H, nb, D], codes [H, nb, D, 32]) of the manifest's format,
    read from the folder (padding checked)."""
    qk = _read_input(case, manifest, SOFTMAX_INPUTS[0])
    kv_size = qk.shape[-1]
    entry = manifest["files"][SOFTMAX_INPUTS[1]]
    if tuple(entry["shape"]) != (1, heads, kv_size, dim) or entry.get("block_axis") != 2:
        raise ValueError(f"{case / SOFTMAX_INPUTS[1]}: shape {entry['shape']} blocked on axis "
                         f"{entry.get('block_axis')}, expected {[1, heads, kv_size, dim]} on 2")
    scales, codes = _read_mx_input(case, manifest, SOFTMAX_INPUTS[1])
    nb = scales.shape[2]
    return (qk.reshape(heads, kv_size),
            (scales.reshape(heads, nb, dim), codes.reshape(heads, nb, dim, mx.BLOCK)))


def _softmax_mx(case: Path, manifest: dict) -> Derived:
    params = manifest["params"]
    heads, dim = params["num_heads"], params["head_dim"]
    exp_format, v_format, rule = softmax_formats_of(manifest)
    rounding = params.get("element_rounding")             # None: each format's default
    if _generated(manifest):
        qk, v = dists.softmax_mx_inputs(manifest["kv_size"], manifest["seed"], heads, dim,
                                        v_format, rule, rounding,
                                        params.get("dist", dists.UNIFORM))
    else:
        qk, v = _read_softmax_mx_inputs(case, manifest, heads, dim)
    tensors, flags = units.softmax_v_mx(qk, v, hardware_of(manifest), exp_format, v_format,
                                        rule, rounding)
    return Derived(tensors, flags)


def softmax_case_suffix(manifest: dict) -> str:
    """`_F_G` (both names, also when F = G: docs/dump-format.md's `kv-size-N_seed-S_<F>_<G>`),
    then `_rule-R` for a rule other than floor: what a softmax_v case of other block formats
    adds after `_seed-S`; `_dist-D` follows it.  Empty for a case of the dataset's manifest."""
    if not is_softmax_mx(manifest):
        return ""
    exp_format, v_format, rule = softmax_formats_of(manifest)
    return f"_{exp_format}_{v_format}" + ("" if rule == mx.RULES[0] else f"_rule-{rule}")


def _check_softmax_mx_dtypes(manifest: dict, report_to: list[str]) -> None:
    """v's dtype is G and exp's quantization is `softmaxed_v.exp_<F>` of dtype F."""
    exp_format, v_format, _ = softmax_formats_of(manifest)
    for name, fmt in ((SOFTMAX_INPUTS[1], v_format), (units.exp_quant_file(exp_format),
                                                      exp_format)):
        dtype = manifest["files"].get(name, {}).get("dtype")
        if dtype != fmt:
            report_to.append(f"{name}: dtype {dtype!r} in the manifest, the params give "
                             f"{fmt!r}")


def _mxint8_op(case: Path, manifest: dict) -> Derived:
    op, params = manifest["op"], manifest["params"]
    names = ref.OP_FILES[op]
    if _generated(manifest):
        # Generated operands are quantized nearest-away unless the manifest says otherwise
        # (`sim op` records no element rounding for dot/gevm/gemm).
        first, second = dists.op_inputs(
            op, params["m"], params.get("k"), params.get("n"), manifest["seed"],
            params.get("dist", dists.UNIFORM), params.get("element_rounding", ref.NEAREST_AWAY))
    else:
        first, second = (_read_input(case, manifest, name) for name in names[:2])
    fmt = ref.FORMATS[params["out_dtype"]]
    output, flags = units.mxint8_op(op, first, second, hardware_of(manifest), fmt,
                                    params["rounding"])
    return Derived(dict(zip(names, (first, second, output))), {names[2]: flags})


def _quantize(case: Path, manifest: dict) -> Derived:
    params = manifest["params"]
    if _generated(manifest):
        bits = dists.quantize_input(manifest["seed"], params["m"],
                                    params.get("dist", dists.UNIFORM))
    else:
        bits = _read_input(case, manifest, ref.QUANTIZE_FILES[0])
    blocks, flags = units.quantize(bits, params["element_rounding"])
    return Derived(dict(zip(ref.QUANTIZE_FILES, (bits, blocks))),
                   {ref.QUANTIZE_FILES[1]: flags})


# ----------------------------------------------------------------------------------------------
# MX cases (docs/numerics.md §8; `sim op --mx-format A[,B] --scale-rule R`)
# ----------------------------------------------------------------------------------------------

def is_mx(manifest: dict) -> bool:
    """Whether a case is an MX op case (dot/gevm/gemm/quantize): params.mx_format recorded, or
    a non-floor scale rule.  softmax_v cases of other formats are `is_softmax_mx`."""
    params = manifest["params"]
    return manifest["op"] != "softmax_v" and (
        "mx_format" in params or params.get("scale_rule", mx.RULES[0]) != mx.RULES[0])


def mx_formats_of(manifest: dict) -> tuple[str, ...]:
    """The MX format of each operand (dot/gevm/gemm: two) or of the output (quantize: one),
    from params.mx_format ("A" stands for every operand; mxint8 when absent)."""
    count = 1 if manifest["op"] == "quantize" else 2
    names = manifest["params"].get("mx_format", "mxint8").split(",")
    if len(names) == 1:
        names = names * count
    if len(names) != count:
        raise ValueError(f"params.mx_format {manifest['params']['mx_format']!r}: expected "
                         f"{count} format name(s)")
    return tuple(mx.get_format(name).name for name in names)


def _check_mx_dtypes(manifest: dict, names, formats, report_to: list[str]) -> None:
    """Each file's dtype in the manifest is the format the params give it."""
    for name, fmt in zip(names, formats):
        dtype = manifest["files"].get(name, {}).get("dtype")
        if dtype is not None and dtype != fmt:
            report_to.append(f"{name}: dtype {dtype!r} in the manifest, params.mx_format "
                             f"gives {fmt!r}")


def _read_mx_input(case: Path, manifest: dict, name: str):
    """An MX operand dump as (scales uint8, codes uint8) in block-grid form, padding checked."""
    entry = manifest["files"][name]
    shape, axis = tuple(entry["shape"]), entry["block_axis"]
    grid = dumps.block_grid(shape, axis)
    scales, codes = mx.read_mx(case / name, entry["dtype"], grid)
    mx.check_padding(case / name, codes, shape[axis], axis)
    return scales, codes


def _mx_reference_only(manifest: dict) -> None:
    """mx.py models the reference profile (exact accumulation) only."""
    if manifest.get("profile", "reference") != "reference" or "config" in manifest["params"]:
        raise ValueError(f"{manifest['case']}: an MX case is re-derived for the reference "
                         f"profile only (exact accumulation)")


def _mx_quantize(case: Path, manifest: dict) -> Derived:
    params = manifest["params"]
    (fmt,) = mx_formats_of(manifest)
    rule = params.get("scale_rule", mx.RULES[0])
    if _generated(manifest):
        bits = dists.quantize_input(manifest["seed"], params["m"],
                                    params.get("dist", dists.UNIFORM), fmt)
    else:
        bits = _read_input(case, manifest, ref.QUANTIZE_FILES[0])
    scales, codes, flags = mx.quantize_bf16(bits, fmt, rule, params.get("element_rounding"))
    return Derived(dict(zip(ref.QUANTIZE_FILES, (bits, (scales, codes)))),
                   {ref.QUANTIZE_FILES[1]: mx.flag_counts(flags)})


def _mx_op(case: Path, manifest: dict) -> Derived:
    op, params = manifest["op"], manifest["params"]
    _mx_reference_only(manifest)
    names = ref.OP_FILES[op]
    formats = mx_formats_of(manifest)
    if _generated(manifest):
        first, second = dists.mx_op_inputs(
            op, params["m"], params.get("k"), params.get("n"), manifest["seed"], formats,
            params.get("dist", dists.UNIFORM), params.get("scale_rule", mx.RULES[0]),
            params.get("element_rounding"))
    else:
        first, second = (_read_mx_input(case, manifest, name) for name in names[:2])
    out = mx.OUT_FORMATS[params["out_dtype"]]
    output, flags = mx.product(op, first, second, *formats, out, params["rounding"])
    return Derived(dict(zip(names, (first, second, output))),
                   {names[2]: mx.flag_counts(flags)})


def mx_case_suffix(manifest: dict) -> str:
    """`_A` (one format for both operands, or quantize) or `_A_B`, then `_rule-R` for a rule
    other than floor (docs/dump-format.md); `_dist-D` follows it."""
    formats = mx_formats_of(manifest)
    rule = manifest["params"].get("scale_rule", mx.RULES[0])
    shown = formats[:1] if len(set(formats)) == 1 else formats
    return "".join(f"_{name}" for name in shown) + ("" if rule == mx.RULES[0]
                                                    else f"_rule-{rule}")


def derive(case: Path, manifest: dict) -> Derived:
    """Every file of a softmax_v, dot, gevm, gemm or quantize case (MX cases included)."""
    op = manifest["op"]
    if is_softmax_mx(manifest):
        return _softmax_mx(case, manifest)
    if is_mx(manifest) and op == "quantize":
        return _mx_quantize(case, manifest)
    if is_mx(manifest) and op in ref.OP_FILES:
        return _mx_op(case, manifest)
    if op == "softmax_v":
        return _softmax(case, manifest)
    if op in ref.OP_FILES:
        return _mxint8_op(case, manifest)
    if op == "quantize":
        return _quantize(case, manifest)
    raise ValueError(f"{case / MANIFEST}: no re-derivation for op {op!r}")


def expected_case_name(manifest: dict) -> str | None:
    """The folder name `sim` gives a generated case; None for a directed case (any name)."""
    if not _generated(manifest):
        return None
    op, params, seed = manifest["op"], manifest["params"], manifest["seed"]
    dist = params.get("dist", dists.UNIFORM)
    if op == "softmax_v":
        base = ref.softmax_case_name(manifest["kv_size"], seed, dists.UNIFORM)
        return base + softmax_case_suffix(manifest) + ref.softmax_case_name(
            manifest["kv_size"], seed, dist)[len(base):]
    if is_mx(manifest):
        base = ref.op_case_name(op, params["m"], params.get("k"), params.get("n"), seed,
                                dists.UNIFORM)
        return base + mx_case_suffix(manifest) + ref.op_case_name(
            op, params["m"], params.get("k"), params.get("n"), seed, dist)[len(base):]
    return ref.op_case_name(op, params["m"], params.get("k"), params.get("n"), seed, dist)


def dump_text(data, dtype: str) -> str:
    """The canonical dump text of a derived tensor (MXINT8 elements as int8 or as uint8
    codes; the other MX formats as uint8 codes)."""
    if dtype == "mxint8":
        scales, elements = data
        return dumps.mxint8_text(scales, np.asarray(elements).view(np.int8))
    if dumps.is_mx_dtype(dtype):
        return mx.lines_text(*data, dtype)
    return dumps.bf16_text(data) if dtype == "bf16" else dumps.fp32_text(data)


def first_difference(expected: str, actual: str) -> str:
    """Where two dump texts first differ: line number and both words."""
    want, got = expected.split("\n"), actual.split("\n")
    for number, (a, b) in enumerate(zip(want, got), start=1):
        if a != b:
            return f"line {number}: file {a!r}, reference {b!r}"
    return f"file has {len(want) - 1} lines, reference {len(got) - 1}"


def _compare_file(case: Path, name: str, entry: dict, derived: Derived, report: Report) -> None:
    """One listed file: its hash and flag counts in the manifest, and the file itself when the
    folder holds it."""
    text = dump_text(derived.tensors[name], entry["dtype"])
    if hashlib.sha256(text.encode()).hexdigest() != entry["sha256"]:
        report.mismatches.append(f"{name}: the reference's sha256 differs from the manifest's")
    if entry.get("flags", {}) != derived.flags.get(name, {}):
        report.mismatches.append(f"{name}: flags {entry.get('flags')} in the manifest, "
                                 f"{derived.flags.get(name)} from the reference")
    path = case / name
    if not path.exists():
        report.skipped.append(f"{name}: not in the folder (only its sha256 was compared)")
        return
    report.compared.append(name)
    if (actual := path.read_text(encoding="ascii")) != text:
        report.mismatches.append(f"{name}: {first_difference(actual, text)}")


def check_case(case: str | Path, from_inputs: bool = False) -> Report:
    """Re-derive a case folder and compare every file and flag count the manifest lists;
    `from_inputs` takes a generated case's inputs from its dumps too (as a directed case's)."""
    case = Path(case)
    manifest = dumps.read_manifest(case)
    if from_inputs:
        manifest = {key: value for key, value in manifest.items() if key != "seed"}
    report = Report(case)
    if not any((case / name).exists() for name in manifest["files"]):
        # golden/rope keeps only the hashes of its 11 MB of tables
        report.skipped.append(f"none of the {len(manifest['files'])} files the manifest lists "
                              f"is in the folder: nothing to compare")
        return report
    derived = derive(case, manifest)
    if is_softmax_mx(manifest):
        _check_softmax_mx_dtypes(manifest, report.mismatches)
    elif is_mx(manifest):
        op = manifest["op"]
        names = ref.QUANTIZE_FILES[1:] if op == "quantize" else ref.OP_FILES.get(op, ())[:2]
        _check_mx_dtypes(manifest, names, mx_formats_of(manifest), report.mismatches)
    name = expected_case_name(manifest)
    if name not in (None, manifest["case"]):
        report.mismatches.append(f"case: the manifest says {manifest['case']!r}, the naming "
                                 f"rule gives {name!r}")
    listed, computed = set(manifest["files"]), set(derived.tensors)
    if listed != computed:
        report.mismatches.append(f"files: the manifest lists {sorted(listed)}, the reference "
                                 f"computes {sorted(computed)}")
    for name in sorted(listed & computed):
        _compare_file(case, name, manifest["files"][name], derived, report)
    return report


def case_folders(root: str | Path) -> list[Path]:
    """Every folder under `root` (itself included) with a manifest.json, sorted."""
    root = Path(root)
    return sorted(path.parent for path in root.rglob(MANIFEST))
