/* codes.h - counts by a small number (status code, signal), kept sorted. */
#ifndef OBS_CODES_H
#define OBS_CODES_H

#include <stddef.h>
#include <stdint.h>

struct code_count {
	uint32_t code;
	uint64_t count;
};

/* Counts by code, sorted by code. Start from { 0 }. */
struct code_list {
	struct code_count *v;
	size_t n, cap;
};

/* Adds count to code's; -1 when memory ran out. */
int codes_add(struct code_list *l, uint32_t code, uint64_t count);
/* Adds every count of o to l. */
int codes_add_all(struct code_list *l, const struct code_list *o);
void codes_free(struct code_list *l);

#endif
