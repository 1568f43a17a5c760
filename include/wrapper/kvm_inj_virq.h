/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_inj_virq.h - the kvm_inj_virq tracepoint's prototype.
 *
 *   older    TP_PROTO(unsigned int irq)
 *   newer    TP_PROTO(unsigned int vector, bool soft, bool reinjected)
 *            (6.x, also in 6.1.y stable)
 *
 * Only the first argument is used (see kvl_probe_inj_virq()).  The probe is declared with the newer
 * prototype; on x86-64 the extra arguments are registers a one-argument
 * caller leaves undefined and the probe never reads them.  (Kernels built
 * with clang kCFI would trap on the mismatch; Debian's gcc-built kernels
 * have no kCFI.  See Documentation/compat.rst.)
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H
#define KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H

#endif /* KVMIO_LAT_WRAPPER_KVM_INJ_VIRQ_H */
