#!/usr/bin/env python3
"""`make bench`: one table of end-to-end and per-stage figures, measured side by side in one run,
next to this machine's ceilings and the targets of docs/performance.md.

End-to-end rows time whole commands (best of a few runs) and read each child's peak RSS with
GNU time; per-stage rows come from the criterion benchmarks in crates/sim/benches (their median
throughput); the hwsim rows time the Python package in this process next to its Rust work alone
(crates/hwsim-py/benches). Ceilings are measured here too: disk write bandwidth (fsync'd), memory copy
bandwidth (numpy), and the int8 multiply rate of all cores, the fastest of the criterion probes
(multiplies per second, no clock factor; see `int8_peak`). The numpy-anchor row times `sim run` next to
scripts/bench_numpy.py (softmax_v emulated in vectorised numpy, the same eight dumps) as whole
processes in alternation, best of 5 each (see `numpy_anchor`). The libhwsim rows time the C API from C
(examples/c/bench.c against the static library), softmax_v next to the same computation in
`sim run` (`run_with`, no file writing), the two in alternation.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "target" / "release" / "sim"
PY = sys.executable


GNU_TIME = Path("/usr/bin/time")
LIBHWSIM = ROOT / "target" / "release" / "libhwsim.a"


def run(cmd, cwd=None):
    """Run a command; return (seconds, peak RSS in MB or NaN, stdout).

    The peak RSS comes from GNU time (`%M`): a child's own ru_maxrss as seen by this Python
    process would include the pages of the forked interpreter before exec.
    """
    wrap = [str(GNU_TIME), "-f", "@@RSS %M"] if GNU_TIME.exists() else []
    t0 = time.perf_counter()
    p = subprocess.run(wrap + [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed:\n{p.stderr}")
    m = re.search(r"@@RSS (\d+)", p.stderr)
    return dt, (int(m.group(1)) / 1024 if m else float("nan")), p.stdout


def best(cmd, n=3):
    runs = [run(cmd) for _ in range(n)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def numpy_anchor(d, rounds=5):
    """Best wall time of `sim run --kv-size 4096` and of scripts/bench_numpy.py (the honest
    numpy anchor: the same eight files of the same sizes) as whole processes, in alternation
    (sim, numpy, sim, numpy, ...) so both see the same load, `rounds` runs each. Every run
    writes into a folder of its own under `d`, removed after the round; the first round checks
    that the two wrote the same dumps (names and sizes; sim's manifest.json aside)."""
    cmds = {
        "sim": [SIM, "run", "--kv-size", "4096", "--seed", "0", "--out"],
        "numpy": [PY, ROOT / "scripts/bench_numpy.py", "--kv-size", "4096", "--seed", "0", "--out"],
    }
    best = {k: float("inf") for k in cmds}
    for i in range(rounds):
        outs = {name: Path(d) / f"anchor-{name}-{i}" for name in cmds}
        for name, cmd in cmds.items():
            best[name] = min(best[name], run(cmd + [outs[name]])[0])
        if i == 0:
            sizes = [{f.name: f.stat().st_size for f in out.glob("*/softmaxed_v.*")} for out in outs.values()]
            if sizes[0] != sizes[1] or len(sizes[0]) != 8:
                raise SystemExit(f"bench: bench_numpy.py's dumps differ from sim's: {sizes[1]} vs {sizes[0]}")
        for out in outs.values():
            shutil.rmtree(out)
    return best["sim"], best["numpy"]


def disk_write_mb_s(d):
    """fsync'd sequential write bandwidth of the temp folder, MB/s."""
    buf = os.urandom(1 << 20)
    path = Path(d) / "probe.bin"
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(256):
            f.write(buf)
        f.flush()
        os.fsync(f.fileno())
    dt = time.perf_counter() - t0
    path.unlink()
    return 256 * 1.048576 / dt


def memory_copy_gb_s():
    import numpy as np
    a = np.ones(1 << 26, dtype=np.uint8)  # 64 MiB
    b = np.empty_like(a)
    t0 = time.perf_counter()
    for _ in range(8):
        np.copyto(b, a)
    dt = time.perf_counter() - t0
    return 8 * 2 * a.nbytes / dt / 1e9  # read + write


# The criterion probes of crates/sim/benches/throughput.rs: every core issuing one multiply
# instruction, in multiplies per second (a probe is absent when the processor lacks its features).
INT8_PROBES = {"peak/int8_mul": "vpmaddubsw ymm", "peak/int8_mul_zmm": "vpmaddubsw zmm", "peak/int8_dpbusd": "vpdpbusd zmm"}
I16_PROBES = {"peak/i16_mul": "vpmaddwd ymm", "peak/i16_mul_zmm": "vpmaddwd zmm", "peak/i16_dpwssd": "vpdpwssd zmm"}


def cpuinfo():
    return Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""


def fastest(c, probes):
    """The highest rate among `probes` that ran, with the instruction's name, or (None, None)."""
    rates = [(c[k]["thrpt"], name) for k, name in probes.items() if c.get(k, {}).get("thrpt")]
    return max(rates) if rates else (None, None)


def int8_peak(c):
    """The int8 multiply rate of all cores (multiplies per second) and how it was obtained.

    Measured: the highest of the int8 probes (`vpmaddubsw` ymm/zmm, `vpdpbusd` zmm on every
    core), with no clock factor. Without the probes (not x86-64 with AVX2): cores x the
    instruction set's int8 lanes x the clock /proc/cpuinfo reports.
    """
    cores = os.cpu_count() or 1
    rate, name = fastest(c, INT8_PROBES)
    if rate:
        return rate, f"int8 rate {fmt(rate, 'mul/s')} ({name} on {cores} cores, measured)"
    info = cpuinfo()
    flags = re.search(r"^flags\s*:(.*)$", info, re.M)
    flags = flags.group(1).split() if flags else []
    lanes = 64 if "avx512bw" in flags else 32 if "avx2" in flags else 16
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    ghz = (max(mhz) / 1000) if mhz else 2.0
    return cores * lanes * ghz * 1e9, f"{cores} cores x {lanes} int8 lanes x {ghz:.2f} GHz, nominal"


def clock_note(c):
    """The clock probe's reading (`peak/clock`, dependent `imul`s on every core), for information
    only, next to the TSC frequency (bogomips / 2, else "cpu MHz"); when the probe reads above
    1.6x the TSC or above 6 GHz it is not printed as a clock."""
    clock = c.get("peak/clock", {}).get("thrpt")
    if not clock:
        return ""
    info = cpuinfo()
    bogo = re.findall(r"^bogomips\s*:\s*([\d.]+)", info, re.M)
    mhz = re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)
    tsc = float(bogo[0]) / 2000 if bogo else float(mhz[0]) / 1000 if mhz else None
    ghz = clock / 1e9
    if ghz > 6 or (tsc and ghz > 1.6 * tsc):
        return f"clock probe untrusted (reads {ghz:.2f} GHz vs TSC {tsc:.2f} GHz)"
    return f"clock {ghz:.2f} GHz" + (f" (TSC {tsc:.2f} GHz)" if tsc else "")


UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def capi_rounds(rounds=5):
    """libhwsim from C (examples/c/bench.c against the static library) on the kv-4096 case, and
    its baselines (crates/hwsim-capi/benches/run_with.rs): sim's `run_with(inputs.clone())`, as
    the criterion figure `softmax_kv4096/functional` times it, and `run_with` alone. The two
    programs run in alternation so they see the same load; each reports its fastest of 11.
    Returns one dict of figures per round."""
    with tempfile.TemporaryDirectory() as d:
        run([SIM, "run", "--kv-size", "4096", "--seed", "0", "--out", d])
        exe = Path(d) / "capi_bench"
        subprocess.run(
            ["cc", "-O2", "-std=c11", "-I", ROOT / "crates/hwsim-capi/include", ROOT / "examples/c/bench.c",
             LIBHWSIM, "-lpthread", "-ldl", "-lm", "-o", exe],
            check=True,
        )
        runs = []
        for _ in range(rounds):
            out = subprocess.run([exe, f"{d}/kv-size-4096_seed-0"], capture_output=True, text=True, check=True).stdout
            out += subprocess.run(
                ["cargo", "bench", "-q", "-p", "hwsim-capi", "--bench", "run_with"],
                cwd=ROOT, capture_output=True, text=True, check=True,
            ).stdout
            runs.append({k: float(v) for k, v in (line.split("=") for line in out.split())})
    return runs


def criterion(package="sim", bench="throughput"):
    """Median throughput (per second) and time (s) of every criterion benchmark of one bench."""
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", package, "--bench", bench, "--", "--noplot"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    res, name = {}, None
    for line in out.splitlines():
        if re.match(r"^\S+$", line):
            name = line  # a long benchmark name gets a line of its own
            continue
        m = re.match(r"^(\S*)\s+time:\s+\[\S+ \S+ ([\d.]+) (ns|µs|us|ms|s) ", line)
        if m:
            name = m.group(1) or name
            scale = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1}[m.group(3)]
            res.setdefault(name, {})["time"] = float(m.group(2)) * scale
            continue
        m = re.match(r"^\s+thrpt:\s+\[\S+ \S+ (\S+) (K|M|G|Ki|Mi|Gi|)(elem|B)/s", line)
        if m and name:
            res[name]["thrpt"] = float(m.group(1)) * UNITS[m.group(2)]
    return res


def median_of(fn, n):
    """Median of n timed calls, seconds (the statistic criterion reports, so the package's
    figures and the Rust ones compare like with like)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[n // 2]


def hwsim_figures():
    """The Python package's own timings (`make bench` installs it first): exp_bf16 over 1 M
    elements (without and with flags) and run_case(4096, 0), each the median of several calls."""
    import numpy as np
    import hwsim
    x = np.random.default_rng(0).integers(0, 1 << 16, 1 << 20, dtype=np.uint16)
    hwsim.exp_bf16(x)
    exp = x.size / median_of(lambda: hwsim.exp_bf16(x), 31)
    exp_flags = x.size / median_of(lambda: hwsim.exp_bf16(x, flags=True), 31)
    hwsim.run_case(4096, 0)
    return exp, exp_flags, median_of(lambda: hwsim.run_case(4096, 0), 11)


def fmt(v, unit):
    for p, s in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= p:
            return f"{v / p:.2f} {s}{unit}"
    return f"{v:.2f} {unit}"


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "sim", "-p", "hwsim-capi"], cwd=ROOT, check=True)
    rows = []

    def row(metric, figure, reference, target, ok):
        rows.append((metric, figure, reference, target, "PASS" if ok else "MISS"))

    with tempfile.TemporaryDirectory() as d:
        disk = disk_write_mb_s(d)
        mem = memory_copy_gb_s()
        # End to end: kv-size 4096, generate + compute + write the eight dumps.
        t_sim, rss = best([SIM, "run", "--kv-size", "4096", "--seed", "0", "--out", f"{d}/s"])
        t_py, _, _ = run([PY, ROOT / "scripts/reference.py", "softmax", "--kv-size", "4096", "--seed", "0", "--out", f"{d}/p"])
        row("sim run kv 4096 (end to end)", f"{t_sim:.3f} s", f"python ref {t_py:.2f} s", ">= 20x faster", t_py / t_sim >= 20)
        rows[-1] = rows[-1][:1] + (f"{t_sim:.3f} s ({t_py / t_sim:.0f}x)",) + rows[-1][2:]
        t_sim_a, t_np = numpy_anchor(d)
        row("sim run kv 4096 vs numpy anchor", f"{t_sim_a:.3f} s ({t_np / t_sim_a:.1f}x)",
            f"numpy {t_np:.3f} s (bench_numpy.py, best of 5, alternating)", ">= 20x faster", t_np / t_sim_a >= 20)
        t_cyc, rss_cyc = best([SIM, "run", "--kv-size", "4096", "--seed", "0", "--cycle", "--out", f"{d}/c"])
        row("sim run --cycle kv 4096", f"{t_cyc:.3f} s ({t_cyc / t_sim:.2f}x)", f"functional {t_sim:.3f} s", "within 1.2x", t_cyc <= 1.2 * t_sim)
        row("peak RSS kv 4096", f"{rss:.0f} MB (cycle {rss_cyc:.0f} MB)", "GNU time %M", "< 64 MB", max(rss, rss_cyc) < 64)
        # Sweep: kv 1..=512, seed 0; memory flat.
        t_gen, rss_gen, out = run([SIM, "gen", "--kv-sizes", "1..=512", "--seeds", "0", "--out", f"{d}/g"])
        mb = sum(f.stat().st_size for f in Path(f"{d}/g").rglob("*") if f.is_file()) / 1e6
        _, rss_one, _ = run([SIM, "run", "--kv-size", "512", "--out", f"{d}/one"])
        row("sim gen kv 1..=512", f"{512 / t_gen:.0f} cases/s, {mb / t_gen:.0f} MB/s ({100 * mb / t_gen / disk:.0f}% of disk)",
            f"disk {disk:.0f} MB/s (fsync'd)", ">= 50% of disk", mb / t_gen >= 0.5 * disk)
        row("sim gen peak RSS", f"{rss_gen:.0f} MB", f"one kv-512 case {rss_one:.0f} MB", "flat (< 4x one case)", rss_gen < 4 * max(rss_one, 1))
    c = criterion()
    # The package's Rust work without Python (generation + pipeline, as `sim run` computes
    # before writing). Building this bench compiles PyO3 outside maturin, so the next
    # `make py-package` recompiles the extension's PyO3 crates once.
    c.update(criterion("hwsim-py", "core"))
    py_exp, py_exp_flags, py_case = hwsim_figures()
    peak, peak_how = int8_peak(c)
    g = lambda k: c.get(k, {}).get("thrpt", float("nan"))
    row("exp (ROM lookup)", fmt(g("exp/rom_lookup"), "elem/s"), f"memory {mem:.1f} GB/s", "-", True)
    # The quantizers the pipeline runs: the fastest vector twin this processor has (AVX-512, else
    # AVX2), next to the definition it is proven equal to.
    def quantizer_rate(key):
        paths = [(g(f"{key}-{isa}"), isa) for isa in ("avx512", "avx2")]
        return max((p for p in paths if p[0] == p[0]), default=(g(key), "definition"))
    q, q_isa = quantizer_rate("quantize/mxint8")
    q_def = g("quantize/blocks")
    row("quantize (mxint8, nearest-away)", f"{fmt(q, 'blocks/s')} {q_isa} ({q / q_def:.1f}x)",
        f"definition {fmt(q_def, 'blocks/s')}", "-", True)
    mx8, _ = quantizer_rate("quantize_mx/mxint8")
    for f in ("mxint8", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e3m2", "mxfp6-e2m3", "mxfp4-e2m1"):
        r, isa = quantizer_rate(f"quantize_mx/{f}")
        row(f"quantize {f} (floor)", f"{fmt(r, 'blocks/s')} {isa} ({r / mx8:.2f}x mxint8)",
            f"definition {fmt(g(f'quantize_mx/{f}'), 'blocks/s')}", "within 2x of mxint8", r >= 0.5 * mx8)
    row("gevm kv 4096 head", fmt(g("gevm/kv4096_head"), "MAC/s"), f"int8 rate {fmt(peak, 'mul/s')}", "-", True)
    gemm = g("gemm/macs/1024")
    i16, i16_name = fastest(c, I16_PROBES)
    of_i16 = f", {100 * gemm / i16:.0f}% of i16 rate" if i16 else ""
    ceiling = peak_how + (f"; i16 rate {fmt(i16, 'mul/s')} ({i16_name})" if i16 else "")
    clock = clock_note(c)
    row("gemm 1024^3", fmt(gemm, "MAC/s") + f" ({100 * gemm / peak:.1f}% of int8 rate{of_i16})",
        ceiling + (f"; {clock}" if clock else ""), ">= 33% of int8 rate", gemm >= 0.33 * peak)
    hexr = g("hex/bf16_encode")
    row("hex encoding (1 core)", fmt(hexr, "B/s"), f"memory {mem:.1f} GB/s", ">= 1 GB/s per core", hexr >= 1e9)
    tf = c.get("softmax_kv4096/functional", {}).get("time", float("nan"))
    tc = c.get("softmax_kv4096/cycle", {}).get("time", float("nan"))
    row("compute only kv 4096", f"functional {tf * 1e3:.1f} ms, cycle {tc * 1e3:.1f} ms", "", "cycle within 1.2x", tc <= 1.2 * tf)
    # The load of a shared machine moves between rounds, so the softmax_v ratios are taken within
    # each round (the C call next to its baselines) and their median is the figure.
    runs = capi_rounds()
    med = lambda xs: sorted(xs)[len(xs) // 2]
    rate = max(r["exp_calls_per_s"] for r in runs)
    row("hwsim_exp_bf16 from C (1 thread)", fmt(rate, "calls/s"), "", ">= 50 M calls/s", rate >= 50e6)
    ts, tc, tr = (med([r[k] for r in runs]) for k in ("softmax_v_seconds", "run_with_clone_seconds", "run_with_seconds"))
    ratio = med([r["softmax_v_seconds"] / r["run_with_clone_seconds"] for r in runs])
    strict = med([r["softmax_v_seconds"] / r["run_with_seconds"] for r in runs])
    row("hwsim_softmax_v kv 4096 from C", f"{ts * 1e3:.1f} ms ({ratio:.2f}x; {strict:.2f}x of run_with alone)",
        f"sim run_with(inputs.clone()) {tc * 1e3:.1f} ms, alone {tr * 1e3:.1f} ms", "within 1.5x", ratio <= 1.5)
    core = c.get("hwsim_core/run_case_kv4096", {}).get("time", float("nan"))
    row("hwsim.exp_bf16 1M (Python)", f"{fmt(py_exp, 'elem/s')} (flags=True {fmt(py_exp_flags, 'elem/s')})",
        f"Rust exp unit {fmt(g('hwsim_core/exp_1m'), 'elem/s')} (1 core)", ">= 100 Melem/s", py_exp >= 100e6)
    row("hwsim.run_case kv 4096", f"{py_case * 1e3:.0f} ms ({py_case / core:.2f}x)",
        f"Rust generate + pipeline {core * 1e3:.0f} ms", "within 1.5x", py_case <= 1.5 * core)
    w = [max(len(str(r[i])) for r in rows + [("metric", "figure", "ceiling / baseline", "target", "")]) for i in range(5)]
    head = ("metric", "figure", "ceiling / baseline", "target", "")
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
    for r in rows:
        print("  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)))
    if "--json" in sys.argv:
        print(json.dumps([dict(zip(head[:4] + ("status",), r)) for r in rows], indent=2))


if __name__ == "__main__":
    main()
