// SPDX-License-Identifier: GPL-2.0
/*
 * replay_bench - how fast kvmio-lat replay reads a recording: each FILE
 * replayed ROUNDS times (the whole replay: open, both passes, the child
 * process and the result), then records per second.  A FILE.tgids next
 * to a plain recording is used as its --tgids.
 *
 *   replay_bench ROUNDS FILE...
 */
#include <stdlib.h>
#include <unistd.h>
#include "replay.h"

int main(int argc, char **argv)
{
	u64 all_records = 0;
	double all_secs = 0;
	int rounds, i, k;

	rounds = argc > 1 ? atoi(argv[1]) : 0;
	if (argc < 3 || rounds < 1) {
		fprintf(stderr, "usage: replay_bench ROUNDS FILE...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		struct kvl_replay_opts o = { 0 };
		struct kvl_replay_stats st;
		char tgids[4096];
		double secs = 0, open = 0;
		u64 records = 0;
		struct kvl_snap s;

		snprintf(tgids, sizeof(tgids), "%.*s.tgids",
			 (int)strlen(argv[i]) - 4, argv[i]);
		if (strlen(argv[i]) > 4 && !access(tgids, R_OK))
			o.tgids = tgids;
		for (k = 0; k < rounds; k++) {
			if (kvl_replay(argv[i], &o, &s, &st, stderr))
				break;
			kvl_snap_free(&s);
			records += st.records;
			secs += st.seconds;
			open += st.open_seconds;
		}
		if (k < rounds)
			continue;	/* not a usable recording: said why */
		printf("%-40s %8llu records x %d: %8.3f ms each (%.3f opening): %9.0f records/s, %9.0f after opening\n",
		       argv[i], (unsigned long long)st.records, rounds,
		       secs * 1e3 / rounds, open * 1e3 / rounds,
		       secs > 0 ? records / secs : 0.0,
		       secs > open ? records / (secs - open) : 0.0);
		all_records += records;
		all_secs += secs - open;
	}
	printf("all: %llu records in %.3f s after opening: %.0f records/s\n",
	       (unsigned long long)all_records, all_secs,
	       all_secs > 0 ? all_records / all_secs : 0.0);
	return 0;
}
