// SPDX-License-Identifier: GPL-2.0
/*
 * inner-io - the inner guest's workload: a known number of 4 KiB O_DIRECT
 * reads, then writes, on a block device, from JOBS threads at once (each
 * one request at a time, so JOBS is the queue depth the device sees).
 * Prints the count and the mean latency the guest saw.  Built static: it
 * runs in a busybox initramfs.
 *
 *   inner-io DEVICE READS WRITES [JOBS]
 *   inner-io --net IFNAME ADDRESS COUNT [INTERVAL_US] [--go]
 *
 * --net: a network-shaped load instead.  Gives IFNAME the address
 * ADDRESS/24 (ioctls, no ip(8) needed), turns IPv6 off on it (no router
 * or neighbour solicitations during the run), brings it up and sends COUNT
 * UDP datagrams of 64 bytes to the subnet's broadcast address (port 9,
 * discard), INTERVAL_US apart (default 5000): each one is its own TX
 * doorbell, and a broadcast needs no ARP.  With --go it prints
 * "inner-io: net ready" once the interface is up and waits for a line on
 * stdin before sending (the host starts its recording in between).
 * Prints nothing while sending (the console's port I/O would be exits too).
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
#include <sys/socket.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
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

/* write VALUE to the sysctl file PATH, if the kernel has it */
static void set_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0)
		perror(path);
	close(fd);
}

static int set_if_addr(int sock, const char *ifname, unsigned long request,
		       in_addr_t addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin.sin_addr.s_addr = addr;
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(sock, request, &ifr);
}

/* IFNAME up with ADDRESS/24 (and its broadcast); IPv6 off first */
static int configure_if(int sock, const char *ifname, in_addr_t addr)
{
	in_addr_t mask = htonl(0xffffff00);
	struct ifreq ifr = { 0 };
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	set_sysctl(path, "1");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (set_if_addr(sock, ifname, SIOCSIFADDR, addr) ||
	    set_if_addr(sock, ifname, SIOCSIFNETMASK, mask) ||
	    set_if_addr(sock, ifname, SIOCSIFBRDADDR, addr | ~mask) ||
	    ioctl(sock, SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int run_net(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	long count, interval_us = 5000, i, sent = 0;
	char payload[64], line[16];
	struct in_addr addr;
	int sock, one = 1, go = 0;
	double t0;

	if (argc > 5 && !strcmp(argv[argc - 1], "--go")) {
		go = 1;
		argc--;
	}
	if (argc < 5 || argc > 6 || !inet_aton(argv[3], &addr)) {
		fprintf(stderr, "usage: inner-io --net IFNAME ADDRESS COUNT [INTERVAL_US] [--go]\n");
		return 2;
	}
	count = atol(argv[4]);
	if (argc == 6)
		interval_us = atol(argv[5]);
	if (count < 1 || interval_us < 0) {
		fprintf(stderr, "inner-io: COUNT must be 1 or more, INTERVAL_US 0 or more\n");
		return 2;
	}
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || configure_if(sock, argv[2], addr.s_addr) ||
	    setsockopt(sock, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one))) {
		perror(argv[2]);
		return 1;
	}
	to.sin_addr.s_addr = addr.s_addr | htonl(0xff);
	memset(payload, 0x5a, sizeof(payload));
	if (go) {
		printf("inner-io: net ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	t0 = now();
	for (i = 0; i < count; i++) {
		snprintf(payload, sizeof(payload), "kvmio-lat net %ld", i);
		if (sendto(sock, payload, sizeof(payload), 0,
			   (struct sockaddr *)&to, sizeof(to)) == sizeof(payload))
			sent++;
		if (interval_us)
			usleep(interval_us);
	}
	printf("inner-io: net %s sent %ld of %ld to %s:9 in %.3f s\n", argv[2],
	       sent, count, inet_ntoa(to.sin_addr), now() - t0);
	close(sock);
	return sent == count ? 0 : 1;
}

int main(int argc, char **argv)
{
	static struct job jobs[MAX_JOBS];
	long reads, writes, nblocks, k;
	unsigned long long bytes = 0;
	double t0, lat = 0;
	int fd, njobs, failed = 0;

	if (argc > 1 && !strcmp(argv[1], "--net"))
		return run_net(argc, argv);
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
