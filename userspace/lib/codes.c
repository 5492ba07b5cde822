/* codes.c - sorted counts by code: a binary search, an insert in place. */
#include <stdlib.h>
#include <string.h>

#include "lib/codes.h"
#include "lib/vec.h"

static int code_below(const void *elem, const void *key)
{
	return ((const struct code_count *)elem)->code < *(const uint32_t *)key;
}

int codes_add(struct code_list *l, uint32_t code, uint64_t count)
{
	size_t lo = vec_lower_bound(l->v, l->n, sizeof(*l->v), &code, code_below);

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

int codes_add_all(struct code_list *l, const struct code_list *o)
{
	for (size_t i = 0; i < o->n; i++)
		if (codes_add(l, o->v[i].code, o->v[i].count))
			return -1;
	return 0;
}

void codes_free(struct code_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
