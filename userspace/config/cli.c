/* cli.c - the command line: --help, the options, and the effective
 * configuration built from defaults, file, environment and flags. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "config/cli.h"

#ifndef OBS_VERSION
#define OBS_VERSION "0.0.0-dev"
#endif

static void usage(FILE *f)
{
	fprintf(f, "Usage: gunicorn-observer [OPTIONS]\n"
		   "Observe every Gunicorn master and worker on this host with eBPF and serve\n"
		   "Prometheus metrics. Needs root, a kernel with BTF and tracefs.\n\n"
		   "  -l, --listen ADDR:PORT        where to serve /metrics (default 0.0.0.0:9093)\n"
		   "  -p, --pid PID                 observe only this master (repeatable)\n"
		   "      --match TEXT              observe only masters whose command line contains TEXT\n"
		   "      --duration-buckets LIST   request duration bounds in seconds, e.g. 0.01,0.1,1\n"
		   "      --size-buckets LIST       request/response size bounds in bytes\n"
		   "      --stuck-threshold S       a busy worker is stuck after S seconds (default:\n"
		   "                                half the master's --timeout, else 15)\n"
		   "      --log-level LEVEL         error, warn, info (default) or debug\n"
		   "      --max-connections N       connections followed at once (default 65536)\n"
		   "      --max-workers N           workers counted at once; sizes the kernel's\n"
		   "                                per-worker maps (default 4096)\n"
		   "      --data-plane PLANE        auto (default: socket tracepoints where the kernel\n"
		   "                                has them, else syscall tracepoints), socket, syscall\n"
		   "      --redis-enabled BOOL      mirror the metrics to Redis (default false)\n"
		   "      --redis-host HOST         --redis-port PORT  --redis-db N\n"
		   "      --redis-password-file F   --redis-key-prefix P (default gunicorn)\n"
		   "      --redis-ttl-seconds N     (default 300)  --redis-ttl-disabled BOOL\n"
		   "      --mirror-interval S       seconds between two Redis mirror passes (default 5)\n"
		   "      --tls-cert FILE           serve HTTPS with this PEM certificate ...\n"
		   "      --tls-key FILE            ... and this PEM key\n"
		   "      --basic-auth-user NAME    require basic auth (not on /healthz) as NAME ...\n"
		   "      --basic-auth-password-file F  ... with the password hashed in F (bcrypt or\n"
		   "                                sha256:<hex>; a plain password is refused)\n"
		   "      --connection-limit N      HTTP connections at once (default 512)\n"
		   "      --per-ip-connection-limit N  from one address (default 16, 0: no limit)\n"
		   "      --connection-timeout S    close an idle HTTP connection after S s (default 10)\n"
		   "  -c, --config FILE             a YAML file (also GUNICORN_OBSERVER_CONFIG)\n"
		   "      --print-config            print the effective configuration and its sources\n"
		   "      --check-config            validate the configuration and exit\n"
		   "  -h, --help                    show this help\n"
		   "  -V, --version                 show the version\n"
		   "      --no-pin                  do not pin the BPF maps and programs: they stop,\n"
		   "                                and counts start afresh, when the observer does\n"
		   "      --pin-dir DIR             where to pin them (default " OBS_PIN_DIR_DEFAULT ")\n"
		   "  aggregate --help              serve the metrics of many observers from Redis\n"
		   "  cleanup [--pin-dir DIR]       detach the programs left pinned and remove the pins\n\n"
		   "Every option also has an environment variable and a YAML key; a flag beats\n"
		   "the environment, which beats the file. See README.md.\n");
}

enum { OPT_CONFIG = 1000, OPT_PRINT, OPT_CHECK, OPT_SETTING, OPT_NO_PIN };

/* Reads argv into cli; returns 0 to go on, 1 to exit 0 (help, version), -1 to exit 2. */
static int read_argv(int argc, char **argv, struct cli *cli)
{
	static struct option opts[64];
	size_t n = 0;
	int o, idx;

	for (const char *const *f = config_flags; *f; f++)
		opts[n++] = (struct option){ *f, required_argument, NULL, OPT_SETTING };
	opts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	opts[n++] = (struct option){ "print-config", no_argument, NULL, OPT_PRINT };
	opts[n++] = (struct option){ "check-config", no_argument, NULL, OPT_CHECK };
	opts[n++] = (struct option){ "no-pin", no_argument, NULL, OPT_NO_PIN };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":l:p:c:hV", opts, &idx)) != -1) {
		const char *flag = NULL;

		switch (o) {
		case 'l':
			flag = "listen";
			break;
		case 'p':
			flag = "pid";
			break;
		case OPT_SETTING:
			flag = opts[idx].name;
			break;
		case OPT_NO_PIN:
			flag = "pin";
			optarg = "false";
			break;
		case 'c':
		case OPT_CONFIG:
			cli->config = optarg;
			continue;
		case OPT_PRINT:
			cli->print = 1;
			continue;
		case OPT_CHECK:
			cli->check = 1;
			continue;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("gunicorn-observer %s (libbpf %s)\n", OBS_VERSION, libbpf_version_string());
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
		if (cli->nset == sizeof(cli->set) / sizeof(cli->set[0])) {
			fprintf(stderr, "gunicorn-observer: too many options\n");
			return -1;
		}
		cli->set[cli->nset].flag = flag;
		cli->set[cli->nset++].value = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "gunicorn-observer: unexpected argument '%s': see --help\n", argv[optind]);
		return -1;
	}
	return 0;
}

int cli_configure(int argc, char **argv, struct obs_config *c, struct obs_sources *src, struct cli *cli)
{
	const char *file;
	char err[256];
	int rc = read_argv(argc, argv, cli);

	if (rc)
		return rc;
	config_defaults(c, src);
	file = cli->config ? cli->config : getenv("GUNICORN_OBSERVER_CONFIG");
	if (file && *file && config_from_file(c, src, file))
		return -1;
	if (config_from_env(c, src))
		return -1;
	for (size_t i = 0; i < cli->nset; i++) {
		if (config_set_flag(c, src, cli->set[i].flag, cli->set[i].value, err, sizeof(err)) == 0)
			continue;
		fprintf(stderr, "gunicorn-observer: --%s '%s' %s\n", cli->set[i].flag, cli->set[i].value,
			err);
		return -1;
	}
	return config_validate(c);
}
