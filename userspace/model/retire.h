/* retire.h - the one step that changes what was counted: exited workers are
 * folded into their masters' totals and their entries removed from the
 * maps, masters the kernel no longer follows are forgotten, and the
 * masters' totals are saved to the pinned map. Run after exit events and
 * by a slow timer, never by a read. */
#ifndef OBS_RETIRE_H
#define OBS_RETIRE_H

#include "kernel/loader.h"
#include "model/registry.h"

/* Returns how many workers were retired, -1 when memory ran out before
 * any could be. saved_fd < 0: nothing is saved. */
int retire(const struct loader *l, struct registry *r, int saved_fd);

#endif
