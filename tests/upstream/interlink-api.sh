#!/bin/bash
# SPDX-License-Identifier: MIT
# Hop B against the real upstream: interLink's own API server (0.6.2, built from source by
# scripts/build-upstream.sh) with ferryd as its plugin (plugin_listen), local backend, bwrap.
# The API server is driven the way its Virtual Kubelet drives it (hop A over its socket):
#  - every conformance case passes (status asked with the whole pod and its last phase);
#  - logs, with Follow streamed while the container runs and ended with it (logs-test);
#  - /delete of a running pod through the API server stops it at the site.
#   interlink-api.sh FERRYD CONFORMANCE LOGS_TEST CASES_DIR
# Skipped (77) only where Go is missing; a failed build fails the test with its log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/../lib/watch.sh"
ferryd=$1 conformance=$2 logs_test=$3 cases=$4
. "$here/need.sh"
. "$here/interlink.sh"
command -v bwrap >/dev/null || { echo "SKIP: bwrap missing"; exit 77; }
upstream_need interlink
[ -x "${INTERLINK_API:-}" ] || { echo "FAIL: no interLink API server after the build"; exit 1; }

dir=$(mktemp -d /tmp/ferry-interlink.XXXXXX)
chmod 711 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${rc:-1}" != 0 ]; then
    echo "--- interLink API server log (tail)"; grep -v 'GetStatus call\|session ' "$dir/il.log" | tail -n 20
    echo "--- ferryd log (tail)"; tail -n 20 "$dir/ferryd.log"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
"$ferryd" --listen "unix://$dir/ferryd.sock" --plugin-listen "unix://$dir/plugin.sock" \
  --state-dir "$dir/state" --backend local --runtime bwrap --poll-interval-ms 100 >"$dir/ferryd.log" 2>&1 &
fpid=$!; pids+=($fpid)
for _ in $(seq 100); do { [ -S "$dir/plugin.sock" ] || ! watch_alive $fpid; } && break; sleep 0.05; done
IL_VERBOSE=true interlink_api_start "$dir" "$dir/plugin.sock" || exit 1
ipid=$IL_PID; pids+=($ipid)
watch="ferryd:$fpid:$dir/ferryd.log interlink-api:$ipid:$dir/il.log"
il="unix://$dir/il.sock"

pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
no() { echo "not ok - $*"; fail=$((fail + 1)); }
watch_run "$watch" "$conformance" "$il" "$cases" && ok "conformance: every case through the API server" ||
  no "conformance through the API server"
FERRY_SERVER=$il watch_run "$watch" "$logs_test" && ok "logs (Follow streamed) through the API server" ||
  no "logs through the API server"

# /delete through the API server stops a running pod at the site
uid=$(cat /proc/sys/kernel/random/uuid)
pod="{\"metadata\":{\"name\":\"sleeper\",\"namespace\":\"upstream\",\"uid\":\"$uid\"},\"spec\":{\"terminationGracePeriodSeconds\":1,\"containers\":[{\"name\":\"main\",\"command\":[\"sleep\",\"300\"]}]}"
curl -s -o /dev/null --unix-socket "$dir/il.sock" --data-binary "{\"pod\":$pod}}" http://x/create
site() { curl -s --unix-socket "$dir/ferryd.sock" -X GET -d "[{\"metadata\":{\"uid\":\"$uid\"}}]" http://x/status; }
for _ in $(seq 100); do site | grep -q '"running"' && break; sleep 0.1; done
site | grep -q '"running"' && ok "a sleeping pod runs at the site" || no "the sleeper did not start: $(site)"
code=$(curl -s -o "$dir/del" -w '%{http_code}' --unix-socket "$dir/il.sock" --data-binary "$pod,\"status\":{\"phase\":\"Running\"}}" http://x/delete)
[ "$code" = 200 ] && ok "/delete through the API server: 200" || no "/delete answered $code: $(cat "$dir/del")"
for _ in $(seq 100); do pgrep -f 'sleep 300' >/dev/null || break; sleep 0.1; done
pgrep -f '^sleep 300$' >/dev/null && no "the pod still runs after the delete" || ok "the pod's process is gone"
echo "$pass passed, $fail failed"
rc=$((fail > 0))
exit $rc
