// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny KVM VMM library for the kvmio_lat selftests.
 *
 * See vmm.h for the guest memory layout. Everything here is plain KVM
 * ioctls on /dev/kvm; nothing is borrowed from QEMU or the kernel's
 * selftest library, only their shape (one pthread per vCPU, a start
 * barrier, a KVM_RUN loop that dispatches on kvm_run->exit_reason).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

/* Where KVM puts its private TSS on Intel hosts without unrestricted guest. */
#define VMM_TSS_ADDR		0xfffbd000ul


#define CPUID_1_ECX_X2APIC	(1u << 21)

static const char * const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "OSI",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
};

static const char *exit_name(uint32_t reason)
{
	if (reason < VMM_ARRAY_SIZE(exit_names) &&
	    exit_names[reason])
		return exit_names[reason];
	return "?";
}

static const char * const vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "reserved",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

uint64_t vmm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

pid_t vmm_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

void vmm_sleep_us(unsigned int us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000u,
		.tv_nsec = (long)(us % 1000000u) * 1000,
	};

	if (!us)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

void vmm_vcpu_error(const struct vmm_vcpu *vcpu, const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	fprintf(stderr, "vcpu %u: ", vcpu->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* ioctl() that retries when a signal interrupted it before it did anything. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r;
}

/* ---- the byte emitter ---- */

void vmm_asm_init(struct vmm_asm *a, struct vmm_vm *vm, uint32_t start,
		  uint32_t end)
{
	a->mem = vm->mem;
	a->pos = start;
	a->end = end;
	a->error = end > VMM_MEM_SIZE || end > 0x10000 || start > end;
}

void vmm_asm_bytes(struct vmm_asm *a, const uint8_t *b, size_t n)
{
	if (a->error || n > a->end - a->pos) {
		a->error = true;
		return;
	}
	memcpy(a->mem + a->pos, b, n);
	a->pos += (uint32_t)n;
}

void vmm_asm_jmp8_back(struct vmm_asm *a, uint8_t opcode, uint16_t target)
{
	int32_t rel = (int32_t)target - (int32_t)(a->pos + 2);

	if (rel < -128 || rel > 127)
		a->error = true;
	VMM_ASM(a, opcode, (uint8_t)(rel & 0xff));
}

uint32_t vmm_asm_jmp8_fwd(struct vmm_asm *a, uint8_t opcode)
{
	VMM_ASM(a, opcode, 0);
	return a->pos - 1;
}

void vmm_asm_fix8(struct vmm_asm *a, uint32_t fixup)
{
	int32_t rel = (int32_t)a->pos - (int32_t)(fixup + 1);

	if (a->error)
		return;
	if (rel < -128 || rel > 127) {
		a->error = true;
		return;
	}
	a->mem[fixup] = (uint8_t)(rel & 0xff);
}

int vmm_asm_end(struct vmm_asm *a, const char *what)
{
	if (!a->error)
		return 0;
	fprintf(stderr, "internal error: assembling %s overflowed or a short jump is out of range\n",
		what);
	return -1;
}

/* ---- the VM ---- */

void vmm_set_ivt(struct vmm_vm *vm, uint8_t vec, uint16_t ip)
{
	uint8_t *e = vm->mem + 4u * vec;

	/* An IVT entry is offset:segment, little endian, segment 0 here. */
	e[0] = ip & 0xff;
	e[1] = ip >> 8;
	e[2] = 0;
	e[3] = 0;
}

/*
 * Every vector starts out at a 5-byte stub that loads its number and jumps
 * to a common path reporting it on VMM_PORT_VECTOR. An exception (a #GP
 * from a bad WRMSR, a #UD) or a stray interrupt then fails the run with a
 * clear message instead of running off into zeroed memory.
 */
static int install_vector_stubs(struct vmm_vm *vm)
{
	const uint16_t common = VMM_STUB_GPA + 256 * 5;
	struct vmm_asm a;
	uint16_t at;
	unsigned int v;

	vmm_asm_init(&a, vm, VMM_STUB_GPA, VMM_STUB_GPA + 0x600);
	for (v = 0; v < 256; v++) {
		at = vmm_asm_here(&a);
		vmm_set_ivt(vm, (uint8_t)v, at);
		VMM_ASM(&a, 0xb0, (uint8_t)v);		/* mov al, v */
		/* jmp near common: E9 rel16, relative to the next instruction */
		VMM_ASM(&a, 0xe9, LE16((uint16_t)(common - (at + 5))));
	}
	/* common: */
	VMM_ASM(&a, 0xba, LE16(VMM_PORT_VECTOR));	/* mov dx, VMM_PORT_VECTOR */
	VMM_ASM(&a, 0xee);				/* out dx, al */
	at = vmm_asm_here(&a);
	VMM_ASM(&a, 0xfa);				/* cli */
	VMM_ASM(&a, 0xf4);				/* hlt */
	vmm_asm_jmp8_back(&a, 0xeb, at);		/* jmp back to cli */
	return vmm_asm_end(&a, "vector stubs");
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned int nent;

	for (nent = 64; nent <= 4096; nent *= 2) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c) {
			fprintf(stderr, "out of memory\n");
			return NULL;
		}
		c->nent = nent;
		if (!xioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			return c;
		free(c);
		if (errno != E2BIG) {
			perror("KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	fprintf(stderr, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries\n");
	return NULL;
}

/* The supported CPUID, with this vCPU's APIC id and optionally x2APIC. */
static int vcpu_set_cpuid(struct vmm_vcpu *vcpu, const struct kvm_cpuid2 *sup,
			  bool x2apic)
{
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	unsigned int i;
	int r;

	if (!c) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	memcpy(c, sup, sz);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) {
			/* EBX[31:24]: initial APIC id */
			e->ebx = (e->ebx & 0x00ffffffu) | (vcpu->id << 24);
			if (x2apic)
				e->ecx |= CPUID_1_ECX_X2APIC;
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = vcpu->id;	/* x2APIC id */
		}
	}
	r = xioctl(vcpu->fd, KVM_SET_CPUID2, c);
	if (r)
		fprintf(stderr, "vcpu %u: KVM_SET_CPUID2: %s\n", vcpu->id,
			strerror(errno));
	free(c);
	return r;
}

static void kick_handler(int sig)
{
	(void)sig;
}

/*
 * The kick signal is blocked in every thread (threads inherit the mask of
 * the thread that creates the VM) and unblocked only inside KVM_RUN through
 * KVM_SET_SIGNAL_MASK. A kick that lands while the vCPU thread is outside
 * KVM_RUN stays pending and makes the next KVM_RUN return EINTR at once, so
 * no kick is ever lost.
 */
static int setup_kick_signal(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VMM_KICK_SIGNAL, &sa, NULL)) {
		perror("sigaction");
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	errno = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (errno) {
		perror("pthread_sigmask");
		return -1;
	}
	return 0;
}

static int vcpu_set_signal_mask(struct vmm_vcpu *vcpu)
{
	/* the kernel's sigset_t is 8 bytes on x86-64 */
	union {
		struct kvm_signal_mask hdr;
		uint8_t raw[sizeof(struct kvm_signal_mask) + 8];
	} m;
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	sigdelset(&cur, VMM_KICK_SIGNAL);
	m.hdr.len = 8;
	/* glibc keeps signals 1..64 in the first 8 bytes, as the kernel does */
	memcpy(m.raw + sizeof(m.hdr), &cur, 8);
	if (xioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &m)) {
		fprintf(stderr, "vcpu %u: KVM_SET_SIGNAL_MASK: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int check_cap(struct vmm_vm *vm, long cap, const char *name)
{
	int r = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)cap);

	if (r <= 0) {
		fprintf(stderr, "KVM lacks %s\n", name);
		return -1;
	}
	return r;
}

static int create_vcpu(struct vmm_vm *vm, struct vmm_vcpu *vcpu,
		       const struct kvm_cpuid2 *cpuid, bool x2apic)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	void *run;

	vcpu->fd = xioctl(vm->vm_fd, KVM_CREATE_VCPU,
			  (void *)(unsigned long)vcpu->id);
	if (vcpu->fd < 0) {
		fprintf(stderr, "KVM_CREATE_VCPU %u: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		fprintf(stderr, "vcpu %u: mmap kvm_run: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	vcpu->run = run;
	if (vcpu_set_cpuid(vcpu, cpuid, x2apic))
		return -1;
	/*
	 * With the in-kernel irqchip, every vCPU but the BSP starts in
	 * wait-for-SIPI; make all of them runnable straight away.
	 */
	if (xioctl(vcpu->fd, KVM_SET_MP_STATE, &mp)) {
		fprintf(stderr, "vcpu %u: KVM_SET_MP_STATE: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	return vcpu_set_signal_mask(vcpu);
}

static int init_sync(struct vmm_vm *vm)
{
	pthread_condattr_t ca;
	int r;

	r = pthread_condattr_init(&ca);
	if (!r)
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!r)
		r = pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r) {
		fprintf(stderr, "pthread_cond_init: %s\n", strerror(r));
		return -1;
	}
	r = pthread_mutex_init(&vm->lock, NULL);
	if (r) {
		pthread_cond_destroy(&vm->cond);
		fprintf(stderr, "pthread_mutex_init: %s\n", strerror(r));
		return -1;
	}
	vm->sync_ready = true;
	return 0;
}

struct vmm_vm *vmm_vm_create(const struct vmm_vm_config *cfg)
{
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_cpuid2 *cpuid = NULL;
	struct vmm_vm *vm;
	unsigned int i;
	int r, saved_errno = 0;

	if (!cfg->nr_vcpus || cfg->nr_vcpus > VMM_MAX_VCPUS) {
		fprintf(stderr, "vcpus must be 1..%d\n", VMM_MAX_VCPUS);
		errno = EINVAL;
		return NULL;
	}
	if (cfg->x2apic && !cfg->irqchip) {
		fprintf(stderr, "internal error: x2apic needs the irqchip\n");
		errno = EINVAL;
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "out of memory\n");
		return NULL;
	}
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->irqchip = cfg->irqchip;

	if (setup_kick_signal())
		goto fail;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		saved_errno = errno;
		fprintf(stderr, "/dev/kvm: %s\n", strerror(errno));
		goto fail;
	}
	r = xioctl(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (r != KVM_API_VERSION) {
		fprintf(stderr, "KVM_GET_API_VERSION: %d, expected %d\n", r,
			KVM_API_VERSION);
		goto fail;
	}
	if (check_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY") < 0)
		goto fail;
	if (cfg->irqchip &&
	    (check_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP") < 0 ||
	     check_cap(vm, KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING") < 0 ||
	     check_cap(vm, KVM_CAP_IRQFD, "KVM_CAP_IRQFD") < 0 ||
	     check_cap(vm, KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD") < 0))
		goto fail;
	r = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = xioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			   (void *)KVM_CAP_NR_VCPUS);
	vm->max_vcpus = r > 0 ? (unsigned int)r : 4;
	if (vm->nr_vcpus > vm->max_vcpus) {
		fprintf(stderr, "KVM allows at most %u vCPUs per VM, %u asked\n",
			vm->max_vcpus, vm->nr_vcpus);
		goto fail;
	}
	r = xioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (r < (int)sizeof(struct kvm_run)) {
		fprintf(stderr, "KVM_GET_VCPU_MMAP_SIZE: %s\n",
			r < 0 ? strerror(errno) : "too small");
		goto fail;
	}
	vm->run_size = (size_t)r;

	vm->vm_fd = xioctl(vm->kvm_fd, KVM_CREATE_VM, NULL);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "KVM_CREATE_VM: %s\n", strerror(errno));
		goto fail;
	}
	/* Only Intel without unrestricted guest uses it; AMD ignores it. */
	if (xioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)VMM_TSS_ADDR)) {
		fprintf(stderr, "KVM_SET_TSS_ADDR: %s\n", strerror(errno));
		goto fail;
	}

	vm->mem = mmap(NULL, VMM_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		fprintf(stderr, "mmap guest memory: %s\n", strerror(errno));
		goto fail;
	}
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = VMM_MEM_SIZE;
	region.userspace_addr = (uintptr_t)vm->mem;
	if (xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region)) {
		fprintf(stderr, "KVM_SET_USER_MEMORY_REGION: %s\n",
			strerror(errno));
		goto fail;
	}
	if (install_vector_stubs(vm))
		goto fail;

	/* The irqchip must exist before the vCPUs, which get LAPICs from it. */
	if (cfg->irqchip && xioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL)) {
		fprintf(stderr, "KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		goto fail;
	}

	cpuid = get_supported_cpuid(vm->kvm_fd);
	if (!cpuid)
		goto fail;

	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		fprintf(stderr, "out of memory\n");
		goto fail;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		if (create_vcpu(vm, &vm->vcpus[i], cpuid, cfg->x2apic))
			goto fail;
	if (init_sync(vm))
		goto fail;
	free(cpuid);
	return vm;

fail:
	free(cpuid);
	vmm_vm_destroy(vm);
	errno = saved_errno ? saved_errno : EIO;
	return NULL;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	if (vm->vcpus) {
		for (i = 0; i < vm->nr_vcpus; i++) {
			struct vmm_vcpu *vcpu = &vm->vcpus[i];

			if (vcpu->run)
				munmap(vcpu->run, vm->run_size);
			if (vcpu->fd >= 0)
				close(vcpu->fd);
		}
		free(vm->vcpus);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->mem)
		munmap(vm->mem, VMM_MEM_SIZE);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->sync_ready) {
		pthread_mutex_destroy(&vm->lock);
		pthread_cond_destroy(&vm->cond);
	}
	free(vm);
}

uint16_t vmm_vcpu_data_seg(const struct vmm_vcpu *vcpu)
{
	return (uint16_t)((VMM_VCPU_DATA_GPA + vcpu->id * VMM_VCPU_DATA_SIZE) >> 4);
}

void *vmm_vcpu_data(const struct vmm_vcpu *vcpu)
{
	return vcpu->vm->mem + VMM_VCPU_DATA_GPA + vcpu->id * VMM_VCPU_DATA_SIZE;
}

static void set_seg(struct kvm_segment *s, uint16_t sel)
{
	/* Real mode: base = selector * 16; keep the reset limit and type. */
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
}

int vmm_vcpu_setup(struct vmm_vcpu *vcpu, const struct vmm_regs16 *r)
{
	uint16_t data = vmm_vcpu_data_seg(vcpu);
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (xioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		fprintf(stderr, "vcpu %u: KVM_GET_SREGS: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	set_seg(&sregs.cs, 0);
	set_seg(&sregs.ds, data);
	set_seg(&sregs.ss, data);
	set_seg(&sregs.es, r->es);
	set_seg(&sregs.fs, 0);
	set_seg(&sregs.gs, 0);
	/* The IVT: 256 four-byte entries at linear address 0. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0x3ff;
	if (xioctl(vcpu->fd, KVM_SET_SREGS, &sregs)) {
		fprintf(stderr, "vcpu %u: KVM_SET_SREGS: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}

	memset(&regs, 0, sizeof(regs));
	regs.rip = r->ip;
	regs.rflags = 0x2;		/* bit 1 is always set; IF = 0 */
	regs.rsp = VMM_VCPU_DATA_SIZE;
	regs.rax = r->eax;
	regs.rbx = r->ebx;
	regs.rcx = r->ecx;
	regs.rdx = r->edx;
	regs.rsi = r->esi;
	regs.rdi = r->edi;
	if (xioctl(vcpu->fd, KVM_SET_REGS, &regs)) {
		fprintf(stderr, "vcpu %u: KVM_SET_REGS: %s\n", vcpu->id,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- in-kernel devices ---- */

int vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, unsigned int len,
		  bool pio)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = pio ? KVM_IOEVENTFD_FLAG_PIO : 0,
	};

	if (xioctl(vm->vm_fd, KVM_IOEVENTFD, &io)) {
		fprintf(stderr, "KVM_IOEVENTFD %s 0x%" PRIx64 " len %u: %s\n",
			pio ? "port" : "mmio", addr, len, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Replace the GSI routing table with one MSI route per entry: fixed
 * delivery, edge, physical destination apic_id[i] (8 bits, so ids up to
 * 254; 255 is the broadcast id). The default PIC/IOAPIC routes of GSI 0-23
 * go away, which is fine: nothing here raises them.
 */
int vmm_set_msi_routes(struct vmm_vm *vm, const uint32_t *gsi,
		       const uint32_t *apic_id, const uint8_t *vector,
		       unsigned int nr)
{
	struct kvm_irq_routing *rt;
	unsigned int i;
	int r;

	rt = calloc(1, sizeof(*rt) + nr * sizeof(rt->entries[0]));
	if (!rt) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	rt->nr = nr;
	for (i = 0; i < nr; i++) {
		struct kvm_irq_routing_entry *e = &rt->entries[i];

		if (apic_id[i] > 254) {
			fprintf(stderr, "MSI destination %u needs more than 8 bits\n",
				apic_id[i]);
			free(rt);
			return -1;
		}
		e->gsi = gsi[i];
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = 0xfee00000u | (apic_id[i] << 12);
		e->u.msi.address_hi = 0;
		e->u.msi.data = vector[i];
	}
	r = xioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, rt);
	if (r)
		fprintf(stderr, "KVM_SET_GSI_ROUTING: %s\n", strerror(errno));
	free(rt);
	return r;
}

int vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (xioctl(vm->vm_fd, KVM_IRQFD, &irqfd)) {
		fprintf(stderr, "KVM_IRQFD gsi %u: %s\n", gsi, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- running ---- */

static void vcpu_dump(const struct vmm_vcpu *vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		vmm_vcpu_error(vcpu, "cannot read registers: %s",
			       strerror(errno));
		return;
	}
	vmm_vcpu_error(vcpu,
		       "cs %04x:%04llx flags %llx ss:sp %04x:%04llx ds %04x es %04x cr0 %llx eax %llx ebx %llx ecx %llx edx %llx esi %llx edi %llx",
		       sregs.cs.selector, regs.rip, regs.rflags,
		       sregs.ss.selector, regs.rsp & 0xffff, sregs.ds.selector,
		       sregs.es.selector, sregs.cr0, regs.rax, regs.rbx,
		       regs.rcx, regs.rdx, regs.rsi, regs.rdi);
}

static void dump_bytes(const struct vmm_vcpu *vcpu, const char *what,
		       uint64_t gpa, unsigned int len)
{
	char line[3 * 64 + 1];
	unsigned int k;

	if (gpa >= VMM_MEM_SIZE)
		return;
	if (len > 64)
		len = 64;
	if (len > VMM_MEM_SIZE - gpa)
		len = (unsigned int)(VMM_MEM_SIZE - gpa);
	for (k = 0; k < len; k++)
		snprintf(line + 3 * k, 4, " %02x", vcpu->vm->mem[gpa + k]);
	line[3 * len] = 0;
	vmm_vcpu_error(vcpu, "%s at 0x%05" PRIx64 ":%s", what, gpa, line);
}

/* A vector stub reported: read the IP:CS:FLAGS frame the CPU pushed. */
static void report_vector(const struct vmm_vcpu *vcpu, uint8_t vec)
{
	const char *name = vec < 32 && vector_names[vec] ? vector_names[vec] :
			   "interrupt";
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint64_t sp;
	uint16_t f[3];

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs)) {
		vmm_vcpu_error(vcpu, "guest took unexpected vector %u (%s)",
			       vec, name);
		return;
	}
	sp = sregs.ss.base + (regs.rsp & 0xffff);
	if (sp + sizeof(f) > VMM_MEM_SIZE) {
		vmm_vcpu_error(vcpu, "guest took unexpected vector %u (%s), stack 0x%" PRIx64 " unreadable",
			       vec, name, sp);
		return;
	}
	memcpy(f, vcpu->vm->mem + sp, sizeof(f));
	vmm_vcpu_error(vcpu, "guest took unexpected vector %u (%s) at %04x:%04x, flags %04x",
		       vec, name, f[1], f[0], f[2]);
	dump_bytes(vcpu, "stack", sp, 32);
	dump_bytes(vcpu, "code", ((uint64_t)f[1] << 4) + f[0], 16);
}

/* 0: re-enter, 1: done, -1: failed. */
static int handle_exit(struct vmm_vcpu *vcpu)
{
	const struct vmm_exit_ops *ops = vcpu->vm->ops;
	struct kvm_run *run = vcpu->run;
	uint8_t *data;
	int r;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu->nr_exit_io++;
		data = (uint8_t *)run + run->io.data_offset;
		if (run->io.port == VMM_PORT_VECTOR &&
		    run->io.direction == KVM_EXIT_IO_OUT) {
			vcpu->vm->guest_fault = true;
			report_vector(vcpu, data[0]);
			break;
		}
		if (!ops->io) {
			vmm_vcpu_error(vcpu, "unexpected port I/O: %s port 0x%x size %u count %u",
				       run->io.direction == KVM_EXIT_IO_OUT ?
				       "out" : "in", run->io.port,
				       run->io.size, run->io.count);
			break;
		}
		r = ops->io(vcpu, run->io.port,
			    run->io.direction == KVM_EXIT_IO_OUT,
			    run->io.size, run->io.count, data);
		if (r < 0)
			break;
		return r;
	case KVM_EXIT_MMIO:
		vcpu->nr_exit_mmio++;
		if (!ops->mmio) {
			vmm_vcpu_error(vcpu, "unexpected MMIO %s gpa 0x%llx len %u",
				       run->mmio.is_write ? "write" : "read",
				       run->mmio.phys_addr, run->mmio.len);
			break;
		}
		r = ops->mmio(vcpu, run->mmio.phys_addr, run->mmio.is_write,
			      run->mmio.len, run->mmio.data);
		if (r < 0)
			break;
		return r;
	case KVM_EXIT_HLT:
		vcpu->nr_exit_hlt++;
		if (!ops->hlt) {
			vmm_vcpu_error(vcpu, "unexpected HLT exit");
			break;
		}
		r = ops->hlt(vcpu);
		if (r < 0)
			break;
		return r;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		vmm_vcpu_error(vcpu, "guest shut down (triple fault)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vmm_vcpu_error(vcpu, "VM entry failed: hardware reason 0x%llx on cpu %u",
			       run->fail_entry.hardware_entry_failure_reason,
			       run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vmm_vcpu_error(vcpu, "KVM internal error, suberror %u%s",
			       run->internal.suberror,
			       run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			       " (instruction emulation failed)" : "");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vmm_vcpu_error(vcpu, "guest system event type %u",
			       run->system_event.type);
		break;
	default:
		vmm_vcpu_error(vcpu, "unhandled exit reason %u (%s)",
			       run->exit_reason, exit_name(run->exit_reason));
		break;
	}
	vcpu_dump(vcpu);
	return -1;
}

/*
 * A kick ends KVM_RUN without being delivered: it stays pending, blocked
 * outside KVM_RUN, and would end every KVM_RUN after it.  Take it, as
 * QEMU's kvm_eat_signals() does (vm->stop says whether it meant stop).
 */
static void eat_kick(struct vmm_vcpu *vcpu)
{
	static const struct timespec now;
	sigset_t set;

	if (!vcpu->vm->kick_us)
		return;
	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	while (sigtimedwait(&set, NULL, &now) == VMM_KICK_SIGNAL)
		;
}

static enum vmm_vcpu_state vcpu_loop(struct vmm_vcpu *vcpu)
{
	struct vmm_vm *vm = vcpu->vm;
	int r;

	for (;;) {
		if (__atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE))
			return VMM_VCPU_STOPPED;
		vcpu->nr_runs++;
		if (ioctl(vcpu->fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->nr_eintr++;
				eat_kick(vcpu);
				continue;
			}
			vmm_vcpu_error(vcpu, "KVM_RUN: %s", strerror(errno));
			return VMM_VCPU_FAILED;
		}
		r = handle_exit(vcpu);
		if (r < 0)
			return VMM_VCPU_FAILED;
		if (r > 0)
			return VMM_VCPU_DONE;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *vcpu = arg;
	struct vmm_vm *vm = vcpu->vm;
	enum vmm_vcpu_state end = VMM_VCPU_STOPPED;
	bool go;

	/* The start barrier: report in, then wait for everybody. */
	pthread_mutex_lock(&vm->lock);
	vcpu->tid = vmm_gettid();
	vm->nr_ready++;
	pthread_cond_broadcast(&vm->cond);
	while (!vm->go && !vm->abort_start)
		pthread_cond_wait(&vm->cond, &vm->lock);
	go = vm->go;
	pthread_mutex_unlock(&vm->lock);

	if (go)
		end = vcpu_loop(vcpu);

	pthread_mutex_lock(&vm->lock);
	vcpu->state = end;
	vm->nr_ended++;
	if (end == VMM_VCPU_FAILED)
		vm->failed = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

void vmm_vm_fail(struct vmm_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->failed = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

/* Stop every vCPU thread that has not ended; vm->lock held. */
static void kick_all(struct vmm_vm *vm)
{
	unsigned int i;

	__atomic_store_n(&vm->stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->thread_started && vcpu->state == VMM_VCPU_RUNNING)
			pthread_kill(vcpu->thread, VMM_KICK_SIGNAL);
	}
}

/* glibc before 2.35 reaches it only through the union */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id	_sigev_un._tid
#endif

/*
 * vm->kick_us: a timer per vCPU thread sends it the kick signal, which
 * ends KVM_RUN with -EINTR (KVM_EXIT_INTR) wherever the vCPU is: in the
 * guest, or handling an exit KVM keeps for itself.
 */
static int kick_timers_start(struct vmm_vm *vm)
{
	struct itimerspec its = {
		.it_value.tv_sec = vm->kick_us / 1000000,
		.it_value.tv_nsec = vm->kick_us % 1000000 * 1000L,
	};
	unsigned int i;

	its.it_interval = its.it_value;
	for (i = 0; vm->kick_us && i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		struct sigevent sev = {
			.sigev_notify = SIGEV_THREAD_ID,
			.sigev_signo = VMM_KICK_SIGNAL,
		};

		sev.sigev_notify_thread_id = vcpu->tid;
		if (timer_create(CLOCK_MONOTONIC, &sev, &vcpu->kick_timer)) {
			perror("timer_create");
			return -1;
		}
		vcpu->kicking = true;
		if (timer_settime(vcpu->kick_timer, 0, &its, NULL)) {
			perror("timer_settime");
			return -1;
		}
	}
	return 0;
}

static void kick_timers_stop(struct vmm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].kicking) {
			timer_delete(vm->vcpus[i].kick_timer);
			vm->vcpus[i].kicking = false;
		}
}

static void deadline_after(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int vmm_vm_run(struct vmm_vm *vm, const struct vmm_exit_ops *ops,
	       unsigned int timeout_ms, unsigned int start_delay_ms)
{
	bool timed_out = false;
	struct timespec deadline;
	unsigned int i, started = 0;
	int r, ret = 0;

	vm->ops = ops;
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		vcpu->state = VMM_VCPU_RUNNING;
		r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
		if (r) {
			vcpu->state = VMM_VCPU_IDLE;
			fprintf(stderr, "pthread_create for vcpu %u: %s\n", i,
				strerror(r));
			break;
		}
		vcpu->thread_started = true;
		started++;
	}

	pthread_mutex_lock(&vm->lock);
	if (started < vm->nr_vcpus) {
		/* Release the threads that exist without running guests. */
		vm->abort_start = true;
		vm->failed = true;
		pthread_cond_broadcast(&vm->cond);
	} else {
		while (vm->nr_ready < vm->nr_vcpus)
			pthread_cond_wait(&vm->cond, &vm->lock);
		if (ops->ready) {
			pthread_mutex_unlock(&vm->lock);
			ops->ready(vm);
			pthread_mutex_lock(&vm->lock);
		}
		if (start_delay_ms) {
			pthread_mutex_unlock(&vm->lock);
			vmm_sleep_us(start_delay_ms * 1000u);
			pthread_mutex_lock(&vm->lock);
		}
		vm->start_ns = vmm_now_ns();
		if (kick_timers_start(vm))
			vm->failed = true;
		vm->go = true;
		pthread_cond_broadcast(&vm->cond);

		deadline_after(&deadline, timeout_ms);
		while (vm->nr_ended < vm->nr_vcpus && !vm->failed) {
			if (!timeout_ms) {
				pthread_cond_wait(&vm->cond, &vm->lock);
				continue;
			}
			r = pthread_cond_timedwait(&vm->cond, &vm->lock,
						   &deadline);
			if (r == ETIMEDOUT) {
				timed_out = true;
				break;
			}
		}
		if (vm->nr_ended < vm->nr_vcpus)
			kick_all(vm);
	}
	pthread_mutex_unlock(&vm->lock);
	kick_timers_stop(vm);

	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	vm->end_ns = vmm_now_ns();

	vm->stalled = timed_out;
	if (timed_out)
		fprintf(stderr, "timeout: the guest did not finish within %u ms\n",
			timeout_ms);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->state == VMM_VCPU_DONE)
			continue;
		ret = -1;
		if (vcpu->state == VMM_VCPU_STOPPED)
			vmm_vcpu_error(vcpu, "stopped before finishing (%" PRIu64 " io, %" PRIu64 " mmio, %" PRIu64 " hlt exits)",
				       vcpu->nr_exit_io, vcpu->nr_exit_mmio,
				       vcpu->nr_exit_hlt);
	}
	if (vm->failed)
		ret = -1;
	return ret;
}
