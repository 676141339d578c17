# cluster.sh -- a throwaway one-node Slurm cluster in a temporary folder (sourced by test.sh).
#
# cluster_up DIR starts munged, slurmctld and slurmd with every file (key, socket, config,
# state, spool, logs, PID files) under DIR, as root, and waits until sinfo shows the node idle;
# cluster_down stops the three daemons by the PIDs it recorded. Nothing outside DIR is written,
# so a system Slurm or munge on the machine is left alone (other ports, another socket).
#
# After cluster_up, SLURM_CONF points the client commands (sbatch, squeue, scontrol, scancel)
# at this cluster.

CLUSTER_PIDS=()

cluster_log() { echo "slurm-test: $*"; }

# munged with its key, socket, PID, log and seed files under $1/munge.
start_munge() {
    local m=$1/munge
    mkdir -p "$m" && chmod 700 "$m"
    if command -v mungekey > /dev/null 2>&1; then
        mungekey --create --keyfile="$m/munge.key" --force
    else
        dd if=/dev/urandom of="$m/munge.key" bs=1 count=1024 status=none
    fi
    chmod 400 "$m/munge.key"
    munged --foreground --force --socket="$m/munge.socket" --key-file="$m/munge.key" \
        --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed" \
        > "$m/munged.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    local i
    for i in $(seq 50); do
        [ -S "$m/munge.socket" ] && return 0
        sleep 0.1
    done
    cluster_log "munged did not start:"; cat "$m/munged.out" "$m/munged.log" >&2 2>/dev/null
    return 1
}

# slurm.conf for this node: its real CPUs and memory (from slurmd -C), cons_tres, state and
# spool under $1, KillWait 5 s (a stopped sweep needs well under a second), OverTimeLimit 0.
write_conf() {
    local d=$1 node
    node=$(slurmd -C | head -1)
    mkdir -p "$d/state" "$d/spool" "$d/log"
    cat > "$d/slurm.conf" <<EOF
ClusterName=simtest
SlurmctldHost=$(hostname -s)
SlurmctldPort=${SLURM_TEST_PORT:-16817}
SlurmdPort=$(( ${SLURM_TEST_PORT:-16817} + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
MpiDefault=none
ReturnToService=2
KillWait=5
OverTimeLimit=0
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$node State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

cluster_up() {
    local d=$1 i
    start_munge "$d" || return 1
    write_conf "$d"
    export SLURM_CONF=$d/slurm.conf
    slurmctld -D -c -f "$SLURM_CONF" > "$d/log/slurmctld.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    slurmd -D -f "$SLURM_CONF" > "$d/log/slurmd.out" 2>&1 &
    CLUSTER_PIDS+=($!)
    for i in $(seq 300); do
        if [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; then
            cluster_log "node $(hostname -s) idle after $((i / 10)).$((i % 10)) s"
            return 0
        fi
        sleep 0.1
    done
    cluster_log "the node never became idle:"
    sinfo >&2 || true
    tail -n 20 "$d"/log/*.log "$d"/log/*.out >&2 2>/dev/null
    return 1
}

# Jobs still running when the test stops early (a failed step) would outlive the daemons in
# their slurmstepd: cancel them and give them KillWait (5 s) and a margin to end.
cancel_jobs() {
    local ids
    ids=$(squeue -h -o %A 2> /dev/null) || return 0
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086 # one job id a word
    scancel $ids 2> /dev/null || true
    for _ in $(seq 100); do
        [ -z "$(squeue -h -o %A 2> /dev/null)" ] && return 0
        sleep 0.1
    done
}

# Stop the daemons this shell started (by PID, newest first), waiting for each, after the jobs.
cluster_down() {
    local i pid
    [ ${#CLUSTER_PIDS[@]} -eq 0 ] || cancel_jobs
    for ((i = ${#CLUSTER_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${CLUSTER_PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}
