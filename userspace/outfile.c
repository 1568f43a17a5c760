// SPDX-License-Identifier: GPL-2.0
/*
 * outfile.c - output files replaced atomically (see outfile.h).
 */
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "outfile.h"
#include "source.h"

int kvl_outfile_replace(const char *path, kvl_outfile_writer write,
			void *arg, FILE *err)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	/* the directory, for messages: "." or "/" when it has no name */
	const char *dir = slash && slash != path ? path : slash ? "/" : ".";
	int dir_len = slash && slash != path ? (int)(slash - path) : 1;
	FILE *f = NULL;
	char *tmp;
	int fd, e;

	/* ".NAME.XXXXXX": not "*.prom", which the textfile collector reads */
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int)(base - path), path, base) < 0) {
		kvl_errorf(err, "out of memory");
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		e = errno;
		if (e == ENOENT || e == ENOTDIR)
			kvl_errorf(err, "%s: cannot write it: no directory %.*s",
				   path, dir_len, dir);
		else
			kvl_errorf(err, "%s: cannot create a temporary file in %.*s: %s",
				   path, dir_len, dir, strerror(e));
		free(tmp);
		return -1;
	}
	/* 0644 whatever the umask: the collector runs as another user */
	if (!fchmod(fd, 0644))
		f = fdopen(fd, "w");
	if (!f) {
		kvl_errorf(err, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (write(f, arg)) {
		kvl_errorf(err, "%s: out of memory", path);
		fclose(f);
		goto fail;
	}
	errno = 0;
	if (fflush(f) || ferror(f) || fsync(fd)) {
		e = errno;
		fclose(f);
		goto write_fail;
	}
	if (fclose(f)) {
		e = errno;
		goto write_fail;
	}
	if (rename(tmp, path)) {
		kvl_errorf(err, "%s: cannot replace it: %s", path,
			   strerror(errno));
		goto fail;
	}
	free(tmp);
	return 0;
write_fail:
	kvl_errorf(err, "%s: writing it failed: %s; it is left as it was",
		   path, e ? strerror(e) : "write error");
fail:
	unlink(tmp);
	free(tmp);
	return -1;
}
