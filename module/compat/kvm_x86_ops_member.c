// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_x86_ops_member.c - a Kbuild compile probe, not part of the module.
 *
 * module/Kbuild compiles this with -DKVL_MEMBER=name and the flags kbuild
 * gives module objects: it compiles if this kernel's struct kvm_x86_ops has
 * that member.  See include/wrapper/kvm_x86_ops.h.
 */
#include <linux/kvm_host.h>

int kvl_compile_probe(struct kvm_x86_ops *ops);

int kvl_compile_probe(struct kvm_x86_ops *ops)
{
	return !!ops->KVL_MEMBER;
}
