/* fuzz_text_escape.c - label value escaping (pt_escape) and an app name's
 * way out of the observer. The escaped text must hold no raw newline and no
 * unescaped double quote, use only the three escapes of the text format,
 * and give the value back when unescaped by the text format's rules. The
 * value as a master's app name must come out of text_render escaped that
 * way, and out of the Redis mirror's records (redis_records_build) as the
 * app label that rk_parse_key reads back, byte for byte, for every value
 * that is valid UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/promtext.h"
#include "lib/strbuf.h"
#include "model/snapshot.h"
#include "redis/records.h"
#include "render/text.h"
#include "utf8.h"

/* The text format's unescaping; -1 on anything pt_escape must not write. */
static int unescape(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' || s[i] == '"' || s[i] == '\0')
			return -1;
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1; /* a lone trailing backslash would eat the closing quote */
		if (s[i] == 'n')
			out[o++] = '\n';
		else if (s[i] == '\\' || s[i] == '"')
			out[o++] = s[i];
		else
			return -1;
	}
	*outlen = o;
	return 0;
}

/* Master 7, app, no workers, no bounds: every family a master has. */
static void one_master(struct snapshot *s, struct master_snap *m, const char *app)
{
	memset(s, 0, sizeof(*s));
	memset(m, 0, sizeof(*m));
	m->pid = 7;
	snprintf(m->app, sizeof(m->app), "%s", app);
	s->masters = m;
	s->nmasters = 1;
}

/* The app's series in the text: escaped as pt_escape escapes it. */
static void check_text(const struct snapshot *s, const char *escaped, size_t elen)
{
	struct strbuf text, want;

	sb_init(&text);
	sb_init(&want);
	text_render(s, &text);
	sb_puts(&want, "\ngunicorn_master_workers{app=\"");
	sb_append(&want, escaped, elen);
	sb_puts(&want, "\",master_pid=\"7\"} 0\n");
	if (text.oom || want.oom || !strstr(text.data, want.data))
		abort();
	sb_free(&want);
	sb_free(&text);
}

/* The app label of every record of s, read back: app, byte for byte. */
static void check_records(const struct snapshot *s, const char *app)
{
	struct redis_records rs;
	size_t with_app = 0;

	if (redis_records_build(s, "p", "n", 1, &rs))
		abort();
	for (size_t i = 0; i < rs.n; i++) {
		const char *data = rk_str(&rs, rs.v[i].data_key), *got = NULL;
		struct rk_key k;

		if (rk_parse_key(rk_str(&rs, rs.v[i].original_key), &k))
			abort();
		for (size_t j = 0; j < k.nlabels; j++)
			if (!strcmp(k.buf.data + k.name[j], "app"))
				got = k.buf.data + k.value[j];
		if (got) {
			/* the master's series, under its pid */
			if (strcmp(got, app) != 0 || !strstr(data, ":7:metric:"))
				abort();
			with_app++;
		}
		sb_free(&k.buf);
	}
	if (!with_app)
		abort();
	redis_records_free(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1), *back;
	struct strbuf sb, app_esc;
	struct snapshot s;
	struct master_snap m;
	size_t len, backlen, specials = 0;

	if (!v)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	len = strlen(v); /* a label value is a C string */
	for (size_t i = 0; i < len; i++)
		specials += v[i] == '\\' || v[i] == '"' || v[i] == '\n';
	sb_init(&sb);
	sb_append(&sb, "x", 1); /* escaping appends: what is there stays */
	pt_escape(&sb, v);
	if (sb.oom || sb.len != 1 + len + specials || sb.data[0] != 'x' || sb.data[sb.len] != '\0')
		abort();
	back = malloc(sb.len);
	if (!back || unescape(sb.data + 1, sb.len - 1, back, &backlen) || backlen != len ||
	    memcmp(back, v, len) != 0)
		abort();

	/* the value as an app name: as much of it as the snapshot keeps */
	one_master(&s, &m, v);
	sb_init(&app_esc);
	pt_escape(&app_esc, m.app);
	if (app_esc.oom)
		abort();
	check_text(&s, app_esc.data ? app_esc.data : "", app_esc.len);
	if (valid_utf8((const unsigned char *)m.app, strlen(m.app)))
		check_records(&s, m.app);
	sb_free(&app_esc);
	free(back);
	sb_free(&sb);
	free(v);
	return 0;
}
