/* SPDX-License-Identifier: GPL-2.0 */
/*
 * snapshot.h - the reader's data model: one snapshot of every histogram the
 * engine keeps (per vCPU, and per disk since format 3), whatever it came
 * from (the module's "hist" text, a saved copy of it, or an engine running
 * in this process), and what the reader does with snapshots: summary
 * statistics, merging vCPUs, interval deltas.
 *
 * Histograms are sparse (only non-empty buckets), so memory stays
 * proportional to the input; the bucket layout is the engine's (hist.h) and
 * summary statistics are computed by the engine's own hist.c functions, so
 * the reader and the module always agree.
 */
#ifndef KVMIO_LAT_SNAPSHOT_H
#define KVMIO_LAT_SNAPSHOT_H

#include <stdio.h>
#include "kvmio_lat/engine.h"

/* Bounds on what one snapshot may hold; inputs beyond them are refused. */
#define KVL_SNAP_MAX_BYTES	(256u << 20)	/* of snapshot text */
#define KVL_SNAP_MAX_LINE	1024		/* bytes per line */
#define KVL_SNAP_MAX_VMS	1024		/* the engine's own limits */
#define KVL_SNAP_MAX_VCPUS	4096
#define KVL_SNAP_MAX_DISKS	KVL_DISKS	/* per VM */
#define KVL_SNAP_MAX_STATS	64
#define KVL_REASON_LEN		32
#define KVL_STAT_NAME_LEN	32

#define KVL_VCPU_ALL		0xffffffffu	/* id of an "all vCPUs" merge */

typedef unsigned __int128 u128;

struct kvl_bucket {
	u32 idx;		/* engine bucket index, see hist.h */
	u64 n;
};

/* One histogram: the engine's totals plus its non-empty buckets. */
struct kvl_rhist {
	u64 count;		/* buckets + overflow */
	u64 min;
	u64 max;
	u64 sum;		/* of in-range values; KVL_HIST_SUM_SAT: saturated */
	u128 sumsq;
	u64 negative;		/* clamped to 0, in bucket 0 (0 from format 1) */
	u64 overflow;
	u32 nr;			/* non-empty buckets, ascending idx */
	u32 cap;
	struct kvl_bucket *b;
};

enum kvl_hist_kind {
	KVL_KIND_EXIT,
	KVL_KIND_STAGE,
};

struct kvl_shist {
	u8 kind;		/* enum kvl_hist_kind */
	u8 path;		/* stages */
	u8 stage;
	char reason[KVL_REASON_LEN];	/* exits: KVM's name, "other", "0x.." */
	struct kvl_rhist h;
};

struct kvl_svcpu {
	u32 id;			/* KVL_VCPU_ALL for a merge */
	char isa[8];
	u64 exits;
	u32 nr_hists;
	u32 cap;
	struct kvl_shist *hists;	/* in input order; look up by key */
};

/*
 * One disk of a VM: QEMU's file descriptor of the image or device it does
 * the I/O on.  h[path][KVL_DS_IO] is the host's I/O alone (format 4; none
 * in older snapshots, nor for a native disk whose AIO ring was not read,
 * nor for an io_uring request whose completion was not traced),
 * h[path][KVL_DS_SUBMIT_TO_IRQ] submit_to_irq, from QEMU handing the
 * request to the host to its interrupt (the host's I/O however QEMU reaped
 * it), h[path][KVL_DS_TOTAL] the whole request; count 0: absent.  Path
 * io_uring (KVL_PATH_URING) is format 5's.
 */
struct kvl_sdisk {
	s32 fd;
	char *name;		/* readlink of /proc/PID/fd/FD; NULL: unknown */
	struct kvl_rhist h[KVL_NR_PATHS][KVL_NR_DISK_STAGES];
};

struct kvl_svm {
	s32 pid;
	char comm[KVL_COMM_LEN];
	bool exited;		/* its process exited; the module keeps it */
	u64 exited_ago_ns;	/* how long before the snapshot */
	u32 nr_vcpus;
	u32 cap;
	struct kvl_svcpu *vcpus;
	u32 nr_disks;		/* in the order the module first saw them */
	u32 disk_cap;
	struct kvl_sdisk *disks;
};

struct kvl_stat {
	char name[KVL_STAT_NAME_LEN];
	u64 value;
};

struct kvl_snap {
	u32 version;		/* hist format it was read from; 0: unknown */
	u32 nr_vms;
	u32 cap;
	struct kvl_svm *vms;
	u32 torn;		/* histograms mended after a racing read */
	bool has_stats;
	u32 nr_stats;
	struct kvl_stat stats[KVL_SNAP_MAX_STATS];
};

/* Building and freeing; the add functions return NULL when out of memory. */
void kvl_snap_init(struct kvl_snap *s);
void kvl_snap_free(struct kvl_snap *s);
struct kvl_svm *kvl_snap_add_vm(struct kvl_snap *s, s32 pid, const char *comm);
struct kvl_svcpu *kvl_svm_add_vcpu(struct kvl_svm *vm, u32 id, const char *isa,
				   u64 exits);
struct kvl_shist *kvl_svcpu_add_hist(struct kvl_svcpu *v, u8 kind, u8 path,
				     u8 stage, const char *reason);
void kvl_svcpu_free(struct kvl_svcpu *v);
struct kvl_sdisk *kvl_svm_add_disk(struct kvl_svm *vm, s32 fd);
void kvl_svm_free_disks(struct kvl_svm *vm);
/* @name (may be NULL) as the disk's name: 0, or -1 when out of memory. */
int kvl_sdisk_set_name(struct kvl_sdisk *d, const char *name);
int kvl_rhist_add_bucket(struct kvl_rhist *h, u32 idx, u64 n);
void kvl_rhist_free(struct kvl_rhist *h);
int kvl_rhist_from_hist(struct kvl_rhist *r, const struct kvl_hist *h);

/* An engine in this process (replay, tests) becomes a snapshot. */
int kvl_snap_from_engine(struct kvl_snap *s, struct kvl_engine *eng,
			 u64 memory_bytes);

/* Lookups; NULL when absent. */
const struct kvl_svm *kvl_snap_vm(const struct kvl_snap *s, s32 pid);
const struct kvl_svcpu *kvl_svm_vcpu(const struct kvl_svm *vm, u32 id);
const struct kvl_sdisk *kvl_svm_disk(const struct kvl_svm *vm, s32 fd);
/* Any VM of @s with a disk histogram. */
bool kvl_snap_has_disks(const struct kvl_snap *s);
const struct kvl_shist *kvl_svcpu_stage(const struct kvl_svcpu *v,
					unsigned int path, unsigned int stage);
const struct kvl_shist *kvl_svcpu_exit(const struct kvl_svcpu *v,
				       const char *reason);
const struct kvl_stat *kvl_snap_stat(const struct kvl_snap *s,
				     const char *name);

/* Summary statistics, computed with the engine's hist.c. */
struct kvl_summary {
	u64 count;
	u64 min;
	u64 max;
	double mean;
	double stddev;
	u64 p50;
	u64 p90;
	u64 p99;
	u64 p999;
};

void kvl_rhist_summary(const struct kvl_rhist *r, struct kvl_summary *sum);
u64 kvl_rhist_percentile(const struct kvl_rhist *r, u32 per100k);

/* Which part of a snapshot a command looks at. */
struct kvl_filter {
	s32 pid;		/* 0: every VM */
	s64 vcpu;		/* -1: every vCPU */
	int path;		/* -1: every path */
	bool exits;		/* exit latency by reason too */
};

void kvl_filter_init(struct kvl_filter *f);
bool kvl_filter_vm(const struct kvl_filter *f, const struct kvl_svm *vm);
bool kvl_filter_vcpu(const struct kvl_filter *f, const struct kvl_svcpu *v);
bool kvl_filter_hist(const struct kvl_filter *f, const struct kvl_shist *h);

/* Merging: @dst += @src, bucket by bucket. */
int kvl_rhist_merge(struct kvl_rhist *dst, const struct kvl_rhist *src);
int kvl_svcpu_merge(struct kvl_svcpu *dst, const struct kvl_svcpu *src,
		    const struct kvl_filter *f);
/* Every vCPU of @vm that @f selects, merged into @all (id KVL_VCPU_ALL). */
int kvl_svm_merge_vcpus(const struct kvl_svm *vm, const struct kvl_filter *f,
			struct kvl_svcpu *all);
/* Every VM and vCPU of @s that @f selects, merged into @all. */
int kvl_snap_merge_all(const struct kvl_snap *s, const struct kvl_filter *f,
		       struct kvl_svcpu *all);

/*
 * What happened between @prev and @cur, bucket by bucket.  A histogram
 * whose counts went down (a reset, or a new VM with a recycled pid) counts
 * from zero: its delta is its current content.  Histograms with nothing new
 * are left out, and so are disks with none.
 */
int kvl_snap_delta(const struct kvl_snap *prev, const struct kvl_snap *cur,
		   struct kvl_snap *delta);

#endif /* KVMIO_LAT_SNAPSHOT_H */
