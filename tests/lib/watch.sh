# SPDX-License-Identifier: MIT
# Sourced by the test wrappers: run a test while watching the services it waits on, so that a
# service that dies fails the test within a second, with the tail of its log, instead of the
# test waiting out its own timeout.
#
#   watch_run "NAME:PID:LOG ..." COMMAND [ARGS...]
#
# When a watched PID dies before COMMAND ends, COMMAND and every process below it get SIGTERM
# (SIGKILL 2 s later), the service's LOG tail is printed and watch_run returns 1. The whole tree,
# not a process group: wrappers nest (with-slurm.sh runs with-ferryd.sh runs the test), and a
# test left running would keep the test runner waiting on its output. Otherwise it returns COMMAND's status.
# An empty watch list just runs COMMAND.

# a killed daemon whose parent is PID 1 stays a zombie for a while: a zombie is gone
watch_alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# the pids of a process and all its descendants, parents first
watch_tree() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" 2>/dev/null); do watch_tree "$c"; done
}

watch_run() {
  local watch=$1 cpid w wn wp wl i
  shift
  "$@" &
  cpid=$!
  while watch_alive "$cpid"; do
    for w in $watch; do
      IFS=: read -r wn wp wl <<<"$w"
      [ -z "$wp" ] || watch_alive "$wp" && continue
      echo "FAIL: $wn (pid $wp) died while the test ran; the test is stopped"
      local tree
      tree=$(watch_tree "$cpid")
      kill -TERM $tree 2>/dev/null
      for i in $(seq 20); do watch_alive "$cpid" || break; sleep 0.1; done
      kill -KILL $tree 2>/dev/null
      wait "$cpid" 2>/dev/null
      if [ -n "$wl" ]; then echo "--- last lines of $wl"; tail -n 30 "$wl" 2>/dev/null; fi
      return 1
    done
    sleep 0.2
  done
  wait "$cpid"
}
