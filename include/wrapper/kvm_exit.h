/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_exit.h - the kvm_exit tracepoint's prototype and exit reason.
 *
 *   <= 5.15  TP_PROTO(unsigned int exit_reason, struct kvm_vcpu *vcpu, u32 isa)
 *   >= 5.16  TP_PROTO(struct kvm_vcpu *vcpu, u32 isa); the event's own
 *            TP_fast_assign gets the reason from kvm_x86_ops.get_exit_info(),
 *            which gained a "u32 *reason" first output in the same change
 *            ("KVM: x86: Get exit_reason as part of kvm_x86_ops.get_exit_info").
 *
 * Feature test, not a version check: if get_exit_info() takes the reason
 * pointer, kvm_exit has the two-argument prototype.  (get_exit_info() has
 * had that name since before 5.10.)
 *
 * kvm_x86_ops lives in kvm.ko and is not exported (wrapper/kvm_x86_ops.h):
 * kvl_x86_ops is set when kvm comes and cleared when it goes.  While a
 * kvm_exit probe runs a vCPU exists, so neither kvm nor the vendor module
 * can be unloading.
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_EXIT_H
#define KVMIO_LAT_WRAPPER_KVM_EXIT_H

#include "wrapper/kvm_x86_ops.h"

typedef void (*kvl_get_exit_info_t)(struct kvm_vcpu *vcpu, u32 *reason,
				    u64 *info1, u64 *info2, u32 *intr_info,
				    u32 *error_code);

#define KVL_KVM_EXIT_TWO_ARGS						\
	__builtin_types_compatible_p(					\
		typeof(((struct kvm_x86_ops *)NULL)->get_exit_info),	\
		kvl_get_exit_info_t)

/* Reason not known (kvm_x86_ops not found): reported as "other". */
#define KVL_REASON_UNKNOWN	0xffffffffu

extern struct kvm_x86_ops *kvl_x86_ops;

/*
 * get_exit_info()'s outputs, per CPU rather than on the stack: outputs on
 * the stack cost every exit a stack canary and their zeroing
 * (CONFIG_INIT_STACK_ALL_ZERO).
 */
struct kvl_exit_info {
	u64 info1, info2;
	u32 reason, intr_info, error_code;
};

DECLARE_PER_CPU(struct kvl_exit_info, kvl_exit_info);

/*
 * Only called when KVL_KVM_EXIT_TWO_ARGS: the cast is then a no-op.
 * get_exit_info() is the vendor's (SVM or VMX), so @isa is not needed.
 * With preemption off, in task context (the per-CPU outputs).
 */
static inline u32 kvl_kvm_exit_reason(struct kvm_vcpu *vcpu, u32 isa)
{
	struct kvm_x86_ops *ops = READ_ONCE(kvl_x86_ops);
	struct kvl_exit_info *e = this_cpu_ptr(&kvl_exit_info);
	kvl_get_exit_info_t get;

	if (!ops)
		return KVL_REASON_UNKNOWN;
	get = (kvl_get_exit_info_t)READ_ONCE(ops->get_exit_info);
	if (!get)
		return KVL_REASON_UNKNOWN;
	get(vcpu, &e->reason, &e->info1, &e->info2, &e->intr_info,
	    &e->error_code);
	return e->reason;
}

#endif /* KVMIO_LAT_WRAPPER_KVM_EXIT_H */
