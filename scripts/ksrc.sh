#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Extract the few kernel source files the project uses at build time
# (kselftest headers, checkpatch) from Debian's linux-source-6.1 tarball.
# Usage: scripts/ksrc.sh DESTDIR   -> prints DESTDIR when it is ready
set -euo pipefail
dest=${1:?usage: ksrc.sh DESTDIR}
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
files=(tools/testing/selftests/kselftest.h
       tools/testing/selftests/kselftest_harness.h
       scripts/checkpatch.pl scripts/spelling.txt
       scripts/const_structs.checkpatch)
if [ -f "$dest/.done" ]; then
	echo "$dest"
	exit 0
fi
if [ -z "$tarball" ]; then
	echo "ksrc.sh: /usr/src/linux-source-6.1.tar.xz missing: apt-get install linux-source-6.1" >&2
	exit 1
fi
mkdir -p "$dest"
tar -xJf "$tarball" -C "$dest" --strip-components=1 \
	"${files[@]/#/linux-source-6.1/}"
touch "$dest/.done"
echo "$dest"
