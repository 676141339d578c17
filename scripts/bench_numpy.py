#!/usr/bin/env python3
"""The honest anchor of `make bench`: softmax_v for one case as a competent user would emulate it
in vectorised numpy, written as fast as numpy allows (docs/performance.md's "number to beat").

    python scripts/bench_numpy.py --kv-size 4096 --seed 0 --out DIR [--profile[=cpu]] [--check SIM_CASE]

writes DIR/kv-size-N_seed-S/ with the eight dumps of docs/dump-format.md (same names, line counts
and line widths as `sim run`, so the same sizes; no manifest.json). No Python loop runs per element,
per line or per block: the only loop is over chunks of `--chunk-rows` kv rows of v (256 rows,
32 K elements by default), so that every pass of the SplitMix64 generator, the quantizer, the block
products and the hex formatting stays in the L2 cache, and the 35 MB `softmaxed_v.v` is written
chunk by chunk (pwrite at its offset). `--threads T` splits v's heads over T threads (numpy
releases the GIL in its loops); the default is 1, the script a numpy user writes.

Stage by stage (docs/numerics.md §3-§5):

- inputs: SplitMix64 in numpy uint64 arithmetic, every draw at once (state + i * gamma). Only the
  top 24 bits of a draw are used, and the last xor-shift (`z ^ z >> 31`) does not change them, so
  it is skipped; the top 32 bits are read as an int32 view of the uint64 words (no uint64 pass).
  qk_T: the exact real (24 bits, float32) rounded to BF16 with the uint16 bit trick (RNE).
- v: MXINT8 in integer arithmetic on the 24-bit draws: the block amax, E from the float32 exponent
  field of amax, elements round-half-away by an add-and-shift, clamped to +-127 (exact, so v is
  sim's bit for bit).
- exp: float64 `np.exp` of the BF16 input, rounded once to BF16 (RNE on the float64 bits).
- reduce-sum: float64 (exact here: 4096 BF16 values in [e^-8, e^8] need < 53 bits), then RNE.
- exp quantization: float64 (exact power-of-two scaling, floor(y + 1/2) is round-half-away).
- gevm: the block products as a float32 batched matmul (|sum| <= 32 * 127^2 < 2^24, so exact),
  scaled by 2^(Ee + Ev - 12) and summed over blocks in float64, then RNE to BF16.
- reciprocal and scale: float64, RNE to BF16 (the product of two BF16 values is exact).
- hex: one `np.take` from a 65,536-entry table of four digits (the two bytes of a uint16 view
  of the element bytes, or one BF16 word byte-swapped), into a preallocated uint8 line buffer
  whose newline column is set once; v's lines are built on the bytes transposed to line order
  (block, column; element 31 first). `np.take` rather than fancy indexing: 4x faster here.

The rounding to BF16 is done on the float bits, not through ml_dtypes: `astype(ml_dtypes.bfloat16)`
from float64 rounds twice (float64 -> float32 -> bfloat16), and the bit trick is as fast.

Agreement with sim (`--check SIM_CASE`, kv 4096 seed 0, and kv 1, 2, 3, 33, 100, 1000, 4095 at a
few seeds): every line of the eight files equal, so equal sizes too. Not by construction (np.exp
is not correctly rounded and a float64 block sum is not exact in general), but these cases keep
every float64 step clear of a BF16 tie. Special values (NaN, inf, BF16 subnormal results) are not
modelled: the uniform generator produces none.

Profile (`--profile=cpu`, thread CPU time, kv 4096, on a loaded 2-core Xeon): qk_T + exp +
reduce-sum + exp quantize ~6 ms, small writes ~5 ms, v generate ~47 ms, v quantize ~34 ms,
v hex ~29 ms, v write ~15 ms, gevm ~14 ms: ~0.16 s in process, plus ~0.08 s of interpreter
start and numpy import (~0.25 s wall as a whole process). Two threads gained nothing there.
"""
import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread pool to start: the matmuls are tiny
import numpy as np  # noqa: E402

HEADS, HEAD_DIM, BLOCK = 32, 128, 32
GAMMA = 0x9E3779B97F4A7C15
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
STREAM_MULTIPLIER = 0xD1B54A32D192ED03
MASK64 = (1 << 64) - 1
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_b = np.arange(256)
LUT2 = (HEX[_b >> 4].astype(np.uint16) | (HEX[_b & 15].astype(np.uint16) << 8)).astype("<u2")
# Two bytes at once: LUT4[x] is the four digits of byte x & 0xff then byte x >> 8, so a uint16
# view of a byte array indexes it (half the gathers of LUT2, from a 256 KB table).
_w = np.arange(1 << 16, dtype=np.uint32)
LUT4 = (LUT2.astype(np.uint32)[_w & 0xFF] | (LUT2.astype(np.uint32)[_w >> 8] << 16)).astype("<u4")
FILES = ("softmaxed_v.qk_T", "softmaxed_v.exp-bf16", "softmaxed_v.exp_sum", "softmaxed_v.v",
         "softmaxed_v.exp_mxint8", "softmaxed_v.scaled_v", "softmaxed_v.inv", "softmaxed_v.out")

STAGES = {}
CLOCK = [None]      # time.perf_counter (--profile) or time.thread_time (--profile=cpu)


class stage:
    """Accumulate the time of a named stage (--profile; summed over threads)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        if CLOCK[0]:
            self.t0 = CLOCK[0]()

    def __exit__(self, *exc):
        if CLOCK[0]:
            STAGES[self.name] = STAGES.get(self.name, 0.0) + CLOCK[0]() - self.t0


# ----------------------------------------------------------------------------------------------
# SplitMix64 (numerics.md §5)
# ----------------------------------------------------------------------------------------------

def stream_start(seed, stream):
    return seed ^ (((stream + 1) * STREAM_MULTIPLIER) & MASK64)


class Draws:
    """Signed draws m = (next() >> 40) - 2^23 of one stream, chunk by chunk into reused buffers.

    The real value of a draw is m * 2^(r - 23)."""

    def __init__(self, seed, stream, chunk):
        self.state = stream_start(seed, stream)
        self.steps = np.arange(1, chunk + 1, dtype=np.uint64) * np.uint64(GAMMA)
        self.z = np.empty(chunk, dtype=np.uint64)
        self.t = np.empty(chunk, dtype=np.uint64)

    def take(self, start, count, out=None):
        """Draws start .. start+count-1 (0-based) as int32."""
        z, t = self.z[:count], self.t[:count]
        np.add(self.steps[:count], np.uint64((self.state + start * GAMMA) & MASK64), out=z)
        np.right_shift(z, np.uint64(30), out=t)
        np.bitwise_xor(z, t, out=z)
        np.multiply(z, MIX1, out=z)
        np.right_shift(z, np.uint64(27), out=t)
        np.bitwise_xor(z, t, out=z)
        np.multiply(z, MIX2, out=z)
        # (z ^ z >> 31) >> 40 == z >> 40 = u: the high 32-bit half (an int32 view, no uint64
        # pass) shifted by 8. u - 2^23 flips u's top bit: after the arithmetic shift that is an
        # xor with 0xff800000.
        high = z.view(np.int32)[1::2] if sys.byteorder == "little" else z.view(np.int32)[0::2]
        out = np.right_shift(high, np.int32(8), out=out)
        return np.bitwise_xor(out, np.int32(-(1 << 23)), out=out)


# ----------------------------------------------------------------------------------------------
# Rounding to BF16 on the float bits (RNE; finite normal-range values, which is all this case has)
# ----------------------------------------------------------------------------------------------

def bf16_from_f32(x):
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = (b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return r.astype(np.uint16)


def bf16_from_f64(x):
    b = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    r = b + np.uint64((1 << 44) - 1) + ((b >> np.uint64(45)) & np.uint64(1))
    r &= np.uint64(MASK64 ^ ((1 << 45) - 1))                  # exactly a BF16 value now
    return (r.view(np.float64).astype(np.float32).view(np.uint32) >> np.uint32(16)).astype(np.uint16)


def f64_from_bf16(bits):
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# Hex text
# ----------------------------------------------------------------------------------------------

def bf16_text(bits):
    """One 4-digit lowercase word a line."""
    bits = bits.ravel().astype(">u2").view(np.uint16)        # high byte first in memory
    buf = np.empty((bits.size, 5), dtype=np.uint8)
    buf[:, 0:4] = LUT4.take(bits).view(np.uint8).reshape(-1, 4)
    buf[:, 4] = 10
    return buf


def mx_lines_into(buf, scales, elems):
    """Fill buf [lines, 67] with MXINT8 lines: scales [lines] uint8, elems [lines, 32] uint8
    (element 0 first; written 31 first)."""
    buf[:, 0:2] = LUT2[scales].view(np.uint8).reshape(-1, 2)
    buf[:, 2:66] = LUT4.take(np.ascontiguousarray(elems[:, ::-1]).view(np.uint16)).view(np.uint8)
    buf[:, 66] = 10


# ----------------------------------------------------------------------------------------------
# softmax_v
# ----------------------------------------------------------------------------------------------

def v_heads(seed, kv, heads, rows, qe32, fd, dots, tops):
    """v of `heads` (a range): generate, quantize, write its lines at their offsets in `fd`,
    and leave the integer block products with exp in dots[h] (float32 [nb, D], exact) and
    floor(log2 amax) of v's blocks in tops[h] (int32 [nb, D])."""
    dim = HEAD_DIM
    nb = -(-kv // BLOCK)
    draws = Draws(seed, 1, rows * dim)
    maxb = rows // BLOCK
    m = np.zeros((maxb, BLOCK, dim), dtype=np.int32)
    t = np.empty_like(m)
    s = np.empty_like(m)
    f = np.empty(m.shape, dtype=np.float32)
    qt = np.empty((maxb, dim, BLOCK), dtype=np.int32)
    q8 = np.empty(qt.shape, dtype=np.uint8)
    quads = np.empty((maxb, dim, BLOCK // 2), dtype=np.uint32)
    lines = np.empty((maxb * dim, 67), dtype=np.uint8)
    lines[:, 66] = 10
    for h in heads:
        for r0 in range(0, kv, rows):
            n = min(rows, kv - r0)
            b, b0 = -(-n // BLOCK), r0 // BLOCK
            with stage("v generate"):
                mv, flat = m[:b], m[:b].reshape(-1)
                draws.take((h * kv + r0) * dim, n * dim, out=flat[:n * dim])
                flat[n * dim:] = 0                                      # partial block padding
            with stage("v quantize"):
                tv, sv = t[:b], s[:b]
                amax = np.abs(mv, out=tv).max(axis=1)                   # [b, D]
                top = (amax.astype(np.float32).view(np.int32) >> 23) - 127   # floor(log2 amax)
                k = top - 6                                             # amax >> k in [64, 128)
                exact = amax.min() < 128        # a block needing no rounding (or all zero): rare
                kk = np.maximum(k, 1) if exact else k
                np.right_shift(mv, np.int32(31), out=sv)                # -1 where negative
                np.add(mv, sv, out=tv)                                  # ties away from zero
                np.add(tv, (np.int32(1) << (kk - 1))[:, None, :], out=tv)
                np.right_shift(tv, kk[:, None, :], out=tv)
                np.clip(tv, np.int32(-127), np.int32(127), out=tv)
                if exact:
                    up = np.minimum(-k, 31)[:, None, :]
                    tv[...] = np.where((k < 1)[:, None, :], mv << np.maximum(up, 0), tv)
                    top = np.where(amax == 0, -106, top)                # scale byte 0x00
            with stage("v hex"):
                nl = b * dim
                lb = lines[:nl]
                scale = (top + 106).astype(np.uint8).ravel()            # E = top - 21, + 127
                lb[:, 0:2] = LUT2.take(scale).view(np.uint8).reshape(nl, 2)
                qt[:b] = tv[:, ::-1, :].transpose(0, 2, 1)              # line (block, d): e31..e0
                np.copyto(q8[:b], qt[:b], casting="unsafe")             # two's complement bytes
                np.take(LUT4, q8[:b].view(np.uint16), out=quads[:b], mode="wrap")
                lb[:, 2:66] = quads[:b].reshape(nl, BLOCK // 2).view(np.uint8)
            with stage("v write"):
                os.pwrite(fd, lb.data, ((h * nb + b0) * dim) * 67)
            with stage("gevm"):
                np.copyto(f[:b], tv)
                np.matmul(qe32[h, b0:b0 + b, None, :], f[:b], out=dots[h, b0:b0 + b, None, :])
                tops[h, b0:b0 + b] = top


def run_case(kv, seed, out, chunk_rows=256, threads=1):
    heads, dim = HEADS, HEAD_DIM
    nb = -(-kv // BLOCK)
    padded = nb * BLOCK
    case = Path(out) / f"kv-size-{kv}_seed-{seed}"
    tmp = Path(out) / f".{case.name}.tmp-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)

    with stage("qk_T generate"):
        m = Draws(seed, 0, heads * kv).take(0, heads * kv).reshape(heads, kv)
        qk = bf16_from_f32(m.astype(np.float32) * np.float32(2.0 ** -20))   # r = 3
    with stage("exp"):
        exp_bits = bf16_from_f64(np.exp(f64_from_bf16(qk)))
        e = f64_from_bf16(exp_bits)                             # the BF16 values, exactly
    with stage("reduce-sum"):
        exp_sum = bf16_from_f64(e.sum(axis=1))
    with stage("exp quantize"):
        ep = np.zeros((heads, padded), dtype=np.float64)
        ep[:, :kv] = e
        ep = ep.reshape(heads, nb, BLOCK)
        amax = ep.max(axis=2)                                   # exp values are > 0
        ee = np.frexp(amax)[1] - 1                              # floor(log2 amax)
        qe = np.minimum(np.floor(np.ldexp(ep, (6 - ee)[..., None]) + 0.5), 127)
        e_scale = (ee + 127).astype(np.uint8)
        qe32 = qe.astype(np.float32)                            # [H, nb, 32], exact
    with stage("write small"):
        for name, data in (("softmaxed_v.qk_T", qk), ("softmaxed_v.exp-bf16", exp_bits),
                           ("softmaxed_v.exp_sum", exp_sum)):
            (tmp / name).write_bytes(bf16_text(data).data)
        buf = np.empty((heads * nb, 67), dtype=np.uint8)
        mx_lines_into(buf, e_scale.ravel(), qe.astype(np.uint8).reshape(-1, BLOCK))
        (tmp / "softmaxed_v.exp_mxint8").write_bytes(buf.data)

    # v, chunk by chunk of kv rows of one head: draw, quantize, hex (written in place with
    # pwrite), block products; --threads workers take contiguous ranges of heads.
    rows = max(BLOCK, chunk_rows // BLOCK * BLOCK)
    dots = np.empty((heads, nb, dim), dtype=np.float32)
    tops = np.empty((heads, nb, dim), dtype=np.int32)
    fd = os.open(tmp / "softmaxed_v.v", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, heads * nb * dim * 67)
        job = lambda hs: v_heads(seed, kv, hs, rows, qe32, fd, dots, tops)
        parts = [range(heads * i // threads, heads * (i + 1) // threads) for i in range(threads)]
        if threads == 1:
            job(parts[0])
        else:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(job, parts))
    finally:
        os.close(fd)

    with stage("gevm sum"):
        # 2^(Ee + Ev - 12) with Ev = top - 21, summed over blocks in float64
        tops += (ee - 33)[:, :, None]
        scaled = bf16_from_f64(np.ldexp(dots.astype(np.float64), tops).sum(axis=1))
    with stage("reciprocal, scale"):
        inv = bf16_from_f64(1.0 / f64_from_bf16(exp_sum))
        outv = bf16_from_f64(f64_from_bf16(scaled) * f64_from_bf16(inv)[:, None])
    with stage("write small"):
        for name, data in (("softmaxed_v.scaled_v", scaled), ("softmaxed_v.inv", inv),
                           ("softmaxed_v.out", outv)):
            (tmp / name).write_bytes(bf16_text(data).data)
    with stage("rename"):
        if case.exists():
            shutil.rmtree(case)
        tmp.rename(case)
    return case


def check(mine, theirs):
    """Lines that differ per file between two case folders (and whether the sizes are equal)."""
    total = 0
    for name in FILES:
        a, b = (Path(d, name).read_bytes().split(b"\n") for d in (mine, theirs))
        if len(a) != len(b):
            print(f"{name}: {len(a) - 1} lines, sim has {len(b) - 1}")
            total += max(len(a), len(b))
            continue
        x = np.array(a[:-1])
        y = np.array(b[:-1])
        diff = int(np.count_nonzero(x != y))
        total += diff
        size = (Path(mine, name).stat().st_size, Path(theirs, name).stat().st_size)
        print(f"{name:24} {len(a) - 1:8} lines  {diff:6} differ  size {size[0]} vs {size[1]}")
    print(f"total lines that differ: {total}")
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kv-size", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--chunk-rows", type=int, default=256, help="kv rows of v per chunk (x 128 elements)")
    p.add_argument("--threads", type=int, default=1, help="worker threads for v (default 1)")
    p.add_argument("--profile", nargs="?", const="wall", choices=("wall", "cpu"),
                   help="print the time of every stage (wall clock, or this thread's CPU time)")
    p.add_argument("--check", metavar="SIM_CASE", help="compare with sim's case folder")
    args = p.parse_args()
    if args.kv_size < 1 or args.threads < 1:
        raise SystemExit("--kv-size and --threads must be >= 1")
    if args.profile:
        CLOCK[0] = time.thread_time if args.profile == "cpu" else time.perf_counter
    t0 = time.perf_counter()
    case = run_case(args.kv_size, args.seed, args.out, args.chunk_rows, args.threads)
    total = time.perf_counter() - t0
    if args.profile:
        for name, t in STAGES.items():
            print(f"{name:20} {t * 1e3:8.1f} ms")
        print(f"{'total (in process)':20} {total * 1e3:8.1f} ms")
    if args.check:
        sys.exit(1 if check(case, args.check) else 0)


if __name__ == "__main__":
    main()
