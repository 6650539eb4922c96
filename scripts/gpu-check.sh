#!/bin/bash
# SPDX-License-Identifier: MIT
# GPUs on the local backend (issue 10) on a host with real NVIDIA GPUs, end to
# end: ferryd (local backend, bwrap) on a free localhost port with a token,
# pods run with the ferry CLI. Read-only on the GPUs: only `nvidia-smi -L` and
# `nvidia-smi --query-gpu=... --format=csv`; MIG modes, layouts, clocks and
# every other GPU setting are left as they are.
#   scripts/gpu-check.sh                  the build's programs (build/, or $FERRY_BUILD)
#   FERRY_BUILD=/opt/ferry/x scripts/gpu-check.sh
#   FERRYD_ARGS="--log-level debug" scripts/gpu-check.sh    extra ferryd arguments
# Exit: 0 all passed, 1 a check failed, 77 skipped (no GPU, no bwrap).
set -euo pipefail
export LC_ALL=C   # nvidia-smi's and awk's numbers, sort order
here=$(cd "$(dirname "$0")" && pwd)

# --- the host's GPUs (read-only queries)
command -v nvidia-smi >/dev/null || { echo "SKIP: no nvidia-smi here (no NVIDIA driver): nothing to check"; exit 77; }
smi_list=$(nvidia-smi -L 2>&1) || { echo "SKIP: nvidia-smi -L failed (no GPU or no driver): $smi_list"; exit 77; }
grep -q '^GPU [0-9]' <<<"$smi_list" || { echo "SKIP: nvidia-smi -L lists no GPU"; exit 77; }
echo "== nvidia-smi -L"; echo "$smi_list"
echo "== driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)"
query=$(nvidia-smi --query-gpu=index,uuid,mig.mode.current,name --format=csv,noheader) ||
  { echo "gpu-check: nvidia-smi --query-gpu failed: $query"; exit 1; }
echo "== index, uuid, MIG mode, name"; echo "$query"
whole=$(awk -F', *' 'NF > 2 && $3 != "Enabled"' <<<"$query" | wc -l)
# units per resource as nvidia-smi sees them: "RESOURCE COUNT" lines, sorted
smi_units=$( { awk -F', *' 'NF > 2 && $3 != "Enabled" { print "nvidia.com/gpu" }' <<<"$query"
  sed -n 's/^ *MIG \([^ ]*\) .*(UUID: MIG-.*/nvidia.com\/mig-\1/p' <<<"$smi_list"; } | sort | uniq -c | awk '{ print $2, $1 }' | sort)

# --- programs
if [ -n "${FERRY_BUILD:-}" ] || [ -x "$here/../build/src/ferryd/ferryd" ]; then
  B=${FERRY_BUILD:-$here/../build}
  ferryd=$B/src/ferryd/ferryd ferry=$B/src/ferry/ferry shim=$B/src/shim/ferry-shim
  for f in "$ferryd" "$ferry" "$shim"; do [ -x "$f" ] || { echo "gpu-check: $f missing: build first (make)"; exit 1; }; done
else
  ferryd=$(command -v ferryd) || { echo "gpu-check: no ferryd in PATH and no build/ (set FERRY_BUILD)"; exit 1; }
  ferry=$(command -v ferry) || { echo "gpu-check: no ferry in PATH"; exit 1; }
  shim=   # ferryd finds its installed ferry-shim itself
fi
command -v bwrap >/dev/null || { echo "SKIP: bwrap is not installed (scripts/install-deps.sh)"; exit 77; }
bwrap --ro-bind / / --unshare-all --die-with-parent true 2>/dev/null ||
  { echo "SKIP: bwrap cannot create namespaces here: $(bwrap --ro-bind / / --unshare-all true 2>&1 | head -n 1)"; exit 77; }

dir=$(mktemp -d /tmp/ferry-gpu-check.XXXXXX)
chmod 711 "$dir"   # pods run as an unprivileged user that must reach their volumes below it
mkdir -p "$dir/m"
pid= passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; }
verdict() { echo "gpu-check: $passed passed, $failed failed"; }
cleanup() {
  local rc=$? left _
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # shims outlive ferryd: stop this run's pods first
    left=$("$ferry" get 2>/dev/null | awk 'NR > 1 { print $1 }' || true)
    # shellcheck disable=SC2086 # pod names are DNS labels
    [ -z "$left" ] || "$ferry" delete $left >/dev/null 2>&1 || true
    for _ in $(seq 150); do [ -z "$("$ferry" get 2>/dev/null | awk 'NR > 1' || true)" ] && break; sleep 0.1; done
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  fi
  if [ "$rc" = 0 ]; then rm -rf "$dir"; else echo "gpu-check: ferryd's state and log kept in $dir"; fi
}
trap cleanup EXIT
alive() {
  kill -0 "$pid" 2>/dev/null && return 0
  fail "ferryd died; its log:"; tail -n 30 "$dir/ferryd.log"; verdict; exit 1
}

# --- a CUDA program for check e: torch from the host's /usr python, else nvcc
pyprobe='import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'
cuda=none
if { [ -x /usr/bin/python3 ] || [ -x /usr/local/bin/python3 ]; } &&
   env -i PATH=/usr/local/bin:/usr/bin:/bin python3 -s -c "$pyprobe" 2>/dev/null; then
  cuda=torch
elif nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null); then
  mkdir -m 755 "$dir/cuda"
  cat > "$dir/cuda/vecadd.cu" <<'EOF'
#include <cstdio>
__global__ void add(const float *a, const float *b, float *c, int n)
{
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) c[i] = a[i] + b[i];
}
int main()
{
        int n = 1000, count = 0;
        float *a, *b, *c, sum = 0;
        if (cudaGetDeviceCount(&count) != cudaSuccess) { puts("cudaGetDeviceCount failed"); return 1; }
        printf("%d\n", count);
        cudaMallocManaged(&a, n * sizeof(float)); cudaMallocManaged(&b, n * sizeof(float));
        cudaMallocManaged(&c, n * sizeof(float));
        for (int i = 0; i < n; i++) { a[i] = 0.25f; b[i] = 0.75f; }
        add<<<(n + 255) / 256, 256>>>(a, b, c, n);
        cudaError_t e = cudaDeviceSynchronize();
        if (e != cudaSuccess) { printf("CUDA error: %s\n", cudaGetErrorString(e)); return 1; }
        for (int i = 0; i < n; i++) sum += c[i];
        printf("%.1f\n", sum);
        return 0;
}
EOF
  echo "== compiling a CUDA vector add with $nvcc"
  if "$nvcc" -o "$dir/cuda/vecadd" "$dir/cuda/vecadd.cu" >"$dir/cuda/nvcc.log" 2>&1; then
    chmod 755 "$dir/cuda/vecadd"; cuda=nvcc
  else
    echo "gpu-check: nvcc failed:"; tail -n 10 "$dir/cuda/nvcc.log"; cuda=nvcc-failed
  fi
fi

# --- ferryd on a free localhost port, with a token
port=
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { echo "gpu-check: no free localhost port found"; exit 1; }
token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; echo "$token default" > "$dir/tokens"; echo "$token" > "$dir/token")
{
  echo "listen: [http://127.0.0.1:$port]"
  echo "tokens: $dir/tokens"
  echo "state_dir: $dir/state"
  echo "backend: local"
  echo "runtime: bwrap"
  echo "poll_interval_ms: 200"
  echo "backend_options:"
  echo "  network: \"false\""
  [ -z "$shim" ] || echo "  shim: \"$shim\""
  [ "$cuda" != nvcc ] || echo "  sandbox_paths: \"$dir/cuda\""
} > "$dir/ferryd.yaml"
read -ra extra <<<"${FERRYD_ARGS:-}"
echo "== starting $ferryd --config $dir/ferryd.yaml ${extra[*]}"; cat "$dir/ferryd.yaml"
"$ferryd" --config "$dir/ferryd.yaml" "${extra[@]}" >"$dir/ferryd.log" 2>&1 &
pid=$!
export FERRY_SERVER="http://127.0.0.1:$port" FERRY_TOKEN_FILE="$dir/token" FERRY_NAMESPACE=default
deadline=$((SECONDS + 20))
until "$ferry" ping >/dev/null 2>&1; do
  alive
  [ $SECONDS -lt $deadline ] || { fail "ferryd does not answer ping after 20 s:"; tail -n 30 "$dir/ferryd.log"; verdict; exit 1; }
  sleep 0.1
done
ping=$("$ferry" ping 2>&1) || true
echo "== ferry ping"; echo "$ping"

# --- the resource to test
if [ "$whole" -gt 0 ]; then
  res=nvidia.com/gpu
else
  res=$(awk '$1 ~ /^nvidia\.com\/mig-/ { sub(":$", "", $1); print $2, $1 }' <<<"$ping" | sort -rn | awk 'NR == 1 { print $2 }')
  [ -n "$res" ] || { fail "every GPU has MIG on, and ferry ping reports no nvidia.com/mig-* resource"; verdict; exit 1; }
fi
K=$(awk -v r="$res" '$1 == r { print $2 }' <<<"$smi_units"); K=${K:-0}
host_uuids=$(if [ "$res" = nvidia.com/gpu ]; then awk -F', *' 'NF > 2 && $3 != "Enabled" { print $2 }' <<<"$query"
  else sed -n "s/^ *MIG ${res#nvidia.com/mig-} .*(UUID: \(MIG-[^)]*\)).*/\1/p" <<<"$smi_list"; fi)
echo "== testing $res: nvidia-smi shows $K"

# manifest NAME UNITS ARGV...: a one-container pod asking for UNITS of $res
yaml_str() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }
manifest() {
  local name=$1 units=$2 argv="" a; shift 2
  for a in "$@"; do argv+="${argv:+, }$(yaml_str "$a")"; done
  printf '%s\n' "apiVersion: v1" "kind: Pod" "metadata:" "  name: $name" "spec:" \
    "  restartPolicy: Never" "  containers:" "  - name: main" \
    "    image: docker.io/library/busybox:1.36" "    command: [$argv]" \
    "    env: [{name: HOME, value: /tmp}]" "    resources:" "      limits:" "        $res: \"$units\""
}
# wait_pods SECONDS NAME...: poll ferry get until every pod is Succeeded or
# Failed; pods seen Pending with GPUUnavailable are added to $dir/waited
wait_pods() {
  local secs=$1 out n line busy; shift
  local deadline=$((SECONDS + secs))
  while :; do
    alive
    out=$("$ferry" get -o wide 2>&1) || true
    busy=0
    for n in "$@"; do
      line=$(awk -v n="$n" '$1 == n' <<<"$out")
      case $(awk '{ print $3 }' <<<"$line") in Succeeded | Failed) ;; *) busy=1 ;; esac
      case $line in *" Pending "*GPUUnavailable*) echo "$n" >>"$dir/waited" ;; esac
    done
    [ $busy = 1 ] || return 0
    [ $SECONDS -lt $deadline ] || { echo "timeout after $secs s waiting for $*:"; echo "$out"; return 1; }
    sleep 0.2
  done
}
phase() { { "$ferry" get "$1" 2>/dev/null || true; } | awk 'NR == 2 { print $3 }'; }
logs() { "$ferry" logs "$1" 2>&1 || true; }

# --- a. ping's free units against nvidia-smi
got=$(awk -v r="$res:" '$1 == r { print $2 }' <<<"$ping")
if [ "${got:-none}" = "$K" ]; then pass "a. ferry ping reports $K free $res, as nvidia-smi shows"
else fail "a. ferry ping reports ${got:-no} $res, nvidia-smi shows $K"; fi
ping_units=$(awk '$1 ~ /^nvidia\.com\// { sub(":$", "", $1); print $1, $2 }' <<<"$ping" | sort)
if [ "$ping_units" = "$smi_units" ]; then pass "a. ping and nvidia-smi agree on every GPU resource"
else fail "a. ping reports [$(tr '\n' ' ' <<<"$ping_units")], nvidia-smi shows [$(tr '\n' ' ' <<<"$smi_units")]"; fi

# --- b. one unit: what the pod sees
manifest see 1 sh -c 'ls /dev/nvidia* /dev/nvidia-caps 2>/dev/null; echo CVD=$CUDA_VISIBLE_DEVICES; nvidia-smi -L' >"$dir/m/see.yaml"
if "$ferry" run -f "$dir/m/see.yaml" && wait_pods 120 see; then
  log=$(logs see); ph=$(phase see)
  echo "--- log of pod see"; echo "$log"; echo "---"
  in_gpus=$(grep -c '^GPU [0-9]*:.*(UUID: GPU-' <<<"$log" || true)
  in_migs=$(grep -c '^ *MIG .*(UUID: MIG-' <<<"$log" || true)
  if [ "$res" = nvidia.com/gpu ]; then want_migs=0; pat='GPU-'; else want_migs=1; pat='MIG-'; fi
  in_uuid=$(sed -n "s/.*(UUID: \($pat[^)]*\)).*/\1/p" <<<"$log" | head -n 1)
  cvd=$(sed -n 's/^CVD=//p' <<<"$log")
  nodes=$(grep -cE '^/dev/nvidia[0-9]+$' <<<"$log" || true)
  [ "$ph" = Succeeded ] && pass "b. the 1-unit pod succeeded" || fail "b. the 1-unit pod is $ph"
  if [ "$in_gpus" = 1 ] && [ "$in_migs" = $want_migs ]; then pass "b. nvidia-smi -L inside lists 1 GPU and $in_migs MIG devices"
  else fail "b. nvidia-smi -L inside lists $in_gpus GPUs and $in_migs MIG devices (want 1 and $want_migs)"; fi
  if [ -n "$cvd" ] && [ "$cvd" = "$in_uuid" ]; then pass "b. CUDA_VISIBLE_DEVICES=$cvd, the UUID nvidia-smi shows inside"
  else fail "b. CUDA_VISIBLE_DEVICES='$cvd', nvidia-smi inside shows '$in_uuid'"; fi
  grep -qxF -- "$cvd" <<<"$host_uuids" && pass "b. $cvd is one of the host's $res" || fail "b. '$cvd' is not one of the host's $res"
  [ "$nodes" = 1 ] && pass "b. one /dev/nvidia<N> node in the sandbox" || fail "b. $nodes /dev/nvidia<N> nodes in the sandbox"
else
  fail "b. the 1-unit pod did not run to its end"
fi
"$ferry" delete see >/dev/null || true

# --- c. K+1 one-unit pods: never more than K at once, never one unit twice
names=()
for i in $(seq $((K + 1))); do
  names+=("share-$i")
  manifest "share-$i" 1 sh -c 'echo start $(date +%s.%N); echo CVD=$CUDA_VISIBLE_DEVICES; sleep 3; echo end $(date +%s.%N)' >"$dir/m/share-$i.yaml"
done
mkdir "$dir/c" && mv "$dir"/m/share-*.yaml "$dir/c/"
: >"$dir/waited"
if "$ferry" run -f "$dir/c/" >/dev/null && wait_pods $((60 + 10 * K)) "${names[@]}"; then
  : >"$dir/intervals"
  for n in "${names[@]}"; do
    l=$(logs "$n"); ph=$(phase "$n")
    [ "$ph" = Succeeded ] || fail "c. pod $n is $ph: $l"
    echo "$n $(sed -n 's/^start //p' <<<"$l") $(sed -n 's/^end //p' <<<"$l") $(sed -n 's/^CVD=//p' <<<"$l")" >>"$dir/intervals"
  done
  cat "$dir/intervals"
  # pairs that overlap; the most running at one moment (at some pod's start)
  overl=$(awk '{ n[NR] = $1; s[NR] = $2; e[NR] = $3; c[NR] = $4 }
    NF < 4 { print "incomplete: " $0 }
    END { for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++)
            if (s[i] < e[j] && s[j] < e[i]) print n[i], n[j], (c[i] == c[j] ? "SAME " c[i] : "") }' "$dir/intervals")
  most=$(awk '{ s[NR] = $2; e[NR] = $3 } END { m = 0; for (i = 1; i <= NR; i++) { k = 0
    for (j = 1; j <= NR; j++) if (s[j] <= s[i] && s[i] < e[j]) k++; if (k > m) m = k }; print m }' "$dir/intervals")
  [ "$most" -le "$K" ] && pass "c. at most $most of $((K + 1)) pods ran at once ($K units)" || fail "c. $most pods ran at once on $K units: $overl"
  if grep -q 'SAME\|incomplete' <<<"$overl"; then fail "c. pods ran at the same time on one unit: $(grep 'SAME\|incomplete' <<<"$overl" | tr '\n' ';')"
  else pass "c. no two pods held the same unit at the same time"; fi
  waited=$(sort -u "$dir/waited" | tr '\n' ' ')
  [ -n "$waited" ] && pass "c. pods waited Pending with GPUUnavailable: $waited" || fail "c. no pod was seen Pending with GPUUnavailable"
else
  fail "c. the $((K + 1)) pods did not all run to their end"
fi
"$ferry" delete "${names[@]}" >/dev/null || true

# --- d. more units than the host has: refused at create
manifest too-many $((K + 1)) true >"$dir/m/too-many.yaml"
rc=0; out=$("$ferry" run -f "$dir/m/too-many.yaml" 2>&1) || rc=$?
echo "$out"
if [ $rc != 0 ] && grep -qF "$res" <<<"$out"; then pass "d. a pod asking for $((K + 1)) $res is refused (exit $rc, names $res)"
else fail "d. a pod asking for $((K + 1)) $res: exit $rc: $out"; fi
# ferryd keeps a refused pod's record (Failed, never started) until it is deleted
ph=$(phase too-many 2>/dev/null || true)
case ${ph:-gone} in gone | Failed) pass "d. the refused pod never runs (${ph:-not listed})" ;; *) fail "d. the refused pod is $ph" ;; esac
"$ferry" delete too-many >/dev/null 2>&1 || true

# --- e. a real CUDA program on one unit
case $cuda in
  torch) manifest cuda 1 python3 -c 'import importlib.util, sys; importlib.util.find_spec("torch") or sys.exit(print("NO-TORCH")); import torch; print(torch.cuda.device_count()); x=torch.ones(1000,device="cuda"); print(float(x.sum()))' >"$dir/m/cuda.yaml" ;;
  nvcc) manifest cuda 1 "$dir/cuda/vecadd" >"$dir/m/cuda.yaml" ;;
  nvcc-failed) skip "e. nvcc could not compile the CUDA test program" ;;
  *) skip "e. no CUDA program at hand (no torch in the host's /usr python3, no nvcc)" ;;
esac
if [ -f "$dir/m/cuda.yaml" ]; then
  if "$ferry" run -f "$dir/m/cuda.yaml" >/dev/null && wait_pods 300 cuda; then
    l=$(logs cuda); ph=$(phase cuda)
    if grep -qx NO-TORCH <<<"$l"; then skip "e. torch is not importable inside the sandbox"
    elif [ "$ph" = Succeeded ] && grep -qx 1 <<<"$l" && grep -qx 1000.0 <<<"$l"; then
      pass "e. $cuda on one unit: 1 device, sum 1000.0"
    else fail "e. $cuda on one unit ($ph), want 1 and 1000.0: $(tail -n 5 <<<"$l")"; fi
  else
    fail "e. the CUDA pod did not run to its end"
  fi
  "$ferry" delete cuda >/dev/null || true
fi

alive
verdict
[ "$failed" = 0 ]
