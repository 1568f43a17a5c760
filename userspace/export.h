/* SPDX-License-Identifier: GPL-2.0 */
/*
 * export.h - a snapshot as OpenMetrics text (classic histograms), for
 * PCP's pmdaopenmetrics, or in the Prometheus text format for
 * node_exporter's textfile collector: "kvmio-lat export --openmetrics",
 * "kvmio-lat export --prometheus".
 *
 * An "le" bound is exact: it is E - 1 ns for a bucket edge E of the
 * module's layout (hist.h), and counts the buckets whose values are all
 * <= it, which are exactly the observations <= it since values are whole
 * nanoseconds (export.c, kvl_om_hist()).
 */
#ifndef KVMIO_LAT_EXPORT_H
#define KVMIO_LAT_EXPORT_H

#include <stdio.h>
#include "snapshot.h"

#define KVL_EXPORT_MAX_BOUNDS	64	/* --buckets */
#define KVL_EXPORT_VM_NAME	256	/* bytes of a guest name kept */
#define KVL_EXPORT_EVERY_MAX	86400	/* --every, seconds */

struct kvl_export_opts {
	struct kvl_filter f;	/* exits are always exported */
	bool no_vcpu;		/* vCPUs merged per VM, no vcpu label */
	/*
	 * --prometheus: the Prometheus text format 0.0.4, which
	 * node_exporter's textfile collector parses: a counter's family
	 * is named with its _total (the OpenMetrics form leaves it untyped
	 * there), no UNIT lines, no "# EOF".
	 */
	bool prometheus;
	bool live;		/* read from the module: VM names from /proc */
	bool stages_set;	/* --stages given: only the stages below */
	u32 stage_mask[KVL_NR_PATHS];	/* bit (1 << enum kvl_stage) */
	u32 disk_mask;		/* bit (1 << enum kvl_disk_stage) */
	u32 nr_bounds;
	u64 le[KVL_EXPORT_MAX_BOUNDS];	/* ns, ascending; each an edge - 1 */
};

/* Every stage, the default bounds (1, 2.5, 5 x 10^k s, 1 us to 10 s). */
void kvl_export_opts_init(struct kvl_export_opts *o);

/*
 * --buckets LIST (seconds) and --stages LIST (names as show prints them):
 * 0, or -1 with what is wrong in @msg (a usage error).
 */
int kvl_export_parse_buckets(struct kvl_export_opts *o, const char *arg,
			     char *msg, size_t size);
int kvl_export_parse_stages(struct kvl_export_opts *o, const char *arg,
			    char *msg, size_t size);

/*
 * The guest names of VMs seen running, kept across the rounds of "export
 * --every" so that a VM that exits keeps its vm label (its /proc is gone).
 */
struct kvl_export_name {
	s32 pid;
	char comm[KVL_COMM_LEN];
	char name[KVL_EXPORT_VM_NAME];
};

struct kvl_export_names {
	u32 nr;
	u32 cap;
	struct kvl_export_name *e;
};

void kvl_export_names_free(struct kvl_export_names *n);

/*
 * The guest name QEMU was given ("-name guest=NAME,..." as libvirt passes
 * it, or "-name NAME[,...]") in @cmdline, /proc/PID/cmdline's
 * NUL-separated arguments; "" when there is none.
 */
void kvl_export_vm_name(const char *cmdline, size_t len, char *buf,
			size_t size);

/* @ns nanoseconds in seconds as OpenMetrics wants an le: "9.91e-07". */
const char *kvl_export_le(char *buf, size_t size, u64 ns);

/*
 * @s as OpenMetrics text on @out, ending with "# EOF" (or in the
 * Prometheus text format: @o->prometheus); @names may be NULL.  0, or -1
 * when out of memory.
 */
int kvl_export_openmetrics(FILE *out, const struct kvl_snap *s,
			   const struct kvl_export_opts *o,
			   struct kvl_export_names *names);

/*
 * The same into @path, atomically: a temporary file beside it (".NAME.*",
 * which the textfile collector's "*.prom" does not match), fsync()ed,
 * mode 0644, renamed over @path.  0, or -1 after one line on @err with
 * @path as it was and no temporary file left.
 */
int kvl_export_file(const char *path, const struct kvl_snap *s,
		    const struct kvl_export_opts *o,
		    struct kvl_export_names *names, FILE *err);

#endif /* KVMIO_LAT_EXPORT_H */
