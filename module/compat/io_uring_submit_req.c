// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring_submit_req.c - a Kbuild compile probe, not part of the module.
 *
 * It compiles if this kernel's <trace/events/io_uring.h> declares the
 * io_uring_submit_req tracepoint (6.4 renamed io_uring_submit_sqe) and
 * passes it the request, whose struct <linux/io_uring_types.h> defines
 * (6.0 and later).  See include/wrapper/io_uring_submit.h.
 */
#include <linux/io_uring_types.h>
#include <trace/events/io_uring.h>

int kvl_compile_probe(struct io_kiocb *req);

int kvl_compile_probe(struct io_kiocb *req)
{
	return sizeof(typeof(register_trace_io_uring_submit_req) *) + req->opcode;
}
