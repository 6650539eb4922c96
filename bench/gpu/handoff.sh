#!/bin/bash
# SPDX-License-Identifier: MIT
# GPU hand-off on the local backend (issue 10): N one-GPU pods, each running
# S seconds, sent at once to ferryd (bwrap, default poll interval unless
# POLL_MS is set) on the fake four-GPU host of tests/lib/fake-gpu.sh. Prints
# the makespan against the ideal (N/4 x S), the hand-off gap on each GPU (a
# pod's start after the previous pod on that GPU finished, by the shim's
# records) as median / p90 / max, and how long the last pod waited.
#   bench/gpu/handoff.sh [BUILD_DIR] [N] [S]      (root: mknod)
set -eu
build=${1:-build} N=${2:-40} S=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lib/fake-gpu.sh"
[ "$(id -u)" = 0 ] || { echo "bench-gpu: needs root (mknod of the fake GPU nodes): skipped"; exit 0; }
command -v bwrap >/dev/null || { echo "bench-gpu: no bwrap: skipped"; exit 0; }
export FERRY_NVML_LIBRARY=$build/tests/gpu/fake-nvml/libnvidia-ml-fake.so
dir=$(mktemp -d /tmp/ferry-bench-gpu.XXXXXX)
chmod 711 "$dir"
fake_gpu_host "$dir"
sock=$dir/ferryd.sock pods=$dir/state/local/pods
poll=()
[ -n "${POLL_MS:-}" ] && poll=(--poll-interval-ms "$POLL_MS")
"$build/src/ferryd/ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local \
  --runtime bwrap "${FAKE_GPU_OPTS[@]}" "${poll[@]}" >"$dir/ferryd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do
  curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "ferryd died:"; tail "$dir/ferryd.log"; exit 1; }
  sleep 0.05
done
uids=()
for i in $(seq "$N"); do uids+=("$(printf '40000000-0000-4000-8000-%012d' "$i")"); done
t0=$(date +%s%N)
for u in "${uids[@]}"; do
  printf '{"pod":{"metadata":{"name":"h-%s","namespace":"bench","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sleep","%s"],"resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}}' \
    "${u: -4}" "$u" "$S" |
    curl -s -o /dev/null --unix-socket "$sock" --data-binary @- http://unix/create
done
t_sent=$(date +%s%N)
for u in "${uids[@]}"; do
  until [ -e "$pods/$u/done" ]; do
    kill -0 $pid 2>/dev/null || { echo "ferryd died:"; tail "$dir/ferryd.log"; exit 1; }
    sleep 0.02
  done
done
for u in "${uids[@]}"; do
  echo "$(head -1 "$pods/$u/gpus") $(sed -n 's/^started_ns=//p' "$pods/$u/state/main") $(sed -n 's/^finished_ns=//p' "$pods/$u/state/main")"
done | sort -k1,1 -k2,2n > "$dir/iv"
# gaps between consecutive pods on one GPU, in ms, sorted (mawk has no asort)
awk '$1 == g { printf "%.1f\n", ($2 - f) / 1e6 } { g = $1; f = $3 }' "$dir/iv" | sort -n > "$dir/gaps"
m=$(wc -l < "$dir/gaps")
q() { sed -n "$1p" "$dir/gaps"; }
end=$(awk '$3 > e { e = $3 } END { printf "%.0f", e }' "$dir/iv")
last=$(awk '$2 > l { l = $2 } END { printf "%.0f", l }' "$dir/iv")
awk -v t0="$t0" -v sent="$t_sent" -v end="$end" -v last="$last" -v n="$N" -v s="$S" -v m="$m" \
  -v med="$(q $(((m + 1) / 2)))" -v p90="$(q $(((m * 9 + 5) / 10)))" -v max="$(q "$m")" 'BEGIN {
  printf "bench-gpu: %d one-GPU pods of %ss on 4 GPUs, sent in %.2f s\n", n, s, (sent - t0) / 1e9
  printf "  makespan %.2f s (ideal %.2f s)\n", (end - t0) / 1e9, n / 4 * s
  printf "  hand-off gap on a GPU: median %.0f ms, p90 %.0f ms, max %.0f ms (%d hand-offs)\n", med, p90, max, m
  printf "  last pod started %.2f s after the first create\n", (last - t0) / 1e9
}'
