/* registry.c - masters known to userspace, in discovery order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/registry.h"
#include "lib/vec.h"

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
		if (vec_grow((void **)&r->v, r->n, &r->cap, sizeof(*r->v), 8))
			return NULL;
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

static int pid_below(const void *elem, const void *key)
{
	return ((const struct worker_rec *)elem)->pid < *(const pid_t *)key;
}

static size_t worker_slot(const struct registry *r, pid_t pid)
{
	return vec_lower_bound(r->w, r->nw, sizeof(*r->w), &pid, pid_below);
}

struct worker_rec *registry_worker(struct registry *r, pid_t pid, int create)
{
	size_t i = worker_slot(r, pid);

	if (i < r->nw && r->w[i].pid == pid)
		return &r->w[i];
	if (!create)
		return NULL;
	if (vec_grow((void **)&r->w, r->nw, &r->capw, sizeof(*r->w), 32))
		return NULL;
	memmove(&r->w[i + 1], &r->w[i], (r->nw - i) * sizeof(*r->w));
	r->nw++;
	memset(&r->w[i], 0, sizeof(r->w[i]));
	r->w[i].pid = pid;
	return &r->w[i];
}

void registry_drop_worker(struct registry *r, pid_t pid)
{
	size_t i = worker_slot(r, pid);

	if (i < r->nw && r->w[i].pid == pid) {
		memmove(&r->w[i], &r->w[i + 1], (r->nw - i - 1) * sizeof(*r->w));
		r->nw--;
	}
}

void registry_free(struct registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		totals_free(&r->v[i].retired);
	free(r->v);
	free(r->w);
	memset(r, 0, sizeof(*r));
}
