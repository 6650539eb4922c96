#!/bin/bash
# SPDX-License-Identifier: MIT
# adversarial.sh FERRYD local|slurm [SHIM]: a tenant tries to reach the site from inside a pod.
# RUNTIME=podman (local backend) runs the same with podman and the busybox test image that
# tests/integration/podman-conformance.sh imports (skipped where podman cannot run it).
#
# ferryd runs as an admin would install it, with files at the usual places:
# config and tokens in /etc/<tag>/ (world-readable on purpose: the sandbox must
# hide them even when the admin gets a mode wrong), sockets in /run/<tag>/
# (mode 0666, same reason), state in /var/lib/<tag>/, and a TCP listener.
# Backend local (bwrap) or slurm (bwrap inside the job; run under with-slurm.sh).
#  - a victim pod (namespace victim) holds a Secret and runs `sleep 3002`;
#  - an attacker pod (namespace evil) runs tests/security/attack.sh, which
#    tries every read and connection of issue 17 and the escapes; every probe
#    must hold (no LEAK, no FAIL);
#  - from the host: the attacker and victim run as their tenants' unprivileged
#    uids (60001, 60002), files the attacker wrote belong to 60001, the
#    victim's volume is 0700 and its own;
#  - policy at /create: runAsUser 0 outside root_namespaces is 403, an id the
#    namespace was not given is 403, containers that disagree are 400, an
#    allowed runAsUser runs as that uid, root_namespaces may run as root.
# Needs root (pods switch users) and bwrap; exit 77 (skipped) otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/watch.sh"
ferryd=$1 backend=$2 shim=${3:-}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (pods run as other users)"; exit 77; }
runtime=${RUNTIME:-bwrap}
img=localhost/ferry-busybox:test
if [ "$runtime" = podman ]; then
  command -v podman >/dev/null && podman image exists "$img" 2>/dev/null &&
    timeout 60 podman run --rm --network none --pull=never "$img" true >/dev/null 2>&1 ||
    { echo "SKIP: podman cannot run $img here (the podman conformance test imports it)"; exit 77; }
else
  command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null ||
    { echo "SKIP: bwrap does not work here"; exit 77; }
fi

tag=ferry-sec-test.$$
E=/etc/$tag R=/run/$tag V=/var/lib/$tag
port=$((21000 + RANDOM % 11000)) # below the ephemeral ports (32768-)
pid=
cleanup() {
  for u in $(cat "$V/uids" 2>/dev/null); do
    printf '{"metadata":{"uid":"%s"}}' "$u" |
      curl -s -o /dev/null -m 10 --unix-socket "$R/ferryd.sock" --data-binary @- http://x/delete
  done
  # the pods stop (grace 1 s) before ferryd does: pods outlive ferryd by design
  for _ in $(seq 100); do grep -qs 'sleep.300[12]' /proc/[0-9]*/cmdline || break; sleep 0.1; done
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  if [ "${fail:-1}" != 0 ]; then echo "--- ferryd log"; tail -n 40 "$V/ferryd.log" 2>/dev/null; fi
  rm -rf "$E" "$R" "$V"
}
trap cleanup EXIT
mkdir -p "$E" "$R" "$V"
chmod 755 "$E" "$R"

printf 'evil-token-0123456789abcdef evil\nvictim-token-0123456789abcde victim\n' >"$E/tokens"
chmod 644 "$E/tokens"
opts='{tenant_users: "evil=60001,victim=60002", root_namespaces: "admin", allowed_ids: "science=7000-7999"'
[ "$runtime" = podman ] && opts="$opts, podman_image: \"$img\", podman_pull: never"
shared=
if [ "$runtime" = bwrap ] && [ "$backend" = local ]; then
  shared=$V/shared   # what an admin shows every pod (a /cvmfs, a scratch area), read-only
  mkdir -p "$shared" && echo site-data >"$shared/readme" && chmod 755 "$shared"
  opts="$opts, sandbox_paths: \"$shared\""
fi
opts="$opts}"
if [ "$backend" = slurm ]; then
  cat >"$E/slurm.yaml" <<EOF
workdir_root: $V/pods
shim_path: $shim
runtime: bwrap
tenant_users: "evil=60001,victim=60002"
root_namespaces: admin
allowed_ids: "science=7000-7999"
EOF
  opts="{site: \"$E/slurm.yaml\"}"
  workdirs=$V/pods
else
  workdirs=$V/state/local/pods
fi
cat >"$E/ferryd.yaml" <<EOF
tokens: $E/tokens
state_dir: $V/state
backend: $backend
runtime: $runtime
poll_interval_ms: 200
backend_options: $opts
EOF
chmod 644 "$E/ferryd.yaml"
"$ferryd" --config "$E/ferryd.yaml" --listen "unix://$R/ferryd.sock" \
  --listen "http://127.0.0.1:$port" --plugin-listen "unix://$R/plugin.sock" --socket-mode 0666 \
  >"$V/ferryd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do { [ -S "$R/ferryd.sock" ] || ! watch_alive $pid; } && break; sleep 0.05; done
[ -S "$R/ferryd.sock" ] || { echo "ferryd did not start"; exit 1; }

checks() {
  local pass=0 bad=0
  ok() { echo "ok - $*"; pass=$((pass + 1)); }
  no() { echo "not ok - $*"; bad=$((bad + 1)); }
  api() { curl -s -m 20 --unix-socket "$R/ferryd.sock" -w '\n%{http_code}' --data-binary @- "http://x$1"; }
  b64() { printf '%s' "$1" | base64 -w0; }
  # pod NS NAME UID CONTAINERS-JSON [VOLUMES-JSON [SECURITY-JSON [EXTRA-REQUEST-JSON]]]
  pod() {
    printf '{"pod":{"metadata":{"name":"%s","namespace":"%s","uid":"%s"},"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":1,"containers":%s,"volumes":%s,"securityContext":%s}}%s}' \
      "$2" "$1" "$3" "$4" "${5:-[]}" "${6:-{\}}" "${7:-}"
  }
  status() { # UID -> the pod's status JSON
    printf '[{"metadata":{"uid":"%s"}}]' "$1" | api /status | head -n 1
  }
  logs() { # NS NAME UID
    printf '{"Namespace":"%s","PodName":"%s","PodUID":"%s","ContainerName":"main","Opts":{}}' "$1" "$2" "$3" |
      api /getLogs | sed '$d'
  }
  wait_for() { # SECONDS COMMAND...: poll a condition that a pod reaches by itself
    local t=$(( $1 * 10 )); shift
    for _ in $(seq "$t"); do "$@" && return 0; sleep 0.1; done
    return 1
  }
  host_uid_of() { # ARGV-PATTERN -> uid of the process whose cmdline matches
    local f
    for f in /proc/[0-9]*/cmdline; do
      if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qx "$1 "; then
        awk '/^Uid:/ { print $2 }' "${f%/cmdline}/status"; return 0
      fi
    done
    return 1
  }

  # the victim, with a Secret
  vu=5ec00000-0000-4000-8000-000000000002
  echo "$vu" >>"$V/uids"
  out=$(pod victim victim "$vu" '[{"name":"main","command":["sleep","3002"],"volumeMounts":[{"name":"dbpass","mountPath":"/secret"}]}]' \
    '[{"name":"dbpass","secret":{"secretName":"db"}}]' '{}' \
    ",\"secrets\":[{\"metadata\":{\"name\":\"db\",\"namespace\":\"victim\"},\"data\":{\"password\":\"$(b64 hunter2)\"}}]" | api /create)
  [ "$(tail -n 1 <<<"$out")" = 200 ] && ok "victim created" || no "victim create: $out"
  wait_for 60 eval 'status "$vu" | grep -q "\"running\""' && ok "victim running" ||
    no "victim not running: $(status "$vu")"

  # the attacker
  au=5ec00000-0000-4000-8000-000000000001
  echo "$au" >>"$V/uids"
  env=$(printf '[{"name":"TOKENS","value":"%s"},{"name":"CONFIG","value":"%s"},{"name":"STATE","value":"%s"},{"name":"WORKDIRS","value":"%s"},{"name":"SOCKS","value":"%s %s"},{"name":"TCP","value":"http://127.0.0.1:%s"},{"name":"VICTIM_UID","value":"%s"},{"name":"VICTIM_VOL","value":"dbpass"},{"name":"RUNTIME","value":"%s"},{"name":"SHARED","value":"%s"}]' \
    "$E/tokens" "$E/ferryd.yaml" "$V/state" "$workdirs" "$R/ferryd.sock" "$R/plugin.sock" "$port" "$vu" "$runtime" "$shared")
  out=$(pod evil attacker "$au" \
    "[{\"name\":\"main\",\"command\":[\"sh\",\"/attack/attack.sh\"],\"env\":$env,\"volumeMounts\":[{\"name\":\"attack\",\"mountPath\":\"/attack\"},{\"name\":\"own\",\"mountPath\":\"/own\"},{\"name\":\"scratch\",\"mountPath\":\"/scratch\"}]}]" \
    '[{"name":"attack","configMap":{"name":"attack"}},{"name":"own","secret":{"secretName":"mine"}},{"name":"scratch","emptyDir":{}}]' '{}' \
    ",\"configmaps\":[{\"metadata\":{\"name\":\"attack\",\"namespace\":\"evil\"},\"binaryData\":{\"attack.sh\":\"$(base64 -w0 "$here/attack.sh")\"}}],\"secrets\":[{\"metadata\":{\"name\":\"mine\",\"namespace\":\"evil\"},\"data\":{\"token\":\"$(b64 mine)\"}}]" | api /create)
  [ "$(tail -n 1 <<<"$out")" = 200 ] && ok "attacker created" || no "attacker create: $out"
  wait_for 90 eval 'logs evil attacker "$au" | grep -q DONE' || no "the attack did not finish: $(status "$au")"
  alog=$(logs evil attacker "$au")
  probes=$(grep -cE '(^| )(PASS|LEAK|FAIL) ' <<<"$alog")
  while read -r line; do
    case $line in
      PASS\ * | *" PASS "*) ok "in the pod: ${line#*PASS }" ;;
      LEAK\ * | *" LEAK "*) no "in the pod, LEAK: ${line#*LEAK }" ;;
      FAIL\ * | *" FAIL "*) no "in the pod, FAIL: ${line#*FAIL }" ;;
    esac
  done <<<"$alog"
  want=25; [ "$runtime" = podman ] && want=19   # no curl in busybox; its / is the image's
  [ "$probes" -ge "$want" ] && ok "$probes probes ran" || no "only $probes probes ran: $alog"

  # from the host
  [ "$(host_uid_of 'sleep 3001')" = 60001 ] && ok "attacker runs as uid 60001 on the host" ||
    no "attacker's host uid is '$(host_uid_of 'sleep 3001')'"
  [ "$(host_uid_of 'sleep 3002')" = 60002 ] && ok "victim runs as uid 60002 on the host" ||
    no "victim's host uid is '$(host_uid_of 'sleep 3002')'"
  f=$workdirs/$au/volumes/scratch/f
  [ "$(stat -c %u "$f" 2>/dev/null)" = 60001 ] && ok "the attacker's file belongs to 60001" ||
    no "owner of $f: '$(stat -c %u "$f" 2>&1)'"
  v=$workdirs/$vu/volumes/dbpass
  [ "$(stat -c '%u %a' "$v" 2>/dev/null)" = "60002 700" ] && ok "the victim's Secret volume is 0700, its own" ||
    no "victim volume: '$(stat -c '%u %a' "$v" 2>&1)'"
  [ "$(stat -c '%u %a' "$workdirs/$vu/spec.json" 2>/dev/null)" = "0 600" ] && ok "spec.json is root's, 0600" ||
    no "spec.json: '$(stat -c '%u %a' "$workdirs/$vu/spec.json" 2>&1)'"
  [ "$(stat -c %a "$V/state/ferry.db" 2>/dev/null)" = 600 ] && ok "ferry.db is 0600" ||
    no "ferry.db mode '$(stat -c %a "$V/state/ferry.db" 2>&1)'"

  # policy at /create
  c='[{"name":"main","command":["sh","-c","id -u; id -g"]}]'
  code() { tail -n 1 <<<"$1"; }
  out=$(pod evil root0 5ec00000-0000-4000-8000-000000000010 "$c" '[]' '{"runAsUser":0}' | api /create)
  [ "$(code "$out")" = 403 ] && grep -q root <<<"$out" && ok "runAsUser 0 in evil: 403" || no "runAsUser 0 in evil: $out"
  out=$(pod evil other 5ec00000-0000-4000-8000-000000000011 "$c" '[]' '{"runAsUser":7001}' | api /create)
  [ "$(code "$out")" = 403 ] && ok "runAsUser 7001 in evil (granted to science only): 403" || no "runAsUser 7001 in evil: $out"
  out=$(pod evil grp0 5ec00000-0000-4000-8000-000000000012 "$c" '[]' '{"runAsGroup":0}' | api /create)
  [ "$(code "$out")" = 403 ] && ok "runAsGroup 0 in evil: 403" || no "runAsGroup 0 in evil: $out"
  out=$(pod evil split 5ec00000-0000-4000-8000-000000000013 \
    '[{"name":"main","command":["true"],"securityContext":{"runAsUser":60001}},{"name":"b","command":["true"],"securityContext":{"runAsUser":60002}}]' | api /create)
  [ "$(code "$out")" = 400 ] && ok "containers asking for two users: 400" || no "containers asking for two users: $out"
  su=5ec00000-0000-4000-8000-000000000014
  echo "$su" >>"$V/uids"
  out=$(pod science sci "$su" "$c" '[]' '{"runAsUser":7001,"runAsGroup":7002}' | api /create)
  [ "$(code "$out")" = 200 ] && ok "runAsUser 7001 in science: accepted" || no "runAsUser 7001 in science: $out"
  wait_for 60 eval 'status "$su" | grep -q "\"phase\":\"Succeeded\""' || no "science pod: $(status "$su")"
  [ "$(logs science sci "$su" | awk 'NF { print $NF }' | paste -sd' ')" = "7001 7002" ] &&
    ok "it runs as 7001:7002" || no "science pod ids: $(logs science sci "$su")"
  ru=5ec00000-0000-4000-8000-000000000015
  echo "$ru" >>"$V/uids"
  out=$(pod admin root "$ru" "$c" '[]' '{"runAsUser":0}' | api /create)
  [ "$(code "$out")" = 200 ] && ok "runAsUser 0 in admin (root_namespaces): accepted" || no "runAsUser 0 in admin: $out"
  wait_for 60 eval 'status "$ru" | grep -q "\"phase\":\"Succeeded\""' || no "admin pod: $(status "$ru")"
  [ "$(logs admin root "$ru" | awk 'NF { print $NF }' | paste -sd' ')" = "0 0" ] && ok "it runs as root" ||
    no "admin pod ids: $(logs admin root "$ru")"
  echo "$pass passed, $bad failed"
  [ "$bad" = 0 ]
}
watch_run "ferryd:$pid:$V/ferryd.log" checks
fail=$?
exit $fail
