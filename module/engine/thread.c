// SPDX-License-Identifier: GPL-2.0
/*
 * thread.c - a VM's threads (vCPU, event loop, pool worker) and vCPUs.
 */
#include "internal.h"

/* Caller holds vm->lock. */
struct kvl_thread *kvl_thread_add(struct kvl_vm *vm, s32 tid, s16 vcpu)
{
	u32 mask = vm->cfg->max_threads - 1, i = kvl_tid_hash(tid) & mask, n;
	struct kvl_thread *t, *slot = NULL;

	for (n = 0; n < KVL_PROBE_MAX && n <= mask; n++, i = (i + 1) & mask) {
		s32 cur = vm->threads[i].tid;

		if (cur == tid)
			return &vm->threads[i];
		if ((cur == 0 || cur == KVL_TID_DEAD) && !slot)
			slot = &vm->threads[i];
		if (cur == 0)
			break;
	}
	if (!slot) {
		vm->counters[KVL_C_DROP_THREADS]++;
		return NULL;
	}
	t = slot;
	t->vcpu = vcpu;
	t->flags = vcpu >= 0 ? KVL_T_VCPU : 0;
	t->sys_nr = ~0u;
	t->sys_arg = 0;
	t->sys_ts = 0;
	t->last_wake = 0;
	t->prev_wake = 0;
	t->getevents_ts = 0;
	t->getevents_n = 0;
	t->cur_req = KVL_NO_REQ;
	t->irq_pending = 0;
	t->aio_ring = 0;
	t->ring_seen = KVL_RING_UNSEEN;
	t->ring_ok = 0;
	kvl_publish(&t->tid, tid);
	return t;
}

struct kvl_thread *kvl_vcpu_register(struct kvl_engine *eng,
				     struct kvl_vm *vm, s32 tid,
				     u32 vcpu_id, u32 isa)
{
	struct kvl_thread *t = NULL;
	struct kvl_vcpu *v;
	unsigned long flags;
	int i;

	kvl_lock(&vm->lock, flags);
	t = kvl_thread_find(vm, tid);
	if (t && t->vcpu >= 0)
		goto out;
	/*
	 * KVM's ids are small ints; a larger one (only a damaged recording
	 * can hold one) could never be found again below, and each thread
	 * would get a vCPU of its own with the same id.
	 */
	if (vcpu_id > KVL_VCPU_ID_MAX) {
		vm->counters[KVL_C_DROP_VCPUS]++;
		t = NULL;
		goto out;
	}
	/* a vCPU run before from another thread (QEMU re-plugs parked ones) */
	i = kvl_vcpu_by_id(vm, (s32)vcpu_id);
	if (i < 0 && vm->nr_vcpus >= vm->cfg->max_vcpus) {
		vm->counters[KVL_C_DROP_VCPUS]++;
		t = NULL;
		goto out;
	}
	/* a thread slot first: a vCPU whose thread has none is never found */
	if (!t)
		t = kvl_thread_add(vm, tid, -1);
	if (!t)
		goto out;	/* counted in dropped_threads */
	if (i < 0) {
		v = eng->ops->alloc_vcpu(eng, vm);
		if (!v) {
			vm->counters[KVL_C_DROP_VCPUS]++;
			t = NULL;
			goto out;
		}
		i = (int)vm->nr_vcpus;
		kvl_vcpu_setup(v, vcpu_id, isa);
		vm->vcpus[i] = v;
		kvl_publish(&vm->nr_vcpus, i + 1);
	}
	WRITE_ONCE(t->vcpu, (s16)i);
	WRITE_ONCE(t->flags, t->flags | KVL_T_VCPU);
out:
	kvl_unlock(&vm->lock, flags);
	return t;
}

/* Index of the vCPU with @vcpu_id (an APIC id), -1 if none.  Under lock. */
int kvl_vcpu_by_id(struct kvl_vm *vm, s32 vcpu_id)
{
	u32 i;

	if (vcpu_id < 0)
		return -1;
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i]->vcpu_id == (u32)vcpu_id)
			return (int)i;
	return -1;
}
