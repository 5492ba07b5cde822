/* promtext.h - the pieces of the Prometheus text format (0.0.4) that the
 * renderers and the Redis readers share: escaping, names, numbers. */
#ifndef OBS_PROMTEXT_H
#define OBS_PROMTEXT_H

#include <stddef.h>

#include "lib/strbuf.h"

/* Appends v as a label value: backslash, double quote and newline escaped. */
void pt_escape(struct strbuf *out, const char *v);
/* Appends a HELP text: backslash and newline escaped. */
void pt_help(struct strbuf *out, const char *help);
/* Whether s is a label name ([a-zA-Z_][a-zA-Z0-9_]*), or with metric set a
 * metric name (':' allowed too). */
int pt_name_ok(const char *s, int metric);
/* v in the fewest significant digits that read back as v ("5", "0.25",
 * "1e+02"). */
void pt_shortest(double v, char out[32]);
/* Appends v as a sample value: the shortest form, NaN, +Inf or -Inf. */
void pt_number(struct strbuf *out, double v);

#endif
