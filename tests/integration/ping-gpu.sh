#!/bin/bash
# Under with-ferryd.sh (local backend) with FERRY_NVML_LIBRARY pointing at the
# fake NVML: /pinglink must report the host's free GPUs and MIG slices, from
# ferryd's allocation (no pod holds one here; a process NVML sees on a slice
# does not make it taken: the device plugin counts the same way).
set -u
out=$(curl -s --unix-socket "${FERRY_SERVER#unix://}" http://unix/pinglink)
echo "$out"
fail=0
echo "$out" | grep -q '"resourceType":"nvidia.com/gpu","available":"1"' || { echo "FAIL: whole GPU missing"; fail=1; }
echo "$out" | grep -q '"resourceType":"nvidia.com/mig-1g.10gb","available":"2"' || { echo "FAIL: MIG slice missing"; fail=1; }
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
