# SPDX-License-Identifier: MIT
# Sourced by the upstream tests: `upstream_need interlink|kube` builds what is missing with
# scripts/build-upstream.sh (cached by version; the first build takes minutes) and sets the
# variables of `build-upstream.sh --print-env` (INTERLINK_API, INTERLINK_VK, KUBE_APISERVER,
# KUBECTL, ETCD). Exits 77 (skipped) where the Go toolchain is missing, or where the module
# proxy does not serve the program (build-upstream.sh exits 3: today interLink, whose module
# the proxy refuses), naming the reason; any other failed build fails the test with its log.
upstream_need() {
  local root log
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  export PATH=$PATH:/usr/local/go/bin
  command -v go >/dev/null || { echo "SKIP: the Go toolchain is missing (it builds the upstream programs)"; exit 77; }
  log=$(mktemp /tmp/ferry-build-upstream.XXXXXX)
  bash "$root/scripts/build-upstream.sh" "$1" >"$log" 2>&1
  case $? in
    0) ;;
    3) echo "SKIP: $1 is not available from this machine's registries:"
       grep -E 'refuses|cannot be built|server response' "$log" | head -n 4
       rm -f "$log"; exit 77 ;;
    *) echo "FAIL: scripts/build-upstream.sh $1:"; tail -n 30 "$log"; rm -f "$log"; exit 1 ;;
  esac
  rm -f "$log"
  eval "$(bash "$root/scripts/build-upstream.sh" --print-env 2>/dev/null)"
}
