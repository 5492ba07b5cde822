/* main.c - start-up order and the main loop: parse options, check the
 * host, load and attach, scan for Gunicorn, then serve scrapes, mirror
 * passes and rare kernel events until SIGINT/SIGTERM. The data goes one way:
 * kernel read (kernel/kread) + registry + host sample -> snapshot
 * (model/build) -> series model -> renderers (render/text, redis/records).
 * Retire (model/retire) is the only step that changes what was counted;
 * exit events and a slow timer run it, never a read. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "config/cli.h"
#include "config/config.h"
#include "host/sample.h"
#include "kernel/caps.h"
#include "kernel/kread.h"
#include "kernel/loader.h"
#include "kernel/plane.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "model/build.h"
#include "model/retire.h"
#include "model/saved.h"
#include "model/track.h"
#include "redis/aggregate.h"
#include "redis/mirror.h"
#include "render/http.h"
#include "render/text.h"

#ifndef OBS_VERSION
#define OBS_VERSION "0.0.0-dev"
#endif

#define RETIRE_INTERVAL_S 10.0 /* exits whose events were lost, workers gone while we were not running */
#define SWEEP_INTERVAL_S  1.0  /* socket plane: ending connections closed unseen */
#define MIRROR_REUSE_S    1.0  /* a mirror pass this soon after a scrape writes the scrape's snapshot */

struct observer {
	struct obs_config cfg;
	struct loader ld;
	struct tracker tr;
	struct host_cache *hc;
	struct http_server *http;
	struct http_security sec; /* TLS, basic auth and limits of the endpoint */
	struct mirror *mirror;    /* NULL unless REDIS_ENABLED */
	struct utsname uts;
	enum obs_data_plane plane;
	double last_scrape_seconds;
	struct kread kr;         /* the last kernel read: its arrays serve the next one */
	struct snapshot *latest; /* the last read, for a mirror pass soon after it */
	unsigned latest_generation;
};

static double now_seconds(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

/* What the observer says of itself in a snapshot. */
static void self_fields(struct observer *o, struct snapshot *s)
{
	s->self.bpf_mem = o->ld.mem;
	s->self.nbpf_mem = o->ld.nmem;
	s->self.scrape_seconds = o->last_scrape_seconds;
	s->self.version = OBS_VERSION;
	s->self.libbpf_version = libbpf_version_string();
	s->self.kernel = o->uts.release;
	s->self.data_plane = config_plane_name(o->plane);
	if (o->mirror) {
		s->self.mirror = 1;
		mirror_stats(o->mirror, &s->self.redis_up, &s->self.redis_errors);
	}
}

/* A snapshot of now, with a reference for the caller; NULL when memory ran
 * out. The sweep first ends the connections closed unseen; then one read
 * of the maps, the registry and the host (/proc and sock_diag, which the
 * host cache keeps a second). It is self-contained, and points only to
 * what lives as long as the process (o->cfg's bounds, the loader's memory
 * figures, o->uts), so it may outlive this loop iteration. */
static struct snapshot *snapshot_now(struct observer *o)
{
	struct snapshot *s;

	loader_sweep(&o->ld);
	s = snapshot_new();
	if (!s || kread(&o->ld, KREAD_ALL, &o->kr)) {
		log_error("out of memory while reading the maps");
		snapshot_unref(s);
		return NULL;
	}
	if (snapshot_build(&o->kr, &o->tr.reg, &o->cfg, o->hc, s)) {
		log_error("out of memory while building a snapshot");
		snapshot_unref(s);
		return NULL;
	}
	self_fields(o, s);
	snapshot_unref(o->latest);
	o->latest = NULL;
	if (o->mirror) { /* kept for a mirror pass soon after */
		o->latest = snapshot_ref(s);
		o->latest_generation = o->tr.generation;
	}
	return s;
}

/* One /metrics response: the text of the snapshot taken at the request,
 * rendered as the client reads it. */
struct scrape {
	struct observer *o;
	struct text_stream *st;
	double t0; /* the request */
};

static int scrape_next(void *ctx, struct strbuf *out, size_t want)
{
	struct scrape *sc = ctx;
	int rc = text_stream_next(sc->st, out, want);

	/* the request to the last byte rendered, the client's reading included */
	if (rc == 0)
		sc->o->last_scrape_seconds = now_seconds() - sc->t0;
	return rc;
}

static void scrape_free(void *ctx)
{
	struct scrape *sc = ctx;

	text_stream_free(sc->st);
	free(sc);
}

static int build_metrics(void *ctx, struct http_body *body)
{
	struct observer *o = ctx;
	struct scrape *sc = calloc(1, sizeof(*sc));
	struct snapshot *s;

	if (!sc)
		return -1;
	sc->o = o;
	sc->t0 = now_seconds();
	s = snapshot_now(o);
	sc->st = s ? text_stream_new(s) : NULL;
	snapshot_unref(s);
	if (!sc->st) {
		free(sc);
		return -1;
	}
	body->next = scrape_next;
	body->release = scrape_free;
	body->ctx = sc;
	return 0;
}

/* Hands the mirror thread a snapshot, scraped or not: every pass refreshes
 * every key's TTL. A scrape's own snapshot, when it is that recent and no
 * process came or went since: Redis then holds what the scrape showed. */
static void mirror_now(struct observer *o)
{
	struct snapshot *s;

	if (o->latest && now_seconds() - o->latest->taken < MIRROR_REUSE_S &&
	    o->latest_generation == o->tr.generation)
		s = snapshot_ref(o->latest);
	else
		s = snapshot_now(o);

	if (!s)
		return;
	mirror_publish(o->mirror, s);
	snapshot_unref(s);
}

static void retire_now(struct observer *o)
{
	/* exits the kernel saw since the last poll first: an exit's log line
	 * reads the worker's counters before retire folds them */
	ring_buffer__consume(o->ld.rb);
	if (retire(&o->ld, &o->tr.reg, o->tr.saved_fd) < 0)
		log_error("out of memory retiring exited workers");
	o->tr.retire_at = 0;
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* How long poll may sleep: until the next timer, at most a second. */
static int poll_timeout(const struct observer *o, double next_mirror)
{
	double now = now_seconds(), wake = now + 1.0;
	int t = http_timeout_ms(o->http);

	if (t >= 0 && now + t / 1000.0 < wake)
		wake = now + t / 1000.0;
	if (o->mirror && next_mirror < wake)
		wake = next_mirror;
	if (o->tr.retire_at && o->tr.retire_at < wake)
		wake = o->tr.retire_at;
	return wake > now ? (int)((wake - now) * 1000) + 1 : 0;
}

static int run_loop(struct observer *o, int sfd)
{
	struct pollfd p[3] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = ring_buffer__epoll_fd(o->ld.rb), .events = POLLIN },
		{ .fd = http_poll_fd(o->http), .events = POLLIN },
	};
	double next_retire = now_seconds() + RETIRE_INTERVAL_S;
	double next_sweep = now_seconds() + SWEEP_INTERVAL_S;
	double next_mirror = now_seconds();

	for (;;) {
		double now;

		if (poll(p, 3, poll_timeout(o, next_mirror)) < 0 && errno != EINTR) {
			log_error("poll failed: %s", strerror(errno));
			return -1;
		}
		if (p[0].revents & POLLIN)
			return 0;
		if (p[1].revents & POLLIN)
			ring_buffer__consume(o->ld.rb);
		http_run(o->http);
		now = now_seconds();
		if (now >= next_retire || (o->tr.retire_at && now >= o->tr.retire_at)) {
			retire_now(o);
			next_retire = now + RETIRE_INTERVAL_S;
		}
		/* a worker's closed unix sockets are seen by no hook: the sweep
		 * keeps them from filling the connection map between reads */
		if (now >= next_sweep) {
			loader_sweep(&o->ld);
			next_sweep = now + SWEEP_INTERVAL_S;
		}
		if (o->mirror && now >= next_mirror) {
			mirror_now(o);
			next_mirror = now + o->cfg.redis.interval_s;
		}
		/* no pass will reuse an older read: its memory goes back */
		if (o->latest && now - o->latest->taken >= MIRROR_REUSE_S) {
			snapshot_unref(o->latest);
			o->latest = NULL;
		}
	}
}

int main(int argc, char **argv)
{
	static struct observer o;
	static struct obs_sources src;
	struct cli cli = { 0 };
	int rc, sfd;

	/* A snapshot's arrays, and the Redis mirror's records (about 7 KiB a
	 * worker), are large buffers: at a fixed threshold they are mapped and
	 * unmapped, where glibc's sliding one soon serves them from a heap that
	 * keeps its peak (measured before /metrics was streamed: 19.5 MiB
	 * resident after 20 scrapes of 1256 workers, 9.0 MiB with this). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (argc > 1 && strcmp(argv[1], "aggregate") == 0)
		return aggregate_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "cleanup") == 0)
		return pin_cleanup_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "data-planes") == 0)
		return plane_main(argc - 1, argv + 1);
	rc = cli_configure(argc, argv, &o.cfg, &src, &cli);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (cli.print) {
		config_print(stdout, &o.cfg, &src);
		return 0;
	}
	if (http_security_load(&o.sec, &o.cfg))
		return 2;
	if (cli.check) {
		http_security_free(&o.sec);
		printf("configuration OK\n");
		return 0;
	}
	log_level = o.cfg.level;
	uname(&o.uts);
	if (loader_preflight(&o.cfg, &o.plane) || tracker_check_pids(&o.cfg))
		return 1;
	sfd = signal_fd();
	if (sfd < 0) {
		fprintf(stderr, "gunicorn-observer: cannot set up signal handling: %s\n", strerror(errno));
		return 1;
	}
	o.http = http_start_secure(o.cfg.listen_addr, o.cfg.listen_port, &o.sec, build_metrics, &o);
	if (!o.http)
		return 1;
	o.hc = host_cache_new();
	if (!o.hc) {
		fprintf(stderr, "gunicorn-observer: out of memory\n");
		http_stop(o.http);
		return 1;
	}
	o.tr.cfg = &o.cfg;
	o.tr.saved_fd = -1;
	o.tr.ld = &o.ld;
	tls_init(&o.tr.tls);
	if (loader_open(&o.ld, &o.cfg, o.plane, tracker_on_event, &o.tr)) {
		http_stop(o.http);
		return 1;
	}
	o.tr.saved_fd = o.ld.pin.dir[0] ? saved_open(o.ld.pin.dir) : -1;
	/* loaded and attached; capabilities are per thread, so before any thread starts */
	if (caps_drop(o.ld.procs_fd)) {
		rc = 1;
		goto out;
	}
	if (tracker_scan(&o.tr)) {
		rc = 1;
		goto out;
	}
	if (o.cfg.redis.enabled) {
		o.mirror = mirror_start(&o.cfg.redis);
		if (!o.mirror) {
			rc = 1;
			goto out;
		}
	}
	log_info("serving metrics on %s:%u", o.cfg.listen_addr, o.cfg.listen_port);
	rc = run_loop(&o, sfd) ? 1 : 0;
	log_info("detaching");
	retire_now(&o); /* the masters' totals as the last events left them */
out:
	mirror_stop(o.mirror);
	http_stop(o.http);
	http_security_free(&o.sec);
	tls_end(&o.tr.tls, &o.ld);
	loader_close(&o.ld);
	if (o.tr.saved_fd >= 0)
		close(o.tr.saved_fd);
	registry_free(&o.tr.reg);
	snapshot_unref(o.latest);
	kread_free(&o.kr);
	host_cache_free(o.hc);
	close(sfd);
	return rc;
}
