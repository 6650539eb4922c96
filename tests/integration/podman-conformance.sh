#!/bin/bash
# podman-conformance.sh FERRYD CONFORMANCE CASES_DIR
# The conformance cases through ferryd's API on the local backend with the podman
# runtime, using a busybox image imported from the host's busybox (no registry
# here). Exit 77 (skipped) when podman cannot run it on this machine.
set -u
ferryd=$1; runner=$2; cases=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/runtime.sh"
IMG=$(podman_busybox_image) || exit $?
# podman on a cgroup v1 host does not see its containers' OOM kills (doc/local-backend.md "Limits")
[ "$(podman info --format '{{.Host.CgroupsVersion}}')" = v1 ] && export CONFORMANCE_SKIP_REASONS=OOMKilled
exec "$here/with-ferryd.sh" "$ferryd" --backend local --runtime podman --backend-opt "podman_image=$IMG" \
  --poll-interval-ms 200 -- "$runner" env "$cases"
