// SPDX-License-Identifier: GPL-2.0
/*
 * loop_fuzz.c - libFuzzer target for replay --loop (`make fuzz`): the chain
 * syntax and the matcher of userspace/loop.c.  The input is
 *
 *	CHAIN '\0' KEY '\0' WITHIN PRINT EVENTS...
 *
 * CHAIN (at most 512 bytes; bytes 1, 2 and 3 lengthen the name before
 * them, expand()) is --loop's text for kvl_loop_parse(), KEY --key's for
 * kvl_loop_key_parse() (empty: tid; not a key: one picked by its first
 * byte), WITHIN a --within picked by one byte, PRINT the output's options.  If the chain parses, EVENTS are decoded into what replay.c feeds
 * the matcher: timestamps that never go back, processes whose tgids collide
 * in its table, keys of --key's kind, the chain's steps each event matches
 * (never none), and bursts of processes and keys past the bounds.  Whatever
 * the input, no crash, leak or undefined behaviour, and:
 *
 *  - a chain that parses has 2 to 16 events, every name, filter and label
 *    NUL-terminated inside its array, and the labels joined by commas parse
 *    to the same chain, a system call's name its number's; one that does
 *    not gives a "--loop..." message, cut short but terminated in a small
 *    buffer;
 *  - after each event, in its process: every instance started by an EV1 is
 *    open or counted once (completed, superseded, timed out, dropped), no
 *    more than KVL_LOOP_MAX_OPEN open, every histogram holds the completed
 *    ones; KVL_LOOP_MAX_PROCS processes at most;
 *  - at checkpoints and at the end: the EV1 events of processes past the
 *    bound counted refused, each step's matched events counted; each open
 *    instance waits for a step of the chain with its earlier times in
 *    order, one per step and key; the histograms' buckets add up, nothing
 *    negative, a step's values within the loop's, the steps' sums the
 *    loop's sum exactly (means within rounding), none over --within;
 *  - a model of the pairing rule, written from Documentation/replay.rst
 *    apart from loop.c, fed the same events, has the same counts in each
 *    process after each event, and at checkpoints the same instances open
 *    and the same values in each histogram;
 *  - kvl_loop_finish() leaves nothing open, each started instance counted
 *    once, unfinished or timed out at the end; the CSV prints every
 *    process's rows with those counts and means.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "fuzz_input.h"
#include "loop.h"
#include "output.h"

#define CHAIN_MAX	512	/* bytes of --loop's text */
#define KEY_MAX		16	/* bytes of --key's */
#define MAX_EVENTS	5000	/* fed per input */
#define BURST_MAX	300	/* events of a burst: past either bound */
#define MAX_CHECKS	8	/* full checks per input, the last ones apart */

/* 612 and 1124 probe past 100 in the matcher's table, 949 past 437 */
static const s32 tgids[] = { 100, 612, 1124, 437, 949, 200, 1, 0x7fffffff };
static const char *const comms[] = { "qemu", "qemu-system-x86_64", "", NULL };

static FILE *devnull;

struct run {
	struct kvl_loop l;
	struct in in;
	u64 now;
	u32 mask;			/* every step of the chain */
	u32 events;
	u32 checks;
	u64 matched[KVL_LOOP_MAX_STEPS];
	u64 refused;
	u64 started[KVL_LOOP_MAX_PROCS];	/* by index in l.procs */
	u32 nr_ref;			/* processes of the model, ref[] */
	u64 ref_refused;
};

/* A value of one histogram, as the model keeps them. */
struct ref_hist {
	u64 count, sum, min, max, overflow;
};

struct ref_inst {
	s64 key;
	u32 next;
	u64 t[KVL_LOOP_MAX_STEPS];
};

/* A process of the model: its open instances in the order they arrived. */
struct ref_proc {
	s32 tgid;
	u32 nr;
	struct ref_inst open[KVL_LOOP_MAX_OPEN];
	struct kvl_loop_counts n;
	struct ref_hist h[KVL_LOOP_MAX_STEPS];
};

static struct ref_proc ref[KVL_LOOP_MAX_PROCS];

/* ------------------------------------------------------------------ */
/* the chain */

/* The bytes up to a NUL (at most @max), in an allocation of their own. */
static char *text_of(struct in *in, size_t max)
{
	size_t len = 0;
	char *s;

	while (len < max && len < in->n && in->p[len])
		len++;
	s = malloc(len + 1);	/* exactly: ASan sees a read past the NUL */
	CHECK(s, "out of memory");
	memcpy(s, in->p, len);
	s[len] = '\0';
	in->p += len;
	in->n -= len;
	if (in->n && !*in->p)
		u8_of(in);
	return s;
}

/*
 * @raw with each "\1K" as K more of the character before it, and each
 * "\2" ("\3") as as many as make the name before it as long as a name may
 * be (one more): the limits are where parsers break.
 */
static char *expand(const char *raw)
{
	size_t len = 0, run = 0, want;
	char *big = malloc(strlen(raw) * 255 + 1), *s, c = 'a';
	const char *p;

	CHECK(big, "out of memory");
	for (p = raw; *p; p++) {
		if (*p == 1 || *p == 2 || *p == 3) {
			want = *p == 1 ? run + (p[1] ? (unsigned char)*++p : 0) :
			       KVL_LOOP_NAME_LEN - 3 + *p;
			for (; run < want; run++)
				big[len++] = c;
			continue;
		}
		c = big[len++] = *p;
		run = isalnum((unsigned char)c) || c == '_' || c == '-' ? run + 1 : 0;
	}
	s = malloc(len + 1);	/* exactly, as text_of() */
	CHECK(s, "out of memory");
	memcpy(s, big, len);
	s[len] = '\0';
	free(big);
	return s;
}

static bool ident(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || strchr(extra, *s)))
			return false;
	return true;
}

static void check_names(const struct kvl_loop_ev *e, u32 i)
{
	CHECK(strnlen(e->label, sizeof(e->label)) < sizeof(e->label),
	      "event %u's label is not terminated in its array", i + 1);
	CHECK(strnlen(e->system, sizeof(e->system)) < sizeof(e->system) &&
	      strnlen(e->name, sizeof(e->name)) < sizeof(e->name) &&
	      strnlen(e->field, sizeof(e->field)) < sizeof(e->field) &&
	      strnlen(e->value, sizeof(e->value)) < sizeof(e->value),
	      "event %u: a name is not terminated in its array", i + 1);
	CHECK(e->name[0] && ident(e->name, "") && ident(e->system, "") &&
	      ident(e->field, "") && ident(e->value, "-"),
	      "event %u: '%s' '%s' '%s' '%s'", i + 1, e->system, e->name,
	      e->field, e->value);
	CHECK(!e->field[0] == !e->value[0] && (e->field[0] || !e->numeric),
	      "event %u: a filter without a field or value", i + 1);
	CHECK(!e->numeric || isdigit((unsigned char)e->value[0]) || e->value[0] == '-',
	      "event %u: '%s' taken as a number", i + 1, e->value);
}

/* sys_enter_NAME, sys_exit_NAME: the call's number names it back (replay.c). */
static void check_syscall(const struct kvl_loop_ev *e)
{
	const char *call = NULL, *name;
	int nr;

	if (!strncmp(e->name, "sys_enter_", 10))
		call = e->name + 10;
	else if (!strncmp(e->name, "sys_exit_", 9))
		call = e->name + 9;
	if (!call)
		return;
	nr = kvl_syscall_nr(call);
	name = nr >= 0 ? kvl_syscall_name((u32)nr) : NULL;
	CHECK(nr < 0 || (name && !strcmp(name, call)), "system call %s is %d, named %s",
	      call, nr, name ? name : "(none)");
}

static bool same_event(const struct kvl_loop_ev *a, const struct kvl_loop_ev *b)
{
	return !strcmp(a->label, b->label) && !strcmp(a->system, b->system) &&
	       !strcmp(a->name, b->name) && !strcmp(a->field, b->field) &&
	       !strcmp(a->value, b->value) && a->numeric == b->numeric &&
	       a->num == b->num;
}

/* The chain of @text into @spec: whether it parses, its invariants checked. */
static bool chain_of(const char *text, struct kvl_loop_spec *spec)
{
	static char joined[KVL_LOOP_MAX_STEPS * (KVL_LOOP_LABEL_LEN + 1)];
	static struct kvl_loop_spec again;
	size_t tiny_size = 1 + strlen(text) % 8, len = 0;
	char msg[256], *tiny = malloc(tiny_size);
	int ret;
	u32 i;

	CHECK(tiny, "out of memory");
	ret = kvl_loop_parse(spec, text, msg, sizeof(msg));
	CHECK(kvl_loop_parse(&again, text, tiny, tiny_size) == ret,
	      "'%s' parses with one message buffer, not the other", text);
	if (ret) {
		CHECK(ret == -1 && !strncmp(msg, "--loop", 6), "'%s': %s", text, msg);
		CHECK(memchr(tiny, '\0', tiny_size) && !strncmp(tiny, msg, tiny_size - 1),
		      "'%s': the message cut short is '%.*s'", text, (int)tiny_size, tiny);
		free(tiny);
		return false;
	}
	free(tiny);
	CHECK(spec->n >= 2 && spec->n <= KVL_LOOP_MAX_STEPS, "'%s': %u events", text,
	      spec->n);
	for (i = 0; i < spec->n; i++) {
		check_names(&spec->ev[i], i);
		check_syscall(&spec->ev[i]);
		len += snprintf(joined + len, sizeof(joined) - len, "%s%s", i ? "," : "",
				spec->ev[i].label);
	}
	CHECK(!kvl_loop_parse(&again, joined, msg, sizeof(msg)) && again.n == spec->n,
	      "'%s' parsed, its labels '%s' do not: %s", text, joined, msg);
	for (i = 0; i < spec->n; i++)
		CHECK(same_event(&spec->ev[i], &again.ev[i]),
		      "'%s': event %u is not its label '%s'", text, i + 1, spec->ev[i].label);
	return true;
}

/* --key's text: kvl_loop_key_parse() and kvl_loop_key_name() agree. */
static enum kvl_loop_key key_of(const char *text)
{
	enum kvl_loop_key key = KVL_LOOP_KEY_TID;
	int i;

	if (!text[0])
		return key;	/* no --key */
	if (kvl_loop_key_parse(text, &key)) {
		CHECK(!strcmp(kvl_loop_key_name(key), text), "--key %s is %s", text,
		      kvl_loop_key_name(key));
		return key;
	}
	for (i = KVL_LOOP_KEY_TID; i <= KVL_LOOP_KEY_CPU; i++)
		CHECK(strcmp(kvl_loop_key_name(i), text), "--key %s refused", text);
	return (enum kvl_loop_key)((unsigned char)text[0] % 4);
}

/* --within: none, about the events' own gaps (exactly, at times), or seconds. */
static u64 within_of(uint8_t b)
{
	if (b < 0x80)
		return b;
	return b < 0xc0 ? (u64)(b - 0x7f) * 64 : (u64)(b - 0xbf) << 32;
}

/* ------------------------------------------------------------------ */
/* the checks */

static u64 index_of(const struct run *r, const struct kvl_loop_proc *p)
{
	return (u64)(p - r->l.procs);
}

/* What holds after every event of @p: counts, bounds, histogram counts. */
static void check_counts(const struct run *r, const struct kvl_loop_proc *p,
			 bool finished)
{
	const struct kvl_loop_counts *c = &p->n;
	u64 started = r->started[index_of(r, p)];
	u64 gone = c->completed + c->superseded + c->timed_out + c->dropped;
	u32 i;

	CHECK(index_of(r, p) < r->l.nr_procs, "process %d not in procs", p->tgid);
	CHECK(c->completed <= started && c->superseded <= started &&
	      c->timed_out <= started && c->dropped <= started &&
	      c->unfinished <= started && gone <= started,
	      "process %d: more instances counted than %llu started", p->tgid,
	      (unsigned long long)started);
	CHECK(p->nr_open <= KVL_LOOP_MAX_OPEN && p->nr_open <= p->cap_open,
	      "process %d: %u open, %u room", p->tgid, p->nr_open, p->cap_open);
	if (finished)
		CHECK(!p->nr_open && gone + c->unfinished == started,
		      "process %d: %llu started, %llu counted, %u open at the end", p->tgid,
		      (unsigned long long)started,
		      (unsigned long long)(gone + c->unfinished), p->nr_open);
	else
		CHECK(!c->unfinished && gone + p->nr_open == started,
		      "process %d: %llu started, %llu gone, %u open", p->tgid,
		      (unsigned long long)started, (unsigned long long)gone, p->nr_open);
	CHECK(r->l.spec.within_ns || !c->timed_out, "timed out without --within");
	CHECK(!c->completed == !p->hist, "process %d: %llu completed, histograms %p",
	      p->tgid, (unsigned long long)c->completed, (void *)p->hist);
	for (i = 0; p->hist && i < r->l.spec.n; i++)
		CHECK(p->hist[i].count == c->completed,
		      "process %d: histogram %u holds %llu of %llu completed", p->tgid, i,
		      (unsigned long long)p->hist[i].count,
		      (unsigned long long)c->completed);
}

static int by_step_and_key(const void *a, const void *b)
{
	const struct kvl_loop_inst *x = a, *y = b;

	if (x->next != y->next)
		return x->next < y->next ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int ref_by_step_and_key(const void *a, const void *b)
{
	const struct ref_inst *x = a, *y = b;

	if (x->next != y->next)
		return x->next < y->next ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* The open instances of @p: where they wait, their times, one per step and key. */
static void check_open(const struct run *r, const struct kvl_loop_proc *p)
{
	static struct kvl_loop_inst sorted[KVL_LOOP_MAX_OPEN];
	u32 n = r->l.spec.n, i, k;

	for (i = 0; i < p->nr_open; i++) {
		const struct kvl_loop_inst *x = &p->open[i];

		CHECK(x->next >= 1 && x->next < n, "process %d: an instance waits for EV%u",
		      p->tgid, x->next + 1);
		CHECK(x->seq && x->seq <= r->l.seq, "process %d: an instance's seq %llu",
		      p->tgid, (unsigned long long)x->seq);
		for (k = 1; k < x->next; k++)
			CHECK(x->t[k - 1] <= x->t[k], "process %d: EV%u before EV%u", p->tgid,
			      k + 1, k);
		CHECK(x->t[x->next - 1] <= r->now, "process %d: an instance from the future",
		      p->tgid);
		sorted[i] = *x;
	}
	qsort(sorted, p->nr_open, sizeof(*sorted), by_step_and_key);
	for (i = 1; i < p->nr_open; i++)
		CHECK(by_step_and_key(&sorted[i - 1], &sorted[i]),
		      "process %d: two instances of key %lld wait for EV%u", p->tgid,
		      (long long)sorted[i].key, sorted[i].next + 1);
}

/*
 * The histograms of @p: the buckets add up, no negative value (time never
 * goes back), each step's within the loop's and --within, and the steps'
 * sums the loop's (each completed instance's step values add up to its
 * loop value) unless the loop's values overflowed the buckets.
 */
static void check_hists(const struct run *r, const struct kvl_loop_proc *p)
{
	u32 n = r->l.spec.n, i, b;
	u64 within = r->l.spec.within_ns, sum = 0, means = 0, maxes = 0, mean;
	const struct kvl_hist *loop;

	if (!p->hist)
		return;
	loop = &p->hist[n - 1];
	for (i = 0; i < n; i++) {
		const struct kvl_hist *h = &p->hist[i];
		u64 held = h->overflow;

		for (b = 0; b < KVL_HIST_NBUCKETS; b++)
			held += h->buckets[b];
		CHECK(held == h->count, "process %d: histogram %u: %llu in buckets of %llu",
		      p->tgid, i, (unsigned long long)held, (unsigned long long)h->count);
		CHECK(!h->negative && h->min <= h->max, "process %d: histogram %u: %llu negative",
		      p->tgid, i, (unsigned long long)h->negative);
		CHECK(!within || h->max <= (i + 1 < n ? 1 : n - 1) * within,
		      "process %d: histogram %u: %llu over --within %llu", p->tgid, i,
		      (unsigned long long)h->max, (unsigned long long)within);
		if (i + 1 == n)
			break;
		CHECK(h->min <= loop->min && h->max <= loop->max &&
		      h->overflow <= loop->overflow,
		      "process %d: step %u beyond the loop", p->tgid, i + 1);
		sum += h->sum;
		means += kvl_hist_mean(h);
		maxes += h->max;
	}
	CHECK(loop->max <= maxes, "process %d: the loop's max %llu over its steps' %llu",
	      p->tgid, (unsigned long long)loop->max, (unsigned long long)maxes);
	if (loop->overflow)
		return;
	mean = kvl_hist_mean(loop);
	CHECK(sum == loop->sum, "process %d: the steps sum to %llu, the loop %llu",
	      p->tgid, (unsigned long long)sum, (unsigned long long)loop->sum);
	/* each of the n - 1 step means is rounded down: less than 1 ns each */
	CHECK(means <= mean && mean - means < n - 1,
	      "process %d: the step means add up to %llu, the loop's is %llu", p->tgid,
	      (unsigned long long)means, (unsigned long long)mean);
}

/*
 * The CSV: a row per process and step, in the processes' order, each with
 * its process's counts, and the step means adding up to the loop's (as
 * printed, to 0.1 ns) unless the loop's values overflowed.
 */
static void check_csv(const struct run *r)
{
	struct kvl_show_opts o = { .fmt = KVL_FMT_CSV };
	u32 n = r->l.spec.n, rows = 0;
	double means = 0;
	char *out = NULL, *line, *next;
	size_t len = 0;
	FILE *f;

	kvl_filter_init(&o.f);
	f = open_memstream(&out, &len);
	CHECK(f && !kvl_print_loop(f, &r->l, &o), "print");
	CHECK(!fclose(f), "print");
	line = strchr(out, '\n');
	CHECK(line && !strncmp(out, "pid,comm,step,", 14), "no CSV header");
	for (line++; *line; line = next + 1) {
		const struct kvl_loop_proc *p = &r->l.procs[rows / n];
		unsigned long long count, completed, timed_out, unfinished, dropped;
		char *field[19], *s = line;
		double mean;
		u32 i, step = rows % n;

		next = strchr(line, '\n');
		CHECK(next && rows / n < r->l.nr_procs, "CSV row %u: '%s'", rows, line);
		*next = '\0';
		for (i = 0; i < 19 && s; i++) {
			field[i] = s;
			s = strchr(s, ',');
			if (s)
				*s++ = '\0';
		}
		CHECK(i == 19 && !s, "CSV row %u: %u fields", rows, i);
		CHECK(atoi(field[0]) == p->tgid, "CSV row %u: pid %s, not %d", rows,
		      field[0], p->tgid);
		completed = strtoull(field[5], NULL, 10);
		timed_out = strtoull(field[7], NULL, 10);
		unfinished = strtoull(field[8], NULL, 10);
		dropped = strtoull(field[9], NULL, 10);
		count = strtoull(field[10], NULL, 10);
		CHECK(completed == p->n.completed && count == completed &&
		      timed_out == p->n.timed_out && unfinished == p->n.unfinished &&
		      dropped == p->n.dropped, "CSV row %u: counts of process %d", rows,
		      p->tgid);
		mean = strtod(field[13], NULL);
		if (step + 1 < n) {
			means += mean;
		} else {
			CHECK(!strcmp(field[2], "loop"), "CSV row %u: step %s", rows, field[2]);
			/* n means printed to 0.05 ns, and the doubles' own error */
			CHECK(!p->hist || p->hist[n - 1].overflow ||
			      fabs(means - mean) <= 0.05 * n + mean * 1e-12,
			      "process %d: CSV step means %.1f, loop %.1f", p->tgid, means, mean);
			means = 0;
		}
		rows++;
	}
	CHECK(rows == n * r->l.nr_procs, "%u CSV rows for %u processes", rows,
	      r->l.nr_procs);
	free(out);
}

/* ------------------------------------------------------------------ */
/*
 * The model: the pairing rule as Documentation/replay.rst words it, kept
 * apart from loop.c's way (open instances in arrival order, found by
 * scanning, no sequence numbers, no hash): the matcher must count and
 * measure exactly as it does.
 */

static struct ref_proc *ref_find(const struct run *r, s32 tgid)
{
	u32 i;

	for (i = 0; i < r->nr_ref; i++)
		if (ref[i].tgid == tgid)
			return &ref[i];
	return NULL;
}

static struct ref_inst ref_take(struct ref_proc *p, u32 i)
{
	struct ref_inst x = p->open[i];

	memmove(&p->open[i], &p->open[i + 1], (p->nr - i - 1) * sizeof(x));
	p->nr--;
	return x;
}

/* More than --within after the event before the one it waits for. */
static bool ref_late(const struct run *r, const struct ref_inst *x, u64 now)
{
	u64 within = r->l.spec.within_ns;

	return within && now - x->t[x->next - 1] > within;
}

/* "when it is next looked at": the late ones waiting for @step go. */
static void ref_expire(struct run *r, struct ref_proc *p, u32 step)
{
	u32 i = 0;

	while (i < p->nr) {
		if (p->open[i].next == step && ref_late(r, &p->open[i], r->now)) {
			ref_take(p, i);
			p->n.timed_out++;
		} else {
			i++;
		}
	}
}

/* @x gets to the step it waits for: newest there, one per key, 256 open. */
static void ref_arrive(struct run *r, struct ref_proc *p, const struct ref_inst *x)
{
	u32 i = 0;

	ref_expire(r, p, x->next);
	while (i < p->nr) {
		if (p->open[i].next == x->next && p->open[i].key == x->key) {
			ref_take(p, i);
			p->n.superseded++;
		} else {
			i++;
		}
	}
	if (p->nr == KVL_LOOP_MAX_OPEN) {
		ref_take(p, 0);		/* the first to get to its step */
		p->n.dropped++;
	}
	p->open[p->nr++] = *x;
}

static void ref_value(struct ref_hist *h, u64 ns)
{
	if (!h->count || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->count++;
	if (ns >= KVL_HIST_MAX_NS)
		h->overflow++;
	else
		h->sum += ns;
}

static void ref_event(struct run *r, const struct kvl_loop_event *ev)
{
	struct ref_proc *p = ref_find(r, ev->tgid);
	u32 n = r->l.spec.n, step, i;
	struct ref_inst x;
	int pick;

	if (!p && !(ev->steps & 1))
		return;
	if (!p && r->nr_ref == KVL_LOOP_MAX_PROCS) {
		r->ref_refused++;
		return;
	}
	if (!p) {
		p = &ref[r->nr_ref++];
		p->tgid = ev->tgid;
		p->nr = 0;
		memset(&p->n, 0, sizeof(p->n));
		memset(p->h, 0, sizeof(p->h));
	}
	for (step = n - 1; step >= 1; step--) {
		if (!(ev->steps >> step & 1))
			continue;
		ref_expire(r, p, step);
		/* the newest waiting with the event's key, else the newest */
		pick = -1;
		for (i = p->nr; i--; ) {
			if (p->open[i].next != step)
				continue;
			if (p->open[i].key == ev->key) {
				pick = (int)i;
				break;
			}
			if (pick < 0)
				pick = (int)i;
		}
		if (pick < 0)
			continue;
		x = ref_take(p, (u32)pick);
		x.t[step] = ev->ts;
		if (step + 1 < n) {
			x.next = step + 1;
			x.key = ev->key;
			ref_arrive(r, p, &x);
			continue;
		}
		p->n.completed++;
		for (i = 0; i + 1 < n; i++)
			ref_value(&p->h[i], x.t[i + 1] - x.t[i]);
		ref_value(&p->h[n - 1], x.t[n - 1] - x.t[0]);
	}
	if (ev->steps & 1) {
		memset(&x, 0, sizeof(x));
		x.key = ev->key;
		x.next = 1;
		x.t[0] = ev->ts;
		ref_arrive(r, p, &x);
	}
}

static void ref_finish(struct run *r, u64 end)
{
	u32 i, j;

	for (i = 0; i < r->nr_ref; i++) {
		for (j = 0; j < ref[i].nr; j++) {
			if (ref_late(r, &ref[i].open[j], end))
				ref[i].n.timed_out++;
			else
				ref[i].n.unfinished++;
		}
		ref[i].nr = 0;
	}
}

static bool same_counts(const struct kvl_loop_counts *a, const struct kvl_loop_counts *b)
{
	return a->completed == b->completed && a->superseded == b->superseded &&
	       a->timed_out == b->timed_out && a->unfinished == b->unfinished &&
	       a->dropped == b->dropped;
}

/* The matcher's process @p is the model's: counts, open instances, values. */
static void check_model(const struct run *r, const struct kvl_loop_proc *p, bool all)
{
	static struct kvl_loop_inst mine[KVL_LOOP_MAX_OPEN];
	static struct ref_inst theirs[KVL_LOOP_MAX_OPEN];
	const struct ref_proc *m = ref_find(r, p->tgid);
	u32 n = r->l.spec.n, i, k;

	CHECK(m && m - ref == p - r->l.procs, "process %d: not the model's %ld", p->tgid,
	      m ? (long)(m - ref) : -1L);
	CHECK(same_counts(&p->n, &m->n) && p->nr_open == m->nr,
	      "process %d: %llu completed, %llu superseded, %llu timed out, %llu unfinished, %llu dropped, %u open; the model: %llu, %llu, %llu, %llu, %llu, %u",
	      p->tgid, (unsigned long long)p->n.completed,
	      (unsigned long long)p->n.superseded, (unsigned long long)p->n.timed_out,
	      (unsigned long long)p->n.unfinished, (unsigned long long)p->n.dropped,
	      p->nr_open, (unsigned long long)m->n.completed,
	      (unsigned long long)m->n.superseded, (unsigned long long)m->n.timed_out,
	      (unsigned long long)m->n.unfinished, (unsigned long long)m->n.dropped, m->nr);
	if (!all)
		return;
	for (i = 0; p->hist && i < n; i++) {
		const struct kvl_hist *h = &p->hist[i];
		const struct ref_hist *e = &m->h[i];

		CHECK(h->count == e->count && h->sum == e->sum && h->min == e->min &&
		      h->max == e->max && h->overflow == e->overflow,
		      "process %d: histogram %u: count %llu sum %llu min %llu max %llu; the model: %llu %llu %llu %llu",
		      p->tgid, i, (unsigned long long)h->count, (unsigned long long)h->sum,
		      (unsigned long long)h->min, (unsigned long long)h->max,
		      (unsigned long long)e->count, (unsigned long long)e->sum,
		      (unsigned long long)e->min, (unsigned long long)e->max);
	}
	/* the same instances open: one per step and key, so sorted alike */
	memcpy(mine, p->open, p->nr_open * sizeof(*mine));
	qsort(mine, p->nr_open, sizeof(*mine), by_step_and_key);
	memcpy(theirs, m->open, m->nr * sizeof(*theirs));
	qsort(theirs, m->nr, sizeof(*theirs), ref_by_step_and_key);
	for (i = 0; i < p->nr_open; i++) {
		CHECK(mine[i].next == theirs[i].next && mine[i].key == theirs[i].key,
		      "process %d: an instance of key %lld waits for EV%u, the model's %lld for EV%u",
		      p->tgid, (long long)mine[i].key, mine[i].next + 1,
		      (long long)theirs[i].key, theirs[i].next + 1);
		for (k = 0; k < mine[i].next; k++)
			CHECK(mine[i].t[k] == theirs[i].t[k],
			      "process %d: key %lld: EV%u at %llu, the model's at %llu", p->tgid,
			      (long long)mine[i].key, k + 1, (unsigned long long)mine[i].t[k],
			      (unsigned long long)theirs[i].t[k]);
	}
}

/* Everything: every process, its instances and histograms; the CSV at the end. */
static void check_all(struct run *r, bool finished)
{
	u32 i;

	CHECK(r->l.nr_procs <= KVL_LOOP_MAX_PROCS && r->l.nr_procs == r->nr_ref,
	      "%u processes, the model's %u", r->l.nr_procs, r->nr_ref);
	CHECK(r->l.procs_refused == r->refused && r->refused == r->ref_refused && (!r->refused ||
	      r->l.nr_procs == KVL_LOOP_MAX_PROCS),
	      "%llu refused (%llu expected), %u processes",
	      (unsigned long long)r->l.procs_refused, (unsigned long long)r->refused,
	      r->l.nr_procs);
	for (i = 0; i < r->l.spec.n; i++) {
		CHECK(r->l.matched[i] == r->matched[i], "EV%u matched %llu, fed %llu", i + 1,
		      (unsigned long long)r->l.matched[i],
		      (unsigned long long)r->matched[i]);
	}
	for (i = 0; i < r->l.nr_procs; i++) {
		const struct kvl_loop_proc *p = &r->l.procs[i];

		CHECK(kvl_loop_proc(&r->l, p->tgid) == p, "process %d not found", p->tgid);
		check_counts(r, p, finished);
		check_open(r, p);
		check_hists(r, p);
		check_model(r, p, true);
	}
	if (finished)	/* printing is the slow part: once */
		check_csv(r);
}

/* ------------------------------------------------------------------ */
/* the events */

/* The key replay gives an event of thread @tid (@k: its vCPU and CPU). */
static s64 key_for(const struct run *r, s32 tgid, s64 tid, uint8_t k)
{
	switch (r->l.spec.key) {
	case KVL_LOOP_KEY_TID:
		return tid;
	case KVL_LOOP_KEY_TGID:
		return tgid;
	case KVL_LOOP_KEY_VCPU:
		return (k >> 4) < 12 ? (k >> 4) % 4 : KVL_LOOP_KEY_NONE;
	case KVL_LOOP_KEY_CPU:
		return k >> 4;
	}
	CHECK(0, "--key %d", r->l.spec.key);
	return 0;
}

static void feed(struct run *r, s32 tgid, s64 key, u32 steps, const char *comm)
{
	struct kvl_loop_event ev = {
		.ts = r->now, .tgid = tgid, .key = key, .steps = steps, .comm = comm,
	};
	const struct kvl_loop_proc *p;
	u32 i;

	CHECK(!kvl_loop_feed(&r->l, &ev), "out of memory");
	ref_event(r, &ev);
	r->events++;
	for (i = 0; i < r->l.spec.n; i++)
		r->matched[i] += (steps >> i) & 1;
	p = kvl_loop_proc(&r->l, tgid);
	if (steps & 1) {
		if (p)
			r->started[index_of(r, p)]++;
		else
			r->refused++;
	}
	CHECK(r->l.nr_procs <= KVL_LOOP_MAX_PROCS, "%u processes", r->l.nr_procs);
	if (p) {
		check_counts(r, p, false);
		check_model(r, p, false);
	}
}

/* The steps an event matches: one mostly, two sometimes, any (not none). */
static u32 steps_of(struct run *r)
{
	uint8_t s = u8_of(&r->in);
	u32 n = r->l.spec.n, steps;

	if (s < 0x80)
		return 1u << (s % n);
	if (s < 0xc0)
		return 1u << (s % n) | 1u << ((s >> 3) % n);
	steps = u16_of(&r->in) & r->mask;
	return steps ? steps : 1u << (s % n);
}

/* One event of a process of tgids[] at a tick later (or the same time). */
static void one_event(struct run *r)
{
	uint8_t dt = u8_of(&r->in), who = u8_of(&r->in), k = u8_of(&r->in);
	s32 tgid = tgids[who % ARRAY_SIZE(tgids)];
	s64 tid = (s64)tgid + k % 16;

	r->now += dt < 0xc0 ? dt : (u64)(dt - 0xbf) * 997;
	feed(r, tgid, key_for(r, tgid, tid, k), steps_of(r),
	     comms[(who >> 3) % ARRAY_SIZE(comms)]);
}

/* A burst at one time: many processes (or keys of one) matching the same steps. */
static void burst(struct run *r, bool processes)
{
	uint8_t how = u8_of(&r->in);
	u32 count = 1 + u16_of(&r->in) % BURST_MAX, steps = steps_of(r), i;
	s32 tgid = tgids[how % ARRAY_SIZE(tgids)];
	/* processes side by side in the table, or all in one slot */
	s32 stride = how & 0x80 ? 512 : 1;

	if (processes)
		steps |= 1;	/* each starts an instance, or is refused */

	for (i = 0; i < count && r->events < MAX_EVENTS; i++) {
		s32 t = processes ? 10000 + (s32)i * stride : tgid;
		s64 tid = (s64)t + (processes ? 0 : i);

		feed(r, t, key_for(r, t, tid, (uint8_t)i), steps, comms[0]);
	}
}

/* ------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	CHECK(devnull, "/dev/null");
	return 0;
}

/* Printed as replay --loop prints it, with the options of @how. */
static void print(const struct run *r, uint8_t how)
{
	struct kvl_show_opts o = {
		.fmt = how % 3, .hist = how & 4, .hist_unit = (how >> 3) % 4,
	};

	kvl_filter_init(&o.f);
	if (how & 0x40 && r->l.nr_procs)
		o.f.pid = r->l.procs[r->l.nr_procs - 1].tgid;
	CHECK(!kvl_print_loop(devnull, &r->l, &o), "print");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;
	struct kvl_loop_spec spec;
	struct run *r = &run;
	char *raw, *chain, *key;
	uint8_t how;
	u64 end;

	memset(r, 0, sizeof(*r));
	r->in = (struct in){ data, size };
	raw = text_of(&r->in, CHAIN_MAX);
	chain = expand(raw);
	free(raw);
	key = text_of(&r->in, KEY_MAX);
	if (!chain_of(chain, &spec)) {
		free(chain);
		free(key);
		return 0;
	}
	spec.key = key_of(key);
	spec.within_ns = within_of(u8_of(&r->in));
	how = u8_of(&r->in);
	free(chain);
	free(key);
	CHECK(!kvl_loop_init(&r->l, &spec), "out of memory");
	r->mask = (1u << spec.n) - 1;
	r->now = 1000000;
	while (r->in.n && r->events < MAX_EVENTS) {
		uint8_t op = u8_of(&r->in) % 16;

		if (op < 12)
			one_event(r);
		else if (op < 14)
			burst(r, op == 12);
		else if (op == 14 && r->checks++ < MAX_CHECKS)
			check_all(r, false);
		else if (op == 15)	/* over the histograms' range at times */
			r->now += (u64)u8_of(&r->in) << 30;
	}
	check_all(r, false);
	end = r->now + (u64)how * 1000;
	kvl_loop_finish(&r->l, end);
	ref_finish(r, end);
	check_all(r, true);
	print(r, how);
	kvl_loop_free(&r->l);
	CHECK(!r->l.procs && !r->l.nr_procs, "freed");
	return 0;
}
