#!/bin/bash
# SPDX-License-Identifier: MIT
# Hop A against the real upstream: interLink 0.6.2's own Virtual Kubelet, against a real
# kube-apiserver (v1.33.1 on etcd), calling ferryd as its interLink API (local backend, bwrap).
# The conformance pods, created as Kubernetes pods bound to the VK's node, reach their phase in
# the API server with their exit codes and JobID, and their logs read as `kubectl logs` reads
# them (API server -> the VK's kubelet port -> ferryd /getLogs).
#   vk-ferryd.sh FERRYD NODE_E2E CASES_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/watch.sh"
. "$here/need.sh"
. "$here/kube-up.sh"
. "$here/interlink.sh"
ferryd=$1 e2e=$2 cases=$3
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
command -v bwrap >/dev/null || { echo "SKIP: bwrap missing"; exit 77; }
upstream_need interlink
upstream_need kube
[ -x "${INTERLINK_VK:-}" ] || { echo "FAIL: no interLink Virtual Kubelet after the build"; exit 1; }
d=$(mktemp -d /tmp/ferry-vk.XXXXXX)
chmod 711 "$d"
pids=()
rc=1
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  kube_down
  if [ "$rc" != 0 ]; then
    echo "--- VK log (tail)"; tail -n 30 "$d/vk.log"
    echo "--- ferryd log (tail)"; tail -n 15 "$d/ferryd.log"
  fi
  rm -rf "$d"
}
trap cleanup EXIT
kube_up "$d" || exit 1
"$ferryd" --listen "unix://$d/ferryd.sock" --state-dir "$d/state" --backend local --runtime bwrap \
  --poll-interval-ms 200 >"$d/ferryd.log" 2>&1 &
fpid=$!; pids+=($fpid)
for _ in $(seq 100); do { [ -S "$d/ferryd.sock" ] || ! watch_alive $fpid; } && break; sleep 0.05; done
[ -S "$d/ferryd.sock" ] || { echo "FAIL: ferryd did not start"; exit 1; }
VK_VERBOSE=true interlink_vk_start "$d" vk-upstream "unix://$d/ferryd.sock" "$d/admin.kubeconfig" \
  "$(kube_free_port)" || exit 1
vpid=$VK_PID; pids+=($vpid)
echo "ok - upstream's VK registered node vk-upstream (Ready) with ferryd as its interLink API"
export KUBECONFIG=$d/admin.kubeconfig NODE=vk-upstream E2E_LOGS_VIA_API=$KUBE_URL
export E2E_API_TOKEN=$KUBE_ADMIN_TOKEN E2E_API_CA=$KUBE_CA
watch_run "$KUBE_WATCH ferryd:$fpid:$d/ferryd.log vk:$vpid:$d/vk.log" "$e2e" conformance "$cases"
rc=$?
exit $rc
