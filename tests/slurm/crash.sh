#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash test on real Slurm (run by with-slurm.sh): kill -9 ferryd at a random
# moment during a burst of N pods on the slurm backend, restart it on the same
# state, re-send every create (as a Virtual Kubelet retries unanswered calls),
# and check that Slurm holds exactly one job per pod (squeue -t all, by job
# name = pod uid; finished jobs stay listed for MinJobAge, 300 s) and that every
# pod ran exactly once (each appends its uid to one file).
#   crash.sh FERRYD [N]
set -u
ferryd=$1
N=${2:-300}
dir=$(mktemp -d /tmp/ferry-slurm-crash.XXXXXX)
chmod 755 "$dir"
sock="$dir/ferryd.sock"
ran="$dir/ran"
: > "$ran"
chmod 666 "$ran"
start() {
  "$ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend slurm --runtime host \
    --poll-interval-ms 500 >>"$dir/ferryd.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "ferryd did not come up"; cat "$dir/ferryd.log"; exit 1
}
body() { # uid
  printf '{"pod":{"metadata":{"name":"crash-%s","namespace":"crash","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["echo \\"$POD_MARK\\" >> %s"],"env":[{"name":"POD_MARK","value":"%s"}]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "${1:0:8}" "$1" "$ran" "$1"
}
run=$(cat /proc/sys/kernel/random/uuid | cut -c1-8)
uids=()
for i in $(seq "$N"); do uids+=("$(printf '%s-0000-4000-8000-%012d' "$run" "$i")"); done
start
t0=$(date +%s.%N)
(
  for u in "${uids[@]}"; do
    body "$u" | curl -s -o /dev/null --max-time 20 --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- http://unix/create
  done
) &
burst=$!
sleep "0.$(( RANDOM % 9 + 1 ))"
kill -9 $pid
wait $pid 2>/dev/null
echo "killed ferryd (pid $pid) during the burst; jobs in Slurm so far: $(squeue -h -a -t all -o %j | grep -c "^$run-")"
wait $burst 2>/dev/null
start
for u in "${uids[@]}"; do
  body "$u" | curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- http://unix/create
done | sort | uniq -c
done_n=0
for _ in $(seq 600); do
  done_n=$(curl -s --unix-socket "$sock" -d '[]' http://unix/status | grep -o '"phase":"Succeeded"' | wc -l)
  [ "$done_n" -ge "$N" ] && break
  sleep 0.5
done
t1=$(date +%s.%N)
kill $pid; wait $pid 2>/dev/null
fail=0
[ "$done_n" -eq "$N" ] || { echo "FAIL: $done_n of $N pods Succeeded"; fail=1; }
jobs=$(squeue -h -a -t all -o %j | grep "^$run-")
jobs_n=$(echo "$jobs" | grep -c .)
jobs_dup=$(echo "$jobs" | sort | uniq -d | wc -l)
[ "$jobs_dup" -eq 0 ] || { echo "FAIL: $jobs_dup pods have more than one Slurm job"; fail=1; }
[ "$jobs_n" -eq "$N" ] || { echo "FAIL: $jobs_n Slurm jobs for $N pods"; fail=1; }
dups=$(sort "$ran" | uniq -d | wc -l)
uniq_n=$(sort -u "$ran" | wc -l)
[ "$dups" -eq 0 ] || { echo "FAIL: $dups pods ran more than once"; fail=1; }
[ "$uniq_n" -eq "$N" ] || { echo "FAIL: $uniq_n of $N pods ran"; fail=1; }
echo "$N pods, $jobs_n Slurm jobs, $uniq_n ran, in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
if [ $fail -eq 0 ]; then
  echo "slurm crash test: $N pods, exactly one Slurm job each, each ran exactly once"
  echo "1 passed, 0 failed"
  rm -rf "$dir"
else
  grep -v " create " "$dir/ferryd.log" | tail -30; echo "state kept in $dir"
  echo "0 passed, 1 failed"
fi
exit $fail
