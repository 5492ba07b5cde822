/* mirror.c - the Redis mirror thread. The main thread only swaps a pointer
 * under a mutex (mirror_publish); the thread makes the snapshot's records,
 * connects when it must (AUTH, SELECT, timeouts, capped exponential backoff)
 * and writes a pass as one pipelined round trip. It logs one line when the
 * mirror comes up and one when it goes down, never one per failed pass. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "lib/log.h"
#include "redis/mirror.h"
#include "lib/clock.h"
#include "redis/records.h"

#define CONNECT_TIMEOUT_S 2
#define COMMAND_TIMEOUT_S 5
#define BACKOFF_FIRST_S   0.5
#define BACKOFF_MAX_S     15.0

enum state { ST_NEW, ST_UP, ST_DOWN };

struct mirror {
	struct obs_redis_config cfg;
	char node[256];
	pid_t self;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* under lock */
	struct snapshot *pending;
	int stop;
	int up;
	unsigned long long errors;
	/* the thread's own */
	redisContext *rc;
	enum state state;
	double backoff, next_try;
	char why[160]; /* what failed in the current pass */
};

static void drop_connection(struct mirror *m)
{
	if (m->rc)
		redisFree(m->rc);
	m->rc = NULL;
}

/* Runs one command on the fresh connection; -1 (reason in m->why) on error. */
static int setup_command(struct mirror *m, const char *what, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(m->rc, argc, argv, NULL);
	int rc = 0;

	if (!r) {
		snprintf(m->why, sizeof(m->why), "%s: %s", what, m->rc->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(m->why, sizeof(m->why), "%s refused: %s", what, r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

static int connect_redis(struct mirror *m)
{
	struct timeval ct = { CONNECT_TIMEOUT_S, 0 }, cmd = { COMMAND_TIMEOUT_S, 0 };
	char db[16];

	m->rc = redisConnectWithTimeout(m->cfg.host, m->cfg.port, ct);
	if (!m->rc || m->rc->err) {
		snprintf(m->why, sizeof(m->why), "%s", m->rc ? m->rc->errstr : "out of memory");
		drop_connection(m);
		return -1;
	}
	redisSetTimeout(m->rc, cmd);
	redisEnableKeepAlive(m->rc);
	snprintf(db, sizeof(db), "%d", m->cfg.db);
	if ((m->cfg.password[0] &&
	     setup_command(m, "AUTH", 2, (const char *[]){ "AUTH", m->cfg.password })) ||
	    (m->cfg.db && setup_command(m, "SELECT", 2, (const char *[]){ "SELECT", db }))) {
		drop_connection(m);
		return -1;
	}
	return 0;
}

/* Queues the commands of one record; returns how many were queued, -1 after
 * the first that could not be (out of memory). */
static int append_record(struct mirror *m, const struct redis_records *rs, const struct redis_record *r,
			 const char *now, const char *ttl)
{
	const char *data = rk_str(rs, r->data_key), *meta = rk_str(rs, r->meta_key);
	const char *cmds[5][8] = {
		{ "HSET", data, "value", rk_str(rs, r->value), "timestamp", now, "updated_at", now },
		{ "HSET", meta, "original_key", rk_str(rs, r->original_key), "typ", r->typ,
		  "multiprocess_mode", "all" },
		{ "HSETNX", meta, "created_at", now },
		{ "EXPIRE", data, ttl },
		{ "EXPIRE", meta, ttl },
	};
	static const int argc[5] = { 8, 8, 4, 3, 3 };
	int n = m->cfg.ttl_disabled ? 3 : 5;

	for (int i = 0; i < n; i++)
		if (redisAppendCommandArgv(m->rc, argc[i], cmds[i], NULL) != REDIS_OK)
			return -i - 1;
	return n;
}

/* Writes every record in one round trip and reads every reply. */
static int write_pass(struct mirror *m, const struct redis_records *rs)
{
	struct timespec ts;
	char now[32], ttl[16];
	size_t queued = 0;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(now, sizeof(now), "%lld.%06ld", (long long)ts.tv_sec, ts.tv_nsec / 1000);
	snprintf(ttl, sizeof(ttl), "%u", m->cfg.ttl_seconds);
	for (size_t i = 0; i < rs->n && !rc; i++) {
		int n = append_record(m, rs, &rs->v[i], now, ttl);

		if (n < 0) { /* the replies of what was queued are still read */
			snprintf(m->why, sizeof(m->why), "out of memory queuing commands");
			n = -n - 1;
			rc = -1;
		}
		queued += (size_t)n;
	}
	for (size_t i = 0; i < queued; i++) {
		redisReply *r;

		if (redisGetReply(m->rc, (void **)&r) != REDIS_OK) {
			snprintf(m->why, sizeof(m->why), "%s", m->rc->errstr);
			drop_connection(m);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR && rc == 0) {
			snprintf(m->why, sizeof(m->why), "command refused: %s", r->str);
			rc = -1;
		}
		freeReplyObject(r);
	}
	return rc;
}

/* One pass over the snapshot; 0 when Redis has it. */
static int pass(struct mirror *m, const struct snapshot *s)
{
	struct redis_records rs;
	int rc;

	if (!m->rc && clock_seconds(CLOCK_MONOTONIC) < m->next_try)
		return -1; /* backing off; m->why still says why */
	if (!m->rc && connect_redis(m))
		return -1;
	if (redis_records_build(s, m->cfg.prefix, m->node, m->self, &rs)) {
		snprintf(m->why, sizeof(m->why), "out of memory");
		return -1;
	}
	rc = write_pass(m, &rs);
	redis_records_free(&rs);
	return rc;
}

static void note_result(struct mirror *m, int ok)
{
	if (ok) {
		m->backoff = 0;
		if (m->state != ST_UP)
			log_info("redis: mirroring to %s:%u db %d every %gs (prefix %s, node %s)",
				 m->cfg.host, m->cfg.port, m->cfg.db, m->cfg.interval_s, m->cfg.prefix,
				 m->node);
		m->state = ST_UP;
		return;
	}
	if (!m->rc) {
		double now = clock_seconds(CLOCK_MONOTONIC);

		if (now >= m->next_try) {
			m->backoff = m->backoff ? m->backoff * 2 : BACKOFF_FIRST_S;
			if (m->backoff > BACKOFF_MAX_S)
				m->backoff = BACKOFF_MAX_S;
			m->next_try = now + m->backoff;
		}
	}
	if (m->state != ST_DOWN)
		log_warn("redis: %s %s:%u: %s; retrying, at most every %gs",
			 m->state == ST_UP ? "lost" : "cannot use", m->cfg.host, m->cfg.port, m->why,
			 BACKOFF_MAX_S);
	m->state = ST_DOWN;
}

static void *run(void *arg)
{
	struct mirror *m = arg;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct snapshot *s;
		int ok;

		while (!m->stop && !m->pending)
			pthread_cond_wait(&m->wake, &m->lock);
		if (m->stop)
			break;
		s = m->pending;
		m->pending = NULL;
		pthread_mutex_unlock(&m->lock);
		ok = pass(m, s) == 0;
		snapshot_unref(s);
		note_result(m, ok);
		pthread_mutex_lock(&m->lock);
		m->up = ok;
		if (!ok)
			m->errors++;
	}
	pthread_mutex_unlock(&m->lock);
	drop_connection(m);
	return NULL;
}

struct mirror *mirror_start(const struct obs_redis_config *c)
{
	struct mirror *m = calloc(1, sizeof(*m));
	sigset_t all, old;
	int err;

	if (!m) {
		fprintf(stderr, "gunicorn-observer: out of memory starting the Redis mirror\n");
		return NULL;
	}
	m->cfg = *c;
	m->self = getpid();
	/* a DaemonSet sets NODE_NAME from the downward API: its host name
	 * would be the pod's */
	if (getenv("NODE_NAME") && *getenv("NODE_NAME"))
		snprintf(m->node, sizeof(m->node), "%s", getenv("NODE_NAME"));
	else if (gethostname(m->node, sizeof(m->node) - 1) || !m->node[0])
		snprintf(m->node, sizeof(m->node), "unknown");
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	/* Signals stay with the main thread's signalfd; a write to a closed
	 * Redis socket returns EPIPE instead of killing us with SIGPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&m->thread, NULL, run, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "gunicorn-observer: cannot start the Redis mirror thread: %s\n",
			strerror(err));
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->wake);
		free(m);
		return NULL;
	}
	return m;
}

void mirror_publish(struct mirror *m, struct snapshot *s)
{
	struct snapshot *old;

	snapshot_ref(s);
	pthread_mutex_lock(&m->lock);
	old = m->pending;
	m->pending = s;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	snapshot_unref(old);
}

void mirror_stats(struct mirror *m, int *up, unsigned long long *errors)
{
	pthread_mutex_lock(&m->lock);
	*up = m->up;
	*errors = m->errors;
	pthread_mutex_unlock(&m->lock);
}

void mirror_stop(struct mirror *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	snapshot_unref(m->pending);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	free(m);
}
