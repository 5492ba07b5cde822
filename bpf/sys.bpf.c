// SPDX-License-Identifier: GPL-2.0
/* sys.bpf.c - the syscall data plane, for kernels without the socket
 * tracepoints: requests seen at the exit of the read, write and close
 * syscalls of tracked workers, a connection keyed by {tgid, fd}. Once any
 * syscall tracepoint is attached every syscall on the host takes the
 * tracing slow path, so each program's first test is the cheapest one that
 * dismisses a process we do not watch. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tls.bpf.h"
#include "sock.bpf.h"

/* From Linux 5.15 (bpf_task_pt_regs) an exit program reads the syscall's
 * arguments from the registers saved at its entry, and the loader does not
 * load the entry programs; older kernels stash them at entry, by thread.
 * Set by the loader. */
const volatile __u8 use_entry_regs = 0;

/* Arguments of an in-progress read or write of a worker, by thread
 * (kernels before 5.15 only). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBS_MAX_STASH);
	__type(key, __u64);
	__type(value, struct io_args);
} stash SEC(".maps");

static __always_inline int stash_io(long fd, __u64 buf, __u32 kind)
{
	struct io_args a = { .buf = buf, .fd = (__s32)fd, .kind = kind };
	__u64 id = bpf_get_current_pid_tgid();

	if (!is_worker(current_tgid()))
		return 0;
	if (bpf_map_update_elem(&stash, &id, &a, BPF_ANY))
		count_drop(OBS_DROP_STASH_MAP_FULL);
	return 0;
}

/* The fd and buffer of the syscall now returning; -1 when none was stashed. */
static __always_inline int exit_args(struct io_args *a, __u32 kind)
{
	struct io_args *p;
	__u64 id;

	if (use_entry_regs) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

		/* arm64 keeps the first argument in orig_x0: PT_REGS_PARM1_SYSCALL knows */
		a->fd = (__s32)PT_REGS_PARM1_SYSCALL(regs);
		a->buf = kind == IO_NODATA ? 0 : (__u64)PT_REGS_PARM2_SYSCALL(regs);
		a->kind = kind;
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	p = bpf_map_lookup_elem(&stash, &id);
	if (!p)
		return -1;
	*a = *p;
	bpf_map_delete_elem(&stash, &id);
	return 0;
}

/* Is fd of the current task a connected stream socket? For a connection
 * adopted by its first request, whose accept we never saw. */
static __always_inline int fd_is_stream(__s32 fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(t, files, fdt, max_fds);
	struct file *f = NULL;
	struct socket *so;
	struct sock *sk;

	if (fd < 0 || (unsigned int)fd >= max)
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & OBS_S_IFMT) != OBS_S_IFSOCK)
		return 0;
	so = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(so, sk);
	return sk && connected_stream(sk);
}

/* Is the current thread inside an SSL call? Then fd (key) is the socket
 * of its SSL object (tied on its first read). */
static __always_inline int tls_under_call(__u32 tgid, __s32 fd, __u64 key)
{
	struct obs_tls_call *t = tls_call_now();
	int made;

	if (!t)
		return 0;
	if (!t->linked && fd_is_stream(fd))
		tls_link(t, tgid, key, 0, OBS_KEY_FD, &made);
	return 1;
}

static __always_inline int on_read_exit(long ret, __u32 kind)
{
	__u32 tgid;
	__u64 key;
	struct obs_conn *c;
	struct io_args a;
	int method;

	/* a failed read (EAGAIN) matters only to tie an SSL call's socket */
	if (ret == 0 || (ret < 0 && !tls_enabled()))
		return 0;
	tgid = current_tgid();
	if (!is_worker(tgid) || exit_args(&a, kind))
		return 0;
	key = obs_fd_key(tgid, a.fd);
	if (tls_under_call(tgid, a.fd, key) || ret < 0)
		return 0;
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->tls)
		return 0;
	if (c && c->state == OBS_CONN_REQUEST && !c->upgraded) {
		c->req_bytes += ret;
		return 0;
	}
	method = read_method(&a, ret);
	if (!c) {
		if (method == OBS_METHOD_NONE || !fd_is_stream(a.fd))
			return 0;
		c = conn_adopt(key, 0, OBS_KEY_FD);
		if (!c)
			return 0;
	}
	conn_read(c, tgid, ret, method);
	return 0;
}

static __always_inline int on_write_exit(long ret, __u32 kind)
{
	__u32 tgid;
	__u64 key;
	struct obs_conn *c;
	struct io_args a;

	if (ret == 0)
		return 0;
	tgid = current_tgid();
	if (!is_worker(tgid) || exit_args(&a, kind))
		return 0;
	key = obs_fd_key(tgid, a.fd);
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && c->tls && ret < 0)
		conn_send_error(c, ret);
	else if (c && !c->tls)
		conn_write(c, &a, ret);
	return 0;
}

static __always_inline int on_close(__u32 tgid, long fd, int remove)
{
	__u64 key = obs_fd_key(tgid, (__s32)fd);
	struct obs_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return 0;
	conn_finish(c);
	if (remove)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_BUF);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_BUF);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_IOV);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_MSG);
}

SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx->ret, IO_BUF);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx->ret, IO_BUF);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx->ret, IO_IOV);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx->ret, IO_MSG);
}

SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_BUF);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_BUF);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_IOV);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], ctx->args[1], IO_MSG);
}

SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	return stash_io(ctx->args[0], 0, IO_NODATA); /* args[0] is out_fd */
}

SEC("tracepoint/syscalls/sys_exit_write")
int exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return on_write_exit(ctx->ret, IO_BUF);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return on_write_exit(ctx->ret, IO_BUF);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return on_write_exit(ctx->ret, IO_IOV);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_write_exit(ctx->ret, IO_MSG);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int exit_sendfile(struct trace_event_raw_sys_exit *ctx)
{
	return on_write_exit(ctx->ret, IO_NODATA);
}

/* close and shutdown at entry, not at exit: once close returns, another
 * thread of the worker may accept a new connection onto the same fd, and a
 * late exit program would end that one. */
SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = current_tgid();

	return is_worker(tgid) ? on_close(tgid, ctx->args[0], 1) : 0;
}

SEC("tracepoint/syscalls/sys_enter_shutdown")
int enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = current_tgid();

	return is_worker(tgid) ? on_close(tgid, ctx->args[0], 0) : 0;
}
