/* maps.h - the map layer: every read and write userspace makes of the BPF
 * maps goes through these calls, and they through map_ops, so the unit
 * tests run the readers and retire over maps of their own (no root). */
#ifndef OBS_MAPS_H
#define OBS_MAPS_H

#include <linux/types.h>

typedef void (*map_entry_fn)(const void *key, const void *value, void *ctx);
typedef int (*map_pick_fn)(const void *key, const void *value, void *ctx);

struct map_ops {
	/* fn on every entry (when not NULL); *max_entries gets the capacity;
	 * the number of entries, -1 when the map cannot be read */
	long (*walk)(int fd, map_entry_fn fn, void *ctx, __u32 *max_entries);
	int (*lookup)(int fd, const void *key, void *value);
	int (*update)(int fd, const void *key, const void *value, __u64 flags);
	int (*remove)(int fd, const void *key);
	int (*next_key)(int fd, const void *key, void *next);
	__u32 (*key_size)(int fd);
};

/* The BPF syscalls; tests point map_ops elsewhere. */
extern const struct map_ops map_ops_bpf;
extern const struct map_ops *map_ops;

static inline long map_walk(int fd, map_entry_fn fn, void *ctx, __u32 *max_entries)
{
	return map_ops->walk(fd, fn, ctx, max_entries);
}

/* 0, or -1 with errno set (ENOENT: no such key). */
static inline int map_lookup(int fd, const void *key, void *value)
{
	return map_ops->lookup(fd, key, value);
}

static inline int map_update(int fd, const void *key, const void *value, __u64 flags)
{
	return map_ops->update(fd, key, value, flags);
}

static inline int map_delete(int fd, const void *key)
{
	return map_ops->remove(fd, key);
}

/* The key after key (the first for NULL); -1 with ENOENT after the last. */
static inline int map_next_key(int fd, const void *key, void *next)
{
	return map_ops->next_key(fd, key, next);
}

/* Deletes the entries for which pick() says so; returns how many, -1 when
 * the map cannot be read. */
long map_delete_if(int fd, map_pick_fn pick, void *ctx);

#endif
