#!/usr/bin/env python3
"""Write a hand-made softmax_v case folder for tb_softmax_out.v, aimed at the multiplier's corners.

    gen_hand_case.py OUT_DIR [--element-rounding nearest-away|nearest-even] [--seed S]

Independent of the simulator and of bf16_mul_rne.v: expected values come from exact rational
arithmetic (fractions.Fraction) and the definitions of docs/numerics.md, nothing else. Standard
library only, so any python3 runs it.

Files written (docs/dump-format.md): softmaxed_v.scaled_v, .inv, .out (stage 6), .exp-bf16 and
.exp_mxint8 (exp_mxint8 = quantize(exp-bf16), with nasty blocks: inf/NaN, all zero, subnormal amax,
rounding ties, clamping to 127, negatives, padding) and a manifest.json with the sizes.

Stage-6 coverage: each head's inv is one of a list of special and ordinary values (zeros, infs, NaNs,
subnormals, extremes, powers of two, random); each head's scaled_v row holds the special values and
operands chosen by search so that the exact product is an exact tie (normal range, subnormal range,
at the overflow boundary), lands in the subnormal range, rounds up to the smallest normal, rounds to
zero, or overflows. A summary of the categories actually hit is printed.
"""
import argparse
import json
import random
from fractions import Fraction
from pathlib import Path

HEAD_DIM = 128
KV_SIZE = 70              # 3 blocks per head, the last one partial (6 values + 26 padding)
NAN = 0x7FC0
TWO = Fraction(2)


# ---- BF16 by definition ---------------------------------------------------------------------
def decode(bits):
    """('nan'|'inf'|'zero'|'num', sign, Fraction value or None)."""
    s, f, m = bits >> 15, (bits >> 7) & 0xFF, bits & 0x7F
    if f == 0xFF:
        return ('nan' if m else 'inf'), s, None
    if f == 0 and m == 0:
        return 'zero', s, Fraction(0)
    v = Fraction(m) * TWO ** -133 if f == 0 else Fraction(128 + m) * TWO ** (f - 134)
    return 'num', s, (-v if s else v)


def floor_log2(x):
    """floor(log2 x) for a positive Fraction, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    while TWO ** e > x:
        e -= 1
    while TWO ** (e + 1) <= x:
        e += 1
    return e


def round_bf16(x):
    """RNE_bf16 of an exact nonzero rational (numerics.md section 2). Returns (bits, tie)."""
    s = 1 if x < 0 else 0
    m = abs(x)
    e = max(floor_log2(m), -126)           # subnormal spacing below 2^-126
    q = m / TWO ** (e - 7)                 # in units of the last place
    n = q.numerator // q.denominator
    r = q - n
    tie = r == Fraction(1, 2)
    if r > Fraction(1, 2) or (tie and n % 2 == 1):
        n += 1
    if n * TWO ** (e - 7) >= TWO ** 128:
        return (s << 15) | 0x7F80, tie
    if n == 256:
        n, e = 128, e + 1
    if n >= 128:
        return (s << 15) | ((e + 127) << 7) | (n - 128), tie
    return (s << 15) | n, tie              # subnormal or zero: field 0


def mul_ref(a, b):
    """RNE_bf16(a * b) with the special cases of numerics.md stage 6."""
    ka, sa, va = decode(a)
    kb, sb, vb = decode(b)
    s = sa ^ sb
    if ka == 'nan' or kb == 'nan':
        return NAN
    if ka == 'inf' or kb == 'inf':
        return NAN if 'zero' in (ka, kb) else (s << 15) | 0x7F80
    if ka == 'zero' or kb == 'zero':
        return s << 15
    return round_bf16(va * vb)[0]


def classify(a, b):
    """Categories the exact product of finite nonzero a, b falls in (for coverage)."""
    ka, _, va = decode(a)
    kb, _, vb = decode(b)
    if ka != 'num' or kb != 'num':
        return set()
    x = abs(va * vb)
    bits, tie = round_bf16(x)
    cats = set()
    f = (bits >> 7) & 0xFF
    if f == 0xFF:
        cats.add('overflow')
        if tie:
            cats.add('tie-at-overflow')
    elif f == 0 and bits & 0x7F == 0:
        cats.add('rounds-to-zero')
        if tie:
            cats.add('tie-to-zero')
    elif f == 0:
        cats.add('subnormal-result')
        if tie:
            cats.add('tie-subnormal')
    else:
        if x < TWO ** -126:
            cats.add('rounds-up-to-min-normal')
        if tie:
            cats.add('tie-normal')
        if x * (1 - TWO ** -9) >= TWO ** 127 and f == 0xFE:
            cats.add('largest-binade')
    if x != decode(bits)[2]:
        cats.add('inexact')
    return cats


# ---- MXINT8 quantization by definition (numerics.md section 4) ------------------------------
def round_int(x, mode):
    n = x.numerator // x.denominator       # floor
    r = x - n
    if r > Fraction(1, 2):
        return n + 1
    if r == Fraction(1, 2):
        if mode == 'nearest-even':
            return n + (n % 2)
        return n + 1 if x > 0 else n       # away from zero
    return n


def quantize_block(vals, mode):
    """vals: up to 32 BF16 bit patterns (the padding is zero). Returns the 66-digit line."""
    dec = [decode(v) for v in vals]
    if any(k in ('nan', 'inf') for k, _, _ in dec):
        return 'ff' + '00' * 32
    amax = max(abs(v) for _, _, v in dec)
    if amax == 0:
        return '00' * 33
    e = min(max(floor_log2(amax), -127), 127)
    q = [max(-127, min(127, round_int(v * TWO ** (6 - e), mode))) for _, _, v in dec]
    q += [0] * (32 - len(q))
    return '%02x' % (e + 127) + ''.join('%02x' % (qi & 0xFF) for qi in reversed(q))


# ---- the case --------------------------------------------------------------------------------
SPECIALS = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0xFFFF,
            0x0001, 0x8001, 0x007F, 0x807F, 0x0080, 0x8080, 0x7F7F, 0xFF7F,
            0x3F80, 0xBF80, 0x0040, 0x7F00]

INV_VALUES = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFF81,   # zeros, infs, NaNs
              0x0001, 0x8001, 0x0040, 0x007F, 0x0080, 0x00FF,   # subnormals, smallest normals
              0x7F7F, 0xFF7F, 0x7F00, 0x7E80,                   # largest values
              0x3F80, 0xBF80, 0x3F00, 0x4000, 0x1E00, 0x5F00,   # powers of two (0x1e00 = 2^-67)
              0x3FE0, 0x3EAB, 0x3F81, 0x3FFF, 0xBFC1, 0x3B1D,   # odd significands
              0x2A5B, 0x5C31, 0x0C0F, 0x7205]                   # deep and high exponents
N_RANDOM_HEADS = 16


def is_tie(a, b):
    """Fast integer test (search only): is the exact product of finite nonzero a, b an RNE tie?"""
    def parts(x):
        f, m = (x >> 7) & 0xFF, x & 0x7F
        return (128 + m if f else m), (f if f else 1) - 134
    (ma, ea), (mb, eb) = parts(a), parts(b)
    p, e = ma * mb, ea + eb                # |a*b| = p * 2^e
    if p == 0:
        return False
    shift = max(e + p.bit_length() - 1, -126) - 7 - e
    return shift >= 1 and p % (1 << shift) == 1 << (shift - 1)


def field_for(target_exp, b):
    """Exponent field of an `a` putting |a*b| near 2^target_exp (may be out of range)."""
    _, _, vb = decode(b)
    return target_exp - floor_log2(abs(vb)) + 127


def row_for(b, rng):
    row = list(SPECIALS)
    kb, _, _ = decode(b)
    wanted = []
    if kb == 'num':
        # search operands whose product is in each interesting region; prefer exact ties
        for target in (0, 60, -100, -126, -127, -130, -133, -134, -135, 127, 128):
            f = field_for(target, b)
            cands = []
            for fa in (f - 1, f, f + 1):
                if fa == 0:
                    cands += list(range(1, 128))
                elif 1 <= fa <= 254:
                    cands += [(fa << 7) | m for m in range(128)]
            if not cands:
                continue
            rng.shuffle(cands)
            ties = [a for a in cands if is_tie(a, b)]
            wanted += ties[:3] + cands[:3]
    for a in wanted:
        if len(row) >= HEAD_DIM - 8:
            break
        if a not in row:
            row.append(a if rng.random() < 0.5 else a | 0x8000)
    while len(row) < HEAD_DIM:
        row.append(rng.getrandbits(16))
    rng.shuffle(row)
    return row


def exp_rows(heads, rng):
    """exp-bf16 rows: nasty quantizer blocks first, then random positive values."""
    rows = []
    for h in range(heads):
        r = [rng.getrandbits(15) % 0x7F80 for _ in range(KV_SIZE)]   # positive finite
        kind = h % 10
        if kind == 0:
            r[5] = 0x7F80                                  # +inf -> scale ff, all zero
        elif kind == 1:
            r[40] = 0x7FC0                                 # NaN in the second block
        elif kind == 2:
            r[:32] = [0] * 32                              # all-zero block -> scale 00
            r[64:] = [0] * (KV_SIZE - 64)                  # all-zero partial block
        elif kind == 3:
            r[:32] = [rng.randrange(0, 0x20) for _ in range(32)]   # subnormal amax: E clamped
            r[32] = 0x0000
        elif kind == 4:
            r[:32] = [0x3F80, 0x3C00, 0x3C40, 0x3CC0, 0x3BFF] + [0x3C00 | rng.getrandbits(7) for _ in range(27)]
            # amax 1.0, step 2^-6: 2^-7 (0x3c00) is half a step (tie), 0x3c40 = 1.5 * 2^-7 (tie, odd)
        elif kind == 5:
            r[:32] = [0x3FFF] + [rng.getrandbits(15) % 0x3FFF for _ in range(31)]  # 127.5 -> 127
        elif kind == 6:
            r[:32] = [x | 0x8000 for x in r[:32]]          # negatives (general quantizer)
            r[3] = 0xC000                                  # -2.0, the amax
        elif kind == 7:
            r[64:] = [0x7F7F] + [0x0001] * (KV_SIZE - 65)  # largest finite with smallest subnormals
        rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out_dir', type=Path)
    ap.add_argument('--element-rounding', default='nearest-away',
                    choices=['nearest-away', 'nearest-even'])
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    inv = list(INV_VALUES) + [rng.getrandbits(16) for _ in range(N_RANDOM_HEADS)]
    heads = len(inv)
    scaled = [row_for(b, rng) for b in inv]
    out = [[mul_ref(a, b) for a in row] for row, b in zip(scaled, inv)]
    ex = exp_rows(heads, rng)
    nb = (KV_SIZE + 31) // 32
    mx = [quantize_block(r[32 * j:32 * j + 32], args.element_rounding) for r in ex for j in range(nb)]

    cats = {}
    for row, b in zip(scaled, inv):
        for a in row:
            for c in classify(a, b):
                cats[c] = cats.get(c, 0) + 1
    special = sum(1 for row, b in zip(scaled, inv) for a in row
                  if decode(a)[0] != 'num' or decode(b)[0] != 'num')
    nan_out = sum(1 for r in out for y in r if y == NAN)

    d = args.out_dir
    d.mkdir(parents=True, exist_ok=True)

    def write(name, words, fmt):
        (d / name).write_text(''.join(fmt % w for w in words))

    write('softmaxed_v.scaled_v', [a for r in scaled for a in r], '%04x\n')
    write('softmaxed_v.inv', inv, '%04x\n')
    write('softmaxed_v.out', [y for r in out for y in r], '%04x\n')
    write('softmaxed_v.exp-bf16', [x for r in ex for x in r], '%04x\n')
    write('softmaxed_v.exp_mxint8', mx, '%s\n')
    manifest = {'format_version': 1, 'op': 'softmax_v', 'tool': 'gen_hand_case.py',
                'case': d.name, 'kv_size': KV_SIZE, 'seed': args.seed, 'profile': 'hand-made',
                'params': {'num_heads': heads, 'head_dim': HEAD_DIM,
                           'element_rounding': args.element_rounding}}
    (d / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')

    print(f'gen_hand_case: {d}: {heads} heads x {HEAD_DIM} columns = {heads * HEAD_DIM} products, '
          f'{special} with a zero/inf/NaN operand ({nan_out} NaN results); kv_size {KV_SIZE}, '
          f'{len(mx)} exp_mxint8 blocks ({args.element_rounding})')
    print('gen_hand_case: finite products: ' + ', '.join(f'{k} {v}' for k, v in sorted(cats.items())))
    need = ['tie-normal', 'tie-subnormal', 'tie-to-zero', 'tie-at-overflow', 'subnormal-result',
            'rounds-up-to-min-normal', 'rounds-to-zero', 'overflow']
    missing = [c for c in need if not cats.get(c)]
    if missing:
        raise SystemExit(f'gen_hand_case: categories not covered: {missing}')


if __name__ == '__main__':
    main()
