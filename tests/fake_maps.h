/* fake_maps.h - BPF maps in memory for the unit tests: a map layer
 * (kernel/maps.h) whose maps are tables of fixed-size keys and values,
 * each behind a small fake fd, with a capacity, failures on demand and a
 * count of the writes made to it. Header only: a test includes it once.
 *
 *   fake_maps_install();             map_ops points here
 *   int fd = fake_map_new(4, 8, 16); key size, value size, max_entries
 *   ...
 *   fake_maps_uninstall();           every map freed, map_ops back to BPF
 *
 * Like a BPF hash map: update honours BPF_ANY/BPF_NOEXIST/BPF_EXIST and
 * fails with E2BIG when full; lookup, remove and next_key fail with ENOENT;
 * next_key of a key not in the map gives the first key. A walk hands fn
 * copies of the entries, as the batch read does, so fn may change the map.
 */
#ifndef OBS_FAKE_MAPS_H
#define OBS_FAKE_MAPS_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kernel/loader.h"
#include "kernel/maps.h"
#include "lib/codes.h"
#include "model/lifecycle.h"
#include "model/saved.h"
#include "observer.h"

#define FAKE_FD_BASE 100 /* fds 100.. are fake maps: nothing real is that small here */
#define FAKE_MAPS    16

/* What fake_map_fail() makes fail, with EIO. */
enum fake_fail {
	FAKE_FAIL_WALK = 1,
	FAKE_FAIL_LOOKUP = 2,
	FAKE_FAIL_UPDATE = 4,
	FAKE_FAIL_REMOVE = 8,
	FAKE_FAIL_NEXT_KEY = 16,
	FAKE_FAIL_ALL = 31,
};

typedef void (*fake_hook_fn)(int fd, void *ctx);

struct fake_map {
	int used;
	__u32 key_size, value_size, max_entries;
	size_t n;
	unsigned char *keys, *vals;           /* max_entries of each, the first n in use */
	unsigned fail;                        /* enum fake_fail bits */
	unsigned long walks, lookups, writes; /* writes: updates and removes that changed it */
	fake_hook_fn after_walk;              /* called once, after the next walk of this map */
	void *after_walk_ctx;
};

static struct fake_map fake_maps[FAKE_MAPS];

static inline struct fake_map *fake_map_of(int fd)
{
	int i = fd - FAKE_FD_BASE;

	if (i < 0 || i >= FAKE_MAPS || !fake_maps[i].used)
		return NULL;
	return &fake_maps[i];
}

static inline unsigned char *fake_key_at(const struct fake_map *m, size_t i)
{
	return m->keys + i * m->key_size;
}

static inline unsigned char *fake_val_at(const struct fake_map *m, size_t i)
{
	return m->vals + i * m->value_size;
}

/* The slot of key in m, -1 when m has none. */
static inline long fake_find(const struct fake_map *m, const void *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(fake_key_at(m, i), key, m->key_size) == 0)
			return (long)i;
	return -1;
}

static long fake_walk(int fd, map_entry_fn fn, void *ctx, __u32 *max_entries)
{
	struct fake_map *m = fake_map_of(fd);
	unsigned char *keys, *vals;
	size_t n;

	if (!m || (m->fail & FAKE_FAIL_WALK)) {
		errno = m ? EIO : EBADF;
		return -1;
	}
	m->walks++;
	if (max_entries)
		*max_entries = m->max_entries;
	n = m->n;
	keys = malloc(n * m->key_size + 1);
	vals = malloc(n * m->value_size + 1);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	memcpy(keys, m->keys, n * m->key_size);
	memcpy(vals, m->vals, n * m->value_size);
	for (size_t i = 0; fn && i < n; i++)
		fn(keys + i * m->key_size, vals + i * m->value_size, ctx);
	free(keys);
	free(vals);
	if (m->after_walk) {
		fake_hook_fn hook = m->after_walk;

		m->after_walk = NULL;
		hook(fd, m->after_walk_ctx);
	}
	return (long)n;
}

static int fake_lookup(int fd, const void *key, void *value)
{
	struct fake_map *m = fake_map_of(fd);
	long i;

	if (!m || (m->fail & FAKE_FAIL_LOOKUP)) {
		errno = m ? EIO : EBADF;
		return -1;
	}
	m->lookups++;
	i = fake_find(m, key);
	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	memcpy(value, fake_val_at(m, (size_t)i), m->value_size);
	return 0;
}

static int fake_update(int fd, const void *key, const void *value, __u64 flags)
{
	struct fake_map *m = fake_map_of(fd);
	long i;

	if (!m || (m->fail & FAKE_FAIL_UPDATE)) {
		errno = m ? EIO : EBADF;
		return -1;
	}
	i = fake_find(m, key);
	if (i >= 0 && flags == BPF_NOEXIST) {
		errno = EEXIST;
		return -1;
	}
	if (i < 0 && flags == BPF_EXIST) {
		errno = ENOENT;
		return -1;
	}
	if (i < 0) {
		if (m->n == m->max_entries) {
			errno = E2BIG;
			return -1;
		}
		i = (long)m->n++;
		memcpy(fake_key_at(m, (size_t)i), key, m->key_size);
	}
	memcpy(fake_val_at(m, (size_t)i), value, m->value_size);
	m->writes++;
	return 0;
}

static int fake_remove(int fd, const void *key)
{
	struct fake_map *m = fake_map_of(fd);
	long i;

	if (!m || (m->fail & FAKE_FAIL_REMOVE)) {
		errno = m ? EIO : EBADF;
		return -1;
	}
	i = fake_find(m, key);
	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	/* the last entry into the hole: the order changes, as a hash's may */
	m->n--;
	memmove(fake_key_at(m, (size_t)i), fake_key_at(m, m->n), m->key_size);
	memmove(fake_val_at(m, (size_t)i), fake_val_at(m, m->n), m->value_size);
	m->writes++;
	return 0;
}

static int fake_next_key(int fd, const void *key, void *next)
{
	struct fake_map *m = fake_map_of(fd);
	long i = -1;

	if (!m || (m->fail & FAKE_FAIL_NEXT_KEY)) {
		errno = m ? EIO : EBADF;
		return -1;
	}
	if (key)
		i = fake_find(m, key); /* -1 when gone: from the first, as the kernel does */
	if ((size_t)(i + 1) >= m->n) {
		errno = ENOENT;
		return -1;
	}
	memcpy(next, fake_key_at(m, (size_t)(i + 1)), m->key_size);
	return 0;
}

static __u32 fake_key_size(int fd)
{
	struct fake_map *m = fake_map_of(fd);

	return m ? m->key_size : 0;
}

static const struct map_ops fake_map_ops = {
	.walk = fake_walk,
	.lookup = fake_lookup,
	.update = fake_update,
	.remove = fake_remove,
	.next_key = fake_next_key,
	.key_size = fake_key_size,
};

static inline void fake_maps_install(void)
{
	memset(fake_maps, 0, sizeof(fake_maps));
	map_ops = &fake_map_ops;
}

static inline void fake_maps_uninstall(void)
{
	for (int i = 0; i < FAKE_MAPS; i++) {
		free(fake_maps[i].keys);
		free(fake_maps[i].vals);
	}
	memset(fake_maps, 0, sizeof(fake_maps));
	map_ops = &map_ops_bpf;
}

/* A new empty map; its fd, -1 when FAKE_MAPS are in use. */
static inline int fake_map_new(__u32 key_size, __u32 value_size, __u32 max_entries)
{
	for (int i = 0; i < FAKE_MAPS; i++) {
		struct fake_map *m = &fake_maps[i];

		if (m->used)
			continue;
		memset(m, 0, sizeof(*m));
		m->keys = calloc(max_entries ? max_entries : 1, key_size);
		m->vals = calloc(max_entries ? max_entries : 1, value_size);
		if (!m->keys || !m->vals)
			return -1;
		m->used = 1;
		m->key_size = key_size;
		m->value_size = value_size;
		m->max_entries = max_entries;
		return FAKE_FD_BASE + i;
	}
	return -1;
}

static inline void fake_map_fail(int fd, unsigned what)
{
	fake_map_of(fd)->fail = what;
}

static inline void fake_map_after_walk(int fd, fake_hook_fn fn, void *ctx)
{
	fake_map_of(fd)->after_walk = fn;
	fake_map_of(fd)->after_walk_ctx = ctx;
}

/* Forgets the walks, lookups and writes counted so far: a setup's own. */
static inline void fake_maps_clear_counts(void)
{
	for (int i = 0; i < FAKE_MAPS; i++)
		fake_maps[i].walks = fake_maps[i].lookups = fake_maps[i].writes = 0;
}

static inline size_t fake_map_count(int fd)
{
	return fake_map_of(fd)->n;
}

static inline unsigned long fake_map_writes(int fd)
{
	return fake_map_of(fd)->writes;
}

/* Whether the map holds key (its value copied to value when not NULL),
 * without counting a lookup or failing. */
static inline int fake_map_has(int fd, const void *key, void *value)
{
	struct fake_map *m = fake_map_of(fd);
	long i = fake_find(m, key);

	if (i >= 0 && value)
		memcpy(value, fake_val_at(m, (size_t)i), m->value_size);
	return i >= 0;
}

/* Puts an entry in, or dies: a test's setup. */
static inline void fake_map_put(int fd, const void *key, const void *value)
{
	struct fake_map *m = fake_map_of(fd);
	unsigned fail = m->fail;

	m->fail = 0;
	if (fake_update(fd, key, value, BPF_ANY))
		abort();
	m->writes--; /* a test's own entry: not a write of the code under test */
	m->fail = fail;
}

/* A copy of what a map holds, to tell whether it changed. */
struct fake_copy {
	size_t n;
	__u32 key_size, value_size;
	unsigned char *keys, *vals;
};

static inline void fake_map_copy(int fd, struct fake_copy *c)
{
	const struct fake_map *m = fake_map_of(fd);

	c->n = m->n;
	c->key_size = m->key_size;
	c->value_size = m->value_size;
	c->keys = malloc(m->n * m->key_size + 1);
	c->vals = malloc(m->n * m->value_size + 1);
	if (!c->keys || !c->vals)
		abort();
	memcpy(c->keys, m->keys, m->n * m->key_size);
	memcpy(c->vals, m->vals, m->n * m->value_size);
}

/* Whether map fd holds the same entries as c, in any order. */
static inline int fake_map_same(int fd, const struct fake_copy *c)
{
	const struct fake_map *m = fake_map_of(fd);

	if (m->n != c->n)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		long j = fake_find(m, c->keys + i * c->key_size);

		if (j < 0 || memcmp(fake_val_at(m, (size_t)j), c->vals + i * c->value_size, c->value_size))
			return 0;
	}
	return 1;
}

static inline void fake_copy_free(struct fake_copy *c)
{
	free(c->keys);
	free(c->vals);
	memset(c, 0, sizeof(*c));
}

/* The saved map's layout as model/saved.c keeps it (private there): keep
 * the two in step. */
static inline int fake_saved_map_new(void)
{
	return fake_map_new(sizeof(struct saved_key), sizeof(struct saved_master), SAVED_MAX);
}

/* The loader's maps, as kernel/loader.c sizes their keys and values. */
struct fake_loader_maps {
	int procs, stats, codes, msigs, conns, stash;
};

#define FAKE_STASH_VALUE 16 /* the syscall plane's stashed arguments; only counted */

static inline void fake_loader_maps_new(struct fake_loader_maps *f, __u32 workers)
{
	f->procs = fake_map_new(sizeof(__u32), sizeof(struct obs_proc), OBS_PROCS_PER_WORKER * workers);
	f->stats = fake_map_new(sizeof(__u32), sizeof(struct obs_worker_stats), workers);
	f->codes = fake_map_new(sizeof(struct obs_code_key), sizeof(__u64), OBS_CODES_PER_WORKER * workers);
	f->msigs = fake_map_new(sizeof(struct obs_sig_key), sizeof(__u64), workers);
	f->conns = fake_map_new(sizeof(__u64), sizeof(struct obs_conn), 4 * workers);
	f->stash = fake_map_new(sizeof(__u64), FAKE_STASH_VALUE, 2 * workers);
}

/* A loader that reads and writes the maps of f, as the code under test
 * sees it: only the fds, the data plane and the drops are set. */
static inline void fake_loader_init(struct loader *l, const struct fake_loader_maps *f,
				    enum obs_data_plane plane, __u64 *drops)
{
	memset(l, 0, sizeof(*l));
	l->plane = plane;
	l->procs_fd = f->procs;
	l->stats_fd = f->stats;
	l->codes_fd = f->codes;
	l->msigs_fd = f->msigs;
	l->conns_fd = f->conns;
	l->stash_fd = f->stash;
	l->sweep_fd = -1;
	l->drops = drops;
}

/* Every map of f as it is now, and whether they are still so. */
struct fake_loader_copy {
	struct fake_copy procs, stats, codes, msigs, conns, stash;
};

static inline void fake_loader_copy(const struct fake_loader_maps *f, struct fake_loader_copy *c)
{
	fake_map_copy(f->procs, &c->procs);
	fake_map_copy(f->stats, &c->stats);
	fake_map_copy(f->codes, &c->codes);
	fake_map_copy(f->msigs, &c->msigs);
	fake_map_copy(f->conns, &c->conns);
	fake_map_copy(f->stash, &c->stash);
}

static inline int fake_loader_same(const struct fake_loader_maps *f, const struct fake_loader_copy *c)
{
	return fake_map_same(f->procs, &c->procs) && fake_map_same(f->stats, &c->stats) &&
	       fake_map_same(f->codes, &c->codes) && fake_map_same(f->msigs, &c->msigs) &&
	       fake_map_same(f->conns, &c->conns) && fake_map_same(f->stash, &c->stash);
}

static inline unsigned long fake_loader_writes(const struct fake_loader_maps *f)
{
	return fake_map_writes(f->procs) + fake_map_writes(f->stats) + fake_map_writes(f->codes) +
	       fake_map_writes(f->msigs) + fake_map_writes(f->conns) + fake_map_writes(f->stash);
}

static inline void fake_loader_copy_free(struct fake_loader_copy *c)
{
	fake_copy_free(&c->procs);
	fake_copy_free(&c->stats);
	fake_copy_free(&c->codes);
	fake_copy_free(&c->msigs);
	fake_copy_free(&c->conns);
	fake_copy_free(&c->stash);
}

/* Entries of the loader's maps, as the kernel writes them. */
static inline void fake_put_proc(int fd, pid_t pid, pid_t master, int role)
{
	__u32 key = (__u32)pid;
	struct obs_proc v = { .master = (__u32)master, .role = (__u32)role };

	fake_map_put(fd, &key, &v);
}

static inline void fake_put_stats(int fd, pid_t pid, const struct obs_worker_stats *st)
{
	__u32 key = (__u32)pid;

	fake_map_put(fd, &key, st);
}

static inline void fake_put_code(int fd, pid_t pid, __u32 code, __u64 count)
{
	struct obs_code_key key = { .tgid = (__u32)pid, .code = code };

	fake_map_put(fd, &key, &count);
}

static inline void fake_put_signal(int fd, pid_t master, __u32 sig, __u64 count)
{
	struct obs_sig_key key = { .tgid = (__u32)master, .sig = sig };

	fake_map_put(fd, &key, &count);
}

static inline void fake_put_conn(int fd, __u64 key, pid_t tgid, int state, __u64 req_start_ns, int keying)
{
	struct obs_conn c = { .req_start_ns = req_start_ns,
			      .tgid = (__u32)tgid,
			      .state = (__u8)state,
			      .keying = (__u8)keying };

	fake_map_put(fd, &key, &c);
}

static inline int fake_has_stats(int fd, pid_t pid)
{
	__u32 key = (__u32)pid;

	return fake_map_has(fd, &key, NULL);
}

static inline int fake_has_code(int fd, pid_t pid, __u32 code)
{
	struct obs_code_key key = { .tgid = (__u32)pid, .code = code };

	return fake_map_has(fd, &key, NULL);
}

/* The count of code in l, 0 when l has none. */
static inline uint64_t code_count(const struct code_list *l, uint32_t code)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].code == code)
			return l->v[i].count;
	return 0;
}

#endif
