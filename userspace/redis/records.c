/* records.c - the series model into the Redis records of the Python
 * exporter's layout (see records.h). Pure: no I/O, no Redis. A bucket's
 * own count comes with its sample, so nothing depends on the order in
 * which the samples are walked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/promtext.h"
#include "lib/vec.h"
#include "model/series.h"
#include "redis/records.h"

struct label {
	const char *name, *value;
};

#define MAX_LABELS (SERIES_MAX_OWNER + SERIES_MAX_EXTRA + 1)

/* A build in progress, with the labels of the last owner seen. */
struct build {
	struct series m;
	struct redis_records *out;
	const char *prefix, *node;
	char self[16];
	struct strbuf json; /* scratch */
	enum owner owner;
	size_t index;
	struct owner_labels ol;
	int oom;
};

int rk_md5_hex(const char *s, size_t n, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(s, n, md, &len, EVP_md5(), NULL) || len != 16)
		return -1;
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* The sample's labels, the owner's first; the node label unless it has one. */
static size_t labels_of(struct build *b, const struct sample *sm, struct label *l)
{
	size_t n = 0;
	int has_node = 0;

	if (sm->owner != b->owner || sm->index != b->index) {
		series_owner_labels(&b->m, sm->owner, sm->index, &b->ol);
		b->owner = sm->owner;
		b->index = sm->index;
	}
	for (size_t i = 0; i < b->ol.n; i++)
		l[n++] = (struct label){ b->ol.name[i], b->ol.value[i] };
	for (size_t i = 0; i < sm->nextra; i++)
		l[n++] = (struct label){ sm->key[i], sm->val[i] };
	for (size_t i = 0; i < n; i++)
		has_node |= !strcmp(l[i].name, "node");
	if (*b->node && !has_node)
		l[n++] = (struct label){ "node", b->node };
	qsort(l, n, sizeof(l[0]), by_name);
	return n;
}

/* Python's json.dumps([family, sample, {labels}, help], sort_keys=True). */
static void original_key(struct build *b, const struct sample *sm, size_t flen, const char *sample)
{
	struct label l[MAX_LABELS];
	size_t nl = labels_of(b, sm, l);
	struct strbuf *js = &b->json;

	js->len = 0;
	sb_append(js, "[", 1);
	rk_json_string(js, sm->f->name, flen);
	sb_puts(js, ", ");
	rk_json_string(js, sample, strlen(sample));
	sb_puts(js, ", {");
	for (size_t i = 0; i < nl; i++) {
		if (i)
			sb_puts(js, ", ");
		rk_json_string(js, l[i].name, strlen(l[i].name));
		sb_puts(js, ": ");
		rk_json_string(js, l[i].value, strlen(l[i].value));
	}
	sb_puts(js, "}, ");
	rk_json_string(js, sm->f->help, strlen(sm->f->help));
	sb_append(js, "]", 1);
}

/* The pid segment of the keys: worker_pid, else master_pid, else ours. */
static const char *pid_of(const struct build *b, const struct sample *sm)
{
	if (sm->owner == OWNER_WORKER)
		return b->ol.pid[1];
	if (sm->owner == OWNER_MASTER)
		return b->ol.pid[0];
	return b->self;
}

static void add_record(void *ctx, const struct sample *sm)
{
	struct build *b = ctx;
	struct redis_records *out = b->out;
	const struct family *f = sm->f;
	/* the key's type segment: gauges are "gauge_all" (multiprocess_mode all) */
	const char *typ = series_type_name(f->type), *type = f->type == FT_GAUGE ? "gauge_all" : typ;
	size_t flen = strlen(f->name);
	char sample[160], md5[33], bval[32];
	struct redis_record *r;

	if (b->oom || (f->type == FT_HISTOGRAM && sm->part == PART_COUNT))
		return;
	if (f->type == FT_COUNTER && flen > 6 && !strcmp(f->name + flen - 6, "_total"))
		flen -= 6; /* prometheus_client's family name */
	snprintf(sample, sizeof(sample), "%s%s", f->name, series_suffix(sm->part));
	original_key(b, sm, flen, sample);
	if (b->json.oom || rk_md5_hex(b->json.data, b->json.len, md5) ||
	    vec_grow((void **)&out->v, out->n, &out->cap, sizeof(*out->v), 256)) {
		b->oom = 1;
		return;
	}
	r = &out->v[out->n++];
	r->typ = typ;
	r->data_key = out->text.len;
	sb_printf(&out->text, "%s:%s:%s:metric:%s%c", b->prefix, type, pid_of(b, sm), md5, '\0');
	r->meta_key = out->text.len;
	sb_printf(&out->text, "%s:%s:%s:meta:%s%c", b->prefix, type, pid_of(b, sm), md5, '\0');
	r->original_key = out->text.len;
	sb_append(&out->text, b->json.data, b->json.len + 1);
	r->value = out->text.len;
	if (sm->part == PART_BUCKET) {
		pt_shortest(sm->own, bval);
		sb_puts(&out->text, bval);
	} else {
		series_value_text(&out->text, &sm->v);
	}
	sb_append(&out->text, "", 1);
	if (out->text.oom)
		b->oom = 1;
}

int redis_records_build(const struct snapshot *s, const char *prefix, const char *node, pid_t self,
			struct redis_records *out)
{
	struct build b = { .out = out, .prefix = prefix, .node = node ? node : "", .owner = OWNER_NONE };

	memset(out, 0, sizeof(*out));
	series_init(&b.m, s);
	snprintf(b.self, sizeof(b.self), "%d", (int)self);
	for (size_t f = 0; f < series_nfamilies() && !b.oom; f++)
		if (series_shown(&b.m, f))
			series_walk(&b.m, f, 0, series_items(&b.m, f), add_record, &b);
	sb_free(&b.json);
	if (b.oom) {
		redis_records_free(out);
		return -1;
	}
	return 0;
}

void redis_records_free(struct redis_records *r)
{
	free(r->v);
	sb_free(&r->text);
	memset(r, 0, sizeof(*r));
}
