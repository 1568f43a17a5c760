/* SPDX-License-Identifier: GPL-2.0 */
/*
 * internal.h - what the engine's files share: request tracking, from a
 * guest's doorbell to the interrupt that completes it, for QEMU's
 * aio=native and aio=threads paths.
 *
 * The rules, in order of a request's life (Documentation/design.rst
 * says why and where they are approximate):
 *
 *  doorbell  A guest port or MMIO write seen between a vCPU's kvm_exit and its
 *            next kvm_entry, without the vCPU thread returning to userspace
 *            (an ioeventfd).  It goes into that vCPU's doorbell ring.
 *  wake      The first return of an event-loop wait (ppoll, epoll_wait, ...)
 *            in the VM after the doorbell stamps it.
 *  submit    io_submit (native) or a pool thread's pread/pwrite & co
 *            (threads) takes the oldest live doorbell of the VM; further
 *            iocbs of the same io_submit share it.
 *  reap      An interrupt raised by a VM thread (kvm_msi_set_irq,
 *            kvm_set_irq) completes the requests whose I/O ended before that
 *            thread's last wake (or its io_getevents), preferring those whose
 *            doorbell came from the interrupt's target vCPU.
 *  entry     The target vCPU's next kvm_entry after kvm_inj_virq (or after
 *            the interrupt, when the VM never shows kvm_inj_virq: posted
 *            interrupts) ends the request; its stages go to the histograms of
 *            the vCPU that rang the doorbell.
 */
#ifndef KVMIO_LAT_ENGINE_INTERNAL_H
#define KVMIO_LAT_ENGINE_INTERNAL_H

#include "kvmio_lat/engine.h"

#define KVL_URING_GETEVENTS	1u	/* IORING_ENTER_GETEVENTS */

/* The interrupt being matched to requests. */
struct kvl_irq {
	int target;	/* vCPU index, -1: any */
	s32 vector;	/* -1: unknown */
	u32 line;	/* kvm_set_irq: a line, not an MSI */
	u64 ts;		/* raised */
};

/* how an entry delivered a request's interrupt (kvl_req_deliver()) */
enum { KVL_NOT_YET, KVL_BY_POSTED, KVL_BY_INJECTION };

/* slots a thread lookup probes (open addressing) */
#define KVL_PROBE_MAX	32

/* Hot paths: every event looks up its thread, inline. */
static inline u32 kvl_tid_hash(s32 tid)
{
	return (u32)tid * 2654435761u;
}

static inline struct kvl_thread *kvl_thread_find(struct kvl_vm *vm, s32 tid)
{
	u32 mask = vm->cfg->max_threads - 1, i = kvl_tid_hash(tid) & mask, n;

	for (n = 0; n < KVL_PROBE_MAX && n <= mask; n++, i = (i + 1) & mask) {
		s32 t = kvl_acquire(&vm->threads[i].tid);

		if (t == tid)
			return &vm->threads[i];
		if (!t)
			return NULL;
	}
	return NULL;
}

static inline struct kvl_vcpu *kvl_vcpu_of(struct kvl_vm *vm, struct kvl_thread *t)
{
	s16 i = READ_ONCE(t->vcpu);

	if (i < 0 || (u32)i >= kvl_acquire(&vm->nr_vcpus))
		return NULL;
	return vm->vcpus[i];
}

/*
 * The vCPU thread this CPU last found, for the events that follow its exit
 * (kvm_pio, kvm_userspace_exit, kvm_entry come on the CPU of its kvm_exit
 * unless the thread migrated): valid while @gen is the engine's memo_gen.
 * vCPU threads keep their slot, and a VM's vCPUs their objects, until the
 * VM leaves the table, which moves memo_gen on first; the VM is freed a
 * grace period later, and the memo is only read with preemption off.
 */
struct kvl_memo {
	const struct kvl_engine *eng;
	u32 gen;
	s32 tgid;
	s32 tid;
	struct kvl_vm *vm;
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
};

KVL_DECLARE_PER_CPU(struct kvl_memo, kvl_memo);

/* The table's answer, without the memo. */
static inline struct kvl_vcpu *kvl_vcpu_lookup(struct kvl_engine *eng,
					       s32 tgid, s32 tid,
					       struct kvl_vm **vmp,
					       struct kvl_thread **tp)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t = vm ? kvl_thread_find(vm, tid) : NULL;

	*vmp = vm;
	*tp = t;
	return t ? kvl_vcpu_of(vm, t) : NULL;
}

static inline void kvl_memo_set(struct kvl_memo *m, struct kvl_engine *eng,
				u32 gen, s32 tgid, s32 tid, struct kvl_vm *vm,
				struct kvl_thread *t, struct kvl_vcpu *vc)
{
	m->eng = eng;
	m->gen = gen;
	m->tgid = tgid;
	m->tid = tid;
	m->vm = vm;
	m->t = t;
	m->vc = vc;
}

static inline bool kvl_memo_hit(const struct kvl_memo *m,
				const struct kvl_engine *eng, u32 gen,
				s32 tgid, s32 tid)
{
	return m->tid == tid && m->tgid == tgid && m->gen == gen &&
	       (KVL_ONE_ENGINE || m->eng == eng);
}

/* Tests: a memo hit must be what the tables say (vm.c). */
#ifdef KVL_MEMO_CHECK
void kvl_memo_check(struct kvl_engine *eng, const struct kvl_memo *m);
void kvl_sys_memo_check(struct kvl_engine *eng, const struct kvl_memo *m);
#else
static inline void kvl_memo_check(struct kvl_engine *eng,
				  const struct kvl_memo *m)
{
	(void)eng;
	(void)m;
}
#define kvl_sys_memo_check kvl_memo_check
#endif

/*
 * The vCPU thread @tid of VM @tgid runs, or NULL; its VM in *@vmp and its
 * thread in *@tp.  Per exit, doorbell, entry: inline, and from this CPU's
 * memo when the last vCPU found here is the one asked for.
 */
static inline struct kvl_vcpu *kvl_vcpu_find_t(struct kvl_engine *eng,
					       s32 tgid, s32 tid,
					       struct kvl_vm **vmp,
					       struct kvl_thread **tp)
{
	struct kvl_memo *m = kvl_this_cpu_ptr(&kvl_memo);
	/* before the lookup: a VM removed during it makes the memo stale */
	u32 gen = kvl_acquire(&eng->memo_gen);
	struct kvl_vcpu *vc;

	if (kvl_memo_hit(m, eng, gen, tgid, tid)) {
		kvl_memo_check(eng, m);
		*vmp = m->vm;
		*tp = m->t;
		return m->vc;
	}
	vc = kvl_vcpu_lookup(eng, tgid, tid, vmp, tp);
	if (vc)
		kvl_memo_set(m, eng, gen, tgid, tid, *vmp, *tp, vc);
	return vc;
}

static inline struct kvl_vcpu *kvl_vcpu_find(struct kvl_engine *eng,
					     s32 tgid, s32 tid,
					     struct kvl_vm **vmp)
{
	struct kvl_thread *t;

	return kvl_vcpu_find_t(eng, tgid, tid, vmp, &t);
}

/*
 * The thread this CPU last found for a system call, as kvl_memo is for
 * vCPU threads: a hooked call's entry, its return and the looks at QEMU's
 * rings around them ask for the same VM and thread four or five times.
 * Valid while @gen holds, as kvl_memo; a thread's slot, though, goes to
 * another thread once its own exits (KVL_TID_DEAD), so a hit also checks
 * that the slot still holds @tid.  vc is unused.
 */
KVL_DECLARE_PER_CPU(struct kvl_memo, kvl_sys_memo);

/* VM @tgid and its thread @tid (NULL if it has no slot yet), or NULL. */
static inline struct kvl_vm *kvl_sys_find(struct kvl_engine *eng, s32 tgid,
					  s32 tid, struct kvl_thread **tp)
{
	struct kvl_memo *m = kvl_this_cpu_ptr(&kvl_sys_memo);
	u32 gen = kvl_acquire(&eng->memo_gen);
	struct kvl_thread *t;
	struct kvl_vm *vm;

	if (kvl_memo_hit(m, eng, gen, tgid, tid) &&
	    kvl_acquire(&m->t->tid) == tid) {
		kvl_sys_memo_check(eng, m);
		*tp = m->t;
		return m->vm;
	}
	vm = kvl_engine_find_vm(eng, tgid);
	t = vm ? kvl_thread_find(vm, tid) : NULL;
	if (t)
		kvl_memo_set(m, eng, gen, tgid, tid, vm, t, NULL);
	*tp = t;
	return vm;
}

/* VM @tgid, from the memo when its last call was one of this VM's. */
static inline struct kvl_vm *kvl_sys_find_vm(struct kvl_engine *eng, s32 tgid)
{
	const struct kvl_memo *m = kvl_this_cpu_ptr(&kvl_sys_memo);

	if (m->tgid == tgid && m->gen == kvl_acquire(&eng->memo_gen) &&
	    (KVL_ONE_ENGINE || m->eng == eng))
		return m->vm;
	return kvl_engine_find_vm(eng, tgid);
}

/*
 * The thread @tid of VM @tgid if it runs no vCPU (an event loop, a pool
 * worker), or NULL; its VM in *@vmp.
 */
static inline struct kvl_thread *kvl_io_thread_find(struct kvl_engine *eng,
						    s32 tgid, s32 tid,
						    struct kvl_vm **vmp)
{
	struct kvl_thread *t;

	*vmp = kvl_sys_find(eng, tgid, tid, &t);
	return t && READ_ONCE(t->vcpu) < 0 ? t : NULL;
}

static inline struct kvl_req *kvl_req(struct kvl_vm *vm, u16 i)
{
	return &vm->reqs[i];
}

/* vm.c: the VM table */
struct kvl_vm *kvl_vm_create(struct kvl_engine *eng, s32 tgid,
			     const char *comm);

/* thread.c: threads and vCPUs */
struct kvl_thread *kvl_thread_add(struct kvl_vm *vm, s32 tid, s16 vcpu);
struct kvl_thread *kvl_vcpu_register(struct kvl_engine *eng,
				     struct kvl_vm *vm, s32 tid,
				     u32 vcpu_id, u32 isa);
int kvl_vcpu_by_id(struct kvl_vm *vm, s32 vcpu_id);

/* request.c: requests, mailboxes, disks */
void kvl_queue_push(struct kvl_vm *vm, struct kvl_queue *q, u16 i);
void kvl_queue_unlink(struct kvl_vm *vm, struct kvl_queue *q, u16 prev,
		      u16 i);
void kvl_req_free(struct kvl_vm *vm, u16 i);
#define KVL_STAMP_IO_OVER	(~0u)	/* kvl_queue_drop_older(): see there */
u32 kvl_queue_drop_older(struct kvl_vm *vm, struct kvl_queue *q,
			 u64 now, unsigned int t, u64 age,
			 enum kvl_counter counter);
void kvl_queue_drop(struct kvl_vm *vm, struct kvl_queue *q);
u16 kvl_req_alloc(struct kvl_vm *vm, u64 now);
void kvl_drain_lock(struct kvl_vcpu *vc);
void kvl_drain_unlock(struct kvl_vcpu *vc);
void kvl_mailbox_drain(struct kvl_vcpu *vc);
void kvl_vcpu_drain_mail(struct kvl_vcpu *vc);

/* At each entry: mostly nothing to do, tested inline. */
static inline void kvl_vcpu_drain(struct kvl_vcpu *vc)
{
	if (READ_ONCE(vc->mail_tail) != READ_ONCE(vc->mail_head))
		kvl_vcpu_drain_mail(vc);
}
void kvl_req_commit(struct kvl_engine *eng, struct kvl_vm *vm,
		    struct kvl_req *r, u64 entry);
void kvl_req_attribute(struct kvl_vm *vm, struct kvl_req *r,
		       const struct kvl_taken_doorbell *k, u64 own_wake,
		       u64 submit);

/* doorbell.c */
bool kvl_doorbell_known_at(struct kvl_vm *vm, u32 pio, u64 addr);
bool kvl_doorbell_take(struct kvl_vm *vm, u64 now,
		       const struct kvl_taken_doorbell *same,
		       struct kvl_taken_doorbell *out);
bool kvl_doorbell_for_io(struct kvl_vm *vm, u64 now, u64 prefer,
			 struct kvl_taken_doorbell *out);
void kvl_doorbell_stamp_wake(struct kvl_vm *vm, u64 now);
void kvl_doorbell_cancel(struct kvl_vcpu *vc);

/* virtqueue.c */

u16 kvl_vq_of_request(struct kvl_vm *vm, u32 pio, u64 addr, s32 fd);
void kvl_vq_vote_disk(struct kvl_vm *vm, u64 cfg, s32 fd, bool exact);

/*
 * Under vm->lock: the wake of a pool call of disk @fd at file offset
 * @off: the ioeventfd read of the loop that took its request from a
 * pool queue's available ring, and that queue's doorbell.
 */
bool kvl_vq_wake_of(struct kvl_vm *vm, s32 fd, s64 off, kvl_read_fn read,
		    u64 *wake, u64 *notify);

/* @q's base (kvl_vq.base) once two votes ahead: until then 0, the common case */
static inline s64 kvl_vq_base(const struct kvl_vq *q)
{
	return q->base_votes >= 2 ? q->base : 0;
}

/* A request whose interrupt its queue's used ring tells (irq.c). */
static inline bool kvl_req_by_used_ring(const struct kvl_vm *vm,
					const struct kvl_req *r)
{
	return r->vq != KVL_NO_VQ && vm->vqs[r->vq].state == KVL_VQ_WATCHED;
}

/*
 * Each request @i, its predecessor @prev, of the two queues of requests
 * whose I/O may be over: the pool's returned calls (done_q, @qi 0), then
 * the native ones submitted (native_q, @qi 1).  @qs: those two queues.
 */
#define kvl_for_each_io_req(vm, qs, qi, prev, i)			\
	for ((qs)[0] = &(vm)->done_q, (qs)[1] = &(vm)->native_q,		\
	     (qi) = 0; (qi) < 2; (qi)++)					\
		for ((prev) = KVL_NO_REQ, (i) = (qs)[qi]->head;		\
		     (i) != KVL_NO_REQ;					\
		     (prev) = (i), (i) = kvl_req(vm, i)->next)

/*
 * @r's I/O was seen to end: its pool call or io_submit returned, and if
 * the AIO ring tells its completion (KVL_REQ_RING), it was seen there.
 */
static inline bool kvl_req_io_ended(const struct kvl_req *r)
{
	return !(r->flags & KVL_REQ_RING) || (r->flags & KVL_REQ_REAPED);
}

/* irq.c: interrupts and their delivery */
void kvl_irq_flush_locked(struct kvl_vm *vm, struct kvl_thread *t,
			  s32 dest, s32 vector);
void kvl_irq_flush(struct kvl_vm *vm, struct kvl_thread *t, s32 dest,
		   s32 vector);
void kvl_irq_unaccepted(struct kvl_vm *vm, struct kvl_thread *t);
bool kvl_vector_injected(const struct kvl_vm *vm, s32 vec);
void kvl_req_deliver(struct kvl_engine *eng, struct kvl_vm *vm,
		     struct kvl_req *r, int how, u64 now);
void kvl_deliver(struct kvl_engine *eng, struct kvl_vm *vm, u32 vi,
		 u64 now);

#endif /* KVMIO_LAT_ENGINE_INTERNAL_H */
