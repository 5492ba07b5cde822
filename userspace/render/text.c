/* text.c - a snapshot as Prometheus text: one HELP and one TYPE per family,
 * every sample of a family together, cumulative histogram buckets, in the
 * order of the series model. The owners' label sets are rendered once per
 * exposition and samples are written without printf: at hundreds of
 * workers the exposition is megabytes, and formatting was most of a
 * scrape's time. A resumable cursor (family, then owner) renders a few
 * workers at a time, so a scrape is sent while it is written instead of
 * held whole in memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/promtext.h"
#include "model/series.h"
#include "render/text.h"

/* Workers are rendered this many at a time: a histogram family is about
 * 2 KiB a worker, so a step adds little to the 32-64 KiB an HTTP read asks. */
#define TEXT_RUN 16

/* An exposition being rendered: its snapshot and model, the owners'
 * rendered label sets (without braces; workers first, then masters), and
 * the cursor. */
struct text_stream {
	struct snapshot *ref; /* the stream's own reference; NULL for text_render */
	const struct snapshot *s;
	struct series m;
	struct strbuf labels;
	size_t *off;
	size_t fam, item; /* the next family, the next owner in it */
	int headed;       /* HELP and TYPE of that family are written */
	int done;
};

static void owner_text(struct strbuf *out, const struct series *m, enum owner o, size_t i)
{
	struct owner_labels ol;

	series_owner_labels(m, o, i, &ol);
	for (size_t k = 0; k < ol.n; k++) {
		if (k)
			sb_append(out, ",", 1);
		sb_puts(out, ol.name[k]);
		sb_append(out, "=\"", 2);
		pt_escape(out, ol.value[k]);
		sb_append(out, "\"", 1);
	}
}

static int labels_build(struct text_stream *st)
{
	const struct snapshot *s = st->s;
	size_t n = s->nworkers + s->nmasters;

	sb_init(&st->labels);
	st->off = calloc(n ? n : 1, sizeof(*st->off));
	if (!st->off)
		return -1;
	sb_grow(&st->labels, s->nworkers * 48 + s->nmasters * 32);
	for (size_t i = 0; i < s->nworkers; i++) {
		st->off[i] = st->labels.len;
		owner_text(&st->labels, &st->m, OWNER_WORKER, i);
		sb_append(&st->labels, "", 1); /* keeps the NUL */
	}
	for (size_t i = 0; i < s->nmasters; i++) {
		st->off[s->nworkers + i] = st->labels.len;
		owner_text(&st->labels, &st->m, OWNER_MASTER, i);
		sb_append(&st->labels, "", 1);
	}
	return st->labels.oom ? -1 : 0;
}

struct line_ctx {
	const struct text_stream *st;
	struct strbuf *out;
};

/* name{owner labels,key="value",...} value */
static void sample_line(void *ctx, const struct sample *sm)
{
	const struct line_ctx *c = ctx;
	struct strbuf *out = c->out;
	const char *labels = NULL;

	sb_puts(out, sm->f->name);
	sb_puts(out, series_suffix(sm->part));
	if (sm->owner == OWNER_WORKER)
		labels = c->st->labels.data + c->st->off[sm->index];
	else if (sm->owner == OWNER_MASTER)
		labels = c->st->labels.data + c->st->off[c->st->s->nworkers + sm->index];
	if (labels || sm->nextra) {
		sb_append(out, "{", 1);
		if (labels)
			sb_puts(out, labels);
		for (size_t k = 0; k < sm->nextra; k++) {
			if (k || labels)
				sb_append(out, ",", 1);
			sb_puts(out, sm->key[k]);
			sb_append(out, "=\"", 2);
			pt_escape(out, sm->val[k]);
			sb_append(out, "\"", 1);
		}
		sb_append(out, "}", 1);
	}
	sb_append(out, " ", 1);
	series_value_text(out, &sm->v);
	sb_append(out, "\n", 1);
}

static void next_family(struct text_stream *st)
{
	st->fam++;
	st->item = 0;
	st->headed = 0;
	if (st->fam == series_nfamilies())
		st->done = 1;
}

/* Appends the next run of samples, with the family's HELP and TYPE first. */
static void step(struct text_stream *st, struct strbuf *out)
{
	const struct family *f = series_family(st->fam);
	size_t n = series_items(&st->m, st->fam), to;
	struct line_ctx c = { st, out };

	if (!st->headed) {
		if (!series_shown(&st->m, st->fam)) {
			next_family(st);
			return;
		}
		sb_puts(out, "# HELP ");
		sb_puts(out, f->name);
		sb_append(out, " ", 1);
		pt_help(out, f->help);
		sb_puts(out, "\n# TYPE ");
		sb_puts(out, f->name);
		sb_append(out, " ", 1);
		sb_puts(out, series_type_name(f->type));
		sb_append(out, "\n", 1);
		st->headed = 1;
	}
	to = n - st->item > TEXT_RUN ? st->item + TEXT_RUN : n;
	series_walk(&st->m, st->fam, st->item, to, sample_line, &c);
	st->item = to;
	if (st->item == n)
		next_family(st);
}

static int stream_init(struct text_stream *st, const struct snapshot *s)
{
	st->s = s;
	series_init(&st->m, s);
	return labels_build(st);
}

static void stream_fini(struct text_stream *st)
{
	sb_free(&st->labels);
	free(st->off);
	st->off = NULL;
}

struct text_stream *text_stream_new(struct snapshot *s)
{
	struct text_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->ref = snapshot_ref(s);
	if (stream_init(st, s)) {
		text_stream_free(st);
		return NULL;
	}
	return st;
}

int text_stream_next(struct text_stream *st, struct strbuf *out, size_t want)
{
	size_t start = out->len;

	while (!st->done && !out->oom && out->len - start < want)
		step(st, out);
	if (out->oom)
		return -1;
	return st->done ? 0 : 1;
}

void text_stream_free(struct text_stream *st)
{
	if (!st)
		return;
	stream_fini(st);
	snapshot_unref(st->ref);
	free(st);
}

void text_render(const struct snapshot *s, struct strbuf *out)
{
	struct text_stream st = { 0 };

	if (stream_init(&st, s)) {
		stream_fini(&st);
		out->oom = 1;
		return;
	}
	/* about 7 KiB per worker with the default buckets: one allocation */
	sb_grow(out, 8192 + s->nworkers * 7168 + s->nmasters * 2048);
	text_stream_next(&st, out, SIZE_MAX);
	stream_fini(&st);
}
