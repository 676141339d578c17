#!/usr/bin/env bash
# run_tb.sh CASE_DIR -- check a softmax_v case folder (from `sim run`) with the Verilog testbench:
# out = RNE_bf16(scaled_v * inv) through bf16_mul_rne.v for every (head, column), and every 264-bit
# exp_mxint8 word against the quantization of exp-bf16. See tb_softmax_out.v.
#
# Sizes come from CASE_DIR/manifest.json (num_heads, head_dim, kv_size, element_rounding); without
# a manifest they are derived from line counts (heads = lines of inv, head_dim = lines of scaled_v
# / heads, kv_size = lines of exp-bf16 / heads) and the element rounding is $ELEMENT_ROUNDING
# (nearest-away if unset).
#
# Exit status: 0 all matched (or SKIPPED: iverilog missing outside CI), 1 mismatch or malformed
# dumps, 2 usage error or missing files.
# If iverilog is missing: with CI=true it is installed (apt-get), otherwise the run is skipped.
set -euo pipefail

TB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "run_tb: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: run_tb.sh CASE_DIR"
[ -d "$1" ] || die "not a folder: $1"
CASE_DIR=$(cd "$1" && pwd)
case "$CASE_DIR" in
    *'"'* | *'\'*) die "case path must not contain quotes or backslashes: $CASE_DIR" ;;
esac

if ! command -v iverilog >/dev/null 2>&1 || ! command -v vvp >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "run_tb: iverilog not installed; CI=true, installing it (apt-get install -y iverilog)"
        if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq iverilog
        command -v iverilog >/dev/null 2>&1 || die "iverilog still missing after apt-get install"
    else
        echo "SKIPPED: iverilog not installed (apt-get install iverilog)"
        exit 0
    fi
fi

for f in softmaxed_v.scaled_v softmaxed_v.inv softmaxed_v.out softmaxed_v.exp-bf16 softmaxed_v.exp_mxint8; do
    [ -f "$CASE_DIR/$f" ] || die "missing $CASE_DIR/$f"
done

lines() { wc -l < "$CASE_DIR/$1" | tr -d ' '; }

# One integer or string field of the (fixed-layout) manifest; empty if absent.
manifest_int() { grep -o "\"$1\": *[0-9]*" "$CASE_DIR/manifest.json" | head -n1 | grep -o '[0-9]*$' || true; }
manifest_str() { grep -o "\"$1\": *\"[^\"]*\"" "$CASE_DIR/manifest.json" | head -n1 | sed 's/.*: *"\(.*\)"/\1/' || true; }

if [ -f "$CASE_DIR/manifest.json" ]; then
    HEADS=$(manifest_int num_heads)
    HEAD_DIM=$(manifest_int head_dim)
    KV_SIZE=$(manifest_int kv_size)
    ROUNDING=$(manifest_str element_rounding)
    [ -n "$HEADS" ] && [ -n "$HEAD_DIM" ] && [ -n "$KV_SIZE" ] \
        || die "$CASE_DIR/manifest.json lacks num_heads, head_dim or kv_size"
    SIZES_FROM=manifest.json
else
    HEADS=$(lines softmaxed_v.inv)
    [ "$HEADS" -gt 0 ] || die "softmaxed_v.inv is empty"
    HEAD_DIM=$(( $(lines softmaxed_v.scaled_v) / HEADS ))
    KV_SIZE=$(( $(lines softmaxed_v.exp-bf16) / HEADS ))
    ROUNDING=${ELEMENT_ROUNDING:-}
    SIZES_FROM="line counts (no manifest.json)"
fi
ROUNDING=${ROUNDING:-nearest-away}
case "$ROUNDING" in
    nearest-away) ELEM_RNE=0 ;;
    nearest-even) ELEM_RNE=1 ;;
    *) die "unknown element_rounding '$ROUNDING'" ;;
esac
[ "$HEADS" -gt 0 ] && [ "$HEAD_DIM" -gt 0 ] && [ "$KV_SIZE" -gt 0 ] \
    || die "bad sizes: heads=$HEADS head_dim=$HEAD_DIM kv_size=$KV_SIZE"
# The testbench checks this count against heads * ceil(kv_size / 32) and the file itself.
KV_LINES=$(lines softmaxed_v.exp_mxint8)
[ "$KV_LINES" -gt 0 ] || KV_LINES=1

echo "run_tb: $CASE_DIR"
echo "run_tb: sizes from $SIZES_FROM: heads=$HEADS head_dim=$HEAD_DIM kv_size=$KV_SIZE exp_mxint8_lines=$KV_LINES element_rounding=$ROUNDING"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/run_tb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if ! iverilog -g2005 -Wall -o "$WORK/tb.vvp" -s tb_softmax_out \
        -DHEADS="$HEADS" -DHEAD_DIM="$HEAD_DIM" -DKV_SIZE="$KV_SIZE" -DKV_LINES="$KV_LINES" \
        -DELEM_RNE="$ELEM_RNE" \
        "$TB_DIR/../../examples/rtl/bf16_mul_rne.v" "$TB_DIR/tb_softmax_out.v" >"$WORK/compile.log" 2>&1; then
    cat "$WORK/compile.log" >&2
    die "iverilog compile failed"
fi
# iverilog -Wall on these sources is expected to be silent; show anything it says.
[ -s "$WORK/compile.log" ] && cat "$WORK/compile.log" >&2

set +e
vvp -n "$WORK/tb.vvp" "+case_dir=$CASE_DIR" >"$WORK/sim.log" 2>&1
RC=$?
set -e
cat "$WORK/sim.log"

if [ $RC -eq 0 ] && grep -qx 'TB PASS' "$WORK/sim.log" && ! grep -q 'TB FAIL' "$WORK/sim.log"; then
    echo "run_tb: PASS $CASE_DIR"
    exit 0
fi
echo "run_tb: FAIL $CASE_DIR (vvp exit status $RC)"
exit 1
