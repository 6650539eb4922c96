#!/bin/bash
# Crash test: kill -9 ferryd at a random moment during a burst of N pods on the
# local backend, restart it on the same state, re-send every create (as a
# Virtual Kubelet retries unanswered calls) and check that every pod finishes
# exactly once: each pod appends its uid to one file; each uid must appear once.
#   crash-test.sh FERRYD [N]
set -u
ferryd=$1
N=${2:-200}
dir=$(mktemp -d /tmp/ferry-crash.XXXXXX)
chmod 711 "$dir"
sock="$dir/ferryd.sock"
ran="$dir/ran"
: > "$ran"
chmod 666 "$ran"   # pods run as an unprivileged user (doc/security.md)
start() {
  "$ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local --runtime host --backend-opt 'host_namespaces=*' \
    --poll-interval-ms 200 >>"$dir/ferryd.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "ferryd did not come up"; cat "$dir/ferryd.log"; exit 1
}
body() { # uid
  printf '{"pod":{"metadata":{"name":"crash-%s","namespace":"crash","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["echo \\"$POD_MARK\\" >> %s"],"env":[{"name":"POD_MARK","value":"%s"}]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "${1:0:8}" "$1" "$ran" "$1"
}
uids=()
for i in $(seq "$N"); do uids+=("$(printf '00000000-0000-4000-8000-%012d' "$i")"); done
start
# burst in the background; kill -9 ferryd at a random moment in it
(
  for u in "${uids[@]}"; do
    body "$u" | curl -s -o /dev/null --max-time 10 --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- http://unix/create
  done
) &
burst=$!
sleep "0.$(( RANDOM % 9 + 1 ))"
kill -9 $pid
echo "killed ferryd (pid $pid) during the burst; pods started so far: $(wc -l < "$ran")"
wait $burst 2>/dev/null
start
# re-send every create: answered ones are idempotent, lost ones are created now
for u in "${uids[@]}"; do
  body "$u" | curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- http://unix/create
done | sort | uniq -c
# wait for all to finish
for _ in $(seq 300); do
  done_n=$(curl -s --unix-socket "$sock" -d '[]' http://unix/status | grep -o '"phase":"Succeeded"' | wc -l)
  [ "$done_n" -ge "$N" ] && break
  sleep 0.2
done
kill $pid; wait $pid 2>/dev/null
fail=0
[ "$done_n" -eq "$N" ] || { echo "FAIL: $done_n of $N pods Succeeded"; fail=1; }
dups=$(sort "$ran" | uniq -d | wc -l)
uniq_n=$(sort -u "$ran" | wc -l)
[ "$dups" -eq 0 ] || { echo "FAIL: $dups pods ran more than once"; fail=1; }
[ "$uniq_n" -eq "$N" ] || { echo "FAIL: $uniq_n of $N pods ran"; fail=1; }
if [ $fail -eq 0 ]; then
  echo "crash test: $N pods, each ran exactly once"
  echo "1 passed, 0 failed"
  rm -rf "$dir"
else
  tail -30 "$dir/ferryd.log"; echo "state kept in $dir"
  echo "0 passed, 1 failed"
fi
exit $fail
