#!/bin/bash
# SPDX-License-Identifier: MIT
# with-slurm.sh COMMAND [ARGS...]: make sure the single-node test Slurm runs
# (scripts/slurm-ci.sh up: munge, slurmctld, slurmd, two fake GPUs, 16 slots),
# then run COMMAND with SLURM_CI in the environment (the script's path).
# Exits 77 (meson: skipped) when not root or when slurm-wlm/munge are missing.
# Slurm is left running for the next test; `scripts/slurm-ci.sh down` stops it
# (FERRY_SLURM_DOWN=1 stops it after COMMAND).
# While COMMAND runs, munged, slurmctld and slurmd are watched (FERRY_SLURM_WATCH names them;
# the outage test leaves slurmctld out): one that dies stops COMMAND and fails it with its log.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ci=$here/../../scripts/slurm-ci.sh
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the Slurm tests start slurmctld/slurmd and need root"; exit 77
fi
for t in slurmctld slurmd munged sbatch squeue; do
  command -v "$t" >/dev/null || { echo "SKIP: $t missing (apt-get install -y slurm-wlm munge)"; exit 77; }
done
command -v bwrap >/dev/null || { echo "SKIP: bwrap missing (apt-get install -y bubblewrap)"; exit 77; }
SLURM_CI_SLOTS=${SLURM_CI_SLOTS:-16} bash "$ci" up || { echo "FAIL: scripts/slurm-ci.sh up"; exit 1; }
export SLURM_CI="$ci"
. "$here/../lib/watch.sh"
S=${SLURM_CI_DIR:-/tmp/slurm-ci}
watch=""
for d in ${FERRY_SLURM_WATCH:-munged slurmctld slurmd}; do
  case $d in
    munged) watch="$watch munged:$(cat /run/munge/munged.pid):/var/log/munge/munged.log" ;;
    *) watch="$watch $d:$(cat "$S/$d.pid"):$S/$d.out" ;;
  esac
done
watch_run "$watch" "$@"
rc=$?
[ "${FERRY_SLURM_DOWN:-0}" = 1 ] && bash "$ci" down
exit $rc
