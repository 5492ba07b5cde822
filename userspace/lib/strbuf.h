/* strbuf.h - a growable byte buffer for building text (the exposition). */
#ifndef OBS_STRBUF_H
#define OBS_STRBUF_H

#include <stddef.h>
#include <string.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	int oom; /* set once an allocation failed; later appends are ignored */
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
/* sb_append when the buffer must grow first. */
void sb_append_grow(struct strbuf *sb, const char *s, size_t n);

/* Inline: an exposition is tens of thousands of short appends. */
static inline void sb_append(struct strbuf *sb, const char *s, size_t n)
{
	if (!sb->oom && sb->len + n < sb->cap) {
		memcpy(sb->data + sb->len, s, n);
		sb->len += n;
		sb->data[sb->len] = '\0';
		return;
	}
	sb_append_grow(sb, s, n);
}

static inline void sb_puts(struct strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Decimal integers, as printf's %llu and %lld write them. */
void sb_u64(struct strbuf *sb, unsigned long long v);
void sb_i64(struct strbuf *sb, long long v);
/* v with prec (<= 9) digits after the point, the same text as printf's
 * "%.*f": integral values and most others without printf. */
void sb_fixed(struct strbuf *sb, double v, int prec);
/* Makes room for extra more bytes, so that appends do not reallocate. */
void sb_grow(struct strbuf *sb, size_t extra);
/* Hands the buffer to the caller (NUL-terminated) and resets sb. */
char *sb_steal(struct strbuf *sb, size_t *len);

#endif
