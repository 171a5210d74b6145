#!/usr/bin/env bash
# The workflow under SLURM: runs the tiny test cohort (tests/config/config.yaml, as pytest's tiny_run) once
# locally and once with `--executor slurm` on a throw-away one-node SLURM cluster started on this machine, with
# profiles/slurm, and checks that both runs wrote the same results. Run from anywhere, as root (Debian 12):
#
#   bash tests/slurm/run.sh                    # local run + SLURM run, compared
#   bash tests/slurm/run.sh --reference DIR    # SLURM run compared with an existing local run's folder DIR
#                                              # (pytest's tests/workflow/test_slurm.py passes its tiny_run)
#   bash tests/slurm/run.sh --full [...]       # the whole workflow instead of the targets below
#
# By default both runs make TARGETS only: one contrast's GSEA table (the `prepare` group: cohort, collection,
# qc_matrix, admixture, purify; then fit, contrast, enrich: the rules with 2 threads on a cluster) and the QC plots
# (the `plots` group): 5 SLURM jobs instead of ~40, 160 s instead of 532 s in pytest (issue 19; 115 s standalone
# on an idle machine since admixture and purify joined `prepare`). --full runs every rule.
#
# Needs `pip install -r requirements.txt` (snakemake-executor-plugin-slurm); installs slurmctld, slurmd,
# slurm-client and munge with apt-get when they are missing. Everything else lives in one temporary folder,
# removed at the end (kept, with its logs, when the test fails or KEEP=1). See tests/slurm/README.md.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIG=$REPO/tests/config/config.yaml
PACKAGES=(slurmctld slurmd slurm-client munge)
TIMEOUT=${SLURM_TEST_TIMEOUT:-1200}   # seconds per workflow run
export PATH=$PATH:/usr/sbin:/sbin

TARGETS=(results/enrichment/liver_met_vs_primary/GO_BP.gsea.tsv results/qc/pca.png)
REFERENCE=
while (($#)); do
    case $1 in
        --reference)
            REFERENCE=$(cd "${2:?--reference needs the folder of a finished local run}" && pwd)
            [[ -d $REFERENCE/results ]] || { echo "SLURM TEST FAILED: no results/ in $REFERENCE" >&2; exit 1; }
            shift 2 ;;
        --full) TARGETS=(); shift ;;
        *) echo "usage: bash tests/slurm/run.sh [--reference DIR] [--full]" >&2; exit 2 ;;
    esac
done

START=$SECONDS
say() { printf '== slurm test [%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() {
    printf '\nSLURM TEST FAILED: %s\n' "$*" >&2
    FAILED=1
    exit 1
}

FAILED=0
WORK=
LOCAL_PID=
cleanup() {
    local status=$?
    set +e
    if [[ -n $LOCAL_PID ]] && kill -0 "$LOCAL_PID" 2>/dev/null; then
        pkill -INT -P "$LOCAL_PID"   # the local run's `timeout`, which passes it on to Snakemake
        wait "$LOCAL_PID"
    fi
    if [[ -n $WORK ]]; then
        # The daemons of this test only, by the pids they wrote.
        if [[ -f $WORK/slurm/slurm.conf ]]; then
            SLURM_CONF=$WORK/slurm/slurm.conf scancel --full --quiet --user root 2>/dev/null
        fi
        for pidfile in "$WORK/slurm/slurmd.pid" "$WORK/slurm/slurmctld.pid" "$WORK/munge/munged.pid"; do
            [[ -s $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
        done
        for pidfile in "$WORK/slurm/slurmd.pid" "$WORK/slurm/slurmctld.pid" "$WORK/munge/munged.pid"; do
            for _ in $(seq 50); do
                [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break
                sleep 0.1
            done
            [[ -s $pidfile ]] && kill -9 "$(cat "$pidfile")" 2>/dev/null
        done
        if ((status != 0 || FAILED)) || [[ ${KEEP:-0} == 1 ]]; then
            echo "== slurm test: kept $WORK (runs, logs: local.log, slurm.log, slurm/*.log)" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. packages --------------------------------------------------------------------------------------------
python -c "import snakemake_executor_plugin_slurm" 2>/dev/null \
    || fail "snakemake-executor-plugin-slurm is not installed: pip install -r requirements.txt"
missing=0
for tool in munged mungekey slurmctld slurmd sbatch squeue scontrol srun; do
    command -v "$tool" >/dev/null || missing=1
done
if ((missing)); then
    say "apt-get install ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/tmp/slurm-test-apt.log 2>&1 \
        || { apt-get update -q >>/tmp/slurm-test-apt.log 2>&1 \
             && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>/tmp/slurm-test-apt.log 2>&1; } \
        || fail "apt-get install ${PACKAGES[*]} failed (see /tmp/slurm-test-apt.log)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slurm-test.XXXXXX")
chmod 755 "$WORK"   # munged wants every folder above its socket searchable by all

# Both runs as pytest's run_workflow runs them: no SNAKEMAKE* variables, one BLAS thread, network blocked in every
# Python process (tests/offline/sitecustomize.py).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SNAKEMAKE' || true)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export PYTHONPATH=$REPO/tests/offline${PYTHONPATH:+:$PYTHONPATH}
snakemake_run() {  # WORKDIR ARGS...: the workflow on the test cohort in WORKDIR
    local workdir=$1
    shift
    mkdir -p "$workdir"
    timeout --signal=INT --kill-after=60 "$TIMEOUT" python -m snakemake -s "$REPO/Snakefile" \
        --directory "$workdir" --configfile "$CONFIG" "$@"
}

# ---- 2. the local run, in the background while the cluster starts and runs ----------------------------------
# (profiles/default is applied by Snakemake itself, as for every run of this workflow)
if [[ -z $REFERENCE ]]; then
    say "local run -> $WORK/local (log: local.log)"
    snakemake_run "$WORK/local" --cores 2 "${TARGETS[@]}" >"$WORK/local.log" 2>&1 &
    LOCAL_PID=$!
else
    say "local run: $REFERENCE (given)"
fi

# ---- 3. munge and a one-node SLURM, private to this test ----------------------------------------------------
say "starting munged, slurmctld, slurmd"
mkdir -p "$WORK/munge" "$WORK/slurm/state" "$WORK/slurm/spool" "$WORK/bin"
chmod 755 "$WORK/munge"
mungekey --create --keyfile="$WORK/munge/munge.key" 2>/dev/null \
    || { dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none \
         && chmod 600 "$WORK/munge/munge.key"; }
MUNGE_SOCKET=$WORK/munge/munge.socket
munged --socket="$MUNGE_SOCKET" --key-file="$WORK/munge/munge.key" --pid-file="$WORK/munge/munged.pid" \
    --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/munged.seed" \
    || fail "munged did not start: $(tail -n 3 "$WORK/munge/munged.log" 2>/dev/null)"
munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET" >/dev/null || fail "munge credentials do not round-trip"

# Two free TCP ports, so that this cluster never meets another one (or another run of this test) on the machine.
read -r CTLD_PORT SLURMD_PORT < <(python - <<'EOF'
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
EOF
)
NODE=$(hostname -s)
MEMORY=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
export SLURM_CONF=$WORK/slurm/slurm.conf
cat >"$SLURM_CONF" <<EOF
# One node, no systemd, no cgroups, no accounting database (written by tests/slurm/run.sh).
ClusterName=snaketest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$WORK/slurm/state
SlurmdSpoolDir=$WORK/slurm/spool
SlurmctldPidFile=$WORK/slurm/slurmctld.pid
SlurmdPidFile=$WORK/slurm/slurmd.pid
SlurmctldLogFile=$WORK/slurm/slurmctld.log
SlurmdLogFile=$WORK/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# The node as declared below, whatever slurmd detects: 4 CPUs on this 2-core machine, so that two 2-thread jobs
# share the cores, as each job spends its first seconds in single-threaded Snakemake start-ups (see README.md).
SlurmdParameters=config_overrides
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes: the executor reads job states with squeue (no sacct).
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=4 RealMemory=${MEMORY:-4000} State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 5 "$WORK/slurm/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" -N "$NODE" || fail "slurmd did not start: $(tail -n 5 "$WORK/slurm/slurmd.log" 2>/dev/null)"
for _ in $(seq 100); do
    [[ $(sinfo -h -n "$NODE" -o %T 2>/dev/null) == idle ]] && break
    sleep 0.3
done
[[ $(sinfo -h -n "$NODE" -o %T 2>/dev/null) == idle ]] \
    || fail "the SLURM node is not idle: $(sinfo -N 2>&1 | tail -n 1); $(tail -n 5 "$WORK/slurm/slurmd.log")"

# The SLURM job step (snakemake-executor-plugin-slurm-jobstep) calls srun with every SLURM_* variable but a few
# removed, SLURM_CONF included; a real cluster has its slurm.conf where srun looks by default, this one has it
# in $WORK. So jobs see an srun that first sets SLURM_CONF (PATH reaches the jobs: sbatch --export=ALL).
printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$WORK/bin/srun"
chmod +x "$WORK/bin/srun"

# ---- 4. the SLURM run ---------------------------------------------------------------------------------------
# Job states from squeue (there is no sacct). Polling: the plugin waits --slurm-init-seconds-before-status-checks
# (default 40 s) and then 10 s longer after each check that finds no job finished: with 5 s it checks 5, 20, 45 s
# after a submission, and a job of 10-16 s here (two Snakemake start-ups and the script) is seen done at 20 s (with
# 1 s: at 33 s). --retries 0: a failing job fails the test at once. SLURM's job logs are kept (in the temporary
# folder) for a look with KEEP=1.
say "SLURM run -> $WORK/slurm_run (log: slurm.log)"
if ! PATH=$WORK/bin:$PATH snakemake_run "$WORK/slurm_run" --profile "$REPO/profiles/slurm" --executor slurm \
        --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 --seconds-between-status-checks 2 \
        --retries 0 --latency-wait 5 \
        --slurm-keep-successful-logs "${TARGETS[@]}" >"$WORK/slurm.log" 2>&1; then
    tail -n 40 "$WORK/slurm.log" >&2
    fail "the SLURM run failed (log above: $WORK/slurm.log; job logs under $WORK/slurm_run/.snakemake/slurm_logs)"
fi
say "SLURM run done: $(grep -c 'has been submitted with SLURM jobid' "$WORK/slurm.log") SLURM jobs"

if [[ -z $REFERENCE ]]; then
    say "waiting for the local run"
    if ! wait "$LOCAL_PID"; then
        LOCAL_PID=
        tail -n 40 "$WORK/local.log" >&2
        fail "the local run failed (log above: $WORK/local.log)"
    fi
    LOCAL_PID=
fi

# ---- 5. compare ---------------------------------------------------------------------------------------------
say "comparing results/"
python "$REPO/tests/slurm/compare.py" "${REFERENCE:-$WORK/local}" "$WORK/slurm_run" ${TARGETS[0]:+--subset} \
    || fail "the SLURM run's results differ from the local run's (lines above)"
say "passed"
