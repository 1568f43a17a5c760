// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - the kvmio_lat:kvmio_lat_request trace event (kvmio_lat_trace.h),
 * fed by the engine's on_request hook for every request it records while
 * the event is enabled.
 */
#include "kvmio_lat.h"

#define CREATE_TRACE_POINTS
#include "kvmio_lat_trace.h"

static void kvl_trace_request(void *ctx,
			      const struct kvl_request_record *rec)
{
	trace_kvmio_lat_request(rec);
}

/*
 * The event's first user came or its last went: the engine builds a
 * record for every request only while someone reads them.  A commit that
 * saw the hook just before it was cleared calls a disabled tracepoint.
 */
int kvl_trace_reg(void)
{
	WRITE_ONCE(kvl_engine.on_request, kvl_trace_request);
	return 0;
}

void kvl_trace_unreg(void)
{
	WRITE_ONCE(kvl_engine.on_request, NULL);
}

/*
 * The event exists from the module's load, before kvl_init() sets up the
 * engine (and clears its hook): one enabled in between is caught here.
 */
void kvl_trace_init(void)
{
	if (trace_kvmio_lat_request_enabled())
		kvl_trace_reg();
}
