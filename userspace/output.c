// SPDX-License-Identifier: GPL-2.0
/*
 * output.c - tables, bars, JSON, CSV, interval deltas and comparisons of
 * snapshots (see output.h).
 */
#include <stdlib.h>

#include "output.h"
#include "loop.h"

/* ------------------------------------------------------------------ */
/* human units */

const char *kvl_fmt_ns(char *buf, size_t size, double ns)
{
	static const struct {
		double div;
		const char *unit;
	} units[] = { { 1e3, "µs" }, { 1e6, "ms" }, { 1e9, "s" } };
	unsigned int i;

	if (ns < 999.5) {
		snprintf(buf, size, "%.0fns", ns);
		return buf;
	}
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		double v = ns / units[i].div;

		if (v >= 999.5 && i + 1 < ARRAY_SIZE(units))
			continue;
		if (v < 9.995)
			snprintf(buf, size, "%.2f%s", v, units[i].unit);
		else if (v < 99.95)
			snprintf(buf, size, "%.1f%s", v, units[i].unit);
		else
			snprintf(buf, size, "%.0f%s", v, units[i].unit);
		break;
	}
	return buf;
}

/* Columns a UTF-8 string takes: continuation bytes take none. */
static int kvl_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void kvl_spaces(FILE *out, int n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* " %*s" for strings that may hold multi-byte characters. */
static void kvl_cell(FILE *out, const char *s, int width)
{
	fputc(' ', out);
	kvl_spaces(out, width - kvl_width(s));
	fputs(s, out);
}

static void kvl_cell_ns(FILE *out, double ns, int width)
{
	char buf[32];

	kvl_cell(out, kvl_fmt_ns(buf, sizeof(buf), ns), width);
}

/* A process name as text: control characters would break the table. */
static void kvl_put_comm(FILE *out, const char *comm)
{
	for (; *comm; comm++)
		fputc((unsigned char)*comm < 0x20 || *comm == 0x7f ? '?' :
		      *comm, out);
}

/* "%-*s" for strings that may hold multi-byte characters. */
static void kvl_left(FILE *out, const char *s, int width)
{
	fputs(s, out);
	kvl_spaces(out, width - kvl_width(s));
}

/* ------------------------------------------------------------------ */
/* rows of a table */

/* A row: a vCPU's (or all of them merged), or a disk's (@disk set). */
struct kvl_row {
	char vcpu[12];
	const char *disk;	/* its label, kvl_disk_label() */
	const char *name;
	const struct kvl_rhist *h;
};

struct kvl_rows {
	struct kvl_row *r;
	u32 nr;
	u32 cap;
	int first_w;		/* of the first column, VCPU or DISK */
	int name_w;
	const char *first_title;	/* of the first column; NULL: by the rows */
};

/* A row for @h unless it is absent or empty; @disk or @vcpu names it. */
static int kvl_rows_push(struct kvl_rows *rows, u32 vcpu, const char *disk,
			 const char *name, const struct kvl_rhist *h)
{
	struct kvl_row *r;

	if (!h || !h->count)
		return 0;
	if (rows->nr == rows->cap) {
		u32 cap = rows->cap ? rows->cap * 2 : 32;

		r = realloc(rows->r, cap * sizeof(*r));
		if (!r)
			return -1;
		rows->r = r;
		rows->cap = cap;
	}
	r = &rows->r[rows->nr++];
	if (vcpu == KVL_VCPU_ALL)
		snprintf(r->vcpu, sizeof(r->vcpu), "all");
	else
		snprintf(r->vcpu, sizeof(r->vcpu), "%u", vcpu);
	r->disk = disk;
	r->name = name;
	r->h = h;
	if (disk && kvl_width(disk) > rows->first_w)
		rows->first_w = kvl_width(disk);
	if (kvl_width(name) > rows->name_w)
		rows->name_w = kvl_width(name);
	return 0;
}

static int kvl_rows_add(struct kvl_rows *rows, u32 vcpu, const char *name,
			const struct kvl_shist *sh)
{
	return kvl_rows_push(rows, vcpu, NULL, name, sh ? &sh->h : NULL);
}

static void kvl_rows_reset(struct kvl_rows *rows)
{
	rows->nr = 0;
	rows->first_w = 5;
	rows->name_w = 5;
}

#define KVL_COUNT_W	10
#define KVL_NUM_W	9

static const char *const kvl_stat_cols[] = {
	"MIN", "MEAN", "STDDEV", "P50", "P90", "P99", "P99.9", "MAX",
};

static void kvl_table_header(FILE *out, const char *first, int first_w,
			     const char *what, int name_w)
{
	unsigned int i;

	fprintf(out, "  %-*s %-*s %*s", first_w, first, name_w, what,
		KVL_COUNT_W, "COUNT");
	for (i = 0; i < ARRAY_SIZE(kvl_stat_cols); i++)
		fprintf(out, " %*s", KVL_NUM_W, kvl_stat_cols[i]);
	fputc('\n', out);
}

static void kvl_table_row(FILE *out, const struct kvl_row *r, int first_w,
			  int name_w)
{
	struct kvl_summary m;

	kvl_rhist_summary(r->h, &m);
	fputs("  ", out);
	kvl_left(out, r->disk ? r->disk : r->vcpu, first_w);
	fprintf(out, " %-*s %*llu", name_w, r->name, KVL_COUNT_W,
		(unsigned long long)m.count);
	kvl_cell_ns(out, m.min, KVL_NUM_W);
	kvl_cell_ns(out, m.mean, KVL_NUM_W);
	kvl_cell_ns(out, m.stddev, KVL_NUM_W);
	kvl_cell_ns(out, m.p50, KVL_NUM_W);
	kvl_cell_ns(out, m.p90, KVL_NUM_W);
	kvl_cell_ns(out, m.p99, KVL_NUM_W);
	kvl_cell_ns(out, m.p999, KVL_NUM_W);
	kvl_cell_ns(out, m.max, KVL_NUM_W);
	fputc('\n', out);
}

/* ------------------------------------------------------------------ */
/* bars, log2-grouped like bcc's biolatency */

#define KVL_BAR_W	40
#define KVL_LOG2_ROWS	64

static const struct {
	const char *name;
	u64 ns;
} kvl_bar_units[] = {
	[KVL_HIST_UNIT_NSECS] = { "nsecs", 1 },
	[KVL_HIST_UNIT_USECS] = { "usecs", 1000 },
	[KVL_HIST_UNIT_MSECS] = { "msecs", 1000000 },
};

bool kvl_hist_unit_parse(const char *s, enum kvl_hist_unit *unit)
{
	unsigned int u;

	for (u = KVL_HIST_UNIT_NSECS; u < ARRAY_SIZE(kvl_bar_units); u++) {
		if (!strcmp(s, kvl_bar_units[u].name)) {
			*unit = u;
			return true;
		}
	}
	return false;
}

/*
 * The unit of the rows unless --hist-unit forces one: the largest of
 * nsecs, usecs and msecs that the p50 is at least 16 of.  A unit only
 * shifts the rows, but all below 2 units piles up in row 0 ("0 -> 1"):
 * picked by the largest value, a long tail put the bulk there.  With the
 * p50 at 16 units or more (row 4 up), row 0 ends at p50/8 and the bucket
 * holding the p50 starts above 15 units (buckets are at most 1/16 wide),
 * so row 0 holds fewer than half the values, the overflow counted as
 * large ones, whenever the p50 is 2 ns or more (buckets below 32 ns are
 * 1 ns wide).
 */
static enum kvl_hist_unit kvl_bar_unit(const struct kvl_rhist *h)
{
	u64 p50 = kvl_rhist_percentile(h, 50000);
	enum kvl_hist_unit u = KVL_HIST_UNIT_MSECS;

	while (u > KVL_HIST_UNIT_NSECS && p50 < 16 * kvl_bar_units[u].ns)
		u--;
	return u;
}

/* Row of a value in @unit: 0 holds 0 and 1, row k holds [2^k, 2^(k+1)). */
static unsigned int kvl_log2_row(u64 v)
{
	return v < 2 ? 0 : fls64(v) - 1;
}

static void kvl_bar(FILE *out, u64 n, u64 most)
{
	int stars = most ? (int)((n * KVL_BAR_W + most - 1) / most) : 0;

	fputc('|', out);
	for (int i = 0; i < KVL_BAR_W; i++)
		fputc(i < stars ? '*' : ' ', out);
	fputc('|', out);
}

/*
 * Buckets go to the row of their lower bound in the chosen unit; engine
 * buckets are at most 1/16 of their value wide, so few straddle two rows.
 */
void kvl_print_bars(FILE *out, const struct kvl_rhist *h,
		    enum kvl_hist_unit unit, const char *indent)
{
	u64 rows[KVL_LOG2_ROWS] = { 0 }, most = 0, div;
	unsigned int first = KVL_LOG2_ROWS, last = 0, k;
	int w;
	u32 i;

	if (unit == KVL_HIST_UNIT_AUTO)
		unit = kvl_bar_unit(h);
	div = kvl_bar_units[unit].ns;
	for (i = 0; i < h->nr; i++) {
		k = kvl_log2_row(kvl_hist_bucket_lo(h->b[i].idx) / div);
		rows[k] += h->b[i].n;
		first = k < first ? k : first;
		last = k > last ? k : last;
	}
	for (k = 0; k < KVL_LOG2_ROWS; k++)
		most = rows[k] > most ? rows[k] : most;
	/* past row 32 a bound has 11 digits or more: widen, as bcc does */
	w = last > 32 ? 20 : 10;
	fprintf(out, "%s%*s%-*s : count     distribution\n", indent, w - 5, "",
		w + 9, kvl_bar_units[unit].name);
	for (k = first; k <= last && first < KVL_LOG2_ROWS; k++) {
		u64 lo = k ? 1ULL << k : 0, hi = (2ULL << k) - 1;

		fprintf(out, "%s%*llu -> %-*llu : %-9llu ", indent, w,
			(unsigned long long)lo, w, (unsigned long long)hi,
			(unsigned long long)rows[k]);
		kvl_bar(out, rows[k], most);
		fputc('\n', out);
	}
	if (h->negative)
		fprintf(out, "%s%*s : %llu\n", indent, 2 * w + 5,
			"< 0 ns, as 0 (clock skew)",
			(unsigned long long)h->negative);
	if (h->overflow)
		fprintf(out, "%s%*s : %llu\n", indent, 2 * w + 5,
			">= 137 s (overflow)", (unsigned long long)h->overflow);
}

static void kvl_rows_bars(FILE *out, const struct kvl_rows *rows,
			  const char *what, enum kvl_hist_unit unit)
{
	u32 i;

	for (i = 0; i < rows->nr; i++) {
		const struct kvl_row *r = &rows->r[i];

		if (r->disk)
			fprintf(out, "\n  %s %s, %s: %llu values\n", what,
				r->name, r->disk, (unsigned long long)r->h->count);
		else
			fprintf(out, "\n  %s %s, vCPU %s: %llu values\n", what,
				r->name, r->vcpu, (unsigned long long)r->h->count);
		kvl_print_bars(out, r->h, unit, "  ");
	}
}

static void kvl_rows_print(FILE *out, const struct kvl_rows *rows,
			   const char *title, const char *col,
			   const char *what, const struct kvl_show_opts *o)
{
	const char *first = rows->first_title ? rows->first_title :
			    rows->nr && rows->r[0].disk ? "DISK" : "VCPU";
	u32 i;

	if (!rows->nr)
		return;
	fprintf(out, "\n  %s\n", title);
	kvl_table_header(out, first, rows->first_w, col, rows->name_w);
	for (i = 0; i < rows->nr; i++)
		kvl_table_row(out, &rows->r[i], rows->first_w, rows->name_w);
	if (o->hist)
		kvl_rows_bars(out, rows, what, o->hist_unit);
}

/* ------------------------------------------------------------------ */
/* show, as text */

/* Rows of one path of one VM: each vCPU, then all of them merged. */
static int kvl_path_rows(struct kvl_rows *rows, const struct kvl_svm *vm,
			 const struct kvl_svcpu *all,
			 const struct kvl_filter *f, unsigned int p)
{
	u32 i, with_data = 0;
	unsigned int s;

	for (i = 0; i < vm->nr_vcpus; i++) {
		const struct kvl_svcpu *v = &vm->vcpus[i];
		u32 before = rows->nr;

		if (!kvl_filter_vcpu(f, v))
			continue;
		for (s = 0; s < KVL_NR_STAGES; s++)
			if (kvl_stage_name(p, s) &&
			    kvl_rows_add(rows, v->id, kvl_stage_name(p, s),
					 kvl_svcpu_stage(v, p, s)))
				return -1;
		with_data += rows->nr > before;
	}
	for (s = 0; s < KVL_NR_STAGES && with_data > 1; s++)
		if (kvl_stage_name(p, s) &&
		    kvl_rows_add(rows, KVL_VCPU_ALL, kvl_stage_name(p, s),
				 kvl_svcpu_stage(all, p, s)))
			return -1;
	return 0;
}

static int kvl_exit_rows(struct kvl_rows *rows, const struct kvl_svm *vm,
			 const struct kvl_svcpu *all,
			 const struct kvl_filter *f)
{
	u32 i, j, with_data = 0;

	for (i = 0; i < vm->nr_vcpus; i++) {
		const struct kvl_svcpu *v = &vm->vcpus[i];
		u32 before = rows->nr;

		if (!kvl_filter_vcpu(f, v))
			continue;
		for (j = 0; j < v->nr_hists; j++)
			if (v->hists[j].kind == KVL_KIND_EXIT &&
			    kvl_rows_add(rows, v->id, v->hists[j].reason,
					 &v->hists[j]))
				return -1;
		with_data += rows->nr > before;
	}
	for (j = 0; j < all->nr_hists && with_data > 1; j++)
		if (all->hists[j].kind == KVL_KIND_EXIT &&
		    kvl_rows_add(rows, KVL_VCPU_ALL, all->hists[j].reason,
				 &all->hists[j]))
			return -1;
	return 0;
}

static void kvl_show_vm_head(FILE *out, const struct kvl_svm *vm)
{
	fprintf(out, "VM %d (", vm->pid);
	kvl_put_comm(out, vm->comm);
	fprintf(out, "), %u vCPU%s", vm->nr_vcpus, vm->nr_vcpus == 1 ? "" : "s");
	if (vm->exited)
		fprintf(out, ", exited %.1f s ago", vm->exited_ago_ns / 1e9);
	fputc('\n', out);
}

/* Columns of a disk's name in a table; a longer one keeps its tail. */
#define KVL_DISK_NAME_W	40
#define KVL_DISK_LABEL	256

/*
 * "fd N", or "fd N (NAME)" when the name is known: control characters of
 * NAME as '?', and only its last columns when it is long (the file name
 * is what tells disks apart).
 */
static const char *kvl_disk_label(char *buf, size_t size,
				  const struct kvl_sdisk *d)
{
	const char *name = d->name;
	size_t n = snprintf(buf, size, "fd %d", d->fd);
	int w;

	if (!name || !*name)
		return buf;
	w = kvl_width(name);
	n += snprintf(buf + n, size - n, " (%s", w > KVL_DISK_NAME_W ?
		      "…" : "");
	while (w > KVL_DISK_NAME_W - 1) {	/* drop a character */
		name++;
		while (((unsigned char)*name & 0xc0) == 0x80)
			name++;
		w--;
	}
	for (; *name && n + 2 < size; name++)
		buf[n++] = (unsigned char)*name < 0x20 || *name == 0x7f ?
			   '?' : *name;
	buf[n++] = ')';
	buf[n] = '\0';
	return buf;
}

/*
 * show --disk: per path, each disk's io (where known: not in a format 3
 * snapshot, nor of a native disk whose AIO ring was not read), submit_to_irq
 * and total.
 */
static int kvl_show_vm_disks(FILE *out, const struct kvl_svm *vm,
			     const struct kvl_show_opts *o,
			     struct kvl_rows *rows)
{
	char label[KVL_SNAP_MAX_DISKS][KVL_DISK_LABEL], title[64];
	u32 i, nr = vm->nr_disks < KVL_SNAP_MAX_DISKS ? vm->nr_disks :
		    KVL_SNAP_MAX_DISKS;
	unsigned int p, ds;
	bool any = false;

	kvl_show_vm_head(out, vm);
	for (i = 0; i < nr; i++)
		kvl_disk_label(label[i], sizeof(label[i]), &vm->disks[i]);
	for (p = 0; p < KVL_NR_PATHS; p++) {
		if (o->f.path >= 0 && o->f.path != (int)p)
			continue;
		kvl_rows_reset(rows);
		for (i = 0; i < nr; i++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
				if (kvl_rows_push(rows, 0, label[i],
						  kvl_disk_stage_name(ds),
						  &vm->disks[i].h[p][ds]))
					return -1;
		snprintf(title, sizeof(title), "%s path: request latency by disk",
			 kvl_path_name(p));
		kvl_rows_print(out, rows, title, "STAGE", kvl_path_name(p), o);
		any |= rows->nr > 0;
	}
	if (!any)
		fprintf(out, "  no requests of a known disk recorded for the selected paths yet\n");
	fputc('\n', out);
	return 0;
}

static int kvl_show_vm(FILE *out, const struct kvl_svm *vm,
		       const struct kvl_show_opts *o, struct kvl_rows *rows)
{
	struct kvl_svcpu all = { .id = KVL_VCPU_ALL };
	char title[64];
	bool any = false;
	unsigned int p;
	int ret = -1;

	if (o->disks)
		return kvl_show_vm_disks(out, vm, o, rows);
	kvl_show_vm_head(out, vm);
	if (kvl_svm_merge_vcpus(vm, &o->f, &all))
		goto out;
	for (p = 0; p < KVL_NR_PATHS; p++) {
		if (o->f.path >= 0 && o->f.path != (int)p)
			continue;
		kvl_rows_reset(rows);
		if (kvl_path_rows(rows, vm, &all, &o->f, p))
			goto out;
		snprintf(title, sizeof(title), "%s path: request latency by stage",
			 kvl_path_name(p));
		kvl_rows_print(out, rows, title, "STAGE", kvl_path_name(p), o);
		any |= rows->nr > 0;
	}
	if (o->f.exits) {
		kvl_rows_reset(rows);
		if (kvl_exit_rows(rows, vm, &all, &o->f))
			goto out;
		kvl_rows_print(out, rows, "exit latency by reason (exit to next entry)",
			       "REASON", "exit", o);
		any |= rows->nr > 0;
	}
	if (!any)
		fprintf(out, "  no %s recorded for the selected vCPUs and paths yet\n",
			o->f.exits ? "requests or exits" : "requests");
	fputc('\n', out);
	ret = 0;
out:
	kvl_svcpu_free(&all);
	return ret;
}

static void kvl_show_footer(FILE *out, const struct kvl_snap *s, bool disks)
{
	static const char *const vcpu_names[] = {
		"requests", "dropped", "unmatched", "lost_events", NULL,
	};
	/* the requests in no disk's rows, and why */
	static const char *const disk_names[] = {
		"requests", "requests_without_disk", "dropped_disk_requests",
		NULL,
	};
	const char *const *names = disks ? disk_names : vcpu_names;
	const char *sep = "counters:";
	unsigned int i;

	if (!s->has_stats)
		return;
	for (i = 0; names[i]; i++) {
		const struct kvl_stat *st = kvl_snap_stat(s, names[i]);

		if (!st)
			continue;
		fprintf(out, "%s %s %llu", sep, names[i],
			(unsigned long long)st->value);
		sep = ",";
	}
	if (*sep == ',')
		fputc('\n', out);
}

/* show --disk of a snapshot without a single disk histogram: why. */
static void kvl_show_no_disks(FILE *out, const struct kvl_snap *s)
{
	if (s->version && s->version < 3)
		fprintf(out, "no per-disk histograms: this snapshot is hist format %u, from a module older than format 3\n",
			s->version);
	else
		fprintf(out, "no per-disk histograms: no recorded request had a known disk (io_submit in a replayed recording, which lacks its iocbs, or iocbs the module could not read, past the first %d or paged out; io_uring requests before Linux 6.0 or of registered files; stats: requests_without_disk)\n",
			KVL_SUBMIT_FDS);
}

static int kvl_show_text(FILE *out, const struct kvl_snap *s,
			 const struct kvl_show_opts *o)
{
	struct kvl_rows rows = { 0 };
	int ret = 0;
	u32 i;

	if (!s->nr_vms)
		fprintf(out, "no VM traced: kvmio_lat tracks no QEMU-KVM process (is a guest running? VMs are forgotten when their process exits)\n");
	else if (o->disks && !kvl_snap_has_disks(s))
		kvl_show_no_disks(out, s);
	for (i = 0; i < s->nr_vms && !ret; i++)
		if (kvl_filter_vm(&o->f, &s->vms[i]) &&
		    (!o->disks || kvl_snap_has_disks(s)))
			ret = kvl_show_vm(out, &s->vms[i], o, &rows);
	kvl_show_footer(out, s, o->disks);
	free(rows.r);
	return ret;
}

/* ------------------------------------------------------------------ */
/* JSON, schema kvmio_lat/5 (see KVL_JSON_SCHEMA) */

int kvl_utf8_len(const unsigned char *s)
{
	int n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static void kvl_json_str(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	while (*s) {
		int n = *s < 0x80 ? 0 : kvl_utf8_len(s);

		if (*s == '"' || *s == '\\') {
			fprintf(out, "\\%c", *s++);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(out, "\\u%04x", *s++);
		} else if (*s < 0x80) {
			fputc(*s++, out);
		} else if (n) {
			fwrite(s, 1, n, out);
			s += n;
		} else {
			fputs("\\ufffd", out);	/* not UTF-8 */
			s++;
		}
	}
	fputc('"', out);
}

static void kvl_json_stats(FILE *out, const struct kvl_rhist *h)
{
	struct kvl_summary m;
	u32 i;

	kvl_rhist_summary(h, &m);
	/* buckets + overflow = count; negative values are in [0, 1) */
	fprintf(out, "{\"count\": %llu, \"min_ns\": %llu, \"max_ns\": %llu, \"mean_ns\": %.1f, \"stddev_ns\": %.1f, \"p50_ns\": %llu, \"p90_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, \"negative\": %llu, \"overflow\": %llu, \"buckets\": [",
		(unsigned long long)m.count, (unsigned long long)m.min,
		(unsigned long long)m.max, m.mean, m.stddev,
		(unsigned long long)m.p50, (unsigned long long)m.p90,
		(unsigned long long)m.p99, (unsigned long long)m.p999,
		(unsigned long long)h->negative,
		(unsigned long long)h->overflow);
	for (i = 0; i < h->nr; i++)
		fprintf(out, "%s[%llu, %llu, %llu]", i ? ", " : "",
			(unsigned long long)kvl_hist_bucket_lo(h->b[i].idx),
			(unsigned long long)kvl_hist_bucket_hi(h->b[i].idx),
			(unsigned long long)h->b[i].n);
	fputs("]}", out);
}

static void kvl_json_vcpu(FILE *out, const struct kvl_svcpu *v,
			  const struct kvl_filter *f)
{
	const char *sep = "";
	unsigned int p, s;
	u32 i;

	fprintf(out, "{\"vcpu\": %u, \"exits\": {", v->id);
	for (i = 0; i < v->nr_hists && f->exits; i++) {
		if (v->hists[i].kind != KVL_KIND_EXIT || !v->hists[i].h.count)
			continue;
		fputs(sep, out);
		kvl_json_str(out, v->hists[i].reason);
		fputs(": ", out);
		kvl_json_stats(out, &v->hists[i].h);
		sep = ", ";
	}
	/* every path's key, {} without data; no key of a stage it lacks */
	fputs("}, \"paths\": {", out);
	for (p = 0; p < KVL_NR_PATHS; p++) {
		fprintf(out, "%s\"%s\": {", p ? ", " : "", kvl_path_name(p));
		sep = "";
		for (s = 0; s < KVL_NR_STAGES; s++) {
			const struct kvl_shist *h = kvl_svcpu_stage(v, p, s);

			if (!kvl_stage_name(p, s) || !h || !h->h.count ||
			    !kvl_filter_hist(f, h))
				continue;
			fprintf(out, "%s\"%s\": ", sep, kvl_stage_name(p, s));
			kvl_json_stats(out, &h->h);
			sep = ", ";
		}
		fputc('}', out);
	}
	fputs("}}", out);
}

/*
 * Disks are per VM: --vcpu does not narrow them, --path does.  A histogram
 * the disk does not have (io of a format 3 snapshot) has no key.
 */
static void kvl_json_disk(FILE *out, const struct kvl_sdisk *d,
			  const struct kvl_filter *f)
{
	const char *sep;
	unsigned int p, ds;

	fprintf(out, "{\"fd\": %d, \"name\": ", d->fd);
	if (d->name)
		kvl_json_str(out, d->name);
	else
		fputs("null", out);
	fputs(", \"paths\": {", out);
	for (p = 0; p < KVL_NR_PATHS; p++) {
		fprintf(out, "%s\"%s\": {", p ? ", " : "", kvl_path_name(p));
		sep = "";
		for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
			if (!d->h[p][ds].count ||
			    (f->path >= 0 && f->path != (int)p))
				continue;
			fprintf(out, "%s\"%s\": ", sep,
				kvl_disk_stage_name(ds));
			kvl_json_stats(out, &d->h[p][ds]);
			sep = ", ";
		}
		fputc('}', out);
	}
	fputs("}}", out);
}

static void kvl_json_vm(FILE *out, const struct kvl_svm *vm,
			const struct kvl_filter *f)
{
	const char *sep = "";
	u32 i;

	fprintf(out, "{\"pid\": %d, \"comm\": ", vm->pid);
	kvl_json_str(out, vm->comm);
	if (vm->exited)
		fprintf(out, ", \"exited_ago_ns\": %llu",
			(unsigned long long)vm->exited_ago_ns);
	fputs(", \"vcpus\": [", out);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (!kvl_filter_vcpu(f, &vm->vcpus[i]))
			continue;
		fputs(sep, out);
		kvl_json_vcpu(out, &vm->vcpus[i], f);
		sep = ", ";
	}
	fputs("], \"disks\": [", out);
	for (i = 0; i < vm->nr_disks; i++) {
		fputs(i ? ", " : "", out);
		kvl_json_disk(out, &vm->disks[i], f);
	}
	fputs("]}", out);
}

void kvl_print_json(FILE *out, const struct kvl_snap *s,
		    const struct kvl_filter *f)
{
	const char *sep = "";
	u32 i;

	fputs("{\"schema\": \"" KVL_JSON_SCHEMA "\", \"vms\": [", out);
	for (i = 0; i < s->nr_vms; i++) {
		if (!kvl_filter_vm(f, &s->vms[i]))
			continue;
		fputs(sep, out);
		kvl_json_vm(out, &s->vms[i], f);
		sep = ", ";
	}
	fputs("], \"stats\": {", out);
	for (i = 0; i < s->nr_stats && s->has_stats; i++)
		fprintf(out, "%s\"%s\": %llu", i ? ", " : "", s->stats[i].name,
			(unsigned long long)s->stats[i].value);
	fputs("}}\n", out);
}

/* ------------------------------------------------------------------ */
/* CSV */

static void kvl_csv_str(FILE *out, const char *s)
{
	const char *q;

	if (!strpbrk(s, ",\"\r\n") && *s != ' ' &&
	    (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (q = s; *q; q++) {
		if (*q == '"')
			fputc('"', out);
		fputc(*q, out);
	}
	fputc('"', out);
}

/* count ... p999_ns, the end of every row */
static void kvl_csv_stats(FILE *out, const struct kvl_rhist *h)
{
	struct kvl_summary m;

	kvl_rhist_summary(h, &m);
	fprintf(out, "%llu,%llu,%llu,%.1f,%.1f,%llu,%llu,%llu,%llu\n",
		(unsigned long long)m.count, (unsigned long long)m.min,
		(unsigned long long)m.max, m.mean, m.stddev,
		(unsigned long long)m.p50, (unsigned long long)m.p90,
		(unsigned long long)m.p99, (unsigned long long)m.p999);
}

static void kvl_csv_row(FILE *out, const char *prefix,
			const struct kvl_svm *vm, const struct kvl_svcpu *v,
			const struct kvl_shist *h)
{
	fprintf(out, "%s%d,", prefix, vm->pid);
	kvl_csv_str(out, vm->comm);
	fprintf(out, ",%u,%s,%s,%s,", v->id,
		h->kind == KVL_KIND_EXIT ? "exit" : "stage",
		h->kind == KVL_KIND_EXIT ? "" : kvl_path_name(h->path),
		h->kind == KVL_KIND_EXIT ? h->reason :
		kvl_stage_name(h->path, h->stage));
	kvl_csv_stats(out, &h->h);
}

static void kvl_csv_vcpu(FILE *out, const char *prefix,
			 const struct kvl_svm *vm, const struct kvl_svcpu *v,
			 const struct kvl_filter *f)
{
	const struct kvl_shist *h;
	unsigned int p, s;
	u32 i;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		for (s = 0; s < KVL_NR_STAGES; s++) {
			h = kvl_svcpu_stage(v, p, s);
			if (kvl_stage_name(p, s) && h && h->h.count &&
			    kvl_filter_hist(f, h))
				kvl_csv_row(out, prefix, vm, v, h);
		}
	}
	for (i = 0; i < v->nr_hists && f->exits; i++)
		if (v->hists[i].kind == KVL_KIND_EXIT && v->hists[i].h.count)
			kvl_csv_row(out, prefix, vm, v, &v->hists[i]);
}

void kvl_print_csv(FILE *out, const struct kvl_snap *s,
		   const struct kvl_filter *f, const char *prefix_header,
		   const char *prefix, bool header)
{
	u32 i, j;

	if (header)
		fprintf(out, "%spid,comm,vcpu,kind,path,name,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n",
			prefix_header);
	for (i = 0; i < s->nr_vms; i++) {
		const struct kvl_svm *vm = &s->vms[i];

		if (!kvl_filter_vm(f, vm))
			continue;
		for (j = 0; j < vm->nr_vcpus; j++)
			if (kvl_filter_vcpu(f, &vm->vcpus[j]))
				kvl_csv_vcpu(out, prefix, vm, &vm->vcpus[j], f);
	}
}

void kvl_print_csv_disks(FILE *out, const struct kvl_snap *s,
			 const struct kvl_filter *f)
{
	unsigned int p, ds;
	u32 i, j;

	fputs("pid,comm,fd,disk,path,stage,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n",
	      out);
	for (i = 0; i < s->nr_vms; i++) {
		const struct kvl_svm *vm = &s->vms[i];

		if (!kvl_filter_vm(f, vm))
			continue;
		for (j = 0; j < vm->nr_disks; j++) {
			const struct kvl_sdisk *d = &vm->disks[j];

			for (p = 0; p < KVL_NR_PATHS; p++) {
				if (f->path >= 0 && f->path != (int)p)
					continue;
				for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
					if (!d->h[p][ds].count)
						continue;
					fprintf(out, "%d,", vm->pid);
					kvl_csv_str(out, vm->comm);
					fprintf(out, ",%d,", d->fd);
					kvl_csv_str(out, d->name ? d->name : "");
					fprintf(out, ",%s,%s,", kvl_path_name(p),
						kvl_disk_stage_name(ds));
					kvl_csv_stats(out, &d->h[p][ds]);
				}
			}
		}
	}
}

int kvl_print_show(FILE *out, const struct kvl_snap *s,
		   const struct kvl_show_opts *o)
{
	switch (o->fmt) {
	case KVL_FMT_JSON:
		kvl_print_json(out, s, &o->f);
		return 0;
	case KVL_FMT_CSV:
		if (o->disks)
			kvl_print_csv_disks(out, s, &o->f);
		else
			kvl_print_csv(out, s, &o->f, "", "", true);
		return 0;
	default:
		return kvl_show_text(out, s, o);
	}
}

/* ------------------------------------------------------------------ */
/* watch */

static const char *const kvl_watch_cols[] = {
	"MEAN", "P50", "P90", "P99", "P99.9",
};

static void kvl_watch_header(FILE *out)
{
	unsigned int i;

	fprintf(out, "  %8s %-5s %-8s %-18s %*s %9s", "PID", "VCPU", "PATH",
		"STAGE", KVL_COUNT_W, "COUNT", "/s");
	for (i = 0; i < ARRAY_SIZE(kvl_watch_cols); i++)
		fprintf(out, " %*s", KVL_NUM_W, kvl_watch_cols[i]);
	fputc('\n', out);
}

static void kvl_watch_row(FILE *out, s32 pid, const char *vcpu,
			  const char *path, const char *name,
			  const struct kvl_rhist *h, double secs)
{
	struct kvl_summary m;

	kvl_rhist_summary(h, &m);
	fprintf(out, "  %8d %-5s %-8s %-18s %*llu %9.1f", pid, vcpu, path, name,
		KVL_COUNT_W, (unsigned long long)m.count,
		secs > 0 ? m.count / secs : 0.0);
	kvl_cell_ns(out, m.mean, KVL_NUM_W);
	kvl_cell_ns(out, m.p50, KVL_NUM_W);
	kvl_cell_ns(out, m.p90, KVL_NUM_W);
	kvl_cell_ns(out, m.p99, KVL_NUM_W);
	kvl_cell_ns(out, m.p999, KVL_NUM_W);
	fputc('\n', out);
}

/* One VM's rows: its selected vCPUs merged; 0 rows is fine. */
static int kvl_watch_vm(FILE *out, const struct kvl_svm *vm,
			const struct kvl_show_opts *o, double secs, u32 *rows)
{
	struct kvl_svcpu all = { .id = KVL_VCPU_ALL };
	const struct kvl_shist *h;
	char vcpu[12] = "all";
	unsigned int p, s;
	u32 i;

	if (kvl_svm_merge_vcpus(vm, &o->f, &all)) {
		kvl_svcpu_free(&all);
		return -1;
	}
	if (o->f.vcpu >= 0)
		snprintf(vcpu, sizeof(vcpu), "%u", (u32)o->f.vcpu);
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (s = 0; s < KVL_NR_STAGES; s++) {
			h = kvl_svcpu_stage(&all, p, s);
			if (!kvl_stage_name(p, s) || !h || !h->h.count)
				continue;
			if (!(*rows)++)
				kvl_watch_header(out);
			kvl_watch_row(out, vm->pid, vcpu, kvl_path_name(p),
				      kvl_stage_name(p, s), &h->h, secs);
		}
	for (i = 0; i < all.nr_hists; i++) {
		h = &all.hists[i];
		if (h->kind != KVL_KIND_EXIT || !h->h.count)
			continue;
		if (!(*rows)++)
			kvl_watch_header(out);
		kvl_watch_row(out, vm->pid, vcpu, "exit", h->reason, &h->h, secs);
	}
	kvl_svcpu_free(&all);
	return 0;
}

int kvl_print_watch(FILE *out, const struct kvl_snap *delta, double secs,
		    const char *when, const struct kvl_show_opts *o,
		    bool first)
{
	char prefix[64];
	u32 i, rows = 0;

	if (o->fmt == KVL_FMT_JSON) {
		kvl_print_json(out, delta, &o->f);
		return 0;
	}
	if (o->fmt == KVL_FMT_CSV) {
		snprintf(prefix, sizeof(prefix), "%s,%.3f,", when, secs);
		kvl_print_csv(out, delta, &o->f, "time,interval_s,", prefix,
			      first);
		return 0;
	}
	fprintf(out, "%s  interval %.2fs\n", when, secs);
	for (i = 0; i < delta->nr_vms; i++)
		if (kvl_filter_vm(&o->f, &delta->vms[i]) &&
		    kvl_watch_vm(out, &delta->vms[i], o, secs, &rows))
			return -1;
	if (!rows)
		fprintf(out, "  nothing completed in this interval\n");
	fputc('\n', out);
	return 0;
}

/* ------------------------------------------------------------------ */
/* compare */

static void kvl_ratio_cell(FILE *out, u64 num, u64 den)
{
	char buf[32];

	if (!num || !den)
		snprintf(buf, sizeof(buf), "-");
	else
		snprintf(buf, sizeof(buf), "%.2fx", (double)num / den);
	kvl_cell(out, buf, 8);
}

/* COUNT P50 P99 of one side; dashes when it has no data. */
static void kvl_side_cells(FILE *out, const struct kvl_shist *h,
			   struct kvl_summary *m)
{
	memset(m, 0, sizeof(*m));
	if (!h || !h->h.count) {
		fprintf(out, " %*s %*s %*s", KVL_COUNT_W, "-", KVL_NUM_W, "-",
			KVL_NUM_W, "-");
		return;
	}
	kvl_rhist_summary(&h->h, m);
	fprintf(out, " %*llu", KVL_COUNT_W, (unsigned long long)m->count);
	kvl_cell_ns(out, m->p50, KVL_NUM_W);
	kvl_cell_ns(out, m->p99, KVL_NUM_W);
}

/* The first column (PATH: "io_uring" wide) is left out when @c1 is NULL. */
static void kvl_first_cells(FILE *out, const char *c1, int name_w,
			    const char *name)
{
	if (c1)
		fprintf(out, "  %-8s %-*s", c1, name_w, name);
	else
		fprintf(out, "  %-*s", name_w, name);
}

static void kvl_compare_header(FILE *out, int name_w, const char *c1,
			       const char *name, const char *a, const char *b)
{
	kvl_first_cells(out, c1, name_w, name);
	fprintf(out, " %*s %*s %*s %*s %*s %*s %8s %8s\n",
		KVL_COUNT_W, "COUNT", KVL_NUM_W, "P50",
		KVL_NUM_W, "P99", KVL_COUNT_W, "COUNT", KVL_NUM_W, "P50",
		KVL_NUM_W, "P99", "P50", "P99");
	kvl_first_cells(out, c1 ? "" : NULL, name_w, "");
	fprintf(out, " %*s %*s %*s %*s %*s %*s %8s %8s\n",
		KVL_COUNT_W, a, KVL_NUM_W, a, KVL_NUM_W, a,
		KVL_COUNT_W, b, KVL_NUM_W, b, KVL_NUM_W, b, "ratio", "ratio");
}

/* A row unless neither side has data; 1 when printed. */
static int kvl_compare_row(FILE *out, const char *c1, int name_w,
			   const char *name, const struct kvl_shist *a,
			   const struct kvl_shist *b)
{
	struct kvl_summary ma, mb;

	if ((!a || !a->h.count) && (!b || !b->h.count))
		return 0;
	kvl_first_cells(out, c1, name_w, name);
	kvl_side_cells(out, a, &ma);
	kvl_side_cells(out, b, &mb);
	kvl_ratio_cell(out, mb.p50, ma.p50);
	kvl_ratio_cell(out, mb.p99, ma.p99);
	fputc('\n', out);
	return 1;
}

static int kvl_compare_exits(FILE *out, const struct kvl_svcpu *a,
			     const struct kvl_svcpu *b)
{
	int rows = 0;
	u32 i;

	for (i = 0; i < a->nr_hists; i++)
		if (a->hists[i].kind == KVL_KIND_EXIT)
			rows += kvl_compare_row(out, "exit", 18,
						a->hists[i].reason, &a->hists[i],
						kvl_svcpu_exit(b, a->hists[i].reason));
	for (i = 0; i < b->nr_hists; i++)
		if (b->hists[i].kind == KVL_KIND_EXIT &&
		    !kvl_svcpu_exit(a, b->hists[i].reason))
			rows += kvl_compare_row(out, "exit", 18,
						b->hists[i].reason, NULL,
						&b->hists[i]);
	return rows;
}

int kvl_print_compare(FILE *out, const struct kvl_snap *a, const char *a_name,
		      const struct kvl_snap *b, const char *b_name,
		      const struct kvl_filter *f)
{
	struct kvl_svcpu ma, mb;
	unsigned int p, s;
	int rows = 0;

	if (kvl_snap_merge_all(a, f, &ma))
		return -1;
	if (kvl_snap_merge_all(b, f, &mb)) {
		kvl_svcpu_free(&ma);
		return -1;
	}
	fprintf(out, "A: %s\nB: %s\n(every selected VM and vCPU merged; ratio = B / A)\n\n",
		a_name, b_name);
	kvl_compare_header(out, 18, "PATH", "STAGE", "A", "B");
	for (p = 0; p < KVL_NR_PATHS; p++)
		for (s = 0; s < KVL_NR_STAGES; s++)
			if (kvl_stage_name(p, s) &&
			    (f->path < 0 || f->path == (int)p))
				rows += kvl_compare_row(out, kvl_path_name(p), 18,
							kvl_stage_name(p, s),
							kvl_svcpu_stage(&ma, p, s),
							kvl_svcpu_stage(&mb, p, s));
	if (f->exits)
		rows += kvl_compare_exits(out, &ma, &mb);
	if (!rows)
		fprintf(out, "  no data in either snapshot for the selected VMs, vCPUs and paths\n");
	kvl_svcpu_free(&ma);
	kvl_svcpu_free(&mb);
	return 0;
}

/* "native / threads / io_uring": the paths, for the header. */
static const char *kvl_paths_title(char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "STAGE (");
	unsigned int p;

	for (p = 0; p < KVL_NR_PATHS && n < size; p++)
		n += snprintf(buf + n, size - n, "%s%s", p ? " / " : "",
			      kvl_path_name(p));
	if (n < size)
		snprintf(buf + n, size - n, ")");
	return buf;
}

/*
 * Stage @st's names on the paths that have it, each once, in path order:
 * "wake_to_submit / wake_to_dispatch", "complete_to_reap".
 */
static const char *kvl_paths_label(char *buf, size_t size, unsigned int st)
{
	unsigned int p, q;
	size_t n = 0;

	buf[0] = '\0';
	for (p = 0; p < KVL_NR_PATHS && n < size; p++) {
		const char *name = kvl_stage_name(p, st);
		bool again = false;

		for (q = 0; q < p && name; q++)
			again |= kvl_stage_name(q, st) &&
				 !strcmp(kvl_stage_name(q, st), name);
		if (name && !again)
			n += snprintf(buf + n, size - n, "%s%s", n ? " / " : "",
				      name);
	}
	return buf;
}

#define KVL_SIDE_W	(3 + KVL_COUNT_W + 2 * KVL_NUM_W)	/* kvl_side_cells() */
#define KVL_RATIO_W	9					/* kvl_ratio_cell() */

static void kvl_compare_paths_header(FILE *out, int label_w)
{
	char title[64];
	unsigned int p;

	fprintf(out, "  %-*s", label_w, kvl_paths_title(title, sizeof(title)));
	for (p = 0; p < KVL_NR_PATHS; p++)
		fprintf(out, " %*s %*s %*s", KVL_COUNT_W, "COUNT", KVL_NUM_W,
			"P50", KVL_NUM_W, "P99");
	for (p = KVL_PATH_NATIVE + 1; p < KVL_NR_PATHS; p++)
		fprintf(out, " %8s %8s", "P50", "P99");
	fprintf(out, "\n  %-*s", label_w, "");
	for (p = 0; p < KVL_NR_PATHS; p++)
		fprintf(out, " %*s %*s %*s", KVL_COUNT_W, kvl_path_name(p),
			KVL_NUM_W, kvl_path_name(p), KVL_NUM_W, kvl_path_name(p));
	for (p = KVL_PATH_NATIVE + 1; p < KVL_NR_PATHS; p++)
		fprintf(out, " %8s %8s", kvl_path_name(p), kvl_path_name(p));
	fputc('\n', out);
}

/*
 * One stage of every path: COUNT P50 P99 of each, then each path's ratios
 * to native.  A path without the stage (complete_to_reap of native and
 * threads) has blank cells and no ratio: it is not a measurement of 0.
 * Blanks are written only before a cell that follows them: no trailing
 * spaces.
 */
static void kvl_compare_paths_row(FILE *out, const struct kvl_svcpu *all,
				  unsigned int st, const char *label,
				  int label_w)
{
	struct kvl_summary m[KVL_NR_PATHS];
	const struct kvl_shist *h;
	unsigned int p;
	bool any = false;
	int blank = 0;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		h = kvl_svcpu_stage(all, p, st);
		any |= kvl_stage_name(p, st) && h && h->h.count;
	}
	if (!any) {
		fprintf(out, "  %-*s %*s\n", label_w, label, KVL_COUNT_W, "-");
		return;
	}
	fprintf(out, "  %-*s", label_w, label);
	for (p = 0; p < KVL_NR_PATHS; p++) {
		memset(&m[p], 0, sizeof(m[p]));
		if (!kvl_stage_name(p, st)) {
			blank += KVL_SIDE_W;
			continue;
		}
		kvl_spaces(out, blank);
		blank = 0;
		kvl_side_cells(out, kvl_svcpu_stage(all, p, st), &m[p]);
	}
	for (p = KVL_PATH_NATIVE + 1; p < KVL_NR_PATHS; p++) {
		if (!kvl_stage_name(p, st) ||
		    !kvl_stage_name(KVL_PATH_NATIVE, st)) {
			blank += 2 * KVL_RATIO_W;
			continue;
		}
		kvl_spaces(out, blank);
		blank = 0;
		kvl_ratio_cell(out, m[p].p50, m[KVL_PATH_NATIVE].p50);
		kvl_ratio_cell(out, m[p].p99, m[KVL_PATH_NATIVE].p99);
	}
	fputc('\n', out);
}

int kvl_print_compare_paths(FILE *out, const struct kvl_snap *s,
			    const char *name, const struct kvl_filter *f)
{
	char label[KVL_NR_STAGES][96], title[64];
	int label_w = kvl_width(kvl_paths_title(title, sizeof(title)));
	struct kvl_svcpu all;
	unsigned int st, p;

	if (kvl_snap_merge_all(s, f, &all))
		return -1;
	for (st = 0; st < KVL_NR_STAGES; st++) {
		kvl_paths_label(label[st], sizeof(label[st]), st);
		if (kvl_width(label[st]) > label_w)
			label_w = kvl_width(label[st]);
	}
	fprintf(out, "snapshot: %s\n(every selected VM and vCPU merged; ratio = ", name);
	for (p = KVL_PATH_NATIVE + 1; p < KVL_NR_PATHS; p++)
		fprintf(out, "%s%s / native", p > KVL_PATH_NATIVE + 1 ? ", " : "",
			kvl_path_name(p));
	fputs(")\n\n", out);
	kvl_compare_paths_header(out, label_w);
	for (st = 0; st < KVL_NR_STAGES; st++)
		kvl_compare_paths_row(out, &all, st, label[st], label_w);
	for (p = 0; p < KVL_NR_PATHS; p++)
		if ((f->path < 0 || f->path == (int)p) &&
		    !kvl_svcpu_stage(&all, p, KVL_ST_TOTAL))
			fprintf(out, "  no %s requests in this snapshot (run the guest with aio=%s to fill its columns)\n",
				kvl_path_name(p), kvl_path_name(p));
	kvl_svcpu_free(&all);
	return 0;
}

/* ------------------------------------------------------------------ */
/* replay --loop: steps print as show prints stages */

#define KVL_LOOP_STEP_NAME	(2 * KVL_LOOP_LABEL_LEN + 8)

/* Step @i of the chain, "EV(i+1) -> EV(i+2)"; i == n - 1: "EV1 -> EVn". */
static const char *kvl_loop_step_name(char *buf, const struct kvl_loop_spec *spec,
				      u32 i)
{
	bool whole = i + 1 == spec->n;

	snprintf(buf, KVL_LOOP_STEP_NAME, "%s -> %s",
		 spec->ev[whole ? 0 : i].label,
		 spec->ev[whole ? i : i + 1].label);
	return buf;
}

/* "1" ... "n-1" for the steps, "loop" for the whole loop. */
static const char *kvl_loop_step_label(char *buf, size_t size,
				       const struct kvl_loop_spec *spec, u32 i)
{
	if (i + 1 == spec->n)
		snprintf(buf, size, "loop");
	else
		snprintf(buf, size, "%u", i + 1);
	return buf;
}

/* A process's histograms as the reader's; empty ones before one completed. */
static int kvl_loop_rhists(struct kvl_rhist *rh, const struct kvl_loop *l,
			   const struct kvl_loop_proc *p)
{
	u32 i;

	memset(rh, 0, l->spec.n * sizeof(*rh));
	for (i = 0; p->hist && i < l->spec.n; i++) {
		if (kvl_rhist_from_hist(&rh[i], &p->hist[i])) {
			while (i--)
				kvl_rhist_free(&rh[i]);
			return -1;
		}
	}
	return 0;
}

static void kvl_loop_rhists_free(struct kvl_rhist *rh, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		kvl_rhist_free(&rh[i]);
}

/* A process's instance counts, in @fmt's five %llu (or its first four). */
static void kvl_loop_counts(FILE *out, const char *fmt,
			    const struct kvl_loop_counts *n)
{
	fprintf(out, fmt, (unsigned long long)n->completed,
		(unsigned long long)n->superseded,
		(unsigned long long)n->timed_out,
		(unsigned long long)n->unfinished,
		(unsigned long long)n->dropped);
}

static bool kvl_loop_selected(const struct kvl_show_opts *o,
			      const struct kvl_loop_proc *p)
{
	return !o->f.pid || o->f.pid == p->tgid;
}

static int kvl_loop_text_proc(FILE *out, const struct kvl_loop *l,
			      const struct kvl_loop_proc *p,
			      const struct kvl_rhist *rh,
			      const struct kvl_show_opts *o,
			      struct kvl_rows *rows)
{
	char label[KVL_LOOP_MAX_STEPS][12], names[KVL_LOOP_MAX_STEPS][KVL_LOOP_STEP_NAME];
	struct kvl_show_opts table = *o;
	u32 i;

	fprintf(out, "\nprocess %d (", p->tgid);
	kvl_put_comm(out, p->comm[0] ? p->comm : "?");
	kvl_loop_counts(out, "): %llu completed, %llu superseded, %llu timed out, %llu unfinished",
			&p->n);
	if (p->n.dropped)
		fprintf(out, ", %llu dropped (over %d open)",
			(unsigned long long)p->n.dropped, KVL_LOOP_MAX_OPEN);
	fputc('\n', out);
	if (!p->n.completed) {
		fprintf(out, "  no instance completed\n");
		return 0;
	}
	kvl_rows_reset(rows);
	rows->first_title = "STEP";
	for (i = 0; i < l->spec.n; i++)
		if (kvl_rows_push(rows, 0,
				  kvl_loop_step_label(label[i], sizeof(label[i]),
						      &l->spec, i),
				  kvl_loop_step_name(names[i], &l->spec, i), &rh[i]))
			return -1;
	/* the bars' own headings below: a step is no vCPU nor disk */
	table.hist = false;
	kvl_rows_print(out, rows, "latency by step", "FROM -> TO", "loop", &table);
	for (i = 0; i < rows->nr && o->hist; i++) {
		bool whole = i + 1 == l->spec.n;

		fprintf(out, "\n  %s%s, %s: %llu values\n", whole ? "" : "step ",
			rows->r[i].disk, rows->r[i].name,
			(unsigned long long)rows->r[i].h->count);
		kvl_print_bars(out, rows->r[i].h, o->hist_unit, "  ");
	}
	return 0;
}

static void kvl_loop_text_events(FILE *out, const struct kvl_loop *l)
{
	u32 i;

	fputs("\nevents matched:", out);
	for (i = 0; i < l->spec.n; i++)
		fprintf(out, "%s %s %llu", i ? "," : "", l->spec.ev[i].label,
			(unsigned long long)l->matched[i]);
	fputc('\n', out);
	if (l->procs_refused)
		fprintf(out, "%llu instances not started: more than %d processes started one\n",
			(unsigned long long)l->procs_refused, KVL_LOOP_MAX_PROCS);
}

static void kvl_loop_json_proc(FILE *out, const struct kvl_loop *l,
			       const struct kvl_loop_proc *p,
			       const struct kvl_rhist *rh)
{
	u32 i, n = l->spec.n;

	fprintf(out, "{\"pid\": %d, \"comm\": ", p->tgid);
	kvl_json_str(out, p->comm);
	kvl_loop_counts(out, ", \"instances\": {\"completed\": %llu, \"superseded\": %llu, \"timed_out\": %llu, \"unfinished\": %llu, \"dropped\": %llu}, \"steps\": [",
			&p->n);
	for (i = 0; i < n; i++) {
		bool whole = i + 1 == n;

		if (whole)
			fputs("], \"loop\": {", out);
		else
			fprintf(out, "%s{\"step\": %u, ", i ? ", " : "", i + 1);
		fputs("\"from\": ", out);
		kvl_json_str(out, l->spec.ev[whole ? 0 : i].label);
		fputs(", \"to\": ", out);
		kvl_json_str(out, l->spec.ev[whole ? i : i + 1].label);
		fputs(", \"latency\": ", out);
		kvl_json_stats(out, &rh[i]);
		fputc('}', out);
	}
	fputc('}', out);
}

static void kvl_loop_json_head(FILE *out, const struct kvl_loop *l)
{
	u32 i;

	fputs("{\"schema\": \"" KVL_LOOP_JSON_SCHEMA "\", \"loop\": [", out);
	for (i = 0; i < l->spec.n; i++) {
		fputs(i ? ", " : "", out);
		kvl_json_str(out, l->spec.ev[i].label);
	}
	fprintf(out, "], \"key\": \"%s\", \"within_ns\": %llu, \"processes\": [",
		kvl_loop_key_name(l->spec.key),
		(unsigned long long)l->spec.within_ns);
}

static void kvl_loop_json_tail(FILE *out, const struct kvl_loop *l)
{
	u32 i;

	fputs("], \"events\": [", out);
	for (i = 0; i < l->spec.n; i++) {
		fputs(i ? ", {\"event\": " : "{\"event\": ", out);
		kvl_json_str(out, l->spec.ev[i].label);
		fprintf(out, ", \"matched\": %llu}",
			(unsigned long long)l->matched[i]);
	}
	fprintf(out, "], \"processes_refused\": %llu}\n",
		(unsigned long long)l->procs_refused);
}

static void kvl_loop_csv_proc(FILE *out, const struct kvl_loop *l,
			      const struct kvl_loop_proc *p,
			      const struct kvl_rhist *rh)
{
	char label[12];
	u32 i, n = l->spec.n;

	for (i = 0; i < n; i++) {
		bool whole = i + 1 == n;

		fprintf(out, "%d,", p->tgid);
		kvl_csv_str(out, p->comm);
		fprintf(out, ",%s,",
			kvl_loop_step_label(label, sizeof(label), &l->spec, i));
		kvl_csv_str(out, l->spec.ev[whole ? 0 : i].label);
		fputc(',', out);
		kvl_csv_str(out, l->spec.ev[whole ? i : i + 1].label);
		kvl_loop_counts(out, ",%llu,%llu,%llu,%llu,%llu,", &p->n);
		kvl_csv_stats(out, &rh[i]);
	}
}

int kvl_print_loop(FILE *out, const struct kvl_loop *l,
		   const struct kvl_show_opts *o)
{
	struct kvl_rhist rh[KVL_LOOP_MAX_STEPS];
	struct kvl_rows rows = { 0 };
	const char *sep = "";
	char buf[32];
	int ret = 0;
	u32 i;

	if (o->fmt == KVL_FMT_JSON) {
		kvl_loop_json_head(out, l);
	} else if (o->fmt == KVL_FMT_CSV) {
		fputs("pid,comm,step,from,to,completed,superseded,timed_out,unfinished,dropped,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n",
		      out);
	} else {
		fputs("loop:", out);
		for (i = 0; i < l->spec.n; i++)
			fprintf(out, "%s%s", i ? " -> " : " ", l->spec.ev[i].label);
		fprintf(out, "\nkey: %s; within: %s\n", kvl_loop_key_name(l->spec.key),
			l->spec.within_ns ?
			kvl_fmt_ns(buf, sizeof(buf), l->spec.within_ns) : "no limit");
		if (!l->nr_procs)
			fprintf(out, "\nno instance started: no %s in the recording\n",
				l->spec.ev[0].label);
	}
	for (i = 0; i < l->nr_procs && !ret; i++) {
		const struct kvl_loop_proc *p = &l->procs[i];

		if (!kvl_loop_selected(o, p))
			continue;
		ret = kvl_loop_rhists(rh, l, p);
		if (ret)
			break;
		if (o->fmt == KVL_FMT_JSON) {
			fputs(sep, out);
			kvl_loop_json_proc(out, l, p, rh);
			sep = ", ";
		} else if (o->fmt == KVL_FMT_CSV) {
			kvl_loop_csv_proc(out, l, p, rh);
		} else {
			ret = kvl_loop_text_proc(out, l, p, rh, o, &rows);
		}
		kvl_loop_rhists_free(rh, l->spec.n);
	}
	free(rows.r);
	if (ret)
		return -1;
	if (o->fmt == KVL_FMT_JSON)
		kvl_loop_json_tail(out, l);
	else if (o->fmt == KVL_FMT_TEXT)
		kvl_loop_text_events(out, l);
	return 0;
}
