// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot.c - the reader's data model (see snapshot.h): building, lookups,
 * summary statistics through the engine's hist.c, merges and deltas.
 */
#include <stdlib.h>
#include <stdarg.h>
#include <math.h>

#include "snapshot.h"
#include "parse.h"

/* Make room for @need elements in *@arr (doubling), never past @max. */
static int kvl_grow(void **arr, u32 *cap, u32 need, size_t elem, u32 max)
{
	u32 ncap = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static void kvl_copy_name(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

void kvl_snap_init(struct kvl_snap *s)
{
	memset(s, 0, sizeof(*s));
}

void kvl_rhist_free(struct kvl_rhist *h)
{
	free(h->b);
	h->b = NULL;
	h->nr = 0;
	h->cap = 0;
}

void kvl_svcpu_free(struct kvl_svcpu *v)
{
	u32 i;

	for (i = 0; i < v->nr_hists; i++)
		kvl_rhist_free(&v->hists[i].h);
	free(v->hists);
	v->hists = NULL;
	v->nr_hists = 0;
	v->cap = 0;
}

void kvl_svm_free_disks(struct kvl_svm *vm)
{
	unsigned int p, ds;
	u32 i;

	for (i = 0; i < vm->nr_disks; i++) {
		for (p = 0; p < KVL_NR_PATHS; p++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
				kvl_rhist_free(&vm->disks[i].h[p][ds]);
		free(vm->disks[i].name);
	}
	free(vm->disks);
	vm->disks = NULL;
	vm->nr_disks = 0;
	vm->disk_cap = 0;
}

void kvl_snap_free(struct kvl_snap *s)
{
	u32 i, j;

	for (i = 0; i < s->nr_vms; i++) {
		for (j = 0; j < s->vms[i].nr_vcpus; j++)
			kvl_svcpu_free(&s->vms[i].vcpus[j]);
		free(s->vms[i].vcpus);
		kvl_svm_free_disks(&s->vms[i]);
	}
	free(s->vms);
	kvl_snap_init(s);
}

struct kvl_svm *kvl_snap_add_vm(struct kvl_snap *s, s32 pid, const char *comm)
{
	struct kvl_svm *vm;

	if (kvl_grow((void **)&s->vms, &s->cap, s->nr_vms + 1, sizeof(*vm),
		     KVL_SNAP_MAX_VMS))
		return NULL;
	vm = &s->vms[s->nr_vms++];
	memset(vm, 0, sizeof(*vm));
	vm->pid = pid;
	kvl_copy_name(vm->comm, sizeof(vm->comm), comm);
	return vm;
}

struct kvl_svcpu *kvl_svm_add_vcpu(struct kvl_svm *vm, u32 id, const char *isa,
				   u64 exits)
{
	struct kvl_svcpu *v;

	if (kvl_grow((void **)&vm->vcpus, &vm->cap, vm->nr_vcpus + 1,
		     sizeof(*v), KVL_SNAP_MAX_VCPUS))
		return NULL;
	v = &vm->vcpus[vm->nr_vcpus++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	kvl_copy_name(v->isa, sizeof(v->isa), isa);
	v->exits = exits;
	return v;
}

struct kvl_sdisk *kvl_svm_add_disk(struct kvl_svm *vm, s32 fd)
{
	struct kvl_sdisk *d;

	if (kvl_grow((void **)&vm->disks, &vm->disk_cap, vm->nr_disks + 1,
		     sizeof(*d), KVL_SNAP_MAX_DISKS))
		return NULL;
	d = &vm->disks[vm->nr_disks++];
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	return d;
}

int kvl_sdisk_set_name(struct kvl_sdisk *d, const char *name)
{
	char *copy = NULL;

	if (name) {
		copy = strdup(name);
		if (!copy)
			return -1;
	}
	free(d->name);
	d->name = copy;
	return 0;
}

/* Exit slots and stages a vCPU can have, plus room for merged reasons. */
#define KVL_SVCPU_MAX_HISTS	(KVL_NR_PATHS * KVL_NR_STAGES + 256)

struct kvl_shist *kvl_svcpu_add_hist(struct kvl_svcpu *v, u8 kind, u8 path,
				     u8 stage, const char *reason)
{
	struct kvl_shist *h;

	if (kvl_grow((void **)&v->hists, &v->cap, v->nr_hists + 1, sizeof(*h),
		     KVL_SVCPU_MAX_HISTS))
		return NULL;
	h = &v->hists[v->nr_hists++];
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->path = path;
	h->stage = stage;
	kvl_copy_name(h->reason, sizeof(h->reason), reason);
	return h;
}

int kvl_rhist_add_bucket(struct kvl_rhist *h, u32 idx, u64 n)
{
	if (idx >= KVL_HIST_NBUCKETS ||
	    kvl_grow((void **)&h->b, &h->cap, h->nr + 1, sizeof(*h->b),
		     KVL_HIST_NBUCKETS))
		return -1;
	h->b[h->nr].idx = idx;
	h->b[h->nr].n = n;
	h->nr++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* lookups */

const struct kvl_svm *kvl_snap_vm(const struct kvl_snap *s, s32 pid)
{
	u32 i;

	for (i = 0; i < s->nr_vms; i++)
		if (s->vms[i].pid == pid)
			return &s->vms[i];
	return NULL;
}

const struct kvl_svcpu *kvl_svm_vcpu(const struct kvl_svm *vm, u32 id)
{
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].id == id)
			return &vm->vcpus[i];
	return NULL;
}

const struct kvl_sdisk *kvl_svm_disk(const struct kvl_svm *vm, s32 fd)
{
	u32 i;

	for (i = 0; i < vm->nr_disks; i++)
		if (vm->disks[i].fd == fd)
			return &vm->disks[i];
	return NULL;
}

bool kvl_snap_has_disks(const struct kvl_snap *s)
{
	u32 i;

	for (i = 0; i < s->nr_vms; i++)
		if (s->vms[i].nr_disks)
			return true;
	return false;
}

const struct kvl_shist *kvl_svcpu_stage(const struct kvl_svcpu *v,
					unsigned int path, unsigned int stage)
{
	u32 i;

	for (i = 0; i < v->nr_hists; i++) {
		const struct kvl_shist *h = &v->hists[i];

		if (h->kind == KVL_KIND_STAGE && h->path == path &&
		    h->stage == stage)
			return h;
	}
	return NULL;
}

const struct kvl_shist *kvl_svcpu_exit(const struct kvl_svcpu *v,
				       const char *reason)
{
	u32 i;

	for (i = 0; i < v->nr_hists; i++) {
		const struct kvl_shist *h = &v->hists[i];

		if (h->kind == KVL_KIND_EXIT && !strcmp(h->reason, reason))
			return h;
	}
	return NULL;
}

static const struct kvl_shist *kvl_svcpu_same(const struct kvl_svcpu *v,
					      const struct kvl_shist *key)
{
	if (key->kind == KVL_KIND_EXIT)
		return kvl_svcpu_exit(v, key->reason);
	return kvl_svcpu_stage(v, key->path, key->stage);
}

const struct kvl_stat *kvl_snap_stat(const struct kvl_snap *s,
				     const char *name)
{
	u32 i;

	for (i = 0; i < s->nr_stats; i++)
		if (!strcmp(s->stats[i].name, name))
			return &s->stats[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* summary statistics: the engine's functions on a filled struct kvl_hist */

/* Round-up right shift that keeps non-zero counts non-zero. */
static u64 kvl_scale(u64 n, unsigned int shift)
{
	if (!shift || !n)
		return n;
	return (n >> shift) + !!(n & ((1ULL << shift) - 1));
}

/*
 * Fill @h from @r.  Engine buckets are u64, but merged counts saturate and
 * a damaged snapshot may hold anything: if all the counts together would
 * not fit in 63 bits (the engine adds them up in a u64), every count is
 * scaled down by the same power of two, keeping the shape (and so every
 * percentile) to within one count per bucket.  Never happens on real data.
 */
static void kvl_rhist_fill(const struct kvl_rhist *r, struct kvl_hist *h)
{
	unsigned int shift = 0;
	u128 total = r->overflow;
	u32 i;

	for (i = 0; i < r->nr; i++)
		total += r->b[i].n;
	while ((total >> shift) + KVL_HIST_NBUCKETS + 1 > (1ULL << 62))
		shift++;
	kvl_hist_init(h);
	h->count = r->count;
	h->sum = r->sum;
	h->sumsq_hi = (u64)(r->sumsq >> 64);
	h->sumsq_lo = (u64)r->sumsq;
	h->min = r->min;
	h->max = r->max;
	h->negative = kvl_scale(r->negative, shift);
	h->overflow = kvl_scale(r->overflow, shift);
	for (i = 0; i < r->nr; i++)
		h->buckets[r->b[i].idx] = kvl_scale(r->b[i].n, shift);
	if (shift)
		h->count = (u64)((total >> shift) + r->nr + 1);
}

u64 kvl_rhist_percentile(const struct kvl_rhist *r, u32 per100k)
{
	struct kvl_hist h;

	if (!r->count)
		return 0;
	kvl_rhist_fill(r, &h);
	return kvl_hist_percentile(&h, per100k);
}

/* The values in sum and sumsq: every one but the overflow (zeros too). */
static u64 kvl_rhist_inrange(const struct kvl_rhist *r)
{
	return r->overflow > r->count ? 0 : r->count - r->overflow;
}

static double kvl_rhist_stddev(const struct kvl_rhist *r, u64 n)
{
	u128 sq_of_sum;

	if (n < 2)
		return 0;
	sq_of_sum = (u128)r->sum * r->sum / n;
	if (r->sumsq <= sq_of_sum)
		return 0;
	return sqrtl((long double)(r->sumsq - sq_of_sum) / n);
}

void kvl_rhist_summary(const struct kvl_rhist *r, struct kvl_summary *sum)
{
	struct kvl_hist h;
	u64 n = kvl_rhist_inrange(r);

	memset(sum, 0, sizeof(*sum));
	if (!r->count)
		return;
	kvl_rhist_fill(r, &h);
	sum->count = r->count;
	sum->min = r->min;
	sum->max = r->max;
	if (r->sum == KVL_HIST_SUM_SAT) {
		/* saturated: the engine's estimate from the buckets */
		sum->mean = (double)kvl_hist_mean(&h);
		sum->stddev = (double)kvl_hist_stddev(&h);
	} else {
		/* u64 and u128 to double: 53 bits kept, said in output.rst */
		sum->mean = n ? (double)r->sum / n : 0;
		sum->stddev = kvl_rhist_stddev(r, n);
	}
	sum->p50 = kvl_hist_percentile(&h, 50000);
	sum->p90 = kvl_hist_percentile(&h, 90000);
	sum->p99 = kvl_hist_percentile(&h, 99000);
	sum->p999 = kvl_hist_percentile(&h, 99900);
}

/* ------------------------------------------------------------------ */
/* filters */

void kvl_filter_init(struct kvl_filter *f)
{
	f->pid = 0;
	f->vcpu = -1;
	f->path = -1;
	f->exits = false;
}

/* A VM is selected by --pid, and only if it has the vCPU of --vcpu. */
bool kvl_filter_vm(const struct kvl_filter *f, const struct kvl_svm *vm)
{
	if (f->pid && f->pid != vm->pid)
		return false;
	return f->vcpu < 0 || kvl_svm_vcpu(vm, (u32)f->vcpu);
}

bool kvl_filter_vcpu(const struct kvl_filter *f, const struct kvl_svcpu *v)
{
	return f->vcpu < 0 || (u64)f->vcpu == v->id;
}

bool kvl_filter_hist(const struct kvl_filter *f, const struct kvl_shist *h)
{
	if (h->kind == KVL_KIND_EXIT)
		return f->exits;
	return f->path < 0 || f->path == h->path;
}

/* ------------------------------------------------------------------ */
/* merges */

static u64 kvl_add_sat(u64 a, u64 b)
{
	u64 r;

	return __builtin_add_overflow(a, b, &r) ? U64_MAX : r;
}

static u128 kvl_add_sat128(u128 a, u128 b)
{
	u128 r = a + b;

	return r < a ? ~(u128)0 : r;
}

/* The union of two ascending bucket lists, counts added. */
static struct kvl_bucket *kvl_buckets_union(const struct kvl_rhist *a,
					    const struct kvl_rhist *b, u32 *nr)
{
	struct kvl_bucket *out = malloc((a->nr + b->nr + 1) * sizeof(*out));
	u32 i = 0, j = 0, n = 0;

	if (!out)
		return NULL;
	while (i < a->nr || j < b->nr) {
		if (j == b->nr || (i < a->nr && a->b[i].idx < b->b[j].idx)) {
			out[n++] = a->b[i++];
		} else if (i == a->nr || b->b[j].idx < a->b[i].idx) {
			out[n++] = b->b[j++];
		} else {
			out[n].idx = a->b[i].idx;
			out[n].n = kvl_add_sat(a->b[i].n, b->b[j].n);
			n++;
			i++;
			j++;
		}
	}
	*nr = n;
	return out;
}

int kvl_rhist_merge(struct kvl_rhist *dst, const struct kvl_rhist *src)
{
	struct kvl_bucket *b;
	u32 nr;

	if (!src->count)
		return 0;
	b = kvl_buckets_union(dst, src, &nr);
	if (!b)
		return -1;
	free(dst->b);
	dst->b = b;
	dst->nr = nr;
	dst->cap = nr;
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (!dst->count || src->max > dst->max)
		dst->max = src->max;
	dst->count = kvl_add_sat(dst->count, src->count);
	dst->sum = kvl_add_sat(dst->sum, src->sum);
	dst->sumsq = kvl_add_sat128(dst->sumsq, src->sumsq);
	dst->negative = kvl_add_sat(dst->negative, src->negative);
	dst->overflow = kvl_add_sat(dst->overflow, src->overflow);
	return 0;
}

int kvl_svcpu_merge(struct kvl_svcpu *dst, const struct kvl_svcpu *src,
		    const struct kvl_filter *f)
{
	u32 i;

	if (!dst->isa[0])
		kvl_copy_name(dst->isa, sizeof(dst->isa), src->isa);
	else if (strcmp(dst->isa, src->isa))
		kvl_copy_name(dst->isa, sizeof(dst->isa), "mixed");
	dst->exits = kvl_add_sat(dst->exits, src->exits);
	for (i = 0; i < src->nr_hists; i++) {
		const struct kvl_shist *s = &src->hists[i];
		struct kvl_shist *d;

		if (f && !kvl_filter_hist(f, s))
			continue;
		d = (struct kvl_shist *)kvl_svcpu_same(dst, s);
		if (!d)
			d = kvl_svcpu_add_hist(dst, s->kind, s->path, s->stage,
					       s->reason);
		if (!d || kvl_rhist_merge(&d->h, &s->h))
			return -1;
	}
	return 0;
}

int kvl_svm_merge_vcpus(const struct kvl_svm *vm, const struct kvl_filter *f,
			struct kvl_svcpu *all)
{
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		if (f && !kvl_filter_vcpu(f, &vm->vcpus[i]))
			continue;
		if (kvl_svcpu_merge(all, &vm->vcpus[i], f))
			return -1;
	}
	return 0;
}

int kvl_snap_merge_all(const struct kvl_snap *s, const struct kvl_filter *f,
		       struct kvl_svcpu *all)
{
	u32 i;

	memset(all, 0, sizeof(*all));
	all->id = KVL_VCPU_ALL;
	for (i = 0; i < s->nr_vms; i++) {
		if (f && !kvl_filter_vm(f, &s->vms[i]))
			continue;
		if (kvl_svm_merge_vcpus(&s->vms[i], f, all))
			goto fail;
	}
	return 0;
fail:
	kvl_svcpu_free(all);
	return -1;
}

/* ------------------------------------------------------------------ */
/* deltas */

static bool kvl_rhist_went_down(const struct kvl_rhist *prev,
				const struct kvl_rhist *cur)
{
	u32 i, j = 0;

	if (cur->count < prev->count || cur->negative < prev->negative ||
	    cur->overflow < prev->overflow || cur->sum < prev->sum ||
	    cur->sumsq < prev->sumsq)
		return true;
	for (i = 0; i < prev->nr; i++) {
		while (j < cur->nr && cur->b[j].idx < prev->b[i].idx)
			j++;
		if (j == cur->nr || cur->b[j].idx != prev->b[i].idx ||
		    cur->b[j].n < prev->b[i].n)
			return true;
	}
	return false;
}

static int kvl_rhist_copy(struct kvl_rhist *dst, const struct kvl_rhist *src)
{
	*dst = *src;
	dst->b = NULL;
	dst->nr = 0;
	dst->cap = 0;
	if (!src->nr)
		return 0;
	dst->b = malloc(src->nr * sizeof(*dst->b));
	if (!dst->b)
		return -1;
	memcpy(dst->b, src->b, src->nr * sizeof(*dst->b));
	dst->nr = src->nr;
	dst->cap = src->nr;
	return 0;
}

/* min and max of a delta: what its buckets allow. */
static void kvl_rhist_bound_from_buckets(struct kvl_rhist *d,
					 const struct kvl_rhist *cur)
{
	if (d->nr)
		d->min = kvl_hist_bucket_lo(d->b[0].idx);
	else
		d->min = cur->min;
	if (d->overflow)
		d->max = cur->max;
	else if (d->nr)
		d->max = kvl_hist_bucket_hi(d->b[d->nr - 1].idx) - 1;
	else
		d->max = 0;
}

static int kvl_rhist_delta(const struct kvl_rhist *prev,
			   const struct kvl_rhist *cur, struct kvl_rhist *d)
{
	u32 i, j = 0;

	if (!prev || kvl_rhist_went_down(prev, cur))
		return kvl_rhist_copy(d, cur);
	memset(d, 0, sizeof(*d));
	d->count = cur->count - prev->count;
	/* a saturated sum stays saturated: its delta is unknown */
	d->sum = cur->sum == KVL_HIST_SUM_SAT ? KVL_HIST_SUM_SAT :
		 cur->sum - prev->sum;
	d->sumsq = cur->sumsq - prev->sumsq;
	d->negative = cur->negative - prev->negative;
	d->overflow = cur->overflow - prev->overflow;
	for (i = 0; i < cur->nr; i++) {
		u64 n = cur->b[i].n;

		while (j < prev->nr && prev->b[j].idx < cur->b[i].idx)
			j++;
		if (j < prev->nr && prev->b[j].idx == cur->b[i].idx)
			n -= prev->b[j].n;
		if (n && kvl_rhist_add_bucket(d, cur->b[i].idx, n)) {
			kvl_rhist_free(d);
			return -1;
		}
	}
	kvl_rhist_bound_from_buckets(d, cur);
	return 0;
}

/* @vm in the earlier snapshot @prev, or NULL */
static const struct kvl_svm *kvl_prev_vm(const struct kvl_snap *prev,
					 const struct kvl_svm *vm)
{
	const struct kvl_svm *pvm = kvl_snap_vm(prev, vm->pid);

	/* the same pid with another name is another VM */
	if (!pvm || strcmp(pvm->comm, vm->comm))
		return NULL;
	return pvm;
}

static int kvl_svcpu_delta(const struct kvl_svcpu *pv,
			   const struct kvl_svcpu *cv, struct kvl_svcpu *dv)
{
	u32 i;

	dv->exits = pv && cv->exits >= pv->exits ? cv->exits - pv->exits :
		    cv->exits;
	for (i = 0; i < cv->nr_hists; i++) {
		const struct kvl_shist *c = &cv->hists[i];
		const struct kvl_shist *p = pv ? kvl_svcpu_same(pv, c) : NULL;
		struct kvl_shist *d;
		struct kvl_rhist r;

		if (kvl_rhist_delta(p ? &p->h : NULL, &c->h, &r))
			return -1;
		if (!r.count) {
			kvl_rhist_free(&r);
			continue;
		}
		d = kvl_svcpu_add_hist(dv, c->kind, c->path, c->stage,
				       c->reason);
		if (!d) {
			kvl_rhist_free(&r);
			return -1;
		}
		d->h = r;
	}
	return 0;
}

/* The disk's delta into @dvm, unless nothing of it is new. */
static int kvl_sdisk_delta(const struct kvl_sdisk *pd,
			   const struct kvl_sdisk *cd, struct kvl_svm *dvm)
{
	struct kvl_rhist r[KVL_NR_PATHS][KVL_NR_DISK_STAGES];
	struct kvl_sdisk *d = NULL;
	unsigned int p, ds;
	bool any = false;

	memset(r, 0, sizeof(r));
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
			if (kvl_rhist_delta(pd ? &pd->h[p][ds] : NULL,
					    &cd->h[p][ds], &r[p][ds]))
				goto fail;
			any |= r[p][ds].count > 0;
		}
	if (any) {
		d = kvl_svm_add_disk(dvm, cd->fd);
		if (!d || kvl_sdisk_set_name(d, cd->name))
			goto fail;
	}
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
			if (d && r[p][ds].count)
				d->h[p][ds] = r[p][ds];
			else
				kvl_rhist_free(&r[p][ds]);
		}
	return 0;
fail:
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
			kvl_rhist_free(&r[p][ds]);
	return -1;
}

int kvl_snap_delta(const struct kvl_snap *prev, const struct kvl_snap *cur,
		   struct kvl_snap *delta)
{
	u32 i, j;

	kvl_snap_init(delta);
	for (i = 0; i < cur->nr_vms; i++) {
		const struct kvl_svm *vm = &cur->vms[i];
		const struct kvl_svm *pvm = kvl_prev_vm(prev, vm);
		struct kvl_svm *dvm = kvl_snap_add_vm(delta, vm->pid, vm->comm);

		if (!dvm)
			goto fail;
		for (j = 0; j < vm->nr_vcpus; j++) {
			const struct kvl_svcpu *cv = &vm->vcpus[j];
			struct kvl_svcpu *dv;

			dv = kvl_svm_add_vcpu(dvm, cv->id, cv->isa, 0);
			if (!dv || kvl_svcpu_delta(pvm ? kvl_svm_vcpu(pvm, cv->id) :
						   NULL, cv, dv))
				goto fail;
		}
		for (j = 0; j < vm->nr_disks; j++)
			if (kvl_sdisk_delta(pvm ? kvl_svm_disk(pvm, vm->disks[j].fd) :
					    NULL, &vm->disks[j], dvm))
				goto fail;
	}
	delta->version = cur->version;
	delta->has_stats = cur->has_stats;
	delta->nr_stats = cur->nr_stats;
	memcpy(delta->stats, cur->stats, sizeof(cur->stats));
	return 0;
fail:
	kvl_snap_free(delta);
	return -1;
}

/* ------------------------------------------------------------------ */
/* an in-process engine */

int kvl_rhist_from_hist(struct kvl_rhist *r, const struct kvl_hist *h)
{
	u32 i;

	memset(r, 0, sizeof(*r));
	r->count = h->count;
	r->min = h->min == U64_MAX ? 0 : h->min;
	r->max = h->max;
	r->sum = h->sum;
	r->sumsq = ((u128)h->sumsq_hi << 64) | h->sumsq_lo;
	r->negative = h->negative;
	r->overflow = h->overflow;
	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		if (h->buckets[i] && kvl_rhist_add_bucket(r, i, h->buckets[i])) {
			kvl_rhist_free(r);
			return -1;
		}
	}
	return 0;
}

/* The name format.c prints for an exit slot. */
static void kvl_exit_slot_name(char *buf, size_t size, u32 isa, u32 reason)
{
	const char *name;

	if (reason == KVL_EXIT_OTHER)
		name = "other";
	else
		name = kvl_exit_reason_name(isa, reason);
	if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "0x%x", reason);
}

static int kvl_add_engine_hist(struct kvl_svcpu *sv, u8 kind, u8 path,
			       u8 stage, const char *reason,
			       const struct kvl_hist *h)
{
	struct kvl_shist *d;
	struct kvl_rhist r;
	int ret;

	if (!h->count)
		return 0;
	if (kvl_rhist_from_hist(&r, h))
		return -1;
	d = kind == KVL_KIND_EXIT ?
	    (struct kvl_shist *)kvl_svcpu_exit(sv, reason) : NULL;
	if (d) {	/* two slots, one name: as the reader shows them */
		ret = kvl_rhist_merge(&d->h, &r);
		kvl_rhist_free(&r);
		return ret;
	}
	d = kvl_svcpu_add_hist(sv, kind, path, stage, reason);
	if (!d) {
		kvl_rhist_free(&r);
		return -1;
	}
	d->h = r;
	return 0;
}

static const char *kvl_isa_name(u32 isa)
{
	return isa == KVL_ISA_SVM ? "svm" : isa == KVL_ISA_VMX ? "vmx" :
	       "unknown";
}

static int kvl_vcpu_from_engine(struct kvl_svm *svm, const struct kvl_vcpu *v)
{
	struct kvl_svcpu *sv;
	char name[KVL_REASON_LEN];
	unsigned int k, p, s;

	sv = kvl_svm_add_vcpu(svm, v->vcpu_id, kvl_isa_name(v->isa), v->exits);
	if (!sv)
		return -1;
	for (k = 0; k < KVL_EXIT_SLOTS; k++) {
		const struct kvl_exit_slot *e = &v->stats.exits[k];

		if (!e->used)
			continue;
		kvl_exit_slot_name(name, sizeof(name), v->isa, e->reason);
		if (kvl_add_engine_hist(sv, KVL_KIND_EXIT, 0, 0, name, &e->hist))
			return -1;
	}
	/* as format.c prints them: none of a stage the path does not have */
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (s = 0; s < KVL_NR_STAGES; s++)
			if (kvl_stage_name(p, s) &&
			    kvl_add_engine_hist(sv, KVL_KIND_STAGE, p, s, "",
						&v->stats.stages[p][s]))
				return -1;
	return 0;
}

/* The disks of @vm with any histogram, as format.c prints them. */
static int kvl_disks_from_engine(struct kvl_svm *svm, const struct kvl_vm *vm)
{
	unsigned int p, ds;
	u32 i;

	for (i = 0; i < vm->nr_disks && i < KVL_DISKS; i++) {
		const struct kvl_disk *e = &vm->disks[i];
		struct kvl_sdisk *d = NULL;

		for (p = 0; p < KVL_NR_PATHS; p++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
				if (!e->hist[p][ds].count)
					continue;
				if (!d)
					d = kvl_svm_add_disk(svm, e->fd);
				if (!d || kvl_rhist_from_hist(&d->h[p][ds],
							      &e->hist[p][ds]))
					return -1;
			}
	}
	return 0;
}

struct kvl_membuf {
	char *s;
	size_t len;
	FILE *f;
};

static void kvl_membuf_printf(void *ctx, const char *fmt, ...)
{
	struct kvl_membuf *m = ctx;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(m->f, fmt, ap);
	va_end(ap);
}

static int kvl_stats_from_engine(struct kvl_snap *s, struct kvl_engine *eng,
				 u64 memory_bytes)
{
	struct kvl_membuf m = { 0 };
	struct kvl_sink out = { kvl_membuf_printf, &m };
	struct kvl_perr err;
	int ret;

	m.f = open_memstream(&m.s, &m.len);
	if (!m.f)
		return -1;
	kvl_engine_print_stats(eng, &out, memory_bytes);
	if (fclose(m.f)) {
		free(m.s);
		return -1;
	}
	ret = kvl_parse_stats(s, m.s, m.len, &err);
	free(m.s);
	return ret;
}

int kvl_snap_from_engine(struct kvl_snap *s, struct kvl_engine *eng,
			 u64 memory_bytes)
{
	u32 i, j;

	kvl_engine_flush(eng);
	kvl_snap_init(s);
	s->version = KVL_HIST_FORMAT_VERSION;
	for (i = 0; i < eng->cfg.max_vms; i++) {
		const struct kvl_vm *vm = eng->vms[i];
		struct kvl_svm *svm;

		if (!vm)
			continue;
		svm = kvl_snap_add_vm(s, vm->tgid, vm->comm[0] ? vm->comm : "-");
		if (!svm)
			goto fail;
		for (j = 0; j < vm->nr_vcpus; j++)
			if (kvl_vcpu_from_engine(svm, vm->vcpus[j]))
				goto fail;
		if (kvl_disks_from_engine(svm, vm))
			goto fail;
	}
	if (kvl_stats_from_engine(s, eng, memory_bytes))
		goto fail;
	return 0;
fail:
	kvl_snap_free(s);
	return -1;
}
