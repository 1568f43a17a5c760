#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# canary.sh - do the debug kernel's detectors and the lab catch real bugs?
# (make debug-kernel-canary)  One lab boot of the debug kernel loads
# scripts/debug-kernel/canary/kvl_canary.ko four times, each committing one
# bug on purpose: a KASAN out-of-bounds read, a lockdep ABBA, might_sleep()
# under a spinlock, a lost kmalloc() buffer (then two kmemleak scans).
# Passes only if the lab run fails with 122 (a problem in the kernel log),
# and each report is in the log and is, alone, a problem for
# `lab.sh check-log`.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=build/debug-kernel/canary
lab=selftests/lab/lab.sh

fail() { echo "canary: FAILED: $*"; exit 1; }

info=$(scripts/debug-kernel/build.sh) || fail "kernel build"
release=$(sed -n 's/^release=//p' <<<"$info")
kdir=$(sed -n 's/^kdir=//p' <<<"$info")
append=${DEBUG_KERNEL_APPEND-$(sed -n 's/^append=//p' <<<"$info")}
rm -rf "$out"
mkdir -p "$out/src"
cp scripts/debug-kernel/canary/Kbuild scripts/debug-kernel/canary/kvl_canary.c "$out/src/"
make -s -C "$kdir" M="$PWD/$out/src" modules >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log"; fail "kvl_canary.ko does not build"; }

# In the guest: each bug in turn, KASAN's last (its report taints the
# kernel in a way that turns lockdep off); kmemleak reports what it finds once the
# buffer has been unreferenced for 5 s and unchanged over two scans.
# shellcheck disable=SC2016 # expanded by the guest's bash
guest='set -x
ko=$1/src/kvl_canary.ko
for b in lockdep sleep leak kasan; do
	insmod "$ko" bug=$b && rmmod kvl_canary
done
sleep 6
echo scan >/sys/kernel/debug/kmemleak
echo scan >/sys/kernel/debug/kmemleak
grep -c "^unreferenced object" /sys/kernel/debug/kmemleak'
LAB_APPEND="${LAB_APPEND:+$LAB_APPEND }$append" \
	"$lab" run --kernel "$release" --timeout 600 --log "$out/dmesg.log" -- \
	bash -c "$guest" canary "$out" >"$out/lab.log" 2>&1
rc=$?
cat "$out/lab.log"
echo "canary: lab exit status $rc (122 wanted: the kernel log shows problems)"
bad=0
((rc == 122)) || bad=1
for want in 'BUG: KASAN: slab-out-of-bounds in kvl_canary' \
	'WARNING: possible circular locking dependency detected' \
	'BUG: sleeping function called from invalid context' \
	'kmemleak: [0-9]+ new suspected memory leaks'; do
	line=$(grep -m1 -E -- "$want" "$out/dmesg.log")
	if [[ -z $line ]]; then
		echo "not caught: no '$want' in $out/dmesg.log"
		bad=1
	elif printf '%s\n' "$line" >"$out/line.log" && "$lab" check-log "$out/line.log" >/dev/null 2>&1; then
		echo "not caught: lab.sh check-log accepts '$line'"
		bad=1
	else
		echo "caught: $line"
	fi
done
((bad == 0)) || fail "a detector or the lab's log scan missed a bug (see above)"
echo "canary: ok: KASAN, lockdep, DEBUG_ATOMIC_SLEEP and kmemleak each reported, and the lab failed the run"
