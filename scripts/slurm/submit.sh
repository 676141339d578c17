#!/usr/bin/env bash
# submit.sh -- queue a `sim gen` sweep on Slurm: the array of gen.sbatch, then merge.sbatch as a
# job that runs once every task has ended, however it ended (--dependency=afterany).
#
#   OUT=/shared/softmax_v KV_SIZES=1..=4096 SEEDS=0..8 SHARDS=64 scripts/slurm/submit.sh
#   ARRAY=3,17 OUT=... (same sweep) scripts/slurm/submit.sh     # rerun what the merge listed
#
# Extra arguments go to both sbatch calls (e.g. --partition=long, --output=logs/%x-%A_%a.log).
# Prints `array JOBID` and `merge JOBID`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OUT:?OUT: the sweep folder, on a filesystem every node shares}"
: "${KV_SIZES:?KV_SIZES: the kv sizes of the sweep}"
: "${SHARDS:?SHARDS: the number of array tasks (shards) of the sweep}"
array=${ARRAY:-0-$((SHARDS - 1))}
export OUT KV_SIZES SHARDS SEEDS="${SEEDS:-0}" GEN_ARGS="${GEN_ARGS:-}" SIM="${SIM:-sim}"
job=$(sbatch --parsable --array="$array" --export=ALL "$@" "$here/gen.sbatch")
job=${job%%;*}
merge=$(sbatch --parsable --dependency="afterany:$job" --export=ALL "$@" "$here/merge.sbatch")
echo "array $job"
echo "merge ${merge%%;*}"
