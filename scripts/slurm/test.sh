#!/usr/bin/env bash
# test.sh -- `make slurm-test`: a `sim gen` sweep on a real Slurm, broken and repaired.
#
# Brings up a throwaway one-node cluster (cluster.sh: munged, slurmctld, slurmd, all files in a
# temporary folder), then:
#  1. submits the sweep (submit.sh: an array of SHARDS tasks of gen.sbatch, merge.sbatch after
#     it with --dependency=afterany);
#  2. cancels task CANCEL (scancel) while it is half-way through its shard, and lets task
#     TIMEOUT_TASK run into its time limit (its end time is moved to now with scontrol, see
#     below); both must stop cleanly: "stopped by a signal", a shard index with complete=false;
#  3. checks that the merge job failed (exit 1) naming exactly those two shards;
#  4. resubmits just those tasks (ARRAY=...) and a merge, which must succeed;
#  5. checks every case is present once, `sim check` passes on the whole output, and the
#     merged index.json is byte for byte the one a single-process `sim gen` writes.
# The daemons are stopped by PID and the folder removed on every exit, passing or not.
#
# The time limit: Slurm counts limits in minutes and enforces them in a sweep every 30 s, so a
# task submitted with --time=1 would take up to 90 s to time out. Moving the running task's end
# time to now (scontrol update EndTime=now) leaves the enforcement to Slurm as it is (state
# TIMEOUT, reason TimeLimit, SIGCONT+SIGTERM then SIGKILL after KillWait) and costs at most one
# 30 s sweep. The tasks to break are held half-way through by paused-sim.sh (the sweep is small
# and would otherwise be done before anything could interrupt it).
#
# Needs root (the daemons run as root) and the Debian packages slurm-wlm and munge: installed
# when run as root with apt-get, else the test fails naming the command, unless SIM_SKIP
# (comma-separated) lists slurm.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIM=${SIM:-$ROOT/target/release/sim}
KV_SIZES=1..=40
SEEDS=0..8
SHARDS=8
CANCEL=1
TIMEOUT_TASK=2
# The longest any step may take before the test gives up (the time limit step needs up to 35 s).
STEP_LIMIT=${SLURM_TEST_STEP_LIMIT:-90}

say() { echo "slurm-test: $*"; }

skip_or_fail() {
    if [[ ",${SIM_SKIP:-}," == *",slurm,"* ]]; then
        say "SKIPPED (SIM_SKIP=slurm): $1"
        exit 0
    fi
    echo "slurm-test: FAILED: $1" >&2
    echo "slurm-test: run 'apt-get install -y slurm-wlm munge' as root and run the test as root, or opt out with SIM_SKIP=slurm" >&2
    exit 2
}

ensure_slurm() {
    local tools="munged slurmctld slurmd sbatch scancel scontrol sinfo squeue"
    local t missing=""
    for t in $tools; do command -v "$t" > /dev/null 2>&1 || missing+=" $t"; done
    [ "$(id -u)" -eq 0 ] || skip_or_fail "the test runs the Slurm daemons as root"
    if [ -n "$missing" ] && command -v apt-get > /dev/null 2>&1; then
        say "installing slurm-wlm and munge (missing:$missing)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge > /dev/null
    fi
    for t in $tools; do
        command -v "$t" > /dev/null 2>&1 || skip_or_fail "$t is not installed"
    done
}

ensure_slurm
[ -x "$SIM" ] || { echo "slurm-test: no simulator binary at $SIM (cargo build --release -p sim, or set SIM=...)" >&2; exit 2; }
SIM=$(cd "$(dirname "$SIM")" && pwd)/$(basename "$SIM")
# shellcheck source=cluster.sh
source "$HERE/cluster.sh"

T=$(mktemp -d /tmp/sim-slurm-test.XXXXXX)
cleanup() {
    cluster_down
    # SLURM_TEST_KEEP=1 keeps the folder (logs, output, cluster state) to look into a failure.
    [ -n "${SLURM_TEST_KEEP:-}" ] && say "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
START=$SECONDS

fail() {
    echo "slurm-test: FAILED: $*" >&2
    local f
    for f in "$T"/logs/*.log; do
        [ -e "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# wait_until DESCRIPTION COMMAND...: poll COMMAND until it succeeds, at most STEP_LIMIT seconds.
wait_until() {
    local what=$1 deadline=$((SECONDS + STEP_LIMIT))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not after $STEP_LIMIT s"
        sleep 0.2
    done
}

# field JOB NAME: a field of `scontrol show job` (JobState, ExitCode, ...).
field() { scontrol show job -o "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
ended() { case "$(field "$1" JobState)" in PENDING | RUNNING | COMPLETING | CONFIGURING | REQUEUED) return 1 ;; esac; }

# submit ARRAY_SPEC SIM_FOR_TASKS: submit.sh; sets JOB and MERGE.
submit() {
    local out
    out=$(ARRAY=$1 OUT=$T/out KV_SIZES=$KV_SIZES SEEDS=$SEEDS SHARDS=$SHARDS \
        REAL_SIM=$SIM SIM=$2 PAUSE_TASKS=$CANCEL,$TIMEOUT_TASK MARK_DIR=$T \
        "$HERE/submit.sh" --cpus-per-task=1 --mem=256M --output="$T/logs/%x-%j.log")
    JOB=$(awk '$1 == "array" {print $2}' <<< "$out")
    MERGE=$(awk '$1 == "merge" {print $2}' <<< "$out")
    say "submitted array $JOB (--array=$1), merge $MERGE"
}

expect_state() {
    local got
    got=$(field "$1" JobState)
    [ "$got" = "$2" ] || fail "job $1 is $got, expected $2"
}

# The shard index of task $1 says the shard is incomplete, and its log says sim stopped cleanly.
expect_clean_stop() {
    local ix=$T/out/index.shard-$1-of-$SHARDS.json log
    log=$T/logs/sim-gen-$(field "${JOB}_$1" JobId).log
    grep -q "stopped  by a signal" "$log" || fail "task $1 did not stop cleanly: $(cat "$log")"
    grep -q '"complete": false' "$ix" || fail "$ix does not say it is incomplete"
    say "task $1: $(grep -c '"case"' "$ix") case(s) complete, then stopped cleanly ($(grep '^stopped' "$log"))"
}

mkdir -p "$T/logs"
cluster_up "$T/cluster" || fail "the cluster did not come up"
"$SIM" gen --kv-sizes "$KV_SIZES" --seeds "$SEEDS" --out "$T/ref" > /dev/null 2>&1 \
    || fail "the single-process sweep failed"
CASES=$(find "$T/ref" -mindepth 1 -maxdepth 1 -type d | wc -l)
say "sweep: kv $KV_SIZES x seeds $SEEDS = $CASES cases in $SHARDS shards"

# 1-2: the sweep, one task cancelled, one timed out.
submit "0-$((SHARDS - 1))" "$HERE/paused-sim.sh"
wait_until "task $CANCEL paused" test -e "$T/PAUSED-$CANCEL"
scancel "${JOB}_$CANCEL"
say "cancelled task $CANCEL (scancel ${JOB}_$CANCEL)"
wait_until "task $TIMEOUT_TASK paused" test -e "$T/PAUSED-$TIMEOUT_TASK"
scontrol update JobId="${JOB}_$TIMEOUT_TASK" EndTime=now
say "task $TIMEOUT_TASK: end time moved to now; waiting for Slurm to enforce its time limit"
wait_until "the merge job" ended "$MERGE"
say "first round ended after $((SECONDS - START)) s"
for ((i = 0; i < SHARDS; i++)); do
    case $i in
        "$CANCEL") expect_state "${JOB}_$i" CANCELLED ;;
        "$TIMEOUT_TASK") expect_state "${JOB}_$i" TIMEOUT ;;
        *) expect_state "${JOB}_$i" COMPLETED ;;
    esac
done
expect_clean_stop "$CANCEL"
expect_clean_stop "$TIMEOUT_TASK"

# 3: the merge names exactly the two shards.
merge_log=$T/logs/sim-gen-merge-$MERGE.log
[ "$(field "$MERGE" ExitCode)" = "1:0" ] || fail "merge exit $(field "$MERGE" ExitCode), expected 1: $(cat "$merge_log")"
grep -q "run shards $CANCEL,$TIMEOUT_TASK of $SHARDS again" "$merge_log" \
    || fail "the merge did not name shards $CANCEL,$TIMEOUT_TASK: $(tail -n 3 "$merge_log")"
[ ! -e "$T/out/index.json" ] || fail "index.json written for an incomplete sweep"
say "merge: $(tail -n 1 "$merge_log")"

# 4: rerun just those tasks.
submit "$CANCEL,$TIMEOUT_TASK" "$SIM"
wait_until "the second merge job" ended "$MERGE"
expect_state "${JOB}_$CANCEL" COMPLETED
expect_state "${JOB}_$TIMEOUT_TASK" COMPLETED
expect_state "$MERGE" COMPLETED
say "rerun: $(grep -h '^gen ' "$T"/logs/sim-gen-"$(field "${JOB}_$CANCEL" JobId)".log)"

# 5: the result.
diff <(ls -A "$T/ref" | grep -v '^index') <(ls -A "$T/out" | grep -v '^index') \
    || fail "the case folders differ from the single-process sweep's (above)"
[ "$(grep -c '"case"' "$T/out/index.json")" -eq "$CASES" ] || fail "index.json does not list $CASES cases"
"$SIM" check "$T/out" > "$T/check.txt" || fail "sim check: $(tail -n 3 "$T/check.txt")"
say "sim check: $(tail -n 1 "$T/check.txt")"
cmp "$T/ref/index.json" "$T/out/index.json" || fail "merged index.json differs from the single run's"
say "merged index.json is byte for byte the single-process sweep's"
say "passed in $((SECONDS - START)) s"
