/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hist.h - log-linear latency histograms.
 *
 * Values are nanoseconds.  Every power of two from 16 ns up is split into
 * 16 equal buckets, so a bucket is never wider than 1/16 of its lower bound;
 * below 16 ns buckets are 1 ns wide.  The buckets cover [0 ns, 2^37 ns),
 * about 137 s, so a 0 ns value is in bucket 0 like any other; a negative
 * interval (clock skew) is recorded as 0 and also counted in @negative, and
 * 2^37 ns or more is counted in @overflow only (no bucket, no sum).
 *
 * Bucket counters are 64-bit: 32 bits wrap after 72 minutes of one bucket
 * at 1M values/s.  @sum saturates at U64_MAX (2^64 ns, 584 years of summed
 * latency; 10 ms requests at 100k/s get there in 213 days) rather than
 * wrapping: then mean and stddev are estimated from the buckets (within
 * 1/32 of the bucket values).  @sumsq is 128-bit and cannot wrap before
 * 2^54 values.
 *
 * A histogram has a single writer at a time (the vCPU thread for exit
 * latency, the holder of the VM's request lock for stages), so updates are
 * plain stores: no atomics, no shared cache lines.  Readers may race with
 * the writer; see Documentation/output.rst for what a snapshot
 * guarantees.
 */
#ifndef KVMIO_LAT_HIST_H
#define KVMIO_LAT_HIST_H

#include "shim.h"

#define KVL_HIST_SUB_BITS	4
#define KVL_HIST_SUB		16	/* 2^KVL_HIST_SUB_BITS */
#define KVL_HIST_MAX_SHIFT	37
#define KVL_HIST_MAX_NS		137438953472ULL	/* 2^KVL_HIST_MAX_SHIFT */
#define KVL_HIST_NBUCKETS \
	((KVL_HIST_MAX_SHIFT - KVL_HIST_SUB_BITS + 1) * KVL_HIST_SUB)

struct kvl_hist {
	u64 count;		/* every recorded value, overflow too */
	u64 sum;		/* of in-range values, ns; saturates */
	u64 sumsq_hi;		/* sum of squares, 128 bits */
	u64 sumsq_lo;
	u64 min;		/* U64_MAX when empty */
	u64 max;
	u64 negative;		/* negative intervals, also in bucket 0 */
	u64 overflow;		/* >= KVL_HIST_MAX_NS: in no bucket */
	u64 buckets[KVL_HIST_NBUCKETS];
};

/* @sum is saturated: mean and stddev come from the buckets. */
#define KVL_HIST_SUM_SAT	U64_MAX

/* Bucket index of an in-range value (0 <= ns < KVL_HIST_MAX_NS). */
static inline unsigned int kvl_hist_index(u64 ns)
{
	unsigned int shift;

	if (ns < 2 * KVL_HIST_SUB)
		return (unsigned int)ns;
	shift = fls64(ns) - 1 - KVL_HIST_SUB_BITS;
	return (shift + 1) * KVL_HIST_SUB +
	       (unsigned int)((ns >> shift) & (KVL_HIST_SUB - 1));
}

/* Lower bound (inclusive) and upper bound (exclusive) of bucket @i. */
static inline u64 kvl_hist_bucket_lo(unsigned int i)
{
	unsigned int shift;

	if (i < 2 * KVL_HIST_SUB)
		return i;
	shift = i / KVL_HIST_SUB - 1;
	return (u64)(KVL_HIST_SUB + i % KVL_HIST_SUB) << shift;
}

static inline u64 kvl_hist_bucket_hi(unsigned int i)
{
	if (i < 2 * KVL_HIST_SUB)
		return i + 1;
	return kvl_hist_bucket_lo(i) + (1ULL << (i / KVL_HIST_SUB - 1));
}

/* 128-by-64 division without the compiler runtime (the kernel has none). */
unsigned __int128 kvl_udiv128(unsigned __int128 n, u64 d);

void kvl_hist_init(struct kvl_hist *h);

/*
 * Record one interval: inline where every exit records one
 * (kvl_exit_record()), kvl_hist_record() elsewhere.
 */
static inline void kvl_hist_add(struct kvl_hist *h, s64 ns)
{
	unsigned __int128 sq;
	u64 v, lo, sum;

	WRITE_ONCE(h->count, h->count + 1);
	if (ns < 0) {
		/* clock skew: a 0 ns value, counted so that it stays visible */
		WRITE_ONCE(h->negative, h->negative + 1);
		v = 0;
	} else {
		v = (u64)ns;
	}
	if (v >= KVL_HIST_MAX_NS) {
		WRITE_ONCE(h->overflow, h->overflow + 1);
	} else {
		unsigned int i = kvl_hist_index(v);

		WRITE_ONCE(h->buckets[i], h->buckets[i] + 1);
		/* saturate, never wrap: a wrapped sum gives a plausible mean */
		sum = h->sum + v;
		WRITE_ONCE(h->sum, sum < v ? KVL_HIST_SUM_SAT : sum);
		sq = (unsigned __int128)v * v;
		lo = h->sumsq_lo + (u64)sq;
		WRITE_ONCE(h->sumsq_hi, h->sumsq_hi + (u64)(sq >> 64) +
			   (lo < h->sumsq_lo));
		WRITE_ONCE(h->sumsq_lo, lo);
	}
	if (v < h->min)
		WRITE_ONCE(h->min, v);
	if (v > h->max)
		WRITE_ONCE(h->max, v);
}

void kvl_hist_record(struct kvl_hist *h, s64 ns);

/*
 * Mean in ns (0 when empty) and population standard deviation in ns of
 * the in-range values (count - overflow, zeros included).
 */
u64 kvl_hist_mean(const struct kvl_hist *h);
u64 kvl_hist_stddev(const struct kvl_hist *h);

/*
 * The @per100k / 100000 quantile (50000 = p50, 99900 = p99.9) from the
 * buckets, interpolated linearly inside the bucket that holds it and
 * clamped to the recorded min and max.  Ranks are over every value, the
 * overflow ranked last: a rank that falls into it gives max.  0 when the
 * histogram is empty.
 */
u64 kvl_hist_percentile(const struct kvl_hist *h, u32 per100k);

#endif /* KVMIO_LAT_HIST_H */
