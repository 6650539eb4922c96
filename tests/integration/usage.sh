#!/bin/bash
# SPDX-License-Identifier: MIT
# The usage ledger (issue 12, spec/usage.md) through ferryd's /usage and `ferry usage`, local
# backend with the host runtime (real processes; CPU time from cgroups or, where none can be
# made, from wait4's rusage).
# Checks: one record per pod when it ends, with its user (label ferry.io/user), tenant, times,
# reason and the CPU time the pod's own shell reports (`times`) within 0.2 s; a deleted pod's
# record says Deleted; sums by namespace and user (CSV) count ended and running pods; kill -9
# of ferryd while pods run and end, restart: every pod has exactly one record; a token sees only
# its namespaces' records; a bad time is a 400; the ferry_usage_*_total counters equal the
# ledger after the restart.
#   usage.sh FERRYD FERRY
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
ferryd=$1
ferry=$2
port=${FERRY_TEST_TCP_PORT:-18751}
printf 'tok-ua-0123456789 ua\n' >"$dir/tokens"; chmod 600 "$dir/tokens"
opts=(--backend local --runtime host --backend-opt 'host_namespaces=*' --poll-interval-ms 100
  --listen "http://127.0.0.1:$port" --tokens "$dir/tokens")
ferryd_start "$ferryd" "${opts[@]}"
export FERRY_SERVER="unix://$sock"
f() { "$ferry" "$@"; }
pod() { # NS NAME UID USER SCRIPT
  printf '{"pod":{"metadata":{"name":"%s","namespace":"%s","uid":"%s","labels":{"ferry.io/user":"%s"}},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"]}]}}}' \
    "$2" "$1" "$3" "$4" "$5"
}
rec() { f usage --export | grep "\"uid\":\"$1\""; }
num() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }
burn='i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; times'
check "burn accepted" [ "$(create_json "$(pod ua burn u-burn alice "$burn")")" = 200 ]
check "short accepted" [ "$(create_json "$(pod ub short u-short bob 'sleep 0.3')")" = 200 ]
check "long accepted" [ "$(create_json "$(pod ub long u-long bob 'sleep 300')")" = 200 ]
wait_done u-burn u-short
for _ in $(seq 100); do [ -n "$(rec u-short)" ] && [ -n "$(rec u-burn)" ] && break; sleep 0.05; done
r=$(rec u-burn)
check "a record for the pod that ended ($r)" [ -n "$r" ]
check "its user, tenant and reason" grep -q '"tenant":"ua","user":"alice".*"reason":"Completed"' <<<"$r"
said=$(grep -o '[0-9]*m[0-9.]*s' "$pods/u-burn/logs/main.log" |
  awk -F'[ms]' '{t += ($1 * 60 + $2) * 1000} END {printf "%d", t}')
cpu=$(num cpu_seconds <<<"$r")
echo "burn: the ledger says $cpu CPU-seconds, the pod's shell said ${said:-?} ms"
check "CPU seconds within 0.2 s of the shell's own ($cpu s, $said ms)" \
  awk -v c="$cpu" -v s="$said" 'BEGIN {exit !(s > 100 && c * 1000 >= s - 200 && c * 1000 <= s + 200)}'
check "wall seconds from the container's start and end" \
  awk -v w="$(num wall_seconds <<<"$r")" 'BEGIN {exit !(w > 0 && w < 30)}'
sums=$(f usage --by namespace,user -o csv)
check "sums by namespace and user: ua/alice 1 ended ($sums)" grep -q '^ua,alice,1,0,' <<<"$sums"
check "ub/bob: 1 ended, 1 running" grep -q '^ub,bob,1,1,' <<<"$sums"
# the long one: deleted
api -o /dev/null -d '{"metadata":{"uid":"u-long","namespace":"ub","name":"long"}}' http://unix/delete
for _ in $(seq 100); do [ -n "$(rec u-long)" ] && break; sleep 0.1; done
check "a deleted pod's record says Deleted ($(rec u-long))" grep -q '"reason":"Deleted"' <<<"$(rec u-long)"
# kill -9 while pods run and end; they end while ferryd is down
for i in 1 2 3 4; do
  create_json "$(pod ua k$i u-k$i alice "sleep 0.$((i + 2))")" >/dev/null
done
for _ in $(seq 100); do [ -e "$pods/u-k1/started" ] && [ -e "$pods/u-k4/started" ] && break; sleep 0.02; done
kill -9 $pid; wait $pid 2>/dev/null
echo "killed ferryd with SIGKILL while 4 pods ran"
for u in u-k1 u-k2 u-k3 u-k4; do for _ in $(seq 200); do [ -e "$pods/$u/done" ] && break; sleep 0.02; done; done
ferryd_start "$ferryd" "${opts[@]}"
for _ in $(seq 100); do [ "$(f usage --export | grep -c '"uid":"u-k')" = 4 ] && break; sleep 0.05; done
all=$(f usage --export)
for u in u-burn u-short u-long u-k1 u-k2 u-k3 u-k4; do
  check "exactly one record for $u after the restart" [ "$(grep -c "\"uid\":\"$u\"" <<<"$all")" = 1 ]
done
# the counters equal the ledger (started from the store after the restart, grown since)
m=$(api http://unix/metrics)
mpods=$(awk '/^ferry_usage_pods_total\{/ {s += $2} END {print s + 0}' <<<"$m")
mcpu=$(awk '/^ferry_usage_cpu_seconds_total\{/ {s += $2} END {printf "%.3f", s}' <<<"$m")
lcpu=$(f usage --export | sed -n 's/.*"cpu_seconds":\([0-9.]*\).*/\1/p' | awk '{s += $1} END {printf "%.3f", s}')
check "ferry_usage_pods_total sums to the 7 records ($mpods)" [ "$mpods" = 7 ]
check "ferry_usage_cpu_seconds_total equals the ledger's sum ($mcpu, $lcpu)" \
  awk -v a="$mcpu" -v b="$lcpu" 'BEGIN {d = a - b; exit !(d < 0.01 && d > -0.01)}'
check "the deleted pod counted by its reason" grep -q '^ferry_usage_pods_total{tenant="ub",reason="Deleted"} 1$' <<<"$m"
# a token sees its namespaces only; a bad time is a 400
tok=$(curl -s -H 'Authorization: Bearer tok-ua-0123456789' "http://127.0.0.1:$port/usage?export=1")
check "the token for ua sees ua's records" grep -q '"uid":"u-burn"' <<<"$tok"
check "and not ub's" not grep -q '"namespace":"ub"' <<<"$tok"
code=$(curl -s -o "$dir/last" -w '%{http_code}' --unix-socket "$sock" 'http://unix/usage?since=yesterday')
check "since=yesterday is a 400 ($code $(cat "$dir/last"))" [ "$code" = 400 ]
check "ferry usage --by week is refused" not f usage --by week
finish
