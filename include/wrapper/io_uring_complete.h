/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/io_uring_complete.h - the tracepoint of an io_uring request's
 * completion being posted to its ring's completion queue.
 *
 *   5.10 .. 5.19  io_uring_complete(void *ctx, u64 user_data, int res,
 *                     unsigned cflags)
 *   6.0 ..        io_uring_complete(void *ctx, void *req, u64 user_data,
 *                     int res, unsigned cflags, u64 extra1, u64 extra2)
 *   later         io_uring_complete(struct io_ring_ctx *ctx, void *req,
 *                     struct io_uring_cqe *cqe)
 *
 * A feature test on the declaration (the headers carry
 * include/trace/events/io_uring.h), so probes.c has the compiler check the
 * chosen probe.  On older kernels it may fire in interrupt context (a
 * block device's completion), where the current task is not the ring's.
 */
#ifndef KVMIO_LAT_WRAPPER_IO_URING_COMPLETE_H
#define KVMIO_LAT_WRAPPER_IO_URING_COMPLETE_H

#include <uapi/linux/io_uring.h>
#include <trace/events/io_uring.h>

struct io_ring_ctx;

#define KVL_URING_COMPLETE_IS(...)					\
	__builtin_types_compatible_p(					\
		typeof(register_trace_io_uring_complete),		\
		int (void (*)(void *, __VA_ARGS__), void *))

#define KVL_URING_COMPLETE_CQE						\
	KVL_URING_COMPLETE_IS(struct io_ring_ctx *, void *,		\
			      struct io_uring_cqe *)
#define KVL_URING_COMPLETE_REQ						\
	KVL_URING_COMPLETE_IS(void *, void *, u64, int, unsigned int,	\
			      u64, u64)

#endif /* KVMIO_LAT_WRAPPER_IO_URING_COMPLETE_H */
