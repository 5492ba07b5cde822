/* expo.h - the Prometheus text format (0.0.4) view of a snapshot. */
#ifndef GO_EXPO_H
#define GO_EXPO_H

#include "snapshot.h"
#include "strbuf.h"

/* Appends the exposition of s to out; scrape_seconds is the build time of
 * the previous exposition. */
void expo_render(const struct snapshot *s, double scrape_seconds, struct strbuf *out);
/* Appends v as a label value: backslash, double quote and newline escaped. */
void expo_escape(struct strbuf *out, const char *v);
/* Names of enum go_drop_reason values, as the "reason" label. */
const char *expo_drop_reason(int reason);

#endif
