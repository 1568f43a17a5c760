/* SPDX-License-Identifier: GPL-2.0 */
/*
 * parse.h - strict parsers of the module's "hist" (format versions 1 to 5)
 * and "stats" texts into a snapshot.  Every line is checked; the first
 * problem stops the parse with an error that names the line.
 */
#ifndef KVMIO_LAT_PARSE_H
#define KVMIO_LAT_PARSE_H

#include "snapshot.h"

enum kvl_perr_kind {
	KVL_PERR_NONE,
	KVL_PERR_EMPTY,		/* no bytes at all */
	KVL_PERR_NOT_SNAPSHOT,	/* first line is not our header */
	KVL_PERR_VERSION,	/* our header, another format version */
	KVL_PERR_TRUNCATED,	/* no final "end" line */
	KVL_PERR_CORRUPT,	/* a line that breaks the format */
	KVL_PERR_TOO_BIG,	/* beyond KVL_SNAP_MAX_BYTES */
	KVL_PERR_NOMEM,
};

struct kvl_perr {
	enum kvl_perr_kind kind;
	u32 line;		/* 1-based; 0 when not about one line */
	u32 version;		/* KVL_PERR_VERSION: the one found */
	char msg[160];
};

/*
 * A histogram whose count and buckets disagree by at most this much is
 * taken as read while the module was recording into it (the module prints
 * without stopping writers): its count is taken from its buckets and its
 * min and max are brought inside them.  More than this is corruption.
 */
static inline u64 kvl_torn_slack(u64 count)
{
	return 16 + count / 128;
}

/* 0, or -1 with @err filled; @s must be freshly initialised. */
int kvl_parse_hist(struct kvl_snap *s, const char *buf, size_t len,
		   struct kvl_perr *err);
/* "name: value" lines of the stats file into s->stats. */
int kvl_parse_stats(struct kvl_snap *s, const char *buf, size_t len,
		    struct kvl_perr *err);

#endif /* KVMIO_LAT_PARSE_H */
