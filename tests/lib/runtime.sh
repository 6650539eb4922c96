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
