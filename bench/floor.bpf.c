// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c - reference programs for the benchmark's floor figures: an
 * empty one, and one doing the single hash-map lookup (a miss) with which
 * the observer's programs dismiss a syscall that is not theirs. Attached to
 * sys_exit_getppid, which nothing else on the host calls in a loop. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} floor_map SEC(".maps");

SEC("tracepoint/syscalls/sys_exit_getppid")
int floor_empty(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_getppid")
int floor_lookup(void *ctx)
{
	__u64 key = bpf_get_current_pid_tgid();

	return bpf_map_lookup_elem(&floor_map, &key) != 0;
}

char LICENSE[] SEC("license") = "GPL";
