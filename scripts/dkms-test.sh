#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# DKMS round trip against installed headers: add, build, install, check
# modinfo, remove.  Uses a copy of the tracked sources, as a package would.
# Usage: scripts/dkms-test.sh KVER
set -euo pipefail
cd "$(dirname "$0")/.."
kver=${1:?usage: dkms-test.sh KVER}
name=kvmio_lat
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
src=/usr/src/$name-$ver

cleanup() {
	dkms remove "$name/$ver" --all >/dev/null 2>&1 || true
	rm -rf "$src"
}
trap cleanup EXIT
cleanup
mkdir -p "$src"
# the working tree's tracked files (what a release tarball would hold)
git ls-files -z | xargs -0 cp --parents -t "$src"
dkms add "$name/$ver"
dkms build "$name/$ver" -k "$kver"
dkms install "$name/$ver" -k "$kver" --force
modinfo -k "$kver" -F version "$name" | grep -qx "$ver"
dkms status "$name/$ver" -k "$kver" | grep -q installed
dkms remove "$name/$ver" --all
[ -z "$(dkms status "$name" 2>/dev/null)" ]
echo "dkms: add/build/install/remove of $name/$ver for $kver ok"
