/* collect.h - one read of the BPF maps into a snapshot. */
#ifndef OBS_COLLECT_H
#define OBS_COLLECT_H

#include "config/config.h"
#include "kernel/loader.h"
#include "model/registry.h"
#include "model/snapshot.h"

/* Reads the maps into s. Workers that are gone are folded into their
 * master's retired totals and their map entries removed, so master
 * counters never go down. Returns 0, or -1 when memory ran out. */
int collect(struct loader *l, struct registry *r, const struct obs_config *c, struct snapshot *s);
/* The aggregates of one worker; -1 when it has none. */
int collect_worker_stats(struct loader *l, pid_t pid, struct obs_worker_stats *out);

#endif
