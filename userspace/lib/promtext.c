/* promtext.c - Prometheus text escaping, name checks and number forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/promtext.h"

void pt_escape(struct strbuf *out, const char *v)
{
	const char *run = v;

	for (; *v; v++) {
		const char *rep = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;

		if (!rep)
			continue;
		sb_append(out, run, (size_t)(v - run));
		sb_puts(out, rep);
		run = v + 1;
	}
	sb_append(out, run, (size_t)(v - run));
}

void pt_help(struct strbuf *out, const char *help)
{
	const char *run = help;

	for (; *help; help++) {
		const char *rep = *help == '\\' ? "\\\\" : *help == '\n' ? "\\n" : NULL;

		if (!rep)
			continue;
		sb_append(out, run, (size_t)(help - run));
		sb_puts(out, rep);
		run = help + 1;
	}
	sb_append(out, run, (size_t)(help - run));
}

static int name_char(char c, int first, int metric)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
	       (!first && c >= '0' && c <= '9');
}

int pt_name_ok(const char *s, int metric)
{
	for (const char *p = s; *p; p++)
		if (!name_char(*p, p == s, metric))
			return 0;
	return *s != '\0';
}

void pt_shortest(double v, char out[32])
{
	for (int p = 1; p <= 17; p++) {
		snprintf(out, 32, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

void pt_number(struct strbuf *out, double v)
{
	char buf[32];

	if (isnan(v)) {
		sb_puts(out, "NaN");
	} else if (isinf(v)) {
		sb_puts(out, v > 0 ? "+Inf" : "-Inf");
	} else {
		pt_shortest(v, buf);
		sb_puts(out, buf);
	}
}
