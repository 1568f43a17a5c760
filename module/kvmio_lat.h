/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmio_lat.h - what the module's thin layers (main, probes, debugfs) share.
 */
#ifndef KVMIO_LAT_MODULE_H
#define KVMIO_LAT_MODULE_H

#include <linux/types.h>
#include "kvmio_lat/engine.h"

#define KVL_NAME	"kvmio_lat"

extern struct kvl_engine kvl_engine;
extern bool kvl_enabled;
extern bool syscall_probes_always;
extern bool virtqueues;

/* main.c */
u64 kvl_memory_bytes(void);

/* probes.c */
int kvl_probes_init(void);
void kvl_probes_exit(void);
bool kvl_kvm_attached(void);
bool kvl_sys_attached(void);
/* the engine's VM count changed: attach or detach the system calls' probes */
void kvl_sys_check(void);
u64 kvl_clock_now(void);
struct pt_regs;
struct kvm_ioeventfd;
bool kvl_sys_enter(const struct pt_regs *regs, long id, bool tracked);
void kvl_sys_exit(const struct pt_regs *regs, long ret, bool tracked);
bool kvl_sys_exit_wanted(void);
void kvl_ioeventfd(const struct kvm_ioeventfd *a, bool user);

/* syshooks.c: kretprobes on the system calls, under probes.c's attach lock */
bool kvl_syshooks_possible(void);
int kvl_syshooks_attach(unsigned int max_vms);
void kvl_syshooks_detach(void);
unsigned long kvl_syshooks_missed(void);
unsigned int kvl_syshooks_filtered(void);
int kvl_syshooks_kvm_coming(void);
void kvl_syshooks_kvm_going(void);

/* trace.c: hook the engine to an event enabled before kvl_init() */
void kvl_trace_init(void);

/* debugfs.c */
void kvl_debugfs_init(void);
void kvl_debugfs_exit(void);

#endif /* KVMIO_LAT_MODULE_H */
