#!/bin/bash
# SPDX-License-Identifier: MIT
# Resource limits on the local backend (issue 16, doc/local-backend.md "Limits"), through
# ferryd's API and the real shim: each container in its own cgroup (v1 or v2, whatever the
# host mounts).
# Checks: a container over its memory limit is OOM-killed (pod Failed, reason OOMKilled, exit
# 137); one within its limit succeeds and its peak memory is recorded; a CPU limit of 200m holds
# a busy loop to about a fifth of the wall time (cpuacct), while an unlimited one gets a whole
# core; a process that escaped the container's process group (setsid) dies with the
# container; no cgroup is left once the pods are done; ping does not say limits are off.
#   limits.sh FERRYD [RUNTIME]
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
ferryd=$1
rt=${2:-bwrap}
need_runtime --runtime "$rt"
[ "$(id -u)" = 0 ] || { echo "SKIP: cgroups need root here"; exit 77; }
rtopts=(--backend-opt host_namespaces=limits)
if [ "$rt" = podman ]; then
  img=$(podman_busybox_image) || exit $?
  rtopts+=(--backend-opt "podman_image=$img" --backend-opt podman_pull=never)
fi
ferryd_start "$ferryd" --backend local --runtime "$rt" "${rtopts[@]}" --poll-interval-ms 100
grep -q 'NOT enforced' "$dir/ferryd.log" && { echo "SKIP: $(grep 'NOT enforced' "$dir/ferryd.log")"; exit 77; }

# pod NAME UID LIMITS_JSON SCRIPT
pod() {
  printf '{"pod":{"metadata":{"name":"%s","namespace":"limits","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"],"resources":{"limits":%s}}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "$1" "$2" "$4" "$3"
}
status_of() { api -d "[{\"metadata\":{\"uid\":\"$1\",\"namespace\":\"limits\"}}]" http://unix/status; }
field() { sed -n "s/^$2=//p" "$pods/$1/state/main"; }

# 100 MiB held in a shell variable: the same in bash and busybox sh
hog='x=$(head -c 104857600 /dev/zero | tr \\\\000 x); echo survived ${#x}'
code=$(create_json "$(pod oom u-oom '{"memory":"50Mi"}' "$hog")")
check "oom pod accepted ($code $(cat "$dir/last"))" [ "$code" = 200 ]
check "small pod accepted" [ "$(create_json "$(pod small u-small '{"memory":"1Gi"}' "$hog")")" = 200 ]
# a process that leaves the container's process group; the container ends at once
check "escape pod accepted" [ "$(create_json "$(pod escape u-escape '{"memory":"64Mi"}' 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo started')")" = 200 ]
# an attacker raises its own limit through the cgroup file system
raise='p=$(sed -n \"s/^[0-9]*:memory://p\" /proc/self/cgroup); echo cgroup $p; echo -1 > /sys/fs/cgroup/memory$p/memory.limit_in_bytes \u0026\u0026 echo RAISED; echo max > /sys/fs/cgroup$p/memory.max \u0026\u0026 echo RAISED; true'
check "raise pod accepted" [ "$(create_json "$(pod raise u-raise '{"memory":"64Mi"}' "$raise")")" = 200 ]
wait_done u-oom u-small u-escape u-raise
check "the raise pod ran" grep -q "F cgroup /" "$pods/u-raise/logs/main.log"
check "a pod cannot raise its own memory limit" not grep -q RAISED "$pods/u-raise/logs/main.log"
# the CPU pods alone, so that the unlimited one has a core to itself
burn='end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done'
check "cpu pod accepted" [ "$(create_json "$(pod cpu u-cpu '{"cpu":"200m"}' "$burn")")" = 200 ]
check "free cpu pod accepted" [ "$(create_json "$(pod cpufree u-cpufree '{"memory":"64Mi"}' "$burn")")" = 200 ]
wait_done u-cpu u-cpufree
# ferryd polls every 100 ms
for _ in $(seq 50); do status_of u-oom | grep -q '"phase":"Failed"' && break; sleep 0.1; done
s=$(status_of u-oom)
check "over its limit: Failed ($s)" grep -q '"phase":"Failed"' <<<"$s"
# podman on a cgroup v1 host does not see its OOM kills (doc/local-backend.md "Limits")
[ "$rt" = podman ] && [ "$(podman info --format '{{.Host.CgroupsVersion}}')" = v1 ] || \
check "over its limit: OOMKilled ($s)" grep -q '"reason":"OOMKilled"' <<<"$s"
check "over its limit: exit 137 ($s)" grep -q '"exitCode":137' <<<"$s"
check "over its limit: never printed survived" not grep -q survived "$pods/u-oom/logs/main.log"
check "within its limit: exit 0" [ "$(field u-small exit_code)" = 0 ]
check "within its limit: printed it" grep -q 'survived 104857600' "$pods/u-small/logs/main.log"
if [ "$rt" = podman ]; then
  # podman limits its own cgroup (--memory, --cpus): the shim has no figures of its own
  check "ping does not say limits are off" not api http://unix/pinglink | grep -q 'not enforced'
  finish
  exit 0
fi
peak=$(field u-small mem_peak)
check "peak memory recorded (${peak:-none} >= 100 MiB)" [ "${peak:-0}" -ge 104857600 ]
cpu=$(field u-cpu cpu_ns) free=$(field u-cpufree cpu_ns)
echo "cpu seconds in 3 s of busy loop: 200m limit $cpu ns, no limit $free ns"
check "cpu limit 200m: at most 0.75 s in 3 s (${cpu:-none} ns)" [ "${cpu:-0}" -gt 0 -a "${cpu:-0}" -le 750000000 ]
check "no cpu limit: more than 1.5 s in 3 s (${free:-none} ns)" [ "${free:-0}" -ge 1500000000 ]
check "the setsid process died with its container" not pgrep -f 'sleep 1000' >/dev/null
cg=$(sed -n 's/.* under \([^ ]*\).*/\1/p' "$pods/u-oom/cgroup" | head -1)
check "the shim said where the cgroups are ($(cat "$pods/u-oom/cgroup"))" [ -n "$cg" ]
check "no pod cgroup left in $cg" [ -z "$(ls "$cg" 2>/dev/null | grep '^u-')" ]
check "ping does not say limits are off" not api http://unix/pinglink | grep -q 'not enforced'
finish
