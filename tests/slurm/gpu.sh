#!/bin/bash
# SPDX-License-Identifier: MIT
# Run by with-slurm.sh + with-ferryd.sh (slurm backend): a pod asking
# nvidia.com/gpu: 1 runs with one of the two fake GPUs (its log shows
# CUDA_VISIBLE_DEVICES=0 or 1); a pod asking for 3 is refused with Slurm's reason.
set -u
sock=${FERRY_SERVER#unix://}
api() { curl -s --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
uid() { cat /proc/sys/kernel/random/uuid; }
pod() { # uid name gpus
  printf '{"pod":{"metadata":{"name":"%s","namespace":"gpu","uid":"%s"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"],"resources":{"limits":{"nvidia.com/gpu":"%s"}}}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' "$2" "$1" "$3"
}
fail=0
u1=$(uid)
out=$(pod "$u1" gpu-one 1 | api --data-binary @- http://x/create)
echo "create gpu-one: $out"
for _ in $(seq 300); do
  st=$(api -d "[{\"metadata\":{\"uid\":\"$u1\"}}]" http://x/status)
  echo "$st" | grep -q '"phase":"\(Succeeded\|Failed\)"' && break
  sleep 0.2
done
echo "$st" | grep -q '"phase":"Succeeded"' || { echo "not ok - gpu-one did not succeed: $st"; fail=1; }
logs=$(api -d "{\"Namespace\":\"gpu\",\"PodUID\":\"$u1\",\"PodName\":\"gpu-one\",\"ContainerName\":\"main\",\"Opts\":{}}" http://x/getLogs)
echo "gpu-one log: $logs"
if echo "$logs" | grep -Eq '^CUDA_VISIBLE_DEVICES=[01]$'; then echo "ok - one fake GPU visible"; else echo "not ok - no single GPU in CUDA_VISIBLE_DEVICES"; fail=1; fi

u3=$(uid)
code=$(pod "$u3" gpu-three 3 | api -o /tmp/gpu3.$$ -w '%{http_code}' --data-binary @- http://x/create)
body=$(cat /tmp/gpu3.$$); rm -f /tmp/gpu3.$$
echo "create gpu-three: HTTP $code $body"
st=$(api -d "[{\"metadata\":{\"uid\":\"$u3\"}}]" http://x/status)
if [ "$code" != 200 ] && echo "$body" | grep -qi 'node configuration is not available\|gpu'; then
  echo "ok - 3 GPUs refused with a clear error"
elif echo "$st" | grep -q '"phase":"Failed"' && echo "$st" | grep -qi 'node configuration is not available'; then
  echo "ok - 3 GPUs: pod Failed with Slurm's reason"
else
  echo "not ok - 3 GPUs: HTTP $code, status $st"; fail=1
fi
[ $fail = 0 ] && echo "2 passed, 0 failed" || echo "failed"
exit $fail
