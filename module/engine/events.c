// SPDX-License-Identifier: GPL-2.0
/*
 * events.c - the engine's entry points, one per event (kvl_ev_*()).
 */
#include "internal.h"

static void kvl_exit_record(struct kvl_vcpu *vc, u64 ns)
{
	struct kvl_exit_slot *s = vc->stats.exits;
	unsigned int i = vc->exit_slot;

	/* exits of one reason come in runs: the last one's slot first */
	if (i < KVL_EXIT_SLOTS - 1 && s[i].used && s[i].reason == vc->exit_reason)
		goto record;
	/* reserved slots come first, then the others in order of arrival */
	for (i = 0; i < KVL_EXIT_SLOTS - 1; i++) {
		if (s[i].used && s[i].reason == vc->exit_reason)
			break;
		if (!s[i].used) {
			s[i].reason = vc->exit_reason;
			kvl_publish(&s[i].used, 1);
			break;
		}
	}
	if (i == KVL_EXIT_SLOTS - 1 && !s[i].used) {
		s[i].reason = KVL_EXIT_OTHER;
		kvl_publish(&s[i].used, 1);
	}
	vc->exit_slot = i;
record:
	kvl_hist_add(&s[i].hist, (s64)ns);
}

void kvl_ev_exit(struct kvl_engine *eng, s32 tgid, s32 tid, const char *comm,
		 u32 vcpu_id, u32 isa, u32 reason, u64 now)
{
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	struct kvl_vm *vm;

	vc = kvl_vcpu_find_t(eng, tgid, tid, &vm, &t);
	if (!vc) {
		/* the VM's or the vCPU's first exit: remembered from the next event */
		if (!vm) {
			vm = kvl_vm_create(eng, tgid, comm);
			if (!vm)
				return;
			t = kvl_thread_find(vm, tid);
		}
		if (!t || READ_ONCE(t->vcpu) < 0) {
			t = kvl_vcpu_register(eng, vm, tid, vcpu_id, isa);
			if (!t)
				return;
		}
		vc = kvl_vcpu_of(vm, t);
		if (!vc)
			return;
	}
	WRITE_ONCE(vc->exits, vc->exits + 1);
	WRITE_ONCE(vc->exit_ts, now);	/* read by kvl_ev_apicv_accept() */
	vc->exit_reason = reason;
	vc->doorbell_undo = -1;
}

void kvl_ev_entry(struct kvl_engine *eng, s32 tgid, s32 tid, u64 now)
{
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	struct kvl_vm *vm;
	unsigned long flags;

	vc = kvl_vcpu_find_t(eng, tgid, tid, &vm, &t);
	if (!vc)
		return;
	WRITE_ONCE(vc->entries, vc->entries + 1);
	if (vc->exit_ts) {
		/* an exit from before a pause ends at a time nobody watched */
		if (vc->exit_ts >= READ_ONCE(eng->resume_ts))
			kvl_exit_record(vc, now - vc->exit_ts);
		WRITE_ONCE(vc->exit_ts, 0);
	}
	vc->doorbell_undo = -1;
	if (READ_ONCE(vc->awaiting) || READ_ONCE(vm->any_q.head) != KVL_NO_REQ) {
		kvl_lock(&vm->lock, flags);
		kvl_deliver(eng, vm, (u32)t->vcpu, now);
		kvl_unlock(&vm->lock, flags);
	}
	vc->inj_vector = -1;
	kvl_vcpu_drain(vc);
}

/*
 * Guest writes that KVM handles itself are not doorbells even though they
 * never reach userspace: the local APIC and IOAPIC (MMIO), the PICs, their
 * edge/level register, the PIT and the speaker port, and the RTC index port
 * that QEMU registers as coalesced PIO.  They would otherwise queue up ahead
 * of the real doorbells; other coalesced zones are left to address learning
 * (kvl_doorbell_take()).
 */
static bool kvl_in_kernel_device(bool pio, u64 addr)
{
	if (!pio)
		return (addr >= 0xfee00000 && addr < 0xfee01000) ||	/* LAPIC */
		       (addr >= 0xfec00000 && addr < 0xfec01000);	/* IOAPIC */
	if (addr > 0x4d1)	/* virtio's ports, as PCI gives them, are above */
		return false;
	return addr == 0x20 || addr == 0x21 || addr == 0xa0 || addr == 0xa1 ||
	       addr == 0x4d0 || addr == 0x4d1 ||			/* PIC, ELCR */
	       (addr >= 0x40 && addr <= 0x43) || addr == 0x61 ||	/* PIT */
	       addr == 0x70;	/* RTC index: QEMU makes it coalesced PIO */
}

void kvl_ev_doorbell(struct kvl_engine *eng, s32 tgid, s32 tid, bool pio,
		     u64 addr, u64 now)
{
	struct kvl_vm *vm;
	struct kvl_vcpu *vc;
	struct kvl_doorbell *k;
	u32 slot;

	(void)now;	/* a doorbell's time is its exit's */
	if (kvl_in_kernel_device(pio, addr))
		return;
	vc = kvl_vcpu_find(eng, tgid, tid, &vm);
	if (!vc || !vc->exit_ts)	/* only while handling an exit */
		return;
	if (READ_ONCE(eng->syscalls_unwatched)) {
		WRITE_ONCE(vc->unwatched_doorbells, vc->unwatched_doorbells + 1);
		WRITE_ONCE(vm->unwatched_doorbell_ts, vc->exit_ts);
		return;
	}
	/*
	 * Doorbells no I/O has followed yet (another ioeventfd device's:
	 * virtio-net without vhost, virtio-rng, the balloon) may fill half
	 * the ring at most, once the VM knows its I/O doorbells: the rest is
	 * kept for those.
	 */
	if (vc->doorbell_head - READ_ONCE(vc->doorbell_tail) >= KVL_DOORBELL_RING / 2 &&
	    READ_ONCE(vm->nr_known) && !kvl_doorbell_known_at(vm, pio, addr)) {
		WRITE_ONCE(vc->ignored_doorbells, vc->ignored_doorbells + 1);
		return;
	}
	slot = vc->doorbell_head % KVL_DOORBELL_RING;
	k = &vc->doorbells[slot];
	if (kvl_acquire(&k->state) != KVL_DOORBELL_FREE) {
		WRITE_ONCE(vc->dropped_doorbells, vc->dropped_doorbells + 1);
		return;
	}
	k->ts = vc->exit_ts;
	k->wake = 0;
	k->addr = addr;
	k->pio = pio;
	kvl_publish(&k->state, KVL_DOORBELL_LIVE);
	kvl_publish(&vc->doorbell_head, vc->doorbell_head + 1);
	vc->doorbell_undo = (s32)slot;
	WRITE_ONCE(vm->doorbell_seq, vm->doorbell_seq + 1);
}

void kvl_ev_irq(struct kvl_engine *eng, s32 tgid, s32 tid, s32 dest,
		s32 vector, u64 now)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t;

	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (t && READ_ONCE(t->vcpu) >= 0)
		return;	/* a vCPU's own interrupts (IPIs): not I/O completions */
	if (!t) {
		unsigned long flags;

		kvl_lock(&vm->lock, flags);
		t = kvl_thread_add(vm, tid, -1);
		kvl_unlock(&vm->lock, flags);
		if (!t)
			return;
	}
	if (t->irq_pending)
		kvl_irq_unaccepted(vm, t);
	t->flags |= KVL_T_IRQ;
	t->irq_pending = 1;
	t->irq_line = dest < 0 && vector < 0;	/* kvm_set_irq */
	t->irq_ts = now;
	t->irq_dest = dest;
	t->irq_vector = vector;
}

void kvl_ev_apic_accept(struct kvl_engine *eng, s32 tgid, s32 tid,
			u32 apicid, u32 vector, u64 now)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t;

	(void)now;
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t || !t->irq_pending)
		return;
	kvl_irq_flush(vm, t, (s32)apicid, (s32)vector);
}

void kvl_ev_inj_virq(struct kvl_engine *eng, s32 tgid, s32 tid, u32 vector,
		     u64 now)
{
	struct kvl_vm *vm;
	struct kvl_vcpu *vc = kvl_vcpu_find(eng, tgid, tid, &vm);

	if (!vc)
		return;
	if (vector < 256 && !kvl_vector_injected(vm, (s32)vector)) {
		unsigned long flags;

		kvl_lock(&vm->lock, flags);	/* once per vector and VM */
		vm->inj_vectors[vector / 32] |= 1u << (vector % 32);
		kvl_unlock(&vm->lock, flags);
	}
	vc->inj_vector = (s32)vector;
	vc->inj_ts = now;
}

void kvl_ev_apicv_accept(struct kvl_engine *eng, s32 tgid, s32 tid,
			 u32 apicid, u32 vector, u64 now)
{
	struct kvl_vm *vm;
	struct kvl_thread *t = kvl_io_thread_find(eng, tgid, tid, &vm);
	struct kvl_vcpu *vc;
	unsigned long flags;
	u16 prev = KVL_NO_REQ, i;
	bool in_guest;
	int vi;

	if (!t)
		return;
	kvl_lock(&vm->lock, flags);
	if (t->irq_pending)	/* kvm_apic_accept_irq missed: take it now */
		kvl_irq_flush_locked(vm, t, (s32)apicid, (s32)vector);
	vi = kvl_vcpu_by_id(vm, (s32)apicid);
	if (vi < 0)
		goto out;
	vc = vm->vcpus[vi];
	/*
	 * svm_complete_interrupt_delivery() rings the AVIC doorbell, and
	 * vmx_deliver_posted_interrupt() sends the notification IPI, to a
	 * vCPU in guest mode: the guest takes the interrupt now, no entry
	 * follows.  Out of guest mode (halted, or handling an exit) it comes
	 * with the vCPU's next VMRUN/VM-entry: kvl_deliver().
	 */
	in_guest = !READ_ONCE(vc->exit_ts);
	for (i = vc->await_head; i != KVL_NO_REQ;) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;

		if (r->delivery != KVL_DELIV_UNKNOWN || r->t[KVL_AT_IRQ] != t->irq_ts ||
		    r->vector != (s32)vector) {
			prev = i;
			i = next;
			continue;
		}
		r->delivery = KVL_DELIV_POSTED;
		if (in_guest) {
			if (prev == KVL_NO_REQ)
				vc->await_head = next;
			else
				kvl_req(vm, prev)->next = next;
			WRITE_ONCE(vc->awaiting, vc->awaiting - 1);
			/* (kvl_req_commit() keeps the end after the irq) */
			kvl_req_deliver(eng, vm, r, KVL_BY_POSTED, now);
			kvl_req_free(vm, i);
		} else {
			prev = i;
		}
		i = next;
	}
out:
	kvl_unlock(&vm->lock, flags);
}

void kvl_engine_set_apicv_traced(struct kvl_engine *eng, bool traced)
{
	WRITE_ONCE(eng->apicv_traced, traced);
}

void kvl_engine_set_uring_traced(struct kvl_engine *eng, bool traced)
{
	WRITE_ONCE(eng->uring_traced, traced);
}

void kvl_engine_set_syscalls_watched(struct kvl_engine *eng, bool watched)
{
	WRITE_ONCE(eng->syscalls_unwatched, !watched);
}

void kvl_engine_resume(struct kvl_engine *eng, u64 now)
{
	WRITE_ONCE(eng->resume_ts, now);
}

void kvl_ev_userspace_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u32 reason)
{
	struct kvl_vm *vm;
	struct kvl_vcpu *vc;

	if (!kvl_userspace_exit_is_io(reason))
		return;
	vc = kvl_vcpu_find(eng, tgid, tid, &vm);
	if (vc)
		kvl_doorbell_cancel(vc);
}

/* Thread @tid of @vm, added (not a vCPU's) if new; NULL if no room. */
static struct kvl_thread *kvl_thread_get(struct kvl_vm *vm, s32 tid)
{
	struct kvl_thread *t = kvl_thread_find(vm, tid);
	unsigned long flags;

	if (t)
		return t;
	kvl_lock(&vm->lock, flags);
	t = kvl_thread_add(vm, tid, -1);
	kvl_unlock(&vm->lock, flags);
	return t;
}

static bool kvl_uring_waits(u32 arg)
{
	/* arg: flags in the low 16 bits, min_complete above */
	return (arg & KVL_URING_GETEVENTS) && (arg >> 16);
}

bool kvl_ev_sys_enter(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		      u32 arg, s64 off, u64 now)
{
	enum kvl_sys_class cls = kvl_sys_class(nr);
	struct kvl_taken_doorbell db;
	struct kvl_thread *t;
	struct kvl_vm *vm;
	unsigned long flags;
	u64 read_ts, addr;
	u16 ri;

	if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
		return true;
	vm = kvl_sys_find(eng, tgid, tid, &t);
	if (!vm)
		return true;
	if (!t)
		t = kvl_thread_get(vm, tid);
	if (!t)
		return true;
	if (READ_ONCE(t->vcpu) >= 0)
		return false;
	t->sys_nr = nr;
	t->sys_arg = arg;
	t->sys_ts = now;
	if (cls != KVL_SYS_POOL_IO)
		return true;

	t->flags |= KVL_T_POOL;
	kvl_lock(&vm->lock, flags);
	vm->counters[KVL_C_EVENTS]++;
	if (t->cur_req != KVL_NO_REQ) {	/* previous one never returned */
		kvl_req_free(vm, t->cur_req);
		t->cur_req = KVL_NO_REQ;
		vm->counters[KVL_C_LOST]++;
	}
	/* the first pool call after an event loop read a queue's ioeventfd */
	kvl_vq_vote_disk(vm, vm->pool_vote_cfg, (s32)arg, false);
	vm->pool_vote_cfg = 0;
	/*
	 * The read of the ioeventfd that led to it, its loop's wake: the
	 * one whose loop took its block from the available ring, else the
	 * last read of a pool disk's queue.
	 */
	if (!kvl_vq_wake_of(vm, (s32)arg, off, READ_ONCE(eng->read_qemu),
			    &read_ts, &addr)) {
		read_ts = vm->pool_addr ? vm->pool_read_ts : 0;
		addr = vm->pool_addr;
	}
	if (!kvl_doorbell_for_io(vm, now, addr, &db))
		goto out;
	vm->pool_addr = 0;
	ri = kvl_req_alloc(vm, now);
	if (ri == KVL_NO_REQ)
		goto out;
	kvl_req(vm, ri)->path = KVL_PATH_THREADS;
	kvl_req(vm, ri)->fd = (s32)arg;
	kvl_req(vm, ri)->off = off;
	kvl_req_attribute(vm, kvl_req(vm, ri), &db, read_ts, now);
	t->cur_req = ri;
out:
	kvl_unlock(&vm->lock, flags);
	return true;
}

/*
 * Under vm->lock: a batch served by @t begins; @fd is its first request's
 * disk (KVL_FD_UNKNOWN: none).  Served right after reading that queue's
 * ioeventfd, it is that queue's disk and began with that read, else with
 * its thread's wake.
 */
static void kvl_batch_begin(struct kvl_vm *vm, struct kvl_thread *t, s32 fd,
			    struct kvl_batch *b)
{
	if (fd != KVL_FD_UNKNOWN)
		kvl_vq_vote_disk(vm, t->handling_cfg, fd, true);
	b->prefer = t->handling_addr;
	b->own_wake = b->prefer ? t->handling_ts : t->last_wake;
	b->have_first = false;
	t->handling_cfg = 0;
	t->handling_addr = 0;
}

/*
 * Under vm->lock: the doorbell of @b's next request, submitted at @ts.
 * One io_submit or io_uring_enter is one queue's batch
 * (virtio_blk_handle_vq() plugs, takes what the guest queued, unplugs):
 * its first request takes a doorbell, the others one of the same queue,
 * and otherwise share the first's, never another queue's.  False: no
 * doorbell for it.
 */
static bool kvl_batch_doorbell(struct kvl_vm *vm, struct kvl_batch *b,
			       u64 ts, struct kvl_taken_doorbell *db)
{
	if (!b->have_first) {
		b->have_first = kvl_doorbell_for_io(vm, ts, b->prefer,
						    &b->first);
		if (!b->have_first)
			return false;
		*db = b->first;
	} else if (!kvl_doorbell_take(vm, ts, &b->first, db)) {
		*db = b->first;
		vm->counters[KVL_C_DOORBELLS_SHARED]++;
	}
	return true;
}

static void kvl_native_submitted(struct kvl_vm *vm, struct kvl_thread *t,
				 u64 ring, const struct kvl_iocb_info *io,
				 u32 nio, s64 n, u64 now)
{
	struct kvl_taken_doorbell db;
	struct kvl_batch batch;
	unsigned long flags;
	s64 i;

	if (ring != t->aio_ring) {	/* (only its own probes read these) */
		t->aio_ring = ring;
		t->ring_seen = KVL_RING_UNSEEN;
		t->ring_ok = 0;
	}
	kvl_lock(&vm->lock, flags);
	vm->counters[KVL_C_EVENTS]++;
	kvl_batch_begin(vm, t, nio ? io[0].fd : KVL_FD_UNKNOWN, &batch);
	/* a slot per request: bounded work under the lock (io_submit takes 65k) */
	if (n > vm->cfg->max_inflight) {
		vm->counters[KVL_C_DROP_REQUESTS] += n - vm->cfg->max_inflight;
		n = vm->cfg->max_inflight;
	}
	for (i = 0; i < n; i++) {
		u16 ri;

		if (!kvl_batch_doorbell(vm, &batch, t->sys_ts, &db))
			continue;
		ri = kvl_req_alloc(vm, now);
		if (ri == KVL_NO_REQ)
			break;
		kvl_req(vm, ri)->path = KVL_PATH_NATIVE;
		/* io_submit returns how many of the first iocbs it took */
		if (i < nio) {
			kvl_req(vm, ri)->fd = io[i].fd;
			kvl_req(vm, ri)->off = io[i].off;
			kvl_req(vm, ri)->iocb = io[i].iocb;
			/* its completion will be seen in the ring */
			if (t->ring_ok && io[i].iocb)
				kvl_req(vm, ri)->flags |= KVL_REQ_RING;
		}
		kvl_req_attribute(vm, kvl_req(vm, ri), &db, batch.own_wake,
				  t->sys_ts);
		kvl_req(vm, ri)->t[KVL_AT_SUBMIT_END] = now;
		kvl_queue_push(vm, &vm->native_q, ri);
	}
	kvl_unlock(&vm->lock, flags);
}

static void kvl_wake(struct kvl_vm *vm, struct kvl_thread *t, u64 now)
{
	unsigned long flags;
	u32 seq;

	t->prev_wake = t->last_wake;
	t->last_wake = now;
	t->getevents_n = 0;
	t->flags |= KVL_T_LOOP;
	seq = READ_ONCE(vm->doorbell_seq);
	if (seq == READ_ONCE(vm->doorbell_seq_woken))
		return;
	kvl_lock(&vm->lock, flags);
	WRITE_ONCE(vm->doorbell_seq_woken, seq);
	kvl_doorbell_stamp_wake(vm, now);
	kvl_unlock(&vm->lock, flags);
}

/* ------------------------------------------------------------------ */
/* io_uring */

/* Under vm->lock: ring @ctx is one of @vm's (learnt if there is room). */
static void kvl_uring_learn(struct kvl_vm *vm, u64 ctx)
{
	u32 i;

	for (i = 0; i < vm->nr_urings; i++)
		if (vm->uring_ctx[i] == ctx)
			return;
	if (vm->nr_urings < KVL_URINGS) {
		WRITE_ONCE(vm->uring_ctx[vm->nr_urings], ctx);
		kvl_publish(&vm->nr_urings, vm->nr_urings + 1);
	}
}

static bool kvl_uring_known(const struct kvl_vm *vm, u64 ctx)
{
	u32 i, n = kvl_acquire(&vm->nr_urings);

	for (i = 0; i < n && i < KVL_URINGS; i++)
		if (READ_ONCE(vm->uring_ctx[i]) == ctx)
			return true;
	return false;
}

void kvl_ev_uring_submit(struct kvl_engine *eng, s32 tgid, s32 tid, u64 ctx,
			 u64 user_data, u32 op, s32 fd, s64 off, u64 now)
{
	struct kvl_taken_doorbell db;
	struct kvl_thread *t;
	struct kvl_vm *vm;
	unsigned long flags;
	u64 enter;
	u16 ri;

	if (!kvl_uring_op_is_io(op))
		return;
	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_get(vm, tid);	/* (SQPOLL: a thread not seen before) */
	if (!t || READ_ONCE(t->vcpu) >= 0)
		return;
	/* submitted by its io_uring_enter, else (SQPOLL) now */
	enter = t->sys_nr == KVL_NR_io_uring_enter ? t->sys_ts : now;
	kvl_lock(&vm->lock, flags);
	vm->counters[KVL_C_EVENTS]++;
	kvl_uring_learn(vm, ctx);
	/* one io_uring_enter is one queue's batch (luring_io_unplug()) */
	if (vm->uring_batch_tid != tid || vm->uring_batch_enter != enter) {
		kvl_batch_begin(vm, t, fd, &vm->uring_batch);
		vm->uring_batch_tid = tid;
		vm->uring_batch_enter = enter;
	}
	if (!kvl_batch_doorbell(vm, &vm->uring_batch, enter, &db))
		goto out;
	ri = kvl_req_alloc(vm, now);
	if (ri == KVL_NO_REQ)
		goto out;
	kvl_req(vm, ri)->path = KVL_PATH_URING;
	kvl_req(vm, ri)->fd = fd;
	kvl_req(vm, ri)->off = off;
	kvl_req(vm, ri)->iocb = user_data;
	kvl_req(vm, ri)->owner = (u16)(t - vm->threads);
	if (READ_ONCE(eng->uring_traced))
		kvl_req(vm, ri)->flags |= KVL_REQ_RING;
	kvl_req_attribute(vm, kvl_req(vm, ri), &db,
			  vm->uring_batch.own_wake, enter);
	kvl_req(vm, ri)->t[KVL_AT_SUBMIT_END] = now;
	kvl_queue_push(vm, &vm->native_q, ri);
out:
	kvl_unlock(&vm->lock, flags);
}

/*
 * Under vm->lock: the io_uring request @user_data completed at @now.  Its
 * reap is not seen (QEMU reads its completion queue in userspace): if its
 * own thread (slot @seen_by) posted it on its way back to userspace, then;
 * else its thread's next return from a wait or io_uring_enter, after
 * which QEMU looks (kvl_uring_seen()); until then, and if an interrupt
 * takes it first (QEMU polling the queue), the completion itself.
 */
static bool kvl_uring_completed(struct kvl_vm *vm, u64 user_data, u64 now,
				u32 seen_by)
{
	u16 i;

	for (i = vm->native_q.head; i != KVL_NO_REQ; i = kvl_req(vm, i)->next) {
		struct kvl_req *r = kvl_req(vm, i);

		if (r->path == KVL_PATH_URING && r->iocb == user_data &&
		    (r->flags & (KVL_REQ_RING | KVL_REQ_REAPED)) == KVL_REQ_RING) {
			r->flags |= KVL_REQ_REAPED;
			r->t[KVL_AT_COMPLETE] = now;
			r->t[KVL_AT_REAP] = now;
			r->ring_seq = vm->ring_seq++;
			if (r->owner == seen_by)
				r->flags |= KVL_REQ_URING_SEEN;
			else
				WRITE_ONCE(vm->uring_unseen, vm->uring_unseen + 1);
			return true;
		}
	}
	return false;
}

void kvl_ev_uring_complete(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u64 ctx, u64 user_data, u64 now)
{
	struct kvl_vm *vm = tgid ? kvl_engine_find_vm(eng, tgid) : NULL;
	u32 i, n, seen_by = KVL_NO_REQ;	/* (no thread slot) */
	struct kvl_thread *t;
	unsigned long flags;

	/* not in a task (an interrupt's): its ring says whose */
	for (i = 0, n = tgid ? 0 : eng->cfg.max_vms; i < n && !vm; i++) {
		struct kvl_vm *o = kvl_acquire(&eng->vms[i]);

		if (o && !READ_ONCE(o->exited) && kvl_uring_known(o, ctx))
			vm = o;
	}
	/* (a ring of no request of ours: QEMU's fdmon-io_uring polls) */
	if (!vm || !kvl_uring_known(vm, ctx))
		return;
	/* a thread on its way back to userspace, where QEMU reaps it */
	t = tgid ? kvl_thread_find(vm, tid) : NULL;
	if (t && t->sys_nr == ~0u)
		seen_by = (u32)(t - vm->threads);
	kvl_lock(&vm->lock, flags);
	kvl_uring_completed(vm, user_data, now, seen_by);
	kvl_unlock(&vm->lock, flags);
}

/*
 * Thread @t returned from a wait or io_uring_enter at @now: QEMU reaps
 * the completions it finds then; the ones of its requests posted since
 * its last return are reaped now.  What other threads still wait for is
 * counted again (requests dropped or reset meanwhile fall out of it).
 */
static void kvl_uring_seen(struct kvl_vm *vm, struct kvl_thread *t, u64 now)
{
	struct kvl_queue *qs[2] = { &vm->native_q, &vm->used_q };
	u16 slot = (u16)(t - vm->threads);
	unsigned long flags;
	u32 others = 0;
	int qi;
	u16 i;

	kvl_lock(&vm->lock, flags);
	for (qi = 0; qi < 2; qi++)
		for (i = qs[qi]->head; i != KVL_NO_REQ; i = kvl_req(vm, i)->next) {
			struct kvl_req *r = kvl_req(vm, i);

			if (r->path != KVL_PATH_URING ||
			    (r->flags & (KVL_REQ_REAPED | KVL_REQ_URING_SEEN)) !=
			    KVL_REQ_REAPED)
				continue;
			if (r->owner != slot) {
				others++;
				continue;
			}
			r->flags |= KVL_REQ_URING_SEEN;
			r->t[KVL_AT_REAP] = now;
		}
	WRITE_ONCE(vm->uring_unseen, others);
	kvl_unlock(&vm->lock, flags);
}

static void kvl_sys_exit(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
			 s64 ret, u64 now, u64 ring,
			 const struct kvl_iocb_info *io, u32 nio)
{
	enum kvl_sys_class cls = kvl_sys_class(nr);
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	struct kvl_vm *vm;
	unsigned long flags;
	bool entered;

	vm = kvl_sys_find(eng, tgid, tid, &t);
	if (!vm)
		return;
	if (!t) {
		/* a thread that was already waiting when tracking began */
		if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
			return;
		t = kvl_thread_get(vm, tid);
		if (!t)
			return;
	}
	vc = kvl_vcpu_of(vm, t);
	if (vc) {
		/* KVM_RUN: 0 for an exit QEMU handles, -EINTR for a signal */
		if (cls == KVL_SYS_IOCTL && ret == 0)
			kvl_doorbell_cancel(vc);
		return;
	}
	if (t->irq_pending)	/* no kvm_apic_accept_irq followed it */
		kvl_irq_unaccepted(vm, t);
	if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
		return;
	entered = t->sys_nr == nr;
	t->sys_nr = ~0u;

	/* QEMU looks at its io_uring completions after either */
	if ((cls == KVL_SYS_WAIT || cls == KVL_SYS_URING) &&
	    READ_ONCE(vm->uring_unseen))
		kvl_uring_seen(vm, t, now);

	switch (cls) {
	case KVL_SYS_WAIT:
		kvl_wake(vm, t, now);
		break;
	case KVL_SYS_URING:
		if (entered && kvl_uring_waits(t->sys_arg))
			kvl_wake(vm, t, now);
		break;
	case KVL_SYS_SUBMIT:
		if (!entered) {
			kvl_lock(&vm->lock, flags);
			vm->counters[KVL_C_LOST]++;
			kvl_unlock(&vm->lock, flags);
			break;
		}
		if (ret > 0)
			kvl_native_submitted(vm, t, ring, io, nio, ret, now);
		break;
	case KVL_SYS_GETEVENTS:
		if (ret > 0) {
			t->getevents_ts = now;
			t->getevents_n += (u32)ret;
		}
		break;
	case KVL_SYS_POOL_IO:
		if (t->cur_req == KVL_NO_REQ)
			break;
		kvl_lock(&vm->lock, flags);
		if (!entered) {
			kvl_req_free(vm, t->cur_req);
			vm->counters[KVL_C_LOST]++;
		} else {
			kvl_req(vm, t->cur_req)->t[KVL_AT_SUBMIT_END] = now;
			kvl_queue_push(vm, &vm->done_q, t->cur_req);
		}
		t->cur_req = KVL_NO_REQ;
		kvl_unlock(&vm->lock, flags);
		break;
	default:
		break;
	}
}

void kvl_ev_sys_exit(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		     s64 ret, u64 now)
{
	kvl_sys_exit(eng, tgid, tid, nr, ret, now, 0, NULL, 0);
}

void kvl_ev_io_submit_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u64 ring, const struct kvl_iocb_info *io, u32 n,
			   s64 ret, u64 now)
{
	kvl_sys_exit(eng, tgid, tid, KVL_NR_io_submit, ret, now, ring, io,
		     n < KVL_SUBMIT_FDS ? n : KVL_SUBMIT_FDS);
}

bool kvl_ev_ring_where(struct kvl_engine *eng, s32 tgid, s32 tid, u64 *ring,
		       u32 *seen)
{
	struct kvl_vm *vm;
	struct kvl_thread *t = kvl_io_thread_find(eng, tgid, tid, &vm);

	if (!t || !t->aio_ring)
		return false;
	*ring = t->aio_ring;
	*seen = t->ring_seen;
	return true;
}

/*
 * Under vm->lock: the native request of iocb @iocb completed, seen at
 * @now: its reap.  The oldest one not seen yet: QEMU reuses an iocb's
 * memory once it has reaped it.
 */
static void kvl_ring_reaped(struct kvl_vm *vm, u64 iocb, u64 now)
{
	u16 i;

	for (i = vm->native_q.head; i != KVL_NO_REQ; i = kvl_req(vm, i)->next) {
		struct kvl_req *r = kvl_req(vm, i);

		if (r->iocb == iocb && (r->flags & (KVL_REQ_RING | KVL_REQ_REAPED)) ==
		    KVL_REQ_RING) {
			r->flags |= KVL_REQ_REAPED;
			r->t[KVL_AT_REAP] = now;
			r->ring_seq = vm->ring_seq++;
			return;
		}
	}
}

void kvl_ev_ring_seen(struct kvl_engine *eng, s32 tgid, s32 tid, u32 seen,
		      const u64 *iocb, u32 n, u64 now)
{
	struct kvl_vm *vm;
	struct kvl_thread *t = kvl_io_thread_find(eng, tgid, tid, &vm);
	unsigned long flags;
	u32 i;

	if (!t)
		return;
	t->ring_seen = seen;
	t->ring_ok = 1;
	if (!n)
		return;
	kvl_lock(&vm->lock, flags);
	for (i = 0; i < n && i < KVL_RING_LOOK; i++)
		kvl_ring_reaped(vm, iocb[i], now);
	kvl_unlock(&vm->lock, flags);
}

void kvl_ev_task_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
		      bool group_dead, u64 now)
{
	struct kvl_vm *vm;
	struct kvl_thread *t;
	unsigned long flags;

	if (group_dead) {
		kvl_engine_vm_exited(eng, tgid, now);
		return;
	}
	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t)
		return;
	kvl_lock(&vm->lock, flags);
	if (t->cur_req != KVL_NO_REQ) {
		kvl_req_free(vm, t->cur_req);
		t->cur_req = KVL_NO_REQ;
	}
	/* vCPU threads keep their slot: their histograms stay readable */
	if (t->vcpu < 0)
		kvl_publish(&t->tid, KVL_TID_DEAD);
	kvl_unlock(&vm->lock, flags);
}
