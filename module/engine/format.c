// SPDX-License-Identifier: GPL-2.0
/*
 * format.c - the "hist" and "stats" text formats, written through a sink so
 * that debugfs and the reader's offline replay print exactly the same text.
 * The format is described in Documentation/output.rst; change the
 * version in engine.h when a line changes meaning.
 */
#include "kvmio_lat/engine.h"

static const char *const kvl_counter_names[KVL_NR_COUNTERS] = {
	[KVL_C_EVENTS] = "io_events",
	[KVL_C_REQUESTS] = "requests",
	[KVL_C_DROP_VCPUS] = "dropped_vcpus",
	[KVL_C_DROP_THREADS] = "dropped_threads",
	[KVL_C_DROP_REQUESTS] = "dropped_requests",
	[KVL_C_DROP_DOORBELLS] = "dropped_doorbells",
	[KVL_C_MAILBOX_FULL] = "mailbox_full",
	[KVL_C_DOORBELLS_USERSPACE] = "doorbells_userspace",
	[KVL_C_DOORBELLS_EXPIRED] = "doorbells_expired",
	[KVL_C_DOORBELLS_SKIPPED] = "doorbells_skipped",
	[KVL_C_DOORBELLS_SHARED] = "doorbells_shared",
	[KVL_C_SUBMITS_UNMATCHED] = "submits_unmatched",
	[KVL_C_IRQS_UNMATCHED] = "irqs_unmatched",
	[KVL_C_REQUESTS_EXPIRED] = "requests_expired",
	[KVL_C_LOST] = "lost_events",
	[KVL_C_REQS_POSTED] = "requests_posted",
	[KVL_C_REQS_INJECTED] = "requests_injected",
	[KVL_C_REQUESTS_STALE] = "requests_stale",
	[KVL_C_DOORBELLS_IGNORED] = "doorbells_ignored",
	[KVL_C_DOORBELLS_UNWATCHED] = "doorbells_unwatched",
	[KVL_C_DROP_DISKS] = "dropped_disk_requests",
	[KVL_C_REQS_NO_DISK] = "requests_without_disk",
	[KVL_C_REQS_NO_IRQ] = "requests_without_irq",
	[KVL_C_IRQS_BOUND] = "irqs_bound",
	[KVL_C_IRQ_BINDS_FORGOTTEN] = "irq_bindings_forgotten",
	[KVL_C_REQS_BY_USED_RING] = "requests_by_used_ring",
	[KVL_C_REQS_BY_BLOCK] = "requests_by_block",
};

const char *kvl_counter_name(enum kvl_counter c)
{
	return c < KVL_NR_COUNTERS ? kvl_counter_names[c] : "?";
}

/* Sum of a counter over tracked VMs (and their vCPUs where it lives there). */
u64 kvl_engine_counter(struct kvl_engine *eng, enum kvl_counter c)
{
	u64 sum = 0;
	unsigned int i, j;

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

		if (!vm)
			continue;
		sum += READ_ONCE(vm->counters[c]);
		for (j = 0; j < kvl_acquire(&vm->nr_vcpus); j++) {
			struct kvl_vcpu *v = vm->vcpus[j];

			if (c == KVL_C_DROP_DOORBELLS)
				sum += READ_ONCE(v->dropped_doorbells);
			else if (c == KVL_C_DOORBELLS_IGNORED)
				sum += READ_ONCE(v->ignored_doorbells);
			else if (c == KVL_C_DOORBELLS_UNWATCHED)
				sum += READ_ONCE(v->unwatched_doorbells);
			else if (c == KVL_C_DOORBELLS_USERSPACE)
				sum += READ_ONCE(v->doorbells_userspace);
			else if (c == KVL_C_EVENTS)
				sum += READ_ONCE(v->exits) + READ_ONCE(v->entries);
		}
	}
	return sum;
}

/* Decimal text of a 128-bit value; @buf holds at least 40 bytes. */
static const char *kvl_u128_str(char *buf, u64 hi, u64 lo)
{
	unsigned __int128 v = ((unsigned __int128)hi << 64) | lo;
	char tmp[40];
	int n = 0, i = 0;

	do {
		unsigned __int128 q = kvl_udiv128(v, 10);

		tmp[n++] = (char)('0' + (int)(v - q * 10));
		v = q;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
	return buf;
}

/*
 * A histogram its writer may be updating, copied into @c field by field,
 * with count made the copy's bucket total plus overflow: what is printed
 * adds up, however long printing takes.
 */
static const struct kvl_hist *kvl_hist_copy(const struct kvl_hist *h,
					    struct kvl_hist *c)
{
	unsigned int i;
	u64 n;

	if (!c)
		return h;
	c->overflow = READ_ONCE(h->overflow);
	n = c->overflow;
	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		c->buckets[i] = READ_ONCE(h->buckets[i]);
		n += c->buckets[i];
	}
	c->count = n;
	/* negative values are in bucket 0: never more of them than that */
	c->negative = READ_ONCE(h->negative);
	if (c->negative > c->buckets[0])
		c->negative = c->buckets[0];
	c->sum = READ_ONCE(h->sum);
	c->sumsq_hi = READ_ONCE(h->sumsq_hi);
	c->sumsq_lo = READ_ONCE(h->sumsq_lo);
	c->min = READ_ONCE(h->min);
	c->max = READ_ONCE(h->max);
	return c;
}

/* @id: the vCPU's id, or the disk's file descriptor */
static void kvl_print_one(const struct kvl_sink *out, const char *kind,
			  const struct kvl_vm *vm, long long id,
			  const char *name1, const char *name2,
			  const struct kvl_hist *live, struct kvl_hist *scratch)
{
	const struct kvl_hist *h;
	char sq[40];
	unsigned int i;
	u64 count;

	if (!READ_ONCE(live->count))
		return;
	h = kvl_hist_copy(live, scratch);
	count = READ_ONCE(h->count);
	if (!count)
		return;
	out->printf(out->ctx, "%s %d %lld %s%s%s", kind, vm->tgid, id,
		    name1, name2 ? " " : "", name2 ? name2 : "");
	out->printf(out->ctx, " count=%llu min=%llu max=%llu mean=%llu stddev=%llu",
		    (unsigned long long)count,
		    (unsigned long long)(h->min == U64_MAX ? 0 : h->min),
		    (unsigned long long)h->max,
		    (unsigned long long)kvl_hist_mean(h),
		    (unsigned long long)kvl_hist_stddev(h));
	out->printf(out->ctx, " p50=%llu p90=%llu p99=%llu p999=%llu",
		    (unsigned long long)kvl_hist_percentile(h, 50000),
		    (unsigned long long)kvl_hist_percentile(h, 90000),
		    (unsigned long long)kvl_hist_percentile(h, 99000),
		    (unsigned long long)kvl_hist_percentile(h, 99900));
	out->printf(out->ctx, " sum=%llu sumsq=%s negative=%llu overflow=%llu\n",
		    (unsigned long long)h->sum,
		    kvl_u128_str(sq, h->sumsq_hi, h->sumsq_lo),
		    (unsigned long long)h->negative,
		    (unsigned long long)h->overflow);
	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		u64 n = READ_ONCE(h->buckets[i]);

		if (n)
			out->printf(out->ctx, "  [%llu, %llu) %llu\n",
				    (unsigned long long)kvl_hist_bucket_lo(i),
				    (unsigned long long)kvl_hist_bucket_hi(i),
				    (unsigned long long)n);
	}
}

static const char *kvl_reason_str(char *buf, u32 isa, u32 reason)
{
	const char *name;
	static const char hex[] = "0123456789abcdef";
	int i, n = 0;
	char tmp[12];

	if (reason == KVL_EXIT_OTHER)
		return "other";
	name = kvl_exit_reason_name(isa, reason);
	if (name)
		return name;
	/* unknown to this build: 0x<hex> */
	do {
		tmp[n++] = hex[reason & 15];
		reason >>= 4;
	} while (reason);
	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; n; i++)
		buf[2 + i] = tmp[--n];
	buf[2 + i] = '\0';
	return buf;
}

/*
 * An exited VM (in slot @slot) whose pid a later VM took: only the later
 * one is printed (readers key VMs by pid).  Two that exited at the same
 * stamp (the clock read the same, or went back on another CPU): the one
 * in the higher slot.
 */
static bool kvl_vm_shadowed(struct kvl_engine *eng, const struct kvl_vm *vm,
			    unsigned int slot)
{
	unsigned int i;

	if (!READ_ONCE(vm->exited))
		return false;
	for (i = 0; i < eng->cfg.max_vms; i++) {
		const struct kvl_vm *o = kvl_acquire(&eng->vms[i]);

		if (o && o != vm && o->tgid == vm->tgid &&
		    (!READ_ONCE(o->exited) || o->exited_ts > vm->exited_ts ||
		     (o->exited_ts == vm->exited_ts && i > slot)))
			return true;
	}
	return false;
}

static void kvl_print_disks(const struct kvl_sink *out, const struct kvl_vm *vm,
			    struct kvl_hist *scratch)
{
	u32 i, n = kvl_acquire(&vm->nr_disks);
	unsigned int p, ds;

	for (i = 0; i < n && i < KVL_DISKS; i++) {
		const struct kvl_disk *d = &vm->disks[i];

		for (p = 0; p < KVL_NR_PATHS; p++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
				kvl_print_one(out, "disk", vm, READ_ONCE(d->fd),
					      kvl_path_name(p),
					      kvl_disk_stage_name(ds),
					      &d->hist[p][ds], scratch);
	}
}

void kvl_engine_print_hist(struct kvl_engine *eng, const struct kvl_sink *out)
{
	kvl_engine_print_hist_copy(eng, out, NULL);
}

/*
 * The "hist" text in pieces (a seq_file's records): position 0 is the
 * header; VM slot i has positions 1 + i * (max_vcpus + 2) + u, u = 0 its
 * "vm" line, 1..nr_vcpus its vCPUs, nr_vcpus + 1 its disks; the last,
 * kvl_hist_end(), prints "end".  Positions of empty slots and of vCPUs a
 * VM does not have print nothing: kvl_engine_hist_seek() skips them.
 */
static u64 kvl_hist_stride(const struct kvl_engine *eng)
{
	return (u64)eng->cfg.max_vcpus + 2;
}

static u64 kvl_hist_end(const struct kvl_engine *eng)
{
	return 1 + eng->cfg.max_vms * kvl_hist_stride(eng);
}

/* The VM printed at slot @i, NULL for none (or shadowed). */
static struct kvl_vm *kvl_hist_vm(struct kvl_engine *eng, u32 i)
{
	struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

	return vm && !kvl_vm_shadowed(eng, vm, i) ? vm : NULL;
}

/* A VM's position @pos (0 < @pos < kvl_hist_end()): its slot, and in *@u its piece. */
static u32 kvl_hist_slot(const struct kvl_engine *eng, u64 pos, u64 *u)
{
	u64 stride = kvl_hist_stride(eng);
	u32 i = (u32)kvl_div64(pos - 1, stride);

	*u = pos - 1 - i * stride;
	return i;
}

bool kvl_engine_hist_seek(struct kvl_engine *eng, u64 *pos)
{
	u64 end = kvl_hist_end(eng), p = *pos, u;

	while (p > 0 && p < end) {
		u32 i = kvl_hist_slot(eng, p, &u);
		struct kvl_vm *vm = kvl_hist_vm(eng, i);

		if (vm && u <= (u64)kvl_acquire(&vm->nr_vcpus) + 1)
			break;
		p = 1 + (u64)(i + 1) * kvl_hist_stride(eng);	/* the next slot */
	}
	*pos = p;
	return p <= end;
}

static void kvl_print_vcpu(const struct kvl_sink *out, const struct kvl_vm *vm,
			   const struct kvl_vcpu *v, struct kvl_hist *scratch)
{
	unsigned int k, p, s;
	char rbuf[16];

	out->printf(out->ctx, "vcpu %d %u isa %s exits %llu\n",
		    vm->tgid, v->vcpu_id,
		    v->isa == KVL_ISA_SVM ? "svm" :
		    v->isa == KVL_ISA_VMX ? "vmx" : "unknown",
		    (unsigned long long)READ_ONCE(v->exits));
	for (k = 0; k < KVL_EXIT_SLOTS; k++) {
		const struct kvl_exit_slot *e = &v->stats.exits[k];

		if (!kvl_acquire(&e->used))
			continue;
		kvl_print_one(out, "exit", vm, v->vcpu_id,
			      kvl_reason_str(rbuf, v->isa, e->reason),
			      NULL, &e->hist, scratch);
	}
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (s = 0; s < KVL_NR_STAGES; s++)
			if (kvl_stage_name(p, s))
				kvl_print_one(out, "stage", vm, v->vcpu_id,
					      kvl_path_name(p),
					      kvl_stage_name(p, s),
					      &v->stats.stages[p][s], scratch);
}

void kvl_engine_print_hist_at(struct kvl_engine *eng,
			      const struct kvl_sink *out, u64 pos,
			      struct kvl_hist *scratch)
{
	struct kvl_vm *vm;
	u32 nv;
	u64 u;

	if (pos == 0) {
		out->printf(out->ctx, "# kvmio_lat hist %d\n", KVL_HIST_FORMAT_VERSION);
		out->printf(out->ctx, "# unit: ns; %u log-linear buckets per power of two\n",
			    KVL_HIST_SUB);
		out->printf(out->ctx,
			    "# each histogram line is followed by its buckets: [lo, hi) count\n");
		return;
	}
	if (pos == kvl_hist_end(eng)) {
		out->printf(out->ctx, "end\n");
		return;
	}
	if (pos > kvl_hist_end(eng))
		return;
	vm = kvl_hist_vm(eng, kvl_hist_slot(eng, pos, &u));
	if (!vm)
		return;
	nv = kvl_acquire(&vm->nr_vcpus);
	if (u == 0) {
		out->printf(out->ctx, "vm %d %s vcpus %u", vm->tgid,
			    vm->comm[0] ? vm->comm : "-", nv);
		if (READ_ONCE(vm->exited))
			out->printf(out->ctx, " exited %llu",
				    (unsigned long long)(eng->print_now > vm->exited_ts ?
							 eng->print_now - vm->exited_ts : 0));
		out->printf(out->ctx, "\n");
	} else if (u <= nv) {
		kvl_print_vcpu(out, vm, vm->vcpus[u - 1], scratch);
	} else if (u == (u64)nv + 1) {
		kvl_print_disks(out, vm, scratch);
	}
}

void kvl_engine_print_hist_copy(struct kvl_engine *eng,
				const struct kvl_sink *out,
				struct kvl_hist *scratch)
{
	u64 pos = 0;

	kvl_engine_flush(eng);
	do {
		kvl_engine_print_hist_at(eng, out, pos++, scratch);
	} while (kvl_engine_hist_seek(eng, &pos));
}

void kvl_engine_print_stats(struct kvl_engine *eng, const struct kvl_sink *out,
			    u64 memory_bytes)
{
	u64 vcpus = 0, inflight = 0, dropped, unmatched;
	unsigned int i, c;

	for (i = 0; i < eng->cfg.max_vms; i++) {
		struct kvl_vm *vm = kvl_acquire(&eng->vms[i]);

		if (!vm || READ_ONCE(vm->exited))	/* running ones */
			continue;
		vcpus += kvl_acquire(&vm->nr_vcpus);
		inflight += READ_ONCE(vm->inflight);
	}
	dropped = READ_ONCE(eng->dropped_vms) +
		  kvl_engine_counter(eng, KVL_C_DROP_VCPUS) +
		  kvl_engine_counter(eng, KVL_C_DROP_THREADS) +
		  kvl_engine_counter(eng, KVL_C_DROP_REQUESTS) +
		  kvl_engine_counter(eng, KVL_C_DROP_DOORBELLS);
	unmatched = kvl_engine_counter(eng, KVL_C_SUBMITS_UNMATCHED) +
		    kvl_engine_counter(eng, KVL_C_IRQS_UNMATCHED);

	out->printf(out->ctx, "vms: %u\n", READ_ONCE(eng->nr_vms));
	out->printf(out->ctx, "vms_exited: %u\n", READ_ONCE(eng->nr_exited));
	out->printf(out->ctx, "vcpus: %llu\n", (unsigned long long)vcpus);
	out->printf(out->ctx, "inflight: %llu\n", (unsigned long long)inflight);
	out->printf(out->ctx, "dropped: %llu\n", (unsigned long long)dropped);
	out->printf(out->ctx, "unmatched: %llu\n", (unsigned long long)unmatched);
	out->printf(out->ctx, "events: %llu\n",
		    (unsigned long long)kvl_engine_counter(eng, KVL_C_EVENTS));
	out->printf(out->ctx, "memory_bytes: %llu\n",
		    (unsigned long long)memory_bytes);
	out->printf(out->ctx, "dropped_vms: %llu\n",
		    (unsigned long long)READ_ONCE(eng->dropped_vms));
	for (c = 0; c < KVL_NR_COUNTERS; c++) {
		if (c == KVL_C_EVENTS)
			continue;
		out->printf(out->ctx, "%s: %llu\n", kvl_counter_name(c),
			    (unsigned long long)kvl_engine_counter(eng, c));
	}
}
