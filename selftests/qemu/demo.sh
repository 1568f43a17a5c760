#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, inside the lab: one real QEMU guest with three virtio-blk
# disks on the lab's scratch disk, with aio=native, aio=threads and
# aio=io_uring.  The guest does the same O_DIRECT reads and writes on each;
# kvmio_lat measures; kvmio-lat shows where the time went on each path.
#
#   demo.sh MODULE.ko INNER_IO KVMIO_LAT [READS WRITES]
set -euo pipefail
ko=$1 inner_io=$2 reader=$3
reads=${4:-2000}
writes=${5:-500}
work=$(mktemp -d)
qpid=
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftests/lib/wait_log.sh
. "$here/../lib/wait_log.sh"
tracing=/sys/kernel/tracing
one_cpu() {	# (a static key flips: no other lab CPU runs meanwhile)
	python3 "$here/../lib/labhold.py" one-cpu "$@"
}
cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	wait 2>/dev/null
	[ -e "$tracing/events/kvmio_lat/enable" ] &&
		one_cpu sh -c "echo 0 > $tracing/events/kvmio_lat/enable" 2>/dev/null
	rmmod kvmio_lat 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

modprobe kvm_amd
# clock=ktime: CLOCK_MONOTONIC, to hold each request against QEMU's own
# trace at the end (selftests/qemu/truth.py)
insmod "$ko" clock=ktime
echo 16384 >"$tracing/buffer_size_kb"
echo 1 >"$tracing/tracing_on"
one_cpu sh -c "echo 1 > $tracing/events/kvmio_lat/kvmio_lat_request/enable"
off0=$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
cat >"$work/script" <<EOS
/bin/inner-io /dev/vda $reads $writes && /bin/inner-io /dev/vdb $reads $writes && /bin/inner-io /dev/vdc $reads $writes && echo KVMIO-INNER-DONE
sleep 600
EOS
"$LAB_SH" inner-initrd --file "$inner_io:/bin/inner-io" "$work/inner.gz" "$work/script" >/dev/null
half=$((80 << 20))
disk() {	# NAME AIO OFFSET: an 80 MiB slice of the lab's 256 MiB scratch disk
	echo "-blockdev driver=host_device,filename=/dev/vda,node-name=$1f,cache.direct=on,aio=$2,locking=off"
	echo "-blockdev driver=raw,file=$1f,node-name=$1,offset=$3,size=$half"
	echo "-device virtio-blk-pci,drive=$1"
}
# shellcheck disable=SC2046 # word splitting of disk() is wanted
qemu-system-x86_64 -enable-kvm -cpu host -m 256 -smp 1 -nographic -nodefaults \
	-no-reboot -serial stdio -kernel "$LAB_VMLINUZ" -initrd "$work/inner.gz" \
	-append "console=ttyS0 quiet panic=-1" \
	-msg timestamp=on -D "$work/qemu-trace.log" \
	-trace virtio_blk_handle_read -trace virtio_blk_handle_write \
	-trace virtio_blk_rw_complete -trace virtio_blk_req_complete \
	-trace virtio_notify_irqfd -trace virtio_notify -trace virtio_queue_notify \
	$(disk native native 0) $(disk threads threads $half) \
	$(disk uring io_uring $((2 * half))) </dev/null >"$work/log" 2>&1 &
qpid=$!
echo "kvmio_lat demo: a QEMU guest (pid $qpid) does $reads O_DIRECT reads and $writes writes of 4 KiB"
echo "on a virtio-blk disk with aio=native, then the same with aio=threads and aio=io_uring ..."
if ! wait_log "$work/log" KVMIO-INNER-DONE "$qpid" 600 0.5; then
	echo "demo: the guest did not finish:" >&2
	tail -20 "$work/log" >&2
	exit 1
fi
cat /sys/kernel/debug/kvmio_lat/hist >"$work/hist"
cat /sys/kernel/debug/kvmio_lat/stats >"$work/stats"
grep kvmio_lat_request "$tracing/trace" >"$work/requests.txt" || true
[ -n "${LAB_OUT:-}" ] && cp "$work/hist" "$work/stats" "$work/requests.txt" \
	"$work/qemu-trace.log" "$LAB_OUT/"
echo
echo "\$ kvmio-lat compare --paths"
"$reader" compare --paths --pid "$qpid" "$work/hist"
echo
for path in native threads io_uring; do
	echo "\$ kvmio-lat show --path $path --hist   (the total's histogram)"
	"$reader" show --input "$work/hist" --pid "$qpid" --path $path --hist |
		awk '/ total, vCPU/ {p = 1} p'
	echo
done
kill -9 "$qpid"
wait "$qpid" 2>/dev/null || true
qpid=
off1=$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC))')
echo "\$ checked request by request against QEMU's own trace of the same run"
echo "  (selftests/qemu/truth.py; under TCG a boundary's two stamps are up to ~8 ms apart)"
python3 "$here/truth.py" --qemu "$work/qemu-trace.log" --module "$work/requests.txt" \
	--offset-ns $(((off0 + off1) / 2)) --tolerance-us 8000 --label demo \
	--count-slack 0.5 --target-within 99 |
	grep -v '^#   \(outside\|lost\)' | sed 's/^# /  /; s/^FAIL /  FAIL /' || true
