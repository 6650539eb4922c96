#!/bin/bash
# SPDX-License-Identifier: MIT
# GPUs on the local backend (issue 10), through ferryd's API, the real shim and
# bwrap, with the fake NVML (tests/gpu/fake-nvml) and fake device nodes made
# with mknod in a test /dev (backend option gpu_dev_dir): the host of
# tests/lib/fake-gpu.sh (four whole GPUs, one MIG GPU).
# Checks: ping from the allocation; pods that can never fit refused (422,
# naming the resource); inside bwrap a pod sees exactly its own nodes and
# variables (whole GPU, MIG by profile, none); a burst of N one-GPU pods with a
# kill -9 of ferryd in the middle and a restart: every pod succeeds, some waited
# with GPUUnavailable, and by the shim's recorded start/finish times no two
# pods ever held the same GPU at the same moment.
# With RUNTIME podman: the same look from inside podman containers (the nodes
# as --device; no CDI spec here), no burst.
#   gpu-local.sh FERRYD FAKE_NVML_LIBRARY [N [RUNTIME]]
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/watch.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/fake-gpu.sh"
ferryd=$1
export FERRY_NVML_LIBRARY=$2
N=${3:-50}
rt=${4:-bwrap}
need_runtime --runtime "$rt"
rtopts=()
if [ "$rt" = podman ]; then
  img=$(podman_busybox_image) || exit $?
  rtopts=(--backend-opt "podman_image=$img" --backend-opt podman_pull=never --backend-opt cdi_spec_dirs=/nonexistent)
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: mknod of the fake GPU nodes needs root"; exit 77; }

dir=$(mktemp -d /tmp/ferry-gpu.XXXXXX)
chmod 711 "$dir"
sock="$dir/ferryd.sock"
pods="$dir/state/local/pods"
fake_gpu_host "$dir"

pid=
start() {
  "$ferryd" --listen "unix://$sock" --state-dir "$dir/state" --backend local --runtime "$rt" "${rtopts[@]}" \
    "${FAKE_GPU_OPTS[@]}" \
    --poll-interval-ms 100 >>"$dir/ferryd.log" 2>&1 &
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
# body NAME UID RESOURCES_JSON SCRIPT
body() {
  printf '{"pod":{"metadata":{"name":"%s","namespace":"gpu","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"],"env":[{"name":"CUDA_VISIBLE_DEVICES","value":"0,1,2,3"}],"resources":{"limits":%s}}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "$1" "$2" "$4" "$3"
}
create() { # NAME UID RESOURCES SCRIPT -> http code, body in $dir/last
  body "$@" | api -o "$dir/last" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- http://unix/create
}
wait_done() { # UID...
  local u
  for u in "$@"; do
    for _ in $(seq 300); do
      alive
      [ -e "$pods/$u/done" ] && break
      sleep 0.05
    done
    [ -e "$pods/$u/done" ] || { echo "FAIL: pod $u did not finish"; tail -20 "$dir/ferryd.log"; exit 1; }
  done
}
passed=0 failed=0
check() { # DESCRIPTION COND...
  local d=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $d"; failed=$((failed + 1)); fi
}
cleanup() { [ -n "$pid" ] && kill $pid 2>/dev/null && wait $pid 2>/dev/null; }
trap cleanup EXIT
start

# --- ping: free units from the allocation
ping=$(api http://unix/pinglink)
check "ping reports 4 nvidia.com/gpu: $ping" grep -q '"resourceType":"nvidia.com/gpu","available":"4"' <<<"$ping"
check "ping reports 2 mig-1g.10gb: $ping" grep -q '"resourceType":"nvidia.com/mig-1g.10gb","available":"2"' <<<"$ping"
check "ping reports 1 mig-3g.40gb: $ping" grep -q '"resourceType":"nvidia.com/mig-3g.40gb","available":"1"' <<<"$ping"

# --- pods that can never fit
code=$(create too-many 10000000-0000-4000-8000-000000000001 '{"nvidia.com/gpu":"5"}' 'true')
check "5 GPUs refused with 422 naming the resource (got $code: $(cat "$dir/last"))" \
  bash -c "[ $code = 422 ] && grep -q 'nvidia.com/gpu' '$dir/last'"
code=$(create no-profile 10000000-0000-4000-8000-000000000002 '{"nvidia.com/mig-2g.20gb":"1"}' 'true')
check "a profile no GPU offers refused with 422 (got $code: $(cat "$dir/last"))" \
  bash -c "[ $code = 422 ] && grep -q 'mig-2g.20gb' '$dir/last'"

# --- what a pod sees inside bwrap
# an attacker's try first: make another GPU's node (refused: no device nodes in a user namespace)
look='mknod /tmp/nvidia1 c 195 1 2>/dev/null && echo MKNOD=made || echo MKNOD=refused; ls /dev | tr \"\\n\" \" \"; echo; ls /dev/nvidia-caps 2>/dev/null | tr \"\\n\" \" \"; echo; echo CVD=$CUDA_VISIBLE_DEVICES; echo NVD=$NVIDIA_VISIBLE_DEVICES'
ug=20000000-0000-4000-8000-000000000001 um=20000000-0000-4000-8000-000000000002
un=20000000-0000-4000-8000-000000000003
create see-gpu $ug '{"nvidia.com/gpu":"1"}' "$look" >/dev/null
create see-mig $um '{"nvidia.com/mig-1g.10gb":"1"}' "$look" >/dev/null
create see-none $un '{"cpu":"1"}' "$look" >/dev/null
wait_done $ug $um $un
log() { cat "$pods/$1/logs/main.log"; }
nodes() { log "$1" | grep -o 'nvidia[0-9a-z-]*' | sort -u | tr '\n' ' '; }
g=$(head -1 "$pods/$ug/gpus")
check "the GPU pod holds GPU-fake-0 (gpus: $g)" [ "$g" = GPU-fake-0 ]
check "the GPU pod sees nvidia0, nvidiactl, nvidia-uvm only (saw: $(nodes $ug))" \
  [ "$(nodes $ug)" = "nvidia-uvm nvidia0 nvidiactl " ]
check "the GPU pod's variables name its GPU, over its own value: $(log $ug | grep VD= | tr '\n' ' ')" \
  bash -c "grep -q 'CVD=GPU-fake-0\$' '$pods/$ug/logs/main.log' && grep -q 'NVD=GPU-fake-0\$' '$pods/$ug/logs/main.log'"
m=$(head -1 "$pods/$um/gpus")
check "the MIG pod holds a 1g.10gb instance (gpus: $m)" [ "$m" = MIG-fake-4-7-0 ]
check "the MIG pod sees its GPU and its two caps, not config/monitor (saw: $(nodes $um))" \
  bash -c "log() { cat '$pods/$um/logs/main.log'; }; [ \"\$(log | grep -o 'nvidia[0-9a-z-]*' | sort -u | tr '\n' ' ')\" = 'nvidia-cap66 nvidia-cap67 nvidia-caps nvidia-uvm nvidia4 nvidiactl ' ]"
check "the MIG pod's variables name its instance" grep -q 'CVD=MIG-fake-4-7-0$' "$pods/$um/logs/main.log"
if [ "$rt" = bwrap ]; then
  check "a GPU pod cannot make another GPU's device node" grep -q 'MKNOD=refused$' "$pods/$ug/logs/main.log"
fi
check "a pod without GPUs sees no nvidia node (saw: $(nodes $un))" [ -z "$(nodes $un)" ]
check "a pod without GPUs gets none: $(log $un | grep VD= | tr '\n' ' ')" \
  bash -c "grep -q '^.*CVD=\$' '$pods/$un/logs/main.log' && grep -q 'NVD=void\$' '$pods/$un/logs/main.log'"
check "a pod without GPUs has no gpus record" [ ! -e "$pods/$un/gpus" ]

if [ "$rt" != bwrap ]; then
  echo "$passed passed, $failed failed"
  [ $failed -eq 0 ] && rm -rf "$dir"
  [ $failed -eq 0 ]; exit
fi

# --- a burst of one-GPU pods, ferryd killed with -9 in the middle
uids=()
for i in $(seq "$N"); do uids+=("$(printf '30000000-0000-4000-8000-%012d' "$i")"); done
send_one() { create "b-${1: -4}" "$1" '{"nvidia.com/gpu":"1"}' 'sleep 0.5' >/dev/null; }
send_all() { # four clients at once, as a busy Virtual Kubelet
  local k u c=()
  for k in 0 1 2 3; do
    ( for u in "${uids[@]:$((k * N / 4)):$(((k + 1) * N / 4 - k * N / 4))}"; do send_one "$u"; done ) &
    c+=($!)
  done
  wait "${c[@]}"   # not ferryd, a child of this shell too
}
send_all &
burst=$!
# kill once some pods run and some wait
for _ in $(seq 200); do
  alive
  [ "$(ls "$pods" | grep -c '^3')" -ge 8 ] && break
  sleep 0.05
done
waiting=$(api -d '[]' http://unix/status | grep -o 'GPUUnavailable' | wc -l)
kill -9 $pid
wait $pid 2>/dev/null
wait $burst 2>/dev/null
check "pods waited with GPUUnavailable while the GPUs were taken ($waiting seen)" [ "$waiting" -gt 0 ]
start
send_all   # as the Virtual Kubelet retries unanswered calls: idempotent
wait_done "${uids[@]}"
alive
# the shims are done; ferryd sees the last ones at its next poll
for _ in $(seq 100); do
  alive
  ok=$(api -d '[]' http://unix/status | grep -o '"phase":"Succeeded"' | wc -l)
  [ "$ok" = "$((N + 3))" ] && break
  sleep 0.05
done
check "all $N burst pods and the 3 looking ones succeeded ($ok)" [ "$ok" = "$((N + 3))" ]
# intervals: uuid start finish, from the shim's records
for u in "${uids[@]}"; do
  s=$(sed -n 's/^started_ns=//p' "$pods/$u/state/main"); f=$(sed -n 's/^finished_ns=//p' "$pods/$u/state/main")
  echo "$(cat "$pods/$u/gpus" | tr '\n' ',') $s $f $u"
done > "$dir/intervals"
check "every burst pod held exactly one whole GPU" \
  bash -c "! awk '{ if (\$1 !~ /^GPU-fake-[0-3],\$/) print }' '$dir/intervals' | grep -q ."
overlaps=$(sort -k1,1 -k2,2n "$dir/intervals" | awk '$1 == g && $2 < f { print prev " / " $0 } { if ($1 != g || $3 > f) f = $3; g = $1; prev = $0 }')
check "no two pods on one GPU at the same moment${overlaps:+: $overlaps}" [ -z "$overlaps" ]
used=$(cut -d' ' -f1 "$dir/intervals" | sort -u | wc -l)
check "the burst used all 4 GPUs ($used)" [ "$used" = 4 ]
rec=$(sqlite3 "$dir/state/ferry.db" "SELECT uid || ' ' || detail FROM events WHERE kind='devices' AND uid LIKE '3%' ORDER BY uid")
want=$(awk '{ sub(/,$/, "", $1); print $4, $1 }' "$dir/intervals" | sort)
check "each burst pod's record in ferryd's store names the GPU it held" [ "$rec" = "$want" ]
ping=$(api http://unix/pinglink)
check "all 4 GPUs free again after the burst: $ping" grep -q '"resourceType":"nvidia.com/gpu","available":"4"' <<<"$ping"

echo "$passed passed, $failed failed"
if [ $failed -eq 0 ]; then rm -rf "$dir"; else echo "state kept in $dir"; tail -20 "$dir/ferryd.log"; fi
[ $failed -eq 0 ]
