/* oracle_redis_keys.c - the Redis mirror's records as they were made before
 * the series model: parsed back from the text exposition (redis_keys.c of
 * cb4040f, with the JSON string writer of its redis_json.c), kept as the
 * oracle of tests/test_same_as_before.c. Only renamed oracle_*; compiled
 * into that test alone (it #includes this file), never into the product.
 *
 * The old header comment: turns our text exposition into the Redis records
 * of the Python exporter's layout (see redis_keys.h). Pure: no I/O, no Redis. It
 * relies on expo_render's order: a histogram's buckets come together, in
 * ascending le, so each bucket's own count is the difference from the
 * previous bucket of the same series. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "oracle_redis_keys.h"
#include "lib/vec.h"

#define MAX_LABELS 32

/* Decodes one UTF-8 code point at s (n bytes left); returns its length, or
 * 0 for an invalid sequence. */
static size_t oracle_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	c = s[0] & (0x7f >> len);
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void oracle_json_string(struct strbuf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	sb_append(out, "\"", 1);
	while (i < n) {
		uint32_t c;
		size_t len = oracle_utf8_decode(p + i, n - i, &c);

		if (!len) {
			c = 0xfffd;
			len = 1;
		}
		i += len;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			sb_append(out, e, 2);
		} else if (c >= 0x20 && c < 0x7f) {
			char ch = (char)c;
			sb_append(out, &ch, 1);
		} else if (c == '\n') {
			sb_puts(out, "\\n");
		} else if (c == '\r') {
			sb_puts(out, "\\r");
		} else if (c == '\t') {
			sb_puts(out, "\\t");
		} else if (c == '\b') {
			sb_puts(out, "\\b");
		} else if (c == '\f') {
			sb_puts(out, "\\f");
		} else if (c < 0x10000) {
			sb_printf(out, "\\u%04x", c);
		} else {
			c -= 0x10000;
			sb_printf(out, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
		}
	}
	sb_append(out, "\"", 1);
}

struct label {
	const char *name;
	size_t nlen;
	size_t value; /* offset of the unescaped value in struct parse's vals */
	size_t vlen;
};

struct sample {
	const char *name;
	size_t nlen;
	struct label l[MAX_LABELS];
	size_t nl;
	const char *value;
	size_t vlen;
};

/* What the lines before the current one told us. */
struct parse {
	char family[256];
	char type[16];
	struct strbuf help; /* unescaped */
	struct strbuf vals; /* unescaped label values of the current sample */
	struct strbuf base; /* the last bucket's series without le */
	double prev_bucket; /* its cumulative count */
	struct strbuf json; /* scratch */
	const char *prefix, *node;
	pid_t self;
};

int oracle_md5_hex(const char *s, size_t n, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(s, n, md, &len, EVP_md5(), NULL) || len != 16)
		return -1;
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Unescapes a HELP text (\\ and \n) or a label value (also \") into out. */
static void unescape(struct strbuf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			char e = s[i + 1];

			if (e == 'n' || e == '\\' || e == '"') {
				c = e == 'n' ? '\n' : e;
				i++;
			}
		}
		sb_append(out, &c, 1);
	}
}

static int name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

static size_t name_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && name_char(s[i], i == 0))
		i++;
	return i;
}

/* Parses the {...} of a sample at s; returns the bytes used, 0 on error. */
static size_t parse_labels(struct parse *ps, struct sample *sm, const char *s, size_t n)
{
	size_t i = 1;

	while (i < n && s[i] != '}') {
		struct label *l = &sm->l[sm->nl];
		size_t start;

		if (sm->nl == MAX_LABELS)
			return 0;
		l->name = s + i;
		l->nlen = name_len(s + i, n - i);
		i += l->nlen;
		if (!l->nlen || i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
			return 0;
		i += 2;
		start = i;
		while (i < n && s[i] != '"')
			i += s[i] == '\\' ? 2 : 1;
		if (i >= n)
			return 0;
		l->value = ps->vals.len;
		unescape(&ps->vals, s + start, i - start);
		l->vlen = ps->vals.len - l->value;
		sm->nl++;
		i++;
		if (i < n && s[i] == ',')
			i++;
	}
	return i < n ? i + 1 : 0;
}

static int parse_sample(struct parse *ps, struct sample *sm, const char *s, size_t n)
{
	size_t i;

	memset(sm, 0, sizeof(*sm));
	ps->vals.len = 0;
	sm->name = s;
	sm->nlen = name_len(s, n);
	if (!sm->nlen)
		return -1;
	i = sm->nlen;
	if (i < n && s[i] == '{') {
		size_t used = parse_labels(ps, sm, s + i, n - i);

		if (!used)
			return -1;
		i += used;
	}
	if (i >= n || s[i] != ' ')
		return -1;
	while (i < n && s[i] == ' ')
		i++;
	sm->value = s + i;
	while (i < n && s[i] != ' ')
		i++;
	sm->vlen = (size_t)(s + i - sm->value);
	return sm->vlen ? 0 : -1;
}

static const struct label *find_label(const struct sample *sm, const char *name)
{
	for (size_t i = 0; i < sm->nl; i++)
		if (sm->l[i].nlen == strlen(name) && memcmp(sm->l[i].name, name, sm->l[i].nlen) == 0)
			return &sm->l[i];
	return NULL;
}

/* "# HELP name text" and "# TYPE name type" set the current family. */
static void parse_comment(struct parse *ps, const char *s, size_t n)
{
	size_t nl;

	if (n < 7 || (memcmp(s, "# HELP ", 7) != 0 && memcmp(s, "# TYPE ", 7) != 0))
		return;
	nl = name_len(s + 7, n - 7);
	if (!nl || nl >= sizeof(ps->family))
		return;
	if (s[2] == 'H') {
		memcpy(ps->family, s + 7, nl);
		ps->family[nl] = '\0';
		ps->type[0] = '\0';
		ps->help.len = 0;
		if (7 + nl < n)
			unescape(&ps->help, s + 8 + nl, n - 8 - nl);
		return;
	}
	if (strlen(ps->family) != nl || memcmp(ps->family, s + 7, nl) != 0) {
		memcpy(ps->family, s + 7, nl); /* a TYPE without HELP */
		ps->family[nl] = '\0';
		ps->help.len = 0;
	}
	if (7 + nl < n)
		snprintf(ps->type, sizeof(ps->type), "%.*s", (int)(n - 8 - nl), s + 8 + nl);
}

static int suffix_is(const struct sample *sm, const char *family, const char *suffix)
{
	size_t fl = strlen(family), sl = strlen(suffix);

	return sm->nlen == fl + sl && memcmp(sm->name, family, fl) == 0 &&
	       memcmp(sm->name + fl, suffix, sl) == 0;
}

static int by_name(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

/* Python's json.dumps([family, sample, {labels}, help], sort_keys=True). */
static void original_key(struct parse *ps, const struct sample *sm, const char *family, size_t flen,
			 const struct strbuf *help)
{
	struct label l[MAX_LABELS + 1];
	size_t nl = sm->nl;
	struct strbuf *js = &ps->json;

	memcpy(l, sm->l, nl * sizeof(l[0]));
	if (*ps->node && !find_label(sm, "node"))
		l[nl++] =
		    (struct label){ .name = "node", .nlen = 4, .value = SIZE_MAX, .vlen = strlen(ps->node) };
	qsort(l, nl, sizeof(l[0]), by_name);
	js->len = 0;
	sb_append(js, "[", 1);
	oracle_json_string(js, family, flen);
	sb_puts(js, ", ");
	oracle_json_string(js, sm->name, sm->nlen);
	sb_puts(js, ", {");
	for (size_t i = 0; i < nl; i++) {
		const char *v = l[i].value == SIZE_MAX ? ps->node
				: l[i].vlen            ? ps->vals.data + l[i].value
						       : "";

		if (i)
			sb_puts(js, ", ");
		oracle_json_string(js, l[i].name, l[i].nlen);
		sb_puts(js, ": ");
		oracle_json_string(js, v, l[i].vlen);
	}
	sb_puts(js, "}, ");
	oracle_json_string(js, help->data ? help->data : "", help->len);
	sb_append(js, "]", 1);
}

/* A pid label's value when it is a plain number (keys are split on ':'). */
static int label_pid(struct parse *ps, const struct sample *sm, const char *name, char out[16])
{
	const struct label *l = find_label(sm, name);
	const char *v;

	if (!l || !l->vlen || l->vlen > 10)
		return 0;
	v = ps->vals.data + l->value;
	for (size_t i = 0; i < l->vlen; i++)
		if (v[i] < '0' || v[i] > '9')
			return 0;
	snprintf(out, 16, "%.*s", (int)l->vlen, v);
	return 1;
}

void oracle_fmt_double(double v, char out[32])
{
	for (int p = 1; p <= 17; p++) {
		snprintf(out, 32, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* A bucket's own count: its cumulative value minus the previous bucket's
 * of the same series (labels without le). */
static void bucket_value(struct parse *ps, const struct sample *sm, char out[32])
{
	struct strbuf sig;
	char num[64];
	double v, own;

	/* the value is not NUL-terminated: the text may end right after it */
	snprintf(num, sizeof(num), "%.*s", (int)sm->vlen, sm->value);
	v = own = strtod(num, NULL);
	sb_init(&sig);
	sb_append(&sig, sm->name, sm->nlen);
	for (size_t i = 0; i < sm->nl; i++) {
		if (sm->l[i].nlen == 2 && memcmp(sm->l[i].name, "le", 2) == 0)
			continue;
		sb_append(&sig, "\n", 1);
		sb_append(&sig, sm->l[i].name, sm->l[i].nlen);
		sb_append(&sig, "=", 1);
		sb_append(&sig, ps->vals.data + sm->l[i].value, sm->l[i].vlen);
	}
	if (sig.len == ps->base.len && ps->base.len && memcmp(sig.data, ps->base.data, sig.len) == 0)
		own = v - ps->prev_bucket;
	ps->base.len = 0;
	sb_append(&ps->base, sig.data ? sig.data : "", sig.len);
	ps->prev_bucket = v;
	sb_free(&sig);
	oracle_fmt_double(own, out);
}

static int add_record(struct parse *ps, struct oracle_records *out, const struct sample *sm)
{
	const char *type = "gauge_all", *typ = "gauge", *family = ps->family;
	const struct strbuf none = { 0 }, *help = &ps->help;
	size_t flen = strlen(family);
	char pid[16], md5[33], bval[32];
	struct oracle_record *r;
	int bucket = 0;

	if (!strcmp(ps->type, "histogram") && suffix_is(sm, ps->family, "_count"))
		return 0;
	if (!strcmp(ps->type, "histogram") &&
	    (suffix_is(sm, ps->family, "_bucket") || suffix_is(sm, ps->family, "_sum"))) {
		type = typ = "histogram";
		bucket = suffix_is(sm, ps->family, "_bucket") && find_label(sm, "le");
	} else if (!strcmp(ps->type, "counter") && suffix_is(sm, ps->family, "")) {
		type = typ = "counter";
		if (flen > 6 && !strcmp(ps->family + flen - 6, "_total"))
			flen -= 6; /* prometheus_client's family name */
	} else if (!suffix_is(sm, ps->family, "")) {
		family = sm->name; /* a sample of no announced family: untyped, no help */
		flen = sm->nlen;
		help = &none;
	}
	if (!label_pid(ps, sm, "worker_pid", pid) && !label_pid(ps, sm, "master_pid", pid))
		snprintf(pid, sizeof(pid), "%d", (int)ps->self);
	original_key(ps, sm, family, flen, help);
	if (ps->json.oom || oracle_md5_hex(ps->json.data, ps->json.len, md5))
		return -1;
	if (bucket)
		bucket_value(ps, sm, bval);
	if (vec_grow((void **)&out->v, out->n, &out->cap, sizeof(*out->v), 256))
		return -1;
	r = &out->v[out->n++];
	r->typ = typ;
	r->data_key = out->text.len;
	sb_printf(&out->text, "%s:%s:%s:metric:%s%c", ps->prefix, type, pid, md5, '\0');
	r->meta_key = out->text.len;
	sb_printf(&out->text, "%s:%s:%s:meta:%s%c", ps->prefix, type, pid, md5, '\0');
	r->original_key = out->text.len;
	sb_append(&out->text, ps->json.data, ps->json.len + 1);
	r->value = out->text.len;
	if (bucket)
		sb_append(&out->text, bval, strlen(bval) + 1);
	else {
		sb_append(&out->text, sm->value, sm->vlen);
		sb_append(&out->text, "", 1);
	}
	return out->text.oom ? -1 : 0;
}

int oracle_redis_keys_build(const char *text, size_t len, const char *prefix, const char *node, pid_t self,
			    struct oracle_records *out)
{
	struct parse ps = { .prefix = prefix, .node = node ? node : "", .self = self };
	const char *p = text, *end = text + len;
	struct sample sm;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n && p[0] == '#')
			parse_comment(&ps, p, n);
		else if (n && parse_sample(&ps, &sm, p, n) == 0)
			rc = add_record(&ps, out, &sm);
		else if (n)
			out->skipped++;
		if (ps.vals.oom || ps.help.oom || ps.base.oom)
			rc = -1;
		p += n + 1;
	}
	sb_free(&ps.help);
	sb_free(&ps.vals);
	sb_free(&ps.base);
	sb_free(&ps.json);
	if (rc)
		oracle_records_free(out);
	return rc;
}

void oracle_records_free(struct oracle_records *r)
{
	free(r->v);
	sb_free(&r->text);
	memset(r, 0, sizeof(*r));
}
