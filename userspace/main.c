/* main.c - command line, start-up order and the main loop: parse options,
 * check the host, load and attach, scan for Gunicorn, then serve scrapes
 * and handle rare kernel events until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
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

#include "collect.h"
#include "config.h"
#include "expo.h"
#include "http.h"
#include "loader.h"
#include "log.h"
#include "track.h"

#ifndef GO_VERSION
#define GO_VERSION "0.0.0-dev"
#endif

#define RETIRE_INTERVAL_MS 10000

struct observer {
	struct go_config cfg;
	struct loader ld;
	struct tracker tr;
	struct http_server *http;
	struct utsname uts;
	double last_scrape_seconds;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: gunicorn-observer [OPTIONS]\n"
		   "Observe every Gunicorn master and worker on this host with eBPF and serve\n"
		   "Prometheus metrics. Needs root, a kernel with BTF and tracefs.\n\n"
		   "  -l, --listen ADDR:PORT  where to serve /metrics (default 0.0.0.0:9093;\n"
		   "                          env PROMETHEUS_BIND_ADDRESS, PROMETHEUS_METRICS_PORT)\n"
		   "  -p, --pid PID           observe only this master (repeatable)\n"
		   "      --log-level LEVEL   error, warn, info (default) or debug\n"
		   "  -h, --help              show this help\n"
		   "  -V, --version           show the version\n");
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v <= 0 || v > 4194304)
		return -1;
	*out = (pid_t)v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v > 0) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

/* Returns 0 to run, 1 to exit 0 (help, version), -1 to exit 2. */
static int parse_args(int argc, char **argv, struct go_config *c)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "pid", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "stuck-threshold", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":l:p:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (config_parse_listen(c, optarg)) {
				fprintf(stderr,
					"gunicorn-observer: --listen '%s' is not ADDR:PORT: use e.g. "
					"0.0.0.0:9093 or [::]:9093\n",
					optarg);
				return -1;
			}
			break;
		case 'p':
			if (c->npids == GO_MAX_PIDS) {
				fprintf(stderr, "gunicorn-observer: too many --pid options: at most %d\n",
					GO_MAX_PIDS);
				return -1;
			}
			if (parse_pid(optarg, &c->pids[c->npids])) {
				fprintf(stderr,
					"gunicorn-observer: --pid '%s' is not a process id: give a positive "
					"number\n",
					optarg);
				return -1;
			}
			c->npids++;
			break;
		case 'L':
			if (log_level_parse(optarg, &c->level)) {
				fprintf(stderr,
					"gunicorn-observer: --log-level '%s' is unknown: use error, warn, "
					"info or debug\n",
					optarg);
				return -1;
			}
			break;
		case 'S':
			if (parse_seconds(optarg, &c->stuck_threshold)) {
				fprintf(stderr,
					"gunicorn-observer: --stuck-threshold '%s' is not a number of "
					"seconds: give e.g. 15 or 0.5\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("gunicorn-observer %s (libbpf %s)\n", GO_VERSION, libbpf_version_string());
			return 1;
		case ':':
			fprintf(stderr, "gunicorn-observer: %s needs a value: see --help\n",
				argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "gunicorn-observer: unknown option '%s': see --help\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gunicorn-observer: unexpected argument '%s': see --help\n", argv[optind]);
		return -1;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int build_metrics(void *ctx, char **body, size_t *len)
{
	struct observer *o = ctx;
	struct snapshot s;
	struct strbuf sb;
	double t0 = now_seconds();

	if (collect(&o->ld, &o->tr.reg, &o->cfg, &s)) {
		snapshot_free(&s);
		return -1;
	}
	s.version = GO_VERSION;
	s.libbpf_version = libbpf_version_string();
	s.kernel = o->uts.release;
	sb_init(&sb);
	expo_render(&s, o->last_scrape_seconds, &sb);
	snapshot_free(&s);
	*body = sb_steal(&sb, len);
	o->last_scrape_seconds = now_seconds() - t0;
	return *body ? 0 : -1;
}

/* Folds exited workers into their masters between scrapes, so the maps
 * never fill with the dead when nobody scrapes. */
static void retire_now(struct observer *o)
{
	struct snapshot s;

	collect(&o->ld, &o->tr.reg, &o->cfg, &s);
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

	for (;;) {
		int timeout = http_timeout_ms(o->http);

		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
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
	}
}

int main(int argc, char **argv)
{
	static struct observer o;
	int rc, sfd;

	config_defaults(&o.cfg);
	if (config_from_env(&o.cfg))
		return 2;
	rc = parse_args(argc, argv, &o.cfg);
	if (rc)
		return rc > 0 ? 0 : 2;
	if (config_check_listen(&o.cfg))
		return 2;
	log_level = o.cfg.level;
	uname(&o.uts);
	if (loader_preflight())
		return 1;
	sfd = signal_fd();
	if (sfd < 0) {
		fprintf(stderr, "gunicorn-observer: cannot set up signal handling: %s\n", strerror(errno));
		return 1;
	}
	o.http = http_start(o.cfg.listen_addr, o.cfg.listen_port, build_metrics, &o);
	if (!o.http)
		return 1;
	o.tr.cfg = &o.cfg;
	o.tr.ld = &o.ld;
	if (loader_open(&o.ld, &o.cfg, tracker_on_event, &o.tr)) {
		http_stop(o.http);
		return 1;
	}
	if (tracker_scan(&o.tr)) {
		rc = 1;
		goto out;
	}
	log_info("serving metrics on %s:%u", o.cfg.listen_addr, o.cfg.listen_port);
	rc = run_loop(&o, sfd) ? 1 : 0;
	log_info("detaching");
out:
	http_stop(o.http);
	loader_close(&o.ld);
	registry_free(&o.tr.reg);
	close(sfd);
	return rc;
}
