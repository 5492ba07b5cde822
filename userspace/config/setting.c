/* setting.c - the types of settings' values: for each one parser from text
 * (the same for a flag, a variable and the file, so a value means the same
 * wherever it comes from) and one printer into YAML (--print-config, which
 * reads back as the same value). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "config/setting.h"
#include "lib/log.h"

/* ---- parsing helpers ---------------------------------------------------- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v != v || v > 1e300 || v < -1e300)
		return -1; /* NaN and infinities are no bounds or durations */
	*out = v;
	return 0;
}

/* Splits a list given as "a,b c" (flags, environment, a YAML sequence
 * joined by commas) and parses each item as a number. */
static int parse_list(const char *s, double *out, size_t max, size_t *n, char *err, size_t errlen)
{
	char buf[1024], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return errf(err, errlen, "is too long");
	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (*n == max)
			return errf(err, errlen, "has more than %zu values", max);
		if (parse_double(t, &out[*n]))
			return errf(err, errlen, "has '%s', which is not a number", t);
		(*n)++;
	}
	return 0;
}

static int copy_text(char *dst, size_t size, const char *s, char *err, size_t errlen)
{
	if (strlen(s) >= size)
		return errf(err, errlen, "is longer than %zu characters", size - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* Integers live in an unsigned short, an unsigned, an int or an enum. */
static void put_uint(char *p, size_t size, unsigned long v)
{
	unsigned short h = (unsigned short)v;
	unsigned u = (unsigned)v;

	if (size == sizeof(h))
		memcpy(p, &h, size);
	else if (size == sizeof(u))
		memcpy(p, &u, size);
	else
		abort(); /* a row naming a field of another width: see test_table_fields */
}

static unsigned long get_uint(const char *p, size_t size)
{
	unsigned short h;
	unsigned u;

	if (size == sizeof(h)) {
		memcpy(&h, p, size);
		return h;
	}
	if (size != sizeof(u))
		abort();
	memcpy(&u, p, size);
	return u;
}

/* A list's capacity, from the size of its array. */
static size_t capacity(const struct setting *s, size_t item)
{
	size_t max = s->size / item;

	return max < SETTING_LIST_MAX ? max : SETTING_LIST_MAX;
}

/* ---- parsers, one a type ------------------------------------------------ */

typedef int parse_fn(const struct setting *s, char *cfg, const char *text, int append, char *err,
		     size_t errlen);

static int parse_addr(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	unsigned char addr[16];

	(void)append;
	if (inet_pton(AF_INET, text, addr) != 1 && inet_pton(AF_INET6, text, addr) != 1)
		return errf(err, errlen, "is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or ::");
	return copy_text(cfg + s->at, s->size, text, err, errlen);
}

static int parse_port(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	long v;

	(void)append;
	if (parse_long(text, 1, 65535, &v))
		return errf(err, errlen, "is not a port: use a number from 1 to 65535");
	put_uint(cfg + s->at, s->size, (unsigned long)v);
	return 0;
}

static int parse_int(const struct setting *s, char *cfg, const char *text, int append, char *err,
		     size_t errlen)
{
	long v;

	(void)append;
	if (parse_long(text, (long)s->lo, (long)s->hi, &v))
		return errf(err, errlen, "%s", s->bad);
	put_uint(cfg + s->at, s->size, (unsigned long)v);
	return 0;
}

static int parse_count(const struct setting *s, char *cfg, const char *text, int append, char *err,
		       size_t errlen)
{
	double d;

	(void)append;
	if (parse_double(text, &d) || d < s->lo || d > s->hi || d != (unsigned)d)
		return errf(err, errlen, "%s", s->bad);
	put_uint(cfg + s->at, s->size, (unsigned)d);
	return 0;
}

static int parse_seconds(const struct setting *s, char *cfg, const char *text, int append, char *err,
			 size_t errlen)
{
	double d;

	(void)append;
	if (parse_double(text, &d) || d < s->lo || d > s->hi)
		return errf(err, errlen, "%s", s->bad);
	memcpy(cfg + s->at, &d, sizeof(d));
	return 0;
}

static int parse_bool(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off",
										       "0" };

	(void)append;
	for (int i = 0; i < 4; i++) {
		int v = strcasecmp(text, yes[i]) == 0 ? 1 : strcasecmp(text, no[i]) == 0 ? 0 : -1;

		if (v >= 0) {
			memcpy(cfg + s->at, &v, sizeof(v));
			return 0;
		}
	}
	return errf(err, errlen, "is not true or false");
}

static int parse_enum(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	char list[256];
	size_t off = 0;

	(void)append;
	for (int i = 0; s->names[i]; i++) {
		if (strcmp(text, s->names[i]) == 0) {
			put_uint(cfg + s->at, s->size, (unsigned)i);
			return 0;
		}
	}
	/* "is unknown: use a, b or c" */
	list[0] = '\0';
	for (int i = 0; s->names[i] && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					!i                ? ""
					: s->names[i + 1] ? ", "
							  : " or ",
					s->names[i]);
	return errf(err, errlen, "is unknown: use %s", list);
}

static int parse_text(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	(void)append;
	if (s->bad && !*text)
		return errf(err, errlen, "%s", s->bad);
	if (s->colon && strchr(text, ':'))
		return errf(err, errlen, "%s", s->colon);
	return copy_text(cfg + s->at, s->size, text, err, errlen);
}

static int parse_bpf_dir(const struct setting *s, char *cfg, const char *text, int append, char *err,
			 size_t errlen)
{
	(void)append;
	if (text[0] != '/')
		return errf(err, errlen, "is not an absolute path: use e.g. %s", s->def);
	if (strchr(strrchr(text, '/'), '.'))
		return errf(err, errlen, "has a '.' in its name, which the BPF filesystem refuses");
	return copy_text(cfg + s->at, s->size, text, err, errlen);
}

static int parse_pids(const struct setting *s, char *cfg, const char *text, int append, char *err,
		      size_t errlen)
{
	size_t max = capacity(s, sizeof(pid_t)), n, count;
	double v[SETTING_LIST_MAX];
	pid_t pids[SETTING_LIST_MAX];

	if (parse_list(text, v, max, &n, err, errlen))
		return strstr(err, "more than")
			   ? -1
			   : errf(err, errlen, "is not a process id: give positive whole numbers");
	memcpy(&count, cfg + s->n_at, sizeof(count));
	if (!append)
		count = 0;
	memcpy(pids, cfg + s->at, count * sizeof(pid_t));
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 1 || v[i] > 4194304 || v[i] != (double)(pid_t)v[i])
			return errf(err, errlen,
				    "has %.15g, which is not a process id: give positive whole numbers",
				    v[i]);
		if (count == max)
			return errf(err, errlen, "names more than %zu masters", max);
		pids[count++] = (pid_t)v[i];
	}
	memcpy(cfg + s->at, pids, count * sizeof(pid_t));
	memcpy(cfg + s->n_at, &count, sizeof(count));
	return 0;
}

static int parse_bounds(const struct setting *s, char *cfg, const char *text, int whole, char *err,
			size_t errlen)
{
	double v[SETTING_LIST_MAX];
	size_t n;

	if (parse_list(text, v, capacity(s, sizeof(double)), &n, err, errlen))
		return -1;
	if (n == 0)
		return errf(err, errlen, "is empty: give increasing bucket bounds such as 0.1,0.5,1");
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] > 0))
			return errf(err, errlen, "has %g: bucket bounds must be greater than 0", v[i]);
		/* the loader gives BPF each bound as a u64 of bytes or nanoseconds */
		if (whole && v[i] >= 0x1p64)
			return errf(err, errlen, "has %g: size bounds must be below 2^64 bytes", v[i]);
		if (!whole && v[i] * 1e9 >= 0x1p64)
			return errf(err, errlen, "has %g: duration bounds must be below 1.8e10 seconds",
				    v[i]);
		if (whole && v[i] != (double)(unsigned long long)v[i])
			return errf(err, errlen, "has %g: size bounds are whole bytes", v[i]);
		if (i && !(v[i] > v[i - 1]))
			return errf(err, errlen,
				    "is not increasing (%g after %g): list the bounds in increasing order",
				    v[i], v[i - 1]);
	}
	memcpy(cfg + s->at, v, n * sizeof(*v));
	memcpy(cfg + s->n_at, &n, sizeof(n));
	return 0;
}

static int parse_durations(const struct setting *s, char *cfg, const char *text, int append, char *err,
			   size_t errlen)
{
	(void)append;
	return parse_bounds(s, cfg, text, 0, err, errlen);
}

static int parse_sizes(const struct setting *s, char *cfg, const char *text, int append, char *err,
		       size_t errlen)
{
	(void)append;
	return parse_bounds(s, cfg, text, 1, err, errlen);
}

/* ---- printers ----------------------------------------------------------- */

typedef void print_fn(FILE *f, const struct setting *s, const char *cfg);

/* The shortest decimal form that reads back as the same double. */
static void number(FILE *f, double v)
{
	char buf[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* A double-quoted YAML string. */
static void print_text(FILE *f, const struct setting *s, const char *cfg)
{
	const char *p = cfg + s->at;

	if (s->flags & SET_SECRET)
		p = *p ? "***" : "";
	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void print_uint(FILE *f, const struct setting *s, const char *cfg)
{
	fprintf(f, "%lu", get_uint(cfg + s->at, s->size));
}

static void print_seconds(FILE *f, const struct setting *s, const char *cfg)
{
	double d;

	memcpy(&d, cfg + s->at, sizeof(d));
	number(f, d);
}

static void print_bool(FILE *f, const struct setting *s, const char *cfg)
{
	int v;

	memcpy(&v, cfg + s->at, sizeof(v));
	fputs(v ? "true" : "false", f);
}

static void print_enum(FILE *f, const struct setting *s, const char *cfg)
{
	unsigned long v = get_uint(cfg + s->at, s->size);
	unsigned long n = 0;

	while (s->names[n])
		n++;
	fputs(s->names[v < n ? v : 0], f);
}

static size_t count_of(const struct setting *s, const char *cfg)
{
	size_t n;

	memcpy(&n, cfg + s->n_at, sizeof(n));
	return n;
}

static void print_pids(FILE *f, const struct setting *s, const char *cfg)
{
	size_t n = count_of(s, cfg);
	pid_t pid;

	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		memcpy(&pid, cfg + s->at + i * sizeof(pid), sizeof(pid));
		fprintf(f, "%s%d", i ? ", " : "", (int)pid);
	}
	fputc(']', f);
}

static void print_bounds(FILE *f, const struct setting *s, const char *cfg)
{
	size_t n = count_of(s, cfg);
	double v;

	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		memcpy(&v, cfg + s->at + i * sizeof(v), sizeof(v));
		fputs(i ? ", " : "", f);
		number(f, v);
	}
	fputc(']', f);
}

/* ---- the types ---------------------------------------------------------- */

static const struct {
	parse_fn *parse;
	print_fn *print;
	const char *arg; /* what --help calls a value */
	int list;
} types[T_NTYPES] = {
	[T_ADDR] = { parse_addr, print_text, "ADDR", 0 },
	[T_PORT] = { parse_port, print_uint, "PORT", 0 },
	[T_INT] = { parse_int, print_uint, "N", 0 },
	[T_COUNT] = { parse_count, print_uint, "N", 0 },
	[T_SECONDS] = { parse_seconds, print_seconds, "S", 0 },
	[T_BOOL] = { parse_bool, print_bool, "BOOL", 0 },
	[T_ENUM] = { parse_enum, print_enum, NULL, 0 },
	[T_TEXT] = { parse_text, print_text, "TEXT", 0 },
	[T_BPF_DIR] = { parse_bpf_dir, print_text, "DIR", 0 },
	[T_PIDS] = { parse_pids, print_pids, "PID", 1 },
	[T_DURATIONS] = { parse_durations, print_bounds, "LIST", 1 },
	[T_SIZES] = { parse_sizes, print_bounds, "LIST", 1 },
};

int setting_parse(const struct setting *s, void *cfg, const char *text, int append, char *err, size_t errlen)
{
	return types[s->type].parse(s, cfg, text, append, err, errlen);
}

void setting_print(FILE *f, const struct setting *s, const void *cfg)
{
	types[s->type].print(f, s, cfg);
}

int setting_is_list(const struct setting *s)
{
	return types[s->type].list;
}

const char *setting_arg(const struct setting *s, char *buf, size_t size)
{
	size_t off = 0;

	if (s->arg)
		return s->arg;
	if (s->type != T_ENUM)
		return types[s->type].arg;
	buf[0] = '\0';
	for (int i = 0; s->names[i] && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "|" : "", s->names[i]);
	return buf;
}
