"""Hostile use of the package (issue 24): concurrent writers of one case, folders in the way,
special files, sizes that overflow or cannot be allocated, forced panics, wrong types.  Each
call either works or raises an Exception subclass with a message naming what is wrong; nothing
hangs, nothing aborts the process, nothing is left half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import hwsim
from hwsim import _native

QK, V = "softmaxed_v.qk_T", "softmaxed_v.v"


@pytest.fixture(scope="module")
def small():
    return hwsim.run_case(40, 1, heads=2, head_dim=8)


def same_case(a: hwsim.Case, b: hwsim.Case) -> bool:
    """Same file names and the same bits in each tensor."""
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, hwsim.MxTensor):
            if x != y:
                return False
        elif not np.array_equal(x.view(np.uint16), y.view(np.uint16)):
            return False
    return True


def mx(shape, axis):
    """A zero MxTensor of any shape (empty arrays when an axis is 0, however large the rest)."""
    grid = list(shape)
    grid[axis] = -(-grid[axis] // 32)
    return hwsim.MxTensor(np.zeros(grid, np.uint8), np.zeros(grid + [32], np.int8), shape, axis)


# --- write_case: concurrency, things in the way, nothing written on an error -----------------

def test_concurrent_writers_of_one_case_name_leave_one_complete_folder(tmp_path):
    """4 threads x 50 trials, each thread writing different data under one case name into one
    folder: every trial ends with a folder that load_case(verify=True) accepts, equal to one of
    the writers' cases, and nothing else (no hidden temporary or moved-aside folder)."""
    writers = []
    for seed in range(4):
        c = hwsim.run_case(40, seed, heads=2, head_dim=8)
        c.manifest["case"] = "shared"
        writers.append(c)
    out = tmp_path / "out"
    for trial in range(50):
        barrier = threading.Barrier(len(writers))
        errors = []

        def write(case):
            barrier.wait()
            try:
                hwsim.write_case(case, out)
            except Exception as e:      # noqa: BLE001 (any error fails the test below)
                errors.append(e)

        threads = [threading.Thread(target=write, args=(c,)) for c in writers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"trial {trial}: {errors}"
        assert os.listdir(out) == ["shared"], f"trial {trial}: {os.listdir(out)}"
        back = hwsim.load_case(out / "shared", verify=True)
        assert sum(same_case(back, w) for w in writers) == 1, f"trial {trial}: a mixed folder"


def test_concurrent_writers_of_identical_content(small, tmp_path):
    threads = []
    errors = []

    def write():
        try:
            hwsim.write_case(small, tmp_path)
        except Exception as e:          # noqa: BLE001
            errors.append(e)

    for _ in range(8):
        threads.append(threading.Thread(target=write))
        threads[-1].start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == [small.name]
    assert same_case(hwsim.load_case(tmp_path / small.name, verify=True), small)


def listing(d: Path):
    return sorted(os.listdir(d))


def test_a_file_in_the_case_place_is_refused_and_nothing_is_written(small, tmp_path):
    (tmp_path / small.name).write_text("mine")
    with pytest.raises(FileExistsError, match=f"{small.name} is a file, not a case folder"):
        hwsim.write_case(small, tmp_path)
    assert listing(tmp_path) == [small.name]             # no hidden .tmp- or .old- folder
    assert (tmp_path / small.name).read_text() == "mine"
    with pytest.raises(FileExistsError):
        hwsim.write_case(small, tmp_path, replace=True)   # replace= is for folders only
    assert listing(tmp_path) == [small.name]


def test_output_folders_are_not_created_for_a_refused_case(small, tmp_path):
    lying = hwsim.Case(small, dict(small.manifest, kv_size=41))
    with pytest.raises(ValueError):
        hwsim.write_case(lying, tmp_path / "a" / "b")
    assert listing(tmp_path) == []


def test_foreign_files_in_the_case_folder_are_kept_unless_replace(small, tmp_path):
    folder = hwsim.write_case(small, tmp_path)
    (folder / "notes.txt").write_text("my notes")
    (folder / "waves").mkdir()
    other = hwsim.run_case(40, 2, heads=2, head_dim=8)
    other.manifest["case"] = small.name
    with pytest.raises(FileExistsError, match=r"2 entries that are not the case's own "
                                              r"\(notes.txt, waves/\).*replace=True"):
        hwsim.write_case(other, tmp_path)
    assert listing(tmp_path) == [small.name]
    assert (folder / "notes.txt").read_text() == "my notes"
    assert same_case(hwsim.load_case(folder, verify=True), small)
    # The case's own files (any of the eight dumps, their .bin forms) are no obstacle.
    (folder / "notes.txt").unlink()
    (folder / "waves").rmdir()
    (folder / "softmaxed_v.out.bin").write_bytes(b"\0\0")
    hwsim.write_case(other, tmp_path)
    assert same_case(hwsim.load_case(folder, verify=True), other)
    (folder / "notes.txt").write_text("my notes")
    assert hwsim.write_case(small, tmp_path, replace=True) == folder
    assert same_case(hwsim.load_case(folder, verify=True), small)
    assert "notes.txt" not in os.listdir(folder)
    assert listing(tmp_path) == [small.name]


def test_an_unremovable_folder_is_refused_before_anything_is_written(small, tmp_path,
                                                                     monkeypatch):
    """As root every folder is removable, so the check is also shown with os.access denying."""
    folder = hwsim.write_case(small, tmp_path)
    other = hwsim.run_case(40, 2, heads=2, head_dim=8)
    other.manifest["case"] = small.name
    monkeypatch.setattr(hwsim.case.os, "access", lambda *a, **k: False)
    with pytest.raises(PermissionError, match="cannot be replaced"):
        hwsim.write_case(other, tmp_path)
    assert listing(tmp_path) == [small.name]
    assert same_case(hwsim.load_case(folder, verify=True), small)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root may remove files from any folder")
def test_a_folder_whose_files_cannot_be_removed_is_refused_first(small, tmp_path):
    folder = hwsim.write_case(small, tmp_path)
    folder.chmod(0o500)
    try:
        other = hwsim.run_case(40, 2, heads=2, head_dim=8)
        other.manifest["case"] = small.name
        with pytest.raises(PermissionError, match="cannot be replaced"):
            hwsim.write_case(other, tmp_path)
        assert listing(tmp_path) == [small.name]
        assert same_case(hwsim.load_case(folder, verify=True), small)
    finally:
        folder.chmod(0o700)


# --- panics, overflowing sizes, memory ---------------------------------------------------------

@pytest.mark.parametrize("in_worker", [False, True])
def test_a_panic_reaches_python_as_a_runtime_error(in_worker):
    """_native._force_panic is a test-only hook: it panics on the calling thread, or in a rayon
    task with the GIL released; the boundary's catch_unwind must turn either into an Exception."""
    with pytest.raises(RuntimeError, match="hwsim internal error.*: forced for the test") as e:
        _native._force_panic("forced for the test", in_worker)
    assert isinstance(e.value, Exception)
    assert hwsim.exp_bf16(np.uint16(0x3F80)) == 0x402E          # and the module still works


def test_sizes_that_used_to_panic_are_value_errors(small, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in (QK, V):                                     # no manifest: heads/head_dim apply
        (folder / name).write_bytes((hwsim.write_case(small, tmp_path) / name).read_bytes())
    with pytest.raises(ValueError, match="softmaxed_v.v of shape .* would have more than"):
        hwsim.load_case(folder, heads=2, head_dim=2**63 + 1)
    with pytest.raises(ValueError, match="gemm's output: shape .* is too big"):
        hwsim.gemm(mx((2**32, 0), 1), mx((0, 2**32), 0))
    v = hwsim.MxTensor(small[V].scales, small[V].elements, small[V].shape, small[V].axis)
    v.shape = (1, 2, 40, 2**63)
    with pytest.raises(ValueError, match="v: scales: shape .* has the block grid"):
        hwsim.softmax_v(small[QK], v)
    v.shape = (1, 2, 40, 9)
    with pytest.raises(ValueError, match="v: scales: shape"):
        hwsim.softmax_v(small[QK], v)
    with pytest.raises(ValueError, match="case\\['softmaxed_v.v'\\]: scales: shape"):
        hwsim.write_case(dict(small, **{V: v}), tmp_path / "w")
    v.axis = "2"
    with pytest.raises(TypeError, match="v: axis: expected an integer, got str"):
        hwsim.softmax_v(small[QK], v)


def test_overflowing_config_widths_are_refused_naming_the_field(tmp_path):
    for unit, key in (("reduce", "kind"), ("mac", "accumulator")):
        cfg = hwsim.hw_config("reference")
        cfg[unit][key] = {"type": "fixed", "int_bits": 2, "frac_bits": 4294967294,
                          "overflow": "saturate"}
        path = tmp_path / f"{unit}.json"
        path.write_text(json.dumps(cfg))
        with pytest.raises(ValueError, match=f"profile: .*{unit}.json: {unit}.{key}.frac_bits"):
            hwsim.exp_bf16(np.uint16(0), profile=path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_as_profiles_fail_at_once(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path, what in ((fifo, "FIFO"), ("/dev/zero", "character device"),
                       (tmp_path, "directory")):
        if not os.path.exists(path):
            continue
        with pytest.raises(ValueError, match=f"profile: .*is a {what}"):
            hwsim.hw_config(path)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * ((1 << 20) + 1))
    with pytest.raises(ValueError, match="profile: .*over the 1048576-byte limit"):
        hwsim.hw_config(big)


def test_sizes_that_cannot_be_allocated_are_memory_errors():
    a = hwsim.quantize_mxint8(np.ones((131072, 1), np.float32), axis=1)
    b = hwsim.quantize_mxint8(np.ones((1, 131072), np.float32), axis=0)
    with pytest.raises(MemoryError, match="cannot allocate .* for gemm with m = 131072"):
        hwsim.gemm(a, b)                      # 4.3 MB of operands, a 2^34-element output
    with pytest.raises(MemoryError, match="gemm with m = 1073741824, k = 0"):
        hwsim.gemm(mx((2**30, 0), 1), mx((0, 2**30), 0))
    with pytest.raises(MemoryError, match="gevm with m = 0, k = 1099511627776"):
        hwsim.gevm(mx((0,), 0), mx((0, 2**40), 0))
    # k = 0 of a size that fits: the empty sums, exactly zero.
    assert not hwsim.gemm(mx((3, 0), 1), mx((0, 2), 0)).astype(np.float32).any()


CHILD = r"""
import resource, sys
import numpy as np
import hwsim
limit = 450 << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for what, call in (
    ("run_case", lambda: hwsim.run_case(65536, 0, heads=32, head_dim=128)),
    ("softmax_v", lambda: hwsim.softmax_v(
        np.zeros((32, 65536), np.uint16),
        hwsim.MxTensor(np.zeros((32, 2048, 128), np.uint8),
                       np.zeros((32, 2048, 128, 32), np.int8), (32, 65536, 128), 1))),
):
    try:
        call()
        print(what, "computed")
    except MemoryError as e:
        print(what, "MemoryError", e)
print("alive", hwsim.run_case(4, 0, heads=2, head_dim=8).name)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")
def test_softmax_v_under_an_address_space_limit_raises_memory_error_and_lives_on():
    """softmax_v of kv 65536 (32 heads, head_dim 128) under a 450 MB address-space limit, in a
    child process: MemoryError with the size, then the process goes on computing."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("run_case MemoryError cannot allocate "), p.stdout
    assert "for run_case of 32 heads, kv 65536, head_dim 128" in lines[0]
    assert lines[1].startswith("softmax_v MemoryError cannot allocate "), p.stdout
    assert lines[2] == "alive kv-size-4_seed-0", p.stdout


# --- special files in a case folder ------------------------------------------------------------

FIFO_CHILD = r"""
import sys, hwsim
try:
    hwsim.load_case(sys.argv[1], heads=2, head_dim=8)
    print("loaded")
except Exception as e:
    print(type(e).__name__, e)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", [QK, V, "softmaxed_v.exp_sum", "manifest.json"])
def test_a_fifo_in_place_of_a_case_file_is_refused_without_hanging(small, tmp_path, name):
    folder = hwsim.write_case(small, tmp_path)
    (folder / name).unlink()
    os.mkfifo(folder / name)
    # In a child process, so that a hang fails the test (timeout) instead of hanging it.
    p = subprocess.run([sys.executable, "-c", FIFO_CHILD, str(folder)], capture_output=True,
                       text=True, timeout=60)
    assert p.stdout.strip() == f"ValueError {folder / name}: is a FIFO, not a regular file", \
        p.stdout + p.stderr


# --- the smaller items -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [">f4", ">f2", ">u2", "<f4", "<u2"])
def test_byte_swapped_arrays_quantize_as_native_ones(dtype):
    x = np.random.default_rng(0).normal(0, 3, (3, 70)).astype(np.float32)
    native = x.astype(dtype[1:]) if dtype[1] != "u" else x.astype(ml_dtypes.bfloat16).view(
        np.uint16)
    swapped = native.astype(native.dtype.newbyteorder(dtype[0]))
    assert swapped.dtype.str.startswith(dtype[0]) or swapped.dtype.isnative
    assert hwsim.quantize_mxint8(swapped) == hwsim.quantize_mxint8(native)
    if dtype[1] == "u":
        np.testing.assert_array_equal(hwsim.exp_bf16(swapped), hwsim.exp_bf16(native))


def test_dequantize_is_exact_for_every_mxint8_value():
    t = hwsim.MxTensor(np.array([0xFE, 0x00], np.uint8),
                       np.array([[-128, 127] + [0] * 30, [1] + [0] * 31], np.int8), (64,), 0)
    values = t.dequantize()
    assert values.dtype == np.float64
    assert values[0] == -(2.0 ** 128) and values[1] == 127 * 2.0 ** 121
    assert values[32] == 2.0 ** -133
    with pytest.raises(ValueError, match="-2\\^128.*no float32"):
        t.dequantize(np.float32)
    t.elements[0, 0] = -127
    assert t.dequantize(np.float32)[0] == np.float32(-127 * 2.0 ** 121)
    with pytest.raises(ValueError, match="dtype"):
        t.dequantize(np.float16)


def test_a_shape_is_a_sequence_of_ints():
    s, e = np.zeros(2, np.uint8), np.zeros((2, 32), np.int8)
    with pytest.raises(TypeError, match="shape: expected a sequence of ints, found 40.9"):
        hwsim.MxTensor(s, e, (40.9,), 0)
    with pytest.raises(TypeError, match="shape: expected a sequence of ints, got str"):
        hwsim.MxTensor(s, e, "40", 0)
    with pytest.raises(TypeError, match="shape: expected a sequence of ints, got int"):
        hwsim.MxTensor(s, e, 40, 0)
    with pytest.raises(TypeError, match="shape: .*found True"):
        hwsim.MxTensor(s, e, [True], 0)
    with pytest.raises(ValueError, match="shape: .*negative"):
        hwsim.MxTensor(s, e, (-40,), 0)
    with pytest.raises(TypeError, match="axis: expected an integer, got float"):
        hwsim.MxTensor(s, e, (40,), 0.0)
    assert hwsim.MxTensor(s, e, np.array([40]), 0) == hwsim.MxTensor(s, e, [np.int64(40)], 0)


def test_case_copy_keeps_the_manifest_and_flags(small):
    c = small.copy()
    assert isinstance(c, hwsim.Case) and c.name == small.name
    assert c.manifest == small.manifest and c.flag_counts == small.flag_counts
    assert set(c.flags) == set(small.flags)
    c.manifest["case"] = "renamed"
    assert small.name == "kv-size-40_seed-1"
    import copy
    assert copy.copy(small).manifest == small.manifest


ARRAY = np.zeros(4, np.uint16)


@pytest.mark.parametrize("call, error, match", [
    (lambda s: hwsim.exp_bf16(ARRAY, profile=3), TypeError, "profile: expected"),
    (lambda s: hwsim.exp_bf16(ARRAY, flags="False"), TypeError, "flags: expected True or False"),
    (lambda s: hwsim.exp_bf16(ARRAY, flags=2), ValueError, "flags: expected True or False"),
    (lambda s: hwsim.exp_bf16(object()), TypeError, "x: expected an array of numbers"),
    (lambda s: hwsim.recip_bf16(ARRAY, profile="\ud800"), ValueError, "profile: .*cannot be"),
    (lambda s: hwsim.mul_bf16(ARRAY, [[1, 2], [3]]), TypeError, "b: expected an array"),
    (lambda s: hwsim.quantize_mxint8(np.zeros(4, np.float32), axis="0"), TypeError, "axis:"),
    (lambda s: hwsim.quantize_mxint8(np.zeros(4, np.float32), rounding=1), TypeError,
     "rounding: expected a str"),
    (lambda s: hwsim.quantize_mxint8(np.zeros(4, np.float32), rounding="\udc80"), ValueError,
     "rounding: .*lone surrogate"),
    (lambda s: hwsim.dot(3, s[V]), TypeError, "a: expected an hwsim.MxTensor"),
    (lambda s: hwsim.gemm(mx((2, 32), 1), mx((32, 2), 0), out_dtype=None), TypeError,
     "out_dtype: expected a str"),
    (lambda s: hwsim.softmax_v(s[QK], s[V], name=5), TypeError, "name: expected a str"),
    (lambda s: hwsim.softmax_v(s[QK], s[V], element_rounding=b"x"), TypeError,
     "element_rounding: expected a str"),
    (lambda s: hwsim.run_case("4", 0), TypeError, "kv_size: expected an integer, got str"),
    (lambda s: hwsim.load_case(3), TypeError, "folder: expected a path"),
    (lambda s: hwsim.load_case("x\0y"), ValueError, "folder: .*NUL"),
    (lambda s: hwsim.load_case(".", verify="yes"), TypeError, "verify: expected True or False"),
    (lambda s: hwsim.write_case([1], "out"), TypeError, "case: expected a Case"),
    (lambda s: hwsim.write_case(s, 3), TypeError, "out: expected a path"),
    (lambda s: hwsim.write_case(s, "out", replace="no"), TypeError, "replace: expected True"),
    (lambda s: hwsim.write_case({1: s[QK]}, "out"), TypeError, "case key: expected a str"),
    (lambda s: hwsim.hw_config(None), TypeError, "profile: expected"),
])
def test_wrong_types_raise_type_error_naming_the_argument(small, call, error, match, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=match):
        call(small)
    assert os.listdir(tmp_path) == []
