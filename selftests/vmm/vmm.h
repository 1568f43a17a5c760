// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny KVM VMM library for the kvmio_lat selftests.
 *
 * One VM, N vCPUs running hand-assembled 16-bit real-mode code, one pthread
 * per vCPU released together by a start barrier (the shape of the kernel's
 * tools/testing/selftests/kvm/lib/memstress.c), and a KVM_RUN loop that
 * hands port I/O, MMIO and HLT exits to the caller.
 *
 * Guest physical memory (one memslot, GPA 0 .. VMM_MEM_SIZE):
 *
 *   0x00000 - 0x003ff  real-mode IVT (every vector points at a reporting stub)
 *   0x01000 - 0x07fff  guest code (CS = 0, so an offset is also a GPA)
 *   0x08000 - 0x085ff  one stub per vector + the common "unexpected" path
 *   0x10000 + i*0x400  vCPU i's data (DS) and stack (SS, SP = 0x400)
 *   0xd0000 -          no memory: MMIO doorbells / MMIO exits land here
 */
#ifndef KVMIO_VMM_H
#define KVMIO_VMM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define VMM_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define VMM_MEM_SIZE		0xa0000u	/* 640 KiB of RAM at GPA 0 */
#define VMM_CODE_GPA		0x1000u
#define VMM_CODE_END		0x8000u
#define VMM_STUB_GPA		0x8000u
#define VMM_VCPU_DATA_GPA	0x10000u
#define VMM_VCPU_DATA_SIZE	0x400u
#define VMM_MMIO_GPA		0xd0000u	/* outside the memslot */
#define VMM_MMIO_SEG		(VMM_MMIO_GPA >> 4)

/* Up to 256 vCPUs fit the data area below VMM_MEM_SIZE. */
#define VMM_MAX_VCPUS		256

/*
 * Port the vector stubs write the vector number to: the library turns it
 * into a "guest took unexpected vector N at CS:IP" failure.
 */
#define VMM_PORT_VECTOR		0x00f5

/* Exit codes shared by the programs (kselftest: 4 means skip). */
#define VMM_EXIT_PASS		0
#define VMM_EXIT_FAIL		1
#define VMM_EXIT_USAGE		2
/*
 * The test guest itself faulted (a vector stub reported): its code or
 * registers were not what the VMM set up.  Nothing a tracepoint probe does
 * can cause that; under the lab's emulated nested SVM it happens, rarely,
 * right after kvm_amd is reloaded, so callers may run the program again.
 */
#define VMM_EXIT_GUEST_FAULT	3
#define VMM_EXIT_SKIP		4
/*
 * A vCPU missed the --timeout deadline while its thread still answered the
 * kick: it sat in KVM_RUN without coming back (a deadlock in a probe would
 * not answer), which the lab's nested SVM under TCG does now and then with
 * or without kvmio_lat loaded, so callers may run the program again.
 */
#define VMM_EXIT_STALLED	5

struct vmm_vm;
struct vmm_vcpu;

/*
 * Exit handlers, called on the vCPU's own thread. Return 0 to re-enter the
 * guest, 1 when this vCPU has finished its program, -1 on failure (after
 * printing why with vmm_vcpu_error()). A NULL handler makes that exit a
 * failure.
 */
struct vmm_exit_ops {
	int (*io)(struct vmm_vcpu *vcpu, uint16_t port, bool out,
		  unsigned int size, unsigned int count, void *data);
	int (*mmio)(struct vmm_vcpu *vcpu, uint64_t gpa, bool write,
		    unsigned int len, uint8_t *data);
	int (*hlt)(struct vmm_vcpu *vcpu);
	/*
	 * Optional, on the thread calling vmm_vm_run(): every vCPU thread
	 * exists and knows its tid, none has entered the guest yet.
	 */
	void (*ready)(struct vmm_vm *vm);
};

enum vmm_vcpu_state {
	VMM_VCPU_IDLE,		/* created, thread not started */
	VMM_VCPU_RUNNING,
	VMM_VCPU_DONE,		/* a handler returned 1 */
	VMM_VCPU_FAILED,
	VMM_VCPU_STOPPED,	/* kicked out because the run was stopped */
};

/* The signal that kicks a vCPU thread out of KVM_RUN (-EINTR). */
#define VMM_KICK_SIGNAL		SIGUSR1

struct vmm_vcpu {
	struct vmm_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	pid_t tid;			/* set by the thread before the barrier */
	enum vmm_vcpu_state state;	/* written by the thread, under vm->lock */

	/* Exit counters, only touched by the vCPU thread. */
	uint64_t nr_runs;
	uint64_t nr_exit_io;
	uint64_t nr_exit_mmio;
	uint64_t nr_exit_hlt;
	uint64_t nr_eintr;

	bool kicking;			/* kick_timer exists (vm->kick_us) */
	timer_t kick_timer;

	void *priv;			/* the program's per-vCPU state */
};

struct vmm_vm_config {
	unsigned int nr_vcpus;
	bool irqchip;		/* KVM_CREATE_IRQCHIP (in-kernel PIC, IOAPIC, LAPICs) */
	bool x2apic;		/* advertise x2APIC in CPUID (needs irqchip) */
};

struct vmm_vm {
	int kvm_fd;
	int vm_fd;
	uint8_t *mem;
	size_t run_size;
	unsigned int nr_vcpus;
	unsigned int max_vcpus;
	bool irqchip;
	struct vmm_vcpu *vcpus;
	const struct vmm_exit_ops *ops;

	/*
	 * The start barrier and the end count, under one lock: every vCPU
	 * thread reports in (nr_ready) and waits for go, so all start
	 * together; unlike a pthread_barrier it can be called off
	 * (abort_start) when a later thread could not be created.
	 */
	bool sync_ready;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* any change below */
	unsigned int nr_ready;
	bool go;
	bool abort_start;
	unsigned int nr_ended;
	bool failed;
	bool guest_fault;		/* a vector stub reported */
	bool stalled;			/* vmm_vm_run() timed out */
	bool stop;			/* read by vCPU threads after EINTR */
	uint64_t start_ns;		/* when the barrier released the vCPUs */
	uint64_t end_ns;
	/*
	 * Set before vmm_vm_run(): a timer signals each vCPU thread every
	 * kick_us microseconds while it runs, as QEMU kicks its vCPUs.
	 */
	unsigned int kick_us;

	void *priv;
};

/* Open /dev/kvm, create the VM, its memory and vCPUs. NULL on error. */
struct vmm_vm *vmm_vm_create(const struct vmm_vm_config *cfg);
/* Safe on a partly created VM and on NULL. Joins no threads: see vmm_vm_run(). */
void vmm_vm_destroy(struct vmm_vm *vm);

/*
 * Point vCPU i at real-mode code: CS = 0, IP = ip, DS = SS = the vCPU's data
 * segment, SP = its top, ES = es, IF = 0, the given 32-bit registers.
 */
struct vmm_regs16 {
	uint16_t ip;
	uint16_t es;
	uint32_t eax, ebx, ecx, edx, esi, edi;
};

int vmm_vcpu_setup(struct vmm_vcpu *vcpu, const struct vmm_regs16 *r);

uint16_t vmm_vcpu_data_seg(const struct vmm_vcpu *vcpu);
void *vmm_vcpu_data(const struct vmm_vcpu *vcpu);

/* Make real-mode vector @vec jump to CS = 0, IP = @ip. */
void vmm_set_ivt(struct vmm_vm *vm, uint8_t vec, uint16_t ip);

/*
 * Start one thread per vCPU, release them together, wait until all ended,
 * a handler failed, vmm_vm_fail() was called, or timeout_ms passed (0: no
 * limit). Stragglers are kicked out of KVM_RUN with a signal. All threads
 * are joined on return. Returns 0 iff every vCPU ended in VMM_VCPU_DONE.
 */
int vmm_vm_run(struct vmm_vm *vm, const struct vmm_exit_ops *ops,
	       unsigned int timeout_ms, unsigned int start_delay_ms);

/* Called from a helper thread (e.g. an event loop) that cannot go on. */
void vmm_vm_fail(struct vmm_vm *vm);

/* In-kernel devices (need cfg.irqchip). */
int vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, unsigned int len,
		  bool pio);
int vmm_set_msi_routes(struct vmm_vm *vm, const uint32_t *gsi,
		       const uint32_t *apic_id, const uint8_t *vector,
		       unsigned int nr);
int vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi);

void vmm_vcpu_error(const struct vmm_vcpu *vcpu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Small helpers. */
uint64_t vmm_now_ns(void);
pid_t vmm_gettid(void);
void vmm_sleep_us(unsigned int us);

/*
 * A byte emitter for hand-assembled 16-bit code. CS is 0 everywhere, so
 * the position is both the GPA and the IP. Errors (overflow, a short jump
 * out of range) are sticky and reported by vmm_asm_end().
 */
struct vmm_asm {
	uint8_t *mem;
	uint32_t pos;
	uint32_t end;
	bool error;
};

/* Little-endian byte lists for VMM_ASM(); they expand to several values. */
#define LE16(x)	((x) & 0xff), (((x) >> 8) & 0xff)
#define LE32(x)	LE16((x) & 0xffff), LE16(((x) >> 16) & 0xffff)

void vmm_asm_init(struct vmm_asm *a, struct vmm_vm *vm, uint32_t start,
		  uint32_t end);
void vmm_asm_bytes(struct vmm_asm *a, const uint8_t *b, size_t n);
#define VMM_ASM(a, ...)							\
	vmm_asm_bytes((a), (const uint8_t[]){ __VA_ARGS__ },		\
		      sizeof((const uint8_t[]){ __VA_ARGS__ }))

static inline uint16_t vmm_asm_here(const struct vmm_asm *a)
{
	return (uint16_t)a->pos;
}
/* A two-byte short jump (opcode, rel8) to an already emitted target. */
void vmm_asm_jmp8_back(struct vmm_asm *a, uint8_t opcode, uint16_t target);
/* A short jump forward: returns a fixup to resolve with vmm_asm_fix8(). */
uint32_t vmm_asm_jmp8_fwd(struct vmm_asm *a, uint8_t opcode);
void vmm_asm_fix8(struct vmm_asm *a, uint32_t fixup);
int vmm_asm_end(struct vmm_asm *a, const char *what);

#endif /* KVMIO_VMM_H */
