/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reader_fixture.h - workloads for the reader's tests: requests with known
 * stage durations played through a real engine (like engine_test.c does),
 * for any VM pid, so the snapshot text the tests parse is the module's own
 * format and the exact values behind every histogram are known.
 *
 * The saved fixtures in fixtures/ were printed by kvl_engine_print_hist()
 * and kvl_engine_print_stats() (memory_bytes 4096) after the rf_standard_*()
 * workloads below; empty.hist is an engine that saw no VM; lab_*.hist and
 * lab_native.stats were read from the module in the lab (real QEMU, nested
 * KVM, aio=native and aio=threads, selftests/qemu).  They stay as
 * they were printed: snapshots saved by users must keep parsing.
 * fixtures/snapshot.dict is the fuzzer's dictionary of format words.
 */
#ifndef KVMIO_LAT_READER_FIXTURE_H
#define KVMIO_LAT_READER_FIXTURE_H

#include "engine_fixture.h"

#define RF_MAX_VCPUS	4
#define RF_MAX_REQS	4096
#define RF_NR_DUR	6	/* stages before total */

struct rf_vm {
	s32 pid;
	const char *comm;
	s32 main_tid;
	s32 pool_tid;
	u64 t;			/* the VM's clock: requests run one after another */
	/* exact stage values recorded, per vCPU and path, for checks */
	u32 nr[RF_MAX_VCPUS][KVL_NR_PATHS];
	u64 (*vals)[KVL_NR_PATHS][KVL_NR_STAGES][RF_MAX_REQS];
};

static inline void rf_vm_init(struct rf_vm *vm, s32 pid, const char *comm)
{
	memset(vm, 0, sizeof(*vm));
	vm->pid = pid;
	vm->comm = comm;
	vm->main_tid = pid + 1;
	vm->pool_tid = pid + 2;
	vm->t = 1000000;
	vm->vals = calloc(RF_MAX_VCPUS, sizeof(*vm->vals));
}

static inline void rf_vm_fini(struct rf_vm *vm)
{
	free(vm->vals);
	vm->vals = NULL;
}

static inline s32 rf_vcpu_tid(const struct rf_vm *vm, int vcpu)
{
	return vm->pid + 10 + vcpu;
}

static inline void rf_keep(struct rf_vm *vm, int vcpu, int path, const u64 *d)
{
	u32 n = vm->nr[vcpu][path]++;
	u64 total = 0;
	int s;

	if (n >= RF_MAX_REQS)
		return;
	for (s = 0; s < RF_NR_DUR; s++) {
		vm->vals[vcpu][path][s][n] = d[s];
		total += d[s];
	}
	vm->vals[vcpu][path][KVL_ST_TOTAL][n] = total;
}

/*
 * The vCPU exits on its doorbell write, then halts until the interrupt.
 * A queue per vCPU, with its own vector (VEC()), as virtio-pci's
 * multiqueue disks have.
 */
static inline void rf_doorbell(struct fx *f, struct rf_vm *vm, int vcpu, u64 t)
{
	s32 tid = rf_vcpu_tid(vm, vcpu);

	kvl_ev_exit(&f->eng, vm->pid, tid, vm->comm, vcpu, KVL_ISA_SVM,
		    REASON_NPF, t);
	kvl_ev_doorbell(&f->eng, vm->pid, tid, false, 0xfebfb000 + 4 * vcpu,
			t + 1);
	kvl_ev_entry(&f->eng, vm->pid, tid, t + 2);
	kvl_ev_exit(&f->eng, vm->pid, tid, vm->comm, vcpu, KVL_ISA_SVM,
		    0x78 /* hlt */, t + 3);
}

static inline void rf_irq_and_entry(struct fx *f, struct rf_vm *vm, int vcpu,
				    u64 irq, u64 entry)
{
	s32 m = vm->main_tid, tid = rf_vcpu_tid(vm, vcpu);

	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_write, 0, irq - 1);
	kvl_ev_irq(&f->eng, vm->pid, m, vcpu, VEC(vcpu), irq);
	kvl_ev_apic_accept(&f->eng, vm->pid, m, vcpu, VEC(vcpu), irq);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_write, 8, irq + 1);
	kvl_ev_inj_virq(&f->eng, vm->pid, tid, VEC(vcpu), entry - 1);
	kvl_ev_entry(&f->eng, vm->pid, tid, entry);
}

/*
 * One aio=native request; d[] are doorbell_to_wake, wake_to_submit,
 * submit, submit_to_reap, reap_to_irq, irq_to_entry (each >= 4 ns).
 */
static inline void rf_native(struct fx *f, struct rf_vm *vm, int vcpu,
			     const u64 *d)
{
	u64 t = vm->t, wake = t + d[0], sub = wake + d[1], end = sub + d[2];
	u64 reap = end + d[3], irq = reap + d[4], entry = irq + d[5];
	s32 m = vm->main_tid;

	rf_doorbell(f, vm, vcpu, t);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, wake);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_io_submit, 1, sub);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_io_submit, 1, end);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, end + 1);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, reap);
	rf_irq_and_entry(f, vm, vcpu, irq, entry);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, irq + 2);
	rf_keep(vm, vcpu, KVL_PATH_NATIVE, d);
	vm->t = entry + 1000;
}

/* One aio=threads request: wake_to_dispatch, io, io_to_reap instead. */
static inline void rf_threads(struct fx *f, struct rf_vm *vm, int vcpu,
			      const u64 *d)
{
	u64 t = vm->t, wake = t + d[0], io = wake + d[1], end = io + d[2];
	u64 reap = end + d[3], irq = reap + d[4], entry = irq + d[5];
	s32 m = vm->main_tid;

	rf_doorbell(f, vm, vcpu, t);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, wake);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, wake + 1);
	kvl_ev_sys_enter(&f->eng, vm->pid, vm->pool_tid, SYS_pread64, 0, io);
	kvl_ev_sys_exit(&f->eng, vm->pid, vm->pool_tid, SYS_pread64, 4096, end);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, reap);
	rf_irq_and_entry(f, vm, vcpu, irq, entry);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, irq + 2);
	rf_keep(vm, vcpu, KVL_PATH_THREADS, d);
	vm->t = entry + 1000;
}

/* Stage durations shaped like the lab's: microseconds, a long tail. */
static inline void rf_durations(unsigned int *seed, int path, u64 *d)
{
	static const u64 base[KVL_NR_PATHS][RF_NR_DUR] = {
		{ 8000, 3000, 6000, 90000, 4000, 5000 },
		{ 9000, 12000, 80000, 15000, 4000, 5000 },
	};
	int s;

	for (s = 0; s < RF_NR_DUR; s++) {
		u64 r = rand_r(seed) % 1000;

		d[s] = base[path][s] / 2 + base[path][s] * r / 1000;
		if (r >= 990)			/* 1%: ten times slower */
			d[s] *= 10;
	}
}

static inline void rf_requests(struct fx *f, struct rf_vm *vm, int path,
			       int nr_vcpus, int n, unsigned int *seed)
{
	u64 d[RF_NR_DUR];
	int i;

	for (i = 0; i < n; i++) {
		rf_durations(seed, path, d);
		if (path == KVL_PATH_NATIVE)
			rf_native(f, vm, i % nr_vcpus, d);
		else
			rf_threads(f, vm, i % nr_vcpus, d);
	}
}

/* fixtures/two_vcpus.hist: pid 4242, 2 vCPUs, aio=native, 300 requests. */
static inline void rf_standard_two_vcpus(struct fx *f, struct rf_vm *vm)
{
	unsigned int seed = 42;

	rf_vm_init(vm, 4242, "qemu-system-x86");
	rf_requests(f, vm, KVL_PATH_NATIVE, 2, 300, &seed);
}

/* fixtures/two_vms.hist: pid 1000 native (1 vCPU), 2000 threads (2). */
static inline void rf_standard_two_vms(struct fx *f, struct rf_vm *a,
				       struct rf_vm *b)
{
	unsigned int seed = 7;

	rf_vm_init(a, 1000, "qemu-native");
	rf_vm_init(b, 2000, "qemu-threads");
	rf_requests(f, a, KVL_PATH_NATIVE, 1, 200, &seed);
	rf_requests(f, b, KVL_PATH_THREADS, 2, 200, &seed);
}

/* The engine's hist text (or stats text) in a malloc()ed string. */
static inline char *rf_hist_text(struct fx *f)
{
	struct fx_buf b = { 0 };
	struct kvl_sink out = { fx_buf_printf, &b };

	kvl_engine_print_hist(&f->eng, &out);
	return b.s;
}

static inline char *rf_stats_text(struct fx *f)
{
	struct fx_buf b = { 0 };
	struct kvl_sink out = { fx_buf_printf, &b };

	kvl_engine_print_stats(&f->eng, &out, 4096);
	return b.s;
}

#endif /* KVMIO_LAT_READER_FIXTURE_H */
