/* discover.h - recognising Gunicorn masters and workers from /proc, and the
 * app name of a master from its command line. */
#ifndef OBS_DISCOVER_H
#define OBS_DISCOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/gargs.h"

struct found {
	pid_t pid;
	pid_t master; /* equal to pid for a master */
	uint64_t start_ticks;
	double timeout_s;   /* a master's --timeout, 0 when not given */
	char certfile[256]; /* a master's --certfile: it serves TLS; empty otherwise */
	char app[OBS_APP_LEN];
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

/* Every Gunicorn master under ROOT and its workers, masters first. */
int discover_scan(const char *root, struct found_list *out);
/* The workers of one master (children with a Gunicorn command line). */
int discover_workers(const char *root, pid_t master, struct found_list *out);
void found_list_free(struct found_list *l);

#endif
