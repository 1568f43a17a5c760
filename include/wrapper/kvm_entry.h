/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_entry.h - the kvm_entry tracepoint's prototype.
 *
 *   <= 5.9   TP_PROTO(unsigned int vcpu_id)              (not supported)
 *   5.10     TP_PROTO(struct kvm_vcpu *vcpu)
 *   6.9      TP_PROTO(struct kvm_vcpu *vcpu, bool force_immediate_exit)
 *            ("KVM: x86: Plumb "force_immediate_exit" into kvm_entry()
 *            tracepoint"), backported to 6.1.y and 6.6.y stable.
 *
 * The version number lies after the backport, so this is a feature test:
 * the same series gave kvm_x86_ops.vcpu_run() its second parameter (a bool,
 * later a u64 run_flags bitmap, which 6.1.y has too).  If vcpu_run() (run()
 * before 5.18, see wrapper/kvm_x86_ops.h) still takes only the vCPU,
 * kvm_entry takes only the vCPU.
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_ENTRY_H
#define KVMIO_LAT_WRAPPER_KVM_ENTRY_H

#include "wrapper/kvm_x86_ops.h"

#define KVL_KVM_ENTRY_ONE_ARG						\
	__builtin_types_compatible_p(KVL_OPS_VCPU_RUN_TYPE,		\
		enum exit_fastpath_completion (*)(struct kvm_vcpu *))

#endif /* KVMIO_LAT_WRAPPER_KVM_ENTRY_H */
