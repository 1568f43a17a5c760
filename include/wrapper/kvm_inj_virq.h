/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_inj_virq.h - the kvm_inj_virq tracepoint's prototype.
 *
 *   <= 5.18  TP_PROTO(unsigned int irq)
 *   >= 5.19  TP_PROTO(unsigned int vector, bool soft, bool reinjected)
 *            (2d61391270a3 "KVM: x86: Differentiate Soft vs. Hard IRQs vs.
 *            reinjected in tracepoint")
 *
 * Feature test: the same series gave kvm_x86_ops.inject_irq() (set_irq()
 * before 5.18, see wrapper/kvm_x86_ops.h) its "bool reinjected" parameter.
 * Only the vector is used.
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H
#define KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H

#include "wrapper/kvm_x86_ops.h"

#define KVL_KVM_INJ_VIRQ_THREE_ARGS					\
	__builtin_types_compatible_p(KVL_OPS_INJECT_IRQ_TYPE,		\
				     void (*)(struct kvm_vcpu *, bool))

#endif /* KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H */
