/* expo.c - renders a snapshot as Prometheus text: one HELP and one TYPE per
 * family, every sample of a family together, cumulative histogram buckets.
 * Label sets and bucket bounds are rendered once per exposition and samples
 * are written without printf: at hundreds of workers the exposition is
 * megabytes, and formatting was most of a scrape's time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"

static const char *const drop_reasons[GO_DROP_MAX] = {
	[GO_DROP_CONN_MAP_FULL] = "conn_map_full",  [GO_DROP_STASH_MAP_FULL] = "stash_map_full",
	[GO_DROP_STATS_MISSING] = "stats_missing",  [GO_DROP_CODE_MAP_FULL] = "code_map_full",
	[GO_DROP_PROC_MAP_FULL] = "proc_map_full",  [GO_DROP_RINGBUF_FULL] = "ringbuf_full",
	[GO_DROP_READ_FAILED] = "user_read_failed",
};

const char *expo_drop_reason(int reason)
{
	return reason >= 0 && reason < GO_DROP_MAX ? drop_reasons[reason] : "unknown";
}

void expo_escape(struct strbuf *out, const char *v)
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
	expo_escape(out, m->k8s.namespace);
	sb_puts(out, "\",pod=\"");
	expo_escape(out, m->k8s.pod);
	sb_puts(out, "\",container=\"");
	expo_escape(out, m->k8s.container);
	sb_puts(out, "\"");
}

static void master_labels(struct strbuf *out, const struct master_snap *m)
{
	sb_puts(out, "app=\"");
	expo_escape(out, m->app);
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
	expo_escape(out, m ? m->app : "");
	sb_printf(out, "\",master_pid=\"%d\",worker_pid=\"%d\"", (int)w->master, (int)w->pid);
	pod_labels(out, m);
}

/* The rendered label sets (without braces) of every worker and master of
 * a snapshot, and the "le" values of the bucket bounds. */
struct labels {
	struct strbuf buf;
	size_t *off; /* workers first, then masters */
	size_t nworkers;
	char le_dur[GO_MAX_DUR_BOUNDS][32];
	char le_size[GO_MAX_SIZE_BOUNDS][32];
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
	for (size_t i = 0; i < s->bounds.ndur && i < GO_MAX_DUR_BOUNDS; i++)
		snprintf(lb->le_dur[i], sizeof(lb->le_dur[i]), "%.15g", s->bounds.dur[i]);
	for (size_t i = 0; i < s->bounds.nsize && i < GO_MAX_SIZE_BOUNDS; i++)
		snprintf(lb->le_size[i], sizeof(lb->le_size[i]), "%.15g", s->bounds.size[i]);
	return lb->buf.oom ? -1 : 0;
}

static void labels_free(struct labels *lb)
{
	sb_free(&lb->buf);
	free(lb->off);
	lb->off = NULL;
}

static const char *wlabels(const struct labels *lb, size_t i)
{
	return lb->buf.data + lb->off[i];
}

static const char *mlabels(const struct labels *lb, size_t i)
{
	return lb->buf.data + lb->off[lb->nworkers + i];
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
static void histogram(struct strbuf *out, const char *name, const char *labels, char (*le)[32], size_t nb,
		      const __u64 *buckets, __u64 count, double sum)
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

enum wfield { W_REQUESTS, W_IN_FLIGHT };

static void worker_scalar(struct strbuf *out, const struct labels *lb, const struct snapshot *s,
			  const char *name, enum wfield f)
{
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct worker_snap *w = &s->workers[i];

		series(out, name, wlabels(lb, i), NULL, NULL);
		if (f == W_REQUESTS)
			sb_i64(out, (long long)w->st.requests);
		else
			sb_i64(out, (long long)w->st.in_flight);
		sb_append(out, "\n", 1);
	}
}

enum whist { H_DURATION, H_REQ_SIZE, H_RESP_SIZE };

static void worker_histograms(struct strbuf *out, struct labels *lb, const struct snapshot *s,
			      const char *name, enum whist h)
{
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct worker_snap *w = &s->workers[i];
		const char *l = wlabels(lb, i);

		if (h == H_DURATION)
			histogram(out, name, l, lb->le_dur, s->bounds.ndur, w->st.dur_buckets, w->st.requests,
				  (double)w->st.dur_sum_ns / 1e9);
		else if (h == H_REQ_SIZE)
			histogram(out, name, l, lb->le_size, s->bounds.nsize, w->st.req_buckets,
				  w->st.requests, (double)w->st.req_bytes_sum);
		else
			histogram(out, name, l, lb->le_size, s->bounds.nsize, w->st.resp_buckets,
				  w->st.requests, (double)w->st.resp_bytes_sum);
	}
}

/* A status code as a label value. */
static const char *code_text(char *buf, size_t size, unsigned code)
{
	snprintf(buf, size, "%u", code);
	return buf;
}

static void render_workers(const struct snapshot *s, struct strbuf *out, struct labels *lb)
{
	char code[32];

	family(out, "gunicorn_worker_requests_total", "counter",
	       "HTTP requests completed (response sent) by the worker.");
	worker_scalar(out, lb, s, "gunicorn_worker_requests_total", W_REQUESTS);

	family(out, "gunicorn_worker_request_duration_seconds", "histogram",
	       "Time from the first request byte received to the last response byte sent.");
	worker_histograms(out, lb, s, "gunicorn_worker_request_duration_seconds", H_DURATION);

	family(out, "gunicorn_worker_responses_total", "counter", "Responses by exact HTTP status code.");
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct worker_snap *w = &s->workers[i];

		for (size_t j = 0; j < w->codes.n; j++)
			sample_u64(out, "gunicorn_worker_responses_total", wlabels(lb, i), "code",
				   code_text(code, sizeof(code), w->codes.v[j].code),
				   (unsigned long long)w->codes.v[j].count);
	}

	family(out, "gunicorn_worker_failed_requests_total", "counter",
	       "5xx responses, and requests whose connection closed before a response.");
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct worker_snap *w = &s->workers[i];
		const char *l = wlabels(lb, i);

		sample_u64(out, "gunicorn_worker_failed_requests_total", l, "reason", "5xx",
			   (unsigned long long)w->st.failed_5xx);
		sample_u64(out, "gunicorn_worker_failed_requests_total", l, "reason", "aborted",
			   (unsigned long long)w->st.aborted);
	}

	family(out, "gunicorn_worker_request_size_bytes", "histogram",
	       "Request bytes read on the connection for one request.");
	worker_histograms(out, lb, s, "gunicorn_worker_request_size_bytes", H_REQ_SIZE);
	family(out, "gunicorn_worker_response_size_bytes", "histogram",
	       "Response bytes written (send, write, sendfile) for one request.");
	worker_histograms(out, lb, s, "gunicorn_worker_response_size_bytes", H_RESP_SIZE);

	family(out, "gunicorn_worker_in_flight_requests", "gauge", "Requests received and not yet answered.");
	worker_scalar(out, lb, s, "gunicorn_worker_in_flight_requests", W_IN_FLIGHT);
}

static const char *const state_names[WORKER_STATES] = { "idle", "busy", "stuck" };

enum wgauge { G_HEARTBEAT, G_MEMORY, G_CPU_SECONDS, G_CPU_PERCENT, G_UPTIME, G_START };

/* A per-worker value from /proc or the heartbeat; absent when unknown. */
static int worker_gauge(const struct worker_snap *w, enum wgauge g, double *v)
{
	switch (g) {
	case G_HEARTBEAT:
		*v = w->heartbeat_age;
		return w->heartbeat_age >= 0;
	case G_MEMORY:
		*v = w->rss_bytes;
		return w->have_proc;
	case G_CPU_SECONDS:
		*v = w->cpu_seconds;
		return w->have_proc;
	case G_CPU_PERCENT:
		*v = w->cpu_percent;
		return w->have_proc && w->cpu_percent >= 0;
	case G_UPTIME:
		*v = w->uptime;
		return w->have_proc;
	case G_START:
		*v = w->start_time;
		return w->have_proc;
	}
	return 0;
}

static void worker_gauges(struct strbuf *out, const struct labels *lb, const struct snapshot *s,
			  const char *name, const char *type, const char *help, enum wgauge g)
{
	double v;

	family(out, name, type, help);
	for (size_t i = 0; i < s->nworkers; i++)
		if (worker_gauge(&s->workers[i], g, &v))
			sample_fixed(out, name, wlabels(lb, i), v, 6);
}

static void render_worker_life(const struct snapshot *s, struct strbuf *out, const struct labels *lb)
{
	family(out, "gunicorn_worker_state", "gauge",
	       "1 for the worker's current state (idle, busy, stuck), 0 for the others.");
	for (size_t i = 0; i < s->nworkers; i++) {
		const struct worker_snap *w = &s->workers[i];
		const char *l = wlabels(lb, i);

		for (int st = 0; st < WORKER_STATES; st++)
			sample_u64(out, "gunicorn_worker_state", l, "state", state_names[st],
				   w->state == (enum worker_state)st);
	}
	worker_gauges(out, lb, s, "gunicorn_worker_last_heartbeat_age_seconds", "gauge",
		      "Seconds since the worker last touched its heartbeat file.", G_HEARTBEAT);
	worker_gauges(out, lb, s, "gunicorn_worker_memory_bytes", "gauge", "Resident set size.", G_MEMORY);
	worker_gauges(out, lb, s, "gunicorn_worker_cpu_seconds_total", "counter", "User and system CPU time.",
		      G_CPU_SECONDS);
	worker_gauges(out, lb, s, "gunicorn_worker_cpu_percent", "gauge",
		      "CPU use over the last sampling interval (at least 1 s), 100 = one core.",
		      G_CPU_PERCENT);
	worker_gauges(out, lb, s, "gunicorn_worker_uptime_seconds", "gauge",
		      "Seconds since the worker was forked.", G_UPTIME);
	worker_gauges(out, lb, s, "gunicorn_worker_start_time_seconds", "gauge",
		      "Fork time of the worker, unix seconds.", G_START);
}

/* One series per exit reason; "shutdown" only once it happened. */
static void master_reasons(struct strbuf *out, const struct labels *lb, const struct snapshot *s,
			   const char *name, int restarts)
{
	for (size_t i = 0; i < s->nmasters; i++) {
		const struct master_snap *m = &s->masters[i];
		const uint64_t *v = restarts ? m->restarts : m->exits;

		for (int r = 0; r < EXIT_REASONS; r++) {
			if (r == EXIT_SHUTDOWN && !v[r])
				continue;
			sample_u64(out, name, mlabels(lb, i), "reason", exit_reason_name((enum exit_reason)r),
				   (unsigned long long)v[r]);
		}
	}
}

static void listener_family(struct strbuf *out, const struct labels *lb, const struct snapshot *s,
			    const char *name, const char *help, int max)
{
	family(out, name, "gauge", help);
	for (size_t i = 0; i < s->nmasters; i++)
		for (size_t j = 0; j < s->masters[i].nlisteners; j++) {
			const struct listener *l = &s->masters[i].listeners[j];

			sb_printf(out, "%s{%s,listen=\"", name, mlabels(lb, i));
			expo_escape(out, l->name);
			sb_printf(out, "\"} %u\n", max ? l->backlog_max : l->backlog);
		}
}

static void render_master_life(const struct snapshot *s, struct strbuf *out, const struct labels *lb)
{
	char sig[16];

	family(out, "gunicorn_master_worker_exits_total", "counter", "Worker exits by cause.");
	master_reasons(out, lb, s, "gunicorn_master_worker_exits_total", 0);
	family(out, "gunicorn_master_worker_restart_total", "counter",
	       "Worker exits that the master answered with a new fork, by cause.");
	master_reasons(out, lb, s, "gunicorn_master_worker_restart_total", 1);
	family(out, "gunicorn_master_signals_total", "counter", "Signals delivered to the master.");
	for (size_t i = 0; i < s->nmasters; i++) {
		const struct master_snap *m = &s->masters[i];

		for (size_t j = 0; j < m->signals.n; j++)
			sample_u64(out, "gunicorn_master_signals_total", mlabels(lb, i), "signal",
				   signal_name((int)m->signals.v[j].code, sig, sizeof(sig)),
				   (unsigned long long)m->signals.v[j].count);
	}
	family(out, "gunicorn_master_start_time_seconds", "gauge", "Start time of the master, unix seconds.");
	for (size_t i = 0; i < s->nmasters; i++)
		if (s->masters[i].start_time > 0)
			sample_fixed(out, "gunicorn_master_start_time_seconds", mlabels(lb, i),
				     s->masters[i].start_time, 6);
	listener_family(out, lb, s, "gunicorn_listener_backlog",
			"Connections waiting in the listener's accept queue now.", 0);
	listener_family(out, lb, s, "gunicorn_listener_backlog_max",
			"The listen() backlog limit of the listener.", 1);
}

static void render_masters(const struct snapshot *s, struct strbuf *out, struct labels *lb)
{
	char code[32];

	family(out, "gunicorn_requests_total", "counter",
	       "Requests of all of this master's workers, exited ones included, by status code.");
	for (size_t i = 0; i < s->nmasters; i++) {
		const struct master_snap *m = &s->masters[i];

		for (size_t j = 0; j < m->t.codes.n; j++)
			sample_u64(out, "gunicorn_requests_total", mlabels(lb, i), "code",
				   code_text(code, sizeof(code), m->t.codes.v[j].code),
				   (unsigned long long)m->t.codes.v[j].count);
	}
	family(out, "gunicorn_request_duration_seconds", "histogram",
	       "Request duration of all of this master's workers, exited ones included.");
	for (size_t i = 0; i < s->nmasters; i++) {
		const struct master_snap *m = &s->masters[i];

		histogram(out, "gunicorn_request_duration_seconds", mlabels(lb, i), lb->le_dur,
			  s->bounds.ndur, m->t.dur_buckets, m->t.requests, (double)m->t.dur_sum_ns / 1e9);
	}
	family(out, "gunicorn_master_workers", "gauge", "Live workers of the master now.");
	for (size_t i = 0; i < s->nmasters; i++)
		sample_u64(out, "gunicorn_master_workers", mlabels(lb, i), NULL, NULL, s->masters[i].workers);
}

static const char *const self_map_names[SELF_MAP_COUNT] = { "conns", "stash", "procs" };

static void render_map_fill(const struct snapshot *s, struct strbuf *out)
{
	family(out, "gunicorn_observer_bpf_map_entries", "gauge",
	       "Entries in the BPF maps that follow connections, syscalls and processes.");
	for (int i = 0; i < SELF_MAP_COUNT; i++)
		if (s->maps[i].ok)
			sb_printf(out, "gunicorn_observer_bpf_map_entries{map=\"%s\"} %u\n",
				  self_map_names[i], s->maps[i].entries);
	family(out, "gunicorn_observer_bpf_map_capacity", "gauge", "Most entries those BPF maps can hold.");
	for (int i = 0; i < SELF_MAP_COUNT; i++)
		if (s->maps[i].ok)
			sb_printf(out, "gunicorn_observer_bpf_map_capacity{map=\"%s\"} %u\n",
				  self_map_names[i], s->maps[i].capacity);
}

static void render_observer(const struct snapshot *s, double scrape_seconds, struct strbuf *out)
{
	family(out, "gunicorn_observer_build_info", "gauge",
	       "Always 1; labels name the build, the kernel and the data plane.");
	sb_puts(out, "gunicorn_observer_build_info{version=\"");
	expo_escape(out, s->version ? s->version : "");
	sb_puts(out, "\",libbpf=\"");
	expo_escape(out, s->libbpf_version ? s->libbpf_version : "");
	sb_puts(out, "\",kernel=\"");
	expo_escape(out, s->kernel ? s->kernel : "");
	sb_puts(out, "\",data_plane=\"");
	expo_escape(out, s->data_plane ? s->data_plane : "");
	sb_puts(out, "\"} 1\n");
	family(out, "gunicorn_observer_tracked_masters", "gauge", "Gunicorn masters being observed.");
	sb_printf(out, "gunicorn_observer_tracked_masters %zu\n", s->nmasters);
	family(out, "gunicorn_observer_tracked_workers", "gauge", "Gunicorn workers being observed.");
	sb_printf(out, "gunicorn_observer_tracked_workers %zu\n", s->nworkers);
	family(out, "gunicorn_observer_events_dropped_total", "counter",
	       "Events that could not be counted, by reason.");
	for (int i = 0; i < GO_DROP_MAX; i++)
		sb_printf(out, "gunicorn_observer_events_dropped_total{reason=\"%s\"} %llu\n",
			  drop_reasons[i], (unsigned long long)s->drops[i]);
	sb_printf(out, "gunicorn_observer_events_dropped_total{reason=\"map_read_failed\"} %llu\n",
		  (unsigned long long)s->map_read_failures);
	render_map_fill(s, out);
	family(out, "gunicorn_observer_scrape_duration_seconds", "gauge",
	       "Time taken to build the previous exposition.");
	sb_printf(out, "gunicorn_observer_scrape_duration_seconds %.6f\n", scrape_seconds);
}

void expo_render(const struct snapshot *s, double scrape_seconds, struct strbuf *out)
{
	struct labels lb;

	if (labels_build(&lb, s)) {
		labels_free(&lb);
		out->oom = 1;
		return;
	}
	/* about 6 KiB per worker with the default buckets: one allocation */
	sb_grow(out, 8192 + s->nworkers * 6144 + s->nmasters * 2048);
	render_workers(s, out, &lb);
	render_worker_life(s, out, &lb);
	render_masters(s, out, &lb);
	render_master_life(s, out, &lb);
	render_observer(s, scrape_seconds, out);
	labels_free(&lb);
}
