#!/bin/bash
# SPDX-License-Identifier: MIT
# ferry-node against a real kube-apiserver (v1.33.1 on etcd, scripts/build-upstream.sh): the
# scenarios of tests/node/e2e.sh (registration, lease, the conformance pods as Kubernetes pods,
# logs through the kubelet port, Events, deletion, orphans, restart without a second
# submission, ferryd down and up), with ferry-node authenticated as its own ServiceAccount and
# authorised only by deploy/kubernetes/rbac.yaml. Arguments as tests/node/e2e.sh, or as
# the script FERRY_NODE_E2E_SCRIPT names (e.g. lifecycle.sh) in tests/node/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib/watch.sh"
. "$here/need.sh"
. "$here/kube-up.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
upstream_need kube
d=$(mktemp -d /tmp/ferry-kube.XXXXXX)
trap 'kube_down; rm -rf "$d"' EXIT
kube_up "$d" || exit 1
"$KUBECTL" --kubeconfig "$d/admin.kubeconfig" apply -f "$root/deploy/kubernetes/rbac.yaml" >/dev/null ||
  { echo "FAIL: kubectl apply deploy/kubernetes/rbac.yaml"; exit 1; }
kube_sa_kubeconfig ferry ferry-node "$d/node.kubeconfig" || { echo "FAIL: no token for ferry/ferry-node"; exit 1; }
export FERRY_E2E_KUBE_URL=$KUBE_URL FERRY_E2E_KUBE_CA=$KUBE_CA FERRY_E2E_ADMIN_TOKEN=$KUBE_ADMIN_TOKEN
export FERRY_E2E_ADMIN_KUBECONFIG=$d/admin.kubeconfig FERRY_E2E_NODE_KUBECONFIG=$d/node.kubeconfig
export FERRY_E2E_KUBE_WATCH=$KUBE_WATCH
bash "$root/tests/node/${FERRY_NODE_E2E_SCRIPT:-e2e.sh}" "$@"
