#!/bin/bash
# bench/node/run.sh [BUILD_DIR] [N] [RATE]
# 1,000 pods bound to ferry-node at 100 pods/s: the API server double, ferryd
# with the fake backend (jobs finish at the first poll), ferry-node, and
# bench-node, which measures bind -> JobID and counts API requests per pod.
# (Needs `subdir('node')` in bench/meson.build for BUILD/bench/node/bench-node.)
set -u
build=${1:-build}; n=${2:-1000}; rate=${3:-100}
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$root/$build
dir=$(mktemp -d /tmp/ferry-bench-node.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
"$b/tests/kube/kube-apiserver-double" --listen 127.0.0.1:0 --kubeconfig-out "$dir/kubeconfig" >"$dir/double.out" 2>"$dir/double.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready ' "$dir/double.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^ready //p' "$dir/double.out")
"$b/src/ferryd/ferryd" --listen "unix://$dir/ferryd.sock" --state-dir "$dir/state" --backend fake \
  --poll-interval-ms 200 >"$dir/ferryd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/ferryd.sock" ] && break; sleep 0.05; done
"$b/src/node/ferry-node" --node-name bench-node --kubeconfig "$dir/kubeconfig" --ferryd-url "unix://$dir/ferryd.sock" \
  --kubelet-port 0 --status-interval-ms 1000 --log-level warning ${FERRY_NODE_ARGS:-} >"$dir/node.out" 2>"$dir/node.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'ferry-node ready' "$dir/node.out" 2>/dev/null && break; sleep 0.05; done
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); ferry-node ${FERRY_NODE_ARGS:-(defaults)}"
KUBECONFIG="$dir/kubeconfig" NODE=bench-node "$b/bench/node/bench-node" "$url" "$n" "$rate"
rc=$?
grep -E "WARN|ERR" "$dir/node.log" | head -5
exit $rc
