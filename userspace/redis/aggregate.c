/* aggregate.c - `gunicorn-observer aggregate`: no BPF, no root. Each scrape
 * SCANs (never KEYS) every data key under the prefix, reads the hashes in
 * pipelined batches (HMGET value timestamp, HGET original_key of the meta
 * hash) and hands them to merge.c for one exposition. Observers are told
 * apart by the node label their mirror adds to every series. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis/aggregate.h"
#include "config/config.h"
#include "render/http.h"
#include "lib/log.h"
#include "redis/merge.h"

#define SCAN_COUNT "1000"
#define BATCH      1000

struct agg {
	struct obs_config cfg;
	redisContext *rc;
	int state; /* 0 new, 1 reading, 2 failing: for one log line per change */
};

static int agg_connect(struct agg *a, char *why, size_t wlen)
{
	struct timeval ct = { 2, 0 }, cmd = { 5, 0 };
	const struct obs_redis_config *c = &a->cfg.redis;
	redisReply *r;

	a->rc = redisConnectWithTimeout(c->host, c->port, ct);
	if (!a->rc || a->rc->err) {
		snprintf(why, wlen, "%s", a->rc ? a->rc->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(a->rc, cmd);
	for (int i = 0; i < 2; i++) {
		char db[16];

		snprintf(db, sizeof(db), "%d", c->db);
		if ((i == 0 && !c->password[0]) || (i == 1 && !c->db))
			continue;
		r = redisCommandArgv(
		    a->rc, 2, i ? (const char *[]){ "SELECT", db } : (const char *[]){ "AUTH", c->password },
		    NULL);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, wlen, "%s: %s", i ? "SELECT" : "AUTH", r ? r->str : a->rc->errstr);
			freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	return 0;
fail:
	if (a->rc)
		redisFree(a->rc);
	a->rc = NULL;
	return -1;
}

/* Errors below: -1 when Redis refused a command (the connection is fine),
 * -2 when the connection is broken. */

/* SCANs every data key; keys are NUL-separated in *keys. */
static int scan_keys(struct agg *a, struct strbuf *keys, size_t *nkeys, char *why, size_t wlen)
{
	char cursor[32] = "0", match[300];
	size_t n = 0;

	for (const char *p = a->cfg.redis.prefix; *p; p++) { /* a literal prefix, not a glob */
		if (strchr("*?[]\\", *p))
			match[n++] = '\\';
		match[n++] = *p;
	}
	snprintf(match + n, sizeof(match) - n, ":*:*:metric:*");
	do {
		redisReply *r = redisCommandArgv(
		    a->rc, 6, (const char *[]){ "SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT }, NULL);

		if (!r) {
			snprintf(why, wlen, "SCAN: %s", a->rc->errstr);
			return -2;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			snprintf(why, wlen, "SCAN: %s",
				 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			sb_append(keys, r->element[1]->element[i]->str, r->element[1]->element[i]->len + 1);
			(*nkeys)++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0"));
	return keys->oom ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the hashes of keys[0..n) in one round trip. */
static int read_batch(struct agg *a, struct merge *sc, char **keys, size_t n, char *why, size_t wlen)
{
	struct strbuf meta;
	int rc = 0;

	sb_init(&meta);
	for (size_t i = 0; i < n; i++) {
		const char *m = strstr(keys[i], ":metric:");

		meta.len = 0;
		sb_append(&meta, keys[i], (size_t)(m - keys[i]));
		sb_printf(&meta, ":meta:%s", m + 8);
		if (meta.oom ||
		    redisAppendCommandArgv(a->rc, 4,
					   (const char *[]){ "HMGET", keys[i], "value", "timestamp" },
					   NULL) != REDIS_OK ||
		    redisAppendCommandArgv(a->rc, 3, (const char *[]){ "HGET", meta.data, "original_key" },
					   NULL) != REDIS_OK) {
			snprintf(why, wlen, "out of memory");
			sb_free(&meta);
			return -2; /* half a pipeline queued: start over on a new connection */
		}
	}
	sb_free(&meta);
	for (size_t i = 0; i < n; i++) {
		redisReply *d = NULL, *m = NULL;

		if (redisGetReply(a->rc, (void **)&d) != REDIS_OK ||
		    redisGetReply(a->rc, (void **)&m) != REDIS_OK) {
			snprintf(why, wlen, "%s", a->rc->errstr);
			freeReplyObject(d);
			return -2;
		}
		if (d->type == REDIS_REPLY_ARRAY && d->elements == 2 &&
		    d->element[0]->type == REDIS_REPLY_STRING && m->type == REDIS_REPLY_STRING)
			merge_add(sc, keys[i], m->str, d->element[0]->str,
				  d->element[1]->type == REDIS_REPLY_STRING ? d->element[1]->str : NULL);
		else if (d->type == REDIS_REPLY_ERROR || m->type == REDIS_REPLY_ERROR) {
			snprintf(why, wlen, "%s", d->type == REDIS_REPLY_ERROR ? d->str : m->str);
			rc = -1;
		} /* else: expired between SCAN and now */
		freeReplyObject(d);
		freeReplyObject(m);
	}
	return rc;
}

static int read_all(struct agg *a, struct merge *sc, char *why, size_t wlen)
{
	struct strbuf keys;
	size_t nkeys = 0;
	char **k = NULL;
	int rc;

	sb_init(&keys);
	rc = scan_keys(a, &keys, &nkeys, why, wlen);
	if (!rc && nkeys) {
		k = malloc(nkeys * sizeof(*k));
		rc = k ? 0 : -1;
		snprintf(why, wlen, "out of memory");
	}
	if (!rc && nkeys) {
		char *p = keys.data;
		size_t u = 0;

		for (size_t i = 0; i < nkeys; i++, p += strlen(p) + 1)
			k[i] = p;
		qsort(k, nkeys, sizeof(*k), cmp_str); /* SCAN may return a key twice */
		for (size_t i = 0; i < nkeys; i++)
			if (!u || strcmp(k[u - 1], k[i]))
				k[u++] = k[i];
		for (size_t i = 0; i < u && !rc; i += BATCH)
			rc = read_batch(a, sc, k + i, u - i < BATCH ? u - i : BATCH, why, wlen);
	}
	free(k);
	sb_free(&keys);
	return rc;
}

static int build(void *ctx, struct http_body *body)
{
	struct agg *a = ctx;
	struct merge sc = { 0 };
	struct strbuf out;
	char why[200] = "out of memory", *data;
	size_t len;
	int rc = a->rc ? 0 : agg_connect(a, why, sizeof(why));

	if (!rc)
		rc = read_all(a, &sc, why, sizeof(why));
	if (rc == -2) {
		redisFree(a->rc);
		a->rc = NULL;
	}
	if (rc || sc.arena.oom) {
		if (a->state != 2)
			log_error("aggregate: cannot read Redis at %s:%u: %s", a->cfg.redis.host,
				  a->cfg.redis.port, why);
		a->state = 2;
		merge_free(&sc);
		return -1;
	}
	if (a->state != 1)
		log_info("aggregate: reading Redis at %s:%u db %d, prefix %s", a->cfg.redis.host,
			 a->cfg.redis.port, a->cfg.redis.db, a->cfg.redis.prefix);
	a->state = 1;
	sb_init(&out);
	merge_render(&sc, &out);
	if (sc.skipped)
		log_debug("aggregate: %zu keys skipped (not in the layout)", sc.skipped);
	merge_free(&sc);
	data = sb_steal(&out, &len);
	return http_body_of_buffer(body, data, len);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: gunicorn-observer aggregate [OPTIONS]\n"
		   "Serve one /metrics for every observer mirroring into one Redis (no BPF, no root).\n\n"
		   "      --redis HOST:PORT         the Redis to read (default 127.0.0.1:6379)\n"
		   "      --redis-db N              its database number (default 0)\n"
		   "      --redis-password-file F   a file holding the Redis password\n"
		   "      --prefix P                the key prefix (default gunicorn)\n"
		   "  -l, --listen ADDR:PORT        where to serve /metrics (default 0.0.0.0:9093)\n"
		   "      --log-level LEVEL         error, warn, info (default) or debug\n"
		   "  -h, --help                    show this help\n");
}

/* "--redis HOST:PORT" (or [V6]:PORT, or HOST) as the redis-host and redis-port settings. */
static int set_redis(struct obs_config *c, struct obs_sources *src, const char *s, char *err, size_t elen)
{
	char host[256];
	const char *port = NULL, *colon = strrchr(s, ':');

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':')) {
			snprintf(err, elen, "is not HOST:PORT: use e.g. 127.0.0.1:6379 or [::1]:6379");
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
		port = close[1] ? close + 2 : NULL;
	} else if (colon && strchr(s, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "%s", s);
	}
	if (config_set_flag(c, src, "redis-host", host, err, elen))
		return -1;
	return port ? config_set_flag(c, src, "redis-port", port, err, elen) : 0;
}

static int parse(int argc, char **argv, struct obs_config *c)
{
	static const struct option opts[] = {
		{ "redis", required_argument, NULL, 'r' },
		{ "redis-db", required_argument, NULL, 'd' },
		{ "redis-password-file", required_argument, NULL, 'P' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "listen", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct obs_sources src;
	char err[256];
	int o;

	config_defaults(c, &src);
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":l:h", opts, NULL)) != -1) {
		const char *name = "", *flag = "";
		int rc;

		for (const struct option *op = opts; op->name; op++)
			if (op->val == o)
				name = op->name;
		switch (o) { /* our options as the observer's settings */
		case 'd':
		case 'P':
		case 'L':
		case 'l':
			flag = name;
			break;
		case 'x':
			flag = "redis-key-prefix";
			break;
		}

		if (o == 'h') {
			usage(stdout);
			return 1;
		}
		if (o == ':' || o == '?') {
			fprintf(stderr, "gunicorn-observer aggregate: %s '%s': see --help\n",
				o == ':' ? "this option needs a value" : "unknown option", argv[optind - 1]);
			return -1;
		}
		rc = o == 'r' ? set_redis(c, &src, optarg, err, sizeof(err))
			      : config_set_flag(c, &src, flag, optarg, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "gunicorn-observer aggregate: --%s '%s' %s\n", name, optarg, err);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gunicorn-observer aggregate: unexpected argument '%s': see --help\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

int aggregate_main(int argc, char **argv)
{
	static struct agg a;
	struct http_server *http;
	struct pollfd p[2];
	sigset_t set;
	int rc = parse(argc, argv, &a.cfg), sfd;

	if (rc)
		return rc > 0 ? 0 : 2;
	log_level = a.cfg.level;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sfd = sigprocmask(SIG_BLOCK, &set, NULL) ? -1 : signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "gunicorn-observer: cannot set up signal handling: %s\n", strerror(errno));
		return 1;
	}
	http = http_start(a.cfg.listen_addr, a.cfg.listen_port, build, &a);
	if (!http)
		return 1;
	log_info("aggregate: serving metrics from Redis %s:%u on %s:%u", a.cfg.redis.host, a.cfg.redis.port,
		 a.cfg.listen_addr, a.cfg.listen_port);
	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = http_poll_fd(http), .events = POLLIN };
	for (rc = 0;;) {
		int t = http_timeout_ms(http);

		if (poll(p, 2, t < 0 || t > 1000 ? 1000 : t) < 0 && errno != EINTR) {
			log_error("poll failed: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (p[0].revents & POLLIN)
			break;
		http_run(http);
	}
	http_stop(http);
	if (a.rc)
		redisFree(a.rc);
	close(sfd);
	return rc;
}
