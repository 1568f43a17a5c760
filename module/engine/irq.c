// SPDX-License-Identifier: GPL-2.0
/*
 * irq.c - interrupts: which finished requests one completes, and when
 * it reaches the guest (posted or injected).
 */
#include "internal.h"

/* Under vm->lock: hand request @i, reaped at @reap, to interrupt @irq. */
static void kvl_req_irq(struct kvl_vm *vm, u16 i, u64 reap,
			const struct kvl_irq *irq)
{
	struct kvl_req *r = kvl_req(vm, i);

	r->t[KVL_AT_REAP] = reap;
	r->t[KVL_AT_IRQ] = irq->ts;
	r->target = (s16)irq->target;
	r->vector = irq->vector;
	r->line = (u16)irq->line;
	if (irq->target >= 0) {
		struct kvl_vcpu *vc = vm->vcpus[irq->target];

		r->next = vc->await_head;
		vc->await_head = i;
		WRITE_ONCE(vc->awaiting, vc->awaiting + 1);
	} else {
		kvl_queue_push(vm, &vm->any_q, i);
	}
}

/*
 * What one interrupt takes: only requests of @fd once its (vCPU, vector)
 * is bound to a disk; and the disk of what it took, for its vote.
 */
struct kvl_take {
	s32 fd;			/* bound disk, KVL_FD_UNKNOWN: any */
	s32 took_fd;		/* the disk of the last request it took */
	u32 taken;
};

#define KVL_TOOK_NONE	(-2)	/* took_fd before the first request */

/* A request the guesses may take: not one its used ring tells about. */
static bool kvl_take_ok(const struct kvl_vm *vm, const struct kvl_take *tk,
			const struct kvl_req *r)
{
	if (kvl_req_by_used_ring(vm, r))
		return false;
	return tk->fd == KVL_FD_UNKNOWN || r->fd == KVL_FD_UNKNOWN ||
	       r->fd == tk->fd;
}

/* Under vm->lock: hand request @i, reaped at @reap, to interrupt @irq. */
static void kvl_take(struct kvl_vm *vm, struct kvl_take *tk, u16 i, u64 reap,
		     const struct kvl_irq *irq)
{
	s32 fd = kvl_req(vm, i)->fd;

	if (fd != KVL_FD_UNKNOWN)
		tk->took_fd = fd;
	tk->taken++;
	kvl_req_irq(vm, i, reap, irq);
}

/* The binding of MSI @irq, added if @add and there is room; NULL if none. */
static struct kvl_irq_bind *kvl_irq_bind(struct kvl_vm *vm,
					 const struct kvl_irq *irq, bool add)
{
	struct kvl_irq_bind *b;
	u32 i;

	if (irq->line || irq->vector < 0)
		return NULL;
	for (i = 0; i < vm->nr_binds; i++) {
		b = &vm->binds[i];
		if (b->target == irq->target && b->vector == irq->vector)
			return b;
	}
	if (!add || vm->nr_binds == KVL_IRQ_BINDS)
		return NULL;
	b = &vm->binds[vm->nr_binds++];
	memset(b, 0, sizeof(*b));
	b->target = irq->target;
	b->vector = irq->vector;
	b->fd = KVL_FD_UNKNOWN;
	for (i = 0; i < KVL_BIND_FDS; i++)
		b->vote_fd[i] = KVL_FD_UNKNOWN;
	return b;
}

/*
 * An unbound interrupt completed the one request the VM had in flight, of
 * disk @fd: a vote.  Only then: at depth, QEMU's event loop completes
 * requests long after their I/O ended (tens of ms in the lab), so what an
 * interrupt takes by time is no evidence of its disk.  Most of its votes
 * for one disk bind it.  Votes are halved now and then, so
 * an interrupt whose early votes were split can still be bound.
 */
static void kvl_irq_vote(struct kvl_vm *vm, struct kvl_irq_bind *b, s32 fd)
{
	u32 k, slot = 0;

	for (k = 0; k < KVL_BIND_FDS; k++) {
		if (b->vote_fd[k] == fd) {
			slot = k;
			break;
		}
		if (b->votes[k] < b->votes[slot])
			slot = k;
	}
	if (b->vote_fd[slot] != fd) {	/* the least voted gives way */
		b->vote_fd[slot] = fd;
		b->votes[slot] = 0;
	}
	b->votes[slot]++;
	b->total++;
	if (b->votes[slot] >= KVL_BIND_VOTES &&
	    b->votes[slot] * 4 >= b->total * 3) {
		b->fd = fd;
		vm->counters[KVL_C_IRQS_BOUND]++;
	} else if (b->total >= 8 * KVL_BIND_VOTES) {
		b->total = 0;
		for (k = 0; k < KVL_BIND_FDS; k++) {
			b->votes[k] /= 2;
			b->total += b->votes[k];
		}
	}
}

/*
 * A request had no interrupt within irq_timeout: if an interrupt bound
 * to a disk kept it from the one it had (the guest moved a queue's
 * vector), the bindings are wrong.  Learn them again.
 */
static void kvl_irq_binds_forget(struct kvl_vm *vm)
{
	u32 i;

	for (i = 0; i < vm->nr_binds; i++)
		if (vm->binds[i].fd != KVL_FD_UNKNOWN)
			break;
	if (i == vm->nr_binds)
		return;
	vm->nr_binds = 0;
	vm->counters[KVL_C_IRQ_BINDS_FORGOTTEN]++;
}

/*
 * Under vm->lock: nothing finished before the iteration's wake, but QEMU
 * reaps its AIO ring right after io_submit too (ioq_submit()), so a fast
 * completion can raise its interrupt in the same iteration, without a wake
 * in between: then the oldest native request submitted before the interrupt
 * is the one, reaped as it was submitted.  Only when it is the only native
 * request in flight: with more, the interrupt may be another's, whose wake
 * was lost, and taking a request that is still on the device loses track.
 */
static void kvl_irq_same_iteration(struct kvl_vm *vm, struct kvl_take *tk,
				   const struct kvl_irq *irq)
{
	u16 i = vm->native_q.head;
	struct kvl_req *r;

	if (i == KVL_NO_REQ)
		return;
	r = kvl_req(vm, i);
	/* (a request the AIO ring tells about waits for its completion) */
	if (r->next != KVL_NO_REQ || r->t[KVL_AT_SUBMIT_END] > irq->ts ||
	    (r->flags & KVL_REQ_RING) || !kvl_take_ok(vm, tk, r))
		return;
	kvl_queue_unlink(vm, &vm->native_q, KVL_NO_REQ, i);
	kvl_take(vm, tk, i, r->t[KVL_AT_SUBMIT_END], irq);
}

/*
 * Under vm->lock: nothing finished before the iteration's wake, but a pool
 * worker finished a request while the loop was still dispatching, and the
 * loop ran its completion in the same iteration (QEMU's thread-pool bottom
 * half), without a wake in between.  A pool system call's return is its
 * completion, so the oldest such request of the interrupt's vCPU is the
 * one, reaped as it finished.  Left alone it would wait for a later
 * interrupt, and the last request of a vCPU would stay in flight.
 */
static void kvl_irq_done_after_wake(struct kvl_vm *vm, struct kvl_take *tk,
				    const struct kvl_irq *irq)
{
	u16 prev = KVL_NO_REQ, i = vm->done_q.head;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);

		if (r->t[KVL_AT_SUBMIT_END] <= irq->ts && kvl_take_ok(vm, tk, r) &&
		    (irq->target < 0 || r->vcpu == irq->target)) {
			kvl_queue_unlink(vm, &vm->done_q, prev, i);
			kvl_take(vm, tk, i, r->t[KVL_AT_SUBMIT_END], irq);
			return;
		}
		prev = i;
		i = r->next;
	}
}

/*
 * Under vm->lock: give interrupt @irq the requests of @q finished by @reap
 * (at most *@native_limit native ones), of its target vCPU only if @own.
 * A native request whose completion the AIO ring tells about is finished
 * once seen there, reaped when it was seen.
 */
static void kvl_irq_take(struct kvl_vm *vm, struct kvl_take *tk,
			 struct kvl_queue *q, bool own,
			 const struct kvl_irq *irq, u64 reap, u32 *native_limit)
{
	u16 prev = KVL_NO_REQ, i = q->head;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;
		bool ring = r->flags & KVL_REQ_RING;

		if ((ring ? !(r->flags & KVL_REQ_REAPED) : r->t[KVL_AT_SUBMIT_END] > reap) ||
		    (own && r->vcpu != irq->target) || !kvl_take_ok(vm, tk, r) ||
		    (q == &vm->native_q && !ring && !*native_limit)) {
			prev = i;
			i = next;
			continue;
		}
		kvl_queue_unlink(vm, q, prev, i);
		if (q == &vm->native_q && !ring)
			(*native_limit)--;
		kvl_take(vm, tk, i, ring ? r->t[KVL_AT_REAP] : reap, irq);
		i = next;
	}
}

/*
 * Under vm->lock: @r's I/O is over by interrupt @irq, raised by a thread
 * last woken at @wake: true, with when it was reaped in *@reap.
 */
static bool kvl_req_io_over(const struct kvl_req *r, const struct kvl_irq *irq,
			    u64 wake, u64 *reap)
{
	if (r->flags & KVL_REQ_RING) {	/* seen in the AIO ring */
		*reap = r->t[KVL_AT_REAP];
		return r->flags & KVL_REQ_REAPED;
	}
	if (r->t[KVL_AT_SUBMIT_END] > irq->ts)
		return false;
	/* the iteration that completed it woke after it, or it is this one */
	*reap = wake >= r->t[KVL_AT_SUBMIT_END] ? wake : r->t[KVL_AT_SUBMIT_END];
	return true;
}

/* When QEMU chose a completion (kvl_completed_before()) */
struct kvl_choice {
	u64 chosen;		/* its previous completion, or its wake */
	u64 overdue;		/* the wake before that */
};

/*
 * Under vm->lock: of @a and @b, finished requests of one disk, the one
 * QEMU completes first.  Native: the AIO ring's order, which QEMU reaps
 * in (qemu_laio_process_completions()).  Threads: the last submitted of
 * those finished when QEMU chose, since the pool's completion bottom
 * half restarts from the head of its list of requests, where each new
 * one is inserted, after each completion (thread_pool_completion_bh(),
 * thread_pool_submit_aio()).  It completes every finished one before
 * the loop sleeps again, so one finished before the iteration before is
 * overdue - another took its completion - and goes first.
 */
static bool kvl_completed_before(const struct kvl_req *a,
				 const struct kvl_req *b,
				 const struct kvl_choice *c)
{
	u64 a_end = a->t[KVL_AT_SUBMIT_END], b_end = b->t[KVL_AT_SUBMIT_END];
	bool a_in = a_end <= c->chosen, b_in = b_end <= c->chosen;
	bool a_late = a_end < c->overdue, b_late = b_end < c->overdue;

	if (a->path != b->path)
		return a->t[KVL_AT_SUBMIT_END] < b->t[KVL_AT_SUBMIT_END];
	if (a->path != KVL_PATH_THREADS) {	/* the order of their ring */
		if ((a->flags & b->flags & KVL_REQ_REAPED))
			return (s16)(a->ring_seq - b->ring_seq) < 0;
		return a->t[KVL_AT_SUBMIT_END] < b->t[KVL_AT_SUBMIT_END];
	}
	if (a_late != b_late)
		return a_late;
	if (a_late)
		return a->t[KVL_AT_SUBMIT_END] < b->t[KVL_AT_SUBMIT_END];
	if (a_in != b_in)
		return a_in;
	return a->t[KVL_AT_SUBMIT] > b->t[KVL_AT_SUBMIT];
}

/* A request picked from a queue: where it is, and when it was reaped */
struct kvl_pick {
	struct kvl_queue *q;
	u16 prev;
	u64 reap;
};

/*
 * Under vm->lock: the finished request of disk @fd, followed by a used
 * ring, that QEMU completes first, and its place in *@p; KVL_NO_REQ if
 * none.  *@waits: a request of that disk is still on the device.
 */
static u16 kvl_used_next(struct kvl_vm *vm, s32 fd, const struct kvl_irq *irq,
			 u64 wake, const struct kvl_choice *c,
			 struct kvl_pick *p, bool *waits)
{
	struct kvl_queue *queues[2];
	u16 best = KVL_NO_REQ, prev, i;
	int qi;

	kvl_for_each_io_req(vm, queues, qi, prev, i) {
		struct kvl_req *r = kvl_req(vm, i);
		u64 reap;

		if (!kvl_req_by_used_ring(vm, r) || vm->vqs[r->vq].fd != fd)
			continue;
		if (!kvl_req_io_over(r, irq, wake, &reap)) {
			*waits = true;
			continue;
		}
		if (best == KVL_NO_REQ ||
		    kvl_completed_before(r, kvl_req(vm, best), c)) {
			best = i;
			p->q = queues[qi];
			p->prev = prev;
			p->reap = reap;
		}
	}
	return best;
}

/*
 * Under vm->lock: give interrupt @irq the requests of @q's disk its used
 * rings named (virtqueue.c): exact at any depth, where the order below is
 * a guess.  QEMU completed them since the disk's last interrupt, with no
 * interrupt of their own (EVENT_IDX) or with this one.
 */
static void kvl_irq_take_named(struct kvl_vm *vm, struct kvl_take *tk,
			       const struct kvl_irq *irq, const struct kvl_vq *q)
{
	u16 prev = KVL_NO_REQ, i = vm->used_q.head;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;

		if (r->fd != q->fd) {
			prev = i;
		} else {
			kvl_queue_unlink(vm, &vm->used_q, prev, i);
			kvl_take(vm, tk, i, r->t[KVL_AT_REAP], irq);
		}
		i = next;
	}
}

/*
 * Under vm->lock: give interrupt @irq, raised by a thread last woken at
 * @wake, as many finished requests of each followed virtqueue's disk as
 * its used ring advanced by (virtqueue.c), in the order QEMU completes
 * them.  What is left over waits for a request of that disk whose end
 * the module has not seen yet (an AIO ring is read 16 completions at a
 * time); with none, it was not one of ours (a request before the module
 * watched, a GET_ID that does no I/O): dropped, so it cannot end a later
 * request early.
 */
static void kvl_irq_take_used(struct kvl_vm *vm, struct kvl_take *tk,
			      const struct kvl_irq *irq, struct kvl_thread *t)
{
	u64 wake = t ? t->last_wake : 0;
	struct kvl_choice c = { wake, t ? t->prev_wake : 0 };
	u32 v;

	/* its previous interrupt, if this bottom half raised it */
	if (t && t->used_irq_ts > c.chosen)
		c.chosen = t->used_irq_ts;
	if (t)
		t->used_irq_ts = irq->ts;

	for (v = 0; v < vm->nr_vqs; v++) {
		struct kvl_vq *q = &vm->vqs[v];
		bool waits = false;

		/* another device's: no request of ours waits for it */
		if (!kvl_vq_disk(q)) {
			q->pending = 0;
			continue;
		}
		/* an interrupt bound to a disk: only that disk's completions */
		if (tk->fd != KVL_FD_UNKNOWN && tk->fd != q->fd)
			continue;
		kvl_irq_take_named(vm, tk, irq, q);
		while (q->pending) {
			struct kvl_pick p;
			u16 i;

			i = kvl_used_next(vm, q->fd, irq, wake, &c, &p, &waits);
			if (i == KVL_NO_REQ)
				break;
			q->pending--;
			kvl_queue_unlink(vm, p.q, p.prev, i);
			vm->counters[KVL_C_REQS_BY_USED_RING]++;
			kvl_take(vm, tk, i, p.reap, irq);
		}
		if (!waits)
			q->pending = 0;
	}
}

/*
 * Under vm->lock: the disk whose completions the used rings read before
 * this interrupt show (KVL_FD_NONE: none advanced), KVL_FD_UNKNOWN if
 * they show several, or were not read.  QEMU stores a queue's used index
 * and then raises its vector, so most of a vector's reads show its own
 * disk: its vote (kvl_irq_vote()).
 */
static s32 kvl_used_vote(struct kvl_vm *vm)
{
	s32 fd = KVL_FD_NONE;
	u32 v;

	if (!vm->used_read)
		return KVL_FD_UNKNOWN;
	vm->used_read = 0;
	for (v = 0; v < vm->nr_vqs; v++) {
		const struct kvl_vq *q = &vm->vqs[v];

		/* (another device's queue, or a disk's not known yet) */
		if (!(vm->used_advanced & (1u << v)) || !kvl_vq_disk(q))
			continue;
		if (fd != KVL_FD_NONE && fd != q->fd)
			return KVL_FD_UNKNOWN;
		fd = q->fd;
	}
	return fd;
}

/*
 * Interrupt @irq raised by thread @t: reap what finished before the
 * thread's last wake.  Under vm->lock.
 */
static void kvl_irq_complete(struct kvl_vm *vm, struct kvl_thread *t,
			     const struct kvl_irq *irq)
{
	struct kvl_queue *queues[2] = { &vm->done_q, &vm->native_q };
	u64 reap = t && t->last_wake ? t->last_wake : irq->ts;
	struct kvl_take tk = { KVL_FD_UNKNOWN, KVL_TOOK_NONE, 0 };
	struct kvl_irq_bind *b;
	u32 native_limit = ~0u, dropped = 0, inflight, by_used;
	s32 used_fd;
	int pass, qi;

	/*
	 * A request whose I/O ended more than irq_timeout before this
	 * interrupt had none of its own: the guest asked for none (firmware
	 * polling the used ring: SeaBIOS reading the boot sector, the lab's
	 * "ghost" of 3.5 to 18 s) or QEMU raised none.  QEMU reaps a finished
	 * request within one loop iteration, so it is not this interrupt's.
	 */
	for (qi = 0; qi < 2; qi++)
		dropped += kvl_queue_drop_older(vm, queues[qi], irq->ts,
						KVL_STAMP_IO_OVER,
						vm->cfg->irq_timeout_ns,
						KVL_C_REQS_NO_IRQ);
	if (dropped)
		kvl_irq_binds_forget(vm);
	b = kvl_irq_bind(vm, irq, true);
	if (b)
		tk.fd = b->fd;
	inflight = vm->inflight;
	used_fd = kvl_used_vote(vm);
	kvl_irq_take_used(vm, &tk, irq, t);
	by_used = tk.taken;
	if (b && b->fd == KVL_FD_UNKNOWN && used_fd != KVL_FD_UNKNOWN) {
		kvl_irq_vote(vm, b, used_fd);
		b = NULL;	/* (not again by the guesses' rule below) */
	}

	if (t && t->getevents_n) {
		reap = t->getevents_ts;
		native_limit = t->getevents_n;
		t->getevents_n = 0;
	}
	/* its own vCPU's requests first, then any vCPU's */
	for (pass = 0; pass < 2 && tk.taken == by_used; pass++) {
		if (pass == 0 && irq->target < 0)
			continue;
		for (qi = 0; qi < 2; qi++)
			kvl_irq_take(vm, &tk, queues[qi], pass == 0, irq,
				     reap, &native_limit);
	}
	if (tk.taken == by_used)
		kvl_irq_same_iteration(vm, &tk, irq);
	if (tk.taken == by_used)
		kvl_irq_done_after_wake(vm, &tk, irq);
	if (!tk.taken)
		vm->counters[KVL_C_IRQS_UNMATCHED]++;
	else if (b && b->fd == KVL_FD_UNKNOWN && inflight == 1 &&
		 tk.took_fd != KVL_TOOK_NONE)
		kvl_irq_vote(vm, b, tk.took_fd);
}

void kvl_irq_flush_locked(struct kvl_vm *vm, struct kvl_thread *t,
			  s32 dest, s32 vector)
{
	struct kvl_irq irq = {
		.target = kvl_vcpu_by_id(vm, dest),
		.vector = vector,
		.line = t->irq_line,
		.ts = t->irq_ts,
	};

	t->irq_pending = 0;
	kvl_irq_complete(vm, t, &irq);
}

void kvl_irq_flush(struct kvl_vm *vm, struct kvl_thread *t, s32 dest,
		   s32 vector)
{
	unsigned long flags;

	kvl_lock(&vm->lock, flags);
	kvl_irq_flush_locked(vm, t, dest, vector);
	kvl_unlock(&vm->lock, flags);
}

/*
 * Thread @t's last interrupt saw no kvm_apic_accept_irq.  An MSI may be
 * delivered elsewhere (irqfd's injection work, when the atomic path
 * cannot): it ends requests all the same, aimed by its address.  A line
 * delivered nothing: QEMU raises an INTx line that is already high
 * (kvm_set_irq level 1 twice per completion in the lab, the IOAPIC
 * accepting the first), or the pin is masked.
 */
void kvl_irq_unaccepted(struct kvl_vm *vm, struct kvl_thread *t)
{
	if (t->irq_line)
		t->irq_pending = 0;
	else
		kvl_irq_flush(vm, t, t->irq_dest, t->irq_vector);
}

bool kvl_vector_injected(const struct kvl_vm *vm, s32 vec)
{
	return vec >= 0 && vec < 256 &&
	       (READ_ONCE(vm->inj_vectors[vec / 32]) & (1u << (vec % 32)));
}

/*
 * Did the entry at @now, with @vec injected at @inj_ts (-1: none), give the
 * guest request @r's interrupt?  Decided per interrupt, the way KVM
 * delivers it (Documentation/design.rst, "Interrupt delivery"):
 *  - posted (kvm_apicv_accept_irq followed its kvm_apic_accept_irq): the
 *    vCPU was out of guest mode, and this is its first entry since;
 *  - injected: kvm_inj_virq of its vector before this entry;
 *  - kernels without kvm_apicv_accept_irq: a vector this VM has never
 *    seen injected is taken as posted, at an entry that injects nothing.
 */
static int kvl_delivered(const struct kvl_engine *eng, const struct kvl_vm *vm,
			 const struct kvl_req *r, s32 vec, u64 inj_ts, u64 now)
{
	bool exact = READ_ONCE(eng->apicv_traced);

	if (r->delivery == KVL_DELIV_POSTED)
		return r->t[KVL_AT_IRQ] <= now ? KVL_BY_POSTED : KVL_NOT_YET;
	if (vec >= 0 && (r->vector < 0 || r->vector == vec))
		return r->t[KVL_AT_IRQ] <= inj_ts ? KVL_BY_INJECTION : KVL_NOT_YET;
	if (exact || vec >= 0 || kvl_vector_injected(vm, r->vector))
		return KVL_NOT_YET;
	if (r->vector < 0) {	/* target's vector unknown: any injection */
		u32 i, any = 0;

		for (i = 0; i < ARRAY_SIZE(vm->inj_vectors); i++)
			any |= READ_ONCE(vm->inj_vectors[i]);
		if (any)
			return KVL_NOT_YET;
	}
	return r->t[KVL_AT_IRQ] <= now ? KVL_BY_POSTED : KVL_NOT_YET;
}

void kvl_req_deliver(struct kvl_engine *eng, struct kvl_vm *vm,
		     struct kvl_req *r, int how, u64 now)
{
	if (how == KVL_BY_POSTED)
		r->delivery = KVL_DELIV_POSTED;
	kvl_req_commit(eng, vm, r, now);
}

/* Under vm->lock: vCPU @vi entered at @now; deliver what its interrupt ended. */
void kvl_deliver(struct kvl_engine *eng, struct kvl_vm *vm, u32 vi,
		 u64 now)
{
	struct kvl_vcpu *vc = vm->vcpus[vi];
	s32 vec = vc->inj_vector;
	u64 inj = vc->inj_ts;
	u16 prev = KVL_NO_REQ, i = vc->await_head;
	u32 n = vc->awaiting;
	int how;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;

		how = kvl_delivered(eng, vm, r, vec, inj, now);
		if (how != KVL_NOT_YET) {
			if (prev == KVL_NO_REQ)
				vc->await_head = next;
			else
				kvl_req(vm, prev)->next = next;
			kvl_req_deliver(eng, vm, r, how, now);
			kvl_req_free(vm, i);
			n--;
		} else {
			prev = i;
		}
		i = next;
	}
	WRITE_ONCE(vc->awaiting, n);

	prev = KVL_NO_REQ;
	for (i = vm->any_q.head; i != KVL_NO_REQ;) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;

		how = kvl_delivered(eng, vm, r, vec, inj, now);
		if (how != KVL_NOT_YET) {
			kvl_queue_unlink(vm, &vm->any_q, prev, i);
			kvl_req_deliver(eng, vm, r, how, now);
			kvl_req_free(vm, i);
		} else {
			prev = i;
		}
		i = next;
	}
}
