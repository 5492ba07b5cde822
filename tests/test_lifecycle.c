/* test_lifecycle.c - unit tests for userspace/lifecycle.c: exit reasons
 * from what the kernel saw (signals, OOM kills, exit codes) and restart
 * matching of exits to forks.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_lifecycle
 *
 * The scenarios follow Gunicorn's arbiter: on --timeout the master sends
 * SIGABRT (the worker exits with status 1) and SIGKILL on a later pass; on
 * HUP it forks N new workers, then SIGTERMs the N oldest; on TTIN it forks
 * one; on TTOU it SIGTERMs the oldest; on TERM/INT/QUIT it signals every
 * worker; on USR1 it reopens its logs and sends SIGUSR1 to every worker;
 * after any other exit it forks a replacement. A kernel exit code is
 * status << 8, or the terminating signal in the low 7 bits (0x80: core).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <cmocka.h>

#include "model/lifecycle.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define CODE_STATUS(s) ((s) << 8)
#define CODE_SIGNAL(s) (s)
#define CODE_CORE      0x80

/* who sent a signal to the worker */
enum sender { BY_MASTER, BY_OTHER, BY_SELF };

static void sig(struct worker_fate *f, int s, enum sender who, int master_ctl)
{
	fate_signal(f, s, who == BY_MASTER, who == BY_SELF, master_ctl);
}

static enum exit_reason classify(int code, const struct worker_fate *f)
{
	return classify_exit(code, f);
}

/* a macro, so that a failure names the caller's line */
#define assert_reason(got, want)                                                                             \
	do {                                                                                                 \
		enum exit_reason got_ = (got), want_ = (want);                                               \
		if (got_ != want_)                                                                           \
			fail_msg("reason %s (%d), want %s (%d)", exit_reason_name(got_), (int)got_,          \
				 exit_reason_name(want_), (int)want_);                                       \
	} while (0)

/* every restart counter is zero except restarts[keep] */
static void assert_only_restart(const struct master_life *l, int keep, uint64_t n)
{
	for (int r = 0; r < EXIT_REASONS; r++) {
		if (r == keep)
			assert_int_equal(l->restarts[r], n);
		else if (l->restarts[r])
			fail_msg("restarts{%s} = %llu, want 0", exit_reason_name((enum exit_reason)r),
				 (unsigned long long)l->restarts[r]);
	}
}

static void assert_no_restart(const struct master_life *l)
{
	assert_only_restart(l, -1, 0);
}

/* ---- classify_exit ---- */

static void test_timeout_abort_then_status_1(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* murder_workers: SIGABRT; the worker's handler does sys.exit(1) */
	sig(&f, SIGABRT, BY_MASTER, 0);
	assert_reason(classify(CODE_STATUS(1), &f), EXIT_TIMEOUT);
}

static void test_timeout_abort_then_kill(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* the abort did not end it: SIGKILL on the next pass */
	sig(&f, SIGABRT, BY_MASTER, 0);
	sig(&f, SIGKILL, BY_MASTER, 0);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_TIMEOUT);
}

static void test_timeout_abort_wins_over_old_control(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* a HUP or TTOU long ago does not make a timeout a reload */
	sig(&f, SIGABRT, BY_MASTER, SIGHUP);
	assert_reason(classify(CODE_STATUS(1), &f), EXIT_TIMEOUT);

	memset(&f, 0, sizeof(f));
	sig(&f, SIGABRT, BY_MASTER, SIGTTOU);
	assert_reason(classify(CODE_STATUS(1), &f), EXIT_TIMEOUT);
}

static void test_timeout_kill_without_control(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	sig(&f, SIGKILL, BY_MASTER, 0);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_TIMEOUT);

	/* TTIN only adds a worker: a later SIGKILL is still a timeout */
	memset(&f, 0, sizeof(f));
	sig(&f, SIGKILL, BY_MASTER, SIGTTIN);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_TIMEOUT);
}

static void test_reload_after_hup(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	sig(&f, SIGTERM, BY_MASTER, SIGHUP);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_RELOAD);
}

static void test_reload_after_usr2(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	sig(&f, SIGTERM, BY_MASTER, SIGUSR2);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_RELOAD);
}

static void test_scale_down_after_ttou(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	sig(&f, SIGTERM, BY_MASTER, SIGTTOU);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SCALE_DOWN);
}

static void test_shutdown_after_term_int_quit(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* graceful stop: SIGTERM to every worker */
	sig(&f, SIGTERM, BY_MASTER, SIGTERM);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SHUTDOWN);

	/* quick stop after INT or QUIT: SIGQUIT to every worker */
	memset(&f, 0, sizeof(f));
	sig(&f, SIGQUIT, BY_MASTER, SIGINT);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SHUTDOWN);

	memset(&f, 0, sizeof(f));
	sig(&f, SIGQUIT, BY_MASTER, SIGQUIT);
	assert_reason(classify(CODE_SIGNAL(SIGQUIT), &f), EXIT_SHUTDOWN);
}

static void test_shutdown_kill_after_graceful_timeout(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* the worker outlived --graceful-timeout: SIGKILL */
	sig(&f, SIGTERM, BY_MASTER, SIGTERM);
	sig(&f, SIGKILL, BY_MASTER, SIGTERM);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_SHUTDOWN);
}

static void test_oom_wins_over_everything(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* the OOM killer sends SIGKILL from another context */
	sig(&f, SIGKILL, BY_OTHER, 0);
	f.oom = 1;
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_OOM);

	/* even when the master was aborting it for a timeout at the time */
	memset(&f, 0, sizeof(f));
	sig(&f, SIGABRT, BY_MASTER, 0);
	sig(&f, SIGKILL, BY_MASTER, 0);
	sig(&f, SIGKILL, BY_OTHER, 0);
	f.oom = 1;
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_OOM);

	/* or stopping it for a reload, or it faulted on its own */
	memset(&f, 0, sizeof(f));
	sig(&f, SIGTERM, BY_MASTER, SIGHUP);
	f.oom = 1;
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_OOM);
	assert_reason(classify(CODE_STATUS(3), &f), EXIT_OOM);
}

static void test_killed_by_other_sigkill(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* kill -9 by a user */
	sig(&f, SIGKILL, BY_OTHER, 0);
	assert_int_equal(f.other_sig, SIGKILL);
	assert_int_equal(f.master_sigs, 0);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_KILLED);
}

static void test_killed_by_other_sigterm_clean_exit(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* kill PID by a user: the worker handles TERM and exits with 0 */
	sig(&f, SIGTERM, BY_OTHER, 0);
	assert_int_equal(f.other_sig, SIGTERM);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_KILLED);
}

static void test_killed_by_other_last_fatal_signal_kept(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	sig(&f, SIGTERM, BY_OTHER, 0);
	sig(&f, SIGKILL, BY_OTHER, 0);
	sig(&f, SIGCHLD, BY_OTHER, 0); /* not fatal: does not replace it */
	assert_int_equal(f.other_sig, SIGKILL);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_KILLED);
}

static void test_non_fatal_signals_from_others_ignored(void **state)
{
	static const int non_fatal[] = { SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP,
					 SIGTTIN, SIGTTOU, SIGURG,  SIGWINCH };
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(non_fatal); i++) {
		struct worker_fate f = { 0 };

		/* e.g. a child of the worker exits: SIGCHLD, then --max-requests */
		sig(&f, non_fatal[i], BY_OTHER, 0);
		assert_int_equal(f.other_sig, 0);
		assert_int_equal(f.master_sigs, 0);
		assert_reason(classify(CODE_STATUS(0), &f), EXIT_MAX_REQUESTS);
	}
}

static void test_crash_self_sent_segv(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* a fault: the kernel sends SIGSEGV on the worker's own behalf */
	sig(&f, SIGSEGV, BY_SELF, 0);
	assert_int_equal(f.other_sig, 0);
	assert_int_equal(f.master_sigs, 0);
	assert_reason(classify(CODE_SIGNAL(SIGSEGV), &f), EXIT_CRASH);
	assert_reason(classify(CODE_SIGNAL(SIGSEGV) | CODE_CORE, &f), EXIT_CRASH);

	/* abort() in a C extension */
	memset(&f, 0, sizeof(f));
	sig(&f, SIGABRT, BY_SELF, 0);
	assert_reason(classify(CODE_SIGNAL(SIGABRT) | CODE_CORE, &f), EXIT_CRASH);
}

static void test_crash_nonzero_status(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	assert_reason(classify(CODE_STATUS(3), &f), EXIT_CRASH); /* worker boot error */
	assert_reason(classify(CODE_STATUS(1), &f), EXIT_CRASH); /* no master SIGABRT: not a timeout */
	assert_reason(classify(CODE_STATUS(255), &f), EXIT_CRASH);
}

static void test_max_requests_clean_exit(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	assert_reason(classify(CODE_STATUS(0), &f), EXIT_MAX_REQUESTS);
}

/* ---- fate_signal ---- */

static void test_fate_master_ctl_at_first_master_signal(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* stopped after HUP; TTOU arrives before it is gone and the master
	 * kills it: still a reload */
	sig(&f, SIGTERM, BY_MASTER, SIGHUP);
	assert_int_equal(f.master_ctl, SIGHUP);
	sig(&f, SIGKILL, BY_MASTER, SIGTTOU);
	assert_int_equal(f.master_ctl, SIGHUP);
	assert_true(f.master_sigs & (1ULL << SIGTERM));
	assert_true(f.master_sigs & (1ULL << SIGKILL));
	assert_int_equal(f.master_sigs, (1ULL << SIGTERM) | (1ULL << SIGKILL));
	assert_int_equal(f.other_sig, 0);
	assert_reason(classify(CODE_SIGNAL(SIGKILL), &f), EXIT_RELOAD);
}

static void test_fate_signals_from_others_leave_master_ctl(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	/* the other sender's signal does not count as the master's first */
	sig(&f, SIGTERM, BY_OTHER, SIGTERM);
	sig(&f, SIGSEGV, BY_SELF, SIGTERM);
	assert_int_equal(f.master_sigs, 0);
	assert_int_equal(f.master_ctl, 0);
	sig(&f, SIGTERM, BY_MASTER, SIGTTOU);
	assert_int_equal(f.master_ctl, SIGTTOU);
	/* the master's word explains the exit better than the other's */
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SCALE_DOWN);
}

static void test_fate_out_of_range_signals_ignored(void **state)
{
	static const int bad[] = { 0, -1, -SIGKILL, 65, 1000 };
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct worker_fate f = { 0 };

		sig(&f, bad[i], BY_MASTER, SIGHUP);
		sig(&f, bad[i], BY_OTHER, 0);
		assert_int_equal(f.master_sigs, 0);
		assert_int_equal(f.master_ctl, 0);
		assert_int_equal(f.other_sig, 0);
	}
}

/* The master forwards USR1 (log reopen, as logrotate sends it) to every
 * worker. That is not the signal that stops the worker, so it must not fix
 * the control signal that explains a later stop. */
static void test_usr1_log_reopen_then_ttou_is_scale_down(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate f = { 0 };
	(void)state;

	life_signal(&l, SIGUSR1, 10.0);
	sig(&f, SIGUSR1, BY_MASTER, l.last_ctl);
	life_signal(&l, SIGTTOU, 20.0);
	sig(&f, SIGTERM, BY_MASTER, l.last_ctl);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SCALE_DOWN);
}

static void test_usr1_log_reopen_then_shutdown_is_shutdown(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate f = { 0 };
	(void)state;

	life_signal(&l, SIGUSR1, 10.0);
	sig(&f, SIGUSR1, BY_MASTER, l.last_ctl);
	life_signal(&l, SIGTERM, 20.0);
	sig(&f, SIGTERM, BY_MASTER, l.last_ctl);
	assert_reason(classify(CODE_STATUS(0), &f), EXIT_SHUTDOWN);
}

static void test_usr1_log_reopen_then_timeout_is_timeout(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate f = { 0 };
	(void)state;

	life_signal(&l, SIGUSR1, 10.0);
	sig(&f, SIGUSR1, BY_MASTER, l.last_ctl);
	sig(&f, SIGABRT, BY_MASTER, l.last_ctl);
	assert_reason(classify(CODE_STATUS(1), &f), EXIT_TIMEOUT);
}

/* kill -RTMAX (signal 64, fatal by default) by a user is a kill like any
 * other, not a crash. */
static void test_killed_by_other_sigrtmax(void **state)
{
	struct worker_fate f = { 0 };
	(void)state;

	assert_int_equal(SIGRTMAX, 64);
	sig(&f, SIGRTMAX, BY_OTHER, 0);
	assert_reason(classify(CODE_SIGNAL(SIGRTMAX), &f), EXIT_KILLED);
}

/* ---- restart matching ---- */

static void test_kill9_exit_then_fork_is_restart(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate f = { 0 };
	enum exit_reason r;
	(void)state;

	sig(&f, SIGKILL, BY_OTHER, l.last_ctl);
	r = classify(CODE_SIGNAL(SIGKILL), &f);
	assert_reason(r, EXIT_KILLED);
	assert_int_equal(life_exit(&l, r, 100.0), 0); /* not answered yet */
	assert_int_equal(l.npending, 1);
	life_fork(&l, 100.02);
	assert_int_equal(l.exits[EXIT_KILLED], 1);
	assert_only_restart(&l, EXIT_KILLED, 1);
	assert_int_equal(l.npending, 0);
}

static void test_hup_two_forks_two_reload_exits(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate old[2];
	(void)state;

	memset(old, 0, sizeof(old));
	life_signal(&l, SIGHUP, 50.0);
	assert_int_equal(l.last_ctl, SIGHUP);
	/* the new workers first ... */
	life_fork(&l, 50.01);
	life_fork(&l, 50.02);
	assert_int_equal(l.reload_forks, 2);
	assert_no_restart(&l);
	/* ... then SIGTERM to the two oldest */
	for (int i = 0; i < 2; i++) {
		enum exit_reason r;

		sig(&old[i], SIGTERM, BY_MASTER, l.last_ctl);
		r = classify(CODE_STATUS(0), &old[i]);
		assert_reason(r, EXIT_RELOAD);
		assert_int_equal(life_exit(&l, r, 50.5 + i), 1);
	}
	assert_int_equal(l.exits[EXIT_RELOAD], 2);
	assert_only_restart(&l, EXIT_RELOAD, 2);
	assert_int_equal(l.reload_forks, 0);
	assert_int_equal(l.npending, 0);
}

static void test_reload_exit_before_its_fork(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	/* if the exit is seen before the fork, the fork still answers it */
	life_signal(&l, SIGHUP, 50.0);
	assert_int_equal(life_exit(&l, EXIT_RELOAD, 50.1), 0);
	life_fork(&l, 50.2);
	assert_only_restart(&l, EXIT_RELOAD, 1);
	assert_int_equal(l.reload_forks, 0);
	assert_int_equal(l.npending, 0);
}

static void test_ttin_fork_then_ttou_exit_no_restart(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate f = { 0 };
	enum exit_reason r;
	(void)state;

	life_signal(&l, SIGTTIN, 10.0);
	assert_int_equal(l.last_ctl, SIGTTIN);
	life_fork(&l, 10.01); /* one more worker: answers no exit */
	assert_int_equal(l.reload_forks, 0);
	assert_int_equal(l.npending, 0);

	life_signal(&l, SIGTTOU, 20.0);
	sig(&f, SIGTERM, BY_MASTER, l.last_ctl);
	r = classify(CODE_STATUS(0), &f);
	assert_reason(r, EXIT_SCALE_DOWN);
	assert_int_equal(life_exit(&l, r, 20.1), 0);
	assert_int_equal(l.exits[EXIT_SCALE_DOWN], 1);
	assert_int_equal(l.npending, 0); /* no fork is expected for it */

	/* a later fork for some other reason does not make it a restart */
	life_fork(&l, 21.0);
	assert_no_restart(&l);
}

static void test_shutdown_exits_no_restart(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	life_signal(&l, SIGTERM, 10.0);
	for (int i = 0; i < 4; i++) {
		struct worker_fate f = { 0 };
		enum exit_reason r;

		sig(&f, SIGTERM, BY_MASTER, l.last_ctl);
		r = classify(CODE_STATUS(0), &f);
		assert_reason(r, EXIT_SHUTDOWN);
		assert_int_equal(life_exit(&l, r, 10.1 + i * 0.01), 0);
	}
	assert_int_equal(l.exits[EXIT_SHUTDOWN], 4);
	assert_int_equal(l.npending, 0);
	assert_no_restart(&l);
}

static void test_max_requests_interleaved_two_workers(void **state)
{
	struct master_life l = { 0 };
	struct worker_fate none = { 0 };
	enum exit_reason r = classify(CODE_STATUS(0), &none);
	(void)state;

	assert_reason(r, EXIT_MAX_REQUESTS);
	/* worker A hits --max-requests and is replaced */
	assert_int_equal(life_exit(&l, r, 10.0), 0);
	life_fork(&l, 10.01);
	assert_only_restart(&l, EXIT_MAX_REQUESTS, 1);
	/* B and A' exit close together; the master answers both */
	assert_int_equal(life_exit(&l, r, 20.0), 0);
	assert_int_equal(life_exit(&l, r, 20.005), 0);
	assert_int_equal(l.npending, 2);
	life_fork(&l, 20.01);
	assert_int_equal(l.npending, 1);
	life_fork(&l, 20.02);
	assert_int_equal(l.npending, 0);
	assert_only_restart(&l, EXIT_MAX_REQUESTS, 3);
	/* B' exits, its fork, A'' exits, its fork */
	assert_int_equal(life_exit(&l, r, 30.0), 0);
	life_fork(&l, 30.01);
	assert_int_equal(life_exit(&l, r, 31.0), 0);
	life_fork(&l, 31.01);
	assert_int_equal(l.exits[EXIT_MAX_REQUESTS], 5);
	assert_only_restart(&l, EXIT_MAX_REQUESTS, 5);
	assert_int_equal(l.npending, 0);
}

static void test_forks_answer_oldest_exit_first(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	assert_int_equal(life_exit(&l, EXIT_CRASH, 1.0), 0);
	assert_int_equal(life_exit(&l, EXIT_TIMEOUT, 1.5), 0);
	life_fork(&l, 2.0);
	assert_only_restart(&l, EXIT_CRASH, 1);
	life_fork(&l, 2.1);
	assert_int_equal(l.restarts[EXIT_CRASH], 1);
	assert_int_equal(l.restarts[EXIT_TIMEOUT], 1);
	assert_int_equal(l.npending, 0);
	/* a third fork has nothing to answer */
	life_fork(&l, 2.2);
	assert_int_equal(l.restarts[EXIT_CRASH] + l.restarts[EXIT_TIMEOUT], 2);
}

static void test_fork_after_window_not_a_restart(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	assert_int_equal(life_exit(&l, EXIT_CRASH, 100.0), 0);
	life_fork(&l, 100.0 + OBS_RESTART_WINDOW_S + 0.5);
	assert_int_equal(l.exits[EXIT_CRASH], 1);
	assert_no_restart(&l);
	assert_int_equal(l.npending, 0); /* the stale exit is gone */

	/* within the window it counts */
	assert_int_equal(life_exit(&l, EXIT_CRASH, 200.0), 0);
	life_fork(&l, 200.0 + OBS_RESTART_WINDOW_S - 0.5);
	assert_only_restart(&l, EXIT_CRASH, 1);
}

static void test_expired_exit_does_not_shadow_fresh_one(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	/* an old unanswered crash must not take the fork of a fresh kill */
	assert_int_equal(life_exit(&l, EXIT_CRASH, 0.0), 0);
	assert_int_equal(life_exit(&l, EXIT_KILLED, 100.0), 0);
	life_fork(&l, 100.1);
	assert_only_restart(&l, EXIT_KILLED, 1);
	assert_int_equal(l.npending, 0);
}

static void test_hup_fork_after_window_not_reload(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	life_signal(&l, SIGHUP, 0.0);
	life_fork(&l, OBS_RESTART_WINDOW_S + 1.0);
	assert_int_equal(l.reload_forks, 0);
	assert_int_equal(life_exit(&l, EXIT_RELOAD, OBS_RESTART_WINDOW_S + 2.0), 0);
	assert_no_restart(&l);
}

static void test_pending_overflow_drops_oldest(void **state)
{
	struct master_life l = { 0 };
	const size_t extra = 40;
	(void)state;

	/* the oldest, then more than the table holds, all within the window */
	assert_int_equal(life_exit(&l, EXIT_CRASH, 10.0), 0);
	for (size_t i = 0; i < OBS_MAX_PENDING + extra; i++)
		assert_int_equal(life_exit(&l, EXIT_MAX_REQUESTS, 10.0 + (double)i * 0.001), 0);
	assert_int_equal(l.npending, OBS_MAX_PENDING);
	assert_int_equal(l.exits[EXIT_CRASH], 1);
	assert_int_equal(l.exits[EXIT_MAX_REQUESTS], OBS_MAX_PENDING + extra);
	/* the table holds the newest, oldest first */
	for (size_t i = 0; i < OBS_MAX_PENDING; i++)
		assert_int_equal(l.pending[i].reason, EXIT_MAX_REQUESTS);
	for (size_t i = 1; i < OBS_MAX_PENDING; i++)
		assert_true(l.pending[i - 1].t <= l.pending[i].t);

	for (size_t i = 0; i < OBS_MAX_PENDING + extra; i++)
		life_fork(&l, 11.0);
	assert_int_equal(l.npending, 0);
	assert_only_restart(&l, EXIT_MAX_REQUESTS, OBS_MAX_PENDING);
}

static void test_life_signal_controls_only(void **state)
{
	static const int controls[] = {
		SIGHUP, SIGUSR2, SIGTTIN, SIGTTOU, SIGTERM, SIGINT, SIGQUIT, SIGWINCH
	};
	static const int others[] = { SIGUSR1, SIGCHLD, SIGALRM, SIGPIPE };
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(controls); i++) {
		struct master_life l = { 0 };

		life_signal(&l, controls[i], 7.0 + (double)i);
		assert_int_equal(l.last_ctl, controls[i]);
		assert_true(l.last_ctl_t == 7.0 + (double)i);
	}
	for (size_t i = 0; i < ARRAY_LEN(others); i++) {
		struct master_life l = { 0 };

		life_signal(&l, SIGTTIN, 1.0);
		life_signal(&l, others[i], 2.0);
		assert_int_equal(l.last_ctl, SIGTTIN);
		assert_true(l.last_ctl_t == 1.0);
	}
}

static void test_life_exit_invalid_reason(void **state)
{
	struct master_life l = { 0 };
	(void)state;

	assert_int_equal(life_exit(&l, EXIT_REASONS, 1.0), 0);
	assert_int_equal(life_exit(&l, (enum exit_reason)1000, 1.0), 0);
	assert_int_equal(l.npending, 0);
	for (int r = 0; r < EXIT_REASONS; r++)
		assert_int_equal(l.exits[r], 0);
}

/* ---- names ---- */

static void assert_signal_name(int s, const char *want)
{
	char buf[16];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(signal_name(s, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

static void test_signal_names(void **state)
{
	(void)state;

	assert_signal_name(SIGHUP, "HUP");
	assert_signal_name(SIGTTIN, "TTIN");
	assert_signal_name(SIGTTOU, "TTOU");
	assert_signal_name(SIGCHLD, "CHLD");
	assert_signal_name(SIGKILL, "KILL");
	assert_signal_name(SIGTERM, "TERM");
	assert_signal_name(SIGINT, "INT");
	assert_signal_name(SIGQUIT, "QUIT");
	assert_signal_name(SIGABRT, "ABRT");
	assert_signal_name(SIGUSR1, "USR1");
	assert_signal_name(SIGUSR2, "USR2");
	assert_signal_name(SIGWINCH, "WINCH");
	assert_signal_name(SIGSEGV, "SEGV");
	assert_signal_name(SIGRTMIN + 3, "RTMIN+3");
	assert_signal_name(0, "SIG0");
	assert_signal_name(99, "SIG99");
}

static void test_signal_name_respects_size(void **state)
{
	char buf[8];
	(void)state;

	memset(buf, 'x', sizeof(buf));
	signal_name(SIGRTMIN + 3, buf, 4);
	assert_string_equal(buf, "RTM");
	assert_int_equal(buf[4], 'x');
}

static void test_exit_reason_names(void **state)
{
	static const struct {
		enum exit_reason r;
		const char *name;
	} want[] = {
		{ EXIT_TIMEOUT, "timeout" },
		{ EXIT_OOM, "oom" },
		{ EXIT_MAX_REQUESTS, "max_requests" },
		{ EXIT_RELOAD, "reload" },
		{ EXIT_SCALE_DOWN, "scale_down" },
		{ EXIT_KILLED, "killed" },
		{ EXIT_CRASH, "crash" },
		{ EXIT_SHUTDOWN, "shutdown" },
	};
	(void)state;

	assert_int_equal(ARRAY_LEN(want), EXIT_REASONS);
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		assert_string_equal(exit_reason_name(want[i].r), want[i].name);
	assert_string_equal(exit_reason_name(EXIT_REASONS), "unknown");
	assert_string_equal(exit_reason_name((enum exit_reason)1000), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_abort_then_status_1),
		cmocka_unit_test(test_timeout_abort_then_kill),
		cmocka_unit_test(test_timeout_abort_wins_over_old_control),
		cmocka_unit_test(test_timeout_kill_without_control),
		cmocka_unit_test(test_reload_after_hup),
		cmocka_unit_test(test_reload_after_usr2),
		cmocka_unit_test(test_scale_down_after_ttou),
		cmocka_unit_test(test_shutdown_after_term_int_quit),
		cmocka_unit_test(test_shutdown_kill_after_graceful_timeout),
		cmocka_unit_test(test_oom_wins_over_everything),
		cmocka_unit_test(test_killed_by_other_sigkill),
		cmocka_unit_test(test_killed_by_other_sigterm_clean_exit),
		cmocka_unit_test(test_killed_by_other_last_fatal_signal_kept),
		cmocka_unit_test(test_non_fatal_signals_from_others_ignored),
		cmocka_unit_test(test_crash_self_sent_segv),
		cmocka_unit_test(test_crash_nonzero_status),
		cmocka_unit_test(test_max_requests_clean_exit),
		cmocka_unit_test(test_fate_master_ctl_at_first_master_signal),
		cmocka_unit_test(test_fate_signals_from_others_leave_master_ctl),
		cmocka_unit_test(test_fate_out_of_range_signals_ignored),
		cmocka_unit_test(test_usr1_log_reopen_then_ttou_is_scale_down),
		cmocka_unit_test(test_usr1_log_reopen_then_shutdown_is_shutdown),
		cmocka_unit_test(test_usr1_log_reopen_then_timeout_is_timeout),
		cmocka_unit_test(test_killed_by_other_sigrtmax),
		cmocka_unit_test(test_kill9_exit_then_fork_is_restart),
		cmocka_unit_test(test_hup_two_forks_two_reload_exits),
		cmocka_unit_test(test_reload_exit_before_its_fork),
		cmocka_unit_test(test_ttin_fork_then_ttou_exit_no_restart),
		cmocka_unit_test(test_shutdown_exits_no_restart),
		cmocka_unit_test(test_max_requests_interleaved_two_workers),
		cmocka_unit_test(test_forks_answer_oldest_exit_first),
		cmocka_unit_test(test_fork_after_window_not_a_restart),
		cmocka_unit_test(test_expired_exit_does_not_shadow_fresh_one),
		cmocka_unit_test(test_hup_fork_after_window_not_reload),
		cmocka_unit_test(test_pending_overflow_drops_oldest),
		cmocka_unit_test(test_life_signal_controls_only),
		cmocka_unit_test(test_life_exit_invalid_reason),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_signal_name_respects_size),
		cmocka_unit_test(test_exit_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
