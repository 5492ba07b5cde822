/* snapshot.c - the containers of a snapshot: code lists and totals. */
#include <stdlib.h>
#include <string.h>

#include "model/snapshot.h"
#include "lib/vec.h"

int codes_add(struct code_list *l, uint32_t code, uint64_t count)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->v[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && l->v[lo].code == code) {
		l->v[lo].count += count;
		return 0;
	}
	if (vec_grow((void **)&l->v, l->n, &l->cap, sizeof(*l->v), 8))
		return -1;
	memmove(&l->v[lo + 1], &l->v[lo], (l->n - lo) * sizeof(*l->v));
	l->v[lo].code = code;
	l->v[lo].count = count;
	l->n++;
	return 0;
}

void codes_free(struct code_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int totals_add_worker(struct totals *t, const struct obs_worker_stats *s, const struct code_list *codes)
{
	t->requests += s->requests;
	t->dur_sum_ns += s->dur_sum_ns;
	for (size_t i = 0; i <= OBS_MAX_DUR_BOUNDS; i++)
		t->dur_buckets[i] += s->dur_buckets[i];
	for (size_t i = 0; i < codes->n; i++)
		if (codes_add(&t->codes, codes->v[i].code, codes->v[i].count))
			return -1;
	return 0;
}

int totals_add(struct totals *t, const struct totals *o)
{
	t->requests += o->requests;
	t->dur_sum_ns += o->dur_sum_ns;
	for (size_t i = 0; i <= OBS_MAX_DUR_BOUNDS; i++)
		t->dur_buckets[i] += o->dur_buckets[i];
	for (size_t i = 0; i < o->codes.n; i++)
		if (codes_add(&t->codes, o->codes.v[i].code, o->codes.v[i].count))
			return -1;
	return 0;
}

void totals_free(struct totals *t)
{
	codes_free(&t->codes);
	memset(t, 0, sizeof(*t));
}

void snapshot_free(struct snapshot *s)
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
