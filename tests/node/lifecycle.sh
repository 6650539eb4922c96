#!/bin/bash
# lifecycle.sh DOUBLE FERRYD FERRY_NODE NODE_E2E FAULTPROXY [FERRYD ARGS...]
# ferry-node against answers that say "later" and through a pod's last seconds (issue 9):
#  - a site that answers 503 to a pod's first three /create calls: the pod is retried with
#    backoff and runs (not Failed); 422 from the site fails a pod with its message; /delete
#    answered 503 twice is retried until the site takes it;
#  - deletion as a kubelet does it: the API object stays while the site still runs the container
#    (its TERM trap takes 4 s), the final status (terminated, the trap's exit code 7) is written
#    before the object goes; another pod is served meanwhile;
#  - `kubectl delete --grace-period=1` wins over the spec's 30 s: the container whose trap needs
#    8 s (and would end with 7 under the spec's grace) is killed (137, SIGKILL), its final status;
#    a second, shorter `--grace-period` after a first one reaches the site the same way.
# ferry-node talks to ferryd through faultproxy (tests/node/faultproxy.c), a real HTTP proxy that
# answers the chosen requests itself. With FERRY_E2E_KUBE_URL (tests/upstream/node-kube.sh) the
# same runs against a real kube-apiserver.
set -u
. "$(dirname "$0")/../lib/watch.sh"
double=$1 ferryd=$2 fnode=$3 e2e=$4 proxy=$5; shift 5
ferryd_args=("$@")
dir=$(mktemp -d /tmp/ferry-node-life.XXXXXX)
chmod 711 "$dir"
pids=()
fail=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ $fail -ne 0 ] || [ -n "${FERRY_KEEP_TEST_DIR:-}" ]; then
    echo "--- ferry-node log (tail)"; tail -40 "$dir/node.log"
    echo "--- ferryd log (tail)"; tail -20 "$dir/ferryd.log"
    [ -n "${FERRY_KEEP_TEST_DIR:-}" ] && { echo "kept $dir"; return; }
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }
step() {
  local w
  echo "# $*"
  watch_run "$api_watch" "$e2e" "$@" || fail=1
  for w in $api_watch; do watch_alive "$(cut -d: -f2 <<<"$w")" || exit 1; done
}

if [ -n "${FERRY_E2E_KUBE_URL:-}" ]; then
  url=$FERRY_E2E_KUBE_URL
  cp "$FERRY_E2E_ADMIN_KUBECONFIG" "$dir/kubeconfig"
  node_kubeconfig=$FERRY_E2E_NODE_KUBECONFIG
  api_watch=$FERRY_E2E_KUBE_WATCH
  api() { curl -s --cacert "$FERRY_E2E_KUBE_CA" -H "Authorization: Bearer $FERRY_E2E_ADMIN_TOKEN" "$@"; }
else
  "$double" --listen 127.0.0.1:0 --kubeconfig-out "$dir/kubeconfig" >"$dir/double.out" 2>"$dir/double.log" &
  double_pid=$!
  pids+=($!)
  for _ in $(seq 100); do grep -q '^ready ' "$dir/double.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^ready //p' "$dir/double.out")
  [ -n "$url" ] || { echo "the API double did not start"; cat "$dir/double.log"; fail=1; exit 1; }
  node_kubeconfig=$dir/kubeconfig
  api_watch="api-double:$double_pid:$dir/double.log"
  api() { curl -s "$@"; }
fi

"$ferryd" --listen "unix://$dir/ferryd.sock" --state-dir "$dir/state" --poll-interval-ms 200 \
  "${ferryd_args[@]}" >>"$dir/ferryd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/ferryd.sock" ] && break; sleep 0.05; done
[ -S "$dir/ferryd.sock" ] || { echo "ferryd did not start"; fail=1; exit 1; }
"$proxy" "$dir/proxy.sock" "$dir/ferryd.sock" /create:503:3:flaky-create /create:422:1:refused-create \
  /delete:503:2:flaky-create >"$dir/proxy.out" 2>"$dir/proxy.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^ready' "$dir/proxy.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^ready' "$dir/proxy.out" || { echo "faultproxy did not start"; cat "$dir/proxy.log"; fail=1; exit 1; }
port=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
"$fnode" --node-name ferry-life --kubeconfig "$node_kubeconfig" --ferryd-url "unix://$dir/proxy.sock" \
  --kubelet-listen 127.0.0.1 --kubelet-port $port --kubelet-insecure-http --kubelet-insecure-no-auth \
  --status-interval-ms 200 --ping-interval-s 1 --log-level info >>"$dir/node.out" 2>>"$dir/node.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'ferry-node ready' "$dir/node.out" 2>/dev/null && break; sleep 0.05; done
grep -q 'ferry-node ready' "$dir/node.out" || { echo "ferry-node did not start"; fail=1; exit 1; }
export KUBECONFIG="$dir/kubeconfig" NODE=ferry-life KUBELET="http://127.0.0.1:$port" NS=life
export FERRYD="$dir/ferryd.sock"
proxied() { curl -s --unix-socket "$dir/proxy.sock" http://unix/faultproxy/counts | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }

echo "# a site that answers 503 three times: the pod waits and runs"
step create flaky-create "echo hello after three 503s"
step wait-phase flaky-create Succeeded
step event Pod flaky-create Warning FailedCreate 3
n=$(proxied "/create 503")
[ "${n:-0}" = 3 ] && ok "the site answered 503 to /create 3 times" || notok "/create 503 answers: ${n:-0} (expected 3)"
n=$(proxied "/create 200")
[ "${n:-0}" -ge 1 ] && ok "then /create went through" || notok "/create never reached ferryd"

echo "# a site that refuses a pod (422): the pod fails with the site's reason"
step create refused-create "echo never runs"
step wait-phase refused-create Failed
st=$(api "$url/api/v1/namespaces/life/pods/refused-create")
if grep -Eq '"reason": ?"ProviderFailed"' <<<"$st" && grep -q 'injected by faultproxy' <<<"$st"; then
  ok "refused-create: Failed, ProviderFailed, with the site's message"
else notok "refused-create: status without ProviderFailed and the site's message: $st"; fi

echo "# /delete answered 503 twice: retried until the site takes it"
step delete flaky-create   # a finished pod: the API removes it at once, the site copy follows
for _ in $(seq 300); do [ -n "$(proxied "/delete 200")" ] && break; sleep 0.1; done
n=$(proxied "/delete 503")
[ "${n:-0}" = 2 ] && ok "the site answered 503 to /delete 2 times" || notok "/delete 503 answers: ${n:-0} (expected 2)"

echo "# deletion: the object stays until the container has ended; its final status is written first"
step create trapper "trap 'echo term; sleep 4; echo bye; exit 7' TERM; echo started; sleep 300 & wait"
step wait-phase trapper Running
step wait-log trapper started
"$e2e" final trapper - 7 >"$dir/final.out" 2>&1 &
final_pid=$!
# the node keeps serving: a pod created meanwhile runs to its end
step create bystander "echo while another pod stops"
step wait-phase bystander Succeeded
wait "$final_pid" || fail=1
cat "$dir/final.out"

echo "# kubectl delete --grace-period=1: the API's grace wins over the spec's 30 s"
step create impatient "trap 'echo term; sleep 8; echo bye; exit 7' TERM; echo started; sleep 300 & wait"
step wait-phase impatient Running
step wait-log impatient started
step final impatient 1 137 SIGKILL

echo "# deleted with --grace-period=300, then again with 1 once TERM arrived: the shorter one reaches"
echo "# the site, which kills the container whose trap would take 60 s (137, not the trap's 7)"
step create second-grace "trap 'echo term; sleep 60; echo bye; exit 7' TERM; echo started; sleep 300 & wait"
step wait-phase second-grace Running
step wait-log second-grace started
step delete-grace second-grace 300
step wait-log second-grace term
step final second-grace 1 137 SIGKILL

[ -n "${FERRY_E2E_KUBE_URL:-}" ] || { curl -s "$url/debug/requests" | sed 's/^/# API requests: /'; echo; }
echo "# proxy: $(curl -s --unix-socket "$dir/proxy.sock" http://unix/faultproxy/counts)"
exit $fail
