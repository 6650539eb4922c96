# SPDX-License-Identifier: MIT
# Sourced by test scripts that start ferryd: `need_runtime ARGS...` looks for
# "--runtime NAME" in ferryd's arguments and exits 77 (skipped, with the
# reason) when that runtime cannot run here. The check is made when the test
# runs, not when meson configures, so a test never vanishes from the list.
need_runtime() {
  local rt=""
  while [ $# -gt 0 ]; do
    if [ "$1" = --runtime ] && [ $# -gt 1 ]; then rt=$2; fi
    shift
  done
  case $rt in
    bwrap)
      command -v bwrap >/dev/null || { echo "SKIP: bwrap is not installed (scripts/install-deps.sh installs it)"; exit 77; }
      bwrap --ro-bind / / --unshare-all --die-with-parent true 2>/dev/null ||
        { echo "SKIP: bwrap cannot create namespaces here: $(bwrap --ro-bind / / --unshare-all true 2>&1 | head -n 1)"; exit 77; } ;;
    podman)
      command -v podman >/dev/null || { echo "SKIP: podman is not installed"; exit 77; } ;;
  esac
  return 0
}

# podman_busybox_image: print the name of a busybox image imported from the
# host's busybox (no registry here), importing it once; exit 77 (skipped) when
# podman cannot run it on this machine.
podman_busybox_image() {
  local img=localhost/ferry-busybox:test d a
  command -v podman >/dev/null || { echo "podman not installed: skipped" >&2; exit 77; }
  if ! podman image exists "$img" 2>/dev/null; then
    d=$(mktemp -d /tmp/ferry-bb.XXXXXX)
    mkdir -p "$d/rootfs/bin" "$d/rootfs"/{proc,sys,dev,tmp,etc}
    cp /bin/busybox "$d/rootfs/bin/busybox" || { rm -rf "$d"; echo "no /bin/busybox: skipped" >&2; exit 77; }
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/rootfs/bin/$a"; done
    tar -C "$d/rootfs" -cf "$d/rootfs.tar" . && podman import -q "$d/rootfs.tar" "$img" >/dev/null
    rm -rf "$d"
  fi
  timeout 60 podman run --rm --network none --pull=never "$img" true >/dev/null 2>&1 ||
    { echo "podman cannot run containers here (see scripts/podman-setup.sh): skipped" >&2; exit 77; }
  echo "$img"
}
