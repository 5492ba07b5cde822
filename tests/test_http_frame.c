/* test_http_frame.c - the response framing parser of include/http_frame.h,
 * the code the BPF programs run: where a response ends, fed whole, byte by
 * byte, and cut at every position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_frame.h"

/* What feeding a response gave: where each response ended (offsets just
 * past their last byte), the codes of the final ones, interim ends. */
struct result {
	size_t ends[8];
	unsigned codes[8];
	size_t nends;
	size_t interims;
	int st;
};

/* Feeds len bytes of b (NULL: bytes not readable, as sendfile) to f, the way
 * the BPF driver does: skipping states take bytes unread, the others read
 * OBS_FRAME_BLOCK at most at a time. A finished response starts the next
 * one at the following byte. */
static void feed(struct obs_frame *f, const unsigned char *b, size_t base, size_t len, struct result *r)
{
	size_t off = 0;

	while (off < len) {
		int ev;

		if (obs_frame_skipping(f)) {
			__u64 used;

			if (f->st == OBS_FR_DONE) {
				obs_frame_init(f, 0);
				continue;
			}
			ev = obs_frame_skip(f, len - off, &used);
			off += used;
		} else if (!b) {
			f->st = OBS_FR_UNTIL_CLOSE;
			continue;
		} else {
			__u32 used, k = len - off > OBS_FRAME_BLOCK ? OBS_FRAME_BLOCK : (__u32)(len - off);

			ev = obs_frame_scan(f, b + off, k, &used);
			off += used;
		}
		if (ev == OBS_FRAME_INTERIM)
			r->interims++;
		if (ev == OBS_FRAME_DONE && r->nends < 8) {
			r->codes[r->nends] = obs_frame_code(f);
			r->ends[r->nends++] = base + off;
		}
	}
	r->st = f->st;
}

/* Feeds s in pieces of at most step bytes. */
static struct result run(const char *s, int head, size_t step)
{
	struct obs_frame f;
	struct result r = { 0 };
	size_t n = strlen(s);

	obs_frame_init(&f, head);
	for (size_t off = 0; off < n; off += step)
		feed(&f, (const unsigned char *)s + off, off, n - off < step ? n - off : step, &r);
	return r;
}

/* The same result whatever the cuts: whole, byte by byte, and every split in two. */
static struct result check_all_cuts(const char *s, int head)
{
	struct result whole = run(s, head, strlen(s) ? strlen(s) : 1), r;
	size_t n = strlen(s);

	r = run(s, head, 1);
	assert_int_equal(r.nends, whole.nends);
	assert_memory_equal(r.ends, whole.ends, sizeof(r.ends));
	assert_int_equal(r.st, whole.st);
	for (size_t cut = 1; cut < n; cut++) {
		struct obs_frame f;
		struct result a = { 0 };

		obs_frame_init(&f, head);
		feed(&f, (const unsigned char *)s, 0, cut, &a);
		feed(&f, (const unsigned char *)s + cut, cut, n - cut, &a);
		assert_int_equal(a.nends, whole.nends);
		assert_memory_equal(a.ends, whole.ends, sizeof(a.ends));
		assert_memory_equal(a.codes, whole.codes, sizeof(a.codes));
		assert_int_equal(a.interims, whole.interims);
		assert_int_equal(a.st, whole.st);
	}
	return whole;
}

static void test_content_length(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nContent-Type: text/plain\r\n"
			"Content-Length: 6\r\n\r\nhello\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
	assert_int_equal(r.codes[0], 200);
	assert_int_equal(r.st, OBS_FR_DONE);
}

static void test_case_and_spaces(void **state)
{
	const char *s = "HTTP/1.0 404 Not Found\r\ncontent-LENGTH:   3 \r\nX-A: b\r\n\r\nabc";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
	assert_int_equal(r.codes[0], 404);
}

static void test_lf_only(void **state)
{
	const char *s = "HTTP/1.1 200 OK\nContent-Length: 2\n\nok";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
}

static void test_chunked(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5\r\nhello\r\n1a;name=v\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
}

static void test_chunked_trailers(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n"
			"3\r\nabc\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
}

static void test_chunked_not_last(void **state)
{
	/* chunked must be the final coding; otherwise the body ends at close */
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
}

static void test_chunked_beats_length(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
			"2\r\nab\r\n0\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(s));
}

static void test_no_body(void **state)
{
	const char *r204 = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
	const char *r304 = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n";
	const char *r101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(r204, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(r204));
	assert_int_equal(r.codes[0], 204);
	r = check_all_cuts(r304, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(r304));
	r = check_all_cuts(head, 1);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(head));
	r = check_all_cuts(head, 0); /* not HEAD: the body is still to come */
	assert_int_equal(r.nends, 0);
	assert_int_equal(r.st, OBS_FR_BODY);
	r = check_all_cuts(r101, 0);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.codes[0], 101);
}

static void test_interim(void **state)
{
	const char *s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx";
	struct result r;
	struct obs_frame f;
	__u32 used;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.interims, 1);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.codes[0], 201);
	assert_int_equal(r.ends[0], strlen(s));

	obs_frame_init(&f, 0);
	obs_frame_scan(&f, (const __u8 *)"HTTP/1.1 100", 12, &used);
	assert_false(obs_frame_final_started(&f)); /* still a status line */
	obs_frame_scan(&f, (const __u8 *)" Continue\r\n", 11, &used);
	assert_false(obs_frame_final_started(&f)); /* interim: the request is unanswered */
	obs_frame_init(&f, 0);
	obs_frame_scan(&f, (const __u8 *)"HTTP/1.1 200 OK\r\n", 17, &used);
	assert_true(obs_frame_final_started(&f));
}

static void test_until_close(void **state)
{
	const char *s = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until the end";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
}

static void test_not_http(void **state)
{
	struct result r;
	struct obs_frame f;
	__u32 used;

	(void)state;
	r = check_all_cuts("HTTP/9.9 200 OK\r\n\r\n", 0);
	assert_int_equal(r.nends, 0);
	assert_int_equal(r.st, OBS_FR_NOT_HTTP);
	r = check_all_cuts("\x16\x03\x01garbage", 0);
	assert_int_equal(r.st, OBS_FR_NOT_HTTP);
	r = check_all_cuts("HTTP/1.1 099 x\r\n\r\n", 0);
	assert_int_equal(r.st, OBS_FR_NOT_HTTP);
	obs_frame_init(&f, 0);
	obs_frame_scan(&f, (const __u8 *)"HTTP/1.1 2x", 11, &used);
	assert_int_equal(obs_frame_code(&f), 0); /* no partial code survives */
}

static void test_pipelined(void **state)
{
	const char *s =
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
	struct result r;

	(void)state;
	r = check_all_cuts(s, 0);
	assert_int_equal(r.nends, 3);
	assert_int_equal(r.codes[0], 200);
	assert_int_equal(r.codes[1], 404);
	assert_int_equal(r.codes[2], 200);
	assert_int_equal(r.ends[2], strlen(s));
}

static void test_big_bodies_skipped(void **state)
{
	struct obs_frame f;
	struct result r = { 0 };
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";

	(void)state;
	obs_frame_init(&f, 0);
	feed(&f, (const unsigned char *)h, 0, strlen(h), &r);
	feed(&f, NULL, strlen(h), 999999, &r); /* sendfile: bytes only */
	assert_int_equal(r.nends, 0);
	feed(&f, NULL, strlen(h) + 999999, 1, &r);
	assert_int_equal(r.nends, 1);
	assert_int_equal(r.ends[0], strlen(h) + 1000000);
}

static void test_absurd_values(void **state)
{
	struct result r;

	(void)state;
	r = check_all_cuts("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nx", 0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
	r = check_all_cuts("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
	r = check_all_cuts("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", 0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
	/* names that only start like the ones we want */
	r = check_all_cuts("HTTP/1.1 200 OK\r\nContent-Lengthy: 5\r\nContent: 5\r\nTransfer: chunked\r\n\r\n",
			   0);
	assert_int_equal(r.st, OBS_FR_UNTIL_CLOSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_case_and_spaces),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_trailers),
		cmocka_unit_test(test_chunked_not_last),
		cmocka_unit_test(test_chunked_beats_length),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_interim),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_big_bodies_skipped),
		cmocka_unit_test(test_absurd_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
