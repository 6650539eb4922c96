#!/bin/bash
# SPDX-License-Identifier: MIT
# Run by with-slurm.sh: a site with allow_pre_exec: true (host runtime), ferryd
# on the slurm backend, and two pods with slurm-job.vk.io/pre-exec:
#  - one whose snippet leaves a marker in cwd/ (where it runs): the container (started
#    after it) sees the marker, and the snippet's output is in logs/pre_exec.log;
#  - one whose snippet exits 3: the pod fails with PreExecFailed and the exit
#    code in /status, and its container never runs.
#   pre-exec.sh FERRYD SHIM WITH_FERRYD
set -u
if [ "${1:-}" = --checks ]; then
  sock=${FERRY_SERVER#unix://}
  pods=$2
  api() { curl -s --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
  uid() { cat /proc/sys/kernel/random/uuid; }
  pod() { # uid name pre-exec(JSON string) command(JSON string)
    printf '{"pod":{"metadata":{"name":"%s","namespace":"pre","uid":"%s","annotations":{"slurm-job.vk.io/pre-exec":%s}},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c",%s]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' "$2" "$1" "$3" "$4"
  }
  wait_end() { # uid -> prints the last status
    local st
    for _ in $(seq 300); do
      st=$(api -d "[{\"metadata\":{\"uid\":\"$1\"}}]" http://x/status)
      echo "$st" | grep -q '"phase":"\(Succeeded\|Failed\)"' && break
      sleep 0.2
    done
    echo "$st"
  }
  fail=0
  ok() { echo "ok - $1"; }
  bad() { echo "not ok - $1"; fail=1; }

  u1=$(uid)
  # quotes and $ reach sh as written (one argv item, no quoting layer)
  out=$(pod "$u1" pre-ok '"x=\"it'"'"'s\"; echo \"$x\" > pre.marker; echo hello from pre-exec"' \
        '"cat pre.marker"' | api --data-binary @- http://x/create)
  echo "create pre-ok: $out"
  st=$(wait_end "$u1")
  echo "pre-ok status: $st"
  echo "$st" | grep -q '"phase":"Succeeded"' && ok "pre-ok succeeded" || bad "pre-ok did not succeed"
  logs=$(api -d "{\"Namespace\":\"pre\",\"PodUID\":\"$u1\",\"PodName\":\"pre-ok\",\"ContainerName\":\"main\",\"Opts\":{}}" http://x/getLogs)
  echo "pre-ok main log: $logs"
  [ "$logs" = "it's" ] && ok "the container saw the marker the pre-exec step wrote first" \
    || bad "container log is not the marker"
  grep -q 'hello from pre-exec' "$pods/$u1/logs/pre_exec.log" 2>/dev/null \
    && ok "pre-exec output in logs/pre_exec.log" || bad "no pre-exec output in $pods/$u1/logs/pre_exec.log"

  u2=$(uid)
  out=$(pod "$u2" pre-fail '"echo no module >&2; exit 3"' '"touch ../container-ran"' \
        | api --data-binary @- http://x/create)
  echo "create pre-fail: $out"
  st=$(wait_end "$u2")
  echo "pre-fail status: $st"
  echo "$st" | grep -q '"phase":"Failed"' && ok "pre-fail failed" || bad "pre-fail did not fail"
  echo "$st" | grep -q 'PreExecFailed' && echo "$st" | grep -q 'exited with code 3' \
    && ok "PreExecFailed with the exit code in /status" || bad "no PreExecFailed reason with the exit code"
  [ ! -e "$pods/$u2/container-ran" ] && ok "the container never ran" || bad "the container ran"
  grep -q 'no module' "$pods/$u2/logs/pre_exec.log" 2>/dev/null \
    && ok "failed pre-exec output in logs/pre_exec.log" || bad "no output of the failed pre-exec"
  [ $fail = 0 ] && echo "7 passed, 0 failed" || echo "failed"
  exit $fail
fi

ferryd=$1 shim=$2 with_ferryd=$3
dir=$(mktemp -d /tmp/ferry-slurm-pre.XXXXXX)
chmod 755 "$dir"
cat > "$dir/site.yaml" <<YAML
workdir_root: "$dir/pods"
shim_path: "$shim"
runtime: host
allow_pre_exec: true
YAML
bash "$with_ferryd" "$ferryd" --backend slurm --backend-opt "site=$dir/site.yaml" \
  --poll-interval-ms 200 -- bash "$0" --checks "$dir/pods"
rc=$?
rm -rf "$dir"
exit $rc
