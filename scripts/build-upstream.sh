#!/usr/bin/env bash
# Build the upstream reference programs that Ferry's compatibility tests run against.
# Ferry itself stays C: Go is only used here, to build these programs from source.
#
#   scripts/build-upstream.sh [interlink|kube|etcd|all]   build what is missing (default: all)
#   scripts/build-upstream.sh --print-env                 shell assignments for tests to eval:
#       eval "$(scripts/build-upstream.sh --print-env)"
#
# Programs and versions (pinned; go.sum pins everything below them):
#   interLink 0.6.2 (commit 84a38105...): cmd/interlink (API server), cmd/virtual-kubelet (VK)
#   Kubernetes v1.33.1 (the release of the client-go v0.33.1 that interLink 0.6.2 uses):
#       kube-apiserver, kubectl
#   etcd: Debian's etcd-server when kube-apiserver v1.33.1 accepts it, else built from source
#
# Everything is cached by version under ${FERRY_UPSTREAM_CACHE:-/var/cache/ferry-upstream}:
#   $ROOT/<name>-<version>/bin/    the binaries (a second run finds them and exits at once)
#   $ROOT/<name>-<version>/wrap/   the small wrapper Go module each build is made from
#   $ROOT/go/                      GOPATH, GOMODCACHE and GOCACHE, reused by every build
#
# Everything comes from this machine's registries (the Go module proxy, Debian's archive).
# When the proxy refuses a module (it refuses github.com/interlink-hq/interlink today: 403
# "This module version is not available"), the script says so and exits 3; the tests that
# need that program skip, naming the reason. Binaries put in the cache by other means are
# used as they are (a second run only checks that they exist).
# Only loopback addresses are used; every process started here is stopped by its pid.
set -euo pipefail

ROOT=${FERRY_UPSTREAM_CACHE:-/var/cache/ferry-upstream}

INTERLINK_VERSION=0.6.2
INTERLINK_MODULE=github.com/interlink-hq/interlink
INTERLINK_COMMIT=84a381055341e72fa6c504c9deba32fd04f10c4c
K8S_VERSION=v1.33.1              # k8s.io/kubernetes; its staging modules are v0.33.1
ETCD_DEBIAN_PKG=etcd-server      # Debian 12: 3.4.23
ETCD_BUILD_VERSION=v3.5.21       # used only when kube-apiserver refuses Debian's etcd

IL_DIR=$ROOT/interlink-$INTERLINK_VERSION
K8S_DIR=$ROOT/kubernetes-$K8S_VERSION
ETCD_BUILD_DIR=$ROOT/etcd-$ETCD_BUILD_VERSION
ETCD_STAMP=$K8S_DIR/etcd-verified   # holds the path of the etcd that kube-apiserver accepted

# ---------------------------------------------------------------- helpers
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf 'build-upstream: %s\n' "$*" >&2; }
CURRENT_STEP=""
on_exit() {
  local rc=$?
  cleanup_procs
  if [ "$rc" -ne 0 ] && [ -n "$CURRENT_STEP" ]; then
    say "FAILED in step: $CURRENT_STEP (exit $rc)"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM
# step NAME CMD...: run one step, print what it does and its wall time; stop on failure
step() {
  local name=$1 t0
  shift
  CURRENT_STEP=$name
  say "[$name] start"
  t0=$(now)
  "$@"
  say "[$name] done in $(secs "$t0") s"
  CURRENT_STEP=""
}

go_env() {
  export GOPATH=$ROOT/go
  export GOMODCACHE=$ROOT/go/pkg/mod
  export GOCACHE=$ROOT/go/cache
  export GOFLAGS="-buildvcs=false -p=2 -mod=mod"
  export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
  export CGO_ENABLED=${CGO_ENABLED:-0}
  command -v go >/dev/null || export PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || { say "go not found (expected /usr/local/go/bin/go)"; return 1; }
}

# go_build DIR OUT PKG [-X ...]: build PKG from the wrapper module in DIR into OUT
go_build() {
  local dir=$1 out=$2 pkg=$3
  shift 3
  (cd "$dir" && go build -trimpath -ldflags="-s $*" -o "$out" "$pkg")
}

# print a module's go.mod (from the module cache) for MODULE@VERSION; fails if not served
mod_gomod() {
  local json
  json=$(cd "$ROOT" && go mod download -json "$1@$2") || { printf '%s\n' "$json" >&2; return 1; }
  printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p'
}

# the replace directives of a go.mod, one "old [oldver] => new [newver]" a line
gomod_replaces() {
  awk '
    /^replace[ \t]*\($/ { inb = 1; next }
    inb && /^\)/ { inb = 0; next }
    inb { sub(/\/\/.*/, ""); if (NF) print; next }
    /^replace[ \t]/ { sub(/\/\/.*/, ""); sub(/^replace[ \t]+/, ""); print }
  ' "$1"
}

# ---------------------------------------------------------------- interLink
interlink_done() { [ -x "$IL_DIR/bin/interlink" ] && [ -x "$IL_DIR/bin/virtual-kubelet" ]; }

interlink_wrapper() {
  local wrap=$IL_DIR/wrap gomod version line new
  mkdir -p "$wrap" "$IL_DIR/bin"
  local replaces=()
  if gomod=$(mod_gomod "$INTERLINK_MODULE" "$INTERLINK_COMMIT" 2>"$IL_DIR/proxy.err"); then
    version=$(cd "$ROOT" && go list -m -json "$INTERLINK_MODULE@$INTERLINK_COMMIT" |
      sed -n 's/^[[:space:]]*"Version": "\(.*\)",*$/\1/p')
    say "interLink $INTERLINK_VERSION from the module proxy: $INTERLINK_MODULE@$version"
    while IFS= read -r line; do replaces+=("$line"); done < <(gomod_replaces "$gomod")
  else
    say "the module proxy refuses $INTERLINK_MODULE@$INTERLINK_COMMIT:"
    sed 's/^/    /' "$IL_DIR/proxy.err" >&2
    say "interLink cannot be built from this machine's registries"
    exit 3
  fi
  local i target tver
  for i in "${!replaces[@]}"; do
    line=${replaces[$i]}
    new=${line#*=>}
    read -r target tver <<<"$new"
    case "$target" in /* | ./* | ../*) continue ;; esac
    if ! mod_gomod "$target" "$tver" >/dev/null 2>"$IL_DIR/proxy.err"; then
      say "the module proxy refuses $target@$tver (a replace of interLink's go.mod):"
      sed 's/^/    /' "$IL_DIR/proxy.err" >&2
      exit 3
    fi
  done
  {
    printf 'module ferry.local/upstream/interlink\n\ngo 1.26.0\n\n'
    printf 'require %s %s\n\n' "$INTERLINK_MODULE" "$version"
    for line in "${replaces[@]}"; do printf 'replace %s\n' "$line"; done
  } >"$wrap/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/interlink"\n\t_ "%s/cmd/virtual-kubelet"\n)\n' \
    "$INTERLINK_MODULE" "$INTERLINK_MODULE" >"$wrap/tools.go"
  touch "$wrap/go.sum"
  say "wrapper module $wrap/go.mod:"
  sed 's/^/    /' "$wrap/go.mod" >&2
  printf '%s\n' "$version" >"$IL_DIR/VERSION"
}

interlink_download() { (cd "$IL_DIR/wrap" && go mod tidy); }
# upstream's images stamp the release into the version the VK reports (set-version.sh)
IL_LDFLAGS="-X $INTERLINK_MODULE/pkg/virtualkubelet.KubeletVersion=$INTERLINK_VERSION"
interlink_build_api() {
  go_build "$IL_DIR/wrap" "$IL_DIR/bin/interlink" "$INTERLINK_MODULE/cmd/interlink" "$IL_LDFLAGS"
}
interlink_build_vk() {
  go_build "$IL_DIR/wrap" "$IL_DIR/bin/virtual-kubelet" "$INTERLINK_MODULE/cmd/virtual-kubelet" "$IL_LDFLAGS"
}
# the wrapper must select exactly the versions that interLink's own go.mod requires
interlink_check_versions() {
  local gomod m v w bad=0 n=0
  gomod=$(cd "$IL_DIR/wrap" && go list -m -f '{{.GoMod}}' "$INTERLINK_MODULE")
  (cd "$IL_DIR/wrap" && go list -m -f '{{.Path}} {{.Version}}' all) >"$IL_DIR/wrap/buildlist.txt"
  while read -r m v; do
    n=$((n + 1))
    w=$(awk -v m="$m" '$1 == m { print $2 }' "$IL_DIR/wrap/buildlist.txt")
    [ "$w" = "$v" ] || { say "version mismatch: $m interLink wants $v, wrapper has ${w:-none}"; bad=1; }
  done < <(awk '/^require[ \t]*\($/ { r = 1; next } r && /^\)/ { r = 0; next }
                r && NF >= 2 { print $1, $2 } /^require[ \t]+[^(]/ { print $2, $3 }' "$gomod")
  [ "$bad" = 0 ] && say "all $n modules that interLink's go.mod requires are at its versions"
  return "$bad"
}
interlink_check_clientgo() {
  local cg
  cg=$(cd "$IL_DIR/wrap" && go list -m -f '{{.Version}}' k8s.io/client-go)
  say "interLink's VK uses k8s.io/client-go $cg (kube-apiserver is built at $K8S_VERSION)"
  [ "${cg#v0.}" = "${K8S_VERSION#v1.}" ] || say "WARNING: client-go $cg does not match $K8S_VERSION"
}

build_interlink() {
  if interlink_done; then
    say "interlink: cached: $IL_DIR/bin/interlink $IL_DIR/bin/virtual-kubelet"
    return 0
  fi
  go_env
  say "GOPATH=$GOPATH GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE (module and build caches reused)"
  step "interlink: wrapper module" interlink_wrapper
  step "interlink: download modules" interlink_download
  step "interlink: versions = upstream go.mod" interlink_check_versions
  step "interlink: client-go version" interlink_check_clientgo
  step "interlink: build cmd/interlink" interlink_build_api
  step "interlink: build cmd/virtual-kubelet" interlink_build_vk
  ls -l "$IL_DIR/bin" >&2
}

# ---------------------------------------------------------------- Kubernetes
kube_done() { [ -x "$K8S_DIR/bin/kube-apiserver" ] && [ -x "$K8S_DIR/bin/kubectl" ]; }

kube_wrapper() {
  local wrap=$K8S_DIR/wrap gomod staging m
  mkdir -p "$wrap" "$K8S_DIR/bin"
  gomod=$(mod_gomod k8s.io/kubernetes "$K8S_VERSION")
  staging=$(gomod_replaces "$gomod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }')
  [ -n "$staging" ] || { say "no staging replaces in $gomod"; return 1; }
  {
    printf 'module ferry.local/upstream/kubernetes\n\ngo 1.24.0\n\n'
    printf 'require k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    for m in $staging; do printf 'replace %s => %s v0%s\n' "$m" "$m" "${K8S_VERSION#v1}"; done
  } >"$wrap/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' \
    >"$wrap/tools.go"
  touch "$wrap/go.sum"
  say "wrapper module $wrap/go.mod: require k8s.io/kubernetes $K8S_VERSION," \
    "$(printf '%s\n' "$staging" | wc -l) staging modules replaced by their v0${K8S_VERSION#v1}"
}
kube_download() { (cd "$K8S_DIR/wrap" && go mod tidy); }
# the version stamps of Kubernetes' own build (hack/lib/version.sh), from the proxy's .info
kube_ldflags() {
  local info commit date major minor x="" p
  info=$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.info
  commit=$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$info")
  date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  major=${K8S_VERSION#v} major=${major%%.*}
  minor=${K8S_VERSION#v*.} minor=${minor%%.*}
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    x="$x -X $p.gitVersion=$K8S_VERSION -X $p.gitCommit=$commit -X $p.gitTreeState=clean"
    x="$x -X $p.buildDate=$date -X $p.gitMajor=$major -X $p.gitMinor=$minor"
  done
  printf '%s\n' "$x"
}
kube_build_apiserver() {
  go_build "$K8S_DIR/wrap" "$K8S_DIR/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"
}
kube_build_kubectl() {
  go_build "$K8S_DIR/wrap" "$K8S_DIR/bin/kubectl" k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"
}

build_kube() {
  if kube_done; then
    say "kube: cached: $K8S_DIR/bin/kube-apiserver $K8S_DIR/bin/kubectl"
    return 0
  fi
  go_env
  say "GOPATH=$GOPATH GOMODCACHE=$GOMODCACHE GOCACHE=$GOCACHE (module and build caches reused)"
  step "kube: wrapper module" kube_wrapper
  step "kube: download modules" kube_download
  step "kube: build kube-apiserver (slow)" kube_build_apiserver
  step "kube: build kubectl" kube_build_kubectl
  ls -l "$K8S_DIR/bin" >&2
  "$K8S_DIR/bin/kube-apiserver" --version >&2
}

# ---------------------------------------------------------------- etcd
PIDS=()
cleanup_procs() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  [ -n "${SMOKE_TMP:-}" ] && rm -rf "$SMOKE_TMP"
  SMOKE_TMP=""
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# smoke_test ETCD: start ETCD and kube-apiserver on loopback, wait for /readyz = ok
smoke_test() {
  local etcd=$1 t=$SMOKE_TMP ep pp ap i ok=""
  ep=$(free_port) pp=$(free_port) ap=$(free_port)
  openssl genrsa -out "$t/sa.key" 2048 2>/dev/null
  openssl rsa -in "$t/sa.key" -pubout -out "$t/sa.pub" 2>/dev/null
  printf 'smoke-token,admin,admin,system:masters\n' >"$t/tokens.csv"
  local etcd_cmd=("$etcd" --name smoke --data-dir "$t/etcd"
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep"
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp"
    --initial-cluster "smoke=http://127.0.0.1:$pp")
  say "run: ${etcd_cmd[*]}"
  "${etcd_cmd[@]}" >"$t/etcd.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$ep/health" 2>/dev/null | grep -q '"health":"true"' && { ok=1; break; }
    sleep 0.2
  done
  [ -n "$ok" ] || { say "etcd did not become healthy"; tail -20 "$t/etcd.log" >&2; return 1; }
  say "etcd $(curl -fsS "http://127.0.0.1:$ep/version") healthy on 127.0.0.1:$ep"
  local api_cmd=("$K8S_DIR/bin/kube-apiserver"
    --etcd-servers "http://127.0.0.1:$ep"
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$ap"
    --cert-dir "$t/certs"
    --service-account-issuer https://kubernetes.default.svc
    --service-account-key-file "$t/sa.pub" --service-account-signing-key-file "$t/sa.key"
    --token-auth-file "$t/tokens.csv" --authorization-mode Node,RBAC
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none)
  say "run: ${api_cmd[*]}"
  "${api_cmd[@]}" >"$t/apiserver.log" 2>&1 &
  local apid=$!
  PIDS+=($apid)
  local kc=("$K8S_DIR/bin/kubectl" --server "https://127.0.0.1:$ap" --insecure-skip-tls-verify
    --token smoke-token)
  ok=""
  for i in $(seq 1 180); do
    kill -0 "$apid" 2>/dev/null || break
    if [ "$("${kc[@]}" get --raw /readyz 2>/dev/null)" = ok ]; then ok=1; break; fi
    sleep 1
  done
  if [ -z "$ok" ]; then
    say "kube-apiserver did not become ready with $etcd; last lines of its log:"
    tail -25 "$t/apiserver.log" >&2
    return 1
  fi
  say "${kc[*]} get --raw /readyz -> ok (after ~${i} s)"
  "${kc[@]}" get --raw '/readyz?verbose' | grep -E 'etcd|readyz check' >&2 || true
  "${kc[@]}" create namespace smoke >/dev/null && "${kc[@]}" get namespace smoke >&2
}

etcd_try() {
  SMOKE_TMP=$(mktemp -d /tmp/ferry-upstream-smoke.XXXXXX)
  local rc=0
  smoke_test "$1" || rc=$?
  cleanup_procs
  return "$rc"
}

etcd_install_debian() {
  command -v etcd >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { say "not root: run apt-get install -y $ETCD_DEBIAN_PKG"; return 1; }
  # never start services from package scripts
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$ETCD_DEBIAN_PKG" >&2 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$ETCD_DEBIAN_PKG" >&2; }
}

etcd_wrapper() {
  local wrap=$ETCD_BUILD_DIR/wrap gomod line
  mkdir -p "$wrap" "$ETCD_BUILD_DIR/bin"
  gomod=$(mod_gomod go.etcd.io/etcd/server/v3 "$ETCD_BUILD_VERSION")
  {
    printf 'module ferry.local/upstream/etcd\n\ngo 1.23\n\n'
    printf 'require go.etcd.io/etcd/server/v3 %s\n\n' "$ETCD_BUILD_VERSION"
    # server/v3 replaces its sibling modules with ../<dir>: use their published versions
    gomod_replaces "$gomod" | awk -v v="$ETCD_BUILD_VERSION" '$2 == "=>" && $3 ~ /^\.\.?\// { printf "replace %s => %s %s\n", $1, $1, v }'
  } >"$wrap/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$wrap/tools.go"
  touch "$wrap/go.sum"
  sed 's/^/    /' "$wrap/go.mod" >&2
}
etcd_download() { (cd "$ETCD_BUILD_DIR/wrap" && go mod tidy); }
etcd_build() { go_build "$ETCD_BUILD_DIR/wrap" "$ETCD_BUILD_DIR/bin/etcd" go.etcd.io/etcd/server/v3; }

build_etcd() {
  if [ -f "$ETCD_STAMP" ] && [ -x "$(cat "$ETCD_STAMP")" ]; then
    say "etcd: cached: $(cat "$ETCD_STAMP") (accepted by kube-apiserver $K8S_VERSION)"
    return 0
  fi
  kube_done || { say "etcd: needs kube-apiserver first (run: $0 kube)"; return 1; }
  step "etcd: install Debian $ETCD_DEBIAN_PKG" etcd_install_debian
  local deb
  deb=$(command -v etcd)
  if step "etcd: kube-apiserver $K8S_VERSION against $deb ($(dpkg-query -W -f='${Version}' "$ETCD_DEBIAN_PKG" 2>/dev/null))" etcd_try "$deb"; then
    printf '%s\n' "$deb" >"$ETCD_STAMP"
  else
    say "kube-apiserver $K8S_VERSION refuses Debian's etcd: building etcd $ETCD_BUILD_VERSION"
    if [ ! -x "$ETCD_BUILD_DIR/bin/etcd" ]; then
      go_env
      step "etcd: wrapper module" etcd_wrapper
      step "etcd: download modules" etcd_download
      step "etcd: build" etcd_build
    fi
    step "etcd: kube-apiserver $K8S_VERSION against etcd $ETCD_BUILD_VERSION" etcd_try "$ETCD_BUILD_DIR/bin/etcd"
    printf '%s\n' "$ETCD_BUILD_DIR/bin/etcd" >"$ETCD_STAMP"
  fi
  say "etcd: $(cat "$ETCD_STAMP")"
}

# ---------------------------------------------------------------- main
print_env() {
  local missing=0 etcd=""
  [ -f "$ETCD_STAMP" ] && etcd=$(cat "$ETCD_STAMP")
  printf 'FERRY_UPSTREAM_CACHE=%q\n' "$ROOT"
  printf 'INTERLINK_API=%q\n' "$IL_DIR/bin/interlink"
  printf 'INTERLINK_VK=%q\n' "$IL_DIR/bin/virtual-kubelet"
  printf 'KUBE_APISERVER=%q\n' "$K8S_DIR/bin/kube-apiserver"
  printf 'KUBECTL=%q\n' "$K8S_DIR/bin/kubectl"
  printf 'ETCD=%q\n' "$etcd"
  for f in "$IL_DIR/bin/interlink" "$IL_DIR/bin/virtual-kubelet" "$K8S_DIR/bin/kube-apiserver" \
    "$K8S_DIR/bin/kubectl" "$etcd"; do
    [ -n "$f" ] && [ -x "$f" ] || { say "--print-env: not built yet: ${f:-etcd}"; missing=1; }
  done
  return "$missing"
}

what=${1:-all}
case "$what" in
  --print-env) print_env; exit $? ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  interlink | kube | etcd | all) ;;
  *) say "usage: $0 [interlink|kube|etcd|all] | --print-env"; exit 2 ;;
esac
T0=$(now)
mkdir -p "$ROOT"
case "$what" in
  interlink) build_interlink ;;
  kube) build_kube; build_etcd ;;
  etcd) build_etcd ;;
  all) build_interlink; build_kube; build_etcd ;;
esac
say "all done in $(secs "$T0") s; binaries:"
print_env | sed 's/^/    /' >&2 || true
