/* conn.bpf.h - one connection's requests, whatever hook sees its bytes: a
 * read that opens with a request line starts a request; the response's
 * bytes are followed until their framing (http_frame.h) says it ended,
 * when the request is counted into its worker's aggregates; close ends
 * what is left. Both data planes (sock.bpf.c, sys.bpf.c) drive it. */
#ifndef OBS_CONN_BPF_H
#define OBS_CONN_BPF_H

#include "maps.bpf.h"
#include "http_parse.h"
#include "frame.bpf.h"
#include "buckets.h"

/* asm-generic/errno-base.h and errno.h, the same on every architecture we build for */
#define OBS_EINTR  4
#define OBS_EAGAIN 11

/* How a read or write passes its data. */
enum io_kind {
	IO_BUF = 0,    /* read, recvfrom, write, sendto: a plain buffer */
	IO_IOV = 1,    /* readv, writev: an iovec array */
	IO_MSG = 2,    /* recvmsg, sendmsg: a msghdr */
	IO_NODATA = 3, /* sendfile, splice, or a call we do not read: bytes only */
};

struct io_args {
	__u64 buf;
	__s32 fd;
	__u32 kind;
};

/* iovec segments of one writev/sendmsg that the response parser reads */
#define OBS_MAX_IOV 4
/* steps (a block read, or bytes skipped) per write, over all its segments */
#define OBS_FRAME_STEPS 32

/* Ends whatever request c holds (conn.bpf.c): a response is counted unless
 * a write of it failed, an unanswered request is aborted. Leaves c idle.
 * A global function: the verifier checks it once. */
__noinline int obs_conn_finish(struct obs_conn *c);

static __always_inline void conn_finish(struct obs_conn *c)
{
	if (c->state != OBS_CONN_IDLE)
		obs_conn_finish(c);
}

static __always_inline void conn_idle(struct obs_conn *c)
{
	c->state = OBS_CONN_IDLE;
	c->send_failed = 0;
	c->implicit = 0;
	c->req_bytes = 0;
	c->resp_bytes = 0;
}

/* A read of ret bytes by worker tgid; method is what its first bytes
 * parsed as (OBS_METHOD_NONE: no request line). */
static __always_inline void conn_read(struct obs_conn *c, __u32 tgid, long ret, int method)
{
	struct obs_worker_stats *s;

	if (c->upgraded)
		return;
	if (c->state == OBS_CONN_REQUEST) {
		c->req_bytes += ret;
		return;
	}
	s = bpf_map_lookup_elem(&stats, &tgid);
	if (method == OBS_METHOD_NONE) {
		/* the rest of a body the app did not read, drained after its
		 * response: the request's bytes still, though it is counted */
		if (s)
			add(&s->req_bytes_sum, ret);
		return;
	}
	conn_finish(c); /* a response that was still going: the client moved on */
	c->tgid = tgid;
	c->state = OBS_CONN_REQUEST;
	c->req_start_ns = bpf_ktime_get_ns();
	c->last_send_ns = c->req_start_ns;
	c->req_bytes = ret;
	c->resp_bytes = 0;
	c->send_failed = 0;
	c->implicit = 0;
	obs_frame_init(&c->frame, method == OBS_METHOD_HEAD);
	if (s)
		add((__u64 *)&s->in_flight, 1);
	else
		count_drop(OBS_DROP_STATS_MISSING);
}

/* The parser's event for c's response: counts what ended. */
static __always_inline void conn_frame_event(struct obs_conn *c, int ev)
{
	struct obs_worker_stats *s;

	if (c->state == OBS_CONN_REQUEST && obs_frame_final_started(&c->frame)) {
		c->state = OBS_CONN_RESPONSE;
		s = bpf_map_lookup_elem(&stats, &c->tgid);
		if (s)
			add((__u64 *)&s->in_flight, -1);
	}
	if (c->state == OBS_CONN_RESPONSE && c->implicit && c->frame.st == OBS_FR_NOT_HTTP) {
		/* bytes after a response that do not open another: not a request */
		conn_idle(c);
		return;
	}
	if (ev != OBS_FRAME_DONE)
		return;
	/* last_send_ns is this write's, set before its bytes were parsed */
	if (c->frame.code == 101)
		c->upgraded = 1;
	conn_finish(c);
}

/* A response byte written on an idle connection opens a response with no
 * request read for it: one pipelined behind the last, whose bytes the
 * last request's read took. It starts where that response ended. */
static __always_inline void conn_implicit(struct obs_conn *c)
{
	c->state = OBS_CONN_RESPONSE;
	c->implicit = 1;
	c->req_start_ns = c->last_send_ns;
	c->req_bytes = 0;
	c->resp_bytes = 0;
	c->send_failed = 0;
	obs_frame_init(&c->frame, 0);
}

/* A write's data as segments (an iovec each; ptr 0: bytes we cannot read),
 * where the parser is in them, and the block copied from them: kept in a
 * map, not in registers, so that the verifier sees one state per step and
 * not one per offset the steps could reach. */
struct obs_scratch {
	__u64 ptr[OBS_MAX_IOV + 1];
	__u64 len[OBS_MAX_IOV + 1];
	__u64 off; /* in segment seg */
	__u32 seg, nseg;
	struct obs_frame_blk blk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct obs_scratch);
} scratch SEC(".maps") __weak;

/* One step of the response parser over sc's segments: skips bytes it need
 * not read, or reads a block. Returns 0 when every byte was taken. */
static __always_inline int conn_step(struct obs_conn *c, struct obs_scratch *sc)
{
	__u32 seg = sc->seg;
	__u64 off = sc->off, len, ptr, left;
	int ev;

	if (seg >= sc->nseg || seg > OBS_MAX_IOV)
		return 0;
	len = sc->len[seg];
	ptr = sc->ptr[seg];
	if (off >= len) {
		sc->seg = seg + 1;
		sc->off = 0;
		return 1;
	}
	left = len - off;
	if (c->state == OBS_CONN_IDLE)
		conn_implicit(c);
	if (obs_frame_skipping(&c->frame)) {
		__u64 used;

		ev = obs_frame_skip(&c->frame, left, &used);
		c->resp_bytes += used;
		sc->off = off + used;
	} else if (!ptr) {
		c->frame.st = OBS_FR_UNTIL_CLOSE; /* headers we cannot read: framing lost */
		return 1;
	} else {
		__u32 r, k = left > OBS_FRAME_BLOCK ? OBS_FRAME_BLOCK : (__u32)left;

		if (bpf_probe_read_user(sc->blk.b, k, (void *)(ptr + off))) {
			count_drop(OBS_DROP_READ_FAILED);
			c->frame.st = OBS_FR_UNTIL_CLOSE;
			return 1;
		}
		r = (__u32)obs_frame_scan_block(&c->frame, &sc->blk, k);
		ev = (int)(r >> 16);
		c->resp_bytes += r & 0xffff;
		sc->off = off + (r & 0xffff);
	}
	conn_frame_event(c, ev);
	return 1;
}

/* Feeds sc's segments to the response parser of c. */
static __always_inline void conn_segments(struct obs_conn *c, struct obs_scratch *sc)
{
	sc->seg = 0;
	sc->off = 0;
	for (int step = 0; step < OBS_FRAME_STEPS; step++) {
		if (!conn_step(c, sc))
			return;
		asm volatile("" ::: "memory"); /* one verifier state per step: see obs_frame_scan() */
	}
	/* out of steps: the rest counts, the framing is lost */
	for (__u32 i = 0; i <= OBS_MAX_IOV; i++) {
		__u64 done = i < sc->seg ? sc->len[i] : i == sc->seg ? sc->off : 0;

		if (i < sc->nseg && sc->len[i] > done)
			c->resp_bytes += sc->len[i] - done;
	}
	if (c->state != OBS_CONN_IDLE && !obs_frame_skipping(&c->frame))
		c->frame.st = OBS_FR_UNTIL_CLOSE;
}

/* The segments of a write of ret bytes whose data a describes: one buffer,
 * the first OBS_MAX_IOV of its iovecs and the rest unread, or no data. */
static __always_inline void write_segments(struct obs_scratch *sc, const struct io_args *a, __u64 ret)
{
	struct iovec iov[OBS_MAX_IOV];
	struct user_msghdr msg;
	__u64 left = ret, iovp = a->buf;
	__u32 niov = OBS_MAX_IOV, n = 0;

	sc->nseg = 1;
	sc->ptr[0] = a->kind == IO_BUF ? a->buf : 0;
	sc->len[0] = ret;
	if (a->kind == IO_BUF || a->kind == IO_NODATA)
		return;
	sc->ptr[0] = 0;
	if (a->kind == IO_MSG) {
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->buf))
			goto unreadable;
		iovp = (__u64)msg.msg_iov;
		if (msg.msg_iovlen < niov)
			niov = (__u32)msg.msg_iovlen;
	}
	if (bpf_probe_read_user(iov, sizeof(iov), (void *)iovp) &&
	    bpf_probe_read_user(iov, sizeof(iov[0]), (void *)iovp))
		goto unreadable;
	for (__u32 i = 0; i < OBS_MAX_IOV; i++) {
		__u64 k;

		if (i >= niov || left == 0)
			break;
		k = iov[i].iov_len < left ? iov[i].iov_len : left;
		sc->ptr[i] = (__u64)iov[i].iov_base;
		sc->len[i] = k;
		left -= k;
		n = i + 1;
	}
	/* more segments than we read: their bytes count, unparsed */
	if (n > OBS_MAX_IOV)
		n = OBS_MAX_IOV;
	sc->ptr[n] = 0;
	sc->len[n] = left;
	sc->nseg = left ? n + 1 : n;
	return;
unreadable:
	count_drop(OBS_DROP_READ_FAILED);
}

/* A pipelined response (one whose request we did not see) may have been
 * the answer to a HEAD, whose headers announce a body it does not have: a
 * write that opens with a status line while it waits for body bytes starts
 * the next response. */
static __always_inline void pipelined_restart(struct obs_conn *c, __u64 ptr, __u64 len)
{
	__u8 buf[OBS_PEEK_LEN] = {};

	if (c->frame.st != OBS_FR_BODY && c->frame.st != OBS_FR_CHUNK_SIZE &&
	    c->frame.st != OBS_FR_CHUNK_DATA && c->frame.st != OBS_FR_UNTIL_CLOSE)
		return;
	if (len < 12 || c->resp_bytes == 0)
		return;
	if (bpf_probe_read_user(buf, 12, (void *)ptr) || !obs_parse_status_line(buf, 12))
		return;
	conn_finish(c); /* it ended with its last write: last_send_ns is not moved yet */
}

/* A write to c that failed with ret: EPIPE, ECONNRESET... end the response
 * unsent; a full non-blocking socket is retried. */
static __always_inline void conn_send_error(struct obs_conn *c, long ret)
{
	if (c->state != OBS_CONN_IDLE && ret != -OBS_EAGAIN && ret != -OBS_EINTR)
		c->send_failed = 1;
}

/* A write of ret bytes (the call's result, maybe an error) on connection c,
 * whose data a describes. */
static __always_inline void conn_write(struct obs_conn *c, const struct io_args *a, long ret)
{
	__u32 zero = 0;
	struct obs_scratch *sc;

	if (c->upgraded || ret == 0)
		return;
	if (ret < 0) {
		conn_send_error(c, ret);
		return;
	}
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return;
	write_segments(sc, a, (__u64)ret);
	if (c->implicit && c->state == OBS_CONN_RESPONSE && sc->ptr[0])
		pipelined_restart(c, sc->ptr[0], sc->len[0]);
	c->last_send_ns = bpf_ktime_get_ns();
	conn_segments(c, sc);
}

/* Copies up to OBS_PEEK_LEN bytes of what a read or write moved. */
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
	if (len > OBS_PEEK_LEN)
		len = OBS_PEEK_LEN;
	if (len == 0)
		return 0;
	if (bpf_probe_read_user(out, len, (void *)ptr))
		goto fail;
	return (int)len;
fail:
	count_drop(OBS_DROP_READ_FAILED);
	return 0;
}

/* The request method that a read's first bytes open, OBS_METHOD_NONE when none. */
static __always_inline int read_method(const struct io_args *a, long ret)
{
	__u8 buf[OBS_PEEK_LEN] = {};
	int n = peek(a, ret, buf);

	return obs_parse_request_start(buf, n);
}

/* A new entry for a connection adopted by a read that opened a request. */
static __always_inline struct obs_conn *conn_adopt(__u64 key, __u64 sk, __u8 keying)
{
	struct obs_conn c = { .sk = sk, .keying = keying };

	if (bpf_map_update_elem(&conns, &key, &c, BPF_NOEXIST) && !bpf_map_lookup_elem(&conns, &key)) {
		count_drop(OBS_DROP_CONN_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&conns, &key);
}

#endif /* OBS_CONN_BPF_H */
