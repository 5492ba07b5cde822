/* build.h - a snapshot made from one kernel read, the registry and a host
 * sample. It changes neither the maps nor the registry. */
#ifndef OBS_BUILD_H
#define OBS_BUILD_H

#include "config/config.h"
#include "host/sample.h"
#include "kernel/kread.h"
#include "model/registry.h"
#include "model/snapshot.h"

/* Fills s (from snapshot_new) with the masters of r that the kernel still
 * follows, their live workers and their totals: the registry's retired
 * ones, plus every worker in k, exited or not, so a master's counters never
 * go down before or after retire. Takes the code lists of k's workers
 * over. Returns 0, or -1 when memory ran out. */
int snapshot_build(struct kread *k, const struct registry *r, const struct obs_config *c,
		   struct host_cache *hc, struct snapshot *s);

#endif
