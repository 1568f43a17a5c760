// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_fuzz.c - libFuzzer target for the reader's snapshot parsers
 * (`make fuzz`).  Whatever the bytes, parsing must fail cleanly or give a
 * snapshot that every printer, merge and delta can take: no crash, no leak,
 * no undefined behaviour, no unbounded allocation.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parse.h"
#include "output.h"

static FILE *devnull;

static void render(const struct kvl_snap *s)
{
	struct kvl_show_opts o = { .hist = true, .fmt = KVL_FMT_TEXT };
	struct kvl_snap delta, empty;

	kvl_filter_init(&o.f);
	o.f.exits = true;
	kvl_print_show(devnull, s, &o);
	kvl_print_json(devnull, s, &o.f);
	kvl_print_csv(devnull, s, &o.f, "", "", true);
	kvl_print_compare(devnull, s, "a", s, "b", &o.f);
	kvl_print_compare_paths(devnull, s, "a", &o.f);
	if (!kvl_snap_delta(s, s, &delta)) {
		kvl_print_watch(devnull, &delta, 1.0, "00:00:00", &o, true);
		kvl_snap_free(&delta);
	}
	/* an interval with everything in it: every row of watch */
	kvl_snap_init(&empty);
	if (!kvl_snap_delta(&empty, s, &delta)) {
		kvl_print_watch(devnull, &delta, 1.0, "00:00:00", &o, true);
		kvl_snap_free(&delta);
	}
	if (s->nr_vms) {	/* one VM and vCPU selected, each path in turn */
		o.f.pid = s->vms[0].pid;
		if (s->vms[0].nr_vcpus)
			o.f.vcpu = s->vms[0].vcpus[0].id;
		for (o.f.path = 0; o.f.path < KVL_NR_PATHS; o.f.path++) {
			kvl_print_show(devnull, s, &o);
			kvl_print_compare_paths(devnull, s, "a", &o.f);
		}
		o.f.path = KVL_PATH_URING;
	}
	/* --disk: per-disk rows, as text and CSV, of that VM's path */
	o.f.vcpu = -1;
	o.f.exits = false;
	o.disks = true;
	kvl_print_show(devnull, s, &o);
	kvl_print_csv_disks(devnull, s, &o.f);
	kvl_filter_init(&o.f);
	kvl_print_show(devnull, s, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvl_snap s, empty, delta;
	struct kvl_filter f;
	struct kvl_perr pe;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	kvl_snap_init(&s);
	if (!kvl_parse_hist(&s, (const char *)data, size, &pe)) {
		render(&s);
		kvl_snap_init(&empty);
		if (!kvl_snap_delta(&empty, &s, &delta))
			kvl_snap_free(&delta);
		kvl_snap_free(&s);
	}
	kvl_snap_init(&s);
	if (!kvl_parse_stats(&s, (const char *)data, size, &pe)) {
		kvl_filter_init(&f);
		kvl_print_json(devnull, &s, &f);
	}
	kvl_snap_free(&s);
	return 0;
}
