// SPDX-License-Identifier: GPL-2.0
/*
 * engine.c - request tracking: from a guest's doorbell to the interrupt that
 * completes it, for QEMU's aio=native and aio=threads paths.
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
#include "kvmio_lat/engine.h"

#define KVL_URING_GETEVENTS	1u	/* IORING_ENTER_GETEVENTS */

static const char *const kvl_stage_names[KVL_NR_PATHS][KVL_NR_STAGES] = {
	[KVL_PATH_NATIVE] = {
		"doorbell_to_wake", "wake_to_submit", "submit",
		"submit_to_reap", "reap_to_irq", "irq_to_entry", "total",
	},
	[KVL_PATH_THREADS] = {
		"doorbell_to_wake", "wake_to_dispatch", "io",
		"io_to_reap", "reap_to_irq", "irq_to_entry", "total",
	},
};

const char *kvl_path_name(unsigned int path)
{
	return path == KVL_PATH_NATIVE ? "native" : "threads";
}

const char *kvl_stage_name(unsigned int path, unsigned int stage)
{
	if (path >= KVL_NR_PATHS || stage >= KVL_NR_STAGES)
		return "?";
	return kvl_stage_names[path][stage];
}

const char *kvl_disk_stage_name(unsigned int ds)
{
	return ds == KVL_DS_SUBMIT_TO_IRQ ? "submit_to_irq" :
	       ds == KVL_DS_TOTAL ? "total" : "?";
}

/* ------------------------------------------------------------------ */
/* configuration and layout */

void kvl_config_defaults(struct kvl_config *cfg)
{
	cfg->max_vms = 16;
	cfg->max_vcpus = 64;
	cfg->max_threads = 256;
	cfg->max_inflight = 512;
	cfg->doorbell_timeout_ns = 1000000000ULL;	/* 1 s */
	cfg->irq_timeout_ns = 1000000000ULL;	/* 1 s */
	cfg->req_timeout_ns = 10000000000ULL;	/* 10 s */
}

static u32 kvl_roundup_pow2(u32 v)
{
	u32 p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* 0 or -22 (-EINVAL) when a limit is outside what the engine supports. */
int kvl_config_check(struct kvl_config *cfg)
{
	if (cfg->max_vms < 1 || cfg->max_vms > 1024)
		return -22;
	if (cfg->max_vcpus < 1 || cfg->max_vcpus > 4096)
		return -22;
	if (cfg->max_threads < 8 || cfg->max_threads > 8192)
		return -22;
	if (cfg->max_inflight < 1 || cfg->max_inflight >= KVL_NO_REQ)
		return -22;
	if (!cfg->doorbell_timeout_ns || !cfg->req_timeout_ns || !cfg->irq_timeout_ns)
		return -22;
	cfg->max_threads = kvl_roundup_pow2(cfg->max_threads);
	return 0;
}

#define KVL_ALIGN(x)	(((x) + 63) & ~(size_t)63)

size_t kvl_vm_size(const struct kvl_config *cfg)
{
	return KVL_ALIGN(sizeof(struct kvl_vm)) +
	       KVL_ALIGN(cfg->max_vcpus * sizeof(struct kvl_vcpu *)) +
	       KVL_ALIGN(cfg->max_threads * sizeof(struct kvl_thread)) +
	       KVL_ALIGN(cfg->max_inflight * sizeof(struct kvl_req));
}

static void kvl_queue_init(struct kvl_queue *q)
{
	q->head = KVL_NO_REQ;
	q->tail = KVL_NO_REQ;
}

/* @vm points to kvl_vm_size(cfg) bytes; owner and tgid are the caller's. */
void kvl_vm_init(struct kvl_vm *vm, const struct kvl_config *cfg)
{
	char *p = (char *)vm;
	u32 i;

	memset(vm, 0, kvl_vm_size(cfg));
	vm->cfg = cfg;
	kvl_lock_init(&vm->lock);
	p += KVL_ALIGN(sizeof(struct kvl_vm));
	vm->vcpus = (struct kvl_vcpu **)p;
	p += KVL_ALIGN(cfg->max_vcpus * sizeof(struct kvl_vcpu *));
	vm->threads = (struct kvl_thread *)p;
	p += KVL_ALIGN(cfg->max_threads * sizeof(struct kvl_thread));
	vm->reqs = (struct kvl_req *)p;

	vm->last_doorbell_vcpu = -1;
	kvl_queue_init(&vm->native_q);
	kvl_queue_init(&vm->done_q);
	kvl_queue_init(&vm->any_q);
	for (i = 0; i < cfg->max_inflight; i++)
		vm->reqs[i].next = i + 1 < cfg->max_inflight ? i + 1 : KVL_NO_REQ;
	vm->free_req = 0;
}

static void kvl_vcpu_stats_init(struct kvl_vcpu_stats *s)
{
	unsigned int i, j;

	for (i = 0; i < KVL_EXIT_SLOTS; i++) {
		s->exits[i].used = 0;
		s->exits[i].reason = 0;
		kvl_hist_init(&s->exits[i].hist);
	}
	for (i = 0; i < KVL_NR_PATHS; i++)
		for (j = 0; j < KVL_NR_STAGES; j++)
			kvl_hist_init(&s->stages[i][j]);
}

void kvl_vcpu_init(struct kvl_vcpu *v, u32 vcpu_id, u32 isa)
{
	const u32 *reserved;
	unsigned int i, n;

	memset(v, 0, sizeof(*v));
	v->vcpu_id = vcpu_id;
	v->isa = isa;
	v->inj_vector = -1;
	v->doorbell_undo = -1;
	v->await_head = KVL_NO_REQ;
	kvl_vcpu_stats_init(&v->stats);
	/* the reasons I/O waits on have their slots before any rarity comes */
	reserved = kvl_exit_reserved(isa, &n);
	for (i = 0; i < n && i < KVL_EXIT_SLOTS - 1; i++) {
		v->stats.exits[i].reason = reserved[i];
		v->stats.exits[i].used = 1;
	}
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

static void kvl_drain_lock(struct kvl_vcpu *vc)
{
	while (!kvl_drain_trylock(vc))
		kvl_cpu_relax();
}

static void kvl_drain_unlock(struct kvl_vcpu *vc)
{
	kvl_publish(&vc->draining, 0);
}

/* Holding the drain bit: record what the mailbox holds. */
static void kvl_mailbox_drain(struct kvl_vcpu *vc)
{
	u32 head = kvl_acquire(&vc->mail_head);
	u32 tail = vc->mail_tail;

	for (; tail != head; tail++) {
		const struct kvl_done *d = &vc->mailbox[tail % KVL_MAILBOX];
		struct kvl_hist *h = vc->stats.stages[d->path];
		unsigned int i;

		for (i = 0; i < KVL_ST_TOTAL; i++)
			kvl_hist_record(&h[i], (s64)(d->t[i + 1] - d->t[i]));
		kvl_hist_record(&h[KVL_ST_TOTAL],
				(s64)(d->t[KVL_NR_STAGES - 1] - d->t[0]));
	}
	kvl_publish(&vc->mail_tail, tail);
}

/* The vCPU thread, at its entry: never waits. */
static void kvl_vcpu_drain(struct kvl_vcpu *vc)
{
	if (READ_ONCE(vc->mail_tail) == READ_ONCE(vc->mail_head) ||
	    !kvl_drain_trylock(vc))
		return;
	kvl_mailbox_drain(vc);
	kvl_drain_unlock(vc);
}

void kvl_engine_init(struct kvl_engine *eng, const struct kvl_config *cfg,
		     const struct kvl_alloc_ops *ops, struct kvl_vm **vms)
{
	memset(eng, 0, sizeof(*eng));
	eng->cfg = *cfg;
	eng->ops = ops;
	eng->vms = vms;
	kvl_lock_init(&eng->lock);
	memset(vms, 0, cfg->max_vms * sizeof(*vms));
}

/* ------------------------------------------------------------------ */
/* the VM table */

static unsigned int kvl_filter_bit(s32 tgid)
{
	return ((u32)tgid * 2654435761u) % KVL_FILTER_BITS;
}

#define KVL_LONG_BITS	(8 * sizeof(unsigned long))

static void kvl_filter_rebuild(struct kvl_engine *eng)
{
	unsigned long words[ARRAY_SIZE(eng->filter)];
	unsigned int i;

	memset(words, 0, sizeof(words));
	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];

		if (vm && !vm->exited) {
			unsigned int b = kvl_filter_bit(vm->tgid);

			words[b / KVL_LONG_BITS] |= 1UL << (b % KVL_LONG_BITS);
		}
	}
	for (i = 0; i < ARRAY_SIZE(words); i++)
		WRITE_ONCE(eng->filter[i], words[i]);
}

struct kvl_vm *kvl_engine_find_vm(struct kvl_engine *eng, s32 tgid)
{
	unsigned int i;

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

		if (vm && vm->tgid == tgid && !READ_ONCE(vm->exited))
			return vm;
	}
	return NULL;
}

static bool kvl_pid_wanted(struct kvl_engine *eng, s32 tgid)
{
	u32 i, n = READ_ONCE(eng->nr_pids);

	if (!n)
		return true;
	for (i = 0; i < n && i < KVL_MAX_PIDS; i++)
		if (READ_ONCE(eng->pids[i]) == tgid)
			return true;
	return false;
}

static void kvl_vm_remove_slot(struct kvl_engine *eng, unsigned int i);

/* Caller holds eng->lock: the slot of the VM that exited first, or ~0u. */
static unsigned int kvl_oldest_exited(struct kvl_engine *eng)
{
	unsigned int i, slot = ~0u;

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];

		if (vm && vm->exited &&
		    (slot == ~0u || vm->exited_ts < eng->vms[slot]->exited_ts))
			slot = i;
	}
	return slot;
}

static struct kvl_vm *kvl_vm_create(struct kvl_engine *eng, s32 tgid,
				    const char *comm)
{
	struct kvl_vm *vm = NULL;
	unsigned long flags;
	unsigned int i, slot = ~0u;

	if (!kvl_pid_wanted(eng, tgid))
		return NULL;
	kvl_lock(&eng->lock, flags);
	for (i = 0; i < eng->cfg.max_vms; i++) {
		if (eng->vms[i] && eng->vms[i]->tgid == tgid &&
		    !eng->vms[i]->exited) {
			vm = eng->vms[i];
			goto out;
		}
		if (!eng->vms[i] && slot == ~0u)
			slot = i;
	}
	if (slot == ~0u)
		slot = kvl_oldest_exited(eng);
	if (slot == ~0u) {
		eng->dropped_vms++;
		goto out;
	}
	if (eng->vms[slot])	/* an exited VM makes room for a running one */
		kvl_vm_remove_slot(eng, slot);
	vm = eng->ops->alloc_vm(eng);
	if (!vm) {
		eng->dropped_vms++;
		goto out;
	}
	vm->tgid = tgid;
	for (i = 0; comm && comm[i] && i < KVL_COMM_LEN - 1; i++)
		vm->comm[i] = comm[i];
	vm->comm[i] = '\0';
	kvl_publish(&eng->vms[slot], vm);
	WRITE_ONCE(eng->nr_vms, eng->nr_vms + 1);
	kvl_filter_rebuild(eng);
out:
	kvl_unlock(&eng->lock, flags);
	return vm;
}

/* Caller holds eng->lock. */
static void kvl_vm_remove_slot(struct kvl_engine *eng, unsigned int i)
{
	struct kvl_vm *vm = eng->vms[i];

	WRITE_ONCE(eng->vms[i], NULL);
	if (vm->exited)
		eng->nr_exited--;
	else
		WRITE_ONCE(eng->nr_vms, eng->nr_vms - 1);
	eng->ops->free_vm(eng, vm);
}

static void kvl_queue_drop(struct kvl_vm *vm, struct kvl_queue *q);

bool kvl_engine_vm_exited(struct kvl_engine *eng, s32 tgid, u64 now)
{
	unsigned long flags, vflags;
	unsigned int i, v;
	bool found = false;

	kvl_lock(&eng->lock, flags);
	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];

		if (!vm || vm->tgid != tgid || vm->exited)
			continue;
		/* no thread of it runs: what is in flight will never end */
		kvl_lock(&vm->lock, vflags);
		kvl_queue_drop(vm, &vm->native_q);
		kvl_queue_drop(vm, &vm->done_q);
		kvl_queue_drop(vm, &vm->any_q);
		for (v = 0; v < vm->nr_vcpus; v++) {
			struct kvl_vcpu *vc = vm->vcpus[v];
			struct kvl_queue q = { vc->await_head, KVL_NO_REQ };

			kvl_queue_drop(vm, &q);
			vc->await_head = KVL_NO_REQ;
			WRITE_ONCE(vc->awaiting, 0);
		}
		vm->exited_ts = now;
		WRITE_ONCE(vm->exited, 1);
		kvl_unlock(&vm->lock, vflags);
		WRITE_ONCE(eng->nr_vms, eng->nr_vms - 1);
		eng->nr_exited++;
		found = true;
	}
	if (found)
		kvl_filter_rebuild(eng);
	kvl_unlock(&eng->lock, flags);
	return found;
}

void kvl_engine_drop_all(struct kvl_engine *eng)
{
	unsigned long flags;
	unsigned int i;

	kvl_lock(&eng->lock, flags);
	for (i = 0; i < eng->cfg.max_vms; i++)
		if (eng->vms[i])
			kvl_vm_remove_slot(eng, i);
	kvl_filter_rebuild(eng);
	kvl_unlock(&eng->lock, flags);
}

int kvl_engine_set_pids(struct kvl_engine *eng, const s32 *pids, u32 n)
{
	unsigned long flags;
	unsigned int i, j;

	if (n > KVL_MAX_PIDS)
		return -22;
	for (i = 0; i < n; i++)
		if (pids[i] <= 0)
			return -22;
	kvl_lock(&eng->lock, flags);
	WRITE_ONCE(eng->nr_pids, 0);
	for (i = 0; i < n; i++)
		WRITE_ONCE(eng->pids[i], pids[i]);
	WRITE_ONCE(eng->nr_pids, n);
	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];
		bool keep = !n;

		if (!vm)
			continue;
		for (j = 0; j < n; j++)
			keep |= pids[j] == vm->tgid;
		if (!keep)
			kvl_vm_remove_slot(eng, i);
	}
	kvl_filter_rebuild(eng);
	kvl_unlock(&eng->lock, flags);
	return 0;
}

void kvl_engine_reset(struct kvl_engine *eng)
{
	unsigned long flags, vflags;
	unsigned int i, j;

	kvl_lock(&eng->lock, flags);
	eng->dropped_vms = 0;
	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];

		if (!vm)
			continue;
		if (vm->exited) {	/* kept until now: reset forgets it */
			kvl_vm_remove_slot(eng, i);
			continue;
		}
		kvl_lock(&vm->lock, vflags);
		memset(vm->counters, 0, sizeof(vm->counters));
		/* disks are found again by their next request */
		WRITE_ONCE(vm->nr_disks, 0);
		memset(vm->disks, 0, sizeof(vm->disks));
		for (j = 0; j < READ_ONCE(vm->nr_vcpus); j++) {
			struct kvl_vcpu *v = vm->vcpus[j];

			/* exit slots keep their reason: only the vCPU assigns them */
			u32 reasons[KVL_EXIT_SLOTS], used[KVL_EXIT_SLOTS], k;

			for (k = 0; k < KVL_EXIT_SLOTS; k++) {
				reasons[k] = v->stats.exits[k].reason;
				used[k] = v->stats.exits[k].used;
			}
			kvl_drain_lock(v);
			kvl_vcpu_stats_init(&v->stats);
			kvl_publish(&v->mail_tail, v->mail_head);
			kvl_drain_unlock(v);
			for (k = 0; k < KVL_EXIT_SLOTS; k++) {
				v->stats.exits[k].reason = reasons[k];
				v->stats.exits[k].used = used[k];
			}
			WRITE_ONCE(v->exits, 0);
			WRITE_ONCE(v->entries, 0);
			WRITE_ONCE(v->dropped_doorbells, 0);
			WRITE_ONCE(v->ignored_doorbells, 0);
			WRITE_ONCE(v->unwatched_doorbells, 0);
			WRITE_ONCE(v->doorbells_userspace, 0);
		}
		kvl_unlock(&vm->lock, vflags);
	}
	kvl_unlock(&eng->lock, flags);
}

void kvl_engine_flush(struct kvl_engine *eng)
{
	unsigned long flags;
	unsigned int i, j;

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

		if (!vm)
			continue;
		/* the lock keeps this CPU from being preempted while it drains */
		kvl_lock(&vm->lock, flags);
		for (j = 0; j < kvl_acquire(&vm->nr_vcpus); j++) {
			struct kvl_vcpu *v = vm->vcpus[j];

			kvl_drain_lock(v);
			kvl_mailbox_drain(v);
			kvl_drain_unlock(v);
		}
		kvl_unlock(&vm->lock, flags);
	}
}

/* ------------------------------------------------------------------ */
/* threads and vCPUs */

#define KVL_PROBE_MAX	32

static u32 kvl_tid_hash(s32 tid)
{
	return (u32)tid * 2654435761u;
}

static struct kvl_thread *kvl_thread_find(struct kvl_vm *vm, s32 tid)
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

/* Caller holds vm->lock. */
static struct kvl_thread *kvl_thread_add(struct kvl_vm *vm, s32 tid, s16 vcpu)
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
	t->getevents_ts = 0;
	t->getevents_n = 0;
	t->cur_req = KVL_NO_REQ;
	t->irq_pending = 0;
	kvl_publish(&t->tid, tid);
	return t;
}

static int kvl_vcpu_by_id(struct kvl_vm *vm, s32 vcpu_id);

static struct kvl_thread *kvl_vcpu_register(struct kvl_engine *eng,
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
		kvl_vcpu_init(v, vcpu_id, isa);
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
static int kvl_vcpu_by_id(struct kvl_vm *vm, s32 vcpu_id)
{
	u32 i;

	if (vcpu_id < 0)
		return -1;
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i]->vcpu_id == (u32)vcpu_id)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* requests */

static struct kvl_req *kvl_req(struct kvl_vm *vm, u16 i)
{
	return &vm->reqs[i];
}

static void kvl_queue_push(struct kvl_vm *vm, struct kvl_queue *q, u16 i)
{
	kvl_req(vm, i)->next = KVL_NO_REQ;
	if (q->tail == KVL_NO_REQ)
		q->head = i;
	else
		kvl_req(vm, q->tail)->next = i;
	q->tail = i;
}

/* Unlink @i whose predecessor is @prev (KVL_NO_REQ: the head). */
static void kvl_queue_unlink(struct kvl_vm *vm, struct kvl_queue *q, u16 prev,
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

static void kvl_req_free(struct kvl_vm *vm, u16 i)
{
	kvl_req(vm, i)->next = vm->free_req;
	kvl_req(vm, i)->state = 0;
	vm->free_req = i;
	vm->inflight--;
}

/*
 * Drop the requests of @q whose stamp @t (an index into t[]) is more than
 * @age before @now, counting them in @counter.  Under vm->lock.
 */
static void kvl_queue_drop_older(struct kvl_vm *vm, struct kvl_queue *q,
				 u64 now, unsigned int t, u64 age,
				 enum kvl_counter counter)
{
	u16 prev = KVL_NO_REQ, i = q->head;

	while (i != KVL_NO_REQ) {
		u16 next = kvl_req(vm, i)->next;

		if (now > kvl_req(vm, i)->t[t] && now - kvl_req(vm, i)->t[t] > age) {
			kvl_queue_unlink(vm, q, prev, i);
			kvl_req_free(vm, i);
			vm->counters[counter]++;
		} else {
			prev = i;
		}
		i = next;
	}
}

/* Drop requests older than req_timeout from a queue. */
static void kvl_queue_expire(struct kvl_vm *vm, struct kvl_queue *q, u64 now)
{
	kvl_queue_drop_older(vm, q, now, 0, vm->cfg->req_timeout_ns,
			     KVL_C_REQUESTS_EXPIRED);
}

/* Free every request of @q, counted as expired.  Under vm->lock. */
static void kvl_queue_drop(struct kvl_vm *vm, struct kvl_queue *q)
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

static u16 kvl_req_alloc(struct kvl_vm *vm, u64 now)
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
	return i;
}

/* ------------------------------------------------------------------ */
/* doorbells: a per-vCPU ring, produced lock-free by the vCPU thread */

struct kvl_taken_doorbell {
	s16 vcpu;
	u32 pio;
	u64 addr;
	u64 ts;
	u64 wake;
};

/* MMIO doorbells are learned by page: a device's notify region is one. */
static u64 kvl_doorbell_key(u32 pio, u64 addr)
{
	return pio ? addr | (1ULL << 63) : addr & ~0xfffULL;
}

/* Lock-free readers (the producer) may miss an address learnt just now. */
static bool kvl_doorbell_known_at(struct kvl_vm *vm, u32 pio, u64 addr)
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
static bool kvl_doorbell_take(struct kvl_vm *vm, u64 now,
			  const struct kvl_taken_doorbell *same,
			  struct kvl_taken_doorbell *out)
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
				if (same) {	/* the oldest of one queue only */
					if (k->pio == same->pio &&
					    k->addr == same->addr &&
					    (!best_vc ||
					     k->ts < best_vc->doorbells[best_i % KVL_DOORBELL_RING].ts)) {
						best_vc = vc;
						best_i = i;
						best_v = (s16)v;
					}
					break;
				}
				if (i == vc->doorbell_tail &&
				    (!any_vc || k->ts < any_vc->doorbells[any_i % KVL_DOORBELL_RING].ts)) {
					any_vc = vc;
					any_i = i;
					any_v = (s16)v;
				}
				if (kvl_doorbell_known(vm, k)) {
					if (!best_vc ||
					    k->ts < best_vc->doorbells[best_i % KVL_DOORBELL_RING].ts) {
						best_vc = vc;
						best_i = i;
						best_v = (s16)v;
					}
					break;
				}
			}
		}
		if (!best_vc && same)
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

/*
 * Under vm->lock: the doorbell of an I/O submitted at @now.  With none live,
 * the guest queued the request behind an earlier notify (it does not ring
 * while the device is still working through its queue, and io_submit
 * batches several requests): it shares the VM's last doorbell, unless that
 * is stale, or a doorbell was rung unwatched lately: the I/O may be that
 * one's, on another vCPU.
 */
static bool kvl_doorbell_for_io(struct kvl_vm *vm, u64 now,
			    struct kvl_taken_doorbell *out)
{
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
static void kvl_doorbell_stamp_wake(struct kvl_vm *vm, u64 now)
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
	/* stamps: doorbell, wake, submit, submit_end, reap, irq, entry */
	kvl_hist_record(&d->hist[r->path][KVL_DS_SUBMIT_TO_IRQ],
			(s64)(r->t[5] - r->t[2]));
	kvl_hist_record(&d->hist[r->path][KVL_DS_TOTAL],
			(s64)(r->t[KVL_NR_STAGES - 1] - r->t[0]));
}

static void kvl_req_commit(struct kvl_engine *eng, struct kvl_vm *vm,
			   struct kvl_req *r, u64 entry)
{
	kvl_request_hook hook;
	struct kvl_vcpu *vc;
	struct kvl_done *d;
	unsigned int i;

	if (r->t[0] < READ_ONCE(eng->resume_ts)) {
		/* rung before a pause: events that ended it may be missed */
		vm->counters[KVL_C_REQUESTS_STALE]++;
		return;
	}
	r->t[KVL_NR_STAGES - 1] = entry;
	/* timestamps of one request never go backwards: clamp */
	for (i = 1; i < KVL_NR_STAGES; i++)
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
static void kvl_req_attribute(struct kvl_req *r,
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
	r->t[0] = k->ts;
	r->t[1] = wake;
	r->t[2] = submit;
}

/* The interrupt being matched to requests. */
struct kvl_irq {
	int target;	/* vCPU index, -1: any */
	s32 vector;	/* -1: unknown */
	u32 line;	/* kvm_set_irq: a line, not an MSI */
	u64 ts;		/* raised */
};

/* Under vm->lock: hand request @i, reaped at @reap, to interrupt @irq. */
static void kvl_req_irq(struct kvl_vm *vm, u16 i, u64 reap,
			const struct kvl_irq *irq)
{
	struct kvl_req *r = kvl_req(vm, i);

	r->t[4] = reap;
	r->t[5] = irq->ts;
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
 * Under vm->lock: nothing finished before the iteration's wake, but QEMU
 * reaps its AIO ring right after io_submit too (ioq_submit()), so a fast
 * completion can raise its interrupt in the same iteration, without a wake
 * in between: then the oldest native request submitted before the interrupt
 * is the one, reaped as it was submitted.  Only when it is the only native
 * request in flight: with more, the interrupt may be another's, whose wake
 * was lost, and taking a request that is still on the device loses track.
 */
static u32 kvl_irq_same_iteration(struct kvl_vm *vm, const struct kvl_irq *irq)
{
	u16 i = vm->native_q.head;

	if (i == KVL_NO_REQ || kvl_req(vm, i)->next != KVL_NO_REQ ||
	    kvl_req(vm, i)->t[3] > irq->ts)
		return 0;
	kvl_queue_unlink(vm, &vm->native_q, KVL_NO_REQ, i);
	kvl_req_irq(vm, i, kvl_req(vm, i)->t[3], irq);
	return 1;
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
static u32 kvl_irq_done_after_wake(struct kvl_vm *vm,
				   const struct kvl_irq *irq)
{
	u16 prev = KVL_NO_REQ, i = vm->done_q.head;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);

		if (r->t[3] <= irq->ts &&
		    (irq->target < 0 || r->vcpu == irq->target)) {
			kvl_queue_unlink(vm, &vm->done_q, prev, i);
			kvl_req_irq(vm, i, r->t[3], irq);
			return 1;
		}
		prev = i;
		i = r->next;
	}
	return 0;
}

/*
 * Under vm->lock: give interrupt @irq the requests of @q finished by @reap
 * (at most *@native_limit native ones), of its target vCPU only if @own.
 * Returns how many it took.
 */
static u32 kvl_irq_take(struct kvl_vm *vm, struct kvl_queue *q, bool own,
			const struct kvl_irq *irq, u64 reap, u32 *native_limit)
{
	u16 prev = KVL_NO_REQ, i = q->head;
	u32 taken = 0;

	while (i != KVL_NO_REQ) {
		struct kvl_req *r = kvl_req(vm, i);
		u16 next = r->next;

		if (r->t[3] > reap || (own && r->vcpu != irq->target) ||
		    (q == &vm->native_q && !*native_limit)) {
			prev = i;
			i = next;
			continue;
		}
		kvl_queue_unlink(vm, q, prev, i);
		if (q == &vm->native_q)
			(*native_limit)--;
		kvl_req_irq(vm, i, reap, irq);
		taken++;
		i = next;
	}
	return taken;
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
	u32 native_limit = ~0u, taken = 0;
	int pass, qi;

	/*
	 * A request whose I/O ended more than irq_timeout before this
	 * interrupt had none of its own: the guest asked for none (firmware
	 * polling the used ring: SeaBIOS reading the boot sector, the lab's
	 * "ghost" of 3.5 to 18 s) or QEMU raised none.  QEMU reaps a finished
	 * request within one loop iteration, so it is not this interrupt's.
	 */
	for (qi = 0; qi < 2; qi++)
		kvl_queue_drop_older(vm, queues[qi], irq->ts, 3,
				     vm->cfg->irq_timeout_ns, KVL_C_REQS_NO_IRQ);

	if (t && t->getevents_n) {
		reap = t->getevents_ts;
		native_limit = t->getevents_n;
		t->getevents_n = 0;
	}
	/* its own vCPU's requests first, then any vCPU's */
	for (pass = 0; pass < 2 && !taken; pass++) {
		if (pass == 0 && irq->target < 0)
			continue;
		for (qi = 0; qi < 2; qi++)
			taken += kvl_irq_take(vm, queues[qi], pass == 0, irq,
					      reap, &native_limit);
	}
	if (!taken)
		taken = kvl_irq_same_iteration(vm, irq);
	if (!taken)
		taken = kvl_irq_done_after_wake(vm, irq);
	if (!taken)
		vm->counters[KVL_C_IRQS_UNMATCHED]++;
}

static void kvl_irq_flush_locked(struct kvl_vm *vm, struct kvl_thread *t,
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

static void kvl_irq_flush(struct kvl_vm *vm, struct kvl_thread *t, s32 dest,
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
static void kvl_irq_unaccepted(struct kvl_vm *vm, struct kvl_thread *t)
{
	if (t->irq_line)
		t->irq_pending = 0;
	else
		kvl_irq_flush(vm, t, t->irq_dest, t->irq_vector);
}

static bool kvl_vector_injected(const struct kvl_vm *vm, s32 vec)
{
	return vec >= 0 && vec < 256 &&
	       (READ_ONCE(vm->inj_vectors[vec / 32]) & (1u << (vec % 32)));
}

enum { KVL_NOT_YET, KVL_BY_POSTED, KVL_BY_INJECTION };

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
		return r->t[5] <= now ? KVL_BY_POSTED : KVL_NOT_YET;
	if (vec >= 0 && (r->vector < 0 || r->vector == vec))
		return r->t[5] <= inj_ts ? KVL_BY_INJECTION : KVL_NOT_YET;
	if (exact || vec >= 0 || kvl_vector_injected(vm, r->vector))
		return KVL_NOT_YET;
	if (r->vector < 0) {	/* target's vector unknown: any injection */
		u32 i, any = 0;

		for (i = 0; i < ARRAY_SIZE(vm->inj_vectors); i++)
			any |= READ_ONCE(vm->inj_vectors[i]);
		if (any)
			return KVL_NOT_YET;
	}
	return r->t[5] <= now ? KVL_BY_POSTED : KVL_NOT_YET;
}

static void kvl_req_deliver(struct kvl_engine *eng, struct kvl_vm *vm,
			    struct kvl_req *r, int how, u64 now)
{
	if (how == KVL_BY_POSTED)
		r->delivery = KVL_DELIV_POSTED;
	kvl_req_commit(eng, vm, r, now);
}

/* Under vm->lock: vCPU @vi entered at @now; deliver what its interrupt ended. */
static void kvl_deliver(struct kvl_engine *eng, struct kvl_vm *vm, u32 vi,
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

/* ------------------------------------------------------------------ */
/* events */

static struct kvl_vcpu *kvl_vcpu_of(struct kvl_vm *vm, struct kvl_thread *t)
{
	s16 i = READ_ONCE(t->vcpu);

	if (i < 0 || (u32)i >= kvl_acquire(&vm->nr_vcpus))
		return NULL;
	return vm->vcpus[i];
}

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
	kvl_hist_record(&s[i].hist, (s64)ns);
}

void kvl_ev_exit(struct kvl_engine *eng, s32 tgid, s32 tid, const char *comm,
		 u32 vcpu_id, u32 isa, u32 reason, u64 now)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t;
	struct kvl_vcpu *vc;

	if (!vm) {
		vm = kvl_vm_create(eng, tgid, comm);
		if (!vm)
			return;
	}
	t = kvl_thread_find(vm, tid);
	if (!t || READ_ONCE(t->vcpu) < 0) {
		t = kvl_vcpu_register(eng, vm, tid, vcpu_id, isa);
		if (!t)
			return;
	}
	vc = kvl_vcpu_of(vm, t);
	if (!vc)
		return;
	WRITE_ONCE(vc->exits, vc->exits + 1);
	WRITE_ONCE(vc->exit_ts, now);	/* read by kvl_ev_apicv_accept() */
	vc->exit_reason = reason;
	vc->doorbell_undo = -1;
}

void kvl_ev_entry(struct kvl_engine *eng, s32 tgid, s32 tid, u64 now)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	unsigned long flags;

	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t)
		return;
	vc = kvl_vcpu_of(vm, t);
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
	return addr == 0x20 || addr == 0x21 || addr == 0xa0 || addr == 0xa1 ||
	       addr == 0x4d0 || addr == 0x4d1 ||			/* PIC, ELCR */
	       (addr >= 0x40 && addr <= 0x43) || addr == 0x61 ||	/* PIT */
	       addr == 0x70;	/* RTC index: QEMU makes it coalesced PIO */
}

void kvl_ev_doorbell(struct kvl_engine *eng, s32 tgid, s32 tid, bool pio,
		     u64 addr, u64 now)
{
	struct kvl_vm *vm;
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	struct kvl_doorbell *k;
	u32 slot;

	(void)now;	/* a doorbell's time is its exit's */
	if (kvl_in_kernel_device(pio, addr))
		return;
	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t)
		return;
	vc = kvl_vcpu_of(vm, t);
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

/* The vCPU thread went back to userspace: its last doorbell was not one. */
static void kvl_doorbell_cancel(struct kvl_vcpu *vc)
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

/* The vCPU thread @tid of VM @tgid runs, or NULL; its VM in *@vmp. */
static struct kvl_vcpu *kvl_vcpu_find(struct kvl_engine *eng, s32 tgid,
				      s32 tid, struct kvl_vm **vmp)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t = vm ? kvl_thread_find(vm, tid) : NULL;

	*vmp = vm;
	return t ? kvl_vcpu_of(vm, t) : NULL;
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
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	unsigned long flags;
	u16 prev = KVL_NO_REQ, i;
	bool in_guest;
	int vi;

	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t || READ_ONCE(t->vcpu) >= 0)
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

		if (r->delivery != KVL_DELIV_UNKNOWN || r->t[5] != t->irq_ts ||
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

void kvl_engine_set_syscalls_watched(struct kvl_engine *eng, bool watched)
{
	WRITE_ONCE(eng->syscalls_unwatched, !watched);
}

void kvl_engine_resume(struct kvl_engine *eng, u64 now)
{
	WRITE_ONCE(eng->resume_ts, now);
}

void kvl_ev_userspace_exit(struct kvl_engine *eng, s32 tgid, s32 tid)
{
	struct kvl_vm *vm;
	struct kvl_vcpu *vc = kvl_vcpu_find(eng, tgid, tid, &vm);

	if (vc)
		kvl_doorbell_cancel(vc);
}

static bool kvl_uring_waits(u32 arg)
{
	/* arg: flags in the low 16 bits, min_complete above */
	return (arg & KVL_URING_GETEVENTS) && (arg >> 16);
}

void kvl_ev_sys_enter(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		      u32 arg, u64 now)
{
	enum kvl_sys_class cls = kvl_sys_class(nr);
	struct kvl_taken_doorbell db;
	struct kvl_thread *t;
	struct kvl_vm *vm;
	unsigned long flags;
	u16 ri;

	if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
		return;
	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t) {
		kvl_lock(&vm->lock, flags);
		t = kvl_thread_add(vm, tid, -1);
		kvl_unlock(&vm->lock, flags);
		if (!t)
			return;
	}
	if (READ_ONCE(t->vcpu) >= 0)
		return;
	t->sys_nr = nr;
	t->sys_arg = arg;
	t->sys_ts = now;
	t->sys_nfds = 0;
	if (cls != KVL_SYS_POOL_IO)
		return;

	t->flags |= KVL_T_POOL;
	kvl_lock(&vm->lock, flags);
	vm->counters[KVL_C_EVENTS]++;
	if (t->cur_req != KVL_NO_REQ) {	/* previous one never returned */
		kvl_req_free(vm, t->cur_req);
		t->cur_req = KVL_NO_REQ;
		vm->counters[KVL_C_LOST]++;
	}
	if (!kvl_doorbell_for_io(vm, now, &db))
		goto out;
	ri = kvl_req_alloc(vm, now);
	if (ri == KVL_NO_REQ)
		goto out;
	kvl_req(vm, ri)->path = KVL_PATH_THREADS;
	kvl_req(vm, ri)->fd = (s32)arg;
	kvl_req_attribute(kvl_req(vm, ri), &db, 0, now);
	t->cur_req = ri;
out:
	kvl_unlock(&vm->lock, flags);
}

void kvl_ev_submit_fds(struct kvl_engine *eng, s32 tgid, s32 tid,
		       const s32 *fd, u32 n)
{
	struct kvl_thread *t;
	struct kvl_vm *vm;
	u32 i;

	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);	/* its sys_enter has added it */
	if (!t || t->sys_nr != KVL_NR_io_submit)
		return;
	if (n > KVL_SUBMIT_FDS)
		n = KVL_SUBMIT_FDS;
	for (i = 0; i < n; i++)
		t->sys_fd[i] = fd[i];
	t->sys_nfds = n;
}

static void kvl_native_submitted(struct kvl_vm *vm, struct kvl_thread *t,
				 s64 n, u64 now)
{
	struct kvl_taken_doorbell db, first;
	bool have_first = false;
	unsigned long flags;
	s64 i;

	kvl_lock(&vm->lock, flags);
	vm->counters[KVL_C_EVENTS]++;
	for (i = 0; i < n; i++) {
		u16 ri;

		/*
		 * One io_submit is one queue's batch (virtio_blk_handle_vq()
		 * plugs, takes what the guest queued, unplugs): after the
		 * first, an iocb takes only a doorbell of the same queue, and
		 * otherwise shares the first's, never another queue's.
		 */
		if (!have_first) {
			have_first = kvl_doorbell_for_io(vm, t->sys_ts, &first);
			if (!have_first)
				continue;
			db = first;
		} else if (!kvl_doorbell_take(vm, t->sys_ts, &first, &db)) {
			db = first;
			vm->counters[KVL_C_DOORBELLS_SHARED]++;
		}
		ri = kvl_req_alloc(vm, now);
		if (ri == KVL_NO_REQ)
			break;
		kvl_req(vm, ri)->path = KVL_PATH_NATIVE;
		/* io_submit returns how many of the first iocbs it took */
		if (i < t->sys_nfds)
			kvl_req(vm, ri)->fd = t->sys_fd[i];
		kvl_req_attribute(kvl_req(vm, ri), &db, t->last_wake,
				  t->sys_ts);
		kvl_req(vm, ri)->t[3] = now;
		kvl_queue_push(vm, &vm->native_q, ri);
	}
	kvl_unlock(&vm->lock, flags);
}

static void kvl_wake(struct kvl_vm *vm, struct kvl_thread *t, u64 now)
{
	unsigned long flags;
	u32 seq;

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

void kvl_ev_sys_exit(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		     s64 ret, u64 now)
{
	enum kvl_sys_class cls = kvl_sys_class(nr);
	struct kvl_thread *t;
	struct kvl_vcpu *vc;
	struct kvl_vm *vm;
	unsigned long flags;
	bool entered;

	vm = kvl_engine_find_vm(eng, tgid);
	if (!vm)
		return;
	t = kvl_thread_find(vm, tid);
	if (!t) {
		/* a thread that was already waiting when tracking began */
		if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
			return;
		kvl_lock(&vm->lock, flags);
		t = kvl_thread_add(vm, tid, -1);
		kvl_unlock(&vm->lock, flags);
		if (!t)
			return;
	}
	vc = kvl_vcpu_of(vm, t);
	if (vc) {
		if (cls == KVL_SYS_IOCTL)
			kvl_doorbell_cancel(vc);
		return;
	}
	if (t->irq_pending)	/* no kvm_apic_accept_irq followed it */
		kvl_irq_unaccepted(vm, t);
	if (cls == KVL_SYS_NONE || cls == KVL_SYS_IOCTL)
		return;
	entered = t->sys_nr == nr;
	t->sys_nr = ~0u;

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
			kvl_native_submitted(vm, t, ret, now);
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
			kvl_req(vm, t->cur_req)->t[3] = now;
			kvl_queue_push(vm, &vm->done_q, t->cur_req);
		}
		t->cur_req = KVL_NO_REQ;
		kvl_unlock(&vm->lock, flags);
		break;
	default:
		break;
	}
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
