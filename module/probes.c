// SPDX-License-Identifier: GPL-2.0
/*
 * probes.c - tracepoint probes: turn KVM and syscall events into engine
 * events (the system calls' hooks themselves are syshooks.c's).
 *
 * Core tracepoints (raw_syscalls, sched_process_exit) are not exported, so
 * they are found by name with for_each_kernel_tracepoint().  KVM's live in
 * kvm.ko: the tracepoint module notifier attaches to them when kvm comes
 * (also for a kvm already loaded when we register) and detaches when it goes,
 * so load order does not matter.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/module.h>
#include <linux/tracepoint.h>
#include <linux/sched.h>
#include <linux/preempt.h>
#include <linux/timekeeping.h>
#include <linux/clocksource.h>
#include <linux/math64.h>
#include <asm/tsc.h>
#include <linux/kvm_host.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>
#include <linux/aio_abi.h>
#include <asm/syscall.h>
#include <trace/events/syscalls.h>
#include <trace/events/kvm.h>

#include "kvmio_lat.h"
#include "wrapper/io_uring_complete.h"
#include "wrapper/io_uring_submit.h"
#include "wrapper/kvm_entry.h"
#include "wrapper/kvm_exit.h"
#include "wrapper/kvm_inj_virq.h"
#include "wrapper/kvm_pio.h"
#include "wrapper/kvm_symbol.h"
#include "wrapper/sched_process_exit.h"

/* from include/trace/events/kvm.h and arch/x86/kvm/trace.h */
#define KVL_TRACE_MMIO_WRITE	2
#define KVL_PIO_OUT		1

/* kvm.ko's, while kvm is attached (wrapper/kvm_x86_ops.h) */
struct kvm_x86_ops *kvl_x86_ops;

/*
 * kvm.ko's functions that locate a virtqueue's rings in QEMU's memory
 * (engine/virtqueue.c), from its symbol table while kvm is attached
 * (wrapper/kvm_symbol.h); NULL: virtqueues are not read.
 */
typedef struct kvm_vcpu *(*kvl_running_vcpu_fn)(void);
typedef struct kvm_memory_slot *(*kvl_gfn_to_memslot_fn)(struct kvm_vcpu *vcpu,
							 gfn_t gfn);
static kvl_running_vcpu_fn kvl_running_vcpu;
static kvl_gfn_to_memslot_fn kvl_gfn_to_memslot;

/*
 * The clock: one timeline across CPUs, in ns.  Where the kernel trusts the
 * TSC (constant rate or declared reliable, never marked unstable: then it
 * is the kernel's own clocksource, the same on every CPU), read it and
 * scale it: rdtsc, a multiply and a shift, where ktime_get_mono_fast_ns()
 * (the "mono" trace clock) takes a seqcount, an indirect call to the
 * clocksource and its NTP-adjusted scaling, about 45 instructions more
 * per read (make bench --icount).  Elsewhere, or with clock=ktime, that
 * clock.  clock=tsc takes the TSC on a CPU that does not say it is
 * constant but is (the lab's TCG, booted tsc=reliable).  Chosen at load:
 * reload the module if the kernel marks the TSC unstable later.
 */
enum kvl_clock_want { KVL_CLOCK_AUTO, KVL_CLOCK_TSC, KVL_CLOCK_KTIME };
static const char *const kvl_clock_names[] = { "auto", "tsc", "ktime" };
static enum kvl_clock_want kvl_clock_want;
static bool kvl_clock_tsc __read_mostly;

static int kvl_clock_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(kvl_clock_names, val);

	if (i < 0)
		return i;
	kvl_clock_want = i;
	return 0;
}

static int kvl_clock_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n", kvl_clock_tsc ? "tsc" : "ktime");
}

static const struct kernel_param_ops kvl_clock_ops = {
	.set = kvl_clock_set,
	.get = kvl_clock_get,
};

module_param_cb(clock, &kvl_clock_ops, NULL, 0444);
MODULE_PARM_DESC(clock, "auto (default: the TSC where the CPU says it is constant, else ktime_get_mono_fast_ns()), tsc (unless the kernel marked it unstable) or ktime; reads back the one in use");

static u32 kvl_tsc_mult __read_mostly, kvl_tsc_shift __read_mostly;

static __always_inline u64 kvl_now(void)
{
	if (likely(kvl_clock_tsc))
		return mul_u64_u32_shr(rdtsc_ordered(), kvl_tsc_mult,
				       kvl_tsc_shift);
	return ktime_get_mono_fast_ns();
}

/* The probes' clock, for what stamps engine state outside a probe. */
u64 kvl_clock_now(void)
{
	return kvl_now();
}

static int kvl_clock_init(void)
{
	bool tsc_ok = tsc_khz && !check_tsc_unstable();

	if (kvl_clock_want == KVL_CLOCK_TSC && !tsc_ok) {
		pr_err("clock=tsc: the kernel has marked the TSC unstable (or has no TSC)\n");
		return -EINVAL;
	}
	if (kvl_clock_want == KVL_CLOCK_AUTO &&
	    !boot_cpu_has(X86_FEATURE_CONSTANT_TSC) &&
	    !boot_cpu_has(X86_FEATURE_TSC_RELIABLE))
		tsc_ok = false;
	if (kvl_clock_want != KVL_CLOCK_KTIME && tsc_ok) {
		/* kHz -> ns per ms; the multiply is 64 x 32 -> 96 bits */
		clocks_calc_mult_shift(&kvl_tsc_mult, &kvl_tsc_shift, tsc_khz,
				       NSEC_PER_MSEC, 1);
		kvl_clock_tsc = true;
	}
	pr_info("clock: %s\n", kvl_clock_tsc ? "tsc" : "ktime");
	return 0;
}

/*
 * Around every probe's engine calls.  Tracepoints disable preemption
 * around their probes up to 6.12; from 6.13 the system-call ones, and from
 * 7.2 all of them, run their probes preemptible (compat.rst).  A region
 * with preemption off is an RCU read-side critical section (the flavours
 * are one since 4.20), which is what a VM's free waits for (main.c); and
 * unlike rcu_read_lock() under PREEMPT_RCU, two function calls per probe
 * on the exit path, it is a per-CPU counter, inline.
 */
static __always_inline void kvl_probe_begin(void)
{
	preempt_disable_notrace();
}

static __always_inline void kvl_probe_end(void)
{
	preempt_enable_notrace();
}

/* Process-context task events only: hard/soft irq context has no VM thread. */
static bool kvl_task_ok(void)
{
	return READ_ONCE(kvl_enabled) && in_task();
}

/*
 * How the system calls are seen (syshooks.c): a kretprobe on each call the
 * engine uses, or raw_syscalls' tracepoints on all of them.  auto: the
 * hooks where the kernel has kretprobes on ftrace, else the tracepoints.
 */
enum kvl_hooks_want { KVL_HOOKS_AUTO, KVL_HOOKS_KPROBE, KVL_HOOKS_TRACEPOINT };
static const char *const kvl_hooks_names[] = { "auto", "kprobe", "tracepoint" };
static enum kvl_hooks_want kvl_hooks_want;
static bool kvl_hooks_kprobe __read_mostly;	/* chosen at load */

static int kvl_hooks_set(const char *val, const struct kernel_param *kp)
{
	int i = sysfs_match_string(kvl_hooks_names, val);

	if (i < 0)
		return i;
	kvl_hooks_want = i;
	return 0;
}

static int kvl_hooks_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			 kvl_hooks_kprobe ? "kprobe" : "tracepoint");
}

static const struct kernel_param_ops kvl_hooks_ops = {
	.set = kvl_hooks_set,
	.get = kvl_hooks_get,
};

module_param_cb(syscall_hooks, &kvl_hooks_ops, NULL, 0444);
MODULE_PARM_DESC(syscall_hooks, "auto (default: kprobe where the kernel has kretprobes on ftrace), kprobe (a kretprobe on each system call the engine uses) or tracepoint (raw_syscalls: every call of every task); reads back the one in use");

/* kretprobe entry handlers: is the return of this call worth a hook? */
bool kvl_sys_exit_wanted(void)
{
	return kvl_engine_maybe_vm(&kvl_engine, current->tgid) &&
	       kvl_task_ok() && !in_compat_syscall();
}

/*
 * The system-call probes are attached only while the engine tracks a VM:
 * hooked calls cost every task that makes them, and with a raw_syscalls
 * probe registered every task takes the slow system-call path, costs a
 * host with nothing to measure should not pay.  A probe cannot attach
 * probes (that sleeps): when the engine's
 * VM count and kvl_sys_on disagree it queues kvl_sys_work, which attaches
 * or detaches them.  The first system calls of a new VM are missed that
 * way, as they are when the module is loaded under a running VM.  They
 * stay syscall_linger_ms after the last VM goes, so that a VM started
 * meanwhile (a restart, the next test) is watched from its first call:
 * detaching and attaching again take seconds on a loaded host.  With
 * syscall_probes_always they are attached at load and stay.
 */
static bool kvl_sys_on;		/* written under kvl_attach_lock */
static bool kvl_sys_failed;	/* attaching failed: not again until no VM */
static bool kvl_stopping;	/* the module is going: attach nothing */

static void kvl_sys_sync(struct work_struct *work);
static DECLARE_DELAYED_WORK(kvl_sys_work, kvl_sys_sync);

static unsigned int syscall_linger_ms = 10000;
static bool kvl_sys_wanted(void);

/* A new value re-arms a detach that lingers (the tests set 0 to see it). */
static int kvl_linger_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_uint(val, kp);

	if (!ret && !kvl_sys_wanted() && READ_ONCE(kvl_sys_on))
		mod_delayed_work(system_wq, &kvl_sys_work,
				 msecs_to_jiffies(READ_ONCE(syscall_linger_ms)));
	return ret;
}

static const struct kernel_param_ops kvl_linger_ops = {
	.set = kvl_linger_set,
	.get = param_get_uint,
};
module_param_cb(syscall_linger_ms, &kvl_linger_ops, &syscall_linger_ms, 0644);
MODULE_PARM_DESC(syscall_linger_ms, "keep the system-call probes this long after the last VM went (default 10000): a VM started meanwhile is watched from its first call; a write re-arms a lingering detach");

/*
 * Under kvl_attach_lock.  The engine queues doorbells only while the
 * system calls are seen: one rung before the attach would be taken by a
 * later submission, and every request after it shifted by one doorbell.
 * So it learns of an attach after it, and of a detach before it.
 */
static void kvl_sys_set_on(bool on)
{
	WRITE_ONCE(kvl_sys_on, on);
	kvl_engine_set_syscalls_watched(&kvl_engine, on);
}

static bool kvl_sys_wanted(void)
{
	return syscall_probes_always || READ_ONCE(kvl_engine.nr_vms);
}

/*
 * After the engine's VM count changed: a VM added (the engine's vm_added),
 * a process gone, the pid filter.  Not on every exit: a VM asks once, when
 * it joins the table.  The barrier orders that nr_vms store before the
 * kvl_sys_on load, and pairs with kvl_sys_sync()'s after a detach: a VM
 * that joins while the worker detaches is either seen by the worker's
 * second look or sees kvl_sys_on clear and queues it again.
 */
void kvl_sys_check(void)
{
	bool want;

	smp_mb();	/* the caller's nr_vms store, then kvl_sys_on's load */
	want = kvl_sys_wanted();

	if (!want && READ_ONCE(kvl_sys_failed))
		WRITE_ONCE(kvl_sys_failed, false);	/* the next first VM retries */
	if (READ_ONCE(kvl_sys_on) == want || (want && READ_ONCE(kvl_sys_failed)))
		return;
	if (want)	/* at once, a lingering detach or not */
		mod_delayed_work(system_wq, &kvl_sys_work, 0);
	else
		schedule_delayed_work(&kvl_sys_work,
				      msecs_to_jiffies(READ_ONCE(syscall_linger_ms)));
}

/* ---- KVM ---- */

DEFINE_PER_CPU(struct kvl_exit_info, kvl_exit_info);

/* @ask: the reason is kvm_x86_ops' to tell (kvm_exit from 5.16) */
static __always_inline void kvl_do_exit(struct kvm_vcpu *vcpu, u32 isa,
					u32 reason, bool ask)
{
	if (!kvl_task_ok())
		return;
	kvl_probe_begin();
	if (ask)
		reason = kvl_kvm_exit_reason(vcpu, isa);
	kvl_ev_exit(&kvl_engine, current->tgid, current->pid,
		    current->group_leader->comm, vcpu->vcpu_id, isa, reason,
		    kvl_now());
	kvl_probe_end();
}

/* kvm_exit up to 5.15 */
static void kvl_probe_kvm_exit_3(void *data, unsigned int exit_reason,
				 struct kvm_vcpu *vcpu, u32 isa)
{
	kvl_do_exit(vcpu, isa, exit_reason, false);
}

/* kvm_exit from 5.16 */
static void kvl_probe_kvm_exit_2(void *data, struct kvm_vcpu *vcpu, u32 isa)
{
	kvl_do_exit(vcpu, isa, 0, true);
}

static void kvl_do_entry(struct kvm_vcpu *vcpu)
{
	if (!kvl_task_ok())
		return;
	kvl_probe_begin();
	kvl_ev_entry(&kvl_engine, current->tgid, current->pid, kvl_now());
	kvl_probe_end();
}

static void kvl_probe_kvm_entry_1(void *data, struct kvm_vcpu *vcpu)
{
	kvl_do_entry(vcpu);
}

static void kvl_probe_kvm_entry_2(void *data, struct kvm_vcpu *vcpu,
				  bool force_immediate_exit)
{
	kvl_do_entry(vcpu);
}

/* kvl_read_fn: the current process's memory (QEMU's), never faulting */
static int kvl_read_qemu(u64 hva, void *buf, u32 len)
{
	return copy_from_user_nofault(buf, (const void __user *)
				      (unsigned long)hva, len) ? -EFAULT : 0;
}

static void kvl_vq_locate(u64 addr);

static void kvl_doorbell(bool pio, u64 addr)
{
	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	/* no clock read: a doorbell takes the time of its exit */
	kvl_ev_doorbell(&kvl_engine, current->tgid, current->pid, pio, addr, 0);
	if (!pio && virtqueues)
		kvl_vq_locate(addr);
	kvl_probe_end();
}

/*
 * The memory slot of guest-physical @gpa, by the ringing vCPU's memory
 * slots, KVM's own lookup: in the vCPU thread, handling its exit, the
 * vCPU is loaded on this CPU and holds kvm->srcu, which the lookup needs.
 * The engine keeps the slot, to read descriptors later from any thread of
 * QEMU.  @gpa's address in QEMU's memory, 0 if none.
 */
static u64 kvl_slot_learn(struct kvm_vcpu *vcpu, u64 gpa)
{
	kvl_gfn_to_memslot_fn to_slot = READ_ONCE(kvl_gfn_to_memslot);
	struct kvm_memory_slot *slot;

	slot = to_slot ? to_slot(vcpu, gpa >> PAGE_SHIFT) : NULL;
	if (!slot || !slot->npages)
		return 0;
#ifdef KVM_MEMSLOT_INVALID
	if (slot->flags & KVM_MEMSLOT_INVALID)
		return 0;
#endif
	kvl_ev_mem_slot(&kvl_engine, current->tgid,
			(u64)slot->base_gfn << PAGE_SHIFT,
			(u64)slot->npages << PAGE_SHIFT, slot->userspace_addr);
	return slot->userspace_addr +
	       (gpa - ((u64)slot->base_gfn << PAGE_SHIFT));
}

/*
 * A doorbell: its virtqueue's used ring, if not located yet (once per
 * queue; its used index read then, before the request this doorbell
 * announces), and the guest page the engine last could not read.
 */
static void kvl_vq_locate(u64 addr)
{
	kvl_running_vcpu_fn running = READ_ONCE(kvl_running_vcpu);
	struct kvm_vcpu *vcpu;
	bool used;
	u64 gpa, hva;
	u16 idx;

	if (!running)
		return;
	used = kvl_ev_vq_wants_hva(&kvl_engine, current->tgid, addr, &gpa);
	if (!used && !kvl_ev_slot_wanted(&kvl_engine, current->tgid, &gpa))
		return;
	vcpu = running();
	if (!vcpu)
		return;
	hva = kvl_slot_learn(vcpu, gpa);
	if (!hva || !used)
		return;
	/* struct vring_used: flags, then the index */
	if (kvl_read_qemu(hva + 2, &idx, sizeof(idx)))
		kvl_ev_vq_hva(&kvl_engine, current->tgid, addr, hva, -1);
	else
		kvl_ev_vq_hva(&kvl_engine, current->tgid, addr, hva, idx);
}

/*
 * A write QEMU handles (the device's common configuration): the engine
 * learns the virtqueues from them.  @val: the data written, in the
 * kernel, @len bytes (at most 4 for the ones wanted).
 */
static void kvl_mmio_learn(u64 gpa, int len, const void *val)
{
	u64 v = 0;

	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	memcpy(&v, val, len);
	kvl_probe_begin();
	kvl_ev_mmio_write(&kvl_engine, current->tgid, gpa, len, v);
	kvl_probe_end();
}

static void kvl_probe_kvm_mmio(void *data, int type, int len, u64 gpa,
			       void *val)
{
	if (type != KVL_TRACE_MMIO_WRITE)
		return;
	kvl_doorbell(false, gpa);
	if (virtqueues && val && kvl_vq_cfg_write_maybe(gpa, len))
		kvl_mmio_learn(gpa, len, val);
}

static void kvl_probe_kvm_fast_mmio(void *data, u64 gpa)
{
	kvl_doorbell(false, gpa);
}

static void kvl_probe_kvm_pio(void *data, unsigned int rw, unsigned int port,
			      unsigned int size, unsigned int count,
			      kvl_pio_data_t *val)
{
	if (rw == KVL_PIO_OUT)
		kvl_doorbell(true, port);
}

/*
 * KVM_RUN returns to userspace (an exit QEMU handles, a signal): the
 * vCPU's last doorbell was no ioeventfd's.  From KVM's own tracepoint
 * rather than the sys_exit of ioctl, so the system-call probes can return
 * for every ioctl before looking anything up.
 */
static void kvl_probe_kvm_userspace_exit(void *data, __u32 reason, int err)
{
	if (!kvl_userspace_exit_is_io(reason) || !kvl_task_ok() ||
	    !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_userspace_exit(&kvl_engine, current->tgid, current->pid, reason);
	kvl_probe_end();
}

/*
 * Linux AIO's completion ring, mapped in QEMU at the io_submit's context
 * (struct aio_ring in fs/aio.c; the io_events follow the header): QEMU
 * reaps it in userspace, so the module reads it too, in the thread that
 * reaps: when it wakes, when it raises an interrupt, after its reads and
 * before its writes - QEMU's polling loop reaps without waking, right
 * after it reads an eventfd, and its first system call after may be a
 * write (its completion bottom half's eventfd, a log line).  Its new
 * completions' iocbs tell which requests are over.  Nofault reads of a
 * resident, QEMU-written page; a ring that cannot be read is left alone.
 */
#define KVL_AIO_RING_MAGIC	0xa10a10a1
struct kvl_aio_ring {
	u32 id;
	u32 nr;
	u32 head;
	u32 tail;
	u32 magic;
	u32 compat_features;
	u32 incompat_features;
	u32 header_length;
};

/* @now 0: the clock is read only if the ring has news */
static void kvl_ring_look(u64 now)
{
	u64 obj[KVL_RING_LOOK], ring;
	struct kvl_aio_ring h;
	u32 seen, n = 0;

	if (!kvl_ev_ring_where(&kvl_engine, current->tgid, current->pid,
			       &ring, &seen))
		return;
	if (copy_from_user_nofault(&h, (const void __user *)(unsigned long)ring,
				   sizeof(h)) ||
	    h.magic != KVL_AIO_RING_MAGIC || !h.nr || h.tail >= h.nr ||
	    h.header_length != sizeof(h))
		return;
	if (seen == h.tail)
		return;
	if (seen >= h.nr)		/* the first look: from now on */
		seen = h.tail;
	while (seen != h.tail && n < KVL_RING_LOOK) {
		const void __user *p = (const void __user *)(unsigned long)
			(ring + sizeof(h) + (u64)seen * sizeof(struct io_event) +
			 offsetof(struct io_event, obj));

		if (copy_from_user_nofault(&obj[n], p, sizeof(obj[n])))
			break;
		n++;
		seen = seen + 1 == h.nr ? 0 : seen + 1;
	}
	kvl_ev_ring_seen(&kvl_engine, current->tgid, current->pid, seen, obj, n,
			 now ? now : kvl_now());
}

/*
 * Before an interrupt a VM thread raises (@irq), and as an event loop
 * goes back to waiting: the used index of each of its disks' virtqueues
 * (engine/virtqueue.c), nofault reads of guest memory QEMU has just
 * written.  The wait's read catches the completions QEMU raised no
 * interrupt for (EVENT_IDX) while their descriptors still name them:
 * the guest, polling its used ring, may take them back and reuse them.
 */
static void kvl_used_look(bool irq)
{
	u64 hva[KVL_VQS];
	u16 idx[KVL_VQS];
	u32 i, n, ok = 0;

	n = kvl_ev_used_where(&kvl_engine, current->tgid, hva);
	if (!n)
		return;
	for (i = 0; i < n; i++)
		if (hva[i] && !kvl_read_qemu(hva[i], &idx[i], sizeof(idx[i])))
			ok |= 1u << i;
	kvl_ev_used_seen(&kvl_engine, current->tgid, current->pid, idx, ok, n,
			 irq);
}

static void kvl_irq(s32 dest, s32 vector)
{
	u64 now;

	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	now = kvl_now();
	/* what QEMU reaped from the AIO ring before raising it */
	kvl_ring_look(now);
	/* and what QEMU completed */
	if (virtqueues)
		kvl_used_look(true);
	kvl_ev_irq(&kvl_engine, current->tgid, current->pid, dest, vector, now);
	kvl_probe_end();
}

static void kvl_probe_kvm_msi_set_irq(void *data, u64 address, u64 msi_data)
{
	/* physical destination mode: the APIC id is in address bits 19:12 */
	bool logical = address & (1ULL << 2);

	kvl_irq(logical ? -1 : (s32)((address >> 12) & 0xff),
		(s32)(msi_data & 0xff));
}

static void kvl_probe_kvm_set_irq(void *data, unsigned int gsi, int level,
				  int irq_source_id)
{
	if (level && !kvl_gsi_not_io(gsi))
		kvl_irq(-1, -1);
}

static void kvl_probe_kvm_apic_accept_irq(void *data, u32 apicid, u16 dm,
					  u16 tm, u8 vec)
{
	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_apic_accept(&kvl_engine, current->tgid, current->pid, apicid,
			   vec, kvl_now());
	kvl_probe_end();
}

/*
 * APICv/AVIC delivered the interrupt just accepted (5.17+): traced by
 * svm_complete_interrupt_delivery() and vmx_deliver_interrupt() right
 * after __apic_accept_irq()'s kvm_apic_accept_irq, in the same thread.
 */
static void kvl_probe_kvm_apicv_accept_irq(void *data, u32 apicid, u16 dm,
					   u16 tm, u8 vec)
{
	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_apicv_accept(&kvl_engine, current->tgid, current->pid, apicid,
			    vec, kvl_now());
	kvl_probe_end();
}

static void kvl_do_inj_virq(unsigned int vector)
{
	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_inj_virq(&kvl_engine, current->tgid, current->pid, vector,
			kvl_now());
	kvl_probe_end();
}

/* kvm_inj_virq up to 5.18 */
static void kvl_probe_kvm_inj_virq_1(void *data, unsigned int irq)
{
	kvl_do_inj_virq(irq);
}

/* kvm_inj_virq from 5.19 */
static void kvl_probe_kvm_inj_virq_3(void *data, unsigned int vector,
				     bool soft, bool reinjected)
{
	kvl_do_inj_virq(vector);
}

/* ---- syscalls and process exit ---- */

/*
 * What an io_submit took: its first iocbs' addresses, file descriptors
 * and offsets (the requests' disks and blocks).  Read at its return:
 * QEMU's array and iocbs are still there (ioq_submit() waits for the
 * call), resident as it has just written them; what faults is left
 * unknown.  At most KVL_SUBMIT_FDS * 5 / 4 copies, none of them sleeping.
 */
struct kvl_iocb_target {	/* struct iocb from aio_fildes to aio_offset */
	u32 fildes;
	u64 buf;
	u64 nbytes;
	s64 offset;
} __packed;

static u32 kvl_iocb_read(const struct pt_regs *regs, long taken,
			 struct kvl_iocb_info *io)
{
	const u64 __user *iocbpp = (const u64 __user *)regs->dx;
	u64 iocb[4];		/* pointers read a few at a time: a small frame */
	u32 i, j, n, m;

	BUILD_BUG_ON(offsetof(struct iocb, aio_offset) -
		     offsetof(struct iocb, aio_fildes) !=
		     offsetof(struct kvl_iocb_target, offset));
	if (taken <= 0)
		return 0;
	n = min_t(long, taken, KVL_SUBMIT_FDS);
	for (i = 0; i < n; i += m) {
		m = min_t(u32, n - i, ARRAY_SIZE(iocb));
		if (copy_from_user_nofault(iocb, iocbpp + i, m * sizeof(iocb[0])))
			return i;
		for (j = 0; j < m; j++) {
			const void __user *p = (const void __user *)(unsigned long)
				(iocb[j] + offsetof(struct iocb, aio_fildes));
			struct kvl_iocb_target v;

			if (copy_from_user_nofault(&v, p, sizeof(v)))
				return i + j;
			io[i + j].iocb = iocb[j];
			io[i + j].fd = (s32)v.fildes;
			io[i + j].off = v.offset;
		}
	}
	return n;
}

/*
 * The tests a system call's probe makes before it looks at the call, which
 * a hook's entry handler has made already (@tracked, syshooks.c): a VM's
 * task, in process context, a 64-bit call.  What the filter lets through
 * at a call's entry it lets through at its return, but for kvl_enabled.
 */
static bool kvl_sys_task_ok(bool tracked)
{
	if (tracked)
		return READ_ONCE(kvl_enabled);
	return kvl_sys_exit_wanted();
}

/*
 * An event loop reads @fd: maybe a queue's ioeventfd (engine/virtqueue.c).
 * True: its return may matter (always, unless a hook asks, @tracked).
 */
static bool kvl_read_enter(s32 fd, bool tracked)
{
	bool ret = true;

	if (!tracked && !virtqueues)
		return true;
	if (!kvl_sys_task_ok(tracked))
		return false;
	kvl_probe_begin();
	/* every read() of QEMU's comes here: the clock only for an ioeventfd's */
	if (virtqueues && kvl_ev_fd_known(&kvl_engine, current->tgid, fd))
		kvl_ev_fd_read(&kvl_engine, current->tgid, current->pid, fd,
			       kvl_now());
	if (tracked)
		ret = kvl_ev_return_wanted(&kvl_engine, current->tgid,
					   current->pid, KVL_NR_read, fd);
	kvl_probe_end();
	return ret;
}

/*
 * QEMU wires a notify address to an eventfd (KVM_IOEVENTFD on the VM):
 * @a is the kernel's copy (kvm_ioeventfd()'s argument, syshooks.c) or,
 * when @user, QEMU's (the ioctl's, from its sys_enter).
 */
void kvl_ioeventfd(const struct kvm_ioeventfd *a, bool user)
{
	struct kvm_ioeventfd k;

	if (!virtqueues || !kvl_engine_maybe_vm(&kvl_engine, current->tgid) ||
	    !kvl_task_ok() || in_compat_syscall())
		return;
	if (user) {
		if (copy_from_user_nofault(&k, (const void __user *)a, sizeof(k)))
			return;
		a = &k;
	}
	if (a->flags & (1 << kvm_ioeventfd_flag_nr_pio))
		return;
	kvl_probe_begin();
	kvl_ev_ioeventfd(&kvl_engine, current->tgid, a->fd, a->addr,
			 !(a->flags & (1 << kvm_ioeventfd_flag_nr_deassign)));
	kvl_probe_end();
}

/*
 * A system call's entry: from raw_syscalls' sys_enter, or from a hook on
 * the call's own function (syshooks.c), with QEMU's registers; @tracked:
 * the hook's filter passed this task (kvl_sys_task_ok()).  False: the
 * call's return cannot matter, the hook need not arm it.
 */
bool kvl_sys_enter(const struct pt_regs *regs, long id, bool tracked)
{
	enum kvl_sys_class cls = id < 0 ? KVL_SYS_NONE : kvl_sys_class((u32)id);
	s64 pos = KVL_OFF_UNKNOWN;
	u32 arg = 0;
	bool ret;

	/*
	 * The engine wants no entry but these (ioctl's only their exits),
	 * and a write's for the AIO ring: before it, not after (QEMU's
	 * polling loop may reap and then write its first line, a log's);
	 * a read's file descriptor (an ioeventfd's: which queue QEMU
	 * serves next) and QEMU's KVM_IOEVENTFD.
	 */
	if (id == __NR_read)
		return kvl_read_enter((s32)regs->di, tracked);
	if (cls == KVL_SYS_IOCTL && regs->si == KVM_IOEVENTFD) {
		kvl_ioeventfd((const struct kvm_ioeventfd *)regs->dx, true);
		return true;
	}
	if ((cls == KVL_SYS_NONE && id != __NR_write) || cls == KVL_SYS_IOCTL)
		return true;
	if (!kvl_sys_task_ok(tracked))
		return false;
	if (cls == KVL_SYS_NONE) {	/* write */
		kvl_probe_begin();
		kvl_ring_look(0);
		ret = !tracked || kvl_ev_return_wanted(&kvl_engine,
						       current->tgid,
						       current->pid,
						       KVL_NR_write, -1);
		kvl_probe_end();
		return ret;
	}
	switch (cls) {
	case KVL_SYS_SUBMIT:
		arg = (u32)min_t(unsigned long, regs->si, U32_MAX);
		break;
	case KVL_SYS_URING:	/* flags (4th arg) | min_complete (3rd) << 16 */
		arg = (u32)(regs->r10 & 0xffff) |
		      ((u32)min_t(unsigned long, regs->dx, 0xffff) << 16);
		break;
	case KVL_SYS_POOL_IO:	/* the file descriptor and offset: the block */
		arg = (u32)regs->di;
		if (kvl_sys_has_offset((u32)id))
			pos = (s64)regs->r10;
		break;
	default:
		break;
	}
	kvl_probe_begin();
	if (cls == KVL_SYS_WAIT && virtqueues)
		kvl_used_look(false);
	ret = kvl_ev_sys_enter(&kvl_engine, current->tgid, current->pid,
			       (u32)id, arg, pos, kvl_now());
	kvl_probe_end();
	return ret;
}

/* What one io_submit took: per CPU, as 64 of them would make a 1.5 KiB frame */
struct kvl_submit_buf {
	struct kvl_iocb_info io[KVL_SUBMIT_FDS];
};

static DEFINE_PER_CPU(struct kvl_submit_buf, kvl_submit_buf);

/* io_submit returns, preemption off (kvl_probe_begin()): the requests it took */
static void kvl_io_submit_exit(const struct pt_regs *regs, long ret, u64 now)
{
	struct kvl_iocb_info *io = this_cpu_ptr(&kvl_submit_buf)->io;
	u32 n = kvl_iocb_read(regs, ret, io);

	kvl_ev_io_submit_exit(&kvl_engine, current->tgid, current->pid,
			      regs->di, io, n, ret, now);
}

/* A system call's return, as kvl_sys_enter() its entry. */
void kvl_sys_exit(const struct pt_regs *regs, long ret, bool tracked)
{
	long id = syscall_get_nr(current, (struct pt_regs *)regs);
	enum kvl_sys_class cls;
	u64 now;

	if (id < 0)
		return;
	cls = kvl_sys_class((u32)id);
	if (cls == KVL_SYS_IOCTL)	/* kvm_userspace_exit has KVM_RUN's */
		return;
	if (!kvl_sys_task_ok(tracked))
		return;
	kvl_probe_begin();
	now = cls == KVL_SYS_NONE ? 0 : kvl_now();
	if (cls == KVL_SYS_SUBMIT)
		kvl_io_submit_exit(regs, ret, now);
	else	/* any other return flushes a pending interrupt (engine/irq.c) */
		kvl_ev_sys_exit(&kvl_engine, current->tgid, current->pid,
				(u32)id, ret, now);
	/* an event loop woke or read: what it is about to reap */
	if (cls == KVL_SYS_WAIT || cls == KVL_SYS_URING || id == __NR_read)
		kvl_ring_look(now);
	kvl_probe_end();
}

static void kvl_probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	kvl_sys_enter(regs, id, false);
}

static void kvl_probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	kvl_sys_exit(regs, ret, false);
}

static void kvl_do_process_exit(struct task_struct *p, bool group_dead)
{
	if (!kvl_engine_maybe_vm(&kvl_engine, p->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_task_exit(&kvl_engine, p->tgid, p->pid, group_dead,
			 group_dead ? kvl_now() : 0);
	kvl_probe_end();
	kvl_sys_check();
}

/* sched_process_exit up to 6.15 */
static void kvl_probe_process_exit_1(void *data, struct task_struct *p)
{
	kvl_do_process_exit(p, kvl_group_dead(p));
}

/* sched_process_exit from 6.16 */
static void kvl_probe_process_exit_2(void *data, struct task_struct *p,
				     bool group_dead)
{
	kvl_do_process_exit(p, group_dead);
}

#define KVL_PROBE_PROCESS_EXIT						\
	__builtin_choose_expr(KVL_SCHED_PROCESS_EXIT_GROUP_DEAD,	\
			      kvl_probe_process_exit_2,			\
			      kvl_probe_process_exit_1)

/* ---- io_uring (aio=io_uring): one event per request ---- */

static void kvl_uring_submit(void *ctx, u64 user_data, u8 op, s32 fd, s64 off)
{
	if (!kvl_task_ok() || !kvl_engine_maybe_vm(&kvl_engine, current->tgid))
		return;
	kvl_probe_begin();
	kvl_ev_uring_submit(&kvl_engine, current->tgid, current->pid,
			    (u64)(unsigned long)ctx, user_data, op, fd, off,
			    kvl_now());
	kvl_probe_end();
}

#if KVL_URING_REQ_TYPED
static void kvl_uring_submit_req(struct io_kiocb *req)
{
	kvl_uring_submit(req->ctx, req->cqe.user_data, req->opcode,
			 kvl_uring_req_fd(req), kvl_uring_req_off(req));
}

#ifdef KVL_HAVE_IO_URING_SUBMIT_REQ
static void kvl_probe_uring_submit(void *data, struct io_kiocb *req)
{
	kvl_uring_submit_req(req);
}
#else
static void kvl_probe_uring_submit(void *data, struct io_kiocb *req,
				   bool force_nonblock)
{
	kvl_uring_submit_req(req);
}
#endif
#else
static void kvl_probe_uring_submit(void *data, void *ctx, void *req, u8 opcode,
				   u64 user_data, u32 flags,
				   bool force_nonblock, bool sq_thread)
{
	kvl_uring_submit(ctx, user_data, opcode, KVL_FD_UNKNOWN,
			 KVL_OFF_UNKNOWN);
}
#endif

/*
 * A completion: in the submitting task (task_work), an io-wq worker of
 * the same process, or, on older kernels, the interrupt that ended the
 * I/O, where the task is anybody's: the engine then finds the VM by ring.
 */
static void kvl_uring_complete(void *ctx, u64 user_data)
{
	bool task = in_task();

	if (!READ_ONCE(kvl_enabled) ||
	    (task && !kvl_engine_maybe_vm(&kvl_engine, current->tgid)))
		return;
	kvl_probe_begin();
	kvl_ev_uring_complete(&kvl_engine, task ? current->tgid : 0,
			      current->pid, (u64)(unsigned long)ctx, user_data,
			      kvl_now());
	kvl_probe_end();
}

static void kvl_probe_uring_complete_cqe(void *data, struct io_ring_ctx *ctx,
					 void *req, struct io_uring_cqe *cqe)
{
	kvl_uring_complete(ctx, cqe->user_data);
}

static void kvl_probe_uring_complete_req(void *data, void *ctx, void *req,
					 u64 user_data, int res,
					 unsigned int cflags, u64 extra1,
					 u64 extra2)
{
	kvl_uring_complete(ctx, user_data);
}

static void kvl_probe_uring_complete_old(void *data, void *ctx, u64 user_data,
					 int res, unsigned int cflags)
{
	kvl_uring_complete(ctx, user_data);
}

#define KVL_PROBE_URING_COMPLETE					\
	__builtin_choose_expr(KVL_URING_COMPLETE_CQE,			\
			      kvl_probe_uring_complete_cqe,		\
	__builtin_choose_expr(KVL_URING_COMPLETE_REQ,			\
			      kvl_probe_uring_complete_req,		\
			      kvl_probe_uring_complete_old))

/* ---- attaching ---- */

struct kvl_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;	/* NULL while not attached */
	struct tracepoint *found;	/* core tracepoints: found at init */
};

static struct kvl_tp kvl_core_tps[] = {
	{ "sched_process_exit", NULL },	/* see kvl_probes_init() */
	{ "sys_enter", kvl_probe_sys_enter },
	{ "sys_exit", kvl_probe_sys_exit },
};

/*
 * io_uring's, with the system-call probes (QEMU's io_uring_enter is one
 * of them); optional: a kernel without CONFIG_IO_URING has none.
 */
static struct kvl_tp kvl_uring_tps[] = {
	{ KVL_URING_SUBMIT_TP, kvl_probe_uring_submit },
	{ "io_uring_complete", NULL },	/* see kvl_probes_init() */
};

/* kvl_core_tps[KVL_CORE_SYS...]: attached while a VM is tracked */
#define KVL_CORE_SYS	1

static struct kvl_tp kvl_kvm_tps[] = {
	{ "kvm_exit", NULL },	/* these two: see kvl_probes_init() */
	{ "kvm_entry", NULL },
	{ "kvm_userspace_exit", kvl_probe_kvm_userspace_exit },
	{ "kvm_mmio", kvl_probe_kvm_mmio },
	{ "kvm_fast_mmio", kvl_probe_kvm_fast_mmio },
	{ "kvm_pio", kvl_probe_kvm_pio },
	{ "kvm_msi_set_irq", kvl_probe_kvm_msi_set_irq },
	{ "kvm_set_irq", kvl_probe_kvm_set_irq },
	{ "kvm_apic_accept_irq", kvl_probe_kvm_apic_accept_irq },
	{ "kvm_apicv_accept_irq", kvl_probe_kvm_apicv_accept_irq },
	{ "kvm_inj_virq", NULL },	/* see kvl_probes_init() */
};

/* kvl_kvm_tps[KVL_KVM_APICV]: whether interrupts say they were posted */
#define KVL_KVM_APICV	(ARRAY_SIZE(kvl_kvm_tps) - 2)

/* kvm_exit, kvm_entry and kvm_userspace_exit are required; the rest refine. */
#define KVL_KVM_REQUIRED	3

static DEFINE_MUTEX(kvl_attach_lock);
static bool kvl_kvm_live;

bool kvl_kvm_attached(void)
{
	bool ret;

	mutex_lock(&kvl_attach_lock);
	ret = kvl_kvm_live;
	mutex_unlock(&kvl_attach_lock);
	return ret;
}

static void kvl_detach(struct kvl_tp *tps, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!tps[i].tp)
			continue;
		WARN_ON_ONCE(tracepoint_probe_unregister(tps[i].tp,
							 tps[i].probe, NULL));
		tps[i].tp = NULL;
	}
}

static int kvl_attach_one(struct kvl_tp *t, struct tracepoint *tp)
{
	int ret;

	if (t->tp || !tp || strcmp(tp->name, t->name))
		return 0;
	/*
	 * Below the default priority, so ftrace, perf and BPF probes on the
	 * same tracepoint run first: a trace taken alongside us (kvmio-lat
	 * record) keeps timestamps our probe has not delayed, and ours carry
	 * their roughly constant cost instead, which cancels out in stages.
	 */
	ret = tracepoint_probe_register_prio(tp, t->probe, NULL,
					     TRACEPOINT_DEFAULT_PRIO - 1);
	if (ret) {
		pr_err("cannot attach to %s: %d\n", t->name, ret);
		return ret;
	}
	t->tp = tp;
	return 0;
}

struct kvl_lookup {
	struct kvl_tp *tps;
	unsigned int n;
};

static void kvl_core_lookup(struct tracepoint *tp, void *priv)
{
	struct kvl_lookup *l = priv;
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(tp->name, l->tps[i].name))
			l->tps[i].found = tp;
}

/*
 * Under kvl_attach_lock: io_uring's tracepoints, those the kernel has.
 * Requests are followed to their traced completion only if both came;
 * without them (or if attaching fails, logged) io_uring_enter is still
 * a wait, and the other paths are measured as before.
 */
static void kvl_uring_attach(void)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(kvl_uring_tps) && !ret; i++)
		ret = kvl_attach_one(&kvl_uring_tps[i], kvl_uring_tps[i].found);
	if (ret)
		kvl_detach(kvl_uring_tps, ARRAY_SIZE(kvl_uring_tps));
	kvl_engine_set_uring_traced(&kvl_engine, kvl_uring_tps[0].tp &&
				    kvl_uring_tps[1].tp);
}

static void kvl_sys_detach(void);

/* Under kvl_attach_lock: the system-call probes on, one way or the other */
static int kvl_sys_attach(void)
{
	unsigned int i;
	int ret = 0;

	if (kvl_hooks_kprobe) {
		ret = kvl_syshooks_attach(kvl_engine.cfg.max_vms);
	} else {
		for (i = KVL_CORE_SYS; i < ARRAY_SIZE(kvl_core_tps) && !ret; i++)
			ret = kvl_attach_one(&kvl_core_tps[i],
					     kvl_core_tps[i].found);
	}
	if (ret) {
		kvl_sys_detach();
		return ret;
	}
	kvl_uring_attach();
	return 0;
}

/* ... and off: hooks are waited for here, tracepoints by the caller */
static void kvl_sys_detach(void)
{
	kvl_syshooks_detach();
	kvl_detach(kvl_core_tps + KVL_CORE_SYS,
		   ARRAY_SIZE(kvl_core_tps) - KVL_CORE_SYS);
	kvl_engine_set_uring_traced(&kvl_engine, false);
	kvl_detach(kvl_uring_tps, ARRAY_SIZE(kvl_uring_tps));
}

static void kvl_sys_sync(struct work_struct *work)
{
	bool want;

	mutex_lock(&kvl_attach_lock);
	do {
		want = kvl_sys_wanted() && !kvl_stopping;
		if (want && !kvl_sys_on && kvl_sys_attach()) {
			/* logged once: not retried until no VM is left */
			WRITE_ONCE(kvl_sys_failed, true);
			want = false;
		}
		/* the engine stops queueing doorbells before the detach */
		kvl_sys_set_on(want);
		if (want)
			break;
		kvl_sys_detach();
		/* pairs with kvl_sys_check(): a VM that came meanwhile */
		smp_mb();
	} while (kvl_sys_wanted() && !kvl_stopping &&
		 !READ_ONCE(kvl_sys_failed));
	mutex_unlock(&kvl_attach_lock);
}

bool kvl_sys_attached(void)
{
	return READ_ONCE(kvl_sys_on);
}

/* IBT: an indirect call must land on ENDBR64 (f3 0f 1e fa) */
static unsigned long kvl_kvm_callable(struct module *kvm, const char *name)
{
	unsigned long fn = kvl_kvm_symbol(kvm, name, STT_FUNC, 0);

	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) && fn &&
	    *(const u32 *)fn != 0xfa1e0ff3)
		return 0;
	return fn;
}

static void kvl_kvm_used_rings(struct module *kvm)
{
	WRITE_ONCE(kvl_running_vcpu, (kvl_running_vcpu_fn)
		   kvl_kvm_callable(kvm, "kvm_get_running_vcpu"));
	WRITE_ONCE(kvl_gfn_to_memslot, (kvl_gfn_to_memslot_fn)
		   kvl_kvm_callable(kvm, "kvm_vcpu_gfn_to_memslot"));
	if (!kvl_running_vcpu || !kvl_gfn_to_memslot)
		pr_info("kvm's memory slots cannot be read: virtqueues' used rings are not followed\n");
	else if (virtqueues)
		WRITE_ONCE(kvl_engine.read_qemu, kvl_read_qemu);
}

static int kvl_kvm_coming(struct module *mod)
{
	unsigned int i, j, found = 0;
	int ret = 0;

	for (i = 0; i < mod->num_tracepoints && !ret; i++) {
		struct tracepoint *tp =
			tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]);

		for (j = 0; j < ARRAY_SIZE(kvl_kvm_tps) && !ret; j++)
			ret = kvl_attach_one(&kvl_kvm_tps[j], tp);
	}
	for (j = 0; j < KVL_KVM_REQUIRED; j++)
		if (kvl_kvm_tps[j].tp)
			found++;
	if (!ret && found != KVL_KVM_REQUIRED) {
		pr_err("kvm lacks kvm_exit, kvm_entry or kvm_userspace_exit\n");
		ret = -ENOENT;
	}
	if (ret) {
		kvl_detach(kvl_kvm_tps, ARRAY_SIZE(kvl_kvm_tps));
		tracepoint_synchronize_unregister();
		return ret;
	}
	for (j = KVL_KVM_REQUIRED; j < ARRAY_SIZE(kvl_kvm_tps); j++)
		if (!kvl_kvm_tps[j].tp && j != KVL_KVM_APICV)
			pr_info("kvm has no %s tracepoint; stages that need it stay empty\n",
				kvl_kvm_tps[j].name);
	/* before 5.17: posted or injected is told by the vector (engine/irq.c) */
	kvl_engine_set_apicv_traced(&kvl_engine, kvl_kvm_tps[KVL_KVM_APICV].tp);
	if (!kvl_kvm_tps[KVL_KVM_APICV].tp)
		pr_info("kvm has no kvm_apicv_accept_irq: posted interrupts are told by their vector\n");
	if (KVL_KVM_EXIT_TWO_ARGS) {
		WRITE_ONCE(kvl_x86_ops, kvl_find_kvm_x86_ops(mod));
		if (!kvl_x86_ops)
			pr_info("no usable kvm_x86_ops in kvm: exit reasons are reported as \"other\"\n");
	}
	kvl_kvm_used_rings(mod);
	if (kvl_hooks_kprobe && virtqueues)
		kvl_syshooks_kvm_coming();	/* KVM_IOEVENTFD; optional */
	kvl_kvm_live = true;
	pr_info("attached to kvm\n");
	return 0;
}

static void kvl_kvm_going(void)
{
	kvl_syshooks_kvm_going();
	kvl_detach(kvl_kvm_tps, ARRAY_SIZE(kvl_kvm_tps));
	/* no probe may still be running on kvm's memory or its kvm_x86_ops */
	tracepoint_synchronize_unregister();
	WRITE_ONCE(kvl_x86_ops, NULL);
	WRITE_ONCE(kvl_running_vcpu, NULL);
	WRITE_ONCE(kvl_gfn_to_memslot, NULL);
	WRITE_ONCE(kvl_engine.read_qemu, NULL);
	kvl_engine_set_apicv_traced(&kvl_engine, false);
	kvl_kvm_live = false;
	pr_info("kvm unloaded; detached\n");
}

static int kvl_tp_module_notify(struct notifier_block *nb, unsigned long val,
				void *data)
{
	struct tp_module *tp_mod = data;

	if (strcmp(tp_mod->mod->name, "kvm"))
		return NOTIFY_OK;
	mutex_lock(&kvl_attach_lock);
	if (val == MODULE_STATE_COMING && !kvl_kvm_live)
		kvl_kvm_coming(tp_mod->mod);
	else if (val == MODULE_STATE_GOING && kvl_kvm_live)
		kvl_kvm_going();
	mutex_unlock(&kvl_attach_lock);
	return NOTIFY_OK;
}

static struct notifier_block kvl_tp_module_nb = {
	.notifier_call = kvl_tp_module_notify,
};

/*
 * Every probe off, and once none can still be running, the work item that
 * attaches the system-call probes cancelled (a queued run finds
 * kvl_stopping set).  For unloading, and for a load that failed part way.
 */
static void kvl_probes_stop(void)
{
	mutex_lock(&kvl_attach_lock);
	kvl_stopping = true;
	kvl_detach(kvl_kvm_tps, ARRAY_SIZE(kvl_kvm_tps));
	kvl_kvm_live = false;
	kvl_syshooks_kvm_going();
	kvl_sys_set_on(false);
	kvl_sys_detach();
	kvl_detach(kvl_core_tps, ARRAY_SIZE(kvl_core_tps));
	mutex_unlock(&kvl_attach_lock);
	tracepoint_synchronize_unregister();
	cancel_delayed_work_sync(&kvl_sys_work);
}

int kvl_probes_init(void)
{
	struct kvl_lookup l = { kvl_core_tps, ARRAY_SIZE(kvl_core_tps) };
	struct kvl_lookup lu = { kvl_uring_tps, ARRAY_SIZE(kvl_uring_tps) };
	unsigned int i;
	int ret;

	ret = kvl_clock_init();
	if (ret)
		return ret;
	if (kvl_hooks_want == KVL_HOOKS_KPROBE && !kvl_syshooks_possible()) {
		pr_err("syscall_hooks=kprobe: this kernel has no kretprobes on ftrace\n");
		return -EINVAL;
	}
	kvl_hooks_kprobe = kvl_hooks_want != KVL_HOOKS_TRACEPOINT &&
			   kvl_syshooks_possible();
	pr_info("system calls: %s\n", kvl_hooks_kprobe ?
		"kretprobes on the calls QEMU's I/O makes" : "raw_syscalls tracepoints");

	/* the probes matching this kernel's prototypes (wrapper/) */
	kvl_kvm_tps[0].probe = KVL_KVM_EXIT_TWO_ARGS ?
		(void *)kvl_probe_kvm_exit_2 : (void *)kvl_probe_kvm_exit_3;
	kvl_kvm_tps[1].probe = KVL_KVM_ENTRY_ONE_ARG ?
		(void *)kvl_probe_kvm_entry_1 : (void *)kvl_probe_kvm_entry_2;
	kvl_kvm_tps[ARRAY_SIZE(kvl_kvm_tps) - 1].probe =
		KVL_KVM_INJ_VIRQ_THREE_ARGS ? (void *)kvl_probe_kvm_inj_virq_3 :
		(void *)kvl_probe_kvm_inj_virq_1;
	kvl_core_tps[0].probe = (void *)KVL_PROBE_PROCESS_EXIT;
	kvl_uring_tps[1].probe = (void *)KVL_PROBE_URING_COMPLETE;

	/*
	 * Where the headers declare the tracepoint, the compiler checks the
	 * probe against it; arch/x86/kvm/trace.h is not in the headers, so
	 * the others are checked against each booted kernel's BTF in the lab
	 * (scripts/matrix/protos.sh).
	 */
	check_trace_callback_type_sys_enter(kvl_probe_sys_enter);
	check_trace_callback_type_sys_exit(kvl_probe_sys_exit);
	check_trace_callback_type_sched_process_exit(KVL_PROBE_PROCESS_EXIT);
	check_trace_callback_type_kvm_mmio(kvl_probe_kvm_mmio);
	check_trace_callback_type_kvm_userspace_exit(kvl_probe_kvm_userspace_exit);
	check_trace_callback_type_kvm_set_irq(kvl_probe_kvm_set_irq);
	check_trace_callback_type_io_uring_complete(KVL_PROBE_URING_COMPLETE);
#ifdef KVL_HAVE_IO_URING_SUBMIT_REQ
	check_trace_callback_type_io_uring_submit_req(kvl_probe_uring_submit);
#else
	check_trace_callback_type_io_uring_submit_sqe(kvl_probe_uring_submit);
#endif

	for_each_kernel_tracepoint(kvl_core_lookup, &l);
	for_each_kernel_tracepoint(kvl_core_lookup, &lu);
	for (i = 0; i < ARRAY_SIZE(kvl_uring_tps); i++)
		if (!kvl_uring_tps[i].found)
			pr_info("no %s tracepoint (CONFIG_IO_URING?): aio=io_uring requests are not followed to their completion\n",
				kvl_uring_tps[i].name);
	for (i = 0; i < ARRAY_SIZE(kvl_core_tps); i++) {
		if (!kvl_core_tps[i].found) {
			pr_err("kernel tracepoint %s not found (CONFIG_FTRACE_SYSCALLS?)\n",
			       kvl_core_tps[i].name);
			return -ENOENT;
		}
	}
	/* the system-call probes come with the first VM (kvl_sys_sync()) */
	ret = kvl_attach_one(&kvl_core_tps[0], kvl_core_tps[0].found);
	if (ret)
		return ret;
	if (syscall_probes_always) {	/* ... or now */
		mutex_lock(&kvl_attach_lock);
		ret = kvl_sys_attach();
		if (!ret)
			kvl_sys_set_on(true);
		mutex_unlock(&kvl_attach_lock);
		if (ret)
			goto err_core;
	}

	ret = register_tracepoint_module_notifier(&kvl_tp_module_nb);
	if (ret) {
		pr_err("cannot register the tracepoint module notifier: %d\n", ret);
		goto err_core;
	}
	return 0;

err_core:
	kvl_probes_stop();
	return ret;
}

void kvl_probes_exit(void)
{
	unregister_tracepoint_module_notifier(&kvl_tp_module_nb);
	kvl_probes_stop();
}
