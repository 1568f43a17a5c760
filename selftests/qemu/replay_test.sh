#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live versus offline, on one real-QEMU run: the inner guest does a known
# number of O_DIRECT reads and writes on virtio-blk with aio=native, then
# aio=threads, while kvmio_lat.ko measures live AND `kvmio-lat record`
# records the same tracepoints with trace-cmd.  `kvmio-lat replay` of each
# recording must agree with the live snapshot (read before QEMU exits) per
# stage: counts within 1%, p50 within 10% or, for a short stage, within 3%
# of the total's p50 (selftests/lib/compare_replay.py says why).
# Runs inside the lab:
#
#   selftests/lab/lab.sh run --out DIR -- \
#       selftests/qemu/replay_test.sh MODULE.ko INNER_IO KVMIO_LAT [READS WRITES] [MODES...]
#
# KVMIO_LAT_PARAMS: module parameters (make check: clock=tsc, the lab booted
# tsc=reliable: the clock a host gets, checked against trace-cmd's).
#
# Leaves in $LAB_OUT (or /tmp): replay-MODE.dat (the recording),
# replay-MODE.hist/.stats (live), replay-MODE.live.json/.replay.json and
# replay-MODE.compare (the per-stage table).
set -euo pipefail
ko=${1:?usage: replay_test.sh MODULE.ko INNER_IO KVMIO_LAT [READS WRITES] [MODES]}
inner_io=${2:?inner-io binary}
kvl=${3:?kvmio-lat binary}
reads=${4:-2000}
writes=${5:-500}
shift $(($# < 5 ? $# : 5))
modes=("${@:-native threads}")
read -r -a modes <<<"${modes[*]}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/wait_log.sh
. "$here/../lib/wait_log.sh"
dbg=/sys/kernel/debug/kvmio_lat
out=${LAB_OUT:-/tmp}
work=$(mktemp -d)
rpid=
holder=

cleanup() {	# (the holder lets go last: the module's unload patches nothing)
	if [ -n "$rpid" ]; then
		pkill -9 -P "$rpid" 2>/dev/null || true	# its QEMU
		wait "$rpid" 2>/dev/null || true
	fi
	rmmod kvmio_lat 2>/dev/null || true
	if [ -n "$holder" ]; then
		kill -TERM "$holder" 2>/dev/null || true
		wait "$holder" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "# replay_test: $reads reads + $writes writes per run, modes: ${modes[*]}"
# no kernel text patching under the lab's TCG (selftests/lib/labhold.py):
# the holder loads kvm with the other CPUs offline (unless it is loaded),
# then holds its events in two instances of its own: trace-cmd takes over
# the top-level array.  LAB_HOLD=0 lets every load and recording patch text.
if [ "${LAB_HOLD:-1}" != 1 ]; then
	modprobe kvm_amd
else
	# shellcheck source=selftests/lib/labhold.sh
	. "$here/../lib/labhold.sh"
	start_holder "$work/held" --modprobe=kvm_amd --instances
fi
# A recording has neither guest memory nor QEMU's ioeventfd wiring, so
# replay keeps the guesses the module makes without following the
# virtqueues (design.rst, "Virtqueues"): compare it with those.
# shellcheck disable=SC2086 # the parameters are words
insmod "$ko" virtqueues=0 ${KVMIO_LAT_PARAMS:-}
echo "# replay_test: kvmio_lat clock $(cat /sys/module/kvmio_lat/parameters/clock)"
cat >"$work/script" <<EOS
echo KVMIO-INNER-START
/bin/inner-io /dev/vda $reads $writes && echo KVMIO-INNER-DONE
sleep 600
EOS
"$LAB_SH" inner-initrd --file "$inner_io:/bin/inner-io" "$work/inner.gz" "$work/script" >/dev/null

fail=0
for mode in "${modes[@]}"; do
	echo 1 >"$dbg/reset"
	log=$work/qemu-$mode.log
	dat=$out/replay-$mode.dat
	# a second try when the inner guest dies or the recording stops
	# early (the lab's nested SVM: lab.rst; seen once, 2026-12-06, with
	# nothing in either log after 10 s)
	for try in 1 2; do
		rm -f "$work/qemu.pid"
		# QEMU runs as the command of kvmio-lat record: recorded from its start
		"$kvl" record -b 8192 -o "$dat" -- \
			qemu-system-x86_64 -enable-kvm -cpu host -m 256 -smp 1 -nographic \
			-nodefaults -no-reboot -serial stdio -pidfile "$work/qemu.pid" \
			-kernel "$LAB_VMLINUZ" -initrd "$work/inner.gz" \
			-append "console=ttyS0 quiet panic=-1" \
			-drive "file=/dev/vda,if=none,id=d0,format=raw,cache=none,aio=$mode" \
			-device virtio-blk-pci,drive=d0 </dev/null >"$log" 2>"$work/record-$mode.log" &
		rpid=$!
		done_ok=0
		t0=$SECONDS
		wait_log "$log" KVMIO-INNER-DONE "$rpid" 1200 0.5 && done_ok=1
		qpid=$(cat "$work/qemu.pid" 2>/dev/null || true)
		[ "$done_ok" = 1 ] && [ -n "$qpid" ] && break
		pkill -9 -P "$rpid" 2>/dev/null || true
		rc=0
		wait "$rpid" 2>/dev/null || rc=$?
		rpid=
		echo "# aio=$mode: the inner guest did not finish its I/O after $((SECONDS - t0)) s (try $try; kvmio-lat record exit status $rc)"
		# (the second try must run: neither may stop the script)
		tail -20 "$log" "$work/record-$mode.log" 2>&1 | sed 's/^/# /' || true
		echo 1 >"$dbg/reset" || echo "# reset before try $((try + 1)) failed"
	done
	if [ "$done_ok" = 0 ] || [ -z "$qpid" ]; then
		echo "not ok - aio=$mode: the inner guest did not finish its I/O"
		fail=1
		continue
	fi
	grep inner-io: "$log" | sed 's/^/# /'
	cat "$dbg/hist" >"$out/replay-$mode.hist"
	cat "$dbg/stats" >"$out/replay-$mode.stats"
	kill -9 "$qpid"
	wait "$rpid" 2>/dev/null || true	# 137: QEMU's status
	rpid=
	sed 's/^/# record: /' "$work/record-$mode.log"

	"$kvl" show --input "$out/replay-$mode.hist" --json >"$out/replay-$mode.live.json"
	t0=$(date +%s.%N)
	if ! "$kvl" replay --speed "$dat" --json >"$out/replay-$mode.replay.json" \
		2>"$work/replay.err"; then
		echo "not ok - aio=$mode: kvmio-lat replay failed"
		sed 's/^/# /' "$work/replay.err"
		fail=1
		continue
	fi
	sed 's/^/# /' "$work/replay.err"
	echo "# replay of $(du -h "$dat" | cut -f1) took $(awk "BEGIN { print $(date +%s.%N) - $t0 }") s"
	if python3 "$here/../lib/compare_replay.py" --mode "$mode" --pid "$qpid" \
		"$out/replay-$mode.live.json" "$out/replay-$mode.replay.json" \
		>"$out/replay-$mode.compare" 2>&1; then
		sed 's/^/# /' "$out/replay-$mode.compare"
		echo "ok - aio=$mode: replay of the recording agrees with the live module"
	else
		sed 's/^/# /' "$out/replay-$mode.compare"
		echo "not ok - aio=$mode: replay and live module disagree"
		fail=1
	fi
done
exit $fail
