/* snapshot.c - a snapshot's containers and its shared lifetime. */
#include <stdlib.h>
#include <string.h>

#include "model/snapshot.h"

int totals_add_worker(struct totals *t, const struct obs_worker_stats *s, const struct code_list *codes)
{
	t->requests += s->requests;
	t->dur_sum_ns += s->dur_sum_ns;
	for (size_t i = 0; i <= OBS_MAX_DUR_BOUNDS; i++)
		t->dur_buckets[i] += s->dur_buckets[i];
	return codes_add_all(&t->codes, codes);
}

int totals_add(struct totals *t, const struct totals *o)
{
	t->requests += o->requests;
	t->dur_sum_ns += o->dur_sum_ns;
	for (size_t i = 0; i <= OBS_MAX_DUR_BOUNDS; i++)
		t->dur_buckets[i] += o->dur_buckets[i];
	return codes_add_all(&t->codes, &o->codes);
}

void totals_free(struct totals *t)
{
	codes_free(&t->codes);
	memset(t, 0, sizeof(*t));
}

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (s)
		s->refs = 1;
	return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void snapshot_clear(struct snapshot *s)
{
	for (size_t i = 0; i < s->nmasters; i++) {
		totals_free(&s->masters[i].t);
		codes_free(&s->masters[i].signals);
	}
	for (size_t i = 0; i < s->nworkers; i++)
		codes_free(&s->workers[i].codes);
	free(s->masters);
	free(s->workers);
	s->masters = NULL;
	s->workers = NULL;
	s->nmasters = s->nworkers = 0;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	snapshot_clear(s);
	free(s);
}

const struct master_snap *snapshot_master(const struct snapshot *s, pid_t pid)
{
	for (size_t i = 0; i < s->nmasters; i++)
		if (s->masters[i].pid == pid)
			return &s->masters[i];
	return NULL;
}
