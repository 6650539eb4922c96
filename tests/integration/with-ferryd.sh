#!/bin/bash
# with-ferryd.sh FERRYD [FERRYD ARGS...] -- COMMAND [ARGS...]
# Starts ferryd on a fresh state dir with a unix socket (and TCP when
# FERRY_TEST_TCP_PORT is set), runs COMMAND with FERRY_SERVER, FERRY_TCP and
# FERRY_STATE in the environment, stops ferryd and returns COMMAND's status.
# The command is stopped, and the test fails with ferryd's log, if ferryd dies meanwhile.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/watch.sh"
ferryd=$1; shift
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
shift || true
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
need_runtime "${args[@]}"
dir=$(mktemp -d /tmp/ferry-test.XXXXXX)
chmod 711 "$dir"   # pods run as an unprivileged user that must reach their volumes below it
sock="$dir/ferryd.sock"
listen=(--listen "unix://$sock")
if [ -n "${FERRY_TEST_TCP_PORT:-}" ]; then
  listen+=(--listen "http://127.0.0.1:$FERRY_TEST_TCP_PORT")
  export FERRY_TCP="http://127.0.0.1:$FERRY_TEST_TCP_PORT"
fi
if [ -n "${FERRY_TEST_PLUGIN:-}" ]; then listen+=(--plugin-listen "unix://$dir/plugin.sock"); export FERRY_PLUGIN="unix://$dir/plugin.sock"; fi
"$ferryd" "${listen[@]}" --state-dir "$dir/state" "${args[@]}" >"$dir/ferryd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do { [ -S "$sock" ] || ! watch_alive $pid; } && break; sleep 0.05; done
if [ ! -S "$sock" ]; then echo "ferryd did not start:"; cat "$dir/ferryd.log"; kill $pid 2>/dev/null; exit 1; fi
export FERRY_SERVER="unix://$sock" FERRY_STATE="$dir/state" FERRY_DIR="$dir" FERRYD_PID=$pid
watch_run "ferryd:$pid:$dir/ferryd.log" "$@"
rc=$?
kill $pid 2>/dev/null; wait $pid 2>/dev/null
frc=$?
# ferryd must shut down cleanly on SIGTERM (under ASan this also catches leaks)
if [ $rc -eq 0 ] && [ $frc -ne 0 ]; then echo "ferryd exited with status $frc on SIGTERM"; rc=1; fi
if [ $rc -ne 0 ]; then echo "--- ferryd log"; tail -80 "$dir/ferryd.log"; fi
rm -rf "$dir"
exit $rc
