#!/bin/bash
# Ferry's main job on the embedded default, end to end: start ferryd (local
# backend, SQLite state, bubblewrap sandbox when available), run a sample pod,
# show its status and logs, delete it, stop ferryd.
#   BUILD=build bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
[ -x "$B/src/ferryd/ferryd" ] || { echo "demo: build first (make)"; exit 1; }
runtime=host
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then runtime=bwrap; fi
dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 711 "$dir"   # pods run as an unprivileged user that must reach their volumes below it
sock="$dir/ferryd.sock"
echo "== starting ferryd (backend local, runtime $runtime, state $dir/state)"
"$B/src/ferryd/ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local --runtime "$runtime" \
  --backend-opt "host_namespaces=$( [ "$runtime" = host ] && echo default )" \
  --poll-interval-ms 250 >"$dir/ferryd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
export FERRY_SERVER="unix://$sock"
ferry="$B/src/ferry/ferry"
example=examples/hello.yaml
[ "$runtime" = host ] && example=examples/hello-host.yaml   # the host runtime cannot mount volumes
echo "== ferry ping";            "$ferry" ping
echo "== ferry run -f $example --wait"; "$ferry" run -f "$example" --wait
echo "== ferry get";             "$ferry" get
echo "== ferry logs hello";      "$ferry" logs hello
echo "== ferry delete hello";    "$ferry" delete hello
echo "== ferryd log";            cat "$dir/ferryd.log"
echo "demo: OK (state kept in $dir)"
