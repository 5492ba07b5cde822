/* http.c - the metrics HTTP server on libmicrohttpd. We bind the socket
 * ourselves so a taken port is reported precisely. Optionally TLS (the
 * files are checked with OpenSSL at start, so a bad one is named; MHD
 * serves them with GnuTLS) and basic auth on everything but /healthz; always
 * a total and a per-IP connection limit and an idle timeout, so slow or
 * idle clients cannot keep a scraper out. /metrics is sent while it is
 * rendered, a block at a time from the main loop, so the observer never
 * holds a whole exposition and a slow client delays nothing else. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "render/auth.h"
#include "render/http.h"
#include "lib/log.h"

#define REALM    "gunicorn-observer"
#define PEM_MAX  (1 << 20)
#define FD_SPARE 128 /* descriptors beyond the connections: BPF objects, /proc, Redis */

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
/* The block size MHD is given for /metrics: the text is megabytes at
 * hundreds of workers and is never held whole; MHD asks for at most what
 * its connection buffer holds (about 32 KiB), one block a main loop pass. */
#define BODY_BLOCK (64 * 1024)

static const char landing[] =
    "<html><head><title>gunicorn-observer</title></head><body>\n"
    "<h1>gunicorn-observer</h1>\n"
    "<p>eBPF observer of Gunicorn masters and workers.</p>\n"
    "<p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/healthz\">/healthz</a></p>\n"
    "</body></html>\n";

struct http_server {
	struct MHD_Daemon *d;
	int sock;
	http_stream_fn stream; /* answers /metrics */
	void *ctx;
	struct auth *auth; /* NULL: open */
	int serving;       /* started: what MHD says now is about clients */
};

/* libmicrohttpd's messages: errors while starting; afterwards they are about
 * clients (a dropped connection, a failed handshake), which anyone can cause
 * by the thousand, so debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (h->serving)
		log_debug("libmicrohttpd: %s", msg);
	else
		log_error("libmicrohttpd: %s", msg);
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned int code, const char *type,
				    const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A /metrics body being sent: the text the body wrote that MHD's buffer
 * has not taken yet. */
struct body_stream {
	struct http_body body;
	struct strbuf pending;
	size_t sent; /* bytes of pending already handed to MHD */
	int more;    /* body.next has more to give */
};

/* A whole buffer as a body, handed on in the blocks MHD asks for. */
struct whole {
	char *data;
	size_t len, off;
};

static int whole_next(void *ctx, struct strbuf *out, size_t want)
{
	struct whole *w = ctx;
	size_t n = w->len - w->off < want ? w->len - w->off : want;

	sb_append(out, w->data + w->off, n);
	w->off += n;
	if (out->oom)
		return -1;
	return w->off < w->len;
}

static void whole_free(void *ctx)
{
	struct whole *w = ctx;

	free(w->data);
	free(w);
}

int http_body_of_buffer(struct http_body *body, char *data, size_t len)
{
	struct whole *w = data ? calloc(1, sizeof(*w)) : NULL;

	if (!w) {
		free(data);
		return -1;
	}
	*w = (struct whole){ data, len, 0 };
	*body = (struct http_body){ whole_next, whole_free, w };
	return 0;
}

static void body_free(void *cls)
{
	struct body_stream *b = cls;

	b->body.release(b->body.ctx);
	sb_free(&b->pending);
	free(b);
}

/* MHD's reader: fills buf from pending, asking the body for more once all
 * of it went. A failure now, after the status line, can only cut the body
 * short. */
static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body_stream *b = cls;
	size_t n;

	(void)pos;
	if (!max)
		return 0;
	while (b->sent == b->pending.len) {
		if (!b->more)
			return MHD_CONTENT_READER_END_OF_STREAM;
		b->pending.len = 0;
		b->sent = 0;
		b->more = b->body.next(b->body.ctx, &b->pending, max);
		if (b->more < 0) {
			b->more = 0;
			log_error("out of memory while sending /metrics: the response is cut short");
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	n = b->pending.len - b->sent;
	if (n > max)
		n = max;
	memcpy(buf, b->pending.data + b->sent, n);
	b->sent += n;
	return (ssize_t)n;
}

static enum MHD_Result reply_error(struct MHD_Connection *c)
{
	return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			    "cannot build the exposition: see the observer's log\n");
}

/* 200 and a body sent as it is written (chunked, no length); the first
 * block is written before the status, so that a failure in it is a 500.
 * A HEAD gets the headers alone. */
static enum MHD_Result reply_metrics(struct http_server *h, struct MHD_Connection *c, int head)
{
	struct body_stream *b = calloc(1, sizeof(*b));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!b) {
		log_error("out of memory while answering /metrics");
		return reply_error(c);
	}
	if (h->stream(h->ctx, &b->body)) {
		free(b);
		return reply_error(c);
	}
	sb_init(&b->pending);
	b->more = head ? 1 : b->body.next(b->body.ctx, &b->pending, BODY_BLOCK);
	if (b->more < 0) {
		log_error("out of memory while building /metrics");
		body_free(b);
		return reply_error(c);
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BODY_BLOCK, body_read, b, body_free);
	if (!r) {
		body_free(b);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_TEXT);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r); /* frees b once MHD is done with it */
	return ret;
}

static int authorized(struct auth *a, struct MHD_Connection *c)
{
	char *password = NULL, *user = MHD_basic_auth_get_username_password(c, &password);
	int ok = user && password && auth_check(a, user, password);

	if (!ok)
		log_debug("HTTP request refused: %s", user ? "wrong user or password" : "no credentials");
	MHD_free(user);
	MHD_free(password);
	return ok;
}

static enum MHD_Result deny(struct MHD_Connection *c)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	ret = MHD_queue_basic_auth_fail_response(c, REALM, r); /* 401, WWW-Authenticate: Basic */
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct http_server *h = cls;

	(void)version;
	(void)upload;
	if (*upload_size) { /* ignore any request body */
		*upload_size = 0;
		return MHD_YES;
	}
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_static(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
	/* probes (kubelet) carry no credentials; /healthz tells nothing */
	if (strcmp(url, "/healthz") == 0)
		return reply_static(c, MHD_HTTP_OK, "text/plain", "ok\n");
	if (h->auth && !authorized(h->auth, c))
		return deny(c);
	if (strcmp(url, "/metrics") == 0)
		return reply_metrics(h, c, strcmp(method, "HEAD") == 0);
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

/* Raises the soft descriptor limit so the connection limit can be reached. */
static void make_room(unsigned conns)
{
	struct rlimit r;
	rlim_t need = (rlim_t)conns + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= need)
		return;
	r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max >= need ? need : r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur < need)
		log_warn("open files limited to %llu: fewer than %u HTTP connections fit",
			 (unsigned long long)r.rlim_cur, conns);
}

static struct http_server *start(const char *addr, unsigned short port, const struct http_security *sec,
				 http_stream_fn stream, void *ctx)
{
	struct http_server *h = calloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int family = AF_INET;

	if (!h)
		return NULL;
	h->stream = stream;
	h->ctx = ctx;
	h->auth = sec->auth;
	make_room(sec->conn_limit);
	h->sock = bind_socket(addr, port, &family);
	if (h->sock < 0) {
		free(h);
		return NULL;
	}
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (sec->cert_pem)
		flags |= MHD_USE_TLS;
	/* the TLS options are last so a plain server stops reading before them */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_LISTEN_SOCKET, h->sock, MHD_OPTION_CONNECTION_LIMIT,
				sec->conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, sec->per_ip_limit,
				MHD_OPTION_CONNECTION_TIMEOUT, sec->timeout_s,
				sec->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, sec->cert_pem,
				MHD_OPTION_HTTPS_MEM_KEY, sec->key_pem, MHD_OPTION_END);
	if (!h->d) {
		fprintf(stderr, "gunicorn-observer: cannot start the HTTP%s server on %s:%u\n",
			sec->cert_pem ? "S" : "", addr, port);
		close(h->sock);
		free(h);
		return NULL;
	}
	h->serving = 1;
	log_info("HTTP%s on %s:%u: %s; at most %u connections, %u per client address, %u s idle",
		 sec->cert_pem ? "S" : "", addr, port, sec->auth ? "basic auth (not on /healthz)" : "no auth",
		 sec->conn_limit, sec->per_ip_limit, sec->timeout_s);
	return h;
}

struct http_server *http_start(const char *addr, unsigned short port, http_stream_fn fn, void *ctx)
{
	struct http_security sec = { .conn_limit = OBS_HTTP_CONN_LIMIT,
				     .per_ip_limit = OBS_HTTP_PER_IP_LIMIT,
				     .timeout_s = OBS_HTTP_TIMEOUT_S };

	return start(addr, port, &sec, fn, ctx);
}

struct http_server *http_start_secure(const char *addr, unsigned short port, const struct http_security *sec,
				      http_stream_fn fn, void *ctx)
{
	return start(addr, port, sec, fn, ctx);
}

/* Reads a whole PEM file into a malloc'd string; one line naming it on failure. */
static char *read_pem(const char *path, const char *what, const char *flag)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	char *buf = NULL;
	size_t n;

	if (!f) {
		fprintf(stderr, "gunicorn-observer: %s '%s' cannot be read (%s): fix %s\n", what, path,
			strerror(errno), flag);
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > PEM_MAX) {
		fprintf(stderr, "gunicorn-observer: %s '%s' is not a PEM file (%s): fix %s\n", what, path,
			S_ISDIR(st.st_mode) ? "a directory" : "not a regular file of at most 1 MiB", flag);
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!buf || n != (size_t)st.st_size) {
		fprintf(stderr, "gunicorn-observer: %s '%s' cannot be read: fix %s\n", what, path, flag);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Is cert a PEM certificate and key its PEM private key (not encrypted)? */
static int check_pair(const struct obs_config *c, const char *cert, const char *key)
{
	BIO *bc = BIO_new_mem_buf(cert, -1), *bk = BIO_new_mem_buf(key, -1);
	X509 *x = bc ? PEM_read_bio_X509(bc, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = bk ? PEM_read_bio_PrivateKey(bk, NULL, NULL, (void *)"") : NULL;
	int rc = -1;

	if (!x)
		fprintf(stderr,
			"gunicorn-observer: TLS certificate '%s' holds no PEM certificate: fix --tls-cert\n",
			c->tls_cert);
	else if (!k)
		fprintf(
		    stderr,
		    "gunicorn-observer: TLS key '%s' holds no unencrypted PEM private key: fix --tls-key\n",
		    c->tls_key);
	else if (X509_check_private_key(x, k) != 1)
		fprintf(stderr,
			"gunicorn-observer: TLS key '%s' is not the key of certificate '%s': give the "
			"matching pair\n",
			c->tls_key, c->tls_cert);
	else
		rc = 0;
	if (rc == 0 && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warn("TLS certificate '%s' has expired: scrapers that verify it will fail", c->tls_cert);
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(bc);
	BIO_free(bk);
	return rc;
}

static int load_tls(struct http_security *s, const struct obs_config *c)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		fprintf(stderr, "gunicorn-observer: this libmicrohttpd has no TLS support: install one "
				"built with GnuTLS, or drop --tls-cert and --tls-key\n");
		return -1;
	}
	s->cert_pem = read_pem(c->tls_cert, "TLS certificate", "--tls-cert");
	if (!s->cert_pem)
		return -1;
	s->key_pem = read_pem(c->tls_key, "TLS key", "--tls-key");
	if (!s->key_pem)
		return -1;
	return check_pair(c, s->cert_pem, s->key_pem);
}

int http_security_load(struct http_security *s, const struct obs_config *c)
{
	char err[256];

	memset(s, 0, sizeof(*s));
	s->conn_limit = c->http_conn_limit;
	s->per_ip_limit = c->http_per_ip_limit;
	s->timeout_s = c->http_timeout_s;
	if (c->tls_cert[0] && load_tls(s, c))
		goto fail;
	if (c->auth_user[0]) {
		s->auth = malloc(sizeof(*s->auth));
		if (!s->auth)
			goto fail;
		if (auth_load(s->auth, c->auth_user, c->auth_password_file, err, sizeof(err))) {
			fprintf(stderr, "gunicorn-observer: basic auth password file '%s' %s\n",
				c->auth_password_file, err);
			goto fail;
		}
	}
	return 0;
fail:
	http_security_free(s);
	return -1;
}

void http_security_free(struct http_security *s)
{
	if (s->key_pem)
		memset(s->key_pem, 0, strlen(s->key_pem));
	free(s->cert_pem);
	free(s->key_pem);
	if (s->auth)
		memset(s->auth, 0, sizeof(*s->auth));
	free(s->auth);
	memset(s, 0, sizeof(*s));
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
