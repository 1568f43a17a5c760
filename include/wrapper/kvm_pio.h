/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/kvm_pio.h - the kvm_pio tracepoint's data argument.
 *
 *   <  6.0   TP_PROTO(unsigned int rw, unsigned int port, unsigned int size,
 *                     unsigned int count, void *data)
 *   >= 6.0   ... const void *data
 *            (30d583fd4e1e "KVM: x86: move all vcpu->arch.pio* setup in
 *            emulator_pio_in_out()")
 *
 * Nothing in the headers changed with it (arch/x86/kvm/trace.h is not in
 * them), so this one is a version check, made in module/Kbuild
 * (KVL_KVM_PIO_CONST_DATA).  The difference is the qualifier only: same
 * calling convention, but the probe's type must still match the
 * tracepoint's exactly (kCFI hashes it).  The lab verifies it against each
 * booted kernel's BTF (scripts/matrix/protos.sh).
 */
#ifndef KVMIO_LAT_WRAPPER_KVM_PIO_H
#define KVMIO_LAT_WRAPPER_KVM_PIO_H

#ifdef KVL_KVM_PIO_CONST_DATA
#define kvl_pio_data_t		const void
#else
#define kvl_pio_data_t		void
#endif

#endif /* KVMIO_LAT_WRAPPER_KVM_PIO_H */
