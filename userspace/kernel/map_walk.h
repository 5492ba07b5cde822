/* map_walk.h - whole BPF maps read, or thinned, in batches. */
#ifndef OBS_MAP_WALK_H
#define OBS_MAP_WALK_H

#include <linux/types.h>

typedef void (*map_entry_fn)(const void *key, const void *value, void *ctx);
typedef int (*map_pick_fn)(const void *key, const void *value, void *ctx);

/* Calls fn (when not NULL) on every entry of map fd; *max_entries (when not
 * NULL) gets the map's capacity. Returns the number of entries, -1 when the
 * map cannot be read. */
long map_walk(int fd, map_entry_fn fn, void *ctx, __u32 *max_entries);
/* Deletes the entries of hash map fd for which pick() says so; returns how
 * many, -1 when the map cannot be read. */
long map_delete_if(int fd, map_pick_fn pick, void *ctx);

#endif
