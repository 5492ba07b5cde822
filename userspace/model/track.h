/* track.h - which processes are watched: the start-up scan and the
 * reaction to exec/fork/exit events from the kernel. */
#ifndef OBS_TRACK_H
#define OBS_TRACK_H

#include <stddef.h>

#include "config/config.h"
#include "kernel/loader.h"
#include "model/registry.h"
#include "model/tls.h"

struct tracker {
	const struct obs_config *cfg;
	struct loader *ld;
	struct registry reg;
	struct tls_follow tls; /* the TLS probes of masters with a certfile */
	int saved_fd;          /* the masters' saved totals (saved.h), -1 when not pinned */
	double retire_at;      /* CLOCK_MONOTONIC when a retire is due after an exit, 0 for none */
	unsigned generation;   /* moves with every exec, fork and exit seen */
};

#define TRACK_RETIRE_AFTER_EXIT_S 1.0

/* Checks that every --pid is a Gunicorn master, before anything is loaded;
 * prints one line and returns -1 when one is not. */
int tracker_check_pids(const struct obs_config *c);
/* Tracks the Gunicorn already running. With --pid, a pid that is not a
 * Gunicorn process is an error (one line printed, -1 returned). */
int tracker_scan(struct tracker *t);
/* ring_buffer_sample_fn for struct obs_event records. */
int tracker_on_event(void *ctx, void *data, size_t len);

#endif
