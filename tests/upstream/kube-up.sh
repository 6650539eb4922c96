# SPDX-License-Identifier: MIT
# Sourced by the upstream tests: a real kube-apiserver (v1.33.1, scripts/build-upstream.sh) on
# Debian's etcd, on loopback, no controller-manager or scheduler (the tests bind pods to the
# virtual node themselves).
#   kube_up DIR     starts etcd and kube-apiserver; sets KUBE_URL, KUBE_CA (the serving
#                   certificate), KUBE_ADMIN_TOKEN, KUBE_CLIENT_CA(+_KEY) (signs client
#                   certificates: the API server's kubelet-client one, for `kubectl logs`),
#                   KUBE_PIDS and KUBE_WATCH ("name:pid:log ..." for watch_run);
#                   writes DIR/admin.kubeconfig
#   kube_sa_kubeconfig NS SA OUT   a kubeconfig with a token of that ServiceAccount
#   kube_down       stops them
# Needs upstream_need kube (tests/upstream/need.sh) first, and openssl.
kube_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-): no outgoing
                                  # connection holds one
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

kube_up() {
  local d=$1 ep pp ap
  mkdir -p "$d/etcd" "$d/certs"
  ep=$(kube_free_port); pp=$(kube_free_port); ap=$(kube_free_port)
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null && openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/client-ca.key" -out "$d/client-ca.crt" -days 2 \
    -subj "/CN=ferry-test-client-ca" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/serving.key" -out "$d/serving.crt" -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
  # the API server's identity towards kubelets (kubectl logs -> the node's kubelet port)
  openssl req -newkey rsa:2048 -nodes -keyout "$d/kubelet-client.key" -out "$d/kubelet-client.csr" \
    -subj "/O=system:masters-no/CN=kube-apiserver-kubelet-client" 2>/dev/null
  openssl x509 -req -in "$d/kubelet-client.csr" -CA "$d/client-ca.crt" -CAkey "$d/client-ca.key" \
    -CAcreateserial -days 2 -out "$d/kubelet-client.crt" 2>/dev/null
  KUBE_ADMIN_TOKEN=admin-$RANDOM$RANDOM$RANDOM
  printf '%s,admin,admin,system:masters\n' "$KUBE_ADMIN_TOKEN" >"$d/tokens.csv"
  "$ETCD" --name ferry-test --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$ep" \
    --advertise-client-urls "http://127.0.0.1:$ep" --listen-peer-urls "http://127.0.0.1:$pp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pp" --initial-cluster "ferry-test=http://127.0.0.1:$pp" \
    >"$d/etcd.log" 2>&1 &
  local etcd_pid=$!
  "$KUBE_APISERVER" --etcd-servers "http://127.0.0.1:$ep" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$ap" --tls-cert-file "$d/serving.crt" --tls-private-key-file "$d/serving.key" \
    --client-ca-file "$d/client-ca.crt" --token-auth-file "$d/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$d/sa.pub" \
    --service-account-signing-key-file "$d/sa.key" --authorization-mode Node,RBAC \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
    --kubelet-client-certificate "$d/kubelet-client.crt" --kubelet-client-key "$d/kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP >"$d/apiserver.log" 2>&1 &
  local api_pid=$!
  KUBE_PIDS="$etcd_pid $api_pid"
  KUBE_WATCH="etcd:$etcd_pid:$d/etcd.log kube-apiserver:$api_pid:$d/apiserver.log"
  KUBE_URL=https://127.0.0.1:$ap KUBE_CA=$d/serving.crt KUBE_CLIENT_CA=$d/client-ca.crt
  KUBE_CLIENT_CA_KEY=$d/client-ca.key
  cat >"$d/admin.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "$KUBE_URL", certificate-authority: "$KUBE_CA"}}]
users: [{name: admin, user: {token: "$KUBE_ADMIN_TOKEN"}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
KC
  local i
  for i in $(seq 300); do
    watch_alive "$etcd_pid" || { echo "etcd died:"; tail -n 20 "$d/etcd.log"; return 1; }
    watch_alive "$api_pid" || { echo "kube-apiserver died:"; tail -n 20 "$d/apiserver.log"; return 1; }
    [ "$("$KUBECTL" --kubeconfig "$d/admin.kubeconfig" get --raw /readyz 2>/dev/null)" = ok ] && return 0
    sleep 0.1
  done
  echo "kube-apiserver not ready after 30 s:"; tail -n 20 "$d/apiserver.log"; return 1
}

kube_sa_kubeconfig() { # NS SA OUT
  local tok
  tok=$("$KUBECTL" --kubeconfig "$(dirname "$3")/admin.kubeconfig" -n "$1" create token "$2" --duration 2h) || return 1
  cat >"$3" <<KC
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "$KUBE_URL", certificate-authority: "$KUBE_CA"}}]
users: [{name: $2, user: {token: "$tok"}}]
contexts: [{name: test, context: {cluster: test, user: $2}}]
current-context: test
KC
}

kube_down() {
  local p
  for p in $KUBE_PIDS; do kill "$p" 2>/dev/null; done
  for p in $KUBE_PIDS; do wait "$p" 2>/dev/null; done
}
