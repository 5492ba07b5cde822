/* merge.h - records read back from Redis (the Python exporter's layout)
 * merged into one exposition, as `aggregate` serves it. */
#ifndef OBS_MERGE_H
#define OBS_MERGE_H

#include <stddef.h>

#include "lib/strbuf.h"

struct merge_entry;

/* Start from { 0 }. */
struct merge {
	struct merge_entry *v;
	size_t n, cap;
	struct strbuf arena;
	size_t skipped; /* records not in the layout, or not renderable */
};

/* One data key: its name (for the type segment), its meta hash's
 * original_key, and its value and timestamp fields (timestamp may be NULL). */
void merge_add(struct merge *m, const char *data_key, const char *original_key, const char *value,
	       const char *timestamp);
/* Appends every family, one HELP and one TYPE each; m stays usable. */
void merge_render(struct merge *m, struct strbuf *out);
void merge_free(struct merge *m);

#endif
