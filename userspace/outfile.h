/* SPDX-License-Identifier: GPL-2.0 */
/*
 * outfile.h - output files replaced atomically ("export -o", "report -o"):
 * a reader of FILE sees the old content or the new, whole, never a part.
 */
#ifndef KVMIO_LAT_OUTFILE_H
#define KVMIO_LAT_OUTFILE_H

#include <stdio.h>

/* Writes the content into @f: 0, or -1 when out of memory. */
typedef int (*kvl_outfile_writer)(FILE *f, void *arg);

/*
 * @write's output into @path: a temporary file beside it (".NAME.XXXXXX",
 * which no "*.prom" or "*.html" glob matches), fsync()ed, mode 0644,
 * renamed over @path.  0, or -1 after one line on @err with @path as it
 * was and no temporary file left.
 */
int kvl_outfile_replace(const char *path, kvl_outfile_writer write,
			void *arg, FILE *err);

#endif /* KVMIO_LAT_OUTFILE_H */
