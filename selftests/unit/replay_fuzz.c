// SPDX-License-Identifier: GPL-2.0
/*
 * replay_fuzz.c - libFuzzer target for kvmio-lat replay's own parsing
 * (`make fuzz`): the trace records of a recording, as replay.c translates
 * them into engine events, its "kvmio_lat tgids/end" markers and saved_tgids
 * files.  The trace-cmd container itself is libtracecmd's, which replay
 * already runs in a child process because it does not survive every
 * damaged file.
 *
 * The event formats (field offsets and sizes, event ids) come from a real
 * recording, $KVL_FUZZ_DAT (make fuzz: selftests/unit/fixtures/
 * replay_native.dat); from replay_uring.dat beside it when it has no
 * io_uring events (the same kernel's recording, with them too), so that
 * io_uring's records are fuzzed as well.  The input is decoded into records
 * of those events
 * whose payload, size, flags, thread, CPU and timestamp are the fuzzer's,
 * marker texts and tgids files.  Whatever they hold, replay must not crash,
 * leak or hit undefined behaviour, and what it prints must parse back with
 * the reader's strict parser.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "../../userspace/replay.c"
#include "fuzz_input.h"

static struct kvl_replay *tmpl;		/* the recording's formats */
static int kind_id[K_NR];		/* an event id of each kind */
static FILE *devnull;

/* The formats of recording @dat, or NULL. */
static struct kvl_replay *open_template(const char *dat)
{
	struct kvl_replay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->path = dat;
	r->err = stderr;
	r->handle = tracecmd_open(dat, TRACECMD_FL_LOAD_NO_PLUGINS |
				  TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	r->tep = r->handle ? tracecmd_get_tep(r->handle) : NULL;
	if (!r->tep || tep_get_cpus(r->tep) <= 0 || kvl_setup_events(r)) {
		if (r->handle)
			tracecmd_close(r->handle);
		free(r);
		return NULL;
	}
	r->nr_cpus = (u32)tep_get_cpus(r->tep);
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dat = getenv("KVL_FUZZ_DAT"), *slash;
	static char uring[4096];	/* the template's path */
	struct kvl_replay *r, *u;
	int id;

	devnull = fopen("/dev/null", "w");
	if (!dat || !devnull) {
		fprintf(stderr, "replay_fuzz: set KVL_FUZZ_DAT to a kvmio-lat recording\n");
		exit(2);
	}
	tracecmd_set_loglevel(TEP_LOG_NONE);
	tep_set_loglevel(TEP_LOG_NONE);
	r = open_template(dat);
	if (!r) {
		fprintf(stderr, "replay_fuzz: cannot use %s\n", dat);
		exit(2);
	}
	/* io_uring's records too, from the recording beside it that has them */
	slash = strrchr(dat, '/');
	snprintf(uring, sizeof(uring), "%.*sreplay_uring.dat",
		 slash ? (int)(slash - dat + 1) : 0, dat);
	if (!r->desc[K_URING_SUBMIT].need && !access(uring, R_OK)) {
		u = open_template(uring);
		if (!u || !u->desc[K_URING_SUBMIT].need ||
		    !u->desc[K_URING_COMPLETE].need) {
			fprintf(stderr, "replay_fuzz: cannot use %s\n", uring);
			exit(2);
		}
		tracecmd_close(r->handle);
		free(r);
		r = u;
	}
	fprintf(stderr, "replay_fuzz: the event formats of %s\n", r->path);
	for (id = 0; id < 65536; id++)
		if (r->kind[id] && !kind_id[r->kind[id]])
			kind_id[r->kind[id]] = id;
	tmpl = r;
	return 0;
}

/* A fresh replay on the template's formats. */
static struct kvl_replay *replay_new(struct in *in)
{
	struct kvl_replay *r = malloc(sizeof(*r));
	struct kvl_config cfg;

	CHECK(r, "out of memory");
	memcpy(r, tmpl, sizeof(*r));
	memset(&r->eng, 0, sizeof(r->eng));
	r->retired = NULL;
	r->memory = 0;
	r->tasks = NULL;
	r->task_cap = r->nr_tasks = 0;
	r->have_map = r->have_markers = false;
	r->end_n = r->nr_ends = 0;
	memset(&r->st, 0, sizeof(r->st));
	r->err = devnull;
	r->path = "fuzz.dat";
	r->end_seen = calloc(r->nr_cpus, 1);
	kvl_config_defaults(&cfg);
	cfg.max_vms = 1 + u8_of(in) % 4;
	cfg.max_vcpus = 1 + u8_of(in) % 8;
	kvl_config_check(&cfg);
	r->vms = calloc(cfg.max_vms, sizeof(*r->vms));
	CHECK(r->vms && r->end_seen, "out of memory");
	kvl_engine_init(&r->eng, &cfg, &kvl_rp_ops, r->vms);
	/* as kvl_setup_events() tells a replay of the template */
	kvl_engine_set_uring_traced(&r->eng, r->desc[K_URING_COMPLETE].need > 0);
	return r;
}

/* One record of kind @k (or of a random type) with the input's bytes. */
static void record(struct kvl_replay *r, struct in *in, u64 *ts)
{
	enum kvl_kind k = (enum kvl_kind)(1 + u8_of(in) % (K_NR - 1));
	int need = r->desc[k].need, size, i;
	struct tep_record rec = { 0 };
	uint8_t *d, sz = u8_of(in), small;
	u16 type = kind_id[k];
	s32 tid;

	/* mostly whole records, some short, some longer, some empty */
	size = sz < 200 ? need + sz % 24 : sz < 240 ? sz % (need + 1) : 0;
	if (u8_of(in) == 0xee)
		type = u8_of(in) | (u16)u8_of(in) << 8;
	small = u8_of(in) & 1;		/* fields of small values: ids collide */
	d = size ? malloc(size) : NULL;	/* exactly @size: ASan sees overreads */
	for (i = 0; i < size; i++) {
		d[i] = u8_of(in);
		if (small)
			d[i] = d[i] < 0x40 ? d[i] & 3 : 0;
	}
	tid = 100 + u8_of(in) % 24;
	if (size >= 8) {
		memcpy(d, &type, 2);
		d[2] = u8_of(in) & 0x58;	/* hardirq, softirq, nmi bits */
		memcpy(d + 4, &tid, 4);
	}
	*ts += u8_of(in) * 1000ULL;
	rec.ts = *ts;
	rec.data = d;
	rec.size = size;
	rec.cpu = u8_of(in) % r->nr_cpus;
	rec.missed_events = u8_of(in) == 0xdd ? -1 : 0;
	if (k == K_PRINT && size >= need)	/* pass 1 reads the markers */
		CHECK(!kvl_parse_marker(r, (const char *)d + r->desc[k].f[0]->offset,
					(const char *)d + size, rec.cpu), "marker");
	kvl_replay_record(r, &rec);
	free(d);
}

/*
 * @n bytes of text into @buf: raw input bytes, or (mostly) "TID<sep>TGID"
 * pairs of the threads records use, so that threads share a process.
 */
static size_t text(struct in *in, char *buf, size_t n, char sep, char end)
{
	size_t len = 0;

	if (u8_of(in) % 4 == 0) {
		for (; len < n; len++)
			buf[len] = (char)u8_of(in);
		return len;
	}
	while (len + 16 < n && in->n) {
		uint8_t b = u8_of(in);

		len += snprintf(buf + len, n - len, "%d%c%d%c", 100 + b % 24, sep,
				100 + (b >> 5) * 3, end);
	}
	return len;
}

/* A marker line: "kvmio_lat tgids 1: ..." or "kvmio_lat end 1: ...". */
static void marker(struct kvl_replay *r, struct in *in)
{
	static const char *const pre[] = { KVL_TGID_MARKER " ", KVL_END_MARKER " cpu=", "" };
	const char *p = pre[u8_of(in) % 3];
	size_t plen = strlen(p), n;
	char buf[256];

	memcpy(buf, p, plen);
	n = text(in, buf + plen, 1 + u8_of(in) % 128, '=', ' ');
	CHECK(!kvl_parse_marker(r, buf, buf + plen + n, u8_of(in) % 4), "marker");
}

/* A saved_tgids copy ("TID TGID" lines). */
static void tgids(struct kvl_replay *r, struct in *in)
{
	int fd = memfd_create("tgids", MFD_CLOEXEC);
	char path[64], buf[256];
	size_t n;

	CHECK(fd >= 0, "memfd_create");
	n = text(in, buf, 1 + u8_of(in) % 200, ' ', '\n');
	CHECK(write(fd, buf, n) == (ssize_t)n, "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	kvl_load_tgids(r, path);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct kvl_replay *r = replay_new(&in);
	struct kvl_snap s;
	struct kvl_perr pe;
	u64 ts = 1000000000ULL;
	char *out = NULL, *sep;
	size_t len = 0;
	FILE *f;

	while (in.n) {
		uint8_t op = u8_of(&in) % 8;

		if (op == 6)
			marker(r, &in);
		else if (op == 7)
			tgids(r, &in);
		else
			record(r, &in, &ts);
	}
	f = open_memstream(&out, &len);
	CHECK(f && !kvl_replay_print(r, f), "print");
	fclose(f);
	sep = strstr(out, KVL_STATS_SEP);
	CHECK(sep, "no stats separator");
	kvl_snap_init(&s);
	CHECK(!kvl_parse_hist(&s, out, sep - out, &pe), "the hist text does not parse: line %u: %s",
	      pe.line, pe.msg);
	sep += strlen(KVL_STATS_SEP);
	CHECK(!kvl_parse_stats(&s, sep, out + len - sep, &pe),
	      "the stats text does not parse: line %u: %s", pe.line, pe.msg);
	kvl_snap_free(&s);
	free(out);
	r->handle = NULL;	/* the template's */
	kvl_replay_free(r);
	return 0;
}
