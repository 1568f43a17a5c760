#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# DKMS round trip against installed headers: add, build, install, check
# modinfo, remove.  Uses a copy of the sources, as a package would: the
# tracked and not-ignored files of the git tree, or, outside git (the
# matrix's chroots get such a copy), every file here but build products.
# Usage: scripts/dkms-test.sh KVER
#   DKMS_KEEP_KO=FILE  keep a copy of the module DKMS built and installed
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
if command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src"
else
	find . \( -name .git -o -name build -o -name .cache \) -prune -o -type f \
		! -name '*.o' ! -name '*.ko' ! -name '*.cmd' ! -name '*.mod*' ! -name '*.d' \
		-print0 | xargs -0 cp --parents -t "$src"
fi
dkms add "$name/$ver"
dkms build "$name/$ver" -k "$kver"
dkms install "$name/$ver" -k "$kver" --force
# (grep without -q: under pipefail an early exit could SIGPIPE the writer)
modinfo -k "$kver" -F version "$name" | grep -x "$ver" >/dev/null
dkms status "$name/$ver" -k "$kver" | grep installed >/dev/null
if [ -n "${DKMS_KEEP_KO:-}" ]; then
	mkdir -p "$(dirname "$DKMS_KEEP_KO")"
	cp "$(modinfo -k "$kver" -n "$name")" "$DKMS_KEEP_KO"
fi
dkms remove "$name/$ver" --all
[ -z "$(dkms status "$name" 2>/dev/null)" ]
! modinfo -k "$kver" "$name" >/dev/null 2>&1
echo "dkms: add/build/install/remove of $name/$ver for $kver ok ($(dkms --version 2>/dev/null | head -n 1))"
