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
 * bitmap test on the tgid) before looking at the call.  With --vm the
 * process first makes itself a VM's: a second thread creates a KVM VM of
 * one vCPU and runs it to its first exit (a port write QEMU would handle),
 * so that kvmio_lat tracks this process and the loop's thread is one of
 * the VM's I/O threads, whose hooked calls go all the way through the
 * engine: what each system call of QEMU's I/O threads costs.  The modes
 * read, write (8 bytes to an eventfd, as QEMU's notifications), ppoll and
 * pread make one call of that kind per iteration.
 *
 *   sysloop [--mode mix|getppid|clock|read|write|ppoll|pread] [--iters N]
 *           [--vm]
 *
 * "clock" times syscall(SYS_clock_gettime, CLOCK_MONOTONIC), i.e. one read of
 * the kernel's clocksource plus a syscall: compare with "getppid" to see what
 * a clocksource read costs on this machine.
 *
 * Prints: sysloop mode M iters N syscalls S elapsed_ns E ns_per_syscall X
 *         cpu_ns C
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Did kvmio_lat track this process, its vCPU 0 in the hist?  "-" without
 * the module: the bench's runs with nothing loaded.
 */
static const char *tracked(void)
{
	char want[64], line[512];
	const char *r = "0";
	FILE *f = fopen("/sys/kernel/debug/kvmio_lat/hist", "r");

	if (!f)
		return "-";
	snprintf(want, sizeof(want), "vcpu %d 0 ", (int)getpid());
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			r = "1";
	fclose(f);
	return r;
}

/*
 * The VM's vCPU thread: real mode at 0, "out %al, $0xe9; jmp .-2", one
 * port write per KVM_RUN.  kvmio_lat lays a new VM's and vCPU's state out
 * from its refill worker, so it runs exits, pausing between them, until
 * the hist shows its vCPU (a second at most; one exit without the module).
 * Its fds stay open: the VM lives as long as the process, tracked.
 */
static char vm_err[160];

static void *vm_fail(const char *what)
{
	snprintf(vm_err, sizeof(vm_err), "%s: %s", what, strerror(errno));
	return vm_err;
}

static void *vm_thread(void *arg)
{
	static const unsigned char code[] = { 0xe6, 0xe9, 0xeb, 0xfc };
	struct kvm_userspace_memory_region mr = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	struct kvm_run *run;
	int kvm, vm, vcpu, sz, i;
	void *mem;

	(void)arg;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return vm_fail("open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || mem == MAP_FAILED)
		return vm_fail("KVM_CREATE_VM");
	memcpy(mem, code, sizeof(code));
	mr.memory_size = 0x1000;
	mr.userspace_addr = (uint64_t)(uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr))
		return vm_fail("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || sz <= 0)
		return vm_fail("KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs))
		return vm_fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) || ioctl(vcpu, KVM_SET_REGS, &regs))
		return vm_fail("KVM_SET_REGS");
	for (i = 0; i < 200; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) || run->exit_reason != KVM_EXIT_IO ||
		    run->io.port != 0xe9)
			return vm_fail("KVM_RUN: no port write");
		if (strcmp(tracked(), "0"))
			break;
		usleep(5000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = "mix";
	uint64_t iters = 200000, i, calls = 0, t0, t1, c0, c1;
	struct timespec zero = { 0, 0 };
	struct epoll_event ev;
	aio_context_t ctx = 0;
	struct io_event aev;
	int zfd, ep, pfd[2], efd, n, a;
	uint64_t one = 1;
	bool vm = false;
	char buf[8];

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--mode") && a + 1 < argc)
			mode = argv[++a];
		else if (!strcmp(argv[a], "--iters") && a + 1 < argc)
			iters = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--vm"))
			vm = true;
		else {
			fprintf(stderr, "usage: sysloop [--mode mix|getppid|clock|read|write|ppoll|pread] [--iters N] [--vm]\n");
			return 2;
		}
	}
	zfd = open("/dev/zero", O_RDONLY);
	ep = epoll_create1(0);
	efd = eventfd(0, EFD_CLOEXEC);
	if (zfd < 0 || ep < 0 || efd < 0 || pipe(pfd) ||
	    syscall(SYS_io_setup, 8, &ctx)) {
		perror("sysloop: setup");
		return 1;
	}
	if (vm) {
		pthread_t th;
		void *err;

		if (pthread_create(&th, NULL, vm_thread, NULL) ||
		    pthread_join(th, &err)) {
			fprintf(stderr, "sysloop: no vCPU thread\n");
			return 1;
		}
		if (err) {
			fprintf(stderr, "sysloop --vm: %s\n", (char *)err);
			return 1;
		}
		printf("pid %d\n", (int)getpid());
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
	} else if (!strcmp(mode, "read")) {
		for (i = 0; i < iters; i++)
			if (read(zfd, buf, 1) != 1)
				return 1;
		calls = iters;
	} else if (!strcmp(mode, "write")) {
		for (i = 0; i < iters; i++)
			if (write(efd, &one, sizeof(one)) != sizeof(one))
				return 1;
		calls = iters;
	} else if (!strcmp(mode, "ppoll")) {
		for (i = 0; i < iters; i++)
			ppoll(NULL, 0, &zero, NULL);
		calls = iters;
	} else if (!strcmp(mode, "pread")) {
		for (i = 0; i < iters; i++)
			if (pread(zfd, buf, 1, 0) != 1)
				return 1;
		calls = iters;
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
	if (vm)
		printf("tracked %s\n", tracked());
	printf("sysloop mode %s iters %" PRIu64 " syscalls %" PRIu64
	       " elapsed_ns %" PRIu64 " ns_per_syscall %.1f cpu_ns %" PRIu64 "\n",
	       mode, iters, calls, t1 - t0, (double)(t1 - t0) / calls, c1 - c0);
	return 0;
}
