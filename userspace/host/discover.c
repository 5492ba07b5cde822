/* discover.c - finds Gunicorn in /proc. A master is a Gunicorn process
 * whose parent is not one (or whose title says master); its Gunicorn
 * children are its workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/discover.h"
#include "host/gconf.h"
#include "lib/vec.h"

static int found_push(struct found_list *l, const struct found *f)
{
	if (vec_grow((void **)&l->v, l->n, &l->cap, sizeof(*l->v), 16))
		return -1;
	l->v[l->n++] = *f;
	return 0;
}

void found_list_free(struct found_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* One Gunicorn process seen by a scan. */
struct seen {
	pid_t pid, ppid;
	uint64_t start;
	enum gunicorn_kind kind;
	double timeout_s;
	char app[OBS_APP_LEN];
	char certfile[256];
};

struct scan {
	const char *root;
	struct seen *v;
	size_t n, cap;
};

static int scan_one(pid_t pid, void *arg)
{
	struct scan *s = arg;
	struct cmdline c;
	struct seen e = { .pid = pid };

	if (procfs_cmdline(s->root, pid, &c))
		return 0;
	e.kind = gunicorn_kind(&c);
	if (e.kind == GK_NONE || procfs_stat(s->root, pid, &e.ppid, &e.start))
		return 0;
	if (e.kind != GK_WORKER) { /* a master's settings; workers take their master's */
		struct gunicorn_settings g;

		gunicorn_settings(s->root, pid, &c, &g);
		snprintf(e.app, sizeof(e.app), "%s", g.app);
		e.timeout_s = g.timeout_s;
		snprintf(e.certfile, sizeof(e.certfile), "%s", g.certfile);
	}
	if (vec_grow((void **)&s->v, s->n, &s->cap, sizeof(*s->v), 32))
		return -1;
	s->v[s->n++] = e;
	return 0;
}

static const struct seen *seen_find(const struct scan *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].pid == pid)
			return &s->v[i];
	return NULL;
}

static int is_master(const struct scan *s, const struct seen *e)
{
	const struct seen *parent;

	if (e->kind == GK_MASTER)
		return 1;
	if (e->kind == GK_WORKER)
		return 0;
	parent = seen_find(s, e->ppid);
	return !parent || parent->kind == GK_WORKER;
}

static int collect_masters(const struct scan *s, pid_t only, struct found_list *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct seen *m = &s->v[i];
		struct found f = {
			.pid = m->pid, .master = m->pid, .start_ticks = m->start, .timeout_s = m->timeout_s
		};

		if ((only && m->pid != only) || (!only && !is_master(s, m)))
			continue;
		snprintf(f.app, sizeof(f.app), "%s", m->app);
		snprintf(f.certfile, sizeof(f.certfile), "%s", m->certfile);
		if (found_push(out, &f))
			return -1;
		for (size_t j = 0; j < s->n; j++) {
			const struct seen *w = &s->v[j];
			struct found g = { .pid = w->pid, .master = m->pid, .start_ticks = w->start };

			if (w->ppid != m->pid || w->kind == GK_MASTER)
				continue;
			snprintf(g.app, sizeof(g.app), "%s", m->app);
			if (found_push(out, &g))
				return -1;
		}
	}
	return 0;
}

static int scan_and_collect(const char *root, pid_t only, struct found_list *out)
{
	struct scan s = { .root = root };
	int rc = -1;

	if (procfs_each_pid(root, scan_one, &s) == 0)
		rc = collect_masters(&s, only, out);
	free(s.v);
	return rc;
}

int discover_scan(const char *root, struct found_list *out)
{
	return scan_and_collect(root, 0, out);
}

int discover_workers(const char *root, pid_t master, struct found_list *out)
{
	return scan_and_collect(root, master, out);
}
