/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmio_lat_trace.h - the module's own trace event: one per request it
 * records, with every stage's timestamp, so a user can find the request
 * behind a p99.9 (trace-cmd record -e kvmio_lat:kvmio_lat_request -f
 * 'total > 5000000') and a test can hold each request against QEMU's own
 * trace of the same run.  Timestamps are the module's clock (the clock
 * parameter); "entry" is taken at the moment the event is emitted.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvmio_lat

#if !defined(_KVMIO_LAT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KVMIO_LAT_TRACE_H

#include <linux/tracepoint.h>
#include "kvmio_lat/engine.h"

/* trace.c: the engine reports requests only while the event is on */
int kvl_trace_reg(void);
void kvl_trace_unreg(void);

TRACE_EVENT_FN(kvmio_lat_request,
	       TP_PROTO(const struct kvl_request_record *rec),
	       TP_ARGS(rec),

	TP_STRUCT__entry(__field(s32, tgid)
		__field(u32, vcpu)
		__field(s32, irq_vcpu)
		__field(s32, vector)
		__field(s32, fd)
		__field(u32, path)
		__field(u32, posted)
		__field(u32, pio)
		__field(u32, line)
		__field(u64, addr)
		__field(s64, off)
		__field(u64, doorbell)
		__field(u64, wake)
		__field(u64, submit)
		__field(u64, submit_end)
		__field(u64, complete)
		__field(u64, reap)
		__field(u64, irq)
		__field(u64, entry)
		__field(u64, total)
	),

	TP_fast_assign(__entry->tgid = rec->tgid;
		__entry->vcpu = rec->vcpu_id;
		__entry->irq_vcpu = rec->irq_vcpu_id;
		__entry->vector = rec->vector;
		__entry->fd = rec->fd;
		__entry->path = rec->path;
		__entry->posted = rec->posted;
		__entry->pio = rec->pio;
		__entry->line = rec->line;
		__entry->addr = rec->addr;
		__entry->off = rec->off;
		__entry->doorbell = rec->t[KVL_AT_DOORBELL];
		__entry->wake = rec->t[KVL_AT_WAKE];
		__entry->submit = rec->t[KVL_AT_SUBMIT];
		__entry->submit_end = rec->t[KVL_AT_SUBMIT_END];
		__entry->complete = rec->t[KVL_AT_COMPLETE];
		__entry->reap = rec->t[KVL_AT_REAP];
		__entry->irq = rec->t[KVL_AT_IRQ];
		__entry->entry = rec->t[KVL_AT_ENTRY];
		__entry->total = rec->t[KVL_AT_ENTRY] - rec->t[KVL_AT_DOORBELL];
	),

	TP_printk(KVL_REQUEST_FMT,
		  __entry->tgid, __entry->vcpu,
		  __entry->path == KVL_PATH_NATIVE ? "native" :
		  __entry->path == KVL_PATH_THREADS ? "threads" : "io_uring",
		  __entry->pio ? "port" : "mmio",
		  (unsigned long long)__entry->addr, __entry->fd,
		  (long long)__entry->off, __entry->irq_vcpu,
		  __entry->vector, __entry->line ? "line" : "msi",
		  __entry->posted ? "posted" : "injected",
		  (unsigned long long)__entry->total,
		  (unsigned long long)__entry->doorbell,
		  (unsigned long long)__entry->wake,
		  (unsigned long long)__entry->submit,
		  (unsigned long long)__entry->submit_end,
		  (unsigned long long)__entry->complete,
		  (unsigned long long)__entry->reap,
		  (unsigned long long)__entry->irq,
		  (unsigned long long)__entry->entry),

	kvl_trace_reg, kvl_trace_unreg
);

#endif /* _KVMIO_LAT_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE kvmio_lat_trace
#include <trace/define_trace.h>
