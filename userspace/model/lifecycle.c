/* lifecycle.c - exit reasons from signals and exit codes, and restart
 * matching: an exit is a restart when its master forks a worker for it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "model/lifecycle.h"

static const char *const reason_names[EXIT_REASONS] = {
	[EXIT_TIMEOUT] = "timeout",
	[EXIT_OOM] = "oom",
	[EXIT_MAX_REQUESTS] = "max_requests",
	[EXIT_RELOAD] = "reload",
	[EXIT_SCALE_DOWN] = "scale_down",
	[EXIT_KILLED] = "killed",
	[EXIT_CRASH] = "crash",
	[EXIT_SHUTDOWN] = "shutdown",
};

const char *exit_reason_name(enum exit_reason r)
{
	return r < EXIT_REASONS ? reason_names[r] : "unknown";
}

const char *signal_name(int sig, char *buf, size_t size)
{
	static const char *const names[] = {
		[SIGHUP] = "HUP",   [SIGINT] = "INT",       [SIGQUIT] = "QUIT", [SIGILL] = "ILL",
		[SIGTRAP] = "TRAP", [SIGABRT] = "ABRT",     [SIGBUS] = "BUS",   [SIGFPE] = "FPE",
		[SIGKILL] = "KILL", [SIGUSR1] = "USR1",     [SIGSEGV] = "SEGV", [SIGUSR2] = "USR2",
		[SIGPIPE] = "PIPE", [SIGALRM] = "ALRM",     [SIGTERM] = "TERM", [SIGSTKFLT] = "STKFLT",
		[SIGCHLD] = "CHLD", [SIGCONT] = "CONT",     [SIGSTOP] = "STOP", [SIGTSTP] = "TSTP",
		[SIGTTIN] = "TTIN", [SIGTTOU] = "TTOU",     [SIGURG] = "URG",   [SIGXCPU] = "XCPU",
		[SIGXFSZ] = "XFSZ", [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",
		[SIGIO] = "IO",     [SIGPWR] = "PWR",       [SIGSYS] = "SYS",
	};

	if (sig > 0 && (size_t)sig < sizeof(names) / sizeof(names[0]) && names[sig])
		snprintf(buf, size, "%s", names[sig]);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "RTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "SIG%d", sig);
	return buf;
}

/* Signals that end a Gunicorn worker: those whose default action ends a
 * process, less USR1 (a worker reopens its logs on it). */
static int is_fatal(int sig)
{
	switch (sig) {
	case SIGUSR1:
	case SIGCHLD:
	case SIGCONT:
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
	case SIGURG:
	case SIGWINCH:
		return 0;
	}
	return sig > 0 && sig <= 64;
}

/* The signals a master stops a worker with. */
#define STOP_SIGS                                                                                            \
	((1ULL << SIGTERM) | (1ULL << SIGQUIT) | (1ULL << SIGINT) | (1ULL << SIGKILL) | (1ULL << SIGABRT))

void fate_signal(struct worker_fate *f, int sig, int from_master, int from_self, int master_ctl)
{
	if (sig <= 0 || sig > 64)
		return;
	if (from_master && sig < 64) {
		/* why the master stops it is the control signal it had then; a
		 * USR1 passed on for log reopening earlier says nothing */
		if ((STOP_SIGS & (1ULL << sig)) && !(f->master_sigs & STOP_SIGS))
			f->master_ctl = master_ctl;
		f->master_sigs |= 1ULL << sig;
	} else if (!from_master && !from_self && is_fatal(sig)) {
		f->other_sig = sig;
	}
}

static enum exit_reason by_master_ctl(int ctl, enum exit_reason otherwise)
{
	switch (ctl) {
	case SIGHUP:
	case SIGUSR2:
		return EXIT_RELOAD;
	case SIGTTOU:
		return EXIT_SCALE_DOWN;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		return EXIT_SHUTDOWN;
	}
	return otherwise;
}

enum exit_reason classify_exit(int code, const struct worker_fate *f)
{
	int sig = code & 0x7f, status = (code >> 8) & 0xff;
	uint64_t stop = (1ULL << SIGTERM) | (1ULL << SIGQUIT) | (1ULL << SIGINT);

	if (f->oom)
		return EXIT_OOM;
	/* Gunicorn's master aborts a worker only when its heartbeat is older
	 * than --timeout, and kills it when the abort did not end it */
	if (f->master_sigs & (1ULL << SIGABRT))
		return EXIT_TIMEOUT;
	if (f->master_sigs & (1ULL << SIGKILL))
		return by_master_ctl(f->master_ctl, EXIT_TIMEOUT);
	if (f->master_sigs & stop)
		return by_master_ctl(f->master_ctl, EXIT_RELOAD);
	if (f->other_sig)
		return EXIT_KILLED;
	if (sig)
		return EXIT_CRASH; /* a fault or a signal it raised itself */
	return status == 0 ? EXIT_MAX_REQUESTS : EXIT_CRASH;
}

void life_signal(struct master_life *l, int sig, double t)
{
	switch (sig) {
	case SIGHUP:
		l->reload_forks = 0;
		/* fall through */
	case SIGUSR2:
	case SIGTTIN:
	case SIGTTOU:
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
	case SIGWINCH:
		l->last_ctl = sig;
		l->last_ctl_t = t;
		break;
	}
}

static void drop_expired(struct master_life *l, double t)
{
	size_t keep = 0;

	for (size_t i = 0; i < l->npending; i++)
		if (t - l->pending[i].t <= OBS_RESTART_WINDOW_S)
			l->pending[keep++] = l->pending[i];
	l->npending = keep;
}

void life_fork(struct master_life *l, double t)
{
	drop_expired(l, t);
	if (l->npending) {
		l->restarts[l->pending[0].reason]++;
		memmove(&l->pending[0], &l->pending[1], (l->npending - 1) * sizeof(l->pending[0]));
		l->npending--;
		return;
	}
	/* on HUP Gunicorn forks the new workers before it stops the old ones */
	if (l->last_ctl == SIGHUP && t - l->last_ctl_t <= OBS_RESTART_WINDOW_S)
		l->reload_forks++;
}

int life_exit(struct master_life *l, enum exit_reason r, double t)
{
	if (r >= EXIT_REASONS)
		return 0;
	l->exits[r]++;
	if (r == EXIT_SCALE_DOWN || r == EXIT_SHUTDOWN)
		return 0; /* the master meant to have fewer workers */
	if (r == EXIT_RELOAD && l->reload_forks) {
		l->reload_forks--;
		l->restarts[r]++;
		return 1;
	}
	drop_expired(l, t);
	if (l->npending == OBS_MAX_PENDING) {
		memmove(&l->pending[0], &l->pending[1], (OBS_MAX_PENDING - 1) * sizeof(l->pending[0]));
		l->npending--;
	}
	l->pending[l->npending].reason = r;
	l->pending[l->npending].t = t;
	l->npending++;
	return 0;
}
