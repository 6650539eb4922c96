#!/bin/bash
# creds.sh DOUBLE FERRYD FERRY_NODE NODE_E2E [FERRYD ARGS...]
# ferry-node's credentials, end to end:
#  - the kubelet endpoint over HTTPS, authenticated and authorised as a kubelet
#    does it: no credentials -> 401, a certificate of another CA -> 401, the
#    API server's kubelet-client certificate -> /containerLogs works, a
#    certificate of the right CA whose user RBAC does not allow nodes/proxy ->
#    403; bearer tokens through TokenReview: unknown -> 401, allowed -> 200,
#    authenticated but not allowed -> 403, allowed for nodes/proxy but asking
#    /metrics -> 403; repeated requests reuse cached reviews (certificates made
#    here with openssl; exit 77 when openssl is missing);
#  - the kubelet certificate replaced on disk is served without a restart;
#  - the site token rotated without a restart: ferryd (on TCP, with a tokens
#    file) restarts knowing only the new token, ferry-node is refused, the
#    token file is rewritten, and ferry-node gets through again.
set -u
. "$(dirname "$0")/../lib/watch.sh"
double=$1 ferryd=$2 fnode=$3 e2e=$4; shift 4
ferryd_args=("$@")
. "$(dirname "$0")/../lib/runtime.sh"
need_runtime "$@"
command -v openssl >/dev/null || { echo "openssl is missing: skipped"; exit 77; }
command -v curl >/dev/null || { echo "curl is missing: skipped"; exit 77; }
dir=$(mktemp -d /tmp/ferry-node-creds.XXXXXX)
chmod 711 "$dir"
pids=()
fail=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ $fail -ne 0 ] || [ -n "${FERRY_KEEP_TEST_DIR:-}" ]; then
    echo "--- ferry-node log (tail)"; tail -30 "$dir/node.log"
    echo "--- ferryd log (tail)"; tail -10 "$dir/ferryd.log"
    [ -n "${FERRY_KEEP_TEST_DIR:-}" ] && { echo "kept $dir"; return; }
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }
# each step stops at once, with the double's log, if the API double dies under it
step() {
  echo "# $*"
  watch_run "api-double:$double_pid:$dir/double.log" "$e2e" "$@" || fail=1
  watch_alive "$double_pid" || exit 1
}

# ---- certificates ----
ossl() { openssl "$@" >>"$dir/openssl.log" 2>&1 || { echo "openssl $1 failed"; cat "$dir/openssl.log"; fail=1; exit 1; }; }
ca() { ossl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/$1.key" -out "$dir/$1.crt" -days 2 -subj "/CN=$1"; }
signed() { # NAME CA EXT
  ossl req -newkey rsa:2048 -nodes -keyout "$dir/$1.key" -out "$dir/$1.csr" -subj "/CN=$1"
  printf '%s\n' "$3" >"$dir/$1.ext"
  ossl x509 -req -in "$dir/$1.csr" -CA "$dir/$2.crt" -CAkey "$dir/$2.key" -CAcreateserial -days 2 \
    -extfile "$dir/$1.ext" -out "$dir/$1.crt"
}
ca serving-ca; ca client-ca; ca other-ca
srv_ext="subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
cli_ext="extendedKeyUsage=clientAuth"
signed kubelet-one serving-ca "$srv_ext"
signed kubelet-two serving-ca "$srv_ext"
signed apiserver-kubelet-client client-ca "$cli_ext"
signed intruder other-ca "$cli_ext"
signed stranger client-ca "$cli_ext"   # the right CA, but RBAC gives it nothing
cp "$dir/kubelet-one.crt" "$dir/kubelet.crt"; cp "$dir/kubelet-one.key" "$dir/kubelet.key"

# ---- processes ----
# identities for TokenReview and the rules for SubjectAccessReview (the double's RBAC)
"$double" --listen 127.0.0.1:0 --kubeconfig-out "$dir/kubeconfig" \
  --identity alice-token-1234=alice:team-a --identity bob-token-5678=bob \
  --allow user=apiserver-kubelet-client:get:nodes/proxy --allow group=team-a:get:nodes/proxy \
  >"$dir/double.out" 2>"$dir/double.log" &
double_pid=$!
pids+=($!)
for _ in $(seq 100); do grep -q '^ready ' "$dir/double.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready ' "$dir/double.out" || { echo "the API double did not start"; fail=1; exit 1; }

# two free ports (nothing answers on them now; bash's /dev/tcp, no extra tools)
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
  done
}
fport=$(free_port)
kport=$(free_port)
while [ "$kport" = "$fport" ]; do kport=$(free_port); done
echo "old-token-$RANDOM$RANDOM *" >"$dir/tokens-old"
echo "new-token-$RANDOM$RANDOM *" >"$dir/tokens-new"
cut -d' ' -f1 "$dir/tokens-old" >"$dir/token"
start_ferryd() { # TOKENS
  "$ferryd" --listen "http://127.0.0.1:$fport" --tokens "$1" --state-dir "$dir/state" --poll-interval-ms 200 \
    "${ferryd_args[@]}" >>"$dir/ferryd.log" 2>&1 &
  ferryd_pid=$!; pids+=($ferryd_pid)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$fport/healthz" && return 0; sleep 0.05; done
  echo "ferryd did not start"; fail=1; exit 1
}
start_ferryd "$dir/tokens-old"
"$fnode" --node-name ferry-creds --kubeconfig "$dir/kubeconfig" --ferryd-url "http://127.0.0.1:$fport" \
  --ferryd-token-file "$dir/token" --kubelet-listen 127.0.0.1 --kubelet-port $kport \
  --kubelet-cert "$dir/kubelet.crt" --kubelet-key "$dir/kubelet.key" --kubelet-client-ca "$dir/client-ca.crt" \
  --status-interval-ms 200 --ping-interval-s 1 --log-level info >"$dir/node.out" 2>"$dir/node.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'ferry-node ready' "$dir/node.out" 2>/dev/null && break; sleep 0.05; done
grep -q 'ferry-node ready' "$dir/node.out" || { echo "ferry-node did not start"; fail=1; exit 1; }
export KUBECONFIG="$dir/kubeconfig" NODE=ferry-creds KUBELET="https://127.0.0.1:$kport" NS=creds

step create tls-hello "echo hello over tls"
step wait-phase tls-hello Succeeded

# ---- the kubelet endpoint ----
logs="https://127.0.0.1:$kport/containerLogs/creds/tls-hello/main"
kcurl() { curl -s --max-time 10 --cacert "$dir/serving-ca.crt" -o "$dir/body" -w '%{http_code}' "$@"; }
code=$(kcurl "$logs"); rc=$?
if [ $rc -ne 0 ] || [ "$code" = 401 ]; then ok "no client certificate: refused (curl $rc, HTTP $code)"
else notok "no client certificate: HTTP $code: $(head -c 200 "$dir/body")"; fi
code=$(kcurl --cert "$dir/intruder.crt" --key "$dir/intruder.key" "$logs"); rc=$?
if [ $rc -ne 0 ] || [ "$code" = 401 ]; then ok "client certificate of another CA: refused (curl $rc, HTTP $code)"
else notok "client certificate of another CA: HTTP $code: $(head -c 200 "$dir/body")"; fi
code=$(kcurl --cert "$dir/apiserver-kubelet-client.crt" --key "$dir/apiserver-kubelet-client.key" "$logs")
if [ "$code" = 200 ] && grep -q 'hello over tls' "$dir/body"; then ok "right client certificate: /containerLogs answers the log"
else notok "right client certificate: HTTP $code: $(head -c 200 "$dir/body")"; fi
code=$(kcurl "https://127.0.0.1:$kport/healthz")
[ "$code" = 200 ] && ok "/healthz needs no client certificate" || notok "/healthz: HTTP $code"
code=$(kcurl --cert "$dir/stranger.crt" --key "$dir/stranger.key" "$logs")
if [ "$code" = 403 ] && grep -q 'user=stranger, verb=get, resource=nodes, subresource=proxy' "$dir/body"; then
  ok "certificate of the right CA, user without nodes/proxy: 403 naming user and subresource"
else notok "stranger's certificate: HTTP $code: $(head -c 200 "$dir/body")"; fi
code=$(kcurl -H "Authorization: Bearer not-a-token" "$logs")
[ "$code" = 401 ] && ok "unknown bearer token: 401" || notok "unknown bearer token: HTTP $code: $(head -c 200 "$dir/body")"
code=$(kcurl -H "Authorization: Bearer bob-token-5678" "$logs")
[ "$code" = 403 ] && ok "bob's token (authenticated, no RBAC): 403" || notok "bob's token: HTTP $code: $(head -c 200 "$dir/body")"
code=$(kcurl -H "Authorization: Bearer alice-token-1234" "$logs")
if [ "$code" = 200 ] && grep -q 'hello over tls' "$dir/body"; then ok "alice's token (group team-a may get nodes/proxy): the log"
else notok "alice's token: HTTP $code: $(head -c 200 "$dir/body")"; fi
code=$(kcurl -H "Authorization: Bearer alice-token-1234" "https://127.0.0.1:$kport/metrics")
[ "$code" = 403 ] && ok "alice on /metrics (nodes/metrics, not granted): 403" || notok "alice on /metrics: HTTP $code"
for _ in 1 2 3; do kcurl -H "Authorization: Bearer alice-token-1234" "$logs" >/dev/null; done
reviews=$(curl -s "$(sed -n 's/^ready //p' "$dir/double.out")/debug/requests" | grep -o '"create tokenreviews": *[0-9]*' | grep -o '[0-9]*$')
[ "$reviews" = 3 ] && ok "token reviews cached: 3 reviews for 3 distinct tokens over 7 requests" ||
  notok "token reviews: '$reviews' (want 3: not-a-token, bob, alice)"

served_cn() {
  openssl s_client -connect "127.0.0.1:$kport" -cert "$dir/apiserver-kubelet-client.crt" \
    -key "$dir/apiserver-kubelet-client.key" </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null |
    sed 's/.*CN *= *//'
}
cn=$(served_cn)
[ "$cn" = kubelet-one ] && ok "kubelet certificate: $cn" || notok "kubelet certificate before rotation: '$cn'"
# rotate as a Secret volume does: new files renamed into place
cp "$dir/kubelet-two.key" "$dir/kubelet.key.new" && mv "$dir/kubelet.key.new" "$dir/kubelet.key"
cp "$dir/kubelet-two.crt" "$dir/kubelet.crt.new" && mv "$dir/kubelet.crt.new" "$dir/kubelet.crt"
cn=
for _ in $(seq 30); do sleep 0.2; cn=$(served_cn); [ "$cn" = kubelet-two ] && break; done
[ "$cn" = kubelet-two ] && ok "kubelet certificate rotated on disk is served without a restart" ||
  notok "kubelet certificate after rotation: '$cn'"
code=$(kcurl --cert "$dir/apiserver-kubelet-client.crt" --key "$dir/apiserver-kubelet-client.key" "$logs")
[ "$code" = 200 ] && ok "logs still served after the rotation" || notok "logs after the rotation: HTTP $code"

# ---- site token rotation ----
kill "$ferryd_pid"; wait "$ferryd_pid" 2>/dev/null
start_ferryd "$dir/tokens-new"
step create during-rotation "echo with the new token"
# the site refuses the old token: the pod waits (not Failed) and says why
step event Pod during-rotation Warning FailedCreate 2
phase=$(curl -s "$(sed -n 's/^ready //p' "$dir/double.out")/api/v1/namespaces/creds/pods/during-rotation" |
  sed -n 's/.*"phase": *"\([A-Za-z]*\)".*/\1/p' | head -1)
[ "$phase" = Pending ] && ok "refused by the site: the pod waits ($phase)" || notok "refused by the site: phase $phase"
cut -d' ' -f1 "$dir/tokens-new" >"$dir/token.new" && mv "$dir/token.new" "$dir/token"
step wait-phase during-rotation Succeeded  # the new token is read without a restart
exit $fail
