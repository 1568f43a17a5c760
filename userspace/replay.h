/* SPDX-License-Identifier: GPL-2.0 */
/*
 * replay.h - kvmio-lat record and replay: trace-cmd recordings of the
 * tracepoints kvmio_lat.ko attaches to, fed offline to the same engine
 * (Documentation/replay.rst).
 *
 * record runs trace-cmd with the events below; replay reads the .dat with
 * libtracecmd/libtraceevent, merges the CPUs in timestamp order, turns each
 * record into an engine event exactly as module/probes.c does, and hands
 * the caller a snapshot, the same model "show" prints.
 */
#ifndef KVMIO_LAT_REPLAY_H
#define KVMIO_LAT_REPLAY_H

#include <stdio.h>
#include "snapshot.h"
#include "loop.h"
#include "output.h"

/* The trace events the engine needs, in this order (record and replay). */
struct kvl_trace_event {
	const char *system;
	const char *name;
	bool optional;		/* replay does without it (older recordings) */
};

#define KVL_NR_TRACE_EVENTS	14
extern const struct kvl_trace_event kvl_trace_events[KVL_NR_TRACE_EVENTS];

/*
 * The thread-group map kvmio-lat record writes into the recording: lines
 * "kvmio_lat tgids 1: TID=TGID TID=TGID ..." through trace_marker (ftrace
 * print events), just before the recording stops.  Threads it does not
 * name are their own group leaders (tid == tgid).
 */
#define KVL_TGID_MARKER		"kvmio_lat tgids 1:"
#define KVL_TGID_LINE_MAX	1000	/* bytes per trace_marker write */

/*
 * Then, as the last thing on each CPU it may run on, "kvmio_lat end 1:
 * cpu=C n=N" (N such lines in all): a CPU's data that lacks its line was
 * cut short, a truncated or damaged file.
 */
#define KVL_END_MARKER		"kvmio_lat end 1:"

/*
 * x86-64 syscall ids record keeps (raw_syscalls filter): every id the
 * engine classifies, plus write(2), the irqfd write that raises most
 * interrupts (an interrupt is settled at the raising thread's next syscall
 * exit when no kvm_apic_accept_irq follows it).  Returns the count; @ids
 * holds at most @max.
 */
unsigned int kvl_record_syscalls(u32 *ids, unsigned int max);

struct kvl_replay_opts {
	const char *tgids;	/* saved_tgids copy ("TID TGID" lines) or NULL */
	const char *requests;	/* write every recorded request here, or NULL */
	/* kvl_replay_loop(): the chain, and how to print its result */
	const struct kvl_loop_spec *loop;
	const struct kvl_show_opts *show;
};

/*
 * One recorded request as a line, the fields of the module's
 * kvmio_lat_request trace event in its order (Documentation/output.rst).
 */
void kvl_request_line(FILE *f, const struct kvl_request_record *rec);

struct kvl_replay_stats {
	u64 records;		/* trace records read (all events, all CPUs) */
	u64 events;		/* handed to the engine */
	u64 missed;		/* lost while recording (ring buffer overruns) */
	u64 short_records;	/* records smaller than their event's format */
	u64 tgids;		/* threads with a known thread group */
	u32 cpus;
	double seconds;		/* wall time: open, both passes, snapshot */
	double open_seconds;	/* of which opening (libtracecmd: headers,
				 * event formats, kallsyms) */
};

/*
 * Replay @path into @s (freshly initialised by this call).  0, or -1 after
 * one line on @err saying what is wrong.  Warnings (lost events) go to @err
 * too, one line each.
 */
int kvl_replay(const char *path, const struct kvl_replay_opts *o,
	       struct kvl_snap *s, struct kvl_replay_stats *st, FILE *err);

/*
 * replay --loop: the chain @o->loop over the recording @path, without the
 * engine (only the chain's events, the thread-group map and, for --key
 * vcpu, kvm_entry are needed), printed on @out as @o->show says
 * (kvl_print_loop()).  0, or -1 after one line on @err (an event, field
 * or value the recording does not have, --pid selecting no process);
 * st->events counts the events that matched the chain.
 */
int kvl_replay_loop(const char *path, const struct kvl_replay_opts *o,
		    FILE *out, struct kvl_replay_stats *st, FILE *err);

/*
 * kvmio-lat record: trace-cmd record into @output until @cmd (NULL: until
 * SIGINT/SIGTERM) exits.  @buffer_kb: per-CPU ring buffer (0: default);
 * @all_syscalls: no raw_syscalls filter.  Returns the exit code
 * (cli.h): @cmd's own status, or KVL_EXIT_ERROR after one line on @err.
 */
#define KVL_RECORD_MAX_EVENTS	64	/* -e */

struct kvl_record_opts {
	const char *output;
	unsigned long buffer_kb;
	bool all_syscalls;
	char **cmd;		/* NULL-terminated, or NULL */
	/* -e: more events, SYSTEM:EVENT or EVENT, each checked in tracefs */
	const char *const *events;
	unsigned int nr_events;
};

int kvl_record(const struct kvl_record_opts *o, FILE *err);
/* -e's argument looks like SYSTEM:EVENT or EVENT (tracefs decides later). */
bool kvl_record_event_name_ok(const char *s);

#endif /* KVMIO_LAT_REPLAY_H */
