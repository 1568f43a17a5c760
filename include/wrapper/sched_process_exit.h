/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/sched_process_exit.h - the sched_process_exit tracepoint.
 *
 *   <= 6.15  TP_PROTO(struct task_struct *p)
 *   >= 6.16  TP_PROTO(struct task_struct *p, bool group_dead), fired
 *            earlier in do_exit() ("exit: move and extend
 *            sched_process_exit() tracepoint")
 *
 * The tracepoint is declared in include/trace/events/sched.h, which the
 * headers packages carry, so this is a feature test on the declaration
 * itself, and probes.c has the compiler check the probe against it.
 * Without the argument we derive it the way do_exit() did just before the
 * tracepoint: the thread group is dead once signal->live has dropped to 0.
 */
#ifndef KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H
#define KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H

#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <trace/events/sched.h>

#define KVL_SCHED_PROCESS_EXIT_GROUP_DEAD				\
	__builtin_types_compatible_p(					\
		typeof(register_trace_sched_process_exit),		\
		int (void (*)(void *, struct task_struct *, bool), void *))

static inline bool kvl_group_dead(struct task_struct *p)
{
	return atomic_read(&p->signal->live) == 0;
}

#endif /* KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H */
