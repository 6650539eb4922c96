# SPDX-License-Identifier: MIT
# Sourced by the tests and benches that run interLink's own programs (binaries from
# scripts/build-upstream.sh: INTERLINK_API, INTERLINK_VK; tests/lib/watch.sh for watch_alive).
#   interlink_api_start DIR PLUGIN_SOCKET   its API server on DIR/il.sock, with the plugin (ferryd's
#                                           plugin_listen) at PLUGIN_SOCKET; sets IL_PID
#   interlink_vk_start DIR NODE URL KUBECONFIG KUBELET_PORT
#                                           its Virtual Kubelet for node NODE calling the interLink
#                                           API at URL (unix://...), with a self-signed kubelet
#                                           certificate (no controller-manager signs CSRs); sets VK_PID
# Both return non-zero, with the log tail, when the program does not come up.
interlink_api_start() {
  local d=$1
  # upstream reads its config only from INTERLINKCONFIGPATH or /etc/interlink: its main() parses
  # the command line before the config's own flags exist (doc/interlink.md)
  cat >"$d/il.yaml" <<YAML
InterlinkAddress: "unix://$d/il.sock"
InterlinkPort: "0"
SidecarURL: "unix://$2"
SidecarPort: "0"
VerboseLogging: ${IL_VERBOSE:-false}
ErrorsOnlyLogging: false
DataRootFolder: "$d/il-data/"
YAML
  INTERLINKCONFIGPATH="$d/il.yaml" "$INTERLINK_API" >"$d/il.log" 2>&1 &
  IL_PID=$!
  for _ in $(seq 100); do { [ -S "$d/il.sock" ] || ! watch_alive $IL_PID; } && break; sleep 0.05; done
  [ -S "$d/il.sock" ] || { echo "interLink's API server did not start:"; tail -n 20 "$d/il.log"; return 1; }
}

interlink_vk_start() {
  local d=$1 node=$2 url=$3 kubeconfig=$4 port=$5
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/vk.key" -out "$d/vk.crt" -days 2 \
    -subj "/CN=$node" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null || return 1
  cat >"$d/vk.yaml" <<YAML
InterlinkURL: "$url"
InterlinkPort: "0"
VerboseLogging: ${VK_VERBOSE:-false}
ErrorsOnlyLogging: false
ServiceAccount: "default"
Namespace: "default"
HTTP: {Insecure: true}
KubeletHTTP: {Insecure: true}
KubeletCertFile: "$d/vk.crt"
KubeletKeyFile: "$d/vk.key"
DisableCSR: true
Resources: {CPU: "2000", Memory: "4000Gi", Pods: "10000"}
YAML
  NODENAME=$node KUBECONFIG=$kubeconfig CONFIGPATH=$d/vk.yaml KUBELET_URL=127.0.0.1 \
    KUBELET_PORT=$port POD_IP=127.0.0.1 "$INTERLINK_VK" >"$d/vk.log" 2>&1 &
  VK_PID=$!
  local ready=
  for _ in $(seq 300); do
    watch_alive $VK_PID || break
    ready=$("$KUBECTL" --kubeconfig "$kubeconfig" get node "$node" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
    [ "$ready" = True ] && return 0
    sleep 0.1
  done
  echo "interLink's VK did not register node $node (Ready: '$ready'):"; tail -n 20 "$d/vk.log"
  return 1
}
