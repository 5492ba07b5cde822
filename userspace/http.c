/* http.c - the metrics HTTP server on libmicrohttpd. We bind the socket
 * ourselves so a taken port is reported precisely. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "log.h"

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"

static const char landing[] =
    "<html><head><title>gunicorn-observer</title></head><body>\n"
    "<h1>gunicorn-observer</h1>\n"
    "<p>eBPF observer of Gunicorn masters and workers.</p>\n"
    "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/healthz\">/healthz</a></p>\n"
    "</body></html>\n";

struct http_server {
	struct MHD_Daemon *d;
	int sock;
	http_metrics_fn fn;
	void *ctx;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type, void *body,
			     size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned int code, const char *type,
				    const char *body)
{
	return reply(c, code, type, (void *)body, strlen(body), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *h = cls;
	char *body = NULL;
	size_t len = 0;

	(void)version;
	(void)upload;
	if (*upload_size) { /* ignore any request body */
		*upload_size = 0;
		return MHD_YES;
	}
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_static(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
	if (strcmp(url, "/metrics") == 0) {
		if (h->fn(h->ctx, &body, &len))
			return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
					    "cannot build the exposition: see the observer's log\n");
		return reply(c, MHD_HTTP_OK, CT_TEXT, body, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0)
		return reply_static(c, MHD_HTTP_OK, "text/plain", "ok\n");
	if (strcmp(url, "/") == 0)
		return reply_static(c, MHD_HTTP_OK, "text/html; charset=utf-8", landing);
	return reply_static(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

static int bind_socket(const char *addr, unsigned short port, int *family)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	char ports[8];
	int fd, one = 1, err;

	snprintf(ports, sizeof(ports), "%u", port);
	err = getaddrinfo(addr, ports, &hints, &ai);
	if (err) {
		fprintf(stderr,
			"gunicorn-observer: listen address '%s' is not an IP address: use e.g. --listen "
			"0.0.0.0:%u\n",
			addr, port);
		return -1;
	}
	*family = ai->ai_family;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fprintf(stderr, "gunicorn-observer: cannot create a socket: %s\n", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		if (errno == EADDRINUSE)
			fprintf(stderr,
				"gunicorn-observer: port %u on %s is already in use: pick another with "
				"--listen ADDR:PORT\n",
				port, addr);
		else
			fprintf(stderr, "gunicorn-observer: cannot listen on %s:%u: %s\n", addr, port,
				strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct http_server *http_start(const char *addr, unsigned short port, http_metrics_fn fn, void *ctx)
{
	struct http_server *h = calloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int family = AF_INET;

	if (!h)
		return NULL;
	h->fn = fn;
	h->ctx = ctx;
	h->sock = bind_socket(addr, port, &family);
	if (h->sock < 0) {
		free(h);
		return NULL;
	}
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, h->sock,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)30, MHD_OPTION_END);
	if (!h->d) {
		fprintf(stderr, "gunicorn-observer: cannot start the HTTP server on %s:%u\n", addr, port);
		close(h->sock);
		free(h);
		return NULL;
	}
	return h;
}

int http_poll_fd(struct http_server *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int http_timeout_ms(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > 1000 ? 1000 : (int)t;
}

void http_run(struct http_server *h)
{
	MHD_run(h->d);
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	close(h->sock);
	free(h);
}
