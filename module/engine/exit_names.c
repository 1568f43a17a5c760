// SPDX-License-Identifier: GPL-2.0
/*
 * exit_names.c - exit reasons named as KVM's kvm_exit trace event names them,
 * from the SVM_EXIT_REASONS and VMX_EXIT_REASONS tables of the uapi headers
 * of the kernel (or libc headers) we are built against.
 */
#include "kvmio_lat/engine.h"

#ifdef __KERNEL__
#include <uapi/asm/kvm.h>	/* the *_VECTOR names the SVM table uses */
#include <uapi/asm/svm.h>
#include <uapi/asm/vmx.h>
#else
#include <asm/kvm.h>
#include <asm/svm.h>
#include <asm/vmx.h>
#endif

/*
 * 64-bit: 7.x's uapi defines SVM_EXIT_ERR as -1ull (older ones as -1), which
 * a u32 initializer rejects (-Werror=overflow); kvm_exit reports the low 32
 * bits.
 */
struct kvl_reason_name {
	u64 code;
	const char *name;
};

static const struct kvl_reason_name kvl_svm_reasons[] = { SVM_EXIT_REASONS };
static const struct kvl_reason_name kvl_vmx_reasons[] = { VMX_EXIT_REASONS };

const char *kvl_exit_reason_name(u32 isa, u32 reason)
{
	const struct kvl_reason_name *t;
	size_t i, n;

	if (isa == KVL_ISA_SVM) {
		t = kvl_svm_reasons;
		n = ARRAY_SIZE(kvl_svm_reasons);
	} else if (isa == KVL_ISA_VMX) {
		t = kvl_vmx_reasons;
		n = ARRAY_SIZE(kvl_vmx_reasons);
		reason &= 0xffff;	/* basic exit reason */
	} else {
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((u32)t[i].code == reason)
			return t[i].name;
	return NULL;
}

/*
 * The exits a guest's I/O latency is made of: halting while it waits,
 * its MMIO (nested page faults: a notify write, an emulated register),
 * port I/O, MSRs (the x2APIC's EOI and ICR, the TSC deadline timer), the
 * interrupt window an injected interrupt may wait for, and the host's
 * own interrupts.  They get a slot before any rarer reason can take it.
 */
static const u32 kvl_svm_reserved[] = {
	SVM_EXIT_HLT, SVM_EXIT_NPF, SVM_EXIT_IOIO, SVM_EXIT_MSR,
	SVM_EXIT_VINTR, SVM_EXIT_INTR,
};

static const u32 kvl_vmx_reserved[] = {
	EXIT_REASON_HLT, EXIT_REASON_EPT_VIOLATION, EXIT_REASON_EPT_MISCONFIG,
	EXIT_REASON_IO_INSTRUCTION, EXIT_REASON_MSR_READ,
	EXIT_REASON_MSR_WRITE, EXIT_REASON_INTERRUPT_WINDOW,
	EXIT_REASON_EXTERNAL_INTERRUPT,
};

const u32 *kvl_exit_reserved(u32 isa, unsigned int *n)
{
	if (isa == KVL_ISA_SVM) {
		*n = ARRAY_SIZE(kvl_svm_reserved);
		return kvl_svm_reserved;
	}
	if (isa == KVL_ISA_VMX) {
		*n = ARRAY_SIZE(kvl_vmx_reserved);
		return kvl_vmx_reserved;
	}
	*n = 0;
	return NULL;
}
