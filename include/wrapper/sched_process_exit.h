/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/sched_process_exit.h - the sched_process_exit tracepoint.
 *
 *   TP_PROTO(struct task_struct *p) for every kernel we support up to 6.15;
 *   6.16 added "bool group_dead".  When the argument is missing we derive it
 *   the same way do_exit() did just before the tracepoint: the thread group
 *   is dead once signal->live has dropped to zero.
 */
#ifndef KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H
#define KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H

#include <linux/sched.h>
#include <linux/sched/signal.h>

static inline bool kvl_group_dead(struct task_struct *p)
{
	return atomic_read(&p->signal->live) == 0;
}

#endif /* KVMIO_LAT_WRAPPER_SCHED_PROCESS_EXIT_H */
