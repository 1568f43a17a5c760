// SPDX-License-Identifier: GPL-2.0
/*
 * hist_test.c - bucket layout, summary statistics and percentiles of the
 * log-linear histogram, against exact values of known samples.
 */
#include <math.h>
#include <stdlib.h>
#include "kselftest_harness.h"
#include "kvmio_lat/hist.h"

TEST(bucket_layout)
{
	unsigned int i;
	u64 v;

	EXPECT_EQ(544, KVL_HIST_NBUCKETS);
	for (i = 1; i < KVL_HIST_NBUCKETS; i++) {
		u64 lo = kvl_hist_bucket_lo(i), hi = kvl_hist_bucket_hi(i);

		ASSERT_LT(lo, hi);
		if (i > 1)
			ASSERT_EQ(kvl_hist_bucket_hi(i - 1), lo);
		/* relative width <= 1/16 once buckets are wider than 1 ns */
		if (hi - lo > 1)
			ASSERT_LE((hi - lo) * 16, lo);
		ASSERT_EQ(i, kvl_hist_index(lo));
		ASSERT_EQ(i, kvl_hist_index(hi - 1));
	}
	EXPECT_EQ(KVL_HIST_MAX_NS, kvl_hist_bucket_hi(KVL_HIST_NBUCKETS - 1));
	EXPECT_GE(KVL_HIST_MAX_NS, 100000000000ULL);	/* at least 100 s */
	for (v = 1; v < KVL_HIST_MAX_NS; v = v * 3 + 1)
		ASSERT_TRUE(kvl_hist_bucket_lo(kvl_hist_index(v)) <= v &&
			    v < kvl_hist_bucket_hi(kvl_hist_index(v)));
}

/* Sum of the bucket counts: every value but the overflow. */
static u64 bucket_total(const struct kvl_hist *h)
{
	u64 n = 0;
	unsigned int i;

	for (i = 0; i < KVL_HIST_NBUCKETS; i++)
		n += h->buckets[i];
	return n;
}

TEST(zero_negative_and_overflow)
{
	struct kvl_hist h;

	kvl_hist_init(&h);
	kvl_hist_record(&h, 0);
	kvl_hist_record(&h, -5);
	kvl_hist_record(&h, (s64)KVL_HIST_MAX_NS);
	kvl_hist_record(&h, 1);
	EXPECT_EQ(4, h.count);
	EXPECT_EQ(1, h.negative);
	EXPECT_EQ(1, h.overflow);
	EXPECT_EQ(2, h.buckets[0]);	/* 0 and -5, as 0 */
	EXPECT_EQ(1, h.buckets[1]);
	EXPECT_EQ(h.count - h.overflow, bucket_total(&h));
	EXPECT_EQ(0, h.min);
	EXPECT_EQ(KVL_HIST_MAX_NS, h.max);
	EXPECT_EQ(1, h.sum);
}

/*
 * A real run: 811 of 2504 samples were 0 ns.  They are values like any
 * other: in bucket [0, 1), in the mean (sum / (count - overflow)) and in
 * the percentiles, and the buckets add up to count.
 */
TEST(zeros_count_in_mean_and_percentiles)
{
	struct kvl_hist h;
	int i;

	kvl_hist_init(&h);
	for (i = 0; i < 811; i++)
		kvl_hist_record(&h, 0);
	for (i = 0; i < 1693; i++)
		kvl_hist_record(&h, 1000);
	EXPECT_EQ(2504, h.count);
	EXPECT_EQ(0, h.negative);
	EXPECT_EQ(811, h.buckets[0]);
	EXPECT_EQ(2504, bucket_total(&h));
	EXPECT_EQ(1693000, h.sum);
	EXPECT_EQ(1693000 / 2504, kvl_hist_mean(&h));
	/* sqrt(811 * 1693) / 2504 * 1000 = 467.96, rounded down */
	EXPECT_EQ(467, kvl_hist_stddev(&h));
	/* ranks 1..811 are the zeros */
	EXPECT_EQ(0, kvl_hist_percentile(&h, 30000));
	EXPECT_EQ(1000, kvl_hist_percentile(&h, 50000));
	EXPECT_EQ(0, h.min);
	/* an overflow is counted and ranked, but is not in mean or buckets */
	kvl_hist_record(&h, (s64)KVL_HIST_MAX_NS + 5);
	EXPECT_EQ(2505, h.count);
	EXPECT_EQ(h.count - h.overflow, bucket_total(&h));
	EXPECT_EQ(1693000 / 2504, kvl_hist_mean(&h));
	EXPECT_EQ(KVL_HIST_MAX_NS + 5, kvl_hist_percentile(&h, 100000));
}

TEST(negative_clamped_to_zero)
{
	struct kvl_hist h;

	kvl_hist_init(&h);
	kvl_hist_record(&h, -5);
	kvl_hist_record(&h, -1);
	kvl_hist_record(&h, 0);
	kvl_hist_record(&h, 10);
	EXPECT_EQ(4, h.count);
	EXPECT_EQ(2, h.negative);
	EXPECT_EQ(3, h.buckets[0]);
	EXPECT_EQ(4, bucket_total(&h));
	EXPECT_EQ(0, h.min);
	EXPECT_EQ(10, h.sum);
	EXPECT_EQ(0, h.sumsq_hi);
	EXPECT_EQ(100, h.sumsq_lo);
	EXPECT_EQ(10 / 4, kvl_hist_mean(&h));
	EXPECT_EQ(0, kvl_hist_percentile(&h, 75000));
	EXPECT_EQ(10, kvl_hist_percentile(&h, 100000));
}

/* Bucket counts past 2^32 (72 minutes of one bucket at 1M values/s). */
TEST(bucket_beyond_32_bits)
{
	u64 big = (1ULL << 32) + 10, huge = 1ULL << 40;
	unsigned int a = kvl_hist_index(1000), b = kvl_hist_index(1ULL << 36);
	struct kvl_hist h;

	kvl_hist_init(&h);
	h.buckets[a] = big;
	h.buckets[a + 1] = 1000;
	h.count = big + 1000;
	h.min = kvl_hist_bucket_lo(a);
	h.max = kvl_hist_bucket_hi(a + 1) - 1;
	EXPECT_EQ(big, h.buckets[a]);
	/* p50 and p99 are inside the big bucket, p100 in the next one */
	EXPECT_EQ(kvl_hist_bucket_lo(a) + 16, kvl_hist_percentile(&h, 50000));
	EXPECT_EQ(kvl_hist_bucket_lo(a) + 31, kvl_hist_percentile(&h, 99000));
	EXPECT_EQ(h.max, kvl_hist_percentile(&h, 100000));

	/* a 2^32 ns wide bucket of 2^40 values: interpolation needs 128 bits */
	kvl_hist_init(&h);
	h.buckets[b] = huge;
	h.count = huge;
	h.min = kvl_hist_bucket_lo(b);
	h.max = kvl_hist_bucket_hi(b) - 1;
	EXPECT_EQ(1ULL << 32, kvl_hist_bucket_hi(b) - kvl_hist_bucket_lo(b));
	EXPECT_EQ((1ULL << 36) + (1ULL << 31), kvl_hist_percentile(&h, 50000));
	EXPECT_EQ((1ULL << 36) + (1ULL << 30), kvl_hist_percentile(&h, 25000));
}

/*
 * The sum saturates instead of wrapping; mean and stddev then come from
 * the buckets, within 1/32 of the values.
 */
TEST(sum_saturates)
{
	struct kvl_hist h;
	int i;

	kvl_hist_init(&h);
	for (i = 0; i < 1000; i++)
		kvl_hist_record(&h, 1000);
	h.sum = U64_MAX - 10;	/* as after 584 years of latency */
	kvl_hist_record(&h, 100);
	EXPECT_EQ(U64_MAX, h.sum);
	EXPECT_EQ(KVL_HIST_SUM_SAT, h.sum);
	kvl_hist_record(&h, 0);
	kvl_hist_record(&h, 1000);
	EXPECT_EQ(U64_MAX, h.sum);
	/* true mean (1000 * 1001 + 100) / 1003 = 998.1, stddev 42.4 */
	EXPECT_LE(fabs((double)kvl_hist_mean(&h) - 998.1), 998.1 / 32);
	EXPECT_LE(fabs((double)kvl_hist_stddev(&h) - 42.4), 42.4 / 16)
		TH_LOG("stddev %llu", (unsigned long long)kvl_hist_stddev(&h));
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void check_sample(struct __test_metadata *_metadata, u64 *v, int n)
{
	static const u32 q[] = { 50000, 90000, 99000, 99900 };
	double mean = 0, var = 0;
	struct kvl_hist h;
	int i;

	kvl_hist_init(&h);
	for (i = 0; i < n; i++) {
		kvl_hist_record(&h, (s64)v[i]);
		mean += v[i];
	}
	mean /= n;
	for (i = 0; i < n; i++)
		var += (v[i] - mean) * (v[i] - mean);
	var /= n;
	qsort(v, n, sizeof(*v), cmp_u64);
	EXPECT_EQ(v[0], h.min);
	EXPECT_EQ(v[n - 1], h.max);
	EXPECT_LE(fabs((double)kvl_hist_mean(&h) - mean), 1.0);
	EXPECT_LE(fabs((double)kvl_hist_stddev(&h) - sqrt(var)), 1.0 + sqrt(var) * 1e-9);
	for (i = 0; i < 4; i++) {
		/* exact: the ceil(n q)-th smallest value */
		u64 rank = ((u64)n * q[i] + 99999) / 100000;
		u64 exact = v[rank - 1], got = kvl_hist_percentile(&h, q[i]);
		double err = fabs((double)got - (double)exact);

		/* interpolation stays within the value's bucket: <= 1/16 */
		EXPECT_LE(err, exact / 16.0 + 1) TH_LOG("q=%u exact=%llu got=%llu",
			q[i], (unsigned long long)exact, (unsigned long long)got);
	}
}

TEST(percentiles_uniform)
{
	static u64 v[100000];
	unsigned int seed = 1;
	int i;

	for (i = 0; i < 100000; i++)
		v[i] = 1000 + rand_r(&seed) % 9000000;
	check_sample(_metadata, v, 100000);
}

TEST(percentiles_lognormal_like)
{
	static u64 v[50000];
	unsigned int seed = 2;
	int i;

	for (i = 0; i < 50000; i++) {
		double e = (rand_r(&seed) % 10000) / 10000.0 * 20 + 5;

		v[i] = (u64)exp2(e);	/* 32 ns .. 32 ms, heavy tail */
	}
	check_sample(_metadata, v, 50000);
}

TEST(percentiles_small_and_constant)
{
	u64 one[] = { 12345 };
	u64 same[] = { 777, 777, 777, 777 };
	u64 two[] = { 10, 1000000 };
	struct kvl_hist h;

	check_sample(_metadata, one, 1);
	check_sample(_metadata, same, 4);
	check_sample(_metadata, two, 2);
	kvl_hist_init(&h);
	EXPECT_EQ(0, kvl_hist_percentile(&h, 50000));
	EXPECT_EQ(0, kvl_hist_mean(&h));
	EXPECT_EQ(0, kvl_hist_stddev(&h));
}

TEST(sum_of_squares_does_not_overflow)
{
	struct kvl_hist h;
	int i;

	kvl_hist_init(&h);
	/* 10^6 values of 100 s: sum of squares ~1e28, beyond 64 bits */
	for (i = 0; i < 1000000; i++)
		kvl_hist_record(&h, i % 2 ? 100000000000LL : 100000000000LL - 2000);
	EXPECT_EQ(100000000000ULL - 1000, kvl_hist_mean(&h));
	EXPECT_EQ(1000, kvl_hist_stddev(&h));
	EXPECT_NE(0, h.sumsq_hi);
}

TEST_HARNESS_MAIN
