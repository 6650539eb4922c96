#!/bin/bash
# SPDX-License-Identifier: MIT
# Jobs (batch/v1) run by ferryd (issue 16, doc/jobs.md), through the real `ferry` CLI, ferryd's
# /jobs API and the local backend's shim (host runtime: the pods share a directory of this
# test, which is how they count attempts and meet each other).
# Checks: backoffLimit 2 with pods that fail twice then succeed (Complete, 1 succeeded, 2
# failed, three pods named <job>-xxxxx); backoffLimit 1 always failing (Failed,
# BackoffLimitExceeded, exactly two pods); a 4-way Indexed job whose pods wait for each other
# (all four at once, JOB_COMPLETION_INDEX = the index in the pod's name, completedIndexes 0-3);
# parallelism 2 never exceeded; activeDeadlineSeconds stops a running pod (DeadlineExceeded);
# a job outlives the CLI and a kill -9 of ferryd with no index run twice; delete takes the pods
# with it and frees the name; bad jobs get 400/409 with the reason; tokens bind namespaces.
#   jobs.sh FERRYD FERRY
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ferryd.sh"
ferryd=$1
ferry=$2
shared="$dir/shared"
mkdir -p "$shared" && chmod 1777 "$shared"
port=${FERRY_TEST_TCP_PORT:-18741}
printf 'tok-jobs-0123456789 jobs\ntok-other-0123456789 other\n' >"$dir/tokens"; chmod 600 "$dir/tokens"
opts=(--backend local --runtime host --backend-opt host_namespaces=jobs,other
  --poll-interval-ms 100 --job-backoff-ms 200 --listen "http://127.0.0.1:$port" --tokens "$dir/tokens")
ferryd_start "$ferryd" "${opts[@]}"
export FERRY_SERVER="unix://$sock"
f() { "$ferry" "$@"; }

# job NAME SPEC_YAML SCRIPT: a Job manifest in $dir/NAME.yaml
job() {
  cat >"$dir/$1.yaml" <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: $1
  namespace: jobs
spec:
$2
  template:
    metadata:
      labels: {app: $1}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "$3"]
EOF
}
jobjson() { f get jobs "$1" -n jobs -o json; }
pods_of() { f get -n jobs | awk -v j="$1" '$1 ~ "^"j"-" {print $1}' | sort; }

# --- backoffLimit 2: fail, fail, succeed
job retry '  backoffLimit: 2' "n=\$(cat $shared/retry 2>/dev/null || echo 0); n=\$((n+1)); echo \$n > $shared/retry; echo attempt \$n; [ \$n -ge 3 ]"
out=$(f run -f "$dir/retry.yaml" --wait --timeout 60s 2>&1); rc=$?
alive
check "retry: ferry run --wait exits 0 ($rc: $out)" [ "$rc" = 0 ]
j=$(jobjson retry)
check "retry: Complete" grep -q '"type": "Complete"' <<<"$j"
check "retry: 1 succeeded" grep -q '"succeeded": 1,' <<<"$j"
check "retry: 2 failed" grep -q '"failed": 2,' <<<"$j"
check "retry: three pods" [ "$(pods_of retry | wc -l)" = 3 ]
check "retry: pods named retry-xxxxx" [ "$(pods_of retry | grep -cE '^retry-[bcdfghjklmnpqrstvwxz2456789]{5}$')" = 3 ]
logs=$(for p in $(pods_of retry); do f logs -n jobs "$p"; done | sort | tr '\n' ' ')
check "retry: attempts 1, 2, 3 each ran once ($logs)" [ "$logs" = "attempt 1 attempt 2 attempt 3 " ]
check "retry: the get jobs table says Complete 1/1" grep -qE '^retry +jobs +Complete +1/1' <<<"$(f get jobs -n jobs)"

# --- backoffLimit 1, always failing
job doomed '  backoffLimit: 1' 'echo no; exit 3'
out=$(f run -f "$dir/doomed.yaml" --wait --timeout 60s 2>&1); rc=$?
check "doomed: ferry run --wait exits 1 ($rc)" [ "$rc" = 1 ]
check "doomed: says BackoffLimitExceeded ($out)" grep -q 'job/doomed failed: BackoffLimitExceeded' <<<"$out"
j=$(jobjson doomed)
check "doomed: Failed condition" grep -q '"type": "Failed"' <<<"$j"
check "doomed: 2 failed" grep -q '"failed": 2,' <<<"$j"
check "doomed: exactly two pods" [ "$(pods_of doomed | wc -l)" = 2 ]

# --- 4-way Indexed: every pod waits until all four have started
job idx '  completions: 4
  parallelism: 4
  completionMode: Indexed' "touch $shared/idx-\$JOB_COMPLETION_INDEX; i=0; while [ \$(ls $shared | grep -c '^idx-') -lt 4 ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i+1)); done; echo \$HOSTNAME index \$JOB_COMPLETION_INDEX saw \$(ls $shared | grep -c '^idx-')"
out=$(f run -f "$dir/idx.yaml" --wait --timeout 60s 2>&1); rc=$?
check "idx: ferry run --wait exits 0 ($rc: $out)" [ "$rc" = 0 ]
j=$(jobjson idx)
check "idx: completedIndexes 0-3" grep -q '"completedIndexes": "0-3"' <<<"$j"
check "idx: 4 succeeded" grep -q '"succeeded": 4,' <<<"$j"
check "idx: four pods named idx-<index>-xxxxx" [ "$(pods_of idx | grep -cE '^idx-[0-3]-[a-z0-9]{5}$')" = 4 ]
for p in $(pods_of idx); do
  l=$(f logs -n jobs "$p")
  i=$(cut -d- -f2 <<<"$p")
  check "idx: $p got JOB_COMPLETION_INDEX $i and saw all four running ($l)" [ "$l" = "$p index $i saw 4" ]
done

# what ferryd made of the template: the Job controller's labels, annotation, owner, generateName
body=$(sqlite3 "$dir/state/ferry.db" "SELECT body FROM pods WHERE name LIKE 'idx-2-%'")
juid=$(jobjson idx | sed -n 's/^    "uid": "\(.*\)",*$/\1/p' | head -1)
check "idx: job uid read ($juid)" [ -n "$juid" ]
check "idx: label job-name" grep -q '"job-name":"idx"' <<<"$body"
check "idx: label batch.kubernetes.io/job-name" grep -q '"batch.kubernetes.io/job-name":"idx"' <<<"$body"
check "idx: label controller-uid" grep -q "\"controller-uid\":\"$juid\"" <<<"$body"
check "idx: label and annotation of the index" [ "$(grep -o '"batch.kubernetes.io/job-completion-index":"2"' <<<"$body" | wc -l)" = 2 ]
check "idx: the template's own label kept" grep -q '"app":"idx"' <<<"$body"
check "idx: owned by the Job" grep -q "\"ownerReferences\":\[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"name\":\"idx\",\"uid\":\"$juid\",\"controller\":true" <<<"$body"
check "idx: generateName idx-" grep -q '"generateName":"idx-"' <<<"$body"

# --- parallelism 2 of 4 (NonIndexed): never more than two at once
job par '  completions: 4
  parallelism: 2' "touch $shared/par-\$HOSTNAME; ls $shared | grep -c '^par-' >> $shared/par.seen; echo \${JOB_COMPLETION_INDEX:-none} >> $shared/par.index; sleep 0.5; rm $shared/par-\$HOSTNAME"
out=$(f run -f "$dir/par.yaml" --wait --timeout 60s 2>&1); rc=$?
check "par: exits 0 ($rc: $out)" [ "$rc" = 0 ]
max=$(sort -n "$shared/par.seen" | tail -1)
check "par: four pods ran" [ "$(wc -l <"$shared/par.seen")" = 4 ]
check "par: at most two at once (max $max)" [ "${max:-9}" -le 2 ]
check "par: no JOB_COMPLETION_INDEX in a NonIndexed job" [ "$(sort -u "$shared/par.index")" = none ]

# --- activeDeadlineSeconds
job late '  activeDeadlineSeconds: 1' 'echo started; exec sleep 3131'
out=$(f run -f "$dir/late.yaml" --wait --timeout 60s 2>&1); rc=$?
check "late: exits 1 ($rc)" [ "$rc" = 1 ]
check "late: DeadlineExceeded ($out)" grep -q 'job/late failed: DeadlineExceeded' <<<"$out"
check "late: its running pod was counted failed" grep -q '"failed": 1,' <<<"$(jobjson late)"
for _ in $(seq 100); do pgrep -f 'sleep 3131' >/dev/null || break; sleep 0.1; done
check "late: its pod's process was stopped" not pgrep -f 'sleep 3131'

# --- the job outlives the CLI and a kill -9 of ferryd; no index runs twice
job survive '  completions: 3' "echo \$HOSTNAME >> $shared/survive.runs; sleep 1"
check "survive: created" f run -f "$dir/survive.yaml"
for _ in $(seq 100); do [ -s "$shared/survive.runs" ] && break; sleep 0.05; done
kill -9 "$pid"
wait "$pid" 2>/dev/null
ferryd_start "$ferryd" "${opts[@]}"
for _ in $(seq 200); do alive; jobjson survive | grep -q '"type": "Complete"' && break; sleep 0.1; done
j=$(jobjson survive)
check "survive: Complete after the restart" grep -q '"type": "Complete"' <<<"$j"
check "survive: 3 succeeded, 0 failed" grep -q '"succeeded": 3,' <<<"$j"
check "survive: three runs ($(tr '\n' ' ' <"$shared/survive.runs"))" [ "$(wc -l <"$shared/survive.runs")" = 3 ]
check "survive: each pod ran once" [ "$(sort -u "$shared/survive.runs" | wc -l)" = 3 ]
check "ferryd said it loaded the jobs" grep -q 'loaded [0-9]* jobs from the store' "$dir/ferryd.log"

# --- delete takes the pods; the name is free again
job gone '  completions: 2
  parallelism: 2' 'exec sleep 4242'
check "gone: created" f run -f "$dir/gone.yaml"
for _ in $(seq 100); do [ "$(pgrep -fc 'sleep 4242')" = 2 ] && break; sleep 0.1; done
check "gone: two pods running" [ "$(pgrep -fc 'sleep 4242')" = 2 ]
check "gone: ferry delete job" f delete job gone -n jobs
for _ in $(seq 100); do pgrep -f 'sleep 4242' >/dev/null || break; sleep 0.1; done
check "gone: its pods' processes stopped" not pgrep -f 'sleep 4242'
for _ in $(seq 100); do f get jobs gone -n jobs >/dev/null 2>&1 || break; sleep 0.1; done
f get jobs gone -n jobs >/dev/null 2>&1; rc=$?
check "gone: get jobs gone exits 4 ($rc)" [ "$rc" = 4 ]
check "gone: ferry delete job again exits 4" [ "$(f delete job gone -n jobs >/dev/null 2>&1; echo $?)" = 4 ]
check "gone: the name can be used again" f run -f "$dir/gone.yaml"
check "gone: and deleted again" f delete job gone -n jobs

m=$(api http://unix/metrics)
check "metrics: 4 jobs complete" grep -q '^ferry_jobs{state="complete"} 4$' <<<"$m"
check "metrics: 2 jobs failed" grep -q '^ferry_jobs{state="failed"} 2$' <<<"$m"

# --- bad jobs: 400 with the reason, 409 for a name in use
post() { printf '%s' "$1" | api -o "$dir/last" -w '%{http_code}' -X POST --data-binary @- http://unix/jobs; }
req='{"pod":{"metadata":{"name":"x","namespace":"jobs","uid":"00000000-0000-4000-8000-000000000001"},"spec":{"restartPolicy":"RP","containers":[{"name":"main","image":"busybox","command":["true"]}]}},"configmaps":null,"secrets":null,"projectedvolumesmaps":null}'
jobreq() { printf '{"job":{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"%s","namespace":"jobs"},"spec":%s},"request":%s}' "$1" "$2" "${req/RP/${3:-Never}}"; }
code=$(post "$(jobreq bad1 '{}' Always)")
check "restartPolicy Always: 400 ($code $(cat "$dir/last"))" [ "$code" = 400 ]
check "restartPolicy Always: says why" grep -q 'restartPolicy must be Never or OnFailure' "$dir/last"
code=$(post "$(jobreq bad2 '{"podFailurePolicy":{"rules":[]}}')")
check "podFailurePolicy: 400 naming it ($code $(cat "$dir/last"))" [ "$code" = 400 ] && grep -q 'podFailurePolicy is not supported' "$dir/last"
code=$(post "$(jobreq bad3 '{"completions":0}')")
check "completions 0: 400 ($code $(cat "$dir/last"))" [ "$code" = 400 ]
code=$(post "$(jobreq bad4 '{"parallelism":3}')")
check "work-queue job: 400 ($code $(cat "$dir/last"))" [ "$code" = 400 ] && grep -q 'completions is required' "$dir/last"
code=$(post "$(jobreq "$(printf 'x%.0s' $(seq 64))" '{}')")
check "64-character name: 400 ($code)" [ "$code" = 400 ]
code=$(post '{"job":')
check "not JSON: 400 ($code)" [ "$code" = 400 ]
code=$(post "$(jobreq retry '{}')")
check "a name in use: 409 ($code $(cat "$dir/last"))" [ "$code" = 409 ]
bad=$(sed 's/"image":"busybox"/"image":"busybox","volumeMounts":[{"name":"nope","mountPath":"\/x"}]/' <<<"$(jobreq bad5 '{}')")
code=$(post "$bad")
check "a template that is no valid pod: 400 ($code $(cat "$dir/last"))" [ "$code" = 400 ]
alive

# --- tokens bind namespaces
tcp() { curl -s -o "$dir/last" -w '%{http_code}' "$@"; }
code=$(tcp -H 'Authorization: Bearer tok-other-0123456789' "http://127.0.0.1:$port/jobs" -X GET -d '{"namespace":"jobs"}')
check "another namespace's token may not list jobs: 403 ($code)" [ "$code" = 403 ]
code=$(tcp -H 'Authorization: Bearer tok-other-0123456789' "http://127.0.0.1:$port/jobs" -X GET -d '{}')
check "and sees none of them in a list of all ($(cat "$dir/last"))" [ "$code" = 200 ] && [ "$(cat "$dir/last")" = "[]" ]
code=$(tcp -H 'Authorization: Bearer tok-other-0123456789' "http://127.0.0.1:$port/jobs" -X DELETE -d '{"namespace":"jobs","name":"retry"}')
check "nor delete one: 403 ($code)" [ "$code" = 403 ]
code=$(tcp -H 'Authorization: Bearer tok-other-0123456789' "http://127.0.0.1:$port/jobs" -X POST --data-binary "$(jobreq sneak '{}')")
check "nor create one there: 403 ($code)" [ "$code" = 403 ]
code=$(tcp "http://127.0.0.1:$port/jobs" -X GET -d '{}')
check "no token: 401 ($code)" [ "$code" = 401 ]
code=$(tcp -H 'Authorization: Bearer tok-jobs-0123456789' "http://127.0.0.1:$port/jobs" -X GET -d '{"namespace":"jobs"}')
check "its own namespace's token lists them" [ "$code" = 200 ] && grep -q '"name":"retry"' "$dir/last"
alive
finish
