/* kread.h - one read of the BPF maps into plain C data, touching nothing:
 * every worker's aggregates (live or exited), the masters the kernel
 * follows, the signals they got, drops and how full the maps are. Retire
 * (model/retire.c) and the snapshot (model/build.c) both start here. */
#ifndef OBS_KREAD_H
#define OBS_KREAD_H

#include <stdint.h>
#include <sys/types.h>

#include "kernel/loader.h"
#include "lib/codes.h"
#include "observer.h"

/* One stats entry: a worker's aggregates as the kernel keeps them. */
struct kworker {
	pid_t pid;
	pid_t master;
	struct obs_worker_stats st;
	struct code_list codes;  /* responses by status code */
	int live;                /* procs holds it as a worker */
	__u64 oldest_request_ns; /* start of its oldest unanswered request, 0 for none */
};

/* Signals delivered to a master, by signal number. */
struct ksignal {
	pid_t master;
	uint32_t sig;
	uint64_t count;
};

/* BPF maps whose entries come and go with connections, threads, processes
 * and workers: a count that does not return to its baseline is a leak. */
enum kmap {
	KMAP_CONNS = 0,
	KMAP_STASH,
	KMAP_PROCS,
	KMAP_STATS,
	KMAP_CODES,
	KMAP_MSIGS,
	KMAP_COUNT,
};

extern const char *const kmap_names[KMAP_COUNT];

struct map_fill {
	uint32_t entries;  /* counted at the read */
	uint32_t capacity; /* max_entries */
	int ok;            /* 0 when the map could not be read */
};

struct kread {
	struct kworker *w; /* by pid */
	size_t nw, capw;
	pid_t *masters; /* what procs holds as masters, sorted */
	size_t nmasters, capm;
	int procs_fd; /* to ask procs again about a master the walk did not show */
	struct ksignal *sig;
	size_t nsig, capsig;
	uint64_t drops[OBS_DROP_MAX];
	uint64_t read_failures; /* maps that could not be read */
	struct map_fill maps[KMAP_COUNT];
};

/* What a read is for: a snapshot reads every map; retire needs procs,
 * stats and codes only. */
enum kread_scope { KREAD_ALL, KREAD_RETIRE };

/* Reads the maps of l into k: zeroed the first time, or a k read before,
 * whose arrays are reused (a read of hundreds of workers then touches no
 * fresh memory). Returns 0, or -1 when memory ran out; a map that cannot be
 * read is counted in read_failures, not an error. */
int kread(const struct loader *l, enum kread_scope scope, struct kread *k);
void kread_free(struct kread *k);
/* The stats entry of pid in k, NULL when it has none. */
struct kworker *kread_worker(const struct kread *k, pid_t pid);
/* Whether procs was read: who is a master and who lives are then as the
 * kernel has them. */
static inline int kread_procs_ok(const struct kread *k)
{
	return k->maps[KMAP_PROCS].ok;
}

/* Whether procs holds pid as a master: in the walk, else asked again by key
 * (a walk that stopped part way must not lose a master); always, when procs
 * was not read. */
int kread_has_master(const struct kread *k, pid_t pid);
/* The aggregates of one worker, looked up now; -1 when it has none. */
int kread_worker_stats(const struct loader *l, pid_t pid, struct obs_worker_stats *out);

#endif
