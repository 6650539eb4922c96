#!/bin/bash
# SPDX-License-Identifier: MIT
# Our cases for the behaviours interLink's vk-test-set checks (tests/data/vk-test-set/README.md),
# run as a user runs them: each case's manifests through the real `ferry run` into ferryd (local
# backend), then its `expect` lines checked with `ferry get`, `ferry logs`, `ferry delete`.
#   vk-test-set.sh FERRYD FERRY RUNTIME      (bwrap, podman; slurm: the Slurm backend with bwrap)
# expect lines (# comments):
#   runtimes RT...          the case runs only on these runtimes (else it is listed as skipped)
#   needs limits            skipped, saying why, where no cgroup may be written (limits are off)
#   wait                    ferry run --wait: until every pod and job has ended
#   phase POD PHASE         exit POD CONTAINER CODE
#   log POD CONTAINER ERE   a line of its log matches; nolog: none does
#   runlog POD CONTAINER ERE  the same, waiting up to 30 s for it (a running pod)
#   ready POD               within 30 s every container is ready
#   running POD SECONDS     still Running after that long
#   delete POD CONTAINER    follow CONTAINER's log, ferry delete POD, wait for the log to end;
#   dellog ERE              then a line of what it printed matches
#   job JOB STATE [REASON]  its condition; jobpods JOB N PHASE: exactly N pods, all in PHASE
#   joblog JOB CONTAINER ERE  some pod of the job logged it; nojoblog: none did
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
ferryd=$1
ferry=$2
rt=${3:-bwrap}
cases=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../data/vk-test-set")
[ "$rt" = slurm ] && need_runtime --runtime bwrap || need_runtime --runtime "$rt"
rtopts=()
if [ "$rt" = podman ]; then
  img=$(podman_busybox_image) || exit $?
  # an image with a default command of its own, for 095
  if ! podman image exists localhost/ferry-busybox-cmd:test 2>/dev/null; then
    cid=$(podman create --pull=never "$img" true) &&
      podman commit -q --change 'CMD ["sh", "-c", "echo image default command ran"]' "$cid" \
        localhost/ferry-busybox-cmd:test >/dev/null
    podman rm -f "$cid" >/dev/null 2>&1
  fi
  rtopts+=(--backend-opt "image_map=busybox:1.36=$img" --backend-opt podman_pull=never)
fi
backend=(--backend local --runtime "$rt")
# slurm: the bwrap runtime inside jobs of the single-node test Slurm (run under with-slurm.sh)
[ "$rt" = slurm ] && backend=(--backend slurm --runtime bwrap)
ferryd_start "$ferryd" "${backend[@]}" "${rtopts[@]}" --poll-interval-ms 200 --job-backoff-ms 200
export FERRY_SERVER="unix://$sock"
f() { "$ferry" "$@"; }

ns=
podjson() { f get -n "$ns" "$1" -o json 2>/dev/null; }
logs() { f logs -n "$ns" -c "$2" "$1" 2>/dev/null; }
jobpods() { f get -n "$ns" 2>/dev/null | awk -v j="$1" 'index($1, j "-") == 1 && length($1) == length(j) + 6 {print $1, $3}'; }
# the exit code of a container in a PodStatus printed with two-space indents
exitcode() { podjson "$1" | awk -v c="$2" '$0 ~ "\"name\": \"" c "\"" {in_c = 1} in_c && /"exitCode"/ {gsub(/[^0-9]/, ""); print; exit}'; }

# what the shim of pod $1 (in $ns) left: for a failure's report
diag() {
  local d
  d=$(dirname "$(grep -l -- "\"--hostname\", \"$1\"" "$pods"/*/spec.json 2>/dev/null | tail -1)")
  echo "# $d: $(ls "$d" | tr '\n' ' ')"
  tail -n 5 "$d"/logs/*.log "$d"/shim.out "$d"/state/* "$d"/probes/* 2>/dev/null | sed 's/^/#   /'
  ps -eo pid,ppid,user,stat,args | grep -v grep | grep -F "$1" | cut -c1-160 | sed 's/^/#   /'
}

run_case() {
  local c=$1 name want rc out line
  name=$(basename "$c")
  ns="vk-${name%%-*}"
  want=$(grep -v '^#' "$c/expect" | grep -v '^$')
  if grep -q '^runtimes ' <<<"$want" && ! grep -qE "^runtimes .*\\b$rt\\b" <<<"$want"; then
    echo "SKIP $name: runs only on $(sed -n 's/^runtimes //p' <<<"$want")"
    return
  fi
  # needs limits: memory/CPU limits need a cgroup file system this run may write
  if grep -q '^needs limits$' <<<"$want" && ! [ -w /sys/fs/cgroup/memory ] &&
    ! { [ -e /sys/fs/cgroup/cgroup.subtree_control ] && [ -w /sys/fs/cgroup ]; }; then
    echo "SKIP $name: no writable cgroup here, limits cannot be enforced"
    return
  fi
  if grep -q '^wait$' <<<"$want"; then
    out=$(f run -n "$ns" -f "$c/case.yaml" --wait --timeout 90s 2>&1); rc=$?
  else
    out=$(f run -n "$ns" -f "$c/case.yaml" 2>&1); rc=$?
  fi
  echo "--- $name (ferry run: $rc)"
  alive
  while read -r verb a b rest <&3; do
    case $verb in
      runtimes|wait|needs) ;;
      phase) check "$name: $a is $b" grep -q "\"phase\": \"$b\"" <<<"$(podjson "$a")" ;;
      exit) check "$name: $a/$b exited $rest ($(exitcode "$a" "$b"))" [ "$(exitcode "$a" "$b")" = "$rest" ] ;;
      log) check "$name: $a/$b logged /$rest/" grep -Eq -- "$rest" <<<"$(logs "$a" "$b")" ;;
      nolog) check "$name: $a/$b never logged /$rest/" not grep -Eq -- "$rest" <<<"$(logs "$a" "$b")" ;;
      runlog)
        for _ in $(seq 150); do alive; logs "$a" "$b" | grep -Eq -- "$rest" && break; sleep 0.2; done
        check "$name: $a/$b logged /$rest/ while running" grep -Eq -- "$rest" <<<"$(logs "$a" "$b")"
        grep -Eq -- "$rest" <<<"$(logs "$a" "$b")" || diag "$a" ;;
      ready)
        for _ in $(seq 150); do
          alive
          s=$(podjson "$a")
          grep -q '"ready": true' <<<"$s" && ! grep -q '"ready": false' <<<"$s" && break
          sleep 0.2
        done
        check "$name: $a became ready" grep -q '"ready": true' <<<"$(podjson "$a")" ;;
      running)
        sleep "$b" # how long it must stay up: a duration under test, not a wait for an event
        check "$name: $a still Running after ${b}s" grep -q '"phase": "Running"' <<<"$(podjson "$a")" ;;
      delete)
        f logs -f -n "$ns" -c "$b" "$a" >"$dir/dellog" 2>&1 &
        local lp=$!
        # the follower has found the pod once it printed the log so far
        for _ in $(seq 150); do [ -s "$dir/dellog" ] && break; alive; sleep 0.05; done
        check "$name: ferry delete $a" f delete -n "$ns" "$a"
        for _ in $(seq 150); do kill -0 $lp 2>/dev/null || break; alive; sleep 0.2; done
        kill $lp 2>/dev/null
        wait $lp 2>/dev/null ;;
      dellog) check "$name: on delete it logged /$a${b:+ $b}${rest:+ $rest}/" grep -Eq -- "$a${b:+ $b}${rest:+ $rest}" "$dir/dellog" ;;
      job)
        s=$(f get jobs "$a" -n "$ns" -o json 2>&1)
        check "$name: job $a is $b" grep -q "\"type\": \"$b\"" <<<"$s"
        [ -n "$rest" ] && check "$name: job $a reason $rest" grep -q "\"reason\": \"$rest\"" <<<"$s" ;;
      jobpods)
        check "$name: job $a has $b pods ($(jobpods "$a" | tr '\n' ' '))" [ "$(jobpods "$a" | wc -l)" = "$b" ]
        check "$name: all $rest" [ -z "$(jobpods "$a" | awk -v p="$rest" '$2 != p')" ] ;;
      joblog|nojoblog)
        local hit=no p
        for p in $(jobpods "$a" | awk '{print $1}'); do logs "$p" "$b" | grep -Eq -- "$rest" && hit=yes; done
        if [ "$verb" = joblog ]; then check "$name: a pod of job $a logged /$rest/ in $b" [ $hit = yes ]
        else check "$name: no pod of job $a logged /$rest/ in $b" [ $hit = no ]; fi ;;
      *) echo "FAIL: $name: unknown expect line: $verb $a $b $rest"; failed=$((failed + 1)) ;;
    esac
  done 3<<<"$want"
  [ $failed = 0 ] || { echo "$out"; }
}

# VK_CASE="090 115" runs only the cases with these prefixes
for c in "$cases"/*/; do
  sel=${VK_CASE:-}
  [ -z "$sel" ] || [[ " $sel " == *" $(basename "$c" | cut -c1-3) "* ]] || continue
  [ -f "$c/expect" ] && run_case "${c%/}"
done
alive
finish
