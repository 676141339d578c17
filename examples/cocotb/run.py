#!/usr/bin/env python3
"""Run the cocotb testbenches (Icarus Verilog) on the good RTL units and on deliberately broken
copies: the good ones must pass and the broken ones must fail.  `make cocotb-test` runs this.

  bf16_mul_rne    examples/rtl/bf16_mul_rne.v; broken: ties rounded away from zero instead of to
                  even (only the tie stimuli catch it)
  bf16_exp_rom    examples/rtl/bf16_exp_rom.v with the ROM of `sim export-lut --unit exp`;
                  broken: a ROM whose subnormal results are flushed to zero

Prints one line per run and `cocotb: N passed, N failed`; exit status 0 only if every run went
as expected.  A missing tool is a failure naming its install command; SIM_SKIP=cocotb (a
comma-separated list) skips the testbench with a SKIPPED line.  With CI=true and root, a missing
iverilog is installed with apt-get.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RTL = ROOT / "examples" / "rtl"
SIM = Path(os.environ.get("SIM", ROOT / "target" / "release" / "sim"))
COCOTB_PIN = "cocotb==2.1.0"


def fail(msg: str) -> None:
    print(f"cocotb: FAILED: {msg}")
    sys.exit(1)


def ensure_iverilog() -> None:
    if shutil.which("iverilog") and shutil.which("vvp"):
        return
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        print("cocotb: iverilog not installed; CI=true, installing it (apt-get install -y iverilog)")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "iverilog"], check=False)
        if shutil.which("iverilog") and shutil.which("vvp"):
            return
    fail("iverilog not found: apt-get install -y iverilog (or SIM_SKIP=cocotb to skip)")


def broken_copy(src: Path, dst: Path, old: str, new: str) -> Path:
    """A copy of an RTL source with one line changed (the change must apply exactly once)."""
    text = src.read_text()
    if text.count(old) != 1:
        fail(f"{src}: cannot derive the broken copy ({old!r} found {text.count(old)} times)")
    dst.write_text(text.replace(old, new))
    return dst


def main() -> int:
    if "cocotb" in os.environ.get("SIM_SKIP", "").split(","):
        print("cocotb: SKIPPED (SIM_SKIP contains cocotb)")
        return 0
    ensure_iverilog()
    try:
        from cocotb_tools.runner import get_results, get_runner
    except ImportError:
        fail(f"cocotb is not installed in {sys.executable}: pip install {COCOTB_PIN} (make venv)")
    try:
        import hwsim  # noqa: F401  (the scoreboards import it inside the simulator)
    except ImportError:
        fail(f"hwsim is not installed in {sys.executable}: pip install ./crates/hwsim-py "
             "(make py-package)")
    if not SIM.exists():
        fail(f"{SIM} not found: cargo build --release -p sim (needed for sim export-lut)")

    work = Path(tempfile.mkdtemp(prefix="cocotb."))
    rom_dir = work / "rom"
    subprocess.run([str(SIM), "export-lut", "--unit", "exp", "--out", str(rom_dir)], check=True,
                   stdout=subprocess.DEVNULL)
    rom = (rom_dir / "exp_lut.hex").read_text().split("\n")
    # Flush-to-zero bug: every subnormal result (0x0001..0x007f) replaced by +0.
    ftz = [w if not 0 < int(w, 16) < 0x80 else "0000" for w in rom[:-1]]
    assert ftz != rom[:-1], "the exp ROM has subnormal entries to break"
    (rom_dir / "exp_lut_ftz.hex").write_text("\n".join(ftz) + "\n")

    ties_away = broken_copy(RTL / "bf16_mul_rne.v", work / "bf16_mul_ties_away.v",
                            "wire        inc    = guard & (sticky | sig[0]);",
                            "wire        inc    = guard;")
    runs = [  # name, toplevel, source, test module, ROM file, must pass
        ("bf16_mul_rne", "bf16_mul_rne", RTL / "bf16_mul_rne.v", "tb_bf16_mul", None, True),
        ("bf16_mul_rne broken (ties away)", "bf16_mul_rne", ties_away, "tb_bf16_mul", None,
         False),
        ("bf16_exp_rom", "bf16_exp_rom", RTL / "bf16_exp_rom.v", "tb_bf16_exp_rom",
         rom_dir / "exp_lut.hex", True),
        ("bf16_exp_rom broken (subnormals flushed)", "bf16_exp_rom", RTL / "bf16_exp_rom.v",
         "tb_bf16_exp_rom", rom_dir / "exp_lut_ftz.hex", False),
    ]
    runner = get_runner("icarus")
    passed = failed = 0
    for i, (name, top, source, module, rom_file, must_pass) in enumerate(runs):
        build = work / f"run{i}"
        runner.build(sources=[source], hdl_toplevel=top, build_dir=build, always=True,
                     timescale=("1ns", "1ps"), log_file=build / "build.log")
        if rom_file is not None:                  # $readmemh("exp_lut.hex") reads the run folder
            shutil.copy(rom_file, build / "exp_lut.hex")
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(HERE),
                                                            os.environ.get("PYTHONPATH")]))}
        xml = runner.test(test_module=module, hdl_toplevel=top, build_dir=build, test_dir=build,
                          extra_env=env, log_file=build / "sim.log")
        tests, failures = get_results(xml)
        log = (build / "sim.log").read_text(errors="replace").splitlines()
        # A broken unit must fail by a scoreboard mismatch, not by a crash of the testbench.
        mismatch = any("DUT y =" in line for line in log)
        ok = tests > 0 and ((failures == 0 and not mismatch) if must_pass else mismatch)
        passed += ok
        failed += not ok
        verdict = "passed" if failures == 0 else "failed"
        expectation = "as expected" if ok else "UNEXPECTEDLY"
        print(f"  {'ok  ' if ok else 'FAIL'}  {name}: {verdict} {expectation}")
        for line in [line for line in log if "transactions" in line
                     or "AssertionError" in line][:1]:
            print(f"        {line.strip()[:160]}")
        if not ok:
            print(f"        log: {build / 'sim.log'}")
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cocotb: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
