/* http.h - the metrics endpoint: GET /metrics, / and /healthz, driven from
 * the main loop (libmicrohttpd in external-epoll mode, no threads), with
 * optional TLS and basic auth, and connection limits. */
#ifndef OBS_HTTP_H
#define OBS_HTTP_H

#include <stddef.h>

#include "config/config.h"
#include "lib/strbuf.h"

struct auth;

/* What a secured endpoint needs, read from the files at start. */
struct http_security {
	char *cert_pem, *key_pem; /* both NULL: plain HTTP */
	struct auth *auth;        /* NULL: no basic auth */
	unsigned conn_limit, per_ip_limit, timeout_s;
};

/* A /metrics body written while it is sent. next appends at least want
 * bytes to out (fewer only at the end) and returns 1 while more is to come,
 * 0 after the last byte, -1 on failure; release frees ctx, whether or not
 * the body was read to its end (HEAD, a client gone). */
struct http_body {
	int (*next)(void *ctx, struct strbuf *out, size_t want);
	void (*release)(void *ctx);
	void *ctx;
};

/* Starts a /metrics body; -1 on failure (answered 500). */
typedef int (*http_stream_fn)(void *ctx, struct http_body *body);

/* Makes body of a whole malloc'd buffer, which it then owns (a text built
 * at once, as the aggregate's merged view); -1 (data freed) on failure. */
int http_body_of_buffer(struct http_body *body, char *data, size_t len);

struct http_server;

/* Binds ADDR:PORT and starts serving; prints one line and returns NULL when
 * the address is bad or the port taken. */
struct http_server *http_start(const char *addr, unsigned short port, http_stream_fn fn, void *ctx);
/* The same with TLS, basic auth and limits from sec, which must outlive it. */
struct http_server *http_start_secure(const char *addr, unsigned short port, const struct http_security *sec,
				      http_stream_fn fn, void *ctx);
/* Reads and checks the certificate, key and password file c names; prints
 * one line naming the file to fix and returns -1. */
int http_security_load(struct http_security *s, const struct obs_config *c);
void http_security_free(struct http_security *s);
/* A file descriptor to poll for readability. */
int http_poll_fd(struct http_server *h);
/* Milliseconds until the server needs to run again, or -1. */
int http_timeout_ms(struct http_server *h);
void http_run(struct http_server *h);
void http_stop(struct http_server *h);

#endif
