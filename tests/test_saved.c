/* test_saved.c - unit tests for userspace/model/saved.c: the masters'
 * userspace counters stored in and restored from the pinned map, over a
 * fake map (tests/fake_maps.h) of the same layout.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_saved
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "fake_maps.h"

#include "model/registry.h"
#include "model/saved.h"

static int fd;

static int setup(void **state)
{
	(void)state;
	log_level = LOG_WARN;
	fake_maps_install();
	fd = fake_saved_map_new();
	return fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_maps_uninstall();
	return 0;
}

/* A master as retire leaves it: restored, with counts of its own. */
static struct master_rec *counted_master(struct registry *r, pid_t pid, uint64_t start)
{
	struct master_rec *m = registry_add(r, pid, start, "app");

	assert_non_null(m);
	m->restored = 1;
	m->retired.requests = 42;
	m->retired.dur_sum_ns = 4200;
	m->retired.dur_buckets[0] = 40;
	m->retired.dur_buckets[OBS_MAX_DUR_BOUNDS] = 2;
	assert_int_equal(codes_add(&m->retired.codes, 500, 2), 0);
	assert_int_equal(codes_add(&m->retired.codes, 200, 40), 0);
	m->life.exits[EXIT_CRASH] = 3;
	m->life.exits[EXIT_MAX_REQUESTS] = 5;
	m->life.restarts[EXIT_CRASH] = 2;
	m->life.restarts[EXIT_MAX_REQUESTS] = 5;
	return m;
}

static int saved_has(pid_t pid, uint64_t start, struct saved_master *v)
{
	struct saved_key k = { .pid = (__u32)pid, .start_ticks = start };

	return fake_map_has(fd, &k, v);
}

static void saved_put(pid_t pid, uint64_t start, __u64 requests)
{
	struct saved_key k = { .pid = (__u32)pid, .start_ticks = start };
	struct saved_master v;

	memset(&v, 0, sizeof(v));
	v.requests = requests;
	fake_map_put(fd, &k, &v);
}

static void test_store_writes_the_map(void **state)
{
	struct registry r = { 0 };
	struct saved_master v;

	(void)state;
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	assert_int_equal(fake_map_count(fd), 1);
	assert_true(saved_has(10, 1000, &v));
	assert_int_equal(v.requests, 42);
	assert_int_equal(v.dur_sum_ns, 4200);
	assert_int_equal(v.dur_buckets[0], 40);
	assert_int_equal(v.dur_buckets[OBS_MAX_DUR_BOUNDS], 2);
	assert_int_equal(v.exits[EXIT_CRASH], 3);
	assert_int_equal(v.exits[EXIT_MAX_REQUESTS], 5);
	assert_int_equal(v.restarts[EXIT_CRASH], 2);
	assert_int_equal(v.ncodes, 2);
	assert_int_equal(v.codes[0].code, 200);
	assert_int_equal(v.codes[0].count, 40);
	assert_int_equal(v.codes[1].code, 500);
	assert_int_equal(v.codes[1].count, 2);
	/* stored again with more: the entry is replaced, not added to */
	r.v[0].retired.requests = 50;
	saved_store(fd, &r);
	assert_int_equal(fake_map_count(fd), 1);
	assert_true(saved_has(10, 1000, &v));
	assert_int_equal(v.requests, 50);
	registry_free(&r);
}

static void test_round_trip(void **state)
{
	struct registry r = { 0 }, fresh = { 0 };
	struct master_rec *m;

	(void)state;
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	/* the observer restarted: the master found again, from nothing */
	m = registry_add(&fresh, 10, 1000, "app");
	saved_restore(fd, m);
	assert_int_equal(m->restored, 1);
	assert_int_equal(m->retired.requests, 42);
	assert_int_equal(m->retired.dur_sum_ns, 4200);
	assert_int_equal(m->retired.dur_buckets[0], 40);
	assert_int_equal(m->retired.dur_buckets[1], 0);
	assert_int_equal(m->retired.dur_buckets[OBS_MAX_DUR_BOUNDS], 2);
	assert_int_equal(m->retired.codes.n, 2);
	assert_int_equal(code_count(&m->retired.codes, 200), 40);
	assert_int_equal(code_count(&m->retired.codes, 500), 2);
	assert_int_equal(m->life.exits[EXIT_CRASH], 3);
	assert_int_equal(m->life.exits[EXIT_MAX_REQUESTS], 5);
	assert_int_equal(m->life.restarts[EXIT_CRASH], 2);
	assert_int_equal(m->life.restarts[EXIT_MAX_REQUESTS], 5);
	assert_int_equal(m->life.exits[EXIT_OOM], 0);
	registry_free(&r);
	registry_free(&fresh);
}

static void test_restore_adds_to_what_it_has(void **state)
{
	struct registry r = { 0 }, fresh = { 0 };
	struct master_rec *m;

	(void)state;
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	m = registry_add(&fresh, 10, 1000, "app");
	m->retired.requests = 8; /* retired before the restore */
	assert_int_equal(codes_add(&m->retired.codes, 200, 8), 0);
	m->life.exits[EXIT_CRASH] = 1;
	saved_restore(fd, m);
	assert_int_equal(m->retired.requests, 50);
	assert_int_equal(code_count(&m->retired.codes, 200), 48);
	assert_int_equal(m->life.exits[EXIT_CRASH], 4);
	registry_free(&r);
	registry_free(&fresh);
}

static void test_restore_only_once(void **state)
{
	struct registry r = { 0 }, fresh = { 0 };
	struct master_rec *m;
	unsigned long lookups;

	(void)state;
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	m = registry_add(&fresh, 10, 1000, "app");
	saved_restore(fd, m);
	lookups = fake_map_of(fd)->lookups;
	saved_restore(fd, m);
	saved_restore(fd, m);
	assert_int_equal(fake_map_of(fd)->lookups, lookups);
	assert_int_equal(m->retired.requests, 42);
	assert_int_equal(code_count(&m->retired.codes, 200), 40);
	assert_int_equal(m->life.exits[EXIT_CRASH], 3);
	/* found again by a later scan: registry_add keeps it restored */
	m = registry_add(&fresh, 10, 1000, "app");
	saved_restore(fd, m);
	assert_int_equal(m->retired.requests, 42);
	registry_free(&r);
	registry_free(&fresh);
}

static void test_restore_other_start_gets_nothing(void **state)
{
	struct registry r = { 0 }, fresh = { 0 };
	struct master_rec *m;

	(void)state;
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	/* pid 10 reused by another master */
	m = registry_add(&fresh, 10, 1001, "app");
	saved_restore(fd, m);
	assert_int_equal(m->restored, 1);
	assert_int_equal(m->retired.requests, 0);
	assert_int_equal(m->retired.codes.n, 0);
	assert_int_equal(m->life.exits[EXIT_CRASH], 0);
	registry_free(&r);
	registry_free(&fresh);
}

static void test_unrestored_master_not_stored(void **state)
{
	struct registry r = { 0 };
	struct saved_master v;
	struct master_rec *m;

	(void)state;
	saved_put(10, 1000, 99);
	m = counted_master(&r, 10, 1000);
	/* not yet restored: storing would overwrite the 99 with its own 42 */
	m->restored = 0;
	saved_store(fd, &r);
	assert_true(saved_has(10, 1000, &v));
	assert_int_equal(v.requests, 99);
	assert_int_equal(fake_map_count(fd), 1);
	registry_free(&r);
}

static void test_codes_cap(void **state)
{
	struct registry r = { 0 }, fresh = { 0 };
	struct saved_master v;
	struct master_rec *m;

	(void)state;
	m = registry_add(&r, 10, 1000, "app");
	m->restored = 1;
	for (uint32_t c = 100; c < 100 + SAVED_CODES + 6; c++)
		assert_int_equal(codes_add(&m->retired.codes, c, c - 99), 0);
	assert_int_equal(m->retired.codes.n, SAVED_CODES + 6);
	saved_store(fd, &r);
	assert_true(saved_has(10, 1000, &v));
	assert_int_equal(v.ncodes, SAVED_CODES);
	assert_int_equal(v.codes[0].code, 100);
	assert_int_equal(v.codes[SAVED_CODES - 1].code, 100 + SAVED_CODES - 1);
	assert_int_equal(v.codes[SAVED_CODES - 1].count, SAVED_CODES);
	m = registry_add(&fresh, 10, 1000, "app");
	saved_restore(fd, m);
	assert_int_equal(m->retired.codes.n, SAVED_CODES);
	assert_int_equal(code_count(&m->retired.codes, 100), 1);
	assert_int_equal(code_count(&m->retired.codes, 100 + SAVED_CODES - 1), SAVED_CODES);
	assert_int_equal(code_count(&m->retired.codes, 100 + SAVED_CODES), 0);
	registry_free(&r);
	registry_free(&fresh);
}

static void test_restore_caps_a_bad_ncodes(void **state)
{
	struct saved_key k = { .pid = 10, .start_ticks = 1000 };
	struct saved_master v;
	struct registry r = { 0 };
	struct master_rec *m;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.ncodes = 1000; /* more than the entry holds */
	for (int i = 0; i < SAVED_CODES; i++) {
		v.codes[i].code = (__u64)(200 + i);
		v.codes[i].count = 1;
	}
	fake_map_put(fd, &k, &v);
	m = registry_add(&r, 10, 1000, "app");
	saved_restore(fd, m);
	assert_int_equal(m->retired.codes.n, SAVED_CODES);
	registry_free(&r);
}

static void test_store_deletes_unknown_masters(void **state)
{
	struct registry r = { 0 };

	(void)state;
	saved_put(20, 2000, 1); /* a master gone */
	saved_put(10, 999, 1);  /* pid 10 before it was reused */
	saved_put(10, 1000, 1);
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	assert_int_equal(fake_map_count(fd), 1);
	assert_true(saved_has(10, 1000, NULL));
	assert_false(saved_has(10, 999, NULL));
	assert_false(saved_has(20, 2000, NULL));
	registry_free(&r);
}

static void test_store_deletes_many_unknown_over_passes(void **state)
{
	struct registry r = { 0 };
	size_t left;

	(void)state;
	for (pid_t p = 1000; p < 1100; p++)
		saved_put(p, 1, 1);
	counted_master(&r, 10, 1000);
	saved_store(fd, &r);
	/* saved.c deletes 64 a pass; the rest the next */
	left = fake_map_count(fd);
	assert_int_equal(left, 1 + 100 - 64);
	saved_store(fd, &r);
	assert_int_equal(fake_map_count(fd), 1);
	assert_true(saved_has(10, 1000, NULL));
	registry_free(&r);
}

static void test_store_empty_registry_empties_map(void **state)
{
	struct registry r = { 0 };

	(void)state;
	saved_put(10, 1000, 5);
	saved_put(20, 2000, 5);
	saved_store(fd, &r);
	assert_int_equal(fake_map_count(fd), 0);
}

static void test_no_map(void **state)
{
	struct registry r = { 0 };
	struct master_rec *m;

	(void)state;
	saved_put(10, 1000, 5);
	m = counted_master(&r, 10, 1000);
	m->restored = 0;
	saved_restore(-1, m);
	assert_int_equal(m->restored, 0);
	assert_int_equal(m->retired.requests, 42);
	saved_store(-1, &r);
	assert_int_equal(fake_map_count(fd), 1);
	assert_int_equal(fake_map_writes(fd), 0);
	registry_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_writes_the_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_adds_to_what_it_has, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_only_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_other_start_gets_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrestored_master_not_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codes_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_caps_a_bad_ncodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_deletes_unknown_masters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_deletes_many_unknown_over_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_empty_registry_empties_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_map, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
