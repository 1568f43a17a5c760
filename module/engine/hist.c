// SPDX-License-Identifier: GPL-2.0
/*
 * hist.c - log-linear latency histograms (see include/kvmio_lat/hist.h).
 */
#include "kvmio_lat/hist.h"

void kvl_hist_init(struct kvl_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = U64_MAX;
}

void kvl_hist_record(struct kvl_hist *h, s64 ns)
{
	kvl_hist_add(h, ns);
}

unsigned __int128 kvl_udiv128(unsigned __int128 n, u64 d)
{
	unsigned __int128 q = 0, r = 0;
	int i;

	if (!d)
		return 0;
	if (!(n >> 64))
		return (u64)n / d;
	for (i = 127; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= (unsigned __int128)1 << i;
		}
	}
	return q;
}

/* Values that went into sum and sumsq: all but the overflow. */
static u64 kvl_hist_inrange(const struct kvl_hist *h)
{
	u64 n = h->count - h->overflow;

	return n > h->count ? 0 : n;	/* a racing reader may see a torn set */
}

/*
 * Mean and variance from the bucket midpoints, for a saturated sum: each
 * midpoint is within 1/32 of the values of its bucket.
 */
static void kvl_hist_bucket_moments(const struct kvl_hist *h, u64 *mean,
				    unsigned __int128 *var)
{
	unsigned __int128 s = 0, ss = 0, d;
	u64 n = 0, b, mid;
	unsigned int i;

	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		b = READ_ONCE(h->buckets[i]);
		if (!b)
			continue;
		n += b;
		s += (unsigned __int128)b * ((kvl_hist_bucket_lo(i) +
					     kvl_hist_bucket_hi(i)) / 2);
	}
	*mean = n ? (u64)kvl_udiv128(s, n) : 0;
	*var = 0;
	if (n < 2)
		return;
	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		b = READ_ONCE(h->buckets[i]);
		if (!b)
			continue;
		mid = (kvl_hist_bucket_lo(i) + kvl_hist_bucket_hi(i)) / 2;
		d = mid > *mean ? mid - *mean : *mean - mid;
		d = d * d * b;	/* d < 2^37: wraps only past 2^54 values */
		ss = ss + d < ss ? ~(unsigned __int128)0 : ss + d;
	}
	*var = kvl_udiv128(ss, n);
}

u64 kvl_hist_mean(const struct kvl_hist *h)
{
	unsigned __int128 var;
	u64 n = kvl_hist_inrange(h), mean;

	if (READ_ONCE(h->sum) == KVL_HIST_SUM_SAT) {
		kvl_hist_bucket_moments(h, &mean, &var);
		return mean;
	}
	return n ? kvl_div64(h->sum, n) : 0;
}

static u64 kvl_isqrt128(unsigned __int128 x)
{
	unsigned __int128 bit = (unsigned __int128)1 << 126, res = 0;

	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= res + bit) {
			x -= res + bit;
			res = (res >> 1) + bit;
		} else {
			res >>= 1;
		}
		bit >>= 2;
	}
	return (u64)res;
}

u64 kvl_hist_stddev(const struct kvl_hist *h)
{
	unsigned __int128 sumsq, sq_of_sum, var;
	u64 n = kvl_hist_inrange(h), mean;

	if (n < 2)
		return 0;
	if (READ_ONCE(h->sum) == KVL_HIST_SUM_SAT) {
		kvl_hist_bucket_moments(h, &mean, &var);
		return kvl_isqrt128(var);
	}
	/* var = (sumsq - sum^2 / n) / n, in 128 bits */
	sumsq = ((unsigned __int128)h->sumsq_hi << 64) | h->sumsq_lo;
	sq_of_sum = kvl_udiv128((unsigned __int128)h->sum * h->sum, n);
	if (sumsq <= sq_of_sum)
		return 0;
	var = kvl_udiv128(sumsq - sq_of_sum, n);
	return kvl_isqrt128(var);
}

u64 kvl_hist_percentile(const struct kvl_hist *h, u32 per100k)
{
	u64 total, rank, cum, lo, hi, v;
	unsigned int i;

	/* 0 and negative values are in bucket 0; the overflow ranks last */
	total = READ_ONCE(h->overflow);
	for (i = 0; i < KVL_HIST_NBUCKETS; i++)
		total += READ_ONCE(h->buckets[i]);
	if (!total)
		return 0;
	if (per100k > 100000)
		per100k = 100000;
	/* rank of the value wanted, 1-based: ceil(total * q), in 128 bits */
	rank = (u64)kvl_udiv128((unsigned __int128)total * per100k + 99999,
				100000);
	if (!rank)
		rank = 1;

	cum = 0;
	for (i = 0; i < KVL_HIST_NBUCKETS; i++) {
		u64 n = READ_ONCE(h->buckets[i]);

		if (!n || cum + n < rank) {
			cum += n;
			continue;
		}
		lo = kvl_hist_bucket_lo(i);
		hi = kvl_hist_bucket_hi(i);
		/* buckets are 64-bit: (hi - lo) * (rank - cum) needs 128 */
		v = lo + (u64)kvl_udiv128((unsigned __int128)(hi - lo) *
					  (rank - cum), n);
		if (v > hi - 1)
			v = hi - 1;
		if (v < h->min)
			v = h->min;
		if (v > h->max)
			v = h->max;
		return v;
	}
	return h->max;	/* the rank falls into the overflow */
}
