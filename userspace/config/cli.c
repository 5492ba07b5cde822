/* cli.c - the command line: the options and --help, both made from the
 * settings table (config_table.c) and the command line's own options below,
 * and the effective configuration built from defaults, file, environment
 * and flags. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "config/cli.h"
#include "config/config_table.h"

#ifndef OBS_VERSION
#define OBS_VERSION "0.0.0-dev"
#endif

enum { OWN_CONFIG = 1, OWN_PRINT, OWN_CHECK, OWN_HELP, OWN_VERSION };

/* The options that are no setting: what to do with the configuration. */
static const struct {
	const char *flag;
	char letter;
	const char *arg;
	int what;
	const char *help;
} own[] = {
	{ "config", 'c', "FILE", OWN_CONFIG, "a YAML file (also GUNICORN_OBSERVER_CONFIG)" },
	{ "print-config", 0, NULL, OWN_PRINT, "print the effective configuration and its sources" },
	{ "check-config", 0, NULL, OWN_CHECK, "validate the configuration and exit" },
	{ "help", 'h', NULL, OWN_HELP, "show this help" },
	{ "version", 'V', NULL, OWN_VERSION, "show the version" },
};

#define NOWN        (sizeof(own) / sizeof(own[0]))
#define HELP_COLUMN 32
#define HELP_WIDTH  80
#define HELP_SUBCMDS                                                                                         \
	"  aggregate --help              serve the metrics of many observers from Redis\n"                   \
	"  cleanup [--pin-dir DIR]       detach and unpin the programs left pinned\n"                        \
	"  data-planes                   the data planes this kernel offers\n"

/* One option of --help: "  -l, --listen ADDR:PORT" and its help (with its
 * default) folded into lines of HELP_WIDTH from HELP_COLUMN on. */
static void help_line(FILE *f, char letter, const char *flag, const char *arg, const char *help,
		      const char *def)
{
	char head[96], text[512], *save = NULL;
	int col, first = 1;

	col = snprintf(head, sizeof(head), "  %c%c%c --%s%s%s", letter ? '-' : ' ', letter ? letter : ' ',
		       letter ? ',' : ' ', flag, arg ? " " : "", arg ? arg : "");
	/* "(default\1X)": one word, its \1 a space, so that "(default" never ends a line */
	snprintf(text, sizeof(text), "%s%s%s%s", help, def && *def ? " (default\1" : "", def ? def : "",
		 def && *def ? ")" : "");
	fputs(head, f);
	for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		int len = (int)strlen(w), start = col + 1;

		if (first) /* two spaces at least after a long head */
			start = col + 2 > HELP_COLUMN ? col + 2 : HELP_COLUMN;
		else if (start + len > HELP_WIDTH) {
			fputc('\n', f);
			col = 0;
			start = HELP_COLUMN;
		}
		fprintf(f, "%*s", start - col, "");
		for (const char *c = w; *c; c++)
			fputc(*c == '\1' ? ' ' : *c, f);
		col = start + len;
		first = 0;
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	char arg[128];

	fprintf(f, "Usage: gunicorn-observer [OPTIONS]\n"
		   "Observe every Gunicorn master and worker on this host with eBPF and serve\n"
		   "Prometheus metrics. Needs root, a kernel with BTF and tracefs.\n\n");
	for (int i = 0; i < config_nsettings; i++) {
		const struct setting *s = &config_settings[i];

		if (s->flag)
			help_line(f, s->letter, s->flag, setting_arg(s, arg, sizeof(arg)), s->help,
				  s->flags & SET_SECRET ? NULL : s->def);
		for (int k = 0; k < config_ncomposites; k++) {
			const struct config_composite *o = &config_composites[k];

			if (o->sets[0] == s->at)
				help_line(f, o->letter, o->flag, o->arg, o->help, NULL);
		}
	}
	for (size_t k = 0; k < NOWN; k++)
		help_line(f, own[k].letter, own[k].flag, own[k].arg, own[k].help, NULL);
	fprintf(f, HELP_SUBCMDS "\n"
				"Every option also has an environment variable and a YAML key; a flag beats\n"
				"the environment, which beats the file. See README.md.\n");
}

/* --help in one write(2) (a pipe takes it whole): a reader that stops at the
 * first line, as grep -q does, must not make a second write die of SIGPIPE. */
static void help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m) {
		usage(stdout);
		return;
	}
	usage(m);
	fclose(m);
	fflush(stdout);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(STDOUT_FILENO, text + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
}

/* Every option getopt takes: each its name, whether it takes a value, and
 * what it is (a setting's flag, a composite one, or one of own). */
struct opt {
	const char *flag;
	char letter;
	int arg;
	int what; /* 0: a flag of config_set_flag */
};

static size_t options(struct opt *o, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < config_nsettings && n < max; i++)
		if (config_settings[i].flag)
			o[n++] = (struct opt){ config_settings[i].flag, config_settings[i].letter, 1, 0 };
	for (int i = 0; i < config_ncomposites && n < max; i++)
		o[n++] = (struct opt){ config_composites[i].flag, config_composites[i].letter,
				       config_composites[i].arg != NULL, 0 };
	for (size_t i = 0; i < NOWN && n < max; i++)
		o[n++] = (struct opt){ own[i].flag, own[i].letter, own[i].arg != NULL, own[i].what };
	return n;
}

#define MAX_OPTS 96
#define LONG_VAL 1000 /* getopt's value of long option k is LONG_VAL + k */

/* Reads argv into cli; returns 0 to go on, 1 to exit 0 (help, version), -1 to exit 2. */
static int read_argv(int argc, char **argv, struct cli *cli)
{
	struct option longs[MAX_OPTS + 1];
	struct opt opts[MAX_OPTS];
	char shorts[2 * MAX_OPTS + 2] = ":";
	size_t n = options(opts, MAX_OPTS), ns = 1;
	int o;

	for (size_t k = 0; k < n; k++) {
		longs[k] = (struct option){ opts[k].flag, opts[k].arg ? required_argument : no_argument, NULL,
					    LONG_VAL + (int)k };
		if (opts[k].letter) {
			shorts[ns++] = opts[k].letter;
			if (opts[k].arg)
				shorts[ns++] = ':';
		}
	}
	longs[n] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';
	opterr = 0;
	optind = 0; /* from argv[1], whatever parsed argv before (glibc) */
	while ((o = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt *p = NULL;

		for (size_t k = 0; k < n && !p; k++)
			if (o == LONG_VAL + (int)k || (o < LONG_VAL && o == opts[k].letter))
				p = &opts[k];
		if (o == ':') {
			fprintf(stderr, "gunicorn-observer: %s needs a value: see --help\n",
				argv[optind - 1]);
			return -1;
		}
		if (!p) {
			fprintf(stderr, "gunicorn-observer: unknown option '%s': see --help\n",
				argv[optind - 1]);
			return -1;
		}
		switch (p->what) {
		case OWN_CONFIG:
			cli->config = optarg;
			continue;
		case OWN_PRINT:
			cli->print = 1;
			continue;
		case OWN_CHECK:
			cli->check = 1;
			continue;
		case OWN_HELP:
			help();
			return 1;
		case OWN_VERSION:
			printf("gunicorn-observer %s (libbpf %s)\n", OBS_VERSION, libbpf_version_string());
			return 1;
		}
		if (cli->nset == sizeof(cli->set) / sizeof(cli->set[0])) {
			fprintf(stderr, "gunicorn-observer: too many options\n");
			return -1;
		}
		cli->set[cli->nset].flag = p->flag;
		cli->set[cli->nset++].value = p->arg ? optarg : NULL;
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
		fprintf(stderr, "gunicorn-observer: --%s '%s' %s\n", cli->set[i].flag,
			cli->set[i].value ? cli->set[i].value : "", err);
		return -1;
	}
	return config_validate(c);
}
