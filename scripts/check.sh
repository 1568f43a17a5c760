#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything a change must pass, on a fresh machine.
#
#   deps -> build (module for the lab kernel, reader, lab programs)
#   -> checkpatch -> host unit tests (ASan/UBSan) -> lab selftests in a
#   real kernel with real KVM -> DKMS round trip
#
# Every step runs even when an earlier one failed (when it can), and the
# last line says "N passed, N failed".  Exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
logdir=build/check
mkdir -p "$logdir"

step() {
	local name=$1
	shift
	local t0=$SECONDS
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "--- $name: ok ($((SECONDS - t0)) s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "--- $name: FAILED ($((SECONDS - t0)) s)"
	fi
}

scripts/deps.sh || { echo "check: cannot install dependencies" >&2; exit 1; }
KVER=$(scripts/lab-kver.sh) || exit 1
KDIR=/lib/modules/$KVER/build
export KVER KDIR

build() {
	make -s ksrc &&
	make -s module KDIR="$KDIR" &&
	make -s reader selftests
}

lab_selftests() {
	selftests/lab/lab.sh run --kernel "$KVER" --log "$logdir/dmesg-selftests.log" -- \
		build/kvmio_lat_test --module module/kvmio_lat.ko --vmm build/kvmio-vmm \
		--vcpus 4 --exits 2000
}

dkms_round_trip() {
	scripts/dkms-test.sh "$KVER"
}

step build build
step checkpatch scripts/checkpatch.sh
step unit make -s unit
step lab-selftests lab_selftests
step dkms dkms_round_trip

echo
if [ "$failed" -ne 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
