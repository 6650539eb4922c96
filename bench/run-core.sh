#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Core benchmark of ferryd (issue 2, "Tests and figures"): starts ferryd itself
# (fake backend, fresh temp state dir), measures, stops it, prints a table.
#
#   bash bench/run-core.sh            full run (~3 min on 2 cores)
#   QUICK=1 bash bench/run-core.sh    smoke test for CI (small counts, ~15 s)
#
# Environment: BUILD_DIR (default build), FERRYD, FERRY_BENCH, WRK, FERRY_BENCH_NGINX (programs;
# not NGINX: nginx itself reads NGINX as a list of inherited sockets and would hang),
# KEEP=1 (keep the temp dir), PORT (first TCP port to try, default 28480).
# Talks only to 127.0.0.1 and unix sockets. Exit status: 0 when every
# measurement ran without request errors (goals missed or not: figures are
# not assertions), 1 on errors, 2 on setup problems.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$root/$BUILD_DIR ;; esac
FERRYD=${FERRYD:-$BUILD_DIR/src/ferryd/ferryd}
FERRY_BENCH=${FERRY_BENCH:-$BUILD_DIR/bench/core/ferry-bench}
QUICK=${QUICK:-0}

if [[ $QUICK == 1 ]]; then
        CREATE_N=2000 CREATE_RUNS=1 CONNS=64 TOTAL=10000 LIVE=1000 STATUS_CALLS=20 STATUS_ALL_CALLS=5
        WRK_SECS=1 WRK_ROUNDS=1 RESTARTS=1 SLOW_CONNS=8 SLOW_RATE=5000
else
        CREATE_N=20000 CREATE_RUNS=3 CONNS=64 TOTAL=100000 LIVE=10000 STATUS_CALLS=200 STATUS_ALL_CALLS=50
        WRK_SECS=5 WRK_ROUNDS=2 RESTARTS=3 SLOW_CONNS=8 SLOW_RATE=2000
fi

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run-core.sh: %s\n' "$*" >&2; exit 2; }

# ---- binaries ----
if [[ -f $BUILD_DIR/build.ninja ]] && command -v ninja >/dev/null; then
        ninja -C "$BUILD_DIR" src/ferryd/ferryd bench/core/ferry-bench >/dev/null ||
                die "building ferryd and ferry-bench in $BUILD_DIR failed"
fi
[[ -x $FERRYD && -x $FERRY_BENCH ]] ||
        die "need $FERRYD and $FERRY_BENCH: run 'meson setup $BUILD_DIR && ninja -C $BUILD_DIR' (or set BUILD_DIR)"

# ---- temp dir, ports, cleanup ----
tmp=$(mktemp -d /tmp/ferry-bench.XXXXXX)
sock=$tmp/ferryd.sock
daemon_pid=
nginx_pid=
cleanup() {
        if [[ -n $daemon_pid ]]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
        if [[ -n $nginx_pid ]]; then kill -QUIT "$nginx_pid" 2>/dev/null || true; fi
        if [[ ${KEEP:-0} == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
        local p=$1
        for _ in $(seq 50); do
                port_free "$p" && { echo "$p"; return; }
                p=$((p + 1))
        done
        die "no free TCP port near $1"
}
PORT=$(pick_port "${PORT:-28480}")
NGINX_PORT=$(pick_port $((PORT + 1)))

kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
errors=0
check_errors() { # $1: a ferry-bench result line
        local e
        e=$(kv errors "$1")
        [[ -z $e || $e == 0 ]] || errors=$((errors + 1))
}

# ---- ferryd lifecycle ----
# start_ferryd STATE_DIR DURATION_MS [UID]: sets R to ferry-bench's ready line
start_ferryd() {
        local uidopt=()
        [[ -n ${3:-} ]] && uidopt=(--uid "$3")
        R=$("$FERRY_BENCH" spawn --unix "$sock" "${uidopt[@]}" --timeout-ms 60000 --log "$tmp/ferryd.log" \
                --pidfile "$tmp/ferryd.pid" -- "$FERRYD" --listen "unix://$sock" \
                --listen "http://127.0.0.1:$PORT" --insecure-tcp --state-dir "$1" --backend fake \
                --backend-opt "duration_ms=$2" --poll-interval-ms 1000) ||
                { tail -20 "$tmp/ferryd.log" >&2; die "ferryd did not start"; }
        daemon_pid=$(kv pid "$R")
}

alive() { # not gone and not a zombie
        local s
        s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
        [[ -n $s && $s != Z ]]
}

# stop_ferryd: SIGTERM, wait (bounded); sets R to the shutdown time in ms
stop_ferryd() {
        local t0 t1
        t0=$(date +%s%N)
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 3000); do
                alive "$daemon_pid" || break
                sleep 0.01
        done
        if alive "$daemon_pid"; then
                echo "ferryd did not stop within 30 s of SIGTERM; killing it" >&2
                kill -KILL "$daemon_pid" 2>/dev/null || true
                errors=$((errors + 1))
        fi
        t1=$(date +%s%N)
        daemon_pid=
        R=$(((t1 - t0) / 1000000))
}

metric() { # metric NAME_WITH_LABELS: the value, or 0
        "$FERRY_BENCH" get --unix "$sock" --path /metrics 2>/dev/null |
                awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# wait_phase PHASE COUNT SECONDS: until ferry_pods{phase=PHASE} >= COUNT
wait_phase() {
        local v
        for _ in $(seq $(($3 * 10))); do
                v=$(metric "ferry_pods{phase=\"$1\",backend=\"fake\"}")
                [[ ${v%.*} -ge $2 ]] && return 0
                sleep 0.1
        done
        echo "only $v of $2 pods reached $1 within $3 s" >&2
        errors=$((errors + 1))
        return 0
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

seed=$((0x$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')))
mhz=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
say "machine: $(nproc) CPUs, $mhz; $(date -u +%Y-%m-%dT%H:%MZ); QUICK=$QUICK; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# =====================================================================
# Phase A: instant completion (duration_ms=0), as the issue says.
# =====================================================================
stA=$tmp/stateA
start_ferryd "$stA" 0
line=$R
say "ferryd up on an empty store in $(kv ready_ms "$line") ms (pid $daemon_pid, TCP port $PORT)"

# 1. creates/s accepted and durably stored
next=0
rates=() p50s=() p99s=()
for r in $(seq "$CREATE_RUNS"); do
        line=$("$FERRY_BENCH" create --unix "$sock" -n "$CREATE_N" -c "$CONNS" --seed "$seed" --first "$next")
        check_errors "$line"
        say "create run $r: $line"
        rates+=("$(kv rate "$line")") p50s+=("$(kv p50_ms "$line")") p99s+=("$(kv p99_ms "$line")")
        next=$((next + CREATE_N))
done
create_rate=$(printf '%s\n' "${rates[@]}" | median)
create_p50=$(printf '%s\n' "${p50s[@]}" | median)
create_p99=$(printf '%s\n' "${p99s[@]}" | median)

# fill to TOTAL pods (also timed)
fill=$((TOTAL - next))
fill_line=
if ((fill > 0)); then
        fill_line=$("$FERRY_BENCH" create --unix "$sock" -n "$fill" -c "$CONNS" --seed "$seed" --first "$next" \
                --uids-out "$tmp/fill.uids")
        check_errors "$fill_line"
        say "fill to $TOTAL: $fill_line"
        last_uid=$(tail -1 "$tmp/fill.uids")
else
        "$FERRY_BENCH" create --unix "$sock" -n 1 -c 1 --seed "$seed" --first $((next - 1)) --uids-out "$tmp/fill.uids" >/dev/null
        last_uid=$(tail -1 "$tmp/fill.uids")
fi

# 3. RSS with TOTAL tracked pods (after the poller has moved them all to Succeeded)
wait_phase Succeeded "$TOTAL" 120
sleep 1
rss=$(rss_kb "$daemon_pid")
hwm=$(hwm_kb "$daemon_pid")
say "RSS with $TOTAL pods: $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB)"

# 5. /pinglink vs nginx `return 200`, wrk -t2 -c50, same run
ping_rate="" nginx_rate="" ping_ratio="" ping_note=""
wrk_rate() { # URL: sets R to requests/s
        local out
        R=0
        out=$("$WRK" -t2 -c50 -d"${WRK_SECS}s" "$1" 2>&1) || { echo "wrk failed: $out" >&2; errors=$((errors + 1)); return; }
        if grep -q 'Non-2xx' <<<"$out"; then
                echo "wrk: $1 answered non-2xx: $(grep 'Non-2xx' <<<"$out")" >&2
                errors=$((errors + 1))
        fi
        R=$(awk '/^Requests\/sec:/ { print int($2) }' <<<"$out")
}
WRK=${WRK:-wrk}
nginx_bin=${FERRY_BENCH_NGINX:-$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)}
[[ -z $nginx_bin ]] || command -v "$nginx_bin" >/dev/null || nginx_bin=
if ! command -v "$WRK" >/dev/null; then
        ping_note="skipped: wrk is not installed (apt-get install wrk)"
        say "5. $ping_note"
else
        if [[ -z $nginx_bin ]]; then
                ping_note="nginx is not installed (apt-get install nginx): no reference, ferryd only"
                say "5. $ping_note"
        else
                n=$tmp/nginx
                mkdir -p "$n/tmp"
                cat >"$n/nginx.conf" <<CONF
worker_processes auto;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $n/tmp; proxy_temp_path $n/tmp;
  fastcgi_temp_path $n/tmp; uwsgi_temp_path $n/tmp; scgi_temp_path $n/tmp;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /ret { default_type application/json; return 200 "{\"hello\":\"world\"}\n"; }
  }
}
CONF
                # env -u NGINX: an NGINX in the caller's environment makes nginx wait on "inherited sockets"
                if ! env -u NGINX "$nginx_bin" -q -t -c "$n/nginx.conf" -p "$n" 2>"$n/t.log" ||
                        ! env -u NGINX "$nginx_bin" -c "$n/nginx.conf" -p "$n"; then
                        cat "$n/t.log" "$n/error.log" >&2 2>/dev/null || true
                        die "nginx did not start"
                fi
                for _ in $(seq 100); do [[ -s $n/nginx.pid ]] && break; sleep 0.02; done
                [[ -s $n/nginx.pid ]] || { cat "$n/error.log" >&2 2>/dev/null; die "nginx wrote no pid file in 2 s"; }
                nginx_pid=$(cat "$n/nginx.pid")
                for _ in $(seq 100); do port_free "$NGINX_PORT" || break; sleep 0.02; done
        fi
        ping_sum=0 nginx_sum=0
        for r in $(seq "$WRK_ROUNDS"); do
                if [[ -n $nginx_pid ]]; then
                        wrk_rate "http://127.0.0.1:$NGINX_PORT/ret"
                        v=$R
                        say "wrk round $r: nginx return 200: $v req/s"
                        nginx_sum=$((nginx_sum + v))
                fi
                wrk_rate "http://127.0.0.1:$PORT/pinglink"
                v=$R
                say "wrk round $r: ferryd /pinglink: $v req/s"
                ping_sum=$((ping_sum + v))
        done
        ping_rate=$((ping_sum / WRK_ROUNDS))
        if [[ -n $nginx_pid ]]; then
                nginx_rate=$((nginx_sum / WRK_ROUNDS))
                kill -QUIT "$nginx_pid" 2>/dev/null || true
                nginx_pid=
                ((nginx_rate > 0)) && ping_ratio=$((100 * ping_sum / nginx_sum))
        fi
fi

# 4. restart time with TOTAL pods in the store
stop_ferryd
stop_ms=$R
say "SIGTERM -> exit with $TOTAL pods: $stop_ms ms"
restarts=()
for r in $(seq "$RESTARTS"); do
        start_ferryd "$stA" 0 "$last_uid"
        line=$R
        say "restart $r: $line"
        restarts+=("$(kv ready_ms "$line")")
        if ((r == RESTARTS)); then # nothing lost: every pod is still there
                line=$("$FERRY_BENCH" status --unix "$sock" --all -n 1 --expect "$TOTAL")
                check_errors "$line"
                say "after restart, /status [] answers: $line"
                rss_restart=$(rss_kb "$daemon_pid")
        fi
        stop_ferryd
done
restart_ms=$(printf '%s\n' "${restarts[@]}" | median)
restart_max=$(printf '%s\n' "${restarts[@]}" | sort -n | tail -1)

# =====================================================================
# Phase A2: the same TOTAL pods from slower clients (SLOW_CONNS connections
# paced to SLOW_RATE creates/s in all: small group commits, many poll
# cycles while the pods arrive), then durable creates from wrk over TCP
# =====================================================================
stA2=$tmp/stateA2
start_ferryd "$stA2" 0
slow_line=$("$FERRY_BENCH" create --unix "$sock" -n "$TOTAL" -c "$SLOW_CONNS" --rate "$SLOW_RATE" --seed "$((seed ^ 0x33))")
check_errors "$slow_line"
say "create $TOTAL pods from $SLOW_CONNS paced clients: $slow_line"
wait_phase Succeeded "$TOTAL" 120
sleep 1
rss_slow=$(rss_kb "$daemon_pid")
hwm_slow=$(hwm_kb "$daemon_pid")
say "RSS with $TOTAL pods from slower clients: $((rss_slow / 1024)) MiB (peak $((hwm_slow / 1024)) MiB)"

# 1c. durable creates from an independent client: wrk over TCP (bench/core/create.lua:
# a new uid per request), beside ferry-bench over the unix socket in the same ferryd
wrk_create="" wrk_create_note=""
if command -v "$WRK" >/dev/null; then
        unix_line=$("$FERRY_BENCH" create --unix "$sock" -n "$CREATE_N" -c "$CONNS" --seed "$((seed ^ 0x77))")
        check_errors "$unix_line"
        out=$("$WRK" -t2 -c"$CONNS" -d"${WRK_SECS}s" -s "$here/core/create.lua" "http://127.0.0.1:$PORT/create" 2>&1) ||
                { echo "wrk failed: $out" >&2; errors=$((errors + 1)); }
        if grep -q 'Non-2xx' <<<"$out"; then
                echo "wrk creates answered non-2xx: $(grep -E 'Non-2xx|create.lua' <<<"$out")" >&2
                errors=$((errors + 1))
        fi
        wrk_create=$(awk '/^Requests\/sec:/ { print int($2) }' <<<"$out")
        say "creates: ferry-bench over unix: $unix_line; wrk over TCP: $wrk_create/s"
else
        wrk_create_note="skipped: wrk is not installed"
fi
stop_ferryd

# =====================================================================
# Phase B: live pods (duration_ms=3600000 keeps them Running)
# =====================================================================
stB=$tmp/stateB
start_ferryd "$stB" 3600000
live_line=$("$FERRY_BENCH" create --unix "$sock" -n "$LIVE" -c "$CONNS" --seed "$((seed ^ 0x5a5a))" --uids-out "$tmp/live.uids")
check_errors "$live_line"
say "create $LIVE live pods: $live_line"
wait_phase Running "$LIVE" 30

# 2. /status p50/p99, one call covering LIVE live pods
st_line=$("$FERRY_BENCH" status --unix "$sock" --uids "$tmp/live.uids" -n "$STATUS_CALLS" --expect "$LIVE")
check_errors "$st_line"
say "status (list of $LIVE uids): $st_line"
# the same call as a virtual kubelet makes it: whole v1.Pod objects (~2.5 KB each)
st_full=$("$FERRY_BENCH" status --unix "$sock" --uids "$tmp/live.uids" --full -n "$STATUS_CALLS" --expect "$LIVE")
check_errors "$st_full"
say "status (list of $LIVE full pod objects): $st_full"
st_all=$("$FERRY_BENCH" status --unix "$sock" --all -n "$STATUS_ALL_CALLS" --expect "$LIVE")
check_errors "$st_all"
say "status ([] = all): $st_all"
rss_live=$(rss_kb "$daemon_pid")
stop_ferryd

# =====================================================================
# Results
# =====================================================================
verdict() { # verdict OK_EXPR
        if [[ $QUICK == 1 ]]; then echo "n/a (QUICK: smaller counts)"; elif [[ -z $1 ]]; then echo "n/a"; elif awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**MISSED**"; fi
}
st_p50=$(kv p50_ms "$st_line") st_p99=$(kv p99_ms "$st_line")
rss_mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
echo
echo "Ferry core benchmark — $(nproc) CPUs ($mhz), $(date -u +%Y-%m-%d), QUICK=$QUICK, fake backend"
echo
echo "| # | measurement | result | goal | verdict |"
echo "|---|---|---|---|---|"
echo "| 1 | creates/s, $CREATE_N creates over $CONNS keep-alive unix connections (median of $CREATE_RUNS) | **$create_rate/s** (runs: ${rates[*]}); latency p50 $create_p50 ms, p99 $create_p99 ms | >= 5,000/s | $(verdict "$create_rate >= 5000") |"
[[ -n $fill_line ]] && echo "| 1b | creates/s while filling to $TOTAL pods ($fill creates) | $(kv rate "$fill_line")/s; p50 $(kv p50_ms "$fill_line") ms, p99 $(kv p99_ms "$fill_line") ms | — | — |"
if [[ -n $wrk_create ]]; then
        echo "| 1c | durable creates/s from wrk over TCP, $CONNS connections, ${WRK_SECS}s (a new pod per request) | **$wrk_create/s**; ferry-bench over unix in the same ferryd: $(kv rate "$unix_line")/s | >= 10,000/s | $(verdict "$wrk_create >= 10000") |"
else
        echo "| 1c | durable creates/s from wrk over TCP | $wrk_create_note | >= 10,000/s | n/a |"
fi
echo "| 2 | /status, one call listing $LIVE Running pods ($STATUS_CALLS calls, $(kv bytes "$st_line") B answers) | p50 **$st_p50 ms**, p99 **$st_p99 ms**, max $(kv max_ms "$st_line") ms | p99 <= 50 ms | $(verdict "$st_p99 <= 50") |"
echo "| 2a | /status, the same $LIVE pods sent as whole v1.Pod objects ($(kv req_bytes "$st_full") B requests) | p50 **$(kv p50_ms "$st_full") ms**, p99 **$(kv p99_ms "$st_full") ms**, max $(kv max_ms "$st_full") ms | p99 <= 50 ms | $(verdict "$(kv p99_ms "$st_full") <= 50") |"
echo "| 2b | /status with [] (all $LIVE pods, $STATUS_ALL_CALLS calls) | p50 $(kv p50_ms "$st_all") ms, p99 $(kv p99_ms "$st_all") ms | — | — |"
echo "| 3 | ferryd RSS with $TOTAL tracked pods | **$rss_mb MiB** (peak $((hwm / 1024)) MiB; after restart $((rss_restart / 1024)) MiB; $LIVE live pods: $((rss_live / 1024)) MiB) | <= 100 MB | $(verdict "$rss * 1024 <= 100000000") |"
echo "| 3a | ferryd RSS with $TOTAL tracked pods created by $SLOW_CONNS slower clients (paced to $SLOW_RATE/s) | **$(awk -v k="$rss_slow" 'BEGIN { printf "%.1f", k / 1024 }') MiB** (peak $((hwm_slow / 1024)) MiB) | <= 100 MB | $(verdict "$rss_slow * 1024 <= 100000000") |"
echo "| 4 | restart: exec -> first /status answer with a known pod, $TOTAL pods in the store (median of $RESTARTS) | **$restart_ms ms** (max $restart_max ms; SIGTERM -> exit $stop_ms ms) | <= 1 s | $(verdict "$restart_ms <= 1000") |"
if [[ -n $ping_note && -z $ping_rate ]]; then
        echo "| 5 | /pinglink req/s vs nginx return 200 | $ping_note | >= 50% | n/a |"
else
        echo "| 5 | /pinglink req/s vs nginx \`return 200\`, wrk -t2 -c50 -d${WRK_SECS}s, mean of $WRK_ROUNDS rounds | ferryd **$ping_rate/s**, nginx ${nginx_rate:-n/a}/s: **${ping_ratio:-n/a}%** | >= 50% | $(verdict "${ping_ratio:-}${ping_ratio:+ >= 50}") |"
fi
echo
if ((errors > 0)); then
        echo "run-core.sh: $errors measurement(s) saw request errors (see above)" >&2
        exit 1
fi
