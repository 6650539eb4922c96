#!/bin/bash
# SPDX-License-Identifier: MIT
# ferry-node's kubelet port against a real kube-apiserver (issue 17): authentication through
# real TokenReviews and client certificates, authorisation through real SubjectAccessReviews
# decided by RBAC.
#  - `kubectl logs` through the API server (its kubelet-client certificate, CN
#    kube-apiserver-kubelet-client, bound to system:kubelet-api-admin) reads the pod's log;
#  - a ServiceAccount token whose RBAC allows nodes/proxy reads it directly on the kubelet port;
#  - a ServiceAccount token without that RBAC gets 403, an unknown token and no credentials 401,
#    a certificate of another CA 401.
#   kubelet-authz.sh FERRYD FERRY_NODE
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib/watch.sh"
. "$here/need.sh"
. "$here/kube-up.sh"
ferryd=$1 fnode=$2
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
command -v bwrap >/dev/null || { echo "SKIP: bwrap missing"; exit 77; }
upstream_need kube
d=$(mktemp -d /tmp/ferry-kubelet-authz.XXXXXX)
chmod 711 "$d"
pids=()
rc=1
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  kube_down
  [ "$rc" = 0 ] || { echo "--- ferry-node log"; tail -n 20 "$d/node.log"; }
  rm -rf "$d"
}
trap cleanup EXIT
kube_up "$d" || exit 1
k() { "$KUBECTL" --kubeconfig "$d/admin.kubeconfig" "$@"; }
k apply -f "$root/deploy/kubernetes/rbac.yaml" >/dev/null || { echo "FAIL: RBAC"; exit 1; }
kube_sa_kubeconfig ferry ferry-node "$d/node.kubeconfig" || exit 1
# the kubelet serving certificate, and another CA's client certificate
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/kubelet.key" -out "$d/kubelet.crt" -days 2 \
  -subj "/CN=ferry-authz" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other.key" -out "$d/other.crt" -days 2 \
  -subj "/CN=intruder" 2>/dev/null
"$ferryd" --listen "unix://$d/ferryd.sock" --state-dir "$d/state" --backend local --runtime bwrap \
  --poll-interval-ms 200 >"$d/ferryd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$d/ferryd.sock" ] && break; sleep 0.05; done
kport=$(kube_free_port)
"$fnode" --node-name ferry-authz --kubeconfig "$d/node.kubeconfig" --ferryd-url "unix://$d/ferryd.sock" \
  --internal-ip 127.0.0.1 --kubelet-listen 127.0.0.1 --kubelet-port "$kport" \
  --kubelet-cert "$d/kubelet.crt" --kubelet-key "$d/kubelet.key" --kubelet-client-ca "$KUBE_CLIENT_CA" \
  --status-interval-ms 200 --ping-interval-s 1 >"$d/node.out" 2>"$d/node.log" &
npid=$!; pids+=($npid)
for _ in $(seq 200); do grep -q 'ferry-node ready' "$d/node.out" 2>/dev/null && break; sleep 0.05; done
grep -q 'ferry-node ready' "$d/node.out" || { echo "FAIL: ferry-node did not start"; exit 1; }

checks() {
  local pass=0 bad=0 code
  ok() { echo "ok - $*"; pass=$((pass + 1)); }
  no() { echo "not ok - $*"; bad=$((bad + 1)); }
  k create namespace authz >/dev/null
  k -n authz create serviceaccount default >/dev/null
  k -n authz create serviceaccount logger >/dev/null
  k -n authz create serviceaccount reader >/dev/null
  k create clusterrolebinding apiserver-kubelet --clusterrole=system:kubelet-api-admin \
    --user=kube-apiserver-kubelet-client >/dev/null
  k create clusterrole node-proxy --verb=get --resource=nodes/proxy >/dev/null
  k create clusterrolebinding logger-node-proxy --clusterrole=node-proxy \
    --serviceaccount=authz:logger >/dev/null
  k -n authz apply -f - >/dev/null <<POD
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  nodeName: ferry-authz
  restartPolicy: Never
  automountServiceAccountToken: false
  tolerations: [{operator: Exists}]
  containers: [{name: main, image: busybox, command: [sh, -c, "echo hello through the API server"]}]
POD
  for _ in $(seq 300); do
    [ "$(k -n authz get pod hello -o jsonpath='{.status.phase}' 2>/dev/null)" = Succeeded ] && break
    sleep 0.1
  done
  [ "$(k -n authz get pod hello -o jsonpath='{.status.phase}')" = Succeeded ] && ok "the pod ran" ||
    no "the pod: $(k -n authz get pod hello -o yaml | tail -20)"
  out=$(k -n authz logs hello 2>&1)
  [ "$out" = "hello through the API server" ] &&
    ok "kubectl logs through the API server (x509, real SubjectAccessReview)" || no "kubectl logs: $out"
  logs="https://127.0.0.1:$kport/containerLogs/authz/hello/main"
  kc() { curl -s --max-time 10 --cacert "$d/kubelet.crt" -o "$d/body" -w '%{http_code}' "$@"; }
  code=$(kc -H "Authorization: Bearer $(k -n authz create token logger)" "$logs")
  [ "$code" = 200 ] && grep -q 'hello through' "$d/body" &&
    ok "logger's token (RBAC nodes/proxy): the log" || no "logger's token: HTTP $code $(head -c 200 "$d/body")"
  code=$(kc -H "Authorization: Bearer $(k -n authz create token reader)" "$logs")
  [ "$code" = 403 ] && grep -q 'user=system:serviceaccount:authz:reader' "$d/body" &&
    ok "reader's token (no RBAC): 403 naming the user" || no "reader's token: HTTP $code $(head -c 200 "$d/body")"
  code=$(kc -H "Authorization: Bearer not-a-token" "$logs")
  [ "$code" = 401 ] && ok "unknown token: 401" || no "unknown token: HTTP $code"
  code=$(kc "$logs")
  [ "$code" = 401 ] && ok "no credentials: 401" || no "no credentials: HTTP $code"
  code=$(kc --cert "$d/other.crt" --key "$d/other.key" "$logs")
  [ "$code" = 401 ] && ok "certificate of another CA: 401" || no "another CA: HTTP $code"
  echo "$pass passed, $bad failed"
  [ "$bad" = 0 ]
}
watch_run "$KUBE_WATCH ferry-node:$npid:$d/node.log" checks
rc=$?
exit $rc
