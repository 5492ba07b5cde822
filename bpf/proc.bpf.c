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

static __always_inline void emit(__u32 type, __u32 pid, __u32 ppid, __u32 role, __s32 code, __u64 flags)
{
	struct go_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop(GO_DROP_RINGBUF_FULL);
		return;
	}
	e->type = type;
	e->pid = pid;
	e->ppid = ppid;
	e->role = role;
	e->exit_code = code;
	e->pad = 0;
	e->ts_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void create_stats(__u32 tgid, __u32 master)
{
	__u32 zero = 0;
	struct go_worker_stats *z = bpf_map_lookup_elem(&stats_zero, &zero);
	struct go_worker_stats *s;

	if (!z)
		return;
	if (bpf_map_update_elem(&stats, &tgid, z, BPF_ANY)) {
		count_drop(GO_DROP_PROC_MAP_FULL);
		return;
	}
	s = bpf_map_lookup_elem(&stats, &tgid);
	if (s)
		s->master = master;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 ctgid = child->tgid;
	struct go_proc *p, w = {};

	if (ptgid == ctgid)
		return 0; /* a new thread, not a new process */
	p = bpf_map_lookup_elem(&procs, &ptgid);
	if (!p || p->role != GO_ROLE_MASTER)
		return 0;
	w.master = ptgid;
	w.role = GO_ROLE_WORKER;
	w.start_ns = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&procs, &ctgid, &w, BPF_ANY)) {
		count_drop(GO_DROP_PROC_MAP_FULL);
		return 0;
	}
	create_stats(ctgid, ptgid);
	emit(GO_EV_FORK, ctgid, ptgid, GO_ROLE_WORKER, 0, 0);
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
	__u32 tgid = task->tgid;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	char comm[GO_COMM_LEN];

	bpf_get_current_comm(comm, sizeof(comm));
	if (!has_prefix(comm, "gunicorn", 8) && !has_prefix(comm, "python", 6) &&
	    !has_prefix(comm, "pypy", 4) && !bpf_map_lookup_elem(&procs, &tgid) &&
	    !bpf_map_lookup_elem(&procs, &ppid))
		return 0;
	emit(GO_EV_EXEC, tgid, ppid, 0, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	struct go_proc *p;
	__u32 master, role;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* not the last thread of the process */
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	master = p->master;
	role = p->role;
	bpf_map_delete_elem(&procs, &tgid);
	emit(GO_EV_EXIT, tgid, master, role, task->exit_code, 0);
	return 0;
}
