// SPDX-License-Identifier: GPL-2.0
/* tls.bpf.c - the plaintext of TLS that a worker terminates, at OpenSSL's
 * SSL_read, SSL_read_ex, SSL_write and SSL_write_ex (libssl 1.1 and 3),
 * with SSL_do_handshake (whose reads tie the socket early) and SSL_free.
 * Userspace attaches these to a Gunicorn master with a TLS listener and to
 * its workers only (perf events bound to those processes, inherited by the
 * workers it forks later): no other process that maps libssl is probed.
 * The entry stashes the call by thread; the data plane's program ties the
 * SSL object to its socket when the call reads from it (tls.bpf.h); the
 * return feeds the plaintext to the connection's request machine as a
 * read or a write of that connection. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tls.bpf.h"

static __always_inline int tls_enter(void *ssl, void *buf, void *outlen, __u8 op)
{
	struct obs_tls_call call = {
		.ssl = (__u64)ssl, .buf = (__u64)buf, .outlen = (__u64)outlen, .op = op
	};
	__u64 id = bpf_get_current_pid_tgid();
	struct obs_tls_call *t;

	if (!is_worker(current_tgid()))
		return 0;
	call.start_ns = thread_start_ns();
	t = bpf_map_lookup_elem(&tls_calls, &id);
	if (t && t->start_ns == call.start_ns && t->depth) {
		t->depth++; /* an SSL call made inside another: the outer one counts */
		return 0;
	}
	call.depth = 1;
	if (bpf_map_update_elem(&tls_calls, &id, &call, BPF_ANY))
		count_drop(OBS_DROP_TLS_MAP_FULL);
	return 0;
}

/* The bytes an SSL call moved: its result, or for the _ex calls (which
 * return 1 on success) what it stored at outlen. */
static __always_inline long tls_moved(const struct obs_tls_call *t, long ret)
{
	__u64 n = 0;

	if (!t->outlen)
		return ret;
	if (ret != 1)
		return 0;
	if (bpf_probe_read_user(&n, sizeof(n), (void *)t->outlen)) {
		count_drop(OBS_DROP_READ_FAILED);
		return 0;
	}
	return (long)n;
}

/* The connection of SSL object ssl of worker tgid; 0 when not tied yet. */
static __always_inline __u64 tls_conn_key(const struct obs_tls_call *t, __u32 tgid)
{
	struct obs_tls_key k = { .ssl = t->ssl, .tgid = tgid };
	__u64 *key;

	if (t->linked)
		return t->key;
	key = bpf_map_lookup_elem(&tls_links, &k);
	return key ? *key : 0;
}

static __always_inline int tls_return(long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), key;
	struct obs_tls_call *t = bpf_map_lookup_elem(&tls_calls, &id), call;
	struct io_args a = { .kind = IO_BUF };
	struct obs_conn *c;
	__u32 tgid;
	long n;

	if (!t || t->start_ns != thread_start_ns())
		return 0;
	if (t->depth > 1) {
		t->depth--;
		return 0;
	}
	call = *t;
	bpf_map_delete_elem(&tls_calls, &id);
	if (call.op == OBS_TLS_HANDSHAKE)
		return 0;
	n = tls_moved(&call, ret);
	if (n <= 0)
		return 0; /* an error, a retry (WANT_READ), a close_notify: the socket's program saw the rest */
	tgid = current_tgid();
	key = tls_conn_key(&call, tgid);
	c = key ? bpf_map_lookup_elem(&conns, &key) : NULL;
	if (!c || !c->tls)
		return 0;
	a.buf = call.buf;
	if (call.op == OBS_TLS_WRITE) {
		conn_write(c, &a, n);
		return 0;
	}
	if (c->state == OBS_CONN_REQUEST && !c->upgraded) {
		c->req_bytes += n; /* more of the request: no need to look */
		return 0;
	}
	conn_read(c, tgid, n, read_method(&a, n));
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read, void *ssl, void *buf, int num)
{
	return tls_enter(ssl, buf, NULL, OBS_TLS_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return tls_enter(ssl, buf, readbytes, OBS_TLS_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write, void *ssl, const void *buf, int num)
{
	return tls_enter(ssl, (void *)buf, NULL, OBS_TLS_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex, void *ssl, const void *buf, size_t num, size_t *written)
{
	return tls_enter(ssl, (void *)buf, written, OBS_TLS_WRITE);
}

/* The handshake's reads are under an SSL call too: bytes that only look
 * like a request (plain HTTP sent to the TLS port) are not taken for one. */
SEC("uprobe")
int BPF_KPROBE(ssl_do_handshake, void *ssl)
{
	return tls_enter(ssl, NULL, NULL, OBS_TLS_HANDSHAKE);
}

/* The return of any of the five; they return an int. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_return, int ret)
{
	tls_return(ret);
	return 0;
}

/* An SSL object freed: its address may come back for another connection. */
SEC("uprobe")
int BPF_KPROBE(ssl_free, void *ssl)
{
	struct obs_tls_key k = { .ssl = (__u64)ssl, .tgid = current_tgid() };

	bpf_map_delete_elem(&tls_links, &k);
	return 0;
}
