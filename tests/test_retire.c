/* test_retire.c - unit tests for userspace/model/retire.c: exited workers
 * folded into their masters and taken out of the maps, masters the kernel
 * no longer follows forgotten, the masters saved; over the fake maps of
 * tests/fake_maps.h.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_retire
 *
 * The registry knows masters 10, 20 and 30 (procs no longer holds 30).
 * 11 and 21 live; 12 and 13 (10's) and 31 (30's) exited, their stats,
 * codes and syscall-plane connections still in the maps.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_maps.h"
#include "model_fixture.h"

#include "model/build.h"
#include "model/retire.h"
#include "model/saved.h"

#define COOKIE_12 (((__u64)0xabcd << 32) | 12) /* a cookie whose low half is 12 */

static int saved_fd;

static struct obs_worker_stats stats_of(pid_t master, __u64 requests, int bucket)
{
	struct obs_worker_stats st = { .master = (__u32)master, .requests = requests };

	st.dur_sum_ns = requests * 1000;
	st.dur_buckets[bucket] = requests;
	st.in_flight = 1; /* not a total: never folded */
	st.req_bytes_sum = requests * 10;
	return st;
}

static struct master_rec *master_rec(pid_t pid, uint64_t start)
{
	struct master_rec *m = registry_add(&reg, pid, start, "app");

	assert_non_null(m);
	m->restored = 1; /* as the scan leaves it: saved ones are stored */
	return m;
}

static void setup_maps(void)
{
	struct obs_worker_stats st;

	fake_put_proc(fm.procs, 10, 10, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 11, 10, OBS_ROLE_WORKER);
	fake_put_proc(fm.procs, 20, 20, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 21, 20, OBS_ROLE_WORKER);
	st = stats_of(10, 5, 0);
	fake_put_stats(fm.stats, 11, &st);
	st = stats_of(10, 7, 1);
	fake_put_stats(fm.stats, 12, &st);
	st = stats_of(10, 4, 2);
	fake_put_stats(fm.stats, 13, &st);
	st = stats_of(20, 2, 0);
	fake_put_stats(fm.stats, 21, &st);
	st = stats_of(30, 9, 0);
	fake_put_stats(fm.stats, 31, &st);
	fake_put_code(fm.codes, 11, 200, 4);
	fake_put_code(fm.codes, 12, 200, 6);
	fake_put_code(fm.codes, 12, 404, 1);
	fake_put_code(fm.codes, 13, 500, 4);
	fake_put_code(fm.codes, 21, 200, 2);
	fake_put_code(fm.codes, 31, 200, 9);
	fake_put_signal(fm.msigs, 10, SIGHUP, 2);
	fake_put_signal(fm.msigs, 20, SIGTTIN, 1);
	fake_put_signal(fm.msigs, 30, SIGTERM, 1);
	fake_put_signal(fm.msigs, 30, SIGQUIT, 1);
	fake_put_conn(fm.conns, obs_fd_key(12, 5), 12, OBS_CONN_REQUEST, 1, OBS_KEY_FD);
	fake_put_conn(fm.conns, obs_fd_key(13, 6), 13, OBS_CONN_IDLE, 0, OBS_KEY_FD);
	fake_put_conn(fm.conns, obs_fd_key(11, 7), 11, OBS_CONN_IDLE, 0, OBS_KEY_FD);
	fake_put_conn(fm.conns, COOKIE_12, 11, OBS_CONN_IDLE, 0, OBS_KEY_COOKIE);
}

static int setup_plane(enum obs_data_plane plane)
{
	char tmpl[] = "/tmp/test_retire_XXXXXX";
	struct master_rec *m;

	log_level = LOG_ERROR;
	if (fixture_open(tmpl, plane))
		return -1;
	saved_fd = fake_saved_map_new();
	m = master_rec(10, 1000);
	m->retired.requests = 100;
	m->retired.dur_sum_ns = 100000;
	m->retired.dur_buckets[0] = 100;
	codes_add(&m->retired.codes, 200, 100);
	master_rec(20, 2000);
	master_rec(30, 3000);
	setup_maps();
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_plane(OBS_PLANE_SYSCALL);
}

static int setup_socket(void **state)
{
	(void)state;
	return setup_plane(OBS_PLANE_SOCKET);
}

static int has_signal(pid_t master, __u32 sig)
{
	struct obs_sig_key k = { .tgid = (__u32)master, .sig = sig };

	return fake_map_has(fm.msigs, &k, NULL);
}

static int has_conn(__u64 key)
{
	return fake_map_has(fm.conns, &key, NULL);
}

static void test_fold(void **state)
{
	const struct master_rec *m;

	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	m = registry_find(&reg, 10);
	assert_non_null(m);
	/* 100 retired before, 12's 7 and 13's 4; live 11's 5 not */
	assert_int_equal(m->retired.requests, 111);
	assert_int_equal(m->retired.dur_sum_ns, 100000 + 11000);
	assert_int_equal(m->retired.dur_buckets[0], 100);
	assert_int_equal(m->retired.dur_buckets[1], 7);
	assert_int_equal(m->retired.dur_buckets[2], 4);
	assert_int_equal(m->retired.codes.n, 3);
	assert_int_equal(code_count(&m->retired.codes, 200), 106);
	assert_int_equal(code_count(&m->retired.codes, 404), 1);
	assert_int_equal(code_count(&m->retired.codes, 500), 4);
	m = registry_find(&reg, 20);
	assert_int_equal(m->retired.requests, 0);
	assert_int_equal(m->retired.codes.n, 0);
}

static void test_deletes_exactly_the_gone(void **state)
{
	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	assert_int_equal(fake_map_count(fm.stats), 2);
	assert_true(fake_has_stats(fm.stats, 11));
	assert_true(fake_has_stats(fm.stats, 21));
	assert_false(fake_has_stats(fm.stats, 12));
	assert_false(fake_has_stats(fm.stats, 13));
	assert_false(fake_has_stats(fm.stats, 31));
	assert_int_equal(fake_map_count(fm.codes), 2);
	assert_true(fake_has_code(fm.codes, 11, 200));
	assert_true(fake_has_code(fm.codes, 21, 200));
	/* procs is the kernel's: retire never writes it */
	assert_int_equal(fake_map_count(fm.procs), 4);
	assert_int_equal(fake_map_writes(fm.procs), 0);
	assert_int_equal(fake_map_writes(fm.stash), 0);
}

static void test_syscall_plane_conns(void **state)
{
	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	assert_false(has_conn(obs_fd_key(12, 5)));
	assert_false(has_conn(obs_fd_key(13, 6)));
	assert_true(has_conn(obs_fd_key(11, 7)));
	assert_true(has_conn(COOKIE_12)); /* keyed by cookie: not a descriptor of 12 */
	assert_int_equal(fake_map_count(fm.conns), 2);
}

static void test_socket_plane_conns_left_to_the_sweep(void **state)
{
	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	assert_int_equal(fake_map_count(fm.conns), 4);
	assert_int_equal(fake_map_writes(fm.conns), 0);
	assert_false(fake_has_stats(fm.stats, 12));
}

static void assert_totals_equal(const struct totals *a, const struct totals *b)
{
	assert_int_equal(a->requests, b->requests);
	assert_int_equal(a->dur_sum_ns, b->dur_sum_ns);
	assert_memory_equal(a->dur_buckets, b->dur_buckets, sizeof(a->dur_buckets));
	assert_int_equal(a->codes.n, b->codes.n);
	for (size_t i = 0; i < a->codes.n; i++) {
		assert_int_equal(a->codes.v[i].code, b->codes.v[i].code);
		assert_int_equal(a->codes.v[i].count, b->codes.v[i].count);
	}
}

static void test_totals_never_go_down(void **state)
{
	struct snapshot before, after;

	(void)state;
	fixture_build(&before);
	assert_int_equal(before.nmasters, 2);
	assert_int_equal(snapshot_master(&before, 10)->t.requests, 116);
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	fixture_build(&after);
	assert_int_equal(after.nmasters, 2);
	for (size_t i = 0; i < before.nmasters; i++) {
		const struct master_snap *a = &before.masters[i], *b = snapshot_master(&after, a->pid);

		assert_non_null(b);
		assert_totals_equal(&a->t, &b->t);
		assert_int_equal(a->workers, b->workers);
	}
	assert_int_equal(before.nworkers, after.nworkers);
	snapshot_clear(&before);
	snapshot_clear(&after);
}

static void test_retire_again_changes_nothing(void **state)
{
	struct snapshot before, after;

	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	fixture_build(&before);
	assert_int_equal(retire(&ld, &reg, saved_fd), 0);
	assert_int_equal(registry_find(&reg, 10)->retired.requests, 111);
	fixture_build(&after);
	assert_totals_equal(&snapshot_master(&before, 10)->t, &snapshot_master(&after, 10)->t);
	snapshot_clear(&before);
	snapshot_clear(&after);
}

static void test_forgets_masters_procs_left(void **state)
{
	(void)state;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	assert_int_equal(reg.n, 2);
	assert_non_null(registry_find(&reg, 10));
	assert_non_null(registry_find(&reg, 20));
	assert_null(registry_find(&reg, 30));
	assert_false(has_signal(30, SIGTERM));
	assert_false(has_signal(30, SIGQUIT));
	assert_true(has_signal(10, SIGHUP));
	assert_true(has_signal(20, SIGTTIN));
	assert_int_equal(fake_map_count(fm.msigs), 2);
}

static void test_procs_walk_fails_masters_kept(void **state)
{
	(void)state;
	/* procs cannot be walked; asked entry by entry it answers */
	fake_map_fail(fm.procs, FAKE_FAIL_WALK);
	assert_true(retire(&ld, &reg, saved_fd) >= 0);
	assert_int_equal(reg.n, 3);
	assert_non_null(registry_find(&reg, 30));
	assert_int_equal(fake_map_count(fm.msigs), 4);
	/* the live keep their stats, whether or not the exited were retired */
	assert_true(fake_has_stats(fm.stats, 11));
	assert_true(fake_has_stats(fm.stats, 21));
	assert_true(fake_has_code(fm.codes, 11, 200));
}

static void test_procs_unreadable_retires_no_one(void **state)
{
	(void)state;
	/* who lives is unknown: a live worker whose stats went would lose
	 * every later request (the kernel makes stats at fork only) */
	fake_map_fail(fm.procs, FAKE_FAIL_ALL);
	assert_int_equal(retire(&ld, &reg, saved_fd), 0);
	assert_int_equal(reg.n, 3);
	assert_int_equal(fake_map_count(fm.stats), 5);
	assert_true(fake_has_stats(fm.stats, 11));
	assert_true(fake_has_stats(fm.stats, 21));
	assert_int_equal(registry_find(&reg, 10)->retired.requests, 100);
	assert_int_equal(fake_map_count(fm.codes), 6);
}

static void test_codes_unreadable_retires_no_one(void **state)
{
	struct snapshot before, after;

	(void)state;
	fixture_build(&before);
	/* folded without their codes, 12's and 13's would be lost to the
	 * totals: their stats gone, their codes entries read for no one */
	fake_map_fail(fm.codes, FAKE_FAIL_WALK);
	assert_int_equal(retire(&ld, &reg, saved_fd), 0);
	fake_map_fail(fm.codes, 0);
	fixture_build(&after);
	assert_totals_equal(&snapshot_master(&before, 10)->t, &snapshot_master(&after, 10)->t);
	assert_int_equal(code_count(&snapshot_master(&after, 10)->t.codes, 500), 4);
	assert_true(fake_has_stats(fm.stats, 12));
	snapshot_clear(&before);
	snapshot_clear(&after);
}

static void test_worker_of_unknown_master(void **state)
{
	struct obs_worker_stats st = stats_of(50, 8, 0);

	(void)state;
	fake_put_stats(fm.stats, 51, &st);
	fake_put_code(fm.codes, 51, 200, 8);
	assert_int_equal(retire(&ld, &reg, saved_fd), 4);
	/* no master to fold into; its entries go all the same */
	assert_false(fake_has_stats(fm.stats, 51));
	assert_false(fake_has_code(fm.codes, 51, 200));
	assert_int_equal(registry_find(&reg, 10)->retired.requests, 111);
	assert_int_equal(registry_find(&reg, 20)->retired.requests, 0);
}

static void test_saved_written_and_restored(void **state)
{
	struct saved_key k10 = { .pid = 10, .start_ticks = 1000 }, k30 = { .pid = 30, .start_ticks = 3000 },
			 k99 = { .pid = 99, .start_ticks = 1 };
	struct saved_master v;
	struct registry fresh = { 0 };
	struct master_rec *m;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.requests = 5;
	fake_map_put(saved_fd, &k30, &v); /* 30, saved by an earlier retire */
	fake_map_put(saved_fd, &k99, &v); /* a master long gone */
	registry_find(&reg, 10)->life.exits[EXIT_CRASH] = 2;
	assert_int_equal(retire(&ld, &reg, saved_fd), 3);
	assert_int_equal(fake_map_count(saved_fd), 2);
	assert_false(fake_map_has(saved_fd, &k30, NULL));
	assert_false(fake_map_has(saved_fd, &k99, NULL));
	assert_true(fake_map_has(saved_fd, &k10, &v));
	assert_int_equal(v.requests, 111);
	assert_int_equal(v.exits[EXIT_CRASH], 2);

	/* the observer restarted: master 10 goes on from there */
	m = registry_add(&fresh, 10, 1000, "app");
	saved_restore(saved_fd, m);
	assert_int_equal(m->retired.requests, 111);
	assert_int_equal(m->retired.dur_sum_ns, 111000);
	assert_int_equal(m->retired.dur_buckets[1], 7);
	assert_int_equal(code_count(&m->retired.codes, 200), 106);
	assert_int_equal(code_count(&m->retired.codes, 404), 1);
	assert_int_equal(code_count(&m->retired.codes, 500), 4);
	assert_int_equal(m->life.exits[EXIT_CRASH], 2);
	m = registry_add(&fresh, 20, 2000, "app");
	saved_restore(saved_fd, m);
	assert_int_equal(m->retired.requests, 0);
	registry_free(&fresh);
}

static void test_no_saved_map(void **state)
{
	(void)state;
	assert_int_equal(retire(&ld, &reg, -1), 3);
	assert_int_equal(fake_map_count(saved_fd), 0);
	assert_int_equal(registry_find(&reg, 10)->retired.requests, 111);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fold, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_deletes_exactly_the_gone, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_syscall_plane_conns, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_socket_plane_conns_left_to_the_sweep, setup_socket,
						fixture_close),
		cmocka_unit_test_setup_teardown(test_totals_never_go_down, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_retire_again_changes_nothing, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_forgets_masters_procs_left, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_procs_walk_fails_masters_kept, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_procs_unreadable_retires_no_one, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_codes_unreadable_retires_no_one, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_worker_of_unknown_master, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_saved_written_and_restored, setup, fixture_close),
		cmocka_unit_test_setup_teardown(test_no_saved_map, setup, fixture_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
