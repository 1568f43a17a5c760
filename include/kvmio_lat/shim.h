/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shim.h - the only place the engine learns whether it runs in the kernel.
 *
 * The engine (histograms, request tracking, text output) is plain C that
 * runs in three places: kvmio_lat.ko, the kvmio-lat reader's offline replay
 * and the host unit tests.  Everything it needs from its surroundings is
 * here: fixed-width types, once/acquire/release accessors, a compare-and-
 * swap, a lock, per-CPU variables and a printf-like sink.  Userspace builds
 * are single-threaded with respect to one engine, so the lock is a no-op
 * there.
 */
#ifndef KVMIO_LAT_SHIM_H
#define KVMIO_LAT_SHIM_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/bitops.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/math64.h>
#include <linux/percpu.h>
#include <asm/barrier.h>
#include <asm/processor.h>

#define kvl_lock_t		raw_spinlock_t
#define kvl_lock_init(l)	raw_spin_lock_init(l)
#define kvl_lock(l, flags)	raw_spin_lock_irqsave(l, flags)
#define kvl_unlock(l, flags)	raw_spin_unlock_irqrestore(l, flags)
#define kvl_cmpxchg(p, o, n)	cmpxchg(p, o, n)
#define kvl_div64(a, b)		div64_u64(a, b)

/* Make @v visible to lock-free readers after everything written before. */
#define kvl_publish(p, v)	smp_store_release(p, v)
/* Read what kvl_publish() stored, and everything written before it. */
#define kvl_acquire(p)		smp_load_acquire(p)
#define kvl_cpu_relax()		cpu_relax()

/* The module has one engine (a memo need not say whose it is). */
#define KVL_ONE_ENGINE			1
/* One per CPU, used with preemption off (every kvl_ev_*() call). */
#define KVL_DEFINE_PER_CPU(type, name)	DEFINE_PER_CPU(type, name)
#define KVL_DECLARE_PER_CPU(type, name)	DECLARE_PER_CPU(type, name)
#define kvl_this_cpu_ptr(p)		this_cpu_ptr(p)

#else
#include "shim_user.h"
#endif /* __KERNEL__ */

/*
 * Text output goes through a sink so the same formatter writes to a
 * seq_file in the kernel and to a FILE or buffer in userspace.
 */
struct kvl_sink {
	__printf(2, 3) void (*printf)(void *ctx, const char *fmt, ...);
	void *ctx;
};

#endif /* KVMIO_LAT_SHIM_H */
