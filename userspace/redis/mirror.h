/* mirror.h - the Redis mirror: a thread of its own that owns the hiredis
 * connection and writes each snapshot handed to it in the Python
 * exporter's layout (records.h), so a slow or dead Redis never delays the
 * main loop or a scrape. */
#ifndef OBS_MIRROR_H
#define OBS_MIRROR_H

#include <stddef.h>

#include "config/config.h"
#include "model/snapshot.h"

struct mirror;

/* Starts the thread; the first connection is made by the first pass. NULL
 * (after one line on stderr) when the thread cannot start. The node label
 * of every record is this host's name. */
struct mirror *mirror_start(const struct obs_redis_config *c);
/* Hands over the latest snapshot (the thread takes a reference); the thread
 * writes it at once as one pipelined pass (HSET, HSETNX, EXPIRE). Never
 * blocks on Redis: a snapshot not yet written is replaced by the newer one.
 * Call it every interval_s, so every key's TTL is refreshed even when
 * nothing changed. */
void mirror_publish(struct mirror *m, struct snapshot *s);
/* up: 1 when the last pass was written; errors: passes that were not. */
void mirror_stats(struct mirror *m, int *up, unsigned long long *errors);
/* Stops the thread (waits for a pass in progress) and frees m. */
void mirror_stop(struct mirror *m);

#endif
