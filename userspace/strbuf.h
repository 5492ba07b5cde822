/* strbuf.h - a growable byte buffer for building text (the exposition). */
#ifndef GO_STRBUF_H
#define GO_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	int oom; /* set once an allocation failed; later appends are ignored */
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_append(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (NUL-terminated) and resets sb. */
char *sb_steal(struct strbuf *sb, size_t *len);

#endif
