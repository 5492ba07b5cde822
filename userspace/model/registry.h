/* registry.h - the Gunicorn masters userspace knows about, with the request
 * totals of their workers that are gone. */
#ifndef OBS_REGISTRY_H
#define OBS_REGISTRY_H

#include "host/gargs.h"
#include "host/k8s.h"
#include "model/lifecycle.h"
#include "model/snapshot.h"

struct master_rec {
	pid_t pid;
	uint64_t start_ticks;
	char app[OBS_APP_LEN];
	double timeout_s;      /* its --timeout, 0 when not on its command line */
	struct totals retired; /* workers that exited */
	struct master_life life;
	struct k8s_id k8s;  /* empty outside Kubernetes */
	int restored;       /* its saved counters were looked up (saved.c) */
	char certfile[256]; /* its --certfile: its listeners speak TLS; empty otherwise */
	int tls;            /* 1: its workers' TLS is followed (tls.c); -1: it cannot be */
	double tls_at; /* CLOCK_BOOTTIME seconds when it was bound: a worker forked before is bound alone */
};

/* Userspace's memory of one live worker. */
struct worker_rec {
	pid_t pid;
	pid_t master;
	double start_t;          /* CLOCK_BOOTTIME seconds of its fork, 0 when unknown */
	struct worker_fate fate; /* what may explain its exit */
};

struct registry {
	struct master_rec *v;
	size_t n, cap;
	struct worker_rec *w; /* sorted by pid */
	size_t nw, capw;
};

struct master_rec *registry_find(struct registry *r, pid_t pid);
/* Adds a master, or refreshes its app name when it is known already. */
struct master_rec *registry_add(struct registry *r, pid_t pid, uint64_t start_ticks, const char *app);
void registry_remove(struct registry *r, pid_t pid);
/* The record of worker pid; created (zeroed but for pid) when create is set. */
struct worker_rec *registry_worker(struct registry *r, pid_t pid, int create);
void registry_drop_worker(struct registry *r, pid_t pid);
void registry_free(struct registry *r);

#endif
