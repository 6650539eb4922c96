#!/bin/bash
# A real Prometheus scrapes ferryd's /metrics (run under with-ferryd.sh, which
# exports FERRY_TCP): after a few pods, PromQL must see ferryd's counters and
# gauges with the right values. Skipped (77) where prometheus is not installed.
# prometheus-test.sh tenancy: ferryd runs with tests/data/tenancy/prometheus.yaml; the
# per-tenant series and the admission histogram are checked too.
set -u
. "$(dirname "$0")/../lib/watch.sh"
command -v prometheus >/dev/null || { echo "prometheus not installed: skipped"; exit 77; }
tcp=${FERRY_TCP:?needs FERRY_TEST_TCP_PORT}
sock=${FERRY_SERVER#unix://}
d=$(mktemp -d /tmp/ferry-prom.XXXXXX)
port=$((19000 + RANDOM % 900))
trap 'kill $ppid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
cat > "$d/prometheus.yml" <<CONF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ferryd
    static_configs: [{targets: ['${tcp#http://}']}]
CONF
prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
  --web.listen-address="127.0.0.1:$port" >"$d/prometheus.log" 2>&1 &
ppid=$!
for i in 1 2 3; do
  printf '{"pod":{"metadata":{"name":"m%s","namespace":"metrics","uid":"00000000-0000-4000-8000-00000000000%s"},"spec":{"containers":[{"name":"main","image":"x"}]}}}' $i $i |
    curl -s -o /dev/null --unix-socket "$sock" --data-binary @- http://unix/create
done
q() { curl -s "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=$1"; }
pass=0; fail=0
check() { # name query expected-value
  local out v
  for _ in $(seq 150); do
    watch_alive "$ppid" || { echo "FAIL: prometheus died; last lines of its log:"; tail -n 30 "$d/prometheus.log"; exit 1; }
    out=$(q "$2")
    v=$(echo "$out" | grep -o '"value":\[[^]]*\]' | head -1 | sed 's/.*,"\(.*\)"\]/\1/')
    [ "$v" = "$3" ] && break
    sleep 0.2
  done
  if [ "$v" = "$3" ]; then echo "ok - $1 = $v"; pass=$((pass+1)); else echo "not ok - $1: want $3, got '${v}' ($out)"; fail=$((fail+1)); fi
}
check "target up" 'up{job="ferryd"}' 1
check "creates counted" 'sum(ferry_http_requests_total{path="/create",code="200"})' 3
check "pods by phase" 'sum(ferry_pods{backend="fake"})' 3
check "backend submit latency histogram" 'ferry_backend_call_duration_seconds_count{op="submit"}' \
  "$([ "${1:-}" = tenancy ] && echo 2 || echo 3)"
if [ "${1:-}" = tenancy ]; then # ferryd runs with tests/data/tenancy/prometheus.yaml
  check "tenant holds its quota of pods" 'ferry_tenant_held{tenant="metrics",resource="pods"}' 2
  check "tenant quota" 'ferry_tenant_quota{tenant="metrics",resource="pods"}' 2
  check "waiting pods by reason" 'ferry_tenant_waiting_pods{tenant="metrics",reason="QuotaExceeded"}' 1
  check "pods admitted" 'ferry_admitted_pods_total' 2
  check "admission rounds timed" 'clamp_max(ferry_admission_round_seconds_count, 1)' 1
  check "a dominant share" 'clamp_max(ceil(ferry_tenant_dominant_share{tenant="metrics"}), 1)' 1
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
