// SPDX-License-Identifier: GPL-2.0
/*
 * replay.c - a trace-cmd recording through the engine (see replay.h and
 * Documentation/replay.rst).
 *
 * Every record is translated the way module/probes.c translates the
 * tracepoint it came from: the same fields, the same filters (MMIO writes
 * only, port writes only, level != 0, task context only but for
 * io_uring's completions), the same syscall arguments.  Two passes: the
 * first finds the thread-group map (kvmio-lat record writes it at the end
 * of the recording), the second feeds the engine in timestamp order
 * across CPUs.
 */
#include <stdlib.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <trace-cmd.h>

#include "replay.h"
#include "source.h"

const struct kvl_trace_event kvl_trace_events[KVL_NR_TRACE_EVENTS] = {
	{ "kvm", "kvm_exit", false },
	{ "kvm", "kvm_entry", false },
	{ "kvm", "kvm_mmio", false },
	{ "kvm", "kvm_fast_mmio", false },
	{ "kvm", "kvm_pio", false },
	{ "kvm", "kvm_msi_set_irq", false },
	{ "kvm", "kvm_set_irq", false },
	{ "kvm", "kvm_apic_accept_irq", false },
	/* 5.17+: each interrupt says whether APICv/AVIC posted it */
	{ "kvm", "kvm_apicv_accept_irq", true },
	{ "kvm", "kvm_inj_virq", false },
	/* older recordings lack it: the sys_exit of ioctl stands in */
	{ "kvm", "kvm_userspace_exit", true },
	{ "raw_syscalls", "sys_enter", false },
	{ "raw_syscalls", "sys_exit", false },
	{ "sched", "sched_process_exit", false },
};

/*
 * aio=io_uring's events, apart from kvl_trace_events[]: all optional (a
 * kernel without CONFIG_IO_URING records without them), and the submission
 * is one event or the other by kernel (io_uring_submit_req from 6.4).
 * record.c enables the same list.
 */
static const struct kvl_trace_event kvl_uring_events[] = {
	{ "io_uring", "io_uring_submit_sqe", true },	/* 5.5 to 6.3 */
	{ "io_uring", "io_uring_submit_req", true },	/* 6.4 on */
	{ "io_uring", "io_uring_complete", true },
};

#define KVL_MAX_SYSCALL		512

unsigned int kvl_record_syscalls(u32 *ids, unsigned int max)
{
	unsigned int n = 0;
	u32 nr;

	for (nr = 0; nr < KVL_MAX_SYSCALL; nr++) {
		if (nr != KVL_NR_write && kvl_sys_class(nr) == KVL_SYS_NONE)
			continue;
		if (n < max)
			ids[n] = nr;
		n++;
	}
	return n;
}

/* from include/trace/events/kvm.h and arch/x86/kvm/trace.h */
#define KVL_TRACE_MMIO_WRITE	2
#define KVL_PIO_OUT		1
/* common_flags (kernel/trace/trace.h): not task context */
#define KVL_FLAG_HARDIRQ	0x08
#define KVL_FLAG_SOFTIRQ	0x10
#define KVL_FLAG_NMI		0x40
#define KVL_NOT_TASK		(KVL_FLAG_HARDIRQ | KVL_FLAG_SOFTIRQ | KVL_FLAG_NMI)

/* Record kinds: kvl_trace_events[] order, plus the marker. */
enum kvl_kind {
	K_NONE,
	K_EXIT,
	K_ENTRY,
	K_MMIO,
	K_FAST_MMIO,
	K_PIO,
	K_MSI,
	K_SET_IRQ,
	K_ACCEPT,
	K_APICV,
	K_INJ,
	K_USER_EXIT,
	K_SYS_ENTER,
	K_SYS_EXIT,
	K_PROC_EXIT,
	K_URING_SUBMIT,		/* kvl_uring_events[] */
	K_URING_COMPLETE,
	K_PRINT,
	K_NR
};

#define KVL_MAX_FIELDS	3

/* Fields each kind reads: name, another name on other kernels, optional. */
struct kvl_field_spec {
	const char *name;
	const char *alt;
	bool optional;
};

static const struct kvl_field_spec kvl_kind_fields[K_NR][KVL_MAX_FIELDS] = {
	[K_EXIT] = { { "exit_reason" }, { "isa" }, { "vcpu_id", NULL, true } },
	[K_ENTRY] = { { "vcpu_id", NULL, true } },
	[K_MMIO] = { { "type" }, { "gpa" } },
	[K_FAST_MMIO] = { { "gpa" } },
	[K_PIO] = { { "rw" }, { "port" } },
	[K_MSI] = { { "address" }, { "data" } },
	[K_SET_IRQ] = { { "level" }, { "gsi" } },
	[K_ACCEPT] = { { "apicid" }, { "vec" } },
	[K_APICV] = { { "apicid" }, { "vec" } },
	[K_INJ] = { { "vector", "irq" } },
	[K_USER_EXIT] = { { "reason" } },
	[K_SYS_ENTER] = { { "id" }, { "args" } },
	[K_SYS_EXIT] = { { "id" }, { "ret" } },
	[K_PROC_EXIT] = { { "pid" }, { "group_dead", NULL, true } },
	/* the same names from 5.10 to 7.x; neither gives the fd or offset */
	[K_URING_SUBMIT] = { { "ctx" }, { "user_data" }, { "opcode" } },
	[K_URING_COMPLETE] = { { "ctx" }, { "user_data" } },
	[K_PRINT] = { { "buf" } },
};

struct kvl_kind_desc {
	struct tep_format_field *f[KVL_MAX_FIELDS];
	int need;		/* bytes a record must have */
};

/* A thread, and for its group leader's entry, the group. */
struct kvl_task {
	s32 tid;		/* 0: free */
	s32 tgid;
	s32 vcpu_id;		/* from kvm_entry, for a kvm_exit without one */
	u32 alive;		/* leader: threads seen and not exited */
	u8 seen;		/* an event of it was replayed since it started */
	u8 comm_done;
	u8 no_return;		/* its call's return is one the module's hooks
				 * leave unarmed (kvl_ev_sys_enter(),
				 * kvl_ev_return_wanted()) */
	const char *comm;	/* leader: the group's comm, NULL unknown */
};

struct kvl_replay {
	struct kvl_engine eng;	/* first: the alloc ops cast back */
	struct kvl_vm **vms;
	struct kvl_vm *retired;	/* VMs whose process exited, via ->owner */
	u64 memory;

	struct tracecmd_input *handle;
	struct tep_handle *tep;
	const char *path;
	FILE *err;
	u8 kind[65536];		/* by common_type */
	struct kvl_kind_desc desc[K_NR];
	int args_elem;		/* sys_enter args[] element size */

	struct kvl_task *tasks;	/* open addressing, power of two */
	u32 task_cap;
	u32 nr_tasks;
	bool have_map;
	bool have_markers;	/* kvmio-lat record's */
	bool have_user_exit;	/* kvm_userspace_exit was recorded */
	u64 last_ts;		/* the last record's time: "now" for ages */
	u32 end_n;		/* end lines kvmio-lat record wrote */
	u32 nr_ends;		/* found, each on its own CPU */
	u8 *end_seen;		/* [cpus] */
	u32 nr_cpus;

	struct kvl_replay_stats st;
	struct kvl_loop_run *lr;	/* replay --loop, else NULL */
};

static double kvl_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* engine memory: VMs of exited processes are kept for the output */

static struct kvl_vm *kvl_rp_alloc_vm(struct kvl_engine *eng)
{
	struct kvl_replay *r = (struct kvl_replay *)eng;
	struct kvl_vm *vm = kvl_aligned_alloc(kvl_vm_size(&eng->cfg));

	if (!vm)
		return NULL;
	kvl_vm_init(vm, &eng->cfg);
	r->memory += kvl_vm_size(&eng->cfg);
	return vm;
}

static void kvl_rp_free_vm(struct kvl_engine *eng, struct kvl_vm *vm)
{
	struct kvl_replay *r = (struct kvl_replay *)eng;

	vm->owner = r->retired;
	r->retired = vm;
}

static struct kvl_vcpu *kvl_rp_alloc_vcpu(struct kvl_engine *eng,
					  struct kvl_vm *vm)
{
	struct kvl_replay *r = (struct kvl_replay *)eng;
	struct kvl_vcpu *v = kvl_aligned_alloc(sizeof(*v));

	(void)vm;
	if (!v)
		return NULL;
	kvl_vcpu_prepare(v);
	r->memory += sizeof(*v);
	return v;
}

static const struct kvl_alloc_ops kvl_rp_ops = {
	.alloc_vm = kvl_rp_alloc_vm,
	.free_vm = kvl_rp_free_vm,
	.alloc_vcpu = kvl_rp_alloc_vcpu,
};

static void kvl_vm_free(struct kvl_vm *vm)
{
	u32 i;

	for (i = 0; i < vm->nr_vcpus; i++)
		free(vm->vcpus[i]);
	free(vm);
}

/* ------------------------------------------------------------------ */
/* threads */

static u32 kvl_task_hash(s32 tid)
{
	return (u32)tid * 2654435761u;
}

static int kvl_tasks_grow(struct kvl_replay *r)
{
	u32 cap = r->task_cap ? r->task_cap * 2 : 4096, i;
	struct kvl_task *t = calloc(cap, sizeof(*t));

	if (!t)
		return -1;
	for (i = 0; i < r->task_cap; i++) {
		const struct kvl_task *o = &r->tasks[i];
		u32 j;

		if (!o->tid)
			continue;
		for (j = kvl_task_hash(o->tid) & (cap - 1); t[j].tid;
		     j = (j + 1) & (cap - 1))
			;
		t[j] = *o;
	}
	free(r->tasks);
	r->tasks = t;
	r->task_cap = cap;
	return 0;
}

/* The entry of @tid, made (its own leader) if new; NULL: out of memory. */
static struct kvl_task *kvl_task(struct kvl_replay *r, s32 tid)
{
	struct kvl_task *t;
	u32 i;

	if (r->task_cap) {
		i = kvl_task_hash(tid) & (r->task_cap - 1);
		while (r->tasks[i].tid) {
			if (r->tasks[i].tid == tid)
				return &r->tasks[i];
			i = (i + 1) & (r->task_cap - 1);
		}
	}
	if ((r->nr_tasks + 1) * 2 > r->task_cap) {
		if (kvl_tasks_grow(r))
			return NULL;
	}
	for (i = kvl_task_hash(tid) & (r->task_cap - 1); r->tasks[i].tid;
	     i = (i + 1) & (r->task_cap - 1))
		;
	t = &r->tasks[i];
	t->tid = tid;
	t->tgid = tid;
	t->vcpu_id = -1;
	r->nr_tasks++;
	return t;
}

static int kvl_map_add(struct kvl_replay *r, s32 tid, s32 tgid)
{
	struct kvl_task *t;

	if (tid <= 0 || tgid <= 0)
		return 0;
	t = kvl_task(r, tid);
	if (!t)
		return -1;
	if (t->tgid == t->tid && tgid != tid)
		r->st.tgids++;
	t->tgid = tgid;
	return 0;
}

/*
 * The thread group of @tid; marks the thread alive in its group.  0 when
 * out of memory (the event is dropped).
 */
static s32 kvl_tgid_of(struct kvl_replay *r, s32 tid)
{
	struct kvl_task *t = kvl_task(r, tid);
	s32 tgid;

	if (!t)
		return 0;
	tgid = t->tgid;
	if (!t->seen) {
		t->seen = 1;
		t = kvl_task(r, tgid);	/* may move the table */
		if (t)
			t->alive++;
	}
	return tgid;
}

/* The thread exits; true if it was the last one of its group we saw. */
static bool kvl_task_exit(struct kvl_replay *r, s32 tid, s32 tgid)
{
	struct kvl_task *t = kvl_task(r, tid), *l;

	if (!t)
		return false;
	if (t->seen) {
		t->seen = 0;
		l = kvl_task(r, tgid);
		if (l && l->alive)
			l->alive--;
	}
	l = kvl_task(r, tgid);
	return !l || !l->alive;
}

static const char *kvl_group_comm(struct kvl_replay *r, s32 tgid)
{
	struct kvl_task *l = kvl_task(r, tgid);
	const char *c;

	if (!l)
		return NULL;
	if (!l->comm_done) {
		c = tep_data_comm_from_pid(r->tep, tgid);
		l->comm = c && c[0] && strcmp(c, "<...>") ? c : NULL;
		l->comm_done = 1;
	}
	return l->comm;
}

/* ------------------------------------------------------------------ */
/* the thread-group map */

static s64 kvl_parse_int(const char **p, const char *end)
{
	s64 v = 0;
	int n = 0;

	while (*p < end && **p >= '0' && **p <= '9' && n < 10) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n && v <= 0x7fffffff ? v : -1;
}

static bool kvl_prefix(const char **p, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);

	if (end - *p < (ptrdiff_t)n || memcmp(*p, prefix, n))
		return false;
	*p += n;
	return true;
}

/* " cpu=C n=N", written on CPU C: that CPU's data is complete. */
static void kvl_parse_end(struct kvl_replay *r, const char *p,
			  const char *end, int rec_cpu)
{
	s64 cpu, n;

	if (!kvl_prefix(&p, end, " cpu="))
		return;
	cpu = kvl_parse_int(&p, end);
	if (cpu < 0 || !kvl_prefix(&p, end, " n="))
		return;
	n = kvl_parse_int(&p, end);
	if (n <= 0 || cpu != rec_cpu || rec_cpu < 0 ||
	    (u32)rec_cpu >= r->nr_cpus || r->end_seen[rec_cpu])
		return;
	r->end_seen[rec_cpu] = 1;
	r->nr_ends++;
	if ((u32)n > r->end_n)
		r->end_n = (u32)n;
}

/* "TID=TGID ..." after the marker's prefix. */
static int kvl_parse_marker(struct kvl_replay *r, const char *p,
			    const char *end, int rec_cpu)
{
	s64 tid, tgid;

	if (kvl_prefix(&p, end, KVL_END_MARKER)) {
		kvl_parse_end(r, p, end, rec_cpu);
		return 0;
	}
	if (!kvl_prefix(&p, end, KVL_TGID_MARKER))
		return 0;
	r->have_map = true;
	r->have_markers = true;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
		if (p >= end || !*p)
			return 0;
		tid = kvl_parse_int(&p, end);
		if (tid < 0 || p >= end || *p != '=')
			return 0;	/* damaged line: keep what parsed */
		p++;
		tgid = kvl_parse_int(&p, end);
		if (tgid < 0)
			return 0;
		if (kvl_map_add(r, (s32)tid, (s32)tgid))
			return -1;
	}
}

/* A saved_tgids copy: "TID TGID" lines. */
static int kvl_load_tgids(struct kvl_replay *r, const char *file)
{
	char *buf, *p, *end;
	size_t len;
	s64 tid, tgid;
	int ret;

	ret = kvl_read_file(file, 64u << 20, &buf, &len);
	if (ret) {
		kvl_errorf(r->err, "cannot read %s: %s", file, strerror(-ret));
		return -1;
	}
	p = buf;
	end = buf + len;
	while (p < end) {
		const char *q = p;

		tid = kvl_parse_int(&q, end);
		while (q < end && *q == ' ')
			q++;
		tgid = kvl_parse_int(&q, end);
		if (tid < 0 || tgid < 0 || (q < end && *q != '\n')) {
			kvl_errorf(r->err, "%s: not a saved_tgids copy (\"TID TGID\" lines)",
				   file);
			free(buf);
			return -1;
		}
		if (kvl_map_add(r, (s32)tid, (s32)tgid)) {
			free(buf);
			kvl_errorf(r->err, "out of memory");
			return -1;
		}
		p = (char *)q + 1;
	}
	free(buf);
	r->have_map = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* record fields */

static u64 kvl_field(struct kvl_replay *r, const struct tep_record *rec,
		     enum kvl_kind k, int i)
{
	const struct tep_format_field *f = r->desc[k].f[i];

	return tep_read_number(r->tep, (const char *)rec->data + f->offset,
			       f->size);
}

static s64 kvl_field_signed(struct kvl_replay *r,
			    const struct tep_record *rec, enum kvl_kind k,
			    int i)
{
	const struct tep_format_field *f = r->desc[k].f[i];
	u64 v = kvl_field(r, rec, k, i);

	if (f->size < 8 && (v >> (f->size * 8 - 1)) & 1)
		v |= ~0ULL << (f->size * 8);
	return (s64)v;
}

static u64 kvl_sys_arg(struct kvl_replay *r, const struct tep_record *rec,
		       int n)
{
	const struct tep_format_field *f = r->desc[K_SYS_ENTER].f[1];

	return tep_read_number(r->tep, (const char *)rec->data + f->offset +
			       n * r->args_elem, r->args_elem);
}

/* The common header fields, at the offsets every event shares. */
struct kvl_common {
	const struct tep_format_field *pid;
	const struct tep_format_field *flags;
};

/* ------------------------------------------------------------------ */
/* opening: events, fields, kinds */

static void kvl_open_error(struct kvl_replay *r)
{
	struct stat st;
	int fd = open(r->path, O_RDONLY);

	if (fd < 0) {
		kvl_errorf(r->err, "cannot open %s: %s", r->path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		kvl_errorf(r->err, "%s is a directory, not a trace-cmd recording",
			   r->path);
	else if (fstat(fd, &st) == 0 && st.st_size == 0)
		kvl_errorf(r->err, "%s is empty, not a trace-cmd recording",
			   r->path);
	else
		kvl_errorf(r->err, "%s is not a trace-cmd recording, or it is truncated or damaged (trace-cmd report %s says more)",
			   r->path, r->path);
	close(fd);
}

static int kvl_setup_kind(struct kvl_replay *r, enum kvl_kind k,
			  struct tep_event *ev)
{
	struct kvl_kind_desc *d = &r->desc[k];
	int i;

	d->need = 8;	/* the common header */
	for (i = 0; i < KVL_MAX_FIELDS; i++) {
		const struct kvl_field_spec *s = &kvl_kind_fields[k][i];
		struct tep_format_field *f;
		int end;

		if (!s->name)
			break;
		f = tep_find_field(ev, s->name);
		if (!f && s->alt)
			f = tep_find_field(ev, s->alt);
		if (!f && s->optional)
			continue;
		if (!f || f->offset < 0 || f->size < 0 ||
		    (k != K_PRINT && k != K_SYS_ENTER &&
		     (f->size < 1 || f->size > 8))) {
			kvl_errorf(r->err, "%s: event %s:%s has no usable field '%s' (an unexpected format)",
				   r->path, ev->system, ev->name, s->name);
			return -1;
		}
		d->f[i] = f;
		end = f->offset + (k == K_PRINT ? 0 : f->size);
		if (end > d->need)
			d->need = end;
	}
	if (k == K_SYS_ENTER) {
		struct tep_format_field *a = d->f[1];

		r->args_elem = a->arraylen ? a->size / (int)a->arraylen : 8;
		if (a->arraylen < 6 || (r->args_elem != 4 && r->args_elem != 8)) {
			kvl_errorf(r->err, "%s: event raw_syscalls:sys_enter has no args[6] (an unexpected format)",
				   r->path);
			return -1;
		}
	}
	if (ev->id < 0 || ev->id > 65535) {
		kvl_errorf(r->err, "%s: event %s:%s has id %d", r->path,
			   ev->system, ev->name, ev->id);
		return -1;
	}
	r->kind[ev->id] = (u8)k;
	return 0;
}

static int kvl_setup_events(struct kvl_replay *r)
{
	char missing[512] = "";
	size_t n = 0;
	struct tep_event *ev;
	int i, nr_missing = 0;

	for (i = 0; i < KVL_NR_TRACE_EVENTS; i++) {
		const struct kvl_trace_event *e = &kvl_trace_events[i];

		ev = tep_find_event_by_name(r->tep, e->system, e->name);
		if (!ev && e->optional)
			continue;
		if (!ev) {
			n += snprintf(missing + n, sizeof(missing) - n, "%s%s:%s",
				      nr_missing++ ? ", " : "", e->system,
				      e->name);
			if (n >= sizeof(missing))
				n = sizeof(missing) - 1;
			continue;
		}
		if (kvl_setup_kind(r, (enum kvl_kind)(K_EXIT + i), ev))
			return -1;
		if (K_EXIT + i == K_USER_EXIT)
			r->have_user_exit = true;
		if (K_EXIT + i == K_APICV)
			kvl_engine_set_apicv_traced(&r->eng, true);
	}
	if (nr_missing) {
		kvl_errorf(r->err, "%s lacks %s the engine needs: %s (record with 'kvmio-lat record', or see kvmio-lat(8) for the trace-cmd command line)",
			   r->path, nr_missing > 1 ? "events" : "an event",
			   missing);
		return -1;
	}
	for (i = 0; i < (int)ARRAY_SIZE(kvl_uring_events); i++) {
		const struct kvl_trace_event *e = &kvl_uring_events[i];
		enum kvl_kind k = strcmp(e->name, "io_uring_complete") ?
				  K_URING_SUBMIT : K_URING_COMPLETE;

		ev = tep_find_event_by_name(r->tep, e->system, e->name);
		/* one submission event per kernel: the first found */
		if (!ev || r->desc[k].need)
			continue;
		if (kvl_setup_kind(r, k, ev))
			return -1;
		/* its completions are in the recording: requests end there */
		if (k == K_URING_COMPLETE)
			kvl_engine_set_uring_traced(&r->eng, true);
	}
	ev = tep_find_event_by_name(r->tep, "ftrace", "print");
	if (ev && kvl_setup_kind(r, K_PRINT, ev))
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* pass 1: the thread-group map from the markers */

static int kvl_scan_markers(struct kvl_replay *r)
{
	int cpu, cpus = tep_get_cpus(r->tep);
	const struct tep_format_field *buf = r->desc[K_PRINT].f[0];

	if (!buf)
		return 0;
	r->end_seen = calloc(cpus, 1);
	if (!r->end_seen)
		return -1;
	for (cpu = 0; cpu < cpus; cpu++) {
		struct tep_record *rec;

		for (rec = tracecmd_read_cpu_first(r->handle, cpu); rec;
		     rec = tracecmd_read_data(r->handle, cpu)) {
			int ret = 0;

			if (rec->size >= r->desc[K_PRINT].need &&
			    r->kind[tep_data_type(r->tep, rec) & 0xffff] == K_PRINT) {
				const char *p = (const char *)rec->data + buf->offset;

				ret = kvl_parse_marker(r, p, (const char *)rec->data +
						       rec->size, cpu);
			}
			tracecmd_free_record(rec);
			if (ret)
				return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* pass 2: records to engine events, as module/probes.c does */

/*
 * The module arms a hooked call's return only where the engine says it
 * can matter (syshooks.c): @tid's next return is skipped the same way
 * here when @skip.  Without @skip: the mark's state, cleared.
 */
static bool kvl_no_return(struct kvl_replay *r, s32 tid, bool skip)
{
	struct kvl_task *t = kvl_task(r, tid);
	bool was;

	if (!t)
		return false;
	was = t->no_return;
	t->no_return = skip;
	return was;
}

static void kvl_replay_one(struct kvl_replay *r, struct tep_record *rec,
			   enum kvl_kind k, s32 tid, u32 flags)
{
	struct kvl_engine *eng = &r->eng;
	u64 now = rec->ts;
	s32 tgid;
	s64 id;

	if (now > r->last_ts)
		r->last_ts = now;
	if (k == K_PROC_EXIT) {
		bool dead;

		/* the exiting task is current; no context check (as probes.c) */
		tid = (s32)kvl_field(r, rec, k, 0);
		if (tid <= 0)
			return;
		tgid = kvl_tgid_of(r, tid);
		dead = kvl_task_exit(r, tid, tgid);
		if (r->desc[k].f[1])	/* 6.16+: the kernel says */
			dead = kvl_field(r, rec, k, 1) != 0;
		if (!tgid || !kvl_engine_maybe_vm(eng, tgid))
			return;
		r->st.events++;
		kvl_ev_task_exit(eng, tgid, tid, dead, now);
		return;
	}
	if (k == K_URING_COMPLETE) {
		/*
		 * Posted from an interrupt on older kernels, in whatever task
		 * it interrupted: no tgid then, the engine finds the VM by
		 * the ring.  In a task, only a VM's.
		 */
		tgid = 0;
		if (!(flags & KVL_NOT_TASK)) {
			tgid = tid > 0 ? kvl_tgid_of(r, tid) : 0;
			if (!tgid || !kvl_engine_maybe_vm(eng, tgid))
				return;
		}
		r->st.events++;
		kvl_ev_uring_complete(eng, tgid, tid, kvl_field(r, rec, k, 0),
				      kvl_field(r, rec, k, 1), now);
		return;
	}
	if (flags & KVL_NOT_TASK)
		return;
	tgid = kvl_tgid_of(r, tid);
	if (!tgid)
		return;
	if (k == K_EXIT) {
		u32 vcpu;

		if (r->desc[k].f[2]) {
			vcpu = (u32)kvl_field(r, rec, k, 2);
		} else {
			struct kvl_task *t = kvl_task(r, tid);

			if (!t || t->vcpu_id < 0)
				return;	/* older kvm_exit: id from kvm_entry */
			vcpu = (u32)t->vcpu_id;
		}
		r->st.events++;
		kvl_ev_exit(eng, tgid, tid, kvl_group_comm(r, tgid), vcpu,
			    (u32)kvl_field(r, rec, k, 1),
			    (u32)kvl_field(r, rec, k, 0), now);
		return;
	}
	if (k == K_ENTRY && !r->desc[K_EXIT].f[2] && r->desc[k].f[0]) {
		struct kvl_task *t = kvl_task(r, tid);

		if (t)
			t->vcpu_id = (s32)kvl_field(r, rec, k, 0);
	}
	if (!kvl_engine_maybe_vm(eng, tgid))
		return;
	r->st.events++;
	switch (k) {
	case K_ENTRY:
		kvl_ev_entry(eng, tgid, tid, now);
		break;
	case K_MMIO:
		if (kvl_field(r, rec, k, 0) == KVL_TRACE_MMIO_WRITE)
			kvl_ev_doorbell(eng, tgid, tid, false,
					kvl_field(r, rec, k, 1), now);
		break;
	case K_FAST_MMIO:
		kvl_ev_doorbell(eng, tgid, tid, false, kvl_field(r, rec, k, 0),
				now);
		break;
	case K_PIO:
		if (kvl_field(r, rec, k, 0) == KVL_PIO_OUT)
			kvl_ev_doorbell(eng, tgid, tid, true,
					kvl_field(r, rec, k, 1), now);
		break;
	case K_MSI: {
		u64 address = kvl_field(r, rec, k, 0);
		bool logical = address & (1ULL << 2);

		kvl_ev_irq(eng, tgid, tid,
			   logical ? -1 : (s32)((address >> 12) & 0xff),
			   (s32)(kvl_field(r, rec, k, 1) & 0xff), now);
		break;
	}
	case K_SET_IRQ:
		if (kvl_field(r, rec, k, 0) &&
		    !kvl_gsi_not_io((u32)kvl_field(r, rec, k, 1)))
			kvl_ev_irq(eng, tgid, tid, -1, -1, now);
		break;
	case K_ACCEPT:
		kvl_ev_apic_accept(eng, tgid, tid,
				   (u32)kvl_field(r, rec, k, 0),
				   (u32)kvl_field(r, rec, k, 1), now);
		break;
	case K_APICV:
		kvl_ev_apicv_accept(eng, tgid, tid,
				    (u32)kvl_field(r, rec, k, 0),
				    (u32)kvl_field(r, rec, k, 1), now);
		break;
	case K_INJ:
		kvl_ev_inj_virq(eng, tgid, tid, (u32)kvl_field(r, rec, k, 0),
				now);
		break;
	case K_SYS_ENTER: {
		s64 off = KVL_OFF_UNKNOWN;
		u32 arg = 0;
		u64 a;

		id = kvl_field_signed(r, rec, k, 0);
		if (id < 0 || id > 0xffffffffLL)
			break;
		switch (kvl_sys_class((u32)id)) {
		case KVL_SYS_NONE:
			kvl_no_return(r, tid,
				      (id == KVL_NR_read || id == KVL_NR_write) &&
				      !kvl_ev_return_wanted(eng, tgid, tid, (u32)id,
						(s32)kvl_sys_arg(r, rec, 0)));
			return;
		case KVL_SYS_SUBMIT:
			a = kvl_sys_arg(r, rec, 1);
			arg = a > 0xffffffffULL ? 0xffffffffu : (u32)a;
			break;
		case KVL_SYS_URING:	/* flags | min_complete << 16 */
			a = kvl_sys_arg(r, rec, 2);
			arg = (u32)(kvl_sys_arg(r, rec, 3) & 0xffff) |
			      ((u32)(a > 0xffff ? 0xffff : a) << 16);
			break;
		case KVL_SYS_POOL_IO:	/* the file descriptor and offset */
			arg = (u32)kvl_sys_arg(r, rec, 0);
			if (kvl_sys_has_offset((u32)id))
				off = (s64)kvl_sys_arg(r, rec, 3);
			break;
		default:
			break;
		}
		kvl_no_return(r, tid,
			      !kvl_ev_sys_enter(eng, tgid, tid, (u32)id, arg, off,
						now));
		break;
	}
	case K_USER_EXIT:
		kvl_ev_userspace_exit(eng, tgid, tid,
				      (u32)kvl_field(r, rec, k, 0));
		break;
	case K_URING_SUBMIT:
		/* the event has neither the fd nor the offset */
		kvl_ev_uring_submit(eng, tgid, tid, kvl_field(r, rec, k, 0),
				    kvl_field(r, rec, k, 1),
				    (u32)kvl_field(r, rec, k, 2), KVL_FD_UNKNOWN,
				    KVL_OFF_UNKNOWN, now);
		break;
	case K_SYS_EXIT:
		id = kvl_field_signed(r, rec, k, 0);
		if (id < 0 || id > 0xffffffffLL)
			break;
		/* as the module: KVM_RUN's return is kvm_userspace_exit's */
		if (r->have_user_exit &&
		    kvl_sys_class((u32)id) == KVL_SYS_IOCTL)
			break;
		/* and a return its hooks leave unarmed is not seen */
		if (kvl_no_return(r, tid, false))
			break;
		kvl_ev_sys_exit(eng, tgid, tid, (u32)id,
				kvl_field_signed(r, rec, k, 1), now);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* replay --loop: the chain's events found in the recording (loop.h) */

/* How one event of the chain is told from the others. */
struct kvl_loop_match {
	int type;				/* common_type */
	const struct tep_format_field *id;	/* raw_syscalls: id, */
	u32 nr;					/* which is this call */
	const struct tep_format_field *field;	/* the filter's, or NULL */
	u64 value;
	const struct tep_format_field *isa;	/* exit_reason by name: */
	bool has_code[2];			/* for SVM, VMX */
	u32 code[2];
	int need;				/* bytes a record must have */
};

#define KVL_LOOP_EVENT		1	/* relevant[type]: of the chain */
#define KVL_LOOP_VCPU		2	/* says which vCPU a thread is */

struct kvl_loop_run {
	struct kvl_loop loop;
	struct kvl_loop_match m[KVL_LOOP_MAX_STEPS];
	u8 relevant[65536];			/* by common_type */
	/* kvm_entry's and kvm_exit's vcpu_id, for --key vcpu */
	int vcpu_type[2];
	const struct tep_format_field *vcpu_id[2];
	bool out_of_memory;
};

static int kvl_field_end(const struct tep_format_field *f)
{
	return f ? f->offset + f->size : 0;
}

static bool kvl_number_field(const struct tep_format_field *f)
{
	return f->size >= 1 && f->size <= 8 && f->offset >= 0 &&
	       !(f->flags & (TEP_FIELD_IS_ARRAY | TEP_FIELD_IS_STRING |
			     TEP_FIELD_IS_DYNAMIC));
}

/* "a, b, c" of @ev's own fields, for a message. */
static const char *kvl_field_list(char *buf, size_t size,
				  const struct tep_event *ev)
{
	const struct tep_format_field *f;
	size_t n = 0;

	buf[0] = '\0';
	for (f = ev->format.fields; f && n + 8 < size; f = f->next)
		n += snprintf(buf + n, size - n, "%s%s", n ? ", " : "", f->name);
	return buf;
}

/* "kvm:kvm_exit, ..." of the recording's events, for a message. */
static const char *kvl_event_list(char *buf, size_t size, struct tep_handle *tep)
{
	int i, nr = tep_get_events_count(tep);
	size_t n = 0;

	buf[0] = '\0';
	for (i = 0; i < nr; i++) {
		const struct tep_event *ev = tep_get_event(tep, i);

		if (!ev || !strcmp(ev->system, "ftrace"))
			continue;
		if (n + strlen(ev->system) + strlen(ev->name) + 8 >= size) {
			snprintf(buf + n, size - n, ", ...");
			break;
		}
		n += snprintf(buf + n, size - n, "%s%s:%s", n ? ", " : "",
			      ev->system, ev->name);
	}
	return buf;
}

/*
 * The recorded event @e names: SYSTEM:NAME, or the only NAME of any
 * system.  NULL when there is none; -1 in *@err after a message.
 */
static struct tep_event *kvl_loop_find_event(struct kvl_replay *r,
					     const struct kvl_loop_ev *e,
					     int *err)
{
	struct tep_event *found = NULL;
	int i, nr = tep_get_events_count(r->tep);

	if (e->system[0])
		return tep_find_event_by_name(r->tep, e->system, e->name);
	for (i = 0; i < nr; i++) {
		struct tep_event *ev = tep_get_event(r->tep, i);

		if (!ev || strcmp(ev->name, e->name))
			continue;
		if (found) {
			kvl_errorf(r->err, "%s: --loop: %s is both %s:%s and %s:%s: write SYSTEM:EVENT",
				   r->path, e->label, found->system, found->name,
				   ev->system, ev->name);
			*err = -1;
			return NULL;
		}
		found = ev;
	}
	return found;
}

/*
 * sys_enter_NAME, sys_exit_NAME (or syscalls:...) that the recording has
 * as raw_syscalls' events: those, and the call's number.
 */
static struct tep_event *kvl_loop_raw_syscall(struct kvl_replay *r,
					      const struct kvl_loop_ev *e,
					      struct kvl_loop_match *m,
					      int *err)
{
	bool enter = !strncmp(e->name, "sys_enter_", 10);
	struct tep_event *ev;
	int nr;

	if ((e->system[0] && strcmp(e->system, "syscalls")) ||
	    (!enter && strncmp(e->name, "sys_exit_", 9)))
		return NULL;
	nr = kvl_syscall_nr(e->name + (enter ? 10 : 9));
	if (nr < 0) {
		kvl_errorf(r->err, "%s: --loop: %s: there is no x86-64 system call '%s'",
			   r->path, e->label, e->name + (enter ? 10 : 9));
		*err = -1;
		return NULL;
	}
	ev = tep_find_event_by_name(r->tep, "raw_syscalls",
				    enter ? "sys_enter" : "sys_exit");
	m->id = ev ? tep_find_field(ev, "id") : NULL;
	if (!m->id || !kvl_number_field(m->id))
		return NULL;
	m->nr = (u32)nr;
	return ev;
}

/* kvm_exit's exit_reason by name: its code on SVM and VMX, if it has one. */
static int kvl_loop_reason(struct kvl_replay *r, struct tep_event *ev,
			   const struct kvl_loop_ev *e, struct kvl_loop_match *m)
{
	static const u32 isas[2] = { KVL_ISA_SVM, KVL_ISA_VMX };
	u32 i, code;

	if (strcmp(ev->system, "kvm") || strcmp(ev->name, "kvm_exit") ||
	    strcmp(e->field, "exit_reason")) {
		kvl_errorf(r->err, "%s: --loop: %s: the value of %s must be a number (names are for kvm_exit's exit_reason only)",
			   r->path, e->label, e->field);
		return -1;
	}
	m->isa = tep_find_field(ev, "isa");
	if (!m->isa || !kvl_number_field(m->isa)) {
		kvl_errorf(r->err, "%s: --loop: %s: this kvm_exit has no isa field to name its exit reasons by: give the number",
			   r->path, e->label);
		return -1;
	}
	/* the exit-name table by number: SVM's go to 0x403, VMX's to 80 */
	for (i = 0; i < 2; i++) {
		for (code = 0; code < 0x1000 && !m->has_code[i]; code++) {
			const char *name = kvl_exit_reason_name(isas[i], code);

			if (name && !strcasecmp(name, e->value)) {
				m->has_code[i] = true;
				m->code[i] = code;
			}
		}
	}
	if (!m->has_code[0] && !m->has_code[1]) {
		kvl_errorf(r->err, "%s: --loop: %s: no exit reason is called '%s' (names as the module prints them: io, npf, hlt, msr on AMD; IO_INSTRUCTION, EPT_VIOLATION, HLT on Intel; or a number)",
			   r->path, e->label, e->value);
		return -1;
	}
	return 0;
}

static int kvl_loop_filter(struct kvl_replay *r, struct tep_event *ev,
			   const struct kvl_loop_ev *e, struct kvl_loop_match *m)
{
	char list[512];
	u64 mask;

	m->field = tep_find_any_field(ev, e->field);
	if (!m->field) {
		kvl_errorf(r->err, "%s: --loop: %s: event %s:%s has no field '%s' (its fields: %s)",
			   r->path, e->label, ev->system, ev->name, e->field,
			   kvl_field_list(list, sizeof(list), ev));
		return -1;
	}
	if (!kvl_number_field(m->field)) {
		kvl_errorf(r->err, "%s: --loop: %s: field '%s' of %s:%s is not a number (an array or a string)",
			   r->path, e->label, e->field, ev->system, ev->name);
		return -1;
	}
	if (!e->numeric)
		return kvl_loop_reason(r, ev, e, m);
	/* a value the field cannot hold would match nothing: say so */
	mask = m->field->size == 8 ? ~0ULL : (1ULL << (8 * m->field->size)) - 1;
	if ((e->num & ~mask) && (e->num | mask) != ~0ULL) {
		kvl_errorf(r->err, "%s: --loop: %s: %s does not fit field '%s' (%d bytes)",
			   r->path, e->label, e->value, e->field, m->field->size);
		return -1;
	}
	m->value = e->num & mask;
	return 0;
}

static int kvl_loop_resolve(struct kvl_replay *r, const struct kvl_loop_ev *e,
			    struct kvl_loop_match *m)
{
	struct tep_event *ev;
	char list[512];
	int err = 0;

	memset(m, 0, sizeof(*m));
	ev = kvl_loop_find_event(r, e, &err);
	/* sys_enter_NAME: syscalls' own event if recorded, else raw_syscalls' */
	if (!ev && !err)
		ev = kvl_loop_raw_syscall(r, e, m, &err);
	if (err)
		return -1;
	if (!ev) {
		kvl_errorf(r->err, "%s has no event %s (it has %s; kvmio-lat record -e EVENT records more)",
			   r->path, e->label, kvl_event_list(list, sizeof(list), r->tep));
		return -1;
	}
	if (ev->id < 0 || ev->id > 65535) {
		kvl_errorf(r->err, "%s: event %s:%s has id %d", r->path,
			   ev->system, ev->name, ev->id);
		return -1;
	}
	m->type = ev->id;
	if (e->field[0] && kvl_loop_filter(r, ev, e, m))
		return -1;
	m->need = 8;	/* the common header */
	if (kvl_field_end(m->id) > m->need)
		m->need = kvl_field_end(m->id);
	if (kvl_field_end(m->field) > m->need)
		m->need = kvl_field_end(m->field);
	if (kvl_field_end(m->isa) > m->need)
		m->need = kvl_field_end(m->isa);
	return 0;
}

/* --key vcpu: kvm_entry (and a kvm_exit with vcpu_id) name each vCPU thread. */
static int kvl_loop_vcpu_events(struct kvl_replay *r, struct kvl_loop_run *lr)
{
	static const char *const names[2] = { "kvm_entry", "kvm_exit" };
	bool any = false;
	int i;

	for (i = 0; i < 2; i++) {
		struct tep_event *ev = tep_find_event_by_name(r->tep, "kvm",
							      names[i]);
		const struct tep_format_field *f = ev ?
			tep_find_field(ev, "vcpu_id") : NULL;

		lr->vcpu_type[i] = -1;
		if (!f || !kvl_number_field(f) || ev->id < 0 || ev->id > 65535)
			continue;
		lr->vcpu_type[i] = ev->id;
		lr->vcpu_id[i] = f;
		lr->relevant[ev->id] |= KVL_LOOP_VCPU;
		any = true;
	}
	if (!any) {
		kvl_errorf(r->err, "%s: --key vcpu needs kvm:kvm_entry in the recording (it says which thread is which vCPU)",
			   r->path);
		return -1;
	}
	return 0;
}

static int kvl_setup_loop(struct kvl_replay *r, const struct kvl_replay_opts *o)
{
	const struct kvl_loop_spec *spec = o->loop;
	struct kvl_loop_run *lr;
	struct tep_event *ev;
	u32 i;

	lr = calloc(1, sizeof(*lr));
	if (!lr || kvl_loop_init(&lr->loop, spec)) {
		free(lr);
		kvl_errorf(r->err, "out of memory");
		return -1;
	}
	r->lr = lr;
	for (i = 0; i < spec->n; i++) {
		if (kvl_loop_resolve(r, &spec->ev[i], &lr->m[i]))
			return -1;
		lr->relevant[lr->m[i].type] |= KVL_LOOP_EVENT;
	}
	if (spec->key == KVL_LOOP_KEY_VCPU && kvl_loop_vcpu_events(r, lr))
		return -1;
	/* the thread-group map's markers */
	ev = tep_find_event_by_name(r->tep, "ftrace", "print");
	if (ev && kvl_setup_kind(r, K_PRINT, ev))
		return -1;
	return 0;
}

static u64 kvl_loop_read(struct kvl_replay *r, const struct tep_record *rec,
			 const struct tep_format_field *f)
{
	return tep_read_number(r->tep, (const char *)rec->data + f->offset,
			       f->size);
}

static bool kvl_loop_matches(struct kvl_replay *r, const struct kvl_loop_match *m,
			     const struct tep_record *rec)
{
	u64 v;

	if (m->id && kvl_loop_read(r, rec, m->id) != m->nr)
		return false;
	if (!m->field)
		return true;
	v = kvl_loop_read(r, rec, m->field);
	if (m->isa) {
		u32 isa = (u32)kvl_loop_read(r, rec, m->isa);

		if (isa == KVL_ISA_SVM)
			return m->has_code[0] && (u32)v == m->code[0];
		if (isa == KVL_ISA_VMX)
			return m->has_code[1] && (v & 0xffff) == m->code[1];
		return false;
	}
	return v == m->value;
}

/* kvm_entry or kvm_exit of @tid: the vCPU it runs. */
static void kvl_loop_learn_vcpu(struct kvl_replay *r, const struct tep_record *rec,
				int type, s32 tid)
{
	struct kvl_loop_run *lr = r->lr;
	struct kvl_task *t;
	int i;

	for (i = 0; i < 2; i++) {
		if (lr->vcpu_type[i] != type ||
		    rec->size < kvl_field_end(lr->vcpu_id[i]))
			continue;
		t = kvl_task(r, tid);
		if (t)
			t->vcpu_id = (s32)kvl_loop_read(r, rec, lr->vcpu_id[i]);
	}
}

/*
 * A record in replay --loop: every task's, interrupt context too (as
 * trace-cmd report shows it: the task it interrupted).
 */
static void kvl_loop_record(struct kvl_replay *r, struct tep_record *rec)
{
	struct kvl_loop_run *lr = r->lr;
	int type = tep_data_type(r->tep, rec) & 0xffff;
	struct kvl_loop_event ev = { .ts = rec->ts };
	struct kvl_task *t;
	bool short_rec = false;
	s32 tid, vcpu;
	u32 i;

	if (rec->ts > r->last_ts)
		r->last_ts = rec->ts;
	if (!lr->relevant[type])
		return;
	tid = tep_data_pid(r->tep, rec);
	if (tid <= 0)
		return;
	if (lr->relevant[type] & KVL_LOOP_VCPU)
		kvl_loop_learn_vcpu(r, rec, type, tid);
	for (i = 0; i < lr->loop.spec.n; i++) {
		if (lr->m[i].type != type)
			continue;
		if (rec->size < lr->m[i].need)
			short_rec = true;
		else if (kvl_loop_matches(r, &lr->m[i], rec))
			ev.steps |= 1u << i;
	}
	r->st.short_records += short_rec;
	if (!ev.steps)
		return;
	t = kvl_task(r, tid);
	if (!t) {
		lr->out_of_memory = true;
		return;
	}
	ev.tgid = t->tgid;
	vcpu = t->vcpu_id;
	switch (lr->loop.spec.key) {
	case KVL_LOOP_KEY_TID:
		ev.key = tid;
		break;
	case KVL_LOOP_KEY_TGID:
		ev.key = ev.tgid;
		break;
	case KVL_LOOP_KEY_VCPU:
		ev.key = vcpu >= 0 ? vcpu : KVL_LOOP_KEY_NONE;
		break;
	case KVL_LOOP_KEY_CPU:
		ev.key = rec->cpu;
		break;
	}
	ev.comm = kvl_group_comm(r, ev.tgid);
	r->st.events++;
	if (kvl_loop_feed(&lr->loop, &ev))
		lr->out_of_memory = true;
}

/* A chain's event no record matched: say so, and why it may be. */
static void kvl_loop_warn_unmatched(struct kvl_replay *r)
{
	struct kvl_loop_run *lr = r->lr;
	u32 ids[64], nr_ids = kvl_record_syscalls(ids, ARRAY_SIZE(ids)), i, j;

	for (i = 0; i < lr->loop.spec.n; i++) {
		const struct kvl_loop_match *m = &lr->m[i];
		bool kept = !m->id;

		if (lr->loop.matched[i])
			continue;
		for (j = 0; j < nr_ids && j < ARRAY_SIZE(ids) && !kept; j++)
			kept = ids[j] == m->nr;
		if (kept)
			kvl_errorf(r->err, "warning: %s: no event matched %s",
				   r->path, lr->loop.spec.ev[i].label);
		else
			kvl_errorf(r->err, "warning: %s: no event matched %s (kvmio-lat record keeps only the system calls the engine uses: record with -e syscalls:%s, or --all-syscalls)",
				   r->path, lr->loop.spec.ev[i].label,
				   lr->loop.spec.ev[i].name);
	}
}

/* --pid: a process that started the chain, or a message. */
static int kvl_loop_check_pid(struct kvl_replay *r, s32 pid)
{
	const struct kvl_loop *l = &r->lr->loop;
	char list[128] = "";
	size_t n = 0;
	u32 i;

	if (!pid || kvl_loop_proc(l, pid))
		return 0;
	for (i = 0; i < l->nr_procs && n + 16 < sizeof(list); i++)
		n += snprintf(list + n, sizeof(list) - n, " %d", l->procs[i].tgid);
	kvl_errorf(r->err, "%s: no process with pid %d started the loop (processes that did:%s)",
		   r->path, pid, l->nr_procs ? list : " none");
	return -1;
}

/* The loop's result, printed in full before the success line goes out. */
static int kvl_loop_result(struct kvl_replay *r, const struct kvl_replay_opts *o,
			   char **text, size_t *len)
{
	FILE *m;
	int ret;

	*text = NULL;
	m = open_memstream(text, len);
	if (!m)
		return -1;
	ret = kvl_print_loop(m, &r->lr->loop, o->show);
	if (fclose(m) || ret) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

static void kvl_replay_record(struct kvl_replay *r, struct tep_record *rec)
{
	enum kvl_kind k;
	const u8 *d = rec->data;
	s32 tid;

	r->st.records++;
	if (rec->missed_events)
		r->st.missed += rec->missed_events > 0 ? rec->missed_events : 1;
	if (rec->size < 8 || !d) {
		r->st.short_records++;
		return;
	}
	if (r->lr) {
		kvl_loop_record(r, rec);
		return;
	}
	k = (enum kvl_kind)r->kind[tep_data_type(r->tep, rec) & 0xffff];
	if (k == K_NONE || k == K_PRINT)
		return;
	if (rec->size < r->desc[k].need) {
		r->st.short_records++;
		return;
	}
	tid = tep_data_pid(r->tep, rec);
	/* an io_uring completion may come from an idle CPU's interrupt */
	if (tid <= 0 && k != K_URING_COMPLETE)
		return;
	kvl_replay_one(r, rec, k, tid, (u32)tep_data_flags(r->tep, rec));
}

/*
 * The CPUs' records merged in timestamp order (ties: lower CPU first): a
 * binary min-heap of the CPUs' next records.  tracecmd_read_cpu_first()
 * rewinds each CPU after the first pass.
 */
struct kvl_merge {
	struct tep_record **cur;	/* [cpus] */
	int *heap;
	int n;
};

static bool kvl_before(const struct kvl_merge *m, int a, int b)
{
	const struct tep_record *x = m->cur[a], *y = m->cur[b];

	return x->ts < y->ts || (x->ts == y->ts && a < b);
}

static void kvl_heap_down(struct kvl_merge *m, int i)
{
	for (;;) {
		int l = 2 * i + 1, best = i, t;

		if (l < m->n && kvl_before(m, m->heap[l], m->heap[best]))
			best = l;
		if (l + 1 < m->n && kvl_before(m, m->heap[l + 1], m->heap[best]))
			best = l + 1;
		if (best == i)
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[best];
		m->heap[best] = t;
		i = best;
	}
}

static int kvl_replay_merge(struct kvl_replay *r)
{
	int cpus = (int)r->nr_cpus, cpu, i;
	struct kvl_merge m = { 0 };

	m.cur = calloc(cpus, sizeof(*m.cur));
	m.heap = calloc(cpus, sizeof(*m.heap));
	if (!m.cur || !m.heap) {
		free(m.cur);
		free(m.heap);
		return -1;
	}
	for (cpu = 0; cpu < cpus; cpu++) {
		m.cur[cpu] = tracecmd_read_cpu_first(r->handle, cpu);
		if (m.cur[cpu])
			m.heap[m.n++] = cpu;
	}
	for (i = m.n / 2 - 1; i >= 0; i--)
		kvl_heap_down(&m, i);
	while (m.n) {
		cpu = m.heap[0];
		kvl_replay_record(r, m.cur[cpu]);
		tracecmd_free_record(m.cur[cpu]);
		m.cur[cpu] = tracecmd_read_data(r->handle, cpu);
		if (!m.cur[cpu])
			m.heap[0] = m.heap[--m.n];
		kvl_heap_down(&m, 0);
	}
	free(m.cur);
	free(m.heap);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the result: live VMs, then those of processes that exited */

static void kvl_file_printf(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(ctx, fmt, ap);
	va_end(ap);
}

/* The engine's hist text, KVL_STATS_SEP, its stats text. */
#define KVL_STATS_SEP	"--- stats ---\n"

/*
 * A retired VM whose pid a later VM of the recording took again (its
 * process exited and the pid was reused, or a damaged file): the output
 * has one VM per pid, the last.  r->retired is newest first.
 */
static bool kvl_vm_shadowed(const struct kvl_replay *r, const struct kvl_vm *vm)
{
	const struct kvl_vm *v;
	u32 i;

	for (v = r->retired; v && v != vm; v = v->owner)
		if (v->tgid == vm->tgid)
			return true;
	for (i = 0; i < r->eng.cfg.max_vms; i++)
		if (r->eng.vms[i] && r->eng.vms[i] != vm && r->eng.vms[i]->tgid == vm->tgid)
			return true;
	return false;
}

static u32 kvl_vms_shadowed(const struct kvl_replay *r)
{
	const struct kvl_vm *vm;
	u32 n = 0;

	for (vm = r->retired; vm; vm = vm->owner)
		n += kvl_vm_shadowed(r, vm);
	return n;
}

static int kvl_replay_print(struct kvl_replay *r, FILE *f)
{
	struct kvl_sink out = { kvl_file_printf, f };
	struct kvl_engine eng = r->eng;
	struct kvl_vm *vm, **vms;
	u32 n = 0, i;

	for (vm = r->retired; vm; vm = vm->owner)
		n++;
	vms = calloc(r->eng.cfg.max_vms + n, sizeof(*vms));
	if (!vms)
		return -1;
	/* retired ones first, in the order their processes exited */
	n -= kvl_vms_shadowed(r);
	i = n;
	for (vm = r->retired; vm; vm = vm->owner)
		if (!kvl_vm_shadowed(r, vm))
			vms[--i] = vm;
	for (i = 0; i < r->eng.cfg.max_vms; i++)
		if (r->eng.vms[i])
			vms[n++] = r->eng.vms[i];
	eng.vms = vms;
	eng.cfg.max_vms = n;
	eng.print_now = r->last_ts;
	eng.nr_exited = 0;
	for (i = 0; i < n; i++)
		eng.nr_exited += vms[i]->exited;
	eng.nr_vms = n - eng.nr_exited;
	kvl_engine_print_hist(&eng, &out);
	fputs(KVL_STATS_SEP, f);
	kvl_engine_print_stats(&eng, &out, r->memory);
	free(vms);
	return 0;
}

static void kvl_replay_free(struct kvl_replay *r)
{
	struct kvl_vm *vm, *next;
	u32 i;

	for (i = 0; r->vms && i < r->eng.cfg.max_vms; i++)
		if (r->vms[i])
			kvl_vm_free(r->vms[i]);
	for (vm = r->retired; vm; vm = next) {
		next = vm->owner;
		kvl_vm_free(vm);
	}
	free(r->vms);
	free(r->tasks);
	free(r->end_seen);
	if (r->lr)
		kvl_loop_free(&r->lr->loop);
	free(r->lr);
	if (r->handle)
		tracecmd_close(r->handle);
	free(r);
}

/*
 * The replay proper, in a child process: libtracecmd does not survive
 * every damaged file.  Messages (one line each) and then, on success, a
 * "KVL_OK ..." line with the counters and the result go to @f.
 */
#define KVL_OK_LINE	"KVL_OK"

void kvl_request_line(FILE *f, const struct kvl_request_record *rec)
{
	fprintf(f, KVL_REQUEST_FMT "\n",
		rec->tgid, rec->vcpu_id, kvl_path_name(rec->path),
		rec->pio ? "port" : "mmio", (unsigned long long)rec->addr,
		rec->fd, (long long)rec->off, rec->irq_vcpu_id, rec->vector,
		rec->line ? "line" : "msi",
		rec->posted ? "posted" : "injected",
		(unsigned long long)(rec->t[KVL_AT_ENTRY] - rec->t[KVL_AT_DOORBELL]),
		(unsigned long long)rec->t[0], (unsigned long long)rec->t[1],
		(unsigned long long)rec->t[2], (unsigned long long)rec->t[3],
		(unsigned long long)rec->t[4], (unsigned long long)rec->t[5],
		(unsigned long long)rec->t[6], (unsigned long long)rec->t[7]);
}

static void kvl_replay_request(void *ctx, const struct kvl_request_record *rec)
{
	kvl_request_line(ctx, rec);
}

/* @req_fd: the --requests file's temporary copy (kvl_replay()), or -1. */
static int kvl_replay_child(const char *path, const struct kvl_replay_opts *o,
			    int req_fd, FILE *f)
{
	FILE *requests = NULL;
	struct kvl_replay *r;
	struct kvl_config cfg;
	double t0 = kvl_mono();
	char *loop_text = NULL;
	size_t loop_len = 0;
	u32 shadowed;
	int ret = 1;

	r = calloc(1, sizeof(*r));
	if (!r) {
		kvl_errorf(f, "out of memory");
		return 1;
	}
	r->path = path;
	r->err = f;
	kvl_config_defaults(&cfg);
	kvl_config_check(&cfg);
	r->vms = calloc(cfg.max_vms, sizeof(*r->vms));
	if (!r->vms) {
		kvl_errorf(f, "out of memory");
		goto out;
	}
	kvl_engine_init(&r->eng, &cfg, &kvl_rp_ops, r->vms);
	if (req_fd >= 0) {
		requests = fdopen(req_fd, "w");
		if (!requests) {
			kvl_errorf(f, "%s: %s", o->requests, strerror(errno));
			goto out;
		}
		r->eng.on_request = kvl_replay_request;
		r->eng.on_request_ctx = requests;
	}

	/* the library's own messages would only repeat ours */
	tracecmd_set_loglevel(TEP_LOG_NONE);
	tep_set_loglevel(TEP_LOG_NONE);
	r->handle = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS |
				  TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!r->handle) {
		kvl_open_error(r);
		goto out;
	}
	r->tep = tracecmd_get_tep(r->handle);
	if (!r->tep || tep_get_cpus(r->tep) <= 0) {
		kvl_open_error(r);
		goto out;
	}
	r->nr_cpus = (u32)tep_get_cpus(r->tep);
	r->st.cpus = r->nr_cpus;
	r->st.open_seconds = kvl_mono() - t0;
	if (o && o->loop ? kvl_setup_loop(r, o) : kvl_setup_events(r))
		goto out;
	if (o && o->tgids && kvl_load_tgids(r, o->tgids))
		goto out;
	if (kvl_scan_markers(r)) {
		kvl_errorf(f, "out of memory");
		goto out;
	}
	if (r->have_markers && r->nr_ends < (r->end_n ? r->end_n : 1)) {
		kvl_errorf(f, "%s is truncated or damaged: the data of %u of %u CPUs ends early",
			   path, (r->end_n ? r->end_n : r->nr_cpus) - r->nr_ends,
			   r->end_n ? r->end_n : r->nr_cpus);
		goto out;
	}
	if (!r->have_map) {
		kvl_errorf(f, "%s has no thread-group map: record it with 'kvmio-lat record', or pass --tgids FILE, a copy of saved_tgids (see kvmio-lat(8)); if it was made by kvmio-lat record, it is truncated or damaged",
			   path);
		goto out;
	}
	if (kvl_replay_merge(r) || (r->lr && r->lr->out_of_memory)) {
		kvl_errorf(f, "out of memory");
		goto out;
	}
	if (r->lr) {
		kvl_loop_finish(&r->lr->loop, r->last_ts);
		if (kvl_loop_check_pid(r, o->show->f.pid))
			goto out;
		kvl_loop_warn_unmatched(r);
		if (kvl_loop_result(r, o, &loop_text, &loop_len)) {
			kvl_errorf(f, "out of memory");
			goto out;
		}
	}
	if (r->st.short_records)
		kvl_errorf(f, "warning: %s: %llu records shorter than their event's format were skipped (damaged file?)",
			   path, (unsigned long long)r->st.short_records);
	if (r->st.missed)
		kvl_errorf(f, "warning: %s: %llu events were lost while recording (trace buffer overrun): counts are low; record with a larger -b",
			   path, (unsigned long long)r->st.missed);
	shadowed = kvl_vms_shadowed(r);
	if (shadowed)
		kvl_errorf(f, "warning: %s: the pids of %u exited VM processes were taken by later VMs: only the last VM of each pid is shown",
			   path, shadowed);
	fprintf(f, "%s %llu %llu %llu %llu %llu %u %.6f\n", KVL_OK_LINE,
		(unsigned long long)r->st.records,
		(unsigned long long)r->st.events,
		(unsigned long long)r->st.missed,
		(unsigned long long)r->st.short_records,
		(unsigned long long)r->st.tgids, r->st.cpus,
		r->st.open_seconds);
	if (r->lr) {
		fwrite(loop_text, 1, loop_len, f);
	} else if (kvl_replay_print(r, f)) {
		kvl_errorf(f, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (requests && fclose(requests) && !ret) {
		kvl_errorf(f, "%s: %s", o->requests, strerror(errno));
		ret = 1;
	}
	free(loop_text);
	kvl_replay_free(r);
	return ret;
}

/*
 * Messages to @err; the rest, from the KVL_OK line on, into @s, or with
 * --loop, as it is to @loop_out.
 */
static int kvl_replay_result(const char *path, char *buf, size_t len,
			     struct kvl_snap *s, FILE *loop_out,
			     struct kvl_replay_stats *st, FILE *err)
{
	char *p = buf, *end = buf + len, *nl, *sep;
	unsigned long long v[5];
	struct kvl_perr pe;
	unsigned int cpus;

	while (p < end && strncmp(p, KVL_OK_LINE " ", strlen(KVL_OK_LINE) + 1)) {
		nl = memchr(p, '\n', end - p);
		nl = nl ? nl + 1 : end;
		fwrite(p, 1, nl - p, err);
		p = nl;
	}
	if (p >= end)
		return -1;
	nl = memchr(p, '\n', end - p);
	if (!nl || sscanf(p, KVL_OK_LINE " %llu %llu %llu %llu %llu %u %lf",
			  &v[0], &v[1], &v[2], &v[3], &v[4], &cpus,
			  &st->open_seconds) != 7)
		goto bad;
	st->records = v[0];
	st->events = v[1];
	st->missed = v[2];
	st->short_records = v[3];
	st->tgids = v[4];
	st->cpus = cpus;
	p = nl + 1;
	if (loop_out) {
		fwrite(p, 1, end - p, loop_out);
		return 0;
	}
	/* kvl_slurp() terminated it */
	sep = strstr(p, KVL_STATS_SEP);
	if (!sep || kvl_parse_hist(s, p, sep - p, &pe))
		goto bad;
	sep += strlen(KVL_STATS_SEP);
	if (kvl_parse_stats(s, sep, end - sep, &pe))
		goto bad;
	return 0;
bad:
	kvl_snap_free(s);
	kvl_errorf(err, "%s: replay produced no result it can read (internal error)",
		   path);
	return -1;
}

/* All of @fd, NUL-terminated, at most @cap bytes; -errno. */
static int kvl_slurp(int fd, size_t cap, char **out, size_t *len)
{
	size_t size = 0, alloc = 0;
	char *p = NULL, *q;
	ssize_t n;

	for (;;) {
		if (alloc - size < 2) {
			alloc = alloc ? alloc * 2 : 65536;
			q = realloc(p, alloc);
			if (!q) {
				free(p);
				return -ENOMEM;
			}
			p = q;
		}
		n = read(fd, p + size, alloc - size - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(p);
			return -errno;
		}
		if (!n)
			break;
		size += n;
		if (size > cap) {
			free(p);
			return -EFBIG;
		}
	}
	p[size] = '\0';
	*out = p;
	*len = size;
	return 0;
}

/*
 * The --requests file is written to a temporary file beside it and renamed
 * over it only when the replay succeeds: a damaged recording (which may
 * crash the child) leaves no partial file and an earlier one intact.
 */
static int kvl_requests_tmp(const char *name, char **tmp, FILE *err)
{
	mode_t mask = umask(0);
	int fd;

	umask(mask);
	if (asprintf(tmp, "%s.XXXXXX", name) < 0) {
		*tmp = NULL;
		kvl_errorf(err, "out of memory");
		return -1;
	}
	fd = mkstemp(*tmp);
	if (fd < 0 || fchmod(fd, 0666 & ~mask)) {
		kvl_errorf(err, "%s: %s", name, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(*tmp);
		}
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	return fd;
}

static int kvl_replay_run(const char *path, const struct kvl_replay_opts *o,
			  struct kvl_snap *s, FILE *loop_out,
			  struct kvl_replay_stats *st, FILE *err)
{
	struct kvl_replay_stats local;
	double t0 = kvl_mono();
	char *buf = NULL, *req_tmp = NULL;
	size_t len = 0;
	int fd[2], status = 0, ret = -1, rd, req_fd = -1;
	pid_t pid;

	kvl_snap_init(s);
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (o && o->requests) {
		req_fd = kvl_requests_tmp(o->requests, &req_tmp, err);
		if (req_fd < 0)
			return -1;
	}
	if (pipe2(fd, O_CLOEXEC)) {
		kvl_errorf(err, "cannot create a pipe: %s", strerror(errno));
		goto out_req;
	}
	pid = fork();
	if (pid < 0) {
		kvl_errorf(err, "cannot fork: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		goto out_req;
	}
	if (!pid) {
		FILE *f;

		close(fd[0]);
		f = fdopen(fd[1], "w");
		if (!f)
			_exit(3);
		rd = kvl_replay_child(path, o, req_fd, f);
		if (fflush(f))
			_exit(3);
		_exit(rd);	/* no atexit, no stdio of the parent's */
	}
	close(fd[1]);
	if (req_fd >= 0)
		close(req_fd);
	req_fd = -1;
	rd = kvl_slurp(fd[0], KVL_SNAP_MAX_BYTES, &buf, &len);
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rd) {
		kvl_errorf(err, "reading the replay of %s: %s", path,
			   strerror(-rd));
	} else if (WIFSIGNALED(status)) {
		kvl_errorf(err, "%s is damaged: the trace reader (libtracecmd) crashed on it (%s)",
			   path, strsignal(WTERMSIG(status)));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		/* its one line says why */
		if (kvl_replay_result(path, buf, len, s, loop_out, st, err) == 0)
			kvl_snap_free(s);
		if (!len)
			kvl_errorf(err, "replaying %s failed (exit status %d)",
				   path, WEXITSTATUS(status));
	} else {
		ret = kvl_replay_result(path, buf, len, s, loop_out, st, err);
	}
	free(buf);
	st->seconds = kvl_mono() - t0;
	if (!ret && req_tmp && rename(req_tmp, o->requests)) {
		kvl_errorf(err, "%s: %s", o->requests, strerror(errno));
		kvl_snap_free(s);
		ret = -1;
	}
out_req:
	if (req_fd >= 0)
		close(req_fd);
	if (req_tmp) {
		if (ret)
			unlink(req_tmp);
		free(req_tmp);
	}
	return ret;
}

int kvl_replay(const char *path, const struct kvl_replay_opts *o,
	       struct kvl_snap *s, struct kvl_replay_stats *st, FILE *err)
{
	struct kvl_replay_opts plain = { 0 };

	if (o) {
		plain = *o;
		plain.loop = NULL;
	}
	return kvl_replay_run(path, &plain, s, NULL, st, err);
}

int kvl_replay_loop(const char *path, const struct kvl_replay_opts *o,
		    FILE *out, struct kvl_replay_stats *st, FILE *err)
{
	struct kvl_snap unused;
	int ret;

	if (!o || !o->loop || !o->show) {
		kvl_errorf(err, "replay --loop: no chain given (internal error)");
		return -1;
	}
	ret = kvl_replay_run(path, o, &unused, out, st, err);
	kvl_snap_free(&unused);
	return ret;
}
