/* kread.c - the reader of the BPF maps: procs, stats, codes, msigs and
 * conns walked in batches, drops from their shared mapping. Nothing here
 * writes to a map; exited workers stay in stats until retire folds them. */
#include <stdlib.h>
#include <string.h>

#include "kernel/kread.h"
#include "kernel/maps.h"
#include "lib/vec.h"

const char *const kmap_names[KMAP_COUNT] = { "conns", "stash", "procs", "stats", "codes", "msigs" };

static int cmp_pid(const void *a, const void *b)
{
	const struct kworker *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static int cmp_tgid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

struct kworker *kread_worker(const struct kread *k, pid_t pid)
{
	struct kworker key = { .pid = pid };

	return k->nw ? bsearch(&key, k->w, k->nw, sizeof(*k->w), cmp_pid) : NULL;
}

int kread_has_master(const struct kread *k, pid_t pid)
{
	__u32 key = (__u32)pid;
	struct obs_proc v;

	if (!kread_procs_ok(k) ||
	    (k->nmasters && bsearch(&pid, k->masters, k->nmasters, sizeof(pid), cmp_tgid)))
		return 1;
	return map_lookup(k->procs_fd, &key, &v) == 0 && v.role == OBS_ROLE_MASTER;
}

int kread_worker_stats(const struct loader *l, pid_t pid, struct obs_worker_stats *out)
{
	__u32 key = (__u32)pid;

	return map_lookup(l->stats_fd, &key, out) ? -1 : 0;
}

/* A walk in progress: the read it fills and whether memory ran out. */
struct walk {
	struct kread *k;
	pid_t *workers; /* procs' workers, sorted after the walk */
	size_t nworkers, capworkers;
	int oom;
};

/* Walks map fd (fn on every entry, when not NULL) and records how full it is. */
static void walk_fill(struct kread *k, enum kmap m, int fd, map_entry_fn fn, void *ctx)
{
	__u32 cap = 0;
	long n = map_walk(fd, fn, ctx, &cap);

	if (n < 0) {
		k->read_failures++;
		return;
	}
	k->maps[m].entries = (uint32_t)n;
	k->maps[m].capacity = cap;
	k->maps[m].ok = 1;
}

static void proc_entry(const void *key, const void *value, void *ctx)
{
	struct walk *x = ctx;
	const struct obs_proc *v = value;
	pid_t pid = (pid_t) * (const __u32 *)key;

	if (v->role == OBS_ROLE_MASTER) {
		if (vec_grow((void **)&x->k->masters, x->k->nmasters, &x->k->capm, sizeof(pid_t), 16))
			x->oom = 1;
		else
			x->k->masters[x->k->nmasters++] = pid;
	} else if (v->role == OBS_ROLE_WORKER) {
		if (vec_grow((void **)&x->workers, x->nworkers, &x->capworkers, sizeof(pid_t), 256))
			x->oom = 1;
		else
			x->workers[x->nworkers++] = pid;
	}
}

static void stats_entry(const void *key, const void *value, void *ctx)
{
	struct walk *x = ctx;
	struct kread *k = x->k;
	struct kworker *w;

	if (vec_grow((void **)&k->w, k->nw, &k->capw, sizeof(*k->w), 64)) {
		x->oom = 1;
		return;
	}
	w = &k->w[k->nw++];
	memset(w, 0, sizeof(*w));
	memcpy(&w->st, value, sizeof(w->st));
	w->pid = (pid_t) * (const __u32 *)key;
	w->master = (pid_t)w->st.master;
}

/* Marks the workers that procs, read before their stats, still held; one
 * missing from it is asked again, as it may have been forked since. One
 * that is gone both times exited before its stats were read: they are
 * final. */
static void mark_live(const struct loader *l, struct walk *x)
{
	struct kread *k = x->k;

	qsort(x->workers, x->nworkers, sizeof(pid_t), cmp_tgid);
	for (size_t i = 0; i < k->nw; i++) {
		__u32 key = (__u32)k->w[i].pid;
		struct obs_proc v;

		k->w[i].live = (x->nworkers &&
				bsearch(&k->w[i].pid, x->workers, x->nworkers, sizeof(pid_t), cmp_tgid)) ||
			       (map_lookup(l->procs_fd, &key, &v) == 0 && v.role == OBS_ROLE_WORKER);
	}
}

static void code_entry(const void *key, const void *value, void *ctx)
{
	struct walk *x = ctx;
	const struct obs_code_key *c = key;
	struct kworker *w = kread_worker(x->k, (pid_t)c->tgid);

	/* none: forked after the stats were read, next read */
	if (w && codes_add(&w->codes, c->code, *(const __u64 *)value))
		x->oom = 1;
}

static void signal_entry(const void *key, const void *value, void *ctx)
{
	struct walk *x = ctx;
	struct kread *k = x->k;
	const struct obs_sig_key *s = key;

	if (vec_grow((void **)&k->sig, k->nsig, &k->capsig, sizeof(*k->sig), 16)) {
		x->oom = 1;
		return;
	}
	k->sig[k->nsig++] = (struct ksignal){ (pid_t)s->tgid, s->sig, *(const __u64 *)value };
}

/* Marks a worker with the start of its oldest unanswered request. */
static void busy_entry(const void *key, const void *value, void *ctx)
{
	const struct obs_conn *c = value;
	struct walk *x = ctx;
	struct kworker *w;

	(void)key;
	if (c->state != OBS_CONN_REQUEST)
		return;
	w = kread_worker(x->k, (pid_t)c->tgid);
	if (w && (!w->oldest_request_ns || c->req_start_ns < w->oldest_request_ns))
		w->oldest_request_ns = c->req_start_ns;
}

/* Empties k, keeping its arrays. */
static void reset(struct kread *k)
{
	struct kread keep = { .w = k->w,
			      .capw = k->capw,
			      .masters = k->masters,
			      .capm = k->capm,
			      .sig = k->sig,
			      .capsig = k->capsig };

	for (size_t i = 0; i < k->nw; i++)
		codes_free(&k->w[i].codes);
	*k = keep;
}

int kread(const struct loader *l, enum kread_scope scope, struct kread *k)
{
	struct walk x = { .k = k };

	reset(k);
	k->procs_fd = l->procs_fd;
	walk_fill(k, KMAP_PROCS, l->procs_fd, proc_entry, &x);
	qsort(k->masters, k->nmasters, sizeof(pid_t), cmp_tgid);
	walk_fill(k, KMAP_STATS, l->stats_fd, stats_entry, &x);
	qsort(k->w, k->nw, sizeof(*k->w), cmp_pid);
	mark_live(l, &x);
	walk_fill(k, KMAP_CODES, l->codes_fd, code_entry, &x);
	if (scope == KREAD_ALL) {
		walk_fill(k, KMAP_MSIGS, l->msigs_fd, signal_entry, &x);
		walk_fill(k, KMAP_CONNS, l->conns_fd, busy_entry, &x);
		walk_fill(k, KMAP_STASH, l->stash_fd, NULL, NULL);
		for (int i = 0; l->drops && i < OBS_DROP_MAX; i++)
			k->drops[i] = __atomic_load_n(&l->drops[i], __ATOMIC_RELAXED);
	}
	free(x.workers);
	return x.oom ? -1 : 0;
}

void kread_free(struct kread *k)
{
	for (size_t i = 0; i < k->nw; i++)
		codes_free(&k->w[i].codes);
	free(k->w);
	free(k->masters);
	free(k->sig);
	memset(k, 0, sizeof(*k));
}
