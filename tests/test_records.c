/* test_records.c - unit tests for userspace/redis/records.c and json.c: a
 * snapshot, through the series model, as the Redis records of the Python
 * gunicorn-prometheus-exporter, and those records read back.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_records
 *
 * The expected original_keys and md5s were computed with /usr/bin/python3
 * the way the exporter does it (json.dumps([family, sample, {labels},
 * help], sort_keys=True), hashlib.md5 of it), not by this code, so a byte
 * of difference in the JSON shows up here. merge.c, the reading side of
 * `aggregate`, is tested on our own records (a round trip back to the
 * exposition) and on records shaped as the Python exporter writes them
 * (one key per process, buckets as their own counts).
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

#include "lib/promtext.h"
#include "model/snapshot.h"
#include "redis/merge.h"
#include "redis/records.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A label value with every kind of escape: exposition escapes (\" \\ \n),
 * two-byte and four-byte UTF-8 (é, U+1F600), a tab, DEL and a control byte. */
#define WEIRD_APP "we\"ird\\x\nme \xc3\xa9\xf0\x9f\x98\x80\t\x7f\x01"

static const double DUR[] = { 0.1, 1 };
static const double SIZE[] = { 100 };

/* Master 100 (app, 2 workers) and its worker 101: 7 requests, 3 of them
 * under 0.1 s, 2 under 1 s, 2 above; 2.5 s in all; 123456 bytes resident;
 * no heartbeat yet, no CPU percentage yet. */
static void make_shop(struct snapshot *s, const char *app)
{
	struct master_snap *m;
	struct worker_snap *w;

	memset(s, 0, sizeof(*s));
	m = s->masters = calloc(1, sizeof(*s->masters));
	w = s->workers = calloc(1, sizeof(*s->workers));
	assert_non_null(m);
	assert_non_null(w);
	s->nmasters = s->nworkers = 1;
	m->pid = 100;
	snprintf(m->app, sizeof(m->app), "%s", app);
	m->workers = 2;
	w->pid = 101;
	w->master = 100;
	w->st.master = 100;
	w->st.requests = 7;
	w->st.dur_buckets[0] = 3;
	w->st.dur_buckets[1] = 2;
	w->st.dur_buckets[2] = 2;
	w->st.dur_sum_ns = 2500000000ULL;
	w->host.have_proc = 1;
	w->host.rss_bytes = 123456;
	w->host.heartbeat_age = -1;
	w->host.cpu_percent = -1;
	s->bounds = (struct bounds){ DUR, ARRAY_LEN(DUR), SIZE, ARRAY_LEN(SIZE) };
}

#define DUR_HELP "Time from the first request byte received to the last response byte sent."
#define DUR_KEY(le)                                                                                          \
	"[\"gunicorn_worker_request_duration_seconds\", "                                                    \
	"\"gunicorn_worker_request_duration_seconds_bucket\", "                                              \
	"{\"app\": \"shop\", \"le\": \"" le                                                                  \
	"\", \"master_pid\": \"100\", \"node\": \"n1\", \"worker_pid\": "                                    \
	"\"101\"}, \"" DUR_HELP "\"]"

struct want {
	const char *data_key, *original_key, *typ, *value;
};

/* Some records of make_shop(WANT_APP[i]), self pid 42, node "n1", prefix
 * "gunicorn"; python3 computed every key and md5. */
static const struct want WANT[] = {
	{ "gunicorn:counter:101:metric:a24beed61aa2c4b6a17235cbb57d1db2",
	  "[\"gunicorn_worker_requests\", \"gunicorn_worker_requests_total\", {\"app\": \"shop\", "
	  "\"master_pid\": "
	  "\"100\", \"node\": \"n1\", \"worker_pid\": \"101\"}, \"HTTP requests completed (response sent) by "
	  "the "
	  "worker.\"]",
	  "counter", "7" },
	{ "gunicorn:histogram:101:metric:6584edb90dd276a9d58a204d47868dec", DUR_KEY("0.1"), "histogram",
	  "3" },
	{ "gunicorn:histogram:101:metric:6f098e9df26f75618a0462dfb7006753", DUR_KEY("1"), "histogram", "2" },
	{ "gunicorn:histogram:101:metric:4add7f3dd0adecb50fbcffbc85090a61", DUR_KEY("+Inf"), "histogram",
	  "2" },
	{ "gunicorn:histogram:101:metric:34d6892d40403d5e60289799d4640a41",
	  "[\"gunicorn_worker_request_duration_seconds\", \"gunicorn_worker_request_duration_seconds_sum\", "
	  "{\"app\": \"shop\", \"master_pid\": \"100\", \"node\": \"n1\", \"worker_pid\": \"101\"}, "
	  "\"" DUR_HELP "\"]",
	  "histogram", "2.500000000" },
	{ "gunicorn:gauge_all:101:metric:c5df1084b5c3f7415019834d89b2e6a0",
	  "[\"gunicorn_worker_memory_bytes\", \"gunicorn_worker_memory_bytes\", {\"app\": "
	  "\"we\\\"ird\\\\x\\nme "
	  "\\u00e9\\ud83d\\ude00\\t\\u007f\\u0001\", \"master_pid\": \"100\", \"node\": \"n1\", "
	  "\"worker_pid\": "
	  "\"101\"}, \"Resident set size.\"]",
	  "gauge", "123456.000000" },
	{ "gunicorn:gauge_all:100:metric:6d211d053f42e8f7578512e845b1e1df",
	  "[\"gunicorn_master_workers\", \"gunicorn_master_workers\", {\"app\": \"shop\", \"master_pid\": "
	  "\"100\", "
	  "\"node\": \"n1\"}, \"Live workers of the master now.\"]",
	  "gauge", "2" },
	{ "gunicorn:gauge_all:42:metric:520defaf001091c703b28305ca4d99ea",
	  "[\"gunicorn_observer_tracked_masters\", \"gunicorn_observer_tracked_masters\", {\"node\": "
	  "\"n1\"}, "
	  "\"Gunicorn masters being observed.\"]",
	  "gauge", "1" },
};

/* The app of the snapshot each WANT comes from. */
static const char *const WANT_APP[ARRAY_LEN(WANT)] = { "shop", "shop",    "shop", "shop",
						       "shop", WEIRD_APP, "shop", "shop" };

static void build(const struct snapshot *s, const char *prefix, const char *node, struct redis_records *r)
{
	assert_int_equal(redis_records_build(s, prefix, node, 42, r), 0);
}

/* The index of the record with data key key; -1 when there is none, fails
 * when there are two. */
static long find(const struct redis_records *r, const char *key)
{
	long at = -1;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(rk_str(r, r->v[i].data_key), key) != 0)
			continue;
		if (at >= 0)
			fail_msg("two records of %s", key);
		at = (long)i;
	}
	return at;
}

/* The records of make_shop(app) (node "n1", self 42). */
static void build_shop(const char *app, struct redis_records *r)
{
	struct snapshot s;

	make_shop(&s, app);
	build(&s, "gunicorn", "n1", r);
	snapshot_clear(&s);
}

/* Every record: data key, meta key, original_key, typ and value as Python has them. */
static void test_layout_matches_python(void **state)
{
	struct redis_records r;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(WANT); i++) {
		char meta[128];
		const char *m = strstr(WANT[i].data_key, ":metric:");
		long k;

		build_shop(WANT_APP[i], &r);
		k = find(&r, WANT[i].data_key);
		if (k < 0)
			fail_msg("no record %s", WANT[i].data_key);
		snprintf(meta, sizeof(meta), "%.*s:meta:%s", (int)(m - WANT[i].data_key), WANT[i].data_key,
			 m + 8);
		assert_string_equal(rk_str(&r, r.v[k].meta_key), meta);
		assert_string_equal(rk_str(&r, r.v[k].original_key), WANT[i].original_key);
		assert_string_equal(r.v[k].typ, WANT[i].typ);
		assert_string_equal(rk_str(&r, r.v[k].value), WANT[i].value);
		redis_records_free(&r);
	}
	/* every sample of the snapshot, counted by family: requests 1,
	 * duration 3 buckets + sum, failed 2, sizes 2 x (2 + sum), in flight 1,
	 * state 3, memory, CPU seconds, uptime, start time 1 each (no
	 * heartbeat, no CPU percent yet), master duration 4, workers 1, exits
	 * and restarts 7 each (no shutdown), build info, 2 tracked, TLS workers, the drops,
	 * scrape duration */
	build_shop("shop", &r);
	assert_int_equal(r.n, 1 + 4 + 2 + 6 + 1 + 3 + 4 + 4 + 1 + 14 + 1 + 2 + 1 + OBS_DROP_MAX + 1 + 1);
	redis_records_free(&r);
}

/* A master in a pod: its namespace, pod and container labels sort among
 * the others (python3: json.dumps(..., sort_keys=True), hashlib.md5). */
static void test_pod_labels(void **state)
{
	static const char key[] = "gunicorn:histogram:100:metric:1e8b7ec76c47927af41eec6e976563fe";
	static const char orig[] =
	    "[\"gunicorn_request_duration_seconds\", \"gunicorn_request_duration_seconds_bucket\", "
	    "{\"app\": \"shop\", \"container\": \"app\", \"le\": \"0.1\", \"master_pid\": \"100\", "
	    "\"namespace\": \"prod\", \"node\": \"n1\", \"pod\": \"web-7c9\"}, "
	    "\"Request duration of all of this master's workers, exited ones included.\"]";
	struct redis_records r;
	struct snapshot s;
	long k;

	(void)state;
	make_shop(&s, "shop");
	snprintf(s.masters[0].k8s.namespace, sizeof(s.masters[0].k8s.namespace), "prod");
	snprintf(s.masters[0].k8s.pod, sizeof(s.masters[0].k8s.pod), "web-7c9");
	snprintf(s.masters[0].k8s.container, sizeof(s.masters[0].k8s.container), "app");
	s.masters[0].t.dur_buckets[0] = 5;
	s.masters[0].t.requests = 5;
	build(&s, "gunicorn", "n1", &r);
	k = find(&r, key);
	assert_true(k >= 0);
	assert_string_equal(rk_str(&r, r.v[k].original_key), orig);
	assert_string_equal(rk_str(&r, r.v[k].value), "5");
	assert_string_equal(r.v[k].typ, "histogram");
	redis_records_free(&r);
	snapshot_clear(&s);
}

/* The hash is the md5 of the original_key: checked against hashlib. */
static void test_md5(void **state)
{
	char hex[33];

	(void)state;
	assert_int_equal(rk_md5_hex("", 0, hex), 0);
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(rk_md5_hex(WANT[0].original_key, strlen(WANT[0].original_key), hex), 0);
	assert_string_equal(hex, "a24beed61aa2c4b6a17235cbb57d1db2");
}

static const char *json(struct strbuf *sb, const char *s, size_t n)
{
	sb->len = 0;
	rk_json_string(sb, s, n);
	return sb->data;
}

/* json.dumps's ensure_ascii output, byte for byte (values from python3). */
static void test_json_string(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb);
	assert_string_equal(json(&sb, "", 0), "\"\"");
	assert_string_equal(json(&sb, "a/b c~", 6), "\"a/b c~\"");
	assert_string_equal(json(&sb, "\"\\\b\f\n\r\t", 7), "\"\\\"\\\\\\b\\f\\n\\r\\t\"");
	assert_string_equal(json(&sb, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
	assert_string_equal(json(&sb, "\0x", 2), "\"\\u0000x\"");
	/* é, €, U+FFFF, U+10000, U+10FFFF */
	assert_string_equal(json(&sb, "\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 16),
			    "\"\\u00e9\\u20ac\\uffff\\ud800\\udc00\\udbff\\udfff\"");
	/* Not UTF-8 (Python cannot hold it): each bad byte is U+FFFD */
	assert_string_equal(json(&sb, "a\xff\xc3(\xed\xa0\x80", 7),
			    "\"a\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"");
	sb_free(&sb);
}

/* The records of one histogram family, in walk order. */
static size_t family_records(const struct redis_records *r, const char *family, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct rk_key k;

		assert_int_equal(rk_parse_key(rk_str(r, r->v[i].original_key), &k), 0);
		if (!strcmp(k.buf.data + k.family, family)) {
			assert_true(n < max);
			idx[n++] = i;
		}
		sb_free(&k.buf);
	}
	return n;
}

/* A histogram keeps each bucket's own count (readers accumulate them) and
 * no _count; buckets of two series do not mix. */
static void test_histogram_own_counts(void **state)
{
	static const double bounds[] = { 1, 2 };
	static const char *const values[] = { "4", "0", "6", "12.500000000", "3", "0", "0", "0.250000000" };
	struct redis_records r;
	struct snapshot s;
	size_t idx[16], n;

	(void)state;
	make_shop(&s, "shop");
	free(s.workers);
	s.workers = calloc(2, sizeof(*s.workers));
	assert_non_null(s.workers);
	s.nworkers = 2;
	s.bounds.dur = bounds;
	s.bounds.ndur = ARRAY_LEN(bounds);
	for (int i = 0; i < 2; i++) {
		s.workers[i].pid = i + 1;
		s.workers[i].master = 100;
		s.workers[i].host.heartbeat_age = -1;
	}
	s.workers[0].st.dur_buckets[0] = 4;
	s.workers[0].st.dur_buckets[2] = 6;
	s.workers[0].st.requests = 10;
	s.workers[0].st.dur_sum_ns = 12500000000ULL;
	s.workers[1].st.dur_buckets[0] = 3;
	s.workers[1].st.requests = 3;
	s.workers[1].st.dur_sum_ns = 250000000ULL;
	build(&s, "p", "", &r);
	n = family_records(&r, "gunicorn_worker_request_duration_seconds", idx, ARRAY_LEN(idx));
	assert_int_equal(n, ARRAY_LEN(values));
	for (size_t i = 0; i < n; i++) {
		const struct redis_record *rec = &r.v[idx[i]];

		assert_string_equal(rk_str(&r, rec->value), values[i]);
		assert_string_equal(rec->typ, "histogram");
		assert_non_null(
		    strstr(rk_str(&r, rec->data_key), i < 4 ? "p:histogram:1:metric:" : "p:histogram:2:"));
	}
	/* no histogram has a _count record */
	for (size_t i = 0; i < r.n; i++)
		assert_null(strstr(rk_str(&r, r.v[i].original_key), "_count\""));
	redis_records_free(&r);
	snapshot_clear(&s);
}

/* The value of label name in k, NULL when it has none. */
static const char *key_label(const struct rk_key *k, const char *name)
{
	for (size_t i = 0; i < k->nlabels; i++)
		if (!strcmp(k->buf.data + k->name[i], name))
			return k->buf.data + k->value[i];
	return NULL;
}

/* The pid segment of a data key "prefix:type:pid:metric:md5". */
static void key_pid(const char *data_key, char *out, size_t size)
{
	const char *p = strchr(data_key, ':');

	assert_non_null(p);
	p = strchr(p + 1, ':');
	assert_non_null(p);
	snprintf(out, size, "%.*s", (int)strcspn(p + 1, ":"), p + 1);
}

/* pid: worker_pid, else master_pid, else ours; a worker whose master is
 * not in the snapshot is still under its own pid. */
static void test_pid_choice(void **state)
{
	struct redis_records r;
	struct snapshot s;
	size_t nw = 0, nm = 0, nself = 0, norphan = 0;

	(void)state;
	make_shop(&s, "shop");
	free(s.workers);
	s.workers = calloc(2, sizeof(*s.workers));
	assert_non_null(s.workers);
	s.nworkers = 2;
	s.masters[0].pid = 7;
	s.workers[0].pid = 8;
	s.workers[0].master = 7;
	s.workers[1].pid = 9;
	s.workers[1].master = 5; /* not in the snapshot */
	build(&s, "g", "n", &r);
	for (size_t i = 0; i < r.n; i++) {
		const char *wp, *mp;
		char pid[32];
		struct rk_key k;

		assert_int_equal(rk_parse_key(rk_str(&r, r.v[i].original_key), &k), 0);
		key_pid(rk_str(&r, r.v[i].data_key), pid, sizeof(pid));
		wp = key_label(&k, "worker_pid");
		mp = key_label(&k, "master_pid");
		if (wp) {
			assert_string_equal(pid, wp);
			assert_non_null(mp);
			if (!strcmp(wp, "9")) {
				assert_string_equal(mp, "5");
				assert_string_equal(key_label(&k, "app"), "");
				norphan++;
			}
			nw++;
		} else if (mp) {
			assert_string_equal(pid, "7");
			nm++;
		} else {
			assert_string_equal(pid, "42");
			nself++;
		}
		sb_free(&k.buf);
	}
	assert_true(nw > 0 && nm > 0 && nself > 0);
	assert_int_equal(norphan * 2, nw);
	redis_records_free(&r);
	snapshot_clear(&s);
}

/* No node label when node is "" or NULL; otherwise every record has it. */
static void test_node_label(void **state)
{
	static const char bare[] =
	    "[\"gunicorn_observer_tracked_masters\", \"gunicorn_observer_tracked_masters\", "
	    "{}, \"Gunicorn masters being observed.\"]";
	static const char with[] =
	    "[\"gunicorn_observer_tracked_masters\", \"gunicorn_observer_tracked_masters\", "
	    "{\"node\": \"me\"}, \"Gunicorn masters being observed.\"]";
	static const char *const nodes[] = { "", NULL, "me" };
	struct redis_records r;
	struct snapshot s;
	char key[128], md5[33];

	(void)state;
	make_shop(&s, "shop");
	for (size_t n = 0; n < ARRAY_LEN(nodes); n++) {
		const char *want = nodes[n] && *nodes[n] ? with : bare;
		long k;

		build(&s, "gunicorn", nodes[n], &r);
		assert_int_equal(rk_md5_hex(want, strlen(want), md5), 0);
		snprintf(key, sizeof(key), "gunicorn:gauge_all:42:metric:%s", md5);
		k = find(&r, key);
		assert_true(k >= 0);
		assert_string_equal(rk_str(&r, r.v[k].original_key), want);
		for (size_t i = 0; i < r.n; i++) {
			struct rk_key pk;
			const char *node;

			assert_int_equal(rk_parse_key(rk_str(&r, r.v[i].original_key), &pk), 0);
			node = key_label(&pk, "node");
			if (want == with)
				assert_string_equal(node, "me");
			else
				assert_null(node);
			sb_free(&pk.buf);
		}
		redis_records_free(&r);
	}
	snapshot_clear(&s);
}

/* The type of every record from its family's: a counter's family drops
 * "_total" (the sample keeps it), a gauge is gauge_all with typ gauge, a
 * histogram has _bucket and _sum samples only; data and meta keys share
 * prefix, type, pid and md5, and the md5 is that of the original_key. */
static void test_families(void **state)
{
	struct redis_records r;
	struct snapshot s;
	size_t counters = 0, gauges = 0, histograms = 0, cpu = 0;

	(void)state;
	make_shop(&s, "shop");
	build(&s, "gunicorn", "", &r);
	for (size_t i = 0; i < r.n; i++) {
		const struct redis_record *rec = &r.v[i];
		const char *orig = rk_str(&r, rec->original_key), *data = rk_str(&r, rec->data_key);
		const char *fam, *sm, *m;
		char type[32], meta[160], md5[33];
		struct rk_key k;
		size_t fl;

		assert_int_equal(rk_parse_key(orig, &k), 0);
		fam = k.buf.data + k.family;
		sm = k.buf.data + k.sample;
		fl = strlen(fam);
		assert_true(*(k.buf.data + k.help));
		assert_memory_equal(data, "gunicorn:", 9);
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(data + 9, ":"), data + 9);
		if (!strcmp(rec->typ, "counter")) {
			assert_string_equal(type, "counter");
			assert_memory_equal(sm, fam, fl);
			assert_string_equal(sm + fl, "_total");
			counters++;
			cpu += !strcmp(fam, "gunicorn_worker_cpu_seconds");
		} else if (!strcmp(rec->typ, "gauge")) {
			assert_string_equal(type, "gauge_all");
			assert_string_equal(sm, fam);
			gauges++;
		} else {
			assert_string_equal(rec->typ, "histogram");
			assert_string_equal(type, "histogram");
			assert_memory_equal(sm, fam, fl);
			assert_true(!strcmp(sm + fl, "_bucket") || !strcmp(sm + fl, "_sum"));
			assert_true(!strcmp(sm + fl, "_sum") == !key_label(&k, "le"));
			histograms++;
		}
		assert_int_equal(rk_md5_hex(orig, strlen(orig), md5), 0);
		m = strstr(data, ":metric:");
		assert_non_null(m);
		assert_string_equal(m + 8, md5);
		snprintf(meta, sizeof(meta), "%.*s:meta:%s", (int)(m - data), data, md5);
		assert_string_equal(rk_str(&r, rec->meta_key), meta);
		sb_free(&k.buf);
	}
	assert_true(counters > 0 && gauges > 0 && histograms > 0);
	assert_int_equal(cpu, 1);
	redis_records_free(&r);
	snapshot_clear(&s);
}

/* With the mirror on, its own two families are records too, under our pid. */
static void test_redis_families(void **state)
{
	static const char errors_key[] = "gunicorn:counter:42:metric:7334a53676e98856d30ebe6e3d8f24c3";
	static const char errors_orig[] =
	    "[\"gunicorn_observer_redis_errors\", \"gunicorn_observer_redis_errors_total\", "
	    "{\"node\": \"n1\"}, \"Redis mirror passes that were not written.\"]";
	struct redis_records r;
	struct snapshot s;
	size_t up = 0;
	long k;

	(void)state;
	make_shop(&s, "shop");
	s.self.mirror = 1;
	s.self.redis_up = 1;
	s.self.redis_errors = 3;
	build(&s, "gunicorn", "n1", &r);
	k = find(&r, errors_key);
	assert_true(k >= 0);
	assert_string_equal(rk_str(&r, r.v[k].original_key), errors_orig);
	assert_string_equal(rk_str(&r, r.v[k].value), "3");
	assert_string_equal(r.v[k].typ, "counter");
	for (size_t i = 0; i < r.n; i++)
		if (strstr(rk_str(&r, r.v[i].original_key), "\"gunicorn_observer_redis_up\"")) {
			assert_memory_equal(rk_str(&r, r.v[i].data_key), "gunicorn:gauge_all:42:", 22);
			assert_string_equal(rk_str(&r, r.v[i].value), "1");
			up++;
		}
	assert_int_equal(up, 1);
	redis_records_free(&r);
	s.self.mirror = 0;
	build(&s, "gunicorn", "n1", &r);
	assert_int_equal(find(&r, errors_key), -1);
	for (size_t i = 0; i < r.n; i++)
		assert_null(strstr(rk_str(&r, r.v[i].original_key), "gunicorn_observer_redis_"));
	redis_records_free(&r);
	snapshot_clear(&s);
}

/* The reading side gets back what the writing side wrote, unescaped. */
static void test_parse_key(void **state)
{
	struct rk_key k;

	(void)state;
	assert_int_equal(rk_parse_key(WANT[5].original_key, &k), 0);
	assert_string_equal(k.buf.data + k.family, "gunicorn_worker_memory_bytes");
	assert_string_equal(k.buf.data + k.sample, "gunicorn_worker_memory_bytes");
	assert_string_equal(k.buf.data + k.help, "Resident set size.");
	assert_int_equal(k.nlabels, 4);
	assert_string_equal(k.buf.data + k.name[0], "app");
	assert_string_equal(k.buf.data + k.value[0], WEIRD_APP);
	assert_string_equal(k.buf.data + k.name[3], "worker_pid");
	assert_string_equal(k.buf.data + k.value[3], "101");
	sb_free(&k.buf);
	assert_int_equal(rk_parse_key(" [ \"a\" ,\"b\",{ },\"\\/\" ] ", &k), 0);
	assert_int_equal(k.nlabels, 0);
	assert_string_equal(k.buf.data + k.help, "/");
	sb_free(&k.buf);
}

/* A key written by another exporter with n labels l00..: */
static void many_labels(struct strbuf *sb, int n)
{
	sb->len = 0;
	sb_puts(sb, "[\"g\", \"g\", {");
	for (int i = 0; i < n; i++)
		sb_printf(sb, "%s\"l%02d\": \"v\"", i ? ", " : "", i);
	sb_puts(sb, "}, \"G.\"]");
	assert_false(sb->oom);
}

/* The aggregator reads keys of up to RK_MAX_LABELS labels (a sample's 32
 * and a node label), as the text parser of old wrote them; more is refused,
 * not overrun. */
static void test_parse_key_33_labels(void **state)
{
	struct strbuf sb;
	struct rk_key k;

	(void)state;
	sb_init(&sb);
	many_labels(&sb, RK_MAX_LABELS);
	assert_int_equal(rk_parse_key(sb.data, &k), 0);
	assert_int_equal(k.nlabels, 33);
	assert_string_equal(k.buf.data + k.name[32], "l32");
	assert_string_equal(k.buf.data + k.value[32], "v");
	sb_free(&k.buf);
	many_labels(&sb, RK_MAX_LABELS + 1);
	assert_int_equal(rk_parse_key(sb.data, &k), -1);
	sb_free(&sb);
}

static void test_parse_key_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"[\"a\", \"b\", {}]",
		"[\"a\", \"b\", {}, \"h\"] x",
		"[\"a\", \"b\", {\"l\": 1}, \"h\"]",
		"[\"a\", \"b\", {\"l\" \"v\"}, \"h\"]",
		"[\"a\", \"b\", {}, \"\\q\"]",
		"[\"a\", \"b\", {}, \"\\u12\"]",
		"[\"a\", \"b\", {}, \"unterminated]",
		"{\"a\": \"b\"}",
	};
	struct rk_key k;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(rk_parse_key(bad[i], &k), -1);
}

/* The shortest form that reads back (a bucket's own count in Redis). */
static void test_shortest(void **state)
{
	char b[32];
	struct strbuf sb;

	(void)state;
	pt_shortest(5, b);
	assert_string_equal(b, "5");
	pt_shortest(0.1, b);
	assert_string_equal(b, "0.1");
	pt_shortest(1e21, b);
	assert_string_equal(b, "1e+21");
	pt_shortest(0.30000000000000004, b);
	assert_string_equal(b, "0.30000000000000004");
	pt_shortest(-2, b);
	assert_string_equal(b, "-2");
	sb_init(&sb);
	pt_number(&sb, NAN);
	sb_puts(&sb, " ");
	pt_number(&sb, INFINITY);
	sb_puts(&sb, " ");
	pt_number(&sb, -INFINITY);
	sb_puts(&sb, " ");
	pt_number(&sb, 0.25);
	assert_string_equal(sb.data, "NaN +Inf -Inf 0.25");
	sb_free(&sb);
}

static const char *merged(struct merge *m, struct strbuf *out)
{
	out->len = 0;
	merge_render(m, out);
	return out->data ? out->data : "";
}

/* Our records read back: cumulative buckets, _count, escaped labels again. */
static void test_merge_roundtrip(void **state)
{
	static const char want[] =
	    "# HELP gunicorn_master_workers Live workers of the master now.\n"
	    "# TYPE gunicorn_master_workers gauge\n"
	    "gunicorn_master_workers{app=\"shop\",master_pid=\"100\",node=\"n1\"} 2\n"
	    "# HELP gunicorn_observer_tracked_masters Gunicorn masters being observed.\n"
	    "# TYPE gunicorn_observer_tracked_masters gauge\n"
	    "gunicorn_observer_tracked_masters{node=\"n1\"} 1\n"
	    "# HELP gunicorn_worker_memory_bytes Resident set size.\n"
	    "# TYPE gunicorn_worker_memory_bytes gauge\n"
	    "gunicorn_worker_memory_bytes{app=\"we\\\"ird\\\\x\\nme \xc3\xa9\xf0\x9f\x98\x80\t\x7f\x01\","
	    "master_pid=\"100\",node=\"n1\",worker_pid=\"101\"} 123456\n"
	    "# HELP gunicorn_worker_request_duration_seconds " DUR_HELP "\n"
	    "# TYPE gunicorn_worker_request_duration_seconds histogram\n"
	    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",node=\"n1\","
	    "worker_pid=\"101\",le=\"0.1\"} 3\n"
	    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",node=\"n1\","
	    "worker_pid=\"101\",le=\"1\"} 5\n"
	    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",node=\"n1\","
	    "worker_pid=\"101\",le=\"+Inf\"} 7\n"
	    "gunicorn_worker_request_duration_seconds_sum{app=\"shop\",master_pid=\"100\",node=\"n1\","
	    "worker_pid=\"101\"} 2.5\n"
	    "gunicorn_worker_request_duration_seconds_count{app=\"shop\",master_pid=\"100\",node=\"n1\","
	    "worker_pid=\"101\"} 7\n"
	    "# HELP gunicorn_worker_requests_total HTTP requests completed (response sent) by the worker.\n"
	    "# TYPE gunicorn_worker_requests_total counter\n"
	    "gunicorn_worker_requests_total{app=\"shop\",master_pid=\"100\",node=\"n1\",worker_pid=\"101\"} "
	    "7\n";
	struct redis_records r;
	struct merge m = { 0 };
	struct strbuf out;

	(void)state;
	sb_init(&out);
	for (size_t i = 0; i < ARRAY_LEN(WANT); i++) {
		long k;

		build_shop(WANT_APP[i], &r);
		k = find(&r, WANT[i].data_key);
		assert_true(k >= 0);
		merge_add(&m, rk_str(&r, r.v[k].data_key), rk_str(&r, r.v[k].original_key),
			  rk_str(&r, r.v[k].value), "1.5");
		redis_records_free(&r);
	}
	assert_string_equal(merged(&m, &out), want);
	assert_int_equal(m.skipped, 0);
	merge_free(&m);
	/* every record of a snapshot reads back */
	memset(&m, 0, sizeof(m));
	build_shop(WEIRD_APP, &r);
	for (size_t i = 0; i < r.n; i++)
		merge_add(&m, rk_str(&r, r.v[i].data_key), rk_str(&r, r.v[i].original_key),
			  rk_str(&r, r.v[i].value), "1.5");
	(void)merged(&m, &out);
	assert_int_equal(m.skipped, 0);
	assert_non_null(strstr(out.data, "gunicorn_worker_request_duration_seconds_count{app=\"we\\\"ird"));
	merge_free(&m);
	redis_records_free(&r);
	sb_free(&out);
}

/* As the Python exporter writes them: one key per process, counters summed,
 * buckets accumulated across processes, the newest gauge, +Inf added. */
static void test_merge_python_records(void **state)
{
	static const struct {
		const char *key, *orig, *value, *ts;
	} recs[] = {
		{ "p:counter:11:metric:a", "[\"req\", \"req_total\", {\"w\": \"1\"}, \"Req a\\\\b\\nc.\"]",
		  "3.0", "0" },
		{ "p:counter:12:metric:b", "[\"req\", \"req_total\", {\"w\": \"1\"}, \"Req a\\\\b\\nc.\"]",
		  "4.0", "0" },
		{ "p:histogram:11:metric:c", "[\"lat\", \"lat_bucket\", {\"le\": \"0.5\"}, \"L.\"]", "2.0",
		  "0" },
		{ "p:histogram:11:metric:d", "[\"lat\", \"lat_bucket\", {\"le\": \"1.0\"}, \"L.\"]", "1.0",
		  "0" },
		{ "p:histogram:11:metric:e", "[\"lat\", \"lat_bucket\", {\"le\": \"+Inf\"}, \"L.\"]", "0.0",
		  "0" },
		{ "p:histogram:11:metric:f", "[\"lat\", \"lat_sum\", {}, \"L.\"]", "1.25", "0" },
		{ "p:histogram:12:metric:g", "[\"lat\", \"lat_bucket\", {\"le\": \"+Inf\"}, \"L.\"]", "1.0",
		  "0" },
		{ "p:histogram:12:metric:h", "[\"lat\", \"lat_bucket\", {\"le\": \"0.5\"}, \"L.\"]", "1.0",
		  "0" },
		{ "p:histogram:12:metric:i", "[\"lat\", \"lat_sum\", {}, \"L.\"]", "3.5", "0" },
		{ "p:histogram:12:metric:j", "[\"lat\", \"lat_count\", {}, \"L.\"]", "9", "0" },
		{ "p:histogram:12:metric:k", "[\"h2\", \"h2_bucket\", {\"le\": \"1.0\"}, \"H.\"]", "2", "0" },
		{ "p:gauge_all:11:metric:l", "[\"mem\", \"mem\", {\"a\": \"x\"}, \"M.\"]", "5", "10.0" },
		{ "p:gauge_all:12:metric:m", "[\"mem\", \"mem\", {\"a\": \"x\"}, \"M.\"]", "6", "20.0" },
		{ "p:gauge_all:13:metric:n", "[\"mem\", \"mem\", {\"a\": \"x\"}, \"M.\"]", "4", "15.0" },
		{ "p:counter:13:metric:o", "[\"mem\", \"mem\", {\"a\": \"y\"}, \"M.\"]", "1", "0" },
		{ "p:gauge_all:13:metric:p", "not json", "1", "0" },
		{ "p:gauge_all:13:metric:q", "[\"g\", \"g\", {\"bad-name\": \"x\"}, \"G.\"]", "1", "0" },
		{ "p:gauge_all:13:metric:r", "[\"g\", \"g\", {}, \"G.\"]", "abc", "0" },
	};
	static const char want[] =
	    "# HELP h2 H.\n# TYPE h2 histogram\n"
	    "h2_bucket{le=\"1.0\"} 2\nh2_bucket{le=\"+Inf\"} 2\nh2_count 2\n"
	    "# HELP lat L.\n# TYPE lat histogram\n"
	    "lat_bucket{le=\"0.5\"} 3\nlat_bucket{le=\"1.0\"} 4\nlat_bucket{le=\"+Inf\"} 5\n"
	    "lat_sum 4.75\nlat_count 5\n"
	    "# HELP mem M.\n# TYPE mem gauge\nmem{a=\"x\"} 6\n"
	    "# HELP req_total Req a\\\\b\\nc.\n# TYPE req_total counter\nreq_total{w=\"1\"} 7\n";
	struct merge m = { 0 };
	struct strbuf out;

	(void)state;
	sb_init(&out);
	for (size_t i = 0; i < ARRAY_LEN(recs); i++)
		merge_add(&m, recs[i].key, recs[i].orig, recs[i].value, recs[i].ts);
	assert_string_equal(merged(&m, &out), want);
	/* lat_count (derived), mem as a counter (one type per family), three unreadable */
	assert_int_equal(m.skipped, 5);
	merge_free(&m);
	sb_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_matches_python),
		cmocka_unit_test(test_pod_labels),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_histogram_own_counts),
		cmocka_unit_test(test_pid_choice),
		cmocka_unit_test(test_node_label),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_redis_families),
		cmocka_unit_test(test_parse_key),
		cmocka_unit_test(test_parse_key_33_labels),
		cmocka_unit_test(test_parse_key_rejects),
		cmocka_unit_test(test_shortest),
		cmocka_unit_test(test_merge_roundtrip),
		cmocka_unit_test(test_merge_python_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
