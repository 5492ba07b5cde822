/* gconf.c - Gunicorn's own configuration sources, read the way Gunicorn
 * reads them, for the settings the observer needs: the app name and the
 * worker timeout. A config file is Python: only literal assignments of the
 * few names we need are understood. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/gargs.h"
#include "host/gconf.h"

static char *skip_space(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A Python literal at p: a quoted string, a number, or the first string of
 * a list or tuple. Returns the value (NUL-terminated in place) or NULL. */
static char *literal(char *p)
{
	char q, *end;

	p = skip_space(p);
	if (*p == '[' || *p == '(')
		p = skip_space(p + 1);
	if (*p == '"' || *p == '\'') {
		q = *p++;
		end = strchr(p, q);
		if (!end)
			return NULL;
		*end = '\0';
		return p;
	}
	end = p;
	while (isdigit((unsigned char)*end) || *end == '.')
		end++;
	if (end == p)
		return NULL;
	*end = '\0';
	return p;
}

void gconf_parse(char *text, struct gconf_file *out)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *p = line, *key, *v;
		size_t klen;

		/* only top-level assignments: indented lines belong to a block */
		if (!isalpha((unsigned char)*p) && *p != '_')
			continue;
		key = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		klen = (size_t)(p - key);
		p = skip_space(p);
		if (*p != '=' || p[1] == '=')
			continue;
		v = literal(p + 1);
		if (!v)
			continue;
		if (klen == 9 && strncmp(key, "proc_name", 9) == 0)
			out->proc_name = v;
		else if (klen == 8 && strncmp(key, "wsgi_app", 8) == 0)
			out->wsgi_app = v;
		else if (klen == 4 && strncmp(key, "bind", 4) == 0)
			out->bind = v;
		else if (klen == 8 && strncmp(key, "certfile", 8) == 0)
			out->certfile = v;
		else if (klen == 7 && strncmp(key, "timeout", 7) == 0)
			out->timeout_s = strtod(v, NULL);
	}
}

/* Splits GUNICORN_CMD_ARGS like a shell would, for simple quoting. */
static int split_args(char *s, char **argv, int max)
{
	int argc = 0;

	while (*s && argc < max) {
		char *out;

		s = skip_space(s);
		if (!*s)
			break;
		argv[argc++] = out = s;
		while (*s && *s != ' ' && *s != '\t') {
			if (*s == '"' || *s == '\'') {
				char q = *s++;

				while (*s && *s != q)
					*out++ = *s++;
				if (*s)
					s++;
			} else {
				*out++ = *s++;
			}
		}
		if (*s)
			s++;
		*out = '\0';
	}
	return argc;
}

static const char *env_value(char *environ, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < len; i += strlen(environ + i) + 1)
		if (strncmp(environ + i, name, n) == 0 && environ[i + n] == '=')
			return environ + i + n + 1;
	return NULL;
}

void gunicorn_settings(const char *proc_root, pid_t pid, const struct cmdline *c,
		       struct gunicorn_settings *out)
{
	static char env[16384], envargs[4096], conf[65536];
	char path[512], *argv[OBS_MAX_ARGS];
	struct gunicorn_args cmd = { 0 }, fromenv = { 0 };
	struct gconf_file file = { 0 };
	const char *v, *config;
	ssize_t n;
	int start = gunicorn_first_option(c);

	memset(out, 0, sizeof(*out));
	gunicorn_args_parse(c->argv + start, c->argc - start, &cmd);
	snprintf(path, sizeof(path), "%s/%d/environ", proc_root, (int)pid);
	n = procfs_read(path, env, sizeof(env));
	if (n > 0 && (v = env_value(env, (size_t)n, "GUNICORN_CMD_ARGS"))) {
		snprintf(envargs, sizeof(envargs), "%s", v);
		gunicorn_args_parse(argv, split_args(envargs, argv, OBS_MAX_ARGS), &fromenv);
	}
	config = cmd.config ? cmd.config : fromenv.config ? fromenv.config : "gunicorn.conf.py";
	if (strncmp(config, "python:", 7) != 0) {
		if (config[0] == '/')
			snprintf(path, sizeof(path), "%s/%d/root%s", proc_root, (int)pid, config);
		else
			snprintf(path, sizeof(path), "%s/%d/cwd/%s", proc_root, (int)pid, config);
		if (procfs_read_regular(path, conf, sizeof(conf)) > 0)
			gconf_parse(conf, &file);
	}
	out->timeout_s = cmd.timeout_s       ? cmd.timeout_s
			 : fromenv.timeout_s ? fromenv.timeout_s
					     : file.timeout_s;
	v = cmd.certfile ? cmd.certfile : fromenv.certfile ? fromenv.certfile : file.certfile;
	if (v && *v)
		snprintf(out->certfile, sizeof(out->certfile), "%s", v);
	if (gunicorn_title_name(c, out->app, sizeof(out->app)) == 0)
		return;
	v = cmd.name ? cmd.name : fromenv.name ? fromenv.name : file.proc_name;
	if (!v)
		v = cmd.target ? cmd.target : file.wsgi_app;
	if (!v)
		v = cmd.bind ? cmd.bind : fromenv.bind ? fromenv.bind : file.bind;
	if (!v)
		v = "gunicorn";
	copy_name(out->app, sizeof(out->app), v, strlen(v));
}
