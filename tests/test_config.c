/* test_config.c - the configuration system: the settings table (every row
 * whole and consistent, README.md's configuration table in step with it),
 * every setting's parser with good and bad values (config_set), the flags
 * (config_set_flag: --listen forms, repeated --pid, --redis-password-file),
 * the environment (every name, the Python exporter's included), the YAML
 * file (every setting with its source line, every error as the exact
 * "FILE:LINE:COL: what is wrong", the notices for the Python exporter's
 * in-process keys), the nearest-key suggestion, --print-config (exact
 * output, source comments, and a round trip through the file reader) and
 * the command line (cli_configure: --help made from the table, the short
 * and composite flags, one exact line per bad option).
 *
 * Build and run from the repository root:
 *   make unit && build/tests/test_config
 *
 * Messages are asserted on the real stderr, captured into a temporary file
 * with dup2 around each call.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/cli.h"
#include "config/config.h"
#include "config/config_table.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];      /* temporary directory of this run */
static char cap_path[96]; /* stderr is captured here */
static int saved_stderr = -1;
static char captured[16384];

/* Every setting: its YAML key, its environment name (the issue's, the
 * Python exporter's among them), the value of it that assert_all_good wants
 * (as the environment gives it) and the line of full_file that sets it (a
 * block sequence starts at its first item). */
static const struct known {
	const char *yaml, *env, *good;
	int line;
} known[] = {
	{ "exporter.prometheus.bind_address", "PROMETHEUS_BIND_ADDRESS", "127.0.0.1", 5 },
	{ "exporter.prometheus.metrics_port", "PROMETHEUS_METRICS_PORT", "9100", 4 },
	{ "exporter.redis.enabled", "REDIS_ENABLED", "true", 12 },
	{ "exporter.redis.host", "REDIS_HOST", "redis.internal", 13 },
	{ "exporter.redis.port", "REDIS_PORT", "6380", 14 },
	{ "exporter.redis.db", "REDIS_DB", "3", 15 },
	{ "exporter.redis.password", "REDIS_PASSWORD", "s3cret", 16 },
	{ "exporter.redis.key_prefix", "REDIS_KEY_PREFIX", "shop", 17 },
	{ "exporter.redis.ttl_seconds", "REDIS_TTL_SECONDS", "600", 18 },
	{ "exporter.redis.ttl_disabled", "REDIS_TTL_DISABLED", "1", 19 },
	{ "observer.pids", "GUNICORN_OBSERVER_PIDS", "101,202", 23 },
	{ "observer.match", "GUNICORN_OBSERVER_MATCH", "shop.wsgi", 24 },
	{ "observer.stuck_threshold", "GUNICORN_OBSERVER_STUCK_THRESHOLD", "2.5", 25 },
	{ "observer.log_level", "GUNICORN_OBSERVER_LOG_LEVEL", "debug", 26 },
	{ "observer.mirror_interval", "GUNICORN_OBSERVER_MIRROR_INTERVAL", "0.5", 27 },
	{ "observer.endpoint.tls_cert", "GUNICORN_OBSERVER_TLS_CERT", "/etc/go/cert.pem", 37 },
	{ "observer.endpoint.tls_key", "GUNICORN_OBSERVER_TLS_KEY", "/etc/go/key.pem", 38 },
	{ "observer.endpoint.basic_auth_user", "GUNICORN_OBSERVER_BASIC_AUTH_USER", "prom", 39 },
	{ "observer.endpoint.basic_auth_password_file", "GUNICORN_OBSERVER_BASIC_AUTH_PASSWORD_FILE",
	  "/etc/go/pw.hash", 40 },
	{ "observer.endpoint.connection_limit", "GUNICORN_OBSERVER_CONNECTION_LIMIT", "100", 41 },
	{ "observer.endpoint.per_ip_connection_limit", "GUNICORN_OBSERVER_PER_IP_CONNECTION_LIMIT", "4", 42 },
	{ "observer.endpoint.connection_timeout", "GUNICORN_OBSERVER_CONNECTION_TIMEOUT", "5", 43 },
	{ "observer.buckets.duration", "GUNICORN_OBSERVER_DURATION_BUCKETS", "0.005,0.05,0.5,5", 29 },
	{ "observer.buckets.size", "GUNICORN_OBSERVER_SIZE_BUCKETS", "100 1000 10000", 31 },
	{ "observer.pin", "GUNICORN_OBSERVER_PIN", "false", 34 },
	{ "observer.pin_dir", "GUNICORN_OBSERVER_PIN_DIR", "/sys/fs/bpf/shop", 35 },
	{ "observer.max_connections", "GUNICORN_OBSERVER_MAX_CONNECTIONS", "4096", 44 },
	{ "observer.max_workers", "GUNICORN_OBSERVER_MAX_WORKERS", "512", 46 },
	{ "observer.data_plane", "GUNICORN_OBSERVER_DATA_PLANE", "syscall", 45 },
};

/* The row of the setting with this YAML key; fails the test when none. */
static int key_id(const char *yaml)
{
	int id = config_find(yaml);

	if (id < 0)
		fail_msg("no setting %s in the table", yaml);
	return id;
}

/* The settings the tests name. */
#define S_BIND        key_id("exporter.prometheus.bind_address")
#define S_PORT        key_id("exporter.prometheus.metrics_port")
#define S_REDIS       key_id("exporter.redis.enabled")
#define S_RHOST       key_id("exporter.redis.host")
#define S_RPORT       key_id("exporter.redis.port")
#define S_RDB         key_id("exporter.redis.db")
#define S_RPASS       key_id("exporter.redis.password")
#define S_RPREFIX     key_id("exporter.redis.key_prefix")
#define S_RTTL        key_id("exporter.redis.ttl_seconds")
#define S_RNOTTL      key_id("exporter.redis.ttl_disabled")
#define S_PIDS        key_id("observer.pids")
#define S_MATCH       key_id("observer.match")
#define S_STUCK       key_id("observer.stuck_threshold")
#define S_LEVEL       key_id("observer.log_level")
#define S_INTERVAL    key_id("observer.mirror_interval")
#define S_TLSCERT     key_id("observer.endpoint.tls_cert")
#define S_TLSKEY      key_id("observer.endpoint.tls_key")
#define S_AUTHUSER    key_id("observer.endpoint.basic_auth_user")
#define S_AUTHFILE    key_id("observer.endpoint.basic_auth_password_file")
#define S_CONNLIMIT   key_id("observer.endpoint.connection_limit")
#define S_IPLIMIT     key_id("observer.endpoint.per_ip_connection_limit")
#define S_CONNTIMEOUT key_id("observer.endpoint.connection_timeout")
#define S_DUR         key_id("observer.buckets.duration")
#define S_SIZE        key_id("observer.buckets.size")
#define S_PIN         key_id("observer.pin")
#define S_PINDIR      key_id("observer.pin_dir")
#define S_MAXCONN     key_id("observer.max_connections")
#define S_MAXWORKERS  key_id("observer.max_workers")
#define S_PLANE       key_id("observer.data_plane")
#define S_COUNT       config_nsettings

/* ---- helpers ------------------------------------------------------------ */

static void cap_start(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
}

/* Ends the capture and returns what was written to stderr. */
static const char *cap_end(void)
{
	FILE *f;
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	f = fopen(cap_path, "r");
	assert_non_null(f);
	n = fread(captured, 1, sizeof(captured) - 1, f);
	captured[n] = '\0';
	fclose(f);
	return captured;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Writes text into DIR/name; returns the path (static, one per name slot). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];
	FILE *f;

	snprintf(p, 256, "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	return p;
}

static void unset_all_env(void)
{
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		unsetenv(known[i].env);
	for (int i = 0; i < config_nsettings; i++)
		unsetenv(config_settings[i].env);
	unsetenv("GUNICORN_OBSERVER_CONFIG");
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", dir);
	unset_all_env();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* config_set must accept text for id. */
static void set_ok(struct obs_config *c, int id, const char *text)
{
	char err[256] = "";
	int rc = config_set(c, id, text, 0, err, sizeof(err));

	if (rc != 0)
		fail_msg("%s '%s' rejected: %s", config_settings[id].yaml, text, err);
}

/* config_set must reject text for id with exactly want as the message. */
static void set_bad(struct obs_config *c, int id, const char *text, const char *want)
{
	char err[256] = "";
	int rc = config_set(c, id, text, 0, err, sizeof(err));

	if (rc != -1)
		fail_msg("%s '%s' accepted (rc %d), want '%s'", config_settings[id].yaml, text, rc, want);
	if (strcmp(err, want) != 0)
		fail_msg("%s '%s': message '%s', want '%s'", config_settings[id].yaml, text, err, want);
}

/* A count setting id, held in *v: 1 to max taken, anything else refused with msg. */
static void check_count(struct obs_config *c, int id, const unsigned *v, unsigned max, const char *msg)
{
	char text[32];

	set_ok(c, id, "1");
	assert_true(*v == 1);
	snprintf(text, sizeof(text), "%u", max);
	set_ok(c, id, text);
	assert_true(*v == max);
	set_ok(c, id, "64");
	snprintf(text, sizeof(text), "%u", max + 1);
	for (const char *const *bad = (const char *const[]){ "0", text, "1.5", "-3", "many", "", NULL }; *bad;
	     bad++)
		set_bad(c, id, *bad, msg);
	assert_true(*v == 64);
}

static void fresh(struct obs_config *c, struct obs_sources *src)
{
	config_defaults(c, src);
}

/* The non-default value of every setting that the env, flag and file tests set. */
static void assert_all_good(const struct obs_config *c)
{
	static const double dur[] = { 0.005, 0.05, 0.5, 5 }, size[] = { 100, 1000, 10000 };

	assert_string_equal(c->listen_addr, "127.0.0.1");
	assert_int_equal(c->listen_port, 9100);
	assert_int_equal(c->redis.enabled, 1);
	assert_string_equal(c->redis.host, "redis.internal");
	assert_int_equal(c->redis.port, 6380);
	assert_int_equal(c->redis.db, 3);
	assert_string_equal(c->redis.password, "s3cret");
	assert_string_equal(c->redis.prefix, "shop");
	assert_int_equal(c->redis.ttl_seconds, 600);
	assert_int_equal(c->redis.ttl_disabled, 1);
	assert_int_equal(c->npids, 2);
	assert_int_equal(c->pids[0], 101);
	assert_int_equal(c->pids[1], 202);
	assert_string_equal(c->match, "shop.wsgi");
	assert_true(c->stuck_threshold == 2.5);
	assert_int_equal(c->level, LOG_DEBUG);
	assert_true(c->redis.interval_s == 0.5);
	assert_int_equal(c->ndur, ARRAY_LEN(dur));
	assert_memory_equal(c->dur_bounds, dur, sizeof(dur));
	assert_int_equal(c->nsize, ARRAY_LEN(size));
	assert_memory_equal(c->size_bounds, size, sizeof(size));
	assert_int_equal(c->pin, 0);
	assert_string_equal(c->pin_dir, "/sys/fs/bpf/shop");
	assert_int_equal(c->max_conns, 4096);
	assert_int_equal(c->max_workers, 512);
	assert_int_equal(c->data_plane, OBS_PLANE_SYSCALL);
	assert_string_equal(c->tls_cert, "/etc/go/cert.pem");
	assert_string_equal(c->tls_key, "/etc/go/key.pem");
	assert_string_equal(c->auth_user, "prom");
	assert_string_equal(c->auth_password_file, "/etc/go/pw.hash");
	assert_int_equal(c->http_conn_limit, 100);
	assert_int_equal(c->http_per_ip_limit, 4);
	assert_int_equal(c->http_timeout_s, 5);
}

/* Every field of two configurations, the password apart. */
static void assert_config_equal_but_password(const struct obs_config *a, const struct obs_config *b)
{
	assert_string_equal(a->listen_addr, b->listen_addr);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_int_equal(a->npids, b->npids);
	assert_memory_equal(a->pids, b->pids, a->npids * sizeof(a->pids[0]));
	assert_string_equal(a->match, b->match);
	assert_int_equal(a->level, b->level);
	assert_int_equal(a->ndur, b->ndur);
	for (size_t i = 0; i < a->ndur; i++)
		if (a->dur_bounds[i] != b->dur_bounds[i])
			fail_msg("duration bound %zu: %.17g != %.17g", i, a->dur_bounds[i], b->dur_bounds[i]);
	assert_int_equal(a->nsize, b->nsize);
	for (size_t i = 0; i < a->nsize; i++)
		if (a->size_bounds[i] != b->size_bounds[i])
			fail_msg("size bound %zu: %.17g != %.17g", i, a->size_bounds[i], b->size_bounds[i]);
	if (a->stuck_threshold != b->stuck_threshold)
		fail_msg("stuck_threshold %.17g != %.17g", a->stuck_threshold, b->stuck_threshold);
	assert_int_equal(a->redis.enabled, b->redis.enabled);
	assert_string_equal(a->redis.host, b->redis.host);
	assert_int_equal(a->redis.port, b->redis.port);
	assert_int_equal(a->redis.db, b->redis.db);
	assert_string_equal(a->redis.prefix, b->redis.prefix);
	assert_int_equal(a->redis.ttl_seconds, b->redis.ttl_seconds);
	assert_int_equal(a->redis.ttl_disabled, b->redis.ttl_disabled);
	if (a->redis.interval_s != b->redis.interval_s)
		fail_msg("mirror_interval %.17g != %.17g", a->redis.interval_s, b->redis.interval_s);
	assert_int_equal(a->pin, b->pin);
	assert_string_equal(a->pin_dir, b->pin_dir);
	assert_int_equal(a->max_conns, b->max_conns);
	assert_int_equal(a->max_workers, b->max_workers);
	assert_string_equal(a->tls_cert, b->tls_cert);
	assert_string_equal(a->tls_key, b->tls_key);
	assert_string_equal(a->auth_user, b->auth_user);
	assert_string_equal(a->auth_password_file, b->auth_password_file);
	assert_int_equal(a->http_conn_limit, b->http_conn_limit);
	assert_int_equal(a->http_per_ip_limit, b->http_per_ip_limit);
	assert_int_equal(a->http_timeout_s, b->http_timeout_s);
}

/* A comma-separated list of n numbers from first, step apart. */
static void number_list(char *out, size_t size, int n, double first, double step)
{
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%g", i ? "," : "", first + i * step);
}

/* ---- the table ---------------------------------------------------------- */

/* Is any composite flag one that sets setting s? */
static int set_by_composite(const struct setting *s)
{
	for (int k = 0; k < config_ncomposites; k++)
		for (int j = 0; j < config_composites[k].nsets; j++)
			if (config_composites[k].sets[j] == s->at)
				return 1;
	return 0;
}

/* Every setting of the issue is one row, with its environment name, and
 * every row has its three forms. */
static void test_table_has_every_form(void **state)
{
	(void)state;
	assert_int_equal(config_nsettings, ARRAY_LEN(known));
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		assert_string_equal(config_settings[key_id(known[i].yaml)].env, known[i].env);
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		assert_non_null(s->yaml);
		assert_non_null(s->env);
		if (!s->help || !*s->help)
			fail_msg("%s has no help", s->yaml);
		if (!s->flag && !set_by_composite(s))
			fail_msg("%s has no flag, and no composite flag sets it", s->yaml);
		for (int j = 0; j < i; j++) {
			if (strcmp(s->yaml, config_settings[j].yaml) == 0 ||
			    strcmp(s->env, config_settings[j].env) == 0)
				fail_msg("%s and %s share a name", s->yaml, config_settings[j].yaml);
		}
	}
}

/* Every option's name and letter belong to one option only, the command
 * line's own included, and each composite sets settings of the table. */
static void test_table_flags_unique(void **state)
{
	const char *names[128];
	char letters[128] = "chV"; /* -c, -h, -V are cli.c's */
	size_t n = 0, nl = 3;

	(void)state;
	for (const char *const *own =
		 (const char *const[]){ "config", "print-config", "check-config", "help", "version", NULL };
	     *own; own++)
		names[n++] = *own;
	for (int i = 0; i < config_nsettings; i++) {
		if (config_settings[i].flag)
			names[n++] = config_settings[i].flag;
		if (config_settings[i].letter)
			letters[nl++] = config_settings[i].letter;
	}
	for (int k = 0; k < config_ncomposites; k++) {
		const struct config_composite *o = &config_composites[k];

		names[n++] = o->flag;
		if (o->letter)
			letters[nl++] = o->letter;
		assert_non_null(o->set);
		assert_non_null(o->help);
		assert_true(o->nsets >= 1 && o->nsets <= (int)ARRAY_LEN(o->sets));
		for (int j = 0; j < o->nsets; j++)
			if (config_find_at(o->sets[j]) < 0)
				fail_msg("--%s sets a field that is no setting's", o->flag);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("--%s is two options", names[i]);
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < i; j++)
			if (letters[i] == letters[j])
				fail_msg("-%c is two options", letters[i]);
}

/* Each row names a field of the width its type writes, with what its type
 * needs, and no two rows share a byte of struct obs_config. */
static void test_table_fields(void **state)
{
	(void)state;
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];
		size_t item = 0, want = 0;

		switch (s->type) {
		case T_PORT:
			want = sizeof(unsigned short);
			break;
		case T_INT:
		case T_COUNT:
		case T_SECONDS:
			want = s->type == T_SECONDS ? sizeof(double) : sizeof(unsigned);
			if (!s->bad || !(s->lo <= s->hi))
				fail_msg("%s: a number without its range or its message", s->yaml);
			break;
		case T_BOOL:
		case T_ENUM:
			want = sizeof(int);
			if (s->type == T_ENUM && (!s->names || !s->names[0]))
				fail_msg("%s: an enum without names", s->yaml);
			break;
		case T_BPF_DIR:
			if (!s->def || s->def[0] != '/')
				fail_msg("%s: a path without an absolute default to show", s->yaml);
			break;
		case T_ADDR:
		case T_TEXT:
			break;
		case T_PIDS:
			item = sizeof(pid_t);
			break;
		case T_DURATIONS:
		case T_SIZES:
			item = sizeof(double);
			break;
		default:
			fail_msg("%s: type %d", s->yaml, (int)s->type);
		}
		if (want && s->size != want)
			fail_msg("%s: a field of %zu bytes, its type writes %zu", s->yaml, s->size, want);
		if (!want && !item && s->size < 2)
			fail_msg("%s: no room for text", s->yaml);
		if (item && (s->size % item || s->size / item > SETTING_LIST_MAX || s->n_at == s->at))
			fail_msg("%s: not a list of %zu-byte items with a count", s->yaml, item);
		assert_true(s->at + s->size <= sizeof(struct obs_config));
		for (int j = 0; j < i; j++) {
			const struct setting *t = &config_settings[j];

			if (s->at < t->at + t->size && t->at < s->at + s->size)
				fail_msg("%s and %s share their field", s->yaml, t->yaml);
		}
	}
	/* the lists hold what the BPF side has room for */
	assert_int_equal(config_settings[S_PIDS].size / sizeof(pid_t), OBS_MAX_PIDS);
	assert_int_equal(config_settings[S_DUR].size / sizeof(double), OBS_MAX_DUR_BOUNDS);
	assert_int_equal(config_settings[S_SIZE].size / sizeof(double), OBS_MAX_SIZE_BOUNDS);
}

/* The cell of a README table row: index 1 is the first. */
static void readme_cell(const char *row, int index, char *out, size_t size)
{
	const char *p = row, *end;

	for (int i = 1; i < index && p; i++)
		p = strchr(p + 1, '|');
	end = p ? strchr(p + 1, '|') : NULL;
	if (!p || !end) {
		out[0] = '\0';
		return;
	}
	snprintf(out, size, "%.*s", (int)(end - p - 1), p + 1);
}

/* Does cell hold "`--flag" as a whole option name? */
static int cell_has_flag(const char *cell, const char *flag)
{
	char want[96];
	size_t n = (size_t)snprintf(want, sizeof(want), "`--%s", flag);

	for (const char *p = strstr(cell, want); p; p = strstr(p + 1, want))
		if (p[n] == '`' || p[n] == ' ')
			return 1;
	return 0;
}

/* README.md's configuration table has one row a setting, as the table has
 * it: the YAML key, the variable, the flag (or the composite flags that set
 * it) and, where it has one, the default in backticks; and no other row. */
static void test_readme_table(void **state)
{
	static char text[131072];
	char *section, *end, key[160], cell[512], want[512];
	int seen[64] = { 0 };
	FILE *f = fopen("README.md", "r");
	size_t n;

	(void)state;
	if (!f)
		fail_msg("README.md: %s (run from the repository root)", strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	section = strstr(text, "\n## Configuration\n");
	assert_non_null(section);
	end = strstr(section + 1, "\n## ");
	if (end)
		*end = '\0';
	for (char *line = strstr(section, "\n| `"); line; line = strstr(line + 1, "\n| `")) {
		char *eol = strchr(line + 1, '\n');
		const struct setting *s;
		int id;

		if (eol)
			*eol = '\0';
		readme_cell(line + 1, 1, cell, sizeof(cell));
		if (sscanf(cell, " `%159[^`]`", key) != 1)
			fail_msg("README.md: a row without a key: %s", line + 1);
		id = config_find(key);
		if (id < 0)
			fail_msg("README.md documents %s, which is no setting", key);
		s = &config_settings[id];
		if (seen[id]++)
			fail_msg("README.md documents %s twice", key);
		readme_cell(line + 1, 2, cell, sizeof(cell));
		snprintf(want, sizeof(want), "`%s`", s->env);
		if (!strstr(cell, want))
			fail_msg("README.md: %s's variable is %s, not '%s'", key, s->env, cell);
		readme_cell(line + 1, 3, cell, sizeof(cell));
		if (s->flag && !cell_has_flag(cell, s->flag))
			fail_msg("README.md: %s's flag is --%s, not '%s'", key, s->flag, cell);
		for (int k = 0; k < config_ncomposites; k++)
			for (int j = 0; j < config_composites[k].nsets; j++)
				if (config_composites[k].sets[j] == s->at &&
				    !cell_has_flag(cell, config_composites[k].flag))
					fail_msg("README.md: %s is set by --%s too, not only '%s'", key,
						 config_composites[k].flag, cell);
		readme_cell(line + 1, 4, cell, sizeof(cell));
		snprintf(want, sizeof(want), "`%s`", s->def ? s->def : "");
		if (s->def && *s->def && !(s->flags & SET_SECRET) && !strstr(cell, want))
			fail_msg("README.md: %s's default is %s, not '%s'", key, want, cell);
		if (eol)
			*eol = '\n';
	}
	for (int i = 0; i < config_nsettings; i++)
		if (!seen[i])
			fail_msg("README.md's configuration table has no row for %s",
				 config_settings[i].yaml);
}

static void test_defaults(void **state)
{
	static const double dur[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				      0.5,   1,      2.5,   5,    10,    30,   60 };
	static const double size[] = { 128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304 };
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	memset(&src, 'x', sizeof(src));
	config_defaults(&c, &src);
	assert_string_equal(c.listen_addr, "0.0.0.0");
	assert_int_equal(c.listen_port, 9093);
	assert_int_equal(c.npids, 0);
	assert_string_equal(c.match, "");
	assert_int_equal(c.level, LOG_INFO);
	assert_int_equal(c.ndur, ARRAY_LEN(dur));
	assert_memory_equal(c.dur_bounds, dur, sizeof(dur));
	assert_int_equal(c.nsize, ARRAY_LEN(size));
	assert_memory_equal(c.size_bounds, size, sizeof(size));
	assert_true(c.stuck_threshold == 0);
	assert_int_equal(c.redis.enabled, 0);
	assert_string_equal(c.redis.host, "127.0.0.1");
	assert_int_equal(c.redis.port, 6379);
	assert_int_equal(c.redis.db, 0);
	assert_string_equal(c.redis.password, "");
	assert_string_equal(c.redis.prefix, "gunicorn");
	assert_int_equal(c.redis.ttl_seconds, 300);
	assert_int_equal(c.redis.ttl_disabled, 0);
	assert_true(c.redis.interval_s == 5);
	assert_string_equal(c.proc_root, "/proc");
	for (int i = 0; i < S_COUNT; i++)
		assert_string_equal(src.of[i], "default");
	assert_int_equal(config_validate(&c), 0);
}

/* ---- config_set: every type --------------------------------------------- */

static void test_set_ports(void **state)
{
	static const char *const msg = "is not a port: use a number from 1 to 65535";
	const int ids[] = { S_PORT, S_RPORT };
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	for (size_t k = 0; k < ARRAY_LEN(ids); k++) {
		unsigned short *port = ids[k] == S_PORT ? &c.listen_port : &c.redis.port;

		set_ok(&c, ids[k], "1");
		assert_int_equal(*port, 1);
		set_ok(&c, ids[k], "65535");
		assert_int_equal(*port, 65535);
		set_ok(&c, ids[k], "8080");
		assert_int_equal(*port, 8080);
		set_bad(&c, ids[k], "0", msg);
		set_bad(&c, ids[k], "65536", msg);
		set_bad(&c, ids[k], "x", msg);
		set_bad(&c, ids[k], "", msg);
		set_bad(&c, ids[k], "-1", msg);
		set_bad(&c, ids[k], "80x", msg);
		set_bad(&c, ids[k], "80.5", msg);
		set_bad(&c, ids[k], "99999999999999999999", msg);
		assert_int_equal(*port, 8080); /* a rejected value changes nothing */
	}
}

static void test_set_bind_address(void **state)
{
	static const char *const msg = "is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or ::";
	static const char *const good[] = { "0.0.0.0", "127.0.0.1", "10.1.2.3",    "::",
					    "::1",     "fe80::1",   "2001:db8::42" };
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		set_ok(&c, S_BIND, good[i]);
		assert_string_equal(c.listen_addr, good[i]);
	}
	set_bad(&c, S_BIND, "localhost", msg);
	set_bad(&c, S_BIND, "metrics.example.com", msg);
	set_bad(&c, S_BIND, "1.2.3.256", msg);
	set_bad(&c, S_BIND, "1.2.3", msg);
	set_bad(&c, S_BIND, "[::1]", msg);
	set_bad(&c, S_BIND, "", msg);
	assert_string_equal(c.listen_addr, "2001:db8::42");
}

static void test_set_redis_host(void **state)
{
	static const char *const good[] = { "localhost", "redis.internal", "10.0.0.7", "::1", "redis-0" };
	char longname[300];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		set_ok(&c, S_RHOST, good[i]);
		assert_string_equal(c.redis.host, good[i]);
	}
	set_bad(&c, S_RHOST, "", "is empty: give a host name or address");
	memset(longname, 'h', 256);
	longname[256] = '\0';
	set_bad(&c, S_RHOST, longname, "is longer than 255 characters");
	longname[255] = '\0';
	set_ok(&c, S_RHOST, longname);
	assert_int_equal(strlen(c.redis.host), 255);
}

static void test_set_buckets(void **state)
{
	static const char *const notnum = "has 'abc', which is not a number";
	static const char *const empty = "is empty: give increasing bucket bounds such as 0.1,0.5,1";
	char list[1024];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_DUR, "0.1,0.5,1");
	assert_int_equal(c.ndur, 3);
	assert_true(c.dur_bounds[0] == 0.1 && c.dur_bounds[1] == 0.5 && c.dur_bounds[2] == 1);
	set_ok(&c, S_DUR, "0.01, 0.1 1\t10"); /* commas, spaces, tabs */
	assert_int_equal(c.ndur, 4);
	assert_true(c.dur_bounds[3] == 10);
	set_ok(&c, S_DUR, "2.5");
	assert_int_equal(c.ndur, 1);

	set_bad(&c, S_DUR, "0.5,0.1",
		"is not increasing (0.1 after 0.5): list the bounds in increasing order");
	set_bad(&c, S_DUR, "0.1,0.5,0.5",
		"is not increasing (0.5 after 0.5): list the bounds in increasing order");
	set_bad(&c, S_SIZE, "100,1000,999",
		"is not increasing (999 after 1000): list the bounds in increasing order");
	set_bad(&c, S_DUR, "", empty);
	set_bad(&c, S_DUR, " , ", empty);
	set_bad(&c, S_SIZE, "", empty);
	set_bad(&c, S_DUR, "0,1", "has 0: bucket bounds must be greater than 0");
	set_bad(&c, S_SIZE, "0", "has 0: bucket bounds must be greater than 0");
	set_bad(&c, S_DUR, "-1,1", "has -1: bucket bounds must be greater than 0");
	set_bad(&c, S_DUR, "0.1,abc", notnum);
	set_bad(&c, S_DUR, "0.1,nan", "has 'nan', which is not a number");

	/* as many bounds as the BPF side has room for, and one more */
	number_list(list, sizeof(list), OBS_MAX_DUR_BOUNDS, 0.5, 0.5);
	set_ok(&c, S_DUR, list);
	assert_int_equal(c.ndur, OBS_MAX_DUR_BOUNDS);
	number_list(list, sizeof(list), OBS_MAX_DUR_BOUNDS + 1, 0.5, 0.5);
	set_bad(&c, S_DUR, list, "has more than 31 values");
	number_list(list, sizeof(list), OBS_MAX_SIZE_BOUNDS, 100, 100);
	set_ok(&c, S_SIZE, list);
	assert_int_equal(c.nsize, OBS_MAX_SIZE_BOUNDS);
	number_list(list, sizeof(list), OBS_MAX_SIZE_BOUNDS + 1, 100, 100);
	set_bad(&c, S_SIZE, list, "has more than 23 values");
	/* a rejected list leaves the previous one */
	assert_int_equal(c.ndur, OBS_MAX_DUR_BOUNDS);
	assert_int_equal(c.nsize, OBS_MAX_SIZE_BOUNDS);
}

/* A bound must be a finite number: the +Inf bucket is always there, and the
 * loader turns each duration bound into nanoseconds (inf * 1e9 overflows). */
static void test_set_buckets_not_infinite(void **state)
{
	char err[256] = "";
	struct obs_config c;
	struct obs_sources src;

	int dur, size;

	(void)state;
	fresh(&c, &src);
	dur = config_set(&c, S_DUR, "0.1,inf", 0, err, sizeof(err));
	size = config_set(&c, S_SIZE, "100,infinity", 0, err, sizeof(err));
	if (dur != -1 || size != -1)
		fail_msg("infinite bucket bounds accepted:%s%s", dur != -1 ? " duration '0.1,inf'" : "",
			 size != -1 ? " size '100,infinity'" : "");
}

/* Fuzz input (fuzz_config_yaml): "size: [3333...3256]" (3.3e90) reached the
 * whole-bytes check's cast to an integer, which it does not fit; bounds the
 * loader cannot give BPF as u64 bytes or nanoseconds are refused by name. */
static void test_set_buckets_fit_u64(void **state)
{
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_bad(&c, S_SIZE, "256,3.3e90", "has 3.3e+90: size bounds must be below 2^64 bytes");
	set_bad(&c, S_SIZE, "18446744073709551616", "has 1.84467e+19: size bounds must be below 2^64 bytes");
	set_bad(&c, S_DUR, "1,2e10", "has 2e+10: duration bounds must be below 1.8e10 seconds");
	set_ok(&c, S_SIZE, "1,9007199254740992");
	assert_true(c.size_bounds[1] == 9007199254740992.0);
	set_ok(&c, S_DUR, "1,1e10");
	assert_true(c.dur_bounds[1] == 1e10);
}

static void test_set_pids(void **state)
{
	static const char *const notpid = "is not a process id: give positive whole numbers";
	char list[1024], err[256];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_PIDS, "1234");
	assert_int_equal(c.npids, 1);
	assert_int_equal(c.pids[0], 1234);
	set_ok(&c, S_PIDS, "1,2, 3");
	assert_int_equal(c.npids, 3);
	assert_int_equal(c.pids[2], 3);
	set_ok(&c, S_PIDS, "4194304"); /* PID_MAX_LIMIT; replaces the list */
	assert_int_equal(c.npids, 1);
	assert_int_equal(c.pids[0], 4194304);
	assert_int_equal(config_set(&c, S_PIDS, "7", 1, err, sizeof(err)), 0); /* append */
	assert_int_equal(c.npids, 2);
	assert_int_equal(c.pids[1], 7);
	set_ok(&c, S_PIDS, ""); /* empty: all masters */
	assert_int_equal(c.npids, 0);

	set_bad(&c, S_PIDS, "abc", notpid);
	set_bad(&c, S_PIDS, "12,abc", notpid);
	set_bad(&c, S_PIDS, "0", "has 0, which is not a process id: give positive whole numbers");
	set_bad(&c, S_PIDS, "-5", "has -5, which is not a process id: give positive whole numbers");
	set_bad(&c, S_PIDS, "1.5", "has 1.5, which is not a process id: give positive whole numbers");
	assert_int_equal(config_set(&c, S_PIDS, "4194305", 0, err, sizeof(err)), -1);

	/* 64 masters at most, in one list or by appending */
	number_list(list, sizeof(list), OBS_MAX_PIDS, 100, 1);
	set_ok(&c, S_PIDS, list);
	assert_int_equal(c.npids, OBS_MAX_PIDS);
	assert_int_equal(config_set(&c, S_PIDS, "999", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "names more than 64 masters");
}

/* A rejected pid list says what is wrong with it, quoting the value as given. */
static void test_set_pids_messages(void **state)
{
	char list[1024], err[256];
	struct obs_config c;
	struct obs_sources src;

	char big[256], many[256];

	(void)state;
	fresh(&c, &src);
	assert_int_equal(config_set(&c, S_PIDS, "4194305", 0, err, sizeof(err)), -1);
	snprintf(big, sizeof(big), "%s", err);
	number_list(list, sizeof(list), OBS_MAX_PIDS + 1, 100, 1);
	assert_int_equal(config_set(&c, S_PIDS, list, 0, err, sizeof(err)), -1);
	snprintf(many, sizeof(many), "%s", err);
	/* 65 valid pids are not "not a process id": the message must name the limit */
	if (!strstr(big, "4194305") || !strstr(many, "64"))
		fail_msg("pid 4194305: '%s' (must quote 4194305); 65 pids: '%s' (must name the limit of 64)",
			 big, many);
}

static void test_set_booleans(void **state)
{
	static const char *const yes[] = { "true", "yes", "1", "on", "True", "YES" };
	static const char *const no[] = { "false", "no", "0", "off", "False", "NO" };
	static const char *const bad[] = { "maybe", "", "2", "y", "n", "truee", "-1" };
	const int ids[] = { S_REDIS, S_RNOTTL };
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	for (size_t k = 0; k < ARRAY_LEN(ids); k++) {
		int *v = ids[k] == S_REDIS ? &c.redis.enabled : &c.redis.ttl_disabled;

		for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
			*v = 0;
			set_ok(&c, ids[k], yes[i]);
			assert_int_equal(*v, 1);
		}
		for (size_t i = 0; i < ARRAY_LEN(no); i++) {
			*v = 1;
			set_ok(&c, ids[k], no[i]);
			assert_int_equal(*v, 0);
		}
		for (size_t i = 0; i < ARRAY_LEN(bad); i++)
			set_bad(&c, ids[k], bad[i], "is not true or false");
		assert_int_equal(*v, 0);
	}
}

static void test_set_redis_prefix(void **state)
{
	static const char *const colon = "contains ':', which readers split keys on: remove it";
	char longp[200];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_RPREFIX, "shop_prod");
	assert_string_equal(c.redis.prefix, "shop_prod");
	set_ok(&c, S_RPREFIX, "a-b.c");
	set_bad(&c, S_RPREFIX, "gunicorn:prod", colon);
	set_bad(&c, S_RPREFIX, ":", colon);
	set_bad(&c, S_RPREFIX, "trailing:", colon);
	set_bad(&c, S_RPREFIX, "", "is empty: give a prefix such as gunicorn");
	memset(longp, 'p', 128);
	longp[128] = '\0';
	set_bad(&c, S_RPREFIX, longp, "is longer than 127 characters");
	assert_string_equal(c.redis.prefix, "a-b.c");
}

static void test_set_ttl_and_db(void **state)
{
	static const char *const ttl = "is not a number of seconds: use 1 or more";
	static const char *const db = "is not a database number: use 0 or more";
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_bad(&c, S_RTTL, "0", ttl); /* 0 would expire at once: REDIS_TTL_DISABLED is the way */
	set_bad(&c, S_RTTL, "-1", ttl);
	set_bad(&c, S_RTTL, "1.5", ttl);
	set_bad(&c, S_RTTL, "x", ttl);
	set_bad(&c, S_RTTL, "", ttl);
	set_bad(&c, S_RTTL, "2147483648", ttl);
	set_ok(&c, S_RTTL, "1");
	assert_int_equal(c.redis.ttl_seconds, 1);
	set_ok(&c, S_RTTL, "2147483647");
	assert_int_equal(c.redis.ttl_seconds, 2147483647u);

	set_ok(&c, S_RDB, "0");
	assert_int_equal(c.redis.db, 0);
	set_ok(&c, S_RDB, "15");
	assert_int_equal(c.redis.db, 15);
	set_bad(&c, S_RDB, "-1", db);
	set_bad(&c, S_RDB, "x", db);
	set_bad(&c, S_RDB, "", db);
	set_bad(&c, S_RDB, "1.0", db);
	assert_int_equal(c.redis.db, 15);
}

static void test_set_log_levels(void **state)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	static const char *const msg = "is unknown: use error, warn, info or debug";
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	for (int i = 0; i < 4; i++) {
		set_ok(&c, S_LEVEL, names[i]);
		assert_int_equal(c.level, (enum log_level)i);
	}
	set_bad(&c, S_LEVEL, "loud", msg);
	set_bad(&c, S_LEVEL, "", msg);
	set_bad(&c, S_LEVEL, "trace", msg);
	set_bad(&c, S_LEVEL, "info ", msg);
	assert_int_equal(c.level, LOG_DEBUG);
}

static void test_set_seconds(void **state)
{
	static const char *const stuck = "is not a number of seconds: use e.g. 15 or 0.5 (0: from --timeout)";
	static const char *const mirror = "is not a number of seconds from 0.1 to 3600";
	static const char *const maxconn = "is not a whole number of connections from 1 to 4194304";
	static const char *const maxworkers = "is not a whole number of workers from 1 to 262144";
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_STUCK, "0");
	assert_true(c.stuck_threshold == 0);
	set_ok(&c, S_STUCK, "0.5");
	assert_true(c.stuck_threshold == 0.5);
	set_ok(&c, S_STUCK, "86400");
	assert_true(c.stuck_threshold == 86400);
	set_ok(&c, S_STUCK, "15");
	assert_true(c.stuck_threshold == 15);
	set_bad(&c, S_STUCK, "-1", stuck);
	set_bad(&c, S_STUCK, "86401", stuck);
	set_bad(&c, S_STUCK, "abc", stuck);
	set_bad(&c, S_STUCK, "", stuck);
	set_bad(&c, S_STUCK, "nan", stuck);
	set_bad(&c, S_STUCK, "10s", stuck);
	assert_true(c.stuck_threshold == 15);

	set_ok(&c, S_INTERVAL, "0.1");
	assert_true(c.redis.interval_s == 0.1);
	set_ok(&c, S_INTERVAL, "3600");
	assert_true(c.redis.interval_s == 3600);
	set_ok(&c, S_INTERVAL, "2.5");
	set_bad(&c, S_INTERVAL, "0", mirror);
	set_bad(&c, S_INTERVAL, "0.05", mirror);
	set_bad(&c, S_INTERVAL, "3601", mirror);
	set_bad(&c, S_INTERVAL, "x", mirror);
	set_bad(&c, S_INTERVAL, "", mirror);
	assert_true(c.redis.interval_s == 2.5);

	assert_true(c.max_conns == OBS_MAX_CONNS);
	check_count(&c, S_MAXCONN, &c.max_conns, 4194304, maxconn);
	assert_true(c.max_workers == OBS_MAX_WORKERS);
	check_count(&c, S_MAXWORKERS, &c.max_workers, 262144, maxworkers);
}

static void test_set_pin_dir(void **state)
{
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	assert_int_equal(c.pin, 1);
	assert_string_equal(c.pin_dir, OBS_PIN_DIR_DEFAULT);
	set_ok(&c, S_PINDIR, "/sys/fs/bpf/shop-a");
	assert_string_equal(c.pin_dir, "/sys/fs/bpf/shop-a");
	set_bad(&c, S_PINDIR, "sys/fs/bpf/x", "is not an absolute path: use e.g. " OBS_PIN_DIR_DEFAULT);
	set_bad(&c, S_PINDIR, "", "is not an absolute path: use e.g. " OBS_PIN_DIR_DEFAULT);
	set_bad(&c, S_PINDIR, "/sys/fs/bpf/gobs.1",
		"has a '.' in its name, which the BPF filesystem refuses");
	assert_string_equal(c.pin_dir, "/sys/fs/bpf/shop-a");
	set_ok(&c, S_PIN, "off");
	assert_int_equal(c.pin, 0);
}

static void test_set_text(void **state)
{
	char longt[300];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_MATCH, "shop.wsgi:application");
	assert_string_equal(c.match, "shop.wsgi:application");
	set_ok(&c, S_MATCH, "");
	assert_string_equal(c.match, "");
	set_ok(&c, S_RPASS, "p@ss: w0rd #1");
	assert_string_equal(c.redis.password, "p@ss: w0rd #1");
	memset(longt, 'm', 256);
	longt[256] = '\0';
	set_bad(&c, S_MATCH, longt, "is longer than 255 characters");
	set_bad(&c, S_RPASS, longt, "is longer than 255 characters");
	assert_string_equal(c.redis.password, "p@ss: w0rd #1");
}

static void test_set_endpoint(void **state)
{
	static const char *const conns = "is not a number of connections from 1 to 65536",
				 *const perip = "is not a number of connections from 0 (no limit) to 65536",
				 *const secs = "is not a whole number of seconds from 1 to 3600";
	char longt[300];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	assert_string_equal(c.tls_cert, "");
	assert_string_equal(c.auth_user, "");
	assert_int_equal(c.http_conn_limit, OBS_HTTP_CONN_LIMIT);
	assert_int_equal(c.http_per_ip_limit, OBS_HTTP_PER_IP_LIMIT);
	assert_int_equal(c.http_timeout_s, OBS_HTTP_TIMEOUT_S);
	set_ok(&c, S_TLSCERT, "certs/observer.pem");
	assert_string_equal(c.tls_cert, "certs/observer.pem");
	set_ok(&c, S_TLSKEY, "/etc/go/key.pem");
	assert_string_equal(c.tls_key, "/etc/go/key.pem");
	set_ok(&c, S_AUTHFILE, "pw");
	assert_string_equal(c.auth_password_file, "pw");
	set_ok(&c, S_AUTHFILE, ""); /* off again */
	assert_string_equal(c.auth_password_file, "");
	memset(longt, 'f', 256);
	longt[256] = '\0';
	set_bad(&c, S_TLSCERT, longt, "is longer than 255 characters");
	set_ok(&c, S_AUTHUSER, "prometheus");
	assert_string_equal(c.auth_user, "prometheus");
	set_bad(&c, S_AUTHUSER, "a:b", "contains ':', which basic auth cannot carry in a user name");
	longt[128] = '\0';
	set_bad(&c, S_AUTHUSER, longt, "is longer than 127 characters");
	assert_string_equal(c.auth_user, "prometheus");
	set_ok(&c, S_CONNLIMIT, "1");
	set_ok(&c, S_CONNLIMIT, "65536");
	assert_int_equal(c.http_conn_limit, 65536);
	set_bad(&c, S_CONNLIMIT, "0", conns);
	set_bad(&c, S_CONNLIMIT, "65537", conns);
	set_bad(&c, S_CONNLIMIT, "many", conns);
	set_ok(&c, S_IPLIMIT, "0");
	assert_int_equal(c.http_per_ip_limit, 0);
	set_bad(&c, S_IPLIMIT, "-1", perip);
	set_bad(&c, S_IPLIMIT, "2.5", perip);
	set_ok(&c, S_CONNTIMEOUT, "3600");
	assert_int_equal(c.http_timeout_s, 3600);
	set_bad(&c, S_CONNTIMEOUT, "0", secs);
	set_bad(&c, S_CONNTIMEOUT, "1.5", secs);
	set_bad(&c, S_CONNTIMEOUT, "3601", secs);
	assert_int_equal(c.http_timeout_s, 3600);
}

/* Certificate and key, user and password file: both or neither; the per-IP
 * limit not above the total. */
static void test_validate_endpoint(void **state)
{
	const struct {
		int id;
		const char *value, *want;
	} one[] = {
		{ S_TLSCERT, "c.pem",
		  "gunicorn-observer: a TLS certificate without a key: give both --tls-cert and "
		  "--tls-key, or neither\n" },
		{ S_TLSKEY, "k.pem",
		  "gunicorn-observer: a TLS key without a certificate: give both --tls-cert and "
		  "--tls-key, or neither\n" },
		{ S_AUTHUSER, "prom",
		  "gunicorn-observer: a basic auth user without a password file: give both --basic-auth-user "
		  "and --basic-auth-password-file, or neither\n" },
		{ S_AUTHFILE, "pw",
		  "gunicorn-observer: a basic auth password file without a user: give both --basic-auth-user "
		  "and --basic-auth-password-file, or neither\n" },
		{ S_IPLIMIT, "600",
		  "gunicorn-observer: the per-IP connection limit (600) is above the connection limit (512): "
		  "lower --per-ip-connection-limit or raise --connection-limit\n" },
	};
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(one); i++) {
		fresh(&c, &src);
		set_ok(&c, one[i].id, one[i].value);
		cap_start();
		rc = config_validate(&c);
		out = cap_end();
		assert_int_equal(rc, -1);
		assert_string_equal(out, one[i].want);
	}
	fresh(&c, &src);
	set_ok(&c, S_TLSCERT, "c.pem");
	set_ok(&c, S_TLSKEY, "k.pem");
	set_ok(&c, S_AUTHUSER, "prom");
	set_ok(&c, S_AUTHFILE, "pw");
	set_ok(&c, S_IPLIMIT, "512");
	assert_int_equal(config_validate(&c), 0);
}

static void test_validate_ttl_vs_interval(void **state)
{
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_REDIS, "true");
	set_ok(&c, S_RTTL, "3");
	set_ok(&c, S_INTERVAL, "5");
	cap_start();
	rc = config_validate(&c);
	out = cap_end();
	assert_int_equal(rc, -1);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "Redis TTL (3 s) is shorter than the mirror interval (5 s)"));
	set_ok(&c, S_RNOTTL, "true"); /* keys that never expire */
	assert_int_equal(config_validate(&c), 0);
	set_ok(&c, S_RNOTTL, "false");
	set_ok(&c, S_REDIS, "false"); /* no Redis at all */
	assert_int_equal(config_validate(&c), 0);
}

/* ---- flags -------------------------------------------------------------- */

static void flag_ok(struct obs_config *c, struct obs_sources *src, const char *flag, const char *text)
{
	char err[256] = "";
	int rc = config_set_flag(c, src, flag, text, err, sizeof(err));

	if (rc != 0)
		fail_msg("--%s '%s' rejected (rc %d): %s", flag, text, rc, err);
}

static void flag_bad(struct obs_config *c, struct obs_sources *src, const char *flag, const char *text,
		     const char *want)
{
	char err[256] = "";
	int rc = config_set_flag(c, src, flag, text, err, sizeof(err));

	if (rc != -1)
		fail_msg("--%s '%s' accepted (rc %d)", flag, text, rc);
	if (strcmp(err, want) != 0)
		fail_msg("--%s '%s': message '%s', want '%s'", flag, text, err, want);
}

static void test_flag_listen(void **state)
{
	static const char *const form = "is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093";
	static const char *const ip = "is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or ::";
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	flag_ok(&c, &src, "listen", "1.2.3.4:80");
	assert_string_equal(c.listen_addr, "1.2.3.4");
	assert_int_equal(c.listen_port, 80);
	assert_string_equal(src.of[S_BIND], "flag --listen");
	assert_string_equal(src.of[S_PORT], "flag --listen");
	flag_ok(&c, &src, "listen", "[::1]:8080");
	assert_string_equal(c.listen_addr, "::1");
	assert_int_equal(c.listen_port, 8080);
	flag_ok(&c, &src, "listen", "[::]:9093");
	assert_string_equal(c.listen_addr, "::");
	assert_int_equal(c.listen_port, 9093);
	flag_ok(&c, &src, "listen", ":9100"); /* no address: every address */
	assert_string_equal(c.listen_addr, "0.0.0.0");
	assert_int_equal(c.listen_port, 9100);
	flag_ok(&c, &src, "listen", "127.0.0.1:65535");
	assert_int_equal(c.listen_port, 65535);
	assert_string_equal(src.of[S_RPORT], "default"); /* only the two settings of --listen */

	flag_bad(&c, &src, "listen", "nocolon", form);
	flag_bad(&c, &src, "listen", "9100", form);
	flag_bad(&c, &src, "listen", "1.2.3.4:", form);
	flag_bad(&c, &src, "listen", "1.2.3.4:0", form);
	flag_bad(&c, &src, "listen", "1.2.3.4:65536", form);
	flag_bad(&c, &src, "listen", "1.2.3.4:x", form);
	flag_bad(&c, &src, "listen", "[::1]", form);
	flag_bad(&c, &src, "listen", "", form);
	flag_bad(&c, &src, "listen", "localhost:80", ip);
	flag_bad(&c, &src, "listen", "1.2.3.999:80", ip);
	flag_bad(&c, &src, "listen", "[localhost]:80", ip);
}

static void test_flag_pid_repeats(void **state)
{
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	/* pids from the file, then from the environment: each replaces */
	set_ok(&c, S_PIDS, "7,8");
	config_source(&src, S_PIDS, "file x.yaml:3");
	assert_int_equal(c.npids, 2);
	setenv("GUNICORN_OBSERVER_PIDS", "9", 1);
	assert_int_equal(config_from_env(&c, &src), 0);
	unsetenv("GUNICORN_OBSERVER_PIDS");
	assert_int_equal(c.npids, 1);
	assert_int_equal(c.pids[0], 9);
	/* the first --pid replaces them, the next ones add */
	flag_ok(&c, &src, "pid", "1");
	assert_int_equal(c.npids, 1);
	assert_int_equal(c.pids[0], 1);
	assert_string_equal(src.of[S_PIDS], "flag --pid");
	flag_ok(&c, &src, "pid", "2");
	flag_ok(&c, &src, "pid", "3,4");
	assert_int_equal(c.npids, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(c.pids[i], i + 1);
	assert_true(config_wants_pid(&c, 3));
	assert_false(config_wants_pid(&c, 9));
	flag_bad(&c, &src, "pid", "abc", "is not a process id: give positive whole numbers");
}

static void test_flag_password_file(void **state)
{
	static const struct {
		const char *content, *want;
	} cases[] = {
		{ "s3cret\n", "s3cret" },
		{ "s3cret", "s3cret" },
		{ "s3cret\r\n", "s3cret" },
		{ "s3cret\n\n", "s3cret" },
		{ "two\nlines\n", "two\nlines" },
		{ " spaced \n", " spaced " },
		{ "", "" },
	};
	char err[256], want[512], missing[160];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *path = write_file("password", cases[i].content);

		fresh(&c, &src);
		flag_ok(&c, &src, "redis-password-file", path);
		assert_string_equal(c.redis.password, cases[i].want);
		snprintf(want, sizeof(want), "flag --redis-password-file %s", path);
		assert_string_equal(src.of[S_RPASS], want);
	}
	fresh(&c, &src);
	snprintf(missing, sizeof(missing), "%s/no-such-password", dir);
	flag_bad(&c, &src, "redis-password-file", missing,
		 "cannot be read (No such file or directory): give a readable file holding the password");
	flag_bad(&c, &src, "redis-password-file", dir,
		 "cannot be read (Is a directory): give a readable file holding the password");
	memset(want, 'w', 300);
	want[300] = '\n';
	want[301] = '\0';
	assert_int_equal(
	    config_set_flag(&c, &src, "redis-password-file", write_file("long", want), err, sizeof(err)), -1);
	assert_string_equal(err, "is longer than 255 characters");
	assert_string_equal(c.redis.password, "");
	assert_string_equal(src.of[S_RPASS], "default");
}

static void test_flag_every_setting(void **state)
{
	char err[256], want[64];
	struct obs_config c;
	struct obs_sources src;
	const struct {
		const char *flag, *value;
		int id;
	} flags[] = {
		{ "listen", "127.0.0.1:9100", S_PORT },
		{ "redis-enabled", "true", S_REDIS },
		{ "redis-host", "redis.internal", S_RHOST },
		{ "redis-port", "6380", S_RPORT },
		{ "redis-db", "3", S_RDB },
		{ "redis-key-prefix", "shop", S_RPREFIX },
		{ "redis-ttl-seconds", "600", S_RTTL },
		{ "redis-ttl-disabled", "yes", S_RNOTTL },
		{ "pid", "101", S_PIDS },
		{ "pid", "202", S_PIDS },
		{ "match", "shop.wsgi", S_MATCH },
		{ "stuck-threshold", "2.5", S_STUCK },
		{ "log-level", "debug", S_LEVEL },
		{ "mirror-interval", "0.5", S_INTERVAL },
		{ "duration-buckets", "0.005,0.05,0.5,5", S_DUR },
		{ "size-buckets", "100,1000,10000", S_SIZE },
		{ "pin", "no", S_PIN },
		{ "pin-dir", "/sys/fs/bpf/shop", S_PINDIR },
		{ "max-connections", "4096", S_MAXCONN },
		{ "max-workers", "512", S_MAXWORKERS },
		{ "data-plane", "syscall", S_PLANE },
		{ "tls-cert", "/etc/go/cert.pem", S_TLSCERT },
		{ "tls-key", "/etc/go/key.pem", S_TLSKEY },
		{ "basic-auth-user", "prom", S_AUTHUSER },
		{ "basic-auth-password-file", "/etc/go/pw.hash", S_AUTHFILE },
		{ "connection-limit", "100", S_CONNLIMIT },
		{ "per-ip-connection-limit", "4", S_IPLIMIT },
		{ "connection-timeout", "5", S_CONNTIMEOUT },
	};

	(void)state;
	fresh(&c, &src);
	for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
		flag_ok(&c, &src, flags[i].flag, flags[i].value);
		snprintf(want, sizeof(want), "flag --%s", flags[i].flag);
		assert_string_equal(src.of[flags[i].id], want);
	}
	flag_ok(&c, &src, "redis-password-file", write_file("pw", "s3cret\n"));
	assert_all_good(&c);
	assert_string_equal(src.of[S_BIND], "flag --listen");

	/* no such flag: -2, whatever the value */
	assert_int_equal(config_set_flag(&c, &src, "bogus", "1", err, sizeof(err)), -2);
	assert_int_equal(config_set_flag(&c, &src, "bind_address", "1.2.3.4", err, sizeof(err)), -2);
	assert_int_equal(config_set_flag(&c, &src, "metrics-port", "80", err, sizeof(err)), -2);
	assert_int_equal(config_set_flag(&c, &src, "redis-password", "x", err, sizeof(err)), -2);
	assert_all_good(&c);

	/* a bad value through each flag: -1, nothing recorded */
	flag_bad(&c, &src, "redis-enabled", "maybe", "is not true or false");
	flag_bad(&c, &src, "redis-port", "65536", "is not a port: use a number from 1 to 65535");
	flag_bad(&c, &src, "redis-key-prefix", "a:b", "contains ':', which readers split keys on: remove it");
	flag_bad(&c, &src, "redis-ttl-seconds", "0", "is not a number of seconds: use 1 or more");
	flag_bad(&c, &src, "log-level", "loud", "is unknown: use error, warn, info or debug");
	flag_bad(&c, &src, "duration-buckets", "1,0.5",
		 "is not increasing (0.5 after 1): list the bounds in increasing order");
	assert_all_good(&c);
}

/* ---- environment -------------------------------------------------------- */

static void test_env_every_name(void **state)
{
	char want[96];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		setenv(known[i].env, known[i].good, 1);
	fresh(&c, &src);
	cap_start();
	rc = config_from_env(&c, &src);
	out = cap_end();
	unset_all_env();
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	assert_all_good(&c);
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		snprintf(want, sizeof(want), "env %s", known[i].env);
		assert_string_equal(src.of[key_id(known[i].yaml)], want);
	}

	/* each name alone sets its setting and nothing else */
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		int id = key_id(known[i].yaml);

		fresh(&c, &src);
		setenv(known[i].env, known[i].good, 1);
		rc = config_from_env(&c, &src);
		unsetenv(known[i].env);
		assert_int_equal(rc, 0);
		for (int j = 0; j < S_COUNT; j++)
			if ((j == id) != (strncmp(src.of[j], "env ", 4) == 0))
				fail_msg("%s set the source of %s to '%s'", known[i].env,
					 config_settings[j].yaml, src.of[j]);
	}
}

static void test_env_empty_is_unset(void **state)
{
	struct obs_config c, d;
	struct obs_sources src, dsrc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		setenv(known[i].env, "", 1);
	fresh(&c, &src);
	fresh(&d, &dsrc);
	assert_int_equal(config_from_env(&c, &src), 0);
	unset_all_env();
	assert_config_equal_but_password(&c, &d);
	for (int i = 0; i < S_COUNT; i++)
		assert_string_equal(src.of[i], "default");
}

static void test_env_bad_value_one_line(void **state)
{
	char longv[300];
	const struct {
		int id;
		const char *value, *line;
	} cases[] = {
		{ S_BIND, "localhost",
		  "PROMETHEUS_BIND_ADDRESS='localhost' is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or "
		  "::" },
		{ S_PORT, "70000",
		  "PROMETHEUS_METRICS_PORT='70000' is not a port: use a number from 1 to 65535" },
		{ S_PORT, "x1", "PROMETHEUS_METRICS_PORT='x1' is not a port: use a number from 1 to 65535" },
		{ S_REDIS, "maybe", "REDIS_ENABLED='maybe' is not true or false" },
		{ S_RHOST, NULL, "REDIS_HOST='%s' is longer than 255 characters" },
		{ S_RPORT, "0", "REDIS_PORT='0' is not a port: use a number from 1 to 65535" },
		{ S_RDB, "-1", "REDIS_DB='-1' is not a database number: use 0 or more" },
		{ S_RPASS, NULL, "REDIS_PASSWORD='***' is longer than 255 characters" },
		{ S_RPREFIX, "gunicorn:prod",
		  "REDIS_KEY_PREFIX='gunicorn:prod' contains ':', which readers split keys on: remove it" },
		{ S_RTTL, "0", "REDIS_TTL_SECONDS='0' is not a number of seconds: use 1 or more" },
		{ S_RNOTTL, "maybe", "REDIS_TTL_DISABLED='maybe' is not true or false" },
		{ S_PIDS, "abc",
		  "GUNICORN_OBSERVER_PIDS='abc' is not a process id: give positive whole numbers" },
		{ S_MATCH, NULL, "GUNICORN_OBSERVER_MATCH='%s' is longer than 255 characters" },
		{ S_STUCK, "-1",
		  "GUNICORN_OBSERVER_STUCK_THRESHOLD='-1' is not a number of seconds: use e.g. 15 or 0.5 (0: "
		  "from "
		  "--timeout)" },
		{ S_LEVEL, "loud",
		  "GUNICORN_OBSERVER_LOG_LEVEL='loud' is unknown: use error, warn, info or debug" },
		{ S_INTERVAL, "0",
		  "GUNICORN_OBSERVER_MIRROR_INTERVAL='0' is not a number of seconds from 0.1 to 3600" },
		{ S_DUR, "1,0.5",
		  "GUNICORN_OBSERVER_DURATION_BUCKETS='1,0.5' is not increasing (0.5 after 1): list the "
		  "bounds in "
		  "increasing order" },
		{ S_SIZE, "0",
		  "GUNICORN_OBSERVER_SIZE_BUCKETS='0' has 0: bucket bounds must be greater than 0" },
	};
	char want[1100], line[1024];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	memset(longv, 'v', 256);
	longv[256] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *v = cases[i].value ? cases[i].value : longv;

		snprintf(line, sizeof(line), cases[i].line, longv);
		snprintf(want, sizeof(want), "gunicorn-observer: %s\n", line);
		/* a good value of another variable does not hide it */
		setenv("REDIS_DB", "2", 1);
		setenv(config_settings[cases[i].id].env, v, 1);
		fresh(&c, &src);
		cap_start();
		rc = config_from_env(&c, &src);
		out = cap_end();
		unset_all_env();
		assert_int_equal(rc, -1);
		assert_string_equal(out, want);
	}
}

/* ---- the YAML file ------------------------------------------------------ */

/* The Python exporter's layout (with its in-process keys) plus ours. */
static const char full_file[] = "# the Python exporter's file, and the observer's section\n" /* 1 */
				"exporter:\n"                                                /* 2 */
				"  prometheus:\n"                                            /* 3 */
				"    metrics_port: 9100\n"                                   /* 4 */
				"    bind_address: \"127.0.0.1\"\n"                          /* 5 */
				"    multiproc_dir: \"/tmp/prometheus_multiproc\"\n"         /* 6 */
				"    ssl:\n"                                                 /* 7 */
				"      enabled: false\n"                                     /* 8 */
				"  gunicorn:\n"                                              /* 9 */
				"    workers: 4\n"                                           /* 10 */
				"  redis:\n"                                                 /* 11 */
				"    enabled: true\n"                                        /* 12 */
				"    host: \"redis.internal\"\n"                             /* 13 */
				"    port: 6380\n"                                           /* 14 */
				"    db: 3\n"                                                /* 15 */
				"    password: \"s3cret\"\n"                                 /* 16 */
				"    key_prefix: \"shop\"\n"                                 /* 17 */
				"    ttl_seconds: 600\n"                                     /* 18 */
				"    ttl_disabled: true\n"                                   /* 19 */
				"  cleanup:\n"                                               /* 20 */
				"    db_files: true\n"                                       /* 21 */
				"observer:\n"                                                /* 22 */
				"  pids: [101, 202]\n"                                       /* 23 */
				"  match: shop.wsgi\n"                                       /* 24 */
				"  stuck_threshold: 2.5\n"                                   /* 25 */
				"  log_level: debug\n"                                       /* 26 */
				"  mirror_interval: 0.5\n"                                   /* 27 */
				"  buckets:\n"                                               /* 28 */
				"    duration: [0.005, 0.05, 0.5, 5]\n"                      /* 29 */
				"    size:\n"                                                /* 30 */
				"      - 100\n"                                              /* 31 */
				"      - 1000\n"                                             /* 32 */
				"      - 10000\n"                                            /* 33 */
				"  pin: false\n"                                             /* 34 */
				"  pin_dir: /sys/fs/bpf/shop\n"                              /* 35 */
				"  endpoint:\n"                                              /* 36 */
				"    tls_cert: /etc/go/cert.pem\n"                           /* 37 */
				"    tls_key: /etc/go/key.pem\n"                             /* 38 */
				"    basic_auth_user: prom\n"                                /* 39 */
				"    basic_auth_password_file: /etc/go/pw.hash\n"            /* 40 */
				"    connection_limit: 100\n"                                /* 41 */
				"    per_ip_connection_limit: 4\n"                           /* 42 */
				"    connection_timeout: 5\n"                                /* 43 */
				"  max_connections: 4096\n"                                  /* 44 */
				"  data_plane: syscall\n"                                    /* 45 */
				"  max_workers: 512\n";                                      /* 46 */

static void test_file_every_setting(void **state)
{
	const char *path = write_file("full.yaml", full_file);
	char want[1024];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	fresh(&c, &src);
	cap_start();
	rc = config_from_file(&c, &src, path);
	out = cap_end();
	assert_int_equal(rc, 0);
	assert_all_good(&c);
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		snprintf(want, sizeof(want), "file %s:%d", path, known[i].line);
		assert_string_equal(src.of[key_id(known[i].yaml)], want);
	}
	/* one notice per in-process key, nothing else */
	snprintf(
	    want, sizeof(want),
	    "%1$s:6:5: notice: exporter.prometheus.multiproc_dir only applies to an exporter inside "
	    "Gunicorn: ignored\n"
	    "%1$s:7:5: notice: exporter.prometheus.ssl only applies to an exporter inside Gunicorn: ignored\n"
	    "%1$s:9:3: notice: exporter.gunicorn only applies to an exporter inside Gunicorn: ignored\n"
	    "%1$s:20:3: notice: exporter.cleanup only applies to an exporter inside Gunicorn: ignored\n",
	    path);
	assert_string_equal(out, want);
	assert_int_equal(config_validate(&c), 0);
}

static void test_file_partial_leaves_defaults(void **state)
{
	const char *path = write_file("partial.yaml", "observer:\n  match: \"shop\"\n");
	struct obs_config c, d;
	struct obs_sources src, dsrc;
	char want[300];

	(void)state;
	fresh(&c, &src);
	fresh(&d, &dsrc);
	assert_int_equal(config_from_file(&c, &src, path), 0);
	assert_string_equal(c.match, "shop");
	snprintf(want, sizeof(want), "file %s:2", path);
	assert_string_equal(src.of[S_MATCH], want);
	set_ok(&d, S_MATCH, "shop");
	assert_config_equal_but_password(&c, &d);
	for (int i = 0; i < S_COUNT; i++)
		if (i != S_MATCH)
			assert_string_equal(src.of[i], "default");
}

static void test_file_empty(void **state)
{
	static const char *const texts[] = { "", "\n\n", "# nothing but a comment\n", "observer:\n",
					     "exporter:\n  redis:\nobserver:\n  buckets:\n" };
	struct obs_config c, d;
	struct obs_sources src, dsrc;
	const char *out;
	int rc;

	(void)state;
	fresh(&d, &dsrc);
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		const char *path = write_file("empty.yaml", texts[i]);

		fresh(&c, &src);
		cap_start();
		rc = config_from_file(&c, &src, path);
		out = cap_end();
		if (rc != 0)
			fail_msg("file '%s': rc %d, %s", texts[i], rc, out);
		assert_string_equal(out, "");
		assert_config_equal_but_password(&c, &d);
		for (int j = 0; j < S_COUNT; j++)
			assert_string_equal(src.of[j], "default");
	}
}

/* A single value where a list is expected is a one-item (or comma) list. */
static void test_file_scalar_for_list(void **state)
{
	const char *path =
	    write_file("scalars.yaml", "observer:\n  pids: 4321\n  buckets:\n    duration: \"0.1, 0.2\"\n"
				       "    size: 512\n");
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	assert_int_equal(config_from_file(&c, &src, path), 0);
	assert_int_equal(c.npids, 1);
	assert_int_equal(c.pids[0], 4321);
	assert_int_equal(c.ndur, 2);
	assert_true(c.dur_bounds[0] == 0.1 && c.dur_bounds[1] == 0.2);
	assert_int_equal(c.nsize, 1);
	assert_true(c.size_bounds[0] == 512);
	path = write_file("emptylist.yaml", "observer:\n  pids: []\n");
	set_ok(&c, S_PIDS, "5");
	assert_int_equal(config_from_file(&c, &src, path), 0);
	assert_int_equal(c.npids, 0);
}

/* The Python exporter's own example files say "password: null" for no
 * password: YAML null is no value, not the text "null". */
static void test_file_null_password(void **state)
{
	static const char *const texts[] = { "exporter:\n  redis:\n    password: null\n",
					     "exporter:\n  redis:\n    password: ~\n",
					     "exporter:\n  redis:\n    password:\n" };
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		const char *path = write_file("nullpw.yaml", texts[i]);

		fresh(&c, &src);
		assert_int_equal(config_from_file(&c, &src, path), 0);
		if (strcmp(c.redis.password, "") != 0)
			fail_msg("'%s': password is '%s', want none (\"\")", texts[i], c.redis.password);
	}
}

/* "observer: ~" is the same YAML as "observer:" (an empty section), which is accepted. */
static void test_file_null_section(void **state)
{
	/* "---" alone is a document whose root is null: an empty file */
	static const char *const texts[] = { "observer: ~\n", "observer: null\n",
					     "exporter:\n  redis: null\n", "---\n", "--- ~\n" };
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		const char *path = write_file("nullsec.yaml", texts[i]);

		fresh(&c, &src);
		cap_start();
		rc = config_from_file(&c, &src, path);
		out = cap_end();
		if (rc != 0)
			fail_msg("'%s' rejected: %s", texts[i], out);
	}
}

struct file_case {
	const char *text;
	const char *line; /* after "PATH:" */
};

static void check_file_error(const char *name, const struct file_case *fc)
{
	const char *path = write_file(name, fc->text);
	char want[1024];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	snprintf(want, sizeof(want), "%s:%s\n", path, fc->line);
	fresh(&c, &src);
	cap_start();
	rc = config_from_file(&c, &src, path);
	out = cap_end();
	if (rc != -1)
		fail_msg("file '%s': rc %d, want -1 (stderr '%s')", fc->text, rc, out);
	if (strcmp(out, want) != 0)
		fail_msg("file '%s':\n  got  '%s'\n  want '%s'", fc->text, out, want);
}

static void test_file_errors(void **state)
{
	static const struct file_case cases[] = {
		/* invalid YAML */
		{ "exporter:\n  prometheus: [1, 2\n",
		  "3:1: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence" },
		{ "exporter:\n\tprometheus: 1\n", "2:1: invalid YAML: found character that cannot start any "
						  "token while scanning for the next "
						  "token" },
		{ "observer:\n  match: \"unterminated\n",
		  "3:1: invalid YAML: found unexpected end of stream while scanning a quoted scalar" },
		{ "observer: match: x\n",
		  "1:16: invalid YAML: mapping values are not allowed in this context" },
		/* unknown keys, with the nearest known one */
		{ "exporter:\n  redis:\n    ttl_second: 5\n",
		  "3:5: unknown key exporter.redis.ttl_second: did you mean exporter.redis.ttl_seconds?" },
		{ "exporter:\n  prometheus:\n    metrics-port: 9100\n",
		  "3:5: unknown key exporter.prometheus.metrics-port: did you mean "
		  "exporter.prometheus.metrics_port?" },
		{ "observr:\n  match: x\n", "1:1: unknown key observr: did you mean observer?" },
		{ "observer:\n  bucket:\n    duration: [1]\n",
		  "2:3: unknown key observer.bucket: did you mean observer.buckets?" },
		{ "exporter:\n  redis:\n    hots: r1\n",
		  "3:5: unknown key exporter.redis.hots: did you mean exporter.redis.host?" },
		/* a list or mapping where a single value is expected */
		{ "exporter:\n  prometheus:\n    metrics_port: [1, 2]\n",
		  "3:19: exporter.prometheus.metrics_port must be a single value, not a list" },
		{ "exporter:\n  redis:\n    host:\n      - a\n      - b\n",
		  "4:7: exporter.redis.host must be a single value, not a list" },
		{ "observer:\n  log_level: {level: debug}\n",
		  "2:14: observer.log_level must be a single value, not a mapping" },
		/* a mapping where a list is expected, a list of lists */
		{ "observer:\n  buckets:\n    duration: {a: 1}\n",
		  "3:15: observer.buckets.duration must be a list, not a mapping" },
		{ "observer:\n  pids: {a: 1}\n", "2:9: observer.pids must be a list, not a mapping" },
		{ "observer:\n  buckets:\n    duration: [[1]]\n",
		  "3:16: observer.buckets.duration must be a list of numbers, not a list of a list" },
		/* a value or list where a section is expected */
		{ "exporter: 5\n", "1:11: exporter must be a mapping, not a value" },
		{ "observer: [1]\n", "1:11: observer must be a mapping, not a list" },
		{ "exporter:\n  redis: true\n", "2:10: exporter.redis must be a mapping, not a value" },
		{ "- exporter\n", "1:1: the top level must be a mapping (exporter:, observer:)" },
		{ "just text\n", "1:1: the top level must be a mapping (exporter:, observer:)" },
		{ "exporter:\n  ? [a]\n  : 1\n", "2:5: exporter: keys must be plain names" },
		/* wrong values */
		{ "exporter:\n  prometheus:\n    metrics_port: 70000\n",
		  "3:19: exporter.prometheus.metrics_port '70000' is not a port: use a number from 1 to "
		  "65535" },
		{ "exporter:\n  prometheus:\n    metrics_port: 0\n",
		  "3:19: exporter.prometheus.metrics_port '0' is not a port: use a number from 1 to 65535" },
		{ "exporter:\n  prometheus:\n    metrics_port: nine\n",
		  "3:19: exporter.prometheus.metrics_port 'nine' is not a port: use a number from 1 to "
		  "65535" },
		{ "exporter:\n  prometheus:\n    metrics_port:\n",
		  "3:18: exporter.prometheus.metrics_port has no value: give one or remove the key" },
		{ "exporter:\n  redis:\n    port: 65536\n",
		  "3:11: exporter.redis.port '65536' is not a port: use a number from 1 to 65535" },
		{ "exporter:\n  prometheus:\n    bind_address: localhost\n",
		  "3:19: exporter.prometheus.bind_address 'localhost' is not an IP address: use e.g. "
		  "0.0.0.0, "
		  "127.0.0.1 or ::" },
		{ "exporter:\n  redis:\n    enabled: maybe\n",
		  "3:14: exporter.redis.enabled 'maybe' is not true or false" },
		{ "exporter:\n  redis:\n    key_prefix: \"gunicorn:prod\"\n",
		  "3:17: exporter.redis.key_prefix 'gunicorn:prod' contains ':', which readers split keys "
		  "on: "
		  "remove it" },
		{ "exporter:\n  redis:\n    ttl_seconds: 0\n",
		  "3:18: exporter.redis.ttl_seconds '0' is not a number of seconds: use 1 or more" },
		{ "exporter:\n  redis:\n    db: -1\n",
		  "3:9: exporter.redis.db '-1' is not a database number: use 0 or more" },
		{ "observer:\n  log_level: loud\n",
		  "2:14: observer.log_level 'loud' is unknown: use error, warn, info or debug" },
		{ "observer:\n  stuck_threshold: soon\n", "2:20: observer.stuck_threshold 'soon' is not a "
							  "number of seconds: use e.g. 15 or 0.5 (0: from "
							  "--timeout)" },
		{ "observer:\n  mirror_interval: 0\n",
		  "2:20: observer.mirror_interval '0' is not a number of seconds from 0.1 to 3600" },
		{ "observer:\n  pids: [12, x]\n",
		  "2:9: observer.pids '12,x' is not a process id: give positive whole numbers" },
		/* bucket lists */
		{ "observer:\n  buckets:\n    duration: [0.5, 0.1]\n",
		  "3:15: observer.buckets.duration '0.5,0.1' is not increasing (0.1 after 0.5): list the "
		  "bounds in "
		  "increasing order" },
		{ "observer:\n  buckets:\n    duration:\n      - 0.5\n      - 0.1\n",
		  "4:7: observer.buckets.duration '0.5,0.1' is not increasing (0.1 after 0.5): list the "
		  "bounds in "
		  "increasing order" },
		{ "observer:\n  buckets:\n    size: [100, 100]\n",
		  "3:11: observer.buckets.size '100,100' is not increasing (100 after 100): list the bounds "
		  "in "
		  "increasing order" },
		{ "observer:\n  buckets:\n    duration: []\n",
		  "3:15: observer.buckets.duration '' is empty: give increasing bucket bounds such as "
		  "0.1,0.5,1" },
		{ "observer:\n  buckets:\n    duration: [0, 1]\n",
		  "3:15: observer.buckets.duration '0,1' has 0: bucket bounds must be greater than 0" },
		{ "observer:\n  buckets:\n    duration: [0.1, fast]\n",
		  "3:15: observer.buckets.duration '0.1,fast' has 'fast', which is not a number" },
		{ "observer:\n  buckets:\n    size: "
		  "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]\n",
		  "3:11: observer.buckets.size "
		  "'1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24' has "
		  "more than 23 values" },
		/* the first error stops the file; settings before it do not matter */
		{ "observer:\n  match: x\n  log_level: debug\n  bogus: 1\n  log_level: loud\n",
		  "4:3: unknown key observer.bogus: did you mean observer.pids?" },
	};
	char name[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(name, sizeof(name), "bad%zu.yaml", i);
		check_file_error(name, &cases[i]);
	}
}

/* The password never appears in a message. */
static void test_file_password_hidden(void **state)
{
	char text[400], want[128];
	struct file_case fc = { text, want };

	(void)state;
	size_t off;

	off = (size_t)snprintf(text, sizeof(text), "exporter:\n  redis:\n    password: \"");
	memset(text + off, 'S', 256);
	strcpy(text + off + 256, "\"\n");
	snprintf(want, sizeof(want), "3:15: exporter.redis.password '***' is longer than 255 characters");
	check_file_error("longpw.yaml", &fc);
}

/* A top-level key that is not a plain name: the message has no empty key in front. */
static void test_file_top_level_key_not_plain(void **state)
{
	static const struct file_case fc = { "? [a]\n: 1\n", "1:3: keys must be plain names" };

	(void)state;
	check_file_error("topkey.yaml", &fc);
}

static void test_file_missing(void **state)
{
	char path[160], want[400];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.yaml", dir);
	snprintf(want, sizeof(want),
		 "%s:1:1: cannot open the configuration file: No such file or directory\n", path);
	fresh(&c, &src);
	cap_start();
	rc = config_from_file(&c, &src, path);
	out = cap_end();
	assert_int_equal(rc, -1);
	assert_string_equal(out, want);
	for (int i = 0; i < S_COUNT; i++)
		assert_string_equal(src.of[i], "default");
}

/* A file that cannot be opened for reading: mode 0 (and, as root, read as
 * the nobody user, since root reads anything). */
static void test_file_unreadable(void **state)
{
	const char *path = write_file("secret.yaml", "observer:\n  match: x\n");
	char want[400];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	snprintf(want, sizeof(want), "%s:1:1: cannot open the configuration file: Permission denied\n", path);
	assert_int_equal(chmod(path, 0), 0);
	fresh(&c, &src);
	if (geteuid() != 0) {
		cap_start();
		rc = config_from_file(&c, &src, path);
		out = cap_end();
	} else {
		pid_t pid;
		int status;

		cap_start();
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			    setresuid(65534, 65534, 65534))
				_exit(99);
			_exit(config_from_file(&c, &src, path) == -1 ? 0 : 1);
		}
		waitpid(pid, &status, 0);
		out = cap_end();
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), 99);
		rc = WEXITSTATUS(status) == 0 ? -1 : 0;
	}
	chmod(path, 0600);
	assert_int_equal(rc, -1);
	assert_string_equal(out, want);
}

/* A directory opens but cannot be read: that must be said, not "invalid YAML". */
static void test_file_directory(void **state)
{
	char prefix[128];
	struct obs_config c;
	struct obs_sources src;
	const char *out;
	int rc;

	(void)state;
	snprintf(prefix, sizeof(prefix), "%s:1:1: ", dir);
	fresh(&c, &src);
	cap_start();
	rc = config_from_file(&c, &src, dir);
	out = cap_end();
	assert_int_equal(rc, -1);
	assert_int_equal(count_lines(out), 1);
	if (strncmp(out, prefix, strlen(prefix)) != 0 || !strstr(out, "Is a directory") ||
	    strstr(out, "invalid YAML"))
		fail_msg("a directory as the file: got '%s', want '%s... Is a directory'", out, prefix);
}

/* ---- precedence --------------------------------------------------------- */

/* main.c's order: defaults, file, environment, flags. */
static void test_precedence(void **state)
{
	const char *path = write_file("prec.yaml", "exporter:\n"
						   "  prometheus:\n"
						   "    bind_address: 127.0.0.1\n"
						   "    metrics_port: 9100\n"
						   "  redis:\n"
						   "    host: from-file\n"
						   "    db: 1\n"
						   "observer:\n"
						   "  log_level: debug\n"
						   "  match: file\n");
	char want[300];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	assert_int_equal(config_from_file(&c, &src, path), 0);
	setenv("PROMETHEUS_METRICS_PORT", "9200", 1);
	setenv("REDIS_HOST", "from-env", 1);
	setenv("GUNICORN_OBSERVER_MATCH", "env", 1);
	assert_int_equal(config_from_env(&c, &src), 0);
	unset_all_env();
	flag_ok(&c, &src, "redis-host", "from-flag");
	flag_ok(&c, &src, "log-level", "error");

	assert_string_equal(c.listen_addr, "127.0.0.1"); /* file */
	snprintf(want, sizeof(want), "file %s:3", path);
	assert_string_equal(src.of[S_BIND], want);
	assert_int_equal(c.listen_port, 9200); /* env beats file */
	assert_string_equal(src.of[S_PORT], "env PROMETHEUS_METRICS_PORT");
	assert_string_equal(c.redis.host, "from-flag"); /* flag beats env and file */
	assert_string_equal(src.of[S_RHOST], "flag --redis-host");
	assert_int_equal(c.redis.db, 1);
	snprintf(want, sizeof(want), "file %s:7", path);
	assert_string_equal(src.of[S_RDB], want);
	assert_int_equal(c.level, LOG_ERROR); /* flag beats file */
	assert_string_equal(src.of[S_LEVEL], "flag --log-level");
	assert_string_equal(c.match, "env");
	assert_string_equal(src.of[S_MATCH], "env GUNICORN_OBSERVER_MATCH");
	assert_int_equal(c.redis.port, 6379);
	assert_string_equal(src.of[S_RPORT], "default");
}

/* ---- nearest key -------------------------------------------------------- */

static void test_nearest_key(void **state)
{
	static const struct {
		const char *key, *want;
	} cases[] = {
		{ "exporter.redis.ttl_second", "exporter.redis.ttl_seconds" },
		{ "exporter.redis.ttl-seconds", "exporter.redis.ttl_seconds" },
		{ "exporter.redis.ttlseconds", "exporter.redis.ttl_seconds" },
		{ "exporter.prometheus.metrics-port", "exporter.prometheus.metrics_port" },
		{ "exporter.prometheus.bind_adress", "exporter.prometheus.bind_address" },
		{ "exporter.redis.hots", "exporter.redis.host" },
		{ "exporter.redis.passwd", "exporter.redis.password" },
		{ "exporter.redis.enable", "exporter.redis.enabled" },
		{ "exporter.redis.keyprefix", "exporter.redis.key_prefix" },
		{ "observer.log-level", "observer.log_level" },
		{ "observer.stuck-threshold", "observer.stuck_threshold" },
		{ "observer.mirror_intervall", "observer.mirror_interval" },
		{ "observer.buckets.durations", "observer.buckets.duration" },
		{ "observer.buckets.sizes", "observer.buckets.size" },
		{ "observer.pid", "observer.pids" },
		{ "observer.bucket", "observer.buckets" },
		{ "observr", "observer" },
		{ "exporterr", "exporter" },
		{ "exporter.promethus", "exporter.prometheus" },
		{ "exporter.redis", "exporter.redis" },
		{ "observer.match", "observer.match" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = config_nearest_key(cases[i].key);

		if (!got || strcmp(got, cases[i].want) != 0)
			fail_msg("nearest to %s: got %s, want %s", cases[i].key, got ? got : "NULL",
				 cases[i].want);
	}
	/* always some known key, never an in-process one */
	assert_non_null(config_nearest_key("zzz"));
	assert_non_null(config_nearest_key(""));
	assert_string_not_equal(config_nearest_key("exporter.prometheus.ssl"), "exporter.prometheus.ssl");
}

/* ---- --print-config ----------------------------------------------------- */

static void print_to(const char *path, const struct obs_config *c, const struct obs_sources *src)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	config_print(f, c, src);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_print_defaults(void **state)
{
	static const char want[] =
	    "# effective configuration of gunicorn-observer: value  # source\n"
	    "exporter:\n"
	    "  prometheus:\n"
	    "    bind_address: \"0.0.0.0\"  # default\n"
	    "    metrics_port: 9093  # default\n"
	    "  redis:\n"
	    "    enabled: false  # default\n"
	    "    host: \"127.0.0.1\"  # default\n"
	    "    port: 6379  # default\n"
	    "    db: 0  # default\n"
	    "    password: \"\"  # default\n"
	    "    key_prefix: \"gunicorn\"  # default\n"
	    "    ttl_seconds: 300  # default\n"
	    "    ttl_disabled: false  # default\n"
	    "observer:\n"
	    "  pids: []  # default\n"
	    "  match: \"\"  # default\n"
	    "  stuck_threshold: 0  # default\n"
	    "  log_level: info  # default\n"
	    "  mirror_interval: 5  # default\n"
	    "  endpoint:\n"
	    "    tls_cert: \"\"  # default\n"
	    "    tls_key: \"\"  # default\n"
	    "    basic_auth_user: \"\"  # default\n"
	    "    basic_auth_password_file: \"\"  # default\n"
	    "    connection_limit: 512  # default\n"
	    "    per_ip_connection_limit: 16  # default\n"
	    "    connection_timeout: 10  # default\n"
	    "  buckets:\n"
	    "    duration: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]  "
	    "# default\n"
	    "    size: [128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]  # default\n"
	    "  pin: true  # default\n"
	    "  pin_dir: \"/sys/fs/bpf/gunicorn-observer\"  # default\n"
	    "  max_connections: 65536  # default\n"
	    "  max_workers: 4096  # default\n"
	    "  data_plane: auto  # default\n";
	char path[160];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	snprintf(path, sizeof(path), "%s/print-defaults.yaml", dir);
	print_to(path, &c, &src);
	assert_string_equal(slurp(path), want);
}

/* Prints c, checks every "leaf: value  # source" line against src (in the
 * table's order), reads the print back and checks that it gives c again,
 * each value now sourced from its line of the print. */
static void round_trip(const struct obs_config *c, const struct obs_sources *src, const char *name)
{
	char path[160], want[300], *text, *line, *save = NULL;
	struct obs_config back;
	struct obs_sources bsrc;
	int lineno = 0, id = 0, lines[64];
	const char *out;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	print_to(path, c, src);
	text = slurp(path);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *hash = strstr(line, "  # "), *leaf;
		size_t indent = strspn(line, " ");

		lineno++; /* no empty lines in the print, so strtok_r skips none */
		if (line[0] == '#' || !hash)
			continue;
		assert_true(id < S_COUNT);
		leaf = strrchr(config_settings[id].yaml, '.') + 1;
		/* indented two spaces per level of its dotted path */
		if (strncmp(line + indent, leaf, strlen(leaf)) != 0 || line[indent + strlen(leaf)] != ':')
			fail_msg("print line %d '%s': want key %s", lineno, line, leaf);
		{
			int dots = 0;

			for (const char *p = config_settings[id].yaml; *p; p++)
				dots += *p == '.';
			assert_int_equal(indent, 2 * (size_t)dots);
		}
		if (strcmp(hash + 4, src->of[id]) != 0)
			fail_msg("print line %d '%s': source want '%s'", lineno, line, src->of[id]);
		lines[id++] = lineno;
	}
	assert_int_equal(id, S_COUNT);

	fresh(&back, &bsrc);
	cap_start();
	rc = config_from_file(&back, &bsrc, path);
	out = cap_end();
	if (rc != 0)
		fail_msg("the print of %s does not read back: %s", name, out);
	assert_string_equal(out, "");
	assert_config_equal_but_password(c, &back);
	assert_string_equal(back.redis.password, c->redis.password[0] ? "***" : "");
	for (int i = 0; i < S_COUNT; i++) {
		snprintf(want, sizeof(want), "file %s:%d", path, lines[i]);
		assert_string_equal(bsrc.of[i], want);
	}
}

static void test_print_round_trip(void **state)
{
	const char *file = write_file("rt.yaml", "exporter:\n"
						 "  prometheus:\n"
						 "    metrics_port: 9300\n"
						 "  redis:\n"
						 "    enabled: yes\n"
						 "    host: redis.internal\n"
						 "    db: 2\n"
						 "    ttl_seconds: 120\n"
						 "observer:\n"
						 "  pids: [10, 20]\n"
						 "  buckets:\n"
						 "    duration: [0.005, 0.0125, 0.3333, 7.5, 120]\n");
	char err[256], want[300];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	assert_int_equal(config_from_file(&c, &src, file), 0);
	setenv("PROMETHEUS_BIND_ADDRESS", "::1", 1);
	setenv("REDIS_KEY_PREFIX", "shop_prod", 1);
	setenv("GUNICORN_OBSERVER_STUCK_THRESHOLD", "2.5", 1);
	setenv("GUNICORN_OBSERVER_SIZE_BUCKETS", "100,1000,123456789", 1);
	assert_int_equal(config_from_env(&c, &src), 0);
	unset_all_env();
	flag_ok(&c, &src, "redis-password-file", write_file("rtpw", "hunter2\n"));
	flag_ok(&c, &src, "match", "shop.wsgi:application --name shop");
	flag_ok(&c, &src, "log-level", "warn");
	flag_ok(&c, &src, "mirror-interval", "0.25");
	flag_ok(&c, &src, "redis-ttl-disabled", "true");
	flag_ok(&c, &src, "redis-port", "6390");
	assert_int_equal(config_set_flag(&c, &src, "pid", "30", err, sizeof(err)), 0);
	/* a mix of every source */
	snprintf(want, sizeof(want), "file %s:3", file);
	assert_string_equal(src.of[S_PORT], want);
	assert_string_equal(src.of[S_BIND], "env PROMETHEUS_BIND_ADDRESS");
	assert_string_equal(src.of[S_PIDS], "flag --pid");
	assert_string_equal(src.of[S_RNOTTL], "flag --redis-ttl-disabled");
	assert_string_equal(src.of[S_INTERVAL], "flag --mirror-interval");
	round_trip(&c, &src, "print-mixed.yaml");

	/* the defaults read back to the defaults */
	fresh(&c, &src);
	round_trip(&c, &src, "print-defaults-rt.yaml");
}

/* --print-config shows the password as *** and never the password itself. */
static void test_print_hides_password(void **state)
{
	char path[160];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_RPASS, "hunter2");
	config_source(&src, S_RPASS, "env REDIS_PASSWORD");
	snprintf(path, sizeof(path), "%s/print-pw.yaml", dir);
	print_to(path, &c, &src);
	assert_null(strstr(slurp(path), "hunter2"));
	assert_non_null(strstr(slurp(path), "    password: \"***\"  # env REDIS_PASSWORD\n"));
}

/* Text values with YAML's special characters print as valid YAML that reads back the same. */
static void test_print_round_trip_quoting(void **state)
{
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_MATCH, "--name \"shop\" C:\\apps\\shop #1");
	config_source(&src, S_MATCH, "flag --match");
	set_ok(&c, S_RHOST, "redis\"host");
	config_source(&src, S_RHOST, "flag --redis-host");
	round_trip(&c, &src, "print-quoting.yaml");
}

/* Numbers print so that they read back exactly. */
static void test_print_round_trip_precision(void **state)
{
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	set_ok(&c, S_STUCK, "0.1234567");
	config_source(&src, S_STUCK, "flag --stuck-threshold");
	set_ok(&c, S_INTERVAL, "1.0000001");
	config_source(&src, S_INTERVAL, "flag --mirror-interval");
	set_ok(&c, S_DUR, "0.1234567891234,1");
	config_source(&src, S_DUR, "flag --duration-buckets");
	round_trip(&c, &src, "print-precision.yaml");
}

/* Size bounds that are not whole bytes: either refused, or printed as given. */
static void test_print_round_trip_fractional_size(void **state)
{
	char err[256];
	struct obs_config c;
	struct obs_sources src;

	(void)state;
	fresh(&c, &src);
	if (config_set(&c, S_SIZE, "1.2,1.4,100", 0, err, sizeof(err)) != 0)
		return;
	config_source(&src, S_SIZE, "flag --size-buckets");
	round_trip(&c, &src, "print-fractional.yaml");
}

/* ---- the command line --------------------------------------------------- */

static char cli_stdout[32768];

/* cli_configure on "gunicorn-observer" and args (NULL-terminated); its
 * stdout into cli_stdout, its stderr into *err. */
static int run_cli(const char *const *args, struct obs_config *c, struct obs_sources *src, struct cli *cli,
		   const char **err)
{
	char *argv[64], path[160];
	int argc = 0, fd, saved, rc;
	FILE *f;
	size_t n;

	argv[argc++] = "gunicorn-observer";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(cli, 0, sizeof(*cli));
	snprintf(path, sizeof(path), "%s/stdout.txt", dir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	cap_start();
	rc = cli_configure(argc, argv, c, src, cli);
	*err = cap_end();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(cli_stdout, 1, sizeof(cli_stdout) - 1, f);
	cli_stdout[n] = '\0';
	fclose(f);
	return rc;
}

/* text with every run of spaces and newlines made one space, into out. */
static void flatten(const char *text, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = text; *p && n + 1 < size; p++) {
		if (*p == ' ' || *p == '\n') {
			if (n && out[n - 1] != ' ')
				out[n++] = ' ';
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

static void want_in_help(const char *flat, const char *want)
{
	if (!strstr(flat, want))
		fail_msg("--help has no '%s':\n%s", want, cli_stdout);
}

/* --help is made from the table: every setting's flag with its value, help
 * and default; every composite flag; the command line's own options. */
static void test_help_from_table(void **state)
{
	static char flat[32768];
	char want[1024], arg[128];
	struct obs_config c;
	struct obs_sources src;
	struct cli cli;
	const char *err;
	int rc, bind = S_BIND, port = S_PORT;

	(void)state;
	rc = run_cli((const char *const[]){ "--help", NULL }, &c, &src, &cli, &err);
	assert_int_equal(rc, 1);
	assert_string_equal(err, "");
	assert_memory_equal(cli_stdout, "Usage: gunicorn-observer", strlen("Usage: gunicorn-observer"));
	flatten(cli_stdout, flat, sizeof(flat));
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		if (!s->flag)
			continue;
		snprintf(want, sizeof(want), "--%s %s %s%s%s%s", s->flag, setting_arg(s, arg, sizeof(arg)),
			 s->help, s->def && *s->def ? " (default " : "", s->def ? s->def : "",
			 s->def && *s->def ? ")" : "");
		want_in_help(flat, want);
		if (s->letter) {
			snprintf(want, sizeof(want), "-%c, --%s ", s->letter, s->flag);
			want_in_help(flat, want);
		}
	}
	for (int k = 0; k < config_ncomposites; k++) {
		const struct config_composite *o = &config_composites[k];

		snprintf(want, sizeof(want), "--%s%s%s %s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "",
			 o->help);
		want_in_help(flat, want);
	}
	for (const char *const *w =
		 (const char *const[]){ "-l, --listen ADDR:PORT", "-p, --pid PID", "--no-pin",
					"-c, --config FILE", "--print-config", "--check-config", "-h, --help",
					"-V, --version", "aggregate --help", "cleanup [--pin-dir DIR]",
					NULL };
	     *w; w++)
		want_in_help(flat, *w);
	/* --listen's default is that of the two settings it sets */
	snprintf(want, sizeof(want), "(default %s:%s)", config_settings[bind].def, config_settings[port].def);
	want_in_help(flat, want);
	/* every line fits 80 columns */
	for (const char *line = cli_stdout, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		if (nl - line > 80)
			fail_msg("--help line of %d columns: %.*s", (int)(nl - line), (int)(nl - line), line);
	}
}

/* The short, long and composite flags, and what they leave in cli. */
static void test_cli_flags(void **state)
{
	const char *file = write_file("cli.yaml", "observer:\n  log_level: debug\n  match: file\n");
	const char *other = write_file("cli-other.yaml", "observer:\n  bogus: 1\n");
	const char *pw = write_file("cli-pw", "hunter2\n");
	char want[300];
	struct obs_config c;
	struct obs_sources src;
	struct cli cli;
	const char *err;
	int rc;

	(void)state;
	setenv("GUNICORN_OBSERVER_CONFIG", other, 1); /* -c beats it */
	setenv("GUNICORN_OBSERVER_MATCH", "env", 1);
	setenv("GUNICORN_OBSERVER_MAX_WORKERS", "2048", 1);
	rc = run_cli((const char *const[]){ "-l", "[::1]:9494", "-p", "31", "--pid", "32", "--no-pin",
					    "--max-workers", "1024", "--redis-password-file", pw,
					    "--print-config", "--check-config", "-c", file, "--log-level",
					    "error", NULL },
		     &c, &src, &cli, &err);
	unset_all_env();
	if (rc != 0)
		fail_msg("rc %d: %s", rc, err);
	assert_string_equal(err, "");
	assert_string_equal(cli_stdout, "");
	assert_true(cli.print && cli.check);
	assert_string_equal(cli.config, file);
	assert_string_equal(c.listen_addr, "::1");
	assert_int_equal(c.listen_port, 9494);
	assert_string_equal(src.of[S_BIND], "flag --listen");
	assert_int_equal(c.npids, 2);
	assert_int_equal(c.pids[0], 31);
	assert_int_equal(c.pids[1], 32);
	assert_string_equal(src.of[S_PIDS], "flag --pid");
	assert_int_equal(c.pin, 0);
	assert_string_equal(src.of[S_PIN], "flag --pin");
	assert_int_equal(c.max_workers, 1024); /* flag beats env */
	assert_string_equal(c.redis.password, "hunter2");
	assert_int_equal(c.level, LOG_ERROR); /* flag beats file */
	assert_string_equal(c.match, "env");  /* env beats file */
	snprintf(want, sizeof(want), "file %s:2", file);
	assert_string_equal(src.of[S_LEVEL], "flag --log-level");
	assert_string_equal(src.of[S_MATCH], "env GUNICORN_OBSERVER_MATCH");

	/* GUNICORN_OBSERVER_CONFIG when there is no -c */
	setenv("GUNICORN_OBSERVER_CONFIG", file, 1);
	rc = run_cli((const char *const[]){ NULL }, &c, &src, &cli, &err);
	unset_all_env();
	assert_int_equal(rc, 0);
	assert_int_equal(c.level, LOG_DEBUG);
	assert_string_equal(src.of[S_LEVEL], want);
}

/* Every bad option: -1 and exactly one line, naming the option as given. */
static void test_cli_errors(void **state)
{
	const struct {
		const char *args[4], *env, *line;
	} cases[] = {
		{ { "--max-workers", "0" },
		  NULL,
		  "--max-workers '0' is not a whole number of workers from 1 to 262144" },
		{ { "--listen", "nocolon" },
		  NULL,
		  "--listen 'nocolon' is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093" },
		{ { "-l", "nocolon" },
		  NULL,
		  "--listen 'nocolon' is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093" },
		{ { "-l", "127.0.0.1:70000" },
		  NULL,
		  "--listen '127.0.0.1:70000' is not ADDR:PORT: use e.g. 0.0.0.0:9093 or [::]:9093" },
		{ { "--listen", "localhost:80" },
		  NULL,
		  "--listen 'localhost:80' is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or ::" },
		{ { "--log-level", "loud" },
		  NULL,
		  "--log-level 'loud' is unknown: use error, warn, info or debug" },
		{ { "-p", "abc" }, NULL, "--pid 'abc' is not a process id: give positive whole numbers" },
		{ { "--data-plane", "kprobe" },
		  NULL,
		  "--data-plane 'kprobe' is unknown: use auto, socket, fentry or syscall" },
		{ { "--bogus" }, NULL, "unknown option '--bogus': see --help" },
		{ { "-x" }, NULL, "unknown option '-x': see --help" },
		{ { "--no-pin=yes" }, NULL, "unknown option '--no-pin=yes': see --help" },
		{ { "--listen" }, NULL, "--listen needs a value: see --help" },
		{ { "-p" }, NULL, "-p needs a value: see --help" },
		{ { "stray" }, NULL, "unexpected argument 'stray': see --help" },
		{ { NULL },
		  "GUNICORN_OBSERVER_DATA_PLANE=fast",
		  "GUNICORN_OBSERVER_DATA_PLANE='fast' is unknown: use auto, socket, fentry or syscall" },
		{ { NULL },
		  "PROMETHEUS_METRICS_PORT=x1",
		  "PROMETHEUS_METRICS_PORT='x1' is not a port: use a number from 1 to 65535" },
		{ { NULL },
		  "GUNICORN_OBSERVER_MAX_WORKERS=lots",
		  "GUNICORN_OBSERVER_MAX_WORKERS='lots' is not a whole number of workers from 1 to 262144" },
		{ { "--tls-cert", "c.pem" },
		  NULL,
		  "a TLS certificate without a key: give both --tls-cert and --tls-key, or neither" },
	};
	char want[300], env[128];
	struct obs_config c;
	struct obs_sources src;
	struct cli cli;
	const char *err;
	int rc;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		if (cases[i].env) {
			snprintf(env, sizeof(env), "%s", cases[i].env);
			*strchr(env, '=') = '\0';
			setenv(env, strchr(cases[i].env, '=') + 1, 1);
		}
		rc = run_cli(cases[i].args, &c, &src, &cli, &err);
		unset_all_env();
		snprintf(want, sizeof(want), "gunicorn-observer: %s\n", cases[i].line);
		if (rc != -1 || strcmp(err, want) != 0)
			fail_msg("%s %s: rc %d, stderr '%s', want -1 and '%s'",
				 cases[i].env ? cases[i].env : "", cases[i].args[0] ? cases[i].args[0] : "",
				 rc, err, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_has_every_form),
		cmocka_unit_test(test_table_flags_unique),
		cmocka_unit_test(test_table_fields),
		cmocka_unit_test(test_readme_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_ports),
		cmocka_unit_test(test_set_bind_address),
		cmocka_unit_test(test_set_redis_host),
		cmocka_unit_test(test_set_buckets),
		cmocka_unit_test(test_set_buckets_not_infinite),
		cmocka_unit_test(test_set_buckets_fit_u64),
		cmocka_unit_test(test_set_pids),
		cmocka_unit_test(test_set_pids_messages),
		cmocka_unit_test(test_set_booleans),
		cmocka_unit_test(test_set_redis_prefix),
		cmocka_unit_test(test_set_ttl_and_db),
		cmocka_unit_test(test_set_log_levels),
		cmocka_unit_test(test_set_seconds),
		cmocka_unit_test(test_set_pin_dir),
		cmocka_unit_test(test_set_text),
		cmocka_unit_test(test_set_endpoint),
		cmocka_unit_test(test_validate_endpoint),
		cmocka_unit_test(test_validate_ttl_vs_interval),
		cmocka_unit_test(test_flag_listen),
		cmocka_unit_test(test_flag_pid_repeats),
		cmocka_unit_test(test_flag_password_file),
		cmocka_unit_test(test_flag_every_setting),
		cmocka_unit_test(test_env_every_name),
		cmocka_unit_test(test_env_empty_is_unset),
		cmocka_unit_test(test_env_bad_value_one_line),
		cmocka_unit_test(test_file_every_setting),
		cmocka_unit_test(test_file_partial_leaves_defaults),
		cmocka_unit_test(test_file_empty),
		cmocka_unit_test(test_file_scalar_for_list),
		cmocka_unit_test(test_file_null_password),
		cmocka_unit_test(test_file_null_section),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_password_hidden),
		cmocka_unit_test(test_file_top_level_key_not_plain),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_unreadable),
		cmocka_unit_test(test_file_directory),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_nearest_key),
		cmocka_unit_test(test_print_defaults),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_print_hides_password),
		cmocka_unit_test(test_print_round_trip_quoting),
		cmocka_unit_test(test_print_round_trip_precision),
		cmocka_unit_test(test_print_round_trip_fractional_size),
		cmocka_unit_test(test_help_from_table),
		cmocka_unit_test(test_cli_flags),
		cmocka_unit_test(test_cli_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
