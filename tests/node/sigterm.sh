#!/bin/bash
# sigterm.sh FERRY_NODE
# ferry-node stops on SIGTERM while it is still retrying to register its Node
# (the API server is not there): within a few seconds, with exit status 0. A
# service manager's stop must not hang on a node that cannot reach its API.
set -u
fnode=$1
dir=$(mktemp -d /tmp/ferry-node-sigterm.XXXXXX)
trap 'kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "http://127.0.0.1:1"}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: u}
current-context: nowhere
users:
- name: u
  user: {token: not-used}
KC
"$fnode" --node-name sigterm --kubeconfig "$dir/kubeconfig" --ferryd-url "unix://$dir/none.sock" \
  --kubelet-port 0 >"$dir/node.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  grep -q 'registering node sigterm: .*(retrying)' "$dir/node.log" && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: ferry-node exited before retrying:"; cat "$dir/node.log"; exit 1; }
  sleep 0.05
done
grep -q '(retrying)' "$dir/node.log" || { echo "FAIL: ferry-node never said it retries:"; cat "$dir/node.log"; exit 1; }
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: ferry-node still runs 5 s after SIGTERM while registering"; tail -n 5 "$dir/node.log"; exit 1
fi
wait "$pid"; rc=$?
[ "$rc" = 0 ] || { echo "FAIL: ferry-node exited with $rc after SIGTERM:"; tail -n 5 "$dir/node.log"; exit 1; }
echo "ok - ferry-node stops on SIGTERM while registering (exit 0)"
