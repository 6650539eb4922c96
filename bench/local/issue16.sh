#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 16 figures on the local backend (bwrap, default poll interval), through ferryd's API:
#  1. container log throughput through the shim (CRI lines, rotation at the default 10Mi x 5):
#     300 MB of short lines and 300 MB of 1 KiB lines, against the same producer writing to
#     /dev/null in the same sandbox (what the shim costs);
#  2. what probes cost: the shim's CPU time over 20 s for a container with no probe, an exec
#     liveness probe every second, an httpGet readiness probe every second;
#  3. a Job of 200 completions, parallelism 50, pods of `true`: time to Complete.
#   bench/local/issue16.sh [BUILD_DIR]      (root: cgroups; prints a table)
set -u
build=${1:-build}
command -v bwrap >/dev/null || { echo "bench-16: no bwrap: skipped"; exit 0; }
dir=$(mktemp -d /tmp/ferry-bench16.XXXXXX)
chmod 711 "$dir"
sock=$dir/ferryd.sock pods=$dir/state/local/pods
"$build/src/ferryd/ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local \
  --runtime bwrap >"$dir/ferryd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; pkill -f "ferry-shim $dir/"; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
for _ in $(seq 200); do
  curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "ferryd died:"; tail "$dir/ferryd.log"; exit 1; }
  sleep 0.05
done
n=0
# create NAME SCRIPT [EXTRA_CONTAINER_JSON]: sets u to the new pod's uid
create() {
  n=$((n + 1))
  u=$(printf '16000000-0000-4000-8000-%012d' "$n")
  printf '{"pod":{"metadata":{"name":"%s","namespace":"bench","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"]%s}]}}}' \
    "$1" "$u" "$2" "${3:-}" | curl -s -o /dev/null --unix-socket "$sock" --data-binary @- http://unix/create
}
wait_done() { for _ in $(seq 6000); do [ -e "$pods/$1/done" ] && return 0; sleep 0.02; done; return 1; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

echo "| figure | value |"
echo "|---|---|"
# 1. logs: 3,000,000 lines of 100 bytes (with the counter), 300,000 of 1000 bytes
short='i=0; while [ $i -lt 30 ]; do seq -f \"%099g\" 1 100000; i=$((i+1)); done'
long='i=0; while [ $i -lt 3 ]; do seq -f \"%0999g\" 1 100000; i=$((i+1)); done'
for kind in short long; do
  s=${!kind}
  t=$(date +%s%N); create "null-$kind" "($s) >/dev/null"; wait_done "$u"; base=$(ms "$t")
  t=$(date +%s%N); create "logs-$kind" "$s"; wait_done "$u"; full=$(ms "$t")
  size=$([ $kind = short ] && echo "100 B" || echo "1000 B")
  echo "| 300 MB of $size lines: to /dev/null / through the shim | ${base} ms / ${full} ms ($(( 300000 / full )) MB/s through the shim) |"
done
# 2. probes: the shim's CPU over 20 s
shim_cpu() { # uid -> utime+stime of its shim in ms
  local sp
  sp=$(cut -d" " -f1 "$pods/$1/shim.pid" 2>/dev/null) || return
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15 + $16 + $17) * 1000 / hz) }' "/proc/$sp/stat"
}
create none 'sleep 25'; u0=$u
create exec 'sleep 25' ',"livenessProbe":{"exec":{"command":["true"]},"periodSeconds":1}'; u1=$u
create http 'mkdir /tmp/w; echo ok >/tmp/w/i; busybox httpd -f -p 127.0.0.1:18090 -h /tmp/w \u0026 sleep 25' \
  ',"readinessProbe":{"httpGet":{"path":"/i","port":18090},"periodSeconds":1}'; u2=$u
for _ in $(seq 200); do [ -e "$pods/$u2/shim.pid" ] && [ -e "$pods/$u0/shim.pid" ] && break; sleep 0.05; done
sleep 2
a0=$(shim_cpu "$u0") a1=$(shim_cpu "$u1") a2=$(shim_cpu "$u2")
sleep 20
b0=$(shim_cpu "$u0") b1=$(shim_cpu "$u1") b2=$(shim_cpu "$u2")
echo "| shim CPU over 20 s: no probe / exec liveness 1/s / httpGet readiness 1/s | $((b0 - a0)) ms / $((b1 - a1)) ms / $((b2 - a2)) ms (children included) |"
wait_done "$u0"; wait_done "$u1"; wait_done "$u2"
# 3. a Job: 200 completions, parallelism 50
req='{"pod":{"metadata":{"name":"x","namespace":"bench"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["true"]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}'
job='{"job":{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"wide","namespace":"bench"},"spec":{"completions":200,"parallelism":50}},"request":'$req'}'
t=$(date +%s%N)
curl -s -o /dev/null --unix-socket "$sock" -X POST --data-binary "$job" http://unix/jobs
for _ in $(seq 3000); do
  curl -s --unix-socket "$sock" -X GET -d '{"namespace":"bench","name":"wide"}' http://unix/jobs | grep -q '"type":"Complete"' && break
  sleep 0.1
done
echo "| Job of 200 pods (true), parallelism 50, poll 1 s: created to Complete | $(ms "$t") ms (ideal: 4 polls of 50) |"
