#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh - the matrix's tests of one kernel, run inside the lab guest
# booted on it (scripts/matrix/matrix.sh):
#   1. the module's vermagic is the booted kernel's
#   2. the in-guest selftests (build/kvmio_lat_test)
#   3. real QEMU, aio=native, aio=threads and aio=io_uring (selftests/qemu/qemu_test.sh)
#   4. the module DKMS built for this kernel, installed in the module tree:
#      depmod, modprobe, attaches to kvm, modprobe -r
#
#   guest.sh DIR     DIR = build/matrix/<kernel> (kvmio_lat.ko, dkms/kvmio_lat.ko)
#
# Environment (matrix.sh sets it): MATRIX_INNER_KVER, the inner guest's
# kernel; MATRIX_QEMU_IOS="READS WRITES" per aio mode (default 400 100);
# INNER_INITRD, the inner guest's initramfs made beforehand for those counts
# (qemu_test.sh --initrd); MATRIX_LIGHT=1 skips 2 and 3 (for a kernel whose
# selftests and real QEMU run elsewhere: make check's own lab steps).
set -uo pipefail
dir=${1:?usage: guest.sh build/matrix/KERNEL}
kver=$(uname -r)
ko=$dir/kvmio_lat.ko
dbg=/sys/kernel/debug/kvmio_lat
# shellcheck source=selftests/lib/tap.sh
. "$(dirname "$0")/../../selftests/lib/tap.sh"

echo "# matrix: kernel $kver, $(nproc) CPUs, $(uname -v | grep -o 'PREEMPT[_A-Z]*' | head -n 1)"

# The inner guest (real QEMU's) boots $MATRIX_INNER_KVER, the lab's default
# kernel, whatever kernel this is: nested under the lab's TCG EPYC model,
# 5.10's and 7.2's KVM hand a -cpu host guest an XSAVE layout (CPUID 0xd)
# that its own 5.10 or 7.2 kernel cannot live with (5.10: "bad frame in
# rt_sigreturn" kills init at the first signal; 7.2: a NULL dereference in
# fpstate_reset at boot), while 6.1 warns and copes.  What is tested, the
# module in this kernel, is the same either way.
inner_env=()
if [ -n "${MATRIX_INNER_KVER:-}" ] && [ "$MATRIX_INNER_KVER" != "$kver" ]; then
	inner_dir=$(dirname "$LAB_KERNEL_DIR")/$MATRIX_INNER_KVER
	inner_env=(LAB_KVER="$MATRIX_INNER_KVER" LAB_VMLINUZ="$(readlink -f "$inner_dir/vmlinuz")")
	echo "# inner guest kernel: $MATRIX_INNER_KVER"
fi

# PREEMPT_RT's kvm refuses to load without a constant TSC, which TCG cannot
# expose: see selftests/lab/constant_tsc/lab_constant_tsc.c
if [ -f "$dir/lab_constant_tsc.ko" ] && ! grep -qw constant_tsc /proc/cpuinfo; then
	insmod "$dir/lab_constant_tsc.ko" && echo "# lab_constant_tsc loaded (TCG shows no invtsc)"
fi

vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
[ "${vm%% *}" = "$kver" ]
result $? "vermagic of $ko is $kver ($vm)"

if [ "${MATRIX_LIGHT:-0}" = 1 ]; then
	echo "# MATRIX_LIGHT: selftests and real QEMU not run on $kver here"
else
	# (line-buffered: the test forks, and a full stdio buffer would be copied)
	stdbuf -oL build/kvmio_lat_test --module "$ko" --vmm build/kvmio-vmm --vcpus 4 --exits 2000 |
		sed 's/^/# selftests: /'
	result "${PIPESTATUS[0]}" "in-guest selftests (build/kvmio_lat_test)"

	read -r reads writes <<<"${MATRIX_QEMU_IOS:-400 100}"
	env "${inner_env[@]}" stdbuf -oL selftests/qemu/qemu_test.sh "$ko" build/inner-io \
		"$reads" "$writes" | sed 's/^/# qemu: /'
	result "${PIPESTATUS[0]}" "real QEMU, aio=native, aio=threads and aio=io_uring, $reads reads + $writes writes each (selftests/qemu/qemu_test.sh)"
fi

if [ -f "$dir/dkms/kvmio_lat.ko" ]; then
	rc=0
	rmmod kvmio_lat 2>/dev/null
	modprobe kvm_amd || rc=1
	# depmod -a would read every module of the tree over 9p (minutes under
	# TCG); given a file, depmod indexes that module alone.  The tree is a
	# tmpfs overlay that dies with this boot, and kvm is already loaded.
	mkdir -p "/lib/modules/$kver/updates/dkms" &&
		cp "$dir/dkms/kvmio_lat.ko" "/lib/modules/$kver/updates/dkms/" &&
		depmod "$kver" "/lib/modules/$kver/updates/dkms/kvmio_lat.ko" || rc=1
	[ "$(modinfo -n kvmio_lat 2>/dev/null)" = "/lib/modules/$kver/updates/dkms/kvmio_lat.ko" ] || rc=1
	modprobe kvmio_lat || rc=1
	grep -qx 'kvm_attached: 1' "$dbg/stats" 2>/dev/null || rc=1
	modprobe -r kvmio_lat || rc=1
	[ ! -e "$dbg" ] || rc=1
	result "$rc" "the DKMS-built module: depmod, modprobe (attaches to kvm), modprobe -r"
else
	echo "# no $dir/dkms/kvmio_lat.ko: DKMS not run for $kver"
fi

echo "# matrix: $kver: $([ $fail = 0 ] && echo pass || echo FAIL)"
exit $fail
