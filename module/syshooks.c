// SPDX-License-Identifier: GPL-2.0
/*
 * syshooks.c - the system calls QEMU's I/O makes, hooked one by one.
 *
 * raw_syscalls' sys_enter and sys_exit fire for every system call of every
 * task, and while any probe is attached to them every task on the host
 * takes the kernel's slow system-call path: a vCPU thread's ioctl(KVM_RUN)
 * on each exit to userspace, and every process that is not a VM.  Here
 * instead a kretprobe sits on the entry function of each call the engine
 * uses (__x64_sys_NAME; kprobes on ftrace, no breakpoint): other calls,
 * KVM_RUN among them, pass through nothing of ours.  Its entry handler
 * tests the VM filter and arms the return only for a tracked VM's threads.
 * QEMU's KVM_IOEVENTFD is taken from kvm.ko's kvm_ioeventfd(), hooked
 * while kvm is loaded, rather than from every ioctl's entry.
 *
 * What changes for the engine (design.rst, "System calls"): the returns
 * of calls it does not hook are not seen, so an interrupt that KVM did not
 * accept in the thread that raised it is flushed at that thread's next
 * hooked return rather than at its next return of any call.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/kvm_host.h>
#include <linux/ptrace.h>
#include <linux/sched/task_stack.h>

#include "kvmio_lat.h"

#if IS_ENABLED(CONFIG_KRETPROBES) && IS_ENABLED(CONFIG_KPROBES_ON_FTRACE) && \
	IS_ENABLED(CONFIG_ARCH_HAS_SYSCALL_WRAPPER)
#define KVL_SYSHOOKS 1
#else
#define KVL_SYSHOOKS 0
#endif

#if KVL_SYSHOOKS

/* Engine's calls (engine.h's kvl_sys_class()), read and write for eventfds */
static const char *const kvl_hook_syms[] = {
	"__x64_sys_read", "__x64_sys_write",
	"__x64_sys_poll", "__x64_sys_select", "__x64_sys_pselect6",
	"__x64_sys_ppoll", "__x64_sys_epoll_wait", "__x64_sys_epoll_pwait",
	"__x64_sys_epoll_pwait2",
	"__x64_sys_io_uring_enter", "__x64_sys_io_submit",
	"__x64_sys_io_getevents", "__x64_sys_io_pgetevents",
	"__x64_sys_pread64", "__x64_sys_pwrite64", "__x64_sys_preadv",
	"__x64_sys_pwritev", "__x64_sys_preadv2", "__x64_sys_pwritev2",
	"__x64_sys_fsync", "__x64_sys_fdatasync",
};

#define KVL_NR_HOOKS	ARRAY_SIZE(kvl_hook_syms)

static struct kretprobe kvl_hooks[KVL_NR_HOOKS];
static struct kretprobe *kvl_hook_ptrs[KVL_NR_HOOKS];
static unsigned int kvl_nr_hooked;	/* under kvl_attach_lock (probes.c) */
static unsigned int kvl_nr_filtered;	/* of them, pre_handler wrapped */
static unsigned long kvl_hooks_missed;	/* of hooks since detached */

/*
 * A kretprobe's kprobe runs the kernel's pre_handler_kretprobe(), which
 * takes a return instance off the kretprobe's free list, calls the entry
 * handler and, when that says no, puts the instance back: every process
 * that makes a hooked call pays for both, tracked or not.  So once
 * registered, the kprobe's pre_handler is wrapped by kvl_hook_filter():
 * the VM filter first, then the entry's work, and only a call whose
 * return can matter goes on to take an instance (about 300 instructions
 * each way otherwise).  kprobes call p->pre_handler afresh on each hit
 * (for a probe that shares its address with another too, through
 * aggr_pre_handler()), so the swap takes effect at once, and either
 * handler is right while it does.  What else reads it only names the
 * probe's kind (debugfs' kprobes/list: "k").
 */
static kprobe_pre_handler_t kvl_kretprobe_pre;	/* pre_handler_kretprobe() */

/* This CPU's kvl_hook_filter() did the entry's work (kprobes: preempt off) */
static DEFINE_PER_CPU(bool, kvl_hook_entered);

/*
 * At the call's entry, before its work: QEMU's registers are the task's
 * (the wrapper's own argument points at them).  The filter is asked once
 * (kvl_sys_enter()'s @tracked: neither the entry nor the return asks
 * again), and true, to arm the return, only where the engine says it can
 * matter: not for a vCPU thread's calls, nor most reads and writes
 * (kvl_ev_return_wanted()).
 */
static bool kvl_hook_enter(void)
{
	struct pt_regs *u = task_pt_regs(current);

	return kvl_sys_exit_wanted() &&
	       kvl_sys_enter(u, syscall_get_nr(current, u), true);
}

static int kvl_hook_filter(struct kprobe *p, struct pt_regs *regs)
{
	int ret;

	if (!kvl_hook_enter())
		return 0;
	__this_cpu_write(kvl_hook_entered, true);
	ret = kvl_kretprobe_pre(p, regs);
	__this_cpu_write(kvl_hook_entered, false);
	return ret;
}

/* The kretprobe's: from kvl_hook_filter(), or a kprobe it did not wrap. */
static int kvl_hook_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (__this_cpu_read(kvl_hook_entered))
		return 0;
	return kvl_hook_enter() ? 0 : 1;
}

static int kvl_hook_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	kvl_sys_exit(task_pt_regs(current), regs_return_value(regs), true);
	return 0;
}

/*
 * Returns armed at once, per call: every tracked thread inside it holds
 * one (event loops waiting, pool workers reading), and every CPU one for
 * the instant its entry handler decides.  Eight threads per VM in one
 * call: about 64 bytes each, 175 KB for the 21 calls at the default
 * max_vms; a return missed for want of one is counted
 * (syscall_hooks_missed).
 */
static int kvl_hook_maxactive(unsigned int max_vms)
{
	return min_t(unsigned int, max_vms * 8 + num_possible_cpus(), 2048);
}

/*
 * Calls this kernel does not have (io_uring compiled out, epoll_pwait2
 * before 5.11) are left out; any other failure undoes the lot.
 */
int kvl_syshooks_attach(unsigned int max_vms)
{
	unsigned int i, n = 0, filtered = 0;
	int ret;

	for (i = 0; i < KVL_NR_HOOKS; i++) {
		struct kretprobe *rp = &kvl_hooks[i];

		memset(rp, 0, sizeof(*rp));
		rp->kp.symbol_name = kvl_hook_syms[i];
		rp->entry_handler = kvl_hook_entry;
		rp->handler = kvl_hook_return;
		rp->maxactive = kvl_hook_maxactive(max_vms);
		ret = register_kretprobe(rp);
		if (ret == -ENOENT)
			continue;
		if (ret) {
			pr_err("cannot hook %s (%d)\n", kvl_hook_syms[i], ret);
			goto err;
		}
		kvl_hook_ptrs[n++] = rp;
		if (!kvl_kretprobe_pre)
			kvl_kretprobe_pre = rp->kp.pre_handler;
		/* a kretprobe of another make: its entry handler filters */
		if (kvl_kretprobe_pre && rp->kp.pre_handler == kvl_kretprobe_pre) {
			WRITE_ONCE(rp->kp.pre_handler, kvl_hook_filter);
			filtered++;
		}
	}
	kvl_nr_hooked = n;
	WRITE_ONCE(kvl_nr_filtered, filtered);
	return 0;

err:
	if (n)
		unregister_kretprobes(kvl_hook_ptrs, n);
	return ret;
}

/* Also waits for every running handler (unregister_kretprobes() does). */
void kvl_syshooks_detach(void)
{
	unsigned int i;

	if (!kvl_nr_hooked)
		return;
	unregister_kretprobes(kvl_hook_ptrs, kvl_nr_hooked);
	for (i = 0; i < kvl_nr_hooked; i++)
		kvl_hooks_missed += kvl_hook_ptrs[i]->nmissed +
				    kvl_hook_ptrs[i]->kp.nmissed;
	kvl_nr_hooked = 0;
	WRITE_ONCE(kvl_nr_filtered, 0);
}

/* Hooks attached whose kprobe asks the VM filter first (kvl_hook_filter()). */
unsigned int kvl_syshooks_filtered(void)
{
	return READ_ONCE(kvl_nr_filtered);
}

/* Returns not armed because every instance was in use, entries skipped. */
unsigned long kvl_syshooks_missed(void)
{
	unsigned long n = READ_ONCE(kvl_hooks_missed);
	unsigned int i, hooked = READ_ONCE(kvl_nr_hooked);

	for (i = 0; i < hooked; i++)
		n += READ_ONCE(kvl_hook_ptrs[i]->nmissed) +
		     READ_ONCE(kvl_hook_ptrs[i]->kp.nmissed);
	return n;
}

/* kvm.ko's kvm_ioeventfd(kvm, args): args is the kernel's copy */
static int kvl_ioeventfd_pre(struct kprobe *p, struct pt_regs *regs)
{
	kvl_ioeventfd((const struct kvm_ioeventfd *)regs->si, false);
	return 0;
}

static struct kprobe kvl_ioeventfd_kp;
static bool kvl_ioeventfd_hooked;

/* While kvm is loaded, from its module notifier (probes.c) */
int kvl_syshooks_kvm_coming(void)
{
	int ret;

	memset(&kvl_ioeventfd_kp, 0, sizeof(kvl_ioeventfd_kp));
	kvl_ioeventfd_kp.symbol_name = "kvm_ioeventfd";
	kvl_ioeventfd_kp.pre_handler = kvl_ioeventfd_pre;
	ret = register_kprobe(&kvl_ioeventfd_kp);
	if (ret) {
		pr_info("cannot hook kvm_ioeventfd (%d): doorbells are tied to queues by their reads alone\n",
			ret);
		return ret;
	}
	kvl_ioeventfd_hooked = true;
	return 0;
}

void kvl_syshooks_kvm_going(void)
{
	if (!kvl_ioeventfd_hooked)
		return;
	unregister_kprobe(&kvl_ioeventfd_kp);
	kvl_ioeventfd_hooked = false;
}

bool kvl_syshooks_possible(void)
{
	return true;
}

#else	/* !KVL_SYSHOOKS */

int kvl_syshooks_attach(unsigned int max_vms)
{
	return -EOPNOTSUPP;
}

void kvl_syshooks_detach(void)
{
}

unsigned long kvl_syshooks_missed(void)
{
	return 0;
}

unsigned int kvl_syshooks_filtered(void)
{
	return 0;
}

int kvl_syshooks_kvm_coming(void)
{
	return -EOPNOTSUPP;
}

void kvl_syshooks_kvm_going(void)
{
}

bool kvl_syshooks_possible(void)
{
	return false;
}

#endif	/* KVL_SYSHOOKS */
