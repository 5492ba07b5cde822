/* track.c - puts Gunicorn masters (and workers found running) into the
 * kernel's filter. Workers forked later are tracked by the kernel itself. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/discover.h"
#include "kernel/kread.h"
#include "lib/clock.h"
#include "model/lifecycle.h"
#include "lib/log.h"
#include "model/saved.h"
#include "model/track.h"

/* Did the user ask for this master (--pid, --match)? */
static int wanted_master(const struct tracker *t, pid_t pid)
{
	struct cmdline c;

	if (!config_wants_pid(t->cfg, pid))
		return 0;
	if (!t->cfg->match[0])
		return 1;
	return procfs_cmdline(t->cfg->proc_root, pid, &c) == 0 &&
	       config_wants_cmdline(t->cfg, c.argv, c.argc);
}

/* Binds the TLS probes to the masters of a scan that have a certfile and
 * are not followed yet, with their workers. */
static void follow_tls(struct tracker *t, const struct found_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct master_rec *m = registry_find(&t->reg, l->v[i].pid);
		pid_t *w;
		size_t n = 0;

		if (l->v[i].pid != l->v[i].master || !m || m->tls || !m->certfile[0])
			continue;
		w = calloc(l->n, sizeof(*w));
		if (!w) {
			log_error("out of memory following the TLS of master %d", (int)m->pid);
			return;
		}
		for (size_t j = 0; j < l->n; j++)
			if (l->v[j].master == m->pid && l->v[j].pid != m->pid)
				w[n++] = l->v[j].pid;
		tls_follow_master(&t->tls, t->ld, t->cfg->proc_root, m, w, n);
		free(w);
	}
}

/* Tracks the masters of a scan (each followed by its workers). */
static void track_found(struct tracker *t, const struct found_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct found *f = &l->v[i];
		struct master_rec *m;
		struct worker_rec *w;

		if (f->pid == f->master && !wanted_master(t, f->pid))
			continue;
		if (f->pid == f->master) {
			m = registry_add(&t->reg, f->pid, f->start_ticks, f->app);
			if (!m) {
				log_error("out of memory tracking master %d", (int)f->pid);
				continue;
			}
			m->timeout_s = f->timeout_s;
			snprintf(m->certfile, sizeof(m->certfile), "%s", f->certfile);
			saved_restore(t->saved_fd, m);
			if (k8s_identify(t->cfg->proc_root, t->cfg->pods_dir, t->cfg->containers_dir, f->pid,
					 &m->k8s) == 0)
				log_info("master %d is container %s of pod %s/%s", (int)f->pid,
					 m->k8s.container, m->k8s.namespace, m->k8s.pod);
			loader_track(t->ld, f->pid, f->pid, OBS_ROLE_MASTER);
			log_info("tracking master %d (app %s)", (int)f->pid, f->app);
		} else if (registry_find(&t->reg, f->master)) {
			loader_track(t->ld, f->pid, f->master, OBS_ROLE_WORKER);
			w = registry_worker(&t->reg, f->pid, 1);
			if (w && !w->master) {
				w->master = f->master;
				w->start_t = (double)f->start_ticks / (double)sysconf(_SC_CLK_TCK);
			}
			log_debug("tracking worker %d of master %d", (int)f->pid, (int)f->master);
		}
	}
	follow_tls(t, l);
}

static int track_master(struct tracker *t, pid_t pid)
{
	struct found_list l = { 0 };
	int rc = discover_workers(t->cfg->proc_root, pid, &l);

	if (rc == 0 && l.n > 0)
		track_found(t, &l);
	else
		rc = -1;
	found_list_free(&l);
	return rc;
}

static int not_gunicorn(pid_t pid)
{
	fprintf(stderr,
		"gunicorn-observer: --pid %d is not a running Gunicorn process: give the pid of a Gunicorn "
		"master\n",
		(int)pid);
	return -1;
}

int tracker_check_pids(const struct obs_config *c)
{
	for (size_t i = 0; i < c->npids; i++) {
		struct found_list l = { 0 };
		int rc = discover_workers(c->proc_root, c->pids[i], &l);
		size_t n = l.n;

		found_list_free(&l);
		if (rc || n == 0)
			return not_gunicorn(c->pids[i]);
	}
	return 0;
}

int tracker_scan(struct tracker *t)
{
	struct found_list l = { 0 };

	if (t->cfg->npids) {
		for (size_t i = 0; i < t->cfg->npids; i++) {
			if (track_master(t, t->cfg->pids[i])) /* exited since the check */
				return not_gunicorn(t->cfg->pids[i]);
		}
		return 0;
	}
	if (discover_scan(t->cfg->proc_root, &l)) {
		fprintf(stderr, "gunicorn-observer: cannot scan %s for Gunicorn processes\n",
			t->cfg->proc_root);
		found_list_free(&l);
		return -1;
	}
	track_found(t, &l);
	found_list_free(&l);
	return 0;
}

static void on_exec(struct tracker *t, const struct obs_event *e)
{
	pid_t pid = (pid_t)e->pid;
	struct worker_rec *w = registry_worker(&t->reg, pid, 0);
	/* a child of a tracked master that execs is its USR2 successor */
	int wanted = wanted_master(t, pid) || registry_find(&t->reg, (pid_t)e->ppid);
	enum gunicorn_kind k = GK_NONE;
	struct cmdline c;

	if (procfs_cmdline(t->cfg->proc_root, pid, &c) == 0)
		k = gunicorn_kind(&c);
	if (w) /* whatever it runs now, it is no worker any more */
		registry_drop_worker(&t->reg, pid);
	/* workers never exec: a Gunicorn command line after exec is a master */
	if (wanted && (k == GK_PLAIN || k == GK_MASTER)) {
		if (track_master(t, pid) == 0)
			return;
	}
	if (w)
		loader_untrack(t->ld, pid);
}

static double event_time(const struct obs_event *e)
{
	return (double)e->ts_ns / 1e9;
}

static void on_fork(struct tracker *t, const struct obs_event *e)
{
	struct master_rec *m = registry_find(&t->reg, (pid_t)e->ppid);
	struct worker_rec *w;

	if (!m)
		return;
	w = registry_worker(&t->reg, (pid_t)e->pid, 1);
	if (w) {
		memset(&w->fate, 0, sizeof(w->fate));
		w->master = m->pid;
		w->start_t = event_time(e);
	}
	life_fork(&m->life, event_time(e));
	/* a master found at its exec maps libssl by its first fork */
	if (m->certfile[0] && !m->tls) {
		pid_t pid = (pid_t)e->pid;

		tls_follow_master(&t->tls, t->ld, t->cfg->proc_root, m, &pid, 1);
	} else if (m->tls == 1 && event_time(e) < m->tls_at &&
		   tls_follow_worker(&t->tls, t->cfg->proc_root, (pid_t)e->pid)) {
		/* forked before its master's probes were bound: it inherited none */
		log_warn("cannot bind the TLS probes to worker %d of master %d", (int)e->pid, (int)m->pid);
	}
	log_debug("worker %d forked by master %d", (int)e->pid, (int)e->ppid);
}

static void on_signal(struct tracker *t, const struct obs_event *e)
{
	struct master_rec *m;
	struct worker_rec *w;

	if (e->role == OBS_ROLE_MASTER) {
		m = registry_find(&t->reg, (pid_t)e->pid);
		if (m)
			life_signal(&m->life, e->code, event_time(e));
		return;
	}
	w = registry_worker(&t->reg, (pid_t)e->pid, 0);
	if (!w)
		return;
	m = registry_find(&t->reg, w->master);
	fate_signal(&w->fate, e->code, e->ppid == (__u32)w->master, e->ppid == e->pid,
		    m ? m->life.last_ctl : 0);
}

static void on_oom(struct tracker *t, const struct obs_event *e)
{
	struct worker_rec *w = registry_worker(&t->reg, (pid_t)e->pid, 0);

	if (w)
		w->fate.oom = 1;
	log_info("OOM killer chose pid %d", (int)e->pid);
}

/* One line per worker exit: what users ask for when a worker dies. */
static void log_worker_exit(const struct master_rec *m, const struct obs_event *e, const struct worker_rec *w,
			    enum exit_reason r, uint64_t requests)
{
	char how[32], sig[16];
	double uptime = w && w->start_t > 0 ? event_time(e) - w->start_t : -1;

	if (e->code & 0x7f)
		snprintf(how, sizeof(how), "signal=%s", signal_name(e->code & 0x7f, sig, sizeof(sig)));
	else
		snprintf(how, sizeof(how), "status=%d", (e->code >> 8) & 0xff);
	log_info("worker exited: app=%s master=%d pid=%d reason=%s %s peak_rss_bytes=%llu cpu_seconds=%.3f "
		 "uptime_seconds=%.3f requests=%llu",
		 m->app, (int)m->pid, (int)e->pid, exit_reason_name(r), how,
		 (unsigned long long)e->maxrss_pages * (unsigned long long)sysconf(_SC_PAGESIZE),
		 (double)e->cpu_ns / 1e9, uptime, (unsigned long long)requests);
}

static void on_exit_event(struct tracker *t, const struct obs_event *e)
{
	struct master_rec *m;
	struct worker_rec *w;
	struct obs_worker_stats st;
	enum exit_reason r;

	if (e->role == OBS_ROLE_MASTER) {
		m = registry_find(&t->reg, (pid_t)e->pid);
		tls_forget(&t->tls, (pid_t)e->pid);
		if (m) {
			log_info("master %d (%s) exited", (int)e->pid, m->app);
			registry_remove(&t->reg, (pid_t)e->pid);
		}
		return;
	}
	m = registry_find(&t->reg, (pid_t)e->ppid);
	w = registry_worker(&t->reg, (pid_t)e->pid, 0);
	if (m) {
		struct worker_fate none = { 0 };

		r = classify_exit(e->code, w ? &w->fate : &none);
		life_exit(&m->life, r, event_time(e));
		if (kread_worker_stats(t->ld, (pid_t)e->pid, &st))
			st.requests = 0;
		log_worker_exit(m, e, w, r, st.requests);
	}
	registry_drop_worker(&t->reg, (pid_t)e->pid);
	tls_forget(&t->tls, (pid_t)e->pid);
	/* a moment for the worker's sockets, closed after its exit event */
	if (!t->retire_at)
		t->retire_at = clock_seconds(CLOCK_MONOTONIC) + TRACK_RETIRE_AFTER_EXIT_S;
}

int tracker_on_event(void *ctx, void *data, size_t len)
{
	struct tracker *t = ctx;
	const struct obs_event *e = data;

	if (len < sizeof(*e))
		return 0;
	if (e->type != OBS_EV_SIGNAL && e->type != OBS_EV_OOM)
		t->generation++;
	switch (e->type) {
	case OBS_EV_EXEC:
		on_exec(t, e);
		break;
	case OBS_EV_FORK:
		on_fork(t, e);
		break;
	case OBS_EV_SIGNAL:
		on_signal(t, e);
		break;
	case OBS_EV_OOM:
		on_oom(t, e);
		break;
	case OBS_EV_EXIT:
		on_exit_event(t, e);
		break;
	}
	return 0;
}
