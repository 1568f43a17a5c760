// SPDX-License-Identifier: GPL-2.0
/*
 * replay_test.c - kvmio-lat replay and record on the host.
 *
 * The fixtures (fixtures/replay_*, made in the lab by
 * fixtures/make-fixtures.sh) are trace-cmd recordings of kvmio-vmm doing a
 * known number of O_DIRECT reads, recorded with kvmio-lat record while
 * kvmio_lat.ko measured the same run; NAME.hist is what the module
 * printed, NAME.vmm what the VMM reported, replay_native.csv the replay's
 * own output (exact values; remake the fixtures with make-fixtures.sh and
 * this file with "kvmio-lat replay replay_native.dat --csv --exits" when
 * the engine's attribution changes).  Replay must find every request
 * the VMM made, agree with the module, print what show prints, and turn
 * every truncated or damaged copy into one clear error line.  The io_uring
 * recordings (replay_uring*, the _SUITE ones made without the module on
 * another kernel) are also held request by request against their own raw
 * events, read here with libtracecmd.  record runs
 * against a fake trace-cmd and tracefs (KVMIO_LAT_TRACE_CMD,
 * KVMIO_LAT_TRACEFS).
 *
 * The reader's sources are included whole, as in reader_test.c.
 */
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "reader_fixture.h"

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
	static char buf[8][512];
	static int n;
	const char *slash = strrchr(__FILE__, '/');
	int len = slash ? (int)(slash - __FILE__) : 1;
	char *b = buf[n++ % 8];

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

#define EXPECT_ONE_ERROR(r, want_rc, what) do {				\
	EXPECT_EQ(want_rc, (r)->rc);					\
	EXPECT_EQ(1, count_char((r)->err, '\n')) TH_LOG("stderr: %s", (r)->err); \
	EXPECT_EQ(0, strncmp((r)->err, "kvmio-lat: ", 11));		\
	EXPECT_NE(NULL, strstr((r)->err, what)) TH_LOG("stderr: %s", (r)->err); \
	EXPECT_EQ(0, (r)->out_len) TH_LOG("stdout: %s", (r)->out);	\
} while (0)

static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	char *z;

	if (kvl_read_file(path, 64u << 20, &buf, &n))
		return NULL;
	z = realloc(buf, n + 1);	/* a string too */
	if (!z) {
		free(buf);
		return NULL;
	}
	z[n] = '\0';
	if (len)
		*len = n;
	return z;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/kvl-replay-XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
}

static void remove_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
	static char paths[4][256];
	static int n;
	char *p = paths[n++ % 4];
	int fd;

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
	return p;
}

/* "KEY N" from the VMM's report, e.g. "pid 166"; -1 if absent. */
static long vmm_value(const char *name, const char *key)
{
	char *txt = read_all(fixture(name), NULL), pat[64];
	const char *p;
	long v = -1;

	if (!txt)
		return -1;
	snprintf(pat, sizeof(pat), "%s ", key);
	for (p = txt; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, pat, strlen(pat))) {
			v = strtol(p + strlen(pat), NULL, 10);
			break;
		}
	}
	free(txt);
	return v;
}

static int load_hist(struct kvl_snap *s, const char *name)
{
	struct kvl_perr pe;
	size_t len;
	char *txt = read_all(fixture(name), &len);
	int ret;

	kvl_snap_init(s);
	if (!txt)
		return -1;
	ret = kvl_parse_hist(s, txt, len, &pe);
	free(txt);
	return ret;
}

static int replay(struct kvl_snap *s, const char *name, const char *tgids,
		  struct kvl_replay_stats *st)
{
	struct kvl_replay_opts o = { .tgids = tgids ? fixture(tgids) : NULL };
	FILE *err = fopen("/dev/null", "w");
	int ret = kvl_replay(fixture(name), &o, s, st, err);

	fclose(err);
	return ret;
}

/* The stamp "KEY=N" of a --requests line (" irq=", not " irq_vcpu="). */
static bool request_stamp(const char *line, const char *key, long long *v)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p && sscanf(p + strlen(pat), "%lld", v) == 1;
}

/* @got holds exactly the values of @want. */
static bool rhist_is(const struct kvl_rhist *got, const struct kvl_hist *want)
{
	struct kvl_rhist rw;
	bool same;

	if (kvl_rhist_from_hist(&rw, want))
		return false;
	same = rw.count == got->count && rw.sum == got->sum &&
	       rw.min == got->min && rw.max == got->max &&
	       rw.negative == got->negative && rw.nr == got->nr &&
	       !memcmp(rw.b, got->b, rw.nr * sizeof(*rw.b));
	kvl_rhist_free(&rw);
	return same;
}

/*
 * A fixture against the module's snapshot of the same run: the VMM's pid
 * and comm, @vcpus vCPUs with @reqs requests each on @path, every stage of
 * the path present, counts equal, p50s close (below), nothing on the other
 * paths.
 */
static void check_fixture(struct __test_metadata *_metadata,
			  const char *base, int path, u32 vcpus, u64 reqs)
{
	char dat[64], hist[64], vmm[64];
	struct kvl_snap rs, ls;
	struct kvl_replay_stats st;
	const struct kvl_svm *rvm, *lvm;
	const struct kvl_stat *req;
	long pid;
	u32 v, stage, p;

	snprintf(dat, sizeof(dat), "%s.dat", base);
	snprintf(hist, sizeof(hist), "%s.hist", base);
	snprintf(vmm, sizeof(vmm), "%s.vmm", base);
	pid = vmm_value(vmm, "pid");
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, replay(&rs, dat, NULL, &st));
	ASSERT_EQ(0, load_hist(&ls, hist));
	EXPECT_LT(0, st.records);
	EXPECT_EQ(0, st.missed);
	EXPECT_EQ(0, st.short_records);

	ASSERT_EQ(1, rs.nr_vms);
	rvm = kvl_snap_vm(&rs, (s32)pid);
	lvm = kvl_snap_vm(&ls, (s32)pid);
	ASSERT_NE(NULL, rvm);
	ASSERT_NE(NULL, lvm);
	EXPECT_STREQ("kvmio-vmm", rvm->comm);
	EXPECT_STREQ(lvm->comm, rvm->comm);
	ASSERT_EQ(vcpus, rvm->nr_vcpus);
	req = kvl_snap_stat(&rs, "requests");
	ASSERT_NE(NULL, req);
	EXPECT_EQ(vcpus * reqs, req->value);

	for (v = 0; v < vcpus; v++) {
		const struct kvl_svcpu *rv = kvl_svm_vcpu(rvm, v);
		const struct kvl_svcpu *lv = kvl_svm_vcpu(lvm, v);

		ASSERT_NE(NULL, rv);
		ASSERT_NE(NULL, lv);
		EXPECT_LT(0, rv->exits);
		for (stage = 0; stage < KVL_NR_STAGES; stage++) {
			const struct kvl_shist *r = kvl_svcpu_stage(rv, path, stage);
			const struct kvl_shist *l = kvl_svcpu_stage(lv, path, stage);
			struct kvl_summary a, b;

			for (p = 0; p < KVL_NR_PATHS; p++) {
				const struct kvl_shist *o = kvl_svcpu_stage(rv, p, stage);

				if (p != (u32)path)
					EXPECT_TRUE(!o || !o->h.count)
						TH_LOG("vcpu %u %s %s", v,
						       kvl_path_name(p),
						       kvl_stage_name(p, stage));
			}
			if (!kvl_stage_name(path, stage))	/* not of this path */
				continue;
			ASSERT_NE(NULL, r) TH_LOG("vcpu %u %s", v,
						  kvl_stage_name(path, stage));
			ASSERT_NE(NULL, l);
			kvl_rhist_summary(&r->h, &a);
			kvl_rhist_summary(&l->h, &b);
			EXPECT_EQ(reqs, a.count) TH_LOG("vcpu %u %s", v,
							 kvl_stage_name(path, stage));
			EXPECT_EQ(b.count, a.count);
			/*
			 * These fixtures were recorded while the module's probe
			 * ran before the trace event's and delayed its
			 * timestamp: tens of µs under the lab's nested TCG, so
			 * p50s of 100 requests agree only loosely (the lab's
			 * QEMU test holds 10% on thousands).  The golden CSV
			 * pins exact values.
			 */
			EXPECT_GE(0.30 * b.p50 + 50000,
				  fabs((double)a.p50 - (double)b.p50))
				TH_LOG("vcpu %u %s: p50 replay %llu live %llu", v,
				       kvl_stage_name(path, stage),
				       (unsigned long long)a.p50,
				       (unsigned long long)b.p50);
		}
	}
	kvl_snap_free(&rs);
	kvl_snap_free(&ls);
}

/* ------------------------------------------------------------------ */
/* fixtures with known histograms */

TEST(native_ring_fixture)
{
	check_fixture(_metadata, "replay_native", KVL_PATH_NATIVE, 2, 100);
}

/* The requests of --requests, a line each; every file in tmpdir counted. */
static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int count_str(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

static int count_files(const char *dir)
{
	char cmd[128], buf[16] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (!p || !fgets(buf, sizeof(buf), p))
		abort();
	pclose(p);
	return atoi(buf);
}

/*
 * --requests: a line for every request the replay records; from a bad
 * recording, no file, no temporary left, and an earlier file untouched.
 */
TEST(requests_file)
{
	struct kvl_replay_opts o = { 0 };
	struct kvl_replay_stats st;
	const struct kvl_stat *req;
	struct kvl_snap s;
	FILE *err = fopen("/dev/null", "w");
	char path[300], *old, *now;

	ASSERT_NE(NULL, err);
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/requests.txt", tmpdir);
	o.requests = path;
	ASSERT_EQ(0, kvl_replay(fixture("replay_native.dat"), &o, &s, &st, err));
	req = kvl_snap_stat(&s, "requests");
	ASSERT_NE(NULL, req);
	EXPECT_EQ(200, req->value);
	EXPECT_EQ((int)req->value, count_lines(path));
	EXPECT_EQ(1, count_files(tmpdir));
	kvl_snap_free(&s);
	/* a recording's io_submit has no iocbs: no disk, no offset */
	old = read_all(path, NULL);
	ASSERT_NE(NULL, old);
	EXPECT_EQ(200, count_str(old, " fd=-1 off=-1 irq_vcpu="));
	free(old);
	/*
	 * a worker's pread names its disk and block: the fixture's 200
	 * requests read 200 different 4 KiB blocks between 0 and 815104
	 */
	ASSERT_EQ(0, kvl_replay(fixture("replay_threads.dat"), &o, &s, &st, err));
	old = read_all(path, NULL);
	ASSERT_NE(NULL, old);
	EXPECT_EQ(200, count_str(old, "path=threads mmio=0x"));
	EXPECT_EQ(200, count_str(old, " fd=7 off="));
	EXPECT_EQ(0, count_str(old, " off=-1 "));
	EXPECT_EQ(1, count_str(old, " off=0 "));
	EXPECT_EQ(1, count_str(old, " off=815104 "));
	free(old);
	kvl_snap_free(&s);
	ASSERT_EQ(0, kvl_replay(fixture("replay_native.dat"), &o, &s, &st, err));
	kvl_snap_free(&s);

	old = read_all(path, NULL);
	ASSERT_NE(NULL, old);
	EXPECT_GT(0, kvl_replay(fixture("replay_native.hist"), &o, &s, &st, err));
	EXPECT_EQ(1, count_files(tmpdir));
	now = read_all(path, NULL);
	ASSERT_NE(NULL, now);
	EXPECT_STREQ(old, now);
	free(now);
	unlink(path);
	EXPECT_GT(0, kvl_replay(write_tmp("empty.dat", "", 0), &o, &s, &st, err));
	EXPECT_EQ(1, count_files(tmpdir));	/* empty.dat only */
	EXPECT_EQ(-1, count_lines(path));

	snprintf(path, sizeof(path), "%s/no/such/dir", tmpdir);
	EXPECT_GT(0, kvl_replay(fixture("replay_native.dat"), &o, &s, &st, err));
	free(old);
	fclose(err);
	remove_tmpdir();
}

TEST(native_getevents_fixture)
{
	/* the older chain: completions reaped with io_getevents */
	check_fixture(_metadata, "replay_getevents", KVL_PATH_NATIVE, 1, 100);
}

TEST(threads_mmio_fixture)
{
	check_fixture(_metadata, "replay_threads", KVL_PATH_THREADS, 2, 100);
}

TEST(uring_fixture)
{
	check_fixture(_metadata, "replay_uring", KVL_PATH_URING, 2, 100);
}

/* ------------------------------------------------------------------ */
/* io_uring: each request against the raw events of its recording */

/* "vcpu I tid T requests N" of the VMM's report; -1 if absent. */
static long vmm_requests(const char *name, unsigned int vcpu)
{
	char *txt = read_all(fixture(name), NULL);
	unsigned int v;
	const char *p;
	long n = -1, k;
	int tid;

	for (p = txt; p && n < 0; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (sscanf(p, "vcpu %u tid %d requests %ld", &v, &tid, &k) == 3 &&
		    v == vcpu)
			n = k;
	}
	free(txt);
	return n;
}

/* An io_uring event of a recording, read here with libtracecmd itself. */
struct raw_ev {
	u64 ts;
	u64 ctx;
	u64 user_data;
	bool used;
};

struct raw_uring {
	const char *submit;		/* the submission event's name */
	struct raw_ev *sub, *done;	/* in time order */
	size_t nr_sub, nr_done;
};

static int raw_ev_cmp(const void *a, const void *b)
{
	const struct raw_ev *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int raw_add(struct raw_ev **v, size_t *n, const struct raw_ev *e)
{
	struct raw_ev *q = realloc(*v, (*n + 1) * sizeof(**v));

	if (!q)
		return -1;
	q[(*n)++] = *e;
	*v = q;
	return 0;
}

static void raw_free(struct raw_uring *raw)
{
	free(raw->sub);
	free(raw->done);
}

static int read_raw_uring(const char *dat, struct raw_uring *raw)
{
	struct tracecmd_input *h;
	struct tep_event *sub, *done;
	struct tep_handle *tep;
	int cpu, ret = -1;

	memset(raw, 0, sizeof(*raw));
	h = tracecmd_open(dat, TRACECMD_FL_LOAD_NO_PLUGINS |
			  TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!h)
		return -1;
	tep = tracecmd_get_tep(h);
	sub = tep_find_event_by_name(tep, "io_uring", "io_uring_submit_sqe");
	if (!sub)
		sub = tep_find_event_by_name(tep, "io_uring", "io_uring_submit_req");
	done = tep_find_event_by_name(tep, "io_uring", "io_uring_complete");
	if (!sub || !done)
		goto out;
	raw->submit = sub->name;
	for (cpu = 0; cpu < tep_get_cpus(tep); cpu++) {
		struct tep_record *rec;

		for (rec = tracecmd_read_cpu_first(h, cpu); rec;
		     rec = tracecmd_read_data(h, cpu)) {
			int type = tep_data_type(tep, rec);
			struct tep_event *ev = type == sub->id ? sub :
					       type == done->id ? done : NULL;
			unsigned long long ctx, ud;
			struct raw_ev e = { .ts = rec->ts };
			int bad = 0;

			if (ev && !tep_get_field_val(NULL, ev, "ctx", rec, &ctx, 0) &&
			    !tep_get_field_val(NULL, ev, "user_data", rec, &ud, 0)) {
				e.ctx = ctx;
				e.user_data = ud;
				bad = ev == sub ? raw_add(&raw->sub, &raw->nr_sub, &e) :
				      raw_add(&raw->done, &raw->nr_done, &e);
			}
			tracecmd_free_record(rec);
			if (bad)
				goto out;
		}
	}
	qsort(raw->sub, raw->nr_sub, sizeof(*raw->sub), raw_ev_cmp);
	qsort(raw->done, raw->nr_done, sizeof(*raw->done), raw_ev_cmp);
	ret = 0;
out:
	/* the names are the handle's: keep only whether there was one */
	raw->submit = raw->submit && !strcmp(raw->submit, "io_uring_submit_sqe") ?
		      "io_uring_submit_sqe" : raw->submit ? "io_uring_submit_req" : NULL;
	tracecmd_close(h);
	return ret;
}

/*
 * A recording of kvmio-vmm's io_uring mode (@vcpus vCPUs, @reqs requests
 * each) against its own raw events: each request the replay reports is
 * one submission event (its submit_end is that event's time, and no other
 * request has it) and completes at the first completion event of the same
 * ring and user_data after it (its complete stamp); every submission is a
 * request, every vCPU has the VMM's count, and submit_to_complete holds
 * exactly the completions' times minus the submissions', request by
 * request.  The events carry no fd or offset: every request is without a
 * disk.
 */
static void check_uring_raw(struct __test_metadata *_metadata,
			    const char *base, const char *submit_event,
			    u32 vcpus, u64 reqs)
{
	static const char *const keys[KVL_NR_STAMPS] = {
		[KVL_AT_DOORBELL] = "doorbell", [KVL_AT_WAKE] = "wake",
		[KVL_AT_SUBMIT] = "submit", [KVL_AT_SUBMIT_END] = "submit_end",
		[KVL_AT_COMPLETE] = "complete", [KVL_AT_REAP] = "reap",
		[KVL_AT_IRQ] = "irq", [KVL_AT_ENTRY] = "entry",
	};
	struct kvl_replay_opts o = { 0 };
	char dat[64], vmm[64], path[300], *text, *line;
	FILE *err = fopen("/dev/null", "w");
	long long t[KVL_NR_STAMPS], vcpu, fd, off;
	const struct kvl_stat *c;
	const struct kvl_shist *h;
	struct raw_uring raw;
	struct kvl_svcpu all;
	struct kvl_filter flt;
	struct kvl_hist want;
	struct kvl_snap s;
	u64 per_vcpu[8] = { 0 };
	size_t i, n = 0;
	int k;

	ASSERT_NE(NULL, err);
	ASSERT_GE(ARRAY_SIZE(per_vcpu), vcpus);
	snprintf(dat, sizeof(dat), "%s.dat", base);
	snprintf(vmm, sizeof(vmm), "%s.vmm", base);
	ASSERT_EQ(0, read_raw_uring(fixture(dat), &raw));
	EXPECT_STREQ(submit_event, raw.submit);
	EXPECT_EQ(vcpus * reqs, raw.nr_sub);
	EXPECT_EQ(vcpus * reqs, raw.nr_done);

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/requests.txt", tmpdir);
	o.requests = path;
	ASSERT_EQ(0, kvl_replay(fixture(dat), &o, &s, NULL, err));
	fclose(err);
	text = read_all(path, NULL);
	ASSERT_NE(NULL, text);
	kvl_hist_init(&want);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		struct raw_ev *sub = NULL, *done = NULL;

		n++;
		EXPECT_NE(NULL, strstr(line, " path=io_uring ")) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "vcpu", &vcpu)) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "fd", &fd)) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "off", &off)) TH_LOG("%s", line);
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(-1, off);
		for (k = 0; k < KVL_NR_STAMPS; k++) {
			ASSERT_TRUE(request_stamp(line, keys[k], &t[k]))
				TH_LOG("%s: %s", keys[k], line);
			if (k)
				EXPECT_LE(t[k - 1], t[k]) TH_LOG("%s: %s", keys[k], line);
		}
		for (i = 0; i < raw.nr_sub && !sub; i++)
			if (raw.sub[i].ts == (u64)t[KVL_AT_SUBMIT_END])
				sub = &raw.sub[i];
		ASSERT_NE(NULL, sub) TH_LOG("no %s at submit_end: %s",
					    submit_event, line);
		EXPECT_FALSE(sub->used) TH_LOG("%s", line);
		sub->used = true;
		for (i = 0; i < raw.nr_done && !done; i++)
			if (raw.done[i].ts >= sub->ts &&
			    raw.done[i].ctx == sub->ctx &&
			    raw.done[i].user_data == sub->user_data)
				done = &raw.done[i];
		ASSERT_NE(NULL, done) TH_LOG("%s", line);
		EXPECT_EQ(done->ts, (u64)t[KVL_AT_COMPLETE]) TH_LOG("%s", line);
		kvl_hist_record(&want, (s64)(done->ts - sub->ts));
		ASSERT_GT(vcpus, (u64)vcpu);
		per_vcpu[vcpu]++;
	}
	free(text);
	EXPECT_EQ(raw.nr_sub, n);
	for (i = 0; i < vcpus; i++) {
		EXPECT_EQ(reqs, per_vcpu[i]) TH_LOG("vcpu %zu", i);
		EXPECT_EQ((long)per_vcpu[i], vmm_requests(vmm, i));
	}

	/* the histogram is made of exactly those differences */
	kvl_filter_init(&flt);
	ASSERT_EQ(0, kvl_snap_merge_all(&s, &flt, &all));
	EXPECT_STREQ("submit_to_complete",
		     kvl_stage_name(KVL_PATH_URING, KVL_ST_SUBMIT_TO_REAP));
	h = kvl_svcpu_stage(&all, KVL_PATH_URING, KVL_ST_SUBMIT_TO_REAP);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(vcpus * reqs, h->h.count);
	EXPECT_TRUE(rhist_is(&h->h, &want));
	for (k = 0; k < KVL_NR_PATHS; k++) {
		h = kvl_svcpu_stage(&all, k, KVL_ST_TOTAL);
		EXPECT_EQ(k == KVL_PATH_URING ? vcpus * reqs : 0,
			  h ? h->h.count : 0) TH_LOG("%s", kvl_path_name(k));
	}
	c = kvl_snap_stat(&s, "requests");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(vcpus * reqs, c->value);
	c = kvl_snap_stat(&s, "submits_unmatched");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, c->value);
	c = kvl_snap_stat(&s, "requests_without_disk");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(vcpus * reqs, c->value);
	kvl_svcpu_free(&all);
	kvl_snap_free(&s);
	raw_free(&raw);
	remove_tmpdir();
}

/* 6.1: io_uring_submit_sqe(req, force_nonblock), complete with its req */
TEST(uring_requests_are_the_raw_events)
{
	check_uring_raw(_metadata, "replay_uring", "io_uring_submit_sqe", 2, 100);
}

/* 5.10: io_uring_submit_sqe's older fields (opcode first), no req */
TEST(uring_requests_are_the_raw_events_on_5_10)
{
	check_uring_raw(_metadata, "replay_uring_bullseye",
			"io_uring_submit_sqe", 2, 100);
}

/* 6.4 on: io_uring_submit_req */
TEST(uring_requests_are_the_raw_events_on_7_x)
{
	check_uring_raw(_metadata, "replay_uring_sid", "io_uring_submit_req",
			2, 100);
}

struct rec_ref {
	struct tep_record *rec;
	int cpu;
};

static int rec_ref_cmp(const void *a, const void *b)
{
	const struct rec_ref *x = a, *y = b;

	if (x->rec->ts != y->rec->ts)
		return x->rec->ts < y->rec->ts ? -1 : 1;
	return x->cpu - y->cpu;
}

/*
 * The --requests lines of a replay of @dat, as kvl_replay_child() makes
 * them, but with every io_uring_complete record made to come from an
 * interrupt on an idle CPU (pid 0, hardirq) when @irq: as older kernels
 * can post a completion.  *@edited counts those records.  NULL on error.
 */
static char *replay_irq_completions(const char *dat, bool irq, int *edited)
{
	struct kvl_replay *r = calloc(1, sizeof(*r));
	struct tep_format_field *flags_f = NULL, *pid_f = NULL;
	struct rec_ref *refs = NULL;
	struct kvl_config cfg;
	size_t n = 0, i;
	char *out = NULL;
	size_t len;
	FILE *f = NULL;
	int cpu;

	*edited = 0;
	if (!r)
		return NULL;
	f = open_memstream(&out, &len);
	if (!f)
		goto out;
	r->path = dat;
	r->err = stderr;
	kvl_config_defaults(&cfg);
	kvl_config_check(&cfg);
	r->vms = calloc(cfg.max_vms, sizeof(*r->vms));
	if (!r->vms)
		goto out;
	kvl_engine_init(&r->eng, &cfg, &kvl_rp_ops, r->vms);
	r->eng.on_request = kvl_replay_request;
	r->eng.on_request_ctx = f;
	r->handle = tracecmd_open(dat, TRACECMD_FL_LOAD_NO_PLUGINS |
				  TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!r->handle)
		goto out;
	r->tep = tracecmd_get_tep(r->handle);
	r->nr_cpus = (u32)tep_get_cpus(r->tep);
	if (kvl_setup_events(r) || kvl_scan_markers(r) || !r->have_map)
		goto out;
	for (cpu = 0; cpu < (int)r->nr_cpus; cpu++) {
		struct tep_record *rec;

		for (rec = tracecmd_read_cpu_first(r->handle, cpu); rec;
		     rec = tracecmd_read_data(r->handle, cpu)) {
			struct rec_ref *q = realloc(refs, (n + 1) * sizeof(*refs));

			if (!q) {
				tracecmd_free_record(rec);
				goto out;
			}
			refs = q;
			refs[n].rec = rec;
			refs[n++].cpu = cpu;
		}
	}
	qsort(refs, n, sizeof(*refs), rec_ref_cmp);
	for (i = 0; i < n; i++) {
		struct tep_record *rec = refs[i].rec, copy;
		struct tep_event *ev;
		u8 *d;

		if (!irq || rec->size < 8 ||
		    r->kind[tep_data_type(r->tep, rec) & 0xffff] != K_URING_COMPLETE) {
			kvl_replay_record(r, rec);
			continue;
		}
		if (!flags_f) {
			ev = tep_find_event(r->tep, tep_data_type(r->tep, rec));
			flags_f = tep_find_common_field(ev, "common_flags");
			pid_f = tep_find_common_field(ev, "common_pid");
			if (!flags_f || !pid_f)
				goto out;
		}
		d = malloc(rec->size);
		if (!d)
			goto out;
		memcpy(d, rec->data, rec->size);
		d[flags_f->offset] |= KVL_FLAG_HARDIRQ;
		memset(d + pid_f->offset, 0, pid_f->size);
		copy = *rec;
		copy.data = d;
		kvl_replay_record(r, &copy);
		free(d);
		(*edited)++;
	}
	fclose(f);
	f = NULL;
out:
	if (f) {
		fclose(f);
		free(out);
		out = NULL;
	}
	for (i = 0; i < n; i++)
		tracecmd_free_record(refs[i].rec);
	free(refs);
	kvl_replay_free(r);
	return out;
}

/* @lines without their " reap=N" stamps, in place. */
static void drop_reap(char *lines)
{
	char *p, *q;

	while ((p = strstr(lines, " reap="))) {
		q = p + 6;
		while (*q >= '0' && *q <= '9')
			q++;
		memmove(p, q, strlen(q) + 1);
	}
}

/*
 * A completion posted from an interrupt (older kernels) names no task of
 * the VM's: the engine finds the VM by its ring, and the replay has the
 * same requests with the same stamps as when the submitting thread posted
 * it, but for the reap (which then waits for the thread's next return
 * from a wait or io_uring_enter).
 */
TEST(uring_completions_from_interrupts)
{
	char *plain, *irq;
	int n;

	plain = replay_irq_completions(fixture("replay_uring.dat"), false, &n);
	ASSERT_NE(NULL, plain);
	EXPECT_EQ(0, n);
	irq = replay_irq_completions(fixture("replay_uring.dat"), true, &n);
	ASSERT_NE(NULL, irq);
	EXPECT_EQ(200, n);
	EXPECT_EQ(200, count_char(plain, '\n'));
	EXPECT_EQ(200, count_str(plain, " path=io_uring "));
	drop_reap(plain);
	drop_reap(irq);
	EXPECT_STREQ(plain, irq);
	free(plain);
	free(irq);
}

/*
 * Replay follows io_uring's requests to their traced completions where the
 * recording has io_uring_complete (kvl_engine_set_uring_traced()), and a
 * recording without io_uring's events replays as it did.
 */
TEST(uring_events_of_a_recording)
{
	static const struct {
		const char *dat;
		bool submit, traced;
	} cases[] = {
		{ "replay_uring.dat", true, true },
		{ "replay_uring_bullseye.dat", true, true },
		{ "replay_uring_sid.dat", true, true },
		{ "replay_native.dat", false, false },
		{ "replay_threads.dat", false, false },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct kvl_replay *r = calloc(1, sizeof(*r));
		struct kvl_config cfg;

		ASSERT_NE(NULL, r);
		r->path = cases[i].dat;
		r->err = stderr;
		kvl_config_defaults(&cfg);
		kvl_config_check(&cfg);
		r->vms = calloc(cfg.max_vms, sizeof(*r->vms));
		ASSERT_NE(NULL, r->vms);
		kvl_engine_init(&r->eng, &cfg, &kvl_rp_ops, r->vms);
		r->handle = tracecmd_open(fixture(cases[i].dat),
					  TRACECMD_FL_LOAD_NO_PLUGINS |
					  TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
		ASSERT_NE(NULL, r->handle);
		r->tep = tracecmd_get_tep(r->handle);
		ASSERT_EQ(0, kvl_setup_events(r));
		EXPECT_EQ(cases[i].submit, r->desc[K_URING_SUBMIT].need > 0)
			TH_LOG("%s", cases[i].dat);
		EXPECT_EQ(cases[i].traced, r->eng.uring_traced != 0)
			TH_LOG("%s", cases[i].dat);
		kvl_replay_free(r);
	}
}

TEST(output_is_exactly_what_show_prints)
{
	struct run r, g;
	char *golden = read_all(fixture("replay_native.csv"), NULL);

	/* the golden copy pins every exact value of this recording */
	ASSERT_NE(NULL, golden);
	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--csv",
	    "--exits");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(0, r.err_len);
	EXPECT_STREQ(golden, r.out);
	run_free(&r);
	free(golden);

	/* the same header and rows as show of a snapshot */
	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--csv");
	RUN(&g, "show", "--input", (char *)fixture("replay_native.hist"),
	    "--csv");
	ASSERT_EQ(0, g.rc);
	EXPECT_EQ(0, strncmp(r.out, g.out, strcspn(g.out, "\n") + 1));
	EXPECT_EQ(count_char(g.out, '\n'), count_char(r.out, '\n'));
	run_free(&r);
	run_free(&g);

	RUN(&r, "replay", (char *)fixture("replay_threads.dat"), "--json",
	    "--path", "threads", "--vcpu", "1");
	EXPECT_EQ(0, r.rc);
	EXPECT_EQ(0, strncmp(r.out, "{\"schema\": \"" KVL_JSON_SCHEMA "\"", 24));
	EXPECT_NE(NULL, strstr(r.out, "\"vcpu\": 1,"));
	EXPECT_EQ(NULL, strstr(r.out, "\"vcpu\": 0,"));
	EXPECT_NE(NULL, strstr(r.out, "\"io_to_reap\": {\"count\": 100,"));
	run_free(&r);

	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--hist",
	    "--path", "native");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "(kvmio-vmm), 2 vCPUs"));
	EXPECT_NE(NULL, strstr(r.out, "native path"));
	run_free(&r);
}

/* The engine's hist text of a replay of @dat, malloc()ed. */
static char *replay_text(struct __test_metadata *_metadata, const char *dat)
{
	struct kvl_replay_opts o = { 0 };
	char *buf = NULL, *p, *sep, *text;
	size_t len;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (kvl_replay_child(fixture(dat), &o, -1, f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	p = strstr(buf, KVL_OK_LINE " ");
	sep = p ? strstr(p, KVL_STATS_SEP) : NULL;
	if (!sep) {
		free(buf);
		return NULL;
	}
	p = strchr(p, '\n') + 1;
	text = strndup(p, sep - p);
	free(buf);
	return text;
}

/* @text begins with the engine's own format line. */
static bool current_format(const char *text)
{
	char head[32];

	snprintf(head, sizeof(head), "# kvmio_lat hist %d\n",
		 KVL_HIST_FORMAT_VERSION);
	return !strncmp(text, head, strlen(head));
}

/*
 * fixtures/replay_native_v2.hist is the engine's hist text (format 2, what
 * the module prints, format.c being shared) of replay_native.dat then:
 * 0 ns values in bucket [0, 1) and in the mean.  replay_native.hist is the
 * module's format 1 of the same run.  Later formats add only disk lines
 * and io_uring's, and a recording has no io_submit iocbs, so no native
 * request has a disk (nor an io: no AIO ring is read): the text is the same
 * but for its first line.  Kept as it is (old snapshots must read).
 */
TEST(engine_text_of_a_native_replay_is_the_v2_fixture)
{
	char *want = read_all(fixture("replay_native_v2.hist"), NULL);
	char *text = replay_text(_metadata, "replay_native.dat");

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, strncmp(want, "# kvmio_lat hist 2\n", 19));
	EXPECT_TRUE(current_format(text)) TH_LOG("%.20s", text);
	EXPECT_STREQ(want + 19, text + 19);
	EXPECT_EQ(NULL, strstr(text, "\ndisk "));
	EXPECT_NE(NULL, strstr(text, " negative=0 overflow=0\n  [0, 1) 16\n"));
	free(want);
	free(text);
}

/*
 * fixtures/replay_threads_v4.hist: the engine's text of replay_threads.dat,
 * whose worker's preads name their disk, as format 4 printed it (the
 * current format has no more lines for a recording without io_uring
 * requests: rf_as_format4()).  Remake it after a format change with
 * KVL_WRITE_FIXTURES=1 build/unit/replay_test.  replay_threads_v3.hist is
 * its format 3 text, kept as it was: the same but for the disk's io lines.
 */
TEST(engine_text_of_a_threads_replay_is_the_v4_fixture)
{
	char *text = replay_text(_metadata, "replay_threads.dat"), *want, *v3;
	char *v4;
	FILE *f;

	ASSERT_NE(NULL, text);
	v4 = rf_as_format4(text);
	if (getenv("KVL_WRITE_FIXTURES")) {
		f = fopen(fixture("replay_threads_v4.hist"), "w");
		ASSERT_NE(NULL, f);
		fputs(v4, f);
		fclose(f);
	}
	want = read_all(fixture("replay_threads_v4.hist"), NULL);
	ASSERT_NE(NULL, want);
	EXPECT_STREQ(want, v4);
	free(v4);
	EXPECT_TRUE(current_format(text)) TH_LOG("%.20s", text);
	EXPECT_EQ(NULL, strstr(text, " io_uring "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 235 7 threads io count=200 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 235 7 threads submit_to_irq count=200 "));
	EXPECT_NE(NULL, strstr(text, "\ndisk 235 7 threads total count=200 "));
	free(want);
	want = read_all(fixture("replay_threads_v3.hist"), NULL);
	ASSERT_NE(NULL, want);
	EXPECT_EQ(0, strncmp(want, "# kvmio_lat hist 3\n", 19));
	v3 = rf_as_format3(text);
	EXPECT_STREQ(want, v3);
	free(v3);
	free(want);
	free(text);
}

/*
 * The recording's one disk (the VMM's O_DIRECT fd 7) holds every request:
 * its io is, request by request, submit_end - submit of the stamps
 * --requests prints (the worker's pread: its vCPUs' io stage), its
 * submit_to_irq irq - submit (so its sum is its vCPUs' io + io_to_reap +
 * reap_to_irq), its total exactly its vCPUs' merged.  Its native requests
 * have no disk (a recording lacks io_submit's iocbs), nor an io (nor the
 * AIO ring).
 */
TEST(disks_of_replays)
{
	struct kvl_replay_opts o = { 0 };
	const struct kvl_shist *total, *st;
	const struct kvl_stat *nodisk;
	const struct kvl_sdisk *d;
	const struct kvl_rhist *sti, *io;
	struct kvl_svcpu all;
	struct kvl_filter flt;
	struct kvl_hist want, want_io;
	struct kvl_snap s;
	struct run r;
	char path[300], *reqs, *line;
	FILE *err = fopen("/dev/null", "w");
	long long submit, submit_end, irq, fd;
	u64 sum_of_stages = 0;
	int n = 0, k;
	u32 i, j;

	ASSERT_NE(NULL, err);
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/requests.txt", tmpdir);
	o.requests = path;
	ASSERT_EQ(0, kvl_replay(fixture("replay_threads.dat"), &o, &s, NULL, err));
	fclose(err);
	ASSERT_EQ(1, s.nr_vms);
	ASSERT_EQ(1, s.vms[0].nr_disks);
	d = &s.vms[0].disks[0];
	EXPECT_EQ(7, d->fd);
	EXPECT_EQ(NULL, d->name);	/* a replay: no live descriptor */
	sti = &d->h[KVL_PATH_THREADS][KVL_DS_SUBMIT_TO_IRQ];
	EXPECT_EQ(200, sti->count);

	/* each request's own stamps, as the engine reported it */
	reqs = read_all(path, NULL);
	ASSERT_NE(NULL, reqs);
	kvl_hist_init(&want);
	kvl_hist_init(&want_io);
	for (line = strtok(reqs, "\n"); line; line = strtok(NULL, "\n")) {
		ASSERT_TRUE(request_stamp(line, "fd", &fd)) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "submit", &submit)) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "submit_end", &submit_end)) TH_LOG("%s", line);
		ASSERT_TRUE(request_stamp(line, "irq", &irq)) TH_LOG("%s", line);
		EXPECT_EQ(7, fd);
		kvl_hist_record(&want, (s64)(irq - submit));
		kvl_hist_record(&want_io, (s64)(submit_end - submit));
		n++;
	}
	free(reqs);
	EXPECT_EQ(200, n);
	EXPECT_EQ(0, sti->negative);
	EXPECT_TRUE(rhist_is(sti, &want));
	/* the pool worker's pread of every request: as many as total */
	io = &d->h[KVL_PATH_THREADS][KVL_DS_IO];
	EXPECT_EQ(200, io->count);
	EXPECT_EQ(d->h[KVL_PATH_THREADS][KVL_DS_TOTAL].count, io->count);
	EXPECT_TRUE(rhist_is(io, &want_io));
	EXPECT_LT(io->sum, sti->sum);

	/* the sum of the three stages between the two stamps, and total */
	kvl_filter_init(&flt);
	ASSERT_EQ(0, kvl_snap_merge_all(&s, &flt, &all));
	for (k = KVL_ST_SUBMIT; k <= KVL_ST_REAP_TO_IRQ; k++) {
		if (!kvl_stage_name(KVL_PATH_THREADS, k))	/* io_uring's */
			continue;
		st = kvl_svcpu_stage(&all, KVL_PATH_THREADS, k);
		ASSERT_NE(NULL, st);
		EXPECT_EQ(200, st->h.count);
		EXPECT_EQ(0, st->h.negative);
		sum_of_stages += st->h.sum;
	}
	EXPECT_EQ(sum_of_stages, sti->sum);
	/* more than the worker's pread alone: the reap and interrupt too */
	st = kvl_svcpu_stage(&all, KVL_PATH_THREADS, KVL_ST_SUBMIT);
	EXPECT_LT(st->h.sum, sti->sum);
	/* which is the disk's io: its vCPUs' io stage, bucket for bucket */
	EXPECT_EQ(st->h.sum, io->sum);
	ASSERT_EQ(st->h.nr, io->nr);
	EXPECT_EQ(0, memcmp(st->h.b, io->b, io->nr * sizeof(*io->b)));
	total = kvl_svcpu_stage(&all, KVL_PATH_THREADS, KVL_ST_TOTAL);
	ASSERT_NE(NULL, total);
	EXPECT_EQ(total->h.count, d->h[KVL_PATH_THREADS][KVL_DS_TOTAL].count);
	EXPECT_EQ(total->h.sum, d->h[KVL_PATH_THREADS][KVL_DS_TOTAL].sum);
	ASSERT_EQ(total->h.nr, d->h[KVL_PATH_THREADS][KVL_DS_TOTAL].nr);
	EXPECT_EQ(0, memcmp(total->h.b, d->h[KVL_PATH_THREADS][KVL_DS_TOTAL].b,
			    total->h.nr * sizeof(*total->h.b)));
	EXPECT_EQ(0, d->h[KVL_PATH_NATIVE][KVL_DS_TOTAL].count);
	nodisk = kvl_snap_stat(&s, "requests_without_disk");
	ASSERT_NE(NULL, nodisk);
	EXPECT_EQ(0, nodisk->value);
	kvl_svcpu_free(&all);
	kvl_snap_free(&s);
	remove_tmpdir();

	ASSERT_EQ(0, replay(&s, "replay_native.dat", NULL, NULL));
	EXPECT_EQ(0, s.vms[0].nr_disks);
	for (i = 0; i < s.nr_vms; i++)
		for (j = 0; j < s.vms[i].nr_disks; j++) {
			d = &s.vms[i].disks[j];
			EXPECT_EQ(0, d->h[KVL_PATH_NATIVE][KVL_DS_IO].count);
		}
	nodisk = kvl_snap_stat(&s, "requests_without_disk");
	ASSERT_NE(NULL, nodisk);
	EXPECT_EQ(200, nodisk->value);
	kvl_snap_free(&s);

	RUN(&r, "replay", (char *)fixture("replay_threads.dat"), "--disk");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\n  threads path: request latency by disk\n  DISK  STAGE              COUNT "));
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 7  io                   200     171µs    3.81ms "));
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 7  submit_to_irq        200     356µs "));
	EXPECT_NE(NULL, strstr(r.out, "\n  fd 7  total                200     889µs "));
	EXPECT_NE(NULL, strstr(r.out, "counters: requests 200, requests_without_disk 0, dropped_disk_requests 0\n"));
	run_free(&r);
	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--disk");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no per-disk histograms: no recorded request had a known disk (io_submit in a replayed recording"));
	EXPECT_NE(NULL, strstr(r.out, "requests_without_disk 200,"));
	EXPECT_EQ(NULL, strstr(r.out, " io "));
	run_free(&r);
	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "\"disks\": []"));
	EXPECT_EQ(NULL, strstr(r.out, "\"disks\": [{"));
	run_free(&r);
	RUN(&r, "replay", (char *)fixture("replay_threads.dat"), "--json");
	EXPECT_NE(NULL, strstr(r.out, "{\"schema\": \"" KVL_JSON_SCHEMA "\", "));
	EXPECT_NE(NULL, strstr(r.out, "\"disks\": [{\"fd\": 7, \"name\": null, \"paths\": {\"native\": {}, \"threads\": {\"io\": {\"count\": 200, "));
	EXPECT_NE(NULL, strstr(r.out, "]}, \"submit_to_irq\": {\"count\": 200, "));
	run_free(&r);
}

TEST(filters_that_select_nothing)
{
	struct run r;

	RUN(&r, "replay", (char *)fixture("replay_native.dat"), "--pid", "1");
	EXPECT_ONE_ERROR(&r, 1, "no VM with pid 1");
	run_free(&r);
	RUN(&r, "replay", (char *)fixture("replay_getevents.dat"), "--vcpu",
	    "1");
	EXPECT_ONE_ERROR(&r, 1, "no vCPU 1");
	run_free(&r);
}

TEST(speed_goes_to_stderr)
{
	struct run r;

	RUN(&r, "replay", "--speed", (char *)fixture("replay_native.dat"));
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.err, "records/s"));
	EXPECT_EQ(1, count_char(r.err, '\n'));
	EXPECT_NE(NULL, strstr(r.out, "native path"));
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* plain trace-cmd recordings */

TEST(plain_recording_needs_a_thread_group_map)
{
	struct kvl_snap s;
	struct run r;
	long pid = vmm_value("replay_plain.vmm", "pid");
	const struct kvl_svm *vm;
	const struct kvl_shist *h;

	RUN(&r, "replay", (char *)fixture("replay_plain.dat"));
	EXPECT_ONE_ERROR(&r, 1, "no thread-group map");
	EXPECT_NE(NULL, strstr(r.err, "--tgids"));
	run_free(&r);

	/* a saved_tgids copy taken right after recording */
	ASSERT_EQ(0, replay(&s, "replay_plain.dat", "replay_plain.tgids", NULL));
	vm = kvl_snap_vm(&s, (s32)pid);
	ASSERT_NE(NULL, vm);
	ASSERT_EQ(1, vm->nr_vcpus);
	h = kvl_svcpu_stage(&vm->vcpus[0], KVL_PATH_NATIVE, KVL_ST_TOTAL);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(50, h->h.count);
	kvl_snap_free(&s);

	RUN(&r, "replay", "--tgids", "/nonexistent",
	    (char *)fixture("replay_plain.dat"));
	EXPECT_ONE_ERROR(&r, 1, "cannot read /nonexistent");
	run_free(&r);
	RUN(&r, "replay", "--tgids", (char *)fixture("replay_native.vmm"),
	    (char *)fixture("replay_plain.dat"));
	EXPECT_ONE_ERROR(&r, 1, "not a saved_tgids copy");
	run_free(&r);
}

TEST(recording_without_events_the_engine_needs)
{
	struct run r;

	RUN(&r, "replay", (char *)fixture("replay_missing.dat"));
	EXPECT_ONE_ERROR(&r, 1, "lacks events the engine needs: kvm:kvm_inj_virq, sched:sched_process_exit");
	run_free(&r);
}

TEST(not_recordings)
{
	struct run r;

	make_tmpdir();
	RUN(&r, "replay", "/nonexistent.dat");
	EXPECT_ONE_ERROR(&r, 1, "cannot open /nonexistent.dat");
	run_free(&r);
	RUN(&r, "replay", tmpdir);
	EXPECT_ONE_ERROR(&r, 1, "is a directory");
	run_free(&r);
	RUN(&r, "replay", (char *)write_tmp("empty.dat", "", 0));
	EXPECT_ONE_ERROR(&r, 1, "is empty");
	run_free(&r);
	RUN(&r, "replay", (char *)fixture("replay_native.hist"));
	EXPECT_ONE_ERROR(&r, 1, "is not a trace-cmd recording");
	run_free(&r);
	RUN(&r, "replay");
	EXPECT_ONE_ERROR(&r, 2, "wants one recording");
	run_free(&r);
	RUN(&r, "replay", "a.dat", "b.dat");
	EXPECT_ONE_ERROR(&r, 2, "unexpected argument 'b.dat'");
	run_free(&r);
	RUN(&r, "replay", "a.dat", "-i", "1");
	EXPECT_ONE_ERROR(&r, 2, "-i is not an option of replay");
	run_free(&r);
	remove_tmpdir();
}

/* ------------------------------------------------------------------ */
/* truncated and damaged copies: one clear line, never a crash */

/*
 * One line and exit 1, or output: when @same is given, exactly @same (a
 * truncation that lost no event data, only trailing metadata libtracecmd
 * does without).  Returns 1 for an error, 0 for output.
 */
static int expect_clean_failure_or_output(struct __test_metadata *_metadata,
					  const char *path, const char *same,
					  const char *what)
{
	struct run r;
	int failed;

	RUN(&r, "replay", (char *)path);
	failed = r.rc != 0;
	if (failed) {
		EXPECT_EQ(1, r.rc) TH_LOG("%s: rc %d", what, r.rc);
		EXPECT_EQ(1, count_char(r.err, '\n')) TH_LOG("%s: %s", what, r.err);
		EXPECT_EQ(0, strncmp(r.err, "kvmio-lat: ", 11)) TH_LOG("%s", what);
		EXPECT_EQ(0, r.out_len) TH_LOG("%s", what);
	} else if (same) {
		EXPECT_STREQ(same, r.out) TH_LOG("%s", what);
	} else {
		EXPECT_LT(0, r.out_len) TH_LOG("%s", what);
	}
	run_free(&r);
	return failed;
}

/*
 * Dozens of replays each, some of them crashing children under ASan: far
 * more than the harness's default 30 s on a loaded 2-CPU machine.  Nothing
 * here is timed; the limit only catches a hang.
 */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, truncated_copies, 900)
{
	static const char *const names[] = {
		"replay_native.dat", "replay_threads.dat", "replay_getevents.dat",
		"replay_uring.dat",
	};
	unsigned int i, k, errors;

	make_tmpdir();
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		size_t len, cut;
		char *dat = read_all(fixture(names[i]), &len), what[96];
		struct run whole;

		ASSERT_NE(NULL, dat);
		RUN(&whole, "replay", (char *)fixture(names[i]));
		ASSERT_EQ(0, whole.rc);
		/* cuts all through the file: each one loses event data */
		for (k = 1, errors = 0; k < 20; k++) {
			cut = len * k / 20;
			snprintf(what, sizeof(what), "%s cut at %zu of %zu",
				 names[i], cut, len);
			errors += expect_clean_failure_or_output(_metadata,
				write_tmp("cut.dat", dat, cut), whole.out, what);
		}
		EXPECT_EQ(19, errors) TH_LOG("%s", names[i]);
		/* the last bytes: an error, or nothing of the events lost */
		for (cut = len - 300; cut < len; cut += 23) {
			snprintf(what, sizeof(what), "%s cut at %zu of %zu",
				 names[i], cut, len);
			expect_clean_failure_or_output(_metadata,
				write_tmp("cut.dat", dat, cut), whole.out, what);
		}
		run_free(&whole);
		free(dat);
	}
	remove_tmpdir();
}

TEST_F_TIMEOUT(slow, damaged_copies, 900)
{
	static const char *const names[] = {
		"replay_native.dat", "replay_threads.dat", "replay_uring.dat",
	};
	unsigned int i, seed = 5;
	int k;

	make_tmpdir();
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		size_t len, pos;
		char *dat = read_all(fixture(names[i]), &len), what[96];

		ASSERT_NE(NULL, dat);
		/*
		 * One damaged byte at a time, all over the file.  libtracecmd
		 * crashes on some (the replay runs in a child for that): each
		 * one must be one line from us, not a crash of ours.
		 */
		for (k = 0; k < 40; k++) {
			char save;

			pos = k < 25 ? len * k / 25 : rand_r(&seed) % len;
			save = dat[pos];
			dat[pos] ^= (char)(1 + rand_r(&seed) % 255);
			snprintf(what, sizeof(what), "%s byte %zu of %zu",
				 names[i], pos, len);
			expect_clean_failure_or_output(_metadata,
				write_tmp("bad.dat", dat, len), NULL, what);
			dat[pos] = save;
		}
		/* a run of garbage in the event data */
		for (pos = len / 2; pos < len / 2 + 512 && pos < len; pos++)
			dat[pos] = (char)rand_r(&seed);
		expect_clean_failure_or_output(_metadata,
			write_tmp("bad.dat", dat, len), NULL, "garbage run");
		free(dat);
	}
	remove_tmpdir();
}

/* ------------------------------------------------------------------ */
/* the syscall filter */

TEST(record_keeps_every_syscall_the_engine_classifies)
{
	u32 ids[64];
	unsigned int n = kvl_record_syscalls(ids, ARRAY_SIZE(ids)), i;
	u32 nr;

	ASSERT_GE(ARRAY_SIZE(ids), n);
	for (nr = 0; nr < 1024; nr++) {
		bool kept = false;

		for (i = 0; i < n; i++)
			kept |= ids[i] == nr;
		EXPECT_EQ(kvl_sys_class(nr) != KVL_SYS_NONE || nr == 1, kept)
			TH_LOG("syscall %u", nr);
	}
}

/* ------------------------------------------------------------------ */
/* replay --loop on recordings (the matcher alone: loop_test.c) */

#define TALK_LOOP	"kvm_exit[exit_reason=io],sys_exit_ppoll,sys_enter_io_submit," \
			"sys_exit_io_submit,sys_enter_io_getevents,sys_exit_io_getevents"

/* One histogram of replay --loop --json. */
struct loop_stat {
	unsigned long long count, min, max;
	double mean;
};

struct loop_result {
	char comm[32];
	unsigned long long completed, superseded, timed_out, unfinished, dropped;
	u32 nr;				/* the steps, then the whole loop */
	struct loop_stat s[KVL_LOOP_MAX_STEPS];
	u32 nr_matched;
	unsigned long long matched[KVL_LOOP_MAX_STEPS];
};

/*
 * Process @pid's part of replay --loop's JSON (@pid 0: the first
 * process), and the events matched: 0, or -1 when it is not there.
 */
static int loop_json(const char *json, s32 pid, struct loop_result *res)
{
	const char *p, *end;
	char key[32] = "{\"pid\": ";

	memset(res, 0, sizeof(*res));
	if (pid)
		snprintf(key, sizeof(key), "{\"pid\": %d, ", pid);
	p = json ? strstr(json, key) : NULL;
	if (!p)
		return -1;
	end = strstr(p + 1, "{\"pid\": ");
	if (!end)
		end = strstr(p, "], \"events\": [");
	p = strstr(p, "\"comm\": \"");
	if (!p || sscanf(p, "\"comm\": \"%31[^\"]\"", res->comm) != 1)
		return -1;
	p = strstr(p, "\"instances\": {");
	if (!p || !end ||
	    sscanf(p, "\"instances\": {\"completed\": %llu, \"superseded\": %llu, \"timed_out\": %llu, \"unfinished\": %llu, \"dropped\": %llu}",
		   &res->completed, &res->superseded, &res->timed_out,
		   &res->unfinished, &res->dropped) != 5)
		return -1;
	while ((p = strstr(p, "\"latency\": {")) && p < end &&
	       res->nr < KVL_LOOP_MAX_STEPS) {
		struct loop_stat *st = &res->s[res->nr++];

		if (sscanf(p, "\"latency\": {\"count\": %llu, \"min_ns\": %llu, \"max_ns\": %llu, \"mean_ns\": %lf",
			   &st->count, &st->min, &st->max, &st->mean) != 4)
			return -1;
		p++;
	}
	p = strstr(json, "\"events\": [");
	while (p && (p = strstr(p, "\"matched\": ")) &&
	       res->nr_matched < KVL_LOOP_MAX_STEPS)
		if (sscanf(p++, "\"matched\": %llu",
			   &res->matched[res->nr_matched++]) != 1)
			return -1;
	return 0;
}

/* python3's json module reads it (true without python3). */
static bool loop_json_valid(const char *json)
{
	char cmd[512];

	if (system("command -v python3 >/dev/null 2>&1"))
		return true;
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s'",
		 write_tmp("loop.json", json, strlen(json)));
	return !system(cmd);
}

/*
 * replay @dat [--tgids @tgids] --loop @loop [--key @key] [--within @ms]
 * --json: exit 0, nothing on stderr, valid JSON with process @pid (0: the
 * first) in *@res.
 */
static void run_loop(struct __test_metadata *_metadata, const char *dat,
		     const char *tgids, const char *loop, const char *key,
		     const char *within, s32 pid, struct loop_result *res)
{
	char *argv[14] = { "kvmio-lat", "replay", (char *)dat, "--loop",
			   (char *)loop, "--json" };
	const char *opt[3][2] = {
		{ "--tgids", tgids }, { "--key", key }, { "--within", within },
	};
	int n = 6, i;
	struct run r;

	for (i = 0; i < 3; i++) {
		if (!opt[i][1])
			continue;
		argv[n++] = (char *)opt[i][0];
		argv[n++] = (char *)opt[i][1];
	}
	run_argv(&r, argv);
	EXPECT_EQ(0, r.rc) TH_LOG("%s: %s", loop, r.err);
	EXPECT_EQ(0, r.err_len) TH_LOG("%s: %s", loop, r.err);
	make_tmpdir();
	EXPECT_TRUE(loop_json_valid(r.out)) TH_LOG("%s", r.out);
	remove_tmpdir();
	EXPECT_EQ(0, loop_json(r.out, pid, res)) TH_LOG("%s: %s", loop, r.out);
	run_free(&r);
}


#define EXPECT_STAT(want, got) do {					\
	EXPECT_EQ((want).count, (got).count);				\
	EXPECT_EQ((want).min, (got).min);				\
	EXPECT_EQ((want).max, (got).max);				\
	EXPECT_TRUE((want).mean - (got).mean < 0.051 &&			\
		    (got).mean - (want).mean < 0.051)			\
		TH_LOG("mean %.1f, want %.1f", (got).mean, (want).mean); \
} while (0)

/*
 * The hand counts of fixtures/loop_window.txt: that file has the report
 * lines (every "|" line) and how each number came from them.
 */
static const struct hand_count {
	const char *what;
	const char *loop;
	const char *key;
	const char *within;		/* ms, or NULL */
	unsigned long long completed, superseded, timed_out, unfinished;
	u32 nr;
	struct loop_stat s[6];
	unsigned long long matched[6];
} loop_window_counts[] = {
	{ "LOOP 1", TALK_LOOP, "tid", NULL, 2, 0, 0, 1, 6, {
		{ 2, 1625310, 5515110, 3570210 }, { 2, 105340, 862580, 483960 },
		{ 2, 417570, 1017630, 717600 }, { 2, 310440, 6239120, 3274780 },
		{ 2, 30860, 810100, 420480 }, { 2, 8418200, 8515860, 8467030 } },
	  { 3, 4, 2, 2, 2, 2 } },
	{ "LOOP 1, key vcpu", TALK_LOOP, "vcpu", NULL, 2, 0, 0, 1, 6, {
		{ 2, 1625310, 5515110, 3570210 }, { 2, 105340, 862580, 483960 },
		{ 2, 417570, 1017630, 717600 }, { 2, 310440, 6239120, 3274780 },
		{ 2, 30860, 810100, 420480 }, { 2, 8418200, 8515860, 8467030 } },
	  { 3, 4, 2, 2, 2, 2 } },
	{ "LOOP 1, key cpu", TALK_LOOP, "cpu", NULL, 2, 0, 0, 1, 6, {
		{ 2, 1625310, 5515110, 3570210 }, { 2, 105340, 862580, 483960 },
		{ 2, 417570, 1017630, 717600 }, { 2, 310440, 6239120, 3274780 },
		{ 2, 30860, 810100, 420480 }, { 2, 8418200, 8515860, 8467030 } },
	  { 3, 4, 2, 2, 2, 2 } },
	{ "LOOP 1 --within 6", TALK_LOOP, "tid", "6", 1, 0, 1, 1, 6, {
		{ 1, 5515110, 5515110, 5515110 }, { 1, 862580, 862580, 862580 },
		{ 1, 1017630, 1017630, 1017630 }, { 1, 310440, 310440, 310440 },
		{ 1, 810100, 810100, 810100 }, { 1, 8515860, 8515860, 8515860 } },
	  { 3, 4, 2, 2, 2, 2 } },
	{ "LOOP 2", "kvm_exit,sys_exit_ppoll", "tid", NULL, 2, 11, 0, 1, 2, {
		{ 2, 1516750, 4098110, 2807430 }, { 2, 1516750, 4098110, 2807430 } },
	  { 14, 4 } },
	{ "LOOP 3", "sys_exit_ppoll,sys_exit_ppoll", "tid", NULL, 3, 0, 0, 1, 2, {
		{ 3, 1971480, 6680870, 4345336.7 }, { 3, 1971480, 6680870, 4345336.7 } },
	  { 4, 4 } },
};

/*
 * Each line's runs of blanks as one, none at its ends: trace-cmd's column
 * widths are not the point.
 */
static void squeeze(char *s)
{
	char *d = s, *line = s;	/* where the current line starts in d */
	bool blank = false;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = true;
			continue;
		}
		if (blank && *s != '\n' && d > line)
			*d++ = ' ';
		blank = false;
		*d++ = *s;
		if (*s == '\n')
			line = d;
	}
	*d = '\0';
}

/* Every "|" line of loop_window.txt is in trace-cmd's report of the file. */
TEST(loop_hand_count_excerpt_is_the_recording)
{
	char cmd[600], *txt, *line, *save, *report = NULL;
	size_t len = 0, n;
	char buf[4096];
	FILE *f;
	int lines = 0;

	if (system("command -v trace-cmd >/dev/null 2>&1"))
		SKIP(return, "trace-cmd is not installed (scripts/deps.sh)");
	snprintf(cmd, sizeof(cmd), "trace-cmd report -t -i '%s' 2>/dev/null",
		 fixture("loop_window.dat"));
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		report = realloc(report, len + n + 1);
		ASSERT_NE(NULL, report);
		memcpy(report + len, buf, n);
		len += n;
		report[len] = '\0';
	}
	ASSERT_EQ(0, pclose(f));
	ASSERT_NE(NULL, report);
	squeeze(report);
	txt = read_all(fixture("loop_window.txt"), NULL);
	ASSERT_NE(NULL, txt);
	for (line = strtok_r(txt, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "| ", 2))
			continue;
		squeeze(line + 2);
		EXPECT_NE(NULL, strstr(report, line + 2)) TH_LOG("%s", line + 2);
		lines++;
	}
	EXPECT_EQ(60, lines);	/* the whole report but its "cpus=2" */
	free(txt);
	free(report);
}

/* --loop's JSON against the hand counts of loop_window.txt */
TEST(loop_hand_count)
{
	const char *dat = fixture("loop_window.dat");
	const char *tgids = fixture("loop_window.tgids");
	unsigned int i, k;

	for (i = 0; i < ARRAY_SIZE(loop_window_counts); i++) {
		const struct hand_count *h = &loop_window_counts[i];
		struct loop_result res;

		run_loop(_metadata, dat, tgids, h->loop, h->key, h->within, 203,
			 &res);
		EXPECT_STREQ("kvmio-vmm", res.comm);
		EXPECT_EQ(h->completed, res.completed) TH_LOG("%s", h->what);
		EXPECT_EQ(h->superseded, res.superseded) TH_LOG("%s", h->what);
		EXPECT_EQ(h->timed_out, res.timed_out) TH_LOG("%s", h->what);
		EXPECT_EQ(h->unfinished, res.unfinished) TH_LOG("%s", h->what);
		EXPECT_EQ(0, res.dropped);
		ASSERT_EQ(h->nr, res.nr) TH_LOG("%s", h->what);
		ASSERT_EQ(h->nr, res.nr_matched) TH_LOG("%s", h->what);
		for (k = 0; k < h->nr; k++) {
			EXPECT_STAT(h->s[k], res.s[k]);
			EXPECT_EQ(h->matched[k], res.matched[k]) TH_LOG("%s", h->what);
		}
	}
}

/*
 * The talk's loop over the whole recording: one instance per request the
 * VMM made (its report), and the last doorbell-like exit, on the VMM's
 * "done" port, unfinished.  Starting at kvm_pio on the doorbell port
 * instead, and naming the exit reason by number, select the same.
 */
TEST(loop_talk_loop_whole_recording)
{
	const char *dat = fixture("replay_getevents.dat");
	long reqs = vmm_requests("replay_getevents.vmm", 0);
	long pid = vmm_value("replay_getevents.vmm", "pid");
	struct loop_result a, b, c;
	unsigned int k;

	ASSERT_LT(0, reqs);
	run_loop(_metadata, dat, NULL, TALK_LOOP, NULL, NULL, (s32)pid, &a);
	EXPECT_EQ((unsigned long long)reqs, a.completed);
	EXPECT_EQ(0, a.superseded);
	EXPECT_EQ(1, a.unfinished);
	EXPECT_EQ(6, a.nr);

	run_loop(_metadata, dat, NULL,
		 "kvm_exit[exit_reason=0x7b],sys_exit_ppoll,sys_enter_io_submit,"
		 "sys_exit_io_submit,sys_enter_io_getevents,sys_exit_io_getevents",
		 NULL, NULL, (s32)pid, &b);
	EXPECT_EQ(0, memcmp(&a, &b, sizeof(a)));

	run_loop(_metadata, dat, NULL,
		 "kvm_pio[port=0xc000],sys_exit_ppoll,sys_enter_io_submit,"
		 "sys_exit_io_submit,sys_enter_io_getevents,sys_exit_io_getevents",
		 NULL, NULL, (s32)pid, &c);
	EXPECT_EQ((unsigned long long)reqs, c.completed);
	EXPECT_EQ(0, c.unfinished);	/* port 0xf4 is not a doorbell */
	for (k = 1; k < 5; k++)		/* the same events after the exit */
		EXPECT_STAT(a.s[k], c.s[k]);
}

/*
 * The engine replaying the same recording stamps its doorbell at the
 * kvm_exit, the wake at ppoll's return, the submission at io_submit's
 * entry and end: the first three steps are its first three stages.
 */
TEST(loop_steps_agree_with_the_engine)
{
	static const unsigned int stages[] = {
		KVL_ST_DOORBELL_TO_WAKE, KVL_ST_WAKE_TO_SUBMIT, KVL_ST_SUBMIT,
	};
	const struct kvl_svcpu *v;
	struct kvl_replay_stats st;
	struct loop_result res;
	struct kvl_snap s;
	unsigned int k;

	ASSERT_EQ(0, replay(&s, "replay_getevents.dat", NULL, &st));
	ASSERT_EQ(1, s.nr_vms);
	v = kvl_svm_vcpu(&s.vms[0], 0);
	ASSERT_NE(NULL, v);
	run_loop(_metadata, fixture("replay_getevents.dat"), NULL, TALK_LOOP,
		 "vcpu", NULL, s.vms[0].pid, &res);
	for (k = 0; k < ARRAY_SIZE(stages); k++) {
		const struct kvl_shist *h = kvl_svcpu_stage(v, KVL_PATH_NATIVE,
							    stages[k]);
		struct kvl_summary m;
		struct loop_stat want;

		ASSERT_NE(NULL, h);
		kvl_rhist_summary(&h->h, &m);
		want = (struct loop_stat){ m.count, m.min, m.max, m.mean };
		EXPECT_STAT(want, res.s[k]);
	}
	kvl_snap_free(&s);
}

/* One "step NAME count min max sum mean" line of replay_net.expected. */
static int net_expected_step(const char *txt, const char *kind, u32 i,
			     struct loop_stat *st)
{
	unsigned long long sum, mean;
	const char *p = txt;
	char word[32], name[64];
	u32 n = 0;

	for (; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (sscanf(p, "%31s %63s %llu %llu %llu %llu %llu", word, name,
			   &st->count, &st->min, &st->max, &sum, &mean) == 7 &&
		    !strcmp(word, kind) && n++ == i) {
			st->mean = (double)sum / st->count;
			return 0;
		}
	}
	return -1;
}

/* The chain of replay_net.expected that starts with @first. */
static char *net_expected_loop(const char *txt, const char *first)
{
	char pat[64], *p, *end;

	snprintf(pat, sizeof(pat), "\n#   %s", first);
	p = strstr(txt, pat);
	if (!p)
		return NULL;
	p += 5;
	end = strchr(p, '\n');
	return end ? strndup(p, end - p) : NULL;
}

/*
 * The network-shaped loop (virtio-net without vhost: doorbell exit, the
 * main loop wakes, writev to the tap) of replay_net.dat against
 * replay_net.expected, counted without kvmio-lat (by hand for the first
 * packets, net_loop_count.py from trace-cmd report for all): its chains
 * from the exit and from the MMIO write.
 */
TEST(loop_network_recording)
{
	static const struct {
		const char *first;
		const char *kind;
	} chains[] = {
		{ "kvm_exit[", "step" },
		{ "kvm_mmio[", "mmio_step" },
	};
	char *txt, *loop;
	unsigned int c, k;

	if (access(fixture("replay_net.dat"), R_OK) ||
	    access(fixture("replay_net.expected"), R_OK))
		SKIP(return, "no replay_net.dat and .expected (make-fixtures.sh replay_net)");
	txt = read_all(fixture("replay_net.expected"), NULL);
	ASSERT_NE(NULL, txt);
	for (c = 0; c < ARRAY_SIZE(chains); c++) {
		struct loop_result res;
		struct loop_stat want;

		loop = net_expected_loop(txt, chains[c].first);
		ASSERT_NE(NULL, loop) TH_LOG("no %s chain", chains[c].first);
		run_loop(_metadata, fixture("replay_net.dat"),
			 fixture("replay_net.tgids"), loop, NULL, NULL, 0, &res);
		ASSERT_EQ(0, net_expected_step(txt, chains[c].kind, 0, &want));
		EXPECT_EQ(want.count, res.completed);
		EXPECT_EQ(0, res.superseded);
		EXPECT_EQ(0, res.unfinished);
		for (k = 0; k < res.nr; k++) {
			ASSERT_EQ(0, net_expected_step(txt, chains[c].kind, k, &want))
				TH_LOG("%s %u", chains[c].kind, k);
			EXPECT_STAT(want, res.s[k]);
		}
		EXPECT_EQ(4, res.nr);	/* three steps and the total */
		free(loop);
	}
	free(txt);
}

/* replay --loop's output formats: the same numbers in each */
TEST(loop_formats)
{
	const char *dat = fixture("loop_window.dat");
	const char *tgids = fixture("loop_window.tgids");
	struct run r;

	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    TALK_LOOP, "--hist");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "process 203 (kvmio-vmm): 2 completed, 0 superseded, 0 timed out, 1 unfinished\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  STEP  FROM -> TO "));
	/* step 1: 1625310 and 5515110 ns, mean 3570210 */
	EXPECT_NE(NULL, strstr(r.out, "  1     kvm_exit[exit_reason=io] -> sys_exit_ppoll                 2    1.63ms    3.57ms "))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "  loop  kvm_exit[exit_reason=io] -> sys_exit_io_getevents          2    8.42ms    8.47ms "));
	EXPECT_NE(NULL, strstr(r.out, "\n  step 5, sys_enter_io_getevents -> sys_exit_io_getevents: 2 values\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n  loop, kvm_exit[exit_reason=io] -> sys_exit_io_getevents: 2 values\n"));
	EXPECT_NE(NULL, strstr(r.out, "events matched: kvm_exit[exit_reason=io] 3, sys_exit_ppoll 4,"));
	run_free(&r);

	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    TALK_LOOP, "--csv");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_EQ(r.out, strstr(r.out, "pid,comm,step,from,to,completed,superseded,timed_out,unfinished,dropped,count,min_ns,max_ns,mean_ns,"));
	EXPECT_NE(NULL, strstr(r.out, "\n203,kvmio-vmm,1,kvm_exit[exit_reason=io],sys_exit_ppoll,2,0,0,1,0,2,1625310,5515110,3570210.0,"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "\n203,kvmio-vmm,loop,kvm_exit[exit_reason=io],sys_exit_io_getevents,2,0,0,1,0,2,8418200,8515860,8467030.0,"));
	EXPECT_EQ(7, count_char(r.out, '\n'));
	run_free(&r);

	/* --pid: the one process, or an error naming those there are */
	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    TALK_LOOP, "--pid", "203", "--json");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "\"pid\": 203"));
	run_free(&r);
	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    TALK_LOOP, "--pid", "7");
	EXPECT_ONE_ERROR(&r, 1, "no process with pid 7 started the loop (processes that did: 203)");
	run_free(&r);

	/* three HLT exits; the window ends before the last one's entry */
	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    "kvm_exit[exit_reason=HLT],kvm_entry", "--key", "vcpu");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "process 203 (kvmio-vmm): 2 completed, 0 superseded, 0 timed out, 1 unfinished\n"))
		TH_LOG("%s", r.out);
	run_free(&r);
	/* no instance at all: said, not an error */
	RUN(&r, "replay", (char *)dat, "--tgids", (char *)tgids, "--loop",
	    "kvm_exit[exit_reason=2],kvm_entry");
	EXPECT_EQ(0, r.rc);
	EXPECT_NE(NULL, strstr(r.out, "no instance started"));
	EXPECT_NE(NULL, strstr(r.err, "warning: ")) TH_LOG("%s", r.err);
	run_free(&r);
}

/* Each bad --loop: one line, the right exit status, no output. */
TEST(loop_errors)
{
	static const struct {
		const char *loop;
		const char *extra;
		int rc;
		const char *msg;
	} bad[] = {
		{ "kvm_exit", NULL, 2, "at least two events" },
		{ "kvm_exit,[x=1]", NULL, 2, "event 2 is missing" },
		{ "no_such_event,kvm_entry", NULL, 1, "has no event no_such_event (it has " },
		{ "kvm:sys_enter,kvm_entry", NULL, 1, "has no event kvm:sys_enter" },
		{ "kvm_exit[nope=1],kvm_entry", NULL, 1, "event kvm:kvm_exit has no field 'nope' (its fields: exit_reason, " },
		{ "kvm_exit[exit_reason=warp],kvm_entry", NULL, 1, "no exit reason is called 'warp'" },
		{ "kvm_pio[port=io],kvm_entry", NULL, 1, "the value of port must be a number" },
		{ "sys_enter[args=0],kvm_entry", NULL, 1, "field 'args' of raw_syscalls:sys_enter is not a number" },
		{ "kvm_pio[size=0x100000000],kvm_entry", NULL, 1, "does not fit field 'size' (4 bytes)" },
		{ "sys_enter_frobnicate,kvm_entry", NULL, 1, "there is no x86-64 system call 'frobnicate'" },
		{ "kvm_exit,kvm_entry", "--vcpu=0", 2, "--vcpu does not go with it" },
		{ "kvm_exit,kvm_entry", "--disk", 2, "--disk does not go with it" },
	};
	const char *dat = fixture("replay_getevents.dat");
	unsigned int i;
	struct run r;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (bad[i].extra)
			RUN(&r, "replay", (char *)dat, "--loop", (char *)bad[i].loop,
			    (char *)bad[i].extra);
		else
			RUN(&r, "replay", (char *)dat, "--loop", (char *)bad[i].loop);
		EXPECT_ONE_ERROR(&r, bad[i].rc, bad[i].msg);
		run_free(&r);
	}
	RUN(&r, "replay", (char *)dat, "--key", "vcpu");
	EXPECT_ONE_ERROR(&r, 2, "--key goes with --loop");
	run_free(&r);
	RUN(&r, "replay", (char *)dat, "--within", "5");
	EXPECT_ONE_ERROR(&r, 2, "--within goes with --loop");
	run_free(&r);
	RUN(&r, "replay", (char *)dat, "--loop", "a,b", "--key", "thread");
	EXPECT_ONE_ERROR(&r, 2, "--key is tid, tgid, vcpu or cpu, not 'thread'");
	run_free(&r);
	RUN(&r, "replay", (char *)dat, "--loop", "a,b", "--within", "-1");
	EXPECT_ONE_ERROR(&r, 2, "--within wants milliseconds");
	run_free(&r);
	RUN(&r, "show", "--loop", "a,b");
	EXPECT_ONE_ERROR(&r, 2, "--loop is not an option of show");
	run_free(&r);
	/* not a recording, as replay says */
	RUN(&r, "replay", (char *)fixture("replay_native.csv"), "--loop", "a,b");
	EXPECT_ONE_ERROR(&r, 1, "is not a trace-cmd recording");
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* record, against a fake trace-cmd and tracefs */

static const char fake_trace_cmd[] =
"#!/bin/sh\n"
"# a trace-cmd record that turns tracing on, waits for SIGINT, writes -o\n"
"T=$KVMIO_LAT_TRACEFS\n"
"printf '%s\\n' \"$@\" > \"$T/argv\"\n"
"[ -n \"$FAKE_FAIL\" ] && exit 3\n"
"out=\n"
"while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
"trap 'echo recorded > \"$out\"; exit 0' INT\n"
"echo 1 > \"$T/events/kvm/kvm_exit/enable\"\n"
"echo 1 > \"$T/tracing_on\"\n"
"while :; do sleep 0.05; done\n";

/* One more event directory in the fake tracefs. */
static void fake_event(const char *sys, const char *name)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "mkdir -p %s/events/%s/%s && touch %s/events/%s/%s/format",
		 tmpdir, sys, name, tmpdir, sys, name);
	if (system(cmd))
		abort();
}

static void fake_tracefs(bool with_kvm)
{
	char path[512], cmd[600];
	int i;

	make_tmpdir();
	for (i = 0; i < KVL_NR_TRACE_EVENTS; i++) {
		const struct kvl_trace_event *e = &kvl_trace_events[i];

		if (!with_kvm && !strcmp(e->system, "kvm"))
			continue;
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/events/%s/%s && touch %s/events/%s/%s/format",
			 tmpdir, e->system, e->name, tmpdir, e->system, e->name);
		if (system(cmd))
			abort();
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/options && touch %s/options/record-tgid %s/trace_marker && echo 1 > %s/tracing_on",
		 tmpdir, tmpdir, tmpdir, tmpdir);
	if (system(cmd))
		abort();
	snprintf(path, sizeof(path), "%s/trace-cmd", tmpdir);
	write_tmp("trace-cmd", fake_trace_cmd, strlen(fake_trace_cmd));
	chmod(path, 0755);
	setenv("KVMIO_LAT_TRACEFS", tmpdir, 1);
	setenv("KVMIO_LAT_TRACE_CMD", path, 1);
}

static char *tmp_file(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return read_all(path, NULL);
}

TEST(record_runs_trace_cmd_with_the_engine_events)
{
	char out[300], *argv, *markers, *rec;
	struct run r;
	int i;

	fake_tracefs(true);
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	RUN(&r, "record", "-o", out, "-b", "4096", "--", "sh", "-c", "exit 3");
	EXPECT_EQ(3, r.rc) TH_LOG("%s", r.err);	/* the command's status */
	EXPECT_NE(NULL, strstr(r.err, "kvmio-lat: recorded ")) TH_LOG("%s", r.err);
	argv = tmp_file("argv");
	ASSERT_NE(NULL, argv);
	EXPECT_EQ(0, strncmp(argv, "record\n-C\nmono\n-O\nrecord-tgid\n", 29))
		TH_LOG("%s", argv);
	EXPECT_NE(NULL, strstr(argv, "\n-b\n4096\n"));
	for (i = 0; i < KVL_NR_TRACE_EVENTS; i++) {
		char want[80];

		snprintf(want, sizeof(want), "\n-e\n%s:%s\n",
			 kvl_trace_events[i].system, kvl_trace_events[i].name);
		EXPECT_NE(NULL, strstr(argv, want)) TH_LOG("%s", want);
	}
	EXPECT_NE(NULL, strstr(argv, "raw_syscalls:sys_enter\n-f\nid==1||id==7||id==16||id==17||"));
	EXPECT_NE(NULL, strstr(argv, "||id==209||"));
	rec = tmp_file("rec.dat");
	EXPECT_STREQ("recorded\n", rec);
	/* the thread-group map, then one end line per CPU */
	markers = tmp_file("trace_marker");
	ASSERT_NE(NULL, markers);
	EXPECT_EQ(0, strncmp(markers, KVL_TGID_MARKER, strlen(KVL_TGID_MARKER)));
	EXPECT_NE(NULL, strstr(markers, "\n" KVL_END_MARKER " cpu="));
	free(argv);
	free(markers);
	free(rec);
	run_free(&r);

	/* every syscall: no filter */
	RUN(&r, "record", "--all-syscalls", "-o", out, "true");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	argv = tmp_file("argv");
	EXPECT_EQ(NULL, strstr(argv, "-f\n"));
	free(argv);
	run_free(&r);
	remove_tmpdir();
}

/*
 * What record passes trace-cmd in a fake tracefs that has the engine's
 * events and the io_uring events @names (NULL-ended); NULL if it failed.
 */
static char *record_argv_with(struct __test_metadata *_metadata,
			      const char *const *names)
{
	char out[300], *argv;
	struct run r;

	fake_tracefs(true);
	for (; *names; names++)
		fake_event("io_uring", *names);
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	RUN(&r, "record", "-o", out, "true");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "kvmio-lat: recorded ")) TH_LOG("%s", r.err);
	argv = r.rc ? NULL : tmp_file("argv");
	run_free(&r);
	remove_tmpdir();
	return argv;
}

/* record enables io_uring's events where the kernel has them */
TEST(record_enables_the_io_uring_events_the_kernel_has)
{
	static const char *const v6_4[] = {
		"io_uring_submit_req", "io_uring_complete", NULL };
	static const char *const v6_3[] = {
		"io_uring_submit_sqe", "io_uring_complete", NULL };
	static const char *const none[] = { NULL };
	char *argv;

	/* 6.4 on: io_uring_submit_req */
	argv = record_argv_with(_metadata, v6_4);
	ASSERT_NE(NULL, argv);
	EXPECT_NE(NULL, strstr(argv, "\n-e\nio_uring:io_uring_submit_req\n"));
	EXPECT_NE(NULL, strstr(argv, "\n-e\nio_uring:io_uring_complete\n"));
	EXPECT_EQ(NULL, strstr(argv, "io_uring_submit_sqe"));
	/* and the engine's events as before */
	EXPECT_NE(NULL, strstr(argv, "\n-e\nkvm:kvm_exit\n"));
	EXPECT_NE(NULL, strstr(argv, "\n-e\nsched:sched_process_exit\n"));
	free(argv);

	/* up to 6.3: io_uring_submit_sqe */
	argv = record_argv_with(_metadata, v6_3);
	ASSERT_NE(NULL, argv);
	EXPECT_NE(NULL, strstr(argv, "\n-e\nio_uring:io_uring_submit_sqe\n"));
	EXPECT_NE(NULL, strstr(argv, "\n-e\nio_uring:io_uring_complete\n"));
	EXPECT_EQ(NULL, strstr(argv, "io_uring_submit_req"));
	free(argv);

	/* no CONFIG_IO_URING: records all the same, without them */
	argv = record_argv_with(_metadata, none);
	ASSERT_NE(NULL, argv);
	EXPECT_EQ(NULL, strstr(argv, "io_uring"));
	free(argv);
}

/* What record enables is what replay reads. */
TEST(record_and_replay_know_the_same_io_uring_events)
{
	unsigned int i;

	ASSERT_EQ(ARRAY_SIZE(kvl_uring_events),
		  ARRAY_SIZE(kvl_record_uring_events));
	for (i = 0; i < ARRAY_SIZE(kvl_uring_events); i++) {
		EXPECT_STREQ(kvl_uring_events[i].system,
			     kvl_record_uring_events[i].system);
		EXPECT_STREQ(kvl_uring_events[i].name,
			     kvl_record_uring_events[i].name);
		EXPECT_TRUE(kvl_record_uring_events[i].optional);
	}
}

TEST(record_errors)
{
	char out[300];
	struct run r;

	fake_tracefs(false);
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	RUN(&r, "record", "-o", out, "true");
	EXPECT_ONE_ERROR(&r, 1, "kvm is not loaded");
	run_free(&r);
	remove_tmpdir();

	fake_tracefs(true);
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	setenv("FAKE_FAIL", "1", 1);
	RUN(&r, "record", "-o", out, "true");
	unsetenv("FAKE_FAIL");
	EXPECT_ONE_ERROR(&r, 1, "failed before tracing started (exit status 3)");
	run_free(&r);
	remove_tmpdir();

	RUN(&r, "record", "-b", "1", "true");
	EXPECT_ONE_ERROR(&r, 2, "-b wants KiB per CPU");
	run_free(&r);
	RUN(&r, "record", "--json");
	EXPECT_ONE_ERROR(&r, 2, "--json is not an option of record");
	run_free(&r);
}

/*
 * record -e: each event checked in tracefs (EVENT alone in the one system
 * that has it) and passed to trace-cmd once, after record's own; one that
 * record enables anyway is not passed again.
 */
TEST(record_more_events)
{
	char out[300], *argv;
	struct run r;

	fake_tracefs(true);
	fake_event("syscalls", "sys_enter_io_getevents");
	fake_event("block", "block_rq_issue");
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	RUN(&r, "record", "-o", out, "-e", "syscalls:sys_enter_io_getevents",
	    "-e", "block_rq_issue", "-e", "kvm:kvm_exit", "-e",
	    "sys_enter_io_getevents", "-e", "kvm_entry", "true");
	EXPECT_EQ(0, r.rc) TH_LOG("%s", r.err);
	argv = tmp_file("argv");
	ASSERT_NE(NULL, argv);
	EXPECT_EQ(1, count_str(argv, "\n-e\nsyscalls:sys_enter_io_getevents\n"))
		TH_LOG("%s", argv);
	EXPECT_EQ(1, count_str(argv, "\n-e\nblock:block_rq_issue\n"));
	EXPECT_EQ(1, count_str(argv, "\n-e\nkvm:kvm_exit\n"));
	EXPECT_EQ(1, count_str(argv, "\n-e\nkvm:kvm_entry\n"));
	/* after the engine's, whose raw_syscalls filter stays theirs */
	EXPECT_LT(strstr(argv, "\n-e\nsched:sched_process_exit\n"),
		  strstr(argv, "\n-e\nblock:block_rq_issue\n"));
	free(argv);
	run_free(&r);
	remove_tmpdir();
}

/* record -e errors come before trace-cmd starts */
TEST(record_more_events_errors)
{
	static const struct {
		const char *event;
		int rc;
		const char *msg;
	} bad[] = {
		{ "no_such_event", 1, "-e no_such_event: this kernel has no such event" },
		{ "kvm:no_such_event", 1, "-e kvm:no_such_event: this kernel has no such event" },
		{ "twice", 1, "write SYSTEM:EVENT" },
		{ "kvm:", 2, "-e wants SYSTEM:EVENT or EVENT" },
		{ "a:b:c", 2, "-e wants SYSTEM:EVENT or EVENT" },
		{ "sched/sched_switch", 2, "-e wants SYSTEM:EVENT or EVENT" },
		{ "", 2, "-e wants SYSTEM:EVENT or EVENT" },
	};
	char out[300], path[400];
	unsigned int i;
	struct run r;

	fake_tracefs(true);
	fake_event("one", "twice");
	fake_event("other", "twice");
	snprintf(out, sizeof(out), "%s/rec.dat", tmpdir);
	snprintf(path, sizeof(path), "%s/argv", tmpdir);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		RUN(&r, "record", "-o", out, "-e", (char *)bad[i].event, "true");
		EXPECT_ONE_ERROR(&r, bad[i].rc, bad[i].msg);
		EXPECT_NE(0, access(path, F_OK));	/* trace-cmd never ran */
		run_free(&r);
	}
	remove_tmpdir();
	RUN(&r, "replay", "x.dat", "-e", "kvm_exit");
	EXPECT_ONE_ERROR(&r, 2, "-e is not an option of replay");
	run_free(&r);
}

TEST_HARNESS_MAIN
