# SPDX-License-Identifier: MIT
# Sourced by integration tests that drive one ferryd (local backend) through its API on a
# unix socket. Sets: dir (a fresh 0711 temp directory), sock, pods (the local backend's pod
# directories), pid (ferryd's). Provides:
#   ferryd_start FERRYD ARGS...   start it (log: $dir/ferryd.log), wait for /healthz; exit 1 with
#                                 the log tail when it dies or does not come up
#   alive                         exit 1 with the log tail when ferryd died
#   api CURL_ARGS...              curl on the socket
#   create_json JSON              POST /create; prints the HTTP code, body in $dir/last
#   wait_done UID...              until the shim wrote done (fails fast when ferryd dies)
#   check DESCRIPTION COMMAND...  count a pass or print FAIL (`not COMMAND...` negates)
#   finish                        print the counts; exit 1 on any failure
set -u
. "$(dirname "${BASH_SOURCE[0]}")/watch.sh"

dir=$(mktemp -d /tmp/ferry-test.XXXXXX)
chmod 711 "$dir"
sock="$dir/ferryd.sock"
pods="$dir/state/local/pods"
pid=
passed=0 failed=0

ferryd_start() {
  local bin=$1
  shift
  "$bin" --listen "unix://$sock" --state-dir "$dir/state" "$@" >>"$dir/ferryd.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && return 0
    watch_alive $pid || break
    sleep 0.05
  done
  echo "FAIL: ferryd did not come up"; tail -30 "$dir/ferryd.log"; exit 1
}
alive() { watch_alive $pid || { echo "FAIL: ferryd died"; tail -30 "$dir/ferryd.log"; exit 1; }; }
api() { curl -s --unix-socket "$sock" "$@"; }
create_json() {
  printf '%s' "$1" | api -o "$dir/last" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @- http://unix/create
}
wait_done() {
  local u
  for u in "$@"; do
    for _ in $(seq 600); do
      alive
      [ -e "$pods/$u/done" ] && break
      sleep 0.05
    done
    [ -e "$pods/$u/done" ] || { echo "FAIL: pod $u did not finish"; tail -20 "$dir/ferryd.log"; exit 1; }
  done
}
not() { ! "$@"; }
check() {
  local d=$1
  shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $d"; failed=$((failed + 1)); fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ] || { echo "--- ferryd.log"; tail -20 "$dir/ferryd.log"; exit 1; }
  ferryd_cleanup # while $pods still names what to clean
  pid=
  rm -rf "$dir"
}
# ferryd, then the shims of its pods (they outlive ferryd by design), TERM then KILL
ferryd_cleanup() {
  [ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid 2>/dev/null
  pkill -TERM -f "ferry-shim $dir/" 2>/dev/null || { podman_cleanup; return 0; }
  for _ in $(seq 40); do pgrep -f "ferry-shim $dir/" >/dev/null || { podman_cleanup; return 0; }; sleep 0.05; done
  pkill -KILL -f "ferry-shim $dir/" 2>/dev/null
  podman_cleanup
  return 0
}
# podman containers outlive a killed shim (conmon runs them): remove this test's (ferry-<uid>-*)
podman_cleanup() {
  command -v podman >/dev/null && [ -d "$pods" ] || return 0
  local names u
  names=$(podman ps -a --format '{{.Names}}' 2>/dev/null) || return 0
  for u in $(ls "$pods"); do
    grep "^ferry-$u-" <<<"$names" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  done
  return 0
}
trap ferryd_cleanup EXIT
