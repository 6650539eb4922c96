#!/bin/sh
# Install what Ferry needs to build, test and run on Debian 12.
# As root it runs apt-get; otherwise it prints the exact command to run.
#   scripts/install-deps.sh          build + run + test dependencies
#   FERRY_DEPS=build scripts/install-deps.sh   only what building needs (scdoc: the man pages)
set -eu
BUILD="build-essential meson ninja-build pkg-config libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev \
libjansson-dev libyaml-dev libsqlite3-dev scdoc"
RUN="bubblewrap curl"
# systemd: only for systemd-analyze, which checks the units (nothing is started; policy-rc.d)
TEST="libcmocka-dev clang-format openssl prometheus sqlite3 clang libclang-rt-14-dev busybox-static procps slurm-wlm munge libslurm-dev systemd"
BENCH="wrk nginx-light"
PACKAGE="dpkg-dev debootstrap"   # make deb (dpkg-shlibdeps), make deb-check
case "${FERRY_DEPS:-all}" in
  build) PKGS="$BUILD" ;;
  run) PKGS="$BUILD $RUN" ;;
  *) PKGS="$BUILD $RUN $TEST $BENCH $PACKAGE" ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: everything is installed"; exit 0; }
if [ "$(id -u)" = 0 ]; then
  # never start services from package scripts on machines without systemd
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
else
  echo "install-deps: missing packages:$missing" >&2
  echo "install-deps: run as root:  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
