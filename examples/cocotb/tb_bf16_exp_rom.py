"""cocotb testbench of examples/rtl/bf16_exp_rom.v (its ROM is `sim export-lut --unit exp`):
a driver streams x with random bubbles, a monitor checks every valid y against hwsim.exp_bf16,
computed in-process when the transaction went in (a scoreboard queue absorbs the latency)."""

from __future__ import annotations

import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

import hwsim
from stimuli import exp_stimuli


@cocotb.test()
async def exp_rom_matches_hwsim(dut):
    seed = int(os.environ.get("TB_SEED", "1"))
    xs = exp_stimuli(seed, n_random=int(os.environ.get("TB_RANDOM", "3000")))
    rng = random.Random(seed)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.valid_in.value = 0
    dut.x.value = 0
    expected = deque()
    checked = 0

    async def monitor():
        nonlocal checked
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if dut.valid_out.value == 1:
                assert expected, "valid_out without a transaction in flight"
                x, want = expected.popleft()
                got = dut.y.value.to_unsigned()
                assert got == want, f"exp({x:#06x}): DUT y = {got:#06x}, hwsim {want:#06x}"
                checked += 1

    cocotb.start_soon(monitor())
    await FallingEdge(dut.clk)
    for x in xs:
        while rng.random() < 0.2:                         # a bubble: valid_in low for a cycle
            dut.valid_in.value = 0
            await FallingEdge(dut.clk)
        dut.valid_in.value = 1
        dut.x.value = x
        expected.append((x, int(hwsim.exp_bf16(x))))
        await FallingEdge(dut.clk)
    dut.valid_in.value = 0
    for _ in range(4):                                     # drain the pipeline
        await FallingEdge(dut.clk)
    assert not expected, f"{len(expected)} transactions never came out"
    assert checked == len(xs)
    dut._log.info("%d transactions, every one equal to hwsim.exp_bf16", checked)
