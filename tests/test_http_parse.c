/* test_http_parse.c - unit tests for include/http_parse.h.
 *
 * Build from the repository root:
 *   cc -Wall -Wextra -Werror -std=gnu11 -Iinclude tests/test_http_parse.c \
 *      -lcmocka -o build/tests/test_http_parse
 *
 * Every input is copied into a heap buffer of exactly the length the parser
 * is told about, so a build with -fsanitize=address also catches a read past
 * n (or past OBS_PEEK_LEN, which is all the BPF side ever copies).
 */
#include <stdarg.h>
#include <stddef.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_parse.h"

/* ---------------------------------------------------------------- helpers */

/* Copy len bytes into a fresh allocation of exactly len bytes (at least 1,
 * so malloc(0) never returns NULL) and parse the first n of them. */
static int parse_req_bytes(const void *data, size_t len, int n)
{
	__u8 *b = malloc(len ? len : 1);
	int r;

	assert_non_null(b);
	if (len)
		memcpy(b, data, len);
	r = obs_parse_request_start(b, n);
	free(b);
	return r;
}

/* Parse a whole C string as one read. */
static int req(const char *s)
{
	size_t len = strlen(s);

	return parse_req_bytes(s, len, (int)len);
}

static int status_bytes(const void *data, size_t len, int n)
{
	__u8 *b = malloc(len ? len : 1);
	int r;

	assert_non_null(b);
	if (len)
		memcpy(b, data, len);
	r = obs_parse_status_line(b, n);
	free(b);
	return r;
}

static int status(const char *s)
{
	size_t len = strlen(s);

	return status_bytes(s, len, (int)len);
}

/* What the BPF side does: copy at most OBS_PEEK_LEN bytes of the read into a
 * OBS_PEEK_LEN buffer and pass the copied length. */
static int req_as_bpf(const char *s)
{
	size_t len = strlen(s);

	if (len > OBS_PEEK_LEN)
		len = OBS_PEEK_LEN;
	return parse_req_bytes(s, len, (int)len);
}

static int status_as_bpf(const char *s)
{
	size_t len = strlen(s);

	if (len > OBS_PEEK_LEN)
		len = OBS_PEEK_LEN;
	return status_bytes(s, len, (int)len);
}

/* ------------------------------------------------------- request: methods */

static void test_every_known_method(void **state)
{
	static const struct {
		const char *line;
		int method;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n", OBS_METHOD_GET },
		{ "HEAD / HTTP/1.1\r\n", OBS_METHOD_HEAD },
		{ "POST /submit HTTP/1.1\r\n", OBS_METHOD_POST },
		{ "PUT /x HTTP/1.1\r\n", OBS_METHOD_PUT },
		{ "DELETE /x HTTP/1.1\r\n", OBS_METHOD_DELETE },
		{ "PATCH /x HTTP/1.1\r\n", OBS_METHOD_PATCH },
		{ "OPTIONS * HTTP/1.1\r\n", OBS_METHOD_OPTIONS },
		{ "CONNECT 10.0.0.1:443 HTTP/1.1\r\n", OBS_METHOD_CONNECT },
		{ "TRACE / HTTP/1.1\r\n", OBS_METHOD_TRACE },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* the whole read, n clamped by the parser */
		assert_int_equal(req(cases[i].line), cases[i].method);
		/* what the BPF side copies: at most OBS_PEEK_LEN bytes */
		assert_int_equal(req_as_bpf(cases[i].line), cases[i].method);
	}
	/* the enum values are distinct and inside (NONE, OTHER) */
	assert_int_equal(OBS_METHOD_NONE, 0);
	assert_int_equal(OBS_METHOD_OTHER + 1, OBS_METHOD_COUNT);
	assert_int_equal(OBS_METHOD_TRACE + 1, OBS_METHOD_OTHER);
}

/* The shortest read that is recognised: method, space, one target char. */
static void test_minimal_request_start(void **state)
{
	(void)state;
	assert_int_equal(req("GET /"), OBS_METHOD_GET);
	assert_int_equal(req("PUT /"), OBS_METHOD_PUT);
	assert_int_equal(req("HEAD /"), OBS_METHOD_HEAD);
	assert_int_equal(req("OPTIONS *"), OBS_METHOD_OPTIONS);
}

static void test_other_uppercase_tokens(void **state)
{
	(void)state;
	/* WebDAV and made-up methods */
	assert_int_equal(req("PROPFIND / HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("MKCOL /d HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("COPY /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("MOVE /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("LOCK /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("UNLOCK /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("PURGE /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("QUERY /a HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("FOO /"), OBS_METHOD_OTHER);
	/* near misses of known methods are not the known method */
	assert_int_equal(req("GETS /"), OBS_METHOD_OTHER);
	assert_int_equal(req("GEX /"), OBS_METHOD_OTHER);
	assert_int_equal(req("POS /"), OBS_METHOD_OTHER);
	assert_int_equal(req("HEADS /"), OBS_METHOD_OTHER);
	assert_int_equal(req("DELETED /"), OBS_METHOD_OTHER);
	assert_int_equal(req("OPTION /"), OBS_METHOD_OTHER);
	assert_int_equal(req("CONNECTS /"), OBS_METHOD_OTHER);
	assert_int_equal(req("TRACK /"), OBS_METHOD_OTHER);
	assert_int_equal(req("PATCHY /"), OBS_METHOD_OTHER);
	/* longest accepted token: 12 chars + space + target = 14 bytes */
	assert_int_equal(req("ABCDEFGHIJKL /"), OBS_METHOD_OTHER);
	assert_int_equal(req("ABCDEFGHIJKL / HTTP/1.1\r\n"), OBS_METHOD_OTHER);
}

/* Documented limits on the token length: at least 3, at most 12. */
static void test_token_length_limits(void **state)
{
	(void)state;
	assert_int_equal(req("A /"), OBS_METHOD_NONE);
	assert_int_equal(req("AB /"), OBS_METHOD_NONE);
	assert_int_equal(req("ABC /"), OBS_METHOD_OTHER);
	assert_int_equal(req("ABCDEFGHIJKLM /"), OBS_METHOD_NONE);      /* 13 */
	assert_int_equal(req("ABCDEFGHIJKLMN /"), OBS_METHOD_NONE);     /* 14 */
	assert_int_equal(req("ABCDEFGHIJKLMNOP /"), OBS_METHOD_NONE);   /* no space in peek */
	assert_int_equal(req("ABCDEFGHIJKLMNOPQRST"), OBS_METHOD_NONE); /* no space at all */
	/* leading space: empty method */
	assert_int_equal(req(" GET /"), OBS_METHOD_NONE);
	assert_int_equal(req(" /"), OBS_METHOD_NONE);
}

/* --------------------------------------------------- request: not HTTP/1 */

static void test_lowercase_and_mixed_case(void **state)
{
	(void)state;
	assert_int_equal(req("get / HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("post /x HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("Get / HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("GEt / HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("gET /"), OBS_METHOD_NONE);
	/* token chars that are not upper case letters */
	assert_int_equal(req("M-SEARCH * HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("GET1 /"), OBS_METHOD_NONE);
	assert_int_equal(req("G_T /"), OBS_METHOD_NONE);
	/* a separator other than one space */
	assert_int_equal(req("GET\t/ HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("GET  / HTTP/1.1\r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("GET\r\n"), OBS_METHOD_NONE);
}

static void test_binary_garbage(void **state)
{
	static const __u8 zeros[OBS_PEEK_LEN] = { 0 };
	static const __u8 ones[OBS_PEEK_LEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	/* upper-case bytes with the high bit set (0xC1 = 'A' | 0x80) */
	static const __u8 high[] = { 0xc7, 0xc5, 0xd4, ' ', '/' };
	/* a NUL inside what would be a method */
	static const __u8 nul[] = { 'G', 0, 'T', ' ', '/' };
	static const __u8 nul_target[] = { 'G', 'E', 'T', ' ', 0 };
	/* a JSON-RPC / redis-ish line */
	static const char *text[] = {
		"{\"jsonrpc\":\"2.0\"}",
		"*1\r\n$4\r\nPING\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n",
		"\r\n\r\nGET / HTTP/1.1",
	};
	(void)state;

	assert_int_equal(parse_req_bytes(zeros, sizeof(zeros), sizeof(zeros)), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(ones, sizeof(ones), sizeof(ones)), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(high, sizeof(high), sizeof(high)), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(nul, sizeof(nul), sizeof(nul)), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(nul_target, sizeof(nul_target), sizeof(nul_target)),
			 OBS_METHOD_NONE);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		assert_int_equal(req(text[i]), OBS_METHOD_NONE);
}

static void test_tls_client_hello(void **state)
{
	/* record header (handshake, TLS 1.0 record version, length) followed by
	 * the start of a ClientHello handshake message */
	static const __u8 hello[] = {
		0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03,
		0x03, 0x5a, 0x2b, 0x11, 0x9e, 0x40, 0x77, 0x20, 0x2f, 0x2a,
	};
	static const __u8 hello12[] = { 0x16, 0x03, 0x03, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4 };
	(void)state;

	assert_int_equal(parse_req_bytes(hello, sizeof(hello), sizeof(hello)), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(hello, OBS_PEEK_LEN, OBS_PEEK_LEN), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(hello12, sizeof(hello12), sizeof(hello12)), OBS_METHOD_NONE);
	for (int n = 0; n <= OBS_PEEK_LEN; n++)
		assert_int_equal(parse_req_bytes(hello, sizeof(hello), n), OBS_METHOD_NONE);
}

static void test_http2_preface(void **state)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	(void)state;

	assert_int_equal(req(preface), OBS_METHOD_NONE);
	assert_int_equal(req_as_bpf(preface), OBS_METHOD_NONE);
	assert_int_equal(req("PRI * HTTP/2.0"), OBS_METHOD_NONE);
	assert_int_equal(req("PRI *"), OBS_METHOD_NONE);
	/* PRI with any target is reserved, never HTTP/1 */
	assert_int_equal(req("PRI / HTTP/1.1\r\n"), OBS_METHOD_NONE);
	/* but tokens that merely start with PRI are other methods */
	assert_int_equal(req("PRIX / HTTP/1.1\r\n"), OBS_METHOD_OTHER);
	assert_int_equal(req("PRINT / HTTP/1.1\r\n"), OBS_METHOD_OTHER);
}

/* ---------------------------------------------- request: lengths and n */

static void test_empty_and_short_reads(void **state)
{
	static const char line[] = "GET / HTTP/1.1\r\n";
	(void)state;

	assert_int_equal(parse_req_bytes("", 0, 0), OBS_METHOD_NONE);
	assert_int_equal(req(""), OBS_METHOD_NONE);
	/* every prefix of a valid request line shorter than "GET /" */
	for (int n = 0; n < 5; n++)
		assert_int_equal(parse_req_bytes(line, (size_t)n, n), OBS_METHOD_NONE);
	/* and every prefix from "GET /" on */
	for (int n = 5; n <= (int)strlen(line); n++)
		assert_int_equal(parse_req_bytes(line, (size_t)n, n), OBS_METHOD_GET);
	/* the same for the longest known method */
	for (int n = 0; n < 9; n++)
		assert_int_equal(parse_req_bytes("OPTIONS * HTTP/1.1", (size_t)n, n), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes("OPTIONS * HTTP/1.1", 9, 9), OBS_METHOD_OPTIONS);
	/* n smaller than the buffer: only the first n bytes count */
	assert_int_equal(parse_req_bytes(line, sizeof(line) - 1, 3), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(line, sizeof(line) - 1, 4), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes(line, sizeof(line) - 1, 5), OBS_METHOD_GET);
}

static void test_negative_n(void **state)
{
	(void)state;
	assert_int_equal(parse_req_bytes("GET / HTTP/1.1", 14, -1), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes("GET / HTTP/1.1", 14, -100), OBS_METHOD_NONE);
	assert_int_equal(parse_req_bytes("GET / HTTP/1.1", 14, INT32_MIN), OBS_METHOD_NONE);
}

static void test_method_without_target(void **state)
{
	(void)state;
	/* method and space, read ends */
	assert_int_equal(req("GET "), OBS_METHOD_NONE);
	assert_int_equal(req("POST "), OBS_METHOD_NONE);
	assert_int_equal(req("OPTIONS "), OBS_METHOD_NONE);
	/* method and space, then not a target character */
	assert_int_equal(req("GET \r\n"), OBS_METHOD_NONE);
	assert_int_equal(req("GET \n"), OBS_METHOD_NONE);
	assert_int_equal(req("GET  /"), OBS_METHOD_NONE);
	assert_int_equal(req("GET ?q=1"), OBS_METHOD_NONE);
	assert_int_equal(req("GET #x"), OBS_METHOD_NONE);
	assert_int_equal(req("GET ./x"), OBS_METHOD_NONE);
	assert_int_equal(req("GET \x80/"), OBS_METHOD_NONE);
	/* a method alone with no space */
	assert_int_equal(req("GET"), OBS_METHOD_NONE);
	assert_int_equal(req("OPTIONS"), OBS_METHOD_NONE);
	/* 12-char token filling 13 bytes, no target */
	assert_int_equal(req("ABCDEFGHIJKL "), OBS_METHOD_NONE);
}

static void test_n_clamped_to_peek_len(void **state)
{
	static const char long_get[] = "GET /some/rather/long/path?with=query HTTP/1.1\r\n"
				       "Host: example.com\r\n\r\n";
	__u8 *b;
	(void)state;

	/* n far beyond OBS_PEEK_LEN, buffer as long as n */
	assert_int_equal(req(long_get), OBS_METHOD_GET);
	assert_int_equal(req("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), OBS_METHOD_OPTIONS);
	assert_int_equal(req("DELETE /items/42 HTTP/1.1\r\n"), OBS_METHOD_DELETE);

	/* buffer of exactly OBS_PEEK_LEN bytes while n claims far more: the
	 * parser must not look past OBS_PEEK_LEN (run under ASan to see it) */
	b = malloc(OBS_PEEK_LEN);
	assert_non_null(b);
	memcpy(b, "PATCH /a/b/c/d/e", OBS_PEEK_LEN);
	assert_int_equal(obs_parse_request_start(b, OBS_PEEK_LEN + 1), OBS_METHOD_PATCH);
	assert_int_equal(obs_parse_request_start(b, 4096), OBS_METHOD_PATCH);
	assert_int_equal(obs_parse_request_start(b, INT32_MAX), OBS_METHOD_PATCH);
	/* 16 upper-case bytes and no space within the peek window: NONE, even
	 * though byte 17 of the real read would be a space */
	memcpy(b, "ABCDEFGHIJKLMNOP", OBS_PEEK_LEN);
	assert_int_equal(obs_parse_request_start(b, 4096), OBS_METHOD_NONE);
	free(b);
	assert_int_equal(req("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n"), OBS_METHOD_NONE);

	/* clamping is the same as the BPF side copying OBS_PEEK_LEN bytes */
	assert_int_equal(req(long_get), req_as_bpf(long_get));
}

/* ------------------------------------------------------ request: targets */

static void test_request_targets(void **state)
{
	(void)state;
	/* origin-form */
	assert_int_equal(req("GET / HTTP/1.1\r\n"), OBS_METHOD_GET);
	assert_int_equal(req("GET /index.html HTTP/1.1\r\n"), OBS_METHOD_GET);
	/* asterisk-form */
	assert_int_equal(req("OPTIONS * HTTP/1.1\r\n"), OBS_METHOD_OPTIONS);
	assert_int_equal(req("OPTIONS *"), OBS_METHOD_OPTIONS);
	/* absolute-form */
	assert_int_equal(req("GET http://example.com/ HTTP/1.1\r\n"), OBS_METHOD_GET);
	assert_int_equal(req("GET https://example.com/ HTTP/1.1\r\n"), OBS_METHOD_GET);
	assert_int_equal(req("GET HTTP://EXAMPLE.COM/ HTTP/1.1\r\n"), OBS_METHOD_GET);
	assert_int_equal(req("POST http://x/"), OBS_METHOD_POST);
	assert_int_equal(req_as_bpf("DELETE http://example.com/items/1 HTTP/1.1\r\n"), OBS_METHOD_DELETE);
	/* authority-form with an address or an upper-case host */
	assert_int_equal(req("CONNECT 127.0.0.1:8080 HTTP/1.1\r\n"), OBS_METHOD_CONNECT);
	assert_int_equal(req("CONNECT EXAMPLE.COM:443 HTTP/1.1\r\n"), OBS_METHOD_CONNECT);
}

/* CONNECT names its target by host name or bracketed IPv6 address too
 * (RFC 9112 3.2.3). */
static void test_connect_lowercase_host(void **state)
{
	(void)state;
	assert_int_equal(req("CONNECT www.example.com:80 HTTP/1.1\r\n"), OBS_METHOD_CONNECT);
	assert_int_equal(req("CONNECT example.com:443 HTTP/1.1\r\n"), OBS_METHOD_CONNECT);
	assert_int_equal(req("CONNECT [::1]:443 HTTP/1.1\r\n"), OBS_METHOD_CONNECT);
}

/* ---------------------------------------------------- request: properties */

static __u32 rng_state = 0x9e3779b9u;

static __u32 xorshift32(void)
{
	__u32 x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x;
	return x;
}

/* Whatever the bytes, the result is an enum value, and a recognised read has
 * the shape the parser promises: upper-case token of 3..12, one space, then
 * a target character. The alphabet is biased towards the interesting bytes. */
static void test_random_inputs_invariants(void **state)
{
	static const char alphabet[] = "GETPOSHADLUCNRIXhH/* \r\n0a\x16\x03";
	__u8 buf[OBS_PEEK_LEN];
	int seen[OBS_METHOD_COUNT] = { 0 };
	(void)state;

	for (int iter = 0; iter < 200000; iter++) {
		int n = (int)(xorshift32() % (OBS_PEEK_LEN + 1));
		__u8 *b;
		int r, len;

		for (int i = 0; i < n; i++) {
			__u32 r2 = xorshift32();

			buf[i] = (r2 & 0x100) ? (__u8)r2 : (__u8)alphabet[r2 % (sizeof(alphabet) - 1)];
		}
		b = malloc(n ? (size_t)n : 1);
		assert_non_null(b);
		memcpy(b, buf, (size_t)n);
		r = obs_parse_request_start(b, n);
		free(b);
		assert_in_range(r, OBS_METHOD_NONE, OBS_METHOD_OTHER);
		seen[r]++;
		if (r == OBS_METHOD_NONE)
			continue;
		for (len = 0; len < n && buf[len] != ' '; len++)
			assert_true(buf[len] >= 'A' && buf[len] <= 'Z');
		assert_in_range(len, 3, 12);
		assert_true(len + 1 < n);
		assert_false(len == 3 && memcmp(buf, "PRI", 3) == 0);
		assert_true(obs_is_target_start(buf[len + 1]));
		if (r != OBS_METHOD_OTHER) {
			static const char *names[] = { NULL,     "GET",   "HEAD",    "POST",    "PUT",
						       "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE" };
			assert_int_equal(strlen(names[r]), (size_t)len);
			assert_memory_equal(buf, names[r], (size_t)len);
		}
	}
	/* the generator must reach both outcomes, or the checks above say nothing */
	assert_true(seen[OBS_METHOD_NONE] > 1000);
	assert_true(seen[OBS_METHOD_OTHER] > 100);
}

/* ------------------------------------------------------------ status line */

static void test_status_common(void **state)
{
	(void)state;
	assert_int_equal(status("HTTP/1.1 200 OK\r\n"), 200);
	assert_int_equal(status("HTTP/1.0 404 Not Found\r\n"), 404);
	assert_int_equal(status("HTTP/1.1 100 Continue\r\n\r\n"), 100);
	assert_int_equal(status("HTTP/1.1 101 Switching Protocols\r\n"), 101);
	assert_int_equal(status("HTTP/1.1 500\r\n"), 500);
	assert_int_equal(status("HTTP/1.1 503\n"), 503);
	assert_int_equal(status("HTTP/1.1 204 "), 204);
	assert_int_equal(status("HTTP/1.1 301 Moved Permanently\r\n"), 301);
	/* exactly 12 bytes: nothing after the code to check */
	assert_int_equal(status("HTTP/1.1 200"), 200);
	/* bounds of the 100..999 range */
	assert_int_equal(status("HTTP/1.1 100 X"), 100);
	assert_int_equal(status("HTTP/1.1 999 X"), 999);
	/* what the BPF side copies */
	assert_int_equal(status_as_bpf("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 200);
	assert_int_equal(status_as_bpf("HTTP/1.0 404 Not Found\r\n"), 404);
	/* any single-digit minor version */
	assert_int_equal(status("HTTP/1.9 200 OK"), 200);
	/* the full three-digit range parses as a number */
	for (int code = 100; code <= 999; code++) {
		char line[32];

		snprintf(line, sizeof(line), "HTTP/1.1 %d X\r\n", code);
		assert_int_equal(status(line), code);
	}
}

static void test_status_truncated(void **state)
{
	static const char line[] = "HTTP/1.1 200 OK\r\n";
	(void)state;

	for (int n = 0; n < 12; n++)
		assert_int_equal(status_bytes(line, (size_t)n, n), 0);
	for (int n = 12; n <= (int)strlen(line); n++)
		assert_int_equal(status_bytes(line, (size_t)n, n), 200);
	assert_int_equal(status(""), 0);
	assert_int_equal(status("HTTP/1.1 20"), 0);
	assert_int_equal(status("HTTP/1.1 "), 0);
	assert_int_equal(status_bytes(line, sizeof(line) - 1, -1), 0);
	assert_int_equal(status_bytes(line, sizeof(line) - 1, INT32_MIN), 0);
}

static void test_status_not_http1(void **state)
{
	(void)state;
	assert_int_equal(status("HTTP/2 200\r\n\r\n"), 0);
	assert_int_equal(status("HTTP/2 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/2.0 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/3 200 OK\r\n"), 0);
	assert_int_equal(status("http/1.1 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.x 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.11 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1. 200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1\t200 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1  200 OK\r\n"), 0);
	assert_int_equal(status(" HTTP/1.1 200 OK\r\n"), 0);
	assert_int_equal(status("ICY 200 OK\r\n\r\n\r\n"), 0);
	/* a request line is not a status line */
	assert_int_equal(status("GET / HTTP/1.1\r\n"), 0);
	/* response body bytes of a later write */
	assert_int_equal(status("{\"status\": 200}\r\n"), 0);
}

static void test_status_non_digit_codes(void **state)
{
	static const __u8 nul_code[] = { 'H', 'T', 'T', 'P', '/', '1', '.', '1',
					 ' ', '2', 0,   '0', ' ', 'O', 'K' };
	(void)state;

	assert_int_equal(status("HTTP/1.1 OK! 200\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 2x0 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 20x OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 x00 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 -20 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 +20 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 2:0 OK\r\n"), 0); /* ':' is '9' + 1 */
	assert_int_equal(status("HTTP/1.1 2/0 OK\r\n"), 0); /* '/' is '0' - 1 */
	assert_int_equal(status("HTTP/1.1    OK\r\n"), 0);
	assert_int_equal(status_bytes(nul_code, sizeof(nul_code), sizeof(nul_code)), 0);
}

static void test_status_leading_zero_and_long_codes(void **state)
{
	(void)state;
	assert_int_equal(status("HTTP/1.1 099 X\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 099"), 0);
	assert_int_equal(status("HTTP/1.1 000 X\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 010\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 2000\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 2000 OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 20000"), 0);
	/* anything but SP, CR or LF straight after the code */
	assert_int_equal(status("HTTP/1.1 200OK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 200\tOK\r\n"), 0);
	assert_int_equal(status("HTTP/1.1 200.5 OK\r\n"), 0);
}

/* A buffer of exactly 12 bytes with n far larger must not be read past. */
static void test_status_n_larger_than_buffer(void **state)
{
	__u8 *b = malloc(OBS_PEEK_LEN);
	(void)state;

	assert_non_null(b);
	memcpy(b, "HTTP/1.1 201 Cre", OBS_PEEK_LEN);
	assert_int_equal(obs_parse_status_line(b, OBS_PEEK_LEN), 201);
	assert_int_equal(obs_parse_status_line(b, 4096), 201);
	free(b);
}

static void test_status_random_inputs(void **state)
{
	__u8 buf[OBS_PEEK_LEN];
	(void)state;

	int hits = 0;

	memcpy(buf, "HTTP/1.1 ", 9);
	for (int iter = 0; iter < 200000; iter++) {
		int n = 12 + (int)(xorshift32() % (OBS_PEEK_LEN - 12 + 1));
		__u8 *b;
		int r;

		for (int i = 9; i < n; i++) {
			__u32 r2 = xorshift32();

			buf[i] = (r2 & 1) ? (__u8)('0' + (r2 >> 1) % 10) : (__u8)(r2 >> 8);
		}
		b = malloc((size_t)n);
		assert_non_null(b);
		memcpy(b, buf, (size_t)n);
		r = obs_parse_status_line(b, n);
		free(b);
		if (r == 0)
			continue;
		assert_in_range(r, 100, 999);
		assert_int_equal(r, (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
		assert_true(n == 12 || buf[12] == ' ' || buf[12] == '\r' || buf[12] == '\n');
		hits++;
	}
	assert_true(hits > 1000);
}

/* ------------------------------------------------------------ small helpers */

static void test_char_classes(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		assert_int_equal(obs_is_upper((__u8)c) != 0, c >= 'A' && c <= 'Z');
		assert_int_equal(obs_is_digit((__u8)c) != 0, c >= '0' && c <= '9');
		assert_int_equal(obs_is_target_start((__u8)c) != 0,
				 c == '/' || c == '*' || c == '[' || (c < 128 && isalnum(c)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_known_method),
		cmocka_unit_test(test_minimal_request_start),
		cmocka_unit_test(test_other_uppercase_tokens),
		cmocka_unit_test(test_token_length_limits),
		cmocka_unit_test(test_lowercase_and_mixed_case),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_tls_client_hello),
		cmocka_unit_test(test_http2_preface),
		cmocka_unit_test(test_empty_and_short_reads),
		cmocka_unit_test(test_negative_n),
		cmocka_unit_test(test_method_without_target),
		cmocka_unit_test(test_n_clamped_to_peek_len),
		cmocka_unit_test(test_request_targets),
		cmocka_unit_test(test_connect_lowercase_host),
		cmocka_unit_test(test_random_inputs_invariants),
		cmocka_unit_test(test_status_common),
		cmocka_unit_test(test_status_truncated),
		cmocka_unit_test(test_status_not_http1),
		cmocka_unit_test(test_status_non_digit_codes),
		cmocka_unit_test(test_status_leading_zero_and_long_codes),
		cmocka_unit_test(test_status_n_larger_than_buffer),
		cmocka_unit_test(test_status_random_inputs),
		cmocka_unit_test(test_char_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
