/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_x86_ops.h - what kvmio_lat reads of KVM's vendor ops table.
 *
 * Member names: 5.18 renamed kvm_x86_ops.run to .vcpu_run and .set_irq to
 * .inject_irq (e27bc0440ebd "KVM: x86: Rename kvm_x86_ops pointers to align
 * w/ preferred vendor names").  Which name this kernel's headers use is a
 * Kbuild compile probe (module/Kbuild, module/compat/), not a version check:
 * distribution kernels carry KVM backports.
 *
 * The table itself: from 5.16 the kvm_exit tracepoint no longer passes the
 * exit reason, its trace event asks kvm_x86_ops.get_exit_info() for it
 * (wrapper/kvm_exit.h).  kvm_x86_ops stopped being exported in 5.18
 * (dfc4e6ca0411 "KVM: x86: Unexport kvm_x86_ops"): it is found in kvm.ko's
 * own symbol table (wrapper/kvm_symbol.h), and used only if it is a data
 * object exactly sizeof(struct kvm_x86_ops) of the headers we were built
 * with; otherwise exit reasons are reported as "other".
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_X86_OPS_H
#define KVMIO_LAT_WRAPPER_KVM_X86_OPS_H

#include <linux/kvm_host.h>
#include "wrapper/kvm_symbol.h"

#ifdef KVL_HAVE_KVM_X86_OPS_VCPU_RUN
#define KVL_OPS_VCPU_RUN_TYPE	typeof(((struct kvm_x86_ops *)NULL)->vcpu_run)
#else
#define KVL_OPS_VCPU_RUN_TYPE	typeof(((struct kvm_x86_ops *)NULL)->run)
#endif

#ifdef KVL_HAVE_KVM_X86_OPS_INJECT_IRQ
#define KVL_OPS_INJECT_IRQ_TYPE	typeof(((struct kvm_x86_ops *)NULL)->inject_irq)
#else
#define KVL_OPS_INJECT_IRQ_TYPE	typeof(((struct kvm_x86_ops *)NULL)->set_irq)
#endif

/* @kvm: kvm.ko, live or coming.  NULL if its kvm_x86_ops cannot be used. */
static inline struct kvm_x86_ops *kvl_find_kvm_x86_ops(struct module *kvm)
{
	return (struct kvm_x86_ops *)kvl_kvm_symbol(kvm, "kvm_x86_ops",
						    STT_OBJECT,
						    sizeof(struct kvm_x86_ops));
}

#endif /* KVMIO_LAT_WRAPPER_KVM_X86_OPS_H */
