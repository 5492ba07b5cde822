/* oracle_expo.c - the Prometheus text renderer as it was before the series
 * model (userspace/render/expo.c of cb4040f), kept as the oracle of
 * tests/test_same_as_before.c. Adapted only to the snapshot's new shape
 * (observer figures in s->self, /proc figures in w->host, the map names
 * sized by KMAP_COUNT, snapshot_clear) and renamed oracle_*; the text it
 * writes is the old one. Compiled into that test alone (it #includes this
 * file), never into the product.
 *
 * The old header comment: renders a snapshot as Prometheus text: one HELP
 * and one TYPE per family, every sample of a family together, cumulative
 * histogram buckets.
 * Label sets and bucket bounds are rendered once per exposition and samples
 * are written without printf: at hundreds of workers the exposition is
 * megabytes, and formatting was most of a scrape's time. The families are a
 * table rendered a few workers at a time by a resumable cursor, so a scrape
 * can be sent while it is written instead of held whole in memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle_expo.h"

static const char *const drop_reasons[OBS_DROP_MAX] = {
	[OBS_DROP_CONN_MAP_FULL] = "conn_map_full",     [OBS_DROP_STASH_MAP_FULL] = "stash_map_full",
	[OBS_DROP_STATS_MISSING] = "stats_missing",     [OBS_DROP_CODE_MAP_FULL] = "code_map_full",
	[OBS_DROP_PROC_MAP_FULL] = "proc_map_full",     [OBS_DROP_RINGBUF_FULL] = "ringbuf_full",
	[OBS_DROP_READ_FAILED] = "user_read_failed",    [OBS_DROP_STATS_MAP_FULL] = "stats_map_full",
	[OBS_DROP_SIGNAL_MAP_FULL] = "signal_map_full", [OBS_DROP_TLS_MAP_FULL] = "tls_map_full",
};

const char *oracle_expo_drop_reason(int reason)
{
	return reason >= 0 && reason < OBS_DROP_MAX ? drop_reasons[reason] : "unknown";
}

void oracle_expo_escape(struct strbuf *out, const char *v)
{
	const char *run = v;

	for (; *v; v++) {
		const char *rep = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;

		if (!rep)
			continue;
		sb_append(out, run, (size_t)(v - run));
		sb_puts(out, rep);
		run = v + 1;
	}
	sb_append(out, run, (size_t)(v - run));
}

static void family(struct strbuf *out, const char *name, const char *type, const char *help)
{
	sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* namespace, pod and container of a master in a Kubernetes pod. */
static void pod_labels(struct strbuf *out, const struct master_snap *m)
{
	if (!m || !m->k8s.pod[0])
		return;
	sb_puts(out, ",namespace=\"");
	oracle_expo_escape(out, m->k8s.namespace);
	sb_puts(out, "\",pod=\"");
	oracle_expo_escape(out, m->k8s.pod);
	sb_puts(out, "\",container=\"");
	oracle_expo_escape(out, m->k8s.container);
	sb_puts(out, "\"");
}

static void master_labels(struct strbuf *out, const struct master_snap *m)
{
	sb_puts(out, "app=\"");
	oracle_expo_escape(out, m->app);
	sb_printf(out, "\",master_pid=\"%d\"", (int)m->pid);
	pod_labels(out, m);
}

static const struct master_snap *master_of(const struct snapshot *s, pid_t pid)
{
	for (size_t i = 0; i < s->nmasters; i++)
		if (s->masters[i].pid == pid)
			return &s->masters[i];
	return NULL;
}

static void worker_labels(struct strbuf *out, const struct snapshot *s, const struct worker_snap *w)
{
	const struct master_snap *m = master_of(s, w->master);

	sb_puts(out, "app=\"");
	oracle_expo_escape(out, m ? m->app : "");
	sb_printf(out, "\",master_pid=\"%d\",worker_pid=\"%d\"", (int)w->master, (int)w->pid);
	pod_labels(out, m);
}

/* The rendered label sets (without braces) of every worker and master of
 * a snapshot, and the "le" values of the bucket bounds. */
struct labels {
	struct strbuf buf;
	size_t *off; /* workers first, then masters */
	size_t nworkers;
	char le_dur[OBS_MAX_DUR_BOUNDS][32];
	char le_size[OBS_MAX_SIZE_BOUNDS][32];
};

static int labels_build(struct labels *lb, const struct snapshot *s)
{
	size_t n = s->nworkers + s->nmasters;

	sb_init(&lb->buf);
	lb->nworkers = s->nworkers;
	lb->off = calloc(n ? n : 1, sizeof(*lb->off));
	if (!lb->off)
		return -1;
	sb_grow(&lb->buf, s->nworkers * 48 + s->nmasters * 32);
	for (size_t i = 0; i < s->nworkers; i++) {
		lb->off[i] = lb->buf.len;
		worker_labels(&lb->buf, s, &s->workers[i]);
		sb_append(&lb->buf, "", 1); /* keeps the NUL */
	}
	for (size_t i = 0; i < s->nmasters; i++) {
		lb->off[s->nworkers + i] = lb->buf.len;
		master_labels(&lb->buf, &s->masters[i]);
		sb_append(&lb->buf, "", 1);
	}
	for (size_t i = 0; i < s->bounds.ndur && i < OBS_MAX_DUR_BOUNDS; i++)
		snprintf(lb->le_dur[i], sizeof(lb->le_dur[i]), "%.15g", s->bounds.dur[i]);
	for (size_t i = 0; i < s->bounds.nsize && i < OBS_MAX_SIZE_BOUNDS; i++)
		snprintf(lb->le_size[i], sizeof(lb->le_size[i]), "%.15g", s->bounds.size[i]);
	return lb->buf.oom ? -1 : 0;
}

static void labels_free(struct labels *lb)
{
	sb_free(&lb->buf);
	free(lb->off);
	lb->off = NULL;
}

/* name{labels[,key="value"]} and a space: a sample line before its value. */
static void series(struct strbuf *out, const char *name, const char *labels, const char *key,
		   const char *value)
{
	sb_puts(out, name);
	sb_append(out, "{", 1);
	sb_puts(out, labels);
	if (key) {
		sb_append(out, ",", 1);
		sb_puts(out, key);
		sb_append(out, "=\"", 2);
		sb_puts(out, value);
		sb_append(out, "\"", 1);
	}
	sb_append(out, "} ", 2);
}

static void sample_u64(struct strbuf *out, const char *name, const char *labels, const char *key,
		       const char *value, unsigned long long v)
{
	series(out, name, labels, key, value);
	sb_u64(out, v);
	sb_append(out, "\n", 1);
}

static void sample_fixed(struct strbuf *out, const char *name, const char *labels, double v, int prec)
{
	series(out, name, labels, NULL, NULL);
	sb_fixed(out, v, prec);
	sb_append(out, "\n", 1);
}

/* name + suffix, for the samples of a histogram. */
static const char *suffixed(char *buf, size_t size, const char *name, const char *suffix)
{
	snprintf(buf, size, "%s%s", name, suffix);
	return buf;
}

/* One histogram's samples. labels is the rendered label set (without
 * braces); le holds the rendered bounds; sum is already in the exported
 * unit. */
static void histogram(struct strbuf *out, const char *name, const char *labels, const char (*le)[32],
		      size_t nb, const __u64 *buckets, __u64 count, double sum)
{
	char bucket[128], other[128];
	__u64 cum = 0;

	suffixed(bucket, sizeof(bucket), name, "_bucket");
	for (size_t i = 0; i < nb; i++) {
		cum += buckets[i];
		sample_u64(out, bucket, labels, "le", le[i], cum);
	}
	sample_u64(out, bucket, labels, "le", "+Inf", count);
	sample_fixed(out, suffixed(other, sizeof(other), name, "_sum"), labels, sum, 9);
	sample_u64(out, suffixed(other, sizeof(other), name, "_count"), labels, NULL, NULL, count);
}

/* An exposition being rendered: the snapshot, its rendered labels and a
 * cursor (family, then worker or master inside it). */
struct oracle_expo_stream {
	struct snapshot own; /* the snapshot of a stream from oracle_expo_stream_new */
	const struct snapshot *s;
	struct labels lb;
	double scrape_seconds;
	size_t fam, item; /* the next family, the next worker or master in it */
	int headed;       /* HELP and TYPE of that family are written */
	int done;
	struct strbuf trailer;
};

/* What a family's samples are per: a worker, a master, or the exposition. */
enum scope { PER_WORKER, PER_MASTER, ONCE };

/* One metric family: a row of the table below. rows appends the samples
 * of items [from, to) of its scope; arg tells shared renderers which
 * field. A family is declared even when it has no sample, unless shown
 * says it is absent. */
struct family {
	const char *name, *type, *help;
	enum scope scope;
	void (*rows)(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		     struct strbuf *out);
	int arg;
	int (*shown)(const struct snapshot *s);
};

/* Workers are rendered this many at a time: a histogram family is about
 * 2 KiB a worker, so a step adds little to the 32-64 KiB an HTTP read asks. */
#define EXPO_RUN 16

static size_t family_items(const struct family *f, const struct snapshot *s)
{
	return f->scope == PER_WORKER ? s->nworkers : f->scope == PER_MASTER ? s->nmasters : 1;
}

static const char *wlabel(const struct oracle_expo_stream *st, size_t i)
{
	return st->lb.buf.data + st->lb.off[i];
}

static const char *mlabel(const struct oracle_expo_stream *st, size_t i)
{
	return st->lb.buf.data + st->lb.off[st->lb.nworkers + i];
}

enum wfield { W_REQUESTS, W_IN_FLIGHT };

static void worker_counts(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			  struct strbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct worker_snap *w = &st->s->workers[i];

		series(out, f->name, wlabel(st, i), NULL, NULL);
		if (f->arg == W_REQUESTS)
			sb_i64(out, (long long)w->st.requests);
		else
			sb_i64(out, (long long)w->st.in_flight);
		sb_append(out, "\n", 1);
	}
}

enum whist { H_DURATION, H_REQ_SIZE, H_RESP_SIZE };

static void worker_histograms(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			      size_t to, struct strbuf *out)
{
	const struct snapshot *s = st->s;

	for (size_t i = from; i < to; i++) {
		const struct worker_snap *w = &s->workers[i];
		const char *l = wlabel(st, i);

		if (f->arg == H_DURATION)
			histogram(out, f->name, l, st->lb.le_dur, s->bounds.ndur, w->st.dur_buckets,
				  w->st.requests, (double)w->st.dur_sum_ns / 1e9);
		else if (f->arg == H_REQ_SIZE)
			histogram(out, f->name, l, st->lb.le_size, s->bounds.nsize, w->st.req_buckets,
				  w->st.requests, (double)w->st.req_bytes_sum);
		else
			histogram(out, f->name, l, st->lb.le_size, s->bounds.nsize, w->st.resp_buckets,
				  w->st.requests, (double)w->st.resp_bytes_sum);
	}
}

/* A status code as a label value. */
static const char *code_text(char *buf, size_t size, unsigned code)
{
	snprintf(buf, size, "%u", code);
	return buf;
}

/* One sample per status code of each item's list. */
static void code_rows(struct strbuf *out, const char *name, const char *labels, const struct code_list *l)
{
	char code[32];

	for (size_t j = 0; j < l->n; j++)
		sample_u64(out, name, labels, "code", code_text(code, sizeof(code), l->v[j].code),
			   (unsigned long long)l->v[j].count);
}

static void worker_codes(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			 struct strbuf *out)
{
	for (size_t i = from; i < to; i++)
		code_rows(out, f->name, wlabel(st, i), &st->s->workers[i].codes);
}

static void worker_failed(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			  struct strbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct worker_snap *w = &st->s->workers[i];
		const char *l = wlabel(st, i);

		sample_u64(out, f->name, l, "reason", "5xx", (unsigned long long)w->st.failed_5xx);
		sample_u64(out, f->name, l, "reason", "aborted", (unsigned long long)w->st.aborted);
	}
}

static const char *const state_names[WORKER_STATES] = { "idle", "busy", "stuck" };

static void worker_states(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			  struct strbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct worker_snap *w = &st->s->workers[i];
		const char *l = wlabel(st, i);

		for (int k = 0; k < WORKER_STATES; k++)
			sample_u64(out, f->name, l, "state", state_names[k],
				   w->state == (enum worker_state)k);
	}
}

enum wgauge { G_HEARTBEAT, G_MEMORY, G_CPU_SECONDS, G_CPU_PERCENT, G_UPTIME, G_START };

/* A per-worker value from /proc or the heartbeat; absent when unknown. */
static int worker_gauge(const struct worker_snap *w, enum wgauge g, double *v)
{
	switch (g) {
	case G_HEARTBEAT:
		*v = w->host.heartbeat_age;
		return w->host.heartbeat_age >= 0;
	case G_MEMORY:
		*v = w->host.rss_bytes;
		return w->host.have_proc;
	case G_CPU_SECONDS:
		*v = w->host.cpu_seconds;
		return w->host.have_proc;
	case G_CPU_PERCENT:
		*v = w->host.cpu_percent;
		return w->host.have_proc && w->host.cpu_percent >= 0;
	case G_UPTIME:
		*v = w->host.uptime;
		return w->host.have_proc;
	case G_START:
		*v = w->host.start_time;
		return w->host.have_proc;
	}
	return 0;
}

static void worker_gauges(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			  struct strbuf *out)
{
	double v;

	for (size_t i = from; i < to; i++)
		if (worker_gauge(&st->s->workers[i], (enum wgauge)f->arg, &v))
			sample_fixed(out, f->name, wlabel(st, i), v, 6);
}

static void master_codes(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			 struct strbuf *out)
{
	for (size_t i = from; i < to; i++)
		code_rows(out, f->name, mlabel(st, i), &st->s->masters[i].t.codes);
}

static void master_histograms(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			      size_t to, struct strbuf *out)
{
	const struct snapshot *s = st->s;

	for (size_t i = from; i < to; i++) {
		const struct master_snap *m = &s->masters[i];

		histogram(out, f->name, mlabel(st, i), st->lb.le_dur, s->bounds.ndur, m->t.dur_buckets,
			  m->t.requests, (double)m->t.dur_sum_ns / 1e9);
	}
}

static void master_workers(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			   size_t to, struct strbuf *out)
{
	for (size_t i = from; i < to; i++)
		sample_u64(out, f->name, mlabel(st, i), NULL, NULL, st->s->masters[i].workers);
}

/* One series per exit reason; "shutdown" only once it happened. arg: 1
 * for the restarts, 0 for all exits. */
static void master_reasons(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			   size_t to, struct strbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct master_snap *m = &st->s->masters[i];
		const uint64_t *v = f->arg ? m->restarts : m->exits;

		for (int r = 0; r < EXIT_REASONS; r++) {
			if (r == EXIT_SHUTDOWN && !v[r])
				continue;
			sample_u64(out, f->name, mlabel(st, i), "reason",
				   exit_reason_name((enum exit_reason)r), (unsigned long long)v[r]);
		}
	}
}

static void master_signals(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			   size_t to, struct strbuf *out)
{
	char sig[16];

	for (size_t i = from; i < to; i++) {
		const struct master_snap *m = &st->s->masters[i];

		for (size_t j = 0; j < m->signals.n; j++)
			sample_u64(out, f->name, mlabel(st, i), "signal",
				   signal_name((int)m->signals.v[j].code, sig, sizeof(sig)),
				   (unsigned long long)m->signals.v[j].count);
	}
}

static void master_starts(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			  struct strbuf *out)
{
	for (size_t i = from; i < to; i++)
		if (st->s->masters[i].start_time > 0)
			sample_fixed(out, f->name, mlabel(st, i), st->s->masters[i].start_time, 6);
}

/* arg: 1 for the backlog limit, 0 for the backlog now. */
static void listeners(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		      struct strbuf *out)
{
	for (size_t i = from; i < to; i++)
		for (size_t j = 0; j < st->s->masters[i].nlisteners; j++) {
			const struct listener *l = &st->s->masters[i].listeners[j];

			sb_printf(out, "%s{%s,listen=\"", f->name, mlabel(st, i));
			oracle_expo_escape(out, l->name);
			sb_printf(out, "\"} %u\n", f->arg ? l->backlog_max : l->backlog);
		}
}

static void build_info(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		       struct strbuf *out)
{
	const struct snapshot *s = st->s;

	(void)from;
	(void)to;
	sb_puts(out, f->name);
	sb_puts(out, "{version=\"");
	oracle_expo_escape(out, s->self.version ? s->self.version : "");
	sb_puts(out, "\",libbpf=\"");
	oracle_expo_escape(out, s->self.libbpf_version ? s->self.libbpf_version : "");
	sb_puts(out, "\",kernel=\"");
	oracle_expo_escape(out, s->self.kernel ? s->self.kernel : "");
	sb_puts(out, "\",data_plane=\"");
	oracle_expo_escape(out, s->self.data_plane ? s->self.data_plane : "");
	sb_puts(out, "\"} 1\n");
}

/* arg: 1 for the workers, 0 for the masters. */
static void tracked(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		    struct strbuf *out)
{
	(void)from;
	(void)to;
	sb_printf(out, "%s %zu\n", f->name, f->arg ? st->s->nworkers : st->s->nmasters);
}

static void tls_workers(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
			struct strbuf *out)
{
	(void)from;
	(void)to;
	sb_printf(out, "%s %u\n", f->name, (unsigned)st->s->self.tls_workers);
}

static void drops(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		  struct strbuf *out)
{
	(void)from;
	(void)to;
	for (int i = 0; i < OBS_DROP_MAX; i++)
		sb_printf(out, "%s{reason=\"%s\"} %llu\n", f->name, drop_reasons[i],
			  (unsigned long long)st->s->self.drops[i]);
	sb_printf(out, "%s{reason=\"map_read_failed\"} %llu\n", f->name,
		  (unsigned long long)st->s->self.map_read_failures);
}

static const char *const self_map_names[KMAP_COUNT] = {
	"conns", "stash", "procs", "stats", "codes", "msigs"
};

/* arg: 1 for the capacities, 0 for the entries. */
static void map_fill(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		     struct strbuf *out)
{
	(void)from;
	(void)to;
	for (int i = 0; i < KMAP_COUNT; i++)
		if (st->s->self.maps[i].ok)
			sb_printf(out, "%s{map=\"%s\"} %u\n", f->name, self_map_names[i],
				  f->arg ? st->s->self.maps[i].capacity : st->s->self.maps[i].entries);
}

static void bpf_memory(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		       struct strbuf *out)
{
	(void)from;
	(void)to;
	for (size_t i = 0; i < st->s->self.nbpf_mem; i++) {
		sb_puts(out, f->name);
		sb_puts(out, "{map=\"");
		oracle_expo_escape(out, st->s->self.bpf_mem[i].name);
		sb_printf(out, "\"} %llu\n", (unsigned long long)st->s->self.bpf_mem[i].bytes);
	}
}

static int have_rss(const struct snapshot *s)
{
	return s->self.rss_bytes > 0;
}

static void self_rss(const struct oracle_expo_stream *st, const struct family *f, size_t from, size_t to,
		     struct strbuf *out)
{
	(void)from;
	(void)to;
	sb_printf(out, "%s %.0f\n", f->name, st->s->self.rss_bytes);
}

static void scrape_duration(const struct oracle_expo_stream *st, const struct family *f, size_t from,
			    size_t to, struct strbuf *out)
{
	(void)from;
	(void)to;
	sb_printf(out, "%s %.6f\n", f->name, st->scrape_seconds);
}

/* The exposition, in order. redis_keys.c and the mirror read this order. */
static const struct family families[] = {
	{ "gunicorn_worker_requests_total", "counter",
	  "HTTP requests completed (response sent) by the worker.", PER_WORKER, worker_counts, W_REQUESTS,
	  NULL },
	{ "gunicorn_worker_request_duration_seconds", "histogram",
	  "Time from the first request byte received to the last response byte sent.", PER_WORKER,
	  worker_histograms, H_DURATION, NULL },
	{ "gunicorn_worker_responses_total", "counter", "Responses by exact HTTP status code.", PER_WORKER,
	  worker_codes, 0, NULL },
	{ "gunicorn_worker_failed_requests_total", "counter",
	  "5xx responses, and requests whose connection closed before a response.", PER_WORKER, worker_failed,
	  0, NULL },
	{ "gunicorn_worker_request_size_bytes", "histogram",
	  "Request bytes read on the connection for one request.", PER_WORKER, worker_histograms, H_REQ_SIZE,
	  NULL },
	{ "gunicorn_worker_response_size_bytes", "histogram",
	  "Response bytes written (send, write, sendfile) for one request.", PER_WORKER, worker_histograms,
	  H_RESP_SIZE, NULL },
	{ "gunicorn_worker_in_flight_requests", "gauge", "Requests received and not yet answered.",
	  PER_WORKER, worker_counts, W_IN_FLIGHT, NULL },
	{ "gunicorn_worker_state", "gauge",
	  "1 for the worker's current state (idle, busy, stuck), 0 for the others.", PER_WORKER,
	  worker_states, 0, NULL },
	{ "gunicorn_worker_last_heartbeat_age_seconds", "gauge",
	  "Seconds since the worker last touched its heartbeat file.", PER_WORKER, worker_gauges, G_HEARTBEAT,
	  NULL },
	{ "gunicorn_worker_memory_bytes", "gauge", "Resident set size.", PER_WORKER, worker_gauges, G_MEMORY,
	  NULL },
	{ "gunicorn_worker_cpu_seconds_total", "counter", "User and system CPU time.", PER_WORKER,
	  worker_gauges, G_CPU_SECONDS, NULL },
	{ "gunicorn_worker_cpu_percent", "gauge",
	  "CPU use over the last sampling interval (at least 1 s), 100 = one core.", PER_WORKER,
	  worker_gauges, G_CPU_PERCENT, NULL },
	{ "gunicorn_worker_uptime_seconds", "gauge", "Seconds since the worker was forked.", PER_WORKER,
	  worker_gauges, G_UPTIME, NULL },
	{ "gunicorn_worker_start_time_seconds", "gauge", "Fork time of the worker, unix seconds.", PER_WORKER,
	  worker_gauges, G_START, NULL },
	{ "gunicorn_requests_total", "counter",
	  "Requests of all of this master's workers, exited ones included, by status code.", PER_MASTER,
	  master_codes, 0, NULL },
	{ "gunicorn_request_duration_seconds", "histogram",
	  "Request duration of all of this master's workers, exited ones included.", PER_MASTER,
	  master_histograms, 0, NULL },
	{ "gunicorn_master_workers", "gauge", "Live workers of the master now.", PER_MASTER, master_workers,
	  0, NULL },
	{ "gunicorn_master_worker_exits_total", "counter", "Worker exits by cause.", PER_MASTER,
	  master_reasons, 0, NULL },
	{ "gunicorn_master_worker_restart_total", "counter",
	  "Worker exits that the master answered with a new fork, by cause.", PER_MASTER, master_reasons, 1,
	  NULL },
	{ "gunicorn_master_signals_total", "counter", "Signals delivered to the master.", PER_MASTER,
	  master_signals, 0, NULL },
	{ "gunicorn_master_start_time_seconds", "gauge", "Start time of the master, unix seconds.",
	  PER_MASTER, master_starts, 0, NULL },
	{ "gunicorn_listener_backlog", "gauge", "Connections waiting in the listener's accept queue now.",
	  PER_MASTER, listeners, 0, NULL },
	{ "gunicorn_listener_backlog_max", "gauge", "The listen() backlog limit of the listener.", PER_MASTER,
	  listeners, 1, NULL },
	{ "gunicorn_observer_build_info", "gauge",
	  "Always 1; labels name the build, the kernel and the data plane.", ONCE, build_info, 0, NULL },
	{ "gunicorn_observer_tracked_masters", "gauge", "Gunicorn masters being observed.", ONCE, tracked, 0,
	  NULL },
	{ "gunicorn_observer_tracked_workers", "gauge", "Gunicorn workers being observed.", ONCE, tracked, 1,
	  NULL },
	{ "gunicorn_observer_tls_workers", "gauge", "Gunicorn workers whose TLS plaintext is followed.", ONCE,
	  tls_workers, 0, NULL },
	{ "gunicorn_observer_events_dropped_total", "counter", "Events that could not be counted, by reason.",
	  ONCE, drops, 0, NULL },
	{ "gunicorn_observer_bpf_map_entries", "gauge",
	  "Entries in the BPF maps that follow connections, syscalls and processes.", ONCE, map_fill, 0,
	  NULL },
	{ "gunicorn_observer_bpf_map_capacity", "gauge", "Most entries those BPF maps can hold.", ONCE,
	  map_fill, 1, NULL },
	{ "gunicorn_observer_bpf_memory_bytes", "gauge",
	  "Kernel memory held by each BPF map (preallocated) and by the programs.", ONCE, bpf_memory, 0,
	  NULL },
	{ "gunicorn_observer_resident_memory_bytes", "gauge", "The observer's own resident set size.", ONCE,
	  self_rss, 0, have_rss },
	{ "gunicorn_observer_scrape_duration_seconds", "gauge",
	  "Time taken to build the previous exposition.", ONCE, scrape_duration, 0, NULL },
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static int stream_init(struct oracle_expo_stream *st, const struct snapshot *s, double scrape_seconds)
{
	st->s = s;
	st->scrape_seconds = scrape_seconds;
	sb_init(&st->trailer);
	return labels_build(&st->lb, s);
}

static void stream_fini(struct oracle_expo_stream *st)
{
	labels_free(&st->lb);
	sb_free(&st->trailer);
}

/* Moves the cursor to the next family; after the last, the trailer. */
static void next_family(struct oracle_expo_stream *st, struct strbuf *out)
{
	st->fam++;
	st->item = 0;
	st->headed = 0;
	if (st->fam < NFAMILIES)
		return;
	if (st->trailer.oom)
		out->oom = 1;
	else if (st->trailer.len)
		sb_append(out, st->trailer.data, st->trailer.len);
	st->done = 1;
}

/* Appends the next run of samples, with the family's HELP and TYPE first. */
static void step(struct oracle_expo_stream *st, struct strbuf *out)
{
	const struct family *f = &families[st->fam];
	size_t n = family_items(f, st->s), to;

	if (!st->headed) {
		if (f->shown && !f->shown(st->s)) {
			next_family(st, out);
			return;
		}
		family(out, f->name, f->type, f->help);
		st->headed = 1;
	}
	to = n - st->item > EXPO_RUN ? st->item + EXPO_RUN : n;
	f->rows(st, f, st->item, to, out);
	st->item = to;
	if (st->item == n)
		next_family(st, out);
}

struct oracle_expo_stream *oracle_expo_stream_new(struct snapshot *s, double scrape_seconds)
{
	struct oracle_expo_stream *st = calloc(1, sizeof(*st));

	if (!st) {
		snapshot_clear(s);
		return NULL;
	}
	st->own = *s;
	memset(s, 0, sizeof(*s));
	if (stream_init(st, &st->own, scrape_seconds)) {
		oracle_expo_stream_free(st);
		return NULL;
	}
	return st;
}

struct strbuf *oracle_expo_stream_trailer(struct oracle_expo_stream *st)
{
	return &st->trailer;
}

int oracle_expo_stream_next(struct oracle_expo_stream *st, struct strbuf *out, size_t want)
{
	size_t start = out->len;

	while (!st->done && !out->oom && out->len - start < want)
		step(st, out);
	if (out->oom)
		return -1;
	return st->done ? 0 : 1;
}

void oracle_expo_stream_free(struct oracle_expo_stream *st)
{
	if (!st)
		return;
	stream_fini(st);
	snapshot_clear(&st->own);
	free(st);
}

void oracle_expo_render(const struct snapshot *s, double scrape_seconds, struct strbuf *out)
{
	struct oracle_expo_stream st = { 0 };

	if (stream_init(&st, s, scrape_seconds)) {
		stream_fini(&st);
		out->oom = 1;
		return;
	}
	/* about 7 KiB per worker with the default buckets: one allocation */
	sb_grow(out, 8192 + s->nworkers * 7168 + s->nmasters * 2048);
	oracle_expo_stream_next(&st, out, SIZE_MAX);
	stream_fini(&st);
}
