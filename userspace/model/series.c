/* series.c - the metric families, in exposition order, and how each one's
 * samples come out of a snapshot. A row names the owners it is per and a
 * function that hands out the samples of some of them, so a renderer can
 * take a family a few workers at a time. */
#include <stdio.h>
#include <string.h>

#include "model/series.h"

/* One family: the public part, then how its samples are made. arg tells
 * shared sample functions which field; shown, when set, says whether the
 * family is declared at all. */
struct row {
	struct family f;
	void (*samples)(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx);
	int arg;
	int (*shown)(const struct snapshot *s);
};

static struct sample sample_of(const struct row *r, enum owner o, size_t i)
{
	struct sample s;

	memset(&s, 0, sizeof(s));
	s.f = &r->f;
	s.owner = o;
	s.index = i;
	return s;
}

static struct value v_uint(uint64_t u)
{
	return (struct value){ .form = VF_UINT, .u = u };
}

static struct value v_int(int64_t i)
{
	return (struct value){ .form = VF_INT, .i = i };
}

static struct value v_fixed(double d, int prec)
{
	return (struct value){ .form = VF_FIXED, .d = d, .prec = prec };
}

static void with_label(struct sample *s, const char *key, const char *val)
{
	s->key[s->nextra] = key;
	s->val[s->nextra++] = val;
}

/* A histogram's samples: cumulative buckets, +Inf, _sum (already in the
 * exported unit) and _count. */
static void histogram(const struct row *r, enum owner o, size_t i, const char (*le)[32], size_t nb,
		      const __u64 *buckets, __u64 count, double sum, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, o, i);
	__u64 cum = 0, prev = 0;

	s.part = PART_BUCKET;
	s.nextra = 1;
	s.key[0] = "le";
	for (size_t b = 0; b < nb; b++) {
		cum += buckets[b];
		s.val[0] = le[b];
		s.v = v_uint(cum);
		s.own = (double)cum - (double)prev;
		prev = cum;
		fn(ctx, &s);
	}
	s.val[0] = "+Inf";
	s.v = v_uint(count);
	s.own = (double)count - (double)cum;
	fn(ctx, &s);
	s.nextra = 0;
	s.own = 0;
	s.part = PART_SUM;
	s.v = v_fixed(sum, 9);
	fn(ctx, &s);
	s.part = PART_COUNT;
	s.v = v_uint(count);
	fn(ctx, &s);
}

enum wcount { W_REQUESTS, W_IN_FLIGHT };

static void worker_counts(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct worker_snap *w = &m->s->workers[i];
	struct sample s = sample_of(r, OWNER_WORKER, i);

	s.v = v_int(r->arg == W_REQUESTS ? (int64_t)w->st.requests : (int64_t)w->st.in_flight);
	fn(ctx, &s);
}

enum whist { H_DURATION, H_REQ_SIZE, H_RESP_SIZE };

static void worker_histograms(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct bounds *b = &m->s->bounds;
	const struct worker_snap *w = &m->s->workers[i];

	if (r->arg == H_DURATION)
		histogram(r, OWNER_WORKER, i, m->le_dur, b->ndur, w->st.dur_buckets, w->st.requests,
			  (double)w->st.dur_sum_ns / 1e9, fn, ctx);
	else if (r->arg == H_REQ_SIZE)
		histogram(r, OWNER_WORKER, i, m->le_size, b->nsize, w->st.req_buckets, w->st.requests,
			  (double)w->st.req_bytes_sum, fn, ctx);
	else
		histogram(r, OWNER_WORKER, i, m->le_size, b->nsize, w->st.resp_buckets, w->st.requests,
			  (double)w->st.resp_bytes_sum, fn, ctx);
}

/* One sample per status code of a list. */
static void code_samples(const struct row *r, enum owner o, size_t i, const struct code_list *l, sample_fn fn,
			 void *ctx)
{
	struct sample s = sample_of(r, o, i);
	char code[16];

	with_label(&s, "code", code);
	for (size_t j = 0; j < l->n; j++) {
		snprintf(code, sizeof(code), "%u", (unsigned)l->v[j].code);
		s.v = v_uint(l->v[j].count);
		fn(ctx, &s);
	}
}

static void worker_codes(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	code_samples(r, OWNER_WORKER, i, &m->s->workers[i].codes, fn, ctx);
}

static void worker_failed(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct worker_snap *w = &m->s->workers[i];
	struct sample s = sample_of(r, OWNER_WORKER, i);

	with_label(&s, "reason", "5xx");
	s.v = v_uint(w->st.failed_5xx);
	fn(ctx, &s);
	s.val[0] = "aborted";
	s.v = v_uint(w->st.aborted);
	fn(ctx, &s);
}

static const char *const state_names[WORKER_STATES] = { "idle", "busy", "stuck" };

static void worker_states(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_WORKER, i);

	with_label(&s, "state", "");
	for (int k = 0; k < WORKER_STATES; k++) {
		s.val[0] = state_names[k];
		s.v = v_uint(m->s->workers[i].state == (enum worker_state)k);
		fn(ctx, &s);
	}
}

enum wgauge { G_HEARTBEAT, G_MEMORY, G_CPU_SECONDS, G_CPU_PERCENT, G_UPTIME, G_START };

/* A per-worker value from /proc or the heartbeat; absent when unknown. */
static int worker_gauge(const struct worker_host *h, enum wgauge g, double *v)
{
	switch (g) {
	case G_HEARTBEAT:
		*v = h->heartbeat_age;
		return h->heartbeat_age >= 0;
	case G_MEMORY:
		*v = h->rss_bytes;
		return h->have_proc;
	case G_CPU_SECONDS:
		*v = h->cpu_seconds;
		return h->have_proc;
	case G_CPU_PERCENT:
		*v = h->cpu_percent;
		return h->have_proc && h->cpu_percent >= 0;
	case G_UPTIME:
		*v = h->uptime;
		return h->have_proc;
	case G_START:
		*v = h->start_time;
		return h->have_proc;
	}
	return 0;
}

static void worker_gauges(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_WORKER, i);
	double v;

	if (!worker_gauge(&m->s->workers[i].host, (enum wgauge)r->arg, &v))
		return;
	s.v = v_fixed(v, 6);
	fn(ctx, &s);
}

static void master_codes(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	code_samples(r, OWNER_MASTER, i, &m->s->masters[i].t.codes, fn, ctx);
}

static void master_histograms(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct master_snap *ms = &m->s->masters[i];

	histogram(r, OWNER_MASTER, i, m->le_dur, m->s->bounds.ndur, ms->t.dur_buckets, ms->t.requests,
		  (double)ms->t.dur_sum_ns / 1e9, fn, ctx);
}

static void master_workers(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_MASTER, i);

	s.v = v_uint(m->s->masters[i].workers);
	fn(ctx, &s);
}

/* One series per exit reason; "shutdown" only once it happened. arg: 1
 * for the restarts, 0 for all exits. */
static void master_reasons(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct master_snap *ms = &m->s->masters[i];
	const uint64_t *v = r->arg ? ms->restarts : ms->exits;
	struct sample s = sample_of(r, OWNER_MASTER, i);

	with_label(&s, "reason", "");
	for (int k = 0; k < EXIT_REASONS; k++) {
		if (k == EXIT_SHUTDOWN && !v[k])
			continue;
		s.val[0] = exit_reason_name((enum exit_reason)k);
		s.v = v_uint(v[k]);
		fn(ctx, &s);
	}
}

static void master_signals(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct master_snap *ms = &m->s->masters[i];
	struct sample s = sample_of(r, OWNER_MASTER, i);
	char sig[16];

	with_label(&s, "signal", "");
	for (size_t j = 0; j < ms->signals.n; j++) {
		s.val[0] = signal_name((int)ms->signals.v[j].code, sig, sizeof(sig));
		s.v = v_uint(ms->signals.v[j].count);
		fn(ctx, &s);
	}
}

static void master_starts(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_MASTER, i);

	if (m->s->masters[i].start_time <= 0)
		return;
	s.v = v_fixed(m->s->masters[i].start_time, 6);
	fn(ctx, &s);
}

/* arg: 1 for the backlog limit, 0 for the backlog now. */
static void listeners(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct master_snap *ms = &m->s->masters[i];
	struct sample s = sample_of(r, OWNER_MASTER, i);

	with_label(&s, "listen", "");
	for (size_t j = 0; j < ms->nlisteners; j++) {
		s.val[0] = ms->listeners[j].name;
		s.v = v_uint(r->arg ? ms->listeners[j].backlog_max : ms->listeners[j].backlog);
		fn(ctx, &s);
	}
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void build_info(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	const struct self_snap *self = &m->s->self;
	struct sample s = sample_of(r, OWNER_NONE, i);

	with_label(&s, "version", or_empty(self->version));
	with_label(&s, "libbpf", or_empty(self->libbpf_version));
	with_label(&s, "kernel", or_empty(self->kernel));
	with_label(&s, "data_plane", or_empty(self->data_plane));
	s.v = v_uint(1);
	fn(ctx, &s);
}

/* arg: 1 for the workers, 0 for the masters. */
static void tracked(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	s.v = v_uint(r->arg ? m->s->nworkers : m->s->nmasters);
	fn(ctx, &s);
}

static void tls_workers(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	s.v = v_uint(m->s->self.tls_workers);
	fn(ctx, &s);
}

static const char *const drop_reasons[OBS_DROP_MAX] = {
	[OBS_DROP_CONN_MAP_FULL] = "conn_map_full",     [OBS_DROP_STASH_MAP_FULL] = "stash_map_full",
	[OBS_DROP_STATS_MISSING] = "stats_missing",     [OBS_DROP_CODE_MAP_FULL] = "code_map_full",
	[OBS_DROP_PROC_MAP_FULL] = "proc_map_full",     [OBS_DROP_RINGBUF_FULL] = "ringbuf_full",
	[OBS_DROP_READ_FAILED] = "user_read_failed",    [OBS_DROP_STATS_MAP_FULL] = "stats_map_full",
	[OBS_DROP_SIGNAL_MAP_FULL] = "signal_map_full", [OBS_DROP_TLS_MAP_FULL] = "tls_map_full",
};

static void drops(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	with_label(&s, "reason", "");
	for (int k = 0; k < OBS_DROP_MAX; k++) {
		s.val[0] = drop_reasons[k];
		s.v = v_uint(m->s->self.drops[k]);
		fn(ctx, &s);
	}
	s.val[0] = "map_read_failed";
	s.v = v_uint(m->s->self.map_read_failures);
	fn(ctx, &s);
}

/* arg: 1 for the capacities, 0 for the entries. */
static void map_fill(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	with_label(&s, "map", "");
	for (int k = 0; k < KMAP_COUNT; k++) {
		const struct map_fill *f = &m->s->self.maps[k];

		if (!f->ok)
			continue;
		s.val[0] = kmap_names[k];
		s.v = v_uint(r->arg ? f->capacity : f->entries);
		fn(ctx, &s);
	}
}

static void bpf_memory(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	with_label(&s, "map", "");
	for (size_t k = 0; k < m->s->self.nbpf_mem; k++) {
		s.val[0] = m->s->self.bpf_mem[k].name;
		s.v = v_uint(m->s->self.bpf_mem[k].bytes);
		fn(ctx, &s);
	}
}

static int have_rss(const struct snapshot *s)
{
	return s->self.rss_bytes > 0;
}

static void self_rss(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	s.v = v_fixed(m->s->self.rss_bytes, 0);
	fn(ctx, &s);
}

static void scrape_duration(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	s.v = v_fixed(m->s->self.scrape_seconds, 6);
	fn(ctx, &s);
}

static int have_mirror(const struct snapshot *s)
{
	return s->self.mirror;
}

/* arg: 1 for the errors, 0 for up. */
static void redis_state(const struct series *m, const struct row *r, size_t i, sample_fn fn, void *ctx)
{
	struct sample s = sample_of(r, OWNER_NONE, i);

	s.v = r->arg ? v_uint(m->s->self.redis_errors) : v_int(m->s->self.redis_up);
	fn(ctx, &s);
}

/* The exposition, in order. */
static const struct row rows[] = {
	{ { "gunicorn_worker_requests_total", FT_COUNTER,
	    "HTTP requests completed (response sent) by the worker.", PER_WORKER },
	  worker_counts,
	  W_REQUESTS,
	  NULL },
	{ { "gunicorn_worker_request_duration_seconds", FT_HISTOGRAM,
	    "Time from the first request byte received to the last response byte sent.", PER_WORKER },
	  worker_histograms,
	  H_DURATION,
	  NULL },
	{ { "gunicorn_worker_responses_total", FT_COUNTER, "Responses by exact HTTP status code.",
	    PER_WORKER },
	  worker_codes,
	  0,
	  NULL },
	{ { "gunicorn_worker_failed_requests_total", FT_COUNTER,
	    "5xx responses, and requests whose connection closed before a response.", PER_WORKER },
	  worker_failed,
	  0,
	  NULL },
	{ { "gunicorn_worker_request_size_bytes", FT_HISTOGRAM,
	    "Request bytes read on the connection for one request.", PER_WORKER },
	  worker_histograms,
	  H_REQ_SIZE,
	  NULL },
	{ { "gunicorn_worker_response_size_bytes", FT_HISTOGRAM,
	    "Response bytes written (send, write, sendfile) for one request.", PER_WORKER },
	  worker_histograms,
	  H_RESP_SIZE,
	  NULL },
	{ { "gunicorn_worker_in_flight_requests", FT_GAUGE, "Requests received and not yet answered.",
	    PER_WORKER },
	  worker_counts,
	  W_IN_FLIGHT,
	  NULL },
	{ { "gunicorn_worker_state", FT_GAUGE,
	    "1 for the worker's current state (idle, busy, stuck), 0 for the others.", PER_WORKER },
	  worker_states,
	  0,
	  NULL },
	{ { "gunicorn_worker_last_heartbeat_age_seconds", FT_GAUGE,
	    "Seconds since the worker last touched its heartbeat file.", PER_WORKER },
	  worker_gauges,
	  G_HEARTBEAT,
	  NULL },
	{ { "gunicorn_worker_memory_bytes", FT_GAUGE, "Resident set size.", PER_WORKER },
	  worker_gauges,
	  G_MEMORY,
	  NULL },
	{ { "gunicorn_worker_cpu_seconds_total", FT_COUNTER, "User and system CPU time.", PER_WORKER },
	  worker_gauges,
	  G_CPU_SECONDS,
	  NULL },
	{ { "gunicorn_worker_cpu_percent", FT_GAUGE,
	    "CPU use over the last sampling interval (at least 1 s), 100 = one core.", PER_WORKER },
	  worker_gauges,
	  G_CPU_PERCENT,
	  NULL },
	{ { "gunicorn_worker_uptime_seconds", FT_GAUGE, "Seconds since the worker was forked.", PER_WORKER },
	  worker_gauges,
	  G_UPTIME,
	  NULL },
	{ { "gunicorn_worker_start_time_seconds", FT_GAUGE, "Fork time of the worker, unix seconds.",
	    PER_WORKER },
	  worker_gauges,
	  G_START,
	  NULL },
	{ { "gunicorn_requests_total", FT_COUNTER,
	    "Requests of all of this master's workers, exited ones included, by status code.", PER_MASTER },
	  master_codes,
	  0,
	  NULL },
	{ { "gunicorn_request_duration_seconds", FT_HISTOGRAM,
	    "Request duration of all of this master's workers, exited ones included.", PER_MASTER },
	  master_histograms,
	  0,
	  NULL },
	{ { "gunicorn_master_workers", FT_GAUGE, "Live workers of the master now.", PER_MASTER },
	  master_workers,
	  0,
	  NULL },
	{ { "gunicorn_master_worker_exits_total", FT_COUNTER, "Worker exits by cause.", PER_MASTER },
	  master_reasons,
	  0,
	  NULL },
	{ { "gunicorn_master_worker_restart_total", FT_COUNTER,
	    "Worker exits that the master answered with a new fork, by cause.", PER_MASTER },
	  master_reasons,
	  1,
	  NULL },
	{ { "gunicorn_master_signals_total", FT_COUNTER, "Signals delivered to the master.", PER_MASTER },
	  master_signals,
	  0,
	  NULL },
	{ { "gunicorn_master_start_time_seconds", FT_GAUGE, "Start time of the master, unix seconds.",
	    PER_MASTER },
	  master_starts,
	  0,
	  NULL },
	{ { "gunicorn_listener_backlog", FT_GAUGE, "Connections waiting in the listener's accept queue now.",
	    PER_MASTER },
	  listeners,
	  0,
	  NULL },
	{ { "gunicorn_listener_backlog_max", FT_GAUGE, "The listen() backlog limit of the listener.",
	    PER_MASTER },
	  listeners,
	  1,
	  NULL },
	{ { "gunicorn_observer_build_info", FT_GAUGE,
	    "Always 1; labels name the build, the kernel and the data plane.", ONCE },
	  build_info,
	  0,
	  NULL },
	{ { "gunicorn_observer_tracked_masters", FT_GAUGE, "Gunicorn masters being observed.", ONCE },
	  tracked,
	  0,
	  NULL },
	{ { "gunicorn_observer_tracked_workers", FT_GAUGE, "Gunicorn workers being observed.", ONCE },
	  tracked,
	  1,
	  NULL },
	{ { "gunicorn_observer_tls_workers", FT_GAUGE, "Gunicorn workers whose TLS plaintext is followed.",
	    ONCE },
	  tls_workers,
	  0,
	  NULL },
	{ { "gunicorn_observer_events_dropped_total", FT_COUNTER,
	    "Events that could not be counted, by reason.", ONCE },
	  drops,
	  0,
	  NULL },
	{ { "gunicorn_observer_bpf_map_entries", FT_GAUGE,
	    "Entries in the BPF maps that follow connections, syscalls and processes.", ONCE },
	  map_fill,
	  0,
	  NULL },
	{ { "gunicorn_observer_bpf_map_capacity", FT_GAUGE, "Most entries those BPF maps can hold.", ONCE },
	  map_fill,
	  1,
	  NULL },
	{ { "gunicorn_observer_bpf_memory_bytes", FT_GAUGE,
	    "Kernel memory held by each BPF map (preallocated) and by the programs.", ONCE },
	  bpf_memory,
	  0,
	  NULL },
	{ { "gunicorn_observer_resident_memory_bytes", FT_GAUGE, "The observer's own resident set size.",
	    ONCE },
	  self_rss,
	  0,
	  have_rss },
	{ { "gunicorn_observer_scrape_duration_seconds", FT_GAUGE,
	    "Time taken to build the previous exposition.", ONCE },
	  scrape_duration,
	  0,
	  NULL },
	{ { "gunicorn_observer_redis_up", FT_GAUGE, "1 when the last Redis mirror pass was written.", ONCE },
	  redis_state,
	  0,
	  have_mirror },
	{ { "gunicorn_observer_redis_errors_total", FT_COUNTER, "Redis mirror passes that were not written.",
	    ONCE },
	  redis_state,
	  1,
	  have_mirror },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

void series_init(struct series *m, const struct snapshot *s)
{
	memset(m, 0, sizeof(*m));
	m->s = s;
	for (size_t i = 0; i < s->bounds.ndur && i < OBS_MAX_DUR_BOUNDS; i++)
		snprintf(m->le_dur[i], sizeof(m->le_dur[i]), "%.15g", s->bounds.dur[i]);
	for (size_t i = 0; i < s->bounds.nsize && i < OBS_MAX_SIZE_BOUNDS; i++)
		snprintf(m->le_size[i], sizeof(m->le_size[i]), "%.15g", s->bounds.size[i]);
}

size_t series_nfamilies(void)
{
	return NROWS;
}

const struct family *series_family(size_t fam)
{
	return &rows[fam].f;
}

int series_shown(const struct series *m, size_t fam)
{
	return !rows[fam].shown || rows[fam].shown(m->s);
}

size_t series_items(const struct series *m, size_t fam)
{
	switch (rows[fam].f.scope) {
	case PER_WORKER:
		return m->s->nworkers;
	case PER_MASTER:
		return m->s->nmasters;
	case ONCE:
		break;
	}
	return 1;
}

void series_walk(const struct series *m, size_t fam, size_t from, size_t to, sample_fn fn, void *ctx)
{
	for (size_t i = from; i < to; i++)
		rows[fam].samples(m, &rows[fam], i, fn, ctx);
}

void series_owner_labels(const struct series *m, enum owner o, size_t index, struct owner_labels *out)
{
	const struct master_snap *ms = NULL;
	const struct worker_snap *w = NULL;
	size_t n = 0;

	if (o == OWNER_WORKER) {
		w = &m->s->workers[index];
		ms = snapshot_master(m->s, w->master);
	} else if (o == OWNER_MASTER) {
		ms = &m->s->masters[index];
	}
	out->n = 0;
	if (o == OWNER_NONE)
		return;
	snprintf(out->pid[0], sizeof(out->pid[0]), "%d", w ? (int)w->master : (int)ms->pid);
	out->name[n] = "app";
	out->value[n++] = ms ? ms->app : "";
	out->name[n] = "master_pid";
	out->value[n++] = out->pid[0];
	if (w) {
		snprintf(out->pid[1], sizeof(out->pid[1]), "%d", (int)w->pid);
		out->name[n] = "worker_pid";
		out->value[n++] = out->pid[1];
	}
	if (ms && ms->k8s.pod[0]) {
		out->name[n] = "namespace";
		out->value[n++] = ms->k8s.namespace;
		out->name[n] = "pod";
		out->value[n++] = ms->k8s.pod;
		out->name[n] = "container";
		out->value[n++] = ms->k8s.container;
	}
	out->n = n;
}

const char *series_type_name(enum family_type t)
{
	static const char *const names[] = {
		[FT_COUNTER] = "counter", [FT_GAUGE] = "gauge", [FT_HISTOGRAM] = "histogram"
	};

	return names[t];
}

const char *series_suffix(enum sample_part p)
{
	static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };

	return suffixes[p];
}

void series_value_text(struct strbuf *out, const struct value *v)
{
	switch (v->form) {
	case VF_UINT:
		sb_u64(out, (unsigned long long)v->u);
		break;
	case VF_INT:
		sb_i64(out, (long long)v->i);
		break;
	case VF_FIXED:
		sb_fixed(out, v->d, v->prec);
		break;
	}
}
