/* config_print.c - the effective configuration as YAML, in the layout the
 * file takes, every value followed by where it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_table.h"

/* The shortest decimal form that reads back as the same double. */
static void number(FILE *f, double v)
{
	char buf[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void list(FILE *f, const double *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		number(f, v[i]);
	}
	fputc(']', f);
}

/* A double-quoted YAML string. */
static void text(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void value(FILE *f, const struct obs_config *c, enum setting_id id)
{
	double pids[OBS_MAX_PIDS];
	static const char *const levels[] = { "error", "warn", "info", "debug" };

	switch (id) {
	case S_BIND:
		text(f, c->listen_addr);
		break;
	case S_PORT:
		fprintf(f, "%u", c->listen_port);
		break;
	case S_PIDS:
		for (size_t i = 0; i < c->npids; i++)
			pids[i] = c->pids[i];
		list(f, pids, c->npids);
		break;
	case S_MATCH:
		text(f, c->match);
		break;
	case S_PIN:
		fprintf(f, "%s", c->pin ? "true" : "false");
		break;
	case S_PINDIR:
		text(f, c->pin_dir);
		break;
	case S_MAXCONN:
		fprintf(f, "%u", c->max_conns);
		break;
	case S_MAXWORKERS:
		fprintf(f, "%u", c->max_workers);
		break;
	case S_PLANE:
		fputs(config_plane_name(c->data_plane), f);
		break;
	case S_TLSCERT:
		text(f, c->tls_cert);
		break;
	case S_TLSKEY:
		text(f, c->tls_key);
		break;
	case S_AUTHUSER:
		text(f, c->auth_user);
		break;
	case S_AUTHFILE:
		text(f, c->auth_password_file);
		break;
	case S_CONNLIMIT:
		fprintf(f, "%u", c->http_conn_limit);
		break;
	case S_IPLIMIT:
		fprintf(f, "%u", c->http_per_ip_limit);
		break;
	case S_CONNTIMEOUT:
		fprintf(f, "%u", c->http_timeout_s);
		break;
	case S_DUR:
		list(f, c->dur_bounds, c->ndur);
		break;
	case S_SIZE:
		list(f, c->size_bounds, c->nsize);
		break;
	case S_STUCK:
		number(f, c->stuck_threshold);
		break;
	case S_LEVEL:
		fprintf(f, "%s", levels[c->level]);
		break;
	case S_INTERVAL:
		number(f, c->redis.interval_s);
		break;
	case S_REDIS:
		fprintf(f, "%s", c->redis.enabled ? "true" : "false");
		break;
	case S_RHOST:
		text(f, c->redis.host);
		break;
	case S_RPORT:
		fprintf(f, "%u", c->redis.port);
		break;
	case S_RDB:
		fprintf(f, "%d", c->redis.db);
		break;
	case S_RPASS:
		text(f, c->redis.password[0] ? "***" : "");
		break;
	case S_RPREFIX:
		text(f, c->redis.prefix);
		break;
	case S_RTTL:
		fprintf(f, "%u", c->redis.ttl_seconds);
		break;
	case S_RNOTTL:
		fprintf(f, "%s", c->redis.ttl_disabled ? "true" : "false");
		break;
	case S_COUNT:
		break;
	}
}

/* Number of leading dotted components a and b share. */
static int shared_depth(const char *a, const char *b)
{
	int depth = 0;

	for (size_t i = 0;; i++) {
		int ea = a[i] == '.' || a[i] == '\0', eb = b[i] == '.' || b[i] == '\0';

		if (ea || eb) {
			if (!(ea && eb))
				return depth;
			depth++;
			if (!a[i] || !b[i])
				return depth;
			continue;
		}
		if (a[i] != b[i])
			return depth;
	}
}

void config_print(FILE *f, const struct obs_config *c, const struct obs_sources *src)
{
	char prev[128] = "";

	fprintf(f, "# effective configuration of gunicorn-observer: value  # source\n");
	for (int i = 0; i < S_COUNT; i++) {
		const char *path = settings[i].yaml, *leaf = strrchr(path, '.') + 1;
		char section[128];
		int depth = 0, keep;
		const char *p;

		snprintf(section, sizeof(section), "%.*s", (int)(leaf - 1 - path), path);
		keep = prev[0] ? shared_depth(prev, section) : 0;
		/* open the sections this setting is in that the previous was not */
		p = section;
		for (int d = 0; *p; d++) {
			const char *end = strchr(p, '.');
			int len = end ? (int)(end - p) : (int)strlen(p);

			if (d >= keep)
				fprintf(f, "%*s%.*s:\n", 2 * d, "", len, p);
			depth = d + 1;
			p = end ? end + 1 : p + len;
		}
		snprintf(prev, sizeof(prev), "%s", section);
		fprintf(f, "%*s%s: ", 2 * depth, "", leaf);
		value(f, c, (enum setting_id)i);
		fprintf(f, "  # %s\n", src->of[i]);
	}
}
