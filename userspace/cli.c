// SPDX-License-Identifier: GPL-2.0
/*
 * cli.c - the kvmio-lat commands (see kvmio-lat.8): options, loading,
 * the watch and export loops, exit codes.
 */
#include <assert.h>
#include <stdlib.h>
#include <stdarg.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>

#include "cli.h"
#include "source.h"
#include "output.h"
#include "replay.h"
#include "export.h"
#include "report.h"

#define KVL_WITHIN_MAX_MS	3600000	/* --within: an hour */

static const char kvl_usage[] =
"Usage: kvmio-lat COMMAND [OPTIONS]\n"
"\n"
"Where the block I/O latency of QEMU-KVM guests goes, read from the\n"
"kvmio_lat module's histograms (/sys/kernel/debug/kvmio_lat/hist).\n"
"\n"
"Commands:\n"
"  show [--input FILE [--stats FILE]] [FILTERS] [--disk] [--hist [--hist-unit UNIT]]\n"
"       [--json | --csv]\n"
"      latency per VM, vCPU, path and stage: count, min, mean, stddev,\n"
"      p50, p90, p99, p99.9, max; \"all\" rows merge the vCPUs of a VM\n"
"  watch [-i SECONDS] [-n COUNT] [--input FILE] [FILTERS] [--json | --csv]\n"
"      what completed in each interval (deltas), like iostat\n"
"  compare [FILTERS] A B\n"
"      two saved snapshots side by side: per stage p50, p99, ratio B/A\n"
"  compare --paths [FILTERS] [A]\n"
"      the native, threads and io_uring paths side by side (live, or\n"
"      snapshot A): per stage p50, p99, ratios to native\n"
"  reset\n"
"      zero every histogram and counter of the module\n"
"  record [-o FILE] [-b KB] [--all-syscalls] [-e EVENT]... [[--] COMMAND [ARGS...]]\n"
"      trace-cmd record of the events the engine needs, until COMMAND\n"
"      exits (or Ctrl-C); for hosts where the module cannot be loaded\n"
"  replay FILE [--tgids FILE] [--requests FILE] [FILTERS] [--disk]\n"
"         [--hist [--hist-unit UNIT]] [--json | --csv] [--speed]\n"
"      a trace-cmd recording through the module's engine, printed as show\n"
"  replay FILE --loop EV1,EV2,... [--key tid|tgid|vcpu|cpu] [--within MS]\n"
"         [--tgids FILE] [--pid PID] [--hist [--hist-unit UNIT]] [--json | --csv]\n"
"      your own event loop: the latency between consecutive events of the\n"
"      chain, per step and for the whole loop, per process\n"
"  export --openmetrics|--prometheus [--input FILE [--stats FILE]] [-o FILE [--every SECONDS]]\n"
"         [FILTERS] [--no-vcpu] [--stages LIST] [--buckets LIST]\n"
"      the histograms and stats as OpenMetrics text (Prometheus, PCP): on\n"
"      stdout, or replacing FILE atomically (node_exporter's textfile collector)\n"
"  report [--input FILE [--stats FILE] | --replay FILE [--tgids FILE]] [FILTERS]\n"
"         [-o FILE]\n"
"      one self-contained HTML page (SVG charts, no network, no JavaScript\n"
"      needed) to attach to a bug: on stdout, or replacing FILE atomically\n"
"\n"
"Filters:\n"
"  --pid PID        one VM (the QEMU process id)\n"
"  --vcpu N         one vCPU (its KVM vcpu id)\n"
"  --path PATH      native, threads or io_uring\n"
"  --exits          add exit latency by exit reason (export, report: always)\n"
"\n"
"Options:\n"
"  --input FILE     a saved snapshot (cat /sys/kernel/debug/kvmio_lat/hist > FILE)\n"
"  --stats FILE     a saved stats file for --input (the JSON \"stats\")\n"
"  --disk           show, replay: per VM, disk (QEMU's file descriptor) and\n"
"                   path: io, submit_to_irq and total, not vCPUs and stages\n"
"  --hist           draw each histogram as log2-grouped bars\n"
"  --hist-unit UNIT with --hist: rows in nsecs, usecs or msecs (default: the\n"
"                   largest unit the median is at least 16 of)\n"
"  --json           JSON, schema " KVL_JSON_SCHEMA " (watch: one document per line)\n"
"  --csv            CSV with a header row\n"
"  -i, --interval SECONDS\n"
"                   watch interval, 0.1 to 3600 (default 1)\n"
"  -n, --count COUNT\n"
"                   watch reports before exiting (default: until interrupted)\n"
"  --openmetrics    export: OpenMetrics text with classic histograms\n"
"  --prometheus     export: the same in the Prometheus text format 0.0.4, for\n"
"                   node_exporter's textfile collector (counters keep their type)\n"
"  --no-vcpu        export: the vCPUs of each VM merged, no vcpu label\n"
"  --stages LIST    export: only these stages, comma-separated, named as show\n"
"                   names them (total, io, submit_to_irq, ...)\n"
"  --buckets LIST   export: the le bounds in seconds, comma-separated, each\n"
"                   rounded to an exact bound of the module's buckets (default:\n"
"                   1, 2.5 and 5 x 10^k from 1 us to 10 s)\n"
"  --every SECONDS  export with -o: write FILE again every SECONDS (1 to 86400)\n"
"                   until SIGINT or SIGTERM\n"
"  -o FILE          record: the recording (default kvmio-lat.dat); export,\n"
"                   report: the file to write (default, or \"-\": stdout)\n"
"  -b KB            record: trace buffer per CPU, in KiB\n"
"  --all-syscalls   record: every system call, not only those the engine uses\n"
"  -e EVENT         record: one more event, SYSTEM:EVENT or EVENT (repeatable)\n"
"  --replay FILE    report: a trace-cmd recording, replayed as replay does\n"
"  --tgids FILE     replay, report --replay: thread groups (a saved_tgids copy)\n"
"  --speed          replay: print records per second on stderr\n"
"  --requests FILE  replay: every request recorded, one line each, to FILE\n"
"  --loop EV1,EV2,...\n"
"                   replay: events of a chain, each [SYSTEM:]EVENT, a system\n"
"                   call as sys_enter_NAME or sys_exit_NAME, with an optional\n"
"                   filter EVENT[FIELD=VALUE] (kvm_exit[exit_reason=io])\n"
"  --key KEY        replay --loop: tid (default), tgid, vcpu or cpu: what ties\n"
"                   an event to an instance of the chain first\n"
"  --within MS      replay --loop: an instance whose next event is more than MS\n"
"                   milliseconds after its last one is dropped (timed out)\n"
"  -h, --help       this help\n"
"  -V, --version    print the version\n"
"\n"
"Environment: KVMIO_LAT_DEBUGFS, where debugfs is mounted (default\n"
"/sys/kernel/debug).\n"
"Exit status: 0 success, 1 runtime error, 2 usage error.  See kvmio-lat(8).\n";

enum kvl_opt {
	OPT_INPUT = 256,
	OPT_STATS,
	OPT_PID,
	OPT_VCPU,
	OPT_PATH,
	OPT_EXITS,
	OPT_HIST,
	OPT_JSON,
	OPT_CSV,
	OPT_PATHS,
	OPT_TGIDS,
	OPT_SPEED,
	OPT_REQUESTS,
	OPT_ALL_SYSCALLS,
	OPT_DISK,
	OPT_HIST_UNIT,
	OPT_OPENMETRICS,
	OPT_PROMETHEUS,
	OPT_NO_VCPU,
	OPT_STAGES,
	OPT_BUCKETS,
	OPT_EVERY,
	OPT_REPLAY,
	OPT_LOOP,
	OPT_KEY,
	OPT_WITHIN,
	OPT_LONG_END,		/* the long options' bits end here (OB()) */
	OPT_INTERVAL = 'i',
	OPT_COUNT = 'n',
	OPT_OUTPUT = 'o',
	OPT_BUFFER = 'b',
	OPT_EVENT = 'e',
	OPT_HELP = 'h',
};

static const struct option kvl_options[] = {
	{ "input", required_argument, NULL, OPT_INPUT },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "vcpu", required_argument, NULL, OPT_VCPU },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "exits", no_argument, NULL, OPT_EXITS },
	{ "hist", no_argument, NULL, OPT_HIST },
	{ "hist-unit", required_argument, NULL, OPT_HIST_UNIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "paths", no_argument, NULL, OPT_PATHS },
	{ "tgids", required_argument, NULL, OPT_TGIDS },
	{ "speed", no_argument, NULL, OPT_SPEED },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "all-syscalls", no_argument, NULL, OPT_ALL_SYSCALLS },
	{ "disk", no_argument, NULL, OPT_DISK },
	{ "openmetrics", no_argument, NULL, OPT_OPENMETRICS },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "no-vcpu", no_argument, NULL, OPT_NO_VCPU },
	{ "stages", required_argument, NULL, OPT_STAGES },
	{ "buckets", required_argument, NULL, OPT_BUCKETS },
	{ "every", required_argument, NULL, OPT_EVERY },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "loop", required_argument, NULL, OPT_LOOP },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "within", required_argument, NULL, OPT_WITHIN },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Which options each command takes. */
#define OB(o)		(1u << ((o) - OPT_INPUT))	/* option bit */
#define F_FILTERS	(OB(OPT_PID) | OB(OPT_VCPU) | OB(OPT_PATH) | OB(OPT_EXITS))
#define F_FORMAT	(OB(OPT_JSON) | OB(OPT_CSV))
#define F_WATCH		(1u << 28)	/* -i, -n */
#define F_RECORD	(1u << 29)	/* -b, -e; options stop at the command */
#define F_OUTPUT	(1u << 30)	/* -o */
static_assert(OPT_LONG_END - OPT_INPUT <= 28, "option bits run into F_WATCH");

struct kvl_cmd;

struct kvl_args {
	const struct kvl_cmd *cmd;
	const char *input;
	const char *stats;
	struct kvl_show_opts o;
	bool paths;
	double interval;
	long count;
	int nr_pos;
	const char *pos[2];
	char **rest;		/* record: the command and its arguments */
	const char *tgids;
	const char *requests;
	bool speed;
	const char *output;
	unsigned long buffer_kb;
	bool all_syscalls;
	bool openmetrics;
	struct kvl_export_opts x;
	double every;		/* export: seconds between writes, 0: once */
	const char *replay;	/* report --replay */
	const char *loop;	/* replay --loop, its key, --within */
	enum kvl_loop_key loop_key;
	bool loop_key_set;
	u64 within_ns;
	const char *events[KVL_RECORD_MAX_EVENTS];	/* record -e */
	unsigned int nr_events;
	int argc;		/* the whole command line (report's header) */
	char **argv;
	FILE *out;
	FILE *err;
};

struct kvl_cmd {
	const char *name;
	unsigned int opts;
	int max_pos;
	int (*run)(struct kvl_args *a);
};

static int kvl_usage_error(struct kvl_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int kvl_usage_error(struct kvl_args *a, const char *fmt, ...)
{
	va_list ap;

	fputs(KVL_PROG ": ", a->err);
	if (a->cmd)
		fprintf(a->err, "%s: ", a->cmd->name);
	va_start(ap, fmt);
	vfprintf(a->err, fmt, ap);
	va_end(ap);
	fputs(" (try 'kvmio-lat --help')\n", a->err);
	return KVL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* option values */

static bool kvl_parse_long(const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return *s && !*end && !errno && *v >= min && *v <= max;
}

static int kvl_set_option(struct kvl_args *a, int c, const char *arg)
{
	struct kvl_filter *f = &a->o.f;
	long v;

	switch (c) {
	case OPT_INPUT:
		a->input = arg;
		break;
	case OPT_STATS:
		a->stats = arg;
		break;
	case OPT_REPLAY:
		a->replay = arg;
		break;
	case OPT_PID:
		if (!kvl_parse_long(arg, 1, 0x7fffffff, &v))
			return kvl_usage_error(a, "--pid wants a process id, not '%s'", arg);
		f->pid = (s32)v;
		break;
	case OPT_VCPU:
		if (!kvl_parse_long(arg, 0, 0xffffffffL - 1, &v))
			return kvl_usage_error(a, "--vcpu wants a vCPU number, not '%s'", arg);
		f->vcpu = v;
		break;
	case OPT_PATH:
		/* the engine's names, exactly: anything else selects nothing */
		for (v = 0; v < KVL_NR_PATHS; v++)
			if (!strcmp(arg, kvl_path_name(v)))
				break;
		if (v == KVL_NR_PATHS)
			return kvl_usage_error(a, "--path is native, threads or io_uring, not '%s'", arg);
		f->path = (int)v;
		break;
	case OPT_EXITS:
		f->exits = true;
		break;
	case OPT_HIST:
		a->o.hist = true;
		break;
	case OPT_HIST_UNIT:
		if (!kvl_hist_unit_parse(arg, &a->o.hist_unit))
			return kvl_usage_error(a, "--hist-unit is nsecs, usecs or msecs, not '%s'", arg);
		break;
	case OPT_JSON:
	case OPT_CSV:
		if (a->o.fmt != KVL_FMT_TEXT)
			return kvl_usage_error(a, "--json and --csv exclude each other");
		a->o.fmt = c == OPT_JSON ? KVL_FMT_JSON : KVL_FMT_CSV;
		break;
	case OPT_PATHS:
		a->paths = true;
		break;
	case OPT_INTERVAL: {
		char *end;

		errno = 0;
		a->interval = strtod(arg, &end);
		if (!*arg || *end || errno || !(a->interval >= 0.1) ||
		    a->interval > 3600)
			return kvl_usage_error(a, "-i wants seconds from 0.1 to 3600, not '%s'", arg);
		break;
	}
	case OPT_COUNT:
		if (!kvl_parse_long(arg, 1, 0x7fffffff, &v))
			return kvl_usage_error(a, "-n wants a count of at least 1, not '%s'", arg);
		a->count = v;
		break;
	case OPT_TGIDS:
		a->tgids = arg;
		break;
	case OPT_SPEED:
		a->speed = true;
		break;
	case OPT_REQUESTS:
		if (!*arg)
			return kvl_usage_error(a, "--requests wants a file name");
		a->requests = arg;
		break;
	case OPT_ALL_SYSCALLS:
		a->all_syscalls = true;
		break;
	case OPT_DISK:
		a->o.disks = true;
		break;
	case OPT_OUTPUT:
		if (!*arg)
			return kvl_usage_error(a, "-o wants a file name");
		a->output = arg;
		break;
	case OPT_LOOP:
		a->loop = arg;
		break;
	case OPT_KEY:
		if (!kvl_loop_key_parse(arg, &a->loop_key))
			return kvl_usage_error(a, "--key is tid, tgid, vcpu or cpu, not '%s'", arg);
		a->loop_key_set = true;
		break;
	case OPT_WITHIN: {
		char *end;
		double ms;

		errno = 0;
		ms = strtod(arg, &end);
		if (!*arg || *end || errno || !(ms > 0) || ms > KVL_WITHIN_MAX_MS)
			return kvl_usage_error(a, "--within wants milliseconds, more than 0 and at most %d, not '%s'",
					       KVL_WITHIN_MAX_MS, arg);
		a->within_ns = (u64)(ms * 1e6 + 0.5);
		break;
	}
	case OPT_EVENT:
		if (!kvl_record_event_name_ok(arg))
			return kvl_usage_error(a, "-e wants SYSTEM:EVENT or EVENT (letters, digits and _), not '%s'", arg);
		if (a->nr_events == KVL_RECORD_MAX_EVENTS)
			return kvl_usage_error(a, "at most %d -e events", KVL_RECORD_MAX_EVENTS);
		a->events[a->nr_events++] = arg;
		break;
	case OPT_BUFFER:
		if (!kvl_parse_long(arg, 64, 16L << 20, &v))
			return kvl_usage_error(a, "-b wants KiB per CPU from 64 to 16777216, not '%s'", arg);
		a->buffer_kb = (unsigned long)v;
		break;
	case OPT_OPENMETRICS:
		a->openmetrics = true;
		break;
	case OPT_PROMETHEUS:
		a->x.prometheus = true;
		break;
	case OPT_NO_VCPU:
		a->x.no_vcpu = true;
		break;
	case OPT_STAGES:
	case OPT_BUCKETS: {
		char msg[512];

		if ((c == OPT_STAGES ? kvl_export_parse_stages :
		     kvl_export_parse_buckets)(&a->x, arg, msg, sizeof(msg)))
			return kvl_usage_error(a, "%s", msg);
		break;
	}
	case OPT_EVERY: {
		char *end;

		errno = 0;
		a->every = strtod(arg, &end);
		if (!*arg || *end || errno || !(a->every >= 1) ||
		    a->every > KVL_EXPORT_EVERY_MAX)
			return kvl_usage_error(a, "--every wants seconds from 1 to %d, not '%s'",
					       KVL_EXPORT_EVERY_MAX, arg);
		break;
	}
	}
	return 0;
}

static bool kvl_option_allowed(const struct kvl_cmd *cmd, int c)
{
	if (c == OPT_INTERVAL || c == OPT_COUNT)
		return cmd->opts & F_WATCH;
	if (c == OPT_OUTPUT)
		return cmd->opts & F_OUTPUT;
	if (c == OPT_BUFFER || c == OPT_EVENT)
		return cmd->opts & F_RECORD;
	return cmd->opts & OB(c);
}

/* The spelling of option @c for messages. */
static const char *kvl_option_name(int c, char *buf, size_t size)
{
	const struct option *o;

	if (c == OPT_INTERVAL || c == OPT_COUNT || c == OPT_HELP ||
	    c == OPT_OUTPUT || c == OPT_BUFFER || c == OPT_EVENT) {
		snprintf(buf, size, "-%c", c);
		return buf;
	}
	for (o = kvl_options; o->name; o++)
		if (o->val == c)
			break;
	snprintf(buf, size, "--%s", o->name ? o->name : "?");
	return buf;
}

static int kvl_bad_option(struct kvl_args *a, int c, char **argv)
{
	const char *what = c == ':' ? "option '%s' needs a value" :
			   "unknown option '%s'";
	char buf[128];

	if (optopt >= OPT_INPUT)	/* a long option: val is ours */
		kvl_option_name(optopt, buf, sizeof(buf));
	else if (optopt > 0)
		snprintf(buf, sizeof(buf), "-%c", optopt);
	else
		snprintf(buf, sizeof(buf), "%s", argv[optind - 1]);
	return kvl_usage_error(a, what, buf);
}

/* argv[0] is the command's name. */
static int kvl_parse_args(struct kvl_args *a, int argc, char **argv)
{
	char name[32];
	int c, ret;

	/* record: options stop at the command ("+"), which takes its own */
	const char *optstr = a->cmd->opts & F_RECORD ? "+:hi:n:o:b:e:" :
			     ":hi:n:o:b:e:";

	optind = 0;	/* GNU: start over, tests run several command lines */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstr, kvl_options, NULL)) != -1) {
		if (c == OPT_HELP) {
			fputs(kvl_usage, a->out);
			return -1;
		}
		if (c == '?' || c == ':')
			return kvl_bad_option(a, c, argv);
		if (!kvl_option_allowed(a->cmd, c))
			return kvl_usage_error(a, "%s is not an option of %s",
					       kvl_option_name(c, name, sizeof(name)),
					       a->cmd->name);
		ret = kvl_set_option(a, c, optarg);
		if (ret)
			return ret;
	}
	if (a->cmd->opts & F_RECORD && optind < argc) {
		a->rest = &argv[optind];
		optind = argc;
	}
	for (; optind < argc; optind++) {
		if (a->nr_pos >= a->cmd->max_pos)
			return kvl_usage_error(a, "unexpected argument '%s'",
					       argv[optind]);
		a->pos[a->nr_pos++] = argv[optind];
	}
	if (a->stats && !a->input)
		return kvl_usage_error(a, "--stats goes with --input");
	/* the unit of bars that would not be drawn: a mistake, say so */
	if (a->o.hist_unit != KVL_HIST_UNIT_AUTO && !a->o.hist)
		return kvl_usage_error(a, "--hist-unit goes with --hist");
	/* the module keeps a disk's histograms per VM, not per vCPU */
	if (a->o.disks && (a->o.f.vcpu >= 0 || a->o.f.exits))
		return kvl_usage_error(a, "--disk rows are per VM: %s does not go with it",
				       a->o.f.vcpu >= 0 ? "--vcpu" : "--exits");
	return 0;
}

/* ------------------------------------------------------------------ */
/* filters that select nothing are errors, not empty output */

static bool kvl_has_vcpu(const struct kvl_snap *s, const struct kvl_filter *f)
{
	u32 i;

	for (i = 0; i < s->nr_vms; i++)
		if (kvl_filter_vm(f, &s->vms[i]) &&
		    kvl_svm_vcpu(&s->vms[i], (u32)f->vcpu))
			return true;
	return false;
}

static bool kvl_filter_matches(const struct kvl_snap *s,
			       const struct kvl_filter *f)
{
	return (!f->pid || kvl_snap_vm(s, f->pid)) &&
	       (f->vcpu < 0 || kvl_has_vcpu(s, f));
}

static int kvl_check_filter(struct kvl_args *a, const struct kvl_snap *s,
			    const char *src)
{
	const struct kvl_filter *f = &a->o.f;
	char list[128] = "";
	size_t n = 0;
	u32 i;

	if (f->pid && !kvl_snap_vm(s, f->pid)) {
		for (i = 0; i < s->nr_vms && n + 16 < sizeof(list); i++)
			n += snprintf(list + n, sizeof(list) - n, " %d",
				      s->vms[i].pid);
		kvl_errorf(a->err, "%s: no VM with pid %d (VMs in it:%s)", src,
			   f->pid, s->nr_vms ? list : " none");
		return -1;
	}
	if (f->vcpu >= 0 && !kvl_has_vcpu(s, f)) {
		kvl_errorf(a->err, "%s: no vCPU %lld in the selected VMs", src,
			   (long long)f->vcpu);
		return -1;
	}
	return 0;
}

static const char *kvl_source_name(const char *input, char *buf, size_t size)
{
	return input ? input : kvl_live_path(buf, size, "hist");
}

static int kvl_out_of_memory(struct kvl_args *a)
{
	kvl_errorf(a->err, "out of memory");
	return KVL_EXIT_ERROR;
}

/* ------------------------------------------------------------------ */
/* commands */

/*
 * The snapshot show and export read (--input and --stats, else the live
 * module's), its filters checked: 0, or -1 after an error with nothing
 * left to free.
 */
static int kvl_load_filtered(struct kvl_args *a, struct kvl_snap *s)
{
	char src[4096];

	if (kvl_load(s, a->input, a->stats, a->err))
		return -1;
	if (kvl_check_filter(a, s, kvl_source_name(a->input, src, sizeof(src)))) {
		kvl_snap_free(s);
		return -1;
	}
	return 0;
}

static int kvl_cmd_show(struct kvl_args *a)
{
	struct kvl_snap s;
	int ret;

	if (kvl_load_filtered(a, &s))
		return KVL_EXIT_ERROR;
	ret = kvl_print_show(a->out, &s, &a->o);
	kvl_snap_free(&s);
	return ret ? kvl_out_of_memory(a) : KVL_EXIT_OK;
}

static double kvl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void kvl_sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };

	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void kvl_wall_clock(char *buf, size_t size, bool iso)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, size, iso ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
}

/* One report: what changed from *@prev to a fresh snapshot. */
static int kvl_watch_once(struct kvl_args *a, struct kvl_snap *prev,
			  double *t_prev, bool first)
{
	struct kvl_snap cur, delta;
	char when[32];
	double t;
	int ret;

	if (kvl_load(&cur, a->input, a->stats, a->err))
		return KVL_EXIT_ERROR;
	t = kvl_now();
	if (kvl_snap_delta(prev, &cur, &delta)) {
		kvl_snap_free(&cur);
		return kvl_out_of_memory(a);
	}
	kvl_wall_clock(when, sizeof(when), a->o.fmt == KVL_FMT_CSV);
	ret = kvl_print_watch(a->out, &delta, t - *t_prev, when, &a->o, first);
	fflush(a->out);
	kvl_snap_free(&delta);
	kvl_snap_free(prev);
	*prev = cur;
	*t_prev = t;
	return ret ? kvl_out_of_memory(a) : KVL_EXIT_OK;
}

static int kvl_cmd_watch(struct kvl_args *a)
{
	struct kvl_snap prev;
	double start, t_prev;
	long i;
	int ret = KVL_EXIT_OK;

	if (kvl_load(&prev, a->input, a->stats, a->err))
		return KVL_EXIT_ERROR;
	start = t_prev = kvl_now();
	for (i = 0; !a->count || i < a->count; i++) {
		kvl_sleep_until(start + (i + 1) * a->interval);
		ret = kvl_watch_once(a, &prev, &t_prev, i == 0);
		if (ret)
			break;
	}
	kvl_snap_free(&prev);
	return ret;
}

static int kvl_cmd_compare_paths(struct kvl_args *a)
{
	const char *input = a->nr_pos ? a->pos[0] : NULL;
	struct kvl_snap s;
	char buf[4096];
	const char *src = kvl_source_name(input, buf, sizeof(buf));
	int ret;

	if (kvl_load(&s, input, NULL, a->err))
		return KVL_EXIT_ERROR;
	if (kvl_check_filter(a, &s, src)) {
		kvl_snap_free(&s);
		return KVL_EXIT_ERROR;
	}
	ret = kvl_print_compare_paths(a->out, &s, src, &a->o.f);
	kvl_snap_free(&s);
	return ret ? kvl_out_of_memory(a) : KVL_EXIT_OK;
}

static int kvl_cmd_compare(struct kvl_args *a)
{
	struct kvl_snap sa, sb;
	int ret = KVL_EXIT_ERROR;

	if (a->paths)
		return kvl_cmd_compare_paths(a);
	if (a->nr_pos != 2)
		return kvl_usage_error(a, "wants two snapshot files, A and B (or --paths)");
	if (kvl_load(&sa, a->pos[0], NULL, a->err))
		return KVL_EXIT_ERROR;
	if (kvl_load(&sb, a->pos[1], NULL, a->err)) {
		kvl_snap_free(&sa);
		return KVL_EXIT_ERROR;
	}
	if (!kvl_filter_matches(&sb, &a->o.f) &&
	    kvl_check_filter(a, &sa, a->pos[0]))
		goto out;
	if (kvl_print_compare(a->out, &sa, a->pos[0], &sb, a->pos[1], &a->o.f))
		ret = kvl_out_of_memory(a);
	else
		ret = KVL_EXIT_OK;
out:
	kvl_snap_free(&sa);
	kvl_snap_free(&sb);
	return ret;
}

static int kvl_cmd_reset(struct kvl_args *a)
{
	return kvl_reset_live(a->err) ? KVL_EXIT_ERROR : KVL_EXIT_OK;
}

static void kvl_replay_speed(struct kvl_args *a, const struct kvl_replay_stats *st)
{
	double run = st->seconds - st->open_seconds;

	fprintf(a->err, "%s: replay: %llu records on %u CPUs, %llu to the %s, in %.3f s (%.3f s opening the file): %.0f records/s, %.0f after opening\n",
		KVL_PROG, (unsigned long long)st->records, st->cpus,
		(unsigned long long)st->events, a->loop ? "loop" : "engine",
		st->seconds, st->open_seconds,
		st->seconds > 0 ? st->records / st->seconds : 0.0,
		run > 0 ? st->records / run : 0.0);
}

/* replay --loop: the chain checked here, its events in the recording. */
static int kvl_cmd_replay_loop(struct kvl_args *a)
{
	const struct kvl_filter *f = &a->o.f;
	struct kvl_replay_opts ro = { .tgids = a->tgids, .show = &a->o };
	struct kvl_replay_stats st;
	struct kvl_loop_spec *spec;
	const char *other = f->vcpu >= 0 ? "--vcpu" : f->path >= 0 ? "--path" :
			    f->exits ? "--exits" : a->o.disks ? "--disk" :
			    a->requests ? "--requests" : NULL;
	char msg[256];
	int ret;

	if (other)
		return kvl_usage_error(a, "--loop prints a chain's steps per process: %s does not go with it",
				       other);
	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return kvl_out_of_memory(a);
	if (kvl_loop_parse(spec, a->loop, msg, sizeof(msg))) {
		free(spec);
		return kvl_usage_error(a, "%s", msg);
	}
	spec->key = a->loop_key;
	spec->within_ns = a->within_ns;
	ro.loop = spec;
	ret = kvl_replay_loop(a->pos[0], &ro, a->out, &st, a->err) ?
	      KVL_EXIT_ERROR : KVL_EXIT_OK;
	if (!ret && a->speed)
		kvl_replay_speed(a, &st);
	free(spec);
	return ret;
}

static int kvl_cmd_replay(struct kvl_args *a)
{
	struct kvl_replay_opts ro = { .tgids = a->tgids, .requests = a->requests };
	struct kvl_replay_stats st;
	struct kvl_snap s;
	int ret;

	if (a->nr_pos != 1)
		return kvl_usage_error(a, "wants one recording (a trace-cmd .dat file)");
	if (a->loop)
		return kvl_cmd_replay_loop(a);
	if (a->loop_key_set || a->within_ns)
		return kvl_usage_error(a, "%s goes with --loop",
				       a->loop_key_set ? "--key" : "--within");
	if (kvl_replay(a->pos[0], &ro, &s, &st, a->err))
		return KVL_EXIT_ERROR;
	if (a->speed)
		kvl_replay_speed(a, &st);
	if (kvl_check_filter(a, &s, a->pos[0])) {
		kvl_snap_free(&s);
		return KVL_EXIT_ERROR;
	}
	ret = kvl_print_show(a->out, &s, &a->o);
	kvl_snap_free(&s);
	return ret ? kvl_out_of_memory(a) : KVL_EXIT_OK;
}

/* One export: read, then stdout or -o FILE (which a failure leaves alone). */
static int kvl_export_once(struct kvl_args *a, struct kvl_export_names *names)
{
	struct kvl_snap s;
	int ret;

	if (kvl_load_filtered(a, &s))
		return KVL_EXIT_ERROR;
	if (a->output)
		ret = kvl_export_file(a->output, &s, &a->x, names, a->err) ?
		      KVL_EXIT_ERROR : KVL_EXIT_OK;
	else
		ret = kvl_export_openmetrics(a->out, &s, &a->x, names) ?
		      kvl_out_of_memory(a) : KVL_EXIT_OK;
	kvl_snap_free(&s);
	return ret;
}

/*
 * Sleep until @t (kvl_now()), or until one of @set (blocked) arrives:
 * true then.  Blocked, a signal cannot land between a check and the
 * sleep, nor in the middle of a write, which always finishes (or removes
 * its temporary file) before the loop looks.
 */
static bool kvl_wait_signal(const sigset_t *set, double t)
{
	struct timespec ts;
	double left;

	while ((left = t - kvl_now()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - ts.tv_sec) * 1e9);
		if (sigtimedwait(set, NULL, &ts) > 0)
			return true;
	}
	/* past the time already (a slow write): one that came meanwhile */
	ts.tv_sec = 0;
	ts.tv_nsec = 0;
	return sigtimedwait(set, NULL, &ts) > 0;
}

/*
 * export --every: FILE written again every interval (from the start, as
 * watch's reports: no drift), until SIGINT, SIGTERM or SIGHUP, then exit
 * 0.  The first write must work (a wrong path or a missing module shows at
 * once); a later failure is reported and leaves the last FILE in place.
 */
static int kvl_export_every(struct kvl_args *a)
{
	struct kvl_export_names names = { 0 };
	sigset_t set, old;
	double start;
	long i;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	start = kvl_now();
	ret = kvl_export_once(a, &names);
	for (i = 1; !ret && !kvl_wait_signal(&set, start + i * a->every); i++) {
		kvl_export_once(a, &names);
		fflush(a->err);
	}
	/* a second Ctrl-C must not kill us once unblocked: taken too */
	while (kvl_wait_signal(&set, 0))
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	kvl_export_names_free(&names);
	return ret;
}

static int kvl_cmd_export(struct kvl_args *a)
{
	if (a->openmetrics == a->x.prometheus)
		return kvl_usage_error(a, "wants one format: --openmetrics or --prometheus");
	if (a->every && !a->output)
		return kvl_usage_error(a, "--every goes with -o FILE");
	if (a->x.no_vcpu && a->o.f.vcpu >= 0)
		return kvl_usage_error(a, "--no-vcpu merges the vCPUs: --vcpu does not go with it");
	a->x.f = a->o.f;
	a->x.f.exits = true;	/* exit latency by reason: always */
	a->x.live = !a->input;
	return a->every ? kvl_export_every(a) : kvl_export_once(a, NULL);
}

static int kvl_cmd_record(struct kvl_args *a)
{
	struct kvl_record_opts ro = {
		.output = a->output ? a->output : "kvmio-lat.dat",
		.buffer_kb = a->buffer_kb,
		.all_syscalls = a->all_syscalls,
		.cmd = a->rest,
		.events = a->events,
		.nr_events = a->nr_events,
	};

	return kvl_record(&ro, a->err);
}

/*
 * report: the snapshot show or replay would print (--input, --replay or
 * the live module's), as one HTML page on stdout or in -o FILE, which is
 * written only once the snapshot is read.
 */
static int kvl_cmd_report(struct kvl_args *a)
{
	struct kvl_report_opts ro = {
		.f = a->o.f,
		.source = a->replay ? KVL_REPORT_REPLAY :
			  a->input ? KVL_REPORT_INPUT : KVL_REPORT_LIVE,
		.path = a->replay ? a->replay : a->input,
		.stats_path = a->stats,
		.argc = a->argc,
		.argv = a->argv,
	};
	struct kvl_replay_opts rpo = { .tgids = a->tgids };
	struct kvl_replay_stats st;
	struct kvl_snap s;
	int ret;

	if (a->replay && a->input)
		return kvl_usage_error(a, "--input and --replay exclude each other");
	if (a->tgids && !a->replay)
		return kvl_usage_error(a, "--tgids goes with --replay");
	ro.f.exits = true;	/* exit latency by reason: always */
	if (!a->replay) {
		if (kvl_load_filtered(a, &s))
			return KVL_EXIT_ERROR;
	} else if (kvl_replay(a->replay, &rpo, &s, &st, a->err)) {
		return KVL_EXIT_ERROR;
	} else if (kvl_check_filter(a, &s, a->replay)) {
		kvl_snap_free(&s);
		return KVL_EXIT_ERROR;
	}
	kvl_report_facts(&ro);
	if (a->output && strcmp(a->output, "-"))
		ret = kvl_report_to_file(a->output, &s, &ro, a->err) ?
		      KVL_EXIT_ERROR : KVL_EXIT_OK;
	else
		ret = kvl_report_html(a->out, &s, &ro) ?
		      kvl_out_of_memory(a) : KVL_EXIT_OK;
	kvl_snap_free(&s);
	return ret;
}

static const struct kvl_cmd kvl_cmds[] = {
	{ "show", OB(OPT_INPUT) | OB(OPT_STATS) | F_FILTERS | OB(OPT_HIST) |
		  OB(OPT_HIST_UNIT) | OB(OPT_DISK) | F_FORMAT, 0, kvl_cmd_show },
	{ "watch", OB(OPT_INPUT) | OB(OPT_STATS) | F_FILTERS | F_FORMAT |
		   F_WATCH, 0, kvl_cmd_watch },
	{ "compare", F_FILTERS | OB(OPT_PATHS), 2, kvl_cmd_compare },
	{ "reset", 0, 0, kvl_cmd_reset },
	{ "replay", OB(OPT_TGIDS) | OB(OPT_SPEED) | OB(OPT_REQUESTS) | F_FILTERS | OB(OPT_HIST) |
		    OB(OPT_HIST_UNIT) | OB(OPT_DISK) | F_FORMAT | OB(OPT_LOOP) | OB(OPT_KEY) |
		    OB(OPT_WITHIN), 1, kvl_cmd_replay },
	{ "record", F_RECORD | F_OUTPUT | OB(OPT_ALL_SYSCALLS), 0, kvl_cmd_record },
	{ "export", OB(OPT_OPENMETRICS) | OB(OPT_PROMETHEUS) | OB(OPT_INPUT) | OB(OPT_STATS) | F_FILTERS |
		    OB(OPT_NO_VCPU) | OB(OPT_STAGES) | OB(OPT_BUCKETS) | OB(OPT_EVERY) |
		    F_OUTPUT, 0, kvl_cmd_export },
	{ "report", OB(OPT_INPUT) | OB(OPT_STATS) | OB(OPT_REPLAY) | OB(OPT_TGIDS) |
		    F_FILTERS | F_OUTPUT, 0, kvl_cmd_report },
};

static int kvl_top_option(struct kvl_args *a, const char *opt)
{
	if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
		fputs(kvl_usage, a->out);
		return KVL_EXIT_OK;
	}
	if (!strcmp(opt, "-V") || !strcmp(opt, "--version")) {
		fprintf(a->out, "%s %s (hist format %d)\n", KVL_PROG,
			KVL_VERSION, KVL_HIST_FORMAT_VERSION);
		return KVL_EXIT_OK;
	}
	return kvl_usage_error(a, "unknown option '%s'", opt);
}

static int kvl_run(struct kvl_args *a, int argc, char **argv)
{
	unsigned int i;
	int ret;

	if (argc < 2)
		return kvl_usage_error(a, "no command given");
	if (argv[1][0] == '-')
		return kvl_top_option(a, argv[1]);
	for (i = 0; i < ARRAY_SIZE(kvl_cmds); i++)
		if (!strcmp(argv[1], kvl_cmds[i].name))
			a->cmd = &kvl_cmds[i];
	if (!strcmp(argv[1], "help")) {
		fputs(kvl_usage, a->out);
		return KVL_EXIT_OK;
	}
	if (!a->cmd)
		return kvl_usage_error(a, "unknown command '%s'", argv[1]);
	ret = kvl_parse_args(a, argc - 1, argv + 1);
	if (ret)
		return ret < 0 ? KVL_EXIT_OK : ret;	/* -1: --help */
	return a->cmd->run(a);
}

int kvl_cli(int argc, char **argv, FILE *out, FILE *err)
{
	struct kvl_args a = { .out = out, .err = err, .interval = 1.0,
			      .argc = argc, .argv = argv };
	int ret;

	kvl_filter_init(&a.o.f);
	a.o.fmt = KVL_FMT_TEXT;
	kvl_export_opts_init(&a.x);
	ret = kvl_run(&a, argc, argv);
	if (fflush(out) || ferror(out)) {
		kvl_errorf(err, "writing the output: %s", strerror(errno));
		return KVL_EXIT_ERROR;
	}
	return ret;
}
