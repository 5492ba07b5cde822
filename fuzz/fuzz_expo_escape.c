/* fuzz_expo_escape.c - label value escaping (expo_escape). The escaped text
 * must hold no raw newline and no unescaped double quote, use only the
 * three escapes of the text format, and give the value back when
 * unescaped: by the text format's rules, and through the Redis mirror's
 * own reading of the exposition (redis_keys_build, then rk_parse_key of
 * the original_key it wrote), for every value that is valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/expo.h"
#include "redis/redis_keys.h"
#include "lib/strbuf.h"

/* The text format's unescaping; -1 on anything expo_escape must not write. */
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

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80             ? 1
			     : (c & 0xe0) == 0xc0 ? 2
			     : (c & 0xf0) == 0xe0 ? 3
			     : (c & 0xf8) == 0xf0 ? 4
						  : 0;
		uint32_t cp = len == 1 ? c : len ? (uint32_t)(c & (0x7f >> len)) : 0;

		if (!len || i + len > n)
			return 0;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* The escaped value as a sample's label, read back by the Redis mirror. */
static void check_redis_round_trip(const char *escaped, size_t elen, const char *v, size_t len)
{
	struct strbuf text;
	struct redis_records rs;
	struct rk_key k;
	const char *got = NULL;

	sb_init(&text);
	sb_puts(&text, "# HELP m_total A counter.\n# TYPE m_total counter\nm_total{app=\"");
	sb_append(&text, escaped, elen);
	sb_puts(&text, "\",worker_pid=\"7\"} 3\n");
	if (text.oom || redis_keys_build(text.data, text.len, "p", "n", 1, &rs) || rs.n != 1 || rs.skipped)
		abort();
	if (strncmp(rk_str(&rs, rs.v[0].data_key), "p:counter:7:metric:", 19) != 0)
		abort();
	if (rk_parse_key(rk_str(&rs, rs.v[0].original_key), &k) || k.nlabels != 3)
		abort();
	for (size_t i = 0; i < k.nlabels; i++)
		if (!strcmp(k.buf.data + k.name[i], "app"))
			got = k.buf.data + k.value[i];
	if (!got || strlen(got) != len || memcmp(got, v, len) != 0)
		abort();
	sb_free(&k.buf);
	redis_records_free(&rs);
	sb_free(&text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1), *back;
	struct strbuf sb;
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
	expo_escape(&sb, v);
	if (sb.oom || sb.len != 1 + len + specials || sb.data[0] != 'x' || sb.data[sb.len] != '\0')
		abort();
	back = malloc(sb.len);
	if (!back || unescape(sb.data + 1, sb.len - 1, back, &backlen) || backlen != len ||
	    memcmp(back, v, len) != 0)
		abort();
	if (valid_utf8((const unsigned char *)v, len))
		check_redis_round_trip(sb.data + 1, sb.len - 1, v, len);
	free(back);
	sb_free(&sb);
	free(v);
	return 0;
}
