/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engine_fixture.h - an engine in userspace for tests: calloc()-backed
 * allocation ops, counted so leaks show, and helpers that play one QEMU
 * request through the engine the way the kernel probes would.
 */
#ifndef KVMIO_LAT_ENGINE_FIXTURE_H
#define KVMIO_LAT_ENGINE_FIXTURE_H

#include <stdlib.h>
#include <stdio.h>
#include <stdarg.h>
#include "kvmio_lat/engine.h"

/* x86-64 syscall numbers used by the streams */
#define SYS_ppoll	271
#define SYS_io_submit	209
#define SYS_io_getevents 208
#define SYS_pread64	17
#define SYS_pwrite64	18
#define SYS_ioctl	16
#define SYS_futex	202
#define SYS_write	1
#define SYS_read	0

struct fx {
	struct kvl_engine eng;
	struct kvl_vm *vms[64];
	int live_vms, live_vcpus;
	int fail_vcpu_alloc;
};

static struct kvl_vm *fx_alloc_vm(struct kvl_engine *eng)
{
	struct fx *f = (struct fx *)eng;
	struct kvl_vm *vm = kvl_aligned_alloc(kvl_vm_size(&eng->cfg));

	if (!vm)
		return NULL;
	kvl_vm_init(vm, &eng->cfg);
	f->live_vms++;
	return vm;
}

static void fx_free_vm(struct kvl_engine *eng, struct kvl_vm *vm)
{
	struct fx *f = (struct fx *)eng;
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		free(vm->vcpus[i]);
		f->live_vcpus--;
	}
	free(vm);
	f->live_vms--;
}

static struct kvl_vcpu *fx_alloc_vcpu(struct kvl_engine *eng, struct kvl_vm *vm)
{
	struct fx *f = (struct fx *)eng;
	struct kvl_vcpu *v;

	(void)vm;
	if (f->fail_vcpu_alloc)
		return NULL;
	/* not zeroed: kvl_vcpu_prepare() must not rely on it */
	v = kvl_aligned_alloc(sizeof(*v));
	if (!v)
		return NULL;
	memset(v, 0xa5, sizeof(*v));
	kvl_vcpu_prepare(v);
	f->live_vcpus++;
	return v;
}

static const struct kvl_alloc_ops fx_ops = {
	.alloc_vm = fx_alloc_vm,
	.free_vm = fx_free_vm,
	.alloc_vcpu = fx_alloc_vcpu,
};

static inline void fx_init_cfg(struct fx *f, const struct kvl_config *cfg)
{
	struct kvl_config c;

	if (cfg) {
		c = *cfg;
	} else {
		kvl_config_defaults(&c);
		c.max_vms = 8;
	}
	memset(f, 0, sizeof(*f));
	kvl_config_check(&c);
	kvl_engine_init(&f->eng, &c, &fx_ops, f->vms);
}

static inline void fx_init(struct fx *f)
{
	fx_init_cfg(f, NULL);
}

static inline void fx_fini(struct fx *f)
{
	kvl_engine_drop_all(&f->eng);
}

#define PID	1000
#define MAIN	1001	/* event loop */
#define POOL	1002	/* pool worker */
#define VCPU0	1010
#define VCPU1	1011
#define REASON_IO	0x7b	/* SVM_EXIT_IOIO */
#define REASON_NPF	0x400	/* SVM_EXIT_NPF */
#define VEC(v)		(0x30 + (v))

/*
 * A vCPU thread: exit, doorbell (an ioeventfd write), entry.  Each vCPU
 * rings a queue of its own, one notify page, as virtio-pci's multiqueue
 * disks do (a queue per vCPU, its MSI-X vector aimed at that vCPU).
 */
#define FX_NOTIFY	0xfebfb000ULL
static inline void fx_doorbell(struct fx *f, int tid, int vcpu, u64 t)
{
	kvl_ev_exit(&f->eng, PID, tid, "qemu", vcpu, KVL_ISA_SVM, REASON_NPF, t);
	kvl_ev_doorbell(&f->eng, PID, tid, false, FX_NOTIFY + 4 * vcpu, t + 1);
	kvl_ev_entry(&f->eng, PID, tid, t + 2);
}

/* The event loop wakes, drains the ioeventfd. */
static inline void fx_wake(struct fx *f, int tid, u64 t)
{
	kvl_ev_sys_exit(&f->eng, PID, tid, SYS_ppoll, 1, t);
}

static inline void fx_wait(struct fx *f, int tid, u64 t)
{
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_ppoll, 0, KVL_OFF_UNKNOWN, t);
}

/* QEMU's file descriptor of the one disk most streams use */
#define FX_DISK		9
/* its AIO context: the address of the completion ring */
#define FX_RING		0x7f0000100000ULL

/*
 * io_submit of @nr iocbs on @fd at @off (NULL: each on FX_DISK, offset
 * unknown), as the module sees it; iocb i at FX_IOCB(i)
 */
#define FX_IOCB(i)	(0x7f0000001000ULL + 0x100ULL * (i))

static inline void fx_io_submit_at(struct fx *f, int tid, int nr,
				   const s32 *fd, const s64 *off, u64 t0, u64 t1)
{
	struct kvl_iocb_info io[KVL_SUBMIT_FDS];
	int i;

	for (i = 0; i < KVL_SUBMIT_FDS; i++) {
		io[i].iocb = FX_IOCB(i);
		io[i].fd = fd ? fd[i < nr ? i : 0] : FX_DISK;
		io[i].off = off ? off[i < nr ? i : 0] : KVL_OFF_UNKNOWN;
	}
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_io_submit, nr, KVL_OFF_UNKNOWN,
			 t0);
	kvl_ev_io_submit_exit(&f->eng, PID, tid, FX_RING, io,
			      nr < KVL_SUBMIT_FDS ? nr : KVL_SUBMIT_FDS, nr, t1);
}

static inline void fx_io_submit_fds(struct fx *f, int tid, int nr,
				    const s32 *fd, u64 t0, u64 t1)
{
	fx_io_submit_at(f, tid, nr, fd, NULL, t0, t1);
}

static inline void fx_io_submit(struct fx *f, int tid, int nr, u64 t0, u64 t1)
{
	fx_io_submit_fds(f, tid, nr, NULL, t0, t1);
}

/* a pool worker's pread64 of @fd at @off */
static inline void fx_pool_io_at(struct fx *f, int tid, s32 fd, s64 off,
				 u64 t0, u64 t1)
{
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_pread64, (u32)fd, off, t0);
	kvl_ev_sys_exit(&f->eng, PID, tid, SYS_pread64, 4096, t1);
}

static inline void fx_pool_io_fd(struct fx *f, int tid, s32 fd, u64 t0, u64 t1)
{
	fx_pool_io_at(f, tid, fd, KVL_OFF_UNKNOWN, t0, t1);
}

static inline void fx_pool_io(struct fx *f, int tid, u64 t0, u64 t1)
{
	fx_pool_io_fd(f, tid, FX_DISK, t0, t1);
}

/* One native request rung by vCPU @vcpu at @t, reaped at @t + 9000. */
static inline void fx_one_native(struct fx *f, int tid, int vcpu, u64 t)
{
	fx_doorbell(f, tid, vcpu, t);
	fx_wake(f, MAIN, t + 1000);
	fx_io_submit(f, MAIN, 1, t + 2000, t + 2500);
	fx_wait(f, MAIN, t + 2600);
	fx_wake(f, MAIN, t + 9000);
}

/*
 * aio=io_uring (QEMU's block/io_uring.c): one ring per event loop; each
 * request's user_data is its LuringAIOCB.  io_uring_enter(fd, n, 0, 0)
 * submits; completions are read from the ring in userspace.
 */
#define SYS_io_uring_enter	426
#define FX_URING		0xffff888000100000ULL
#define FX_LUCB(i)		(0x7f0000002000ULL + 0x100ULL * (i))

static inline void fx_uring_enter(struct fx *f, int tid, u64 t)
{
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_io_uring_enter, 0,
			 KVL_OFF_UNKNOWN, t);
}

static inline void fx_uring_sqe(struct fx *f, int tid, int i, s64 off, u64 t)
{
	kvl_ev_uring_submit(&f->eng, PID, tid, FX_URING, FX_LUCB(i),
			    KVL_IORING_OP_READV, FX_DISK, off, t);
}

static inline void fx_uring_exit(struct fx *f, int tid, int n, u64 t)
{
	kvl_ev_sys_exit(&f->eng, PID, tid, SYS_io_uring_enter, n, t);
}

/*
 * io_uring_complete, in task @tid of the VM (in a system call of its own,
 * or another thread's: an io-wq worker), or 0: an interrupt's
 */
/*
 * vCPU 0 rings at @t; the loop wakes at +1000 and enters io_uring at
 * +2000, where the kernel takes request 0 (block @off) at +2200
 */
static inline void fx_uring_rung(struct fx *f, s64 off, u64 t)
{
	fx_doorbell(f, VCPU0, 0, t);
	fx_wake(f, MAIN, t + 1000);
	fx_uring_enter(f, MAIN, t + 2000);
	fx_uring_sqe(f, MAIN, 0, off, t + 2200);
}

#define FX_IOWQ		1020
static inline void fx_uring_complete(struct fx *f, int tid, int i, u64 t)
{
	kvl_ev_uring_complete(&f->eng, tid ? PID : 0, tid, FX_URING, FX_LUCB(i), t);
}

/* The loop writes the irqfd: kvm_msi_set_irq + kvm_apic_accept_irq. */
static inline void fx_irq(struct fx *f, int tid, int vcpu, u64 t)
{
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_write, 0, KVL_OFF_UNKNOWN, t - 1);
	kvl_ev_irq(&f->eng, PID, tid, vcpu, VEC(vcpu), t);
	kvl_ev_apic_accept(&f->eng, PID, tid, vcpu, VEC(vcpu), t);
	kvl_ev_sys_exit(&f->eng, PID, tid, SYS_write, 8, t + 1);
}

/* The target vCPU leaves HLT and enters with the interrupt injected. */
static inline void fx_inject(struct fx *f, int tid, int vcpu, u64 t_exit, u64 t)
{
	kvl_ev_exit(&f->eng, PID, tid, "qemu", vcpu, KVL_ISA_SVM, 0x78, t_exit);
	kvl_ev_inj_virq(&f->eng, PID, tid, VEC(vcpu), t - 1);
	kvl_ev_entry(&f->eng, PID, tid, t);
}

static inline struct kvl_vcpu *fx_vcpu(struct fx *f, int idx)
{
	struct kvl_vm *vm = kvl_engine_find_vm(&f->eng, PID);

	if (!vm || (u32)idx >= vm->nr_vcpus)
		return NULL;
	return vm->vcpus[idx];
}

/* The exit slot that holds @reason, or NULL. */
static inline const struct kvl_exit_slot *fx_exit_slot(struct kvl_vcpu *v,
						       u32 reason)
{
	unsigned int i;

	for (i = 0; v && i < KVL_EXIT_SLOTS; i++)
		if (v->stats.exits[i].used && v->stats.exits[i].reason == reason)
			return &v->stats.exits[i];
	return NULL;
}

/*
 * The irqfd write of an APICv/AVIC host: kvm_msi_set_irq, then
 * __apic_accept_irq() traces kvm_apic_accept_irq and the vendor's
 * deliver_interrupt hook kvm_apicv_accept_irq (svm_complete_interrupt_
 * delivery(), vmx_deliver_interrupt(); 5.17+).
 */
static inline void fx_irq_posted(struct fx *f, int tid, int vcpu, u64 t)
{
	kvl_ev_sys_enter(&f->eng, PID, tid, SYS_write, 0, KVL_OFF_UNKNOWN, t - 1);
	kvl_ev_irq(&f->eng, PID, tid, vcpu, VEC(vcpu), t);
	kvl_ev_apic_accept(&f->eng, PID, tid, vcpu, VEC(vcpu), t);
	kvl_ev_apicv_accept(&f->eng, PID, tid, vcpu, VEC(vcpu), t);
	kvl_ev_sys_exit(&f->eng, PID, tid, SYS_write, 8, t + 1);
}

static inline const struct kvl_hist *fx_stage(struct fx *f, int vcpu_idx,
					      int path, int stage)
{
	struct kvl_vcpu *v = fx_vcpu(f, vcpu_idx);

	kvl_engine_flush(&f->eng);
	return v ? &v->stats.stages[path][stage] : NULL;
}

static inline u64 fx_counter(struct fx *f, enum kvl_counter c)
{
	return kvl_engine_counter(&f->eng, c);
}

/* A sink that appends to a growable buffer. */
struct fx_buf {
	char *s;
	size_t len, cap;
};

static void fx_buf_printf(void *ctx, const char *fmt, ...)
{
	struct fx_buf *b = ctx;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

#endif /* KVMIO_LAT_ENGINE_FIXTURE_H */
