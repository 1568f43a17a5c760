/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shim_user.h - the userspace half of shim.h: what the engine needs from the
 * kernel, provided with libc and compiler builtins.  Userspace runs one
 * engine from one thread, so the lock is a no-op.  (Userspace code: not
 * subject to the kernel's checkpatch.)
 */
#ifndef KVMIO_LAT_SHIM_USER_H
#define KVMIO_LAT_SHIM_USER_H


#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#ifndef READ_ONCE
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))
#endif
#define kvl_acquire(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define kvl_publish(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define kvl_cpu_relax()		__asm__ __volatile__("" ::: "memory")
/* the kernel's: a field that starts a cache line (written by other CPUs) */
#define KVL_CACHELINE		64
#ifndef ____cacheline_aligned_in_smp
#define ____cacheline_aligned_in_smp	__attribute__((aligned(KVL_CACHELINE)))
#endif

/*
 * Memory for a VM or vCPU (they start cache lines, and UBSan checks that
 * they are aligned so): uninitialised, free() it.
 */
static inline void *kvl_aligned_alloc(size_t size)
{
	return aligned_alloc(KVL_CACHELINE,
			     (size + KVL_CACHELINE - 1) / KVL_CACHELINE * KVL_CACHELINE);
}
#ifndef __printf
#define __printf(a, b)		__attribute__((format(printf, a, b)))
#endif
#ifndef likely
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif
#ifndef U64_MAX
#define U64_MAX			UINT64_MAX
#endif

static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

#define kvl_cmpxchg(p, o, n) ({						\
	__typeof__(*(p)) __kvl_old = (o);				\
	__atomic_compare_exchange_n(p, &__kvl_old, n, 0,		\
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	__kvl_old;							\
})

/* several engines, one after another (replay, tests) */
#define KVL_ONE_ENGINE			0
/* the kernel's per-CPU variables: one per thread (one engine per thread) */
#define KVL_DEFINE_PER_CPU(type, name)	__thread type name
#define KVL_DECLARE_PER_CPU(type, name)	extern __thread type name
#define kvl_this_cpu_ptr(p)		(p)

typedef int kvl_lock_t;
#define kvl_lock_init(l)	(*(l) = 0)
#define kvl_lock(l, flags)	((void)(l), (flags) = 0)
#define kvl_unlock(l, flags)	((void)(l), (void)(flags))
#define kvl_div64(a, b)		((a) / (b))


#endif /* KVMIO_LAT_SHIM_USER_H */
