#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh - every in-lab test of kvmio_lat on the debug kernel (KASAN,
# lockdep, kmemleak, DEBUG_ATOMIC_SLEEP), run inside the lab guest booted on
# it by scripts/debug-kernel/check.sh:
#   1. this is the debug kernel and its detectors are armed
#   2. a first kmemleak scan: what boot left behind (must be nothing)
#   3. the module selftests (build/kvmio_lat_test)
#   4. the I/O path tests (selftests/io_test.py)
#   5. real QEMU, aio=native, aio=threads and aio=io_uring (selftests/qemu/qemu_test.sh)
#   6. the hardening tests but lockdown (selftests/hardening/run.sh)
#   7. kvmio_lat unloaded, two kmemleak scans: no suspected leak at all
#   8. lockdep and kmemleak still armed (a report turns lockdep off)
#   9. the hardening lockdown test, last: lockdown cannot be undone and
#      closes debugfs (kmemleak included)
# KASAN, lockdep, "sleeping function called from invalid context" and
# kmemleak reports all reach the kernel log, which lab.sh scans after the
# run: any of them fails it (exit 122) even when every test here passed.
#
#   guest.sh MODULE.ko
#
# Environment: DK_INNER_KVER (the kernel real QEMU's inner guest boots,
# default this one), DK_IO_REQUESTS (default 40), DK_QEMU_IOS ("READS,WRITES"
# or "READS WRITES", default "2000 500"), DK_HARDENING_ARGS (extra arguments,
# default "--exits 500": a nested exit costs many times more under KASAN and
# lockdep, and the readers test's 4 x 5 x 2000 exits did not finish in its
# 300 s while its readers ran).
set -uo pipefail
ko=${1:?usage: guest.sh MODULE.ko}
km=/sys/kernel/debug/kmemleak
out=${LAB_OUT:-/tmp}
# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/../../selftests/lib/tap.sh"

# run NAME TIMEOUT CMD...: a test program, its output indented as comments
# (line-buffered: the tests fork, and a full stdio buffer would be copied).
run() {
	local name=$1 secs=$2
	shift 2
	timeout -k 10 "$secs" stdbuf -oL "$@" 2>&1 | sed -u "s/^/# $name: /"
	local rc=${PIPESTATUS[0]}
	[ "$rc" = 124 ] && echo "# $name: killed after $secs s"
	return "$rc"
}

# kmemleak_scan: scan twice (an object is reported only once its contents
# stayed the same from one scan to the next), then list what kmemleak suspects.
kmemleak_scan() {
	echo scan >"$km" && echo scan >"$km" && cat "$km"
}

echo "# debug kernel $(uname -r), $(nproc) CPUs, $(uname -v)"

# ---- 1. the detectors
cfg=$(zcat /proc/config.gz 2>/dev/null)
missing=
# (KPROBES_ON_FTRACE: the module's default system-call hooks, tested here)
for c in KASAN PROVE_LOCKING DEBUG_KMEMLEAK DEBUG_ATOMIC_SLEEP KPROBES_ON_FTRACE; do
	grep -qx "CONFIG_$c=y" <<<"$cfg" || missing="$missing $c"
done
# (grep reads a copy: 'dmesg | grep -q' under pipefail fails whenever grep
# stops early and dmesg dies of SIGPIPE, as it did in two runs)
log=$(dmesg)
grep -q 'KernelAddressSanitizer initialized' <<<"$log" || missing="$missing KASAN(not-initialized)"
[ -w "$km" ] || missing="$missing kmemleak(no-$km)"
grep -Eq '^ *debug_locks: +1$' /proc/lockdep_stats 2>/dev/null || missing="$missing lockdep(debug_locks-not-1)"
result "$([ -z "$missing" ] && echo 0 || echo 1)" \
	"debug kernel armed: KASAN, PROVE_LOCKING, DEBUG_KMEMLEAK, DEBUG_ATOMIC_SLEEP; kprobes on ftrace${missing:+ (missing:$missing)}"

# ---- 2. what boot left behind
leaks=$(kmemleak_scan)
rc=$?
if [ -n "$leaks" ]; then
	printf '%s\n' "$leaks" | head -n 60 | sed 's/^/# boot: /'
	echo clear >"$km"
fi
result "$([ "$rc" = 0 ] && [ -z "$leaks" ] && echo 0 || echo 1)" \
	"kmemleak after boot, before any test: $(grep -c '^unreferenced object' <<<"$leaks") suspected leaks"

# The inner guest of the real-QEMU tests boots DK_INNER_KVER (the module
# under test is in this kernel either way; a stock kernel boots faster).
inner_env=()
if [ -n "${DK_INNER_KVER:-}" ] && [ "$DK_INNER_KVER" != "$(uname -r)" ]; then
	inner_dir=$(dirname "$LAB_KERNEL_DIR")/$DK_INNER_KVER
	if [ -r "$inner_dir/vmlinuz" ]; then
		inner_env=(LAB_KVER="$DK_INNER_KVER" LAB_VMLINUZ="$(readlink -f "$inner_dir/vmlinuz")")
		echo "# inner guest kernel: $DK_INNER_KVER"
	else
		echo "# inner guest kernel: $DK_INNER_KVER is not in the lab cache, booting this one"
	fi
fi

# ---- 3-5. the lab tests make check runs on the stock kernel
run selftests 900 build/kvmio_lat_test --module "$ko" --vmm build/kvmio-vmm --vcpus 4 --exits 2000
result $? "module selftests (build/kvmio_lat_test)"

run io 1200 selftests/io_test.py --module "$ko" --vmm build/kvmio-vmm \
	--reader build/kvmio-lat --requests "${DK_IO_REQUESTS:-40}"
result $? "I/O paths (selftests/io_test.py)"

qemu_ios=${DK_QEMU_IOS:-2000 500}
# shellcheck disable=SC2086 # "READS WRITES"
run qemu 1200 env "${inner_env[@]}" selftests/qemu/qemu_test.sh "$ko" build/inner-io ${qemu_ios/,/ }
result $? "real QEMU, aio=native, aio=threads and aio=io_uring (selftests/qemu/qemu_test.sh)"

# ---- 6. hardening, all but lockdown
hardening=selftests/hardening/run.sh
if [ -x "$hardening" ]; then
	all=$(python3 -c 'import sys; sys.path.insert(0, "selftests/hardening")
import hardening; print(",".join(n for n, _ in hardening.TESTS))')
	but_lockdown=$(tr ',' '\n' <<<"$all" | grep -vx lockdown | paste -sd,)
	# shellcheck disable=SC2086 # extra arguments
	run hardening 2400 env "${inner_env[@]}" "$hardening" --module "$ko" --vmm build/kvmio-vmm \
		--reader build/kvmio-lat --inner-io build/inner-io --only "$but_lockdown" \
		${DK_HARDENING_ARGS---exits 500}
	result $? "hardening tests: $but_lockdown (selftests/hardening/run.sh)"
else
	echo "ok $((n += 1)) - hardening tests # SKIP $hardening not there"
fi

# ---- 7. leaks, with the module gone
if grep -q '^kvmio_lat ' /proc/modules; then
	for _ in $(seq 50); do
		rmmod kvmio_lat 2>/dev/null && break
		sleep 0.2
	done
fi
! grep -q '^kvmio_lat ' /proc/modules
result $? "kvmio_lat unloaded"
sleep 6	# kmemleak leaves objects younger than 5 s alone
leaks=$(kmemleak_scan)
rc=$?
printf '%s\n' "$leaks" >"$out/kmemleak.txt"
[ -n "$leaks" ] && printf '%s\n' "$leaks" | head -n 200 | sed 's/^/# kmemleak: /'
result "$([ "$rc" = 0 ] && [ -z "$leaks" ] && echo 0 || echo 1)" \
	"kmemleak after every test, two scans: $(grep -c '^unreferenced object' <<<"$leaks") suspected leaks (scan status $rc)"

# ---- 8. still armed: lockdep turns itself off at its first report
grep -Eq '^ *debug_locks: +1$' /proc/lockdep_stats && [ -w "$km" ] &&
	! grep -q 'Kernel memory leak detector disabled' <<<"$(dmesg)"
result $? "lockdep still on (debug_locks 1), kmemleak still on"

# ---- 9. lockdown, last
if [ -x "$hardening" ] && grep -qx lockdown <<<"$(tr ',' '\n' <<<"$all")"; then
	# shellcheck disable=SC2086 # extra arguments
	run lockdown 600 "$hardening" --module "$ko" --vmm build/kvmio-vmm \
		--reader build/kvmio-lat --only lockdown ${DK_HARDENING_ARGS---exits 500}
	result $? "hardening test: lockdown (selftests/hardening/run.sh)"
fi

echo "1..$n"
exit "$fail"
