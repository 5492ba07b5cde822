/* config.c - defaults, environment and value parsing for the settings. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const double default_dur[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				      0.5,   1,      2.5,   5,    10,    30,   60 };
static const double default_size[] = { 128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304 };

void config_defaults(struct go_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_addr, sizeof(c->listen_addr), "0.0.0.0");
	c->listen_port = 9093;
	c->level = LOG_INFO;
	c->ndur = sizeof(default_dur) / sizeof(default_dur[0]);
	memcpy(c->dur_bounds, default_dur, sizeof(default_dur));
	c->nsize = sizeof(default_size) / sizeof(default_size[0]);
	memcpy(c->size_bounds, default_size, sizeof(default_size));
	c->proc_root = "/proc";
}

int config_parse_port(const char *s, unsigned short *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -1;
	*out = (unsigned short)v;
	return 0;
}

int config_parse_listen(struct go_config *c, const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t hlen;

	if (!colon || config_parse_port(colon + 1, &c->listen_port))
		return -1;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(c->listen_addr))
		return -1;
	if (hlen == 0) {
		snprintf(c->listen_addr, sizeof(c->listen_addr), "0.0.0.0");
		return 0;
	}
	memcpy(c->listen_addr, s, hlen);
	c->listen_addr[hlen] = '\0';
	return 0;
}

int config_from_env(struct go_config *c)
{
	const char *v = getenv("PROMETHEUS_BIND_ADDRESS");

	if (v && *v) {
		if (strlen(v) >= sizeof(c->listen_addr)) {
			fprintf(stderr, "gunicorn-observer: PROMETHEUS_BIND_ADDRESS is too long: set it to "
					"an IP address\n");
			return -1;
		}
		snprintf(c->listen_addr, sizeof(c->listen_addr), "%s", v);
	}
	v = getenv("PROMETHEUS_METRICS_PORT");
	if (v && *v && config_parse_port(v, &c->listen_port)) {
		fprintf(stderr,
			"gunicorn-observer: PROMETHEUS_METRICS_PORT='%s' is not a port: set it to a number "
			"from 1 to 65535\n",
			v);
		return -1;
	}
	return 0;
}

int config_wants_pid(const struct go_config *c, pid_t pid)
{
	if (c->npids == 0)
		return 1;
	for (size_t i = 0; i < c->npids; i++)
		if (c->pids[i] == pid)
			return 1;
	return 0;
}

int config_check_listen(const struct go_config *c)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, c->listen_addr, addr) == 1 || inet_pton(AF_INET6, c->listen_addr, addr) == 1)
		return 0;
	fprintf(stderr,
		"gunicorn-observer: listen address '%s' is not an IP address: use e.g. 0.0.0.0, 127.0.0.1 or "
		"::\n",
		c->listen_addr);
	return -1;
}
