// SPDX-License-Identifier: GPL-2.0
/*
 * inner-io - the inner guest's workload: a known number of 4 KiB O_DIRECT
 * reads, then writes, on a block device, from JOBS threads at once (each
 * one request at a time, so JOBS is the queue depth the device sees).
 * Prints the count and the mean latency the guest saw.  Built static: it
 * runs in a busybox initramfs.
 *
 *   inner-io DEVICE READS WRITES [JOBS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#define BLOCK		4096
#define MAX_JOBS	64

struct job {
	pthread_t thread;
	int fd;
	long first, reads, writes, nblocks;
	double lat_sum;		/* seconds */
	int failed;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	void *buf;
	long i;

	if (posix_memalign(&buf, BLOCK, BLOCK)) {
		j->failed = 1;
		return NULL;
	}
	memset(buf, 0x5a, BLOCK);
	for (i = 0; i < j->reads + j->writes; i++) {
		off_t off = (off_t)((j->first + i) % j->nblocks) * BLOCK;
		double t0 = now();
		ssize_t n = i < j->reads ? pread(j->fd, buf, BLOCK, off) :
					   pwrite(j->fd, buf, BLOCK, off);

		if (n != BLOCK) {
			perror(i < j->reads ? "pread" : "pwrite");
			j->failed = 1;
			break;
		}
		j->lat_sum += now() - t0;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct job jobs[MAX_JOBS];
	long reads, writes, nblocks, k;
	unsigned long long bytes = 0;
	double t0, lat = 0;
	int fd, njobs, failed = 0;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: inner-io DEVICE READS WRITES [JOBS]\n");
		return 2;
	}
	reads = atol(argv[2]);
	writes = atol(argv[3]);
	njobs = argc == 5 ? atoi(argv[4]) : 1;
	if (njobs < 1 || njobs > MAX_JOBS) {
		fprintf(stderr, "inner-io: JOBS must be 1..%d\n", MAX_JOBS);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes) || bytes < 16 * BLOCK) {
		perror(argv[1]);
		return 1;
	}
	nblocks = bytes / BLOCK;
	t0 = now();
	for (k = 0; k < njobs; k++) {
		struct job *j = &jobs[k];

		j->fd = fd;
		j->nblocks = nblocks;
		/* split the counts; the first jobs take the remainders */
		j->reads = reads / njobs + (k < reads % njobs);
		j->writes = writes / njobs + (k < writes % njobs);
		j->first = k * (nblocks / njobs);
		if (pthread_create(&j->thread, NULL, run_job, j))
			return 1;
	}
	for (k = 0; k < njobs; k++) {
		pthread_join(jobs[k].thread, NULL);
		failed |= jobs[k].failed;
		lat += jobs[k].lat_sum;
	}
	if (failed)
		return 1;
	printf("inner-io: reads %ld writes %ld jobs %d in %.3f s mean_latency_us %.1f\n",
	       reads, writes, njobs, now() - t0,
	       reads + writes ? lat / (reads + writes) * 1e6 : 0.0);
	close(fd);
	return 0;
}
