#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build, the lab and the tests need, when
# missing.  Idempotent and quiet when everything is there.
#   deps.sh            what make check needs
#   deps.sh PKG...     those packages (scripts/matrix, scripts/debug-kernel;
#                      "deps.sh chromium": make report-test's browser)
set -euo pipefail
pkgs=(
	make gcc libc6-dev kmod cpio xz-utils zstd
	linux-headers-amd64
	linux-source-6.1
	qemu-system-x86 busybox-static
	dkms
	libaio-dev
	clang-14 libclang-rt-14-dev
	trace-cmd libtracecmd-dev libtraceevent-dev libtracefs-dev
	python3 valgrind
)
(($#)) && pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
	case $p in \#*) continue ;; esac
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# the package lists may be fresh enough: update only when that fails
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
