#!/bin/bash
# SPDX-License-Identifier: MIT
# Under with-ferryd.sh (local backend, runtime host, host_namespaces=trusted):
# the host runtime isolates nothing, so only namespaces the admin named may use it.
set -u
sock=${FERRY_SERVER#unix://}
create() { # NS UID -> HTTP status and body
  printf '{"pod":{"metadata":{"name":"p","namespace":"%s","uid":"%s"},"spec":{"containers":[{"name":"main","command":["true"]}]}}}' "$1" "$2" |
    curl -s -w '\n%{http_code}' --unix-socket "$sock" --data-binary @- http://x/create
}
pass=0 fail=0
out=$(create evil 40000000-0000-4000-8000-000000000001)
if [ "$(tail -n 1 <<<"$out")" = 403 ] && grep -q host_namespaces <<<"$out"; then
  echo "ok - namespace evil is refused the host runtime (403, names host_namespaces)"; pass=$((pass + 1))
else echo "not ok - evil on the host runtime: $out"; fail=$((fail + 1)); fi
out=$(create trusted 40000000-0000-4000-8000-000000000002)
if [ "$(tail -n 1 <<<"$out")" = 200 ]; then
  echo "ok - namespace trusted may use it"; pass=$((pass + 1))
else echo "not ok - trusted on the host runtime: $out"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
