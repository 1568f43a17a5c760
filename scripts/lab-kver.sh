#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel version the lab boots by default: the one whose headers
# Debian's linux-headers-amd64 points to (so the module built against them
# loads there).
set -euo pipefail
dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null || true)
ver=$(sed -n 's/.*linux-headers-\([0-9][^ ,]*-amd64\).*/\1/p' <<<"$dep")
if [ -z "$ver" ] || [ ! -d "/lib/modules/$ver/build" ]; then
	echo "lab-kver: no linux-headers-amd64: run scripts/deps.sh" >&2
	exit 1
fi
echo "$ver"
