# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# make bench's inner guest (busybox sh, run by lab.sh inner-initrd's init):
# its disks are named by their serial numbers (native, threads, io_uring); each
# "go DISK READS WRITES" line on the console runs inner-io on that disk.
for d in /sys/block/vd*; do
	ln -s "/dev/${d##*/}" "/dev/disk-$(cat "$d/serial")"
done
echo KVMIO-BENCH-READY
while read -r cmd disk reads writes; do
	case $cmd in
	go) /bin/inner-io "/dev/disk-$disk" "$reads" "$writes"; echo KVMIO-BENCH-DONE ;;
	*) break ;;
	esac
done
