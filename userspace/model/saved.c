/* saved.c - masters' userspace counters in a pinned BPF hash map, created
 * here (no program uses it), keyed by pid and start time so a reused pid
 * never inherits another master's counts. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kernel/maps.h"
#include "lib/log.h"
#include "model/saved.h"

#define SAVED_NAME "saved_masters"

static int fits(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_MAP_TYPE_HASH &&
	       info.key_size == sizeof(struct saved_key) && info.value_size == sizeof(struct saved_master) &&
	       info.max_entries == SAVED_MAX;
}

int saved_open(const char *pin_dir)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char path[PATH_MAX];
	int fd, n = snprintf(path, sizeof(path), "%s/" SAVED_NAME, pin_dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	fd = bpf_obj_get(path);
	if (fd >= 0 && fits(fd))
		return fd;
	if (fd >= 0) {
		log_warn("%s has another layout: the masters' totals of workers gone start afresh", path);
		close(fd);
		unlink(path);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, SAVED_NAME, sizeof(struct saved_key),
			    sizeof(struct saved_master), SAVED_MAX, &opts);
	if (fd < 0 || bpf_obj_pin(fd, path)) {
		log_warn("cannot keep the masters' totals in %s (%s): they restart from 0 with the observer",
			 path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static struct saved_key key_of(const struct master_rec *m)
{
	return (struct saved_key){ .pid = (__u32)m->pid, .start_ticks = m->start_ticks };
}

void saved_restore(int fd, struct master_rec *m)
{
	struct saved_key k = key_of(m);
	struct saved_master v;

	if (fd < 0 || m->restored)
		return;
	m->restored = 1;
	if (map_lookup(fd, &k, &v))
		return;
	m->retired.requests += v.requests;
	m->retired.dur_sum_ns += v.dur_sum_ns;
	for (size_t i = 0; i <= OBS_MAX_DUR_BOUNDS; i++)
		m->retired.dur_buckets[i] += v.dur_buckets[i];
	for (size_t i = 0; i < EXIT_REASONS; i++) {
		m->life.exits[i] += v.exits[i];
		m->life.restarts[i] += v.restarts[i];
	}
	for (__u32 i = 0; i < v.ncodes && i < SAVED_CODES; i++)
		if (codes_add(&m->retired.codes, (uint32_t)v.codes[i].code, v.codes[i].count))
			log_warn("out of memory restoring the status codes of master %d", (int)m->pid);
	log_info("master %d: went on from the saved totals of %llu requests of workers gone", (int)m->pid,
		 (unsigned long long)v.requests);
}

static void store_one(int fd, const struct master_rec *m)
{
	struct saved_key k = key_of(m);
	struct saved_master v;

	memset(&v, 0, sizeof(v));
	v.requests = m->retired.requests;
	v.dur_sum_ns = m->retired.dur_sum_ns;
	memcpy(v.dur_buckets, m->retired.dur_buckets, sizeof(v.dur_buckets));
	for (size_t i = 0; i < EXIT_REASONS; i++) {
		v.exits[i] = m->life.exits[i];
		v.restarts[i] = m->life.restarts[i];
	}
	for (size_t i = 0; i < m->retired.codes.n; i++) {
		if (v.ncodes == SAVED_CODES) {
			log_debug("master %d: only %d status codes are saved", (int)m->pid, SAVED_CODES);
			break;
		}
		v.codes[v.ncodes].code = m->retired.codes.v[i].code;
		v.codes[v.ncodes++].count = m->retired.codes.v[i].count;
	}
	if (map_update(fd, &k, &v, BPF_ANY))
		log_debug("cannot save the totals of master %d: %s", (int)m->pid, strerror(errno));
}

static int known(const struct registry *r, const struct saved_key *k)
{
	for (size_t i = 0; i < r->n; i++)
		if ((__u32)r->v[i].pid == k->pid && r->v[i].start_ticks == k->start_ticks)
			return 1;
	return 0;
}

void saved_store(int fd, const struct registry *r)
{
	struct saved_key k, next, gone[64];
	size_t ngone = 0;
	void *prev = NULL;

	if (fd < 0)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].restored)
			store_one(fd, &r->v[i]);
	while (ngone < sizeof(gone) / sizeof(gone[0]) && map_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (!known(r, &k))
			gone[ngone++] = k;
	}
	for (size_t i = 0; i < ngone; i++)
		map_delete(fd, &gone[i]);
}
