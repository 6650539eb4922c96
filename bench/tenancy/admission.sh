#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 11 figures through a real ferryd (fake backend, default 1 s poll):
#  1. the admission round with 10,000 waiting pods of 100 tenants: ferryd's own
#     ferry_admission_round_seconds histogram (the time a round holds the pod
#     table: collecting the waiting pods, deciding, updating their status) and
#     the time per admitted pod, while pods of 1-4 CPUs x 1-4 s flow through a
#     site of 256 CPUs;
#  2. preemption latency on the local backend (host runtime): a guaranteed pod
#     created on a site full of preemptible pods that ignore SIGTERM (grace 1 s)
#     -> Running, 20 times.
#   bench/tenancy/admission.sh [BUILD_DIR]      (prints Markdown)
set -u
build=${1:-build}
ferryd=$build/src/ferryd/ferryd
fb=$build/bench/core/ferry-bench
dir=$(mktemp -d /tmp/ferry-bench11.XXXXXX)
chmod 711 "$dir"
sock=$dir/ferryd.sock
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; pkill -f "ferry-shim $dir/"; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
up() {
  for _ in $(seq 200); do
    curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && return 0
    kill -0 $pid 2>/dev/null || { echo "ferryd died:"; tail "$dir/ferryd.log"; exit 1; }
    sleep 0.05
  done
  echo "ferryd did not come up"; exit 1
}
metric() { curl -s --unix-socket "$sock" http://unix/metrics | awk -v m="$1" '$1 == m {print $2}'; }

# ---- 1. rounds with 10,000 waiting pods
{
  echo "backend: fake"
  echo "backend_options: {cpu: \"256\", pods: \"20000\"}"
  echo "tenancy:"
  echo "  tenants:"
  for t in $(seq 0 99); do
    printf '    - {name: t%03d, weight: %d' "$t" $((1 + t % 4))
    [ $((t % 2)) = 0 ] && printf ', quota: {cpu: "%d"}' $((4 + t % 8))
    echo "}"
  done
} >"$dir/ferryd.yaml"
"$ferryd" -c "$dir/ferryd.yaml" --listen "unix://$sock" --state-dir "$dir/state" >"$dir/ferryd.log" 2>&1 &
pid=$!
up
t0=$(date +%s%N)
created=$("$fb" create --unix "$sock" -n 10000 -c 16 --tenants 100)
t1=$(date +%s%N)
waiting() { curl -s --unix-socket "$sock" http://unix/metrics | awk '$1 ~ /^ferry_tenant_waiting_pods/ {s += $2} END {print s+0}'; }
# the first rounds give each of the 10,000 its waiting reason (stored): steady state is read
# between 10 s and 40 s
sleep 10
s0=$(metric ferry_admission_round_seconds_sum)
c0=$(metric ferry_admission_round_seconds_count)
a0=$(metric ferry_admitted_pods_total)
w0=$(waiting)
first=$(awk -v s="$s0" -v c="$c0" 'BEGIN {printf "%.1f ms in %d rounds", 1000 * s, c}')
sleep 30
sum=$(awk -v a="$(metric ferry_admission_round_seconds_sum)" -v b="$s0" 'BEGIN {print a - b}')
count=$(( $(metric ferry_admission_round_seconds_count) - c0 ))
admitted=$(( $(metric ferry_admitted_pods_total) - a0 ))
w1=$(waiting)
# p99 from the cumulative buckets: the first bound with >= 99% of the rounds
p99=$(curl -s --unix-socket "$sock" http://unix/metrics | awk -v n="$(metric ferry_admission_round_seconds_count)" '
  /^ferry_admission_round_seconds_bucket/ { split($1, a, "le=\""); le = a[2]; sub(/".*/, "", le);
    if ($2 >= 0.99 * n && !done) { print le; done = 1 } }')
kill $pid; wait $pid 2>/dev/null; pid=
echo "### Site admission: rounds with 10,000 waiting pods of 100 tenants"
echo
echo "| figure | value |"
echo "|---|---|"
echo "| 10,000 creates over 16 connections | $(( (t1 - t0) / 1000000 )) ms ($(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$created") creates/s) |"
echo "| the first 10 s (every waiting pod gets its reason) | $first |"
echo "| pods waiting at 10 s / at 40 s | $w0 / $w1 |"
echo "| rounds from 10 s to 40 s | $count |"
echo "| pods admitted in them | $admitted |"
awk -v s="$sum" -v c="$count" -v a="$admitted" -v p="$p99" 'BEGIN {
  printf "| mean round (table locked) | %.2f ms |\n", 1000 * s / c;
  printf "| p99 round over the whole run (histogram bucket bound) | <= %s s |\n", p;
  printf "| per admitted pod (round time / pods admitted) | %.3f ms |\n", 1000 * s / a }'
echo

# ---- 2. preemption latency
rm -rf "$dir/state" "$dir/ferryd.log"
cat >"$dir/ferryd.yaml" <<YAML
backend: local
runtime: host
backend_options: {host_namespaces: "*", max_pods: "4"}
poll_interval_ms: 100
tenancy:
  tenants:
    - {name: batch}
    - {name: users}
YAML
"$ferryd" -c "$dir/ferryd.yaml" --listen "unix://$sock" --state-dir "$dir/state" >"$dir/ferryd.log" 2>&1 &
pid=$!
up
create() { # ns name uid preemptible script
  local ann=""
  [ "$4" = 1 ] && ann=',"annotations":{"ferry.io/preemptible":"true"}'
  printf '{"pod":{"metadata":{"name":"%s","namespace":"%s","uid":"%s"%s},"spec":{"terminationGracePeriodSeconds":1,"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c","%s"]}]}}}' \
    "$2" "$1" "$3" "$ann" "$5" | curl -s -o /dev/null --unix-socket "$sock" --data-binary @- http://unix/create
}
phase() { curl -s --unix-socket "$sock" -d "[{\"metadata\":{\"uid\":\"$1\",\"namespace\":\"$2\",\"name\":\"$3\"}}]" http://unix/status | grep -o '"phase":"[A-Za-z]*"' | head -1 | cut -d'"' -f4; }
wait_running() { for _ in $(seq 1000); do [ "$(phase "$@")" = Running ] && return 0; sleep 0.01; done; return 1; }
ignore='trap \"\" TERM; while :; do sleep 0.1; done'
for i in 1 2 3 4; do create batch b$i b$i 1 "$ignore"; wait_running b$i batch b$i; done
lat=()
for i in $(seq 20); do
  s=$(date +%s%N)
  create users g$i g$i 0 "exec sleep 300"
  wait_running g$i users g$i || { echo "g$i did not run"; tail "$dir/ferryd.log"; exit 1; }
  lat+=($(( ($(date +%s%N) - s) / 1000000 )))
  curl -s -o /dev/null --unix-socket "$sock" -d "{\"metadata\":{\"uid\":\"g$i\",\"namespace\":\"users\",\"name\":\"g$i\"}}" http://unix/delete
  # the room comes back to batch
  create batch r$i r$i 1 "$ignore"; wait_running r$i batch r$i
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
echo "### Preemption latency (local backend, host runtime, grace period 1 s, poll 100 ms)"
echo
echo "| preemptions | p50 | p99 (max of 20) | grace period |"
echo "|---|---|---|---|"
echo "| 20 | $(sed -n 10p <<<"$sorted") ms | $(tail -1 <<<"$sorted") ms | 1000 ms |"
