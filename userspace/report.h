/* SPDX-License-Identifier: GPL-2.0 */
/*
 * report.h - "kvmio-lat report": a snapshot as one self-contained HTML
 * page to attach to a bug (Documentation/report.rst).
 *
 * The charts are inline SVG drawn here, from the same summaries show
 * prints: no script, style sheet, font or image is fetched, and the page
 * reads the same with JavaScript off.  Every number of a histogram is in
 * the page twice: as the text a person reads (show's units) and in
 * data-* attributes a test compares with "show --json" (see report.c,
 * "machine-checkable values").
 */
#ifndef KVMIO_LAT_REPORT_H
#define KVMIO_LAT_REPORT_H

#include <stdio.h>
#include "snapshot.h"

enum kvl_report_source {
	KVL_REPORT_LIVE,	/* the module's debugfs files */
	KVL_REPORT_INPUT,	/* --input FILE [--stats FILE] */
	KVL_REPORT_REPLAY,	/* --replay TRACE.dat */
};

#define KVL_REPORT_FACT_LEN	160

struct kvl_report_opts {
	struct kvl_filter f;	/* as show's; exits are always in */
	enum kvl_report_source source;
	const char *path;	/* --input or --replay FILE; NULL: live */
	const char *stats_path;	/* --stats FILE, or NULL */
	int argc;		/* the command line, for the header */
	char *const *argv;
	/*
	 * What a snapshot does not say, filled by kvl_report_facts() (tests
	 * fill them by hand); "" is left out of the page.
	 */
	char host[KVL_REPORT_FACT_LEN];		/* live only */
	char kernel[KVL_REPORT_FACT_LEN];	/* live only */
	char module_version[KVL_REPORT_FACT_LEN];	/* live only */
	char taken[KVL_REPORT_FACT_LEN];	/* when read, or file mtime */
	char generated[KVL_REPORT_FACT_LEN];
};

/*
 * @o->source and @o->path set: the time now, and for a live snapshot the
 * host's name, its kernel and the loaded module's version; for a file its
 * modification time.
 */
void kvl_report_facts(struct kvl_report_opts *o);

/* The page on @out: 0 (write errors are @out's), or -1 when out of memory. */
int kvl_report_html(FILE *out, const struct kvl_snap *s,
		    const struct kvl_report_opts *o);

/*
 * The page into @path, replaced atomically (outfile.h): 0, or -1 after
 * one line on @err with @path as it was and nothing else left behind.
 */
int kvl_report_to_file(const char *path, const struct kvl_snap *s,
		       const struct kvl_report_opts *o, FILE *err);

#endif /* KVMIO_LAT_REPORT_H */
