// SPDX-License-Identifier: GPL-2.0
/* sock.bpf.c - the socket data planes: requests seen where the kernel moves
 * a socket's bytes, so no other syscall of any process pays for them. The
 * socket plane (Linux 6.3 and later) has the socket tracepoints; the fentry
 * plane (kernels before them that allow BPF trampolines) has the exits of
 * the address families' receive and send functions. Both run the same
 * bodies below. A tracked worker's read whose bytes open a request adopts
 * the connection, however old; its entry is
 * keyed by the socket's cookie, which no later socket reuses. The end of
 * a connection is seen at a TCP close, at a read of end-of-file, or by the
 * sweep that userspace runs before it reads the maps. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tls.bpf.h"
#include "sock.bpf.h"

/* Counts the events after which a sweep may find work: a unix connection
 * adopted (its close has no hook) or a connection marked closed by its
 * peer. Userspace skips the sweep while it does not move and the last
 * sweep left no such entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sweep_due SEC(".maps");

/* Entries the last sweep left that a later one may have to end: open unix
 * connections, and marked ones whose worker still holds the socket. */
__u32 sweep_left = 0;

static __always_inline void sweep_needed(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&sweep_due, &zero);

	if (n)
		*n += 1;
}

/* The entry of a socket we follow, NULL for any other. A socket with no
 * cookie was never adopted and needs no lookup: reading it through the
 * hook's BTF pointer is a plain load (no helper, and it makes no
 * cookie, unlike bpf_get_socket_cookie()). */
static __always_inline struct obs_conn *followed(const struct sock *sk, __u64 *cookie)
{
	*cookie = (__u64)sk->__sk_common.skc_cookie.counter;
	return *cookie ? bpf_map_lookup_elem(&conns, cookie) : NULL;
}

/* Is the current thread inside an SSL call? Then sk is the socket of its
 * SSL object (tied on its first receive). */
static __always_inline int tls_under_call(struct sock *sk, __u32 tgid)
{
	struct obs_tls_call *t = tls_call_now();
	struct obs_conn *c;
	__u16 family;
	__u8 state;
	int made;

	if (!t)
		return 0;
	if (t->linked)
		return 1;
	family = sk->__sk_common.skc_family;
	state = sk->__sk_common.skc_state;
	if (!stream_connected(sk->sk_type, family, state))
		return 1;
	c = tls_link(t, tgid, bpf_get_socket_cookie(sk), (__u64)sk, OBS_KEY_COOKIE, &made);
	if (c && made && state == TCP_CLOSE)
		c->peer_closed = 1;
	if (c && made && (c->peer_closed || family == OBS_AF_UNIX))
		sweep_needed();
	return 1;
}

/* A receive of ret bytes from sk (flags: the recvmsg flags). */
static __always_inline int on_recv(struct sock *sk, int ret, int flags)
{
	__u32 tgid;
	__u64 cookie;
	struct obs_conn *c;
	struct io_args a;
	int method;

	/* a failed receive (EAGAIN) matters only to tie an SSL call's socket */
	if ((flags & OBS_MSG_PEEK) || (ret < 0 && !tls_enabled()))
		return 0;
	tgid = current_tgid();
	if (!is_worker(tgid))
		return 0;
	/* ciphertext under an SSL call (a retry's EAGAIN too): its socket is known now */
	if (tls_under_call(sk, tgid) && ret != 0)
		return 0;
	if (ret < 0)
		return 0;
	c = followed(sk, &cookie);
	if (ret == 0) { /* end of file: the peer closed or shut down its side */
		if (c && c->state == OBS_CONN_IDLE) {
			bpf_map_delete_elem(&conns, &cookie);
		} else if (c) {
			c->peer_closed = 1;
			sweep_needed();
		}
		return 0;
	}
	if (c && c->tls)
		return 0;
	if (c && c->state == OBS_CONN_REQUEST && !c->upgraded) {
		c->req_bytes += ret; /* more of the request: no need to look */
		return 0;
	}
	syscall_io(&a);
	method = read_method(&a, ret);
	if (!c) {
		/* a BTF pointer (the hook's argument): plain loads, no helper */
		__u16 family = sk->__sk_common.skc_family;
		__u8 state = sk->__sk_common.skc_state;

		if (method == OBS_METHOD_NONE || !stream_connected(sk->sk_type, family, state))
			return 0;
		/* a cookie is made only for a connection we follow */
		cookie = bpf_get_socket_cookie(sk);
		c = conn_adopt(cookie, (__u64)sk, OBS_KEY_COOKIE);
		if (!c)
			return 0;
		/* reset before we saw it: no TCP close is to come */
		if (state == TCP_CLOSE)
			c->peer_closed = 1;
		/* a unix socket's close is seen by no hook, only by a sweep */
		if (c->peer_closed || family == OBS_AF_UNIX)
			sweep_needed();
	}
	conn_read(c, tgid, ret, method);
	return 0;
}

/* Set by the loader when the sendpage programs run: a sendfile whose
 * family falls back to sendmsg (no scatter-gather) is then already
 * counted, page by page. */
const volatile __u8 sendpage_hooked = 0;

/* A send of ret bytes (or an error) to sk; by_sendmsg: seen at a family's
 * sendmsg function (fentry plane), which a sendfile may reach too. */
static __always_inline int on_send(struct sock *sk, int ret, int by_sendmsg)
{
	__u64 cookie;
	struct obs_conn *c;
	struct io_args a;

	if (ret == 0)
		return 0;
	c = followed(sk, &cookie);
	if (!c)
		return 0;
	if (c->tls) { /* ciphertext: the response's bytes come from SSL_write */
		if (ret < 0)
			conn_send_error(c, ret);
		return 0;
	}
	if (!by_sendmsg)
		syscall_io(&a);
	else if (syscall_io(&a) == OBS_NR_SENDFILE && sendpage_hooked)
		return 0;
	conn_write(c, &a, ret);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	return on_recv(sk, ret, flags);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return on_send(sk, ret, 0);
}

/* The fentry plane: the same events at the exits of the address families'
 * receive and send functions, which the socket layer calls through a
 * pointer (sock_recvmsg and sock_sendmsg, which hold the tracepoints' call
 * sites, are inlined into their callers: a trampoline there never runs).
 * Before 6.5 a sendfile's pages go to the families' sendpage functions
 * instead. A NULL sock->sk (a socket being released) is no connection. */
#define FEXIT_RECV(fn)                                                                                       \
	SEC("fexit/" #fn)                                                                                    \
	int BPF_PROG(fexit_##fn, struct socket *sock, struct msghdr *msg, size_t size, int flags, int ret)   \
	{                                                                                                    \
		struct sock *sk = sock->sk;                                                                  \
		return sk ? on_recv(sk, ret, flags) : 0;                                                     \
	}
#define FEXIT_SEND(fn)                                                                                       \
	SEC("fexit/" #fn)                                                                                    \
	int BPF_PROG(fexit_##fn, struct socket *sock, struct msghdr *msg, size_t size, int ret)              \
	{                                                                                                    \
		struct sock *sk = sock->sk;                                                                  \
		return sk ? on_send(sk, ret, 1) : 0;                                                         \
	}
#define FEXIT_SENDPAGE(fn)                                                                                   \
	SEC("fexit/" #fn)                                                                                    \
	int BPF_PROG(fexit_##fn, struct socket *sock, struct page *page, int offset, size_t size, int flags, \
		     int ret)                                                                                \
	{                                                                                                    \
		struct sock *sk = sock->sk;                                                                  \
		return sk ? on_send(sk, ret, 0) : 0;                                                         \
	}

FEXIT_RECV(inet_recvmsg)
FEXIT_RECV(inet6_recvmsg)
FEXIT_RECV(unix_stream_recvmsg)
FEXIT_SEND(inet_sendmsg)
FEXIT_SEND(inet6_sendmsg)
FEXIT_SEND(unix_stream_sendmsg)
FEXIT_SENDPAGE(inet_sendpage)
FEXIT_SENDPAGE(unix_stream_sendpage)

/* Our side's close or shutdown(SHUT_WR) of a TCP connection (FIN_WAIT1,
 * LAST_ACK: always in the closing task) ends it here. A reset (CLOSE) may
 * come in interrupt context, in the middle of another program's update of
 * the same worker's counters: it only marks the entry, and the sweep ends
 * it once the worker has let the socket go. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 cookie;
	struct obs_conn *c;

	if (newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK && newstate != TCP_CLOSE)
		return 0;
	c = followed(sk, &cookie);
	if (!c)
		return 0;
	if (newstate == TCP_CLOSE) {
		c->peer_closed = 1;
		sweep_needed();
		return 0;
	}
	conn_finish(c);
	bpf_map_delete_elem(&conns, &cookie);
	return 0;
}

/* Is the socket at sk still the one of cookie, and still held by a file?
 * A closed socket is orphaned (no struct socket) at once, even while its
 * unix peer keeps it allocated; a freed one no longer holds the cookie. */
static __always_inline int sock_open(__u64 sk, __u64 cookie)
{
	__u64 ck = 0, so = 0;

	if (bpf_probe_read_kernel(
		&ck, sizeof(ck), (void *)(sk + bpf_core_field_offset(struct sock, __sk_common.skc_cookie))) ||
	    ck != cookie)
		return 0;
	if (bpf_probe_read_kernel(&so, sizeof(so),
				  (void *)(sk + bpf_core_field_offset(struct sock, sk_socket))))
		return 0;
	return so != 0;
}

/* The family of the (open) socket at sk. */
static __always_inline __u16 sock_family(__u64 sk)
{
	__u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family),
			      (void *)(sk + bpf_core_field_offset(struct sock, __sk_common.skc_family)));
	return family;
}

struct sweep_ctx {
	__u32 ended, left;
};

static long sweep_one(struct bpf_map *map, __u64 *key, struct obs_conn *c, struct sweep_ctx *sc)
{
	if (c->keying == OBS_KEY_COOKIE && sock_open(c->sk, *key)) {
		if (c->peer_closed || sock_family(c->sk) == OBS_AF_UNIX)
			sc->left++; /* a later sweep may have to end it */
		return 0;
	}
	/* closed (an entry of the syscall plane is a leftover: just dropped) */
	if (c->keying == OBS_KEY_COOKIE) {
		conn_finish(c);
		sc->ended++;
	}
	bpf_map_delete_elem(&conns, key);
	return 0;
}

/* Run by userspace (BPF_PROG_TEST_RUN) before it reads the maps and on its
 * slow timer, never attached: ends the connections whose socket was closed
 * with no close we could see (a unix socket closed by the worker, an exit).
 * Returns how many it ended. It walks every bucket of the connection map
 * (about 1 ms at 65536), hence sweep_due. */
SEC("raw_tp")
int sweep_conns(void *ctx)
{
	struct sweep_ctx sc = {};

	bpf_for_each_map_elem(&conns, sweep_one, &sc, 0);
	sweep_left = sc.left;
	return sc.ended;
}
