#!/bin/bash
# SPDX-License-Identifier: MIT
# Run by with-slurm.sh: a site whose jobs run as nobody, uid 65534 (default_uid: sbatch --uid
# as root; Slurm needs a user it can resolve), runtime bwrap. ferry-shim then runs as that
# user inside the job: it must own the pod's working directory (logs, state); the pod runs
# as root inside the sandbox, 65534 outside; another user cannot read the pod's volumes.
#   job-uid.sh FERRYD SHIM WITH_FERRYD
set -u
if [ "${1:-}" = --checks ]; then
  sock=${FERRY_SERVER#unix://}
  pods=$2
  api() { curl -s --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
  fail=0 n=0
  ok() { echo "ok - $1"; n=$((n + 1)); }
  bad() { echo "not ok - $1"; fail=$((fail + 1)); }
  u=$(cat /proc/sys/kernel/random/uuid)
  printf '{"pod":{"metadata":{"name":"as-user","namespace":"batch","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","command":["sh","-c","id -u; echo data > /scratch/f; cat /scratch/f"],"volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}],"volumes":[{"name":"scratch","emptyDir":{}}]}}}' "$u" |
    api --data-binary @- http://x/create >/dev/null
  for _ in $(seq 300); do
    st=$(api -d "[{\"metadata\":{\"uid\":\"$u\"}}]" http://x/status)
    grep -q '"phase":"\(Succeeded\|Failed\)"' <<<"$st" && break
    sleep 0.2
  done
  grep -q '"phase":"Succeeded"' <<<"$st" && ok "the pod succeeded" || bad "the pod: $st"
  logs=$(api -d "{\"Namespace\":\"batch\",\"PodUID\":\"$u\",\"PodName\":\"as-user\",\"ContainerName\":\"main\",\"Opts\":{}}" http://x/getLogs)
  [ "$(printf '%s' "$logs" | paste -sd' ')" = "0 data" ] && ok "root inside the sandbox, its file written" || bad "logs: $logs"
  [ "$(stat -c %u "$pods/$u/logs")" = 65534 ] && ok "the job's user owns the workdir (logs)" || bad "logs/ owner $(stat -c %u "$pods/$u/logs")"
  [ "$(stat -c %u "$pods/$u/volumes/scratch/f")" = 65534 ] && ok "the pod's file belongs to 65534 on the host" ||
    bad "file owner $(stat -c %u "$pods/$u/volumes/scratch/f")"
  if setpriv --reuid 60011 --regid 60011 --clear-groups cat "$pods/$u/volumes/scratch/f" >/dev/null 2>&1; then
    bad "another user reads the pod's volume"
  else ok "another user cannot read the pod's volume"; fi
  echo "$n passed, $fail failed"
  exit $((fail > 0))
fi

ferryd=$1 shim=$2 with_ferryd=$3
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing"; exit 77; }
dir=$(mktemp -d /tmp/ferry-slurm-uid.XXXXXX)
chmod 711 "$dir"
cat > "$dir/site.yaml" <<YAML
workdir_root: "$dir/pods"
shim_path: "$shim"
runtime: bwrap
default_uid: 65534
YAML
bash "$with_ferryd" "$ferryd" --backend slurm --backend-opt "site=$dir/site.yaml" \
  --poll-interval-ms 200 -- bash "$0" --checks "$dir/pods"
rc=$?
rm -rf "$dir"
exit $rc
