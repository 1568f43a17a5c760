// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring_types.c - a Kbuild compile probe, not part of the module.
 *
 * It compiles if this kernel's headers define struct io_kiocb, with the
 * request's SQE file descriptor in cqe.fd (6.0 and later: before, the
 * request is private to fs/io_uring.c and its tracepoints pass it as
 * void *).  See include/wrapper/io_uring_submit.h.
 */
#include <linux/io_uring_types.h>

int kvl_compile_probe(struct io_kiocb *req);

int kvl_compile_probe(struct io_kiocb *req)
{
	return req->cqe.fd + req->opcode;
}
