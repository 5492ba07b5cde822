/* tls.bpf.h - TLS terminated by a worker, as the data planes see it. A
 * worker's thread inside SSL_read or SSL_write (tls.bpf.c) has its call in
 * tls_calls; a socket read under it is the socket of that SSL object, so
 * the plane's program ties the two (tls_links) and marks the connection:
 * its bytes are ciphertext, and its requests come from the plaintext the
 * SSL calls return. */
#ifndef OBS_TLS_BPF_H
#define OBS_TLS_BPF_H

#include "conn.bpf.h"

enum obs_tls_op {
	OBS_TLS_READ = 1,
	OBS_TLS_WRITE = 2,
	OBS_TLS_HANDSHAKE = 3, /* no data: its socket reads are ciphertext, tied as any other */
};

/* An SSL_read/SSL_write in progress on one thread. */
struct obs_tls_call {
	__u64 ssl, buf;
	__u64 outlen;   /* the _ex calls' size_t * for the bytes moved; 0 for the others */
	__u64 key;      /* the connection, once a socket call under it was seen */
	__u64 start_ns; /* the thread's start: an entry a dead thread left matches no new one */
	__u8 op;        /* enum obs_tls_op */
	__u8 depth;     /* SSL calls nested in it (one exported function calling another) */
	__u8 linked;    /* key is set */
	__u8 pad[5];
};

/* An SSL object of a worker, and the connection its socket is. */
struct obs_tls_key {
	__u64 ssl;
	__u32 tgid, pad;
};

/* Calls in progress, by thread. LRU: an entry a killed thread left is
 * pushed out, never matched (start_ns). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OBS_MAX_TLS_CALLS);
	__type(key, __u64);
	__type(value, struct obs_tls_call);
} tls_calls SEC(".maps") __weak;

/* The connection key of each SSL object, deleted at SSL_free; LRU, so
 * that the objects of a killed worker go in time. Sized as conns. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OBS_MAX_CONNS);
	__type(key, struct obs_tls_key);
	__type(value, __u64);
} tls_links SEC(".maps") __weak;

/* Entry 0 is 1 while userspace has probes on some worker's libssl: until
 * then a read of a worker pays no lookup of tls_calls. A map, not a
 * global, so that it is shared with pinned programs of an earlier run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tls_on SEC(".maps") __weak;

static __always_inline __u64 thread_start_ns(void)
{
	return bpf_get_current_task_btf()->start_time;
}

/* Are TLS probes bound anywhere? (An array lookup, inlined.) */
static __always_inline int tls_enabled(void)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&tls_on, &zero);

	return on && *on;
}

/* The SSL call the current thread is in, NULL when none. */
static __always_inline struct obs_tls_call *tls_call_now(void)
{
	__u64 id;
	struct obs_tls_call *t;

	if (!tls_enabled())
		return NULL;
	id = bpf_get_current_pid_tgid();
	t = bpf_map_lookup_elem(&tls_calls, &id);
	if (!t || t->start_ns != thread_start_ns())
		return NULL;
	return t;
}

/* Ties the SSL object of call t (of worker tgid) to connection key: the
 * socket its call reads from. Returns the connection's entry, created
 * idle and marked TLS; *made is 1 when it is new. */
static __always_inline struct obs_conn *tls_link(struct obs_tls_call *t, __u32 tgid, __u64 key, __u64 sk,
						 __u8 keying, int *made)
{
	struct obs_tls_key k = { .ssl = t->ssl, .tgid = tgid };
	__u64 *have = bpf_map_lookup_elem(&tls_links, &k);
	struct obs_conn *c;

	t->linked = 1;
	t->key = key;
	*made = 0;
	if ((!have || *have != key) && bpf_map_update_elem(&tls_links, &k, &key, BPF_ANY))
		count_drop(OBS_DROP_TLS_MAP_FULL);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		c = conn_adopt(key, sk, keying);
		*made = c != NULL;
	}
	if (c && !c->tls) {
		conn_finish(c);
		c->tls = 1;
	}
	return c;
}

#endif /* OBS_TLS_BPF_H */
