// SPDX-License-Identifier: GPL-2.0
/*
 * source.c - reading snapshots from debugfs or saved files, and telling the
 * user in one line what went wrong (see source.h).
 */
#include <stdlib.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include "source.h"

void kvl_errorf(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs(KVL_PROG ": ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
}

const char *kvl_debugfs(void)
{
	const char *d = getenv(KVL_DEBUGFS_ENV);

	return d && *d ? d : KVL_DEBUGFS_DEFAULT;
}

const char *kvl_live_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/kvmio_lat%s%s", kvl_debugfs(), *name ? "/" : "",
		 name);
	return buf;
}

static int kvl_read_fd(int fd, size_t cap, char **buf, size_t *len)
{
	size_t size = 0, alloc = 0;
	char *p = NULL, *q;
	ssize_t n;

	do {
		if (alloc - size < 4096) {
			alloc = alloc ? alloc * 2 : 65536;
			if (alloc > cap + 4096)
				alloc = cap + 4096;
			q = realloc(p, alloc);
			if (!q) {
				free(p);
				return -ENOMEM;
			}
			p = q;
		}
		n = read(fd, p + size, alloc - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(p);
			return -errno;
		}
		size += n;
	} while (n > 0 && size <= cap);
	if (size > cap) {
		free(p);
		return -EFBIG;
	}
	*buf = p;
	*len = size;
	return 0;
}

int kvl_read_file(const char *path, size_t cap, char **buf, size_t *len)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	ret = kvl_read_fd(fd, cap, buf, len);
	close(fd);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* An unmounted debugfs is an empty directory, or nothing at all. */
static bool kvl_debugfs_mounted(void)
{
	struct dirent *d;
	bool any = false;
	DIR *dir;

	dir = opendir(kvl_debugfs());
	if (!dir)
		return errno == EACCES;	/* something is there */
	while (!any && (d = readdir(dir)))
		any = strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
	closedir(dir);
	return any;
}

static bool kvl_module_dir_exists(void)
{
	char path[4096];
	struct stat st;

	return stat(kvl_live_path(path, sizeof(path), ""), &st) == 0;
}

/* A debugfs file could not be opened: say why, and what to do. */
static void kvl_report_live(FILE *err, const char *path, int e)
{
	if (e == ENOENT && !kvl_debugfs_mounted())
		kvl_errorf(err, "%s: debugfs is not mounted: mount it (mount -t debugfs none %s) and try again",
			   kvl_debugfs(), kvl_debugfs());
	else if (e == ENOENT && !kvl_module_dir_exists())
		kvl_errorf(err, "%s: no such file: is the module loaded? (modprobe kvmio_lat, or insmod kvmio_lat.ko)",
			   path);
	else if (e == ENOENT)
		kvl_errorf(err, "%s: no such file: the loaded kvmio_lat module does not match this kvmio-lat %s",
			   path, KVL_VERSION);
	else if (e == EACCES)
		kvl_errorf(err, "%s: permission denied: kvmio_lat's files are for root only: run kvmio-lat as root (sudo)",
			   path);
	else if (e == EPERM)
		kvl_errorf(err, "%s: operation not permitted: is the kernel locked down? (debugfs is restricted under lockdown; see dmesg)",
			   path);
	else
		kvl_errorf(err, "%s: %s", path, strerror(e));
}

static void kvl_report_file(FILE *err, const char *path, int e)
{
	if (e == ENOENT)
		kvl_errorf(err, "%s: no such file", path);
	else if (e == EISDIR)
		kvl_errorf(err, "%s: is a directory, not a snapshot", path);
	else if (e == EFBIG)
		kvl_errorf(err, "%s: larger than %u MiB: not a kvmio_lat snapshot",
			   path, KVL_SNAP_MAX_BYTES >> 20);
	else if (e == EACCES)
		kvl_errorf(err, "%s: permission denied: check the file's mode or run as its owner",
			   path);
	else
		kvl_errorf(err, "%s: %s", path, strerror(e));
}

void kvl_report_parse(FILE *err, const char *path, const struct kvl_perr *pe)
{
	switch (pe->kind) {
	case KVL_PERR_EMPTY:
		kvl_errorf(err, "%s: empty file, not a kvmio_lat snapshot: save one with 'cat %s/kvmio_lat/hist > FILE'",
			   path, KVL_DEBUGFS_DEFAULT);
		break;
	case KVL_PERR_NOT_SNAPSHOT:
		kvl_errorf(err, "%s:1: not a kvmio_lat snapshot: the first line should be '# kvmio_lat hist %d'",
			   path, KVL_HIST_FORMAT_VERSION);
		break;
	case KVL_PERR_VERSION:
		kvl_errorf(err, "%s:1: snapshot format version %u, but kvmio-lat %s reads versions 1 to %d: use the kvmio-lat that matches the module",
			   path, pe->version, KVL_VERSION,
			   KVL_HIST_FORMAT_VERSION);
		break;
	case KVL_PERR_TRUNCATED:
		kvl_errorf(err, "%s: truncated snapshot: no final 'end' line after line %u: save the whole file again",
			   path, pe->line);
		break;
	case KVL_PERR_CORRUPT:
		kvl_errorf(err, "%s:%u: corrupted snapshot: %s", path, pe->line,
			   pe->msg);
		break;
	case KVL_PERR_TOO_BIG:
		kvl_errorf(err, "%s: larger than %u MiB: not a kvmio_lat snapshot",
			   path, KVL_SNAP_MAX_BYTES >> 20);
		break;
	default:
		kvl_errorf(err, "%s: out of memory", path);
		break;
	}
}

static int kvl_load_stats(struct kvl_snap *s, const char *path, bool must,
			  FILE *err)
{
	struct kvl_perr pe;
	char *buf;
	size_t len;
	int ret;

	if (kvl_read_file(path, 64 * KVL_SNAP_MAX_LINE, &buf, &len)) {
		if (must)
			kvl_report_file(err, path, errno);
		return must ? -1 : 0;
	}
	ret = kvl_parse_stats(s, buf, len, &pe);
	free(buf);
	if (ret && must)
		kvl_errorf(err, "%s:%u: not a kvmio_lat stats file: %s", path,
			   pe.line, pe.kind == KVL_PERR_EMPTY ? "empty" : pe.msg);
	return must ? ret : 0;
}

int kvl_resolve_disks(struct kvl_snap *s)
{
	char link[64], name[4096];
	ssize_t n;
	u32 i, j;

	for (i = 0; i < s->nr_vms; i++) {
		struct kvl_svm *vm = &s->vms[i];

		/* an exited VM's descriptors are gone, or another process's */
		for (j = 0; j < vm->nr_disks && !vm->exited; j++) {
			snprintf(link, sizeof(link), "/proc/%d/fd/%d", vm->pid,
				 vm->disks[j].fd);
			n = readlink(link, name, sizeof(name));
			if (n <= 0 || n >= (ssize_t)sizeof(name))
				continue;	/* gone, not ours to read: unknown */
			name[n] = '\0';
			if (kvl_sdisk_set_name(&vm->disks[j], name))
				return -1;
		}
	}
	return 0;
}

int kvl_load(struct kvl_snap *s, const char *input, const char *stats_file,
	     FILE *err)
{
	char path[4096], spath[4096];
	struct kvl_perr pe;
	char *buf;
	size_t len;
	int ret;

	kvl_snap_init(s);
	if (!input)
		input = kvl_live_path(path, sizeof(path), "hist");
	if (kvl_read_file(input, KVL_SNAP_MAX_BYTES, &buf, &len)) {
		if (input == path)
			kvl_report_live(err, input, errno);
		else
			kvl_report_file(err, input, errno);
		return -1;
	}
	ret = kvl_parse_hist(s, buf, len, &pe);
	free(buf);
	if (ret) {
		kvl_report_parse(err, input, &pe);
		return -1;
	}
	/* live: the VMs' file descriptors still lead to their disks */
	if (input == path && kvl_resolve_disks(s)) {
		kvl_errorf(err, "%s: out of memory", input);
		kvl_snap_free(s);
		return -1;
	}
	if (stats_file)
		ret = kvl_load_stats(s, stats_file, true, err);
	else if (input == path)	/* live: stats are a bonus */
		ret = kvl_load_stats(s, kvl_live_path(spath, sizeof(spath),
						      "stats"), false, err);
	if (ret)
		kvl_snap_free(s);
	return ret;
}

int kvl_reset_live(FILE *err)
{
	char path[4096];
	ssize_t n;
	int fd;

	kvl_live_path(path, sizeof(path), "reset");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		kvl_report_live(err, path, errno);
		return -1;
	}
	n = write(fd, "1\n", 2);
	if (n != 2) {
		kvl_errorf(err, "%s: write refused: %s", path,
			   n < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
