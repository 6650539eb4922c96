#!/bin/bash
# bench/node/run-kube.sh [BUILD_DIR] [N] [RATE]
# Pod bound -> backend job against a real kube-apiserver (v1.33.1 on etcd, built by
# scripts/build-upstream.sh), in one run, for two paths to the same ferryd (fake backend: a job
# finishes at its first poll):
#   ferry:    ferry-node (its ServiceAccount, deploy/kubernetes/rbac.yaml) -> ferryd
#   upstream: interLink 0.6.2's Virtual Kubelet -> interLink's API server -> ferryd as plugin
# bench-node binds N pods at RATE/s (each gets the API server's service-account volume, as a
# user's pod does), measures bind -> JobID annotation and counts the API server's requests
# (apiserver_request_total) per pod. Needs root only for nothing; Go for the first build.
set -u
build=${1:-build}; n=${2:-1000}; rate=${3:-100}
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$root/$build
. "$root/tests/lib/watch.sh"
. "$root/tests/upstream/need.sh"
. "$root/tests/upstream/kube-up.sh"
. "$root/tests/upstream/interlink.sh"
upstream_need kube
have_il=1
( upstream_need interlink ) >/dev/null 2>&1 || have_il=0
[ "$have_il" = 1 ] && upstream_need interlink
d=$(mktemp -d /tmp/ferry-bench-kube.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; kube_down; rm -rf "$d"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $n pods at $rate/s"
run() { # LABEL NODE: bench-node against the API server
  echo "== $1"
  KUBECONFIG=$d/admin.kubeconfig NODE=$2 BENCH_API_TOKEN=$KUBE_ADMIN_TOKEN BENCH_API_CA=$KUBE_CA \
    "$b/bench/node/bench-node" "$KUBE_URL" "$n" "$rate" "bench-$2"
}
kube_up "$d" || exit 1
k() { "$KUBECTL" --kubeconfig "$d/admin.kubeconfig" "$@"; }
k apply -f "$root/deploy/kubernetes/rbac.yaml" >/dev/null
kube_sa_kubeconfig ferry ferry-node "$d/node.kubeconfig"
"$b/src/ferryd/ferryd" --listen "unix://$d/ferryd.sock" --plugin-listen "unix://$d/plugin.sock" \
  --state-dir "$d/state" --backend fake --poll-interval-ms 200 >"$d/ferryd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$d/ferryd.sock" ] && [ -S "$d/plugin.sock" ] && break; sleep 0.05; done

# 1. ferry-node
"$b/src/node/ferry-node" --node-name ferry-bench --kubeconfig "$d/node.kubeconfig" \
  --ferryd-url "unix://$d/ferryd.sock" --kubelet-port 0 --status-interval-ms 1000 --log-level warning \
  >"$d/node.out" 2>"$d/node.log" &
npid=$!; pids+=($npid)
for _ in $(seq 200); do grep -q 'ferry-node ready' "$d/node.out" 2>/dev/null && break; sleep 0.05; done
run "ferry: ferry-node -> ferryd" ferry-bench
kill "$npid"; wait "$npid" 2>/dev/null

# 2. upstream
if [ "$have_il" = 0 ]; then
  echo "== upstream: skipped (interLink is not available from this machine's registries)"; exit 0
fi
interlink_api_start "$d" "$d/plugin.sock" || exit 1
pids+=($IL_PID)
interlink_vk_start "$d" vk-bench "unix://$d/il.sock" "$d/admin.kubeconfig" "$(kube_free_port)" || exit 1
pids+=($VK_PID)
run "upstream: interLink VK -> interLink API server -> ferryd (plugin)" vk-bench
