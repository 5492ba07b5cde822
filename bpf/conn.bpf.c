// SPDX-License-Identifier: GPL-2.0
/* conn.bpf.c - the connection logic's global functions (declared in
 * conn.bpf.h and frame.bpf.h): the verifier checks each once, not once per
 * step of every program that calls it. A request is counted here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "conn.bpf.h"

__noinline int obs_frame_scan_block(struct obs_frame *f, const struct obs_frame_blk *b, __u32 n)
{
	__u32 used = 0;
	int ev;

	if (!f || !b)
		return 0;
	ev = obs_frame_scan(f, b->b, n, &used);
	return (int)(used | ((__u32)ev << 16));
}

static __always_inline void add_bucket(__u64 *buckets, __u32 i, __u32 max)
{
	if (i < max)
		add(&buckets[i], 1);
}

/* Folds the request of c that was just answered into its worker's aggregates s. */
static __always_inline void record_request(struct obs_worker_stats *s, struct obs_conn *c)
{
	struct obs_code_key ck = { .tgid = c->tgid, .code = obs_frame_code(&c->frame) };
	__u64 dur = c->last_send_ns - c->req_start_ns;
	__u32 i;

	add(&s->requests, 1);
	add(&s->dur_sum_ns, dur);
	add(&s->req_bytes_sum, c->req_bytes);
	add(&s->resp_bytes_sum, c->resp_bytes);
	i = obs_bucket_index(dur_bounds_ns, n_dur_bounds, OBS_MAX_DUR_BOUNDS, dur);
	add_bucket(s->dur_buckets, i, OBS_MAX_DUR_BOUNDS + 1);
	i = obs_bucket_index(size_bounds, n_size_bounds, OBS_MAX_SIZE_BOUNDS, c->req_bytes);
	add_bucket(s->req_buckets, i, OBS_MAX_SIZE_BOUNDS + 1);
	i = obs_bucket_index(size_bounds, n_size_bounds, OBS_MAX_SIZE_BOUNDS, c->resp_bytes);
	add_bucket(s->resp_buckets, i, OBS_MAX_SIZE_BOUNDS + 1);
	if (ck.code >= 500 && ck.code <= 599)
		add(&s->failed_5xx, 1);
	count_key(&codes, &ck, OBS_DROP_CODE_MAP_FULL);
}

__noinline int obs_conn_finish(struct obs_conn *c)
{
	struct obs_worker_stats *s;
	__u32 tgid;

	if (!c || c->state == OBS_CONN_IDLE)
		return 0;
	tgid = c->tgid;
	s = bpf_map_lookup_elem(&stats, &tgid);
	if (!s)
		count_drop(OBS_DROP_STATS_MISSING);
	/* A response that could not be written was not sent: Gunicorn logs
	 * no access line for it either. */
	else if (c->state == OBS_CONN_RESPONSE && c->implicit && !obs_frame_code(&c->frame))
		; /* bytes after a response that began no new one */
	else if (c->state == OBS_CONN_RESPONSE && !c->send_failed)
		record_request(s, c);
	else if (c->state == OBS_CONN_RESPONSE)
		add(&s->aborted, 1);
	else {
		add(&s->aborted, 1);
		add((__u64 *)&s->in_flight, -1);
	}
	conn_idle(c);
	return 0;
}
