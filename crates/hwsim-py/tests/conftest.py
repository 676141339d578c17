"""Shared fixtures of the hwsim package tests.

The package is compared with two independent sources, never with itself: scripts/reference.py
(the pure-Python reference written from docs/numerics.md) and the files the CLI writes
(target/release/sim, or $SIM).  `make test` builds the CLI and installs the package first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))

import dists  # noqa: E402  (scripts/, the independent input generator)
import dumps  # noqa: E402  (scripts/, the strict dump loader)
import reference  # noqa: E402  (scripts/, the independent reference)

SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))


def flag_bits(f: reference.Flags) -> int:
    """reference.Flags as the package's flag word (hw_types::Status::bits())."""
    return (f.inexact * 1) | (f.underflow * 2) | (f.overflow * 4) | (f.div_by_zero * 8) \
        | (f.invalid * 16)


@pytest.fixture(scope="session")
def sim():
    """Run the CLI: sim(*args) -> stdout; a failure shows its stderr."""
    if not SIM.exists():
        pytest.fail(f"{SIM} not found: cargo build --release -p sim (make test does)")

    def run(*args):
        p = subprocess.run([str(SIM), *map(str, args)], capture_output=True, text=True)
        assert p.returncode == 0, f"sim {' '.join(map(str, args))} failed:\n{p.stderr}"
        return p.stdout

    return run


def corner_bf16() -> np.ndarray:
    """Special, boundary and subnormal BF16 patterns of both signs."""
    mags = [0x0000, 0x0001, 0x0002, 0x0040, 0x007f, 0x0080, 0x0081, 0x00ff, 0x3f7f, 0x3f80,
            0x3f81, 0x3fff, 0x4040, 0x42b1, 0x42b2, 0x42b9, 0x42ba, 0x4300, 0x7f00, 0x7f7f,
            0x7f80, 0x7fc0, 0x7fa0, 0x7f81, 0x3c00, 0x2000, 0x0100]
    return np.array(mags + [m | 0x8000 for m in mags], dtype=np.uint16)


def random_bf16(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1 << 16, n, dtype=np.uint16)


def assert_dirs_identical(a: Path, b: Path) -> None:
    """Same file names and the same bytes in each, naming the first difference."""
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b, f"{a} has {names_a}, {b} has {names_b}"
    for name in names_a:
        x, y = (a / name).read_bytes(), (b / name).read_bytes()
        if x != y:
            lx, ly = x.split(b"\n"), y.split(b"\n")
            line = next((i for i, (u, v) in enumerate(zip(lx, ly)) if u != v), min(len(lx), len(ly)))
            raise AssertionError(f"{name} differs at line {line + 1}: "
                                 f"{lx[line] if line < len(lx) else b'<end>'!r} vs "
                                 f"{ly[line] if line < len(ly) else b'<end>'!r}")
