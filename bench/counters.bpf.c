// SPDX-License-Identifier: GPL-2.0
/* counters.bpf.c - the two ways to keep a worker's aggregates that the
 * observer chose between: a per-CPU hash with plain adds (its size grows
 * with the CPU count) and one shared hash with atomic adds (it does not).
 * Each program does what conn.bpf.c's record_request does for one request:
 * look the worker up, add to its counters and three histogram buckets, and
 * count its status code. Run by bench/counters.c through BPF_PROG_TEST_RUN,
 * which times them in the kernel; the worker's key is the packet's first
 * four bytes, so two CPUs can update one worker or two. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "observer.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct obs_worker_stats);
} stats_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct obs_code_key);
	__type(value, __u64);
} codes_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct obs_worker_stats);
} stats_shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct obs_code_key);
	__type(value, __u64);
} codes_shared SEC(".maps");

static __always_inline __u32 worker_of(struct __sk_buff *skb)
{
	__u32 key = 0;

	bpf_skb_load_bytes(skb, 0, &key, sizeof(key));
	return key;
}

/* a request of 2 ms, 300 bytes in, 5000 out: buckets 5, 1 and 3 */
#define DUR  2000000
#define REQB 300
#define RESB 5000

SEC("tc")
int empty(struct __sk_buff *skb)
{
	return worker_of(skb) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int percpu_plain(struct __sk_buff *skb)
{
	struct obs_code_key ck = { .tgid = worker_of(skb), .code = 200 };
	struct obs_worker_stats *s = bpf_map_lookup_elem(&stats_percpu, &ck.tgid);
	__u64 *n;

	if (!s)
		return TC_ACT_SHOT;
	s->requests += 1;
	s->dur_sum_ns += DUR;
	s->req_bytes_sum += REQB;
	s->resp_bytes_sum += RESB;
	s->dur_buckets[5] += 1;
	s->req_buckets[1] += 1;
	s->resp_buckets[3] += 1;
	n = bpf_map_lookup_elem(&codes_percpu, &ck);
	if (n)
		*n += 1;
	return TC_ACT_OK;
}

SEC("tc")
int shared_atomic(struct __sk_buff *skb)
{
	struct obs_code_key ck = { .tgid = worker_of(skb), .code = 200 };
	struct obs_worker_stats *s = bpf_map_lookup_elem(&stats_shared, &ck.tgid);
	__u64 *n;

	if (!s)
		return TC_ACT_SHOT;
	__sync_fetch_and_add(&s->requests, 1);
	__sync_fetch_and_add(&s->dur_sum_ns, DUR);
	__sync_fetch_and_add(&s->req_bytes_sum, REQB);
	__sync_fetch_and_add(&s->resp_bytes_sum, RESB);
	__sync_fetch_and_add(&s->dur_buckets[5], 1);
	__sync_fetch_and_add(&s->req_buckets[1], 1);
	__sync_fetch_and_add(&s->resp_buckets[3], 1);
	n = bpf_map_lookup_elem(&codes_shared, &ck);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
