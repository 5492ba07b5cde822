/* lifecycle.h - why a worker exited, and whether its master replaced it.
 * Pure logic over what the kernel reported (signals, OOM kills, exit codes,
 * forks), so it can be tested without a kernel. */
#ifndef OBS_LIFECYCLE_H
#define OBS_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum exit_reason {
	EXIT_TIMEOUT = 0,  /* the master aborted or killed it after --timeout */
	EXIT_OOM,          /* the kernel's OOM killer */
	EXIT_MAX_REQUESTS, /* a clean exit with no signal: --max-requests */
	EXIT_RELOAD,       /* stopped by the master after HUP or USR2 */
	EXIT_SCALE_DOWN,   /* stopped by the master after TTOU */
	EXIT_KILLED,       /* a fatal signal from any other sender */
	EXIT_CRASH,        /* a non-zero exit, or a fault of its own */
	EXIT_SHUTDOWN,     /* stopped by a master that is shutting down */
	EXIT_REASONS,
};

/* What was seen happen to one worker before it exited. */
struct worker_fate {
	uint64_t master_sigs; /* bit n: the master sent signal n */
	int master_ctl;       /* the master's last control signal when it first signalled the worker */
	int other_sig;        /* the last fatal signal from another process, 0 for none */
	int oom;              /* chosen by the OOM killer */
};

/* How a master's workers came and went, for restart accounting. */
#define OBS_MAX_PENDING 64
struct master_life {
	int last_ctl; /* the last control signal the master got (HUP, TTIN, ...) */
	double last_ctl_t;
	unsigned reload_forks; /* forks after a HUP that no reload exit has claimed yet */
	struct {
		enum exit_reason reason;
		double t;
	} pending[OBS_MAX_PENDING]; /* exits not yet answered by a fork, oldest first */
	size_t npending;
	uint64_t exits[EXIT_REASONS];
	uint64_t restarts[EXIT_REASONS];
};

/* The window in which a fork answers an exit. */
#define OBS_RESTART_WINDOW_S 30.0

const char *exit_reason_name(enum exit_reason r);
/* "HUP", "TERM", "RTMIN+3"...; buf holds at least 16 bytes. */
const char *signal_name(int sig, char *buf, size_t size);

/* Records a signal generated for a worker by sender (self when equal). */
void fate_signal(struct worker_fate *f, int sig, int from_master, int from_self, int master_ctl);
/* The reason of an exit with the kernel's exit code (status << 8 | signal). */
enum exit_reason classify_exit(int code, const struct worker_fate *f);

/* Master-side bookkeeping: a control signal, a fork, an exit. */
void life_signal(struct master_life *l, int sig, double t);
void life_fork(struct master_life *l, double t);
/* Counts the exit; returns 1 when it is already answered by a fork. */
int life_exit(struct master_life *l, enum exit_reason r, double t);

#endif
