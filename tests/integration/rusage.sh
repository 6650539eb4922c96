#!/bin/bash
# SPDX-License-Identifier: MIT
# Where no cgroup is made (cgroup_parent=off, or a host whose cgroup file system is read-only),
# the shim still records what a container used: CPU time and peak memory from wait4's rusage of
# the container's process and what it waited for (the usage ledger's fallback, issue 12). Host
# runtime only: under bwrap the sandbox's init reaps the container's processes and the outer
# bwrap's rusage does not carry them (doc/local-backend.md, "Limits").
# Checks: a pod that loops for a while records the CPU time its own shell reports (`times`,
# the shell's and its children's user and system time) within 0.2 s; one that holds 60 MiB
# records a peak of at least that.
#   rusage.sh FERRYD
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
ferryd=$1
ferryd_start "$ferryd" --backend local --runtime host --backend-opt host_namespaces=ru \
  --backend-opt cgroup_parent=off --poll-interval-ms 100
check "ferryd says limits are off" grep -q 'NOT enforced' "$dir/ferryd.log"
pod() {
  printf '{"pod":{"metadata":{"name":"%s","namespace":"ru","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"]}]}}}' \
    "$1" "$2" "$3"
}
field() { sed -n "s/^$2=//p" "$pods/$1/state/main"; }
# work in the shell and in a child it waits for, then the shell's own account of it
burn='i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sh -c \"j=0; while [ \\$j -lt 300000 ]; do j=\\$((j+1)); done\"; times'
check "burn pod accepted ($(cat "$dir/last" 2>/dev/null))" [ "$(create_json "$(pod burn u-burn "$burn")")" = 200 ]
hog='x=$(head -c 62914560 /dev/zero | tr \\\\000 x); echo held ${#x}'
check "memory pod accepted" [ "$(create_json "$(pod hog u-hog "$hog")")" = 200 ]
wait_done u-burn u-hog
cpu=$(field u-burn cpu_ns) peak=$(field u-hog mem_peak)
# `times`: "0m0.52s 0m0.01s" (the shell) then the same for its children; in milliseconds
said=$(grep -o '[0-9]*m[0-9.]*s' "$pods/u-burn/logs/main.log" |
  awk -F'[ms]' '{t += ($1 * 60 + $2) * 1000} END {printf "%d", t}')
echo "burn: the shim recorded $cpu ns of CPU, the shell said ${said:-?} ms; hog: peak $peak bytes"
check "the shell accounted for its CPU time (${said:-none} ms)" [ "${said:-0}" -gt 100 ]
check "recorded CPU within 0.2 s of it (${cpu:-none} ns, ${said:-none} ms)" \
  [ "${cpu:-0}" -ge $(( (${said:-0} - 200) * 1000000 )) -a "${cpu:-0}" -le $(( (${said:-0} + 200) * 1000000 )) ]
check "the held 60 MiB in the peak (${peak:-none} bytes)" [ "${peak:-0}" -ge 62914560 ]
check "it printed what it held" grep -q 'held 62914560' "$pods/u-hog/logs/main.log"
finish
