/* collect.c - the only reader of the BPF maps: procs, stats, codes and
 * drops become a snapshot; exited workers are folded into their master. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "collect.h"
#include "heartbeat.h"
#include "log.h"
#include "procfs.h"
#include "vec.h"

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

static void sum_stats(const struct go_worker_stats *cpu, int n, struct go_worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < n; c++) {
		const struct go_worker_stats *s = &cpu[c];

		if (s->master)
			out->master = s->master;
		out->requests += s->requests;
		out->in_flight += s->in_flight;
		out->aborted += s->aborted;
		out->failed_5xx += s->failed_5xx;
		out->dur_sum_ns += s->dur_sum_ns;
		out->req_bytes_sum += s->req_bytes_sum;
		out->resp_bytes_sum += s->resp_bytes_sum;
		for (int i = 0; i <= GO_MAX_DUR_BOUNDS; i++)
			out->dur_buckets[i] += s->dur_buckets[i];
		for (int i = 0; i <= GO_MAX_SIZE_BOUNDS; i++) {
			out->req_buckets[i] += s->req_buckets[i];
			out->resp_buckets[i] += s->resp_buckets[i];
		}
	}
}

int collect_worker_stats(struct loader *l, pid_t pid, struct go_worker_stats *out)
{
	struct go_worker_stats *cpu = calloc((size_t)l->nr_cpus, sizeof(*cpu));
	__u32 key = (__u32)pid;
	int rc = -1;

	if (cpu && bpf_map_lookup_elem(l->stats_fd, &key, cpu) == 0) {
		sum_stats(cpu, l->nr_cpus, out);
		rc = 0;
	}
	free(cpu);
	return rc;
}

static int is_live_worker(struct loader *l, __u32 tgid)
{
	struct go_proc p;

	return bpf_map_lookup_elem(l->procs_fd, &tgid, &p) == 0 && p.role == GO_ROLE_WORKER;
}

static int read_stats(struct loader *l, struct snapshot *s, struct wlist *out)
{
	struct go_worker_stats *cpu = calloc((size_t)l->nr_cpus, sizeof(*cpu));
	__u32 key, next, *prev = NULL;
	int rc = 0;

	if (!cpu)
		return -1;
	while (bpf_map_get_next_key(l->stats_fd, prev, &next) == 0) {
		struct wread r = { .w.pid = (pid_t)next };

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(l->stats_fd, &key, cpu)) {
			s->map_read_failures++;
			continue;
		}
		sum_stats(cpu, l->nr_cpus, &r.w.st);
		r.w.master = (pid_t)r.w.st.master;
		r.live = is_live_worker(l, key);
		if (wlist_push(out, &r)) {
			rc = -1;
			break;
		}
	}
	free(cpu);
	qsort(out->v, out->n, sizeof(*out->v), cmp_pid);
	return rc;
}

static int read_codes(struct loader *l, struct snapshot *s, struct wlist *w)
{
	__u64 *cpu = calloc((size_t)l->nr_cpus, sizeof(*cpu));
	struct go_code_key key, next, *prev = NULL;
	int rc = 0;

	if (!cpu)
		return -1;
	while (bpf_map_get_next_key(l->codes_fd, prev, &next) == 0) {
		struct wread *r;
		__u64 sum = 0;

		key = next;
		prev = &key;
		r = wlist_find(w, (pid_t)key.tgid);
		if (!r) /* forked after the stats were read: next scrape */
			continue;
		if (bpf_map_lookup_elem(l->codes_fd, &key, cpu)) {
			s->map_read_failures++;
			continue;
		}
		for (int c = 0; c < l->nr_cpus; c++)
			sum += cpu[c];
		if (codes_add(&r->w.codes, key.code, sum)) {
			rc = -1;
			break;
		}
	}
	free(cpu);
	return rc;
}

/* Deletes every entry of map fd whose key starts with a tgid in gone[]:
 * the keys are gathered first, since deleting while iterating a hash map
 * restarts the walk. */
static void delete_by_tgid(int fd, size_t key_size, const __u32 *gone, size_t ngone)
{
	unsigned char cur[16], next[16], *keys = NULL, *p;
	size_t n = 0, cap = 0;
	__u32 tgid;

	for (void *prev = NULL; bpf_map_get_next_key(fd, prev, next) == 0; prev = cur) {
		memcpy(cur, next, key_size);
		memcpy(&tgid, cur, sizeof(tgid));
		for (size_t i = 0; i < ngone; i++) {
			if (gone[i] != tgid)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				p = realloc(keys, cap * key_size);
				if (!p)
					goto out;
				keys = p;
			}
			memcpy(keys + n++ * key_size, cur, key_size);
			break;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
	free(keys);
}

struct gone_tgids {
	const __u32 *v;
	size_t n;
};

/* A syscall-plane connection (go_fd_key: the tgid in the key's low half) of
 * a worker that is gone: its descriptors died with it. */
static int of_gone(__u64 key, const struct go_conn *c, void *ctx)
{
	const struct gone_tgids *g = ctx;

	if (c->keying != GO_KEY_FD)
		return 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i] == (__u32)key)
			return 1;
	return 0;
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
		delete_by_tgid(l->codes_fd, sizeof(struct go_code_key), gone, ngone);
		/* the socket plane's sweep ends the connections of the dead */
		if (l->plane == GO_PLANE_SYSCALL) {
			struct gone_tgids g = { gone, ngone };

			loader_drop_conns(l, of_gone, &g);
		}
	}
	free(gone);
	return 0;
}

/* Drops masters that the kernel saw exit (or that were never tracked). */
static void prune_masters(struct loader *l, struct registry *r)
{
	for (size_t i = 0; i < r->n;) {
		__u32 key = (__u32)r->v[i].pid;
		struct go_proc p;

		if (bpf_map_lookup_elem(l->procs_fd, &key, &p) == 0 && p.role == GO_ROLE_MASTER) {
			i++;
			continue;
		}
		log_info("master %d (%s) is gone", (int)r->v[i].pid, r->v[i].app);
		delete_by_tgid(l->msigs_fd, sizeof(struct go_sig_key), &key, 1);
		registry_remove(r, r->v[i].pid);
	}
}

static void read_drops(struct loader *l, struct snapshot *s)
{
	__u64 *cpu = calloc((size_t)l->nr_cpus, sizeof(*cpu));

	if (!cpu)
		return;
	for (__u32 k = 0; k < GO_DROP_MAX; k++) {
		if (bpf_map_lookup_elem(l->drops_fd, &k, cpu)) {
			s->map_read_failures++;
			continue;
		}
		s->drops[k] = 0;
		for (int c = 0; c < l->nr_cpus; c++)
			s->drops[k] += cpu[c];
	}
	free(cpu);
}

/* Calls fn (when not NULL) on every entry of hash map fd, read in batches:
 * a few syscalls even for a full connection map. Returns the number of
 * entries, -1 when the map cannot be read. */
static long walk_map(int fd, __u32 key_size, __u32 value_size,
		     void (*fn)(const void *key, const void *value, void *ctx), void *ctx)
{
	enum { BATCH = 1024 };
	char *keys = malloc((size_t)BATCH * key_size), *vals = malloc((size_t)BATCH * value_size);
	__u64 in = 0, out = 0;
	void *inp = NULL;
	long total = keys && vals ? 0 : -1;

	while (total >= 0) {
		__u32 n = BATCH;
		int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, NULL);

		if (err && errno != ENOENT) {
			total = -1;
			break;
		}
		for (__u32 i = 0; fn && i < n; i++)
			fn(keys + (size_t)i * key_size, vals + (size_t)i * value_size, ctx);
		total += n;
		if (err) /* ENOENT: that was the last batch */
			break;
		in = out;
		inp = &in;
	}
	free(keys);
	free(vals);
	return total;
}

/* Walks map fd (fn on every entry, when not NULL) and records how full it is. */
static void walk_fill(struct snapshot *s, enum self_map m, int fd,
		      void (*fn)(const void *key, const void *value, void *ctx), void *ctx)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	long n = -1;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		n = walk_map(fd, info.key_size, info.value_size, fn, ctx);
	if (n < 0) {
		s->map_read_failures++;
		return;
	}
	s->maps[m].entries = (uint32_t)n;
	s->maps[m].capacity = info.max_entries;
	s->maps[m].ok = 1;
}

/* Marks a worker with the start of its oldest unanswered request. */
static void busy_entry(const void *key, const void *value, void *ctx)
{
	const struct go_conn *c = value;
	struct wread *r;

	(void)key;
	if (c->state != GO_CONN_REQUEST)
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

/* How full the other maps are that grow with threads and processes. */
static void read_map_fill(struct loader *l, struct snapshot *s)
{
	walk_fill(s, SELF_MAP_STASH, l->stash_fd, NULL, NULL);
	walk_fill(s, SELF_MAP_PROCS, l->procs_fd, NULL, NULL);
}

/* The stuck threshold of a master's workers, in seconds. */
static double stuck_after(const struct go_config *c, const struct master_rec *m)
{
	if (c->stuck_threshold > 0)
		return c->stuck_threshold;
	return m->timeout_s > 0 ? m->timeout_s / 2 : 15;
}

/* State, heartbeat age, and the /proc figures of one live worker. */
static void worker_extras(struct registry *r, const struct go_config *c, const struct clocks *now,
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
static void find_heartbeats(struct registry *r, const struct go_config *c, double now, pid_t master,
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

/* Signals delivered to each master, from the msigs map. */
static void read_master_signals(struct loader *l, struct snapshot *s)
{
	struct go_sig_key key, next, *prev = NULL;
	__u64 n;

	while (bpf_map_get_next_key(l->msigs_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(l->msigs_fd, &key, &n)) {
			s->map_read_failures++;
			continue;
		}
		for (size_t i = 0; i < s->nmasters; i++)
			if (s->masters[i].pid == (pid_t)key.tgid)
				codes_add(&s->masters[i].signals, key.sig, n);
	}
}

static void master_extras(const struct go_config *c, const struct clocks *now, const struct master_rec *rec,
			  struct master_snap *m)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	int n;

	if (rec->start_ticks)
		m->start_time = now->boot_at + (double)rec->start_ticks / hz;
	memcpy(m->exits, rec->life.exits, sizeof(m->exits));
	memcpy(m->restarts, rec->life.restarts, sizeof(m->restarts));
	n = listeners_read(c->proc_root, m->pid, m->listeners, GO_MAX_LISTENERS);
	m->nlisteners = n > 0 ? (size_t)n : 0;
}

/* Builds the master and worker arrays of s from the registry and the
 * live workers; hands the workers' code lists over to s. */
static int build(struct registry *r, const struct go_config *c, struct wlist *w, struct snapshot *s)
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

int collect(struct loader *l, struct registry *r, const struct go_config *c, struct snapshot *s)
{
	struct wlist w = { 0 };
	int rc = -1;

	memset(s, 0, sizeof(*s));
	loader_sweep(l); /* closed connections end before the read */
	s->bounds.dur = c->dur_bounds;
	s->bounds.ndur = c->ndur;
	s->bounds.size = c->size_bounds;
	s->bounds.nsize = c->nsize;
	if (read_stats(l, s, &w) || read_codes(l, s, &w) || retire(l, r, &w))
		goto out;
	read_busy(l, s, &w);
	prune_masters(l, r);
	read_drops(l, s);
	read_map_fill(l, s);
	rc = build(r, c, &w, s);
	if (rc == 0)
		read_master_signals(l, s);
out:
	for (size_t i = 0; i < w.n; i++)
		codes_free(&w.v[i].w.codes);
	free(w.v);
	if (rc)
		log_error("out of memory while reading the maps");
	return rc;
}
