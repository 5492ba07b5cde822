#define _GNU_SOURCE /* memmem */
/* fuzz_gconf.c - a master's Gunicorn settings (gconf.c, gargs.c): the
 * input is three parts split at "\xff\xfe", written as PID/cmdline,
 * PID/environ and the config file PID/cwd/gunicorn.conf.py (PID/root
 * points at PID/cwd, so "-c /gunicorn.conf.py" finds it too) of a fake
 * /proc; then the app name, timeout and kind are read as discovery reads
 * them, and the config file is parsed alone. */
#include <stdint.h>

#include "host/gargs.h"
#include "fakeroot.h"
#include "host/gconf.h"

static const uint8_t sep[2] = { 0xff, 0xfe };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const dirs[] = { "1", "1/cwd", NULL };
	char cwd[512], root[512];

	(void)argc;
	(void)argv;
	fake_init(dirs);
	snprintf(cwd, sizeof(cwd), "%s/1/cwd", fake_root);
	snprintf(root, sizeof(root), "%s/1/root", fake_root);
	if (symlink(cwd, root)) {
		perror(root);
		exit(1);
	}
	return 0;
}

/* The next part of the input (up to sep or the end). */
static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t *s = *p, *e = s;

	while (e < end && !(e + 1 < end && e[0] == sep[0] && e[1] == sep[1]))
		e++;
	*n = (size_t)(e - s);
	*p = e < end ? e + 2 : end;
	return s;
}

static void check_app(const char *app, size_t size)
{
	if (!memchr(app, '\0', size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *cmd, *env, *conf;
	size_t ncmd, nenv, nconf;
	struct gunicorn_settings gs;
	struct gconf_file file = { 0 };
	struct cmdline *c;
	char *text;

	cmd = part(&p, end, &ncmd);
	env = part(&p, end, &nenv);
	conf = part(&p, end, &nconf);
	/* a config path with ".." would leave the fake tree (and could name a
	 * FIFO or a tty that blocks) */
	if (memmem(cmd, ncmd, "..", 2) || memmem(env, nenv, "..", 2))
		return 0;
	c = calloc(1, sizeof(*c));
	text = malloc(nconf + 1);
	if (!c || !text)
		abort();
	fake_write("1/cmdline", cmd, ncmd);
	fake_write("1/environ", env, nenv);
	fake_write("1/cwd/gunicorn.conf.py", conf, nconf);
	if (procfs_cmdline(fake_root, 1, c) == 0) {
		gunicorn_kind(c);
		gunicorn_settings(fake_root, 1, c, &gs);
		check_app(gs.app, sizeof(gs.app));
		if (!(gs.timeout_s >= 0))
			abort();
	}
	memcpy(text, conf, nconf);
	text[nconf] = '\0';
	gconf_parse(text, &file);
	if (file.timeout_s < 0)
		abort();
	free(text);
	free(c);
	return 0;
}
