"""cocotb testbench of examples/rtl/bf16_mul_rne.v: every transaction is scoreboarded against
hwsim.mul_bf16, the golden model in-process (the same Rust core as the sim CLI).

The multiplier is combinational: drive a and b, let the inputs settle, read y."""

from __future__ import annotations

import os

import cocotb
from cocotb.triggers import Timer

import hwsim
from stimuli import multiplier_stimuli


@cocotb.test()
async def multiplier_matches_hwsim(dut):
    seed = int(os.environ.get("TB_SEED", "1"))
    pairs = multiplier_stimuli(seed, n_random=int(os.environ.get("TB_RANDOM", "4000")),
                               n_ties=int(os.environ.get("TB_TIES", "1500")))
    for i, (a, b) in enumerate(pairs):
        dut.a.value = a
        dut.b.value = b
        await Timer(1, unit="ns")
        got = dut.y.value.to_unsigned()
        want, flags = hwsim.mul_bf16(a, b, flags=True)
        assert got == int(want), (
            f"transaction {i}: {a:#06x} * {b:#06x}: DUT y = {got:#06x}, hwsim {int(want):#06x} "
            f"(flags {int(flags):#04x})")
    dut._log.info("%d transactions, every one equal to hwsim.mul_bf16", len(pairs))
