/* listeners.h - a master's listening sockets and their accept queues, from
 * sock_diag netlink in the master's network namespace. */
#ifndef OBS_LISTENERS_H
#define OBS_LISTENERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OBS_LISTEN_NAME   120 /* "unix:", the longest sun_path and a NUL */
#define OBS_MAX_LISTENERS 16

struct listener {
	char name[OBS_LISTEN_NAME]; /* "127.0.0.1:8000", "[::]:8000", "unix:/run/app.sock" */
	uint32_t backlog;           /* connections waiting in the accept queue */
	uint32_t backlog_max;       /* the listen() limit */
};

/* Fills out with up to max listeners held by pid; returns their number or
 * -1 when the process or its namespace cannot be read. */
int listeners_read(const char *proc_root, pid_t pid, struct listener *out, size_t max);

#endif
