/* retire.c - exited workers into their masters, then their stats, codes and
 * (syscall plane) connections out of the maps; the procs map is the truth
 * on who lives, read once by kread. */
#include <stdlib.h>
#include <string.h>

#include "kernel/kread.h"
#include "kernel/maps.h"
#include "lib/log.h"
#include "model/retire.h"
#include "model/saved.h"

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

/* Retires one exited worker: its stats entry deleted and its counts added
 * to m's retired totals, both or neither. Half of it would count the worker
 * twice (a failed delete: in the totals and still in stats) or lose it (a
 * failed fold); -1 leaves it for the next retire. */
static int retire_one(const struct loader *l, struct master_rec *m, const struct kworker *w)
{
	struct totals t = { 0 };
	__u32 key = (__u32)w->pid;

	if (m && (totals_add(&t, &m->retired) || totals_add_worker(&t, &w->st, &w->codes))) {
		totals_free(&t);
		return -1;
	}
	if (map_delete(l->stats_fd, &key)) {
		totals_free(&t);
		return -1;
	}
	if (m) {
		totals_free(&m->retired);
		m->retired = t;
	}
	return 0;
}

/* Retires the exited workers of k; their pids go to gone. One that cannot
 * be (memory, a failed delete) stays in the maps for the next retire. */
static void retire_workers(const struct loader *l, struct registry *r, const struct kread *k, __u32 *gone,
			   size_t *ngone)
{
	size_t failed = 0;

	for (size_t i = 0; i < k->nw; i++) {
		const struct kworker *w = &k->w[i];

		if (w->live)
			continue;
		if (retire_one(l, registry_find(r, w->master), w)) {
			failed++;
			continue;
		}
		gone[(*ngone)++] = (__u32)w->pid;
		log_debug("worker %d of master %d retired after %llu requests", (int)w->pid, (int)w->master,
			  (unsigned long long)w->st.requests);
	}
	if (failed)
		log_warn(
		    "%zu exited workers could not be retired yet (out of memory, or their stats could not "
		    "be deleted): they stay counted where they are",
		    failed);
}

/* Forgets the masters the kernel no longer follows (or never did). */
static void forget_masters(const struct loader *l, struct registry *r, const struct kread *k)
{
	for (size_t i = 0; i < r->n;) {
		__u32 key = (__u32)r->v[i].pid;
		struct gone_tgids g = { &key, 1 };

		if (kread_has_master(k, r->v[i].pid)) {
			i++;
			continue;
		}
		log_info("master %d (%s) is gone", (int)r->v[i].pid, r->v[i].app);
		map_delete_if(l->msigs_fd, key_of_gone, &g);
		registry_remove(r, r->v[i].pid);
	}
}

int retire(const struct loader *l, struct registry *r, int saved_fd)
{
	struct kread k = { 0 };
	__u32 *gone;
	size_t ngone = 0;

	if (kread(l, KREAD_RETIRE, &k)) {
		kread_free(&k);
		return -1;
	}
	gone = calloc(k.nw ? k.nw : 1, sizeof(*gone));
	if (!gone) {
		kread_free(&k);
		return -1;
	}
	/* procs unread: who lives is unknown; codes unread: a worker retired
	 * now would lose its codes. Either way none is (a live one's stats,
	 * made at its fork only, would be gone for good). */
	if (kread_procs_ok(&k) && k.maps[KMAP_CODES].ok)
		retire_workers(l, r, &k, gone, &ngone);
	if (ngone) {
		struct gone_tgids g = { gone, ngone };

		map_delete_if(l->codes_fd, key_of_gone, &g);
		/* the socket plane's sweep ends the connections of the dead */
		if (l->plane == OBS_PLANE_SYSCALL)
			map_delete_if(l->conns_fd, conn_of_gone, &g);
	}
	/* procs unread: who lives is unknown, and no master is forgotten for it */
	if (kread_procs_ok(&k))
		forget_masters(l, r, &k);
	saved_store(saved_fd, r);
	free(gone);
	kread_free(&k);
	return (int)ngone;
}
