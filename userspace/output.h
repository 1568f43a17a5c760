/* SPDX-License-Identifier: GPL-2.0 */
/*
 * output.h - what the reader prints: tables in human units, histograms as
 * bars, JSON (schema "kvmio_lat/5") and CSV, interval deltas, comparisons.
 * Everything writes to a FILE and returns 0, or -1 when out of memory.
 */
#ifndef KVMIO_LAT_OUTPUT_H
#define KVMIO_LAT_OUTPUT_H

#include "snapshot.h"

/*
 * 2: zeros are in the buckets and the mean; "negative", "overflow" added.
 * 3: per-VM "disks" (hist format 3).
 * 4: a disk's "io" beside "submit_to_irq" and "total" (hist format 4).
 * 5: "io_uring" beside "native" and "threads" in every "paths" (format 5).
 */
#define KVL_JSON_SCHEMA	"kvmio_lat/5"

enum kvl_format {
	KVL_FMT_TEXT,
	KVL_FMT_JSON,
	KVL_FMT_CSV,
};

/* The unit of the bars' rows (--hist-unit); AUTO: by the data. */
enum kvl_hist_unit {
	KVL_HIST_UNIT_AUTO,
	KVL_HIST_UNIT_NSECS,
	KVL_HIST_UNIT_USECS,
	KVL_HIST_UNIT_MSECS,
};

struct kvl_show_opts {
	struct kvl_filter f;
	bool hist;		/* draw each histogram as bars */
	enum kvl_hist_unit hist_unit;
	bool disks;		/* rows per disk instead of per vCPU and stage */
	enum kvl_format fmt;
};

/* @ns in the unit that reads best: "850ns", "12.3µs", "1.20ms", "2.50s". */
const char *kvl_fmt_ns(char *buf, size_t size, double ns);

/* Length of the valid UTF-8 sequence at @s, 0 if it is not one. */
int kvl_utf8_len(const unsigned char *s);

int kvl_print_show(FILE *out, const struct kvl_snap *s,
		   const struct kvl_show_opts *o);
void kvl_print_json(FILE *out, const struct kvl_snap *s,
		    const struct kvl_filter *f);
void kvl_print_csv(FILE *out, const struct kvl_snap *s,
		   const struct kvl_filter *f, const char *prefix_header,
		   const char *prefix, bool header);
/* show --disk --csv: a row per VM, disk, path and disk stage. */
void kvl_print_csv_disks(FILE *out, const struct kvl_snap *s,
			 const struct kvl_filter *f);
void kvl_print_bars(FILE *out, const struct kvl_rhist *h,
		    enum kvl_hist_unit unit, const char *indent);
/* "nsecs", "usecs" or "msecs" as a unit; false for anything else. */
bool kvl_hist_unit_parse(const char *s, enum kvl_hist_unit *unit);

/* One interval of "watch": @delta from kvl_snap_delta(), @secs long. */
int kvl_print_watch(FILE *out, const struct kvl_snap *delta, double secs,
		    const char *when, const struct kvl_show_opts *o,
		    bool first);

/* Two snapshots, every VM and vCPU @f selects merged, side by side. */
int kvl_print_compare(FILE *out, const struct kvl_snap *a, const char *a_name,
		      const struct kvl_snap *b, const char *b_name,
		      const struct kvl_filter *f);
/*
 * Every path of one snapshot side by side (native, threads, io_uring),
 * stage by stage, with each path's ratios to native.
 */
int kvl_print_compare_paths(FILE *out, const struct kvl_snap *s,
			    const char *name, const struct kvl_filter *f);

/*
 * replay --loop's result (loop.h): per process (o->f.pid: that one), the
 * instance counts and each step's and the whole loop's statistics, as
 * show prints stages: a table and --hist's bars, JSON (its own schema,
 * below) or CSV.
 */
#define KVL_LOOP_JSON_SCHEMA	"kvmio_lat_loop/1"
struct kvl_loop;
int kvl_print_loop(FILE *out, const struct kvl_loop *l,
		   const struct kvl_show_opts *o);

#endif /* KVMIO_LAT_OUTPUT_H */
