#!/bin/bash
# SPDX-License-Identifier: MIT
# Container logs are rotated and capped like the kubelet's (issue 16; containerLogMaxSize /
# containerLogMaxFiles as the backend options container_log_max_size / _max_files): a pod that
# prints 300 MB leaves at most max_files x max_size on disk, the newest lines are kept, and
# /getLogs reads them across the rotated files in order (whole log and tail); a follower that
# started with the pod reads every line that was still on disk when it got to it, in order.
#   logcap.sh FERRYD
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
ferryd=$1
need_runtime --runtime bwrap
ferryd_start "$ferryd" --backend local --runtime bwrap --poll-interval-ms 100 \
  --backend-opt container_log_max_size=1Mi --backend-opt container_log_max_files=3

uid=4c0ffee0-0000-4000-8000-000000000300
# 3,000,000 lines of 100 bytes: 300 MB
create() {
  create_json '{"pod":{"metadata":{"name":"chatty","namespace":"logs","uid":"'$uid'"},"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"busybox","command":["seq","-f","line %09.0f padding-padding-padding-padding-padding-padding-padding-padding-padding-pad","1","3000000"]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}'
}
logs() { # OPTS_JSON
  api -d '{"Namespace":"logs","PodUID":"'$uid'","PodName":"chatty","ContainerName":"main","Opts":'"$1"'}' http://unix/getLogs
}
# every line one more than the one before, ending with LAST; prints the first
contiguous() { awk -v last="$1" '{ v = $2 + 0; if (NR > 1 && v != p + 1) { print "gap after " p; exit 1 } p = v; if (NR == 1) f = v } END { if (p != last) { print "ends at " p; exit 1 } print f }'; }

t0=$(date +%s%N)
check "pod accepted" [ "$(create)" = 200 ]
# ferryd answers logs once its poll has seen the container start (not ContainerCreating)
for _ in $(seq 200); do
  alive
  api -d '[{"metadata":{"uid":"'$uid'","namespace":"logs"}}]' http://unix/status | grep -q '"waiting"' || break
  sleep 0.05
done
logs '{"Follow":true}' >"$dir/followed" &
follower=$!
wait_done $uid
t1=$(date +%s%N)
echo "300 MB of output through the shim in $(( (t1 - t0) / 1000000 )) ms"
for _ in $(seq 100); do watch_alive $follower || break; sleep 0.1; done
check "the follower ended with the container" not watch_alive $follower
wait $follower 2>/dev/null
size=$(du -sb "$pods/$uid/logs" | cut -f1)
ls -l "$pods/$uid/logs" | sed 's/^/# /'
check "at most 3 files of 1 MiB on disk ($size bytes)" [ "$size" -le $((3 * 1048576 + 4096)) ]
check "three files" [ "$(ls "$pods/$uid/logs" | wc -l)" = 3 ]
first=$(logs '{}' | contiguous 3000000)
check "the whole log: the newest lines, in order, across the files (from line $first)" [ "${first:-0}" -gt 2900000 ]
check "tail across the files" [ "$(logs '{"Tail":15000}' | contiguous 3000000)" = 2985001 ]
check "tail of one line" [ "$(logs '{"Tail":1}' | cut -c1-14)" = "line 003000000" ]
# the follower read as fast as the pod wrote: it may have lost what was rotated away before it
# got there, never a line in the middle of what it read
ffirst=$(tail -n 10000 "$dir/followed" | contiguous 3000000)
check "the follower's last 10000 lines are the log's last ($ffirst)" [ "$ffirst" = 2990001 ]
check "the follower's lines only go up ($(wc -l <"$dir/followed") lines)" \
  awk '{ v = $2 + 0; if (NR > 1 && v <= p) exit 1; p = v }' "$dir/followed"
check "ferryd's state directory stays small" [ "$(du -sb "$dir/state" | cut -f1)" -le $((4 * 1048576)) ]
finish
