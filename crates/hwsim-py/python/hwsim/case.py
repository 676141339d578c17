"""softmax_v cases: the eight tensors of the dataset keyed by their file names, computed from
arrays, generated like `sim run`, read from and written to case folders byte for byte as the CLI
reads and writes them, with v and exp's quantization in any pair of MX block formats
(docs/numerics.md §3.7: `sim run --exp-format F --v-format G --scale-rule R`)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _native
from ._convert import (Array, FlagArray, Profile, as_bf16, bf16_bits, count, flag, path,
                       profile_name, text)
from .mx import MX_FORMATS, SCALE_RULES, MxTensor, _format

QK_T = "softmaxed_v.qk_T"
V = "softmaxed_v.v"
#: The dump files of a softmax_v case in pipeline order (the dataset's spelling).
FILES = (QK_T, "softmaxed_v.exp-bf16", "softmaxed_v.exp_sum", V, "softmaxed_v.exp_mxint8",
         "softmaxed_v.scaled_v", "softmaxed_v.inv", "softmaxed_v.out")

#: The name of exp's quantization in each MX format (softmaxed_v.exp_<F>).
EXP_FILES = {f: f"softmaxed_v.exp_{f}" for f in MX_FORMATS}

Tensor = Union[Array, MxTensor]
PathArg = Union[str, "os.PathLike[str]"]


class Case(Dict[str, Tensor]):
    """A softmax_v case: a dict from dump file name to tensor, in the dataset's logical shapes.

    BF16 tensors are ml_dtypes.bfloat16 arrays (`.view(np.uint16)` gives the bit patterns);
    `softmaxed_v.v` and exp's quantization are MxTensors, in the case's formats: exp's is named
    after its format, `softmaxed_v.exp_<F>` (`softmaxed_v.exp_mxint8` for the dataset's
    pipeline, `softmaxed_v.exp_mxfp8-e4m3`, ...), and v's `.format` is the v format.  Shapes:
    qk_T and exp-bf16 [1, H, 1, N]; exp_sum and inv [1, H, 1, 1]; v [1, H, N, D] blocked on
    axis 2; exp_<F> [1, H, 1, N] blocked on axis 3; scaled_v and out [1, H, 1, D].  The
    manifest's params record formats other than the dataset's (exp_format, v_format,
    scale_rule), as `sim run` writes them.

    Attributes:
      manifest     the manifest.json content the case is written with (its "files" are filled in
                   by write_case; a loaded case keeps those it was read with)
      flags        per computed file, the IEEE flag word of every result (uint8, the tensor's
                   shape; the block grid for exp_mxint8); empty for a loaded case
      flag_counts  per computed file, how many results raised each flag (manifest.json "flags")
    """

    def __init__(self, tensors: Mapping[str, Tensor], manifest: Dict[str, Any],
                 flags: Optional[Dict[str, FlagArray]] = None,
                 flag_counts: Optional[Dict[str, Dict[str, int]]] = None):
        super().__init__(tensors)
        self.manifest = manifest
        self.flags = dict(flags or {})
        self.flag_counts = dict(flag_counts or {})

    def copy(self) -> "Case":
        """A new Case with the same tensors (not copied, as dict.copy) and its own copies of
        manifest, flags and flag_counts."""
        return Case(self, copy.deepcopy(self.manifest), dict(self.flags),
                    copy.deepcopy(self.flag_counts))

    __copy__ = copy

    @property
    def name(self) -> str:
        """The case folder's name (kv-size-N_seed-S for a generated case)."""
        return str(self.manifest["case"])

    def __repr__(self) -> str:
        return f"Case({self.name!r}, files={list(self)})"


def _tensor(entry: _native.Entry) -> Tuple[str, Tensor]:
    name, dtype, shape, axis, data = entry
    if isinstance(data, tuple):
        scales, elements = data
        assert dtype in MX_FORMATS and axis is not None
        return name, MxTensor._trusted(scales, elements, tuple(shape), axis, dtype)
    return name, as_bf16(data, tuple(shape))


def _computed(out: _native.CaseOut) -> Case:
    manifest, entries, flags, counts = out
    tensors = dict(_tensor(e) for e in entries)

    def shaped(name: str, f: FlagArray) -> FlagArray:
        t = tensors[name]
        return f.reshape(t.grid_shape if isinstance(t, MxTensor) else t.shape)

    return Case(tensors, json.loads(manifest), {n: shaped(n, f) for n, f in flags.items()},
                json.loads(counts))


def _scale_rule(value: Any) -> str:
    rule = text(value, "scale_rule")
    if rule not in SCALE_RULES:
        raise ValueError(f"scale_rule: unknown scale rule {rule!r} (expected one of: "
                         f"{', '.join(SCALE_RULES)})")
    return rule


def _rounding(value: Any) -> Optional[str]:
    return None if value is None else text(value, "element_rounding")


def softmax_v(qk_t: npt.ArrayLike, v: MxTensor, profile: Profile = "reference",
              element_rounding: Optional[str] = None, name: Optional[str] = None,
              exp_format: str = "mxint8", scale_rule: str = "floor") -> Case:
    """All stages of softmax_v (docs/numerics.md §3) from qk_T and v.

    qk_t: BF16 (ml_dtypes.bfloat16, or uint16 bit patterns) [heads, kv] or the dataset's
    [1, heads, 1, kv].  v: an MxTensor of any MX format [heads, kv, head_dim] blocked on axis 1,
    or [1, heads, kv, head_dim] blocked on axis 2 (quantize_mxint8(x, axis=...) or
    quantize_mx(x, format, axis=...) makes one); its .format is the v format.
    profile: "reference", "narrow" or a JSON hardware description's path.
    exp_format: the MX format exp is quantized to along kv (one of MX_FORMATS); scale_rule: the
    quantizer's scale rule (one of SCALE_RULES); element_rounding: the quantizer's element
    rounding, "nearest-away" or "nearest-even" (None: the format's default, nearest-away for
    mxint8 and nearest-even for the others).  With mxint8 exp and v and the rule floor this is
    the dataset's pipeline; any other choice is `sim run --exp-format F --v-format G
    --scale-rule R`, whose gevm sums exactly, and a profile whose MAC accumulator is not exact
    (narrow) raises ValueError for it.  name: the case name in the manifest (default
    kv-size-N_inputs).  Returns a Case (a dict keyed by the dataset file names, exp's
    quantization as softmaxed_v.exp_<F>, in the dataset's 4-D shapes).
    """
    bits, _ = bf16_bits(qk_t, "qk_t")
    if bits.ndim == 2:
        heads, kv = bits.shape
    elif bits.ndim == 4 and bits.shape[0] == 1 and bits.shape[2] == 1:
        heads, kv = bits.shape[1], bits.shape[3]
    else:
        raise ValueError(f"qk_t: shape {bits.shape} is neither [heads, kv] nor [1, heads, 1, kv]")
    if not isinstance(v, MxTensor):
        raise TypeError(f"v: expected an hwsim.MxTensor, got {type(v).__name__} "
                        "(hwsim.quantize_mxint8(x, axis=...) makes one)")
    v = v._checked("v")
    exp_format, scale_rule = _format(exp_format, "exp_format").name, _scale_rule(scale_rule)
    profile, element_rounding = profile_name(profile), _rounding(element_rounding)
    if name is not None:
        name = text(name, "name")
    if len(v.shape) == 3 and v.axis == 1:
        vh, vkv, head_dim = v.shape
    elif len(v.shape) == 4 and v.shape[0] == 1 and v.axis == 2:
        _, vh, vkv, head_dim = v.shape
    else:
        raise ValueError(f"v: shape {v.shape} blocked on axis {v.axis}; expected [heads, kv, "
                         "head_dim] blocked on axis 1 or [1, heads, kv, head_dim] on axis 2")
    if (vh, vkv) != (heads, kv):
        raise ValueError(f"v: shape {v.shape} does not fit qk_t {bits.shape}: v has {vh} heads "
                         f"and kv {vkv}, qk_t {heads} heads and kv {kv}")
    name = f"kv-size-{kv}_inputs" if name is None else name
    return _computed(_native.softmax_v(
        bits.reshape(-1), v.scales.reshape(-1), v.elements.reshape(-1), heads, kv, head_dim,
        profile, element_rounding, name, exp_format, v.format, scale_rule))


def run_case(kv_size: int, seed: int, heads: int = 32, head_dim: int = 128,
             profile: Profile = "reference", element_rounding: Optional[str] = None,
             exp_format: str = "mxint8", v_format: str = "mxint8",
             scale_rule: str = "floor") -> Case:
    """The generated case kv-size-N_seed-S: the same tensors, flags and manifest as
    `sim run --kv-size N --seed S` (write_case writes its folder byte for byte).

    exp_format, v_format (MX_FORMATS), scale_rule (SCALE_RULES) and element_rounding
    ("nearest-away" or "nearest-even"; None: each format's default, nearest-away for mxint8,
    nearest-even for the others) are `sim run`'s --exp-format, --v-format, --scale-rule and
    --element-rounding: v is drawn from the same reals and quantized to v_format, exp to
    exp_format, and the case is named kv-size-N_seed-S_<F>_<G>[_rule-<R>] unless the formats
    are the dataset's (mxint8, mxint8, floor).  Formats other than the dataset's sum the gevm
    exactly: a profile whose MAC accumulator is not exact (narrow) raises ValueError for them.
    """
    return _computed(_native.run_case(
        count(kv_size, "kv_size"), count(seed, "seed", minimum=0), count(heads, "heads"),
        count(head_dim, "head_dim"), profile_name(profile), _rounding(element_rounding),
        _format(exp_format, "exp_format").name, _format(v_format, "v_format").name,
        _scale_rule(scale_rule)))


def load_case(folder: PathArg, heads: int = 32, head_dim: int = 128,
              verify: bool = False) -> Case:
    """Read a softmax_v case folder with the CLI's readers.

    Accepts what `sim run --inputs` accepts: the canonical dumps and the `$readmemh` variants of
    docs/dump-format.md (comments, @addr lines, CRLF, uppercase); a folder with only
    softmaxed_v.qk_T and softmaxed_v.v and no manifest.json (then heads and head_dim give the
    shapes and the manifest is the one `sim run --inputs` would write).  Other stage files are
    read when present.  verify=True also checks every file against the SHA-256 in manifest.json.
    Malformed files raise ValueError naming the file and line; a case file that is not a regular
    file (a FIFO, a device, a folder) is refused from its metadata, never opened; sizes that
    cannot be allocated raise MemoryError before anything is read.
    """
    folder = path(folder, "folder")
    verify = flag(verify, "verify")
    manifest_text, entries = _native.load_case(folder, count(heads, "heads"),
                                               count(head_dim, "head_dim"))
    manifest = json.loads(manifest_text)
    tensors = dict(_tensor(e) for e in entries)
    files = manifest.get("files", {})
    if verify:
        for name in tensors:
            recorded = files.get(name, {}).get("sha256")
            if recorded is None:
                raise ValueError(f"{Path(folder) / name}: not listed in manifest.json")
            digest = hashlib.sha256((Path(folder) / name).read_bytes()).hexdigest()
            if digest != recorded:
                raise ValueError(f"{Path(folder) / name}: sha256 {digest} differs from "
                                 f"manifest.json's {recorded}")
    counts = {name: e["flags"] for name, e in files.items() if "flags" in e}
    return Case(tensors, manifest, flag_counts=counts)


def _entry(name: str, t: Any) -> _native.Entry:
    if isinstance(t, MxTensor):
        t = t._checked(f"case[{name!r}]")
        return (name, t.format, list(t.shape), t.axis,
                (t.scales.reshape(-1), t.elements.reshape(-1)))
    bits, _ = bf16_bits(t, f"case[{name!r}]")
    return (name, "bf16", list(bits.shape), None, bits.reshape(-1))


def write_case(case: Mapping[str, Tensor], out: PathArg, replace: bool = False) -> Path:
    """Write a case into out/<case name>/ exactly as `sim run --out OUT` writes it: the dumps
    present (in pipeline order) and manifest.json with their line counts, SHA-256 and flag
    counts.  Returns the case folder.

    The folder appears atomically: the files go into a hidden temporary folder unique to the
    call, which is renamed into place; an existing case folder is moved aside just before and
    removed after.  Several threads or processes writing one case name end with one complete
    folder, the last writer's.  Everything that can be checked is checked before anything is
    written, and on an error nothing is: a wrong tensor or manifest (ValueError), a case name
    taken by a file (FileExistsError), an existing case folder holding files other than the
    case's own dumps and manifest.json (FileExistsError naming them; replace=True replaces the
    folder, and those files, anyway), a folder whose files cannot be removed (PermissionError),
    sizes that cannot be allocated (MemoryError).  Should the replaced folder, once moved aside,
    resist removal after all, the new case is in place and a RuntimeWarning names the hidden
    `.CASE.old-` folder left behind.

    A Case brings its manifest and flag counts (its params name the formats of v and of
    softmaxed_v.exp_<F>, which the tensors must have); a plain dict of tensors is written with
    the manifest `sim run --inputs` would write for a folder named kv-size-N_inputs (no flag
    counts), with the v format of its softmaxed_v.v, the exp format of the softmaxed_v.exp_<F>
    it holds (mxint8 without one) and the scale rule floor.
    """
    if not isinstance(case, Mapping):
        raise TypeError(f"case: expected a Case or a dict of tensors, got {type(case).__name__}")
    out = path(out, "out")
    replace = flag(replace, "replace")
    entries = [_entry(text(name, "case key"), t) for name, t in case.items()]
    if isinstance(case, Case):
        manifest, counts = case.manifest, case.flag_counts
    else:
        qk = {e[0]: e for e in entries}.get(QK_T)
        v = case.get(V)
        if qk is None or not isinstance(v, MxTensor) or len(qk[2]) != 4 or len(v.shape) != 4:
            raise ValueError(f"case: a softmax_v case needs '{QK_T}' [1, H, 1, N] and '{V}' "
                             "(an MxTensor [1, H, N, D])")
        kv, heads, head_dim = qk[2][3], qk[2][1], v.shape[3]
        exp_format = next((f for f, n in EXP_FILES.items() if n in case), "mxint8")
        manifest = json.loads(_native.softmax_manifest(
            f"kv-size-{kv}_inputs", kv, None, heads, head_dim, None, "reference", exp_format,
            v._checked(f"case[{V!r}]").format, "floor"))
        counts = {}
    try:
        manifest_json, counts_json = json.dumps(manifest), json.dumps(counts)
    except (TypeError, ValueError) as e:
        raise ValueError(f"case.manifest: cannot be written as JSON: {e}") from None
    _check_removable(out, manifest)
    folder, notes = _native.write_case(out, manifest_json, counts_json, entries, replace)
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    return folder


def _check_removable(out: str, manifest: Any) -> None:
    """PermissionError, before anything is written, when an existing case folder's files could
    not be removed once the new folder had replaced it."""
    name = manifest.get("case") if isinstance(manifest, dict) else None
    if not isinstance(name, str) or not name or "/" in name or "\0" in name:
        return                                     # the native checks refuse it with a message
    target = os.path.join(out, name)
    kwargs = {"effective_ids": True} if os.access in os.supports_effective_ids else {}

    def denied() -> bool:
        # os.access is also False for a folder that has just gone (another writer of the case
        # moved it aside): only a folder that is there and denied counts.
        return (os.path.isdir(target) and not os.path.islink(target)
                and not os.access(target, os.W_OK | os.X_OK, **kwargs))

    if denied() and denied():
        raise PermissionError(f"{target}: its files cannot be removed (no write permission on "
                              "the folder), so it cannot be replaced")
