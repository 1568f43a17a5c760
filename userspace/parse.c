// SPDX-License-Identifier: GPL-2.0
/*
 * parse.c - the "hist" text (format version 5, written by
 * module/engine/format.c, or versions 1 to 4 of older modules) and the
 * "stats" text, parsed strictly:
 *
 *	# kvmio_lat hist 5
 *	# unit: ns; ...
 *	vm PID COMM vcpus N
 *	vcpu PID ID isa svm|vmx|unknown exits N
 *	exit PID ID REASON count=.. min=.. ... negative=.. overflow=..
 *	  [LO, HI) N
 *	stage PID ID PATH STAGE count=.. ...
 *	  [LO, HI) N
 *	disk PID FD PATH STAGE count=.. ...
 *	  [LO, HI) N
 *	end
 *
 * PATH is native, threads or io_uring (kvl_path_name()), in that order;
 * STAGE one of its path's (kvl_stage_name(): native and threads have no
 * complete_to_reap, so a name maps to a stage of its own path only).
 *
 * Version 5 is version 4 plus the io_uring path's "stage" and "disk"
 * lines, after native's and threads'.  Version 4 is version 3 plus a
 * disk's "io" before its submit_to_irq and total (the host's I/O alone;
 * none for a native disk whose AIO ring was not read).  Version 3 added
 * the "disk" lines, after a VM's vCPUs: per file descriptor of QEMU's (at
 * most KVL_DISKS), per path, submit_to_irq and total
 * (kvl_disk_stage_name(), the same for every path).  Version 2 is version
 * 3 without disk lines.  A line of a later version than the header's (an
 * io_uring line in version 4, an io line in version 3, a disk line in
 * version 2) is corruption, not something to skip.
 *
 * Each line is checked against what format.c can print: keywords, field
 * order, numbers without overflow, bucket bounds that are buckets of the
 * engine's layout in increasing order, stage names of their path, lines in
 * the order the module prints them, and counts that add up (see
 * kvl_torn_slack()).  Nothing is allocated that the input did not pay for.
 *
 * Version 1 differs in three ways: its "underflow=" counted 0 ns and
 * negative values and put them in no bucket (so they were left out of the
 * mean and percentiles), its bucket counters were 32-bit and could wrap,
 * and its sum wrapped.  A version 1 histogram is read into the version 2
 * model: its underflow goes into bucket [0, 1), with "negative" 0 since
 * zeros and negatives cannot be told apart; mean and percentiles then
 * count those values as zeros, as version 2 does.
 */
#include <stdlib.h>
#include <stdarg.h>

#include "parse.h"

struct kvl_parser {
	const char *p;			/* next line */
	const char *end;
	u32 line;
	struct kvl_snap *s;
	struct kvl_perr *err;

	struct kvl_svm *vm;		/* current VM */
	u32 vm_line;
	u32 vm_vcpus;			/* declared by its "vm" line */
	struct kvl_svcpu *vcpu;		/* current vCPU */
	int last_stage;			/* path * KVL_NR_STAGES + stage */
	u32 nr_exit_lines;
	bool in_disks;			/* the VM's "disk" lines have begun */
	s64 disk_fd;			/* current disk, -1 before the first */
	int last_disk_hist;		/* path * KVL_NR_DISK_STAGES + stage */
	struct kvl_rhist *rh;		/* receiving bucket lines */
	struct kvl_shist *hist;		/* rh's vCPU histogram, NULL for a disk */
	u32 hist_line;
	bool in_header;			/* only comment lines so far */
	u32 version;			/* 1 .. KVL_HIST_FORMAT_VERSION */
	u64 v1_underflow;		/* version 1: of the current histogram */
};

/* A cursor over one line. */
struct kvl_cur {
	const char *p;
	const char *end;
};

static int kvl_fail(struct kvl_parser *ps, enum kvl_perr_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int kvl_fail(struct kvl_parser *ps, enum kvl_perr_kind kind,
		    const char *fmt, ...)
{
	va_list ap;

	ps->err->kind = kind;
	ps->err->line = ps->line;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

#define kvl_corrupt(ps, ...)	kvl_fail(ps, KVL_PERR_CORRUPT, __VA_ARGS__)
#define kvl_nomem(ps)		kvl_fail(ps, KVL_PERR_NOMEM, "out of memory")

/* ------------------------------------------------------------------ */
/* tokens */

static bool kvl_lit(struct kvl_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n))
		return false;
	c->p += n;
	return true;
}

static bool kvl_at_end(const struct kvl_cur *c)
{
	return c->p == c->end;
}

/* Decimal digits, at least one, without overflow; no sign, no spaces. */
static bool kvl_u128(struct kvl_cur *c, u128 *v, u128 max)
{
	u128 x = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned int d = *c->p - '0';

		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return false;
	*v = x;
	return true;
}

static bool kvl_u64(struct kvl_cur *c, u64 *v)
{
	u128 x;

	if (!kvl_u128(c, &x, U64_MAX))
		return false;
	*v = (u64)x;
	return true;
}

static bool kvl_u32(struct kvl_cur *c, u32 *v)
{
	u128 x;

	if (!kvl_u128(c, &x, 0xffffffffu))
		return false;
	*v = (u32)x;
	return true;
}

/* A process id as the kernel hands them out: 1 .. 2^31 - 1. */
static bool kvl_pid(struct kvl_cur *c, s32 *pid)
{
	u128 x;

	if (!kvl_u128(c, &x, 0x7fffffff) || !x)
		return false;
	*pid = (s32)x;
	return true;
}

/* A word of [A-Za-z0-9_] of 1 .. @size - 1 characters. */
static bool kvl_word(struct kvl_cur *c, char *buf, size_t size)
{
	size_t n = 0;

	while (c->p < c->end && (*c->p == '_' ||
				 (*c->p >= 'a' && *c->p <= 'z') ||
				 (*c->p >= 'A' && *c->p <= 'Z') ||
				 (*c->p >= '0' && *c->p <= '9'))) {
		if (n + 1 >= size)
			return false;
		buf[n++] = *c->p++;
	}
	buf[n] = '\0';
	return n > 0;
}

/*
 * An exit reason as KVM names it: a word, or words ("PF excp", SVM's
 * exception exits), up to the " count=" that follows it.
 */
static bool kvl_reason(struct kvl_cur *c, char *buf, size_t size)
{
	const char *end = memmem(c->p, c->end - c->p, " count=", 7);
	struct kvl_cur w = { c->p, end };
	char word[KVL_REASON_LEN];
	size_t n = 0, len;

	if (!end || (size_t)(end - c->p) >= size)
		return false;
	while (w.p < w.end) {
		if (n && !kvl_lit(&w, " "))
			return false;
		if (!kvl_word(&w, word, sizeof(word)))
			return false;
		len = strlen(word);
		memcpy(buf + n, word, len);
		n += len;
		if (w.p < w.end)
			buf[n++] = ' ';
	}
	buf[n] = '\0';
	c->p = end;
	return n > 0;
}

/* ------------------------------------------------------------------ */
/* lines */

/* The next line, without its newline; false at the end of the input. */
static bool kvl_next_line(struct kvl_parser *ps, struct kvl_cur *c,
			  bool *complete)
{
	const char *nl;

	if (ps->p >= ps->end)
		return false;
	nl = memchr(ps->p, '\n', ps->end - ps->p);
	c->p = ps->p;
	c->end = nl ? nl : ps->end;
	*complete = nl != NULL;
	ps->p = nl ? nl + 1 : ps->end;
	ps->line++;
	return true;
}

static int kvl_check_bytes(struct kvl_parser *ps, const struct kvl_cur *c)
{
	if (c->end - c->p > KVL_SNAP_MAX_LINE)
		return kvl_corrupt(ps, "line longer than %d bytes",
				   KVL_SNAP_MAX_LINE);
	if (memchr(c->p, '\0', c->end - c->p))
		return kvl_corrupt(ps, "NUL byte: binary data, not text");
	return 0;
}

/* ------------------------------------------------------------------ */
/* histograms */

/*
 * Version 1 bucket counters were 32 bits and wrapped after 2^32 values in
 * one bucket: then count exceeds the buckets by a multiple of 2^32, give
 * or take in-flight updates.
 */
static bool kvl_buckets_wrapped(u64 diff, u64 count)
{
	u64 slack = kvl_torn_slack(count), rem = diff & 0xffffffffULL;

	return diff + slack >= (1ULL << 32) &&
	       (rem <= slack || rem >= (1ULL << 32) - slack);
}

static u64 kvl_count_add(u64 a, u64 b)
{
	return a + b < a ? U64_MAX : a + b;
}

/* Version 1's underflow (0 ns or negative, in no bucket) into [0, 1). */
static int kvl_hist_v1_underflow(struct kvl_parser *ps, struct kvl_rhist *h)
{
	u64 n = ps->v1_underflow;

	ps->v1_underflow = 0;
	if (!n)
		return 0;
	/* bucket lines of version 1 start at [1, 2): [0, 1) goes first */
	if (kvl_rhist_add_bucket(h, 0, n))
		return kvl_nomem(ps);
	memmove(h->b + 1, h->b, (h->nr - 1) * sizeof(*h->b));
	h->b[0].idx = 0;
	h->b[0].n = n;
	return 0;
}

/* Counts must add up; a read racing the module's writers is mended. */
static int kvl_hist_settle_count(struct kvl_parser *ps, struct kvl_rhist *h)
{
	u64 total = h->overflow, diff, zeros;
	u32 i;

	if (kvl_hist_v1_underflow(ps, h))
		return -1;
	for (i = 0; i < h->nr; i++)
		total = kvl_count_add(total, h->b[i].n);
	/* negative values are a part of bucket [0, 1) */
	zeros = h->nr && !h->b[0].idx ? h->b[0].n : 0;
	if (h->negative > zeros) {
		if (h->negative - zeros > kvl_torn_slack(h->count)) {
			ps->line = ps->hist_line;
			return kvl_corrupt(ps, "negative=%llu but bucket [0, 1) holds fewer",
					   (unsigned long long)h->negative);
		}
		h->negative = zeros;
		ps->s->torn++;
	}
	if (total == h->count)
		return 0;
	diff = total > h->count ? total - h->count : h->count - total;
	if (ps->version == 1 && h->count > total &&
	    kvl_buckets_wrapped(diff, h->count)) {
		ps->s->torn++;	/* keep the true count; buckets are as printed */
		return 0;
	}
	if (diff > kvl_torn_slack(h->count)) {
		ps->line = ps->hist_line;
		return kvl_corrupt(ps, ps->version == 1 ?
				   "count=%llu but buckets + underflow + overflow = %llu" :
				   "count=%llu but buckets + overflow = %llu",
				   (unsigned long long)h->count,
				   (unsigned long long)total);
	}
	h->count = total;
	ps->s->torn++;
	return 0;
}

static u64 kvl_clamp(u64 v, u64 lo, u64 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* min and max inside the buckets (a racing read may leave them behind). */
static void kvl_hist_settle_bounds(struct kvl_parser *ps, struct kvl_rhist *h)
{
	u64 min = h->min, max = h->max;

	if (h->nr)
		min = kvl_clamp(min, kvl_hist_bucket_lo(h->b[0].idx),
				kvl_hist_bucket_hi(h->b[0].idx) - 1);
	else if (min < KVL_HIST_MAX_NS)
		min = KVL_HIST_MAX_NS;
	if (h->overflow)
		max = max < KVL_HIST_MAX_NS ? KVL_HIST_MAX_NS : max;
	else if (h->nr)
		max = kvl_clamp(max, kvl_hist_bucket_lo(h->b[h->nr - 1].idx),
				kvl_hist_bucket_hi(h->b[h->nr - 1].idx) - 1);
	else
		max = 0;
	if (min > max)		/* one bucket, racing its first values */
		min = max;
	if (min != h->min || max != h->max) {
		ps->s->torn++;
		h->min = min;
		h->max = max;
	}
}

/* Two exit slots can print the same name (VMX flag bits): one histogram. */
static int kvl_hist_merge_same_reason(struct kvl_parser *ps,
				      struct kvl_shist *h)
{
	struct kvl_svcpu *v = ps->vcpu;
	u32 i;

	if (h->kind != KVL_KIND_EXIT)
		return 0;
	for (i = 0; i + 1 < v->nr_hists; i++) {
		if (v->hists[i].kind != KVL_KIND_EXIT ||
		    strcmp(v->hists[i].reason, h->reason))
			continue;
		if (kvl_rhist_merge(&v->hists[i].h, &h->h))
			return kvl_nomem(ps);
		kvl_rhist_free(&h->h);
		v->nr_hists--;
		break;
	}
	return 0;
}

/* A disk histogram that raced with its first value: nothing, as unprinted. */
static void kvl_disk_hist_drop(struct kvl_parser *ps, struct kvl_rhist *h)
{
	struct kvl_svm *vm = ps->vm;
	struct kvl_sdisk *d = &vm->disks[vm->nr_disks - 1];
	unsigned int p, ds;

	kvl_rhist_free(h);
	memset(h, 0, sizeof(*h));
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
			if (d->h[p][ds].count)
				return;
	free(d->name);
	vm->nr_disks--;		/* a disk without histograms is not printed */
}

/* A histogram and its bucket lines are complete. */
static int kvl_hist_finish(struct kvl_parser *ps)
{
	struct kvl_rhist *h = ps->rh;
	struct kvl_shist *sh = ps->hist;

	if (!h)
		return 0;
	ps->rh = NULL;
	ps->hist = NULL;
	if (kvl_hist_settle_count(ps, h))
		return -1;
	kvl_hist_settle_bounds(ps, h);
	if (h->count)
		return sh ? kvl_hist_merge_same_reason(ps, sh) : 0;
	/* raced with its very first value: nothing */
	if (!sh) {
		kvl_disk_hist_drop(ps, h);
		return 0;
	}
	kvl_rhist_free(h);
	ps->vcpu->nr_hists--;
	return 0;
}

#define KVL_FIELD_SUMSQ	10

static const char *const kvl_fields[] = {
	"count", "min", "max", "mean", "stddev", "p50", "p90", "p99", "p999",
	"sum", "sumsq", "negative", "overflow",
};

/* " count=N min=N ... overflow=N" up to the end of the line. */
static int kvl_parse_fields(struct kvl_parser *ps, struct kvl_cur *c,
			    struct kvl_rhist *h)
{
	u64 *dst[ARRAY_SIZE(kvl_fields)] = {
		&h->count, &h->min, &h->max, NULL, NULL, NULL, NULL, NULL,
		NULL, &h->sum, NULL, &ps->v1_underflow, &h->overflow,
	};
	unsigned int i;
	u128 v;

	if (ps->version != 1)
		dst[KVL_FIELD_SUMSQ + 1] = &h->negative;
	for (i = 0; i < ARRAY_SIZE(kvl_fields); i++) {
		u128 max = i == KVL_FIELD_SUMSQ ? ~(u128)0 : U64_MAX;
		const char *name = kvl_fields[i];

		if (ps->version == 1 && i == KVL_FIELD_SUMSQ + 1)
			name = "underflow";
		if (!kvl_lit(c, " ") || !kvl_lit(c, name) || !kvl_lit(c, "="))
			return kvl_corrupt(ps, "expected ' %s=' (the module's fields, in its order)",
					   name);
		if (!kvl_u128(c, &v, max))
			return kvl_corrupt(ps, "%s= is not a number (or too big)",
					   name);
		if (i == KVL_FIELD_SUMSQ)
			h->sumsq = v;
		else if (dst[i])
			*dst[i] = (u64)v;
		/* the others are recomputed from the buckets */
	}
	if (!kvl_at_end(c))
		return kvl_corrupt(ps, "unexpected text after overflow=");
	/* version 1 wrapped its sum: a wrap cannot be told, take it as is */
	if (!h->count)
		return kvl_corrupt(ps, "count=0: the module prints only histograms with values");
	/* a second value is counted only once the first is in min and max */
	if (h->min > h->max && h->count > 1)
		return kvl_corrupt(ps, "min=%llu is larger than max=%llu",
				   (unsigned long long)h->min,
				   (unsigned long long)h->max);
	return 0;
}

/* "PID ID " of an exit or stage line: must be the current vCPU's. */
static int kvl_parse_owner(struct kvl_parser *ps, struct kvl_cur *c,
			   const char *kind)
{
	s32 pid;
	u32 id;

	if (ps->in_disks)
		return kvl_corrupt(ps, "'%s' line after the VM's 'disk' lines", kind);
	if (!ps->vcpu)
		return kvl_corrupt(ps, "'%s' line before any 'vcpu' line", kind);
	if (!kvl_lit(c, " ") || !kvl_pid(c, &pid) || !kvl_lit(c, " ") ||
	    !kvl_u32(c, &id) || !kvl_lit(c, " "))
		return kvl_corrupt(ps, "expected '%s PID VCPU ...'", kind);
	if (pid != ps->vm->pid || id != ps->vcpu->id)
		return kvl_corrupt(ps, "'%s %d %u' inside the block of vcpu %d %u",
				   kind, pid, id, ps->vm->pid, ps->vcpu->id);
	return 0;
}

static int kvl_parse_exit(struct kvl_parser *ps, struct kvl_cur *c)
{
	char reason[KVL_REASON_LEN];
	struct kvl_shist *h;

	if (kvl_parse_owner(ps, c, "exit"))
		return -1;
	if (ps->last_stage >= 0)
		return kvl_corrupt(ps, "'exit' line after the vCPU's 'stage' lines");
	if (!kvl_reason(c, reason, sizeof(reason)))
		return kvl_corrupt(ps, "bad exit reason name");
	if (++ps->nr_exit_lines > KVL_EXIT_SLOTS)
		return kvl_corrupt(ps, "more than %d exit reasons for one vCPU",
				   KVL_EXIT_SLOTS);
	h = kvl_svcpu_add_hist(ps->vcpu, KVL_KIND_EXIT, 0, 0, reason);
	if (!h)
		return kvl_nomem(ps);
	ps->hist = h;
	ps->rh = &h->h;
	ps->hist_line = ps->line;
	return kvl_parse_fields(ps, c, &h->h);
}

static int kvl_path_index(const char *name)
{
	unsigned int p;

	for (p = 0; p < KVL_NR_PATHS; p++)
		if (!strcmp(name, kvl_path_name(p)))
			return p;
	return -1;
}

/* The stage of @path named @name; a stage @path does not have has none. */
static int kvl_stage_index(unsigned int path, const char *name)
{
	unsigned int s;

	for (s = 0; s < KVL_NR_STAGES; s++) {
		const char *sn = kvl_stage_name(path, s);

		if (sn && !strcmp(name, sn))
			return s;
	}
	return -1;
}

/* The paths format @version has: io_uring came in format 5. */
static unsigned int kvl_nr_paths(u32 version)
{
	return version >= 5 ? KVL_NR_PATHS : KVL_PATH_URING;
}

/*
 * The PATH word of a "@kind" line into @path (@size bytes): its index,
 * or -1 with the error set.  A path of a later format than the header's
 * is corruption, as a disk's io is in format 3.
 */
static int kvl_parse_path(struct kvl_parser *ps, struct kvl_cur *c,
			  const char *kind, char *path, size_t size)
{
	int p = kvl_word(c, path, size) ? kvl_path_index(path) : -1;

	if (p >= (int)kvl_nr_paths(ps->version))
		return kvl_corrupt(ps, "'%s' %s line in a format %u snapshot (%s lines are format 5)",
				   path, kind, ps->version, path);
	if (p < 0)
		return kvl_corrupt(ps, "unknown path (expected %s)",
				   ps->version >= 5 ?
				   "native, threads or io_uring" :
				   "native or threads");
	return p;
}

static int kvl_parse_stage(struct kvl_parser *ps, struct kvl_cur *c)
{
	char path[16], stage[32];
	struct kvl_shist *h;
	int p, s;

	if (kvl_parse_owner(ps, c, "stage"))
		return -1;
	p = kvl_parse_path(ps, c, "stage", path, sizeof(path));
	if (p < 0)
		return -1;
	s = kvl_lit(c, " ") && kvl_word(c, stage, sizeof(stage)) ?
	    kvl_stage_index(p, stage) : -1;
	if (s < 0)
		return kvl_corrupt(ps, "unknown stage of path %s", path);
	if (p * KVL_NR_STAGES + s <= ps->last_stage)
		return kvl_corrupt(ps, "stage %s %s out of order or repeated",
				   path, stage);
	ps->last_stage = p * KVL_NR_STAGES + s;
	h = kvl_svcpu_add_hist(ps->vcpu, KVL_KIND_STAGE, p, s, "");
	if (!h)
		return kvl_nomem(ps);
	ps->hist = h;
	ps->rh = &h->h;
	ps->hist_line = ps->line;
	return kvl_parse_fields(ps, c, &h->h);
}

/* The disk histogram @name is (kvl_disk_stage_name()), or -1. */
static int kvl_disk_hist_index(const char *name)
{
	unsigned int ds;

	for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
		if (!strcmp(name, kvl_disk_stage_name(ds)))
			return ds;
	return -1;
}

/* The first disk histogram format @version has: "io" came in format 4. */
static unsigned int kvl_first_disk_stage(u32 version)
{
	return version >= 4 ? KVL_DS_IO : KVL_DS_SUBMIT_TO_IRQ;
}

/* "io, submit_to_irq or total": the disk stages of format @version. */
static const char *kvl_disk_stage_list(u32 version, char *buf, size_t size)
{
	unsigned int first = kvl_first_disk_stage(version), ds;
	size_t n = 0;

	buf[0] = '\0';
	for (ds = first; ds < KVL_NR_DISK_STAGES && n < size; ds++)
		n += snprintf(buf + n, size - n, "%s%s",
			      ds == first ? "" :
			      ds + 1 == KVL_NR_DISK_STAGES ? " or " : ", ",
			      kvl_disk_stage_name(ds));
	return buf;
}

/* The disk of @fd: the current one, or a new one after it. */
static struct kvl_sdisk *kvl_parse_disk_of(struct kvl_parser *ps, s32 fd)
{
	struct kvl_svm *vm = ps->vm;
	struct kvl_sdisk *d = (struct kvl_sdisk *)kvl_svm_disk(vm, fd);

	if (fd == ps->disk_fd)
		return d ? d : kvl_svm_add_disk(vm, fd);
	/* the module prints a disk's histograms together, once */
	if (d) {
		kvl_corrupt(ps, "disk %d %d listed twice", vm->pid, fd);
		return NULL;
	}
	if (vm->nr_disks >= KVL_SNAP_MAX_DISKS) {
		kvl_corrupt(ps, "more than %d disks for vm %d",
			    KVL_SNAP_MAX_DISKS, vm->pid);
		return NULL;
	}
	ps->disk_fd = fd;
	ps->last_disk_hist = -1;
	d = kvl_svm_add_disk(vm, fd);
	if (!d)
		kvl_nomem(ps);
	return d;
}

/*
 * "disk PID FD PATH STAGE count=.." (version 3; STAGE io since 4, PATH
 * io_uring since 5), after the VM's vCPUs.
 */
static int kvl_parse_disk(struct kvl_parser *ps, struct kvl_cur *c)
{
	char path[16], stage[32], valid[48];
	struct kvl_sdisk *d;
	int p, ds;
	s32 pid;
	u128 fd;

	if (ps->version < 3)
		return kvl_corrupt(ps, "'disk' line in a format %u snapshot (disk lines are format 3)",
				   ps->version);
	if (!ps->vm)
		return kvl_corrupt(ps, "'disk' line before any 'vm' line");
	if (!kvl_lit(c, " ") || !kvl_pid(c, &pid) || !kvl_lit(c, " "))
		return kvl_corrupt(ps, "expected 'disk PID FD PATH STAGE ...'");
	if (!kvl_u128(c, &fd, 0x7fffffff) || !kvl_lit(c, " "))
		return kvl_corrupt(ps, "bad disk file descriptor (expected 0 to 2147483647)");
	if (pid != ps->vm->pid)
		return kvl_corrupt(ps, "'disk %d' inside the block of vm %d", pid,
				   ps->vm->pid);
	p = kvl_parse_path(ps, c, "disk", path, sizeof(path));
	if (p < 0)
		return -1;
	if (!kvl_lit(c, " ") || !kvl_word(c, stage, sizeof(stage)))
		return kvl_corrupt(ps, "expected a disk stage (%s)",
				   kvl_disk_stage_list(ps->version, valid,
						       sizeof(valid)));
	ds = kvl_disk_hist_index(stage);
	/* a stage of a later format than the header's is no less corrupt */
	if (ds >= 0 && ds < (int)kvl_first_disk_stage(ps->version))
		return kvl_corrupt(ps, "'%s' disk line in a format %u snapshot (%s lines are format 4)",
				   stage, ps->version, stage);
	if (ds < 0)
		return kvl_corrupt(ps, "stage %s is not a disk's (%s)", stage,
				   kvl_disk_stage_list(ps->version, valid,
						       sizeof(valid)));
	ps->in_disks = true;
	ps->vcpu = NULL;
	d = kvl_parse_disk_of(ps, (s32)fd);
	if (!d)
		return -1;
	if (p * KVL_NR_DISK_STAGES + ds <= ps->last_disk_hist)
		return kvl_corrupt(ps, "disk %d %d %s %s out of order or repeated",
				   pid, (s32)fd, path, stage);
	ps->last_disk_hist = p * KVL_NR_DISK_STAGES + ds;
	ps->hist = NULL;
	ps->rh = &d->h[p][ds];
	ps->hist_line = ps->line;
	return kvl_parse_fields(ps, c, ps->rh);
}

/* "  [LO, HI) N": one bucket of the histogram above. */
static int kvl_parse_bucket(struct kvl_parser *ps, struct kvl_cur *c)
{
	struct kvl_rhist *h;
	u64 lo, hi, n;
	u32 n32, idx;
	bool ok;

	if (!ps->rh)
		return kvl_corrupt(ps, "bucket line outside a histogram");
	h = ps->rh;
	ok = kvl_lit(c, "  [") && kvl_u64(c, &lo) && kvl_lit(c, ", ") &&
	     kvl_u64(c, &hi) && kvl_lit(c, ") ");
	if (ok && ps->version == 1) {	/* 32-bit counters */
		ok = kvl_u32(c, &n32);
		n = n32;
	} else if (ok) {
		ok = kvl_u64(c, &n);
	}
	if (!ok || !kvl_at_end(c))
		return kvl_corrupt(ps, "expected '  [LO, HI) COUNT'");
	/* version 1 had no bucket [0, 1): its zeros were underflow */
	if ((ps->version == 1 && !lo) || lo >= KVL_HIST_MAX_NS)
		return kvl_corrupt(ps, "bucket [%llu, %llu) is outside [%d, %llu)",
				   (unsigned long long)lo,
				   (unsigned long long)hi, ps->version == 1,
				   (unsigned long long)KVL_HIST_MAX_NS);
	idx = kvl_hist_index(lo);
	if (kvl_hist_bucket_lo(idx) != lo || kvl_hist_bucket_hi(idx) != hi)
		return kvl_corrupt(ps, "[%llu, %llu) is not a bucket of the histogram layout",
				   (unsigned long long)lo,
				   (unsigned long long)hi);
	if (h->nr && h->b[h->nr - 1].idx >= idx)
		return kvl_corrupt(ps, "bucket [%llu, %llu) out of order or repeated",
				   (unsigned long long)lo,
				   (unsigned long long)hi);
	if (!n)
		return kvl_corrupt(ps, "empty bucket: the module prints only non-empty ones");
	if (kvl_rhist_add_bucket(h, idx, n))
		return kvl_nomem(ps);
	return 0;
}

/* The current VM listed as many vCPUs as it declared. */
static int kvl_vm_finish(struct kvl_parser *ps)
{
	if (!ps->vm || ps->vm->nr_vcpus == ps->vm_vcpus)
		return 0;
	ps->line = ps->vm_line;
	return kvl_corrupt(ps, "vm %d declares %u vCPUs but lists %u",
			   ps->vm->pid, ps->vm_vcpus, ps->vm->nr_vcpus);
}

/*
 * "vm PID COMM vcpus N [exited NS]"; COMM may hold spaces, so N is found
 * from the end.
 */
static int kvl_parse_vm(struct kvl_parser *ps, struct kvl_cur *c)
{
	const char *tail = NULL, *q;
	char comm[KVL_COMM_LEN];
	struct kvl_cur nc;
	bool exited;
	u64 ago = 0;
	u32 n;
	s32 pid;

	if (!kvl_lit(c, " ") || !kvl_pid(c, &pid) || !kvl_lit(c, " "))
		return kvl_corrupt(ps, "expected 'vm PID COMM vcpus N'");
	for (q = c->p; q + 7 <= c->end; q++)
		if (!memcmp(q, " vcpus ", 7))
			tail = q;
	if (!tail || tail == c->p || tail - c->p >= KVL_COMM_LEN)
		return kvl_corrupt(ps, "expected 'vm PID COMM vcpus N' with a 1-%d byte COMM",
				   KVL_COMM_LEN - 1);
	memcpy(comm, c->p, tail - c->p);
	comm[tail - c->p] = '\0';
	nc.p = tail + 7;
	nc.end = c->end;
	if (!kvl_u32(&nc, &n))
		return kvl_corrupt(ps, "bad vCPU count in 'vm' line");
	exited = !kvl_at_end(&nc);
	if (exited && (!kvl_lit(&nc, " exited ") || !kvl_u64(&nc, &ago) ||
		       !kvl_at_end(&nc)))
		return kvl_corrupt(ps, "expected 'vm PID COMM vcpus N [exited NS]'");
	if (n > KVL_SNAP_MAX_VCPUS)
		return kvl_corrupt(ps, "%u vCPUs: more than the engine's %d",
				   n, KVL_SNAP_MAX_VCPUS);
	if (kvl_snap_vm(ps->s, pid))
		return kvl_corrupt(ps, "vm %d listed twice", pid);
	if (ps->s->nr_vms >= KVL_SNAP_MAX_VMS)
		return kvl_corrupt(ps, "more than %d VMs", KVL_SNAP_MAX_VMS);
	ps->vm = kvl_snap_add_vm(ps->s, pid, comm);
	if (!ps->vm)
		return kvl_nomem(ps);
	ps->vm->exited = exited;
	ps->vm->exited_ago_ns = ago;
	ps->vm_line = ps->line;
	ps->vm_vcpus = n;
	ps->vcpu = NULL;
	ps->in_disks = false;
	ps->disk_fd = -1;
	return 0;
}

/* "vcpu PID ID isa ISA exits N" */
static int kvl_parse_vcpu(struct kvl_parser *ps, struct kvl_cur *c)
{
	char isa[8];
	s32 pid;
	u32 id;
	u64 exits;

	if (!ps->vm)
		return kvl_corrupt(ps, "'vcpu' line before any 'vm' line");
	if (ps->in_disks)
		return kvl_corrupt(ps, "'vcpu' line after the VM's 'disk' lines");
	if (!kvl_lit(c, " ") || !kvl_pid(c, &pid) || !kvl_lit(c, " ") ||
	    !kvl_u32(c, &id) || !kvl_lit(c, " isa ") ||
	    !kvl_word(c, isa, sizeof(isa)) || !kvl_lit(c, " exits ") ||
	    !kvl_u64(c, &exits) || !kvl_at_end(c))
		return kvl_corrupt(ps, "expected 'vcpu PID VCPU isa ISA exits N'");
	if (strcmp(isa, "svm") && strcmp(isa, "vmx") && strcmp(isa, "unknown"))
		return kvl_corrupt(ps, "unknown isa '%s'", isa);
	if (pid != ps->vm->pid)
		return kvl_corrupt(ps, "vcpu of pid %d inside the block of vm %d",
				   pid, ps->vm->pid);
	if (ps->vm->nr_vcpus >= ps->vm_vcpus)
		return kvl_corrupt(ps, "more vCPUs than the %u vm %d declares",
				   ps->vm_vcpus, pid);
	if (kvl_svm_vcpu(ps->vm, id))
		return kvl_corrupt(ps, "vcpu %d %u listed twice", pid, id);
	ps->vcpu = kvl_svm_add_vcpu(ps->vm, id, isa, exits);
	if (!ps->vcpu)
		return kvl_nomem(ps);
	ps->last_stage = -1;
	ps->nr_exit_lines = 0;
	return 0;
}

/* A first line cut short: the start of "# kvmio_lat hist N". */
static bool kvl_header_prefix(const struct kvl_cur *c)
{
	static const char head[] = "# kvmio_lat hist ";
	size_t n = c->end - c->p, i;

	if (n <= sizeof(head) - 1)
		return !memcmp(c->p, head, n);
	if (memcmp(c->p, head, sizeof(head) - 1))
		return false;
	for (i = sizeof(head) - 1; i < n; i++)
		if (c->p[i] < '0' || c->p[i] > '9')
			return false;
	return true;
}

static int kvl_parse_header(struct kvl_parser *ps)
{
	struct kvl_cur c;
	bool complete;
	u32 version;

	if (!kvl_next_line(ps, &c, &complete))
		return kvl_fail(ps, KVL_PERR_EMPTY, "empty");
	if (!complete && kvl_header_prefix(&c))
		return kvl_fail(ps, KVL_PERR_TRUNCATED, "no final 'end' line");
	if (kvl_check_bytes(ps, &c) ||
	    !kvl_lit(&c, "# kvmio_lat hist ") || !kvl_u32(&c, &version) ||
	    !kvl_at_end(&c))
		return kvl_fail(ps, KVL_PERR_NOT_SNAPSHOT,
				"first line is not '# kvmio_lat hist %d'",
				KVL_HIST_FORMAT_VERSION);
	if (version < 1 || version > KVL_HIST_FORMAT_VERSION) {
		ps->err->version = version;
		return kvl_fail(ps, KVL_PERR_VERSION, "format version %u", version);
	}
	ps->version = version;
	ps->s->version = version;
	if (!complete)
		return kvl_fail(ps, KVL_PERR_TRUNCATED, "no final 'end' line");
	if (!kvl_next_line(ps, &c, &complete))
		return kvl_fail(ps, KVL_PERR_TRUNCATED, "no final 'end' line");
	if (kvl_check_bytes(ps, &c))
		return -1;
	if (!complete)
		return kvl_fail(ps, KVL_PERR_TRUNCATED, "no final 'end' line");
	if (!kvl_lit(&c, "# unit: ns;"))
		return kvl_corrupt(ps, "second line is not '# unit: ns; ...'");
	ps->in_header = true;	/* more comment lines may follow */
	return 0;
}

/* One line of the body; 1 when it was the final "end". */
static int kvl_parse_body_line(struct kvl_parser *ps, struct kvl_cur *c)
{
	if (ps->in_header && c->p < c->end && *c->p == '#')
		return 0;
	ps->in_header = false;
	if (c->end - c->p >= 3 && !memcmp(c->p, "  [", 3))
		return kvl_parse_bucket(ps, c);
	if (kvl_hist_finish(ps))
		return -1;
	if (kvl_lit(c, "exit"))
		return kvl_parse_exit(ps, c);
	if (kvl_lit(c, "stage"))
		return kvl_parse_stage(ps, c);
	if (kvl_lit(c, "vcpu"))
		return kvl_parse_vcpu(ps, c);
	/* a VM's disks and the next VM follow all of its vCPUs */
	if (kvl_vm_finish(ps))
		return -1;
	if (kvl_lit(c, "disk"))
		return kvl_parse_disk(ps, c);
	if (kvl_lit(c, "vm"))
		return kvl_parse_vm(ps, c);
	if (kvl_lit(c, "end") && kvl_at_end(c))
		return 1;
	if (c->p < c->end && *c->p == '#')
		return kvl_corrupt(ps, "comment line after the header");
	return kvl_corrupt(ps, "unexpected line (expected vm, vcpu, exit, stage, disk, a bucket or end)");
}

static int kvl_parse_body(struct kvl_parser *ps)
{
	struct kvl_cur c;
	bool complete;
	int ret;

	while (kvl_next_line(ps, &c, &complete)) {
		if (kvl_check_bytes(ps, &c))
			return -1;
		if (!complete && !(c.end - c.p == 3 && !memcmp(c.p, "end", 3)))
			break;	/* cut inside a line */
		ret = kvl_parse_body_line(ps, &c);
		if (ret < 0)
			return -1;
		if (ret == 1 && ps->p != ps->end) {
			ps->line++;
			return kvl_corrupt(ps, "text after the final 'end' line");
		}
		if (ret == 1)
			return 0;
	}
	return kvl_fail(ps, KVL_PERR_TRUNCATED, "no final 'end' line");
}

int kvl_parse_hist(struct kvl_snap *s, const char *buf, size_t len,
		   struct kvl_perr *err)
{
	struct kvl_parser ps = {
		.p = buf, .end = buf + len, .s = s, .err = err,
		.last_stage = -1, .disk_fd = -1, .last_disk_hist = -1,
	};

	memset(err, 0, sizeof(*err));
	if (len > KVL_SNAP_MAX_BYTES)
		return kvl_fail(&ps, KVL_PERR_TOO_BIG, "larger than %u MiB",
				KVL_SNAP_MAX_BYTES >> 20);
	if (kvl_parse_header(&ps) || kvl_parse_body(&ps)) {
		kvl_snap_free(s);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* stats */

static int kvl_parse_stat_line(struct kvl_parser *ps, struct kvl_cur *c)
{
	struct kvl_snap *s = ps->s;
	char name[KVL_STAT_NAME_LEN];
	u64 v;
	u32 i;

	if (!kvl_word(c, name, sizeof(name)) || !kvl_lit(c, ": ") ||
	    !kvl_u64(c, &v) || !kvl_at_end(c))
		return kvl_corrupt(ps, "expected 'name: number'");
	for (i = 0; i < s->nr_stats; i++)
		if (!strcmp(s->stats[i].name, name))
			return kvl_corrupt(ps, "'%s' listed twice", name);
	if (s->nr_stats >= KVL_SNAP_MAX_STATS)
		return kvl_corrupt(ps, "more than %d counters", KVL_SNAP_MAX_STATS);
	memcpy(s->stats[s->nr_stats].name, name, sizeof(name));
	s->stats[s->nr_stats++].value = v;
	return 0;
}

int kvl_parse_stats(struct kvl_snap *s, const char *buf, size_t len,
		    struct kvl_perr *err)
{
	struct kvl_parser ps = { .p = buf, .end = buf + len, .s = s, .err = err };
	struct kvl_cur c;
	bool complete;

	memset(err, 0, sizeof(*err));
	s->nr_stats = 0;
	s->has_stats = false;
	if (!len)
		return kvl_fail(&ps, KVL_PERR_EMPTY, "empty");
	if (len > 64 * KVL_SNAP_MAX_LINE)
		return kvl_fail(&ps, KVL_PERR_TOO_BIG, "too big for a stats file");
	while (kvl_next_line(&ps, &c, &complete)) {
		if (kvl_check_bytes(&ps, &c))
			goto fail;
		if (!complete) {
			kvl_fail(&ps, KVL_PERR_TRUNCATED, "last line cut short");
			goto fail;
		}
		if (kvl_parse_stat_line(&ps, &c))
			goto fail;
	}
	s->has_stats = true;
	return 0;
fail:
	s->nr_stats = 0;
	return -1;
}
