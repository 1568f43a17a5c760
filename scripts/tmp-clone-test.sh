#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A fresh clone in /tmp is the first thing many people make, and the lab's
# guest covers /tmp with a tmpfs of its own: lab.sh shares such a checkout
# on its own.  Clone HEAD under /tmp, let the clone's lab build its own
# cache there (kernel, initramfs, run directory), boot it, and check the
# guest runs in the checkout, reads it and cannot write it.
# Usage: scripts/tmp-clone-test.sh [KERNEL-VERSION]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
kver=${1:-$(scripts/lab-kver.sh)}
tmp=$(mktemp -d /tmp/kvmio-lat-clone.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"
echo "1..2"
if ! git clone -q --no-hardlinks "file://$PWD" "$tmp/src"; then
	echo "not ok 1 - git clone into $tmp"
	exit 1
fi
cd "$tmp/src" || exit 1
# shellcheck disable=SC2016 # expanded in the guest
out=$(selftests/lab/lab.sh run --kernel "$kver" --timeout 120 -- \
	sh -c 'echo "cwd=$(pwd -P)"; test -r README.md && echo readable;
	       test -d .cache/lab/kernels && echo cache-seen;
	       touch written 2>/dev/null || echo read-only' 2>&1)
rc=$?
if ((rc == 0)) && grep -qx "cwd=$tmp/src" <<<"$out" && grep -qx readable <<<"$out" &&
	grep -qx cache-seen <<<"$out"; then
	echo "ok 1 - the lab runs in a checkout under /tmp, with its cache there"
else
	echo "not ok 1 - the lab in a checkout under /tmp (exit $rc)"
	tail -n 8 <<<"$out" | sed 's/^/# /'
	exit 1
fi
if grep -qx read-only <<<"$out" && [[ ! -e written ]]; then
	echo "ok 2 - the checkout is read-only in the guest, as the machine's root is"
else
	echo "not ok 2 - the guest could write the checkout"
	exit 1
fi
