#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real QEMU, real KVM (nested), real virtio-blk: an inner guest does a known
# number of O_DIRECT reads and writes with aio=native, aio=threads, then
# aio=io_uring, while kvmio_lat measures; the snapshot taken before QEMU
# exits is checked by selftests/lib/check_qemu.py.  Runs inside the lab
# (selftests/lab/lab.sh run).
#
#   qemu_test.sh MODULE.ko INNER_IO [READS WRITES] [MODES...]
#   qemu_test.sh --initrd OUT.gz INNER_IO [READS WRITES]
#
# The second form only builds the inner guest's initramfs (on the machine or
# in the lab; the inner kernel is $LAB_KVER's): a run given it in
# INNER_INITRD=OUT.gz boots it instead of building its own (about 14 s in
# the lab), so that runs on several kernels can share one inner guest.
#
# JOBS=N in the environment makes the guest issue N requests at once (queue
# depth N); the guest's own mean latency is printed next to the module's.
set -euo pipefail
initrd_only=
if [ "${1:-}" = --initrd ]; then
	initrd_only=${2:?usage: qemu_test.sh --initrd OUT.gz INNER_IO [READS WRITES]}
	shift 2
	set -- none "$@"
fi
ko=${1:?usage: qemu_test.sh MODULE.ko INNER_IO [READS WRITES] [MODES]}
inner_io=${2:?inner-io binary}
reads=${3:-2000}
writes=${4:-500}
shift $(($# < 4 ? $# : 4))
modes=("${@:-native threads io_uring}")
read -r -a modes <<<"${modes[*]}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/wait_log.sh
. "$here/../lib/wait_log.sh"
dbg=/sys/kernel/debug/kvmio_lat
out=${LAB_OUT:-/tmp}
work=$(mktemp -d)
qpid=

holder=

cleanup() {	# (the holder lets go last: the module's unload patches nothing)
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	[ -n "$initrd_only" ] || rmmod kvmio_lat 2>/dev/null
	[ -n "$holder" ] && kill -TERM "$holder" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

jobs=${JOBS:-1}
# The host resets the histograms on START: boot-time I/O is not counted.
# The guest then waits 5 s: the host polls its console, and in a lab guest
# on a loaded machine one poll can take over a second (with 1 s, a late
# reset wiped the first 8 to 37 of 500 requests).
cat >"$work/script" <<EOS
echo KVMIO-INNER-START
sleep 5
/bin/inner-io /dev/vda $reads $writes $jobs && echo KVMIO-INNER-DONE
sleep 600
EOS
if [ -n "$initrd_only" ]; then
	"${LAB_SH:-$here/../lab/lab.sh}" inner-initrd --file "$inner_io:/bin/inner-io" \
		"$initrd_only" "$work/script"
	exit
fi
inner_gz=$work/inner.gz
if [ -n "${INNER_INITRD:-}" ]; then
	# (made by --initrd with the same READS WRITES and JOBS)
	[ -r "$INNER_INITRD" ] || { echo "qemu_test: INNER_INITRD=$INNER_INITRD is not readable" >&2; exit 2; }
	inner_gz=$INNER_INITRD
else
	"$LAB_SH" inner-initrd --file "$inner_io:/bin/inner-io" "$inner_gz" "$work/script" >/dev/null
fi
echo "# qemu_test: $reads reads + $writes writes per run, $jobs at a time, modes: ${modes[*]}"
# no kernel text patching under the lab's TCG (selftests/lib/labhold.py):
# the holder loads kvm with the other CPUs offline (unless it is loaded)
# and holds; LAB_HOLD=0 lets kvm's load, the module's and each QEMU's VM patch it
if [ "${LAB_HOLD:-1}" != 1 ]; then
	modprobe kvm_amd
else
	# shellcheck source=selftests/lib/labhold.sh
	. "$here/../lib/labhold.sh"
	start_holder "$work/held" --modprobe=kvm_amd
fi
insmod "$ko"

fail=0
for mode in "${modes[@]}"; do
	log=$work/qemu-$mode.log
	# a second try when the inner QEMU exits on its own before it is
	# done (the lab's nested SVM kills a test guest now and then:
	# Documentation/lab.rst); a guest that hangs is not tried again
	for try in 1 2; do
		echo 1 >"$dbg/reset"
		qemu-system-x86_64 -enable-kvm -cpu host -m 256 -smp 1 -nographic \
			-nodefaults -no-reboot -serial stdio \
			-kernel "$LAB_VMLINUZ" -initrd "$inner_gz" \
			-append "console=ttyS0 quiet panic=-1" \
			-drive "file=/dev/vda,if=none,id=d0,format=raw,cache=none,aio=$mode" \
			-device virtio-blk-pci,drive=d0 </dev/null >"$log" 2>&1 &
		qpid=$!
		t0=$SECONDS
		wait_log "$log" KVMIO-INNER-START "$qpid" 600 0.2 || true
		echo 1 >"$dbg/reset"
		# (where a run stopped, when the lab's own timeout ends it first)
		echo "# aio=$mode: inner guest up after $((SECONDS - t0)) s"
		wait_log "$log" KVMIO-INNER-DONE "$qpid" 600 0.5 && break
		kill -0 "$qpid" 2>/dev/null && break	# hung: not again
		rc=0
		wait "$qpid" 2>/dev/null || rc=$?
		if [ "$try" = 1 ]; then
			echo "# aio=$mode: the inner QEMU exited (status $rc) after $((SECONDS - t0)) s: once more"
		fi
	done
	if ! grep -q KVMIO-INNER-DONE "$log"; then
		echo "not ok - aio=$mode: the inner guest did not finish its I/O"
		tail -20 "$log" | sed 's/^/# /'
		fail=1
		kill -9 "$qpid" 2>/dev/null || true	# it may be gone already
		wait "$qpid" 2>/dev/null || true
		qpid=
		continue
	fi
	grep inner-io: "$log" | sed 's/^/# /'
	cat "$dbg/hist" >"$out/qemu-$mode.hist"
	cat "$dbg/stats" >"$out/qemu-$mode.stats"
	grep -E '^(unmatched|submits_unmatched|irqs_unmatched|doorbells_[a-z]*|dropped):' \
		"$dbg/stats" | tr '\n' ' ' | sed 's/^/# stats: /; s/ $/\n/'

	kill -9 "$qpid"; wait "$qpid" 2>/dev/null || true
	guest_us=$(sed -n 's/.*mean_latency_us \([0-9.]*\).*/\1/p' "$log")
	if python3 "$here/../lib/check_qemu.py" --mode "$mode" --pid "$qpid" \
		--ios $((reads + writes)) --guest-mean-us "${guest_us:-0}" \
		"$out/qemu-$mode.hist" >"$work/check" 2>&1; then
		sed 's/^/# /' "$work/check"
		echo "ok - real QEMU aio=$mode: every $mode stage populated, counts and means add up"
	else
		sed 's/^/# /' "$work/check"
		echo "not ok - real QEMU aio=$mode"
		fail=1
	fi
	qpid=
	# the VM is gone: its state must be too
	sleep 0.2
	if ! grep -qx 'vms: 0' "$dbg/stats" || ! grep -qx 'inflight: 0' "$dbg/stats"; then
		echo "not ok - aio=$mode: state left after QEMU exited"; fail=1
		sed 's/^/# /' "$dbg/stats"
	fi
done
exit $fail
