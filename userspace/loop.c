// SPDX-License-Identifier: GPL-2.0
/*
 * loop.c - the chains of replay --loop: their syntax, the x86-64 system
 * call names, and the matcher that pairs events into instances (see
 * loop.h; the pairing rule is Documentation/replay.rst's "Your own
 * loops", and kvl_loop_feed() follows it sentence by sentence).
 */
#include <assert.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>

#include "loop.h"
#include "syscall_table.h"

/* ------------------------------------------------------------------ */
/* the chain's syntax */

static const char *const kvl_loop_keys[] = {
	[KVL_LOOP_KEY_TID] = "tid",
	[KVL_LOOP_KEY_TGID] = "tgid",
	[KVL_LOOP_KEY_VCPU] = "vcpu",
	[KVL_LOOP_KEY_CPU] = "cpu",
};

bool kvl_loop_key_parse(const char *s, enum kvl_loop_key *key)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvl_loop_keys); i++) {
		if (!strcmp(s, kvl_loop_keys[i])) {
			*key = i;
			return true;
		}
	}
	return false;
}

const char *kvl_loop_key_name(enum kvl_loop_key key)
{
	return key < ARRAY_SIZE(kvl_loop_keys) ? kvl_loop_keys[key] : "?";
}

static int kvl_loop_fail(char *msg, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kvl_loop_fail(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return -1;
}

static bool kvl_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* A run of identifier characters (and @extra) into @buf; its length. */
static size_t kvl_take(const char **p, char *buf, size_t size,
		       const char *extra)
{
	size_t n = 0;

	while (kvl_ident_char(**p) || (**p && strchr(extra, **p))) {
		if (n + 1 < size)
			buf[n] = **p;
		n++;
		(*p)++;
	}
	buf[n < size ? n : size - 1] = '\0';
	return n;
}

static void kvl_skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* VALUE: decimal (negative too), 0x hex, or a name (exit_reason's). */
static int kvl_loop_value(struct kvl_loop_ev *e, char *msg, size_t size)
{
	const char *v = e->value;
	char *end;

	e->numeric = false;
	if (isalpha((unsigned char)v[0]) || v[0] == '_') {
		for (; *v; v++)
			if (!kvl_ident_char(*v))
				return kvl_loop_fail(msg, size, "--loop: '%s' in %s is neither a number nor a name",
						     e->value, e->label);
		return 0;
	}
	errno = 0;
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X') && isxdigit((unsigned char)v[2]))
		e->num = strtoull(v + 2, &end, 16);
	else if (v[0] == '-' && isdigit((unsigned char)v[1]))
		e->num = (u64)strtoll(v, &end, 10);
	else if (isdigit((unsigned char)v[0]))
		e->num = strtoull(v, &end, 10);
	else
		end = (char *)v;
	if (*end || errno)
		return kvl_loop_fail(msg, size, "--loop: '%s' in %s is not a number (decimal, or hexadecimal with 0x) nor a name",
				     e->value, e->label);
	e->numeric = true;
	return 0;
}

/* The longest event, four names of 63 and ":[=]", fills its label exactly. */
static_assert(KVL_LOOP_LABEL_LEN >= 4 * (KVL_LOOP_NAME_LEN - 1) + 4 + 1,
	      "an event's label does not fit");

/* One [SYSTEM:]NAME[[FIELD=VALUE]] at *@p; *@p moves past it. */
static int kvl_loop_event_parse(struct kvl_loop_ev *e, const char **p,
				u32 i, char *msg, size_t size)
{
	const char *start = *p;
	char a[KVL_LOOP_NAME_LEN];
	size_t n;

	memset(e, 0, sizeof(*e));
	n = kvl_take(p, a, sizeof(a), "");
	if (!n)
		return kvl_loop_fail(msg, size, "--loop: event %u is missing (at '%s'): write EVENT or SYSTEM:EVENT, separated by commas",
				     i + 1, start);
	if (n >= sizeof(a))
		return kvl_loop_fail(msg, size, "--loop: event %u's name is longer than %zu characters",
				     i + 1, sizeof(a) - 1);
	if (**p == ':') {
		(*p)++;
		memcpy(e->system, a, sizeof(a));
		n = kvl_take(p, e->name, sizeof(e->name), "");
		if (!n || n >= sizeof(e->name))
			return kvl_loop_fail(msg, size, "--loop: event %u, '%s:', wants an event name after the colon",
					     i + 1, e->system);
	} else {
		memcpy(e->name, a, sizeof(a));
	}
	if (**p == '[') {
		(*p)++;
		n = kvl_take(p, e->field, sizeof(e->field), "");
		if (!n || n >= sizeof(e->field) || **p != '=')
			return kvl_loop_fail(msg, size, "--loop: event %u's filter wants [FIELD=VALUE] (at '%s')",
					     i + 1, start);
		(*p)++;
		n = kvl_take(p, e->value, sizeof(e->value), "-");
		if (!n || n >= sizeof(e->value) || **p != ']')
			return kvl_loop_fail(msg, size, "--loop: event %u's filter wants [FIELD=VALUE] with one value and a closing ']' (at '%s')",
					     i + 1, start);
		(*p)++;
	}
	snprintf(e->label, sizeof(e->label), "%s%s%s%s%s%s%s%s", e->system,
		 e->system[0] ? ":" : "", e->name, e->field[0] ? "[" : "",
		 e->field, e->field[0] ? "=" : "", e->value,
		 e->field[0] ? "]" : "");
	return e->field[0] ? kvl_loop_value(e, msg, size) : 0;
}

int kvl_loop_parse(struct kvl_loop_spec *spec, const char *text, char *msg,
		   size_t size)
{
	const char *p = text;
	u32 n = 0;

	for (;;) {
		kvl_skip_spaces(&p);
		if (n == KVL_LOOP_MAX_STEPS)
			return kvl_loop_fail(msg, size, "--loop: at most %d events",
					     KVL_LOOP_MAX_STEPS);
		if (kvl_loop_event_parse(&spec->ev[n], &p, n, msg, size))
			return -1;
		n++;
		kvl_skip_spaces(&p);
		if (!*p)
			break;
		if (*p != ',')
			return kvl_loop_fail(msg, size, "--loop: unexpected '%s' after event %u (events are separated by commas)",
					     p, n);
		p++;
	}
	if (n < 2)
		return kvl_loop_fail(msg, size, "--loop wants at least two events, EV1,EV2,...: the latency is between consecutive ones");
	spec->n = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* x86-64 system call names */

int kvl_syscall_nr(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kvl_syscall_names); i++)
		if (kvl_syscall_names[i] && !strcmp(kvl_syscall_names[i], name))
			return (int)i;
	return -1;
}

const char *kvl_syscall_name(u32 nr)
{
	return nr < ARRAY_SIZE(kvl_syscall_names) ? kvl_syscall_names[nr] :
	       NULL;
}

/* ------------------------------------------------------------------ */
/* the matcher */

int kvl_loop_init(struct kvl_loop *l, const struct kvl_loop_spec *spec)
{
	memset(l, 0, sizeof(*l));
	l->spec = *spec;
	l->procs = calloc(KVL_LOOP_MAX_PROCS, sizeof(*l->procs));
	return l->procs ? 0 : -1;
}

void kvl_loop_free(struct kvl_loop *l)
{
	u32 i;

	for (i = 0; l->procs && i < l->nr_procs; i++) {
		free(l->procs[i].hist);
		free(l->procs[i].open);
	}
	free(l->procs);
	l->procs = NULL;
	l->nr_procs = 0;
}

static u32 kvl_loop_hash(s32 tgid)
{
	return ((u32)tgid * 2654435761u) % KVL_LOOP_HASH;
}

static struct kvl_loop_proc *kvl_loop_find(const struct kvl_loop *l,
					   s32 tgid, u32 *free_slot)
{
	u32 h = kvl_loop_hash(tgid);

	while (l->slot[h]) {
		struct kvl_loop_proc *p = &l->procs[l->slot[h] - 1];

		if (p->tgid == tgid)
			return p;
		h = (h + 1) % KVL_LOOP_HASH;
	}
	if (free_slot)
		*free_slot = h;
	return NULL;
}

const struct kvl_loop_proc *kvl_loop_proc(const struct kvl_loop *l, s32 tgid)
{
	return kvl_loop_find(l, tgid, NULL);
}

/* The process of @ev, made if it starts an instance; NULL: none. */
static struct kvl_loop_proc *kvl_loop_proc_of(struct kvl_loop *l,
					      const struct kvl_loop_event *ev)
{
	struct kvl_loop_proc *p;
	u32 h;

	p = kvl_loop_find(l, ev->tgid, &h);
	if (p || !(ev->steps & 1))
		return p;
	if (l->nr_procs == KVL_LOOP_MAX_PROCS) {
		l->procs_refused++;
		return NULL;
	}
	p = &l->procs[l->nr_procs++];
	p->tgid = ev->tgid;
	if (ev->comm)
		snprintf(p->comm, sizeof(p->comm), "%s", ev->comm);
	l->slot[h] = (u16)l->nr_procs;
	return p;
}

static void kvl_loop_remove(struct kvl_loop_proc *p, u32 i)
{
	p->open[i] = p->open[--p->nr_open];
}

/* The gap since the event before @x's next is over --within. */
static bool kvl_loop_late(const struct kvl_loop *l,
			  const struct kvl_loop_inst *x, u64 now)
{
	return l->spec.within_ns && now > x->t[x->next - 1] &&
	       now - x->t[x->next - 1] > l->spec.within_ns;
}

/* The instances waiting for @step are looked at: the late ones go. */
static void kvl_loop_expire(struct kvl_loop *l, struct kvl_loop_proc *p,
			    u32 step, u64 now)
{
	u32 i = p->nr_open;

	while (i--) {
		if (p->open[i].next == step && kvl_loop_late(l, &p->open[i], now)) {
			kvl_loop_remove(p, i);
			p->n.timed_out++;
		}
	}
}

/*
 * The instance an event with @key advances at @step: the newest waiting
 * there with the same key, else the newest waiting there in the process
 * (the chain crossed threads); -1: none.
 */
static int kvl_loop_pick(const struct kvl_loop_proc *p, u32 step, s64 key)
{
	int same = -1, any = -1;
	u32 i;

	for (i = 0; i < p->nr_open; i++) {
		const struct kvl_loop_inst *x = &p->open[i];

		if (x->next != step)
			continue;
		if (any < 0 || x->seq > p->open[any].seq)
			any = (int)i;
		if (x->key == key && (same < 0 || x->seq > p->open[same].seq))
			same = (int)i;
	}
	return same >= 0 ? same : any;
}

/*
 * @x arrives at the step it now waits for: the late ones there go, an
 * instance already waiting there with its key is superseded, and if the
 * process has KVL_LOOP_MAX_OPEN open the one that arrived first anywhere
 * is dropped.
 */
static int kvl_loop_put(struct kvl_loop *l, struct kvl_loop_proc *p,
			const struct kvl_loop_inst *x, u64 now)
{
	u32 i, oldest;

	kvl_loop_expire(l, p, x->next, now);
	i = p->nr_open;
	while (i--) {
		if (p->open[i].next == x->next && p->open[i].key == x->key) {
			kvl_loop_remove(p, i);
			p->n.superseded++;
		}
	}
	if (p->nr_open == KVL_LOOP_MAX_OPEN) {
		for (oldest = 0, i = 1; i < p->nr_open; i++)
			if (p->open[i].seq < p->open[oldest].seq)
				oldest = i;
		kvl_loop_remove(p, oldest);
		p->n.dropped++;
	}
	if (p->nr_open == p->cap_open) {
		u32 cap = p->cap_open ? 2 * p->cap_open : 8;
		struct kvl_loop_inst *o = realloc(p->open, cap * sizeof(*o));

		if (!o)
			return -1;
		p->open = o;
		p->cap_open = cap;
	}
	p->open[p->nr_open++] = *x;
	return 0;
}

static int kvl_loop_complete(struct kvl_loop *l, struct kvl_loop_proc *p,
			     const struct kvl_loop_inst *x)
{
	u32 n = l->spec.n, i;

	if (!p->hist) {
		p->hist = calloc(n, sizeof(*p->hist));
		if (!p->hist)
			return -1;
		for (i = 0; i < n; i++)
			kvl_hist_init(&p->hist[i]);
	}
	for (i = 0; i + 1 < n; i++)
		kvl_hist_record(&p->hist[i], (s64)(x->t[i + 1] - x->t[i]));
	kvl_hist_record(&p->hist[n - 1], (s64)(x->t[n - 1] - x->t[0]));
	p->n.completed++;
	return 0;
}

int kvl_loop_feed(struct kvl_loop *l, const struct kvl_loop_event *ev)
{
	struct kvl_loop_proc *p;
	struct kvl_loop_inst x;
	u32 n = l->spec.n, step;
	int i;

	for (step = 0; step < n; step++)
		l->matched[step] += (ev->steps >> step) & 1;
	p = kvl_loop_proc_of(l, ev);
	if (!p)
		return 0;
	/* from the last step to the second: an event advances no instance twice */
	for (step = n - 1; step >= 1; step--) {
		if (!((ev->steps >> step) & 1))
			continue;
		kvl_loop_expire(l, p, step, ev->ts);
		i = kvl_loop_pick(p, step, ev->key);
		if (i < 0)
			continue;
		x = p->open[i];
		kvl_loop_remove(p, (u32)i);
		x.t[step] = ev->ts;
		if (step == n - 1) {
			if (kvl_loop_complete(l, p, &x))
				return -1;
			continue;
		}
		x.next = step + 1;
		x.key = ev->key;	/* the chain goes on from this thread */
		x.seq = ++l->seq;
		if (kvl_loop_put(l, p, &x, ev->ts))
			return -1;
	}
	if (!(ev->steps & 1))
		return 0;
	memset(&x, 0, sizeof(x));
	x.t[0] = ev->ts;
	x.next = 1;
	x.key = ev->key;
	x.seq = ++l->seq;
	return kvl_loop_put(l, p, &x, ev->ts);
}

void kvl_loop_finish(struct kvl_loop *l, u64 end_ts)
{
	u32 i, j;

	l->end_ts = end_ts;
	for (i = 0; i < l->nr_procs; i++) {
		struct kvl_loop_proc *p = &l->procs[i];

		for (j = 0; j < p->nr_open; j++) {
			if (kvl_loop_late(l, &p->open[j], end_ts))
				p->n.timed_out++;
			else
				p->n.unfinished++;
		}
		p->nr_open = 0;
	}
}
