#!/bin/bash
# SPDX-License-Identifier: MIT
# Local storage (issue 16): the kubelet's eviction for emptyDir sizeLimit and ephemeral-storage
# limits, the writable container root, and ferryd's store staying writable when pods fill theirs.
#  - an emptyDir past its sizeLimit: pod Failed, reason Evicted, the kubelet's message;
#  - a container whose writable root passes its ephemeral-storage limit: the same;
#  - within the limits: Succeeded;
#  - writable root: / (outside the host's system directories), /var/tmp, /root are writable;
#    with readOnlyRootFilesystem they are not;
#  - the local backend's directory on a small file system of its own (a 24 MiB tmpfs): a pod that fills
#    it fails to write, and ferryd, whose store is elsewhere, records its end and takes more pods.
#   storage.sh FERRYD
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
ferryd=$1
need_runtime --runtime bwrap
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting the small file system needs root"; exit 77; }
# the local backend's directory (pods and its temporary directory, one file system)
mkdir -p "$dir/state/local"
mount -t tmpfs -o size=24m ferry-test-pods "$dir/state/local" || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
trap 'ferryd_cleanup; umount -l "$dir/state/local" 2>/dev/null' EXIT
ferryd_start "$ferryd" --backend local --runtime bwrap --poll-interval-ms 100

# pod NAME UID CONTAINER_EXTRA_JSON SCRIPT [VOLUMES_JSON]
pod() {
  printf '{"pod":{"metadata":{"name":"%s","namespace":"storage","uid":"%s"},"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"]%s}],"volumes":%s}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "$1" "$2" "$4" "$3" "${5:-[]}"
}
status_of() { api -d "[{\"metadata\":{\"uid\":\"$1\",\"namespace\":\"storage\"}}]" http://unix/status; }
until_status() {
  for _ in $(seq "${3:-200}"); do
    alive
    status_of "$1" | grep -qE "$2" && return 0
    sleep 0.05
  done
  echo "# status of $1: $(status_of "$1")"
  return 1
}
cache='[{"name":"cache","emptyDir":{"sizeLimit":"1Mi"}}]'
mnt=',"volumeMounts":[{"name":"cache","mountPath":"/cache"}]'
check "emptyDir pod accepted" [ "$(create_json "$(pod ed u-ed "$mnt" 'dd if=/dev/zero of=/cache/f bs=1048576 count=5 2>/dev/null; echo wrote; sleep 30' "$cache")")" = 200 ]
check "ephemeral pod accepted" [ "$(create_json "$(pod eph u-eph ',"resources":{"limits":{"ephemeral-storage":"2Mi"}}' 'mkdir /data; dd if=/dev/zero of=/data/f bs=1048576 count=5 2>/dev/null; echo wrote; sleep 30')")" = 200 ]
check "small pod accepted" [ "$(create_json "$(pod small u-small "$mnt"',"resources":{"limits":{"ephemeral-storage":"8Mi"}}' 'dd if=/dev/zero of=/cache/f bs=4096 count=64 2>/dev/null; mkdir /data; dd if=/dev/zero of=/data/f bs=4096 count=64 2>/dev/null; sleep 2; echo fine' '[{"name":"cache","emptyDir":{"sizeLimit":"10Mi"}}]')")" = 200 ]
check "over its sizeLimit: evicted" until_status u-ed '"phase":"Failed"' 200
s=$(status_of u-ed)
check "reason Evicted ($s)" grep -q '"reason":"Evicted"' <<<"$s"
check "the kubelet's message" grep -q 'Usage of EmptyDir volume \\"cache\\" exceeds the limit \\"1Mi\\"' <<<"$s"
check "over its ephemeral-storage: evicted" until_status u-eph '"reason":"Evicted"' 200
check "the kubelet's message" grep -q 'Container main exceeded its local ephemeral storage limit \\"2Mi\\"' <<<"$(status_of u-eph)"
check "within the limits: Succeeded" until_status u-small '"phase":"Succeeded"' 200

# writable root, and readOnlyRootFilesystem
w='mkdir -p /data && echo a > /data/x && echo b > /var/tmp/y && mkdir -p /root && echo c > /root/z && cat /data/x /var/tmp/y /root/z'
check "writable pod accepted" [ "$(create_json "$(pod rw u-rw '' "$w")")" = 200 ]
check "readonly pod accepted" [ "$(create_json "$(pod ro u-ro ',"securityContext":{"readOnlyRootFilesystem":true}' 'mkdir /data 2>&1; echo a > /data-x 2>&1; echo done')")" = 200 ]
check "the root is writable" until_status u-rw '"phase":"Succeeded"' 200
[ "$failed" = 0 ] || sed "s/^/# rw: /" "$pods/u-rw/logs/main.log"
check "etc pod accepted" [ "$(create_json "$(pod rw2 u-rw2 '' 'echo x > /etc/ferry-test')")" = 200 ]
check "the host's system directories are not writable" until_status u-rw2 '"phase":"Failed"' 200
wait_done u-ro
check "readOnlyRootFilesystem: / is read-only" grep -q 'Read-only file system' "$pods/u-ro/logs/main.log"

# fill the pods' file system
check "filler pod accepted" [ "$(create_json "$(pod fill u-fill '' 'dd if=/dev/zero of=/var/tmp/f bs=1048576 count=64 || exit 28' '[{"name":"big","emptyDir":{}}]' | sed 's|"args"|"volumeMounts":[{"name":"big","mountPath":"/var/tmp"}],"args"|')")" = 200 ]
check "the filler ends (its write failed)" until_status u-fill '"phase":"(Succeeded|Failed)"' 300
[ "$failed" = 0 ] || { sed "s/^/# fill: /" "$pods/u-fill/logs/main.log"; df -h "$pods"; grep -o "volumeMounts.\{0,100\}" "$pods/u-fill/spec.json"; }
check "its write failed (exit 28)" grep -q '"exitCode":28' <<<"$(status_of u-fill)"
check "ferryd still takes pods (an error, not a crash, while the disk is full)" [ "$(create_json "$(pod after u-after '' 'echo after')")" != 000 ]
alive
api -o /dev/null -d '{"metadata":{"name":"fill","namespace":"storage","uid":"u-fill"}}' http://unix/delete
for _ in $(seq 100); do [ -e "$pods/u-fill" ] || break; sleep 0.05; done
check "once the filler is deleted, pods run again" [ "$(create_json "$(pod again u-again '' 'echo again')")" = 200 ]
check "and finish" until_status u-again '"phase":"Succeeded"' 200
check "the filler's end is still on record" grep -q '"phase":"\(Succeeded\|Failed\)"' <<<"$(status_of u-fill)$(status_of u-again)"
ferryd_cleanup
umount -l "$dir/state/local"
finish
