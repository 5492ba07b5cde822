/* registry.c - masters known to userspace, in discovery order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

struct master_rec *registry_find(struct registry *r, pid_t pid)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].pid == pid)
			return &r->v[i];
	return NULL;
}

struct master_rec *registry_add(struct registry *r, pid_t pid, uint64_t start_ticks, const char *app)
{
	struct master_rec *m = registry_find(r, pid);

	if (m && m->start_ticks != start_ticks) {
		registry_remove(r, pid); /* the pid was reused */
		m = NULL;
	}
	if (!m) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 8;
			struct master_rec *v = realloc(r->v, cap * sizeof(*v));

			if (!v)
				return NULL;
			r->v = v;
			r->cap = cap;
		}
		m = &r->v[r->n++];
		memset(m, 0, sizeof(*m));
		m->pid = pid;
		m->start_ticks = start_ticks;
	}
	snprintf(m->app, sizeof(m->app), "%s", app);
	return m;
}

void registry_remove(struct registry *r, pid_t pid)
{
	struct master_rec *m = registry_find(r, pid);
	size_t i;

	if (!m)
		return;
	i = (size_t)(m - r->v);
	totals_free(&m->retired);
	memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
	r->n--;
}

void registry_free(struct registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		totals_free(&r->v[i].retired);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
