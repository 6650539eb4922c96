#!/bin/sh
# Make rootful podman work on these machines (cgroup v1 hybrid, no CAP_SYS_RESOURCE):
# move the controllers still offered by the cgroup2 mount to v1 mounts (crun refuses
# hybrid mode otherwise) and lower podman's default rlimits. Idempotent; root only.
# Used by .ci/run before the tests so the podman conformance test runs instead of skipping.
set -eu
[ "$(id -u)" = 0 ] || { echo "podman-setup: needs root" >&2; exit 1; }
command -v podman >/dev/null || { echo "podman-setup: podman is not installed" >&2; exit 1; }
for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null); do
  mountpoint -q "/sys/fs/cgroup/$c" || { mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; }
done
mkdir -p /etc/containers
if ! grep -q default_ulimits /etc/containers/containers.conf 2>/dev/null; then
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
# root lacks CAP_SYS_RESOURCE and the hard nofile limit is 20000: podman's default rlimits can't be set
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi
echo "podman-setup: done"
