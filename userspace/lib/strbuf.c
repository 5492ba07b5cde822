/* strbuf.c - growable byte buffer. An allocation failure is remembered in
 * sb->oom rather than aborting, so a scrape can answer 500 instead. The
 * number writers exist because printf's float path dominated the cost of
 * a large exposition. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

void sb_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void sb_free(struct strbuf *sb)
{
	free(sb->data);
	sb_init(sb);
}

static int sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1, cap = sb->cap ? sb->cap : 4096;
	char *p;

	if (sb->oom)
		return -1;
	if (need <= sb->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(sb->data, cap);
	if (!p) {
		sb->oom = 1;
		return -1;
	}
	sb->data = p;
	sb->cap = cap;
	return 0;
}

void sb_append_grow(struct strbuf *sb, const char *s, size_t n)
{
	if (sb_reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* one pass when it fits in the room left, a second one when not */
	if (!sb->oom && sb->cap - sb->len < 256)
		sb_reserve(sb, 256);
	if (sb->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->data[sb->len] = '\0';
		return;
	}
	if ((size_t)n >= sb->cap - sb->len) {
		if (sb_reserve(sb, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
}

void sb_grow(struct strbuf *sb, size_t extra)
{
	sb_reserve(sb, extra);
}

/* Writes the digits of v ending just before end; returns the first. */
static char *digits(char *end, unsigned long long v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void sb_u64(struct strbuf *sb, unsigned long long v)
{
	char buf[24], *p = digits(buf + sizeof(buf), v);

	sb_append(sb, p, (size_t)(buf + sizeof(buf) - p));
}

void sb_i64(struct strbuf *sb, long long v)
{
	char buf[24], *end = buf + sizeof(buf), *p;

	p = digits(end, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
	if (v < 0)
		*--p = '-';
	sb_append(sb, p, (size_t)(end - p));
}

static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };

/* The gap from x (> 0, finite) to the next larger double. */
static double ulp_of(double x)
{
	uint64_t bits;
	double next;

	memcpy(&bits, &x, sizeof(bits));
	bits++;
	memcpy(&next, &bits, sizeof(next));
	return next - x;
}

/* |v| * 10^prec rounded to an integer, when that is the rounding printf
 * makes of the exact binary value: the product, rounded once, must be
 * further from a tie than its rounding error. Returns -1 when it cannot
 * tell (printf decides then). */
static int fixed_scaled(double v, int prec, unsigned long long *out)
{
	double x = (v < 0 ? -v : v) * pow10[prec], frac;
	unsigned long long ip;

	if (!(x > 0 && x < 0x1p52))
		return -1;
	ip = (unsigned long long)x;
	frac = x - (double)ip; /* exact */
	if (frac - 0.5 <= ulp_of(x) && 0.5 - frac <= ulp_of(x))
		return -1;
	*out = ip + (frac > 0.5);
	return 0;
}

/* Whether v is a whole number that printf would write without rounding. */
static int integral(double v)
{
	return v > -0x1p63 && v < 0x1p63 && (double)(long long)v == v;
}

void sb_fixed(struct strbuf *sb, double v, int prec)
{
	char buf[48], *end = buf + sizeof(buf), *p = end;
	unsigned long long s = 0, mag;

	if (prec < 0 || prec > 9 || (v == 0 && signbit(v)) || (!integral(v) && fixed_scaled(v, prec, &s))) {
		sb_printf(sb, "%.*f", prec < 0 ? 0 : prec, v);
		return;
	}
	if (integral(v)) {
		for (int i = 0; i < prec; i++)
			*--p = '0';
		mag = v < 0 ? 0ULL - (unsigned long long)(long long)v : (unsigned long long)(long long)v;
	} else {
		unsigned long long fp = s % (unsigned long long)pow10[prec];

		for (int i = 0; i < prec; i++, fp /= 10)
			*--p = (char)('0' + fp % 10);
		mag = s / (unsigned long long)pow10[prec];
	}
	if (prec)
		*--p = '.';
	p = digits(p, mag);
	if (v < 0)
		*--p = '-';
	sb_append(sb, p, (size_t)(end - p));
}

char *sb_steal(struct strbuf *sb, size_t *len)
{
	char *p;

	if (sb_reserve(sb, 0)) {
		sb_free(sb);
		return NULL;
	}
	p = sb->data;
	if (len)
		*len = sb->len;
	sb_init(sb);
	return p;
}
