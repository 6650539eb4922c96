#!/bin/bash
# Ferry's main job on the embedded default, end to end: start ferryd (local
# backend, SQLite state, bubblewrap sandbox when available), run a sample pod,
# show its status and logs, delete it, stop ferryd.
#   BUILD=build bash scripts/demo.sh        in the source tree, the build's programs
#   /usr/share/ferry/demo.sh                installed (the package): ferryd and ferry from PATH
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/../meson.build" ]; then
  cd "$here/.."
  B=${BUILD:-build}
  ferryd=$B/src/ferryd/ferryd ferry=$B/src/ferry/ferry examples=examples
  [ -x "$ferryd" ] || { echo "demo: build first (make)"; exit 1; }
else
  ferryd=$(command -v ferryd) || { echo "demo: no ferryd in PATH"; exit 1; }
  ferry=$(command -v ferry) || { echo "demo: no ferry in PATH"; exit 1; }
  examples=$here/examples
fi
runtime=host
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then runtime=bwrap; fi
dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
chmod 711 "$dir"   # pods run as an unprivileged user that must reach their volumes below it
sock="$dir/ferryd.sock"
echo "== starting $ferryd (backend local, runtime $runtime, state $dir/state)"
"$ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local --runtime "$runtime" \
  --backend-opt "host_namespaces=$( [ "$runtime" = host ] && echo default )" \
  --poll-interval-ms 250 >"$dir/ferryd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
# wait for the socket (10 s at most); fail at once with ferryd's log if it dies
for i in $(seq 200); do
  [ -S "$sock" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "demo: ferryd died:"; tail -n 30 "$dir/ferryd.log"; exit 1; }
  [ "$i" = 200 ] && { echo "demo: no socket after 10 s:"; tail -n 30 "$dir/ferryd.log"; exit 1; }
  sleep 0.05
done
export FERRY_SERVER="unix://$sock"
example=$examples/hello.yaml
[ "$runtime" = host ] && example=$examples/hello-host.yaml   # the host runtime cannot mount volumes
echo "== ferry ping";            "$ferry" ping
echo "== ferry run -f $example --wait"; "$ferry" run -f "$example" --wait
echo "== ferry get";             "$ferry" get
echo "== ferry logs hello";      "$ferry" logs hello
echo "== ferry delete hello";    "$ferry" delete hello
echo "== ferryd log";            cat "$dir/ferryd.log"
echo "demo: OK (state kept in $dir)"
