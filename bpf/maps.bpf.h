/* maps.bpf.h - the maps and load-time settings shared by every BPF program
 * of the observer. Defined __weak so each *.bpf.c can include them and the
 * BPF linker merges them into one object. */
#ifndef OBS_MAPS_BPF_H
#define OBS_MAPS_BPF_H

#include "observer.h"

/* The inode of the observer's PID namespace. On a host it is the initial
 * one; a node that is itself a container (kind) has its own, and tracked
 * pids are those of that namespace, as the observer's /proc shows them. */
#define OBS_PROC_PID_INIT_INO 0xEFFFFFFCU
#define OBS_MAX_PIDNS_DEPTH   8
const volatile __u32 pidns_inum __weak = OBS_PROC_PID_INIT_INO;

/* Bucket bounds, set by userspace before load. */
const volatile __u64 dur_bounds_ns[OBS_MAX_DUR_BOUNDS] __weak = {};
const volatile __u32 n_dur_bounds __weak = 0;
const volatile __u64 size_bounds[OBS_MAX_SIZE_BOUNDS] __weak = {};
const volatile __u32 n_size_bounds __weak = 0;

/* Tracked processes: masters and their workers, keyed by tgid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct obs_proc);
} procs SEC(".maps") __weak;

/* Inbound connections of tracked workers: by socket cookie (socket data
 * plane) or by obs_fd_key() (syscall data plane); entry.keying says which. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct obs_conn);
} conns SEC(".maps") __weak;

/* Per worker aggregates; created when a worker is tracked. One entry for
 * all CPUs, added to atomically: a worker's counters are written by that
 * worker alone, so the cache line rarely moves, and the map's size does not
 * grow with the CPU count (bench/counters.c measures both choices). Sized
 * by --max-workers. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct obs_worker_stats);
} stats SEC(".maps") __weak;

/* One bit per pid, set for a tracked worker (in step with procs): the
 * first test of every hook that fires for every process on the host is an
 * array lookup, which the verifier inlines, not a hash lookup. Userspace
 * sets and clears bits through a mapping of it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBS_PID_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} worker_bits SEC(".maps") __weak;

/* Is tgid a tracked worker? */
static __always_inline int is_worker(__u32 tgid)
{
	__u32 i = tgid >> 6;
	__u64 *w = bpf_map_lookup_elem(&worker_bits, &i);

	return w && ((*w >> (tgid & 63)) & 1);
}

static __always_inline void set_worker_bit(__u32 tgid, int on)
{
	__u32 i = tgid >> 6;
	__u64 *w = bpf_map_lookup_elem(&worker_bits, &i), bit = 1ULL << (tgid & 63);

	if (!w)
		return;
	if (on)
		__sync_fetch_and_or(w, bit);
	else
		__sync_fetch_and_and(w, ~bit);
}

/* A zeroed obs_worker_stats to create stats entries from; never written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct obs_worker_stats);
} stats_zero SEC(".maps") __weak;

/* Responses by worker and status code; shared and atomic, as stats. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_CODES);
	__type(key, struct obs_code_key);
	__type(value, __u64);
} codes SEC(".maps") __weak;

/* Events that could not be counted, by enum obs_drop_reason; userspace
 * counts its own into a mapping of it, and reads them all from there. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OBS_DROP_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

/* Rare process events (exec, fork, exit) for userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps") __weak;

/* Signals delivered to masters. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_MSIGS);
	__type(key, struct obs_sig_key);
	__type(value, __u64);
} msigs SEC(".maps") __weak;

/* t's process id as the observer sees it; 0 when t is not in its PID
 * namespace (another node's container on the same kernel). */
static __always_inline __u32 task_tgid(struct task_struct *t)
{
	struct pid *p;
	struct upid u;
	unsigned int level;

	if (pidns_inum == OBS_PROC_PID_INIT_INO)
		return BPF_CORE_READ(t, tgid);
	p = BPF_CORE_READ(t, group_leader, thread_pid);
	if (!p)
		return 0;
	level = BPF_CORE_READ(p, level);
	for (unsigned int i = 0; i < OBS_MAX_PIDNS_DEPTH; i++) {
		if (i > level || bpf_probe_read_kernel(&u, sizeof(u), &p->numbers[i]))
			return 0;
		if (BPF_CORE_READ(u.ns, ns.inum) == pidns_inum)
			return (__u32)u.nr;
	}
	return 0;
}

static __always_inline __u32 current_tgid(void)
{
	if (pidns_inum == OBS_PROC_PID_INIT_INO)
		return bpf_get_current_pid_tgid() >> 32;
	return task_tgid((struct task_struct *)bpf_get_current_task());
}

/* Adds v to a counter that other CPUs may add to at the same time. */
static __always_inline void add(__u64 *p, __u64 v)
{
	__sync_fetch_and_add(p, v);
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);

	if (n)
		add(n, 1);
}

/* Adds one to the counter at key in hash map m, creating it; reason: the
 * drop counted when m is full. Another CPU may create it first. */
static __always_inline void count_key(void *m, const void *key, __u32 reason)
{
	__u64 one = 1, *n = bpf_map_lookup_elem(m, key);

	if (!n && !bpf_map_update_elem(m, key, &one, BPF_NOEXIST))
		return;
	if (!n)
		n = bpf_map_lookup_elem(m, key);
	if (n)
		add(n, 1);
	else
		count_drop(reason);
}

/* Reserves a process event; the caller fills what else it knows and
 * submits it. NULL (and a counted drop) when the ring buffer is full. */
static __always_inline struct obs_event *event_new(__u32 type, __u32 pid, __u32 ppid, __u32 role, __s32 code)
{
	struct obs_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop(OBS_DROP_RINGBUF_FULL);
		return NULL;
	}
	e->type = type;
	e->pid = pid;
	e->ppid = ppid;
	e->role = role;
	e->code = code;
	e->pad = 0;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cpu_ns = 0;
	e->maxrss_pages = 0;
	return e;
}

#endif /* OBS_MAPS_BPF_H */
