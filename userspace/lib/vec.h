/* vec.h - growth of the plain dynamic arrays used across userspace. */
#ifndef OBS_VEC_H
#define OBS_VEC_H

#include <stdlib.h>

/* Makes room for one more element in *v (n used, *cap allocated), doubling
 * from first. Returns 0, or -1 (leaving *v as it was) when out of memory. */
static inline int vec_grow(void **v, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	p = realloc(*v, c * elem);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

/* The index of the first of the n sorted elements at base (size bytes
 * each) that is not below key, by below(element, key): where key is, or
 * would be inserted. */
static inline size_t vec_lower_bound(const void *base, size_t n, size_t size, const void *key,
				     int (*below)(const void *elem, const void *key))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (below((const char *)base + mid * size, key))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
