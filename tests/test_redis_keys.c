/* test_redis_keys.c - unit tests for userspace/redis_keys.c, our text
 * exposition as the Redis records of the Python gunicorn-prometheus-exporter.
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_redis_keys
 *
 * The expected keys, original_keys and md5s were computed with
 * /usr/bin/python3 the way the exporter does it (integration/redis_layout.py:
 * prometheus_client's parser, json.dumps(..., sort_keys=True), hashlib.md5),
 * not by this code, so a byte of difference in the JSON shows up here.
 * merge.c, the reading side of `aggregate`, is tested on our own records
 * (a round trip back to the exposition) and on records shaped as the Python
 * exporter writes them (one key per process, buckets as their own counts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "redis/merge.h"
#include "redis/redis_keys.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A label value with every kind of escape: exposition escapes (\" \\ \n),
 * two-byte and four-byte UTF-8 (é, U+1F600), a tab, DEL and a control byte. */
static const char EXPO[] =
    "# HELP gunicorn_worker_requests_total HTTP requests completed (response sent) by the worker.\n"
    "# TYPE gunicorn_worker_requests_total counter\n"
    "gunicorn_worker_requests_total{app=\"shop\",master_pid=\"100\",worker_pid=\"101\"} 7\n"
    "# HELP gunicorn_worker_request_duration_seconds Time from the first request byte received to the last "
    "response byte sent.\n"
    "# TYPE gunicorn_worker_request_duration_seconds histogram\n"
    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",worker_pid=\"101\",le="
    "\"0.1\"} "
    "3\n"
    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",worker_pid=\"101\",le="
    "\"1\"} 5\n"
    "gunicorn_worker_request_duration_seconds_bucket{app=\"shop\",master_pid=\"100\",worker_pid=\"101\",le="
    "\"+Inf\"} "
    "7\n"
    "gunicorn_worker_request_duration_seconds_sum{app=\"shop\",master_pid=\"100\",worker_pid=\"101\"} "
    "2.500000000\n"
    "gunicorn_worker_request_duration_seconds_count{app=\"shop\",master_pid=\"100\",worker_pid=\"101\"} 7\n"
    "# HELP gunicorn_worker_memory_bytes Resident set size.\n"
    "# TYPE gunicorn_worker_memory_bytes gauge\n"
    "gunicorn_worker_memory_bytes{app=\"we\\\"ird\\\\x\\nme "
    "\xc3\xa9\xf0\x9f\x98\x80\t\x7f\x01\",master_pid=\"100\","
    "worker_pid=\"101\"} 123456.000000\n"
    "# HELP gunicorn_master_workers Live workers of the master now.\n"
    "# TYPE gunicorn_master_workers gauge\n"
    "gunicorn_master_workers{app=\"shop\",master_pid=\"100\"} 2\n"
    "# HELP gunicorn_observer_tracked_masters Gunicorn masters being observed.\n"
    "# TYPE gunicorn_observer_tracked_masters gauge\n"
    "gunicorn_observer_tracked_masters 1\n";

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

/* In exposition order; self pid 42, node "n1", prefix "gunicorn". */
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

static void build(const char *text, const char *prefix, const char *node, struct redis_records *r)
{
	assert_int_equal(redis_keys_build(text, strlen(text), prefix, node, 42, r), 0);
}

/* Every record: data key, meta key, original_key, typ and value as Python has them. */
static void test_layout_matches_python(void **state)
{
	struct redis_records r;

	(void)state;
	build(EXPO, "gunicorn", "n1", &r);
	assert_int_equal(r.skipped, 0);
	assert_int_equal(r.n, ARRAY_LEN(WANT));
	for (size_t i = 0; i < r.n; i++) {
		char meta[128];
		const char *m = strstr(WANT[i].data_key, ":metric:");

		snprintf(meta, sizeof(meta), "%.*s:meta:%s", (int)(m - WANT[i].data_key), WANT[i].data_key,
			 m + 8);
		assert_string_equal(rk_str(&r, r.v[i].data_key), WANT[i].data_key);
		assert_string_equal(rk_str(&r, r.v[i].meta_key), meta);
		assert_string_equal(rk_str(&r, r.v[i].original_key), WANT[i].original_key);
		assert_string_equal(r.v[i].typ, WANT[i].typ);
		assert_string_equal(rk_str(&r, r.v[i].value), WANT[i].value);
	}
	redis_records_free(&r);
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

/* A histogram keeps each bucket's own count (readers accumulate them) and
 * no _count; buckets of two series do not mix. */
static void test_histogram_own_counts(void **state)
{
	static const char text[] = "# HELP h H.\n# TYPE h histogram\n"
				   "h_bucket{worker_pid=\"1\",le=\"1\"} 4\n"
				   "h_bucket{worker_pid=\"1\",le=\"2\"} 4\n"
				   "h_bucket{worker_pid=\"1\",le=\"+Inf\"} 10\n"
				   "h_sum{worker_pid=\"1\"} 12.5\n"
				   "h_count{worker_pid=\"1\"} 10\n"
				   "h_bucket{worker_pid=\"2\",le=\"1\"} 3\n"
				   "h_bucket{worker_pid=\"2\",le=\"+Inf\"} 3\n"
				   "h_sum{worker_pid=\"2\"} 0.25\n"
				   "h_count{worker_pid=\"2\"} 3\n";
	static const char *const values[] = { "4", "0", "6", "12.5", "3", "0", "0.25" };
	struct redis_records r;

	(void)state;
	build(text, "p", "", &r);
	assert_int_equal(r.n, ARRAY_LEN(values));
	for (size_t i = 0; i < r.n; i++) {
		assert_string_equal(rk_str(&r, r.v[i].value), values[i]);
		assert_string_equal(r.v[i].typ, "histogram");
		assert_null(strstr(rk_str(&r, r.v[i].original_key), "_count"));
		assert_non_null(
		    strstr(rk_str(&r, r.v[i].data_key), i < 4 ? "p:histogram:1:metric:" : "p:histogram:2:"));
	}
	redis_records_free(&r);
}

/* pid: worker_pid, else master_pid, else ours; a pid label that is not a
 * number never goes into a key (readers split keys on ':'). */
static void test_pid_choice(void **state)
{
	static const char text[] = "# HELP g G.\n# TYPE g gauge\n"
				   "g{master_pid=\"7\",worker_pid=\"8\"} 1\n"
				   "g{master_pid=\"7\"} 1\n"
				   "g{master_pid=\"7\",worker_pid=\"a:b\"} 1\n"
				   "g{worker_pid=\"\"} 1\n"
				   "g 1\n";
	static const char *const pids[] = { "g:gauge_all:8:", "g:gauge_all:7:", "g:gauge_all:7:",
					    "g:gauge_all:42:", "g:gauge_all:42:" };
	struct redis_records r;

	(void)state;
	build(text, "g", "n", &r);
	assert_int_equal(r.n, ARRAY_LEN(pids));
	for (size_t i = 0; i < r.n; i++)
		assert_memory_equal(rk_str(&r, r.v[i].data_key), pids[i], strlen(pids[i]));
	redis_records_free(&r);
}

/* No node label when node is "", and a series' own node label wins. */
static void test_node_label(void **state)
{
	static const char text[] = "# HELP g G.\n# TYPE g gauge\ng{a=\"1\"} 1\ng{node=\"other\"} 2\n";
	struct redis_records r;

	(void)state;
	build(text, "gunicorn", "", &r);
	assert_string_equal(rk_str(&r, r.v[0].original_key), "[\"g\", \"g\", {\"a\": \"1\"}, \"G.\"]");
	redis_records_free(&r);
	build(text, "gunicorn", "me", &r);
	assert_string_equal(rk_str(&r, r.v[0].original_key),
			    "[\"g\", \"g\", {\"a\": \"1\", \"node\": \"me\"}, \"G.\"]");
	assert_string_equal(rk_str(&r, r.v[1].original_key), "[\"g\", \"g\", {\"node\": \"other\"}, \"G.\"]");
	redis_records_free(&r);
}

/* HELP escapes are undone; a counter without _total keeps its name; a
 * sample of no announced family is an untyped gauge without help; a line
 * that is not a sample is counted, not written. */
static void test_families(void **state)
{
	static const char text[] =
	    "# HELP c_total back\\\\slash\\nnewline\n# TYPE c_total counter\nc_total 3\n"
	    "# HELP d D.\n# TYPE d counter\nd 4\n"
	    "# a comment\nstray{x=\"1\"} 5 1700000000000\n"
	    "broken{x=\"1\" 6\n";
	struct redis_records r;

	(void)state;
	build(text, "gunicorn", "", &r);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.skipped, 1);
	assert_string_equal(rk_str(&r, r.v[0].original_key),
			    "[\"c\", \"c_total\", {}, \"back\\\\slash\\nnewline\"]");
	assert_string_equal(rk_str(&r, r.v[1].original_key), "[\"d\", \"d\", {}, \"D.\"]");
	assert_string_equal(r.v[1].typ, "counter");
	assert_string_equal(rk_str(&r, r.v[2].original_key), "[\"stray\", \"stray\", {\"x\": \"1\"}, \"\"]");
	assert_string_equal(r.v[2].typ, "gauge");
	assert_string_equal(rk_str(&r, r.v[2].value), "5");
	assert_memory_equal(rk_str(&r, r.v[2].data_key), "gunicorn:gauge_all:42:metric:", 29);
	redis_records_free(&r);
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
	assert_string_equal(k.buf.data + k.value[0], "we\"ird\\x\nme \xc3\xa9\xf0\x9f\x98\x80\t\x7f\x01");
	assert_string_equal(k.buf.data + k.name[3], "worker_pid");
	assert_string_equal(k.buf.data + k.value[3], "101");
	sb_free(&k.buf);
	assert_int_equal(rk_parse_key(" [ \"a\" ,\"b\",{ },\"\\/\" ] ", &k), 0);
	assert_int_equal(k.nlabels, 0);
	assert_string_equal(k.buf.data + k.help, "/");
	sb_free(&k.buf);
}

/* Fuzz input (fuzz_redis_keys): a sample with 32 labels, the most a sample
 * may have, gets a node label too; the aggregator must read that key. */
static void test_parse_key_33_labels(void **state)
{
	struct redis_records r;
	struct rk_key k;
	char text[1024];
	size_t off = (size_t)snprintf(text, sizeof(text), "# HELP g G.\n# TYPE g gauge\ng{");

	(void)state;
	for (int i = 0; i < 32; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%sl%02d=\"v\"", i ? "," : "", i);
	snprintf(text + off, sizeof(text) - off, "} 1\n");
	build(text, "gunicorn", "me", &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(rk_parse_key(rk_str(&r, r.v[0].original_key), &k), 0);
	assert_int_equal(k.nlabels, 33);
	assert_string_equal(k.buf.data + k.name[32], "node");
	assert_string_equal(k.buf.data + k.value[32], "me");
	sb_free(&k.buf);
	redis_records_free(&r);
}

/* Fuzz input (fuzz_redis_keys): text that ends with a bucket's value, and
 * whose buffer goes on past len; the value is the bytes within len only. */
static void test_bucket_value_at_end(void **state)
{
	static const char text[] = "# TYPE h histogram\nh_bucket{le=\"1\"} 57";
	struct redis_records r;

	(void)state;
	assert_int_equal(redis_keys_build(text, sizeof(text) - 2, "gunicorn", "", 42, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(rk_str(&r, r.v[0].value), "5");
	redis_records_free(&r);
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

static void test_fmt_double(void **state)
{
	char b[32];

	(void)state;
	rk_fmt_double(5, b);
	assert_string_equal(b, "5");
	rk_fmt_double(0.1, b);
	assert_string_equal(b, "0.1");
	rk_fmt_double(1e21, b);
	assert_string_equal(b, "1e+21");
	rk_fmt_double(0.30000000000000004, b);
	assert_string_equal(b, "0.30000000000000004");
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
	build(EXPO, "gunicorn", "n1", &r);
	for (size_t i = 0; i < r.n; i++)
		merge_add(&m, rk_str(&r, r.v[i].data_key), rk_str(&r, r.v[i].original_key),
			  rk_str(&r, r.v[i].value), "1.5");
	assert_string_equal(merged(&m, &out), want);
	assert_int_equal(m.skipped, 0);
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
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_histogram_own_counts),
		cmocka_unit_test(test_pid_choice),
		cmocka_unit_test(test_node_label),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_parse_key),
		cmocka_unit_test(test_parse_key_33_labels),
		cmocka_unit_test(test_bucket_value_at_end),
		cmocka_unit_test(test_parse_key_rejects),
		cmocka_unit_test(test_fmt_double),
		cmocka_unit_test(test_merge_roundtrip),
		cmocka_unit_test(test_merge_python_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
