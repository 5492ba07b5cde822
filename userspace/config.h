/* config.h - the observer's effective settings. */
#ifndef GO_CONFIG_H
#define GO_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include "log.h"
#include "observer.h"

#define GO_MAX_PIDS 64

struct go_config {
	char listen_addr[64];
	unsigned short listen_port;
	pid_t pids[GO_MAX_PIDS]; /* --pid: only these masters; empty means all */
	size_t npids;
	enum log_level level;
	double dur_bounds[GO_MAX_DUR_BOUNDS]; /* seconds */
	size_t ndur;
	double size_bounds[GO_MAX_SIZE_BOUNDS]; /* bytes */
	size_t nsize;
	double
	    stuck_threshold; /* seconds busy before a worker is stuck; 0: half the master's --timeout, else 15 */
	const char *proc_root;
};

/* Built-in defaults. */
void config_defaults(struct go_config *c);
/* PROMETHEUS_BIND_ADDRESS and PROMETHEUS_METRICS_PORT; prints one line and
 * returns -1 on a bad value. */
int config_from_env(struct go_config *c);
/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" into c; -1 on a bad value. */
int config_parse_listen(struct go_config *c, const char *s);
/* Parses a port number 1..65535; -1 on a bad value. */
int config_parse_port(const char *s, unsigned short *out);
/* Is the listen address a numeric IPv4 or IPv6 address? Prints one line
 * and returns -1 when it is not. */
int config_check_listen(const struct go_config *c);
/* Is pid one the user asked for (or were none asked for)? */
int config_wants_pid(const struct go_config *c, pid_t pid);

#endif
