#!/usr/bin/env bash
# paused-sim.sh -- test.sh's stand-in for `sim` (SIM=paused-sim.sh, REAL_SIM=the binary).
#
# The test's sweep is small, so a task finishes in a fraction of a second, before the test could
# cancel it or its time limit could pass. For the array tasks listed in PAUSE_TASKS, this runs
# the real sim for PAUSE_AFTER seconds, then stops it (SIGSTOP, as if the node had descheduled
# it) until a signal arrives: such a task is caught half-way through its shard, whatever the
# machine's speed, and the real sim handles the real SIGCONT/SIGTERM that Slurm sends. It writes
# PAUSED-<task> into MARK_DIR once the task is paused. Other tasks run sim directly.
set -u
case ",${PAUSE_TASKS:-}," in
    *",${SLURM_ARRAY_TASK_ID:-none},"*) ;;
    *) exec "$REAL_SIM" "$@" ;;
esac
"$REAL_SIM" "$@" &
child=$!
# Slurm signals every process of the job (SIGCONT, then SIGTERM); pass them on in case only this
# shell was signalled, and let sim run to its clean stop.
trap 'kill -CONT "$child" 2>/dev/null; kill -TERM "$child" 2>/dev/null' TERM INT
sleep "${PAUSE_AFTER:-0.05}"
kill -STOP "$child" 2>/dev/null && touch "$MARK_DIR/PAUSED-$SLURM_ARRAY_TASK_ID"
# `wait` returns early (above 128) when a trapped signal arrives, before sim has exited: wait
# again, until sim's own status (or 127, no such child) comes back; 137 is sim killed by SIGKILL.
rc=129
while [ "$rc" -gt 128 ] && [ "$rc" -ne 137 ]; do
    wait "$child"
    rc=$?
done
exit "$rc"
