/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loop.h - replay --loop: the latency between consecutive events of a
 * chain the user names ("specify your own event loops", the 2016 talk),
 * in a recording.  Documentation/replay.rst, "Your own loops".
 *
 * This part is pure C: the chain's syntax, x86-64 system call names, and
 * the matcher, which pairs events into instances of the chain and keeps
 * one histogram per step and one for the whole loop, per process.
 * replay.c finds the events in a recording and feeds them here in
 * timestamp order; output.c prints the result.
 */
#ifndef KVMIO_LAT_LOOP_H
#define KVMIO_LAT_LOOP_H

#include <stdio.h>
#include "kvmio_lat/engine.h"

#define KVL_LOOP_MAX_STEPS	16	/* events in a chain */
#define KVL_LOOP_NAME_LEN	64	/* a system, event, field or value */
/* SYSTEM:NAME[FIELD=VALUE], each name at most KVL_LOOP_NAME_LEN - 1, a NUL */
#define KVL_LOOP_LABEL_LEN	(4 * KVL_LOOP_NAME_LEN + 1)
#define KVL_LOOP_MAX_OPEN	256	/* open instances per process */
#define KVL_LOOP_MAX_PROCS	256	/* processes that started one */

/* What ties a step's event to an instance first (--key). */
enum kvl_loop_key {
	KVL_LOOP_KEY_TID,
	KVL_LOOP_KEY_TGID,
	KVL_LOOP_KEY_VCPU,
	KVL_LOOP_KEY_CPU,
};

/* The key of an event of a thread that is not a vCPU (--key vcpu). */
#define KVL_LOOP_KEY_NONE	(-1LL)

/* One event of the chain, as written: [SYSTEM:]NAME[[FIELD=VALUE]]. */
struct kvl_loop_ev {
	char label[KVL_LOOP_LABEL_LEN];	/* as written, for the output */
	char system[KVL_LOOP_NAME_LEN];	/* "" when not given */
	char name[KVL_LOOP_NAME_LEN];
	char field[KVL_LOOP_NAME_LEN];	/* "" without a filter */
	char value[KVL_LOOP_NAME_LEN];
	bool numeric;			/* value is a number, in num */
	u64 num;			/* a negative one two's complement */
};

struct kvl_loop_spec {
	u32 n;				/* 2 .. KVL_LOOP_MAX_STEPS */
	struct kvl_loop_ev ev[KVL_LOOP_MAX_STEPS];
	enum kvl_loop_key key;
	u64 within_ns;			/* 0: no limit (--within) */
};

/*
 * "EV1,EV2,...,EVn" into @spec (its key and within_ns are left alone).
 * 0, or -1 with one sentence in @msg.  Whether the events exist is the
 * recording's business (replay.c).
 */
int kvl_loop_parse(struct kvl_loop_spec *spec, const char *text, char *msg,
		   size_t size);
bool kvl_loop_key_parse(const char *s, enum kvl_loop_key *key);
const char *kvl_loop_key_name(enum kvl_loop_key key);

/*
 * x86-64 system calls: the number of @name (-1: no such call) and the
 * name of @nr (NULL: none).
 */
int kvl_syscall_nr(const char *name);
const char *kvl_syscall_name(u32 nr);

/* ------------------------------------------------------------------ */
/* the matcher */

/* One recorded event that matches one or more events of the chain. */
struct kvl_loop_event {
	u64 ts;
	s32 tgid;			/* its process: instances never leave it */
	s64 key;			/* by spec.key; KVL_LOOP_KEY_NONE */
	u32 steps;			/* bit i: it matches EV(i+1) */
	const char *comm;		/* its process's name, or NULL */
};

/* What became of the instances of one process. */
struct kvl_loop_counts {
	u64 completed;
	u64 superseded;		/* another took its place at its step */
	u64 timed_out;		/* --within */
	u64 unfinished;		/* open at the end of the recording */
	u64 dropped;		/* the oldest, when KVL_LOOP_MAX_OPEN were open */
};

/* An instance of the chain: the events it passed, the one it waits for. */
struct kvl_loop_inst {
	s64 key;
	u64 seq;		/* arrival order at its step: newest is largest */
	u32 next;		/* index of the event it waits for, >= 1 */
	u64 t[KVL_LOOP_MAX_STEPS];	/* time of each event before next */
};

struct kvl_loop_proc {
	s32 tgid;
	char comm[KVL_COMM_LEN];	/* "" unknown */
	struct kvl_loop_counts n;
	/*
	 * [spec.n] once an instance completed, else NULL: [i] is step i
	 * (EV(i+1) -> EV(i+2)), [spec.n - 1] the whole loop (EV1 -> EVn).
	 * Only completed instances are recorded: every histogram holds the
	 * same instances, and the steps' means add up to the loop's.
	 */
	struct kvl_hist *hist;
	struct kvl_loop_inst *open;
	u32 nr_open;
	u32 cap_open;
};

#define KVL_LOOP_HASH		(2 * KVL_LOOP_MAX_PROCS)

struct kvl_loop {
	struct kvl_loop_spec spec;
	struct kvl_loop_proc *procs;	/* in the order they started one */
	u32 nr_procs;
	u16 slot[KVL_LOOP_HASH];	/* by tgid: index in procs + 1 */
	u64 seq;
	u64 matched[KVL_LOOP_MAX_STEPS];	/* events that matched EV(i+1) */
	u64 procs_refused;	/* EV1 events of processes past the limit */
	u64 end_ts;		/* of the recording, kvl_loop_finish() */
};

int kvl_loop_init(struct kvl_loop *l, const struct kvl_loop_spec *spec);
/* One event, in timestamp order; -1 when out of memory. */
int kvl_loop_feed(struct kvl_loop *l, const struct kvl_loop_event *ev);
/* The recording ended at @end_ts: the open instances are counted. */
void kvl_loop_finish(struct kvl_loop *l, u64 end_ts);
void kvl_loop_free(struct kvl_loop *l);
const struct kvl_loop_proc *kvl_loop_proc(const struct kvl_loop *l, s32 tgid);

#endif /* KVMIO_LAT_LOOP_H */
