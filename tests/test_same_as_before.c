/* test_same_as_before.c - the new data path writes what the old one wrote.
 *
 * Before the series model, /metrics was render/expo.c's expo_render with
 * the Redis mirror's own two families appended (mirror_render), and the
 * mirror's Redis records were that same text parsed back
 * (redis_keys_build). Those three are kept, renamed oracle_*, in
 * tests/oracle/ (#included below: they are compiled into this test alone).
 * For some hundreds of pseudo-random snapshots (a fixed seed, so a failure
 * is reproducible), this test checks that
 *   - text_render writes the old text byte for byte, and
 *   - redis_records_build writes the same set of records (data key, meta
 *     key, original_key, value, typ) as the old parser made of that text:
 *     the Redis mirror writes the same keys and values as before.
 * On a difference it prints the snapshot's number, the first line that
 * differs (old and new), or the records one side has and the other has not.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_same_as_before
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/strbuf.h"
#include "model/snapshot.h"
#include "redis/records.h"
#include "render/text.h"

#include "oracle/oracle_expo.c"
#include "oracle/oracle_mirror.c"
#include "oracle/oracle_redis_keys.c"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SNAPSHOTS    400
#define SEED         0x5eed2024c0ffeeULL

/* ---------------------------------------------------------------------------
 * Pseudo-random snapshots.
 */

/* xorshift64*: the same sequence on every host. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 0x2545f4914f6cdd1dULL;
}

/* A number below n (n > 0). */
static uint64_t below(uint64_t *st, uint64_t n)
{
	return rnd(st) % n;
}

/* 1 in n. */
static int one_in(uint64_t *st, uint64_t n)
{
	return below(st, n) == 0;
}

/* A count: mostly small, sometimes zero, sometimes past 2^53 or the top. */
static uint64_t count(uint64_t *st)
{
	switch (below(st, 8)) {
	case 0:
		return 0;
	case 1:
		return rnd(st); /* any, past 2^53 too */
	case 2:
		return UINT64_MAX - below(st, 3);
	case 3:
		return (1ULL << 53) + below(st, 5);
	default:
		return below(st, 100000);
	}
}

/* A double as /proc, heartbeats and clocks give them: whole, fractional,
 * tiny, huge, a half-way case for rounding, now and then odd. */
static double figure(uint64_t *st)
{
	switch (below(st, 12)) {
	case 0:
		return 0;
	case 1:
		return (double)below(st, 1000000000) / 1e6;
	case 2:
		return (double)below(st, 100) + 0.5; /* ties at %.0f */
	case 3:
		return 0.0000005 * (double)below(st, 10); /* ties at %.6f, near enough */
	case 4:
		return 1700000000.0 + (double)below(st, 100000000) / 1e6;
	case 5:
		return (double)rnd(st) / 7.0; /* past 2^53 */
	case 6:
		return 1e-9 * (double)below(st, 1000);
	case 7:
		return 123456789.123456789;
	case 8:
		return (double)below(st, 4096) * 4096;
	case 9:
		return -(double)below(st, 1000) / 3.0;
	case 10:
		return one_in(st, 2) ? 1e300 : 0.1 + 0.2;
	default:
		return (double)below(st, 1000) / 3.0;
	}
}

/* Label values with every byte the text format escapes, UTF-8 (valid and
 * not) and control bytes; the longest an app name can be. */
static const char *const strings[] = {
	"web",
	"myproj.wsgi:application",
	"",
	"we\"b\\app\nv2",
	"\\",
	"\"",
	"\n\n",
	"trailing\\",
	"caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac",
	"bad \xff\xfe utf8 \xc3( \xed\xa0\x80 \xf4\x90\x80\x80",
	"tab\there\rcr\x01\x1f\x7f",
	"{braces}=,'quotes'",
	"x:y:z",
	"a b  c",
};

/* One of strings[], or a random run of bytes (no NUL), at most max - 1. */
static void some_string(uint64_t *st, char *out, size_t max)
{
	size_t n;

	if (!one_in(st, 4)) {
		snprintf(out, max, "%s", strings[below(st, ARRAY_LEN(strings))]);
		return;
	}
	n = one_in(st, 8) ? max - 1 : below(st, max < 24 ? max : 24);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(1 + below(st, 255));
	out[n] = '\0';
}

static const char *some_const_string(uint64_t *st)
{
	return one_in(st, 6) ? NULL : strings[below(st, ARRAY_LEN(strings))];
}

/* Bucket bounds: n of them, ascending, nice or not. */
static void some_bounds(uint64_t *st, double *b, size_t n, double scale)
{
	double v = scale * (double)(1 + below(st, 5)) / 1000;

	for (size_t i = 0; i < n; i++) {
		b[i] = v;
		switch (below(st, 4)) {
		case 0:
			v *= 2.5;
			break;
		case 1:
			v += scale * (double)(1 + below(st, 1000)) / 997;
			break;
		case 2:
			v *= 1.0 + (double)(1 + below(st, 1000)) / 1e4;
			break;
		default:
			v *= 10;
			break;
		}
	}
}

static void some_codes(uint64_t *st, struct code_list *l, uint32_t lo, uint32_t span)
{
	static const uint32_t odd[] = { 0, 99, 600, 999, 65535, 4294967295u };
	size_t n = below(st, 7);

	for (size_t i = 0; i < n; i++) {
		uint32_t code =
		    one_in(st, 8) ? odd[below(st, ARRAY_LEN(odd))] : lo + (uint32_t)below(st, span);

		assert_int_equal(codes_add(l, code, count(st)), 0);
	}
}

static void some_histogram(uint64_t *st, __u64 *b, size_t nb, __u64 *total)
{
	__u64 sum = 0;

	for (size_t i = 0; i <= nb; i++) {
		b[i] = one_in(st, 3) ? 0 : count(st);
		sum += b[i];
	}
	/* as the kernel counts them, or a read that raced a request */
	*total = one_in(st, 4) ? count(st) : sum;
}

static void some_master(uint64_t *st, struct master_snap *m, pid_t pid, size_t nb)
{
	m->pid = pid;
	some_string(st, m->app, sizeof(m->app));
	m->workers = (uint32_t)(one_in(st, 5) ? rnd(st) : below(st, 20));
	some_histogram(st, m->t.dur_buckets, nb, &m->t.requests);
	m->t.dur_sum_ns = count(st);
	some_codes(st, &m->t.codes, 100, 500);
	m->start_time = one_in(st, 3) ? 0 : figure(st);
	for (int r = 0; r < EXIT_REASONS; r++) {
		m->exits[r] = one_in(st, 2) ? 0 : count(st);
		m->restarts[r] = one_in(st, 2) ? 0 : count(st);
	}
	some_codes(st, &m->signals, 1, 70);
	m->nlisteners = one_in(st, 3) ? 0 : below(st, OBS_MAX_LISTENERS + 1);
	for (size_t j = 0; j < m->nlisteners; j++) {
		some_string(st, m->listeners[j].name, sizeof(m->listeners[j].name));
		m->listeners[j].backlog = (uint32_t)rnd(st);
		m->listeners[j].backlog_max = (uint32_t)below(st, 65536);
	}
	if (one_in(st, 2)) {
		some_string(st, m->k8s.namespace, sizeof(m->k8s.namespace));
		some_string(st, m->k8s.pod, sizeof(m->k8s.pod));
		if (!m->k8s.pod[0])
			snprintf(m->k8s.pod, sizeof(m->k8s.pod), "pod-%d", (int)pid);
		some_string(st, m->k8s.container, sizeof(m->k8s.container));
	}
}

static void some_worker(uint64_t *st, struct worker_snap *w, pid_t pid, pid_t master, const struct bounds *b)
{
	__u64 unused; /* the size histograms count requests */

	w->pid = pid;
	w->master = master;
	w->st.master = (__u32)master;
	some_histogram(st, w->st.dur_buckets, b->ndur, &w->st.requests);
	w->st.dur_sum_ns = count(st);
	some_histogram(st, w->st.req_buckets, b->nsize, &unused);
	some_histogram(st, w->st.resp_buckets, b->nsize, &unused);
	w->st.aborted = count(st);
	w->st.failed_5xx = count(st);
	w->st.in_flight = (__s64)(one_in(st, 4) ? rnd(st) : below(st, 10)); /* negative too */
	w->st.req_bytes_sum = count(st);
	w->st.resp_bytes_sum = count(st);
	some_codes(st, &w->codes, 100, 500);
	w->state = (enum worker_state)below(st, WORKER_STATES);
	w->host.have_proc = !one_in(st, 4);
	w->host.rss_bytes = figure(st);
	w->host.cpu_seconds = figure(st);
	w->host.cpu_percent = one_in(st, 4) ? -1 : figure(st);
	w->host.start_time = figure(st);
	w->host.uptime = figure(st);
	w->host.heartbeat_age = one_in(st, 3) ? -1 : figure(st);
}

static struct bpf_mem mem_pool[OBS_MAX_BPF_MEM];

/* What one snapshot points to and does not own. */
struct extras {
	double dur[OBS_MAX_DUR_BOUNDS], size[OBS_MAX_SIZE_BOUNDS];
};

/* The next snapshot of the sequence: masters with and without pods,
 * workers of each and of none, every family's branches. */
static void some_snapshot(uint64_t *st, struct snapshot *s, struct extras *x)
{
	size_t nm = below(st, 6), per[8] = { 0 }, nw = 0, orphans = below(st, 3);

	memset(s, 0, sizeof(*s));
	s->bounds.ndur = one_in(st, 8) ? 0 : 1 + below(st, OBS_MAX_DUR_BOUNDS);
	s->bounds.nsize = one_in(st, 8) ? 0 : 1 + below(st, OBS_MAX_SIZE_BOUNDS);
	some_bounds(st, x->dur, s->bounds.ndur, 1);
	some_bounds(st, x->size, s->bounds.nsize, 100000);
	s->bounds.dur = x->dur;
	s->bounds.size = x->size;
	for (size_t m = 0; m < nm; m++)
		nw += per[m] = below(st, 6);
	s->masters = calloc(nm ? nm : 1, sizeof(*s->masters));
	s->workers = calloc(nw + orphans + 1, sizeof(*s->workers));
	assert_non_null(s->masters);
	assert_non_null(s->workers);
	s->nmasters = nm;
	for (size_t m = 0; m < nm; m++) {
		pid_t mp = (pid_t)(100 + 1000 * m + below(st, 900));

		some_master(st, &s->masters[m], mp, s->bounds.ndur);
		for (size_t k = 0; k < per[m]; k++, s->nworkers++)
			some_worker(st, &s->workers[s->nworkers], mp + 1 + (pid_t)k, mp, &s->bounds);
	}
	/* workers whose master is not in the snapshot (gone, or not read) */
	for (size_t k = 0; k < orphans; k++, s->nworkers++)
		some_worker(st, &s->workers[s->nworkers], (pid_t)(900000 + k),
			    (pid_t)(one_in(st, 3) ? 0 : 777777), &s->bounds);
	for (int i = 0; i < OBS_DROP_MAX; i++)
		s->self.drops[i] = count(st);
	s->self.map_read_failures = count(st);
	for (int i = 0; i < KMAP_COUNT; i++) {
		s->self.maps[i].ok = !one_in(st, 4);
		s->self.maps[i].entries = (uint32_t)rnd(st);
		s->self.maps[i].capacity = (uint32_t)below(st, 1u << 20);
	}
	s->self.bpf_mem = mem_pool;
	s->self.nbpf_mem = below(st, OBS_MAX_BPF_MEM + 1);
	s->self.rss_bytes = one_in(st, 3) ? 0 : figure(st);
	s->self.tls_workers = one_in(st, 2) ? 0 : (uint32_t)s->nworkers;
	s->self.scrape_seconds = figure(st);
	s->self.mirror = one_in(st, 2);
	s->self.redis_up = (int)below(st, 2);
	s->self.redis_errors = count(st);
	s->self.version = some_const_string(st);
	s->self.libbpf_version = some_const_string(st);
	s->self.kernel = some_const_string(st);
	s->self.data_plane = some_const_string(st);
	s->taken = figure(st);
}

static void fill_mem_pool(uint64_t *st)
{
	for (size_t i = 0; i < ARRAY_LEN(mem_pool); i++) {
		some_string(st, mem_pool[i].name, sizeof(mem_pool[i].name));
		mem_pool[i].bytes = count(st);
	}
}

/* ---------------------------------------------------------------------------
 * Comparing.
 */

/* The old /metrics and mirror text of s: expo_render, then the mirror's
 * families when the mirror ran. */
static void old_text(const struct snapshot *s, struct strbuf *out)
{
	oracle_expo_render(s, s->self.scrape_seconds, out);
	if (s->self.mirror)
		oracle_mirror_render(s->self.redis_up, s->self.redis_errors, out);
	assert_false(out->oom);
}

static void new_text(const struct snapshot *s, struct strbuf *out)
{
	text_render(s, out);
	assert_false(out->oom);
}

/* Fails, naming the first line where old and new differ. */
static void same_text(size_t k, const struct strbuf *old, const struct strbuf *new)
{
	size_t i = 0, line = 1, start;
	size_t n = old->len < new->len ? old->len : new->len;

	if (old->len == new->len && memcmp(old->data, new->data, old->len) == 0)
		return;
	while (i < n && old->data[i] == new->data[i]) {
		if (old->data[i] == '\n')
			line++;
		i++;
	}
	start = i;
	while (start > 0 && old->data[start - 1] != '\n')
		start--;
	fail_msg("snapshot %zu: the text differs at line %zu (byte %zu; %zu bytes old, %zu new)\n"
		 "old: %.*s\nnew: %.*s",
		 k, line, i, old->len, new->len, (int)strcspn(old->data + start, "\n"), old->data + start,
		 (int)strcspn(new->data + start, "\n"), new->data + start);
}

/* One record as a line: data key, meta key, original_key, value, typ. */
static char *record_line(const char *data, const char *meta, const char *orig, const char *value,
			 const char *typ)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_printf(&sb, "%s | %s | %s | %s | %s", data, meta, orig, value, typ);
	assert_false(sb.oom);
	return sb_steal(&sb, NULL);
}

static int by_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The line of v (n lines) with the data key of line, "(none)" without. */
static const char *same_key(char *const *v, size_t n, const char *line)
{
	size_t klen = strcspn(line, " ");

	for (size_t i = 0; i < n; i++)
		if (!strncmp(v[i], line, klen) && v[i][klen] == ' ')
			return v[i];
	return "(none)";
}

/* Fails, naming a record one side has and the other has not, and what the
 * other side has under its data key. */
static void same_records(size_t k, char **old, size_t nold, char **new, size_t nnew)
{
	size_t i = 0, j = 0;

	qsort(old, nold, sizeof(*old), by_line);
	qsort(new, nnew, sizeof(*new), by_line);
	while (i < nold && j < nnew && !strcmp(old[i], new[j])) {
		i++;
		j++;
	}
	if (i == nold && j == nnew)
		return;
	if (j == nnew || (i < nold && strcmp(old[i], new[j]) < 0))
		fail_msg("snapshot %zu: %zu old records, %zu new; only the old has\n  old: %s\n  new: %s", k,
			 nold, nnew, old[i], same_key(new, nnew, old[i]));
	fail_msg("snapshot %zu: %zu old records, %zu new; only the new has\n  new: %s\n  old: %s", k, nold,
		 nnew, new[j], same_key(old, nold, new[j]));
}

struct run {
	const char *prefix, *node;
	pid_t self;
};

/* The records of old (the text) and of the snapshot: the same set. */
static size_t check_records(size_t k, const struct snapshot *s, const struct strbuf *text,
			    const struct run *r)
{
	struct oracle_records orc;
	struct redis_records nrc;
	char **old, **new;
	size_t n;

	assert_int_equal(oracle_redis_keys_build(text->data, text->len, r->prefix, r->node, r->self, &orc),
			 0);
	assert_int_equal(redis_records_build(s, r->prefix, r->node, r->self, &nrc), 0);
	if (orc.skipped)
		fail_msg("snapshot %zu: the old parser skipped %zu lines of the old text", k, orc.skipped);
	old = calloc(orc.n + 1, sizeof(*old));
	new = calloc(nrc.n + 1, sizeof(*new));
	assert_non_null(old);
	assert_non_null(new);
	for (size_t i = 0; i < orc.n; i++)
		old[i] = record_line(oracle_str(&orc, orc.v[i].data_key), oracle_str(&orc, orc.v[i].meta_key),
				     oracle_str(&orc, orc.v[i].original_key),
				     oracle_str(&orc, orc.v[i].value), orc.v[i].typ);
	for (size_t i = 0; i < nrc.n; i++)
		new[i] = record_line(rk_str(&nrc, nrc.v[i].data_key), rk_str(&nrc, nrc.v[i].meta_key),
				     rk_str(&nrc, nrc.v[i].original_key), rk_str(&nrc, nrc.v[i].value),
				     nrc.v[i].typ);
	same_records(k, old, orc.n, new, nrc.n);
	free_lines(old, orc.n);
	free_lines(new, nrc.n);
	n = nrc.n;
	oracle_records_free(&orc);
	redis_records_free(&nrc);
	return n;
}

/* How much of each kind the snapshots held: the test covers what it says. */
struct seen {
	size_t pods, no_pods, orphans, proc, no_proc, heartbeats, mirror, no_mirror, rss, no_rss;
	size_t states[WORKER_STATES], no_bounds, many_bounds, records, bytes;
};

static void tally(struct seen *c, const struct snapshot *s)
{
	for (size_t m = 0; m < s->nmasters; m++) {
		if (s->masters[m].k8s.pod[0])
			c->pods++;
		else
			c->no_pods++;
	}
	for (size_t w = 0; w < s->nworkers; w++) {
		const struct worker_snap *ws = &s->workers[w];

		c->orphans += !snapshot_master(s, ws->master);
		c->proc += ws->host.have_proc != 0;
		c->no_proc += !ws->host.have_proc;
		c->heartbeats += ws->host.heartbeat_age >= 0;
		c->states[ws->state]++;
	}
	c->mirror += s->self.mirror != 0;
	c->no_mirror += !s->self.mirror;
	c->rss += s->self.rss_bytes > 0;
	c->no_rss += !(s->self.rss_bytes > 0);
	c->no_bounds += s->bounds.ndur == 0 || s->bounds.nsize == 0;
	c->many_bounds += s->bounds.ndur > 20;
}

static const struct run runs[] = {
	{ "gunicorn", "n1", 4242 },
	{ "gunicorn", "", 1 },
	{ "p:x", "n\xc3\xb6\"de\\\n", 77 },
	{ "gunicorn", NULL, 99999 },
};

/* ---------------------------------------------------------------------------
 * Tests.
 */

/* Hundreds of random snapshots: the text and the records are the old ones. */
static void test_random_snapshots(void **state)
{
	uint64_t rng = SEED;
	struct seen c = { 0 };

	(void)state;
	fill_mem_pool(&rng);
	for (size_t k = 0; k < SNAPSHOTS; k++) {
		struct snapshot s;
		struct extras x;
		struct strbuf old, new;

		some_snapshot(&rng, &s, &x);
		tally(&c, &s);
		sb_init(&old);
		sb_init(&new);
		old_text(&s, &old);
		new_text(&s, &new);
		same_text(k, &old, &new);
		c.records += check_records(k, &s, &old, &runs[k % ARRAY_LEN(runs)]);
		c.bytes += new.len;
		sb_free(&old);
		sb_free(&new);
		snapshot_clear(&s);
	}
	print_message("%d snapshots: %zu bytes of text, %zu records, the same as before\n", SNAPSHOTS,
		      c.bytes, c.records);
	/* the sequence reached every case it is meant to */
	assert_true(c.pods > 50 && c.no_pods > 50);
	assert_true(c.orphans > 50);
	assert_true(c.proc > 100 && c.no_proc > 50 && c.heartbeats > 100);
	for (int i = 0; i < WORKER_STATES; i++)
		assert_true(c.states[i] > 50);
	assert_true(c.mirror > 100 && c.no_mirror > 100);
	assert_true(c.rss > 100 && c.no_rss > 50);
	assert_true(c.no_bounds > 10 && c.many_bounds > 50);
	assert_true(c.records > 100000);
}

/* The empty snapshot (a memset, as before any read), mirror on and off. */
static void test_empty_snapshot(void **state)
{
	(void)state;
	for (int mirror = 0; mirror < 2; mirror++) {
		struct snapshot s;
		struct strbuf old, new;

		memset(&s, 0, sizeof(s));
		s.self.mirror = mirror;
		sb_init(&old);
		sb_init(&new);
		old_text(&s, &old);
		new_text(&s, &new);
		same_text((size_t)mirror, &old, &new);
		for (size_t r = 0; r < ARRAY_LEN(runs); r++)
			check_records((size_t)mirror, &s, &old, &runs[r]);
		sb_free(&old);
		sb_free(&new);
	}
}

/* The oracle itself tells a difference: a changed value, a changed label. */
static void test_oracle_sees_a_difference(void **state)
{
	uint64_t rng = SEED ^ 1;
	struct snapshot s;
	struct extras x;
	struct strbuf old, new;
	struct redis_records a, b;

	(void)state;
	fill_mem_pool(&rng);
	some_snapshot(&rng, &s, &x);
	while (!s.nworkers) {
		snapshot_clear(&s);
		some_snapshot(&rng, &s, &x);
	}
	sb_init(&old);
	old_text(&s, &old);
	assert_int_equal(redis_records_build(&s, "gunicorn", "n1", 1, &a), 0);
	s.workers[0].st.requests++;
	s.workers[0].st.dur_buckets[0]++;
	sb_init(&new);
	new_text(&s, &new);
	assert_true(old.len != new.len || memcmp(old.data, new.data, old.len) != 0);
	assert_int_equal(redis_records_build(&s, "gunicorn", "n1", 1, &b), 0);
	assert_int_equal(a.n, b.n);
	{
		size_t differ = 0;

		for (size_t i = 0; i < a.n; i++)
			differ += strcmp(rk_str(&a, a.v[i].value), rk_str(&b, b.v[i].value)) != 0;
		assert_true(differ >= 2); /* the requests and the first bucket */
	}
	redis_records_free(&a);
	redis_records_free(&b);
	sb_free(&old);
	sb_free(&new);
	snapshot_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_snapshots),
		cmocka_unit_test(test_empty_snapshot),
		cmocka_unit_test(test_oracle_sees_a_difference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
