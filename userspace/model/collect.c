/* collect.c - the only reader of the BPF maps: procs, stats, codes and
 * drops become a snapshot; exited workers are folded into their master. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "model/collect.h"
#include "host/heartbeat.h"
#include "lib/log.h"
#include "kernel/map_walk.h"
#include "lib/procfs.h"
#include "lib/vec.h"

/* A worker whose stats were read: live ones go to the snapshot, gone ones
 * are folded into their master. */
struct wread {
	struct worker_snap w;
	int live;
	__u64 oldest_request_ns; /* start of its oldest unanswered request, 0 for none */
};

/* The clocks a snapshot is read against, in seconds. */
struct clocks {
	double mono; /* CLOCK_MONOTONIC: bpf_ktime_get_ns() */
	double boot; /* CLOCK_BOOTTIME: /proc start times */
	double real;
	double boot_at; /* CLOCK_REALTIME of boot: start times are boot_at + ticks / hz */
};

/* CLOCK_REALTIME minus CLOCK_BOOTTIME, kept while it holds to a millisecond:
 * two reads of the clocks are some nanoseconds apart, and a start time
 * printed to the microsecond must not change from one read to the next.
 * A step of the wall clock (NTP, by hand) moves it. */
static double boot_at(double real, double boot)
{
	static double kept;
	double now = real - boot;

	if (kept == 0 || now - kept > 1e-3 || kept - now > 1e-3)
		kept = now;
	return kept;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct wlist {
	struct wread *v;
	size_t n, cap;
};

static int cmp_pid(const void *a, const void *b)
{
	const struct wread *x = a, *y = b;

	return (x->w.pid > y->w.pid) - (x->w.pid < y->w.pid);
}

static struct wread *wlist_find(struct wlist *l, pid_t pid)
{
	struct wread key = { .w.pid = pid };

	return bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_pid);
}

static int wlist_push(struct wlist *l, const struct wread *w)
{
	if (vec_grow((void **)&l->v, l->n, &l->cap, sizeof(*l->v), 32))
		return -1;
	l->v[l->n++] = *w;
	return 0;
}

int collect_worker_stats(struct loader *l, pid_t pid, struct obs_worker_stats *out)
{
	__u32 key = (__u32)pid;

	return bpf_map_lookup_elem(l->stats_fd, &key, out) ? -1 : 0;
}

struct gone_tgids {
	const __u32 *v;
	size_t n;
};

static int is_gone(const struct gone_tgids *g, __u32 tgid)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i] == tgid)
			return 1;
	return 0;
}

/* An entry whose key starts with the tgid of one that is gone (codes, msigs). */
static int key_of_gone(const void *key, const void *value, void *ctx)
{
	__u32 tgid;

	(void)value;
	memcpy(&tgid, key, sizeof(tgid));
	return is_gone(ctx, tgid);
}

/* A syscall-plane connection (obs_fd_key: the tgid in the key's low half) of
 * a worker that is gone: its descriptors died with it. */
static int conn_of_gone(const void *key, const void *value, void *ctx)
{
	const struct obs_conn *c = value;

	return c->keying == OBS_KEY_FD && key_of_gone(key, value, ctx);
}

/* Folds exited workers into their masters and removes their entries. */
static int retire(struct loader *l, struct registry *r, struct wlist *w)
{
	__u32 *gone = calloc(w->n ? w->n : 1, sizeof(*gone));
	size_t ngone = 0;

	if (!gone)
		return -1;
	for (size_t i = 0; i < w->n; i++) {
		struct wread *x = &w->v[i];
		struct master_rec *m;

		if (x->live)
			continue;
		m = registry_find(r, x->w.master);
		if (m && totals_add_worker(&m->retired, &x->w.st, &x->w.codes)) {
			free(gone);
			return -1;
		}
		gone[ngone++] = (__u32)x->w.pid;
		bpf_map_delete_elem(l->stats_fd, &gone[ngone - 1]);
		log_debug("worker %d of master %d retired after %llu requests", (int)x->w.pid,
			  (int)x->w.master, (unsigned long long)x->w.st.requests);
	}
	if (ngone) {
		struct gone_tgids g = { gone, ngone };

		map_delete_if(l->codes_fd, key_of_gone, &g);
		/* the socket plane's sweep ends the connections of the dead */
		if (l->plane == OBS_PLANE_SYSCALL)
			map_delete_if(l->conns_fd, conn_of_gone, &g);
	}
	free(gone);
	return 0;
}

/* Walks map fd (fn on every entry, when not NULL) and records how full it is. */
static void walk_fill(struct snapshot *s, enum self_map m, int fd, map_entry_fn fn, void *ctx)
{
	__u32 cap = 0;
	long n = map_walk(fd, fn, ctx, &cap);

	if (n < 0) {
		s->map_read_failures++;
		return;
	}
	s->maps[m].entries = (uint32_t)n;
	s->maps[m].capacity = cap;
	s->maps[m].ok = 1;
}

/* The procs map as read at one scrape, by tgid. */
struct pread {
	__u32 tgid, role;
};

struct plist {
	struct pread *v;
	size_t n, cap;
	int oom;
};

static int cmp_tgid(const void *a, const void *b)
{
	const struct pread *x = a, *y = b;

	return (x->tgid > y->tgid) - (x->tgid < y->tgid);
}

static void proc_entry(const void *key, const void *value, void *ctx)
{
	struct plist *p = ctx;
	const struct obs_proc *v = value;

	if (vec_grow((void **)&p->v, p->n, &p->cap, sizeof(*p->v), 256)) {
		p->oom = 1;
		return;
	}
	memcpy(&p->v[p->n].tgid, key, sizeof(__u32));
	p->v[p->n++].role = v->role;
}

static int read_procs(struct loader *l, struct snapshot *s, struct plist *p)
{
	walk_fill(s, SELF_MAP_PROCS, l->procs_fd, proc_entry, p);
	qsort(p->v, p->n, sizeof(*p->v), cmp_tgid);
	return p->oom ? -1 : 0;
}

/* The role of tgid in the procs map, 0 when it is not there. */
static __u32 plist_role(const struct plist *p, __u32 tgid)
{
	struct pread key = { .tgid = tgid }, *e = bsearch(&key, p->v, p->n, sizeof(*p->v), cmp_tgid);

	return e ? e->role : 0;
}

struct wread_ctx {
	struct wlist *w;
	int oom;
};

static void stats_entry(const void *key, const void *value, void *ctx)
{
	struct wread_ctx *x = ctx;
	struct wread r = { 0 };

	memcpy(&r.w.st, value, sizeof(r.w.st));
	r.w.pid = (pid_t) * (const __u32 *)key;
	r.w.master = (pid_t)r.w.st.master;
	if (wlist_push(x->w, &r))
		x->oom = 1;
}

/* Every worker's aggregates, by pid. */
static int read_stats(struct loader *l, struct snapshot *s, struct wlist *out)
{
	struct wread_ctx x = { out, 0 };

	walk_fill(s, SELF_MAP_STATS, l->stats_fd, stats_entry, &x);
	qsort(out->v, out->n, sizeof(*out->v), cmp_pid);
	return x.oom ? -1 : 0;
}

/* Marks the workers that procs, read before their stats, still held; one
 * missing from it is asked again, as it may have been forked since. One
 * that is gone both times exited before its stats were read: they are final. */
static void live_workers(struct loader *l, struct wlist *w, const struct plist *p)
{
	for (size_t i = 0; i < w->n; i++) {
		__u32 key = (__u32)w->v[i].w.pid;
		struct obs_proc v;

		w->v[i].live = plist_role(p, key) == OBS_ROLE_WORKER ||
			       (bpf_map_lookup_elem(l->procs_fd, &key, &v) == 0 && v.role == OBS_ROLE_WORKER);
	}
}

static void code_entry(const void *key, const void *value, void *ctx)
{
	struct wread_ctx *x = ctx;
	const struct obs_code_key *k = key;
	struct wread *r = wlist_find(x->w, (pid_t)k->tgid);

	/* none: forked after the stats were read, next scrape */
	if (r && codes_add(&r->w.codes, k->code, *(const __u64 *)value))
		x->oom = 1;
}

static int read_codes(struct loader *l, struct snapshot *s, struct wlist *w)
{
	struct wread_ctx x = { w, 0 };

	walk_fill(s, SELF_MAP_CODES, l->codes_fd, code_entry, &x);
	return x.oom ? -1 : 0;
}

static void read_drops(struct loader *l, struct snapshot *s)
{
	for (int k = 0; k < OBS_DROP_MAX; k++)
		s->drops[k] = __atomic_load_n(&l->drops[k], __ATOMIC_RELAXED);
}

/* Drops masters that the kernel saw exit (or that were never tracked). */
static void prune_masters(struct loader *l, struct registry *r, const struct plist *p)
{
	for (size_t i = 0; i < r->n;) {
		__u32 key = (__u32)r->v[i].pid;

		if (plist_role(p, key) == OBS_ROLE_MASTER) {
			i++;
			continue;
		}
		struct gone_tgids g = { &key, 1 };

		log_info("master %d (%s) is gone", (int)r->v[i].pid, r->v[i].app);
		map_delete_if(l->msigs_fd, key_of_gone, &g);
		registry_remove(r, r->v[i].pid);
	}
}

/* Marks a worker with the start of its oldest unanswered request. */
static void busy_entry(const void *key, const void *value, void *ctx)
{
	const struct obs_conn *c = value;
	struct wread *r;

	(void)key;
	if (c->state != OBS_CONN_REQUEST)
		return;
	r = wlist_find(ctx, (pid_t)c->tgid);
	if (r && (!r->oldest_request_ns || c->req_start_ns < r->oldest_request_ns))
		r->oldest_request_ns = c->req_start_ns;
}

/* One walk of the connection map: busy workers, and how full it is. */
static void read_busy(struct loader *l, struct snapshot *s, struct wlist *w)
{
	walk_fill(s, SELF_MAP_CONNS, l->conns_fd, busy_entry, w);
}

/* How full the syscall stash is, which grows with threads. */
static void read_map_fill(struct loader *l, struct snapshot *s)
{
	walk_fill(s, SELF_MAP_STASH, l->stash_fd, NULL, NULL);
}

/* The observer's resident set, in bytes (its own /proc, not proc_root's). */
static double self_rss(void)
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

/* The stuck threshold of a master's workers, in seconds. */
static double stuck_after(const struct obs_config *c, const struct master_rec *m)
{
	if (c->stuck_threshold > 0)
		return c->stuck_threshold;
	return m->timeout_s > 0 ? m->timeout_s / 2 : 15;
}

/* State, heartbeat age, and the /proc figures of one live worker. */
static void worker_extras(struct registry *r, const struct obs_config *c, const struct clocks *now,
			  const struct master_rec *m, struct wread *x)
{
	struct worker_snap *w = &x->w;
	double hz = (double)sysconf(_SC_CLK_TCK), busy_for;
	struct worker_rec *rec;
	struct pidstat ps;

	w->heartbeat_age = -1;
	w->state = WORKER_IDLE;
	if (x->oldest_request_ns) {
		busy_for = now->mono - (double)x->oldest_request_ns / 1e9;
		w->state = busy_for > stuck_after(c, m) ? WORKER_STUCK : WORKER_BUSY;
	}
	w->cpu_percent = -1;
	if (procfs_pidstat(c->proc_root, w->pid, &ps))
		return; /* exited since the maps were read */
	w->have_proc = 1;
	w->rss_bytes = (double)ps.rss_pages * (double)sysconf(_SC_PAGESIZE);
	w->cpu_seconds = (double)(ps.utime + ps.stime) / hz;
	w->uptime = now->boot - (double)ps.start_ticks / hz;
	w->start_time = now->boot_at + (double)ps.start_ticks / hz;
	rec = registry_worker(r, w->pid, 1);
	if (!rec)
		return;
	if (!rec->master)
		rec->master = w->master;
	w->heartbeat_age = heartbeat_age(c->proc_root, w->pid, &rec->hb, now->real, now->mono);
	/* a percentage over less than a second is mostly tick noise */
	if (rec->cpu_prev_t == 0 || now->boot - rec->cpu_prev_t >= 1.0) {
		if (rec->cpu_prev_t > 0)
			rec->cpu_percent =
			    100.0 * (w->cpu_seconds - rec->cpu_prev_s) / (now->boot - rec->cpu_prev_t);
		rec->cpu_prev_t = now->boot;
		rec->cpu_prev_s = w->cpu_seconds;
	}
	w->cpu_percent = rec->cpu_percent;
}

#define HB_RETRY_S 5.0 /* between two searches that left a worker's heartbeat file unknown */

/* Finds the heartbeat files of m's live workers when one is not known yet:
 * all of them at once, since a worker's own file is told apart from those
 * it inherited only against the others'. */
static void find_heartbeats(struct registry *r, const struct obs_config *c, double now, pid_t master,
			    struct wlist *w)
{
	struct hb_file *out;
	pid_t *pids;
	size_t n = 0, unknown = 0;

	for (size_t j = 0; j < w->n; j++) {
		struct worker_rec *rec;

		if (!w->v[j].live || w->v[j].w.master != master)
			continue;
		n++;
		rec = registry_worker(r, w->v[j].w.pid, 1);
		if (rec && rec->hb.fd < 0 && now - rec->hb_tried >= HB_RETRY_S)
			unknown++;
	}
	if (!unknown)
		return;
	pids = calloc(n, sizeof(*pids));
	out = calloc(n, sizeof(*out));
	n = 0;
	for (size_t j = 0; pids && out && j < w->n; j++)
		if (w->v[j].live && w->v[j].w.master == master)
			pids[n++] = w->v[j].w.pid;
	if (pids && out && heartbeat_find(c->proc_root, master, pids, n, out) >= 0) {
		for (size_t j = 0; j < n; j++) {
			struct worker_rec *rec = registry_worker(r, pids[j], 0);

			if (rec && rec->hb.fd < 0) {
				rec->hb = out[j];
				rec->hb_tried = now;
			}
		}
	}
	free(pids);
	free(out);
}

static void signal_entry(const void *key, const void *value, void *ctx)
{
	struct snapshot *s = ctx;
	const struct obs_sig_key *k = key;

	for (size_t i = 0; i < s->nmasters; i++)
		if (s->masters[i].pid == (pid_t)k->tgid)
			codes_add(&s->masters[i].signals, k->sig, *(const __u64 *)value);
}

/* Signals delivered to each master, from the msigs map. */
static void read_master_signals(struct loader *l, struct snapshot *s)
{
	walk_fill(s, SELF_MAP_MSIGS, l->msigs_fd, signal_entry, s);
}

static void master_extras(const struct obs_config *c, const struct clocks *now, const struct master_rec *rec,
			  struct master_snap *m)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	int n;

	if (rec->start_ticks)
		m->start_time = now->boot_at + (double)rec->start_ticks / hz;
	memcpy(m->exits, rec->life.exits, sizeof(m->exits));
	memcpy(m->restarts, rec->life.restarts, sizeof(m->restarts));
	n = listeners_read(c->proc_root, m->pid, m->listeners, OBS_MAX_LISTENERS);
	m->nlisteners = n > 0 ? (size_t)n : 0;
}

/* Builds the master and worker arrays of s from the registry and the
 * live workers; hands the workers' code lists over to s. */
static int build(struct registry *r, const struct obs_config *c, struct wlist *w, struct snapshot *s)
{
	struct clocks now = { clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_BOOTTIME), clock_s(CLOCK_REALTIME), 0 };

	now.boot_at = boot_at(now.real, now.boot);

	s->masters = calloc(r->n ? r->n : 1, sizeof(*s->masters));
	s->workers = calloc(w->n ? w->n : 1, sizeof(*s->workers));
	if (!s->masters || !s->workers)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		struct master_snap *m = &s->masters[s->nmasters++];

		m->pid = r->v[i].pid;
		memcpy(m->app, r->v[i].app, sizeof(m->app));
		m->k8s = r->v[i].k8s;
		if (totals_add(&m->t, &r->v[i].retired))
			return -1;
		master_extras(c, &now, &r->v[i], m);
		find_heartbeats(r, c, now.mono, m->pid, w);
		for (size_t j = 0; j < w->n; j++) {
			struct wread *x = &w->v[j];

			if (!x->live || x->w.master != m->pid)
				continue;
			if (totals_add_worker(&m->t, &x->w.st, &x->w.codes))
				return -1;
			worker_extras(r, c, &now, &r->v[i], x);
			m->workers++;
			s->workers[s->nworkers++] = x->w;
			memset(&x->w.codes, 0, sizeof(x->w.codes));
		}
	}
	return 0;
}

int collect(struct loader *l, struct registry *r, const struct obs_config *c, struct snapshot *s)
{
	struct wlist w = { 0 };
	struct plist p = { 0 };
	int rc = -1;

	memset(s, 0, sizeof(*s));
	loader_sweep(l); /* closed connections end before the read */
	s->bounds.dur = c->dur_bounds;
	s->bounds.ndur = c->ndur;
	s->bounds.size = c->size_bounds;
	s->bounds.nsize = c->nsize;
	if (read_procs(l, s, &p) || read_stats(l, s, &w) || read_codes(l, s, &w))
		goto out;
	live_workers(l, &w, &p);
	if (retire(l, r, &w))
		goto out;
	read_busy(l, s, &w);
	prune_masters(l, r, &p);
	read_drops(l, s);
	read_map_fill(l, s);
	s->bpf_mem = l->mem;
	s->nbpf_mem = l->nmem;
	s->rss_bytes = self_rss();
	rc = build(r, c, &w, s);
	if (rc == 0)
		read_master_signals(l, s);
out:
	for (size_t i = 0; i < w.n; i++)
		codes_free(&w.v[i].w.codes);
	free(w.v);
	free(p.v);
	if (rc)
		log_error("out of memory while reading the maps");
	return rc;
}
