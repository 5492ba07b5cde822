/* http.h - the metrics endpoint: GET /metrics, / and /healthz, driven from
 * the main loop (libmicrohttpd in external-epoll mode, no threads). */
#ifndef GO_HTTP_H
#define GO_HTTP_H

#include <stddef.h>

/* Builds the /metrics body into a malloc'd buffer; -1 on failure. */
typedef int (*http_metrics_fn)(void *ctx, char **body, size_t *len);

struct http_server;

/* Binds ADDR:PORT and starts serving; prints one line and returns NULL when
 * the address is bad or the port taken. */
struct http_server *http_start(const char *addr, unsigned short port, http_metrics_fn fn, void *ctx);
/* A file descriptor to poll for readability. */
int http_poll_fd(struct http_server *h);
/* Milliseconds until the server needs to run again, or -1. */
int http_timeout_ms(struct http_server *h);
void http_run(struct http_server *h);
void http_stop(struct http_server *h);

#endif
