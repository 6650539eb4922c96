#!/bin/bash
# SPDX-License-Identifier: MIT
# ferryd logs for journald when systemd says stderr is the journal (JOURNAL_STREAM=DEV:INODE of
# its stderr): each line "<N>message" with N the syslog priority, no timestamp of its own; with
# no JOURNAL_STREAM, or one naming another file (a child whose stderr was redirected), the
# usual "TIME LEVEL message".
#   log-journal.sh FERRYD
set -uo pipefail
ferryd=$1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
d=$(mktemp -d /tmp/ferry-logj.XXXXXX)
chmod 711 "$d"   # pods' users must pass through to the state dir (ferryd checks)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
# a tokens file readable by others: ferryd warns (priority 4)
echo "0123456789abcdef0123 default" >"$d/tokens"
chmod 644 "$d/tokens"

# run_ferryd LOG JOURNAL_STREAM_VALUE: start ferryd with stderr on LOG, wait (10 s at most) for
# "ready" in it, then stop it with SIGTERM and wait for it to exit
run_ferryd() {
  local log=$1 js=$2 i
  : >"$log"
  if [ "$js" = self ]; then js=$(stat -c '%d:%i' "$log"); fi
  rm -rf "$d/state" "$d/s.sock"
  env ${js:+JOURNAL_STREAM=$js} "$ferryd" --listen "unix://$d/s.sock" --state-dir "$d/state" \
    --backend fake --tokens "$d/tokens" 2>"$log" &
  pid=$!
  for i in $(seq 200); do
    grep -q 'ready' "$log" && break
    if ! kill -0 "$pid" 2>/dev/null; then echo "ferryd died:"; tail -n 20 "$log"; pid=""; return 1; fi
    [ "$i" = 200 ] && { echo "ferryd not ready after 10 s:"; tail -n 20 "$log"; return 1; }
    sleep 0.05
  done
  kill -TERM "$pid"
  wait "$pid"
  local rc=$?
  pid=""
  [ "$rc" = 0 ] || { echo "ferryd exited $rc after SIGTERM"; tail -n 20 "$log"; return 1; }
}

# 1. stderr is the journal stream
if run_ferryd "$d/j.log" self; then
  ok
  if grep -vqE '^<[3467]>' "$d/j.log"; then bad "a line without a <N> prefix:"; grep -vE '^<[3467]>' "$d/j.log"; else ok; fi
  if grep -qE '^<6>ferryd .* ready' "$d/j.log"; then ok; else bad "no '<6>ferryd ... ready' line"; fi
  if grep -qE '^<4>token file .* readable by group/others' "$d/j.log"; then ok; else bad "no <4> warning for the tokens file"; fi
  if grep -qE '^<[0-9]>[0-9]{4}-[0-9]{2}-[0-9]{2}T|INFO|WARN' "$d/j.log"; then bad "journal lines carry a timestamp or level word"; else ok; fi
else
  bad "ferryd with JOURNAL_STREAM did not run"
fi
# 2. no JOURNAL_STREAM: timestamps and level words, no prefix
if run_ferryd "$d/plain.log" ""; then
  ok
  if grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z INFO ferryd .* ready' "$d/plain.log"; then ok; else bad "no 'TIME INFO ferryd ... ready' line"; cat "$d/plain.log"; fi
  if grep -q '^<' "$d/plain.log"; then bad "a <N> prefix without JOURNAL_STREAM"; else ok; fi
else
  bad "ferryd without JOURNAL_STREAM did not run"
fi
# 3. JOURNAL_STREAM naming another file (inherited, stderr redirected): no prefix
: >"$d/other"
if run_ferryd "$d/other.log" "$(stat -c '%d:%i' "$d/other")"; then
  ok
  if grep -q '^<' "$d/other.log"; then bad "a <N> prefix though stderr is not the journal stream"; else ok; fi
else
  bad "ferryd with a foreign JOURNAL_STREAM did not run"
fi
# 4. an error before the daemon starts: priority 3
: >"$d/err.log"
js=$(stat -c '%d:%i' "$d/err.log")
JOURNAL_STREAM=$js "$ferryd" --tokens "$d/no-such-file" --state-dir "$d/state" 2>"$d/err.log"
rc=$?
if [ "$rc" = 1 ] && grep -qE '^<3>cannot read token file' "$d/err.log"; then ok; else bad "error: exit $rc, log: $(cat "$d/err.log")"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
