/* config.c - the table of settings (YAML path, environment variable, flag,
 * type), the parsers of their values, and the precedence of the sources.
 * Every source goes through the same setters, so a value means the same
 * whether it comes from a flag, the environment or the file. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/config_table.h"
#include "lib/log.h"
#include "lib/procfs.h"

static const double default_dur[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				      0.5,   1,      2.5,   5,    10,    30,   60 };
static const double default_size[] = { 128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304 };

const struct setting settings[] = {
	[S_BIND] = { "exporter.prometheus.bind_address", "PROMETHEUS_BIND_ADDRESS", NULL, T_ADDR,
		     "address to serve /metrics on (also --listen ADDR:PORT)" },
	[S_PORT] = { "exporter.prometheus.metrics_port", "PROMETHEUS_METRICS_PORT", NULL, T_PORT,
		     "port to serve /metrics on (also --listen ADDR:PORT)" },
	[S_PIDS] = { "observer.pids", "GUNICORN_OBSERVER_PIDS", "pid", T_PIDS, "observe only these masters" },
	[S_MATCH] = { "observer.match", "GUNICORN_OBSERVER_MATCH", "match", T_MATCH,
		      "observe only masters whose command line contains this text" },
	[S_TLSCERT] = { "observer.endpoint.tls_cert", "GUNICORN_OBSERVER_TLS_CERT", "tls-cert", T_PATH,
			"PEM certificate: serve /metrics over HTTPS (with --tls-key)" },
	[S_TLSKEY] = { "observer.endpoint.tls_key", "GUNICORN_OBSERVER_TLS_KEY", "tls-key", T_PATH,
		       "PEM private key of --tls-cert" },
	[S_AUTHUSER] = { "observer.endpoint.basic_auth_user", "GUNICORN_OBSERVER_BASIC_AUTH_USER",
			 "basic-auth-user", T_USER,
			 "user name for HTTP basic auth (with --basic-auth-password-file)" },
	[S_AUTHFILE] = { "observer.endpoint.basic_auth_password_file",
			 "GUNICORN_OBSERVER_BASIC_AUTH_PASSWORD_FILE", "basic-auth-password-file", T_PATH,
			 "file holding the password's bcrypt ($2b$/$2y$) or sha256:<hex> hash" },
	[S_CONNLIMIT] = { "observer.endpoint.connection_limit", "GUNICORN_OBSERVER_CONNECTION_LIMIT",
			  "connection-limit", T_LIMIT, "HTTP connections open at once, all clients" },
	[S_IPLIMIT] = { "observer.endpoint.per_ip_connection_limit",
			"GUNICORN_OBSERVER_PER_IP_CONNECTION_LIMIT", "per-ip-connection-limit", T_LIMIT,
			"HTTP connections open at once from one address" },
	[S_CONNTIMEOUT] = { "observer.endpoint.connection_timeout", "GUNICORN_OBSERVER_CONNECTION_TIMEOUT",
			    "connection-timeout", T_LIMIT, "seconds an idle HTTP connection is kept" },
	[S_DUR] = { "observer.buckets.duration", "GUNICORN_OBSERVER_DURATION_BUCKETS", "duration-buckets",
		    T_BUCKETS, "request duration histogram bounds, seconds" },
	[S_SIZE] = { "observer.buckets.size", "GUNICORN_OBSERVER_SIZE_BUCKETS", "size-buckets", T_BUCKETS,
		     "request and response size histogram bounds, bytes" },
	[S_PIN] = { "observer.pin", "GUNICORN_OBSERVER_PIN", "pin", T_BOOL,
		    "keep the BPF maps and programs pinned across restarts (--no-pin: false)" },
	[S_PINDIR] = { "observer.pin_dir", "GUNICORN_OBSERVER_PIN_DIR", "pin-dir", T_PATH,
		       "where to pin them, on a BPF filesystem" },
	[S_MAXCONN] = { "observer.max_connections", "GUNICORN_OBSERVER_MAX_CONNECTIONS", "max-connections",
			T_COUNT_CONNS, "open connections followed at once; more are counted as dropped" },
	[S_MAXWORKERS] = { "observer.max_workers", "GUNICORN_OBSERVER_MAX_WORKERS", "max-workers",
			   T_COUNT_WORKERS,
			   "workers (live, or exited and not yet read) whose counts the kernel keeps at "
			   "once; "
			   "sizes the per-worker maps" },
	[S_PLANE] = { "observer.data_plane", "GUNICORN_OBSERVER_DATA_PLANE", "data-plane", T_PLANE,
		      "auto (socket tracepoints where the kernel has them), socket or syscall" },
	[S_STUCK] = { "observer.stuck_threshold", "GUNICORN_OBSERVER_STUCK_THRESHOLD", "stuck-threshold",
		      T_SECONDS,
		      "seconds busy on one request before a worker is stuck; 0: half the master's --timeout, "
		      "else 15" },
	[S_LEVEL] = { "observer.log_level", "GUNICORN_OBSERVER_LOG_LEVEL", "log-level", T_LEVEL,
		      "error, warn, info or debug" },
	[S_INTERVAL] = { "observer.mirror_interval", "GUNICORN_OBSERVER_MIRROR_INTERVAL", "mirror-interval",
			 T_SECONDS, "seconds between two Redis mirror passes" },
	[S_REDIS] = { "exporter.redis.enabled", "REDIS_ENABLED", "redis-enabled", T_BOOL, "mirror to Redis" },
	[S_RHOST] = { "exporter.redis.host", "REDIS_HOST", "redis-host", T_HOST, "Redis host" },
	[S_RPORT] = { "exporter.redis.port", "REDIS_PORT", "redis-port", T_PORT, "Redis port" },
	[S_RDB] = { "exporter.redis.db", "REDIS_DB", "redis-db", T_DB, "Redis database number" },
	[S_RPASS] = { "exporter.redis.password", "REDIS_PASSWORD", NULL, T_PASSWORD,
		      "Redis password (also --redis-password-file FILE)" },
	[S_RPREFIX] = { "exporter.redis.key_prefix", "REDIS_KEY_PREFIX", "redis-key-prefix", T_PREFIX,
			"prefix of every Redis key" },
	[S_RTTL] = { "exporter.redis.ttl_seconds", "REDIS_TTL_SECONDS", "redis-ttl-seconds", T_TTL,
		     "expiry of every Redis key, refreshed every pass" },
	[S_RNOTTL] = { "exporter.redis.ttl_disabled", "REDIS_TTL_DISABLED", "redis-ttl-disabled", T_BOOL,
		       "keep Redis keys forever" },
};

const char *const config_flags[] = { "listen",
				     "pid",
				     "match",
				     "duration-buckets",
				     "size-buckets",
				     "pin",
				     "pin-dir",
				     "max-connections",
				     "max-workers",
				     "data-plane",
				     "stuck-threshold",
				     "log-level",
				     "mirror-interval",
				     "tls-cert",
				     "tls-key",
				     "basic-auth-user",
				     "basic-auth-password-file",
				     "connection-limit",
				     "per-ip-connection-limit",
				     "connection-timeout",
				     "redis-enabled",
				     "redis-host",
				     "redis-port",
				     "redis-db",
				     "redis-password-file",
				     "redis-key-prefix",
				     "redis-ttl-seconds",
				     "redis-ttl-disabled",
				     NULL };

static void source(struct obs_sources *src, enum setting_id id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void source(struct obs_sources *src, enum setting_id id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(src->of[id], OBS_SOURCE_LEN, fmt, ap);
	va_end(ap);
}

void config_defaults(struct obs_config *c, struct obs_sources *src)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_addr, sizeof(c->listen_addr), "0.0.0.0");
	c->listen_port = 9093;
	c->level = LOG_INFO;
	c->ndur = sizeof(default_dur) / sizeof(default_dur[0]);
	memcpy(c->dur_bounds, default_dur, sizeof(default_dur));
	c->nsize = sizeof(default_size) / sizeof(default_size[0]);
	memcpy(c->size_bounds, default_size, sizeof(default_size));
	snprintf(c->redis.host, sizeof(c->redis.host), "127.0.0.1");
	c->redis.port = 6379;
	snprintf(c->redis.prefix, sizeof(c->redis.prefix), "gunicorn");
	c->redis.ttl_seconds = 300;
	c->redis.interval_s = 5;
	c->pin = 1;
	c->max_conns = OBS_MAX_CONNS;
	c->max_workers = OBS_MAX_WORKERS;
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", OBS_PIN_DIR_DEFAULT);
	c->http_conn_limit = OBS_HTTP_CONN_LIMIT;
	c->http_per_ip_limit = OBS_HTTP_PER_IP_LIMIT;
	c->http_timeout_s = OBS_HTTP_TIMEOUT_S;
	c->proc_root = "/proc";
	c->pods_dir = "/var/log/pods";
	c->containers_dir = "/var/log/containers";
	for (int i = 0; i < S_COUNT; i++)
		source(src, (enum setting_id)i, "default");
}

static const char *const plane_names[] = { "auto", "socket", "syscall" };

int config_plane_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, plane_names[i]) == 0)
			return i;
	return -1;
}

const char *config_plane_name(enum obs_data_plane p)
{
	return (unsigned)p < 3 ? plane_names[p] : "auto";
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v != v || v > 1e300 || v < -1e300)
		return -1; /* NaN and infinities are no bounds or durations */
	*out = v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off",
										       "0" };

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Splits a list given as "a,b c" (flags, environment, a YAML sequence
 * joined by commas) and parses each item as a number. */
static int parse_list(const char *s, double *out, size_t max, size_t *n, char *err, size_t errlen)
{
	char buf[1024], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return errf(err, errlen, "is too long");
	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (*n == max)
			return errf(err, errlen, "has more than %zu values", max);
		if (parse_double(t, &out[*n]))
			return errf(err, errlen, "has '%s', which is not a number", t);
		(*n)++;
	}
	return 0;
}

static int set_buckets(double *bounds, size_t *nb, size_t max, int whole, const char *s, char *err,
		       size_t errlen)
{
	double v[OBS_MAX_DUR_BOUNDS + OBS_MAX_SIZE_BOUNDS];
	size_t n;

	if (parse_list(s, v, max, &n, err, errlen))
		return -1;
	if (n == 0)
		return errf(err, errlen, "is empty: give increasing bucket bounds such as 0.1,0.5,1");
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] > 0))
			return errf(err, errlen, "has %g: bucket bounds must be greater than 0", v[i]);
		/* the loader gives BPF each bound as a u64 of bytes or nanoseconds */
		if (whole && v[i] >= 0x1p64)
			return errf(err, errlen, "has %g: size bounds must be below 2^64 bytes", v[i]);
		if (!whole && v[i] * 1e9 >= 0x1p64)
			return errf(err, errlen, "has %g: duration bounds must be below 1.8e10 seconds",
				    v[i]);
		if (whole && v[i] != (double)(unsigned long long)v[i])
			return errf(err, errlen, "has %g: size bounds are whole bytes", v[i]);
		if (i && !(v[i] > v[i - 1]))
			return errf(err, errlen,
				    "is not increasing (%g after %g): list the bounds in increasing order",
				    v[i], v[i - 1]);
	}
	memcpy(bounds, v, n * sizeof(*v));
	*nb = n;
	return 0;
}

static int set_pids(struct obs_config *c, const char *s, int append, char *err, size_t errlen)
{
	double v[OBS_MAX_PIDS];
	size_t n;

	if (parse_list(s, v, OBS_MAX_PIDS, &n, err, errlen))
		return strstr(err, "more than")
			   ? -1
			   : errf(err, errlen, "is not a process id: give positive whole numbers");
	if (!append)
		c->npids = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < 1 || v[i] > 4194304 || v[i] != (double)(pid_t)v[i])
			return errf(err, errlen,
				    "has %.15g, which is not a process id: give positive whole numbers",
				    v[i]);
		if (c->npids == OBS_MAX_PIDS)
			return errf(err, errlen, "names more than %d masters", OBS_MAX_PIDS);
		c->pids[c->npids++] = (pid_t)v[i];
	}
	return 0;
}

static int copy_text(char *dst, size_t size, const char *s, char *err, size_t errlen)
{
	if (strlen(s) >= size)
		return errf(err, errlen, "is longer than %zu characters", size - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int config_set(struct obs_config *c, enum setting_id id, const char *s, int append, char *err, size_t errlen)
{
	unsigned char addr[16];
	double d;
	long v;

	switch (id) {
	case S_BIND:
		if (inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1)
			return errf(err, errlen, "is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or ::");
		return copy_text(c->listen_addr, sizeof(c->listen_addr), s, err, errlen);
	case S_PORT:
	case S_RPORT:
		if (parse_long(s, 1, 65535, &v))
			return errf(err, errlen, "is not a port: use a number from 1 to 65535");
		*(id == S_PORT ? &c->listen_port : &c->redis.port) = (unsigned short)v;
		return 0;
	case S_PIDS:
		return set_pids(c, s, append, err, errlen);
	case S_MATCH:
		return copy_text(c->match, sizeof(c->match), s, err, errlen);
	case S_PIN:
		if (parse_bool(s, &c->pin))
			return errf(err, errlen, "is not true or false");
		return 0;
	case S_PINDIR:
		if (s[0] != '/')
			return errf(err, errlen, "is not an absolute path: use e.g. " OBS_PIN_DIR_DEFAULT);
		if (strchr(strrchr(s, '/'), '.'))
			return errf(err, errlen, "has a '.' in its name, which the BPF filesystem refuses");
		return copy_text(c->pin_dir, sizeof(c->pin_dir), s, err, errlen);
	case S_MAXCONN:
		if (parse_double(s, &d) || d < 1 || d > 4194304 || d != (unsigned)d)
			return errf(err, errlen, "is not a whole number of connections from 1 to 4194304");
		c->max_conns = (unsigned)d;
		return 0;
	case S_MAXWORKERS:
		if (parse_double(s, &d) || d < 1 || d > OBS_MAX_WORKERS_LIMIT || d != (unsigned)d)
			return errf(err, errlen, "is not a whole number of workers from 1 to 262144");
		c->max_workers = (unsigned)d;
		return 0;
	case S_PLANE:
		if (config_plane_parse(s) < 0)
			return errf(err, errlen, "is unknown: use auto, socket or syscall");
		c->data_plane = (enum obs_data_plane)config_plane_parse(s);
		return 0;
	case S_TLSCERT:
	case S_TLSKEY:
	case S_AUTHFILE: /* "" turns TLS or basic auth off, as --print-config shows it */
		return copy_text(id == S_TLSCERT  ? c->tls_cert
				 : id == S_TLSKEY ? c->tls_key
						  : c->auth_password_file,
				 256, s, err, errlen);
	case S_AUTHUSER:
		if (strchr(s, ':'))
			return errf(err, errlen,
				    "contains ':', which basic auth cannot carry in a user name");
		return copy_text(c->auth_user, sizeof(c->auth_user), s, err, errlen);
	case S_CONNLIMIT:
		if (parse_long(s, 1, 65536, &v))
			return errf(err, errlen, "is not a number of connections from 1 to 65536");
		c->http_conn_limit = (unsigned)v;
		return 0;
	case S_IPLIMIT:
		if (parse_long(s, 0, 65536, &v))
			return errf(err, errlen, "is not a number of connections from 0 (no limit) to 65536");
		c->http_per_ip_limit = (unsigned)v;
		return 0;
	case S_CONNTIMEOUT:
		if (parse_long(s, 1, 3600, &v))
			return errf(err, errlen, "is not a whole number of seconds from 1 to 3600");
		c->http_timeout_s = (unsigned)v;
		return 0;
	case S_DUR:
		return set_buckets(c->dur_bounds, &c->ndur, OBS_MAX_DUR_BOUNDS, 0, s, err, errlen);
	case S_SIZE:
		return set_buckets(c->size_bounds, &c->nsize, OBS_MAX_SIZE_BOUNDS, 1, s, err, errlen);
	case S_STUCK:
		if (parse_double(s, &d) || d < 0 || d > 86400)
			return errf(err, errlen,
				    "is not a number of seconds: use e.g. 15 or 0.5 (0: from --timeout)");
		c->stuck_threshold = d;
		return 0;
	case S_INTERVAL:
		if (parse_double(s, &d) || d < 0.1 || d > 3600)
			return errf(err, errlen, "is not a number of seconds from 0.1 to 3600");
		c->redis.interval_s = d;
		return 0;
	case S_LEVEL:
		if (log_level_parse(s, &c->level))
			return errf(err, errlen, "is unknown: use error, warn, info or debug");
		return 0;
	case S_REDIS:
	case S_RNOTTL:
		if (parse_bool(s, id == S_REDIS ? &c->redis.enabled : &c->redis.ttl_disabled))
			return errf(err, errlen, "is not true or false");
		return 0;
	case S_RHOST:
		if (!*s)
			return errf(err, errlen, "is empty: give a host name or address");
		return copy_text(c->redis.host, sizeof(c->redis.host), s, err, errlen);
	case S_RDB:
		if (parse_long(s, 0, 1000000, &v))
			return errf(err, errlen, "is not a database number: use 0 or more");
		c->redis.db = (int)v;
		return 0;
	case S_RPASS:
		return copy_text(c->redis.password, sizeof(c->redis.password), s, err, errlen);
	case S_RPREFIX:
		if (!*s)
			return errf(err, errlen, "is empty: give a prefix such as gunicorn");
		if (strchr(s, ':'))
			return errf(err, errlen, "contains ':', which readers split keys on: remove it");
		return copy_text(c->redis.prefix, sizeof(c->redis.prefix), s, err, errlen);
	case S_RTTL:
		if (parse_long(s, 1, 2147483647, &v))
			return errf(err, errlen, "is not a number of seconds: use 1 or more");
		c->redis.ttl_seconds = (unsigned)v;
		return 0;
	case S_COUNT:
		break;
	}
	return errf(err, errlen, "is not a setting");
}

void config_source(struct obs_sources *src, enum setting_id id, const char *where)
{
	source(src, id, "%s", where);
}

/* --listen ADDR:PORT, [V6]:PORT or :PORT sets two settings. */
static int set_listen(struct obs_config *c, struct obs_sources *src, const char *s, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hlen;

	if (!colon)
		return errf(err, errlen, "is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093");
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return errf(err, errlen, "has an address that is too long");
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (config_set(c, S_PORT, colon + 1, 0, err, errlen))
		return errf(err, errlen, "is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093");
	if (hlen && config_set(c, S_BIND, host, 0, err, errlen))
		return -1;
	if (!hlen)
		snprintf(c->listen_addr, sizeof(c->listen_addr), "0.0.0.0");
	source(src, S_PORT, "flag --listen");
	source(src, S_BIND, "flag --listen");
	return 0;
}

static int set_password_file(struct obs_config *c, struct obs_sources *src, const char *path, char *err,
			     size_t errlen)
{
	char buf[512];
	ssize_t n = procfs_read(path, buf, sizeof(buf));

	if (n < 0)
		return errf(err, errlen, "cannot be read (%s): give a readable file holding the password",
			    strerror(errno));
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (copy_text(c->redis.password, sizeof(c->redis.password), buf, err, errlen))
		return -1;
	source(src, S_RPASS, "flag --redis-password-file %s", path);
	return 0;
}

int config_set_flag(struct obs_config *c, struct obs_sources *src, const char *flag, const char *text,
		    char *err, size_t errlen)
{
	if (strcmp(flag, "listen") == 0)
		return set_listen(c, src, text, err, errlen);
	if (strcmp(flag, "redis-password-file") == 0)
		return set_password_file(c, src, text, err, errlen);
	for (int i = 0; i < S_COUNT; i++) {
		const struct setting *s = &settings[i];
		int append;

		if (!s->flag || strcmp(s->flag, flag) != 0)
			continue;
		/* a repeated --pid adds to the first; it replaces other sources */
		append = i == S_PIDS && strncmp(src->of[i], "flag", 4) == 0;
		if (config_set(c, (enum setting_id)i, text, append, err, errlen))
			return -1;
		source(src, (enum setting_id)i, "flag --%s", flag);
		return 0;
	}
	return -2;
}

int config_from_env(struct obs_config *c, struct obs_sources *src)
{
	char err[256];

	for (int i = 0; i < S_COUNT; i++) {
		const char *v = getenv(settings[i].env);

		if (!v || !*v)
			continue;
		if (config_set(c, (enum setting_id)i, v, 0, err, sizeof(err))) {
			fprintf(stderr, "gunicorn-observer: %s='%s' %s\n", settings[i].env,
				i == S_RPASS ? "***" : v, err);
			return -1;
		}
		source(src, (enum setting_id)i, "env %s", settings[i].env);
	}
	return 0;
}

int config_validate(const struct obs_config *c)
{
	if (!c->tls_cert[0] != !c->tls_key[0]) {
		fprintf(stderr, "gunicorn-observer: %s: give both --tls-cert and --tls-key, or neither\n",
			c->tls_cert[0] ? "a TLS certificate without a key"
				       : "a TLS key without a certificate");
		return -1;
	}
	if (!c->auth_user[0] != !c->auth_password_file[0]) {
		fprintf(stderr,
			"gunicorn-observer: %s: give both --basic-auth-user and "
			"--basic-auth-password-file, or neither\n",
			c->auth_user[0] ? "a basic auth user without a password file"
					: "a basic auth password file without a user");
		return -1;
	}
	if (c->http_per_ip_limit > c->http_conn_limit) {
		fprintf(stderr,
			"gunicorn-observer: the per-IP connection limit (%u) is above the connection limit "
			"(%u): lower --per-ip-connection-limit or raise --connection-limit\n",
			c->http_per_ip_limit, c->http_conn_limit);
		return -1;
	}
	if (c->redis.enabled && !c->redis.ttl_disabled && c->redis.ttl_seconds < c->redis.interval_s) {
		fprintf(stderr,
			"gunicorn-observer: the Redis TTL (%u s) is shorter than the mirror interval (%g s): "
			"keys would "
			"expire between passes; raise REDIS_TTL_SECONDS or lower the interval\n",
			c->redis.ttl_seconds, c->redis.interval_s);
		return -1;
	}
	return 0;
}

int config_wants_pid(const struct obs_config *c, pid_t pid)
{
	if (c->npids == 0)
		return 1;
	for (size_t i = 0; i < c->npids; i++)
		if (c->pids[i] == pid)
			return 1;
	return 0;
}

int config_wants_cmdline(const struct obs_config *c, char *const *argv, int argc)
{
	char line[4096];
	size_t off = 0;

	if (!c->match[0])
		return 1;
	line[0] = '\0';
	for (int i = 0; i < argc && off < sizeof(line) - 1; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, i ? " %s" : "%s", argv[i]);
	return strstr(line, c->match) != NULL;
}
