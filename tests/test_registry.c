/* test_registry.c - unit tests for userspace/model/registry.c: the masters
 * userspace knows (in discovery order, a reused pid starting afresh) and
 * its records of live workers (sorted by pid).
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_registry
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "model/registry.h"

static void test_add_find_remove(void **state)
{
	struct registry r = { 0 };
	struct master_rec *m;

	(void)state;
	assert_null(registry_find(&r, 10));
	m = registry_add(&r, 10, 1000, "app:a");
	assert_non_null(m);
	assert_int_equal(m->pid, 10);
	assert_int_equal(m->start_ticks, 1000);
	assert_string_equal(m->app, "app:a");
	assert_int_equal(m->retired.requests, 0);
	assert_int_equal(m->restored, 0);
	assert_non_null(registry_add(&r, 30, 3000, "app:c"));
	assert_non_null(registry_add(&r, 20, 2000, "app:b"));
	assert_int_equal(r.n, 3);
	/* discovery order, not pid order */
	assert_int_equal(r.v[0].pid, 10);
	assert_int_equal(r.v[1].pid, 30);
	assert_int_equal(r.v[2].pid, 20);
	assert_ptr_equal(registry_find(&r, 20), &r.v[2]);
	assert_string_equal(registry_find(&r, 30)->app, "app:c");
	assert_null(registry_find(&r, 40));

	registry_remove(&r, 30);
	assert_int_equal(r.n, 2);
	assert_null(registry_find(&r, 30));
	assert_int_equal(r.v[0].pid, 10);
	assert_int_equal(r.v[1].pid, 20);
	assert_string_equal(r.v[1].app, "app:b");
	registry_remove(&r, 99); /* unknown: nothing */
	assert_int_equal(r.n, 2);
	registry_remove(&r, 20);
	registry_remove(&r, 10);
	assert_int_equal(r.n, 0);
	registry_free(&r);
}

static void test_add_again_refreshes_app_keeps_counts(void **state)
{
	struct registry r = { 0 };
	struct master_rec *m;

	(void)state;
	m = registry_add(&r, 10, 1000, "old");
	m->retired.requests = 42;
	assert_int_equal(codes_add(&m->retired.codes, 200, 42), 0);
	m->life.exits[EXIT_CRASH] = 3;
	m->timeout_s = 30;
	m->restored = 1;
	m = registry_add(&r, 10, 1000, "new");
	assert_int_equal(r.n, 1);
	assert_string_equal(m->app, "new");
	assert_int_equal(m->retired.requests, 42);
	assert_int_equal(m->retired.codes.n, 1);
	assert_int_equal(m->life.exits[EXIT_CRASH], 3);
	assert_true(m->timeout_s == 30);
	assert_int_equal(m->restored, 1);
	registry_free(&r);
	assert_int_equal(r.n, 0);
	assert_null(r.v);
}

static void test_pid_reuse_resets_master(void **state)
{
	struct registry r = { 0 };
	struct master_rec *m;

	(void)state;
	registry_add(&r, 5, 50, "first");
	m = registry_add(&r, 10, 1000, "old");
	m->retired.requests = 42;
	m->retired.dur_buckets[3] = 42;
	assert_int_equal(codes_add(&m->retired.codes, 200, 42), 0);
	m->life.exits[EXIT_CRASH] = 3;
	m->life.restarts[EXIT_CRASH] = 2;
	m->timeout_s = 30;
	m->restored = 1;
	/* the same pid, started at another time: another master */
	m = registry_add(&r, 10, 2000, "other");
	assert_non_null(m);
	assert_int_equal(r.n, 2);
	assert_int_equal(m->pid, 10);
	assert_int_equal(m->start_ticks, 2000);
	assert_string_equal(m->app, "other");
	assert_int_equal(m->retired.requests, 0);
	assert_int_equal(m->retired.dur_buckets[3], 0);
	assert_int_equal(m->retired.codes.n, 0);
	assert_int_equal(m->life.exits[EXIT_CRASH], 0);
	assert_int_equal(m->life.restarts[EXIT_CRASH], 0);
	assert_true(m->timeout_s == 0);
	assert_int_equal(m->restored, 0);
	assert_ptr_equal(registry_find(&r, 10), m);
	assert_int_equal(registry_find(&r, 5)->start_ticks, 50);
	registry_free(&r);
}

static void test_app_name_truncated(void **state)
{
	struct registry r = { 0 };
	char app[OBS_APP_LEN * 2];
	struct master_rec *m;

	(void)state;
	memset(app, 'x', sizeof(app) - 1);
	app[sizeof(app) - 1] = '\0';
	m = registry_add(&r, 10, 1, app);
	assert_int_equal(strlen(m->app), OBS_APP_LEN - 1);
	registry_free(&r);
}

static void test_workers_sorted_and_found(void **state)
{
	static const pid_t pids[] = { 50, 10, 40, 20, 30, 60, 5 };
	struct registry r = { 0 };
	struct worker_rec *w;

	(void)state;
	assert_null(registry_worker(&r, 10, 0));
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		w = registry_worker(&r, pids[i], 1);
		assert_non_null(w);
		assert_int_equal(w->pid, pids[i]);
		assert_int_equal(w->master, 0);
		assert_true(w->start_t == 0);
		assert_int_equal(w->fate.oom, 0);
		w->master = 1000 + pids[i];
	}
	assert_int_equal(r.nw, 7);
	for (size_t i = 1; i < r.nw; i++)
		assert_true(r.w[i - 1].pid < r.w[i].pid);
	assert_int_equal(r.w[0].pid, 5);
	assert_int_equal(r.w[6].pid, 60);
	for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
		w = registry_worker(&r, pids[i], 0);
		assert_non_null(w);
		assert_int_equal(w->master, 1000 + pids[i]);
	}
	/* asked again with create: the same record, not a second */
	w = registry_worker(&r, 40, 1);
	assert_int_equal(w->master, 1040);
	assert_int_equal(r.nw, 7);
	assert_null(registry_worker(&r, 35, 0));
	assert_null(registry_worker(&r, 1, 0));
	assert_null(registry_worker(&r, 70, 0));
	registry_free(&r);
	assert_int_equal(r.nw, 0);
}

static void test_drop_worker(void **state)
{
	struct registry r = { 0 };

	(void)state;
	for (pid_t p = 10; p <= 50; p += 10)
		registry_worker(&r, p, 1)->master = p + 1;
	registry_drop_worker(&r, 30);
	assert_int_equal(r.nw, 4);
	assert_null(registry_worker(&r, 30, 0));
	assert_int_equal(r.w[0].pid, 10);
	assert_int_equal(r.w[1].pid, 20);
	assert_int_equal(r.w[2].pid, 40);
	assert_int_equal(r.w[3].pid, 50);
	assert_int_equal(registry_worker(&r, 40, 0)->master, 41);
	registry_drop_worker(&r, 35); /* unknown: nothing */
	registry_drop_worker(&r, 60);
	assert_int_equal(r.nw, 4);
	registry_drop_worker(&r, 50); /* the last */
	registry_drop_worker(&r, 10); /* the first */
	assert_int_equal(r.nw, 2);
	assert_int_equal(r.w[0].pid, 20);
	assert_int_equal(r.w[1].pid, 40);
	/* a record made again after its drop starts zeroed */
	assert_int_equal(registry_worker(&r, 30, 1)->master, 0);
	assert_int_equal(r.nw, 3);
	assert_int_equal(r.w[1].pid, 30);
	registry_free(&r);
}

static void test_masters_and_workers_apart(void **state)
{
	struct registry r = { 0 };

	(void)state;
	registry_add(&r, 10, 1, "a");
	registry_worker(&r, 11, 1)->master = 10;
	registry_worker(&r, 12, 1)->master = 10;
	/* a master's removal leaves the workers' records to their own exits */
	registry_remove(&r, 10);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nw, 2);
	assert_null(registry_worker(&r, 10, 0));
	assert_null(registry_find(&r, 11));
	registry_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find_remove),
		cmocka_unit_test(test_add_again_refreshes_app_keeps_counts),
		cmocka_unit_test(test_pid_reuse_resets_master),
		cmocka_unit_test(test_app_name_truncated),
		cmocka_unit_test(test_workers_sorted_and_found),
		cmocka_unit_test(test_drop_worker),
		cmocka_unit_test(test_masters_and_workers_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
