/* saved.h - what userspace adds up about a master (the requests of its
 * workers that are gone, exits and restarts by reason), kept in a pinned
 * map so a restarted observer goes on from there: these counters never go
 * down while the master lives. */
#ifndef OBS_SAVED_H
#define OBS_SAVED_H

#include "model/registry.h"

/* The pinned map's layout: keyed by pid and start time, so a reused pid
 * never inherits another master's counts. */
#define SAVED_MAX   1024
#define SAVED_CODES 64

struct saved_key {
	__u32 pid;
	__u32 pad;
	__u64 start_ticks;
};

struct saved_master {
	__u64 requests;
	__u64 dur_sum_ns;
	__u64 dur_buckets[OBS_MAX_DUR_BOUNDS + 1];
	__u64 exits[EXIT_REASONS];
	__u64 restarts[EXIT_REASONS];
	__u32 ncodes;
	__u32 pad;
	struct {
		__u64 code;
		__u64 count;
	} codes[SAVED_CODES];
};

/* Opens the map pinned in pin_dir, creating and pinning it when missing or
 * of another layout; -1 (and a warning) when that fails. */
int saved_open(const char *pin_dir);
/* Restores m from the map once, when it holds m (same pid and start). */
void saved_restore(int fd, struct master_rec *m);
/* Writes every master of r, and forgets the masters r no longer has. */
void saved_store(int fd, const struct registry *r);

#endif
