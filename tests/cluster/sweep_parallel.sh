#!/usr/bin/env bash
# `nibble sweep --emit-joblist` run by GNU parallel: the example sweep's 4 points, one command
# each, with a joblog and --resume. The merged table must equal that of a plain
# `nibble sweep --jobs 2`; a second `parallel --resume` must run nothing; a deleted result must
# come back by running its joblist line alone.
#   tests/cluster/sweep_parallel.sh NIBBLE SOURCE_DIR
# Exit status: 0 passed, 1 failed, 77 skipped (no `parallel` on PATH; scripts/setup installs it).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 NIBBLE SOURCE_DIR" >&2
  exit 2
fi
if ! command -v parallel >/dev/null 2>&1; then
  echo "sweep_parallel: skipped: GNU parallel is not on PATH (scripts/setup installs it)" >&2
  exit 77
fi

nibble=$(realpath "$1")
spec=$(realpath "$2/configs/sweeps/mlp-array-scratchpad.json")
# The shard defaults come from these; a test run inside a Slurm job must not inherit them.
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"  # parallel's own temporary files

fail() {
  echo "sweep_parallel: FAILED: $*" >&2
  exit 1
}
step() { echo "sweep_parallel: $*"; }

# The reference: one process, two workers.
"$nibble" sweep "$spec" --out "$tmp/ref" --jobs 2 --quiet || fail "the reference sweep exited $?"
"$nibble" sweep merge "$tmp/ref" >/dev/null || fail "merging the reference exited $?"
step "reference: $(tail -n +2 "$tmp/ref/results.csv" | wc -l) points"

# The job list: one line per point, `NIBBLE sweep SPEC --out DIR --point ID --quiet`, all paths
# absolute, the ids those of the reference's points.json, in order.
out="$tmp/par"
list="$tmp/jobs.txt"
"$nibble" sweep "$spec" --out "$out" --emit-joblist "$list" >/dev/null ||
  fail "--emit-joblist exited $?"
/usr/bin/python3 - "$list" "$nibble" "$spec" "$out" "$tmp/ref/points.json" <<'PY' ||
import json, os, shlex, sys
listfile, nibble, spec, out, points = sys.argv[1:]
text = open(listfile).read()
if not text.endswith("\n"):
    sys.exit("the job list does not end with a newline")
lines = text.splitlines()
ids = [p["id"] for p in json.load(open(points))["points"]]
if len(lines) != len(ids):
    sys.exit(f"the job list has {len(lines)} lines, the sweep {len(ids)} points")
for n, (line, pid) in enumerate(zip(lines, ids), 1):
    argv = shlex.split(line)
    want = [nibble, "sweep", spec, "--out", out, "--point", pid, "--quiet"]
    if len(argv) != len(want) or argv[1] != "sweep" or argv[3:] != want[3:]:
        sys.exit(f"line {n}: expected {shlex.join(want)!r}, found {line!r}")
    for got, path, what in ((argv[0], nibble, "nibble"), (argv[2], spec, "spec")):
        if not os.path.isabs(got) or not os.path.samefile(got, path):
            sys.exit(f"line {n}: the {what} path {got!r} is not the absolute path of {path!r}")
PY
  fail "the job list $list is not as expected:"$'\n'"$(cat "$list")"
step "job list: $(wc -l <"$list") commands"

# Run it: every job must be logged with exit value 0 (and no signal).
joblog="$tmp/joblog.txt"
run_parallel() { parallel --will-cite --joblog "$joblog" --resume -j 2 <"$list"; }
run_parallel || fail "parallel exited $?"
check_joblog() {
  # Columns: Seq Host Starttime JobRuntime Send Receive Exitval Signal Command.
  awk -F'\t' -v want="$1" '
    NR == 1 { if ($7 != "Exitval" || $8 != "Signal") { print "unexpected header: " $0; bad = 1 } next }
    { jobs++; if ($7 != 0 || $8 != 0) { print "job " $1 ": exit " $7 ", signal " $8; bad = 1 } }
    END { if (jobs != want) { print "jobs logged: " jobs + 0 ", expected " want; bad = 1 } exit bad }
  ' "$joblog"
}
check_joblog 4 || fail "the joblog is not as expected:"$'\n'"$(cat "$joblog")"
"$nibble" sweep merge "$out" --check >/dev/null || fail "merge --check after parallel exited $?"
cmp "$tmp/ref/results.csv" "$out/results.csv" || fail "results.csv differs from the reference"
cmp "$tmp/ref/results.jsonl" "$out/results.jsonl" || fail "results.jsonl differs from the reference"
cmp "$tmp/ref/points.json" "$out/points.json" || fail "points.json differs from the reference"
step "parallel: 4 jobs, exit 0; merge equals the reference"

# --resume again: parallel runs nothing (the joblog keeps its 4 job lines).
cp "$joblog" "$tmp/joblog.before"
run_parallel || fail "the second parallel --resume exited $?"
cmp -s "$tmp/joblog.before" "$joblog" ||
  fail "parallel --resume ran jobs again:"$'\n'"$(cat "$joblog")"
step "parallel --resume: ran nothing"

# A point whose result is ok is skipped by its own command: result.json is not rewritten (its
# inode stays, where an atomic rewrite would give a new one).
point_of_line() { sed -n "$1p" "$list" | awk '{ for (i = 1; i < NF; i++) if ($i == "--point") print $(i + 1) }'; }
first=$(point_of_line 1)
[ -f "$out/runs/$first/result.json" ] || fail "no result for $first (job list line 1)"
inode=$(stat -c %i "$out/runs/$first/result.json")
bash -c "$(sed -n 1p "$list")" || fail "rerunning the first job list line exited $?"
[ "$(stat -c %i "$out/runs/$first/result.json")" = "$inode" ] ||
  fail "rerunning the job list line of $first (ok) rewrote its result.json"
step "rerun of an ok point: skipped"

# Lose the second point's result: merge --check fails and names it; its joblist line, run by
# hand, brings it back (no need for parallel --resume-failed).
second=$(point_of_line 2)
[ -f "$out/runs/$second/result.json" ] || fail "no result for $second (job list line 2)"
rm "$out/runs/$second/result.json"
set +e
merge_out=$("$nibble" sweep merge "$out" --check 2>&1)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "merge --check with $second missing exited $rc, expected 1:"$'\n'"$merge_out"
grep -q -- "$second" <<<"$merge_out" || fail "merge --check does not name the missing $second:"$'\n'"$merge_out"
bash -c "$(sed -n 2p "$list")" || fail "running job list line 2 by hand exited $?"
"$nibble" sweep merge "$out" --check >/dev/null || fail "merge --check after the rerun exited $?"
cmp "$tmp/ref/results.csv" "$out/results.csv" || fail "results.csv after the rerun differs"
step "lost result of $second: merge --check exit 1, back after its line ran; merge equals the reference"
step "passed"
