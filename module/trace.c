// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - the kvmio_lat:kvmio_lat_request trace event (kvmio_lat_trace.h),
 * fed by the engine's on_request hook for every request it records.
 */
#include "kvmio_lat.h"

#define CREATE_TRACE_POINTS
#include "kvmio_lat_trace.h"

void kvl_trace_request(void *ctx, const struct kvl_request_record *rec)
{
	trace_kvmio_lat_request(rec);
}
