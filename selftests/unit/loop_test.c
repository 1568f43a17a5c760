// SPDX-License-Identifier: GPL-2.0
/*
 * loop_test.c - replay --loop's matcher and chain syntax (userspace/loop.c)
 * without a recording: synthetic events, each expected value worked out
 * in the comment beside it from the pairing rule of
 * Documentation/replay.rst ("Your own loops").  The recordings' tests
 * (hand counts of real events, the network fixture) are in
 * replay_test.c.
 */
#include <stdlib.h>
#include "kselftest_harness.h"

#include "../../userspace/loop.c"

/* chain events, as bits of kvl_loop_event.steps */
#define EV1	(1u << 0)
#define EV2	(1u << 1)
#define EV3	(1u << 2)

#define PID	100

static void loop_new(struct __test_metadata *_metadata, struct kvl_loop *l,
		     u32 n, enum kvl_loop_key key, u64 within_ns)
{
	struct kvl_loop_spec spec = { .n = n, .key = key, .within_ns = within_ns };
	u32 i;

	for (i = 0; i < n; i++)
		snprintf(spec.ev[i].label, sizeof(spec.ev[i].label), "EV%u", i + 1);
	ASSERT_EQ(0, kvl_loop_init(l, &spec));
}

/* An event of process PID (or @tgid) with @key at @ts. */
static void feed_in(struct __test_metadata *_metadata, struct kvl_loop *l,
		    s32 tgid, u64 ts, s64 key, u32 steps)
{
	struct kvl_loop_event ev = {
		.ts = ts, .tgid = tgid, .key = key, .steps = steps, .comm = "qemu",
	};

	ASSERT_EQ(0, kvl_loop_feed(l, &ev));
}

#define FEED(ts, key, steps)	feed_in(_metadata, &l, PID, ts, key, steps)

/* Histogram @i of process PID holds exactly the values @v (ascending). */
static void expect_values(struct __test_metadata *_metadata,
			  const struct kvl_loop *l, u32 i, const u64 *v, u32 nr)
{
	const struct kvl_loop_proc *p = kvl_loop_proc(l, PID);
	u64 sum = 0;
	u32 k;

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, p->hist);
	for (k = 0; k < nr; k++)
		sum += v[k];
	EXPECT_EQ(nr, p->hist[i].count);
	EXPECT_EQ(v[0], p->hist[i].min);
	EXPECT_EQ(v[nr - 1], p->hist[i].max);
	EXPECT_EQ(sum, p->hist[i].sum);
}

#define EXPECT_VALUES(i, ...) do {					\
	static const u64 __v[] = { __VA_ARGS__ };			\
	expect_values(_metadata, &l, i, __v, ARRAY_SIZE(__v));		\
} while (0)

static void expect_counts(struct __test_metadata *_metadata,
			  const struct kvl_loop *l, u64 completed,
			  u64 superseded, u64 timed_out, u64 unfinished)
{
	const struct kvl_loop_proc *p = kvl_loop_proc(l, PID);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(completed, p->n.completed);
	EXPECT_EQ(superseded, p->n.superseded);
	EXPECT_EQ(timed_out, p->n.timed_out);
	EXPECT_EQ(unfinished, p->n.unfinished);
	EXPECT_EQ(0, p->n.dropped);
}

#define EXPECT_COUNTS(...)	expect_counts(_metadata, &l, __VA_ARGS__)

/*
 * The chain crosses threads: EV1 on the vCPU thread 11, EV2 and EV3 on the
 * main loop 10, which has no instance of its own: the process's newest is
 * taken, and from then on it is keyed 10.
 */
TEST(cross_thread_hand_off)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 0);
	FEED(100, 11, EV1);
	FEED(150, 10, EV2);	/* step 1: 50 */
	FEED(400, 10, EV3);	/* step 2: 250, loop 300 */
	kvl_loop_finish(&l, 1000);
	EXPECT_COUNTS(1, 0, 0, 0);
	EXPECT_VALUES(0, 50);
	EXPECT_VALUES(1, 250);
	EXPECT_VALUES(2, 300);
	EXPECT_EQ(1, l.matched[0]);
	EXPECT_EQ(1, l.matched[1]);
	EXPECT_EQ(1, l.matched[2]);
	kvl_loop_free(&l);
}

/*
 * The same key first, the newest of the process only without one: two
 * vCPU threads start instances, 11 then 12; EV2 on 11 takes 11's (not
 * the newer 12's), EV2 on the main loop 10 then takes the one left.
 */
TEST(same_key_before_the_newest)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	FEED(100, 11, EV1);
	FEED(110, 12, EV1);
	FEED(200, 11, EV2);	/* 11's: 100 */
	FEED(300, 10, EV2);	/* 12's, the only one waiting: 190 */
	FEED(310, 10, EV2);	/* nothing waits for EV2 */
	kvl_loop_finish(&l, 1000);
	EXPECT_COUNTS(2, 0, 0, 0);
	EXPECT_VALUES(0, 100, 190);
	kvl_loop_free(&l);
}

/*
 * The key is the last event's: X (started on 11) is advanced by the main
 * loop 10 and keyed 10; Y starts and stays on 12.  EV3 on 12 takes Y,
 * its own key; EV3 on 13 (no instance keyed 13) takes the newest: X.
 */
TEST(the_key_follows_the_chain)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, EV1);	/* X */
	FEED(10, 10, EV2);	/* X: step 1 10, now keyed 10 */
	FEED(20, 12, EV1);	/* Y */
	FEED(30, 12, EV2);	/* Y: its own key; step 1 10 */
	FEED(40, 12, EV3);	/* Y: step 2 10, loop 20 */
	FEED(50, 13, EV3);	/* X: step 2 40, loop 50 */
	kvl_loop_finish(&l, 60);
	EXPECT_COUNTS(2, 0, 0, 0);
	EXPECT_VALUES(0, 10, 10);
	EXPECT_VALUES(1, 10, 40);
	EXPECT_VALUES(2, 20, 50);
	kvl_loop_free(&l);
}

/* One instance waits at a step per key: a kvm_exit storm does not pile up. */
TEST(supersede)
{
	struct kvl_loop l;
	u64 t;

	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	for (t = 0; t < 10; t++)
		FEED(t * 10, 11, EV1);	/* the last, at 90, stays */
	FEED(100, 10, EV2);		/* 10 */
	kvl_loop_finish(&l, 200);
	EXPECT_COUNTS(1, 9, 0, 0);
	EXPECT_VALUES(0, 10);
	kvl_loop_free(&l);

	/*
	 * At a later step: X (11, at 0) and Y (12, at 5) wait for EV2; EV2 on
	 * the main loop takes Y (newest), keyed 10 at EV3; the next EV2 on 10
	 * takes X, which arrives where Y (key 10) waits: Y is superseded.
	 */
	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, EV1);
	FEED(5, 12, EV1);
	FEED(10, 10, EV2);
	FEED(20, 10, EV2);
	FEED(30, 10, EV3);	/* X: steps 20, 10, loop 30 */
	kvl_loop_finish(&l, 100);
	EXPECT_COUNTS(1, 1, 0, 0);
	EXPECT_VALUES(0, 20);
	EXPECT_VALUES(1, 10);
	EXPECT_VALUES(2, 30);
	kvl_loop_free(&l);
}

/*
 * --key vcpu: the main loop has no vCPU (KVL_LOOP_KEY_NONE), one key of
 * its own: two instances handed to it wait at EV3 under the same key,
 * and the second supersedes the first.
 */
TEST(no_vcpu_is_one_key)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_VCPU, 0);
	FEED(0, 0, EV1);			/* vCPU 0 */
	FEED(10, KVL_LOOP_KEY_NONE, EV2);	/* to the main loop */
	FEED(20, 1, EV1);			/* vCPU 1 */
	FEED(30, KVL_LOOP_KEY_NONE, EV2);	/* supersedes the first */
	FEED(45, KVL_LOOP_KEY_NONE, EV3);	/* steps 10, 15, loop 25 */
	kvl_loop_finish(&l, 100);
	EXPECT_COUNTS(1, 1, 0, 0);
	EXPECT_VALUES(0, 10);
	EXPECT_VALUES(1, 15);
	EXPECT_VALUES(2, 25);
	kvl_loop_free(&l);
}

/*
 * --within 100 ns: a gap of more than 100 drops the instance when it is
 * next looked at (an event for its step), and at the end; exactly 100 is
 * in time.
 */
TEST(within)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 100);
	FEED(0, 11, EV1);
	FEED(100, 11, EV2);	/* 100: in time */
	FEED(201, 11, EV3);	/* 101 after EV2: timed out, not completed */
	FEED(300, 11, EV1);
	FEED(350, 11, EV2);
	FEED(400, 11, EV3);	/* 50, 50: completed */
	FEED(450, 12, EV1);	/* the end is 150 after it: timed out */
	FEED(500, 11, EV1);	/* the end is 100 after it: unfinished */
	kvl_loop_finish(&l, 600);
	EXPECT_COUNTS(1, 0, 2, 1);
	EXPECT_VALUES(0, 50);
	EXPECT_VALUES(2, 100);
	kvl_loop_free(&l);

	/* a late instance is not taken: the fallback finds none */
	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 100);
	FEED(0, 11, EV1);
	FEED(150, 10, EV2);
	kvl_loop_finish(&l, 150);
	EXPECT_COUNTS(0, 0, 1, 0);
	kvl_loop_free(&l);
}

/*
 * A chain that repeats an event: A,B,A.  An A first completes the
 * instance waiting for EV3, then starts a new one (the steps are taken
 * from the last to the first, so no instance moves twice on one event).
 */
TEST(repeated_event)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, EV1 | EV3);		/* starts X */
	FEED(10, 11, EV2);		/* X: 10 */
	FEED(30, 11, EV1 | EV3);	/* X: 20, loop 30; starts Y */
	FEED(40, 11, EV2);		/* Y: 10 */
	FEED(45, 11, EV1 | EV3);	/* Y: 5, loop 15; starts Z */
	kvl_loop_finish(&l, 50);
	EXPECT_COUNTS(2, 0, 0, 1);
	EXPECT_VALUES(0, 10, 10);
	EXPECT_VALUES(1, 5, 20);
	EXPECT_VALUES(2, 15, 30);
	EXPECT_EQ(3, l.matched[0]);
	EXPECT_EQ(3, l.matched[2]);
	kvl_loop_free(&l);

	/*
	 * X,A,A: an A matches EV2 and EV3; it must not take one instance
	 * through both (the later step is looked at first).
	 */
	loop_new(_metadata, &l, 3, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, EV1);
	FEED(10, 11, EV2 | EV3);	/* EV3: nothing waits; EV2: 10 */
	FEED(25, 11, EV2 | EV3);	/* EV3: 15, loop 25; EV2: none */
	kvl_loop_finish(&l, 30);
	EXPECT_COUNTS(1, 0, 0, 0);
	EXPECT_VALUES(0, 10);
	EXPECT_VALUES(1, 15);
	EXPECT_VALUES(2, 25);
	kvl_loop_free(&l);

	/* A,A: the gaps between consecutive As of one key */
	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, EV1 | EV2);
	FEED(7, 11, EV1 | EV2);
	FEED(20, 11, EV1 | EV2);
	kvl_loop_finish(&l, 20);
	EXPECT_COUNTS(2, 0, 0, 1);
	EXPECT_VALUES(0, 7, 13);
	kvl_loop_free(&l);
}

/*
 * Filters are resolved against a recording (replay.c, tested on
 * recordings in replay_test.c): here, an event that matches no step of
 * the chain moves nothing, and one that matches a step only where nothing
 * waits neither.  Instances never cross processes.
 */
TEST(unmatched_and_other_processes)
{
	struct kvl_loop l;

	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	FEED(0, 11, 0);			/* filtered out: no step */
	FEED(5, 11, EV2);		/* no instance yet: nothing */
	EXPECT_EQ(NULL, kvl_loop_proc(&l, PID));
	FEED(10, 11, EV1);
	feed_in(_metadata, &l, PID + 1, 20, 11, EV2);	/* another process */
	FEED(30, 10, EV2);				/* 20 */
	kvl_loop_finish(&l, 30);
	EXPECT_COUNTS(1, 0, 0, 0);
	EXPECT_VALUES(0, 20);
	EXPECT_EQ(NULL, kvl_loop_proc(&l, PID + 1));
	EXPECT_EQ(1, l.nr_procs);
	EXPECT_EQ(3, l.matched[1]);	/* every EV2 event is counted */
	kvl_loop_free(&l);
}

/* A hostile recording: open instances and processes are bounded. */
TEST(bounded)
{
	const struct kvl_loop_proc *p;
	struct kvl_loop l;
	s64 k;
	s32 pid;

	/* every thread a key of its own: the oldest go */
	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	for (k = 0; k < KVL_LOOP_MAX_OPEN + 44; k++)
		FEED((u64)k, 1000 + k, EV1);
	p = kvl_loop_proc(&l, PID);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(KVL_LOOP_MAX_OPEN, p->nr_open);
	EXPECT_EQ(44, p->n.dropped);
	/* the newest is still there, and it is what a stranger's EV2 takes */
	FEED(1000, 1, EV2);
	EXPECT_EQ(1000 - (KVL_LOOP_MAX_OPEN + 43), p->hist[0].max);
	kvl_loop_finish(&l, 1000);
	EXPECT_EQ(KVL_LOOP_MAX_OPEN - 1, p->n.unfinished);
	kvl_loop_free(&l);

	/* processes */
	loop_new(_metadata, &l, 2, KVL_LOOP_KEY_TID, 0);
	for (pid = 1; pid <= KVL_LOOP_MAX_PROCS + 10; pid++)
		feed_in(_metadata, &l, pid, 0, pid, EV1);
	EXPECT_EQ(KVL_LOOP_MAX_PROCS, l.nr_procs);
	EXPECT_EQ(10, l.procs_refused);
	EXPECT_NE(NULL, kvl_loop_proc(&l, KVL_LOOP_MAX_PROCS));
	EXPECT_EQ(NULL, kvl_loop_proc(&l, KVL_LOOP_MAX_PROCS + 1));
	kvl_loop_finish(&l, 1);
	kvl_loop_free(&l);
}

/* ------------------------------------------------------------------ */
/* the chain's syntax */

TEST(parse)
{
	struct kvl_loop_spec s;
	char msg[256];

	ASSERT_EQ(0, kvl_loop_parse(&s, "kvm_exit[exit_reason=io], sys_exit_ppoll,"
				    "raw_syscalls:sys_enter[id=0x14],kvm:kvm_pio[port=-1]",
				    msg, sizeof(msg))) TH_LOG("%s", msg);
	EXPECT_EQ(4, s.n);
	EXPECT_STREQ("kvm_exit[exit_reason=io]", s.ev[0].label);
	EXPECT_STREQ("", s.ev[0].system);
	EXPECT_STREQ("exit_reason", s.ev[0].field);
	EXPECT_FALSE(s.ev[0].numeric);
	EXPECT_STREQ("io", s.ev[0].value);
	EXPECT_STREQ("sys_exit_ppoll", s.ev[1].label);
	EXPECT_STREQ("", s.ev[1].field);
	EXPECT_STREQ("raw_syscalls", s.ev[2].system);
	EXPECT_STREQ("sys_enter", s.ev[2].name);
	EXPECT_TRUE(s.ev[2].numeric);
	EXPECT_EQ(20, s.ev[2].num);
	EXPECT_STREQ("kvm:kvm_pio[port=-1]", s.ev[3].label);
	EXPECT_EQ(~0ULL, s.ev[3].num);
	ASSERT_EQ(0, kvl_loop_parse(&s, "a,b[f=18446744073709551615]", msg,
				    sizeof(msg)));
	EXPECT_EQ(~0ULL, s.ev[1].num);
	ASSERT_EQ(0, kvl_loop_parse(&s, "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", msg,
				    sizeof(msg)));
	EXPECT_EQ(KVL_LOOP_MAX_STEPS, s.n);
}

/*
 * The longest event: four names of 63 characters fill its label (257
 * bytes with the NUL).  The label was 256 bytes, and its "]" went over
 * into the system's name, which came out empty (loop_fuzz's input:
 * fixtures/loop-seeds/label-fills-its-array).
 */
TEST(parse_longest_event)
{
	char name[4][KVL_LOOP_NAME_LEN], text[2 * KVL_LOOP_LABEL_LEN], msg[256];
	struct kvl_loop_spec s;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		memset(name[i], 'a' + i, KVL_LOOP_NAME_LEN - 1);
		name[i][KVL_LOOP_NAME_LEN - 1] = '\0';
	}
	snprintf(text, sizeof(text), "%s:%s[%s=%s]", name[0], name[1], name[2], name[3]);
	EXPECT_EQ(4 * 63 + 4, strlen(text));
	strcat(text, ",b");
	ASSERT_EQ(0, kvl_loop_parse(&s, text, msg, sizeof(msg))) TH_LOG("%s", msg);
	EXPECT_EQ(2, s.n);
	EXPECT_STREQ(name[0], s.ev[0].system);
	EXPECT_STREQ(name[1], s.ev[0].name);
	EXPECT_STREQ(name[2], s.ev[0].field);
	EXPECT_STREQ(name[3], s.ev[0].value);
	EXPECT_FALSE(s.ev[0].numeric);
	text[4 * 63 + 4] = '\0';
	EXPECT_STREQ(text, s.ev[0].label);
	EXPECT_STREQ("b", s.ev[1].label);
}

TEST(parse_errors)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "", "event 1 is missing" },
		{ "kvm_exit", "at least two events" },
		{ "kvm_exit,", "event 2 is missing" },
		{ "a,,b", "event 2 is missing" },
		{ "a b,c", "unexpected 'b,c' after event 1" },
		{ "a;b", "unexpected ';b'" },
		{ "kvm:,b", "wants an event name after the colon" },
		{ ":a,b", "event 1 is missing" },
		{ "a[f],b", "wants [FIELD=VALUE]" },
		{ "a[=1],b", "wants [FIELD=VALUE]" },
		{ "a[f=1,b", "closing ']'" },
		{ "a[f=],b", "with one value" },
		{ "a[f=1x],b", "is not a number" },
		{ "a[f=0x],b", "is not a number" },
		{ "a[f=99999999999999999999],b", "is not a number" },
		{ "a[f=-],b", "is not a number" },
		{ "a[f=x-y],b", "neither a number nor a name" },
		{ "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "at most 16 events" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,b",
		  "longer than 63 characters" },
	};
	struct kvl_loop_spec s;
	char msg[256];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		msg[0] = '\0';
		EXPECT_EQ(-1, kvl_loop_parse(&s, bad[i].text, msg, sizeof(msg)))
			TH_LOG("'%s' parsed", bad[i].text);
		EXPECT_NE(NULL, strstr(msg, bad[i].msg))
			TH_LOG("'%s': %s", bad[i].text, msg);
	}
}

TEST(keys)
{
	enum kvl_loop_key k;

	EXPECT_TRUE(kvl_loop_key_parse("vcpu", &k));
	EXPECT_EQ(KVL_LOOP_KEY_VCPU, k);
	EXPECT_STREQ("vcpu", kvl_loop_key_name(k));
	EXPECT_TRUE(kvl_loop_key_parse("tid", &k));
	EXPECT_TRUE(kvl_loop_key_parse("tgid", &k));
	EXPECT_TRUE(kvl_loop_key_parse("cpu", &k));
	EXPECT_EQ(KVL_LOOP_KEY_CPU, k);
	EXPECT_FALSE(kvl_loop_key_parse("pid", &k));
	EXPECT_FALSE(kvl_loop_key_parse("", &k));
}

/*
 * The name table against the uapi header of this machine: every
 * "#define __NR_name nr" in it must be there, both ways.
 */
TEST(syscall_names_match_unistd_64)
{
	static const char *const headers[] = {
		"/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
		"/usr/include/asm/unistd_64.h",
	};
	char line[256], name[128];
	unsigned int i, nr, checked = 0;
	FILE *f = NULL;

	for (i = 0; i < ARRAY_SIZE(headers) && !f; i++)
		f = fopen(headers[i], "r");
	if (!f)
		SKIP(return, "no <asm/unistd_64.h> here (linux-libc-dev)");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "#define __NR_%127s %u", name, &nr) != 2)
			continue;
		EXPECT_EQ((int)nr, kvl_syscall_nr(name)) TH_LOG("%s", name);
		EXPECT_STREQ(name, kvl_syscall_name(nr));
		checked++;
	}
	fclose(f);
	EXPECT_LT(300, checked);
	EXPECT_EQ(-1, kvl_syscall_nr("no_such_call"));
	EXPECT_EQ(NULL, kvl_syscall_name(400));	/* unused on x86-64 */
	EXPECT_EQ(NULL, kvl_syscall_name(100000));
	/* past 6.1's header: from syscall_64.tbl */
	EXPECT_EQ(462, kvl_syscall_nr("mseal"));
	EXPECT_EQ(469, kvl_syscall_nr("file_setattr"));
}

TEST_HARNESS_MAIN
