#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh - the matrix's tests of one kernel, run inside the lab guest
# booted on it (scripts/matrix/matrix.sh):
#   1. the module's vermagic is the booted kernel's
#   2. the in-guest selftests (build/kvmio_lat_test)
#   3. real QEMU, aio=native and aio=threads (selftests/qemu/qemu_test.sh)
#   4. the module DKMS built for this kernel, installed in the module tree:
#      depmod, modprobe, attaches to kvm, modprobe -r
#
#   guest.sh DIR     DIR = build/matrix/<kernel> (kvmio_lat.ko, dkms/kvmio_lat.ko)
set -uo pipefail
dir=${1:?usage: guest.sh build/matrix/KERNEL}
kver=$(uname -r)
ko=$dir/kvmio_lat.ko
dbg=/sys/kernel/debug/kvmio_lat
n=0
fail=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}

echo "# matrix: kernel $kver, $(nproc) CPUs, $(uname -v | grep -o 'PREEMPT[_A-Z]*' | head -n 1)"

# Nested under the lab's TCG EPYC model, 5.10's and 7.2's KVM give a
# -cpu host inner guest an XSAVE layout (CPUID 0xd) its kernel rejects: on
# 5.10 a WARNING in fpu__init_system_xstate, then "bad frame in
# rt_sigreturn" kills its init at the first signal; on 7.2 a NULL
# dereference in fpstate_reset at boot.  A lab artifact, and the I/O path
# does not need XSAVE: every kernel of the matrix runs the inner guest
# without it, so all of them are tested alike.
export KVMIO_INNER_CPU=${KVMIO_INNER_CPU:-host,-xsave}

# PREEMPT_RT's kvm refuses to load without a constant TSC, which TCG cannot
# expose: see selftests/lab/constant_tsc/lab_constant_tsc.c
if [ -f "$dir/lab_constant_tsc.ko" ] && ! grep -qw constant_tsc /proc/cpuinfo; then
	insmod "$dir/lab_constant_tsc.ko" && echo "# lab_constant_tsc loaded (TCG shows no invtsc)"
fi

vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
[ "${vm%% *}" = "$kver" ]
result $? "vermagic of $ko is $kver ($vm)"

# (line-buffered: the test forks, and a full stdio buffer would be copied)
stdbuf -oL build/kvmio_lat_test --module "$ko" --vmm build/kvmio-vmm --vcpus 4 --exits 2000 |
	sed 's/^/# selftests: /'
result "${PIPESTATUS[0]}" "in-guest selftests (build/kvmio_lat_test)"

stdbuf -oL selftests/qemu/qemu_test.sh "$ko" build/inner-io | sed 's/^/# qemu: /'
result "${PIPESTATUS[0]}" "real QEMU, aio=native and aio=threads (selftests/qemu/qemu_test.sh)"

if [ -f "$dir/dkms/kvmio_lat.ko" ]; then
	rc=0
	rmmod kvmio_lat 2>/dev/null
	mkdir -p "/lib/modules/$kver/updates/dkms" &&
		cp "$dir/dkms/kvmio_lat.ko" "/lib/modules/$kver/updates/dkms/" &&
		depmod -a "$kver" || rc=1
	[ "$(modinfo -n kvmio_lat 2>/dev/null)" = "/lib/modules/$kver/updates/dkms/kvmio_lat.ko" ] || rc=1
	modprobe kvm_amd && modprobe kvmio_lat || rc=1
	grep -qx 'kvm_attached: 1' "$dbg/stats" 2>/dev/null || rc=1
	modprobe -r kvmio_lat || rc=1
	[ ! -e "$dbg" ] || rc=1
	result "$rc" "the DKMS-built module: depmod, modprobe (attaches to kvm), modprobe -r"
else
	echo "# no $dir/dkms/kvmio_lat.ko: DKMS not run for $kver"
fi

echo "# matrix: $kver: $([ $fail = 0 ] && echo pass || echo FAIL)"
exit $fail
