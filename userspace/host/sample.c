/* sample.c - the /proc side of a read: one /proc/PID/stat and one stat() of
 * the heartbeat file per worker, the heartbeat files searched for only when
 * one is unknown (at most every HB_RETRY_S). Read anew at every snapshot:
 * a scrape answers with the host as it is at the scrape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/heartbeat.h"
#include "host/sample.h"
#include "lib/clock.h"
#include "lib/procfs.h"
#include "lib/vec.h"

#define HB_RETRY_S  5.0 /* between two searches that left a worker's heartbeat file unknown */
#define CPU_EVERY_S 1.0 /* a percentage over less than a second is mostly tick noise */

/* What is remembered of one worker between samples. */
struct host_worker {
	pid_t pid;
	uint64_t start_ticks; /* with pid, names the process */
	int seen;             /* sampled since the last host_cache_end */
	double cpu_prev_s, cpu_prev_t;
	double cpu_percent;
	struct hb_file hb;
	double hb_tried; /* CLOCK_MONOTONIC of the last search that left it unknown */
};

struct host_cache {
	struct host_worker *v; /* by pid */
	size_t n, cap;
};

/* CLOCK_REALTIME minus CLOCK_BOOTTIME, kept while it holds to a millisecond:
 * two reads of the clocks are some nanoseconds apart, and a start time
 * printed to the microsecond must not change from one read to the next.
 * A step of the wall clock (NTP, by hand) moves it. */
static double steady_boot_at(double real, double boot)
{
	static double kept;
	double now = real - boot;

	if (kept == 0 || now - kept > 1e-3 || kept - now > 1e-3)
		kept = now;
	return kept;
}

void host_clocks_now(struct host_clocks *c)
{
	c->mono = clock_seconds(CLOCK_MONOTONIC);
	c->boot = clock_seconds(CLOCK_BOOTTIME);
	c->real = clock_seconds(CLOCK_REALTIME);
	c->boot_at = steady_boot_at(c->real, c->boot);
	c->hz = (double)sysconf(_SC_CLK_TCK);
}

struct host_cache *host_cache_new(void)
{
	return calloc(1, sizeof(struct host_cache));
}

void host_cache_free(struct host_cache *h)
{
	if (!h)
		return;
	free(h->v);
	free(h);
}

static int pid_below(const void *elem, const void *key)
{
	return ((const struct host_worker *)elem)->pid < *(const pid_t *)key;
}

static size_t slot(const struct host_cache *h, pid_t pid)
{
	return vec_lower_bound(h->v, h->n, sizeof(*h->v), &pid, pid_below);
}

/* The record of process (pid, start_ticks), made afresh when it is new or
 * its pid was reused; NULL when memory ran out. */
static struct host_worker *worker_of(struct host_cache *h, pid_t pid, uint64_t start_ticks)
{
	size_t i = slot(h, pid);
	struct host_worker *w;

	if (i < h->n && h->v[i].pid == pid) {
		w = &h->v[i];
		if (w->start_ticks == start_ticks)
			return w;
	} else {
		if (vec_grow((void **)&h->v, h->n, &h->cap, sizeof(*h->v), 32))
			return NULL;
		memmove(&h->v[i + 1], &h->v[i], (h->n - i) * sizeof(*h->v));
		h->n++;
		w = &h->v[i];
	}
	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->start_ticks = start_ticks;
	w->cpu_percent = -1;
	w->hb.fd = -1;
	w->hb_tried = -1e9;
	return w;
}

/* Finds the heartbeat files of a master's workers when one is not known
 * yet; recs[i] is the record of pids[i] (NULL when it has none). */
static void find_heartbeats(const char *proc_root, pid_t master, const pid_t *pids, struct host_worker **recs,
			    size_t n, double now)
{
	struct hb_file *out;
	size_t unknown = 0;

	for (size_t i = 0; i < n; i++)
		if (recs[i] && recs[i]->hb.fd < 0 && now - recs[i]->hb_tried >= HB_RETRY_S)
			unknown++;
	if (!unknown)
		return;
	out = calloc(n, sizeof(*out));
	if (out && heartbeat_find(proc_root, master, pids, n, out) >= 0)
		for (size_t i = 0; i < n; i++)
			if (recs[i] && recs[i]->hb.fd < 0) {
				recs[i]->hb = out[i];
				recs[i]->hb_tried = now;
			}
	free(out);
}

static void cpu_update(struct host_worker *w, const struct host_clocks *now, double cpu_s)
{
	if (w->cpu_prev_t != 0 && now->boot - w->cpu_prev_t < CPU_EVERY_S)
		return;
	if (w->cpu_prev_t > 0)
		w->cpu_percent = 100.0 * (cpu_s - w->cpu_prev_s) / (now->boot - w->cpu_prev_t);
	w->cpu_prev_t = now->boot;
	w->cpu_prev_s = cpu_s;
}

void host_sample_workers(struct host_cache *h, const char *proc_root, pid_t master, const pid_t *pids,
			 size_t n, const struct host_clocks *now, struct worker_host *out)
{
	struct host_worker **recs = calloc(n ? n : 1, sizeof(*recs));
	double page = (double)sysconf(_SC_PAGESIZE);

	for (size_t i = 0; i < n; i++) {
		struct worker_host *o = &out[i];
		struct pidstat ps;

		memset(o, 0, sizeof(*o));
		o->cpu_percent = -1;
		o->heartbeat_age = -1;
		if (procfs_pidstat(proc_root, pids[i], &ps))
			continue; /* exited since the maps were read */
		o->have_proc = 1;
		o->rss_bytes = (double)ps.rss_pages * page;
		o->cpu_seconds = (double)(ps.utime + ps.stime) / now->hz;
		o->uptime = now->boot - (double)ps.start_ticks / now->hz;
		o->start_time = now->boot_at + (double)ps.start_ticks / now->hz;
		if (!recs || !worker_of(h, pids[i], ps.start_ticks))
			continue;
		recs[i] = &h->v[slot(h, pids[i])];
		cpu_update(recs[i], now, o->cpu_seconds);
		o->cpu_percent = recs[i]->cpu_percent;
	}
	if (!recs)
		return;
	/* a record moves when another is inserted: look them up again */
	for (size_t i = 0; i < n; i++)
		if (recs[i])
			recs[i] = &h->v[slot(h, pids[i])];
	find_heartbeats(proc_root, master, pids, recs, n, now->mono);
	for (size_t i = 0; i < n; i++)
		if (recs[i]) {
			recs[i]->seen = 1;
			out[i].heartbeat_age =
			    heartbeat_age(proc_root, pids[i], &recs[i]->hb, now->real, now->mono);
		}
	free(recs);
}

void host_cache_end(struct host_cache *h)
{
	size_t k = 0;

	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].seen) {
			h->v[i].seen = 0;
			h->v[k++] = h->v[i];
		}
	h->n = k;
}

double host_self_rss(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (double)rss * (double)sysconf(_SC_PAGESIZE);
}
