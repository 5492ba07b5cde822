/* gargs.c - a Gunicorn command line read as Gunicorn reads it: which
 * process is Gunicorn, its options and APP_MODULE, its proc title. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/gargs.h"
static const char *base_name(const char *s)
{
	const char *p = strrchr(s, '/');

	return p ? p + 1 : s;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "gunicorn", "gunicorn3", "gunicorn-3.11": not "gunicorn-observer"; and
 * ".../gunicorn/__main__.py", the path a master re-executed by USR2 after
 * "python -m gunicorn" runs as. */
static int is_gunicorn_script(const char *path)
{
	const char *b = base_name(path);

	if (ends_with(path, "/gunicorn/__main__.py"))
		return 1;
	if (!starts_with(b, "gunicorn"))
		return 0;
	for (b += 8; *b; b++)
		if (!(*b >= '0' && *b <= '9') && *b != '.' && *b != '-')
			return 0;
	return 1;
}

/* "-m gunicorn" or "-m gunicorn.app.wsgiapp" */
static int is_gunicorn_module(const char *m)
{
	return strcmp(m, "gunicorn") == 0 || starts_with(m, "gunicorn.");
}

enum gunicorn_kind gunicorn_kind(const struct cmdline *c)
{
	const char *a0, *a1;

	if (c->argc < 1)
		return GK_NONE;
	a0 = c->argv[0];
	if (starts_with(a0, "gunicorn: master"))
		return GK_MASTER;
	if (starts_with(a0, "gunicorn: worker"))
		return GK_WORKER;
	if (starts_with(a0, "gunicorn: "))
		return GK_NONE; /* another title: an arbiter helper we do not watch */
	if (is_gunicorn_script(a0))
		return GK_PLAIN;
	if (!starts_with(base_name(a0), "python") && !starts_with(base_name(a0), "pypy"))
		return GK_NONE;
	/* python [-X opt ...] .../gunicorn ... or python -m gunicorn ... */
	for (int i = 1; i < c->argc; i++) {
		a1 = c->argv[i];
		if (strcmp(a1, "-m") == 0 && i + 1 < c->argc)
			return is_gunicorn_module(c->argv[i + 1]) ? GK_PLAIN : GK_NONE;
		if (strncmp(a1, "-m", 2) == 0 && a1[2])
			return is_gunicorn_module(a1 + 2) ? GK_PLAIN : GK_NONE;
		if (a1[0] != '-')
			return is_gunicorn_script(a1) ? GK_PLAIN : GK_NONE;
		if (strcmp(a1, "-X") == 0 || strcmp(a1, "-W") == 0)
			i++; /* interpreter options that take a value */
	}
	return GK_NONE;
}

/* Gunicorn options that take no value; every other option takes one. */
static int is_flag(const char *opt)
{
	static const char *const flags[] = {
		"--reload",
		"--spew",
		"--check-config",
		"--print-config",
		"--preload",
		"--no-sendfile",
		"--reuse-port",
		"-D",
		"--daemon",
		"--initgroups",
		"--capture-output",
		"--log-syslog",
		"--enable-stdio-inheritance",
		"--disable-redirect-access-to-syslog",
		"--strip-header-spaces",
		"--do-handshake-on-connect",
		"--suppress-ragged-eofs",
		"--proxy-protocol",
		"--permit-unconventional-http-method",
		"--permit-unconventional-http-version",
		"--casefold-http-method",
		"--permit-obsolete-folding",
		"--tolerate-dangerous-framing",
		"-R",
		"-v",
		"--version",
		"-h",
		"--help",
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(opt, flags[i]) == 0)
			return 1;
	return 0;
}

/* How many following arguments option a consumes as its value. */
static int value_args(const char *a)
{
	return !strchr(a, '=') && !is_flag(a) && !(a[1] != '-' && a[2]);
}

/* Index of the first Gunicorn argument (after the interpreter and script). */
static int first_option(const struct cmdline *c)
{
	for (int i = 0; i < c->argc; i++) {
		if (strcmp(c->argv[i], "-m") == 0)
			return i + 2 <= c->argc ? i + 2 : c->argc; /* "-m" may be the last */
		if (strncmp(c->argv[i], "-mgunicorn", 10) == 0)
			return i + 1;
		if (is_gunicorn_script(c->argv[i]))
			return i + 1;
	}
	return c->argc;
}

/* Value of option LONG or SHORT in its "--x v", "--x=v" or "-xv" forms. */
static const char *option_value(const char *arg, const char *next, const char *lng, const char *shrt,
				int *used_next)
{
	size_t n = strlen(lng);

	*used_next = 0;
	if (strcmp(arg, lng) == 0 || (shrt && strcmp(arg, shrt) == 0)) {
		*used_next = 1;
		return next;
	}
	if (strncmp(arg, lng, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	if (shrt && strncmp(arg, shrt, 2) == 0 && arg[2])
		return arg + 2;
	return NULL;
}

void copy_name(char *out, size_t size, const char *s, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

void gunicorn_args_parse(char *const *argv, int argc, struct gunicorn_args *out)
{
	const char *v;
	int used;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;

		if ((v = option_value(a, next, "--name", "-n", &used))) {
			out->name = v;
		} else if ((v = option_value(a, next, "--bind", "-b", &used))) {
			if (!out->bind)
				out->bind = v;
		} else if ((v = option_value(a, next, "--config", "-c", &used))) {
			out->config = v;
		} else if ((v = option_value(a, next, "--certfile", NULL, &used))) {
			out->certfile = v;
		} else if ((v = option_value(a, next, "--timeout", "-t", &used))) {
			char *end;
			double x = v ? strtod(v, &end) : -1;

			if (v && end != v && *end == '\0' && x >= 0)
				out->timeout_s = x;
		} else if (a[0] == '-' && a[1]) {
			used = value_args(a);
		} else {
			out->target = a; /* the last positional argument is APP_MODULE */
			used = 0;
		}
		i += used;
	}
}

int gunicorn_title_name(const struct cmdline *c, char *out, size_t size)
{
	const char *l, *r;

	if (c->argc < 1 || !starts_with(c->argv[0], "gunicorn: "))
		return -1;
	l = strchr(c->argv[0], '[');
	r = strrchr(c->argv[0], ']');
	if (!l || !r || r <= l + 1)
		return -1;
	copy_name(out, size, l + 1, (size_t)(r - l - 1));
	return 0;
}

int gunicorn_first_option(const struct cmdline *c)
{
	return first_option(c);
}
