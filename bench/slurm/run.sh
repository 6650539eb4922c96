#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Slurm submission bench (issue 3): in ONE run on the single-node test Slurm
# (scripts/slurm-ci.sh, 16 slots), the time of
#   A. N plain `sbatch --wrap true` calls in a loop (the reference),
#   B. N pods created through ferryd's API on the slurm backend (libslurm submit),
#   C. the same with submit=sbatch (one sbatch process per pod, for comparison),
# each starting from an empty queue (the previous phase is drained first).
# B and C: `ferry-bench create` (bench/core) over C keep-alive unix-socket
# connections; a create is answered only once its job is in Slurm (job id known).
# Figures, not assertions. Needs root, slurm-wlm, munge; the pods use the host runtime.
#
#   bash bench/slurm/run.sh           N=500 CONNS=8 (BUILD_DIR=build)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
FERRYD=$BUILD_DIR/src/ferryd/ferryd
FB=$BUILD_DIR/bench/core/ferry-bench
N=${N:-500}
CONNS=${CONNS:-8}
say() { printf '== %s\n' "$*" >&2; }
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root (starts Slurm)" >&2; exit 2; }
if [[ -f $BUILD_DIR/build.ninja ]]; then ninja -C "$BUILD_DIR" src/ferryd/ferryd src/shim/ferry-shim bench/core/ferry-bench >/dev/null; fi
[[ -x $FERRYD && -x $FB ]] || { echo "run.sh: build first (meson setup $BUILD_DIR && ninja -C $BUILD_DIR)" >&2; exit 2; }
SLURM_CI_SLOTS=${SLURM_CI_SLOTS:-16} bash "$root/scripts/slurm-ci.sh" up >&2
tmp=$(mktemp -d /tmp/ferry-slurm-bench.XXXXXX)
chmod 711 "$tmp"
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
now() { date +%s.%N; }
dt() { awk "BEGIN{printf \"%.3f\", $2 - $1}"; }
drain() { # wait until nothing of ours is queued or running
  for _ in $(seq 1200); do
    [[ $(squeue -h -t pending,running,completing,configuring | wc -l) == 0 ]] && return 0
    sleep 0.25
  done
  echo "run.sh: queue did not drain" >&2; return 1
}
drain

say "A: $N plain sbatch calls"
t0=$(now)
for i in $(seq "$N"); do sbatch -Q -J "bench-sbatch-$i" -o /dev/null --wrap true >/dev/null; done
t1=$(now)
A=$(dt "$t0" "$t1")
drain

ferry_phase() { # label extra-ferryd-args...
  local label=$1; shift
  local d=$tmp/$label
  mkdir -p "$d"
  "$FERRYD" --listen "unix://$d/s.sock" --state-dir "$d/state" --backend slurm --runtime host \
    --poll-interval-ms 1000 --log-level warning "$@" >"$d/ferryd.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [[ -S $d/s.sock ]] && break; sleep 0.05; done
  say "$label: $N pods through ferryd ($*)"
  local line
  line=$("$FB" create --unix "$d/s.sock" -n "$N" -c "$CONNS")
  echo "$line" >&2
  R=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$line")
  E=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
  P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  local jobs
  jobs=$(squeue -h -a -t all -o %j | grep -c -- '-' || true)
  drain
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
ferry_phase B
B=$R BE=$E BP=$P99
ferry_phase C --backend-opt submit=sbatch
C=$R CE=$E CP=$P99

host="$(nproc) vCPUs, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
cat <<TABLE
| run | $N submissions | per pod | vs plain sbatch | errors |
|---|---|---|---|---|
| A: plain \`sbatch --wrap true\` loop | ${A} s | $(awk "BEGIN{printf \"%.2f\", $A*1000/$N}") ms | 1.00x | - |
| B: ferryd, slurm backend, libslurm submit, $CONNS connections | ${B} s | $(awk "BEGIN{printf \"%.2f\", $B*1000/$N}") ms (p99 ${BP} ms) | **$(awk "BEGIN{printf \"%.2f\", $B/$A}")x** | $BE |
| C: ferryd, slurm backend, submit=sbatch, $CONNS connections | ${C} s | $(awk "BEGIN{printf \"%.2f\", $C*1000/$N}") ms (p99 ${CP} ms) | $(awk "BEGIN{printf \"%.2f\", $C/$A}")x | $CE |

machine: $host; $(date -u +%Y-%m-%d); Slurm $(sinfo -V | cut -d' ' -f2); goal: B <= 0.5x A
TABLE
[[ $BE == 0 && $CE == 0 ]]
