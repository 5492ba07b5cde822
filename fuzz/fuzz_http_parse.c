/* fuzz_http_parse.c - the request-line and status-line recognisers that the
 * BPF programs run (include/http_parse.h), on the host. Beyond memory
 * safety: only the first OBS_PEEK_LEN (request) or 13 (status) bytes may
 * decide the answer, an answer must agree with the bytes it names, and
 * both agree with a plain reading of the grammar they document. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static const char *const methods[OBS_METHOD_COUNT] = {
	[OBS_METHOD_GET] = "GET ",         [OBS_METHOD_HEAD] = "HEAD ",       [OBS_METHOD_POST] = "POST ",
	[OBS_METHOD_PUT] = "PUT ",         [OBS_METHOD_DELETE] = "DELETE ",   [OBS_METHOD_PATCH] = "PATCH ",
	[OBS_METHOD_OPTIONS] = "OPTIONS ", [OBS_METHOD_CONNECT] = "CONNECT ", [OBS_METHOD_TRACE] = "TRACE ",
};

/* "METHOD SP target-start" in the first OBS_PEEK_LEN bytes: a method of 3 to
 * 12 upper-case letters, not the HTTP/2 preface's PRI. */
static int ref_request(const __u8 *b, int n)
{
	int len = 0;

	n = n < OBS_PEEK_LEN ? n : OBS_PEEK_LEN;
	while (len < n && b[len] >= 'A' && b[len] <= 'Z')
		len++;
	if (len < 3 || len > 12 || len + 1 >= n || b[len] != ' ' || (len == 3 && !memcmp(b, "PRI", 3)))
		return OBS_METHOD_NONE;
	if (!memchr("/*[", b[len + 1], 3) && !isalnum(b[len + 1]))
		return OBS_METHOD_NONE;
	for (int i = 1; i < OBS_METHOD_OTHER; i++)
		if ((int)strlen(methods[i]) == len + 1 && !memcmp(b, methods[i], (size_t)len + 1))
			return i;
	return OBS_METHOD_OTHER;
}

/* "HTTP/1.D NNN" with N not starting with 0, then the end, SP, CR or LF. */
static int ref_status(const __u8 *b, int n)
{
	if (n < 12 || memcmp(b, "HTTP/1.", 7) || !isdigit(b[7]) || b[8] != ' ' || !isdigit(b[9]) ||
	    !isdigit(b[10]) || !isdigit(b[11]) || b[9] == '0')
		return 0;
	if (n > 12 && !memchr(" \r\n", b[12], 3))
		return 0;
	return atoi((const char[]){ (char)b[9], (char)b[10], (char)b[11], 0 });
}

static void check_request(const __u8 *b, int n)
{
	int m = obs_parse_request_start(b, n);

	if (m != ref_request(b, n))
		abort();

	if (m < OBS_METHOD_NONE || m >= OBS_METHOD_COUNT)
		abort();
	if (n > OBS_PEEK_LEN && obs_parse_request_start(b, OBS_PEEK_LEN) != m)
		abort(); /* bytes past the peek window changed the answer */
	if (m == OBS_METHOD_NONE)
		return;
	if (!obs_is_upper(b[0]) || n < 5)
		abort();
	if (methods[m] && memcmp(b, methods[m], strlen(methods[m])) != 0)
		abort();
	if (m == OBS_METHOD_OTHER)
		for (int i = 1; i < OBS_METHOD_OTHER; i++)
			if ((int)strlen(methods[i]) <= n && memcmp(b, methods[i], strlen(methods[i])) == 0)
				abort(); /* a known method reported as other */
}

static void check_status(const __u8 *b, int n)
{
	int code = obs_parse_status_line(b, n);

	if (code != ref_status(b, n))
		abort();
	if (code == 0)
		return;
	if (code < 100 || code > 999 || n < 12 || memcmp(b, "HTTP/1.", 7) != 0)
		abort();
	if (code != (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0'))
		abort();
	if (n > 13 && obs_parse_status_line(b, 13) != code)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n = size > 4096 ? 4096 : (int)size;

	/* libFuzzer's buffer is exactly size bytes: a read past n is caught */
	check_request(data, n);
	check_status(data, n);
	return 0;
}
