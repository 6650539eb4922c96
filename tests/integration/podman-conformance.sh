#!/bin/bash
# podman-conformance.sh FERRYD CONFORMANCE CASES_DIR
# The conformance cases through ferryd's API on the local backend with the podman
# runtime, using a busybox image imported from the host's busybox (no registry
# here). Exit 77 (skipped) when podman cannot run it on this machine.
set -u
ferryd=$1; runner=$2; cases=$3
here=$(cd "$(dirname "$0")" && pwd)
IMG=localhost/ferry-busybox:test
command -v podman >/dev/null || { echo "podman not installed: skipped"; exit 77; }
if ! podman image exists "$IMG" 2>/dev/null; then
  d=$(mktemp -d /tmp/ferry-bb.XXXXXX)
  mkdir -p "$d/rootfs/bin" "$d/rootfs"/{proc,sys,dev,tmp,etc}
  cp /bin/busybox "$d/rootfs/bin/busybox" || { rm -rf "$d"; echo "no /bin/busybox: skipped"; exit 77; }
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/rootfs/bin/$a"; done
  tar -C "$d/rootfs" -cf "$d/rootfs.tar" . && podman import -q "$d/rootfs.tar" "$IMG" >/dev/null
  rm -rf "$d"
fi
timeout 60 podman run --rm --network none --pull=never "$IMG" true >/dev/null 2>&1 \
  || { echo "podman cannot run containers here (see scripts/podman-setup.sh): skipped"; exit 77; }
exec "$here/with-ferryd.sh" "$ferryd" --backend local --runtime podman --backend-opt "podman_image=$IMG" \
  --poll-interval-ms 200 -- "$runner" env "$cases"
