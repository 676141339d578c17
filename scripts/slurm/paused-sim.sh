#!/usr/bin/env bash
# paused-sim.sh -- test.sh's stand-in for `sim` (SIM=paused-sim.sh, REAL_SIM=the binary).
#
# The test's sweep is small, so a task finishes in a fraction of a second, before the test could
# cancel it or its time limit could pass. For the array tasks listed in PAUSE_TASKS, this runs
# the real sim and stops it (SIGSTOP, as if the node had descheduled it) at its first progress
# line (case 2 of a 40-case shard), until a signal arrives: such a task is caught early in its
# shard whatever the machine's speed (a fixed delay let a fast sim finish first), and the real
# sim handles the real SIGCONT/SIGTERM that Slurm sends. It writes PAUSED-<task> into MARK_DIR
# once the task is paused. Other tasks run sim directly.
set -u
case ",${PAUSE_TASKS:-}," in
    *",${SLURM_ARRAY_TASK_ID:-none},"*) ;;
    *) exec "$REAL_SIM" "$@" ;;
esac
# sim's stderr through a FIFO, read here line by line (and copied to this task's log).
fifo="$MARK_DIR/progress-$SLURM_ARRAY_TASK_ID"
rm -f "$fifo" && mkfifo "$fifo"
"$REAL_SIM" "$@" 2>"$fifo" &
child=$!
exec 3<"$fifo"
rm -f "$fifo"
# Slurm signals every process of the job (SIGCONT, then SIGTERM); pass them on in case only this
# shell was signalled, and let sim run to its clean stop.
trap 'kill -CONT "$child" 2>/dev/null; kill -TERM "$child" 2>/dev/null' TERM INT
while IFS= read -r line <&3; do
    printf '%s\n' "$line" >&2
    case $line in "gen: "*) break ;; esac
done
kill -STOP "$child" 2>/dev/null && touch "$MARK_DIR/PAUSED-$SLURM_ARRAY_TASK_ID"
# The rest of sim's stderr (its clean-stop message among it) still reaches the log: a reader that
# Slurm's SIGTERM does not end, or sim's next line would meet a closed pipe.
(trap '' TERM INT; exec cat <&3 >&2) &
drain=$!
# `wait` returns early (above 128) when a trapped signal arrives, before sim has exited: wait
# again, until sim's own status (or 127, no such child) comes back; 137 is sim killed by SIGKILL.
rc=129
while [ "$rc" -gt 128 ] && [ "$rc" -ne 137 ]; do
    wait "$child"
    rc=$?
done
wait "$drain" 2>/dev/null
exit "$rc"
