/* test_build.c - unit tests for userspace/model/build.c: the snapshot made
 * from one kernel read (over the fake maps of tests/fake_maps.h), the
 * registry and a host sample of an empty /proc (workers then have no /proc
 * figures).
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_build
 *
 * The registry knows masters 10 (no --timeout), 20 (--timeout 30) and 30,
 * which procs no longer holds. 11 and 12 are 10's workers, 12 exited
 * before the read; 21 and 22 are 20's; 31 is 30's, exited.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fake_maps.h"
#include "model_fixture.h"

#include "lib/clock.h"
#include "model/build.h"

static struct obs_worker_stats stats_of(pid_t master, __u64 requests)
{
	struct obs_worker_stats st = { .master = (__u32)master, .requests = requests };

	st.dur_sum_ns = requests * 1000;
	st.dur_buckets[1] = requests;
	st.dur_buckets[OBS_MAX_DUR_BOUNDS] = 1;
	return st;
}

static int setup(void **state)
{
	static const double dur[] = { 0.01, 0.1, 1 };
	static const double size[] = { 100, 1000 };
	char tmpl[] = "/tmp/test_build_XXXXXX";
	struct obs_worker_stats st;
	struct master_rec *m;

	(void)state;
	log_level = LOG_WARN;
	if (fixture_open(tmpl, OBS_PLANE_SOCKET))
		return -1;
	memcpy(cfg.dur_bounds, dur, sizeof(dur));
	cfg.ndur = 3;
	memcpy(cfg.size_bounds, size, sizeof(size));
	cfg.nsize = 2;
	for (int i = 0; i < OBS_DROP_MAX; i++)
		drops[i] = (__u64)(i + 1);

	m = registry_add(&reg, 10, 0, "app10");
	m->retired.requests = 100;
	m->retired.dur_sum_ns = 100000;
	m->retired.dur_buckets[1] = 100;
	codes_add(&m->retired.codes, 200, 100);
	m->life.exits[EXIT_CRASH] = 2;
	m->life.restarts[EXIT_CRASH] = 1;
	m = registry_add(&reg, 20, 0, "app20");
	m->timeout_s = 30;
	m = registry_add(&reg, 30, 0, "app30");
	m->retired.requests = 1000;

	fake_put_proc(fm.procs, 10, 10, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 11, 10, OBS_ROLE_WORKER);
	fake_put_proc(fm.procs, 20, 20, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 21, 20, OBS_ROLE_WORKER);
	fake_put_proc(fm.procs, 22, 20, OBS_ROLE_WORKER);
	st = stats_of(10, 5);
	fake_put_stats(fm.stats, 11, &st);
	st = stats_of(10, 7);
	fake_put_stats(fm.stats, 12, &st);
	st = stats_of(20, 3);
	fake_put_stats(fm.stats, 22, &st);
	st = stats_of(20, 2);
	fake_put_stats(fm.stats, 21, &st);
	st = stats_of(30, 9);
	fake_put_stats(fm.stats, 31, &st);
	fake_put_code(fm.codes, 11, 200, 4);
	fake_put_code(fm.codes, 11, 500, 1);
	fake_put_code(fm.codes, 12, 200, 6);
	fake_put_code(fm.codes, 12, 404, 1);
	fake_put_code(fm.codes, 21, 200, 2);
	fake_put_code(fm.codes, 22, 200, 3);
	fake_put_code(fm.codes, 31, 200, 9);
	fake_put_signal(fm.msigs, 10, SIGHUP, 2);
	fake_put_signal(fm.msigs, 10, SIGTTIN, 1);
	fake_put_signal(fm.msigs, 20, SIGTERM, 1);
	return 0;
}

static const struct master_snap *master(const struct snapshot *s, pid_t pid)
{
	const struct master_snap *m = snapshot_master(s, pid);

	if (!m)
		fail_msg("master %d not in the snapshot", (int)pid);
	return m;
}

static const struct worker_snap *worker(const struct snapshot *s, pid_t pid)
{
	for (size_t i = 0; i < s->nworkers; i++)
		if (s->workers[i].pid == pid)
			return &s->workers[i];
	fail_msg("worker %d not in the snapshot", (int)pid);
	return NULL;
}

static void test_master_totals(void **state)
{
	const struct master_snap *m;
	struct snapshot s;

	(void)state;
	fixture_build(&s);
	/* retired 100, live 11's 5, exited 12's 7 */
	m = master(&s, 10);
	assert_int_equal(m->t.requests, 112);
	assert_int_equal(m->t.dur_sum_ns, 100000 + 12000);
	assert_int_equal(m->t.dur_buckets[1], 112);
	assert_int_equal(m->t.dur_buckets[OBS_MAX_DUR_BOUNDS], 2);
	assert_int_equal(m->t.codes.n, 3);
	assert_int_equal(code_count(&m->t.codes, 200), 110);
	assert_int_equal(code_count(&m->t.codes, 404), 1);
	assert_int_equal(code_count(&m->t.codes, 500), 1);
	m = master(&s, 20);
	assert_int_equal(m->t.requests, 5);
	assert_int_equal(m->t.dur_buckets[OBS_MAX_DUR_BOUNDS], 2);
	assert_int_equal(m->t.codes.n, 1);
	assert_int_equal(code_count(&m->t.codes, 200), 5);
	snapshot_clear(&s);
}

static void test_live_workers_listed(void **state)
{
	struct snapshot s;

	(void)state;
	fixture_build(&s);
	/* grouped by master in the registry's order; 12 exited */
	assert_int_equal(s.nworkers, 3);
	assert_int_equal(s.workers[0].pid, 11);
	assert_int_equal(s.workers[0].master, 10);
	assert_int_equal(s.workers[1].pid, 21);
	assert_int_equal(s.workers[1].master, 20);
	assert_int_equal(s.workers[2].pid, 22);
	assert_int_equal(s.workers[2].master, 20);
	assert_int_equal(worker(&s, 21)->st.requests, 2);
	assert_int_equal(worker(&s, 22)->st.requests, 3);
	for (size_t i = 0; i < s.nworkers; i++)
		assert_int_not_equal(s.workers[i].pid, 12);
	assert_int_equal(master(&s, 10)->workers, 1);
	assert_int_equal(master(&s, 20)->workers, 2);
	assert_int_equal(worker(&s, 11)->codes.n, 2);
	assert_int_equal(code_count(&worker(&s, 11)->codes, 500), 1);
	assert_int_equal(worker(&s, 11)->host.have_proc, 0); /* an empty /proc */
	snapshot_clear(&s);
}

static void test_masters_not_in_procs_skipped(void **state)
{
	struct snapshot s;

	(void)state;
	fixture_build(&s);
	assert_int_equal(s.nmasters, 2);
	assert_int_equal(s.masters[0].pid, 10);
	assert_int_equal(s.masters[1].pid, 20);
	assert_string_equal(s.masters[0].app, "app10");
	assert_null(snapshot_master(&s, 30));
	snapshot_clear(&s);
}

static void test_masters_kept_when_procs_unreadable(void **state)
{
	struct snapshot s;

	(void)state;
	fake_map_fail(fm.procs, FAKE_FAIL_ALL);
	fixture_build(&s);
	assert_int_equal(s.nmasters, 3);
	assert_int_equal(s.masters[2].pid, 30);
	/* no worker is known to live, and every one is counted */
	assert_int_equal(s.nworkers, 0);
	assert_int_equal(master(&s, 10)->workers, 0);
	assert_int_equal(master(&s, 10)->t.requests, 112);
	assert_int_equal(master(&s, 20)->t.requests, 5);
	assert_int_equal(master(&s, 30)->t.requests, 1009);
	assert_int_equal(s.self.map_read_failures, 1);
	assert_int_equal(s.self.maps[KMAP_PROCS].ok, 0);
	snapshot_clear(&s);
}

/* A request on worker pid begun age_s ago. */
static void request_since(__u64 key, pid_t pid, double age_s)
{
	double now = clock_seconds(CLOCK_MONOTONIC);

	assert_true(now > age_s + 1);
	fake_put_conn(fm.conns, key, pid, OBS_CONN_REQUEST, (__u64)((now - age_s) * 1e9), OBS_KEY_COOKIE);
}

static void three_requests(void)
{
	request_since(1, 11, 13); /* master 10: no --timeout, 15 s */
	request_since(2, 21, 17); /* master 20: --timeout 30, 15 s */
	request_since(3, 22, 13);
}

static void test_state_default_thresholds(void **state)
{
	struct snapshot s;

	(void)state;
	three_requests();
	fixture_build(&s);
	assert_int_equal(worker(&s, 11)->state, WORKER_BUSY);
	assert_int_equal(worker(&s, 21)->state, WORKER_STUCK);
	assert_int_equal(worker(&s, 22)->state, WORKER_BUSY);
	snapshot_clear(&s);

	/* no --timeout: 15 s; 17 s is stuck */
	fake_put_conn(fm.conns, 1, 11, OBS_CONN_IDLE, 0, OBS_KEY_COOKIE);
	request_since(4, 11, 17);
	fixture_build(&s);
	assert_int_equal(worker(&s, 11)->state, WORKER_STUCK);
	snapshot_clear(&s);

	/* --timeout 60: 30 s; 17 s is busy */
	registry_find(&reg, 20)->timeout_s = 60;
	fixture_build(&s);
	assert_int_equal(worker(&s, 21)->state, WORKER_BUSY);
	snapshot_clear(&s);
}

static void test_state_configured_threshold(void **state)
{
	struct snapshot s;

	(void)state;
	three_requests();
	cfg.stuck_threshold = 5;
	fixture_build(&s);
	assert_int_equal(worker(&s, 11)->state, WORKER_STUCK);
	assert_int_equal(worker(&s, 21)->state, WORKER_STUCK);
	assert_int_equal(worker(&s, 22)->state, WORKER_STUCK);
	snapshot_clear(&s);
	/* above the master's timeout / 2: the setting wins */
	cfg.stuck_threshold = 25;
	fixture_build(&s);
	assert_int_equal(worker(&s, 11)->state, WORKER_BUSY);
	assert_int_equal(worker(&s, 21)->state, WORKER_BUSY);
	assert_int_equal(worker(&s, 22)->state, WORKER_BUSY);
	snapshot_clear(&s);
}

static void test_state_idle(void **state)
{
	struct snapshot s;

	(void)state;
	/* answered, idle: neither is an unanswered request */
	fake_put_conn(fm.conns, 1, 11, OBS_CONN_RESPONSE, 1, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 2, 21, OBS_CONN_IDLE, 1, OBS_KEY_COOKIE);
	fixture_build(&s);
	for (size_t i = 0; i < s.nworkers; i++)
		assert_int_equal(s.workers[i].state, WORKER_IDLE);
	snapshot_clear(&s);
}

static void test_signals_lifecycle_self(void **state)
{
	const struct master_snap *m;
	struct snapshot s;

	(void)state;
	fixture_build(&s);
	m = master(&s, 10);
	assert_int_equal(m->signals.n, 2);
	assert_int_equal(code_count(&m->signals, SIGHUP), 2);
	assert_int_equal(code_count(&m->signals, SIGTTIN), 1);
	assert_int_equal(master(&s, 20)->signals.n, 1);
	assert_int_equal(m->exits[EXIT_CRASH], 2);
	assert_int_equal(m->restarts[EXIT_CRASH], 1);
	assert_true(m->start_time == 0); /* start unknown */
	assert_int_equal(m->nlisteners, 0);
	for (int i = 0; i < OBS_DROP_MAX; i++)
		assert_int_equal(s.self.drops[i], i + 1);
	assert_int_equal(s.self.map_read_failures, 0);
	assert_int_equal(s.self.maps[KMAP_STATS].entries, 5);
	assert_int_equal(s.self.maps[KMAP_STATS].capacity, 8);
	assert_int_equal(s.self.maps[KMAP_MSIGS].entries, 3);
	assert_int_equal(s.bounds.ndur, 3);
	assert_int_equal(s.bounds.nsize, 2);
	assert_true(s.bounds.dur[2] == 1);
	assert_true(s.taken > 0);
	snapshot_clear(&s);
}

static void test_master_without_workers(void **state)
{
	struct snapshot s;
	struct master_rec *m;

	(void)state;
	m = registry_add(&reg, 40, 0, "app40");
	m->retired.requests = 77;
	fake_put_proc(fm.procs, 40, 40, OBS_ROLE_MASTER);
	fixture_build(&s);
	assert_int_equal(s.nmasters, 3);
	assert_int_equal(master(&s, 40)->t.requests, 77);
	assert_int_equal(master(&s, 40)->workers, 0);
	assert_int_equal(s.nworkers, 3);
	snapshot_clear(&s);
}

/* A registry's masters as they are now, to tell whether they changed. */
struct reg_copy {
	size_t n, nw;
	struct master_rec v[8];
	struct code_count codes[8][8];
};

static void reg_copy(const struct registry *r, struct reg_copy *c)
{
	assert_true(r->n <= 8);
	c->n = r->n;
	c->nw = r->nw;
	memcpy(c->v, r->v, r->n * sizeof(*r->v));
	for (size_t i = 0; i < r->n; i++) {
		assert_true(r->v[i].retired.codes.n <= 8);
		memcpy(c->codes[i], r->v[i].retired.codes.v,
		       r->v[i].retired.codes.n * sizeof(struct code_count));
	}
}

static void assert_reg_same(const struct registry *r, const struct reg_copy *c)
{
	assert_int_equal(r->n, c->n);
	assert_int_equal(r->nw, c->nw);
	for (size_t i = 0; i < r->n; i++) {
		const struct master_rec *a = &r->v[i], *b = &c->v[i];

		assert_int_equal(a->pid, b->pid);
		assert_int_equal(a->retired.requests, b->retired.requests);
		assert_int_equal(a->retired.dur_sum_ns, b->retired.dur_sum_ns);
		assert_memory_equal(a->retired.dur_buckets, b->retired.dur_buckets,
				    sizeof(a->retired.dur_buckets));
		assert_int_equal(a->retired.codes.n, b->retired.codes.n);
		for (size_t j = 0; j < a->retired.codes.n; j++) {
			assert_int_equal(a->retired.codes.v[j].code, c->codes[i][j].code);
			assert_int_equal(a->retired.codes.v[j].count, c->codes[i][j].count);
		}
		assert_memory_equal(&a->life, &b->life, sizeof(a->life));
	}
}

static void test_build_changes_neither_maps_nor_registry(void **state)
{
	struct fake_loader_copy before;
	struct reg_copy rc;
	struct snapshot s;

	(void)state;
	three_requests();
	fake_loader_copy(&fm, &before);
	reg_copy(&reg, &rc);
	fixture_build(&s);
	snapshot_clear(&s);
	fixture_build(&s); /* and a second gives the same */
	assert_int_equal(master(&s, 10)->t.requests, 112);
	snapshot_clear(&s);
	assert_true(fake_loader_same(&fm, &before));
	assert_int_equal(fake_loader_writes(&fm), 0);
	assert_reg_same(&reg, &rc);
	fake_loader_copy_free(&before);
}

static void test_build_takes_the_codes_over(void **state)
{
	struct kread k = { 0 };
	struct snapshot s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(snapshot_build(&k, &reg, &cfg, hc, &s), 0);
	/* the live workers' lists moved to the snapshot; freed once, there */
	assert_int_equal(kread_worker(&k, 11)->codes.n, 0);
	assert_int_equal(kread_worker(&k, 12)->codes.n, 2);
	assert_int_equal(worker(&s, 11)->codes.n, 2);
	kread_free(&k);
	snapshot_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_master_totals, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_live_workers_listed, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_masters_not_in_procs_skipped, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_masters_kept_when_procs_unreadable, setup,
						fixture_close),
		cmocka_unit_test_setup_teardown(test_state_default_thresholds, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_state_configured_threshold, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_state_idle, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_signals_lifecycle_self, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_master_without_workers, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_build_changes_neither_maps_nor_registry, setup,
						fixture_close),
		cmocka_unit_test_setup_teardown(test_build_takes_the_codes_over, setup, fixture_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
