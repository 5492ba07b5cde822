/* maps.c - the BPF maps through the bpf(2) syscalls: whole maps read in
 * batches (BPF_MAP_LOOKUP_BATCH), a few syscalls for a full map where a walk
 * by key takes two an entry; and deletion by a predicate on top of the layer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kernel/maps.h"

enum { BATCH = 1024 };

/* The keys and values of a batch, kept from one walk to the next: fresh
 * buffers of this size are mapped anew each time, and every page of them
 * faulted in again at every scrape. One a thread (walks run on the main
 * thread only). */
static __thread struct {
	char *p;
	size_t cap;
} scratch;

static char *scratch_for(size_t n)
{
	char *p;

	if (n <= scratch.cap)
		return scratch.p;
	p = realloc(scratch.p, n);
	if (!p)
		return NULL;
	scratch.p = p;
	scratch.cap = n;
	return p;
}

static long bpf_walk(int fd, map_entry_fn fn, void *ctx, __u32 *max_entries)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char *keys = NULL, *vals = NULL;
	__u64 in = 0, out = 0;
	void *inp = NULL;
	long total = -1;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	if (max_entries)
		*max_entries = info.max_entries;
	keys = scratch_for((size_t)BATCH * (info.key_size + info.value_size));
	vals = keys ? keys + (size_t)BATCH * info.key_size : NULL;
	if (keys)
		total = 0;
	while (total >= 0) {
		__u32 n = BATCH;
		int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, NULL);

		if (err && errno != ENOENT) {
			total = -1;
			break;
		}
		for (__u32 i = 0; fn && i < n; i++)
			fn(keys + (size_t)i * info.key_size, vals + (size_t)i * info.value_size, ctx);
		total += n;
		if (err) /* ENOENT: that was the last batch */
			break;
		in = out;
		inp = &in;
	}
	return total;
}

static int bpf_lookup(int fd, const void *key, void *value)
{
	return bpf_map_lookup_elem(fd, key, value);
}

static int bpf_update(int fd, const void *key, const void *value, __u64 flags)
{
	return bpf_map_update_elem(fd, key, value, flags);
}

static int bpf_remove(int fd, const void *key)
{
	return bpf_map_delete_elem(fd, key);
}

static int bpf_next_key(int fd, const void *key, void *next)
{
	return bpf_map_get_next_key(fd, key, next);
}

static __u32 bpf_key_size(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.key_size;
}

const struct map_ops map_ops_bpf = {
	.walk = bpf_walk,
	.lookup = bpf_lookup,
	.update = bpf_update,
	.remove = bpf_remove,
	.next_key = bpf_next_key,
	.key_size = bpf_key_size,
};

const struct map_ops *map_ops = &map_ops_bpf;

struct picked {
	map_pick_fn pick;
	void *ctx;
	size_t key_size;
	char *keys;
	size_t n, cap;
	int oom;
};

static void gather(const void *key, const void *value, void *ctx)
{
	struct picked *p = ctx;
	char *k;

	if (p->oom || !p->pick(key, value, p->ctx))
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;

		k = realloc(p->keys, cap * p->key_size);
		if (!k) {
			p->oom = 1;
			return;
		}
		p->keys = k;
		p->cap = cap;
	}
	memcpy(p->keys + p->n++ * p->key_size, key, p->key_size);
}

long map_delete_if(int fd, map_pick_fn pick, void *ctx)
{
	struct picked p = { .pick = pick, .ctx = ctx, .key_size = map_ops->key_size(fd) };
	long n;

	if (!p.key_size)
		return -1;
	/* the keys first: a walk of a hash map that deletes as it goes restarts */
	n = map_walk(fd, gather, &p, NULL);
	for (size_t i = 0; i < p.n; i++)
		map_delete(fd, p.keys + i * p.key_size);
	free(p.keys);
	return n < 0 ? -1 : (long)p.n;
}
