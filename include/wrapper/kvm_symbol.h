/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_symbol.h - a symbol of kvm.ko, from its own symbol table.
 *
 * What kvmio_lat uses of KVM beyond its tracepoints is not reliably
 * exported: kvm_x86_ops stopped being exported in 5.18 (dfc4e6ca0411
 * "KVM: x86: Unexport kvm_x86_ops"), and 7.x exports KVM internals only to
 * kvm-amd/kvm-intel (EXPORT_SYMBOL_FOR_KVM_INTERNAL), so symbol_get()
 * cannot find them - and would pin kvm.ko, which the module lets come and
 * go (probes.c).  kvm.ko's symbol table (struct module.kallsyms, which the
 * tracepoint module notifier hands us) names them all: no kprobe, no
 * kallsyms_lookup_name().  The caller drops what it found when kvm goes,
 * after its probes are off.
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_SYMBOL_H
#define KVMIO_LAT_WRAPPER_KVM_SYMBOL_H

#include <linux/module.h>
#include <linux/elf.h>
#include <linux/string.h>

/*
 * @kvm: kvm.ko, live or coming.  The address of its symbol @name of ELF
 * type @type (STT_OBJECT, STT_FUNC) and, unless 0, size @size; 0 if none.
 */
static inline unsigned long kvl_kvm_symbol(struct module *kvm,
					   const char *name,
					   unsigned int type,
					   unsigned long size)
{
	unsigned long addr = 0;
#ifdef CONFIG_KALLSYMS
	struct mod_kallsyms *ks;
	unsigned int i;

	/* mod->kallsyms switches to the core copy once kvm's init is done */
	preempt_disable();
	ks = rcu_dereference_sched(kvm->kallsyms);
	for (i = 0; ks && i < ks->num_symtab; i++) {
		const struct elf64_sym *sym = &ks->symtab[i];	/* x86-64 only */

		if (sym->st_shndx == SHN_UNDEF ||
		    strcmp(ks->strtab + sym->st_name, name))
			continue;
		if (ELF_ST_TYPE(sym->st_info) == type &&
		    (!size || sym->st_size == size))
			addr = sym->st_value;
		break;
	}
	preempt_enable();
#endif
	return addr;
}

#endif /* KVMIO_LAT_WRAPPER_KVM_SYMBOL_H */
