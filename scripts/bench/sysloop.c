// SPDX-License-Identifier: GPL-2.0
/*
 * sysloop - a syscall-heavy process that runs no vCPU, for make bench.
 *
 * kvmio_lat hooks every system call of every process (raw_syscalls
 * sys_enter/sys_exit): what does that cost a process it does not track?
 * One iteration of the "mix" loop makes one call of each kind kvmio_lat
 * looks at, and one it ignores:
 *
 *   getppid                  ignored (KVL_SYS_NONE)
 *   read 1 byte of /dev/zero ignored
 *   ppoll, zero timeout      event-loop wait (KVL_SYS_WAIT)
 *   epoll_wait, timeout 0    event-loop wait
 *   pread64 of /dev/zero     pool I/O (KVL_SYS_POOL_IO)
 *   io_submit of 0 iocbs     native submission (KVL_SYS_SUBMIT)
 *   io_getevents, timeout 0  native reap (KVL_SYS_GETEVENTS)
 *   ioctl FIONREAD on a pipe KVM_RUN's class (KVL_SYS_IOCTL)
 *
 * For an untracked process kvmio_lat's probes stop at the VM filter (a
 * bitmap test on the tgid) before looking at the call.
 *
 *   sysloop [--mode mix|getppid|clock] [--iters N]
 *
 * "clock" times syscall(SYS_clock_gettime, CLOCK_MONOTONIC), i.e. one read of
 * the kernel's clocksource plus a syscall: compare with "getppid" to see what
 * a clocksource read costs on this machine.
 *
 * Prints: sysloop mode M iters N syscalls S elapsed_ns E ns_per_syscall X
 *         cpu_ns C
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *mode = "mix";
	uint64_t iters = 200000, i, calls = 0, t0, t1, c0, c1;
	struct timespec zero = { 0, 0 };
	struct epoll_event ev;
	aio_context_t ctx = 0;
	struct io_event aev;
	int zfd, ep, pfd[2], n, a;
	char buf[8];

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--mode") && a + 1 < argc)
			mode = argv[++a];
		else if (!strcmp(argv[a], "--iters") && a + 1 < argc)
			iters = strtoull(argv[++a], NULL, 0);
		else {
			fprintf(stderr, "usage: sysloop [--mode mix|getppid|clock] [--iters N]\n");
			return 2;
		}
	}
	zfd = open("/dev/zero", O_RDONLY);
	ep = epoll_create1(0);
	if (zfd < 0 || ep < 0 || pipe(pfd) ||
	    syscall(SYS_io_setup, 8, &ctx)) {
		perror("sysloop: setup");
		return 1;
	}
	t0 = ns(CLOCK_MONOTONIC);
	c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	if (!strcmp(mode, "mix")) {
		for (i = 0; i < iters; i++) {
			syscall(SYS_getppid);
			if (read(zfd, buf, 1) != 1)
				return 1;
			ppoll(NULL, 0, &zero, NULL);
			epoll_wait(ep, &ev, 1, 0);
			if (pread(zfd, buf, 1, 0) != 1)
				return 1;
			syscall(SYS_io_submit, ctx, 0L, NULL);
			syscall(SYS_io_getevents, ctx, 0L, 1L, &aev, &zero);
			ioctl(pfd[0], FIONREAD, &n);
		}
		calls = iters * 8;
	} else if (!strcmp(mode, "getppid")) {
		for (i = 0; i < iters; i++)
			syscall(SYS_getppid);
		calls = iters;
	} else if (!strcmp(mode, "clock")) {
		struct timespec ts;

		for (i = 0; i < iters; i++)
			syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		calls = iters;
	} else {
		fprintf(stderr, "sysloop: unknown mode %s\n", mode);
		return 2;
	}
	c1 = ns(CLOCK_PROCESS_CPUTIME_ID);
	t1 = ns(CLOCK_MONOTONIC);
	printf("sysloop mode %s iters %" PRIu64 " syscalls %" PRIu64
	       " elapsed_ns %" PRIu64 " ns_per_syscall %.1f cpu_ns %" PRIu64 "\n",
	       mode, iters, calls, t1 - t0, (double)(t1 - t0) / calls, c1 - c0);
	return 0;
}
