// SPDX-License-Identifier: GPL-2.0
/*
 * engine_cost - the engine's share of an exit, instruction by instruction.
 *
 * Plays the events the module's probes hand the engine in each of make
 * bench's icount exit loops (scripts/bench/lab_bench.py), in the same order,
 * on the same engine code built for userspace, and lets callgrind count
 * each loop's steady state apart (scripts/bench/engine_cost.sh):
 *
 *   kexits   an exit KVM handles itself (CPUID): kvm_exit, kvm_entry
 *   exits    a port write QEMU handles (kvmio-vmm exits): kvm_exit,
 *            kvm_pio (a doorbell until proven otherwise),
 *            kvm_userspace_exit (takes it back), kvm_entry
 *   ioexits  a port write bound to an ioeventfd nothing reads (kvmio-vmm
 *            exits --ioeventfd): kvm_exit, kvm_pio, kvm_entry
 *
 * and what a tracked VM's I/O thread's hooked system call hands the engine
 * (bench section tracked: sysloop --vm), the module's calls in its order:
 *
 *   sysread  read of an fd that is no ioeventfd: kvl_ev_fd_known at the
 *            entry; kvl_ev_sys_exit and the AIO ring look's
 *            kvl_ev_ring_where at the return
 *   sysppoll ppoll: the used-index look's kvl_ev_used_where and
 *            kvl_ev_sys_enter; kvl_ev_sys_exit and kvl_ev_ring_where
 *   syspread pread64: kvl_ev_sys_enter, kvl_ev_sys_exit
 *
 * What the engine costs in the kernel differs from this by its locks
 * (kvl_lock() is empty here; none is taken on these paths) and the
 * compiler's flags; what the probes cost around it (tracepoints, the task
 * tests, the clock) is measured by make bench's bare variant.
 *
 *   engine_cost [ITERATIONS]   without callgrind, it only runs the loops
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include "kvmio_lat/engine.h"

#define PID		4000
#define VCPU_TID	4001
#define ISA_SVM		KVL_ISA_SVM
#define SVM_EXIT_CPUID	0x72
#define SVM_EXIT_IOIO	0x7b
#define EXIT_PORT	0x00e9	/* kvmio-vmm's defaults */
#define DOORBELL_PORT	0xc000

static struct kvl_vm *vm_table[64];

static struct kvl_vm *alloc_vm(struct kvl_engine *eng)
{
	struct kvl_vm *vm = kvl_aligned_alloc(kvl_vm_size(&eng->cfg));

	if (vm)
		kvl_vm_init(vm, &eng->cfg);
	return vm;
}

static void free_vm(struct kvl_engine *eng, struct kvl_vm *vm)
{
	u32 i;

	(void)eng;
	for (i = 0; i < vm->nr_vcpus; i++)
		free(vm->vcpus[i]);
	free(vm);
}

static struct kvl_vcpu *alloc_vcpu(struct kvl_engine *eng, struct kvl_vm *vm)
{
	struct kvl_vcpu *v = kvl_aligned_alloc(sizeof(*v));

	(void)eng;
	(void)vm;
	if (v)
		kvl_vcpu_prepare(v);
	return v;
}

static const struct kvl_alloc_ops ops = {
	.alloc_vm = alloc_vm,
	.free_vm = free_vm,
	.alloc_vcpu = alloc_vcpu,
};

enum loop { KEXITS, EXITS, IOEXITS, SYSREAD, SYSPPOLL, SYSPREAD };
static const char *const loop_name[] = { "kexits", "exits", "ioexits",
					 "sysread", "sysppoll", "syspread" };
#define IO_TID		(PID + 2)	/* the VM's I/O thread */
#define ZERO_FD		7

static void one_call(struct kvl_engine *eng, enum loop l, u64 *t)
{
	u64 hva[KVL_VQS], ring;
	u32 seen;

	switch (l) {
	case SYSREAD:
		kvl_ev_fd_known(eng, PID, ZERO_FD);
		kvl_ev_sys_exit(eng, PID, IO_TID, KVL_NR_read, 1, 0);
		kvl_ev_ring_where(eng, PID, IO_TID, &ring, &seen);
		break;
	case SYSPPOLL:
		kvl_ev_used_where(eng, PID, hva);
		kvl_ev_sys_enter(eng, PID, IO_TID, KVL_NR_ppoll, 0,
				 KVL_OFF_UNKNOWN, *t);
		kvl_ev_sys_exit(eng, PID, IO_TID, KVL_NR_ppoll, 0, *t + 500);
		kvl_ev_ring_where(eng, PID, IO_TID, &ring, &seen);
		break;
	case SYSPREAD:
		kvl_ev_sys_enter(eng, PID, IO_TID, KVL_NR_pread64, ZERO_FD, 0,
				 *t);
		kvl_ev_sys_exit(eng, PID, IO_TID, KVL_NR_pread64, 1, *t + 500);
		break;
	default:
		break;
	}
	*t += 1000;
}

static void one_exit(struct kvl_engine *eng, enum loop l, u64 *t)
{
	if (l >= SYSREAD) {
		one_call(eng, l, t);
		return;
	}
	u32 reason = l == KEXITS ? SVM_EXIT_CPUID : SVM_EXIT_IOIO;

	kvl_ev_exit(eng, PID, VCPU_TID, "kvmio-vmm", 0, ISA_SVM, reason, *t);
	if (l == EXITS) {
		kvl_ev_doorbell(eng, PID, VCPU_TID, true, EXIT_PORT, 0);
		kvl_ev_userspace_exit(eng, PID, VCPU_TID, KVL_KVM_EXIT_IO);
	} else if (l == IOEXITS) {
		kvl_ev_doorbell(eng, PID, VCPU_TID, true, DOORBELL_PORT, 0);
	}
	kvl_ev_entry(eng, PID, VCPU_TID, *t + 700);
	*t += 3000;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	struct kvl_config cfg;
	struct kvl_engine *eng;
	u64 t = 1000000;
	enum loop l;
	long i;

	if (n <= 0 || n > 100000000) {
		fprintf(stderr, "engine_cost: ITERATIONS must be 1..100000000\n");
		return 2;
	}
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return 1;
	kvl_config_defaults(&cfg);
	kvl_config_check(&cfg);
	kvl_engine_init(eng, &cfg, &ops, vm_table);
	for (l = KEXITS; l <= SYSPREAD; l++) {
		/* a fresh VM per loop, as the bench starts a kvmio-vmm per loop */
		kvl_engine_drop_all(eng);
		if (l >= SYSREAD) {	/* sysloop --vm's vCPU: its VM tracked */
			for (i = 0; i < 10; i++)
				one_exit(eng, EXITS, &t);
			/* and its I/O thread, as the mix's waits make it */
			one_exit(eng, SYSPPOLL, &t);
		}
		for (i = 0; i < 1000; i++)	/* warm: VM, thread, slots */
			one_exit(eng, l, &t);
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
		for (i = 0; i < n; i++)
			one_exit(eng, l, &t);
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT(loop_name[l]);
	}
	kvl_engine_drop_all(eng);
	free(eng);
	printf("engine_cost: %ld iterations of kexits, exits, ioexits, sysread, sysppoll, syspread\n",
	       n);
	return 0;
}
