#!/bin/bash
# SPDX-License-Identifier: MIT
# deb-check.sh: the Debian package, installed on a clean Debian 12. Builds it (scripts/make-deb.sh),
# copies the cached debootstrap'ed bookworm tree of scripts/fresh-machine-check.sh (made by
# `fresh-machine-check.sh bootstrap` when missing; never changed here), enters the copy the way
# that script does (new mount/PID/UTS/IPC namespaces, pivot_root, so bwrap works inside) and
# there, as root, with the host's network for apt:
#   1. apt-get installs the package (its Depends and Recommends from Debian's archive) and purges
#      it again, keeping the dependencies;
#   2. the maintainer scripts' systemd branch: with /run/systemd/system present and systemctl,
#      deb-systemd-invoke replaced by stubs that record their calls, install, upgrade and purge
#      must start, restart and stop ferryd.service (and, without it, call neither);
#   3. a snapshot of the file system; dpkg -i; checks: programs, conffile, /etc/ferry/tokens
#      (0600, no token), /var/lib/ferry (0711), ferryd.service enabled, ferry-node.service not,
#      man pages, the bash completion against `ferry --help`;
#   4. /usr/share/ferry/demo.sh (ferryd + local backend + bwrap: a pod end to end);
#   5. ferryd started exactly as ferryd.service's ExecStart does (the shipped
#      /etc/ferry/ferryd.yaml, stderr as a journal stream): ferry ping / run --wait / logs /
#      delete on the default socket /run/ferry/ferryd.sock, then SIGTERM;
#   6. dpkg --remove: programs gone, conffile, tokens and state kept;
#   7. dpkg --purge: dpkg knows nothing of ferry, /etc/ferry, /var/lib/ferry, /run/ferry and the
#      unit symlinks are gone, the file system is as in the snapshot, no ferry process runs;
#   8-13. the units under a real systemd: systemd (the Debian package) and ferry installed in the
#      tree, systemd booted as the init of a PID namespace (as in a container, in a cgroup2
#      subtree of its own; skipped, saying so, where the host has no cgroup2 hierarchy);
#      ferryd.service, enabled by the package, is running; a bwrap pod end to end through the
#      sandboxed unit; `systemctl restart ferryd` leaves a running pod's ferry-shim alone and the
#      pod completes; journald stores ferryd's lines by their <N> priorities; ferry-node.service
#      waits for its settings, then runs capability-less in its sandbox.
# Root only. Slow (~1-4 min: apt downloads): not part of `make check`; `make deb-check` runs it.
# Environment:
#   DEB               an already built .deb to check instead of building one
#   DEB_CHECK_ROOT    the scratch tree (default /var/cache/ferry-fresh/deb-rootfs)
#   DEB_CHECK_LOG     the log of the inside part (default /var/cache/ferry-fresh/logs/deb-check.log;
#                     systemd's console in the same name + .systemd)
#   FRESH_ROOT, FRESH_MIRROR  as for fresh-machine-check.sh, whose debootstrap cache this copies
#   DEB_CHECK_TIMEOUT seconds the inside part may take (default 1200)
# Exit status 0 when every check passed; otherwise the log's tail says which failed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BASE=/var/cache/ferry-fresh
PRISTINE=${FRESH_ROOT:-$BASE/rootfs}
PRISTINE=${PRISTINE%/}.pristine
STAMP=$PRISTINE.stamp
ROOT=${DEB_CHECK_ROOT:-$BASE/deb-rootfs}
ROOT=${ROOT%/}
LOG=${DEB_CHECK_LOG:-$BASE/logs/deb-check.log}
TIMEOUT=${DEB_CHECK_TIMEOUT:-1200}

die() { echo "deb-check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, pivot_root, dpkg in the tree)"
for t in unshare pivot_root findmnt timeout dpkg-deb; do
  command -v "$t" >/dev/null || die "$t is missing"
done
case "$ROOT" in /|"") die "DEB_CHECK_ROOT must not be /" ;; /*) ;; *) die "DEB_CHECK_ROOT must be absolute" ;; esac
[ "$ROOT" != "$PRISTINE" ] || die "DEB_CHECK_ROOT must not be the cache itself"
mkdir -p "$(dirname "$LOG")" "$(dirname "$ROOT")"

CHILD=""
cleanup() {
  local rc=$? m
  trap - EXIT INT TERM
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  for m in $(findmnt -rn -o TARGET | grep -E "^$ROOT(/|\$)" | sort -r); do umount -l "$m" 2>/dev/null || true; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. the package -------------------------------------------------------------------------
t0=$(date +%s)
if [ -n "${DEB:-}" ]; then
  deb=$DEB
else
  echo "deb-check: building the package (scripts/make-deb.sh)"
  deb=$(bash "$REPO/scripts/make-deb.sh" | tail -n 1)
  deb=$REPO/$deb
fi
[ -f "$deb" ] || die "no package at $deb"
echo "deb-check: package $deb ($(dpkg-deb -f "$deb" Version))"

# ---- 2. the tree: a copy of fresh-machine-check.sh's cached debootstrap ---------------------------
# the cache is fresh-machine-check.sh's: it creates it when missing or stale (a no-op otherwise)
bash "$REPO/scripts/fresh-machine-check.sh" bootstrap >"$LOG.bootstrap" 2>&1 ||
  { tail -n 30 "$LOG.bootstrap" >&2; die "no debootstrap cache at $PRISTINE (log $LOG.bootstrap)"; }
[ -f "$STAMP" ] || die "no debootstrap cache at $PRISTINE after fresh-machine-check.sh bootstrap"
for m in $(findmnt -rn -o TARGET | grep -E "^$ROOT(/|\$)" | sort -r); do umount -l "$m"; done
rm -rf "$ROOT"
cp -a "$PRISTINE" "$ROOT"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
echo ferry-deb >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost ferry-deb\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
mkdir -p "$ROOT/srv/deb-check"
cp "$deb" "$ROOT/srv/deb-check/ferry.deb"

# ---- 3. the checks, inside ----------------------------------------------------------------------
cat >"$ROOT/srv/deb-check/inside.sh" <<'INSIDE'
#!/bin/bash
set -euo pipefail
W=/srv/deb-check
deb=$W/ferry.deb
export DEBIAN_FRONTEND=noninteractive
n=0
step() { echo; echo "=== $*"; }
ok() { n=$((n + 1)); echo "ok: $*"; }
fail() { echo "deb-check FAIL: $*"; exit 1; }
# expect MESSAGE CMD...: CMD must succeed
expect() { local m=$1; shift; if "$@"; then ok "$m"; else fail "$m"; fi; }
not_installed() { [ "$1" = none ] || [ "$1" = "unknown ok not-installed" ]; }
# snapshot: every path of the file system but the volatile ones and this check's own directory
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
    -o -path "$W" -o -path /var/cache/apt -o -path /var/lib/apt/lists -o -path /var/log \) -prune \
    -o -print | sort
}
# ferry_procs: processes of ferry's programs in this PID namespace (comm, or exe under ferry's paths)
ferry_procs() {
  local p c e
  for p in /proc/[0-9]*; do
    c=$(cat "$p/comm" 2>/dev/null) || continue
    e=$(readlink "$p/exe" 2>/dev/null || true)
    case "$c $e" in ferryd*|ferry-shim*|ferry-node*|*/usr/bin/ferry*|*/usr/libexec/ferry/*) echo "${p#/proc/} $c $e" ;; esac
  done
}
# wait_for WHAT SECONDS CMD...: poll CMD every 50 ms until it succeeds
wait_for() {
  local what=$1 s=$2 i
  shift 2
  for ((i = 0; i < s * 20; i++)); do "$@" && return 0; sleep 0.05; done
  fail "$what: not within $s s"
}

step "1. apt-get install ./ferry.deb (dependencies from the archive), then purge it, keeping them"
apt-get update -qq
apt-get install -y -qq "$deb" >/dev/null
expect "installed with apt" [ "$(dpkg-query -W -f='${Status}' ferry)" = "install ok installed" ]
expect "bubblewrap came as a Recommends" command -v bwrap
dpkg --purge ferry >/dev/null
st=$(dpkg-query -W -f='${Status}' ferry 2>/dev/null || echo none)
expect "purged (status: $st)" not_installed "$st"

step "2. the maintainer scripts under systemd (stubs record systemctl and deb-systemd-invoke)"
mkdir -p /run/systemd/system /usr/local/sbin
for s in systemctl deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >>%s/calls\n' "$s" "$W" >/usr/local/sbin/$s
  chmod 755 /usr/local/sbin/$s
done
: >$W/calls
dpkg -i "$deb" >/dev/null
expect "install: daemon-reload" grep -qx 'systemctl --system daemon-reload' $W/calls
expect "install: ferryd.service started" grep -qx 'deb-systemd-invoke start ferryd.service' $W/calls
: >$W/calls
dpkg -i "$deb" >/dev/null
expect "upgrade: ferryd.service restarted" grep -qx 'deb-systemd-invoke restart ferryd.service' $W/calls
: >$W/calls
dpkg --purge ferry >/dev/null
expect "remove: both units stopped" grep -qx 'deb-systemd-invoke stop ferry-node.service ferryd.service' $W/calls
rm -rf /run/systemd /usr/local/sbin/systemctl /usr/local/sbin/deb-systemd-invoke
: >$W/calls
dpkg -i "$deb" >/dev/null && dpkg --purge ferry >/dev/null
expect "without systemd: no systemctl, no deb-systemd-invoke calls" [ ! -s $W/calls ]

step "3. dpkg -i on a snapshot of the file system"
snapshot >$W/before.txt
dpkg -i "$deb"
dpkg -L ferry >$W/files.txt
expect "dpkg: install ok installed" [ "$(dpkg-query -W -f='${Status}' ferry)" = "install ok installed" ]
for p in /usr/bin/ferryd /usr/bin/ferry /usr/bin/ferry-node /usr/libexec/ferry/ferry-shim; do
  expect "$p is executable" [ -x $p ]
done
expect "ferryd --version" [ "$(ferryd --version)" = "ferryd $(dpkg-query -W -f='${Version}' ferry | sed 's/-[^-]*$//')" ]
expect "/etc/ferry/ferryd.yaml is a conffile" grep -q '^ /etc/ferry/ferryd.yaml ' <(dpkg-query -W -f='${Conffiles}\n' ferry)
expect "/etc/ferry/ferryd.yaml parses" ferryd --config /etc/ferry/ferryd.yaml --help >/dev/null
expect "/etc/ferry/tokens is root's, mode 0600" [ "$(stat -c '%U %a' /etc/ferry/tokens)" = "root 600" ]
expect "/etc/ferry/tokens holds no token" [ -z "$(grep -v '^#' /etc/ferry/tokens | tr -d '[:space:]')" ]
expect "/etc/ferry/tokens is not in the package" [ -z "$(grep -x /etc/ferry/tokens $W/files.txt)" ]
expect "/var/lib/ferry exists, mode 0711" [ "$(stat -c %a /var/lib/ferry)" = 711 ]
expect "ferryd.service enabled" [ -L /etc/systemd/system/multi-user.target.wants/ferryd.service ]
expect "ferry-node.service not enabled" [ ! -e /etc/systemd/system/multi-user.target.wants/ferry-node.service ]
for m in man8/ferryd.8 man1/ferry.1 man8/ferry-node.8; do
  name=$(basename $m); name=${name%.*}
  expect "man page $m" grep -q "^\.TH \"$name\"" <(zcat /usr/share/man/$m.gz)
done
cmds=$(ferry --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p' | tr '\n' ' ')
got=$(bash -c 'source /usr/share/bash-completion/completions/ferry; COMP_WORDS=(ferry ""); COMP_CWORD=1; _ferry; echo "${COMPREPLY[*]} "')
expect "bash completion of 'ferry ' offers ferry --help's commands ($cmds)" [ "$got" = "$cmds" ]

step "4. /usr/share/ferry/demo.sh"
/usr/share/ferry/demo.sh >$W/demo.log 2>&1 || { tail -n 40 $W/demo.log; fail "the demo failed"; }
cat $W/demo.log
expect "the demo ran the pod under bwrap" grep -q 'runtime bwrap' $W/demo.log
expect "the demo's pod said hello" grep -q '^hello from a ConfigMap' $W/demo.log
expect "the demo ended OK" grep -q '^demo: OK' $W/demo.log

step "5. ferryd as ferryd.service starts it (ExecStart, /etc/ferry/ferryd.yaml, journal stream)"
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/ferryd.service)
echo "ExecStart: $exec_start"
install -d -m 0755 /run/ferry   # RuntimeDirectory=ferry
: >$W/ferryd.journal
js=$(stat -c '%d:%i' $W/ferryd.journal)
# shellcheck disable=SC2086 # ExecStart's words
JOURNAL_STREAM=$js $exec_start 2>>$W/ferryd.journal &
fpid=$!
alive_or_fail() { kill -0 $fpid 2>/dev/null || { tail -n 30 $W/ferryd.journal; fail "ferryd died"; }; }
sock_ready() { alive_or_fail; [ -S /run/ferry/ferryd.sock ]; }
wait_for "ferryd's socket /run/ferry/ferryd.sock" 10 sock_ready
expect "ferry ping on the default socket" ferry ping
expect "ferry run --wait: the pod succeeded" ferry run -f /usr/share/ferry/examples/hello.yaml --wait --timeout 60s
expect "ferry logs hello" grep -q '^hello from a ConfigMap' <(ferry logs hello)
expect "the pod's state is in /var/lib/ferry" [ -f /var/lib/ferry/ferry.db ]
expect "ferry delete hello" ferry delete hello
gone() { alive_or_fail; ! ferry get hello >/dev/null 2>&1 && ! ferry_procs | grep -qv ' ferryd '; }
wait_for "the pod gone (ferry get: not found, no ferry-shim)" 30 gone
kill -TERM $fpid
rc=0; wait $fpid || rc=$?
expect "ferryd exits 0 on SIGTERM" [ $rc = 0 ]
cat $W/ferryd.journal
expect "ferryd logged with journal priorities" grep -qE '^<6>ferryd .* ready' $W/ferryd.journal
expect "every line has a priority" [ -z "$(grep -vE '^<[0-7]>' $W/ferryd.journal)" ]

step "6. dpkg --remove"
dpkg --remove ferry
expect "dpkg: deinstall ok config-files" [ "$(dpkg-query -W -f='${Status}' ferry)" = "deinstall ok config-files" ]
expect "ferryd gone" [ ! -e /usr/bin/ferryd ]
expect "ferry-shim gone" [ ! -e /usr/libexec/ferry/ferry-shim ]
expect "conffile kept" [ -f /etc/ferry/ferryd.yaml ]
expect "tokens kept" [ -f /etc/ferry/tokens ]
expect "state kept" [ -f /var/lib/ferry/ferry.db ]

step "7. dpkg --purge"
dpkg --purge ferry
expect "dpkg -L ferry: not installed" [ -z "$(dpkg -L ferry 2>/dev/null)" ]
st=$(dpkg-query -W -f='${Status}' ferry 2>/dev/null || echo none)
expect "dpkg knows no ferry (status: $st)" not_installed "$st"
expect "/etc/ferry gone" [ ! -e /etc/ferry ]
expect "/var/lib/ferry gone" [ ! -e /var/lib/ferry ]
expect "/run/ferry gone" [ ! -e /run/ferry ]
expect "no unit symlinks left" [ -z "$(find /etc/systemd -name 'ferry*')" ]
expect "no deb-systemd-helper state left" [ -z "$(grep -rl ferry /var/lib/systemd/deb-systemd-helper-* 2>/dev/null; find /var/lib/systemd -name '*ferry*' 2>/dev/null)" ]
left=""
while IFS= read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && left="$left $f"; done <$W/files.txt
expect "none of the package's files is left" [ -z "$left" ]
snapshot >$W/after.txt
diff -u $W/before.txt $W/after.txt || fail "the file system differs from the snapshot taken before dpkg -i"
ok "the file system is as before dpkg -i"
procs=$(ferry_procs)
[ -z "$procs" ] || { echo "$procs"; fail "ferry processes still run"; }
ok "no ferry process runs"

echo
echo "deb-check: $n checks passed"
echo "$n passed, 0 failed"
INSIDE
chmod 755 "$ROOT/srv/deb-check/inside.sh"
# the systemd part: systemd (the package) and ferry installed, then the checks under it
cat >"$ROOT/srv/deb-check/install-systemd.sh" <<'INSTALL'
set -euo pipefail
echo; echo "=== 8. apt-get install systemd and the package again (for the units under systemd)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd /srv/deb-check/ferry.deb >/dev/null
echo "ok: systemd $(dpkg-query -W -f='${Version}' systemd) and ferry installed"
INSTALL
cat >"$ROOT/srv/deb-check/systemd.sh" <<'SYSTEMD'
#!/bin/bash
set -euo pipefail
W=/srv/deb-check
step() { echo; echo "=== $*"; }
ok() { echo "ok: $*"; }
fail() { echo "deb-check FAIL: $*"; journalctl --no-pager -n 40 -u ferryd -u ferry-node || true; exit 1; }
expect() { local m=$1; shift; if "$@"; then ok "$m"; else fail "$m"; fi; }
wait_for() {
  local what=$1 s=$2 i
  shift 2
  for ((i = 0; i < s * 20; i++)); do "$@" && return 0; sleep 0.05; done
  fail "$what: not within $s s"
}
bus() { systemctl show -p Version >/dev/null 2>&1; }
wait_for "systemd answering on its socket" 60 bus
state=$(timeout 120 systemctl is-system-running --wait || true)
step "9. systemd booted ($state); ferryd.service, enabled by the package, started with it"
expect "ferryd.service enabled" [ "$(systemctl is-enabled ferryd)" = enabled ]
active() { systemctl is-active --quiet ferryd; }
wait_for "ferryd.service active" 30 active
ok "ferryd.service active (main pid $(systemctl show -p MainPID --value ferryd))"
sock() { [ -S /run/ferry/ferryd.sock ]; }
wait_for "/run/ferry/ferryd.sock" 10 sock
expect "the journal has ferryd's lines without the <N> prefix (journald read it)" \
  [ -n "$(journalctl -u ferryd -o cat | grep 'ready: backend local')" ]
expect "no line kept a <N> prefix" [ -z "$(journalctl -u ferryd -o cat | grep '^<[0-7]>')" ]

step "10. a pod through the sandboxed unit (bwrap under ProtectSystem=strict, NoNewPrivileges...)"
expect "ferry ping" ferry ping
expect "ferry run hello --wait" ferry run -f /usr/share/ferry/examples/hello.yaml --wait --timeout 60s
expect "ferry logs hello" grep -q '^hello from a ConfigMap' <(ferry logs hello)
expect "ferry delete hello" ferry delete hello

step "11. systemctl restart ferryd: a running pod goes on (KillMode=process) and is found again"
cat >$W/long.yaml <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: long}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo start; i=0; while [ $i -lt 16 ]; do i=$((i+1)); sleep 0.5; done; echo end"]
POD
expect "ferry run long" ferry run -f $W/long.yaml
running() { ferry get long 2>/dev/null | grep -q ' Running '; }
wait_for "pod long running" 30 running
# (no procps in the tree: /proc by hand)
shims() { local p; for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = ferry-shim ] && echo "${p#/proc/}"; done; true; }
shim_before=$(shims)
expect "one ferry-shim runs the pod" [ -n "$shim_before" ]
expect "systemctl restart ferryd" systemctl restart ferryd
wait_for "ferryd.service active again" 30 active
wait_for "/run/ferry/ferryd.sock again" 10 sock
expect "the pod's ferry-shim survived the restart (pid $shim_before)" [ "$(shims)" = "$shim_before" ]
succeeded() { ferry get long 2>/dev/null | grep -q ' Succeeded '; }
wait_for "pod long succeeded" 60 succeeded
ok "pod long succeeded after the restart"
expect "its log ran from start to end" [ "$(ferry logs long | tr '\n' ' ')" = "start end " ]
expect "ferry delete long" ferry delete long

step "12. priorities: a warning reaches the journal as a warning"
# a TCP-less tokens setup as README describes: a token line, but the file readable by others
echo "0123456789abcdef0123456789abcdef default" >/etc/ferry/tokens
chmod 644 /etc/ferry/tokens
echo "tokens: /etc/ferry/tokens" >>/etc/ferry/ferryd.yaml
expect "systemctl restart ferryd" systemctl restart ferryd
warned() { journalctl -u ferryd -p warning -o cat | grep -q 'readable by group/others'; }
wait_for "the tokens-mode warning at priority warning" 10 warned
ok "journalctl -p warning shows ferryd's warning"
expect "info lines are not warnings" [ -z "$(journalctl -u ferryd -p warning -o cat | grep 'ready: backend')" ]

step "13. ferry-node.service: waits for its settings, then runs in its sandbox"
systemctl start ferry-node
expect "without /etc/ferry/ferry-node.yaml it does not start (ConditionPathExists)" \
  [ "$(systemctl show -p ConditionResult --value ferry-node)" = no ]
cat >/etc/ferry/ferry-node.kubeconfig <<'KC'
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: "not-a-real-token"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
chmod 600 /etc/ferry/ferry-node.kubeconfig
printf 'node_name: deb-check\nferryd_url: unix:///run/ferry/ferryd.sock\nkubeconfig: /etc/ferry/ferry-node.kubeconfig\nkubelet_port: 0\n' \
  >/etc/ferry/ferry-node.yaml
systemctl start ferry-node
# no API server here: it reads its 0600 settings and kubeconfig as capability-less root and tries
# to reach the API (nothing in its seccomp filter or address families stops it)
tried() { journalctl -u ferry-node -p warning -o cat | grep -q 'registering node deb-check: cannot reach the Kubernetes API'; }
wait_for "ferry-node trying to reach the API" 20 tried
ok "ferry-node runs in its sandbox and logs its retries as warnings"
expect "ferry-node.service active" systemctl is-active --quiet ferry-node
expect "ferry-node runs without capabilities" \
  [ "$(grep CapEff /proc/"$(systemctl show -p MainPID --value ferry-node)"/status | awk '{print $2}')" = 0000000000000000 ]
systemctl kill -s KILL ferry-node; systemctl stop ferry-node
echo
echo "deb-check: the units passed under systemd"
SYSTEMD
chmod 755 "$ROOT/srv/deb-check/systemd.sh"

# shellcheck disable=SC2016 # expanded by the namespace's bash
INNER='
set -euo pipefail
R=$1 mode=$2 arg=$3
[ "$mode" = boot ] && echo 0 >"$arg/cgroup.procs"   # systemd gets a cgroup2 subtree of its own
mount --bind "$R" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
[ "$mode" = boot ] && mount --bind "$arg" "$R/sys/fs/cgroup"
mount -t tmpfs -o nosuid,mode=755 dev "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=620,ptmxmode=0666 devpts "$R/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$R/dev/shm"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$R/tmp"
mount -t tmpfs -o nosuid,nodev,mode=755 run "$R/run"
mkdir -m 1777 "$R/run/lock"
hostname "$(cat "$R/etc/hostname")"
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
# boot: systemd becomes the init of this PID namespace, as in a container
[ "$mode" = boot ] && exec env -i container=ferry-deb-check /lib/systemd/systemd --system --log-target=console
env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash "$arg" &
child=$!
rc=0
wait "$child" || rc=$?
exit "$rc"
'
# inside SCRIPT: run SCRIPT (a path in the tree) in the entered tree, output appended to $LOG
inside() {
  timeout -k 30 "$TIMEOUT" unshare --mount --uts --ipc --pid --fork --kill-child --propagation private \
    /bin/bash -c "$INNER" inner "$ROOT" run "$1" </dev/null >>"$LOG" 2>&1 &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  [ "$rc" = 0 ] && return 0
  [ "$rc" = 124 ] && echo "deb-check: timed out after $TIMEOUT s" >>"$LOG"
  failed "$rc"
}
failed() {
  echo "---- last 60 lines of $LOG ----" >&2
  tail -n 60 "$LOG" >&2
  die "FAILED (exit $1) after $(( $(date +%s) - t0 )) s"
}
echo "deb-check: checking in $ROOT (log $LOG)"
: >"$LOG"
inside /srv/deb-check/inside.sh

# ---- 4. the units under a booted systemd ----------------------------------------------------------
# systemd runs as the init of a PID namespace in the tree (as in a container), in a cgroup2
# subtree of its own; the checks run in its namespaces (nsenter). Needs a cgroup2 hierarchy.
cg2=$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)
if [ -z "$cg2" ] || ! command -v nsenter >/dev/null; then
  echo "deb-check: the systemd part is skipped: no cgroup2 hierarchy or no nsenter here" | tee -a "$LOG"
else
  inside /srv/deb-check/install-systemd.sh
  CG=$cg2/ferry-deb-check.$$
  mkdir "$CG"
  sdlog=$LOG.systemd
  timeout -k 30 "$TIMEOUT" unshare --mount --uts --ipc --pid --fork --kill-child --propagation private \
    /bin/bash -c "$INNER" inner "$ROOT" boot "$CG" </dev/null >"$sdlog" 2>&1 &
  CHILD=$!
  # systemd's PID on this side: the child of unshare, once it has exec'd systemd
  sd=""
  for _ in $(seq 400); do
    u=$(pgrep -P "$CHILD" | head -n 1 || true)
    [ -n "$u" ] && sd=$(pgrep -P "$u" | head -n 1 || true)
    [ -n "$sd" ] && [ "$(cat "/proc/$sd/comm" 2>/dev/null)" = systemd ] && break
    kill -0 "$CHILD" 2>/dev/null || { tail -n 30 "$sdlog" >&2; die "systemd did not start (log $sdlog)"; }
    sd=""
    sleep 0.05
  done
  [ -n "$sd" ] || { tail -n 30 "$sdlog" >&2; die "systemd did not start within 20 s (log $sdlog)"; }
  echo "deb-check: systemd booted (pid $sd here; console log $sdlog)"
  rc=0
  nsenter -t "$sd" -a env -i HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash /srv/deb-check/systemd.sh </dev/null >>"$LOG" 2>&1 || rc=$?
  kill -KILL "$sd" 2>/dev/null || true   # the namespace's init: every process in it ends
  wait "$CHILD" 2>/dev/null || true
  CHILD=""
  find "$CG" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
  rmdir "$CG" 2>/dev/null || true
  [ "$rc" = 0 ] || failed "$rc"
fi
grep -E '^(ok|deb-check|===)' "$LOG" | sed 's/^/deb-check:   /'
echo "deb-check: PASSED in $(( $(date +%s) - t0 )) s (tree left in $ROOT, log $LOG)"
echo "$(grep -c '^ok: ' "$LOG") passed, 0 failed"
