/* track.c - puts Gunicorn masters (and workers found running) into the
 * kernel's filter. Workers forked later are tracked by the kernel itself. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "discover.h"
#include "log.h"
#include "track.h"

/* Tracks one master and its workers from a scan that starts with it. */
static void track_found(struct tracker *t, const struct found_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct found *f = &l->v[i];

		if (f->pid == f->master) {
			if (!registry_add(&t->reg, f->pid, f->start_ticks, f->app)) {
				log_error("out of memory tracking master %d", (int)f->pid);
				continue;
			}
			loader_track(t->ld, f->pid, f->pid, GO_ROLE_MASTER);
			log_info("tracking master %d (app %s)", (int)f->pid, f->app);
		} else if (registry_find(&t->reg, f->master)) {
			loader_track(t->ld, f->pid, f->master, GO_ROLE_WORKER);
			log_debug("tracking worker %d of master %d", (int)f->pid, (int)f->master);
		}
	}
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

int tracker_scan(struct tracker *t)
{
	struct found_list l = { 0 };

	if (t->cfg->npids) {
		for (size_t i = 0; i < t->cfg->npids; i++) {
			if (track_master(t, t->cfg->pids[i])) {
				fprintf(stderr,
					"gunicorn-observer: --pid %d is not a running Gunicorn process: give "
					"the pid of a Gunicorn master\n",
					(int)t->cfg->pids[i]);
				return -1;
			}
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

static void on_exec(struct tracker *t, const struct go_event *e)
{
	struct cmdline c;
	enum gunicorn_kind k;

	if (!config_wants_pid(t->cfg, (pid_t)e->pid))
		return;
	if (procfs_cmdline(t->cfg->proc_root, (pid_t)e->pid, &c))
		return; /* already gone */
	k = gunicorn_kind(&c);
	/* workers never exec: a Gunicorn command line after exec is a master */
	if (k != GK_PLAIN && k != GK_MASTER)
		return;
	track_master(t, (pid_t)e->pid);
}

static void on_exit_event(struct tracker *t, const struct go_event *e)
{
	int code = e->exit_code;

	if (e->role == GO_ROLE_MASTER) {
		struct master_rec *m = registry_find(&t->reg, (pid_t)e->pid);

		if (m) {
			log_info("master %d (%s) exited", (int)e->pid, m->app);
			registry_remove(&t->reg, (pid_t)e->pid);
		}
		return;
	}
	if (code & 0x7f)
		log_debug("worker %d of master %d killed by signal %d", (int)e->pid, (int)e->ppid,
			  code & 0x7f);
	else
		log_debug("worker %d of master %d exited with status %d", (int)e->pid, (int)e->ppid,
			  (code >> 8) & 0xff);
}

int tracker_on_event(void *ctx, void *data, size_t len)
{
	struct tracker *t = ctx;
	const struct go_event *e = data;

	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case GO_EV_EXEC:
		on_exec(t, e);
		break;
	case GO_EV_FORK:
		log_debug("worker %d forked by master %d", (int)e->pid, (int)e->ppid);
		break;
	case GO_EV_EXIT:
		on_exit_event(t, e);
		break;
	}
	return 0;
}
