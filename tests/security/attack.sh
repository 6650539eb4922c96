#!/bin/sh
# SPDX-License-Identifier: MIT
# The attacker's half of tests/security/adversarial.sh: runs inside a pod of
# namespace "evil" and tries to reach the site. One line per probe:
#   PASS <probe>   the site held
#   LEAK <probe>   the pod got at something it must not see
#   FAIL <probe>   something the pod must be able to do did not work
# then "DONE", then it sleeps (argv "sleep 3001") so that the test can check
# its host uid from outside. Paths come from the environment: TOKENS, CONFIG,
# STATE, WORKDIRS, SOCKS (space-separated), TCP, VICTIM_UID, VICTIM_VOL, RUNTIME, SHARED
# (a path the admin shows read-only, for the bwrap local backend).
must_fail() {
  name=$1; shift
  if "$@" >/dev/null 2>&1; then echo "LEAK $name"; else echo "PASS $name"; fi
}
must_work() {
  name=$1; shift
  if "$@" >/dev/null 2>&1; then echo "PASS $name"; else echo "FAIL $name"; fi
}

# who am I: root inside (the user namespace), an unprivileged user outside
[ "$(id -u)" = 0 ] && echo "PASS inner-uid-0" || echo "FAIL inner-uid-0 ($(id -u))"

# the host's secrets
must_fail shadow cat /etc/shadow
must_fail gshadow cat /etc/gshadow
must_fail munge-key cat /etc/munge/munge.key
for k in /etc/ssh/ssh_host_*_key; do
  [ -e "$k" ] && must_fail "ssh-host-key:$k" cat "$k"
done
must_fail root-home ls /root
must_fail home ls /home

# ferryd's own files: tokens and config (world-readable on purpose in this test),
# the state directory, the store, every listener
must_fail tokens-file cat "$TOKENS"
must_fail config-file cat "$CONFIG"
must_fail state-dir ls "$STATE"
must_fail store cat "$STATE/ferry.db"
for s in $SOCKS; do
  must_fail "socket-file:$s" test -e "$s"
  # images without curl (busybox under podman) keep the file probe only
  command -v curl >/dev/null &&
    must_fail "socket-connect:$s" curl -sf -m 3 --unix-socket "$s" -X GET -d '[]' http://x/status
done
command -v curl >/dev/null && must_fail tcp-listener curl -sf -m 3 -X GET -d '[]' "$TCP/status"

# another tenant's pod: its Secret, its spec, its processes
must_fail victim-secret cat "$WORKDIRS/$VICTIM_UID/volumes/$VICTIM_VOL/password"
must_fail victim-spec cat "$WORKDIRS/$VICTIM_UID/spec.json"
must_fail victim-workdir ls "$WORKDIRS"
must_fail victim-process grep -l sleep.3002 /proc/[0-9]*/cmdline

# escapes: new namespaces, writing the host. Under podman, / is the image's own
# copy-on-write root (writing it touches no host file) and user namespaces are
# podman's seccomp profile's business (doc/security.md): bwrap forbids them.
if [ "$RUNTIME" != podman ]; then
  must_fail nested-userns unshare -U true
  must_fail write-usr touch /usr/ferry-attack
  must_fail write-etc touch /etc/ferry-attack
fi

# a path the admin shows to every pod (sandbox_paths, read-only): readable, not writable
if [ -n "${SHARED:-}" ]; then
  must_work shared-read grep -q site-data "$SHARED/readme"
  must_fail shared-write touch "$SHARED/ferry-attack"
fi

# what a pod must keep: its own volumes, /tmp, and root inside for its files
must_work own-secret grep -q mine /own/token
must_work scratch-write sh -c 'echo from-evil > /scratch/f && grep -q from-evil /scratch/f'
must_work tmp-write sh -c 'echo x > /tmp/f && grep -q x /tmp/f'
echo DONE
exec sleep 3001
