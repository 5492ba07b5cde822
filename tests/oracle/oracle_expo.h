/* oracle_expo.h - the old Prometheus text renderer (render/expo.h of
 * cb4040f, renamed oracle_*), the oracle of tests/test_same_as_before.c. */
#ifndef OBS_ORACLE_EXPO_H
#define OBS_ORACLE_EXPO_H

#include <stddef.h>

#include "model/snapshot.h"
#include "lib/strbuf.h"

/* Appends the exposition of s to out; scrape_seconds is the build time of
 * the previous exposition. */
void oracle_expo_render(const struct snapshot *s, double scrape_seconds, struct strbuf *out);

/* The same exposition rendered a piece at a time, for a body sent while it
 * is written. It owns its snapshot, so nothing it reads changes or goes
 * away before it is freed. */
struct oracle_expo_stream;

/* Takes s over (s is left empty); NULL, s freed, when memory ran out. */
struct oracle_expo_stream *oracle_expo_stream_new(struct snapshot *s, double scrape_seconds);
/* Text appended after the last family (e.g. the Redis mirror's own
 * families): fill it before the stream reaches its end. */
struct strbuf *oracle_expo_stream_trailer(struct oracle_expo_stream *st);
/* Appends at least want bytes of the exposition to out, fewer only at its
 * end. Returns 1 while some is left, 0 once all of it (the trailer too) is
 * in out, -1 when memory ran out (out->oom). */
int oracle_expo_stream_next(struct oracle_expo_stream *st, struct strbuf *out, size_t want);
/* Frees st and its snapshot, whether or not it reached its end. */
void oracle_expo_stream_free(struct oracle_expo_stream *st);

/* Appends v as a label value: backslash, double quote and newline escaped. */
void oracle_expo_escape(struct strbuf *out, const char *v);
/* Names of enum obs_drop_reason values, as the "reason" label. */
const char *oracle_expo_drop_reason(int reason);

#endif
