#!/usr/bin/env bash
# `nibble sweep --emit-slurm` on a real single-node Slurm: starts munged, slurmctld and slurmd,
# with a munge socket and a slurm.conf of their own in a temporary folder, then submits the example
# sweep as a 2-task job array with `sbatch --wait`, and checks that the merged table equals that
# of a single-process sweep and that each task ran its own shard. Every daemon it started is
# stopped when it ends (passed, failed or interrupted), and every wait is bounded.
#   tests/cluster/sweep_slurm.sh NIBBLE SOURCE_DIR
# Exit status: 0 passed, 1 failed, 77 skipped (not root, or Slurm/munge not installed:
# scripts/setup-slurm installs them).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 NIBBLE SOURCE_DIR" >&2
  exit 2
fi
skip() {
  echo "sweep_slurm: skipped: $*" >&2
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (it starts munged, slurmctld and slurmd)"
PATH="$PATH:/usr/sbin:/sbin"
for tool in slurmctld slurmd sbatch scontrol sinfo squeue scancel munged munge unmunge setpriv; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/setup-slurm installs Slurm and munge)"
done
[ -s /etc/munge/munge.key ] || skip "/etc/munge/munge.key is missing (scripts/setup-slurm creates it)"

nibble=$(realpath "$1")
spec=$(realpath "$2/configs/sweeps/mlp-array-scratchpad.json")
# The shard defaults come from these; a test run inside a Slurm job must not inherit them.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_JOB_ID

tmp=$(mktemp -d)
# Every process this test starts through Slurm (daemons, slurmstepd, the job's tasks) carries
# this variable, so that the cleanup can find them all; the test's own shell does not.
mark="NIBBLE_SWEEP_SLURM_TEST=$tmp"
export SLURM_CONF="$tmp/slurm.conf"
ctld_pid="" slurmd_pid="" munged_pid="" sbatch_pid=""
out="$tmp/out"

step() { echo "sweep_slurm: [${SECONDS}s] $*"; }
fail() {
  echo "sweep_slurm: FAILED: $*" >&2
  exit 1
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# Runs the command every 0.2 s until it succeeds (status 0) or $1 seconds have passed (status 1).
retry_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

marked_pids() {
  local d
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    grep -qzxF "$mark" "$d/environ" 2>/dev/null && echo "${d#/proc/}"
  done
  return 0
}

none_alive() {
  local pid
  for pid in "$@"; do ! alive "$pid" || return 1; done
}
# Sends TERM to the given processes, waits up to $1 seconds for them to go, then KILLs the rest.
stop_pids() {
  local wait_s=$1 pid
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  retry_for "$wait_s" none_alive "$@" || true
  for pid in "$@"; do
    if alive "$pid"; then
      echo "sweep_slurm: process $pid did not stop on TERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

show_logs() {
  local f
  for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log "$tmp"/*.stderr "$tmp"/munge/munged.log \
           "$out"/slurm/*.out; do
    [ -s "$f" ] || continue
    echo "---- ${f#"$tmp"/} (last 30 lines) ----" >&2
    tail -n 30 "$f" >&2
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ "$status" -eq 0 ] || [ "$status" -eq 77 ] || show_logs
  # Jobs still queued or running (the test failed or was interrupted): cancel them, so that
  # slurmstepd ends them and goes. This cluster is ours alone ($SLURM_CONF): all its jobs are ours.
  no_jobs() { [ -z "$(timeout 3 squeue -h 2>/dev/null)" ]; }
  if alive "$ctld_pid" && ! no_jobs; then
    timeout 5 scancel --user="$(id -un)" 2>/dev/null || true
    retry_for 10 no_jobs || echo "sweep_slurm: jobs still queued after scancel" >&2
  fi
  # sbatch and the daemons, then whatever they left (slurmstepd, tasks), then munged.
  local pid pids=()
  for pid in "$sbatch_pid" "$slurmd_pid" "$ctld_pid"; do alive "$pid" && pids+=("$pid"); done
  stop_pids 5 "${pids[@]}"
  mapfile -t pids < <(marked_pids)
  stop_pids 5 "${pids[@]}"
  if alive "$munged_pid"; then stop_pids 5 "$munged_pid"; fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'echo "sweep_slurm: interrupted" >&2; exit 130' INT
trap 'echo "sweep_slurm: terminated" >&2; exit 143' TERM

# The reference: one process.
"$nibble" sweep "$spec" --out "$tmp/ref" --jobs 2 --quiet || fail "the reference sweep exited $?"
"$nibble" sweep merge "$tmp/ref" >/dev/null || fail "merging the reference exited $?"

# munge: a munged of our own, as the munge user, on a socket in $tmp (slurm.conf's AuthInfo
# points there), so that it neither uses nor disturbs a munged that may already run.
mkdir -p "$tmp/munge"
chown munge:munge "$tmp/munge"
chmod 0711 "$tmp"  # munged (user munge) must reach $tmp/munge
socket="$tmp/munge/munge.socket"
env "$mark" setpriv --reuid=munge --regid=munge --init-groups -- \
  munged --foreground --socket="$socket" --pid-file="$tmp/munge/munged.pid" \
  --seed-file="$tmp/munge/munged.seed" --log-file="$tmp/munge/munged.log" \
  >"$tmp/munged.stderr" 2>&1 &
munged_pid=$!
munge_ok() {
  alive "$munged_pid" || fail "munged exited"
  timeout 5 munge -S "$socket" -n </dev/null 2>/dev/null |
    timeout 5 unmunge -S "$socket" >/dev/null 2>&1
}
retry_for 10 munge_ok || fail "munged does not answer after 10 s"
step "munge: munged started (pid $munged_pid)"

# Two free TCP ports in a row, for slurmctld and slurmd.
ports=$(/usr/bin/python3 - <<'PY'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False
start = random.randrange(20000, 29000)
for port in range(start, start + 900):
    if free(port) and free(port + 1):
        print(port, port + 1)
        break
PY
)
[ -n "$ports" ] || fail "found no two free TCP ports in 20000-29999"
read -r ctld_port slurmd_port <<<"$ports"

# The node's name must be this host's short name (slurmd looks itself up by it).
node=$(uname -n)
node=${node%%.*}
cpus=$(nproc 2>/dev/null || echo 2)
mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 2048); print (m > 1024 ? 1024 : (m < 1 ? 1 : m)) }' /proc/meminfo)
mkdir -p "$tmp/state" "$tmp/spool"
cat >"$SLURM_CONF" <<CONF
# Written by tests/cluster/sweep_slurm.sh: a throwaway single-node cluster.
ClusterName=nibbletest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF

env "$mark" slurmctld -D -f "$SLURM_CONF" >"$tmp/slurmctld.stderr" 2>&1 &
ctld_pid=$!
env "$mark" slurmd -D -f "$SLURM_CONF" >"$tmp/slurmd.stderr" 2>&1 &
slurmd_pid=$!
state=""
node_idle() {
  alive "$ctld_pid" || fail "slurmctld exited"
  alive "$slurmd_pid" || fail "slurmd exited"
  state=$(timeout 3 sinfo -h -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ]
}
retry_for 30 node_idle || fail "node $node is not idle after 30 s (state: '${state:-none}')"
step "slurm: node $node idle ($cpus CPUs, ports $ctld_port/$slurmd_port)"

# The job array: 2 tasks, one shard each.
script="$tmp/sweep.sbatch"
(cd "$tmp" && "$nibble" sweep "$spec" --out "$out" --emit-slurm "$script" --shard-count 2 \
  --array-limit 2 --sbatch=--time=5) >/dev/null || fail "--emit-slurm exited $?"
grep -qx '#SBATCH --array=0-1%2' "$script" || fail "no '#SBATCH --array=0-1%2' in $script"
grep -qx "#SBATCH --output=$out/slurm/%A_%a.out" "$script" || fail "no --output line for $out/slurm in $script"
grep -qx '#SBATCH --time=5' "$script" || fail "no '#SBATCH --time=5' (from --sbatch) in $script"
[ -d "$out/slurm" ] || fail "--emit-slurm did not create $out/slurm"
[ ! -e "$out/runs" ] || fail "--emit-slurm ran points"

# In the background, so that the traps for INT and TERM run at once rather than after sbatch.
(cd "$tmp" && exec env "$mark" timeout 120 sbatch --parsable --wait "$script" \
  >"$tmp/sbatch.stdout" 2>"$tmp/sbatch.stderr") &
sbatch_pid=$!
rc=0
wait "$sbatch_pid" || rc=$?
sbatch_pid=""
submitted=$(cat "$tmp/sbatch.stdout")
jobid=${submitted%%;*}
[ "$rc" -eq 0 ] || fail "sbatch --wait exited $rc (job '${jobid}'): $(cat "$tmp/sbatch.stderr")"
[[ "$jobid" =~ ^[0-9]+$ ]] || fail "sbatch --parsable printed '$submitted'"
step "slurm: job array $jobid done"

"$nibble" sweep merge "$out" --check >/dev/null || fail "merge --check exited $?"
cmp "$tmp/ref/results.csv" "$out/results.csv" || fail "results.csv differs from the reference"
cmp "$tmp/ref/results.jsonl" "$out/results.jsonl" || fail "results.jsonl differs from the reference"

# Each task's log exists and names exactly the points of its shard (k mod 2 == task).
mapfile -t ids < <(/usr/bin/python3 -c \
  'import json, sys; print("\n".join(p["id"] for p in json.load(open(sys.argv[1]))["points"]))' \
  "$out/points.json")
[ "${#ids[@]}" -eq 4 ] || fail "expected 4 points, found ${#ids[@]}"
for task in 0 1; do
  log="$out/slurm/${jobid}_$task.out"
  [ -f "$log" ] || fail "no log $log; $out/slurm has: $(ls "$out/slurm")"
  for k in "${!ids[@]}"; do
    if [ $((k % 2)) -eq "$task" ]; then
      grep -qF "${ids[$k]}" "$log" || fail "task $task's log does not name its point ${ids[$k]}"
    else
      ! grep -qF "${ids[$k]}" "$log" || fail "task $task's log names ${ids[$k]}, of the other shard"
    fi
  done
done
step "merge --check ok, equal to the reference; task logs ${jobid}_0.out and ${jobid}_1.out hold shards 0 and 1"
step "passed"
