/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reader_fixture.h - workloads for the reader's tests: requests with known
 * stage durations played through a real engine (like engine_test.c does),
 * for any VM pid, so the snapshot text the tests parse is the module's own
 * format and the exact values behind every histogram are known.
 *
 * The saved fixtures in fixtures/ were printed by kvl_engine_print_hist()
 * and kvl_engine_print_stats() (memory_bytes 4096) after the rf_standard_*()
 * workloads below.  uring_small.hist (format 5) is remade by
 * "KVL_WRITE_FIXTURES=1 build/unit/reader_test", and so are disks.hist and
 * disks_small.hist, format 4: the engine's format 5 text of a run without
 * io_uring requests under format 4's header (rf_as_format4()).  The others
 * are kept as they were: disks_v3.hist is disks.hist as format 3 printed
 * it, before the disks' io lines; empty.hist is an engine that saw no VM;
 * lab_*.hist and lab_native.stats were read from the module in the lab
 * (real QEMU, nested KVM, aio=native and aio=threads, selftests/qemu).
 * They stay as they were printed: snapshots saved by users must keep
 * parsing.  fixtures/snapshot.dict is the fuzzer's dictionary of format
 * words.
 *
 * A request's durations d[] are indexed by stage (enum kvl_stage) up to
 * total, which is their sum; a stage its path does not have
 * (complete_to_reap of native and threads) is 0 in d[] and in no
 * histogram.
 */
#ifndef KVMIO_LAT_READER_FIXTURE_H
#define KVMIO_LAT_READER_FIXTURE_H

#include "engine_fixture.h"

#define RF_MAX_VCPUS	4
#define RF_MAX_REQS	4096
#define RF_NR_DUR	KVL_ST_TOTAL	/* stages before total */
#define RF_MAX_DISKS	4
#define RF_NO_FD	(-1)	/* a request of no known disk */
/* the pread64 argument of rf_threads(): before disks, 0 (stdin) */
#define RF_POOL_FD	0
/* a native request's iocb, and the AIO ring of rf_vm.ring */
#define RF_IOCB		0x7f0000001000ULL
#define RF_RING		0x7f0000100000ULL
/* an io_uring request's ring (its kernel context) */
#define RF_URING_CTX	0xffff888012340000ULL
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter	426
#endif

struct rf_vm {
	s32 pid;
	const char *comm;
	s32 main_tid;
	s32 pool_tid;
	u64 t;			/* the VM's clock: requests run one after another */
	/* its io_submit's AIO ring, which the module reads; 0: none */
	u64 ring;
	/* exact stage values recorded, per vCPU and path, for checks */
	u32 nr[RF_MAX_VCPUS][KVL_NR_PATHS];
	u64 (*vals)[KVL_NR_PATHS][KVL_NR_STAGES][RF_MAX_REQS];
	/* what each disk's histograms must hold: rf_disk_hist() */
	s32 disk_fd[RF_MAX_DISKS];
	u32 nr_disks;
	struct kvl_hist (*disk)[KVL_NR_PATHS][KVL_NR_DISK_STAGES];
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
	vm->disk = calloc(RF_MAX_DISKS, sizeof(*vm->disk));
}

static inline void rf_vm_fini(struct rf_vm *vm)
{
	free(vm->vals);
	vm->vals = NULL;
	free(vm->disk);
	vm->disk = NULL;
}

/* The expected histograms of disk @fd (added, in first-seen order). */
static inline struct kvl_hist *rf_disk_hist(struct rf_vm *vm, s32 fd,
					    int path, int ds)
{
	u32 i, p, k;

	for (i = 0; i < vm->nr_disks; i++)
		if (vm->disk_fd[i] == fd)
			return &vm->disk[i][path][ds];
	if (vm->nr_disks == RF_MAX_DISKS)
		abort();
	vm->disk_fd[vm->nr_disks] = fd;
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (k = 0; k < KVL_NR_DISK_STAGES; k++)
			kvl_hist_init(&vm->disk[vm->nr_disks][p][k]);
	return &vm->disk[vm->nr_disks++][path][ds];
}

/*
 * A request's submit_to_irq: from the submit stamp to the irq stamp, the
 * stages submit (threads: io), submit_to_reap (io_to_reap; io_uring:
 * submit_to_complete, then complete_to_reap), reap_to_irq.
 */
static inline u64 rf_submit_to_irq(const u64 *d)
{
	return d[KVL_ST_SUBMIT] + d[KVL_ST_SUBMIT_TO_REAP] +
	       d[KVL_ST_COMPLETE_TO_REAP] + d[KVL_ST_REAP_TO_IRQ];
}

/*
 * A request's io: the worker's system call (threads), io_submit to the
 * look at the AIO ring that found its completion, at its reap (native),
 * or the kernel's own, submission to completion (io_uring).
 */
static inline u64 rf_io(int path, const u64 *d)
{
	if (path == KVL_PATH_URING)
		return d[KVL_ST_SUBMIT_TO_REAP];
	return d[KVL_ST_SUBMIT] +
	       (path == KVL_PATH_NATIVE ? d[KVL_ST_SUBMIT_TO_REAP] : 0);
}

/*
 * A request of disk @fd: its io (if @io: a native one only when the ring
 * told its completion), submit_to_irq and total, as the engine's.
 */
static inline void rf_keep_disk(struct rf_vm *vm, s32 fd, int path,
				const u64 *d, bool io)
{
	u64 total = 0;
	int s;

	if (fd < 0)
		return;
	for (s = 0; s < RF_NR_DUR; s++)
		total += d[s];
	if (io)
		kvl_hist_record(rf_disk_hist(vm, fd, path, KVL_DS_IO),
				(s64)rf_io(path, d));
	kvl_hist_record(rf_disk_hist(vm, fd, path, KVL_DS_SUBMIT_TO_IRQ),
			(s64)rf_submit_to_irq(d));
	kvl_hist_record(rf_disk_hist(vm, fd, path, KVL_DS_TOTAL), (s64)total);
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

/*
 * The MSI-X vector of disk @fd's queue aimed at @vcpu (vCPU 0 or 1): each
 * disk's queues have vectors of their own, as virtio-pci gives them.
 */
static inline s32 rf_vector(int vcpu, s32 fd)
{
	return VEC(vcpu) + (fd < 0 ? 0 : 2 * (1 + fd % 32));
}

static inline void rf_irq_and_entry(struct fx *f, struct rf_vm *vm, int vcpu,
				    s32 fd, u64 irq, u64 entry)
{
	s32 m = vm->main_tid, tid = rf_vcpu_tid(vm, vcpu);
	s32 vec = rf_vector(vcpu, fd);

	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_write, 0, KVL_OFF_UNKNOWN, irq - 1);
	kvl_ev_irq(&f->eng, vm->pid, m, vcpu, vec, irq);
	kvl_ev_apic_accept(&f->eng, vm->pid, m, vcpu, vec, irq);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_write, 8, irq + 1);
	kvl_ev_inj_virq(&f->eng, vm->pid, tid, vec, entry - 1);
	kvl_ev_entry(&f->eng, vm->pid, tid, entry);
}

/*
 * Where the engine has read @vm's AIO ring up to, false when it has no
 * ring of @vm's (the VM reads none, or submitted nothing yet).
 */
static inline bool rf_ring_where(struct fx *f, struct rf_vm *vm, u32 *seen)
{
	u64 ring;

	return vm->ring &&
	       kvl_ev_ring_where(&f->eng, vm->pid, vm->main_tid, &ring, seen) &&
	       ring == vm->ring;
}

/*
 * The module's look at the event loop's AIO ring at @t, as it wakes
 * (kvl_ring_look()): the first takes the ring's tail, each later one finds
 * the completion of the one request in flight.
 */
static inline void rf_ring_look(struct fx *f, struct rf_vm *vm, u64 t)
{
	u64 iocb = RF_IOCB;
	u32 seen;

	if (!rf_ring_where(f, vm, &seen))
		return;
	if (seen == KVL_RING_UNSEEN)
		kvl_ev_ring_seen(&f->eng, vm->pid, vm->main_tid, 0, NULL, 0, t);
	else
		kvl_ev_ring_seen(&f->eng, vm->pid, vm->main_tid, seen + 1,
				 &iocb, 1, t);
}

/*
 * One aio=native request on disk @fd (RF_NO_FD: its iocb unread, as in a
 * recording); d[] are doorbell_to_wake, wake_to_submit, submit,
 * submit_to_reap, reap_to_irq, irq_to_entry (each >= 4 ns).  With
 * vm->ring, the module reads the AIO ring when the loop wakes to reap.
 */
static inline void rf_native_fd(struct fx *f, struct rf_vm *vm, int vcpu,
				const u64 *d, s32 fd)
{
	u64 t = vm->t, wake = t + d[KVL_ST_DOORBELL_TO_WAKE];
	u64 sub = wake + d[KVL_ST_WAKE_TO_SUBMIT], end = sub + d[KVL_ST_SUBMIT];
	u64 reap = end + d[KVL_ST_SUBMIT_TO_REAP];
	u64 irq = reap + d[KVL_ST_REAP_TO_IRQ], entry = irq + d[KVL_ST_IRQ_TO_ENTRY];
	s32 m = vm->main_tid;
	struct kvl_iocb_info io = { RF_IOCB, KVL_OFF_UNKNOWN, fd };
	u32 seen;
	/* its completion is looked for in the ring once a look worked */
	bool via_ring = fd != RF_NO_FD && rf_ring_where(f, vm, &seen) &&
			seen != KVL_RING_UNSEEN;

	rf_doorbell(f, vm, vcpu, t);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, wake);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_io_submit, 1, KVL_OFF_UNKNOWN,
			 sub);
	kvl_ev_io_submit_exit(&f->eng, vm->pid, m, vm->ring, &io,
			      fd != RF_NO_FD ? 1 : 0, 1, end);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, end + 1);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, reap);
	rf_ring_look(f, vm, reap);
	rf_irq_and_entry(f, vm, vcpu, fd, irq, entry);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, irq + 2);
	rf_keep(vm, vcpu, KVL_PATH_NATIVE, d);
	rf_keep_disk(vm, fd, KVL_PATH_NATIVE, d, via_ring);
	vm->t = entry + 1000;
}

static inline void rf_native(struct fx *f, struct rf_vm *vm, int vcpu,
			     const u64 *d)
{
	rf_native_fd(f, vm, vcpu, d, RF_NO_FD);
}

/*
 * One aio=threads request on disk @fd, the worker's pread64 argument:
 * wake_to_dispatch, io, io_to_reap instead.
 */
static inline void rf_threads_fd(struct fx *f, struct rf_vm *vm, int vcpu,
				 const u64 *d, s32 fd)
{
	u64 t = vm->t, wake = t + d[KVL_ST_DOORBELL_TO_WAKE];
	u64 io = wake + d[KVL_ST_WAKE_TO_SUBMIT], end = io + d[KVL_ST_SUBMIT];
	u64 reap = end + d[KVL_ST_SUBMIT_TO_REAP];
	u64 irq = reap + d[KVL_ST_REAP_TO_IRQ], entry = irq + d[KVL_ST_IRQ_TO_ENTRY];
	s32 m = vm->main_tid;

	rf_doorbell(f, vm, vcpu, t);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, wake);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, wake + 1);
	kvl_ev_sys_enter(&f->eng, vm->pid, vm->pool_tid, SYS_pread64, (u32)fd, KVL_OFF_UNKNOWN,
			 io);
	kvl_ev_sys_exit(&f->eng, vm->pid, vm->pool_tid, SYS_pread64, 4096, end);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, reap);
	rf_irq_and_entry(f, vm, vcpu, fd, irq, entry);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, irq + 2);
	rf_keep(vm, vcpu, KVL_PATH_THREADS, d);
	rf_keep_disk(vm, fd, KVL_PATH_THREADS, d, true);
	vm->t = entry + 1000;
}

static inline void rf_threads(struct fx *f, struct rf_vm *vm, int vcpu,
			      const u64 *d)
{
	rf_threads_fd(f, vm, vcpu, d, RF_POOL_FD);
}

/*
 * One aio=io_uring request on disk @fd (RF_NO_FD: a kernel whose submit
 * tracepoint does not tell it), its completion traced: the loop wakes,
 * enters io_uring_enter (submit), the kernel takes the request (its
 * submit tracepoint: submit_to_complete begins), the loop waits in ppoll,
 * the kernel posts the completion (complete_to_reap begins) and the loop
 * returns from its wait (the reap), then raises the interrupt.
 */
static inline void rf_uring_fd(struct fx *f, struct rf_vm *vm, int vcpu,
			       const u64 *d, s32 fd)
{
	u64 t = vm->t, wake = t + d[KVL_ST_DOORBELL_TO_WAKE];
	u64 sub = wake + d[KVL_ST_WAKE_TO_SUBMIT], end = sub + d[KVL_ST_SUBMIT];
	u64 done = end + d[KVL_ST_SUBMIT_TO_REAP];
	u64 reap = done + d[KVL_ST_COMPLETE_TO_REAP];
	u64 irq = reap + d[KVL_ST_REAP_TO_IRQ], entry = irq + d[KVL_ST_IRQ_TO_ENTRY];
	s32 m = vm->main_tid;
	u64 user_data = t;	/* QEMU's: its request's address, unique */

	kvl_engine_set_uring_traced(&f->eng, true);
	rf_doorbell(f, vm, vcpu, t);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, wake);
	/* to_submit 1, no GETEVENTS: a submission, not a wait */
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_io_uring_enter, 0,
			 KVL_OFF_UNKNOWN, sub);
	kvl_ev_uring_submit(&f->eng, vm->pid, m, RF_URING_CTX, user_data,
			    KVL_IORING_OP_READV, fd, KVL_OFF_UNKNOWN, end);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_io_uring_enter, 1, end + 1);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, end + 2);
	kvl_ev_uring_complete(&f->eng, vm->pid, m, RF_URING_CTX, user_data, done);
	kvl_ev_sys_exit(&f->eng, vm->pid, m, SYS_ppoll, 1, reap);
	rf_irq_and_entry(f, vm, vcpu, fd, irq, entry);
	kvl_ev_sys_enter(&f->eng, vm->pid, m, SYS_ppoll, 0, KVL_OFF_UNKNOWN, irq + 2);
	rf_keep(vm, vcpu, KVL_PATH_URING, d);
	rf_keep_disk(vm, fd, KVL_PATH_URING, d, true);
	vm->t = entry + 1000;
}

/*
 * Stage durations shaped like the lab's: microseconds, a long tail.  A
 * stage the path does not have draws no random number: a workload's
 * durations, which the saved fixtures hold, do not depend on the stages
 * of other paths.
 */
static inline void rf_durations(unsigned int *seed, int path, u64 *d)
{
	static const u64 base[KVL_NR_PATHS][RF_NR_DUR] = {
		[KVL_PATH_NATIVE] = { 8000, 3000, 6000, 90000, 0, 4000, 5000 },
		[KVL_PATH_THREADS] = { 9000, 12000, 80000, 15000, 0, 4000, 5000 },
		[KVL_PATH_URING] = { 8000, 3000, 2000, 70000, 6000, 4000, 5000 },
	};
	int s;

	for (s = 0; s < RF_NR_DUR; s++) {
		u64 r;

		if (!kvl_stage_name(path, s)) {
			d[s] = 0;
			continue;
		}
		r = rand_r(seed) % 1000;

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
		else if (path == KVL_PATH_THREADS)
			rf_threads(f, vm, i % nr_vcpus, d);
		else
			rf_uring_fd(f, vm, i % nr_vcpus, d, RF_NO_FD);
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

/*
 * fixtures/disks.hist: pid 5000 (2 vCPUs) with three disks: native on fds
 * 11 and 12, threads on 12 and 13 (fd 13's reads ten times slower), and
 * 20 native requests of no known disk; pid 6000 (1 vCPU, native) none.
 * The AIO ring of pid 5000 is read: its native requests have an io but
 * the first (fd 11's), submitted before the ring's first look.
 */
static inline void rf_standard_disks(struct fx *f, struct rf_vm *a,
				     struct rf_vm *b)
{
	static const s32 native_fd[] = { 11, 12, 11, RF_NO_FD };
	static const s32 threads_fd[] = { 12, 13, 13 };
	unsigned int seed = 17;
	u64 d[RF_NR_DUR];
	int i;

	rf_vm_init(a, 5000, "qemu-disks");
	rf_vm_init(b, 6000, "qemu-nodisk");
	a->ring = RF_RING;
	for (i = 0; i < 80; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, d);
		rf_native_fd(f, a, i % 2, d, native_fd[i % 4]);
	}
	for (i = 0; i < 90; i++) {
		s32 fd = threads_fd[i % 3];

		rf_durations(&seed, KVL_PATH_THREADS, d);
		if (fd == 13)
			d[2] *= 10;
		rf_threads_fd(f, a, i % 2, d, fd);
	}
	rf_requests(f, b, KVL_PATH_NATIVE, 1, 30, &seed);
}

/*
 * fixtures/disks_small.hist: a few requests (pid 77, 1 vCPU: native on
 * fd 3, threads on fd 4, one native request of no known disk; its AIO
 * ring read, as in disks.hist), small enough for the fuzzer's inputs
 * (16 KiB) to hold its disk lines.
 */
static inline void rf_small_disks(struct fx *f, struct rf_vm *vm)
{
	unsigned int seed = 5;
	u64 d[RF_NR_DUR];
	int i;

	rf_vm_init(vm, 77, "qemu");
	vm->ring = RF_RING;
	for (i = 0; i < 4; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, d);
		rf_native_fd(f, vm, 0, d, i < 3 ? 3 : RF_NO_FD);
		rf_durations(&seed, KVL_PATH_THREADS, d);
		rf_threads_fd(f, vm, 0, d, 4);
	}
}

/*
 * fixtures/uring_small.hist, format 5: pid 88 (2 vCPUs), every path: io_uring
 * on fds 5 and 3, native on fd 3 (its AIO ring read), threads on fd 4;
 * small enough for the fuzzer's inputs (16 KiB).
 */
static inline void rf_small_uring(struct fx *f, struct rf_vm *vm)
{
	unsigned int seed = 9;
	u64 d[RF_NR_DUR];
	int i;

	rf_vm_init(vm, 88, "qemu-uring");
	vm->ring = RF_RING;
	for (i = 0; i < 4; i++) {
		rf_durations(&seed, KVL_PATH_URING, d);
		rf_uring_fd(f, vm, i % 2, d, i < 3 ? 5 : 3);
		rf_durations(&seed, KVL_PATH_NATIVE, d);
		rf_native_fd(f, vm, i % 2, d, 3);
		rf_durations(&seed, KVL_PATH_THREADS, d);
		rf_threads_fd(f, vm, i % 2, d, 4);
	}
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

/*
 * @s without the lines that start with @prefix and hold @infix, and with
 * @buckets without their bucket lines either; malloc()ed.  Every line of
 * @s ends with a newline.
 */
static inline char *rf_drop_lines(const char *s, const char *prefix,
				  const char *infix, bool buckets)
{
	char *r = malloc(strlen(s) + 1), *o = r;
	const char *nl;
	bool drop = false;

	if (!r)
		abort();
	for (; *s && (nl = strchr(s, '\n')); s = nl + 1) {
		if (!buckets || strncmp(s, "  [", 3))
			drop = !strncmp(s, prefix, strlen(prefix)) &&
			       memmem(s, nl - s, infix, strlen(infix));
		if (drop)
			continue;
		memcpy(o, s, nl + 1 - s);
		o += nl + 1 - s;
	}
	*o = '\0';
	return r;
}

/*
 * Hist text of format 5 as format 4 prints it (format 5 adds only the
 * io_uring lines, which are dropped), malloc()ed.
 */
static inline char *rf_as_format4(const char *text)
{
	char *r = rf_drop_lines(text, "", " io_uring ", true);

	if (!strncmp(r, "# kvmio_lat hist 5\n", 19))
		r[17] = '4';
	return r;
}

/*
 * Hist text of format 4 (or 5) as format 3 prints it (format 4 adds only
 * the disks' io lines), malloc()ed.
 */
static inline char *rf_as_format3(const char *text)
{
	char *v4 = rf_as_format4(text);
	char *r = rf_drop_lines(v4, "disk ", " io count=", true);

	free(v4);
	if (!strncmp(r, "# kvmio_lat hist 4\n", 19))
		r[17] = '3';
	return r;
}

#endif /* KVMIO_LAT_READER_FIXTURE_H */
