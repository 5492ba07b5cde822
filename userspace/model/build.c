/* build.c - the snapshot of one read: masters in registry order, each with
 * its live workers, their state from the oldest unanswered request, the
 * host's figures, and the totals the kernel and the registry hold. */
#include <stdlib.h>
#include <string.h>

#include "model/build.h"

/* The stuck threshold of a master's workers, in seconds. */
static double stuck_after(const struct obs_config *c, const struct master_rec *m)
{
	if (c->stuck_threshold > 0)
		return c->stuck_threshold;
	return m->timeout_s > 0 ? m->timeout_s / 2 : 15;
}

static enum worker_state state_of(const struct kworker *w, double stuck_s, const struct host_clocks *now)
{
	if (!w->oldest_request_ns)
		return WORKER_IDLE;
	return now->mono - (double)w->oldest_request_ns / 1e9 > stuck_s ? WORKER_STUCK : WORKER_BUSY;
}

static void master_fields(const struct obs_config *c, const struct host_clocks *now,
			  const struct master_rec *rec, const struct kread *k, struct master_snap *m)
{
	int n;

	m->pid = rec->pid;
	memcpy(m->app, rec->app, sizeof(m->app));
	m->k8s = rec->k8s;
	if (rec->start_ticks)
		m->start_time = now->boot_at + (double)rec->start_ticks / now->hz;
	memcpy(m->exits, rec->life.exits, sizeof(m->exits));
	memcpy(m->restarts, rec->life.restarts, sizeof(m->restarts));
	n = listeners_read(c->proc_root, m->pid, m->listeners, OBS_MAX_LISTENERS);
	m->nlisteners = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < k->nsig; i++)
		if (k->sig[i].master == m->pid)
			codes_add(&m->signals, k->sig[i].sig, k->sig[i].count);
}

/* The live workers of master m: appended to s, counted in m; every worker
 * of m in k, live or not, counted in m's totals. */
static int master_workers(struct kread *k, const struct obs_config *c, struct host_cache *hc,
			  const struct host_clocks *now, const struct master_rec *rec, struct master_snap *m,
			  struct snapshot *s)
{
	size_t first = s->nworkers, n;
	pid_t *pids;
	struct worker_host *host;
	double stuck_s = stuck_after(c, rec);

	for (size_t j = 0; j < k->nw; j++) {
		struct kworker *x = &k->w[j];
		struct worker_snap *w;

		if (x->master != m->pid)
			continue;
		if (totals_add_worker(&m->t, &x->st, &x->codes))
			return -1;
		if (!x->live)
			continue;
		w = &s->workers[s->nworkers++];
		w->pid = x->pid;
		w->master = x->master;
		w->st = x->st;
		w->codes = x->codes;
		memset(&x->codes, 0, sizeof(x->codes));
		w->state = state_of(x, stuck_s, now);
	}
	n = s->nworkers - first;
	m->workers = (uint32_t)n;
	if (!n)
		return 0;
	pids = calloc(n, sizeof(*pids));
	host = calloc(n, sizeof(*host));
	if (!pids || !host) {
		free(pids);
		free(host);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		pids[i] = s->workers[first + i].pid;
	host_sample_workers(hc, c->proc_root, m->pid, pids, n, now, host);
	for (size_t i = 0; i < n; i++)
		s->workers[first + i].host = host[i];
	free(pids);
	free(host);
	return 0;
}

int snapshot_build(struct kread *k, const struct registry *r, const struct obs_config *c,
		   struct host_cache *hc, struct snapshot *s)
{
	struct host_clocks now;

	host_clocks_now(&now);
	s->taken = now.mono;
	s->bounds = (struct bounds){ c->dur_bounds, c->ndur, c->size_bounds, c->nsize };
	memcpy(s->self.drops, k->drops, sizeof(s->self.drops));
	s->self.map_read_failures = k->read_failures;
	memcpy(s->self.maps, k->maps, sizeof(s->self.maps));
	s->self.rss_bytes = host_self_rss();
	s->masters = calloc(r->n ? r->n : 1, sizeof(*s->masters));
	s->workers = calloc(k->nw ? k->nw : 1, sizeof(*s->workers));
	if (!s->masters || !s->workers)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		struct master_snap *m;

		if (!kread_has_master(k, r->v[i].pid))
			continue; /* exited: retire forgets it */
		m = &s->masters[s->nmasters++];
		master_fields(c, &now, &r->v[i], k, m);
		if (totals_add(&m->t, &r->v[i].retired) || master_workers(k, c, hc, &now, &r->v[i], m, s))
			return -1;
		if (r->v[i].tls == 1)
			s->self.tls_workers += m->workers;
	}
	host_cache_end(hc);
	return 0;
}
