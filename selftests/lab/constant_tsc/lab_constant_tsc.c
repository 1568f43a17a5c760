// SPDX-License-Identifier: GPL-2.0
/*
 * lab_constant_tsc.ko - for the lab only: mark the TSC constant.
 *
 * PREEMPT_RT kernels refuse to load kvm without X86_FEATURE_CONSTANT_TSC:
 * kvm_arch_init() prints "RT requires X86_FEATURE_CONSTANT_TSC" and fails
 * with -EOPNOTSUPP (the RT patch "x86: kvm Require const tsc for RT").
 * QEMU's TCG, which the lab runs on, cannot expose invtsc (CPUID
 * 0x80000007 EDX[8]), although its emulated TSC does tick at a constant
 * rate.  Loaded before kvm_amd, this module sets the flag in boot_cpu_data,
 * which is what that check reads.  Never load it on real hardware.
 */
#include <linux/module.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>

static int __init lab_constant_tsc_init(void)
{
	set_cpu_cap(&boot_cpu_data, X86_FEATURE_CONSTANT_TSC);
	pr_info("X86_FEATURE_CONSTANT_TSC forced on (kvmio_lat lab only)\n");
	return 0;
}

static void __exit lab_constant_tsc_exit(void)
{
}

module_init(lab_constant_tsc_init);
module_exit(lab_constant_tsc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kvmio_lat lab: force X86_FEATURE_CONSTANT_TSC under TCG");
