// SPDX-License-Identifier: GPL-2.0
/*
 * reader_test.c - kvmio-lat, the reader: snapshots printed by a real engine
 * (and saved ones in fixtures/) parsed, summarised, merged, subtracted and
 * printed as tables, bars, JSON and CSV; percentiles against the exact
 * values behind them; every kind of bad input and its one-line error.
 *
 * The reader's sources are included whole (all but main.c), so the test
 * drives kvl_cli() in-process, exactly as main() does.
 */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "reader_fixture.h"
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "../../userspace/snapshot.c"
#include "../../userspace/parse.c"
#include "../../userspace/output.c"
#include "../../userspace/source.c"
#include "../../userspace/loop.c"
#include "../../userspace/replay.c"
#include "../../userspace/record.c"
#include "../../userspace/export.c"
#include "../../userspace/outfile.c"
#include "../../userspace/report.c"
#include "../../userspace/cli.c"

/* ------------------------------------------------------------------ */
/* helpers */

static const char *fixture(const char *name)
{
	static char buf[4][512];
	static int n;
	const char *slash = strrchr(__FILE__, '/');
	int len = slash ? (int)(slash - __FILE__) : 1;
	char *b = buf[n++ % 4];

	snprintf(b, sizeof(buf[0]), "%.*s/fixtures/%s", len,
		 slash ? __FILE__ : ".", name);
	return b;
}

struct run {
	int rc;
	char *out;
	char *err;
	size_t out_len;
	size_t err_len;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* kvl_cli() on a NULL-terminated list of arguments. */
static void run_argv(struct run *r, char **argv)
{
	FILE *out, *err;
	int argc = 0;

	memset(r, 0, sizeof(*r));
	while (argv[argc])
		argc++;
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	r->rc = kvl_cli(argc, argv, out, err);
	fclose(out);
	fclose(err);
}

#define RUN(r, ...) do {						\
	char *__argv[] = { "kvmio-lat", __VA_ARGS__, NULL };		\
	run_argv(r, __argv);						\
} while (0)

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == c;
	return n;
}

/* @c in the first @len bytes of @s */
static int count_char_n(const char *s, char c, size_t len)
{
	int n = 0;

	for (; len--; s++)
		n += *s == c;
	return n;
}

/* Exit code @rc and exactly one stderr line holding @what. */
#define EXPECT_ONE_ERROR(r, want_rc, what) do {				\
	EXPECT_EQ(want_rc, (r)->rc);					\
	EXPECT_EQ(1, count_char((r)->err, '\n')) TH_LOG("stderr: %s", (r)->err); \
	EXPECT_EQ(0, strncmp((r)->err, "kvmio-lat: ", 11));		\
	EXPECT_NE(NULL, strstr((r)->err, what)) TH_LOG("stderr: %s", (r)->err); \
	EXPECT_EQ(0, (r)->out_len) TH_LOG("stdout: %s", (r)->out);	\
} while (0)

/* Occurrences of @sub in @s. */
static int count_substr(const char *s, const char *sub)
{
	int n = 0;

	for (s = strstr(s, sub); s; s = strstr(s + 1, sub))
		n++;
	return n;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/kvl-reader-XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	chmod(tmpdir, 0755);
}

static void remove_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* @content (@len bytes, or strlen) into tmpdir/@name; returns the path. */
static const char *write_tmp(const char *name, const char *content, long len)
{
	static char paths[8][256];
	static int n;
	char *p = paths[n++ % 8];
	FILE *f;

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	if (!f)
		abort();
	fwrite(content, 1, len < 0 ? strlen(content) : (size_t)len, f);
	fclose(f);
	return p;
}

static char *read_all(const char *path)
{
	char *buf = NULL;
	size_t len;

	if (kvl_read_file(path, 1 << 24, &buf, &len))
		return NULL;
	buf = realloc(buf, len + 1);
	buf[len] = '\0';
	return buf;
}

/* Replace the first occurrence of @from in @s by @to, in a new string. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *r;

	if (!at)
		return NULL;
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	sprintf(r, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The exact @per100k quantile of @v (sorted in place): rank ceil(n q). */
static u64 exact_quantile(u64 *v, u32 n, u32 per100k)
{
	u64 rank = ((u64)n * per100k + 99999) / 100000;

	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(rank ? rank : 1) - 1];
}

/* ------------------------------------------------------------------ */
/* a tiny JSON checker (RFC 8259 grammar, no semantic checks) */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_number(const char *p)
{
	const char *start;

	if (*p == '-')
		p++;
	start = p;
	if (*p == '0')
		p++;
	else
		while (*p >= '0' && *p <= '9')
			p++;
	if (p == start)
		return NULL;
	if (*p == '.') {
		start = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	return p;
}

static const char *json_list(const char *p, char close, bool object,
			     int depth)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			p = json_string(json_ws(p));
			if (!p || *(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	if (*p == '{')
		return json_list(p, '}', true, depth);
	if (*p == '[')
		return json_list(p, ']', false, depth);
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	return json_number(p);
}

static bool json_valid(const char *s)
{
	const char *end = json_value(s, 0);

	return end && !*json_ws(end);
}

/* python3 -m json.tool agrees, when python3 is there (else true). */
static bool python_json_ok(const char *s)
{
	char cmd[512];
	const char *path = write_tmp("doc.json", s, -1);

	if (system("command -v python3 >/dev/null 2>&1"))
		return true;
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool '%s' >/dev/null", path);
	return system(cmd) == 0;
}

/* ------------------------------------------------------------------ */
/* snapshots made by the engine */

/* Every field of two models, deeply. */
static bool rhist_equal(const struct kvl_rhist *a, const struct kvl_rhist *b)
{
	return a->count == b->count && a->min == b->min && a->max == b->max &&
	       a->sum == b->sum && a->sumsq == b->sumsq &&
	       a->negative == b->negative && a->overflow == b->overflow &&
	       a->nr == b->nr &&
	       (!a->nr || !memcmp(a->b, b->b, a->nr * sizeof(*a->b)));
}

static bool disks_equal(const struct kvl_svm *va, const struct kvl_svm *vb)
{
	unsigned int p, ds;
	u32 j;

	if (va->nr_disks != vb->nr_disks)
		return false;
	for (j = 0; j < va->nr_disks; j++) {
		const struct kvl_sdisk *da = &va->disks[j], *db = &vb->disks[j];

		if (da->fd != db->fd || !da->name != !db->name ||
		    (da->name && strcmp(da->name, db->name)))
			return false;
		for (p = 0; p < KVL_NR_PATHS; p++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++)
				if (!rhist_equal(&da->h[p][ds], &db->h[p][ds]))
					return false;
	}
	return true;
}

static bool snap_equal(const struct kvl_snap *a, const struct kvl_snap *b)
{
	u32 i, j, k;

	if (a->nr_vms != b->nr_vms)
		return false;
	for (i = 0; i < a->nr_vms; i++) {
		const struct kvl_svm *va = &a->vms[i], *vb = &b->vms[i];

		if (va->pid != vb->pid || strcmp(va->comm, vb->comm) ||
		    va->nr_vcpus != vb->nr_vcpus || !disks_equal(va, vb))
			return false;
		for (j = 0; j < va->nr_vcpus; j++) {
			const struct kvl_svcpu *ca = &va->vcpus[j], *cb = &vb->vcpus[j];

			if (ca->id != cb->id || ca->exits != cb->exits ||
			    strcmp(ca->isa, cb->isa) || ca->nr_hists != cb->nr_hists)
				return false;
			for (k = 0; k < ca->nr_hists; k++)
				if (ca->hists[k].kind != cb->hists[k].kind ||
				    ca->hists[k].path != cb->hists[k].path ||
				    ca->hists[k].stage != cb->hists[k].stage ||
				    strcmp(ca->hists[k].reason, cb->hists[k].reason) ||
				    !rhist_equal(&ca->hists[k].h, &cb->hists[k].h))
					return false;
		}
	}
	return true;
}

static int parse_text(struct kvl_snap *s, const char *text,
		      struct kvl_perr *pe)
{
	kvl_snap_init(s);
	return kvl_parse_hist(s, text, strlen(text), pe);
}

TEST(engine_text_parses_into_the_engine_model)
{
	struct kvl_snap parsed, direct;
	struct kvl_perr pe;
	struct rf_vm vm;
	struct fx f;
	char *text;

	fx_init(&f);
	rf_standard_two_vcpus(&f, &vm);
	text = rf_hist_text(&f);
	ASSERT_EQ(0, parse_text(&parsed, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	ASSERT_EQ(0, kvl_snap_from_engine(&direct, &f.eng, 4096));
	EXPECT_TRUE(snap_equal(&parsed, &direct));
	EXPECT_EQ(0, parsed.torn);
	ASSERT_EQ(1, parsed.nr_vms);
	EXPECT_EQ(4242, parsed.vms[0].pid);
	EXPECT_STREQ("qemu-system-x86", parsed.vms[0].comm);
	ASSERT_EQ(2, parsed.vms[0].nr_vcpus);
	/* stats come along with an in-process engine */
	EXPECT_TRUE(direct.has_stats);
	ASSERT_NE(NULL, kvl_snap_stat(&direct, "requests"));
	EXPECT_EQ(300, kvl_snap_stat(&direct, "requests")->value);
	kvl_snap_free(&parsed);
	kvl_snap_free(&direct);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* Reader and module agree on every summary field of every histogram. */
TEST(reader_recomputes_what_the_module_prints)
{
	static const char *const files[] = {
		"two_vcpus.hist", "two_vms.hist", "lab_native.hist", "lab_threads.hist",
		"replay_native_v2.hist",	/* format 2, with 0 ns values */
		"disks_v3.hist",		/* format 3, with disk lines */
		"disks.hist", "disks_small.hist",	/* format 4, and io lines */
		"uring_small.hist",		/* format 5, io_uring lines */
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		char *text = read_all(fixture(files[i])), *line;
		struct kvl_snap s;
		struct kvl_perr pe;
		int checked = 0, disks = 0;

		ASSERT_NE(NULL, text);
		ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
		for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			unsigned long long cnt, mn, mx, mean, sd, p50, p90, p99, p999;
			char kind[8], a[32], b[32] = "";
			const struct kvl_shist *h;
			const struct kvl_svcpu *v;
			struct kvl_summary m;
			int pid, n;
			u32 id;

			if (strncmp(line, "exit ", 5) && strncmp(line, "stage ", 6) &&
			    strncmp(line, "disk ", 5))
				continue;
			if (line[0] == 'e')
				n = sscanf(line, "%7s %d %u %31s count=%llu min=%llu max=%llu mean=%llu stddev=%llu p50=%llu p90=%llu p99=%llu p999=%llu",
					   kind, &pid, &id, a, &cnt, &mn, &mx, &mean, &sd, &p50, &p90, &p99, &p999);
			else
				n = sscanf(line, "%7s %d %u %31s %31s count=%llu min=%llu max=%llu mean=%llu stddev=%llu p50=%llu p90=%llu p99=%llu p999=%llu",
					   kind, &pid, &id, a, b, &cnt, &mn, &mx, &mean, &sd, &p50, &p90, &p99, &p999) - 1;
			ASSERT_EQ(13, n) TH_LOG("%s", line);
			if (line[0] == 'd') {	/* disk PID FD PATH STAGE */
				const struct kvl_sdisk *d =
					kvl_svm_disk(kvl_snap_vm(&s, pid), (s32)id);
				int p = kvl_path_index(a);

				ASSERT_NE(NULL, d) TH_LOG("%s", line);
				ASSERT_LE(0, p) TH_LOG("%s", line);
				ASSERT_LE(0, kvl_disk_hist_index(b)) TH_LOG("%s", line);
				kvl_rhist_summary(&d->h[p][kvl_disk_hist_index(b)], &m);
				disks++;
				goto compare;
			}
			v = kvl_svm_vcpu(kvl_snap_vm(&s, pid), id);
			ASSERT_NE(NULL, v);
			h = line[0] == 'e' ? kvl_svcpu_exit(v, a) :
			    kvl_svcpu_stage(v, kvl_path_index(a),
					    kvl_stage_index(kvl_path_index(a), b));
			ASSERT_NE(NULL, h);
			kvl_rhist_summary(&h->h, &m);
compare:
			EXPECT_EQ(cnt, m.count);
			EXPECT_EQ(mn, m.min);
			EXPECT_EQ(mx, m.max);
			EXPECT_EQ(mean, (u64)m.mean) TH_LOG("%s", line);
			EXPECT_LE(fabs((double)sd - m.stddev), 1.0) TH_LOG("%s", line);
			EXPECT_EQ(p50, m.p50) TH_LOG("%s", line);
			EXPECT_EQ(p90, m.p90) TH_LOG("%s", line);
			EXPECT_EQ(p99, m.p99) TH_LOG("%s", line);
			EXPECT_EQ(p999, m.p999) TH_LOG("%s", line);
			checked++;
		}
		EXPECT_GE(checked, 8);
		/*
		 * fds 11, 12 native; 12, 13 threads: submit_to_irq and total
		 * each, and in format 4 io too
		 */
		if (!strcmp(files[i], "disks_v3.hist"))
			EXPECT_EQ(8, disks);
		if (!strcmp(files[i], "disks.hist"))
			EXPECT_EQ(12, disks);
		/* fds 5, 3 io_uring; 3 native; 4 threads: three each */
		if (!strcmp(files[i], "uring_small.hist"))
			EXPECT_EQ(12, disks);
		kvl_snap_free(&s);
		free(text);
	}
}

/* Percentiles from the buckets against the exact values behind them. */
TEST(percentiles_against_exact_values)
{
	static const u32 q[] = { 50000, 90000, 99000, 99900 };
	struct kvl_snap s;
	struct kvl_perr pe;
	struct rf_vm vm;
	struct fx f;
	char *text;
	int v, st;
	unsigned int i;

	fx_init(&f);
	rf_standard_two_vcpus(&f, &vm);
	text = rf_hist_text(&f);
	ASSERT_EQ(0, parse_text(&s, text, &pe));
	for (v = 0; v < 2; v++) {
		for (st = 0; st < KVL_NR_STAGES; st++) {
			const struct kvl_shist *h =
				kvl_svcpu_stage(&s.vms[0].vcpus[v], KVL_PATH_NATIVE, st);
			u32 n = vm.nr[v][KVL_PATH_NATIVE];
			u64 *vals = vm.vals[v][KVL_PATH_NATIVE][st];
			const struct kvl_hist *eh =
				&kvl_engine_find_vm(&f.eng, 4242)->vcpus[v]->stats.stages[KVL_PATH_NATIVE][st];

			/* native has no complete_to_reap: no histogram at all */
			if (!kvl_stage_name(KVL_PATH_NATIVE, st)) {
				EXPECT_EQ(NULL, h);
				EXPECT_EQ(0, eh->count);
				continue;
			}
			ASSERT_NE(NULL, h);
			ASSERT_EQ(n, h->h.count);
			for (i = 0; i < ARRAY_SIZE(q); i++) {
				u64 exact = exact_quantile(vals, n, q[i]);
				u64 got = kvl_rhist_percentile(&h->h, q[i]);

				/* within the width of the bucket holding it */
				EXPECT_LE(llabs((long long)got - (long long)exact),
					  (long long)(exact / 16 + 1))
					TH_LOG("vcpu %d stage %d q %u: %llu vs %llu", v, st,
					       q[i], (unsigned long long)got,
					       (unsigned long long)exact);
				/* and exactly what the module computes */
				EXPECT_EQ(kvl_hist_percentile(eh, q[i]), got);
			}
			EXPECT_EQ(vals[0], h->h.min);
			EXPECT_EQ(vals[n - 1], h->h.max);
		}
	}
	kvl_snap_free(&s);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

TEST(percentiles_of_a_known_sample)
{
	struct kvl_rhist r;
	struct kvl_hist h;
	u64 v[1000];
	int i;

	kvl_hist_init(&h);
	for (i = 0; i < 1000; i++) {	/* 1 us .. 1 ms, uniform */
		v[i] = 1000 + (u64)i * 999;
		kvl_hist_record(&h, (s64)v[i]);
	}
	ASSERT_EQ(0, kvl_rhist_from_hist(&r, &h));
	EXPECT_LE(llabs((long long)kvl_rhist_percentile(&r, 50000) - (long long)v[499]),
		  (long long)v[499] / 16);
	EXPECT_LE(llabs((long long)kvl_rhist_percentile(&r, 99000) - (long long)v[989]),
		  (long long)v[989] / 16);
	EXPECT_EQ(v[999], kvl_rhist_percentile(&r, 100000));
	/* rank 1 of a bucket's n is interpolated a 1/n of the way up it */
	EXPECT_LE(kvl_rhist_percentile(&r, 1) - v[0], v[0] / 16);
	kvl_rhist_free(&r);
}

/* "all" merges buckets: the same as one histogram of every value. */
TEST(all_vcpus_merge_equals_one_histogram_of_everything)
{
	static const u32 q[] = { 50000, 90000, 99000, 99900 };
	struct kvl_svcpu all;
	struct kvl_summary m;
	struct kvl_hist one;
	struct kvl_filter flt;
	struct kvl_snap s;
	struct rf_vm vm;
	struct fx f;
	const struct kvl_shist *h;
	unsigned int i, v;

	fx_init(&f);
	rf_standard_two_vcpus(&f, &vm);
	ASSERT_EQ(0, kvl_snap_from_engine(&s, &f.eng, 0));
	kvl_filter_init(&flt);
	flt.exits = true;
	ASSERT_EQ(0, kvl_snap_merge_all(&s, &flt, &all));
	kvl_hist_init(&one);
	for (v = 0; v < 2; v++)
		for (i = 0; i < vm.nr[v][KVL_PATH_NATIVE]; i++)
			kvl_hist_record(&one, (s64)vm.vals[v][KVL_PATH_NATIVE][KVL_ST_TOTAL][i]);
	h = kvl_svcpu_stage(&all, KVL_PATH_NATIVE, KVL_ST_TOTAL);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(one.count, h->h.count);
	EXPECT_EQ(one.sum, h->h.sum);
	EXPECT_EQ(one.min, h->h.min);
	EXPECT_EQ(one.max, h->h.max);
	for (i = 0; i < ARRAY_SIZE(q); i++)
		EXPECT_EQ(kvl_hist_percentile(&one, q[i]),
			  kvl_rhist_percentile(&h->h, q[i]));
	kvl_rhist_summary(&h->h, &m);
	EXPECT_LE(fabs((double)kvl_hist_stddev(&one) - m.stddev), 1.0);
	EXPECT_EQ(kvl_hist_mean(&one), (u64)m.mean);
	ASSERT_NE(NULL, kvl_svcpu_exit(&all, "hlt"));
	EXPECT_EQ(300, kvl_svcpu_exit(&all, "hlt")->h.count);
	kvl_svcpu_free(&all);
	kvl_snap_free(&s);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* Merged buckets beyond 32 bits still give the right percentiles. */
TEST(merged_counts_beyond_u32)
{
	struct kvl_rhist a = { 0 }, b = { 0 };
	u32 lo = kvl_hist_index(1000), hi = kvl_hist_index(100000);

	a.count = 3000000000ULL + 1000000000ULL;
	a.min = 1000;
	a.max = kvl_hist_bucket_hi(hi) - 1;
	ASSERT_EQ(0, kvl_rhist_add_bucket(&a, lo, 3000000000ULL));
	ASSERT_EQ(0, kvl_rhist_add_bucket(&a, hi, 1000000000ULL));
	b = a;
	b.b = NULL;
	b.nr = b.cap = 0;
	ASSERT_EQ(0, kvl_rhist_add_bucket(&b, lo, 3000000000ULL));
	ASSERT_EQ(0, kvl_rhist_add_bucket(&b, hi, 1000000000ULL));
	ASSERT_EQ(0, kvl_rhist_merge(&a, &b));
	EXPECT_EQ(8000000000ULL, a.count);
	EXPECT_EQ(6000000000ULL, a.b[0].n);
	/* 75% below 1 us-ish: p50 in the low bucket, p90 in the high one */
	EXPECT_LT(kvl_rhist_percentile(&a, 50000), kvl_hist_bucket_hi(lo));
	EXPECT_GE(kvl_rhist_percentile(&a, 90000), kvl_hist_bucket_lo(hi));
	kvl_rhist_free(&a);
	kvl_rhist_free(&b);
}

/* ------------------------------------------------------------------ */
/* output: tables, units, bars, JSON, CSV */

TEST(human_units)
{
	static const struct {
		double ns;
		const char *want;
	} cases[] = {
		{ 0, "0ns" }, { 7, "7ns" }, { 999, "999ns" }, { 999.6, "1.00µs" },
		{ 1000, "1.00µs" }, { 12345, "12.3µs" }, { 123456, "123µs" },
		{ 999999, "1.00ms" }, { 4500000, "4.50ms" }, { 1.5e9, "1.50s" },
		{ 250e9, "250s" }, { 5000e9, "5000s" },
	};
	unsigned int i;
	char buf[32];

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		EXPECT_STREQ(cases[i].want, kvl_fmt_ns(buf, sizeof(buf), cases[i].ns));
}

TEST(show_table_of_a_saved_snapshot)
{
	struct run r;

	RUN(&r, "show", "--input", (char *)fixture("two_vcpus.hist"), "--stats",
	    (char *)fixture("two_vcpus.stats"), "--exits");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.err_len);
	EXPECT_NE(NULL, strstr(r.out, "VM 4242 (qemu-system-x86), 2 vCPUs\n"));
	EXPECT_NE(NULL, strstr(r.out, "  VCPU  STAGE                 COUNT       MIN      MEAN    STDDEV       P50       P90       P99     P99.9       MAX\n"));
	/* values of fixtures/two_vcpus.hist: vCPU 0 total, then all vCPUs */
	EXPECT_NE(NULL, strstr(r.out, "  0     total                   150    67.1µs     138µs     178µs     112µs     153µs    1.35ms    1.37ms    1.37ms\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  all   total                   300    67.1µs     140µs     178µs     114µs     154µs    1.34ms    1.37ms    1.37ms\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  all   hlt          300"));
	EXPECT_NE(NULL, strstr(r.out, "counters: requests 300, dropped 0, unmatched 0, lost_events 0\n"));
	run_free(&r);

	/* one vCPU: no "all" rows; one path only */
	RUN(&r, "show", "--input", (char *)fixture("two_vcpus.hist"), "--vcpu", "1",
	    "--path", "native");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(NULL, strstr(r.out, "  all "));
	EXPECT_EQ(NULL, strstr(r.out, "  0     "));
	EXPECT_NE(NULL, strstr(r.out, "  1     total "));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--path", "threads");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "VM 1000 (qemu-native), 1 vCPU\n  no requests recorded"));
	EXPECT_NE(NULL, strstr(r.out, "  all   wake_to_dispatch"));
	run_free(&r);
}

TEST(hist_bars)
{
	struct run r;
	char *row;

	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--pid", "1000",
	    "--path", "native", "--hist");
	EXPECT_EQ(0, r.rc);
	/* p50 7.88 µs: below 16 µs, nsecs */
	EXPECT_NE(NULL, strstr(r.out, "  native doorbell_to_wake, vCPU 0: 200 values\n"
				      "       nsecs               : count     distribution\n"));
	row = strstr(r.out, "        4096 -> 8191       : 109       |****************************************|\n");
	EXPECT_NE(NULL, row) TH_LOG("%s", r.out);
	run_free(&r);
}

TEST(bars_rows_add_up)
{
	struct kvl_rhist h;
	struct kvl_hist eh;
	char *buf = NULL, *p;
	size_t len;
	u64 sum = 0;
	FILE *f;
	int i;

	kvl_hist_init(&eh);
	for (i = 0; i < 5000; i++)
		kvl_hist_record(&eh, 100 + (s64)i * i);
	kvl_hist_record(&eh, 0);
	kvl_hist_record(&eh, -3);
	kvl_hist_record(&eh, (s64)KVL_HIST_MAX_NS + 5);
	ASSERT_EQ(0, kvl_rhist_from_hist(&h, &eh));
	f = open_memstream(&buf, &len);
	kvl_print_bars(f, &h, KVL_HIST_UNIT_AUTO, "");
	fclose(f);
	for (p = strstr(buf, " -> "); p; p = strstr(p + 1, " -> "))
		sum += strtoull(strchr(p, ':') + 1, NULL, 10);
	EXPECT_EQ(5002, sum);	/* 0 and -3 (as 0) are in the first row */
	EXPECT_NE(NULL, strstr(buf, "< 0 ns, as 0 (clock skew) : 1\n"));
	EXPECT_NE(NULL, strstr(buf, ">= 137 s (overflow) : 1\n"));
	EXPECT_NE(NULL, strstr(buf, "usecs"));	/* p50 6.3 ms: below 16 ms */
	free(buf);
	kvl_rhist_free(&h);
}

/*
 * A snapshot of one histogram: 900 values of 200-400 µs, then a tail of
 * 100 from 1 ms to 50 ms; its file name.
 */
static const char *write_tail_snapshot(u64 *count)
{
	struct kvl_hist eh;
	char *text = NULL;
	size_t len;
	const char *path;
	FILE *f;
	int i;

	kvl_hist_init(&eh);
	for (i = 0; i < 900; i++)
		kvl_hist_record(&eh, 200000 + (s64)i * 7919 % 200000);
	for (i = 0; i < 100; i++)
		kvl_hist_record(&eh, (s64)(1e6 * pow(50, i / 99.0)));
	f = open_memstream(&text, &len);
	fprintf(f, "# kvmio_lat hist 4\n"
		"# unit: ns; 16 log-linear buckets per power of two\n"
		"vm 7000 qemu-tail vcpus 1\n"
		"vcpu 7000 0 isa svm exits 0\n"
		"stage 7000 0 native total count=%llu min=%llu max=%llu mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=%llu sumsq=%llu negative=0 overflow=0\n",
		(unsigned long long)eh.count, (unsigned long long)eh.min,
		(unsigned long long)eh.max, (unsigned long long)eh.sum,
		(unsigned long long)eh.sumsq_lo);
	for (i = 0; i < KVL_HIST_NBUCKETS; i++)
		if (eh.buckets[i])
			fprintf(f, "  [%llu, %llu) %llu\n",
				(unsigned long long)kvl_hist_bucket_lo(i),
				(unsigned long long)kvl_hist_bucket_hi(i),
				(unsigned long long)eh.buckets[i]);
	fputs("end\n", f);
	fclose(f);
	path = write_tmp("tail.hist", text, (long)len);
	free(text);
	*count = eh.count;
	return eh.sumsq_hi ? NULL : path;
}

/* The bars' rows in @out: the count of row "0 -> 1", and of every row. */
static void bar_rows(const char *out, u64 *row0, u64 *all)
{
	const char *p;

	*row0 = *all = 0;
	for (p = strstr(out, " -> "); p; p = strstr(p + 1, " -> ")) {
		const char *bol = p;
		u64 n = strtoull(strchr(p, ':') + 1, NULL, 10);

		while (bol > out && bol[-1] != '\n')
			bol--;
		if (strtoull(bol, NULL, 10) == 0)
			*row0 += n;
		*all += n;
	}
}

TEST(hist_unit_spreads_the_bulk)
{
	const char *path;
	u64 count, row0, all;
	struct run r;

	make_tmpdir();
	path = write_tail_snapshot(&count);
	ASSERT_NE(NULL, path);

	/* p50 about 300 µs: usecs, the bulk in rows 128 -> 255 and up */
	RUN(&r, "show", "--input", (char *)path, "--hist");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "  native total, vCPU 0: 1000 values\n"
				      "       usecs               : count     distribution\n"))
		TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "msecs"));
	bar_rows(r.out, &row0, &all);
	EXPECT_EQ(count, all) TH_LOG("%s", r.out);
	EXPECT_LT(2 * row0, count) TH_LOG("%llu of %llu in row 0: %s",
					  (unsigned long long)row0,
					  (unsigned long long)count, r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n         256 -> 511        : "));
	run_free(&r);

	/* forced: msecs, the bulk in row 0 as asked */
	RUN(&r, "show", "--input", (char *)path, "--hist", "--hist-unit", "msecs");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n       msecs               : count     distribution\n"))
		TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "usecs"));
	bar_rows(r.out, &row0, &all);
	EXPECT_EQ(count, all);
	EXPECT_LE(900, row0) TH_LOG("%s", r.out);
	run_free(&r);

	RUN(&r, "show", "--input", (char *)path, "--hist-unit", "nsecs", "--hist");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n       nsecs               : count     distribution\n"
				      "      131072 -> 262143     : "))
		TH_LOG("%s", r.out);
	run_free(&r);
	remove_tmpdir();
}

/* Bounds past row 32 take 11 digits: the columns widen, as bcc's do. */
TEST(bars_widen_past_row_32)
{
	static const char head[] =
		"               nsecs                         : count     distribution\n"
		"                  64 -> 127                  : 5 ";
	struct kvl_rhist h;
	struct kvl_hist eh;
	char *buf = NULL, *row;
	size_t len;
	FILE *f;
	int i;

	kvl_hist_init(&eh);
	for (i = 0; i < 5; i++)
		kvl_hist_record(&eh, 100);
	for (i = 0; i < 3; i++)
		kvl_hist_record(&eh, 20000000000LL);
	kvl_hist_record(&eh, (s64)KVL_HIST_MAX_NS + 5);
	ASSERT_EQ(0, kvl_rhist_from_hist(&h, &eh));
	f = open_memstream(&buf, &len);
	kvl_print_bars(f, &h, KVL_HIST_UNIT_AUTO, "");	/* p50 100 ns */
	fclose(f);
	EXPECT_EQ(0, strncmp(buf, head, strlen(head))) TH_LOG("%s", buf);
	row = strstr(buf, "\n         17179869184 -> 34359738367          : 3 ");
	ASSERT_NE(NULL, row) TH_LOG("%s", buf);
	row++;
	/* the overflow line widens with them */
	EXPECT_EQ(0, strcmp(strchr(row, '\n') + 1, "                          >= 137 s (overflow) : 1\n"))
		TH_LOG("%s", buf);
	free(buf);
	kvl_rhist_free(&h);
}

TEST(hist_unit_option)
{
	static const char *const bad[][6] = {
		{ "show", "--hist", "--hist-unit", "secs", NULL },
		{ "show", "--hist", "--hist-unit", "", NULL },
		{ "show", "--hist", "--hist-unit", "USECS", NULL },
		{ "replay", "x.dat", "--hist", "--hist-unit", "ms", NULL },
		{ NULL },
	};
	unsigned int i;
	struct run r;

	/* a bad value: exit 2, one line naming the option, nothing on stdout */
	for (i = 0; bad[i][0]; i++) {
		char *argv[8] = { "kvmio-lat" };
		char want[96];
		int j;

		for (j = 0; bad[i][j]; j++)
			argv[j + 1] = (char *)bad[i][j];
		snprintf(want, sizeof(want),
			 "%s: --hist-unit is nsecs, usecs or msecs, not '%s' (try",
			 bad[i][0], bad[i][j - 1]);
		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 2, want);
		run_free(&r);
	}
	RUN(&r, "show", "--hist", "--hist-unit");
	EXPECT_ONE_ERROR(&r, 2, "show: option '--hist-unit' needs a value");
	run_free(&r);
	/* without bars to draw it is a mistake, said as one */
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"),
	    "--hist-unit", "usecs");
	EXPECT_ONE_ERROR(&r, 2, "show: --hist-unit goes with --hist");
	run_free(&r);
	RUN(&r, "watch", "--hist-unit", "usecs");
	EXPECT_ONE_ERROR(&r, 2, "watch: --hist-unit is not an option of watch");
	run_free(&r);

	/* replay takes it as show does */
	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--hist",
	    "--hist-unit", "usecs");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "usecs               : count     distribution\n"));
	EXPECT_EQ(NULL, strstr(r.out, "nsecs"));
	EXPECT_EQ(NULL, strstr(r.out, "msecs"));
	run_free(&r);
}

TEST(json_is_valid_and_follows_the_schema)
{
	static const char json_head[] = "{\"schema\": \"kvmio_lat/5\", \"vms\": [{\"pid\": 4242, \"comm\": \"qemu-system-x86\", \"vcpus\": [{\"vcpu\": 0, \"exits\": {\"npf\": {\"count\": 150, \"min_ns\": 2, \"max_ns\": 2, \"mean_ns\": 2.0, \"stddev_ns\": 0.0, \"p50_ns\": 2, \"p90_ns\": 2, \"p99_ns\": 2, \"p999_ns\": 2, \"negative\": 0, \"overflow\": 0, \"buckets\": [[2, 3, 150]]}, \"hlt\": {";
	struct run r;

	RUN(&r, "show", "--input", (char *)fixture("two_vcpus.hist"), "--stats",
	    (char *)fixture("two_vcpus.stats"), "--exits", "--json");
	make_tmpdir();
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_TRUE(python_json_ok(r.out));
	EXPECT_EQ(0, strncmp(r.out, json_head, strlen(json_head)))
		TH_LOG("%.300s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"paths\": {\"native\": {\"doorbell_to_wake\": {\"count\": 150, "));
	/* every path has its key, empty without data */
	EXPECT_NE(NULL, strstr(r.out, "\"threads\": {}, \"io_uring\": {}}"));
	/* a stage native does not have is no key, not a zero */
	EXPECT_EQ(NULL, strstr(r.out, "complete_to_reap"));
	EXPECT_NE(NULL, strstr(r.out, "\"stats\": {\"vms\": 1, \"vcpus\": 2, \"inflight\": 0, \"dropped\": 0, \"unmatched\": 0, "));
	EXPECT_EQ(1, count_char(r.out, '\n'));
	run_free(&r);

	/* no exits unless asked; no stats file: an empty object */
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--json",
	    "--vcpu", "1");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_NE(NULL, strstr(r.out, "\"vcpus\": [{\"vcpu\": 1, \"exits\": {}, \"paths\": {\"native\": {}, \"threads\": {\"doorbell_to_wake\""));
	EXPECT_EQ(NULL, strstr(r.out, "\"pid\": 1000"));	/* has no vCPU 1 */
	EXPECT_NE(NULL, strstr(r.out, "], \"stats\": {}}\n"));
	run_free(&r);
	remove_tmpdir();
}

TEST(json_escapes_odd_process_names)
{
	static const char text[] =
		"# kvmio_lat hist 1\n# unit: ns;\n"
		"vm 77 a\"b\\c\x01\xff\xc3\xa9 d vcpus 1\n"
		"vcpu 77 0 isa vmx exits 1\n"
		"exit 77 0 EPT_VIOLATION count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 underflow=0 overflow=0\n"
		"  [5, 6) 1\n"
		"end\n";
	struct kvl_filter flt;
	struct kvl_snap s;
	struct kvl_perr pe;
	char *buf = NULL;
	size_t len;
	FILE *f;

	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	EXPECT_STREQ("a\"b\\c\x01\xff\xc3\xa9 d", s.vms[0].comm);
	kvl_filter_init(&flt);
	flt.exits = true;
	f = open_memstream(&buf, &len);
	kvl_print_json(f, &s, &flt);
	fclose(f);
	make_tmpdir();
	EXPECT_TRUE(json_valid(buf));
	EXPECT_TRUE(python_json_ok(buf));
	EXPECT_NE(NULL, strstr(buf, "\"comm\": \"a\\\"b\\\\c\\u0001\\ufffd\xc3\xa9 d\""));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	kvl_print_csv(f, &s, &flt, "", "", true);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "\n77,\"a\"\"b\\c\x01\xff\xc3\xa9 d\",0,exit,,EPT_VIOLATION,1,5,5,5.0,0.0,5,5,5,5\n"))
		TH_LOG("%s", buf);
	free(buf);
	remove_tmpdir();
	kvl_snap_free(&s);
}

static int csv_fields(const char *line)
{
	bool quoted = false;
	int n = 1;

	for (; *line && *line != '\n'; line++) {
		if (*line == '"')
			quoted = !quoted;
		else if (*line == ',' && !quoted)
			n++;
	}
	return n;
}

TEST(csv_shape)
{
	struct run r;
	char *line;
	int rows = 0;

	RUN(&r, "show", "--input", (char *)fixture("two_vcpus.hist"), "--csv", "--exits");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, strncmp(r.out, "pid,comm,vcpu,kind,path,name,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n", 96));
	for (line = r.out; *line; line = strchr(line, '\n') + 1) {
		EXPECT_EQ(15, csv_fields(line)) TH_LOG("%.80s", line);
		rows++;
	}
	EXPECT_EQ(1 + 2 * 7 + 2 * 2, rows);	/* header, stages, exits */
	EXPECT_NE(NULL, strstr(r.out, "\n4242,qemu-system-x86,1,stage,native,total,150,"));
	EXPECT_NE(NULL, strstr(r.out, "\n4242,qemu-system-x86,0,exit,,hlt,150,67081,1372100,138471.0,178191.3,111502,152917,1354410,1372100\n"));
	run_free(&r);
}

TEST(empty_snapshot_says_so)
{
	struct run r;

	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("e.hist",
		"# kvmio_lat hist 1\n# unit: ns; x\n# more\nend\n", -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no VM traced"));
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("e.hist",
		"# kvmio_lat hist 1\n# unit: ns; x\nend\n", -1), "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_STREQ("{\"schema\": \"kvmio_lat/5\", \"vms\": [], \"stats\": {}}\n", r.out);
	run_free(&r);
	remove_tmpdir();
}

TEST(filters_that_select_nothing_are_errors)
{
	struct run r;

	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--pid", "4");
	EXPECT_ONE_ERROR(&r, 1, "no VM with pid 4 (VMs in it: 1000 2000)");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--pid", "1000",
	    "--vcpu", "1");
	EXPECT_ONE_ERROR(&r, 1, "no vCPU 1 in the selected VMs");
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* compare */

/* The "%.2fx" the reader prints for @b / @a. */
static const char *ratio_str(char *buf, u64 b, u64 a)
{
	snprintf(buf, 16, "%.2fx", (double)b / a);
	return buf;
}

TEST(compare_two_snapshots)
{
	struct kvl_snap sa, sb;
	struct kvl_svcpu ma, mb;
	struct kvl_filter flt;
	struct rf_vm va, vb;
	struct fx fa, fb;
	struct run r;
	char *ta, *tb, want[256], r50[16], r99[16];
	const struct kvl_shist *ha, *hb;
	u64 d[RF_NR_DUR];
	unsigned int seed = 3;
	int i, s;

	/* B: the same requests as A with every stage twice as long */
	fx_init(&fa);
	fx_init(&fb);
	rf_vm_init(&va, 500, "qemu-a");
	rf_vm_init(&vb, 600, "qemu-b");
	for (i = 0; i < 400; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, d);
		rf_native(&fa, &va, 0, d);
		for (s = 0; s < RF_NR_DUR; s++)
			d[s] *= 2;
		rf_native(&fb, &vb, 0, d);
	}
	ta = rf_hist_text(&fa);
	tb = rf_hist_text(&fb);
	make_tmpdir();
	RUN(&r, "compare", (char *)write_tmp("a.hist", ta, -1),
	    (char *)write_tmp("b.hist", tb, -1));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	ASSERT_EQ(0, kvl_snap_from_engine(&sa, &fa.eng, 0));
	ASSERT_EQ(0, kvl_snap_from_engine(&sb, &fb.eng, 0));
	kvl_filter_init(&flt);
	ASSERT_EQ(0, kvl_snap_merge_all(&sa, &flt, &ma));
	ASSERT_EQ(0, kvl_snap_merge_all(&sb, &flt, &mb));
	for (s = 0; s < KVL_NR_STAGES; s++) {
		u64 a50, b50, a99, b99;

		if (!kvl_stage_name(KVL_PATH_NATIVE, s))
			continue;
		ha = kvl_svcpu_stage(&ma, KVL_PATH_NATIVE, s);
		hb = kvl_svcpu_stage(&mb, KVL_PATH_NATIVE, s);
		a50 = kvl_rhist_percentile(&ha->h, 50000);
		b50 = kvl_rhist_percentile(&hb->h, 50000);
		a99 = kvl_rhist_percentile(&ha->h, 99000);
		b99 = kvl_rhist_percentile(&hb->h, 99000);
		/* twice as long, to within the buckets' resolution */
		EXPECT_LE(fabs((double)b50 / a50 - 2.0), 2.0 / 8);
		EXPECT_LE(fabs((double)b99 / a99 - 2.0), 2.0 / 8);
		snprintf(want, sizeof(want), "  native   %-18s        400 ", kvl_stage_name(0, s));
		ASSERT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
		snprintf(want, sizeof(want), "%8s %8s\n", ratio_str(r50, b50, a50),
			 ratio_str(r99, b99, a99));
		EXPECT_NE(NULL, strstr(strstr(r.out, kvl_stage_name(0, s)), want))
			TH_LOG("%s: %s", kvl_stage_name(0, s), want);
	}
	EXPECT_EQ(NULL, strstr(r.out, "threads "));
	EXPECT_EQ(NULL, strstr(r.out, "complete_to_reap"));
	run_free(&r);
	kvl_svcpu_free(&ma);
	kvl_svcpu_free(&mb);
	kvl_snap_free(&sa);
	kvl_snap_free(&sb);
	free(ta);
	free(tb);
	remove_tmpdir();
	rf_vm_fini(&va);
	rf_vm_fini(&vb);
	fx_fini(&fa);
	fx_fini(&fb);
}

/* Snapshots the module printed in the lab (real QEMU, nested KVM). */
TEST(lab_snapshots_of_the_real_module)
{
	struct run r;

	RUN(&r, "show", "--input", (char *)fixture("lab_native.hist"), "--stats",
	    (char *)fixture("lab_native.stats"), "--exits", "--json");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_NE(NULL, strstr(r.out, "\"total\": {\"count\": 2503, "));
	EXPECT_NE(NULL, strstr(r.out, "\"requests\": 2503, "));
	run_free(&r);
	RUN(&r, "compare", (char *)fixture("lab_native.hist"),
	    (char *)fixture("lab_threads.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "  native   total                    2503 "));
	EXPECT_NE(NULL, strstr(r.out, "  threads  total                       -         -         -       2503 "));
	run_free(&r);
}

TEST(compare_paths_side_by_side)
{
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;
	char *text = read_all(fixture("two_vms.hist"));
	const struct kvl_shist *n, *t;
	struct kvl_svcpu all;
	struct kvl_filter flt;
	char want[128], r50[16], r99[16];

	RUN(&r, "compare", "--paths", (char *)fixture("two_vms.hist"));
	EXPECT_EQ(0, r.rc);
	ASSERT_EQ(0, parse_text(&s, text, &pe));
	kvl_filter_init(&flt);
	ASSERT_EQ(0, kvl_snap_merge_all(&s, &flt, &all));
	n = kvl_svcpu_stage(&all, KVL_PATH_NATIVE, KVL_ST_TOTAL);
	t = kvl_svcpu_stage(&all, KVL_PATH_THREADS, KVL_ST_TOTAL);
	/* threads / native, then io_uring / native: no data, dashes */
	snprintf(want, sizeof(want), "%8s %8s %8s %8s\n",
		 ratio_str(r50, kvl_rhist_percentile(&t->h, 50000),
			   kvl_rhist_percentile(&n->h, 50000)),
		 ratio_str(r99, kvl_rhist_percentile(&t->h, 99000),
			   kvl_rhist_percentile(&n->h, 99000)), "-", "-");
	EXPECT_NE(NULL, strstr(strstr(r.out, "\n  total "), want)) TH_LOG("%s", r.out);
	/* labels as wide as the widest, submit_to_reap / ... (48) */
	snprintf(want, sizeof(want), "\n  %-48s %10d ", "wake_to_submit / wake_to_dispatch", 200);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "no io_uring requests in this snapshot"));
	EXPECT_EQ(NULL, strstr(r.out, "no native requests"));
	run_free(&r);

	/* one path only: said so */
	RUN(&r, "compare", "--paths", (char *)fixture("two_vcpus.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no threads requests in this snapshot"));
	run_free(&r);
	kvl_svcpu_free(&all);
	kvl_snap_free(&s);
	free(text);
}

/* ------------------------------------------------------------------ */
/* watch: deltas */

TEST(delta_is_what_happened_in_between)
{
	struct kvl_snap s1, s2, d;
	struct rf_vm vm;
	struct fx f;
	struct kvl_hist want;
	struct kvl_rhist rw;
	unsigned int seed = 11;
	const struct kvl_shist *h;
	u32 i;

	fx_init(&f);
	rf_vm_init(&vm, 3000, "qemu");
	rf_requests(&f, &vm, KVL_PATH_NATIVE, 1, 100, &seed);
	ASSERT_EQ(0, kvl_snap_from_engine(&s1, &f.eng, 0));
	rf_requests(&f, &vm, KVL_PATH_NATIVE, 1, 50, &seed);
	ASSERT_EQ(0, kvl_snap_from_engine(&s2, &f.eng, 0));
	ASSERT_EQ(0, kvl_snap_delta(&s1, &s2, &d));

	/* the buckets of exactly the last 50 values */
	kvl_hist_init(&want);
	for (i = 100; i < 150; i++)
		kvl_hist_record(&want, (s64)vm.vals[0][0][KVL_ST_TOTAL][i]);
	ASSERT_EQ(0, kvl_rhist_from_hist(&rw, &want));
	h = kvl_svcpu_stage(&d.vms[0].vcpus[0], KVL_PATH_NATIVE, KVL_ST_TOTAL);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(50, h->h.count);
	EXPECT_EQ(want.sum, h->h.sum);
	ASSERT_EQ(rw.nr, h->h.nr);
	EXPECT_EQ(0, memcmp(rw.b, h->h.b, rw.nr * sizeof(*rw.b)));
	EXPECT_EQ(kvl_hist_bucket_lo(rw.b[0].idx), h->h.min);
	/* percentiles of the delta are within the buckets of the exact ones */
	EXPECT_LE(llabs((long long)kvl_rhist_percentile(&h->h, 50000) -
			(long long)exact_quantile(&vm.vals[0][0][KVL_ST_TOTAL][100], 50, 50000)),
		  (long long)h->h.max / 16);
	EXPECT_EQ(100, kvl_svcpu_exit(&d.vms[0].vcpus[0], "npf")->h.count + 50);
	kvl_rhist_free(&rw);
	kvl_snap_free(&d);

	/* nothing new: nothing in the delta */
	ASSERT_EQ(0, kvl_snap_delta(&s2, &s2, &d));
	EXPECT_EQ(0, d.vms[0].vcpus[0].nr_hists);
	kvl_snap_free(&d);
	kvl_snap_free(&s1);

	/* a reset in between: counts went down, start from zero */
	kvl_engine_reset(&f.eng);
	rf_requests(&f, &vm, KVL_PATH_NATIVE, 1, 10, &seed);
	ASSERT_EQ(0, kvl_snap_from_engine(&s1, &f.eng, 0));
	ASSERT_EQ(0, kvl_snap_delta(&s2, &s1, &d));
	h = kvl_svcpu_stage(&d.vms[0].vcpus[0], KVL_PATH_NATIVE, KVL_ST_TOTAL);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(10, h->h.count);
	kvl_snap_free(&d);
	kvl_snap_free(&s1);
	kvl_snap_free(&s2);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

TEST(delta_treats_a_restarted_vm_as_new)
{
	struct kvl_snap s1, s2, d;
	struct kvl_perr pe;
	char *text = read_all(fixture("two_vcpus.hist")), *renamed;

	ASSERT_EQ(0, parse_text(&s1, text, &pe));
	/* same pid, another process name: another VM */
	renamed = replace(text, "vm 4242 qemu-system-x86", "vm 4242 qemu-new");
	ASSERT_EQ(0, parse_text(&s2, renamed, &pe));
	ASSERT_EQ(0, kvl_snap_delta(&s1, &s2, &d));
	EXPECT_EQ(150, kvl_svcpu_stage(&d.vms[0].vcpus[0], 0, KVL_ST_TOTAL)->h.count);
	kvl_snap_free(&d);
	/* a VM that went away is simply not in the delta */
	ASSERT_EQ(0, kvl_snap_delta(&s2, &s1, &d));
	EXPECT_EQ(1, d.nr_vms);
	kvl_snap_free(&d);
	kvl_snap_free(&s1);
	kvl_snap_free(&s2);
	free(renamed);
	free(text);
}

/* The command itself, on a file replaced while it waits. */
TEST(watch_prints_interval_deltas)
{
	struct rf_vm vm;
	struct fx f;
	struct run r;
	unsigned int seed = 5;
	char *t1, *t2, path2[300];
	const char *path;
	pid_t child;
	int status;

	fx_init(&f);
	rf_vm_init(&vm, 3100, "qemu");
	rf_requests(&f, &vm, KVL_PATH_NATIVE, 1, 30, &seed);
	t1 = rf_hist_text(&f);
	rf_requests(&f, &vm, KVL_PATH_NATIVE, 1, 12, &seed);
	t2 = rf_hist_text(&f);
	make_tmpdir();
	path = write_tmp("live.hist", t1, -1);
	snprintf(path2, sizeof(path2), "%s/next.hist", tmpdir);
	child = fork();
	ASSERT_GE(child, 0);
	if (!child) {
		FILE *n = fopen(path2, "w");

		fputs(t2, n);
		fclose(n);
		usleep(300000);
		_exit(rename(path2, path) ? 1 : 0);
	}
	RUN(&r, "watch", "--input", (char *)path, "-i", "0.6", "-n", "2");
	waitpid(child, &status, 0);
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	/* first interval: 12 requests; second: nothing */
	EXPECT_NE(NULL, strstr(r.out, "interval 0.6"));
	EXPECT_NE(NULL, strstr(r.out, "      3100 all   native   total                      12 "))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  nothing completed in this interval\n"));
	EXPECT_EQ(NULL, strstr(r.out, " npf "));	/* exits only with --exits */
	run_free(&r);

	RUN(&r, "watch", "--input", (char *)path, "-i", "0.1", "-n", "1", "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_NE(NULL, strstr(r.out, "\"vcpus\": [{\"vcpu\": 0, \"exits\": {}, \"paths\": {\"native\": {}, \"threads\": {}, \"io_uring\": {}}}]"));
	run_free(&r);
	remove_tmpdir();
	free(t1);
	free(t2);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* ------------------------------------------------------------------ */
/* bad input: one line on stderr, the right exit code */

TEST(missing_empty_and_directory_inputs)
{
	struct run r;

	make_tmpdir();
	RUN(&r, "show", "--input", "/nonexistent/kvmio.hist");
	EXPECT_ONE_ERROR(&r, 1, "/nonexistent/kvmio.hist: no such file");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("empty", "", 0));
	EXPECT_ONE_ERROR(&r, 1, "empty file, not a kvmio_lat snapshot");
	run_free(&r);
	RUN(&r, "show", "--input", tmpdir);
	EXPECT_ONE_ERROR(&r, 1, "is a directory");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("txt", "hello\nworld\n", -1));
	EXPECT_ONE_ERROR(&r, 1, ":1: not a kvmio_lat snapshot: the first line should be '# kvmio_lat hist 5'");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v6", "# kvmio_lat hist 6\n# unit: ns;\nend\n", -1));
	EXPECT_ONE_ERROR(&r, 1, ":1: snapshot format version 6, but kvmio-lat 0.1.0 reads versions 1 to 5");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v0", "# kvmio_lat hist 0\n# unit: ns;\nend\n", -1));
	EXPECT_ONE_ERROR(&r, 1, ":1: snapshot format version 0, but kvmio-lat 0.1.0 reads versions 1 to 5");
	run_free(&r);
	/* every version it reads: 1 to 5 */
	RUN(&r, "show", "--input", (char *)write_tmp("v2", "# kvmio_lat hist 2\n# unit: ns;\nend\n", -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no VM traced"));
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v3", "# kvmio_lat hist 3\n# unit: ns;\nend\n", -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no VM traced"));
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v4", "# kvmio_lat hist 4\n# unit: ns;\nend\n", -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no VM traced"));
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v5", "# kvmio_lat hist 5\n# unit: ns;\nend\n", -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no VM traced"));
	run_free(&r);
	RUN(&r, "compare", (char *)fixture("two_vms.hist"), "/nonexistent/b");
	EXPECT_ONE_ERROR(&r, 1, "/nonexistent/b: no such file");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--stats", "/nonexistent/s");
	EXPECT_ONE_ERROR(&r, 1, "/nonexistent/s: no such file");
	run_free(&r);
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--stats",
	    (char *)fixture("two_vms.hist"));
	EXPECT_ONE_ERROR(&r, 1, ":1: not a kvmio_lat stats file: expected 'name: number'");
	run_free(&r);
	remove_tmpdir();
}

TEST(truncated_snapshots)
{
	char *text = read_all(fixture("two_vcpus.hist"));
	size_t len = strlen(text), cut;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;

	ASSERT_NE(NULL, text);
	/* every cut short of the whole file is refused as truncated */
	for (cut = 0; cut < len - 1; cut += 1 + cut / 7) {
		kvl_snap_init(&s);
		EXPECT_EQ(-1, kvl_parse_hist(&s, text, cut, &pe)) TH_LOG("cut %zu", cut);
		if (cut)
			EXPECT_EQ(KVL_PERR_TRUNCATED, pe.kind) TH_LOG("cut %zu: %u %s", cut, pe.line, pe.msg);
	}
	/* "end" without its newline is whole */
	kvl_snap_init(&s);
	EXPECT_EQ(0, kvl_parse_hist(&s, text, len - 1, &pe));
	kvl_snap_free(&s);
	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("cut", text, len / 2));
	EXPECT_ONE_ERROR(&r, 1, "truncated snapshot: no final 'end' line after line ");
	run_free(&r);
	remove_tmpdir();
	free(text);
}

/* Each corruption of the saved fixture, and the line it is reported at. */
TEST(corrupted_snapshots)
{
	static const struct {
		const char *from, *to, *what;
		unsigned int line;
	} cases[] = {
		{ "  [2, 3) 150", "  [2, 4) 150", "[2, 4) is not a bucket of the histogram layout", 7 },
		{ "  [65536, 69632) 2", "  [65000, 69632) 2", "is not a bucket", 9 },
		{ "  [69632, 73728) 6", "  [63488, 65536) 6", "out of order or repeated", 10 },
		{ "  [2, 3) 150", "  [2, 3) 0", "empty bucket", 7 },
		{ "  [2, 3) 150", "  [2, 3) 99999999999", "expected '  [LO, HI) COUNT'", 7 },
		{ "  [2, 3) 150", "  [0, 1) 150", "outside [1, 137438953472)", 7 },
		{ "npf count=150 ", "npf count=1500 ", "count=1500 but buckets + underflow + overflow = 150", 6 },
		{ "npf count=150 min=2", "npf count=150 mix=2", "expected ' min='", 6 },
		{ "sum=300 sumsq=600", "sum=300 sumsq=600x", "expected ' underflow='", 6 },
		{ "underflow=0 overflow=0\n  [2, 3)", "underflow=0 overflow=0 \n  [2, 3)", "unexpected text after overflow=", 6 },
		{ "sum=300 ", "sum=99999999999999999999999 ", "sum= is not a number (or too big)", 6 },
		{ "native doorbell_to_wake", "native doorbell_to_dispatch", "unknown stage of path native", 33 },
		{ "native doorbell_to_wake", "nativ doorbell_to_wake", "unknown path", 33 },
		{ "stage 4242 0 native wake_to_submit", "stage 4242 0 native doorbell_to_wake", "out of order or repeated", 59 },
		{ "stage 4242 0 native submit ", "stage 4242 1 native submit ", "inside the block of vcpu 4242 0", 87 },
		{ "vcpu 4242 0 isa svm", "vcpu 4242 0 isa arm", "unknown isa 'arm'", 5 },
		{ "vcpu 4242 0 isa svm exits 300", "vcpu 4242 0 isa svm exits", "expected 'vcpu PID VCPU isa ISA exits N'", 5 },
		{ "vm 4242 qemu-system-x86 vcpus 2", "vm 4242 qemu-system-x86 vcpus 3", "vm 4242 declares 3 vCPUs but lists 2", 4 },
		{ "vm 4242 qemu-system-x86 vcpus 2", "vm 4242 qemu-system-x86 vcpus 1", "more vCPUs than the 1 vm 4242 declares", 0 },
		{ "vm 4242 qemu-system-x86 vcpus 2", "vm 4242 qemu-system-x86 vcpus 5000", "5000 vCPUs: more than the engine's 4096", 4 },
		{ "vm 4242 qemu-system-x86 vcpus 2", "vm 4242 qemu-system-x86-long-name vcpus 2", "1-15 byte COMM", 4 },
		{ "vm 4242 ", "vm 0 ", "expected 'vm PID COMM vcpus N'", 4 },
		{ "vcpu 4242 1 isa", "vcpu 4242 0 isa", "vcpu 4242 0 listed twice", 0 },
		{ "# unit: ns;", "# units: ns;", "second line is not '# unit: ns; ...'", 2 },
		{ "end\n", "end\nvm 1 x vcpus 0\n", "text after the final 'end' line", 0 },
		{ "end\n", "# late\nend\n", "comment line after the header", 0 },
		{ "end\n", "bogus\nend\n", "unexpected line", 0 },
	};
	char *text = read_all(fixture("two_vcpus.hist"));
	unsigned int i;

	ASSERT_NE(NULL, text);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *bad = replace(text, cases[i].from, cases[i].to);
		struct kvl_snap s;
		struct kvl_perr pe;
		size_t len;

		ASSERT_NE(NULL, bad) TH_LOG("case %u", i);
		len = strlen(bad);
		kvl_snap_init(&s);
		EXPECT_EQ(-1, kvl_parse_hist(&s, bad, len, &pe)) TH_LOG("case %u", i);
		EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind) TH_LOG("case %u: %s", i, pe.msg);
		EXPECT_NE(NULL, strstr(pe.msg, cases[i].what))
			TH_LOG("case %u: got '%s'", i, pe.msg);
		if (cases[i].line)
			EXPECT_EQ(cases[i].line, pe.line) TH_LOG("case %u", i);
		EXPECT_EQ(0, s.nr_vms);		/* nothing left behind */
		free(bad);
	}
	free(text);
}

TEST(binary_data)
{
	char *text = read_all(fixture("two_vcpus.hist"));
	size_t len = strlen(text);
	struct kvl_snap s;
	struct kvl_perr pe;

	text[strstr(text, "  [2, 3) 150") - text + 10] = '\0';
	kvl_snap_init(&s);
	EXPECT_EQ(-1, kvl_parse_hist(&s, text, len, &pe));
	EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind);
	EXPECT_EQ(7, pe.line);
	EXPECT_STREQ("NUL byte: binary data, not text", pe.msg);
	free(text);
}

TEST(corrupted_snapshot_cli_line)
{
	char *text = read_all(fixture("two_vcpus.hist"));
	char *bad = replace(text, "  [2, 3) 150", "  [2, 4) 150");
	struct run r;

	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("bad.hist", bad, -1));
	EXPECT_ONE_ERROR(&r, 1, "/bad.hist:7: corrupted snapshot: [2, 4) is not a bucket of the histogram layout");
	run_free(&r);
	remove_tmpdir();
	free(bad);
	free(text);
}

TEST(bounded_input)
{
	struct kvl_snap s;
	struct kvl_perr pe;
	char *big, *p;
	int i;

	/* too many exit reasons for one vCPU */
	big = malloc(1 << 16);
	p = big + sprintf(big, "# kvmio_lat hist 1\n# unit: ns;\nvm 1 q vcpus 1\nvcpu 1 0 isa svm exits 1\n");
	for (i = 0; i < KVL_EXIT_SLOTS + 1; i++)
		p += sprintf(p, "exit 1 0 r%d count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 underflow=0 overflow=0\n  [5, 6) 1\n", i);
	strcpy(p, "end\n");
	EXPECT_EQ(-1, parse_text(&s, big, &pe));
	snprintf(p, 64, "more than %d exit reasons", KVL_EXIT_SLOTS);
	EXPECT_NE(NULL, strstr(pe.msg, p)) TH_LOG("%s", pe.msg);
	/* a line longer than the cap */
	memset(big, 'x', 4000);
	strcpy(big + 4000, "\n");
	memcpy(big, "# kvmio_lat hist 1\n# unit: ns;\nvm 1 ", 36);
	EXPECT_EQ(-1, parse_text(&s, big, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "line longer than 1024 bytes"));
	free(big);
	/* a size cap before anything is read */
	kvl_snap_init(&s);
	EXPECT_EQ(-1, kvl_parse_hist(&s, "", (size_t)KVL_SNAP_MAX_BYTES + 1, &pe));
	EXPECT_EQ(KVL_PERR_TOO_BIG, pe.kind);
}

/* ------------------------------------------------------------------ */
/* 0 ns values, format 1 and format 2 */

/* Sum of the [lo, hi, n] of the first "buckets" list in @json; -1 if none. */
static long long json_bucket_total(const char *json, u32 *nr)
{
	const char *p = strstr(json, "\"buckets\": [");
	unsigned long long lo, hi, n;
	long long total = 0;
	int used;

	*nr = 0;
	if (!p)
		return -1;
	p += strlen("\"buckets\": [");
	while (sscanf(p, "[%llu, %llu, %llu]%n", &lo, &hi, &n, &used) == 3) {
		total += (long long)n;
		(*nr)++;
		p += used;
		if (strncmp(p, ", ", 2))
			break;
		p += 2;
	}
	return total;
}

static const char v1_zeros[] =
	"# kvmio_lat hist 1\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n"
	"stage 9 0 native total count=5 min=0 max=1000 mean=1000 stddev=0 p50=1000 p90=1000 p99=1000 p999=1000 sum=3000 sumsq=3000000 underflow=2 overflow=0\n"
	"  [992, 1024) 3\n"
	"end\n";

/*
 * A format 1 snapshot kept its 0 ns (and negative) values out of the
 * buckets as "underflow", so its mean was sum / (count - underflow).  Read
 * now, they are zeros in bucket [0, 1): mean = sum / count.
 */
TEST(format1_underflow_reads_into_bucket_zero)
{
	const struct kvl_shist *h;
	struct kvl_summary m;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;
	long long total;
	u32 nr;

	ASSERT_EQ(0, parse_text(&s, v1_zeros, &pe)) TH_LOG("%s", pe.msg);
	h = kvl_svcpu_stage(&s.vms[0].vcpus[0], KVL_PATH_NATIVE, KVL_ST_TOTAL);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(0, s.torn);
	EXPECT_EQ(5, h->h.count);
	ASSERT_EQ(2, h->h.nr);
	EXPECT_EQ(0, h->h.b[0].idx);
	EXPECT_EQ(2, h->h.b[0].n);
	EXPECT_EQ(3, h->h.b[1].n);
	EXPECT_EQ(0, h->h.negative);	/* zeros and negatives: not told apart */
	kvl_rhist_summary(&h->h, &m);
	EXPECT_EQ(5, m.count);
	EXPECT_EQ(0, m.min);
	EXPECT_EQ(600.0, m.mean);
	EXPECT_LE(fabs(m.stddev - sqrt(240000.0)), 0.01);
	EXPECT_EQ(0, kvl_rhist_percentile(&h->h, 40000));
	EXPECT_EQ(1000, m.p50);
	kvl_snap_free(&s);

	/* the JSON of it: buckets add up to count, [0, 1) first */
	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("v1.hist", v1_zeros, -1),
	    "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	total = json_bucket_total(r.out, &nr);
	EXPECT_EQ(5, total) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"count\": 5, \"min_ns\": 0, \"max_ns\": 1000, \"mean_ns\": 600.0, "))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\"buckets\": [[0, 1, 2], [992, 1024, 3]]"));
	run_free(&r);
	remove_tmpdir();

	/*
	 * The module's own format 1 snapshot of replay_native.dat (a copy of
	 * replay_native.hist as make-fixtures.sh made it then): 16 zeros.
	 */
	{
		char *text = read_all(fixture("format1_replay_native.hist"));
		const struct kvl_svcpu *v;

		ASSERT_NE(NULL, text);
		ASSERT_EQ(0, strncmp(text, "# kvmio_lat hist 1\n", 19));
		ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
		v = kvl_svm_vcpu(kvl_snap_vm(&s, 168), 0);
		ASSERT_NE(NULL, v);
		h = kvl_svcpu_stage(v, KVL_PATH_NATIVE, KVL_ST_SUBMIT_TO_REAP);
		ASSERT_NE(NULL, h);
		EXPECT_EQ(100, h->h.count);
		EXPECT_EQ(0, h->h.b[0].idx);
		EXPECT_EQ(16, h->h.b[0].n);
		kvl_rhist_summary(&h->h, &m);
		/* the module printed mean=4063904: sum / 84 */
		EXPECT_EQ(341367940 / 100.0, m.mean);
		kvl_snap_free(&s);
		free(text);
	}
}

/* JSON buckets add up to count (plus overflow, which is in no bucket). */
TEST(json_buckets_add_up_to_count)
{
	struct kvl_rhist h;
	struct kvl_hist eh;
	char *buf = NULL;
	long long total;
	size_t len;
	FILE *f;
	u32 nr;
	int i;

	kvl_hist_init(&eh);
	for (i = 0; i < 811; i++)
		kvl_hist_record(&eh, 0);
	kvl_hist_record(&eh, -7);
	for (i = 0; i < 1692; i++)
		kvl_hist_record(&eh, 1000 + i);
	ASSERT_EQ(0, kvl_rhist_from_hist(&h, &eh));
	f = open_memstream(&buf, &len);
	kvl_json_stats(f, &h);
	fclose(f);
	EXPECT_TRUE(json_valid(buf));
	total = json_bucket_total(buf, &nr);
	EXPECT_EQ(2504, total) TH_LOG("%s", buf);
	EXPECT_EQ(0, strncmp(buf, "{\"count\": 2504, \"min_ns\": 0, ", 29));
	EXPECT_NE(NULL, strstr(buf, "\"negative\": 1, \"overflow\": 0, \"buckets\": [[0, 1, 812], "));
	free(buf);
	kvl_rhist_free(&h);

	/* an overflow: count = buckets + overflow */
	kvl_hist_record(&eh, (s64)KVL_HIST_MAX_NS);
	ASSERT_EQ(0, kvl_rhist_from_hist(&h, &eh));
	buf = NULL;
	f = open_memstream(&buf, &len);
	kvl_json_stats(f, &h);
	fclose(f);
	EXPECT_EQ(2504, json_bucket_total(buf, &nr));
	EXPECT_EQ(0, strncmp(buf, "{\"count\": 2505, ", 16));
	EXPECT_NE(NULL, strstr(buf, "\"overflow\": 1, "));
	free(buf);
	kvl_rhist_free(&h);
}

/* Format 2: bucket [0, 1), 64-bit bucket counts, "negative" in bucket 0. */
/* The module keeps an exited VM, marked on its "vm" line. */
TEST(exited_vm_is_read_and_shown)
{
	static const char text[] = "# kvmio_lat hist 2\n# unit: ns;\nvm 9 qemu vcpus 1 exited 3500000000\nvcpu 9 0 isa svm exits 1\nstage 9 0 native total count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 negative=0 overflow=0\n  [5, 6) 1\nend\n";
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;
	char *bad;

	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_TRUE(s.vms[0].exited);
	EXPECT_EQ(3500000000ULL, s.vms[0].exited_ago_ns);
	EXPECT_STREQ("qemu", s.vms[0].comm);
	kvl_snap_free(&s);
	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("exited.hist", text, -1));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "VM 9 (qemu), 1 vCPU, exited 3.5 s ago\n")) TH_LOG("%s", r.out);
	run_free(&r);
	RUN(&r, "show", "--json", "--input", (char *)write_tmp("exited.hist", text, -1));
	EXPECT_NE(NULL, strstr(r.out, "\"comm\": \"qemu\", \"exited_ago_ns\": 3500000000, ")) TH_LOG("%s", r.out);
	run_free(&r);
	/* anything else after the vCPU count is corrupt */
	bad = strdup(text);
	memcpy(strstr(bad, "exited 35"), "exitex 35", 9);
	EXPECT_EQ(-1, parse_text(&s, bad, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "vcpus N [exited NS]")) TH_LOG("%s", pe.msg);
	free(bad);
	remove_tmpdir();
}

TEST(format2_zeros_and_big_buckets)
{
	static const char head[] = "# kvmio_lat hist 2\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n";
	const struct kvl_rhist *h;
	struct kvl_snap s;
	struct kvl_perr pe;
	char text[1024];

	/* 2^32 + 10 values in [992, 1024), 1000 in [1024, 1088) */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=4294968306 min=1000 max=1087 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=0 sumsq=0 negative=0 overflow=0\n  [992, 1024) 4294967306\n  [1024, 1088) 1000\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_EQ(0, s.torn);
	h = &s.vms[0].vcpus[0].hists[0].h;
	EXPECT_EQ(4294968306ULL, h->count);
	EXPECT_EQ(4294967306ULL, h->b[0].n);
	EXPECT_EQ(1000, h->min);
	EXPECT_EQ(1008, kvl_rhist_percentile(h, 50000));
	EXPECT_EQ(1087, kvl_rhist_percentile(h, 100000));
	kvl_snap_free(&s);

	/* 0 ns values and a negative one */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=4 min=0 max=5 mean=1 stddev=2 p50=0 p90=5 p99=5 p999=5 sum=5 sumsq=25 negative=1 overflow=0\n  [0, 1) 3\n  [5, 6) 1\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	h = &s.vms[0].vcpus[0].hists[0].h;
	EXPECT_EQ(4, h->count);
	EXPECT_EQ(1, h->negative);
	EXPECT_EQ(3, h->b[0].n);
	EXPECT_EQ(0, kvl_rhist_percentile(h, 50000));
	kvl_snap_free(&s);

	/* more negative values than bucket [0, 1) holds: corrupt */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 negative=100 overflow=0\n  [5, 6) 1\nend\n", head);
	EXPECT_EQ(-1, parse_text(&s, text, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "negative=100 but bucket [0, 1) holds fewer")) TH_LOG("%s", pe.msg);
	kvl_snap_free(&s);

	/* "underflow=" is format 1's field */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 underflow=0 overflow=0\n  [5, 6) 1\nend\n", head);
	EXPECT_EQ(-1, parse_text(&s, text, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "expected ' negative='")) TH_LOG("%s", pe.msg);
	kvl_snap_free(&s);
}

/* A read racing the module's writers is mended, not refused. */
TEST(torn_and_wrapped_histograms)
{
	static const char head[] = "# kvmio_lat hist 1\n# unit: ns;\nvm 9 CPU 0/KVM vcpus 1\nvcpu 9 0 isa vmx exits 3\n";
	struct kvl_snap s;
	struct kvl_perr pe;
	char text[1024];

	/* count one ahead of the buckets, min from before a new smaller value */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=4 min=1500 max=2000 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=4500 sumsq=0 underflow=0 overflow=0\n  [1024, 1088) 1\n  [1472, 1536) 1\n  [1984, 2048) 1\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_STREQ("CPU 0/KVM", s.vms[0].comm);
	EXPECT_EQ(3, s.vms[0].vcpus[0].hists[0].h.count);
	EXPECT_EQ(1087, s.vms[0].vcpus[0].hists[0].h.min);
	EXPECT_EQ(2, s.torn);
	kvl_snap_free(&s);

	/* count ahead by 2^32: a bucket counter wrapped in the module */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=4294967297 min=1500 max=1500 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=1500 sumsq=0 underflow=0 overflow=0\n  [1472, 1536) 1\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_EQ(4294967297ULL, s.vms[0].vcpus[0].hists[0].h.count);
	kvl_snap_free(&s);

	/* a histogram caught before its first value reached a bucket */
	snprintf(text, sizeof(text), "%sstage 9 0 native total count=1 min=0 max=0 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=0 sumsq=0 underflow=0 overflow=0\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_EQ(0, s.vms[0].vcpus[0].nr_hists);
	kvl_snap_free(&s);

	/* under- and overflow only */
	snprintf(text, sizeof(text), "%sexit 9 0 HLT count=2 min=0 max=200000000000 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=0 sumsq=0 underflow=1 overflow=1\nend\n", head);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	EXPECT_EQ(0, kvl_rhist_percentile(&s.vms[0].vcpus[0].hists[0].h, 50000));
	EXPECT_EQ(200000000000ULL, kvl_rhist_percentile(&s.vms[0].vcpus[0].hists[0].h, 99000));
	kvl_snap_free(&s);
}

/* SVM names its exception exits with a space: "PF excp". */
TEST(exit_reasons_with_spaces)
{
	static const char text[] = "# kvmio_lat hist 1\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 3\n"
		"exit 9 0 PF excp count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 underflow=0 overflow=0\n  [5, 6) 1\n"
		"exit 9 0 npf count=1 min=7 max=7 mean=7 stddev=0 p50=7 p90=7 p99=7 p999=7 sum=7 sumsq=49 underflow=0 overflow=0\n  [7, 8) 1\n"
		"end\n";
	static const char *const bad[] = {
		"exit 9 0  PF count=", "exit 9 0 PF  excp count=", "exit 9 0 PF excp  count=",
		"exit 9 0 count=", "exit 9 0 P-F count=",
		"exit 9 0 a_reason_name_longer_than_31_chars count=",
	};
	struct kvl_snap s;
	struct kvl_perr pe;
	unsigned int i;

	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	ASSERT_EQ(2, s.vms[0].vcpus[0].nr_hists);
	EXPECT_STREQ("PF excp", s.vms[0].vcpus[0].hists[0].reason);
	EXPECT_STREQ("npf", s.vms[0].vcpus[0].hists[1].reason);
	kvl_snap_free(&s);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char *t = replace(text, "exit 9 0 PF excp count=", bad[i]);

		EXPECT_EQ(-1, parse_text(&s, t, &pe)) TH_LOG("%s", bad[i]);
		EXPECT_EQ(5, pe.line);
		free(t);
	}
}

TEST(two_slots_with_one_name_merge)
{
	static const char text[] = "# kvmio_lat hist 1\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa vmx exits 3\n"
		"exit 9 0 EPT_VIOLATION count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 underflow=0 overflow=0\n  [5, 6) 1\n"
		"exit 9 0 EPT_VIOLATION count=2 min=7 max=9 mean=8 stddev=1 p50=7 p90=9 p99=9 p999=9 sum=16 sumsq=130 underflow=0 overflow=0\n  [7, 8) 1\n  [9, 10) 1\n"
		"end\n";
	struct kvl_snap s;
	struct kvl_perr pe;

	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%s", pe.msg);
	ASSERT_EQ(1, s.vms[0].vcpus[0].nr_hists);
	EXPECT_EQ(3, s.vms[0].vcpus[0].hists[0].h.count);
	EXPECT_EQ(5, s.vms[0].vcpus[0].hists[0].h.min);
	EXPECT_EQ(9, s.vms[0].vcpus[0].hists[0].h.max);
	kvl_snap_free(&s);
}

/* ------------------------------------------------------------------ */
/* formats 3 and 4: per-disk histograms */

/*
 * The expected histograms of @vm's disks against @s's VM: the same disks
 * in the same order, each histogram exactly the values recorded.
 */
static void check_disks(struct __test_metadata *_metadata,
			const struct kvl_snap *s, struct rf_vm *vm)
{
	const struct kvl_svm *svm = kvl_snap_vm(s, vm->pid);
	unsigned int p, ds;
	u32 i;

	ASSERT_NE(NULL, svm);
	ASSERT_EQ(vm->nr_disks, svm->nr_disks);
	for (i = 0; i < vm->nr_disks; i++) {
		const struct kvl_sdisk *d = &svm->disks[i];

		EXPECT_EQ(vm->disk_fd[i], d->fd);
		EXPECT_EQ(NULL, d->name);	/* not a live read */
		for (p = 0; p < KVL_NR_PATHS; p++)
			for (ds = 0; ds < KVL_NR_DISK_STAGES; ds++) {
				struct kvl_rhist want;

				ASSERT_EQ(0, kvl_rhist_from_hist(&want, &vm->disk[i][p][ds]));
				EXPECT_TRUE(rhist_equal(&want, &d->h[p][ds]))
					TH_LOG("fd %d %s %s: count %llu, want %llu", d->fd,
					       kvl_path_name(p),
					       kvl_disk_stage_name(ds),
					       (unsigned long long)d->h[p][ds].count,
					       (unsigned long long)want.count);
				kvl_rhist_free(&want);
			}
	}
}

/* With KVL_WRITE_FIXTURES set, @text becomes fixtures/@name. */
static void write_fixture(const char *name, const char *text)
{
	FILE *o;

	if (!getenv("KVL_WRITE_FIXTURES"))
		return;
	o = fopen(fixture(name), "w");
	if (!o)
		abort();
	fputs(text, o);
	fclose(o);
}

/* @a and @b both in @s, @a first. */
static bool in_order(const char *s, const char *a, const char *b)
{
	const char *pa = strstr(s, a), *pb = strstr(s, b);

	return pa && pb && pa < pb;
}

/*
 * fixtures/disks.hist and disks_small.hist are the engine's text of
 * rf_standard_disks() and rf_small_disks() as format 4 (no io_uring
 * request: format 5's text under format 4's header): remade with
 * KVL_WRITE_FIXTURES=1, otherwise they must still be what it prints.
 * disks_v3.hist is disks.hist as format 3 printed it, never remade.
 */
TEST(disks_fixture_is_the_engine_text)
{
	struct rf_vm a, b;
	struct fx f;
	char *text, *stats, *want, *v3, *v5;

	fx_init(&f);
	rf_small_disks(&f, &a);
	v5 = rf_hist_text(&f);
	EXPECT_EQ(0, strncmp(v5, "# kvmio_lat hist 5\n", 19));
	EXPECT_EQ(NULL, strstr(v5, "io_uring"));
	text = rf_as_format4(v5);
	free(v5);
	write_fixture("disks_small.hist", text);
	want = read_all(fixture("disks_small.hist"));
	ASSERT_NE(NULL, want);
	EXPECT_STREQ(want, text);
	EXPECT_LT(strlen(text), 16384);		/* the fuzzer's -max_len */
	EXPECT_NE(NULL, strstr(text, "\ndisk 77 3 native submit_to_irq count=3 "));
	/* the first native request went before the ring's first look */
	EXPECT_NE(NULL, strstr(text, "\ndisk 77 3 native io count=2 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 77 4 threads io count=4 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 77 4 threads total count=4 "));
	free(want);
	free(text);
	rf_vm_fini(&a);
	fx_fini(&f);

	fx_init(&f);
	rf_standard_disks(&f, &a, &b);
	v5 = rf_hist_text(&f);
	EXPECT_EQ(NULL, strstr(v5, "io_uring"));
	text = rf_as_format4(v5);
	free(v5);
	stats = rf_stats_text(&f);
	write_fixture("disks.hist", text);
	write_fixture("disks.stats", stats);
	want = read_all(fixture("disks.hist"));
	ASSERT_NE(NULL, want);
	EXPECT_STREQ(want, text);
	EXPECT_EQ(0, strncmp(text, "# kvmio_lat hist 4\n", 19));
	EXPECT_NE(NULL, strstr(text, "\ndisk 5000 11 native io count=39 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 5000 11 native submit_to_irq count=40 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 5000 13 threads io count=60 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 5000 13 threads submit_to_irq count=60 "));
	EXPECT_NE(NULL, strstr(stats, "\nrequests_without_disk: 50\n"));
	/* a disk's io comes first on each path */
	EXPECT_TRUE(in_order(text, "\ndisk 5000 12 native io ",
			     "\ndisk 5000 12 native submit_to_irq "));
	EXPECT_TRUE(in_order(text, "\ndisk 5000 12 native total ",
			     "\ndisk 5000 12 threads io "));
	EXPECT_TRUE(in_order(text, "\ndisk 5000 12 threads io ",
			     "\ndisk 5000 12 threads submit_to_irq "));
	free(want);
	/* the same run in format 3: only the io lines and the header differ */
	want = read_all(fixture("disks_v3.hist"));
	ASSERT_NE(NULL, want);
	v3 = rf_as_format3(text);
	EXPECT_STREQ(want, v3);
	free(v3);
	EXPECT_EQ(0, strncmp(want, "# kvmio_lat hist 3\n", 19));
	EXPECT_EQ(NULL, strstr(want, " native io "));
	EXPECT_EQ(NULL, strstr(want, "\ndisk 5000 13 threads io "));
	free(want);
	free(text);
	free(stats);
	rf_vm_fini(&a);
	rf_vm_fini(&b);
	fx_fini(&f);
}

TEST(disk_lines_parse_into_the_engine_model)
{
	struct kvl_snap parsed, direct;
	struct kvl_perr pe;
	struct rf_vm a, b;
	struct fx f;
	char *text = read_all(fixture("disks.hist"));
	const struct kvl_svm *vm;

	ASSERT_NE(NULL, text);
	fx_init(&f);
	rf_standard_disks(&f, &a, &b);
	ASSERT_EQ(0, parse_text(&parsed, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	ASSERT_EQ(0, kvl_snap_from_engine(&direct, &f.eng, 4096));
	EXPECT_EQ(4, parsed.version);
	EXPECT_EQ(5, direct.version);	/* the engine's, the same histograms */
	EXPECT_EQ(0, parsed.torn);
	EXPECT_TRUE(snap_equal(&parsed, &direct));
	/* first seen: 11 (native), 12 (native, then threads), 13 (threads) */
	vm = kvl_snap_vm(&parsed, 5000);
	ASSERT_NE(NULL, vm);
	ASSERT_EQ(3, vm->nr_disks);
	EXPECT_EQ(11, vm->disks[0].fd);
	EXPECT_EQ(12, vm->disks[1].fd);
	EXPECT_EQ(13, vm->disks[2].fd);
	EXPECT_EQ(40, vm->disks[0].h[KVL_PATH_NATIVE][KVL_DS_SUBMIT_TO_IRQ].count);
	EXPECT_EQ(0, vm->disks[0].h[KVL_PATH_THREADS][KVL_DS_TOTAL].count);
	EXPECT_EQ(20, vm->disks[1].h[KVL_PATH_NATIVE][KVL_DS_TOTAL].count);
	EXPECT_EQ(30, vm->disks[1].h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ].count);
	EXPECT_EQ(60, vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_TOTAL].count);
	/* io: every threads request; native ones but the first (fd 11's) */
	EXPECT_EQ(39, vm->disks[0].h[KVL_PATH_NATIVE][KVL_DS_IO].count);
	EXPECT_EQ(20, vm->disks[1].h[KVL_PATH_NATIVE][KVL_DS_IO].count);
	EXPECT_EQ(30, vm->disks[1].h[KVL_PATH_THREADS][KVL_DS_IO].count);
	EXPECT_EQ(60, vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_IO].count);
	EXPECT_EQ(0, vm->disks[2].h[KVL_PATH_NATIVE][KVL_DS_IO].count);
	/* a part of submit_to_irq, request by request */
	EXPECT_LT(vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_IO].sum,
		  vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ].sum);
	EXPECT_LT(vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_IO].max,
		  vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ].max);
	/* fd 13's reads are ten times fd 12's: its median is still five times */
	EXPECT_GT(kvl_rhist_percentile(&vm->disks[2].h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ], 50000),
		  5 * kvl_rhist_percentile(&vm->disks[1].h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ], 50000));
	check_disks(_metadata, &parsed, &a);
	check_disks(_metadata, &direct, &a);
	ASSERT_NE(NULL, kvl_snap_vm(&parsed, 6000));
	EXPECT_EQ(0, kvl_snap_vm(&parsed, 6000)->nr_disks);
	EXPECT_EQ(50, kvl_snap_stat(&direct, "requests_without_disk")->value);
	EXPECT_EQ(0, kvl_snap_stat(&direct, "dropped_disk_requests")->value);
	kvl_snap_free(&parsed);
	kvl_snap_free(&direct);
	free(text);
	rf_vm_fini(&a);
	rf_vm_fini(&b);
	fx_fini(&f);
}

/*
 * A format 3 snapshot reads as before: its disks have no io, and the rest
 * is what format 4 has of the same run.
 */
TEST(format3_disks_read_without_io)
{
	char *v3 = read_all(fixture("disks_v3.hist"));
	char *v4 = read_all(fixture("disks.hist"));
	struct kvl_snap s3, s4;
	struct kvl_perr pe;
	unsigned int p;
	u32 i, j, io = 0;

	ASSERT_NE(NULL, v3);
	ASSERT_NE(NULL, v4);
	ASSERT_EQ(0, parse_text(&s3, v3, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	ASSERT_EQ(0, parse_text(&s4, v4, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	EXPECT_EQ(3, s3.version);
	EXPECT_EQ(4, s4.version);
	ASSERT_EQ(s4.nr_vms, s3.nr_vms);
	ASSERT_EQ(3, s3.vms[0].nr_disks);
	for (i = 0; i < s4.nr_vms; i++) {
		const struct kvl_svm *a = &s3.vms[i], *b = &s4.vms[i];

		ASSERT_EQ(b->nr_disks, a->nr_disks);
		for (j = 0; j < b->nr_disks; j++)
			for (p = 0; p < KVL_NR_PATHS; p++) {
				struct kvl_rhist *h = &b->disks[j].h[p][KVL_DS_IO];

				EXPECT_EQ(0, a->disks[j].h[p][KVL_DS_IO].count);
				io += h->count > 0;
				kvl_rhist_free(h);	/* then compare the rest */
				memset(h, 0, sizeof(*h));
			}
	}
	EXPECT_EQ(4, io);	/* fd 11 and 12 native, 12 and 13 threads */
	EXPECT_TRUE(snap_equal(&s3, &s4));
	kvl_snap_free(&s3);
	kvl_snap_free(&s4);
	free(v3);
	free(v4);
}

/* Percentiles of a disk against the exact values behind them. */
TEST(disk_percentiles_against_exact_values)
{
	static const u32 q[] = { 50000, 90000, 99000 };
	u64 sti[200], total[200], sum_of_stages;
	struct kvl_hist want_sti;
	struct kvl_rhist want;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct rf_vm vm;
	struct fx f;
	unsigned int seed = 23, i, k;
	const struct kvl_sdisk *d;
	char *text;
	u64 dur[RF_NR_DUR];

	fx_init(&f);
	rf_vm_init(&vm, 7000, "qemu");
	kvl_hist_init(&want_sti);
	for (i = 0; i < 200; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, dur);
		rf_native_fd(&f, &vm, 0, dur, 9);
		/* io_submit's entry to the interrupt: submit + submit_to_reap + reap_to_irq */
		sti[i] = rf_submit_to_irq(dur);
		kvl_hist_record(&want_sti, (s64)sti[i]);
		total[i] = 0;
		for (k = 0; k < RF_NR_DUR; k++)
			total[i] += dur[k];
	}
	text = rf_hist_text(&f);
	ASSERT_EQ(0, parse_text(&s, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	d = kvl_svm_disk(kvl_snap_vm(&s, 7000), 9);
	ASSERT_NE(NULL, d);
	ASSERT_EQ(200, d->h[KVL_PATH_NATIVE][KVL_DS_SUBMIT_TO_IRQ].count);
	/* the AIO ring not read (vm.ring 0): when the I/O ended is unknown */
	EXPECT_EQ(0, d->h[KVL_PATH_NATIVE][KVL_DS_IO].count);
	for (k = 0; k < ARRAY_SIZE(q); k++) {
		u64 e_sti = exact_quantile(sti, 200, q[k]);
		u64 e_total = exact_quantile(total, 200, q[k]);

		EXPECT_LE(llabs((long long)kvl_rhist_percentile(&d->h[0][KVL_DS_SUBMIT_TO_IRQ], q[k]) -
				(long long)e_sti), (long long)(e_sti / 16 + 1));
		EXPECT_LE(llabs((long long)kvl_rhist_percentile(&d->h[0][KVL_DS_TOTAL], q[k]) -
				(long long)e_total), (long long)(e_total / 16 + 1));
	}
	EXPECT_EQ(sti[0], d->h[0][KVL_DS_SUBMIT_TO_IRQ].min);	/* sorted by now */
	EXPECT_EQ(sti[199], d->h[0][KVL_DS_SUBMIT_TO_IRQ].max);
	/* bucket for bucket the exact values'; its sum is the three stages' */
	ASSERT_EQ(0, kvl_rhist_from_hist(&want, &want_sti));
	EXPECT_TRUE(rhist_equal(&want, &d->h[0][KVL_DS_SUBMIT_TO_IRQ]));
	kvl_rhist_free(&want);
	sum_of_stages = 0;
	for (k = KVL_ST_SUBMIT; k <= KVL_ST_REAP_TO_IRQ; k++)
		if (kvl_stage_name(KVL_PATH_NATIVE, k))
			sum_of_stages += kvl_svcpu_stage(&s.vms[0].vcpus[0], 0, k)->h.sum;
	EXPECT_EQ(sum_of_stages, d->h[0][KVL_DS_SUBMIT_TO_IRQ].sum);
	/* and the disk's total is the vCPU's: one disk, one vCPU */
	EXPECT_TRUE(rhist_equal(&d->h[0][KVL_DS_TOTAL],
				&kvl_svcpu_stage(&s.vms[0].vcpus[0], 0, KVL_ST_TOTAL)->h));
	kvl_snap_free(&s);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

TEST(show_disk_table)
{
	struct run r;
	char *v4;

	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--stats",
	    (char *)fixture("disks.stats"), "--disk");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.err_len);
	EXPECT_NE(NULL, strstr(r.out, "VM 5000 (qemu-disks), 2 vCPUs\n\n  native path: request latency by disk\n"
				      "  DISK  STAGE              COUNT       MIN      MEAN    STDDEV       P50       P90       P99     P99.9       MAX\n"))
		TH_LOG("%s", r.out);
	/* values of fixtures/disks.hist; a disk's io row first */
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 11 io                    39    53.1µs    97.4µs    29.1µs     100µs     136µs     140µs     140µs     140µs\n"
				      "  fd 11 submit_to_irq         40    56.4µs     101µs    28.7µs    98.3µs     138µs     143µs     143µs     143µs\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 13 io                    60     402µs     816µs     237µs     819µs    1.15ms    1.19ms    1.19ms    1.19ms\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 13 total                 60     444µs     863µs     243µs     868µs    1.18ms    1.27ms    1.27ms    1.27ms\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  threads path: request latency by disk\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 12 submit_to_irq         30    55.1µs "));
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 12 submit_to_irq         20    52.7µs "));
	EXPECT_NE(NULL, strstr(r.out, "VM 6000 (qemu-nodisk), 1 vCPU\n  no requests of a known disk recorded for the selected paths yet\n"));
	EXPECT_EQ(NULL, strstr(r.out, "VCPU"));	/* no vCPU rows */
	EXPECT_NE(NULL, strstr(r.out, "counters: requests 200, requests_without_disk 50, dropped_disk_requests 0\n"));

	/* format 3: the same table without the four io rows */
	v4 = rf_drop_lines(r.out, "  fd ", " io ", false);
	EXPECT_EQ(4, count_char(r.out, '\n') - count_char(v4, '\n'));
	run_free(&r);
	RUN(&r, "show", "--input", (char *)fixture("disks_v3.hist"), "--stats",
	    (char *)fixture("disks.stats"), "--disk");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_STREQ(v4, r.out);
	EXPECT_EQ(NULL, strstr(r.out, " io "));
	free(v4);
	run_free(&r);

	/* --path and --pid; --hist draws each disk row */
	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--disk", "--pid",
	    "5000", "--path", "threads", "--hist");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(NULL, strstr(r.out, "native"));
	EXPECT_EQ(NULL, strstr(r.out, "fd 11"));
	EXPECT_EQ(NULL, strstr(r.out, "VM 6000"));
	EXPECT_NE(NULL, strstr(r.out, "\n  threads submit_to_irq, fd 13: 60 values\n       usecs "))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  threads io, fd 13: 60 values\n       usecs "))
		TH_LOG("%s", r.out);
	run_free(&r);

	/* without --disk: the stage table, as before */
	RUN(&r, "show", "--input", (char *)fixture("disks.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(NULL, strstr(r.out, "fd 11"));
	EXPECT_NE(NULL, strstr(r.out, "  all   total                    80 "));
	run_free(&r);
}

/* Snapshots without disk lines say why, plainly. */
TEST(show_disk_without_disks)
{
	static const char v3[] = "# kvmio_lat hist 3\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 1\n"
		"stage 9 0 native total count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 negative=0 overflow=0\n  [5, 6) 1\nend\n";
	struct run r;

	RUN(&r, "show", "--input", (char *)fixture("two_vcpus.hist"), "--disk");
	EXPECT_EQ(0, r.rc);
	EXPECT_STREQ("no per-disk histograms: this snapshot is hist format 1, from a module older than format 3\n", r.out);
	run_free(&r);
	RUN(&r, "show", "--input", (char *)fixture("replay_native_v2.hist"), "--disk");
	EXPECT_NE(NULL, strstr(r.out, "hist format 2, from a module older than format 3\n"));
	run_free(&r);
	make_tmpdir();
	RUN(&r, "show", "--input", (char *)write_tmp("v3.hist", v3, -1), "--disk");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no per-disk histograms: no recorded request had a known disk (io_submit in a replayed recording"));
	EXPECT_EQ(NULL, strstr(r.out, "VM 9"));
	run_free(&r);
	/* CSV and JSON: a header alone, an empty list */
	RUN(&r, "show", "--input", (char *)write_tmp("v3.hist", v3, -1), "--disk", "--csv");
	EXPECT_STREQ("pid,comm,fd,disk,path,stage,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n", r.out);
	run_free(&r);
	RUN(&r, "show", "--input", (char *)write_tmp("v3.hist", v3, -1), "--json");
	EXPECT_NE(NULL, strstr(r.out, "\"threads\": {}, \"io_uring\": {}}}], \"disks\": []}]"));
	run_free(&r);
	remove_tmpdir();
}

/* The summary of the exact values of @h, as the reader computes it. */
static void exact_summary(struct kvl_hist *h, struct kvl_summary *m)
{
	struct kvl_rhist rh;

	if (kvl_rhist_from_hist(&rh, h))
		abort();
	kvl_rhist_summary(&rh, m);
	kvl_rhist_free(&rh);
}

/* A disk histogram's JSON "KEY": {"count": .. "mean_ns": .., from @h. */
static void json_disk_head(char *buf, size_t size, const char *key,
			   struct kvl_hist *h)
{
	struct kvl_summary m;

	exact_summary(h, &m);
	snprintf(buf, size, "\"%s\": {\"count\": %llu, \"min_ns\": %llu, \"max_ns\": %llu, \"mean_ns\": %.1f, ",
		 key, (unsigned long long)m.count, (unsigned long long)m.min,
		 (unsigned long long)m.max, m.mean);
}

/* The CSV columns count ... p999_ns of @h. */
static void csv_stats(char *buf, size_t size, struct kvl_hist *h)
{
	struct kvl_summary m;

	exact_summary(h, &m);
	snprintf(buf, size, "%llu,%llu,%llu,%.1f,%.1f,%llu,%llu,%llu,%llu",
		 (unsigned long long)m.count, (unsigned long long)m.min,
		 (unsigned long long)m.max, m.mean, m.stddev,
		 (unsigned long long)m.p50, (unsigned long long)m.p90,
		 (unsigned long long)m.p99, (unsigned long long)m.p999);
}

TEST(json_and_csv_of_disks)
{
	struct rf_vm a, b;
	struct fx f;
	struct run r;
	char want[640], io[256], sti[256], *line;
	const char *disks;
	int rows = 0;

	fx_init(&f);
	rf_standard_disks(&f, &a, &b);
	/* fd 11's native histograms: the exact values behind them */
	json_disk_head(io, sizeof(io), "io",
		       rf_disk_hist(&a, 11, KVL_PATH_NATIVE, KVL_DS_IO));
	json_disk_head(sti, sizeof(sti), "submit_to_irq",
		       rf_disk_hist(&a, 11, KVL_PATH_NATIVE, KVL_DS_SUBMIT_TO_IRQ));
	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--json");
	make_tmpdir();
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_TRUE(python_json_ok(r.out));
	EXPECT_EQ(0, strncmp(r.out, "{\"schema\": \"kvmio_lat/5\", \"vms\": [{\"pid\": 5000, ", 48));
	snprintf(want, sizeof(want), "\"disks\": [{\"fd\": 11, \"name\": null, \"paths\": {\"native\": {%s", io);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	EXPECT_NE(NULL, strstr(want, "{\"io\": {\"count\": 39, \"min_ns\": "));
	EXPECT_TRUE(in_order(r.out, want, sti)) TH_LOG("%s", sti);
	EXPECT_NE(NULL, strstr(r.out, "}}, \"threads\": {}, \"io_uring\": {}}}, {\"fd\": 12, \"name\": null, \"paths\": {\"native\": {\"io\": {\"count\": 20, "));
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 13, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {\"io\": {\"count\": 60, "));
	EXPECT_NE(NULL, strstr(r.out, "\"pid\": 6000, \"comm\": \"qemu-nodisk\", \"vcpus\": [{"));
	EXPECT_NE(NULL, strstr(r.out, "}}}], \"disks\": []}]"));
	run_free(&r);

	/* format 3: no "io" key in a disk, schema 5 all the same */
	RUN(&r, "show", "--input", (char *)fixture("disks_v3.hist"), "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_EQ(0, strncmp(r.out, "{\"schema\": \"kvmio_lat/5\", ", 26));
	snprintf(want, sizeof(want), "\"disks\": [{\"fd\": 11, \"name\": null, \"paths\": {\"native\": {%s", sti);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	disks = strstr(r.out, "\"disks\": [{");
	ASSERT_NE(NULL, disks);
	EXPECT_EQ(NULL, strstr(disks, "\"io\": "));	/* (VM 6000 is native) */
	run_free(&r);

	/* --path narrows disks too; --vcpu does not (they are per VM) */
	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--json",
	    "--path", "threads", "--vcpu", "1");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 11, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {}, \"io_uring\": {}}}"));
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 13, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {\"io\": {\"count\": 60, "));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--disk", "--csv");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, strncmp(r.out, "pid,comm,fd,disk,path,stage,count,min_ns,max_ns,mean_ns,stddev_ns,p50_ns,p90_ns,p99_ns,p999_ns\n", 95));
	for (line = r.out; *line; line = strchr(line, '\n') + 1) {
		EXPECT_EQ(15, csv_fields(line)) TH_LOG("%.80s", line);
		rows++;
	}
	EXPECT_EQ(1 + 12, rows);
	/* fd 11's io row, then its submit_to_irq row, to the exact values */
	csv_stats(io, sizeof(io), rf_disk_hist(&a, 11, KVL_PATH_NATIVE, KVL_DS_IO));
	csv_stats(sti, sizeof(sti),
		  rf_disk_hist(&a, 11, KVL_PATH_NATIVE, KVL_DS_SUBMIT_TO_IRQ));
	EXPECT_EQ(0, strncmp(io, "39,", 3));
	EXPECT_EQ(0, strncmp(sti, "40,", 3));
	snprintf(want, sizeof(want), "\n5000,qemu-disks,11,,native,io,%s\n5000,qemu-disks,11,,native,submit_to_irq,%s\n",
		 io, sti);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n5000,qemu-disks,13,,threads,io,60,"));
	EXPECT_NE(NULL, strstr(r.out, "\n5000,qemu-disks,13,,threads,total,60,"));
	run_free(&r);

	/* format 3: the same rows but the io ones */
	RUN(&r, "show", "--input", (char *)fixture("disks_v3.hist"), "--disk", "--csv");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(1 + 8, count_char(r.out, '\n'));
	EXPECT_EQ(NULL, strstr(r.out, ",io,"));
	snprintf(want, sizeof(want), "\n5000,qemu-disks,11,,native,submit_to_irq,%s\n",
		 sti);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	run_free(&r);

	/* the plain CSV has no disk rows: its columns are per vCPU */
	RUN(&r, "show", "--input", (char *)fixture("disks.hist"), "--csv");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(1 + 2 * 2 * 7 + 7, count_char(r.out, '\n'));	/* stages */
	EXPECT_NE(NULL, strstr(r.out, "\n5000,qemu-disks,0,stage,native,total,40,"));
	run_free(&r);
	remove_tmpdir();
	rf_vm_fini(&a);
	rf_vm_fini(&b);
	fx_fini(&f);
}

/* watch: a disk's delta is what it did in the interval. */
TEST(delta_of_disks)
{
	struct kvl_snap s1, s2, d;
	struct rf_vm vm;
	struct fx f;
	u64 dur[RF_NR_DUR];
	unsigned int seed = 31;
	struct kvl_hist want;
	struct kvl_rhist rw;
	int i;

	fx_init(&f);
	rf_vm_init(&vm, 3300, "qemu");
	for (i = 0; i < 30; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, dur);
		rf_native_fd(&f, &vm, 0, dur, 5);
	}
	ASSERT_EQ(0, kvl_snap_from_engine(&s1, &f.eng, 0));
	kvl_hist_init(&want);
	for (i = 0; i < 12; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, dur);
		rf_native_fd(&f, &vm, 0, dur, 6);	/* a new disk */
		rf_durations(&seed, KVL_PATH_NATIVE, dur);
		rf_native_fd(&f, &vm, 0, dur, 5);
		kvl_hist_record(&want, (s64)rf_submit_to_irq(dur));
	}
	ASSERT_EQ(0, kvl_snap_from_engine(&s2, &f.eng, 0));
	ASSERT_EQ(0, kvl_sdisk_set_name(&s2.vms[0].disks[0], "/dev/vdb"));
	ASSERT_EQ(0, kvl_snap_delta(&s1, &s2, &d));
	ASSERT_EQ(2, d.vms[0].nr_disks);
	EXPECT_EQ(5, d.vms[0].disks[0].fd);
	EXPECT_STREQ("/dev/vdb", d.vms[0].disks[0].name);
	EXPECT_EQ(12, d.vms[0].disks[0].h[0][KVL_DS_TOTAL].count);
	ASSERT_EQ(0, kvl_rhist_from_hist(&rw, &want));
	ASSERT_EQ(rw.nr, d.vms[0].disks[0].h[0][KVL_DS_SUBMIT_TO_IRQ].nr);
	EXPECT_EQ(0, memcmp(rw.b, d.vms[0].disks[0].h[0][KVL_DS_SUBMIT_TO_IRQ].b, rw.nr * sizeof(*rw.b)));
	EXPECT_EQ(want.sum, d.vms[0].disks[0].h[0][KVL_DS_SUBMIT_TO_IRQ].sum);
	EXPECT_EQ(6, d.vms[0].disks[1].fd);
	EXPECT_EQ(12, d.vms[0].disks[1].h[0][KVL_DS_SUBMIT_TO_IRQ].count);
	kvl_rhist_free(&rw);
	kvl_snap_free(&d);
	/* nothing new: no disk in the delta */
	ASSERT_EQ(0, kvl_snap_delta(&s2, &s2, &d));
	EXPECT_EQ(0, d.vms[0].nr_disks);
	kvl_snap_free(&d);
	kvl_snap_free(&s1);
	kvl_snap_free(&s2);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* Unreachable memory now: the harness's children _exit, past LSan's check. */
static int leaked(void)
{
#ifdef __SANITIZE_ADDRESS__
	return __lsan_do_recoverable_leak_check();
#else
	return 0;
#endif
}

static const char disk_head[] = "# kvmio_lat hist 3\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n";
#define DISK_FIELDS " count=1 min=5 max=5 mean=5 stddev=0 p50=5 p90=5 p99=5 p999=5 sum=5 sumsq=25 negative=0 overflow=0\n  [5, 6) 1\n"

/* Each corruption of a disk line, reported at its line, nothing leaked. */
TEST(corrupted_disk_lines)
{
	static const struct {
		const char *from, *to, *what;
		unsigned int line;
	} cases[] = {
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 -1 native submit_to_irq ", "bad disk file descriptor", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 2147483648 native submit_to_irq ", "bad disk file descriptor", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 1x native submit_to_irq ", "bad disk file descriptor", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 11 nativ submit_to_irq ", "unknown path", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 11 native submit_to_ir ", "stage submit_to_ir is not a disk's (io, submit_to_irq or total)", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 11 native submit ", "stage submit is not a disk's (io, submit_to_irq or total)", 0 },
		/* the vCPU's stage names, the same for both paths: never a disk's */
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 11 native submit_to_reap ", "stage submit_to_reap is not a disk's (io, submit_to_irq or total)", 0 },
		{ "disk 5000 13 threads submit_to_irq ", "disk 5000 13 threads reap_to_irq ", "stage reap_to_irq is not a disk's (io, submit_to_irq or total)", 0 },
		{ "disk 5000 13 threads submit_to_irq ", "disk 5000 13 threads  ", "expected a disk stage (io, submit_to_irq or total)", 0 },
		/* per path io, submit_to_irq, total; native first */
		{ "disk 5000 13 threads submit_to_irq ", "disk 5000 13 threads io ", "disk 5000 13 threads io out of order or repeated", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000 11 native io ", "disk 5000 11 native io out of order or repeated", 0 },
		{ "disk 5000 12 threads io ", "disk 5000 12 native io ", "disk 5000 12 native io out of order or repeated", 0 },
		{ "disk 5000 11 native total ", "disk 5000 11 native submit_to_irq ", "disk 5000 11 native submit_to_irq out of order or repeated", 0 },
		{ "disk 5000 12 threads total ", "disk 5000 12 threads submit_to_irq ", "disk 5000 12 threads submit_to_irq out of order or repeated", 0 },
		{ "disk 5000 12 threads submit_to_irq ", "disk 5000 12 native total ", "out of order or repeated", 0 },
		{ "disk 5000 13 threads submit_to_irq ", "disk 5000 11 threads submit_to_irq ", "disk 5000 11 listed twice", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5001 11 native submit_to_irq ", "'disk 5001' inside the block of vm 5000", 0 },
		{ "disk 5000 11 native submit_to_irq ", "disk 5000  11 native submit_to_irq ", "bad disk file descriptor", 0 },
		{ "disk 5000 11 native submit_to_irq count=40 ", "disk 5000 11 native submit_to_irq count=400 ", "count=400 but buckets + overflow = 40", 0 },
		{ "# kvmio_lat hist 4", "# kvmio_lat hist 2", "'disk' line in a format 2 snapshot (disk lines are format 3)", 0 },
		{ "vm 6000 qemu-nodisk vcpus 1\n", "", "'vcpu' line after the VM's 'disk' lines", 0 },
		{ "vm 5000 qemu-disks vcpus 2", "vm 5000 qemu-disks vcpus 3", "vm 5000 declares 3 vCPUs but lists 2", 4 },
	};
	char *text = read_all(fixture("disks.hist"));
	struct kvl_snap s;
	struct kvl_perr pe;
	char buf[4096], *p;
	unsigned int i;

	ASSERT_NE(NULL, text);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *bad = replace(text, cases[i].from, cases[i].to);
		const char *at;

		ASSERT_NE(NULL, bad) TH_LOG("case %u", i);
		kvl_snap_init(&s);
		EXPECT_EQ(-1, kvl_parse_hist(&s, bad, strlen(bad), &pe)) TH_LOG("case %u", i);
		EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind) TH_LOG("case %u: %s", i, pe.msg);
		EXPECT_NE(NULL, strstr(pe.msg, cases[i].what))
			TH_LOG("case %u: got '%s'", i, pe.msg);
		/* reported at the line changed, unless said otherwise */
		at = bad + (strstr(text, cases[i].from) - text);
		if (cases[i].line) {
			EXPECT_EQ(cases[i].line, pe.line) TH_LOG("case %u", i);
		} else if (at && strncmp(cases[i].from, "# kvmio", 7)) {
			EXPECT_EQ(1 + count_char_n(bad, '\n', at - bad), pe.line)
				TH_LOG("case %u: line %u", i, pe.line);
		}
		EXPECT_EQ(0, s.nr_vms);		/* nothing left behind */
		free(bad);
	}
	free(text);

	/* the order within a VM; the cap on disks */
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native total" DISK_FIELDS "stage 9 0 native total" DISK_FIELDS "end\n", disk_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "'stage' line after the VM's 'disk' lines")) TH_LOG("%s", pe.msg);
	EXPECT_EQ(7, pe.line);
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native total" DISK_FIELDS "exit 9 0 npf" DISK_FIELDS "end\n", disk_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "'exit' line after the VM's 'disk' lines")) TH_LOG("%s", pe.msg);
	snprintf(buf, sizeof(buf), "# kvmio_lat hist 3\n# unit: ns;\ndisk 9 4 native total" DISK_FIELDS "end\n");
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "'disk' line before any 'vm' line")) TH_LOG("%s", pe.msg);
	p = buf + sprintf(buf, "%s", disk_head);
	for (i = 0; i <= KVL_DISKS; i++)
		p += sprintf(p, "disk 9 %u threads submit_to_irq" DISK_FIELDS, 100 + i);
	strcpy(p, "end\n");
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_NE(NULL, strstr(pe.msg, "more than 8 disks for vm 9")) TH_LOG("%s", pe.msg);
	EXPECT_EQ(5 + 2 * KVL_DISKS, pe.line);
	EXPECT_EQ(0, s.nr_vms);
	/* eight are fine */
	strcpy(strstr(buf, "disk 9 108 "), "end\n");
	ASSERT_EQ(0, parse_text(&s, buf, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	EXPECT_EQ(KVL_DISKS, s.vms[0].nr_disks);
	EXPECT_EQ(107, s.vms[0].disks[7].fd);
	kvl_snap_free(&s);
	/* a histogram caught before its first value reached a bucket: no disk */
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native total count=1 min=0 max=0 mean=0 stddev=0 p50=0 p90=0 p99=0 p999=0 sum=0 sumsq=0 negative=0 overflow=0\nend\n", disk_head);
	ASSERT_EQ(0, parse_text(&s, buf, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	EXPECT_EQ(0, s.vms[0].nr_disks);
	EXPECT_EQ(1, s.torn);
	kvl_snap_free(&s);
	EXPECT_EQ(0, leaked());
}

/*
 * "io" is a disk stage of format 4 only: in a format 3 snapshot it is
 * corruption, reported at its line, and the snapshot is not read at all.
 */
TEST(io_line_in_a_format3_snapshot)
{
	static const char v4_head[] = "# kvmio_lat hist 4\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n";
	static const char v3_msg[] = "'io' disk line in a format 3 snapshot (io lines are format 4)";
	char *text = read_all(fixture("disks.hist")), buf[4096], want[256];
	const char *path;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;
	u32 line;

	ASSERT_NE(NULL, text);
	/* disks.hist under format 3's header: its first io line is the fault */
	ASSERT_EQ(0, strncmp(text, "# kvmio_lat hist 4\n", 19));
	text[17] = '3';
	line = 2 + count_char_n(text, '\n',
				strstr(text, "\ndisk 5000 11 native io ") - text);
	EXPECT_EQ(-1, parse_text(&s, text, &pe));
	EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind);
	EXPECT_STREQ(v3_msg, pe.msg);
	EXPECT_EQ(line, pe.line);
	EXPECT_EQ(0, s.nr_vms);		/* nothing left behind */
	EXPECT_EQ(NULL, s.vms);

	/* the command: one error line naming the file and line, no output */
	make_tmpdir();
	path = write_tmp("io_in_v3.hist", text, -1);
	RUN(&r, "show", "--input", (char *)path, "--disk");
	snprintf(want, sizeof(want), "%s:%u: corrupted snapshot: %s", path,
		 line, v3_msg);
	EXPECT_ONE_ERROR(&r, 1, want);
	run_free(&r);
	RUN(&r, "show", "--input", (char *)path, "--json");
	EXPECT_ONE_ERROR(&r, 1, want);
	run_free(&r);
	remove_tmpdir();
	free(text);

	/* what each format lists as a disk's stages */
	snprintf(buf, sizeof(buf), "%sdisk 9 4 threads bogus" DISK_FIELDS "end\n", disk_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_STREQ("stage bogus is not a disk's (submit_to_irq or total)", pe.msg);
	snprintf(buf, sizeof(buf), "%sdisk 9 4 threads bogus" DISK_FIELDS "end\n", v4_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_STREQ("stage bogus is not a disk's (io, submit_to_irq or total)", pe.msg);
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native io" DISK_FIELDS "end\n", disk_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_STREQ(v3_msg, pe.msg);
	EXPECT_EQ(5, pe.line);
	EXPECT_EQ(0, s.nr_vms);

	/* format 4: io before submit_to_irq and total, each path in turn */
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native total" DISK_FIELDS "disk 9 4 native io" DISK_FIELDS "end\n", v4_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_STREQ("disk 9 4 native io out of order or repeated", pe.msg);
	EXPECT_EQ(7, pe.line);
	snprintf(buf, sizeof(buf), "%sdisk 9 4 threads io" DISK_FIELDS "disk 9 4 threads io" DISK_FIELDS "end\n", v4_head);
	EXPECT_EQ(-1, parse_text(&s, buf, &pe));
	EXPECT_STREQ("disk 9 4 threads io out of order or repeated", pe.msg);
	snprintf(buf, sizeof(buf), "%sdisk 9 4 native io" DISK_FIELDS "disk 9 4 native total" DISK_FIELDS
		 "disk 9 4 threads io" DISK_FIELDS "disk 9 4 threads submit_to_irq" DISK_FIELDS "end\n", v4_head);
	ASSERT_EQ(0, parse_text(&s, buf, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	ASSERT_EQ(1, s.vms[0].nr_disks);
	EXPECT_EQ(1, s.vms[0].disks[0].h[KVL_PATH_NATIVE][KVL_DS_IO].count);
	EXPECT_EQ(5, s.vms[0].disks[0].h[KVL_PATH_NATIVE][KVL_DS_IO].min);
	EXPECT_EQ(0, s.vms[0].disks[0].h[KVL_PATH_NATIVE][KVL_DS_SUBMIT_TO_IRQ].count);
	EXPECT_EQ(1, s.vms[0].disks[0].h[KVL_PATH_THREADS][KVL_DS_IO].count);
	kvl_snap_free(&s);
	EXPECT_EQ(0, leaked());
}

/* ------------------------------------------------------------------ */
/* format 5: the io_uring path */

/*
 * fixtures/uring_small.hist is the engine's text of rf_small_uring():
 * remade with KVL_WRITE_FIXTURES=1, otherwise it must still be what it
 * prints.
 */
TEST(uring_fixture_is_the_engine_text)
{
	struct rf_vm vm;
	struct fx f;
	char *text, *want;

	fx_init(&f);
	rf_small_uring(&f, &vm);
	text = rf_hist_text(&f);
	write_fixture("uring_small.hist", text);
	want = read_all(fixture("uring_small.hist"));
	ASSERT_NE(NULL, want);
	EXPECT_STREQ(want, text);
	EXPECT_LT(strlen(text), 16384);		/* the fuzzer's -max_len */
	EXPECT_EQ(0, strncmp(text, "# kvmio_lat hist 5\n", 19));
	EXPECT_NE(NULL, strstr(text, "\nstage 88 0 io_uring submit_to_complete count=2 "));
	EXPECT_NE(NULL, strstr(text, "\nstage 88 1 io_uring complete_to_reap count=2 "));
	/* native and threads have no complete_to_reap: never printed */
	EXPECT_EQ(NULL, strstr(text, " native complete_to_reap "));
	EXPECT_EQ(NULL, strstr(text, " threads complete_to_reap "));
	/* io_uring after native and threads, in a vCPU and in a disk */
	EXPECT_TRUE(in_order(text, "\nstage 88 0 threads total ",
			     "\nstage 88 0 io_uring doorbell_to_wake "));
	EXPECT_TRUE(in_order(text, "\nstage 88 0 io_uring total ",
			     "\nvcpu 88 1 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 88 5 io_uring io count=3 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 88 5 io_uring submit_to_irq count=3 "));
	EXPECT_TRUE(in_order(text, "\ndisk 88 3 native total ",
			     "\ndisk 88 3 io_uring io count=1 "));
	EXPECT_TRUE(in_order(text, "\ndisk 88 5 io_uring total ",
			     "\ndisk 88 3 native io "));
	free(want);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* Every io_uring histogram holds exactly the values recorded. */
TEST(uring_lines_parse_into_the_engine_model)
{
	struct kvl_snap parsed, direct;
	struct kvl_perr pe;
	struct rf_vm vm;
	struct fx f;
	char *text = read_all(fixture("uring_small.hist"));
	const struct kvl_svm *svm;
	unsigned int v, st, p;
	u32 i;

	ASSERT_NE(NULL, text);
	fx_init(&f);
	rf_small_uring(&f, &vm);
	ASSERT_EQ(0, parse_text(&parsed, text, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	ASSERT_EQ(0, kvl_snap_from_engine(&direct, &f.eng, 4096));
	EXPECT_EQ(5, parsed.version);
	EXPECT_EQ(0, parsed.torn);
	EXPECT_TRUE(snap_equal(&parsed, &direct));
	svm = kvl_snap_vm(&parsed, 88);
	ASSERT_NE(NULL, svm);
	ASSERT_EQ(2, svm->nr_vcpus);
	for (v = 0; v < 2; v++) {
		const struct kvl_svcpu *c = &svm->vcpus[v];
		u32 stages = 0;

		/* 7 stages of native and threads, 8 of io_uring */
		for (i = 0; i < c->nr_hists; i++)
			stages += c->hists[i].kind == KVL_KIND_STAGE;
		EXPECT_EQ(7 + 7 + 8, stages);
		for (p = 0; p < KVL_NR_PATHS; p++)
			for (st = 0; st < KVL_NR_STAGES; st++) {
				const struct kvl_shist *h = kvl_svcpu_stage(c, p, st);
				struct kvl_rhist want;
				struct kvl_hist eh;

				if (!kvl_stage_name(p, st)) {
					EXPECT_EQ(NULL, h);
					continue;
				}
				ASSERT_NE(NULL, h) TH_LOG("%s %s", kvl_path_name(p),
							  kvl_stage_name(p, st));
				ASSERT_EQ(2, vm.nr[v][p]);
				kvl_hist_init(&eh);
				for (i = 0; i < vm.nr[v][p]; i++)
					kvl_hist_record(&eh, (s64)vm.vals[v][p][st][i]);
				ASSERT_EQ(0, kvl_rhist_from_hist(&want, &eh));
				EXPECT_TRUE(rhist_equal(&want, &h->h))
					TH_LOG("vcpu %u %s %s", v, kvl_path_name(p),
					       kvl_stage_name(p, st));
				kvl_rhist_free(&want);
			}
	}
	/* disks in the order first used: 5 (io_uring), 3, 4 */
	ASSERT_EQ(3, svm->nr_disks);
	EXPECT_EQ(5, svm->disks[0].fd);
	EXPECT_EQ(3, svm->disks[1].fd);
	EXPECT_EQ(4, svm->disks[2].fd);
	EXPECT_EQ(3, svm->disks[0].h[KVL_PATH_URING][KVL_DS_IO].count);
	EXPECT_EQ(4, svm->disks[1].h[KVL_PATH_NATIVE][KVL_DS_TOTAL].count);
	EXPECT_EQ(1, svm->disks[1].h[KVL_PATH_URING][KVL_DS_TOTAL].count);
	check_disks(_metadata, &parsed, &vm);
	check_disks(_metadata, &direct, &vm);
	kvl_snap_free(&parsed);
	kvl_snap_free(&direct);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* The line of @s that starts with @start, without its newline, malloc()ed. */
static char *line_of(const char *s, const char *start)
{
	const char *at = strstr(s, start), *nl;

	if (!at)
		return NULL;
	at++;			/* @start begins with its newline */
	nl = strchr(at, '\n');
	return strndup(at, nl ? (size_t)(nl - at) : strlen(at));
}

TEST(uring_in_table_json_and_csv)
{
	const char *uring = fixture("uring_small.hist");
	char *native, *line;
	struct run r;
	int rows = 0;

	RUN(&r, "show", "--input", (char *)uring);
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "VM 88 (qemu-uring), 2 vCPUs\n"));
	EXPECT_TRUE(in_order(r.out, "\n  threads path: request latency by stage\n",
			     "\n  io_uring path: request latency by stage\n"));
	line = strstr(r.out, "\n  io_uring path:");
	ASSERT_NE(NULL, line);
	EXPECT_NE(NULL, strstr(line, "\n  all   submit_to_complete          4 "));
	EXPECT_NE(NULL, strstr(line, "\n  all   complete_to_reap            4 "));
	EXPECT_NE(NULL, strstr(line, "\n  all   total                       4 "));
	/* no complete_to_reap row, zero or otherwise, in the other paths */
	native = strndup(r.out, line - r.out);
	EXPECT_EQ(NULL, strstr(native, "complete_to_reap"));
	free(native);
	run_free(&r);

	RUN(&r, "show", "--input", (char *)uring, "--path", "io_uring", "--hist");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "native"));
	EXPECT_EQ(NULL, strstr(r.out, "threads"));
	EXPECT_NE(NULL, strstr(r.out, "\n  io_uring complete_to_reap, vCPU 1: 2 values\n"));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)uring, "--disk");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	line = strstr(r.out, "\n  io_uring path: request latency by disk\n");
	ASSERT_NE(NULL, line) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(line, "\n  fd 5  io                     3 "));
	EXPECT_NE(NULL, strstr(line, "\n  fd 3  total                  1 "));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)uring, "--json");
	make_tmpdir();
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_TRUE(python_json_ok(r.out));
	EXPECT_EQ(0, strncmp(r.out, "{\"schema\": \"kvmio_lat/5\", \"vms\": [{\"pid\": 88, ", 45));
	EXPECT_NE(NULL, strstr(r.out, "}}, \"io_uring\": {\"doorbell_to_wake\": {\"count\": 2, "));
	/* io_uring's own stages, in no other path */
	line = r.out;
	while ((line = strstr(line + 1, "\"complete_to_reap\": {\"count\": 2, ")))
		rows++;
	EXPECT_EQ(2, rows);
	EXPECT_NE(NULL, strstr(r.out, "\"submit_to_complete\": {\"count\": 2, "));
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 5, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {}, \"io_uring\": {\"io\": {\"count\": 3, "));
	run_free(&r);
	remove_tmpdir();

	/* --path io_uring: the other paths' keys stay, empty */
	RUN(&r, "show", "--input", (char *)uring, "--json", "--path", "io_uring");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	EXPECT_NE(NULL, strstr(r.out, "\"paths\": {\"native\": {}, \"threads\": {}, \"io_uring\": {\"doorbell_to_wake\": "));
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 3, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {}, \"io_uring\": {\"io\": {\"count\": 1, "));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)uring, "--csv");
	EXPECT_EQ(0, r.rc);
	rows = 0;
	for (line = r.out; *line; line = strchr(line, '\n') + 1) {
		EXPECT_EQ(15, csv_fields(line)) TH_LOG("%.80s", line);
		rows++;
	}
	EXPECT_EQ(1 + 2 * (7 + 7 + 8), rows);	/* header, stages */
	EXPECT_NE(NULL, strstr(r.out, "\n88,qemu-uring,1,stage,io_uring,complete_to_reap,2,"));
	EXPECT_NE(NULL, strstr(r.out, "\n88,qemu-uring,0,stage,io_uring,submit_to_complete,2,"));
	EXPECT_EQ(NULL, strstr(r.out, ",native,complete_to_reap,"));
	EXPECT_EQ(NULL, strstr(r.out, ",threads,complete_to_reap,"));
	run_free(&r);

	RUN(&r, "show", "--input", (char *)uring, "--disk", "--csv");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(1 + 12, count_char(r.out, '\n'));
	EXPECT_NE(NULL, strstr(r.out, "\n88,qemu-uring,5,,io_uring,io,3,"));
	EXPECT_TRUE(in_order(r.out, "\n88,qemu-uring,3,,native,total,4,",
			     "\n88,qemu-uring,3,,io_uring,io,1,"));
	run_free(&r);
}

/* @ns as the tables print it, right-aligned in @w columns (µ is one). */
static const char *ns_cell(char *buf, size_t size, double ns, int w)
{
	char v[32];

	kvl_fmt_ns(v, sizeof(v), ns);
	snprintf(buf, size, "%*s%s", w - kvl_width(v), "", v);
	return buf;
}

/* compare --paths: native, threads and io_uring side by side. */
TEST(compare_paths_three_columns)
{
	char *text = read_all(fixture("uring_small.hist")), *line;
	const struct kvl_shist *n, *t, *u;
	char want[512], r[4][16], head[128];
	struct kvl_summary m;
	struct kvl_svcpu all;
	struct kvl_filter flt;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run rr;

	ASSERT_NE(NULL, text);
	ASSERT_EQ(0, parse_text(&s, text, &pe));
	kvl_filter_init(&flt);
	ASSERT_EQ(0, kvl_snap_merge_all(&s, &flt, &all));
	RUN(&rr, "compare", "--paths", (char *)fixture("uring_small.hist"));
	EXPECT_EQ(0, rr.rc) TH_LOG("%s", rr.err);
	EXPECT_NE(NULL, strstr(rr.out, "ratio = threads / native, io_uring / native)\n"));
	snprintf(head, sizeof(head), "\n  %-48s %10s %9s %9s %10s", "STAGE (native / threads / io_uring)",
		 "COUNT", "P50", "P99", "COUNT");
	EXPECT_NE(NULL, strstr(rr.out, head)) TH_LOG("%s", rr.out);
	snprintf(head, sizeof(head), "\n  %-48s %10s %9s %9s %10s", "", "native", "native", "native",
		 "threads");
	EXPECT_NE(NULL, strstr(rr.out, head)) TH_LOG("%s", rr.out);
	EXPECT_NE(NULL, strstr(rr.out, "   io_uring  io_uring  io_uring  threads  threads io_uring io_uring\n"));

	/* total: each path's count, p50 and p99, then both ratios */
	n = kvl_svcpu_stage(&all, KVL_PATH_NATIVE, KVL_ST_TOTAL);
	t = kvl_svcpu_stage(&all, KVL_PATH_THREADS, KVL_ST_TOTAL);
	u = kvl_svcpu_stage(&all, KVL_PATH_URING, KVL_ST_TOTAL);
	ASSERT_NE(NULL, n);
	ASSERT_NE(NULL, t);
	ASSERT_NE(NULL, u);
	ratio_str(r[0], kvl_rhist_percentile(&t->h, 50000), kvl_rhist_percentile(&n->h, 50000));
	ratio_str(r[1], kvl_rhist_percentile(&t->h, 99000), kvl_rhist_percentile(&n->h, 99000));
	ratio_str(r[2], kvl_rhist_percentile(&u->h, 50000), kvl_rhist_percentile(&n->h, 50000));
	ratio_str(r[3], kvl_rhist_percentile(&u->h, 99000), kvl_rhist_percentile(&n->h, 99000));
	kvl_rhist_summary(&u->h, &m);
	line = line_of(rr.out, "\n  total ");
	ASSERT_NE(NULL, line);
	snprintf(want, sizeof(want), " %10d ", 4);
	EXPECT_EQ(3, count_substr(line, want)) TH_LOG("%s", line);
	snprintf(want, sizeof(want), "%10d %s %s %8s %8s %8s %8s", 4,
		 ns_cell(head, 32, m.p50, 9), ns_cell(head + 32, 32, m.p99, 9),
		 r[0], r[1], r[2], r[3]);
	EXPECT_NE(NULL, strstr(line, want)) TH_LOG("%s | %s", line, want);
	EXPECT_EQ(0, strcmp(line + strlen(line) - strlen(want), want));
	free(line);

	/* io_uring's own stage: blank native and threads cells, no ratio */
	u = kvl_svcpu_stage(&all, KVL_PATH_URING, KVL_ST_COMPLETE_TO_REAP);
	ASSERT_NE(NULL, u);
	kvl_rhist_summary(&u->h, &m);
	line = line_of(rr.out, "\n  complete_to_reap ");
	ASSERT_NE(NULL, line);
	snprintf(want, sizeof(want), "  %-48s%62s %10d %s %s", "complete_to_reap", "", 4,
		 ns_cell(head, 32, m.p50, 9), ns_cell(head + 32, 32, m.p99, 9));
	EXPECT_STREQ(want, line);
	free(line);
	/* a stage with one name for two paths is named once */
	EXPECT_NE(NULL, strstr(rr.out, "\n  submit_to_reap / io_to_reap / submit_to_complete "));
	EXPECT_NE(NULL, strstr(rr.out, "\n  wake_to_submit / wake_to_dispatch "));
	EXPECT_NE(NULL, strstr(rr.out, "\n  submit / io "));
	EXPECT_EQ(NULL, strstr(rr.out, "no native requests"));
	EXPECT_EQ(NULL, strstr(rr.out, "no io_uring requests"));
	EXPECT_EQ(NULL, strstr(rr.out, " \n"));	/* no trailing blanks */
	run_free(&rr);

	/* a snapshot with io_uring only: the other columns dashes, said */
	{
		char *only = rf_drop_lines(text, "stage 88 0 native", "", true);
		char *p1, *p2, *p3;

		p1 = rf_drop_lines(only, "stage 88 1 native", "", true);
		p2 = rf_drop_lines(p1, "stage 88 ", " threads ", true);
		p3 = rf_drop_lines(p2, "disk ", "", true);
		make_tmpdir();
		RUN(&rr, "compare", "--paths", (char *)write_tmp("u.hist", p3, -1));
		EXPECT_EQ(0, rr.rc) TH_LOG("%s", rr.err);
		EXPECT_NE(NULL, strstr(rr.out, "no native requests in this snapshot"));
		EXPECT_NE(NULL, strstr(rr.out, "no threads requests in this snapshot"));
		snprintf(want, sizeof(want), "\n  %-48s %10s %9s %9s %10s %9s %9s %10d ",
			 "total", "-", "-", "-", "-", "-", "-", 4);
		EXPECT_NE(NULL, strstr(rr.out, want)) TH_LOG("%s", rr.out);
		run_free(&rr);
		remove_tmpdir();
		free(only);
		free(p1);
		free(p2);
		free(p3);
	}
	kvl_svcpu_free(&all);
	kvl_snap_free(&s);
	free(text);
}

/* watch: an interval's io_uring requests, per stage, and their disk. */
TEST(delta_and_watch_of_io_uring)
{
	struct kvl_show_opts o = { .fmt = KVL_FMT_TEXT };
	struct kvl_snap s1, s2, d;
	struct rf_vm vm;
	struct fx f;
	u64 dur[RF_NR_DUR];
	unsigned int seed = 41;
	const struct kvl_shist *h;
	char *buf = NULL;
	size_t len;
	FILE *out;
	int i;

	fx_init(&f);
	rf_vm_init(&vm, 3400, "qemu");
	for (i = 0; i < 10; i++) {
		rf_durations(&seed, KVL_PATH_URING, dur);
		rf_uring_fd(&f, &vm, 0, dur, 7);
	}
	ASSERT_EQ(0, kvl_snap_from_engine(&s1, &f.eng, 0));
	for (i = 0; i < 6; i++) {
		rf_durations(&seed, KVL_PATH_URING, dur);
		rf_uring_fd(&f, &vm, 0, dur, 7);
	}
	ASSERT_EQ(0, kvl_snap_from_engine(&s2, &f.eng, 0));
	ASSERT_EQ(0, kvl_snap_delta(&s1, &s2, &d));
	h = kvl_svcpu_stage(&d.vms[0].vcpus[0], KVL_PATH_URING, KVL_ST_COMPLETE_TO_REAP);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(6, h->h.count);
	EXPECT_EQ(NULL, kvl_svcpu_stage(&d.vms[0].vcpus[0], KVL_PATH_NATIVE,
					KVL_ST_COMPLETE_TO_REAP));
	ASSERT_EQ(1, d.vms[0].nr_disks);
	EXPECT_EQ(6, d.vms[0].disks[0].h[KVL_PATH_URING][KVL_DS_IO].count);
	EXPECT_EQ(0, d.vms[0].disks[0].h[KVL_PATH_NATIVE][KVL_DS_TOTAL].count);
	kvl_filter_init(&o.f);
	out = open_memstream(&buf, &len);
	ASSERT_EQ(0, kvl_print_watch(out, &d, 1.0, "00:00:00", &o, true));
	fclose(out);
	EXPECT_NE(NULL, strstr(buf, "\n      3400 all   io_uring complete_to_reap            6 "))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "\n      3400 all   io_uring submit_to_complete          6 "))
		TH_LOG("%s", buf);
	free(buf);
	kvl_snap_free(&d);
	kvl_snap_free(&s1);
	kvl_snap_free(&s2);
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/*
 * io_uring lines are format 5's: in a format 4 snapshot they are
 * corruption, reported at their line, and nothing is read.
 */
TEST(io_uring_line_in_a_format4_snapshot)
{
	static const char v4_head[] = "# kvmio_lat hist 4\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n";
	static const char v5_head[] = "# kvmio_lat hist 5\n# unit: ns;\nvm 9 q vcpus 1\nvcpu 9 0 isa svm exits 5\n";
	static const char stage_msg[] = "'io_uring' stage line in a format 4 snapshot (io_uring lines are format 5)";
	static const char disk_msg[] = "'io_uring' disk line in a format 4 snapshot (io_uring lines are format 5)";
	static const struct {
		const char *head, *lines, *what;
	} cases[] = {
		{ v4_head, "stage 9 0 io_uring total", stage_msg },
		{ v4_head, "disk 9 4 io_uring io", disk_msg },
		{ v4_head, "stage 9 0 uring total", "unknown path (expected native or threads)" },
		{ v5_head, "stage 9 0 uring total", "unknown path (expected native, threads or io_uring)" },
		{ v5_head, "disk 9 4 Io_uring io", "unknown path (expected native, threads or io_uring)" },
		/* a stage of one path only is no stage of the others */
		{ v5_head, "stage 9 0 native complete_to_reap", "unknown stage of path native" },
		{ v5_head, "stage 9 0 threads complete_to_reap", "unknown stage of path threads" },
		{ v5_head, "stage 9 0 native submit_to_complete", "unknown stage of path native" },
		{ v5_head, "stage 9 0 io_uring io_to_reap", "unknown stage of path io_uring" },
		/* io_uring after threads; complete_to_reap after submit_to_complete */
		{ v5_head, "stage 9 0 io_uring total" DISK_FIELDS "stage 9 0 threads total",
		  "stage threads total out of order or repeated" },
		{ v5_head, "stage 9 0 io_uring complete_to_reap" DISK_FIELDS "stage 9 0 io_uring submit_to_complete",
		  "stage io_uring submit_to_complete out of order or repeated" },
		{ v5_head, "disk 9 4 io_uring io" DISK_FIELDS "disk 9 4 native total",
		  "disk 9 4 native total out of order or repeated" },
	};
	char *text = read_all(fixture("uring_small.hist")), buf[4096], want[512];
	const char *path;
	struct kvl_snap s;
	struct kvl_perr pe;
	struct run r;
	unsigned int i;
	u32 line;

	ASSERT_NE(NULL, text);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(buf, sizeof(buf), "%s%s" DISK_FIELDS "end\n", cases[i].head,
			 cases[i].lines);
		EXPECT_EQ(-1, parse_text(&s, buf, &pe)) TH_LOG("case %u", i);
		EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind) TH_LOG("case %u", i);
		EXPECT_STREQ(cases[i].what, pe.msg) TH_LOG("case %u", i);
		EXPECT_EQ(0, s.nr_vms);
	}
	/* the same lines in format 5 */
	snprintf(buf, sizeof(buf), "%sstage 9 0 io_uring submit_to_complete" DISK_FIELDS
		 "stage 9 0 io_uring complete_to_reap" DISK_FIELDS
		 "disk 9 4 native total" DISK_FIELDS "disk 9 4 io_uring io" DISK_FIELDS
		 "end\n", v5_head);
	ASSERT_EQ(0, parse_text(&s, buf, &pe)) TH_LOG("%u: %s", pe.line, pe.msg);
	EXPECT_EQ(1, kvl_svcpu_stage(&s.vms[0].vcpus[0], KVL_PATH_URING,
				     KVL_ST_COMPLETE_TO_REAP)->h.count);
	EXPECT_EQ(1, s.vms[0].disks[0].h[KVL_PATH_URING][KVL_DS_IO].count);
	kvl_snap_free(&s);

	/* uring_small.hist under format 4's header: its first io_uring line */
	ASSERT_EQ(0, strncmp(text, "# kvmio_lat hist 5\n", 19));
	text[17] = '4';
	line = 1 + count_char_n(text, '\n', strstr(text, " io_uring ") - text);
	EXPECT_EQ(-1, parse_text(&s, text, &pe));
	EXPECT_EQ(KVL_PERR_CORRUPT, pe.kind);
	EXPECT_STREQ(stage_msg, pe.msg);
	EXPECT_EQ(line, pe.line);
	EXPECT_EQ(0, s.nr_vms);		/* nothing left behind */
	EXPECT_EQ(NULL, s.vms);

	/* the commands: one error line naming the file and line, no output */
	make_tmpdir();
	path = write_tmp("uring_in_v4.hist", text, -1);
	snprintf(want, sizeof(want), "%s:%u: corrupted snapshot: %s", path, line,
		 stage_msg);
	RUN(&r, "show", "--input", (char *)path);
	EXPECT_ONE_ERROR(&r, 1, want);
	run_free(&r);
	RUN(&r, "show", "--input", (char *)path, "--json");
	EXPECT_ONE_ERROR(&r, 1, want);
	run_free(&r);
	RUN(&r, "compare", "--paths", (char *)path);
	EXPECT_ONE_ERROR(&r, 1, want);
	run_free(&r);
	remove_tmpdir();
	free(text);
	EXPECT_EQ(0, leaked());
}

/* --path takes the engine's path names exactly, nothing else. */
TEST(path_option_is_strict)
{
	static const char *const bad[] = {
		"uring", "io-uring", "IO_URING", "native ", "thread", "", "both",
	};
	char want[128];
	unsigned int i;
	struct run r;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(want, sizeof(want),
			 "show: --path is native, threads or io_uring, not '%s' (try", bad[i]);
		RUN(&r, "show", "--input", (char *)fixture("uring_small.hist"), "--path",
		    (char *)bad[i]);
		EXPECT_ONE_ERROR(&r, 2, want);
		run_free(&r);
	}
	RUN(&r, "compare", "--paths", "--path", "uring", (char *)fixture("uring_small.hist"));
	EXPECT_ONE_ERROR(&r, 2, "compare: --path is native, threads or io_uring, not 'uring'");
	run_free(&r);
	RUN(&r, "watch", "--path", "x");
	EXPECT_ONE_ERROR(&r, 2, "watch: --path is native, threads or io_uring, not 'x'");
	run_free(&r);
	/* each name selects its path */
	RUN(&r, "show", "--input", (char *)fixture("uring_small.hist"), "--path", "threads");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "threads path"));
	EXPECT_EQ(NULL, strstr(r.out, "io_uring"));
	EXPECT_EQ(NULL, strstr(r.out, "native"));
	run_free(&r);
	/* a snapshot without io_uring data: nothing recorded, no error */
	RUN(&r, "show", "--input", (char *)fixture("two_vms.hist"), "--path", "io_uring");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, r.err_len);
	EXPECT_NE(NULL, strstr(r.out, "VM 2000 (qemu-threads), 2 vCPUs\n  no requests recorded"));
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* the live files, through KVMIO_LAT_DEBUGFS */

TEST(live_files_errors_and_reset)
{
	char dir[300], path[400];
	struct run r;
	char *got;

	make_tmpdir();
	setenv(KVL_DEBUGFS_ENV, "/nonexistent-debugfs", 1);
	RUN(&r, "show");
	EXPECT_ONE_ERROR(&r, 1, "/nonexistent-debugfs: debugfs is not mounted: mount it (mount -t debugfs none /nonexistent-debugfs)");
	run_free(&r);

	setenv(KVL_DEBUGFS_ENV, tmpdir, 1);	/* empty: not mounted either */
	RUN(&r, "show", "--json");
	EXPECT_ONE_ERROR(&r, 1, "debugfs is not mounted");
	run_free(&r);

	write_tmp("tracing", "", 0);		/* mounted, no module */
	RUN(&r, "watch");
	EXPECT_ONE_ERROR(&r, 1, "/kvmio_lat/hist: no such file: is the module loaded? (modprobe kvmio_lat, or insmod kvmio_lat.ko)");
	run_free(&r);
	RUN(&r, "reset");
	EXPECT_ONE_ERROR(&r, 1, "/kvmio_lat/reset: no such file: is the module loaded?");
	run_free(&r);

	/* the module's files: hist and stats read, reset written */
	snprintf(dir, sizeof(dir), "%s/kvmio_lat", tmpdir);
	ASSERT_EQ(0, mkdir(dir, 0755));
	write_tmp("kvmio_lat/hist", read_all(fixture("two_vcpus.hist")), -1);
	write_tmp("kvmio_lat/stats", "vms: 1\ndropped: 3\nunmatched: 4\nenabled: 1\n", -1);
	write_tmp("kvmio_lat/reset", "", 0);
	RUN(&r, "show", "--json");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\"stats\": {\"vms\": 1, \"dropped\": 3, \"unmatched\": 4, \"enabled\": 1}}\n"));
	run_free(&r);
	RUN(&r, "show");
	EXPECT_NE(NULL, strstr(r.out, "counters: dropped 3, unmatched 4\n"));
	run_free(&r);
	RUN(&r, "compare", "--paths");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "/kvmio_lat/hist\n"));
	run_free(&r);
	RUN(&r, "reset");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, r.err_len);
	snprintf(path, sizeof(path), "%s/reset", dir);
	got = read_all(path);
	EXPECT_STREQ("1\n", got);
	free(got);
	run_free(&r);

	/* a broken stats file next to a good hist file: stats left out */
	write_tmp("kvmio_lat/stats", "garbage", -1);
	RUN(&r, "show", "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "\"stats\": {}}"));
	run_free(&r);
	unsetenv(KVL_DEBUGFS_ENV);
	remove_tmpdir();
}

/*
 * Live reads name each disk of a running VM after /proc/PID/fd/FD: here
 * the VM is this process and its disks are files it holds open.  Saved
 * snapshots and exited VMs keep "fd N".
 */
TEST(live_disk_names)
{
	char dir[300], path[400], longpath[400], oddpath[400], want[600];
	int fd, fd_long, fd_odd;
	struct rf_vm vm;
	struct fx f;
	struct run r;
	u64 dur[RF_NR_DUR];
	unsigned int seed = 3;
	char *text, *exited, vmline[64];
	int i;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/vm.img", tmpdir);
	snprintf(longpath, sizeof(longpath), "%s/a-rather-long-disk-image-name-of-the-guest.qcow2", tmpdir);
	snprintf(oddpath, sizeof(oddpath), "%s/new\nline", tmpdir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	fd_long = open(longpath, O_RDWR | O_CREAT, 0600);
	fd_odd = open(oddpath, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd_long);
	ASSERT_LE(0, fd_odd);
	fx_init(&f);
	rf_vm_init(&vm, getpid(), "qemu");
	for (i = 0; i < 8; i++) {
		rf_durations(&seed, KVL_PATH_NATIVE, dur);
		rf_native_fd(&f, &vm, 0, dur, i % 2 ? fd : 987654);
		rf_durations(&seed, KVL_PATH_THREADS, dur);
		rf_threads_fd(&f, &vm, 0, dur, i % 2 ? fd_long : fd_odd);
	}
	text = rf_hist_text(&f);
	snprintf(dir, sizeof(dir), "%s/kvmio_lat", tmpdir);
	ASSERT_EQ(0, mkdir(dir, 0755));
	write_tmp("kvmio_lat/hist", text, -1);
	setenv(KVL_DEBUGFS_ENV, tmpdir, 1);

	RUN(&r, "show", "--disk");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "\n  fd %d (%s) submit_to_irq          4 ", fd, path);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 987654"));
	EXPECT_EQ(NULL, strstr(r.out, "fd 987654 ("));	/* not open here */
	/* a long name keeps its last 39 columns */
	snprintf(want, sizeof(want), "\n  fd %d (…long-disk-image-name-of-the-guest.qcow2) submit_to_irq          4 ", fd_long);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	snprintf(want, sizeof(want), "\n  fd %d (%s/new?line) ", fd_odd, tmpdir);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	run_free(&r);

	RUN(&r, "show", "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_TRUE(json_valid(r.out));
	snprintf(want, sizeof(want), "{\"fd\": %d, \"name\": \"%s\", \"paths\": {\"native\": {\"submit_to_irq\": {\"count\": 4, ", fd, path);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	snprintf(want, sizeof(want), "{\"fd\": %d, \"name\": \"%s\", ", fd_long, longpath);
	EXPECT_NE(NULL, strstr(r.out, want));
	snprintf(want, sizeof(want), "{\"fd\": %d, \"name\": \"%s/new\\u000aline\", ", fd_odd, tmpdir);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "{\"fd\": 987654, \"name\": null, "));
	run_free(&r);

	RUN(&r, "show", "--disk", "--csv");
	snprintf(want, sizeof(want), "\n%d,qemu,%d,%s,native,total,4,", getpid(), fd, path);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	snprintf(want, sizeof(want), "\n%d,qemu,%d,\"%s/new\nline\",threads,submit_to_irq,4,", getpid(), fd_odd, tmpdir);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	run_free(&r);

	/* a saved copy: the descriptors may be another process's by now */
	RUN(&r, "show", "--disk", "--input", (char *)write_tmp("saved.hist", text, -1));
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(NULL, strstr(r.out, "vm.img"));
	snprintf(want, sizeof(want), "\n  fd %-6d submit_to_irq          4 ", fd);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	run_free(&r);

	/* an exited VM: its descriptors are gone */
	snprintf(vmline, sizeof(vmline), "vm %d qemu vcpus 1", getpid());
	exited = replace(text, vmline, strcat(strcpy(want, vmline), " exited 5"));
	ASSERT_NE(NULL, exited);
	write_tmp("kvmio_lat/hist", exited, -1);
	RUN(&r, "show", "--json");
	EXPECT_EQ(0, r.rc);
	snprintf(want, sizeof(want), "{\"fd\": %d, \"name\": null, ", fd);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strstr(r.out, "vm.img"));
	run_free(&r);

	unsetenv(KVL_DEBUGFS_ENV);
	close(fd);
	close(fd_long);
	close(fd_odd);
	free(exited);
	free(text);
	remove_tmpdir();
	rf_vm_fini(&vm);
	fx_fini(&f);
}

/* Non-root users get told to be root (tests run as root: drop to nobody). */
TEST(permission_denied)
{
	char dir[300], line[512] = "";
	int fds[2], status;
	pid_t child;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to another user");
	make_tmpdir();
	snprintf(dir, sizeof(dir), "%s/kvmio_lat", tmpdir);
	ASSERT_EQ(0, mkdir(dir, 0700));
	write_tmp("kvmio_lat/hist", "x", -1);
	write_tmp("saved.hist", "x", -1);
	chmod(write_tmp("saved.hist", "x", -1), 0600);
	ASSERT_EQ(0, pipe(fds));
	child = fork();
	ASSERT_GE(child, 0);
	if (!child) {
		FILE *err = fdopen(fds[1], "w"), *out = fopen("/dev/null", "w");
		char *live[] = { "kvmio-lat", "show", NULL };
		char path[300], *saved[] = { "kvmio-lat", "show", "--input", path, NULL };
		int rc1, rc2;

		close(fds[0]);
		snprintf(path, sizeof(path), "%s/saved.hist", tmpdir);
		setenv(KVL_DEBUGFS_ENV, tmpdir, 1);
		if (setgid(65534) || setuid(65534))
			_exit(99);
		rc1 = kvl_cli(2, live, out, err);
		rc2 = kvl_cli(4, saved, out, err);
		fclose(err);
		_exit(rc1 * 10 + rc2);
	}
	close(fds[1]);
	ASSERT_GT(read(fds[0], line, sizeof(line) - 1), 0);
	close(fds[0]);
	waitpid(child, &status, 0);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(11, WEXITSTATUS(status));
	EXPECT_NE(NULL, strstr(line, "/kvmio_lat/hist: permission denied: kvmio_lat's files are for root only: run kvmio-lat as root (sudo)\n"))
		TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "/saved.hist: permission denied"));
	EXPECT_EQ(2, count_char(line, '\n'));
	remove_tmpdir();
}

/* ------------------------------------------------------------------ */
/* the command line */

TEST(usage_errors_exit_2)
{
	static const char *const cases[][5] = {
		{ "bogus", NULL }, { "show", "--bogus", NULL },
		{ "show", "--pid", NULL }, { "show", "--pid", "0", NULL },
		{ "show", "--pid", "12x", NULL }, { "show", "--vcpu", "-1", NULL },
		{ "show", "--path", "uring", NULL }, { "show", "--path", "", NULL },
		{ "show", "--path", "Native", NULL },
		{ "show", "--json", "--csv", NULL }, { "show", "extra", NULL },
		{ "show", "--paths", NULL }, { "show", "--stats", "x", NULL },
		{ "watch", "-i", "0", NULL }, { "watch", "-i", "abc", NULL },
		{ "watch", "-n", "0", NULL }, { "watch", "--hist", NULL },
		{ "compare", "a", NULL }, { "compare", "a", "b", "c", NULL },
		{ "compare", "--json", "a", "b", NULL }, { "reset", "now", NULL },
		{ "show", "--disk", "--vcpu", "0", NULL },
		{ "show", "--disk", "--exits", NULL }, { "watch", "--disk", NULL },
		{ "compare", "--disk", "a", "b", NULL },
		{ "--bogus", NULL }, { NULL },
	};
	unsigned int i;
	struct run r;

	for (i = 0; cases[i][0]; i++) {
		char *argv[7] = { "kvmio-lat" };
		int j;

		for (j = 0; cases[i][j]; j++)
			argv[j + 1] = (char *)cases[i][j];
		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 2, "(try 'kvmio-lat --help')");
		run_free(&r);
	}
	RUN(&r, "show", "--pid");
	EXPECT_ONE_ERROR(&r, 2, "show: option '--pid' needs a value");
	run_free(&r);
	RUN(&r, "show", "--vcpu", "1", "--disk");
	EXPECT_ONE_ERROR(&r, 2, "show: --disk rows are per VM: --vcpu does not go with it");
	run_free(&r);
	{
		char *argv[] = { "kvmio-lat", NULL };

		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 2, "no command given");
		run_free(&r);
	}
}

TEST(help_and_version)
{
	struct run r;

	RUN(&r, "--version");
	EXPECT_EQ(0, r.rc);
	EXPECT_STREQ("kvmio-lat 0.1.0 (hist format 5)\n", r.out);
	run_free(&r);
	RUN(&r, "--help");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "Usage: kvmio-lat COMMAND [OPTIONS]"));
	EXPECT_NE(NULL, strstr(r.out, "Exit status: 0 success, 1 runtime error, 2 usage error."));
	EXPECT_NE(NULL, strstr(r.out, "  --json           JSON, schema kvmio_lat/5 "));
	EXPECT_NE(NULL, strstr(r.out, "  --path PATH      native, threads or io_uring\n"));
	EXPECT_NE(NULL, strstr(r.out, "  --disk "));
	EXPECT_NE(NULL, strstr(r.out, "path: io, submit_to_irq and total, not vCPUs and stages\n"));
	run_free(&r);
	RUN(&r, "compare", "--help");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "compare --paths"));
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* export --openmetrics */

/* The module's bucket edges: lower bounds of its buckets, and 2^37 ns. */
static bool om_is_edge(u64 e)
{
	unsigned int i;

	for (i = 0; i < KVL_HIST_NBUCKETS; i++)
		if (kvl_hist_bucket_lo(i) == e)
			return true;
	return e == KVL_HIST_MAX_NS;
}

/*
 * An le (seconds, "9.91e-07", "0.000100351", "1.0") as whole ns, from its
 * digits: false unless it is a whole number of ns.
 */
static bool om_le_ns(const char *s, u64 *ns)
{
	u64 m = 0;
	int x = 0, e = 0, digits = 0;
	bool frac = false;

	for (; *s && *s != 'e'; s++) {
		if (*s == '.') {
			frac = true;
			continue;
		}
		if (*s < '0' || *s > '9' || ++digits > 18)
			return false;
		m = m * 10 + (u64)(*s - '0');
		x -= frac;
	}
	if (*s == 'e')
		e = atoi(s + 1);
	for (x += e + 9; x > 0; x--)
		m *= 10;
	for (; x < 0; x++) {
		if (m % 10)
			return false;
		m /= 10;
	}
	*ns = m;
	return true;
}

/* A histogram of a saved snapshot, read here on its own (not by parse.c). */
struct om_hist {
	const char *family;
	char labels[200];
	u64 count;
	u64 sum;
	u64 underflow;		/* format 1: in bucket [0, 1) for the reader */
	u32 nr;
	u64 lo[KVL_HIST_NBUCKETS];
	u64 hi[KVL_HIST_NBUCKETS];
	u64 n[KVL_HIST_NBUCKETS];
};

#define OM_MAX_HISTS	128

/* The stage, disk and exit histograms with a count of snapshot @text. */
static u32 om_fixture_hists(const char *text, struct om_hist *h, u32 max)
{
	char isa[16] = "", a[40], b[40], c[40];
	const char *p, *nl, *cnt;
	unsigned long long lo, hi, n;
	int pid, x, at;
	u32 nr = 0;
	struct om_hist *cur = NULL;

	for (p = text; (nl = strchr(p, '\n')); p = nl + 1) {
		if (sscanf(p, "vcpu %d %d isa %15s", &pid, &x, isa) == 3)
			continue;
		if (cur && sscanf(p, "  [%llu, %llu) %llu", &lo, &hi, &n) == 3) {
			cur->lo[cur->nr] = lo;
			cur->hi[cur->nr] = hi;
			cur->n[cur->nr++] = n;
			continue;
		}
		cur = NULL;
		cnt = strstr(p, " count=");
		if (!cnt || cnt > nl || nr == max || !strtoull(cnt + 7, NULL, 10))
			continue;
		cur = &h[nr];
		memset(cur, 0, sizeof(*cur));
		if (sscanf(p, "stage %d %d %39s %39s ", &pid, &x, a, b) == 4) {
			cur->family = "kvmio_lat_stage_seconds";
			snprintf(cur->labels, sizeof(cur->labels),
				 "pid=\"%d\",vm=\"\",vcpu=\"%d\",path=\"%s\",stage=\"%s\"",
				 pid, x, a, b);
		} else if (sscanf(p, "disk %d %d %39s %39s ", &pid, &x, a, b) == 4) {
			cur->family = "kvmio_lat_disk_seconds";
			snprintf(cur->labels, sizeof(cur->labels),
				 "pid=\"%d\",vm=\"\",fd=\"%d\",disk=\"fd %d\",path=\"%s\",stage=\"%s\"",
				 pid, x, x, a, b);
		} else if (sscanf(p, "exit %d %d %n", &pid, &x, &at) >= 2) {
			/* a reason may hold spaces: up to " count=" */
			snprintf(c, sizeof(c), "%.*s", (int)(cnt - p - at), p + at);
			cur->family = "kvmio_lat_exit_seconds";
			snprintf(cur->labels, sizeof(cur->labels),
				 "pid=\"%d\",vm=\"\",vcpu=\"%d\",reason=\"%s\",isa=\"%s\"",
				 pid, x, c, isa);
		} else {
			cur = NULL;
			continue;
		}
		cur->count = strtoull(cnt + 7, NULL, 10);
		cur->sum = strtoull(strstr(p, " sum=") + 5, NULL, 10);
		if (strstr(p, " underflow=") && strstr(p, " underflow=") < nl)
			cur->underflow = strtoull(strstr(p, " underflow=") + 11, NULL, 10);
		nr++;
	}
	return nr;
}

/* The le bounds of the first histogram of export @out, +Inf left out. */
static u32 om_bounds(const char *out, char (*le)[32], u64 *ns, u32 max)
{
	const char *p = strstr(out, "_bucket{"), *q;
	u32 nr = 0;

	while (p && nr < max) {
		p = strstr(p, ",le=\"") + 5;
		q = strchr(p, '"');
		if (!strncmp(p, "+Inf", 4))
			break;
		snprintf(le[nr], sizeof(le[0]), "%.*s", (int)(q - p), p);
		if (!om_le_ns(le[nr], &ns[nr]))
			ns[nr] = ~0ULL;
		nr++;
		p = strstr(q, "_bucket{");
	}
	return nr;
}

/* Lines of @s that start with @prefix. */
static int om_lines(const char *s, const char *prefix)
{
	const char *p;
	int n = 0;

	for (p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

/* Seconds as export writes them: exact, a decimal point, no trailing 0s. */
static const char *om_secs(char *buf, size_t size, u64 ns)
{
	int n = snprintf(buf, size, "%llu.%09llu", (unsigned long long)(ns / 1000000000),
			 (unsigned long long)(ns % 1000000000));

	while (buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return buf;
}

/*
 * Every histogram of fixture @name in export's output, line by line,
 * against its bucket lines: each le counts exactly the buckets whose
 * values are all <= le, no bucket has values on both sides of an le, le
 * + 1 ns is an edge of the layout, +Inf and _count are the count, _sum
 * the sum; the lines of each family are (buckets + 3) per histogram (the
 * series count of kvmio-lat(8)).
 */
static void check_export(struct __test_metadata *_metadata, const char *name,
			 const char *stats)
{
	char le[KVL_EXPORT_MAX_BOUNDS][32], want[512], secs[48], prefix[64];
	static const char *const families[] = {
		"kvmio_lat_stage_seconds", "kvmio_lat_disk_seconds",
		"kvmio_lat_exit_seconds",
	};
	u64 le_ns[KVL_EXPORT_MAX_BOUNDS];
	struct om_hist *h = calloc(OM_MAX_HISTS, sizeof(*h));
	char *text = read_all(fixture(name));
	u32 nh, nb, i, j, k, per[3] = { 0 };
	struct run r;

	ASSERT_NE(NULL, h);
	ASSERT_NE(NULL, text);
	if (stats)
		RUN(&r, "export", "--openmetrics", "--input", (char *)fixture(name),
		    "--stats", (char *)fixture(stats));
	else
		RUN(&r, "export", "--openmetrics", "--input", (char *)fixture(name));
	ASSERT_EQ(0, r.rc) TH_LOG("%s: %s", name, r.err);
	nh = om_fixture_hists(text, h, OM_MAX_HISTS);
	nb = om_bounds(r.out, le, le_ns, KVL_EXPORT_MAX_BOUNDS);
	ASSERT_LT(0, nh);
	EXPECT_EQ(22, nb);	/* 1, 2.5, 5 x 10^k s from 1 us to 10 s */
	for (j = 0; j < nb; j++) {
		EXPECT_NE(~0ULL, le_ns[j]) TH_LOG("le %s", le[j]);
		EXPECT_TRUE(om_is_edge(le_ns[j] + 1)) TH_LOG("le %s", le[j]);
		EXPECT_TRUE(!j || le_ns[j] > le_ns[j - 1]);
	}
	for (i = 0; i < nh; i++) {
		for (j = 0; j < nb; j++) {
			u64 cum = h[i].underflow;

			for (k = 0; k < h[i].nr; k++) {
				/* values lo .. hi - 1: all <= le or all > le */
				EXPECT_FALSE(h[i].lo[k] <= le_ns[j] &&
					     h[i].hi[k] - 1 > le_ns[j]);
				if (h[i].hi[k] - 1 <= le_ns[j])
					cum += h[i].n[k];
			}
			snprintf(want, sizeof(want), "\n%s_bucket{%s,le=\"%s\"} %llu\n",
				 h[i].family, h[i].labels, le[j], (unsigned long long)cum);
			EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s: %s", name, want);
		}
		snprintf(want, sizeof(want), "\n%s_bucket{%s,le=\"+Inf\"} %llu\n%s_count{%s} %llu\n%s_sum{%s} %s\n",
			 h[i].family, h[i].labels, (unsigned long long)h[i].count,
			 h[i].family, h[i].labels, (unsigned long long)h[i].count,
			 h[i].family, h[i].labels, om_secs(secs, sizeof(secs), h[i].sum));
		EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s: %s", name, want);
		for (k = 0; k < ARRAY_SIZE(families); k++)
			per[k] += !strcmp(h[i].family, families[k]);
	}
	for (k = 0; k < ARRAY_SIZE(families); k++) {
		snprintf(prefix, sizeof(prefix), "%s_", families[k]);
		EXPECT_EQ(per[k] * (nb + 3), om_lines(r.out, prefix)) TH_LOG("%s %s", name, prefix);
	}
	run_free(&r);
	free(text);
	free(h);
}

TEST(export_buckets_are_exact)
{
	check_export(_metadata, "disks.hist", "disks.stats");
	check_export(_metadata, "two_vcpus.hist", "two_vcpus.stats");
	check_export(_metadata, "replay_uring.hist", NULL);
	check_export(_metadata, "uring_small.hist", NULL);
	check_export(_metadata, "replay_threads.hist", NULL);	/* underflow=1 */
	check_export(_metadata, "two_vms.hist", NULL);
}

/* The suffixes a sample of a family of @type may have. */
static bool om_suffix_ok(const char *type, const char *suffix)
{
	if (!strcmp(type, "histogram"))
		return !strcmp(suffix, "_bucket") || !strcmp(suffix, "_count") ||
		       !strcmp(suffix, "_sum");
	if (!strcmp(type, "counter"))
		return !strcmp(suffix, "_total");
	return !*suffix;	/* gauge, unknown */
}

/*
 * Every family: TYPE, then UNIT (seconds, bytes: its name's suffix), then
 * HELP, then its samples, never interleaved with another's; buckets in
 * ascending le and cumulative; "# EOF" last, once.
 */
static void check_om_structure(struct __test_metadata *_metadata,
			       const char *out)
{
	char family[64] = "", type[16] = "", name[128], prev_key[512] = "";
	const char *p, *nl;
	char seen[64][64];
	u64 prev_le = 0, prev_v = 0, v, le;
	int nseen = 0, i, samples = 0;
	bool help = false;

	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, count_substr(out, "# EOF")) TH_LOG("%s", out);
	ASSERT_LE(6, strlen(out));
	EXPECT_STREQ("# EOF\n", out + strlen(out) - 6);
	for (p = out; (nl = strchr(p, '\n')); p = nl + 1) {
		if (!strncmp(p, "# TYPE ", 7)) {
			ASSERT_EQ(2, sscanf(p, "# TYPE %63s %15s", family, type));
			for (i = 0; i < nseen; i++)
				EXPECT_STRNE(seen[i], family);	/* not interleaved */
			if (nseen < 64)
				strcpy(seen[nseen++], family);
			help = false;
			continue;
		}
		if (!strncmp(p, "# UNIT ", 7)) {
			char unit[32], suffix[40];

			ASSERT_EQ(2, sscanf(p, "# UNIT %127s %31s", name, unit));
			EXPECT_STREQ(family, name);
			EXPECT_FALSE(help);	/* TYPE, UNIT, HELP */
			snprintf(suffix, sizeof(suffix), "_%s", unit);
			EXPECT_STREQ(suffix, name + strlen(name) - strlen(suffix));
			continue;
		}
		if (!strncmp(p, "# HELP ", 7)) {
			ASSERT_EQ(1, sscanf(p, "# HELP %127s", name));
			EXPECT_STREQ(family, name);
			EXPECT_LT(7 + strlen(name) + 2, (size_t)(nl - p));
			help = true;
			continue;
		}
		if (!strncmp(p, "# EOF", 5))
			continue;
		EXPECT_NE('#', *p) TH_LOG("%.*s", (int)(nl - p), p);
		/* a sample of the current family, after its HELP */
		samples++;
		EXPECT_TRUE(help) TH_LOG("%.*s", (int)(nl - p), p);
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(p, "{ "), p);
		EXPECT_EQ(0, strncmp(name, family, strlen(family))) TH_LOG("%s in %s", name, family);
		EXPECT_TRUE(om_suffix_ok(type, name + strlen(family))) TH_LOG("%s", name);
		if (strstr(name, "_bucket")) {
			const char *lp = strstr(p, ",le=\"");
			char key[512];

			ASSERT_NE(NULL, lp);
			snprintf(key, sizeof(key), "%.*s", (int)(lp - p), p);
			v = strtoull(strchr(lp, ' ') + 1, NULL, 10);
			le = ~0ULL;
			if (strncmp(lp + 5, "+Inf\"", 5)) {
				char s[32];

				snprintf(s, sizeof(s), "%.*s", (int)strcspn(lp + 5, "\""), lp + 5);
				EXPECT_TRUE(om_le_ns(s, &le)) TH_LOG("%s", s);
			}
			if (!strcmp(key, prev_key)) {
				EXPECT_GT(le, prev_le);
				EXPECT_GE(v, prev_v);
			}
			strcpy(prev_key, key);
			prev_le = le;
			prev_v = v;
		}
	}
	EXPECT_EQ('\0', *p);
	(void)samples;
}

TEST(export_families_are_well_formed)
{
	static const char *const inputs[][2] = {
		{ "disks.hist", "disks.stats" }, { "two_vcpus.hist", "two_vcpus.stats" },
		{ "uring_small.hist", NULL }, { "lab_native.hist", "lab_native.stats" },
		{ "format1_replay_native.hist", NULL },
	};
	unsigned int i;
	struct run r;

	for (i = 0; i < ARRAY_SIZE(inputs); i++) {
		if (inputs[i][1])
			RUN(&r, "export", "--openmetrics", "--input",
			    (char *)fixture(inputs[i][0]), "--stats",
			    (char *)fixture(inputs[i][1]));
		else
			RUN(&r, "export", "--openmetrics", "--input",
			    (char *)fixture(inputs[i][0]));
		EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
		check_om_structure(_metadata, r.out);
		run_free(&r);
		RUN(&r, "export", "--openmetrics", "--no-vcpu", "--input",
		    (char *)fixture(inputs[i][0]));
		EXPECT_EQ(0, r.rc);
		check_om_structure(_metadata, r.out);
		run_free(&r);
	}

	/* the stats: levels are gauges, the rest counters ending in _total */
	RUN(&r, "export", "--openmetrics", "--input", (char *)fixture("lab_native.hist"),
	    "--stats", (char *)fixture("lab_native.stats"));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_requests counter\n# HELP kvmio_lat_requests Requests completed and recorded.\nkvmio_lat_requests_total "));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_inflight gauge\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_vms gauge\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_memory_bytes gauge\n# UNIT kvmio_lat_memory_bytes bytes\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nkvmio_lat_dropped_total 2597\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_vm_exited gauge\n"));
	EXPECT_EQ(0, count_substr(r.out, "_total_total"));
	run_free(&r);

	/* a stat this reader does not know: its kind is not guessed */
	make_tmpdir();
	RUN(&r, "export", "--openmetrics", "--input", (char *)fixture("empty.hist"),
	    "--stats", (char *)write_tmp("s", "vms: 0\nnew_thing: 7\nstage_seconds_count: 1\n", -1));
	EXPECT_STREQ("# TYPE kvmio_lat_vms gauge\n# HELP kvmio_lat_vms VMs (QEMU processes) tracked now, running.\nkvmio_lat_vms 0\n"
		     "# TYPE kvmio_lat_new_thing unknown\n# HELP kvmio_lat_new_thing The module's stat new_thing.\nkvmio_lat_new_thing 7\n"
		     "# EOF\n", r.out);
	run_free(&r);
	remove_tmpdir();
}

/*
 * --prometheus: the same samples in the text format node_exporter
 * parses: a counter's family is its _total sample's name, no UNIT, no
 * "# EOF"; every other line as --openmetrics writes it.
 */
TEST(export_prometheus_text_format)
{
	char *om, *p, *line;
	struct run r;
	size_t n = 0;

	RUN(&r, "export", "--openmetrics", "--input", (char *)fixture("lab_native.hist"),
	    "--stats", (char *)fixture("lab_native.stats"));
	ASSERT_EQ(0, r.rc);
	om = strdup(r.out);
	run_free(&r);
	RUN(&r, "export", "--prometheus", "--input", (char *)fixture("lab_native.hist"),
	    "--stats", (char *)fixture("lab_native.stats"));
	ASSERT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_requests_total counter\n# HELP kvmio_lat_requests_total Requests completed and recorded.\nkvmio_lat_requests_total "));
	EXPECT_NE(NULL, strstr(r.out, "\n# TYPE kvmio_lat_inflight gauge\n# HELP kvmio_lat_inflight "));
	EXPECT_NE(NULL, strstr(r.out, "# TYPE kvmio_lat_stage_seconds histogram\n# HELP kvmio_lat_stage_seconds "));
	EXPECT_EQ(0, count_substr(r.out, "# UNIT"));
	EXPECT_EQ(0, count_substr(r.out, "# EOF"));
	EXPECT_EQ(0, count_substr(r.out, "_total_total"));
	/* every sample line of the OpenMetrics text, in the same order */
	p = r.out;
	for (line = strtok(om, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		p = strstr(p, line);
		ASSERT_NE(NULL, p) TH_LOG("not in --prometheus: %s", line);
		n++;
	}
	EXPECT_GT(n, 100);
	free(om);
	run_free(&r);
}

/* The COUNT of show's row "  all  STAGE ..." in the table titled @title. */
static u64 om_all_row(const char *show, const char *title, const char *name)
{
	const char *p = strstr(show, title);
	unsigned long long n;
	char row[64];

	for (p = p ? strstr(p, "\n  all ") : NULL; p; p = strstr(p + 1, "\n  all "))
		if (sscanf(p, " all %63s %llu", row, &n) == 2 && !strcmp(row, name))
			return n;
	return 0;
}

TEST(export_no_vcpu_merges_as_show_all)
{
	char want[256];
	struct run s, r, v;
	u64 all;

	RUN(&s, "show", "--exits", "--input", (char *)fixture("two_vcpus.hist"));
	RUN(&r, "export", "--openmetrics", "--no-vcpu", "--input", (char *)fixture("two_vcpus.hist"));
	RUN(&v, "export", "--openmetrics", "--input", (char *)fixture("two_vcpus.hist"));
	ASSERT_EQ(0, s.rc);
	ASSERT_EQ(0, r.rc);
	EXPECT_EQ(0, count_substr(r.out, "vcpu=\""));
	all = om_all_row(s.out, "native path", "total");
	EXPECT_EQ(300, all);
	snprintf(want, sizeof(want), "\nkvmio_lat_stage_seconds_count{pid=\"4242\",vm=\"\",path=\"native\",stage=\"total\"} %llu\n",
		 (unsigned long long)all);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	all = om_all_row(s.out, "exit latency", "hlt");
	EXPECT_EQ(300, all);
	snprintf(want, sizeof(want), "\nkvmio_lat_exit_seconds_count{pid=\"4242\",vm=\"\",reason=\"hlt\",isa=\"svm\"} %llu\n",
		 (unsigned long long)all);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);

	/* each merged bucket is the sum of the vCPUs' */
	{
		char le[KVL_EXPORT_MAX_BOUNDS][32], pat[256];
		u64 ns[KVL_EXPORT_MAX_BOUNDS], n[3];
		u32 nb = om_bounds(r.out, le, ns, KVL_EXPORT_MAX_BOUNDS), j;
		const char *vc[3] = { "vcpu=\"0\",", "vcpu=\"1\",", "" };
		int k;

		ASSERT_EQ(22, nb);
		for (j = 0; j < nb; j++) {
			for (k = 0; k < 3; k++) {
				const char *at;

				snprintf(pat, sizeof(pat), "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",%spath=\"native\",stage=\"submit_to_reap\",le=\"%s\"} ",
					 vc[k], le[j]);
				at = strstr(k < 2 ? v.out : r.out, pat);
				ASSERT_NE(NULL, at) TH_LOG("%s", pat);
				n[k] = strtoull(at + strlen(pat), NULL, 10);
			}
			EXPECT_EQ(n[0] + n[1], n[2]) TH_LOG("le %s", le[j]);
		}
	}
	run_free(&s);
	run_free(&r);
	run_free(&v);

	/* --vcpu narrows stages and exits; disks stay whole (they are per VM) */
	RUN(&r, "export", "--openmetrics", "--vcpu", "1", "--input", (char *)fixture("disks.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, count_substr(r.out, "vcpu=\"0\""));
	EXPECT_NE(0, count_substr(r.out, "vcpu=\"1\""));
	EXPECT_NE(0, count_substr(r.out, "kvmio_lat_disk_seconds_count{pid=\"5000\""));
	run_free(&r);
	RUN(&r, "export", "--openmetrics", "--pid", "77", "--input", (char *)fixture("disks.hist"));
	EXPECT_ONE_ERROR(&r, 1, "no VM with pid 77 (VMs in it: 5000 6000)");
	run_free(&r);
}

TEST(export_stages_and_paths)
{
	struct run r;

	RUN(&r, "export", "--openmetrics", "--stages", "total,io", "--input",
	    (char *)fixture("disks.hist"));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, count_substr(r.out, "stage=\"doorbell_to_wake\""));
	EXPECT_EQ(0, count_substr(r.out, "stage=\"submit_to_irq\""));
	EXPECT_EQ(0, count_substr(r.out, "stage=\"submit\""));
	/* io: the threads path's stage and the disks' */
	EXPECT_NE(NULL, strstr(r.out, "\nkvmio_lat_stage_seconds_count{pid=\"5000\",vm=\"\",vcpu=\"0\",path=\"threads\",stage=\"io\"} 45\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nkvmio_lat_disk_seconds_count{pid=\"5000\",vm=\"\",fd=\"11\",disk=\"fd 11\",path=\"native\",stage=\"io\"} 39\n"));
	EXPECT_NE(NULL, strstr(r.out, "path=\"native\",stage=\"total\"} "));
	/* exits are not stages: always there */
	EXPECT_NE(NULL, strstr(r.out, "\nkvmio_lat_exit_seconds_count{pid=\"5000\",vm=\"\",vcpu=\"0\",reason=\"hlt\",isa=\"svm\"} 85\n"));
	/* total: 5000's 2 vCPUs x 2 paths, 6000's 1; io: 5000's threads x 2 */
	EXPECT_EQ(4 + 1 + 2, om_lines(r.out, "kvmio_lat_stage_seconds_count{"));
	run_free(&r);

	RUN(&r, "export", "--openmetrics", "--path", "threads", "--input",
	    (char *)fixture("disks.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, count_substr(r.out, "path=\"native\""));
	EXPECT_NE(0, count_substr(r.out, "path=\"threads\""));
	run_free(&r);

	RUN(&r, "export", "--openmetrics", "--stages", "total,bogus", "--input",
	    (char *)fixture("disks.hist"));
	EXPECT_ONE_ERROR(&r, 2, "export: --stages: no stage 'bogus' (stages: doorbell_to_wake, wake_to_submit, submit, submit_to_reap, reap_to_irq, irq_to_entry, total, wake_to_dispatch, io, io_to_reap, submit_to_complete, complete_to_reap, submit_to_irq)");
	run_free(&r);
	RUN(&r, "export", "--openmetrics", "--stages", "total,", "--input",
	    (char *)fixture("disks.hist"));
	EXPECT_ONE_ERROR(&r, 2, "--stages: no stage ''");
	run_free(&r);
}

TEST(export_buckets_option)
{
	static const struct {
		const char *arg;
		const char *err;
	} bad[] = {
		{ "", "--buckets wants bounds in seconds" },
		{ "abc", "not 'abc'" },
		{ ",0.1", "not ''" },
		{ "0.1,", "not ''" },
		{ "0.1,,0.2", "not ''" },
		{ "1ms", "not '1ms'" },
		{ "inf", "not 'inf'" },
		{ "nan", "not 'nan'" },
		{ "-1", "--buckets: -1 is negative" },
		{ "0.01,0.001", "ascending order: 0.001 after 0.01" },
		{ "0.001,0.001", "ascending order" },
		{ "200", "--buckets: 200 s is beyond the module's last bucket (137.438953472 s)" },
	};
	char many[2048] = "", item[32];
	unsigned int i;
	struct run r;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		RUN(&r, "export", "--openmetrics", "--buckets", (char *)bad[i].arg,
		    "--input", (char *)fixture("two_vcpus.hist"));
		EXPECT_ONE_ERROR(&r, 2, bad[i].err);
		run_free(&r);
	}
	for (i = 0; i < 65; i++) {
		snprintf(item, sizeof(item), "%s%u", i ? "," : "", i + 1);
		strcat(many, item);
	}
	RUN(&r, "export", "--openmetrics", "--buckets", many, "--input",
	    (char *)fixture("two_vcpus.hist"));
	EXPECT_ONE_ERROR(&r, 2, "--buckets: more than 64 bounds");
	run_free(&r);
	*strrchr(many, ',') = '\0';	/* 64: fine, some merged by rounding */
	RUN(&r, "export", "--openmetrics", "--buckets", many, "--input",
	    (char *)fixture("two_vcpus.hist"));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	run_free(&r);

	/*
	 * rounded to the nearest exact bound; two that round alike are one
	 * (the counts: the buckets of the fixture's lines with hi - 1 <= le)
	 */
	RUN(&r, "export", "--openmetrics", "--buckets", "0,0.0001,0.001,0.0010001,0.01,137.4",
	    "--input", (char *)fixture("two_vcpus.hist"));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\nkvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"0.0\"} 0\n"
			       "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"9.8303e-05\"} 44\n"
			       "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"0.001015807\"} 147\n"
			       "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"0.009961471\"} 150\n"
			       "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"137.438953471\"} 150\n"
			       "kvmio_lat_stage_seconds_bucket{pid=\"4242\",vm=\"\",vcpu=\"1\",path=\"native\",stage=\"total\",le=\"+Inf\"} 150\n")) TH_LOG("%s", r.out);
	run_free(&r);
}

TEST(export_numbers)
{
	static const struct {
		u64 ns;
		const char *le;
	} cases[] = {
		{ 0, "0.0" }, { 5, "5e-09" }, { 31, "3.1e-08" }, { 991, "9.91e-07" },
		{ 99999, "9.9999e-05" }, { 100351, "0.000100351" },
		{ 1000000, "0.001" }, { 1000000000, "1.0" }, { 10000000000ULL, "10.0" },
		{ 10200547327ULL, "10.200547327" },
		{ KVL_HIST_MAX_NS - 1, "137.438953471" },
	};
	struct kvl_export_opts o;
	char buf[32];
	unsigned int i;
	u64 ns;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		EXPECT_STREQ(cases[i].le, kvl_export_le(buf, sizeof(buf), cases[i].ns));
		EXPECT_TRUE(om_le_ns(cases[i].le, &ns));
		EXPECT_EQ(cases[i].ns, ns);
	}
	/* the default bounds: the exact ones nearest 1, 2.5, 5 x 10^k s */
	kvl_export_opts_init(&o);
	ASSERT_EQ(22, o.nr_bounds);
	EXPECT_EQ(991, o.le[0]);			/* 1 us: edge 992 */
	EXPECT_EQ(1006632959ULL, o.le[18]);		/* 1 s */
	EXPECT_EQ(10200547327ULL, o.le[21]);		/* 10 s */
	for (i = 0; i < o.nr_bounds; i++)
		EXPECT_TRUE(om_is_edge(o.le[i] + 1));
}

TEST(export_sum_saturated_is_estimated)
{
	char *text = read_all(fixture("two_vcpus.hist")), *sat, *line, want[256], secs[48];
	const char *at;
	struct run r;
	double mean;

	ASSERT_NE(NULL, text);
	line = strstr(text, "stage 4242 0 native total ");
	ASSERT_NE(NULL, line);
	at = strstr(line, " sum=");
	snprintf(want, sizeof(want), "%.*s", (int)(strchr(at + 1, ' ') - at), at);
	sat = replace(text, want, " sum=18446744073709551615");
	ASSERT_NE(NULL, sat);
	make_tmpdir();
	write_tmp("sat.hist", sat, -1);
	RUN(&r, "show", "--json", "--vcpu", "0", "--input", (char *)write_tmp("sat.hist", sat, -1));
	ASSERT_EQ(0, r.rc);
	at = strstr(r.out, "\"total\": {\"count\": 150, ");
	ASSERT_NE(NULL, at);
	mean = strtod(strstr(at, "\"mean_ns\": ") + 11, NULL);
	EXPECT_NE(0, mean);
	run_free(&r);
	RUN(&r, "export", "--openmetrics", "--input", (char *)write_tmp("sat.hist", sat, -1));
	snprintf(want, sizeof(want), "\nkvmio_lat_stage_seconds_sum{pid=\"4242\",vm=\"\",vcpu=\"0\",path=\"native\",stage=\"total\"} %s\n",
		 om_secs(secs, sizeof(secs), (u64)mean * 150));
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	run_free(&r);
	remove_tmpdir();
	free(sat);
	free(text);
}

TEST(export_label_escaping)
{
	struct kvl_om_labels *l = calloc(1, sizeof(*l));
	char *big = malloc(KVL_OM_LABELS * 2);

	ASSERT_NE(NULL, l);
	ASSERT_NE(NULL, big);
	kvl_om_label_num(l, "pid", 12);
	kvl_om_label(l, "disk", "a\"b\\c\nd\xff" "\xc3\xa9" "\xe2\x82" "\t");
	EXPECT_STREQ("pid=\"12\",disk=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\t\"", l->buf);
	/* a name too long for the buffer is cut, never an escape */
	memset(big, '"', KVL_OM_LABELS * 2 - 1);
	big[KVL_OM_LABELS * 2 - 1] = '\0';
	l->n = 0;
	kvl_om_label(l, "disk", big);
	kvl_om_label(l, "path", "native");
	EXPECT_LT(l->n, sizeof(l->buf));
	EXPECT_EQ(l->n, strlen(l->buf));
	EXPECT_EQ(0, strcmp(l->buf + l->n - strlen("\",path=\"native\""), "\",path=\"native\""));
	EXPECT_NE('\\', l->buf[l->n - strlen("\",path=\"native\"") - 1]);
	free(big);
	free(l);
}

TEST(export_vm_names)
{
	static const struct {
		const char *cmdline;
		size_t len;
		const char *name;
	} cases[] = {
#define C(s, name) { s, sizeof(s) - 1, name }
		C("qemu-system-x86_64\0-name\0guest=web1,debug-threads=on\0-m\0" "1024\0", "web1"),
		C("qemu\0-name\0db,,1,process=x\0", "db,1"),
		C("qemu\0--name\0debug-threads=on,guest=z,,\0", "z,"),
		C("qemu\0-name\0a\0-name\0b\0", "b"),
		C("qemu\0-m\0" "1024\0", ""),
		C("qemu\0-name\0", ""),
		C("qemu\0-name\0debug-threads=on\0", ""),
		C("qemu\0-name\0x", "x"),
		C("qemu\0-name\0guest=\xff\"q\0", "\xff\"q"),
#undef C
	};
	char buf[KVL_EXPORT_VM_NAME];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		kvl_export_vm_name(cases[i].cmdline, cases[i].len, buf, sizeof(buf));
		EXPECT_STREQ(cases[i].name, buf) TH_LOG("case %u", i);
	}
}

/*
 * Live: a VM's name from its /proc/PID/cmdline (a child that looks like
 * QEMU started by libvirt), its disk's from /proc/PID/fd; once exited,
 * the name read while it ran, in the same process (export --every).
 */
TEST(export_live_names)
{
	char dir[300], oddpath[400], want[800], vmline[64], *text, *exited;
	struct kvl_export_names names = { 0 };
	struct kvl_export_opts o;
	struct kvl_snap s;
	unsigned int seed = 3;
	u64 dur[RF_NR_DUR];
	struct rf_vm vm;
	struct fx f;
	struct run r;
	int fd, pipefd[2], i, status;
	char *buf;
	size_t len;
	FILE *out;
	pid_t child;

	make_tmpdir();
	snprintf(oddpath, sizeof(oddpath), "%s/new\nline \"x\"", tmpdir);
	fd = open(oddpath, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		dup2(pipefd[0], 0);
		close(pipefd[1]);
		execl("/bin/sh", "sh", "-c", "read x", "qemu", "-name",
		      "guest=we\"b\\1,,x,debug-threads=on", (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	fx_init(&f);
	rf_vm_init(&vm, child, "qemu");
	for (i = 0; i < 4; i++) {
		rf_durations(&seed, KVL_PATH_THREADS, dur);
		rf_threads_fd(&f, &vm, 0, dur, fd);
	}
	text = rf_hist_text(&f);
	snprintf(dir, sizeof(dir), "%s/kvmio_lat", tmpdir);
	ASSERT_EQ(0, mkdir(dir, 0755));
	write_tmp("kvmio_lat/hist", text, -1);
	setenv(KVL_DEBUGFS_ENV, tmpdir, 1);
	/* the child has run sh, not only forked */
	for (i = 0; i < 500; i++) {
		snprintf(want, sizeof(want), "/proc/%d/cmdline", child);
		if (!kvl_read_file(want, 4096, &buf, &len)) {
			bool named = memmem(buf, len, "-name", 6);

			free(buf);
			if (named)
				break;
		}
		usleep(10000);
	}

	RUN(&r, "export", "--openmetrics");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "\nkvmio_lat_stage_seconds_count{pid=\"%d\",vm=\"we\\\"b\\\\1,x\",vcpu=\"0\",path=\"threads\",stage=\"total\"} 4\n",
		 child);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	snprintf(want, sizeof(want), "\nkvmio_lat_disk_seconds_count{pid=\"%d\",vm=\"we\\\"b\\\\1,x\",fd=\"%d\",disk=\"%s/new\\nline \\\"x\\\"\",path=\"threads\",stage=\"total\"} 4\n",
		 child, fd, tmpdir);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	snprintf(want, sizeof(want), "\nkvmio_lat_vm_exited{pid=\"%d\",vm=\"we\\\"b\\\\1,x\"} 0\n", child);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	check_om_structure(_metadata, r.out);
	run_free(&r);

	/* exited: named as while it ran by the same exporter, else "" */
	kvl_export_opts_init(&o);
	o.live = true;
	ASSERT_EQ(0, kvl_load(&s, NULL, NULL, stderr));
	out = fopen("/dev/null", "w");
	ASSERT_EQ(0, kvl_export_openmetrics(out, &s, &o, &names));
	kvl_snap_free(&s);
	ASSERT_EQ(1, names.nr);
	snprintf(vmline, sizeof(vmline), "vm %d qemu vcpus 1", child);
	exited = replace(text, vmline, strcat(strcpy(want, vmline), " exited 5"));
	ASSERT_NE(NULL, exited);
	write_tmp("kvmio_lat/hist", exited, -1);
	ASSERT_EQ(0, kvl_load(&s, NULL, NULL, stderr));
	fclose(out);
	out = open_memstream(&buf, &len);
	ASSERT_EQ(0, kvl_export_openmetrics(out, &s, &o, &names));
	fclose(out);
	snprintf(want, sizeof(want), "\nkvmio_lat_vm_exited{pid=\"%d\",vm=\"we\\\"b\\\\1,x\"} 1\n", child);
	EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("%s", buf);
	free(buf);
	kvl_snap_free(&s);
	RUN(&r, "export", "--openmetrics");	/* no memory of it: "" */
	snprintf(want, sizeof(want), "\nkvmio_lat_vm_exited{pid=\"%d\",vm=\"\"} 1\n", child);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	run_free(&r);
	/* a saved copy names no VM: its pids may be others' now */
	RUN(&r, "export", "--openmetrics", "--input", (char *)write_tmp("saved.hist", text, -1));
	snprintf(want, sizeof(want), "{pid=\"%d\",vm=\"\",vcpu=\"0\",", child);
	EXPECT_NE(NULL, strstr(r.out, want));
	EXPECT_EQ(NULL, strstr(r.out, "new\\nline"));
	run_free(&r);

	close(pipefd[1]);
	waitpid(child, &status, 0);
	kvl_export_names_free(&names);
	unsetenv(KVL_DEBUGFS_ENV);
	close(fd);
	free(exited);
	free(text);
	rf_vm_fini(&vm);
	fx_fini(&f);
	remove_tmpdir();
}

/* Entries of @dir whose name starts with '.', "." and ".." aside. */
static int om_dot_files(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp)
		return -1;
	while ((d = readdir(dp)))
		n += d->d_name[0] == '.' && strcmp(d->d_name, ".") &&
		     strcmp(d->d_name, "..");
	closedir(dp);
	return n;
}

/*
 * "kvmio-lat CMD [OPT] -o PATH --input FILE [--stats FILE]" of inputs that
 * cannot be read (an empty file, not a snapshot, a truncated one, a bad
 * stats file): one error each, exit 1, PATH ("old\n") left as it was and
 * no temporary file beside it.
 */
static void expect_bad_inputs_keep_file(struct __test_metadata *_metadata,
					char *cmd, char *opt, char *path)
{
	char *text = read_all(fixture("disks.hist"));
	const struct {
		const char *name, *text;
		bool stats;
		const char *what;
	} cases[] = {
		{ "zero.hist", "", false, "zero.hist: empty file, not a kvmio_lat snapshot" },
		{ "junk.hist", "<html>\n", false, "junk.hist:1: not a kvmio_lat snapshot" },
		{ "cut.hist", text, false, "cut.hist: truncated snapshot" },
		{ "bad.stats", "what\n", true, "bad.stats:1: not a kvmio_lat stats file" },
	};
	char *argv[12], *got;
	struct run r;
	unsigned int i;
	int n;

	*strstr(text, "end\n") = '\0';
	write_tmp(strrchr(path, '/') + 1, "old\n", -1);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *file = (char *)write_tmp(cases[i].name, cases[i].text, -1);

		n = 0;
		argv[n++] = "kvmio-lat";
		argv[n++] = cmd;
		if (opt)
			argv[n++] = opt;
		argv[n++] = "-o";
		argv[n++] = path;
		argv[n++] = "--input";
		argv[n++] = cases[i].stats ? (char *)fixture("disks.hist") : file;
		if (cases[i].stats) {
			argv[n++] = "--stats";
			argv[n++] = file;
		}
		argv[n] = NULL;
		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 1, cases[i].what);
		run_free(&r);
	}
	free(text);
	got = read_all(path);
	EXPECT_STREQ("old\n", got);
	free(got);
	EXPECT_EQ(0, om_dot_files(tmpdir));
}

TEST(export_output_file)
{
	char path[400], nodir[400], *got;
	struct run r, std;
	struct stat st;
	int status;
	pid_t child;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/kvmio.prom", tmpdir);
	write_tmp("kvmio.prom", "old\n", -1);
	umask(077);	/* the file is 0644 all the same */
	RUN(&r, "export", "--openmetrics", "-o", path, "--input",
	    (char *)fixture("disks.hist"), "--stats", (char *)fixture("disks.stats"));
	umask(022);
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.out_len);
	EXPECT_EQ(0, r.err_len);
	run_free(&r);
	RUN(&std, "export", "--openmetrics", "--input", (char *)fixture("disks.hist"),
	    "--stats", (char *)fixture("disks.stats"));
	got = read_all(path);
	EXPECT_STREQ(std.out, got);
	free(got);
	run_free(&std);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_EQ(0, om_dot_files(tmpdir));

	/* bad snapshots: one error, the file as it was, no temporary file */
	expect_bad_inputs_keep_file(_metadata, "export", "--openmetrics", path);

	/* a snapshot of no VM: a valid file of the stats and # EOF */
	RUN(&r, "export", "--openmetrics", "-o", path, "--input", (char *)fixture("empty.hist"));
	EXPECT_EQ(0, r.rc);
	run_free(&r);
	got = read_all(path);
	EXPECT_STREQ("# EOF\n", got);
	free(got);
	RUN(&r, "export", "--openmetrics", "--input", (char *)fixture("empty.hist"),
	    "--stats", (char *)write_tmp("s", "vms: 0\nrequests: 3\n", -1));
	EXPECT_STREQ("# TYPE kvmio_lat_vms gauge\n# HELP kvmio_lat_vms VMs (QEMU processes) tracked now, running.\nkvmio_lat_vms 0\n"
		     "# TYPE kvmio_lat_requests counter\n# HELP kvmio_lat_requests Requests completed and recorded.\nkvmio_lat_requests_total 3\n# EOF\n",
		     r.out);
	run_free(&r);

	/* nowhere to write */
	snprintf(nodir, sizeof(nodir), "%s/nodir/kvmio.prom", tmpdir);
	RUN(&r, "export", "--openmetrics", "-o", nodir, "--input", (char *)fixture("disks.hist"));
	snprintf(path, sizeof(path), "%s/nodir/kvmio.prom: cannot write it: no directory %s/nodir", tmpdir, tmpdir);
	EXPECT_ONE_ERROR(&r, 1, path);
	run_free(&r);
	snprintf(nodir, sizeof(nodir), "%s/adir", tmpdir);
	ASSERT_EQ(0, mkdir(nodir, 0755));
	RUN(&r, "export", "--openmetrics", "-o", nodir, "--input", (char *)fixture("disks.hist"));
	EXPECT_ONE_ERROR(&r, 1, "adir: cannot replace it: Is a directory");
	run_free(&r);
	EXPECT_EQ(0, om_dot_files(tmpdir));

	/* a write that fails (a file size limit): the file as it was */
	snprintf(path, sizeof(path), "%s/kvmio.prom", tmpdir);
	write_tmp("kvmio.prom", "old\n", -1);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct rlimit rl = { 4096, 4096 };
		FILE *err = fopen(write_tmp("fsize.err", "", 0), "w");

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		RUN(&r, "export", "--openmetrics", "-o", path, "--input",
		    (char *)fixture("disks.hist"));
		fputs(r.err, err);
		fclose(err);
		_exit(r.rc);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(1, WEXITSTATUS(status));
	snprintf(nodir, sizeof(nodir), "%s/fsize.err", tmpdir);
	got = read_all(nodir);
	EXPECT_NE(NULL, strstr(got, "kvmio.prom: writing it failed: File too large; it is left as it was\n")) TH_LOG("%s", got);
	EXPECT_EQ(1, count_char(got, '\n'));
	free(got);
	got = read_all(path);
	EXPECT_STREQ("old\n", got);
	free(got);
	EXPECT_EQ(0, om_dot_files(tmpdir));
	remove_tmpdir();
}

TEST(export_usage_errors)
{
	static const struct {
		const char *args[8];
		const char *err;
	} cases[] = {
		{ { "export", NULL }, "export: wants one format: --openmetrics or --prometheus" },
		{ { "export", "--openmetrics", "--prometheus", NULL }, "export: wants one format: --openmetrics or --prometheus" },
		{ { "export", "--openmetrics", "--every", "5", NULL }, "--every goes with -o FILE" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "0", NULL }, "--every wants seconds from 1 to 86400, not '0'" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "0.5", NULL }, "not '0.5'" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "86401", NULL }, "not '86401'" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "abc", NULL }, "not 'abc'" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "", NULL }, "not ''" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "5s", NULL }, "not '5s'" },
		{ { "export", "--openmetrics", "-o", "x", "--every", "nan", NULL }, "not 'nan'" },
		{ { "export", "--openmetrics", "-o", "", NULL }, "-o wants a file name" },
		{ { "export", "--openmetrics", "--no-vcpu", "--vcpu", "0", NULL }, "--no-vcpu merges the vCPUs: --vcpu does not go with it" },
		{ { "export", "--openmetrics", "--disk", NULL }, "--disk is not an option of export" },
		{ { "export", "--openmetrics", "--json", NULL }, "--json is not an option of export" },
		{ { "export", "--openmetrics", "-b", "64", NULL }, "-b is not an option of export" },
		{ { "export", "--openmetrics", "-i", "1", NULL }, "-i is not an option of export" },
		{ { "export", "--openmetrics", "now", NULL }, "unexpected argument 'now'" },
		{ { "show", "--openmetrics", NULL }, "--openmetrics is not an option of show" },
		{ { "show", "--prometheus", NULL }, "--prometheus is not an option of show" },
		{ { "show", "-o", "x", NULL }, "-o is not an option of show" },
		{ { "watch", "--every", "2", NULL }, "--every is not an option of watch" },
	};
	unsigned int i;
	struct run r;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[10] = { "kvmio-lat" };
		int j;

		for (j = 0; cases[i].args[j]; j++)
			argv[j + 1] = (char *)cases[i].args[j];
		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 2, cases[i].err);
		EXPECT_NE(NULL, strstr(r.err, "(try 'kvmio-lat --help')"));
		run_free(&r);
	}
}

/* Wait up to 5 s for @path to hold @what; its content then, else NULL. */
static char *om_wait_for(const char *path, const char *what)
{
	char *got;
	int i;

	for (i = 0; i < 500; i++) {
		got = read_all(path);
		if (got && strstr(got, what))
			return got;
		free(got);
		usleep(10000);
	}
	return NULL;
}

/* export --every in a child, its stderr into tmpdir/err. */
static pid_t om_start_every(const char *in, const char *out)
{
	pid_t child = fork();

	if (!child) {
		char *argv[] = { "kvmio-lat", "export", "--openmetrics", "--every", "1",
				 "-o", (char *)out, "--input", (char *)in, NULL };
		FILE *err = fopen(write_tmp("err", "", 0), "w");
		int rc;

		setvbuf(err, NULL, _IONBF, 0);
		rc = kvl_cli(ARRAY_SIZE(argv) - 1, argv, stdout, err);
		fclose(err);
		_exit(rc);
	}
	return child;
}

/*
 * --every rewrites the file until SIGTERM or SIGINT (exit 0, no temporary
 * file left); a round that fails says so and leaves the last file; a
 * first round that fails ends it at once.
 */
TEST(export_every)
{
	char out[300], errf[300], *a, *b, *e;
	const char *in;
	int status;
	pid_t child;
	struct run r;

	make_tmpdir();
	snprintf(out, sizeof(out), "%s/kvmio.prom", tmpdir);
	snprintf(errf, sizeof(errf), "%s/err", tmpdir);
	in = write_tmp("in.hist", read_all(fixture("two_vcpus.hist")), -1);
	child = om_start_every(in, out);
	ASSERT_LE(0, child);
	a = om_wait_for(out, "# EOF\n");
	ASSERT_NE(NULL, a);
	EXPECT_NE(NULL, strstr(a, "pid=\"4242\""));
	/* a round that fails: said, the file left as it was */
	write_tmp("in.hist", "garbage\n", -1);
	e = om_wait_for(errf, "\n");
	ASSERT_NE(NULL, e);
	EXPECT_NE(NULL, strstr(e, "in.hist:1: not a kvmio_lat snapshot")) TH_LOG("%s", e);
	b = read_all(out);
	EXPECT_STREQ(a, b);
	free(b);
	/* and the loop goes on */
	write_tmp("in.hist", read_all(fixture("two_vms.hist")), -1);
	b = om_wait_for(out, "pid=\"2000\"");
	EXPECT_NE(NULL, b);
	free(b);
	EXPECT_EQ(0, kill(child, SIGTERM));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, om_dot_files(tmpdir));
	free(a);
	free(e);

	child = om_start_every(in, out);
	ASSERT_LE(0, child);
	write_tmp("kvmio.prom", "", 0);
	a = om_wait_for(out, "# EOF\n");
	free(a);
	EXPECT_EQ(0, kill(child, SIGINT));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, om_dot_files(tmpdir));

	/* the first round must work */
	write_tmp("in.hist", "garbage\n", -1);
	RUN(&r, "export", "--openmetrics", "--every", "1", "-o", out, "--input", (char *)in);
	EXPECT_ONE_ERROR(&r, 1, "in.hist:1: not a kvmio_lat snapshot");
	run_free(&r);
	remove_tmpdir();
}

/* ------------------------------------------------------------------ */
/* report: one HTML page (selftests/report/ renders it in a browser) */

/* Each element opened as often as closed: the page's structure holds. */
static bool report_balanced(const char *html)
{
	static const char *const tags[] = {
		"svg", "table", "tr", "section", "details", "figure", "g",
		"text", "rect", "title", "header", "main", "nav", "code",
	};
	char open[32], open_sp[32], close[32];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(tags); i++) {
		snprintf(open, sizeof(open), "<%s>", tags[i]);
		snprintf(open_sp, sizeof(open_sp), "<%s ", tags[i]);
		snprintf(close, sizeof(close), "</%s>", tags[i]);
		if (count_substr(html, open) + count_substr(html, open_sp) !=
		    count_substr(html, close)) {
			fprintf(stderr, "<%s>: %d opened, %d closed\n", tags[i],
				count_substr(html, open) + count_substr(html, open_sp),
				count_substr(html, close));
			return false;
		}
	}
	return true;
}

/* Nothing in the page that a browser would fetch. */
static bool report_self_contained(const char *html)
{
	static const char *const bad[] = {
		"<img", "<link", "<iframe", "<object", "<embed", " src=",
		"url(", "@import", "https://", "<use",
	};
	const char *ns = "xmlns=\"http://www.w3.org/2000/svg\"";
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (strstr(html, bad[i]))
			return false;
	return count_substr(html, "http://") == count_substr(html, ns);
}

/* The cell of @field of a histogram, as show --json and show print it. */
static bool report_has_cell(const char *html, const char *ident,
			    const char *field, const struct kvl_rhist *h)
{
	struct kvl_summary m;
	char want[512], v[32], text[32];
	double ns;

	kvl_rhist_summary(h, &m);
	if (!strcmp(field, "count")) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)m.count);
		snprintf(text, sizeof(text), "%llu", (unsigned long long)m.count);
	} else {
		if (!strcmp(field, "mean_ns")) {
			ns = m.mean;
			snprintf(v, sizeof(v), "%.1f", m.mean);
		} else {
			ns = !strcmp(field, "p50_ns") ? m.p50 :
			     !strcmp(field, "p99_ns") ? m.p99 : m.p999;
			snprintf(v, sizeof(v), "%llu", (unsigned long long)ns);
		}
		kvl_fmt_ns(text, sizeof(text), ns);
	}
	snprintf(want, sizeof(want), "<td class=\"kvl-num\" %s data-field=\"%s\" data-value=\"%s\">%s</td>",
		 ident, field, v, text);
	if (!strstr(html, want))
		fprintf(stderr, "not in the page: %s\n", want);
	return strstr(html, want);
}

/* Every histogram of @file's snapshot: its numbers and its chart. */
static void report_check_values(struct __test_metadata *_metadata,
				const char *file, const char *html)
{
	static const char *const fields[] = {
		"count", "mean_ns", "p50_ns", "p99_ns", "p999_ns",
	};
	char ident[256], svg[400];
	unsigned int p, st, k;
	int hists = 0;
	struct kvl_snap s;
	u32 i, j;

	ASSERT_EQ(0, kvl_load(&s, file, NULL, stderr));
	for (i = 0; i < s.nr_vms; i++) {
		const struct kvl_svm *vm = &s.vms[i];

		for (j = 0; j < vm->nr_vcpus; j++)
			for (p = 0; p < KVL_NR_PATHS; p++)
				for (st = 0; st < KVL_NR_STAGES; st++) {
					const struct kvl_shist *h = kvl_svcpu_stage(&vm->vcpus[j], p, st);

					if (!h || !h->h.count)
						continue;
					snprintf(ident, sizeof(ident), "data-kind=\"stage\" data-pid=\"%d\" data-vcpu=\"%u\" data-path=\"%s\" data-stage=\"%s\"",
						 vm->pid, vm->vcpus[j].id, kvl_path_name(p),
						 kvl_stage_name(p, st));
					for (k = 0; k < ARRAY_SIZE(fields); k++)
						EXPECT_TRUE(report_has_cell(html, ident, fields[k], &h->h));
					snprintf(svg, sizeof(svg), "<svg class=\"kvl-hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"110\" viewBox=\"0 0 300 110\" role=\"img\" %s", ident);
					EXPECT_EQ(1, count_substr(html, svg)) TH_LOG("%s", svg);
					hists++;
				}
		for (j = 0; j < vm->nr_disks; j++)
			for (p = 0; p < KVL_NR_PATHS; p++)
				for (st = 0; st < KVL_NR_DISK_STAGES; st++) {
					const struct kvl_rhist *h = &vm->disks[j].h[p][st];

					if (!h->count)
						continue;
					snprintf(ident, sizeof(ident), "data-kind=\"disk\" data-pid=\"%d\" data-fd=\"%d\" data-path=\"%s\" data-stage=\"%s\"",
						 vm->pid, vm->disks[j].fd, kvl_path_name(p),
						 kvl_disk_stage_name(st));
					for (k = 0; k < ARRAY_SIZE(fields); k++)
						EXPECT_TRUE(report_has_cell(html, ident, fields[k], h));
					hists++;
				}
	}
	/* one chart per histogram, no more */
	EXPECT_EQ(hists, count_substr(html, "<svg class=\"kvl-hist\""));
	kvl_snap_free(&s);
}

TEST(report_of_a_saved_snapshot)
{
	static const char *const files[] = {
		"lab_native.hist", "two_vcpus.hist", "disks.hist",
		"uring_small.hist", "two_vms.hist", "disks_v3.hist",
	};
	struct run r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		RUN(&r, "report", "--input", (char *)fixture(files[i]));
		EXPECT_EQ(0, r.rc) TH_LOG("%s: %s", files[i], r.err);
		EXPECT_EQ(0, r.err_len);
		EXPECT_EQ(0, strncmp(r.out, "<!DOCTYPE html>\n<html lang=\"en\">\n", 33));
		EXPECT_EQ(0, strcmp(r.out + r.out_len - 8, "</html>\n"));
		EXPECT_TRUE(report_balanced(r.out)) TH_LOG("%s", files[i]);
		EXPECT_TRUE(report_self_contained(r.out)) TH_LOG("%s", files[i]);
		/* one script, which the page does not need */
		EXPECT_EQ(1, count_substr(r.out, "<script>"));
		EXPECT_NE(NULL, strstr(r.out, "<div id=\"kvl-toolbar\" hidden></div>"));
		/* the charts: bars of where the time goes, exits by reason */
		EXPECT_LT(0, count_substr(r.out, "<svg class=\"kvl-stack\""));
		EXPECT_LT(0, count_substr(r.out, "<svg class=\"kvl-exits\""));
		EXPECT_LT(0, count_substr(r.out, "<rect class=\"kvl-seg\""));
		report_check_values(_metadata, fixture(files[i]), r.out);
		run_free(&r);
	}

	/* the stats, as a table; the command in the header */
	RUN(&r, "report", "--input", (char *)fixture("lab_native.hist"), "--stats",
	    (char *)fixture("lab_native.stats"), "--exits");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "<tr><td>requests</td><td class=\"kvl-num\" data-kind=\"stat\" data-stat=\"requests\" data-field=\"value\" data-value=\"2503\">2503</td></tr>\n"));
	EXPECT_NE(NULL, strstr(r.out, "<tr><th>command</th><td><code>kvmio-lat report --input "));
	EXPECT_NE(NULL, strstr(r.out, "lab_native.stats --exits</code></td></tr>\n"));
	EXPECT_NE(NULL, strstr(r.out, "<tr><th>format</th><td>hist format 1</td></tr>\n"));
	/* the total of the bar: its mean and p99 (as show --json and show) */
	EXPECT_NE(NULL, strstr(r.out, "data-stage=\"total\" data-field=\"mean_ns\" data-value=\"4093924.5\">4.09ms</tspan>, p99 <tspan"));
	EXPECT_NE(NULL, strstr(r.out, "data-stage=\"total\" data-field=\"p99_ns\" data-value=\"13806250\">13.8ms</tspan></text>"));
	run_free(&r);
	RUN(&r, "report", "--input", (char *)fixture("lab_native.hist"));
	EXPECT_NE(NULL, strstr(r.out, "No stats with this snapshot"));
	run_free(&r);
}

TEST(report_paths_side_by_side)
{
	static const char *const names[] = {
		/* each path's stages, as show names them */
		">wake_to_dispatch</td>", ">io_to_reap</td>",
		">submit_to_complete</td>", ">complete_to_reap</td>",
	};
	const char *native, *threads, *uring, *scale;
	char attr[64];
	struct run r;
	unsigned int i;

	RUN(&r, "report", "--input", (char *)fixture("uring_small.hist"));
	ASSERT_EQ(0, r.rc);
	/* the vCPUs' bars, then the disks', each path in the order of show */
	native = strstr(r.out, "<figure class=\"kvl-breakdown\" data-pid=\"88\" data-path=\"native\" data-rows=\"vcpu\">");
	threads = strstr(r.out, "<figure class=\"kvl-breakdown\" data-pid=\"88\" data-path=\"threads\" data-rows=\"vcpu\">");
	uring = strstr(r.out, "<figure class=\"kvl-breakdown\" data-pid=\"88\" data-path=\"io_uring\" data-rows=\"vcpu\">");
	ASSERT_TRUE(native && threads && uring);
	EXPECT_TRUE(native < threads && threads < uring);
	EXPECT_NE(NULL, strstr(uring, "<figure class=\"kvl-breakdown\" data-pid=\"88\" data-path=\"native\" data-rows=\"disk\">"));
	EXPECT_EQ(2, count_substr(r.out, "<div class=\"kvl-paths\""));
	EXPECT_EQ(6, count_substr(r.out, "<figure class=\"kvl-breakdown\""));
	/* every bar of a VM on one scale */
	scale = strstr(native, " data-scale=\"");
	ASSERT_NE(NULL, scale);
	snprintf(attr, sizeof(attr), "%.*s",
		 (int)(strchr(scale + 13, '"') - scale + 1), scale);
	EXPECT_EQ(6, count_substr(r.out, attr)) TH_LOG("%s", attr);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		EXPECT_NE(NULL, strstr(r.out, names[i])) TH_LOG("stage name %u", i);
	/* two vCPUs: a bar each, in each path's chart */
	EXPECT_EQ(6, count_substr(r.out, ">vCPU 0</text>") + count_substr(r.out, ">vCPU 1</text>"));
	run_free(&r);

	/* --path: that path only, its disks too */
	RUN(&r, "report", "--input", (char *)fixture("uring_small.hist"), "--path", "threads");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(2, count_substr(r.out, "<figure class=\"kvl-breakdown\""));
	EXPECT_EQ(0, count_substr(r.out, "data-path=\"native\""));
	EXPECT_EQ(0, count_substr(r.out, "data-path=\"io_uring\""));
	run_free(&r);
}

TEST(report_escapes_names)
{
	static char cmd_arg[] = "it's <b>";
	char *argv[] = { "kvmio-lat", "report", cmd_arg, NULL };
	struct kvl_report_opts o = { .argc = 3, .argv = argv };
	struct kvl_svcpu *v;
	struct kvl_shist *h;
	struct kvl_sdisk *d;
	struct kvl_svm *vm;
	struct kvl_snap s;
	char *buf = NULL;
	size_t len;
	FILE *f;

	kvl_snap_init(&s);
	vm = kvl_snap_add_vm(&s, 77, "<b>&\"'\x01\xff</b>");
	ASSERT_NE(NULL, vm);
	v = kvl_svm_add_vcpu(vm, 0, "vmx", 1);
	ASSERT_NE(NULL, v);
	h = kvl_svcpu_add_hist(v, KVL_KIND_EXIT, 0, 0, "<i>x</i>");
	ASSERT_NE(NULL, h);
	h->h.count = 1;
	h->h.min = h->h.max = h->h.sum = 5;
	h->h.sumsq = 25;
	ASSERT_EQ(0, kvl_rhist_add_bucket(&h->h, kvl_hist_index(5), 1));
	d = kvl_svm_add_disk(vm, 9);
	ASSERT_NE(NULL, d);
	ASSERT_EQ(0, kvl_sdisk_set_name(d, "/img/</td><script>alert(1)</script>.raw"));
	d->h[KVL_PATH_THREADS][KVL_DS_TOTAL] = h->h;	/* shared buckets: not freed twice */
	kvl_filter_init(&o.f);
	o.f.exits = true;
	f = open_memstream(&buf, &len);
	EXPECT_EQ(0, kvl_report_html(f, &s, &o));
	fclose(f);
	memset(&d->h[KVL_PATH_THREADS][KVL_DS_TOTAL], 0, sizeof(struct kvl_rhist));
	/* markup of the snapshot is text: no element of its own */
	EXPECT_EQ(NULL, strstr(buf, "<b>"));
	EXPECT_EQ(NULL, strstr(buf, "<i>"));
	EXPECT_EQ(NULL, strstr(buf, "<script>alert"));
	EXPECT_EQ(1, count_substr(buf, "<script>"));
	EXPECT_EQ(1, count_substr(buf, "</script>"));
	/* control characters as show's table has them, non-UTF-8 as JSON's */
	EXPECT_NE(NULL, strstr(buf, "<span class=\"kvl-comm\">&lt;b&gt;&amp;&quot;&#39;?\xef\xbf\xbd&lt;/b&gt;</span>"));
	EXPECT_NE(NULL, strstr(buf, "data-reason=\"&lt;i&gt;x&lt;/i&gt;\""));
	EXPECT_NE(NULL, strstr(buf, ">&lt;i&gt;x&lt;/i&gt;</text>"));
	EXPECT_NE(NULL, strstr(buf, "fd 9 (/img/&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;.raw)"));
	/* the command line: quoted for a shell, then escaped */
	EXPECT_NE(NULL, strstr(buf, "<code>kvmio-lat report &#39;it&#39;\\&#39;&#39;s &lt;b&gt;&#39;</code>"));
	EXPECT_TRUE(report_balanced(buf));
	free(buf);
	kvl_snap_free(&s);
}

TEST(report_output_file)
{
	char path[400], *got;
	struct run r, std;
	struct stat st;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/report.html", tmpdir);
	write_tmp("report.html", "old\n", -1);
	umask(077);	/* 0644 all the same: it is to be read and sent */
	RUN(&r, "report", "--input", (char *)fixture("disks.hist"), "-o", path);
	umask(022);
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.out_len);
	EXPECT_EQ(0, r.err_len);
	run_free(&r);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_EQ(0, om_dot_files(tmpdir));
	/* the same page as on stdout ("-o -" too), but for the command line */
	got = read_all(path);
	RUN(&std, "report", "--input", (char *)fixture("disks.hist"), "-o", "-");
	EXPECT_EQ(0, std.rc);
	EXPECT_EQ(strlen(got) - strlen(path) + 1, std.out_len);
	EXPECT_NE(NULL, strstr(std.out, "-o -</code>"));
	EXPECT_EQ(0, strcmp(strstr(got, "<section"), strstr(std.out, "<section")));
	free(got);
	run_free(&std);

	/* bad input: one error, the file as it was, no temporary file */
	expect_bad_inputs_keep_file(_metadata, "report", NULL, path);
	RUN(&r, "report", "--input", (char *)fixture("disks.hist"), "--pid", "1", "-o", path);
	EXPECT_ONE_ERROR(&r, 1, "no VM with pid 1 (VMs in it: 5000 6000)");
	run_free(&r);
	RUN(&r, "report", "--replay", (char *)fixture("disks.hist"), "-o", path);
	EXPECT_EQ(1, r.rc);
	EXPECT_EQ(0, strncmp(r.err, "kvmio-lat: ", 11));
	run_free(&r);
	RUN(&r, "report", "--input", "/nonexistent/x.hist", "-o", path);
	EXPECT_ONE_ERROR(&r, 1, "/nonexistent/x.hist: no such file");
	run_free(&r);
	got = read_all(path);
	EXPECT_STREQ("old\n", got);
	free(got);
	EXPECT_EQ(0, om_dot_files(tmpdir));

	/* nowhere to write: nothing left either */
	snprintf(path, sizeof(path), "%s/nodir/report.html", tmpdir);
	RUN(&r, "report", "--input", (char *)fixture("disks.hist"), "-o", path);
	EXPECT_ONE_ERROR(&r, 1, "report.html: cannot write it: no directory");
	run_free(&r);
	EXPECT_EQ(0, om_dot_files(tmpdir));
	remove_tmpdir();
}

TEST(report_usage_errors)
{
	static const struct {
		const char *args[6];
		const char *what;
	} cases[] = {
		{ { "--input", "a", "--replay", "b" }, "--input and --replay exclude each other" },
		{ { "--tgids", "t", "--input", "a" }, "--tgids goes with --replay" },
		{ { "--stats", "s" }, "--stats goes with --input" },
		{ { "--hist" }, "--hist is not an option of report" },
		{ { "--json" }, "--json is not an option of report" },
		{ { "--disk" }, "--disk is not an option of report" },
		{ { "-o", "" }, "-o wants a file name" },
		{ { "--path", "aio" }, "--path is native, threads or io_uring, not 'aio'" },
		{ { "extra" }, "unexpected argument 'extra'" },
		{ { "--replay" }, "option '--replay' needs a value" },
	};
	char *argv[10];
	struct run r;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		argv[0] = "kvmio-lat";
		argv[1] = "report";
		for (j = 0; cases[i].args[j]; j++)
			argv[j + 2] = (char *)cases[i].args[j];
		argv[j + 2] = NULL;
		run_argv(&r, argv);
		EXPECT_ONE_ERROR(&r, 2, cases[i].what);
		run_free(&r);
	}
}

TEST(report_of_a_recording)
{
	struct run r, show;

	RUN(&r, "report", "--replay", (char *)fixture("replay_uring.dat"));
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "replay_uring.dat</code> replayed through the module's engine"));
	EXPECT_TRUE(report_balanced(r.out));
	/* the numbers of replay --json: the same engine, the same snapshot */
	RUN(&show, "replay", (char *)fixture("replay_uring.dat"), "--json");
	EXPECT_EQ(0, show.rc);
	EXPECT_NE(NULL, strstr(show.out, "\"total\": {\"count\": "));
	EXPECT_LT(0, count_substr(r.out, "data-stage=\"total\" data-field=\"count\""));
	run_free(&show);
	run_free(&r);
	RUN(&r, "report", "--replay", (char *)fixture("replay_missing.dat"));
	EXPECT_EQ(1, r.rc);
	EXPECT_EQ(0, r.out_len);
	run_free(&r);
}

TEST(report_of_the_live_module)
{
	char dir[300], host[128] = "", want[256];
	struct run r;

	make_tmpdir();
	setenv(KVL_DEBUGFS_ENV, tmpdir, 1);
	snprintf(dir, sizeof(dir), "%s/kvmio_lat", tmpdir);
	ASSERT_EQ(0, mkdir(dir, 0755));
	write_tmp("kvmio_lat/hist", read_all(fixture("two_vcpus.hist")), -1);
	write_tmp("kvmio_lat/stats", "vms: 1\ndropped: 3\n", -1);
	RUN(&r, "report");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "the live module: <code>%s/kvmio_lat/hist</code>", tmpdir);
	EXPECT_NE(NULL, strstr(r.out, want));
	/* the host it was read on: it is this one */
	gethostname(host, sizeof(host) - 1);
	snprintf(want, sizeof(want), "<tr><th>host</th><td>%s</td></tr>", host);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	EXPECT_NE(NULL, strstr(r.out, "<tr><th>kernel</th><td>Linux "));
	EXPECT_NE(NULL, strstr(r.out, "data-stat=\"dropped\" data-field=\"value\" data-value=\"3\""));
	run_free(&r);
	unsetenv(KVL_DEBUGFS_ENV);
	remove_tmpdir();
}

TEST(report_of_no_vm)
{
	struct run r;

	RUN(&r, "report", "--input", (char *)fixture("empty.hist"));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "No VM traced"));
	EXPECT_EQ(0, count_substr(r.out, "<svg"));
	EXPECT_TRUE(report_balanced(r.out));
	run_free(&r);
}

TEST_HARNESS_MAIN
