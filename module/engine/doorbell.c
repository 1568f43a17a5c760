// SPDX-License-Identifier: GPL-2.0
/*
 * doorbell.c - doorbells: a per-vCPU ring the vCPU thread fills lock-free,
 * the addresses that led to I/O, and which doorbell a submission takes.
 */
#include "internal.h"

/* MMIO doorbells are learned by page: a device's notify region is one. */
static u64 kvl_doorbell_key(u32 pio, u64 addr)
{
	return pio ? addr | (1ULL << 63) : addr & ~0xfffULL;
}

/* Lock-free readers (the producer) may miss an address learnt just now. */
bool kvl_doorbell_known_at(struct kvl_vm *vm, u32 pio, u64 addr)
{
	u64 key = kvl_doorbell_key(pio, addr);
	u32 i, n = READ_ONCE(vm->nr_known);

	for (i = 0; i < n && i < KVL_KNOWN_DOORBELLS; i++)
		if (READ_ONCE(vm->known_addr[i]) == key)
			return true;
	return false;
}

static bool kvl_doorbell_known(struct kvl_vm *vm, const struct kvl_doorbell *k)
{
	return kvl_doorbell_known_at(vm, k->pio, k->addr);
}

static void kvl_doorbell_learn(struct kvl_vm *vm, const struct kvl_doorbell *k)
{
	if (vm->nr_known < KVL_KNOWN_DOORBELLS && !kvl_doorbell_known(vm, k)) {
		WRITE_ONCE(vm->known_addr[vm->nr_known],
			   kvl_doorbell_key(k->pio, k->addr));
		kvl_publish(&vm->nr_known, vm->nr_known + 1);
	}
}

/* Retire ring entry @i of @vc (taken, expired or skipped): it was live. */
static bool kvl_doorbell_retire(struct kvl_doorbell *k)
{
	if (kvl_cmpxchg(&k->state, KVL_DOORBELL_LIVE, KVL_DOORBELL_TAKEN) != KVL_DOORBELL_LIVE)
		return false;	/* withdrawn by its vCPU meanwhile */
	return true;
}

/* The stamp of ring entry @i of @vc. */
static u64 kvl_ring_ts(const struct kvl_vcpu *vc, u32 i)
{
	return vc->doorbells[i % KVL_DOORBELL_RING].ts;
}

/* Entry @i of @vc's ring, if older than the one picked so far. */
static void kvl_pick(struct kvl_vcpu **pvc, u32 *pi, s16 *pv,
		     struct kvl_vcpu *vc, u32 i, u32 v)
{
	if (!*pvc || kvl_ring_ts(vc, i) < kvl_ring_ts(*pvc, *pi)) {
		*pvc = vc;
		*pi = i;
		*pv = (s16)v;
	}
}

/* Within doorbell_timeout before @now: @ts (0: never) may still have I/O to come. */
static bool kvl_doorbell_recent(const struct kvl_vm *vm, u64 ts, u64 now)
{
	return ts && (now <= ts || now - ts <= vm->cfg->doorbell_timeout_ns);
}

/*
 * Under vm->lock: the doorbell a submission at @now belongs to.
 *
 * Among the live doorbells of every vCPU, the oldest at an address that has
 * led to I/O before; only when there is none, the oldest of all (that is how
 * an address becomes known).  Doorbells older than doorbell_timeout, and those a
 * vCPU rang before the one taken, are retired: the ring is always consumed
 * from its tail, so the producer can keep writing at its head.
 */
static bool kvl_doorbell_find(struct kvl_vm *vm, u64 now,
			      const struct kvl_taken_doorbell *same,
			      u64 prefer, struct kvl_taken_doorbell *out)
{
	u32 v, n = vm->nr_vcpus;

	for (;;) {
		struct kvl_vcpu *best_vc = NULL, *any_vc = NULL;
		u32 best_i = 0, any_i = 0, i, head;
		struct kvl_doorbell *k;
		bool retry = false;
		s16 best_v = -1, any_v = -1;

		for (v = 0; v < n; v++) {
			struct kvl_vcpu *vc = vm->vcpus[v];

			head = kvl_acquire(&vc->doorbell_head);
			/* expire stale doorbells at the tail */
			while (vc->doorbell_tail != head) {
				k = &vc->doorbells[vc->doorbell_tail % KVL_DOORBELL_RING];
				if (kvl_acquire(&k->state) != KVL_DOORBELL_LIVE ||
				    kvl_doorbell_recent(vm, k->ts, now))
					break;
				if (!kvl_doorbell_retire(k))
					break;
				kvl_publish(&k->state, KVL_DOORBELL_FREE);
				vc->doorbell_tail++;
				vm->counters[KVL_C_DOORBELLS_EXPIRED]++;
			}
			for (i = vc->doorbell_tail; i != head; i++) {
				k = &vc->doorbells[i % KVL_DOORBELL_RING];
				/* rung after the submission began: the next one's */
				if (kvl_acquire(&k->state) != KVL_DOORBELL_LIVE ||
				    k->ts > now)
					break;
				/*
				 * The oldest of one queue only: a batch's (at
				 * the tail), or the one QEMU serves (anywhere).
				 */
				if (same || prefer) {
					bool hit = same ?
						k->pio == same->pio &&
						k->addr == same->addr :
						!k->pio && k->addr == prefer;

					if (!hit && prefer)
						continue;
					if (hit)
						kvl_pick(&best_vc, &best_i, &best_v,
							 vc, i, v);
					break;
				}
				if (i == vc->doorbell_tail)
					kvl_pick(&any_vc, &any_i, &any_v, vc, i, v);
				if (kvl_doorbell_known(vm, k)) {
					kvl_pick(&best_vc, &best_i, &best_v, vc, i, v);
					break;
				}
			}
		}
		if (!best_vc && (same || prefer))
			return false;
		if (!best_vc) {		/* learning: the oldest of all */
			best_vc = any_vc;
			best_i = any_i;
			best_v = any_v;
		}
		if (!best_vc)
			return false;
		/* retire what the vCPU rang before it, then take it */
		while (best_vc->doorbell_tail != best_i) {
			k = &best_vc->doorbells[best_vc->doorbell_tail % KVL_DOORBELL_RING];
			if (!kvl_doorbell_retire(k)) {
				retry = true;
				break;
			}
			kvl_publish(&k->state, KVL_DOORBELL_FREE);
			best_vc->doorbell_tail++;
			vm->counters[KVL_C_DOORBELLS_SKIPPED]++;
		}
		k = &best_vc->doorbells[best_i % KVL_DOORBELL_RING];
		if (retry || !kvl_doorbell_retire(k))
			continue;	/* withdrawn under us: look again */
		out->vcpu = best_v;
		out->ts = k->ts;
		out->wake = READ_ONCE(k->wake);
		out->pio = k->pio;
		out->addr = k->addr;
		vm->last_doorbell_vcpu = best_v;
		vm->last_doorbell_ts = out->ts;
		vm->last_doorbell_wake = out->wake;
		vm->last_doorbell_pio = out->pio;
		vm->last_doorbell_addr = out->addr;
		kvl_doorbell_learn(vm, k);
		kvl_publish(&k->state, KVL_DOORBELL_FREE);
		best_vc->doorbell_tail++;
		return true;
	}
}

bool kvl_doorbell_take(struct kvl_vm *vm, u64 now,
		       const struct kvl_taken_doorbell *same,
		       struct kvl_taken_doorbell *out)
{
	return kvl_doorbell_find(vm, now, same, 0, out);
}

/*
 * Under vm->lock: the doorbell of an I/O submitted at @now, first the
 * oldest at @prefer (0: none), the notify address of the queue whose
 * ioeventfd the event loop read before it (virtqueue.c).  With none live,
 * the guest queued the request behind an earlier notify (it does not ring
 * while the device is still working through its queue, and io_submit
 * batches several requests): it shares the VM's last doorbell, unless that
 * is stale, or a doorbell was rung unwatched lately: the I/O may be that
 * one's, on another vCPU.
 */
bool kvl_doorbell_for_io(struct kvl_vm *vm, u64 now, u64 prefer,
			 struct kvl_taken_doorbell *out)
{
	if (prefer && kvl_doorbell_find(vm, now, NULL, prefer, out))
		return true;
	if (kvl_doorbell_take(vm, now, NULL, out))
		return true;
	/* (a doorbell taken during this submission is younger than @now) */
	if (vm->last_doorbell_vcpu < 0 ||
	    !kvl_doorbell_recent(vm, vm->last_doorbell_ts, now) ||
	    kvl_doorbell_recent(vm, READ_ONCE(vm->unwatched_doorbell_ts), now)) {
		vm->counters[KVL_C_SUBMITS_UNMATCHED]++;
		return false;
	}
	out->vcpu = vm->last_doorbell_vcpu;
	out->ts = vm->last_doorbell_ts;
	out->wake = vm->last_doorbell_wake;
	out->pio = vm->last_doorbell_pio;
	out->addr = vm->last_doorbell_addr;
	vm->counters[KVL_C_DOORBELLS_SHARED]++;
	return true;
}

/* Under vm->lock: stamp live, unwoken doorbells with this wake. */
void kvl_doorbell_stamp_wake(struct kvl_vm *vm, u64 now)
{
	u32 v, n = vm->nr_vcpus;

	for (v = 0; v < n; v++) {
		struct kvl_vcpu *vc = vm->vcpus[v];
		u32 i, head = kvl_acquire(&vc->doorbell_head);

		for (i = vc->doorbell_tail; i != head; i++) {
			struct kvl_doorbell *k = &vc->doorbells[i % KVL_DOORBELL_RING];

			if (kvl_acquire(&k->state) == KVL_DOORBELL_LIVE &&
			    !READ_ONCE(k->wake) && k->ts <= now)
				WRITE_ONCE(k->wake, now);
		}
	}
}

/* The vCPU thread went back to userspace: its last doorbell was not one. */
void kvl_doorbell_cancel(struct kvl_vcpu *vc)
{
	struct kvl_doorbell *k;

	if (vc->doorbell_undo < 0)
		return;
	k = &vc->doorbells[vc->doorbell_undo];
	vc->doorbell_undo = -1;
	if (kvl_cmpxchg(&k->state, KVL_DOORBELL_LIVE, KVL_DOORBELL_FREE) == KVL_DOORBELL_LIVE) {
		kvl_publish(&vc->doorbell_head, vc->doorbell_head - 1);
		WRITE_ONCE(vc->doorbells_userspace, vc->doorbells_userspace + 1);
	}
}
