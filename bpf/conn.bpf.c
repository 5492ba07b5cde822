// SPDX-License-Identifier: GPL-2.0
/* conn.bpf.c - HTTP requests inferred from the socket syscalls of tracked
 * workers. accept marks an inbound connection; the first read that looks
 * like a request line starts a request; the first write sends its status
 * line; the next request on the connection, shutdown or close completes it.
 * Everything is aggregated here; nothing is sent to userspace per request. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "maps.bpf.h"
#include "http_parse.h"
#include "buckets.h"

/* asm-generic/errno-base.h, the same on every architecture we build for */
#define EINTR  4
#define EAGAIN 11

/* How a stashed syscall passes its data. */
enum io_kind {
	IO_BUF = 0,    /* read, recvfrom, write, sendto: a plain buffer */
	IO_IOV = 1,    /* readv, writev: an iovec array */
	IO_MSG = 2,    /* recvmsg, sendmsg: a msghdr */
	IO_NODATA = 3, /* sendfile: bytes only */
};

struct io_args {
	__u64 buf;
	__s32 fd;
	__u32 kind;
};

/* Arguments of an in-progress read or write on a connection, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GO_MAX_STASH);
	__type(key, __u64);
	__type(value, struct io_args);
} stash SEC(".maps");

static __always_inline void add_bucket(__u64 *buckets, __u32 i, __u32 max)
{
	if (i < max)
		buckets[i] += 1;
}

/* Fold the finished request of c into its worker's aggregates s. */
static __always_inline void record_request(struct go_worker_stats *s, __u32 tgid, struct go_conn *c)
{
	struct go_code_key ck = { .tgid = tgid, .code = c->status };
	__u64 dur = c->last_send_ns - c->req_start_ns, one = 1, *n;
	__u32 i;

	s->requests += 1;
	s->dur_sum_ns += dur;
	s->req_bytes_sum += c->req_bytes;
	s->resp_bytes_sum += c->resp_bytes;
	i = go_bucket_index(dur_bounds_ns, n_dur_bounds, GO_MAX_DUR_BOUNDS, dur);
	add_bucket(s->dur_buckets, i, GO_MAX_DUR_BOUNDS + 1);
	i = go_bucket_index(size_bounds, n_size_bounds, GO_MAX_SIZE_BOUNDS, c->req_bytes);
	add_bucket(s->req_buckets, i, GO_MAX_SIZE_BOUNDS + 1);
	i = go_bucket_index(size_bounds, n_size_bounds, GO_MAX_SIZE_BOUNDS, c->resp_bytes);
	add_bucket(s->resp_buckets, i, GO_MAX_SIZE_BOUNDS + 1);
	if (c->status >= 500 && c->status <= 599)
		s->failed_5xx += 1;
	n = bpf_map_lookup_elem(&codes, &ck);
	if (n)
		*n += 1;
	else if (bpf_map_update_elem(&codes, &ck, &one, BPF_NOEXIST))
		count_drop(GO_DROP_CODE_MAP_FULL);
}

/* End whatever request c holds: answered ones are recorded, unanswered ones
 * are aborted. s is the worker's aggregates (NULL when it has none). Leaves
 * c idle. */
static __always_inline void finish_with(__u32 tgid, struct go_conn *c, struct go_worker_stats *s)
{
	if (c->state != GO_CONN_IDLE) {
		if (!s)
			count_drop(GO_DROP_STATS_MISSING);
		/* A response that could not be written was not sent: Gunicorn
		 * logs no access line for it either. */
		else if (c->state == GO_CONN_RESPONSE && !c->send_failed)
			record_request(s, tgid, c);
		else if (c->state == GO_CONN_RESPONSE)
			s->aborted += 1;
		else {
			s->aborted += 1;
			s->in_flight -= 1;
		}
	}
	c->state = GO_CONN_IDLE;
	c->send_failed = 0;
	c->req_bytes = 0;
	c->resp_bytes = 0;
	c->status = 0;
}

static __always_inline void finish_request(__u32 tgid, struct go_conn *c)
{
	finish_with(tgid, c, c->state == GO_CONN_IDLE ? NULL : bpf_map_lookup_elem(&stats, &tgid));
}

static __always_inline int on_accept(long ret)
{
	__u32 tgid = current_tgid();
	struct go_conn_key key = { .tgid = tgid, .fd = (__s32)ret };
	struct go_conn *old, c = {};
	struct go_proc *p;

	if (ret < 0)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p || p->role != GO_ROLE_WORKER)
		return 0;
	/* An entry still on this fd means its close was not seen (dup2 over
	 * it, close_range): end it before the new connection takes the fd. */
	old = bpf_map_lookup_elem(&conns, &key);
	if (old)
		finish_request(tgid, old);
	c.accept_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&conns, &key, &c, BPF_ANY))
		count_drop(GO_DROP_CONN_MAP_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

/* Kernels from 5.15 let a program read the registers saved at syscall
 * entry (bpf_task_pt_regs): the exit tracepoint finds the fd and buffer
 * there, and the entry programs return at once, which costs less than a
 * hash map write at every entry and a delete at every exit. Older kernels
 * stash them at entry, by thread. GO_FORCE_STASH builds the older way on
 * any kernel, to test it. */
#ifdef GO_FORCE_STASH
#define have_entry_regs() 0
#else
#define have_entry_regs() bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)
#endif

/* Remember the arguments of a read or write on a tracked connection. */
static __always_inline int stash_io(long fd, __u64 buf, __u32 kind)
{
	struct io_args a = { .buf = buf, .fd = (__s32)fd, .kind = kind };
	struct go_conn_key key;
	__u64 id;

	if (have_entry_regs())
		return 0;
	id = bpf_get_current_pid_tgid();
	key.tgid = current_tgid();
	key.fd = (__s32)fd;
	if (!bpf_map_lookup_elem(&conns, &key))
		return 0;
	if (bpf_map_update_elem(&stash, &id, &a, BPF_ANY))
		count_drop(GO_DROP_STASH_MAP_FULL);
	return 0;
}

/* The fd and buffer of the syscall now returning; -1 when it was not on a
 * tracked connection (stashed calls only). arm64 keeps the first argument
 * in orig_x0: PT_REGS_PARM1_SYSCALL knows. */
static __always_inline int exit_args(struct io_args *a, __u32 kind)
{
	struct io_args *p;
	__u64 id;

	if (have_entry_regs()) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

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

/* Copy up to GO_PEEK_LEN bytes of the data a syscall read or wrote. */
static __always_inline int peek(const struct io_args *a, long ret, __u8 *out)
{
	__u64 ptr = a->buf, len = ret;
	struct iovec iov;
	struct user_msghdr msg;

	if (a->kind == IO_NODATA)
		return 0;
	if (a->kind == IO_MSG) {
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ptr))
			goto fail;
		ptr = (__u64)msg.msg_iov;
	}
	if (a->kind == IO_MSG || a->kind == IO_IOV) {
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)ptr))
			goto fail;
		ptr = (__u64)iov.iov_base;
		if (iov.iov_len < len)
			len = iov.iov_len;
	}
	if (len > GO_PEEK_LEN)
		len = GO_PEEK_LEN;
	if (len == 0)
		return 0;
	if (bpf_probe_read_user(out, len, (void *)ptr))
		goto fail;
	return (int)len;
fail:
	count_drop(GO_DROP_READ_FAILED);
	return 0;
}

static __always_inline void start_request(struct go_worker_stats *s, struct go_conn *c, long ret, int method)
{
	c->state = GO_CONN_REQUEST;
	c->method = method;
	c->req_start_ns = bpf_ktime_get_ns();
	c->last_send_ns = c->req_start_ns;
	c->req_bytes = ret;
	c->resp_bytes = 0;
	c->status = 0;
	c->send_failed = 0;
	if (s)
		s->in_flight += 1;
	else
		count_drop(GO_DROP_STATS_MISSING);
}

static __always_inline int on_read_exit(long ret, __u32 kind)
{
	struct go_worker_stats *s;
	struct io_args a;
	struct go_conn_key key;
	struct go_conn *c;
	__u8 buf[GO_PEEK_LEN] = {};
	int n, method;

	if (exit_args(&a, kind) || ret <= 0)
		return 0;
	key.tgid = current_tgid();
	key.fd = a.fd;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	if (c->state == GO_CONN_REQUEST) {
		c->req_bytes += ret;
		return 0;
	}
	n = peek(&a, ret, buf);
	method = go_parse_request_start(buf, n);
	if (method == GO_METHOD_NONE)
		return 0;
	/* one lookup of the aggregates for both */
	s = bpf_map_lookup_elem(&stats, &key.tgid);
	finish_with(key.tgid, c, s); /* keep-alive: the previous one is done */
	start_request(s, c, ret, method);
	return 0;
}

static __always_inline int on_write_exit(long ret, __u32 kind)
{
	struct io_args a;
	struct go_conn_key key;
	struct go_conn *c;
	struct go_worker_stats *s;
	__u8 buf[GO_PEEK_LEN] = {};
	int n, code;

	if (exit_args(&a, kind) || ret == 0)
		return 0;
	key.tgid = current_tgid();
	key.fd = a.fd;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c || c->state == GO_CONN_IDLE)
		return 0;
	if (ret < 0) {
		/* EPIPE, ECONNRESET...; a full non-blocking socket is retried */
		if (ret != -EAGAIN && ret != -EINTR)
			c->send_failed = 1;
		return 0;
	}
	if (c->state == GO_CONN_REQUEST) {
		n = peek(&a, ret, buf);
		code = go_parse_status_line(buf, n);
		c->resp_bytes += ret;
		c->last_send_ns = bpf_ktime_get_ns();
		/* an interim 1xx (100 Continue) is not the answer */
		if (code >= 100 && code < 200 && code != 101)
			return 0;
		c->status = code;
		c->state = GO_CONN_RESPONSE;
		s = bpf_map_lookup_elem(&stats, &key.tgid);
		if (s)
			s->in_flight -= 1;
		return 0;
	}
	/* Requests pipelined in one read start no request of their own: a
	 * write that opens with a final status line answers the next one. */
	n = ret >= 12 ? peek(&a, ret, buf) : 0;
	code = go_parse_status_line(buf, n);
	if (code >= 200 || code == 101) {
		__u64 start = c->last_send_ns;

		finish_request(key.tgid, c);
		c->state = GO_CONN_RESPONSE;
		c->status = code;
		c->req_start_ns = start;
	}
	c->resp_bytes += ret;
	c->last_send_ns = bpf_ktime_get_ns();
	return 0;
}

static __always_inline int on_close(long fd, int remove)
{
	struct go_conn_key key = { .tgid = current_tgid(), .fd = (__s32)fd };
	struct go_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (!c)
		return 0;
	finish_request(key.tgid, c);
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

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close(ctx->args[0], 1);
}

SEC("tracepoint/syscalls/sys_enter_shutdown")
int enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	return on_close(ctx->args[0], 0);
}
