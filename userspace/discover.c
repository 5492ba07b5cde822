/* discover.c - finds Gunicorn in /proc. A master is a Gunicorn process
 * whose parent is not one (or whose title says master); its Gunicorn
 * children are its workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "gconf.h"
#include "vec.h"

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

void gunicorn_app_name(const struct cmdline *c, char *out, size_t size)
{
	struct gunicorn_args a = { 0 };
	int start = first_option(c);
	const char *v;

	if (gunicorn_title_name(c, out, size) == 0)
		return;
	gunicorn_args_parse(c->argv + start, c->argc - start, &a);
	v = a.name ? a.name : a.target ? a.target : a.bind ? a.bind : "gunicorn";
	copy_name(out, size, v, strlen(v));
}

double gunicorn_timeout(const struct cmdline *c)
{
	struct gunicorn_args a = { 0 };
	int start = first_option(c);

	gunicorn_args_parse(c->argv + start, c->argc - start, &a);
	return a.timeout_s;
}

int gunicorn_first_option(const struct cmdline *c)
{
	return first_option(c);
}

static int found_push(struct found_list *l, const struct found *f)
{
	if (vec_grow((void **)&l->v, l->n, &l->cap, sizeof(*l->v), 16))
		return -1;
	l->v[l->n++] = *f;
	return 0;
}

void found_list_free(struct found_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* One Gunicorn process seen by a scan. */
struct seen {
	pid_t pid, ppid;
	uint64_t start;
	enum gunicorn_kind kind;
	double timeout_s;
	char app[GO_APP_LEN];
};

struct scan {
	const char *root;
	struct seen *v;
	size_t n, cap;
};

static int scan_one(pid_t pid, void *arg)
{
	struct scan *s = arg;
	struct cmdline c;
	struct seen e = { .pid = pid };

	if (procfs_cmdline(s->root, pid, &c))
		return 0;
	e.kind = gunicorn_kind(&c);
	if (e.kind == GK_NONE || procfs_stat(s->root, pid, &e.ppid, &e.start))
		return 0;
	if (e.kind != GK_WORKER) { /* a master's settings; workers take their master's */
		struct gunicorn_settings g;

		gunicorn_settings(s->root, pid, &c, &g);
		snprintf(e.app, sizeof(e.app), "%s", g.app);
		e.timeout_s = g.timeout_s;
	}
	if (vec_grow((void **)&s->v, s->n, &s->cap, sizeof(*s->v), 32))
		return -1;
	s->v[s->n++] = e;
	return 0;
}

static const struct seen *seen_find(const struct scan *s, pid_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].pid == pid)
			return &s->v[i];
	return NULL;
}

static int is_master(const struct scan *s, const struct seen *e)
{
	const struct seen *parent;

	if (e->kind == GK_MASTER)
		return 1;
	if (e->kind == GK_WORKER)
		return 0;
	parent = seen_find(s, e->ppid);
	return !parent || parent->kind == GK_WORKER;
}

static int collect_masters(const struct scan *s, pid_t only, struct found_list *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct seen *m = &s->v[i];
		struct found f = {
			.pid = m->pid, .master = m->pid, .start_ticks = m->start, .timeout_s = m->timeout_s
		};

		if ((only && m->pid != only) || (!only && !is_master(s, m)))
			continue;
		snprintf(f.app, sizeof(f.app), "%s", m->app);
		if (found_push(out, &f))
			return -1;
		for (size_t j = 0; j < s->n; j++) {
			const struct seen *w = &s->v[j];
			struct found g = { .pid = w->pid, .master = m->pid, .start_ticks = w->start };

			if (w->ppid != m->pid || w->kind == GK_MASTER)
				continue;
			snprintf(g.app, sizeof(g.app), "%s", m->app);
			if (found_push(out, &g))
				return -1;
		}
	}
	return 0;
}

static int scan_and_collect(const char *root, pid_t only, struct found_list *out)
{
	struct scan s = { .root = root };
	int rc = -1;

	if (procfs_each_pid(root, scan_one, &s) == 0)
		rc = collect_masters(&s, only, out);
	free(s.v);
	return rc;
}

int discover_scan(const char *root, struct found_list *out)
{
	return scan_and_collect(root, 0, out);
}

int discover_workers(const char *root, pid_t master, struct found_list *out)
{
	return scan_and_collect(root, master, out);
}
