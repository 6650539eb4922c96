#!/bin/bash
# SPDX-License-Identifier: MIT
# make-deb.sh: build the binary Debian package of Ferry (ferryd, ferry, ferry-node, ferry-shim,
# systemd units, man pages, bash completion, /etc/ferry/ferryd.yaml as a conffile) from a
# `meson install` into a staging tree, with dpkg-deb. No debhelper: the maintainer scripts are
# packaging/deb/{postinst,prerm,postrm}; Depends comes from dpkg-shlibdeps.
#   scripts/make-deb.sh            -> build-deb/ferry_VERSION_ARCH.deb (its path is the last line)
# Environment: DEB_BUILD (build dir, default build-deb), DEB_REVISION (default 1).
# Needs: the build dependencies (scripts/install-deps.sh), scdoc, dpkg-dev (dpkg-shlibdeps).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
B=${DEB_BUILD:-build-deb}
rev=${DEB_REVISION:-1}
die() { echo "make-deb: $*" >&2; exit 1; }
for t in meson ninja dpkg-deb dpkg-shlibdeps scdoc; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/install-deps.sh installs it)"
done

# 1. build for /usr, units in Debian's /lib/systemd/system, no test suite
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" --prefix=/usr --sysconfdir=/etc --localstatedir=/var --buildtype=release \
    -Dtests=false -Dman=enabled -Dsystemd_unit_dir=/lib/systemd/system >"$B.setup.log" 2>&1 ||
    { cat "$B.setup.log"; die "meson setup failed"; }
  rm -f "$B.setup.log"
fi
ninja -C "$B"
version=$(meson introspect --projectinfo "$B" | sed -nE 's/.*"version": *"([^"]+)".*/\1/p')
[ -n "$version" ] || die "no version from meson introspect"
arch=$(dpkg --print-architecture)

# 2. stage: meson install, then what only the package has
stage=$B/deb-root
rm -rf "$stage"
DESTDIR=$src/$stage meson install -C "$B" --no-rebuild --strip --quiet
install -D -m 0644 deploy/etc/ferryd.yaml "$stage/etc/ferry/ferryd.yaml"
doc=$stage/usr/share/doc/ferry
install -d "$doc"
cat >"$doc/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferry

Files: *
Copyright: the Ferry authors
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files (the "Software"), to deal in the Software without
 restriction, including without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
COPYRIGHT
{
  echo "ferry ($version-$rev) unstable; urgency=medium"
  echo
  echo "  * Built from $(git -C "$src" describe --always --dirty 2>/dev/null || echo 'a source tree')."
  echo
  echo " -- Ferry maintainers <ferry@localhost.invalid>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n >"$doc/changelog.Debian.gz"
# Debian keeps man pages compressed
find "$stage/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +
for p in usr/bin/ferryd usr/bin/ferry usr/bin/ferry-node usr/libexec/ferry/ferry-shim \
  lib/systemd/system/ferryd.service lib/systemd/system/ferry-node.service \
  usr/share/man/man8/ferryd.8.gz usr/share/man/man1/ferry.1.gz usr/share/man/man8/ferry-node.8.gz \
  usr/share/bash-completion/completions/ferry usr/share/ferry/demo.sh; do
  [ -e "$stage/$p" ] || die "$p is not in the staging tree (meson install did not put it there)"
done

# 3. control: Depends from the binaries' shared libraries
install -d -m 0755 "$stage/DEBIAN"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debian"
printf 'Source: ferry\n\nPackage: ferry\nArchitecture: any\n' >"$tmp/debian/control"
bins=()
while IFS= read -r -d '' f; do
  if head -c 4 "$f" | grep -q ELF; then bins+=("$src/$f"); fi
done < <(find "$stage/usr" -type f -perm -u+x -print0)
depends=$(cd "$tmp" && dpkg-shlibdeps -O "${bins[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: ferry
Version: $version-$rev
Architecture: $arch
Maintainer: Ferry maintainers <ferry@localhost.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: bubblewrap
Suggests: podman, slurm-client
Section: admin
Priority: optional
Description: offload Kubernetes pods to Slurm, Podman and bubblewrap sites
 Ferry speaks the interLink API. ferryd is the site daemon: durable SQLite
 state, backends for local pods (bubblewrap, podman, host processes) and
 Slurm jobs, namespace-bound tokens, TLS, Prometheus metrics. ferry is the
 command line (run pods, follow logs, plan MIG layouts). ferry-node is a
 virtual kubelet that offloads a Kubernetes node's pods to a site.
CONTROL
echo /etc/ferry/ferryd.yaml >"$stage/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"

# 4. modes as dpkg-deb expects them, then the package
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f ! -perm -u+x -exec chmod 0644 {} +
find "$stage" -type f -perm -u+x -exec chmod 0755 {} +
deb=$B/ferry_${version}-${rev}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "make-deb: $(dpkg-deb -f "$deb" Package Version Depends | tr '\n' ' ')"
echo "$deb"
