#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd units as built (deploy/systemd/*.service.in with this build's paths):
# systemd-analyze verify finds nothing to say about them (with ExecStart pointed at this build's
# binaries, which need not be installed), `systemd-analyze security --offline` scores them, and
# ferryd.service keeps off the directives that would break its runtimes (the unit says why).
# Skipped (77) without systemd-analyze; systemd need not be running.
#   units.sh BUILD_DIR UNIT...
set -uo pipefail
build=$(cd "$1" && pwd)
shift
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local m=$1; shift; if "$@"; then ok; else bad "$m"; fi; }   # check MESSAGE CMD...
lacks() { ! grep -q "$@"; }
d=$(mktemp -d /tmp/ferry-units.XXXXXX)
trap 'rm -rf "$d"' EXIT

for u in "$@"; do
  n=$(basename "$u")
  # ExecStart's program, as installed, is this build's binary
  prog=$(sed -nE 's/^ExecStart=([^ ]+).*/\1/p' "$u")
  case $(basename "$prog") in
    ferryd) bin=$build/src/ferryd/ferryd ;;
    ferry-node) bin=$build/src/node/ferry-node ;;
    *) bad "$n: unexpected ExecStart program $prog"; continue ;;
  esac
  [ -x "$bin" ] || { bad "$n: no $bin"; continue; }
  sed "s|^ExecStart=$prog|ExecStart=$bin|" "$u" >"$d/$n"
  out=$(cd "$d" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$d/$n" 2>&1)
  rc=$?
  if [ "$rc" = 0 ] && [ -z "$out" ]; then ok; else bad "systemd-analyze verify $n (exit $rc):"; echo "$out"; fi
  # the options ExecStart passes are ones the program knows
  args=$(sed -nE 's/^ExecStart=[^ ]+ (.*)/\1/p' "$u")
  for a in $args; do
    case $a in --*)
      if "$bin" --help | grep -q -- "$a"; then ok; else bad "$n: ExecStart passes $a, which $(basename "$bin") --help does not name"; fi ;;
    esac
  done
  score=$(systemd-analyze security --offline=yes "$d/$n" 2>/dev/null | sed -nE 's/.*Overall exposure level for .*: ([0-9.]+) .*/\1/p')
  if [ -n "$score" ]; then ok; echo "$n: systemd-analyze security exposure $score"; else bad "$n: no exposure score"; fi
  case $n in
    ferry-node.service)   # a network client: the whole sandbox, no capabilities
      check "ferry-node.service exposure $score > 2.0" awk -v s="$score" 'BEGIN { exit !(s + 0 <= 2.0) }'
      check "ferry-node.service keeps capabilities" grep -qx 'CapabilityBoundingSet=' "$u" ;;
    ferryd.service)
      for k in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes KillMode=process \
        ProtectProc=invisible ProtectControlGroups=yes \
        StateDirectory=ferry RuntimeDirectory=ferry StandardError=journal; do
        check "ferryd.service lacks $k" grep -qx "$k" "$u"
      done
      # bwrap needs new namespaces, a fresh /proc, sethostname; GPU pods devices; pods' JITs
      for k in RestrictNamespaces ProtectKernelTunables ProcSubset PrivateDevices ProtectHostname \
        MemoryDenyWriteExecute SystemCallFilter PrivateUsers DynamicUser User; do
        check "ferryd.service sets $k, which breaks a runtime (see its comment)" lacks "^$k=" "$u"
        check "ferryd.service does not say why $k is left out" grep -q "^#.*$k" "$u"
      done ;;
  esac
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
