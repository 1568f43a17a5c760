/* SPDX-License-Identifier: GPL-2.0 */
/*
 * source.h - where snapshots come from: the module's debugfs files or saved
 * copies of them.  Every failure is reported as one line on the error
 * stream saying what is wrong and what to do.
 */
#ifndef KVMIO_LAT_SOURCE_H
#define KVMIO_LAT_SOURCE_H

#include <stdio.h>
#include "snapshot.h"
#include "parse.h"

#define KVL_PROG		"kvmio-lat"
#define KVL_VERSION		"0.1.0"
#define KVL_DEBUGFS_DEFAULT	"/sys/kernel/debug"
#define KVL_DEBUGFS_ENV		"KVMIO_LAT_DEBUGFS"	/* tests, odd mounts */

/* debugfs mount point (KVMIO_LAT_DEBUGFS or /sys/kernel/debug). */
const char *kvl_debugfs(void);
/* "<debugfs>/kvmio_lat/<name>" into @buf. */
const char *kvl_live_path(char *buf, size_t size, const char *name);

/* Whole file into a malloc()ed buffer, at most @cap bytes; errno on -1. */
int kvl_read_file(const char *path, size_t cap, char **buf, size_t *len);

/* Print "kvmio-lat: MSG\n" on @err. */
void kvl_errorf(FILE *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kvl_report_parse(FILE *err, const char *path, const struct kvl_perr *pe);

/*
 * Load a snapshot: @input (a saved copy) or, when NULL, the live hist file
 * with the live stats file next to it.  @stats_file: stats for @input.
 * 0, or -1 after one line on @err.
 */
int kvl_load(struct kvl_snap *s, const char *input, const char *stats_file,
	     FILE *err);

/*
 * Name each disk of a running VM of @s after what /proc/PID/fd/FD links to
 * (live reads only: a saved or replayed snapshot's descriptors may be
 * another process's now).  Unresolved ones stay unknown; -1: no memory.
 */
int kvl_resolve_disks(struct kvl_snap *s);

/* Write 1 to <debugfs>/kvmio_lat/reset: 0, or -1 after one line on @err. */
int kvl_reset_live(FILE *err);

#endif /* KVMIO_LAT_SOURCE_H */
