/* json.c - the JSON of the Redis layout's original_key, both ways:
 * strings written exactly as Python's json.dumps writes them (ensure_ascii,
 * so every key is ASCII and its md5 is the one Python computes), and the
 * [family, sample, {labels}, help] array read back by the aggregator. */
#include <stdint.h>
#include <string.h>

#include "redis/records.h"

/* Decodes one UTF-8 code point at s (n bytes left); returns its length, or
 * 0 for an invalid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
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

void rk_json_string(struct strbuf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	sb_append(out, "\"", 1);
	while (i < n) {
		uint32_t c;
		size_t len = utf8_decode(p + i, n - i, &c);

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

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static void utf8_encode(struct strbuf *out, uint32_t c)
{
	char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xc0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xe0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	sb_append(out, b, n);
}

static int hex4(const char *s, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

/* One JSON string at *sp into out (NUL-terminated); its offset, or -1. */
static long json_string(const char **sp, struct strbuf *out)
{
	const char *s = skip_ws(*sp);
	long at = (long)out->len;

	if (*s++ != '"')
		return -1;
	while (*s != '"') {
		uint32_t c, lo;

		if (!*s || (unsigned char)*s < 0x20)
			return -1;
		if (*s != '\\') {
			sb_append(out, s++, 1);
			continue;
		}
		s++;
		switch (*s) {
		case '"':
		case '\\':
		case '/':
			sb_append(out, s, 1);
			break;
		case 'b':
			sb_append(out, "\b", 1);
			break;
		case 'f':
			sb_append(out, "\f", 1);
			break;
		case 'n':
			sb_append(out, "\n", 1);
			break;
		case 'r':
			sb_append(out, "\r", 1);
			break;
		case 't':
			sb_append(out, "\t", 1);
			break;
		case 'u':
			if (hex4(s + 1, &c))
				return -1;
			s += 4;
			if (c >= 0xd800 && c < 0xdc00 && s[1] == '\\' && s[2] == 'u' && !hex4(s + 3, &lo) &&
			    lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (c >= 0xd800 && c < 0xe000) {
				c = 0xfffd;
			}
			utf8_encode(out, c);
			break;
		default:
			return -1;
		}
		s++;
	}
	sb_append(out, "", 1);
	*sp = s + 1;
	return out->oom ? -1 : at;
}

/* Expects the character c (after whitespace) at *sp. */
static int expect(const char **sp, char c)
{
	const char *s = skip_ws(*sp);

	if (*s != c)
		return -1;
	*sp = s + 1;
	return 0;
}

int rk_parse_key(const char *s, struct rk_key *k)
{
	long f, sm, h, n, v;

	memset(k, 0, sizeof(*k));
	if (expect(&s, '[') || (f = json_string(&s, &k->buf)) < 0 || expect(&s, ',') ||
	    (sm = json_string(&s, &k->buf)) < 0 || expect(&s, ',') || expect(&s, '{'))
		goto bad;
	if (expect(&s, '}')) {
		do {
			if (k->nlabels == RK_MAX_LABELS || (n = json_string(&s, &k->buf)) < 0 ||
			    expect(&s, ':') || (v = json_string(&s, &k->buf)) < 0)
				goto bad;
			k->name[k->nlabels] = (size_t)n;
			k->value[k->nlabels++] = (size_t)v;
		} while (!expect(&s, ','));
		if (expect(&s, '}'))
			goto bad;
	}
	if (expect(&s, ',') || (h = json_string(&s, &k->buf)) < 0 || expect(&s, ']') || *skip_ws(s))
		goto bad;
	k->family = (size_t)f;
	k->sample = (size_t)sm;
	k->help = (size_t)h;
	return 0;
bad:
	sb_free(&k->buf);
	return -1;
}
