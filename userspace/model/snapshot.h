/* snapshot.h - one consistent read of everything the observer knows, as
 * plain C data: model/build.c makes it from a kernel read, the registry and
 * a host sample; the series model (model/series.h) and every renderer only
 * read it. It is shared (counted references) by the renderers that use it
 * at once, a scrape and a Redis mirror pass among them, and never changes
 * once built. */
#ifndef OBS_SNAPSHOT_H
#define OBS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/gargs.h"
#include "host/k8s.h"
#include "host/listeners.h"
#include "host/sample.h"
#include "kernel/kread.h"
#include "lib/codes.h"
#include "model/lifecycle.h"
#include "observer.h"

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
	struct worker_host host; /* /proc and heartbeat */
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

/* What the observer says of itself. */
struct self_snap {
	uint64_t drops[OBS_DROP_MAX];
	uint64_t map_read_failures;
	struct map_fill maps[KMAP_COUNT];
	const struct bpf_mem *bpf_mem; /* the loader's, not the snapshot's */
	size_t nbpf_mem;
	double rss_bytes;      /* its own resident set, 0 when unknown */
	double scrape_seconds; /* the previous /metrics, request to last byte */
	uint32_t tls_workers;  /* live workers whose TLS is followed */
	int mirror;            /* the Redis mirror runs: redis_up and redis_errors are shown */
	int redis_up;
	unsigned long long redis_errors;
	const char *version, *libbpf_version, *kernel, *data_plane;
};

struct snapshot {
	struct master_snap *masters;
	size_t nmasters;
	struct worker_snap *workers; /* grouped by master, masters' order */
	size_t nworkers;
	struct bounds bounds;
	struct self_snap self;
	double taken; /* CLOCK_MONOTONIC seconds of the read */
	int refs;
};

/* A snapshot with one reference, empty; NULL when memory ran out. */
struct snapshot *snapshot_new(void);
/* Another holder of s. */
struct snapshot *snapshot_ref(struct snapshot *s);
/* Drops a reference; the last one frees s. NULL is ignored. */
void snapshot_unref(struct snapshot *s);
/* Frees what s holds (not s): for a snapshot made in place, as tests do. */
void snapshot_clear(struct snapshot *s);
/* The master of pid in s, NULL when s has none. */
const struct master_snap *snapshot_master(const struct snapshot *s, pid_t pid);

#endif
