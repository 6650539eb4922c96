#!/bin/bash
# SPDX-License-Identifier: MIT
# slurm-ci.sh up|down|status|ctld-stop|ctld-start — single-node Slurm 22.05 (Debian 12) on this
# host, as root, no systemd: munge, slurmctld, slurmd and two fake GPUs (GRES gpu:2).
# Copied from the tested recipe (ENVIRONMENT.md section 1); `up` is idempotent: when the
# controller already answers and the node is usable it starts nothing. ctld-stop/ctld-start
# stop and start only slurmctld (outage tests).
#   SLURM_CI_DIR   state/log dir               (default /tmp/slurm-ci)
#   SLURM_CI_SLOTS CPUs advertised to Slurm    (default 16 => 16 concurrent 1-CPU jobs)
#   SLURM_CI_ACCT=1  also start MariaDB + slurmdbd so sacct works
#   SLURM_CI_REST=1  also start slurmrestd (JWT) on 127.0.0.1:6820; only then is auth/jwt
#                    configured (it needs slurm-wlm-jwt-plugin, pulled in by slurmrestd)
# Packages: apt-get install -y slurm-wlm libslurm-dev munge [slurmrestd] [slurmdbd mariadb-server]
# Every wait watches the daemons it waits on: one that dies fails `up` at once with its log tail.
set -euo pipefail
S=${SLURM_CI_DIR:-/tmp/slurm-ci}
now() { date +%s%N; }
ms() { echo $(( ($(now) - $1) / 1000000 )); }
# a killed daemon whose parent is PID 1 stays a zombie for ~2 s on this VM: count zombies as gone
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# died NAME LOG: a daemon we wait on is gone: say so with the tail of its log, and fail
died() {
  echo "slurm-ci: $1 exited during start-up; last lines of $2:" >&2
  tail -n 20 "$2" >&2 2>/dev/null
  exit 1
}
# wait_for <tries of 0.1s> <cmd...>; WATCH="name:pid:log ..." are daemons that must stay alive
# meanwhile: one that dies ends the wait at once (never a full timeout on a dead service)
WATCH=""
wait_for() {
  local n=$1 w; shift
  for _ in $(seq "$n"); do
    "$@" >/dev/null 2>&1 && return 0
    for w in $WATCH; do
      IFS=: read -r wn wp wl <<<"$w"
      alive "$wp" || died "$wn" "$wl"
    done
    sleep 0.1
  done
  return 1
}
# start NAME OUT CMD...: run a daemon (stdout and stderr to OUT) in the foreground of its own session (so it outlives this
# script and the test that called it), with its pid known at once, and watch it while waiting
start() {
  local name=$1 log=$2; shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  LAST_PID=$!
  WATCH="$WATCH $name:$LAST_PID:$log"
}
stop_pidfile() {
  [ -s "$1" ] || return 0
  local p; p=$(cat "$1")
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 200); do alive "$p" || return 0; sleep 0.05; done
  kill -9 "$p" 2>/dev/null || true
}

# sinfo retries a dead controller for a long time: bound it
node_ok() { timeout 2 sinfo -h -N -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }

up() {
  local t0 H NCPU MEM
  t0=$(now)
  command -v slurmctld >/dev/null && command -v munged >/dev/null ||
    { echo "slurm-ci: slurm-wlm and munge are not installed (apt-get install -y slurm-wlm munge)" >&2; exit 3; }
  if [ -s "$S/slurmctld.pid" ] && alive "$(cat "$S/slurmctld.pid")" && node_ok; then
    echo "slurm already up"; return 0
  fi
  H=$(hostname -s)
  NCPU=${SLURM_CI_SLOTS:-16}
  MEM=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) - 1024 ))
  mkdir -p "$S"/{state,spool,rest} /etc/slurm /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 1777 "$S/rest"
  if [ ! -s /etc/munge/munge.key ]; then   # normally created by munge's postinst
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  fi
  # gres/gpu drops File-less GPUs and wants char devices: two fake ones (major 195 like nvidia)
  for i in 0 1; do [ -c "$S/fakegpu$i" ] || mknod "$S/fakegpu$i" c 195 "$i"; done
  [ -s "$S/jwt_hs256.key" ] || { dd if=/dev/urandom of="$S/jwt_hs256.key" bs=32 count=1 status=none; chmod 0600 "$S/jwt_hs256.key"; }

  # auth/jwt only where slurmrestd runs: the plugin is a separate package (slurm-wlm-jwt-plugin),
  # and slurmctld refuses to start when the configured plugin is missing
  local JWT=""
  if [ "${SLURM_CI_REST:-0}" = 1 ]; then
    command -v slurmrestd >/dev/null ||
      { echo "slurm-ci: SLURM_CI_REST=1 needs slurmrestd (apt-get install -y slurmrestd)" >&2; exit 3; }
    JWT="AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=${S}/jwt_hs256.key"
  fi
  local ACCT="AccountingStorageType=accounting_storage/none"
  if [ "${SLURM_CI_ACCT:-0}" = 1 ]; then
    ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu"
  fi
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=${H}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
${JWT}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=${S}/state
SlurmdSpoolDir=${S}/spool
SlurmctldPidFile=${S}/slurmctld.pid
SlurmdPidFile=${S}/slurmd.pid
SlurmctldLogFile=${S}/slurmctld.log
SlurmdLogFile=${S}/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
${ACCT}
JobCompType=jobcomp/filetxt
JobCompLoc=${S}/jobcomp.txt
GresTypes=gpu
NodeName=${H} NodeAddr=127.0.0.1 CPUs=${NCPU} RealMemory=${MEM} Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=${H} Name=gpu File=${S}/fakegpu[0-1]
CONF

  if ! { [ -s /run/munge/munged.pid ] && alive "$(cat /run/munge/munged.pid)"; }; then
    start munged /var/log/munge/munged.log runuser -u munge -- /usr/sbin/munged --foreground
  fi
  wait_for 100 sh -c 'munge -n </dev/null | unmunge' || { echo "munged not ready" >&2; exit 1; }

  if [ "${SLURM_CI_ACCT:-0}" = 1 ]; then
    mkdir -p "$S/mysql" /run/mysqld; chown mysql:mysql "$S/mysql" /run/mysqld
    [ -d "$S/mysql/mysql" ] || mariadb-install-db --user=mysql --datadir="$S/mysql" --skip-test-db >"$S/mysql-install.log" 2>&1
    start mariadbd "$S/mysql/mysqld.err" /usr/sbin/mariadbd --user=mysql --datadir="$S/mysql" \
      --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid --skip-networking \
      --log-error="$S/mysql/mysqld.err"
    wait_for 300 mariadb-admin --socket=/run/mysqld/mysqld.sock ping || { echo "mariadb not ready" >&2; exit 1; }
    mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
                GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
    cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
${JWT}
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
PidFile=${S}/slurmdbd.pid
LogFile=${S}/slurmdbd.log
CONF
    chmod 600 /etc/slurm/slurmdbd.conf
    start slurmdbd "$S/slurmdbd.out" /usr/sbin/slurmdbd -D
    wait_for 300 sh -c "ss -ltn | grep -q ':6819 '" || { echo "slurmdbd not ready" >&2; exit 1; }
  fi

  # a half-up stack (one daemon died): start again from a clean slate
  stop_pidfile "$S/slurmd.pid"
  stop_pidfile "$S/slurmctld.pid"
  start slurmctld "$S/slurmctld.out" /usr/sbin/slurmctld -D
  start slurmd "$S/slurmd.out" /usr/sbin/slurmd -D
  wait_for 300 node_ok || { echo "node not usable" >&2; timeout 5 sinfo -N >&2; exit 1; }

  if [ "${SLURM_CI_REST:-0}" = 1 ]; then
    # slurmrestd refuses to run as root; SLURM_JWT=daemon is required for rest_auth/jwt.
    # Without slurmdbd only the openapi/v0.0.3x (slurmctld) plugins may load: the default set includes
    # openapi/dbv0.0.3x (/slurmdb/...), which is fatal ("slurm not configured with slurmdbd").
    local PLUGINS=(-s openapi/v0.0.36,openapi/v0.0.37,openapi/v0.0.38)
    [ "${SLURM_CI_ACCT:-0}" = 1 ] && PLUGINS=()
    : >"$S/slurmrestd.log"
    start slurmrestd "$S/slurmrestd.log" runuser -u slurm -- env SLURM_JWT=daemon /usr/sbin/slurmrestd \
      "${PLUGINS[@]}" -a rest_auth/jwt 127.0.0.1:6820
    echo "$LAST_PID" > "$S/slurmrestd.pid"   # runuser's pid: killing it ends slurmrestd
    wait_for 100 sh -c "ss -ltn | grep -q '127.0.0.1:6820 '" || { echo "slurmrestd not ready" >&2; exit 1; }
  fi
  echo "slurm up in $(ms "$t0") ms"
}

down() {
  stop_pidfile "$S/slurmrestd.pid"
  stop_pidfile "$S/slurmd.pid"
  stop_pidfile "$S/slurmctld.pid"
  stop_pidfile "$S/slurmdbd.pid"
  stop_pidfile /run/mysqld/mysqld.pid
  stop_pidfile /run/munge/munged.pid
}

ctld_stop() { stop_pidfile "$S/slurmctld.pid"; }
ctld_start() {
  start slurmctld "$S/slurmctld.out" /usr/sbin/slurmctld -D
  wait_for 300 node_ok || { echo "controller not back" >&2; exit 1; }
}
status() {
  local d
  for d in munged:/run/munge/munged.pid slurmctld:$S/slurmctld.pid slurmd:$S/slurmd.pid; do
    if [ -s "${d#*:}" ] && alive "$(cat "${d#*:}")"; then echo "${d%%:*} running"; else echo "${d%%:*} stopped"; fi
  done
  sinfo -N 2>&1 || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  ctld-stop) ctld_stop ;;
  ctld-start) ctld_start ;;
  *) echo "usage: $0 up|down|status|ctld-stop|ctld-start" >&2; exit 2 ;;
esac
