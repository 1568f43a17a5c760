// SPDX-License-Identifier: GPL-2.0
/*
 * record.c - kvmio-lat record: trace-cmd record of the events the engine
 * needs, with the "mono" trace clock, until a command exits or SIGINT; then
 * the thread-group map into the recording (see replay.h).
 *
 * trace-cmd runs in its own process group, so Ctrl-C at the terminal
 * reaches the command (or us) and not the recorder: we stop it ourselves
 * once the map is written.
 */
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sched.h>
#include <dirent.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "replay.h"
#include "source.h"
#include "cli.h"

#define KVL_TRACEFS_ENV		"KVMIO_LAT_TRACEFS"	/* tests, odd mounts */
#define KVL_TRACE_CMD_ENV	"KVMIO_LAT_TRACE_CMD"	/* tests */
#define KVL_READY_TIMEOUT_S	120	/* trace-cmd setting up, a slow guest */
#define KVL_CMDLINES_SIZE	"8192"	/* comms of every thread we may see */

static volatile sig_atomic_t kvl_stop;

static void kvl_on_signal(int sig)
{
	(void)sig;
	kvl_stop = 1;
}

static const char *kvl_tracefs(void)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	const char *d = getenv(KVL_TRACEFS_ENV);
	char path[256];
	unsigned int i;

	if (d && *d)
		return d;
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/trace_marker", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	return NULL;
}

static int kvl_read_small(const char *dir, const char *name, char *buf,
			  size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int kvl_write_small(const char *dir, const char *name, const char *s)
{
	char path[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static bool kvl_file_exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return !access(path, F_OK);
}

/* "id==1||id==7||..." */
static char *kvl_syscall_filter(void)
{
	u32 ids[64];
	unsigned int n = kvl_record_syscalls(ids, ARRAY_SIZE(ids)), i;
	size_t len = 0, cap = 16 * ARRAY_SIZE(ids);
	char *f = malloc(cap);

	if (!f || n > ARRAY_SIZE(ids)) {
		free(f);
		return NULL;
	}
	f[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(f + len, cap - len, "%sid==%u", i ? "||" : "",
				ids[i]);
	return f;
}

/* ------------------------------------------------------------------ */
/* the thread-group map */

struct kvl_pairs {
	s32 (*p)[2];
	size_t n, cap;
};

static int kvl_pairs_add(struct kvl_pairs *pp, s32 tid, s32 tgid)
{
	if (tid <= 0 || tgid <= 0 || tid == tgid)
		return 0;
	if (pp->n == pp->cap) {
		size_t cap = pp->cap ? pp->cap * 2 : 1024;
		void *q = realloc(pp->p, cap * sizeof(*pp->p));

		if (!q)
			return -1;
		pp->p = q;
		pp->cap = cap;
	}
	pp->p[pp->n][0] = tid;
	pp->p[pp->n][1] = tgid;
	pp->n++;
	return 0;
}

/* The kernel's map (record-tgid): every thread that traced an event. */
static int kvl_saved_tgids(const char *tracefs, struct kvl_pairs *pp)
{
	char path[512];
	long tid, tgid;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/saved_tgids", tracefs);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!ret && fscanf(f, "%ld %ld", &tid, &tgid) == 2)
		ret = kvl_pairs_add(pp, (s32)tid, (s32)tgid);
	fclose(f);
	return ret;
}

/* Threads alive now, from /proc (belt and braces). */
static int kvl_proc_tgids(struct kvl_pairs *pp)
{
	DIR *proc = opendir("/proc"), *task;
	struct dirent *p, *t;
	char path[64];
	int ret = 0;

	if (!proc)
		return 0;
	while (!ret && (p = readdir(proc))) {
		long tgid = strtol(p->d_name, NULL, 10);

		if (tgid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task", tgid);
		task = opendir(path);
		if (!task)
			continue;
		while (!ret && (t = readdir(task))) {
			long tid = strtol(t->d_name, NULL, 10);

			if (tid > 0)
				ret = kvl_pairs_add(pp, (s32)tid, (s32)tgid);
		}
		closedir(task);
	}
	closedir(proc);
	return ret;
}

/* The end line on every CPU we may run on: its last event in the trace. */
static int kvl_write_ends(int fd, const char *path, FILE *err)
{
	cpu_set_t *all, *one;
	int ncpu = CPU_SETSIZE, cpu, n = 0, ret = 0;
	size_t size;
	char line[96];

	for (;;) {
		all = CPU_ALLOC(ncpu);
		if (!all)
			return -1;
		size = CPU_ALLOC_SIZE(ncpu);
		if (!sched_getaffinity(0, size, all))
			break;
		CPU_FREE(all);
		if (errno != EINVAL || ncpu >= (1 << 20)) {
			kvl_errorf(err, "sched_getaffinity: %s", strerror(errno));
			return -1;
		}
		ncpu *= 2;
	}
	one = CPU_ALLOC(ncpu);
	if (!one) {
		CPU_FREE(all);
		return -1;
	}
	n = CPU_COUNT_S(size, all);
	for (cpu = 0; cpu < ncpu && !ret; cpu++) {
		int len;

		if (!CPU_ISSET_S(cpu, size, all))
			continue;
		CPU_ZERO_S(size, one);
		CPU_SET_S(cpu, size, one);
		if (sched_setaffinity(0, size, one)) {
			/* offline meanwhile: one line fewer */
			n--;
			continue;
		}
		len = snprintf(line, sizeof(line), "%s cpu=%d n=%d\n",
			       KVL_END_MARKER, cpu, n);
		if (write(fd, line, len) != len) {
			kvl_errorf(err, "cannot write %s: %s", path,
				   strerror(errno));
			ret = -1;
		}
	}
	sched_setaffinity(0, size, all);
	CPU_FREE(one);
	CPU_FREE(all);
	return ret;
}

static int kvl_write_markers(const char *tracefs, FILE *err)
{
	struct kvl_pairs pp = { 0 };
	char line[KVL_TGID_LINE_MAX + 32], path[512];
	size_t i, len, start = 0;
	int fd, ret = 0;

	if (kvl_saved_tgids(tracefs, &pp) || kvl_proc_tgids(&pp)) {
		free(pp.p);
		kvl_errorf(err, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/trace_marker", tracefs);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		kvl_errorf(err, "cannot write %s: %s", path, strerror(errno));
		free(pp.p);
		return -1;
	}
	/* at least one line, so replay knows the map is there even if empty */
	do {
		len = snprintf(line, sizeof(line), "%s", KVL_TGID_MARKER);
		for (i = start; i < pp.n; i++) {
			char item[32];
			int n = snprintf(item, sizeof(item), " %d=%d",
					 pp.p[i][0], pp.p[i][1]);

			if (len + n + 1 > KVL_TGID_LINE_MAX)
				break;
			memcpy(line + len, item, n);
			len += n;
		}
		start = i;
		line[len++] = '\n';
		if (write(fd, line, len) != (ssize_t)len) {
			kvl_errorf(err, "cannot write %s: %s", path,
				   strerror(errno));
			ret = -1;
			break;
		}
	} while (start < pp.n);
	if (!ret)
		ret = kvl_write_ends(fd, path, err);
	close(fd);
	free(pp.p);
	return ret;
}

/* ------------------------------------------------------------------ */
/* trace-cmd */

/*
 * aio=io_uring's events, besides kvl_trace_events[]: each where the kernel
 * has it (none without CONFIG_IO_URING; io_uring_submit_sqe up to 6.3,
 * io_uring_submit_req from 6.4).  replay.c's kvl_uring_events[] reads the
 * same list.
 */
static const struct kvl_trace_event kvl_record_uring_events[] = {
	{ "io_uring", "io_uring_submit_sqe", true },
	{ "io_uring", "io_uring_submit_req", true },
	{ "io_uring", "io_uring_complete", true },
};

#define KVL_NR_RECORD_EVENTS \
	(KVL_NR_TRACE_EVENTS + ARRAY_SIZE(kvl_record_uring_events))

/* Event @i of what record enables: kvl_trace_events[], then io_uring's. */
static const struct kvl_trace_event *kvl_record_event(unsigned int i)
{
	if (i < KVL_NR_TRACE_EVENTS)
		return &kvl_trace_events[i];
	return &kvl_record_uring_events[i - KVL_NR_TRACE_EVENTS];
}

static bool kvl_event_exists(const char *tracefs,
			     const struct kvl_trace_event *e)
{
	char name[128];

	snprintf(name, sizeof(name), "events/%s/%s/format", e->system, e->name);
	return kvl_file_exists(tracefs, name);
}

static int kvl_check_events(const char *tracefs, FILE *err)
{
	char missing[512] = "";
	size_t n = 0;
	int i, nr = 0;

	for (i = 0; i < KVL_NR_TRACE_EVENTS; i++) {
		const struct kvl_trace_event *e = &kvl_trace_events[i];

		if (e->optional || kvl_event_exists(tracefs, e))
			continue;
		if (!strcmp(e->system, "kvm") && !strcmp(e->name, "kvm_exit")) {
			kvl_errorf(err, "no kvm:kvm_exit event in %s: kvm is not loaded (modprobe kvm_intel or kvm_amd)",
				   tracefs);
			return -1;
		}
		n += snprintf(missing + n, sizeof(missing) - n, "%s%s:%s",
			      nr++ ? ", " : "", e->system, e->name);
		if (n >= sizeof(missing))
			n = sizeof(missing) - 1;
	}
	if (nr) {
		kvl_errorf(err, "this kernel has no %s event%s, which the engine needs",
			   missing, nr > 1 ? "s" : "");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* -e: more events */

static bool kvl_event_word(const char *s, size_t n)
{
	size_t i;

	if (!n || n >= 64)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

bool kvl_record_event_name_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (colon)
		return kvl_event_word(s, colon - s) &&
		       kvl_event_word(colon + 1, strlen(colon + 1));
	return kvl_event_word(s, strlen(s));
}

/* EVENT alone: the one system of tracefs that has it, into @full. */
static int kvl_find_system(const char *tracefs, const char *name, char *full,
			   size_t size, FILE *err)
{
	char path[200], other[160] = "";
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/events", tracefs);
	dir = opendir(path);
	if (!dir) {
		kvl_errorf(err, "cannot read %s/events: %s", tracefs,
			   strerror(errno));
		return -1;
	}
	full[0] = '\0';
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= 64)
			continue;
		snprintf(path, sizeof(path), "events/%.63s/%.63s/format",
			 d->d_name, name);
		if (!kvl_file_exists(tracefs, path))
			continue;
		if (full[0]) {
			snprintf(other, sizeof(other), "%.63s:%.63s", d->d_name,
				 name);
			break;
		}
		snprintf(full, size, "%.63s:%.63s", d->d_name, name);
	}
	closedir(dir);
	if (other[0]) {
		kvl_errorf(err, "-e %s: both %s and %s are events of this kernel: write SYSTEM:EVENT",
			   name, full, other);
		return -1;
	}
	if (!full[0]) {
		kvl_errorf(err, "-e %s: this kernel has no such event (%s/available_events lists them)",
			   name, tracefs);
		return -1;
	}
	return 0;
}

/*
 * -e's events as trace-cmd takes them, SYSTEM:EVENT, checked in tracefs
 * before trace-cmd starts; an event record enables anyway, or named twice,
 * is NULL in the list.  The list, or NULL after a message.
 */
static char **kvl_extra_events(const char *tracefs,
			       const struct kvl_record_opts *o, FILE *err)
{
	char **ev = calloc(o->nr_events + 1, sizeof(*ev)), name[160], path[200];
	unsigned int i, j;

	if (!ev) {
		kvl_errorf(err, "out of memory");
		return NULL;
	}
	for (i = 0; i < o->nr_events; i++) {
		bool again = false;

		if (strchr(o->events[i], ':')) {
			snprintf(name, sizeof(name), "%s", o->events[i]);
			snprintf(path, sizeof(path), "events/%.*s/%s/format",
				 (int)(strchr(name, ':') - name), name,
				 strchr(name, ':') + 1);
			if (!kvl_file_exists(tracefs, path)) {
				kvl_errorf(err, "-e %s: this kernel has no such event (no %s/%s)",
					   name, tracefs, path);
				goto fail;
			}
		} else if (kvl_find_system(tracefs, o->events[i], name,
					   sizeof(name), err)) {
			goto fail;
		}
		for (j = 0; j < KVL_NR_RECORD_EVENTS && !again; j++) {
			const struct kvl_trace_event *e = kvl_record_event(j);
			size_t n = strlen(e->system);

			again = !strncmp(name, e->system, n) && name[n] == ':' &&
				!strcmp(name + n + 1, e->name);
		}
		for (j = 0; j < i && !again; j++)
			again = ev[j] && !strcmp(ev[j], name);
		if (again)
			continue;
		ev[i] = strdup(name);
		if (!ev[i]) {
			kvl_errorf(err, "out of memory");
			goto fail;
		}
	}
	return ev;
fail:
	for (i = 0; i < o->nr_events; i++)
		free(ev[i]);
	free(ev);
	return NULL;
}

static void kvl_free_events(char **ev, unsigned int n)
{
	unsigned int i;

	for (i = 0; ev && i < n; i++)
		free(ev[i]);
	free(ev);
}

static char **kvl_trace_cmd_argv(const struct kvl_record_opts *o,
				 const char *tracefs, char *filter,
				 char *bufkb, char **extra)
{
	size_t n = 0, max = 32 + 2 * KVL_NR_RECORD_EVENTS + 8 +
			    2 * o->nr_events;
	char **argv = calloc(max, sizeof(*argv));
	const char *tc = getenv(KVL_TRACE_CMD_ENV);
	static char names[KVL_NR_RECORD_EVENTS][64];
	unsigned int i;

	if (!argv)
		return NULL;
	argv[n++] = (char *)(tc && *tc ? tc : "trace-cmd");
	argv[n++] = "record";
	argv[n++] = "-C";
	argv[n++] = "mono";
	if (kvl_file_exists(tracefs, "options/record-tgid")) {
		argv[n++] = "-O";
		argv[n++] = "record-tgid";
	}
	if (kvl_file_exists(tracefs, "saved_cmdlines_size")) {
		argv[n++] = "--cmdlines-size";
		argv[n++] = KVL_CMDLINES_SIZE;
	}
	if (o->buffer_kb) {
		argv[n++] = "-b";
		argv[n++] = bufkb;
	}
	argv[n++] = "-o";
	argv[n++] = (char *)o->output;
	for (i = 0; i < KVL_NR_RECORD_EVENTS; i++) {
		const struct kvl_trace_event *e = kvl_record_event(i);

		snprintf(names[i], sizeof(names[i]), "%s:%s", e->system,
			 e->name);
		if (e->optional && !kvl_event_exists(tracefs, e))
			continue;
		argv[n++] = "-e";
		argv[n++] = names[i];
		if (filter && !strcmp(e->system, "raw_syscalls")) {
			argv[n++] = "-f";
			argv[n++] = filter;
		}
	}
	for (i = 0; i < o->nr_events; i++) {
		if (!extra[i])
			continue;
		argv[n++] = "-e";
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	return argv;
}

static void kvl_describe_status(char *buf, size_t size, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "status 0x%x", status);
}

/* Has trace-cmd turned tracing on with our events?  Not: 0; died: -1. */
static int kvl_tracing_ready(const char *tracefs, pid_t tc, int *status)
{
	char on[16], en[16];

	if (waitpid(tc, status, WNOHANG) == tc)
		return -1;
	if (kvl_read_small(tracefs, "tracing_on", on, sizeof(on)) ||
	    kvl_read_small(tracefs, "events/kvm/kvm_exit/enable", en,
			   sizeof(en)))
		return 0;
	return on[0] == '1' && en[0] == '1';
}

static void kvl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR && !kvl_stop)
		;
}

static pid_t kvl_spawn(char **argv, bool own_group, bool stdout_to_stderr)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (own_group)
		setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (stdout_to_stderr)
		dup2(2, 1);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", KVL_PROG, argv[0],
		strerror(errno));
	_exit(127);
}

/* Stop trace-cmd (SIGINT: it writes the file) and wait for it. */
static int kvl_stop_trace_cmd(pid_t tc, int *status)
{
	kill(tc, SIGINT);
	while (waitpid(tc, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int kvl_record(const struct kvl_record_opts *o, FILE *err)
{
	const char *tracefs = kvl_tracefs();
	struct sigaction sa = { .sa_handler = kvl_on_signal }, old_int, old_term,
			 old_quit;
	char bufkb[32], what[96], *filter = NULL, **argv = NULL, **extra = NULL;
	int status = 0, cstatus = 0, ret = KVL_EXIT_ERROR, i;
	pid_t tc = -1, cmd = -1;
	struct stat st;

	if (!tracefs) {
		kvl_errorf(err, "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
		return KVL_EXIT_ERROR;
	}
	if (kvl_check_events(tracefs, err))
		return KVL_EXIT_ERROR;
	extra = kvl_extra_events(tracefs, o, err);
	if (!extra)
		return KVL_EXIT_ERROR;
	if (!kvl_file_exists(tracefs, "trace_marker") ||
	    kvl_write_small(tracefs, "tracing_on", "0")) {
		kvl_errorf(err, "cannot write %s/tracing_on: %s (run as root)",
			   tracefs, strerror(errno));
		goto out;
	}
	if (!o->all_syscalls) {
		filter = kvl_syscall_filter();
		if (!filter) {
			kvl_errorf(err, "out of memory");
			goto out;
		}
	}
	snprintf(bufkb, sizeof(bufkb), "%lu", o->buffer_kb);
	argv = kvl_trace_cmd_argv(o, tracefs, filter, bufkb, extra);
	if (!argv) {
		kvl_errorf(err, "out of memory");
		goto out;
	}

	kvl_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGQUIT, &sa, &old_quit);

	fflush(err);
	tc = kvl_spawn(argv, true, true);
	if (tc < 0) {
		kvl_errorf(err, "cannot fork: %s", strerror(errno));
		goto restore;
	}
	setpgid(tc, tc);	/* also here: no race with a signal to the group */
	for (i = 0; i < KVL_READY_TIMEOUT_S * 20 && !kvl_stop; i++) {
		int r = kvl_tracing_ready(tracefs, tc, &status);

		if (r < 0) {
			kvl_describe_status(what, sizeof(what), status);
			kvl_errorf(err, "%s record failed before tracing started (%s)",
				   argv[0], what);
			tc = -1;
			goto restore;
		}
		if (r > 0)
			break;
		kvl_sleep_ms(50);
	}
	if (kvl_stop || i == KVL_READY_TIMEOUT_S * 20) {
		if (!kvl_stop)
			kvl_errorf(err, "%s record did not start tracing in %d s",
				   argv[0], KVL_READY_TIMEOUT_S);
		else
			kvl_errorf(err, "interrupted before tracing started");
		kill(-tc, SIGKILL);
		waitpid(tc, &status, 0);
		tc = -1;
		goto restore;
	}

	if (o->cmd) {
		/* the terminal's Ctrl-C is the command's to handle */
		cmd = kvl_spawn(o->cmd, false, false);
		if (cmd < 0) {
			kvl_errorf(err, "cannot fork: %s", strerror(errno));
		} else {
			while (waitpid(cmd, &cstatus, 0) < 0 && errno == EINTR)
				;
		}
	} else {
		fprintf(err, "%s: recording to %s; Ctrl-C to stop\n", KVL_PROG,
			o->output);
		fflush(err);
		while (!kvl_stop) {
			pid_t p = waitpid(tc, &status, 0);

			if (p == tc) {
				kvl_describe_status(what, sizeof(what), status);
				kvl_errorf(err, "%s record stopped by itself (%s)",
					   argv[0], what);
				tc = -1;
				goto restore;
			}
		}
	}

	/* still recording: the map goes into the trace */
	if (waitpid(tc, &status, WNOHANG) == tc) {
		kvl_describe_status(what, sizeof(what), status);
		kvl_errorf(err, "%s record stopped before the end (%s)", argv[0],
			   what);
		tc = -1;
		goto restore;
	}
	if (kvl_write_markers(tracefs, err)) {
		kill(-tc, SIGKILL);
		waitpid(tc, &status, 0);
		tc = -1;
		goto restore;
	}
	if (kvl_stop_trace_cmd(tc, &status) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		kvl_describe_status(what, sizeof(what), status);
		kvl_errorf(err, "%s record failed (%s)", argv[0], what);
		kill(-tc, SIGKILL);	/* its recorder processes, if left */
		tc = -1;
		goto restore;
	}
	tc = -1;
	if (stat(o->output, &st) || !st.st_size) {
		kvl_errorf(err, "%s record wrote no %s", argv[0], o->output);
		goto restore;
	}
	fprintf(err, "%s: recorded %s (%.1f MB); read it with: kvmio-lat replay %s\n",
		KVL_PROG, o->output, st.st_size / 1e6, o->output);
	if (cmd > 0 && WIFEXITED(cstatus))
		ret = WEXITSTATUS(cstatus);
	else if (cmd > 0 && WIFSIGNALED(cstatus))
		ret = 128 + WTERMSIG(cstatus);
	else
		ret = cmd < 0 && o->cmd ? KVL_EXIT_ERROR : KVL_EXIT_OK;
restore:
	if (tc > 0) {
		kill(-tc, SIGKILL);
		waitpid(tc, &status, 0);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
out:
	free(argv);
	free(filter);
	kvl_free_events(extra, o->nr_events);
	return ret;
}
