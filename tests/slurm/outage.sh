#!/bin/bash
# SPDX-License-Identifier: MIT
# Outage test on real Slurm (run by with-slurm.sh): pods run, slurmctld is
# stopped for OUTAGE_S seconds, new pods are created meanwhile. Checks: creates
# are answered at once (the backend probes the controller instead of blocking
# in an RPC), the new pods wait with a visible reason (BackendUnavailable),
# nothing fails because of the outage, and every pod is submitted and
# succeeds once the controller is back.
#   outage.sh FERRYD [OUTAGE_S]   (the routine suite uses 15 s; doc/slurm-runtime.md has a 60 s run)
set -u
ferryd=$1
OUT=${2:-15}
ci=${SLURM_CI:?run me through with-slurm.sh}
dir=$(mktemp -d /tmp/ferry-slurm-outage.XXXXXX)
chmod 711 "$dir"
sock="$dir/ferryd.sock"
"$ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend slurm --runtime host \
  --poll-interval-ms 500 >"$dir/ferryd.log" 2>&1 &
pid=$!
trap 'bash "$ci" ctld-start >/dev/null 2>&1; kill $pid 2>/dev/null' EXIT
for _ in $(seq 200); do curl -s --unix-socket "$sock" http://unix/healthz >/dev/null 2>&1 && break; sleep 0.05; done
api() { curl -s --max-time 30 --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
body() { # uid name seconds
  printf '{"pod":{"metadata":{"name":"%s","namespace":"outage","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["sleep %s; echo done"]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' "$2" "$1" "$3"
}
fail=0
before=() during=()
for i in 1 2 3 4 5; do
  u=$(cat /proc/sys/kernel/random/uuid); before+=("$u")
  body "$u" "before-$i" 4 | api --data-binary @- http://unix/create >/dev/null
done
# the five are at Slurm (they have job ids) before the controller goes
for _ in $(seq 100); do
  [ "$(api -d '[]' http://unix/status | grep -o '"JID":"[0-9][^"]*"' | wc -l)" -ge 5 ] && break
  sleep 0.1
done
echo "stopping slurmctld for $OUT s"
bash "$ci" ctld-stop
t_stop=$(date +%s)
slow=0
for i in $(seq 10); do
  u=$(cat /proc/sys/kernel/random/uuid); during+=("$u")
  t=$(body "$u" "during-$i" 1 | api -o /dev/null -w '%{http_code} %{time_total}' --data-binary @- http://unix/create)
  echo "create during outage: $t"
  [ "${t%% *}" = 200 ] || { echo "FAIL: create during the outage answered ${t%% *}"; fail=1; }
  awk "BEGIN{exit !(${t##* } > 2)}" && slow=$((slow + 1))
done
# one create may race the stop: sent within 250 ms of the last good RPC it blocks in
# libslurm's connect retries (~9 s), then is accepted like the rest
[ $slow -le 1 ] || { echo "FAIL: $slow creates took more than 2 s"; fail=1; }
# the first create may have raced the stop (and been submitted): judge the others
q=""
for u in "${during[@]:1}"; do q="$q${q:+,}{\"metadata\":{\"uid\":\"$u\"}}"; done
for _ in $(seq 50); do
  st=$(api -d "[$q]" http://unix/status)
  n_why=$(echo "$st" | grep -o '"phase":"Pending","reason":"BackendUnavailable"' | wc -l)
  [ "$n_why" -ge $(( ${#during[@]} - 1 )) ] && break
  sleep 0.1
done
if [ "$n_why" -ge $(( ${#during[@]} - 1 )) ]; then echo "ok - waiting pods say BackendUnavailable ($n_why)"; else echo "FAIL: no visible reason on $(( ${#during[@]} - 1 - n_why )) pods: $st"; fail=1; fi
while [ $(( $(date +%s) - t_stop )) -lt "$OUT" ]; do
  n_failed=$(api -d '[]' http://unix/status | grep -o '"phase":"Failed"' | wc -l)
  [ "$n_failed" = 0 ] || { echo "FAIL: $n_failed pods Failed during the outage"; fail=1; break; }
  sleep 1
done
echo "starting slurmctld again after $(( $(date +%s) - t_stop )) s"
bash "$ci" ctld-start
t_back=$(date +%s)
all=("${before[@]}" "${during[@]}")
for _ in $(seq 240); do
  s=$(api -d '[]' http://unix/status)
  ok=$(echo "$s" | grep -o '"phase":"Succeeded"' | wc -l)
  bad=$(echo "$s" | grep -o '"phase":"Failed"' | wc -l)
  [ "$ok" -ge "${#all[@]}" ] || [ "$bad" -gt 0 ] && break
  sleep 0.5
done
echo "after the outage: $ok of ${#all[@]} Succeeded, $bad Failed, $(( $(date +%s) - t_back )) s after the controller came back"
[ "$ok" = "${#all[@]}" ] || { echo "FAIL: not every pod succeeded"; echo "$s"; fail=1; }
kill $pid; wait $pid 2>/dev/null
trap - EXIT
if [ $fail = 0 ]; then echo "1 passed, 0 failed"; rm -rf "$dir"; else grep -v ' create ' "$dir/ferryd.log" | tail -20; echo "state kept in $dir"; echo "0 passed, 1 failed"; fi
exit $fail
