#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: everything a change must pass, on a fresh machine.
#
#   deps -> build (module for the lab kernel, reader, lab programs)
#   -> checkpatch -> host unit tests (ASan/UBSan) -> fuzzing the snapshot
#   parser -> in a real kernel with real KVM (the lab): module selftests,
#   the QEMU-like I/O paths with injected delays, real QEMU with
#   aio=native and aio=threads, make bench-quick (the benchmark still
#   works), record/replay against the live module -> DKMS round trip
#
# Not here (README.md says why): make matrix (every supported kernel
# booted), make hardening, make check-debug (the debug kernel) and make
# debug-kernel-canary.
#
# Every step runs even when an earlier one failed (when it can), and the
# last line says "N passed, N failed".  Exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
failures=()
logdir=build/check
mkdir -p "$logdir"

step() {
	local name=$1
	shift
	local t0=$SECONDS rc
	echo "=== $name"
	"$@" 2>&1 | tee "$logdir/$name.log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" = 0 ]; then
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

# The lab's kernel is downloaded and unpacked once, here, not inside the
# first lab step: a failed download (a mirror's hiccup) is tried again
# and, if it stays, fails the build rather than whichever test came first.
lab_kernel() {
	local try
	for try in 1 2 3; do
		selftests/lab/lab.sh kernel "$KVER" >/dev/null && return 0
		echo "# the lab's kernel $KVER is not ready (try $try of 3)" >&2
		sleep $((try * 10))
	done
	return 1
}

build() {
	make -s ksrc &&
	make -s module KDIR="$KDIR" &&
	make -s reader selftests &&
	lab_kernel
}

# NAME COMMAND...: run COMMAND in the lab, keep its dmesg and output.  Once
# more, in a fresh boot, and only then, when the lab failed rather than a
# test (safety.rst, "The lab"): the guest hung (lab.sh's timeout, exit
# 124: a vCPU looping on a stale int3 of a finished text patch, or a
# nested vCPU never woken); the guest kernel died (exit 123: under the
# lab's TCG and nested SVM it panics now and then with kvmio_lat never
# loaded); a test guest took a vector it never expects (kvmio-vmm's
# "unexpected vector", the same boots' sign); or the lab could not start
# (exit 125: no test ran).  Both attempts stay in the log; a second
# failure of any kind fails the step, so a fault of the module's that
# repeats is never hidden.  A step's guest gets LAB_STEP_TIMEOUT seconds
# (300: each step takes 15 to 85 s on a 2-CPU machine, so a hang costs
# five minutes, not lab.sh's default ten).
lab() {
	local name=$1 try rc why
	shift
	mkdir -p "$logdir/$name"
	for try in 1 2; do
		rc=0
		selftests/lab/lab.sh run --kernel "$KVER" --timeout "${LAB_STEP_TIMEOUT:-300}" \
			--out "$PWD/$logdir/$name" \
			--log "$logdir/$name/dmesg-$try.log" -- "$@" \
			>"$logdir/$name/out-$try.log" 2>"$logdir/$name/lab-$try.err" || rc=$?
		cat "$logdir/$name/out-$try.log"
		cat "$logdir/$name/lab-$try.err" >&2
		[ "$rc" = 0 ] && return 0
		[ "$try" = 2 ] && return "$rc"
		case $rc in
		124) why="the lab guest hung (report above)" ;;
		123) why="the lab guest's kernel died (above)" ;;
		125) why="the lab could not start (above)" ;;
		*)
			if grep -q 'guest took unexpected vector' "$logdir/$name/out-$try.log" \
				"$logdir/$name/lab-$try.err"; then
				why="a test guest took an unexpected vector (the lab's nested SVM)"
			else
				return "$rc"
			fi ;;
		esac
		echo "# $name: $why: running it once more in a fresh boot"
	done
}

lab_selftests() {
	lab selftests build/kvmio_lat_test --module module/kvmio_lat.ko \
		--vmm build/kvmio-vmm --vcpus 4 --exits 2000
}

lab_io() {
	lab io selftests/io_test.py --module module/kvmio_lat.ko \
		--vmm build/kvmio-vmm --reader build/kvmio-lat --requests 40
}

lab_qemu() {
	lab qemu selftests/qemu/qemu_test.sh module/kvmio_lat.ko build/inner-io 2000 500
}

lab_replay() {	# live module vs kvmio-lat record + replay of the same run
	lab replay selftests/qemu/replay_test.sh module/kvmio_lat.ko build/inner-io \
		build/kvmio-lat 1000 250
}

# make bench, tiny: the benchmark still works (its figures are not checked);
# it measures the module the build step made
bench_quick() {
	make -s bench-quick BENCH_MODULE=module/kvmio_lat.ko
}


dkms_round_trip() {
	scripts/dkms-test.sh "$KVER"
}

step build build
step checkpatch scripts/checkpatch.sh
step unit make -s unit
step fuzz make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
step lab-selftests lab_selftests
step lab-io-paths lab_io
step lab-real-qemu lab_qemu
step bench-quick bench_quick
step lab-replay lab_replay
step dkms dkms_round_trip

# CI shows only the tail of this output: repeat there why each step failed
why_failed() {
	local name=$1 log=$logdir/$1.log
	echo "--- why $name failed (all of it: $log):"
	grep -E '^not ok|^# .*([Ff]ail|want|missing|[Ee]rror|timed out|once more)|^[a-z_-]+: .*([Ff]ail|[Ee]rror|hung|exit status [1-9])' \
		"$log" | grep -v '^# *ok ' | tail -n 12
	echo "    last lines:"
	tail -n 4 "$log" | sed 's/^/    /'
}

echo
if [ "$failed" -ne 0 ]; then
	for name in "${failures[@]}"; do
		why_failed "$name"
	done
	echo "failed: ${failures[*]}"
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
