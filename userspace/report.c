// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - "kvmio-lat report": one self-contained HTML page of a
 * snapshot (see report.h and Documentation/report.rst).
 *
 * Machine-checkable values: every element that shows a number of a
 * histogram carries
 *   data-kind    "stage", "disk" or "exit",
 *   data-pid, and data-vcpu (stage, exit) or data-fd (disk),
 *   data-path and data-stage (stage, disk), or data-reason (exit),
 *   data-field   its key in "show --json" ("count", "mean_ns", "p99_ns"...)
 *   data-value   its value, printed as show --json prints it,
 * and when it is text (class "kvl-num"), that value in show's units.  A
 * counter of the stats file is data-kind "stat", data-stat its name.  A
 * histogram's SVG (class "kvl-hist") holds one rect per bucket with
 * data-lo, data-hi and data-n: show --json's "buckets".
 *
 * Every name here is kvl_rep_* or kvl_report_* (not source.c's
 * kvl_report_live, _file, _parse): the reader's tests include the
 * userspace sources in one file, so statics must not collide.
 */
#include <stdlib.h>
#include <math.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "report.h"
#include "output.h"
#include "outfile.h"
#include "source.h"

#define KVL_REPORT_MODULE_VERSION	"/sys/module/kvmio_lat/version"

/* ------------------------------------------------------------------ */
/* text */

/*
 * @str as HTML text or attribute value: markup characters as references,
 * control characters as '?' (as show's table prints them), bytes that are
 * not UTF-8 as U+FFFD (as show --json has them).
 */
static void kvl_rep_textn(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *end = s + len;
	int n;

	while (s < end) {
		n = *s < 0x80 ? 1 : kvl_utf8_len(s);
		if (n > end - s)	/* cut short: not UTF-8 either */
			n = 0;
		if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else if (*s == '\'')
			fputs("&#39;", out);
		else if (*s < 0x20 || *s == 0x7f)
			fputc('?', out);
		else if (n)
			fwrite(s, 1, n, out);
		else
			fputs("\xef\xbf\xbd", out);	/* U+FFFD */
		s += n ? n : 1;
	}
}

static void kvl_rep_text(FILE *out, const char *str)
{
	kvl_rep_textn(out, str, strlen(str));
}

/* A command-line argument as a shell would need it, HTML-escaped. */
static void kvl_rep_arg(FILE *out, const char *arg)
{
	static const char plain[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,@+%";
	size_t n;

	if (*arg && strspn(arg, plain) == strlen(arg)) {
		kvl_rep_text(out, arg);
		return;
	}
	/* 'it'\''s': each quote closes, escapes and reopens */
	fputs("&#39;", out);
	for (;;) {
		n = strcspn(arg, "'");
		kvl_rep_textn(out, arg, n);
		if (!arg[n])
			break;
		fputs("&#39;\\&#39;&#39;", out);
		arg += n + 1;
	}
	fputs("&#39;", out);
}

/* ------------------------------------------------------------------ */
/* machine-checkable values */

enum kvl_rep_kind {
	KVL_RK_STAGE,
	KVL_RK_DISK,
	KVL_RK_EXIT,
};

static const char *const kvl_rep_kinds[] = { "stage", "disk", "exit" };

enum kvl_rep_field {
	KVL_RF_COUNT,
	KVL_RF_MIN,
	KVL_RF_MEAN,
	KVL_RF_STDDEV,
	KVL_RF_P50,
	KVL_RF_P90,
	KVL_RF_P99,
	KVL_RF_P999,
	KVL_RF_MAX,
	KVL_RF_NEGATIVE,
	KVL_RF_OVERFLOW,
};

/* show --json's key and show's column of each */
static const struct {
	const char *key;
	const char *head;
} kvl_rep_fields[] = {
	[KVL_RF_COUNT] = { "count", "count" },
	[KVL_RF_MIN] = { "min_ns", "min" },
	[KVL_RF_MEAN] = { "mean_ns", "mean" },
	[KVL_RF_STDDEV] = { "stddev_ns", "stddev" },
	[KVL_RF_P50] = { "p50_ns", "p50" },
	[KVL_RF_P90] = { "p90_ns", "p90" },
	[KVL_RF_P99] = { "p99_ns", "p99" },
	[KVL_RF_P999] = { "p999_ns", "p99.9" },
	[KVL_RF_MAX] = { "max_ns", "max" },
	[KVL_RF_NEGATIVE] = { "negative", "negative" },
	[KVL_RF_OVERFLOW] = { "overflow", "overflow" },
};

/* One histogram of the snapshot, named as show --json names it. */
struct kvl_rep_ref {
	enum kvl_rep_kind kind;
	s32 pid;
	s64 id;			/* vCPU (stage, exit) or file descriptor (disk) */
	const char *path;	/* stage, disk */
	const char *name;	/* stage or disk stage; exit reason */
	const struct kvl_rhist *h;
	struct kvl_summary m;
};

static void kvl_rep_ref(struct kvl_rep_ref *r, enum kvl_rep_kind kind,
			s32 pid, s64 id, const char *path, const char *name,
			const struct kvl_rhist *h)
{
	*r = (struct kvl_rep_ref){
		.kind = kind, .pid = pid, .id = id, .path = path, .name = name,
		.h = h,
	};
	kvl_rhist_summary(h, &r->m);
}

static void kvl_rep_ref_attrs(FILE *out, const struct kvl_rep_ref *r)
{
	fprintf(out, " data-kind=\"%s\" data-pid=\"%d\" data-%s=\"%lld\"",
		kvl_rep_kinds[r->kind], r->pid,
		r->kind == KVL_RK_DISK ? "fd" : "vcpu", (long long)r->id);
	if (r->path)
		fprintf(out, " data-path=\"%s\"", r->path);
	fputs(r->kind == KVL_RK_EXIT ? " data-reason=\"" : " data-stage=\"",
	      out);
	kvl_rep_text(out, r->name);
	fputc('"', out);
}

static bool kvl_rep_is_ns(enum kvl_rep_field f)
{
	return f != KVL_RF_COUNT && f != KVL_RF_NEGATIVE &&
	       f != KVL_RF_OVERFLOW;
}

/* The value of a field that show --json prints as an integer. */
static u64 kvl_rep_int(const struct kvl_rep_ref *r, enum kvl_rep_field f)
{
	const struct kvl_summary *m = &r->m;

	switch (f) {
	case KVL_RF_COUNT:
		return m->count;
	case KVL_RF_MIN:
		return m->min;
	case KVL_RF_P50:
		return m->p50;
	case KVL_RF_P90:
		return m->p90;
	case KVL_RF_P99:
		return m->p99;
	case KVL_RF_P999:
		return m->p999;
	case KVL_RF_MAX:
		return m->max;
	case KVL_RF_NEGATIVE:
		return r->h->negative;
	default:
		return r->h->overflow;
	}
}

/* mean and stddev are fractions, printed with one decimal */
static bool kvl_rep_is_real(enum kvl_rep_field f)
{
	return f == KVL_RF_MEAN || f == KVL_RF_STDDEV;
}

static double kvl_rep_value(const struct kvl_rep_ref *r, enum kvl_rep_field f)
{
	if (kvl_rep_is_real(f))
		return f == KVL_RF_MEAN ? r->m.mean : r->m.stddev;
	return (double)kvl_rep_int(r, f);
}

/* data-field and data-value: the value exactly as show --json prints it */
static void kvl_rep_value_attrs(FILE *out, const struct kvl_rep_ref *r,
				enum kvl_rep_field f)
{
	fprintf(out, " data-field=\"%s\" data-value=\"", kvl_rep_fields[f].key);
	if (kvl_rep_is_real(f))
		fprintf(out, "%.1f\"", kvl_rep_value(r, f));
	else
		fprintf(out, "%llu\"", (unsigned long long)kvl_rep_int(r, f));
}

/* The value as show prints it: a count, or a time in its units. */
static void kvl_rep_value_text(FILE *out, const struct kvl_rep_ref *r,
			       enum kvl_rep_field f)
{
	char buf[32];

	if (kvl_rep_is_ns(f))
		fputs(kvl_fmt_ns(buf, sizeof(buf), kvl_rep_value(r, f)), out);
	else
		fprintf(out, "%llu", (unsigned long long)kvl_rep_int(r, f));
}

/* <TAG class="kvl-num" (identity) (value)>text</TAG> */
static void kvl_rep_num(FILE *out, const char *tag,
			const struct kvl_rep_ref *r, enum kvl_rep_field f)
{
	fprintf(out, "<%s class=\"kvl-num\"", tag);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, f);
	fputc('>', out);
	kvl_rep_value_text(out, r, f);
	fprintf(out, "</%s>", tag);
}

/* Okabe-Ito colours, told apart with any colour vision; by enum kvl_stage */
static const char *const kvl_rep_stage_colour[KVL_NR_STAGES] = {
	"#e69f00", "#56b4e9", "#009e73", "#0072b2", "#f0e442", "#d55e00",
	"#cc79a7", "#555555",
};

/* by enum kvl_disk_stage: io, submit_to_irq, total */
static const char *const kvl_rep_disk_colour[KVL_NR_DISK_STAGES] = {
	"#009e73", "#0072b2", "#c8c8c8",
};

/* ------------------------------------------------------------------ */
/* what a VM has, as show --json selects it */

/* Stage @s of @v on path @p when it has values and @f selects it. */
static const struct kvl_rhist *kvl_rep_stage(const struct kvl_svcpu *v,
					     unsigned int p, unsigned int s,
					     const struct kvl_filter *f)
{
	const struct kvl_shist *h = kvl_svcpu_stage(v, p, s);

	if (!kvl_stage_name(p, s) || !h || !h->h.count ||
	    !kvl_filter_hist(f, h))
		return NULL;
	return &h->h;
}

static const struct kvl_rhist *kvl_rep_disk(const struct kvl_sdisk *d,
					    unsigned int p, unsigned int ds,
					    const struct kvl_filter *f)
{
	if (!d->h[p][ds].count || (f->path >= 0 && f->path != (int)p))
		return NULL;
	return &d->h[p][ds];
}

/*
 * A row of a chart or a table: a vCPU's stages on one path (@v), or a
 * disk's io, submit_to_irq and total on one path (@d).
 */
struct kvl_rep_row {
	const struct kvl_svm *vm;
	const struct kvl_svcpu *v;
	const struct kvl_sdisk *d;
	unsigned int p;
	const struct kvl_filter *f;
};

/* Row @i of @vm's vCPUs (@disks: of its disks) on path @p; false past them. */
static bool kvl_rep_row_at(struct kvl_rep_row *w, const struct kvl_svm *vm,
			   unsigned int p, const struct kvl_filter *f,
			   bool disks, u32 i)
{
	if (i >= (disks ? vm->nr_disks : vm->nr_vcpus))
		return false;
	*w = (struct kvl_rep_row){
		.vm = vm,
		.v = disks ? NULL : &vm->vcpus[i],
		.d = disks ? &vm->disks[i] : NULL,
		.p = p,
		.f = f,
	};
	return true;
}

static unsigned int kvl_rep_row_stages(const struct kvl_rep_row *w)
{
	return w->v ? KVL_NR_STAGES : KVL_NR_DISK_STAGES;
}

/* the stage that spans the others */
static unsigned int kvl_rep_row_total(const struct kvl_rep_row *w)
{
	return w->v ? KVL_ST_TOTAL : KVL_DS_TOTAL;
}

static const char *kvl_rep_row_colour(const struct kvl_rep_row *w,
				      unsigned int k)
{
	return w->v ? kvl_rep_stage_colour[k] : kvl_rep_disk_colour[k];
}

/* Stage @k of the row into @r; false when it has no values. */
static bool kvl_rep_row_ref(const struct kvl_rep_row *w, unsigned int k,
			    struct kvl_rep_ref *r)
{
	const struct kvl_rhist *h;

	if (w->v) {
		h = kvl_rep_stage(w->v, w->p, k, w->f);
		if (h)
			kvl_rep_ref(r, KVL_RK_STAGE, w->vm->pid, w->v->id,
				    kvl_path_name(w->p), kvl_stage_name(w->p, k), h);
	} else {
		h = kvl_rep_disk(w->d, w->p, k, w->f);
		if (h)
			kvl_rep_ref(r, KVL_RK_DISK, w->vm->pid, w->d->fd,
				    kvl_path_name(w->p), kvl_disk_stage_name(k), h);
	}
	return !!h;
}

/* The row is selected and has values. */
static bool kvl_rep_row_on(const struct kvl_rep_row *w)
{
	struct kvl_rep_ref r;
	unsigned int k;

	if (w->v && !kvl_filter_vcpu(w->f, w->v))
		return false;
	for (k = 0; k < kvl_rep_row_stages(w); k++)
		if (kvl_rep_row_ref(w, k, &r))
			return true;
	return false;
}

/* Any row of @vm's vCPUs (@disks: disks) with values on path @p. */
static bool kvl_rep_vm_on(const struct kvl_svm *vm, unsigned int p,
			  const struct kvl_filter *f, bool disks)
{
	struct kvl_rep_row w;
	u32 i;

	for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++)
		if (kvl_rep_row_on(&w))
			return true;
	return false;
}

/* "vCPU 0", or show --disk's "fd 3 (/dev/vdb)" (@name: with its name) */
static void kvl_rep_row_label(FILE *out, const struct kvl_rep_row *w,
			      bool name)
{
	if (w->v) {
		fprintf(out, "vCPU %u", w->v->id);
		return;
	}
	fprintf(out, "fd %d", w->d->fd);
	if (name && w->d->name && *w->d->name) {
		fputs(" (", out);
		kvl_rep_text(out, w->d->name);
		fputc(')', out);
	}
}

/* The next exit reason of @v with values, from *@i on, into @r. */
static bool kvl_rep_next_exit(const struct kvl_svm *vm,
			      const struct kvl_svcpu *v, u32 *i,
			      struct kvl_rep_ref *r)
{
	const struct kvl_shist *h;

	for (; *i < v->nr_hists; (*i)++) {
		h = &v->hists[*i];
		if (h->kind == KVL_KIND_EXIT && h->h.count) {
			kvl_rep_ref(r, KVL_RK_EXIT, vm->pid, v->id, NULL,
				    h->reason, &h->h);
			(*i)++;
			return true;
		}
	}
	return false;
}

static bool kvl_rep_has_exits(const struct kvl_svm *vm,
			      const struct kvl_svcpu *v)
{
	struct kvl_rep_ref r;
	u32 i = 0;

	return kvl_rep_next_exit(vm, v, &i, &r);
}

/* ------------------------------------------------------------------ */
/* tables */

static void kvl_rep_swatch(FILE *out, const char *colour, const char *name)
{
	fprintf(out, "<span class=\"kvl-sw\" style=\"background:%s\"></span>",
		colour);
	kvl_rep_text(out, name);
}

static void kvl_rep_heads(FILE *out, const enum kvl_rep_field *f,
			  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fprintf(out, "<th class=\"kvl-h-%s\">%s</th>",
			kvl_rep_fields[f[i]].key, kvl_rep_fields[f[i]].head);
}

static void kvl_rep_cells(FILE *out, const struct kvl_rep_ref *r,
			  const enum kvl_rep_field *f, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		kvl_rep_num(out, "td", r, f[i]);
}

/* show's columns */
static const enum kvl_rep_field kvl_rep_show_cols[] = {
	KVL_RF_COUNT, KVL_RF_MIN, KVL_RF_MEAN, KVL_RF_STDDEV, KVL_RF_P50,
	KVL_RF_P90, KVL_RF_P99, KVL_RF_P999, KVL_RF_MAX,
};

/* The header cells of show's columns, to the end of the row. */
static void kvl_rep_show_heads(FILE *out)
{
	kvl_rep_heads(out, kvl_rep_show_cols, ARRAY_SIZE(kvl_rep_show_cols));
	fputs("</tr>\n", out);
}

/* The rest of a row of show's table: the stage (or reason), its numbers. */
static void kvl_rep_show_cells(FILE *out, const struct kvl_rep_ref *r)
{
	fputs("<td>", out);
	kvl_rep_text(out, r->name);
	fputs("</td>", out);
	kvl_rep_cells(out, r, kvl_rep_show_cols, ARRAY_SIZE(kvl_rep_show_cols));
	fputs("</tr>\n", out);
}

/* a histogram's caption */
static const enum kvl_rep_field kvl_rep_short_cols[] = {
	KVL_RF_COUNT, KVL_RF_MEAN, KVL_RF_P50, KVL_RF_P99, KVL_RF_P999,
};

/* ------------------------------------------------------------------ */
/* SVG axes */

/* Decade labels of a log axis: 10^k ns, k = 0..12 (2^37 ns is 137 s). */
static const char *const kvl_rep_decades[] = {
	"1ns", "10ns", "100ns", "1µs", "10µs", "100µs", "1ms", "10ms",
	"100ms", "1s", "10s", "100s", "1000s",
};

#define KVL_REP_MAX_DECADE	12

/* A log-scaled time axis from 10^d0 to 10^d1 ns over [x0, x1] px. */
struct kvl_rep_logx {
	int d0, d1;
	double x0, x1;
	double zero;		/* px left of x0 kept for [0, 1 ns); 0: none */
};

static void kvl_rep_logx_init(struct kvl_rep_logx *a, double lo, double hi,
			      double x0, double x1, double zero)
{
	a->d0 = lo >= 1 ? (int)floor(log10(lo)) : 0;
	a->d1 = hi > 1 ? (int)ceil(log10(hi)) : 1;
	if (a->d0 > KVL_REP_MAX_DECADE - 1)
		a->d0 = KVL_REP_MAX_DECADE - 1;
	if (a->d1 > KVL_REP_MAX_DECADE)
		a->d1 = KVL_REP_MAX_DECADE;
	if (a->d1 <= a->d0)
		a->d1 = a->d0 + 1;
	a->zero = zero;
	a->x0 = x0 + zero;
	a->x1 = x1;
}

/* Where @ns is; below the axis: in the zero slot, or at its start. */
static double kvl_rep_logx_pos(const struct kvl_rep_logx *a, double ns)
{
	double t;

	if (ns < 1 || log10(ns) < a->d0)
		return a->zero ? a->x0 - a->zero / 2 : a->x0;
	t = (log10(ns) - a->d0) / (a->d1 - a->d0);
	return a->x0 + (t > 1 ? 1 : t) * (a->x1 - a->x0);
}

static void kvl_rep_logx_draw(FILE *out, const struct kvl_rep_logx *a,
			      double y)
{
	double x;
	int d;

	fprintf(out, "<g class=\"kvl-axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		a->x0 - a->zero, y, a->x1, y);
	for (d = a->d0; d <= a->d1; d++) {
		x = a->x0 + (double)(d - a->d0) / (a->d1 - a->d0) * (a->x1 - a->x0);
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			x, y, x, y + 4);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>",
			x, y + 14, d == a->d1 ? "end" :
			d == a->d0 && !a->zero ? "start" : "middle",
			kvl_rep_decades[d]);
	}
	if (a->zero)
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">0</text>",
			a->x0 - a->zero / 2, y + 14);
	fputs("</g>\n", out);
}

/* A linear time axis from 0 over @px px at @x0: 1, 2 or 5 x 10^k steps. */
static void kvl_rep_linx_draw(FILE *out, double longest, double x0,
			      double px, double y)
{
	static const struct {
		double div;
		const char *unit;
	} units[] = { { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "µs" }, { 1, "ns" } };
	double raw = longest / 5, mag = pow(10, floor(log10(raw))), step, t;
	unsigned int u = 0, k;

	step = raw / mag <= 1 ? mag : raw / mag <= 2 ? 2 * mag :
	       raw / mag <= 5 ? 5 * mag : 10 * mag;
	while (u + 1 < ARRAY_SIZE(units) &&
	       floor(longest / step) * step < units[u].div)
		u++;
	fprintf(out, "<g class=\"kvl-axis\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		x0, y, x0 + px, y);
	for (k = 0; (t = k * step) <= longest * (1 + 1e-9); k++) {
		double x = x0 + t / longest * px;

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
			x, y, x, y + 4);
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g%s</text>",
			x, y + 14, t / units[u].div, k ? units[u].unit : "");
	}
	fputs("</g>\n", out);
}

static void kvl_rep_svg_open(FILE *out, const char *class, double w,
			     double h)
{
	fprintf(out, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"",
		class, w, h, w, h);
}

/* ------------------------------------------------------------------ */
/* a histogram */

#define KVL_RH_W	300	/* viewBox */
#define KVL_RH_H	110
#define KVL_RH_X0	8	/* plot */
#define KVL_RH_X1	290
#define KVL_RH_TOP	8
#define KVL_RH_AXIS	86
#define KVL_RH_ZERO	14	/* the [0, 1 ns) slot, when it has values */
#define KVL_RH_MIN_W	0.5	/* px: a narrower bucket is widened to be seen */

static const struct {
	enum kvl_rep_field f;
	const char *dash;
} kvl_rep_marks[] = {
	{ KVL_RF_P50, "" },
	{ KVL_RF_P99, " stroke-dasharray=\"4 2\"" },
	{ KVL_RF_P999, " stroke-dasharray=\"1 2\"" },
};

/* Where bucket @idx starts on @a; its width in *@w. */
static double kvl_rep_bucket_x(const struct kvl_rep_logx *a, u32 idx,
			       double *w)
{
	u64 lo = kvl_hist_bucket_lo(idx);
	double x;

	if (!lo) {		/* [0, 1): the slot left of the axis */
		*w = a->zero - 4;
		return a->x0 - a->zero + 2;
	}
	x = kvl_rep_logx_pos(a, lo);
	*w = fmax(kvl_rep_logx_pos(a, kvl_hist_bucket_hi(idx)) - x,
		  KVL_RH_MIN_W);
	return x;
}

/*
 * Bars of the buckets on a log time axis.  A bar's height is its count
 * per pixel of width, so its area is its count: buckets are 1/16 to 1/32
 * of an octave wide, and raw counts would draw a saw.
 */
static void kvl_rep_hist_svg(FILE *out, const struct kvl_rep_ref *r)
{
	const struct kvl_rhist *h = r->h;
	struct kvl_rep_logx a;
	double x, w, most = 0, y;
	bool zero = h->nr && !h->b[0].idx;
	u32 i, first = zero ? 1 : 0;
	unsigned int k;

	kvl_rep_logx_init(&a, first < h->nr ? kvl_hist_bucket_lo(h->b[first].idx) : 1,
			  h->nr ? kvl_hist_bucket_hi(h->b[h->nr - 1].idx) : 10,
			  KVL_RH_X0, KVL_RH_X1, zero ? KVL_RH_ZERO : 0);
	for (i = 0; i < h->nr; i++) {
		kvl_rep_bucket_x(&a, h->b[i].idx, &w);
		most = fmax(most, h->b[i].n / w);
	}
	kvl_rep_svg_open(out, "kvl-hist", KVL_RH_W, KVL_RH_H);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, KVL_RF_COUNT);
	fprintf(out, " data-negative=\"%llu\" data-overflow=\"%llu\">\n<title>",
		(unsigned long long)h->negative, (unsigned long long)h->overflow);
	kvl_rep_text(out, r->name);
	fputs(": values per bucket, log time axis</title>\n", out);
	for (i = 0; i < h->nr; i++) {
		char lo[32], hi[32];

		x = kvl_rep_bucket_x(&a, h->b[i].idx, &w);
		y = (KVL_RH_AXIS - KVL_RH_TOP) * (h->b[i].n / w) / most;
		fprintf(out, "<rect class=\"kvl-bucket\" data-lo=\"%llu\" data-hi=\"%llu\" data-n=\"%llu\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"><title>[%s, %s) %llu</title></rect>\n",
			(unsigned long long)kvl_hist_bucket_lo(h->b[i].idx),
			(unsigned long long)kvl_hist_bucket_hi(h->b[i].idx),
			(unsigned long long)h->b[i].n, x, KVL_RH_AXIS - y, w, y,
			kvl_fmt_ns(lo, sizeof(lo), kvl_hist_bucket_lo(h->b[i].idx)),
			kvl_fmt_ns(hi, sizeof(hi), kvl_hist_bucket_hi(h->b[i].idx)),
			(unsigned long long)h->b[i].n);
	}
	for (k = 0; k < ARRAY_SIZE(kvl_rep_marks); k++) {
		x = kvl_rep_logx_pos(&a, kvl_rep_value(r, kvl_rep_marks[k].f));
		fputs("<line class=\"kvl-mark\"", out);
		kvl_rep_ref_attrs(out, r);
		kvl_rep_value_attrs(out, r, kvl_rep_marks[k].f);
		fprintf(out, " x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"%s/>\n",
			x, KVL_RH_TOP - 4, x, KVL_RH_AXIS, kvl_rep_marks[k].dash);
	}
	x = kvl_rep_logx_pos(&a, r->m.mean);
	fputs("<path class=\"kvl-mark kvl-mean\"", out);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, KVL_RF_MEAN);
	fprintf(out, " d=\"M%.2f %d l-4 6 h8 z\"/>\n", x, KVL_RH_AXIS + 1);
	kvl_rep_logx_draw(out, &a, KVL_RH_AXIS + 7);
	if (!h->nr)
		fprintf(out, "<text x=\"%d\" y=\"%d\">every value in the overflow</text>\n",
			KVL_RH_X0, KVL_RH_AXIS / 2);
	fputs("</svg>\n", out);
}

/* A histogram with its numbers: @title says which one. */
static void kvl_rep_hist_figure(FILE *out, const struct kvl_rep_ref *r,
				const char *colour, const char *title)
{
	fputs("<figure class=\"kvl-hfig\"><figcaption>", out);
	kvl_rep_swatch(out, colour, r->name);
	fputs(" <span class=\"kvl-where\">", out);
	kvl_rep_text(out, title);
	fputs("</span></figcaption>\n", out);
	kvl_rep_hist_svg(out, r);
	fputs("<table class=\"kvl-sum\"><tr>", out);
	kvl_rep_heads(out, kvl_rep_short_cols, ARRAY_SIZE(kvl_rep_short_cols));
	fputs("</tr>\n<tr>", out);
	kvl_rep_cells(out, r, kvl_rep_short_cols, ARRAY_SIZE(kvl_rep_short_cols));
	fputs("</tr></table>\n", out);
	if (r->h->negative || r->h->overflow) {
		fputs("<p class=\"kvl-note\">", out);
		if (r->h->negative) {
			kvl_rep_num(out, "span", r, KVL_RF_NEGATIVE);
			fputs(" negative (clock skew), counted as 0. ", out);
		}
		if (r->h->overflow) {
			kvl_rep_num(out, "span", r, KVL_RF_OVERFLOW);
			fputs(" of 137 s or more, in no bucket.", out);
		}
		fputs("</p>\n", out);
	}
	fputs("</figure>\n", out);
}

/* ------------------------------------------------------------------ */
/* where the time goes: a bar per vCPU or disk, per path */

#define KVL_RB_W	540	/* viewBox: three side by side on a laptop */
#define KVL_RB_X0	64	/* bars start */
#define KVL_RB_PX	300	/* the longest bar of the VM */
#define KVL_RB_TEXT	(KVL_RB_X0 + KVL_RB_PX + 8)
#define KVL_RB_ROW	26
#define KVL_RB_BAR	18
#define KVL_RB_AXIS	26

/* How long a row's bar is: its stages end to end, or its widest (disk). */
static double kvl_rep_row_length(const struct kvl_rep_row *w)
{
	double sum = 0, longest = 0;
	struct kvl_rep_ref r;
	unsigned int k;

	for (k = 0; k < kvl_rep_row_stages(w); k++) {
		if (!kvl_rep_row_ref(w, k, &r))
			continue;
		if (w->v && k != KVL_ST_TOTAL)
			sum += r.m.mean;
		longest = fmax(longest, fmax(sum, r.m.mean));
	}
	return longest;
}

/* The longest bar of @vm on any path: the scale of all of its bars. */
static double kvl_rep_longest(const struct kvl_svm *vm,
			      const struct kvl_filter *f)
{
	struct kvl_rep_row w;
	double longest = 1;
	unsigned int p;
	int disks;
	u32 i;

	for (disks = 0; disks < 2; disks++)
		for (p = 0; p < KVL_NR_PATHS; p++)
			for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++)
				if (kvl_rep_row_on(&w))
					longest = fmax(longest,
						       kvl_rep_row_length(&w));
	return longest;
}

/* A bar's segment: a rect with the stage's mean. */
static void kvl_rep_segment(FILE *out, const struct kvl_rep_ref *r,
			    const char *colour, double x, double y, double w,
			    double h)
{
	char mean[32], p99[32];

	fputs("<rect class=\"kvl-seg\"", out);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, KVL_RF_MEAN);
	fprintf(out, " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>",
		x, y, w, h, colour);
	kvl_rep_text(out, r->name);
	fprintf(out, ": mean %s, p99 %s, %llu values</title></rect>\n",
		kvl_fmt_ns(mean, sizeof(mean), r->m.mean),
		kvl_fmt_ns(p99, sizeof(p99), r->m.p99),
		(unsigned long long)r->m.count);
}

/*
 * A row's bar.  A vCPU's stages follow each other: their means end to
 * end, then a mark at the mean of total (the means of stages with fewer
 * values need not add up to it).  A disk's nest (io within submit_to_irq
 * within total): each from 0 to its mean, the inner ones thinner, on top.
 * Right of it the mean and p99 of total.
 */
static void kvl_rep_bar(FILE *out, const struct kvl_rep_row *w, double scale,
			double y)
{
	unsigned int n = kvl_rep_row_stages(w), j, k;
	double x = KVL_RB_X0, inset;
	bool nested = !w->v;
	struct kvl_rep_ref r;

	fprintf(out, "<text x=\"4\" y=\"%.1f\">", y + KVL_RB_BAR - 5);
	kvl_rep_row_label(out, w, false);
	fputs("</text>\n", out);
	for (j = 0; j < n; j++) {
		k = nested ? n - 1 - j : j;
		if ((!nested && k == KVL_ST_TOTAL) || !kvl_rep_row_ref(w, k, &r))
			continue;
		inset = nested ? j * KVL_RB_BAR / 6.0 : 0;
		kvl_rep_segment(out, &r, kvl_rep_row_colour(w, k),
				nested ? KVL_RB_X0 : x, y + inset,
				r.m.mean * scale, KVL_RB_BAR - 2 * inset);
		x += r.m.mean * scale;
	}
	if (!kvl_rep_row_ref(w, kvl_rep_row_total(w), &r))
		return;
	if (!nested) {
		x = KVL_RB_X0 + r.m.mean * scale;
		fputs("<line class=\"kvl-mark\"", out);
		kvl_rep_ref_attrs(out, &r);
		kvl_rep_value_attrs(out, &r, KVL_RF_MEAN);
		fprintf(out, " x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n",
			x, y - 3, x, y + KVL_RB_BAR + 3);
	}
	fprintf(out, "<text x=\"%d\" y=\"%.1f\">total ", KVL_RB_TEXT,
		y + KVL_RB_BAR - 5);
	kvl_rep_num(out, "tspan", &r, KVL_RF_MEAN);
	fputs(", p99 ", out);
	kvl_rep_num(out, "tspan", &r, KVL_RF_P99);
	fputs("</text>\n", out);
}

/* The legend of a chart: each row's stages, their colour, mean and p99. */
static void kvl_rep_legend(FILE *out, const struct kvl_svm *vm,
			   unsigned int p, const struct kvl_filter *f,
			   bool disks)
{
	struct kvl_rep_row w;
	struct kvl_rep_ref r;
	unsigned int k;
	bool first;
	u32 i;

	fprintf(out, "<div class=\"kvl-scroll\"><table class=\"kvl-legend\"><tr><th>%s</th><th>stage</th><th class=\"kvl-h-mean_ns\">mean</th><th class=\"kvl-h-p99_ns\">p99</th></tr>\n",
		disks ? "disk" : "vCPU");
	for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++) {
		if (!kvl_rep_row_on(&w))
			continue;
		first = true;
		for (k = 0; k < kvl_rep_row_stages(&w); k++) {
			if (!kvl_rep_row_ref(&w, k, &r))
				continue;
			fputs("<tr data-stage=\"", out);
			kvl_rep_text(out, r.name);
			fputs("\"><td>", out);
			if (first)
				kvl_rep_row_label(out, &w, true);
			first = false;
			fputs("</td><td>", out);
			kvl_rep_swatch(out, kvl_rep_row_colour(&w, k), r.name);
			fputs("</td>", out);
			kvl_rep_num(out, "td", &r, KVL_RF_MEAN);
			kvl_rep_num(out, "td", &r, KVL_RF_P99);
			fputs("</tr>\n", out);
		}
	}
	fputs("</table></div>\n", out);
}

/* One path's chart, a bar per vCPU (@disks: per disk), with its legend. */
static void kvl_rep_breakdown(FILE *out, const struct kvl_svm *vm,
			      unsigned int p, const struct kvl_filter *f,
			      double longest, bool disks)
{
	double scale = KVL_RB_PX / longest, y = 6;
	struct kvl_rep_row w;
	u32 i, rows = 0;

	for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++)
		rows += kvl_rep_row_on(&w);
	fprintf(out, "<figure class=\"kvl-breakdown\" data-pid=\"%d\" data-path=\"%s\" data-rows=\"%s\">\n<figcaption>%s path%s</figcaption>\n",
		vm->pid, kvl_path_name(p), disks ? "disk" : "vcpu",
		kvl_path_name(p), disks ? ", by disk" : "");
	kvl_rep_svg_open(out, "kvl-stack", KVL_RB_W,
			 y + rows * KVL_RB_ROW + KVL_RB_AXIS);
	fprintf(out, " data-pid=\"%d\" data-path=\"%s\" data-scale=\"%.6g\">\n",
		vm->pid, kvl_path_name(p), scale);
	for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++) {
		if (!kvl_rep_row_on(&w))
			continue;
		kvl_rep_bar(out, &w, scale, y);
		y += KVL_RB_ROW;
	}
	kvl_rep_linx_draw(out, longest, KVL_RB_X0, KVL_RB_PX, y);
	fputs("</svg>\n", out);
	kvl_rep_legend(out, vm, p, f, disks);
	fputs("</figure>\n", out);
}

static void kvl_rep_where(FILE *out, const struct kvl_svm *vm,
			  const struct kvl_filter *f)
{
	double longest = kvl_rep_longest(vm, f);
	unsigned int p;
	int disks;

	fputs("<h3>Where the time goes</h3>\n<p class=\"kvl-note\">Each bar is a request's mean time, stage by stage (one scale for the whole VM); the black mark and the figures right of it are the mean and p99 of <code>total</code>.  A disk's stages nest: <code>io</code> within <code>submit_to_irq</code> within <code>total</code>.  Hover for a segment's numbers.</p>\n",
	      out);
	for (disks = 0; disks < 2; disks++) {
		bool any = false;

		for (p = 0; p < KVL_NR_PATHS; p++) {
			if (!kvl_rep_vm_on(vm, p, f, disks))
				continue;
			if (!any)
				fprintf(out, "<div class=\"kvl-paths\" data-rows=\"%s\">\n",
					disks ? "disk" : "vcpu");
			any = true;
			kvl_rep_breakdown(out, vm, p, f, longest, disks);
		}
		if (any)
			fputs("</div>\n", out);
	}
}

/* ------------------------------------------------------------------ */
/* histograms and show's tables */

/* A row's histograms, one figure per stage with values. */
static void kvl_rep_row_hists(FILE *out, const struct kvl_rep_row *w)
{
	struct kvl_rep_ref r;
	char title[64];
	unsigned int k;

	if (w->v)
		snprintf(title, sizeof(title), "%s, vCPU %u",
			 kvl_path_name(w->p), w->v->id);
	else
		snprintf(title, sizeof(title), "%s, fd %d",
			 kvl_path_name(w->p), w->d->fd);
	fprintf(out, "<h4>%s path, ", kvl_path_name(w->p));
	kvl_rep_row_label(out, w, true);
	fputs("</h4>\n<div class=\"kvl-grid\">\n", out);
	for (k = 0; k < kvl_rep_row_stages(w); k++)
		if (kvl_rep_row_ref(w, k, &r))
			kvl_rep_hist_figure(out, &r, kvl_rep_row_colour(w, k),
					    title);
	fputs("</div>\n", out);
}

static void kvl_rep_hists(FILE *out, const struct kvl_svm *vm,
			  const struct kvl_filter *f, bool disks)
{
	struct kvl_rep_row w;
	bool any = false;
	unsigned int p;
	u32 i;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++) {
			if (!kvl_rep_row_on(&w))
				continue;
			if (!any)
				fprintf(out, "<details class=\"kvl-sec\" id=\"vm-%d-%s\" open><summary>%s histograms</summary>\n<p class=\"kvl-note\">Values per bucket of the module (16 per power of two) on a log time axis; a bar's area is its count.  Lines: p50 (solid), p99 (dashed), p99.9 (dotted); the triangle is the mean.</p>\n",
					vm->pid, disks ? "disks" : "stages",
					disks ? "Disk" : "Stage");
			any = true;
			kvl_rep_row_hists(out, &w);
		}
	}
	if (any)
		fputs("</details>\n", out);
}

/* show's table (@disks: show --disk's): per path, each row's stages */
static void kvl_rep_table(FILE *out, const struct kvl_svm *vm,
			  const struct kvl_filter *f, bool disks)
{
	struct kvl_rep_row w;
	struct kvl_rep_ref r;
	unsigned int p, k;
	bool any = false;
	u32 i;

	for (p = 0; p < KVL_NR_PATHS; p++) {
		for (i = 0; kvl_rep_row_at(&w, vm, p, f, disks, i); i++) {
			if (!kvl_rep_row_on(&w))
				continue;
			if (!any) {
				fprintf(out, "<details class=\"kvl-sec\" id=\"vm-%d-%s-table\" open><summary>Request latency by %s, as <code>kvmio-lat show%s</code> prints it</summary>\n<div class=\"kvl-scroll\"><table class=\"kvl-table\"><tr><th>path</th><th>%s</th><th>stage</th>",
					vm->pid, disks ? "disk" : "stage",
					disks ? "disk" : "stage",
					disks ? " --disk" : "",
					disks ? "disk" : "vCPU");
				kvl_rep_show_heads(out);
			}
			any = true;
			for (k = 0; k < kvl_rep_row_stages(&w); k++) {
				if (!kvl_rep_row_ref(&w, k, &r))
					continue;
				fprintf(out, "<tr><td>%s</td><td>", r.path);
				kvl_rep_row_label(out, &w, true);
				fputs("</td>", out);
				kvl_rep_show_cells(out, &r);
			}
		}
	}
	if (any)
		fputs("</table></div></details>\n", out);
}

/* ------------------------------------------------------------------ */
/* exits */

#define KVL_RX_W	720	/* viewBox */
#define KVL_RX_X0	160	/* bars start; reasons left of it */
#define KVL_RX_X1	440
#define KVL_RX_TEXT	(KVL_RX_X1 + 8)
#define KVL_RX_ROW	20
#define KVL_RX_BAR	12

static void kvl_rep_exit_row(FILE *out, const struct kvl_rep_ref *r,
			     const struct kvl_rep_logx *a, double y)
{
	double x = kvl_rep_logx_pos(a, r->m.mean);
	double x50 = kvl_rep_logx_pos(a, r->m.p50);
	double x99 = kvl_rep_logx_pos(a, r->m.p99);

	fprintf(out, "<g class=\"kvl-exit\"><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
		KVL_RX_X0 - 6, y + KVL_RX_BAR - 2);
	kvl_rep_text(out, r->name);
	fputs("</text>\n", out);
	kvl_rep_segment(out, r, "#0072b2", KVL_RX_X0, y, fmax(x - KVL_RX_X0, 1),
			KVL_RX_BAR);
	fputs("<line class=\"kvl-mark\"", out);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, KVL_RF_P50);
	fprintf(out, " x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>\n",
		x50, y + 2, x50, y + KVL_RX_BAR - 2);
	fputs("<path class=\"kvl-mark kvl-p99\"", out);
	kvl_rep_ref_attrs(out, r);
	kvl_rep_value_attrs(out, r, KVL_RF_P99);
	fprintf(out, " d=\"M%.2f %.1f v%d M%.2f %.1f H%.2f\"/>\n", x99, y,
		KVL_RX_BAR, x, y + KVL_RX_BAR / 2.0, x99);
	fprintf(out, "<text x=\"%d\" y=\"%.1f\">mean ", KVL_RX_TEXT,
		y + KVL_RX_BAR - 2);
	kvl_rep_num(out, "tspan", r, KVL_RF_MEAN);
	fputs(", p99 ", out);
	kvl_rep_num(out, "tspan", r, KVL_RF_P99);
	fputs(", ", out);
	kvl_rep_num(out, "tspan", r, KVL_RF_COUNT);
	fputs(" exits</text></g>\n", out);
}

/* A vCPU's exit latency by reason: bars on a log axis, then show's table. */
static void kvl_rep_vcpu_exits(FILE *out, const struct kvl_svm *vm,
			       const struct kvl_svcpu *v)
{
	double lo = INFINITY, hi = 0, y = 4;
	struct kvl_rep_logx a;
	struct kvl_rep_ref r;
	u32 i, rows = 0;

	for (i = 0; kvl_rep_next_exit(vm, v, &i, &r);) {
		lo = fmin(lo, fmin(r.m.p50, r.m.mean));
		hi = fmax(hi, fmax(r.m.p99, r.m.mean));
		rows++;
	}
	kvl_rep_logx_init(&a, lo, hi, KVL_RX_X0, KVL_RX_X1, 0);
	fprintf(out, "<figure class=\"kvl-exits-fig\"><figcaption>vCPU %u</figcaption>\n",
		v->id);
	kvl_rep_svg_open(out, "kvl-exits", KVL_RX_W,
			 y + rows * KVL_RX_ROW + KVL_RB_AXIS);
	fprintf(out, " data-pid=\"%d\" data-vcpu=\"%u\">\n", vm->pid, v->id);
	for (i = 0; kvl_rep_next_exit(vm, v, &i, &r);) {
		kvl_rep_exit_row(out, &r, &a, y);
		y += KVL_RX_ROW;
	}
	kvl_rep_logx_draw(out, &a, y);
	fputs("</svg>\n<div class=\"kvl-scroll\"><table class=\"kvl-table\"><tr><th>reason</th>",
	      out);
	kvl_rep_show_heads(out);
	for (i = 0; kvl_rep_next_exit(vm, v, &i, &r);) {
		fputs("<tr>", out);
		kvl_rep_show_cells(out, &r);
	}
	fputs("</table></div></figure>\n", out);
}

static void kvl_rep_exits(FILE *out, const struct kvl_svm *vm,
			  const struct kvl_filter *f)
{
	bool any = false;
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		if (!kvl_filter_vcpu(f, &vm->vcpus[i]) ||
		    !kvl_rep_has_exits(vm, &vm->vcpus[i]))
			continue;
		if (!any)
			fprintf(out, "<details class=\"kvl-sec\" id=\"vm-%d-exits\" open><summary>Exit latency by reason (exit to next entry)</summary>\n<p class=\"kvl-note\">Bars: the mean on a log time axis; the tick is the p50, the whisker ends at the p99.</p>\n",
				vm->pid);
		any = true;
		kvl_rep_vcpu_exits(out, vm, &vm->vcpus[i]);
	}
	if (any)
		fputs("</details>\n", out);
}

/* ------------------------------------------------------------------ */
/* the page */

static const char kvl_rep_style[] =
"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;background:#fff;margin:0 auto;max-width:1500px;padding:16px 24px}\n"
"h1{font-size:22px;margin:0 0 2px}h2{font-size:18px;border-bottom:2px solid #ddd;padding-bottom:4px;margin:36px 0 8px}\n"
"h3{font-size:15px;margin:18px 0 6px}h4{font-size:13px;margin:14px 0 6px;color:#444}\n"
"table{border-collapse:collapse;font-size:12px;margin:4px 0}th,td{padding:2px 8px;text-align:left;border-bottom:1px solid #eee;white-space:nowrap}\n"
"th{font-weight:600;color:#444}td.kvl-num,th[class^=kvl-h-]{text-align:right}\n"
".kvl-facts th,.kvl-facts td{vertical-align:top;white-space:normal}\n"
"code{font:12px ui-monospace,monospace;background:#f3f3f3;padding:1px 4px;border-radius:3px}\n"
"figure{margin:0}figcaption{font-weight:600;margin:2px 0 4px}.kvl-where{font-weight:400;color:#666}\n"
"svg{display:block;max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#333}\n"
".kvl-axis line{stroke:#888;stroke-width:1}.kvl-axis text{fill:#666;font-size:10px}\n"
".kvl-bucket{fill:#4c78a8}.kvl-mark{stroke:#111;stroke-width:1.5;fill:none}.kvl-mean{fill:#111;stroke:none}\n"
".kvl-paths{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:12px 24px;margin-bottom:12px}\n"
".kvl-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px}\n"
".kvl-hfig{border:1px solid #e3e3e3;border-radius:4px;padding:6px 8px}.kvl-hfig table,.kvl-hfig svg{width:100%}\n"
".kvl-exits-fig{margin-bottom:14px}\n"
".kvl-sw{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px;vertical-align:-1px;border:1px solid #0002}\n"
".kvl-scroll{overflow-x:auto}.kvl-note{color:#555;font-size:12px;margin:4px 0 8px}\n"
".kvl-sum .kvl-h-p50_ns{border-bottom:2px solid #111}.kvl-sum .kvl-h-p99_ns{border-bottom:2px dashed #111}.kvl-sum .kvl-h-p999_ns{border-bottom:2px dotted #111}\n"
"details.kvl-sec{margin:10px 0}details.kvl-sec>summary{cursor:pointer;font-weight:600;font-size:15px;margin:12px 0 6px}\n"
"nav ul{margin:4px 0;padding-left:20px}.kvl-dim{opacity:.25}#kvl-toolbar button{margin-right:6px}\n"
"@media print{#kvl-toolbar{display:none}.kvl-hfig{break-inside:avoid}}\n";

/*
 * Niceties only: every chart and number is in the page without it.  It
 * dims the other stages of a chart while one is hovered, and adds
 * buttons that open or close every section.
 */
static const char kvl_rep_script[] =
"(function () {\n"
"\t'use strict';\n"
"\tdocument.documentElement.classList.add('kvl-js');\n"
"\tdocument.querySelectorAll('figure.kvl-breakdown').forEach(function (fig) {\n"
"\t\tvar parts = fig.querySelectorAll('[data-stage]');\n"
"\t\tfunction dim(stage) {\n"
"\t\t\tparts.forEach(function (el) {\n"
"\t\t\t\tel.classList.toggle('kvl-dim', stage !== null &&\n"
"\t\t\t\t\tel.getAttribute('data-stage') !== stage);\n"
"\t\t\t});\n"
"\t\t}\n"
"\t\tfig.addEventListener('mouseover', function (e) {\n"
"\t\t\tvar el = e.target.closest('[data-stage]');\n"
"\t\t\tdim(el ? el.getAttribute('data-stage') : null);\n"
"\t\t});\n"
"\t\tfig.addEventListener('mouseleave', function () { dim(null); });\n"
"\t});\n"
"\tvar bar = document.getElementById('kvl-toolbar');\n"
"\t[['open every section', true], ['close every section', false]].forEach(function (b) {\n"
"\t\tvar button = document.createElement('button');\n"
"\t\tbutton.type = 'button';\n"
"\t\tbutton.textContent = b[0];\n"
"\t\tbutton.addEventListener('click', function () {\n"
"\t\t\tdocument.querySelectorAll('details').forEach(function (d) { d.open = b[1]; });\n"
"\t\t});\n"
"\t\tbar.appendChild(button);\n"
"\t});\n"
"\tbar.hidden = false;\n"
"})();\n";

static void kvl_rep_fact(FILE *out, const char *name, const char *value)
{
	if (!*value)
		return;
	fprintf(out, "<tr><th>%s</th><td>", name);
	kvl_rep_text(out, value);
	fputs("</td></tr>\n", out);
}

static void kvl_rep_source(FILE *out, const struct kvl_report_opts *o)
{
	char live[4096];

	fputs("<tr><th>snapshot</th><td>", out);
	switch (o->source) {
	case KVL_REPORT_LIVE:
		fputs("the live module: <code>", out);
		kvl_rep_text(out, kvl_live_path(live, sizeof(live), "hist"));
		fputs("</code>", out);
		break;
	case KVL_REPORT_INPUT:
		fputs("saved copy <code>", out);
		kvl_rep_text(out, o->path);
		fputs("</code>", out);
		if (o->stats_path) {
			fputs(", stats <code>", out);
			kvl_rep_text(out, o->stats_path);
			fputs("</code>", out);
		}
		break;
	case KVL_REPORT_REPLAY:
		fputs("recording <code>", out);
		kvl_rep_text(out, o->path);
		fputs("</code> replayed through the module's engine", out);
		break;
	}
	fputs("</td></tr>\n", out);
}

static void kvl_rep_head(FILE *out, const struct kvl_snap *s,
			 const struct kvl_report_opts *o)
{
	char kernel[2 * KVL_REPORT_FACT_LEN + 16] = "";
	int i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", out);
	/* nothing may be fetched, whatever a name in the page holds */
	fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n",
	      out);
	fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", out);
	fprintf(out, "<meta name=\"generator\" content=\"%s %s\">\n", KVL_PROG, KVL_VERSION);
	fputs("<title>kvmio_lat report", out);
	if (*o->host) {
		fputs(": ", out);
		kvl_rep_text(out, o->host);
	}
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n", kvl_rep_style);
	fputs("<h1>kvmio_lat report</h1>\n<p class=\"kvl-note\">Where the block I/O latency of QEMU-KVM guests goes.  Every number of a histogram or counter here is the one <code>kvmio-lat show --json</code> gives for this snapshot, in <code>show</code>'s units.</p>\n",
	      out);
	fputs("<table class=\"kvl-facts\">\n", out);
	kvl_rep_source(out, o);
	if (s->version)
		fprintf(out, "<tr><th>format</th><td>hist format %u</td></tr>\n",
			s->version);
	kvl_rep_fact(out, o->source == KVL_REPORT_LIVE ? "read" : "file modified",
		     o->taken);
	kvl_rep_fact(out, "host", o->host);
	if (*o->kernel)
		snprintf(kernel, sizeof(kernel), "Linux %s", o->kernel);
	kvl_rep_fact(out, "kernel", kernel);
	kvl_rep_fact(out, "module", o->module_version);
	fputs("<tr><th>command</th><td><code>", out);
	for (i = 0; i < o->argc; i++) {
		if (i)
			fputc(' ', out);
		kvl_rep_arg(out, o->argv[i]);
	}
	fprintf(out, "</code></td></tr>\n<tr><th>reader</th><td>%s %s</td></tr>\n",
		KVL_PROG, KVL_VERSION);
	kvl_rep_fact(out, "generated", o->generated);
	fputs("</table>\n<div id=\"kvl-toolbar\" hidden></div>\n", out);
}

static void kvl_rep_toc(FILE *out, const struct kvl_snap *s,
			const struct kvl_filter *f)
{
	u32 i;

	fputs("<nav><ul>\n", out);
	for (i = 0; i < s->nr_vms; i++) {
		const struct kvl_svm *vm = &s->vms[i];

		if (!kvl_filter_vm(f, vm))
			continue;
		fprintf(out, "<li><a href=\"#vm-%d\">VM %d (", vm->pid, vm->pid);
		kvl_rep_text(out, vm->comm);
		fputs(")</a></li>\n", out);
	}
	fputs("<li><a href=\"#stats\">module counters</a></li>\n</ul></nav>\n</header>\n<main>\n",
	      out);
}

static void kvl_rep_vm_head(FILE *out, const struct kvl_svm *vm)
{
	char ago[32];

	fprintf(out, "<section class=\"kvl-vm\" id=\"vm-%d\" data-pid=\"%d\">\n<h2>VM <span class=\"kvl-pid\">%d</span> (<span class=\"kvl-comm\">",
		vm->pid, vm->pid, vm->pid);
	kvl_rep_text(out, vm->comm);
	fprintf(out, "</span>), <span class=\"kvl-vcpus\">%u</span> vCPU%s",
		vm->nr_vcpus, vm->nr_vcpus == 1 ? "" : "s");
	if (vm->exited)
		fprintf(out, ", exited <span class=\"kvl-num\" data-kind=\"vm\" data-pid=\"%d\" data-field=\"exited_ago_ns\" data-value=\"%llu\">%s</span> ago",
			vm->pid, (unsigned long long)vm->exited_ago_ns,
			kvl_fmt_ns(ago, sizeof(ago), vm->exited_ago_ns));
	fputs("</h2>\n", out);
}

static void kvl_rep_vm(FILE *out, const struct kvl_svm *vm,
		       const struct kvl_filter *f)
{
	bool any = false;
	unsigned int p;
	u32 i;

	kvl_rep_vm_head(out, vm);
	for (p = 0; p < KVL_NR_PATHS; p++)
		any |= kvl_rep_vm_on(vm, p, f, false) ||
		       kvl_rep_vm_on(vm, p, f, true);
	for (i = 0; i < vm->nr_vcpus; i++)
		any |= kvl_filter_vcpu(f, &vm->vcpus[i]) &&
		       kvl_rep_has_exits(vm, &vm->vcpus[i]);
	if (!any) {
		fputs("<p class=\"kvl-empty\">No requests or exits recorded for the selected vCPUs and paths yet.</p>\n</section>\n",
		      out);
		return;
	}
	kvl_rep_where(out, vm, f);
	kvl_rep_hists(out, vm, f, false);
	kvl_rep_hists(out, vm, f, true);
	kvl_rep_exits(out, vm, f);
	kvl_rep_table(out, vm, f, false);
	kvl_rep_table(out, vm, f, true);
	fputs("</section>\n", out);
}

static void kvl_rep_stats(FILE *out, const struct kvl_snap *s)
{
	u32 i;

	fputs("<section id=\"stats\">\n<h2>Module counters (<code>stats</code>)</h2>\n", out);
	if (!s->has_stats) {
		fputs("<p class=\"kvl-empty\">No stats with this snapshot (save <code>/sys/kernel/debug/kvmio_lat/stats</code> beside it and give it with <code>--stats</code>).</p>\n</section>\n",
		      out);
		return;
	}
	fputs("<table class=\"kvl-stats\"><tr><th>counter</th><th>value</th></tr>\n", out);
	for (i = 0; i < s->nr_stats; i++) {
		fputs("<tr><td>", out);
		kvl_rep_text(out, s->stats[i].name);
		fputs("</td><td class=\"kvl-num\" data-kind=\"stat\" data-stat=\"", out);
		kvl_rep_text(out, s->stats[i].name);
		fprintf(out, "\" data-field=\"value\" data-value=\"%llu\">%llu</td></tr>\n",
			(unsigned long long)s->stats[i].value,
			(unsigned long long)s->stats[i].value);
	}
	fputs("</table>\n<p class=\"kvl-note\">Their meaning: Documentation/output.rst, <code>stats</code>.</p>\n</section>\n",
	      out);
}

int kvl_report_html(FILE *out, const struct kvl_snap *s,
		    const struct kvl_report_opts *o)
{
	bool any = false;
	u32 i;

	kvl_rep_head(out, s, o);
	kvl_rep_toc(out, s, &o->f);
	for (i = 0; i < s->nr_vms; i++) {
		if (!kvl_filter_vm(&o->f, &s->vms[i]))
			continue;
		kvl_rep_vm(out, &s->vms[i], &o->f);
		any = true;
	}
	if (!any)
		fputs("<p class=\"kvl-empty\">No VM traced: kvmio_lat tracked no QEMU-KVM process (was a guest running? VMs are forgotten when their process exits).</p>\n",
		      out);
	kvl_rep_stats(out, s);
	fprintf(out, "</main>\n<footer><p class=\"kvl-note\">Made by %s %s (<code>kvmio-lat report</code>): one file, nothing fetched; the charts are SVG drawn by the reader, and read the same with JavaScript off.</p></footer>\n<script>\n%s</script>\n</body>\n</html>\n",
		KVL_PROG, KVL_VERSION, kvl_rep_script);
	return 0;
}

/* ------------------------------------------------------------------ */
/* facts and files */

static void kvl_rep_time(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S %z", &tm))
		buf[0] = '\0';
}

/* The loaded module's MODULE_VERSION, or "". */
static void kvl_rep_module_version(char *buf, size_t size)
{
	char *text = NULL;
	size_t len;

	buf[0] = '\0';
	if (kvl_read_file(KVL_REPORT_MODULE_VERSION, size - 1, &text, &len))
		return;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	snprintf(buf, size, "kvmio_lat %.*s", (int)len, text);
	free(text);
}

void kvl_report_facts(struct kvl_report_opts *o)
{
	struct utsname u;
	struct stat st;

	o->host[0] = '\0';
	o->kernel[0] = '\0';
	o->module_version[0] = '\0';
	o->taken[0] = '\0';
	kvl_rep_time(o->generated, sizeof(o->generated), time(NULL));
	if (o->source != KVL_REPORT_LIVE) {
		if (o->path && !stat(o->path, &st))
			kvl_rep_time(o->taken, sizeof(o->taken), st.st_mtime);
		return;
	}
	snprintf(o->taken, sizeof(o->taken), "%s", o->generated);
	if (!uname(&u)) {
		snprintf(o->host, sizeof(o->host), "%s", u.nodename);
		snprintf(o->kernel, sizeof(o->kernel), "%s (%s)", u.release,
			 u.machine);
	}
	kvl_rep_module_version(o->module_version, sizeof(o->module_version));
}

struct kvl_rep_job {
	const struct kvl_snap *s;
	const struct kvl_report_opts *o;
};

static int kvl_rep_write(FILE *f, void *arg)
{
	const struct kvl_rep_job *job = arg;

	return kvl_report_html(f, job->s, job->o);
}

int kvl_report_to_file(const char *path, const struct kvl_snap *s,
		       const struct kvl_report_opts *o, FILE *err)
{
	struct kvl_rep_job job = { .s = s, .o = o };

	return kvl_outfile_replace(path, kvl_rep_write, &job, err);
}
