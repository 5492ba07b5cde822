/* snapshot.h - one consistent read of everything the observer knows, as
 * plain C data. collect.c fills it; the renderers only read it. */
#ifndef OBS_SNAPSHOT_H
#define OBS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/discover.h"
#include "kernel/loader.h"
#include "host/k8s.h"
#include "model/lifecycle.h"
#include "host/listeners.h"
#include "observer.h"

struct code_count {
	uint32_t code;
	uint64_t count;
};

/* Counts by status code, sorted by code. */
struct code_list {
	struct code_count *v;
	size_t n, cap;
};

int codes_add(struct code_list *l, uint32_t code, uint64_t count);
void codes_free(struct code_list *l);

/* Request totals of a master: all its workers, gone ones included. */
struct totals {
	__u64 requests;
	__u64 dur_sum_ns;
	__u64 dur_buckets[OBS_MAX_DUR_BOUNDS + 1];
	struct code_list codes;
};

/* Adds the requests of one worker to t. */
int totals_add_worker(struct totals *t, const struct obs_worker_stats *s, const struct code_list *codes);
int totals_add(struct totals *t, const struct totals *o);
void totals_free(struct totals *t);

enum worker_state { WORKER_IDLE = 0, WORKER_BUSY, WORKER_STUCK, WORKER_STATES };

struct worker_snap {
	pid_t pid;
	pid_t master;
	struct obs_worker_stats st; /* as the kernel keeps them */
	struct code_list codes;
	enum worker_state state;
	double heartbeat_age; /* seconds; < 0 before the first heartbeat is seen */
	int have_proc;        /* the /proc figures below were read */
	double rss_bytes;
	double cpu_seconds;
	double cpu_percent; /* < 0 before two samples */
	double start_time;  /* unix seconds */
	double uptime;
};

struct master_snap {
	pid_t pid;
	char app[OBS_APP_LEN];
	uint32_t workers;
	struct totals t;
	double start_time; /* unix seconds, 0 when unknown */
	uint64_t exits[EXIT_REASONS];
	uint64_t restarts[EXIT_REASONS];
	struct code_list signals; /* counts by signal number */
	struct listener listeners[OBS_MAX_LISTENERS];
	size_t nlisteners;
	struct k8s_id k8s; /* namespace, pod, container; empty outside Kubernetes */
};

/* Histogram bucket upper bounds, without +Inf. */
struct bounds {
	const double *dur; /* seconds */
	size_t ndur;
	const double *size; /* bytes */
	size_t nsize;
};

/* BPF maps whose entries come and go with connections, threads, processes
 * and workers: a count that does not return to its baseline is a leak. */
enum self_map {
	SELF_MAP_CONNS = 0,
	SELF_MAP_STASH,
	SELF_MAP_PROCS,
	SELF_MAP_STATS,
	SELF_MAP_CODES,
	SELF_MAP_MSIGS,
	SELF_MAP_COUNT,
};

struct map_fill {
	uint32_t entries;  /* counted at scrape */
	uint32_t capacity; /* max_entries */
	int ok;            /* 0 when the map could not be read */
};

struct snapshot {
	struct master_snap *masters;
	size_t nmasters;
	struct worker_snap *workers; /* grouped by master, masters' order */
	size_t nworkers;
	uint64_t drops[OBS_DROP_MAX];
	uint64_t map_read_failures;
	struct map_fill maps[SELF_MAP_COUNT];
	const struct bpf_mem *bpf_mem; /* the loader's, not the snapshot's */
	size_t nbpf_mem;
	double rss_bytes; /* the observer's own resident set, 0 when unknown */
	struct bounds bounds;
	const char *version, *libbpf_version, *kernel, *data_plane;
};

void snapshot_free(struct snapshot *s);

#endif
