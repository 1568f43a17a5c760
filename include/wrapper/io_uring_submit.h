/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wrapper/io_uring_submit.h - the tracepoint of an io_uring request's
 * submission, fired once per SQE in io_submit_sqe(), in the submitting
 * task, after io_init_req() has read and prepared the SQE.
 *
 *   5.5 .. 5.19  io_uring_submit_sqe(void *ctx, void *req, u8 opcode,
 *                    u64 user_data, u32 flags, bool force_nonblock,
 *                    bool sq_thread)
 *   6.0 .. 6.3   io_uring_submit_sqe(struct io_kiocb *req,
 *                    bool force_nonblock)  ("io_uring: pass in struct
 *                    io_kiocb to tracepoints"; struct io_kiocb moved to
 *                    <linux/io_uring_types.h> in the same release)
 *   >= 6.4       io_uring_submit_req(struct io_kiocb *req)  (renamed)
 *
 * Feature tests, not version numbers (module/Kbuild, module/compat/).
 * Where the request is passed, its file descriptor (req->cqe.fd holds the
 * SQE's fd until completion: "fd initially, then cflags") and, for reads
 * and writes, its offset (the prepared kiocb's ki_pos: every io_kiocb
 * command struct begins with the file, and io_rw's is its kiocb) are read
 * from it.  Before 6.0 the request is opaque: disk and offset unknown.
 */
#ifndef KVMIO_LAT_WRAPPER_IO_URING_SUBMIT_H
#define KVMIO_LAT_WRAPPER_IO_URING_SUBMIT_H

#include <linux/fs.h>
#include <trace/events/io_uring.h>

/* module/Kbuild's compile probes, module/compat/io_uring_*.c */
#ifdef KVL_HAVE_IO_URING_TYPES
#include <linux/io_uring_types.h>
#define KVL_URING_REQ_TYPED	1
#else
#define KVL_URING_REQ_TYPED	0
#endif

#ifdef KVL_HAVE_IO_URING_SUBMIT_REQ
#define KVL_URING_SUBMIT_TP	"io_uring_submit_req"
#else
#define KVL_URING_SUBMIT_TP	"io_uring_submit_sqe"
#endif

#if KVL_URING_REQ_TYPED
static inline bool kvl_uring_op_has_offset(u8 op)
{
	return op == IORING_OP_READV || op == IORING_OP_WRITEV ||
	       op == IORING_OP_READ_FIXED || op == IORING_OP_WRITE_FIXED ||
	       op == IORING_OP_READ || op == IORING_OP_WRITE;
}

/* The SQE's file descriptor: -1 for a registered (fixed) file's index */
static inline s32 kvl_uring_req_fd(const struct io_kiocb *req)
{
	return (req->flags & REQ_F_FIXED_FILE) ? -1 : req->cqe.fd;
}

static inline s64 kvl_uring_req_off(const struct io_kiocb *req)
{
	return kvl_uring_op_has_offset(req->opcode) ?
	       ((const struct kiocb *)&req->cmd)->ki_pos : -1;
}
#endif

#endif /* KVMIO_LAT_WRAPPER_IO_URING_SUBMIT_H */
