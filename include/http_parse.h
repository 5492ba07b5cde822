/* http_parse.h - HTTP/1.x first-line recognisers shared by the BPF programs
 * and the host. Pure functions over a byte array the caller has already
 * copied, so the unit tests run the exact code the kernel runs.
 */
#ifndef OBS_HTTP_PARSE_H
#define OBS_HTTP_PARSE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes of a request's start that the BPF side copies for recognition. */
#define OBS_PEEK_LEN 16

enum obs_method {
	OBS_METHOD_NONE = 0,
	OBS_METHOD_GET,
	OBS_METHOD_HEAD,
	OBS_METHOD_POST,
	OBS_METHOD_PUT,
	OBS_METHOD_DELETE,
	OBS_METHOD_PATCH,
	OBS_METHOD_OPTIONS,
	OBS_METHOD_CONNECT,
	OBS_METHOD_TRACE,
	OBS_METHOD_OTHER, /* any other RFC 9110 token */
	OBS_METHOD_COUNT,
};

static inline int obs_is_upper(__u8 c)
{
	return c >= 'A' && c <= 'Z';
}

static inline int obs_is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

static inline int obs_is_target_start(__u8 c)
{
	return c == '/' || c == '*' || c == '[' || obs_is_upper(c) || (c >= 'a' && c <= 'z') ||
	       obs_is_digit(c);
}

static inline int obs_match(const __u8 *b, const char *word, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != (__u8)word[i])
			return 0;
	return 1;
}

static inline int obs_known_method(const __u8 *b, int len)
{
	switch (len) {
	case 3:
		if (obs_match(b, "GET", 3))
			return OBS_METHOD_GET;
		if (obs_match(b, "PUT", 3))
			return OBS_METHOD_PUT;
		break;
	case 4:
		if (obs_match(b, "HEAD", 4))
			return OBS_METHOD_HEAD;
		if (obs_match(b, "POST", 4))
			return OBS_METHOD_POST;
		break;
	case 5:
		if (obs_match(b, "PATCH", 5))
			return OBS_METHOD_PATCH;
		if (obs_match(b, "TRACE", 5))
			return OBS_METHOD_TRACE;
		break;
	case 6:
		if (obs_match(b, "DELETE", 6))
			return OBS_METHOD_DELETE;
		break;
	case 7:
		if (obs_match(b, "OPTIONS", 7))
			return OBS_METHOD_OPTIONS;
		if (obs_match(b, "CONNECT", 7))
			return OBS_METHOD_CONNECT;
		break;
	}
	return OBS_METHOD_OTHER;
}

/* Recognise the start of an HTTP/1.x request line in the first n bytes of a
 * read (n <= OBS_PEEK_LEN): an upper-case method token, one space, and the
 * first character of a request target. Returns an enum obs_method, or
 * OBS_METHOD_NONE when the bytes are not a request line. A read shorter than
 * the method and its space is not recognised: HTTP clients send the request
 * line in one write. */
static inline int obs_parse_request_start(const __u8 *b, int n)
{
	int len = -1;

	if (n > OBS_PEEK_LEN)
		n = OBS_PEEK_LEN;
	for (int i = 0; i < OBS_PEEK_LEN; i++) {
		if (i >= n)
			return OBS_METHOD_NONE;
		if (b[i] == ' ') {
			len = i;
			break;
		}
		if (!obs_is_upper(b[i]))
			return OBS_METHOD_NONE;
	}
	/* the "PRI * HTTP/2.0" preface is not HTTP/1 */
	if (len < 3 || len + 1 >= n || len > 12)
		return OBS_METHOD_NONE;
	if (len == 3 && obs_match(b, "PRI", 3))
		return OBS_METHOD_NONE;
	/* a request target starts with '/', '*', a scheme or an authority
	 * (CONNECT host:port, [v6]:port) */
	if (!obs_is_target_start(b[len + 1]))
		return OBS_METHOD_NONE;
	return obs_known_method(b, len);
}

/* Parse "HTTP/1.x NNN" at the start of a write. Returns the status code
 * (100..999) or 0 when the bytes are not a status line. */
static inline int obs_parse_status_line(const __u8 *b, int n)
{
	if (n < 12)
		return 0;
	if (!obs_match(b, "HTTP/1.", 7) || !obs_is_digit(b[7]) || b[8] != ' ')
		return 0;
	if (!obs_is_digit(b[9]) || !obs_is_digit(b[10]) || !obs_is_digit(b[11]))
		return 0;
	if (b[9] == '0')
		return 0;
	if (n > 12 && b[12] != ' ' && b[12] != '\r' && b[12] != '\n')
		return 0;
	return (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
}

#endif /* OBS_HTTP_PARSE_H */
