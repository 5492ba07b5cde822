/* saved.h - what userspace adds up about a master (the requests of its
 * workers that are gone, exits and restarts by reason), kept in a pinned
 * map so a restarted observer goes on from there: these counters never go
 * down while the master lives. */
#ifndef OBS_SAVED_H
#define OBS_SAVED_H

#include "model/registry.h"

/* Opens the map pinned in pin_dir, creating and pinning it when missing or
 * of another layout; -1 (and a warning) when that fails. */
int saved_open(const char *pin_dir);
/* Restores m from the map once, when it holds m (same pid and start). */
void saved_restore(int fd, struct master_rec *m);
/* Writes every master of r, and forgets the masters r no longer has. */
void saved_store(int fd, const struct registry *r);

#endif
