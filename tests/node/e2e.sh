#!/bin/bash
# e2e.sh DOUBLE FERRYD FERRY_NODE NODE_E2E CASES_DIR [FERRYD ARGS...]
# ferry-node end to end: the Kubernetes API double, ferryd (arguments given,
# e.g. --backend local --runtime bwrap) and ferry-node, then node-e2e steps:
# (with FERRY_E2E_INTERLINK_API=BINARY, upstream's interLink API server sits between
# ferry-node and ferryd, which serves it as its plugin: the same steps through the middle hop)
# registration + lease, the conformance pods, deletion, a ferry-node restart
# that adopts its pods without creating them twice, ferryd down then up.
set -u
. "$(dirname "$0")/../lib/watch.sh"
double=$1 ferryd=$2 fnode=$3 e2e=$4 cases=$5; shift 5
ferryd_args=("$@")
. "$(dirname "$0")/../lib/runtime.sh"
need_runtime "$@"
dir=$(mktemp -d /tmp/ferry-node-e2e.XXXXXX)
chmod 711 "$dir"   # pods run as an unprivileged user that must reach their volumes below it
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
# each step stops at once, with the API server's log, if it (or etcd) dies under it
step() {
  local w
  echo "# $*"
  watch_run "$api_watch" "$e2e" "$@" || fail=1
  for w in $api_watch; do watch_alive "$(cut -d: -f2 <<<"$w")" || exit 1; done
}

if [ -n "${FERRY_E2E_KUBE_URL:-}" ]; then
  # a real kube-apiserver (tests/upstream/kube-up.sh): the steps act as its admin, ferry-node
  # as its own ServiceAccount with deploy/kubernetes/rbac.yaml
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

node_url="unix://$dir/ferryd.sock"
plugin=()
if [ -n "${FERRY_E2E_INTERLINK_API:-}" ]; then
  plugin=(--plugin-listen "unix://$dir/plugin.sock")
  node_url="unix://$dir/il.sock"
fi
start_ferryd() {
  "$ferryd" --listen "unix://$dir/ferryd.sock" "${plugin[@]}" --state-dir "$dir/state" --poll-interval-ms 200 \
    "${ferryd_args[@]}" >>"$dir/ferryd.log" 2>&1 &
  ferryd_pid=$!; pids+=($ferryd_pid)
  for _ in $(seq 100); do [ -S "$dir/ferryd.sock" ] && return 0; sleep 0.05; done
  echo "ferryd did not start"; fail=1; exit 1
}
port=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
start_node() {
  "$fnode" --node-name ferry-e2e --kubeconfig "$node_kubeconfig" --ferryd-url "$node_url" \
    --kubelet-listen 127.0.0.1 --kubelet-port $port --kubelet-insecure-http --kubelet-insecure-no-auth \
    --status-interval-ms 200 --ping-interval-s 1 --lease-duration-s 10 --lease-renew-s 2 \
    --config-wait-s 20 --log-level info >>"$dir/node.out" 2>>"$dir/node.log" &
  node_pid=$!; pids+=($node_pid)
  for _ in $(seq 200); do [ "$(grep -c 'ferry-node ready' "$dir/node.out" 2>/dev/null)" -ge "$1" ] && return 0; sleep 0.05; done
  echo "ferry-node did not start"; fail=1; exit 1
}
submits() {
  curl -s --unix-socket "$dir/ferryd.sock" http://unix/metrics | sed -n 's/^ferry_backend_calls_total{.*op="submit"} //p'
}
backend_deletes() {
  curl -s --unix-socket "$dir/ferryd.sock" http://unix/metrics | sed -n 's/^ferry_backend_calls_total{.*op="kill"} //p;s/^ferry_backend_calls_total{.*op="delete"} //p' | head -1
}

start_ferryd
if [ -n "${FERRY_E2E_INTERLINK_API:-}" ]; then
  . "$(dirname "$0")/../upstream/interlink.sh"
  INTERLINK_API=$FERRY_E2E_INTERLINK_API interlink_api_start "$dir" "$dir/plugin.sock" || { fail=1; exit 1; }
  pids+=($IL_PID)
  api_watch="$api_watch interlink-api:$IL_PID:$dir/il.log"
fi
start_node 1
export KUBECONFIG="$dir/kubeconfig" NODE=ferry-e2e KUBELET="http://127.0.0.1:$port" NS=e2e

step node
step conformance "$cases"

echo "# events: what the kubelet would report, aggregated"
step event Node ferry-e2e Normal NodeReady 1
NS=conformance step event Pod hello Normal Submitted 1
step create-special missing missing-cm
step event Pod missing Warning FailedMount 3     # retried every 2 s: one Event, its count grows
# a pod ferry-node cannot translate; a real API server refuses that one itself, so there a pod
# the site refuses (hostPath) takes the same ProviderFailed path
if [ -n "${FERRY_E2E_KUBE_URL:-}" ]; then step create-special badref site-refuses
else step create-special badref bad-fieldref; fi
step event Pod badref Warning ProviderFailed 1

echo "# deletion: a running pod is deleted at the site, then in the API with grace 0"
step create sleeper "echo started; sleep 300"
step wait-phase sleeper Running
step delete sleeper
step event Pod sleeper Normal Deleted 1

site_uids() {
  curl -s --unix-socket "$dir/ferryd.sock" -X GET -d '[]' http://unix/status | grep -o '"UID":"[^"]*"'
}
echo "# orphans: a pod force-deleted while ferry-node is down goes from the site; a stranger stays"
step create orphan "sleep 300"
step wait-phase orphan Running
orphan_uid=$("$e2e" uid orphan)
stranger_uid=$(cat /proc/sys/kernel/random/uuid)
sed -e "s/73796a83-a58a-575b-aff9-936cca195114/$stranger_uid/" -e 's/"name": "hello"/"name": "stranger"/' \
  "$cases/000-hello/create.json" |
  curl -s -o /dev/null -w '%{http_code}' --unix-socket "$dir/ferryd.sock" -X POST -d @- http://unix/create |
  grep -q 200 || { echo "not ok - could not submit the stranger pod to ferryd"; fail=1; }

echo "# restart: ferry-node adopts its pods; nothing is created twice"
s1=$(submits)
kill "$node_pid"; wait "$node_pid" 2>/dev/null
step create while-down "echo created while ferry-node was down"
api -o /dev/null -XDELETE "$url/api/v1/namespaces/e2e/pods/orphan?gracePeriodSeconds=0"
start_node 2
for _ in $(seq 100); do site_uids | grep -q "$orphan_uid" || break; sleep 0.2; done
if site_uids | grep -q "$orphan_uid"; then echo "not ok - orphan $orphan_uid still at the site"; fail=1
else echo "ok - orphan deleted at the site after the restart"; fi
if site_uids | grep -q "$stranger_uid"; then echo "ok - a site pod ferry-node did not create is left alone"
else echo "not ok - the stranger pod $stranger_uid was deleted"; fail=1; fi
step wait-phase while-down Succeeded
NS=conformance "$e2e" wait-phase hello Succeeded || fail=1
s2=$(submits)
if [ "$s2" = "$((s1 + 1))" ]; then echo "ok - restart: $s1 -> $s2 backend submissions (only the new pod)"
else echo "not ok - restart: backend submissions went from $s1 to $s2 (expected $((s1 + 1)))"; fail=1; fi
NS=conformance "$e2e" jobid hello >/dev/null || { echo "not ok - hello lost its JobID"; fail=1; }

echo "# the site goes away and comes back; a pod deleted meanwhile is deleted when it is back"
step create doomed "sleep 300"
step wait-phase doomed Running
kill "$ferryd_pid"; wait "$ferryd_pid" 2>/dev/null
step condition FerryConnectivity False
step condition Ready False
step event Node ferry-e2e Warning NodeNotReady 1
api -XDELETE "$url/api/v1/namespaces/e2e/pods/doomed" >/dev/null
sleep 2
if api "$url/api/v1/namespaces/e2e/pods/doomed" | grep -q deletionTimestamp; then
  echo "ok - doomed waits for the site (deletionTimestamp set, still in the API)"
else echo "not ok - doomed vanished while the site was down"; fail=1; fi
start_ferryd
step condition FerryConnectivity True
step gone doomed
# one NodeReady per ferry-node process at start, the second process's aggregates the return
step event Node ferry-e2e Normal NodeReady 3 2

curl -s "$KUBELET/metrics" | grep -E '^ferry_node_(pods|creates_total|deletes_total|watch_restarts_total|adopted_total|orphans_deleted_total|events_total)' | sed 's/^/# /'
[ -n "${FERRY_E2E_KUBE_URL:-}" ] || { curl -s "$url/debug/requests" | sed 's/^/# API requests: /'; echo; }
exit $fail
