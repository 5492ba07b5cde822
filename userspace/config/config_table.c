/* config_table.c - every setting as one row (YAML key, environment variable,
 * flag, type, place in struct obs_config, default, help), the flags that
 * are no one setting's own (--listen, --redis-password-file, --no-pin), and
 * the sources that go through the table: defaults, environment, flags. A
 * new setting is a new row here and a field in struct obs_config. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_table.h"
#include "lib/procfs.h"

#define STR(x)  STR_(x)
#define STR_(x) #x
/* Where a setting's value lives, and for a list where its count does. */
#define AT(field)          .at = offsetof(struct obs_config, field), .size = sizeof(((struct obs_config *)0)->field)
#define LIST_AT(field, nf) AT(field), .n_at = offsetof(struct obs_config, nf)

static const char *const levels[] = { "error", "warn", "info", "debug", NULL };      /* enum log_level */
static const char *const planes[] = { "auto", "socket", "fentry", "syscall", NULL }; /* enum obs_data_plane */

const struct setting config_settings[] = {
	{ .yaml = "exporter.prometheus.bind_address",
	  .env = "PROMETHEUS_BIND_ADDRESS",
	  .type = T_ADDR,
	  AT(listen_addr),
	  .def = "0.0.0.0",
	  .help = "address to serve /metrics on" },
	{ .yaml = "exporter.prometheus.metrics_port",
	  .env = "PROMETHEUS_METRICS_PORT",
	  .type = T_PORT,
	  AT(listen_port),
	  .def = "9093",
	  .help = "port to serve /metrics on" },
	{ .yaml = "exporter.redis.enabled",
	  .env = "REDIS_ENABLED",
	  .flag = "redis-enabled",
	  .type = T_BOOL,
	  AT(redis.enabled),
	  .def = "false",
	  .help = "mirror the metrics to Redis" },
	{ .yaml = "exporter.redis.host",
	  .env = "REDIS_HOST",
	  .flag = "redis-host",
	  .arg = "HOST",
	  .type = T_TEXT,
	  AT(redis.host),
	  .bad = "is empty: give a host name or address",
	  .def = "127.0.0.1",
	  .help = "Redis host" },
	{ .yaml = "exporter.redis.port",
	  .env = "REDIS_PORT",
	  .flag = "redis-port",
	  .type = T_PORT,
	  AT(redis.port),
	  .def = "6379",
	  .help = "Redis port" },
	{ .yaml = "exporter.redis.db",
	  .env = "REDIS_DB",
	  .flag = "redis-db",
	  .type = T_INT,
	  AT(redis.db),
	  .lo = 0,
	  .hi = 1000000,
	  .bad = "is not a database number: use 0 or more",
	  .def = "0",
	  .help = "Redis database number" },
	{ .yaml = "exporter.redis.password",
	  .env = "REDIS_PASSWORD",
	  .type = T_TEXT,
	  AT(redis.password),
	  .flags = SET_SECRET | SET_NULL_EMPTY,
	  .help = "Redis password; none: no AUTH" },
	{ .yaml = "exporter.redis.key_prefix",
	  .env = "REDIS_KEY_PREFIX",
	  .flag = "redis-key-prefix",
	  .arg = "PREFIX",
	  .type = T_TEXT,
	  AT(redis.prefix),
	  .bad = "is empty: give a prefix such as gunicorn",
	  .colon = "contains ':', which readers split keys on: remove it",
	  .def = "gunicorn",
	  .help = "prefix of every Redis key, without ':'" },
	{ .yaml = "exporter.redis.ttl_seconds",
	  .env = "REDIS_TTL_SECONDS",
	  .flag = "redis-ttl-seconds",
	  .arg = "S",
	  .type = T_INT,
	  AT(redis.ttl_seconds),
	  .lo = 1,
	  .hi = 2147483647,
	  .bad = "is not a number of seconds: use 1 or more",
	  .def = "300",
	  .help = "expiry of every Redis key, refreshed every pass" },
	{ .yaml = "exporter.redis.ttl_disabled",
	  .env = "REDIS_TTL_DISABLED",
	  .flag = "redis-ttl-disabled",
	  .type = T_BOOL,
	  AT(redis.ttl_disabled),
	  .def = "false",
	  .help = "keep Redis keys forever" },
	{ .yaml = "observer.pids",
	  .env = "GUNICORN_OBSERVER_PIDS",
	  .flag = "pid",
	  .letter = 'p',
	  .type = T_PIDS,
	  LIST_AT(pids, npids),
	  .flags = SET_REPEAT,
	  .help = "observe only this master; repeat it, or give a list (1,2), for more; all when none" },
	{ .yaml = "observer.match",
	  .env = "GUNICORN_OBSERVER_MATCH",
	  .flag = "match",
	  .type = T_TEXT,
	  AT(match),
	  .help = "observe only masters whose command line contains TEXT" },
	{ .yaml = "observer.stuck_threshold",
	  .env = "GUNICORN_OBSERVER_STUCK_THRESHOLD",
	  .flag = "stuck-threshold",
	  .type = T_SECONDS,
	  AT(stuck_threshold),
	  .lo = 0,
	  .hi = 86400,
	  .bad = "is not a number of seconds: use e.g. 15 or 0.5 (0: from --timeout)",
	  .def = "0",
	  .help =
	      "seconds busy on one request before a worker is stuck; 0: half the master's --timeout, else "
	      "15" },
	{ .yaml = "observer.log_level",
	  .env = "GUNICORN_OBSERVER_LOG_LEVEL",
	  .flag = "log-level",
	  .type = T_ENUM,
	  AT(level),
	  .names = levels,
	  .def = "info",
	  .help = "how much to log" },
	{ .yaml = "observer.mirror_interval",
	  .env = "GUNICORN_OBSERVER_MIRROR_INTERVAL",
	  .flag = "mirror-interval",
	  .type = T_SECONDS,
	  AT(redis.interval_s),
	  .lo = 0.1,
	  .hi = 3600,
	  .bad = "is not a number of seconds from 0.1 to 3600",
	  .def = "5",
	  .help = "seconds between two Redis mirror passes" },
	{ .yaml = "observer.endpoint.tls_cert",
	  .env = "GUNICORN_OBSERVER_TLS_CERT",
	  .flag = "tls-cert",
	  .arg = "FILE",
	  .type = T_TEXT,
	  AT(tls_cert),
	  .help = "serve /metrics over HTTPS with this PEM certificate (with --tls-key)" },
	{ .yaml = "observer.endpoint.tls_key",
	  .env = "GUNICORN_OBSERVER_TLS_KEY",
	  .flag = "tls-key",
	  .arg = "FILE",
	  .type = T_TEXT,
	  AT(tls_key),
	  .help = "the PEM private key of --tls-cert" },
	{ .yaml = "observer.endpoint.basic_auth_user",
	  .env = "GUNICORN_OBSERVER_BASIC_AUTH_USER",
	  .flag = "basic-auth-user",
	  .arg = "NAME",
	  .type = T_TEXT,
	  AT(auth_user),
	  .colon = "contains ':', which basic auth cannot carry in a user name",
	  .help = "require HTTP basic auth (not on /healthz) as NAME (with --basic-auth-password-file)" },
	{ .yaml = "observer.endpoint.basic_auth_password_file",
	  .env = "GUNICORN_OBSERVER_BASIC_AUTH_PASSWORD_FILE",
	  .flag = "basic-auth-password-file",
	  .arg = "FILE",
	  .type = T_TEXT,
	  AT(auth_password_file),
	  .help = "file holding the password's bcrypt ($2b$/$2y$) or sha256:<hex> hash; a plain password is "
		  "refused" },
	{ .yaml = "observer.endpoint.connection_limit",
	  .env = "GUNICORN_OBSERVER_CONNECTION_LIMIT",
	  .flag = "connection-limit",
	  .type = T_INT,
	  AT(http_conn_limit),
	  .lo = 1,
	  .hi = 65536,
	  .bad = "is not a number of connections from 1 to 65536",
	  .def = STR(OBS_HTTP_CONN_LIMIT),
	  .help = "HTTP connections open at once, all clients" },
	{ .yaml = "observer.endpoint.per_ip_connection_limit",
	  .env = "GUNICORN_OBSERVER_PER_IP_CONNECTION_LIMIT",
	  .flag = "per-ip-connection-limit",
	  .type = T_INT,
	  AT(http_per_ip_limit),
	  .lo = 0,
	  .hi = 65536,
	  .bad = "is not a number of connections from 0 (no limit) to 65536",
	  .def = STR(OBS_HTTP_PER_IP_LIMIT),
	  .help = "HTTP connections open at once from one address; 0: no limit" },
	{ .yaml = "observer.endpoint.connection_timeout",
	  .env = "GUNICORN_OBSERVER_CONNECTION_TIMEOUT",
	  .flag = "connection-timeout",
	  .arg = "S",
	  .type = T_INT,
	  AT(http_timeout_s),
	  .lo = 1,
	  .hi = 3600,
	  .bad = "is not a whole number of seconds from 1 to 3600",
	  .def = STR(OBS_HTTP_TIMEOUT_S),
	  .help = "seconds an idle HTTP connection is kept" },
	{ .yaml = "observer.buckets.duration",
	  .env = "GUNICORN_OBSERVER_DURATION_BUCKETS",
	  .flag = "duration-buckets",
	  .type = T_DURATIONS,
	  LIST_AT(dur_bounds, ndur),
	  .def = "0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60",
	  .help = "request duration histogram bounds, seconds" },
	{ .yaml = "observer.buckets.size",
	  .env = "GUNICORN_OBSERVER_SIZE_BUCKETS",
	  .flag = "size-buckets",
	  .type = T_SIZES,
	  LIST_AT(size_bounds, nsize),
	  .def = "128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304",
	  .help = "request and response size histogram bounds, bytes" },
	{ .yaml = "observer.pin",
	  .env = "GUNICORN_OBSERVER_PIN",
	  .flag = "pin",
	  .type = T_BOOL,
	  AT(pin),
	  .def = "true",
	  .help = "keep the BPF maps and programs pinned across restarts" },
	{ .yaml = "observer.pin_dir",
	  .env = "GUNICORN_OBSERVER_PIN_DIR",
	  .flag = "pin-dir",
	  .type = T_BPF_DIR,
	  AT(pin_dir),
	  .def = OBS_PIN_DIR_DEFAULT,
	  .help = "where to pin them, on a BPF filesystem" },
	{ .yaml = "observer.max_connections",
	  .env = "GUNICORN_OBSERVER_MAX_CONNECTIONS",
	  .flag = "max-connections",
	  .type = T_COUNT,
	  AT(max_conns),
	  .lo = 1,
	  .hi = 4194304,
	  .bad = "is not a whole number of connections from 1 to 4194304",
	  .def = STR(OBS_MAX_CONNS),
	  .help = "open connections followed at once; more are counted as dropped" },
	{ .yaml = "observer.max_workers",
	  .env = "GUNICORN_OBSERVER_MAX_WORKERS",
	  .flag = "max-workers",
	  .type = T_COUNT,
	  AT(max_workers),
	  .lo = 1,
	  .hi = OBS_MAX_WORKERS_LIMIT,
	  .bad = "is not a whole number of workers from 1 to 262144",
	  .def = STR(OBS_MAX_WORKERS),
	  .help = "workers (live, or exited and not yet read) whose counts the kernel keeps at once; sizes "
		  "the per-worker maps" },
	{ .yaml = "observer.data_plane",
	  .env = "GUNICORN_OBSERVER_DATA_PLANE",
	  .flag = "data-plane",
	  .type = T_ENUM,
	  AT(data_plane),
	  .names = planes,
	  .def = "auto",
	  .help = "how the kernel sees requests; auto: socket tracepoints where the kernel has them, else "
		  "fentry/fexit on the socket functions where it allows them, else syscall tracepoints" },
};

const int config_nsettings = (int)(sizeof(config_settings) / sizeof(config_settings[0]));

_Static_assert(sizeof(config_settings) / sizeof(config_settings[0]) <=
		   sizeof(((struct obs_sources *)0)->of) / sizeof(((struct obs_sources *)0)->of[0]),
	       "struct obs_sources has a source for every setting");

static void source(struct obs_sources *src, int id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void source(struct obs_sources *src, int id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(src->of[id], OBS_SOURCE_LEN, fmt, ap);
	va_end(ap);
}

void config_source(struct obs_sources *src, int id, const char *where)
{
	source(src, id, "%s", where);
}

int config_find(const char *yaml)
{
	for (int i = 0; i < config_nsettings; i++)
		if (strcmp(config_settings[i].yaml, yaml) == 0)
			return i;
	return -1;
}

int config_find_at(size_t at)
{
	for (int i = 0; i < config_nsettings; i++)
		if (config_settings[i].at == at)
			return i;
	return -1;
}

int config_set(struct obs_config *c, int id, const char *text, int append, char *err, size_t errlen)
{
	if (id < 0 || id >= config_nsettings)
		return errf(err, errlen, "is not a setting");
	return setting_parse(&config_settings[id], c, text, append, err, errlen);
}

void config_defaults(struct obs_config *c, struct obs_sources *src)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		if (setting_parse(s, c, s->def ? s->def : "", 0, err, sizeof(err))) {
			fprintf(stderr, "gunicorn-observer: the built-in default of %s '%s' %s\n", s->yaml,
				s->def ? s->def : "", err);
			abort(); /* a row of the table is wrong: see test_defaults */
		}
		source(src, i, "default");
	}
	c->proc_root = "/proc";
	c->pods_dir = "/var/log/pods";
	c->containers_dir = "/var/log/containers";
}

int config_plane_parse(const char *s)
{
	for (int i = 0; planes[i]; i++)
		if (strcmp(s, planes[i]) == 0)
			return i;
	return -1;
}

const char *config_plane_name(enum obs_data_plane p)
{
	return (unsigned)p < sizeof(planes) / sizeof(planes[0]) - 1 ? planes[p] : planes[0];
}

/* ---- the composite flags ------------------------------------------------ */

#define PLACE(field) offsetof(struct obs_config, field)

/* --listen ADDR:PORT, [V6]:PORT or :PORT sets two settings. */
static int set_listen(struct obs_config *c, struct obs_sources *src, const char *s, char *err, size_t errlen)
{
	const int port = config_find_at(PLACE(listen_port)), addr = config_find_at(PLACE(listen_addr));
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
	if (config_set(c, port, colon + 1, 0, err, errlen))
		return errf(err, errlen, "is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093");
	/* no address: every address */
	if (config_set(c, addr, hlen ? host : "0.0.0.0", 0, err, errlen))
		return -1;
	source(src, port, "flag --listen");
	source(src, addr, "flag --listen");
	return 0;
}

static int set_password_file(struct obs_config *c, struct obs_sources *src, const char *path, char *err,
			     size_t errlen)
{
	const int id = config_find_at(PLACE(redis.password));
	char buf[512];
	ssize_t n = procfs_read(path, buf, sizeof(buf));

	if (n < 0)
		return errf(err, errlen, "cannot be read (%s): give a readable file holding the password",
			    strerror(errno));
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (config_set(c, id, buf, 0, err, errlen))
		return -1;
	source(src, id, "flag --redis-password-file %s", path);
	return 0;
}

static int set_no_pin(struct obs_config *c, struct obs_sources *src, const char *unused, char *err,
		      size_t errlen)
{
	const int id = config_find_at(PLACE(pin));

	(void)unused;
	if (config_set(c, id, "false", 0, err, errlen))
		return -1;
	source(src, id, "flag --pin");
	return 0;
}

const struct config_composite config_composites[] = {
	{ .flag = "listen",
	  .letter = 'l',
	  .arg = "ADDR:PORT",
	  .sets = { PLACE(listen_addr), PLACE(listen_port) },
	  .nsets = 2,
	  .set = set_listen,
	  .help = "where to serve /metrics: ADDR:PORT, [V6]:PORT or :PORT (default 0.0.0.0:9093)" },
	{ .flag = "redis-password-file",
	  .arg = "FILE",
	  .sets = { PLACE(redis.password) },
	  .nsets = 1,
	  .set = set_password_file,
	  .help = "a file holding the Redis password (one line)" },
	{ .flag = "no-pin",
	  .sets = { PLACE(pin) },
	  .nsets = 1,
	  .set = set_no_pin,
	  .help = "do not pin them: the programs stop, and counts start afresh, when the observer does" },
};

const int config_ncomposites = (int)(sizeof(config_composites) / sizeof(config_composites[0]));

/* ---- the sources -------------------------------------------------------- */

int config_set_flag(struct obs_config *c, struct obs_sources *src, const char *flag, const char *text,
		    char *err, size_t errlen)
{
	for (int i = 0; i < config_ncomposites; i++)
		if (strcmp(config_composites[i].flag, flag) == 0)
			return config_composites[i].set(c, src, text, err, errlen);
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		int append;

		if (!s->flag || strcmp(s->flag, flag) != 0)
			continue;
		/* a repeated --pid adds to the first; it replaces other sources */
		append = (s->flags & SET_REPEAT) && strncmp(src->of[i], "flag", 4) == 0;
		if (setting_parse(s, c, text, append, err, errlen))
			return -1;
		source(src, i, "flag --%s", flag);
		return 0;
	}
	return -2;
}

int config_from_env(struct obs_config *c, struct obs_sources *src)
{
	char err[256];

	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		const char *v = getenv(s->env);

		if (!v || !*v)
			continue;
		if (setting_parse(s, c, v, 0, err, sizeof(err))) {
			fprintf(stderr, "gunicorn-observer: %s='%s' %s\n", s->env,
				s->flags & SET_SECRET ? "***" : v, err);
			return -1;
		}
		source(src, i, "env %s", s->env);
	}
	return 0;
}
