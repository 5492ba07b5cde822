/* test_text.c - unit tests for userspace/render/text.c, the Prometheus text
 * (0.0.4) renderer of a struct snapshot (through the series model).
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_text
 *
 * Every rendering goes through a small parser of the text format (doc_parse)
 * that fails the test on any line that is not a comment or a well-formed
 * sample, so every test also checks that the output is valid exposition
 * text. The checks on values read the numbers back from the text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h> /* INFINITY, NAN */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "render/text.h"
#include "model/snapshot.h"
#include "lib/promtext.h"
#include "lib/strbuf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PROMTOOL     "/usr/bin/promtool"

/* the contract's default bounds */
static const double DUR[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};
static const double SIZE[] = { 128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304 };
#define NDUR  ARRAY_LEN(DUR)
#define NSIZE ARRAY_LEN(SIZE)

/* ---------------------------------------------------------------------------
 * A parser of the text format: enough to check structure and read values.
 */

#define MAX_LABELS 8

struct label {
	char name[64];
	char value[256]; /* unescaped */
};

enum line_kind { L_HELP, L_TYPE, L_COMMENT, L_SAMPLE };

struct line {
	enum line_kind kind;
	const char *text; /* the whole line, NUL-terminated */
	char name[128];   /* metric name (HELP, TYPE, sample) */
	char type[16];    /* TYPE */
	char series[640]; /* sample: name plus the raw {labels} as rendered */
	int nlabels;
	struct label labels[MAX_LABELS];
	double value;
};

struct doc {
	char *buf; /* copy of the text, lines split at '\n' */
	struct line *lines;
	size_t n;
};

static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Reads a metric (colons allowed) or label (no colons) name at *p. */
static void parse_name(const char **p, char *out, size_t size, int label, const char *line)
{
	size_t n = 0;

	if (!is_name_start(**p) || (label && **p == ':'))
		fail_msg("bad name start in line: %s", line);
	while (is_name_char(**p) && !(label && **p == ':')) {
		if (n + 1 >= size)
			fail_msg("name too long in line: %s", line);
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
}

/* A sample value: a float, +Inf, -Inf or NaN, the whole rest of the line. */
static double parse_value(const char *p, const char *line)
{
	char *end;
	double v;

	if (strcmp(p, "+Inf") == 0)
		return INFINITY;
	if (strcmp(p, "-Inf") == 0)
		return -INFINITY;
	if (strcmp(p, "NaN") == 0)
		return NAN;
	if (!*p || *p == ' ')
		fail_msg("missing value in line: %s", line);
	v = strtod(p, &end);
	if (*end)
		fail_msg("bad value (no timestamps expected) in line: %s", line);
	return v;
}

static void parse_sample(struct line *l, const char *line)
{
	const char *p = line;

	l->kind = L_SAMPLE;
	parse_name(&p, l->name, sizeof(l->name), 0, line);
	if (*p == '{') {
		p++;
		while (*p != '}') {
			struct label *lb;
			size_t n = 0;

			if (l->nlabels == MAX_LABELS)
				fail_msg("too many labels in line: %s", line);
			lb = &l->labels[l->nlabels++];
			parse_name(&p, lb->name, sizeof(lb->name), 1, line);
			for (int i = 0; i < l->nlabels - 1; i++)
				if (strcmp(l->labels[i].name, lb->name) == 0)
					fail_msg("duplicate label %s in line: %s", lb->name, line);
			if (*p++ != '=' || *p++ != '"')
				fail_msg("expected =\" in line: %s", line);
			for (; *p != '"'; p++) {
				char c = *p;

				if (!c)
					fail_msg("unterminated label value in line: %s", line);
				if (c == '\\') {
					p++;
					if (*p == '\\' || *p == '"')
						c = *p;
					else if (*p == 'n')
						c = '\n';
					else
						fail_msg("bad escape in line: %s", line);
				}
				if (n + 1 >= sizeof(lb->value))
					fail_msg("label value too long in line: %s", line);
				lb->value[n++] = c;
			}
			lb->value[n] = '\0';
			p++; /* closing quote */
			if (*p == ',')
				p++;
			else if (*p != '}')
				fail_msg("expected , or } in line: %s", line);
		}
		p++;
	}
	if ((size_t)(p - line) >= sizeof(l->series))
		fail_msg("series too long: %s", line);
	memcpy(l->series, line, (size_t)(p - line));
	l->series[p - line] = '\0';
	if (*p != ' ')
		fail_msg("expected one space before the value in line: %s", line);
	l->value = parse_value(p + 1, line);
}

static void parse_comment(struct line *l, const char *line)
{
	const char *p;

	if (strncmp(line, "# HELP ", 7) == 0) {
		l->kind = L_HELP;
		p = line + 7;
		parse_name(&p, l->name, sizeof(l->name), 0, line);
		if (*p != ' ' || !p[1])
			fail_msg("HELP without text: %s", line);
	} else if (strncmp(line, "# TYPE ", 7) == 0) {
		l->kind = L_TYPE;
		p = line + 7;
		parse_name(&p, l->name, sizeof(l->name), 0, line);
		if (*p++ != ' ')
			fail_msg("TYPE without type: %s", line);
		if (strcmp(p, "counter") && strcmp(p, "gauge") && strcmp(p, "histogram") &&
		    strcmp(p, "summary") && strcmp(p, "untyped"))
			fail_msg("unknown type in: %s", line);
		snprintf(l->type, sizeof(l->type), "%s", p);
	} else {
		l->kind = L_COMMENT;
	}
}

/* Parses text; fails the test on anything that is not valid text format. */
static void doc_parse(struct doc *d, const char *text)
{
	size_t len = strlen(text), cap = 64;
	char *p;

	memset(d, 0, sizeof(*d));
	assert_true(len > 0);
	if (text[len - 1] != '\n')
		fail_msg("exposition does not end with a newline");
	d->buf = strdup(text);
	d->lines = calloc(cap, sizeof(*d->lines));
	assert_non_null(d->buf);
	assert_non_null(d->lines);
	for (p = d->buf; *p;) {
		char *nl = strchr(p, '\n');
		struct line *l;

		assert_non_null(nl);
		*nl = '\0';
		if (d->n == cap) {
			cap *= 2;
			d->lines = realloc(d->lines, cap * sizeof(*d->lines));
			assert_non_null(d->lines);
		}
		l = &d->lines[d->n++];
		memset(l, 0, sizeof(*l));
		l->text = p;
		if (!*p)
			fail_msg("empty line at line %zu", d->n);
		if (*p == '#')
			parse_comment(l, p);
		else
			parse_sample(l, p);
		p = nl + 1;
	}
}

static void doc_free(struct doc *d)
{
	free(d->buf);
	free(d->lines);
	memset(d, 0, sizeof(*d));
}

/* The one sample whose name{labels} is exactly series; fails when there is
 * none or more than one. */
static const struct line *sample(const struct doc *d, const char *series)
{
	const struct line *found = NULL;

	for (size_t i = 0; i < d->n; i++) {
		if (d->lines[i].kind != L_SAMPLE || strcmp(d->lines[i].series, series) != 0)
			continue;
		if (found)
			fail_msg("series rendered twice: %s", series);
		found = &d->lines[i];
	}
	if (!found)
		fail_msg("series missing: %s", series);
	return found;
}

static double val(const struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double val(const struct doc *d, const char *fmt, ...)
{
	char series[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(series, sizeof(series), fmt, ap);
	va_end(ap);
	return sample(d, series)->value;
}

static size_t count_samples(const struct doc *d, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += d->lines[i].kind == L_SAMPLE && strcmp(d->lines[i].name, name) == 0;
	return n;
}

static const char *label(const struct line *l, const char *name)
{
	for (int i = 0; i < l->nlabels; i++)
		if (strcmp(l->labels[i].name, name) == 0)
			return l->labels[i].value;
	return NULL;
}

/* Whether sample name s belongs to family f of type t. */
static int belongs(const char *s, const char *f, const char *t)
{
	size_t n = strlen(f);

	if (strcmp(s, f) == 0)
		return strcmp(t, "histogram") != 0; /* a histogram has no bare sample */
	if (strcmp(t, "histogram") != 0 || strncmp(s, f, n) != 0)
		return 0;
	return strcmp(s + n, "_bucket") == 0 || strcmp(s + n, "_sum") == 0 || strcmp(s + n, "_count") == 0;
}

/* Family structure: HELP then TYPE of the same name, once per name; every
 * sample belongs to the family declared last; no series twice. */
static void check_families(const struct doc *d)
{
	const struct line *fam = NULL;

	for (size_t i = 0; i < d->n; i++) {
		const struct line *l = &d->lines[i];

		if (l->kind == L_HELP) {
			if (i + 1 >= d->n || d->lines[i + 1].kind != L_TYPE ||
			    strcmp(d->lines[i + 1].name, l->name) != 0)
				fail_msg("HELP not followed by its TYPE: %s", l->text);
			for (size_t j = 0; j < d->n; j++)
				if (j != i && d->lines[j].kind == L_HELP &&
				    strcmp(d->lines[j].name, l->name) == 0)
					fail_msg("second HELP for %s", l->name);
		} else if (l->kind == L_TYPE) {
			if (i == 0 || d->lines[i - 1].kind != L_HELP ||
			    strcmp(d->lines[i - 1].name, l->name) != 0)
				fail_msg("TYPE without HELP just before: %s", l->text);
			for (size_t j = 0; j < d->n; j++)
				if (j != i && d->lines[j].kind == L_TYPE &&
				    strcmp(d->lines[j].name, l->name) == 0)
					fail_msg("second TYPE for %s", l->name);
			fam = l;
		} else if (l->kind == L_SAMPLE) {
			if (!fam)
				fail_msg("sample before any TYPE: %s", l->text);
			if (!belongs(l->name, fam->name, fam->type))
				fail_msg("sample %s is not of family %s (%s)", l->text, fam->name, fam->type);
			for (size_t j = i + 1; j < d->n; j++)
				if (d->lines[j].kind == L_SAMPLE &&
				    strcmp(d->lines[j].series, l->series) == 0)
					fail_msg("series twice: %s", l->series);
		}
	}
}

/* ---------------------------------------------------------------------------
 * Snapshots.
 */

/* The exposition of s, with scrape as the previous scrape's duration. */
static char *render(struct snapshot *s, double scrape)
{
	struct strbuf sb;
	char *text;

	s->self.scrape_seconds = scrape;
	sb_init(&sb);
	text_render(s, &sb);
	assert_false(sb.oom);
	text = sb_steal(&sb, NULL);
	assert_non_null(text);
	return text;
}

static void render_doc(struct snapshot *s, struct doc *d)
{
	char *text = render(s, 0.0125);

	doc_parse(d, text);
	check_families(d);
	free(text);
}

/* Worker k of a snapshot: deterministic, distinct numbers; every histogram's
 * buckets add up to requests. */
static void fill_worker(struct worker_snap *w, pid_t pid, pid_t master, unsigned k)
{
	uint64_t n = 0;

	memset(w, 0, sizeof(*w));
	w->pid = pid;
	w->master = master;
	w->st.master = (__u32)master;
	for (size_t i = 0; i <= NDUR; i++) {
		w->st.dur_buckets[i] = (k * 7 + i * 3) % 5; /* some buckets empty */
		n += w->st.dur_buckets[i];
	}
	w->st.dur_buckets[0] += 3;
	n += 3;
	w->st.requests = n;
	w->st.dur_sum_ns = 1500000000ULL + k * 1000000ULL; /* 1.5 s + k ms */
	w->st.in_flight = (__s64)(k % 3);
	w->st.aborted = k;
	w->st.failed_5xx = k + 100;
	w->st.req_bytes_sum = 1000 + k;
	w->st.resp_bytes_sum = 5000000 + k;
	w->st.req_buckets[0] = n - 1;
	w->st.req_buckets[NSIZE / 2] = 1;
	w->st.resp_buckets[1] = n - 2;
	w->st.resp_buckets[NSIZE] = 2; /* above the last bound: +Inf only */
	/* added out of order: the list keeps them sorted */
	assert_int_equal(codes_add(&w->codes, 503, 1), 0);
	assert_int_equal(codes_add(&w->codes, 200, n - 3), 0);
	assert_int_equal(codes_add(&w->codes, 404, 1), 0);
	assert_int_equal(codes_add(&w->codes, 201, 1), 0);
}

/* 2 masters x 3 workers. Master totals hold more than the live workers (a
 * dead worker's requests). */
static void make_multi(struct snapshot *s)
{
	static const char *const apps[] = { "web", "myproj.wsgi:application" };

	memset(s, 0, sizeof(*s));
	s->nmasters = 2;
	s->nworkers = 6;
	s->masters = calloc(s->nmasters, sizeof(*s->masters));
	s->workers = calloc(s->nworkers, sizeof(*s->workers));
	assert_non_null(s->masters);
	assert_non_null(s->workers);
	for (unsigned m = 0; m < 2; m++) {
		struct master_snap *ms = &s->masters[m];
		struct obs_worker_stats dead = { 0 };
		struct code_list dead_codes = { 0 };

		ms->pid = (pid_t)(100 * (m + 1));
		snprintf(ms->app, sizeof(ms->app), "%s", apps[m]);
		ms->workers = 3;
		for (unsigned k = 0; k < 3; k++) {
			struct worker_snap *w = &s->workers[m * 3 + k];

			fill_worker(w, ms->pid + 1 + (pid_t)k, ms->pid, m * 3 + k);
			assert_int_equal(totals_add_worker(&ms->t, &w->st, &w->codes), 0);
		}
		dead.requests = 10 + m;
		dead.dur_sum_ns = 250000000ULL; /* 0.25 s */
		dead.dur_buckets[2] = 10 + m;
		assert_int_equal(codes_add(&dead_codes, 500, 7 + m), 0);
		assert_int_equal(codes_add(&dead_codes, 302, 3), 0);
		assert_int_equal(totals_add_worker(&ms->t, &dead, &dead_codes), 0);
		codes_free(&dead_codes);
	}
	for (int i = 0; i < OBS_DROP_MAX; i++)
		s->self.drops[i] = 1000 + (uint64_t)i;
	s->self.map_read_failures = 42;
	s->bounds.dur = DUR;
	s->bounds.ndur = NDUR;
	s->bounds.size = SIZE;
	s->bounds.nsize = NSIZE;
	s->self.version = "1.2.3";
	s->self.libbpf_version = "1.1.2";
	s->self.kernel = "6.1.0-test";
	s->self.data_plane = "socket";
}

/* ---------------------------------------------------------------------------
 * Tests.
 */

static void expect_escaped(const char *in, const char *want)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_puts(&sb, "x=\"");
	pt_escape(&sb, in);
	sb_puts(&sb, "\"");
	assert_false(sb.oom);
	assert_non_null(sb.data);
	assert_string_equal(sb.data + 3, want);
	assert_int_equal(sb.len, strlen(sb.data));
	sb_free(&sb);
}

static void test_escape_function(void **state)
{
	(void)state;
	expect_escaped("plain", "plain\"");
	expect_escaped("", "\"");
	expect_escaped("a\\b", "a\\\\b\"");
	expect_escaped("say \"hi\"", "say \\\"hi\\\"\"");
	expect_escaped("two\nlines", "two\\nlines\"");
	expect_escaped("\\\"\n", "\\\\\\\"\\n\"");
	expect_escaped("\n\nx\\\\", "\\n\\nx\\\\\\\\\"");
	/* other bytes pass through: tab, UTF-8, single quote, braces */
	expect_escaped("t\tq'{}=,é", "t\tq'{}=,é\"");
}

static void test_escape_app_label(void **state)
{
	struct snapshot s;
	struct doc d;
	char *text;
	const char *app = "we\"b\\app\nv2";
	size_t n = 0;

	(void)state;
	make_multi(&s);
	snprintf(s.masters[0].app, sizeof(s.masters[0].app), "%s", app);
	s.self.version = "v\"1\\\n";
	text = render(&s, 0);
	/* the escaped form is in the text, the raw newline never splits a line */
	assert_non_null(strstr(text, "gunicorn_worker_requests_total{app=\"we\\\"b\\\\app\\nv2\","
				     "master_pid=\"100\",worker_pid=\"101\"} "));
	assert_non_null(
	    strstr(text, "gunicorn_master_workers{app=\"we\\\"b\\\\app\\nv2\",master_pid=\"100\"} 3\n"));
	assert_non_null(strstr(text, "gunicorn_observer_build_info{version=\"v\\\"1\\\\\\n\","));
	doc_parse(&d, text);
	check_families(&d);
	/* every series of master 100 reads back as the original value */
	for (size_t i = 0; i < d.n; i++) {
		const struct line *l = &d.lines[i];
		const char *mp = label(l, "master_pid");

		if (l->kind != L_SAMPLE || !mp || strcmp(mp, "100") != 0)
			continue;
		assert_string_equal(label(l, "app"), app);
		n++;
	}
	assert_true(n > 20);
	assert_string_equal(label(sample(&d, "gunicorn_observer_build_info{version=\"v\\\"1\\\\\\n\","
					     "libbpf=\"1.1.2\",kernel=\"6.1.0-test\",data_plane=\"socket\"}"),
				  "version"),
			    "v\"1\\\n");
	doc_free(&d);
	free(text);
	snapshot_clear(&s);
}

/* Checks one histogram of the doc against raw (non-cumulative) buckets. */
static void check_histogram(const struct doc *d, const char *name, const char *labels, const double *bounds,
			    size_t nb, const __u64 *raw, uint64_t count, double sum)
{
	uint64_t cum = 0;
	double prev = -1;
	char le[64];

	for (size_t i = 0; i < nb; i++) {
		double v;

		cum += raw[i];
		snprintf(le, sizeof(le), "%.17g", bounds[i]);
		/* find the bucket by value, whatever its printed form */
		v = -1;
		for (size_t j = 0; j < d->n; j++) {
			const struct line *l = &d->lines[j];
			char want[640];
			const char *lev;

			snprintf(want, sizeof(want), "%s_bucket", name);
			if (l->kind != L_SAMPLE || strcmp(l->name, want) != 0)
				continue;
			if (strncmp(l->series + strlen(want) + 1, labels, strlen(labels)) != 0 ||
			    l->series[strlen(want) + 1 + strlen(labels)] != ',')
				continue;
			lev = label(l, "le");
			assert_non_null(lev);
			if (strcmp(lev, "+Inf") != 0 && strtod(lev, NULL) == bounds[i]) {
				assert_true(v < 0); /* one bucket per bound */
				v = l->value;
			}
		}
		if (v < 0)
			fail_msg("%s{%s}: no bucket le=%s", name, labels, le);
		if ((uint64_t)v != cum)
			fail_msg("%s{%s} le=%s: got %.0f, want cumulative %llu", name, labels, le, v,
				 (unsigned long long)cum);
		assert_true(v >= prev);
		prev = v;
	}
	cum += raw[nb];
	assert_int_equal(cum, count); /* the fixture is consistent */
	assert_int_equal((uint64_t)val(d, "%s_bucket{%s,le=\"+Inf\"}", name, labels), count);
	assert_int_equal((uint64_t)val(d, "%s_count{%s}", name, labels), count);
	assert_true(val(d, "%s_bucket{%s,le=\"+Inf\"}", name, labels) >= prev);
	assert_float_equal(val(d, "%s_sum{%s}", name, labels), sum, 1e-9);
	/* nb bounded buckets and +Inf, nothing else */
	{
		size_t nbk = 0;
		char want[256];

		snprintf(want, sizeof(want), "%s_bucket{%s,", name, labels);
		for (size_t j = 0; j < d->n; j++)
			nbk += d->lines[j].kind == L_SAMPLE &&
			       strncmp(d->lines[j].series, want, strlen(want)) == 0;
		assert_int_equal(nbk, nb + 1);
	}
}

static void wlabels(char *out, size_t size, const struct snapshot *s, const struct worker_snap *w)
{
	const char *app = "";

	for (size_t i = 0; i < s->nmasters; i++)
		if (s->masters[i].pid == w->master)
			app = s->masters[i].app;
	snprintf(out, size, "app=\"%s\",master_pid=\"%d\",worker_pid=\"%d\"", app, (int)w->master,
		 (int)w->pid);
}

static void test_histograms_cumulative(void **state)
{
	struct snapshot s;
	struct doc d;
	char lb[256];

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t i = 0; i < s.nworkers; i++) {
		const struct worker_snap *w = &s.workers[i];

		wlabels(lb, sizeof(lb), &s, w);
		check_histogram(&d, "gunicorn_worker_request_duration_seconds", lb, DUR, NDUR,
				w->st.dur_buckets, w->st.requests, (double)w->st.dur_sum_ns / 1e9);
		check_histogram(&d, "gunicorn_worker_request_size_bytes", lb, SIZE, NSIZE, w->st.req_buckets,
				w->st.requests, (double)w->st.req_bytes_sum);
		check_histogram(&d, "gunicorn_worker_response_size_bytes", lb, SIZE, NSIZE,
				w->st.resp_buckets, w->st.requests, (double)w->st.resp_bytes_sum);
	}
	/* one fully spelled out: worker 101 (k=0) */
	assert_int_equal((uint64_t)val(&d, "gunicorn_worker_request_duration_seconds_bucket{app=\"web\","
					   "master_pid=\"100\",worker_pid=\"101\",le=\"0.001\"}"),
			 3);
	assert_int_equal((uint64_t)val(&d, "gunicorn_worker_response_size_bytes_bucket{app=\"web\","
					   "master_pid=\"100\",worker_pid=\"101\",le=\"4194304\"}"),
			 s.workers[0].st.requests - 2);
	assert_int_equal((uint64_t)val(&d, "gunicorn_worker_response_size_bytes_bucket{app=\"web\","
					   "master_pid=\"100\",worker_pid=\"101\",le=\"+Inf\"}"),
			 s.workers[0].st.requests);
	doc_free(&d);
	snapshot_clear(&s);
}

/* The fewest significant digits that read back as v, in %g notation but
 * with whole numbers below 1e15 in plain digits ("10", "4194304"). */
static void shortest(char *out, size_t size, double v)
{
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
		snprintf(out, size, "%.0f", v);
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(out, size, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void test_le_format(void **state)
{
	static const char *const want[] = { "0.001", "0.0025", "0.005", "0.01", "0.025",
					    "0.05",  "0.1",    "0.25",  "0.5",  "1",
					    "2.5",   "5",      "10",    "30",   "60" };
	static const char *const want_size[] = { "128",   "512",    "1024",    "4096",   "16384",
						 "65536", "262144", "1048576", "4194304" };
	struct snapshot s;
	struct doc d;
	size_t checked = 0;
	const char *wl = "app=\"web\",master_pid=\"100\",worker_pid=\"101\"";

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		(void)val(&d, "gunicorn_worker_request_duration_seconds_bucket{%s,le=\"%s\"}", wl, want[i]);
	for (size_t i = 0; i < ARRAY_LEN(want_size); i++) {
		(void)val(&d, "gunicorn_worker_request_size_bytes_bucket{%s,le=\"%s\"}", wl, want_size[i]);
		(void)val(&d, "gunicorn_worker_response_size_bytes_bucket{%s,le=\"%s\"}", wl, want_size[i]);
	}
	(void)val(&d, "gunicorn_request_duration_seconds_bucket{app=\"web\",master_pid=\"100\",le=\"2.5\"}");
	/* every le in the text is the shortest form of its bound */
	for (size_t i = 0; i < d.n; i++) {
		const char *le = d.lines[i].kind == L_SAMPLE ? label(&d.lines[i], "le") : NULL;
		char *end;
		char sh[64];
		double v;

		if (!le || strcmp(le, "+Inf") == 0)
			continue;
		v = strtod(le, &end);
		assert_true(*le && !*end);
		shortest(sh, sizeof(sh), v);
		if (strcmp(le, sh) != 0)
			fail_msg("le=\"%s\" is not in shortest form \"%s\": %s", le, sh, d.lines[i].text);
		checked++;
	}
	/* 6 workers x (15 + 9 + 9) bounds, 2 masters x 15 */
	assert_int_equal(checked, 6 * (NDUR + 2 * NSIZE) + 2 * NDUR);
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_sum_seconds_from_ns(void **state)
{
	struct snapshot s;
	struct doc d;
	char *text;

	(void)state;
	make_multi(&s);
	s.workers[0].st.dur_sum_ns = 1500000000ULL;    /* 1.5 s */
	s.workers[1].st.dur_sum_ns = 2500000ULL;       /* 2.5 ms */
	s.workers[2].st.dur_sum_ns = 1ULL;             /* 1 ns */
	s.workers[3].st.dur_sum_ns = 3600000000000ULL; /* one hour */
	s.workers[4].st.dur_sum_ns = 0;
	s.masters[1].t.dur_sum_ns = 123456789012ULL; /* 123.456789012 s */
	text = render(&s, 0);
	doc_parse(&d, text);
	assert_float_equal(val(&d,
			       "gunicorn_worker_request_duration_seconds_sum{app=\"web\",master_pid=\"100\","
			       "worker_pid=\"101\"}"),
			   1.5, 1e-12);
	assert_float_equal(val(&d,
			       "gunicorn_worker_request_duration_seconds_sum{app=\"web\",master_pid=\"100\","
			       "worker_pid=\"102\"}"),
			   0.0025, 1e-12);
	assert_float_equal(val(&d,
			       "gunicorn_worker_request_duration_seconds_sum{app=\"web\",master_pid=\"100\","
			       "worker_pid=\"103\"}"),
			   1e-9, 1e-15);
	assert_float_equal(val(&d,
			       "gunicorn_worker_request_duration_seconds_sum{app=\"myproj.wsgi:application\","
			       "master_pid=\"200\",worker_pid=\"201\"}"),
			   3600.0, 1e-9);
	assert_float_equal(val(&d,
			       "gunicorn_worker_request_duration_seconds_sum{app=\"myproj.wsgi:application\","
			       "master_pid=\"200\",worker_pid=\"202\"}"),
			   0.0, 0);
	assert_float_equal(val(&d, "gunicorn_request_duration_seconds_sum{app=\"myproj.wsgi:application\","
				   "master_pid=\"200\"}"),
			   123.456789012, 1e-9);
	/* not nanoseconds, not an integer count of ms */
	assert_null(
	    strstr(text, "_seconds_sum{app=\"web\",master_pid=\"100\",worker_pid=\"101\"} 1500000000"));
	/* size sums are plain bytes */
	assert_float_equal(val(&d, "gunicorn_worker_response_size_bytes_sum{app=\"web\",master_pid=\"100\","
				   "worker_pid=\"101\"}"),
			   5000000.0, 0);
	doc_free(&d);
	free(text);
	snapshot_clear(&s);
}

static const char *const families[][2] = {
	{ "gunicorn_worker_requests_total", "counter" },
	{ "gunicorn_worker_request_duration_seconds", "histogram" },
	{ "gunicorn_worker_responses_total", "counter" },
	{ "gunicorn_worker_failed_requests_total", "counter" },
	{ "gunicorn_worker_request_size_bytes", "histogram" },
	{ "gunicorn_worker_response_size_bytes", "histogram" },
	{ "gunicorn_worker_in_flight_requests", "gauge" },
	{ "gunicorn_requests_total", "counter" },
	{ "gunicorn_request_duration_seconds", "histogram" },
	{ "gunicorn_master_workers", "gauge" },
	{ "gunicorn_observer_build_info", "gauge" },
	{ "gunicorn_observer_tracked_masters", "gauge" },
	{ "gunicorn_observer_tracked_workers", "gauge" },
	{ "gunicorn_observer_events_dropped_total", "counter" },
	{ "gunicorn_observer_scrape_duration_seconds", "gauge" },
};

/* Every family above has exactly one HELP and one TYPE line, of its type. */
static void check_declared(const char *text)
{
	for (size_t f = 0; f < ARRAY_LEN(families); f++) {
		char help[160], type[160];
		size_t nh = 0, nt = 0;

		snprintf(help, sizeof(help), "# HELP %s ", families[f][0]);
		snprintf(type, sizeof(type), "# TYPE %s %s\n", families[f][0], families[f][1]);
		for (const char *p = text; (p = strstr(p, help)); p++)
			nh += p == text || p[-1] == '\n';
		for (const char *p = text; (p = strstr(p, type)); p++)
			nt += p == text || p[-1] == '\n';
		if (nh != 1 || nt != 1)
			fail_msg("%s: %zu HELP and %zu TYPE %s lines, want 1 and 1", families[f][0], nh, nt,
				 families[f][1]);
	}
}

static void test_one_help_type_per_family(void **state)
{
	struct snapshot s;
	struct doc d;
	char *text;
	size_t helps = 0, types = 0;

	(void)state;
	make_multi(&s);
	text = render(&s, 0);
	check_declared(text);
	doc_parse(&d, text);
	check_families(&d);
	for (size_t i = 0; i < d.n; i++) {
		helps += d.lines[i].kind == L_HELP;
		types += d.lines[i].kind == L_TYPE;
	}
	assert_int_equal(helps, types);
	assert_true(helps >= ARRAY_LEN(families));
	/* 6 workers: one series each, no family repeated per worker */
	assert_int_equal(count_samples(&d, "gunicorn_worker_requests_total"), 6);
	assert_int_equal(count_samples(&d, "gunicorn_worker_in_flight_requests"), 6);
	assert_int_equal(count_samples(&d, "gunicorn_worker_request_duration_seconds_count"), 6);
	assert_int_equal(count_samples(&d, "gunicorn_worker_request_duration_seconds_bucket"),
			 6 * (NDUR + 1));
	assert_int_equal(count_samples(&d, "gunicorn_master_workers"), 2);
	assert_int_equal(count_samples(&d, "gunicorn_request_duration_seconds_bucket"), 2 * (NDUR + 1));
	doc_free(&d);
	free(text);
	snapshot_clear(&s);
}

/* A sample line's name is the family declared just before it, so the
 * samples of a family are contiguous (check_families does the work). Here
 * also: the checker itself rejects interleaved families. */
static void test_samples_follow_their_family(void **state)
{
	struct snapshot s;
	struct doc d;
	const char *fam = NULL;
	size_t samples = 0;

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t i = 0; i < d.n; i++) {
		const struct line *l = &d.lines[i];
		size_t n;

		if (l->kind == L_TYPE)
			fam = l->name;
		if (l->kind != L_SAMPLE)
			continue;
		assert_non_null(fam);
		n = strlen(fam);
		assert_memory_equal(l->name, fam, n);
		assert_true(l->name[n] == '\0' || strcmp(l->name + n, "_bucket") == 0 ||
			    strcmp(l->name + n, "_sum") == 0 || strcmp(l->name + n, "_count") == 0);
		samples++;
	}
	assert_true(samples > 300);
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_responses_sorted_by_code(void **state)
{
	struct snapshot s;
	struct doc d;
	static const unsigned codes[] = { 200, 201, 404, 503 };

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t w = 0; w < s.nworkers; w++) {
		char wl[256];
		size_t k = 0;

		wlabels(wl, sizeof(wl), &s, &s.workers[w]);
		for (size_t i = 0; i < d.n; i++) {
			const struct line *l = &d.lines[i];
			char pid[16];

			snprintf(pid, sizeof(pid), "%d", (int)s.workers[w].pid);
			if (l->kind != L_SAMPLE || strcmp(l->name, "gunicorn_worker_responses_total") != 0 ||
			    strcmp(label(l, "worker_pid"), pid) != 0)
				continue;
			assert_true(k < ARRAY_LEN(codes));
			assert_int_equal(strtoul(label(l, "code"), NULL, 10), codes[k]);
			k++;
		}
		assert_int_equal(k, ARRAY_LEN(codes));
		assert_int_equal((uint64_t)val(&d, "gunicorn_worker_responses_total{%s,code=\"200\"}", wl),
				 s.workers[w].st.requests - 3);
		assert_int_equal((uint64_t)val(&d, "gunicorn_worker_responses_total{%s,code=\"503\"}", wl),
				 1);
	}
	/* master totals: sorted too, and the dead worker's 302 and 500 in place */
	{
		static const unsigned mcodes[] = { 200, 201, 302, 404, 500, 503 };
		size_t k = 0;

		for (size_t i = 0; i < d.n; i++) {
			const struct line *l = &d.lines[i];

			if (l->kind != L_SAMPLE || strcmp(l->name, "gunicorn_requests_total") != 0 ||
			    strcmp(label(l, "master_pid"), "200") != 0)
				continue;
			assert_true(k < ARRAY_LEN(mcodes));
			assert_int_equal(strtoul(label(l, "code"), NULL, 10), mcodes[k]);
			k++;
		}
		assert_int_equal(k, ARRAY_LEN(mcodes));
	}
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_failed_requests_both_reasons(void **state)
{
	struct snapshot s;
	struct doc d;

	(void)state;
	make_multi(&s);
	s.workers[0].st.failed_5xx = 0;
	s.workers[0].st.aborted = 0;
	render_doc(&s, &d);
	for (size_t w = 0; w < s.nworkers; w++) {
		char wl[256];

		wlabels(wl, sizeof(wl), &s, &s.workers[w]);
		assert_int_equal(
		    (uint64_t)val(&d, "gunicorn_worker_failed_requests_total{%s,reason=\"5xx\"}", wl),
		    s.workers[w].st.failed_5xx);
		assert_int_equal(
		    (uint64_t)val(&d, "gunicorn_worker_failed_requests_total{%s,reason=\"aborted\"}", wl),
		    s.workers[w].st.aborted);
	}
	/* zero series are still there (a counter that appears late breaks rate()) */
	assert_int_equal(count_samples(&d, "gunicorn_worker_failed_requests_total"), 2 * s.nworkers);
	assert_float_equal(val(&d, "gunicorn_worker_failed_requests_total{app=\"web\",master_pid=\"100\","
				   "worker_pid=\"101\",reason=\"5xx\"}"),
			   0, 0);
	assert_int_equal(
	    (uint64_t)val(&d, "gunicorn_worker_failed_requests_total{app=\"myproj.wsgi:application\","
			      "master_pid=\"200\",worker_pid=\"203\",reason=\"5xx\"}"),
	    105);
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_master_totals_from_snapshot(void **state)
{
	struct snapshot s;
	struct doc d;

	(void)state;
	make_multi(&s);
	/* what the master's totals say wins over the sum of its live workers */
	s.masters[0].workers = 7;
	render_doc(&s, &d);
	for (size_t m = 0; m < s.nmasters; m++) {
		const struct master_snap *ms = &s.masters[m];
		char ml[256];
		uint64_t live = 0;

		snprintf(ml, sizeof(ml), "app=\"%s\",master_pid=\"%d\"", ms->app, (int)ms->pid);
		for (size_t w = 0; w < s.nworkers; w++)
			if (s.workers[w].master == ms->pid)
				live += s.workers[w].st.requests;
		assert_true(ms->t.requests > live); /* the fixture has a dead worker */
		check_histogram(&d, "gunicorn_request_duration_seconds", ml, DUR, NDUR, ms->t.dur_buckets,
				ms->t.requests, (double)ms->t.dur_sum_ns / 1e9);
		for (size_t j = 0; j < ms->t.codes.n; j++)
			assert_int_equal((uint64_t)val(&d, "gunicorn_requests_total{%s,code=\"%u\"}", ml,
						       ms->t.codes.v[j].code),
					 ms->t.codes.v[j].count);
	}
	assert_int_equal(
	    (uint64_t)val(&d, "gunicorn_requests_total{app=\"web\",master_pid=\"100\",code=\"500\"}"), 7);
	assert_int_equal((uint64_t)val(&d, "gunicorn_requests_total{app=\"myproj.wsgi:application\","
					   "master_pid=\"200\",code=\"500\"}"),
			 8);
	assert_int_equal((uint64_t)val(&d, "gunicorn_master_workers{app=\"web\",master_pid=\"100\"}"), 7);
	assert_int_equal(
	    (uint64_t)val(&d, "gunicorn_master_workers{app=\"myproj.wsgi:application\",master_pid=\"200\"}"),
	    3);
	assert_int_equal(count_samples(&d, "gunicorn_requests_total"), 2 * 6);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_tracked_masters"), 2);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_tracked_workers"), 6);
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_label_order(void **state)
{
	struct snapshot s;
	struct doc d;
	size_t nw = 0, nm = 0;

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t i = 0; i < d.n; i++) {
		const struct line *l = &d.lines[i];

		if (l->kind != L_SAMPLE)
			continue;
		if (strncmp(l->name, "gunicorn_worker_", 16) == 0) {
			/* app, master_pid, worker_pid first, in that order */
			assert_true(l->nlabels >= 3);
			assert_string_equal(l->labels[0].name, "app");
			assert_string_equal(l->labels[1].name, "master_pid");
			assert_string_equal(l->labels[2].name, "worker_pid");
			assert_int_equal(atoi(l->labels[2].value) / 100 * 100, atoi(l->labels[1].value));
			assert_string_equal(l->labels[0].value, atoi(l->labels[1].value) == 100
								    ? "web"
								    : "myproj.wsgi:application");
			nw++;
		} else if (strncmp(l->name, "gunicorn_observer_", 18) != 0) {
			/* master series: app, master_pid and no worker_pid */
			assert_true(l->nlabels >= 2);
			assert_string_equal(l->labels[0].name, "app");
			assert_string_equal(l->labels[1].name, "master_pid");
			assert_null(label(l, "worker_pid"));
			nm++;
		} else {
			assert_null(label(l, "app"));
			assert_null(label(l, "worker_pid"));
		}
	}
	assert_true(nw > 0 && nm > 0);
	/* exact text of one line, as a reader's regexp would see it */
	assert_int_equal((uint64_t)val(&d,
				       "gunicorn_worker_in_flight_requests{app=\"web\",master_pid=\"100\","
				       "worker_pid=\"102\"}"),
			 1);
	doc_free(&d);
	snapshot_clear(&s);
}

/* The reason label of each enum obs_drop_reason, as dashboards know them. */
static const char *const drop_reasons[OBS_DROP_MAX] = {
	[OBS_DROP_CONN_MAP_FULL] = "conn_map_full",     [OBS_DROP_STASH_MAP_FULL] = "stash_map_full",
	[OBS_DROP_STATS_MISSING] = "stats_missing",     [OBS_DROP_CODE_MAP_FULL] = "code_map_full",
	[OBS_DROP_PROC_MAP_FULL] = "proc_map_full",     [OBS_DROP_RINGBUF_FULL] = "ringbuf_full",
	[OBS_DROP_READ_FAILED] = "user_read_failed",    [OBS_DROP_STATS_MAP_FULL] = "stats_map_full",
	[OBS_DROP_SIGNAL_MAP_FULL] = "signal_map_full", [OBS_DROP_TLS_MAP_FULL] = "tls_map_full",
};

static void test_events_dropped_per_reason(void **state)
{
	struct snapshot s;
	struct doc d;
	const char *seen[OBS_DROP_MAX + 1];
	size_t n = 0;

	(void)state;
	make_multi(&s);
	render_doc(&s, &d);
	for (size_t i = 0; i < d.n; i++) {
		const struct line *l = &d.lines[i];
		const char *r;

		if (l->kind != L_SAMPLE || strcmp(l->name, "gunicorn_observer_events_dropped_total") != 0)
			continue;
		assert_int_equal(l->nlabels, 1);
		r = label(l, "reason");
		assert_non_null(r);
		assert_true(*r);
		assert_string_not_equal(r, "unknown");
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(seen[j], r);
		assert_true(n < ARRAY_LEN(seen));
		seen[n++] = r;
	}
	assert_int_equal(n, OBS_DROP_MAX + 1);
	for (int i = 0; i < OBS_DROP_MAX; i++) {
		const char *name = drop_reasons[i];

		assert_non_null(name);
		assert_string_not_equal(name, "unknown");
		assert_int_equal(
		    (uint64_t)val(&d, "gunicorn_observer_events_dropped_total{reason=\"%s\"}", name),
		    1000 + (uint64_t)i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(drop_reasons[j], name);
	}
	assert_int_equal(
	    (uint64_t)val(&d, "gunicorn_observer_events_dropped_total{reason=\"map_read_failed\"}"), 42);
	doc_free(&d);
	snapshot_clear(&s);
}

static void test_empty_snapshot(void **state)
{
	struct snapshot s;
	struct doc d;
	char *text;

	(void)state;
	memset(&s, 0, sizeof(s)); /* no masters, no workers, no bounds, no version */
	text = render(&s, 0);
	check_declared(text);
	doc_parse(&d, text);
	check_families(&d);
	assert_int_equal(count_samples(&d, "gunicorn_worker_requests_total"), 0);
	assert_int_equal(count_samples(&d, "gunicorn_request_duration_seconds_bucket"), 0);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_tracked_masters"), 0);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_tracked_workers"), 0);
	assert_int_equal(
	    (uint64_t)val(
		&d, "gunicorn_observer_build_info{version=\"\",libbpf=\"\",kernel=\"\",data_plane=\"\"}"),
	    1);
	assert_int_equal(count_samples(&d, "gunicorn_observer_events_dropped_total"), OBS_DROP_MAX + 1);
	doc_free(&d);
	free(text);
}

/* A worker whose master is not in the snapshot still renders valid text. */
static void test_worker_without_master(void **state)
{
	struct snapshot s;
	struct doc d;

	(void)state;
	make_multi(&s);
	s.workers[5].master = 999;
	render_doc(&s, &d);
	assert_int_equal((uint64_t)val(&d, "gunicorn_worker_requests_total{app=\"\",master_pid=\"999\","
					   "worker_pid=\"203\"}"),
			 s.workers[5].st.requests);
	doc_free(&d);
	snapshot_clear(&s);
}

/* Appending to a buffer that already holds text keeps that text. */
static void test_render_appends(void **state)
{
	struct snapshot s;
	struct strbuf sb;

	(void)state;
	memset(&s, 0, sizeof(s));
	sb_init(&sb);
	sb_puts(&sb, "# preface\n");
	s.self.scrape_seconds = 0.5;
	text_render(&s, &sb);
	assert_false(sb.oom);
	assert_memory_equal(sb.data, "# preface\n# HELP ", 17);
	assert_non_null(strstr(sb.data, "\ngunicorn_observer_scrape_duration_seconds 0.5"));
	sb_free(&sb);
}

/* ---------------------------------------------------------------------------
 * The stream: the same bytes as text_render, a piece at a time.
 */

static const struct bpf_mem many_mem[] = { { "conns", 123456 }, { "we\"ird", 42 }, { "programs", 99999 } };

/* nm masters and nw workers reaching every family and branch: orphan
 * workers, escaped apps and listener names, pods, signals, shutdown exits,
 * unknown /proc figures, no heartbeat yet. Deterministic: two calls give
 * the same snapshot. */
static void make_many(struct snapshot *s, size_t nm, size_t nw)
{
	memset(s, 0, sizeof(*s));
	s->masters = calloc(nm ? nm : 1, sizeof(*s->masters));
	s->workers = calloc(nw ? nw : 1, sizeof(*s->workers));
	assert_non_null(s->masters);
	assert_non_null(s->workers);
	s->nmasters = nm;
	s->nworkers = nw;
	for (size_t m = 0; m < nm; m++) {
		struct master_snap *ms = &s->masters[m];

		ms->pid = (pid_t)(1000 * (m + 1));
		snprintf(ms->app, sizeof(ms->app), m % 3 == 1 ? "my\"app\\%zu\n" : "app%zu", m);
		ms->workers = (uint32_t)(nw / (nm ? nm : 1));
		ms->start_time = m % 4 == 3 ? 0 : 1700000000.25 + (double)m;
		for (int r = 0; r < EXIT_REASONS; r++) {
			ms->exits[r] = m * 10 + (size_t)r;
			ms->restarts[r] = m % 2 ? 0 : (size_t)r;
		}
		assert_int_equal(codes_add(&ms->signals, 15, m + 1), 0);
		if (m % 2)
			assert_int_equal(codes_add(&ms->signals, 1, 3), 0);
		assert_int_equal(codes_add(&ms->signals, 64, 2), 0);
		assert_int_equal(codes_add(&ms->t.codes, 200, 1000 + m), 0);
		assert_int_equal(codes_add(&ms->t.codes, 503, m), 0);
		ms->t.requests = 1000 + 2 * m;
		ms->t.dur_sum_ns = 123456789ULL * (m + 1);
		for (size_t i = 0; i <= NDUR; i++)
			ms->t.dur_buckets[i] = (m + i) % 7;
		ms->nlisteners = m % 3;
		for (size_t j = 0; j < ms->nlisteners; j++) {
			snprintf(ms->listeners[j].name, sizeof(ms->listeners[j].name),
				 j ? "unix:/run/a\"%zu.sock" : "127.0.0.1:%zu", 8000 + m);
			ms->listeners[j].backlog = (uint32_t)(m + j);
			ms->listeners[j].backlog_max = 128;
		}
		if (m % 2 == 0) {
			snprintf(ms->k8s.namespace, sizeof(ms->k8s.namespace), "ns%zu", m);
			snprintf(ms->k8s.pod, sizeof(ms->k8s.pod), "pod-%zu", m);
			snprintf(ms->k8s.container, sizeof(ms->k8s.container), "c\"%zu", m);
		}
	}
	for (size_t k = 0; k < nw; k++) {
		struct worker_snap *w = &s->workers[k];

		fill_worker(w, (pid_t)(100000 + k), nm && k % 17 != 16 ? s->masters[k * nm / nw].pid : 77,
			    (unsigned)k);
		if (k % 7 == 0)
			assert_int_equal(codes_add(&w->codes, 599, 2), 0);
		w->state = (enum worker_state)(k % WORKER_STATES);
		w->host.heartbeat_age = k % 4 == 0 ? -1 : 0.5 * (double)k;
		w->host.have_proc = k % 6 != 5;
		w->host.rss_bytes = 30e6 + (double)k;
		w->host.cpu_seconds = 0.01 * (double)k;
		w->host.cpu_percent = k % 8 == 1 ? -1 : 1.0 / 3 * (double)k;
		w->host.start_time = 1700000100.123456 + (double)k;
		w->host.uptime = 42.5 + (double)k;
	}
	for (int i = 0; i < OBS_DROP_MAX; i++)
		s->self.drops[i] = 1000 + (uint64_t)i;
	s->self.map_read_failures = 42;
	for (int i = 0; i < KMAP_COUNT; i++) {
		s->self.maps[i].ok = i != 1;
		s->self.maps[i].entries = (uint32_t)(i * 3);
		s->self.maps[i].capacity = 65536;
	}
	s->self.bpf_mem = many_mem;
	s->self.nbpf_mem = ARRAY_LEN(many_mem);
	s->self.rss_bytes = 9123456;
	s->bounds.dur = DUR;
	s->bounds.ndur = NDUR;
	s->bounds.size = SIZE;
	s->bounds.nsize = NSIZE;
	s->self.version = "1.2.3";
	s->self.libbpf_version = "1.1.2";
	s->self.kernel = "6.1.0-test";
	s->self.data_plane = "socket";
}

/* make_many(nm, nw) in a snapshot of its own (one reference), as a
 * stream takes it. */
static struct snapshot *new_many(size_t nm, size_t nw)
{
	struct snapshot *s = snapshot_new();

	assert_non_null(s);
	make_many(s, nm, nw);
	s->refs = 1; /* make_many zeroes it */
	return s;
}

/* The two families of the Redis mirror, as the text ends with them. */
#define REDIS_TAIL(up, errors)                                                                               \
	"# HELP gunicorn_observer_redis_up 1 when the last Redis mirror pass was written.\n"                 \
	"# TYPE gunicorn_observer_redis_up gauge\n"                                                          \
	"gunicorn_observer_redis_up " up "\n"                                                                \
	"# HELP gunicorn_observer_redis_errors_total Redis mirror passes that were not written.\n"           \
	"# TYPE gunicorn_observer_redis_errors_total counter\n"                                              \
	"gunicorn_observer_redis_errors_total " errors "\n"

/* The stream of make_many(nm, nw) read want bytes at a time: every call
 * but the last gives at least want, and at most a run of samples more.
 * mirror: the Redis mirror runs (up, 7 errors). */
static char *stream_text(size_t nm, size_t nw, size_t want, int mirror, size_t *len)
{
	struct snapshot *s = new_many(nm, nw);
	struct text_stream *st;
	struct strbuf out;
	size_t calls = 0;
	int rc;

	s->self.scrape_seconds = 0.0125;
	s->self.mirror = mirror;
	s->self.redis_up = 1;
	s->self.redis_errors = 7;
	st = text_stream_new(s);
	assert_non_null(st);
	assert_int_equal(s->refs, 2); /* the stream holds its own reference */
	snapshot_unref(s);            /* and the snapshot lives on in it */
	sb_init(&out);
	do {
		size_t before = out.len;

		rc = text_stream_next(st, &out, want);
		assert_true(rc == 0 || rc == 1);
		if (rc == 1)
			assert_true(out.len - before >= want);
		assert_true(out.len - before < want + 65536);
		assert_true(++calls < 100000000);
	} while (rc == 1);
	/* the end is sticky */
	assert_int_equal(text_stream_next(st, &out, want), 0);
	text_stream_free(st);
	assert_false(out.oom);
	return sb_steal(&out, len);
}

static void test_stream_equals_render(void **state)
{
	static const size_t wants[] = { 1, 7, 4096, 1 << 20 };
	static const size_t shapes[][2] = { { 7, 300 }, { 0, 0 }, { 1, 0 }, { 0, 5 }, { 3, 64 } };

	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(shapes); k++) {
		struct snapshot s;
		size_t len;
		char *want_text;

		make_many(&s, shapes[k][0], shapes[k][1]);
		want_text = render(&s, 0.0125);
		snapshot_clear(&s);
		for (size_t i = 0; i < ARRAY_LEN(wants); i++) {
			char *got = stream_text(shapes[k][0], shapes[k][1], wants[i], 0, &len);

			if (len != strlen(want_text) || memcmp(got, want_text, len) != 0)
				fail_msg("%zu masters x %zu workers, want %zu: the stream differs from "
					 "text_render (%zu bytes vs %zu)",
					 shapes[k][0], shapes[k][1], wants[i], len, strlen(want_text));
			free(got);
		}
		free(want_text);
	}
}

/* The large snapshot is valid exposition text; with the mirror on, the
 * Redis families come last (what the old trailer was), in the stream and
 * in text_render alike; with it off they are not there at all. */
static void test_redis_families_last(void **state)
{
	static const char tail[] = REDIS_TAIL("1", "7");
	size_t len, tl = strlen(tail);
	char *text = stream_text(7, 300, 4096, 1, &len), *off;
	struct snapshot s;
	struct doc d;

	(void)state;
	assert_true(len > tl);
	assert_memory_equal(text + len - tl, tail, tl);
	check_declared(text);
	doc_parse(&d, text);
	check_families(&d);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_tracked_workers"), 300);
	assert_int_equal(count_samples(&d, "gunicorn_worker_requests_total"), 300);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_redis_up"), 1);
	assert_int_equal((uint64_t)val(&d, "gunicorn_observer_redis_errors_total"), 7);
	doc_free(&d);
	free(text);

	/* mirror off: neither family, not even declared */
	off = stream_text(7, 300, 4096, 0, &len);
	assert_null(strstr(off, "gunicorn_observer_redis_"));
	free(off);

	/* text_render: the same tail, up 0 and the errors as they are */
	make_multi(&s);
	s.self.mirror = 1;
	s.self.redis_up = 0;
	s.self.redis_errors = 18446744073709551615ULL;
	text = render(&s, 0);
	len = strlen(text);
	{
		static const char down[] = REDIS_TAIL("0", "18446744073709551615");

		assert_true(len > strlen(down));
		assert_string_equal(text + len - strlen(down), down);
	}
	free(text);
	s.self.mirror = 0;
	text = render(&s, 0);
	assert_null(strstr(text, "gunicorn_observer_redis_"));
	free(text);
	snapshot_clear(&s);
}

/* A stream freed before its end (a client gone) frees all it holds, its
 * reference to the snapshot included: run under valgrind or ASan to see it. */
static void test_stream_free_halfway(void **state)
{
	struct snapshot *s = new_many(7, 300);
	struct text_stream *st;
	struct strbuf out;

	(void)state;
	s->self.scrape_seconds = 0.5;
	s->self.mirror = 1;
	st = text_stream_new(s);
	assert_non_null(st);
	snapshot_unref(s);
	sb_init(&out);
	for (int i = 0; i < 20; i++)
		assert_int_equal(text_stream_next(st, &out, 4096), 1);
	text_stream_free(st);
	sb_free(&out);

	s = new_many(2, 10); /* and one never read, its snapshot still held elsewhere */
	st = text_stream_new(s);
	assert_non_null(st);
	assert_int_equal(s->refs, 2);
	text_stream_free(st);
	assert_int_equal(s->refs, 1);
	snapshot_unref(s);
	text_stream_free(NULL);
}

/* Memory that ran out in the buffer is an error, not an end. */
static void test_stream_oom(void **state)
{
	struct snapshot *s = new_many(2, 40);
	struct text_stream *st;
	struct strbuf out;

	(void)state;
	s->self.scrape_seconds = 0.5;
	st = text_stream_new(s);
	assert_non_null(st);
	snapshot_unref(s);
	sb_init(&out);
	assert_int_equal(text_stream_next(st, &out, 100), 1);
	out.oom = 1;
	assert_int_equal(text_stream_next(st, &out, 100), -1);
	text_stream_free(st);
	sb_free(&out);
}

static int run_promtool(const char *text, char *out, size_t size)
{
	char tmpl[] = "/tmp/test_text_XXXXXX", cmd[256], outpath[64];
	int fd = mkstemp(tmpl), st;
	size_t len = strlen(text);
	FILE *f;
	size_t n;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(outpath, sizeof(outpath), "%s.out", tmpl);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < %s > %s 2>&1", tmpl, outpath);
	st = system(cmd);
	f = fopen(outpath, "r");
	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(outpath);
	unlink(tmpl);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_promtool(void **state)
{
	struct snapshot s;
	char *text, out[8192];
	int rc;

	(void)state;
	if (access(PROMTOOL, X_OK) != 0) {
		print_message("promtool not at " PROMTOOL ": skipping\n");
		skip();
	}
	make_multi(&s);
	snprintf(s.masters[0].app, sizeof(s.masters[0].app), "%s", "we\"b\\app\nv2");
	s.self.mirror = 1; /* the Redis families too */
	text = render(&s, 0.0125);
	rc = run_promtool(text, out, sizeof(out));
	if (rc != 0 || out[0])
		fail_msg("promtool check metrics: exit %d, output:\n%s", rc, out);
	free(text);
	snapshot_clear(&s);

	memset(&s, 0, sizeof(s));
	text = render(&s, 0);
	rc = run_promtool(text, out, sizeof(out));
	if (rc != 0 || out[0])
		fail_msg("promtool check metrics (empty snapshot): exit %d, output:\n%s", rc, out);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_function),
		cmocka_unit_test(test_escape_app_label),
		cmocka_unit_test(test_histograms_cumulative),
		cmocka_unit_test(test_le_format),
		cmocka_unit_test(test_sum_seconds_from_ns),
		cmocka_unit_test(test_one_help_type_per_family),
		cmocka_unit_test(test_samples_follow_their_family),
		cmocka_unit_test(test_responses_sorted_by_code),
		cmocka_unit_test(test_failed_requests_both_reasons),
		cmocka_unit_test(test_master_totals_from_snapshot),
		cmocka_unit_test(test_label_order),
		cmocka_unit_test(test_events_dropped_per_reason),
		cmocka_unit_test(test_empty_snapshot),
		cmocka_unit_test(test_worker_without_master),
		cmocka_unit_test(test_render_appends),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_stream_equals_render),
		cmocka_unit_test(test_redis_families_last),
		cmocka_unit_test(test_stream_free_halfway),
		cmocka_unit_test(test_stream_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
