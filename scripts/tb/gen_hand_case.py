#!/usr/bin/env python3
"""Write a hand-made softmax_v case folder for tb_softmax_out.v, aimed at the multiplier's corners.

    gen_hand_case.py OUT_DIR [--exp-format F] [--v-format G] [--scale-rule R]
                             [--element-rounding nearest-away|nearest-even] [--seed S]

Independent of the simulator and of bf16_mul_rne.v: expected values come from exact rational
arithmetic (fractions.Fraction) and the definitions of docs/numerics.md, nothing else. Standard
library only, so any python3 runs it.

Files written (docs/dump-format.md): softmaxed_v.scaled_v, .inv, .out (stage 6), .exp-bf16,
.exp_<F> (exp's quantization: the section 8.2 quantizer into F, default mxint8, under the scale
rule R, default floor, which for mxint8 + floor is section 4) and .v (random G blocks with every
kind of scale byte and code, zero padding past kv_size), and a manifest.json with the sizes and
formats. exp-bf16 has nasty blocks for the quantizer: inf/NaN, all zero, subnormal amax, rounding
ties (mxint8's and, searched for F and R, exact ties of F's grid in the normal and subnormal range
and halfway to zero), saturation, negatives and -0, amax at F's max normal times a power of two
(the equality of rceil) and just above it, padding. Element rounding: as given, else F's default
(nearest-away for mxint8, nearest-even for the fp formats), recorded in the manifest only when
given or for the dataset's formats (mxint8, mxint8, floor), as `sim run` does.

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


# ---- the MX formats and the section 8.2 quantizer by definition (numerics.md section 8) --------
# name: (w, kind, mbits, bias, emax, max normal); fp elements S.E...E.M...M with subnormals.
FORMATS = {
    'mxint8':     (8, 'int', 6, 0, 0, Fraction(127, 64)),
    'mxfp8-e4m3': (8, 'fp', 3, 7, 8, Fraction(448)),
    'mxfp8-e5m2': (8, 'fp', 2, 15, 15, Fraction(57344)),
    'mxfp6-e3m2': (6, 'fp', 2, 3, 4, Fraction(28)),
    'mxfp6-e2m3': (6, 'fp', 3, 1, 2, Fraction(15, 2)),
    'mxfp4-e2m1': (4, 'fp', 1, 1, 2, Fraction(6)),
}
RULES = ['floor', 'ceil', 'even', 'rceil']


def default_rounding(fmt):
    return 'nearest-away' if fmt == 'mxint8' else 'nearest-even'


def ceil_log2(x):
    e = floor_log2(x)
    return e if x == TWO ** e else e + 1


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


def scale_exp(amax, fmt, rule):
    """E of a block with amax > 0 under the rule (section 8.2 step 3), clamped to -127..127."""
    _, _, mbits, _, emax, maxn = FORMATS[fmt]
    if rule == 'floor':
        e = floor_log2(amax) - emax
    elif rule == 'ceil':
        e = ceil_log2(amax) - emax
    elif rule == 'even':                   # amax to 1 + mbits significant bits, ties away
        quantum = TWO ** (floor_log2(amax) - mbits)
        e = floor_log2(round_int(amax / quantum, 'nearest-away') * quantum) - emax
    else:                                  # rceil: smallest E with amax <= maxn * 2^E
        e = ceil_log2(amax / maxn)
    return min(max(e, -127), 127)


def encode_fp(value, fmt):
    """Code (sign clear) of a representable fp magnitude."""
    _, _, mbits, bias, _, _ = FORMATS[fmt]
    emin = 1 - bias
    if value == 0:
        return 0
    if value < TWO ** emin:
        field, mant = 0, value / TWO ** (emin - mbits)
    else:
        e = floor_log2(value)
        field, mant = e + bias, value / TWO ** (e - mbits) - (1 << mbits)
    assert mant.denominator == 1, (value, fmt)
    return (field << mbits) | int(mant)


def element_code(y, negative, fmt, mode):
    """One element: |y| = x / 2^E rounded once to the format, saturating (section 8.2 step 4)."""
    w, kind, mbits, bias, _, maxn = FORMATS[fmt]
    if kind == 'int':
        q = min(round_int(y * 64, mode), 127)
        return (-q if negative else q) & 0xFF
    sign = (1 << (w - 1)) if negative else 0
    if y == 0:
        return sign
    e = max(floor_log2(y), 1 - bias)
    quantum = TWO ** (e - mbits)
    value = round_int(y / quantum, mode) * quantum
    return sign | encode_fp(min(value, maxn), fmt)


def grid_tie(bits, e, fmt):
    """Is y = x / 2^e (x the positive finite BF16 `bits`) exactly halfway between two points of
    the format's grid? (Integers only: x = m * 2^ex, the grid step 2^g, y / 2^g = m / 2^s.)"""
    _, kind, mbits, bias, _, _ = FORMATS[fmt]
    f, m = bits >> 7, bits & 0x7F
    m, ex = (m + 128, f - 134) if f else (m, -133)
    g = -6 if kind == 'int' else max(m.bit_length() - 1 + ex - e, 1 - bias) - mbits
    s = e + g - ex
    return s >= 1 and m % (1 << s) == 1 << (s - 1)


def block_line(scale, codes, fmt):
    w = FORMATS[fmt][0]
    word = scale << (32 * w)
    for i, c in enumerate(codes):
        word |= c << (w * i)
    return '%0*x' % (2 + 8 * w, word)


def quantize_block(vals, fmt, rule, mode):
    """vals: up to 32 BF16 bit patterns (the padding is +0). Returns the dump line."""
    dec = [decode(v) for v in vals]
    if any(k in ('nan', 'inf') for k, _, _ in dec):
        return block_line(0xFF, [0] * 32, fmt)
    amax = max(abs(v) for _, _, v in dec)
    e = -127 if amax == 0 else scale_exp(amax, fmt, rule)
    codes = [element_code(abs(v) / TWO ** e, s == 1, fmt, mode) for _, s, v in dec]
    codes += [0] * (32 - len(codes))
    return block_line(e + 127, codes, fmt)


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


_TIES = {}


def tie_values(fmt, rule, rng):
    """31 BF16 values below 1.5 whose y = x / 2^E is an exact tie of fmt's grid, E being the
    block exponent of amax 1.5 under the rule: halfway to zero, in the subnormal range (fp), in
    the normal range (mixed, up to 10 of each kind), then anything below 1.5 if short."""
    if (fmt, rule) not in _TIES:
        e = scale_exp(Fraction(3, 2), fmt, rule)
        _, kind, mbits, bias, _, _ = FORMATS[fmt]
        step = TWO ** -6 if kind == 'int' else TWO ** (1 - bias - mbits)  # smallest nonzero magnitude
        found = {'to-zero': [], 'subnormal': [], 'normal': []}
        for bits in range(1, 0x3FC0):
            if grid_tie(bits, e, fmt):
                y = decode(bits)[2] / TWO ** e
                k = ('to-zero' if y == step / 2 else
                     'subnormal' if kind == 'fp' and y < TWO ** (1 - bias) else 'normal')
                found[k].append(bits)
        _TIES[fmt, rule] = found
    vals = []
    for k, found in _TIES[fmt, rule].items():
        vals += rng.sample(found, min(10, len(found)))
    while len(vals) < 31:
        vals.append(rng.randrange(1, 0x3FC0))
    return vals[:31]


def exp_rows(heads, rng, fmt, rule):
    """exp-bf16 rows: nasty quantizer blocks first, then random positive values."""
    maxn = FORMATS[fmt][5]
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
            r[4], r[5] = 0x8000, 0x8001                    # -0 and a negative rounding to -0
        elif kind == 7:
            r[64:] = [0x7F7F] + [0x0001] * (KV_SIZE - 65)  # largest finite with smallest subnormals
        elif kind == 8:
            r[:32] = [0x3FC0] + tie_values(fmt, rule, rng)   # amax 1.5 and exact ties
            rng.shuffle(r[1:32])
        else:
            # amax = max normal * 2^j (rceil's equality), one ulp above it, one ulp below it
            for j, delta in ((0, 0), (1, 1), (2, -1)):
                amax = round_bf16(maxn * TWO ** rng.randrange(-40, 40))[0] + delta
                n = min(32, KV_SIZE - 32 * j)
                blk = [amax] + [rng.randrange(0, amax) for _ in range(n - 1)]
                rng.shuffle(blk)
                r[32 * j:32 * j + n] = blk
        rows.append(r)
    return rows


def v_lines(heads, fmt, rng):
    """softmaxed_v.v: random blocks of fmt (every scale byte, NaN scale and every code included),
    head by head, block by block, column by column; the padding past KV_SIZE is the +0 code."""
    w = FORMATS[fmt][0]
    nb = (KV_SIZE + 31) // 32
    scales = [0x00, 0xFE, 0xFF] + list(range(0x70, 0x90)) * 3
    lines = []
    for _ in range(heads):
        for b in range(nb):
            keep = (1 << (w * min(32, KV_SIZE - 32 * b))) - 1   # codes past KV_SIZE stay 0
            for _ in range(HEAD_DIM):
                scale = rng.choice(scales) if rng.random() < 0.9 else rng.randrange(256)
                lines.append('%0*x' % (2 + 8 * w, (scale << (32 * w)) | (rng.getrandbits(32 * w) & keep)))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out_dir', type=Path)
    ap.add_argument('--exp-format', default='mxint8', choices=list(FORMATS))
    ap.add_argument('--v-format', default='mxint8', choices=list(FORMATS))
    ap.add_argument('--scale-rule', default='floor', choices=RULES)
    ap.add_argument('--element-rounding', choices=['nearest-away', 'nearest-even'],
                    help="default: the exp format's (nearest-away for mxint8, else nearest-even)")
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    fmt, rule = args.exp_format, args.scale_rule
    mode = args.element_rounding or default_rounding(fmt)

    inv = list(INV_VALUES) + [rng.getrandbits(16) for _ in range(N_RANDOM_HEADS)]
    heads = len(inv)
    scaled = [row_for(b, rng) for b in inv]
    out = [[mul_ref(a, b) for a in row] for row, b in zip(scaled, inv)]
    ex = exp_rows(heads, rng, fmt, rule)
    nb = (KV_SIZE + 31) // 32
    mx = [quantize_block(r[32 * j:32 * j + 32], fmt, rule, mode) for r in ex for j in range(nb)]
    vl = v_lines(heads, args.v_format, rng)

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

    def write(name, words, wfmt):
        (d / name).write_text(''.join(wfmt % w for w in words))

    write('softmaxed_v.scaled_v', [a for r in scaled for a in r], '%04x\n')
    write('softmaxed_v.inv', inv, '%04x\n')
    write('softmaxed_v.out', [y for r in out for y in r], '%04x\n')
    write('softmaxed_v.exp-bf16', [x for r in ex for x in r], '%04x\n')
    write(f'softmaxed_v.exp_{fmt}', mx, '%s\n')
    write('softmaxed_v.v', vl, '%s\n')
    params = {'num_heads': heads, 'head_dim': HEAD_DIM}
    if (fmt, args.v_format, rule) == ('mxint8', 'mxint8', 'floor'):
        params['element_rounding'] = mode                  # the dataset's manifest
    else:
        params.update(exp_format=fmt, v_format=args.v_format, scale_rule=rule)
        if args.element_rounding:
            params['element_rounding'] = args.element_rounding
    manifest = {'format_version': 1, 'op': 'softmax_v', 'tool': 'gen_hand_case.py',
                'case': d.name, 'kv_size': KV_SIZE, 'seed': args.seed, 'profile': 'hand-made',
                'params': params}
    (d / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')

    print(f'gen_hand_case: {d}: {heads} heads x {HEAD_DIM} columns = {heads * HEAD_DIM} products, '
          f'{special} with a zero/inf/NaN operand ({nan_out} NaN results); kv_size {KV_SIZE}, '
          f'{len(mx)} exp_{fmt} blocks ({rule}, {mode}), {len(vl)} v blocks ({args.v_format})')
    print('gen_hand_case: finite products: ' + ', '.join(f'{k} {v}' for k, v in sorted(cats.items())))
    need = ['tie-normal', 'tie-subnormal', 'tie-to-zero', 'tie-at-overflow', 'subnormal-result',
            'rounds-up-to-min-normal', 'rounds-to-zero', 'overflow']
    missing = [c for c in need if not cats.get(c)]
    if missing:
        raise SystemExit(f'gen_hand_case: categories not covered: {missing}')


if __name__ == '__main__':
    main()
