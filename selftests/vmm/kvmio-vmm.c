// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio-vmm - a small KVM VMM that drives the exits and I/O paths kvmio_lat
 * measures.
 *
 *   kvmio-vmm exits ...  every vCPU does M port writes that exit to
 *                        userspace, then HLT; the VMM counts them.
 *   kvmio-vmm io ...     every vCPU rings an ioeventfd doorbell and waits
 *                        for an MSI through an irqfd, R times; an event
 *                        loop thread in between does real O_DIRECT I/O the
 *                        way QEMU's virtio-blk does with aio=native
 *                        (io_submit, completion eventfd, AIO ring reaped in
 *                        userspace), aio=threads (a worker pool) or
 *                        aio=io_uring (READV SQEs, the completion queue
 *                        reaped in userspace).
 *
 * Exit status: 0 pass, 1 fail, 2 usage error, 3 the test guest faulted (a
 * vector it never expects; vmm.h), 4 skip (no /dev/kvm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define DEFAULT_EXIT_PORT	0x00e9	/* the Bochs/QEMU debug console port */
#define PORT_DONE		0x00f4	/* io guest: "all requests done" */
#define DOORBELL_PORT_BASE	0xc000	/* io guest: vCPU i rings BASE + 4*i */
#define DOORBELL_STRIDE		4
#define IRQ_VECTOR		0x23	/* what QEMU's virtio-blk got in LAB-NOTES */
#define GSI_BASE		24	/* first GSI after the IOAPIC pins, as QEMU */
#define IO_SIZE			4096u
#define AIO_NR_EVENTS		256
/* io_uring SQ entries: at least one per vCPU (--depth 1, up to 255) */
#define URING_ENTRIES		256
#define DEFAULT_TIMEOUT_S	120

/* io guest per-vCPU data (DS offsets). */
#define DATA_FLAG		0x08	/* byte: set by the IRQ handler */
#define DATA_IRQS		0x0c	/* dword: interrupts taken */
#define DATA_HLT_SKIPS		0x10	/* dword: interrupts taken at the HLT */

/* x2APIC MSRs. */
#define MSR_APIC_BASE		0x1b
#define APIC_BASE_EXTD		(1u << 10)
#define APIC_BASE_EN		(1u << 11)
#define MSR_X2APIC_EOI		0x80b
#define MSR_X2APIC_SVR		0x80f

static const char *prog = "kvmio-vmm";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s exits --vcpus N --count M [--port P] [--mmio|--cpuid|--ioeventfd]\n"
		"             [common options]\n"
		"       %s io --mode native|threads|io_uring --vcpus N --requests R --dev PATH\n"
		"             [--write] [--wake-delay-us U] [--reap-delay-us U] [--depth 1]\n"
		"             [--reap ring|getevents] [--workers W] [--doorbell pio|mmio]\n"
		"             [--no-timing] [common options]\n"
		"common options: [--timeout SEC (default %d, 0 = none)] [--start-delay-ms MS]\n"
		"                [--stop-when-done] [--kick-us U]\n"
		"  --kick-us U: signal each vCPU thread every U us (a timer), as QEMU\n"
		"  kicks its vCPUs: KVM_RUN returns -EINTR (KVM_EXIT_INTR), also right\n"
		"  after an exit KVM handled itself; per vCPU 'kicks vcpu <i> eintr <n>'.\n"
		"  --stop-when-done: after printing the results, SIGSTOP ourselves while the\n"
		"  VM still exists (a test reads kvmio_lat's hist, then sends SIGCONT).\n"
		"  --start-delay-ms: once every thread exists, print 'ready ... tid <tid>'\n"
		"  lines, wait MS, then release the vCPUs (to set up tracing by tid).\n"
		"\n"
		"exits: each vCPU runs M 'out dx, al' to port P (default 0x%x; or M byte\n"
		"  writes to an unbacked GPA with --mmio), then HLT, with no in-kernel\n"
		"  irqchip. Prints 'pid <pid>', then per vCPU 'vcpu <i> tid <tid> io_exits <n>'\n"
		"  (mmio_exits with --mmio), then a summary. Passes iff each vCPU saw exactly M.\n"
		"  --cpuid: M CPUIDs instead, exits KVM handles itself (no return to\n"
		"  userspace, as most exits of a real guest); 'cpuid_exits M' once halted.\n"
		"  --ioeventfd: port P bound to an ioeventfd that nothing reads, the I/O\n"
		"  exit of a virtio doorbell (exit, kvm_pio, entry; no return to\n"
		"  userspace); 'ioeventfd_exits N', N counted by the eventfd.\n"
		"\n"
		"io: in-kernel irqchip; vCPU i enables its x2APIC, then R times rings its\n"
		"  doorbell (a 2-byte write to port 0x%x+%d*i, or to GPA 0x%x+%d*i with\n"
		"  --doorbell mmio, bound to an ioeventfd: no exit to userspace) and waits\n"
		"  (sti; hlt) for vector 0x%x, delivered as MSI through an irqfd on GSI %d+i\n"
		"  to APIC id i; the handler EOIs and irets. The event loop thread ppoll()s\n"
		"  all ioeventfds and one completion eventfd (io_uring: the ring's fd); per\n"
		"  doorbell it read()s the ioeventfd, sleeps --wake-delay-us, then submits\n"
		"  one 4 KiB O_DIRECT read (--write: write) at a per-request offset of PATH:\n"
		"    native:  io_submit with IOCB_FLAG_RESFD = the completion eventfd;\n"
		"             completions reaped from the AIO ring in userspace (QEMU 7.2),\n"
		"             or with --reap getevents by io_getevents(timeout 0) (older QEMU)\n"
		"    threads: queued to a worker pool (mutex + condvar: a futex wake); the\n"
		"             worker runs pread/pwrite, then writes the completion eventfd\n"
		"    io_uring: one READV (--write: WRITEV) SQE whose user_data is the\n"
		"             request, io_uring_enter(to_submit 1, no GETEVENTS); the\n"
		"             completion queue is read in userspace right after that and\n"
		"             when ppoll says the ring's fd is readable (QEMU 7.2's\n"
		"             block/io_uring.c; raw syscalls, no liburing)\n"
		"  On completion it read()s the eventfd (io_uring: none), reaps, sleeps\n"
		"  --reap-delay-us, and write()s the vCPU's irqfd. Sleeps block the loop,\n"
		"  so with several vCPUs one request can wait behind another's (as on a\n"
		"  busy QEMU main loop).\n"
		"  Only --depth 1 exists (one request in flight per vCPU). --write destroys\n"
		"  data on PATH. Prints pid, tids, 'vcpu <i> tid <tid> requests <n>' and\n"
		"  per-stage userspace timings in ns:\n"
		"    wake_to_drain      ppoll return -> ioeventfd read() done\n"
		"    drain_to_submit    -> submitted (includes --wake-delay-us)\n"
		"    wake_to_submit     ppoll return -> submitted\n"
		"    submit_to_complete submitted -> ppoll return on the completion eventfd\n"
		"                       (io_uring: on the ring's fd, or the reap right\n"
		"                       after submitting)\n"
		"    handoff            threads: queued -> worker picked it up\n"
		"    worker_io          threads: the pread/pwrite call\n"
		"    worker_to_loop     threads: worker's eventfd write -> loop's ppoll return\n"
		"    complete_to_reap   that ppoll return -> request reaped\n"
		"    reap_to_irq        reaped -> irqfd write() done (includes --reap-delay-us)\n"
		"    total              doorbell ppoll return -> irqfd write() done\n"
		"    irq_to_doorbell    irqfd write() done -> that vCPU's next doorbell wake\n"
		"  --no-timing takes no timestamps (each is a clock_gettime syscall where\n"
		"  the vDSO cannot read the clocksource, e.g. in a TCG guest).\n"
		"  Also prints 'guest vcpu <i> irqs <n> irqs_at_hlt <k>': k counts\n"
		"  interrupts delivered on the HLT itself, i.e. the STI shadow was not\n"
		"  honoured (seen under nested TCG; the handler steps past the HLT).\n"
		"  Passes iff every vCPU completed exactly R requests.\n"
		"\n"
		"exit status: 0 pass, 1 fail, 2 usage, 3 the test guest faulted, 4 skip (no /dev/kvm),\n"
		"             5 a vCPU stalled past --timeout\n",
		prog, prog, DEFAULT_TIMEOUT_S, DEFAULT_EXIT_PORT, DOORBELL_PORT_BASE,
		DOORBELL_STRIDE, VMM_MMIO_GPA, DOORBELL_STRIDE, IRQ_VECTOR,
		GSI_BASE);
}

static int parse_u32(const char *opt, const char *s, uint32_t min,
		     uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-')
		goto bad;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	fprintf(stderr, "%s: --%s wants a number in %u..%u, got '%s'\n", prog,
		opt, min, max, s ? s : "");
	return -1;
}

static int vm_create_or_skip(const struct vmm_vm_config *cfg,
			     struct vmm_vm **vm)
{
	*vm = vmm_vm_create(cfg);
	if (*vm)
		return 0;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
		printf("SKIP: /dev/kvm is not available\n");
		return VMM_EXIT_SKIP;
	}
	return VMM_EXIT_FAIL;
}

/* ================================================================== */
/* exits                                                              */
/* ================================================================== */

struct exits_opts {
	uint32_t vcpus;
	uint32_t count;
	uint32_t port;
	bool mmio;
	bool cpuid;
	bool ioeventfd;
	uint32_t timeout_s;
	uint32_t start_delay_ms;
	uint32_t kick_us;
};

struct exits_vcpu {
	uint64_t good;		/* exits with the expected port/address and data */
	bool halted;
};

/*
 * exits guest, entered with ECX = M, DX = port, AL = vCPU id, ES:DI = its
 * MMIO byte (GPA VMM_MMIO_GPA + id). No stack, no interrupts.  CPUID
 * clobbers EAX..EDX, so the cpuid loop counts in ESI.
 */
static int emit_exits_guest(struct vmm_vm *vm, const struct exits_opts *o)
{
	uint32_t to_done;
	uint16_t loop, done;
	struct vmm_asm a;

	vmm_asm_init(&a, vm, VMM_CODE_GPA, VMM_CODE_END);
	VMM_ASM(&a, 0x66, 0x85, 0xc9);		/* test ecx, ecx */
	to_done = vmm_asm_jmp8_fwd(&a, 0x74);	/* jz done */
	if (o->cpuid)
		VMM_ASM(&a, 0x66, 0x89, 0xce);	/* mov esi, ecx */
	loop = vmm_asm_here(&a);
	if (o->cpuid)
		VMM_ASM(&a, 0x66, 0x31, 0xc0,	/* xor eax, eax */
			0x0f, 0xa2);		/* cpuid  -> handled in KVM */
	else if (o->mmio)
		VMM_ASM(&a, 0x26, 0x88, 0x05);	/* mov [es:di], al  -> EXIT_MMIO */
	else
		VMM_ASM(&a, 0xee);		/* out dx, al       -> EXIT_IO */
	if (o->cpuid)
		VMM_ASM(&a, 0x66, 0x4e);	/* dec esi */
	else
		VMM_ASM(&a, 0x66, 0x49);	/* dec ecx */
	vmm_asm_jmp8_back(&a, 0x75, loop);	/* jnz loop */
	vmm_asm_fix8(&a, to_done);
	done = vmm_asm_here(&a);
	VMM_ASM(&a, 0xf4);			/* done: hlt  -> EXIT_HLT */
	vmm_asm_jmp8_back(&a, 0xeb, done);	/* jmp done (never resumed) */
	return vmm_asm_end(&a, "exits guest");
}

static int exits_io(struct vmm_vcpu *vcpu, uint16_t port, bool out,
		    unsigned int size, unsigned int count, void *data)
{
	const struct exits_opts *o = vcpu->vm->priv;
	struct exits_vcpu *ev = vcpu->priv;
	uint8_t val = *(uint8_t *)data;

	if (o->mmio || o->ioeventfd || port != o->port || !out || size != 1 ||
	    count != 1 || val != (uint8_t)vcpu->id) {
		vmm_vcpu_error(vcpu, "unexpected port I/O: %s port 0x%x size %u count %u data 0x%x",
			       out ? "out" : "in", port, size, count, val);
		return -1;
	}
	ev->good++;
	return 0;
}

static int exits_mmio(struct vmm_vcpu *vcpu, uint64_t gpa, bool write,
		      unsigned int len, uint8_t *data)
{
	const struct exits_opts *o = vcpu->vm->priv;
	struct exits_vcpu *ev = vcpu->priv;

	if (!o->mmio || gpa != VMM_MMIO_GPA + vcpu->id || !write || len != 1 ||
	    data[0] != (uint8_t)vcpu->id) {
		vmm_vcpu_error(vcpu, "unexpected MMIO %s gpa 0x%" PRIx64 " len %u data 0x%x",
			       write ? "write" : "read", gpa, len, data[0]);
		return -1;
	}
	ev->good++;
	return 0;
}

static int exits_hlt(struct vmm_vcpu *vcpu)
{
	struct exits_vcpu *ev = vcpu->priv;

	ev->halted = true;
	return 1;
}

/* With --start-delay-ms: the tids, before any guest code runs. */
static void exits_ready(struct vmm_vm *vm)
{
	const struct exits_opts *o = vm->priv;
	unsigned int i;

	if (!o->start_delay_ms)
		return;
	for (i = 0; i < vm->nr_vcpus; i++)
		printf("ready vcpu %u tid %d\n", i, (int)vm->vcpus[i].tid);
	fflush(stdout);
}

static const struct vmm_exit_ops exits_ops = {
	.io = exits_io,
	.mmio = exits_mmio,
	.hlt = exits_hlt,
	.ready = exits_ready,
};

/*
 * --stop-when-done (any subcommand): stop with SIGSTOP once the run is over
 * and its results are printed, while the VM still exists, so a test can
 * read what kvmio_lat recorded for this process before it exits and its
 * state is freed.  SIGCONT lets it clean up and exit.
 */
static bool stop_when_done;

static void stop_point(void)
{
	if (!stop_when_done)
		return;
	fflush(stdout);
	fflush(stderr);
	raise(SIGSTOP);
}

static int cmd_exits(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "vcpus", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "mmio", no_argument, NULL, 'm' },
		{ "cpuid", no_argument, NULL, 'C' },
		{ "ioeventfd", no_argument, NULL, 'E' },
		{ "timeout", required_argument, NULL, 't' },
		{ "start-delay-ms", required_argument, NULL, 's' },
		{ "kick-us", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exits_opts o = {
		.vcpus = 1,
		.port = DEFAULT_EXIT_PORT,
		.timeout_s = DEFAULT_TIMEOUT_S,
	};
	struct vmm_vm_config cfg = { 0 };
	struct exits_vcpu *ev = NULL;
	bool have_count = false;
	struct vmm_vm *vm = NULL;
	uint64_t total = 0, elapsed;
	int c, efd = -1, ret = VMM_EXIT_FAIL;
	uint64_t signalled = 0;
	unsigned int i;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u32("vcpus", optarg, 1, VMM_MAX_VCPUS, &o.vcpus))
				return VMM_EXIT_USAGE;
			break;
		case 'c':
			if (parse_u32("count", optarg, 0, UINT32_MAX, &o.count))
				return VMM_EXIT_USAGE;
			have_count = true;
			break;
		case 'p':
			if (parse_u32("port", optarg, 0, 0xffff, &o.port))
				return VMM_EXIT_USAGE;
			break;
		case 'm':
			o.mmio = true;
			break;
		case 'C':
			o.cpuid = true;
			break;
		case 'E':
			o.ioeventfd = true;
			break;
		case 't':
			if (parse_u32("timeout", optarg, 0, 86400, &o.timeout_s))
				return VMM_EXIT_USAGE;
			break;
		case 's':
			if (parse_u32("start-delay-ms", optarg, 0, 3600000,
				      &o.start_delay_ms))
				return VMM_EXIT_USAGE;
			break;
		case 'k':
			if (parse_u32("kick-us", optarg, 1, 999999, &o.kick_us))
				return VMM_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return VMM_EXIT_PASS;
		default:
			fprintf(stderr, "try '%s --help'\n", prog);
			return VMM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s exits: unexpected argument '%s'\n", prog,
			argv[optind]);
		return VMM_EXIT_USAGE;
	}
	if (!have_count) {
		fprintf(stderr, "%s exits: --count is required\n", prog);
		return VMM_EXIT_USAGE;
	}
	if (o.mmio + o.cpuid + o.ioeventfd > 1) {
		fprintf(stderr, "%s exits: --mmio, --cpuid and --ioeventfd exclude each other\n",
			prog);
		return VMM_EXIT_USAGE;
	}
	if (o.port == VMM_PORT_VECTOR) {
		fprintf(stderr, "%s exits: port 0x%x is reserved for fault reports\n",
			prog, VMM_PORT_VECTOR);
		return VMM_EXIT_USAGE;
	}

	printf("pid %d\n", (int)getpid());
	fflush(stdout);

	cfg.nr_vcpus = o.vcpus;
	ret = vm_create_or_skip(&cfg, &vm);
	if (ret)
		return ret;
	ret = VMM_EXIT_FAIL;
	vm->priv = &o;
	vm->kick_us = o.kick_us;
	ev = calloc(o.vcpus, sizeof(*ev));
	if (!ev) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	if (emit_exits_guest(vm, &o))
		goto out;
	if (o.ioeventfd) {
		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0 || vmm_ioeventfd(vm, efd, o.port, 1, true)) {
			fprintf(stderr, "exits --ioeventfd: %s\n", strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < o.vcpus; i++) {
		struct vmm_regs16 r = {
			.ip = VMM_CODE_GPA,
			.es = VMM_MMIO_SEG,
			.eax = i & 0xff,
			.ecx = o.count,
			.edx = o.port,
			.edi = i,
		};

		vm->vcpus[i].priv = &ev[i];
		if (vmm_vcpu_setup(&vm->vcpus[i], &r))
			goto out;
	}

	ret = vmm_vm_run(vm, &exits_ops, o.timeout_s * 1000u,
			 o.start_delay_ms) ? VMM_EXIT_FAIL : VMM_EXIT_PASS;

	/* one eventfd for all vCPUs: its count is theirs, shared out */
	if (efd >= 0 && read(efd, &signalled, sizeof(signalled)) != sizeof(signalled))
		signalled = 0;
	for (i = 0; i < o.vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		if (o.cpuid && ev[i].halted)	/* KVM took them: all ran */
			ev[i].good = o.count;
		if (o.ioeventfd && ev[i].halted && signalled >= o.count) {
			ev[i].good = o.count;
			signalled -= o.count;
		}
		printf("vcpu %u tid %d %s %" PRIu64 "\n", i, (int)vcpu->tid,
		       o.cpuid ? "cpuid_exits" : o.mmio ? "mmio_exits" :
		       o.ioeventfd ? "ioeventfd_exits" : "io_exits", ev[i].good);
		if (o.kick_us)
			printf("kicks vcpu %u eintr %" PRIu64 "\n", i,
			       vcpu->nr_eintr);
		total += ev[i].good;
		if (ev[i].good != o.count || !ev[i].halted) {
			if (ret == VMM_EXIT_PASS)
				vmm_vcpu_error(vcpu, "saw %" PRIu64 " exits, expected %u%s",
					       ev[i].good, o.count,
					       ev[i].halted ? "" : ", never halted");
			ret = VMM_EXIT_FAIL;
		}
	}
	elapsed = vm->end_ns - vm->start_ns;
	if (ret != VMM_EXIT_PASS && vm->guest_fault)
		ret = VMM_EXIT_GUEST_FAULT;
	else if (ret != VMM_EXIT_PASS && vm->stalled)
		ret = VMM_EXIT_STALLED;
	printf("summary vcpus %u exits %" PRIu64 " elapsed_ns %" PRIu64 " ns_per_exit %" PRIu64 " result %s start_ns %" PRIu64 " end_ns %" PRIu64 "\n",
	       o.vcpus, total, elapsed, total ? elapsed / total : 0,
	       ret == VMM_EXIT_PASS ? "pass" : "fail", vm->start_ns, vm->end_ns);
	stop_point();
out:
	if (efd >= 0)
		close(efd);
	free(ev);
	vmm_vm_destroy(vm);
	return ret;
}

/* ================================================================== */
/* io                                                                 */
/* ================================================================== */

enum io_mode { MODE_NATIVE, MODE_THREADS, MODE_URING };

static const char * const mode_names[] = {
	[MODE_NATIVE] = "native",
	[MODE_THREADS] = "threads",
	[MODE_URING] = "io_uring",
};

enum stage {
	ST_WAKE_TO_DRAIN,
	ST_DRAIN_TO_SUBMIT,
	ST_WAKE_TO_SUBMIT,
	ST_SUBMIT_TO_COMPLETE,
	ST_HANDOFF,
	ST_WORKER_IO,
	ST_WORKER_TO_LOOP,
	ST_COMPLETE_TO_REAP,
	ST_REAP_TO_IRQ,
	ST_TOTAL,
	ST_IRQ_TO_DOORBELL,
	NR_STAGES,
};

static const char * const stage_names[NR_STAGES] = {
	[ST_WAKE_TO_DRAIN] = "wake_to_drain",
	[ST_DRAIN_TO_SUBMIT] = "drain_to_submit",
	[ST_WAKE_TO_SUBMIT] = "wake_to_submit",
	[ST_SUBMIT_TO_COMPLETE] = "submit_to_complete",
	[ST_HANDOFF] = "handoff",
	[ST_WORKER_IO] = "worker_io",
	[ST_WORKER_TO_LOOP] = "worker_to_loop",
	[ST_COMPLETE_TO_REAP] = "complete_to_reap",
	[ST_REAP_TO_IRQ] = "reap_to_irq",
	[ST_TOTAL] = "total",
	[ST_IRQ_TO_DOORBELL] = "irq_to_doorbell",
};

struct io_opts {
	enum io_mode mode;
	uint32_t vcpus;
	uint32_t requests;
	const char *dev;
	bool write;
	uint32_t wake_delay_us;
	uint32_t reap_delay_us;
	bool reap_getevents;
	uint32_t workers;
	bool mmio_doorbell;
	bool no_timing;
	uint32_t timeout_s;
	uint32_t start_delay_ms;
	uint32_t kick_us;
};

struct io_ctx;

/* The one request a vCPU can have in flight (--depth 1). */
struct io_req {
	struct io_ctx *ctx;
	unsigned int vcpu;
	struct io_req *next;		/* pool queue or done list */
	void *buf;
	uint64_t seq;
	uint64_t offset;
	bool busy;
	long res;
	struct iocb iocb;
	struct iovec iov;		/* io_uring's READV/WRITEV */
	/* CLOCK_MONOTONIC timestamps of the current request */
	uint64_t t_wake, t_drained, t_submit, t_submitted;
	uint64_t t_worker_start, t_worker_end;
	uint64_t t_complete, t_reaped, t_irq;
};

struct io_vcpu {
	int ioeventfd;
	int irqfd;
	uint32_t gsi;
	uint64_t doorbells;
	uint64_t completions;
	uint64_t last_irq_ns;
	struct io_req req;
};

struct io_worker {
	struct io_ctx *ctx;
	pthread_t thread;
	bool started;
	pid_t tid;
};

/* The kernel's AIO completion ring header (fs/aio.c), mapped at the ctx id. */
struct aio_ring_hdr {
	unsigned int id;
	unsigned int nr;
	unsigned int head;
	unsigned int tail;
	unsigned int magic;
	unsigned int compat_features;
	unsigned int incompat_features;
	unsigned int header_length;
	struct io_event events[];
};

#define AIO_RING_MAGIC	0xa10a10a1u

/* An io_uring instance, its rings mapped as liburing's io_uring_queue_mmap(). */
struct uring {
	int fd;
	void *sq_map, *cq_map;
	size_t sq_map_len, cq_map_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned int sq_entries;
	unsigned int inflight;		/* submitted, CQE not reaped */
	unsigned int *sq_head, *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

struct io_ctx {
	const struct io_opts *o;
	struct vmm_vm *vm;
	int dev_fd;
	uint64_t dev_blocks;
	int compl_fd;
	int stop_fd;
	struct io_vcpu *v;

	aio_context_t aio;
	bool aio_ready;
	struct uring ring;		/* --mode io_uring; ring.fd -1 if none */

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	struct io_req *queue;
	struct io_req **queue_tail;
	bool pool_stop;
	pthread_mutex_t done_lock;
	struct io_req *done;
	struct io_req **done_tail;
	bool pool_sync_ready;
	struct io_worker *workers;

	pthread_t loop;
	bool loop_started;
	pid_t loop_tid;
	bool loop_failed;

	/* counters kept by the loop */
	uint64_t ppoll_wakeups;
	uint64_t spurious_doorbell;
	uint64_t spurious_completion;
	uint64_t getevents_calls;
	uint64_t uring_enters;

	uint64_t *samples[NR_STAGES];
	size_t nr_samples[NR_STAGES];
	size_t cap;
};

/*
 * Userspace timestamps. Without vDSO support for the clocksource (as in a
 * TCG guest) each one is a clock_gettime syscall: --no-timing drops them.
 */
static uint64_t stamp(const struct io_ctx *ctx)
{
	return ctx->o->no_timing ? 0 : vmm_now_ns();
}

static void add_sample(struct io_ctx *ctx, enum stage s, uint64_t from,
		       uint64_t to)
{
	if (ctx->o->no_timing)
		return;
	if (ctx->nr_samples[s] < ctx->cap)
		ctx->samples[s][ctx->nr_samples[s]++] = to >= from ? to - from : 0;
}

static void loop_error(struct io_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void loop_error(struct io_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	fprintf(stderr, "event loop: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	ctx->loop_failed = true;
}

/*
 * io guest, entered with ESI = R, DI = doorbell (port, or offset in ES for
 * MMIO), BX = vCPU id, ES = VMM_MMIO_SEG, DS = SS = the vCPU's data.
 * Returns the handler's IP through *handler.
 */
static int emit_io_guest(struct vmm_vm *vm, bool mmio, uint16_t *handler)
{
	uint16_t loop, wait, hlt, done;
	uint32_t to_done, to_got, to_iret;
	struct vmm_asm a;

	vmm_asm_init(&a, vm, VMM_CODE_GPA, VMM_CODE_END);
	/* IA32_APIC_BASE |= EN | EXTD: x2APIC mode (CPUID has the bit). */
	VMM_ASM(&a, 0x66, 0xb9, LE32(MSR_APIC_BASE));	/* mov ecx, 0x1b */
	VMM_ASM(&a, 0x0f, 0x32);			/* rdmsr */
	VMM_ASM(&a, 0x66, 0x0d,
		LE32(APIC_BASE_EN | APIC_BASE_EXTD));	/* or eax, 0xc00 */
	VMM_ASM(&a, 0x0f, 0x30);			/* wrmsr */
	/* SVR = software enable (bit 8) | spurious vector 0xff. */
	VMM_ASM(&a, 0x66, 0xb9, LE32(MSR_X2APIC_SVR));	/* mov ecx, 0x80f */
	VMM_ASM(&a, 0x66, 0xb8, LE32(0x1ffu));		/* mov eax, 0x1ff */
	VMM_ASM(&a, 0x66, 0x31, 0xd2);			/* xor edx, edx */
	VMM_ASM(&a, 0x0f, 0x30);			/* wrmsr */
	VMM_ASM(&a, 0x66, 0x85, 0xf6);			/* test esi, esi */
	to_done = vmm_asm_jmp8_fwd(&a, 0x74);		/* jz done */

	loop = vmm_asm_here(&a);
	VMM_ASM(&a, 0xc6, 0x06, LE16(DATA_FLAG), 0);	/* mov byte [FLAG], 0 */
	VMM_ASM(&a, 0x89, 0xd8);			/* mov ax, bx */
	if (mmio) {
		VMM_ASM(&a, 0x26, 0x89, 0x05);		/* mov [es:di], ax: doorbell */
	} else {
		VMM_ASM(&a, 0x89, 0xfa);		/* mov dx, di */
		VMM_ASM(&a, 0xef);			/* out dx, ax: doorbell */
	}
	/*
	 * Wait for the completion interrupt. STI only takes effect after the
	 * next instruction, so an interrupt arriving after the CMP is taken at
	 * the HLT and wakes it: no lost wakeup. (The handler also copes with a
	 * platform that ignores that STI shadow: see below.)
	 */
	wait = vmm_asm_here(&a);
	VMM_ASM(&a, 0xfa);				/* cli */
	VMM_ASM(&a, 0x80, 0x3e, LE16(DATA_FLAG), 0);	/* cmp byte [FLAG], 0 */
	to_got = vmm_asm_jmp8_fwd(&a, 0x75);		/* jnz got */
	VMM_ASM(&a, 0xfb);				/* sti */
	hlt = vmm_asm_here(&a);
	VMM_ASM(&a, 0xf4);				/* hlt */
	vmm_asm_jmp8_back(&a, 0xeb, wait);		/* jmp wait */
	vmm_asm_fix8(&a, to_got);			/* got: */
	VMM_ASM(&a, 0x66, 0x4e);			/* dec esi */
	vmm_asm_jmp8_back(&a, 0x75, loop);		/* jnz loop */

	vmm_asm_fix8(&a, to_done);			/* done: */
	VMM_ASM(&a, 0xba, LE16(PORT_DONE));		/* mov dx, PORT_DONE */
	VMM_ASM(&a, 0xee);				/* out dx, al: EXIT_IO */
	done = vmm_asm_here(&a);
	VMM_ASM(&a, 0xfa);				/* cli */
	VMM_ASM(&a, 0xf4);				/* hlt */
	vmm_asm_jmp8_back(&a, 0xeb, done);		/* jmp (never resumed) */

	/* The completion interrupt handler. DS is still the vCPU's data. */
	*handler = vmm_asm_here(&a);
	VMM_ASM(&a, 0x66, 0x50);			/* push eax */
	VMM_ASM(&a, 0x66, 0x51);			/* push ecx */
	VMM_ASM(&a, 0x66, 0x52);			/* push edx */
	VMM_ASM(&a, 0xc6, 0x06, LE16(DATA_FLAG), 1);	/* mov byte [FLAG], 1 */
	VMM_ASM(&a, 0x66, 0xff, 0x06, LE16(DATA_IRQS));	/* inc dword [IRQS] */
	VMM_ASM(&a, 0x66, 0xb9, LE32(MSR_X2APIC_EOI));	/* mov ecx, 0x80b */
	VMM_ASM(&a, 0x66, 0x31, 0xc0);			/* xor eax, eax */
	VMM_ASM(&a, 0x66, 0x31, 0xd2);			/* xor edx, edx */
	VMM_ASM(&a, 0x0f, 0x30);			/* wrmsr: EOI */
	/*
	 * An interrupt can only reach the HLT through the STI shadow, so on a
	 * correct CPU the return IP is never the HLT itself. If it is (the
	 * shadow was not honoured), returning there would halt with the flag
	 * already set and hang: step the return IP past the HLT instead and
	 * count it, so the VMM can report it.
	 */
	VMM_ASM(&a, 0x55);				/* push bp */
	VMM_ASM(&a, 0x89, 0xe5);			/* mov bp, sp */
	/* the return IP is above bp, edx, ecx, eax: [ss:bp + 14] */
	VMM_ASM(&a, 0x81, 0x7e, 14, LE16(hlt));	/* cmp word [bp+14], hlt */
	to_iret = vmm_asm_jmp8_fwd(&a, 0x75);		/* jne out */
	VMM_ASM(&a, 0xff, 0x46, 14);			/* inc word [bp+14] */
	VMM_ASM(&a, 0x66, 0xff, 0x06,
		LE16(DATA_HLT_SKIPS));			/* inc dword [HLT_SKIPS] */
	vmm_asm_fix8(&a, to_iret);			/* out: */
	VMM_ASM(&a, 0x5d);				/* pop bp */
	VMM_ASM(&a, 0x66, 0x5a);			/* pop edx */
	VMM_ASM(&a, 0x66, 0x59);			/* pop ecx */
	VMM_ASM(&a, 0x66, 0x58);			/* pop eax */
	VMM_ASM(&a, 0xcf);				/* iret */
	return vmm_asm_end(&a, "io guest");
}

static int io_exit_io(struct vmm_vcpu *vcpu, uint16_t port, bool out,
		      unsigned int size, unsigned int count, void *data)
{
	(void)data;
	if (port == PORT_DONE && out)
		return 1;
	if (port >= DOORBELL_PORT_BASE &&
	    port < DOORBELL_PORT_BASE + DOORBELL_STRIDE * VMM_MAX_VCPUS)
		vmm_vcpu_error(vcpu, "doorbell port 0x%x exited to userspace: the ioeventfd did not catch it",
			       port);
	else
		vmm_vcpu_error(vcpu, "unexpected port I/O: %s port 0x%x size %u count %u",
			       out ? "out" : "in", port, size, count);
	return -1;
}

static int io_exit_mmio(struct vmm_vcpu *vcpu, uint64_t gpa, bool write,
			unsigned int len, uint8_t *data)
{
	(void)data;
	vmm_vcpu_error(vcpu, "MMIO %s gpa 0x%" PRIx64 " len %u exited to userspace%s",
		       write ? "write" : "read", gpa, len,
		       gpa >= VMM_MMIO_GPA ? ": the ioeventfd did not catch it" : "");
	return -1;
}

static void io_ready(struct vmm_vm *vm);

static const struct vmm_exit_ops io_ops = {
	.io = io_exit_io,
	.mmio = io_exit_mmio,
	/* no .hlt: with the in-kernel LAPIC, HLT never exits */
	.ready = io_ready,
};

/* With --start-delay-ms: all tids, before any guest code runs. */
static void io_ready(struct vmm_vm *vm)
{
	const struct io_ctx *ctx = vm->priv;
	unsigned int i;

	if (!ctx->o->start_delay_ms)
		return;
	/* the loop and pool threads were started first; wait for their tids */
	while (!__atomic_load_n(&ctx->loop_tid, __ATOMIC_ACQUIRE))
		vmm_sleep_us(1000);
	printf("ready event_loop tid %d\n", (int)ctx->loop_tid);
	for (i = 0; ctx->workers && i < ctx->o->workers; i++) {
		while (!__atomic_load_n(&ctx->workers[i].tid, __ATOMIC_ACQUIRE))
			vmm_sleep_us(1000);
		printf("ready pool tid %d\n", (int)ctx->workers[i].tid);
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		printf("ready vcpu %u tid %d\n", i, (int)vm->vcpus[i].tid);
	fflush(stdout);
}

static int eventfd_drain(int fd, uint64_t *val)
{
	ssize_t n = read(fd, val, sizeof(*val));

	if (n == sizeof(*val))
		return 1;
	if (n < 0 && errno == EAGAIN)
		return 0;
	return -1;
}

static int eventfd_kick(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static int submit_native(struct io_ctx *ctx, struct io_req *req)
{
	struct iocb *p = &req->iocb;
	long r;

	memset(p, 0, sizeof(*p));
	p->aio_data = (uintptr_t)req;
	p->aio_lio_opcode = ctx->o->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	p->aio_fildes = (uint32_t)ctx->dev_fd;
	p->aio_buf = (uintptr_t)req->buf;
	p->aio_nbytes = IO_SIZE;
	p->aio_offset = (int64_t)req->offset;
	p->aio_flags = IOCB_FLAG_RESFD;
	p->aio_resfd = (uint32_t)ctx->compl_fd;
	r = syscall(SYS_io_submit, ctx->aio, 1L, &p);
	if (r != 1) {
		loop_error(ctx, "vcpu %u: io_submit: %s", req->vcpu,
			   r < 0 ? strerror(errno) : "submitted nothing");
		return -1;
	}
	return 0;
}

static void submit_threads(struct io_ctx *ctx, struct io_req *req)
{
	pthread_mutex_lock(&ctx->pool_lock);
	req->next = NULL;
	*ctx->queue_tail = req;
	ctx->queue_tail = &req->next;
	pthread_mutex_unlock(&ctx->pool_lock);
	/* after the unlock, so the woken worker does not block on the mutex */
	pthread_cond_signal(&ctx->pool_cond);
}

/*
 * One READV (--write: WRITEV) SQE, then io_uring_enter(to_submit 1) without
 * GETEVENTS: QEMU 7.2's luring_do_submit() and ioq_submit().
 */
static int submit_uring(struct io_ctx *ctx, struct io_req *req)
{
	struct uring *u = &ctx->ring;
	unsigned int tail = *u->sq_tail, idx;
	struct io_uring_sqe *sqe;
	long r;

	if (tail - __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE) >= u->sq_entries) {
		loop_error(ctx, "vcpu %u: io_uring submission queue full",
			   req->vcpu);
		return -1;
	}
	idx = tail & *u->sq_mask;
	sqe = &u->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	req->iov.iov_base = req->buf;
	req->iov.iov_len = IO_SIZE;
	sqe->opcode = ctx->o->write ? IORING_OP_WRITEV : IORING_OP_READV;
	sqe->fd = ctx->dev_fd;
	sqe->off = req->offset;
	sqe->addr = (uintptr_t)&req->iov;
	sqe->len = 1;
	sqe->user_data = (uintptr_t)req;
	u->sq_array[idx] = idx;
	/* the SQE is written before the tail that hands it to the kernel */
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ctx->uring_enters++;
	r = syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0);
	if (r != 1) {
		loop_error(ctx, "vcpu %u: io_uring_enter: %s", req->vcpu,
			   r < 0 ? strerror(errno) : "submitted nothing");
		return -1;
	}
	u->inflight++;
	return 0;
}

static int uring_reap_now(struct io_ctx *ctx);

static int on_doorbell(struct io_ctx *ctx, unsigned int i, uint64_t t_wake)
{
	struct io_vcpu *v = &ctx->v[i];
	struct io_req *req = &v->req;
	uint64_t cnt;
	int r;

	r = eventfd_drain(v->ioeventfd, &cnt);
	if (r < 0) {
		loop_error(ctx, "vcpu %u: read ioeventfd: %s", i,
			   strerror(errno));
		return -1;
	}
	if (!r) {
		ctx->spurious_doorbell++;
		return 0;
	}
	if (cnt != 1 || req->busy) {
		loop_error(ctx, "vcpu %u: doorbell rang %" PRIu64 " time(s) with %s request in flight; depth is 1",
			   i, cnt, req->busy ? "a" : "no");
		return -1;
	}
	if (v->doorbells >= ctx->o->requests) {
		loop_error(ctx, "vcpu %u: doorbell rang more than %u times", i,
			   ctx->o->requests);
		return -1;
	}
	req->t_wake = t_wake;
	req->t_drained = stamp(ctx);
	if (v->last_irq_ns)
		add_sample(ctx, ST_IRQ_TO_DOORBELL, v->last_irq_ns, t_wake);
	v->doorbells++;
	req->busy = true;
	req->res = 0;
	req->t_worker_start = 0;
	req->t_worker_end = 0;
	req->offset = ((uint64_t)i * ctx->o->requests + req->seq) %
		      ctx->dev_blocks * IO_SIZE;
	req->seq++;

	vmm_sleep_us(ctx->o->wake_delay_us);

	req->t_submit = stamp(ctx);
	if (ctx->o->mode == MODE_NATIVE) {
		if (submit_native(ctx, req))
			return -1;
	} else if (ctx->o->mode == MODE_URING) {
		if (submit_uring(ctx, req))
			return -1;
	} else {
		submit_threads(ctx, req);
	}
	req->t_submitted = stamp(ctx);
	/* QEMU's ioq_submit() looks at the completion queue right away */
	if (ctx->o->mode == MODE_URING)
		return uring_reap_now(ctx);
	return 0;
}

/* Take completed AIO events from the ring in userspace, as QEMU does. */
static unsigned int reap_ring(struct io_ctx *ctx, struct io_req **out,
			      unsigned int max)
{
	struct aio_ring_hdr *ring = (struct aio_ring_hdr *)ctx->aio;
	unsigned int head = ring->head, nr = ring->nr, n = 0;
	unsigned int tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

	while (head != tail && n < max) {
		struct io_event *ev = &ring->events[head];
		struct io_req *req = (struct io_req *)(uintptr_t)ev->data;

		req->res = (long)ev->res;
		out[n++] = req;
		head = (head + 1) % nr;
	}
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

/* The io_uring completion queue, read in userspace (io_uring_peek_cqe()). */
static unsigned int reap_uring(struct io_ctx *ctx, struct io_req **out,
			       unsigned int max)
{
	struct uring *u = &ctx->ring;
	unsigned int head = *u->cq_head, n = 0;
	unsigned int tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);

	while (head != tail && n < max) {
		const struct io_uring_cqe *cqe = &u->cqes[head & *u->cq_mask];
		struct io_req *req = (struct io_req *)(uintptr_t)cqe->user_data;

		req->res = cqe->res;
		out[n++] = req;
		head++;
	}
	/* the CQEs are read before the head that gives their slots back */
	__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
	u->inflight -= n;
	return n;
}

static int reap_getevents(struct io_ctx *ctx, struct io_req **out,
			  unsigned int max)
{
	struct io_event ev[AIO_NR_EVENTS];
	struct timespec zero = { 0, 0 };
	long r, k;

	if (max > AIO_NR_EVENTS)
		max = AIO_NR_EVENTS;
	ctx->getevents_calls++;
	/* the raw syscall: libaio's wrapper may skip it when the ring is empty */
	r = syscall(SYS_io_getevents, ctx->aio, 1L, (long)max, ev, &zero);
	if (r < 0) {
		loop_error(ctx, "io_getevents: %s", strerror(errno));
		return -1;
	}
	for (k = 0; k < r; k++) {
		struct io_req *req = (struct io_req *)(uintptr_t)ev[k].data;

		req->res = (long)ev[k].res;
		out[k] = req;
	}
	return (int)r;
}

static unsigned int reap_pool(struct io_ctx *ctx, struct io_req **out,
			      unsigned int max)
{
	struct io_req *req;
	unsigned int n = 0;

	pthread_mutex_lock(&ctx->done_lock);
	while (ctx->done && n < max) {
		req = ctx->done;
		ctx->done = req->next;
		out[n++] = req;
	}
	if (!ctx->done)
		ctx->done_tail = &ctx->done;
	pthread_mutex_unlock(&ctx->done_lock);
	return n;
}

static int complete_req(struct io_ctx *ctx, struct io_req *req)
{
	struct io_vcpu *v = &ctx->v[req->vcpu];

	if (!req->busy) {
		loop_error(ctx, "vcpu %u: completion without a request", req->vcpu);
		return -1;
	}
	if (req->res != (long)IO_SIZE) {
		loop_error(ctx, "vcpu %u: %s of %u bytes at offset %" PRIu64 " returned %ld%s%s",
			   req->vcpu, ctx->o->write ? "write" : "read", IO_SIZE,
			   req->offset, req->res, req->res < 0 ? ": " : "",
			   req->res < 0 ? strerror((int)-req->res) : "");
		return -1;
	}
	vmm_sleep_us(ctx->o->reap_delay_us);
	if (eventfd_kick(v->irqfd)) {
		loop_error(ctx, "vcpu %u: write irqfd: %s", req->vcpu,
			   strerror(errno));
		return -1;
	}
	req->t_irq = stamp(ctx);
	req->busy = false;
	v->completions++;
	v->last_irq_ns = req->t_irq;

	add_sample(ctx, ST_WAKE_TO_DRAIN, req->t_wake, req->t_drained);
	add_sample(ctx, ST_DRAIN_TO_SUBMIT, req->t_drained, req->t_submitted);
	add_sample(ctx, ST_WAKE_TO_SUBMIT, req->t_wake, req->t_submitted);
	add_sample(ctx, ST_SUBMIT_TO_COMPLETE, req->t_submitted, req->t_complete);
	if (ctx->o->mode == MODE_THREADS) {
		add_sample(ctx, ST_HANDOFF, req->t_submit, req->t_worker_start);
		add_sample(ctx, ST_WORKER_IO, req->t_worker_start,
			   req->t_worker_end);
		add_sample(ctx, ST_WORKER_TO_LOOP, req->t_worker_end,
			   req->t_complete);
	}
	add_sample(ctx, ST_COMPLETE_TO_REAP, req->t_complete, req->t_reaped);
	add_sample(ctx, ST_REAP_TO_IRQ, req->t_reaped, req->t_irq);
	add_sample(ctx, ST_TOTAL, req->t_wake, req->t_irq);
	return 0;
}

/* @n requests whose completion was seen at @t_complete, reaped at @t_reaped. */
static int complete_reaped(struct io_ctx *ctx, struct io_req **reqs, int n,
			   uint64_t t_complete, uint64_t t_reaped)
{
	int k;

	for (k = 0; k < n; k++) {
		reqs[k]->t_complete = t_complete;
		reqs[k]->t_reaped = t_reaped;
	}
	for (k = 0; k < n; k++)
		if (complete_req(ctx, reqs[k]))
			return -1;
	return 0;
}

static int on_completion(struct io_ctx *ctx, uint64_t t_complete)
{
	struct io_req *reqs[VMM_MAX_VCPUS];
	uint64_t cnt;
	int r, n;

	/* io_uring has no eventfd: ppoll watches the ring's own fd */
	if (ctx->o->mode != MODE_URING) {
		r = eventfd_drain(ctx->compl_fd, &cnt);
		if (r < 0) {
			loop_error(ctx, "read completion eventfd: %s",
				   strerror(errno));
			return -1;
		}
	}
	if (ctx->o->mode == MODE_THREADS)
		n = (int)reap_pool(ctx, reqs, VMM_MAX_VCPUS);
	else if (ctx->o->mode == MODE_URING)
		n = (int)reap_uring(ctx, reqs, VMM_MAX_VCPUS);
	else if (ctx->o->reap_getevents)
		n = reap_getevents(ctx, reqs, VMM_MAX_VCPUS);
	else
		n = (int)reap_ring(ctx, reqs, VMM_MAX_VCPUS);
	if (n < 0)
		return -1;
	if (!n) {
		ctx->spurious_completion++;
		return 0;
	}
	return complete_reaped(ctx, reqs, n, t_complete, stamp(ctx));
}

/* Completions posted by the time a submission returned: seen at the reap. */
static int uring_reap_now(struct io_ctx *ctx)
{
	struct io_req *reqs[VMM_MAX_VCPUS];
	unsigned int n = reap_uring(ctx, reqs, VMM_MAX_VCPUS);
	uint64_t now;

	if (!n)
		return 0;
	now = stamp(ctx);
	return complete_reaped(ctx, reqs, (int)n, now, now);
}

static void *loop_thread(void *arg)
{
	struct io_ctx *ctx = arg;
	unsigned int n = ctx->o->vcpus, i;
	struct pollfd *pfd;
	uint64_t now;
	int r;

	__atomic_store_n(&ctx->loop_tid, vmm_gettid(), __ATOMIC_RELEASE);
	pfd = calloc(n + 2, sizeof(*pfd));
	if (!pfd) {
		loop_error(ctx, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		pfd[i].fd = ctx->v[i].ioeventfd;
		pfd[i].events = POLLIN;
	}
	/* io_uring: the ring's fd is readable while its CQ holds entries */
	pfd[n].fd = ctx->o->mode == MODE_URING ? ctx->ring.fd : ctx->compl_fd;
	pfd[n].events = POLLIN;
	pfd[n + 1].fd = ctx->stop_fd;
	pfd[n + 1].events = POLLIN;

	for (;;) {
		r = ppoll(pfd, n + 2, NULL, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			loop_error(ctx, "ppoll: %s", strerror(errno));
			break;
		}
		now = stamp(ctx);
		ctx->ppoll_wakeups++;
		if (pfd[n + 1].revents)
			break;
		for (i = 0; i < n + 1; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				loop_error(ctx, "ppoll: error on fd %d", pfd[i].fd);
				goto out;
			}
		}
		for (i = 0; i < n; i++)
			if ((pfd[i].revents & POLLIN) && on_doorbell(ctx, i, now))
				goto out;
		if ((pfd[n].revents & POLLIN) && on_completion(ctx, now))
			goto out;
	}
out:
	free(pfd);
	if (ctx->loop_failed)
		vmm_vm_fail(ctx->vm);
	return NULL;
}

static void *worker_thread(void *arg)
{
	struct io_worker *w = arg;
	struct io_ctx *ctx = w->ctx;
	struct io_req *req;
	ssize_t r;

	__atomic_store_n(&w->tid, vmm_gettid(), __ATOMIC_RELEASE);
	for (;;) {
		pthread_mutex_lock(&ctx->pool_lock);
		while (!ctx->queue && !ctx->pool_stop)
			pthread_cond_wait(&ctx->pool_cond, &ctx->pool_lock);
		req = ctx->queue;
		if (req) {
			ctx->queue = req->next;
			if (!ctx->queue)
				ctx->queue_tail = &ctx->queue;
		}
		pthread_mutex_unlock(&ctx->pool_lock);
		if (!req)
			break;

		req->t_worker_start = stamp(ctx);
		if (ctx->o->write)
			r = pwrite(ctx->dev_fd, req->buf, IO_SIZE,
				   (off_t)req->offset);
		else
			r = pread(ctx->dev_fd, req->buf, IO_SIZE,
				  (off_t)req->offset);
		req->res = r < 0 ? -errno : (long)r;
		req->t_worker_end = stamp(ctx);

		pthread_mutex_lock(&ctx->done_lock);
		req->next = NULL;
		*ctx->done_tail = req;
		ctx->done_tail = &req->next;
		pthread_mutex_unlock(&ctx->done_lock);
		if (eventfd_kick(ctx->compl_fd)) {
			fprintf(stderr, "pool: write completion eventfd: %s\n",
				strerror(errno));
			vmm_vm_fail(ctx->vm);
		}
	}
	return NULL;
}

static int open_dev(struct io_ctx *ctx)
{
	const struct io_opts *o = ctx->o;
	uint64_t size;
	struct stat st;

	ctx->dev_fd = open(o->dev, (o->write ? O_RDWR : O_RDONLY) | O_DIRECT |
			   O_CLOEXEC);
	if (ctx->dev_fd < 0) {
		fprintf(stderr, "open %s with O_DIRECT: %s%s\n", o->dev,
			strerror(errno),
			errno == EINVAL ? " (tmpfs and some filesystems refuse O_DIRECT)" : "");
		return -1;
	}
	if (fstat(ctx->dev_fd, &st)) {
		fprintf(stderr, "stat %s: %s\n", o->dev, strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(ctx->dev_fd, BLKGETSIZE64, &size)) {
			fprintf(stderr, "BLKGETSIZE64 %s: %s\n", o->dev,
				strerror(errno));
			return -1;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		fprintf(stderr, "%s is neither a block device nor a file\n",
			o->dev);
		return -1;
	}
	ctx->dev_blocks = size / IO_SIZE;
	if (!ctx->dev_blocks) {
		fprintf(stderr, "%s is smaller than %u bytes\n", o->dev, IO_SIZE);
		return -1;
	}
	return 0;
}

/* io_uring_setup() and the rings' mmaps, as liburing's io_uring_queue_mmap(). */
static int uring_setup(struct uring *u)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	bool single;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	u->fd = (int)syscall(__NR_io_uring_setup, URING_ENTRIES, &p);
	if (u->fd < 0) {
		fprintf(stderr, "io_uring_setup: %s%s\n", strerror(errno),
			errno == ENOSYS ? " (a kernel without CONFIG_IO_URING)" :
			errno == EPERM ? " (kernel.io_uring_disabled forbids it)" : "");
		return -1;
	}
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	single = p.features & IORING_FEAT_SINGLE_MMAP;
	if (single && cq_len > sq_len)
		sq_len = cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  u->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		goto err_mmap;
	u->sq_map = sq;
	u->sq_map_len = sq_len;
	cq = sq;
	if (!single) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			goto err_mmap;
		u->cq_map = cq;
		u->cq_map_len = cq_len;
	}
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED) {
		u->sqes = NULL;
		goto err_mmap;
	}
	u->sq_entries = p.sq_entries;
	u->sq_head = (unsigned int *)(sq + p.sq_off.head);
	u->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	u->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned int *)(sq + p.sq_off.array);
	u->cq_head = (unsigned int *)(cq + p.cq_off.head);
	u->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	u->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
err_mmap:
	fprintf(stderr, "mmap of the io_uring rings: %s\n", strerror(errno));
	return -1;
}

/* Safe on a ring partly set up, or never (fd -1). */
static void uring_teardown(struct uring *u)
{
	long r;

	if (u->fd < 0)
		return;
	/*
	 * As io_destroy(): wait for what is still in flight (a failed run),
	 * whose buffers are freed next.
	 */
	while (u->cqes && u->inflight) {
		r = syscall(__NR_io_uring_enter, u->fd, 0, u->inflight,
			    IORING_ENTER_GETEVENTS, NULL, 0);
		if (r >= 0 || errno != EINTR)
			break;
	}
	if (u->sqes)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_map)
		munmap(u->cq_map, u->cq_map_len);
	if (u->sq_map)
		munmap(u->sq_map, u->sq_map_len);
	close(u->fd);
	u->fd = -1;
}

static int io_ctx_init(struct io_ctx *ctx, const struct io_opts *o,
		       struct vmm_vm *vm)
{
	unsigned int i, s;

	ctx->o = o;
	ctx->vm = vm;
	ctx->dev_fd = -1;
	ctx->compl_fd = -1;
	ctx->stop_fd = -1;
	ctx->ring.fd = -1;
	ctx->queue_tail = &ctx->queue;
	ctx->done_tail = &ctx->done;

	ctx->v = calloc(o->vcpus, sizeof(*ctx->v));
	if (!ctx->v)
		goto oom;
	for (i = 0; i < o->vcpus; i++) {
		ctx->v[i].ioeventfd = -1;
		ctx->v[i].irqfd = -1;
	}
	ctx->cap = o->no_timing ? 0 : (size_t)o->vcpus * o->requests;
	for (s = 0; s < NR_STAGES; s++) {
		ctx->samples[s] = calloc(ctx->cap ? ctx->cap : 1, sizeof(uint64_t));
		if (!ctx->samples[s])
			goto oom;
	}
	for (i = 0; i < o->vcpus; i++) {
		struct io_req *req = &ctx->v[i].req;

		req->ctx = ctx;
		req->vcpu = i;
		if (posix_memalign(&req->buf, IO_SIZE, IO_SIZE))
			goto oom;
		/* a recognisable pattern for --write */
		memset(req->buf, 0x5a ^ (int)(i & 0xff), IO_SIZE);
	}
	if (open_dev(ctx))
		return -1;

	if (o->mode != MODE_URING)
		ctx->compl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ctx->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if ((o->mode != MODE_URING && ctx->compl_fd < 0) || ctx->stop_fd < 0) {
		perror("eventfd");
		return -1;
	}
	for (i = 0; i < o->vcpus; i++) {
		struct io_vcpu *v = &ctx->v[i];

		v->ioeventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		v->irqfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->ioeventfd < 0 || v->irqfd < 0) {
			perror("eventfd");
			return -1;
		}
		v->gsi = GSI_BASE + i;
	}

	if (o->mode == MODE_NATIVE) {
		if (syscall(SYS_io_setup, AIO_NR_EVENTS, &ctx->aio)) {
			fprintf(stderr, "io_setup: %s\n", strerror(errno));
			return -1;
		}
		ctx->aio_ready = true;
		if (!o->reap_getevents) {
			struct aio_ring_hdr *ring = (struct aio_ring_hdr *)ctx->aio;

			if (ring->magic != AIO_RING_MAGIC || ring->incompat_features) {
				fprintf(stderr, "the AIO ring cannot be read in userspace here (magic 0x%x); try --reap getevents\n",
					ring->magic);
				return -1;
			}
		}
	} else if (o->mode == MODE_URING) {
		if (uring_setup(&ctx->ring))
			return -1;
	} else {
		if (pthread_mutex_init(&ctx->pool_lock, NULL) ||
		    pthread_mutex_init(&ctx->done_lock, NULL) ||
		    pthread_cond_init(&ctx->pool_cond, NULL)) {
			fprintf(stderr, "pthread init failed\n");
			return -1;
		}
		ctx->pool_sync_ready = true;
		ctx->workers = calloc(o->workers, sizeof(*ctx->workers));
		if (!ctx->workers)
			goto oom;
	}
	return 0;
oom:
	fprintf(stderr, "out of memory\n");
	return -1;
}

static int io_start_threads(struct io_ctx *ctx)
{
	unsigned int i;
	int r;

	if (ctx->o->mode == MODE_THREADS) {
		for (i = 0; i < ctx->o->workers; i++) {
			struct io_worker *w = &ctx->workers[i];

			w->ctx = ctx;
			r = pthread_create(&w->thread, NULL, worker_thread, w);
			if (r) {
				fprintf(stderr, "pthread_create worker: %s\n",
					strerror(r));
				return -1;
			}
			w->started = true;
		}
	}
	r = pthread_create(&ctx->loop, NULL, loop_thread, ctx);
	if (r) {
		fprintf(stderr, "pthread_create event loop: %s\n", strerror(r));
		return -1;
	}
	ctx->loop_started = true;
	return 0;
}

static void io_stop_threads(struct io_ctx *ctx)
{
	unsigned int i;

	if (ctx->loop_started) {
		if (eventfd_kick(ctx->stop_fd))
			perror("write stop eventfd");	/* cannot happen */
		pthread_join(ctx->loop, NULL);
		ctx->loop_started = false;
	}
	if (ctx->workers) {
		pthread_mutex_lock(&ctx->pool_lock);
		ctx->pool_stop = true;
		pthread_cond_broadcast(&ctx->pool_cond);
		pthread_mutex_unlock(&ctx->pool_lock);
		for (i = 0; i < ctx->o->workers; i++)
			if (ctx->workers[i].started) {
				pthread_join(ctx->workers[i].thread, NULL);
				ctx->workers[i].started = false;
			}
	}
}

static void io_ctx_destroy(struct io_ctx *ctx)
{
	unsigned int i, s;

	io_stop_threads(ctx);
	/* io_destroy waits for requests still in flight */
	if (ctx->aio_ready)
		syscall(SYS_io_destroy, ctx->aio);
	uring_teardown(&ctx->ring);
	if (ctx->v) {
		for (i = 0; i < ctx->o->vcpus; i++) {
			if (ctx->v[i].ioeventfd >= 0)
				close(ctx->v[i].ioeventfd);
			if (ctx->v[i].irqfd >= 0)
				close(ctx->v[i].irqfd);
			free(ctx->v[i].req.buf);
		}
		free(ctx->v);
	}
	if (ctx->pool_sync_ready) {
		pthread_mutex_destroy(&ctx->pool_lock);
		pthread_mutex_destroy(&ctx->done_lock);
		pthread_cond_destroy(&ctx->pool_cond);
	}
	free(ctx->workers);
	if (ctx->compl_fd >= 0)
		close(ctx->compl_fd);
	if (ctx->stop_fd >= 0)
		close(ctx->stop_fd);
	if (ctx->dev_fd >= 0)
		close(ctx->dev_fd);
	for (s = 0; s < NR_STAGES; s++)
		free(ctx->samples[s]);
}

static int io_wire_vm(struct io_ctx *ctx, uint16_t handler)
{
	uint32_t gsi[VMM_MAX_VCPUS], apic[VMM_MAX_VCPUS];
	uint8_t vec[VMM_MAX_VCPUS];
	const struct io_opts *o = ctx->o;
	struct vmm_vm *vm = ctx->vm;
	unsigned int i;

	vmm_set_ivt(vm, IRQ_VECTOR, handler);
	for (i = 0; i < o->vcpus; i++) {
		struct io_vcpu *v = &ctx->v[i];
		struct vmm_regs16 r = {
			.ip = VMM_CODE_GPA,
			.es = VMM_MMIO_SEG,
			.ebx = i,
			.esi = o->requests,
			.edi = o->mmio_doorbell ? DOORBELL_STRIDE * i :
				DOORBELL_PORT_BASE + DOORBELL_STRIDE * i,
		};

		if (o->mmio_doorbell) {
			if (vmm_ioeventfd(vm, v->ioeventfd,
					  VMM_MMIO_GPA + DOORBELL_STRIDE * i, 2,
					  false))
				return -1;
		} else if (vmm_ioeventfd(vm, v->ioeventfd,
					 DOORBELL_PORT_BASE + DOORBELL_STRIDE * i,
					 2, true)) {
			return -1;
		}
		gsi[i] = v->gsi;
		apic[i] = i;	/* KVM's x2APIC id is the vCPU id */
		vec[i] = IRQ_VECTOR;
		vm->vcpus[i].priv = v;
		if (vmm_vcpu_setup(&vm->vcpus[i], &r))
			return -1;
	}
	if (vmm_set_msi_routes(vm, gsi, apic, vec, o->vcpus))
		return -1;
	for (i = 0; i < o->vcpus; i++)
		if (vmm_irqfd(vm, ctx->v[i].irqfd, ctx->v[i].gsi))
			return -1;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_stages(struct io_ctx *ctx)
{
	unsigned int s;

	for (s = 0; s < NR_STAGES; s++) {
		uint64_t *v = ctx->samples[s], sum = 0;
		size_t n = ctx->nr_samples[s], k;

		if (!n)
			continue;
		qsort(v, n, sizeof(*v), cmp_u64);
		for (k = 0; k < n; k++)
			sum += v[k];
		/* nearest-rank percentiles */
		printf("stage %s count %zu mean_ns %" PRIu64 " p50_ns %" PRIu64 " p99_ns %" PRIu64 " min_ns %" PRIu64 " max_ns %" PRIu64 "\n",
		       stage_names[s], n, sum / n, v[(n * 50 + 99) / 100 - 1],
		       v[(n * 99 + 99) / 100 - 1], v[0], v[n - 1]);
	}
}

static int cmd_io(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "mode", required_argument, NULL, 'M' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "requests", required_argument, NULL, 'r' },
		{ "dev", required_argument, NULL, 'd' },
		{ "write", no_argument, NULL, 'w' },
		{ "wake-delay-us", required_argument, NULL, 'W' },
		{ "reap-delay-us", required_argument, NULL, 'R' },
		{ "depth", required_argument, NULL, 'D' },
		{ "reap", required_argument, NULL, 'P' },
		{ "workers", required_argument, NULL, 'k' },
		{ "doorbell", required_argument, NULL, 'b' },
		{ "no-timing", no_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 't' },
		{ "start-delay-ms", required_argument, NULL, 's' },
		{ "kick-us", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct io_opts o = {
		.vcpus = 1,
		.timeout_s = DEFAULT_TIMEOUT_S,
	};
	struct vmm_vm_config cfg = { 0 };
	bool have_mode = false, have_req = false, have_reap = false;
	struct io_ctx ctx = { 0 };
	struct vmm_vm *vm = NULL;
	uint16_t handler;
	uint32_t depth;
	unsigned int i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'M':
			if (!strcmp(optarg, "native")) {
				o.mode = MODE_NATIVE;
			} else if (!strcmp(optarg, "threads")) {
				o.mode = MODE_THREADS;
			} else if (!strcmp(optarg, "io_uring")) {
				o.mode = MODE_URING;
			} else {
				fprintf(stderr, "%s io: --mode is native, threads or io_uring, not '%s'\n",
					prog, optarg);
				return VMM_EXIT_USAGE;
			}
			have_mode = true;
			break;
		case 'n':
			/* 8-bit MSI destinations: APIC ids 0..254 */
			if (parse_u32("vcpus", optarg, 1, 255, &o.vcpus))
				return VMM_EXIT_USAGE;
			break;
		case 'r':
			if (parse_u32("requests", optarg, 0, 10000000, &o.requests))
				return VMM_EXIT_USAGE;
			have_req = true;
			break;
		case 'd':
			o.dev = optarg;
			break;
		case 'w':
			o.write = true;
			break;
		case 'W':
			if (parse_u32("wake-delay-us", optarg, 0, 10000000,
				      &o.wake_delay_us))
				return VMM_EXIT_USAGE;
			break;
		case 'R':
			if (parse_u32("reap-delay-us", optarg, 0, 10000000,
				      &o.reap_delay_us))
				return VMM_EXIT_USAGE;
			break;
		case 'D':
			if (parse_u32("depth", optarg, 1, 1, &depth))
				return VMM_EXIT_USAGE;
			break;
		case 'P':
			if (!strcmp(optarg, "getevents")) {
				o.reap_getevents = true;
			} else if (strcmp(optarg, "ring")) {
				fprintf(stderr, "%s io: --reap is ring or getevents, not '%s'\n",
					prog, optarg);
				return VMM_EXIT_USAGE;
			}
			have_reap = true;
			break;
		case 'k':
			if (parse_u32("workers", optarg, 1, 64, &o.workers))
				return VMM_EXIT_USAGE;
			break;
		case 'b':
			if (!strcmp(optarg, "mmio")) {
				o.mmio_doorbell = true;
			} else if (strcmp(optarg, "pio")) {
				fprintf(stderr, "%s io: --doorbell is pio or mmio, not '%s'\n",
					prog, optarg);
				return VMM_EXIT_USAGE;
			}
			break;
		case 'T':
			o.no_timing = true;
			break;
		case 't':
			if (parse_u32("timeout", optarg, 0, 86400, &o.timeout_s))
				return VMM_EXIT_USAGE;
			break;
		case 's':
			if (parse_u32("start-delay-ms", optarg, 0, 3600000,
				      &o.start_delay_ms))
				return VMM_EXIT_USAGE;
			break;
		case 'K':
			if (parse_u32("kick-us", optarg, 1, 999999, &o.kick_us))
				return VMM_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return VMM_EXIT_PASS;
		default:
			fprintf(stderr, "try '%s --help'\n", prog);
			return VMM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s io: unexpected argument '%s'\n", prog,
			argv[optind]);
		return VMM_EXIT_USAGE;
	}
	if (!have_mode || !have_req || !o.dev) {
		fprintf(stderr, "%s io: --mode, --requests and --dev are required\n",
			prog);
		return VMM_EXIT_USAGE;
	}
	if (have_reap && o.mode != MODE_NATIVE) {
		fprintf(stderr, "%s io: --reap applies to --mode native only\n",
			prog);
		return VMM_EXIT_USAGE;
	}
	if (o.workers && o.mode != MODE_THREADS) {
		fprintf(stderr, "%s io: --workers applies to --mode threads only\n",
			prog);
		return VMM_EXIT_USAGE;
	}
	if (!o.workers)
		o.workers = o.vcpus < 64 ? o.vcpus : 64;

	printf("pid %d\n", (int)getpid());
	fflush(stdout);

	cfg.nr_vcpus = o.vcpus;
	cfg.irqchip = true;
	cfg.x2apic = true;
	ret = vm_create_or_skip(&cfg, &vm);
	if (ret)
		return ret;
	ret = VMM_EXIT_FAIL;

	vm->priv = &ctx;
	vm->kick_us = o.kick_us;
	if (io_ctx_init(&ctx, &o, vm))
		goto out;
	if (emit_io_guest(vm, o.mmio_doorbell, &handler))
		goto out;
	if (io_wire_vm(&ctx, handler))
		goto out;
	if (io_start_threads(&ctx))
		goto out;

	ret = vmm_vm_run(vm, &io_ops, o.timeout_s * 1000u, o.start_delay_ms) ?
	      VMM_EXIT_FAIL : VMM_EXIT_PASS;
	io_stop_threads(&ctx);
	if (ctx.loop_failed)
		ret = VMM_EXIT_FAIL;

	printf("config mode %s reap %s doorbell %s op %s dev %s vcpus %u requests %u wake_delay_us %u reap_delay_us %u\n",
	       mode_names[o.mode],
	       o.mode == MODE_THREADS ? "pool" : o.mode == MODE_URING ? "cq" :
	       o.reap_getevents ? "getevents" : "ring",
	       o.mmio_doorbell ? "mmio" : "pio", o.write ? "write" : "read",
	       o.dev, o.vcpus, o.requests, o.wake_delay_us, o.reap_delay_us);
	printf("event_loop tid %d\n", (int)ctx.loop_tid);
	for (i = 0; ctx.workers && i < o.workers; i++)
		printf("pool tid %d\n", (int)ctx.workers[i].tid);
	for (i = 0; i < o.vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		struct io_vcpu *v = &ctx.v[i];
		uint32_t irqs, hlt_skips;

		memcpy(&irqs, (uint8_t *)vmm_vcpu_data(vcpu) + DATA_IRQS,
		       sizeof(irqs));
		memcpy(&hlt_skips,
		       (uint8_t *)vmm_vcpu_data(vcpu) + DATA_HLT_SKIPS,
		       sizeof(hlt_skips));
		printf("vcpu %u tid %d requests %" PRIu64 "\n", i,
		       (int)vcpu->tid, v->completions);
		printf("guest vcpu %u irqs %u irqs_at_hlt %u\n", i, irqs,
		       hlt_skips);
		if (v->completions != o.requests || irqs != o.requests ||
		    vcpu->state != VMM_VCPU_DONE) {
			/* where the chain stopped: doorbell, I/O or interrupt */
			vmm_vcpu_error(vcpu, "completed %" PRIu64 " of %u requests: doorbells %" PRIu64 ", request %s, guest took %u interrupts, guest flag %u, guest %s",
				       v->completions, o.requests, v->doorbells,
				       v->req.busy ? "in flight" : "idle", irqs,
				       *((uint8_t *)vmm_vcpu_data(vcpu) + DATA_FLAG),
				       vcpu->state == VMM_VCPU_DONE ? "finished" :
				       "did not finish");
			ret = VMM_EXIT_FAIL;
		}
	}
	/* as the exit loop's: a guest that faulted says so (vmm.h) */
	if (ret != VMM_EXIT_PASS && vm->guest_fault)
		ret = VMM_EXIT_GUEST_FAULT;
	else if (ret != VMM_EXIT_PASS && vm->stalled)
		ret = VMM_EXIT_STALLED;
	print_stages(&ctx);
	for (i = 0; o.kick_us && i < vm->nr_vcpus; i++)
		printf("kicks vcpu %u eintr %" PRIu64 "\n", i,
		       vm->vcpus[i].nr_eintr);
	printf("summary ppoll_wakeups %" PRIu64 " spurious_doorbell %" PRIu64 " spurious_completion %" PRIu64 " io_getevents %" PRIu64 " io_uring_enter %" PRIu64 " elapsed_ns %" PRIu64 " result %s\n",
	       ctx.ppoll_wakeups, ctx.spurious_doorbell,
	       ctx.spurious_completion, ctx.getevents_calls, ctx.uring_enters,
	       vm->end_ns - vm->start_ns, ret == VMM_EXIT_PASS ? "pass" : "fail");
	stop_point();
out:
	io_ctx_destroy(&ctx);
	vmm_vm_destroy(vm);
	return ret;
}

int main(int argc, char **argv)
{
	int src, dst;

	/* a global option, accepted anywhere after the subcommand */
	for (src = dst = 0; src < argc; src++) {
		if (src > 1 && !strcmp(argv[src], "--stop-when-done"))
			stop_when_done = true;
		else
			argv[dst++] = argv[src];
	}
	argv[dst] = NULL;
	argc = dst;

	if (argc < 2) {
		usage(stderr);
		return VMM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return VMM_EXIT_PASS;
	}
	/* Line-buffered output so a harness can read the pid while we run. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "exits"))
		return cmd_exits(argc - 1, argv + 1);
	if (!strcmp(argv[1], "io"))
		return cmd_io(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'; try '%s --help'\n", prog,
		argv[1], prog);
	return VMM_EXIT_USAGE;
}
