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
