// SPDX-License-Identifier: GPL-2.0
/* proc.bpf.c - process lifecycle: a fork by a tracked master tracks the child
 * as a worker in the kernel, before its first syscall; exec and exit of
 * interesting processes go to userspace as rare ring-buffer events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void emit(__u32 type, __u32 pid, __u32 ppid, __u32 role)
{
	struct obs_event *e = event_new(type, pid, ppid, role, 0);

	if (e)
		bpf_ringbuf_submit(e, 0);
}

static __always_inline void create_stats(__u32 tgid, __u32 master)
{
	__u32 zero = 0;
	struct obs_worker_stats *z = bpf_map_lookup_elem(&stats_zero, &zero);
	struct obs_worker_stats *s;

	if (!z)
		return;
	if (bpf_map_update_elem(&stats, &tgid, z, BPF_ANY)) {
		count_drop(OBS_DROP_STATS_MAP_FULL);
		return;
	}
	s = bpf_map_lookup_elem(&stats, &tgid);
	if (s)
		s->master = master;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = task_tgid(parent);
	__u32 ctgid = task_tgid(child);
	struct obs_proc *p, w = {};

	if (ptgid == ctgid)
		return 0; /* a new thread, not a new process */
	p = bpf_map_lookup_elem(&procs, &ptgid);
	if (!p || p->role != OBS_ROLE_MASTER)
		return 0;
	w.master = ptgid;
	w.role = OBS_ROLE_WORKER;
	if (bpf_map_update_elem(&procs, &ctgid, &w, BPF_ANY)) {
		count_drop(OBS_DROP_PROC_MAP_FULL);
		return 0;
	}
	create_stats(ctgid, ptgid);
	set_worker_bit(ctgid, 1);
	emit(OBS_EV_FORK, ctgid, ptgid, OBS_ROLE_WORKER);
	return 0;
}

static __always_inline int has_prefix(const char *s, const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != p[i])
			return 0;
	return 1;
}

/* Gunicorn starts as a "gunicorn*" script or a python/pypy interpreter;
 * userspace reads the command line of those only, and of any exec by a
 * tracked process (a master re-executing itself on USR2). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task_tgid(task);
	__u32 ppid = task_tgid(BPF_CORE_READ(task, real_parent));
	char comm[OBS_COMM_LEN];

	bpf_get_current_comm(comm, sizeof(comm));
	if (!has_prefix(comm, "gunicorn", 8) && !has_prefix(comm, "python", 6) &&
	    !has_prefix(comm, "pypy", 4) && !bpf_map_lookup_elem(&procs, &tgid) &&
	    !bpf_map_lookup_elem(&procs, &ppid))
		return 0;
	emit(OBS_EV_EXEC, tgid, ppid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = task_tgid(task);
	struct obs_proc *p;
	struct obs_event *e;
	__u32 master, role;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* not the last thread of the process */
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	master = p->master;
	role = p->role;
	bpf_map_delete_elem(&procs, &tgid);
	if (role == OBS_ROLE_WORKER)
		set_worker_bit(tgid, 0);
	e = event_new(OBS_EV_EXIT, tgid, master, role, task->exit_code);
	if (!e)
		return 0;
	/* the threads reaped before this last one left their time in signal */
	e->cpu_ns = task->se.sum_exec_runtime + BPF_CORE_READ(task, signal, sum_sched_runtime);
	e->maxrss_pages = BPF_CORE_READ(task, signal, maxrss);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
