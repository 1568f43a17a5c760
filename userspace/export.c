// SPDX-License-Identifier: GPL-2.0
/*
 * export.c - snapshots as OpenMetrics text with classic histograms, or
 * the Prometheus text format 0.0.4 (--prometheus; see export.h and
 * kvmio-lat(8), EXPORT): families kvmio_lat_stage_seconds,
 * kvmio_lat_disk_seconds, kvmio_lat_exit_seconds, kvmio_lat_vm_exited,
 * then the stats file's counters and gauges, then (OpenMetrics) "# EOF".
 *
 * Every name here is kvl_om_* or kvl_export_*: the reader's tests include
 * the userspace sources in one file, so statics must not collide.
 */
#include <stdlib.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "export.h"
#include "outfile.h"
#include "output.h"
#include "source.h"

/* ------------------------------------------------------------------ */
/* bounds */

/*
 * The bound nearest @ns that is exact: E - 1 ns for a bucket edge E (the
 * lower bound of a bucket, or 2^37 ns, the end of the last one).  Ties go
 * to the lower one.  Edge 0 would give -1 ns, so the smallest is 0 ns.
 */
static u64 kvl_om_nearest_le(double ns)
{
	u64 best = 0, e;
	unsigned int i;

	for (i = 2; i <= KVL_HIST_NBUCKETS; i++) {
		e = i < KVL_HIST_NBUCKETS ? kvl_hist_bucket_lo(i) : KVL_HIST_MAX_NS;
		if (fabs((double)(e - 1) - ns) < fabs((double)best - ns))
			best = e - 1;
	}
	return best;
}

/* 1, 2.5 and 5 x 10^k seconds from 1 us to 10 s, as the Prometheus habit is */
static const double kvl_om_default_s[] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
};

void kvl_export_opts_init(struct kvl_export_opts *o)
{
	unsigned int i;
	u64 le;

	memset(o, 0, sizeof(*o));
	kvl_filter_init(&o->f);
	o->f.exits = true;
	for (i = 0; i < ARRAY_SIZE(kvl_om_default_s); i++) {
		le = kvl_om_nearest_le(kvl_om_default_s[i] * 1e9);
		if (!o->nr_bounds || o->le[o->nr_bounds - 1] != le)
			o->le[o->nr_bounds++] = le;
	}
}

int kvl_export_parse_buckets(struct kvl_export_opts *o, const char *arg,
			     char *msg, size_t size)
{
	u64 le[KVL_EXPORT_MAX_BOUNDS], l;
	const char *p = arg;
	double v, prev = -1;
	u32 n = 0, listed = 0;
	char *end;

	for (;;) {
		int len = (int)strcspn(p, ",");

		errno = 0;
		v = strtod(p, &end);
		if (!len || end != p + len || errno || !isfinite(v)) {
			snprintf(msg, size, "--buckets wants bounds in seconds separated by commas (+Inf is always there), not '%.*s'",
				 len, p);
			return -1;
		}
		if (v < 0) {
			snprintf(msg, size, "--buckets: %.*s is negative", len, p);
			return -1;
		}
		if (v <= prev) {
			snprintf(msg, size, "--buckets: bounds go in ascending order: %.*s after %g",
				 len, p, prev);
			return -1;
		}
		if (v * 1e9 > (double)KVL_HIST_MAX_NS) {
			snprintf(msg, size, "--buckets: %.*s s is beyond the module's last bucket (137.438953472 s)",
				 len, p);
			return -1;
		}
		if (++listed > KVL_EXPORT_MAX_BOUNDS) {
			snprintf(msg, size, "--buckets: more than %d bounds",
				 KVL_EXPORT_MAX_BOUNDS);
			return -1;
		}
		/* two bounds that round to one edge are one bucket */
		l = kvl_om_nearest_le(v * 1e9);
		if (!n || le[n - 1] != l)
			le[n++] = l;
		prev = v;
		if (!*end)
			break;
		p = end + 1;
	}
	memcpy(o->le, le, n * sizeof(le[0]));
	o->nr_bounds = n;
	return 0;
}

/* Select stage @name: stage histograms of every path that has it, disks'. */
static bool kvl_om_select_stage(struct kvl_export_opts *o, const char *name,
				size_t len)
{
	unsigned int p, s;
	bool any = false;
	const char *n;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		for (s = 0; s < KVL_NR_STAGES; s++) {
			n = kvl_stage_name(p, s);
			if (n && strlen(n) == len && !memcmp(n, name, len)) {
				o->stage_mask[p] |= 1u << s;
				any = true;
			}
		}
	}
	for (s = 0; s < KVL_NR_DISK_STAGES; s++) {
		n = kvl_disk_stage_name(s);
		if (strlen(n) == len && !memcmp(n, name, len)) {
			o->disk_mask |= 1u << s;
			any = true;
		}
	}
	return any;
}

/* Every stage name, each once, in path order, then the disks'. */
static void kvl_om_stage_names(char *buf, size_t size)
{
	const char *seen[KVL_NR_PATHS * KVL_NR_STAGES + KVL_NR_DISK_STAGES];
	unsigned int nr = 0, p, s, i;
	size_t len = 0;

	for (p = 0; p < KVL_NR_PATHS; p++)
		for (s = 0; s < KVL_NR_STAGES; s++)
			if (kvl_stage_name(p, s))
				seen[nr++] = kvl_stage_name(p, s);
	for (s = 0; s < KVL_NR_DISK_STAGES; s++)
		seen[nr++] = kvl_disk_stage_name(s);
	buf[0] = '\0';
	for (s = 0; s < nr && len < size; s++) {
		for (i = 0; i < s && strcmp(seen[i], seen[s]); i++)
			;
		if (i == s)
			len += snprintf(buf + len, size - len, "%s%s",
					len ? ", " : "", seen[s]);
	}
}

int kvl_export_parse_stages(struct kvl_export_opts *o, const char *arg,
			    char *msg, size_t size)
{
	const char *p = arg;
	char names[256];

	memset(o->stage_mask, 0, sizeof(o->stage_mask));
	o->disk_mask = 0;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (!kvl_om_select_stage(o, p, len)) {
			kvl_om_stage_names(names, sizeof(names));
			snprintf(msg, size, "--stages: no stage '%.*s' (stages: %s)",
				 (int)len, p, names);
			return -1;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	o->stages_set = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* numbers */

/*
 * An le as OpenMetrics' canonical numbers are written (Go's %g of the
 * shortest float that reads back the same, ".0" added to a whole
 * number): "9.91e-07", "0.000100351", "1.0".  Made from the digits of
 * @ns, without a float: a bound has at most 12 significant digits, so its
 * decimal value is the float's shortest form.
 */
const char *kvl_export_le(char *buf, size_t size, u64 ns)
{
	char d[24];
	int k, nd, dp, exp, i;
	size_t n = 0;

	if (!ns) {
		snprintf(buf, size, "0.0");
		return buf;
	}
	k = snprintf(d, sizeof(d), "%llu", (unsigned long long)ns);
	nd = k;
	while (nd > 1 && d[nd - 1] == '0')
		nd--;
	d[nd] = '\0';
	dp = k - 9;		/* ns * 10^-9 = 0.DIGITS * 10^dp */
	exp = dp - 1;
	if (exp < -4 || exp >= 6) {	/* Go: %e below 1e-4 and from 1e6 */
		n = snprintf(buf, size, "%c%s%s", d[0], nd > 1 ? "." : "", d + 1);
		if (n < size)
			snprintf(buf + n, size - n, "e%c%02d", exp < 0 ? '-' : '+',
				 exp < 0 ? -exp : exp);
		return buf;
	}
	if (dp <= 0) {
		n = snprintf(buf, size, "0.");
		for (i = 0; i < -dp && n + 1 < size; i++)
			buf[n++] = '0';
		snprintf(buf + n, size - n, "%s", d);
		return buf;
	}
	for (i = 0; i < dp && n + 1 < size; i++)
		buf[n++] = i < nd ? d[i] : '0';
	snprintf(buf + n, size - n, ".%s", nd > dp ? d + dp : "0");
	return buf;
}

/* @ns as seconds, exactly, with a decimal point: "35.069688", "0.0". */
static void kvl_om_seconds(FILE *out, u128 ns)
{
	u128 whole = ns / 1000000000u;
	u32 frac = (u32)(ns % 1000000000u);
	char digits[48], *p = digits + sizeof(digits) - 1;
	char f[16];
	int n;

	*p = '\0';
	do {
		*--p = (char)('0' + (int)(whole % 10));
		whole /= 10;
	} while (whole);
	n = snprintf(f, sizeof(f), "%09u", frac);
	while (n > 1 && f[n - 1] == '0')
		f[--n] = '\0';
	fprintf(out, "%s.%s", p, f);
}

/* ------------------------------------------------------------------ */
/* labels */

#define KVL_OM_LABELS	16384	/* a disk name is < 4096 bytes: 3 times that */

struct kvl_om_labels {
	size_t n;
	char buf[KVL_OM_LABELS];
};

/*
 * name="value", escaped as OpenMetrics says (backslash, double quote,
 * newline); bytes that are not UTF-8 (a file name may hold any) become
 * U+FFFD, since an exposition must be UTF-8.  A value too long for the
 * buffer is cut at a character, never inside an escape, and leaves the
 * short labels after it their room (a disk name is at most 4095 bytes, 3
 * times that escaped: no real one is cut).
 */
static void kvl_om_label(struct kvl_om_labels *l, const char *name,
			 const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t end = sizeof(l->buf) - 8;	/* an escape, '"', '\0' */
	size_t room = sizeof(l->buf) - 512;
	char *b = l->buf;

	if (l->n + strlen(name) + 16 > end)
		return;
	l->n += sprintf(b + l->n, "%s%s=\"", l->n ? "," : "", name);
	if (room < l->n + 128)
		room = l->n + 128 < end ? l->n + 128 : end;
	while (*s && l->n < room) {
		int n = *s < 0x80 ? 1 : kvl_utf8_len(s);

		if (*s == '\\' || *s == '"') {
			b[l->n++] = '\\';
			b[l->n++] = (char)*s++;
		} else if (*s == '\n') {
			b[l->n++] = '\\';
			b[l->n++] = 'n';
			s++;
		} else if (n) {
			memcpy(b + l->n, s, n);
			l->n += n;
			s += n;
		} else {
			memcpy(b + l->n, "\xef\xbf\xbd", 3);
			l->n += 3;
			s++;
		}
	}
	b[l->n++] = '"';
	b[l->n] = '\0';
}

static void kvl_om_label_num(struct kvl_om_labels *l, const char *name,
			     long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	kvl_om_label(l, name, num);
}

/* ------------------------------------------------------------------ */
/* VM names */

/* QEMU's option syntax: items split at ',', ",," a literal comma. */
static const char *kvl_om_opt_item(const char *p, const char *end,
				   char *buf, size_t size)
{
	size_t n = 0;

	while (p < end && *p) {
		if (*p == ',' && (p + 1 >= end || p[1] != ','))
			break;
		if (n + 1 < size)
			buf[n++] = *p;
		p += *p == ',' ? 2 : 1;
	}
	buf[n] = '\0';
	return p < end && *p == ',' ? p + 1 : NULL;
}

void kvl_export_vm_name(const char *cmdline, size_t len, char *buf,
			size_t size)
{
	const char *p = cmdline, *end = cmdline + len, *arg, *q, *vend;
	char item[KVL_EXPORT_VM_NAME + 8];
	bool first;

	buf[0] = '\0';
	while (p < end) {
		arg = p;
		p += strnlen(p, end - p) + 1;
		if ((strcmp(arg, "-name") && strcmp(arg, "--name")) || p >= end)
			continue;
		/* the last -name wins, as QEMU takes it; guest= or implied */
		vend = p + strnlen(p, end - p);
		for (q = p, first = true; q; first = false) {
			q = kvl_om_opt_item(q, vend, item, sizeof(item));
			if (!strncmp(item, "guest=", 6))
				snprintf(buf, size, "%s", item + 6);
			else if (first && !strchr(item, '='))
				snprintf(buf, size, "%s", item);
		}
	}
}

void kvl_export_names_free(struct kvl_export_names *n)
{
	free(n->e);
	memset(n, 0, sizeof(*n));
}

static struct kvl_export_name *kvl_om_cached(struct kvl_export_names *n,
					     const struct kvl_svm *vm)
{
	u32 i;

	for (i = 0; n && i < n->nr; i++)
		if (n->e[i].pid == vm->pid && !strcmp(n->e[i].comm, vm->comm))
			return &n->e[i];
	return NULL;
}

static int kvl_om_remember(struct kvl_export_names *n,
			   const struct kvl_svm *vm, const char *name)
{
	struct kvl_export_name *e = kvl_om_cached(n, vm);

	if (!n)
		return 0;
	if (!e) {
		if (n->nr == n->cap) {
			u32 cap = n->cap ? 2 * n->cap : 16;

			e = realloc(n->e, cap * sizeof(*e));
			if (!e)
				return -1;
			n->e = e;
			n->cap = cap;
		}
		e = &n->e[n->nr++];
		e->pid = vm->pid;
		snprintf(e->comm, sizeof(e->comm), "%s", vm->comm);
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	return 0;
}

/*
 * The vm label of each VM of @s into @vm[]: live, a running VM's -name
 * from /proc/PID/cmdline, an exited one's as it was read while it ran (by
 * this process: "export --every"); "" when not known (a saved snapshot,
 * whose process ids may be others' now).  @names keeps the VMs of @s only.
 */
static int kvl_om_vm_names(const struct kvl_snap *s, bool live,
			   struct kvl_export_names *names,
			   char (*vm)[KVL_EXPORT_VM_NAME])
{
	const struct kvl_export_name *e;
	char path[64], *buf;
	size_t len;
	u32 i, j, k;

	for (i = 0; i < s->nr_vms && live; i++) {
		const struct kvl_svm *v = &s->vms[i];

		if (v->exited) {
			e = kvl_om_cached(names, v);
			snprintf(vm[i], KVL_EXPORT_VM_NAME, "%s", e ? e->name : "");
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/cmdline", v->pid);
		if (kvl_read_file(path, 1 << 20, &buf, &len)) {
			/* exiting, not yet exited for the module: as it was */
			e = kvl_om_cached(names, v);
			snprintf(vm[i], KVL_EXPORT_VM_NAME, "%s", e ? e->name : "");
			continue;
		}
		kvl_export_vm_name(buf, len, vm[i], KVL_EXPORT_VM_NAME);
		free(buf);
		if (kvl_om_remember(names, v, vm[i]))
			return -1;
	}
	for (j = k = 0; names && j < names->nr; j++) {
		for (i = 0; i < s->nr_vms; i++)
			if (s->vms[i].pid == names->e[j].pid &&
			    !strcmp(s->vms[i].comm, names->e[j].comm))
				break;
		if (i < s->nr_vms)
			names->e[k++] = names->e[j];
	}
	if (names)
		names->nr = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* families */

struct kvl_om {
	FILE *out;
	const struct kvl_snap *s;
	const struct kvl_export_opts *o;
	char (*vm)[KVL_EXPORT_VM_NAME];	/* vm label of each VM of s */
	struct kvl_svcpu *all;		/* --no-vcpu: each VM's vCPUs merged */
	const char *family;		/* the one being written */
	bool started;			/* its metadata written */
	struct kvl_om_labels l;
};

struct kvl_om_family {
	const char *name;
	const char *type;
	const char *unit;		/* NULL: none */
	const char *help;
};

static const struct kvl_om_family kvl_om_stage_family = {
	"kvmio_lat_stage_seconds", "histogram", "seconds",
	"Block request latency of QEMU-KVM guests by VM, vCPU (the one that rang the doorbell), I/O path and stage, from the kvmio_lat module's histograms.",
};

static const struct kvl_om_family kvl_om_disk_family = {
	"kvmio_lat_disk_seconds", "histogram", "seconds",
	"Block request latency of QEMU-KVM guests by VM, disk (QEMU's file descriptor), I/O path and stage: io (the host's I/O), submit_to_irq, total.",
};

static const struct kvl_om_family kvl_om_exit_family = {
	"kvmio_lat_exit_seconds", "histogram", "seconds",
	"Latency of VM exits by VM, vCPU and exit reason, from kvm_exit to the vCPU's next kvm_entry.",
};

static const struct kvl_om_family kvl_om_exited_family = {
	"kvmio_lat_vm_exited", "gauge", NULL,
	"1 for a VM whose QEMU process exited, kept by kvmio_lat with its histograms until a reset or until its slot is needed; 0 for a running one.",
};

static void kvl_om_metadata(FILE *out, const struct kvl_om_family *f,
			    bool prometheus)
{
	fprintf(out, "# TYPE %s %s\n", f->name, f->type);
	if (f->unit && !prometheus)
		fprintf(out, "# UNIT %s %s\n", f->name, f->unit);
	fprintf(out, "# HELP %s %s\n", f->name, f->help);
}

/* Metadata before a family's first series: a family without any has none. */
static void kvl_om_series(struct kvl_om *om, const struct kvl_om_family *f)
{
	if (om->started && om->family == f->name)
		return;
	om->family = f->name;
	om->started = true;
	kvl_om_metadata(om->out, f, om->o->prometheus);
}

/*
 * One histogram, om->l its labels.  Values are whole nanoseconds and
 * bucket i holds [lo, hi), so its values are lo .. hi - 1.  Each bound is
 * le = E - 1 ns for an edge E of the layout (kvl_om_nearest_le()): a
 * bucket is counted when hi - 1 <= le, i.e. hi <= E, and then all its
 * values are <= le; any other has lo >= E (E is an edge), so all its
 * values are > le.  The count is thus exactly the values <= le, as
 * Prometheus reads le.  (A bound of E itself would not be: a value of E
 * ns is in the bucket that starts at E with values above E.)  +Inf is the
 * count, overflow (>= 2^37 ns, in no bucket) included; the sum leaves the
 * overflow out, as the module does, and a saturated sum is replaced by
 * the reader's estimate of the mean from the buckets (kvl_rhist_summary())
 * times the values in range.
 */
static void kvl_om_hist(struct kvl_om *om, const struct kvl_om_family *f,
			const struct kvl_rhist *h)
{
	const struct kvl_export_opts *o = om->o;
	FILE *out = om->out;
	u128 cum = 0, sum = h->sum;
	char le[32];
	u32 i = 0, j;

	kvl_om_series(om, f);
	for (j = 0; j < o->nr_bounds; j++) {
		while (i < h->nr && kvl_hist_bucket_hi(h->b[i].idx) - 1 <= o->le[j])
			cum += h->b[i++].n;
		/* above count only if merged counters saturated at 2^64 */
		fprintf(out, "%s_bucket{%s,le=\"%s\"} %llu\n", f->name, om->l.buf,
			kvl_export_le(le, sizeof(le), o->le[j]),
			(unsigned long long)(cum < h->count ? cum : h->count));
	}
	fprintf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", f->name, om->l.buf,
		(unsigned long long)h->count);
	fprintf(out, "%s_count{%s} %llu\n", f->name, om->l.buf,
		(unsigned long long)h->count);
	if (h->sum == KVL_HIST_SUM_SAT) {
		struct kvl_summary m;
		u64 n = h->overflow > h->count ? 0 : h->count - h->overflow;

		kvl_rhist_summary(h, &m);
		sum = (u128)(u64)m.mean * n;
	}
	fprintf(out, "%s_sum{%s} ", f->name, om->l.buf);
	kvl_om_seconds(out, sum);
	fputc('\n', out);
}

/* pid, vm: the labels every VM's series start with. */
static void kvl_om_vm_labels(struct kvl_om *om, u32 vm)
{
	om->l.n = 0;
	om->l.buf[0] = '\0';
	kvl_om_label_num(&om->l, "pid", om->s->vms[vm].pid);
	kvl_om_label(&om->l, "vm", om->vm[vm]);
}

static bool kvl_om_stage_on(const struct kvl_export_opts *o, unsigned int p,
			    unsigned int s)
{
	return kvl_stage_name(p, s) && (o->f.path < 0 || o->f.path == (int)p) &&
	       (!o->stages_set || o->stage_mask[p] & (1u << s));
}

/* The stages of @v (a vCPU, or @vm's merge without a vcpu label). */
static void kvl_om_stages(struct kvl_om *om, u32 vm,
			  const struct kvl_svcpu *v, bool vcpu)
{
	const struct kvl_shist *h;
	unsigned int p, s;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		for (s = 0; s < KVL_NR_STAGES; s++) {
			h = kvl_svcpu_stage(v, p, s);
			if (!kvl_om_stage_on(om->o, p, s) || !h || !h->h.count)
				continue;
			kvl_om_vm_labels(om, vm);
			if (vcpu)
				kvl_om_label_num(&om->l, "vcpu", v->id);
			kvl_om_label(&om->l, "path", kvl_path_name(p));
			kvl_om_label(&om->l, "stage", kvl_stage_name(p, s));
			kvl_om_hist(om, &kvl_om_stage_family, &h->h);
		}
	}
}

static void kvl_om_exits(struct kvl_om *om, u32 vm,
			 const struct kvl_svcpu *v, bool vcpu)
{
	u32 i;

	for (i = 0; i < v->nr_hists; i++) {
		const struct kvl_shist *h = &v->hists[i];

		if (h->kind != KVL_KIND_EXIT || !h->h.count)
			continue;
		kvl_om_vm_labels(om, vm);
		if (vcpu)
			kvl_om_label_num(&om->l, "vcpu", v->id);
		kvl_om_label(&om->l, "reason", h->reason);
		kvl_om_label(&om->l, "isa", v->isa);
		kvl_om_hist(om, &kvl_om_exit_family, &h->h);
	}
}

/* Disks are per VM: --vcpu selects their VM only, --path their paths. */
static void kvl_om_disks(struct kvl_om *om, u32 vm)
{
	const struct kvl_export_opts *o = om->o;
	const struct kvl_svm *v = &om->s->vms[vm];
	unsigned int p, ds;
	char label[32];
	u32 i;

	for (i = 0; i < v->nr_disks; i++) {
		const struct kvl_sdisk *d = &v->disks[i];

		snprintf(label, sizeof(label), "fd %d", d->fd);
		for (p = 0; p < KVL_NR_PATHS; p++) {
			if (o->f.path >= 0 && o->f.path != (int)p)
				continue;
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
				if (!d->h[p][ds].count ||
				    (o->stages_set && !(o->disk_mask & (1u << ds))))
					continue;
				kvl_om_vm_labels(om, vm);
				/* fd too: two descriptors may name one file */
				kvl_om_label_num(&om->l, "fd", d->fd);
				kvl_om_label(&om->l, "disk",
					     d->name && *d->name ? d->name : label);
				kvl_om_label(&om->l, "path", kvl_path_name(p));
				kvl_om_label(&om->l, "stage",
					     kvl_disk_stage_name(ds));
				kvl_om_hist(om, &kvl_om_disk_family, &d->h[p][ds]);
			}
		}
	}
}

/* One histogram family over every selected VM; families never interleave. */
static void kvl_om_vcpu_family(struct kvl_om *om, bool exits)
{
	const struct kvl_snap *s = om->s;
	u32 i, j;

	for (i = 0; i < s->nr_vms; i++) {
		const struct kvl_svm *vm = &s->vms[i];

		if (!kvl_filter_vm(&om->o->f, vm))
			continue;
		if (om->o->no_vcpu) {
			if (exits)
				kvl_om_exits(om, i, &om->all[i], false);
			else
				kvl_om_stages(om, i, &om->all[i], false);
			continue;
		}
		for (j = 0; j < vm->nr_vcpus; j++) {
			if (!kvl_filter_vcpu(&om->o->f, &vm->vcpus[j]))
				continue;
			if (exits)
				kvl_om_exits(om, i, &vm->vcpus[j], true);
			else
				kvl_om_stages(om, i, &vm->vcpus[j], true);
		}
	}
}

/* ------------------------------------------------------------------ */
/* the stats file */

/*
 * The module's stats (module/engine/format.c, module/debugfs.c,
 * Documentation/output.rst): levels are gauges, the rest counters, which
 * only a reset takes back to 0.  A name not listed here (a newer module)
 * is "unknown": its kind cannot be told.
 */
static const struct kvl_om_stat {
	const char *name;
	bool gauge;
	const char *help;
} kvl_om_stats[] = {
	{ "vms", true, "VMs (QEMU processes) tracked now, running." },
	{ "vms_exited", true, "VMs whose process exited, kept with their histograms." },
	{ "vcpus", true, "vCPUs of the running VMs." },
	{ "inflight", true,
	  "Requests between their submission and the guest entry that ends them." },
	{ "memory_bytes", true, "Memory the module holds, in whole pages." },
	{ "enabled", true, "1 while the module's probes run." },
	{ "kvm_attached", true, "1 while kvm.ko's tracepoints are attached." },
	{ "syscall_probes", true, "1 while the system-call probes are attached." },
	{ "syscall_hooks_filtered", true,
	  "System-call kretprobes attached now whose kprobe asks the VM filter first." },
	{ "dropped", false,
	  "Things a cap refused: dropped_vms + dropped_vcpus + dropped_threads + dropped_requests + dropped_doorbells." },
	{ "unmatched", false, "submits_unmatched + irqs_unmatched." },
	{ "events", false, "Exits and entries of tracked vCPUs plus I/O events of tracked VMs." },
	{ "io_events", false, "I/O events handed to tracked VMs." },
	{ "requests", false, "Requests completed and recorded." },
	{ "dropped_vms", false, "VMs not tracked: no room." },
	{ "dropped_vcpus", false, "vCPUs not tracked: no room." },
	{ "dropped_threads", false, "Threads not tracked: no room." },
	{ "dropped_requests", false, "Requests not tracked: no room." },
	{ "dropped_doorbells", false, "Doorbells dropped: their vCPU's ring was full." },
	{ "mailbox_full", false,
	  "Times a vCPU's mailbox was full and the completing thread recorded its requests (nothing lost)." },
	{ "doorbells_userspace", false, "Doorbells withdrawn: QEMU handled the write itself." },
	{ "doorbells_expired", false, "Doorbells gone stale without I/O." },
	{ "doorbells_skipped", false, "Doorbells passed over for a known doorbell address." },
	{ "doorbells_shared", false, "Submissions that shared the last doorbell." },
	{ "submits_unmatched", false, "I/O with no doorbell to attribute it to." },
	{ "irqs_unmatched", false, "Interrupts with no finished request." },
	{ "requests_expired", false, "Requests never completed by an interrupt." },
	{ "lost_events", false, "Event streams that did not make sense." },
	{ "requests_posted", false, "Recorded requests whose interrupt was posted (APICv, AVIC)." },
	{ "requests_injected", false,
	  "Recorded requests whose interrupt was injected (kvm_inj_virq)." },
	{ "requests_stale", false, "Requests rung before a reset or re-enable, not recorded." },
	{ "doorbells_ignored", false, "Doorbells at an address no I/O followed, not kept." },
	{ "requests_without_irq", false,
	  "Requests without an interrupt of their own within irq_timeout_ms, not recorded." },
	{ "doorbells_unwatched", false,
	  "Doorbells rung before the system-call probes were attached." },
	{ "dropped_disk_requests", false,
	  "Recorded requests of a disk beyond a VM's 8, in no disk's histograms." },
	{ "requests_without_disk", false,
	  "Recorded requests whose file descriptor was not known, in no disk's histograms." },
	{ "irqs_bound", false, "MSIs (vCPU, vector) learnt as one disk's." },
	{ "irq_bindings_forgotten", false,
	  "Times a VM's interrupt bindings were dropped to be learnt again." },
	{ "requests_by_used_ring", false,
	  "Recorded requests whose interrupt their virtqueue's used ring decided." },
	{ "requests_by_block", false, "Of those, requests a used element named by their block." },
	{ "syscall_hooks_missed", false,
	  "System-call returns not seen (kretprobe instances in use) and entries a kprobe skipped, since load." },
};

static void kvl_om_stat(FILE *out, const struct kvl_stat *st, bool prometheus)
{
	const struct kvl_om_stat *k = NULL;
	const char *sample, *family;
	char name[64], help[96];
	unsigned int i;

	snprintf(name, sizeof(name), "kvmio_lat_%s", st->name);
	/* a name of ours, or one of our samples': never two families */
	if (!strncmp(name, "kvmio_lat_stage_seconds", 23) ||
	    !strncmp(name, "kvmio_lat_disk_seconds", 22) ||
	    !strncmp(name, "kvmio_lat_exit_seconds", 22) ||
	    !strncmp(name, "kvmio_lat_vm_exited", 19))
		return;
	for (i = 0; i < ARRAY_SIZE(kvl_om_stats); i++)
		if (!strcmp(kvl_om_stats[i].name, st->name))
			k = &kvl_om_stats[i];
	if (!k) {
		snprintf(help, sizeof(help), "The module's stat %s.", st->name);
		fprintf(out, "# TYPE %s %s\n# HELP %s %s\n%s %llu\n", name,
			prometheus ? "untyped" : "unknown", name, help, name,
			(unsigned long long)st->value);
		return;
	}
	/* a counter's sample is NAME_total; the text format's family too */
	sample = k->gauge ? "" : "_total";
	family = prometheus ? sample : "";
	fprintf(out, "# TYPE %s%s %s\n", name, family,
		k->gauge ? "gauge" : "counter");
	if (!strcmp(st->name, "memory_bytes") && !prometheus)
		fprintf(out, "# UNIT %s bytes\n", name);
	fprintf(out, "# HELP %s%s %s\n%s%s %llu\n", name, family, k->help,
		name, sample, (unsigned long long)st->value);
}

/* ------------------------------------------------------------------ */
/* the exposition */

int kvl_export_openmetrics(FILE *out, const struct kvl_snap *s,
			   const struct kvl_export_opts *o,
			   struct kvl_export_names *names)
{
	struct kvl_om *om = calloc(1, sizeof(*om));
	int ret = -1;
	u32 i;

	if (!om)
		return -1;
	om->out = out;
	om->s = s;
	om->o = o;
	om->vm = calloc(s->nr_vms + 1, sizeof(*om->vm));
	om->all = calloc(s->nr_vms + 1, sizeof(*om->all));
	if (!om->vm || !om->all ||
	    kvl_om_vm_names(s, o->live, names, om->vm))
		goto out;
	for (i = 0; i < s->nr_vms && o->no_vcpu; i++) {
		om->all[i].id = KVL_VCPU_ALL;
		if (kvl_filter_vm(&o->f, &s->vms[i]) &&
		    kvl_svm_merge_vcpus(&s->vms[i], &o->f, &om->all[i]))
			goto out;
	}
	kvl_om_vcpu_family(om, false);
	for (i = 0; i < s->nr_vms; i++)
		if (kvl_filter_vm(&o->f, &s->vms[i]))
			kvl_om_disks(om, i);
	kvl_om_vcpu_family(om, true);
	for (i = 0; i < s->nr_vms; i++) {
		if (!kvl_filter_vm(&o->f, &s->vms[i]))
			continue;
		kvl_om_series(om, &kvl_om_exited_family);
		kvl_om_vm_labels(om, i);
		fprintf(out, "%s{%s} %d\n", kvl_om_exited_family.name, om->l.buf,
			s->vms[i].exited);
	}
	for (i = 0; i < s->nr_stats && s->has_stats; i++)
		kvl_om_stat(out, &s->stats[i], o->prometheus);
	if (!o->prometheus)
		fputs("# EOF\n", out);
	ret = 0;
out:
	for (i = 0; om->all && i < s->nr_vms; i++)
		kvl_svcpu_free(&om->all[i]);
	free(om->all);
	free(om->vm);
	free(om);
	return ret;
}

/* ------------------------------------------------------------------ */
/* -o FILE */

/* kvl_export_openmetrics()'s arguments, for kvl_outfile_replace() */
struct kvl_export_job {
	const struct kvl_snap *s;
	const struct kvl_export_opts *o;
	struct kvl_export_names *names;
};

static int kvl_export_write(FILE *f, void *arg)
{
	struct kvl_export_job *job = arg;

	return kvl_export_openmetrics(f, job->s, job->o, job->names);
}

int kvl_export_file(const char *path, const struct kvl_snap *s,
		    const struct kvl_export_opts *o,
		    struct kvl_export_names *names, FILE *err)
{
	struct kvl_export_job job = { .s = s, .o = o, .names = names };

	return kvl_outfile_replace(path, kvl_export_write, &job, err);
}
