#!/bin/sh
# End to end: the ferry CLI against a real ferryd (fake backend) on a unix
# socket. Usage: e2e.sh FERRY FERRYD MANIFEST_DIR
set -u
FERRY=$1 FERRYD=$2 DATA=$3
T=$(mktemp -d /tmp/ferry-cli-e2e-XXXXXX)
"$FERRYD" --listen "unix://$T/s.sock" --state-dir "$T/state" --backend fake \
        --backend-opt duration_ms=300 --backend-opt logs=true --poll-interval-ms 100 \
        >"$T/ferryd.log" 2>&1 &
DPID=$!
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; rm -rf "$T"' EXIT
F="$FERRY --server unix://$T/s.sock"
fails=0
check() { # check WANT_RC DESCRIPTION CMD...
        want=$1 what=$2; shift 2
        "$@" >"$T/out" 2>&1; rc=$?
        if [ "$rc" != "$want" ]; then
                echo "FAIL: $what: exit $rc, want $want"; sed 's/^/    /' "$T/out"; fails=$((fails + 1))
        else
                echo "ok: $what"
        fi
}
i=0
while [ ! -S "$T/s.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

check 0 "ping" $F ping
check 0 "run --wait (configmap volume)" $F run -f "$DATA/basic-pod/input.yaml" --wait
check 0 "run --wait (secret volume)" $F run -f "$DATA/secret-stringdata/input.yaml" --wait
check 0 "run a directory-free multi-doc file" $F run -f "$DATA/multi-doc-list/input.yaml" --wait
grep -q "pod/third created" "$T/out" || { echo "FAIL: created line"; fails=$((fails + 1)); }
check 0 "get lists pods" $F get
grep -q "^hello .*Succeeded" "$T/out" || { echo "FAIL: hello not Succeeded in get"; cat "$T/out"; fails=$((fails + 1)); }
check 0 "get -A -o json" $F get -A -o json
check 4 "get a missing pod" $F get nope
check 0 "logs" $F logs hello
grep -q "fake container main of pod hello" "$T/out" || { echo "FAIL: logs text"; cat "$T/out"; fails=$((fails + 1)); }
check 0 "run --follow" $F run -f "$DATA/env-resolution/input.yaml" --follow
check 0 "logs picks the only container" $F logs env-demo
check 0 "run two containers" $F run -f "$DATA/yaml-anchors/input.yaml" --wait
check 2 "logs with several containers and no -c" $F logs anchors
check 0 "logs -c init container" $F logs -c setup env-demo
check 0 "delete" $F delete hello
check 4 "delete again" $F delete hello
check 2 "run without -f" $F run
check 1 "run with a missing ConfigMap" $F run -f "$DATA/error-missing-configmap/input.yaml"
check 3 "unreachable server" $FERRY --server "unix://$T/none.sock" get
echo "$fails failure(s)"
[ "$fails" = 0 ]
