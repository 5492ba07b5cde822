/* main.c - command line, start-up order and the main loop: parse options,
 * check the host, load and attach, scan for Gunicorn, then serve scrapes
 * and handle rare kernel events until SIGINT/SIGTERM. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "redis/aggregate.h"
#include "kernel/caps.h"
#include "model/collect.h"
#include "config/cli.h"
#include "config/config.h"
#include "render/expo.h"
#include "render/http.h"
#include "kernel/loader.h"
#include "lib/log.h"
#include "redis/mirror.h"
#include "model/saved.h"
#include "model/track.h"

#ifndef OBS_VERSION
#define OBS_VERSION "0.0.0-dev"
#endif

#define RETIRE_INTERVAL_MS 10000
#define SWEEP_INTERVAL_MS  1000 /* socket plane: ending connections closed unseen */

struct observer {
	struct obs_config cfg;
	struct loader ld;
	struct tracker tr;
	struct http_server *http;
	struct http_security sec; /* TLS, basic auth and limits of the endpoint */
	struct mirror *mirror;    /* NULL unless REDIS_ENABLED */
	struct utsname uts;
	enum obs_data_plane plane;
	double last_scrape_seconds;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fresh snapshot, labelled with this build; -1 (s freed) when collect
 * failed. It is self-contained: arrays of its own, and pointers only to
 * what lives as long as the process (o->cfg's bounds, the loader's map
 * sizes, o->uts), so it may outlive this main loop iteration. */
static int take_snapshot(struct observer *o, struct snapshot *s)
{
	if (collect(&o->ld, &o->tr.reg, &o->cfg, s)) {
		snapshot_free(s);
		return -1;
	}
	saved_store(o->tr.saved_fd, &o->tr.reg);
	s->version = OBS_VERSION;
	s->libbpf_version = libbpf_version_string();
	s->kernel = o->uts.release;
	s->data_plane = config_plane_name(o->plane);
	return 0;
}

/* One /metrics response: the exposition of the snapshot taken at the
 * request, rendered as the client reads it. */
struct scrape {
	struct observer *o;
	struct expo_stream *st;
	double t0; /* the request */
};

static int scrape_next(void *ctx, struct strbuf *out, size_t want)
{
	struct scrape *sc = ctx;
	int rc = expo_stream_next(sc->st, out, want);

	/* the request to the last byte rendered, the client's reading included */
	if (rc == 0)
		sc->o->last_scrape_seconds = now_seconds() - sc->t0;
	return rc;
}

static void scrape_free(void *ctx)
{
	struct scrape *sc = ctx;

	expo_stream_free(sc->st);
	free(sc);
}

static int build_metrics(void *ctx, struct http_body *body)
{
	struct observer *o = ctx;
	struct scrape *sc = calloc(1, sizeof(*sc));
	struct snapshot s;

	if (!sc)
		return -1;
	sc->o = o;
	sc->t0 = now_seconds();
	if (take_snapshot(o, &s)) {
		free(sc);
		return -1;
	}
	sc->st = expo_stream_new(&s, o->last_scrape_seconds);
	if (!sc->st) {
		free(sc);
		return -1;
	}
	if (o->mirror)
		mirror_render(o->mirror, expo_stream_trailer(sc->st));
	body->next = scrape_next;
	body->release = scrape_free;
	body->ctx = sc;
	return 0;
}

/* Hands the mirror thread a fresh exposition, scraped or not: every pass
 * refreshes every key's TTL. The mirror takes the text whole (it parses
 * it into keys and keeps a copy), so this renders it whole, with
 * expo_render, every interval_s; only /metrics is streamed. */
static void mirror_now(struct observer *o)
{
	struct snapshot s;
	struct strbuf sb;

	if (take_snapshot(o, &s))
		return;
	sb_init(&sb);
	expo_render(&s, o->last_scrape_seconds, &sb);
	snapshot_free(&s);
	mirror_render(o->mirror, &sb);
	if (!sb.oom)
		mirror_publish(o->mirror, sb.data, sb.len);
	sb_free(&sb);
}

/* Folds exited workers into their masters between scrapes, so the maps
 * never fill with the dead when nobody scrapes. */
static void retire_now(struct observer *o)
{
	struct snapshot s;

	if (collect(&o->ld, &o->tr.reg, &o->cfg, &s) == 0)
		saved_store(o->tr.saved_fd, &o->tr.reg);
	snapshot_free(&s);
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

static int run_loop(struct observer *o, int sfd)
{
	struct pollfd p[3] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = ring_buffer__epoll_fd(o->ld.rb), .events = POLLIN },
		{ .fd = http_poll_fd(o->http), .events = POLLIN },
	};
	double next_retire = now_seconds() + RETIRE_INTERVAL_MS / 1000.0;
	double next_sweep = now_seconds() + SWEEP_INTERVAL_MS / 1000.0;
	double next_mirror = now_seconds();

	for (;;) {
		int timeout = http_timeout_ms(o->http);

		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		if (o->mirror && (next_mirror - now_seconds()) * 1000 < timeout)
			timeout =
			    next_mirror > now_seconds() ? (int)((next_mirror - now_seconds()) * 1000) + 1 : 0;
		if (poll(p, 3, timeout) < 0 && errno != EINTR) {
			log_error("poll failed: %s", strerror(errno));
			return -1;
		}
		if (p[0].revents & POLLIN)
			return 0;
		if (p[1].revents & POLLIN)
			ring_buffer__consume(o->ld.rb);
		http_run(o->http);
		if (now_seconds() >= next_retire) {
			retire_now(o);
			next_retire = now_seconds() + RETIRE_INTERVAL_MS / 1000.0;
		}
		/* a worker's closed unix sockets are seen by no hook: the sweep
		 * keeps them from filling the connection map between reads */
		if (now_seconds() >= next_sweep) {
			loader_sweep(&o->ld);
			next_sweep = now_seconds() + SWEEP_INTERVAL_MS / 1000.0;
		}
		if (o->mirror && now_seconds() >= next_mirror) {
			mirror_now(o);
			next_mirror = now_seconds() + o->cfg.redis.interval_s;
		}
	}
}

int main(int argc, char **argv)
{
	static struct observer o;
	static struct obs_sources src;
	struct cli cli = { 0 };
	int rc, sfd;

	/* A snapshot's arrays, and the Redis mirror's whole text (about 7 KiB
	 * a worker), are large buffers: at a fixed threshold they are mapped
	 * and unmapped, where glibc's sliding one soon serves them from a heap
	 * that keeps its peak (measured before /metrics was streamed: 19.5 MiB
	 * resident after 20 scrapes of 1256 workers, 9.0 MiB with this). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (argc > 1 && strcmp(argv[1], "aggregate") == 0)
		return aggregate_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "cleanup") == 0)
		return pin_cleanup_main(argc - 1, argv + 1);
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
	o.tr.cfg = &o.cfg;
	o.tr.saved_fd = -1;
	o.tr.ld = &o.ld;
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
out:
	mirror_stop(o.mirror);
	http_stop(o.http);
	http_security_free(&o.sec);
	loader_close(&o.ld);
	if (o.tr.saved_fd >= 0)
		close(o.tr.saved_fd);
	registry_free(&o.tr.reg);
	close(sfd);
	return rc;
}
