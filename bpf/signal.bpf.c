// SPDX-License-Identifier: GPL-2.0
/* signal.bpf.c - who signalled whom, and whom the OOM killer chose. Signals
 * for tracked processes and OOM kills go to userspace as rare events, where
 * they explain worker exits; signals delivered to a master are counted
 * here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

#define OBS_SIGCHLD            17
#define TRACE_SIGNAL_DELIVERED 0

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	__u32 tgid = task_tgid(task);
	struct obs_proc *p;
	struct obs_event *e;

	if (result != TRACE_SIGNAL_DELIVERED)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	/* a master hears SIGCHLD for every worker exit: the exit event says more */
	if (!p || (p->role == OBS_ROLE_MASTER && sig == OBS_SIGCHLD))
		return 0;
	e = event_new(OBS_EV_SIGNAL, tgid, current_tgid(), p->role, sig);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(on_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	struct obs_sig_key key = { .tgid = current_tgid(), .sig = (__u32)sig };
	struct obs_proc *p = bpf_map_lookup_elem(&procs, &key.tgid);

	if (!p || p->role != OBS_ROLE_MASTER)
		return 0;
	count_key(&msigs, &key, OBS_DROP_SIGNAL_MAP_FULL);
	return 0;
}

/* Classic tracepoint: its pid field is stable across kernel versions. */
SEC("tracepoint/oom/mark_victim")
int on_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	__u32 pid = (__u32)ctx->pid;
	struct obs_proc *p = bpf_map_lookup_elem(&procs, &pid);
	struct obs_event *e;

	if (!p)
		return 0;
	e = event_new(OBS_EV_OOM, pid, p->master, p->role, 0);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}
