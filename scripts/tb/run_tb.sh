#!/usr/bin/env bash
# run_tb.sh CASE_DIR -- check a softmax_v case folder (from `sim run`) with the Verilog testbench:
# out = RNE_bf16(scaled_v * inv) through bf16_mul_rne.v for every (head, column), every word of
# exp's MX quantization softmaxed_v.exp_<F> against the quantization of exp-bf16, and every line
# of softmaxed_v.v (width, count, zero padding). See tb_softmax_out.v.
#
# Sizes and formats come from CASE_DIR/manifest.json: num_heads, head_dim, kv_size, and from
# params exp_format and v_format (absent: mxint8), scale_rule (absent: floor) and
# element_rounding (absent: the default of exp's format, nearest-away for mxint8, nearest-even
# for the MXFP formats); the dtype of the files softmaxed_v.v and softmaxed_v.exp_<F> must agree
# when the manifest lists them. Any of the six MX formats of docs/numerics.md section 8: lines of
# 66 hex digits for mxint8 and mxfp8, 50 for mxfp6, 34 for mxfp4.
#
# Without a manifest the sizes are derived from line counts (heads = lines of inv, head_dim =
# lines of scaled_v / heads, kv_size = lines of exp-bf16 / heads); exp's format is $EXP_FORMAT or
# that of the one softmaxed_v.exp_<F> file, v's is $V_FORMAT or else exp's when the line widths
# agree (else the first format of v's line width); the rule is $SCALE_RULE (floor if unset) and the
# element rounding $ELEMENT_ROUNDING (exp's format default if unset).
#
# Exit status: 0 all matched (or SKIPPED: iverilog missing outside CI), 1 mismatch or malformed
# dumps, 2 usage error, missing files or a manifest that contradicts itself.
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

for f in softmaxed_v.scaled_v softmaxed_v.inv softmaxed_v.out softmaxed_v.exp-bf16 softmaxed_v.v; do
    [ -f "$CASE_DIR/$f" ] || die "missing $CASE_DIR/$f"
done

lines() { wc -l < "$CASE_DIR/$1" | tr -d ' '; }

# The MX formats of docs/numerics.md section 8.1: the testbench's code and the hex digits a line.
MX_FORMATS="mxint8 mxfp8-e4m3 mxfp8-e5m2 mxfp6-e3m2 mxfp6-e2m3 mxfp4-e2m1"
fmt_code() {
    case "$1" in
        mxint8) echo 0 ;; mxfp8-e4m3) echo 1 ;; mxfp8-e5m2) echo 2 ;;
        mxfp6-e3m2) echo 3 ;; mxfp6-e2m3) echo 4 ;; mxfp4-e2m1) echo 5 ;;
        *) die "unknown MX format '$1' (expected one of: $MX_FORMATS)" ;;
    esac
}
fmt_digits() { case "$1" in mxfp6-*) echo 50 ;; mxfp4-*) echo 34 ;; *) echo 66 ;; esac; }
fmt_rounding() { case "$1" in mxint8) echo nearest-away ;; *) echo nearest-even ;; esac; }

# One integer or string field of the (fixed-layout) manifest; empty if absent.
manifest_int() { grep -o "\"$1\": *[0-9]*" "$CASE_DIR/manifest.json" | head -n1 | grep -o '[0-9]*$' || true; }
manifest_str() { grep -o "\"$1\": *\"[^\"]*\"" "$CASE_DIR/manifest.json" | head -n1 | sed 's/.*: *"\(.*\)"/\1/' || true; }
# The dtype of a file listed in the manifest's "files" (empty if not listed).
manifest_dtype() {
    tr -d ' \t\r\n' < "$CASE_DIR/manifest.json" | grep -o "\"$1\":{\"dtype\":\"[^\"]*\"" | head -n1 \
        | sed 's/.*:"\(.*\)"$/\1/' || true
}

if [ -f "$CASE_DIR/manifest.json" ]; then
    HEADS=$(manifest_int num_heads)
    HEAD_DIM=$(manifest_int head_dim)
    KV_SIZE=$(manifest_int kv_size)
    ROUNDING=$(manifest_str element_rounding)
    EXP_FMT=$(manifest_str exp_format)
    V_FMT=$(manifest_str v_format)
    RULE=$(manifest_str scale_rule)
    [ -n "$HEADS" ] && [ -n "$HEAD_DIM" ] && [ -n "$KV_SIZE" ] \
        || die "$CASE_DIR/manifest.json lacks num_heads, head_dim or kv_size"
    EXP_FMT=${EXP_FMT:-mxint8}
    V_FMT=${V_FMT:-mxint8}
    fmt_code "$EXP_FMT" >/dev/null
    fmt_code "$V_FMT" >/dev/null
    # the files' dtypes, when listed, must say the same as params
    DT=$(manifest_dtype "softmaxed_v.exp_$EXP_FMT")
    [ -z "$DT" ] || [ "$DT" = "$EXP_FMT" ] \
        || die "manifest.json: files.softmaxed_v.exp_$EXP_FMT has dtype '$DT', not '$EXP_FMT'"
    DT=$(manifest_dtype softmaxed_v.v)
    [ -z "$DT" ] || [ "$DT" = "$V_FMT" ] \
        || die "manifest.json: files.softmaxed_v.v has dtype '$DT', but params say v_format '$V_FMT'"
    SIZES_FROM=manifest.json
else
    HEADS=$(lines softmaxed_v.inv)
    [ "$HEADS" -gt 0 ] || die "softmaxed_v.inv is empty"
    HEAD_DIM=$(( $(lines softmaxed_v.scaled_v) / HEADS ))
    KV_SIZE=$(( $(lines softmaxed_v.exp-bf16) / HEADS ))
    ROUNDING=${ELEMENT_ROUNDING:-}
    RULE=${SCALE_RULE:-}
    EXP_FMT=${EXP_FORMAT:-}
    if [ -z "$EXP_FMT" ]; then
        for f in $MX_FORMATS; do
            if [ -f "$CASE_DIR/softmaxed_v.exp_$f" ]; then
                [ -z "$EXP_FMT" ] || die "both softmaxed_v.exp_$EXP_FMT and softmaxed_v.exp_$f, and no manifest.json: set EXP_FORMAT"
                EXP_FMT=$f
            fi
        done
        [ -n "$EXP_FMT" ] || die "no softmaxed_v.exp_<F> for any MX format F in $CASE_DIR"
    fi
    fmt_code "$EXP_FMT" >/dev/null
    V_FMT=${V_FORMAT:-}
    if [ -z "$V_FMT" ]; then
        VW=$(head -n1 "$CASE_DIR/softmaxed_v.v" | tr -d '\r\n' | wc -c | tr -d ' ')
        if [ "$VW" -eq "$(fmt_digits "$EXP_FMT")" ]; then V_FMT=$EXP_FMT
        else
            for f in $MX_FORMATS; do
                if [ -z "$V_FMT" ] && [ "$VW" -eq "$(fmt_digits "$f")" ]; then V_FMT=$f; fi
            done
            V_FMT=${V_FMT:-$EXP_FMT}    # an odd width: the testbench reports it
        fi
    fi
    fmt_code "$V_FMT" >/dev/null
    SIZES_FROM="line counts (no manifest.json)"
fi
EXP_FILE=softmaxed_v.exp_$EXP_FMT
[ -f "$CASE_DIR/$EXP_FILE" ] || die "missing $CASE_DIR/$EXP_FILE (exp_format $EXP_FMT)"
RULE=${RULE:-floor}
case "$RULE" in
    floor) RULE_CODE=0 ;; ceil) RULE_CODE=1 ;; even) RULE_CODE=2 ;; rceil) RULE_CODE=3 ;;
    *) die "unknown scale_rule '$RULE'" ;;
esac
ROUNDING=${ROUNDING:-$(fmt_rounding "$EXP_FMT")}
case "$ROUNDING" in
    nearest-away) ELEM_RNE=0 ;;
    nearest-even) ELEM_RNE=1 ;;
    *) die "unknown element_rounding '$ROUNDING'" ;;
esac
[ "$HEADS" -gt 0 ] && [ "$HEAD_DIM" -gt 0 ] && [ "$KV_SIZE" -gt 0 ] \
    || die "bad sizes: heads=$HEADS head_dim=$HEAD_DIM kv_size=$KV_SIZE"
# The testbench checks these counts against heads * ceil(kv_size / 32) (* head_dim for v) and
# the files themselves.
KV_LINES=$(lines "$EXP_FILE")
[ "$KV_LINES" -gt 0 ] || KV_LINES=1
V_LINES=$(lines softmaxed_v.v)
[ "$V_LINES" -gt 0 ] || V_LINES=1

echo "run_tb: $CASE_DIR"
echo "run_tb: sizes from $SIZES_FROM: heads=$HEADS head_dim=$HEAD_DIM kv_size=$KV_SIZE exp_format=$EXP_FMT v_format=$V_FMT scale_rule=$RULE element_rounding=$ROUNDING ${EXP_FILE#softmaxed_v.}_lines=$KV_LINES v_lines=$V_LINES"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/run_tb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if ! iverilog -g2005 -Wall -o "$WORK/tb.vvp" -s tb_softmax_out \
        -DHEADS="$HEADS" -DHEAD_DIM="$HEAD_DIM" -DKV_SIZE="$KV_SIZE" -DKV_LINES="$KV_LINES" \
        -DV_LINES="$V_LINES" -DEXP_FMT="$(fmt_code "$EXP_FMT")" -DV_FMT="$(fmt_code "$V_FMT")" \
        -DSCALE_RULE="$RULE_CODE" -DELEM_RNE="$ELEM_RNE" \
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
