/* text.h - the Prometheus text format (0.0.4) of a snapshot, rendered from
 * the series model whole or piece by piece. */
#ifndef OBS_TEXT_H
#define OBS_TEXT_H

#include <stddef.h>

#include "lib/strbuf.h"
#include "model/snapshot.h"

/* Appends the exposition of s to out (out->oom when memory ran out). */
void text_render(const struct snapshot *s, struct strbuf *out);

/* The same exposition rendered a piece at a time, for a body sent while it
 * is written. It holds a reference to its snapshot. */
struct text_stream;

/* NULL when memory ran out. */
struct text_stream *text_stream_new(struct snapshot *s);
/* Appends at least want bytes of the exposition to out, fewer only at its
 * end. Returns 1 while some is left, 0 once all of it is in out, -1 when
 * memory ran out (out->oom). */
int text_stream_next(struct text_stream *st, struct strbuf *out, size_t want);
void text_stream_free(struct text_stream *st);

#endif
