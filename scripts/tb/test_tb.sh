#!/usr/bin/env bash
# test_tb.sh -- self-test of the Verilog testbench (run from anywhere; `make tb-test` runs it).
#
#  1. cases from the simulator (${SIM:-./target/release/sim}, relative to the repo root) must pass
#     run_tb.sh: several kv sizes and seeds, both element roundings, non-default heads/head_dim,
#     and small cases with MXFP exp and v (--exp-format/--v-format, every MX format for exp, each
#     line width 66/50/34 for exp and v, every scale rule, --dist corners/mixed);
#  2. hand-made cases (gen_hand_case.py: exact rational arithmetic, independent of the simulator)
#     with subnormal results, overflow, NaN, inf*0, ties and nasty MXINT8 blocks must pass, and one
#     with MXFP6 exp (nasty blocks, grid ties, rceil's equality) and MXFP4 v;
#  3. copies of a good case with ONE bit flipped (in out, in inv, in exp_mxint8, in MXFP exp
#     elements, in MXFP4 v padding, in a hand case's out), a missing line, a truncated 264-bit word,
#     a 200-bit (50-digit) and a 136-bit (34-digit) word of exp and of v truncated or lengthened, and
#     an uppercase hex digit must FAIL, for the expected reason.
# Prints `tb: N passed, 0 failed` at the end; exit status 0 only if every check went as expected.
# Without iverilog: installs it when run as root, else fails naming the install command, unless
# SIM_SKIP lists iverilog (then it prints SKIPPED).
set -euo pipefail

TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$TB_DIR/../.." && pwd)
cd "$ROOT"
SIM=${SIM:-./target/release/sim}

# No silent passes: install iverilog when we can (root, as on CI and a fresh machine), else fail
# naming the command, unless SIM_SKIP (comma-separated) lists iverilog.
if ! command -v iverilog >/dev/null 2>&1 || ! command -v vvp >/dev/null 2>&1; then
    if [[ ",${SIM_SKIP:-}," == *",iverilog,"* ]]; then
        echo "SKIPPED (SIM_SKIP=iverilog): iverilog not installed"
        exit 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tb: iverilog not installed; installing it (apt-get install -y iverilog)"
        apt-get update -qq && apt-get install -y -qq iverilog >/dev/null
    fi
    if ! command -v iverilog >/dev/null 2>&1; then
        echo "tb: FAILED: iverilog is not installed and could not be installed here." >&2
        echo "tb: run 'apt-get install -y iverilog' (as root), or opt out with SIM_SKIP=iverilog" >&2
        exit 2
    fi
fi

[ -x "$SIM" ] || { echo "tb: simulator binary not found at $SIM (cargo build --release, or set SIM=...)" >&2; exit 2; }

if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
elif command -v python3 >/dev/null 2>&1; then PY=python3
else PY=; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_tb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

PASSED=0
FAILED=0
ok()  { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }

# expect_pass NAME DIR: run_tb.sh must exit 0 with "TB PASS".
expect_pass() {
    local name=$1 dir=$2 log="$WORK/$1.log" rc=0
    "$TB_DIR/run_tb.sh" "$dir" >"$log" 2>&1 || rc=$?
    if [ $rc -eq 0 ] && grep -qx 'TB PASS' "$log"; then
        ok "$name: $(grep -o 'out: [0-9]* elements.*' "$log" | sed 's/ compared.*(/, /; s/)$//')"
    else
        bad "$name: expected PASS, run_tb.sh exited $rc"; sed 's/^/        /' "$log" | tail -n 15
    fi
}

# expect_fail NAME DIR PATTERN: run_tb.sh must exit 1 and its output must contain PATTERN.
expect_fail() {
    local name=$1 dir=$2 pattern=$3 log="$WORK/$1.log" rc=0
    "$TB_DIR/run_tb.sh" "$dir" >"$log" 2>&1 || rc=$?
    if [ $rc -eq 1 ] && grep -q 'TB FAIL' "$log" && grep -qF -- "$pattern" "$log"; then
        ok "$name: failed as expected: $(grep -m1 -E 'MISMATCH|ERROR' "$log")"
    else
        bad "$name: expected FAIL with '$pattern', run_tb.sh exited $rc"; sed 's/^/        /' "$log" | tail -n 15
    fi
}

# flip_bit FILE LINE BIT: flip bit BIT (0 = least significant) of the hex word on line LINE.
flip_bit() {
    local file=$1 line=$2 bit=$3 word pos digit new
    word=$(sed -n "${line}p" "$file")
    pos=$(( ${#word} - 1 - bit / 4 ))
    digit=$(printf '%x' $(( 0x${word:pos:1} ^ (1 << (bit % 4)) )))
    new="${word:0:pos}${digit}${word:pos+1}"
    sed -i "${line}s/.*/${new}/" "$file"
    echo "        $(basename "$file") line $line bit $bit: $word -> $new"
}

# copy_case SRC NAME: a fresh copy of a case folder, echoes its path.
copy_case() { rm -rf "$WORK/$2"; cp -r "$1" "$WORK/$2"; echo "$WORK/$2"; }

echo "tb: simulator cases ($SIM)"
gen() {  # gen KV SEED [ARGS...]: run the simulator quietly into a fresh folder, echo the case folder
    local kv=$1 seed=$2 out cases
    shift 2
    out=$(mktemp -d "$WORK/sim.XXXXXX")
    "$SIM" run --kv-size "$kv" --seed "$seed" --out "$out" "$@" >"$out.log" 2>&1 \
        || { cat "$out.log" >&2; echo "tb: $SIM run failed" >&2; exit 2; }
    # kv-size-N_seed-S, with _<F>_<G>, _rule-<R>, _dist-<D> for other formats (docs/dump-format.md)
    cases=$(cd "$out" && ls -d "kv-size-${kv}_seed-${seed}"* 2>/dev/null || true)
    [ -n "$cases" ] && [ "$(echo "$cases" | wc -l)" -eq 1 ] \
        || { echo "tb: $SIM wrote no single kv-size-${kv}_seed-${seed}* folder in $out" >&2; exit 2; }
    echo "$out/$cases"
}
C1=$(gen 1 3)
C33=$(gen 33 0)
C300=$(gen 300 7 --element-rounding nearest-even)
CSMALL=$(gen 64 11 --heads 5 --head-dim 24)
expect_pass sim-kv1-seed3 "$C1"
expect_pass sim-kv33-seed0 "$C33"
expect_pass sim-kv300-seed7-nearest-even "$C300"
expect_pass sim-kv64-seed11-5heads-24cols "$CSMALL"

# MXFP exp and v (docs/numerics.md section 3.1): small shapes, every exp format, each line width
MX1=$(gen 100 3 --exp-format mxfp8-e4m3 --v-format mxfp4-e2m1 --heads 4 --head-dim 8)
MX2=$(gen 40 5 --exp-format mxfp6-e2m3 --v-format mxfp6-e3m2 --heads 4 --head-dim 8)
MX3=$(gen 70 2 --exp-format mxfp4-e2m1 --v-format mxfp8-e5m2 --scale-rule rceil --dist corners --heads 16 --head-dim 4)
MX4=$(gen 33 2 --exp-format mxfp6-e3m2 --v-format mxfp6-e2m3 --scale-rule even --dist mixed \
          --element-rounding nearest-away --heads 16 --head-dim 4)
MX5=$(gen 50 4 --exp-format mxfp8-e5m2 --v-format mxint8 --scale-rule ceil --dist corners --heads 16 --head-dim 4)
expect_pass sim-mxfp8-e4m3-exp-mxfp4-e2m1-v "$MX1"
expect_pass sim-mxfp6-e2m3-exp-mxfp6-e3m2-v "$MX2"
expect_pass sim-mxfp4-e2m1-exp-mxfp8-e5m2-v-rceil-corners "$MX3"
expect_pass sim-mxfp6-e3m2-exp-mxfp6-e2m3-v-even-mixed-nearest-away "$MX4"
expect_pass sim-mxfp8-e5m2-exp-mxint8-v-ceil-corners "$MX5"

if [ -n "$PY" ]; then
    echo "tb: hand-made cases ($PY gen_hand_case.py)"
    # hand NAME ARGS...: generate a hand-made case, then it must pass
    hand() {
        local name=$1 rc=0
        shift
        "$PY" "$TB_DIR/gen_hand_case.py" "$WORK/$name" "$@" >"$WORK/$name.gen.log" 2>&1 || rc=$?
        sed 's/^/        /' "$WORK/$name.gen.log"
        if [ $rc -ne 0 ]; then bad "$name: gen_hand_case.py exited $rc"; return; fi
        expect_pass "$name" "$WORK/$name"
    }
    hand hand-nearest-away --element-rounding nearest-away --seed 1
    hand hand-nearest-even --element-rounding nearest-even --seed 2
    hand hand-mxfp6-e2m3-exp-mxfp4-e2m1-v-rceil --exp-format mxfp6-e2m3 --v-format mxfp4-e2m1 \
        --scale-rule rceil --seed 3
elif [[ ",${SIM_SKIP:-}," == *",python,"* ]]; then
    echo "tb: SKIPPED (SIM_SKIP=python) hand-made cases: no python3"
else
    bad "hand-made cases: no python3 (run 'make venv', or opt out with SIM_SKIP=python)"
fi

echo "tb: broken copies must fail"
M=$(copy_case "$C33" flip-out)
flip_bit "$M/softmaxed_v.out" 1234 0
expect_fail flip-one-bit-out "$M" "MISMATCH out index 1233 (line 1234, head 9, column 81)"

M=$(copy_case "$C33" flip-inv)
flip_bit "$M/softmaxed_v.inv" 5 0
expect_fail flip-one-bit-inv "$M" ", head 4, column"

M=$(copy_case "$C33" flip-mx-scale)
flip_bit "$M/softmaxed_v.exp_mxint8" 3 256
expect_fail flip-one-bit-exp_mxint8-scale "$M" "MISMATCH exp_mxint8 line 3"

M=$(copy_case "$C33" flip-mx-padding)
flip_bit "$M/softmaxed_v.exp_mxint8" 4 43
expect_fail flip-one-bit-exp_mxint8-padding "$M" "element 5 (kv 37, padding)"

M=$(copy_case "$C33" short-out)
sed -i '$d' "$M/softmaxed_v.out"
expect_fail missing-last-line-out "$M" "has 4095 lines, expected 4096"

M=$(copy_case "$C33" short-word)
sed -i '7s/^..//' "$M/softmaxed_v.exp_mxint8"
expect_fail truncated-264-bit-word "$M" "line 7: 64 characters, expected 66 hex digits"

# MXFP dumps of the cases above: exp has heads*ceil(kv/32) lines, v heads*ceil(kv/32)*head_dim
M=$(copy_case "$MX2" short-200-bit-exp)           # mxfp6-e2m3 exp: first digit dropped
sed -i '2s/^.//' "$M/softmaxed_v.exp_mxfp6-e2m3"
expect_fail truncated-200-bit-exp-word "$M" "exp_mxfp6-e2m3 line 2: 49 characters, expected 50 hex digits"

M=$(copy_case "$MX2" long-200-bit-v)              # mxfp6-e3m2 v: one digit too many
sed -i '5s/$/0/' "$M/softmaxed_v.v"
expect_fail lengthened-200-bit-v-word "$M" "softmaxed_v.v line 5: 51 characters, expected 50 hex digits"

M=$(copy_case "$MX1" short-136-bit-v)             # mxfp4-e2m1 v: last digit (element 0) dropped
sed -i '3s/.$//' "$M/softmaxed_v.v"
expect_fail truncated-136-bit-v-word "$M" "softmaxed_v.v line 3: 33 characters, expected 34 hex digits"

M=$(copy_case "$MX3" long-136-bit-exp)            # mxfp4-e2m1 exp: a leading 0 too many
sed -i '1s/^/0/' "$M/softmaxed_v.exp_mxfp4-e2m1"
expect_fail lengthened-136-bit-exp-word "$M" "exp_mxfp4-e2m1 line 1: 35 characters, expected 34 hex digits"

M=$(copy_case "$MX2" upper-hex)                   # a 50-digit line with an uppercase digit
sed -i '3s/^./F/' "$M/softmaxed_v.exp_mxfp6-e2m3"
expect_fail uppercase-hex-200-bit-exp-word "$M" "exp_mxfp6-e2m3 line 3: character 'F' is not lowercase hex"

M=$(copy_case "$MX2" short-v)
sed -i '$d' "$M/softmaxed_v.v"
expect_fail missing-last-line-mxfp6-v "$M" "softmaxed_v.v has 63 lines, expected 64"

M=$(copy_case "$MX1" flip-e4m3-elem)              # mxfp8-e4m3 exp line 2 = head 0, block 1
flip_bit "$M/softmaxed_v.exp_mxfp8-e4m3" 2 41     # element 5 (kv 37), bit 1 of its code
expect_fail flip-one-bit-exp_mxfp8-e4m3-element "$M" "element 5 (kv 37, exp-bf16"

M=$(copy_case "$MX2" flip-e2m3-elem)              # mxfp6-e2m3 exp line 1: element 1 = bits 6..11;
flip_bit "$M/softmaxed_v.exp_mxfp6-e2m3" 1 7      # bit 7 shares its hex digit with element 0's bits
expect_fail flip-one-bit-exp_mxfp6-e2m3-element "$M" "element 1 (kv 1, exp-bf16"

M=$(copy_case "$MX3" flip-e2m1-scale)             # mxfp4-e2m1 exp line 5: the scale byte's lsb
flip_bit "$M/softmaxed_v.exp_mxfp4-e2m1" 5 128
expect_fail flip-one-bit-exp_mxfp4-e2m1-scale "$M" "scale byte: expected 88, got 89"

M=$(copy_case "$MX1" flip-v-padding)              # mxfp4-e2m1 v: kv 100 = 3 blocks + 4, so line
flip_bit "$M/softmaxed_v.v" 25 40                 # 25 (head 0, block 3, column 0) pads from element 4
expect_fail flip-one-bit-mxfp4-v-padding "$M" "MISMATCH v line 25 (head 0, block 3, column 0): element 10 (kv 106, padding)"

if [ -n "$PY" ] && [ -d "$WORK/hand-nearest-away" ]; then
    # a subnormal result in the hand-made case: flip its lowest bit
    M=$(copy_case "$WORK/hand-nearest-away" flip-hand-subnormal)
    L=$(grep -n -m1 '^00[0-7][1-9a-f]$' "$M/softmaxed_v.out" | cut -d: -f1)
    flip_bit "$M/softmaxed_v.out" "$L" 0
    expect_fail flip-one-bit-hand-subnormal "$M" "(line $L,"
fi

echo "tb: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
