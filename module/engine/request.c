// SPDX-License-Identifier: GPL-2.0
/*
 * request.c - requests in flight, their queues, and a finished one's
 * way into its histograms (the vCPU's mailbox) and its disk's.
 */
#include "internal.h"

void kvl_queue_push(struct kvl_vm *vm, struct kvl_queue *q, u16 i)
{
	kvl_req(vm, i)->next = KVL_NO_REQ;
	if (q->tail == KVL_NO_REQ)
		q->head = i;
	else
		kvl_req(vm, q->tail)->next = i;
	q->tail = i;
}

/* Unlink @i whose predecessor is @prev (KVL_NO_REQ: the head). */
void kvl_queue_unlink(struct kvl_vm *vm, struct kvl_queue *q, u16 prev,
		      u16 i)
{
	u16 next = kvl_req(vm, i)->next;

	if (prev == KVL_NO_REQ)
		q->head = next;
	else
		kvl_req(vm, prev)->next = next;
	if (q->tail == i)
		q->tail = prev;
}

void kvl_req_free(struct kvl_vm *vm, u16 i)
{
	kvl_req(vm, i)->next = vm->free_req;
	kvl_req(vm, i)->state = 0;
	vm->free_req = i;
	vm->inflight--;
}

/*
 * When request @r's I/O was known to be over: its submission's end, or
 * for one whose completion the AIO ring or io_uring's trace tells about,
 * when QEMU could reap that completion (not yet: @now).
 */
static u64 kvl_req_io_over(const struct kvl_req *r, u64 now)
{
	if (!(r->flags & KVL_REQ_RING))
		return r->t[KVL_AT_SUBMIT_END];
	if (!(r->flags & KVL_REQ_REAPED))
		return now;
	/*
	 * When QEMU could see it: its AIO ring read, or (io_uring) its
	 * thread's return after the kernel completed it, which a loaded
	 * host delays by a good part of a second past the completion.
	 */
	return r->t[KVL_AT_REAP];
}

/*
 * Drop the requests of @q whose stamp @t (an index into t[], or
 * KVL_STAMP_IO_OVER) is more than @age before @now, counting them in
 * @counter.  Returns how many.  Under vm->lock.
 */
u32 kvl_queue_drop_older(struct kvl_vm *vm, struct kvl_queue *q,
			 u64 now, unsigned int t, u64 age,
			 enum kvl_counter counter)
{
	u16 prev = KVL_NO_REQ, i = q->head;
	u32 dropped = 0;

	while (i != KVL_NO_REQ) {
		const struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;
		u64 ts = t == KVL_STAMP_IO_OVER ? kvl_req_io_over(r, now) : r->t[t];

		if (now > ts && now - ts > age) {
			kvl_queue_unlink(vm, q, prev, i);
			kvl_req_free(vm, i);
			vm->counters[counter]++;
			dropped++;
		} else {
			prev = i;
		}
		i = next;
	}
	return dropped;
}

/* Drop requests older than req_timeout from a queue. */
static void kvl_queue_expire(struct kvl_vm *vm, struct kvl_queue *q, u64 now)
{
	kvl_queue_drop_older(vm, q, now, 0, vm->cfg->req_timeout_ns,
			     KVL_C_REQUESTS_EXPIRED);
}

/* Free every request of @q, counted as expired.  Under vm->lock. */
void kvl_queue_drop(struct kvl_vm *vm, struct kvl_queue *q)
{
	u16 i = q->head;

	while (i != KVL_NO_REQ) {
		u16 next = kvl_req(vm, i)->next;

		kvl_req_free(vm, i);
		vm->counters[KVL_C_REQUESTS_EXPIRED]++;
		i = next;
	}
	q->head = KVL_NO_REQ;
	q->tail = KVL_NO_REQ;
}

static void kvl_expire_all(struct kvl_vm *vm, u64 now)
{
	u32 v;

	kvl_queue_expire(vm, &vm->native_q, now);
	kvl_queue_expire(vm, &vm->done_q, now);
	kvl_queue_expire(vm, &vm->any_q, now);
	kvl_queue_expire(vm, &vm->used_q, now);
	for (v = 0; v < vm->nr_vcpus; v++) {
		struct kvl_vcpu *vc = vm->vcpus[v];
		struct kvl_queue q = { vc->await_head, KVL_NO_REQ };
		u16 i;

		for (i = q.head; i != KVL_NO_REQ; i = kvl_req(vm, i)->next)
			q.tail = i;
		kvl_queue_expire(vm, &q, now);
		vc->await_head = q.head;
		for (i = q.head, q.tail = 0; i != KVL_NO_REQ;
		     i = kvl_req(vm, i)->next)
			q.tail++;
		WRITE_ONCE(vc->awaiting, q.tail);
	}
}

u16 kvl_req_alloc(struct kvl_vm *vm, u64 now)
{
	u16 i = vm->free_req;

	if (i == KVL_NO_REQ) {
		kvl_expire_all(vm, now);
		i = vm->free_req;
		if (i == KVL_NO_REQ) {
			vm->counters[KVL_C_DROP_REQUESTS]++;
			return KVL_NO_REQ;
		}
	}
	vm->free_req = kvl_req(vm, i)->next;
	vm->inflight++;
	memset(kvl_req(vm, i), 0, sizeof(struct kvl_req));
	kvl_req(vm, i)->next = KVL_NO_REQ;
	kvl_req(vm, i)->state = 1;
	kvl_req(vm, i)->target = -1;
	kvl_req(vm, i)->vector = -1;
	kvl_req(vm, i)->fd = KVL_FD_UNKNOWN;
	kvl_req(vm, i)->off = KVL_OFF_UNKNOWN;
	kvl_req(vm, i)->vq = KVL_NO_VQ;
	return i;
}

/*
 * Stage histograms have one writer at a time: whoever holds the vCPU's drain
 * bit.  The vCPU thread only tries (kvl_vcpu_drain()); readers and reset,
 * which need every finished request, wait for it - a bounded wait, since the
 * vCPU holds the bit for one drain of at most KVL_MAILBOX requests, in probe
 * context (preemption off).
 */
static bool kvl_drain_trylock(struct kvl_vcpu *vc)
{
	return !READ_ONCE(vc->draining) && !kvl_cmpxchg(&vc->draining, 0, 1);
}

void kvl_drain_lock(struct kvl_vcpu *vc)
{
	while (!kvl_drain_trylock(vc))
		kvl_cpu_relax();
}

void kvl_drain_unlock(struct kvl_vcpu *vc)
{
	kvl_publish(&vc->draining, 0);
}

/* Holding the drain bit: record what the mailbox holds. */
void kvl_mailbox_drain(struct kvl_vcpu *vc)
{
	u32 head = kvl_acquire(&vc->mail_head);
	u32 tail = vc->mail_tail;

	for (; tail != head; tail++) {
		const struct kvl_done *d = &vc->mailbox[tail % KVL_MAILBOX];
		struct kvl_hist *h = vc->stats.stages[d->path];
		unsigned int i;

		for (i = 0; i < KVL_ST_TOTAL; i++)
			if (i != KVL_ST_COMPLETE_TO_REAP || d->path == KVL_PATH_URING)
				kvl_hist_record(&h[i], (s64)(d->t[i + 1] - d->t[i]));
		kvl_hist_record(&h[KVL_ST_TOTAL],
				(s64)(d->t[KVL_AT_ENTRY] - d->t[KVL_AT_DOORBELL]));
	}
	kvl_publish(&vc->mail_tail, tail);
}

/* The vCPU thread, at an entry with mail (kvl_vcpu_drain()): never waits. */
void kvl_vcpu_drain_mail(struct kvl_vcpu *vc)
{
	if (!kvl_drain_trylock(vc))
		return;
	kvl_mailbox_drain(vc);
	kvl_drain_unlock(vc);
}

/* ------------------------------------------------------------------ */
/* stages */

/*
 * Under vm->lock (which makes the mailbox single-producer): request @r ended
 * with the entry at @entry; post it to its doorbell vCPU, which records it
 * at its next entry (kvl_vcpu_drain()).
 */
static void kvl_req_report(struct kvl_engine *eng, const struct kvl_vm *vm,
			   const struct kvl_vcpu *vc, const struct kvl_req *r,
			   kvl_request_hook hook)
{
	struct kvl_request_record rec;

	rec.tgid = vm->tgid;
	rec.vcpu_id = vc->vcpu_id;
	rec.irq_vcpu_id = r->target >= 0 && (u32)r->target < vm->nr_vcpus ?
			  (s32)vm->vcpus[r->target]->vcpu_id : -1;
	rec.vector = r->vector;
	rec.path = r->path;
	rec.posted = r->delivery == KVL_DELIV_POSTED;
	rec.pio = r->pio;
	rec.line = r->line;
	rec.addr = r->addr;
	rec.fd = r->fd;
	rec.off = r->off;
	memcpy(rec.t, r->t, sizeof(rec.t));
	hook(eng->on_request_ctx, &rec);
}

/* Under vm->lock: the disk of file descriptor @fd, added if new; or NULL. */
static struct kvl_disk *kvl_disk_of(struct kvl_vm *vm, s32 fd)
{
	struct kvl_disk *d;
	u32 i;

	if (fd < 0) {
		vm->counters[KVL_C_REQS_NO_DISK]++;
		return NULL;
	}
	for (i = 0; i < vm->nr_disks; i++)
		if (vm->disks[i].fd == fd)
			return &vm->disks[i];
	if (vm->nr_disks == KVL_DISKS) {
		vm->counters[KVL_C_DROP_DISKS]++;
		return NULL;
	}
	d = &vm->disks[vm->nr_disks];
	d->fd = fd;
	for (i = 0; i < KVL_NR_PATHS * KVL_NR_DISK_STAGES; i++)
		kvl_hist_init(&d->hist[0][0] + i);
	/* readers see the disk once its fd is set */
	kvl_publish(&vm->nr_disks, vm->nr_disks + 1);
	return d;
}

/* Under vm->lock: a recorded request's share of its disk's histograms. */
static void kvl_disk_record(struct kvl_vm *vm, const struct kvl_req *r)
{
	struct kvl_disk *d = kvl_disk_of(vm, r->fd);

	if (!d || r->path >= KVL_NR_PATHS)
		return;
	/* the host's I/O: the pool's call, io_uring's own, the AIO ring's */
	if (r->path == KVL_PATH_THREADS)
		kvl_hist_record(&d->hist[r->path][KVL_DS_IO],
				(s64)(r->t[KVL_AT_SUBMIT_END] - r->t[KVL_AT_SUBMIT]));
	else if (r->path == KVL_PATH_URING && (r->flags & KVL_REQ_REAPED))
		kvl_hist_record(&d->hist[r->path][KVL_DS_IO],
				(s64)(r->t[KVL_AT_COMPLETE] - r->t[KVL_AT_SUBMIT_END]));
	else if (r->flags & KVL_REQ_REAPED)
		kvl_hist_record(&d->hist[r->path][KVL_DS_IO],
				(s64)(r->t[KVL_AT_REAP] - r->t[KVL_AT_SUBMIT]));
	kvl_hist_record(&d->hist[r->path][KVL_DS_SUBMIT_TO_IRQ],
			(s64)(r->t[KVL_AT_IRQ] - r->t[KVL_AT_SUBMIT]));
	kvl_hist_record(&d->hist[r->path][KVL_DS_TOTAL],
			(s64)(r->t[KVL_AT_ENTRY] - r->t[KVL_AT_DOORBELL]));
}

void kvl_req_commit(struct kvl_engine *eng, struct kvl_vm *vm,
		    struct kvl_req *r, u64 entry)
{
	kvl_request_hook hook;
	struct kvl_vcpu *vc;
	struct kvl_done *d;
	unsigned int i;

	if (r->t[KVL_AT_DOORBELL] < READ_ONCE(eng->resume_ts)) {
		/* rung before a pause: events that ended it may be missed */
		vm->counters[KVL_C_REQUESTS_STALE]++;
		return;
	}
	r->t[KVL_AT_ENTRY] = entry;
	/* only io_uring's traced completion is seen apart from its reap */
	if (r->path != KVL_PATH_URING || !(r->flags & KVL_REQ_RING))
		r->t[KVL_AT_COMPLETE] = r->t[KVL_AT_REAP];
	/* timestamps of one request never go backwards: clamp */
	for (i = 1; i < KVL_NR_STAMPS; i++)
		if (r->t[i] < r->t[i - 1])
			r->t[i] = r->t[i - 1];
	if (r->vcpu < 0 || (u32)r->vcpu >= vm->nr_vcpus)
		return;
	vc = vm->vcpus[r->vcpu];
	if (vc->mail_head - kvl_acquire(&vc->mail_tail) >= KVL_MAILBOX) {
		/*
		 * The vCPU has not entered while a mailbox-full of its
		 * requests ended: drain it from here.  Readers and reset
		 * need vm->lock, which we hold, so the wait is only for the
		 * vCPU finishing a drain of its own.
		 */
		kvl_drain_lock(vc);
		kvl_mailbox_drain(vc);
		kvl_drain_unlock(vc);
		vm->counters[KVL_C_MAILBOX_FULL]++;
	}
	d = &vc->mailbox[vc->mail_head % KVL_MAILBOX];
	memcpy(d->t, r->t, sizeof(d->t));
	d->path = r->path;
	kvl_publish(&vc->mail_head, vc->mail_head + 1);
	vm->counters[KVL_C_REQUESTS]++;
	kvl_disk_record(vm, r);
	/* of the recorded ones only: posted + injected = requests */
	vm->counters[r->delivery == KVL_DELIV_POSTED ? KVL_C_REQS_POSTED :
		     KVL_C_REQS_INJECTED]++;
	hook = READ_ONCE(eng->on_request);	/* set while someone listens */
	if (hook)
		kvl_req_report(eng, vm, vc, r, hook);
}

/* Fill doorbell and wake of a new request. */
void kvl_req_attribute(struct kvl_vm *vm, struct kvl_req *r,
		       const struct kvl_taken_doorbell *k, u64 own_wake,
		       u64 submit)
{
	u64 wake = k->wake;

	/*
	 * The submitting event loop's own wake first: the first wake in the
	 * VM may be another loop's (the main loop's timer while an iothread
	 * serves the disk).  A pool thread has none: the doorbell's stamp.
	 */
	if (own_wake >= k->ts && own_wake <= submit)
		wake = own_wake;
	else if (!wake || wake < k->ts || wake > submit)
		wake = submit;
	r->vcpu = k->vcpu;
	r->pio = k->pio;
	r->addr = k->addr;
	r->vq = kvl_vq_of_request(vm, k->pio, k->addr, r->fd);
	r->t[KVL_AT_DOORBELL] = k->ts;
	r->t[KVL_AT_WAKE] = wake;
	r->t[KVL_AT_SUBMIT] = submit;
}
