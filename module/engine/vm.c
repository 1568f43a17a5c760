// SPDX-License-Identifier: GPL-2.0
/*
 * vm.c - the engine's VM table: configuration and layout, finding,
 * creating and forgetting VMs, the pid filter, reset and flush.
 */
#include "internal.h"

static const char *const kvl_stage_names[KVL_NR_PATHS][KVL_NR_STAGES] = {
	[KVL_PATH_NATIVE] = {
		"doorbell_to_wake", "wake_to_submit", "submit",
		"submit_to_reap", NULL, "reap_to_irq", "irq_to_entry", "total",
	},
	[KVL_PATH_THREADS] = {
		"doorbell_to_wake", "wake_to_dispatch", "io",
		"io_to_reap", NULL, "reap_to_irq", "irq_to_entry", "total",
	},
	[KVL_PATH_URING] = {
		"doorbell_to_wake", "wake_to_submit", "submit",
		"submit_to_complete", "complete_to_reap", "reap_to_irq",
		"irq_to_entry", "total",
	},
};

const char *kvl_path_name(unsigned int path)
{
	return path == KVL_PATH_NATIVE ? "native" :
	       path == KVL_PATH_THREADS ? "threads" :
	       path == KVL_PATH_URING ? "io_uring" : "?";
}

const char *kvl_stage_name(unsigned int path, unsigned int stage)
{
	if (path >= KVL_NR_PATHS || stage >= KVL_NR_STAGES)
		return "?";
	return kvl_stage_names[path][stage];
}

const char *kvl_disk_stage_name(unsigned int ds)
{
	return ds == KVL_DS_IO ? "io" :
	       ds == KVL_DS_SUBMIT_TO_IRQ ? "submit_to_irq" :
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
	kvl_queue_init(&vm->used_q);
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

void kvl_vcpu_prepare(struct kvl_vcpu *v)
{
	memset(v, 0, sizeof(*v));
	v->inj_vector = -1;
	v->doorbell_undo = -1;
	v->await_head = KVL_NO_REQ;
	kvl_vcpu_stats_init(&v->stats);
}

void kvl_vcpu_setup(struct kvl_vcpu *v, u32 vcpu_id, u32 isa)
{
	const u32 *reserved;
	unsigned int i, n;

	v->vcpu_id = vcpu_id;
	v->isa = isa;
	/* the reasons I/O waits on have their slots before any rarity comes */
	reserved = kvl_exit_reserved(isa, &n);
	for (i = 0; i < n && i < KVL_EXIT_SLOTS - 1; i++) {
		v->stats.exits[i].reason = reserved[i];
		v->stats.exits[i].used = 1;
	}
}

KVL_DEFINE_PER_CPU(struct kvl_memo, kvl_memo);
KVL_DEFINE_PER_CPU(struct kvl_memo, kvl_sys_memo);

#ifdef KVL_MEMO_CHECK
void kvl_memo_check(struct kvl_engine *eng, const struct kvl_memo *m)
{
	struct kvl_thread *t;
	struct kvl_vm *vm;
	struct kvl_vcpu *vc = kvl_vcpu_lookup(eng, m->tgid, m->tid, &vm, &t);

	if (vc != m->vc || vm != m->vm || t != m->t)
		__builtin_trap();
}

void kvl_sys_memo_check(struct kvl_engine *eng, const struct kvl_memo *m)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, m->tgid);

	if (vm != m->vm || !vm || kvl_thread_find(vm, m->tid) != m->t)
		__builtin_trap();
}
#endif

void kvl_engine_init(struct kvl_engine *eng, const struct kvl_config *cfg,
		     const struct kvl_alloc_ops *ops, struct kvl_vm **vms)
{
	/*
	 * A memo names its engine; a new one at a freed one's address (in
	 * userspace) starts at another generation.
	 */
	static u32 gen_seed;

	memset(eng, 0, sizeof(*eng));
	gen_seed += 0x10000;
	eng->memo_gen = gen_seed;
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
	for (i = 0; i < ARRAY_SIZE(eng->vm_hint); i++)
		WRITE_ONCE(eng->vm_hint[i], 0);
	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = eng->vms[i];

		if (vm && !vm->exited) {
			unsigned int b = kvl_filter_bit(vm->tgid);

			words[b / KVL_LONG_BITS] |= 1UL << (b % KVL_LONG_BITS);
			WRITE_ONCE(eng->vm_hint[b], i + 1);
		}
	}
	for (i = 0; i < ARRAY_SIZE(words); i++)
		WRITE_ONCE(eng->filter[i], words[i]);
}

/*
 * Lock-free.  A VM that its bucket's hint does not name (it shares the
 * bucket, or the hints are being rebuilt) is found by the scan.
 */
struct kvl_vm *kvl_engine_find_vm(struct kvl_engine *eng, s32 tgid)
{
	unsigned int i, hint = READ_ONCE(eng->vm_hint[kvl_filter_bit(tgid)]);

	if (hint && hint <= eng->cfg.max_vms) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[hint - 1]);

		if (vm && vm->tgid == tgid && !READ_ONCE(vm->exited))
			return vm;
	}
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

/* Counted with and without eng->lock: see kvl_vm_create(). */
static void kvl_vm_refused(struct kvl_engine *eng)
{
	u64 old;

	do {
		old = READ_ONCE(eng->dropped_vms);
	} while (kvl_cmpxchg(&eng->dropped_vms, old, old + 1) != old);
}

struct kvl_vm *kvl_vm_create(struct kvl_engine *eng, s32 tgid,
			     const char *comm)
{
	struct kvl_vm *vm = NULL;
	unsigned long flags;
	unsigned int i, slot = ~0u;
	bool added = false;

	if (!kvl_pid_wanted(eng, tgid))
		return NULL;
	/*
	 * Every slot holds a running VM (exited ones would make room): a VM
	 * past max_vms comes here on each of its exits, and must not take
	 * the lock every VM's first exit needs each time.
	 */
	if (READ_ONCE(eng->nr_vms) >= eng->cfg.max_vms) {
		/* (its other thread may have just taken the last slot) */
		vm = kvl_engine_find_vm(eng, tgid);
		if (!vm)
			kvl_vm_refused(eng);
		return vm;
	}
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
		kvl_vm_refused(eng);
		goto out;
	}
	if (eng->vms[slot])	/* an exited VM makes room for a running one */
		kvl_vm_remove_slot(eng, slot);
	vm = eng->ops->alloc_vm(eng);
	if (!vm) {
		kvl_vm_refused(eng);
		goto out;
	}
	vm->tgid = tgid;
	for (i = 0; comm && comm[i] && i < KVL_COMM_LEN - 1; i++)
		vm->comm[i] = comm[i];
	vm->comm[i] = '\0';
	kvl_publish(&eng->vms[slot], vm);
	WRITE_ONCE(eng->nr_vms, eng->nr_vms + 1);
	kvl_filter_rebuild(eng);
	added = true;
out:
	kvl_unlock(&eng->lock, flags);
	if (added && eng->ops->vm_added)
		eng->ops->vm_added(eng);
	return vm;
}

/* Caller holds eng->lock. */
static void kvl_vm_remove_slot(struct kvl_engine *eng, unsigned int i)
{
	struct kvl_vm *vm = eng->vms[i];

	/* stale memos first: the VM is freed a grace period after this */
	WRITE_ONCE(eng->memo_gen, eng->memo_gen + 1);
	WRITE_ONCE(eng->vms[i], NULL);
	if (vm->exited)
		eng->nr_exited--;
	else
		WRITE_ONCE(eng->nr_vms, eng->nr_vms - 1);
	eng->ops->free_vm(eng, vm);
}

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
		kvl_queue_drop(vm, &vm->used_q);
		for (v = 0; v < vm->nr_vcpus; v++) {
			struct kvl_vcpu *vc = vm->vcpus[v];
			struct kvl_queue q = { vc->await_head, KVL_NO_REQ };

			kvl_queue_drop(vm, &q);
			vc->await_head = KVL_NO_REQ;
			WRITE_ONCE(vc->awaiting, 0);
		}
		vm->exited_ts = now;
		WRITE_ONCE(eng->memo_gen, eng->memo_gen + 1);
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

/* Under vm->lock: @v's histograms and counters back to zero. */
static void kvl_vcpu_reset(struct kvl_vcpu *v)
{
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

/*
 * The engine lock only to forget exited VMs; then each VM's counters, and
 * each of its vCPUs, under the VM lock one at a time: interrupts are off
 * for one vCPU's histograms (135 KB), never for every VM's at once (60 MB
 * at the default caps).  A reader between two vCPUs sees one reset and
 * the next not yet, as it would see one that exits more.  In the kernel
 * the caller holds rcu_read_lock(): a VM that exits meanwhile may be freed
 * after a grace period.
 */
void kvl_engine_reset(struct kvl_engine *eng)
{
	unsigned long flags, vflags;
	unsigned int i, j;

	kvl_lock(&eng->lock, flags);
	WRITE_ONCE(eng->dropped_vms, 0);
	for (i = 0; i < eng->cfg.max_vms; i++)
		if (eng->vms[i] && eng->vms[i]->exited)	/* kept until now */
			kvl_vm_remove_slot(eng, i);
	kvl_unlock(&eng->lock, flags);

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

		if (!vm)
			continue;
		kvl_lock(&vm->lock, vflags);
		memset(vm->counters, 0, sizeof(vm->counters));
		/* disks are found again by their next request */
		WRITE_ONCE(vm->nr_disks, 0);
		memset(vm->disks, 0, sizeof(vm->disks));
		kvl_unlock(&vm->lock, vflags);
		for (j = 0; j < kvl_acquire(&vm->nr_vcpus); j++) {
			kvl_lock(&vm->lock, vflags);
			kvl_vcpu_reset(vm->vcpus[j]);
			kvl_unlock(&vm->lock, vflags);
		}
	}
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
