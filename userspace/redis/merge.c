/* merge.c - records read back from Redis in the Python exporter's layout,
 * merged into one Prometheus text exposition the way its
 * RedisMultiProcessCollector merges them: counters (and histogram parts) of
 * the same series from several keys are summed, histogram buckets (stored as
 * their own counts) accumulated in le order with _count derived and +Inf
 * added when missing, and of equal gauge series the newest wins. One HELP
 * and one TYPE per family; a record that cannot be rendered validly is
 * counted in skipped instead. */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/promtext.h"
#include "redis/merge.h"
#include "redis/records.h"
#include "lib/vec.h"

enum kind { K_BUCKET, K_SUM, K_OTHER };

/* One data key, decoded; the strings are offsets in the merge's arena. */
struct merge_entry {
	size_t family, sample, help, labels, le; /* offsets in arena; labels rendered, without le */
	const char *type;                        /* counter, gauge, histogram, summary */
	enum kind kind;
	double le_num, value, ts;
};

static const char *at(const struct merge *m, size_t off)
{
	return m->arena.data + off;
}

static size_t put(struct strbuf *a, const char *s)
{
	size_t off = a->len;

	sb_append(a, s, strlen(s) + 1);
	return off;
}

static const char *key_type(const char *data_key)
{
	const char *t = strchr(data_key, ':');

	if (!t)
		return "counter";
	t++;
	if (!strncmp(t, "gauge", 5))
		return "gauge";
	if (!strncmp(t, "histogram:", 10))
		return "histogram";
	if (!strncmp(t, "summary:", 8))
		return "summary";
	return "counter"; /* as the Python reader falls back */
}

static int cmp_label(const void *a, const void *b, void *k)
{
	const struct rk_key *key = k;

	return strcmp(key->buf.data + key->name[*(const size_t *)a],
		      key->buf.data + key->name[*(const size_t *)b]);
}

/* Adds one key's record to m; a record that cannot be rendered is skipped. */
void merge_add(struct merge *m, const char *data_key, const char *orig, const char *value, const char *ts)
{
	struct rk_key k;
	struct merge_entry e = { .type = key_type(data_key), .kind = K_OTHER };
	struct strbuf lb;
	size_t idx[RK_MAX_LABELS], slen;
	const char *sample;
	char *end;

	if (rk_parse_key(orig, &k)) {
		m->skipped++;
		return;
	}
	sb_init(&lb);
	e.value = strtod(value, &end);
	e.ts = ts ? strtod(ts, NULL) : 0;
	sample = k.buf.data + k.sample;
	slen = strlen(sample);
	if (end == value || !pt_name_ok(sample, 1) || !pt_name_ok(k.buf.data + k.family, 1) ||
	    vec_grow((void **)&m->v, m->n, &m->cap, sizeof(e), 1024))
		goto skip;
	for (size_t i = 0; i < k.nlabels; i++)
		idx[i] = i;
	qsort_r(idx, k.nlabels, sizeof(idx[0]), cmp_label, &k);
	for (size_t i = 0; i < k.nlabels; i++) {
		const char *name = k.buf.data + k.name[idx[i]], *v = k.buf.data + k.value[idx[i]];

		if (!pt_name_ok(name, 0))
			goto skip;
		if (!strcmp(name, "le") && !strcmp(e.type, "histogram") && slen > 7 &&
		    !strcmp(sample + slen - 7, "_bucket")) {
			e.kind = K_BUCKET;
			e.le_num = strcmp(v, "+Inf") ? strtod(v, NULL) : INFINITY;
			e.le = put(&m->arena, v);
			continue;
		}
		sb_printf(&lb, "%s%s=\"", lb.len ? "," : "", name);
		pt_escape(&lb, v);
		sb_puts(&lb, "\"");
	}
	if (!strcmp(e.type, "histogram") && e.kind != K_BUCKET) {
		if (slen > 4 && !strcmp(sample + slen - 4, "_sum"))
			e.kind = K_SUM;
		else
			goto skip; /* _count is derived from the buckets */
	}
	e.family = put(&m->arena, k.buf.data + k.family);
	e.sample = put(&m->arena, sample);
	e.help = put(&m->arena, k.buf.data + k.help);
	e.labels = put(&m->arena, lb.data ? lb.data : "");
	m->v[m->n++] = e;
	sb_free(&lb);
	sb_free(&k.buf);
	return;
skip:
	m->skipped++;
	sb_free(&lb);
	sb_free(&k.buf);
}

static int cmp_entry(const void *a, const void *b, void *arg)
{
	const struct merge_entry *x = a, *y = b;
	const struct merge *m = arg;
	int c = strcmp(at(m, x->family), at(m, y->family));

	if (!c)
		c = strcmp(at(m, x->labels), at(m, y->labels));
	if (!c)
		c = (int)x->kind - (int)y->kind;
	if (!c)
		c = strcmp(at(m, x->sample), at(m, y->sample));
	if (!c && x->kind == K_BUCKET)
		c = (x->le_num > y->le_num) - (x->le_num < y->le_num);
	return c;
}

static void help_line(struct strbuf *out, const char *name, const char *help, const char *type)
{
	sb_printf(out, "# HELP %s ", name);
	pt_help(out, help);
	sb_printf(out, "\n# TYPE %s %s\n", name, type);
}

static int same_series(const struct merge *m, const struct merge_entry *a, const struct merge_entry *b)
{
	return !strcmp(at(m, a->family), at(m, b->family)) && !strcmp(at(m, a->labels), at(m, b->labels)) &&
	       a->kind == b->kind && !strcmp(at(m, a->sample), at(m, b->sample)) &&
	       (a->kind != K_BUCKET || a->le_num == b->le_num);
}

static void sample_line(struct strbuf *out, const char *name, const char *labels, const char *le, double v)
{
	sb_puts(out, name);
	if (*labels || le) {
		sb_printf(out, "{%s", labels);
		if (le)
			sb_printf(out, "%sle=\"%s\"", *labels ? "," : "", le);
		sb_puts(out, "}");
	}
	sb_puts(out, " ");
	pt_number(out, v);
	sb_puts(out, "\n");
}

/* Renders the histogram series starting at v[i] (same family and labels);
 * returns the index after it. */
static size_t render_histogram(struct strbuf *out, const struct merge *m, size_t i, size_t n)
{
	const struct merge_entry *first = &m->v[i];
	const char *fam = at(m, first->family), *labels = at(m, first->labels);
	double acc = 0, sum = 0;
	int inf = 0, have_sum = 0;
	char name[300];

	snprintf(name, sizeof(name), "%s_bucket", fam);
	while (i < n && m->v[i].kind == K_BUCKET && !strcmp(at(m, m->v[i].labels), labels) &&
	       !strcmp(at(m, m->v[i].family), fam)) {
		const struct merge_entry *e = &m->v[i];

		acc += e->value;
		for (i++; i < n && same_series(m, e, &m->v[i]); i++)
			acc += m->v[i].value;
		inf |= isinf(e->le_num) > 0;
		sample_line(out, name, labels, at(m, e->le), acc);
	}
	if (!inf)
		sample_line(out, name, labels, "+Inf", acc);
	while (i < n && m->v[i].kind == K_SUM && !strcmp(at(m, m->v[i].labels), labels) &&
	       !strcmp(at(m, m->v[i].family), fam)) {
		sum += m->v[i++].value;
		have_sum = 1;
	}
	snprintf(name, sizeof(name), "%s_sum", fam);
	if (have_sum)
		sample_line(out, name, labels, NULL, sum);
	snprintf(name, sizeof(name), "%s_count", fam);
	sample_line(out, name, labels, NULL, acc);
	return i;
}

/* Counters (and summaries) of one series are summed; of gauges the newest wins. */
static size_t render_plain(struct strbuf *out, const struct merge *m, size_t i, size_t n)
{
	const struct merge_entry *e = &m->v[i];
	double v = e->value, ts = e->ts;

	for (i++; i < n && same_series(m, e, &m->v[i]); i++) {
		if (strcmp(e->type, "gauge"))
			v += m->v[i].value;
		else if (m->v[i].ts >= ts) {
			v = m->v[i].value;
			ts = m->v[i].ts;
		}
	}
	sample_line(out, at(m, e->sample), at(m, e->labels), NULL, v);
	return i;
}

void merge_render(struct merge *m, struct strbuf *out)
{
	size_t i = 0;

	if (!m->n)
		return;
	qsort_r(m->v, m->n, sizeof(m->v[0]), cmp_entry, m);
	while (i < m->n) {
		const struct merge_entry *f = &m->v[i];
		const char *fam = at(m, f->family), *name = fam, *sample = at(m, f->sample);
		size_t fl = strlen(fam);

		if (!strcmp(f->type, "counter") && !strncmp(sample, fam, fl) &&
		    !strcmp(sample + fl, "_total"))
			name = sample; /* prometheus_client's counter family drops _total */
		help_line(out, name, at(m, f->help), f->type);
		while (i < m->n && !strcmp(at(m, m->v[i].family), fam)) {
			if (strcmp(m->v[i].type, f->type)) { /* one type per family */
				m->skipped++;
				i++;
			} else if (!strcmp(f->type, "histogram")) {
				i = render_histogram(out, m, i, m->n);
			} else {
				i = render_plain(out, m, i, m->n);
			}
		}
	}
}

void merge_free(struct merge *m)
{
	free(m->v);
	sb_free(&m->arena);
	memset(m, 0, sizeof(*m));
}
