#!/bin/bash
# SPDX-License-Identifier: MIT
# Probes and lifecycle hooks (issue 16), through ferryd's API, the real shim and the runtime:
#  - readiness (exec): not ready until the probe passes, then ready; the probe runs inside the
#    container (its hostname, its user, its /tmp);
#  - readiness (httpGet) against a server listening in the pod's own network namespace;
#  - liveness (exec) that starts failing: the container is killed, the pod Failed with reason
#    LivenessProbeFailed and the probe's output in the message;
#  - liveness (tcpSocket) on a port nobody listens on: killed the same way;
#  - startup gates liveness: a liveness probe that would fail is not run before startup passed;
#  - postStart runs after the start (its file is seen by the container); a failing postStart kills
#    the container (PostStartHookError);
#  - preStop runs before the TERM of a deletion: the container's TERM handler prints what the
#    hook wrote.
#   probes.sh FERRYD [RUNTIME]
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/runtime.sh"
ferryd=$1
rt=${2:-bwrap}
need_runtime --runtime "$rt"
rtopts=(--backend-opt host_namespaces=probes)
if [ "$rt" = podman ]; then
  img=$(podman_busybox_image) || exit $?
  rtopts+=(--backend-opt "podman_image=$img" --backend-opt podman_pull=never)
fi
ferryd_start "$ferryd" --backend local --runtime "$rt" "${rtopts[@]}" --poll-interval-ms 100

# scratch files of the pods: their own /tmp, or (host runtime, which shares the host's /tmp)
# their working directory, where the host runtime's probes run too
T=/tmp
[ "$rt" = host ] && T=.
# pod NAME UID CONTAINER_EXTRA_JSON SCRIPT [GRACE]
pod() {
  _pod "$@" | sed "s|/tmp/|$T/|g; s|cd /tmp|cd $T|g"
}
_pod() {
  printf '{"pod":{"metadata":{"name":"%s","namespace":"probes","uid":"%s"},"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":%s,"containers":[{"name":"main","image":"busybox","command":["sh","-c"],"args":["%s"]%s}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}' \
    "$1" "$2" "${5:-5}" "$4" "$3"
}
status_of() { api -d "[{\"metadata\":{\"uid\":\"$1\",\"namespace\":\"probes\"}}]" http://unix/status; }
# until_status UID REGEX [TRIES]: wait (fails fast when ferryd dies) until the status matches
until_status() {
  for _ in $(seq "${3:-200}"); do
    alive
    status_of "$1" | grep -qE "$2" && return 0
    sleep 0.05
  done
  echo "# status of $1: $(status_of "$1")"
  return 1
}
exec_probe() { printf '{"exec":{"command":["sh","-c","%s"]},"periodSeconds":1,"failureThreshold":%s}' "$1" "${2:-1}"; }
log_of() { cat "$pods/$1/logs/main.log" 2>/dev/null; }

# readiness by exec: ready only once /tmp/ready exists; the probe leaves its view of the world
check "ready pod accepted" [ "$(create_json "$(pod ready u-ready ",\"readinessProbe\":$(exec_probe 'id -u > /tmp/probe-uid; hostname > /tmp/probe-host; test -f /tmp/ready')" \
  'id -u > /tmp/my-uid; sleep 1.5; touch /tmp/ready; sleep 2; echo probe-uid $(cat /tmp/probe-uid) my-uid $(cat /tmp/my-uid) probe-host $(cat /tmp/probe-host) my-host $(hostname); sleep 60')")" = 200 ]
check "running but not ready at first" until_status u-ready '"running".*"ready":false'
check "probe failure visible while not ready" until_status u-ready 'Readiness probe failed'
check "ready once the probe passes" until_status u-ready '"ready":true'
for _ in $(seq 100); do log_of u-ready | grep -q probe-uid && break; sleep 0.05; done
l=$(log_of u-ready | grep -o 'probe-uid.*')
echo "# $l"
set -- $l
check "the probe ran as the container's user ($l)" [ -n "${2:-}" -a "${2:-x}" = "${4:-y}" ]
[ "$rt" = host ] || check "the probe ran in the container's UTS namespace ($l)" [ "${6:-x}" = ready -a "${8:-y}" = ready ]

# readiness by httpGet on the pod's own loopback
# busybox's httpd: in the image (podman) and on the host (busybox-static, install-deps.sh)
http='cd /tmp; echo hello > index.html; sleep 1; exec busybox httpd -f -p 127.0.0.1:18080'
check "http pod accepted" [ "$(create_json "$(pod web u-web ',"readinessProbe":{"httpGet":{"path":"/index.html","port":"web"},"periodSeconds":1},"ports":[{"name":"web","containerPort":18080}]' "$http")")" = 200 ]
check "ready by an HTTP probe in the pod's network" until_status u-web '"ready":true' 300

# HTTPS, the certificate not verified (as the kubelet); openssl from the host tree (not podman's image)
if [ "$rt" != podman ]; then
  tls='cd /tmp; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout k.pem -out c.pem -subj /CN=probe -days 1 2>/dev/null; exec openssl s_server -quiet -accept 127.0.0.1:18443 -cert c.pem -key k.pem -www'
  check "https pod accepted" [ "$(create_json "$(pod tls u-tls ',"readinessProbe":{"httpGet":{"scheme":"HTTPS","path":"/","port":18443},"periodSeconds":1}' "$tls")")" = 200 ]
  check "ready by an HTTPS probe (self-signed certificate)" until_status u-tls '"ready":true' 300
  plain='cd /tmp; echo hello > index.html; exec busybox httpd -f -p 127.0.0.1:18444'
  check "https-to-http pod accepted" [ "$(create_json "$(pod tlsbad u-tlsbad ',"readinessProbe":{"httpGet":{"scheme":"HTTPS","path":"/index.html","port":18444},"periodSeconds":1}' "$plain")")" = 200 ]
  check "an HTTPS probe of a plain HTTP server says why it fails" until_status u-tlsbad 'HTTPS probe failed: TLS handshake' 300
  check "and the pod is not ready" grep -q '"ready":false' <<<"$(status_of u-tlsbad)"
fi

# liveness by exec that starts failing
check "liveness pod accepted" [ "$(create_json "$(pod live u-live ",\"livenessProbe\":$(exec_probe 'cat /tmp/healthy' 2)" \
  'echo ok > /tmp/healthy; sleep 2; rm /tmp/healthy; trap \"echo got TERM; exit 143\" TERM; while :; do sleep 0.1; done')")" = 200 ]
check "liveness failure fails the pod" until_status u-live '"phase":"Failed"' 300
s=$(status_of u-live)
check "reason LivenessProbeFailed ($s)" grep -q '"reason":"LivenessProbeFailed"' <<<"$s"
check "the probe's output in the message" grep -q 'Liveness probe failed: command exited with 1: cat: .*healthy' <<<"$s"
check "the container got TERM first" grep -q 'got TERM' <<<"$(log_of u-live)"

# liveness by tcpSocket on a closed port
check "tcp pod accepted" [ "$(create_json "$(pod tcp u-tcp ',"livenessProbe":{"tcpSocket":{"port":18081},"periodSeconds":1,"failureThreshold":1}' 'sleep 60')")" = 200 ]
check "tcp liveness failure fails the pod" until_status u-tcp '"reason":"LivenessProbeFailed"' 300
check "it says why" grep -q 'dial tcp 127.0.0.1:18081' <<<"$(status_of u-tcp)"

# startup gates liveness: the liveness probe fails unless /tmp/started exists, and startup
# waits for it; the container creates it after 2 s and lives on
check "startup pod accepted" [ "$(create_json "$(pod startup u-startup ",\"startupProbe\":$(exec_probe 'test -f /tmp/started' 10),\"livenessProbe\":$(exec_probe 'test -f /tmp/started')" \
  'sleep 2; touch /tmp/started; sleep 60')")" = 200 ]
check "started and ready after the startup probe" until_status u-startup '"ready":true' 300
check "liveness did not kill it before" not grep -q 'LivenessProbeFailed' <<<"$(status_of u-startup)"

# postStart: its file is there for the container; a failing one kills the container
check "poststart pod accepted" [ "$(create_json "$(pod post u-post ',"lifecycle":{"postStart":{"exec":{"command":["sh","-c","echo from-hook > /tmp/hook"]}}}' \
  'for i in $(seq 150); do test -f /tmp/hook && break; sleep 0.1; done; echo saw $(cat /tmp/hook)')")" = 200 ]
check "badpost pod accepted" [ "$(create_json "$(pod badpost u-badpost ',"lifecycle":{"postStart":{"exec":{"command":["sh","-c","echo no way; exit 3"]}}}' 'sleep 60')")" = 200 ]
wait_done u-post
check "the container saw the postStart hook's file" grep -q 'saw from-hook' <<<"$(log_of u-post)"
check "a failing postStart kills the container" until_status u-badpost '"reason":"PostStartHookError"' 300
check "with the hook's output" grep -q 'PostStart hook failed: command exited with 3: no way' <<<"$(status_of u-badpost)"

# preStop before the TERM of a deletion
check "prestop pod accepted" [ "$(create_json "$(pod stop u-stop ',"lifecycle":{"preStop":{"exec":{"command":["sh","-c","echo written-by-prestop > /tmp/prestop"]}}}' \
  'trap \"echo TERM sees \\$(cat /tmp/prestop 2>/dev/null || echo nothing); sleep 2; exit 0\" TERM; echo up; while :; do sleep 0.1; done' 10)")" = 200 ]
for _ in $(seq 100); do log_of u-stop | grep -q up && break; sleep 0.05; done
api -o /dev/null -d '{"metadata":{"name":"stop","namespace":"probes","uid":"u-stop"}}' http://unix/delete
# the workdir goes once the pod has ended: read the log while the TERM handler sleeps
for _ in $(seq 100); do log_of u-stop | grep -q 'TERM sees' && break; sleep 0.05; done
check "preStop ran before TERM ($(log_of u-stop | tail -1))" grep -q 'TERM sees written-by-prestop' <<<"$(log_of u-stop)"
finish
