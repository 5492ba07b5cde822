/* test_buckets.c - unit tests for include/buckets.h.
 *
 * Build from the repository root:
 *   cc -Wall -Wextra -Werror -std=gnu11 -Iinclude tests/test_buckets.c \
 *      -lcmocka -o build/tests/test_buckets
 *
 * Bounds are copied into heap arrays of exactly the length under test, so a
 * build with -fsanitize=address also catches a read past bounds[n-1] or
 * bounds[max-1].
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buckets.h"
#include "observer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* obs_bucket_index over a private copy of bounds[0..len) */
static __u32 idx(const __u64 *bounds, size_t len, __u32 n, __u32 max, __u64 v)
{
	__u64 *b = malloc(len ? len * sizeof(*b) : 1);
	__u32 r;

	assert_non_null(b);
	if (len)
		memcpy(b, bounds, len * sizeof(*b));
	r = obs_bucket_index(b, n, max, v);
	free(b);
	return r;
}

/* Prometheus "le": the first i with v <= bounds[i], else n. */
static __u32 reference(const __u64 *bounds, __u32 n, __u64 v)
{
	for (__u32 i = 0; i < n; i++)
		if (v <= bounds[i])
			return i;
	return n;
}

/* the default-ish duration bounds in nanoseconds: 5ms .. 10s */
static const __u64 dur_ns[] = {
	5000000ULL,   10000000ULL,   25000000ULL,   50000000ULL,   100000000ULL,   250000000ULL,
	500000000ULL, 1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL,
};

static void test_at_below_above_each_bound(void **state)
{
	const __u32 n = ARRAY_LEN(dur_ns);
	(void)state;

	for (__u32 i = 0; i < n; i++) {
		/* at the bound: le, so bucket i */
		assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, dur_ns[i]), i);
		/* just below: still bucket i */
		assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, dur_ns[i] - 1), i);
		/* just above: the next bucket, or +Inf after the last bound */
		assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, dur_ns[i] + 1), i + 1);
	}
	/* midway between bounds */
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, 7500000ULL), 1);
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, 3000000000ULL), 9);
}

/* Adjacent bounds one apart: "just above" one bound is "at" the next. */
static void test_adjacent_bounds(void **state)
{
	static const __u64 b[] = { 1, 2, 3, 4 };
	const __u32 n = ARRAY_LEN(b);
	(void)state;

	assert_int_equal(idx(b, n, n, 8, 0), 0);
	assert_int_equal(idx(b, n, n, 8, 1), 0);
	assert_int_equal(idx(b, n, n, 8, 2), 1);
	assert_int_equal(idx(b, n, n, 8, 3), 2);
	assert_int_equal(idx(b, n, n, 8, 4), 3);
	assert_int_equal(idx(b, n, n, 8, 5), 4);
}

static void test_zero(void **state)
{
	static const __u64 from_zero[] = { 0, 10, 100 };
	const __u32 n = ARRAY_LEN(dur_ns);
	(void)state;

	/* zero value goes into the first bucket */
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, 0), 0);
	/* a zero bound holds exactly zero */
	assert_int_equal(idx(from_zero, 3, 3, 8, 0), 0);
	assert_int_equal(idx(from_zero, 3, 3, 8, 1), 1);
	assert_int_equal(idx(from_zero, 3, 3, 8, 10), 1);
	assert_int_equal(idx(from_zero, 3, 3, 8, 11), 2);
	assert_int_equal(idx(from_zero, 3, 3, 8, 101), 3);
}

static void test_uint64_max(void **state)
{
	static const __u64 top[] = { 1, 1000, UINT64_MAX - 1, UINT64_MAX };
	const __u32 n = ARRAY_LEN(dur_ns);
	(void)state;

	/* +Inf bucket is index n */
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, UINT64_MAX), n);
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, UINT64_MAX - 1), n);
	assert_int_equal(idx(dur_ns, n, n, OBS_MAX_DUR_BOUNDS, dur_ns[n - 1] + 1), n);
	/* bounds up to the top of the range */
	assert_int_equal(idx(top, 4, 4, 8, UINT64_MAX - 2), 2);
	assert_int_equal(idx(top, 4, 4, 8, UINT64_MAX - 1), 2);
	assert_int_equal(idx(top, 4, 4, 8, UINT64_MAX), 3);
	/* with the UINT64_MAX bound left out, UINT64_MAX is +Inf */
	assert_int_equal(idx(top, 3, 3, 8, UINT64_MAX), 3);
	/* a single bound */
	assert_int_equal(idx(top, 1, 1, 8, 0), 0);
	assert_int_equal(idx(top, 1, 1, 8, 1), 0);
	assert_int_equal(idx(top, 1, 1, 8, 2), 1);
	assert_int_equal(idx(top, 1, 1, 8, UINT64_MAX), 1);
}

/* No bounds configured: everything is +Inf, index 0, and bounds is not read
 * (a NULL pointer would fault if it were). */
static void test_no_bounds(void **state)
{
	(void)state;
	assert_int_equal(obs_bucket_index(NULL, 0, OBS_MAX_DUR_BOUNDS, 0), 0);
	assert_int_equal(obs_bucket_index(NULL, 0, OBS_MAX_DUR_BOUNDS, 12345), 0);
	assert_int_equal(obs_bucket_index(NULL, 0, OBS_MAX_DUR_BOUNDS, UINT64_MAX), 0);
	assert_int_equal(obs_bucket_index(NULL, 0, OBS_MAX_SIZE_BOUNDS, UINT64_MAX), 0);
	assert_int_equal(obs_bucket_index(NULL, 0, 0, 7), 0);
	/* max of zero: no bound may be read, +Inf is min(n, max) = 0 */
	assert_int_equal(obs_bucket_index(NULL, 5, 0, 7), 0);
}

/* n equal to the cap: all bounds used, +Inf is n == max. */
static void test_full_table(void **state)
{
	__u64 dur[OBS_MAX_DUR_BOUNDS], size[OBS_MAX_SIZE_BOUNDS];
	(void)state;

	for (__u32 i = 0; i < OBS_MAX_DUR_BOUNDS; i++)
		dur[i] = 1000ULL << i;
	for (__u32 i = 0; i < OBS_MAX_SIZE_BOUNDS; i++)
		size[i] = 64ULL << i;

	for (__u32 i = 0; i < OBS_MAX_DUR_BOUNDS; i++) {
		assert_int_equal(idx(dur, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, dur[i]),
				 i);
		assert_int_equal(
		    idx(dur, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, dur[i] + 1), i + 1);
	}
	assert_int_equal(idx(dur, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, OBS_MAX_DUR_BOUNDS, UINT64_MAX),
			 OBS_MAX_DUR_BOUNDS);

	for (__u32 i = 0; i < OBS_MAX_SIZE_BOUNDS; i++) {
		assert_int_equal(
		    idx(size, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, size[i] - 1), i);
		assert_int_equal(
		    idx(size, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, size[i]), i);
	}
	assert_int_equal(idx(size, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, OBS_MAX_SIZE_BOUNDS, UINT64_MAX),
			 OBS_MAX_SIZE_BOUNDS);
}

/* n above the cap (a loader bug, or a verifier-imposed cap smaller than the
 * table): only bounds[0..max) are consulted and the result never exceeds max,
 * which is still a valid index into a bucket array of max + 1 entries. */
static void test_n_above_max_is_capped(void **state)
{
	__u64 b[40];
	(void)state;

	for (__u32 i = 0; i < ARRAY_LEN(b); i++)
		b[i] = 10ULL * (i + 1);
	/* array holds only max entries although n claims 40 (ASan checks) */
	assert_int_equal(idx(b, 8, 40, 8, 0), 0);
	assert_int_equal(idx(b, 8, 40, 8, 80), 7);
	assert_int_equal(idx(b, 8, 40, 8, 81), 8);
	assert_int_equal(idx(b, 8, 40, 8, UINT64_MAX), 8);
	assert_int_equal(idx(b, OBS_MAX_DUR_BOUNDS, 40, OBS_MAX_DUR_BOUNDS, UINT64_MAX), OBS_MAX_DUR_BOUNDS);
	assert_int_equal(idx(b, OBS_MAX_SIZE_BOUNDS, UINT32_MAX, OBS_MAX_SIZE_BOUNDS, UINT64_MAX),
			 OBS_MAX_SIZE_BOUNDS);
	/* n one above and one below max */
	assert_int_equal(idx(b, 8, 9, 8, UINT64_MAX), 8);
	assert_int_equal(idx(b, 7, 7, 8, UINT64_MAX), 7);
	assert_int_equal(idx(b, 7, 7, 8, 70), 6);
}

/* Every n from 0 past the cap, every value near every bound, compared with
 * the plain definition, and always a valid index into the stats arrays. */
static void test_against_reference(void **state)
{
	__u64 b[OBS_MAX_DUR_BOUNDS];
	(void)state;

	for (__u32 i = 0; i < OBS_MAX_DUR_BOUNDS; i++)
		b[i] = 3ULL * (i + 1) * (i + 1);

	for (__u32 max = 0; max <= OBS_MAX_DUR_BOUNDS; max++) {
		for (__u32 n = 0; n <= OBS_MAX_DUR_BOUNDS; n++) {
			__u32 eff = n < max ? n : max;
			size_t len = eff;

			for (__u64 v = 0; v <= b[OBS_MAX_DUR_BOUNDS - 1] + 2; v++) {
				__u32 r = idx(b, len, n, max, v);

				assert_int_equal(r, reference(b, eff, v));
				assert_true(r <= eff);
			}
			assert_int_equal(idx(b, len, n, max, UINT64_MAX), eff);
		}
	}
}

/* The way conn.bpf.c uses the result: an index into arrays of
 * OBS_MAX_*_BOUNDS + 1 counters. */
static void test_index_fits_stats_arrays(void **state)
{
	struct obs_worker_stats s;
	__u64 b[OBS_MAX_DUR_BOUNDS];
	(void)state;

	for (__u32 i = 0; i < OBS_MAX_DUR_BOUNDS; i++)
		b[i] = 1ULL << (2 * i);
	for (__u32 n = 0; n <= OBS_MAX_DUR_BOUNDS + 4; n++) {
		assert_true(obs_bucket_index(b, n, OBS_MAX_DUR_BOUNDS, UINT64_MAX) <
			    ARRAY_LEN(s.dur_buckets));
		assert_true(obs_bucket_index(b, n, OBS_MAX_SIZE_BOUNDS, UINT64_MAX) <
			    ARRAY_LEN(s.req_buckets));
		assert_true(obs_bucket_index(b, n, OBS_MAX_SIZE_BOUNDS, UINT64_MAX) <
			    ARRAY_LEN(s.resp_buckets));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at_below_above_each_bound),
		cmocka_unit_test(test_adjacent_bounds),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_uint64_max),
		cmocka_unit_test(test_no_bounds),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_n_above_max_is_capped),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_index_fits_stats_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
