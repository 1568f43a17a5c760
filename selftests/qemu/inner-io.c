// SPDX-License-Identifier: GPL-2.0
/*
 * inner-io - the inner guest's workload: a known number of 4 KiB O_DIRECT
 * reads, then writes, one at a time, on a block device.  Built static: it
 * runs in a busybox initramfs.
 *
 *   inner-io DEVICE READS WRITES
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#define BLOCK	4096

int main(int argc, char **argv)
{
	long reads, writes, i, nblocks;
	unsigned long long bytes = 0;
	struct timespec t0, t1;
	void *buf;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: inner-io DEVICE READS WRITES\n");
		return 2;
	}
	reads = atol(argv[2]);
	writes = atol(argv[3]);
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes) || bytes < 16 * BLOCK) {
		perror(argv[1]);
		return 1;
	}
	nblocks = bytes / BLOCK;
	if (posix_memalign(&buf, BLOCK, BLOCK))
		return 1;
	memset(buf, 0x5a, BLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < reads; i++) {
		if (pread(fd, buf, BLOCK, (off_t)(i % nblocks) * BLOCK) != BLOCK) {
			perror("pread");
			return 1;
		}
	}
	for (i = 0; i < writes; i++) {
		if (pwrite(fd, buf, BLOCK, (off_t)(i % nblocks) * BLOCK) != BLOCK) {
			perror("pwrite");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("inner-io: reads %ld writes %ld in %.3f s\n", reads, writes,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	close(fd);
	return 0;
}
