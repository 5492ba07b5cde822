/* test_kread.c - unit tests for userspace/kernel/kread.c: one read of the
 * BPF maps into plain data, over the fake maps of tests/fake_maps.h.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_kread
 *
 * The maps hold two masters (10, 20) and their workers: 11 and 21 live in
 * procs, 12 in stats only (exited before the read), 13 forked between the
 * read of procs and the read of stats (procs gets it after its walk), and
 * codes of 99, a worker the stats map does not hold.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <cmocka.h>

#include "fake_maps.h"

#include "kernel/kread.h"

static struct fake_loader_maps fm;
static struct loader ld;
static __u64 drops[OBS_DROP_MAX];

static struct obs_worker_stats stats_of(pid_t master, __u64 requests)
{
	struct obs_worker_stats st = { .master = (__u32)master, .requests = requests };

	st.dur_sum_ns = requests * 1000;
	st.dur_buckets[2] = requests;
	return st;
}

/* 13 is forked now: after procs was walked, before stats is asked again. */
static void fork_13(int fd, void *ctx)
{
	(void)ctx;
	fake_put_proc(fd, 13, 10, OBS_ROLE_WORKER);
}

/* Master 30 starts being followed after procs was walked. */
static void track_30(int fd, void *ctx)
{
	(void)ctx;
	fake_put_proc(fd, 30, 30, OBS_ROLE_MASTER);
}

static int setup(void **state)
{
	struct obs_worker_stats st;

	(void)state;
	fake_maps_install();
	fake_loader_maps_new(&fm, 8);
	for (int i = 0; i < OBS_DROP_MAX; i++)
		drops[i] = (__u64)(10 * i + 1);
	fake_loader_init(&ld, &fm, OBS_PLANE_SOCKET, drops);

	fake_put_proc(fm.procs, 10, 10, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 11, 10, OBS_ROLE_WORKER);
	fake_put_proc(fm.procs, 20, 20, OBS_ROLE_MASTER);
	fake_put_proc(fm.procs, 21, 20, OBS_ROLE_WORKER);
	/* stats in an order of their own: the read sorts them by pid */
	st = stats_of(20, 3);
	fake_put_stats(fm.stats, 21, &st);
	st = stats_of(10, 7);
	fake_put_stats(fm.stats, 12, &st);
	st = stats_of(10, 5);
	fake_put_stats(fm.stats, 11, &st);
	st = stats_of(10, 0);
	fake_put_stats(fm.stats, 13, &st);

	fake_put_code(fm.codes, 11, 200, 4);
	fake_put_code(fm.codes, 12, 200, 7);
	fake_put_code(fm.codes, 11, 500, 1);
	fake_put_code(fm.codes, 21, 404, 2);
	fake_put_code(fm.codes, 99, 200, 9);

	fake_put_signal(fm.msigs, 10, SIGHUP, 2);
	fake_put_signal(fm.msigs, 20, SIGTERM, 1);

	fake_put_conn(fm.conns, 1, 11, OBS_CONN_REQUEST, 5000, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 2, 11, OBS_CONN_REQUEST, 3000, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 3, 11, OBS_CONN_RESPONSE, 1000, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 4, 21, OBS_CONN_IDLE, 100, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 5, 99, OBS_CONN_REQUEST, 200, OBS_KEY_COOKIE);
	fake_put_conn(fm.conns, 6, 12, OBS_CONN_RESPONSE, 300, OBS_KEY_COOKIE);

	for (__u64 id = 1; id <= 3; id++) {
		unsigned char v[FAKE_STASH_VALUE] = { 0 };

		fake_map_put(fm.stash, &id, v);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_maps_uninstall();
	return 0;
}

static struct kworker *worker(const struct kread *k, pid_t pid)
{
	struct kworker *w = kread_worker(k, pid);

	if (!w)
		fail_msg("worker %d not in the read", (int)pid);
	return w;
}

/* A master the walk did not show is asked by key before anyone calls it
 * gone: a walk that stopped part way (or ran before the master was
 * tracked) must not make retire forget it. */
static void test_master_missing_from_walk_asked_again(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_after_walk(fm.procs, track_30, NULL);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(kread_procs_ok(&k), 1);
	assert_int_equal(k.nmasters, 2); /* 10 and 20: 30 came after the walk */
	assert_true(kread_has_master(&k, 30));
	assert_true(kread_has_master(&k, 10));
	assert_false(kread_has_master(&k, 40));
	assert_false(kread_has_master(&k, 11)); /* a worker, not a master */
	kread_free(&k);
}

/* A kread read again reuses its arrays and holds only the second read. */
static void test_read_again_reuses(void **state)
{
	struct kread k = { 0 };
	struct kworker *first;

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nw, 4);
	assert_int_equal(worker(&k, 13)->live, 0);
	first = k.w;
	fake_put_proc(fm.procs, 13, 10, OBS_ROLE_WORKER);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_ptr_equal(k.w, first); /* the same room */
	assert_int_equal(k.nw, 4);
	assert_int_equal(k.nmasters, 2);
	assert_int_equal(k.nsig, 2);
	assert_int_equal(worker(&k, 13)->live, 1);
	assert_int_equal(worker(&k, 11)->codes.n, 2); /* read afresh, not added to the first */
	assert_int_equal(worker(&k, 11)->codes.v[0].count, 4);
	kread_free(&k);
}

static void test_workers_live_and_exited(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_after_walk(fm.procs, fork_13, NULL);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nw, 4);
	assert_int_equal(k.w[0].pid, 11);
	assert_int_equal(k.w[1].pid, 12);
	assert_int_equal(k.w[2].pid, 13);
	assert_int_equal(k.w[3].pid, 21);
	assert_int_equal(worker(&k, 11)->live, 1);
	assert_int_equal(worker(&k, 12)->live, 0); /* gone from procs both times */
	assert_int_equal(worker(&k, 13)->live, 1); /* found by the second lookup */
	assert_int_equal(worker(&k, 21)->live, 1);
	assert_int_equal(worker(&k, 11)->master, 10);
	assert_int_equal(worker(&k, 12)->master, 10);
	assert_int_equal(worker(&k, 21)->master, 20);
	assert_int_equal(worker(&k, 11)->st.requests, 5);
	assert_int_equal(worker(&k, 12)->st.requests, 7);
	assert_int_equal(worker(&k, 12)->st.dur_sum_ns, 7000);
	assert_int_equal(worker(&k, 12)->st.dur_buckets[2], 7);
	assert_null(kread_worker(&k, 10));
	assert_null(kread_worker(&k, 99));
	assert_int_equal(kread_procs_ok(&k), 1);
	assert_int_equal(k.read_failures, 0);
	kread_free(&k);
	assert_int_equal(k.nw, 0);
}

static void test_worker_forked_unseen_is_not_live(void **state)
{
	struct kread k = { 0 };

	(void)state;
	/* 13 never reaches procs: it is as exited as 12 */
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(worker(&k, 13)->live, 0);
	assert_int_equal(worker(&k, 12)->live, 0);
	assert_int_equal(worker(&k, 11)->live, 1);
	kread_free(&k);
}

static void test_codes_attached_to_their_worker(void **state)
{
	struct kread k = { 0 };
	struct kworker *w;

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	w = worker(&k, 11);
	assert_int_equal(w->codes.n, 2);
	assert_int_equal(w->codes.v[0].code, 200);
	assert_int_equal(w->codes.v[0].count, 4);
	assert_int_equal(w->codes.v[1].code, 500);
	assert_int_equal(w->codes.v[1].count, 1);
	w = worker(&k, 12);
	assert_int_equal(w->codes.n, 1);
	assert_int_equal(code_count(&w->codes, 200), 7);
	assert_int_equal(worker(&k, 13)->codes.n, 0);
	w = worker(&k, 21);
	assert_int_equal(w->codes.n, 1);
	assert_int_equal(code_count(&w->codes, 404), 2);
	/* 99's 200s went to no one */
	assert_int_equal(code_count(&worker(&k, 11)->codes, 200) + code_count(&worker(&k, 12)->codes, 200),
			 11);
	assert_int_equal(k.maps[KMAP_CODES].entries, 5);
	kread_free(&k);
}

static void test_masters_list(void **state)
{
	struct kread k = { 0 };

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nmasters, 2);
	assert_int_equal(k.masters[0], 10);
	assert_int_equal(k.masters[1], 20);
	assert_true(kread_has_master(&k, 10));
	assert_true(kread_has_master(&k, 20));
	assert_false(kread_has_master(&k, 11)); /* a worker, not a master */
	assert_false(kread_has_master(&k, 30));
	kread_free(&k);
}

static void test_masters_sorted(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_put_proc(fm.procs, 5, 5, OBS_ROLE_MASTER); /* last in, lowest pid */
	fake_put_proc(fm.procs, 15, 15, 0);             /* no role: neither */
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nmasters, 3);
	assert_int_equal(k.masters[0], 5);
	assert_int_equal(k.masters[1], 10);
	assert_int_equal(k.masters[2], 20);
	assert_false(kread_has_master(&k, 15));
	kread_free(&k);
}

static void test_signals(void **state)
{
	struct kread k = { 0 };
	int seen = 0;

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nsig, 2);
	for (size_t i = 0; i < k.nsig; i++) {
		if (k.sig[i].master == 10) {
			assert_int_equal(k.sig[i].sig, SIGHUP);
			assert_int_equal(k.sig[i].count, 2);
			seen |= 1;
		} else if (k.sig[i].master == 20) {
			assert_int_equal(k.sig[i].sig, SIGTERM);
			assert_int_equal(k.sig[i].count, 1);
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	kread_free(&k);
}

static void test_busy_oldest_request(void **state)
{
	struct kread k = { 0 };

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	/* the older RESPONSE one (1000) is answered already */
	assert_int_equal(worker(&k, 11)->oldest_request_ns, 3000);
	assert_int_equal(worker(&k, 12)->oldest_request_ns, 0);
	assert_int_equal(worker(&k, 13)->oldest_request_ns, 0);
	assert_int_equal(worker(&k, 21)->oldest_request_ns, 0); /* idle */
	kread_free(&k);
}

static void test_map_fill(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_after_walk(fm.procs, fork_13, NULL);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	/* procs as its walk found it, before 13 came */
	assert_int_equal(k.maps[KMAP_PROCS].entries, 4);
	assert_int_equal(k.maps[KMAP_PROCS].capacity, 16);
	assert_int_equal(k.maps[KMAP_STATS].entries, 4);
	assert_int_equal(k.maps[KMAP_STATS].capacity, 8);
	assert_int_equal(k.maps[KMAP_CODES].entries, 5);
	assert_int_equal(k.maps[KMAP_CODES].capacity, 32);
	assert_int_equal(k.maps[KMAP_MSIGS].entries, 2);
	assert_int_equal(k.maps[KMAP_MSIGS].capacity, 8);
	assert_int_equal(k.maps[KMAP_CONNS].entries, 6);
	assert_int_equal(k.maps[KMAP_CONNS].capacity, 32);
	assert_int_equal(k.maps[KMAP_STASH].entries, 3);
	assert_int_equal(k.maps[KMAP_STASH].capacity, 16);
	for (int m = 0; m < KMAP_COUNT; m++)
		assert_int_equal(k.maps[m].ok, 1);
	assert_string_equal(kmap_names[KMAP_CONNS], "conns");
	assert_string_equal(kmap_names[KMAP_MSIGS], "msigs");
	kread_free(&k);
}

static void test_drops_copied(void **state)
{
	struct kread k = { 0 };

	(void)state;
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	for (int i = 0; i < OBS_DROP_MAX; i++)
		assert_int_equal(k.drops[i], 10 * i + 1);
	kread_free(&k);
	ld.drops = NULL; /* not mapped: all 0 */
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	for (int i = 0; i < OBS_DROP_MAX; i++)
		assert_int_equal(k.drops[i], 0);
	kread_free(&k);
}

static void test_failing_map_counted(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_fail(fm.codes, FAKE_FAIL_ALL);
	fake_map_fail(fm.stash, FAKE_FAIL_WALK);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.read_failures, 2);
	assert_int_equal(k.maps[KMAP_CODES].ok, 0);
	assert_int_equal(k.maps[KMAP_CODES].entries, 0);
	assert_int_equal(k.maps[KMAP_STASH].ok, 0);
	assert_int_equal(k.maps[KMAP_STATS].ok, 1);
	assert_int_equal(kread_procs_ok(&k), 1);
	assert_int_equal(k.nw, 4);
	assert_int_equal(worker(&k, 11)->codes.n, 0);
	kread_free(&k);
}

static void test_procs_unreadable(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_fail(fm.procs, FAKE_FAIL_ALL);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(kread_procs_ok(&k), 0);
	assert_int_equal(k.read_failures, 1);
	assert_int_equal(k.maps[KMAP_PROCS].ok, 0);
	assert_int_equal(k.nmasters, 0);
	/* who is a master is unknown: any may be */
	assert_true(kread_has_master(&k, 10));
	assert_true(kread_has_master(&k, 30));
	assert_int_equal(k.nw, 4);
	for (size_t i = 0; i < k.nw; i++)
		assert_int_equal(k.w[i].live, 0);
	kread_free(&k);
}

static void test_procs_walk_fails_lookups_answer(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_fail(fm.procs, FAKE_FAIL_WALK);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(kread_procs_ok(&k), 0);
	assert_int_equal(worker(&k, 11)->live, 1);
	assert_int_equal(worker(&k, 12)->live, 0);
	assert_int_equal(worker(&k, 13)->live, 0);
	assert_int_equal(worker(&k, 21)->live, 1);
	kread_free(&k);
}

static void test_stats_unreadable(void **state)
{
	struct kread k = { 0 };

	(void)state;
	fake_map_fail(fm.stats, FAKE_FAIL_WALK);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	assert_int_equal(k.nw, 0);
	assert_int_equal(k.read_failures, 1);
	assert_int_equal(k.maps[KMAP_CODES].ok, 1); /* read, but no one to give them to */
	assert_int_equal(k.nmasters, 2);
	assert_null(kread_worker(&k, 11));
	kread_free(&k);
}

static void test_kread_changes_no_map(void **state)
{
	struct fake_loader_copy before;
	struct kread k = { 0 };

	(void)state;
	fake_loader_copy(&fm, &before);
	assert_int_equal(kread(&ld, KREAD_ALL, &k), 0);
	kread_free(&k);
	assert_int_equal(kread(&ld, KREAD_RETIRE, &k), 0);
	kread_free(&k);
	assert_true(fake_loader_same(&fm, &before));
	assert_int_equal(fake_loader_writes(&fm), 0);
	fake_loader_copy_free(&before);
}

static void test_retire_scope_reads_less(void **state)
{
	struct kread k = { 0 };

	(void)state;
	assert_int_equal(kread(&ld, KREAD_RETIRE, &k), 0);
	assert_int_equal(k.nw, 4);
	assert_int_equal(k.nmasters, 2);
	assert_int_equal(worker(&k, 11)->codes.n, 2);
	assert_int_equal(k.nsig, 0);
	assert_int_equal(worker(&k, 11)->oldest_request_ns, 0);
	assert_int_equal(k.drops[OBS_DROP_RINGBUF_FULL], 0);
	assert_int_equal(k.maps[KMAP_MSIGS].ok, 0);
	assert_int_equal(k.maps[KMAP_CONNS].ok, 0);
	assert_int_equal(k.maps[KMAP_STASH].ok, 0);
	assert_int_equal(k.read_failures, 0);
	assert_int_equal(fake_map_of(fm.msigs)->walks, 0);
	assert_int_equal(fake_map_of(fm.conns)->walks, 0);
	assert_int_equal(fake_map_of(fm.stash)->walks, 0);
	kread_free(&k);
}

static void test_empty_maps(void **state)
{
	struct fake_loader_maps empty;
	struct loader l;
	struct kread k = { 0 };

	(void)state;
	fake_loader_maps_new(&empty, 4);
	fake_loader_init(&l, &empty, OBS_PLANE_SOCKET, NULL);
	assert_int_equal(kread(&l, KREAD_ALL, &k), 0);
	assert_int_equal(k.nw, 0);
	assert_int_equal(k.nmasters, 0);
	assert_int_equal(kread_procs_ok(&k), 1);
	assert_false(kread_has_master(&k, 10)); /* read, and no master in it */
	assert_null(kread_worker(&k, 10));
	assert_int_equal(k.maps[KMAP_STATS].capacity, 4);
	kread_free(&k);
}

static void test_worker_stats_lookup(void **state)
{
	struct obs_worker_stats st;

	(void)state;
	assert_int_equal(kread_worker_stats(&ld, 12, &st), 0);
	assert_int_equal(st.requests, 7);
	assert_int_equal(st.master, 10);
	assert_int_equal(kread_worker_stats(&ld, 99, &st), -1);
	assert_int_equal(fake_loader_writes(&fm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workers_live_and_exited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_missing_from_walk_asked_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_again_reuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_forked_unseen_is_not_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codes_attached_to_their_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masters_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masters_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_oldest_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_map_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_procs_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_procs_walk_fails_lookups_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kread_changes_no_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retire_scope_reads_less, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_stats_lookup, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
