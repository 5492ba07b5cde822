/* config.c - what holds across settings (config_validate) and what the
 * settings select (config_wants_*). The settings themselves, their sources
 * and their defaults are the table's: config_table.c. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

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
