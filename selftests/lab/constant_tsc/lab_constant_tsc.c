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
 *
 * A CPU that comes online ANDs its own flags into boot_cpu_data
 * (identify_secondary_cpu()), and the lab's tests take CPUs offline and
 * back around every kvm load: so the flag is set again on every CPU's
 * online, until the module is unloaded.
 */
#include <linux/cpuhotplug.h>
#include <linux/module.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>

static enum cpuhp_state lab_constant_tsc_state;

static int lab_constant_tsc_online(unsigned int cpu)
{
	set_cpu_cap(&cpu_data(cpu), X86_FEATURE_CONSTANT_TSC);
	set_cpu_cap(&boot_cpu_data, X86_FEATURE_CONSTANT_TSC);
	return 0;
}

static int __init lab_constant_tsc_init(void)
{
	int ret;

	/* runs lab_constant_tsc_online() on every CPU online now, too */
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "lab/constant_tsc:online",
				lab_constant_tsc_online, NULL);
	if (ret < 0)
		return ret;
	lab_constant_tsc_state = ret;
	pr_info("X86_FEATURE_CONSTANT_TSC forced on (kvmio_lat lab only)\n");
	return 0;
}

static void __exit lab_constant_tsc_exit(void)
{
	cpuhp_remove_state(lab_constant_tsc_state);
}

module_init(lab_constant_tsc_init);
module_exit(lab_constant_tsc_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kvmio_lat lab: force X86_FEATURE_CONSTANT_TSC under TCG");
