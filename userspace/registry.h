/* registry.h - the Gunicorn masters userspace knows about, with the request
 * totals of their workers that are gone. */
#ifndef GO_REGISTRY_H
#define GO_REGISTRY_H

#include "discover.h"
#include "snapshot.h"

struct master_rec {
	pid_t pid;
	uint64_t start_ticks;
	char app[GO_APP_LEN];
	struct totals retired; /* workers that exited */
};

struct registry {
	struct master_rec *v;
	size_t n, cap;
};

struct master_rec *registry_find(struct registry *r, pid_t pid);
/* Adds a master, or refreshes its app name when it is known already. */
struct master_rec *registry_add(struct registry *r, pid_t pid, uint64_t start_ticks, const char *app);
void registry_remove(struct registry *r, pid_t pid);
void registry_free(struct registry *r);

#endif
