#!/bin/bash
# SPDX-License-Identifier: MIT
# fresh-machine-check.sh: prove that README's two commands pass on a machine that has ONLY what
# scripts/install-deps.sh installs. Runs them in a freshly debootstrap'ed Debian 12 (bookworm,
# minbase) tree, entered the way a container runtime does it (new mount namespace, pivot_root), so
# nothing installed by hand on the host (a Slurm plugin, a library, a tool) can hide a missing package.
# Root only; needs debootstrap (apt-get install -y debootstrap) and the network to deb.debian.org.
#   sudo scripts/fresh-machine-check.sh              the whole check
#   sudo scripts/fresh-machine-check.sh bootstrap    only phase debootstrap (the cache; deb-check.sh uses it)
#   sudo scripts/fresh-machine-check.sh enter [CMD]  CMD (default: bash -i) in /src/ferry of the last
#                                                    run's tree, as build/check saw it (to debug)
# Phases (wall times on a 2-core VM):
#   debootstrap   once, cached: minbase bookworm into $FRESH_ROOT.pristine (~40-60 s); the stamp
#                 $FRESH_ROOT.pristine.stamp marks it complete. FRESH_REBOOTSTRAP=1 redoes it.
#   copy          cp -a of the pristine tree to the scratch tree $FRESH_ROOT (~5 s), so every run
#                 starts from a tree where only debootstrap ran.
#   source        the repository into /src/ferry of the tree (~1 s). FRESH_SOURCE=worktree (default):
#                 the working tree, uncommitted changes included (tracked + untracked files that git
#                 does not ignore, `git ls-files -co --exclude-standard`; build/, build-asan/,
#                 build-fuzz/ never go). FRESH_SOURCE=head: the committed tree only (`git archive HEAD`).
#   install-deps  scripts/install-deps.sh as root, with the host's network (~50 s-5 min: mirror).
#   build         `scripts/install-deps.sh && make && make demo` (~20-60 s), no network.
#   check         `scripts/install-deps.sh && make check` (~3-5 min), no network.
# build and check run in new network, UTS, IPC, mount and PID namespaces: only `lo` and an eth0
# that leads nowhere (192.0.2.1, a veth pair wholly inside) are up; the hostname is
# $FRESH_HOSTNAME (127.0.0.1 in the tree's /etc/hosts). So the fixed test ports (Slurm
# 6817/6818...) never meet the host's daemons, and the end of the PID namespace kills whatever the
# tests left running (munged, slurmctld, slurmd, ferryd).
# Environment:
#   FRESH_ROOT      scratch tree (default /var/cache/ferry-fresh/rootfs; must be outside the repo)
#   FRESH_LOGS      phase logs (default /var/cache/ferry-fresh/logs): <phase>.log, testlog.txt
#   FRESH_MIRROR    Debian mirror (default http://deb.debian.org/debian)
#   FRESH_SOURCE    worktree | head (see above)
#   FRESH_HOSTNAME  hostname inside (default ferry-fresh)
#   FRESH_TIMEOUT   seconds each of install-deps/build/check may take (default 3600)
#   FRESH_VERBOSE=1 also stream the phase logs to the terminal
# Exit status: 0 when both commands passed; otherwise the failing phase's log tail is printed.
# The scratch tree is left in place after the run (for a look inside); the next run replaces it.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)
BASE=/var/cache/ferry-fresh
ROOT=${FRESH_ROOT:-$BASE/rootfs}
ROOT=${ROOT%/}
PRISTINE=$ROOT.pristine
LOGS=${FRESH_LOGS:-$BASE/logs}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
SOURCE=${FRESH_SOURCE:-worktree}
HOST=${FRESH_HOSTNAME:-ferry-fresh}
TIMEOUT=${FRESH_TIMEOUT:-3600}
SUITE=bookworm
STAMP="$PRISTINE.stamp"
STAMP_WANT="debootstrap --variant=minbase $SUITE $MIRROR (+ bookworm-updates, bookworm-security)"

die() { echo "fresh-check: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount namespaces, pivot_root)"
for t in debootstrap unshare pivot_root ip git tar findmnt timeout; do
  command -v "$t" >/dev/null || die "$t is missing (apt-get install -y debootstrap util-linux iproute2 git)"
done
case "$ROOT" in
  /|"") die "FRESH_ROOT must not be /" ;;
  /*) ;;
  *) die "FRESH_ROOT must be an absolute path" ;;
esac
case "$ROOT/" in "$REPO"/*) die "FRESH_ROOT must be outside the repository" ;; esac
case "$SOURCE" in worktree|head) ;; *) die "FRESH_SOURCE is worktree or head" ;; esac
mkdir -p "$LOGS" "$(dirname "$ROOT")"

now() { date +%s; }
T_ALL=$(now)
SUMMARY=()
# phase_done NAME START: record and print a phase's wall time
phase_done() {
  local s=$(( $(now) - $2 ))
  SUMMARY+=("$(printf '%-13s %4d s' "$1" "$s")")
  printf 'fresh-check: %-13s ok    %4d s\n' "$1" "$s"
}
# fail NAME START LOG: print the phase's log tail and exit non-zero
fail() {
  local s=$(( $(now) - $2 ))
  printf 'fresh-check: %-13s FAIL  %4d s (log %s)\n' "$1" "$s" "$3" >&2
  echo "---- last 80 lines of $3 ----" >&2
  tail -n 80 "$3" >&2 || true
  echo "---- end of $3 ----" >&2
  exit 1
}

# Every mount lives in a private mount namespace that ends with its processes, so the host keeps
# none; on exit, stop a phase still running (unshare --kill-child then SIGKILLs the namespace's
# PID 1, which ends every process in it) and lazily unmount anything found under the trees anyway.
CHILD=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  local m
  for m in $(findmnt -rn -o TARGET | grep -E "^($ROOT|$PRISTINE)(/|\$)" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

umount_under() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -E "^$1(/|\$)" | sort -r); do umount -l "$m"; done
}

# ---- entering the tree -------------------------------------------------------------------------
# The namespace's PID 1 (this bash) sets up the mounts with the host's tools, pivot_roots into the
# tree (a chroot would not do: the kernel refuses user namespaces and pivot_root to a chrooted
# process, and the tests' bwrap sandboxes need both), then runs the command with a login-like
# environment and reaps orphans until it ends.
INNER='
set -euo pipefail
R=$1 net=$2 cmd=$3
mount --bind "$R" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
if mountpoint -q /sys/fs/cgroup; then
  mount --rbind /sys/fs/cgroup "$R/sys/fs/cgroup"
  for m in $(findmnt -rn -o TARGET -R "$R/sys/fs/cgroup"); do mount -o remount,bind,ro "$m"; done
fi
mount -t tmpfs -o nosuid,mode=755 dev "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
mkdir "$R/dev/pts" "$R/dev/shm" "$R/dev/mqueue"
mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=620,ptmxmode=0666 devpts "$R/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$R/dev/shm"
mount -t mqueue -o nosuid,nodev,noexec mqueue "$R/dev/mqueue"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$R/tmp"
mount -t tmpfs -o nosuid,nodev,mode=755 run "$R/run"
mkdir -m 1777 "$R/run/lock"
hostname "$(cat "$R/etc/hostname")"
if [ "$net" = none ]; then
  ip link set lo up
  # A real machine has a non-loopback address; with 127.0.0.1 alone, getaddrinfo(AI_ADDRCONFIG,
  # AF_INET) finds nothing (glibc does not count it) and slurmd cannot bind 6818. So eth0: one end
  # of a veth pair whose other end stays in this namespace too (no route out, no host peer).
  ip link add eth0 type veth peer name eth0-peer
  ip addr add 192.0.2.1/24 dev eth0
  ip link set eth0-peer up; ip link set eth0 up
fi
cd "$R"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash -c "cd /src/ferry && $cmd" &
child=$!
rc=0
wait "$child" || rc=$?
exit "$rc"
'
# inside NET(host|none) LOG CMD: run CMD (bash) in /src/ferry of the tree, as root, output to LOG
inside() {
  local net=$1 log=$2 cmd=$3 flags=(--mount --uts --ipc --pid --fork --kill-child --propagation private)
  [ "$net" = none ] && flags+=(--net)
  if [ "$log" = - ]; then   # enter: the terminal's stdin/stdout
    timeout -k 30 "$TIMEOUT" unshare "${flags[@]}" /bin/bash -c "$INNER" inner "$ROOT" "$net" "$cmd" &
  elif [ "${FRESH_VERBOSE:-0}" = 1 ]; then
    timeout -k 30 "$TIMEOUT" unshare "${flags[@]}" /bin/bash -c "$INNER" inner "$ROOT" "$net" "$cmd" \
      </dev/null > >(tee "$log") 2>&1 &
  else
    timeout -k 30 "$TIMEOUT" unshare "${flags[@]}" /bin/bash -c "$INNER" inner "$ROOT" "$net" "$cmd" \
      </dev/null >"$log" 2>&1 &
  fi
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  [ "$rc" = 124 ] && echo "fresh-check: timed out after $TIMEOUT s" >>"$log"
  return "$rc"
}

# enter: a command in the last run's scratch tree, as build/check saw it (no network)
if [ "${1:-}" = enter ]; then
  shift
  [ -d "$ROOT/src/ferry" ] || die "no scratch tree at $ROOT: run the check first"
  rc=0; inside none - "${*:-bash -i}" || rc=$?
  exit "$rc"
fi

# ---- 1. debootstrap (cached) -------------------------------------------------------------------
if [ "${FRESH_REBOOTSTRAP:-0}" = 1 ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$STAMP_WANT" ]; then
  t=$(now); log="$LOGS/debootstrap.log"
  umount_under "$PRISTINE"
  rm -rf "$PRISTINE" "$PRISTINE.tmp" "$STAMP"
  echo "fresh-check: debootstrap $SUITE (minbase) into $PRISTINE"
  debootstrap --variant=minbase "$SUITE" "$PRISTINE.tmp" "$MIRROR" >"$log" 2>&1 || fail debootstrap "$t" "$log"
  # the sources of a Debian 12 installed from the installer: main, updates and security
  cat >"$PRISTINE.tmp/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
  mv "$PRISTINE.tmp" "$PRISTINE"
  echo "$STAMP_WANT" >"$STAMP"
  phase_done debootstrap "$t"
else
  SUMMARY+=("$(printf '%-13s cached (%s)' debootstrap "$(date -r "$STAMP" '+%F %T')")")
  echo "fresh-check: debootstrap   cached ($PRISTINE, $(date -r "$STAMP" '+%F %T'))"
fi

if [ "${1:-}" = bootstrap ]; then
  echo "fresh-check: bootstrap only: $PRISTINE is ready"
  exit 0
fi

# ---- 2. scratch tree: a copy of the pristine one -----------------------------------------------
t=$(now)
umount_under "$ROOT"
rm -rf "$ROOT"
cp -a "$PRISTINE" "$ROOT"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
echo "$HOST" >"$ROOT/etc/hostname"
cat >"$ROOT/etc/hosts" <<EOF
127.0.0.1	localhost $HOST
::1		localhost ip6-localhost ip6-loopback
EOF
phase_done copy "$t"

# ---- 3. the repository into /src/ferry ---------------------------------------------------------
t=$(now); log="$LOGS/source.log"
mkdir -p "$ROOT/src/ferry"
(
  cd "$REPO"
  echo "source: $SOURCE of $REPO at $(git rev-parse --short HEAD)"
  if [ "$SOURCE" = head ]; then
    git archive HEAD | tar -C "$ROOT/src/ferry" -xf -
  else
    git status --short
    # tracked files deleted in the work tree are still listed by -c: copy only what exists
    git ls-files -co --exclude-standard -z |
      grep -zvE '^(build|build-asan|build-fuzz)/' |
      while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - | tar -C "$ROOT/src/ferry" -xf -
  fi
) >"$log" 2>&1 || fail source "$t" "$log"
phase_done source "$t"

# ---- 4. install-deps, with the host's network --------------------------------------------------
t=$(now); log="$LOGS/install-deps.log"
inside host "$log" 'scripts/install-deps.sh' || fail install-deps "$t" "$log"
phase_done install-deps "$t"

# ---- 5. the README's two commands, without network --------------------------------------------
t=$(now); log="$LOGS/build.log"
inside none "$log" '
  echo "hostname -s: $(hostname -s)"; ip -o link 2>/dev/null || cat /proc/net/dev
  bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev true && echo "bwrap: works inside the tree"
  set -x
  scripts/install-deps.sh && make && make demo' || fail build "$t" "$log"
grep -q 'bwrap: works inside the tree' "$log" || echo "fresh-check: warning: bwrap does not work inside the tree (see $log)" >&2
phase_done build "$t"

t=$(now); log="$LOGS/check.log"
rc=0
inside none "$log" 'set -x; scripts/install-deps.sh && make check' || rc=$?
cp "$ROOT/src/ferry/build/meson-logs/testlog.txt" "$LOGS/testlog.txt" 2>/dev/null || true
grep -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): ' "$log" | sed 's/^/fresh-check:   /' || true
grep -E '[0-9]+/[0-9]+ .* SKIP ' "$log" | sed 's/^/fresh-check:   /' || true
[ "$rc" = 0 ] || fail check "$t" "$log"
phase_done check "$t"

echo "fresh-check: PASSED: both README commands in a fresh $SUITE tree (source: $SOURCE)"
for s in "${SUMMARY[@]}"; do echo "fresh-check:   $s"; done
echo "fresh-check:   total         $(( $(now) - T_ALL )) s; tree $(du -sh --one-file-system "$ROOT" | cut -f1) ($ROOT), logs in $LOGS"
