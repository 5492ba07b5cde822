/* sample.h - what the host tells about the workers of one read, outside the
 * BPF maps: memory, CPU and start time from /proc/PID/stat, the heartbeat
 * file's age, and the clocks they are read against. The CPU samples a
 * percentage is made from and the heartbeat files found are remembered from
 * one read to the next (a host_cache), by pid and start time. */
#ifndef OBS_SAMPLE_H
#define OBS_SAMPLE_H

#include <stddef.h>
#include <sys/types.h>

/* The clocks of one read, in seconds. */
struct host_clocks {
	double mono;    /* CLOCK_MONOTONIC: bpf_ktime_get_ns() */
	double boot;    /* CLOCK_BOOTTIME: /proc start times */
	double real;    /* CLOCK_REALTIME */
	double boot_at; /* CLOCK_REALTIME of boot, steady to a millisecond */
	double hz;      /* clock ticks a second */
};

void host_clocks_now(struct host_clocks *c);

/* One live worker as /proc shows it. */
struct worker_host {
	int have_proc; /* the /proc figures were read */
	double rss_bytes;
	double cpu_seconds;
	double cpu_percent;   /* over the last interval of at least 1 s; < 0 before two samples */
	double start_time;    /* unix seconds */
	double uptime;        /* seconds */
	double heartbeat_age; /* seconds; < 0 while its heartbeat file is unknown */
};

struct host_cache;

struct host_cache *host_cache_new(void);
void host_cache_free(struct host_cache *h);

/* Samples the n live workers of master (pids, in any order) into out[i].
 * Every worker of a master is sampled at once: a worker's heartbeat file is
 * told apart from those it inherited only against its siblings'. */
void host_sample_workers(struct host_cache *h, const char *proc_root, pid_t master, const pid_t *pids,
			 size_t n, const struct host_clocks *now, struct worker_host *out);
/* Ends a read: forgets the workers that no sample named since the last end. */
void host_cache_end(struct host_cache *h);

/* The observer's own resident set, in bytes (its /proc, not proc_root's); 0
 * when unknown. */
double host_self_rss(void);

#endif
